"""Load benchmark: the generated registry into the embedded store, beside a naive baseline.

    .venv/bin/python bench/load_bench.py --enterprises 100000

Generates the registry (or reuses `--registry DIR`), starts a fresh embedded store, and in the
same process:

1. loads the whole registry with `credgraph load`'s loader (batched UNWIND MERGEs, one
   transaction per chunk with its ledger entry, parsing overlapped with writing), timing it end
   to end: reading, checking, resolving and writing every row of every file;
2. runs the naive baseline on the same files into a second, empty database: the same parsing,
   but one MERGE transaction per row through the driver, as most tutorials do. A full naive
   run would take hours at 1,000,000 enterprises, so it stops after `--naive-seconds` and its
   rate is taken over the rows it got through (the first rows of each file, in load order).

Prints one JSON object with both rates and their ratio. `BENCH_HEAP` sets the store's heap
(default 6g), `BENCH_GC` its collector (default `throughput`, what `credgraph load` starts the
store with; `latency` for ZGC), `BENCH_AOT` where the store's JVM keeps its AOT cache (default
`auto`, as `credgraph load`; `off`, or a folder: graph/aot.py). A run that finds no cache
records one as its store stops (`"aot_cache": "recording"`); the runs after it use it
(`"used"`). `--relations create` writes relations with `CREATE` instead of the loader's `MERGE`
(right only into an empty store, as here): measured and not adopted (docs/benchmarks.md).
`--parameters list` sends list parameters to the driver as plain lists, as before
`graph.store._parameters` (which gives them a short repr), to measure what the driver's debug
line cost. The output gives the CPU time per row of the loader's process and of the store's JVM
(`/proc/<pid>/stat`), which the machine's other work disturbs far less than the wall time. The
store and the rejects go to a temporary folder, removed at the end, or to `--work-dir`, kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from api_bench import cpu_seconds, store_process
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, connect
from credgraph.loaders.loader import Loader, StagedChunk, plan_load
from credgraph.loaders.mapping import builtin_mappings
from credgraph.loaders.report import FileReport
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.synthetic import generate


class _TimeUp(Exception):
    pass


class NaiveLoader(Loader):
    """The same parsing and staging, written one row per transaction."""

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.rows_written = 0

    def _write(self, chunk: StagedChunk, committed: set[str], report: FileReport) -> None:
        assert self._store is not None
        for query, rows in chunk.statements:
            for row in rows:
                if time.perf_counter() > self.deadline:
                    raise _TimeUp
                parameters = {"rows": [row], "lineage": self._batch_lineage(report.source)}
                self._store.write(query, parameters, operation="bench.naive")
                self.rows_written += 1


def _create_relations() -> None:
    """Bench only: every relation statement the loader picks, with CREATE for MERGE."""
    from credgraph.queries import writes

    merge = writes.relation_write

    def create(relation: Any, source: Any) -> Any:
        return merge(relation, source).replace("MERGE (b)<-", "CREATE (b)<-")

    writes.relation_write = create


def _plain_list_parameters() -> None:
    """Bench only: list parameters as plain lists, whose repr the driver builds."""
    from credgraph.graph import store

    store._Batch = list


def _store(embedded: EmbeddedStore, database: str, timeout_s: float) -> GraphStore:
    address = embedded.start()
    embedded.create_database(database)
    driver = connect(address.bolt_uri, address.user, address.password, database, timeout_s)
    store = GraphStore(driver, database, timeout_s, backend="arcadedb")
    apply_schema(store)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--enterprises",
        type=int,
        default=100_000,
        help="legal persons in the generated registry, of every kind (enterprises, individual "
        "businesses, public institutions, social organisations), not only enterprises",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--registry", type=Path, help="reuse a generated registry")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--naive-seconds", type=float, default=60.0)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--relations", choices=("merge", "create"), default="merge")
    parser.add_argument("--parameters", choices=("batch", "list"), default="batch")
    args = parser.parse_args()
    if args.relations == "create":
        _create_relations()
    if args.parameters == "list":
        _plain_list_parameters()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="credgraph-bench-"))
    try:
        _run(args, work)
    finally:
        if args.work_dir is None:  # a store of 300 MB a run at 100,000 enterprises, 3 GB at 10^6
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    registry = args.registry or work / f"registry-{args.enterprises}"
    generation_s = 0.0
    if not (registry / "manifest.json").exists():
        started = time.perf_counter()
        generate(registry, enterprises=args.enterprises, seed=args.seed)
        generation_s = time.perf_counter() - started
    settings = load_settings(
        data_dir=work / "store",
        embedded_bolt_port=int(os.environ.get("BENCH_BOLT_PORT", "7790")),
        embedded_http_port=int(os.environ.get("BENCH_HTTP_PORT", "2490")),
        embedded_heap=os.environ.get("BENCH_HEAP", "6g"),
        embedded_gc=os.environ.get("BENCH_GC", "throughput"),
        embedded_aot_cache=os.environ.get("BENCH_AOT", "auto"),
        query_timeout_s=3600,
    )
    context = ParseContext(settings.person_key_bytes())
    planned = plan_load([registry], [], builtin_mappings())
    results: dict[str, Any] = {
        "enterprises": args.enterprises,
        "parameters": args.parameters,
        "registry": str(registry),
        "generation_s": round(generation_s, 1),
        "batch_size": args.batch_size,
    }
    started = time.perf_counter()
    with EmbeddedStore(settings) as embedded:
        results["store_start_s"] = round(time.perf_counter() - started, 2)
        results["aot_cache"] = embedded.aot_cache
        bulk = _store(embedded, "bench_bulk", settings.query_timeout_s)
        loader = Loader(bulk, context, batch_size=args.batch_size, rejects_dir=work / "rejects")
        jvm = store_process(settings.data_dir)
        started, python_cpu, jvm_cpu = time.perf_counter(), time.process_time(), cpu_seconds(jvm)
        report = loader.load(planned)
        elapsed = time.perf_counter() - started
        python_cpu, jvm_cpu = time.process_time() - python_cpu, cpu_seconds(jvm) - jvm_cpu
        read = sum(f.read for f in report.files)
        results["bulk"] = {
            "rows": read,
            "seconds": round(elapsed, 1),
            "rows_per_s": round(read / elapsed),
            "loader_cpu_us_per_row": round(1e6 * python_cpu / read, 1),
            "store_cpu_us_per_row": round(1e6 * jvm_cpu / read, 1),
            "files": {
                Path(f.file).name: {"rows": f.read, "rows_per_s": round(f.read / f.seconds)}
                for f in report.files
                if f.seconds
            },
            "balanced": all(f.balanced for f in report.files),
        }
        print(json.dumps(results["bulk"]), file=sys.stderr, flush=True)
        bulk.driver.close()

        naive_store = _store(embedded, "bench_naive", settings.query_timeout_s)
        started = time.perf_counter()
        naive = NaiveLoader(
            naive_store,
            context,
            batch_size=1000,
            rejects_dir=work / "naive-rejects",
            deadline=started + args.naive_seconds,
        )
        with contextlib.suppress(_TimeUp):
            naive.load(planned)
        elapsed = time.perf_counter() - started
        results["naive"] = {
            "rows": naive.rows_written,
            "seconds": round(elapsed, 1),
            "rows_per_s": round(naive.rows_written / elapsed),
        }
        naive_store.driver.close()
    results["speedup"] = round(results["bulk"]["rows_per_s"] / results["naive"]["rows_per_s"], 1)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
