"""Full extracts (`credgraph load --full-extract DATE`, loaders/extract.py): what this month's
complete list no longer lists is ended on the day it describes, on the real store with real files.

Month 1 (2025-01-31): Zhang is FIRM_A's legal representative, Li a director of FIRM_B, the court
lists FIRM_A and FIRM_B as dishonest debtors. Month 2 (2025-02-28): Li has replaced Zhang at
FIRM_A, and the court has removed FIRM_A from its list.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph import clock
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_resident_id
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.synthetic import generate
from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
from credgraph.queries.stats import graph_counts
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, new_database
from tests.investigations import cli_runner, explain, store_env
from tests.registries import (
    FIRM_A,
    FIRM_B,
    LI,
    RECORD_HEADER,
    TODAY,
    ZHANG,
    debtor_row,
    write_csv,
)

MONTH_1, MONTH_2 = "2025-01-31", "2025-02-28"
ROLE_HEADER = ["person_id_number", "company_id", "role", "valid_from", "source_record"]
ZHANG_AT_A = [ZHANG, FIRM_A, "legal_representative", "2015-01-01", "r1"]
LI_AT_B = [LI, FIRM_B, "director", "2016-01-01", "r2"]
LI_AT_A = [LI, FIRM_A, "legal_representative", "", "r3"]


def _parties(folder: Path) -> None:
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [FIRM_A, "厦门鹭岛科技有限公司", "enterprise"],
            [FIRM_B, "福州闽江贸易有限公司", "enterprise"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张三"], ["resident", LI, "李四"]],
    )


def _month(root: Path, name: str, roles: list[list[str]], debtors: list[list[str]]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    _parties(folder)
    write_csv(folder / "roles.csv", ROLE_HEADER, roles)
    write_csv(folder / "court_debtors.csv", RECORD_HEADER, debtors)
    return folder


@pytest.fixture
def months(tmp_path: Path) -> tuple[Path, Path]:
    one = _month(
        tmp_path, "m1", [ZHANG_AT_A, LI_AT_B], [debtor_row("d1", FIRM_A), debtor_row("d2", FIRM_B)]
    )
    two = _month(tmp_path, "m2", [LI_AT_A, LI_AT_B], [debtor_row("d2", FIRM_B)])
    return one, two


def _load(store: GraphStore, folder: Path, day: str, **options: Any) -> LoadReport:
    return load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
        [folder],
        batch_size=options.pop("batch_size", 500),
        rejects_dir=folder / "rejects",
        full_extract=date.fromisoformat(day),
        **options,
    )


def _ended(report: LoadReport) -> dict[str, int | None]:
    return {Path(f.file).name: f.ended for f in report.files}


def _roles(store: GraphStore) -> dict[str, dict[str, Any]]:
    rows = store.read(
        "MATCH (:NaturalPerson)-[r]->(:LegalPerson) RETURN r.source_record AS id, "
        "r.valid_to AS valid_to, r.ended_by_run AS ended_by_run"
    )
    return {
        row["id"]: {
            "valid_to": row["valid_to"].iso_format() if row["valid_to"] else None,
            "ended_by_run": row["ended_by_run"],
        }
        for row in rows
    }


def _debtors(store: GraphStore) -> dict[str, tuple[str, str | None]]:
    rows = store.read(
        "MATCH (r:SanctionEvent) RETURN r.record_id AS id, r.status AS status, "
        "r.status_since AS since"
    )
    return {
        row["id"]: (row["status"], row["since"].iso_format() if row["since"] else None)
        for row in rows
    }


def _linked_ids(cli: CliRunner, party: str, day: str, *former: str) -> set[str]:
    # the firms' representatives are persons: a purpose, as an investigator gives
    arguments = ["linked", party, "--as-of", day, "--json", *former]
    result = cli.invoke(app, [*arguments, "--purpose", "investigation"])
    assert result.exit_code == 0, result.output
    return {item["party"]["id"] for item in json.loads(result.stdout)["items"]}


def test_month_two_ends_the_replaced_representative_and_the_removeddebtor_row(
    graph: GraphStore,
    embedded: EmbeddedStore,
    months: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = cli_runner(monkeypatch, embedded, graph)
    one, two = months
    first = cli.invoke(app, ["load", str(one), "--full-extract", MONTH_1])
    assert first.exit_code == 0, first.output
    report = tmp_path / "report.json"
    second = cli.invoke(app, ["load", str(two), "--full-extract", MONTH_2, "--report", str(report)])
    assert second.exit_code == 0, second.output
    assert "roles.csv: full extract: ended 1" in second.output
    files = {Path(f["file"]).name: f for f in json.loads(report.read_text("utf-8"))["files"]}
    assert {name: f["ended"] for name, f in files.items()} == {
        "legal_persons.csv": None,
        "natural_persons.csv": None,
        "roles.csv": 1,
        "court_debtors.csv": 1,
    }
    roles = _roles(graph)
    assert roles["r1"]["valid_to"] == MONTH_2 and roles["r1"]["ended_by_run"]
    assert roles["r2"]["valid_to"] is None and roles["r3"]["valid_to"] is None
    # the removed debtor expired on the extract's day, through its status changes
    assert _debtors(graph) == {"d1": ("expired", MONTH_2), "d2": ("active", None)}
    # the day before, Zhang was still FIRM_A's legal representative; from the day on, former
    zhang = next(
        row["uid"]
        for row in graph.read("MATCH (p:NaturalPerson {name: '张三'}) RETURN p.uid AS uid")
    )
    assert zhang in _linked_ids(cli, FIRM_A, "2025-02-27")
    assert zhang not in _linked_ids(cli, FIRM_A, MONTH_2)
    assert zhang in _linked_ids(cli, FIRM_A, MONTH_2, "--former")
    # and FIRM_A's own status follows: listed the day before, no longer from the day on
    before = explain(cli, FIRM_A, "2025-02-27")["own"]
    assert [flag["record"]["record_id"] for flag in before["flags"]] == ["d1"]
    after = explain(cli, FIRM_A, "2025-03-01")["own"]
    assert after["flags"] == []
    assert [(h["record"]["record_id"], h["why"]) for h in after["history"]] == [("d1", "expired")]


def test_the_same_extract_again_or_an_older_one_ends_nothing_more(
    graph: GraphStore, months: tuple[Path, Path]
) -> None:
    one, two = months
    _load(graph, one, MONTH_1)
    assert _ended(_load(graph, two, MONTH_2))["roles.csv"] == 1
    after = (_roles(graph), _debtors(graph))
    again = _load(graph, two, MONTH_2)
    assert _ended(again)["roles.csv"] == _ended(again)["court_debtors.csv"] == 0
    assert all(f.skipped_chunks for f in again.files)
    # month 1 loaded late: it does not list Li at FIRM_A, which month 2 (newer) does
    older = _load(graph, one, MONTH_1)
    assert _ended(older)["roles.csv"] == _ended(older)["court_debtors.csv"] == 0
    assert (_roles(graph), _debtors(graph)) == after


def test_extracts_loaded_out_of_order_give_the_graph_of_the_dates_order(
    graph: GraphStore, months: tuple[Path, Path]
) -> None:
    one, two = months
    _load(graph, two, MONTH_2)
    report = _load(graph, one, MONTH_1)
    # month 1 does not undo what month 2 lists; what only month 1 lists, month 2 ends
    assert _ended(report)["roles.csv"] == _ended(report)["court_debtors.csv"] == 1
    roles = _roles(graph)
    assert roles["r3"]["valid_to"] is None and roles["r2"]["valid_to"] is None
    assert roles["r1"]["valid_to"] == MONTH_2
    assert _debtors(graph) == {"d1": ("expired", MONTH_2), "d2": ("active", None)}
    assert _ended(_load(graph, one, MONTH_1))["roles.csv"] == 0


def test_what_a_later_extract_lists_again_is_current_again(
    graph: GraphStore, months: tuple[Path, Path], tmp_path: Path
) -> None:
    one, two = months
    _load(graph, one, MONTH_1)
    _load(graph, two, MONTH_2)
    # month 3: Zhang is back at FIRM_A under his old record, the court lists d1 again
    three = _month(tmp_path, "m3", [ZHANG_AT_A, LI_AT_B], [debtor_row("d1", FIRM_A)])
    report = _load(graph, three, "2025-03-31")
    assert _ended(report)["roles.csv"] == 1  # Li's r3
    roles = _roles(graph)
    assert roles["r1"] == {"valid_to": None, "ended_by_run": None}
    assert roles["r3"]["valid_to"] == "2025-03-31"
    assert _debtors(graph) == {"d1": ("active", None), "d2": ("expired", "2025-03-31")}
    changes = graph.read("MATCH (c:StatusChange) RETURN c.uid AS uid")
    assert [row["uid"] for row in changes] == ["XM_COURT:d2|delisted:court_debtors"]


def test_a_dry_run_reports_the_endings_and_writes_none(
    graph: GraphStore,
    embedded: EmbeddedStore,
    months: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = cli_runner(monkeypatch, embedded, graph)
    one, two = months
    _load(graph, one, MONTH_1)
    before = (_roles(graph), _debtors(graph))
    report = tmp_path / "dry.json"
    result = cli.invoke(
        app, ["load", str(two), "--full-extract", MONTH_2, "--dry-run", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "roles.csv: full extract: would end 1" in result.output
    assert _dry_run_line_formats_md_shows() in " ".join(result.output.split())
    files = {Path(f["file"]).name: f for f in json.loads(report.read_text("utf-8"))["files"]}
    assert files["roles.csv"]["ended"] == files["court_debtors.csv"]["ended"] == 1
    assert (_roles(graph), _debtors(graph)) == before


def _dry_run_line_formats_md_shows() -> str:
    """The summary line that formats.md's worked example of two monthly extracts quotes as the
    dry run's (`credgraph load 2025-02/ --full-extract 2025-02-28 --dry-run   # <line> …`)."""
    text = (Path(__file__).parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")
    shown = re.search(r"--full-extract \S+ --dry-run +# (.+?) …", text)
    assert shown, "formats.md shows what the dry run of month 2 prints"
    return shown.group(1)


def _many_roles(count: int) -> list[list[str]]:
    people = [make_resident_id("350203", date(1980, 1, 1 + i), 11, "M") for i in range(count)]
    return [[p, FIRM_B, "director", "2016-01-01", f"d{i}"] for i, p in enumerate(people)]


def _people_file(folder: Path, roles: list[list[str]]) -> None:
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", row[0], f"董事{i}"] for i, row in enumerate(roles)],
    )


