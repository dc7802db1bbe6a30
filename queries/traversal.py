"""Linked parties: a breadth-first walk from one party over party-to-party relations.

The walk reads one level at a time, one statement per level and label (at most 2 x depth round
trips), direction ignored. A relation counts on the as-of date when it had started
(`valid_from` null or on/before the date) and had not ended (`valid_to` null or after the
date); with `include_former` ended relations count too. `min_stake` drops shareholdings below
it (a shareholding without a stake counts as 0). Record links are never followed, and
`POSSIBLY_SAME_AS` only when asked for (`follow_same_as`). A hop carries the relation's key,
role, matter, project role, stake, amount, dates, source, source record, source row and
subscribed capital, not its whole property map: the load-run timestamps are not needed and cost
time to decode.

Caps (docs/queries.md): a level reads at most `cap` relations (default 5,000, the setting
`CREDGRAPH_TRAVERSAL_CAP`). When the cap cuts a level short the parties read so far are kept,
the walk stops there, `truncated` is set and `explored_depth` says how deep it got: a hub with
thousands of links costs one capped read, never a stall.

Hubs (a party with at least `HUB_RELATIONS` relations in one level read, such as a professional
officer on hundreds of boards) are read by every walk that comes near them. A `HubCache`
(queries/caches.py), bound to one data version (`HubCache.bound`), keeps their relations, and a
level read then asks the store only for the rest of its frontier. A walk the cap does not cut
gives the same answer with it or without it; a cut one may keep other relations of the level it
cut (which ones was never fixed).

Answers are deterministic for a given graph: a party reached at depth d is listed with the
first hop that reached it, chosen by the order of the parent's key, the relation type, and the
relation's key; items are ordered by depth, then party key (label, uid). `page` cuts the items
into pages with opaque cursors.

The answer is a network, not only the walk's tree: `relations` holds every distinct relation
(told apart by `Hop.identity`) whose two ends are both in the answer (the root or a listed
party). The walk reads all of them but those between parties whose own relations it did not
read: the last level's (and, when the cap cut a level, that level's and the one before). One
more read per label (`CLOSE_RELATIONS_OF_*`, asked for with `close_relations`) fetches the
relations among those parties, with the same filters and the same cap; `relations_truncated`
says the cap cut that read short. A page carries the relations its parties add to the pages
before it (`relations_on_page`), so the pages of an answer carry every relation exactly once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, LiteralString, NamedTuple

from credgraph.graph import clock
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.caches import FrontierRelations, HubCache, Hubs, LruCache, Observer
from credgraph.queries.lookup import ArgumentError, PartyKey

MAX_DEPTH = 4
DEFAULT_CAP = 5000
MAX_PAGE = 1000
DEFAULT_PAGE = 50

# A level read returns one row (none on ArcadeDB when no party has a relation): a list of
# [uid, relations] per frontier party, its relations collected as lists [type, stored from the
# party, other end's uid, other end is a legal person, then the properties a hop shows in
# `RELATION_FIELDS` order]. The driver's cost is per row (two socket reads and a record each)
# and per temporal value: a row per relation, with dates as the driver's Date objects, was half
# of a level read's time, and a row per party still cost a sixth more client CPU per relation
# (bench/walk_read_bench.py, docs/benchmarks.md). `LIMIT $cap` comes before the collect, so a
# hub's relations are cut in the store, not read in full and cut in Python.
NEIGHBOURS_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:LegalPerson {uid: uid})-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF
    |RESPONSIBLE_FOR|REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF
    |SHAREHOLDER_OF|INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN
    |POSSIBLY_SAME_AS]-(b)
WHERE type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (type(r) <> 'SHAREHOLDER_OF' OR coalesce(r.stake, 0.0) >= $min_stake)
WITH uid, a, r, b
LIMIT $cap
WITH uid, collect([type(r), startNode(r) = a, b.uid, b:LegalPerson, r.key, r.role, r.matter,
                   r.project_role, r.stake, r.amount, toString(r.valid_from),
                   toString(r.valid_to), r.source, r.source_record, r.source_row,
                   r.subscribed_capital]) AS relations
RETURN collect([uid, relations]) AS parties
"""

