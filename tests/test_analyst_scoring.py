"""Whole-graph scoring as an analyst uses it: `credgraph risk score` and `risk triage` on loaded
graphs, each promise of docs/risk-model.md checked against a reference worked in the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.queries.contagion import RescoreRefused, rescore, score_party
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES, PolicyProfile, profile_version
from credgraph.queries.records import native
from credgraph.queries.scores import score_graph, stored_scores
from credgraph.queries.snapshot import read_snapshot

from tests.api_support import OBJECTION_RECORD, ApiEnv, start_api_env
from tests.test_contagion import Registry, firm, firm_key, person_key

DEFAULT = BUILTIN_PROFILES["default"]
STRICT = BUILTIN_PROFILES["strict"]
AS_OF = date(2024, 6, 1)


def _stored(store: GraphStore) -> dict[PartyKey, dict[str, Any]]:
    snapshot = read_snapshot(store, AS_OF, profile=DEFAULT)
    return stored_scores(store, [snapshot.key(i) for i in range(snapshot.node_count)])


def _full(store: GraphStore, profile: PolicyProfile, day: date) -> dict[PartyKey, float]:
    _, snapshot, scores = score_graph(store, profile, day, write=False)
    return {snapshot.key(i): float(scores[i]) for i in range(snapshot.node_count)}


def _chain(reg: Registry) -> None:
    """Firms 1 - 2 - 3 through legal representatives 10 and 11; firm 9 and its representative
    19 apart, with a record of their own."""
    for n in (1, 2, 3, 9):
        reg.firm(n)
    for n in (10, 11, 19):
        reg.person(n)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative")
    reg.role(11, 2, "legal_representative")
    reg.role(11, 3, "legal_representative")
    reg.role(19, 9, "legal_representative")
    reg.record("A-1", firm(1), "blacklist", "2024-01-01", "2027-01-01")
    reg.record("Z-1", firm(9), "admin_penalty", "2024-01-01", "2027-01-01")


def test_a_record_loaded_after_a_run_rescores_under_the_run_s_profile_and_date(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The API's record changes call `rescore(store, subjects)` knowing only the subjects: the
    parties it rewrites must keep naming the run the nodes hold (profile, version, as-of), so
    that the stored scores stay those of one full re-score."""
    reg = Registry(tmp_path / "reg")
    _chain(reg)
    reg.load(graph)
    score_graph(graph, STRICT, AS_OF)
    untouched = _stored(graph)[firm_key(9)]
    new = Registry(tmp_path / "new")
    new.record("N-1", firm(3), "dishonest_debtor", "2024-02-01", "2029-01-01")
    new.load(graph)
    rewritten = rescore(graph, [firm_key(3)])
    # firm 1 is four hops from firm 3
    assert set(rewritten) == {firm_key(2), firm_key(3), person_key(10), person_key(11)}
    stored = _stored(graph)
    full = _full(graph, STRICT, AS_OF)
    assert {k: stored[k]["score"] if k in stored else 0.0 for k in full} == full
    assert {(v["profile"], v["version"], native(v["as_of"])) for v in stored.values()} == {
        ("strict", profile_version(STRICT), AS_OF)
    }
    assert stored[firm_key(9)] == untouched  # beyond reach: not rewritten


