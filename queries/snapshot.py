"""A compact, read-only snapshot of the party graph on one date, for whole-graph scoring.

`read_snapshot(store, as_of)` reads every party, every party-to-party relation current on
`as_of`, and every negative record that counts against its subject on `as_of`, into numpy
arrays: no networkx, no per-node Python objects. `read_neighbourhood(store, keys, as_of,
depth)` reads the bounded neighbourhood of a few parties into the same structure (one read per
level for both labels, then one for the records), so that on-demand scoring runs exactly the
code the whole-graph batch runs. `read_risk_neighbourhood` is the same read with what a risk
report needs besides (queries/risk.py): which centres the graph holds, their relations with
every property, and every record of the centres and of the firms their role rules reach.

Layout (docs/risk-model.md, "Whole-graph scoring"):

- nodes `0..n-1` in canonical order: legal persons by uid, then natural persons by uid
  (`uids`, `labels`). The order is the same in a whole-graph snapshot and in a neighbourhood,
  so that every floating-point operation of the scoring runs in the same order in both;
- relations, one entry per stored relation (`rel_src -> rel_dst`, `rel_type` an index into
  `RELATION_TYPES`, `rel_stake` NaN when absent), and `adjacency()`: the undirected CSR
  (`indptr`, `indices`, `edge_relation`) with both directions of every relation;
- seeds: the counting negative records (`seed_subject`, `seed_kind`, `seed_start`, `seed_end`
  as proleptic ordinals, `seed_uid`), sorted by subject then record uid.

The whole-graph read streams one read per label and kind (docs/benchmarks.md: on ArcadeDB
keyset pages `ORDER BY uid LIMIT` sort on every page, and property reads dominate, so relation
end points come back as elementIds). For the same reason a neighbourhood's deeper levels read
only what propagation needs (end points, type, stake, key); `relation_details` reads the other
properties of the few relations an explanation shows. With `hubs` (queries/caches.py
`Hubs`), a neighbourhood's deeper levels take the relations of the hubs it keeps from memory
and ask the store only for the rest of the frontier.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, LiteralString, TypeVar

import neo4j
import numpy as np
import numpy.typing as npt
from credgraph.graph.cycles import rare_collections
from credgraph.graph.lifecycle import StatusEvent
from credgraph.graph.store import GraphStore, StoreError, native_date, native_record
from credgraph.graph.vocabulary import (
    PARTY_RELATIONS,
    Label,
    RecordKind,
    RecordStatus,
    RelationType,
)
from credgraph.queries.caches import Hubs
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.records import (
    NEGATIVE_KINDS,
    RecordState,
    native_record_dated,
    record_state,
    status_events,
)

T = TypeVar("T")
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

PARTY_LABELS: tuple[Label, ...] = (Label.LEGAL_PERSON, Label.NATURAL_PERSON)
LABEL_CODE: dict[Label, int] = {label: code for code, label in enumerate(PARTY_LABELS)}
RELATION_TYPES: tuple[RelationType, ...] = PARTY_RELATIONS
RELATION_CODE: dict[RelationType, int] = {t: code for code, t in enumerate(RELATION_TYPES)}
RECORD_KINDS: tuple[RecordKind, ...] = tuple(RecordKind)
KIND_CODE: dict[RecordKind, int] = {kind: code for code, kind in enumerate(RECORD_KINDS)}
OPEN_END = 0  # seed_end of a record that never ends by itself
UNDATED = 0  # seed_start of a record without a start: its age is 0 on every day

DEFAULT_CHUNK = 100_000  # rows folded into arrays at a time
# the LIMIT of a level read without a cap: ArcadeDB takes a LIMIT as a 32-bit integer (with
# 2**62 its level reads came back short, and on-demand scores fell below the batch's)
UNLIMITED = 2**31 - 1
SNAPSHOT_TIMEOUT_S = 3600.0  # a whole-graph read takes minutes at 10^6 enterprises

# --- whole-graph reads: one streamed read per label ------------------------------------------
# Each party comes with its outgoing current relations, collected in its row: the driver's cost
# is per row (two socket reads and a record each), so a row per party carrying its relations
# reads about three times fewer rows than a row per party and one per relation
# (docs/benchmarks.md). Nodes are matched to relations by elementId within the snapshot:
# returning a relation's other end as an elementId streams about twice as fast on ArcadeDB as
# reading its uid property.

PARTIES_OF_LEGAL_PERSONS: LiteralString = """
MATCH (a:LegalPerson)
RETURN elementId(a) AS id, a.uid AS uid, a.risk_score IS NOT NULL AS scored,
       [(a)-[r]->(b)
        WHERE type(r) IN $types
          AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
          AND (r.valid_to IS NULL OR r.valid_to > $as_of)
          AND (b:LegalPerson OR b:NaturalPerson)
        | [elementId(b), type(r), r.stake]] AS out
"""

PARTIES_OF_NATURAL_PERSONS: LiteralString = """
MATCH (a:NaturalPerson)
RETURN elementId(a) AS id, a.uid AS uid, a.risk_score IS NOT NULL AS scored,
       [(a)-[r]->(b)
        WHERE type(r) IN $types
          AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
          AND (r.valid_to IS NULL OR r.valid_to > $as_of)
          AND (b:LegalPerson OR b:NaturalPerson)
        | [elementId(b), type(r), r.stake]] AS out
"""

# negative records are SanctionEvents (graph/vocabulary.py RECORD_LABEL), with the properties
# that decide whether and how much they count, as NEIGHBOURHOOD_RECORDS reads a seed's, dates as
# ISO text (graph/store.py `native_date`): every property (`r {.*}`), with the driver's Date
# objects, made the 1M registry's read slower and held a third of its memory (docs/benchmarks.md)
SANCTIONS: LiteralString = """
MATCH (s)-[:SUBJECT_OF]->(r:SanctionEvent)
WHERE s:LegalPerson OR s:NaturalPerson
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
RETURN elementId(s) AS subject,
       r {.uid, .kind, .listed_status, .record_id, .authority_name,
          listed_status_since: toString(r.listed_status_since),
          valid_from: toString(r.valid_from), valid_to: toString(r.valid_to),
          decision_date: toString(r.decision_date), published_on: toString(r.published_on)}
       AS record,
       collect(c {.uid, .change, effective_on: toString(c.effective_on)}) AS changes
"""

# --- neighbourhood reads: one per level for both labels, then one for the records -------------
# Level 0 reads the centres (an entry with a null relation for a centre without current
# relations, none for a party the graph does not hold) and their relations with every property
# and the other end's name, a row per label: the status layer's role rules and most
# explanations' last hop use them. Deeper levels read what propagation needs only. A relation
# is known by its elementId, which also finds it again (anchored at its start node) for
# `relation_details`. Each entry ends with the centre's own `status` (a legal person's
# registration status: the risk report shows it and screens on it).

CENTRE_RELATIONS: LiteralString = """
UNWIND $legal AS uid
MATCH (a:LegalPerson {uid: uid})
OPTIONAL MATCH (a)-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
RETURN true AS legal,
       collect([uid, a.name, elementId(r), startNode(r) = a, b.uid, b:LegalPerson, b.name,
                type(r), properties(r), a.status]) AS relations
UNION ALL
UNWIND $natural AS uid
MATCH (a:NaturalPerson {uid: uid})
OPTIONAL MATCH (a)-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
RETURN false AS legal,
       collect([uid, a.name, elementId(r), startNode(r) = a, b.uid, b:LegalPerson, b.name,
                type(r), properties(r), a.status]) AS relations
