"""What every `credgraph` verb shares: the consoles, settings, opening the store, the options
most verbs take, resolving a party and printing answers.

Verbs live in modules of their own beside this one (`cli.py` for loading and serving, and one
module per area for the rest); each takes its settings and store from here so that errors read
the same everywhere and exit with the same codes (1: no such party, 2: bad input or settings,
3: store unreachable, a store of another data format, or a lookup's audit event not
written, 4: a lookup that reaches natural persons asked without `--purpose`).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from credgraph.api.roles import Purpose
from credgraph.graph import clock
from credgraph.graph.embedded import EmbeddedStoreError
from credgraph.graph.identifiers import names_a_person, names_an_operator
from credgraph.graph.migrations import format_problem
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Settings, load_settings
from credgraph.graph.store import GraphStore, StoreError, open_store
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.lookup import ArgumentError, BadIdentifier, PartyKey, resolve_identifier
from credgraph.queries.profiles import (
    KnownProfile,
    PolicyProfile,
    ProfileError,
    choose_profile,
    known_profiles,
)
from credgraph.queries.tracing import party_summary

if TYPE_CHECKING:
    from credgraph.api.audit import AuditLog

# piped into a file or another tool, output is as wide as it needs: a table cut to 80 columns
# showed three parties as the same `91350203QA00000…`, and the load summary `legacy_identifie…`
PIPED_WIDTH = 1000
# messages (and the load summary) on stderr; what they quote from input or data goes through
# `escape`, as a name or argument holding `[/x]` is markup to rich: it vanished, or stopped the
# command with a traceback
console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)
# answers (tables) on stdout. No markup: every cell is data, shown as it is.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH, markup=False)
T = TypeVar("T")
# one option under both names every verb that follows relations takes (`linked` and `paths`
# said --former, the investigations' verbs and `export` --include-former)
FormerOption = Annotated[
    bool,
    typer.Option("--former", "--include-former", help="also follow relations that have ended"),
]
NOT_FOUND = 1
BAD_INPUT = 2
STORE_PROBLEM = 3
PURPOSE_REQUIRED = 4
NO_PARTY = "no party with this identifier"

# the options verbs share, so that their flags and help read alike
PARTY_HELP = "USCC, legacy code, resident ID number or credgraph id"
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="answer as the graph stood on this date (YYYY-MM-DD)")
]
TypesOption = Annotated[
    list[str] | None,
    typer.Option("--types", help="relation types to follow (repeatable or comma-separated)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
PURPOSES = ", ".join(purpose.value for purpose in Purpose)
# the purpose of a lookup, as the API's `X-Credgraph-Purpose` header: one of the API's codes
# (api/roles.py), registered in the audit event; required when the lookup reaches a natural
# person (`_register_lookup`). Another value is a usage error naming the option and the codes.
PurposeOption = Annotated[
    Purpose | None,
    typer.Option(
        "--purpose",
        case_sensitive=False,
        help="why the lookup is made, registered in the audit log; required when it reaches a "
        "natural person",
        show_default=False,
    ),
]


def cli_settings() -> Settings:
    """The settings from the environment, or exit 2 naming what is wrong."""
    try:
        return load_settings()
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def open_cli_store(
    settings: Settings, *, any_format: bool = False, migrating: bool = False
) -> GraphStore:
    """The configured store with the schema applied, or exit 3 saying why it cannot open.

    A store whose data format is not this code's (graph/migrations.py) is refused, exit 3,
    with nothing written to it, unless `any_format` (`backup`, which an operator runs first:
    the store is opened as it is, its schema untouched) or `migrating` (`migrate` itself: an
    older store's schema is brought up before the migrations)."""
    try:
        store = open_store(settings)
    except (EmbeddedStoreError, StoreError) as exc:
        console.print(f"[red]cannot open the graph store:[/red] {escape(str(exc))}")
        raise typer.Exit(STORE_PROBLEM) from None
    try:
        problem = format_problem(apply_schema(store, migrating=migrating))
    except StoreError as exc:  # the store died or refused the schema: a store problem, exit 3
        store.close()
        console.print(f"[red]cannot use the graph store:[/red] {escape(str(exc))}")
        raise typer.Exit(STORE_PROBLEM) from None
    if problem is not None and not (any_format or migrating):
        store.close()
        console.print(f"[red]cannot use the graph store:[/red] {escape(problem)}")
        raise typer.Exit(STORE_PROBLEM)
    return store


@contextmanager
def cli_store(
    settings: Settings | None = None,
    *,
    lookup: str | None = None,
    purpose: Purpose | None = None,
) -> Iterator[tuple[GraphStore, Settings]]:
    """The settings (from the environment unless given) and the opened store (exits 2 or 3 as
    above), closed on the way out. A lookup verb names itself (`lookup`, one of `LOOKUP_VERBS`)
    and passes its `--purpose`: leaving the block with its answer registers its audit event on
    the way out, before the answer is printed (`_register_lookup`), or refuses the answer (exit
    4) when it reaches a natural person without a purpose. A `StoreError` in the block (the
    store died under the verb) exits 3 with its message."""
    settings = settings or cli_settings()
    store = open_cli_store(settings)
    assert lookup is None or lookup in LOOKUP_VERBS, lookup
    token = _LOOKUP.set(_Lookup(settings, lookup, purpose) if lookup is not None else None)
    try:
        yield store, settings
        _register_lookup("ok")
    except StoreError as exc:  # the store failed under the verb: exit 3, not a traceback
        console.print(f"[red]the graph store failed:[/red] {escape(str(exc))}")
        raise typer.Exit(STORE_PROBLEM) from None
    finally:
        _LOOKUP.reset(token)
        store.close()


# the verbs whose answers name parties or their records: each registers one audit event before
# it answers, as every lookup of the API does (DOMAIN.md: every query is registered)
LOOKUP_VERBS = frozenset(
    {
        "search",
        "linked",
        "paths",
        "trace",
        "links",
        "groups",
        "circles",
        "export",
        "risk explain",
        "risk score",
        "risk triage",
        "audit find",
    }
)


@dataclass
class _Lookup:
    """A lookup verb under way: its purpose, the parties its command line named, found so far,
    and whether it has reached a natural person (named one, or an answer holding one)."""

    settings: Settings
    verb: str
    purpose: Purpose | None = None
    subjects: list[PartyKey] = field(default_factory=list)
    persons: bool = False
    registered: bool = False


_LOOKUP: ContextVar[_Lookup | None] = ContextVar("credgraph_cli_lookup", default=None)


def touches_persons(keys: Iterable[PartyKey]) -> None:
    """Note that the answer of the lookup under way holds a natural person when one of `keys`
    is one: it then needs a purpose, as the API's resolvers decide for the same answer."""
    lookup = _LOOKUP.get()
    if lookup is not None and not lookup.persons:
        lookup.persons = any(key.label is Label.NATURAL_PERSON for key in keys)


def _register_lookup(outcome: str) -> None:
    """The audit event of the lookup under way, once: who ran it (the user of the operating
    system, role `cli`), its purpose, the verb, the parties named as tokens (api/audit.py), the
    outcome. A lookup that reached a natural person without a purpose is registered
    `refused:purpose_required` instead and exits 4, printing nothing of the answer (as the
    API's `PURPOSE_REQUIRED`). Exits 3 when the event cannot be written: no answer leaves
    without its event."""
    from credgraph.api.audit import AuditUnavailable, subject_token

    lookup = _LOOKUP.get()
    if lookup is None or lookup.registered:
        return
    lookup.registered = True
    refused = lookup.persons and lookup.purpose is None
    key = lookup.settings.person_key_bytes()
    try:  # the log's key is made on the first event, as the log is: either may fail
        cli_audit_log(lookup.settings).append(
            request=None,
            key_id=None,
            key_name=cli_user(),
            role="cli",
            purpose=lookup.purpose.value if lookup.purpose else None,
            operation=f"cli {lookup.verb}",
            subjects=sorted({subject_token(key, party.uid) for party in lookup.subjects}),
            outcome="refused:purpose_required" if refused else outcome,
        )
    except (AuditUnavailable, OSError) as exc:
        console.print(f"[red]cannot register the lookup:[/red] {escape(str(exc))}")
        raise typer.Exit(STORE_PROBLEM) from None
    if refused:
        console.print(
            "[red]--purpose:[/red] this lookup reaches natural persons: give a purpose, one of "
            f"{PURPOSES} (docs/security.md, Purpose)"
        )
        raise typer.Exit(PURPOSE_REQUIRED)


def purpose_first() -> None:
    """Before a lookup that has reached a natural person refuses its input (`paths A A` when A
    is a person): the purpose is asked for first, as the API does, so that the refusal tells
    nothing of the person to a caller without one (exit 4, registered)."""
    lookup = _LOOKUP.get()
    if lookup is not None and lookup.persons and lookup.purpose is None:
        _register_lookup("refused:purpose_required")


def cli_user() -> str:
    """Who runs the command, as audit events name a CLI caller (`key_name`)."""
    return f"cli:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container's uid)
        return f"uid {os.getuid()}"


def cli_audit_log(settings: Settings) -> AuditLog:
    """The audit log, for the verbs that record what they changed (restore, migrate)."""
    from credgraph.api.audit import AuditLog

    return AuditLog(settings.audit_log_path, settings.audit_key_bytes(), fsync=settings.audit_fsync)


def fail(argument: str, reason: str) -> typer.Exit:
    """Say which argument is wrong and why; the caller raises the exit (status 2)."""
    console.print(f"[red]{escape(argument)}:[/red] {escape(reason)}")
    return typer.Exit(BAD_INPUT)


def given_path(text: str) -> Path:
    """The parser of every path argument and option (`parser=given_path`): the path as typed,
    an empty one refused naming the argument (exit 2). Read as a path, "" is ".", so that
    `credgraph backup "$UNSET"` wrote into the current folder; "." still means it."""
    if not text.strip():
        raise typer.BadParameter('is empty; give a path ("." for the current folder)')
    return Path(text)


def output_file(path: Path, option: str) -> Path:
    """A file the command will write, checked before any work: not a folder, its folder
    created. Exits 2 naming `option` when it cannot be."""
    if path.is_dir():
        raise fail(option, f"{path} is a folder; give a file name")
    output_folder(path.parent, option)
    return path


def output_folder(path: Path, option: str) -> Path:
    """A folder the command will write into, created if missing; exits 2 naming `option`
    when it cannot be (a file of that name, a folder that cannot be written)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(option, f"cannot create the folder {path}: {exc.strerror}") from None
    return path


def writable_folder(path: Path, option: str) -> Path:
    """A folder the command may write into later, checked now but not created (what writes
    there makes it): it, or the nearest folder above it that exists, must be a folder this
    process can write into. Exits 2 naming `option` when it is not."""
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        raise fail(option, f"cannot create the folder {path}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise fail(option, f"cannot create the folder {path}: {existing} is not writable")
    return path


def write_output(path: Path, option: str, content: bytes) -> None:
    """Write `content` to `path`; exits 2 naming `option` when it cannot."""
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise fail(option, f"cannot write {path}: {exc.strerror}") from None


def parse_date(text: str | None, option: str = "--as-of") -> date | None:
    """The date an option gives (None when absent), or exit 2 naming the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(option, f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_as_of(text: str | None) -> date:
    """The --as-of date, today when absent, or exit 2 naming the option."""
    return parse_date(text) or clock.today()


def parse_relation_types(
    values: Iterable[str] | None,
    default: tuple[RelationType, ...] = PARTY_RELATIONS,
    option: str = "--types",
) -> tuple[RelationType, ...]:
    """Party relation types given by name (repeated or comma-separated), or exit 2."""
    if not values:
        return default
    chosen: list[RelationType] = []
    for value in (v.strip().upper() for vs in values for v in vs.split(",") if v.strip()):
        relation = RelationType.__members__.get(value)
        if relation is None or relation not in PARTY_RELATIONS:
            known = ", ".join(t.value for t in PARTY_RELATIONS)
            raise fail(option, f"{value!r} is not a party relation; known: {known}")
        chosen.append(relation)
    if not chosen:  # `--types ""` or `--types ,`
        raise fail(option, "choose at least one relation type")
    return tuple(dict.fromkeys(chosen))


def cli_profiles(settings: Settings | None = None) -> list[KnownProfile]:
    """The built-in profiles and those of CREDGRAPH_RISK_PROFILES_FILE; a file that does not
    load is a bad setting, exit 2 naming the variable, as `cli_settings` says of the others."""
    chosen = settings or cli_settings()
    try:
        return known_profiles(chosen.risk_profiles_file)
    except ProfileError as exc:
        console.print(
            f"[red]invalid settings:[/red] CREDGRAPH_RISK_PROFILES_FILE: {escape(str(exc))}"
        )
        raise typer.Exit(BAD_INPUT) from None


def cli_profile(name: str | None, settings: Settings | None = None) -> PolicyProfile:
    """The named profile from the built-ins and CREDGRAPH_RISK_PROFILES_FILE, or exit 2."""
    profiles = {known.profile.name: known.profile for known in cli_profiles(settings)}
    try:
        return choose_profile(profiles, name)
    except ProfileError as exc:
        raise fail("--profile", str(exc)) from None


def find_party(
    store: GraphStore, settings: Settings, raw: str, argument: str = "ID"
) -> PartyKey | None:
    """The party an identifier names, None when no party has it; exit 2 for a malformed one."""
    try:
        key = resolve_identifier(store, raw, settings.person_key_bytes())
    except BadIdentifier as exc:
        raise fail(argument, str(exc)) from None
    lookup = _LOOKUP.get()
    if lookup is not None:
        if key is not None:
            lookup.subjects.append(key)
        # as the API: a person found, or an identifier that may name one and names nobody (an
        # unknown identity number is refused as a known one is)
        lookup.persons |= names_an_operator(raw) or (
            key.label is Label.NATURAL_PERSON if key is not None else names_a_person(raw)
        )
    return key


def resolve_party(
    store: GraphStore,
    settings: Settings,
    raw: str,
    argument: str = "ID",
    not_found: str = NO_PARTY,
    missing: Mapping[str, Any] | None = None,
) -> PartyKey:
    """The party an identifier names; exit 2 for a malformed one, 1 when no party has it
    (printing `missing` first, see `party_not_found`)."""
    key = find_party(store, settings, raw, argument)
    if key is None:
        raise party_not_found([argument], missing, not_found)
    return key


def party_not_found(
    arguments: Iterable[str], missing: Mapping[str, Any] | None, reason: str = NO_PARTY
) -> typer.Exit:
    """Say which arguments name no party; the caller raises the exit (status 1). With --json,
    `missing` (the verb's answer with the party null) goes to stdout first, with `found` false
    and the arguments in `not_found`, as the API's riskReport answers: a pipe reads a document
    either way, and the exit status still tells."""
    named = list(arguments)
    _register_lookup("not_found")
    if missing is not None:
        print_json({**missing, "found": False, "not_found": named})
    for argument in named:
        console.print(f"[red]{escape(argument)}:[/red] {escape(reason)}")
    return typer.Exit(NOT_FOUND)


def query_party(
    raw: str,
    query: Callable[[GraphStore, PartyKey], T],
    options: Mapping[str, str] | None = None,
    missing: Mapping[str, Any] | None = None,
    *,
    lookup: str,
    purpose: Purpose | None,
    persons: Callable[[T], Iterable[PartyKey]],
) -> tuple[PartyKey, T]:
    """Open the store, resolve the party `raw` names (the argument ID) and run `query` about it
    (through `run_query`), then close the store, registering the lookup (`cli_store`) under its
    `purpose`; `persons` gives the parties of the answer (`touches_persons`). Exits 2, 1, 3 or
    4 as `resolve_party`, `run_query` and `cli_store` say."""
    with cli_store(lookup=lookup, purpose=purpose) as (store, settings):
        key = resolve_party(store, settings, raw, missing=missing)
        answer = run_query(lambda: query(store, key), options)
        touches_persons(persons(answer))
        return key, answer


def run_query(query: Callable[[], T], options: Mapping[str, str] | None = None) -> T:
    """Run a query; an argument it refuses exits 2 naming the option (`options` maps a query
    argument to its option, otherwise `min_stake` is shown as `--min-stake`)."""
    try:
        return query()
    except ArgumentError as exc:
        purpose_first()
        option = (options or {}).get(exc.argument) or "--" + exc.argument.replace("_", "-")
        raise fail(option, exc.reason) from None


def print_table(table: Table) -> None:
    """A table on stdout, nothing when it has no rows: the summary on stderr says there are
    none, and a pipe (`| wc -l`, `| grep`) reads no empty frame."""
    if table.row_count:
        out.print(table)


def print_json(document: Mapping[str, Any]) -> None:
    """A document on stdout as indented JSON, Chinese text as it is."""
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def party_json(key: PartyKey, node: Mapping[str, Any] | None) -> dict[str, Any]:
    """A party as every verb shows it. `id` is what credgraph takes back as an ID, as the API's
    `id`: a USCC, `REG:<registration number>` (a business without a USCC), `FTM:<entity id>`
    or a person's opaque token. A legal person adds its USCC, registration number and kind; a
    person only its masked ID number, never the number."""
    summary = party_summary(key, node)  # the queries' summary, its `uid` shown as `id`
    return {"id": summary.pop("uid"), **summary}


def shown_parties(
    found: Mapping[PartyKey, Mapping[str, Any]], keys: Iterable[PartyKey] = ()
) -> dict[PartyKey, dict[str, Any]]:
    """The parties a query found (stored nodes or its summaries) as `party_json` shows them,
    and `keys` it did not find, by id alone."""
    shown = {key: party_json(key, node) for key, node in found.items()}
    for key in keys:
        shown.setdefault(key, party_json(key, None))
    return shown


def party_text(party: Mapping[str, Any]) -> str:
    """A party in a table: its name and the id to give back (a USCC, `REG:…`, a person's
    token), a person's masked ID number before it for the reader."""
    name = party.get("name") or "?"
    if party.get("label") == Label.NATURAL_PERSON.value and party.get("id_masked"):
        return f"{name} ({party['id_masked']}, {party['id']})"
    return f"{name} ({party['id']})"


def plain(value: Any, parties: Mapping[PartyKey, Mapping[str, Any]]) -> Any:
    """JSON-ready: a party key becomes the party as shown (`parties`, else by its id alone),
    dates ISO text, enums their codes, mappings and collections recursively."""
    if isinstance(value, PartyKey):
        return parties.get(value) or party_json(value, None)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v, parties) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, parties) for v in value]
    return getattr(value, "value", value)  # enums as their codes
