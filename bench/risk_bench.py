"""Whole-graph risk scoring benchmark: snapshot read, contagion scoring, personalised PageRank
against networkx and igraph on the same graph in the same run.

    .venv/bin/python bench/risk_bench.py --data-dir /tmp/risk-bench --enterprises 1000000

With an empty data dir it generates the registry (seed 1) and loads it first (about 20-30
minutes at 10^6 enterprises). Figures go to stdout and, with --json, to a file; docs/benchmarks.md
("Risk scoring") quotes them. Needs the bench extra (`pip install -e .[bench]`: igraph).
`--edges FILE` saves the PageRank edge list; `--edges FILE --pagerank-only` repeats only the
PageRank comparison from it, without the store.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from credgraph.graph import clock
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Collector, Settings, load_settings, with_collector
from credgraph.graph.store import open_store
from credgraph.graph.vocabulary import Label
from credgraph.queries.contagion import contagion_scores, score_party
from credgraph.queries.pagerank import (
    DEFAULT_TOL,
    personalised_pagerank,
    seed_personalisation,
    transition_matrix,
    undirected_personalised_pagerank,
)
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.snapshot import LABEL_CODE, read_snapshot, relation_weights
from scipy.stats import spearmanr

COUNT_PARTIES = "MATCH (p:LegalPerson) RETURN count(p) AS n"
RUNS_OF_OURS = 3


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_loaded(settings: Settings, registry: Path, enterprises: int, seed: int) -> None:
    """Generate and load the registry when the store holds no legal person: the schema first
    (without its indexes every write looks its parties up by scanning, and a load of 10^6
    enterprises crawls), in the store started as `credgraph load` starts it, with the throughput
    collector and the page cache at its default, a quarter of the heap, as bench/load_bench.py
    loads."""
    loading = with_collector(settings, Collector.THROUGHPUT)
    with open_store(loading.model_copy(update={"embedded_page_cache": None})) as store:
        apply_schema(store)
        if store.read(COUNT_PARTIES)[0]["n"] > 0:
            return
        from credgraph.loaders.loader import load_paths
        from credgraph.loaders.rows import ParseContext
        from credgraph.loaders.synthetic import generate

        if not (registry / "manifest.json").exists():
            print(f"generating {enterprises:,} enterprises into {registry}", flush=True)
            generate(registry, enterprises=enterprises, seed=seed)
        print(f"loading {registry} (this takes a while)", flush=True)
        started = time.perf_counter()
        load_paths(
            store,
            ParseContext(settings.person_key_bytes()),
            [registry],
            batch_size=10_000,
            rejects_dir=registry.parent / f"{registry.name}-rejects",
        )
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)


def common_edges(n: int, src: Any, dst: Any, weight: Any) -> tuple[Any, Any, Any]:
    """The undirected simple weighted graph every library gets: parallel relations summed."""
    a, b = np.minimum(src, dst).astype(np.int64), np.maximum(src, dst).astype(np.int64)
    positive = weight > 0
    keys, inverse = np.unique(a[positive] * n + b[positive], return_inverse=True)
    summed = np.bincount(inverse, weights=weight[positive])
    return (keys // n).astype(np.int32), (keys % n).astype(np.int32), summed


def run_ours(
    n: int, a: Any, b: Any, w: Any, p: Any, alpha: float, **solver: Any
) -> tuple[Any, float, int]:
    """What `triage_ranking` runs: conjugate gradients on the symmetric system, with the
    solver's options (`eliminable`: the natural persons, as the triage; `threads`, by default
    one per CPU)."""
    started = time.perf_counter()
    result = undirected_personalised_pagerank(n, a, b, w, p, alpha=alpha, tol=DEFAULT_TOL, **solver)
    return result.scores, time.perf_counter() - started, result.iterations


def run_power(n: int, a: Any, b: Any, w: Any, p: Any, alpha: float) -> tuple[Any, float, int]:
    """Our power iteration (the general, directed solver), for comparison."""
    started = time.perf_counter()
    transition, out_weight = transition_matrix(n, a, b, w)
    result = personalised_pagerank(transition, out_weight, p, alpha=alpha, tol=DEFAULT_TOL)
    return result.scores, time.perf_counter() - started, result.iterations


def run_networkx(n: int, a: Any, b: Any, w: Any, p: Any, alpha: float) -> tuple[Any, float]:
    import networkx as nx

    started = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
    seeds = {int(i): float(p[i]) for i in np.flatnonzero(p)}
    # networkx stops when the L1 change is below n * tol: the same criterion as ours
    ranks = nx.pagerank(
        g, alpha=alpha, personalization=seeds, weight="weight", tol=DEFAULT_TOL / n, max_iter=1000
    )
    scores = np.array([ranks[i] for i in range(n)])
    return scores, time.perf_counter() - started


def run_igraph(n: int, a: Any, b: Any, w: Any, p: Any, alpha: float) -> tuple[Any, float]:
    import igraph as ig

    started = time.perf_counter()
    g = ig.Graph(n=n, edges=np.column_stack([a, b]), directed=False)
    g.es["weight"] = w
    scores = g.personalized_pagerank(
        directed=False, damping=alpha, reset=p.tolist(), weights="weight"
    )
    return np.array(scores), time.perf_counter() - started


def compare(name: str, ours: Any, theirs: Any) -> dict[str, float]:
    top = 1000
    ours_top = set(np.argsort(-ours)[:top].tolist())
    theirs_top = set(np.argsort(-theirs)[:top].tolist())
    reached = (ours > 0) | (theirs > 0)
    rho = spearmanr(ours[reached], theirs[reached]).statistic if reached.sum() > 2 else 1.0
    figures = {
        "max_abs_diff": float(np.abs(ours - theirs).max()),
        "spearman_reached": float(rho),
        "top1000_overlap": len(ours_top & theirs_top) / top,
    }
    print(f"  vs {name}: {figures}", flush=True)
    return figures


def subsample(n: int, a: Any, b: Any, w: Any, max_edges: int, seed: int) -> tuple[Any, ...]:
    """The first `max_edges` edges of a random order (same graph for every library)."""
    if len(a) <= max_edges:
        return a, b, w
    chosen = np.sort(np.random.default_rng(seed).permutation(len(a))[:max_edges])
    return a[chosen], b[chosen], w[chosen]


def our_variant(
    figures: dict[str, Any],
    key: str,
    title: str,
    ours: Any,
    ours_s: float,
    result: tuple[Any, float, int],
) -> None:
    """Record another of our solvers' run (scores, seconds, iterations) against ours."""
    scores, seconds, iterations = result
    figures[key] = {
        "seconds": round(seconds, 3),
        "iterations": iterations,
        "speedup": round(seconds / ours_s, 2),
    }
    figures[key].update(compare(title, ours, scores))
    print(f"pagerank (ours, {title}): {figures[key]}", flush=True)


