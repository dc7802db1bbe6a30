"""`credgraph keys ...` and `credgraph audit ...`: API keys and the audit log.

`keys create` prints the new key once, on standard output, and never again: only its SHA-256
digest is stored. `audit verify` walks the hash chain (with the files it was rotated into) and
exits 1 naming the first event that was changed or removed, 2 when it cannot check. `audit
find` lists the events that name a party (its token, not its identifier, is in the log): a
lookup of the party's history, registered as the other lookups are.
`worker_app` is the app factory each `credgraph serve --workers N` worker process builds its
app with, and `multiprocess_metrics` gives those workers one place to count in, so that
`/metrics` covers them all.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from fastapi import APIRouter, FastAPI
from rich.markup import escape
from rich.table import Table

from credgraph.cli_common import (
    BAD_INPUT,
    PARTY_HELP,
    JsonOption,
    PurposeOption,
    cli_settings,
    cli_store,
    console,
    fail,
    find_party,
    given_path,
    open_cli_store,
    out,
    output_file,
    parse_date,
    party_not_found,
    print_table,
    purpose_first,
)
from credgraph.graph.clock import CHINA_STANDARD_TIME
from credgraph.graph.settings import Settings, write_owner_only
from credgraph.graph.store import GraphStore

if TYPE_CHECKING:
    from credgraph.api.audit import FoundEvent, Verdict

keys_app = typer.Typer(help="API keys: create (printed once), list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of every lookup.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="public, approval, investigator, analyst or admin")],
    name: Annotated[str, typer.Option(help="who or what the key is for (shown in the audit)")],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="write the key into this new file (mode 0600) instead of printing it",
            parser=given_path,
        ),
    ] = None,
) -> None:
    """Create a key and print it once; only its digest is stored."""
    from credgraph.api.keys import ApiKeyError, all_keys, make_key, revoke

    settings = cli_settings()
    if out_file is not None and output_file(out_file, "--out").exists():
        raise fail("--out", f"{out_file} exists; the key is only written into a new file")
    with open_cli_store(settings) as store:
        try:
            new = make_key(store, role, name)
        except ApiKeyError as exc:
            raise fail(f"--{exc.argument}", str(exc)) from None
        if out_file is not None:
            try:
                write_owner_only(out_file, new.secret + "\n")
            except OSError as exc:  # a key nobody holds must not stay live
                revoke(store, new.key_id)
                raise fail(
                    "--out", f"cannot write {out_file}: {exc.strerror}; the new key is revoked"
                ) from None
        namesakes = [k for k in all_keys(store) if k.name == new.name and k.key_id != new.key_id]
    where = f"written to {out_file} (mode 0600)" if out_file else "shown only now"
    console.print(
        f"key {new.key_id} ({new.role.value}, {new.name}) created. It is {where}: "
        "store it where the caller keeps secrets.",
        markup=False,
    )
    for other in namesakes:
        if not other.revoked:
            console.print(
                f"note: key {other.key_id} ({other.role}) has this name too and still works; "
                f"revoke it once the caller uses the new one: credgraph keys revoke "
                f"{other.key_id}",
                markup=False,
            )
    if out_file is None:
        typer.echo(new.secret)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Every key: id, name, role, created, revoked (times in UTC; never the secret)."""
    from credgraph.api.keys import all_keys

    settings = cli_settings()
    with open_cli_store(settings) as store:
        keys = all_keys(store)
    rows = [
        {
            "id": k.key_id,
            "name": k.name,
            "role": k.role,
            "created_at": k.created_at.isoformat() if k.created_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print("no API keys yet: credgraph keys create --role R --name N")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "role", "created_at", "revoked_at"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(str(row[c] or "") for c in ("id", "name", "role", "created_at", "revoked_at"))
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (keys list), or the whole key")],
) -> None:
    """Revoke a key: every API worker refuses it within CREDGRAPH_API_KEY_CACHE_S seconds."""
    from credgraph.api.keys import ApiKeyError, revoke

    settings = cli_settings()
    with open_cli_store(settings) as store:
        try:
            revoked, now = revoke(store, key_id)
        except ApiKeyError as exc:
            raise fail("KEY_ID", str(exc)) from None
    when = revoked.revoked_at.isoformat() if revoked.revoked_at else "?"
    said = "revoked" if now else f"was already revoked at {when}; nothing changed"
    console.print(f"key {revoked.key_id} ({revoked.name}) {said}", markup=False)


@audit_app.command("verify")
def audit_verify(
    archived: Annotated[
        list[Path] | None,
        typer.Argument(
            help="files the log was rotated into, oldest first (gzip-compressed or not): "
            "checked with it as one chain",
            metavar="ROTATED...",
            parser=given_path,
        ),
    ] = None,
) -> None:
    """Check the audit chain: exit 0 when intact, 1 naming the first event changed, inserted or
    removed, 2 when it cannot be checked (the key is missing, a file cannot be read)."""
    from credgraph.api.audit import head_file, verify

    settings = cli_settings()
    path, key_path, older = settings.audit_log_path, settings.audit_key_path, archived or []
    _check_rotated(path, older)
    head = head_file(path)
    shown = escape(str(path))  # a path is not rich markup
    if not (older or path.exists() or head.exists()):
        console.print(f"{shown}: no audit log yet: no lookup has been registered")
        return
    if not key_path.is_file():  # never made here: a new key would call every event changed
        console.print(
            f"[red]cannot check {shown}:[/red] its key {escape(str(key_path))} is missing; the "
            "chain can only be checked with the key that sealed it"
        )
        raise typer.Exit(BAD_INPUT)
    try:
        verdict = verify(path, settings.audit_key_bytes(), older)
    except OSError as exc:
        console.print(
            f"[red]cannot check {shown}:[/red] {escape(str(exc.filename))}: {exc.strerror}"
        )
        raise typer.Exit(BAD_INPUT) from None
    if verdict.ok:
        console.print(f"{shown}: {verdict.events} events, chain intact")
        return
    if verdict.starts_late:  # no event is bad: a file is missing, or the files are misordered
        console.print(f"[red]{escape(verdict.reason or '')}[/red]")
        raise typer.Exit(1)
    console.print(
        f"[red]{shown}: event {verdict.first_bad} is bad{_line_of(verdict, path)}:[/red] "
        f"{escape(verdict.reason or '')} ({verdict.events} events before it are intact)"
    )
    raise typer.Exit(1)


def _line_of(verdict: Verdict, log: Path) -> str:
    """Where the bad event is, when that is not the line of its number in the log itself: in a
    file the log was rotated into, or in a log that starts after a rotation."""
    if verdict.location is None:
        return ""
    file, line = verdict.location
    if file == log and line == verdict.first_bad:
        return ""
    return f" (line {line} of {escape(str(file))})"


def _check_rotated(live: Path, rotated: list[Path]) -> None:
    """Each rotated file is a file, and not the live log: that is checked after the rotated
    files anyway, so named among them as well its events would come twice, and the chain be
    called broken where it is not."""
    for named in rotated:
        if not named.is_file():
            raise fail("ROTATED", f"{named} is not a file (no such file, or a folder)")
        if live.exists() and named.samefile(live):
            raise fail(
                "ROTATED",
                f"{named} is the live audit log, checked after the rotated files anyway; "
                "name only the files it was rotated into",
            )


# a day of `--since` / `--until`: None leaves that end open
Window = tuple[date | None, date | None]
FOUND_COLUMNS = (
    "seq",
    "at (UTC)",
    "date (China)",
    "role",
    "key_name",
    "purpose",
    "operation",
    "outcome",
    "decision",
    "reasons",
    "snapshot",
    "profile",
    "profile_version",
)


@audit_app.command("find")
def audit_find(
    party: Annotated[str, typer.Argument(metavar="ID", help=PARTY_HELP, show_default=False)],
    archived: Annotated[
        list[Path] | None,
        typer.Argument(
            help="every file the log was rotated into, oldest first (gzip-compressed or not): "
            "searched before it",
            metavar="ROTATED...",
            parser=given_path,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="only events on or after this date in China (YYYY-MM-DD)"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="only events on or before this date in China (YYYY-MM-DD)"),
    ] = None,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """The audit events that name a party, oldest first: the lookups of it, and the screens'
    decisions about it with what they rested on. Exit 1 when none does, 2 when the files given
    are out of order or leave events out between them (a warning when they start after event
    1). A lookup of the party's history: registered, and a natural person's needs --purpose."""
    window = _window(since, until)
    settings = cli_settings()
    log, older = settings.audit_log_path, archived or []
    _check_rotated(log, older)
    files = [*older, log] if log.exists() else older
    starts_at = _history_start(files)
    with cli_store(settings, lookup="audit find", purpose=purpose) as (store, _):
        tokens = _subject_tokens(store, settings, party)
        purpose_first()  # a refused lookup tells nothing, of the log either
        _warn_of_older_events(starts_at)
        found, malformed = _events_found(files, tokens, window)
    if malformed:
        console.print(
            f"note: {malformed} lines naming this party are not well-formed events "
            "(credgraph audit verify tells which)"
        )
    _print_found(found, as_json)


def _history_start(files: list[Path]) -> int:
    """The event the files start at; exits 2 when they are no one history, which would list a
    party's events out of order or with some left out, without a sign of it."""
    from credgraph.api.audit import history_gap, spans

    try:
        given = spans(files)
    except OSError as exc:
        raise fail(str(exc.filename), f"cannot read it: {exc.strerror}") from None
    if (gap := history_gap(given)) is not None:
        raise fail("ROTATED", gap)
    first = given[0].first if given else None
    return first if first is not None else 1


def _warn_of_older_events(starts_at: int) -> None:
    if starts_at > 1:
        console.print(
            f"warning: the files given start at event {starts_at}: events 1 to {starts_at - 1} "
            "are in rotated files not given, and were not searched (give them, oldest first)"
        )


def _window(since: str | None, until: str | None) -> Window:
    """The days of `--since` and `--until`, or exit 2 naming the option that is wrong."""
    first, last = parse_date(since, "--since"), parse_date(until, "--until")
    if first is not None and last is not None and last < first:
        raise fail("--until", f"{last} is before --since {first}")
    return first, last


def _subject_tokens(store: GraphStore, settings: Settings, raw: str) -> frozenset[str]:
    """The tokens the audit log names the party `raw` by: of its uid and the uids it went by
    before (a `REG:` business folded into it: queries/lookup.py `former_uids`) when the store
    holds it, else of the uid the identifier keys it by (a person erased since, or never
    loaded, whom a lookup may still have named). Exits 1 when neither gives one (an unknown
    legacy code)."""
    from credgraph.api.audit import subject_token
    from credgraph.queries.lookup import former_uids, uids_keyed_by

    key = settings.person_key_bytes()
    found = find_party(store, settings, raw)
    uids = uids_keyed_by(raw, key) if found is None else [found.uid, *former_uids(store, found)]
    if not uids:
        raise party_not_found(["ID"], None)
    return frozenset(subject_token(key, uid) for uid in uids)


def _events_found(
    files: list[Path], tokens: frozenset[str], window: Window
) -> tuple[list[FoundEvent], int]:
    """The events naming one of `tokens` within `window`, and the lines naming one that are no
    well-formed event; exits 2 naming a file that cannot be read, 1 when no event is found."""
    from credgraph.api.audit import events_naming

    try:
        found, malformed = events_naming(files, tokens)
    except OSError as exc:
        purpose_first()  # the party is resolved: a person's lookup says why before it fails
        raise fail(str(exc.filename), f"cannot read it: {exc.strerror}") from None
    chosen = [item for item in found if _within(_logged_at(item.event), window)]
    if not chosen:
        dated = " between those dates" if window != (None, None) else ""
        raise party_not_found(["ID"], None, f"no event of the audit log names this party{dated}")
    return chosen, malformed


def _logged_at(event: dict[str, Any]) -> datetime | None:
    """When the event was written (its `at`, in UTC), None when it has no readable time."""
    try:
        at = datetime.fromisoformat(str(event.get("at")))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _within(at: datetime | None, window: Window) -> bool:
    first, last = window
    if first is None and last is None:
        return True
    if at is None:  # asked for dates, an event without a time cannot be said to be in them
        return False
    day = at.astimezone(CHINA_STANDARD_TIME).date()
    return (first is None or first <= day) and (last is None or day <= last)


def _print_found(found: list[FoundEvent], as_json: bool) -> None:
    """The events as logged, one JSON object per line with the party's decision under
    `decision`; or a table, its count on standard error."""
    if as_json:
        for item in found:
            picked = {} if item.decision is None else {"decision": item.decision}
            typer.echo(json.dumps({**item.event, **picked}, ensure_ascii=False))
        return
    table = Table(title="audit events naming the party")
    for column in FOUND_COLUMNS:
        table.add_column(column)
    for item in found:
        table.add_row(*_found_row(item))
    print_table(table)
    count = len(found)
    console.print(f"{count} event names this party" if count == 1 else f"{count} events name it")


def _found_row(item: FoundEvent) -> list[str]:
    event, decision = item.event, item.decision or {}
    at = _logged_at(event)
    reasons = decision.get("reasons")
    listed = reasons if isinstance(reasons, list) else []
    codes = [str(r[0]) for r in listed if isinstance(r, list) and r]
    return [
        _cell(event.get("seq")),
        at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else _cell(event.get("at")),
        at.astimezone(CHINA_STANDARD_TIME).date().isoformat() if at else "",
        *(_cell(event.get(f)) for f in ("role", "key_name", "purpose", "operation", "outcome")),
        _cell(decision.get("decision")),
        ", ".join(codes),
        *(_cell(event.get(f)) for f in ("snapshot", "profile", "profile_version")),
    ]


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def worker_app() -> FastAPI:
    """The app of one `credgraph serve` worker: its own store connection, closed at exit."""
    from contextlib import asynccontextmanager

    from credgraph.api.app import create_app
    from credgraph.graph.migrations import check_format
    from credgraph.graph.schema import apply_schema
    from credgraph.graph.settings import load_settings
    from credgraph.graph.store import open_store

    settings = load_settings()
    store = open_store(settings)
    try:  # `serve` checked before it started the workers; a store migrated since is refused
        check_format(apply_schema(store))
    except Exception:
        store.close()
        raise
    app = create_app(store, settings, extra_routers=viz_routers())
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI):  # type: ignore[no-untyped-def]
        async with inner(application) as state:
            yield state
        store.close()

    app.router.lifespan_context = lifespan
    return app


@contextmanager
def multiprocess_metrics() -> Iterator[None]:
    """Give the `serve` workers about to start one private directory for their metrics.

    api/metrics.py: each worker counts in memory-mapped files there, and `/metrics` adds up
    every worker's. The directory (mode 0700) is removed when the workers have stopped. A
    `PROMETHEUS_MULTIPROC_DIR` already set is used as it is, and left in place.
    """
    from credgraph.api.metrics import MULTIPROCESS_DIR_ENV

    if os.environ.get(MULTIPROCESS_DIR_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="credgraph-metrics-")
    os.environ[MULTIPROCESS_DIR_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def viz_routers() -> tuple[APIRouter, ...]:
    """Routers of the viz pages, when the viz layer provides them (`credgraph.viz.routes`)."""
    try:
        routes = importlib.import_module("credgraph.viz.routes")
    except ImportError:
        return ()
    router = getattr(routes, "router", None)
    return (router,) if isinstance(router, APIRouter) else ()