NEIGHBOURS_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:NaturalPerson {uid: uid})-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF
    |RESPONSIBLE_FOR|REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF
    |SHAREHOLDER_OF|INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN
    |POSSIBLY_SAME_AS]-(b)
WHERE type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (type(r) <> 'SHAREHOLDER_OF' OR coalesce(r.stake, 0.0) >= $min_stake)
WITH uid, a, r, b
LIMIT $cap
WITH uid, collect([type(r), startNode(r) = a, b.uid, b:LegalPerson, r.key, r.role, r.matter,
                   r.project_role, r.stake, r.amount, toString(r.valid_from),
                   toString(r.valid_to), r.source, r.source_record, r.source_row,
                   r.subscribed_capital]) AS relations
RETURN collect([uid, relations]) AS parties
"""

# The pattern names every party relation (a test keeps it in step with PARTY_RELATIONS): the
# store then walks only those edges, never a party's record links, and `$types` narrows them.
_NEIGHBOURS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: NEIGHBOURS_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: NEIGHBOURS_OF_NATURAL_PERSONS,
}

# The relations among parties whose own relations the walk did not read ($ends: their uids,
# both labels; $uids: those of one label). Each relation is matched from its start node only, so
# it comes once although both its ends are in $ends. Same filters and rows as the walk's reads.
CLOSE_RELATIONS_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:LegalPerson {uid: uid})-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF
    |RESPONSIBLE_FOR|REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF
    |SHAREHOLDER_OF|INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN
    |POSSIBLY_SAME_AS]->(b)
WHERE b.uid IN $ends
  AND type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (type(r) <> 'SHAREHOLDER_OF' OR coalesce(r.stake, 0.0) >= $min_stake)
WITH uid, r, b
LIMIT $cap
WITH uid, collect([type(r), true, b.uid, b:LegalPerson, r.key, r.role, r.matter,
                   r.project_role, r.stake, r.amount, toString(r.valid_from),
                   toString(r.valid_to), r.source, r.source_record, r.source_row,
                   r.subscribed_capital]) AS relations
RETURN collect([uid, relations]) AS parties
"""

CLOSE_RELATIONS_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (a:NaturalPerson {uid: uid})-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF
    |RESPONSIBLE_FOR|REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF
    |SHAREHOLDER_OF|INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN
    |POSSIBLY_SAME_AS]->(b)
WHERE b.uid IN $ends
  AND type(r) IN $types
  AND (b:LegalPerson OR b:NaturalPerson)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (type(r) <> 'SHAREHOLDER_OF' OR coalesce(r.stake, 0.0) >= $min_stake)
WITH uid, r, b
LIMIT $cap
WITH uid, collect([type(r), true, b.uid, b:LegalPerson, r.key, r.role, r.matter,
                   r.project_role, r.stake, r.amount, toString(r.valid_from),
                   toString(r.valid_to), r.source, r.source_record, r.source_row,
                   r.subscribed_capital]) AS relations
