"""The canonical loader, on small named registries, into the real embedded store."""

from __future__ import annotations

import csv
import queue
import threading
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from credgraph.graph.identifiers import person_token
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PersonIdType
from credgraph.loaders import loader as loader_module
from credgraph.loaders import sources
from credgraph.loaders.loader import Loader, load_paths, plan_load
from credgraph.loaders.mapping import builtin_mappings, parse_mapping
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext, RowError, _number
from credgraph.queries.stats import graph_counts

from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, SHOP_C, ZHANG, write_csv


def _load(store: GraphStore | None, directory: Path, tmp_path: Path) -> LoadReport:
    return load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [directory],
        batch_size=2,
        rejects_dir=tmp_path / "rejects",
    )


def _load_into(
    store: GraphStore | None, paths: list[Path], rejects: Path, **options: Any
) -> LoadReport:
    """Load (or with `store` None, check) `paths` in chunks of 10, rejects under `rejects`."""
    context = ParseContext(TEST_PERSON_KEY.encode())
    return load_paths(store, context, paths, batch_size=10, rejects_dir=rejects, **options)


def _read_rejects(report: dict[str, object]) -> list[dict[str, str]]:
    with Path(str(report["rejects_file"])).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _by_name(report: LoadReport) -> dict[str, dict[str, object]]:
    return {Path(f.file).name: f.to_json() for f in report.files}


def test_every_good_row_lands_and_every_bad_row_is_named(
    graph: GraphStore, tiny_registry: Path, tmp_path: Path
) -> None:
    report = _load(graph, tiny_registry, tmp_path)
    files = _by_name(report)
    assert all(f.balanced for f in report.files)
    assert (
        files["legal_persons.csv"]["read"],
        files["legal_persons.csv"]["loaded"],
        files["legal_persons.csv"]["rejected"],
        files["legal_persons.csv"]["merged"],
    ) == (5, 3, 1, 1)
    assert files["roles.csv"]["loaded"] == 4 and files["roles.csv"]["rejected"] == 1
    assert files["court_debtors.csv"]["encoding"] == "gb18030"
    assert report.rejected == 4

    rejects = {name: _read_rejects(f) for name, f in files.items() if f["rejects_file"]}
    assert rejects["legal_persons.csv"] == [
        {"line": "5", "field": "uscc", "reason": rejects["legal_persons.csv"][0]["reason"]}
    ]
    assert "check character" in rejects["legal_persons.csv"][0]["reason"]
    assert [(r["line"], r["field"]) for r in rejects["roles.csv"]] == [("6", "role")]
    assert [(r["line"], r["field"]) for r in rejects["firm_relations.csv"]] == [("2", "valid_from")]
    assert [(r["line"], r["field"]) for r in rejects["records.csv"]] == [("4", "subject_id")]

    counts = graph_counts(graph)
    assert counts["nodes"] == {
        "LegalPerson": 3,
        "NaturalPerson": 2,
        "SanctionEvent": 3,
        "Authority": 3,
    }
    assert counts["relations"] == {
        "LEGAL_REPRESENTATIVE_OF": 2,
        "EXECUTIVE_OF": 2,
        "SHAREHOLDER_OF": 2,
        "GUARANTEES": 1,
        "SUBJECT_OF": 3,
        "ISSUED_BY": 3,
    }


def test_loading_twice_changes_nothing(
    graph: GraphStore, tiny_registry: Path, tmp_path: Path
) -> None:
    _load(graph, tiny_registry, tmp_path)
    first = graph_counts(graph)
    _load(graph, tiny_registry, tmp_path)
    assert graph_counts(graph) == first


def test_resident_numbers_are_never_stored(
    graph: GraphStore, tiny_registry: Path, tmp_path: Path
) -> None:
    _load(graph, tiny_registry, tmp_path)
    rows = graph.read("MATCH (n) RETURN properties(n) AS p")
    text = repr([row["p"] for row in rows])
    assert ZHANG not in text and LI not in text
    people = graph.read(
        "MATCH (n:NaturalPerson) RETURN n.uid AS uid, n.id_masked AS masked ORDER BY n.name"
    )
    zhang_token = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, ZHANG)
    assert {"uid": zhang_token, "masked": ZHANG[:4] + "*" * 10 + ZHANG[-4:]} in people


