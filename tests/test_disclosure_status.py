"""A public record that no longer stands is no longer public: once repaired (信用修复), revoked
(found wrong) or expired (its status, or its term run out) on the day of the answer, it reaches
only the internal roles (those that see `government_shared` records), never the public role,
and it still counts for decisions as before. A record under objection stays public, annotated
(docs/security.md, "Role matrix": "No longer standing")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole, sees_disclosure
from credgraph.graph import clock
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.vocabulary import RecordStatus

from tests.api_support import ApiEnv, module_api
from tests.registries import RECORD_HEADER, write_csv

TODAY = clock.today()
YESTERDAY, NEXT_MONTH = TODAY - timedelta(days=1), TODAY + timedelta(days=30)
# within the 3 years an administrative penalty is published at most (CREDGRAPH_PUBLISH_AT_MOST,
# tests/test_publication_maximum.py), so that only its status decides here
DECIDED, TERM_RAN_OUT = TODAY - timedelta(days=700), (TODAY - timedelta(days=300)).isoformat()


def _firm(n: int) -> str:
    return make_uscc("9", "1", "350203", f"MA2Y0E{n:02d}")


# firm name -> (uscc, listed status, valid_to of its one public penalty)
FIRMS = {
    "信用状态甲有限公司": (_firm(1), "active", "2099-12-31"),
    "信用状态乙有限公司": (_firm(2), "repaired", "2099-12-31"),
    "信用状态丙有限公司": (_firm(3), "revoked", "2099-12-31"),
    "信用状态丁有限公司": (_firm(4), "expired", TERM_RAN_OUT),
    "信用状态戊有限公司": (_firm(5), "active", TERM_RAN_OUT),  # its term ran out
    "信用状态己有限公司": (_firm(6), "under_objection", "2099-12-31"),
    "信用状态庚有限公司": (_firm(7), "active", "2099-12-31"),  # repaired by a change, yesterday
    "信用状态辛有限公司": (_firm(8), "active", "2099-12-31"),  # repaired from next month
}
ACTIVE, REPAIRED, REVOKED, EXPIRED, TERM_ENDED, OBJECTED, CHANGED, LATER = (
    uscc for uscc, _, _ in FIRMS.values()
)
SHOWN_TO_PUBLIC = (ACTIVE, OBJECTED, LATER)
HIDDEN_FROM_PUBLIC = (REPAIRED, REVOKED, EXPIRED, TERM_ENDED, CHANGED)


def record_uid(uscc: str) -> str:
    return f"XMCREDIT:{record_id(uscc)}"


def record_id(uscc: str) -> str:
    return f"ST-{uscc[-6:]}"


def record_row(uscc: str, status: str, valid_to: str) -> list[str]:
    """A public tax penalty decided on `DECIDED`, in force from then until `valid_to`."""
    head = [record_id(uscc), uscc, "admin_penalty", "tax", "AUTH2", "厦门市税务局"]
    decided = DECIDED.isoformat()
    return [*head, decided, decided, valid_to, status, "public", "xm-credit", "", ""]


def write_firms(folder: Path) -> None:
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[uscc, "", name, "enterprise", "2015-01-01"] for name, (uscc, _, _) in FIRMS.items()],
    )
    write_csv(
        folder / "records.csv",
        RECORD_HEADER,
        [record_row(uscc, status, valid_to) for uscc, status, valid_to in FIRMS.values()],
    )
    write_csv(
        folder / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [
            ["st-c1", record_id(CHANGED), "xm-credit", "repaired", YESTERDAY.isoformat()],
            ["st-c2", record_id(LATER), "xm-credit", "repaired", NEXT_MONTH.isoformat()],
        ],
    )


api_env, _cli = module_api("disclosure-status", write_firms)

ENTITY = "query ($id: String!) { entity(id: $id) { records { id underObjection } } }"
ENTITY_PUBLIC_FILTER = (
    "query ($id: String!) { entity(id: $id) { records(disclosure: [PUBLIC]) { id } } }"
)
SEARCH = """query ($name: String!) {
  search(name: $name, first: 20) { edges { node { id records { id } } } }
}"""


def entity_records(env: ApiEnv, uscc: str, role: ApiRole, query: str = ENTITY) -> list[str]:
    body = env.gql(query, role=role, id=uscc)
    assert "errors" not in body, body
    return [r["id"] for r in body["data"]["entity"]["records"]]


def search_records(env: ApiEnv, role: ApiRole) -> dict[str, list[str]]:
    body = env.gql(SEARCH, role=role, name="信用状态")
    assert "errors" not in body, body
    found = {
        edge["node"]["id"]: [r["id"] for r in edge["node"]["records"]]
        for edge in body["data"]["search"]["edges"]
    }
    assert len(found) == len(FIRMS), found
    return found


@pytest.mark.parametrize("uscc", HIDDEN_FROM_PUBLIC)
def test_a_record_repaired_revoked_or_expired_is_not_shown_to_the_public_role(
    api_env: ApiEnv, uscc: str
) -> None:
    assert entity_records(api_env, uscc, ApiRole.PUBLIC) == []
    assert entity_records(api_env, uscc, ApiRole.PUBLIC, ENTITY_PUBLIC_FILTER) == []
    assert search_records(api_env, ApiRole.PUBLIC)[uscc] == []


@pytest.mark.parametrize("uscc", SHOWN_TO_PUBLIC)
def test_a_standing_record_is_shown_to_the_public_role(api_env: ApiEnv, uscc: str) -> None:
    assert entity_records(api_env, uscc, ApiRole.PUBLIC) == [record_uid(uscc)]
    assert entity_records(api_env, uscc, ApiRole.PUBLIC, ENTITY_PUBLIC_FILTER) == [record_uid(uscc)]
    assert search_records(api_env, ApiRole.PUBLIC)[uscc] == [record_uid(uscc)]


def test_a_record_under_objection_stays_public_with_its_annotation(api_env: ApiEnv) -> None:
    body = api_env.gql(ENTITY, role=ApiRole.PUBLIC, id=OBJECTED)
    assert body["data"]["entity"]["records"] == [
        {"id": record_uid(OBJECTED), "underObjection": True}
    ]


@pytest.mark.parametrize(
    "role", [ApiRole.APPROVAL, ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN]
)
def test_the_internal_roles_still_see_every_record(api_env: ApiEnv, role: ApiRole) -> None:
    for uscc, _, _ in FIRMS.values():
        assert entity_records(api_env, uscc, role) == [record_uid(uscc)], uscc
    if role is not ApiRole.APPROVAL:  # approval may not search
        assert search_records(api_env, role) == {
            uscc: [record_uid(uscc)] for uscc, _, _ in FIRMS.values()
        }


def test_the_internal_roles_are_still_told_which_record_a_report_names(api_env: ApiEnv) -> None:
    """riskReport (internal roles only) names the records it shows as before: a repaired one
    (here, as of a day before the repair, when it counted) and a standing one."""
    query = """query ($id: String!, $day: Date) {
      riskReport(id: $id, asOf: $day) { flags { code record { id } } }
    }"""
    for uscc, day in ((CHANGED, YESTERDAY - timedelta(days=1)), (ACTIVE, TODAY)):
        body = api_env.gql(query, role=ApiRole.ANALYST, id=uscc, day=day.isoformat())
        assert "errors" not in body, body
        assert [f["record"] for f in body["data"]["riskReport"]["flags"]] == [
            {"id": record_uid(uscc)}
        ], uscc


def test_the_rule_takes_the_status_on_the_day_of_the_answer() -> None:
    cases: list[tuple[Any, ...]] = [
        (ApiRole.PUBLIC, RecordStatus.ACTIVE, True),
        (ApiRole.PUBLIC, RecordStatus.UNDER_OBJECTION, True),
        (ApiRole.PUBLIC, RecordStatus.REPAIRED, False),
        (ApiRole.PUBLIC, RecordStatus.REVOKED, False),
        (ApiRole.PUBLIC, RecordStatus.EXPIRED, False),
        (ApiRole.APPROVAL, RecordStatus.REPAIRED, True),
        (ApiRole.ANALYST, RecordStatus.REVOKED, True),
        (ApiRole.INVESTIGATOR, RecordStatus.EXPIRED, True),
    ]
    for role, status, seen in cases:
        shown = sees_disclosure(role, "public", until=None, day=TODAY, status=status)
        assert shown is seen, (role, status)
    # a record the public role does not see for its class stays unseen whatever its status
    assert not sees_disclosure(
        ApiRole.PUBLIC, "government_shared", until=None, day=TODAY, status=RecordStatus.ACTIVE
    )
