"""The investigators' root fields: `dishonestParties` (dishonest-party tracing),
`suspectedLinks`, `controlGroup` and `guaranteeCircle` (queries/tracing.py, queries/links.py,
queries/groups.py; docs/queries.md, Investigations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import strawberry
from credgraph.api.context import Context, chosen_profile
from credgraph.api.errors import BadInput
from credgraph.api.pages import (
    Pages,
    cursor_position,
    cursor_seal,
    page_size,
    walk_depth,
)
from credgraph.api.parties import (
    RelationArguments,
    hop_relation,
    materialise,
    resolve_party,
)
from credgraph.api.types import CreditRecord, CursorEdge, PageInfo, Party, PartyPath, Relation
from credgraph.graph import clock
from credgraph.graph.identifiers import names_a_person
from credgraph.graph.vocabulary import Label, RelationType
from credgraph.queries.groups import CONTROL_RELATIONS, circles_of, connected_group
from credgraph.queries.links import CrowdedEvidence as FoundCrowd
from credgraph.queries.links import LinkKind, LinksResult, suspected_links
from credgraph.queries.links import SuspectedLink as FoundLink
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.risk import current_data_version
from credgraph.queries.tracing import TraceHit, TraceResult, trace_dishonest
from credgraph.queries.traversal import Hop, Position, RelationFilter


@strawberry.type(
    description="A party within `depth` steps of the root with a negative record counting on "
    "the as-of date, one shortest path to it, and its negative records the role sees."
)
class DishonestParty:
    party: Party
    distance: int = strawberry.field(description="steps from the root")
    path: PartyPath = strawberry.field(description="one shortest path from the root to it")
    records: list[CreditRecord] = strawberry.field(
        description="its negative records counting on `asOf` under `profile`, then those under "
        "an objection the profile does not count (`stateOn(asOf, profile)` tells which); only "
        "the disclosure classes the caller's role sees"
    )


@strawberry.type
class DishonestPartyEdge(CursorEdge):
    node: DishonestParty


@strawberry.type(description="Dishonest parties around one party, nearest first, a page at a time.")
class DishonestPartyConnection:
    root: Party
    as_of: date
    profile: str
    edges: list[DishonestPartyEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="the hits the role may see: a party whose counting records are all of "
        "classes the role does not see is left out, uncounted"
    )
    parties_reached: int
    explored_depth: int
    truncated: bool = strawberry.field(description="a cap cut the walk short")

    @strawberry.field(description="The nodes of `edges`, for callers that need no cursors.")
    def items(self) -> list[DishonestParty]:
        return [edge.node for edge in self.edges]


def find_dishonest_parties(
    ctx: Context,
    id: str,
    depth: int,
    filters: RelationArguments,
    profile: str | None,
    first: int | None,
    after: str | None,
) -> DishonestPartyConnection | None:
    """The root field `dishonestParties`: the parties with negative records within `depth`
    of the party `id` names, a page at a time."""
    walk_depth(ctx, depth)
    limit = page_size(ctx, first)
    chosen, policy = filters.chosen(), chosen_profile(ctx, profile)
    # the cursor is checked before the party is looked up: bound to the id as given
    arguments = (id, depth, ctx.settings.traversal_cap, chosen.describe(), policy.name)
    seal = cursor_seal(ctx, "dishonestParties", *arguments)
    position = cursor_position(seal, after, (int, str, str))
    data = current_data_version(ctx.store, ctx.services.versions)
    root = resolve_party(ctx, id, data=data)
    if root is None:
        ctx.register("dishonestParties", persons=names_a_person(id), outcome="not_found")
        return None
    traced = _trace(ctx, root, policy, depth, chosen)
    ctx.wants_records = True  # a hit is shown with the records that make it one
    keys = [root, *(key for item in traced.items for key in _path_parties(root, item.steps))]
    parties = materialise(ctx, keys, data, day=chosen.as_of)
    if root not in parties:
        person = root.label is Label.NATURAL_PERSON
        ctx.register("dishonestParties", subjects=[root], persons=person)
        return None
    day = chosen.as_of
    hits = [hit for item in traced.items if (hit := _seen_hit(ctx, root, item, parties, day))]
    pages = Pages(seal, hits, _hit_position, position, limit)
    _register_hits(ctx, root, keys, pages.page)
    return _dishonest_page(parties[root], chosen.as_of, policy.name, traced, pages)


def _hit_position(hit: _SeenHit) -> Position:
    """Where a hit stands in a trace's order: nearest first, then by party key (a person's key
    is the token the answer shows as its `id`)."""
    return (hit.node.distance, hit.party_key.uid, hit.party_key.label.value)


def _register_hits(
    ctx: Context, root: PartyKey, keys: list[PartyKey], page: list[_SeenHit]
) -> None:
    """The audit event of a trace that found its root: the root and the hits on the page."""
    ctx.register(
        "dishonestParties",
        subjects=[root, *(hit.party_key for hit in page)],
        size=len(page),
        persons=root.label is Label.NATURAL_PERSON
        # the walk's persons: a path or a hit names them, on this page or another
        or any(key.label is Label.NATURAL_PERSON for key in keys),
    )


def _dishonest_page(
    root: Party,
    as_of: date,
    profile: str,
    traced: TraceResult,
    pages: Pages[_SeenHit],
) -> DishonestPartyConnection:
    """The page of hits, with what the trace says of its walk."""
    return DishonestPartyConnection(
        root=root,
        as_of=as_of,
        profile=profile,
        edges=[
            DishonestPartyEdge(cursor_of=pages.cursor_of(hit), node=hit.node) for hit in pages.page
        ],
        page_info=pages.page_info(),
        total_count=pages.total,
        parties_reached=traced.parties_reached,
        explored_depth=traced.explored_depth,
        truncated=traced.truncated,
    )


def _trace(
    ctx: Context, root: PartyKey, policy: PolicyProfile, depth: int, chosen: RelationFilter
) -> TraceResult:
    """Every dishonest party within `depth` of `root`, undescribed."""
    return trace_dishonest(
        ctx.store,
        root,
        policy,
        depth=depth,
        relation_types=chosen.types,
        as_of=chosen.as_of,
        include_former=chosen.include_former,
        cap=ctx.settings.traversal_cap,
        # every hit: which of them the role may see decides what is counted and paged
        limit=_traced_limit(ctx),
        describe=False,  # the parties are drawn as the role sees them, below
    )


def _traced_limit(ctx: Context) -> int:
    """The most hits a trace answers with: every party one capped walk can reach."""
    return ctx.settings.traversal_cap * ctx.settings.max_depth


def _path_parties(root: PartyKey, steps: Iterable[Hop]) -> list[PartyKey]:
    """The parties along a path from `root`, `root` first."""
    keys = [root]
    for step in steps:
        keys.append(step.other(keys[-1]))
    return keys


@dataclass(frozen=True)
class _SeenHit:
    party_key: PartyKey
    node: DishonestParty


def _seen_hit(
    ctx: Context, root: PartyKey, item: TraceHit, parties: dict[PartyKey, Party], day: date
) -> _SeenHit | None:
    """The hit as the role sees it; None when the role may not see a party on its path, or
    sees none of the records that make the party a hit (it would learn of a hidden record)."""
    keys = _path_parties(root, item.steps)
    if any(key not in parties for key in keys):
        return None
    party = parties[item.party]
    by_uid = {str(r.row["uid"]): r for r in party.visible_records}
    if not any(r.counts and r.uid in by_uid for r in item.records):
        return None
    path = PartyPath(
        length=len(item.steps),
        parties=[parties[key] for key in keys],
        hops=[hop_relation(ctx, step, day) for step in item.steps],
    )
    records = [by_uid[r.uid] for r in item.records if r.uid in by_uid]
    node = DishonestParty(party=party, distance=item.distance, path=path, records=records)
    return _SeenHit(item.party, node)


@strawberry.enum(description="What a suspected link rests on.")
class SuspectedLinkKind(StrEnum):
    SHARED_OFFICER = "shared_officer"
    SHARED_ADDRESS = "shared_address"
    SHARED_PHONE = "shared_phone"
    SHARED_EMAIL = "shared_email"


@strawberry.type(
    description="Another party that shares an officer, an address, a phone or an e-mail with "
    "the one asked about: evidence for a person to weigh, not a relation."
)
class SuspectedLink:
    kind: SuspectedLinkKind
    party: Party
    officer: Party | None = strawberry.field(
        description="SHARED_OFFICER: the person who holds a role at both"
    )
    roles_here: list[str] = strawberry.field(
        description="SHARED_OFFICER: the officer's roles at the party asked about"
    )
    roles_there: list[str] = strawberry.field(
        description="SHARED_OFFICER: the officer's roles at `party`"
    )
    shared_value: str | None = strawberry.field(
        description="the address, phone or e-mail as loaded on the party asked about; null "
        "when either party is a natural person (a person's contacts are never shown)"
    )


@strawberry.type(
    description="Evidence that more than `perKeyCap` other parties share (a registered agent's "
    "address, an officer on hundreds of boards): counted, not listed."
)
class CrowdedEvidence:
    kind: SuspectedLinkKind
    officer: Party | None
    shared_value: str | None = strawberry.field(
        description="the address shared, when the party asked about is a legal person; null "
        "for a phone or e-mail, which persons among the many may share"
    )
    parties: int


@strawberry.type
class SuspectedLinkEdge(CursorEdge):
    node: SuspectedLink


@strawberry.type(description="Suspected links of one party, a page at a time.")
class SuspectedLinkConnection:
    root: Party
    as_of: date
    edges: list[SuspectedLinkEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="the links the role may see: one to a party, or through an officer, the "
        "role does not see is left out, uncounted"
    )
    crowded: list[CrowdedEvidence]
    truncated: bool = strawberry.field(description="a cap cut the read of officers short")

    @strawberry.field(description="The nodes of `edges`, for callers that need no cursors.")
    def items(self) -> list[SuspectedLink]:
        return [edge.node for edge in self.edges]


def find_suspected_links(
    ctx: Context,
    id: str,
    as_of: date | None,
    include_former: bool,
    per_key_cap: int,
    first: int | None,
    after: str | None,
) -> SuspectedLinkConnection | None:
    """The root field `suspectedLinks`: parties that share an officer, an address, a phone or
    an e-mail with the one `id` names, each with what it rests on, a page at a time."""
    if not 1 <= per_key_cap <= _MAX_PER_KEY_CAP:
        raise BadInput.argument("perKeyCap", f"must be between 1 and {_MAX_PER_KEY_CAP}")
    limit = page_size(ctx, first)
    # the cursor is checked before the party is looked up: bound to the id as given, and to
    # the day the links are found on (today when no asOf: yesterday's cursor is another query's)
    day = as_of or clock.today()
    arguments = (id, day, include_former, per_key_cap, ctx.settings.traversal_cap)
    seal = cursor_seal(ctx, "suspectedLinks", *arguments)
    position = cursor_position(seal, after, (int, str, str, str))
    data = current_data_version(ctx.store, ctx.services.versions)
    root = resolve_party(ctx, id, data=data)
    if root is None:
        ctx.register("suspectedLinks", persons=names_a_person(id), outcome="not_found")
        return None
    found = _find_links(ctx, root, as_of, include_former, per_key_cap)
    keys = _linked_parties(root, found)
    parties = materialise(ctx, keys, data, day=as_of)
    if root not in parties:
        person = root.label is Label.NATURAL_PERSON
        ctx.register("suspectedLinks", subjects=[root], persons=person)
        return None
    # a person's contacts are never shown, nor a firm's that a person shares (the same digits)
    firms_only = root.label is Label.LEGAL_PERSON
    links = [
        link
        for link in found.items
        if link.party in parties and (_officer(link.evidence) or link.party) in parties
    ]
    pages = Pages(seal, links, _link_position, position, limit)
    page = pages.page
    ctx.register(
        "suspectedLinks",
        subjects=[root, *(link.party for link in page)],
        size=len(page),
        persons=any(key.label is Label.NATURAL_PERSON for key in keys),
    )
    return SuspectedLinkConnection(
        root=parties[root],
        as_of=found.as_of,
        edges=_link_edges(pages, parties, firms_only),
        page_info=pages.page_info(),
        total_count=pages.total,
        crowded=_crowded(root, found.crowded, parties, firms_only),
        truncated=found.truncated,
    )


def _find_links(
    ctx: Context, root: PartyKey, as_of: date | None, include_former: bool, per_key_cap: int
) -> LinksResult:
    """Every suspected link of `root` one capped read finds, undescribed."""
    return suspected_links(
        ctx.store,
        root,
        as_of=as_of,
        include_former=include_former,
        per_key_cap=per_key_cap,
        limit=ctx.settings.traversal_cap,
        cap=ctx.settings.traversal_cap,
        describe=False,
    )


def _linked_parties(root: PartyKey, found: LinksResult) -> list[PartyKey]:
    """The root, the parties linked to it and the officers the links and crowds name."""
    evidence = [link.evidence for link in found.items] + [c.evidence for c in found.crowded]
    officers = [key for key in map(_officer, evidence) if key is not None]
    return [root, *(link.party for link in found.items), *officers]


def _link_edges(
    pages: Pages[FoundLink], parties: dict[PartyKey, Party], firms_only: bool
) -> list[SuspectedLinkEdge]:
    return [
        SuspectedLinkEdge(
            cursor_of=pages.cursor_of(link), node=_suspected_link(link, parties, firms_only)
        )
        for link in pages.page
    ]


def _link_position(link: FoundLink) -> Position:
    """Where a link stands in the links' order: by kind, then the party's key and the
    officer's (keys the answer shows as `id`s); never the shared address, phone or e-mail."""
    officer = _officer(link.evidence)
    kind = list(LinkKind).index(link.kind)
    return (kind, link.party.uid, officer.uid if officer else "", link.party.label.value)