def test_dry_run_checks_without_writing(
    graph: GraphStore, tiny_registry: Path, tmp_path: Path
) -> None:
    report = _load(None, tiny_registry, tmp_path)
    assert report.dry_run and report.rejected == 4
    assert graph_counts(graph)["nodes"] == {}


def test_rejects_files_are_one_per_source_and_only_of_this_run(tmp_path: Path) -> None:
    header = "uscc,name,kind\n"
    for folder, bad in (("a", "91350203MA2Y0001XA"), ("b", "91350203MA2Y0001XB")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "legal_persons.csv").write_text(
            f"{header}{bad},坏{folder}公司,enterprise\n", encoding="utf-8"
        )
    rejects = tmp_path / "rejects"
    sources = [tmp_path / "a" / "legal_persons.csv", tmp_path / "b" / "legal_persons.csv"]
    report = _load_into(None, sources, rejects)
    written = [Path(f.rejects_file or "") for f in report.files]
    assert [p.name for p in written] == ["legal_persons.rejects.csv", "legal_persons-2.rejects.csv"]
    assert "is 'A'" in written[0].read_text(encoding="utf-8")
    assert "is 'B'" in written[1].read_text(encoding="utf-8")
    # the file fixed: a clean run leaves no rejects file of the run before
    (tmp_path / "a" / "legal_persons.csv").write_text(header, encoding="utf-8")
    again = _load_into(None, sources[:1], rejects)
    assert again.files[0].rejects_file is None and not written[0].exists()


def test_a_numbered_rejects_file_of_an_earlier_run_does_not_outlive_it(tmp_path: Path) -> None:
    # folders x y, both with a legal_persons.csv, y's with a reject (`legal_persons-2`); then
    # x's other file and y's legal_persons.csv: its rejects are `legal_persons.rejects.csv`,
    # and the `-2` file of the run before stayed beside it, though one that is there is this
    # run's (docs/formats.md)
    header = "uscc,name,kind\n"
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
    (tmp_path / "x" / "legal_persons.csv").write_text(
        f"{header}{FIRM_A},鹭岛,enterprise\n", encoding="utf-8"
    )
    (tmp_path / "x" / "natural_persons.csv").write_text(
        f"id_type,id_number,name\nresident,{ZHANG},张伟\n", encoding="utf-8"
    )
    (tmp_path / "y" / "legal_persons.csv").write_text(
        f"{header}91350203MA2Y0001XB,坏公司,enterprise\n", encoding="utf-8"
    )
    rejects = tmp_path / "rejects"
    (rejects).mkdir()
    others = [rejects / "legal_persons-x.rejects.csv", rejects / "legal_persons-2.csv"]
    for other in others:  # not of credgraph's naming: left alone
        other.write_text("mine\n", encoding="utf-8")
    first = _load_into(None, [tmp_path / "x", tmp_path / "y"], rejects)
    assert [Path(f.rejects_file).name for f in first.files if f.rejects_file] == [
        "legal_persons-2.rejects.csv"
    ]
    again = _load_into(
        None,
        [tmp_path / "x" / "natural_persons.csv", tmp_path / "y" / "legal_persons.csv"],
        rejects,
    )
    assert [Path(f.rejects_file).name for f in again.files if f.rejects_file] == [
        "legal_persons.rejects.csv"
    ]
    assert sorted(p.name for p in rejects.iterdir()) == sorted(
        ["legal_persons.rejects.csv", *(other.name for other in others)]
    )


def test_record_codes_are_codes_a_city_may_add_to_but_not_labels(tmp_path: Path) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv", ["uscc", "name", "kind"], [[FIRM_A, "甲", "enterprise"]]
    )
    header = ["record_id", "subject_id", "kind", "sector", "city", "status", "disclosure"]
    rows = [
        ["R1", FIRM_A, "blacklist", "tourism", "3502", "active", "public"],
        ["R2", FIRM_A, "blacklist", "fishing_ban", "1101", "active", "public"],  # a city's own
        ["R3", FIRM_A, "blacklist", "旅游", "", "active", "public"],
        ["R4", FIRM_A, "blacklist", "tourism", "厦门", "active", "public"],
    ]
    write_csv(folder / "records.csv", [*header, "source_system"], [[*r, "xm"] for r in rows])
    report = _load_into(None, [folder], tmp_path)
    records = next(f for f in report.files if f.file.endswith("records.csv"))
    assert (records.loaded, records.rejected) == (2, 2)
    with Path(records.rejects_file or "").open(encoding="utf-8") as handle:
        assert [(r["line"], r["field"]) for r in csv.DictReader(handle)] == [
            ("4", "sector"),
            ("5", "city"),
        ]


