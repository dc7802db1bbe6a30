"""The `credgraph` command line.

Every verb reads its settings from `CREDGRAPH_*` variables (docs/settings.md); with no
`CREDGRAPH_NEO4J_URI` it starts the embedded store under `CREDGRAPH_DATA_DIR`, or attaches to
the one another credgraph process already runs there.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from credgraph.cli_common import (
    STORE_PROBLEM,
    cli_profiles,
    cli_settings,
    console,
    fail,
    given_path,
    open_cli_store,
    out,
    output_file,
    output_folder,
    parse_date,
    writable_folder,
    write_output,
)
from credgraph.graph import clock
from credgraph.graph.settings import Collector, Settings, with_collector, write_owner_only
from credgraph.graph.store import GraphStore, StoreError
from credgraph.loaders.loader import Loader, PlanError, PlannedFile, plan_load
from credgraph.loaders.mapping import MappingError, builtin_mappings, load_mapping
from credgraph.loaders.report import FileReport, LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.sources import SourceError
from credgraph.queries.stats import graph_counts, sample_enterprise_with_shared_officer


class _Cli(typer.Typer):
    """The `credgraph` command: a `StoreError` that no verb turned into its own message (the
    store dying under `stats`, `keys`, `backup` ... after it opened) exits 3 saying so, as the
    lookup verbs do (cli_common.py `cli_store`), not with a traceback and exit 1, which says
    rows were rejected."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except StoreError as exc:
            console.print(f"[red]the graph store failed:[/red] {escape(str(exc))}")
            sys.exit(STORE_PROBLEM)


app = _Cli(help="credgraph: a graph platform for social-credit risk.", no_args_is_help=True)

DEMO_ENTERPRISES = 3000
DEMO_SEED = 20150101


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the registry into", parser=given_path)],
    enterprises: Annotated[
        int,
        typer.Option(
            min=1,
            help="number of legal persons of every kind (enterprises, individual businesses, "
            "public institutions, social organisations), not only enterprises",
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same files")] = 1,
) -> None:
    """Write a deterministic synthetic registry in the canonical formats (docs/formats.md)."""
    from credgraph.loaders.synthetic import foreign_files
    from credgraph.loaders.synthetic import generate as generate_registry

    output_folder(out, "--out")
    if taken := foreign_files(out):
        raise fail(
            "--out",
            f"{out} holds {', '.join(taken)}, not written by `credgraph generate` (no manifest "
            "of an earlier run): give an empty folder, or move them away first",
        )
    try:
        manifest = generate_registry(out, enterprises=enterprises, seed=seed)
    except OSError as exc:  # a full disk, a file it cannot replace
        raise fail("--out", f"cannot write into {out}: {exc.strerror}") from None
    console.print(f"wrote {escape(str(out))} ({enterprises} enterprises, seed {seed})")
    typer.echo(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2))


def _plan(paths: list[Path], mapping_files: list[Path]) -> list[PlannedFile]:
    try:
        mappings = [load_mapping(path) for path in mapping_files]
        return plan_load(paths, mappings, builtin_mappings())
    except (MappingError, PlanError) as exc:
        console.print(f"[red]cannot load:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _person_key(settings: Settings, store: GraphStore | None) -> bytes:
    """The key a load makes person tokens with. A dry run without a store, in a data dir that
    has no key yet, takes one of its own: its tokens meet only each other, and a key written
    into the data dir would become the key of every later load there."""
    if store is None and not settings.has_person_key():
        return secrets.token_urlsafe(32).encode()
    return settings.person_key_bytes()


def _run_load(
    store: GraphStore | None,
    settings: Settings,
    planned: list[PlannedFile],
    rejects_dir: Path,
    *,
    dry_run: bool = False,
    full_extract: date | None = None,
    force_end: bool = False,
) -> LoadReport:
    from credgraph.queries.contagion import MAX_RESCORE_RECORDS

    total = sum(_count_lines(item.path) for item in planned)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("loading", total=total or None, rate=0.0)

        def advance(rows: int) -> None:
            progress.advance(task, rows)
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, rate=progress.tasks[task].completed / elapsed)

        loader = Loader(
            store,
            ParseContext(_person_key(settings, store)),
            batch_size=settings.write_batch_size,
            rejects_dir=rejects_dir,
            on_rows=advance,
            dry_run=dry_run,
            full_extract=full_extract,
            force_end=force_end,
            rescore_cap=MAX_RESCORE_RECORDS,  # the relation ends the re-score takes in
        )
        try:
            return loader.load(planned)
        except SourceError as exc:
            console.print(f"[red]cannot read a source:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except StoreError as exc:
            console.print(
                f"[red]the store failed during the load:[/red] {escape(str(exc))}\n"
                "committed chunks are kept; run the same command again to finish the load"
            )
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted:[/yellow] the chunks written so far are committed; run the"
                " same command again to go on from there"
            )
            raise typer.Exit(130) from None


