"""The contagion layer: how much risk flows from counting negative records to every party.

The model (docs/risk-model.md, "Contagion layer"), for a policy profile on an as-of date:

- a seed is a negative record that counts on the as-of date (queries/records.py) and whose
  kind has a positive severity; its base weight is
  `base = min(1, severity[kind] * (1 + escalation * (n - 1)) * 0.5 ** (age / half_life_days))`
  where n is the number of seeds of the same subject and age the days since the record started;
- a record's contribution to party v is `base * max over paths P (subject to v, at most
  max_depth hops) of prod(weight(e) * decay for e in P)`, dropped below `min_contribution`;
  relations are undirected, current on the date, party to party (never POSSIBLY_SAME_AS, never
  through a record); the subject itself gets `base` (the empty path);
- `score(v) = 1 - prod over records (1 - contribution)` (noisy-OR: each record once, by its
  best path).

`contagion_scores(snapshot, profile)` scores every party of a Snapshot (queries/snapshot.py),
vectorised over batches of seed subjects; `score_party(store, key, profile, as_of)` reads one
party's bounded neighbourhood into a Snapshot and runs the same function, so both give the same
number, then explains it (ranked records and paths) and finds the day it would clear.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, LiteralString

import numpy as np
import numpy.typing as npt
from credgraph.graph.store import GraphStore, stored_date
from credgraph.graph.vocabulary import RecordKind, RecordStatus, RelationType
from credgraph.queries.lookup import PartyKey, party_key
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.snapshot import (
    OPEN_END,
    RECORD_KINDS,
    RELATION_TYPES,
    UNDATED,
    UNLIMITED,
    FloatArray,
    FutureNeighbourhood,
    Int32Array,
    IntArray,
    Seeds,
    Snapshot,
    read_future_neighbourhood,
    read_neighbourhood,
    relation_details,
    relation_weights,
)

DEFAULT_BATCH = 4096  # seed subjects propagated together; bounds memory per batch
_SLACK = 1.0 - 1e-12  # pruning margin: never drop a path the exact test would keep


# --- base weights ---------------------------------------------------------------------------


def seed_bases(seeds: Seeds, profile: PolicyProfile, on: date) -> FloatArray:
    """Each seed's base weight on day `on` (0 when it no longer counts then). O(r).

    Plain Python floats, not numpy ufuncs, so the whole-graph batch, a neighbourhood and the
    clearing-date search compute bit-identical bases.
    """
    day = on.toordinal()
    starts = seeds.start.tolist()
    # a record held that starts after `on` (a pending one, for the clearing date) counts later
    live = [
        (end == OPEN_END or end > day) and start <= day
        for start, end in zip(starts, seeds.end.tolist(), strict=True)
    ]
    subjects = seeds.subject.tolist()
    counts: dict[int, int] = {}
    for subject, alive in zip(subjects, live, strict=True):
        if alive:
            counts[subject] = counts.get(subject, 0) + 1
    bases = []
    for subject, alive, kind, start in zip(
        subjects, live, seeds.kind.tolist(), starts, strict=True
    ):
        if not alive:
            bases.append(0.0)
            continue
        severity = profile.severity.get(RECORD_KINDS[kind], 0.0)
        escalated = severity * (1.0 + profile.escalation * (counts[subject] - 1))
        age = 0 if start == UNDATED else max(day - start, 0)
        recency = 0.5 ** (age / profile.half_life_days)
        bases.append(min(1.0, escalated * recency))
    return np.array(bases, dtype=np.float64)


# --- propagation ----------------------------------------------------------------------------


def hop_factors(snapshot: Snapshot, profile: PolicyProfile) -> FloatArray:
    """weight(e) * decay for every entry of the snapshot's undirected CSR."""
    _, _, edge_relation = snapshot.adjacency()
    per_relation = relation_weights(snapshot, profile) * profile.decay
    return np.asarray(per_relation[edge_relation], dtype=np.float64)


def best_path_products(
    indptr: IntArray,
    indices: Int32Array,
    factor: FloatArray,
    sources: Int32Array,
    thresholds: FloatArray,
    max_depth: int,
) -> tuple[IntArray, Int32Array, FloatArray]:
    """For each source, the best product of `factor` over walks of at most `max_depth` hops to
    every node where it is at least the source's threshold.

    Hop-limited Bellman-Ford in max-product, on all sources at once: a (source, node) -> value
    map in sorted-key arrays; each hop expands only the entries that improved at the previous
    hop (a frontier), keeps the best value per (source, node), and drops values under the
    threshold (factors are at most 1, so a dropped prefix never leads to a kept path). Because
    factors are <= 1 and decay < 1, the best walk is a simple path. Returns (source position,
    node, value) triplets sorted by (source, node), the source itself included with 1.0.

    Time O(sum over hops of X log X), X the frontier's expansions (sum of degrees of the
    improved entries); memory O(X). Bounded by the pruning, not by the graph size.
    """
    n = len(indptr) - 1
    count = len(sources)
    best_keys = np.arange(count, dtype=np.int64) * n + sources.astype(np.int64)
    best_vals = np.ones(count, dtype=np.float64)
    front_keys, front_vals = best_keys, best_vals
    for _ in range(max_depth):
        if not len(front_keys):
            break
        cand_keys, cand_vals = _expand(indptr, indices, factor, thresholds, front_keys, front_vals)
        if not len(cand_keys):
            break
        keys, vals = _max_per_key(cand_keys, cand_vals)
        at = np.searchsorted(best_keys, keys)
        inside = at < len(best_keys)
        exists = np.zeros(len(keys), dtype=np.bool_)
        exists[inside] = best_keys[at[inside]] == keys[inside]
        old = np.full(len(keys), -1.0)
        old[exists] = best_vals[at[exists]]
        improved = vals > old
        front_keys, front_vals = keys[improved], vals[improved]
        replace = improved & exists
        best_vals = best_vals.copy()
        best_vals[at[replace]] = vals[replace]
        added = improved & ~exists
        if added.any():
            best_keys = np.concatenate([best_keys, keys[added]])
            best_vals = np.concatenate([best_vals, vals[added]])
            order = np.argsort(best_keys, kind="stable")
            best_keys, best_vals = best_keys[order], best_vals[order]
    return best_keys // n, (best_keys % n).astype(np.int32), best_vals


