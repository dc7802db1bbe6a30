"""How the query verbs show parties: one id a user can give back, in every verb, and a JSON
document for an ID that names no party. On the tiny registry (tests/registries.py), loaded once
into a database of its own on the session's store, with B guaranteeing A back (a circle)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.audit import verify
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, new_database
from tests.investigations import cli_runner
from tests.registries import (
    FIRM_A,
    FIRM_B,
    SHOP_C,
    ZHANG,
    load_folder,
    write_csv,
    write_tiny_registry,
)

PARTY_LABELS = {"LegalPerson", "NaturalPerson"}
ZHANG_ID = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, ZHANG)
UNKNOWN = make_uscc("9", "1", "350203", "MA3R0999")
# a name rich would take for markup: `[/b]` stopped the command, `[red]` vanished
MARKUP_FIRM = make_uscc("9", "1", "350203", "MA2Y0077")
MARKUP_NAME = "[/b]方括号[red]贸易[/red]有限公司"
# most of the answers below name 张伟: a lookup that reaches a person says why
PURPOSE = ["--purpose", "investigation"]


@pytest.fixture(scope="module")
def tiny(
    embedded: EmbeddedStore,
    driver: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GraphStore]:
    store = new_database(embedded, driver, "cli")
    folder = tmp_path_factory.mktemp("tiny")
    load_folder(store, write_tiny_registry(folder), folder / "rejects")  # its 4 dirty rows
    back = folder / "back"
    back.mkdir()
    write_csv(
        back / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "valid_from", "source_record"],
        [[FIRM_B, FIRM_A, "guarantees", "1000000", "2020-01-01", "g2"]],
    )
    write_csv(
        back / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[MARKUP_FIRM, MARKUP_NAME, "enterprise"]],
    )
    assert load_folder(store, back, folder / "rejects").rejected == 0
    yield store
    embedded.drop_database(store.database or "")


@pytest.fixture
def cli(tiny: GraphStore, embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return cli_runner(monkeypatch, embedded, tiny)


# every verb that shows parties, each asked so that its answer has some
VERBS = [
    ["search", "厦门鹭岛"],
    ["search", "思明区"],
    ["search", "张伟", "--persons"],
    ["linked", FIRM_A, "--depth", "2", "--former", "--relations"],
    ["paths", ZHANG, FIRM_B, "--former"],
    ["trace", ZHANG, "--as-of", "2024-06-01"],
    ["links", FIRM_A, "--as-of", "2019-01-01"],
    ["groups", FIRM_A, "--as-of", "2024-06-01"],
    ["circles", "--as-of", "2024-06-01"],
    ["circles", FIRM_A, "--as-of", "2024-06-01"],
    ["risk", "explain", ZHANG, "--as-of", "2024-06-01"],
    ["risk", "triage", "--as-of", "2024-06-01"],
    ["risk", "score", "--as-of", "2024-06-01", "--no-write"],
]


def _parties(value: Any) -> Iterator[dict[str, Any]]:
    """Every party object of a JSON answer: an object with a party label."""
    if isinstance(value, dict):
        if value.get("label") in PARTY_LABELS:
            yield value
        for item in value.values():
            yield from _parties(item)
    elif isinstance(value, list):
        for item in value:
            yield from _parties(item)


def test_every_verb_shows_a_party_by_the_id_it_takes_back(cli: CliRunner) -> None:
    ids: set[str] = set()
    for verb in VERBS:
        answer = cli.invoke(app, [*verb, "--json", *PURPOSE])
        assert answer.exit_code == 0, (verb, answer.output)
        parties = list(_parties(json.loads(answer.stdout)))
        assert parties, verb
        for party in parties:
            assert "uid" not in party and isinstance(party.get("id"), str), (verb, party)
        ids |= {party["id"] for party in parties}
        assert ZHANG not in answer.output, verb  # a resident ID number is never echoed
    assert {FIRM_A, FIRM_B, SHOP_C, ZHANG_ID} <= ids
    for given in sorted(ids):
        back = cli.invoke(app, ["linked", given, "--json", *PURPOSE])
        assert back.exit_code == 0, (given, back.output)
        assert json.loads(back.stdout)["root"]["id"] == given


def test_links_shows_a_business_without_a_uscc_by_its_reg_id(cli: CliRunner) -> None:
    table = cli.invoke(app, ["links", FIRM_A, "--as-of", "2019-01-01", *PURPOSE])
    assert table.exit_code == 0, table.output
    assert f"思明区老张小吃店 ({SHOP_C})" in table.stdout
    assert "(350203600012345)" not in table.stdout  # the number alone names no party
    answer = cli.invoke(app, ["links", SHOP_C, "--as-of", "2019-01-01", "--json", *PURPOSE])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert document["root"]["id"] == SHOP_C
    assert {item["party"]["id"] for item in document["items"]} == {FIRM_A, FIRM_B}


def test_search_shows_a_person_by_the_id_it_takes_back(cli: CliRunner) -> None:
    table = cli.invoke(app, ["search", "张伟", "--persons", *PURPOSE])
    assert table.exit_code == 0, table.output
    [row] = [line for line in table.stdout.splitlines() if "exact" in line]
    assert ZHANG_ID in row and "3502**********" in row
    assert ZHANG not in table.output


@pytest.mark.parametrize(
    ("verb", "argument"),
    [
        (["linked", UNKNOWN], "ID"),
        (["paths", UNKNOWN, FIRM_A], "A"),
        (["paths", FIRM_A, UNKNOWN], "B"),
        (["trace", UNKNOWN], "ID"),
        (["links", UNKNOWN], "ID"),
        (["groups", UNKNOWN], "ID"),
        (["circles", UNKNOWN], "ID"),
        (["risk", "explain", UNKNOWN], "ID"),
    ],
)
def test_with_json_an_id_that_names_no_party_is_a_document_and_status_1(
    cli: CliRunner, verb: list[str], argument: str
) -> None:
    answer = cli.invoke(app, [*verb, "--json"])
    assert answer.exit_code == 1, answer.output
    document = json.loads(answer.stdout)
    assert document["found"] is False and document["not_found"] == [argument]
    assert f"{argument}: no party with this identifier" in answer.stderr
    assert UNKNOWN not in answer.stdout
    if verb[0] == "risk":  # as the API's riskReport: no party, and screening says NOT_FOUND
        assert document["party"] is None and document["decision"]["outcome"] == "NOT_FOUND"
        assert document["snapshot_id"] and document["own"]["flags"] == []
    elif verb[0] == "paths":
        known = "to" if argument == "A" else "from"
        assert document[known]["id"] == FIRM_A and document["paths"] == []
    else:
        assert document["root"] is None


@pytest.mark.parametrize(
    ("verb", "found", "missing"),
    [
        (["trace", ZHANG, "--as-of", "2024-06-01"], 1, ["trace", UNKNOWN]),
        (["links", FIRM_A, "--as-of", "2019-01-01", "--limit", "1"], 2, ["links", UNKNOWN]),
        (["circles", "--as-of", "2024-06-01"], 1, None),
    ],
)
def test_with_json_found_is_a_boolean_and_the_hits_are_total(
    cli: CliRunner, verb: list[str], found: int, missing: list[str] | None
) -> None:
    """A pipe tells a party not found (`found` false) from one with no hits (`total` 0): a
    count under `found` read 0 as false and 1 as true."""
    answer = cli.invoke(app, [*verb, "--json", *PURPOSE])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert "found" not in document and document["total"] == found
    if missing is not None:
        absent = json.loads(cli.invoke(app, [*missing, "--json"]).stdout)
        assert absent["found"] is False and absent["total"] == 0


def test_circles_of_a_person_names_the_person(cli: CliRunner) -> None:
    answer = cli.invoke(app, ["circles", ZHANG, "--json", *PURPOSE])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["root"]["name"] == "张伟"
    table = cli.invoke(app, ["circles", ZHANG, *PURPOSE])
    assert table.exit_code == 0, table.output
    assert table.output.startswith("张伟 (3502**********") and ZHANG not in table.output


@pytest.mark.parametrize(
    ("verb", "summary"),
    [
        (["trace", FIRM_B, "--depth", "1", "--as-of", "2020-01-01"], "0 dishonest parties"),
        (["linked", SHOP_C, "--as-of", "2021-01-01"], "0 of 0 parties"),
        (["links", FIRM_B, "--as-of", "2009-01-01"], "0 suspected links"),
    ],
)
def test_an_empty_answer_prints_no_empty_table(
    cli: CliRunner, verb: list[str], summary: str
) -> None:
    answer = cli.invoke(app, verb)
    assert answer.exit_code == 0, answer.output
    assert answer.stdout == "" and summary in answer.stderr


def test_an_answer_cut_by_limit_says_so_not_a_cap(cli: CliRunner) -> None:
    answer = cli.invoke(app, ["links", FIRM_A, "--as-of", "2019-01-01", "--limit", "1", *PURPOSE])
    assert answer.exit_code == 0, answer.output
    assert "2 suspected links" in answer.stderr and "the first 1 listed (--limit)" in answer.stderr
    assert "cap" not in answer.stderr


def test_names_and_arguments_are_shown_as_they_are_not_as_markup(cli: CliRunner) -> None:
    table = cli.invoke(app, ["search", "方括号", "--contains"])
    assert table.exit_code == 0, table.output
    assert f"{MARKUP_NAME} " in table.stdout
    summary = cli.invoke(app, ["links", MARKUP_FIRM])
    assert summary.exit_code == 0, summary.output
    assert f"of {MARKUP_NAME} ({MARKUP_FIRM})" in summary.stderr
    bad = cli.invoke(app, ["linked", MARKUP_FIRM, "--as-of", "[/x]"])
    assert bad.exit_code == 2 and "--as-of: '[/x]' is not a date" in bad.stderr


def _events() -> list[dict[str, Any]]:
    """The events of the audit log of the data folder the `cli` runner's verbs use."""
    log = Path(os.environ["CREDGRAPH_DATA_DIR"]) / "audit" / "audit.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _verb(arguments: list[str]) -> str:
    return " ".join(arguments[:2]) if arguments[0] == "risk" else arguments[0]


