"""Bringing an older store up to the data format this code writes (`credgraph migrate`).

The store carries its format in one `StoreFormat` node (graph/schema.py); a store without it
that holds data is version 0. `MIGRATIONS` is the ordered list of changes from one version to
the next: each has a number (the version it leaves the store at), a one-line description and a
function taking the store and the person key. `migrate` applies the pending ones in order and
records each version as it completes; every migration is idempotent, so a run stopped half way
is simply run again. Every verb but `migrate` (and `backup`) refuses a store whose format is
not this code's (`check_format`), so an older store never diverges silently.

1. FollowTheMoney persons without an identity document, keyed `FTM:<entity id>` before commit
   3f0cdde, are re-keyed to `ftm_person_token(person key, entity id)`, the key the FtM loader
   gives them now (the entity id is in their `ftm_id`). Where a node with the token exists too
   (the file was loaded again after the upgrade), the old node is merged into it: every
   relation moves to the token's node (a relation the token's node already has under the same
   key keeps the token node's properties), the old node's properties fill what the token's
   node does not say, and the old node is deleted. Its `POSSIBLY_SAME_AS` links are not moved,
   as loaders/fold.py does not move a folded party's: they are evidence about a node that no
   longer exists, and the token's node has its own. `FTM:<id>` is not kept as a former uid: it
   names the person, which is why persons are keyed by token. A person whose entity id embedded
   a resident ID number was stored as `FTM:H<hash>`: its entity id cannot be had back from the
   hash, so it stays as it is and the report names it.

2. A party an FtM file keyed by a strong identifier (USCC, resident ID, passport) carried its
   entity id in `ftm_id`, which the next file to give it another id replaced (the last file's
   id stayed). Each such id becomes an `FtmId` node of the party, as the loader writes them now
   (queries/writes.py MERGE_FTM_IDS: every id every file gives it), with the party's lineage
   (the load that created the party: the FtM file's, or the registry's when the registry holds
   the party), and leaves the party's properties. A party keyed by its entity id (`FTM:<id>`,
   a person's token of it: `id_type` `none`) keeps its `ftm_id`. The indexes on the parties'
   `ftm_id` are dropped: nothing reads them any more. An id the old format had already lost
   cannot be had back: loading its file again adds it. In steps of 10,000 parties per label.

3. An FtM referent was one `FtmReferent` node per referent, keyed by the referent's uid and
   naming in `party_uid` the party of the last file to list it, so that a referent two files
   gave two parties named whichever came last. Each becomes the claim it records, keyed by the
   referent and the party (graph/identifiers.py `ftm_referent_uid`: `<referent uid>|<party
   uid>`), the referent's uid in `referent_uid`, as the loader writes claims now (every claim
   of every file; queries/writes.py MERGE_FTM_REFERENTS), and the index on `referent_uid` is
   created. A claim the old format had already replaced cannot be had back: loading its file
   again adds it. In steps of 10,000 nodes.

The merge writes its own per-type statements rather than loaders/fold.py's: graph/ imports
nothing from loaders/ or queries/ (DESIGN.md), and fold's moves are written for legal persons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, LiteralString

from credgraph.graph.identifiers import FTM_PREFIX, HASHED_FTM_ID_SHAPE, ftm_person_token
from credgraph.graph.schema import (
    ADD_TO_NATURAL_PERSON,
    DELETE_NATURAL_PERSON,
    FORMAT_VERSION,
    FTM_REFERENT_REFERENT,
    NATURAL_PERSON_PROPERTIES,
    SET_STORE_FORMAT,
    STORE_FORMAT_KEY,
    store_format,
)
from credgraph.graph.store import GraphStore, Transaction
from credgraph.graph.vocabulary import NOT_CARRIED_ON_MERGE, RelationType, carried_on_merge

Row = dict[str, Any]

MIGRATE_HINT = "run `credgraph migrate` to bring it up to date"


class StoreFormatError(RuntimeError):
    """The store's data format is not the one this code reads and writes."""


class MigrationError(RuntimeError):
    """A migration found something it cannot change safely; nothing of that step was written."""


def format_problem(version: int) -> str | None:
    """Why a store of this format cannot be used by this code, or None when it can."""
    if version < FORMAT_VERSION:
        return (
            f"the graph store holds data format {version}, older than this credgraph's "
            f"format {FORMAT_VERSION}: {MIGRATE_HINT} (back it up first: credgraph backup DEST)"
        )
    if version > FORMAT_VERSION:
        return (
            f"the graph store holds data format {version}, newer than this credgraph's "
            f"format {FORMAT_VERSION}: use a credgraph that reads format {version}"
        )
    return None


