"""`CreditRecord.stateOn`: a record as it stood on a date, by the rule the risk report applies,
where `status` and `validTo` are only the latest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_B, RECORD_HEADER, load_folder, write_csv

STATES = """query ($id: String!, $day: Date) {
  entity(id: $id) { records(kinds: ["admin_penalty", "abnormal_operation"]) {
    id status validTo
    then: stateOn(asOf: $day) { asOf profile status since startsOn endsOn listed counts }
    now: stateOn { status counts endsOn } } } }"""


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("record-state")
    for api in start_api_env(embedded, driver, settings, tmp):
        extra = tmp / "extra"
        extra.mkdir()
        # FIRM_B's penalty O-1 (2025-01-01 to 2027-12-31) revoked on 2025-06-01; an
        # abnormal-operation listing of 2020 without an end, whose default term is 3 years
        write_csv(
            extra / "status_changes.csv",
            ["change_id", "record_id", "source_system", "change", "effective_on"],
            [["c-1", "O-1", "fz-credit", "revoked", "2025-06-01"]],
        )
        row = ["A-1", FIRM_B, "abnormal_operation", "market", "AUTH2", "福州市市场监督管理局"]
        row += ["2020-01-01", "2020-01-01", "", "active", "public", "fz-credit", "", ""]
        # and a blacklist entry without any date: its term cannot be placed
        undated = ["N-1", FIRM_B, "blacklist", "market", "AUTH2", "福州市市场监督管理局"]
        undated += ["", "", "", "active", "public", "fz-credit", "", ""]
        write_csv(extra / "records.csv", RECORD_HEADER, [row, undated])
        load_folder(api.store, extra, tmp / "rejects", batch_size=100)
        yield api


def _records(env: ApiEnv, day: str) -> dict[str, dict[str, Any]]:
    answer = env.gql(STATES, id=FIRM_B, day=day)
    assert "errors" not in answer, answer
    return {r["id"]: r for r in answer["data"]["entity"]["records"]}


def test_a_record_revoked_later_counts_on_a_day_before_its_revocation(env: ApiEnv) -> None:
    penalty = _records(env, "2025-03-01")["FZCREDIT:O-1"]
    assert penalty["status"] == "revoked"  # the latest
    then = penalty["then"]
    assert then["asOf"] == "2025-03-01" and then["profile"] == "default"
    assert (then["status"], then["counts"], then["listed"]) == ("active", True, True)
    assert then["startsOn"] == "2025-01-01" and then["endsOn"] == "2025-06-01"
    assert penalty["now"] == {"status": "revoked", "counts": False, "endsOn": "2025-06-01"}
    before = _records(env, "2024-12-31")["FZCREDIT:O-1"]["then"]
    assert (before["listed"], before["counts"]) == (False, False)


def test_a_record_without_an_end_stops_after_its_kind_s_default_term(env: ApiEnv) -> None:
    listing = _records(env, "2022-06-01")["FZCREDIT:A-1"]
    assert listing["status"] == "active" and listing["validTo"] is None
    assert listing["then"]["counts"] is True
    # 2020-01-01 + 3 calendar years: 1,096 days, for the leap day 2020-02-29
    assert listing["then"]["endsOn"] == date(2023, 1, 1).isoformat()
    assert listing["now"]["counts"] is False


def test_an_unknown_profile_is_refused_naming_the_argument(env: ApiEnv) -> None:
    query = STATES.replace("stateOn(asOf: $day)", 'stateOn(asOf: $day, profile: "nope")')
    answer = env.post(query, id=FIRM_B, day="2025-03-01").json()
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "argument profile: no such profile; known: default, strict"


def test_a_record_without_any_date_is_listed_apart_in_the_risk_report(env: ApiEnv) -> None:
    query = """query ($id: String!) { riskReport(id: $id) {
      found termUnknown { id counts } flags { code record { id } } } }"""
    report = env.gql(query, id=FIRM_B)["data"]["riskReport"]
    assert report["termUnknown"] == [{"id": "FZCREDIT:N-1", "counts": False}]
    assert all(flag["record"]["id"] != "FZCREDIT:N-1" for flag in report["flags"])
    screened = env.gql(
        "query ($id: String!) { screen(ids: [$id], purpose: LICENSING) { ownReasons { code } } }",
        id=FIRM_B,
        purpose="licensing",
        role=ApiRole.APPROVAL,
    )
    assert "errors" not in screened, screened
    codes = {r["code"] for r in screened["data"]["screen"][0]["ownReasons"]}
    assert "RECORD_TERM_UNKNOWN" in codes