def test_a_truncated_extract_is_refused_before_ending_anything(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(monkeypatch, embedded, graph)
    roles = _many_roles(20)
    full = _month(tmp_path, "full", roles, [])
    _people_file(full, roles)
    _load(graph, full, MONTH_1)
    cut = tmp_path / "cut"
    cut.mkdir()
    write_csv(cut / "roles.csv", ROLE_HEADER, roles[:3])  # the file stopped after 3 rows
    refused = cli.invoke(app, ["load", str(cut), "--full-extract", MONTH_2])
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "roles.csv" in text and "would end 17 of the 20 relations" in text
    assert [r["valid_to"] for r in _roles(graph).values()] == [None] * 20  # refused: none ended
    forced = cli.invoke(app, ["load", str(cut), "--full-extract", MONTH_2, "--force-end"])
    assert forced.exit_code == 0, forced.output
    assert sum(r["valid_to"] == MONTH_2 for r in _roles(graph).values()) == 17
    # forced by mistake: the complete extract of the same day makes them current again
    _load(graph, full, MONTH_2)
    assert [r["valid_to"] for r in _roles(graph).values()] == [None] * 20


def test_an_extract_with_rejected_rows_ends_nothing_unless_forced(
    graph: GraphStore,
    embedded: EmbeddedStore,
    months: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = cli_runner(monkeypatch, embedded, graph)
    one, two = months
    _load(graph, one, MONTH_1)
    # Zhang's row comes back broken: perhaps he is still the legal representative
    write_csv(
        two / "roles.csv", ROLE_HEADER, [LI_AT_A, LI_AT_B, [*ZHANG_AT_A[:3], "2015-13-01", "r1"]]
    )
    result = cli.invoke(app, ["load", str(two / "roles.csv"), "--full-extract", MONTH_2])
    assert result.exit_code == 1, result.output
    assert "1 row(s) rejected" in " ".join(result.output.split())
    assert _roles(graph)["r1"]["valid_to"] is None
    forced = cli.invoke(
        app, ["load", str(two / "roles.csv"), "--full-extract", MONTH_2, "--force-end"]
    )
    assert forced.exit_code == 1, forced.output
    assert _roles(graph)["r1"]["valid_to"] == MONTH_2


def test_full_extract_takes_a_date(runner_env: CliRunner, tmp_path: Path) -> None:
    result = runner_env.invoke(app, ["load", str(tmp_path), "--full-extract", "28/02/2025"])
    assert result.exit_code == 2 and "--full-extract" in result.output
    result = runner_env.invoke(app, ["load", str(tmp_path), "--force-end"])
    assert result.exit_code == 2 and "--force-end" in result.output


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_full_extract_dated_after_today_is_refused(
    runner_env: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dry_run: list[str]
) -> None:
    """An extract dated ahead would end every relation and record it does not list on a day
    that has not come: refused as a row's `status_since` after the load's day is, before any
    store starts. Today is the date in China (graph/clock.py)."""
    monkeypatch.setattr(clock, "today", lambda: date(2025, 2, 28))
    one = _month(tmp_path, "one", [ZHANG_AT_A], [])
    result = runner_env.invoke(app, ["load", str(one), "--full-extract", "2025-03-01", *dry_run])
    assert result.exit_code == 2, result.output
    assert "--full-extract: 2025-03-01 is after today (2025-02-28" in result.output
    assert not (tmp_path / "data" / "arcadedb").exists(), "no store is started"
    assert not (one / "rejects").exists()


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    return CliRunner()


# --- crash safety ---------------------------------------------------------------------------

BATCH = 20
IGNORE = (*LINEAGE_OF_RUN, "ended_by_run", "delisted_by_run")


def _month_two_of(registry: Path, folder: Path) -> Path:
    """The registry a month on: every fourth role, shareholding and record dropped."""
    shutil.copytree(registry, folder)
    for name in ("roles.csv", "shareholdings.csv", "records.csv"):
        lines = (registry / name).read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for i, line in enumerate(lines) if i == 0 or i % 4]
        (folder / name).write_text("".join(kept), encoding="utf-8")
    return folder


@pytest.fixture
def pair(embedded: EmbeddedStore, driver: Any) -> Iterator[tuple[GraphStore, GraphStore]]:
    clean, crashed = (
        new_database(embedded, driver, "snapclean"),
        new_database(embedded, driver, "snapcrash"),
    )
    yield clean, crashed
    for store in (clean, crashed):
        embedded.drop_database(store.database or "")


def _same_graph(a: GraphStore, b: GraphStore) -> None:
    assert graph_counts(a)["relations"] == graph_counts(b)["relations"]
    dump_a = dump_graph(a, ignore=IGNORE, skip_labels=["LoadChunk"])
    dump_b = dump_graph(b, ignore=IGNORE, skip_labels=["LoadChunk"])
    assert dump_a.nodes == dump_b.nodes
    assert dump_a.relations == dump_b.relations


def test_a_full_extract_killed_at_random_points_then_rerun_equals_a_clean_one(
    embedded: EmbeddedStore, pair: tuple[GraphStore, GraphStore], tmp_path: Path
) -> None:
    clean, crashed = pair
    registry = tmp_path / "m1"
    generate(registry, enterprises=60, seed=5)
    later = _month_two_of(registry, tmp_path / "m2")
    for store in pair:
        _load(store, registry, MONTH_1, batch_size=BATCH, force_end=True)
    base = graph_counts(crashed)["ledger"]["chunks"]
    report = _load(clean, later, MONTH_2, batch_size=BATCH, force_end=True)
    ended = sum(f.ended or 0 for f in report.files)
    assert ended >= 2 * BATCH  # the ending itself takes several chunks
    total = graph_counts(clean)["ledger"]["chunks"] - base
    env = {**os.environ, **store_env(embedded, crashed), "CREDGRAPH_WRITE_BATCH_SIZE": str(BATCH)}
    env["CREDGRAPH_DATA_DIR"] = str(tmp_path / "data")
    command = [sys.executable, "-m", "credgraph", "load", str(later), "--full-extract", MONTH_2]
    command += ["--force-end", "--rejects-dir", str(tmp_path / "rejects")]
    rnd = random.Random(20250228)
    kills = 0
    # the last thresholds fall among the ending's chunks, which come after every file's rows
    for threshold in [*sorted(rnd.sample(range(1, total), 3)), total - 2, total - 1]:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if graph_counts(crashed)["ledger"]["chunks"] - base >= threshold:
                process.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.02)
        process.wait()
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode in (0, 1), final.stderr
    assert kills >= 1
    _same_graph(crashed, clean)