def check_format(version: int) -> None:
    """Raise StoreFormatError unless `version` (what `apply_schema` returned) is this code's."""
    problem = format_problem(version)
    if problem is not None:
        raise StoreFormatError(problem)


# --- 1: FtM persons keyed FTM:<entity id> -> their token ---------------------------------------

FTM_KEYED_PERSONS: LiteralString = """
MATCH (p:NaturalPerson)
WHERE p.uid STARTS WITH $prefix
RETURN p.uid AS uid, p.ftm_id AS ftm_id
ORDER BY uid
"""

REKEY_NATURAL_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})
SET n.uid = $token
"""

SAME_NAME_LINKS_OF_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})-[r:POSSIBLY_SAME_AS]-(m:NaturalPerson)
RETURN m.uid AS other, r.key AS key, properties(r) AS props
"""

DELETE_PERSON_LINKS_BY_KEY: LiteralString = """
UNWIND $keys AS key
MATCH (n:NaturalPerson {uid: $uid})-[r:POSSIBLY_SAME_AS {key: key}]-(:NaturalPerson)
DELETE r
"""

# as the loader writes a same-name link: from the lower uid to the higher, keyed by both
MERGE_SAME_NAME_LINKS: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:NaturalPerson {uid: row.to_uid})
MERGE (a)-[r:POSSIBLY_SAME_AS {key: row.key}]->(b)
SET r += row.props
"""

# what a merged node still has after the moves, other than same-name links (dropped)
RELATIONS_LEFT_ON_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})-[r]-()
WHERE NOT r:POSSIBLY_SAME_AS
RETURN DISTINCT type(r) AS type
"""

# one move per relation type a natural person starts: the relation, under its key, from the
# token's node to the same end; a relation that is there already keeps its own properties
MOVE_LEGAL_REPRESENTATIVE_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:LEGAL_REPRESENTATIVE_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:LEGAL_REPRESENTATIVE_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_PRINCIPAL_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:PRINCIPAL_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:PRINCIPAL_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_EXECUTIVE_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:EXECUTIVE_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:EXECUTIVE_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_RESPONSIBLE_FOR: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:RESPONSIBLE_FOR]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:RESPONSIBLE_FOR {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_REGISTERED_PROFESSIONAL_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:REGISTERED_PROFESSIONAL_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:REGISTERED_PROFESSIONAL_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_PRACTISES_AT: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:PRACTISES_AT]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:PRACTISES_AT {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_ACTUAL_CONTROLLER_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:ACTUAL_CONTROLLER_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:ACTUAL_CONTROLLER_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_SHAREHOLDER_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:SHAREHOLDER_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:SHAREHOLDER_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_INVESTS_IN: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:INVESTS_IN]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:INVESTS_IN {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_GUARANTEES: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:GUARANTEES]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:GUARANTEES {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_MEMBER_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:MEMBER_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:MEMBER_OF {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
MOVE_PARTICIPATES_IN: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:PARTICIPATES_IN]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:PARTICIPATES_IN {key: r.key}]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""
# a subject's link to its record has no key: one link per subject and record
MOVE_SUBJECT_OF: LiteralString = """
MATCH (old:NaturalPerson {uid: $old})-[r:SUBJECT_OF]->(m)
MATCH (new:NaturalPerson {uid: $new})
MERGE (new)-[s:SUBJECT_OF]->(m)
ON CREATE SET s = properties(r)
DELETE r
"""

MOVE_PERSON_RELATIONS: dict[RelationType, LiteralString] = {
    RelationType.LEGAL_REPRESENTATIVE_OF: MOVE_LEGAL_REPRESENTATIVE_OF,
    RelationType.PRINCIPAL_OF: MOVE_PRINCIPAL_OF,
    RelationType.EXECUTIVE_OF: MOVE_EXECUTIVE_OF,
    RelationType.RESPONSIBLE_FOR: MOVE_RESPONSIBLE_FOR,
    RelationType.REGISTERED_PROFESSIONAL_OF: MOVE_REGISTERED_PROFESSIONAL_OF,
    RelationType.PRACTISES_AT: MOVE_PRACTISES_AT,
    RelationType.ACTUAL_CONTROLLER_OF: MOVE_ACTUAL_CONTROLLER_OF,
    RelationType.SHAREHOLDER_OF: MOVE_SHAREHOLDER_OF,
    RelationType.INVESTS_IN: MOVE_INVESTS_IN,
    RelationType.GUARANTEES: MOVE_GUARANTEES,
    RelationType.MEMBER_OF: MOVE_MEMBER_OF,
    RelationType.PARTICIPATES_IN: MOVE_PARTICIPATES_IN,
    RelationType.SUBJECT_OF: MOVE_SUBJECT_OF,
}

