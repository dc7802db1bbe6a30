"""`linkedParties` and `paths` take the relation filters the CLI's `linked` and `paths` take
(types, as-of date, former relations, minimum stake, POSSIBLY_SAME_AS), and both sides answer
them alike, asked of one database: the API through real HTTP, the CLI through its verbs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from credgraph.api.schema import schema
from credgraph.graph.identifiers import person_token
from credgraph.graph.vocabulary import PersonIdType
from graphql import build_schema
from typer.main import get_command
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, ZHANG, ftm_entity

# a company a sanctions list names without any identifier, under FIRM_B's name: the loader
# links the two POSSIBLY_SAME_AS, and only a walk asked to follow such links crosses it
NAMESAKE = "FTM:cn-namesake"

# the persons' ids as the graph holds them: tokens, never the numbers
ZHANG_ID, LI_ID = (
    person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, n) for n in (ZHANG, LI)
)

# each CLI option of `linked` and `paths` that filters relations, and the GraphQL argument of
# `linkedParties` and `paths` that does the same
FILTERS = {
    "--types": "relationTypes",
    "--as-of": "asOf",
    "--former": "includeFormer",
    "--min-stake": "minStake",
    "--same-as": "followSameAs",
}

LINKED = """
query ($id: String!, $types: [RelationType!], $asOf: Date, $former: Boolean!, $stake: Float!,
       $sameAs: Boolean!) {
  linkedParties(id: $id, depth: 3, relationTypes: $types, asOf: $asOf, includeFormer: $former,
                minStake: $stake, followSameAs: $sameAs, first: 200) {
    totalCount
    items { depth party { id } via { type fromId toId current } }
  }
}
"""

PATHS = """
query ($a: String!, $b: String!, $types: [RelationType!], $asOf: Date, $former: Boolean!,
       $stake: Float!, $sameAs: Boolean!) {
  paths(from: $a, to: $b, maxDepth: 4, first: 20, relationTypes: $types, asOf: $asOf,
        includeFormer: $former, minStake: $stake, followSameAs: $sameAs) {
    paths { length parties { id } hops { type current } }
  }
}
"""

# (CLI options, GraphQL variables): every filter alone, then two together
CASES: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["--types", "SHAREHOLDER_OF"], {"types": ["SHAREHOLDER_OF"]}),
    (["--min-stake", "0.5"], {"stake": 0.5}),
    (["--as-of", "2014-06-30"], {"asOf": "2014-06-30"}),
    (["--former"], {"former": True}),
    (["--same-as"], {"sameAs": True}),
    (["--same-as", "--types", "SHAREHOLDER_OF"], {"sameAs": True, "types": ["SHAREHOLDER_OF"]}),
]


def write_namesake(extra: Path) -> None:
    company = ftm_entity(NAMESAKE[4:], "Company", name="福州闽江贸易有限公司")
    (extra / "entities.ftm.json").write_text(json.dumps(company) + "\n", encoding="utf-8")


api_env, cli = module_api("filters", write_namesake)


def variables(given: dict[str, Any]) -> dict[str, Any]:
    return {"types": None, "asOf": None, "former": False, "stake": 0.0, "sameAs": False} | given


def cli_json(cli: CliRunner, *arguments: str) -> dict[str, Any]:
    # with a purpose, as the API is asked with one: the walks and paths reach persons
    result = cli.invoke(app, [*arguments, "--json", "--purpose", "investigation"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_every_filter_of_the_cli_is_an_argument_of_the_api() -> None:
    command = get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    query = build_schema(schema.as_str()).query_type
    assert query is not None
    arguments = {name: set(field.args) for name, field in query.fields.items()}
    for verb, field in (("linked", "linkedParties"), ("paths", "paths")):
        options = {o for p in command.commands[verb].params for o in getattr(p, "opts", [])}
        assert set(FILTERS) <= options, verb
        assert set(FILTERS.values()) <= arguments[field], field


@pytest.mark.parametrize(("options", "given"), CASES)
def test_linked_parties_filter_as_the_cli_does(
    api_env: ApiEnv, cli: CliRunner, options: list[str], given: dict[str, Any]
) -> None:
    body = api_env.gql(LINKED, id=FIRM_B, **variables(given))
    assert "errors" not in body, body
    answer = body["data"]["linkedParties"]
    listed = cli_json(cli, "linked", FIRM_B, "--depth", "3", "--first", "200", *options)
    assert answer["totalCount"] == listed["total"]
    assert {(i["party"]["id"], i["depth"], i["via"]["type"]) for i in answer["items"]} == {
        (i["party"]["id"], i["depth"], i["via"]["type"]) for i in listed["items"]
    }


def test_each_filter_changes_the_answer_as_documented(api_env: ApiEnv) -> None:
    def reached(**given: Any) -> dict[str, set[str]]:
        body = api_env.gql(LINKED, id=FIRM_B, **variables(given))
        assert "errors" not in body, body
        found: dict[str, set[str]] = {}
        for item in body["data"]["linkedParties"]["items"]:
            found.setdefault(item["party"]["id"], set()).add(item["via"]["type"])
        return found

    everything = reached()
    assert NAMESAKE not in everything  # a name match is never followed unless asked
    assert set(everything) >= {FIRM_A, ZHANG_ID, LI_ID}
    # FIRM_A holds 60 % of FIRM_B, LI 40 %: a minimum of a half keeps FIRM_A's holding only
    holders = ["SHAREHOLDER_OF"]
    assert set(reached(types=holders)) == {FIRM_A, LI_ID}
    assert set(reached(types=holders, stake=0.5)) == {FIRM_A}
    # ZHANG became FIRM_B's director in 2015: an executive link it did not have in 2014
    assert ZHANG_ID not in reached(types=["EXECUTIVE_OF"], asOf="2014-06-30")
    assert ZHANG_ID in reached(types=["EXECUTIVE_OF"])
    same = reached(sameAs=True)
    assert same[NAMESAKE] == {"POSSIBLY_SAME_AS"}


@pytest.mark.parametrize(("options", "given"), CASES)
def test_paths_filter_as_the_cli_does(
    api_env: ApiEnv, cli: CliRunner, options: list[str], given: dict[str, Any]
) -> None:
    body = api_env.gql(PATHS, a=FIRM_A, b=NAMESAKE, **variables(given))
    assert "errors" not in body, body
    found = [[p["id"] for p in path["parties"]] for path in body["data"]["paths"]["paths"]]
    listed = cli_json(cli, "paths", FIRM_A, NAMESAKE, "--max-depth", "4", "--k", "20", *options)
    assert found == [[p["id"] for p in path["parties"]] for path in listed["paths"]]
    # the namesake is reached over its name match alone
    assert bool(found) == bool(given.get("sameAs")), found
    for path in body["data"]["paths"]["paths"]:
        assert path["hops"][-1]["type"] == "POSSIBLY_SAME_AS"


def test_a_path_as_of_a_date_uses_the_relations_of_that_date(api_env: ApiEnv) -> None:
    def shortest(**given: Any) -> list[list[str]]:
        body = api_env.gql(PATHS, a=ZHANG, b=LI, **variables(given))
        assert "errors" not in body, body
        return [[hop["type"] for hop in path["hops"]] for path in body["data"]["paths"]["paths"]]

    # today ZHANG and LI meet at FIRM_A (representative and supervisor) and at FIRM_B
    # (director and holder of 40 %)
    assert sorted(len(p) for p in shortest())[:2] == [2, 2]
    # in 2014 LI was no supervisor yet (from 2016) nor ZHANG a director (from 2015): they meet
    # only through FIRM_A's and LI's undated holdings in FIRM_B
    then = shortest(asOf="2014-06-30")
    assert then == [["LEGAL_REPRESENTATIVE_OF", "SHAREHOLDER_OF", "SHAREHOLDER_OF"]]


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("linkedParties", '{{ linkedParties(id: "{a}", {arg}) {{ totalCount }} }}'),
        ("paths", '{{ paths(from: "{a}", to: "{b}", {arg}) {{ truncated }} }}'),
    ],
)
def test_filters_out_of_range_are_refused_naming_the_argument(
    api_env: ApiEnv, field: str, query: str
) -> None:
    refusals = {
        "minStake: 1.5": "argument minStake: must be between 0 and 1 (a share of the capital)",
        "minStake: -0.1": "argument minStake: must be between 0 and 1 (a share of the capital)",
        "relationTypes: [POSSIBLY_SAME_AS]": "argument relationTypes: POSSIBLY_SAME_AS is a name "
        "match, not a relation; ask for it with followSameAs",
        "relationTypes: [SUBJECT_OF]": "argument relationTypes: SUBJECT_OF does not link two "
        "parties",
    }
    for argument, message in refusals.items():
        body = api_env.gql(query.format(a=FIRM_A, b=FIRM_B, arg=argument))
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["message"] == message, (field, body)
