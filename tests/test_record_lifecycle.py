"""A credit record's lifecycle end to end, against the running app and the loader: status
changes arriving in `status_changes` files and through the API's mutations, in any order and
both ways at once, on records with and without dates, and what `riskReport` and `screen` say
about a record under objection or repaired on a date."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.loaders.report import FileReport
from credgraph.queries import writes

from tests.api_support import ApiEnv, start_api_env
from tests.registries import RECORD_HEADER, load_folder, write_csv

FIRM = make_uscc("9", "1", "350102", "MA2Y0071")  # the subject of most records here
OBJECTED = make_uscc("9", "1", "350102", "MA2Y0072")  # its one penalty is objected to
REPAIRED = make_uscc("9", "1", "350102", "MA2Y0073")  # its one penalty is repaired
NOTICED = make_uscc("9", "1", "350102", "MA2Y0074")  # blacklisted from a month after the decision
ADMIN: dict[str, Any] = {"role": ApiRole.ADMIN, "purpose": "credit_repair"}
CHANGE_HEADER = ["change_id", "record_id", "source_system", "change", "effective_on"]

REPAIR = """mutation ($r: String!, $on: Date) {
  recordRepair(recordId: $r, decisionNumber: "修复〔2024〕7号", effectiveOn: $on)
  { status statusSince } }"""
OPEN = """mutation ($r: String!, $on: Date) {
  openObjection(recordId: $r, evidence: "paid", deadline: "2099-01-01", effectiveOn: $on)
  { status statusSince } }"""
CLOSE = """mutation ($r: String!, $on: Date) {
  closeObjection(recordId: $r, upheld: false, effectiveOn: $on) { status statusSince } }"""
REPORT = """query ($id: String!, $on: Date) { riskReport(id: $id, asOf: $on) {
  flags { code record { id status counts underObjection } }
  underObjection { id status statusSince counts } } }"""
SCREEN = """query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) {
  decision ownReasons { code recordId } } }"""
STATE = """query ($id: String!, $on: Date) { entity(id: $id) {
  records { id status stateOn(asOf: $on) { status since counts } } } }"""

STORED: LiteralString = """
MATCH (r {uid: $uid}) RETURN r.status AS status, toString(r.status_since) AS since
"""


def _record(
    record_id: str, subject: str, kind: str, decided: str, start: str, valid_to: str | None = None
) -> list[str]:
    authority = ["AUTH7", "福州市市场监督管理局"]
    end = valid_to if valid_to is not None else ("2027-12-31" if start else "")
    listed = [end, "active", "public", "lc", "", ""]
    return [record_id, subject, kind, "market", *authority, decided, start, *listed]


RECORDS = [
    # neither a decision date nor a start, of a kind with a repair waiting period (3m)
    _record("U-1", FIRM, "admin_penalty", "", ""),
    # decided 2024-01-10: a repair may take effect from 2024-04-10
    _record("P-1", FIRM, "admin_penalty", "2024-01-10", "2024-01-10"),
    _record("P-2", FIRM, "admin_penalty", "2024-01-10", "2024-01-10"),
    _record("P-3", FIRM, "admin_penalty", "2024-01-10", "2024-01-10"),
    _record("B-1", FIRM, "blacklist", "2024-03-01", "2024-03-01"),
    _record("B-2", FIRM, "blacklist", "2024-03-01", "2024-03-01"),
    _record("F-1", FIRM, "blacklist", "2024-01-10", "2024-01-10"),
    _record("O-1", OBJECTED, "admin_penalty", "2024-01-10", "2024-01-10"),
    _record("R-1", REPAIRED, "admin_penalty", "2024-01-10", "2024-01-10"),
    _record("H-1", FIRM, "red_list", "2024-01-10", "2024-01-10"),
    _record("M-1", FIRM, "blacklist", "2024-03-01", "2024-03-01"),
    _record("W-1", NOTICED, "blacklist", "2024-05-01", "2024-06-01"),
    # terms that ended: its valid_to passed; no valid_to and its kind's default term (3y) passed
    _record("E-1", FIRM, "admin_penalty", "2020-01-10", "2020-01-10", "2021-01-01"),
    _record("E-2", FIRM, "blacklist", "2020-01-10", "2020-01-10", ""),
    _record("E-3", FIRM, "blacklist", "2024-03-01", "2024-03-01"),  # listed expired later
    # its term ended while an objection to it was open (a file opens it below)
    _record("E-4", FIRM, "admin_penalty", "2020-01-10", "2020-01-10", "2021-01-01"),
]


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """The app (national waiting periods: admin_penalty 3m) on a store holding `RECORDS`."""
    tmp = tmp_path_factory.mktemp("record-lifecycle")
    for api in start_api_env(embedded, driver, settings, tmp):
        folder = tmp / "lifecycle"
        folder.mkdir()
        write_csv(
            folder / "legal_persons.csv",
            ["uscc", "name", "kind"],
            [
                [FIRM, "福州生命周期贸易有限公司", "enterprise"],
                [OBJECTED, "福州异议商贸有限公司", "enterprise"],
                [REPAIRED, "福州修复商贸有限公司", "enterprise"],
                [NOTICED, "福州告知商贸有限公司", "enterprise"],
            ],
        )
        write_csv(folder / "records.csv", RECORD_HEADER, RECORDS)
        report = load_folder(api.store, folder, tmp / "rejects", batch_size=100)
        assert [f.rejected for f in report.files] == [0, 0], report
        yield api


def _load(env: ApiEnv, folder: Path, rows: list[list[str]]) -> FileReport:
    """Load one status_changes.csv of `rows`; its report."""
    folder.mkdir(parents=True)
    write_csv(folder / "status_changes.csv", CHANGE_HEADER, rows)
    report = load_folder(env.store, folder, folder / "rejects", batch_size=100)
    return report.files[0]


def _rejects(folder: Path) -> list[dict[str, str]]:
    path = folder / "rejects" / "status_changes.rejects.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _stored(env: ApiEnv, record: str) -> tuple[str, str | None]:
    rows = env.store.read(STORED, {"uid": record})
    return str(rows[0]["status"]), rows[0]["since"]


def _changes(env: ApiEnv, record: str) -> list[str]:
    rows = env.store.read(writes.STATUS_CHANGES_OF_RECORDS, {"uids": [record]})
    return sorted(f"{row['change']} {row['effective_on']}" for row in rows)


def _error(body: dict[str, Any]) -> tuple[str, str]:
    assert body["data"] is None or not any(body["data"].values()), body
    error = body["errors"][0]
    return str(error["extensions"]["code"]), str(error["message"])


def _state(env: ApiEnv, record: str, on: str) -> dict[str, Any]:
    records = env.gql(STATE, id=FIRM, on=on, **ADMIN)["data"]["entity"]["records"]
    return next(r for r in records if r["id"] == record)


def test_a_repair_of_a_record_without_any_date_is_refused_naming_the_missing_dates(
    env: ApiEnv, tmp_path: Path
) -> None:
    code, message = _error(env.gql(REPAIR, r="LC:U-1", on="2025-01-01", **ADMIN))
    assert code == "CONFLICT", message
    assert "no decision date or start" in message and "'admin_penalty'" in message
    assert _changes(env, "LC:U-1") == [] and _stored(env, "LC:U-1") == ("active", None)
    # the loader records the authority's own repair as it comes (docs/settings.md)
    loaded = _load(env, tmp_path / "file", [["fix-1", "U-1", "lc", "repaired", "2025-01-01"]])
    assert loaded.rejected == 0
    assert _stored(env, "LC:U-1") == ("repaired", "2025-01-01")


def test_the_same_repair_through_the_api_and_in_a_file_is_applied_once(
    env: ApiEnv, tmp_path: Path
) -> None:
    # the API first, then the authority's file
    made = env.gql(REPAIR, r="LC:P-1", on="2024-05-01", **ADMIN)["data"]["recordRepair"]
    assert made == {"status": "repaired", "statusSince": "2024-05-01"}
    assert (
        _load(env, tmp_path / "a", [["fix-2", "P-1", "lc", "repaired", "2024-05-01"]]).rejected == 0
    )
    assert _changes(env, "LC:P-1") == ["repaired 2024-05-01", "repaired 2024-05-01"]
    assert _stored(env, "LC:P-1") == ("repaired", "2024-05-01")
    assert _state(env, "LC:P-1", "2024-04-30")["stateOn"]["counts"] is True
    assert _state(env, "LC:P-1", "2024-05-01")["stateOn"]["status"] == "repaired"
    # the file first: the API refuses the second repair, naming when the first took effect
    assert (
        _load(env, tmp_path / "b", [["fix-3", "P-2", "lc", "repaired", "2024-05-01"]]).rejected == 0
    )
    code, message = _error(env.gql(REPAIR, r="LC:P-2", on="2024-05-01", **ADMIN))
    assert code == "CONFLICT" and "repaired since 2024-05-01" in message, message
    assert _changes(env, "LC:P-2") == ["repaired 2024-05-01"]


def test_a_repair_of_a_revoked_record_is_refused_as_revoked_on_any_date(
    env: ApiEnv, tmp_path: Path
) -> None:
    assert (
        _load(env, tmp_path / "c", [["rev-1", "P-3", "lc", "revoked", "2024-02-01"]]).rejected == 0
    )
    # within the waiting period too: no later day would do, so none is named
    for day in ("2024-03-01", "2024-06-01", "2024-01-20"):
        code, message = _error(env.gql(REPAIR, r="LC:P-3", on=day, **ADMIN))
        assert code == "CONFLICT", message
        assert message == "the record is revoked since 2024-02-01; it no longer counts"
    assert _changes(env, "LC:P-3") == ["revoked 2024-02-01"]


def test_a_record_whose_term_ended_takes_no_change_as_one_listed_expired(
    env: ApiEnv, tmp_path: Path
) -> None:
    """docs/risk-model.md: a record that no longer counts takes no change. Its term's end (its
    valid_to, else its kind's default term from its decision) ends it as an expiry does."""
    ended = {"LC:E-1": "2021-01-01", "LC:E-2": "2023-01-10"}  # valid_to; 2020-01-10 + 3y
    for record, end in ended.items():
        assert _state(env, record, "2025-01-01")["stateOn"]["counts"] is False
        for mutation in (OPEN, REPAIR, CLOSE):
            for day in (None, "2020-06-01"):  # today, or a day the record still counted
                code, message = _error(env.gql(mutation, r=record, on=day, **ADMIN))
                assert code == "CONFLICT", (record, message)
                assert message == f"the record's term ended on {end}; it no longer counts"
        assert _changes(env, record) == [] and _stored(env, record) == ("active", None)
    # the same refusal's shape as for a record its source lists as expired
    assert (
        _load(env, tmp_path / "x", [["exp-9", "E-3", "lc", "expired", "2024-06-01"]]).rejected == 0
    )
    code, message = _error(env.gql(OPEN, r="LC:E-3", on=None, **ADMIN))
    assert (code, message) == (
        "CONFLICT",
        "the record is expired since 2024-06-01; it no longer counts",
    )


