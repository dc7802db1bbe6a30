"""Records under objection annotated in every answer, and every record and relation traced to
its source and load (DOMAIN.md, "Rules the software must respect"), through the served API on
the embedded store.

Beside the API registry (tests/api_support.py) this module loads FIRM_K, a construction firm
with a blacklisting under objection (K-1) and a serious violation (K-2) whose objection opened
on 2026-01-01, WANG its legal representative and the person responsible for K-1, and ZHAO, a
dishonest debtor (Z-1) who holds 70 % of FIRM_K; FIRM_A holds the other 30 %. The `strict`
profile counts records under objection, `default` does not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import PersonIdType
from credgraph.loaders.report import LoadReport

from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, RECORD_HEADER, load_folder, write_csv

FIRM_K = make_uscc("9", "1", "350203", "MA2Y0011")
WANG = make_resident_id("350203", date(1980, 1, 1), 3, "M")
ZHAO = make_resident_id("350203", date(1979, 5, 6), 8, "F")
ZHAO_ID = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, ZHAO)
OBJECTED = "XMCREDIT:K-1"
LATER = "XMCREDIT:K-2"  # under objection from 2026-01-01
DEBT = "XMCOURT:Z-1"
CASE = "(2024)闽0203执55号"

HEADER = [
    *RECORD_HEADER,
    "legal_basis",
    "decision_number",
    "published_on",
    "obligation",
    "performance",
    "dishonest_behaviour",
    "description",
]


def _write(extra: Path) -> None:
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_K, "厦门异议建设有限公司", "enterprise"]],
    )
    write_csv(
        extra / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", WANG, "王强", "M"], ["resident", ZHAO, "赵敏", "F"]],
    )
    write_csv(
        extra / "roles.csv",
        ["person_id_number", "company_id", "role", "matter", "valid_from", "source_record"],
        [
            [WANG, FIRM_K, "legal_representative", "", "2018-01-01", "k-r1"],
            [WANG, FIRM_K, "responsible_person", "K-1", "2018-01-01", "k-r2"],
        ],
    )
    write_csv(
        extra / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "subscribed_capital", "source_record"],
        [[ZHAO, FIRM_K, "0.7", "7000000", "k-s1"], [FIRM_A, FIRM_K, "0.3", "3000000", "k-s2"]],
    )
    objected = [
        "K-1",
        FIRM_K,
        "blacklist",
        "construction",
        "AUTH9",
        "厦门市建设局",
        "2025-01-01",
        "2025-01-01",
        "2030-12-31",
        "under_objection",
        "public",
        "xm-credit",
        "",
        "",
        "《建筑市场信用管理暂行办法》第八条",
        "厦建罚〔2025〕12号",
        "2025-01-05",
        "",
        "",
        "",
        "转包工程",
    ]
    debt = [
        "Z-1",
        ZHAO,
        "dishonest_debtor",
        "judicial",
        "COURT1",
        "厦门市思明区人民法院",
        "2024-06-01",
        "2024-06-01",
        "",
        "active",
        "public",
        "xm-court",
        "厦门市思明区人民法院",
        CASE,
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
        "",
        "2024-06-03",
        "偿还借款50万元",
        "全部未履行",
        "有履行能力而拒不履行生效法律文书确定义务",
        "",
    ]
    later = [
        "K-2",
        FIRM_K,
        "serious_violation",
        "construction",
        "AUTH9",
        "厦门市建设局",
        "2025-01-01",
        "2025-01-01",
        "2030-12-31",
        "active",
        "public",
        "xm-credit",
        *[""] * 9,
    ]
    write_csv(extra / "records.csv", HEADER, [objected, debt, later])
    write_csv(
        extra / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [["k-c1", "K-2", "xm-credit", "objection_opened", "2026-01-01"]],
    )


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiEnv, LoadReport]]:
    tmp = tmp_path_factory.mktemp("lineage")
    for api in start_api_env(embedded, driver, settings, tmp):
        extra = tmp / "extra"
        extra.mkdir()
        _write(extra)
        report = load_folder(api.store, extra, tmp / "rejects-extra")
        assert report.rejected == 0, report.to_json()
        yield api, report


@pytest.fixture
def api(env: tuple[ApiEnv, LoadReport]) -> ApiEnv:
    return env[0]


SCREEN = """query ($id: String!, $profile: String) {
  screen(ids: [$id], purpose: PROCUREMENT, profile: $profile) {
    decision
    ownReasons { code recordId underObjection }
    linkedReasons { code detail recordId underObjection } } }"""

REPORT = """query ($id: String!, $profile: String, $asOf: Date) {
  riskReport(id: $id, profile: $profile, asOf: $asOf) {
    flags { code underObjection record { id underObjection } }
    proposals { code underObjection record { id underObjection } }
    underObjection { id }
    contagion { paths { recordId relations underObjection } } } }"""


def _screen(api: ApiEnv, profile: str) -> dict[str, Any]:
    answer = api.gql(SCREEN, role=ApiRole.APPROVAL, purpose="procurement", id=WANG, profile=profile)
    assert "errors" not in answer, answer
    [result] = answer["data"]["screen"]
    return result  # type: ignore[no-any-return]


def _report(api: ApiEnv, profile: str, as_of: str | None = None) -> dict[str, Any]:
    answer = api.gql(
        REPORT, role=ApiRole.APPROVAL, purpose="procurement", id=WANG, profile=profile, asOf=as_of
    )
    assert "errors" not in answer, answer
    return answer["data"]["riskReport"]  # type: ignore[no-any-return]


def test_a_strict_screen_says_its_linked_reasons_rest_on_a_record_under_objection(
    api: ApiEnv,
) -> None:
    result = _screen(api, "strict")
    assert result["decision"] == "REVIEW"  # linked reasons never BLOCK: unchanged
    assert result["ownReasons"] == []
    by_code = {r["code"]: r for r in result["linkedReasons"]}
    by_record = {(r["code"], r["recordId"]): r for r in result["linkedReasons"]}
    for code, record in (
        ("RESPONSIBLE_PERSON_OF_RECORD", OBJECTED),
        ("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", OBJECTED),
        ("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", LATER),
    ):
        reason = by_record[code, record]
        assert reason["underObjection"] is True, reason
        assert "(under objection)" in reason["detail"]
    contagion = by_code["CONTAGION_AT_OR_ABOVE_REVIEW"]
    assert contagion["recordId"] is None and contagion["underObjection"] is False


def test_a_strict_risk_report_marks_the_flags_and_the_evidence_path_of_the_objected_record(
    api: ApiEnv,
) -> None:
    report = _report(api, "strict")
    [flag] = report["flags"]
    assert flag["code"] == "RESPONSIBLE_PERSON_OF_RECORD"
    assert flag["underObjection"] is True and flag["record"]["underObjection"] is True
    assert {(p["record"]["id"], p["underObjection"]) for p in report["proposals"]} == {
        (OBJECTED, True),
        (LATER, True),
    }
    paths = _paths(report)
    assert paths[OBJECTED] == {True} and paths[LATER] == {True}
    # ZHAO's debt reaches WANG through FIRM_K: not under objection
    assert paths[DEBT] == {False}


def _paths(report: dict[str, Any]) -> dict[str, set[bool]]:
    """Each record on the report's evidence paths: whether its paths say it is objected."""
    found: dict[str, set[bool]] = {}
    for path in report["contagion"]["paths"]:
        found.setdefault(path["recordId"], set()).add(path["underObjection"])
    return found