def compare_pagerank(
    n: int,
    a: Any,
    b: Any,
    w: Any,
    p: Any,
    alpha: float,
    eliminable: Any,
    args: Any,
    figures: dict[str, Any],
) -> None:
    """Ours, our power iteration, igraph and networkx from the same edge list, each timed from
    the edge list to the scores (graph building included)."""
    figures["pagerank_graph"] = {"nodes": n, "edges": len(a), "seeds": int((p > 0).sum())}
    # the edges are distinct (common_edges), so a node's edge count is its neighbour count
    neighbours = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    figures["pagerank_graph"]["without_relation"] = int((neighbours == 0).sum())
    if eliminable is not None:
        persons = eliminable & (neighbours > 0)
        figures["pagerank_graph"]["persons_with_relations"] = int(persons.sum())
        figures["pagerank_graph"]["persons_with_one_or_two"] = int(
            (persons & (neighbours <= 2)).sum()
        )
    tracemalloc.start()
    ours, ours_s, iterations = run_ours(n, a, b, w, p, alpha, eliminable=eliminable)
    _, ours_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # timed without tracemalloc, three times: the median counts (the machine's speed wanders)
    runs = [run_ours(n, a, b, w, p, alpha, eliminable=eliminable) for _ in range(RUNS_OF_OURS)]
    ours, _, iterations = runs[0]
    ours_s = float(np.median([run[1] for run in runs]))
    figures["pagerank_ours"] = {
        "seconds": round(ours_s, 3),
        "runs": [round(run[1], 3) for run in runs],
        "iterations": iterations,
        "persons_eliminated": eliminable is not None,
        "peak_mb": round(ours_peak / 2**20),
        "peak_bytes_per_edge": round(ours_peak / len(a), 1),
    }
    print(f"pagerank (ours, conjugate gradients): {figures['pagerank_ours']}", flush=True)
    one_thread = run_ours(n, a, b, w, p, alpha, eliminable=eliminable, threads=1)
    our_variant(figures, "pagerank_one_thread", "one thread", ours, ours_s, one_thread)
    if eliminable is not None:  # the same solver without the elimination, for comparison
        plain = run_ours(n, a, b, w, p, alpha)
        our_variant(figures, "pagerank_plain", "nothing eliminated", ours, ours_s, plain)
    power = run_power(n, a, b, w, p, alpha)
    our_variant(figures, "pagerank_power", "power iteration", ours, ours_s, power)
    theirs, ig_s = run_igraph(n, a, b, w, p, alpha)
    figures["pagerank_igraph"] = {"seconds": round(ig_s, 3), "speedup": round(ig_s / ours_s, 2)}
    figures["pagerank_igraph"].update(compare("igraph", ours, theirs))
    print(f"pagerank (igraph): {figures['pagerank_igraph']}", flush=True)
    if args.skip_networkx:
        return
    # on the same graph as above, ours is the median of the runs above
    sa, sb, sw, sub_ours, sub_ours_s = a, b, w, ours, ours_s
    if args.nx_max_edges:
        sa, sb, sw = subsample(n, a, b, w, args.nx_max_edges, 5)
        sub_ours, sub_ours_s, _ = run_ours(n, sa, sb, sw, p, alpha, eliminable=eliminable)
    nx_scores, nx_s = run_networkx(n, sa, sb, sw, p, alpha)
    figures["pagerank_networkx"] = {
        "edges": len(sa),
        "seconds": round(nx_s, 1),
        "ours_seconds_same_graph": round(sub_ours_s, 3),
        "speedup": round(nx_s / sub_ours_s, 1),
    }
    figures["pagerank_networkx"].update(compare("networkx", sub_ours, nx_scores))
    print(f"pagerank (networkx): {figures['pagerank_networkx']}", flush=True)