_SAME_NAME = "same-name:"


def _rekey_ftm_persons(store: GraphStore, person_key: bytes) -> list[str]:
    """Migration 1 (module docstring). One transaction per person: O(persons keyed FTM:),
    each O(its relations). What it changed, as lines of a report."""
    rekeyed = merged = 0
    kept: list[str] = []
    for row in store.read(FTM_KEYED_PERSONS, {"prefix": FTM_PREFIX}, operation="migrate"):
        old, entity_id = row["uid"], row["ftm_id"]
        if not entity_id or old != FTM_PREFIX + entity_id or HASHED_FTM_ID_SHAPE.match(entity_id):
            kept.append(old)
            continue
        token = ftm_person_token(person_key, entity_id)
        outcome = store.transaction(
            partial(_rekey_person, old=old, token=token), operation="migrate"
        )
        rekeyed += outcome == "rekeyed"
        merged += outcome == "merged"
    lines = [
        f"{rekeyed} FtM person(s) re-keyed from FTM:<entity id> to their token",
        f"{merged} FtM person(s) merged into the node a later load had made under their token",
    ]
    if kept:
        lines.append(
            f"{len(kept)} person(s) keyed FTM: kept as they are, their entity id not stored as "
            f"it was given (a re-load of their file adds a second node): {', '.join(kept)}"
        )
    return lines


def _rekey_person(tx: Transaction, old: str, token: str) -> str:
    found = tx.run(NATURAL_PERSON_PROPERTIES, {"uids": [old, token]})
    props = {row["uid"]: row["props"] for row in found}
    if old not in props:  # re-keyed by a run stopped after this person's commit
        return "gone"
    if token not in props:
        tx.run(REKEY_NATURAL_PERSON, {"uid": old, "token": token})
        _rekey_same_name_links(tx, old, token)
        return "rekeyed"
    for statement in MOVE_PERSON_RELATIONS.values():
        tx.run(statement, {"old": old, "new": token})
    left = [row["type"] for row in tx.run(RELATIONS_LEFT_ON_PERSON, {"uid": old})]
    if left:  # the whole transaction is rolled back: nothing of this person changed
        raise MigrationError(
            f"the FtM person {old} and its token's node {token} are the same person, and "
            f"{old} has relations a merge does not move: {', '.join(sorted(left))}"
        )
    fill = carried_on_merge(props[old], props[token], NOT_CARRIED_ON_MERGE)
    if fill:
        tx.run(ADD_TO_NATURAL_PERSON, {"uid": token, "props": fill})
    tx.run(DELETE_NATURAL_PERSON, {"uid": old})
    return "merged"


def _rekey_same_name_links(tx: Transaction, old: str, token: str) -> None:
    """A same-name link is keyed by both uids and runs from the lower to the higher
    (loaders/loader.py): re-key the re-keyed person's links so that a later load finds them
    instead of adding a second link, and no key keeps the entity id."""
    rows, stale = [], []
    for link in tx.run(SAME_NAME_LINKS_OF_PERSON, {"uid": token}):
        other = link["other"]
        if link["key"] not in (f"{_SAME_NAME}{old}:{other}", f"{_SAME_NAME}{other}:{old}"):
            continue
        a, b = sorted((token, other))
        key = f"{_SAME_NAME}{a}:{b}"
        stale.append(link["key"])
        props = {**link["props"], "key": key}
        rows.append({"from_uid": a, "to_uid": b, "key": key, "props": props})
    if stale:
        tx.run(DELETE_PERSON_LINKS_BY_KEY, {"uid": token, "keys": stale})
        tx.run(MERGE_SAME_NAME_LINKS, {"rows": rows})


# --- 2: the entity id of a strong-keyed FtM party, `ftm_id`, becomes an FtmId node ----------
# (the node's key as graph/identifiers.py `ftm_id_uid` makes it: `<label>|<party uid>|<id>`)

MOVE_LEGAL_PERSON_FTM_IDS: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.ftm_id IS NOT NULL AND n.uid <> $prefix + n.ftm_id
WITH n LIMIT $batch
MERGE (f:FtmId {uid: 'LegalPerson|' + n.uid + '|' + n.ftm_id})
ON CREATE SET f.ftm_id = n.ftm_id, f.party_uid = n.uid, f.source = n.source,
  f.source_row = n.source_row, f.run_id = n.run_id, f.loaded_at = n.loaded_at
