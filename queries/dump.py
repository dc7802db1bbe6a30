"""The whole graph as plain data: for exports, and for comparing two loads in the tests.

Full scans, O(V + E): meant for small graphs and test databases, never for the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, LiteralString

from credgraph.graph.schema import STORE_FORMAT_LABEL
from credgraph.graph.store import GraphStore

ALL_NODES: LiteralString = """
MATCH (n)
RETURN labels(n) AS labels, properties(n) AS props
"""

ALL_RELATIONS: LiteralString = """
MATCH (a)-[r]->(b)
RETURN type(r) AS type, a.uid AS from_uid, b.uid AS to_uid, properties(r) AS props
"""

# per-run bookkeeping: differs between two loads of the same data by design
LINEAGE_OF_RUN = frozenset({"run_id", "loaded_at", "committed_at", "source_row"})


@dataclass(frozen=True)
class GraphDump:
    nodes: frozenset[tuple[str, tuple[tuple[str, str], ...]]]
    relations: frozenset[tuple[str, str, str, tuple[tuple[str, str], ...]]]


def _frozen(props: dict[str, Any], ignore: Iterable[str]) -> tuple[tuple[str, str], ...]:
    skip = set(ignore)
    return tuple(sorted((key, repr(value)) for key, value in props.items() if key not in skip))


def dump_graph(
    store: GraphStore, *, ignore: Iterable[str] = (), skip_labels: Iterable[str] = ()
) -> GraphDump:
    """Every node (labels, properties) and relation (type, end uids, properties) as sets.

    `ignore` drops properties (e.g. LINEAGE_OF_RUN) and `skip_labels` whole nodes (and their
    relations), so two graphs can be compared for what they say rather than when they said it.
    The store's format node (graph/schema.py) is metadata, not data, and is always left out.
    """
    ignore, skipped = tuple(ignore), {*skip_labels, STORE_FORMAT_LABEL}
    nodes = set()
    hidden = set()
    for row in store.read(ALL_NODES, operation="dump"):
        label = ":".join(sorted(row["labels"]))
        if skipped & set(row["labels"]):
            hidden.add(row["props"].get("uid"))
            continue
        nodes.add((label, _frozen(row["props"], ignore)))
    relations = {
        (row["type"], row["from_uid"], row["to_uid"], _frozen(row["props"], ignore))
        for row in store.read(ALL_RELATIONS, operation="dump")
        if row["from_uid"] not in hidden and row["to_uid"] not in hidden
    }
    return GraphDump(frozenset(nodes), frozenset(relations))