def test_a_change_a_source_scheduled_does_not_hold_up_today_s_change(
    env: ApiEnv, tmp_path: Path
) -> None:
    # the authority published the blacklisting's end ahead of time
    assert (
        _load(env, tmp_path / "d", [["end-1", "F-1", "lc", "expired", "2099-06-01"]]).rejected == 0
    )
    assert _stored(env, "LC:F-1") == ("expired", "2099-06-01")
    opened = env.gql(OPEN, r="LC:F-1", on=None, **ADMIN)
    assert "errors" not in opened, opened
    assert opened["data"]["openObjection"]["status"] == "under_objection"
    # the record keeps the latest status all its changes give, as the loader stores it
    assert _stored(env, "LC:F-1") == ("expired", "2099-06-01")
    assert _state(env, "LC:F-1", "2099-06-01")["stateOn"]["status"] == "expired"
    closed = env.gql(CLOSE, r="LC:F-1", on=None, **ADMIN)
    assert closed["data"]["closeObjection"]["status"] == "active", closed


def test_changes_out_of_date_order_and_an_objection_closed_without_one_open(
    env: ApiEnv, tmp_path: Path
) -> None:
    # the closing arrives first: it changes nothing until its objection is there
    close = [["obj-1-close", "B-2", "lc", "objection_closed", "2024-06-10"]]
    assert _load(env, tmp_path / "e", close).rejected == 0
    assert _stored(env, "LC:B-2") == ("active", None)
    code, message = _error(env.gql(CLOSE, r="LC:B-2", on="2024-07-01", **ADMIN))
    assert (code, message) == ("CONFLICT", "the record is not under objection")
    # then the opening, in a later file: the record was under objection from 06-01 to 06-10
    opened = [["obj-1-open", "B-2", "lc", "objection_opened", "2024-06-01"]]
    assert _load(env, tmp_path / "f", opened).rejected == 0
    assert _stored(env, "LC:B-2") == ("active", "2024-06-10")
    assert _state(env, "LC:B-2", "2024-06-05")["stateOn"] == {
        "status": "under_objection",
        "since": "2024-06-01",
        "counts": False,
    }
    assert _state(env, "LC:B-2", "2024-06-10")["stateOn"]["counts"] is True
    # and an objection to the record before its current status took effect is refused
    code, message = _error(env.gql(OPEN, r="LC:B-2", on="2024-06-05", **ADMIN))
    assert code == "CONFLICT" and "active since 2024-06-10" in message, message


