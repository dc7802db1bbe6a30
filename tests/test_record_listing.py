"""What a `records.csv` or `court_debtors.csv` row must say, through the real loader into the
store: a dishonest judgment debtor's court and case number, dates that have happened by the
load's day, its enforcement basis kept on the record; and a repaired, revoked or expired
record listed with the day that status began (`status_since`), which counts until that day."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, LiteralString

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.loaders.report import FileReport, LoadReport
from typer.testing import CliRunner

from tests.investigations import cli_runner, explain
from tests.registries import FIRM_A, FIRM_B, RECORD_HEADER, TODAY, load_folder, write_csv

DEBTOR_HEADER = [*RECORD_HEADER, "published_on", "enforcement_basis", "obligation"]
JUDGMENT = "(2023)闽0203民初1234号民事判决书"

SANCTIONS: LiteralString = "MATCH (r:SanctionEvent) RETURN r {.*} AS r"


def _debtor(record_id: str, **cells: str) -> list[str]:
    """A court_debtors.csv row (DEBTOR_HEADER) of the Siming court on FIRM_A; `cells` replace
    the named columns."""
    row = {
        "record_id": record_id,
        "subject_id": FIRM_A,
        "kind": "dishonest_debtor",
        "sector": "judicial",
        "authority_code": "",
        "authority_name": "",
        "decision_date": "2024-05-20",
        "valid_from": "2024-06-01",
        "valid_to": "",
        "status": "active",
        "disclosure": "public",
        "source_system": "zxgk",
        "court": "厦门市思明区人民法院",
        "case_number": f"（2024）闽0203执{record_id}号",
        "published_on": "2024-06-01",
        "enforcement_basis": "",
        "obligation": "",
    }
    row.update(cells)
    return [row[name] for name in DEBTOR_HEADER]


def _load(graph: GraphStore, tmp_path: Path, name: str, rows: list[list[str]]) -> LoadReport:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "鹭岛科技", "enterprise"], [FIRM_B, "闽江贸易", "enterprise"]],
    )
    write_csv(folder / name, DEBTOR_HEADER, rows)
    return load_folder(graph, folder, tmp_path / "rejects")


def _file(report: LoadReport, name: str) -> FileReport:
    return next(f for f in report.files if f.file.endswith(name))


def _rejects(report: FileReport) -> list[tuple[str, str, str]]:
    assert report.rejects_file is not None
    with Path(report.rejects_file).open(encoding="utf-8", newline="") as handle:
        return [(row["line"], row["field"], row["reason"]) for row in csv.DictReader(handle)]


def _stored(graph: GraphStore) -> dict[str, dict[str, Any]]:
    rows = graph.read(SANCTIONS)
    return {row["r"]["record_id"]: row["r"] for row in rows}


def test_a_dishonest_debtor_needs_its_court_and_case_number(
    graph: GraphStore, tmp_path: Path
) -> None:
    rows = [
        _debtor("D1"),
        _debtor("D2", court=""),
        _debtor("D3", case_number=""),
        _debtor("D4", court="", case_number=""),
        _debtor("D5", enforcement_basis=JUDGMENT, obligation="支付货款人民币50,000元"),
        # an administrative penalty names no court and no case: it loads
        _debtor("P6", kind="admin_penalty", court="", case_number=""),
    ]
    report = _load(graph, tmp_path, "court_debtors.csv", rows)
    debtors = _file(report, "court_debtors.csv")
    assert (debtors.read, debtors.loaded, debtors.rejected) == (6, 3, 3)
    assert debtors.read == debtors.loaded + debtors.rejected + debtors.merged
    reason = "is required for a dishonest judgment debtor"
    assert _rejects(debtors) == [
        ("3", "court", reason),
        ("4", "case_number", reason),
        ("5", "court", reason),
    ]
    stored = _stored(graph)
    assert sorted(stored) == ["D1", "D5", "P6"]
    assert stored["D5"]["enforcement_basis"] == JUDGMENT
    assert stored["D5"]["obligation"] == "支付货款人民币50,000元"
    assert "enforcement_basis" not in stored["D1"]


def test_a_record_cannot_be_decided_or_published_after_the_load_s_day(
    graph: GraphStore, tmp_path: Path
) -> None:
    today = TODAY.isoformat()  # 2026-06-30
    rows = [
        _debtor("D1", kind="blacklist", court="", case_number=""),
        _debtor("D2", kind="blacklist", decision_date="2099-05-20"),
        _debtor("D3", published_on="2026-07-01"),
        _debtor("D4", decision_date=today, published_on=today, valid_from=""),
        _debtor("D5", valid_from="2099-01-01", valid_to="2099-12-31"),  # future validity: fine
    ]
    report = _load(graph, tmp_path, "records.csv", rows)
    records = _file(report, "records.csv")
    assert (records.read, records.loaded, records.rejected) == (5, 3, 2)
    assert _rejects(records) == [
        (
            "3",
            "decision_date",
            f"2099-05-20 is after the load's day ({today}): "
            "a record cannot have been decided in the future",
        ),
        (
            "4",
            "published_on",
            f"2026-07-01 is after the load's day ({today}): "
            "a record cannot have been published in the future",
        ),
    ]
    assert sorted(_stored(graph)) == ["D1", "D4", "D5"]


# --- a status listed with the day it began -------------------------------------------------


STATUS: LiteralString = """
MATCH (r:SanctionEvent) RETURN r.record_id AS id, r.status AS status,
  toString(r.status_since) AS since, toString(r.listed_status_since) AS listed_since
