"""Query benchmark: linked parties at depth 2 and 3 and shortest paths, p50 and p99.

    CREDGRAPH_EMBEDDED_HEAP=8g .venv/bin/python bench/query_bench.py \
        --data-dir /work/bench-store/1m --enterprises 1000000

Opens the embedded store under `--data-dir` (attaching to the server already running there, or
starting one). When the store holds no legal person it builds it first: generates the synthetic
registry (`credgraph generate`, `--seed`, into `--registry` or `<data dir>/registry-<n>`) and
loads it with the loader `credgraph load` uses, so the command reproduces the figures from
nothing. Then, through the Python API (`credgraph.queries`), over `--samples` parties drawn at
random (seeded) from every legal and natural person in the store:

- `linked_parties` at depth 2 and at depth 3, with the default cap (5,000 relations per level),
  and at depth 3 with each of `--depth3-caps`;
- `shortest_paths` (k = 1, max depth 4) from each party to a party 2 to 4 hops away (picked from
  its depth-3 neighbourhood; the answer must find a path), and to a random party (usually no
  path within 4 hops: the search explores both sides to depth 2 and stops);
- `risk_report` (the `default` profile, as of today: what `riskReport` and `screen` compute for
  a party they have not answered before) of the first `--risk-samples` parties: its walk to the
  contagion depth, uncapped, and its records.

Before the timed runs the process freezes what it holds after start-up out of Python's cycle
collector (`gc.freeze()`, as `credgraph serve` does; `--no-gc-freeze` leaves it): a walk of
a thousand relations promotes thousands of short-lived objects, which starts a full collection
every few dozen queries, and a full collection walks every object of the process (up to 100 ms
here), landing on whichever query is running. An application that calls the Python API from a
long-running process should do the same after its start-up.

With `--hub-cache RELATIONS`, every timed query reads the data version (as the API does for
each request) and passes `hubs=`, a `HubCache` of that many relations bound to it: the hubs the
walks and searches read are kept from the first timed query on (the warm-up does not fill it),
as an API worker keeps them (`CREDGRAPH_API_HUB_CACHE_RELATIONS`). Without it nothing is kept.
The output says how many hubs and relations the cache held at the end, and their memory
(`HubCache.footprint`: `hub_cache_mb`). With `--hub-warm` as well, the cache is warmed before the
timed queries as an API worker's warmer does it (`CREDGRAPH_API_WARMUP_S`,
queries/warmup.py: the largest hubs that fit, under the walks' default filter and the risk walk's
read, as of today), and the output says how long finding and reading the hubs took
(`hub_warm`). With `--subjects` the parties that are the subject of a sanction record are read
first as well (`subjects_warm`) and given to the risk reports, as an API worker gives them once
warmed: their records read then names only those.

Each query is timed end to end (Python API call to answer). Time spent waiting on the store
(`GraphStore.read`) is recorded separately, so the split between store round trips and Python
work is visible. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credgraph.graph import clock
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Collector, Settings, load_settings, with_collector
from credgraph.graph.store import GraphStore, open_store
from credgraph.graph.vocabulary import Label
from credgraph.loaders.loader import Loader, plan_load
from credgraph.loaders.mapping import builtin_mappings
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.synthetic import generate
from credgraph.queries.caches import HUB_RELATIONS, HubCache, Hubs, PerVersion
from credgraph.queries.ledger import data_version
from credgraph.queries.lookup import PartyKey
from credgraph.queries.paths import shortest_paths
from credgraph.queries.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE
from credgraph.queries.risk import risk_report
from credgraph.queries.snapshot import SanctionSubjects
from credgraph.queries.traversal import linked_parties
from credgraph.queries.warmup import find_hubs, warm_hubs, warm_subjects

COUNT_LEGAL: Any = "MATCH (n:LegalPerson) RETURN count(n) AS n"
LEGAL_UIDS: Any = "MATCH (n:LegalPerson) RETURN n.uid AS uid"
NATURAL_UIDS: Any = "MATCH (n:NaturalPerson) RETURN n.uid AS uid"


class CollectorClock:
    """Adds up the time Python's cycle collector runs, and its full collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2