def _count_lines(path: Path) -> int:
    """Rows to expect, for the progress bar (text files: lines less the header)."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"):
        return 0
    with path.open("rb") as handle:
        return max(
            sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0
        )


def _print_report(report: LoadReport) -> None:
    console.print(_files_table(report))
    for f in report.files:
        name = escape(Path(f.file).name)
        _print_row_notes(name, f)
        _print_column_notes(name, f)
        _print_extract_note(name, f, report.dry_run)
    _print_rescore_notes(report)
    if report.snapshots:
        named = ", ".join(f"{name} {snapshot}" for name, snapshot in report.snapshots.items())
        console.print(f"snapshot ids from now on: {escape(named)}")


def _files_table(report: LoadReport) -> Table:
    table = Table(title=f"load {report.run_id}{' (dry run)' if report.dry_run else ''}")
    for column in ("file", "encoding", "read", "loaded", "rejected", "merged", "skipped"):
        table.add_column(column, justify="left" if column in ("file", "encoding") else "right")
    for f in report.files:
        table.add_row(
            escape(Path(f.file).name),
            escape(f.encoding),
            *(f"{n:,}" for n in (f.read, f.loaded, f.rejected, f.merged)),
            f"{f.skipped_chunks} chunks" if f.skipped_chunks else "",
        )
    return table


def _print_row_notes(name: str, f: FileReport) -> None:
    """What became of a file's rows beyond the counts: none read, rejects, older values,
    businesses folded, FtM referents claimed already."""
    if f.read == 0 and not f.skipped_chunks:
        console.print(
            f"  [yellow]{name}: no rows[/yellow] (a header alone, or nothing): an export cut short?"
        )
    if f.rejects_file:
        top = ", ".join(
            f"{reason} ({n})" for reason, n in sorted(f.reasons.items(), key=lambda x: -x[1])[:3]
        )
        console.print(f"  {name}: rejects in {escape(f.rejects_file)}: {escape(top)}")
    if f.outdated:
        console.print(
            f"  {name}: {f.outdated:,} row(s) older than the stored values: the values of"
            " a later extract were kept"
        )
    if f.folded:
        console.print(
            f"  {name}: {f.folded:,} business(es) without a USCC folded into"
            " the USCC that took their registration number over"
        )
    if f.referent_conflicts:
        console.print(
            f"  [yellow]{name}: {f.referent_conflicts:,} FtM referent(s) another party"
            " claims already[/yellow] (recorded, nothing folded; links naming them are"
            f" refused): {escape('; '.join(f.referent_conflict_lines[:3]))}"
        )


def _print_column_notes(name: str, f: FileReport) -> None:
    """The file's columns, entities and properties its mapping does not match."""
    if f.unused_columns:
        console.print(
            f"  [yellow]{name}: columns not loaded[/yellow] (no field of this"
            f" file; misspelt?): {escape(', '.join(f.unused_columns))}"
        )
    if f.missing_columns:
        console.print(
            f"  [yellow]{name}: columns the mapping reads are not in the file[/yellow]"
            f" (those fields stay empty): {escape(', '.join(f.missing_columns))}"
        )
    if f.unmapped_entities:
        console.print(
            f"  [yellow]{name}: entities not mapped[/yellow] (not loaded, not rejected):"
            f" {escape(_counted(f.unmapped_entities))}"
        )
    if f.unmapped_properties:
        console.print(
            f"  [yellow]{name}: properties not mapped[/yellow] (their values are not"
            f" loaded): {escape(_counted(f.unmapped_properties))}"
        )