def _suspected_link(
    link: FoundLink, parties: dict[PartyKey, Party], firms_only: bool
) -> SuspectedLink:
    return SuspectedLink(
        kind=SuspectedLinkKind(link.kind.value),
        party=parties[link.party],
        officer=_officer_of(link.evidence, parties),
        roles_here=list(link.evidence.get("roles_here", [])),
        roles_there=list(link.evidence.get("roles_there", [])),
        shared_value=_shared_value(link.evidence)
        if firms_only and link.party.label is Label.LEGAL_PERSON
        else None,
    )


def _crowded(
    root: PartyKey,
    found: list[FoundCrowd],
    parties: dict[PartyKey, Party],
    firms_only: bool,
) -> list[CrowdedEvidence]:
    """The crowded evidence whose officer, if it names one, the role sees."""
    return [
        CrowdedEvidence(
            kind=SuspectedLinkKind(crowded.kind.value),
            officer=_officer_of(crowded.evidence, parties),
            # shared by many, persons among them maybe: only an address names a firm alone
            shared_value=_shared_value(crowded.evidence)
            if firms_only and crowded.kind is LinkKind.SHARED_ADDRESS
            else None,
            parties=crowded.parties,
        )
        for crowded in found
        if (_officer(crowded.evidence) or root) in parties
    ]


