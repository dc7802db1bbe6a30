"""The embedded store: an ArcadeDB server with its Bolt plugin, run in a child process.

The `arcadedb-embedded` wheel bundles a JRE and the server's jars. credgraph starts the server
with that JRE, bound to loopback, its data under `<data_dir>/arcadedb`, and a root password
generated on first start into `<data_dir>/store-password` (mode 0600), handed to the JVM in an
owner-only argument file that is removed once the store answers, never on its command line,
which every user of the machine can read. The child is told to die with its parent
(PR_SET_PDEATHSIG), and is stopped cleanly on exit and on Ctrl-C.

A second credgraph process on the same data directory (say `credgraph load` while
`credgraph serve` runs) finds `<data_dir>/store.json`, checks the server is alive, and attaches
to it instead of starting another.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Self

from credgraph.graph.aot import AotCache
from credgraph.graph.locks import exclusive
from credgraph.graph.processes import pid_alive
from credgraph.graph.settings import (
    Collector,
    Settings,
    megabytes,
    read_or_create_secret,
    write_owner_only,
)

ROOT_USER = "root"
_PR_SET_PDEATHSIG = 1
_BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"
# latency: ZGC collects concurrently, so no query waits for a collection; on the 1,000,000-
# enterprise store the parallel collector's stop-the-world pauses set the queries' p99
# (docs/benchmarks.md, Queries). throughput: bulk loads churn short-lived objects, and the
# parallel collector loads fastest (docs/benchmarks.md, Loading). `auto` left unresolved (the
# Python API, the tests): the store answers queries
_COLLECTOR_FLAGS = {
    Collector.THROUGHPUT: "-XX:+UseParallelGC",
    Collector.LATENCY: "-XX:+UseZGC",
    Collector.AUTO: "-XX:+UseZGC",
}


def _logged_options(command: list[str]) -> str:
    """The JVM's options in `command`, for the log: never the `-D` properties (the password)."""
    return " ".join(arg for arg in command[1:] if arg.startswith("-X"))


def _open_owner_only_log(path: Path, password: str) -> BinaryIO:
    """The store's log for appending, readable by its owner alone (mode 0600, an older log's
    mode narrowed): the store writes what it likes into it. A log of an older credgraph may
    hold the root password (its AOT recording printed it): it is blanked out first."""
    if path.is_file():
        text = path.read_bytes()
        if password and password.encode() in text:
            scrubbed = path.with_suffix(".scrubbed")
            scrubbed.unlink(missing_ok=True)
            scrubbed.write_bytes(text.replace(password.encode(), b"***"))
            os.chmod(scrubbed, 0o600)
            os.replace(scrubbed, path)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(handle, 0o600)
    return os.fdopen(handle, "ab")


