"""Linked parties: a breadth-first walk from one party over party-to-party relations.

The walk runs one read per level and label (so at most `depth` x 2 round trips), never follows
record links or `POSSIBLY_SAME_AS`, and honours an as-of date: a relation counts when it had
started by that date and had not ended. Each level may read at most `cap` relations; when the
cap cuts a level short the answer says so (`truncated`) and says how deep it got, so a hub with
thousands of links cannot stall the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, LiteralString

from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.lookup import PartyKey

NEIGHBOURS_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:LegalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
RETURN uid AS from_uid, type(r) AS type, startNode(r) = a AS outgoing,
       properties(r) AS relation, b.uid AS to_uid, labels(b) AS labels
LIMIT $cap
"""

NEIGHBOURS_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:NaturalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
RETURN uid AS from_uid, type(r) AS type, startNode(r) = a AS outgoing,
       properties(r) AS relation, b.uid AS to_uid, labels(b) AS labels
LIMIT $cap
"""

_NEIGHBOURS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: NEIGHBOURS_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: NEIGHBOURS_OF_NATURAL_PERSONS,
}


@dataclass(frozen=True)
class Hop:
    """The relation by which a linked party was first reached."""

    type: RelationType
    from_key: PartyKey  # the relation's start node
    to_key: PartyKey  # the relation's end node
    properties: dict[str, Any]


@dataclass(frozen=True)
class Linked:
    key: PartyKey
    depth: int
    parent: PartyKey
    via: Hop


@dataclass
class LinkedResult:
    root: PartyKey
    items: list[Linked] = field(default_factory=list)
    explored_depth: int = 0
    truncated: bool = False


def _label_of(labels: Sequence[str]) -> Label:
    return Label.LEGAL_PERSON if Label.LEGAL_PERSON.value in labels else Label.NATURAL_PERSON


def linked_parties(
    store: GraphStore,
    root: PartyKey,
    *,
    depth: int,
    relation_types: Sequence[RelationType] = PARTY_RELATIONS,
    as_of: date | None = None,
    include_former: bool = False,
    cap: int = 5000,
) -> LinkedResult:
    """Parties within `depth` hops of `root`, each with the hop that first reached it.

    Breadth-first over the store: O(depth) reads, O(V + E) work in the parties and relations
    of the explored neighbourhood, bounded by `cap` relations per level.
    """
    types = [t.value for t in relation_types if t in PARTY_RELATIONS]
    result = LinkedResult(root)
    seen = {root}
    frontier = [root]
    for level in range(1, depth + 1):
        if not frontier:
            break
        rows, cut = _expand(store, frontier, types, as_of or date.today(), include_former, cap)
        result.explored_depth = level
        result.truncated = result.truncated or cut
        frontier = []
        for row in rows:
            parent = PartyKey(Label(row["from_label"]), row["from_uid"])
            other = PartyKey(_label_of(row["labels"]), row["to_uid"])
            if other in seen:
                continue
            seen.add(other)
            frontier.append(other)
            start, end = (parent, other) if row["outgoing"] else (other, parent)
            hop = Hop(RelationType(row["type"]), start, end, row["relation"])
            result.items.append(Linked(other, level, parent, hop))
        if cut:
            break
    return result


def _expand(
    store: GraphStore,
    frontier: list[PartyKey],
    types: list[str],
    as_of: date,
    include_former: bool,
    cap: int,
) -> tuple[list[dict[str, Any]], bool]:
    rows: list[dict[str, Any]] = []
    for label in (Label.LEGAL_PERSON, Label.NATURAL_PERSON):
        uids = [key.uid for key in frontier if key.label is label]
        if not uids:
            continue
        budget = cap - len(rows)
        params = {
            "uids": uids,
            "types": types,
            "as_of": as_of,
            "include_former": include_former,
            "cap": budget + 1,
        }
        found = store.read(_NEIGHBOURS[label], params, operation="linked_parties")
        for row in found[:budget]:
            row["from_label"] = label.value
        rows.extend(found[:budget])
        if len(found) > budget:
            return rows, True
    return rows, False
