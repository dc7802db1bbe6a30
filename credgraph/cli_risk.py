"""The `credgraph risk` verbs (docs/risk-model.md).

`credgraph risk score [--profile P] [--as-of DATE] [--json]` scores every party of the graph
(contagion layer, queries/scores.py) and writes the scores back onto the party nodes with the
profile, its version and the time. `credgraph risk triage [--top N]` ranks every party by
personalised PageRank from the counting negative records (queries/triage.py) and lists the
highest, for an analyst to look at first. `credgraph risk profiles [--json]` lists every
profile with where it comes from, its version and (JSON) its parameters. Verbs of the risk
area add themselves to `risk_app` with `@risk_app.command()`; the shared option types below
keep their flags alike.

Parties are shown by the id credgraph takes back (JSON `id`, as the API). Exit codes as
everywhere: 1 (`explain`) no party has this ID, with `--json` after the report the API's
riskReport gives for one (`found` false, decision NOT_FOUND); 2 bad input (named), 3 store
unreachable, 4 the answer reaches a natural person (the party asked about, one on a contagion
path, one among the highest listed) and `--purpose` was not given: nothing of it is printed, and
`score` writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from credgraph.cli_common import (
    PARTY_HELP,
    JsonOption,
    PurposeOption,
    cli_profile,
    cli_profiles,
    cli_store,
    console,
    fail,
    find_party,
    out,
    parse_as_of,
    party_not_found,
    print_json,
    print_table,
    purpose_first,
    touches_persons,
)
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import (
    KnownProfile,
    PolicyProfile,
    profile_parameters,
    profile_version,
)
from credgraph.queries.scores import ScoreRun, score_graph
from credgraph.queries.triage import TriageRun, triage

risk_app = typer.Typer(help="Risk: whole-graph contagion scoring and explanations.")

ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="policy profile (default: `default`)")
]
BUILT_IN = "built-in"  # the source of a profile that ships with credgraph
NOT_RISK_FREE = "no party with this identifier (not the same as no risk)"
PARTY_LABELS = {Label.LEGAL_PERSON.value, Label.NATURAL_PERSON.value}
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="score as the graph stood on this date (YYYY-MM-DD)")
]


@risk_app.command("score")
def score(
    profile: ProfileOption = None,
    as_of: AsOfOption = None,
    top: Annotated[int, typer.Option(min=0, help="highest-scoring parties to list")] = 10,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="write the scores onto the party nodes")
    ] = True,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Score every party (contagion layer) and write the scores back with profile and time."""
    day = parse_as_of(as_of)
    policy = cli_profile(profile)
    with cli_store(lookup="risk score", purpose=purpose) as (store, _settings):
        run, _, _ = score_graph(
            store, policy, day, write=write, top=top, before_write=_purpose_for_listed
        )
    if as_json:
        print_json(run_json(run))
        return
    _print_run(run)


def _purpose_for_listed(top: list[tuple[PartyKey, float]]) -> None:
    """The scores written name no one to the caller, but the highest listed may be persons: a
    caller without a purpose is refused (exit 4) before anything is written."""
    touches_persons(key for key, _ in top)
    purpose_first()


def run_json(run: ScoreRun) -> dict[str, Any]:
    return {
        "profile": run.profile,
        "profile_version": run.profile_version,
        "as_of": run.as_of.isoformat(),
        "scored_at": run.scored_at.isoformat(),
        "parties": run.parties,
        "relations": run.relations,
        "seeds": run.seeds,
        "seed_subjects": run.seed_subjects,
        "scored": run.scored,
        "written": run.written,
        "read": {
            "rows": run.read.rows,
            "reads": run.read.reads,
            "seconds": round(run.read.seconds, 3),
            "rows_per_second": round(run.read.rows_per_second),
        },
        "score_seconds": round(run.score_seconds, 3),
        "write_seconds": round(run.write_seconds, 3),
        "top": [
            {"id": key.uid, "label": key.label.value, "score": value} for key, value in run.top
        ],
    }


def _print_run(run: ScoreRun) -> None:
    console.print(
        f"scored {run.parties:,} parties and {run.relations:,} relations on "
        f"{run.as_of.isoformat()} under {escape(repr(run.profile))} "
        f"(version {run.profile_version}): {run.seeds:,} counting negative records of "
        f"{run.seed_subjects:,} subjects; "
        f"{run.scored:,} parties score above 0, {run.written:,} written"
    )
    console.print(
        f"read {run.read.rows:,} rows in {run.read.seconds:.1f} s "
        f"({run.read.rows_per_second:,.0f} rows/s), scored in {run.score_seconds:.1f} s, "
        f"wrote in {run.write_seconds:.1f} s"
    )
    if run.top:
        table = Table("label", "id", "score", title="highest contagion scores")
        for key, value in run.top:
            table.add_row(key.label.value, key.uid, f"{value:.4f}")
        print_table(table)


