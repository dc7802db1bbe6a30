"""A bounded, thread-safe cache for answers that are right for as long as their key says.

The API keeps answers keyed by the data version they were read under (queries/ledger.py): every
committed load chunk and every record change moves that version, so an answer is only ever found
for the graph that produced it, and the cache needs no expiry, only a bound on its size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most `size` entries, the least recently used dropped first (`size` 0 keeps none).

    Thread-safe; O(1) per key. `hits` and `misses` count lookups.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The entries found among `keys` (a value may be None: "looked up, nothing there")."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[key] = self._entries[key]
                    self.hits += 1
                else:
                    self.misses += 1
        return found

    def put_many(self, entries: Mapping[K, V]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            for key, value in entries.items():
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
