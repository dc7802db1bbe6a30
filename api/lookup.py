"""The lookup root fields: `entity`, `search` and `linkedParties`."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import strawberry
from credgraph.api.context import Context
from credgraph.api.errors import BadInput, Forbidden
from credgraph.api.limits import MAX_SEARCH_NAME_CHARS
from credgraph.api.masking import mask_identity_numbers
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
from credgraph.api.roles import PERSONS, PersonView
from credgraph.api.types import (
    LinkedParty,
    LinkedPartyConnection,
    LinkedPartyEdge,
    MatchedOn,
    NaturalPerson,
    Party,
    PartyConnection,
    PartyEdge,
)
from credgraph.graph.identifiers import names_a_person
from credgraph.graph.names import name_key
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import MAX_SEARCH_LIMIT, NameMatch, PartyKey, search_by_name
from credgraph.queries.risk import DataVersion, current_data_version
from credgraph.queries.traversal import (
    Linked,
    LinkedResult,
    Position,
    RelationFilter,
    relations_on_page,
    walk_linked,
)


@strawberry.enum(description="Which kind of party a search looks for.")
class PartyKind(StrEnum):
    LEGAL_PERSON = "LegalPerson"
    NATURAL_PERSON = "NaturalPerson"


def find_entity(ctx: Context, id: str) -> Party | None:
    """The root field `entity`: the party `id` names, as the role sees it; registered."""
    key = resolve_party(ctx, id)
    party = materialise(ctx, [key]).get(key) if key else None
    ctx.register(
        "entity",
        subjects=[key] if key else [],
        size=1 if party else 0,
        outcome="ok" if key else "not_found",
        # an identity number needs a purpose whether a person or nobody holds it; a business
        # found under a registration number shaped like a first-generation one does not
        persons=isinstance(party, NaturalPerson)
        or (
            PERSONS[ctx.role] is not PersonView.HIDDEN
            and (key is None or key.label is Label.NATURAL_PERSON)
            and names_a_person(id)
        ),
    )
    return party


def search_parties(
    ctx: Context, name: str, kind: PartyKind | None, first: int | None, after: str | None
) -> PartyConnection:
    """The root field `search`: parties by name, a page at a time."""
    if len(name) > MAX_SEARCH_NAME_CHARS:
        raise BadInput.argument("name", f"longer than {MAX_SEARCH_NAME_CHARS} characters")
    if not name_key(name):
        raise BadInput.argument("name", "has no letters or digits")
    limit = page_size(ctx, first)
    seal = cursor_seal(ctx, "search", name, kind.value if kind else None)
    position = cursor_position(seal, after, (float, str, str))
    sees_persons = PERSONS[ctx.role] is PersonView.MASKED
    if kind is PartyKind.NATURAL_PERSON and not sees_persons:
        raise Forbidden.argument(
            "kind", f"the {ctx.role.value} role may not search natural persons by name"
        )
    labels = [Label(kind.value)] if kind else [Label.LEGAL_PERSON]
    if kind is None and sees_persons:
        labels.append(Label.NATURAL_PERSON)
    # every match up to the search limit, ranked (exact, then prefix by name length): pages cut it
    matches = search_by_name(ctx.store, name, labels=labels, limit=MAX_SEARCH_LIMIT)
    found = [match.key for match in matches.items]
    pages = Pages(seal, matches.items, _search_position, position, limit)
    page = pages.page
    page_keys = [match.key for match in page]
    parties = materialise(ctx, page_keys)
    shown = [(parties[m.key], m) for m in page if m.key in parties]
    # `totalCount` counts every match: a person matched is touched even off the page
    persons = any(key.label is Label.NATURAL_PERSON for key in found)
    ctx.register("search", subjects=page_keys, size=len(shown), persons=persons)
    # the name that matched: a legal person's names are public; a person's reach only the
    # roles that see persons' names (they alone search persons); an identity number in it
    # masked, as anywhere a name is echoed
    edges = [
        PartyEdge(
            cursor_of=pages.cursor_of(match),
            node=party,
            matched_name=mask_identity_numbers(match.matched_name),
            matched_on=MatchedOn(match.matched_on.value),
        )
        for party, match in shown
    ]
    return PartyConnection(
        edges=edges,
        page_info=pages.page_info(),
        total_count=pages.total,
        truncated=matches.truncated,
    )


def _search_position(match: NameMatch) -> Position:
    """Where a match stands in a search's order (its rank: score, then key)."""
    return match.rank()