def _expand(
    indptr: IntArray,
    indices: Int32Array,
    factor: FloatArray,
    thresholds: FloatArray,
    keys: IntArray,
    vals: FloatArray,
) -> tuple[IntArray, FloatArray]:
    n = len(indptr) - 1
    nodes = keys % n
    source = keys // n
    starts = indptr[nodes]
    degree = indptr[nodes + 1] - starts
    total = int(degree.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    owner = np.repeat(np.arange(len(keys)), degree)
    offset = np.arange(total) - np.repeat(np.cumsum(degree) - degree, degree)
    position = starts[owner] + offset
    values = vals[owner] * factor[position]
    keep = values >= thresholds[source[owner]]
    new_keys = source[owner][keep] * n + indices[position][keep]
    return new_keys, values[keep]


def _max_per_key(keys: IntArray, vals: FloatArray) -> tuple[IntArray, FloatArray]:
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.maximum.reduceat(vals, starts)


# --- scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """One record's share of a party's score: its seed index, best path product, amount."""

    seed: int
    path: float
    amount: float


@dataclass
class ScoreResult:
    """Scores of every node of a snapshot, and the contributions kept for `targets`."""

    scores: FloatArray
    seeds: int
    subjects: int
    batches: int
    contributions: dict[int, list[Contribution]] = field(default_factory=dict)

    def reached(self) -> Int32Array:
        return np.flatnonzero(self.scores > 0).astype(np.int32)


def contagion_scores(
    snapshot: Snapshot,
    profile: PolicyProfile,
    *,
    batch_size: int = DEFAULT_BATCH,
    targets: Sequence[int] = (),
) -> ScoreResult:
    """The contagion score of every party of `snapshot` on its as-of date under `profile`.

    Seeds are grouped by subject; subjects are propagated in batches of `batch_size`
    (best_path_products), and each record's contributions are folded into the noisy-OR in a
    fixed order (subject, then record uid) so that any snapshot holding the same paths gives
    bit-identical scores. Time O(r + sum over batches of X log X) with X the pruned
    expansions, memory O(n + X); n parties, r seeds.
    """
    n = snapshot.node_count
    seeds = snapshot.seeds
    keep = np.ones(n, dtype=np.float64)  # prod of (1 - contribution), per node
    wanted = {int(t) for t in targets}
    kept: dict[int, list[Contribution]] = {t: [] for t in wanted}
    if not len(seeds) or n == 0:
        return ScoreResult(np.zeros(n), 0, 0, 0, kept)
    bases = seed_bases(seeds, profile, snapshot.as_of)
    indptr, indices, _ = snapshot.adjacency()
    factor = hop_factors(snapshot, profile)
    subjects, first = np.unique(seeds.subject, return_index=True)
    last = np.append(first[1:], len(seeds))
    max_base = np.maximum.reduceat(bases, first)
    live = max_base > 0
    subjects, first, last, max_base = subjects[live], first[live], last[live], max_base[live]
    thresholds = profile.min_contribution / max_base * _SLACK
    record, shared = _records_and_shared(seeds)
    aside: list[tuple[IntArray, Int32Array, FloatArray, FloatArray]] = []
    batches = 0
    for lo in range(0, len(subjects), batch_size):
        hi = min(lo + batch_size, len(subjects))
        batches += 1
        source, node, path = best_path_products(
            indptr, indices, factor, subjects[lo:hi].astype(np.int32),
            thresholds[lo:hi], profile.max_depth,
        )  # fmt: skip
        seed, node, path = _records_of(source + lo, node, path, first, last)
        amount = bases[seed] * path
        good = amount >= profile.min_contribution
        if shared is not None:
            # a record of several subjects counts once per party: set aside, the best kept below
            many = good & shared[seed]
            aside.append((seed[many], node[many], path[many], amount[many]))
            good &= ~many
        seed, node, path, amount = seed[good], node[good], path[good], amount[good]
        _fold(keep, kept, seed, node, path, amount)
    if aside:
        _fold(keep, kept, *_best_per_record(record, aside))
    return ScoreResult(1.0 - keep, len(np.unique(seeds.uid)), len(subjects), batches, kept)


def _fold(
    keep: FloatArray,
    kept: dict[int, list[Contribution]],
    seed: IntArray,
    node: Int32Array,
    path: FloatArray,
    amount: FloatArray,
) -> None:
    """Fold contributions into the noisy-OR, and keep those of the wanted nodes (`kept`)."""
    _fold_noisy_or(keep, node, seed, amount)
    if kept:
        for at in np.flatnonzero(np.isin(node, list(kept))):
            kept[int(node[at])].append(
                Contribution(int(seed[at]), float(path[at]), float(amount[at]))
            )


def _records_and_shared(seeds: Seeds) -> tuple[IntArray, npt.NDArray[np.bool_] | None]:
    """Each seed's record (an index per uid), and which seeds' records name more than one party
    as their subject (`Seeds.shared`, as the store says, so that a neighbourhood holding one of
    the subjects folds the record as the whole graph does; else the seeds sharing a uid). None
    when no seed's does: the common case costs nothing more. O(r log r)."""
    _, record = np.unique(seeds.uid, return_inverse=True)
    shared = seeds.shared
    if shared is None:
        counts = np.bincount(record, minlength=int(record.max(initial=-1)) + 1)
        shared = counts[record] > 1
    return record.astype(np.int64), shared if shared.any() else None


def _best_per_record(
    record: IntArray, aside: Sequence[tuple[IntArray, Int32Array, FloatArray, FloatArray]]
) -> tuple[IntArray, Int32Array, FloatArray, FloatArray]:
    """Of the contributions of records with several subjects, the largest per (record, party),
    by its subject's seed (the first seed on a tie): docs/risk-model.md, each record once."""
    seed = np.concatenate([part[0] for part in aside])
    node = np.concatenate([part[1] for part in aside])
    path = np.concatenate([part[2] for part in aside])
    amount = np.concatenate([part[3] for part in aside])
    order = np.lexsort((seed, -amount, node, record[seed]))
    seed, node, path, amount = seed[order], node[order], path[order], amount[order]
    key = record[seed] * (int(node.max(initial=0)) + 1) + node
    first = np.concatenate([[True], key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.bool_)
    return seed[first], node[first], path[first], amount[first]


def _records_of(
    source: IntArray, node: Int32Array, path: FloatArray, first: IntArray, last: IntArray
) -> tuple[IntArray, Int32Array, FloatArray]:
    """Expand (subject, node, path) to (seed record, node, path): a subject's records share
    its paths."""
    per = (last - first)[source]
    owner = np.repeat(np.arange(len(source)), per)
    offset = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    return first[source][owner] + offset, node[owner], path[owner]


def _fold_noisy_or(keep: FloatArray, node: Int32Array, seed: IntArray, amount: FloatArray) -> None:
    """keep[v] *= (1 - amount) for every contribution, per node in seed order.

    Seed order is (subject, record uid), the same in every snapshot; elementwise products in
    rounds (the j-th contribution of every node at once) keep that order without a Python loop
    over contributions. O(c log c + rounds).
    """
    if not len(node):
        return
    order = np.lexsort((seed, node))
    node, factor = node[order], 1.0 - amount[order]
    starts = np.flatnonzero(np.concatenate([[True], node[1:] != node[:-1]]))
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(node))))
    rank = np.arange(len(node)) - starts[group]
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max()) + 2))
    for j in range(len(bounds) - 1):
        chosen = by_rank[bounds[j] : bounds[j + 1]]
        keep[node[chosen]] *= factor[chosen]


