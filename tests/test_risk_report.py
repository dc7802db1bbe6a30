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
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc, registration_number_check_digit
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError, native
from credgraph.graph.vocabulary import RecordKind, StatusChangeKind
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.caches import HubCache
from credgraph.queries.ledger import COUNT_CHANGE, DATA_HEAD, SharedRead, ensure_data_head
from credgraph.queries.lookup import BadIdentifier, IdentifierCache, PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES, profile_version
from credgraph.queries.record_changes import RecordTarget, apply_changes, find_record
from credgraph.queries.risk import (
    Contagion,
    DataMoved,
    DataVersion,
    DataVersionCache,
    Outcome,
    ReportCache,
    RiskReport,
    data_version,
    decision_json,
    report_json,
    risk_report,
    risk_reports,
    screen_decision,
    snapshot_id,
)
from credgraph.queries.traversal import linked_parties
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import OBJECTION_RECORD, ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.counting import CountingStore
from tests.investigations import cli_runner, star_registry
from tests.registries import FIRM_A as API_FIRM_A
from tests.test_risk_status import (
    AS_OF,
    FIRM_A,
    FIRM_B,
    FIRM_C,
    FIRM_E,
    PEOPLE,
    firm,
    load_registry,
    person,
)

DEFAULT = BUILTIN_PROFILES["default"]
STRICT = BUILTIN_PROFILES["strict"]
# an individual business nobody loaded, by a registration number with its check digit
NOWHERE = firm("REG:35020360009999" + registration_number_check_digit("35020360009999"))


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


def test_a_load_whose_rows_were_all_rejected_leaves_the_snapshot_id(
    registry: GraphStore, tmp_path: Path
) -> None:
    """Nothing it read was written: the reports kept under the snapshot id stay valid, and a
    graph counting its ledger (no head) counts the same."""
    first = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    extra = tmp_path / "rejected"
    extra.mkdir()
    with (extra / "records.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "subject_id", "kind", "status", "source_system"])
        unknown = make_uscc("9", "1", "350203", "MA3R0998")
        for n in range(3):  # a subject nobody loaded, a kind that does not exist
            writer.writerow([f"R-{n}", unknown, "blacklist", "active", "risk-test"])
            writer.writerow([f"K-{n}", FIRM_C, "no_such_kind", "active", "risk-test"])
    report = load_paths(
        registry,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [extra],
        batch_size=2,
        rejects_dir=tmp_path / "rejects-all",
    )
    assert (report.files[0].read, report.files[0].rejected) == (6, 6)
    after = risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    assert (after.snapshot_id, after.data_version) == (first.snapshot_id, first.data_version)
    registry.write("MATCH (h:LoadChunk {uid: $head}) DELETE h", {"head": DATA_HEAD})
    try:
        assert data_version(registry).chunks == first.data_version.chunks
    finally:
        ensure_data_head(registry)


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
    zhang, sun = person(registry, "ZHANG"), person(registry, "SUN")
    report = risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT)
    contagion = report.contagion
    assert contagion.available, "queries/contagion.py score_party is not wired in"
    # worked by hand from the default profile (severity x recency x relation weights x decay):
    # B-1 (blacklist, 92 days old) on firm A, whose legal representative he is: one hop;
    # L-1 (penalty, 121 days old) on firm E, through SUN, responsible for E and for A: three
    by_hand = {
        "B-1": ([firm(FIRM_A), zhang], 1.0 * 0.5 ** (92 / 730) * 0.8 * 0.5),
        "L-1": (
            [firm(FIRM_E), sun, firm(FIRM_A), zhang],
            0.4 * 0.5 ** (121 / 730) * 0.6 * 0.6 * 0.8 * 0.5**3,
        ),
    }
    assert {p.record.record_id: p.parties for p in contagion.paths} == {
        record: parties for record, (parties, _) in by_hand.items()
    }
    for path in contagion.paths:
        assert path.contribution == pytest.approx(by_hand[path.record.record_id][1])
    b1, l1 = by_hand["B-1"][1], by_hand["L-1"][1]
    assert contagion.score == pytest.approx(1 - (1 - b1) * (1 - l1))  # 0.375
    assert contagion.linked_score == contagion.score  # no record of his own
    # about 0.4 until B-1 ends: its decay alone would take six years to reach clear_below
    assert contagion.clears_on == date(2027, 3, 1)


