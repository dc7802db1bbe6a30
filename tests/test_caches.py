"""The bounded cache behind the API's caches (queries/caches.py): by count, and by weight."""

from __future__ import annotations

from credgraph.queries.caches import LruCache


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put_many({"a": 1, "b": 2})
    assert cache.get_many(["a"]) == {"a": 1}  # "a" is now the more recent
    cache.put_many({"c": 3})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "c": 3}
    assert (len(cache), cache.weight) == (2, 2)
    nothing: LruCache[str, int] = LruCache(0)
    nothing.put_many({"a": 1})
    assert nothing.get_many(["a"]) == {} and len(nothing) == 0


def test_a_weighed_cache_bounds_the_sum_of_its_weights() -> None:
    cache: LruCache[str, list[int]] = LruCache(10, weigh=len)
    cache.put_many({"six": [0] * 6, "three": [0] * 3})
    assert cache.weight == 9
    cache.put_many({"eleven": [0] * 11})  # heavier than the whole cache: not kept
    assert "eleven" not in cache.get_many(["eleven"]) and cache.weight == 9
    cache.put_many({"four": [0] * 4})  # 13 > 10: the least recently used ("six") goes
    assert set(cache.get_many(["six", "three", "four"])) == {"three", "four"}
    assert cache.weight == 7
    cache.put_many({"three": [0] * 5})  # a new value for a kept key: its new weight counts
    assert cache.weight == 9 and len(cache) == 2
