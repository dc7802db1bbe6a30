"""Reading files whole or from their end, for every layer: a file's SHA-256 (the loader's run
ledger names a source file by it, a backup's manifest checks its files with it) and a log's
last whole line (the audit log's writers and `credgraph backup` find its last event with it,
in time that does not grow with the log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

_CHUNK = 1 << 20
_TAIL = 4096


def sha256_file(path: Path) -> _Hash:
    """The SHA-256 of the file's bytes, read in blocks: a `hashlib` object, which the caller may
    go on updating (with what else a digest must cover) before it takes the `hexdigest()`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest


def _tails(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's last 4 KB, then 16 KB, ... up to the whole file: (where each starts, its
    bytes). Nothing when the file is missing."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, 2)
        chunk = _TAIL
        while True:
            start = max(size - chunk, 0)
            handle.seek(start)
            yield start, handle.read(size - start)
            if start == 0:
                return
            chunk *= 4


def whole_lines_size(path: Path) -> int:
    """The size of the file up to and including its last newline, read from the end: what a
    writer that stopped in the middle of a line left whole. 0 when the file is missing."""
    for start, tail in _tails(path):
        end = tail.rfind(b"\n")
        if end >= 0:
            return start + end + 1
    return 0


def last_line(path: Path) -> bytes | None:
    """The file's last whole line that is not empty, without its newline, read from the end:
    O(1) in the file's length. Bytes after the last newline (a line a writer stopped in the
    middle of) are no whole line. None when the file is missing or holds no such line."""
    for start, tail in _tails(path):
        whole = tail[: tail.rfind(b"\n") + 1].rstrip(b"\n")
        begin = whole.rfind(b"\n") + 1
        if begin > 0 or start == 0:
            return whole[begin:] or None
    return None