def find_linked_parties(
    ctx: Context,
    id: str,
    depth: int,
    filters: RelationArguments,
    first: int | None,
    after: str | None,
    with_relations: bool = True,
) -> LinkedPartyConnection | None:
    """The root field `linkedParties`: the parties within `depth` of the one `id` names, a
    page at a time."""
    walk_depth(ctx, depth)
    limit = page_size(ctx, first)
    chosen = filters.chosen()
    # the cursor is checked before the party is looked up: bound to the id as given
    seal = cursor_seal(
        ctx, "linkedParties", id, depth, ctx.settings.traversal_cap, chosen.describe()
    )
    position = cursor_position(seal, after, (int, str, str))
    # read once: it keys the identifier, walk and card caches
    data = current_data_version(ctx.store, ctx.services.versions)
    root = resolve_party(ctx, id, data=data)
    if root is None:
        ctx.register("linkedParties", persons=names_a_person(id), outcome="not_found")
        return None
    walk = _walk(ctx, root, depth, chosen, data, with_relations)
    items = _seen_items(ctx, walk)
    # a walk's items come nearest first, then by party key: the order of their positions
    pages = Pages(seal, items, _linked_position, position, limit, in_order=True)
    page = pages.page
    parties = materialise(ctx, [root, *(item.key for item in page)], data, day=chosen.as_of)
    if root not in parties:
        ctx.register("linkedParties", subjects=[root], persons=root.label is Label.NATURAL_PERSON)
        return None
    today = chosen.as_of
    edges = _linked_edges(ctx, pages, parties, today)
    # only parties the role sees (items are filtered already, the root is visible)
    relations = relations_on_page(
        walk.relations,
        root,
        (item.key for item in page if item.key in parties),
        (item.key for item in pages.earlier),
    )
    _register_linked(ctx, root, page, len(edges), items)
    return LinkedPartyConnection(
        root=parties[root],
        edges=edges,
        page_info=pages.page_info(),
        total_count=pages.total,
        explored_depth=walk.explored_depth,
        truncated=walk.truncated,
        relations=[hop_relation(ctx, hop, today) for hop in relations] if with_relations else [],
        relations_truncated=walk.relations_truncated,
    )


def _seen_items(ctx: Context, walk: LinkedResult) -> list[Linked]:
    """The parties of the walk the role may see."""
    hidden = PERSONS[ctx.role] is PersonView.HIDDEN
    return [i for i in walk.items if not (hidden and i.key.label is Label.NATURAL_PERSON)]


def _linked_position(item: Linked) -> Position:
    """Where a party stands in a walk's order, the order pages cut: nearest first, then by
    party key (queries/traversal.py `encode_cursor`). A person's key is the token the answer
    shows as its `id`, and a role that does not see persons gets no person on a page."""
    return (item.depth, item.key.label.value, item.key.uid)


def _linked_edges(
    ctx: Context, pages: Pages[Linked], parties: dict[PartyKey, Party], today: date
) -> list[LinkedPartyEdge]:
    return [
        LinkedPartyEdge(
            cursor_of=pages.cursor_of(item),
            node=LinkedParty(
                party=parties[item.key],
                depth=item.depth,
                parent_id=strawberry.ID(item.parent.uid),
                via=hop_relation(ctx, item.via, today),
            ),
        )
        for item in pages.page
        if item.key in parties
    ]


def _register_linked(
    ctx: Context, root: PartyKey, page: list[Linked], size: int, items: list[Linked]
) -> None:
    """The audit event of a walk from a root the role sees."""
    ctx.register(
        "linkedParties",
        subjects=[root, *(item.key for item in page)],
        size=size,
        # `totalCount`, `parentId` and the relations name parties off the page too: a person
        # anywhere in the walk is touched
        persons=root.label is Label.NATURAL_PERSON
        or any(item.key.label is Label.NATURAL_PERSON for item in items),
    )


def _walk(
    ctx: Context,
    root: PartyKey,
    depth: int,
    chosen: RelationFilter,
    data: DataVersion,
    with_relations: bool,
) -> LinkedResult:
    """The walk from `root`, from the walk cache when it was made under `data`;
    `with_relations` adds the read for the relations among the farthest parties."""
    cap = ctx.settings.traversal_cap
    cache, hubs = ctx.services.walks, ctx.services.hubs
    if cache is None:
        bound = hubs.bound(ctx.store, data.token()) if hubs is not None else None
        return walk_linked(
            ctx.store, root, depth, chosen, cap=cap, close_relations=with_relations, hubs=bound
        )
    return cache.walk(
        ctx.store,
        data.token(),
        root,
        depth,
        chosen,
        cap=cap,
        close_relations=with_relations,
        hubs=hubs,
    )
