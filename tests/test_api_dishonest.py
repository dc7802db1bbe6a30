"""`dishonestParties`: dishonest-party tracing through GraphQL, as `credgraph trace` traces,
with the role's masking. Real HTTP against the app on the embedded store.

The registry (tests/api_support.py) as seen from LI: LI is FIRM_A's supervisor and holds 40 %
of FIRM_B; FIRM_A has a public blacklisting (B-1) and a restricted penalty (R-1); FIRM_B public
penalties (O-1, O-2), a government-shared one (G-1) and an expired one (P-1); ZHANG, FIRM_A's
legal representative and FIRM_B's director, a public dishonest-debtor listing (D-1) and a
subject-only record (S-1). This module adds FIRM_E, where LI is a director, whose only record is
restricted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_uscc, person_token, record_pseudonym
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api, record_row, store_reads
from tests.conftest import TEST_PERSON_KEY
from tests.registries import (
    FIRM_A,
    FIRM_B,
    LI,
    RECORD_HEADER,
    ZHANG,
    write_csv,
)

FIRM_E = make_uscc("9", "1", "350203", "MA2Y0005")
ZHANG_ID, LI_ID = (
    person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, n) for n in (ZHANG, LI)
)

DISHONEST = """
query ($id: String!, $depth: Int!, $first: Int, $after: String, $asOf: Date) {
  dishonestParties(id: $id, depth: $depth, first: $first, after: $after, asOf: $asOf) {
    root { id } asOf profile totalCount partiesReached exploredDepth truncated
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      distance
      party { id name ... on NaturalPerson { idMasked } }
      path { length parties { id } hops { type fromId toId role } }
      records { id kind status disclosure caseNumber stateOn { counts } }
    } }
  }
}
"""


def write_firm_e(extra: Path) -> None:
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_E, "厦门隐秘贸易有限公司", "enterprise"]],
    )
    write_csv(
        extra / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "source_record"],
        [[LI, FIRM_E, "director", "2020-01-01", "e1"]],
    )
    hidden = record_row("E-1", FIRM_E, "restricted", "xm-credit")
    write_csv(extra / "records.csv", RECORD_HEADER, [hidden])


api_env, cli = module_api("dishonest", write_firm_e)


def trace(api_env: ApiEnv, role: ApiRole = ApiRole.INVESTIGATOR, **given: Any) -> dict[str, Any]:
    variables = {"id": LI, "depth": 2, "first": None, "after": None, "asOf": None} | given
    body = api_env.gql(DISHONEST, role=role, **variables)
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["dishonestParties"]
    return answer


def hits(answer: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    """Each hit's party id: its distance and its records' ids."""
    return {
        edge["node"]["party"]["id"]: (
            edge["node"]["distance"],
            [r["id"] for r in edge["node"]["records"]],
        )
        for edge in answer["edges"]
    }


def test_an_investigator_sees_every_hit_with_the_records_behind_it(api_env: ApiEnv) -> None:
    answer = trace(api_env)
    assert answer["root"]["id"] == LI_ID and answer["profile"] == "default"
    assert answer["asOf"] == clock.today().isoformat()
    assert answer["exploredDepth"] == 2 and answer["truncated"] is False
    # worked out from the registry: the expired P-1 does not count, and a subject-only record
    # is the admin's alone; records in the trace's order, counting first, then by kind and id
    assert hits(answer) == {
        FIRM_A: (1, ["XMCREDIT:R-1", "XMCREDIT:B-1"]),
        FIRM_B: (1, ["FZCREDIT:G-1", "FZCREDIT:O-1", "FZCREDIT:O-2"]),
        FIRM_E: (1, ["XMCREDIT:E-1"]),
        ZHANG_ID: (2, ["COURT:D-1"]),
    }
    assert answer["totalCount"] == 4
    for edge in answer["edges"]:
        node = edge["node"]
        assert all(r["stateOn"]["counts"] for r in node["records"])
        path = node["path"]
        assert path["length"] == node["distance"] == len(path["hops"])
        assert path["parties"][0]["id"] == LI_ID
        assert path["parties"][-1]["id"] == node["party"]["id"]
        for hop, (a, b) in zip(path["hops"], zip(path["parties"], path["parties"][1:])):
            assert {hop["fromId"], hop["toId"]} == {a["id"], b["id"]}
    zhang = next(e["node"] for e in answer["edges"] if e["node"]["party"]["id"] == ZHANG_ID)
    assert zhang["party"]["idMasked"] == "3502**********1252"
    assert zhang["records"][0]["caseNumber"] == "(2023)闽0203执1234号"
    assert ZHANG not in json.dumps(answer)


def test_an_analyst_is_not_told_of_records_it_may_not_see(api_env: ApiEnv) -> None:
    # an analyst follows the tokens it was given: it may not look a person up by number
    answer = trace(api_env, role=ApiRole.ANALYST, id=LI_ID)
    # FIRM_E's only counting record is restricted: no hit, not counted; FIRM_A keeps B-1
    pseudonym = record_pseudonym(TEST_PERSON_KEY.encode(), "COURT:D-1")
    assert hits(answer) == {
        FIRM_A: (1, ["XMCREDIT:B-1"]),
        FIRM_B: (1, ["FZCREDIT:G-1", "FZCREDIT:O-1", "FZCREDIT:O-2"]),
        ZHANG_ID: (2, [pseudonym]),
    }
    assert answer["totalCount"] == 3
    text = json.dumps(answer, ensure_ascii=False)
    for hidden in ("E-1", "R-1", FIRM_E, "(2023)闽0203执1234号", "COURT:D-1", "张伟"):
        assert hidden not in text


def test_the_hits_are_those_of_credgraph_trace(api_env: ApiEnv, cli: CliRunner) -> None:
    for depth, day in ((1, None), (2, None), (3, "2024-01-01")):
        answer = trace(api_env, role=ApiRole.ADMIN, depth=depth, asOf=day)
        options = ["--depth", str(depth), *(["--as-of", day] if day else []), "--json"]
        result = cli.invoke(app, ["trace", LI, *options, "--purpose", "investigation"])
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert answer["totalCount"] == listed["total"]
        assert hits(answer) == {
            item["party"]["id"]: (item["distance"], [r["uid"] for r in item["records"]])
            for item in listed["items"]
        }
        assert [e["node"]["party"]["id"] for e in answer["edges"]] == [
            item["party"]["id"] for item in listed["items"]
        ]


def test_pages_cover_every_hit_once_in_order(api_env: ApiEnv) -> None:
    whole = [e["node"]["party"]["id"] for e in trace(api_env)["edges"]]
    seen, after = [], None
    while True:
        page = trace(api_env, first=1, after=after)
        assert page["totalCount"] == len(whole)
        seen += [e["node"]["party"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == whole


def test_one_event_names_the_root_and_the_page(api_env: ApiEnv) -> None:
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    trace(api_env, id=FIRM_B, depth=1, first=2)
    [event] = [
        json.loads(line)
        for line in api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    ]
    assert event["operation"] == "dishonestParties" and event["outcome"] == "ok"
    assert event["result_size"] == 2 and len(event["subjects"]) == 3  # the root and its page
    assert event["purpose"] == "investigation"
    assert FIRM_B not in json.dumps(event)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("depth: 9", "argument depth: must be between 1 and 4"),
        ("depth: 0", "argument depth: must be between 1 and 4"),
        ("first: 0", "argument first: must be between 1 and 200"),
        ('after: "bm90OjE="', "argument after: is not a cursor this query returned"),
        ('profile: "lenient"', "argument profile: no such profile; known: default, strict"),
        (
            "relationTypes: []",
            "argument relationTypes: choose at least one relation type, or "
            "leave the argument out for every type",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    api_env: ApiEnv, arguments: str, message: str
) -> None:
    body = api_env.gql(f'{{ dishonestParties(id: "{FIRM_A}", {arguments}) {{ totalCount }} }}')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == message


def test_an_unknown_party_is_null_and_registered_not_found(api_env: ApiEnv) -> None:
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    body = api_env.gql('{ dishonestParties(id: "91350200MA0000015A") { totalCount } }')
    assert body == {"data": {"dishonestParties": None}}
    lines = api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    assert [json.loads(line)["outcome"] for line in lines] == ["not_found"]


def test_a_trace_that_reaches_a_person_needs_a_purpose(api_env: ApiEnv) -> None:
    # FIRM_B's own neighbourhood holds ZHANG and LI: the answer names them, on any page
    query = f'{{ dishonestParties(id: "{FIRM_B}", depth: 1, first: 1) {{ totalCount }} }}'
    body = api_env.gql(query, purpose=None)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PURPOSE_REQUIRED"]
    assert body["data"]["dishonestParties"] is None
    assert api_env.gql(query)["data"]["dishonestParties"]["totalCount"] == 2


def test_the_trace_follows_the_relations_and_the_day_asked_for(api_env: ApiEnv) -> None:
    query = """query ($types: [RelationType!], $asOf: Date, $former: Boolean!) {
      dishonestParties(id: $id, depth: 2, relationTypes: $types, asOf: $asOf,
                       includeFormer: $former) {
        totalCount items { party { id } path { hops { type } } } } }"""
    query = query.replace("query (", "query ($id: String!, ")

    def found(**given: Any) -> dict[str, list[str]]:
        variables = {"id": LI, "types": None, "asOf": None, "former": False} | given
        body = api_env.gql(query, **variables)
        assert "errors" not in body, body
        return {
            item["party"]["id"]: [hop["type"] for hop in item["path"]["hops"]]
            for item in body["data"]["dishonestParties"]["items"]
        }

    # over holdings alone LI reaches FIRM_B (hers) and FIRM_A (its 60 % holder)
    assert found(types=["SHAREHOLDER_OF"]) == {
        FIRM_B: ["SHAREHOLDER_OF"],
        FIRM_A: ["SHAREHOLDER_OF", "SHAREHOLDER_OF"],
    }
    # in mid-2015 FIRM_B's and FIRM_A's records had not begun (2019 and later) nor her roles
    # (2016, 2020); ZHANG's listing (2023) neither: no one to find
    assert found(asOf="2015-06-30") == {}
    # on 2024-06-30 FIRM_A's blacklisting (from 2024-03-01) and ZHANG's listing count
    assert set(found(asOf="2024-06-30")) == {FIRM_A, ZHANG_ID}


def test_the_parties_are_read_once_as_the_role_sees_them(api_env: ApiEnv) -> None:
    # the trace names no party of its own for the API: a second call finds every card kept
    trace(api_env)
    before = store_reads(api_env, "lookup.parties")
    assert hits(trace(api_env))[ZHANG_ID] == (2, ["COURT:D-1"])
    assert store_reads(api_env, "lookup.parties") == before
