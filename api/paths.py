"""The root field `paths`: the shortest paths between two parties, and how far the search
explored (queries/paths.py; docs/queries.md, Paths)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import strawberry
from credgraph.api.context import Context
from credgraph.api.errors import BadInput
from credgraph.api.parties import (
    RelationArguments,
    hop_relation,
    materialise,
    resolve_party,
)
from credgraph.api.types import NaturalPerson, Party, PartyPath
from credgraph.graph.identifiers import names_a_person
from credgraph.queries.caches import Hubs
from credgraph.queries.lookup import PartyKey
from credgraph.queries.paths import MAX_K, PathsResult, shortest_paths
from credgraph.queries.paths import PartyPath as FoundPath
from credgraph.queries.risk import current_data_version
from credgraph.queries.traversal import RelationFilter


def _hubs(ctx: Context) -> Hubs | None:
    """The worker's hub cache bound to the current data version; None when it keeps none."""
    if ctx.services.hubs is None:
        return None
    data = current_data_version(ctx.store, ctx.services.versions)
    return ctx.services.hubs.bound(ctx.store, data.token())


@strawberry.type(
    description="The shortest paths between two parties, and how far the search explored: "
    "with `truncated` false, no other path of at most `maxDepth` hops is shorter."
)
class PathSearch:
    from_: Party = strawberry.field(name="from", description="the party `from` names")
    to: Party = strawberry.field(description="the party `to` names")
    paths: list[PartyPath] = strawberry.field(
        description="by length, then by their parties (kind, then id); empty when none was "
        "found within `maxDepth` hops (or within what the search read, when `truncated`)"
    )
    explored_depth: int = strawberry.field(
        description="the hops the search read from both ends together: every path of at most "
        "that many hops lies in what it read"
    )
    truncated: bool = strawberry.field(
        description="a cap cut the search short; shorter or more paths may exist"
    )


def find_paths(
    ctx: Context,
    from_: str,
    to: str,
    max_depth: int,
    first: int | None,
    filters: RelationArguments,
) -> PathSearch | None:
    """The root field `paths`: the shortest paths between two parties, as the role sees them."""
    if not 1 <= max_depth <= ctx.settings.max_depth:
        raise BadInput.argument("maxDepth", f"must be between 1 and {ctx.settings.max_depth}")
    if first is not None and not 1 <= first <= MAX_K:
        raise BadInput.argument("first", f"must be between 1 and {MAX_K}")
    chosen = filters.chosen()
    start = resolve_party(ctx, from_, argument="from")
    end = resolve_party(ctx, to, argument="to")
    persons = names_a_person(from_) or names_a_person(to)
    if start is None or end is None:
        ctx.register(
            "paths", subjects=[k for k in (start, end) if k], persons=persons, outcome="not_found"
        )
        return None
    if start == end:
        # refused as `credgraph paths A A` is, after the purpose check: the refusal tells that
        # both identifiers name one party, which only a caller who may look it up learns
        ctx.register("paths", subjects=[start], persons=persons, outcome="refused:bad_user_input")
        raise BadInput.argument("to", "is the same party as from; paths join two parties")
    found = _search(ctx, start, end, first or 1, max_depth, chosen)
    parties = materialise(
        ctx, [start, end, *(key for path in found.paths for key in path.parties)], day=chosen.as_of
    )
    if start not in parties or end not in parties:
        # an end the role may not see: answered as one that names no party
        ctx.register("paths", subjects=[start, end], persons=persons, outcome="not_found")
        return None
    # a path through a party the role may not see is not shown at all
    shown = [path for path in found.paths if all(key in parties for key in path.parties)]
    answer = [_party_path(ctx, path, parties, chosen.as_of) for path in shown]
    _register_paths(ctx, start, end, shown, answer, persons)
    return PathSearch(
        from_=parties[start],
        to=parties[end],
        paths=answer,
        explored_depth=found.explored_depth,
        truncated=found.truncated,
    )


def _search(
    ctx: Context, start: PartyKey, end: PartyKey, k: int, max_depth: int, chosen: RelationFilter
) -> PathsResult:
    """The `k` shortest paths of at most `max_depth` hops between `start` and `end`."""
    return shortest_paths(
        ctx.store,
        start,
        end,
        k=k,
        max_depth=max_depth,
        relation_types=chosen.types,
        as_of=chosen.as_of,
        include_former=chosen.include_former,
        min_stake=chosen.min_stake,
        follow_same_as=chosen.follow_same_as,
        cap=ctx.settings.traversal_cap,
        hubs=_hubs(ctx),
    )


def _party_path(
    ctx: Context, path: FoundPath, parties: dict[PartyKey, Party], today: date
) -> PartyPath:
    return PartyPath(
        length=path.length,
        parties=[parties[key] for key in path.parties],
        hops=[hop_relation(ctx, hop.relation, today) for hop in path.hops],
    )


def _register_paths(
    ctx: Context,
    start: PartyKey,
    end: PartyKey,
    shown: list[FoundPath],
    answer: list[PartyPath],
    persons: bool,
) -> None:
    """The audit event of a search between two parties the role sees: the parties of the paths
    shown, or the two ends when none is."""
    if answer:
        subjects = list(dict.fromkeys(key for path in shown for key in path.parties))
        ctx.register(
            "paths",
            subjects=subjects,
            size=len(answer),
            persons=persons or any(_has_person(path.parties) for path in answer),
        )
    else:
        ctx.register("paths", subjects=[start, end], persons=persons)


def _has_person(parties: Iterable[Party]) -> bool:
    return any(isinstance(p, NaturalPerson) for p in parties)
