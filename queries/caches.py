"""A bounded, thread-safe cache for answers that are right for as long as their key says.

The API keeps answers keyed by the data version they were read under (queries/ledger.py): every
committed load chunk and every record change moves that version, so an answer is only ever found
for the graph that produced it, and the cache needs no expiry, only a bound on its size.

`LruCache` is that cache. `HubCache` builds on it to keep the relations of hubs (parties with
hundreds of relations) for the level reads of walks, path searches and risk reports.
`PerVersion` keeps one value per database for the data version it was read under (the parties
that are the subject of a sanction record, queries/snapshot.py).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from credgraph.graph.store import GraphStore

if TYPE_CHECKING:
    # lookup keeps its identifiers in an LruCache: a key type only, to import no cycle
    from credgraph.queries.lookup import PartyKey

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


# told the hits and misses of each lookup: the API counts them in /metrics (api/metrics.py)
Observer = Callable[[int, int], None]


class LruCache(Generic[K, V]):
    """At most `size` entries, the least recently used dropped first (`size` 0 keeps none).

    With `weigh`, `size` bounds the sum of the entries' weights instead (an answer of a thousand
    relations weighs a thousand), and an entry heavier than `size` is not kept at all.
    Thread-safe; O(1) per key. `hits` and `misses` count lookups, and `observer`, when given,
    is told the hits and misses of each call.
    """

    def __init__(
        self,
        size: int,
        observer: Observer | None = None,
        weigh: Callable[[V], int] | None = None,
    ) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._weights: dict[K, int] = {}
        self._weigh = weigh
        self.weight = 0  # of the entries kept: their number without `weigh`
        self._observer = observer
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The entries found among `keys` (a value may be None: "looked up, nothing there");
        a lookup per key."""
        found: dict[K, V] = {}
        missed = 0
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[key] = self._entries[key]
                else:
                    missed += 1
            self.hits += len(found)
            self.misses += missed
        self._tell(len(found), missed)
        return found

    def first_of(self, keys: Iterable[K]) -> tuple[K, V] | None:
        """The first of `keys` that is kept, with its value: one lookup, whichever key answers
        (for an answer that a more complete one may stand in for)."""
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    entry = key, self._entries[key]
                    break
            else:
                entry = None
            self.hits += entry is not None
            self.misses += entry is None
        self._tell(int(entry is not None), int(entry is None))
        return entry

    def values(self) -> list[V]:
        """The values kept, least recently used first (not a lookup: nothing moves)."""
        with self._lock:
            return list(self._entries.values())

    def _tell(self, hits: int, misses: int) -> None:
        if self._observer is not None:
            self._observer(hits, misses)

    def put_many(self, entries: Mapping[K, V]) -> None:
        if self.size <= 0:
            return
        weighed = {key: self._weigh(value) if self._weigh else 1 for key, value in entries.items()}
        with self._lock:
            for key, value in entries.items():
                if weighed[key] > self.size:
                    continue
                self.weight += weighed[key] - self._weights.get(key, 0)
                self._weights[key] = weighed[key]
                self._entries[key] = value
                self._entries.move_to_end(key)
            while self.weight > self.size:
                dropped, _ = self._entries.popitem(last=False)
                self.weight -= self._weights.pop(dropped)


# a party with at least this many relations in one level read is a hub (docs/queries.md)
HUB_RELATIONS = 100

# a party's relations as a level read returned them, as tuples of plain values: the cycle
# collector leaves such tuples alone, where a cache of hops (named tuples holding enum members
# and dicts) is walked by every full collection
KeptRelations = tuple[tuple[Any, ...], ...]
# a frontier party and its relations as a level read collected them, one list per relation
FrontierRelations = tuple["PartyKey", Sequence[Sequence[Any]]]


