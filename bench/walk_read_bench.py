"""What one level read of a walk costs per relation, by what it returns and how.

    CREDGRAPH_EMBEDDED_HEAP=8g .venv/bin/python bench/walk_read_bench.py \
        --data-dir /work/bench-store/1m

Opens the embedded store under `--data-dir` (loaded by bench/query_bench.py) and reads the
relations of `--firms` random legal persons, `--batch` at a time, six ways: the level read
linked parties and path search use (`NEIGHBOURS_OF_LEGAL_PERSONS`: one row, a list of the
parties each with its relations collected with the properties a hop shows, dates as ISO
text), the same read as it was before (a row per party, until 2026-11-24), and before that (a
row per relation, a property map with the driver's Date objects), a lean read
(type, direction, key: what path search read before) collected and a row per relation, and the
lean collected read with the neighbour's elementId instead of its uid. The ways take turns,
`--rounds` rounds; the figures are the best and the median round's wall time per relation
returned, and the client's CPU time per relation (driver and decoding). Then it times reading
relation properties back by elementId, which a lean walk would need if it kept relations'
elementIds (docs/benchmarks.md, "Queries"). With `--filters`, the ways are instead the level
read as it is and the same read without the far end's label test, without the relation-type
test, without both, and without its `LIMIT`. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, open_store
from credgraph.graph.vocabulary import PARTY_RELATIONS
from credgraph.queries.traversal import NEIGHBOURS_OF_LEGAL_PERSONS

# bench-only statements (the product ships neither): what was measured and not adopted
LEGAL_UIDS: Any = "MATCH (n:LegalPerson) RETURN n.uid AS uid LIMIT $limit"
_COLLECTED = NEIGHBOURS_OF_LEGAL_PERSONS[NEIGHBOURS_OF_LEGAL_PERSONS.index("WITH uid, a, r") :]


def _returning(tail: str) -> Any:
    """The level read with what it returns replaced by `tail`."""
    return NEIGHBOURS_OF_LEGAL_PERSONS.replace(_COLLECTED, tail)


# the level read as it was before the parties were collected into one row
FULL_ROW_PER_PARTY = _returning(
    """WITH uid, a, r, b
LIMIT $cap
RETURN uid AS from_uid,
       collect([type(r), startNode(r) = a, b.uid, b:LegalPerson, r.key, r.role, r.matter,
                r.stake, r.amount, toString(r.valid_from), toString(r.valid_to), r.source,
                r.source_record, r.source_row]) AS relations
"""
)
# the level read as it was before rows were collected per party
FULL_ROW_PER_RELATION = _returning(
    """RETURN uid AS from_uid, type(r) AS type, startNode(r) = a AS outgoing,
       r {.key, .role, .matter, .stake, .amount, .valid_from, .valid_to, .source,
          .source_record, .source_row} AS relation,
       b.uid AS to_uid, b:LegalPerson AS legal
LIMIT $cap
"""
)
# the lean reads path search used before (type, direction, key; details read afterwards)
LEAN_ROW_PER_RELATION = _returning(
    """RETURN uid AS from_uid, type(r) AS type, startNode(r) = a AS outgoing, r.key AS key,
       b.uid AS to_uid, b:LegalPerson AS legal
LIMIT $cap
"""
)
LEAN_COLLECTED = _returning(
    """WITH uid, a, r, b
LIMIT $cap
RETURN uid AS from_uid,
       collect([type(r), startNode(r) = a, b.uid, b:LegalPerson, r.key]) AS relations
