"""Dishonest-party tracing: every party within k steps that has an active negative record.

From one party the walk goes breadth first over the chosen party-to-party relations (current
ones on the as-of date unless former ones are asked for), one read per level and label, so a
depth-k trace costs at most 2k reads for the walk, one batched read per label for the records
of every party reached, and one per label for the names on the answer's paths. Each hit comes
with one shortest path from the start (every hop with its relation, direction, role, stake,
dates and source) and its negative records on the as-of date: those that count (active, or under
objection when the profile counts objections) and, annotated, those under objection that do
not.

Caps (docs/queries.md, "Investigations"): a level reads at most `cap` relations (default
5,000); when the cap cuts a level short the walk stops there, `truncated` is set and
`explored_depth` says how deep it got. At most `limit` hits are returned (default 500), nearest
first; `found` counts them all.

The walk itself (`walk_with`) reads each level with queries/traversal.py `read_level` (the statement
and relation filter linked parties use) and is shared with queries/groups.py, which runs it
without a depth limit but with a cap on the parties reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from credgraph.graph.store import GraphStore, native
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.lookup import ArgumentError, PartyKey, fetch_parties
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.records import RecordState, fetch_record_states
from credgraph.queries.traversal import (
    DEFAULT_CAP,
    HOP_PROPERTIES,
    Hop,
    RelationFilter,
    read_level,
    relation_filter,
    validate_depth,
)

DEFAULT_LIMIT = 500


class Step(Hop):
    """One relation, as stored (a traversal `Hop`): `start` and `end` follow its direction."""

    @property
    def start(self) -> PartyKey:
        return self.from_key

    @property
    def end(self) -> PartyKey:
        return self.to_key


@dataclass
class Walk:
    """What a breadth-first walk reached: each party's distance and the step that reached it."""

    root: PartyKey
    distance: dict[PartyKey, int]
    parent: dict[PartyKey, Step] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)  # every relation read, once each
    explored_depth: int = 0
    truncated: bool = False
    # the depth limit stopped the walk with parties still to expand (a group's bound)
    frontier_left: bool = False


def walk_with(
    store: GraphStore,
    root: PartyKey,
    chosen: RelationFilter,
    *,
    depth: int | None,
    cap: int = DEFAULT_CAP,
    max_parties: int | None = None,
) -> Walk:
    """Breadth-first from `root` over the relations `chosen` lets through, direction ignored.

    `depth` None walks until nothing new is reached. Each level is one `traversal.read_level`
    (one read per label). A level reads at most `cap` relations and the walk keeps at most
    `max_parties` parties; when either cuts it short it stops with `truncated` set.
    O(levels x labels) reads; O(V + E) work in what it reads.
    """
    result = Walk(root, {root: 0})
    seen_steps: set[tuple[Any, ...]] = set()
    frontier = [root]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        hops, cut = read_level(store, frontier, chosen, cap)
        result.explored_depth = level
        frontier = []
        for parent, hop in hops:
            step = Step(hop.type, hop.from_key, hop.to_key, hop.properties)
            if step.identity() not in seen_steps:
                seen_steps.add(step.identity())
                result.steps.append(step)
            other = step.other(parent)
            if other in result.distance:
                continue
            if max_parties is not None and len(result.distance) >= max_parties:
                cut = True
                continue
            result.distance[other] = level
            result.parent[other] = step
            frontier.append(other)
        if cut:
            result.truncated = True
            break
    result.frontier_left = bool(frontier) and not result.truncated
    return result


def _path_to(parent: Mapping[PartyKey, Step], root: PartyKey, target: PartyKey) -> list[Step]:
    """The steps from `root` to `target` along the walk's parent pointers. O(path length)."""
    steps: list[Step] = []
    key = target
    while key != root:
        step = parent[key]
        steps.append(step)
        key = step.other(key)
    steps.reverse()
    return steps


def hop_summary(
    hop: Hop,
    walked_from: PartyKey,
    properties: Sequence[str] = HOP_PROPERTIES,
    convert: Callable[[Any], Any] = native,
) -> dict[str, Any]:
    """A hop as answers show it: from, to, relation, direction (`out` when the relation points
    the way the answer walks), then `properties` of the relation, each through `convert`."""
    summary: dict[str, Any] = {
        "from": walked_from,
        "to": hop.other(walked_from),
        "type": hop.type.value,
        "direction": "out" if hop.from_key == walked_from else "in",
    }
    for name in properties:
        summary[name] = convert(hop.properties.get(name))
    return summary


def _path_summary(root: PartyKey, steps: Sequence[Step]) -> list[dict[str, Any]]:
    hops = []
    at = root
    for step in steps:
        hops.append(hop_summary(step, at))
        at = step.other(at)
    return hops