"""

# a row per label (none on ArcadeDB for a label without a party): a list of [uid, relations]
# per frontier party, its relations as lists [elementId, stored from the party, other end's uid,
# other end is a legal person, type, stake, key]. The driver's cost is per row: a row per
# relation made it most of a risk report's CPU time, and one row per label (here, for the
# centres and for the records), with the seeds' dates as text, took a quarter off a new
# applicant's `screen` in the API worker (docs/benchmarks.md). `LIMIT $limit` comes before the
# collect, so a hub's relations are cut in the store (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`), not
# read in full and cut in Python; each branch has its own, so a level returns up to twice it
NEIGHBOUR_RELATIONS: LiteralString = """
UNWIND $legal AS uid
MATCH (a:LegalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
WITH uid, a, r, b
LIMIT $limit
WITH uid, collect([elementId(r), startNode(r) = a, b.uid, b:LegalPerson, type(r), r.stake,
                   r.key]) AS relations
RETURN true AS legal, collect([uid, relations]) AS parties
UNION ALL
UNWIND $natural AS uid
MATCH (a:NaturalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
WITH uid, a, r, b
LIMIT $limit
WITH uid, collect([elementId(r), startNode(r) = a, b.uid, b:LegalPerson, type(r), r.stake,
                   r.key]) AS relations
RETURN false AS legal, collect([uid, relations]) AS parties
"""

# the clearing date's walk (`read_future_neighbourhood`): every relation current on the as-of
# date or starting after it (not ended by then), with its validity dates as ISO text
FUTURE_RELATIONS: LiteralString = """
UNWIND $legal AS uid
MATCH (a:LegalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
WITH uid, a, r, b
LIMIT $limit
WITH uid, collect([elementId(r), startNode(r) = a, b.uid, b:LegalPerson, type(r), r.stake,
                   r.key, toString(r.valid_from), toString(r.valid_to)]) AS relations
RETURN true AS legal, collect([uid, relations]) AS parties
UNION ALL
UNWIND $natural AS uid
MATCH (a:NaturalPerson {uid: uid})-[r]-(b)
WHERE type(r) IN $types
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (b:LegalPerson OR b:NaturalPerson)
WITH uid, a, r, b
LIMIT $limit
WITH uid, collect([elementId(r), startNode(r) = a, b.uid, b:LegalPerson, type(r), r.stake,
                   r.key, toString(r.valid_from), toString(r.valid_to)]) AS relations
RETURN false AS legal, collect([uid, relations]) AS parties
"""

RELATION_DETAILS: LiteralString = """
UNWIND $legal AS row
MATCH (:LegalPerson {uid: row.start})-[r]->()
WHERE elementId(r) = row.id
RETURN collect([row.id, properties(r)]) AS relations
UNION ALL
UNWIND $natural AS row
MATCH (:NaturalPerson {uid: row.start})-[r]->()
WHERE elementId(r) = row.id
RETURN collect([row.id, properties(r)]) AS relations
"""

# every record (all properties) of the parties a status layer looks at (`*_full`), and the
# sanction records of the others with the properties that decide whether and how much they
# count, and those an explanation names (records.py `record_state`, contagion.py `RecordRef`),
# their dates and the status changes' as ISO text (as SANCTIONS): a row per label and kind,
# each record as [subject's uid, record, authority, status changes, number of subjects]
# (a record of several subjects counts once per party: contagion.py); counted from the record,
# with no label test on the subjects (only parties are subjects, queries/writes.py): the
# pattern from the subject, or a test of its labels, cost a new applicant's screen a third
# more of the store's CPU (docs/benchmarks.md)
NEIGHBOURHOOD_RECORDS: LiteralString = """
UNWIND $legal_full AS uid
MATCH (:LegalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(au:Authority)
WITH uid, r, au, collect(c {.uid, .change, effective_on: toString(c.effective_on)}) AS changes
RETURN true AS legal,
       collect([uid, r {.*}, au.name, changes,
                size([(r)<-[:SUBJECT_OF]-(subject) | subject])])
       AS records
UNION ALL
UNWIND $natural_full AS uid
MATCH (:NaturalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(au:Authority)
WITH uid, r, au, collect(c {.uid, .change, effective_on: toString(c.effective_on)}) AS changes
RETURN false AS legal,
       collect([uid, r {.*}, au.name, changes,
                size([(r)<-[:SUBJECT_OF]-(subject) | subject])])
       AS records
UNION ALL
UNWIND $legal_seeds AS uid
MATCH (:LegalPerson {uid: uid})-[:SUBJECT_OF]->(r:SanctionEvent)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(au:Authority)
WITH uid, r, au, collect(c {.uid, .change, effective_on: toString(c.effective_on)}) AS changes
RETURN true AS legal,
       collect([uid, r {.uid, .kind, .listed_status, .record_id, .authority_name, .disclosure,
                        listed_status_since: toString(r.listed_status_since),
                        valid_from: toString(r.valid_from), valid_to: toString(r.valid_to),
                        decision_date: toString(r.decision_date),
                        published_on: toString(r.published_on),
                        disclosure_until: toString(r.disclosure_until)}, au.name, changes,
               size([(r)<-[:SUBJECT_OF]-(subject) | subject])])
       AS records
UNION ALL
UNWIND $natural_seeds AS uid
MATCH (:NaturalPerson {uid: uid})-[:SUBJECT_OF]->(r:SanctionEvent)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(au:Authority)
WITH uid, r, au, collect(c {.uid, .change, effective_on: toString(c.effective_on)}) AS changes
RETURN false AS legal,
       collect([uid, r {.uid, .kind, .listed_status, .record_id, .authority_name, .disclosure,
                        listed_status_since: toString(r.listed_status_since),
                        valid_from: toString(r.valid_from), valid_to: toString(r.valid_to),
                        decision_date: toString(r.decision_date),
                        published_on: toString(r.published_on),
                        disclosure_until: toString(r.disclosure_until)}, au.name, changes,
               size([(r)<-[:SUBJECT_OF]-(subject) | subject])])
       AS records
"""

# The parties that are the subject of a sanction record, whatever its state: the records
# NEIGHBOURHOOD_RECORDS reads for the seeds are theirs, so it need name no other party
# (SanctionSubjects). Matched from the records, of which there are far fewer than parties; all
# in one row (none on ArcadeDB when there is no subject): the driver's cost is per row.
SANCTION_SUBJECTS_AMONG_LEGAL_PERSONS: LiteralString = """
MATCH (:SanctionEvent)<-[:SUBJECT_OF]-(p:LegalPerson)
RETURN collect(DISTINCT p.uid) AS uids
"""

SANCTION_SUBJECTS_AMONG_NATURAL_PERSONS: LiteralString = """
MATCH (:SanctionEvent)<-[:SUBJECT_OF]-(p:NaturalPerson)
RETURN collect(DISTINCT p.uid) AS uids
"""

_PARTIES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: PARTIES_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: PARTIES_OF_NATURAL_PERSONS,
}


@dataclass(frozen=True)
class ReadStats:
    """What reading a snapshot cost: rows read per kind, store reads, seconds."""

    party_rows: int = 0
    relation_rows: int = 0
    record_rows: int = 0
    reads: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.party_rows + self.relation_rows + self.record_rows

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Seeds:
    """Counting negative records, sorted by (subject node, record uid)."""

    subject: Int32Array
    kind: npt.NDArray[np.int8]
    start: IntArray  # proleptic ordinal of the day it started counting, or UNDATED
    end: IntArray  # first day it no longer counts, or OPEN_END
    uid: npt.NDArray[np.str_]
    states: tuple[RecordState, ...] | None = None  # kept by neighbourhood reads, to explain
    authorities: tuple[str | None, ...] | None = None
    # the seed's record names another party as its subject too (None: decide from the seeds)
    shared: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return len(self.subject)


def _node_index(
    uids: npt.NDArray[np.str_], labels: npt.NDArray[np.int8], key: PartyKey
) -> int | None:
    """The index of `key` among nodes sorted by label code, then uid; None when absent.
    O(log n)."""
    code = LABEL_CODE[key.label]
    lo = int(np.searchsorted(labels, code, side="left"))
    hi = int(np.searchsorted(labels, code, side="right"))
    at = lo + int(np.searchsorted(uids[lo:hi], key.uid))
    return at if at < hi and uids[at] == key.uid else None


@dataclass(frozen=True)
class Snapshot:
    """The party graph on `as_of` (see the module docstring for the layout)."""

    as_of: date
    uids: npt.NDArray[np.str_]
    labels: npt.NDArray[np.int8]
    rel_src: Int32Array
    rel_dst: Int32Array
    rel_type: npt.NDArray[np.int8]
    rel_stake: FloatArray
    seeds: Seeds
    # neighbourhood reads: every property of the relations read with them (None: not read;
    # `relation_details` reads them), and each relation's elementId
    relation_props: tuple[Mapping[str, Any] | None, ...] | None = None
    relation_ids: tuple[str, ...] | None = None
    scored: npt.NDArray[np.bool_] | None = None  # the party already carries a written score
    distance: Int32Array | None = None  # hops from the centre, for neighbourhood reads
    # neighbourhood reads: the negative records held that start after `as_of` and would count
    # then, for the clearing date (contagion.py `clearing_date`); never seeds on `as_of`
    pending: Seeds | None = None
    stats: ReadStats = field(default_factory=ReadStats)
    _csr: list[tuple[IntArray, Int32Array, Int32Array]] = field(
        default_factory=list, repr=False, compare=False
    )

    @property
    def node_count(self) -> int:
        return len(self.uids)

    @property
    def relation_count(self) -> int:
        return len(self.rel_src)

    def key(self, node: int) -> PartyKey:
        return PartyKey(PARTY_LABELS[int(self.labels[node])], str(self.uids[node]))

    def index_of(self, key: PartyKey) -> int | None:
        """The node index of a party, or None when the snapshot does not hold it. O(log n)."""
        return _node_index(self.uids, self.labels, key)

    def adjacency(self) -> tuple[IntArray, Int32Array, Int32Array]:
        """The undirected CSR: `indptr`, neighbour `indices`, and the relation of each entry.

        Both directions of every relation, neighbours of a node in (relation) order. Built once
        per snapshot, O(m log m) for m relations.
        """
        if not self._csr:
            self._csr.append(_undirected_csr(self.node_count, self.rel_src, self.rel_dst))
        return self._csr[0]


def _undirected_csr(
    n: int, src: Int32Array, dst: Int32Array
) -> tuple[IntArray, Int32Array, Int32Array]:
    m = len(src)
    heads = np.concatenate([src, dst]).astype(np.int64)
    tails = np.concatenate([dst, src]).astype(np.int32)
    relation = np.concatenate([np.arange(m, dtype=np.int32), np.arange(m, dtype=np.int32)])
    order = np.lexsort((relation, heads))  # stable, canonical: by node, then relation
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(heads, minlength=n), out=indptr[1:])
    return indptr, tails[order], relation[order]


def relation_weights(snapshot: Snapshot, profile: PolicyProfile) -> FloatArray:
    """Each relation's weight under `profile` (before decay): docs/risk-model.md.

    relation_weight[type]; for SHAREHOLDER_OF with `stake_weighted`, times the stake clipped to
    [0, 1] (the profile's `missing_stake` when the relation has none). O(m).
    """
    by_type = np.array(
        [profile.relation_weight.get(t, 0.0) for t in RELATION_TYPES], dtype=np.float64
    )
    weights = by_type[snapshot.rel_type.astype(np.int64)]
    if profile.stake_weighted:
        shares = snapshot.rel_type == RELATION_CODE[RelationType.SHAREHOLDER_OF]
        stake = np.where(np.isnan(snapshot.rel_stake), profile.missing_stake, snapshot.rel_stake)
        stake = np.clip(stake, 0.0, 1.0)
        weights = np.where(shares, weights * stake, weights)
    return np.asarray(weights, dtype=np.float64)


# --- reading the whole graph ---------------------------------------------------------------


def read_snapshot(
    store: GraphStore, as_of: date, *, profile: PolicyProfile, chunk: int = DEFAULT_CHUNK
) -> Snapshot:
    """Every party, current party relation and counting negative record on `as_of`.

    Three streamed reads (the parties of each label with their outgoing current relations, then
    the sanction records with their status changes), each folded into numpy arrays `chunk` rows
    at a time, so that no list of row dictionaries is ever held. Relations and records name
    parties by elementId, matched by binary search once every party is read; one whose party
    was not read (created by a load between two reads) is left out. O(n + m + r) rows read,
    O((n + m + r) log n) to match them; memory O(n + m) numbers plus the uid and elementId
    strings. `profile` decides which records count (objections, default durations). Python's
    cycle collector runs rarely meanwhile (graph/cycles.py).
    """
    with rare_collections():
        return _read_whole_graph(store, as_of, profile, chunk)


def _read_whole_graph(
    store: GraphStore, as_of: date, profile: PolicyProfile, chunk: int
) -> Snapshot:
    started = time.perf_counter()
    params = {"types": [t.value for t in RELATION_TYPES], "as_of": as_of}
    chunks: list[_PartyChunk] = []
    label_parts: list[npt.NDArray[np.int8]] = []
    for label in PARTY_LABELS:
        for part in _read_folded(store, _PARTIES[label], params, chunk, _fold_parties):
            chunks.append(part)
            label_parts.append(np.full(len(part.uids), LABEL_CODE[label], dtype=np.int8))
    uids_all, labels_all, order = _canonical_nodes([c.uids for c in chunks], label_parts)
    scored = _joined([c.scored for c in chunks], np.bool_)[order]
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    ids = _ElementIds.of(_joined([c.ids for c in chunks], np.bytes_), position)
    src = position[np.repeat(np.arange(len(order)), _joined([c.out for c in chunks], np.int64))]
    dst = ids.positions(_joined([c.dst for c in chunks], np.bytes_))
    kept = dst >= 0
    record_rows: list[tuple[int, Mapping[str, Any], Any]] = []
    for rows in _read_folded(store, SANCTIONS, {}, chunk, list):
        subjects = ids.positions(np.array([row[0] for row in rows], dtype=np.bytes_))
        record_rows.extend(
            (int(node), row[1], row[2])
            for node, row in zip(subjects.tolist(), rows, strict=True)
            if node >= 0
        )
    subjects_of = Counter(str(record.get("uid")) for _, record, _ in record_rows)
    seeds = _seeds_of_nodes(
        [(node, record_state_of(record, changes, as_of, profile), None)
         for node, record, changes in record_rows],
        as_of, profile, keep_states=False,
        shared={uid for uid, count in subjects_of.items() if count > 1},
    )  # fmt: skip
    stats = ReadStats(
        party_rows=len(uids_all),
        relation_rows=int(kept.sum()),
        record_rows=len(record_rows),
        reads=len(PARTY_LABELS) + 1,
        seconds=time.perf_counter() - started,
    )
    return Snapshot(
        as_of=as_of,
        uids=uids_all,
        labels=labels_all,
        rel_src=src[kept].astype(np.int32),
        rel_dst=dst[kept].astype(np.int32),
        rel_type=_joined([c.kind for c in chunks], np.int8)[kept],
        rel_stake=_joined([c.stake for c in chunks], np.float64)[kept],
        seeds=seeds,
        scored=scored,
        stats=stats,
    )


@dataclass(frozen=True)
class _PartyChunk:
    """Rows of a whole-graph party read folded into arrays: each party's elementId (ASCII in
    every store), uid and whether it holds a score, and its outgoing relations (`out` of them
    per party, in row order) by the other end's elementId, type code and stake."""

    ids: npt.NDArray[np.bytes_]
    uids: npt.NDArray[np.str_]
    scored: npt.NDArray[np.bool_]
    out: IntArray
    dst: npt.NDArray[np.bytes_]
    kind: npt.NDArray[np.int8]
    stake: FloatArray


def _fold_parties(rows: list[tuple[Any, ...]]) -> _PartyChunk:
    relations = [relation for row in rows for relation in row[3]]
    return _PartyChunk(
        ids=np.array([row[0] for row in rows], dtype=np.bytes_),
        uids=np.array([str(row[1]) for row in rows], dtype=np.str_),
        scored=np.array([bool(row[2]) for row in rows], dtype=np.bool_),
        out=np.array([len(row[3]) for row in rows], dtype=np.int64),
        dst=np.array([relation[0] for relation in relations], dtype=np.bytes_),
        kind=np.array([_RELATION_CODE_OF[relation[1]] for relation in relations], dtype=np.int8),
        stake=np.array([_stake(relation[2]) for relation in relations], dtype=np.float64),
    )


@dataclass(frozen=True)
class _ElementIds:
    """The parties' elementIds sorted, and each one's position in the snapshot."""

    ordered: npt.NDArray[np.bytes_]
    position: IntArray

    @classmethod
    def of(cls, ids: npt.NDArray[np.bytes_], position: IntArray) -> _ElementIds:
        """`ids` in read order, `position[i]` the snapshot position of the i-th read. O(n log n)."""
        by_id = np.argsort(ids)
        return cls(ids[by_id], position[by_id])

    def positions(self, wanted: npt.NDArray[np.bytes_]) -> IntArray:
        """The snapshot position of each elementId in `wanted`, -1 for one not read.
        O(len(wanted) log n)."""
        if not len(self.ordered):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ordered, wanted), len(self.ordered) - 1)
        return np.where(self.ordered[at] == wanted, self.position[at], -1)


def _joined(parts: Sequence[npt.NDArray[Any]], dtype: Any) -> Any:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _read_folded(
    store: GraphStore,
    query: LiteralString,
    params: Mapping[str, Any],
    chunk: int,
    fold: Callable[[list[tuple[Any, ...]]], T],
) -> list[T]:
    """Stream one read transaction and fold its rows, `chunk` at a time, with `fold`.

    Uses the store's driver directly: GraphStore.read collects every row as a dict, which at
    millions of rows costs more memory than the arrays built from them. Rows are tuples; a
    retried transaction starts its folding again from scratch.
    """

    def work(tx: neo4j.ManagedTransaction) -> list[T]:
        folded: list[T] = []
        rows: list[tuple[Any, ...]] = []
        for record in tx.run(query, dict(params)):
            rows.append(tuple(record.values()))
            if len(rows) >= chunk:
                folded.append(fold(rows))
                rows = []
        if rows:
            folded.append(fold(rows))
        return folded

    timed = neo4j.unit_of_work(
        timeout=max(store.timeout_s, SNAPSHOT_TIMEOUT_S),
        metadata={"app": "credgraph", "op": "risk.snapshot"},
    )(work)
    with store.driver.session(
        database=store.database, default_access_mode=neo4j.READ_ACCESS
    ) as session:
        try:
            result: list[T] = session.execute_read(timed)
        except neo4j.exceptions.Neo4jError as exc:
            raise StoreError(exc.message or str(exc), exc.code) from exc
        except neo4j.exceptions.DriverError as exc:
            raise StoreError(f"store unavailable: {exc}") from exc
    return result


def _stake(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _canonical_nodes(
    uid_parts: Sequence[npt.NDArray[np.str_]], label_parts: Sequence[npt.NDArray[np.int8]]
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int8], IntArray]:
    """Nodes sorted by (label, uid) and the permutation that sorts them."""
    if not uid_parts:
        return np.zeros(0, dtype=np.str_), np.zeros(0, dtype=np.int8), np.zeros(0, np.int64)
    uids = np.concatenate(uid_parts)
    labels = np.concatenate(label_parts)
    order = np.lexsort((uids, labels)).astype(np.int64)
    return uids[order], labels[order], order


def record_state_of(
    record: Mapping[str, Any], changes: Any, as_of: date, profile: PolicyProfile
) -> RecordState:
    """A record and its status changes as read from the store, as it stood on `as_of`."""
    return record_state(
        native_record_dated(record),
        status_events(changes),
        as_of,
        count_objections=profile.count_under_objection,
        default_term=profile.default_term,
    )


def _seeds_of_nodes(
    rows: Iterable[tuple[int, RecordState, str | None]],
    as_of: date,
    profile: PolicyProfile,
    *,
    keep_states: bool,
    pending: bool = False,
    shared: Collection[str] = (),
) -> Seeds:
    """The records that count on `as_of` with a positive severity, sorted (subject, uid); with
    `pending`, those that start after `as_of` and would count from their start instead.

    `rows` are (subject node, record state, authority name); `shared` the uids of the records
    that name more than one party as their subject.
    """
    nodes: list[int] = []
    states: list[RecordState] = []
    authorities: list[str | None] = []
    seen: set[tuple[int, str]] = set()
    for node, state, authority in rows:
        chosen = _pending(state, as_of, profile) if pending else state.counts
        if not (chosen and state.kind in NEGATIVE_KINDS):
            continue
        if profile.severity.get(state.kind, 0.0) <= 0 or (node, state.uid) in seen:
            continue
        seen.add((node, state.uid))
        nodes.append(node)
        states.append(state)
        authorities.append(authority)
    subject = np.array(nodes, dtype=np.int32)
    record_uids = np.array([s.uid for s in states], dtype=np.str_)
    order = np.lexsort((record_uids, subject)) if nodes else np.zeros(0, dtype=np.int64)
    chosen_states = [states[int(i)] for i in order]
    return Seeds(
        subject=subject[order],
        kind=np.array([KIND_CODE[s.kind] for s in chosen_states], dtype=np.int8),
        start=np.array(
            [s.starts_on.toordinal() if s.starts_on else UNDATED for s in chosen_states],
            dtype=np.int64,
        ),
        end=np.array(
            [s.ends_on.toordinal() if s.ends_on else OPEN_END for s in chosen_states],
            dtype=np.int64,
        ),
        uid=record_uids[order] if nodes else np.zeros(0, dtype=np.str_),
        states=tuple(chosen_states) if keep_states else None,
        authorities=tuple(authorities[int(i)] for i in order) if keep_states else None,
        shared=np.array([s.uid in shared for s in chosen_states], dtype=np.bool_),
    )


def _pending(state: RecordState, as_of: date, profile: PolicyProfile) -> bool:
    """The record starts after `as_of` and, as it stands, counts from its start until its end."""
    starts = state.starts_on
    if starts is None or starts <= as_of or state.term_unknown:
        return False
    live = state.status is RecordStatus.ACTIVE or (
        state.under_objection and profile.count_under_objection
    )
    return live and (state.ends_on is None or state.ends_on > starts)


# --- reading a bounded neighbourhood ----------------------------------------------------------


@dataclass(frozen=True)
class CentreRelation:
    """A current relation of a centre, with every property (native values) and the other end."""

    centre: PartyKey
    other: PartyKey
    other_name: str | None
    type: RelationType
    outgoing: bool  # stored from the centre to the other end
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Neighbourhood:
    """A neighbourhood snapshot and what a risk report reads with it (`read_risk_neighbourhood`).

    `names`: the centres the graph holds, with their names (a centre it does not hold is left
    out); `centre_relations`: their current relations; `records`: every record of the centres
    and of the parties `records_of` named, as it stood on the as-of date, in uid order.
    """

    snapshot: Snapshot
    names: dict[PartyKey, str | None]
    centre_relations: tuple[CentreRelation, ...]
    records: dict[PartyKey, list[RecordState]]
    # the legal persons among the centres, with their registration status as stored (登记状态:
    # `active`, `revoked`, `cancelled`, `moved_out`; None when the node has none)
    registration: dict[PartyKey, str | None] = field(default_factory=dict)
    # the walk passed its `cap` before the depth asked: `snapshot` then holds every relation of
    # the first `explored_depth` hops and no seed (it must not be scored), `records` still every
    # record of the status layer's parties
    truncated: bool = False
    explored_depth: int = 0


RecordsOf = Callable[[Sequence[CentreRelation]], Iterable[PartyKey]]


@dataclass(frozen=True)
class SanctionSubjects:
    """The uids of the parties that are the subject of at least one sanction record, by label,
    as `read_sanction_subjects` read them under one data version.

    Dicts of uids, not sets: Python's cycle collector never tracks a dict whose keys and values
    are strings and None, where it walks every entry of a set at each full collection (with
    the 1M registry's 231,893 subjects as sets, a third to four fifths more collector time in
    the depth-3 walks of `bench/query_bench.py`: docs/benchmarks.md, "Sanction subjects").
    """

    legal: Mapping[str, None]
    natural: Mapping[str, None]

    def holds(self, key: PartyKey) -> bool:
        return key.uid in (self.legal if key.label is Label.LEGAL_PERSON else self.natural)

    def __len__(self) -> int:
        return len(self.legal) + len(self.natural)


def read_sanction_subjects(store: GraphStore) -> SanctionSubjects:
    """Every party that is the subject of a sanction record: two reads, each over the sanction
    records of one label's parties, O(records); their uids as Python strings (docs/benchmarks.md,
    "Sanction subjects", gives their number and memory on the 1M registry)."""
    queries = (SANCTION_SUBJECTS_AMONG_LEGAL_PERSONS, SANCTION_SUBJECTS_AMONG_NATURAL_PERSONS)
    rows = [store.read(q, operation="risk.subjects", plain=True) for q in queries]
    legal, natural = (dict.fromkeys(uid for row in read for uid in row["uids"]) for read in rows)
    return SanctionSubjects(legal, natural)


@dataclass(slots=True)
class _Relation:
    start: PartyKey
    end: PartyKey
    type: RelationType
    stake: float
    key: str
    element_id: str
    props: Mapping[str, Any] | None


def read_neighbourhood(
    store: GraphStore,
    centres: Iterable[PartyKey],
    as_of: date,
    *,
    depth: int,
    profile: PolicyProfile,
) -> Snapshot:
    """The parties within `depth` hops of `centres` on `as_of`, as a Snapshot.

    See `read_risk_neighbourhood`; a centre the graph does not hold is left out. `depth` + 1
    reads.
    """
    return read_risk_neighbourhood(store, centres, as_of, depth=depth, profile=profile).snapshot


def read_risk_neighbourhood(
    store: GraphStore,
    centres: Iterable[PartyKey],
    as_of: date,
    *,
    depth: int,
    profile: PolicyProfile,
    records_of: RecordsOf | None = None,
    hubs: Hubs | None = None,
    subjects: SanctionSubjects | None = None,
    cap: int | None = None,
) -> Neighbourhood:
    """The parties within `depth` (>= 1) hops of `centres` on `as_of`, and their records.

    Breadth-first, one read per level for both labels: level k reads every current relation of
    the parties at distance k (k < depth), so the snapshot holds every relation on a path of at
    most `depth` hops that ends at a centre. Level 0 returns the centres' relations with every
    property (`relation_props`); deeper levels only what propagation needs (`relation_details`
    reads the rest). Then one read for the records: the sanction records of every party reached,
    and, when `records_of` is given, every record of the centres and of the parties
    `records_of(centre relations)` names (the status layer's). O(sum of degrees of the parties
    within depth - 1 hops) rows; `depth` + 1 reads whatever the number of centres. The deeper
    levels take the relations of the hubs `hubs` keeps from it (and keep those they read), not
    from the store: the same neighbourhood, fewer rows read, and no read for a level of hubs.
    With `subjects` (the sanction subjects under the data version read, `read_sanction_subjects`)
    the records read names only the parties reached that are among them: the same records, and
    on the 1M registry about one party in eleven is a subject.

    With `cap` (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`), the walk stops once it has read more than
    `cap` relations in all (a relation read from both ends counts twice, a hub's kept relations
    count as read): a deeper level asks the store for at most what is left + 1 a label, and a
    level that passes the cap is dropped whole, so the neighbourhood is `truncated` and holds
    every relation of its first `explored_depth` hops, and no seed. Level 0 is always read
    whole (the status layer needs every relation of the centres), so a centre with more than
    `cap` relations of its own is read and then cut at depth 1. Raises ValueError naming
    `depth` when it is below 1.
    """
    if depth < 1:
        raise ValueError(f"depth: must be at least 1, got {depth}")
    started = time.perf_counter()
    walk = _Walk(as_of, hubs, cap=cap)
    centre_relations = walk.centres(store, list(dict.fromkeys(centres)))
    for _ in range(1, depth):
        if walk.frontier and not walk.within_cap():  # the centres' own relations passed it
            walk.truncated = True
        if walk.truncated or not walk.next_level(store):
            break
    keys = list(walk.distance)
    key_uids = np.array([k.uid for k in keys], dtype=np.str_)
    key_labels = np.array([LABEL_CODE[k.label] for k in keys], dtype=np.int8)
    uids_sorted, labels_sorted, order = _canonical_nodes([key_uids], [key_labels])
    node_of = {keys[int(i)]: pos for pos, i in enumerate(order)}
    listed = sorted(walk.relations.values(), key=_relation_order)
    full: set[PartyKey] = set()
    if records_of is not None:
        full = set(walk.names) | set(records_of(centre_relations))
    seeds = [
        k
        for k in keys
        if k not in full and (subjects is None or subjects.holds(k)) and not walk.truncated
    ]
    seed_rows, records, record_rows, shared = _read_records(
        store, seeds, full, node_of, as_of, profile
    )
    stats = ReadStats(
        party_rows=len(keys),
        relation_rows=len(listed),
        record_rows=record_rows,
        reads=walk.reads + 1,
        seconds=time.perf_counter() - started,
    )
    snapshot = Snapshot(
        as_of=as_of,
        uids=uids_sorted,
        labels=labels_sorted,
        rel_src=np.array([node_of[r.start] for r in listed], dtype=np.int32),
        rel_dst=np.array([node_of[r.end] for r in listed], dtype=np.int32),
        rel_type=np.array([RELATION_CODE[r.type] for r in listed], dtype=np.int8),
        rel_stake=np.array([r.stake for r in listed], dtype=np.float64),
        seeds=_seeds_of_nodes(seed_rows, as_of, profile, keep_states=True, shared=shared),
        pending=_seeds_of_nodes(
            seed_rows, as_of, profile, keep_states=True, pending=True, shared=shared
        ),
        relation_props=tuple(r.props for r in listed),
        relation_ids=tuple(r.element_id for r in listed),
        distance=np.array([walk.distance[keys[int(i)]] for i in order], dtype=np.int32),
        stats=stats,
    )
    return Neighbourhood(
        snapshot,
        walk.names,
        tuple(centre_relations),
        records,
        walk.registration,
        truncated=walk.truncated,
        explored_depth=walk.explored if walk.truncated else depth,
    )


def keep_risk_relations(
    store: GraphStore, parties: Sequence[PartyKey], as_of: date, hubs: Hubs
) -> None:
    """Read the relations of `parties` as a risk walk's deeper level reads them on `as_of`,
    and keep the hubs' among them in `hubs` (warming the cache: queries/warmup.py). The level
    read of `read_risk_neighbourhood` itself, so what is kept is what a report would keep:
    one read, none for parties already kept. O(their relations)."""
    walk = _Walk(as_of, hubs, distance=dict.fromkeys(parties, 0), frontier=list(parties))
    walk.next_level(store)


@dataclass
class _Walk:
    """The breadth-first walk of `read_risk_neighbourhood`: what it reached, and how far."""

    as_of: date
    hubs: Hubs | None = None
    names: dict[PartyKey, str | None] = field(default_factory=dict)
    registration: dict[PartyKey, str | None] = field(default_factory=dict)
    distance: dict[PartyKey, int] = field(default_factory=dict)
    relations: dict[str, _Relation] = field(default_factory=dict)  # by elementId
    frontier: list[PartyKey] = field(default_factory=list)
    reads: int = 0
    cap: int | None = None  # relations read in all before the walk stops; None: no bound
    relations_read: int = 0
    explored: int = 0  # hops whose every relation the walk has read
    truncated: bool = False

    def params(self, keys: Iterable[PartyKey]) -> dict[str, Any]:
        types = [t.value for t in RELATION_TYPES]
        return {**_label_lists(keys), "types": types, "as_of": self.as_of}

    def left(self) -> int | None:
        """Relations the walk may still read under its cap (None: no cap)."""
        return None if self.cap is None else max(self.cap - self.relations_read, 0)

    def count(self, relations: int) -> bool:
        """Count `relations` read; False once the walk has passed its cap."""
        self.relations_read += relations
        return self.within_cap()

    def within_cap(self) -> bool:
        return self.cap is None or self.relations_read <= self.cap

    def centres(self, store: GraphStore, wanted: list[PartyKey]) -> list[CentreRelation]:
        """Level 0: the centres the graph holds, and their relations with every property."""
        rows = store.read(CENTRE_RELATIONS, self.params(wanted), operation="risk.neighbourhood")
        self.reads += 1
        entries = [(row["legal"], *entry) for row in rows for entry in row["relations"]]
        for a_legal, a, a_name, *_, a_status in entries:
            centre = _party(a, a_legal)
            self.names.setdefault(centre, a_name)
            if a_legal:
                self.registration.setdefault(centre, a_status)
        self.distance = dict.fromkeys(self.names, 0)
        found: list[CentreRelation] = []
        for a_legal, a, _, element_id, outgoing, b, b_legal, b_name, kind, stored, _ in entries:
            if element_id is None:
                continue  # a centre without current relations
            props = native_record(stored or {})
            here, there = _party(a, a_legal), _party(b, b_legal)
            read = (element_id, outgoing, kind, props.get("stake"), props.get("key"))
            relation = _relation_of(here, there, read, props)
            self._reach(relation, there, 1)
            found.append(CentreRelation(here, there, b_name, relation.type, outgoing, props))
        # counted, but read whole all the same: the status layer's rules need every relation
        self.count(len(found))
        self.explored = 1
        return found

    def next_level(self, store: GraphStore) -> bool:
        """The relations of the frontier, without their other properties; False: none left,
        or the level passed the cap (`truncated`, and nothing of the level is kept).

        A hub's relations come from `hubs` when it keeps them; the store is read for the rest,
        at most what is left under the cap + 1 relations a label.
        """
        if not self.frontier:
            return False
        frontier, self.frontier = self.frontier, []
        level = self.distance[frontier[0]] + 1
        read = f"risk {self.as_of.isoformat()}"  # the types are always RELATION_TYPES
        kept = self.hubs.kept(read, frontier) if self.hubs is not None else {}
        parties: list[tuple[PartyKey, Sequence[Sequence[Any]]]] = list(kept.items())
        within = self.count(sum(len(relations) for _, relations in parties))
        rest = [key for key in frontier if key not in kept] if kept else frontier
        if rest and within:
            read_now = self._read_level(store, rest)
            within = self.count(sum(len(relations) for _, relations in read_now))
            if within and self.hubs is not None:
                self.hubs.keep(read, read_now)  # only a complete level read is kept
            parties.extend(read_now)
        if not within:
            self.truncated = True
            return False
        for here, relations in parties:
            self._reach_all(here, relations, level)
        self.explored = level
        return True

    def _read_level(
        self, store: GraphStore, parties: list[PartyKey]
    ) -> list[tuple[PartyKey, Sequence[Sequence[Any]]]]:
        left = self.left()
        # a LIMIT of what is left + 1 tells a level that passes the cap from one that fills it
        limit = UNLIMITED if left is None else left + 1
        params = {**self.params(parties), "limit": limit}
        rows = store.read(NEIGHBOUR_RELATIONS, params, operation="risk.neighbourhood", plain=True)
        self.reads += 1
        return [
            (_party(uid, row["legal"]), relations)
            for row in rows
            for uid, relations in row["parties"]
        ]

    def _reach_all(self, here: PartyKey, relations: Iterable[Sequence[Any]], level: int) -> None:
        """Reach the other ends of `here`'s relations, as NEIGHBOUR_RELATIONS lists them."""
        for element_id, outgoing, b, b_legal, kind, stake, key in relations:
            there = _party(b, b_legal)
            relation = _relation_of(here, there, (element_id, outgoing, kind, stake, key), None)
            self._reach(relation, there, level)

    def _reach(self, relation: _Relation, there: PartyKey, level: int) -> None:
        # a relation read from both ends counts once (the first read, with its properties)
        self.relations.setdefault(relation.element_id, relation)
        if there not in self.distance:
            self.distance[there] = level
            self.frontier.append(there)


def _read_records(
    store: GraphStore,
    seeds: Sequence[PartyKey],
    full: set[PartyKey],
    node_of: Mapping[PartyKey, int],
    as_of: date,
    profile: PolicyProfile,
) -> tuple[
    list[tuple[int, RecordState, str | None]], dict[PartyKey, list[RecordState]], int, set[str]
]:
    """One read: every record of the `full` parties, the sanction records of `seeds`.

    Returns the (node, state, authority) rows the seeds come from, the `full` parties' record
    states in uid order, the number of rows read, and the uids of the records read that name
    more than one party as their subject (in the store, not only in the neighbourhood).
    """
    rows = store.read(
        NEIGHBOURHOOD_RECORDS,
        {
            **_label_lists(sorted(full, key=_key_order), "_full"),
            **_label_lists(seeds, "_seeds"),
        },
        operation="risk.neighbourhood",
    )
    seed_rows: list[tuple[int, RecordState, str | None]] = []
    records: dict[PartyKey, list[RecordState]] = {key: [] for key in full}
    shared: set[str] = set()
    records_read = 0
    for row in rows:
        for uid, record, authority, changes, subjects in row["records"]:
            subject = _party(uid, row["legal"])
            state = record_state_of(record, changes, as_of, profile)
            if subject in records:
                records[subject].append(state)
            if subject in node_of:
                seed_rows.append((node_of[subject], state, authority))
            if (subjects or 0) > 1:
                shared.add(state.uid)
            records_read += 1
    for states in records.values():
        states.sort(key=lambda state: state.uid)
    return seed_rows, records, records_read, shared


def relation_details(
    store: GraphStore, snapshot: Snapshot, relations: Iterable[int]
) -> dict[int, Mapping[str, Any]]:
    """Every property (native values) of some relations of a neighbourhood snapshot: those read
    with it, and one read for the others (each found from its start node by its elementId).

    A relation gone from the store since has no entry.
    """
    held = snapshot.relation_props or ()
    ids = snapshot.relation_ids or ()
    found: dict[int, Mapping[str, Any]] = {}
    missing: dict[str, int] = {}
    for relation in dict.fromkeys(relations):
        props = held[relation] if relation < len(held) else None
        if props is not None:
            found[relation] = props
        elif relation < len(ids):
            missing[ids[relation]] = relation
    if missing:
        wanted: dict[str, list[dict[str, str]]] = {"legal": [], "natural": []}
        for element_id, relation in missing.items():
            start = snapshot.key(int(snapshot.rel_src[relation]))
            side = "legal" if start.label is Label.LEGAL_PERSON else "natural"
            wanted[side].append({"start": start.uid, "id": element_id})
        rows = store.read(RELATION_DETAILS, wanted, operation="risk.relation_details")
        for element_id, stored in (entry for row in rows for entry in row["relations"]):
            if element_id in missing:
                found[missing[element_id]] = native_record(stored or {})
    return found


def _party(uid: Any, legal: Any) -> PartyKey:
    return PartyKey(Label.LEGAL_PERSON if legal else Label.NATURAL_PERSON, str(uid))


def _relation_of(
    here: PartyKey,
    there: PartyKey,
    read: tuple[Any, Any, Any, Any, Any],
    props: Mapping[str, Any] | None,
) -> _Relation:
    """A relation read from `here`: `read` is (elementId, stored from here, type, stake, key)."""
    element_id, outgoing, kind, stake, key = read
    start, end = (here, there) if outgoing else (there, here)
    return _Relation(
        start, end, _RELATION_TYPE[kind], _stake(stake), str(key or ""), str(element_id), props
    )


# a dict lookup: calling the enum costs about a microsecond per relation read
_RELATION_TYPE: dict[str, RelationType] = {t.value: t for t in RelationType}
_RELATION_CODE_OF: dict[str, int] = {t.value: RELATION_CODE[t] for t in RELATION_TYPES}


def _label_lists(keys: Iterable[PartyKey], suffix: str = "") -> dict[str, list[str]]:
    """The uids of `keys` per label, as the `$legal<suffix>` and `$natural<suffix>` parameters."""
    grouped = _by_label(keys)
    return {
        f"legal{suffix}": grouped.get(Label.LEGAL_PERSON, []),
        f"natural{suffix}": grouped.get(Label.NATURAL_PERSON, []),
    }


def _key_order(key: PartyKey) -> tuple[int, str]:
    return LABEL_CODE[key.label], key.uid


def _relation_order(relation: _Relation) -> tuple[int, str, int, str, str, str, str]:
    """Canonical: by end points, type, key, then elementId (two stored relations alike)."""
    return (
        *_key_order(relation.start),
        *_key_order(relation.end),
        relation.type.value,
        relation.key,
        relation.element_id,
    )


def _by_label(keys: Iterable[PartyKey]) -> dict[Label, list[str]]:
    grouped: dict[Label, list[str]] = {}
    for key in keys:
        grouped.setdefault(key.label, []).append(key.uid)
    return grouped


# --- what the store holds from a date on, for the clearing date -------------------------------


@dataclass(frozen=True)
class FutureNeighbourhood:
    """The parties within `depth` hops of some centres over every relation current on `as_of`
    or starting after it (contagion.py `clearing_date_from`), each relation with its validity
    (proleptic ordinals: `rel_from` UNDATED, `rel_to` OPEN_END when absent), and the sanction
    records of every party reached with their status changes, as held: a Snapshot on any day
    from `as_of` on (`snapshot_on`) holds every path of at most `depth` hops ending at a centre
    that day. `days`: the days after `as_of` on which something held changes (a relation starts
    or ends, a record starts or ends, a status change takes effect, a date of the record falls),
    sorted."""

    as_of: date
    uids: npt.NDArray[np.str_]
    labels: npt.NDArray[np.int8]
    rel_src: Int32Array
    rel_dst: Int32Array
    rel_type: npt.NDArray[np.int8]
    rel_stake: FloatArray
    rel_from: IntArray
    rel_to: IntArray
    records: tuple[tuple[int, Mapping[str, Any], tuple[StatusEvent, ...], str | None], ...]
    shared: frozenset[str]
    days: tuple[date, ...]
    reads: int = 0

    def index_of(self, key: PartyKey) -> int | None:
        """The node index of a party (as Snapshot.index_of), or None. O(log n)."""
        return _node_index(self.uids, self.labels, key)

    def snapshot_on(self, day: date, profile: PolicyProfile) -> Snapshot:
        """The Snapshot on `day` (>= `as_of`): the relations current then, the records counting
        then as their status changes up to `day` leave them. O(m + r k) for r records of k
        status changes each."""
        ordinal = day.toordinal()
        current = ((self.rel_from == UNDATED) | (self.rel_from <= ordinal)) & (
            (self.rel_to == OPEN_END) | (self.rel_to > ordinal)
        )
        rows = [
            (
                node,
                record_state(
                    record,
                    events,
                    day,
                    count_objections=profile.count_under_objection,
                    default_term=profile.default_term,
                ),
                authority,
            )
            for node, record, events, authority in self.records
        ]
        return Snapshot(
            as_of=day,
            uids=self.uids,
            labels=self.labels,
            rel_src=self.rel_src[current],
            rel_dst=self.rel_dst[current],
            rel_type=self.rel_type[current],
            rel_stake=self.rel_stake[current],
            seeds=_seeds_of_nodes(rows, day, profile, keep_states=False, shared=self.shared),
        )


def read_future_neighbourhood(
    store: GraphStore,
    centres: Iterable[PartyKey],
    as_of: date,
    *,
    depth: int,
    profile: PolicyProfile,
    cap: int = UNLIMITED,
) -> FutureNeighbourhood | None:
    """What the store holds within `depth` hops of `centres` from `as_of` on
    (FutureNeighbourhood): breadth-first over the relations not ended by `as_of` (current, or
    starting later), one read per level for both labels, then one for the sanction records of
    every party reached (NEIGHBOURHOOD_RECORDS). `depth` + 1 reads, O(sum of degrees of the
    parties within depth - 1 hops) rows, at most `cap` relations: None when the walk would read
    more (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`: relations formed after a past as-of date can make
    a party of then a hub's neighbour now), and no clearing date is sought."""
    types = [t.value for t in RELATION_TYPES]
    wanted = list(dict.fromkeys(centres))
    distance: dict[PartyKey, int] = dict.fromkeys(wanted, 0)
    frontier = wanted
    found: dict[str, tuple[_Relation, Any, Any]] = {}
    reads = relations_read = 0
    for level in range(1, depth + 1):
        if not frontier:
            break
        left = cap - relations_read  # a relation read from both ends counts twice, as a report's
        rows = store.read(
            FUTURE_RELATIONS,
            {
                **_label_lists(frontier),
                "types": types,
                "as_of": as_of,
                "limit": min(left + 1, UNLIMITED),  # the store reads LIMIT as 32 bits
            },
            operation="risk.clearing",
            plain=True,
        )
        reads += 1
        relations_read += sum(len(relations) for row in rows for _, relations in row["parties"])
        if relations_read > cap:
            return None
        frontier = []
        for row in rows:
            for uid, relations in row["parties"]:
                here = _party(uid, row["legal"])
                for element_id, outgoing, b, b_legal, kind, stake, key, since, until in relations:
                    there = _party(b, b_legal)
                    read = (element_id, outgoing, kind, stake, key)
                    found.setdefault(
                        str(element_id), (_relation_of(here, there, read, None), since, until)
                    )
                    if there not in distance:
                        distance[there] = level
                        frontier.append(there)
    listed = sorted(found.values(), key=lambda held: _relation_order(held[0]))
    relations = [
        (r.start, r.end, r.type, r.stake, native_date(since), native_date(until))
        for r, since, until in listed
    ]
    keys = list(distance)
    rows = store.read(
        NEIGHBOURHOOD_RECORDS,
        {
            **_label_lists((), "_full"),
            **_label_lists(sorted(keys, key=_key_order), "_seeds"),
        },
        operation="risk.clearing",
    )
    records = [
        (
            _party(uid, row["legal"]),
            native_record_dated(record),
            status_events(changes),
            authority,
            (subjects or 0) > 1,
        )
        for row in rows
        for uid, record, authority, changes, subjects in row["records"]
    ]
    return future_neighbourhood(as_of, keys, relations, records, profile, reads=reads + 1)


# a relation as `future_neighbourhood` takes it: start, end, type, stake, valid_from, valid_to
FutureRelation = tuple[PartyKey, PartyKey, RelationType, float | None, Any, Any]
# a record: subject, properties (dates as dates), status changes, authority, of several subjects
FutureRecord = tuple[PartyKey, Mapping[str, Any], Sequence[StatusEvent], str | None, bool]


def future_neighbourhood(
    as_of: date,
    keys: Sequence[PartyKey],
    relations: Sequence[FutureRelation],
    records: Sequence[FutureRecord],
    profile: PolicyProfile,
    *,
    reads: int = 0,
) -> FutureNeighbourhood:
    """A FutureNeighbourhood of the parties `keys`, their `relations` (in the order given) and
    their sanction `records` (others, and those of a kind without severity, left out), with the
    days after `as_of` on which any of them changes. O(m + r k log k)."""
    key_uids = np.array([k.uid for k in keys], dtype=np.str_)
    key_labels = np.array([LABEL_CODE[k.label] for k in keys], dtype=np.int8)
    uids_sorted, labels_sorted, order = _canonical_nodes([key_uids], [key_labels])
    node_of = {keys[int(i)]: pos for pos, i in enumerate(order)}
    days: set[date] = set()
    bounds: list[tuple[int, int]] = []
    for *_, starts, ends in relations:
        bounds.append(
            (
                starts.toordinal() if isinstance(starts, date) else UNDATED,
                ends.toordinal() if isinstance(ends, date) else OPEN_END,
            )
        )
        days.update(d for d in (starts, ends) if isinstance(d, date) and d > as_of)
    held: list[tuple[int, Mapping[str, Any], tuple[StatusEvent, ...], str | None]] = []
    shared: set[str] = set()
    for subject, record, changes, authority, several in records:
        try:
            kind = RecordKind(str(record.get("kind")))
        except ValueError:
            continue
        if kind not in NEGATIVE_KINDS or profile.severity.get(kind, 0.0) <= 0:
            continue
        events = tuple(changes)
        held.append((node_of[subject], record, events, authority))
        if several:
            shared.add(str(record.get("uid")))
        state = record_state(
            record,
            events,
            as_of,
            count_objections=profile.count_under_objection,
            default_term=profile.default_term,
        )
        dated = [*record.values(), *(e.effective_on for e in events)]
        dated += [state.starts_on, state.ends_on]
        days.update(d for d in dated if isinstance(d, date) and d > as_of)
    return FutureNeighbourhood(
        as_of=as_of,
        uids=uids_sorted,
        labels=labels_sorted,
        rel_src=np.array([node_of[r[0]] for r in relations], dtype=np.int32),
        rel_dst=np.array([node_of[r[1]] for r in relations], dtype=np.int32),
        rel_type=np.array([RELATION_CODE[r[2]] for r in relations], dtype=np.int8),
        rel_stake=np.array([_stake(r[3]) for r in relations], dtype=np.float64),
        rel_from=np.array([b[0] for b in bounds], dtype=np.int64),
        rel_to=np.array([b[1] for b in bounds], dtype=np.int64),
        records=tuple(held),
        shared=frozenset(shared),
        days=tuple(sorted(days)),
        reads=reads,
    )


def snapshot_from_edges(
    as_of: date,
    nodes: Sequence[PartyKey],
    relations: Sequence[tuple[PartyKey, PartyKey, RelationType, float | None]],
    records: Sequence[tuple[PartyKey, RecordState]],
) -> Snapshot:
    """A Snapshot built in memory (tests and benchmarks): nodes, relations, counting records.

    `records` are taken as counting: the caller filters them.
    """
    uids = np.array([k.uid for k in nodes], dtype=np.str_)
    labels = np.array([LABEL_CODE[k.label] for k in nodes], dtype=np.int8)
    uids_sorted, labels_sorted, order = _canonical_nodes([uids], [labels])
    node_of = {nodes[int(i)]: pos for pos, i in enumerate(order)}
    src = np.array([node_of[r[0]] for r in relations], dtype=np.int32)
    dst = np.array([node_of[r[1]] for r in relations], dtype=np.int32)
    rel_type = np.array([RELATION_CODE[r[2]] for r in relations], dtype=np.int8)
    stake = np.array([_stake(r[3]) for r in relations], dtype=np.float64)
    subject = np.array([node_of[k] for k, _ in records], dtype=np.int32)
    record_uids = np.array([s.uid for _, s in records], dtype=np.str_)
    sort = np.lexsort((record_uids, subject)) if len(records) else np.zeros(0, np.int64)
    states = [records[int(i)][1] for i in sort]
    seeds = Seeds(
        subject=subject[sort].astype(np.int32),
        kind=np.array([KIND_CODE[s.kind] for s in states], dtype=np.int8),
        start=np.array(
            [s.starts_on.toordinal() if s.starts_on else UNDATED for s in states], dtype=np.int64
        ),
        end=np.array(
            [s.ends_on.toordinal() if s.ends_on else OPEN_END for s in states], dtype=np.int64
        ),
        uid=record_uids[sort] if len(records) else np.zeros(0, dtype=np.str_),
        states=tuple(states),
    )
    return Snapshot(
        as_of=as_of,
        uids=uids_sorted,
        labels=labels_sorted,
        rel_src=src,
        rel_dst=dst,
        rel_type=rel_type,
        rel_stake=stake,
        seeds=seeds,
    )
