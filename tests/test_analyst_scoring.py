"""Whole-graph scoring as an analyst uses it: `credgraph risk score` and `risk triage` on loaded
graphs, each promise of docs/risk-model.md checked against a reference worked in the test."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.lifecycle import StatusEvent
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, native
from credgraph.graph.vocabulary import RecordKind, RecordStatus, RelationType, StatusChangeKind
from credgraph.queries.contagion import (
    RescoreRefused,
    clearing_date_from,
    contagion_scores,
    rescore,
    score_parties,
    score_party,
)
from credgraph.queries.lookup import PartyKey
from credgraph.queries.pagerank import triage_ranking
from credgraph.queries.profiles import (
    BUILTIN_PROFILES,
    PolicyProfile,
    load_profiles,
    profile_version,
)
from credgraph.queries.records import RecordState, record_state
from credgraph.queries.risk import data_version, risk_report, snapshot_id
from credgraph.queries.scores import score_graph, stored_scores
from credgraph.queries.snapshot import future_neighbourhood, read_snapshot, snapshot_from_edges
from credgraph.queries.triage import triage
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.api_support import OBJECTION_RECORD, ApiEnv, start_api_env
from tests.investigations import cli_runner, explain
from tests.test_contagion import Registry, firm, firm_key, person, person_key

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
    # and a revocation of firm 1's blacklist, loaded, effective before the run's date
    revoked = Registry(tmp_path / "revoked")
    revoked.change("A-1", "revoked", "2024-05-01")
    revoked.load(graph)
    rescore(graph, [firm_key(1)])
    stored = _stored(graph)
    full = _full(graph, STRICT, AS_OF)
    assert full[firm_key(1)] == 0.0
    assert {k: stored[k]["score"] if k in stored else 0.0 for k in full} == full
    assert stored[firm_key(9)] == untouched


def test_credgraph_load_rescores_what_its_records_reach(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 4: a newly loaded record re-scores only the parties it can reach. `credgraph
    load` left the stored scores as they were until the next `risk score`."""
    reg = Registry(tmp_path / "reg")
    _chain(reg)
    reg.load(graph)
    score_graph(graph, STRICT, AS_OF)
    untouched = _stored(graph)[firm_key(9)]
    cli = cli_runner(monkeypatch, embedded, graph)
    new = Registry(tmp_path / "new")
    new.record("N-1", firm(3), "dishonest_debtor", "2024-02-01", "2029-01-01")
    new.change("A-1", "revoked", "2024-05-01")  # and firm 1's blacklist, revoked
    report = tmp_path / "report.json"
    loaded = cli.invoke(app, ["load", *map(str, new.write()), "--report", str(report)])
    assert loaded.exit_code == 0, loaded.output
    # firms 1 and 3 changed: within 3 hops of them are 1 - 10 - 2 - 11 - 3, not 9 or 19
    assert json.loads(report.read_text(encoding="utf-8"))["rescored"] == 5
    assert "re-scored 5 parties the loaded records and relations reach" in loaded.output
    stored = _stored(graph)
    full = _full(graph, STRICT, AS_OF)
    assert full[firm_key(1)] == 0.0 and full[firm_key(3)] > 0
    assert {k: stored[k]["score"] if k in stored else 0.0 for k in full} == full
    assert stored[firm_key(9)] == untouched  # beyond reach: not rewritten
    # loading the same files again re-scores the same parties to the same scores
    again = cli.invoke(app, ["load", *map(str, new.write())])
    assert again.exit_code == 0, again.output
    assert {k: v["score"] for k, v in _stored(graph).items()} == {
        k: v["score"] for k, v in stored.items()
    }


