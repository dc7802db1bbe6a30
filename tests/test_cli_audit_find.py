"""`credgraph audit find ID`: a supervisor finds, a year later, the events that name a party
(its lookups, and the screens' decisions about it with what they rested on) without computing
its token by hand. Events made through the API on the registry of tests/api_support.py, found
with the command line on the same database and log."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.audit import AuditLog, subject_token
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_resident_id, person_token
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import cli_runner
from tests.registries import FIRM_A, FIRM_B, ZHANG

KEY = TEST_PERSON_KEY.encode()
SCREEN = """query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) {
    partyId decision ownReasons { code } linkedReasons { code } snapshotId profile
    profileVersion } }"""
# a person no load ever brought in: a lookup may still have named her, before an erasure
ERASED = make_resident_id("350203", date(1981, 7, 9), 31, "F")


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("find"))


@pytest.fixture(scope="module")
def screened(api_env: ApiEnv) -> list[dict[str, Any]]:
    """FIRM_A screened with FIRM_B, and 张伟 looked up by an investigator: through the API."""
    body = api_env.gql(SCREEN, role=ApiRole.APPROVAL, purpose=None, ids=[FIRM_B, FIRM_A])
    assert "errors" not in body, body
    looked = api_env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', purpose="investigation")
    assert "errors" not in looked, looked
    answers: list[dict[str, Any]] = body["data"]["screen"]
    return answers


@pytest.fixture
def cli(
    api_env: ApiEnv, embedded: Any, monkeypatch: pytest.MonkeyPatch, screened: Any
) -> CliRunner:
    runner = cli_runner(monkeypatch, embedded, api_env.store)
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(api_env.audit_path))
    return runner


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def test_a_screened_firm_s_events_are_found_with_its_decision(
    cli: CliRunner, screened: list[dict[str, Any]]
) -> None:
    result = cli.invoke(app, ["audit", "find", FIRM_A, "--json"])
    assert result.exit_code == 0, result.output
    [event] = [e for e in _lines(result.stdout) if e["operation"] == "screen"]
    answer = next(a for a in screened if a["partyId"] == FIRM_A)
    token = subject_token(KEY, FIRM_A)
    assert event["decision"]["subject"] == token
    assert event["decision"]["decision"] == answer["decision"]
    codes = [r["code"] for r in answer["ownReasons"] + answer["linkedReasons"]]
    assert [code for code, _ in event["decision"]["reasons"]] == codes
    assert (event["snapshot"], event["profile"], event["profile_version"]) == (
        answer["snapshotId"],
        answer["profile"],
        answer["profileVersion"],
    )
    # as logged: the other id's decision stays in `decisions`, the party's is picked out
    assert len(event["decisions"]) == 2 and event["decisions"][1] == event["decision"]

    table = cli.invoke(app, ["audit", "find", FIRM_A])
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if " screen " in line)
    assert answer["decision"] in row and answer["snapshotId"] in row
    assert "licensing" in row and clock.today().isoformat() in row
    assert all(code in table.stdout for code in codes)


def test_finding_a_firm_s_events_is_itself_registered(cli: CliRunner, api_env: ApiEnv) -> None:
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    assert cli.invoke(app, ["audit", "find", FIRM_B]).exit_code == 0
    [event] = _lines(api_env.audit_path.read_text(encoding="utf-8"))[before:]
    assert (event["operation"], event["role"], event["outcome"], event["purpose"]) == (
        "cli audit find",
        "cli",
        "ok",
        None,
    )
    assert event["subjects"] == [subject_token(KEY, FIRM_B)]


def test_a_person_s_events_are_found_only_with_a_purpose(cli: CliRunner) -> None:
    refused = cli.invoke(app, ["audit", "find", ZHANG, "--json"])
    assert refused.exit_code == 4, refused.output
    assert refused.stdout == "" and "--purpose" in refused.stderr
    found = cli.invoke(app, ["audit", "find", ZHANG, "--json", "--purpose", "supervision"])
    assert found.exit_code == 0, found.output
    operations = [e["operation"] for e in _lines(found.stdout)]
    # the investigator's lookup, and the refused `audit find` before this one
    assert operations == ["entity", "cli audit find"]
    token = subject_token(KEY, person_token(KEY, PersonIdType.RESIDENT, ZHANG))
    assert all(token in e["subjects"] for e in _lines(found.stdout))
    assert ZHANG not in found.output


def test_the_rotated_files_are_searched_oldest_first(
    cli: CliRunner, api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rotated = tmp_path / "audit.log.1"
    shutil.copy(api_env.audit_path, rotated)
    live = tmp_path / "audit.log"
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(live))
    alone = cli.invoke(app, ["audit", "find", FIRM_A, "--json"])
    assert alone.exit_code == 1, alone.output
    assert "no event of the audit log names this party" in alone.stderr
    assert alone.stdout == ""
    # that lookup is in the live log now: found after the rotated file's events
    found = cli.invoke(app, ["audit", "find", FIRM_A, str(rotated), "--json"])
    assert found.exit_code == 0, found.output
    operations = [e["operation"] for e in _lines(found.stdout)]
    assert "screen" in operations and operations[-1] == "cli audit find"
    assert [e["seq"] for e in _lines(found.stdout)][-1] == 1  # the live log's first event


def test_a_person_the_store_does_not_hold_is_found_by_resident_id(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Events of a lookup made while a person was in the graph are found after her erasure:
    her resident ID number is keyed as the loader keys it."""
    log = tmp_path / "audit.log"
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(log))
    uid = person_token(KEY, PersonIdType.RESIDENT, ERASED)
    AuditLog(log, b"k", fsync=False).append(
        operation="entity", role="investigator", subjects=[subject_token(KEY, uid)], outcome="ok"
    )
    refused = cli.invoke(app, ["audit", "find", ERASED])
    assert refused.exit_code == 4, refused.output
    found = cli.invoke(app, ["audit", "find", ERASED, "--purpose", "supervision", "--json"])
    assert found.exit_code == 0, found.output
    assert [e["operation"] for e in _lines(found.stdout)] == ["entity"]
    assert ERASED not in found.output and ERASED not in log.read_text(encoding="utf-8")


def test_dates_narrow_the_events_found(cli: CliRunner) -> None:
    today = clock.today().isoformat()
    assert cli.invoke(app, ["audit", "find", FIRM_A, "--since", today]).exit_code == 0
    before = cli.invoke(app, ["audit", "find", FIRM_A, "--until", "2020-01-01"])
    assert before.exit_code == 1, before.output
    assert "between those dates" in before.stderr


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--since", "2026-13-01"], "--since"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until"),
        (["/no/such/rotated/file"], "ROTATED"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(
    cli: CliRunner, arguments: list[str], named: str
) -> None:
    result = cli.invoke(app, ["audit", "find", FIRM_A, *arguments])
    assert result.exit_code == 2, result.output
    assert named in result.stderr


def test_an_unreachable_store_exits_3(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGRAPH_NEO4J_URI", "bolt://127.0.0.1:9")
    result = cli.invoke(app, ["audit", "find", FIRM_A])
    assert result.exit_code == 3, result.output