def test_a_change_for_a_record_that_does_not_exist_is_rejected_with_row_and_field(
    env: ApiEnv, tmp_path: Path
) -> None:
    rows = [
        ["x-1", "M-1", "lc", "objection_opened", "2024-06-01"],
        ["x-2", "NO-SUCH", "lc", "repaired", "2024-06-01"],
    ]
    assert _load(env, tmp_path / "g", rows).rejected == 1
    [rejected] = _rejects(tmp_path / "g")
    assert (rejected["line"], rejected["field"]) == ("3", "record_id"), rejected
    assert "neither in this load nor in the store" in rejected["reason"]
    assert _changes(env, "LC:M-1") == ["objection_opened 2024-06-01"]  # the row beside it
    code, _ = _error(env.gql(REPAIR, r="LC:NO-SUCH", on="2024-06-01", **ADMIN))
    assert code == "NOT_FOUND"


def test_risk_report_and_screen_on_a_record_under_objection(env: ApiEnv) -> None:
    opened = env.gql(OPEN, r="LC:O-1", on="2024-06-01", **ADMIN)["data"]["openObjection"]
    assert opened == {"status": "under_objection", "statusSince": "2024-06-01"}
    before = env.gql(REPORT, id=OBJECTED, on="2024-05-31", **ADMIN)["data"]["riskReport"]
    assert [(f["code"], f["record"]["status"]) for f in before["flags"]] == [
        ("OWN_ADMIN_PENALTY", "active")
    ]
    assert before["underObjection"] == []
    during = env.gql(REPORT, id=OBJECTED, on="2024-06-01", **ADMIN)["data"]["riskReport"]
    assert during["flags"] == []  # the default profile does not count it, and annotates it
    assert during["underObjection"] == [
        {"id": "LC:O-1", "status": "under_objection", "statusSince": "2024-06-01", "counts": False}
    ]
    [screened] = env.gql(SCREEN, ids=[OBJECTED], **ADMIN)["data"]["screen"]
    assert screened == {
        "decision": "REVIEW",
        "ownReasons": [{"code": "RECORD_UNDER_OBJECTION", "recordId": "LC:O-1"}],
    }