class EmbeddedStoreError(RuntimeError):
    """The embedded store could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class StoreAddress:
    bolt_uri: str
    http_url: str
    user: str
    password: str


def _arcadedb_home() -> Path:
    import arcadedb_embedded

    return Path(arcadedb_embedded.__file__).resolve().parent


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the parent dies, even by kill -9."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # a probe of its own: processes starting together removed each other's shared one
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise EmbeddedStoreError(
            f"data directory {directory} is not writable ({exc.strerror}); "
            "set CREDGRAPH_DATA_DIR to a directory you own"
        ) from exc


def _check_database_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", name):
        raise EmbeddedStoreError(f"invalid database name {name!r}")


class EmbeddedStore:
    """Owns (or attaches to) the ArcadeDB child process serving one data directory."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._root = settings.data_dir.resolve()
        self._process: subprocess.Popen[bytes] | None = None
        self._address: StoreAddress | None = None
        self._log_offset = 0
        self._aot = AotCache(None, Path(), Path(), ())  # replaced by each start (`_spawn`)

    @property
    def aot_cache(self) -> str:
        """How the last start used the AOT cache (graph/aot.py): off, used, recording, busy."""
        return self._aot.state

    # paths
    @property
    def server_dir(self) -> Path:
        return self._root / "arcadedb"

    @property
    def state_file(self) -> Path:
        return self._root / "store.json"

    @property
    def log_file(self) -> Path:
        return self._root / "arcadedb.log"

    @property
    def owns_process(self) -> bool:
        return self._process is not None

    @property
    def address(self) -> StoreAddress:
        if self._address is None:
            raise EmbeddedStoreError("the embedded store is not started")
        return self._address

    def start(self) -> StoreAddress:
        """Start the server, or attach to the one already serving this data directory.

        Processes starting at once take turns (a lock file in the data directory): the first
        starts the server, the others wait and attach to it. Without the turns, two of five
        `credgraph` commands run together with no server up failed, each finding the ports
        taken by the other's server."""
        _check_writable(self._root)
        with exclusive(self._root / "store.lock"):
            return self._start_or_attach()

    def _start_or_attach(self) -> StoreAddress:
        password = read_or_create_secret(self._root / "store-password")
        attached = self._attach(password)
        if attached is not None:
            self._address = attached
            return attached
        bolt, http = self._settings.embedded_bolt_port, self._settings.embedded_http_port
        for port, name in ((bolt, "BOLT"), (http, "HTTP")):
            if not _port_is_free(port):
                raise EmbeddedStoreError(
                    f"port {port} on 127.0.0.1 is taken; stop what uses it or set "
                    f"CREDGRAPH_EMBEDDED_{name}_PORT to a free port"
                )
        try:
            self._spawn(password)
            self._address = StoreAddress(
                f"bolt://127.0.0.1:{bolt}", f"http://127.0.0.1:{http}", ROOT_USER, password
            )
            self._await_ready(bolt)
        finally:
            self._secret_arguments.unlink(missing_ok=True)
        self._write_state()
        atexit.register(self.stop)
        return self._address

    def wait_for_unexpected_exit(self) -> int | None:
        """Block until the server this object started exits; its exit status, or None when it
        was stopped here (`stop`) or was never started here."""
        process = self._process
        if process is None:
            return None
        status = process.wait()
        return None if self._process is None else status

    def stop(self) -> None:
        """Stop the child cleanly (SIGTERM runs ArcadeDB's shutdown hook); SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        clean = True
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                clean = False
                process.kill()
                process.wait(timeout=10)
        self._aot.finish(recorded=clean)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # internals
    def _attach(self, password: str) -> StoreAddress | None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if not (pid_alive(int(state["pid"])) and _port_answers(int(state["bolt_port"]))):
            self.state_file.unlink(missing_ok=True)
            return None
        return StoreAddress(
            f"bolt://127.0.0.1:{state['bolt_port']}",
            f"http://127.0.0.1:{state['http_port']}",
            ROOT_USER,
            password,
        )

    def _jvm_options(self) -> list[str]:
        s = self._settings
        return [
            f"-Xmx{s.embedded_heap}",
            _COLLECTOR_FLAGS[s.embedded_gc],
            "-XX:+ExitOnOutOfMemoryError",
        ]

    @property
    def _secret_arguments(self) -> Path:
        return self.server_dir / "root-password"

    def _write_secret_arguments(self, password: str) -> None:
        """The root password in a file of its own, owner-only (mode 0600), which the store reads
        (`arcadedb.server.rootPasswordPath`): the JVM is given only the file's path. On the
        command line any user of the machine could read the password (`ps`); in a JVM argument
        file it was safe until the JVM recorded its AOT cache, whose child JVM is started with
        every option of its parent in `JAVA_TOOL_OPTIONS` and prints them into the store's log.
        `_spawn`'s caller removes the file once the store answers."""
        self._secret_arguments.unlink(missing_ok=True)
        write_owner_only(self._secret_arguments, password)

    def _command(self, aot_options: list[str]) -> list[str]:
        home = _arcadedb_home()
        s = self._settings
        props = {
            "arcadedb.server.rootPath": str(self.server_dir),
            "arcadedb.server.databaseDirectory": str(self.server_dir / "databases"),
            "arcadedb.server.httpIncomingHost": "127.0.0.1",
            "arcadedb.server.httpIncomingPort": str(s.embedded_http_port),
            "arcadedb.server.plugins": _BOLT_PLUGIN,
            "arcadedb.bolt.host": "127.0.0.1",
            "arcadedb.bolt.port": str(s.embedded_bolt_port),
            "arcadedb.server.defaultDatabases": f"credgraph[{ROOT_USER}]",
            "arcadedb.server.rootPasswordPath": str(self._secret_arguments),
            # no statement of ours reads a file or a URL; left on, a Cypher `LOAD CSV` could
            # read any file the store may read (its own password file too) or reach any host
            "arcadedb.opencypher.loadCsv.allowFileUrls": "false",
            "arcadedb.opencypher.loadCsv.allowRemoteUrls": "false",
        }
        if s.embedded_page_cache:
            props["arcadedb.maxPageRAM"] = str(megabytes(s.embedded_page_cache))
        return [
            str(home / "jre" / "bin" / "java"),
            *self._jvm_options(),
            *aot_options,
            "-cp",
            str(home / "jars" / "*"),
            *(f"-D{key}={value}" for key, value in props.items()),
            "com.arcadedb.server.ArcadeDBServer",
        ]

    def _spawn(self, password: str) -> None:
        # the graph holds personal data: its files for the store's user alone (the store writes
        # them 0644, readable by every user of the machine but for this folder)
        self.server_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        home = _arcadedb_home()
        self._aot = AotCache(
            self._settings.aot_cache_dir(), home / "jre", home / "jars", self._jvm_options()
        )
        self._write_secret_arguments(password)
        command = self._command(self._aot.jvm_options())
        log = _open_owner_only_log(self.log_file, password)
        self._log_offset = log.tell()
        log.write(f"credgraph: starting the embedded store: {_logged_options(command)}\n".encode())
        log.flush()
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=self.server_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the child in order
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _await_ready(self, bolt_port: int) -> None:
        deadline = time.monotonic() + self._settings.embedded_start_timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EmbeddedStoreError(
                    f"the embedded store exited with status {self._process.returncode}: "
                    f"{self._log_tail()}"
                )
            if _port_answers(bolt_port) and self._database_ready():
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedStoreError(
            f"the embedded store did not accept connections within "
            f"{self._settings.embedded_start_timeout_s:.0f} s: {self._log_tail()}"
        )

    def _database_ready(self) -> bool:
        return "ArcadeDB Server started" in self._log_since_spawn()

    def _log_since_spawn(self) -> str:
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(self._log_offset)
                return handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, lines: int = 8) -> str:
        return "\n".join(self._log_since_spawn().splitlines()[-lines:]) or "(no log)"

    # databases besides the default one (the test suite gives each test its own)
    def create_database(self, name: str) -> None:
        """Create a database on the server through its HTTP API; a no-op if it exists."""
        _check_database_name(name)
        existing = self._server_command("list databases").get("result")
        if isinstance(existing, list) and name in existing:
            return
        self._server_command(f"create database {name}")

    def drop_database(self, name: str) -> None:
        _check_database_name(name)
        self._server_command(f"drop database {name}")

    def _server_command(self, command: str) -> dict[str, object]:
        return self._post("/api/v1/server", {"command": command})

    def _post(self, path: str, payload: dict[str, str], timeout: float = 60) -> dict[str, object]:
        address = self.address
        token = base64.b64encode(f"{address.user}:{address.password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL we built
            f"{address.http_url}{path}",
            data=json.dumps(payload).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read().decode("utf-8")
        return json.loads(body) if body else {}

    # backups (graph/backup.py)
    def backup_database(self, name: str) -> Path:
        """Back up database `name` while it serves, with ArcadeDB's `BACKUP DATABASE` (a
        snapshot of what was committed when it began; writes go on meanwhile), and return the
        archive's path, in the server's `backups/<name>/` folder, named by the server."""
        _check_database_name(name)
        command = {"language": "sql", "command": "BACKUP DATABASE"}
        try:  # no time limit worth the name: a large store takes minutes
            answer = self._post(f"/api/v1/command/{name}", command, timeout=24 * 3600)
            rows = answer.get("result")
            file_name = str(rows[0]["backupFile"]) if isinstance(rows, list) else ""
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:500]
            raise EmbeddedStoreError(f"the store refused to back up {name}: {detail}") from None
        except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise EmbeddedStoreError(f"cannot back up {name}: {exc}") from None
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", file_name):
            raise EmbeddedStoreError(f"the store named its backup of {name} {file_name!r}")
        return self.server_dir / "backups" / name / file_name

    def restore_backup_as(self, name: str, archive: Path, target: str) -> None:
        """Restore an archive of `backup_database` of `name` into the new database `target`
        while the server runs (to read what the archive holds)."""
        _check_database_name(name)
        _check_database_name(target)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", archive.name):
            raise EmbeddedStoreError(f"invalid backup file name {archive.name!r}")
        try:
            self._server_command(f"restore backup {name} {archive.name} as {target}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:500]
            raise EmbeddedStoreError(f"the store refused to restore {archive}: {detail}") from None

    def restore_database(self, archive: Path, name: str) -> None:
        """Unpack an archive of `backup_database` into database `name` with ArcadeDB's own
        restore tool. Only while no store runs on this data directory: a server reads its
        databases as it starts."""
        _check_database_name(name)
        self.server_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        home = _arcadedb_home()
        command = [
            str(home / "jre" / "bin" / "java"),
            f"-Xmx{self._settings.embedded_heap}",
            "-cp",
            str(home / "jars" / "*"),
            "com.arcadedb.integration.restore.Restore",
            "-f",
            archive.name,  # the tool takes the archive by a relative name only
            "-d",
            str(self.server_dir / "databases" / name),
        ]
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, cwd=archive.parent, capture_output=True, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", errors="replace").strip()
            raise EmbeddedStoreError(f"restoring {archive} failed: {tail[-500:]}")

    def running_pid(self) -> int | None:
        """The process id of the store serving this data directory, None when none runs."""
        try:
            pid = int(json.loads(self.state_file.read_text(encoding="utf-8"))["pid"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        return pid if pid_alive(pid) else None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the turn that processes starting a store here take (`start`): none starts one
        while the block runs. Not re-entrant: `start` inside the block would wait for ever."""
        _check_writable(self._root)
        with exclusive(self._root / "store.lock"):
            yield

    def _write_state(self) -> None:
        assert self._process is not None
        state = {
            "pid": self._process.pid,
            "bolt_port": self._settings.embedded_bolt_port,
            "http_port": self._settings.embedded_http_port,
        }
        self.state_file.write_text(json.dumps(state), encoding="utf-8")