# --- screening ----------------------------------------------------------------------------------


def test_an_own_counting_record_blocks(registry: GraphStore) -> None:
    decision = _decide(registry, firm(FIRM_A))
    assert decision.outcome is Outcome.BLOCK
    assert _reasons(decision) == (["OWN_BLACKLIST"], [])
    lenient = DEFAULT.model_copy(update={"name": "lenient", "block_on_own_record": False})
    assert _decide(registry, firm(FIRM_A), profile=lenient).outcome is Outcome.REVIEW


def test_a_d_grade_firm_reviews_with_its_grades_shown_and_a_red_list_masks_nothing(
    registry: GraphStore,
) -> None:
    # the worked example's firm B: its principal Zhao gets a proposal on its tax grade D, and
    # the firm itself is reviewed on the same grade (docs/risk-model.md)
    decision = _decide(registry, firm(FIRM_B))
    assert decision.outcome is Outcome.REVIEW
    assert _reasons(decision) == (["OWN_DEFICIENT_GRADE"], [])
    assert decision.own_reasons[0].record_uid is not None
    assert sorted((g.scheme, g.grade) for g in decision.grades) == [
        ("environment", "green"),
        ("tax", "D"),
    ]
    assert decision.registration_status == "active"
    # firm A's red list is shown with the decision and leaves its blacklist's BLOCK as it was
    firm_a = _decide(registry, firm(FIRM_A))
    assert firm_a.outcome is Outcome.BLOCK
    assert _reasons(firm_a) == (["OWN_BLACKLIST"], [])
    assert [r.record_id for r in firm_a.positive] == ["H-A"]
    # a profile that treats no grade as deficient reviews neither the firm nor its principal
    lenient = DEFAULT.model_copy(update={"name": "no-grades", "role_rule_grades": frozenset()})
    assert _decide(registry, firm(FIRM_B), profile=lenient).outcome is Outcome.PASS
    zhao = _decide(registry, person(registry, "ZHAO"), profile=lenient)
    assert zhao.outcome is Outcome.PASS


def test_a_sector_blacklist_blocks_in_its_sector_only_where_the_profile_says_so(
    registry: GraphStore,
) -> None:
    """FIRM_A's blacklist B-1 is a work-safety one (DOMAIN.md: sector blacklists). A screen
    for a sector says whether each record is of it; a profile that scopes blacklists to their
    sector sends a screen for another sector to a person instead of blocking it."""
    report = _scored(risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT), 0.0)
    plain = screen_decision(report, DEFAULT)
    assert plain.sector is None and plain.own_reasons[0].in_sector is None
    assert plain.own_reasons[0].record_sector == "work_safety"
    # under the built-in profiles a blacklist blocks whatever the sector
    elsewhere = screen_decision(report, DEFAULT, "construction")
    assert (elsewhere.outcome, elsewhere.sector) == (Outcome.BLOCK, "construction")
    assert elsewhere.own_reasons[0].in_sector is False
    scoped = DEFAULT.model_copy(
        update={"name": "scoped", "sector_scoped_kinds": frozenset({RecordKind.BLACKLIST})}
    )
    report = _scored(risk_report(registry, firm(FIRM_A), as_of=AS_OF, profile=scoped), 0.0)
    other = screen_decision(report, scoped, "construction")
    assert other.outcome is Outcome.REVIEW
    assert _reasons(other) == (["OWN_BLACKLIST"], [])
    assert "in work_safety, not in construction" in other.own_reasons[0].detail
    own = screen_decision(report, scoped, "work_safety")
    assert own.outcome is Outcome.BLOCK and own.own_reasons[0].in_sector is True
    # a screen that names no sector blocks, as before
    assert screen_decision(report, scoped).outcome is Outcome.BLOCK
    assert decision_json(other)["sector"] == "construction"


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
    return cli_runner(monkeypatch, embedded, registry)


