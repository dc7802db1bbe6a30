"""DOMAIN.md's status changes (revocation, repair, expiry, objection opened and closed), checked
through `credgraph risk explain --json` on a tiny registry loaded through the real loader, on the
day before, the day of and the day after each change.

The registry, worked out by hand (default profile):

- FIRM_R: blacklist R-1 2024-02-01 to 2027-02-01, revoked 2024-09-01: a flag on 2024-08-31,
  history (revoked, 2024-09-01) from 2024-09-01.
- FIRM_O: blacklist O-1 2024-02-01 to 2027-02-01, objection opened 2024-05-01 and closed
  2024-07-01: BLOCK on 2024-04-30; under objection, REVIEW, from 2024-05-01 to 2024-06-30; a flag
  again, BLOCK, from 2024-07-01.
- FIRM_L: administrative penalty L-1 2024-02-01 to 2025-02-01, repaired 2025-06-01, after its
  term ran out: it stopped counting on 2025-02-01 (expired), and the later repair does not move
  that day (the record says it is repaired, since 2025-06-01).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore
from typer.testing import CliRunner

from tests.investigations import cli_runner, explain
from tests.registries import load_folder, write_csv

FIRM_R = make_uscc("9", "1", "445102", "MA6C0001")
FIRM_O = make_uscc("9", "1", "445102", "MA6C0002")
FIRM_L = make_uscc("9", "1", "445102", "MA6C0003")

RECORD_COLUMNS = ["record_id", "subject_id", "kind", "sector", "decision_date", "valid_from"]
RECORD_COLUMNS += ["valid_to", "status", "disclosure", "source_system"]


def _record(record_id: str, subject: str, kind: str, start: str, end: str) -> list[str]:
    return [record_id, subject, kind, "tax", start, start, end, "active", "public", "dom"]


def write_changes_registry(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [uscc, f"变更测试{i}公司", "enterprise"]
            for i, uscc in enumerate([FIRM_R, FIRM_O, FIRM_L])
        ],
    )
    write_csv(
        folder / "records.csv",
        RECORD_COLUMNS,
        [
            _record("R-1", FIRM_R, "blacklist", "2024-02-01", "2027-02-01"),
            _record("O-1", FIRM_O, "blacklist", "2024-02-01", "2027-02-01"),
            _record("L-1", FIRM_L, "admin_penalty", "2024-02-01", "2025-02-01"),
        ],
    )
    write_csv(
        folder / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [
            ["c1", "R-1", "dom", "revoked", "2024-09-01"],
            ["c2", "O-1", "dom", "objection_opened", "2024-05-01"],
            ["c3", "O-1", "dom", "objection_closed", "2024-07-01"],
            ["c4", "L-1", "dom", "repaired", "2025-06-01"],
        ],
    )
    return folder


@pytest.fixture
def cli(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    report = load_folder(graph, write_changes_registry(tmp_path / "changes"), tmp_path / "rej")
    assert report.rejected == 0, report.to_json()
    return cli_runner(monkeypatch, embedded, graph)


def _summary(document: dict[str, Any]) -> tuple[str, list[str], list[tuple[str, str]]]:
    own = document["own"]
    return (
        document["decision"]["outcome"],
        [f["code"] for f in own["flags"]]
        + [f"objection:{r['record_id']}" for r in own["under_objection"]],
        [(h["why"], h["stopped_on"]) for h in own["history"]],
    )


def test_a_revocation_stops_the_record_counting_on_its_day(cli: CliRunner) -> None:
    assert _summary(explain(cli, FIRM_R, "2024-08-31")) == ("BLOCK", ["OWN_BLACKLIST"], [])
    for day in ("2024-09-01", "2024-09-02"):
        assert _summary(explain(cli, FIRM_R, day)) == ("PASS", [], [("revoked", "2024-09-01")])


def test_an_objection_suspends_the_record_from_its_opening_to_its_closing_day(
    cli: CliRunner,
) -> None:
    assert _summary(explain(cli, FIRM_O, "2024-04-30")) == ("BLOCK", ["OWN_BLACKLIST"], [])
    for day in ("2024-05-01", "2024-06-30"):
        assert _summary(explain(cli, FIRM_O, day)) == ("REVIEW", ["objection:O-1"], [])
    for day in ("2024-07-01", "2024-07-02"):
        assert _summary(explain(cli, FIRM_O, day)) == ("BLOCK", ["OWN_BLACKLIST"], [])


def test_a_repair_after_the_term_ran_out_does_not_move_the_day_it_stopped(cli: CliRunner) -> None:
    assert _summary(explain(cli, FIRM_L, "2025-01-31")) == ("BLOCK", ["OWN_ADMIN_PENALTY"], [])
    for day in ("2025-02-01", "2025-05-31", "2025-06-01", "2025-06-02"):
        document = explain(cli, FIRM_L, day)
        assert _summary(document) == ("PASS", [], [("expired", "2025-02-01")]), day
        [entry] = document["own"]["history"]
        assert entry["record"]["ends_on"] == "2025-02-01"
    repaired = explain(cli, FIRM_L, "2025-06-01")["own"]["history"][0]["record"]
    assert (repaired["status"], repaired["status_since"]) == ("repaired", "2025-06-01")