def test_a_load_of_a_graph_never_scored_rescores_nothing(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = Registry(tmp_path / "reg")
    _chain(reg)
    cli = cli_runner(monkeypatch, embedded, graph)
    report = tmp_path / "report.json"
    loaded = cli.invoke(app, ["load", *map(str, reg.write()), "--report", str(report)])
    assert loaded.exit_code == 0, loaded.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert (document["rescored"], document["rescore_note"]) == (0, None)
    assert _stored(graph) == {}
    # the snapshot id each profile names from now on: a decision's is found in the report kept
    version = data_version(graph)
    assert document["data_version"] == version.token()
    assert document["snapshots"] == {
        name: snapshot_id(profile, version) for name, profile in BUILTIN_PROFILES.items()
    }
    assert (
        risk_report(graph, firm_key(1), as_of=AS_OF, profile=STRICT).snapshot_id
        == (document["snapshots"]["strict"])
    )
    assert f"snapshot ids from now on: default {document['snapshots']['default']}" in " ".join(
        loaded.output.split()
    )


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


def test_an_objection_rescores_under_the_deployment_s_own_profile(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    """Scores stored under a profile of CREDGRAPH_RISK_PROFILES_FILE: the API passed no
    profiles to the re-score, which refused, and the mutation said rescoredSubjects null."""
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("own:\n  decay: 0.7\n", encoding="utf-8")
    own = load_profiles(profiles)["own"]
    day = date(2025, 6, 1)
    for api in start_api_env(embedded, driver, settings, tmp_path, risk_profiles_file=profiles):
        score_graph(api.store, own, day)
        opened = api.gql(
            """mutation ($r: String!) { openObjection(recordId: $r, evidence: "paid",
                deadline: "2099-01-01", effectiveOn: "2025-03-01") { rescoredSubjects } }""",
            role=ApiRole.ADMIN,
            purpose="objection_handling",
            r=OBJECTION_RECORD,
        )
        assert opened["data"]["openObjection"]["rescoredSubjects"] > 0, opened
        stored = _stored(api.store)
        full = _full(api.store, own, day)
        assert {k: stored[k]["score"] if k in stored else 0.0 for k in full} == full


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


def test_clears_on_counts_a_relation_that_ends_later(graph: GraphStore, tmp_path: Path) -> None:
    """P has represented firm 1 since 2010, until 2025-01-01 (already held); firm 1's blacklist
    runs to 2030. Today P has 0.8 x 0.5 = 0.4; with the relation kept it would clear when B-1
    ends (0.4 x 0.5 ** (t / 730) stays above 0.05 for 2,190 days), but a re-score on
    2025-01-01 no longer finds the path: P clears that day."""
    reg = Registry(tmp_path / "r")
    reg.firm(1)
    reg.person(10)
    reg.role(10, 1, "legal_representative", "2010-01-01", "2025-01-01")
    reg.record("B-1", firm(1), "blacklist", "2024-06-01", "2030-01-01")
    reg.load(graph)
    assert score_party(graph, person_key(10), DEFAULT, AS_OF).score == pytest.approx(0.4)
    later = [date(2025, 6, 1), date(2030, 1, 1)]
    assert _clears_as_a_rescore_says(graph, person_key(10), later) == date(2025, 1, 1)


def test_clears_on_counts_a_relation_that_starts_later(graph: GraphStore, tmp_path: Path) -> None:
    """P represents firm 1, whose blacklist ends on 2025-01-01, and from 2024-10-01 (already
    held) firm 2 too, blacklisted from 2024-06-01 to 2030. With the relations of today P would
    clear on 2025-01-01; a re-score that day finds firm 2's record over the new relation
    (0.4 x 0.5 ** (214 / 730) = 0.33), and 0.4 x 0.5 ** (t / 730) stays above 0.05 past
    2030-01-01, when B-2 ends: P clears then."""
    reg = Registry(tmp_path / "r")
    for n in (1, 2):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative", "2024-10-01")
    reg.record("B-1", firm(1), "blacklist", "2024-06-01", "2025-01-01")
    reg.record("B-2", firm(2), "blacklist", "2024-06-01", "2030-01-01")
    reg.load(graph)
    assert _rescored(graph, person_key(10), date(2025, 1, 1)) == pytest.approx(
        0.4 * 0.5 ** (214 / 730)
    )
    later = [date(2029, 12, 31)]
    assert _clears_as_a_rescore_says(graph, person_key(10), later) == date(2030, 1, 1)


def test_clears_on_is_null_beyond_the_stretches_it_searches(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relation-start case above needs more than one stretch searched (the last, from
    2030-01-01, is clear from its first day): with one allowed, no date, rather than a wrong
    one; and the figure risk-model.md gives is the module's."""
    from credgraph.queries import contagion

    reg = Registry(tmp_path / "r")
    for n in (1, 2):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative", "2024-10-01")
    reg.record("B-1", firm(1), "blacklist", "2024-06-01", "2025-01-01")
    reg.record("B-2", firm(2), "blacklist", "2024-06-01", "2030-01-01")
    reg.load(graph)
    monkeypatch.setattr(contagion, "MAX_CLEARING_STRETCHES", 1)
    result = score_party(graph, person_key(10), DEFAULT, AS_OF)
    assert result.score == pytest.approx(0.4) and result.clears_on is None
    monkeypatch.undo()
    model = (Path(__file__).parents[1] / "docs" / "risk-model.md").read_text(encoding="utf-8")
    limit = contagion.MAX_CLEARING_STRETCHES
    assert f"At most {limit} stretches (`MAX_CLEARING_STRETCHES`)" in model


def test_clears_on_counts_a_status_change_that_takes_effect_later(
    graph: GraphStore, tmp_path: Path
) -> None:
    """P represents firms 1 and 2. Firm 2's blacklist ends on 2025-01-01 (0.4 today). Firm 1's,
    from 2024-01-01 to 2035, is under an objection opened on 2024-03-01 and closed on
    2025-01-01 (both already held): the default profile does not count a record under
    objection, so today only B-2 counts and P would clear on 2025-01-01; but from that day B-1
    counts again, 0.4 x 0.5 ** (t / 730) with t from 2024-01-01, below 0.05 from
    t = 2,191 days: 2029-12-31."""
    reg = Registry(tmp_path / "r")
    for n in (1, 2):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative")
    reg.record("B-1", firm(1), "blacklist", "2024-01-01", "2035-01-01")
    reg.change("B-1", "objection_opened", "2024-03-01")
    reg.change("B-1", "objection_closed", "2025-01-01")
    reg.record("B-2", firm(2), "blacklist", "2024-06-01", "2025-01-01")
    reg.load(graph)
    assert score_party(graph, person_key(10), DEFAULT, AS_OF).score == pytest.approx(0.4)
    later = [date(2030, 1, 1), date(2035, 1, 1)]
    assert _clears_as_a_rescore_says(graph, person_key(10), later) == date(2029, 12, 31)


# --- `credgraph risk score` on a named graph worked by hand ----------------------------------


@pytest.fixture
def dated(graph: GraphStore, tmp_path: Path) -> GraphStore:
    """As of 2024-06-01 (default profile: blacklist 1, decay 0.5, legal representative 0.8,
    guarantee 0.7, supplies 0.1, shareholder 1 x stake):

    - firm 1: blacklist from that day (counts, base 1); firm 4: blacklist from that day too;
    - firm 2: blacklist from the next day (not yet a seed); firm 3: blacklist ended that day;
    - person 10: legal representative of firm 1 from that day (carries): 0.4, and B-4 three
      hops away (firm 4, person 14, firm 1: 0.16 x 0.4);
    - person 11: of firm 1 until that day (ended): 0; person 12: from the next day: 0;
    - person 13: of firms 2 and 3: 0;
    - person 14: of firms 1 and 4, two seeds: 1 - (1 - 0.4) ** 2 = 0.64;
    - firm 5: guarantees firm 1 and supplies it (parallel): the best once, 0.7 x 0.5 = 0.35;
    - firm 6: guaranteed by firm 1 (0.35) and represented by person 10 (0.4 x 0.4 = 0.16):
      B-1 once, by its best path, 0.35;
    - firm 7: holds 40% of firm 1: 0.4 x 0.5 = 0.2; person 16 holds it without a stake:
      missing_stake 0.5 x 0.5 = 0.25;
    - B-4 reaches firm 1 at 0.16 over person 14, and the parties one hop from firm 1 at 0.16
      times their factor: the noisy-OR of two records.
    """
    reg = Registry(tmp_path / "dated")
    for n in (1, 2, 3, 4, 5, 6, 7):
        reg.firm(n)
    for n in (10, 11, 12, 13, 14, 16):
        reg.person(n)
    reg.record("B-1", firm(1), "blacklist", "2024-06-01", "2027-06-01")
    reg.record("B-4", firm(4), "blacklist", "2024-06-01", "2027-06-01")
    reg.record("B-2", firm(2), "blacklist", "2024-06-02", "2027-06-01")
    reg.record("B-3", firm(3), "blacklist", "2020-01-01", "2024-06-01")
    reg.role(10, 1, "legal_representative", "2024-06-01")
    reg.role(10, 6, "legal_representative")
    reg.role(11, 1, "legal_representative", "2010-01-01", "2024-06-01")
    reg.role(12, 1, "legal_representative", "2024-06-02")
    reg.role(13, 2, "legal_representative")
    reg.role(13, 3, "legal_representative")
    reg.role(14, 1, "legal_representative")
    reg.role(14, 4, "legal_representative")
    reg.guarantee(5, 1)
    reg.firm_relations.append([firm(5), firm(1), "supplies", "2010-01-01", "", "SUP"])
    reg.guarantee(1, 6)
    reg.share(firm(7), 1, "0.4")
    reg.share(person(16), 1, "")
    reg.load(graph)
    return graph


B4_AT_1 = 0.4 * 0.4  # firm 4's blacklist at firm 1, over person 14: two hops
DATED = [
    (firm(1), firm_key(1), 1.0),
    (firm(4), firm_key(4), 1.0),
    (firm(2), firm_key(2), 0.0),
    (firm(3), firm_key(3), 0.0),
    (person(10), person_key(10), 1 - (1 - 0.4) * (1 - B4_AT_1 * 0.4)),
    (person(11), person_key(11), 0.0),
    (person(12), person_key(12), 0.0),
    (person(13), person_key(13), 0.0),
    (person(14), person_key(14), 1 - (1 - 0.8 * 0.5) ** 2),
    (firm(5), firm_key(5), 1 - (1 - 0.35) * (1 - B4_AT_1 * 0.35)),
    (firm(6), firm_key(6), 1 - (1 - 0.35) * (1 - B4_AT_1 * 0.35)),
    (firm(7), firm_key(7), 1 - (1 - 0.2) * (1 - B4_AT_1 * 0.2)),
    (person(16), person_key(16), 1 - (1 - 0.25) * (1 - B4_AT_1 * 0.25)),
]


def test_risk_score_answers_as_the_graph_stood_and_writes_the_run(
    dated: GraphStore, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    cli = cli_runner(monkeypatch, embedded, dated)
    result = cli.invoke(
        app,
        [
            "risk",
            "score",
            "--as-of",
            "2024-06-01",
            "--top",
            "50",
            "--json",
            "--purpose",
            "analysis",
        ],  # the highest scores include persons
    )
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert (run["profile"], run["profile_version"], run["as_of"]) == (
        "default",
        profile_version(DEFAULT),
        "2024-06-01",
    )
    assert run["seeds"] == 2  # B-1 and B-4: B-2 has not started, B-3 has ended
    listed = {(e["label"], e["id"]): e["score"] for e in run["top"]}
    stored = _stored(dated)
    for raw, key, expected in DATED:
        assert listed.get((key.label.value, key.uid), 0.0) == pytest.approx(expected), key
        assert (stored[key]["score"] if key in stored else 0.0) == pytest.approx(expected), key
        # risk explain, one party over its neighbourhood: the batch's number, bit for bit
        explained = explain(cli, raw, "2024-06-01")["linked"]["contagion"]["score"]
        assert explained == listed.get((key.label.value, key.uid), 0.0), key
    scored_at = datetime.fromisoformat(run["scored_at"])
    for row in stored.values():
        assert (row["profile"], row["version"], native(row["as_of"])) == (
            "default",
            profile_version(DEFAULT),
            AS_OF,
        )
        # UTC; the embedded store gives it back without its zone
        assert native(row["scored_at"]).replace(tzinfo=UTC) == scored_at


def test_a_run_under_another_profile_replaces_every_stored_score(
    dated: GraphStore, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore, tmp_path: Path
) -> None:
    """A deployment profile whose relation weights list supplies only (0.9): only firm 5 is
    reached (0.9 x 0.5); every party the default run scored now holds this run's score, 0
    included, under this run's name (docs: the nodes hold one profile's scores at a time)."""
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("supply:\n  relation_weight: {SUPPLIES: 0.9}\n", encoding="utf-8")
    monkeypatch.setenv("CREDGRAPH_RISK_PROFILES_FILE", str(profiles))
    cli = cli_runner(monkeypatch, embedded, dated)
    first = cli.invoke(
        app, ["risk", "score", "--as-of", "2024-06-01", "--json", "--purpose", "analysis"]
    )
    assert first.exit_code == 0, first.output
    scored_by_default = set(_stored(dated))
    second = cli.invoke(
        app,
        [
            "risk",
            "score",
            "--profile",
            "supply",
            "--as-of",
            "2024-06-01",
            "--json",
            "--purpose",
            "analysis",
        ],
    )
    assert second.exit_code == 0, second.output
    stored = _stored(dated)
    assert set(stored) == scored_by_default
    assert {row["profile"] for row in stored.values()} == {"supply"}
    expected = {firm_key(1): 1.0, firm_key(4): 1.0, firm_key(5): 0.9 * 0.5}
    assert {k: v["score"] for k, v in stored.items() if v["score"] > 0} == pytest.approx(expected)


def test_explain_next_to_a_hub_and_between_seeds_is_the_batch_bit_for_bit(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Firm 1 a hub of 40 officers, five of them also officers of seeded firms 2 to 6; firm 1's
    own penalty; parties reached by several seeds over paths of every length."""
    reg = Registry(tmp_path / "hub")
    for n in range(1, 12):
        reg.firm(n)
    roles = ["legal_representative", "director", "manager", "principal", "supervisor"]
    for p in range(100, 140):
        reg.person(p)
        reg.role(p, 1, roles[p % 5])
    for n in range(2, 7):
        reg.role(100 + n, n, "legal_representative")
        reg.record(f"S-{n}", firm(n), ["blacklist", "admin_penalty"][n % 2], f"2023-0{n}-01")
        reg.guarantee(n, n + 5)
    reg.record("S-1", firm(1), "abnormal_operation", "2024-01-01")
    reg.share(firm(7), 1, "0.6")
    reg.load(graph)
    for profile, day in ((DEFAULT, AS_OF), (STRICT, date(2025, 3, 1))):
        _, snapshot, scores = score_graph(graph, profile, day, write=False)
        assert (scores > 0).sum() > 40
        for index in range(snapshot.node_count):
            key = snapshot.key(index)
            assert score_party(graph, key, profile, day).score == scores[index], key


# --- triage: personalised PageRank against networkx.pagerank ----------------------------------

NO_SUPPLIES = PolicyProfile.model_validate(
    {
        **DEFAULT.model_dump(),
        "name": "no-supplies",
        "relation_weight": {
            k: v for k, v in DEFAULT.relation_weight.items() if k is not RelationType.SUPPLIES
        },
    }
)
PERSON_TYPES = [
    RelationType.LEGAL_REPRESENTATIVE_OF,
    RelationType.EXECUTIVE_OF,
    RelationType.SHAREHOLDER_OF,
]
FIRM_TYPES = [RelationType.GUARANTEES, RelationType.SUPPLIES, RelationType.SHAREHOLDER_OF]


@st.composite
def party_graphs(draw: st.DrawFn) -> tuple[int, int, list[Any], list[Any]]:
    firms = draw(st.integers(1, 8))
    persons = draw(st.integers(0, 8))
    stake = st.one_of(st.none(), st.sampled_from([0.0, 0.3, 1.0]))
    roles = st.tuples(
        st.integers(0, persons - 1) if persons else st.nothing(),
        st.integers(0, firms - 1),
        st.sampled_from(PERSON_TYPES),
        stake,
    )
    links = st.tuples(
        st.integers(0, firms - 1), st.integers(0, firms - 1), st.sampled_from(FIRM_TYPES), stake
    ).filter(lambda r: r[0] != r[1])
    relations = [("p", *r) for r in draw(st.lists(roles, max_size=3 * persons))] if persons else []
    relations += [("f", *r) for r in draw(st.lists(links, max_size=2 * firms))]
    records = draw(
        st.lists(
            st.tuples(
                st.integers(0, firms + persons - 1),
                st.sampled_from([RecordKind.BLACKLIST, RecordKind.ADMIN_PENALTY]),
                st.integers(0, 1500),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return firms, persons, relations, records


@settings(max_examples=80, deadline=None)
@given(party_graphs(), st.sampled_from([DEFAULT, NO_SUPPLIES]))
def test_triage_ranks_as_networkx_pagerank(spec: Any, profile: PolicyProfile) -> None:
    """Persons linked to several firms, parallel relations, relations that weigh nothing (a type
    the profile does not list, a stake of 0) and parties without any: the ranking is
    networkx.pagerank's, personalised by the seeds' base weights worked out here."""
    firms, persons, relations, records = spec
    keys = [firm_key(i) for i in range(firms)] + [person_key(200 + i) for i in range(persons)]
    edges = []
    for side, a, b, kind, stake in relations:
        start = keys[firms + a] if side == "p" else keys[a]
        edges.append((start, keys[b], kind, stake))
    states = [
        (keys[s], _seed(f"R{i}", kind, AS_OF - timedelta(days=age)))
        for i, (s, kind, age) in enumerate(records)
    ]
    snapshot = snapshot_from_edges(AS_OF, keys, edges, states)
    ranking = triage_ranking(snapshot, profile, tol=1e-13)

    g = nx.Graph()
    g.add_nodes_from(keys)
    for start, end, kind, stake in edges:
        weight = profile.relation_weight.get(kind, 0.0)
        if kind is RelationType.SHAREHOLDER_OF:
            weight *= profile.missing_stake if stake is None else stake
        if weight > 0:  # parallel relations add up
            g.add_edge(
                start, end, weight=g.get_edge_data(start, end, {"weight": 0.0})["weight"] + weight
            )
    count = {s: sum(1 for t, _, _ in records if t == s) for s, _, _ in records}
    personal = dict.fromkeys(keys, 0.0)
    for s, kind, age in records:
        escalated = profile.severity[kind] * (1 + profile.escalation * (count[s] - 1))
        personal[keys[s]] += min(1.0, escalated * 0.5 ** (age / profile.half_life_days))
    expected = nx.pagerank(
        g, alpha=profile.pagerank_alpha, personalization=personal, tol=1e-14, max_iter=10_000
    )
    for key in keys:
        index = snapshot.index_of(key)
        assert index is not None
        assert ranking.scores[index] == pytest.approx(expected[key], abs=1e-9), key


def _seed(uid: str, kind: RecordKind, start: date) -> RecordState:
    return RecordState(
        uid=uid,
        kind=kind,
        status=RecordStatus.ACTIVE,
        since=None,
        starts_on=start,
        ends_on=None,
        listed=True,
        counts=True,
        under_objection=False,
        negative=True,
        record={"uid": uid, "kind": kind.value},
    )


def test_a_record_of_two_subjects_counts_once_by_its_best_path(
    graph: GraphStore, tmp_path: Path
) -> None:
    """One dishonest-debtor entry J-1 (0.9) names firms 1 and 2 (a second extract names the
    second debtor under the same record id), both represented by person 10: the record reaches
    person 10 once, 0.9 x 0.4 = 0.36, not as two records (1 - 0.64 ** 2 = 0.59); each firm gets
    its own 0.9, not 0.9 and again 0.9 x 0.16 from the other."""
    first = Registry(tmp_path / "first")
    for n in (1, 2):
        first.firm(n)
    first.person(10)
    first.role(10, 1, "legal_representative")
    first.role(10, 2, "legal_representative")
    first.record("J-1", firm(1), "dishonest_debtor", "2024-06-01", "2027-01-01")
    first.load(graph)
    second = Registry(tmp_path / "second")
    second.record("J-1", firm(2), "dishonest_debtor", "2024-06-01", "2027-01-01")
    second.load(graph)
    run, snapshot, scores = score_graph(graph, DEFAULT, AS_OF, write=False)
    assert run.seeds == 1  # one record
    expected = {firm_key(1): 0.9, firm_key(2): 0.9, person_key(10): 0.9 * 0.4}
    for key, value in expected.items():
        index = snapshot.index_of(key)
        assert index is not None
        assert scores[index] == pytest.approx(value), key
        explained = score_party(graph, key, DEFAULT, AS_OF)
        assert explained.score == scores[index]
        assert [p.record.record_id for p in explained.paths] == ["J-1"]
    # a record of firm 2 and of firm 9, which no party near person 10 reaches, beside firm 2's
    # own penalty: explain folds it as the batch does, bit for bit
    third = Registry(tmp_path / "third")
    third.firm(9)
    third.record("K-1", firm(2), "blacklist", "2024-01-01", "2027-01-01")
    third.record("K-1", firm(9), "blacklist", "2024-01-01", "2027-01-01")
    third.record("P-2", firm(2), "admin_penalty", "2024-03-01", "2027-01-01")
    third.load(graph)
    _, snapshot, scores = score_graph(graph, DEFAULT, AS_OF, write=False)
    for index in range(snapshot.node_count):
        key = snapshot.key(index)
        assert score_party(graph, key, DEFAULT, AS_OF).score == scores[index], key


NARROW = PolicyProfile.model_validate(
    {**DEFAULT.model_dump(), "name": "narrow", "decay": 0.3, "max_depth": 1}
)


@pytest.mark.parametrize(
    ("stake_weighted", "missing_stake", "firm_7", "person_16"),
    [(False, 0.5, 1.0 * 0.3, 1.0 * 0.3), (True, 0.2, 0.4 * 0.3, 0.2 * 0.3)],
)
def test_decay_depth_and_stakes_of_a_profile_worked_by_hand(
    dated: GraphStore, stake_weighted: bool, missing_stake: float, firm_7: float, person_16: float
) -> None:
    """The dated graph under decay 0.3 and one hop: B-4 no longer reaches firm 1 or its
    neighbours (two hops and more); stakes count or not, a missing one as `missing_stake`."""
    profile = NARROW.model_copy(
        update={"stake_weighted": stake_weighted, "missing_stake": missing_stake}
    )
    expected = {
        firm_key(1): 1.0,
        firm_key(4): 1.0,
        person_key(10): 0.8 * 0.3,
        person_key(14): 1 - (1 - 0.8 * 0.3) ** 2,
        firm_key(5): 0.7 * 0.3,  # the guarantee, not the parallel supply
        firm_key(6): 0.7 * 0.3,  # over person 10 it would take two hops
        firm_key(7): firm_7,
        person_key(16): person_16,
    }
    scores = _full(dated, profile, AS_OF)
    assert {k: v for k, v in scores.items() if v > 0} == pytest.approx(expected)
    for key in expected:
        assert score_party(dated, key, profile, AS_OF).score == scores[key]


def test_a_record_without_a_start_clears_when_a_rescore_says(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A blacklist with an end (2040-01-01) but no start, decision or publication date: its age
    is 0 on every day (docs: recency 0 when it has none), so a re-score finds firm 1 at 1.0
    until the end; recency does not make it clear after 3,156 days."""
    reg = Registry(tmp_path / "r")
    reg.firm(1)
    reg.record("U-1", firm(1), "blacklist", "", "2040-01-01")
    reg.load(graph)
    assert _rescored(graph, firm_key(1), date(2035, 1, 1)) == 1.0
    assert _clears_as_a_rescore_says(graph, firm_key(1), [date(2039, 12, 31)]) == date(2040, 1, 1)


def test_the_api_s_risk_report_gives_the_batch_s_score_bit_for_bit(api: ApiEnv) -> None:
    """riskReport for the API registry's parties, on two dates and under both built-in
    profiles: the whole-graph batch's number and risk explain's clearing date."""
    from credgraph.graph.identifiers import person_token
    from credgraph.graph.vocabulary import Label, PersonIdType

    from tests.conftest import TEST_PERSON_KEY
    from tests.registries import FIRM_A, FIRM_B, LI, ZHANG

    def person(raw: str) -> PartyKey:
        token = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, raw)
        return PartyKey(Label.NATURAL_PERSON, token)

    parties = [
        (FIRM_A, PartyKey(Label.LEGAL_PERSON, FIRM_A), ApiRole.ANALYST),
        (FIRM_B, PartyKey(Label.LEGAL_PERSON, FIRM_B), ApiRole.ANALYST),
        (ZHANG, person(ZHANG), ApiRole.INVESTIGATOR),
        (LI, person(LI), ApiRole.INVESTIGATOR),
    ]
    query = """query ($id: String!, $day: Date, $profile: String) {
        riskReport(id: $id, asOf: $day, profile: $profile) { contagion { score clearsOn } } }"""
    for profile, day in ((DEFAULT, date(2025, 6, 1)), (STRICT, date(2026, 1, 1))):
        batch = _full(api.store, profile, day)
        assert sum(batch[key] > 0 for _, key, _ in parties) >= 3
        for raw, key, role in parties:
            answer = api.gql(query, role=role, id=raw, day=day.isoformat(), profile=profile.name)
            assert "errors" not in answer, answer
            contagion = answer["data"]["riskReport"]["contagion"]
            assert contagion["score"] == batch[key], raw
            clears = score_party(api.store, key, profile, day).clears_on
            assert contagion["clearsOn"] == (clears.isoformat() if clears else None)


def test_triage_marks_the_seeds_of_its_walks(graph: GraphStore, tmp_path: Path) -> None:
    """Under a profile that weighs blacklists only, firm 1's blacklist seeds the walks and firm
    2's counting penalty does not: firm 2 is no seed (docs: `seeded`)."""
    reg = Registry(tmp_path / "r")
    for n in (1, 2):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative")
    reg.record("B-1", firm(1), "blacklist", "2024-01-01", "2027-01-01")
    reg.record("P-2", firm(2), "admin_penalty", "2024-01-01", "2027-01-01")
    reg.load(graph)
    blacklists = PolicyProfile.model_validate(
        {**DEFAULT.model_dump(), "name": "blacklists", "severity": {RecordKind.BLACKLIST: 1.0}}
    )
    ranked = {e.party: e.seeded for e in triage(graph, blacklists, AS_OF, top=10).top}
    assert ranked == {firm_key(1): True, person_key(10): False, firm_key(2): False}


# --- clears on, on random graphs: a re-score on that day is clear, on the day before not ------


@st.composite
def timed_graphs(draw: st.DrawFn) -> tuple[int, list[Any], list[Any]]:
    n = draw(st.integers(1, 7))
    types = [RelationType.LEGAL_REPRESENTATIVE_OF, RelationType.GUARANTEES]
    relations = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(types)).filter(
                lambda r: r[0] != r[1]
            ),
            max_size=2 * n,
        )
    )
    records = draw(
        st.lists(
            st.tuples(
                st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True),
                st.sampled_from([RecordKind.BLACKLIST, RecordKind.ADMIN_PENALTY]),
                st.integers(-800, 600),  # start, days from the as-of date
                st.one_of(st.none(), st.integers(1, 1500)),  # term in days
            ),
            min_size=1,
            max_size=5,
        )
    )
    return n, relations, records