# --- one party: score, explanation, clearing date -------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One relation of a path, in the direction risk travels (from the record's subject)."""

    from_party: PartyKey
    to_party: PartyKey
    type: RelationType
    direction: str  # "forward": stored from -> to; "backward": stored to -> from
    weight: float
    role: str | None = None
    stake: float | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    source: str | None = None
    source_row: str | None = None
    source_record: str | None = None  # the source's own id of the relation
    amount: float | None = None  # a guarantee's or an investment's amount, in yuan
    subscribed_capital: float | None = None  # a shareholding's, in yuan
    project_role: str | None = None  # a project participation's part
    matter: str | None = None  # a responsible person's matter (a record id or a case)

    @property
    def stored_from(self) -> PartyKey:
        """The relation's start node as stored (from_party when forward)."""
        return self.from_party if self.direction == "forward" else self.to_party

    @property
    def stored_to(self) -> PartyKey:
        """The relation's end node as stored (to_party when forward)."""
        return self.to_party if self.direction == "forward" else self.from_party


@dataclass(frozen=True)
class RecordRef:
    """The record behind a path."""

    uid: str
    record_id: str | None
    kind: RecordKind
    status: RecordStatus
    under_objection: bool
    authority: str | None
    starts_on: date | None
    ends_on: date | None
    base: float
    disclosure: str | None = None  # its class, when the read kept it (neighbourhood reads)
    disclosure_until: date | None = None  # the last day it is public, when the read kept it


@dataclass(frozen=True)
class ContagionPath:
    """A record and the best path by which it reaches the party, with its contribution."""

    record: RecordRef
    subject: PartyKey
    parties: list[PartyKey]
    hops: list[Hop]
    path_weight: float
    contribution: float


@dataclass(frozen=True)
class PartyScore:
    """The contagion layer's answer for one party."""

    party: PartyKey
    as_of: date
    profile: str
    profile_version: str
    score: float
    clears_on: date | None
    paths: list[ContagionPath]
    records: int  # records that contribute (paths holds the top `explain_paths`)


def score_party(
    store: GraphStore, key: PartyKey, profile: PolicyProfile, as_of: date
) -> PartyScore:
    """One party's contagion score, its ranked explanation and clearing date.

    Reads the party's neighbourhood up to `max_depth` hops (one read per level, then one for
    the records) and runs contagion_scores on it: every path of at most max_depth hops ending
    at the party lies inside that neighbourhood, so the score equals the whole-graph batch's.
    One more read fetches the properties of the relations the explanation shows beyond the
    party's own; when the party is not clear, `max_depth` + 1 more read what the store holds
    from `as_of` on for its clearing date (`clearing_date_from`).
    """
    snapshot = read_neighbourhood(store, [key], as_of, depth=profile.max_depth, profile=profile)
    return score_parties(snapshot, [key], profile, store=store)[key]


