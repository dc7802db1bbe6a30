"""The embedded store's ahead-of-time cache: its JVM starts faster and warms up sooner.

The JRE bundled with ArcadeDB is JDK 25, whose AOT cache (JEPs 483, 514 and 515) keeps the
classes a run loaded and linked and the profiles of the methods it ran. A store started
without a cache records one (`-XX:AOTCacheOutput`), which the JVM writes as it exits (a few
seconds, once); later starts use it (`-XX:AOTCache`). In `bench/load_bench.py` at 100,000
enterprises the store started in 0.63 s instead of 1.0 to 1.2 s, and loaded 6 to 10 % more rows
a second (docs/benchmarks.md, Loading).

A cache fits only the JVM, jars and options that made it (the JVM refuses any other, with a
warning, and runs without), so each combination has its own file, named by a digest of them.
One store records a cache at a time: the others start without one until it is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from credgraph.graph.processes import pid_alive


def _digest(java_home: Path, jars: Path, options: Sequence[str]) -> str:
    """What a cache depends on: the JVM's build, the jars and the JVM's own options."""
    parts = [(java_home / "release").read_text(encoding="utf-8", errors="replace")]
    parts += sorted(f"{jar.name}:{jar.stat().st_size}" for jar in jars.glob("*.jar"))
    parts += list(options)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class AotCache:
    """The cache one store start uses or records, in `directory` (None: no cache)."""

    def __init__(
        self, directory: Path | None, java_home: Path, jars: Path, options: Sequence[str]
    ) -> None:
        self._directory = directory
        self._java_home, self._jars, self._options = java_home, jars, tuple(options)
        self._recording: tuple[Path, Path, Path] | None = None  # (temporary, cache, lock)
        self.state = "off"  # off, used, recording, busy (another store is recording)

    def jvm_options(self) -> list[str]:
        """The options that make the JVM use the cache, or record it if there is none."""
        if self._directory is None:
            return []
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            cache = self._directory / f"{_digest(self._java_home, self._jars, self._options)}.aot"
            if cache.is_file():
                self.state = "used"
                return [f"-XX:AOTCache={cache}"]
            lock = cache.with_suffix(".recording")
            if not self._take(lock):
                self.state = "busy"
                return []
        except OSError:  # an unwritable cache directory costs speed, never the start
            self.state = "off"
            return []
        for stale in self._directory.glob(f"{cache.stem}.aot-*"):  # we hold the lock
            stale.unlink(missing_ok=True)
        temporary = cache.with_suffix(f".aot-{os.getpid()}")
        self._recording = (temporary, cache, lock)
        self.state = "recording"
        return [f"-XX:AOTCacheOutput={temporary}"]

    def finish(self, *, recorded: bool) -> None:
        """After the JVM exited: put a recorded cache in place if the JVM exited on its own
        (`recorded`), as a whole file or not at all."""
        if self._recording is None:
            return
        temporary, cache, lock = self._recording
        self._recording = None
        with contextlib.suppress(OSError):
            if recorded and temporary.is_file() and temporary.stat().st_size > 0:
                os.replace(temporary, cache)
            temporary.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)

    @staticmethod
    def _take(lock: Path) -> bool:
        """Whether this process may record: no other live process holds the lock."""
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            try:
                holder = int(lock.read_text(encoding="utf-8") or "0")
            except (OSError, ValueError):
                holder = 0
            if holder and pid_alive(holder):
                return False
            lock.unlink(missing_ok=True)  # left by a process that died while recording
            return AotCache._take(lock)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(str(os.getpid()))
        return True