def test_risk_report_and_screen_on_a_repaired_record(env: ApiEnv) -> None:
    repaired = env.gql(REPAIR, r="LC:R-1", on="2024-04-10", **ADMIN)["data"]["recordRepair"]
    assert repaired == {"status": "repaired", "statusSince": "2024-04-10"}
    before = env.gql(REPORT, id=REPAIRED, on="2024-04-09", **ADMIN)["data"]["riskReport"]
    assert [(f["code"], f["record"]["id"]) for f in before["flags"]] == [
        ("OWN_ADMIN_PENALTY", "LC:R-1")
    ]
    after = env.gql(REPORT, id=REPAIRED, on="2024-04-10", **ADMIN)["data"]["riskReport"]
    assert after == {"flags": [], "underObjection": []}
    [screened] = env.gql(SCREEN, ids=[REPAIRED], **ADMIN)["data"]["screen"]
    assert screened == {"decision": "PASS", "ownReasons": []}


def test_a_repair_or_expiry_before_the_record_starts_is_rejected_naming_row_and_field(
    env: ApiEnv, tmp_path: Path
) -> None:
    folder = tmp_path / "h"
    folder.mkdir()
    # a record of this load too: its start is known before it reaches the store
    later = _record("N-1", FIRM, "blacklist", "2024-05-01", "2024-05-01")
    write_csv(folder / "records.csv", RECORD_HEADER, [later])
    rows = [
        ["typo-1", "B-1", "lc", "expired", "2023-06-01"],  # B-1 starts 2024-03-01
        ["typo-2", "B-1", "lc", "repaired", "2024-02-29"],
        ["typo-3", "N-1", "lc", "expired", "2024-04-30"],
        ["ok-1", "N-1", "lc", "expired", "2024-05-01"],  # on its first day: it ends then
    ]
    write_csv(folder / "status_changes.csv", CHANGE_HEADER, rows)
    report = load_folder(env.store, folder, folder / "rejects", batch_size=100)
    assert [f.rejected for f in report.files] == [0, 3], report
    rejected = _rejects(folder)
    assert [(r["line"], r["field"]) for r in rejected] == [
        ("2", "effective_on"),
        ("3", "effective_on"),
        ("4", "effective_on"),
    ]
    assert rejected[0]["reason"] == (
        "2023-06-01 is before the record starts (2024-03-01): "
        "a record cannot be expired before it counts"
    )
    assert _changes(env, "LC:B-1") == [] and _stored(env, "LC:B-1") == ("active", None)
    assert _changes(env, "LC:N-1") == ["expired 2024-05-01"]


