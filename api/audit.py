"""The audit log: every lookup registered before its answer leaves, in a hash chain.

One JSON object per line, appended under an exclusive file lock so that several worker
processes write one chain. Each event carries `seq`, the `prev` hash (of the event before) and
its own `hash`: an HMAC-SHA256, under a key kept beside the log (`audit.key`, mode 0600), of
the event's canonical JSON. Changing, inserting or removing an event breaks the chain at that
event; recomputing the chain needs the key. A head file (`<log>.head`) keeps the last sequence
number and hash, sealed with the same key, so that cutting events off the end, or the whole log,
is detected too. A writer that finds the log behind its head goes on from the head, so the gap
stays in the chain; one that finds a log without a head writes none, so `verify` keeps saying so.

Events hold no personal data: subjects are keyed tokens (HMAC of the party's uid under the
person key), never identifiers; the caller is the key id and name; the purpose is a code.

If an event cannot be written, `append` raises `AuditUnavailable` and the lookup fails.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import hmac
import io
import itertools
import json
import os
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credgraph.graph.files import last_line, whole_lines_size
from credgraph.graph.locks import exclusive

GENESIS = "0" * 64
GZIP_MAGIC = b"\x1f\x8b"


def head_file(log: Path) -> Path:
    """The sealed head file beside an audit log: its last sequence and hash."""
    return log.with_name(log.name + ".head")


def lock_file(log: Path) -> Path:
    """The lock file the writers of an audit log, and a backup copying it, take turns on."""
    return log.with_name(log.name + ".lock")


def beside(log: Path) -> tuple[Path, Path]:
    """The files kept beside an audit log: its head and its lock (graph/backup.py copies them
    without knowing their names)."""
    return head_file(log), lock_file(log)


class AuditUnavailable(RuntimeError):
    """The audit event could not be written; the lookup it registers must not answer."""


def subject_token(person_key: bytes, uid: str) -> str:
    """The token that names a subject in the audit log (keyed: not reversible without the key)."""
    return hmac.new(person_key, f"audit-subject|{uid}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class FoundEvent:
    """An event that names a subject, as logged, with the entry of its `decisions` that names
    the subject (a `screen`'s decision about it), when it has one."""

    event: dict[str, Any]
    decision: dict[str, Any] | None


def events_naming(files: Iterable[Path], tokens: Collection[str]) -> tuple[list[FoundEvent], int]:
    """The events of `files`, read in the order given (the rotated files oldest first, then
    the log), whose `subjects` hold one of `tokens` or whose `decisions` name one; and how many
    lines holding a token are no well-formed event (a cut-off last line, a changed one:
    `verify` tells which). O(n) in the lines, and only lines that hold a token are parsed.
    Raises OSError for a file that cannot be read."""
    wanted = [token.encode() for token in tokens]
    found: list[FoundEvent] = []
    malformed = 0
    for path in files:
        for _, _, raw in _lines(path):
            if not any(token in raw for token in wanted):
                continue
            event = _parsed(raw)
            if event is None:
                malformed += 1
            elif (match := _naming(event, tokens)) is not None:
                found.append(match)
    return found, malformed


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _naming(event: dict[str, Any], tokens: Collection[str]) -> FoundEvent | None:
    subjects = event.get("subjects")
    named = isinstance(subjects, list) and any(_is_one_of(s, tokens) for s in subjects)
    decisions = event.get("decisions")
    entries = decisions if isinstance(decisions, list) else []
    decision = next(
        (e for e in entries if isinstance(e, dict) and _is_one_of(e.get("subject"), tokens)),
        None,
    )
    return FoundEvent(event, decision) if named or decision is not None else None


def _is_one_of(value: object, tokens: Collection[str]) -> bool:
    return isinstance(value, str) and value in tokens


def _canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _seal(key: bytes, event: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass
class _Pending:
    """One event waiting for the group write that carries it."""

    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    event: dict[str, Any] | None = None
    error: BaseException | None = None


class AuditLog:
    """An append-only, hash-chained JSON-lines file shared by every worker process.

    Group commit: the threads of one process that append at the same moment share one write and
    one fsync. The first becomes the writer; the others queue their events and wait; the writer
    writes everything queued (under the file lock that orders the worker processes), fsyncs
    once, and wakes them. No `append` returns before its event is on disk, so the rule "the
    event is written before the answer leaves" holds, at one fsync per group instead of one per
    event (docs/benchmarks.md, API).
    """

    def __init__(self, path: Path, key: bytes, *, fsync: bool = True) -> None:
        self.path = path
        self._key = key
        self._fsync = fsync
        self._lock_path = lock_file(path)
        self._head_path = head_file(path)
        self._mutex = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False
        # the log's size and last event after this process's last write: while the size is
        # unchanged no other process has appended, and the tail need not be read again
        self._known: tuple[int, Head] | None = None
        self._keeps_head = True

    def append(self, **fields: Any) -> dict[str, Any]:
        """Write one event after the last one; returns it with its seq and hash.

        O(1) per event: a group reads at most the tail of the log, under the lock, to find the
        previous hash. Raises AuditUnavailable when the event cannot be written.
        """
        pending = _Pending(fields)
        with self._mutex:
            self._queue.append(pending)
            lead = not self._writing
            self._writing = True
        if lead:
            self._write_queued()
        pending.done.wait()
        if isinstance(pending.error, OSError | ValueError):
            raise AuditUnavailable(
                f"cannot write the audit log: {type(pending.error).__name__}"
            ) from pending.error
        if pending.error is not None:
            raise pending.error
        assert pending.event is not None
        return pending.event

    def _write_queued(self) -> None:
        """Write groups until the queue is empty, then stop being the writer."""
        while True:
            with self._mutex:
                group, self._queue = self._queue, []
                if not group:
                    self._writing = False
                    return
            try:
                events = self._append_group([pending.fields for pending in group])
            except BaseException as exc:  # every waiter must hear of it, or it waits forever
                for pending in group:
                    pending.error = exc
            else:
                for pending, event in zip(group, events, strict=True):
                    pending.event = event
            for pending in group:
                pending.done.set()

    def _append_group(self, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # the lock file lies beside the log: taking it makes the folder when it is missing
        with exclusive(self._lock_path, make_folder=True):
            return self._append_locked(group)

    def _append_locked(self, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        prev = self._last_head()
        events = []
        for fields in group:
            event = {
                "seq": prev.seq + 1,
                "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                **fields,
                "prev": prev.hash,
            }
            event["hash"] = _seal(self._key, event)
            events.append(event)
            prev = Head(event["seq"], event["hash"])
        lines = "".join(
            json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n" for event in events
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, lines.encode())
                if self._fsync:
                    os.fsync(fd)
            except OSError:  # the disk filled part way: leave no event cut off at the end
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if self._keeps_head:
            _write_head(self._head_path, prev, self._key)
        self._known = (size, prev)
        return events

    def _last_head(self) -> Head:
        """Where the next event goes on from: the log's last event (GENESIS for an empty log),
        or the head when the log is behind it (events were removed: going on from the head
        keeps the gap in the chain)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = -1
        if self._known is not None and self._known[0] == size:
            return self._known[1]
        whole = whole_lines_size(self.path)
        if 0 <= whole < size:
            # a writer stopped in the middle of an event (a crash): no lookup waited for it
            # answered, and the chain goes on after the last whole event
            os.truncate(self.path, whole)
        last = _last_event(self.path)
        in_log = Head(int(last["seq"]), str(last["hash"])) if last else Head(0, GENESIS)
        head = _read_head(self._head_path, self._key)
        # a log with events but no good head: writing a head now would hide that
        self._keeps_head = not (in_log.seq > 0 and (head is None or head.seq < 0))
        return head if head is not None and head.seq > in_log.seq else in_log


def _last_event(path: Path) -> dict[str, Any] | None:
    """The last complete event of the log, read from its tail."""
    last = last_line(path)
    if not last:
        return None
    loaded: dict[str, Any] = json.loads(last)
    return loaded


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` may write part of the bytes (a disk that fills up): write the rest, or raise."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _head_seal(key: bytes, head: Head) -> str:
    return hmac.new(key, f"audit-head|{head.seq}|{head.hash}".encode(), hashlib.sha256).hexdigest()


def _write_head(path: Path, head: Head, key: bytes) -> None:
    # os-level calls: this runs once per group on the path of every lookup, and a text file
    # object costs more than the write
    temporary = f"{path}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        sealed = {"seq": head.seq, "hash": head.hash, "seal": _head_seal(key, head)}
        os.write(fd, json.dumps(sealed).encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _read_head(path: Path, key: bytes) -> Head | None:
    """The head; None when there is none, seq -1 when it is damaged or its seal is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        head = Head(int(data["seq"]), str(data["hash"]))
        sealed = hmac.compare_digest(str(data["seal"]), _head_seal(key, head))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return Head(-1, "")
    return head if sealed and head.seq >= 0 else Head(-1, "")


@dataclass(frozen=True)
class Verdict:
    """The result of checking a log: how many events are good, and the first bad one."""

    events: int
    first_bad: int | None  # the seq (1-based line number) of the first event that fails
    reason: str | None
    # the file and line the first bad event is on: after a rotation, not always the log itself
    location: tuple[Path, int] | None = None
    # the seq of the first event checked: 1, unless the log was checked as the continuation of
    # files it was rotated into that are not at hand (`verify(..., continued=True)`)
    first: int = 1
    # the first file checked starts after event 1: a file left out, or given out of order
    starts_late: bool = False

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def is_compressed(path: Path) -> bool:
    """Whether a log file is gzip-compressed (logrotate's `compress`), told by its first bytes
    rather than by its name, which a rotation scheme chooses."""
    with path.open("rb") as handle:
        return handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC


def open_log(path: Path) -> io.BufferedIOBase:
    """A log file opened for reading its lines, decompressed as it is read when compressed."""
    return gzip.open(path, "rb") if is_compressed(path) else path.open("rb")


def _lines(path: Path) -> Iterator[tuple[Path, int, bytes]]:
    try:
        with open_log(path) as handle:
            for line, raw in enumerate(handle, start=1):
                yield path, line, raw
    except EOFError as exc:  # gzip's word for a compressed file that was cut short
        raise OSError(errno.EIO, "the compressed file is cut off", str(path)) from exc


@dataclass(frozen=True)
class Span:
    """The events a log file holds: the `seq` of its first and of its last whole line, None
    where that line is no well-formed event."""

    path: Path
    first: int | None
    last: int | None


def spans(files: Iterable[Path]) -> list[Span]:
    """The span of each file that holds a line, in the order given. O(1) in a plain file's
    length (its first line, and its last read from the end); a compressed file is read whole.
    Raises OSError for a file that cannot be read."""
    found = [Span(path, *map(_seq_or_none, _first_and_last(path))) for path in files]
    return [span for span in found if span.first is not None or span.last is not None]


def _first_and_last(path: Path) -> tuple[bytes | None, bytes | None]:
    if is_compressed(path):  # no end to read from: the whole stream
        return _first_and_last_read_through(path)
    with path.open("rb") as handle:
        first = handle.readline()
    return first or None, last_line(path)


def _first_and_last_read_through(path: Path) -> tuple[bytes | None, bytes | None]:
    first: bytes | None = None
    last: bytes | None = None
    for _, _, raw in _lines(path):
        if raw.endswith(b"\n") and raw.strip():  # a line cut off at the end is no event
            first, last = first or raw, raw
    return first, last


def _seq_or_none(raw: bytes | None) -> int | None:
    return None if raw is None else _seq_of(raw)


def history_gap(given: Sequence[Span]) -> str | None:
    """What keeps the files given from being one history, each file's events right after the
    one before: files out of order (or one given twice), or events in no file given between two
    of them. None when they run on."""
    for before, after in itertools.pairwise(given):
        if before.last is None or after.first is None:  # `verify` tells what is wrong there
            continue
        if after.first <= before.last:
            return (
                f"files out of order: {after.path} starts at event {after.first}, not after "
                f"event {before.last} of {before.path}: give every rotated file once, oldest first"
            )
        if after.first > before.last + 1:
            missing = _events(before.last + 1, after.first - 1)
            return f"{missing} in no file given: give every rotated file, oldest first"
    return None


def _events(first: int, last: int) -> str:
    return f"event {first} is" if first == last else f"events {first} to {last} are"


def verify(
    path: Path, key: bytes, archived: Sequence[Path] = (), *, continued: bool = False
) -> Verdict:
    """Check every event's chain link and seal, and the head. O(n) in the events.

    `archived`: the files the log was rotated into, oldest first; their events and then the
    log's (when there is one again) are checked as one chain. `continued`: the log may start
    after a rotation whose files are not at hand (a backup holds only the live log): its first
    event is then checked by its seal alone, and the chain from there on (`Verdict.first`
    says where it started). A log that starts at event 1 is checked as ever."""
    head = _read_head(head_file(path), key)
    if not path.exists() and not archived:
        if head is not None and head.seq != 0:
            return Verdict(0, 1, _missing_log(head))
        return Verdict(0, None, None)
    files = [*archived, path] if path.exists() else list(archived)
    lines = itertools.chain.from_iterable(map(_lines, files))
    return _verify_lines(
        lines, key, head, _rotated_start(files[0]) if continued else Head(0, GENESIS)
    )


def _rotated_start(path: Path) -> Head:
    """The chain as it stood before the first event of `path`, as that event says (its `seq` and
    `prev`; its seal then checks both): where a log that starts after a rotation goes on from.
    Genesis when the first event is not a well-formed one after event 1."""
    with open_log(path) as handle:
        first = handle.readline()
    try:
        event = json.loads(first)
        seq, prev = event["seq"], event["prev"]
    except (ValueError, KeyError, TypeError):
        return Head(0, GENESIS)
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > 1 and isinstance(prev, str):
        return Head(seq - 1, prev)
    return Head(0, GENESIS)


def _missing_log(head: Head) -> str:
    if head.seq < 0:
        return "the log is missing, and its head file is damaged or was changed"
    return f"the log is missing; its head names {head.seq} events"


def _verify_lines(
    lines: Iterable[tuple[Path, int, bytes]], key: bytes, head: Head | None, start: Head
) -> Verdict:
    prev, skipped = start, start.seq  # events before the first checked: 0 but after a rotation
    at_head: str | None = None  # the hash of the event the head names
    remaining = iter(lines)  # a broken chain reads on from there (`_reordered`)
    for number, (path, line, raw) in enumerate(remaining, start=1):
        checked = _check_event(raw, number, prev, key)
        if isinstance(checked, str):
            if (late := _late_start(path, raw, prev)) is not None:
                return Verdict(0, 1, late, (path, line), starts_late=True)
            checked = _reordered(raw, prev, remaining) or checked
            return Verdict(
                number - 1 + skipped, number + skipped, checked, (path, line), 1 + skipped
            )
        prev = checked
        if head is not None and prev.seq == head.seq:
            at_head = prev.hash
    reason = _head_problem(head, prev, at_head)
    return Verdict(prev.seq, prev.seq + 1 if reason else None, reason, None, 1 + skipped)


def _check_event(raw: bytes, number: int, prev: Head, key: bytes) -> Head | str:
    """The head after event `number` of the chain, or what is wrong with it."""
    try:
        event = json.loads(raw)
        claimed = event.pop("hash")
    except (ValueError, KeyError, TypeError, AttributeError):
        if not raw.endswith(b"\n"):  # the last line, cut off: a writer stopped in it
            return _CUT_OFF
        return "not a well-formed event"
    if event.get("seq") != prev.seq + 1:
        return _jump(prev.seq, event.get("seq"))
    if event.get("prev") != prev.hash:
        return "does not link to the event before it (an event inserted?)"
    if not hmac.compare_digest(str(claimed), _seal(key, event)):
        return _changed(number)
    return Head(int(event["seq"]), str(claimed))


_CUT_OFF = (
    "the last event is cut off: a writer stopped while writing it (a crash, a full disk); "
    "no lookup waited for it answered, and the next event written removes it"
)


def _late_start(path: Path, raw: bytes, last: Head) -> str | None:
    """For the first event of a chain checked from event 1 (`last` is genesis), when it is
    numbered after 1: as the live log after a rotation, checked without the files it was
    rotated into, or those files given newest first. None otherwise."""
    seq = _seq_of(raw)
    if last.seq != 0 or seq is None or seq <= 1:
        return None
    return f"{path} starts at event {seq}; expected event 1: give the older files first"


def _jump(last: int, seq: object) -> str:
    if not isinstance(seq, int) or isinstance(seq, bool):
        return "it has no sequence number (an event inserted, or its content changed?)"
    if seq == last:
        return f"it repeats sequence number {last} (an event inserted, or a line copied?)"
    if seq < last:
        return f"sequence goes back from {last} to {seq} (an event inserted, or lines moved?)"
    return f"sequence jumps from {last} to {seq} (events removed?)"


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = json.loads(raw).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _reordered(raw: bytes, last: Head, rest: Iterator[tuple[Path, int, bytes]]) -> str | None:
    """For an event that skips the sequence number after `last`, when an event of that number
    is among the lines left: the events were moved (two lines swapped, say), not removed. None
    otherwise (and at the start of the log, whose own message tells rotated files given out of
    order). Reads the rest of the lines, so only once the chain is known broken; O(n)."""
    seq, wanted = _seq_of(raw), last.seq + 1
    if seq is None or seq <= wanted or last.seq == 0:
        return None
    if not any(_seq_of(later) == wanted for _, _, later in rest):
        return None
    return (
        f"events out of order: event {seq} comes right after {last.seq}, "
        f"and event {wanted} later (lines reordered?)"
    )


def _changed(number: int) -> str:
    if number == 1:  # no event checks out: the key itself may be another one
        return "its content was changed, or the audit key is not the one that sealed the log"
    return "its content was changed"


def _head_problem(head: Head | None, last: Head, at_head: str | None) -> str | None:
    """What is wrong with the head of a log whose events check out up to `last`, if anything.

    The head may be behind the log by the group being written when a writer stopped (it is
    replaced after the events are on disk), never ahead of it."""
    if head is None:
        if last.seq == 0:
            return None
        return "the head file is missing: events cut off the end would not show"
    if head.seq < 0:
        return "the head file is damaged or was changed"
    if head.seq > last.seq:
        return f"events after the last one were removed (the head names {head.seq})"
    if head.seq > 0 and at_head != head.hash:
        return f"the head does not match event {head.seq}"
    return None
