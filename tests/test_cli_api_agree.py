"""The command line and the GraphQL API answer the same question the same way: both asked of
one database, the API through real HTTP, the CLI through its verbs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.settings import Settings
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env
from tests.investigations import cli_runner
from tests.registries import FIRM_A, FIRM_B, ZHANG

UNKNOWN = "91350200MA0000015A"  # a valid USCC no party holds
LINKED = """query ($id: String!, $types: [RelationType!]) {
    linkedParties(id: $id, relationTypes: $types) { totalCount } }"""
PATHS = """query ($a: String!, $b: String!) { paths(from: $a, to: $b) { paths { length } } }"""


@pytest.fixture(scope="module")
def api_env(
    embedded: EmbeddedStore,
    driver: Any,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("agree"))


@pytest.fixture
def cli(api_env: ApiEnv, embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return cli_runner(monkeypatch, embedded, api_env.store)


def new_events(api_env: ApiEnv, before: int) -> list[dict[str, Any]]:
    lines = api_env.audit_path.read_text(encoding="utf-8").splitlines()[before:]
    return [json.loads(line) for line in lines]


def event_count(api_env: ApiEnv) -> int:
    if not api_env.audit_path.exists():
        return 0
    return len(api_env.audit_path.read_text(encoding="utf-8").splitlines())


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    """The code and message of the one error of an answer."""
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


def test_an_empty_relation_type_list_is_refused_on_both_sides(
    api_env: ApiEnv, cli: CliRunner
) -> None:
    # left out, every type: the API and the CLI agree on that too
    everything = api_env.gql(LINKED, id=FIRM_A, types=None)["data"]["linkedParties"]
    # the walk reaches the firm's legal representative: a purpose, as the API's header
    listed = cli.invoke(app, ["linked", FIRM_A, "--json", "--purpose", "investigation"])
    assert listed.exit_code == 0, listed.output
    assert everything["totalCount"] == json.loads(listed.stdout)["total"] > 0

    before = event_count(api_env)
    body = api_env.gql(LINKED, id=FIRM_A, types=[])
    code, message = refusal(body)
    assert code == "BAD_USER_INPUT" and message.startswith("argument relationTypes:"), body
    assert body["data"]["linkedParties"] is None
    assert [e["outcome"] for e in new_events(api_env, before)] == ["refused:bad_user_input"]
    literal = api_env.gql(
        f'{{ linkedParties(id: "{FIRM_A}", relationTypes: []) {{ totalCount }} }}'
    )
    assert refusal(literal)[0] == "BAD_USER_INPUT"

    refused = cli.invoke(app, ["linked", FIRM_A, "--types", ""])
    assert refused.exit_code == 2
    assert refused.output.startswith("--types: choose at least one relation type")


def test_an_empty_records_filter_is_refused_not_widened(api_env: ApiEnv) -> None:
    for argument in ("kinds", "disclosure"):
        before = event_count(api_env)
        body = api_env.gql(f'{{ entity(id: "{FIRM_A}") {{ records({argument}: []) {{ id }} }} }}')
        code, message = refusal(body)
        assert code == "BAD_USER_INPUT" and message.startswith(f"argument {argument}:"), body
        outcomes = sorted(e["outcome"] for e in new_events(api_env, before))
        assert outcomes == ["ok", "refused:bad_user_input"]  # the entity, then its records
    some = api_env.gql(f'{{ entity(id: "{FIRM_A}") {{ records(kinds: ["blacklist"]) {{ id }} }} }}')
    assert "errors" not in some, some


def test_paths_from_a_party_to_itself_are_refused_on_both_sides(
    api_env: ApiEnv, cli: CliRunner
) -> None:
    org_code = f"{FIRM_A[8:16]}-{FIRM_A[16]}"  # another identifier of the same firm
    for other in (FIRM_A, org_code):
        before = event_count(api_env)
        body = api_env.gql(PATHS, a=FIRM_A, b=other)
        code, message = refusal(body)
        assert code == "BAD_USER_INPUT" and message.startswith("argument to:"), body
        assert "same party" in message and body["data"] == {"paths": None}
        [event] = new_events(api_env, before)
        assert event["outcome"] == "refused:bad_user_input" and len(event["subjects"]) == 1

        refused = cli.invoke(app, ["paths", FIRM_A, other])
        assert refused.exit_code == 2
        assert refused.output.startswith("B: is the same party"), refused.output

    # a person asked twice without a purpose: the purpose is asked for first, as for any lookup
    # of a person, so the refusal tells nothing of the number to a caller without one
    before = event_count(api_env)
    body = api_env.gql(PATHS, a=ZHANG, b=ZHANG, purpose=None)
    assert refusal(body)[0] == "PURPOSE_REQUIRED"
    assert [e["outcome"] for e in new_events(api_env, before)] == ["refused:purpose_required"]
    assert refusal(api_env.gql(PATHS, a=ZHANG, b=ZHANG))[0] == "BAD_USER_INPUT"
    # and so does the command line: exit 4 and its event, then with a purpose exit 2 naming B
    asked = cli.invoke(app, ["paths", ZHANG, ZHANG])
    assert asked.exit_code == 4 and "--purpose" in asked.stderr, asked.output
    assert asked.stdout == "" and "same party" not in asked.output
    refused = cli.invoke(app, ["paths", ZHANG, ZHANG, "--purpose", "investigation"])
    assert refused.exit_code == 2 and refused.output.startswith("B: is the same party")
    # two different parties still answer
    assert api_env.gql(PATHS, a=FIRM_A, b=FIRM_B)["data"]["paths"]["paths"]


def test_an_unknown_party_is_registered_as_not_found_as_the_cli_exits_1(
    api_env: ApiEnv, cli: CliRunner
) -> None:
    before = event_count(api_env)
    assert api_env.gql(PATHS, a=FIRM_A, b=UNKNOWN)["data"]["paths"] is None
    assert api_env.gql(LINKED, id=UNKNOWN, types=None)["data"]["linkedParties"] is None
    events = new_events(api_env, before)
    assert sorted(e["operation"] for e in events) == ["linkedParties", "paths"]
    assert {e["outcome"] for e in events} == {"not_found"}

    for verb, argument in ((["paths", FIRM_A, UNKNOWN], "B"), (["linked", UNKNOWN], "ID")):
        answer = cli.invoke(app, verb)
        assert answer.exit_code == 1, answer.output
        # the argument named, and nothing on stdout for a pipe to take as an answer
        assert f"{argument}: no party with this identifier" in answer.stderr, answer.stderr
        assert answer.stdout == ""
