"""`suspectedLinks`: parties sharing an officer, an address, a phone or an e-mail, through
GraphQL, as `credgraph links` finds them, with a person's contacts never shown. Real HTTP
against the app on the embedded store.

The registry (tests/api_support.py) gives FIRM_A and FIRM_B one officer, ZHANG (FIRM_A's legal
representative, FIRM_B's director; SHOP_C's representative until 2020). This module gives
FIRM_A an address, a phone and an e-mail, and adds FIRM_F and FIRM_H at the same address, FIRM_G
with the same phone written otherwise, and WANG, a person with the same e-mail in capitals."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, SHOP_C, ZHANG, write_csv

FIRM_F = make_uscc("9", "1", "350203", "MA2Y0006")
FIRM_G = make_uscc("9", "1", "350203", "MA2Y0007")
FIRM_H = make_uscc("9", "1", "350203", "MA2Y0008")
WANG = make_resident_id("350203", date(1990, 8, 8), 21, "M")
ZHANG_ID, WANG_ID = (
    person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, n) for n in (ZHANG, WANG)
)
ADDRESS, PHONE, EMAIL = "厦门市思明区鹭江道1号", "0592-1234567", "info@ludao.cn"

LINKS = """
query ($id: String!, $former: Boolean!, $cap: Int!, $first: Int, $after: String) {
  suspectedLinks(id: $id, includeFormer: $former, perKeyCap: $cap, first: $first,
                 after: $after) {
    root { id } asOf totalCount truncated
    pageInfo { hasNextPage endCursor }
    items {
      kind party { id } officer { id name } rolesHere rolesThere sharedValue
    }
    crowded { kind officer { id } sharedValue parties }
  }
}
"""


def write_contacts(extra: Path) -> None:
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind", "address", "phone", "email"],
        [
            [FIRM_A, "厦门鹭岛科技有限公司", "enterprise", ADDRESS, PHONE, EMAIL],
            [FIRM_F, "厦门鹭江商贸有限公司", "enterprise", ADDRESS, "", ""],
            [FIRM_H, "厦门鹭江咨询有限公司", "enterprise", ADDRESS, "", ""],
            [FIRM_G, "厦门海峡物流有限公司", "enterprise", "", "0592 123 4567", ""],
        ],
    )
    write_csv(
        extra / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex", "email"],
        [["resident", WANG, "王强", "M", EMAIL.upper()]],
    )


api_env, cli = module_api("links", write_contacts)


def links(api_env: ApiEnv, role: ApiRole = ApiRole.INVESTIGATOR, **given: Any) -> dict[str, Any]:
    variables = {"id": FIRM_A, "former": False, "cap": 100, "first": None, "after": None}
    body = api_env.gql(LINKS, role=role, **(variables | given))
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["suspectedLinks"]
    return answer


def test_each_kind_of_link_with_its_evidence(api_env: ApiEnv) -> None:
    answer = links(api_env)
    assert answer["root"]["id"] == FIRM_A and answer["asOf"] == clock.today().isoformat()
    assert answer["totalCount"] == 5 and answer["truncated"] is False and not answer["crowded"]
    # in the kinds' order: officers, addresses, phones, e-mails
    assert answer["items"] == [
        {
            "kind": "SHARED_OFFICER",
            "party": {"id": FIRM_B},
            "officer": {"id": ZHANG_ID, "name": "张伟"},
            "rolesHere": ["legal_representative"],
            "rolesThere": ["director"],
            "sharedValue": None,
        },
        {
            "kind": "SHARED_ADDRESS",
            "party": {"id": FIRM_F},
            "officer": None,
            "rolesHere": [],
            "rolesThere": [],
            "sharedValue": ADDRESS,
        },
        {
            "kind": "SHARED_ADDRESS",
            "party": {"id": FIRM_H},
            "officer": None,
            "rolesHere": [],
            "rolesThere": [],
            "sharedValue": ADDRESS,
        },
        {
            "kind": "SHARED_PHONE",
            "party": {"id": FIRM_G},
            "officer": None,
            "rolesHere": [],
            "rolesThere": [],
            "sharedValue": PHONE,
        },
        {  # a person's e-mail is never shown, and FIRM_A's here is the same
            "kind": "SHARED_EMAIL",
            "party": {"id": WANG_ID},
            "officer": None,
            "rolesHere": [],
            "rolesThere": [],
            "sharedValue": None,
        },
    ]


def test_former_roles_link_only_when_asked(api_env: ApiEnv) -> None:
    officers = {
        item["party"]["id"]
        for item in links(api_env, former=True)["items"]
        if item["kind"] == "SHARED_OFFICER"
    }
    assert officers == {FIRM_B, SHOP_C}  # ZHANG represented SHOP_C until 2020


def test_a_person_asked_about_shows_no_contact(api_env: ApiEnv) -> None:
    answer = links(api_env, id=WANG_ID)
    assert [(i["kind"], i["party"]["id"], i["sharedValue"]) for i in answer["items"]] == [
        ("SHARED_EMAIL", FIRM_A, None)
    ]
    assert EMAIL not in json.dumps(answer).lower()


def test_evidence_many_share_is_counted_not_listed(api_env: ApiEnv) -> None:
    answer = links(api_env, cap=1)
    # two other firms share the address, more than one: counted, not listed
    assert answer["crowded"] == [
        {"kind": "SHARED_ADDRESS", "officer": None, "sharedValue": ADDRESS, "parties": 2}
    ]
    assert [i["kind"] for i in answer["items"]] == [
        "SHARED_OFFICER",
        "SHARED_PHONE",
        "SHARED_EMAIL",
    ]
    assert answer["totalCount"] == 3


def test_an_analyst_sees_the_officer_pseudonymised(api_env: ApiEnv) -> None:
    answer = links(api_env, role=ApiRole.ANALYST)
    officer = answer["items"][0]["officer"]
    assert officer == {"id": ZHANG_ID, "name": "张*"}
    assert "张伟" not in json.dumps(answer, ensure_ascii=False)


def test_the_links_are_those_of_credgraph_links(api_env: ApiEnv, cli: CliRunner) -> None:
    for party, former in ((FIRM_A, False), (FIRM_A, True), (WANG_ID, False), (FIRM_B, False)):
        answer = links(api_env, role=ApiRole.ADMIN, id=party, former=former)
        result = cli.invoke(
            app,
            [
                "links",
                party,
                *(["--include-former"] * former),
                "--json",
                "--purpose",
                "investigation",
            ],
        )
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert answer["totalCount"] == listed["total"]
        assert [(i["kind"].lower(), i["party"]["id"]) for i in answer["items"]] == [
            (item["kind"], item["party"]["id"]) for item in listed["items"]
        ]


def test_pages_and_one_event(api_env: ApiEnv) -> None:
    whole = [i["party"]["id"] for i in links(api_env)["items"]]
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    first = links(api_env, first=3)
    rest = links(api_env, first=3, after=first["pageInfo"]["endCursor"])
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert [i["party"]["id"] for i in first["items"] + rest["items"]] == whole
    events = [
        json.loads(line)
        for line in api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    ]
    assert [(e["operation"], e["result_size"], len(e["subjects"])) for e in events] == [
        ("suspectedLinks", 3, 4),
        ("suspectedLinks", 2, 3),
    ]
    assert FIRM_A not in json.dumps(events)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("perKeyCap: 0", "argument perKeyCap: must be between 1 and 1000"),
        ("first: 201", "argument first: must be between 1 and 200"),
        ('after: "bm90OjE="', "argument after: is not a cursor this query returned"),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    api_env: ApiEnv, arguments: str, message: str
) -> None:
    body = api_env.gql(f'{{ suspectedLinks(id: "{FIRM_A}", {arguments}) {{ totalCount }} }}')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == message


def test_links_that_name_a_person_need_a_purpose(api_env: ApiEnv) -> None:
    query = f'{{ suspectedLinks(id: "{FIRM_A}") {{ totalCount }} }}'
    body = api_env.gql(query, purpose=None)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PURPOSE_REQUIRED"]
    # FIRM_F's only link is to FIRM_A and FIRM_H, firms: no purpose needed
    firms = api_env.gql(f'{{ suspectedLinks(id: "{FIRM_F}") {{ totalCount }} }}', purpose=None)
    assert firms == {"data": {"suspectedLinks": {"totalCount": 2}}}
