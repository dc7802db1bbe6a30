"""`screen` as a licensing system's engineer uses it, reading only README.md, docs/security.md
and docs/schema.graphql: the gql client over real HTTP, against the app in production mode on
a registry of parties built by hand for each decision of docs/risk-model.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from credgraph.api.app import create_app
from credgraph.api.audit import subject_token, verify
from credgraph.api.keys import make_key
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import (
    make_resident_id,
    make_uscc,
    registration_number_check_digit,
    uscc_org_code,
)
from credgraph.graph.settings import Environment, Settings
from credgraph.queries.risk_status import ReasonCode
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from tests.api_support import ApiEnv, Served, start_api_env
from tests.conftest import new_database
from tests.registries import load_folder, write_csv

ROOT = Path(__file__).resolve().parents[1]
MAX_IDS = 150  # above the risk layer's batch of 100 (queries/risk_status.py MAX_BATCH)


def _firm(n: int) -> str:
    return make_uscc("9", "1", "350206", f"MH7Q{n:04d}")


def _person(n: int) -> str:
    return make_resident_id("350206", date(1970 + n, 1, 1 + n), 40 + n, "M")


REPRESENTS_DEBTOR, OBJECTED, REVOKED, EXPIRED, BLACKLISTED = (_firm(n) for n in range(1, 6))
CLEAN_WITH_ALIAS, LABOUR, SERIOUS, UNDATED, CHANGED, RESTRICTED, OVERDUE = (
    _firm(n) for n in range(6, 13)
)
PERSONS = DEBTOR, REPRESENTATIVE, RESPONSIBLE = tuple(_person(n) for n in range(1, 4))
SHOP_NUMBER = "35020660007777"
SHOP = "REG:" + SHOP_NUMBER + registration_number_check_digit(SHOP_NUMBER)
PLAIN_FIRMS = [_firm(n) for n in range(100, 220)]  # clean parties, to screen more than 100
UNKNOWN_FIRM = _firm(9999)

RECORD_COLUMNS = [
    "record_id",
    "subject_id",
    "kind",
    "sector",
    "authority_name",
    "decision_date",
    "valid_from",
    "valid_to",
    "status",
    "disclosure",
    "source_system",
    "court",
    "case_number",
]


def _record(
    record_id: str,
    subject: str,
    kind: str,
    *,
    status: str = "active",
    disclosure: str = "public",
    start: str = "2026-01-01",
    end: str | None = None,
) -> list[str]:
    # counting records run three years past the day the tests run
    until = end if end is not None else (clock.today() + timedelta(days=1095)).isoformat()
    return [
        record_id,
        subject,
        kind,
        "labour",
        "厦门市手工局",
        start,
        start,
        until if start else "",
        status,
        disclosure,
        "hand",
        # a dishonest judgment debtor names its court and case (docs/formats.md)
        "思明区人民法院" if kind == "dishonest_debtor" else "",
        f"(2026)闽0203执{record_id}号" if kind == "dishonest_debtor" else "",
    ]


def write_hand_registry(folder: Path) -> Path:
    """One party per decision of docs/risk-model.md (see the constants above)."""
    folder.mkdir()
    firms = [
        *(_firm(n) for n in range(1, 13)),
        *PLAIN_FIRMS,
    ]
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [[uscc, "", f"手工测试公司{i:03d}", "enterprise"] for i, uscc in enumerate(firms)]
        + [["", SHOP[4:], "手工测试小店", "individual_business"]],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", number, f"手工人{n}", "M"] for n, number in enumerate(PERSONS)],
    )
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "matter", "valid_from", "source_record"],
        [
            [DEBTOR, REPRESENTS_DEBTOR, "legal_representative", "", "2020-01-01", "h1"],
            [REPRESENTATIVE, BLACKLISTED, "legal_representative", "", "2020-01-01", "h2"],
            [RESPONSIBLE, LABOUR, "responsible_person", "L-7", "2020-01-01", "h3"],
        ],
    )
    write_csv(
        folder / "legacy_identifiers.csv",
        ["uscc", "legacy_type", "legacy_code"],
        [[CLEAN_WITH_ALIAS, "org_code", uscc_org_code(CLEAN_WITH_ALIAS)]],
    )
    write_csv(
        folder / "records.csv",
        RECORD_COLUMNS,
        [
            _record("O-2", OBJECTED, "admin_penalty", status="under_objection"),
            _record("REV-3", REVOKED, "blacklist", status="revoked"),
            _record("EXP-4", EXPIRED, "admin_penalty", start="2022-01-01", end="2023-01-01"),
            _record("BL-5", BLACKLISTED, "blacklist"),
            _record("L-7", LABOUR, "admin_penalty"),
            _record("SV-8", SERIOUS, "serious_violation"),
            _record("TU-9", UNDATED, "admin_penalty", start=""),
            _record("M-10", CHANGED, "admin_penalty"),
            _record("RS-11", RESTRICTED, "admin_penalty", disclosure="restricted"),
            _record("AB-S", SHOP, "abnormal_operation"),
            _record("D-P1", DEBTOR, "dishonest_debtor"),
            _record("OD-12", OVERDUE, "admin_penalty"),
        ],
    )
    return folder


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("integrator")
    for api_env in start_api_env(
        embedded,
        driver,
        settings,
        tmp,
        environment=Environment.PRODUCTION,
        api_max_screen_ids=MAX_IDS,
    ):
        load_folder(api_env.store, write_hand_registry(tmp / "hand"), tmp / "rejects")
        yield api_env


SCREEN = gql(
    """
    query Screen($ids: [String!]!, $purpose: Purpose!, $profile: String) {
      screen(ids: $ids, purpose: $purpose, profile: $profile) {
        index partyId decision found
        ownReasons { code detail recordId }
        linkedReasons { code detail recordId }
        snapshotId profile profileVersion asOf
      }
    }
    """
)


def _client(env: ApiEnv, role: ApiRole = ApiRole.APPROVAL) -> Client:
    headers = {"Authorization": f"Bearer {env.keys[role]}"}
    return Client(transport=HTTPXTransport(url=f"{env.served.url}/graphql", headers=headers))


def screen(env: ApiEnv, ids: list[str], **variables: Any) -> list[dict[str, Any]]:
    with _client(env) as session:
        variables = {"ids": ids, "purpose": "LICENSING", **variables}
        answer = session.execute(GraphQLRequest(SCREEN, variable_values=variables))
    return answer["screen"]  # type: ignore[no-any-return]


def refusal(env: ApiEnv, ids: list[str], role: ApiRole = ApiRole.APPROVAL) -> dict[str, Any]:
    with _client(env, role) as session, pytest.raises(TransportQueryError) as refused:
        variables = {"ids": ids, "purpose": "LICENSING"}
        session.execute(GraphQLRequest(SCREEN, variable_values=variables))
    assert refused.value.errors
    first: dict[str, Any] = refused.value.errors[0]
    return first


def _codes(reasons: list[dict[str, Any]]) -> list[str]:
    return [reason["code"] for reason in reasons]


def _reason_code_description() -> str:
    schema = (ROOT / "docs" / "schema.graphql").read_text(encoding="utf-8")
    block = schema.split("type ScreenReason {", 1)[1].split("}", 1)[0]
    return block.split("code: String!", 1)[0]


def test_every_reason_code_screen_gives_is_documented_in_the_schema() -> None:
    source = (ROOT / "queries" / "risk.py").read_text(encoding="utf-8")
    # the codes the screen decision adds to the status layer's (NOT_FOUND carries no reason)
    added = set(re.findall(r'ScreenReason\(\s*"([A-Z_]+)"', source)) - {"NOT_FOUND"}
    documented = set(re.findall(r"\b[A-Z][A-Z_]{3,}\b", _reason_code_description()))
    assert {code.value for code in ReasonCode} | added <= documented


def test_decisions_follow_the_risk_model(env: ApiEnv) -> None:
    ids = [
        REPRESENTS_DEBTOR,
        OBJECTED,
        REVOKED,
        EXPIRED,
        BLACKLISTED,
        uscc_org_code(CLEAN_WITH_ALIAS),
        LABOUR,
        SERIOUS,
        UNDATED,
        RESTRICTED,
        SHOP.lower(),
        DEBTOR,
        REPRESENTATIVE,
        RESPONSIBLE,
        UNKNOWN_FIRM,
    ]
    results = screen(env, ids)
    got = [(r["decision"], _codes(r["ownReasons"]), _codes(r["linkedReasons"])) for r in results]
    assert got == [
        ("REVIEW", [], ["CONTAGION_AT_OR_ABOVE_REVIEW"]),  # its representative is a debtor
        ("REVIEW", ["RECORD_UNDER_OBJECTION"], []),
        ("PASS", [], []),
        ("PASS", [], []),
        ("BLOCK", ["OWN_BLACKLIST"], []),
        ("PASS", [], []),
        ("BLOCK", ["OWN_ADMIN_PENALTY"], []),
        ("BLOCK", ["OWN_SERIOUS_VIOLATION"], []),
        ("REVIEW", ["RECORD_TERM_UNKNOWN"], []),
        ("BLOCK", ["OWN_ADMIN_PENALTY"], []),
        ("BLOCK", ["OWN_ABNORMAL_OPERATION"], []),
        ("BLOCK", ["OWN_DISHONEST_DEBTOR"], []),
        (
            "REVIEW",
            [],
            ["PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "CONTAGION_AT_OR_ABOVE_REVIEW"],
        ),
        ("REVIEW", [], ["RESPONSIBLE_PERSON_OF_RECORD"]),
        ("NOT_FOUND", [], []),
    ]
    documented = _reason_code_description()
    for result in results:
        for reason in result["ownReasons"] + result["linkedReasons"]:
            assert reason["code"] in documented
    by_index = {r["index"]: r for r in results}
    assert by_index[5]["partyId"] == CLEAN_WITH_ALIAS and by_index[10]["partyId"] == SHOP
    assert by_index[9]["ownReasons"][0]["recordId"] is None  # restricted: counted, not named
    assert by_index[14]["found"] is False and by_index[14]["partyId"] is None
    person = by_index[11]["partyId"]
    assert re.fullmatch(r"[0-9a-f]{32}", person)  # a token, never the number asked with
    assert len({r["snapshotId"] for r in results}) == 1


def test_resident_numbers_are_not_echoed(env: ApiEnv) -> None:
    query = "query($ids:[String!]!){screen(ids:$ids,purpose:LICENSING){partyId decision}}"
    for ids in ([DEBTOR], [DEBTOR[:-1] + ("0" if DEBTOR[-1] != "0" else "1")]):
        response = env.post(query, role=ApiRole.APPROVAL, purpose=None, ids=ids)
        assert DEBTOR[:17] not in response.text and DEBTOR[6:14] not in response.text


def test_the_id_limit_and_more_ids_than_one_risk_batch(env: ApiEnv) -> None:
    results = screen(env, PLAIN_FIRMS)  # 120 parties: the risk layer reads 100 at a time
    assert [r["decision"] for r in results] == ["PASS"] * len(PLAIN_FIRMS)
    assert [r["partyId"] for r in results] == PLAIN_FIRMS
    error = refusal(env, [PLAIN_FIRMS[0]] * (MAX_IDS + 1))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"argument ids: give 1 to {MAX_IDS} ids"


WRONG_CHECK_DIGIT = SHOP[:-1] + str((int(SHOP[-1]) + 1) % 10)


@pytest.mark.parametrize("malformed", ["REG:123", WRONG_CHECK_DIGIT, "DOC:passport:US:"])
def test_a_malformed_reference_is_bad_input_not_an_unknown_party(
    env: ApiEnv, malformed: str
) -> None:
    error = refusal(env, [BLACKLISTED, malformed])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("argument ids[1]: ")
    body = SHOP_NUMBER.replace("7", "8")  # well formed, and no party's
    unknown = screen(env, ["REG:" + body + registration_number_check_digit(body)])[0]
    assert (unknown["decision"], unknown["found"]) == ("NOT_FOUND", False)


def _events(env: ApiEnv, after: int = 0) -> list[dict[str, Any]]:
    """The audit events after the first `after` (none before the first call wrote one)."""
    if not env.audit_path.exists():
        return []
    lines = env.audit_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[after:]]


def test_each_screen_is_one_event_with_its_purpose(env: ApiEnv) -> None:
    start = len(_events(env))
    screen(env, [BLACKLISTED, DEBTOR])
    screen(env, [UNKNOWN_FIRM])
    refusal(env, ["hello"])
    refusal(env, [BLACKLISTED], role=ApiRole.INVESTIGATOR)
    events = _events(env, start)
    assert [(e["operation"], e["purpose"], e["outcome"]) for e in events] == [
        ("screen", "licensing", "ok"),
        ("screen", "licensing", "not_found"),
        ("screen", "licensing", "refused:bad_user_input"),
        ("screen", "licensing", "refused:role"),
    ]
    tokens = events[0]["subjects"]
    assert len(tokens) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in tokens)
    assert BLACKLISTED not in json.dumps(events) and DEBTOR not in json.dumps(events)
    assert verify(env.audit_path, env.settings.audit_key_bytes()).ok


def test_a_screen_s_event_holds_what_it_decided_and_on_what(env: ApiEnv) -> None:
    """A supervisor reconstructing a decision finds it in the audit log: the snapshot, the
    profile and its version, the day, and per id its party's token, the decision and the
    reasons with their records' tokens; no identifier."""
    start = len(_events(env))
    answers = screen(env, [BLACKLISTED, UNKNOWN_FIRM, DEBTOR])
    [event] = _events(env, start)
    first = answers[0]
    assert (event["snapshot"], event["profile"], event["profile_version"], event["as_of"]) == (
        first["snapshotId"],
        first["profile"],
        first["profileVersion"],
        first["asOf"],
    )
    key = env.settings.person_key_bytes()
    expected = []
    for answer in answers:
        if not answer["found"]:  # a USCC no party holds: the token its party would have
            expected.append({"subject": subject_token(key, UNKNOWN_FIRM), "decision": "NOT_FOUND"})
            continue
        reasons = answer["ownReasons"] + answer["linkedReasons"]
        expected.append(
            {
                "subject": subject_token(key, answer["partyId"]),
                "decision": answer["decision"],
                "reasons": [
                    [r["code"], subject_token(key, r["recordId"]) if r["recordId"] else None]
                    for r in reasons
                ],
            }
        )
    assert event["decisions"] == expected
    assert expected[0]["decision"] == "BLOCK" and expected[0]["reasons"][0][1] is not None
    text = json.dumps(event)
    assert BLACKLISTED not in text and DEBTOR not in text and "HAND:" not in text