def party_summary(key: PartyKey, node: Mapping[str, Any] | None) -> dict[str, Any]:
    """A party as investigators see it: a person only by name and masked ID number."""
    node = node or {}
    summary: dict[str, Any] = {"label": key.label.value, "uid": key.uid, "name": node.get("name")}
    if key.label is Label.NATURAL_PERSON:
        summary["id_masked"] = node.get("id_masked")
    else:
        summary["uscc"] = node.get("uscc")
        summary["registration_number"] = node.get("registration_number")
        summary["kind"] = node.get("kind")
    return summary


@dataclass(frozen=True)
class TracedRecord:
    record_id: str | None
    uid: str
    kind: str
    status: str
    counts: bool
    under_objection: bool
    authority: str | None
    sector: str | None
    starts_on: date | None
    ends_on: date | None


@dataclass(frozen=True)
class TraceHit:
    party: PartyKey
    distance: int
    path: list[dict[str, Any]]
    records: list[TracedRecord]
    steps: tuple[Step, ...] = ()  # the path's relations as read, from the root on


@dataclass
class TraceResult:
    root: PartyKey
    as_of: date
    depth: int
    relation_types: tuple[RelationType, ...]
    items: list[TraceHit] = field(default_factory=list)
    found: int = 0
    explored_depth: int = 0
    truncated: bool = False
    parties_reached: int = 0
    parties: dict[PartyKey, dict[str, Any]] = field(default_factory=dict)


def trace_dishonest(
    store: GraphStore,
    root: PartyKey,
    profile: PolicyProfile,
    *,
    depth: int = 2,
    relation_types: Sequence[RelationType] = PARTY_RELATIONS,
    as_of: date | None = None,
    include_former: bool = False,
    cap: int = DEFAULT_CAP,
    limit: int = DEFAULT_LIMIT,
    describe: bool = True,
) -> TraceResult:
    """Every party within `depth` steps of `root` with a negative record counting on `as_of`.

    The root itself is not a hit (its own records are the status layer's). O(depth) reads for
    the walk, one per label for records and, when `describe`, one per label for the names on
    the answer (`parties`; the API draws its parties itself and leaves them out).
    """
    validate_depth(depth)
    if limit < 1:
        raise ArgumentError("limit", "must be at least 1")
    chosen = relation_filter(relation_types, as_of=as_of, include_former=include_former)
    day = chosen.as_of
    walked = walk_with(store, root, chosen, depth=depth, cap=cap)
    reached = [key for key in walked.distance if key != root]
    states = fetch_record_states(
        store,
        reached,
        day,
        count_objections=profile.count_under_objection,
        default_term=profile.default_term,
    )
    hits = []
    for key in reached:
        records = _traced_records(states.get(key, []))
        if any(r.counts for r in records):
            hits.append((walked.distance[key], key.uid, key, records))
    hits.sort(key=lambda hit: (hit[0], hit[1]))
    result = TraceResult(
        root,
        day,
        depth,
        chosen.types,
        found=len(hits),
        explored_depth=walked.explored_depth,
        truncated=walked.truncated or len(hits) > limit,
        parties_reached=len(reached),
    )
    for distance, _, key, records in hits[:limit]:
        steps = _path_to(walked.parent, root, key)
        result.items.append(
            TraceHit(key, distance, _path_summary(root, steps), records, tuple(steps))
        )
    if describe:
        shown = {root} | {hop["to"] for item in result.items for hop in item.path}
        result.parties = described(store, shown)
    return result


def described(store: GraphStore, keys: Iterable[PartyKey]) -> dict[PartyKey, dict[str, Any]]:
    """The parties as investigators' answers show them (`party_summary`): one read per label."""
    keys = list(keys)
    nodes = fetch_parties(store, keys)
    return {key: party_summary(key, nodes.get(key)) for key in keys}


def _traced_records(states: Iterable[RecordState]) -> list[TracedRecord]:
    """The negative records a trace shows: those counting, and those under objection.

    Pure; O(n log n) in the records.
    """
    shown = [s for s in states if s.negative and s.listed and (s.counts or s.under_objection)]
    shown.sort(key=lambda s: (not s.counts, s.kind.value, s.uid))
    return [
        TracedRecord(
            record_id=_text(s.record.get("record_id")),
            uid=s.uid,
            kind=s.kind.value,
            status=s.status.value,
            counts=s.counts,
            under_objection=s.under_objection,
            authority=_text(s.record.get("authority_name")),
            sector=_text(s.record.get("sector")),
            starts_on=s.starts_on,
            ends_on=s.ends_on,
        )
        for s in shown
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