def test_risk_explain_prints_both_layers_and_the_decision_as_json(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        [
            "risk",
            "explain",
            PEOPLE["ZHANG"],
            "--as-of",
            "2024-06-01",
            "--json",
            "--purpose",
            "licensing",
        ],
    )
    assert result.exit_code == 0, result.output
    assert PEOPLE["ZHANG"] not in result.stdout  # an ID number is never echoed
    document = json.loads(result.stdout)
    assert document["found"] and document["as_of"] == "2024-06-01"
    assert document["own"]["flags"] == []
    [proposal] = document["linked"]["proposals"]
    assert proposal["code"] == "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"
    assert proposal["via"]["firm"]["id"] == FIRM_A
    assert document["linked"]["contagion"]["available"]
    assert document["decision"]["outcome"] in ("REVIEW", "BLOCK")
    assert document["decision"]["outcome"] == "REVIEW"  # a proposal never blocks


def test_risk_explain_as_a_table(cli: CliRunner) -> None:
    # the firms' contagion paths pass through persons: a purpose, as the API's riskReport asks
    purpose = ["--purpose", "licensing"]
    result = cli.invoke(app, ["risk", "explain", FIRM_A, "--as-of", "2024-06-01", *purpose])
    assert result.exit_code == 0, result.output
    assert "BLOCK" in result.output and "OWN_BLACKLIST" in result.output
    assert "expired on 2016-01-01" in result.output  # B-0 as history
    assert "positive: red_list" in result.output  # H-A, as the JSON has it
    graded = cli.invoke(app, ["risk", "explain", FIRM_B, "--as-of", "2024-06-01", *purpose])
    assert graded.exit_code == 0, graded.output
    assert "grade: tax D" in graded.output and "grade: environment green" in graded.output
    table = cli.invoke(
        app, ["risk", "explain", FIRM_A, "--as-of", "2024-06-01", "--sector", "tax", *purpose]
    )
    assert ") for tax: BLOCK" in table.output
    sector = ["--sector", "work_safety", "--json", *purpose]
    decided = cli.invoke(app, ["risk", "explain", FIRM_A, "--as-of", "2024-06-01", *sector])
    decision = json.loads(decided.stdout)["decision"]
    assert decision["sector"] == "work_safety" and decision["own_reasons"][0]["in_sector"]


def test_risk_explain_as_a_table_marks_a_path_resting_on_a_record_under_objection(
    cli: CliRunner,
) -> None:
    # FENG's firm F has a serious violation S-F under objection since 2024-05-01: under
    # `strict` it counts, and the contagion path resting on it says so, in the JSON and the text
    argv = ["risk", "explain", PEOPLE["FENG"], "--as-of", "2024-06-01", "--profile", "strict"]
    argv += ["--purpose", "licensing"]
    document = json.loads(cli.invoke(app, [*argv, "--json"]).stdout)
    paths = document["linked"]["contagion"]["paths"]
    objected = [p for p in paths if p["record"]["under_objection"]]
    assert objected, paths
    result = cli.invoke(app, argv)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " via " in line]
    assert len(lines) == len(paths), result.output
    for path, line in zip(paths, lines, strict=True):
        assert path["record"]["uid"] in line
        assert ("(under objection)" in line) is path["record"]["under_objection"], line