def test_a_mapped_file_s_rejects_name_the_source_column(tmp_path: Path) -> None:
    mapping = parse_mapping(
        {
            "target": "legal_persons",
            "match": ["企业*.csv"],
            "fields": {
                "uscc": "统一社会信用代码",
                "name": "企业名称",
                "kind": {"value": "enterprise"},
                "registered_capital": {"column": "注册资本", "transform": "amount", "unit": "万元"},
            },
        },
        origin="amr.yaml",
        default_name="amr",
    )
    source = tmp_path / "企业登记.csv"
    write_csv(
        source,
        ["统一社会信用代码", "企业名称", "注册资本"],
        [[FIRM_A[:-1] + "0", "甲", "1"], [FIRM_B, "", "1"], [FIRM_A, "甲", "-5"]],
    )
    report = _load_into(None, [source], tmp_path / "rejects", mappings=[mapping])
    with Path(report.files[0].rejects_file or "").open(encoding="utf-8") as handle:
        assert [r["field"] for r in csv.DictReader(handle)] == [
            "统一社会信用代码 (uscc)",
            "企业名称 (name)",
            "注册资本 (registered_capital)",
        ]


def test_a_canonical_file_s_columns_that_are_no_field_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "misspelt"
    folder.mkdir()
    header = ["uscc", "name", "kind", "registerd_capital", "adress"]
    write_csv(folder / "legal_persons.csv", header, [[FIRM_A, "甲", "enterprise", "5", "x"]])
    report = _load_into(None, [folder], tmp_path)
    assert report.files[0].unused_columns == ["adress", "registerd_capital"]
    assert report.to_json()["files"][0]["unused_columns"] == ["adress", "registerd_capital"]


def test_a_relation_id_names_one_relation_and_the_report_counts_as_the_graph(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = tmp_path / "holdings"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "甲", "enterprise"], [FIRM_B, "乙", "enterprise"]],
    )
    header = ["holder_id", "company_id", "stake", "source_record"]
    write_csv(
        folder / "shareholdings.csv",
        header,
        [
            [FIRM_A, FIRM_B, "0.5", "S-1"],
            [FIRM_A, FIRM_B, "0.5", "S-1"],  # the same row again: merged
            [FIRM_B, FIRM_A, "0.2", "S-1"],  # the same id for another holding: rejected
        ],
    )
    report = _load_into(graph, [folder], tmp_path)
    holdings = next(f for f in report.files if f.file.endswith("shareholdings.csv"))
    assert (holdings.loaded, holdings.merged, holdings.rejected) == (1, 1, 1)
    with Path(holdings.rejects_file or "").open(encoding="utf-8") as handle:
        [reject] = list(csv.DictReader(handle))
    assert (reject["line"], reject["field"]) == ("4", "source_record")
    assert "line 2" in reject["reason"]
    stored = graph.read("MATCH ()-[r:SHAREHOLDER_OF]->() RETURN count(r) AS n", operation="test")
    assert stored[0]["n"] == holdings.loaded


def test_relations_keep_validity_and_lineage(
    graph: GraphStore, tiny_registry: Path, tmp_path: Path
) -> None:
    report = _load(graph, tiny_registry, tmp_path)
    rows = graph.read(
        "MATCH (:NaturalPerson)-[r:LEGAL_REPRESENTATIVE_OF]->(c:LegalPerson {uid: $uid}) "
        "RETURN r.valid_to AS valid_to, r.source AS source, "
        "r.source_record AS record, r.run_id AS run",
        {"uid": SHOP_C},
    )
    assert len(rows) == 1
    assert rows[0]["valid_to"].to_native() == date(2020, 6, 30)
    assert (rows[0]["source"], rows[0]["record"], rows[0]["run"]) == ("roles", "r4", report.run_id)


