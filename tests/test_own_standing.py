"""What an approval clerk must see about the applicant itself (docs/risk-model.md, Risk report
and screening): its own current grades and red-list records beside the reasons, never offsetting
one; a deficient own grade (the test its representative's proposal rests on) and a revoked or
cancelled registration as own reasons to REVIEW. Through `risk_report`, the API's `screen` and
`riskReport`, and `credgraph risk explain`, on a registry of its own."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.risk import Outcome, ReportCache, risk_report, screen_decision
from typer.testing import CliRunner

from tests.api_support import ApiEnv, module_api
from tests.investigations import explain
from tests.registries import write_csv

DEFAULT = BUILTIN_PROFILES["default"]


def _firm(n: int) -> str:
    return make_uscc("9", "1", "350206", f"MH8Q{n:04d}")


D_GRADE, RED, RED_AND_BLACK, REVOKED, CANCELLED, MOVED, CLEAN = (_firm(n) for n in range(1, 8))
REPRESENTATIVE = make_resident_id("350206", date(1975, 3, 4), 51, "M")

RECORD_HEADER = ["record_id", "subject_id", "kind", "sector", "scheme", "grade", "list_name"]
RECORD_HEADER += ["authority_name", "decision_date", "valid_from", "valid_to", "status"]
RECORD_HEADER += ["disclosure", "source_system"]


def _record(record_id: str, subject: str, kind: str, **given: str) -> list[str]:
    fields = {"sector": "tax", "start": "2025-01-01", "end": "", **given}
    return [
        record_id,
        subject,
        kind,
        fields["sector"],
        fields.get("scheme", ""),
        fields.get("grade", ""),
        fields.get("list_name", ""),
        "厦门市税务局",
        fields["start"],
        fields["start"],
        fields["end"],
        "active",
        "public",
        "standing",
    ]


def write_standing(extra: Path) -> None:
    statuses = ["active", "active", "active", "revoked", "cancelled", "moved_out", "active"]
    firms = [D_GRADE, RED, RED_AND_BLACK, REVOKED, CANCELLED, MOVED, CLEAN]
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind", "status"],
        [
            [uscc, f"信用状况测试公司{i}", "enterprise", status]
            for i, (uscc, status) in enumerate(zip(firms, statuses, strict=True))
        ],
    )
    write_csv(
        extra / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", REPRESENTATIVE, "信用代表", "M"]],
    )
    write_csv(
        extra / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "source_record"],
        [[REPRESENTATIVE, D_GRADE, "legal_representative", "2020-01-01", "st1"]],
    )
    write_csv(
        extra / "records.csv",
        RECORD_HEADER,
        [
            _record("G-OLD", D_GRADE, "grade", scheme="tax", grade="B", start="2023-01-01"),
            _record("G-D", D_GRADE, "grade", scheme="tax", grade="D"),
            _record(
                "G-ENV", D_GRADE, "grade", sector="environment", scheme="environment", grade="green"
            ),
            _record("R-1", RED, "red_list", list_name="守信红名单"),
            _record("R-2", RED_AND_BLACK, "red_list", list_name="守信红名单"),
            _record("B-2", RED_AND_BLACK, "blacklist", end="2029-01-01"),
            _record("G-A", RED, "grade", scheme="tax", grade="A"),
        ],
    )


api_env, cli = module_api("standing", write_standing)


def _report(api_env: ApiEnv, uscc: str, cache: ReportCache | None = None) -> Any:
    key = PartyKey(Label.LEGAL_PERSON, uscc)
    return risk_report(api_env.store, key, as_of=clock.today(), profile=DEFAULT, cache=cache)


def _own(decision: Any) -> list[str]:
    return [r.code for r in decision.own_reasons]


def test_a_d_grade_firm_is_reviewed_as_its_representative_is(api_env: ApiEnv) -> None:
    report = _report(api_env, D_GRADE)
    decision = screen_decision(report, DEFAULT)
    assert decision.outcome is Outcome.REVIEW
    assert _own(decision) == ["OWN_DEFICIENT_GRADE"]
    assert sorted((g.scheme, g.grade) for g in decision.grades) == [
        ("environment", "green"),
        ("tax", "D"),
    ]
    assert [g.record_id for g in report.status.deficient_grades] == ["G-D"]
    # the same predicate gives its legal representative a proposal
    answer = screen(api_env, [D_GRADE, REPRESENTATIVE])
    firm, rep = answer
    assert (firm["decision"], _codes(firm["ownReasons"])) == ("REVIEW", ["OWN_DEFICIENT_GRADE"])
    assert rep["decision"] == "REVIEW"
    assert "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM" in _codes(rep["linkedReasons"])
    assert firm["ownReasons"][0]["recordId"] is not None
    assert sorted(
        (g["scheme"], g["grade"], g["authority"], g["startsOn"]) for g in firm["grades"]
    ) == [
        ("environment", "green", "厦门市税务局", "2025-01-01"),
        ("tax", "D", "厦门市税务局", "2025-01-01"),
    ]
    assert firm["registrationStatus"] == "active"
    shown = api_env.gql(REPORT, role=ApiRole.APPROVAL, purpose="licensing", id=D_GRADE)
    report_shown = shown["data"]["riskReport"]
    assert report_shown["deficientGrades"] == [{"scheme": "tax", "grade": "D"}]
    assert report_shown["flags"] == []  # a grade is never a flag
    assert [(h["why"], h["record"]["grade"]) for h in report_shown["history"]] == [
        ("superseded", "B")
    ]


def test_a_red_list_is_shown_and_changes_no_decision(api_env: ApiEnv) -> None:
    red, both, clean = screen(api_env, [RED, RED_AND_BLACK, CLEAN])
    assert (red["decision"], red["ownReasons"], red["linkedReasons"]) == ("PASS", [], [])
    assert [(p["kind"], p["listName"]) for p in red["positive"]] == [("red_list", "守信红名单")]
    assert [(g["scheme"], g["grade"]) for g in red["grades"]] == [("tax", "A")]
    # a red list does not mask a sanction
    assert (both["decision"], _codes(both["ownReasons"])) == ("BLOCK", ["OWN_BLACKLIST"])
    assert [p["kind"] for p in both["positive"]] == ["red_list"]
    assert (clean["decision"], clean["positive"], clean["grades"]) == ("PASS", [], [])
    report = api_env.gql(REPORT, role=ApiRole.APPROVAL, purpose="licensing", id=RED_AND_BLACK)
    shown = report["data"]["riskReport"]
    assert [p["kind"] for p in shown["positive"]] == ["red_list"]
    assert [f["code"] for f in shown["flags"]] == ["OWN_BLACKLIST"]
    assert shown["registrationStatus"] == "active"


def test_revoked_and_cancelled_registrations_are_reasons_to_review(api_env: ApiEnv) -> None:
    revoked, cancelled, moved = screen(api_env, [REVOKED, CANCELLED, MOVED])
    assert (revoked["decision"], _codes(revoked["ownReasons"])) == (
        "REVIEW",
        ["REGISTRATION_REVOKED"],
    )
    assert revoked["registrationStatus"] == "revoked"
    assert (cancelled["decision"], _codes(cancelled["ownReasons"])) == (
        "REVIEW",
        ["REGISTRATION_CANCELLED"],
    )
    assert cancelled["registrationStatus"] == "cancelled"
    assert (moved["decision"], moved["ownReasons"], moved["registrationStatus"]) == (
        "PASS",
        [],
        "moved_out",
    )
    report = api_env.gql(REPORT, role=ApiRole.APPROVAL, purpose="licensing", id=REVOKED)
    assert report["data"]["riskReport"]["registrationStatus"] == "revoked"


def test_a_cached_report_answers_the_same(api_env: ApiEnv) -> None:
    cache = ReportCache(16)
    first = screen_decision(_report(api_env, REVOKED, cache), DEFAULT)
    again = screen_decision(_report(api_env, REVOKED, cache), DEFAULT)
    assert cache.hits == 1
    assert _own(first) == _own(again) == ["REGISTRATION_REVOKED"]
    assert again.registration_status == "revoked"


def test_risk_explain_shows_the_same(api_env: ApiEnv, cli: CliRunner) -> None:
    today = clock.today().isoformat()
    document = explain(cli, D_GRADE, today)
    decision = document["decision"]
    assert decision["outcome"] == "REVIEW"
    assert [r["code"] for r in decision["own_reasons"]] == ["OWN_DEFICIENT_GRADE"]
    assert [(g["scheme"], g["grade"]) for g in document["own"]["deficient_grades"]] == [
        ("tax", "D")
    ]
    assert sorted(g["grade"] for g in decision["grades"]) == ["D", "green"]
    revoked = explain(cli, REVOKED, today)
    assert revoked["registration_status"] == "revoked"
    assert [r["code"] for r in revoked["decision"]["own_reasons"]] == ["REGISTRATION_REVOKED"]
    from credgraph.cli import app

    text = cli.invoke(app, ["risk", "explain", CANCELLED, "--purpose", "licensing"])
    assert text.exit_code == 0, text.output
    assert "registration status: cancelled" in text.output
    assert "REGISTRATION_CANCELLED" in text.output


SCREEN = """
query($ids: [String!]!) {
  screen(ids: $ids, purpose: LICENSING) {
    decision
    ownReasons { code recordId }
    linkedReasons { code }
    registrationStatus
    grades { kind scheme grade authority startsOn }
    positive { kind listName }
  }
}
"""

REPORT = """
query($id: String!) {
  riskReport(id: $id) {
    registrationStatus
    flags { code }
    grades { scheme grade }
    deficientGrades { scheme grade }
    positive { kind listName }
    history { why stoppedOn record { grade } }
  }
}
"""


def screen(api_env: ApiEnv, ids: list[str]) -> list[dict[str, Any]]:
    body = api_env.gql(SCREEN, role=ApiRole.APPROVAL, purpose=None, ids=ids)
    assert "errors" not in body, body
    answer: list[dict[str, Any]] = body["data"]["screen"]
    return answer


def _codes(reasons: list[dict[str, Any]]) -> list[str]:
    return [reason["code"] for reason in reasons]
