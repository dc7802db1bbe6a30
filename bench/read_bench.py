"""What a small read costs: as `GraphStore.read` runs it, and in a managed read transaction.

    .venv/bin/python bench/read_bench.py

Starts a fresh embedded store in a temporary folder (removed at the end) and reads the ledger's
head (the data version every API request reads, queries/ledger.py) `--reads` times each way, the
ways taking turns for `--rounds` rounds, in one process: `GraphStore.read` (one auto-commit
statement in a read session, graph/store.py) and the baseline it replaced, the same statement in
a managed read transaction (`session.execute_read`: BEGIN, the statement, COMMIT). Prints, per
way and round, the driver's CPU time and the wall time per read, as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, connect
from credgraph.queries.ledger import DATA_HEAD, READ_DATA_HEAD, ensure_data_head


def managed_read(store: GraphStore) -> Callable[[], list[dict[str, Any]]]:
    """The baseline: the same read in a managed read transaction, as before."""

    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return [record.data() for record in tx.run(READ_DATA_HEAD, {"head": DATA_HEAD})]

    def read() -> list[dict[str, Any]]:
        with store.driver.session(
            database=store.database, default_access_mode=neo4j.READ_ACCESS
        ) as session:
            return session.execute_read(work)

    return read


def timed(read: Callable[[], object], reads: int) -> dict[str, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(reads):
        read()
    return {
        "cpu_us_per_read": round((time.process_time() - cpu) / reads * 1e6, 1),
        "wall_us_per_read": round((time.perf_counter() - wall) / reads * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="credgraph-read-bench-") as data_dir:
        figures = _measure(args, Path(data_dir))  # the store is removed at the end
    print(json.dumps({"reads": args.reads, **figures}, indent=2))


def _measure(args: argparse.Namespace, data_dir: Path) -> dict[str, list[dict[str, float]]]:
    settings = load_settings(
        data_dir=data_dir,
        embedded_bolt_port=7791,
        embedded_http_port=2491,
        embedded_aot_cache="off",
    )
    with EmbeddedStore(settings) as embedded:
        address = embedded.start()
        embedded.create_database("bench_read")
        driver = connect(address.bolt_uri, address.user, address.password, "bench_read", 30)
        store = GraphStore(driver, "bench_read", 30.0, backend="arcadedb")
        apply_schema(store)
        ensure_data_head(store)
        ways: dict[str, Callable[[], object]] = {
            "GraphStore.read (auto-commit)": lambda: store.read(
                READ_DATA_HEAD, {"head": DATA_HEAD}
            ),
            "managed read transaction (baseline)": managed_read(store),
        }
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
        for read in ways.values():  # warm both
            timed(read, 200)
        for _ in range(args.rounds):
            for name, read in ways.items():
                figures[name].append(timed(read, args.reads))
        driver.close()
    return figures


if __name__ == "__main__":
    main()