@pytest.mark.parametrize(
    ("arguments", "code", "named"),
    [
        (["risk", "explain", "hello"], 2, "ID:"),
        (["risk", "explain", FIRM_A, "--as-of", "2024-13-01"], 2, "--as-of"),
        (["risk", "explain", FIRM_A, "--profile", "lenient"], 2, "default, strict"),
        (["risk", "explain", FIRM_A, "--sector", "安全生产"], 2, "--sector"),
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


# --- the data version ---------------------------------------------------------------------------


def _ledger(store: GraphStore) -> tuple[int, datetime | None]:
    """The run ledger counted the slow way, as the data version once was."""
    row = store.read(
        "MATCH (c:LoadChunk) WHERE c.file_digest IS NOT NULL "
        "RETURN count(c) AS chunks, max(c.committed_at) AS last"
    )[0]
    return row["chunks"], native(row["last"])


def _record_uid(store: GraphStore, record_id: str) -> str:
    rows = store.read("MATCH (r {record_id: $id}) RETURN r.uid AS uid", {"id": record_id})
    return str(rows[0]["uid"])


def _open_objection_on_b1(store: GraphStore) -> RecordTarget:
    """FIRM_A's blacklisting B-1 goes under objection, as the API's openObjection records it."""
    target = find_record(store, _record_uid(store, "B-1"))
    assert target is not None
    apply_changes(
        store,
        target,
        [("obj-1", StatusChangeKind.OBJECTION_OPENED, AS_OF, {"evidence": "paid"})],
        source="api",
        run_id="api:test",
    )
    return target


def test_the_data_version_is_one_read_of_the_ledger_head(registry: GraphStore) -> None:
    counting = CountingStore(registry)
    version = data_version(counting)
    assert counting.reads == [("risk.data_version", 1)]
    assert (version.chunks, version.last_committed_at) == _ledger(registry)
    assert (version.changes, version.last_change_at) == (0, None)


def test_a_graph_loaded_before_the_head_existed_counts_its_ledger_until_it_has_one(
    registry: GraphStore,
) -> None:
    before = data_version(registry)
    registry.write("MATCH (h:LoadChunk {uid: $head}) DELETE h", {"head": DATA_HEAD})
    assert data_version(registry) == before  # counted from the ledger
    ensure_data_head(registry)
    ensure_data_head(registry)  # once only
    assert (
        registry.read("MATCH (h:LoadChunk {uid: $head}) RETURN count(h) AS n", {"head": DATA_HEAD})[
            0
        ]["n"]
        == 1
    )
    counting = CountingStore(registry)
    assert data_version(counting) == before
    assert counting.operations() == ["risk.data_version"]


def test_a_record_change_changes_the_snapshot_id_of_a_linked_party(registry: GraphStore) -> None:
    zhang = person(registry, "ZHANG")  # legal representative of FIRM_A, whose B-1 he answers for
    first = risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT)
    assert _open_objection_on_b1(registry).subjects == [firm(FIRM_A)]
    after = risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT)
    assert after.snapshot_id != first.snapshot_id
    assert after.data_version.chunks == first.data_version.chunks
    assert (first.data_version.changes, after.data_version.changes) == (0, 1)
    assert after.data_version.last_change_at is not None
    # and what the new id names differs: B-1 is under objection, so no proposal under default
    assert first.status.proposals and not after.status.proposals
    again = risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT)
    assert again.snapshot_id == after.snapshot_id


def test_a_data_version_cache_reads_once_per_period_and_forgets_on_invalidate(
    registry: GraphStore,
) -> None:
    now = [100.0]
    cache = DataVersionCache(2.0, clock=lambda: now[0])
    counting = CountingStore(registry)
    first = cache.get(counting)
    now[0] += 1.9
    assert cache.get(counting) == first
    assert counting.operations() == ["risk.data_version"]
    now[0] += 0.2
    cache.get(counting)
    assert counting.operations() == ["risk.data_version"] * 2
    cache.invalidate()
    cache.get(counting)
    assert counting.operations() == ["risk.data_version"] * 3
    assert DataVersionCache(0.0).get(registry) == first  # 0: no cache at all


def test_callers_asking_together_share_a_read_that_began_after_they_asked() -> None:
    # the first read is held until the five later callers have queued behind it (the shared
    # read's `on_queued` says so): they all ask while it runs, and share the one read after it
    queued = threading.Semaphore(0)
    shared: SharedRead[int] = SharedRead(on_queued=queued.release)
    started, first_began, first_may_end = [0], threading.Event(), threading.Event()

    def read() -> int:
        started[0] += 1
        begun = started[0]
        if begun == 1:
            first_began.set()
            assert first_may_end.wait(5), "the test never let the first read end"
        return begun  # the answer names the read that made it

    answers: dict[str, tuple[int, int]] = {}

    def ask(name: str) -> None:
        asked = started[0]
        answers[name] = (asked, shared.get(read))

    callers = [threading.Thread(target=ask, args=(f"c{i}",)) for i in range(6)]
    callers[0].start()
    assert first_began.wait(5), "the first caller's read did not begin"
    for caller in callers[1:]:  # all ask while the first read runs
        caller.start()
    for n in range(1, len(callers)):
        assert queued.acquire(timeout=5), f"only {n - 1} of 5 callers queued for the next read"
    first_may_end.set()
    for caller in callers:
        caller.join(5)
        assert not caller.is_alive(), "a caller is still waiting for its read"
    assert started[0] == 2  # six callers, two reads
    assert answers["c0"] == (0, 1)
    assert all(answer > asked for asked, answer in answers.values())  # none took an older read
    assert shared.get(read) == 3  # nothing under way: a read of its own


