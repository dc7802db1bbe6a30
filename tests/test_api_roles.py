"""The role matrix of docs/security.md, cell by cell, against the running app."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import OPERATIONS, ApiRole
from credgraph.graph.settings import Settings

from tests.api_support import EXTRA_RECORDS, ApiEnv, start_api_env
from tests.registries import FIRM_A, FIRM_B, ZHANG


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("api"))


DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def role_matrix() -> dict[str, dict[ApiRole, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Role matrix", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    roles = [ApiRole(name) for name in header[1:]]
    matrix: dict[str, dict[ApiRole, str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        matrix[cells[0].strip("`")] = dict(zip(roles, cells[1:], strict=True))
    return matrix


MATRIX = role_matrix()
OPERATION_QUERIES = {
    "entity": f'{{ entity(id: "{FIRM_A}") {{ id }} }}',
    "search": '{ search(name: "厦门") { totalCount } }',
    "linkedParties": f'{{ linkedParties(id: "{FIRM_A}") {{ totalCount }} }}',
    "paths": f'{{ paths(from: "{FIRM_A}", to: "{FIRM_B}") {{ truncated }} }}',
    "dishonestParties": f'{{ dishonestParties(id: "{FIRM_A}") {{ totalCount }} }}',
    "suspectedLinks": f'{{ suspectedLinks(id: "{FIRM_A}") {{ totalCount }} }}',
    "controlGroup": f'{{ controlGroup(id: "{FIRM_A}") {{ minStake }} }}',
    "guaranteeCircle": f'{{ guaranteeCircle(id: "{FIRM_A}") {{ limited }} }}',
    "riskReport": f'{{ riskReport(id: "{FIRM_A}") {{ found }} }}',
    "screen": f'{{ screen(ids: ["{FIRM_A}"], purpose: LICENSING) {{ decision }} }}',
    "openObjection": 'mutation { openObjection(recordId: "NO:SUCH", evidence: "e", '
    'deadline: "2099-01-01") { status } }',
    "closeObjection": 'mutation { closeObjection(recordId: "NO:SUCH", upheld: false) { status } }',
    "recordRepair": 'mutation { recordRepair(recordId: "NO:SUCH", decisionNumber: "1") '
    "{ status } }",
}
RECORD_HOLDERS = {
    "public": (FIRM_A, "XMCREDIT:B-1"),
    "restricted": (FIRM_A, "XMCREDIT:R-1"),
    "government_shared": (FIRM_B, "FZCREDIT:G-1"),
    "subject_only": ("ZHANG", "COURT:S-1"),
}


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", [])}


@pytest.fixture(scope="module")
def zhang_token(api_env: ApiEnv) -> str:
    body = api_env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', role=ApiRole.ADMIN)
    return str(body["data"]["entity"]["id"])


def test_the_matrix_names_every_operation_and_role() -> None:
    assert set(OPERATIONS) <= set(MATRIX)
    assert all(set(row) == set(ApiRole) for row in MATRIX.values())


def check_operation(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    body = env.gql(OPERATION_QUERIES[row], role=role)
    return "no" if "FORBIDDEN" in codes(body) else "yes"


# every answer that may name a record: a role that does not see its class is not told of it
# anywhere (risk reports and screens still count it, without naming it)
NAMING_RECORDS = [
    """query ($id: String!, $a: String!, $b: String!) {
      holder: riskReport(id: $id) { ...named } a: riskReport(id: $a) { ...named }
      b: riskReport(id: $b) { ...named }
    }
    fragment named on RiskReport {
      flags { record { id } } proposals { record { id } } underObjection { id }
      contagion { paths { recordId } }
    }""",
    """query ($id: String!, $a: String!, $b: String!) {
      screen(ids: [$id, $a, $b], purpose: LICENSING) {
        ownReasons { recordId } linkedReasons { recordId }
      }
    }""",
    """query ($id: String!, $a: String!, $b: String!) {
      holder: dishonestParties(id: $id) { ...hits } a: dishonestParties(id: $a) { ...hits }
      b: dishonestParties(id: $b) { ...hits }
    }
    fragment hits on DishonestPartyConnection { items { records { id } } }""",
]


def check_records(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    holder, record = RECORD_HOLDERS[row.split(": ", 1)[1]]
    ident = token if holder == "ZHANG" else holder
    body = env.gql(f'{{ entity(id: "{ident}") {{ records {{ id }} }} }}', role=role)
    entity = body["data"]["entity"]
    listed = entity is not None and record in {r["id"] for r in entity["records"]}
    for query in NAMING_RECORDS:
        data = env.gql(query, role=role, id=ident, a=FIRM_A, b=FIRM_B)["data"]
        named = f'"{record}"' in json.dumps(data, ensure_ascii=False)
        assert not named or listed, (role, record, data)  # named only where it is listed
    return "yes" if listed else "no"


def check_persons(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    body = env.gql(
        f'{{ entity(id: "{token}") {{ name ... on NaturalPerson {{ idMasked sex }} }} }}',
        role=role,
    )
    person = body["data"]["entity"]
    if person is None:
        return "no"
    if person["name"] == "张伟" and person["idMasked"] == ZHANG[:4] + "*" * 10 + ZHANG[-4:]:
        return "masked"
    if person["name"] == "张*" and person["idMasked"] is None and person["sex"] is None:
        return "pseudonymised"
    return f"unexpected {person}"


def check_person_search(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    body = env.gql('{ search(name: "张伟", kind: NATURAL_PERSON) { totalCount } }', role=role)
    if "FORBIDDEN" in codes(body):
        return "no"
    return "yes" if body["data"]["search"]["totalCount"] == 1 else "unexpected empty"


def check_person_by_number(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    body = env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', role=role)
    if "FORBIDDEN" in codes(body) or body["data"]["entity"] is None:
        return "no"
    return "yes" if body["data"]["entity"]["id"] == token else "unexpected"


def check_contagion(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    body = env.gql(f'{{ riskReport(id: "{FIRM_A}") {{ contagion {{ available }} }} }}', role=role)
    report = body["data"]["riskReport"] if body.get("data") else None
    return "yes" if report is not None and report["contagion"] is not None else "no"


def check_full_numbers(env: ApiEnv, token: str, row: str, role: ApiRole) -> str:
    texts = [
        env.post(f'{{ entity(id: "{ZHANG}") {{ id name }} }}', role=role).text,
        env.post(f'{{ linkedParties(id: "{FIRM_A}") {{ totalCount }} }}', role=role).text,
        env.post(f'{{ entity(id: "{ZHANG}x") {{ id }} }}', role=role).text,
    ]
    return "yes" if any(ZHANG in text for text in texts) else "no"


CHECKS: dict[str, Callable[[ApiEnv, str, str, ApiRole], str]] = {
    **{name: check_operation for name in OPERATION_QUERIES},
    **{f"records: {name}": check_records for name in RECORD_HOLDERS},
    "natural persons": check_persons,
    "search natural persons by name": check_person_search,
    "look up a person by identity number": check_person_by_number,
    "contagion scores": check_contagion,
    "full resident ID numbers": check_full_numbers,
}


def test_every_row_of_the_matrix_has_a_check() -> None:
    assert set(MATRIX) == set(CHECKS)
    assert {f"records: {c}" for c in {"public", *EXTRA_RECORDS.values()}} <= set(MATRIX)


@pytest.mark.parametrize("row", sorted(MATRIX))
def test_matrix_row(api_env: ApiEnv, zhang_token: str, row: str) -> None:
    observed = {role: CHECKS[row](api_env, zhang_token, row, role) for role in ApiRole}
    assert observed == MATRIX[row]