"""
)
LEAN_BY_ELEMENT_ID = LEAN_COLLECTED.replace("b.uid, b:LegalPerson", "elementId(b), b:LegalPerson")
# the level read without some of its filters (--filters): what the filters cost
_LABEL_TEST = "  AND (b:LegalPerson OR b:NaturalPerson)\n"
_TYPE_TEST = "WHERE type(r) IN $types\n  AND "
_LIMIT = "WITH uid, a, r, b\nLIMIT $cap\n"
WITHOUT_LABEL_TEST = NEIGHBOURS_OF_LEGAL_PERSONS.replace(_LABEL_TEST, "")
WITHOUT_TYPE_TEST = NEIGHBOURS_OF_LEGAL_PERSONS.replace(_TYPE_TEST, "WHERE ")
WITHOUT_EITHER = WITHOUT_LABEL_TEST.replace(_TYPE_TEST, "WHERE ")
WITHOUT_LIMIT = NEIGHBOURS_OF_LEGAL_PERSONS.replace(_LIMIT, "")
RELATION_IDS: Any = (
    "UNWIND $uids AS uid MATCH (:LegalPerson {uid: uid})-[r]-() "
    "RETURN elementId(r) AS id LIMIT $limit"
)
RELATIONS_BY_ELEMENT_ID: Any = (
    "MATCH ()-[r]->() WHERE elementId(r) IN $ids RETURN elementId(r) AS id, r.key AS key"
)


def relations_in(rows: list[dict[str, Any]]) -> int:
    """Relations a read returned: the parties collected in a row, collected per party, or a
    row each."""
    return sum(
        sum(len(relations) for _, relations in row["parties"])
        if "parties" in row
        else len(row["relations"])
        if "relations" in row
        else 1
        for row in rows
    )


def one_round(
    store: GraphStore, query: Any, firms: list[str], batch: int
) -> tuple[int, float, float]:
    """Relations read, wall seconds and client CPU seconds of reading every firm once."""
    params: dict[str, Any] = {
        "types": [t.value for t in PARTY_RELATIONS],
        "include_former": False,
        "as_of": date(2025, 12, 31),
        "min_stake": 0.0,
        "cap": 5000,
    }
    relations = 0
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(firms), batch):
        relations += relations_in(store.read(query, {**params, "uids": firms[i : i + batch]}))
    return relations, time.perf_counter() - started, time.process_time() - cpu


def per_relation(
    store: GraphStore, queries: dict[str, Any], firms: list[str], batch: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Each way's best and median wall time and best CPU time per relation, the ways taking
    turns so that the store's caches and the JIT favour none."""
    walls: dict[str, list[float]] = {name: [] for name in queries}
    cpus: dict[str, list[float]] = {name: [] for name in queries}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, query in queries.items():
            counts[name], wall, cpu = one_round(store, query, firms, batch)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {
            "relations": counts[name],
            "us_per_relation_best": round(min(walls[name]) / counts[name] * 1e6, 1),
            "us_per_relation_median": round(statistics.median(walls[name]) / counts[name] * 1e6, 1),
            "client_cpu_us_per_relation": round(min(cpus[name]) / counts[name] * 1e6, 1),
        }
        for name in queries
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--firms", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--filters", action="store_true", help="what the read's filters cost")
    args = parser.parse_args()
    os.environ["CREDGRAPH_DATA_DIR"] = str(args.data_dir)
    with open_store(load_settings()) as store:
        uids = [row["uid"] for row in store.read(LEGAL_UIDS, {"limit": 200_000})]
        firms = random.Random(args.seed).sample(uids, args.firms)
        figures: dict[str, Any] = {"firms": args.firms, "batch": args.batch}
        ways = {
            "full, collected": NEIGHBOURS_OF_LEGAL_PERSONS,
            "full, a row per party": FULL_ROW_PER_PARTY,
            "full, a row per relation": FULL_ROW_PER_RELATION,
            "lean, collected": LEAN_COLLECTED,
            "lean, a row per relation": LEAN_ROW_PER_RELATION,
            "lean, collected, elementId": LEAN_BY_ELEMENT_ID,
        }
        if args.filters:
            ways = {
                "as it is": NEIGHBOURS_OF_LEGAL_PERSONS,
                "without the label test": WITHOUT_LABEL_TEST,
                "without the type test": WITHOUT_TYPE_TEST,
                "without either": WITHOUT_EITHER,
                "without the LIMIT": WITHOUT_LIMIT,
            }
            assert len(set(ways.values())) == len(ways), "a filter was not found in the read"
        figures.update(per_relation(store, ways, firms, args.batch, args.rounds))
        for name in ways:
            print(name, figures[name], flush=True)
        if args.filters:
            print(json.dumps(figures, indent=2))
            return
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
