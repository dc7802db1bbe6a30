"""Whole-graph contagion scoring, written back to the party nodes, and incremental re-scoring.

`score_graph(store, profile, as_of)` reads the snapshot (queries/snapshot.py), scores every
party (queries/contagion.py) and writes each party's score onto its node:

| property | value |
|---|---|
| `risk_score` | the contagion score in [0, 1] |
| `risk_profile` | the profile's name |
| `risk_profile_version` | `profile_version(profile)`: a digest of every parameter |
| `risk_as_of` | the date scored |
| `risk_scored_at` | when the scoring ran (UTC) |

Only parties with a positive score, and parties that carried a score before (now set to 0), are
written: a party without `risk_score` scores 0. One profile's scores live on the nodes at a
time: the last run's, named on every node.

`rescore_reachable(store, subjects, profile)` re-scores only what a change to the records of
`subjects`, or to relations with an end among them, can move: the parties within `max_depth`
hops of them. Their scores depend on seeds up to `max_depth` further, so it reads the
neighbourhood of radius `2 * max_depth` and runs the same scoring function: the result equals a
full re-score.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, LiteralString

import numpy as np
from credgraph.graph import clock
from credgraph.graph.store import GraphStore, native
from credgraph.graph.vocabulary import Label
from credgraph.queries import writes
from credgraph.queries.contagion import DEFAULT_BATCH, contagion_scores, top_parties
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.snapshot import (
    DEFAULT_CHUNK,
    PARTY_LABELS,
    FloatArray,
    ReadStats,
    Snapshot,
    read_neighbourhood,
    read_snapshot,
)

WRITE_BATCH = 10_000

WRITE_SCORES_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MATCH (p:LegalPerson {uid: row.uid})
SET p.risk_score = row.score, p.risk_profile = $profile,
    p.risk_profile_version = $version, p.risk_as_of = $as_of, p.risk_scored_at = $scored_at
"""

WRITE_SCORES_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MATCH (p:NaturalPerson {uid: row.uid})
SET p.risk_score = row.score, p.risk_profile = $profile,
    p.risk_profile_version = $version, p.risk_as_of = $as_of, p.risk_scored_at = $scored_at
"""

STORED_SCORES_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (p:LegalPerson {uid: uid})
RETURN p.uid AS uid, p.risk_score AS score, p.risk_profile AS profile,
       p.risk_profile_version AS version, p.risk_as_of AS as_of, p.risk_scored_at AS scored_at
"""

STORED_SCORES_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (p:NaturalPerson {uid: uid})
RETURN p.uid AS uid, p.risk_score AS score, p.risk_profile AS profile,
       p.risk_profile_version AS version, p.risk_as_of AS as_of, p.risk_scored_at AS scored_at
