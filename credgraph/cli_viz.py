"""`credgraph export`: a picture or a graph file of the neighbourhood of one party.

The export reads the store through `credgraph.queries` like the other operator verbs (it is not
an API client): natural persons appear by name and masked ID number only. An export that holds
a natural person (the party asked about, or any party of its neighbourhood) is a lookup of
persons: without `--purpose` it writes nothing and exits 4 (docs/security.md, Purpose). Formats
and caps are in docs/viz.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from credgraph.cli_common import (
    PARTY_HELP,
    AsOfOption,
    FormerOption,
    PurposeOption,
    cli_profile,
    cli_settings,
    cli_store,
    console,
    fail,
    given_path,
    output_file,
    parse_date,
    parse_relation_types,
    resolve_party,
    touches_persons,
    write_output,
)
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import PartyKey
from credgraph.viz.export import FORMATS, export
from credgraph.viz.model import MAX_NODES, build_neighbourhood, cluster_leaves
from credgraph.viz.page import MissingLibrary
from credgraph.viz.render import NO_CJK_FONT, cjk_font

# the other verbs' `--types`; `--relation-type`, its first name here, still works
ExportTypesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--types",
        "--relation-type",
        help="relation types to follow (repeatable or comma-separated)",
    ),
]


def _export_format(given: str | None, out: Path) -> str:
    """The format asked for (any case), else the one the --out file's extension names, else
    html: `--out net.png` wrote an HTML page named net.png. A format the extension contradicts
    is refused."""
    suffix = out.suffix.lower().lstrip(".")
    implied = "html" if suffix == "htm" else suffix
    if given is None:
        return implied if implied in FORMATS else "html"
    fmt = given.strip().lower()  # PNG, Svg: the names are the same
    if fmt not in FORMATS:
        raise fail("--format", f"one of {', '.join(FORMATS)}, not {fmt!r}")
    if implied in FORMATS and implied != fmt:
        raise fail("--format", f"{fmt}, but --out {out.name} names {implied}")
    return fmt


def export_command(
    party: Annotated[str, typer.Argument(metavar="ID", help=PARTY_HELP, show_default=False)],
    out: Annotated[Path, typer.Option(help="file to write", parser=given_path)],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"one of {', '.join(FORMATS)}; by default the --out file's extension, else html",
            show_default=False,
        ),
    ] = None,
    depth: Annotated[int, typer.Option(min=1, max=4, help="relations away from the party")] = 2,
    as_of: AsOfOption = None,
    types: ExportTypesOption = None,
    include_former: FormerOption = False,
    records: Annotated[bool, typer.Option("--records/--no-records", help="draw records")] = True,
    max_nodes: Annotated[
        int, typer.Option(min=10, max=5000, help="cluster and cut above this many nodes")
    ] = MAX_NODES,
    profile: Annotated[str | None, typer.Option(help="policy profile for counting")] = None,
    purpose: PurposeOption = None,
) -> None:
    """Export the neighbourhood of a party: html, png, svg, graphml, gexf or json (Cytoscape)."""
    fmt = _export_format(fmt, out)
    day = parse_date(as_of)
    chosen_types = parse_relation_types(types)
    output_file(out, "--out")  # before the store is read: a bad path fails at once
    settings = cli_settings()
    chosen = cli_profile(profile, settings)
    with cli_store(settings, lookup="export", purpose=purpose) as (store, _):
        root = resolve_party(store, settings, party)
        hood = build_neighbourhood(
            store,
            root,
            chosen,
            depth=depth,
            as_of=day,
            relation_types=chosen_types,
            include_former=include_former,
            include_records=records,
            cap=settings.traversal_cap,
        )
        # every party drawn or folded into a cluster: a party node's id is its uid
        touches_persons(
            PartyKey(Label.NATURAL_PERSON, node.id)
            for node in hood.nodes
            if node.kind == Label.NATURAL_PERSON.value
        )
    cut = cluster_leaves(hood, max_nodes)
    try:
        content = export(cut, fmt, max_nodes)
    except MissingLibrary as exc:
        console.print(f"[red]cannot write html:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    write_output(out, "--out", content)
    parties = sum(1 for n in hood.nodes if n.kind in ("LegalPerson", "NaturalPerson"))
    console.print(f"wrote {escape(str(out))} ({fmt}, {parties} parties, {len(hood.edges)} edges)")
    notices = list(cut.notices)
    if fmt in ("png", "svg") and cjk_font() is None:
        notices.append(NO_CJK_FONT)
    for notice in notices:
        console.print(f"note: {notice}", style="yellow", markup=False)