def test_a_risk_report_s_event_names_its_snapshot_and_profile(env: ApiEnv) -> None:
    start = len(_events(env))
    query = "query ($id: String!) { riskReport(id: $id) { snapshotId profileVersion asOf } }"
    answer = env.gql(query, role=ApiRole.APPROVAL, purpose="LICENSING", id=BLACKLISTED)
    report = answer["data"]["riskReport"]
    [event] = _events(env, start)
    assert (event["snapshot"], event["profile_version"], event["as_of"]) == (
        report["snapshotId"],
        report["profileVersion"],
        report["asOf"],
    )


MUTATIONS = {
    "open": """mutation ($r: String!, $d: Date!) { openObjection(recordId: $r,
        evidence: "已履行", deadline: $d) { status } }""",
    "close": """mutation ($r: String!) { closeObjection(recordId: $r, upheld: false)
        { status } }""",
    "repair": """mutation ($r: String!) { recordRepair(recordId: $r,
        decisionNumber: "厦信修〔2026〕1号") { status } }""",
}


def _change(env: ApiEnv, which: str, role: ApiRole) -> dict[str, Any]:
    deadline = (clock.today() + timedelta(days=30)).isoformat()
    variables = {"r": "HAND:M-10", "d": deadline} if which == "open" else {"r": "HAND:M-10"}
    return env.gql(MUTATIONS[which], role=role, purpose=None, **variables)