def test_every_caller_sharing_a_read_hears_that_it_failed() -> None:
    # the first read fails only once the three other callers have queued for the next one:
    # the first caller hears its failure, the other three the failure of the read they share
    queued = threading.Semaphore(0)
    shared: SharedRead[int] = SharedRead(on_queued=queued.release)
    first_began, first_may_end, calls = threading.Event(), threading.Event(), [0]

    def failing() -> int:
        calls[0] += 1
        first_began.set()
        assert first_may_end.wait(5), "the test never let the first read end"
        raise StoreError("store down")

    failures: list[BaseException] = []

    def ask() -> None:
        try:
            shared.get(failing)
        except StoreError as error:
            failures.append(error)

    callers = [threading.Thread(target=ask) for _ in range(4)]
    for caller in callers:
        caller.start()
    assert first_began.wait(5), "no caller's read began"
    for n in range(1, len(callers)):
        assert queued.acquire(timeout=5), f"only {n - 1} of 3 callers queued for the next read"
    first_may_end.set()
    for caller in callers:
        caller.join(5)
        assert not caller.is_alive(), "a caller is still waiting for its read"
    assert len(failures) == 4 and calls[0] == 2
    assert shared.get(lambda: 7) == 7  # and the next read is not stuck behind them


def test_a_data_version_read_per_call_is_shared_by_concurrent_calls(registry: GraphStore) -> None:
    # the first read of the data version is held until the seven other calls have queued
    # behind it: they share one read after it, two reads for eight calls
    queued = threading.Semaphore(0)
    first_began, first_may_end = threading.Event(), threading.Event()

    class HeldStore(CountingStore):
        def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not first_began.is_set():  # one read runs at a time until it is let go
                first_began.set()
                assert first_may_end.wait(10), "the test never let the first read end"
            return super().read(*args, **kwargs)

    cache, held = DataVersionCache(0.0, on_queued=queued.release), HeldStore(registry)
    versions: list[DataVersion] = []
    callers = [threading.Thread(target=lambda: versions.append(cache.get(held))) for _ in range(8)]
    for caller in callers:
        caller.start()
    assert first_began.wait(10), "no call's read began"
    for n in range(1, len(callers)):
        assert queued.acquire(timeout=10), f"only {n - 1} of 7 calls queued for the next read"
    first_may_end.set()
    for caller in callers:
        caller.join(10)
        assert not caller.is_alive(), "a call is still waiting for its read"
    assert versions == [data_version(registry)] * 8
    assert held.operations() == ["risk.data_version"] * 2


def test_a_version_read_while_this_process_wrote_is_not_kept(registry: GraphStore) -> None:
    cache = DataVersionCache(60.0)

    class WritingMeanwhile(CountingStore):
        def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            rows = super().read(*args, **kwargs)
            if len(self.reads) == 1:
                cache.invalidate()  # a record change of this process committed meanwhile
            return rows

    counting = WritingMeanwhile(registry)
    cache.get(counting)
    cache.get(counting)
    assert counting.operations() == ["risk.data_version"] * 2


# --- round trips --------------------------------------------------------------------------------


def test_a_batch_of_reports_costs_the_reads_of_one(registry: GraphStore) -> None:
    """The data version, one read per contagion level, one for the records, one for the
    properties of the relations the explanations show, and, when a party is not clear, the
    clearing date's walk over what the store holds later (one read per level and one for the
    records): for one party as for a batch."""
    one = CountingStore(registry)
    report = risk_report(one, person(registry, "ZHANG"), as_of=AS_OF, profile=DEFAULT)
    assert report.contagion.paths
    keys = [person(registry, name) for name in PEOPLE]
    keys += [firm(f) for f in (FIRM_A, FIRM_B, FIRM_C)] + [NOWHERE]
    many = CountingStore(registry)
    batch = risk_reports(many, keys, as_of=AS_OF, profile=DEFAULT)
    for counting in (one, many):
        operations = counting.operations()
        assert operations[0] == "risk.data_version", counting.reads
        assert operations.count("risk.neighbourhood") <= DEFAULT.max_depth + 1
        assert operations.count("risk.relation_details") <= 1
        assert operations.count("risk.clearing") <= DEFAULT.max_depth + 1
        assert operations[-1] == "risk.data_version_check"  # nothing committed meanwhile
        assert len(operations) <= 2 * DEFAULT.max_depth + 5
    # what the name says: thirteen parties' reports cost no more reads than ZHANG's alone
    assert len(many.operations()) <= len(one.operations())
    # and they are reports with explanations, not thirteen empty ones
    assert sum(len(r.contagion.paths) for r in batch.values()) > 0