# --- the worked example of docs/formats.md, as written there --------------------------------------


def _worked_example() -> tuple[dict[str, dict[str, str]], list[list[str]]]:
    """formats.md's "Worked example: two monthly extracts": each month's files (its code blocks,
    a file name then its lines, files apart by a blank line) and the `credgraph` commands."""
    text = (Path(__file__).parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")
    section = text.split("### Worked example: two monthly extracts", 1)[1].split("\n#", 1)[0]
    blocks = re.findall(r"^```\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 3, "two months of files and the commands"
    months = []
    for block in blocks[:2]:
        files = {}
        for part in block.strip().split("\n\n"):
            name, _, lines = part.partition("\n")
            files[name.strip()] = lines + "\n"
        months.append(files)
    months[1] = {
        **{n: months[0][n] for n in ("legal_persons.csv", "natural_persons.csv")},
        **months[1],
    }
    commands = [shlex.split(line.split("#")[0]) for line in blocks[2].splitlines() if line.strip()]
    assert all(words[0] == "credgraph" for words in commands)
    return dict(zip(("2025-01", "2025-02"), months, strict=True)), [w[1:] for w in commands]


def test_the_worked_example_of_formats_md_does_what_it_says(
    graph: GraphStore,
    embedded: EmbeddedStore,
    driver: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    months, commands = _worked_example()
    for month, files in months.items():
        (tmp_path / month).mkdir()
        for name, lines in files.items():
            (tmp_path / month / name).write_text(lines, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cli = cli_runner(monkeypatch, embedded, graph)
    outputs = []
    for words in commands:
        result = cli.invoke(app, words)
        assert result.exit_code == 0, result.output
        outputs.append(" ".join(result.output.split()))
    assert _dry_run_line_formats_md_shows() in outputs[1]
    files = json.loads((tmp_path / "2025-02.json").read_text("utf-8"))["files"]
    assert {Path(f["file"]).name: f["ended"] for f in files} == {
        "legal_persons.csv": None,
        "natural_persons.csv": None,
        "roles.csv": 1,
        "court_debtors.csv": 1,
    }
    assert _roles(graph)["r1"]["valid_to"] == MONTH_2
    assert _debtors(graph) == {"d1": ("expired", MONTH_2), "d2": ("active", None)}
    people = {
        row["name"]: row["uid"]
        for row in graph.read("MATCH (p:NaturalPerson) RETURN p.name AS name, p.uid AS uid")
    }
    zhang, li = people["张伟"], people["李娜"]
    firm = "91350203MA2Y0001XR"
    for day in ("2015-01-01", "2016-01-01", "2025-02-27"):
        assert _linked_ids(cli, firm, day) == {zhang}, day
    assert _linked_ids(cli, firm, MONTH_2) == {li}
    assert _linked_ids(cli, firm, MONTH_2, "--former") == {li, zhang}
    month_2 = dump_graph(graph, ignore=IGNORE, skip_labels=["LoadChunk"])

    # month 2 again, then month 1 after it: nothing more ended, no value of month 2's written over
    again = tmp_path / "again.json"
    result = cli.invoke(app, [*commands[2][:-1], str(again)])
    assert result.exit_code == 0, result.output
    assert [f["ended"] for f in json.loads(again.read_text("utf-8"))["files"]][2:] == [0, 0]
    late = tmp_path / "late.json"
    result = cli.invoke(app, [*commands[0], "--report", str(late)])
    assert result.exit_code == 0, result.output
    files = json.loads(late.read_text("utf-8"))["files"]
    assert [(f["ended"], f["outdated"]) for f in files] == [(None, 2), (None, 2), (0, 1), (0, 1)]
    assert dump_graph(graph, ignore=IGNORE, skip_labels=["LoadChunk"]) == month_2

    # the other order, on an empty store: month 1 ends r1 and d1 on month 2's day
    other = new_database(embedded, driver, "worked")
    try:
        _load(other, tmp_path / "2025-02", MONTH_2)
        assert _ended(_load(other, tmp_path / "2025-01", MONTH_1)) == {
            "legal_persons.csv": None,
            "natural_persons.csv": None,
            "roles.csv": 1,
            "court_debtors.csv": 1,
        }
        _same_graph(graph, other)
    finally:
        embedded.drop_database(other.database or "")
