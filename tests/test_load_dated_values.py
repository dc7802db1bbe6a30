"""Full extracts loaded out of order keep the newer values (`described_on`), on the real store.

Month 1 (2025-01-31) and month 2 (2025-02-28) of one registry, in which FIRM_A moved and was
renamed, Zhang changed his phone, Li went from director to chair at FIRM_B, Zhang's stake in
FIRM_B grew, FIRM_A's guarantee of FIRM_B grew, the court's entry on FIRM_A got another
description, and a sanctions list (FtM, a secondary source) gave FIRM_A another e-mail. Loading
month 2 then month 1 (a back-fill) must give the graph of month 1 then month 2.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.queries.dump import LINEAGE_OF_RUN, GraphDump, dump_graph
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, new_database
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
IGNORE = (*LINEAGE_OF_RUN, "ended_by_run", "delisted_by_run")


def _month(root: Path, name: str, values: dict[str, str]) -> Path:
    """One month's extract; `values` are what changes from month to month."""
    folder = root / name
    folder.mkdir(parents=True)
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind", "address"],
        [
            [FIRM_A, values["name"], "enterprise", values["address"]],
            [FIRM_B, "福州闽江贸易有限公司", "enterprise", "福州市鼓楼区"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "phone"],
        [["resident", ZHANG, "张三", values["phone"]], ["resident", LI, "李四", ""]],
    )
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "source_record"],
        [[LI, FIRM_B, values["role"], "2016-01-01", "r2"]],
    )
    write_csv(
        folder / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [[ZHANG, FIRM_B, values["stake"], "s1"]],
    )
    write_csv(
        folder / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "source_record"],
        [[FIRM_A, FIRM_B, "guarantees", values["amount"], "g1"]],
    )
    debtor = [*debtor_row("d1", FIRM_A), values["description"]]
    write_csv(folder / "court_debtors.csv", [*RECORD_HEADER, "description"], [debtor])
    company = {
        "id": "co-a",
        "schema": "Company",
        "properties": {"registrationNumber": [FIRM_A], "name": [values["name"]]},
        "datasets": ["cn_test"],
    }
    company["properties"]["email"] = [values["email"]]
    (folder / "entities.ftm.json").write_text(
        json.dumps(company, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return folder


def _months(root: Path) -> tuple[Path, Path]:
    one = _month(
        root,
        "m1",
        {
            "name": "厦门鹭岛科技有限公司",
            "address": "厦门市思明区湖滨南路1号",
            "phone": "13800000001",
            "role": "director",
            "stake": "0.30",
            "amount": "1000000",
            "description": "未履行给付义务",
            "email": "old@ludao.example",
        },
    )
    two = _month(
        root,
        "m2",
        {
            "name": "厦门鹭岛智能科技有限公司",
            "address": "厦门市湖里区云顶北路2号",
            "phone": "13800000002",
            "role": "chair",
            "stake": "0.45",
            "amount": "2500000",
            "description": "未履行给付义务，拒不申报财产",
            "email": "new@ludao.example",
        },
    )
    return one, two


def _load(store: GraphStore, folder: Path, day: str | None, **options: Any) -> LoadReport:
    return load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
        [folder],
        batch_size=500,
        rejects_dir=folder / "rejects",
        full_extract=date.fromisoformat(day) if day else None,
        **options,
    )


def _dump(store: GraphStore) -> GraphDump:
    return dump_graph(store, ignore=IGNORE, skip_labels=["LoadChunk"])


def _firm_a(store: GraphStore) -> dict[str, Any]:
    (row,) = store.read(
        "MATCH (n:LegalPerson {uid: $uid}) RETURN properties(n) AS props", {"uid": FIRM_A}
    )
    props: dict[str, Any] = row["props"]
    return props


def test_an_older_extract_loaded_after_a_newer_one_keeps_the_newer_values(
    graph: GraphStore, embedded: Any, driver: Any, tmp_path: Path
) -> None:
    one, two = _months(tmp_path)
    in_order = new_database(embedded, driver, "datedorder")
    try:
        for folder, day in ((one, MONTH_1), (two, MONTH_2)):
            files = _load(in_order, folder, day).files
            assert all(f.balanced and not f.rejected and not f.outdated for f in files)
        newer = _load(graph, two, MONTH_2)
        backfill = _load(graph, one, MONTH_1)
        assert all(f.balanced for f in backfill.files)
        # the same graph, the firm's first name a former name in both: loaded in date order
        # the second month renamed the firm; back-filled, the first month's name, which it
        # does not write, is one the firm went by (docs/formats.md, "Former names and aliases")
        expected = _dump(in_order)
        assert _dump(graph).nodes == expected.nodes
        assert _dump(graph).relations == expected.relations
        former = "MATCH (o:OtherName)-[:NAME_OF]->(n) RETURN n.uid AS uid, o.kind AS kind"
        assert in_order.read(former) == [{"uid": FIRM_A, "kind": "former_name"}]
        assert graph.read(former) == [{"uid": FIRM_A, "kind": "former_name"}]
    finally:
        embedded.drop_database(in_order.database or "")
    firm = _firm_a(graph)
    assert firm["address"] == "厦门市湖里区云顶北路2号"
    assert firm["email"] == "new@ludao.example"
    assert firm["described_on"].iso_format() == MONTH_2
    # the lineage goes with the values: the run and the line that wrote them
    assert firm["run_id"] == newer.run_id and firm["source_row"] == "legal_persons:2"
    # every row of month 1 that names something month 2 described kept month 2's values
    assert {Path(f.file).name: f.outdated for f in backfill.files} == {
        "legal_persons.csv": 2,
        "natural_persons.csv": 2,
        "roles.csv": 1,
        "shareholdings.csv": 1,
        "firm_relations.csv": 1,
        "court_debtors.csv": 1,
        "entities.ftm.json": 1,
    }


def test_a_dry_run_counts_the_outdated_rows_and_the_summary_names_them(
    graph: GraphStore, tmp_path: Path, monkeypatch: Any, embedded: Any
) -> None:
    from tests.investigations import cli_runner

    one, two = _months(tmp_path)
    _load(graph, two, MONTH_2)
    cli: CliRunner = cli_runner(monkeypatch, embedded, graph)
    report = tmp_path / "report.json"
    result = cli.invoke(
        app, ["load", str(one), "--full-extract", MONTH_1, "--dry-run", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "legal_persons.csv: 2 row(s) older than the stored values" in result.output
    files = {Path(f["file"]).name: f for f in json.loads(report.read_text("utf-8"))["files"]}
    assert files["shareholdings.csv"]["outdated"] == 1
    assert files["shareholdings.csv"]["loaded"] == 1  # still a valid, loaded row
    assert _firm_a(graph)["address"] == "厦门市湖里区云顶北路2号"


def test_an_equal_day_or_an_undated_load_writes_its_values(
    graph: GraphStore, tmp_path: Path
) -> None:
    one, two = _months(tmp_path)
    _load(graph, two, MONTH_2)
    # the same day again (a corrected extract): the later load wins, as before
    again = _load(graph, one, MONTH_2)
    assert all(f.outdated == 0 for f in again.files)
    assert _firm_a(graph)["address"] == "厦门市思明区湖滨南路1号"
    # a plain load writes its values and leaves the day they are dated by
    _load(graph, two, None)
    firm = _firm_a(graph)
    assert firm["address"] == "厦门市湖里区云顶北路2号"
    assert firm["described_on"].iso_format() == MONTH_2


def test_a_sanctions_list_s_day_neither_blocks_nor_is_blocked_by_the_registry_s(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A list described in March adds FIRM_A's e-mail; the registry's February extract, loaded
    after it, still writes FIRM_A's name and address (the registry owns them), and the list's
    addition stays: each source's values are dated on a clock of its own."""
    one, two = _months(tmp_path)
    registry_only = {"legal_persons.csv", "natural_persons.csv"}
    for folder in (one, two):
        for path in folder.iterdir():
            if path.is_file() and path.name not in registry_only | {"entities.ftm.json"}:
                path.unlink()
    march = tmp_path / "list"
    march.mkdir()
    (two / "entities.ftm.json").rename(march / "entities.ftm.json")
    (one / "entities.ftm.json").unlink()
    _load(graph, one, MONTH_1)
    assert all(f.outdated == 0 for f in _load(graph, march, "2025-03-15").files)
    february = _load(graph, two, MONTH_2)
    assert all(f.outdated == 0 for f in february.files)
    firm = _firm_a(graph)
    assert firm["name"] == "厦门鹭岛智能科技有限公司"
    assert firm["address"] == "厦门市湖里区云顶北路2号"
    assert firm["email"] == "new@ludao.example"
    assert firm["described_on"].iso_format() == MONTH_2
    # an older list after it: the registry's values stay, and so do the newer list's additions
    older_list = tmp_path / "older-list"
    older_list.mkdir()
    company = json.loads((march / "entities.ftm.json").read_text("utf-8"))
    company["properties"]["email"] = ["stale@ludao.example"]
    (older_list / "entities.ftm.json").write_text(json.dumps(company) + "\n", encoding="utf-8")
    stale = _load(graph, older_list, "2025-03-01")
    assert [f.outdated for f in stale.files] == [1]
    firm = _firm_a(graph)
    assert (firm["email"], firm["address"]) == ("new@ludao.example", "厦门市湖里区云顶北路2号")


def test_a_list_s_newer_day_does_not_refuse_the_registry_a_party_the_list_created(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The list (March) is the first to name FIRM_A, by its USCC; the registry's February
    extract is the party's first registry description and writes its registered name."""
    one, _ = _months(tmp_path)
    listed = tmp_path / "list"
    listed.mkdir()
    (one / "entities.ftm.json").rename(listed / "entities.ftm.json")
    company = json.loads((listed / "entities.ftm.json").read_text("utf-8"))
    company["properties"]["name"] = ["LUDAO TECHNOLOGY CO"]
    (listed / "entities.ftm.json").write_text(json.dumps(company) + "\n", encoding="utf-8")
    _load(graph, listed, "2025-03-15")
    assert _firm_a(graph)["name"] == "LUDAO TECHNOLOGY CO"
    registry = _load(graph, one, MONTH_2)
    assert all(f.outdated == 0 and not f.rejected for f in registry.files)
    assert _firm_a(graph)["name"] == "厦门鹭岛科技有限公司"


def test_an_older_extract_s_record_is_not_refused_for_a_start_it_does_not_write(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Month 2 lists the court's entry from 2024-06-01 and the court lifted it (expired) on
    2024-09-01; month 1 had the entry starting later, 2024-10-01. Month 1 loaded late writes
    none of its dates, so it is no reason to refuse the row: it is counted as outdated."""
    one, two = _months(tmp_path)
    with (one / "court_debtors.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    start = RECORD_HEADER.index("valid_from")
    rows[1][start] = "2024-10-01"
    write_csv(one / "court_debtors.csv", rows[0], rows[1:])
    write_csv(
        two / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [["d1-exp", "d1", "xm_court", "expired", "2024-09-01"]],
    )
    _load(graph, two, MONTH_2)
    backfill = {Path(f.file).name: f for f in _load(graph, one, MONTH_1).files}
    debtors = backfill["court_debtors.csv"]
    assert (debtors.rejected, debtors.outdated) == (0, 1)
    (row,) = graph.read(
        "MATCH (r:SanctionEvent {record_id: 'd1'}) "
        "RETURN toString(r.valid_from) AS start, r.status AS status"
    )
    assert row == {"start": "2024-06-01", "status": "expired"}