# --- through the API ----------------------------------------------------------------------------

SCREEN = """query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) {
    decision snapshotId } }"""


@pytest.fixture
def cached_api(
    embedded: EmbeddedStore, driver: Any, settings: Settings, tmp_path: Path
) -> Iterator[ApiEnv]:
    """The API with the tiny registry, its workers reusing a data version for a minute."""
    yield from start_api_env(embedded, driver, settings, tmp_path, risk_data_version_cache_s=60.0)


def _data_version_reads(api: ApiEnv) -> int:
    return _reads(api, "risk.data_version")


def _reads(api: ApiEnv, operation: str) -> int:
    prefix = f'credgraph_store_duration_seconds_count{{operation="{operation}"}}'
    lines = api.client.get("/metrics").text.splitlines()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines if line.startswith(prefix))


@pytest.fixture
def uncached_api(
    embedded: EmbeddedStore, driver: Any, settings: Settings, tmp_path: Path
) -> Iterator[ApiEnv]:
    """The API with the tiny registry, its workers reading the data version on every request."""
    yield from start_api_env(embedded, driver, settings, tmp_path)


def test_a_screen_asked_again_costs_one_read_until_the_data_changes(
    uncached_api: ApiEnv,
) -> None:
    def screen() -> dict[str, Any]:
        answer = uncached_api.gql(SCREEN, role=ApiRole.APPROVAL, purpose=None, ids=[API_FIRM_A])
        assert "errors" not in answer, answer
        return answer["data"]["screen"][0]  # type: ignore[no-any-return]

    first = screen()
    lookups, versions = _reads(uncached_api, "lookup"), _reads(uncached_api, "risk.data_version")
    assert screen() == first
    assert _reads(uncached_api, "lookup") == lookups  # the identifier came from the cache
    assert _reads(uncached_api, "risk.data_version") == versions + 1  # its one read
    uncached_api.gql(
        """mutation ($r: String!) { openObjection(recordId: $r, evidence: "paid in full",
            deadline: "2099-01-01") { status } }""",
        role=ApiRole.ADMIN,
        purpose="objection_handling",
        r=OBJECTION_RECORD,
    )
    after = screen()
    assert after["snapshotId"] != first["snapshotId"]
    assert _reads(uncached_api, "lookup") > lookups  # resolved again under the new version


def test_a_record_change_through_the_api_changes_the_snapshot_id_of_a_linked_screen(
    cached_api: ApiEnv,
) -> None:
    def screen() -> dict[str, Any]:
        answer = cached_api.gql(SCREEN, role=ApiRole.APPROVAL, purpose=None, ids=[API_FIRM_A])
        assert "errors" not in answer, answer
        return answer["data"]["screen"][0]  # type: ignore[no-any-return]

    first = screen()
    assert screen() == first
    assert _data_version_reads(cached_api) == 1  # the worker reused the version it read
    opened = cached_api.gql(
        """mutation ($r: String!) { openObjection(recordId: $r, evidence: "paid in full",
            deadline: "2099-01-01") { status } }""",
        role=ApiRole.ADMIN,
        purpose="objection_handling",
        r=OBJECTION_RECORD,  # a record of FIRM_B, which FIRM_A holds and guarantees
    )
    assert opened["data"]["openObjection"]["status"] == "under_objection", opened
    after = screen()
    assert after["snapshotId"] != first["snapshotId"]
    assert _data_version_reads(cached_api) == 2  # the change made the worker read it again