def test_a_report_on_a_day_before_the_objection_says_the_record_was_not_under_it(
    api: ApiEnv,
) -> None:
    report = _report(api, "strict", as_of="2025-06-01")
    assert _paths(report)[LATER] == {False} and _paths(report)[OBJECTED] == {True}
    proposals = {p["record"]["id"]: p["underObjection"] for p in report["proposals"]}
    assert proposals == {OBJECTED: True, LATER: False}


def test_under_the_default_profile_the_objected_record_is_annotated_wherever_it_is_shown(
    api: ApiEnv,
) -> None:
    result = _screen(api, "default")
    assert all(r["recordId"] is None for r in result["linkedReasons"])  # contagion at most
    report = _report(api, "default")
    assert report["flags"] == [] and report["proposals"] == []
    # records under objection do not count under `default`: no path starts from them
    paths = _paths(report)
    assert OBJECTED not in paths and LATER not in paths
    # the others (ZHAO's debt, FIRM_A's records through its 30 %) are not under objection
    assert paths[DEBT] == {False} and set().union(*paths.values()) == {False}
    # before K-2's objection it counted, and its path said it was not under objection then
    before = _report(api, "default", as_of="2025-06-01")
    assert _paths(before)[LATER] == {False} and OBJECTED not in _paths(before)


RECORDS = """query ($id: String!) { entity(id: $id) { records {
  id decisionNumber caseNumber description legalBasis obligation performance
  dishonestBehaviour sourceSystem sourceRecordId source sourceRow runId loadedAt
  underObjection } } }"""


def _records(api: ApiEnv, id: str, role: ApiRole) -> dict[str, dict[str, Any]]:
    answer = api.gql(RECORDS, role=role, id=id)
    assert "errors" not in answer, answer
    return {r["id"]: r for r in answer["data"]["entity"]["records"]}


