"""The API's `paths` says how far its search explored and whether a cap cut it short, as
`credgraph paths --json` does: "no path within maxDepth" and "a cap stopped the search" are two
answers. Asked of one database with a cap of 10 relations a level (CREDGRAPH_TRAVERSAL_CAP, its
smallest), the API through real HTTP, the CLI through its verb."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.settings import Settings
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env_with
from tests.investigations import MiniRegistry, cli_runner

CAP = 10

# A supplies the hub H, which supplies C and CAP + 2 leaves; C supplies B. X - Y - Z is a
# chain with no hub on it.
REGISTRY = MiniRegistry()
for _name in ("A", "H", "C", "B", "X", "Y", "Z", *(f"L{i}" for i in range(CAP + 2))):
    REGISTRY.firm(_name)
REGISTRY.relate("A", "H", "supplies")
REGISTRY.relate("H", "C", "supplies")
REGISTRY.relate("C", "B", "supplies")
for _i in range(CAP + 2):
    REGISTRY.relate("H", f"L{_i}", "supplies")
REGISTRY.relate("X", "Y", "supplies")
REGISTRY.relate("Y", "Z", "supplies")
ID = REGISTRY.ids

PATHS = """query ($a: String!, $b: String!, $depth: Int!, $first: Int) {
  paths(from: $a, to: $b, maxDepth: $depth, first: $first) {
    from { id } to { id } exploredDepth truncated
    paths { length parties { id } hops { type } }
  }
}"""


def _write(folder: Path) -> None:
    REGISTRY.write(folder)


@pytest.fixture(scope="module")
def api_env(
    embedded: EmbeddedStore,
    driver: Any,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("paths-cap")
    yield from start_api_env_with(embedded, driver, settings, tmp, _write, traversal_cap=CAP)


@pytest.fixture
def cli(api_env: ApiEnv, embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    runner = cli_runner(monkeypatch, embedded, api_env.store)
    monkeypatch.setenv("CREDGRAPH_TRAVERSAL_CAP", str(CAP))
    return runner


def api_paths(api_env: ApiEnv, a: str, b: str, depth: int, first: int) -> dict[str, Any]:
    body = api_env.gql(PATHS, a=ID[a], b=ID[b], depth=depth, first=first)
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["paths"]
    return answer


def cli_paths(cli: CliRunner, a: str, b: str, depth: int, k: int) -> dict[str, Any]:
    result = cli.invoke(
        app,
        [
            "paths",
            ID[a],
            ID[b],
            "--max-depth",
            str(depth),
            "--k",
            str(k),
            "--json",
            "--purpose",
            "investigation",
        ],
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def agree(answer: dict[str, Any], document: dict[str, Any]) -> None:
    """The API and the CLI report the same search: its depth, its cut and its paths."""
    assert answer["exploredDepth"] == document["explored_depth"]
    assert answer["truncated"] is document["truncated"]
    assert answer["from"]["id"] == document["from"]["id"]
    assert answer["to"]["id"] == document["to"]["id"]
    assert [[p["id"] for p in path["parties"]] for path in answer["paths"]] == [
        [p["id"] for p in path["parties"]] for path in document["paths"]
    ]


def test_a_cap_that_cuts_the_search_says_truncated(api_env: ApiEnv, cli: CliRunner) -> None:
    # A's level reads A-H; H's level holds CAP + 2 leaves and C: the cap cuts it, and the
    # search stops there, before B's side is read. No path is shown, and none is ruled out.
    answer = api_paths(api_env, "A", "B", depth=4, first=3)
    assert answer["paths"] == []
    assert answer["truncated"] is True
    assert answer["exploredDepth"] == 2
    assert answer["from"]["id"] == ID["A"] and answer["to"]["id"] == ID["B"]
    agree(answer, cli_paths(cli, "A", "B", depth=4, k=3))


def test_a_complete_search_says_how_far_it_explored(api_env: ApiEnv, cli: CliRunner) -> None:
    # no path of one hop from X to Z: the search read one level and is not cut
    none = api_paths(api_env, "X", "Z", depth=1, first=1)
    assert none["paths"] == [] and none["truncated"] is False and none["exploredDepth"] == 1
    agree(none, cli_paths(cli, "X", "Z", depth=1, k=1))
    # within three hops, the one path X - Y - Z, found after two levels read
    found = api_paths(api_env, "X", "Z", depth=3, first=1)
    assert [[p["id"] for p in path["parties"]] for path in found["paths"]] == [
        [ID["X"], ID["Y"], ID["Z"]]
    ]
    assert found["paths"][0]["length"] == 2
    assert found["truncated"] is False and found["exploredDepth"] == 2
    agree(found, cli_paths(cli, "X", "Z", depth=3, k=1))


def test_a_party_that_names_no_party_answers_null(api_env: ApiEnv) -> None:
    unknown = "91350200MA0000015A"  # a valid USCC no party holds
    body = api_env.gql(PATHS, a=ID["X"], b=unknown, depth=2, first=1)
    assert "errors" not in body and body["data"]["paths"] is None, body