def _print_extract_note(name: str, f: FileReport, dry_run: bool) -> None:
    """What a full extract ended, or why it ended nothing."""
    if f.end_refused:
        console.print(f"  [red]{name}: full extract:[/red] {escape(f.end_refused)}")
    elif f.ended is not None:
        done = "would end" if dry_run else "ended"
        console.print(
            f"  {name}: full extract: {done} {f.ended:,} relation(s) or record(s) no longer listed"
        )


def _print_rescore_notes(report: LoadReport) -> None:
    if report.rescored:
        console.print(
            f"re-scored {report.rescored:,} parties the loaded records and relations reach"
        )
    if report.resumed_chunks:
        console.print(
            f"took in {report.resumed_chunks:,} chunk(s) an earlier run committed and stopped"
            " before re-scoring (of these files or others): what they changed went to the"
            " re-score"
        )
    if report.rescore_note:
        console.print(f"[yellow]scores:[/yellow] {escape(report.rescore_note)}")


def _counted(counts: dict[str, int]) -> str:
    """`Family (3), Address (2)`: the most frequent first."""
    return ", ".join(f"{key} ({n:,})" for key, n in sorted(counts.items(), key=lambda x: -x[1]))


def _rescore_after_load(store: GraphStore, settings: Settings, report: LoadReport) -> None:
    """Re-score what the load's negative records and its created, changed or ended relations
    reach, when the store holds scores (docs/risk-model.md): the stored scores stay those of one
    full re-score. Once it has run (or said why it re-scores nothing), the load's chunks owe no
    re-score; if it could not run, they still do, and any later load re-scores them (or a full
    `risk score` clears them)."""
    from credgraph.loaders.loader import mark_rescored
    from credgraph.queries.contagion import rescore_records
    from credgraph.queries.lookup import PartyKey
    from credgraph.queries.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(settings.risk_profiles_file)
        done = rescore_records(
            store,
            report.changed_records,
            parties=[PartyKey(label, uid) for label, uid in report.changed_parties],
            more_parties=report.more_changed_parties,
            profiles=profiles,
        )
    except (ProfileError, StoreError) as exc:  # the load is committed; say the scores are not
        report.rescore_skipped = "failed"
        report.rescore_note = (
            f"the stored scores were not re-scored: {exc}; its chunks stay marked as owing a"
            " re-score: once that is fixed, any later load (this one again: its committed chunks"
            " are skipped) re-scores what they changed, or run `credgraph risk score`"
        )
        return
    report.rescored, report.rescore_note = done.rescored, done.note
    report.rescore_skipped = done.skipped
    # if this write fails, the chunks stay marked as owing a re-score: the next run of the same
    # files re-scores their relations' ends again, to the same scores; no harm, only work
    with contextlib.suppress(StoreError):
        mark_rescored(store, report.pending_chunks)


@app.command()
def load(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH", help="files or folders of source files", parser=given_path),
    ],
    mapping: Annotated[
        list[Path] | None,
        typer.Option(
            help="a mapping file (YAML) for a non-canonical source; repeatable", parser=given_path
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="write the JSON load report here", parser=given_path)
    ] = None,
    rejects_dir: Annotated[
        Path | None, typer.Option(help="folder for rejects files", parser=given_path)
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(help="check every row against the files and the store, write nothing"),
    ] = False,
    full_extract: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="the files are complete lists of their sources on DATE (YYYY-MM-DD, not after "
            "today): end the relations and records of those sources they no longer list",
        ),
    ] = None,
    force_end: Annotated[
        bool,
        typer.Option(
            help="with --full-extract: end even when rows were rejected or the extract would "
            "end more than a quarter of its source",
        ),
    ] = False,
) -> None:
    """Load registry files (docs/formats.md). Exit status 1 if any row was rejected, 2 if a
    full extract's ending was refused as too large.

    Killed or interrupted? Run the same command again: committed chunks are skipped.
    """
    extract_day = _extract_day(full_extract)
    if force_end and extract_day is None:
        raise fail("--force-end", "only goes with --full-extract DATE")
    settings = with_collector(cli_settings(), Collector.THROUGHPUT)
    planned = _plan(paths, mapping or [])
    chosen_rejects = _rejects_folder(paths, rejects_dir)
    if report is not None:
        output_file(report, "--report")
    result = _load_and_rescore(
        settings,
        planned,
        chosen_rejects,
        dry_run=dry_run,
        full_extract=extract_day,
        force_end=force_end,
    )
    _print_report(result)
    if report:
        write_output(report, "--report", result.json_text().encode("utf-8"))
    raise typer.Exit(_load_exit_status(result))


