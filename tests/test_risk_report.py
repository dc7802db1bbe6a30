"""The risk report and screening decisions (queries/risk.py) on the named registry of
tests/test_risk_status.py, loaded through the real loader.

Screening decisions are checked with the contagion score set by hand (`_scored`) so that each
rule of `screen_decision` is seen on its own; the contagion layer's own numbers are its tests'
business.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES, profile_version
from credgraph.queries.risk import (
    Contagion,
    Outcome,
    RiskReport,
    data_version,
    decision_json,
    report_json,
    risk_report,
    risk_reports,
    screen_decision,
)
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY
from tests.test_risk_status import (
    AS_OF,
    FIRM_A,
    FIRM_C,
    PEOPLE,
    firm,
    load_registry,
    person,
)

DEFAULT = BUILTIN_PROFILES["default"]
STRICT = BUILTIN_PROFILES["strict"]
NOWHERE = firm("REG:000000000000000")  # an individual business nobody loaded


@pytest.fixture
def registry(graph: GraphStore, tmp_path: Path) -> GraphStore:
    load_registry(graph, tmp_path)
    return graph


def _scored(report: RiskReport, score: float) -> RiskReport:
    return dataclasses.replace(report, contagion=Contagion(available=True, score=score))


def _decide(
    store: GraphStore, key: PartyKey, *, score: float = 0.0, as_of: date = AS_OF, profile=DEFAULT
):  # type: ignore[no-untyped-def]
    report = _scored(risk_report(store, key, as_of=as_of, profile=profile), score)
    return screen_decision(report, profile)


def _reasons(decision) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    return [r.code for r in decision.own_reasons], [r.code for r in decision.linked_reasons]


# --- the report ---------------------------------------------------------------------------------


def test_the_report_names_party_date_profile_and_snapshot(registry: GraphStore) -> None:
    report = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    assert report.found and report.name == "风险测试公司0"
    assert report.as_of == AS_OF
    assert (report.profile, report.profile_version) == ("default", profile_version(DEFAULT))
    assert [f.code.value for f in report.status.flags] == ["OWN_BLACKLIST"]
    assert report.data_version.chunks > 0 and report.data_version.last_committed_at is not None
    assert len(report.snapshot_id) == 16


def test_the_snapshot_id_changes_with_the_data_and_the_profile_only(
    registry: GraphStore, tmp_path: Path
) -> None:
    first = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    again = risk_report(registry, firm(FIRM_A), as_of=date(2020, 1, 1), profile=DEFAULT)
    assert again.snapshot_id == first.snapshot_id  # same data, same model
    strict = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=STRICT)
    assert strict.snapshot_id != first.snapshot_id
    extra = tmp_path / "extra"
    extra.mkdir()
    with (extra / "records.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["record_id", "subject_id", "kind", "status", "disclosure", "source_system"]
        )
        writer.writerow(["N-1", FIRM_C, "abnormal_operation", "active", "public", "risk-test"])
    load_paths(
        registry,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [extra],
        batch_size=10,
        rejects_dir=tmp_path / "rejects2",
    )
    after = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    assert after.snapshot_id != first.snapshot_id
    assert after.data_version.chunks == first.data_version.chunks + 1


def test_an_empty_graph_has_a_data_version_too(graph: GraphStore) -> None:
    version = data_version(graph)
    assert (version.chunks, version.last_committed_at) == (0, None)


def test_not_found_is_not_the_same_as_no_risk_found(registry: GraphStore) -> None:
    missing = risk_report(registry, NOWHERE, as_of=AS_OF, profile=DEFAULT)
    assert not missing.found and missing.name is None
    assert not missing.contagion.available
    assert screen_decision(missing, DEFAULT).outcome is Outcome.NOT_FOUND
    clean = _decide(registry, firm(FIRM_C))
    assert clean.outcome is Outcome.PASS and clean.reasons == []


def test_a_batch_answers_as_one_by_one_under_one_snapshot(registry: GraphStore) -> None:
    keys = [firm(FIRM_A), person(registry, "ZHANG"), NOWHERE]
    batch = risk_reports(registry, keys, as_of=AS_OF, profile=DEFAULT)
    assert list(batch) == keys
    assert len({r.snapshot_id for r in batch.values()}) == 1
    for key in keys:
        assert batch[key] == risk_report(registry, key, as_of=AS_OF, profile=DEFAULT)


def test_the_report_carries_the_contagion_layer(registry: GraphStore) -> None:
    report = risk_report(registry, person(registry, "ZHANG"), as_of=AS_OF, profile=DEFAULT)
    assert report.contagion.available, "queries/contagion.py score_party is not wired in"
    assert report.contagion.score >= 0
    if report.contagion.score >= DEFAULT.clear_below:
        assert report.contagion.paths and report.contagion.clears_on is not None


# --- screening ----------------------------------------------------------------------------------


def test_an_own_counting_record_blocks(registry: GraphStore) -> None:
    decision = _decide(registry, firm(FIRM_A))
    assert decision.outcome is Outcome.BLOCK
    assert _reasons(decision) == (["OWN_BLACKLIST"], [])
    lenient = DEFAULT.model_copy(update={"name": "lenient", "block_on_own_record": False})
    assert _decide(registry, firm(FIRM_A), profile=lenient).outcome is Outcome.REVIEW


def test_a_proposal_sends_to_review_as_a_linked_hit(registry: GraphStore) -> None:
    decision = _decide(registry, person(registry, "ZHANG"))
    assert decision.outcome is Outcome.REVIEW
    assert _reasons(decision) == ([], ["PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"])


def test_a_responsibility_flag_sends_to_review_as_a_linked_hit(registry: GraphStore) -> None:
    decision = _decide(registry, person(registry, "SUN"))
    assert decision.outcome is Outcome.REVIEW
    assert _reasons(decision) == ([], ["RESPONSIBLE_PERSON_OF_RECORD"])


def test_a_record_under_objection_reviews_or_blocks_by_profile(registry: GraphStore) -> None:
    chen = person(registry, "CHEN")
    default = _decide(registry, chen)
    assert default.outcome is Outcome.REVIEW
    assert _reasons(default) == (["RECORD_UNDER_OBJECTION"], [])
    strict = _decide(registry, chen, profile=STRICT)
    assert strict.outcome is Outcome.BLOCK
    assert _reasons(strict) == (["OWN_ADMIN_PENALTY", "RECORD_UNDER_OBJECTION"], [])
    assert "under objection" in strict.own_reasons[0].detail


@pytest.mark.parametrize(
    ("score", "outcome"),
    [(0.0, Outcome.PASS), (0.19, Outcome.PASS), (0.2, Outcome.REVIEW), (0.9, Outcome.REVIEW)],
)
def test_contagion_at_or_above_review_at_sends_to_review(
    registry: GraphStore, score: float, outcome: Outcome
) -> None:
    decision = _decide(registry, person(registry, "WANG"), score=score)
    assert decision.outcome is outcome
    expected = ["CONTAGION_AT_OR_ABOVE_REVIEW"] if outcome is Outcome.REVIEW else []
    assert _reasons(decision) == ([], expected)


def test_the_part_of_the_score_from_own_records_is_not_a_linked_hit(
    registry: GraphStore,
) -> None:
    report = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    contagion = report.contagion
    own_paths = [p for p in contagion.paths if p.subject == report.party]
    assert own_paths and own_paths[0].hops == []  # B-1 weighs on A itself
    assert contagion.linked_score is not None and contagion.linked_score < contagion.score
    by_hand = 1.0
    for path in contagion.paths:
        if path.subject != report.party:
            by_hand *= 1 - path.contribution
    assert contagion.linked_score == pytest.approx(1 - by_hand)
    # ZHANG has no record of his own: all his score comes from linked parties
    zhang = risk_report(registry, person(registry, "ZHANG"), as_of=AS_OF, profile=DEFAULT)
    assert zhang.contagion.linked_score == zhang.contagion.score > 0


@pytest.mark.parametrize(
    ("linked", "linked_reasons"), [(0.05, []), (0.3, ["CONTAGION_AT_OR_ABOVE_REVIEW"])]
)
def test_own_records_and_linked_contagion_are_reasons_apart(
    registry: GraphStore, linked: float, linked_reasons: list[str]
) -> None:
    report = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    scored = dataclasses.replace(
        report, contagion=Contagion(available=True, score=0.9, linked_score=linked)
    )
    decision = screen_decision(scored, DEFAULT)
    assert decision.outcome is Outcome.BLOCK
    assert _reasons(decision) == (["OWN_BLACKLIST"], linked_reasons)


def test_a_contagion_score_never_blocks(registry: GraphStore) -> None:
    assert _decide(registry, person(registry, "WANG"), score=1.0).outcome is Outcome.REVIEW


def test_a_repaired_record_stops_blocking_from_its_repair_date(registry: GraphStore) -> None:
    zhou = person(registry, "ZHOU")
    assert _decide(registry, zhou, as_of=date(2024, 12, 31)).outcome is Outcome.BLOCK
    assert _decide(registry, zhou, as_of=date(2025, 1, 1)).outcome is Outcome.PASS


def test_an_unavailable_contagion_layer_is_not_a_pass(registry: GraphStore) -> None:
    report = risk_report(registry, person(registry, "WANG"), as_of=AS_OF, profile=DEFAULT)
    silent = dataclasses.replace(report, contagion=Contagion(available=False))
    decision = screen_decision(silent, DEFAULT)
    assert decision.outcome is Outcome.REVIEW
    assert _reasons(decision) == ([], ["CONTAGION_UNAVAILABLE"])


def test_a_decision_under_another_profile_is_refused(registry: GraphStore) -> None:
    report = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    with pytest.raises(ValueError, match="profile: the report was made under 'default'"):
        screen_decision(report, STRICT)


def test_the_json_keeps_own_records_apart_from_linked_hits(registry: GraphStore) -> None:
    report = _scored(
        risk_report(registry, person(registry, "ZHANG"), as_of=AS_OF, profile=DEFAULT), 0.3
    )
    document = json.loads(json.dumps(report_json(report), ensure_ascii=False))
    assert document["own"]["flags"] == []
    assert [p["code"] for p in document["linked"]["proposals"]] == [
        "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"
    ]
    assert document["linked"]["contagion"]["score"] == 0.3
    assert document["snapshot_id"] == report.snapshot_id
    decision = json.loads(json.dumps(decision_json(screen_decision(report, DEFAULT))))
    assert decision["outcome"] == "REVIEW"
    assert decision["own_reasons"] == []
    assert {r["code"] for r in decision["linked_reasons"]} == {
        "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM",
        "CONTAGION_AT_OR_ABOVE_REVIEW",
    }


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(
    registry: GraphStore, embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """`credgraph` reaching the test's database on the session's embedded server."""
    address = embedded.address
    env = {
        "CREDGRAPH_NEO4J_URI": address.bolt_uri,
        "CREDGRAPH_NEO4J_USER": address.user,
        "CREDGRAPH_NEO4J_PASSWORD": address.password,
        "CREDGRAPH_DATABASE": registry.database or "",
        "CREDGRAPH_PERSON_KEY": TEST_PERSON_KEY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def test_risk_explain_prints_both_layers_and_the_decision_as_json(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["risk", "explain", PEOPLE["ZHANG"], "--as-of", "2024-06-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert PEOPLE["ZHANG"] not in result.stdout  # an ID number is never echoed
    document = json.loads(result.stdout)
    assert document["found"] and document["as_of"] == "2024-06-01"
    assert document["own"]["flags"] == []
    [proposal] = document["linked"]["proposals"]
    assert proposal["code"] == "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"
    assert proposal["via"]["firm"]["uid"] == FIRM_A
    assert document["linked"]["contagion"]["available"]
    assert document["decision"]["outcome"] in ("REVIEW", "BLOCK")
    assert document["decision"]["outcome"] == "REVIEW"  # a proposal never blocks


def test_risk_explain_as_a_table(cli: CliRunner) -> None:
    result = cli.invoke(app, ["risk", "explain", FIRM_A, "--as-of", "2024-06-01"])
    assert result.exit_code == 0, result.output
    assert "BLOCK" in result.output and "OWN_BLACKLIST" in result.output
    assert "expired on 2016-01-01" in result.output  # B-0 as history


@pytest.mark.parametrize(
    ("arguments", "code", "named"),
    [
        (["risk", "explain", "hello"], 2, "ID:"),
        (["risk", "explain", FIRM_A, "--as-of", "2024-13-01"], 2, "--as-of"),
        (["risk", "explain", FIRM_A, "--profile", "lenient"], 2, "default, strict"),
    ],
)
def test_risk_explain_names_bad_arguments(
    cli: CliRunner, arguments: list[str], code: int, named: str
) -> None:
    result = cli.invoke(app, arguments)
    assert result.exit_code == code, result.output
    assert named in result.output


def test_risk_explain_of_an_unknown_party_is_not_no_risk(cli: CliRunner) -> None:
    unknown = make_uscc("9", "1", "350203", "MA3R0999")
    result = cli.invoke(app, ["risk", "explain", unknown])
    assert result.exit_code == 1
    assert "no party with this identifier" in result.output