@settings(max_examples=150, deadline=None)
@given(timed_graphs())
def test_clears_on_agrees_with_rescores_on_random_graphs(spec: Any) -> None:
    """Records of one or two subjects, some starting after the as-of date: for every party with
    a clearing date, a re-score (the batch on that day, with the records counting then) is clear
    that day and on every later day a record starts or ends, and not clear the day before."""
    _check_clearing_dates(spec)


@st.composite
def dated_graphs(draw: st.DrawFn) -> tuple[int, list[Any], list[Any]]:
    """Relations that may start after the as-of date or end after it, records that may start
    later, with an objection opened and perhaps closed, or a repair, on some day."""
    n = draw(st.integers(1, 6))
    types = [RelationType.LEGAL_REPRESENTATIVE_OF, RelationType.GUARANTEES]
    relations = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.sampled_from(types),
                st.one_of(st.none(), st.integers(-300, 600)),  # valid_from, days from as-of
                st.one_of(st.none(), st.integers(1, 1200)),  # valid_to, days from as-of
            ).filter(lambda r: r[0] != r[1]),
            max_size=2 * n,
        )
    )
    records = draw(
        st.lists(
            st.tuples(
                st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True),
                st.sampled_from([RecordKind.BLACKLIST, RecordKind.ADMIN_PENALTY]),
                st.integers(-800, 600),  # start, days from the as-of date
                st.one_of(st.none(), st.integers(1, 1500)),  # term in days
                st.one_of(  # an objection: opened, closed that many days later (or never)
                    st.none(),
                    st.tuples(st.integers(-300, 600), st.one_of(st.none(), st.integers(1, 900))),
                ),
                st.one_of(st.none(), st.integers(-100, 1500)),  # a repair, days from as-of
            ),
            min_size=1,
            max_size=5,
        )
    )
    return n, relations, records


