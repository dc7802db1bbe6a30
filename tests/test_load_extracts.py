"""Odd but real extracts, as data teams receive them, through the real loader into the store.

Each either loads, normalised, or is rejected naming its row and field (docs/formats.md)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from credgraph.graph.identifiers import make_uscc, resident_id_check_char
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.mapping import parse_mapping
from credgraph.loaders.report import FileReport
from credgraph.loaders.rows import ParseContext
from openpyxl import Workbook
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, TODAY, ZHANG, load_folder, write_csv

LEGAL_HEADER = ["uscc", "name", "kind", "registered_on", "registered_capital"]


def _only_file(store: GraphStore, folder: Path, tmp_path: Path) -> FileReport:
    report = load_folder(store, folder, tmp_path / "rejects", batch_size=4)
    assert len(report.files) == 1 and report.files[0].balanced
    return report.files[0]


def _rejects(report: FileReport) -> list[tuple[int, str, str]]:
    if report.rejects_file is None:
        return []
    with Path(report.rejects_file).open(encoding="utf-8") as handle:
        return [(int(r["line"]), r["field"], r["reason"]) for r in csv.DictReader(handle)]


def _legal_persons(store: GraphStore) -> dict[str, dict[str, object]]:
    rows = store.read(
        "MATCH (p:LegalPerson) RETURN p.uid AS uid, p.name AS name, "
        "p.registered_on AS registered_on, p.registered_capital AS capital"
    )
    return {row["uid"]: row for row in rows}


def test_a_sheet_with_a_title_above_its_header_loads(graph: GraphStore, tmp_path: Path) -> None:

    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(["企业登记信息表（截至2025年12月31日）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(LEGAL_HEADER))
    sheet.append([None, None, None, None, "单位：元"])
    sheet.append(LEGAL_HEADER)
    sheet.append([FIRM_A, "鹭岛科技", "enterprise", "2010-05-04", 500000])
    sheet.append([FIRM_B, "闽江贸易", "enterprise", "2012-01-09", None])
    for _ in range(20):  # rows a spreadsheet keeps formatted, with nothing in them
        sheet.append([None, " ", None])
    book.save(folder / "legal_persons.xlsx")
    report = _only_file(graph, folder, tmp_path)
    assert (report.read, report.loaded, report.rejected) == (2, 2, 0)
    assert report.unused_columns == []
    assert set(_legal_persons(graph)) == {FIRM_A, FIRM_B}


def test_excel_s_unicode_text_export_loads(graph: GraphStore, tmp_path: Path) -> None:
    """Excel's "Save as Unicode text": UTF-16 with its byte order mark, tab-separated."""
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [LEGAL_HEADER, [FIRM_A, "厦门𠮷野家餐饮有限公司", "enterprise", "", ""]]
    text = "".join("\t".join(cells) + "\r\n" for cells in lines)
    (folder / "legal_persons.txt").write_bytes(text.encode("utf-16"))  # with its BOM
    report = _only_file(graph, folder, tmp_path)
    assert (report.encoding, report.loaded, report.rejected) == ("utf-16", 1, 0)
    assert _legal_persons(graph)[FIRM_A]["name"] == "厦门𠮷野家餐饮有限公司"


def test_parquet_nulls_and_nan_are_empty_cells_a_typed_nan_is_no_number(
    graph: GraphStore, tmp_path: Path
) -> None:

    folder = tmp_path / "in"
    folder.mkdir()
    table = pa.table(
        {
            "uscc": [FIRM_A, FIRM_B],
            "name": ["鹭岛科技", "闽江贸易"],
            "kind": ["enterprise", "enterprise"],
            # pandas writes a missing float as NaN, a missing nullable int as null
            "registered_capital": pa.array([float("nan"), 500000.0], pa.float64()),
            "region_code": pa.array([None, 350102], pa.int64()),
        }
    )
    pq.write_table(table, folder / "legal_persons.parquet")
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected) == (2, 0)
    stored = _legal_persons(graph)
    assert stored[FIRM_A]["capital"] is None and stored[FIRM_B]["capital"] == 500000.0

    typed = tmp_path / "typed"
    typed.mkdir()
    rows = [
        [FIRM_A, "鹭岛科技", "enterprise", "", "nan"],
        [FIRM_B, "闽江", "enterprise", "", "inf"],
    ]
    write_csv(typed / "legal_persons.csv", LEGAL_HEADER, rows)
    report = _only_file(graph, typed, tmp_path)
    assert _rejects(report) == [
        (2, "registered_capital", "'nan' is not a number"),
        (3, "registered_capital", "'inf' is not a number"),
    ]