def _rejects_folder(paths: list[Path], rejects_dir: Path | None) -> Path:
    """The folder for rejects files: --rejects-dir, else `rejects` beside the first path.

    Checked before anything loads: a load must not commit and then fail to say so. Made only
    when a row is rejected: an empty folder would say nothing, or that rows were.
    """
    default_rejects = (paths[0] if paths[0].is_dir() else paths[0].parent) / "rejects"
    return writable_folder(rejects_dir or default_rejects, "--rejects-dir")


def _load_and_rescore(
    settings: Settings,
    planned: list[PlannedFile],
    rejects_dir: Path,
    *,
    dry_run: bool,
    full_extract: date | None,
    force_end: bool,
) -> LoadReport:
    """Load the planned files, then re-score what they changed (not on a dry run)."""
    if not dry_run:  # the re-score reads the profiles: a file that does not load is refused first
        cli_profiles(settings)
    # a dry run reads the store when there is one, so that references to parties loaded before
    # resolve as they would; it creates none
    opened = not dry_run or settings.has_store()
    store = open_cli_store(settings) if opened else None
    try:
        result = _run_load(
            store,
            settings,
            planned,
            rejects_dir,
            dry_run=dry_run,
            full_extract=full_extract,
            force_end=force_end,
        )
        if store is not None and not dry_run:
            _rescore_after_load(store, settings, result)
            _name_the_snapshots(store, settings, result)
    finally:
        if store is not None:
            store.close()
    return result


def _name_the_snapshots(store: GraphStore, settings: Settings, report: LoadReport) -> None:
    """The data version after the load and the snapshot id each known profile names from now
    on, into the report: a decision's `snapshotId` is then found among the load reports kept.
    One read; a store that fails it leaves them out (the load is committed)."""
    from credgraph.queries.ledger import data_version
    from credgraph.queries.risk import snapshot_id

    try:
        version = data_version(store)
    except StoreError:
        return
    report.data_version = version.token()
    report.snapshots = {
        known.profile.name: snapshot_id(known.profile, version) for known in cli_profiles(settings)
    }


def _load_exit_status(result: LoadReport) -> int:
    """1 when a row was rejected, 2 when a full extract's ending was refused as too large."""
    # an ending refused for rejected rows is told by the rejects' status, 1
    refused = any(f.end_refused and not f.rejected for f in result.files)
    return 2 if refused else 1 if result.rejected else 0