@settings(max_examples=150, deadline=None)
@given(dated_graphs())
def test_clears_on_agrees_with_rescores_with_dated_relations_and_changes(spec: Any) -> None:
    """What the store holds after the as-of date (relations that start or end, records that
    start, objections opened or closed, repairs, each on its day): for every party not clear,
    the clearing date is a day on which a re-score (the batch on that day, with the relations
    and record states of that day) is clear, as on every later day something changes, and the
    day before it is not."""
    n, relations, records = spec
    keys = [firm_key(i) for i in range(n)]

    def day(offset: int | None) -> date | None:
        return None if offset is None else AS_OF + timedelta(days=offset)

    dated = [(keys[a], keys[b], kind, None, day(f), day(t)) for a, b, kind, f, t in relations]
    held = []
    for i, (subjects, kind, start, term, objection, repair) in enumerate(records):
        begins = AS_OF + timedelta(days=start)
        record = {
            "uid": f"R{i}",
            "kind": kind.value,
            "listed_status": "active",
            "valid_from": begins,
            "valid_to": None if term is None else begins + timedelta(days=term),
        }
        events = []
        if objection is not None:
            opened = AS_OF + timedelta(days=objection[0])
            events.append(StatusEvent(f"C{i}a", StatusChangeKind.OBJECTION_OPENED, opened))
            if objection[1] is not None:
                closed = opened + timedelta(days=objection[1])
                events.append(StatusEvent(f"C{i}b", StatusChangeKind.OBJECTION_CLOSED, closed))
        if repair is not None:
            repaired = AS_OF + timedelta(days=repair)
            events.append(StatusEvent(f"C{i}c", StatusChangeKind.REPAIRED, repaired))
        for s in subjects:
            held.append((keys[s], record, events, None, len(subjects) > 1))

    def batch(on: date) -> dict[PartyKey, float]:
        edges = [
            (a, b, kind, None)
            for a, b, kind, _, f, t in dated
            if (f is None or f <= on) and (t is None or on < t)
        ]
        counting = []
        for key, record, events, _, _ in held:
            state = record_state(
                record,
                events,
                on,
                count_objections=DEFAULT.count_under_objection,
                default_term=DEFAULT.default_term,
            )
            if state.counts:
                counting.append((key, state))
        scores = contagion_scores(snapshot_from_edges(on, keys, edges, counting), DEFAULT).scores
        snapshot = snapshot_from_edges(on, keys, [], [])
        return {snapshot.key(i): float(scores[i]) for i in range(snapshot.node_count)}

    future = future_neighbourhood(AS_OF, keys, dated, held, DEFAULT)
    changes = [d for d in future.days if d > AS_OF]
    today = batch(AS_OF)
    for key in keys:
        cleared = clearing_date_from(future, key, DEFAULT, today[key])
        if today[key] < DEFAULT.clear_below:
            assert cleared is None
            continue
        assert cleared is not None, key
        assert batch(cleared - timedelta(days=1))[key] >= DEFAULT.clear_below, (key, cleared)
        for then in [cleared, *(d for d in changes if d > cleared)]:
            assert batch(then)[key] < DEFAULT.clear_below, (key, cleared, then)


