"""DOMAIN.md's rules on when a record counts, checked through `credgraph risk explain --json`
on a tiny registry loaded through the real loader, on the days around each date that matters.

The registry, worked out by hand (default profile: penalties and blacklists 3 calendar years,
when the source gives no end, "counted from the decision date"):

- FIRM_P: administrative penalty P-1 decided 2024-01-01, published (valid from) 2024-03-01, no
  end. 2024-01-01 + 3 years = 2027-01-01, 1,096 days for the leap day 2024-02-29 (1,095 days
  would stop it on 2026-12-31): it counts on 2026-12-31 and no longer on 2027-01-01, though 3
  years from its publication would run to 2027-03-01.
- FIRM_S: blacklist S-1 decided 2024-01-01, valid from 2024-03-01, no end: the same term.
  REP, its legal representative since 2020-01-01, gets the role rule's proposal on the same
  days and not after.
- FIRM_U: blacklist U-1 with no date at all (no decision, publication, start or end) and red list
  H-U with none either. The blacklist's term (at most 3 years from a decision nobody knows)
  cannot be placed: it is listed under `term_unknown` on every date, never a flag, no contagion
  seed, and sends a screen to REVIEW (`RECORD_TERM_UNKNOWN`, own) for a person to decide; the red
  list, a kind no duration limits, stays positive. OPERATOR, its legal representative, gets no
  proposal: the record does not count.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.store import GraphStore
from typer.testing import CliRunner

from credgraph.cli import app
from tests.investigations import cli_runner, explain
from tests.registries import load_folder, write_csv

FIRM_P = make_uscc("9", "1", "445102", "MA6D0001")
FIRM_S = make_uscc("9", "1", "445102", "MA6D0002")
FIRM_U = make_uscc("9", "1", "445102", "MA6D0003")
REP = make_resident_id("445102", date(1971, 2, 3), 5, "M")
OPERATOR = make_resident_id("445102", date(1972, 3, 4), 6, "F")

RECORD_COLUMNS = ["record_id", "subject_id", "kind", "sector", "decision_date", "valid_from"]
RECORD_COLUMNS += ["valid_to", "status", "disclosure", "source_system"]


def _record(record_id: str, subject: str, kind: str, decided: str, start: str) -> list[str]:
    return [record_id, subject, kind, "tax", decided, start, "", "active", "public", "dom"]


def write_terms_registry(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [FIRM_P, "期限测试甲公司", "enterprise"],
            [FIRM_S, "期限测试乙公司", "enterprise"],
            [FIRM_U, "期限测试丙公司", "enterprise"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", REP, "Rep"], ["resident", OPERATOR, "Operator"]],
    )
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "source_record"],
        [
            [REP, FIRM_S, "legal_representative", "2020-01-01", "r1"],
            [OPERATOR, FIRM_U, "legal_representative", "2020-01-01", "r2"],
        ],
    )
    write_csv(
        folder / "records.csv",
        RECORD_COLUMNS,
        [
            _record("P-1", FIRM_P, "admin_penalty", "2024-01-01", "2024-03-01"),
            _record("S-1", FIRM_S, "blacklist", "2024-01-01", "2024-03-01"),
            _record("U-1", FIRM_U, "blacklist", "", ""),
            _record("H-U", FIRM_U, "red_list", "", ""),
        ],
    )
    return folder


@pytest.fixture
def cli(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    report = load_folder(graph, write_terms_registry(tmp_path / "terms"), tmp_path / "rejects")
    assert report.rejected == 0, report.to_json()
    return cli_runner(monkeypatch, embedded, graph)


def test_a_default_term_is_counted_from_the_decision_date(cli: CliRunner) -> None:
    last = explain(cli, FIRM_P, "2026-12-31")
    [flag] = last["own"]["flags"]
    assert flag["code"] == "OWN_ADMIN_PENALTY"
    assert flag["record"]["starts_on"] == "2024-03-01"
    assert flag["record"]["ends_on"] == "2027-01-01"
    assert last["decision"]["outcome"] == "BLOCK"
    after = explain(cli, FIRM_P, "2027-01-01")
    assert after["own"]["flags"] == []
    [entry] = after["own"]["history"]
    assert (entry["why"], entry["stopped_on"]) == ("expired", "2027-01-01")
    assert after["decision"]["outcome"] == "PASS"
    assert explain(cli, FIRM_P, "2027-02-28")["decision"]["outcome"] == "PASS"


def test_the_role_rule_ends_with_the_firm_record_s_default_term(cli: CliRunner) -> None:
    [proposal] = explain(cli, REP, "2026-12-31")["linked"]["proposals"]
    assert proposal["code"] == "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"
    assert proposal["record"]["ends_on"] == "2027-01-01"
    assert explain(cli, REP, "2027-01-01")["linked"]["proposals"] == []


@pytest.mark.parametrize("day", ["1990-01-01", "2024-06-01", "2040-01-01"])
def test_a_negative_record_without_any_date_never_counts_and_goes_to_a_person(
    cli: CliRunner, day: str
) -> None:
    document = explain(cli, FIRM_U, day)
    assert document["own"]["flags"] == []
    [unknown] = document["own"]["term_unknown"]
    assert (unknown["record_id"], unknown["counts"], unknown["term_unknown"]) == (
        "U-1",
        False,
        True,
    )
    assert [r["record_id"] for r in document["own"]["positive"]] == ["H-U"]
    assert document["linked"]["contagion"]["score"] == 0.0
    decision = document["decision"]
    assert decision["outcome"] == "REVIEW"
    assert [r["code"] for r in decision["own_reasons"]] == ["RECORD_TERM_UNKNOWN"]
    assert decision["linked_reasons"] == []
    table = cli.invoke(app, ["risk", "explain", FIRM_U, "--as-of", day])
    assert "term unknown (no date to place it; never counts): blacklist" in table.output
    operator = explain(cli, OPERATOR, day)
    assert operator["linked"]["proposals"] == []
    assert operator["decision"]["outcome"] == "PASS"