@pytest.mark.parametrize(
    "arguments",
    [[*verb, "--json", *PURPOSE] for verb in VERBS]
    + [["export", FIRM_A, "--format", "json", *PURPOSE]],
    ids=lambda arguments: " ".join(arguments[:3]),
)
def test_every_lookup_verb_registers_one_audit_event_before_it_answers(
    cli: CliRunner, arguments: list[str], tmp_path: Path
) -> None:
    if arguments[0] == "export":
        arguments = [*arguments, "--out", str(tmp_path / "hood.json")]
    before = len(_events())
    result = cli.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    new = _events()[before:]
    assert [(e["operation"], e["role"], e["outcome"], e["purpose"]) for e in new] == [
        (f"cli {_verb(arguments)}", "cli", "ok", "investigation")
    ]
    named = {a for a in arguments[1:] if a in (FIRM_A, FIRM_B, ZHANG)}
    assert len(new[0]["subjects"]) == len(named)  # as tokens: no number is written
    assert str(new[0]["key_name"]).startswith("cli:")
    log = Path(os.environ["CREDGRAPH_DATA_DIR"]) / "audit" / "audit.log"
    assert ZHANG not in log.read_text(encoding="utf-8")
    settings = load_settings()
    assert verify(log, settings.audit_key_bytes()).ok