# the most other parties one piece of evidence may be shared by and still be listed
_MAX_PER_KEY_CAP = 1000


def _officer(evidence: dict[str, Any]) -> PartyKey | None:
    person = evidence.get("person")
    return person if isinstance(person, PartyKey) else None


def _officer_of(evidence: dict[str, Any], parties: dict[PartyKey, Party]) -> Party | None:
    person = _officer(evidence)
    return parties.get(person) if person else None


def _shared_value(evidence: dict[str, Any]) -> str | None:
    """The address, phone or e-mail a contact link rests on (queries/links.py `_CONTACTS`)."""
    for name in ("address", "phone", "email"):
        if evidence.get(name):
            return str(evidence[name])
    return None


@strawberry.type(description="A member of a group, with its steps from the party asked about.")
class GroupMember:
    party: Party
    distance: int


@strawberry.type(
    description="The connected group around a party over chosen relations (by default its "
    "control group: shareholdings of at least `minStake`, legal representation, actual control)."
)
class PartyGroup:
    root: Party
    as_of: date
    relation_types: list[RelationType]
    min_stake: float
    members: list[GroupMember] = strawberry.field(
        description="nearest first, the party asked about first"
    )
    relations: list[Relation] = strawberry.field(description="every relation among the members")
    explored_depth: int
    truncated: bool = strawberry.field(
        description="a bound (CREDGRAPH_TRAVERSAL_CAP parties or relations a level) cut the "
        "group short: it may have more members"
    )