def test_a_report_cache_answers_again_without_reads_until_the_data_changes(
    registry: GraphStore,
) -> None:
    zhang, firm_a = person(registry, "ZHANG"), firm(FIRM_A)
    cache = ReportCache(100)
    first = risk_reports(registry, [zhang, firm_a], as_of=AS_OF, profile=DEFAULT, cache=cache)

    counting = CountingStore(registry)
    again = risk_reports(counting, [firm_a, zhang], as_of=AS_OF, profile=DEFAULT, cache=cache)
    assert again == first  # the same reports, read from the cache
    assert counting.operations() == ["risk.data_version"]  # only the version, to name them
    # another date or profile is another answer: read, not found in the cache
    strict = risk_report(
        registry, zhang, as_of=AS_OF, profile=BUILTIN_PROFILES["strict"], cache=cache
    )
    assert strict.snapshot_id != first[zhang].snapshot_id
    assert (cache.hits, cache.misses) == (2, 3)

    _open_objection_on_b1(registry)
    after = risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT, cache=cache)
    assert after == risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT)  # as uncached
    assert after.snapshot_id != first[zhang].snapshot_id
    assert first[zhang].status.proposals and not after.status.proposals


def test_a_screen_s_reports_seek_no_clearing_date_and_are_kept_apart(
    registry: GraphStore,
) -> None:
    """A screen shows no clearing date, and the search for one costs more than the score: its
    reports are made without one, and a report asked with one is never answered by them."""
    zhang, firm_a = person(registry, "ZHANG"), firm(FIRM_A)
    full = risk_reports(registry, [zhang, firm_a], as_of=AS_OF, profile=DEFAULT)
    uncleared = [k for k, r in full.items() if r.contagion.clears_on is not None]
    assert uncleared, "the fixture has a party whose score clears later"
    cache = ReportCache(100)
    quick = risk_reports(
        registry, [zhang, firm_a], as_of=AS_OF, profile=DEFAULT, cache=cache, clearing=False
    )
    assert all(r.contagion.clears_on is None for r in quick.values())
    assert {k: r.contagion.score for k, r in quick.items()} == {
        k: r.contagion.score for k, r in full.items()
    }
    cached = risk_reports(registry, [zhang, firm_a], as_of=AS_OF, profile=DEFAULT, cache=cache)
    assert cached == full  # read again, with its clearing date, not the screen's report


def test_an_identifier_cache_resolves_once_per_data_version(registry: GraphStore) -> None:
    cache = IdentifierCache(10)
    key = TEST_PERSON_KEY.encode()
    token = data_version(registry).token()
    counting = CountingStore(registry)
    assert cache.resolve(counting, FIRM_A, key, token) == firm(FIRM_A)
    assert cache.resolve(counting, f" {FIRM_A} ", key, token) == firm(FIRM_A)  # as typed
    assert cache.resolve(counting, PEOPLE["ZHANG"], key, token) == person(registry, "ZHANG")
    assert len(counting.reads) == 2  # the spaced FIRM_A came from the cache
    # its own uid, then a legal person carrying the number, then its alias
    assert cache.resolve(counting, NOWHERE.uid, key, token) is None
    reads = len(counting.reads)
    assert reads == 5
    assert cache.resolve(counting, NOWHERE.uid, key, token) is None  # "nobody" is kept too
    assert len(counting.reads) == reads
    assert cache.resolve(counting, FIRM_A, key, token + "+1") == firm(FIRM_A)  # data moved
    assert len(counting.reads) == reads + 1
    for _ in range(2):  # no identifier at all: refused every time, never kept
        with pytest.raises(BadIdentifier, match=r"^masked: give the full identifier$"):
            cache.resolve(counting, "91230199744****927K", key, token)
    kept = repr(cache._cache._entries)  # what the worker's memory holds
    assert PEOPLE["ZHANG"] not in kept  # a resident ID number only as its HMAC
    nothing = IdentifierCache(0)
    nothing.resolve(counting, FIRM_A, key, token)
    nothing.resolve(counting, FIRM_A, key, token)
    assert len(counting.reads) == reads + 3


