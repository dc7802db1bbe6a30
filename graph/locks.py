"""Locks between processes on one machine: a lock file held with `flock`.

The embedded store's start (`store.lock`), the audit log's writers and a backup's copy of the
audit log (on the lock file api/audit.py names) take turns this way: the lock is released when
its holder closes the file or dies, so a killed process never leaves one behind.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (created if missing) for the block: one process,
    or thread, at a time."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