def test_a_record_comes_with_its_loaded_fields_and_its_lineage(
    env: tuple[ApiEnv, LoadReport],
) -> None:
    api, report = env
    debt = _records(api, ZHAO, ApiRole.INVESTIGATOR)[DEBT]
    assert debt["caseNumber"] == CASE
    assert debt["legalBasis"].startswith("《最高人民法院")
    assert debt["obligation"] == "偿还借款50万元"
    assert debt["performance"] == "全部未履行"
    assert debt["dishonestBehaviour"] == "有履行能力而拒不履行生效法律文书确定义务"
    assert debt["sourceSystem"] == "xm-court" and debt["sourceRecordId"] == "Z-1"
    assert debt["runId"] == report.run_id
    assert debt["source"] and debt["sourceRow"] == f"{debt['source']}:3"
    loaded = datetime.fromisoformat(debt["loadedAt"])
    assert loaded.tzinfo is not None and abs((datetime.now(loaded.tzinfo) - loaded).days) < 1
    objected = _records(api, FIRM_K, ApiRole.INVESTIGATOR)[OBJECTED]
    assert objected["underObjection"] is True
    assert objected["decisionNumber"] == "厦建罚〔2025〕12号"
    assert objected["legalBasis"] == "《建筑市场信用管理暂行办法》第八条"
    assert objected["description"] == "转包工程" and objected["sourceRecordId"] == "K-1"
    assert objected["runId"] == report.run_id and objected["sourceRow"] == debt["source"] + ":2"


def test_a_pseudonymising_role_gets_no_field_that_names_a_person_s_case(api: ApiEnv) -> None:
    [debt] = _records(api, ZHAO_ID, ApiRole.ANALYST).values()
    assert debt["id"].startswith("REC:")
    for name in ("caseNumber", "sourceRecordId", "obligation", "performance"):
        assert debt[name] is None, name
    assert debt["dishonestBehaviour"] is None and debt["description"] is None
    # the rule and the lineage name no case
    assert debt["legalBasis"] and debt["runId"] and debt["sourceSystem"] == "xm-court"
    # a firm's record keeps them
    firm = _records(api, FIRM_K, ApiRole.ANALYST)[OBJECTED]
    assert firm["sourceRecordId"] == "K-1" and firm["decisionNumber"]


def test_the_public_role_sees_the_published_fields_but_not_the_loads(api: ApiEnv) -> None:
    record = _records(api, FIRM_K, ApiRole.PUBLIC)[OBJECTED]
    assert record["legalBasis"] and record["sourceRecordId"] == "K-1"
    assert record["underObjection"] is True
    for name in ("source", "sourceRow", "runId", "loadedAt"):
        assert record[name] is None, name


LINKED = """query ($id: String!) { linkedParties(id: $id, depth: 1) {
  edges { node { party { id } via { type role matter stake subscribedCapital source
    sourceRecord } } } } }"""


def _vias(api: ApiEnv, role: ApiRole) -> list[dict[str, Any]]:
    answer = api.gql(LINKED, role=role, id=FIRM_K)
    assert "errors" not in answer, answer
    edges = answer["data"]["linkedParties"]["edges"]
    return [edge["node"]["via"] for edge in edges]


def test_relations_show_a_responsible_person_s_matter_and_a_subscribed_capital(
    api: ApiEnv,
) -> None:
    vias = _vias(api, ApiRole.INVESTIGATOR)
    by_record = {v["sourceRecord"]: v for v in vias}
    assert by_record["k-s2"]["subscribedCapital"] == 3_000_000.0
    assert by_record["k-s1"]["subscribedCapital"] == 7_000_000.0
    wang = [v for v in vias if v["sourceRecord"] in ("k-r1", "k-r2")]
    assert len(wang) == 1  # a party is listed once, with the first relation that reached it
    answer = api.gql(
        """query ($id: String!, $to: String!) { paths(from: $id, to: $to, maxDepth: 1,
          relationTypes: [RESPONSIBLE_FOR]) {
          paths { hops { type role matter subscribedCapital } } } }""",
        id=FIRM_K,
        to=WANG,
    )
    assert "errors" not in answer, answer
    [[hop]] = [path["hops"] for path in answer["data"]["paths"]["paths"]]
    assert hop == {
        "type": "RESPONSIBLE_FOR",
        "role": "responsible_person",
        "matter": "K-1",
        "subscribedCapital": None,
    }


def test_a_pseudonymising_role_gets_no_matter_of_a_person_s_relation(api: ApiEnv) -> None:
    vias = _vias(api, ApiRole.ANALYST)
    assert all(v["matter"] is None and v["sourceRecord"] is None for v in vias if v["role"])
    firm = [v for v in vias if v["type"] == "SHAREHOLDER_OF" and v["subscribedCapital"] == 3e6]
    assert firm, vias  # FIRM_A's shareholding names no person
