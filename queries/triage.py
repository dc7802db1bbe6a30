"""Whole-graph triage: the parties that personalised PageRank from the counting negative
records ranks highest (queries/pagerank.py), with their names, for `credgraph risk triage`.

It reads the snapshot (queries/snapshot.py) as whole-graph scoring does, ranks every party and
keeps the best `top`. A rank says where walks from sanctioned parties keep arriving; it is not a
score with a meaning of its own and never a sanction (docs/risk-model.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from credgraph.graph.store import GraphStore
from credgraph.queries.contagion import top_parties
from credgraph.queries.lookup import PartyKey, fetch_parties
from credgraph.queries.pagerank import triage_ranking
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.snapshot import ReadStats, read_snapshot


@dataclass(frozen=True)
class TriageEntry:
    party: PartyKey
    name: str | None
    rank: float  # the party's share of the stationary distribution (all sum to 1)
    seeded: bool  # the party has a counting negative record of its own


@dataclass(frozen=True)
class TriageRun:
    profile: str
    profile_version: str
    as_of: date
    parties: int
    relations: int
    seed_subjects: int
    iterations: int
    read: ReadStats
    rank_seconds: float
    top: list[TriageEntry]


def triage(store: GraphStore, profile: PolicyProfile, as_of: date, *, top: int) -> TriageRun:
    """The `top` parties by personalised PageRank on `as_of`, best first.

    O(n + m + r) rows read, then O(n + m) per solver iteration (about 40 at alpha 0.85) and
    O(n log top) to pick the best; one read per label for the names of those picked.
    """
    snapshot = read_snapshot(store, as_of, profile=profile)
    started = time.perf_counter()
    ranking = triage_ranking(snapshot, profile)
    rank_seconds = time.perf_counter() - started
    seeded = set(snapshot.seeds.subject.tolist())
    best = top_parties(ranking.scores, top)
    keys = [snapshot.key(node) for node in best]
    stored = fetch_parties(store, keys)
    entries = [
        TriageEntry(
            party=key,
            name=stored.get(key, {}).get("name"),
            rank=float(ranking.scores[node]),
            seeded=node in seeded,
        )
        for key, node in zip(keys, best, strict=True)
    ]
    return TriageRun(
        profile=profile.name,
        profile_version=profile_version(profile),
        as_of=as_of,
        parties=snapshot.node_count,
        relations=snapshot.relation_count,
        seed_subjects=len(seeded),
        iterations=ranking.iterations,
        read=snapshot.stats,
        rank_seconds=rank_seconds,
        top=entries,
    )
