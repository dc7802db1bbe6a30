"""The lookup verbs: `linked`, `paths` and `search` (docs/queries.md).

A party is given by USCC, legacy code (organisation code, registration number, tax number,
institution credit code), resident ID number (hashed on arrival, never printed back) or the
opaque id credgraph returns. Output is a table, or JSON with `--json`; every party is shown by
that id (JSON `id`, as the API), persons also by name and masked ID number, never their number.
Exit status: 0 answered, 1 a party (or, for `search`, any match) not found, with `--json` after
a document saying so, 2 bad input naming the argument, 3 store unreachable, 4 the lookup reaches
a natural person and `--purpose` was not given (nothing printed of the answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from credgraph.api.masking import mask_identity_numbers
from credgraph.cli_common import (
    NOT_FOUND,
    PARTY_HELP,
    AsOfOption,
    FormerOption,
    JsonOption,
    PurposeOption,
    TypesOption,
    cli_store,
    console,
    find_party,
    parse_date,
    parse_relation_types,
    party_not_found,
    party_text,
    plain,
    print_json,
    print_table,
    resolve_party,
    run_query,
    shown_parties,
    touches_persons,
)
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import (
    DEFAULT_SEARCH_LIMIT,
    MatchedOn,
    NameMatch,
    PartyKey,
    fetch_parties,
    search_by_name,
)
from credgraph.queries.paths import (
    DEFAULT_K,
    DEFAULT_PATH_DEPTH,
    PartyPath,
    PathHop,
    PathsResult,
    shortest_paths,
)
from credgraph.queries.traversal import (
    DEFAULT_PAGE,
    Linked,
    LinkedPage,
    LinkedResult,
    linked_parties,
    page,
)

T = TypeVar("T")

# the option each query argument is given by
_OPTIONS = {
    "depth": "--depth",
    "relation_types": "--types",
    "min_stake": "--min-stake",
    "first": "--first",
    "after": "--after",
    "max_depth": "--max-depth",
    "k": "--k",
    "to": "B",
    "limit": "--limit",
    "name": "NAME",
    "cap": "CREDGRAPH_TRAVERSAL_CAP",
}

SameAsOption = Annotated[
    bool, typer.Option("--same-as", help="also follow POSSIBLY_SAME_AS links (off by default)")
]
MinStakeOption = Annotated[
    float, typer.Option("--min-stake", help="drop shareholdings below this stake (0 to 1)")
]


def _run(query: Callable[[], T]) -> T:
    """Run a query; an argument it refuses exits 2 naming this module's option for it."""
    return run_query(query, _OPTIONS)


# --- showing parties --------------------------------------------------------------------------


def _parties(store: GraphStore, keys: Iterable[PartyKey]) -> dict[PartyKey, dict[str, Any]]:
    wanted = list(dict.fromkeys(keys))
    return shown_parties(fetch_parties(store, wanted), wanted)


def _walk_hop(hop: PathHop) -> dict[str, Any]:
    """A walk's hop as a path's, less `also`: a walk follows one relation to each party, and
    the others between the same two are in `relations` (`--relations`). With the relation's
    `key`, as the walk's answer has it (docs/queries.md): two relations of one type between the
    same two parties are told apart by it."""
    shown = hop.summary()
    del shown["also"]
    shown["key"] = hop.relation.properties.get("key")
    return shown


def _hop_text(hop: Mapping[str, Any]) -> str:
    arrow = "->" if hop["direction"] == "out" else "<-"
    details = [
        f"{name} {hop[name]}"
        for name in ("role", "project_role", "stake", "amount", "valid_from", "valid_to")
        if hop.get(name) is not None
    ]
    return f"{arrow} {hop['type']}" + (f" ({', '.join(details)})" if details else "")


# --- verbs ------------------------------------------------------------------------------------