def test_a_repair_of_a_positive_record_is_rejected_in_a_file_as_through_the_api(
    env: ApiEnv, tmp_path: Path
) -> None:
    loaded = _load(env, tmp_path / "i", [["fix-9", "H-1", "lc", "repaired", "2024-06-01"]])
    assert loaded.rejected == 1
    [rejected] = _rejects(tmp_path / "i")
    assert (rejected["line"], rejected["field"]) == ("2", "change")
    assert "credit repair ends a negative record" in rejected["reason"]
    assert _changes(env, "LC:H-1") == [] and _stored(env, "LC:H-1") == ("active", None)
    code, message = _error(env.gql(REPAIR, r="LC:H-1", on="2024-06-01", **ADMIN))
    assert (code, message) == ("CONFLICT", "credit repair applies to negative records only")
    # nor may a source list one as repaired
    folder = tmp_path / "j"
    folder.mkdir()
    listed = _record("H-2", FIRM, "red_list", "2024-01-10", "2024-01-10")
    listed[RECORD_HEADER.index("status")] = "repaired"
    write_csv(folder / "records.csv", RECORD_HEADER, [listed])
    report = load_folder(env.store, folder, folder / "rejects", batch_size=100)
    assert report.files[0].rejected == 1
    with (folder / "rejects" / "records.rejects.csv").open(encoding="utf-8") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["line"], row["field"]) == ("2", "status"), row
    assert row["reason"] == "repaired: credit repair ends a negative record, not a red_list"


def test_an_objection_may_be_opened_once_the_record_is_decided_before_it_starts(
    env: ApiEnv,
) -> None:
    """A blacklisting decided on 2024-05-01 to take effect on 2024-06-01: its subject contests
    it from the decision (the loader takes such an objection too), but a repair or an expiry
    cannot end it before it starts."""
    code, message = _error(env.gql(OPEN, r="LC:W-1", on="2024-04-30", **ADMIN))
    assert code == "CONFLICT" and "was decided on 2024-05-01" in message, message
    opened = env.gql(OPEN, r="LC:W-1", on="2024-05-15", **ADMIN)
    assert opened["data"]["openObjection"] == {
        "status": "under_objection",
        "statusSince": "2024-05-15",
    }, opened
    code, message = _error(env.gql(CLOSE, r="LC:W-1", on="2024-05-10", **ADMIN))
    assert code == "CONFLICT" and "since 2024-05-15" in message, message
    closed = env.gql(CLOSE, r="LC:W-1", on="2024-05-20", **ADMIN)
    assert closed["data"]["closeObjection"]["status"] == "active", closed
    code, message = _error(env.gql(REPAIR, r="LC:W-1", on="2024-05-25", **ADMIN))
    assert code == "CONFLICT" and "starts on 2024-06-01" in message, message


RESTARTED = make_uscc("9", "1", "350102", "MA2Y0075")  # its records are listed again, redated
VALID_FROM: LiteralString = "MATCH (r {uid: $uid}) RETURN toString(r.valid_from) AS day"


