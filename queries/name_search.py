"""Finding parties by name: the matching key of the name (graph/names.py), exact or as a prefix.

One read per label searched. The key folds full-width, traditional characters, case and
punctuation, so `廈門鷺島` finds `厦门鹭岛科技有限公司`. The caller decides which labels may be
searched (the API never searches natural persons for a role that may not see them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from credgraph.graph.names import name_key
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import PartyKey

LEGAL_PERSONS_BY_NAME_KEY: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.name_key STARTS WITH $key
RETURN n.uid AS uid, n.name_key = $key AS exact
ORDER BY exact DESC, n.name_key, n.uid
LIMIT $limit
"""

NATURAL_PERSONS_BY_NAME_KEY: LiteralString = """
MATCH (n:NaturalPerson)
WHERE n.name_key STARTS WITH $key
RETURN n.uid AS uid, n.name_key = $key AS exact
ORDER BY exact DESC, n.name_key, n.uid
LIMIT $limit
"""

_BY_NAME: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_BY_NAME_KEY,
    Label.NATURAL_PERSON: NATURAL_PERSONS_BY_NAME_KEY,
}


def search_key(name: str) -> str:
    """The key a name is searched by (empty when the name has no letters or digits)."""
    return name_key(name)


def search_parties(
    store: GraphStore, name: str, labels: Sequence[Label], limit: int
) -> list[PartyKey]:
    """Parties whose name key starts with the key of `name`: exact matches first, then by key.

    At most `limit` per label; O(limit) rows read per label with a usable index.
    """
    key = search_key(name)
    if not key:
        return []
    found: list[tuple[bool, PartyKey]] = []
    for label in labels:
        rows = store.read(_BY_NAME[label], {"key": key, "limit": limit}, operation="search")
        found.extend((bool(row["exact"]), PartyKey(label, row["uid"])) for row in rows)
    found.sort(key=lambda item: (not item[0], item[1].label.value, item[1].uid))
    return [party for _, party in found]