def score_parties(
    snapshot: Snapshot,
    keys: Sequence[PartyKey],
    profile: PolicyProfile,
    *,
    store: GraphStore | None = None,
    clearing: bool = True,
    cap: int = UNLIMITED,
) -> dict[PartyKey, PartyScore]:
    """score_party of several parties on one snapshot holding all their neighbourhoods.

    contagion_scores runs once for all of them; each score equals the one its own neighbourhood
    gives (any snapshot holding a party's paths gives the same number). The hops of the
    explanations carry the relations' properties: those the snapshot holds, and, with `store`,
    the others in one read (queries/snapshot.py `relation_details`). With `store`, the clearing
    dates of the parties not clear count what the store holds later (`clearing_date_from`, one
    walk for all of them); without, `clearing_date` on the snapshot alone (its relations and
    record states kept, its pending records counted from their start). Without `clearing` no
    clearing date is sought (`clears_on` None): a screen shows none, and the search costs more
    than the score. The walk of what the store holds later reads at most `cap` relations
    (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`); past it, no clearing date either.
    """
    version = profile_version(profile)
    nodes = {key: snapshot.index_of(key) for key in dict.fromkeys(keys)}
    targets = sorted({node for node in nodes.values() if node is not None})
    result = contagion_scores(snapshot, profile, targets=targets) if targets else None
    ranked: dict[PartyKey, list[Contribution]] = {}
    chains: dict[PartyKey, list[Chain]] = {}
    layers: dict[int, list[Layer]] = {}  # per target, for its paths and its clearing date
    shared_records = _records_and_shared(snapshot.seeds)  # once, for every clearing date
    for key, node in nodes.items():
        if node is None or result is None:
            continue
        ranked[key] = sorted(
            result.contributions[node],
            key=lambda c: (-c.amount, str(snapshot.seeds.uid[c.seed])),
        )
        if ranked[key] or (snapshot.pending is not None and len(snapshot.pending)):
            layers[node] = target_layers(snapshot, profile, node)
        chains[key] = path_chains(
            snapshot, profile, node, ranked[key][: profile.explain_paths], layers.get(node)
        )
    future = None
    cut = False  # the walk of what the store holds later passed `cap`
    if store is not None and result is not None and clearing:
        # what the store holds from the as-of date on, for the clearing dates: one walk for all
        # the parties not already clear (a clear one has none to find)
        uncleared = [
            key
            for key, node in nodes.items()
            if node is not None and result.scores[node] >= profile.clear_below
        ]
        if uncleared:
            future = read_future_neighbourhood(
                store,
                uncleared,
                snapshot.as_of,
                depth=profile.max_depth,
                profile=profile,
                cap=cap,
            )
            cut = future is None
    shown = [relation for found in chains.values() for chain in found for relation in chain[2]]
    details = (
        relation_details(store, snapshot, shown)
        if store is not None
        else {r: p for r in shown if (p := _held_props(snapshot, r)) is not None}
    )
    scores = {}
    for key, node in nodes.items():
        if node is None or result is None:
            scores[key] = PartyScore(key, snapshot.as_of, profile.name, version, 0.0, None, [], 0)
            continue
        contributions = ranked[key]
        scores[key] = PartyScore(
            key,
            snapshot.as_of,
            profile.name,
            version,
            float(result.scores[node]),
            None
            if not clearing or cut
            else clearing_date_from(future, key, profile, float(result.scores[node]))
            if future is not None
            else clearing_date(
                snapshot.seeds,
                profile,
                snapshot.as_of,
                contributions,
                pending_horizon(snapshot, profile, node, contributions, layers.get(node)),
                other_subjects(snapshot.seeds, shared_records, contributions, layers.get(node)),
            ),
            paths_of_chains(snapshot, profile, chains[key], details),
            len(contributions),
        )
    return scores


def _held_props(snapshot: Snapshot, relation: int) -> Mapping[str, Any] | None:
    held = snapshot.relation_props
    return held[relation] if held is not None and relation < len(held) else None


# a contribution, its subject's node, the best path's relations and its hops (from, to, entry)
Chain = tuple[Contribution, int, list[int], list[tuple[int, int, int]]]