@strawberry.type(
    description="A cycle of guarantees: each party guarantees the next, the last the first."
)
class GuaranteeCycle:
    parties: list[Party]


@strawberry.type(
    description="The guarantee circle (联保圈) a legal person sits in: the parties that each "
    "guarantee, directly or through the others, every other, and the cycles through it."
)
class GuaranteeCircle:
    root: Party
    as_of: date
    members: list[Party] = strawberry.field(description="empty when it is in no circle")
    cycles: list[GuaranteeCycle] = strawberry.field(
        description="the simple cycles through the party asked about, shortest first, each "
        "starting from it; at most `first`"
    )
    limited: bool = strawberry.field(description="more cycles run through it than `first`")
    explored_depth: int
    truncated: bool = strawberry.field(
        description="a bound cut the read of the guarantees short, or `limited`"
    )


def find_control_group(
    ctx: Context,
    id: str,
    relation_types: list[RelationType] | None,
    min_stake: float,
    as_of: date | None,
    include_former: bool,
) -> PartyGroup | None:
    """The root field `controlGroup`: the connected group around the party `id` names over
    `relation_types`, shareholdings counting from `min_stake`."""
    # left out, the control relations: an empty list is refused, as for linkedParties
    types = list(CONTROL_RELATIONS) if relation_types is None else relation_types
    checked = RelationArguments(types, as_of, include_former, min_stake).chosen()
    data = current_data_version(ctx.store, ctx.services.versions)
    root = resolve_party(ctx, id, data=data)
    if root is None:
        ctx.register("controlGroup", persons=names_a_person(id), outcome="not_found")
        return None
    cap = ctx.settings.traversal_cap
    group = connected_group(
        ctx.store,
        root,
        relation_types=checked.types,
        min_stake=checked.min_stake,
        as_of=checked.as_of,
        include_former=checked.include_former,
        max_members=cap,
        cap=cap,
        describe=False,
    )
    parties = materialise(ctx, group.members, data, day=checked.as_of)
    shown = [key for key in group.members if key in parties]
    ctx.register(
        "controlGroup",
        subjects=shown,
        size=len(shown),
        persons=any(key.label is Label.NATURAL_PERSON for key in group.members),
    )
    if root not in parties:
        return None
    return PartyGroup(
        root=parties[root],
        as_of=group.as_of,
        relation_types=list(group.relation_types),
        min_stake=group.min_stake,
        members=[GroupMember(party=parties[key], distance=group.distance[key]) for key in shown],
        relations=[
            hop_relation(ctx, step, group.as_of)
            for step in group.steps
            if step.start in parties and step.end in parties
        ],
        explored_depth=group.explored_depth,
        truncated=group.truncated,
    )


