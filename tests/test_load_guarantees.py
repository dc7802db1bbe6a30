"""What `credgraph load` promises, on real files into the embedded store.

Every row accounted for; records' lifecycles; legacy codes and masked identifiers resolved only
when unambiguous; mapped extracts in other formats; idempotence and order independence.
"""

from __future__ import annotations

import csv
import random
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from credgraph.graph.identifiers import (
    make_uscc,
    registration_number_check_digit,
)
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.mapping import SourceMapping, parse_mapping
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
from credgraph.queries.lookup import resolve_identifier
from credgraph.queries.stats import graph_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_PERSON_KEY, new_database
from tests.registries import FIRM_A, FIRM_B, SHOP_C, ZHANG, write_tiny_registry

DOCS = Path(__file__).resolve().parents[1] / "docs"
REG_B = "35010220001234" + registration_number_check_digit("35010220001234")


def _ctx() -> ParseContext:
    return ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30))


def _load(
    store: GraphStore | None,
    paths: list[Path],
    tmp_path: Path,
    mappings: tuple[SourceMapping, ...] = (),
    batch_size: int = 3,
) -> LoadReport:
    return load_paths(
        store,
        _ctx(),
        paths,
        batch_size=batch_size,
        rejects_dir=tmp_path / "rejects",
        mappings=mappings,
    )


def _files(report: LoadReport) -> dict[str, dict[str, object]]:
    return {Path(f.file).name: f.to_json() for f in report.files}


def _rejects(report: LoadReport, name: str) -> list[tuple[str, str, str]]:
    path = _files(report)[name]["rejects_file"]
    with Path(str(path)).open(encoding="utf-8") as handle:
        return [(r["line"], r["field"], r["reason"]) for r in csv.DictReader(handle)]


def _write(path: Path, header: list[str], rows: list[list[str]], newline: str = "\n") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _status_of(store: GraphStore, uid: str) -> tuple[str, str, object]:
    row = store.read(
        "MATCH (r:SanctionEvent {uid: $uid}) "
        "RETURN r.status AS status, r.listed_status AS listed, r.status_since AS since",
        {"uid": uid},
    )[0]
    since = row["since"].to_native() if row["since"] is not None else None
    return row["status"], row["listed"], since


# --- the count identity and a corpus of bad rows ------------------------------------------------

GOOD_FIRM = make_uscc("9", "1", "350203", "MA2Y0101")
BAD_ROWS: list[tuple[list[str], str, str]] = [
    (
        [
            GOOD_FIRM[:-1] + "0" if GOOD_FIRM[-1] != "0" else GOOD_FIRM[:-1] + "1",
            "甲",
            "enterprise",
            "",
        ],
        "uscc",
        "check character",
    ),
    ([GOOD_FIRM[:17], "乙", "enterprise", ""], "uscc", "18"),
    (["", "丙", "enterprise", ""], "uscc", "is required"),
    ([make_uscc("9", "1", "350203", "MA2Y0102"), "", "enterprise", ""], "name", "is required"),
    ([make_uscc("9", "1", "350203", "MA2Y0103"), "丁", "company", ""], "kind", "is not one of"),
    (
        [make_uscc("9", "1", "350203", "MA2Y0104"), "戊", "enterprise", "2019-13-01"],
        "registered_on",
        "not a date",
    ),
    ([make_uscc("9", "1", "350203", "MA2Y0105"), "己", "", ""], "kind", "is required"),
    (["", "庚小吃店", "individual_business", "", "ABC-123"], "registration_number", "15 digits"),
    (["", "辛小吃店", "individual_business", ""], "uscc", "or else the business's"),
    (
        [make_uscc("9", "1", "350203", "MA2Y0106"), "壬", "enterprise", "", "", "吊销"],
        "status",
        "is not one of",
    ),
    (
        [make_uscc("9", "1", "350203", "MA2Y0107"), "癸", "enterprise", "", "", "", "ABCDEF"],
        "region_code",
        "6 digits",
    ),
    (
        [make_uscc("9", "1", "350203", "MA2Y0108"), "子", "enterprise", "", "", "", "999999"],
        "region_code",
        "99 is no province's code",
    ),
]
CORPUS_HEADER = ["uscc", "name", "kind", "registered_on", "registration_number", "status"]
CORPUS_HEADER.append("region_code")