def explain_paths(
    snapshot: Snapshot,
    profile: PolicyProfile,
    target: int,
    contributions: Sequence[Contribution],
    details: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[ContagionPath]:
    """The best path of each contribution, from the record's subject to `target`.

    A hop-limited max-product search from the target (the graph is undirected, so the best path
    to the target is the best path from it) with a predecessor per hop count. O(D * m_local).
    Hops carry the properties in `details` (relation index -> properties), else those the
    snapshot holds.
    """
    chains = path_chains(snapshot, profile, target, contributions)
    if details is None:
        shown = {r for chain in chains for r in chain[2]}
        details = {r: p for r in shown if (p := _held_props(snapshot, r)) is not None}
    return paths_of_chains(snapshot, profile, chains, details)


def path_chains(
    snapshot: Snapshot,
    profile: PolicyProfile,
    target: int,
    contributions: Sequence[Contribution],
    layers: list[Layer] | None = None,
) -> list[Chain]:
    """The best path of each contribution as relations and hops (see `explain_paths`);
    `layers` are `target_layers` of the target when already computed."""
    if not contributions:
        return []
    _, _, edge_relation = snapshot.adjacency()
    if layers is None:
        layers = target_layers(snapshot, profile, target)
    chains: list[Chain] = []
    for contribution in contributions:
        subject = int(snapshot.seeds.subject[contribution.seed])
        chain = _chain_to(layers, subject)
        relations = [int(edge_relation[entry]) for _, _, entry in chain]
        chains.append((contribution, subject, relations, chain))
    return chains


def paths_of_chains(
    snapshot: Snapshot,
    profile: PolicyProfile,
    chains: Sequence[Chain],
    details: Mapping[int, Mapping[str, Any]],
) -> list[ContagionPath]:
    """The explanation paths of `path_chains`, each hop with its relation's `details`."""
    weights = relation_weights(snapshot, profile)
    paths = []
    for contribution, subject, relations, chain in chains:
        hops = [
            _hop(snapshot, relation, here, there, float(weights[relation]), details.get(relation))
            for (here, there, _), relation in zip(chain, relations, strict=True)
        ]
        parties = [snapshot.key(subject)] + [snapshot.key(there) for _, there, _ in chain]
        paths.append(
            ContagionPath(
                record=_record_ref(snapshot, contribution.seed, profile),
                subject=snapshot.key(subject),
                parties=parties,
                hops=hops,
                path_weight=contribution.path,
                contribution=contribution.amount,
            )
        )
    return paths


Layer = dict[int, tuple[float, int, int]]  # node -> (value, previous node, CSR entry)


def target_layers(snapshot: Snapshot, profile: PolicyProfile, target: int) -> list[Layer]:
    """The hop-limited max-product search from `target` (`_layers_from`). O(D * m_local)."""
    indptr, indices, _ = snapshot.adjacency()
    factor = hop_factors(snapshot, profile)
    return _layers_from(target, indptr, indices, factor, profile.max_depth)


def _layers_from(
    target: int, indptr: IntArray, indices: Int32Array, factor: FloatArray, depth: int
) -> list[Layer]:
    best: dict[int, float] = {target: 1.0}
    layers: list[Layer] = [{target: (1.0, -1, -1)}]
    for _ in range(depth):
        layer: Layer = {}
        for here, (value, _, _) in layers[-1].items():
            for entry in range(int(indptr[here]), int(indptr[here + 1])):
                there = int(indices[entry])
                candidate = value * float(factor[entry])
                if candidate > best.get(there, 0.0) and candidate > layer.get(there, (0.0,))[0]:
                    layer[there] = (candidate, here, entry)
        for there, (value, _, _) in layer.items():
            best[there] = max(best.get(there, 0.0), value)
        layers.append(layer)
    return layers


def _chain_to(layers: list[Layer], subject: int) -> list[tuple[int, int, int]]:
    """Hops (from, to, CSR entry) from `subject` to the target, by the best layer holding it."""
    candidates = [(layer[subject][0], -k, k) for k, layer in enumerate(layers) if subject in layer]
    if not candidates:
        return []
    _, _, k = max(candidates)
    chain = []
    node = subject
    while k > 0:
        _, previous, entry = layers[k][node]
        chain.append((node, previous, entry))
        node = previous
        k -= 1
    return chain


def _hop(
    snapshot: Snapshot,
    relation: int,
    here: int,
    there: int,
    weight: float,
    details: Mapping[str, Any] | None,
) -> Hop:
    props: Mapping[str, Any] = details or {}
    forward = int(snapshot.rel_src[relation]) == here and int(snapshot.rel_dst[relation]) == there
    stake = snapshot.rel_stake[relation]
    return Hop(
        from_party=snapshot.key(here),
        to_party=snapshot.key(there),
        type=RELATION_TYPES[int(snapshot.rel_type[relation])],
        direction="forward" if forward else "backward",
        weight=weight,
        role=_text(props.get("role")),
        stake=None if np.isnan(stake) else float(stake),
        valid_from=stored_date(props.get("valid_from")),
        valid_to=stored_date(props.get("valid_to")),
        source=_text(props.get("source")),
        source_row=_text(props.get("source_row")),
        source_record=_text(props.get("source_record")),
        amount=_number(props.get("amount")),
        subscribed_capital=_number(props.get("subscribed_capital")),
        project_role=_text(props.get("project_role")),
        matter=_text(props.get("matter")),
    )


def _record_ref(snapshot: Snapshot, seed: int, profile: PolicyProfile) -> RecordRef:
    seeds = snapshot.seeds
    state = seeds.states[seed] if seeds.states is not None else None
    authority = seeds.authorities[seed] if seeds.authorities is not None else None
    bases = seed_bases(seeds, profile, snapshot.as_of)
    return RecordRef(
        uid=str(seeds.uid[seed]),
        record_id=_text(state.record.get("record_id")) if state else None,
        kind=RECORD_KINDS[int(seeds.kind[seed])],
        status=state.status if state else RecordStatus.ACTIVE,
        under_objection=state.under_objection if state else False,
        authority=authority or (_text(state.record.get("authority_name")) if state else None),
        starts_on=state.starts_on if state else None,
        ends_on=state.ends_on if state else None,
        base=float(bases[seed]),
        disclosure=_text(state.record.get("disclosure")) if state else None,
        disclosure_until=stored_date(state.record.get("disclosure_until")) if state else None,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


@dataclass(frozen=True)
class Horizon:
    """What a party's score may do after its as-of date when records the store holds start
    later: the seeds counting then and those pending (sorted by subject and uid), each with the
    best path of its subject to the party, and the days pending records start."""

    seeds: Seeds
    items: list[tuple[int, float]]  # (seed in `seeds`, path product)
    starts: list[date]


def pending_horizon(
    snapshot: Snapshot,
    profile: PolicyProfile,
    target: int,
    contributions: Sequence[Contribution],
    layers: list[Layer] | None = None,
) -> Horizon | None:
    """The Horizon of `target` when the snapshot holds pending records of parties within reach
    (`Snapshot.pending`), else None. O(D * m_local + r log r); `layers` are `target_layers` of
    the target when already computed."""
    pending = snapshot.pending
    if pending is None or not len(pending):
        return None
    if layers is None:
        layers = target_layers(snapshot, profile, target)
    reach = _reach(layers)
    later = [i for i in range(len(pending)) if reach.get(int(pending.subject[i]), 0.0) > 0]
    if not later:
        return None
    current = snapshot.seeds
    count = len(current)
    subject = np.concatenate([current.subject, pending.subject]).astype(np.int32)
    uid = np.concatenate([current.uid, pending.uid]).astype(np.str_)
    order = np.lexsort((uid, subject))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    shared = None
    if current.shared is not None and pending.shared is not None:
        shared = np.concatenate([current.shared, pending.shared]).astype(np.bool_)[order]
    merged = Seeds(
        subject=subject[order],
        kind=np.concatenate([current.kind, pending.kind]).astype(np.int8)[order],
        start=np.concatenate([current.start, pending.start]).astype(np.int64)[order],
        end=np.concatenate([current.end, pending.end]).astype(np.int64)[order],
        uid=uid[order],
        shared=shared,
    )
    # the paths the batch found, and the subject's best path for every other record of a party
    # within reach: a record under min_contribution today may pass it once escalation rises
    paths = {int(position[c.seed]): c.path for c in contributions}
    for i in range(count):
        reached = reach.get(int(current.subject[i]), 0.0)
        if reached > 0:
            paths.setdefault(int(position[i]), reached)
    for i in later:
        paths[int(position[count + i])] = reach[int(pending.subject[i])]
    starts = sorted({date.fromordinal(int(pending.start[i])) for i in later})
    return Horizon(merged, sorted(paths.items()), starts)


def _reach(layers: Sequence[Layer]) -> dict[int, float]:
    """The best path product from the target to every node of its layers. O(D * m_local)."""
    reach: dict[int, float] = {}
    for layer in layers:
        for node, (value, _, _) in layer.items():
            reach[node] = max(reach.get(node, 0.0), value)
    return reach


def other_subjects(
    seeds: Seeds,
    shared_records: tuple[IntArray, npt.NDArray[np.bool_] | None],
    contributions: Sequence[Contribution],
    layers: Sequence[Layer] | None,
) -> list[tuple[int, float]]:
    """(seed, path) of the other subjects within reach of the records of several subjects that
    contribute: the batch counts such a record by its subject that gives the most on the day,
    and which one does may change later, since each subject's escalation is its own (one may
    stay capped at 1 while another decays). `shared_records` is `_records_and_shared(seeds)`.
    O(c) when none of the contributions is of such a record, else O(r + D * m_local)."""
    record, shared = shared_records
    if shared is None or layers is None:
        return []
    counted = {int(c.seed) for c in contributions}
    wanted = {int(record[s]) for s in counted if shared[s]}
    if not wanted:
        return []
    reach = _reach(layers)
    return [
        (int(s), reach[int(seeds.subject[s])])
        for s in np.flatnonzero(shared)
        if int(record[s]) in wanted and int(s) not in counted and int(seeds.subject[s]) in reach
    ]


def clearing_date(
    seeds: Seeds,
    profile: PolicyProfile,
    as_of: date,
    contributions: Sequence[Contribution],
    horizon: Horizon | None = None,
    others: Sequence[tuple[int, float]] = (),
) -> date | None:
    """The first day from which the score stays below `clear_below` if the relations and
    statuses of `as_of` stay as they are, else None: the clearing date of a snapshot scored
    without a store (score_parties); with one, `clearing_date_from` also counts the relations
    and status changes the store holds with later dates.

    With the relations of `as_of` kept, a contribution on day t is
    `base(t) * path` (0 below `min_contribution`): records end on their `ends_on`, escalation
    counts only the records counting on t, and recency keeps halving. With a `horizon`, the
    records the store holds that start after `as_of` count from their start: the score only
    falls between two such starts, so each stretch is searched from the last back. Within a
    stretch the first clear day is found exactly by an exponential then binary search over
    whole days, each step evaluating the score as the batch would. `others` are the paths of
    the other subjects of the records of several subjects (`other_subjects`), which the batch
    may count by another subject later. None when the score is already below `clear_below` on
    `as_of` (nothing to clear) or would clear only after the last representable date.
    O(c log T) per stretch.
    """
    items = [(c.seed, c.path) for c in contributions] + list(others)
    starts: list[date] = []
    if horizon is not None:
        seeds, items, starts = horizon.seeds, horizon.items, horizon.starts
    if _score_on(seeds, profile, as_of, items) < profile.clear_below:
        return None
    return _search_stretches([as_of, *starts], profile, lambda _: (seeds, items))


# at most this many stretches between the days something held changes are searched for one
# party's clearing date (each costs a scoring of its neighbourhood); beyond, it is left null
MAX_CLEARING_STRETCHES = 64


def clearing_date_from(
    future: FutureNeighbourhood, key: PartyKey, profile: PolicyProfile, score: float
) -> date | None:
    """The first day D from which a re-score on D and on every later day finds the party below
    `clear_below`, given everything the store holds (`future`, read_future_neighbourhood): the
    relations current on the as-of date that end later and those that start later, the records
    that start or end later and the status changes that take effect later, within `max_depth`
    hops. None when `score` (on the as-of date) is already below `clear_below`, when it would
    clear only after the last representable date, or when more than MAX_CLEARING_STRETCHES
    stretches would have to be searched (docs/risk-model.md, "Clearing date").

    The days on which something held changes (`future.days`) split the days from the as-of date
    on into stretches; within one the relations and statuses are fixed, records only end and
    recency only halves, so the score only falls. Each stretch is scored on its first day as
    the batch would (`snapshot_on`, contagion_scores: the paths and records of that day), then
    searched as `clearing_date` searches one (`_first_clear`, exact to the day); stretches are
    searched from the last back, and the search stops at the first (from the back) not clear on
    its last day. Time O(s * (m + r k + X log X + D m_local + c log T)) for s stretches searched
    (at most MAX_CLEARING_STRETCHES), m relations, r records of k status changes, X the
    propagation's expansions and c the records within reach, T the days searched.
    """
    if score < profile.clear_below:
        return None
    target = future.index_of(key)
    if target is None:
        return None
    bounds = [future.as_of, *future.days]
    answer = _search_stretches(
        bounds,
        profile,
        lambda k: _stretch_items(future, profile, target, bounds[k]),
        MAX_CLEARING_STRETCHES,
    )
    return None if answer == future.as_of else answer


def _search_stretches(
    bounds: Sequence[date],
    profile: PolicyProfile,
    stretch: Callable[[int], tuple[Seeds, Sequence[tuple[int, float]]]],
    limit: int | None = None,
) -> date | None:
    """The first day from which the score stays below `clear_below`, the days from `bounds[0]`
    on split at the later `bounds` into stretches within which it only falls; `stretch(k)` gives
    the seeds and (seed, path) items of stretch k. Searched from the last stretch back: the
    first (from the back) not clear on its last day ends the search, and the day after it is
    the answer. None when the last stretch never clears, or when more than `limit` stretches
    would be searched. O(s * c log T) beyond what `stretch` costs."""
    answer: date | None = None
    for searched, k in enumerate(range(len(bounds) - 1, -1, -1)):
        if limit is not None and searched >= limit:
            return None
        seeds, items = stretch(k)
        lo = bounds[k]
        hi = bounds[k + 1] if k + 1 < len(bounds) else None
        if hi is not None:
            last = hi - timedelta(days=1)
            if _score_on(seeds, profile, last, items) >= profile.clear_below:
                return answer  # not clear at the end of this stretch: clear from the next
        first = _first_clear(seeds, profile, items, lo, hi)
        if first is None:
            return None
        answer = first
        if first > lo:
            return answer
    return answer


def _stretch_items(
    future: FutureNeighbourhood, profile: PolicyProfile, target: int, day: date
) -> tuple[Seeds, list[tuple[int, float]]]:
    """The seeds counting on `day` and their (seed, path) to `target`: the paths the batch
    finds that day, and the best path of its subject for every other record within reach (a
    record under min_contribution may pass it, or count by another of its subjects, later in
    the stretch)."""
    snapshot = future.snapshot_on(day, profile)
    result = contagion_scores(snapshot, profile, targets=[target])
    paths = {int(c.seed): c.path for c in result.contributions[target]}
    reach = _reach(target_layers(snapshot, profile, target))
    for seed, subject in enumerate(snapshot.seeds.subject.tolist()):
        reached = reach.get(int(subject), 0.0)
        if reached > 0:
            paths.setdefault(seed, reached)
    return snapshot.seeds, sorted(paths.items())


def _first_clear(
    seeds: Seeds,
    profile: PolicyProfile,
    items: Sequence[tuple[int, float]],
    lo: date,
    hi: date | None,
) -> date | None:
    """The first day of [lo, hi) (hi None: unbounded) on which the non-increasing score is
    below `clear_below`, None when there is none."""
    if _score_on(seeds, profile, lo, items) < profile.clear_below:
        return lo
    last = date.max if hi is None else hi - timedelta(days=1)
    step = 1
    while True:
        probe = last if (last - lo).days <= step else lo + timedelta(days=step)
        if _score_on(seeds, profile, probe, items) < profile.clear_below:
            break
        if probe == last:
            return None
        step *= 2
    below, above = probe, lo  # above: not clear, below: clear
    while (below - above).days > 1:
        middle = above + timedelta(days=(below - above).days // 2)
        if _score_on(seeds, profile, middle, items) < profile.clear_below:
            below = middle
        else:
            above = middle
    return below


def _score_on(
    seeds: Seeds, profile: PolicyProfile, day: date, items: Sequence[tuple[int, float]]
) -> float:
    """The score on `day` from `items` (seed, path), folded as contagion_scores folds it: the
    records of one subject in seed order, then those of several subjects, each once by its
    largest contribution, in the order of the seed that gives it."""
    bases = seed_bases(seeds, profile, day)
    record, shared = _records_and_shared(seeds)
    keep = 1.0
    best: dict[int, tuple[float, int]] = {}  # record -> (amount, seed), records of several
    for seed, path in sorted(items):
        amount = float(bases[seed]) * path
        if amount < profile.min_contribution:
            continue
        if shared is not None and shared[seed]:
            held = best.get(int(record[seed]))
            if held is None or amount > held[0]:
                best[int(record[seed])] = (amount, seed)
            continue
        keep *= 1.0 - amount
    for amount, _ in sorted(best.values(), key=lambda held: held[1]):
        keep *= 1.0 - amount
    return 1.0 - keep


# --- re-scoring after a change --------------------------------------------------------------


class RescoreRefused(ValueError):
    """The scores the nodes hold are of a profile this process does not have (by name and
    version): re-scoring under another would mix two runs on the nodes."""


def rescore(
    store: GraphStore,
    subjects: Sequence[PartyKey],
    profile: PolicyProfile | None = None,
    as_of: date | None = None,
    *,
    profiles: Mapping[str, PolicyProfile] | None = None,
) -> dict[PartyKey, float]:
    """Re-score and write the parties a change of `subjects`' records can reach.

    The entry point for callers that know only the subjects (the API's record changes): without
    `profile` and `as_of`, under the profile and on the date of the run whose scores the nodes
    hold (queries/scores.py `stored_run`), so that the stored scores stay those of one full
    re-score; nothing is written when no party holds a score (no run to keep up to date).
    `profiles` are the profiles known by name (the built-ins when None); raises RescoreRefused
    when the run's profile is not among them at the version it ran with.
    """
    from credgraph.queries.profiles import BUILTIN_PROFILES
    from credgraph.queries.scores import rescore_reachable, stored_run

    if profile is None or as_of is None:
        run = stored_run(store)
        if run is None:
            return {}
        if profile is None:
            profile = (profiles or BUILTIN_PROFILES).get(run.profile)
            if profile is None or profile_version(profile) != run.version:
                raise RescoreRefused(
                    f"the stored scores are of profile {run.profile!r} version {run.version}, "
                    "which this process does not have: run `credgraph risk score` again"
                )
        as_of = as_of or run.as_of
    rescored: dict[PartyKey, float] = rescore_reachable(store, subjects, profile, as_of=as_of)
    return rescored


# a load that changed more negative records and relation ends (together) than this re-scores
# nothing itself: their reach is most of the graph, which `credgraph risk score` re-scores faster
# in one run
MAX_RESCORE_RECORDS = 2000

SUBJECTS_OF_SANCTION_EVENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (p)-[:SUBJECT_OF]->(:SanctionEvent {uid: uid})
RETURN DISTINCT p.uid AS uid, labels(p) AS labels
"""


@dataclass(frozen=True)
class LoadRescore:
    """What a load's re-score did: the parties it re-scored (None: it re-scored nothing, and
    `note` says why, `skipped` in a word: `over_cap` or `unknown_profile`)."""

    rescored: int | None
    note: str | None = None
    skipped: str | None = None


def rescore_records(
    store: GraphStore,
    records: Sequence[str],
    *,
    parties: Sequence[PartyKey] = (),
    more_parties: bool = False,
    profiles: Mapping[str, PolicyProfile] | None = None,
) -> LoadRescore:
    """Re-score what a load changed, under the stored run (`rescore`): the parties the negative
    records `records` (uids: loaded, or whose status a load changed) can reach, and those the
    `parties` can reach (both ends of every relation the load created, changed or ended: a path
    through such a relation to an affected party reaches one of its ends first, within
    max_depth). Nothing when no party holds a score, and else only a note when there are more
    than MAX_RESCORE_RECORDS of them together (or `more_parties`: the loader stopped keeping
    them) or the stored run's profile is unknown here. One read for the records' subjects, then
    `rescore_reachable`'s."""
    if not records and not parties and not more_parties:
        return LoadRescore(0)
    if more_parties or len(records) + len(parties) > MAX_RESCORE_RECORDS:
        from credgraph.queries.scores import stored_run

        if stored_run(store) is None:  # no scores to keep up to date: nothing to advise
            return LoadRescore(0)
        return LoadRescore(None, _too_many(len(records), len(parties), more_parties), "over_cap")
    rows = (
        store.read(
            SUBJECTS_OF_SANCTION_EVENTS, {"uids": list(records)}, operation="risk.load_subjects"
        )
        if records
        else []
    )
    subjects = {party_key(str(row["uid"]), row["labels"]) for row in rows} | set(parties)
    try:
        return LoadRescore(len(rescore(store, sorted(subjects), profiles=profiles)))
    except RescoreRefused as exc:
        return LoadRescore(None, str(exc), "unknown_profile")


def _too_many(records: int, parties: int, more_parties: bool) -> str:
    """What a load changed that was too much to re-score, and what to do instead."""
    advice = "run `credgraph risk score` to bring the stored scores up to date"
    if not parties and not more_parties:
        return f"{records:,} negative records changed (more than {MAX_RESCORE_RECORDS:,}): {advice}"
    if more_parties and not parties:
        relations = "relations, not counted"
    else:
        relations = f"the relations of {'at least ' if more_parties else ''}{parties:,} parties"
    return (
        f"{records:,} negative records and {relations} (created, changed or ended) changed "
        f"(more than {MAX_RESCORE_RECORDS:,} together): {advice}"
    )


def top_parties(scores: FloatArray, k: int) -> list[int]:
    """The k highest-scoring nodes, best first (ties by node index). O(n log k)."""
    positive = np.flatnonzero(scores > 0)
    best = heapq.nlargest(k, positive.tolist(), key=lambda i: (scores[i], -i))
    return [int(i) for i in best]