def linked(
    party: Annotated[str, typer.Argument(metavar="ID", help=PARTY_HELP, show_default=False)],
    depth: Annotated[int, typer.Option("--depth", help="hops to walk, 1 to 4")] = 1,
    types: TypesOption = None,
    min_stake: MinStakeOption = 0.0,
    as_of: AsOfOption = None,
    former: FormerOption = False,
    same_as: SameAsOption = False,
    first: Annotated[int, typer.Option("--first", help="parties per page")] = DEFAULT_PAGE,
    after: Annotated[
        str | None, typer.Option("--after", help="the cursor a previous page printed")
    ] = None,
    network: Annotated[
        bool,
        typer.Option(
            "--relations",
            help="also every relation among the parties listed (one more read per label)",
        ),
    ] = False,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Parties linked to ID within --depth hops, nearest first, with the hop that reached each."""
    day, relation_types = parse_date(as_of), parse_relation_types(types)
    with cli_store(lookup="linked", purpose=purpose) as (store, settings):
        missing: dict[str, Any] | None = None
        if as_json:
            missing = {"root": None, "depth": depth, "total": 0, "items": []}
        root = resolve_party(store, settings, party, "ID", missing=missing)
        result = _run(
            lambda: linked_parties(
                store,
                root,
                depth=depth,
                relation_types=relation_types,
                as_of=day,
                include_former=former,
                min_stake=min_stake,
                follow_same_as=same_as,
                cap=settings.traversal_cap,
                close_relations=network,
            )
        )
        chosen = _run(lambda: page(result, first=first, after=after))
        # the walk's persons, on this page or another (its total and cursors tell of them)
        touches_persons(item.key for item in result.items)
        parties = _parties(store, [root, *_parties_on_page(chosen)])
    answer = plain(_linked_document(root, depth, result, chosen, network), parties)
    if as_json:
        print_json(answer)
        return
    _print_linked(answer, network)
    _print_linked_summary(result, chosen)


def _parties_on_page(chosen: LinkedPage) -> list[PartyKey]:
    """The parties a page lists, and the ends of the relations among them it shows."""
    ends = [key for hop in chosen.relations for key in (hop.from_key, hop.to_key)]
    return [*(item.key for item in chosen.items), *ends]


def _linked_document(
    root: PartyKey, depth: int, result: LinkedResult, chosen: LinkedPage, network: bool
) -> dict[str, Any]:
    """The page of a walk as `--json` prints it, party keys not yet shown as parties."""
    document = {
        "root": root,
        "depth": depth,
        "explored_depth": result.explored_depth,
        "truncated": result.truncated,
        "cap": result.cap,
        "total": chosen.total,
        "items": [_linked_item(item) for item in chosen.items],
        "end_cursor": chosen.end_cursor,
        "has_next_page": chosen.has_next_page,
        "filter": result.filter.describe() if result.filter else {},
    }
    if network:
        # each relation once across the pages: those this page's parties add (docs/queries.md)
        document["relations"] = [
            _walk_hop(PathHop(hop.from_key, hop.to_key, hop)) for hop in chosen.relations
        ]
        document["relations_truncated"] = result.relations_truncated
    return document


def _linked_item(item: Linked) -> dict[str, Any]:
    return {
        "party": item.key,
        "depth": item.depth,
        "parent": item.parent.uid,
        "via": _walk_hop(PathHop(item.parent, item.key, item.via)),
    }


def _print_linked(answer: Mapping[str, Any], network: bool) -> None:
    """The parties linked, and with --relations the relations among them, as tables."""
    table = Table("depth", "party", "via", "from", title=f"linked to {party_text(answer['root'])}")
    for item in answer["items"]:
        table.add_row(
            str(item["depth"]),
            party_text(item["party"]),
            _hop_text(item["via"]),
            party_text(item["via"]["from"]),
        )
    print_table(table)
    if network:
        relations = Table("from", "relation", "to", title="relations among them")
        for hop in answer["relations"]:
            relations.add_row(party_text(hop["from"]), _hop_text(hop), party_text(hop["to"]))
        print_table(relations)


def _print_linked_summary(result: LinkedResult, chosen: LinkedPage) -> None:
    """How many parties the page shows of how many, how deep the walk went, the next page."""
    shown = f"{len(chosen.items)} of {chosen.total} parties"
    cut = (
        f"; truncated: a level read more than {result.cap:,} relations" if result.truncated else ""
    )
    console.print(f"{shown}, explored to depth {result.explored_depth}{cut}")
    if chosen.has_next_page:
        console.print(f"next page: --after {chosen.end_cursor}")


def paths(
    source: Annotated[str, typer.Argument(metavar="A", help=PARTY_HELP, show_default=False)],
    target: Annotated[str, typer.Argument(metavar="B", help=PARTY_HELP, show_default=False)],
    max_depth: Annotated[
        int, typer.Option("--max-depth", help="longest path, in hops (1 to 6)")
    ] = DEFAULT_PATH_DEPTH,
    k: Annotated[int, typer.Option("--k", help="how many shortest paths (1 to 20)")] = DEFAULT_K,
    types: TypesOption = None,
    min_stake: MinStakeOption = 0.0,
    as_of: AsOfOption = None,
    former: FormerOption = False,
    same_as: SameAsOption = False,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """The k shortest paths between A and B, each hop with its relation, role, stake and source."""
    day, relation_types = parse_date(as_of), parse_relation_types(types)
    with cli_store(lookup="paths", purpose=purpose) as (store, settings):
        a, b = _path_ends(store, settings, source, target, max_depth, k, as_json)
        result = _run(
            lambda: shortest_paths(
                store,
                a,
                b,
                k=k,
                max_depth=max_depth,
                relation_types=relation_types,
                as_of=day,
                include_former=former,
                min_stake=min_stake,
                follow_same_as=same_as,
                cap=settings.traversal_cap,
            )
        )
        keys = [a, b, *(key for path in result.paths for key in path.parties)]
        touches_persons(keys)
        parties = _parties(store, keys)
    answer = plain(_paths_document(a, b, max_depth, k, result), parties)
    if as_json:
        print_json(answer)
        return
    _print_paths(answer, max_depth, result.truncated)


def _paths_document(
    a: PartyKey, b: PartyKey, max_depth: int, k: int, result: PathsResult
) -> dict[str, Any]:
    """The paths as `--json` prints them, party keys not yet shown as parties."""
    return {
        "from": a,
        "to": b,
        "max_depth": max_depth,
        "k": k,
        "explored_depth": result.explored_depth,
        "truncated": result.truncated,
        "paths": [_path_document(path) for path in result.paths],
    }


def _print_paths(answer: Mapping[str, Any], max_depth: int, truncated: bool) -> None:
    """One table per path, or why there is none; and whether a cap cut the search short."""
    if not answer["paths"]:
        cut = " (truncated by a cap: a longer search might find one)" if truncated else ""
        console.print(f"no path within {max_depth} hops{cut}")
        return
    for number, path in enumerate(answer["paths"], 1):
        print_table(_path_table(number, path))
    if truncated:
        console.print("truncated: a cap cut the search short; shorter paths may exist")


def _path_table(number: int, path: Mapping[str, Any]) -> Table:
    table = Table("from", "relation", "to", "source", title=f"path {number}: {path['length']} hops")
    for hop in path["hops"]:
        also = f" (also {', '.join(hop['also'])})" if hop["also"] else ""
        table.add_row(
            party_text(hop["from"]),
            _hop_text(hop) + also,
            party_text(hop["to"]),
            hop.get("source_row") or hop.get("source") or "",
        )
    return table


def _path_ends(
    store: GraphStore,
    settings: Settings,
    source: str,
    target: str,
    max_depth: int,
    k: int,
    as_json: bool,
) -> tuple[PartyKey, PartyKey]:
    """The parties A and B name; exits 2 for a malformed one, else 1 naming each of them that
    names no party (with --json, the answer with that end null first)."""
    a = find_party(store, settings, source, "A")
    b = find_party(store, settings, target, "B")
    if a is not None and b is not None:
        return a, b
    missing: dict[str, Any] | None = None
    if as_json:
        known = _parties(store, [key for key in (a, b) if key is not None])
        missing = {
            "from": known.get(a) if a else None,
            "to": known.get(b) if b else None,
            "max_depth": max_depth,
            "k": k,
            "paths": [],
        }
    raise party_not_found([name for name, key in (("A", a), ("B", b)) if key is None], missing)


def _path_document(path: PartyPath) -> dict[str, Any]:
    return {
        "length": path.length,
        "parties": path.parties,
        "hops": [hop.summary() for hop in path.hops],
    }


def search(
    name: Annotated[str, typer.Argument(metavar="NAME", help="a name or part of one")],
    limit: Annotated[
        int, typer.Option("--limit", help="most matches to show (1 to 200)")
    ] = DEFAULT_SEARCH_LIMIT,
    persons: Annotated[bool, typer.Option("--persons", help="also search natural persons")] = False,
    contains: Annotated[
        bool,
        typer.Option("--contains", help="also match inside names (scans every name: slow)"),
    ] = False,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Parties by name or by a former name or alias: exact name first, then names starting
    with it (then containing it); a match on another name a little below one on the name."""
    labels = (Label.LEGAL_PERSON, Label.NATURAL_PERSON) if persons else (Label.LEGAL_PERSON,)
    with cli_store(lookup="search", purpose=purpose) as (store, _settings):
        result = _run(
            lambda: search_by_name(store, name, labels=labels, limit=limit, substring=contains)
        )
        touches_persons(match.key for match in result.items)  # with --persons: a person matched
        parties = _parties(store, [match.key for match in result.items])
    items = [_search_item(match, parties) for match in result.items]
    # the name's key as searched, never an identity number typed in as a name
    shown_key = mask_identity_numbers(result.query_key)
    if as_json:
        print_json({"key": shown_key, "truncated": result.truncated, "items": items})
    elif items:
        print_table(_search_table(items, shown_key, persons))
        if result.truncated:
            console.print("more parties match: narrow the name or raise --limit")
    if not items:
        console.print("[red]NAME:[/red] no party matches")
        raise typer.Exit(NOT_FOUND)


def _search_item(match: NameMatch, parties: Mapping[PartyKey, dict[str, Any]]) -> dict[str, Any]:
    return {
        "party": parties[match.key],
        "match": match.match.value,
        "score": round(match.score, 4),
        # the name that matched: the party's own, or a former name or alias of it (an identity
        # number in it masked, as in the key searched)
        "matched_name": mask_identity_numbers(match.matched_name),
        "matched_on": match.matched_on.value,
    }


def _search_table(items: Iterable[Mapping[str, Any]], shown_key: str, persons: bool) -> Table:
    """The matches, with the id to give back to credgraph, and for a person the masked number a
    reader knows."""
    columns = ("score", "match", "name", "matched on", "id", *(("ID number",) if persons else ()))
    table = Table(*columns, title=f"parties named like {shown_key}")
    for item in items:
        party = item["party"]
        cells = [
            f"{item['score']:.3f}",
            item["match"],
            party["name"] or "",
            _matched_text(item),
            party["id"],
        ]
        table.add_row(*cells, *((party.get("id_masked") or "",) if persons else ()))
    return table


def _matched_text(item: Mapping[str, Any]) -> str:
    """What a match matched on: `name` for the party's own name, else the other name and what
    it is (a former name, an alias)."""
    if item["matched_on"] == MatchedOn.NAME:
        return "name"
    return f"{item['matched_on']}: {item['matched_name']}"