def test_dates_and_amounts_as_registries_write_them_load_normalised(
    graph: GraphStore, tmp_path: Path
) -> None:

    written = [
        ("2018.03.02", "1.5亿元", 150_000_000.0),
        ("2018/3/2", "750万", 7_500_000.0),
        ("2018年3月2日", "人民币500万元", 5_000_000.0),
        ("20180302", "¥3,000.00", 3000.0),
        ("2018-03-02 00:00:00", "５００万元", 5_000_000.0),
        ("２０１８－０３－０２", "3,000", 3000.0),
    ]
    refused = [
        ("2019-02-30", "", "registered_on", "'2019-02-30' is not a date"),
        ("02/03/2018", "", "registered_on", "'02/03/2018' is not a date"),
        ("", "五十万", "registered_capital", "'五十万' is not an amount in yuan"),
        ("", "500万美元", "registered_capital", "'500万美元' is not an amount in yuan"),
    ]
    firms = [make_uscc("9", "1", "350203", f"MA2Y{i:04d}") for i in range(10)]
    rows = [
        [firms[i], f"公司{i}", "enterprise", day, money]
        for i, (day, money, _) in enumerate(written)
    ]
    rows += [
        [firms[6 + i], "坏", "enterprise", day, money] for i, (day, money, *_) in enumerate(refused)
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "legal_persons.csv", LEGAL_HEADER, rows)
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected) == (len(written), len(refused))
    stored = _legal_persons(graph)
    for firm, (_, _, yuan) in zip(firms, written, strict=False):
        assert stored[firm]["registered_on"].to_native() == date(2018, 3, 2)
        assert stored[firm]["capital"] == yuan
    rejected = _rejects(report)
    assert [(line, field) for line, field, _ in rejected] == [
        (8 + i, field) for i, (_, _, field, _) in enumerate(refused)
    ]
    for (_, _, reason), (*_, expected) in zip(rejected, refused, strict=True):
        assert reason.startswith(expected)


