"""A public record past its `disclosure_until` date is no longer public: from the day after, it
reaches only the roles that see `government_shared` records, never the public role, and it
still counts for decisions (docs/security.md, "Role matrix"; docs/formats.md, `records.csv`)."""

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
YESTERDAY, NEXT_YEAR = TODAY - timedelta(days=1), TODAY + timedelta(days=365)
# firm name -> (uscc, disclosure_until of its one public record, "" for none)
FIRMS = {
    "公示期甲贸易有限公司": (make_uscc("9", "1", "350203", "MA2Y0D01"), YESTERDAY),
    "公示期乙贸易有限公司": (make_uscc("9", "1", "350203", "MA2Y0D02"), TODAY),
    "公示期丙贸易有限公司": (make_uscc("9", "1", "350203", "MA2Y0D03"), NEXT_YEAR),
    "公示期丁贸易有限公司": (make_uscc("9", "1", "350203", "MA2Y0D04"), None),
}
PAST, TODAY_ENDS, LATER, OPEN = (uscc for uscc, _ in FIRMS.values())
SHOWN_TO_PUBLIC = (TODAY_ENDS, LATER, OPEN)


def record_uid(uscc: str) -> str:
    return f"XMCREDIT:DU-{uscc[-6:]}"


def write_firms(folder: Path) -> None:
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[uscc, "", name, "enterprise", "2015-01-01"] for name, (uscc, _) in FIRMS.items()],
    )
    # an active administrative penalty in force until 2099: it counts for decisions whatever
    # its disclosure date says
    write_csv(
        folder / "records.csv",
        [*RECORD_HEADER, "disclosure_until"],
        [
            [
                record_uid(uscc)[len("XMCREDIT:") :],
                uscc,
                "admin_penalty",
                "tax",
                "AUTH2",
                "厦门市税务局",
                "2025-01-01",
                "2025-01-01",
                "2099-12-31",
                "active",
                "public",
                "xm-credit",
                "",
                "",
                until.isoformat() if until else "",
            ]
            for uscc, until in FIRMS.values()
        ],
    )


api_env, _cli = module_api("disclosure-until", write_firms)

ENTITY = "query ($id: String!) { entity(id: $id) { records { id disclosureUntil } } }"
ENTITY_PUBLIC_FILTER = (
    "query ($id: String!) { entity(id: $id) { records(disclosure: [PUBLIC]) { id } } }"
)
SEARCH = """query ($name: String!) {
  search(name: $name) { edges { node { id records { id } } } }
}"""


def entity_records(env: ApiEnv, uscc: str, role: ApiRole, query: str = ENTITY) -> list[str]:
    body = env.gql(query, role=role, id=uscc)
    assert "errors" not in body, body
    return [r["id"] for r in body["data"]["entity"]["records"]]


def search_records(env: ApiEnv, role: ApiRole) -> dict[str, list[str]]:
    body = env.gql(SEARCH, role=role, name="公示期")
    assert "errors" not in body, body
    return {
        edge["node"]["id"]: [r["id"] for r in edge["node"]["records"]]
        for edge in body["data"]["search"]["edges"]
    }


def test_a_record_past_its_disclosure_date_is_not_shown_to_the_public_role(
    api_env: ApiEnv,
) -> None:
    assert entity_records(api_env, PAST, ApiRole.PUBLIC) == []
    assert entity_records(api_env, PAST, ApiRole.PUBLIC, ENTITY_PUBLIC_FILTER) == []
    assert search_records(api_env, ApiRole.PUBLIC)[PAST] == []


@pytest.mark.parametrize("uscc", SHOWN_TO_PUBLIC)
def test_a_record_disclosed_until_today_or_later_or_for_good_is_shown_to_the_public_role(
    api_env: ApiEnv, uscc: str
) -> None:
    assert entity_records(api_env, uscc, ApiRole.PUBLIC) == [record_uid(uscc)]
    assert entity_records(api_env, uscc, ApiRole.PUBLIC, ENTITY_PUBLIC_FILTER) == [record_uid(uscc)]
    assert search_records(api_env, ApiRole.PUBLIC)[uscc] == [record_uid(uscc)]


@pytest.mark.parametrize(
    "role", [ApiRole.APPROVAL, ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN]
)
def test_the_internal_roles_still_see_a_record_past_its_disclosure_date(
    api_env: ApiEnv, role: ApiRole
) -> None:
    assert entity_records(api_env, PAST, role) == [record_uid(PAST)]
    if role is not ApiRole.APPROVAL:  # approval may not search
        assert search_records(api_env, role)[PAST] == [record_uid(PAST)]


def test_the_date_changes_what_is_shown_not_what_is_decided(api_env: ApiEnv) -> None:
    query = """query ($ids: [String!]!) {
      screen(ids: $ids, purpose: LICENSING) { partyId decision ownReasons { code recordId } }
    }"""
    body = api_env.gql(query, role=ApiRole.APPROVAL, ids=[PAST, LATER])
    assert "errors" not in body, body
    past, later = body["data"]["screen"]
    assert past["decision"] == later["decision"]
    assert [r["code"] for r in past["ownReasons"]] == [r["code"] for r in later["ownReasons"]]
    assert record_uid(PAST) in {r["recordId"] for r in past["ownReasons"]}


def test_the_rule_takes_the_day_of_the_answer() -> None:
    yesterday, today = TODAY - timedelta(days=1), TODAY
    cases: list[tuple[Any, ...]] = [
        (ApiRole.PUBLIC, "public", yesterday, today, False),
        (ApiRole.PUBLIC, "public", today, today, True),
        (ApiRole.PUBLIC, "public", None, today, True),
        (ApiRole.PUBLIC, "public", yesterday, yesterday, True),  # as of a day it was still public
        (ApiRole.APPROVAL, "public", yesterday, today, True),
        (ApiRole.ANALYST, "public", yesterday, today, True),
        (ApiRole.PUBLIC, "government_shared", None, today, False),
    ]
    for role, disclosure, until, day, seen in cases:
        shown = sees_disclosure(role, disclosure, until=until, day=day, status=RecordStatus.ACTIVE)
        assert shown is seen, (role, until, day)
