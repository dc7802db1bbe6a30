"""A dry run of several FollowTheMoney files checks them as the real load of the same files
would: a later file's links find the parties an earlier file of the same run keyed by a USCC,
a resident ID or a passport (and gave its entity id, an `FtmId` a real load writes), and those
its referents name, though the dry run writes nothing."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.store import GraphStore
from credgraph.loaders.report import LoadReport
from credgraph.queries.dump import dump_graph

from tests.registries import ftm_entity, ftm_merged, run_load

USCC = make_uscc("9", "1", "350203", "MA2Y0021")
MERGED_USCC = make_uscc("9", "1", "350203", "MA2Y0022")
RESIDENT = make_resident_id("350203", date(1975, 3, 4), 21, "F")

# the first file: parties keyed by a strong identifier (not `FTM:<id>`), one of them with an
# id merged into it, and a weak one
PARTIES = [
    ftm_entity("co-u", "Company", name="鹭岛科技有限公司", registrationNumber=USCC),
    ftm_merged(
        ftm_entity("co-m", "Company", name="鹭江贸易有限公司", registrationNumber=MERGED_USCC),
        "co-gone",
    ),
    ftm_entity("p-r", "Person", name="林晓", idNumber=RESIDENT),
    ftm_entity("p-p", "Person", name="Anna Berg", passportNumber="X1234567", nationality="se"),
    ftm_entity("co-w", "Company", name="Harbour Logistics Ltd"),
]
# the second file: links naming the first file's entities by their FtM ids only
LINKS = [
    ftm_entity("own-1", "Ownership", owner="p-r", asset="co-u", percentage="60"),
    ftm_entity("own-2", "Ownership", owner="co-gone", asset="co-u", percentage="25"),
    ftm_entity("own-3", "Ownership", owner="co-w", asset="co-m", percentage="10"),
    ftm_entity("d-1", "Directorship", director="p-r", organization="co-u", role="董事长"),
    ftm_entity("d-2", "Directorship", director="p-p", organization="co-m", role="Director"),
    ftm_entity("s-1", "Sanction", entity="co-u", program="Xiamen list"),
    ftm_entity("own-4", "Ownership", owner="p-r", asset="co-nowhere", percentage="5"),
]
# what a dry run reports as the load of the same files would
COUNTS = ("read", "loaded", "rejected", "merged", "folded", "reasons")
NOWHERE = "refers to an entity that is neither in this file nor in the store"


def _write(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    path.write_text(text, encoding="utf-8")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ftm"
    _write(folder / "1-parties.ftm.json", PARTIES)
    _write(folder / "2-links.ftm.json", LINKS)
    return folder


def _counts(report: LoadReport | list[dict[str, Any]]) -> list[dict[str, Any]]:
    files = report if isinstance(report, list) else [f.to_json() for f in report.files]
    return [{"file": Path(f["file"]).name, **{key: f[key] for key in COUNTS}} for f in files]


def _rejects(folder: Path, name: str) -> list[tuple[str, str, str]]:
    path = folder / name
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["line"], row["field"], row["reason"]) for row in csv.DictReader(handle)]


def test_a_dry_run_of_two_files_resolves_the_links_as_the_load_does(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    before = dump_graph(graph)
    dry = run_load(graph, [folder], tmp_path / "dry", dry_run=True)
    assert dump_graph(graph) == before, "the dry run wrote to the store"
    # without a store (a new data directory): the files alone, checked the same way
    alone = run_load(None, [folder], tmp_path / "alone", dry_run=True)

    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)
    assert _rejects(tmp_path / "real", "2-links.ftm.rejects.csv") == [("7", "asset", NOWHERE)]
    assert [(f.read, f.rejected) for f in real.files] == [(5, 0), (7, 1)]
    for checked, rejects in ((dry, tmp_path / "dry"), (alone, tmp_path / "alone")):
        assert checked.dry_run
        assert _counts(checked) == _counts(real)
        assert _rejects(rejects, "2-links.ftm.rejects.csv") == [("7", "asset", NOWHERE)]


def test_the_files_given_one_by_one_in_one_dry_run_too(graph: GraphStore, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    paths = [folder / "2-links.ftm.json", folder / "1-parties.ftm.json"]  # loaded in order
    dry = run_load(graph, paths, tmp_path / "dry", dry_run=True)
    real = run_load(graph, paths, tmp_path / "real", dry_run=False)
    assert _counts(dry) == _counts(real)


def test_a_dry_run_of_the_second_file_finds_the_first_loaded_before(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    run_load(graph, [folder / "1-parties.ftm.json"], tmp_path / "first", dry_run=False)
    before = dump_graph(graph)
    dry = run_load(graph, [folder / "2-links.ftm.json"], tmp_path / "dry", dry_run=True)
    assert dump_graph(graph) == before, "the dry run wrote to the store"
    real = run_load(graph, [folder / "2-links.ftm.json"], tmp_path / "real", dry_run=False)
    assert [(f.read, f.rejected) for f in real.files] == [(7, 1)]
    assert _counts(dry) == _counts(real)
    assert _rejects(tmp_path / "dry", "2-links.ftm.rejects.csv") == [("7", "asset", NOWHERE)]


def test_the_cli_dry_run_reports_what_the_load_then_does(
    graph: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from credgraph.cli import app
    from tests.investigations import cli_runner

    folder = _folder(tmp_path)
    cli = cli_runner(monkeypatch, embedded, graph)

    def stats() -> Any:
        counted = cli.invoke(app, ["stats", "--json"])
        assert counted.exit_code == 0, counted.output
        return json.loads(counted.stdout)

    before = stats()
    dry_report, real_report = tmp_path / "dry.json", tmp_path / "real.json"
    dry = cli.invoke(app, ["load", str(folder), "--dry-run", "--report", str(dry_report)])
    assert dry.exit_code == 1, dry.output  # own-4's asset is nowhere
    assert stats() == before, "the dry run wrote to the store"
    real = cli.invoke(app, ["load", str(folder), "--report", str(real_report)])
    assert real.exit_code == 1, real.output
    checked = json.loads(dry_report.read_text(encoding="utf-8"))
    loaded = json.loads(real_report.read_text(encoding="utf-8"))
    assert checked["dry_run"] and not loaded["dry_run"]
    assert [f["rejected"] for f in loaded["files"]] == [0, 1]
    assert _counts(checked["files"]) == _counts(loaded["files"])


OTHER_USCC = make_uscc("9", "1", "350203", "MA2Y0023")
NEW = ftm_merged(ftm_entity("co-new", "Company", name="New Ltd", registrationNumber=USCC), "co-old")
# files of one run, in load order, that a later one resolves through an earlier one
RUNS = {
    # the later file's entity took in the id of an earlier one's weak party: folded into it
    # (the report's `folded`, 1 in the dry run too)
    "referent folds an earlier party": [
        [ftm_entity("co-old", "Company", name="Old Ltd"), ftm_entity("p-1", "Person", name="赵敏")],
        [NEW, ftm_entity("own-1", "Ownership", owner="p-1", asset="co-old", percentage="5")],
    ],
    # the older file after the later one: its entity under the old id goes into the party
    "referent of an earlier file": [
        [NEW],
        [
            ftm_entity("co-old", "Company", name="Old Ltd"),
            ftm_entity("p-1", "Person", name="赵敏"),
            ftm_entity("own-1", "Ownership", owner="p-1", asset="co-old", percentage="5"),
            ftm_entity("own-2", "Ownership", owner="p-1", asset="co-new", percentage="7"),
        ],
    ],
    # two files of the run gave one id two companies: a third file's link names neither
    "an id two files gave": [
        [ftm_entity("dup", "Company", name="A Ltd", registrationNumber=USCC)],
        [ftm_entity("dup", "Company", name="B Ltd", registrationNumber=OTHER_USCC)],
        [ftm_entity("s-1", "Sanction", entity="dup", program="Xiamen list")],
    ],
}

REJECTED = {
    "referent folds an earlier party": [0, 0],
    "referent of an earlier file": [0, 0],
    "an id two files gave": [0, 0, 1],
}


@pytest.mark.parametrize("name", list(RUNS))
def test_what_an_earlier_file_of_the_run_says_counts_in_a_dry_run(
    graph: GraphStore, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "ftm"
    for number, lines in enumerate(RUNS[name]):
        _write(folder / f"{number}-file.ftm.json", lines)
    before = dump_graph(graph)
    dry = run_load(graph, [folder], tmp_path / "dry", dry_run=True)
    alone = run_load(None, [folder], tmp_path / "alone", dry_run=True)
    assert dump_graph(graph) == before, "the dry run wrote to the store"
    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)
    assert [f.rejected for f in real.files] == REJECTED[name]
    assert sum(f.folded for f in real.files) == (name != "an id two files gave")
    assert _counts(dry) == _counts(real)
    assert _counts(alone) == _counts(real)
    names = [f"{number}-file.ftm.rejects.csv" for number in range(len(RUNS[name]))]
    for rejects in ("dry", "alone"):
        assert [_rejects(tmp_path / rejects, n) for n in names] == [
            _rejects(tmp_path / "real", n) for n in names
        ]