def test_identifiers_with_spaces_case_width_and_invisible_characters_resolve(
    graph: GraphStore, tmp_path: Path
) -> None:
    """As cells come from web pages and office files: a trailing space, lower case, full-width,
    a no-break space, or a zero-width space nobody sees."""

    firms = [make_uscc("9", "1", "350203", f"MA2Y{i:04d}") for i in range(5)]
    written = [
        firms[0] + "  ",
        firms[1].lower(),
        "".join(chr(ord(c) + 0xFEE0) for c in firms[2]),
        "\u00a0" + firms[3],
        firms[4] + "\u200b",
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [[code, f"公司{i}", "enterprise", "", ""] for i, code in enumerate(written)]
    write_csv(folder / "legal_persons.csv", LEGAL_HEADER, rows)
    header = ["from_id", "to_id", "relation", "source_record"]
    links = [["\ufeff" + firms[i], written[i + 1], "supplies", f"f{i}"] for i in range(4)]
    write_csv(folder / "firm_relations.csv", header, links)
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    assert [(f.loaded, f.rejected) for f in report.files] == [(5, 0), (4, 0)]
    assert set(_legal_persons(graph)) == set(firms)


def test_control_characters_are_dropped_from_every_value_the_stored_name_too(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A NUL (a fixed-width export's padding), a DOS end-of-file mark, an escape: no name or
    address holds one, and a graph export (XML) cannot carry them."""
    folder = tmp_path / "in"
    folder.mkdir()
    header = [*LEGAL_HEADER, "address"]
    rows = [
        [FIRM_A + "\x00", "鹭岛\x00科技\x00\x00", "enterprise", "", "", "思明区\x1b湖滨北路\x1a"],
        [FIRM_B, "\x7f闽江\x01贸易", "enterprise", "2020-01-02\x00", "", ""],
    ]
    write_csv(folder / "legal_persons.csv", header, rows)
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected) == (2, 0)
    stored = graph.read(
        "MATCH (p:LegalPerson) RETURN p.uid AS uid, p.name AS name, p.address AS address"
    )
    assert {row["uid"]: (row["name"], row["address"]) for row in stored} == {
        FIRM_A: ("鹭岛科技", "思明区湖滨北路"),
        FIRM_B: ("闽江贸易", None),
    }


def test_a_spreadsheet_error_in_a_cell_rejects_its_row_naming_the_field(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A lookup formula that found nothing shows `#N/A`: not a name, not an amount."""

    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(LEGAL_HEADER)
    sheet.append([FIRM_A, "#N/A", "enterprise", None, None])  # an error cell
    sheet.append([FIRM_B, "闽江贸易", "enterprise", None, "#VALUE!"])
    book.save(folder / "legal_persons.xlsx")
    report = _only_file(graph, folder, tmp_path)
    assert _rejects(report) == [
        (2, "name", "holds the spreadsheet error #N/A (a formula that failed)"),
        (3, "registered_capital", "holds the spreadsheet error #VALUE! (a formula that failed)"),
    ]
    assert _legal_persons(graph) == {}


def test_a_csv_saved_from_a_titled_sheet_loads(graph: GraphStore, tmp_path: Path) -> None:
    """The CSV Excel saves from a sheet with a title keeps the title as its first line."""
    folder = tmp_path / "in"
    folder.mkdir()
    title = ["企业登记信息表", "", "", "", ""]
    rows = [
        title,
        LEGAL_HEADER,
        [FIRM_A, "鹭岛科技", "enterprise", "", ""],
        [FIRM_B, "", "", "", ""],
    ]
    write_csv(folder / "legal_persons.csv", rows[0], rows[1:], encoding="gbk")
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected, report.unused_columns) == (1, 1, [])
    assert _rejects(report)[0][:2] == (4, "kind")  # the line as the file numbers it


def test_a_canonical_file_with_its_columns_in_upper_case_loads(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A database export names its columns `USCC`, `NAME`, `KIND`."""
    folder = tmp_path / "in"
    folder.mkdir()
    header = ["USCC", " Name ", "KIND", "Adress"]
    write_csv(folder / "legal_persons.csv", header, [[FIRM_A, "鹭岛科技", "ENTERPRISE", "厦门"]])
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected) == (1, 0)
    assert report.unused_columns == ["Adress"]  # a misspelt column is still told
    assert _legal_persons(graph)[FIRM_A]["name"] == "鹭岛科技"


def test_fifteen_digit_ids_and_registration_numbers_are_read_as_what_they_are(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Older extracts carry first-generation resident IDs (15 digits, issued until 1999) and
    the 15-digit registration numbers firms had before their USCC."""

    old_id = "350203750302123"  # born 1975-03-02, no check character
    first17 = "35020319750302123"
    new_id = first17 + resident_id_check_char(first17)
    shop = "350203600012345"
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [[FIRM_A, "", "鹭岛科技", "enterprise"], ["", shop, "老张小吃店", "individual_business"]],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", old_id, "张伟", "M"]],
    )
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "source_record"],
        [
            [new_id, FIRM_A, "director", "r1"],  # the same person by the new number
            [old_id, shop, "legal_representative", "r2"],  # a bare registration number
            [old_id, "350203600012346", "director", "r3"],  # a wrong check digit
        ],
    )
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    assert [(f.loaded, f.rejected) for f in report.files] == [(2, 0), (1, 0), (2, 1)]
    assert _rejects(report.files[2]) == [
        (
            4,
            "company_id",
            "15 digits, but not a registration number (its check digit does not match)",
        )
    ]
    people = graph.read("MATCH (p:NaturalPerson) RETURN p.sex AS sex, p.id_masked AS masked")
    assert people == [{"sex": "M", "masked": "3502**********" + new_id[-4:]}]
    roles = graph.read(
        "MATCH (:NaturalPerson)-[r]->(f:LegalPerson) RETURN f.uid AS firm ORDER BY firm"
    )
    assert [row["firm"] for row in roles] == sorted([FIRM_A, "REG:" + shop])


def _with_builtin_date_format(path: Path, number_format: int) -> None:
    """Rewrite an openpyxl workbook as a Chinese Excel saves it: its date cells refer to a
    built-in number format by its number alone, with no format code in the file."""

    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    styles = re.sub(r"<numFmts.*?</numFmts>", "", parts["xl/styles.xml"].decode())
    parts["xl/styles.xml"] = re.sub(
        r'numFmtId="1\d\d"', f'numFmtId="{number_format}"', styles
    ).encode()
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)