def test_bad_rows_are_each_named_and_good_rows_all_land(graph: GraphStore, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    good = [
        [make_uscc("9", "1", "350203", f"MA2Y{i:04d}"), f"好公司{i}", "enterprise", ""]
        for i in range(200, 210)
    ]
    rows = [good[0], *(row for row, _, _ in BAD_ROWS), *good[1:]]
    padded = [row + [""] * (len(CORPUS_HEADER) - len(row)) for row in rows]
    _write(folder / "legal_persons.csv", CORPUS_HEADER, padded)
    report = _load(graph, [folder], tmp_path)
    counts = _files(report)["legal_persons.csv"]
    read = len(rows)
    assert (counts["read"], counts["loaded"], counts["rejected"], counts["merged"]) == (
        read,
        10,
        read - 10,
        0,
    )
    rejects = _rejects(report, "legal_persons.csv")
    assert [(line, field) for line, field, _ in rejects] == [
        (str(i + 3), field) for i, (_, field, _) in enumerate(BAD_ROWS)
    ]
    for (_, _, reason), (_, _, expected) in zip(rejects, BAD_ROWS, strict=True):
        assert expected in reason
    assert graph_counts(graph)["nodes"] == {"LegalPerson": 10}


# --- lifecycle: status changes ---------------------------------------------------------------

CHANGES_HEADER = ["change_id", "record_id", "source_system", "change", "effective_on"]


def test_changes_loaded_after_the_record_update_its_status(
    graph: GraphStore, tmp_path: Path
) -> None:
    registry = write_tiny_registry(tmp_path)
    _load(graph, [registry], tmp_path)
    assert _status_of(graph, "XMCREDIT:B-1") == ("active", "active", None)

    later = tmp_path / "later"
    later.mkdir()
    _write(
        later / "status_changes.csv",
        CHANGES_HEADER,
        [
            ["c2", "B-1", "xm-credit", "objection_closed", "2024-06-01"],
            ["c1", "B-1", "xm-credit", "objection_opened", "2024-05-01"],
            ["c3", "NOPE", "xm-credit", "revoked", "2024-05-01"],
        ],
    )
    report = _load(graph, [later], tmp_path)
    assert _rejects(report, "status_changes.csv") == [
        ("4", "record_id", "refers to a record that is neither in this load nor in the store")
    ]
    assert _status_of(graph, "XMCREDIT:B-1") == ("active", "active", date(2024, 6, 1))

    _write(
        later / "status_changes.csv",
        CHANGES_HEADER,
        [["c4", "B-1", "xm-credit", "repaired", "2025-01-02"]],
    )
    _load(graph, [later], tmp_path)
    assert _status_of(graph, "XMCREDIT:B-1") == ("repaired", "active", date(2025, 1, 2))

    # the record delivered again, as the source still lists it, keeps its repair
    _load(graph, [registry], tmp_path)
    assert _status_of(graph, "XMCREDIT:B-1") == ("repaired", "active", date(2025, 1, 2))


def test_rows_rejected_for_a_party_not_loaded_yet_land_when_loaded_again_after_it(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Changes before their record, roles before their people: rejected, and written by the
    next load of the same file once what they refer to is there (not skipped as committed)."""
    registry = write_tiny_registry(tmp_path)
    early = tmp_path / "early"
    early.mkdir()
    _write(
        early / "status_changes.csv",
        CHANGES_HEADER,
        [["c1", "B-1", "xm-credit", "revoked", "2024-05-01"]],
    )
    shutil.copy(registry / "roles.csv", early / "roles.csv")
    report = _load(graph, [early], tmp_path)
    assert [(f.loaded, f.rejected) for f in report.files] == [(0, 5), (0, 1)]

    _load(graph, [registry / "legal_persons.csv", registry / "natural_persons.csv"], tmp_path)
    _load(graph, [registry / "records.csv"], tmp_path)
    again = _load(graph, [early], tmp_path)
    assert [(f.loaded, f.rejected, f.skipped_chunks) for f in again.files] == [(4, 1, 0), (1, 0, 0)]
    assert _status_of(graph, "XMCREDIT:B-1") == ("revoked", "active", date(2024, 5, 1))
    roles = graph.read("MATCH (:NaturalPerson)-[r]->(:LegalPerson) RETURN count(r) AS n")
    assert roles == [{"n": 4}]
    # and a third load finds every chunk committed
    third = _load(graph, [early], tmp_path)
    assert [f.skipped_chunks for f in third.files] == [2, 1]


def test_changes_in_the_same_run_apply_and_are_linked(graph: GraphStore, tmp_path: Path) -> None:
    registry = write_tiny_registry(tmp_path)
    _write(
        registry / "status_changes.csv",
        CHANGES_HEADER,
        [["c1", "D-1", "court", "revoked", "2024-01-01"]],
    )
    _load(graph, [registry], tmp_path)
    assert _status_of(graph, "COURT:D-1")[0] == "revoked"
    linked = graph.read("MATCH (c:StatusChange)-[:CHANGES]->(r:SanctionEvent) RETURN r.uid AS uid")
    assert linked == [{"uid": "COURT:D-1"}]


# --- legacy codes and masked identifiers ----------------------------------------------------------


def test_legacy_codes_lead_to_the_uscc_that_took_them_over(
    graph: GraphStore, tmp_path: Path
) -> None:
    registry = write_tiny_registry(tmp_path)
    _write(
        registry / "legacy_identifiers.csv",
        ["uscc", "legacy_type", "legacy_code"],
        [
            [FIRM_B, "registration_number", REG_B],
            [FIRM_B, "org_code", FIRM_A[8:17]],  # not the code inside FIRM_B's USCC
            [FIRM_A, "registration_number", REG_B[:-1] + str((int(REG_B[-1]) + 1) % 10)],
        ],
    )
    with (registry / "shareholdings.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow([f"{FIRM_A[8:16]}-{FIRM_A[16]}", f"REG:{REG_B}", "0.1", "s3"])
    report = _load(graph, [registry], tmp_path)
    assert [(line, field) for line, field, _ in _rejects(report, "legacy_identifiers.csv")] == [
        ("3", "legacy_code"),
        ("4", "legacy_code"),
    ]
    assert _files(report)["shareholdings.csv"]["rejected"] == 0
    rows = graph.read(
        "MATCH (a:LegalPerson)-[r:SHAREHOLDER_OF {source_record: 's3'}]->(b:LegalPerson) "
        "RETURN a.uid AS holder, b.uid AS company"
    )
    assert rows == [{"holder": FIRM_A, "company": FIRM_B}]
    alias = graph.read(
        "MATCH (c:LegacyCode)-[:ALIAS_OF]->(n:LegalPerson) RETURN c.uid AS c, n.uid AS n"
    )
    assert alias == [{"c": f"registration_number:{REG_B}", "n": FIRM_B}]


SHOP_C_CONVERTED = make_uscc("9", "2", "350203", "MA2Y0003")


def _write_converted_shop(tmp_path: Path, carried: bool) -> Path:
    """A later extract: the tiny registry's unconverted shop under its new USCC.

    The old registration number comes beside the USCC (`carried`) or as a legacy identifier.
    """
    folder = tmp_path / "converted"
    folder.mkdir()
    number = SHOP_C.removeprefix("REG:")
    _write(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on", "address"],
        [
            [
                SHOP_C_CONVERTED,
                number if carried else "",
                "思明区老张小吃店",
                "individual_business",
                "2021-04-01",
                "",
            ]
        ],
    )
    if not carried:
        _write(
            folder / "legacy_identifiers.csv",
            ["uscc", "legacy_type", "legacy_code"],
            [[SHOP_C_CONVERTED, "registration_number", number]],
        )
    return folder


# another unconverted shop of the same name: not folded
SHOP_TWIN = "REG:35020360009999" + registration_number_check_digit("35020360009999")


def _shop_with_links(tmp_path: Path) -> Path:
    """The tiny registry, where the shop also supplies a firm and carries a record, and another
    shop has its name."""
    registry = write_tiny_registry(tmp_path)
    with (registry / "legal_persons.csv").open("a", encoding="utf-8", newline="") as handle:
        number = SHOP_TWIN.removeprefix("REG:")
        csv.writer(handle).writerow(["", number, "思明区老张小吃店", "individual_business", ""])
    with (registry / "firm_relations.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow([SHOP_C, FIRM_A, "supplies", "", "2020-01-01", "f1"])
    with (registry / "records.csv").open("a", encoding="utf-8", newline="") as handle:
        record = ["P-3", SHOP_C, "admin_penalty", "food_safety", "AUTH3", "思明区市场监督管理局"]
        dates = ["2020-05-01", "2020-05-01", ""]
        csv.writer(handle).writerow([*record, *dates, "active", "public", "xm-credit", "", ""])
    return registry


@pytest.mark.parametrize("carried", [True, False], ids=["number-carried", "legacy-alias"])
def test_an_unconverted_business_folds_into_its_uscc_whichever_comes_first(
    embedded, driver, tmp_path: Path, carried: bool
) -> None:  # type: ignore[no-untyped-def]
    registry = _shop_with_links(tmp_path)
    converted = _write_converted_shop(tmp_path, carried)
    orders = {
        "old extract, then new": [[registry], [converted]],
        "new extract, then old": [[converted], [registry]],
        "both in one run": [[registry, converted]],
    }
    stores = {name: new_database(embedded, driver, prefix="fold") for name in orders}
    try:
        for name, runs in orders.items():
            reports = [_load(stores[name], paths, tmp_path) for paths in runs]
            assert sum(f.folded for r in reports for f in r.files) == 1, name
            assert all(f.balanced for r in reports for f in r.files)
        ignore = (*LINEAGE_OF_RUN, "source_row")
        dumps = {
            name: dump_graph(store, ignore=ignore, skip_labels=["LoadChunk"])
            for name, store in stores.items()
        }
        first = dumps["old extract, then new"]
        assert all(dump == first for dump in dumps.values())

        store = stores["both in one run"]
        shop = store.read(
            "MATCH (n:LegalPerson) WHERE n.uid STARTS WITH 'REG:' OR n.uid = $uid "
            "RETURN n.uid AS uid, n.registration_number AS number, n.former_uids AS former, "
            "n.registered_on AS registered_on ORDER BY uid",
            {"uid": SHOP_C_CONVERTED},
        )
        assert [(row["uid"], row["number"], row["former"]) for row in shop] == [
            (SHOP_C_CONVERTED, SHOP_C.removeprefix("REG:"), [SHOP_C]),
            (SHOP_TWIN, SHOP_TWIN.removeprefix("REG:"), None),  # kept apart: a name is no key
        ]
        assert shop[0]["registered_on"].iso_format() == "2021-04-01"  # the USCC row's own
        links = store.read(
            "MATCH (a)-[r]->(b) WHERE a.uid = $uid OR b.uid = $uid "
            "RETURN a.uid AS a, type(r) AS type, b.uid AS b ORDER BY type",
            {"uid": SHOP_C_CONVERTED},
        )
        person = store.read("MATCH (p:NaturalPerson {name: '张伟'}) RETURN p.uid AS uid")[0]["uid"]
        expected = [
            {"a": person, "type": "LEGAL_REPRESENTATIVE_OF", "b": SHOP_C_CONVERTED},
            {"a": SHOP_C_CONVERTED, "type": "SUBJECT_OF", "b": "XMCREDIT:P-3"},
            {"a": SHOP_C_CONVERTED, "type": "SUPPLIES", "b": FIRM_A},
        ]
        if not carried:
            alias = f"registration_number:{SHOP_C.removeprefix('REG:')}"
            expected.insert(0, {"a": alias, "type": "ALIAS_OF", "b": SHOP_C_CONVERTED})
        assert links == expected
        found = resolve_identifier(store, SHOP_C, TEST_PERSON_KEY.encode())
        assert found is not None and found.uid == SHOP_C_CONVERTED

        before = dump_graph(store)
        _load(store, [registry, converted], tmp_path)
        assert dump_graph(store) == before, "a second load of the same files changed the graph"
    finally:
        for store in stores.values():
            embedded.drop_database(store.database or "")


@pytest.mark.parametrize("carried", [True, False], ids=["number-carried", "legacy-alias"])
def test_a_dry_run_reports_the_fold_the_load_does(
    embedded, driver, tmp_path: Path, carried: bool
) -> None:  # type: ignore[no-untyped-def]
    """`folded` in a dry run is the load's: the fold counted once, though the store still
    holds the unconverted business after the chunk that would fold it (here a later file
    claims its number again: the legacy identifiers, beside a USCC row carrying it)."""
    from credgraph.loaders.loader import Loader, plan_load
    from credgraph.loaders.mapping import builtin_mappings

    registry = _shop_with_links(tmp_path)
    converted = _write_converted_shop(tmp_path, carried)
    if carried:
        _write(
            converted / "legacy_identifiers.csv",
            ["uscc", "legacy_type", "legacy_code"],
            [[SHOP_C_CONVERTED, "registration_number", SHOP_C.removeprefix("REG:")]],
        )
    scenarios = {
        "both in one run": ([], [registry, converted]),
        "new extract, the old loaded before": ([registry], [converted]),
    }

    def counts(report: LoadReport) -> list[tuple[str, int, int, int, int, int]]:
        return [
            (Path(f.file).name, f.read, f.loaded, f.rejected, f.merged, f.folded)
            for f in report.files
        ]

    for name, (before, paths) in scenarios.items():
        store = new_database(embedded, driver, prefix="dryfold")
        try:
            if before:
                _load(store, before, tmp_path)
            stored = dump_graph(store)
            checked = [
                Loader(
                    target, _ctx(), batch_size=3, rejects_dir=tmp_path / "dry", dry_run=True
                ).load(plan_load(paths, (), builtin_mappings()))
                for target in ([store, None] if not before else [store])
            ]
            assert dump_graph(store) == stored, name
            real = _load(store, paths, tmp_path)
            assert sum(f.folded for f in real.files) == 1, name
            for report in checked:
                assert report.dry_run and counts(report) == counts(real), name
        finally:
            embedded.drop_database(store.database or "")


def _twin_of(uscc: str) -> str:
    """Another valid USCC with the same characters outside positions 12-15 (0-based 11-14)."""
    rnd = random.Random(5)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    while True:
        body = uscc[8:11] + "".join(rnd.choice(alphabet[:10]) for _ in range(5))
        twin = make_uscc(uscc[0], uscc[1], uscc[2:8], body)
        if twin != uscc and twin[:11] == uscc[:11] and twin[15:] == uscc[15:]:
            return twin


def test_masked_identifiers_match_only_when_unambiguous(graph: GraphStore, tmp_path: Path) -> None:
    registry = write_tiny_registry(tmp_path)
    _load(graph, [registry], tmp_path)
    mask = FIRM_A[:11] + "****" + FIRM_A[15:]
    masked_zhang = ZHANG[:4] + "*" * 10 + ZHANG[-4:]
    later = tmp_path / "later"
    later.mkdir()
    header = [
        "record_id",
        "subject_id",
        "subject_name",
        "kind",
        "status",
        "disclosure",
        "source_system",
    ]
    _write(
        later / "records.csv",
        header,
        [
            ["M-1", mask, "", "admin_penalty", "active", "public", "m"],
            ["M-2", masked_zhang, "张伟", "admin_penalty", "active", "public", "m"],
            ["M-3", masked_zhang, "王芳", "admin_penalty", "active", "public", "m"],
        ],
    )
    report = _load(graph, [later], tmp_path)
    assert [(line, field) for line, field, _ in _rejects(report, "records.csv")] == [
        ("4", "subject_id")
    ]
    subjects = graph.read(
        "MATCH (s)-[:SUBJECT_OF]->(r:SanctionEvent) WHERE r.source_system = 'm' "
        "RETURN r.record_id AS record, s.uid AS subject ORDER BY record"
    )
    assert subjects[0] == {"record": "M-1", "subject": FIRM_A}

    # a second firm that fits the same mask makes it ambiguous
    twin_dir = tmp_path / "twin"
    twin_dir.mkdir()
    _write(
        twin_dir / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[_twin_of(FIRM_A), "孪生公司", "enterprise"]],
    )
    _write(
        twin_dir / "records.csv",
        header,
        [["M-4", mask, "", "admin_penalty", "active", "public", "m"]],
    )
    report = _load(graph, [twin_dir], tmp_path)
    (rejected,) = _rejects(report, "records.csv")
    assert rejected[1] == "subject_id" and "matches 2 parties" in rejected[2]
    assert mask not in rejected[2]


# --- mapped extracts in other formats -------------------------------------------------------------


def _worked_example() -> SourceMapping:
    import yaml

    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("### Worked example") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "docs/formats.md lost its worked example"
    return parse_mapping(yaml.safe_load(block.group(1)), origin="docs", default_name="amr")


def test_the_documented_worked_example_loads_an_excel_extract(
    graph: GraphStore, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "登记"
    sheet.append(
        [
            "统一社会信用代码",
            "企业名称",
            "市场主体类型",
            "成立日期",
            "注册资本（万元）",
            "登记状态",
            "住所",
        ]
    )
    sheet.append(
        [FIRM_A, "廈門鷺島科技有限公司", "有限责任公司", "20180302", 750, "存续", "厦门市思明区"]
    )
    sheet.append(
        [FIRM_B, "福州闽江贸易有限公司", "股份有限公司", "2012年1月9日", "十万", "吊销", ""]
    )
    sheet.append(
        [make_uscc("9", "1", "350203", "MA2Y0301"), "某公司", "外星企业", "20200101", 1, "存续", ""]
    )
    path = tmp_path / "企业登记信息.xlsx"
    book.save(path)
    report = _load(graph, [path], tmp_path, mappings=(_worked_example(),))
    rejects = _rejects(report, "企业登记信息.xlsx")
    assert [(line, field) for line, field, _ in rejects] == [
        ("3", "注册资本（万元） (registered_capital)"),
        ("4", "市场主体类型 (kind)"),
    ]
    firm = graph.read(
        "MATCH (n:LegalPerson {uid: $uid}) RETURN n.registered_capital AS capital, "
        "n.registered_on AS on, n.status AS status, n.name_key AS key, n.source AS source",
        {"uid": FIRM_A},
    )[0]
    assert firm["capital"] == 7_500_000
    assert firm["on"].to_native() == date(2018, 3, 2)
    assert (firm["status"], firm["key"], firm["source"]) == (
        "active",
        "厦门鹭岛科技有限公司",
        "xm_amr_registry",
    )


def test_canonical_files_load_from_every_format(graph: GraphStore, tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "formats"
    folder.mkdir()
    with (folder / "legal_persons.jsonl").open("w", encoding="utf-8") as handle:
        for uscc, name in ((FIRM_A, "甲公司"), (FIRM_B, "乙公司")):
            handle.write(
                json.dumps({"uscc": uscc, "name": name, "kind": "enterprise"}, ensure_ascii=False)
                + "\n"
            )
    pq.write_table(
        pa.table({"id_type": ["resident"], "id_number": [ZHANG], "name": ["张伟"]}),
        folder / "natural_persons.parquet",
    )
    (folder / "roles.tsv").write_text(
        f"person_id_number\tcompany_id\trole\tsource_record\n{ZHANG}\t{FIRM_A}\tdirector\tr1\n",
        encoding="gbk",
    )
    _write(
        folder / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [[FIRM_A, FIRM_B, "0.5", "s1"], [ZHANG, FIRM_B, "0.5", "s2"]],
        newline="\r\r\n",
    )
    report = _load(graph, [folder], tmp_path)
    assert report.rejected == 0 and all(f.balanced for f in report.files)
    assert graph_counts(graph)["relations"] == {"EXECUTIVE_OF": 1, "SHAREHOLDER_OF": 2}


# --- idempotence and order independence -------------------------------------------------------


def test_loading_the_same_files_twice_leaves_the_graph_untouched(
    graph: GraphStore, tmp_path: Path
) -> None:
    registry = write_tiny_registry(tmp_path)
    first = _load(graph, [registry], tmp_path)
    before = dump_graph(graph)
    second = _load(graph, [registry], tmp_path)
    assert dump_graph(graph) == before
    assert [f.skipped_chunks for f in second.files] == [-(-f.read // 3) for f in first.files]
    assert [(f.read, f.loaded, f.rejected, f.merged) for f in second.files] == [
        (f.read, f.loaded, f.rejected, f.merged) for f in first.files
    ]


def _shuffled_copy(source: Path, target: Path, rnd: random.Random) -> None:
    target.mkdir()
    for path in source.iterdir():
        encoding = "gbk" if path.name == "court_debtors.csv" else "utf-8"
        with path.open(encoding=encoding, newline="") as handle:
            header, *rows = list(csv.reader(handle))
        rnd.shuffle(rows)
        with (target / path.name).open("w", encoding=encoding, newline="") as handle:
            csv.writer(handle).writerows([header, *rows])


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 7))
def test_rows_and_files_in_any_order_give_the_same_graph_and_reloads_change_nothing(
    embedded, driver, tmp_path_factory: pytest.TempPathFactory, seed: int, batch: int
) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("order")
    registry = write_tiny_registry(tmp)
    _write(
        registry / "status_changes.csv",
        CHANGES_HEADER,
        [["c1", "B-1", "xm-credit", "repaired", "2025-01-02"]],
    )
    reference = new_database(embedded, driver, prefix="ref")
    shuffled = new_database(embedded, driver, prefix="shuf")
    try:
        _load(reference, [registry], tmp)
        rnd = random.Random(seed)
        _shuffled_copy(registry, tmp / "shuffled", rnd)
        files = sorted((tmp / "shuffled").iterdir())
        rnd.shuffle(files)
        _load(shuffled, files, tmp, batch_size=batch)
        once = dump_graph(shuffled)
        _load(shuffled, files, tmp, batch_size=batch)
        assert dump_graph(shuffled) == once, "a second load of the same files changed the graph"
        ignore = (*LINEAGE_OF_RUN, "source_row")
        assert dump_graph(shuffled, ignore=ignore, skip_labels=["LoadChunk"]) == dump_graph(
            reference, ignore=ignore, skip_labels=["LoadChunk"]
        )
    finally:
        for store in (reference, shuffled):
            embedded.drop_database(store.database or "")
    shutil.rmtree(tmp)