def test_a_record_of_two_subjects_clears_by_the_subject_that_counts_longest() -> None:
    """Firms 0 and 1 share blacklist R0, firms 1 and 2 blacklist R1, both from the as-of date.
    R1 reaches firm 0 through firm 2 (firm 0 is its legal representative) and through firm 1
    (a guarantee). Today both subjects' bases are capped at 1 and firm 2's path is the better
    one; but firm 1 holds two records, so its escalated base stays at 1 for longer while firm
    2's decays, and R1 comes to count through firm 1. Firm 0's clearing date followed the path
    of today (found by hypothesis: it cleared 27 days early)."""
    guarantee, represents = RelationType.GUARANTEES, RelationType.LEGAL_REPRESENTATIVE_OF
    blacklist = RecordKind.BLACKLIST
    cleared = _check_clearing_dates(
        (
            3,
            [(0, 1, guarantee), (0, 2, represents)],
            [([0, 1], blacklist, 0, None), ([1, 2], blacklist, 0, None)],
        )
    )
    assert cleared[firm_key(0)] == date(2034, 1, 26)


def _check_clearing_dates(spec: Any) -> dict[PartyKey, date]:
    """The clearing date of every party of `spec` (n, relations, records), each checked against
    the batch on the day before, the day and every later day a record starts or ends."""
    n, relations, records = spec
    keys = [firm_key(i) for i in range(n)]
    edges = [(keys[a], keys[b], kind, None) for a, b, kind in relations]
    timed = []
    for i, (subjects, kind, start, term) in enumerate(records):
        begins = AS_OF + timedelta(days=start)
        ends = begins + timedelta(days=term) if term is not None else None
        for s in subjects:
            timed.append((keys[s], f"R{i}", kind, begins, ends))

    def counting(day: date) -> list[tuple[PartyKey, RecordState]]:
        return [
            (key, _seed_until(uid, kind, begins, ends))
            for key, uid, kind, begins, ends in timed
            if begins <= day and (ends is None or day < ends)
        ]

    def batch(day: date) -> dict[PartyKey, float]:
        snapshot = snapshot_from_edges(day, keys, edges, counting(day))
        scores = contagion_scores(snapshot, DEFAULT).scores
        return {snapshot.key(i): float(scores[i]) for i in range(snapshot.node_count)}

    later = [(key, _seed_until(uid, kind, b, e)) for key, uid, kind, b, e in timed if b > AS_OF]
    snapshot = snapshot_from_edges(AS_OF, keys, edges, counting(AS_OF))
    pending = snapshot_from_edges(AS_OF, keys, [], later).seeds
    snapshot = dataclasses.replace(snapshot, pending=pending)
    events = sorted({d for *_, b, e in timed for d in (b, e) if d is not None and d > AS_OF})
    cleared = {}
    for key, result in score_parties(snapshot, keys, DEFAULT).items():
        day = result.clears_on
        if day is None:
            continue
        assert batch(day - timedelta(days=1))[key] >= DEFAULT.clear_below, (key, day)
        for then in [day, *(d for d in events if d > day)]:
            assert batch(then)[key] < DEFAULT.clear_below, (key, day, then)
        cleared[key] = day
    return cleared


def _seed_until(uid: str, kind: RecordKind, start: date, end: date | None) -> RecordState:
    return dataclasses.replace(_seed(uid, kind, start), ends_on=end)


def test_a_load_of_more_records_than_the_cap_asks_for_a_full_run(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credgraph.queries import contagion

    reg = Registry(tmp_path / "reg")
    _chain(reg)
    reg.load(graph)
    score_graph(graph, DEFAULT, AS_OF)  # a graph never scored has no scores to keep: no note
    monkeypatch.setattr(contagion, "MAX_RESCORE_RECORDS", 2)
    done = contagion.rescore_records(graph, ["r1", "r2", "r3"])
    assert done.rescored is None and done.note is not None
    assert "run `credgraph risk score`" in done.note
    # the figure risk-model.md gives is the module's
    monkeypatch.undo()
    model = (Path(__file__).parents[1] / "docs" / "risk-model.md").read_text(encoding="utf-8")
    assert f"more than {contagion.MAX_RESCORE_RECORDS:,} negative records" in model
