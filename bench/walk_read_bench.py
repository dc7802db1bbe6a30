"""What one level read of a walk costs per relation, by what it returns.

    CREDGRAPH_EMBEDDED_HEAP=8g .venv/bin/python bench/walk_read_bench.py \
        --data-dir /work/bench-store/1m

Opens the embedded store under `--data-dir` (loaded by bench/query_bench.py) and reads the
relations of `--firms` random legal persons, `--batch` at a time, three ways: the full level
read linked parties use (`NEIGHBOURS_OF_LEGAL_PERSONS`: every hop property), the lean read path
search uses (`LEAN_NEIGHBOURS_OF_LEGAL_PERSONS`: type, direction, key), and the lean read with
the neighbour's elementId instead of its uid. Each runs `--rounds` times; the figure is the best
round's time per relation returned. Then it times reading relation properties back by
elementId, which a lean walk would need if it kept relations' elementIds (docs/benchmarks.md,
"Queries"). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, open_store
from credgraph.graph.vocabulary import PARTY_RELATIONS
from credgraph.queries.traversal import (
    LEAN_NEIGHBOURS_OF_LEGAL_PERSONS,
    NEIGHBOURS_OF_LEGAL_PERSONS,
)

# bench-only statements (the product ships neither): what was measured and not adopted
LEGAL_UIDS: Any = "MATCH (n:LegalPerson) RETURN n.uid AS uid LIMIT $limit"
LEAN_BY_ELEMENT_ID: Any = LEAN_NEIGHBOURS_OF_LEGAL_PERSONS.replace(
    "b.uid AS to_uid", "elementId(b) AS to_id"
)
RELATION_IDS: Any = (
    "UNWIND $uids AS uid MATCH (:LegalPerson {uid: uid})-[r]-() "
    "RETURN elementId(r) AS id LIMIT $limit"
)
RELATIONS_BY_ELEMENT_ID: Any = (
    "MATCH ()-[r]->() WHERE elementId(r) IN $ids RETURN elementId(r) AS id, r.key AS key"
)


def per_relation(
    store: GraphStore, query: Any, firms: list[str], batch: int, rounds: int
) -> dict[str, float]:
    params: dict[str, Any] = {
        "types": [t.value for t in PARTY_RELATIONS],
        "include_former": False,
        "as_of": date(2025, 12, 31),
        "min_stake": 0.0,
        "cap": 5000,
    }
    best = float("inf")
    rows = 0
    for _ in range(rounds):
        rows = 0
        started = time.perf_counter()
        for i in range(0, len(firms), batch):
            rows += len(store.read(query, {**params, "uids": firms[i : i + batch]}))
        best = min(best, time.perf_counter() - started)
    return {"relations": rows, "us_per_relation": round(best / max(rows, 1) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--firms", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    os.environ["CREDGRAPH_DATA_DIR"] = str(args.data_dir)
    with open_store(load_settings()) as store:
        uids = [row["uid"] for row in store.read(LEGAL_UIDS, {"limit": 200_000})]
        firms = random.Random(args.seed).sample(uids, args.firms)
        figures: dict[str, Any] = {"firms": args.firms, "batch": args.batch}
        for name, query in (
            ("full", NEIGHBOURS_OF_LEGAL_PERSONS),
            ("lean", LEAN_NEIGHBOURS_OF_LEGAL_PERSONS),
            ("lean, elementId", LEAN_BY_ELEMENT_ID),
        ):
            figures[name] = per_relation(store, query, firms, args.batch, args.rounds)
            print(name, figures[name], flush=True)
        ids = [r["id"] for r in store.read(RELATION_IDS, {"uids": firms[:50], "limit": 50})]
        started = time.perf_counter()
        found = store.read(RELATIONS_BY_ELEMENT_ID, {"ids": ids})
        figures["relations by elementId"] = {
            "ids": len(ids),
            "found": len(found),
            "seconds": round(time.perf_counter() - started, 2),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
