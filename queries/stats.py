"""Counts of what is in the graph: nodes by label, relations by type."""

from __future__ import annotations

from typing import LiteralString

from credgraph.graph.store import GraphStore

NODE_COUNTS: LiteralString = """
MATCH (n)
WHERE NOT n:LoadChunk AND NOT n:StoreFormat
UNWIND labels(n) AS label
RETURN label, count(*) AS count
ORDER BY label
"""

LEDGER_COUNTS: LiteralString = """
MATCH (c:LoadChunk)
WHERE c.file_digest IS NOT NULL
RETURN count(c) AS chunks, count(DISTINCT c.run_id) AS runs, sum(c.rows) AS rows
"""

RELATION_COUNTS: LiteralString = """
MATCH ()-[r]->()
RETURN type(r) AS type, count(*) AS count
ORDER BY type
"""

SAMPLE_OFFICER_WITH_OTHER_FIRMS: LiteralString = """
MATCH (c:LegalPerson)<-[r1:LEGAL_REPRESENTATIVE_OF]-(p:NaturalPerson)
      -[r2:LEGAL_REPRESENTATIVE_OF|EXECUTIVE_OF|PRINCIPAL_OF]->(o:LegalPerson)
WHERE c <> o AND c.uscc IS NOT NULL AND r1.valid_to IS NULL AND r2.valid_to IS NULL
RETURN c.uscc AS uscc, c.name AS name
LIMIT 1
"""


def graph_counts(store: GraphStore) -> dict[str, dict[str, int]]:
    """Node counts by label, relation counts by type, and the run ledger. Full scans: O(V + E)."""
    nodes = {row["label"]: row["count"] for row in store.read(NODE_COUNTS, operation="stats")}
    relations = {
        row["type"]: row["count"] for row in store.read(RELATION_COUNTS, operation="stats")
    }
    ledger = store.read(LEDGER_COUNTS, operation="stats")[0]
    return {
        "nodes": nodes,
        "relations": relations,
        "ledger": {k: v or 0 for k, v in ledger.items()},
    }


def sample_enterprise_with_shared_officer(store: GraphStore) -> dict[str, str] | None:
    """An enterprise whose current legal representative holds a role at another firm."""
    rows = store.read(SAMPLE_OFFICER_WITH_OTHER_FIRMS, operation="stats.sample")
    return rows[0] if rows else None