def test_reports_take_the_hubs_a_hub_cache_keeps(graph: GraphStore, tmp_path: Path) -> None:
    reg = star_registry(30, "guarantees")  # H guarantees 30 leaves; L0 guarantees X
    reg.record("BX-1", "X")  # X is blacklisted
    reg.load(graph, tmp_path)
    leaves = [reg.key(f"L{i}") for i in range(30)]
    hubs = HubCache(1000, least=10)  # H has 30 relations, L0 2, every other party 1
    counting = CountingStore(graph)

    def reports(key: PartyKey, **options: Any) -> tuple[RiskReport, int]:
        before = counting.operations().count("risk.neighbourhood")
        report = risk_report(counting, key, as_of=AS_OF, profile=DEFAULT, **options)
        return report, counting.operations().count("risk.neighbourhood") - before

    # levels: the leaf and its relation; H's 30; the other leaves' (to X); then the records
    first, reads = reports(leaves[1], hubs=hubs)
    assert first == reports(leaves[1])[0] and reads == 4 and len(hubs) == 1
    assert first.contagion.available and first.contagion.score > 0  # X, 3 hops away
    # another leaf: H's relations come from the cache, the same report as without it
    second, reads = reports(leaves[2], hubs=hubs)
    assert second == reports(leaves[2])[0] and reads == 3
    assert [p.parties for p in second.contagion.paths] == [
        [reg.key("X"), leaves[0], reg.key("H"), leaves[2]]
    ]
    # another data version is another graph: H is read again
    now = data_version(graph)
    graph.write(COUNT_CHANGE, {"head": DATA_HEAD, "at": datetime.now(UTC)})  # a record change
    assert reports(leaves[3], hubs=hubs)[1] == 4
    # a walk's kept relations are another read's: the report does not take them
    hubs = HubCache(1000, least=10)
    linked_parties(graph, leaves[4], depth=2, as_of=AS_OF, hubs=hubs.bound(graph, now.token()))
    assert len(hubs) == 1 and reports(leaves[4], hubs=hubs)[1] == 4


def test_a_report_cache_keeps_the_most_recently_used_only(registry: GraphStore) -> None:
    zhang, firm_a = person(registry, "ZHANG"), firm(FIRM_A)
    cache = ReportCache(1)
    risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT, cache=cache)
    risk_report(registry, firm_a, as_of=AS_OF, profile=DEFAULT, cache=cache)  # pushes ZHANG out
    counting = CountingStore(registry)
    risk_report(counting, firm_a, as_of=AS_OF, profile=DEFAULT, cache=cache)
    assert counting.operations() == ["risk.data_version"]
    risk_report(counting, zhang, as_of=AS_OF, profile=DEFAULT, cache=cache)
    assert len(counting.operations()) > 2  # read again
    nothing = ReportCache(0)
    risk_report(registry, zhang, as_of=AS_OF, profile=DEFAULT, cache=nothing)
    counting = CountingStore(registry)
    risk_report(counting, zhang, as_of=AS_OF, profile=DEFAULT, cache=nothing)
    assert len(counting.operations()) > 2


class _MovingStore(CountingStore):
    """The real store, where another writer commits while the first neighbourhood level is
    read: a record change counted on the ledger's head (as an API repair is)."""

    def __init__(self, base: GraphStore, moves: int = 1) -> None:
        super().__init__(base)
        self.moves = moves

    def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rows = super().read(*args, **kwargs)
        if kwargs.get("operation") == "risk.neighbourhood" and self.moves:
            self.moves -= 1
            self.write(COUNT_CHANGE, {"head": DATA_HEAD, "at": datetime.now(UTC)})
        return rows


def test_a_report_read_while_the_graph_moves_names_the_data_it_shows(
    registry: GraphStore,
) -> None:
    """An answer and its snapshot id name the same data: a commit among a report's reads makes
    it read again under the newer version, never keep the old id."""
    moving = _MovingStore(registry)
    before = data_version(registry)
    report = risk_report(moving, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    assert report.data_version == data_version(registry) != before
    assert report.snapshot_id == snapshot_id(DEFAULT, report.data_version)
    # a caller that labels its answer with the version it read is told to read again
    given = data_version(registry)
    with pytest.raises(DataMoved) as moved:
        risk_report(_MovingStore(registry), firm(FIRM_A), as_of=AS_OF, profile=DEFAULT, data=given)
    assert moved.value.now == data_version(registry) != given
    # a graph that keeps moving: the store cannot answer this moment
    with pytest.raises(StoreError, match="changed while the reports were read"):
        risk_report(_MovingStore(registry, moves=10), firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
