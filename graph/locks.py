"""Locks between processes on one machine: a lock file held with `flock`.

The embedded store's start (`store.lock`), the audit log's writers and a backup's copy of the
audit log (on the lock file api/audit.py names) take turns this way: the lock is released when
its holder closes the file or dies, so a killed process never leaves one behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

# what `open(path, "a")` gives, without the file object around it (a lock taken per audit
# group, on the path of every lookup, would pay for one)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND
_MODE = 0o666


@contextlib.contextmanager
def exclusive(lock_file: Path, *, make_folder: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (created if missing; its folder too when
    `make_folder`) for the block: one process, or thread, at a time."""
    fd = _open(lock_file, make_folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open(lock_file: Path, make_folder: bool) -> int:
    try:
        return os.open(lock_file, _FLAGS, _MODE)
    except FileNotFoundError:
        if not make_folder:
            raise
    # made on the first lock, or again after the folder was removed
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock_file, _FLAGS, _MODE)