class TimedStore:
    """Wraps `GraphStore.read` to add up the time spent waiting on the store; `collector` adds up
    the time in Python's cycle collector."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.waited = 0.0
        self.reads = 0
        self.collector = CollectorClock()
        original = store.read

        def read(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.waited += time.perf_counter() - start
                self.reads += 1

        store.read = read  # type: ignore[method-assign]


def _build_once(settings: Settings, args: argparse.Namespace) -> dict[str, Any] | None:
    """Generate and load the registry when the store holds no legal person, in the store started
    as `credgraph load` starts it: with the throughput collector and the page cache at its
    default, a quarter of the heap, as bench/load_bench.py loads."""
    loading = with_collector(settings, Collector.THROUGHPUT)
    with open_store(loading.model_copy(update={"embedded_page_cache": None})) as store:
        apply_schema(store)
        if store.read(COUNT_LEGAL)[0]["n"] > 0:
            return None
        return _build(store, settings, args)


def _build(store: GraphStore, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    registry = args.registry or settings.data_dir / f"registry-{args.enterprises}-{args.seed}"
    started = time.perf_counter()
    if not (registry / "legal_persons.csv").exists():
        print(f"generating {args.enterprises:,} enterprises into {registry}", file=sys.stderr)
        generate(registry, enterprises=args.enterprises, seed=args.seed)
    print(f"loading {registry} (this takes a while at 1M)", file=sys.stderr)
    loader = Loader(
        store,
        ParseContext(settings.person_key_bytes()),
        batch_size=settings.write_batch_size,
        rejects_dir=registry / "rejects",
    )
    report = loader.load(plan_load([registry], [], builtin_mappings()))
    return {
        "registry": str(registry),
        "loaded": report.loaded,
        "seconds": time.perf_counter() - started,
    }


def _warm(store: GraphStore, cache: HubCache) -> dict[str, Any]:
    """Find the hubs and warm `cache` with the largest, for the data version and today, as an
    API worker's `Warmer` does; how long each step took."""
    started = time.perf_counter()
    hubs = find_hubs(store, cache.least)
    found_s = time.perf_counter() - started
    token = data_version(store).token()
    warmed = warm_hubs(store, cache, hubs, data_token=token, as_of=clock.today())
    return {
        "hubs_found": len(hubs),
        "find_s": round(found_s, 2),
        "hubs_warmed": warmed.hubs,
        "relations_kept": warmed.relations,
        "warm_s": round(warmed.seconds, 2),
    }


def _warm_subjects(store: GraphStore, subjects: PerVersion[SanctionSubjects]) -> dict[str, Any]:
    """Read the sanction subjects for the current data version, as an API worker's `Warmer`
    does; how many and how long."""
    started = time.perf_counter()
    token = data_version(store).token()
    kept = warm_subjects(store, subjects, data_token=token)
    seconds = time.perf_counter() - started
    found = subjects.get(store.database, token)
    sets = (found.legal, found.natural) if found is not None else ()
    footprint = sum(sys.getsizeof(uids) + sum(map(sys.getsizeof, uids)) for uids in sets)
    return {"subjects": kept, "seconds": round(seconds, 2), "mb": round(footprint / 1e6, 1)}