@risk_app.command("triage")
def triage_verb(
    profile: ProfileOption = None,
    as_of: AsOfOption = None,
    top: Annotated[int, typer.Option(min=1, max=10_000, help="parties to list, best first")] = 20,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """Rank every party by personalised PageRank from sanctioned parties; list the highest."""
    day = parse_as_of(as_of)
    policy = cli_profile(profile)
    with cli_store(lookup="risk triage", purpose=purpose) as (store, _settings):
        run = triage(store, policy, day, top=top)
        touches_persons(entry.party for entry in run.top)
    if as_json:
        print_json(triage_json(run))
        return
    _print_triage(run)


def triage_json(run: TriageRun) -> dict[str, Any]:
    return {
        "profile": run.profile,
        "profile_version": run.profile_version,
        "as_of": run.as_of.isoformat(),
        "parties": run.parties,
        "relations": run.relations,
        "seed_subjects": run.seed_subjects,
        "iterations": run.iterations,
        "read_seconds": round(run.read.seconds, 3),
        "rank_seconds": round(run.rank_seconds, 3),
        "top": [
            {
                "id": entry.party.uid,
                "label": entry.party.label.value,
                "name": entry.name,
                "rank": entry.rank,
                "seeded": entry.seeded,
            }
            for entry in run.top
        ],
    }


def _print_triage(run: TriageRun) -> None:
    console.print(
        f"ranked {run.parties:,} parties over {run.relations:,} relations on "
        f"{run.as_of.isoformat()} under {escape(repr(run.profile))}: walks from "
        f"{run.seed_subjects:,} sanctioned subjects, {run.iterations} iterations in "
        f"{run.rank_seconds:.1f} s"
    )
    table = Table("label", "id", "name", "rank", "own record", title="triage: look here first")
    for entry in run.top:
        table.add_row(
            entry.party.label.value,
            entry.party.uid,
            entry.name or "",
            f"{entry.rank:.3e}",
            "yes" if entry.seeded else "",
        )
    print_table(table)


@risk_app.command("profiles")
def profiles_verb(as_json: JsonOption = False) -> None:
    """Every policy profile, built in or from CREDGRAPH_RISK_PROFILES_FILE, with its version:
    what a version a score or decision names stands for. Reads no store."""
    known = cli_profiles()
    if as_json:
        print_json({"profiles": [profile_json(entry) for entry in known]})
        return
    table = Table("name", "source", "version", "extends", title="policy profiles")
    for entry in known:
        document = profile_json(entry)
        table.add_row(
            document["name"], document["source"], document["version"], document["extends"] or ""
        )
    print_table(table)


def profile_json(known: KnownProfile) -> dict[str, Any]:
    """A profile, where it comes from, its version and every parameter the version digests."""
    return {
        "name": known.profile.name,
        "source": BUILT_IN if known.source is None else str(known.source),
        "extends": known.extends,
        "version": profile_version(known.profile),
        "parameters": profile_parameters(known.profile),
    }


@risk_app.command("explain")
def explain(
    party_id: Annotated[
        str,
        typer.Argument(metavar="ID", help=PARTY_HELP, show_default=False),
    ],
    as_of: AsOfOption = None,
    profile: ProfileOption = None,
    sector: Annotated[
        str | None,
        typer.Option(
            help="decide for this sector (construction, tourism ..., or a city's own code), as "
            "an approval system's screen does",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    purpose: PurposeOption = None,
) -> None:
    """One party's flags, proposals and contagion score with the records and paths behind them,
    and the screening decision (PASS / REVIEW / BLOCK). Exits 1 when no party has this ID."""
    from credgraph.queries.risk import (
        decision_json,
        report_json,
        risk_report,
        screen_decision,
        sector_code,
    )

    day = parse_as_of(as_of)
    policy = cli_profile(profile)
    try:
        sector = sector_code(sector)
    except ValueError as exc:
        raise fail("--sector", str(exc)) from None
    with cli_store(lookup="risk explain", purpose=purpose) as (store, settings):
        key = find_party(store, settings, party_id)
        if key is None:
            missing = _not_found_report(store, day, policy) if as_json else None
            raise party_not_found(["ID"], missing, NOT_RISK_FREE)
        report = risk_report(
            store, key, as_of=day, profile=policy, cap=settings.risk_neighbourhood_cap
        )
        # as the API's riskReport: the persons its contagion paths pass through, even for a firm
        touches_persons(party for path in report.contagion.paths for party in path.parties)
    decision = screen_decision(report, policy, sector)
    document = _party_ids({**report_json(report), "decision": decision_json(decision)})
    if as_json:
        print_json(document)
        return
    _print_explanation(document)


def _not_found_report(store: GraphStore, day: date, policy: PolicyProfile) -> dict[str, Any]:
    """The report for an ID the graph holds no party under, as the API's riskReport answers
    it: no party, `found` false, under the snapshot it was asked under, decision NOT_FOUND."""
    from credgraph.queries.risk import (
        Contagion,
        RiskReport,
        data_version,
        decision_json,
        report_json,
        screen_decision,
        snapshot_id,
    )
    from credgraph.queries.risk_status import StatusLayer

    nobody = PartyKey(Label.LEGAL_PERSON, "")  # stands for no party, never shown
    data = data_version(store)
    report = RiskReport(
        party=nobody,
        found=False,
        name=None,
        as_of=day,
        profile=policy.name,
        profile_version=profile_version(policy),
        data_version=data,
        snapshot_id=snapshot_id(policy, data),
        status=StatusLayer(nobody, day),
        contagion=Contagion(available=False),
    )
    document = {**report_json(report), "party": None}
    document["decision"] = {**decision_json(screen_decision(report, policy)), "party": None}
    return document


def _party_ids(value: Any) -> Any:
    """A report's parties under `id`, as every verb shows them (the report's JSON writes each
    party key as its label and `uid`)."""
    if isinstance(value, Mapping):
        if value.keys() == {"label", "uid"} and value["label"] in PARTY_LABELS:
            return {"id": value["uid"], "label": value["label"]}
        return {key: _party_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_party_ids(item) for item in value]
    return value


def _drawn(path: Mapping[str, Any]) -> str:
    """A contagion path from the record's subject to the party, each hop drawn the way its
    relation runs: `A -[GUARANTEES]-> B` (A guarantees B), `A <-[GUARANTEES]- B` (B guarantees
    A)."""
    drawn = [path["parties"][0]["id"]]
    for hop, party in zip(path["hops"], path["parties"][1:], strict=True):
        forward = hop["direction"] == "forward"
        drawn.append(f"-[{hop['type']}]->" if forward else f"<-[{hop['type']}]-")
        drawn.append(party["id"])
    return " ".join(drawn)


def _print_explanation(document: dict[str, Any]) -> None:
    decision = document["decision"]
    heading = (
        f"{document['name'] or document['party']['id']} on {document['as_of']} under "
        f"{document['profile']!r} (version {document['profile_version']}, snapshot "
        f"{document['snapshot_id']})"
        + (f" for {decision['sector']}" if decision.get("sector") else "")
        + ": "
    )
    out.print(Text.assemble(heading, (decision["outcome"], "bold")))
    if document.get("registration_status"):
        out.print(f"registration status: {document['registration_status']}")
    table = Table("scope", "reason", "record", "detail", title="reasons")
    for scope in ("own", "linked"):
        for reason in decision[f"{scope}_reasons"]:
            table.add_row(scope, reason["code"], reason["record_uid"] or "", reason["detail"])
    print_table(table)
    contagion = document["linked"]["contagion"]
    if contagion["truncated"]:
        out.print(
            f"contagion not scored: the neighbourhood passed CREDGRAPH_RISK_NEIGHBOURHOOD_CAP "
            f"({contagion['cap']} relations) after {contagion['explored_depth']} hop(s)"
        )
    if contagion["available"]:
        out.print(
            f"contagion score {contagion['score']:.4f} (analytic, never a status); "
            f"clears on {contagion['clears_on'] or '-'}"
        )
        for path in contagion["paths"]:
            via = _drawn(path)
            record = path["record"]
            # a path may rest on a record under objection (a profile that counts them): say so,
            # as the JSON's `under_objection` and a reason's "(under objection)" do
            objected = " (under objection)" if record.get("under_objection") else ""
            out.print(
                f"  {path['contribution']:.4f}  {record['kind']} {record['uid']}{objected}"
                f"  via {via}"
            )
    own = document["own"]
    for record in own["under_objection"]:
        out.print(f"under objection: {record['kind']} {record['uid']}")
    for record in own["term_unknown"]:
        out.print(
            f"term unknown (no date to place it; never counts): {record['kind']} {record['uid']}"
        )
    for record in own["positive"]:
        out.print(f"positive: {record['kind']} {record['uid']} {record['list_name'] or ''}")
    for record in own["grades"]:
        out.print(f"grade: {record['scheme']} {record['grade']} ({record['uid']})")
    for entry in own["history"]:
        record = entry["record"]
        out.print(
            f"history: {record['kind']} {record['uid']} {entry['why']} on "
            f"{entry['stopped_on'] or 'an unknown date'}"
        )
