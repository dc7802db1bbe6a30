"""The investigators' verbs: `trace`, `links`, `groups` and `circles` (docs/queries.md).

Each takes a party by USCC, legacy code, resident ID number (hashed on arrival, never echoed) or
the opaque id credgraph returns, and prints a table or, with `--json`, JSON. Every party is shown
by that id (JSON `id`), persons also by name and masked ID number, never their number. A bad
argument exits 2 naming it; an identifier that names no party exits 1 (with `--json`, after a
document with the party null and `found` false); an unreachable store exits 3; a lookup that
reaches a natural person (named on the command line, or in the answer) without `--purpose` exits
4, printing nothing of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from credgraph.cli_common import (
    PARTY_HELP,
    AsOfOption,
    FormerOption,
    JsonOption,
    PurposeOption,
    TypesOption,
    cli_profile,
    cli_store,
    console,
    out,
    parse_as_of,
    parse_relation_types,
    party_json,
    party_text,
    plain,
    print_json,
    print_table,
    query_party,
    run_query,
    shown_parties,
    touches_persons,
)
from credgraph.graph.store import GraphStore
from credgraph.queries.groups import (
    CONTROL_RELATIONS,
    DEFAULT_MIN_STAKE,
    CirclesResult,
    PartyCircles,
    circles_of,
    connected_group,
    guarantee_circles,
)
from credgraph.queries.links import LinksResult, suspected_links
from credgraph.queries.lookup import PartyKey, fetch_parties
from credgraph.queries.tracing import TracedRecord, TraceResult, trace_dishonest

investigate_app = typer.Typer(help="Investigations: tracing, suspected links, groups, circles.")

IdArgument = Annotated[str, typer.Argument(metavar="ID", help=PARTY_HELP, show_default=False)]


# --- output helpers ----------------------------------------------------------------------------


def _about(root: PartyKey, day: date, parties: Mapping[PartyKey, dict[str, Any]]) -> dict[str, Any]:
    """What every answer about one party starts with: the party as shown and the date."""
    return {"root": plain(root, parties), "as_of": day.isoformat()}


def _missing(day: date, as_json: bool, **empty: Any) -> dict[str, Any] | None:
    """With --json, the answer for an ID that names no party: no root, nothing found."""
    return {"root": None, "as_of": day.isoformat(), **empty} if as_json else None


def _name(key: PartyKey, parties: Mapping[PartyKey, dict[str, Any]]) -> str:
    return party_text(parties.get(key) or party_json(key, None))


def _path_text(hops: list[dict[str, Any]], parties: Mapping[PartyKey, dict[str, Any]]) -> str:
    if not hops:
        return ""
    text = _name(hops[0]["from"], parties)
    for hop in hops:
        label = hop["type"] + (f" {hop['role']}" if hop.get("role") else "")
        if hop.get("stake") is not None:
            label += f" {hop['stake']:.0%}"
        arrow = f" -[{label}]-> " if hop["direction"] == "out" else f" <-[{label}]- "
        text += arrow + _name(hop["to"], parties)
    return text


def _bounds_note(
    truncated: bool, explored: int | None = None, listed: int = 0, found: int = 0
) -> str:
    """How far the answer went and what cut it: fewer `listed` than `found` is --limit, which
    the answer's `truncated` also says; otherwise `truncated` is a cap on the walk."""
    parts = []
    if explored is not None:
        parts.append(f"explored depth {explored}")
    if listed < found:
        parts.append(f"[yellow]the first {listed:,} listed (--limit)[/yellow]")
    elif truncated:
        parts.append("[yellow]truncated by a cap[/yellow]")
    return f"; {', '.join(parts)}" if parts else ""


# --- verbs ---------------------------------------------------------------------------------------