def test_changes_and_loads_move_the_snapshot_and_the_decision_at_once(
    env: ApiEnv, tmp_path: Path
) -> None:
    first, again = screen(env, [CHANGED]), screen(env, [CHANGED])
    assert first == again and first[0]["decision"] == "BLOCK"
    report = env.gql(
        """query ($id: String!, $on: Date, $p: String) { riskReport(id: $id, asOf: $on,
            profile: $p) { snapshotId flags { code record { id } } } }""",
        role=ApiRole.APPROVAL,
        purpose=None,
        id=CHANGED,
        on=first[0]["asOf"],
        p=first[0]["profile"],
    )["data"]["riskReport"]
    assert report["snapshotId"] == first[0]["snapshotId"]
    assert report["flags"] == [{"code": "OWN_ADMIN_PENALTY", "record": {"id": "HAND:M-10"}}]
    for role in (ApiRole.APPROVAL, ApiRole.INVESTIGATOR, ApiRole.ANALYST):
        refused = _change(env, "open", role)
        assert [(e["extensions"]["code"], e["message"]) for e in refused["errors"]] == [
            ("FORBIDDEN", f"the {role.value} role may not call openObjection")
        ]
    assert screen(env, [CHANGED]) == first  # refused: nothing changed, not even the snapshot
    seen = [first[0]["snapshotId"]]
    start = len(_events(env))
    for which, decision in (("open", "REVIEW"), ("close", "BLOCK"), ("repair", "PASS")):
        assert "errors" not in _change(env, which, ApiRole.ADMIN)
        now = screen(env, [CHANGED])[0]
        assert now["decision"] == decision and now["snapshotId"] not in seen
        seen.append(now["snapshotId"])
    # each change's event says which record it was asked for, and what from which day
    changed = [e for e in _events(env, start) if e["operation"] != "screen"]
    record = subject_token(env.settings.person_key_bytes(), "HAND:M-10")
    today = clock.today().isoformat()
    assert [(e["record"], e["changes"]) for e in changed] == [
        (record, [["objection_opened", today]]),
        (record, [["objection_closed", today]]),
        (record, [["repaired", today]]),
    ]
    folder = tmp_path / "more"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[_firm(9000), "后来的公司", "enterprise"]],
    )
    load_folder(env.store, folder, tmp_path / "rejects")
    assert screen(env, [CHANGED])[0]["snapshotId"] not in seen


