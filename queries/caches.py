"""A bounded, thread-safe cache for answers that are right for as long as their key says.

The API keeps answers keyed by the data version they were read under (queries/ledger.py): every
committed load chunk and every record change moves that version, so an answer is only ever found
for the graph that produced it, and the cache needs no expiry, only a bound on its size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

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