def test_rescoring_a_graph_never_scored_writes_nothing(graph: GraphStore, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _chain(reg)
    reg.load(graph)
    assert rescore(graph, [firm_key(1)]) == {}
    assert _stored(graph) == {}


def test_a_deployment_profile_s_scores_are_not_rescored_under_another(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = Registry(tmp_path / "reg")
    _chain(reg)
    reg.load(graph)
    own = PolicyProfile.model_validate({**DEFAULT.model_dump(), "name": "own", "decay": 0.7})
    score_graph(graph, own, AS_OF)
    with pytest.raises(RescoreRefused, match="'own'"):
        rescore(graph, [firm_key(1)])
    rescore(graph, [firm_key(1)], profiles={"own": own})
    stored = _stored(graph)
    assert {k: stored[k]["score"] if k in stored else 0.0 for k in _full(graph, own, AS_OF)} == (
        _full(graph, own, AS_OF)
    )


@pytest.fixture
def api(embedded: Any, driver: Any, settings: Settings, tmp_path: Path) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path)


def test_an_objection_opened_through_the_api_keeps_the_stored_scores_a_full_rescore(
    api: ApiEnv,
) -> None:
    day = date(2025, 6, 1)
    score_graph(api.store, DEFAULT, day)
    before = _stored(api.store)
    opened = api.gql(
        """mutation ($r: String!) { openObjection(recordId: $r, evidence: "paid",
            deadline: "2099-01-01", effectiveOn: "2025-03-01") { status rescoredSubjects } }""",
        role=ApiRole.ADMIN,
        purpose="objection_handling",
        r=OBJECTION_RECORD,
    )
    assert opened["data"]["openObjection"]["rescoredSubjects"] > 0, opened
    stored = _stored(api.store)
    full = _full(api.store, DEFAULT, day)
    assert {k: stored[k]["score"] if k in stored else 0.0 for k in full} == full
    assert stored != before  # the objection suspends FIRM_B's penalty under `default`
    assert {native(v["as_of"]) for v in stored.values()} == {day}


# --- clears on: the first day a re-score finds the party clear, and it stays clear -----------


def _rescored(store: GraphStore, key: PartyKey, day: date) -> float:
    return _full(store, DEFAULT, day).get(key, 0.0)


def _clears_as_a_rescore_says(store: GraphStore, key: PartyKey, later: list[date]) -> date:
    result = score_party(store, key, DEFAULT, AS_OF)
    day = result.clears_on
    assert day is not None
    assert _rescored(store, key, day - timedelta(days=1)) >= DEFAULT.clear_below
    assert _rescored(store, key, day) < DEFAULT.clear_below
    for then in later:
        if then >= day:
            assert _rescored(store, key, then) < DEFAULT.clear_below, then
    return day


def test_clears_on_counts_the_records_held_that_start_later(
    graph: GraphStore, tmp_path: Path
) -> None:
    """P represents firms 1 and 2. Firm 1's blacklist runs out on 2025-01-01; firm 2's, already
    loaded, starts on 2024-10-01 and runs to 2030: P does not clear on 2025-01-01 (a re-score
    that day finds 0.8 x 0.5 x 0.5 ** (92 / 730) = 0.37), but when firm 2's fades or ends."""
    reg = Registry(tmp_path / "r")
    for n in (1, 2):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative")
    reg.record("A-1", firm(1), "blacklist", "2024-06-01", "2025-01-01")
    reg.record("A-2", firm(2), "blacklist", "2024-10-01", "2030-01-01")
    reg.load(graph)
    on_new_year = _rescored(graph, person_key(10), date(2025, 1, 1))
    assert on_new_year == pytest.approx(0.8 * 0.5 * 0.5 ** (92 / 730))
    # 0.4 x 0.5 ** (t / 730) < 0.05 from t = floor(730 x log2(8)) + 1 = 2,191 days after A-2's
    # start, which is after it ends on 2030-01-01: P clears when A-2 ends
    assert _clears_as_a_rescore_says(graph, person_key(10), [date(2029, 12, 31)]) == date(
        2030, 1, 1
    )


def test_clears_on_with_a_later_record_that_escalates_an_earlier_one(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Firm 1 holds a penalty of 2024-06-01 (0.4) and another that starts on 2025-06-01: the
    first clears on its own before the second starts, the second brings it back (escalation
    1.25), so the score stays clear only after the second fades."""
    reg = Registry(tmp_path / "r")
    reg.firm(1)
    reg.record("P-1", firm(1), "admin_penalty", "2024-06-01", "2024-09-01")
    reg.record("P-2", firm(1), "admin_penalty", "2025-06-01", "2026-06-01")
    reg.load(graph)
    later = [date(2025, 6, 1), date(2025, 12, 1), date(2026, 5, 31)]
    assert _clears_as_a_rescore_says(graph, firm_key(1), later) == date(2026, 6, 1)
    # and the first stretch alone would have said 2024-09-01
    assert _rescored(graph, firm_key(1), date(2024, 9, 1)) == 0.0