def test_operations_go_by_post_only(env: ApiEnv) -> None:
    headers = {"Authorization": f"Bearer {env.keys[ApiRole.APPROVAL]}"}
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = env.client.request(method, "/graphql", headers=headers)
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "POST"
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_refusals_before_graphql_have_their_status_and_code(env: ApiEnv) -> None:
    query = {"query": "{ __typename }"}
    key = {"Authorization": f"Bearer {env.keys[ApiRole.APPROVAL]}"}
    cases: list[tuple[httpx.Response, int, str]] = [
        (env.client.post("/graphql", json=query), 401, "UNAUTHENTICATED"),
        (
            env.client.post(
                "/graphql", json=query, headers={"Authorization": "Bearer cgk_0_" + "a" * 43}
            ),
            401,
            "UNAUTHENTICATED",
        ),
        (env.client.post("/graphql", json=[query], headers=key), 400, "BATCH_NOT_SUPPORTED"),
        (
            env.client.post("/graphql", content=b'{"query": "' + b"x" * 70000 + b'"}', headers=key),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (env.client.post("/graphql", content=b"{", headers=key), 400, "BAD_REQUEST"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == code
        assert "Traceback" not in response.text


def test_a_screen_the_store_fails_is_registered_too(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    store = new_database(embedded, driver, prefix="down")
    key = make_key(store, "approval", "down").secret
    audit_path = tmp_path / "audit.log"
    app_settings = settings.model_copy(
        update={
            "audit_log": audit_path,
            "audit_fsync": False,
            "environment": Environment.PRODUCTION,
        }
    )
    query = "query($ids:[String!]!){screen(ids:$ids,purpose:LICENSING){decision}}"
    body = {"query": query, "variables": {"ids": [BLACKLISTED]}}
    headers = {"Authorization": f"Bearer {key}"}
    with (
        Served(create_app(store, app_settings)) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        assert client.post("/graphql", json=body, headers=headers).status_code == 200
        embedded.drop_database(store.database or "")  # the key stays cached, the reads fail
        answer = client.post("/graphql", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
    assert "Traceback" not in answer.text
    events = [json.loads(line) for line in audit_path.read_text(encoding="utf-8").splitlines()]
    assert [(e["operation"], e["purpose"], e["outcome"]) for e in events] == [
        ("screen", "licensing", "not_found"),
        ("screen", "licensing", "refused:store_unavailable"),
    ]


def test_an_objection_past_its_deadline_stays_open_as_the_schema_says(env: ApiEnv) -> None:
    schema = (ROOT / "docs" / "schema.graphql").read_text(encoding="utf-8")
    assert "the deadline closes nothing" in schema.split("openObjection(", 1)[0]
    opened = env.gql(
        """mutation ($on: Date!, $by: Date!) { openObjection(recordId: "HAND:OD-12",
            evidence: "已履行", deadline: $by, effectiveOn: $on) { status change } }""",
        role=ApiRole.ADMIN,
        purpose=None,
        on=(clock.today() - timedelta(days=10)).isoformat(),
        by=(clock.today() - timedelta(days=5)).isoformat(),
    )
    assert opened["data"]["openObjection"] == {
        "status": "under_objection",
        "change": "objection_opened",
    }
    result = screen(env, [OVERDUE])[0]
    assert (result["decision"], _codes(result["ownReasons"])) == (
        "REVIEW",
        ["RECORD_UNDER_OBJECTION"],
    )


def test_a_risk_report_through_a_person_needs_a_purpose(env: ApiEnv) -> None:
    query = """query ($id: String!) { riskReport(id: $id) {
        contagion { paths { partyIds recordId } } } }"""
    start = len(_events(env))
    refused = env.gql(query, role=ApiRole.APPROVAL, purpose=None, id=REPRESENTS_DEBTOR)
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "PURPOSE_REQUIRED", refused
    assert error["message"] == (
        "this lookup reaches natural persons: give a purpose in the X-Credgraph-Purpose "
        "header (docs/security.md)"
    )
    assert refused["data"]["riskReport"] is None
    answered = env.gql(query, role=ApiRole.APPROVAL, purpose="licensing", id=REPRESENTS_DEBTOR)
    paths = answered["data"]["riskReport"]["contagion"]["paths"]
    assert any(path["recordId"] == "HAND:D-P1" for path in paths)  # the debtor's own record
    events = _events(env, start)
    assert [(e["purpose"], e["outcome"], len(e["subjects"])) for e in events] == [
        (None, "refused:purpose_required", 2),
        ("licensing", "ok", 2),
    ]


def test_the_readme_leads_an_integrator_to_screen() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert "`screen(ids, purpose, profile, sector)` (docs/security.md, Screening)" in readme
    assert "\n## Screening\n" in security


SCREEN_FOR = gql(
    """
    query ScreenFor($ids: [String!]!, $sector: String) {
      screen(ids: $ids, purpose: LICENSING, sector: $sector) {
        decision sector ownReasons { code recordSector inSector }
      }
    }
    """
)


def test_a_screen_for_a_sector_says_which_records_are_of_it(env: ApiEnv) -> None:
    """DOMAIN.md: approval systems send "a purpose and a sector"; the sector is registered,
    and each reason says whether its record is of it (BL-5 is a labour blacklist)."""
    start = len(_events(env))
    variables = {"ids": [BLACKLISTED], "sector": " Construction "}
    with _client(env) as session:
        [result] = session.execute(GraphQLRequest(SCREEN_FOR, variable_values=variables))["screen"]
    assert (result["decision"], result["sector"]) == ("BLOCK", "construction")  # not scoped
    assert result["ownReasons"] == [
        {"code": "OWN_BLACKLIST", "recordSector": "labour", "inSector": False}
    ]
    [event] = _events(env, start)
    assert (event["operation"], event["sector"]) == ("screen", "construction")
    with _client(env) as session:
        [plain] = session.execute(
            GraphQLRequest(SCREEN_FOR, variable_values={"ids": [BLACKLISTED]})
        )["screen"]
    assert plain["sector"] is None and plain["ownReasons"][0]["inSector"] is None
    assert "sector" not in _events(env, start + 1)[0]
    with _client(env) as session, pytest.raises(TransportQueryError) as refused:
        variables = {"ids": [BLACKLISTED], "sector": "建筑"}
        session.execute(GraphQLRequest(SCREEN_FOR, variable_values=variables))
    error = refused.value.errors[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("argument sector: not a sector code")