def pagerank_only(args: Any) -> int:
    """`--pagerank-only`: the PageRank comparison from an edge list saved by `--edges`."""
    saved = np.load(args.edges)
    figures: dict[str, Any] = {"edges_file": str(args.edges)}
    # edge lists saved before the natural persons were eliminated do not say which they are
    eliminable = saved["eliminable"] if "eliminable" in saved.files else None
    compare_pagerank(
        int(saved["n"]),
        saved["a"],
        saved["b"],
        saved["w"],
        saved["p"],
        float(saved["alpha"]),
        eliminable,
        args,
        figures,
    )
    figures["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--registry", type=Path, default=None)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--as-of", default=None, help="default: the registry's as_of or today")
    parser.add_argument("--nx-max-edges", type=int, default=0, help="networkx on a subsample")
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--on-demand", type=int, default=20, help="parties checked on demand")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--edges", type=Path, default=None, help="save the PageRank edge list here (.npz)"
    )
    parser.add_argument(
        "--pagerank-only",
        action="store_true",
        help="only the PageRank comparison, from the edge list saved by --edges",
    )
    args = parser.parse_args()
    if args.pagerank_only:
        if not args.edges or not args.edges.exists():
            parser.error("--pagerank-only needs --edges FILE saved by an earlier run")
        return pagerank_only(args)

    os.environ["CREDGRAPH_DATA_DIR"] = str(args.data_dir)
    settings = load_settings()
    profile = BUILTIN_PROFILES[args.profile]
    registry = args.registry or args.data_dir.parent / f"{args.data_dir.name}-registry"
    figures: dict[str, Any] = {"enterprises": args.enterprises, "profile": profile.name}
    ensure_loaded(settings, registry, args.enterprises, args.seed)
    with open_store(settings) as store:
        manifest = registry / "manifest.json"
        as_of = (
            date.fromisoformat(args.as_of)
            if args.as_of
            else date.fromisoformat(json.loads(manifest.read_text())["as_of"])
            if manifest.exists()
            else clock.today()
        )
        figures["as_of"] = as_of.isoformat()
        gc.collect()
        baseline = rss_mb()
        snapshot = read_snapshot(store, as_of, profile=profile)
        stats = snapshot.stats
        figures["snapshot"] = {
            "parties": snapshot.node_count,
            "relations": snapshot.relation_count,
            "seeds": len(snapshot.seeds),
            "rows": stats.rows,
            "reads": stats.reads,
            "seconds": round(stats.seconds, 1),
            "rows_per_second": round(stats.rows_per_second),
            "rss_mb_after": round(rss_mb() - baseline),
        }
        print(f"snapshot: {figures['snapshot']}", flush=True)

        started = time.perf_counter()
        result = contagion_scores(snapshot, profile)
        score_seconds = time.perf_counter() - started
        tracemalloc.start()
        contagion_scores(snapshot, profile)
        _, score_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures["contagion"] = {
            "seconds": round(score_seconds, 2),
            "seed_subjects": result.subjects,
            "batches": result.batches,
            "scored_parties": int((result.scores > 0).sum()),
            "peak_mb": round(score_peak / 2**20),
            "peak_bytes_per_relation": round(score_peak / max(snapshot.relation_count, 1), 1),
        }
        print(f"contagion: {figures['contagion']}", flush=True)

        rng = np.random.default_rng(3)
        reached = result.reached()
        sample = rng.choice(reached, min(args.on_demand, len(reached)), replace=False)
        timings, equal = [], 0
        for node in sample.tolist():
            t = time.perf_counter()
            on_demand = score_party(store, snapshot.key(node), profile, as_of)
            timings.append(time.perf_counter() - t)
            equal += int(on_demand.score == result.scores[node])
        figures["on_demand"] = {
            "parties": len(timings),
            "equal_to_batch": equal,
            "p50_ms": round(float(np.percentile(timings, 50)) * 1000, 1) if timings else None,
            "max_ms": round(max(timings) * 1000, 1) if timings else None,
        }
        print(f"on demand: {figures['on_demand']}", flush=True)

    n = snapshot.node_count
    a, b, w = common_edges(
        n, snapshot.rel_src, snapshot.rel_dst, relation_weights(snapshot, profile)
    )
    p = seed_personalisation(snapshot, profile)
    eliminable = snapshot.labels == LABEL_CODE[Label.NATURAL_PERSON]  # as triage_ranking
    del snapshot, result
    gc.collect()
    if args.edges:
        np.savez(
            args.edges, n=n, a=a, b=b, w=w, p=p, alpha=profile.pagerank_alpha, eliminable=eliminable
        )
    before = peak_rss_mb()
    compare_pagerank(n, a, b, w, p, profile.pagerank_alpha, eliminable, args, figures)
    figures["peak_rss_mb"] = round(max(before, peak_rss_mb()))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