def test_a_reload_moving_a_record_s_start_after_a_stored_repair_or_expiry_is_rejected(
    env: ApiEnv, tmp_path: Path
) -> None:
    """An expiry loaded from a file and a repair recorded through the API; a second load of the
    records file redates the records after them. Each such row is refused naming the date and
    the stored change, its record keeps its dates and its status, and the rest loads."""
    first = tmp_path / "first"
    first.mkdir()
    write_csv(
        first / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[RESTARTED, "福州重载商贸有限公司", "enterprise"]],
    )
    write_csv(
        first / "records.csv",
        RECORD_HEADER,
        [
            _record("S-1", RESTARTED, "blacklist", "2024-01-10", "2024-01-10"),
            _record("S-2", RESTARTED, "admin_penalty", "2024-01-10", "2024-01-10"),
            _record("S-3", RESTARTED, "blacklist", "2024-01-10", "2024-01-10"),
        ],
    )
    write_csv(
        first / "status_changes.csv",
        CHANGE_HEADER,
        [
            ["s1-exp", "S-1", "lc", "expired", "2024-06-01"],
            ["s3-rev", "S-3", "lc", "revoked", "2024-02-01"],  # a revocation may precede it
        ],
    )
    report = load_folder(env.store, first, first / "rejects", batch_size=100)
    assert [f.rejected for f in report.files] == [0, 0, 0], report
    repaired = env.gql(REPAIR, r="LC:S-2", on="2024-05-01", **ADMIN)["data"]["recordRepair"]
    assert repaired == {"status": "repaired", "statusSince": "2024-05-01"}
    second = tmp_path / "second"
    second.mkdir()
    write_csv(
        second / "records.csv",
        RECORD_HEADER,
        [
            _record("S-1", RESTARTED, "blacklist", "2024-01-10", "2024-07-01"),  # after expiry
            _record("S-2", RESTARTED, "admin_penalty", "2024-01-10", "2024-05-02"),  # after repair
            _record("S-3", RESTARTED, "blacklist", "2024-01-10", "2024-03-01"),  # revoked: fine
            _record("S-4", RESTARTED, "blacklist", "2024-01-10", "2024-01-10"),  # new
            _record("S-1", RESTARTED, "blacklist", "2024-01-10", "2024-06-01"),  # on the expiry
        ],
    )
    records = load_folder(env.store, second, second / "rejects", batch_size=100).files[0]
    assert (records.read, records.rejected) == (5, 2), records
    with (second / "rejects" / "records.rejects.csv").open(encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in rejected] == [("2", "valid_from"), ("3", "valid_from")]
    assert rejected[0]["reason"] == (
        "2024-07-01 would start the record after it was expired on 2024-06-01 (stored change "
        "LC:S-1|s1-exp): a record cannot end before it counts; the stored record is kept"
    )
    assert "after it was repaired on 2024-05-01 (stored change LC:S-2|" in rejected[1]["reason"]
    # the rows refused left their records as stored; the last S-1 row, on the expiry, loaded
    assert _stored(env, "LC:S-2") == ("repaired", "2024-05-01")
    assert env.store.read(VALID_FROM, {"uid": "LC:S-2"}) == [{"day": "2024-01-10"}]
    assert env.store.read(VALID_FROM, {"uid": "LC:S-1"}) == [{"day": "2024-06-01"}]
    assert _stored(env, "LC:S-1") == ("expired", "2024-06-01")
    assert env.store.read(VALID_FROM, {"uid": "LC:S-3"}) == [{"day": "2024-03-01"}]
    assert _stored(env, "LC:S-4") == ("active", None)


def test_an_objection_open_when_the_term_ended_may_still_be_closed(
    env: ApiEnv, tmp_path: Path
) -> None:
    """A record whose term ends while an objection to it is open takes no other change, but the
    objection is still decided: refusing its close would leave it open for good."""
    opened = [["obj-4", "E-4", "lc", "objection_opened", "2020-06-01"]]
    assert _load(env, tmp_path / "o", opened).rejected == 0
    code, message = _error(env.gql(REPAIR, r="LC:E-4", on=None, **ADMIN))
    assert (code, message) == (
        "CONFLICT",
        "the record's term ended on 2021-01-01; it no longer counts",
    )
    closed = env.gql(CLOSE, r="LC:E-4", on="2020-12-01", **ADMIN)
    assert "errors" not in closed, closed
    assert sorted(_changes(env, "LC:E-4")) == [
        "objection_closed 2020-12-01",
        "objection_opened 2020-06-01",
    ]