"""

# the run whose scores the nodes hold: every scored node names the same one, since a whole-graph
# run rewrites every node that carried a score and a re-score keeps its profile and date
LAST_RUN_OF_LEGAL_PERSONS: LiteralString = """
MATCH (p:LegalPerson)
WHERE p.risk_profile IS NOT NULL
RETURN p.risk_profile AS profile, p.risk_profile_version AS version, p.risk_as_of AS as_of
LIMIT 1
"""

LAST_RUN_OF_NATURAL_PERSONS: LiteralString = """
MATCH (p:NaturalPerson)
WHERE p.risk_profile IS NOT NULL
RETURN p.risk_profile AS profile, p.risk_profile_version AS version, p.risk_as_of AS as_of
LIMIT 1
"""

_WRITE: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: WRITE_SCORES_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: WRITE_SCORES_OF_NATURAL_PERSONS,
}
_STORED: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: STORED_SCORES_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: STORED_SCORES_OF_NATURAL_PERSONS,
}


@dataclass(frozen=True)
class ScoreRun:
    """What one whole-graph scoring did, and how long each step took."""

    profile: str
    profile_version: str
    as_of: date
    scored_at: datetime
    parties: int
    relations: int
    seeds: int
    seed_subjects: int
    scored: int  # parties with a positive score
    written: int
    read: ReadStats
    score_seconds: float
    write_seconds: float
    top: list[tuple[PartyKey, float]]


def score_graph(
    store: GraphStore,
    profile: PolicyProfile,
    as_of: date,
    *,
    write: bool = True,
    top: int = 10,
    chunk: int = DEFAULT_CHUNK,
    batch_size: int = DEFAULT_BATCH,
    before_write: Callable[[list[tuple[PartyKey, float]]], None] | None = None,
) -> tuple[ScoreRun, Snapshot, FloatArray]:
    """Score every party on `as_of` under `profile`; write the scores back unless `write` is
    false. Returns the run's summary, the snapshot and the scores (by snapshot node). Written,
    every party holds its score: no load's chunk committed before the run began owes a re-score
    any more (the marks `credgraph load` leaves when its re-score did not run are cleared).
    `before_write` sees the `top` highest before anything is written, and may stop the run by
    raising (the CLI refuses a list that names natural persons to a caller without a purpose)."""
    began = datetime.now(UTC)
    snapshot = read_snapshot(store, as_of, profile=profile, chunk=chunk)
    started = time.perf_counter()
    result = contagion_scores(snapshot, profile, batch_size=batch_size)
    score_seconds = time.perf_counter() - started
    scored_at = datetime.now(UTC)
    highest = [(snapshot.key(i), float(result.scores[i])) for i in top_parties(result.scores, top)]
    if before_write is not None:
        before_write(highest)
    written = 0
    started = time.perf_counter()
    if write:
        previously = snapshot.scored if snapshot.scored is not None else np.zeros(0, np.bool_)
        nodes = np.flatnonzero((result.scores > 0) | previously)
        written = write_scores(store, snapshot, nodes, result.scores, profile, as_of, scored_at)
        store.write(writes.MARK_ALL_RESCORED, {"before": began}, operation="risk.score")
    write_seconds = time.perf_counter() - started
    run = ScoreRun(
        profile=profile.name,
        profile_version=profile_version(profile),
        as_of=as_of,
        scored_at=scored_at,
        parties=snapshot.node_count,
        relations=snapshot.relation_count,
        seeds=result.seeds,
        seed_subjects=result.subjects,
        scored=int((result.scores > 0).sum()),
        written=written,
        read=snapshot.stats,
        score_seconds=score_seconds,
        write_seconds=write_seconds,
        top=highest,
    )
    return run, snapshot, result.scores


def write_scores(
    store: GraphStore,
    snapshot: Snapshot,
    nodes: Any,
    scores: FloatArray,
    profile: PolicyProfile,
    as_of: date,
    scored_at: datetime,
) -> int:
    """Write the scores of `nodes` (snapshot indices): batched UNWIND, one transaction per
    WRITE_BATCH rows and label. O(len(nodes))."""
    params = {
        "profile": profile.name,
        "version": profile_version(profile),
        "as_of": as_of,
        "scored_at": scored_at,
    }
    written = 0
    for code, label in enumerate(PARTY_LABELS):
        chosen = [int(i) for i in nodes if int(snapshot.labels[int(i)]) == code]
        for lo in range(0, len(chosen), WRITE_BATCH):
            rows = [
                {"uid": str(snapshot.uids[i]), "score": float(scores[i])}
                for i in chosen[lo : lo + WRITE_BATCH]
            ]
            store.write(_WRITE[label], {**params, "rows": rows}, operation="risk.write_scores")
            written += len(rows)
    return written


def rescore_reachable(
    store: GraphStore,
    subjects: Sequence[PartyKey],
    profile: PolicyProfile,
    *,
    as_of: date | None = None,
) -> dict[PartyKey, float]:
    """Re-score and write the parties within `max_depth` hops of `subjects` (whose records
    changed, or the ends of relations created, changed or ended), and return their new scores.

    Reads the neighbourhood of radius 2 * max_depth (one read per level): every path that can
    reach an affected party lies in it, so each written score equals a full re-score's.
    """
    day = as_of or clock.today()
    if not subjects:
        return {}
    snapshot = read_neighbourhood(
        store, subjects, day, depth=2 * profile.max_depth, profile=profile
    )
    result = contagion_scores(snapshot, profile)
    assert snapshot.distance is not None
    affected = np.flatnonzero(snapshot.distance <= profile.max_depth)
    write_scores(store, snapshot, affected, result.scores, profile, day, datetime.now(UTC))
    return {snapshot.key(int(i)): float(result.scores[int(i)]) for i in affected}


@dataclass(frozen=True)
class StoredRun:
    """The run whose scores the party nodes hold: its profile, version and as-of date."""

    profile: str
    version: str
    as_of: date


def stored_run(store: GraphStore) -> StoredRun | None:
    """The run the nodes' scores name, None when no party carries one. One read per label, each
    stopping at the first scored party (none scored: a scan of the label)."""
    for query in (LAST_RUN_OF_LEGAL_PERSONS, LAST_RUN_OF_NATURAL_PERSONS):
        for row in store.read(query, operation="risk.stored_run"):
            as_of = native(row["as_of"])
            if isinstance(as_of, date):
                return StoredRun(str(row["profile"]), str(row["version"]), as_of)
    return None


def stored_scores(store: GraphStore, keys: Sequence[PartyKey]) -> dict[PartyKey, dict[str, Any]]:
    """The score properties written on parties (absent parties and unscored ones left out)."""
    grouped: dict[Label, list[str]] = {}
    for key in keys:
        grouped.setdefault(key.label, []).append(key.uid)
    found: dict[PartyKey, dict[str, Any]] = {}
    for label, uids in grouped.items():
        for row in store.read(_STORED[label], {"uids": uids}, operation="risk.stored_scores"):
            if row["score"] is not None:
                found[PartyKey(label, str(row["uid"]))] = row
    return found