class HubCache:
    """The relations of hubs, by database, data version, read and party, the least recently
    used dropped first: at most `relations` relations in all (0 keeps none).

    A hub is a party with at least `least` relations in a level read. A professional officer on
    hundreds of boards lies within two hops of thousands of parties, and reading its boards is
    what the slowest walks, path searches and risk reports near it spend their time on
    (docs/benchmarks.md, "Queries"). Right without expiry, as the API's other caches: the data
    version is part of the key, and so is the read (`Hubs.kept`): which statement, under which
    filter and as-of date. Only complete reads are kept, so what is kept for a party is every
    relation it has under that read. The relations are kept as the store returned them, in
    tuples of plain values, and each reader makes its own objects of them when found: kept as
    hops, they doubled to tripled the time Python's full collections took and set the p99 of
    depth-3 walks (docs/benchmarks.md). Thread-safe; O(1) per party looked up.
    """

    def __init__(
        self, relations: int, observer: Observer | None = None, *, least: int = HUB_RELATIONS
    ) -> None:
        self.least = least
        self._cache: LruCache[tuple[Any, ...], KeptRelations] = LruCache(
            relations, observer, weigh=len
        )

    def __len__(self) -> int:
        """The hubs kept."""
        return len(self._cache)

    @property
    def size(self) -> int:
        """The most relations kept at once."""
        return self._cache.size

    @property
    def relations(self) -> int:
        """The relations kept."""
        return self._cache.weight

    def footprint(self) -> int:
        """The bytes the kept relations take: each tuple and each value in it, by
        `sys.getsizeof` (a value two relations share counted twice). O(relations)."""
        kept = self._cache.values()
        return sum(
            sys.getsizeof(relation) + sum(map(sys.getsizeof, relation))
            for relations in kept
            for relation in relations
        ) + sum(map(sys.getsizeof, kept))

    def bound(self, store: GraphStore, data_token: str) -> Hubs:
        """This cache for reads of `store`'s database under the data version `data_token`
        (`DataVersion.token()`)."""
        return Hubs(self, store.database, data_token)

    def _find(
        self, scope: tuple[Any, ...], parties: Iterable[PartyKey]
    ) -> dict[PartyKey, KeptRelations]:
        found = self._cache.get_many((*scope, party) for party in parties)
        return {key[-1]: relations for key, relations in found.items()}

    def _keep(self, scope: tuple[Any, ...], parties: Iterable[FrontierRelations]) -> None:
        wide = {
            (*scope, party): tuple(map(tuple, relations))
            for party, relations in parties
            if len(relations) >= self.least
        }
        if wide:
            self._cache.put_many(wide)


@dataclass(frozen=True)
class Hubs:
    """A `HubCache` bound to one database and data version (`HubCache.bound`), as the level
    reads of walks, path searches and risk reports take it.

    `read` names a level read and what it was asked (the statement's purpose, its filter and
    as-of date, as text): relations kept under one `read` are found only under the same one,
    since another statement returns other fields and another filter other relations.
    """

    cache: HubCache
    database: str | None
    data_token: str

    def kept(self, read: str, parties: Iterable[PartyKey]) -> dict[PartyKey, KeptRelations]:
        """The relations kept under `read` for the hubs among `parties`, by party."""
        return self.cache._find((self.database, self.data_token, read), parties)

    def keep(self, read: str, parties: Iterable[FrontierRelations]) -> None:
        """Keep the relations of the hubs among the parties of a complete level read: each
        frontier party with its relations as the read collected them (lists)."""
        self.cache._keep((self.database, self.data_token, read), parties)


class PerVersion(Generic[V]):
    """One value per database, right for the data version it was read under: `get` finds it
    only under that version's token, so a load or a record change leaves it unfound until it
    is read again (`put`). Thread-safe; O(1)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str | None, tuple[str, V]] = {}

    def get(self, database: str | None, data_token: str) -> V | None:
        with self._lock:
            kept = self._kept.get(database)
        return kept[1] if kept is not None and kept[0] == data_token else None

    def put(self, database: str | None, data_token: str, value: V) -> None:
        with self._lock:
            self._kept[database] = (data_token, value)
