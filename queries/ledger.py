"""The data version: which loads and record changes the graph holds, in one small read.

A risk report names the data it was drawn from (queries/risk.py `snapshot_id`), so that a
decision can be reproduced. Two kinds of writes change what a report says:

- load chunks: each committed chunk is a `LoadChunk` node of the run ledger
  (loaders/loader.py), written in the chunk's own transaction (a chunk whose rows were all
  rejected is in the ledger, marked `wrote_nothing`, and is not counted);
- record changes made through the API: objections opened and closed, repairs
  (queries/record_changes.py).

Counting the ledger's chunks on every report scanned every `LoadChunk` node (ArcadeDB answers
neither `count` with `max` nor `ORDER BY ... LIMIT 1` from an index). So the ledger has a head:
one more node of the `LoadChunk` label, uid `DATA_HEAD`, whose counters the chunk transaction
and the record change's transaction update together with the data they write:

- `chunks`, `last_committed_at`: load chunks committed, and when the latest committed;
- `changes`, `last_change_at`: record changes made through the API, and when the latest did.

Reading it is one lookup by the ledger's unique `uid`. The head carries the ledger's label so
that it sits with the ledger: the uniqueness constraint of `LoadChunk.uid` guards it, and
graph counts and dumps that leave the ledger out leave it out too. A graph loaded before the
head existed gets one at its next load, counted from the ledger (`ensure_data_head`); until
then `data_version` falls back to counting the ledger.

`DataVersionCache` keeps the version for a short time per process (the API's
`CREDGRAPH_RISK_DATA_VERSION_CACHE_S`), and forgets it when this process writes. Without a
time it still lets the requests of one moment share a read (`SharedRead`), never one that began
before they asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, LiteralString, TypeVar

from credgraph.graph.store import GraphStore, StoreError, Transaction, stored_datetime

T = TypeVar("T")

DATA_HEAD = "ledger:head"  # the head's uid; chunk uids are `<file digest>:<index>`

READ_DATA_HEAD: LiteralString = """
MATCH (h:LoadChunk {uid: $head})
RETURN h.chunks AS chunks, h.last_committed_at AS last_committed_at,
       h.changes AS changes, h.last_change_at AS last_change_at
"""

# the slow way, for a graph loaded before the head existed: every chunk of the ledger that
# wrote something (a chunk whose rows were all rejected is not counted on the head either)
COUNT_LEDGER: LiteralString = """
MATCH (c:LoadChunk)
WHERE c.uid <> $head AND c.wrote_nothing IS NULL
RETURN count(c) AS chunks, max(c.committed_at) AS last_committed_at
"""

CREATE_DATA_HEAD: LiteralString = """
MERGE (h:LoadChunk {uid: $head})
ON CREATE SET h.chunks = $chunks, h.last_committed_at = $last_committed_at, h.changes = 0
"""

# in the chunk's transaction (loaders/loader.py), beside its ledger entry
COUNT_CHUNK: LiteralString = """
MERGE (h:LoadChunk {uid: $head})
SET h.chunks = coalesce(h.chunks, 0) + 1, h.last_committed_at = $at
"""

# in the record change's transaction (queries/record_changes.py)
COUNT_CHANGE: LiteralString = """
MERGE (h:LoadChunk {uid: $head})
SET h.changes = coalesce(h.changes, 0) + 1, h.last_change_at = $at
"""

# the complete extracts of a source loaded before (loaders/extract.py), dated after $date: an
# older extract loaded late ends on each of them what only it listed
LATER_EXTRACTS: LiteralString = """
MATCH (c:LoadChunk {extract_source: $source})
WHERE c.extract_target = $target AND c.extract_on > $date
RETURN c.extract_on AS extract_on
"""


@dataclass(frozen=True)
class DataVersion:
    """The load state of the graph: committed chunks and API record changes, and the latest."""

    chunks: int
    last_committed_at: datetime | None
    changes: int = 0
    last_change_at: datetime | None = None

    def token(self) -> str:
        """`<chunks>@<time>`, then `+<changes>@<time>` once a record change was made."""
        last = self.last_committed_at.isoformat() if self.last_committed_at else "-"
        text = f"{self.chunks}@{last}"
        if self.changes:
            changed = self.last_change_at.isoformat() if self.last_change_at else "-"
            text += f"+{self.changes}@{changed}"
        return text


def data_version(store: GraphStore, *, operation: str = "risk.data_version") -> DataVersion:
    """The graph's data version: one read of the ledger's head (the ledger when it has none).
    `operation` names the read in the store metrics (a report's check after its reads is
    `risk.data_version_check`)."""
    rows = store.read(READ_DATA_HEAD, {"head": DATA_HEAD}, operation=operation)
    if rows:
        row = rows[0]
        return DataVersion(
            int(row.get("chunks") or 0),
            stored_datetime(row.get("last_committed_at")),
            int(row.get("changes") or 0),
            stored_datetime(row.get("last_change_at")),
        )
    return _counted(store)


def current_data_version(store: GraphStore, versions: DataVersionCache | None) -> DataVersion:
    """The data version from `versions` when given, else read from the store."""
    return versions.get(store) if versions is not None else data_version(store)


def _counted(store: GraphStore) -> DataVersion:
    rows = store.read(COUNT_LEDGER, {"head": DATA_HEAD}, operation="risk.data_version_scan")
    row = rows[0] if rows else {}
    return DataVersion(int(row.get("chunks") or 0), stored_datetime(row.get("last_committed_at")))


def ensure_data_head(store: GraphStore) -> None:
    """Create the ledger's head when the graph has none, counted from the ledger.

    Called before a writer's first counted write, so that the counting writes only ever update
    the head. Two writers creating it at once: one wins, the other finds it made.
    """
    if store.read(READ_DATA_HEAD, {"head": DATA_HEAD}, operation="ledger.head"):
        return
    counted = _counted(store)
    params = {
        "head": DATA_HEAD,
        "chunks": counted.chunks,
        "last_committed_at": counted.last_committed_at,
    }
    try:
        store.write(CREATE_DATA_HEAD, params, operation="ledger.head")
    except StoreError:
        if not store.read(READ_DATA_HEAD, {"head": DATA_HEAD}, operation="ledger.head"):
            raise


def count_chunk(tx: Transaction, committed_at: datetime) -> None:
    """Count a load chunk on the head, inside the chunk's own transaction."""
    tx.run(COUNT_CHUNK, {"head": DATA_HEAD, "at": committed_at})