def test_a_lookup_of_no_party_is_registered_as_not_found(cli: CliRunner) -> None:
    before = len(_events())
    result = cli.invoke(app, ["linked", UNKNOWN])
    assert result.exit_code == 1, result.output
    assert [(e["operation"], e["outcome"]) for e in _events()[before:]] == [
        ("cli linked", "not_found")
    ]


def test_no_answer_leaves_without_its_audit_event(cli: CliRunner) -> None:
    # the audit log's folder is a file: neither the log nor its key can be written
    (Path(os.environ["CREDGRAPH_DATA_DIR"]) / "audit").write_text("x", encoding="utf-8")
    result = cli.invoke(app, ["linked", FIRM_A, "--json"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "cannot register the lookup" in result.output


# --- purpose: a lookup that reaches a natural person says why (docs/security.md, Purpose) ---

# a valid resident ID number no one in the graph holds
UNKNOWN_PERSON = make_resident_id("350203", date(1980, 1, 1), 7, "F")
PURPOSE_CODES = (
    "licensing",
    "procurement",
    "public_resource_trading",
    "fiscal_funds",
    "recruitment",
    "investigation",
    "supervision",
    "analysis",
    "objection_handling",
    "credit_repair",
)


@pytest.mark.parametrize(
    "verb",
    [
        ["linked", ZHANG],  # a person named on the command line
        ["linked", ZHANG_ID],  # by the token credgraph returned
        ["linked", UNKNOWN_PERSON],  # an identity number no one holds: refused as a known one
        ["linked", FIRM_A],  # a firm, whose walk reaches its legal representative
        ["search", "张伟", "--persons"],  # a person among the matches
        ["paths", FIRM_A, FIRM_B],  # a path through a person
        ["trace", ZHANG, "--as-of", "2024-06-01"],
        ["links", FIRM_A, "--as-of", "2019-01-01"],  # a shared officer
        ["circles", ZHANG],
        ["risk", "explain", ZHANG, "--as-of", "2024-06-01"],
    ],
    ids=lambda verb: " ".join(verb[:3]),
)
def test_a_lookup_that_reaches_a_person_without_purpose_is_refused_and_registered(
    cli: CliRunner, verb: list[str]
) -> None:
    before = len(_events())
    result = cli.invoke(app, [*verb, "--json"])
    assert result.exit_code == 4, result.output
    assert result.stdout == ""  # nothing of the answer, not even a not-found document
    assert "--purpose" in result.stderr and all(code in result.stderr for code in PURPOSE_CODES)
    assert ZHANG not in result.output
    [event] = _events()[before:]
    assert event["operation"] == f"cli {_verb(verb)}" and event["role"] == "cli"
    assert event["outcome"] == "refused:purpose_required" and event["purpose"] is None
    named = {a for a in verb[1:] if a in (FIRM_A, FIRM_B, ZHANG, ZHANG_ID)}
    assert len(event["subjects"]) == len(named)


@pytest.mark.parametrize(
    "verb",
    [
        ["linked", ZHANG],
        ["search", "张伟", "--persons"],
        ["paths", FIRM_A, FIRM_B],
        ["risk", "explain", ZHANG, "--as-of", "2024-06-01"],
    ],
    ids=lambda verb: " ".join(verb[:3]),
)
def test_a_lookup_of_a_person_with_a_purpose_answers_and_registers_it(
    cli: CliRunner, verb: list[str]
) -> None:
    before = len(_events())
    result = cli.invoke(app, [*verb, "--json", "--purpose", "investigation"])
    assert result.exit_code == 0, result.output
    assert ZHANG_ID in result.stdout  # the person is in the answer
    [event] = _events()[before:]
    assert (event["operation"], event["outcome"], event["purpose"]) == (
        f"cli {_verb(verb)}",
        "ok",
        "investigation",
    )


def test_a_purpose_is_read_in_any_case_and_registered_as_its_code(cli: CliRunner) -> None:
    before = len(_events())
    result = cli.invoke(app, ["linked", ZHANG, "--purpose", "Credit_Repair"])
    assert result.exit_code == 0, result.output
    assert [e["purpose"] for e in _events()[before:]] == ["credit_repair"]


def test_a_person_not_found_with_a_purpose_is_not_found(cli: CliRunner) -> None:
    before = len(_events())
    result = cli.invoke(app, ["linked", UNKNOWN_PERSON, "--json", "--purpose", "licensing"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["found"] is False
    assert [(e["outcome"], e["purpose"]) for e in _events()[before:]] == [
        ("not_found", "licensing")
    ]


def test_scoring_refused_for_want_of_a_purpose_writes_no_score(
    cli: CliRunner, tiny: GraphStore
) -> None:
    """The highest listed are persons: the run is refused before its scores are written, as a
    refused lookup changes nothing."""
    count = "MATCH (p) WHERE p.risk_scored_at IS NOT NULL RETURN count(p) AS n"
    written = tiny.read(count)[0]["n"]
    result = cli.invoke(app, ["risk", "score", "--as-of", "2024-06-01", "--json"])
    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    assert tiny.read(count)[0]["n"] == written
    assert _events()[-1]["outcome"] == "refused:purpose_required"


@pytest.mark.parametrize(
    "verb",
    [
        ["search", "厦门鹭岛"],  # legal persons only
        ["circles", "--as-of", "2024-06-01"],  # the whole graph's circles: firms guarantee
        ["circles", FIRM_A, "--as-of", "2024-06-01"],
        ["linked", UNKNOWN],  # a USCC no one holds names no person
        ["risk", "score", "--as-of", "2024-06-01", "--no-write", "--top", "0"],
    ],
    ids=lambda verb: " ".join(verb[:3]),
)
def test_a_lookup_that_reaches_no_person_needs_no_purpose(cli: CliRunner, verb: list[str]) -> None:
    before = len(_events())
    result = cli.invoke(app, [*verb, "--json"])
    assert result.exit_code in (0, 1), result.output
    assert result.stdout  # answered (or, for no party, the not-found document)
    [event] = _events()[before:]
    assert event["outcome"] in ("ok", "not_found") and event["purpose"] is None


def test_an_unknown_purpose_is_a_usage_error_naming_the_option_and_the_codes(
    cli: CliRunner,
) -> None:
    before = len(_events())
    result = cli.invoke(app, ["linked", ZHANG, "--purpose", "curiosity"])
    assert result.exit_code == 2, result.output
    assert "--purpose" in result.output and "curiosity" in result.output
    assert all(code in result.output for code in PURPOSE_CODES)
    assert _events()[before:] == []  # refused before the store is read
