"""The cap on a risk report's neighbourhood (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`, queries/risk.py
and queries/snapshot.py): a professional officer on more boards than the cap allows cuts the
contagion layer of the parties next to him, never the other parties' answers, and a screen
says REVIEW for a cut one (docs/risk-model.md, docs/security.md).

The registry: person P on 40 boards (B0 .. B39, legal representative of each); firm O
elsewhere guarantees G, which guarantees X, and X is blacklisted. Under a cap of 30 relations
B0's walk passes the cap when it reads P's 40 boards; O's reads 4 relations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.risk import Outcome, risk_report, risk_reports, screen_decision

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env_with
from tests.investigations import MiniRegistry, cli_runner, explain

DEFAULT = BUILTIN_PROFILES["default"]
AS_OF = date(2024, 6, 1)
CAP = 30
BOARDS = 40


def _officer_registry() -> MiniRegistry:
    reg = MiniRegistry()
    reg.person("P")
    for board in range(BOARDS):
        reg.firm(f"B{board}")
        reg.role("P", f"B{board}")
    for name in ("O", "G", "X"):
        reg.firm(name)
    reg.relate("O", "G")
    reg.relate("G", "X")
    reg.record("BX-1", "X")
    return reg


REG = _officer_registry()
NEXT_TO_HUB, ORDINARY, HUB = REG.key("B0"), REG.key("O"), REG.key("P")


@pytest.fixture
def officer(graph: GraphStore, tmp_path: Path) -> GraphStore:
    REG.load(graph, tmp_path)
    return graph


def test_a_party_next_to_a_hub_is_cut_and_the_others_answered_in_full(
    officer: GraphStore,
) -> None:
    both = risk_reports(officer, [NEXT_TO_HUB, ORDINARY], as_of=AS_OF, profile=DEFAULT, cap=CAP)
    cut = both[NEXT_TO_HUB].contagion
    assert (cut.available, cut.truncated, cut.explored_depth, cut.cap) == (False, True, 1, CAP)
    assert (cut.score, cut.paths, cut.clears_on) == (0.0, [], None)
    ordinary = both[ORDINARY]
    assert ordinary == risk_report(officer, ORDINARY, as_of=AS_OF, profile=DEFAULT)
    assert ordinary.contagion.available and not ordinary.contagion.truncated
    assert ordinary.contagion.score > 0 and ordinary.contagion.explored_depth == DEFAULT.max_depth
    # the status layer is answered in full all the same: it is the uncapped report's
    whole = risk_report(officer, NEXT_TO_HUB, as_of=AS_OF, profile=DEFAULT)
    assert whole.contagion.available and not whole.contagion.truncated
    assert both[NEXT_TO_HUB].status == whole.status and both[NEXT_TO_HUB].found
    decision = screen_decision(both[NEXT_TO_HUB], DEFAULT)
    assert decision.outcome is Outcome.REVIEW
    [reason] = decision.linked_reasons
    assert reason.code == "CONTAGION_UNAVAILABLE"
    assert f"CREDGRAPH_RISK_NEIGHBOURHOOD_CAP ({CAP} relations)" in reason.detail


def test_a_hub_whose_own_relations_pass_the_cap_is_read_whole_and_cut(
    officer: GraphStore,
) -> None:
    capped = risk_report(officer, HUB, as_of=AS_OF, profile=DEFAULT, cap=CAP)
    assert capped.contagion.truncated and capped.contagion.explored_depth == 1
    whole = risk_report(officer, HUB, as_of=AS_OF, profile=DEFAULT)
    assert capped.status == whole.status  # level 0, every one of its 40 roles, read whole
    # a cap the neighbourhood stays within changes nothing
    assert risk_report(officer, HUB, as_of=AS_OF, profile=DEFAULT, cap=BOARDS * 2) == whole


@pytest.fixture(scope="module")
def capped_api(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("risk-cap")
    # row ids of their own: the API's registry, loaded first, has roles r0, r1, ... too
    own = dataclasses.replace(
        REG,
        roles=[[*row[:-1], f"cap-{row[-1]}"] for row in REG.roles],
        firm_relations=[[*row[:-1], f"cap-{row[-1]}"] for row in REG.firm_relations],
    )
    yield from start_api_env_with(
        embedded, driver, settings, tmp, own.write, risk_neighbourhood_cap=CAP
    )


SCREEN = """query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) {
    index decision found linkedReasons { code detail } } }"""


def test_screen_gives_review_for_the_cut_party_and_decides_the_others(
    capped_api: ApiEnv,
) -> None:
    ids = [NEXT_TO_HUB.uid, ORDINARY.uid]
    answer = capped_api.gql(SCREEN, role=ApiRole.APPROVAL, purpose=None, ids=ids)
    assert "errors" not in answer, answer
    cut, ordinary = answer["data"]["screen"]
    assert cut["decision"] == "REVIEW"
    [reason] = cut["linkedReasons"]
    assert reason["code"] == "CONTAGION_UNAVAILABLE"
    assert f"CREDGRAPH_RISK_NEIGHBOURHOOD_CAP ({CAP} relations)" in reason["detail"]
    alone = risk_report(
        capped_api.store, ORDINARY, as_of=clock.today(), profile=DEFAULT, clearing=False
    )
    expected = screen_decision(alone, DEFAULT)
    assert ordinary["decision"] == expected.outcome.value
    assert [r["code"] for r in ordinary["linkedReasons"]] == [
        r.code for r in expected.linked_reasons
    ]


def test_risk_report_says_how_far_it_explored(capped_api: ApiEnv) -> None:
    query = """query ($id: String!) { riskReport(id: $id) { found flags { code }
        contagion { available score truncated exploredDepth } clearsOn } }"""
    cut = capped_api.gql(query, id=NEXT_TO_HUB.uid)
    assert "errors" not in cut, cut
    report = cut["data"]["riskReport"]
    assert report["contagion"] == {
        "available": False,
        "score": None,
        "truncated": True,
        "exploredDepth": 1,
    }
    assert report["clearsOn"] is None
    ordinary = capped_api.gql(query, id=ORDINARY.uid)["data"]["riskReport"]["contagion"]
    assert ordinary["available"] and not ordinary["truncated"]
    assert ordinary["exploredDepth"] == DEFAULT.max_depth


def test_risk_explain_says_the_neighbourhood_was_cut(
    officer: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(monkeypatch, embedded, officer)
    monkeypatch.setenv("CREDGRAPH_RISK_NEIGHBOURHOOD_CAP", str(CAP))
    document = explain(cli, NEXT_TO_HUB.uid, AS_OF.isoformat())
    contagion = document["linked"]["contagion"]
    assert (contagion["available"], contagion["truncated"]) == (False, True)
    assert (contagion["explored_depth"], contagion["cap"]) == (1, CAP)
    assert document["decision"]["outcome"] == "REVIEW"
    arguments = ["risk", "explain", NEXT_TO_HUB.uid, "--as-of", AS_OF.isoformat()]
    printed = cli.invoke(app, arguments)
    assert printed.exit_code == 0, printed.output
    assert "passed CREDGRAPH_RISK_NEIGHBOURHOOD_CAP (30 relations) after 1 hop" in " ".join(
        printed.output.split()
    )


def _future_hub_registry() -> MiniRegistry:
    """Y guarantees X, blacklisted until 2026; from 2025, Q represents Y and 40 other firms."""
    reg = MiniRegistry()
    for name in ("Y", "X"):
        reg.firm(name)
    reg.relate("Y", "X")
    reg.record("BY-1", "X", valid_to="2026-01-01")
    reg.person("Q")
    reg.role("Q", "Y", since="2025-01-01")
    for board in range(BOARDS):
        reg.firm(f"F{board}")
        reg.role("Q", f"F{board}", since="2025-01-01")
    return reg


def test_a_clearing_date_search_that_passes_the_cap_seeks_none(
    graph: GraphStore, tmp_path: Path
) -> None:
    """As of a past day Y's walk is small, but what the store holds later (Q's boards) passes
    the cap: the report is answered, with no clearing date, rather than walking the hub."""
    reg = _future_hub_registry()
    reg.load(graph, tmp_path)
    target = reg.key("Y")
    whole = risk_report(graph, target, as_of=AS_OF, profile=DEFAULT)
    assert whole.contagion.available and whole.contagion.clears_on is not None
    capped = risk_report(graph, target, as_of=AS_OF, profile=DEFAULT, cap=CAP)
    assert capped.contagion.available and not capped.contagion.truncated
    assert capped.contagion.score == whole.contagion.score
    assert capped.contagion.clears_on is None