RETURN collect([uid, relations]) AS parties
"""

_CLOSE_RELATIONS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: CLOSE_RELATIONS_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: CLOSE_RELATIONS_OF_NATURAL_PERSONS,
}


@dataclass(frozen=True)
class RelationFilter:
    """Which relations a walk follows; built by `relation_filter`, which checks every field."""

    types: tuple[RelationType, ...]
    as_of: date
    include_former: bool
    min_stake: float
    follow_same_as: bool

    def type_names(self) -> list[str]:
        names = [t.value for t in self.types]
        if self.follow_same_as:
            names.append(RelationType.POSSIBLY_SAME_AS.value)
        return names

    def describe(self) -> dict[str, Any]:
        return {
            "relation_types": [t.value for t in self.types],
            "as_of": self.as_of.isoformat(),
            "include_former": self.include_former,
            "min_stake": self.min_stake,
            "follow_same_as": self.follow_same_as,
        }


def relation_filter(
    relation_types: Iterable[RelationType] = PARTY_RELATIONS,
    *,
    as_of: date | None = None,
    include_former: bool = False,
    min_stake: float = 0.0,
    follow_same_as: bool = False,
) -> RelationFilter:
    """A checked filter; ArgumentError names `relation_types` or `min_stake` when refused."""
    chosen = tuple(dict.fromkeys(relation_types))
    if not chosen:
        raise ArgumentError("relation_types", "choose at least one relation type")
    for relation in chosen:
        if relation not in PARTY_RELATIONS:
            hint = " (use follow_same_as)" if relation is RelationType.POSSIBLY_SAME_AS else ""
            raise ArgumentError(
                "relation_types", f"{relation.value} is not a party-to-party relation{hint}"
            )
    if not 0.0 <= min_stake <= 1.0:
        raise ArgumentError("min_stake", f"must be between 0 and 1, not {min_stake}")
    return RelationFilter(
        chosen, as_of or clock.today(), include_former, float(min_stake), follow_same_as
    )


class Hop(NamedTuple):
    """One stored relation between two parties: `from_key` and `to_key` follow its direction.

    Named tuples, as `PartyKey`: a walk makes one per relation it reads.
    """

    type: RelationType
    from_key: PartyKey  # the relation's start node
    to_key: PartyKey  # the relation's end node
    properties: Mapping[str, Any]

    def other(self, key: PartyKey) -> PartyKey:
        return self.to_key if key == self.from_key else self.from_key

    def identity(self) -> tuple[Any, ...]:
        """What tells two stored relations apart (the same relation read from both ends)."""
        distinct = self.properties.get("key") or self.properties.get("source_record")
        return (self.type.value, self.from_key, self.to_key, str(distinct))

    def order(self) -> tuple[Any, ...]:
        return (self.type.value, self.from_key, self.to_key, str(self.properties.get("key")))

    def rank(self) -> tuple[Any, ...]:
        """Which of the relations between two parties an answer shows: by type, then key (its
        ends only part two relations without a key); not `order`, which puts the start first."""
        return (self.type.value, str(self.properties.get("key")), self.from_key, self.to_key)


class Linked(NamedTuple):
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
    depth: int = 0
    filter: RelationFilter | None = None
    cap: int = DEFAULT_CAP
    # relations read, per level (the cost of the answer)
    relations_read: list[int] = field(default_factory=list)
    # every distinct relation between two parties of the answer (the root included), ordered
    relations: list[Hop] = field(default_factory=list)
    # the read of the relations among the unexpanded parties: rows read (None: not run), cut
    close_relations_read: int | None = None
    relations_truncated: bool = False

    def fingerprint(self) -> str:
        """What a cursor is bound to: the root and every argument of the walk."""
        described = self.filter.describe() if self.filter else {}
        text = json.dumps(
            [self.root.label.value, self.root.uid, self.depth, self.cap, described],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def validate_depth(depth: int, argument: str = "depth", most: int = MAX_DEPTH) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= most:
        raise ArgumentError(argument, f"must be a whole number from 1 to {most}, not {depth!r}")
    return depth


def validate_cap(cap: int) -> int:
    if cap < 1:
        raise ArgumentError("cap", f"must be at least 1, not {cap}")
    return cap


def linked_parties(
    store: GraphStore,
    root: PartyKey,
    *,
    depth: int,
    relation_types: Sequence[RelationType] = PARTY_RELATIONS,
    as_of: date | None = None,
    include_former: bool = False,
    min_stake: float = 0.0,
    follow_same_as: bool = False,
    cap: int = DEFAULT_CAP,
    close_relations: bool = False,
    hubs: Hubs | None = None,
) -> LinkedResult:
    """Parties within `depth` hops of `root`, each with its depth and the hop that reached it,
    and every relation among them (`relations`).

    Breadth-first over the store: at most 2 x depth reads, plus 2 for the relations among the
    parties the walk did not expand, and `relations` filled, only with `close_relations`
    (without it `relations` is empty). The relations of the hubs that `hubs` keeps
    (`HubCache.bound`) come from it, not from the store. O(V + E log E)
    work in the parties and relations read, bounded by `cap` relations per level and `cap` rows
    for the closing read (which scans the relations of the unexpanded parties and returns those
    whose other end is one of them). Raises ArgumentError naming `depth`, `relation_types`,
    `min_stake` or `cap`.
    """
    chosen = relation_filter(
        relation_types,
        as_of=as_of,
        include_former=include_former,
        min_stake=min_stake,
        follow_same_as=follow_same_as,
    )
    return walk_linked(
        store, root, depth, chosen, cap=cap, close_relations=close_relations, hubs=hubs
    )


def walk_linked(
    store: GraphStore,
    root: PartyKey,
    depth: int,
    chosen: RelationFilter,
    *,
    cap: int = DEFAULT_CAP,
    close_relations: bool = False,
    hubs: Hubs | None = None,
) -> LinkedResult:
    """`linked_parties` with its filter already checked (`relation_filter`)."""
    validate_depth(depth)
    validate_cap(cap)
    result = LinkedResult(root, depth=depth, filter=chosen, cap=cap)
    seen = {root}
    frontier = [root]
    read: list[Hop] = []
    # parties whose relations the walk has not read in full: the last level reached, and the
    # level a cut read was expanding
    unread: list[PartyKey] = []
    for level in range(1, depth + 1):
        if not frontier:
            break
        hops, cut = read_level(store, frontier, chosen, cap, hubs)
        result.explored_depth = level
        result.relations_read.append(len(hops))
        read.extend(hop for _, hop in hops)
        reached = _first_hops(hops, seen)
        for key in sorted(reached):
            parent, hop = reached[key]
            result.items.append(Linked(key, level, parent, hop))
        seen.update(reached)
        if cut:
            result.truncated = True
            unread = [*frontier, *sorted(reached)]
            break
        frontier = sorted(reached)
        unread = frontier
    if close_relations and unread:
        closing, cut = _read_close_relations(store, unread, chosen, cap)
        result.close_relations_read = len(closing)
        result.relations_truncated = cut
        read.extend(closing)
    elif close_relations:
        result.close_relations_read = 0
    # sorting thousands of relations costs tens of milliseconds: only when they are asked for
    result.relations = _distinct_relations(read, seen) if close_relations else []
    return result


class LinkedCache:
    """Walks already answered (`walk_linked`), by database, data version and every argument of
    the walk, the least recently used dropped first: walks holding at most `relations`
    relations in all (their parties' hops and the relations among them; 0 keeps none, and a
    walk larger than that is not kept). A bound in relations, not walks, bounds the memory a
    hub's capped walks can take.

    Right without expiry, as the API's other caches (queries/caches.py): every committed load
    chunk and every record change moves the data version, which is part of the key, and an
    as-of date (today's when none is given) is part of the filter. So the pages of one answer
    come from one walk: paging through a hub's neighbourhood walks it once. A kept walk is
    shared: callers must not change it. O(1) to find; a miss costs the walk.
    """

    def __init__(self, relations: int, observer: Observer | None = None) -> None:
        self._cache: LruCache[tuple[Any, ...], LinkedResult] = LruCache(
            relations, observer, weigh=_relations_held
        )

    def walk(
        self,
        store: GraphStore,
        data_token: str,
        root: PartyKey,
        depth: int,
        chosen: RelationFilter,
        *,
        cap: int = DEFAULT_CAP,
        close_relations: bool = False,
        hubs: HubCache | None = None,
    ) -> LinkedResult:
        """`walk_linked`, answered from the cache when the same walk was made under the data
        version `data_token` (`DataVersion.token()`). A walk that reads the relations among its
        farthest parties also answers for one that does not ask for them. A walk not kept takes
        the relations of the hubs that `hubs` keeps under `data_token` from it."""
        entry = (store.database, data_token, root, depth, chosen, cap)
        asked = [(*entry, True)] if close_relations else [(*entry, False), (*entry, True)]
        kept = self._cache.first_of(asked)
        if kept is not None:
            return kept[1]
        bound = hubs.bound(store, data_token) if hubs is not None else None
        result = walk_linked(
            store, root, depth, chosen, cap=cap, close_relations=close_relations, hubs=bound
        )
        self._cache.put_many({(*entry, close_relations): result})
        return result


def _relations_held(walk: LinkedResult) -> int:
    return max(1, len(walk.items) + len(walk.relations))


def _distinct_relations(hops: Iterable[Hop], parties: set[PartyKey]) -> list[Hop]:
    """Each relation of `hops` once (by `Hop.identity`) when both its ends are in `parties`,
    ordered by type, start, end and key. O(E log E)."""
    unique: dict[tuple[Any, ...], Hop] = {}
    for hop in hops:
        if hop.from_key in parties and hop.to_key in parties:
            unique.setdefault(hop.identity(), hop)
    return [unique[k] for k in sorted(unique, key=lambda k: (unique[k].order(), k))]


def _read_close_relations(
    store: GraphStore, parties: Sequence[PartyKey], chosen: RelationFilter, cap: int
) -> tuple[list[Hop], bool]:
    """The relations whose two ends are both among `parties`, each once: one read per label.

    Returns at most `cap` relations in all; the flag says the cap cut the read short.
    """
    ends = sorted({key.uid for key in parties})
    wanted = set(parties)
    found: list[Hop] = []
    for label in (Label.LEGAL_PERSON, Label.NATURAL_PERSON):
        uids = sorted({key.uid for key in parties if key.label is label})
        if not uids:
            continue
        budget = cap - len(found)
        params = {
            "uids": uids,
            "ends": ends,
            "types": chosen.type_names(),
            "as_of": chosen.as_of,
            "include_former": chosen.include_former,
            "min_stake": chosen.min_stake,
            "cap": budget + 1,
        }
        rows = store.read(
            _CLOSE_RELATIONS[label], params, operation="linked_parties.close", plain=True
        )
        hops, cut = _collected_hops(_frontier_relations(rows, label), budget)
        # a uid is unique across labels; the label check costs nothing
        found.extend(hop for _, hop in hops if hop.to_key in wanted)
        if cut:
            return found, True
    return found, False


def relations_on_page(
    relations: Iterable[Hop],
    root: PartyKey,
    shown: Iterable[PartyKey],
    earlier: Iterable[PartyKey] = (),
) -> list[Hop]:
    """The relations a page of an answer adds: one end among the parties `shown` on it, the
    other among them, the parties of the `earlier` pages, or the root.

    Each relation belongs to the page of its later end, so over every page of an answer each
    relation comes exactly once, and a client that keeps its pages has the whole network. O(E).
    """
    on_page = set(shown)
    known = on_page | set(earlier) | {root}
    return [
        hop
        for hop in relations
        if (hop.from_key in on_page or hop.to_key in on_page)
        and hop.from_key in known
        and hop.to_key in known
    ]


def _first_hops(
    hops: Iterable[tuple[PartyKey, Hop]], seen: set[PartyKey]
) -> dict[PartyKey, tuple[PartyKey, Hop]]:
    """Each party not in `seen` with the smallest (parent, hop) that reaches it. O(E)."""
    reached: dict[PartyKey, tuple[PartyKey, Hop]] = {}
    for parent, hop in hops:
        other = hop.other(parent)
        if other in seen:
            continue
        best = reached.get(other)
        if best is None or (parent, hop.rank()) < (best[0], best[1].rank()):
            reached[other] = (parent, hop)
    return reached


def read_level(
    store: GraphStore,
    frontier: Sequence[PartyKey],
    chosen: RelationFilter,
    cap: int,
    hubs: Hubs | None = None,
) -> tuple[list[tuple[PartyKey, Hop]], bool]:
    """The relations of every frontier party, as (frontier party, hop): one read per label,
    for the parties `hubs` does not keep (then the hubs of each complete read are kept).

    Reads at most `cap` relations in all; the flag says the cap cut the level short. The reads
    run one after the other: splitting a large frontier into halves read on two sessions at
    once was measured slower on the 1M store (docs/benchmarks.md).
    """
    found: list[tuple[PartyKey, Hop]] = []
    read = _hub_read(chosen) if hubs is not None else ""  # no filter text when nothing is kept
    if hubs is not None:
        kept = hubs.kept(read, frontier)
        for key, relations in kept.items():
            hops, cut = _collected_hops([(key, relations)], cap - len(found))
            found.extend(hops)
            if cut:
                return found, True
        frontier = [key for key in frontier if key not in kept]
    for label in (Label.LEGAL_PERSON, Label.NATURAL_PERSON):
        uids = [key.uid for key in frontier if key.label is label]
        if not uids:
            continue
        budget = cap - len(found)
        params = {
            "uids": uids,
            "types": chosen.type_names(),
            "as_of": chosen.as_of,
            "include_former": chosen.include_former,
            "min_stake": chosen.min_stake,
            "cap": budget + 1,
        }
        rows = store.read(_NEIGHBOURS[label], params, operation="linked_parties", plain=True)
        parties = _frontier_relations(rows, label)
        hops, cut = _collected_hops(parties, budget)
        found.extend(hops)
        if cut:
            return found, True
        if hubs is not None:
            hubs.keep(read, parties)
    return found, False


def _frontier_relations(rows: Iterable[Mapping[str, Any]], label: Label) -> list[FrontierRelations]:
    """Each frontier party of `label` with its relations, from a level read's rows."""
    return [(PartyKey(label, uid), relations) for row in rows for uid, relations in row["parties"]]


def _hub_read(chosen: RelationFilter) -> str:
    """What a level read of a walk asked, as `Hubs` keys its relations: the filter as text (a
    string keeps its hash, where a dataclass computes it on every lookup)."""
    return "linked " + json.dumps(chosen.describe(), sort_keys=True)


# the relation properties a hop shows (lineage beyond source and source record stays in store)
HOP_PROPERTIES = (
    "role",
    "matter",
    "project_role",
    "stake",
    "amount",
    "valid_from",
    "valid_to",
    "source",
    "source_record",
)
# what the level reads return of each relation after its ends, in this order: a relation of
# the API's answers shows a shareholding's subscribed capital too (api/parties.py `_relation`)
RELATION_FIELDS = ("key", *HOP_PROPERTIES, "source_row", "subscribed_capital")
_DATE_FIELDS = ("valid_from", "valid_to")
_RELATION_TYPE: dict[str, RelationType] = {t.value: t for t in RelationType}


def _relation_properties(values: Sequence[Any]) -> dict[str, Any]:
    """A hop's properties from the values a read returned in `RELATION_FIELDS` order, dates
    from ISO text to `datetime.date`."""
    properties = dict(zip(RELATION_FIELDS, values, strict=True))
    for name in _DATE_FIELDS:
        text = properties.get(name)
        if text is not None:
            properties[name] = date.fromisoformat(text)
    return properties


def _collected_hops(
    parties: Iterable[FrontierRelations], budget: int
) -> tuple[list[tuple[PartyKey, Hop]], bool]:
    """The hops of a level read's frontier parties (each with its relations collected), at most
    `budget` of them; the flag says there were more. O(relations)."""
    found: list[tuple[PartyKey, Hop]] = []
    for here, relations in parties:
        for type_name, outgoing, other_uid, legal, *values in relations:
            if len(found) == budget:
                return found, True
            there = PartyKey(_label_of(legal), other_uid)
            start, end = (here, there) if outgoing else (there, here)
            hop = Hop(_RELATION_TYPE[type_name], start, end, _relation_properties(values))
            found.append((here, hop))
    return found, False


def _label_of(legal: bool) -> Label:
    return Label.LEGAL_PERSON if legal else Label.NATURAL_PERSON


# --- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedPage:
    items: list[Linked]
    total: int
    end_cursor: str | None
    has_next_page: bool
    # the relations this page's parties add to the earlier pages and the root
    relations: list[Hop] = field(default_factory=list)


# a cursor's position: the sort key of the last item a page listed (whole numbers, numbers
# and text only, so that it survives JSON as it was)
Position = tuple[int | float | str, ...]
# what binds a cursor to its query: the seal of a position (the CLI's, the query's fingerprint
# whatever the position; the API's, a keyed MAC of the query and the position)
Seal = Callable[[Position], str]


def encode_position(seal: Seal, position: Position) -> str:
    """An opaque cursor after the item at `position`, bound by `seal` to its query.

    The cursor is base64 of JSON, readable by whoever holds it: `position` must hold nothing
    the caller may not see (a natural person's key is the keyed token the answer shows)."""
    text = json.dumps([seal(position), *position])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_position(seal: Seal, cursor: str, shape: Sequence[type]) -> Position:
    """The position `cursor` holds, of the types in `shape`; ArgumentError naming `after` for
    text that is no such cursor, or one `seal` does not seal (another query's, or altered)."""
    try:
        padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
        given, *values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(given, str) or len(values) != len(shape):
            raise ValueError
        if any(
            type(value) is not kind and not (kind is float and type(value) is int)
            for value, kind in zip(values, shape, strict=True)
        ):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ArgumentError("after", "is not a cursor this query returned") from None
    position = tuple(values)
    if not hmac.compare_digest(given.encode(), seal(position).encode()):
        raise ArgumentError(
            "after", "is a cursor of another query (other party or arguments) or was altered"
        )
    return position


def encode_cursor(result: LinkedResult, item: Linked) -> str:
    """An opaque cursor after `item`, bound to the query that listed it."""
    return encode_position(
        _fingerprint_seal(result), (item.depth, item.key.label.value, item.key.uid)
    )


def _fingerprint_seal(result: LinkedResult) -> Seal:
    """The CLI's seal: the query's fingerprint, whatever the position."""
    fingerprint = result.fingerprint()
    return lambda _position: fingerprint


def _decode_cursor(result: LinkedResult, cursor: str) -> tuple[int, PartyKey]:
    depth, label, uid = decode_position(_fingerprint_seal(result), cursor, (int, str, str))
    try:
        return int(depth), PartyKey(Label(str(label)), str(uid))
    except ValueError:
        raise ArgumentError("after", "is not a cursor this query returned") from None


def page(
    result: LinkedResult, *, first: int = DEFAULT_PAGE, after: str | None = None
) -> LinkedPage:
    """At most `first` items after the cursor `after`, in the walk's order (depth, party key).

    A cursor names the last item seen, not an offset, so every item appears on exactly one
    page, and every relation too (`relations_on_page`). O(n + E) in the items and relations.
    """
    if isinstance(first, bool) or not 1 <= first <= MAX_PAGE:
        raise ArgumentError("first", f"must be between 1 and {MAX_PAGE}, not {first}")
    items = result.items
    earlier: list[PartyKey] = []
    if after:
        position = _decode_cursor(result, after)
        earlier = [item.key for item in items if (item.depth, item.key) <= position]
        items = [item for item in items if (item.depth, item.key) > position]
    chosen = items[:first]
    end = encode_cursor(result, chosen[-1]) if chosen else after
    relations = relations_on_page(
        result.relations, result.root, (item.key for item in chosen), earlier
    )
    return LinkedPage(chosen, len(result.items), end, len(items) > first, relations)
