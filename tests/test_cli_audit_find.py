"""`credgraph audit find ID`: a supervisor finds, a year later, the events that name a party
(its lookups, and the screens' decisions about it with what they rested on) without computing
its token by hand. Events made through the API on the registry of tests/api_support.py, found
with the command line on the same database and log."""

from __future__ import annotations

import gzip
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
from credgraph.graph.identifiers import (
    make_resident_id,
    make_uscc,
    person_token,
    registration_number_check_digit,
)
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import cli_runner
from tests.registries import FIRM_A, FIRM_B, ZHANG, load_folder, write_csv

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
    # as logrotate leaves it: the key and the head stay, so the live log goes on from the head
    for kept in ("audit.key", "audit.log.head"):
        shutil.copy(api_env.audit_path.with_name(kept), tmp_path / kept)
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
    rotated_events = len(rotated.read_text(encoding="utf-8").splitlines())
    assert [e["seq"] for e in _lines(found.stdout)][-1] == rotated_events + 1  # the live log's


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


def _rotated_history(folder: Path) -> tuple[Path, Path, Path]:
    """Nine events naming FIRM_A, rotated as logrotate does: events 1-3 in audit.log.2, 4-6 in
    audit.log.1, 7-9 in the live log."""
    log = AuditLog(folder / "audit.log", b"k", fsync=False)
    rotated = []
    for name in ("audit.log.2", "audit.log.1", None):
        for _ in range(3):
            log.append(operation="entity", role="approval", subjects=[subject_token(KEY, FIRM_A)])
        if name is not None:
            rotated.append(log.path.rename(folder / name))
    return rotated[0], rotated[1], log.path


def _seqs(output: str) -> list[int]:
    return [event["seq"] for event in _lines(output)]


def _said(result: Any) -> str:
    return " ".join(result.stderr.split())


def test_rotated_files_given_oldest_first_give_the_whole_history(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    second, first, live = _rotated_history(tmp_path)
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(live))
    found = cli.invoke(app, ["audit", "find", FIRM_A, str(second), str(first), "--json"])
    assert found.exit_code == 0, found.output
    assert _seqs(found.stdout) == list(range(1, 10))
    assert "warning" not in found.stderr


@pytest.mark.parametrize(
    ("given", "said"),
    [
        # the live log alone while rotated files exist: the reviewer's supervisor saw 7-9
        ([], "the files given start at event 7: events 1 to 6 are in rotated files not given"),
        (["audit.log.1"], "the files given start at event 4: events 1 to 3 are in rotated files"),
    ],
)
def test_a_history_that_starts_after_event_1_is_listed_with_a_warning(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: list[str], said: str
) -> None:
    live = _rotated_history(tmp_path)[2]
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(live))
    files = [str(tmp_path / name) for name in given]
    found = cli.invoke(app, ["audit", "find", FIRM_A, *files, "--json"])
    assert found.exit_code == 0, found.output
    assert said in _said(found)
    start = int(said.split("start at event ")[1].split(":")[0])
    assert _seqs(found.stdout) == list(range(start, 10))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            ["audit.log.2"],
            "events 4 to 6 are in no file given: give every rotated file, oldest first",
        ),
        (
            ["audit.log.1", "audit.log.2"],
            "starts at event 1, not after event 6 of",  # newest first
        ),
        (["audit.log.2", "audit.log.2", "audit.log.1"], "starts at event 1, not after event 3"),
    ],
    ids=["one-left-out", "newest-first", "one-twice"],
)
def test_rotated_files_that_are_no_one_history_exit_2_saying_why(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: list[str], said: str
) -> None:
    live = _rotated_history(tmp_path)[2]
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(live))
    files = [str(tmp_path / name) for name in given]
    refused = cli.invoke(app, ["audit", "find", FIRM_A, *files, "--json"])
    assert refused.exit_code == 2, refused.output
    assert refused.stdout == "" and said in _said(refused), refused.stderr
    assert "ROTATED" in refused.stderr


def test_a_gzip_compressed_rotated_file_is_read(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """logrotate's `compress`: audit.log.2.gz was skipped, its events missing from the list."""
    second, first, live = _rotated_history(tmp_path)
    compressed = second.with_name("audit.log.2.gz")
    compressed.write_bytes(gzip.compress(second.read_bytes()))
    second.unlink()
    monkeypatch.setenv("CREDGRAPH_AUDIT_LOG", str(live))
    found = cli.invoke(app, ["audit", "find", FIRM_A, str(compressed), str(first), "--json"])
    assert found.exit_code == 0, found.output
    assert _seqs(found.stdout) == list(range(1, 10)) and "warning" not in found.stderr


def _registration_number(serial: str) -> str:
    first14 = "350203600" + serial
    return first14 + registration_number_check_digit(first14)


@pytest.mark.parametrize("carried", [True, False], ids=["number-carried", "legacy-alias"])
def test_a_business_s_events_from_before_its_fold_are_found_by_either_id(
    cli: CliRunner, api_env: ApiEnv, tmp_path: Path, carried: bool
) -> None:
    """An individual business looked up as `REG:<number>`, then folded into the USCC a later
    extract gives it: its events named the `REG:` uid's token, and were found by neither id."""
    number = _registration_number("00770" if carried else "00771")
    uscc = make_uscc("9", "2", "350203", "MA2Y0077" if carried else "MA2Y0078")
    header = ["uscc", "registration_number", "name", "kind", "registered_on"]
    old = tmp_path / "old"
    old.mkdir()
    write_csv(
        old / "legal_persons.csv", header, [["", number, "老李小吃店", "individual_business", ""]]
    )
    assert load_folder(api_env.store, old, tmp_path / "rejects").rejected == 0
    looked = api_env.gql(f'{{ entity(id: "REG:{number}") {{ id }} }}', purpose="investigation")
    assert looked["data"]["entity"]["id"] == f"REG:{number}", looked

    new = tmp_path / "new"
    new.mkdir()
    row = [uscc, number if carried else "", "老李小吃店", "individual_business", "2021-04-01"]
    write_csv(new / "legal_persons.csv", header, [row])
    if not carried:
        write_csv(
            new / "legacy_identifiers.csv",
            ["uscc", "legacy_type", "legacy_code"],
            [[uscc, "registration_number", number]],
        )
    assert load_folder(api_env.store, new, tmp_path / "rejects-new").rejected == 0

    for party in (uscc, f"REG:{number}"):
        found = cli.invoke(app, ["audit", "find", party, "--json"])
        assert found.exit_code == 0, found.output
        entity = [e for e in _lines(found.stdout) if e["operation"] == "entity"]
        assert [e["subjects"] for e in entity] == [[subject_token(KEY, f"REG:{number}")]]