@investigate_app.command()
def trace(
    party_id: IdArgument,
    depth: Annotated[int, typer.Option(min=1, max=4, help="steps from the party (1-4)")] = 2,
    as_of: AsOfOption = None,
    types: TypesOption = None,
    include_former: FormerOption = False,
    profile: Annotated[str | None, typer.Option(help="policy profile (objections)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="most parties to list")] = 500,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Every party within DEPTH steps with an active negative record, and the path to it."""
    day = parse_as_of(as_of)
    chosen = parse_relation_types(types)
    policy = cli_profile(profile)
    root, result = query_party(
        party_id,
        lambda store, root: trace_dishonest(
            store,
            root,
            policy,
            depth=depth,
            relation_types=chosen,
            as_of=day,
            include_former=include_former,
            limit=limit,
        ),
        missing=_missing(day, as_json, depth=depth, total=0, items=[]),
        lookup="trace",
        purpose=purpose,
        persons=lambda result: result.parties,  # the hits and the parties on their paths
    )
    parties = shown_parties(result.parties, [root])
    if as_json:
        print_json(_trace_json(root, day, depth, policy.name, result, parties))
        return
    console.print(
        f"{result.found} dishonest part{'y' if result.found == 1 else 'ies'} within {depth} "
        f"step{'' if depth == 1 else 's'} of {escape(_name(root, parties))} on {day}"
        + _bounds_note(result.truncated, result.explored_depth, len(result.items), result.found)
    )
    print_table(_trace_table(result, parties))


def _trace_json(
    root: PartyKey,
    day: date,
    depth: int,
    profile: str,
    result: TraceResult,
    parties: Mapping[PartyKey, dict[str, Any]],
) -> dict[str, Any]:
    return {
        **_about(root, day, parties),
        "depth": depth,
        "profile": profile,
        "relation_types": [t.value for t in result.relation_types],
        "total": result.found,
        "explored_depth": result.explored_depth,
        "truncated": result.truncated,
        "parties_reached": result.parties_reached,
        "items": [
            {
                "party": plain(item.party, parties),
                "distance": item.distance,
                "path": plain(item.path, parties),
                "records": [plain(vars(r), parties) for r in item.records],
            }
            for item in result.items
        ],
    }


def _trace_table(result: TraceResult, parties: Mapping[PartyKey, dict[str, Any]]) -> Table:
    table = Table("steps", "party", "records", "path")
    for item in result.items:
        records = "\n".join(_record_text(r) for r in item.records)
        table.add_row(
            str(item.distance), _name(item.party, parties), records, _path_text(item.path, parties)
        )
    return table


def _record_text(record: TracedRecord) -> str:
    """A record's kind, id and status, and whether it is under objection or does not count."""
    objection = ", under objection" if record.under_objection else ""
    counting = "" if record.counts else ", not counting"
    return f"{record.kind} {record.record_id} ({record.status}{objection}{counting})"


@investigate_app.command()
def links(
    party_id: IdArgument,
    as_of: AsOfOption = None,
    include_former: FormerOption = False,
    per_key_cap: Annotated[
        int, typer.Option(min=1, help="evidence shared by more parties is only counted")
    ] = 100,
    limit: Annotated[int, typer.Option(min=1, help="most links to list")] = 500,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Suspected links: parties sharing an officer, address, phone or e-mail, with evidence."""
    day = parse_as_of(as_of)
    root, result = query_party(
        party_id,
        lambda store, root: suspected_links(
            store,
            root,
            as_of=day,
            include_former=include_former,
            per_key_cap=per_key_cap,
            limit=limit,
        ),
        missing=_missing(day, as_json, total=0, items=[], crowded=[]),
        lookup="links",
        purpose=purpose,
        persons=lambda result: result.parties,  # the linked parties and the shared officers
    )
    parties = shown_parties(result.parties, [root])
    if as_json:
        print_json(_links_json(root, day, result, parties))
        return
    console.print(
        f"{result.found} suspected link{'' if result.found == 1 else 's'} of "
        f"{escape(_name(root, parties))} on {day}"
        + _bounds_note(result.truncated, None, len(result.items), result.found)
    )
    print_table(_links_table(result, parties))
    for crowded in result.crowded:
        console.print(
            f"[yellow]{crowded.kind.value}[/yellow]: "
            f"{escape(_evidence(crowded.evidence, parties))} is shared with "
            f"{crowded.parties:,} parties (too many to list)"
        )


def _links_json(
    root: PartyKey, day: date, result: LinksResult, parties: Mapping[PartyKey, dict[str, Any]]
) -> dict[str, Any]:
    return {
        **_about(root, day, parties),
        "total": result.found,
        "truncated": result.truncated,
        "items": [
            {
                "kind": link.kind.value,
                "party": plain(link.party, parties),
                "evidence": plain(link.evidence, parties),
            }
            for link in result.items
        ],
        "crowded": [
            {
                "kind": c.kind.value,
                "evidence": plain(c.evidence, parties),
                "parties": c.parties,
            }
            for c in result.crowded
        ],
    }


def _links_table(result: LinksResult, parties: Mapping[PartyKey, dict[str, Any]]) -> Table:
    table = Table("kind", "party", "evidence")
    for link in result.items:
        table.add_row(
            link.kind.value, _name(link.party, parties), _evidence(link.evidence, parties)
        )
    return table


def _evidence(evidence: Mapping[str, Any], parties: Mapping[PartyKey, dict[str, Any]]) -> str:
    if "person" in evidence:
        text = f"{_name(evidence['person'], parties)}: {', '.join(evidence['roles_here'])} here"
        if "roles_there" in evidence:
            text += f", {', '.join(evidence['roles_there'])} there"
        return text
    shown = {k: v for k, v in evidence.items() if k != "key" and v}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or f"key {evidence.get('key')}"


@investigate_app.command()
def groups(
    party_id: IdArgument,
    types: TypesOption = None,
    min_stake: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="least stake a shareholding needs to count")
    ] = DEFAULT_MIN_STAKE,
    as_of: AsOfOption = None,
    include_former: FormerOption = False,
    max_members: Annotated[int, typer.Option(min=1, help="most parties to read")] = 2000,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """The connected group around a party (default: the control group)."""
    day = parse_as_of(as_of)
    chosen = parse_relation_types(types, CONTROL_RELATIONS)
    root, group = query_party(
        party_id,
        lambda store, root: connected_group(
            store,
            root,
            relation_types=chosen,
            min_stake=min_stake,
            as_of=day,
            include_former=include_former,
            max_members=max_members,
        ),
        missing=_missing(day, as_json, members=[], relations=[]),
        lookup="groups",
        purpose=purpose,
        persons=lambda group: group.members,
    )
    parties = shown_parties(group.parties, [root])
    if as_json:
        print_json(
            {
                **_about(root, day, parties),
                "relation_types": [t.value for t in group.relation_types],
                "min_stake": group.min_stake,
                "explored_depth": group.explored_depth,
                "truncated": group.truncated,
                "members": [
                    {**plain(key, parties), "distance": group.distance[key]}
                    for key in group.members
                ],
                "relations": plain(group.relations, parties),
            }
        )
        return
    console.print(
        f"group of {escape(_name(root, parties))} over {', '.join(t.value for t in chosen)} "
        f"on {day}: {len(group.members)} parties, {len(group.relations)} relations"
        + _bounds_note(group.truncated, group.explored_depth)
    )
    table = Table("steps", "party")
    for key in group.members:
        table.add_row(str(group.distance[key]), _name(key, parties))
    print_table(table)


@investigate_app.command()
def circles(
    party_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="a party: its circle; none: every circle in the graph"),
    ] = None,
    as_of: AsOfOption = None,
    include_former: FormerOption = False,
    limit: Annotated[int, typer.Option(min=1, help="most circles (or cycles) to list")] = 1000,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Guarantee circles: of the whole graph, or the one a party sits in with its cycles."""
    day = parse_as_of(as_of)
    if party_id is None:
        with cli_store(lookup="circles", purpose=purpose) as (store, _settings):
            everything = run_query(
                lambda: guarantee_circles(
                    store, as_of=day, include_former=include_former, limit=limit
                )
            )
            touches_persons(everything.parties)  # guarantors are firms: a person only if loaded so
        _print_all_circles(everything, day, as_json)
        return
    root, mine = query_party(
        party_id,
        lambda store, root: _circles_of(
            store, root, as_of=day, include_former=include_former, limit=limit
        ),
        missing=_missing(day, as_json, members=[], cycles=[]),
        lookup="circles",
        purpose=purpose,
        persons=lambda mine: mine.parties,  # the party asked about and the circle's members
    )
    parties = shown_parties(mine.parties, [root])
    if as_json:
        print_json(
            {
                **_about(root, day, parties),
                "members": plain(mine.members, parties),
                "cycles": plain(mine.cycles, parties),
                "explored_depth": mine.explored_depth,
                "truncated": mine.truncated,
                "limited": mine.limited,
            }
        )
        return
    if not mine.members:
        console.print(f"{escape(_name(root, parties))} is in no guarantee circle on {day}")
        return
    # as for the other verbs, a --limit that left cycles out is named rather than a cap
    listed = len(mine.cycles)
    note = _bounds_note(mine.truncated, None, listed, listed + 1 if mine.limited else listed)
    console.print(
        f"{escape(_name(root, parties))} is in a guarantee circle of {len(mine.members)} on {day}, "
        f"{listed} cycle(s) through it" + note
    )
    for cycle in mine.cycles:
        out.print(" -> ".join(_name(k, parties) for k in [*cycle, cycle[0]]))


def _circles_of(
    store: GraphStore, root: PartyKey, *, as_of: date, include_former: bool, limit: int
) -> PartyCircles:
    """`circles_of`, with the party asked about among its parties: a person, who guarantees
    no one, would otherwise be shown by id alone."""
    mine = circles_of(store, root, as_of=as_of, include_former=include_former, limit=limit)
    if root not in mine.parties:
        mine.parties.update(fetch_parties(store, [root]))
    return mine


def _print_all_circles(result: CirclesResult, day: date, as_json: bool) -> None:
    parties = shown_parties(result.parties)
    if as_json:
        print_json(
            {
                "as_of": day.isoformat(),
                "total": result.found,
                "truncated": result.truncated,
                "guarantees_read": result.guarantees_read,
                "circles": [
                    {
                        "members": plain(c.members, parties),
                        "cycle": plain(c.cycle, parties),
                    }
                    for c in result.circles
                ],
            }
        )
        return
    console.print(
        f"{result.found} guarantee circle(s) among {result.guarantees_read:,} guarantees on "
        f"{day}" + _bounds_note(result.truncated, None, len(result.circles), result.found)
    )
    table = Table("size", "cycle")
    for circle in result.circles:
        cycle = [*circle.cycle, circle.cycle[0]] if circle.cycle else []
        table.add_row(str(len(circle.members)), " -> ".join(_name(k, parties) for k in cycle))
    print_table(table)