def test_dates_in_a_chinese_excel_s_built_in_date_format_are_dates(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Format 31 shows 2018年3月2日 in a Chinese Excel; read without it, the cell is 43161."""

    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(LEGAL_HEADER)
    sheet.append([FIRM_A, "鹭岛科技", "enterprise", date(2018, 3, 2), 500000])
    book.save(folder / "legal_persons.xlsx")
    _with_builtin_date_format(folder / "legal_persons.xlsx", 31)
    report = _only_file(graph, folder, tmp_path)
    assert (report.loaded, report.rejected) == (1, 0)
    assert _legal_persons(graph)[FIRM_A]["registered_on"].to_native() == date(2018, 3, 2)


def test_a_registration_date_in_the_future_or_excel_s_zero_date_is_rejected(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A registered_on after the load's day (a year typed wrong) is no registration that
    happened; 1899-12-30 is what an Excel date cell holding 0 reads as. Either rejects the row
    naming the field, and the zero date is refused in any date column (a role's valid_from)."""
    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(LEGAL_HEADER)
    sheet.append([FIRM_A, "鹭岛科技", "enterprise", date(2030, 3, 2), 500000])
    sheet.append([FIRM_B, "闽江贸易", "enterprise", "1899-12-30", 500000])  # as pandas saves it
    sheet.append([make_uscc("9", "1", "350203", "MA2Y0008"), "思明商行", "enterprise", 0, 1])
    sheet.cell(4, 4).number_format = "yyyy-mm-dd"  # a date cell holding 0: openpyxl says 00:00
    sheet.append([make_uscc("9", "1", "350203", "MA2Y0009"), "海沧贸易", "enterprise", TODAY, 1])
    book.save(folder / "legal_persons.xlsx")
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "source_record"],
        [[ZHANG, FIRM_A, "director", "1899-12-30", "r1"]],
    )
    write_csv(folder / "natural_persons.csv", ["id_type", "id_number", "name"], [])
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    legal, _, roles = report.files
    assert (legal.loaded, legal.rejected) == (1, 3)
    rejected = _rejects(legal)
    assert [(line, field) for line, field, _ in rejected] == [
        (2, "registered_on"),
        (3, "registered_on"),
        (4, "registered_on"),
    ]
    assert "a legal person cannot have been registered in the future" in rejected[0][2]
    assert rejected[1][2].startswith("1899-12-30 is before 1900-01-01")
    assert [(line, field) for line, field, _ in _rejects(roles)] == [(2, "valid_from")]


def test_an_identifier_excel_saved_in_scientific_notation_is_told_as_such(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Excel writes a long number it does not keep as text as 3.50203E+17: the digits are
    gone, and the row says so rather than failing a check character."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv", ["uscc", "name", "kind"], [[FIRM_A, "鹭岛", "enterprise"]]
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", "3.50203E+17", "张伟"]],
    )
    write_csv(
        folder / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [["3.50203E+17", FIRM_A, "0.5", "s1"], ["1.2E+17", FIRM_A, "1.5E-01", "s2"]],
    )
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    for file, field in ((report.files[1], "id_number"), (report.files[2], "holder_id")):
        rejected = _rejects(file)
        assert {(f, r.split(" (")[0]) for _, f, r in rejected} == {
            (field, "is a number in scientific notation")
        }
        assert all("3.50203" not in reason for *_, reason in rejected)


def _persons(store: GraphStore) -> list[str]:
    return sorted(
        row["name"] for row in store.read("MATCH (p:NaturalPerson) RETURN p.name AS name")
    )


LOST_DIGITS = 3.50203198102032e17  # what Excel keeps of an 18-digit ID stored as a number