"""


def _listed(record_id: str, subject: str, status: str, since: str) -> list[str]:
    """A records.csv row (LISTED_HEADER): a blacklist decided and valid from 2024-01-10."""
    return [record_id, subject, "blacklist", "tax", "2024-01-10", "2024-01-10", status, since]


LISTED_HEADER = ["record_id", "subject_id", "kind", "sector", "decision_date", "valid_from"]
LISTED_HEADER += ["status", "status_since", "disclosure", "source_system"]


def _load_listed(
    graph: GraphStore, tmp_path: Path, rows: list[list[str]], changes: list[list[str]] | None = None
) -> FileReport:
    folder = tmp_path / "listed"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "鹭岛科技", "enterprise"], [FIRM_B, "闽江贸易", "enterprise"]],
    )
    write_csv(folder / "records.csv", LISTED_HEADER, [[*r, "public", "lst"] for r in rows])
    if changes:
        header = ["change_id", "record_id", "source_system", "change", "effective_on"]
        write_csv(folder / "status_changes.csv", header, changes)
    report = load_folder(graph, folder, tmp_path / "listed-rejects")
    return _file(report, "records.csv")


def _flags(cli: CliRunner, party: str, day: str) -> list[str]:
    return [flag["record"]["record_id"] for flag in explain(cli, party, day)["own"]["flags"]]


def test_a_record_listed_repaired_since_a_day_counts_until_that_day(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _load_listed(
        graph,
        tmp_path,
        [
            _listed("R-1", FIRM_A, "repaired", "2025-06-01"),
            _listed("R-2", FIRM_B, "repaired", ""),  # no day: never counts, as before
        ],
    )
    assert (records.read, records.loaded, records.rejected) == (2, 2, 0)
    stored = {row["id"]: row for row in graph.read(STATUS)}
    assert stored["R-1"] == {
        "id": "R-1",
        "status": "repaired",
        "since": "2025-06-01",
        "listed_since": "2025-06-01",
    }
    assert (stored["R-2"]["status"], stored["R-2"]["since"]) == ("repaired", None)
    cli = cli_runner(monkeypatch, embedded, graph)
    [flag] = explain(cli, FIRM_A, "2025-05-31")["own"]["flags"]
    assert flag["record"]["record_id"] == "R-1"
    assert (flag["record"]["status"], flag["record"]["ends_on"]) == ("active", "2025-06-01")
    assert _flags(cli, FIRM_A, "2025-06-01") == []
    assert _flags(cli, FIRM_A, "2026-06-01") == []
    history = explain(cli, FIRM_A, "2025-06-01")["own"]["history"]
    assert [(h["why"], h["stopped_on"]) for h in history] == [("repaired", "2025-06-01")]
    for day in ("2024-06-01", "2025-05-31", "2025-06-01"):
        assert _flags(cli, FIRM_B, day) == []


def test_a_later_status_change_still_wins_over_the_listed_day(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repaired on 2025-06-01 as listed, then revoked on 2025-08-01 by a status change: the
    record counts before the repair, and is revoked from the revocation."""
    _load_listed(
        graph,
        tmp_path,
        [
            _listed("R-1", FIRM_A, "repaired", "2025-06-01"),
            _listed("E-1", FIRM_B, "expired", "2025-03-01"),
        ],
        [["c1", "R-1", "lst", "revoked", "2025-08-01"]],
    )
    stored = {row["id"]: row for row in graph.read(STATUS)}
    assert (stored["R-1"]["status"], stored["R-1"]["since"]) == ("revoked", "2025-08-01")
    assert stored["R-1"]["listed_since"] == "2025-06-01"
    assert (stored["E-1"]["status"], stored["E-1"]["since"]) == ("expired", "2025-03-01")
    cli = cli_runner(monkeypatch, embedded, graph)
    assert _flags(cli, FIRM_A, "2025-05-31") == ["R-1"]
    assert _flags(cli, FIRM_A, "2025-07-01") == []
    assert _flags(cli, FIRM_A, "2025-08-01") == []
    # listed expired on 2025-03-01, though its 3-year term would run to 2027-01-10
    assert _flags(cli, FIRM_B, "2025-02-28") == ["E-1"]
    assert _flags(cli, FIRM_B, "2025-03-01") == []