def count_change(tx: Transaction, changed_at: datetime) -> None:
    """Count an API record change on the head, inside the change's own transaction."""
    tx.run(COUNT_CHANGE, {"head": DATA_HEAD, "at": changed_at})


class SharedRead(Generic[T]):
    """One read shared by the callers that asked while it waited its turn.

    A caller never takes the answer of a read that had begun before it asked (that read may
    have missed a commit the caller already saw): when a read is running, callers queue for the
    next one, which the first of them runs as soon as the running one ends, for all of them.
    So at most two reads are under way at once, whatever the number of callers, and every answer
    is at least as new as the moment it was asked for. Errors reach every caller of that read.

    `on_queued`, when given, is called by each caller that has joined the next read (to run it
    or to share it), before it waits: it exists for tests, which order their threads by it
    (the first read held until the others have queued) instead of sleeping.
    """

    def __init__(self, on_queued: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._running: _Turn[T] | None = None
        self._next: _Turn[T] | None = None
        self._on_queued = on_queued

    def get(self, read: Callable[[], T]) -> T:
        with self._lock:
            if self._running is None:
                turn = self._running = _Turn()
                runs, after = True, None
            elif self._next is None:
                turn = self._next = _Turn()
                runs, after = True, self._running
            else:
                turn, runs, after = self._next, False, None
        if self._on_queued is not None and (after is not None or not runs):
            self._on_queued()
        if not runs:
            return turn.wait()
        if after is not None:
            after.done.wait()
            with self._lock:
                self._running, self._next = turn, None
        try:
            turn.value = read()
        except BaseException as error:
            turn.error = error
            raise
        finally:
            with self._lock:
                if self._running is turn:
                    self._running = None
            turn.done.set()
        return turn.value


class _Turn(Generic[T]):
    """One read of a `SharedRead`: its answer or its error, once `done` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T
        self.error: BaseException | None = None

    def wait(self) -> T:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class DataVersionCache:
    """The data version of each database, read at most once per `ttl_s` seconds.

    `ttl_s <= 0` reads it for every call, sharing a read among calls that asked together
    (`SharedRead`). `invalidate()` forgets every cached version: call it
    after this process writes (a record change), so that its own next answer names the new
    data at once; writes of other processes (a load, another API worker) show within `ttl_s`.
    A read that started before an `invalidate()` is returned but not kept. `on_queued` is
    given to each `SharedRead` it makes (for tests).
    """

    def __init__(
        self,
        ttl_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._on_queued = on_queued
        self._lock = threading.Lock()
        self._generation = 0
        self._cached: dict[str | None, tuple[float, DataVersion]] = {}
        self._shared: dict[str | None, SharedRead[DataVersion]] = {}

    def get(self, store: GraphStore) -> DataVersion:
        if self.ttl_s <= 0:
            with self._lock:
                shared = self._shared.setdefault(store.database, SharedRead(self._on_queued))
            return shared.get(lambda: data_version(store))
        now = self._clock()
        with self._lock:
            hit = self._cached.get(store.database)
            generation = self._generation
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        version = data_version(store)
        with self._lock:
            if generation == self._generation:
                self._cached[store.database] = (now, version)
        return version

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._cached.clear()