def find_guarantee_circle(
    ctx: Context, id: str, as_of: date | None, include_former: bool, first: int
) -> GuaranteeCircle | None:
    """The root field `guaranteeCircle`: the guarantee circle of the legal person `id` names,
    with its `first` shortest cycles through it."""
    if not 1 <= first <= _MAX_CYCLES:
        raise BadInput.argument("first", f"must be between 1 and {_MAX_CYCLES}")
    data = current_data_version(ctx.store, ctx.services.versions)
    root = resolve_party(ctx, id, data=data)
    if root is None:
        ctx.register("guaranteeCircle", persons=names_a_person(id), outcome="not_found")
        return None
    cap = ctx.settings.traversal_cap
    mine = circles_of(
        ctx.store,
        root,
        as_of=as_of,
        include_former=include_former,
        limit=first,
        max_members=cap,
        cap=cap,
        describe=False,
    )
    parties = materialise(ctx, [root, *mine.members], data, day=as_of)
    ctx.register(
        "guaranteeCircle",
        subjects=[root, *mine.members],
        size=len(mine.members),
        persons=root.label is Label.NATURAL_PERSON,
    )
    if root not in parties:
        return None
    return GuaranteeCircle(
        root=parties[root],
        as_of=mine.as_of,
        members=[parties[key] for key in mine.members if key in parties],
        cycles=[GuaranteeCycle(parties=[parties[key] for key in cycle]) for cycle in mine.cycles],
        limited=mine.limited,
        explored_depth=mine.explored_depth,
        truncated=mine.truncated,
    )


# the most cycles through one party a `guaranteeCircle` lists
_MAX_CYCLES = 200
