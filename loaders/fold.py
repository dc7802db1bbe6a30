"""Folding a party into the one it turned out to be: a business without a USCC into the legal
person that took its registration number over, and a FollowTheMoney party into the party of the
entity that lists its entity id among its `referents` (loaders/referents.py).

An individual business registered before the USCC reform is loaded as `REG:<registration
number>`. When it converts, a later extract lists it under its USCC and either carries the old
number (`registration_number` beside the `uscc`) or links it in `legacy_identifiers.csv`. Both
nodes are then the same party, identified by a strong identifier, so they become one: the
`REG:` node's relations and records move to the USCC node, its properties fill what the USCC
node does not say (the USCC's own values win), its uid is kept in `former_uids`, and the `REG:`
node is deleted. References by `REG:<number>` keep working through the alias or the carried
number (loaders/resolve.py, queries/lookup.py).

Whichever arrives first, the graph ends the same: a `REG:` row whose number a USCC already
took over is written and folded in the same transaction, and a USCC claiming the number of a
`REG:` party already loaded folds it in the transaction that writes the claim.

Not moved: the `REG:` node's `POSSIBLY_SAME_AS` links (evidence about a node that no longer
exists; the USCC node has its own, from its own name), relations between the two nodes
themselves, and stored risk scores: the load re-scores the reach of the USCC node instead
(loaders/loader.py, docs/risk-model.md "Incremental re-scoring"). Every path that ran through
the `REG:` node runs through the USCC node now, no longer (a hop shorter when it crossed a
relation between the two), so every party whose score the fold moved is within `max_depth`
hops of the USCC node.
Moving the same-name links would make the graph depend on the order of the loads: a `REG:` row
that arrives after its USCC is folded as it is written, before any same-name party of a later
file can be linked to it, so in that order the links would never exist to move.

An individual business known only by its operator's identity (`OPR:<operator token>`,
docs/formats.md) folds the same way into the one party keyed by a USCC or `REG:` that gives the
same operator (loaders/loader.py `_operator_folds`), whichever arrives first.

The `REG:` node's other names (former names, aliases: `OtherName` nodes) are written anew
for the USCC node, with its own name when that is not the USCC node's (a former name), and
deleted with it (loaders/names.py `folded_names`): nothing doubled, in either order.

An FtM fold is the same move, of a legal person or of a natural person (its role relations,
shareholdings and records), into a party of the same label.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, LiteralString

from credgraph.graph.store import Transaction
from credgraph.graph.vocabulary import NOT_CARRIED_ON_MERGE, Label, RelationType, carried_on_merge
from credgraph.loaders.names import folded_names
from credgraph.queries import writes

Row = dict[str, Any]

_LABELS = frozenset(label.value for label in Label)

# what a folded node's properties say about its own load, not about the party
# (nor the days the old node's values were described on: they are not the new node's; nor an
# FtM party's entity id, which the referent that folds it keeps finding: loaders/referents.py)
_NOT_CARRIED = NOT_CARRIED_ON_MERGE | {"ftm_id", "described_on", "secondary_described_on"}


_NOT_MOVED = frozenset({RelationType.POSSIBLY_SAME_AS, RelationType.NAME_OF})


def fold_parties(
    tx: Transaction, folds: dict[str, str], label: Label = Label.LEGAL_PERSON
) -> list[str]:
    """Fold each party `old` into `new`, both of `label` (`folds` maps old uid to new uid); the
    uids of the parties folded into, one per fold done, in the order of the old uids.

    Cost: one read of both nodes' properties, then per fold two reads of the old node's
    relations and one batched write per relation type found: O(relations of the old nodes).
    A fold whose old node is gone (folded by an earlier chunk or run) does nothing.
    """
    if not folds:
        return []
    uids = sorted({*folds, *folds.values()})
    found = tx.run(writes.PARTY_PROPERTIES[label], {"uids": uids})
    props = {row["uid"]: row["props"] for row in found}
    done = [(old, new) for old, new in sorted(folds.items()) if old in props and new in props]
    folded_names(tx, label, done, props)
    moves: dict[LiteralString, list[Row]] = defaultdict(list)
    for old, new in done:
        tx.run(writes.ADD_TO_PARTY[label], {"uid": new, "props": _filled(props[old], props[new])})
        for statement, row in _moved_relations(tx, label, old, new):
            moves[statement].append(row)
    for statement, rows in moves.items():
        # each relation keeps its own lineage, and its `last_listed_on` (in its props)
        tx.run(statement, {"rows": rows, "lineage": {}, "listed_on": None})
    for old, _ in done:
        tx.run(writes.DELETE_PARTY[label], {"uid": old})
    return [new for _, new in done]


def _filled(old: Row, new: Row) -> Row:
    """What the old node says that the new one does not, and the uids the party went by."""
    fill = carried_on_merge(old, new, _NOT_CARRIED)
    former = {*new.get("former_uids", []), *old.get("former_uids", []), old["uid"]}
    return {**fill, "former_uids": sorted(former)}


def _moved_relations(
    tx: Transaction, label: Label, old: str, new: str
) -> list[tuple[LiteralString, Row]]:
    """Each relation of `old` as the write that makes it a relation of `new`."""
    moved: list[tuple[LiteralString, Row]] = []
    directions = (
        (True, writes.RELATIONS_FROM_PARTY[label]),
        (False, writes.RELATIONS_TO_PARTY[label]),
    )
    for outgoing, query in directions:
        for rel in tx.run(query, {"uid": old}):
            # other names are written anew for `new` (loaders/names.py `folded_names`)
            if rel["other"] == new or rel["type"] in _NOT_MOVED:
                continue
            moved.append(_move(label, RelationType(rel["type"]), outgoing, rel, new))
    return moved


def _move(
    label: Label, relation: RelationType, outgoing: bool, rel: Row, new: str
) -> tuple[LiteralString, Row]:
    other, props = rel["other"], rel["props"]
    if relation is RelationType.SUBJECT_OF:
        record = _label_of(rel["labels"])
        statement = writes.RECORD_WRITES[(label, record)]
        return statement, {"uid": other, "subject_uid": new, "props": {}, "link": props}
    if relation is RelationType.ALIAS_OF:
        row = {"from_uid": other, "to_uid": new, "key": props["key"], "props": {}, "link": props}
        return writes.MERGE_LEGACY_CODES, row
    source = label if outgoing else _label_of(rel["labels"])
    ends = (new, other) if outgoing else (other, new)
    row = {"from_uid": ends[0], "to_uid": ends[1], "key": props["key"], "props": props}
    return writes.relation_write(relation, source), row


def _label_of(labels: list[str]) -> Label:
    known = [Label(label) for label in labels if label in _LABELS]
    if len(known) != 1:
        raise ValueError(f"cannot tell what a node labelled {labels} is")
    return known[0]