def _write_rows(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_a_negative_amount_is_a_rejected_row_naming_its_field(tmp_path: Path) -> None:
    folder = tmp_path / "negative"
    folder.mkdir()
    _write_rows(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind", "registered_capital"],
        [
            [FIRM_A, "厦门鹭岛科技有限公司", "enterprise", "-500"],  # only a lower bound
            [FIRM_B, "福州闽江贸易有限公司", "enterprise", "750"],
        ],
        "utf-8",
    )
    report = _load(None, folder, tmp_path)
    (file,) = report.files
    assert (file.read, file.loaded, file.rejected) == (2, 1, 1)
    (reject,) = _read_rejects(file.to_json())
    assert (reject["line"], reject["field"]) == ("2", "registered_capital")
    assert reject["reason"] == "'-500 is below the minimum 0"  # inert in a spreadsheet


def test_a_stake_above_one_names_the_range(tmp_path: Path) -> None:
    with pytest.raises(RowError) as caught:
        _number({"stake": "1.5"}, "stake", low=0, high=1)
    assert (caught.value.field, caught.value.reason) == ("stake", "1.5 is above the range 0..1")
    with pytest.raises(RowError) as caught:
        _number({"amount": "120"}, "amount", high=100)
    assert caught.value.reason == "120 is above the maximum 100"


def test_a_text_file_is_scanned_for_its_encoding_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    _write_rows(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "厦门鹭岛科技有限公司", "enterprise"]],
        "gbk",
    )
    scans: list[Path] = []
    detect = sources.detect_encoding

    def counting_detect(path: Path) -> str:
        scans.append(path)
        return detect(path)

    monkeypatch.setattr(loader_module, "detect_encoding", counting_detect)
    monkeypatch.setattr(sources, "detect_encoding", counting_detect)
    report = _load(None, folder, tmp_path)
    assert report.files[0].encoding == "gb18030" and report.files[0].loaded == 1
    assert scans == [folder / "legal_persons.csv"]


class _Stopped(Exception):
    """Ctrl-C, or a write that failed, as the writing thread meets it."""


class _WatchedQueue(queue.Queue):  # type: ignore[type-arg]
    """The loader's hand-over queue, telling when the parser offers an entry to a full one."""

    made: ClassVar[list[_WatchedQueue]] = []

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.parser_waits = threading.Event()
        _WatchedQueue.made.append(self)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if self.full():  # only the writer takes entries, and it is held: this put waits
            self.parser_waits.set()
        super().put(item, block, timeout)


def test_a_load_stopped_while_its_parser_waits_ends_instead_of_hanging(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three chunks: the writer holds the first while the second and third fill the queue, and
    # the parser, done with the file, waits to hand over its end; then the writer stops
    folder = tmp_path / "three"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [
            [FIRM_A, "", "厦门鹭岛科技有限公司", "enterprise"],
            [FIRM_B, "", "福州闽江贸易有限公司", "enterprise"],
            ["", "350203600012345", "思明区老张小吃店", "individual_business"],
        ],
    )

    _WatchedQueue.made.clear()
    watched = SimpleNamespace(Queue=_WatchedQueue, Full=queue.Full)
    monkeypatch.setattr(loader_module, "queue", watched)

    def stop_after_the_first_chunk(rows: int) -> None:
        # the parser meanwhile fills the queue and waits: seen, not slept on
        [handed] = _WatchedQueue.made
        assert handed.parser_waits.wait(30), "the parser never waited on a full queue"
        raise _Stopped

    loader = Loader(
        graph,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        batch_size=1,
        rejects_dir=tmp_path / "rejects",
        on_rows=stop_after_the_first_chunk,
    )
    planned = plan_load([folder], [], builtin_mappings())
    outcome: list[str] = []

    def run() -> None:
        try:
            loader.load(planned)
        except _Stopped:
            outcome.append("stopped")

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the load hung once its writer stopped"
    assert outcome == ["stopped"]
    assert graph_counts(graph)["nodes"].get("LegalPerson") == 1  # the first chunk committed