REMOVE n.ftm_id
RETURN count(n) AS moved
"""

MOVE_NATURAL_PERSON_FTM_IDS: LiteralString = """
MATCH (n:NaturalPerson)
WHERE n.ftm_id IS NOT NULL AND coalesce(n.id_type, '') <> 'none'
WITH n LIMIT $batch
MERGE (f:FtmId {uid: 'NaturalPerson|' + n.uid + '|' + n.ftm_id})
ON CREATE SET f.ftm_id = n.ftm_id, f.party_uid = n.uid, f.source = n.source,
  f.source_row = n.source_row, f.run_id = n.run_id, f.loaded_at = n.loaded_at
REMOVE n.ftm_id
RETURN count(n) AS moved
"""

DROP_LEGAL_PERSON_FTM_ID_INDEX: LiteralString = "DROP INDEX legal_person_ftm_id IF EXISTS"
DROP_NATURAL_PERSON_FTM_ID_INDEX: LiteralString = "DROP INDEX natural_person_ftm_id IF EXISTS"

_MOVE_BATCH = 10_000


def _ftm_ids_as_nodes(store: GraphStore, person_key: bytes) -> list[str]:
    """Migration 2 (module docstring): one transaction per 10,000 parties of a label, until
    none is left; then the two indexes go. What it changed, as lines of a report."""
    moved = []
    for statement in (MOVE_LEGAL_PERSON_FTM_IDS, MOVE_NATURAL_PERSON_FTM_IDS):
        total = 0
        while True:
            params = {"prefix": FTM_PREFIX, "batch": _MOVE_BATCH}
            [row] = store.write(statement, params, operation="migrate")
            total += int(row["moved"])
            if int(row["moved"]) < _MOVE_BATCH:
                break
        moved.append(total)
    store.run_schema([DROP_LEGAL_PERSON_FTM_ID_INDEX, DROP_NATURAL_PERSON_FTM_ID_INDEX])
    return [
        f"{moved[0]} legal person(s) and {moved[1]} person(s) keyed by a strong identifier: "
        "their FtM entity id moved from `ftm_id` to an FtmId node"
    ]


# --- 3: an FtmReferent node per referent becomes one per claim (referent, party) --------------
# (the node's key as graph/identifiers.py `ftm_referent_uid` makes it: `<referent>|<party>`)

REKEY_FTM_REFERENTS: LiteralString = """
MATCH (n:FtmReferent)
WHERE n.referent_uid IS NULL AND n.party_uid IS NOT NULL
WITH n LIMIT $batch
WITH n, n.uid AS referent
SET n.referent_uid = referent, n.uid = referent + '|' + n.party_uid
RETURN count(n) AS moved
"""


def _referents_as_claims(store: GraphStore, person_key: bytes) -> list[str]:
    """Migration 3 (module docstring): the index first, then one transaction per 10,000
    referents until none is left. What it changed, as lines of a report."""
    store.run_schema([FTM_REFERENT_REFERENT])
    total = 0
    while True:
        [row] = store.write(REKEY_FTM_REFERENTS, {"batch": _MOVE_BATCH}, operation="migrate")
        total += int(row["moved"])
        if int(row["moved"]) < _MOVE_BATCH:
            break
    return [f"{total} FtM referent(s) keyed by the referent and the party that claims it"]


@dataclass(frozen=True)
class Migration:
    """One step of the data format: `apply` takes the store from `number - 1` to `number`."""

    number: int
    description: str
    apply: Callable[[GraphStore, bytes], list[str]]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "FtM persons without an identity document: uid FTM:<entity id> becomes their token",
        _rekey_ftm_persons,
    ),
    Migration(
        2,
        "FtM parties keyed by a strong identifier: their entity id, `ftm_id`, becomes an FtmId",
        _ftm_ids_as_nodes,
    ),
    Migration(
        3,
        "FtM referents: one FtmReferent per claim (referent, party), so none is lost",
        _referents_as_claims,
    ),
)


@dataclass(frozen=True)
class Applied:
    """A migration `migrate` applied, and what it changed."""

    migration: Migration
    changes: list[str]


def migrate(store: GraphStore, person_key: bytes) -> tuple[int, list[Applied]]:
    """Apply the pending migrations in order, recording each version as it completes; the
    version found and the migrations applied (none when the store is up to date). Raises
    StoreFormatError for a store newer than this code, MigrationError as a step refuses."""
    found = store_format(store)
    if found > FORMAT_VERSION:
        check_format(found)
    applied = []
    for migration in MIGRATIONS:
        if migration.number <= found:
            continue
        changes = migration.apply(store, person_key)
        params = {"uid": STORE_FORMAT_KEY, "version": migration.number}
        store.write(SET_STORE_FORMAT, params, operation="migrate")
        applied.append(Applied(migration, changes))
    return found, applied