def test_a_record_listed_again_keeps_its_day_under_its_stored_changes(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A record row loaded again after its changes folds them with the day it lists."""
    listed = _listed("R-1", FIRM_A, "repaired", "2025-06-01")
    _load_listed(
        graph, tmp_path, [listed], [["c1", "R-1", "lst", "objection_opened", "2025-03-01"]]
    )
    [stored] = graph.read(STATUS)
    assert (stored["status"], stored["since"]) == ("repaired", "2025-06-01")
    again = tmp_path / "again"
    again.mkdir()
    header = [*LISTED_HEADER, "description"]
    write_csv(again / "records.csv", header, [[*listed, "public", "lst", "listed again"]])
    records = _file(load_folder(graph, again, tmp_path / "again-rejects"), "records.csv")
    assert (records.loaded, records.rejected) == (1, 0)
    [stored] = graph.read(STATUS)
    assert (stored["status"], stored["since"]) == ("repaired", "2025-06-01")


def test_a_listed_status_day_is_rejected_where_it_cannot_hold(
    graph: GraphStore, tmp_path: Path
) -> None:
    today = TODAY.isoformat()  # 2026-06-30
    records = _load_listed(
        graph,
        tmp_path,
        [
            _listed("G-1", FIRM_A, "repaired", "2025-06-01"),
            _listed("X-1", FIRM_A, "repaired", "2099-06-01"),  # line 3: in the future
            _listed("X-2", FIRM_A, "active", "2025-06-01"),  # line 4: no day for active
            _listed("X-3", FIRM_A, "under_objection", "2025-06-01"),  # line 5: nor objections
            _listed("X-4", FIRM_A, "expired", "2023-12-31"),  # line 6: before it starts
            _listed("G-2", FIRM_B, "revoked", "2023-12-31"),  # a revocation may be any day
            _listed("G-3", FIRM_B, "expired", today),
            _listed("G-4", FIRM_B, "active", ""),
        ],
    )
    assert (records.read, records.loaded, records.rejected) == (8, 4, 4)
    assert records.read == records.loaded + records.rejected + records.merged
    only = (
        "only a repaired, revoked or expired record's status has a start day here; leave it "
        "empty (an objection's dates go in status_changes rows)"
    )
    assert _rejects(records) == [
        (
            "3",
            "status_since",
            f"2099-06-01 is after the load's day ({today}): "
            "a record cannot have been repaired in the future",
        ),
        ("4", "status_since", f"is given for a record listed as active: {only}"),
        ("5", "status_since", f"is given for a record listed as under_objection: {only}"),
        (
            "6",
            "status_since",
            "2023-12-31 is before the record starts (2024-01-10): "
            "a record cannot be expired before it counts",
        ),
    ]
    assert sorted(row["id"] for row in graph.read(STATUS)) == ["G-1", "G-2", "G-3", "G-4"]


# --- a record listed again: the later listing's status and day replace the stored ones -------


def _relist(graph: GraphStore, tmp_path: Path, name: str, rows: list[list[str]]) -> FileReport:
    """A later extract of records.csv (LISTED_HEADER rows of source `lst`), in a run of its
    own; its `description` differs from the first extract's, as a new file's content does."""
    folder = tmp_path / name
    folder.mkdir()
    header = [*LISTED_HEADER, "description"]
    write_csv(folder / "records.csv", header, [[*r, "public", "lst", name] for r in rows])
    return _file(load_folder(graph, folder, tmp_path / f"{name}-rejects"), "records.csv")


def _statuses(graph: GraphStore) -> dict[str, tuple[str, str | None, str | None]]:
    return {
        row["id"]: (row["status"], row["since"], row["listed_since"]) for row in graph.read(STATUS)
    }


def test_a_record_listed_again_as_active_drops_the_day_its_old_status_began(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repaired since 2025-06-01 in the first extract, active (no day) in the next: the record
    is active with no status day, and counts again; the same later file loaded twice changes
    nothing more."""
    _load_listed(
        graph,
        tmp_path,
        [
            _listed("R-1", FIRM_A, "repaired", "2025-06-01"),
            _listed("R-2", FIRM_B, "repaired", "2025-06-01"),
            _listed("R-3", FIRM_B, "revoked", "2025-06-01"),
        ],
    )
    later = [
        _listed("R-1", FIRM_A, "active", ""),
        # still repaired, but the source no longer gives the day: it counts on no date
        _listed("R-2", FIRM_B, "repaired", ""),
        _listed("R-3", FIRM_B, "expired", ""),
    ]
    for name in ("later", "later-again"):
        records = _relist(graph, tmp_path, name, later)
        assert (records.loaded, records.rejected) == (3, 0)
        assert _statuses(graph) == {
            "R-1": ("active", None, None),
            "R-2": ("repaired", None, None),
            "R-3": ("expired", None, None),
        }
    cli = cli_runner(monkeypatch, embedded, graph)
    assert _flags(cli, FIRM_A, "2025-05-31") == ["R-1"]
    assert _flags(cli, FIRM_A, "2026-06-01") == ["R-1"]
    # R-3, listed expired with no day, counts for its term (to 2027-01-10) as a record listed
    # expired first would; R-2 counts on no date
    assert _flags(cli, FIRM_B, "2025-05-31") == ["R-3"]
    assert _flags(cli, FIRM_B, "2026-06-01") == ["R-3"]


def test_a_record_listed_again_with_a_day_takes_it(graph: GraphStore, tmp_path: Path) -> None:
    """Active first, repaired since a day in the next extract: repaired from that day."""
    _load_listed(graph, tmp_path, [_listed("R-1", FIRM_A, "active", "")])
    assert _statuses(graph) == {"R-1": ("active", None, None)}
    later = [_listed("R-1", FIRM_A, "repaired", "2025-06-01")]
    for name in ("later", "later-again"):
        records = _relist(graph, tmp_path, name, later)
        assert (records.loaded, records.rejected) == (1, 0)
        assert _statuses(graph) == {"R-1": ("repaired", "2025-06-01", "2025-06-01")}


def test_a_record_listed_again_folds_its_changes_on_the_new_listing(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes from status_changes.csv fold on top of whatever the latest listing says: an
    objection of 2025-08-01 has no effect on a record repaired since 2025-06-01, and puts the
    same record under objection once a later extract lists it active again."""
    _load_listed(
        graph,
        tmp_path,
        [_listed("R-1", FIRM_A, "repaired", "2025-06-01")],
        [["c1", "R-1", "lst", "objection_opened", "2025-08-01"]],
    )
    assert _statuses(graph) == {"R-1": ("repaired", "2025-06-01", "2025-06-01")}
    for name in ("later", "later-again"):
        _relist(graph, tmp_path, name, [_listed("R-1", FIRM_A, "active", "")])
        assert _statuses(graph) == {"R-1": ("under_objection", "2025-08-01", None)}
    cli = cli_runner(monkeypatch, embedded, graph)
    assert _flags(cli, FIRM_A, "2025-07-01") == ["R-1"]
    assert _flags(cli, FIRM_A, "2026-06-01") == []  # objections do not count by default