def test_an_identifier_excel_stored_as_a_number_is_refused_not_rounded_into_another(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Excel keeps 15 significant digits: 3.50203198102032E+17 written out in full is
    350203198102032000, another valid resident ID, and a second row rounding to it under
    another name would be merged into the first. A number cell where an identifier is expected
    is refused, naming its field and telling to format the column as text; an amount in a
    number cell still loads, however large."""
    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(LEGAL_HEADER)
    sheet.append([FIRM_A, "鹭岛科技", "enterprise", date(2018, 3, 2), 2.5e15])
    book.save(folder / "legal_persons.xlsx")
    book = Workbook()
    sheet = book.active
    sheet.append(["id_type", "id_number", "name"])
    sheet.append(["resident", LOST_DIGITS, "张伟"])
    sheet.append(["resident", 3.502031981020321e17, "李娜"])  # rounds to the same
    sheet.append(["resident", 350203750302123.0, "王芳"])  # 15 digits: Excel keeps them all
    book.save(folder / "natural_persons.xlsx")
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    legal, natural = report.files
    assert (legal.loaded, legal.rejected) == (1, 0)
    assert _legal_persons(graph)[FIRM_A]["capital"] == 2.5e15
    assert (natural.loaded, natural.rejected, natural.merged) == (1, 2, 0)
    rejected = _rejects(natural)
    assert [(line, field) for line, field, _ in rejected] == [(2, "id_number"), (3, "id_number")]
    assert all("format the column as text" in reason for *_, reason in rejected)
    assert _persons(graph) == ["王芳"]


def test_an_identifier_written_as_a_json_float_is_refused_an_integer_loads(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A JSON float keeps some 16 digits and no more: `3.50203198102032e17` is refused where an
    identifier is expected, in a party reference too; an 18-digit JSON integer is exact and
    loads, and so does a Parquet int64 column of IDs."""
    first17 = "35020319750302123"
    exact = int(first17 + resident_id_check_char(first17)[0])
    assert str(exact).isdigit()
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv", ["uscc", "name", "kind"], [[FIRM_A, "鹭岛", "enterprise"]]
    )
    lines = [
        {"id_type": "resident", "id_number": LOST_DIGITS, "name": "张伟"},
        {"id_type": "resident", "id_number": exact, "name": "李娜"},
    ]
    (folder / "natural_persons.jsonl").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8"
    )
    roles = [
        {"person_id_number": exact, "company_id": FIRM_A, "role": "director", "source_record": 1},
        {
            "person_id_number": float(exact),
            "company_id": FIRM_A,
            "role": "supervisor",
            "source_record": 2,
        },
    ]
    (folder / "roles.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in roles), encoding="utf-8"
    )
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    natural, role_file = report.files[1], report.files[2]
    assert (natural.loaded, natural.rejected) == (1, 1)
    assert [(line, field) for line, field, _ in _rejects(natural)] == [(1, "id_number")]
    assert (role_file.loaded, role_file.rejected) == (1, 1)
    assert [(line, field) for line, field, _ in _rejects(role_file)] == [(2, "person_id_number")]
    assert all("format the column as text" in r for *_, r in _rejects(role_file))
    assert _persons(graph) == ["李娜"]

    again = tmp_path / "parquet"
    again.mkdir()
    pq.write_table(
        pa.table(
            {
                "id_type": ["resident"],
                "id_number": pa.array([exact], pa.int64()),
                "name": ["李娜"],
            }
        ),
        again / "natural_persons.parquet",
    )
    report = load_folder(graph, again, tmp_path / "rejects2", batch_size=4)
    assert (report.files[0].loaded, report.files[0].rejected) == (1, 0)
    assert _persons(graph) == ["李娜"]


def test_a_company_merged_down_over_its_shareholders_rows_is_each_row_s(
    graph: GraphStore, tmp_path: Path
) -> None:

    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "鹭岛科技", "enterprise"], [FIRM_B, "闽江贸易", "enterprise"]],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张伟"], ["resident", LI, "李娜"]],
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["股东信息表"])
    sheet.merge_cells("A1:D1")  # a title: not a header, not filled into one
    sheet.append(["company_id", "holder_id", "stake", "source_record"])
    sheet.append([FIRM_A, ZHANG, 0.5, "s1"])
    sheet.append([None, LI, 0.3, "s2"])
    sheet.append([None, FIRM_B, 0.2, "s3"])
    sheet.merge_cells("A3:A5")  # one company, three shareholders
    sheet.append([FIRM_B, LI, 1, "s4"])
    book.save(folder / "shareholdings.xlsx")
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=4)
    holdings = report.files[-1]
    assert (holdings.loaded, holdings.rejected) == (4, 0)
    held = graph.read(
        "MATCH (h)-[s:SHAREHOLDER_OF]->(f:LegalPerson) RETURN s.source_record AS id, f.uid AS firm"
    )
    assert sorted((row["id"], row["firm"]) for row in held) == [
        ("s1", FIRM_A),
        ("s2", FIRM_A),
        ("s3", FIRM_A),
        ("s4", FIRM_B),
    ]


