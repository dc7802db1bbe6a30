"""`controlGroup` and `guaranteeCircle` through GraphQL, as `credgraph groups` and `credgraph
circles` answer. Real HTTP against the app on the embedded store.

The registry (tests/api_support.py): FIRM_A holds 60 % of FIRM_B and LI 40 %; ZHANG is FIRM_A's
legal representative (and represented SHOP_C until 2020); FIRM_A guarantees FIRM_B since 2019.
This module adds guarantees that close two cycles through FIRM_A: FIRM_B guarantees FIRM_A
since 2020, and FIRM_A guarantees FIRM_K, which guarantees FIRM_B, since 2021."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_uscc, person_token
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, ZHANG, write_csv

FIRM_K = make_uscc("9", "1", "350203", "MA2Y0009")
ZHANG_ID, LI_ID = (
    person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, n) for n in (ZHANG, LI)
)

GROUP = """
query ($id: String!, $types: [RelationType!], $stake: Float!, $asOf: Date) {
  controlGroup(id: $id, relationTypes: $types, minStake: $stake, asOf: $asOf) {
    root { id } asOf relationTypes minStake exploredDepth truncated
    members { distance party { id name } }
    relations { type fromId toId stake role }
  }
}
"""

CIRCLE = """
query ($id: String!, $asOf: Date, $first: Int!) {
  guaranteeCircle(id: $id, asOf: $asOf, first: $first) {
    root { id } asOf members { id } cycles { parties { id } } limited truncated
  }
}
"""


def write_guarantees(extra: Path) -> None:
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_K, "厦门鹭岛担保有限公司", "enterprise"]],
    )
    write_csv(
        extra / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "valid_from", "source_record"],
        [
            [FIRM_B, FIRM_A, "guarantees", "1000000", "2020-01-01", "g2"],
            [FIRM_A, FIRM_K, "guarantees", "2000000", "2021-01-01", "g3"],
            [FIRM_K, FIRM_B, "guarantees", "3000000", "2021-01-01", "g4"],
        ],
    )


api_env, cli = module_api("groups", write_guarantees)


def ask(
    api_env: ApiEnv, query: str, role: ApiRole = ApiRole.INVESTIGATOR, **variables: Any
) -> dict[str, Any]:
    body = api_env.gql(query, role=role, **variables)
    assert "errors" not in body, body
    answer: dict[str, Any] = next(iter(body["data"].values()))
    return answer


def group(api_env: ApiEnv, **given: Any) -> dict[str, Any]:
    return ask(
        api_env, GROUP, **({"id": FIRM_A, "types": None, "stake": 0.5, "asOf": None} | given)
    )


def test_the_control_group_counts_holdings_from_half(api_env: ApiEnv) -> None:
    answer = group(api_env)
    assert answer["relationTypes"] == [
        "SHAREHOLDER_OF",
        "LEGAL_REPRESENTATIVE_OF",
        "ACTUAL_CONTROLLER_OF",
    ]
    assert answer["minStake"] == 0.5 and answer["truncated"] is False
    # FIRM_A's 60 % of FIRM_B counts, LI's 40 % does not
    assert {(m["party"]["id"], m["distance"]) for m in answer["members"]} == {
        (FIRM_A, 0),
        (FIRM_B, 1),
        (ZHANG_ID, 1),
    }
    assert answer["members"][0]["party"]["id"] == FIRM_A
    assert sorted((r["type"], r["fromId"], r["toId"]) for r in answer["relations"]) == [
        ("LEGAL_REPRESENTATIVE_OF", ZHANG_ID, FIRM_A),
        ("SHAREHOLDER_OF", FIRM_A, FIRM_B),
    ]
    wider = group(api_env, stake=0.3)
    assert (LI_ID, 2) in {(m["party"]["id"], m["distance"]) for m in wider["members"]}
    guarantees = group(api_env, types=["GUARANTEES"], asOf="2020-06-30")
    assert {m["party"]["id"] for m in guarantees["members"]} == {FIRM_A, FIRM_B}


def test_the_circle_and_its_cycles_through_the_party(api_env: ApiEnv) -> None:
    answer = ask(api_env, CIRCLE, id=FIRM_A, asOf=None, first=50)
    assert sorted(m["id"] for m in answer["members"]) == sorted([FIRM_A, FIRM_B, FIRM_K])
    # each cycle from FIRM_A in guarantee order, shortest first
    assert [[p["id"] for p in c["parties"]] for c in answer["cycles"]] == [
        [FIRM_A, FIRM_B],
        [FIRM_A, FIRM_K, FIRM_B],
    ]
    assert answer["limited"] is False and answer["truncated"] is False
    one = ask(api_env, CIRCLE, id=FIRM_A, asOf=None, first=1)
    assert [[p["id"] for p in c["parties"]] for c in one["cycles"]] == [[FIRM_A, FIRM_B]]
    assert one["limited"] is True and one["truncated"] is True
    # in 2019 only FIRM_A's guarantee of FIRM_B stood: no circle
    before = ask(api_env, CIRCLE, id=FIRM_A, asOf="2019-06-30", first=50)
    assert before["members"] == [] and before["cycles"] == []


def test_the_answers_are_those_of_the_cli(api_env: ApiEnv, cli: CliRunner) -> None:
    for stake in (0.5, 0.3):
        answer = group(api_env, stake=stake)
        result = cli.invoke(
            app,
            ["groups", FIRM_A, "--min-stake", str(stake), "--json", "--purpose", "investigation"],
        )
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert [(m["party"]["id"], m["distance"]) for m in answer["members"]] == [
            (m["id"], m["distance"]) for m in listed["members"]
        ]
        assert len(answer["relations"]) == len(listed["relations"])
    circle = ask(api_env, CIRCLE, id=FIRM_B, asOf=None, first=50)
    result = cli.invoke(app, ["circles", FIRM_B, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [m["id"] for m in circle["members"]] == [m["id"] for m in listed["members"]]
    assert [[p["id"] for p in c["parties"]] for c in circle["cycles"]] == [
        [p["id"] for p in cycle] for cycle in listed["cycles"]
    ]


def test_an_analyst_sees_the_group_pseudonymised(api_env: ApiEnv) -> None:
    answer = ask(api_env, GROUP, role=ApiRole.ANALYST, id=FIRM_A, types=None, stake=0.5, asOf=None)
    names = {m["party"]["id"]: m["party"]["name"] for m in answer["members"]}
    assert names[ZHANG_ID] == "张*"
    assert "张伟" not in json.dumps(answer, ensure_ascii=False)


def test_each_call_registers_one_event(api_env: ApiEnv) -> None:
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    group(api_env)
    ask(api_env, CIRCLE, id=FIRM_A, asOf=None, first=50)
    events = [
        json.loads(line)
        for line in api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    ]
    assert [(e["operation"], e["result_size"], len(e["subjects"])) for e in events] == [
        ("controlGroup", 3, 3),
        ("guaranteeCircle", 3, 3),  # the root is a member: counted once
    ]
    assert all(e["purpose"] == "investigation" for e in events)
    assert FIRM_A not in json.dumps(events)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            f'{{ controlGroup(id: "{FIRM_A}", minStake: 2) {{ minStake }} }}',
            "argument minStake: must be between 0 and 1 (a share of the capital)",
        ),
        (
            f'{{ controlGroup(id: "{FIRM_A}", relationTypes: []) {{ minStake }} }}',
            "argument relationTypes: choose at least one relation type, or leave the argument "
            "out for every type",
        ),
        (
            f'{{ guaranteeCircle(id: "{FIRM_A}", first: 0) {{ limited }} }}',
            "argument first: must be between 1 and 200",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_them(api_env: ApiEnv, query: str, message: str) -> None:
    body = api_env.gql(query)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == message


def test_an_unknown_party_is_null_and_registered_not_found(api_env: ApiEnv) -> None:
    before = len(api_env.audit_path.read_text(encoding="utf-8").splitlines())
    body = api_env.gql(
        '{ g: controlGroup(id: "91350200MA0000015A") { minStake } '
        'c: guaranteeCircle(id: "91350200MA0000015A") { limited } }'
    )
    assert body == {"data": {"g": None, "c": None}}
    lines = api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    assert sorted(json.loads(line)["outcome"] for line in lines) == ["not_found", "not_found"]