def _extract_day(text: str | None) -> date | None:
    """The --full-extract date, or exit 2: not after today (in China, graph/clock.py), as a
    row's `status_since` is not after the load's day. An extract dated ahead would end every
    relation and record it does not list on a day that has not come."""
    day = parse_date(text, "--full-extract")
    today = clock.today()
    if day is not None and day > today:
        raise fail(
            "--full-extract",
            f"{day.isoformat()} is after today ({today.isoformat()}, the date in China): an "
            "extract describes a day that has come",
        )
    return day


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Node counts by label and relation counts by type."""
    settings = cli_settings()
    with open_cli_store(settings) as store:
        counts = graph_counts(store)
    if as_json:
        typer.echo(json.dumps(counts, indent=2))
        return
    for section, values in counts.items():
        table = Table(title=section)
        table.add_column("name")
        table.add_column("count", justify="right")
        for name, count in values.items():
            table.add_row(name, f"{count:,}")
        out.print(table)


def _serve(store: GraphStore, settings: Settings, host: str, port: int, workers: int = 1) -> None:
    from credgraph import serving
    from credgraph.api.app import create_app
    from credgraph.cli_api import multiprocess_metrics, viz_routers

    with serving.stop_if_the_store_dies(store.embedded) as died:
        if workers > 1:  # each worker process builds its own app and store connection
            with multiprocess_metrics():  # and /metrics adds up the figures of all of them
                serving.run(
                    "credgraph.cli_api:worker_app",
                    factory=True,
                    host=host,
                    port=port,
                    workers=workers,
                )
        else:
            serving.run(
                create_app(store, settings, extra_routers=viz_routers()), host=host, port=port
            )
    if died.is_set():
        console.print(
            "[red]the embedded store exited under the server:[/red] the server stopped; see "
            f"{escape(str(store.embedded.log_file if store.embedded else ''))} and run "
            "credgraph serve again"
        )
        raise typer.Exit(3)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="worker processes (CREDGRAPH_API_WORKERS)")
    ] = None,
) -> None:
    """Serve the GraphQL API until Ctrl-C."""
    from credgraph.serving import refuse_unusable_address

    settings = with_collector(cli_settings(), Collector.LATENCY)
    cli_profiles(settings)  # a profiles file that does not load is refused before a store starts
    host = settings.api_host if host is None else host
    port = settings.api_port if port is None else port  # --port 0 is refused, not the default
    refuse_unusable_address(host, port)  # before a store starts, not after
    with open_cli_store(settings) as store:
        _serve(store, settings, host, port, workers or settings.api_workers)


@app.command()
def demo(
    enterprises: Annotated[
        int, typer.Option(min=10, help="size of the demo registry")
    ] = DEMO_ENTERPRISES,
    seed: Annotated[int, typer.Option(help="seed of the demo registry")] = DEMO_SEED,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve after loading")
    ] = True,
) -> None:
    """Start the store, generate and load the demo registry (once), and serve the API."""
    from credgraph.loaders.synthetic import generate as generate_registry

    settings = cli_settings()
    if serve_api:
        cli_profiles(settings)  # refused before the store starts, not once the demo is loaded
    registry = settings.data_dir / f"demo-registry-{enterprises}-{seed}"
    marker = registry / "loaded.json"
    with open_cli_store(settings) as store:
        if marker.exists():
            console.print(f"demo registry already loaded ({escape(str(marker))}); reusing the data")
        else:
            console.print(f"generating {enterprises:,} enterprises into {escape(str(registry))}")
            generate_registry(registry, enterprises=enterprises, seed=seed)
            result = _run_load(store, settings, _plan([registry], []), registry / "rejects")
            _print_report(result)
            console.print(
                "[dim]rejected rows above are the generator's deliberate dirty rows[/dim]"
            )
            result.write_json(marker)
        sample = sample_enterprise_with_shared_officer(store)
        url = f"http://{settings.api_host}:{settings.api_port}"
        key_file = _demo_key(store, settings)
        if sample:
            # without a server the address answers nothing yet: say how to start one
            where = f"{url}/graphql" if serve_api else f"{url}/graphql after `credgraph serve`"
            console.print(f"\ntry it: open {where} and run\n")
            console.print(_example_query(sample["uscc"]), markup=False)
            console.print(
                f"with the headers (an investigator key, kept in {key_file}):\n"
                f'{{"Authorization": "Bearer {key_file.read_text(encoding="utf-8").strip()}", '
                '"X-Credgraph-Purpose": "investigation"}',
                markup=False,
            )
        if serve_api:
            _serve(store, settings, settings.api_host, settings.api_port)


def _demo_key(store: GraphStore, settings: Settings) -> Path:
    """The demo's investigator API key, made once into `<data dir>/demo-api-key` (mode 0600)."""
    from credgraph.api.keys import make_key

    path = settings.data_dir / "demo-api-key"
    if not path.exists():
        write_owner_only(path, make_key(store, "investigator", "demo").secret + "\n")
    return path


def _example_query(uscc: str) -> str:
    return (
        "{\n"
        f'  linkedParties(id: "{uscc}", depth: 2) {{\n'
        "    root { name ... on LegalPerson { uscc } }\n"
        "    items { depth via { type role } party { name __typename\n"
        "      ... on LegalPerson { uscc kind } records { kind status } } }\n"
        "  }\n}\n"
    )


from credgraph.cli_api import audit_app, keys_app  # noqa: E402

app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

from credgraph.cli_viz import export_command  # noqa: E402

app.command("export")(export_command)

from credgraph.cli_investigate import investigate_app  # noqa: E402

app.add_typer(investigate_app)  # no name: trace, links, groups, circles are top-level verbs

from credgraph.cli_risk import risk_app  # noqa: E402

app.add_typer(risk_app, name="risk")

from credgraph.cli_queries import linked, paths, search  # noqa: E402

app.command("linked")(linked)
app.command("paths")(paths)
app.command("search")(search)

from credgraph.cli_backup import backup_command, restore_command  # noqa: E402

app.command("backup")(backup_command)
app.command("restore")(restore_command)

from credgraph.cli_migrate import migrate_command  # noqa: E402

app.command("migrate")(migrate_command)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