def _sample(store: GraphStore, count: int, rng: random.Random) -> list[PartyKey]:
    legal = [row["uid"] for row in store.read(LEGAL_UIDS, operation="bench.sample")]
    natural = [row["uid"] for row in store.read(NATURAL_UIDS, operation="bench.sample")]
    everyone = [(Label.LEGAL_PERSON, uid) for uid in legal] + [
        (Label.NATURAL_PERSON, uid) for uid in natural
    ]
    return [PartyKey(label, uid) for label, uid in rng.sample(everyone, count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(
    timed: TimedStore,
    name: str,
    calls: list[Callable[[], Any]],
    describe: Callable[[Any], dict[str, float]],
) -> dict[str, Any]:
    latencies: list[float] = []
    waits: list[float] = []
    collected: list[float] = []
    collector = timed.collector
    full_before = collector.full
    reads: list[int] = []
    facts: dict[str, list[float]] = {}
    for call in calls:
        waited, count, collecting = timed.waited, timed.reads, collector.seconds
        start = time.perf_counter()
        answer = call()
        latencies.append((time.perf_counter() - start) * 1000)
        waits.append((timed.waited - waited) * 1000)
        collected.append((collector.seconds - collecting) * 1000)
        reads.append(timed.reads - count)
        for key, value in describe(answer).items():
            facts.setdefault(key, []).append(value)
    summary = {
        "query": name,
        "runs": len(latencies),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p90_ms": round(_percentile(latencies, 0.90), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "store_share": round(sum(waits) / max(sum(latencies), 1e-9), 3),
        "mean_reads": round(statistics.fmean(reads), 2),
        "p99_store_ms": round(_percentile(waits, 0.99), 2),
        # Python's cycle collector, inside the timed calls
        "gc_ms_total": round(sum(collected), 1),
        "gc_max_ms": round(max(collected), 2),
        "gc_full_collections": collector.full - full_before,
    }
    for key, values in facts.items():
        summary[f"mean_{key}"] = round(statistics.fmean(values), 2)
        summary[f"p99_{key}"] = round(_percentile(values, 0.99), 2)
    print(json.dumps(summary), file=sys.stderr)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--registry", type=Path, help="registry folder to load when empty")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--cap", type=int, default=5000, help="relations per level")
    parser.add_argument(
        "--depth3-caps",
        default="",
        help="extra depth-3 runs with these caps, comma-separated (e.g. 1000,2000)",
    )
    parser.add_argument("--bench-seed", type=int, default=20250630)
    parser.add_argument(
        "--hub-cache",
        type=int,
        default=0,
        help="relations of hubs kept for the timed queries, bound to the data version read by "
        "each (0: none, no data version read)",
    )
    parser.add_argument(
        "--hub-min",
        type=int,
        default=HUB_RELATIONS,
        help="relations a party has in a level read for the hub cache to keep them "
        "(CREDGRAPH_API_HUB_MIN_RELATIONS)",
    )
    parser.add_argument(
        "--hub-warm",
        action="store_true",
        help="with --hub-cache: warm the cache before the timed queries, as an API worker "
        "warms it (queries/warmup.py), timed apart",
    )
    parser.add_argument(
        "--subjects",
        action="store_true",
        help="read the sanction subjects before the timed queries, as an API worker warms them, "
        "and give them to the risk reports (their records read then names only those)",
    )
    parser.add_argument(
        "--risk-samples",
        type=int,
        default=1000,
        help="risk reports timed, of the first parties of the sample (0: none)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave the start-up objects in Python's cycle collector (see the module)",
    )
    args = parser.parse_args()

    os.environ.setdefault("CREDGRAPH_EMBEDDED_HEAP", "8g")
    settings = load_settings(data_dir=args.data_dir, neo4j_uri=None)
    rng = random.Random(args.bench_seed)
    built = _build_once(settings, args)
    with open_store(settings) as store:
        parties = _sample(store, args.samples + args.warmup, rng)
        warm, parties = parties[: args.warmup], parties[args.warmup :]
        profile = BUILTIN_PROFILES[DEFAULT_PROFILE]
        for key in warm:  # page cache and JIT: not counted
            linked_parties(store, key, depth=2, cap=args.cap)
        for key in warm[: args.warmup // 10 if args.risk_samples else 0]:
            risk_report(store, key, as_of=clock.today(), profile=profile)
        if not args.no_gc_freeze:
            gc.collect()
            gc.freeze()
        timed = TimedStore(store)
        hub_cache = HubCache(args.hub_cache, least=args.hub_min) if args.hub_cache else None
        warmed = _warm(store, hub_cache) if args.hub_warm and hub_cache is not None else None
        subjects = PerVersion[SanctionSubjects]() if args.subjects else None
        subjects_s = _warm_subjects(store, subjects) if subjects is not None else None

        def hubs() -> Hubs | None:
            """The hub cache bound to the current data version, as an API worker binds it."""
            if hub_cache is None:
                return None
            return hub_cache.bound(store, data_version(store).token())

        def linked(depth: int, cap: int = args.cap) -> list[Callable[[], Any]]:
            return [
                (lambda key=key: linked_parties(store, key, depth=depth, cap=cap, hubs=hubs()))
                for key in parties
            ]

        def linked_facts(answer: Any) -> dict[str, float]:
            return {
                "parties": len(answer.items),
                "relations": sum(answer.relations_read),
                "truncated": float(answer.truncated),
            }

        results = [
            _measure(timed, "linked depth 2", linked(2), linked_facts),
            _measure(timed, "linked depth 3", linked(3), linked_facts),
        ]
        for cap in (int(c) for c in args.depth3_caps.split(",") if c.strip()):
            results.append(
                _measure(timed, f"linked depth 3, cap {cap}", linked(3, cap), linked_facts)
            )
        # targets 2 to 4 hops away, picked outside the timed runs
        pairs = []
        for key in parties:
            ball = linked_parties(store, key, depth=3, cap=args.cap).items
            far = [item.key for item in ball if item.depth >= 2]
            if far:
                pairs.append((key, rng.choice(far)))
        random_pairs = [
            (a, b)
            for a, b in zip(parties, rng.sample(parties, len(parties)), strict=True)
            if a != b
        ]

        def path_calls(chosen: list[tuple[PartyKey, PartyKey]]) -> list[Callable[[], Any]]:
            return [
                (
                    lambda a=a, b=b: shortest_paths(
                        store, a, b, k=1, max_depth=4, cap=args.cap, hubs=hubs()
                    )
                )
                for a, b in chosen
            ]

        def path_facts(answer: Any) -> dict[str, float]:
            return {
                "found": float(bool(answer.paths)),
                "length": float(answer.shortest or 0),
                "relations": float(answer.relations_read),
                "truncated": float(answer.truncated),
            }

        results.append(
            _measure(timed, "shortest path, connected pair", path_calls(pairs), path_facts)
        )
        results.append(
            _measure(timed, "shortest path, random pair", path_calls(random_pairs), path_facts)
        )

        def report_facts(answer: Any) -> dict[str, float]:
            return {
                "scored": float(answer.contagion.score > 0),
                "paths": len(answer.contagion.paths),
            }

        reports = [
            (
                lambda key=key: risk_report(
                    store,
                    key,
                    as_of=clock.today(),
                    profile=profile,
                    hubs=hub_cache,
                    subjects=subjects,
                )
            )
            for key in parties[: args.risk_samples]
        ]
        if reports:
            results.append(_measure(timed, "risk report, a new party", reports, report_facts))
    print(
        json.dumps(
            {
                "data_dir": str(args.data_dir),
                "built": built,
                "samples": len(parties),
                "cap": args.cap,
                "hub_cache": args.hub_cache,
                "hub_min": args.hub_min,
                "hub_warm": warmed,
                "subjects_warm": subjects_s,
                "hubs_kept": len(hub_cache) if hub_cache is not None else 0,
                "hub_relations_kept": hub_cache.relations if hub_cache is not None else 0,
                "hub_cache_mb": round(hub_cache.footprint() / 1e6, 1) if hub_cache else 0,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