def test_pipe_and_semicolon_separated_files_load(graph: GraphStore, tmp_path: Path) -> None:
    """Exchange files of government and bank systems are often `|`-separated text; a
    European Excel saves CSV with `;`."""
    piped, semi = tmp_path / "piped", tmp_path / "semi"
    piped.mkdir()
    semi.mkdir()
    lines = ["uscc|name|kind|registered_capital", f"{FIRM_A}|鹭岛科技|enterprise|3,000"]
    (piped / "legal_persons.txt").write_text("\r\n".join(lines) + "\r\n", encoding="gbk")
    lines = ["uscc;name;kind", f"{FIRM_B};闽江贸易;enterprise"]
    (semi / "legal_persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for folder in (piped, semi):
        report = _only_file(graph, folder, tmp_path)
        assert (report.loaded, report.rejected) == (1, 0)
    stored = _legal_persons(graph)
    assert set(stored) == {FIRM_A, FIRM_B} and stored[FIRM_A]["capital"] == 3000.0


def test_a_mapped_column_written_with_other_brackets_or_spaces_is_found(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The mapping says `注册资本（万元）`; this month's extract heads it `注册资本(万元)`."""

    mapping = parse_mapping(
        {
            "target": "legal_persons",
            "fields": {
                "uscc": "统一社会信用代码",
                "name": "企业名称",
                "kind": {"value": "enterprise"},
                "registered_capital": {
                    "column": "注册资本（万元）",
                    "transform": "amount",
                    "unit": "万元",
                },
            },
        },
        origin="amr.yaml",
        default_name="amr",
    )
    source = tmp_path / "企业登记.csv"
    write_csv(
        source, [" 统一社会信用代码", "企业名称 ", "注册资本(万元)"], [[FIRM_A, "鹭岛", "50"]]
    )
    context = ParseContext(TEST_PERSON_KEY.encode())
    report = load_paths(
        graph, context, [source], batch_size=4, rejects_dir=tmp_path / "r", mappings=[mapping]
    )
    assert (report.files[0].loaded, report.files[0].rejected) == (1, 0)
    assert _legal_persons(graph)[FIRM_A]["capital"] == 500000.0


def test_a_column_the_mapping_reads_but_the_file_lacks_is_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A field whose column is not in this extract would stay empty on every row unseen."""

    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    mapping = tmp_path / "amr.yaml"
    mapping.write_text(
        "target: legal_persons\n"
        "fields:\n"
        "  uscc: 统一社会信用代码\n"
        "  name: 企业名称\n"
        "  kind: {value: enterprise}\n"
        "  registered_capital: {column: 注册资本, transform: amount, unit: 万元}\n"
        "  address: [住所, 地址]\n"
        "  industry: {column: 行业, default: 未知}\n",
        encoding="utf-8",
    )
    source = tmp_path / "企业登记.csv"
    write_csv(source, ["统一社会信用代码", "企业名称", "资本"], [[FIRM_A, "鹭岛", "50"]])
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["load", str(source), "--mapping", str(mapping), "--dry-run", "--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(report.read_text(encoding="utf-8"))["files"]
    assert entry["missing_columns"] == ["注册资本 (registered_capital)", "住所 / 地址 (address)"]
    assert "columns the mapping reads are not in the file" in " ".join(result.output.split())


def test_a_workbook_opening_with_a_sheet_of_instructions_loads_its_data_sheet(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Government templates open with 填表说明; the data is on the next sheet."""
    folder = tmp_path / "in"
    folder.mkdir()
    book = Workbook()
    notes = book.active
    notes.title = "填表说明"
    notes.append(["请按模板填写，统一社会信用代码为18位。"])
    data = book.create_sheet("企业")
    data.append(LEGAL_HEADER)
    data.append([FIRM_A, "鹭岛科技", "enterprise", None, None])
    book.save(folder / "legal_persons.xlsx")
    report = _only_file(graph, folder, tmp_path)
    assert (report.read, report.loaded) == (1, 1)


def test_a_row_with_more_fields_than_the_header_is_rejected_not_shifted(
    graph: GraphStore, tmp_path: Path
) -> None:
    """An address with an unquoted comma would load its second half as the industry."""
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [
        "uscc,name,kind,address,industry",
        f"{FIRM_A},鹭岛科技,enterprise,厦门市思明区,某路1号,软件业",
        f"{FIRM_B},闽江贸易,enterprise,福州市鼓楼区,批发业,,",  # trailing empty fields: no harm
    ]
    (folder / "legal_persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _only_file(graph, folder, tmp_path)
    assert _rejects(report) == [
        (
            2,
            "(row)",
            "has 6 fields where the header names 5 columns: a comma in a field that is not "
            "quoted? The row was not read",
        )
    ]
    assert set(_legal_persons(graph)) == {FIRM_B}
