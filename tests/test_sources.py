"""Reading source files: every format, encoding and line ending, on small files written here."""

from __future__ import annotations

import codecs
import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from credgraph.loaders import sources
from credgraph.loaders.sources import (
    SOURCE_FORMATS,
    SourceError,
    SourceRow,
    as_text,
    detect_encoding,
    detect_format,
    read_csv_rows,
    read_rows,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HEADER = "uscc,name,capital"
ROW_A = "91110000100000000A,北京甲有限公司,100"
ROW_B = "91310000200000000B,上海乙有限公司,200.5"
A = {"uscc": "91110000100000000A", "name": "北京甲有限公司", "capital": "100"}
B = {"uscc": "91310000200000000B", "name": "上海乙有限公司", "capital": "200.5"}

Write = Callable[[str, str | bytes], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write text (as UTF-8) or bytes to a named file in tmp_path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write


def rows_of(path: Path, **options: str) -> list[tuple[int, dict[str, str]]]:
    return [(row.line, row.values) for row in read_rows(path, **options)]


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.txt", "csv"),
        ("a.tsv", "tsv"),
        ("a.tab", "tsv"),
        ("a.xlsx", "xlsx"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
    ],
)
def test_format_by_extension(name: str, expected: str) -> None:
    assert detect_format(Path(name)) == expected
    assert expected in SOURCE_FORMATS


def test_tab_separated_txt_is_tsv(write: Write) -> None:
    path = write("court.txt", "\n\ncase_no\tname\n(2024)京01执1号\t张三\n")
    assert detect_format(path) == "tsv"
    assert rows_of(path) == [(4, {"case_no": "(2024)京01执1号", "name": "张三"})]
    assert detect_format(write("plain.txt", f"{HEADER}\n{ROW_A}\n")) == "csv"


def test_unknown_extension_names_the_file_and_the_known_ones(write: Write) -> None:
    path = write("registry.xls", b"\xd0\xcf\x11\xe0")
    with pytest.raises(SourceError, match=r"registry\.xls.*\.xls'.*\.csv.*\.xlsx"):
        read_rows(path)


def test_unknown_format_name(write: Write) -> None:
    with pytest.raises(SourceError, match="unknown format 'xml'"):
        read_rows(write("a.csv", f"{HEADER}\n"), format="xml")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "不存在.csv"
    with pytest.raises(SourceError, match=r"不存在\.csv: no such file"):
        read_rows(missing)
    for read in (read_csv_rows, detect_encoding):
        with pytest.raises(SourceError) as refused:
            read(missing)
        assert str(refused.value) == f"{missing}: no such file", read


# --- CSV: encodings -----------------------------------------------------------------------------


def test_utf8(write: Write) -> None:
    path = write("utf8.csv", f"{HEADER}\n{ROW_A}\n{ROW_B}\n")
    assert detect_encoding(path) == "utf-8-sig"
    assert rows_of(path) == [(2, A), (3, B)]


def test_utf8_with_bom(write: Write) -> None:
    path = write("bom.csv", b"\xef\xbb\xbf" + f"{HEADER}\r\n{ROW_A}\r\n".encode())
    assert rows_of(path) == [(2, A)]
    assert list(next(read_rows(path)).values) == ["uscc", "name", "capital"]


def test_gbk(write: Write) -> None:
    path = write("court.csv", f"{HEADER}\r\n{ROW_A}\r\n{ROW_B}\r\n".encode("gbk"))
    assert detect_encoding(path) == "gb18030"
    assert rows_of(path) == [(2, A), (3, B)]
    assert rows_of(path, encoding="gbk") == [(2, A), (3, B)]


def test_the_old_reader_still_works(write: Write) -> None:
    path = write("court.csv", f"{HEADER}\n{ROW_A}\n".encode("gbk"))
    assert list(read_csv_rows(path)) == [SourceRow(2, A)]
    assert list(read_csv_rows(path, "gb18030", delimiter=",")) == [SourceRow(2, A, None)]


def test_undecodable_text_names_encoding_byte_and_line(write: Write) -> None:
    good = f"{HEADER}\r\r\n{ROW_A}\r\n\r".encode()
    path = write("bad.csv", good + b"x,\xff\xfe,1\n")
    at = rf"at byte {len(good) + 2} \(line 4\)"
    with pytest.raises(SourceError, match=rf"bad\.csv: cannot be decoded as utf-8 {at}"):
        list(read_rows(path, encoding="utf-8"))


def test_a_damaged_utf8_file_is_told_where_it_stops_being_utf8(write: Write) -> None:
    good = "".join(f"{i},甲公司{i},1\n" for i in range(200)).encode()
    path = write("damaged.csv", f"{HEADER}\n".encode() + good + "9,乙".encode() + b"\xe9\n")
    with pytest.raises(SourceError, match=r"nor as UTF-8, which it is up to byte \d+ \(line 202\)"):
        list(read_rows(path))


def test_unknown_encoding(write: Write) -> None:
    with pytest.raises(SourceError, match="unknown encoding 'klingon'"):
        read_rows(write("a.csv", f"{HEADER}\n"), encoding="klingon")


@pytest.mark.parametrize(
    "content", [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\n \r\n", codecs.BOM_UTF8 + b"\r\n"]
)
@pytest.mark.parametrize("name", ["empty.csv", "empty.tsv", "empty.txt"])
def test_an_empty_file_has_no_rows(write: Write, name: str, content: bytes) -> None:
    # nothing, a BOM alone or blank lines: no rows and no error, as a header alone or an empty
    # JSON Lines file (docs/formats.md, "Load reports"): a 0-byte export blocks no other file
    assert list(read_rows(write(name, content))) == []


def test_a_0_byte_workbook_or_parquet_file_has_no_rows(write: Write) -> None:
    for name in ("empty.xlsx", "empty.parquet"):
        assert list(read_rows(write(name, b""))) == []


# --- CSV: line endings, quotes, shapes ----------------------------------------------------------


def test_doubled_carriage_returns_are_one_line_ending(write: Write) -> None:
    path = write("twice.csv", f"{HEADER}\r\r\n{ROW_A}\r\r\n{ROW_B}\r\r\n")
    assert rows_of(path) == [(2, A), (3, B)]


def test_lone_carriage_returns(write: Write) -> None:
    path = write("mac.csv", f"{HEADER}\r{ROW_A}\r\r{ROW_B}")
    assert rows_of(path) == [(2, A), (4, B)]


def test_mixed_line_endings(write: Write) -> None:
    path = write("mixed.csv", f"{HEADER}\r\n{ROW_A}\r\r\n\n{ROW_B}\r{ROW_A}\n")
    assert rows_of(path) == [(2, A), (4, B), (5, A)]


def test_quoted_field_spanning_lines_counts_its_lines(write: Write) -> None:
    text = (
        "uscc,name,note\r\r\n"
        '1,"甲公司","first\r\r\nsecond\r\nthird"\r\r\n'
        '2,乙公司,"a\rb"\n'
        "3,丙公司,plain\n"
    )
    assert rows_of(write("multi.csv", text)) == [
        (2, {"uscc": "1", "name": "甲公司", "note": "first\nsecond\nthird"}),
        (5, {"uscc": "2", "name": "乙公司", "note": "a\nb"}),
        (7, {"uscc": "3", "name": "丙公司", "note": "plain"}),
    ]


def test_a_stray_quote_that_runs_over_whole_rows_rejects_its_row_naming_them(
    write: Write,
) -> None:
    text = (
        "uscc,name,kind,industry\n"
        '1,甲公司,enterprise,"批发 A\n'
        "2,乙公司,enterprise,零售\n"
        '3,丙公司,enterprise,软件 B"\n'
        "4,丁公司,enterprise,餐饮\n"
        '5,戊公司,enterprise,"厦门市, 思明区\n湖滨北路, 1号"\n'  # a real multi-line field
    )
    rows = list(read_rows(write("stray.csv", text)))
    assert [(row.line, row.values["uscc"]) for row in rows] == [(2, "1"), (5, "4"), (6, "5")]
    assert rows[0].error is not None
    assert "column 'industry' runs from line 2 to line 4" in rows[0].error
    assert "stray quote" in rows[0].error
    assert rows[1].error is None and rows[2].error is None


def test_line_endings_split_across_read_blocks(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_CHUNK", 3)
    path = write("tiny_blocks.csv", f"{HEADER}\r\r\n{ROW_A}\r\r\r\n{ROW_B}\r\r\n")
    assert rows_of(path) == [(2, A), (4, B)]


def test_blank_rows_skipped_short_rows_padded_extra_cells_ignored(write: Write) -> None:
    text = f"\n {HEADER} ,\n{ROW_A},x\n,,\n  ,\t, \n91,短\n{ROW_B},1,2,3\n"
    assert rows_of(write("shapes.csv", text)) == [
        (3, A),
        (6, {"uscc": "91", "name": "短", "capital": ""}),
        (7, B),
    ]


def test_header_names_are_stripped(write: Write) -> None:
    path = write("spaced.csv", "\ufeff uscc , name\t,capital\n1,甲,2\n")
    assert rows_of(path) == [(2, {"uscc": "1", "name": "甲", "capital": "2"})]
    assert rows_of(path, encoding="utf-8") == [(2, {"uscc": "1", "name": "甲", "capital": "2"})]


def test_a_header_naming_a_column_twice_is_refused(write: Write) -> None:
    path = write("twice.csv", "uscc,name,kind,name\n1,甲,enterprise,ACME\n")
    with pytest.raises(SourceError, match=r"twice\.csv: columns named more than once: name"):
        list(read_rows(path))


def test_tsv_and_delimiters(write: Write) -> None:
    tsv = f"{HEADER}\n{ROW_A}\n".replace(",", "\t")
    assert rows_of(write("court.tsv", tsv)) == [(2, A)]
    assert rows_of(write("court_tabs.csv", tsv)) == [(2, A)]  # a .csv with tabs, no commas
    semicolons = f"{HEADER}\n{ROW_A}\n".replace(",", ";")
    assert rows_of(write("semi.csv", semicolons), delimiter=";") == [(2, A)]
    assert rows_of(write("gbk.tsv", tsv.encode("gbk"))) == [(2, A)]


def test_an_unclosed_quote_that_runs_to_the_end_of_the_file_is_told_as_such(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap on a row, the quoted field is read past to the end of the file, never held,
    and its row names the lines it swallowed; the rows before it read."""
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 200)
    text = f"{HEADER}\n{ROW_A}\n" + '9,"unclosed,1\n' + f"{ROW_B}\n" * 10
    rows = list(read_rows(write("quote.csv", text)))
    assert [(row.line, row.values) for row in rows[:1]] == [(2, A)]
    assert [row.line for row in rows] == [2, 3]
    assert rows[1].error == (
        "the quoted field in column 'name' of the row from line 3 is not closed before the end "
        "of the file (line 13): 344 characters, over the limit of 200; an unclosed quote? "
        "Lines 3 to 13 were not read"
    )


def test_a_field_longer_than_the_csv_modules_limit_loads(write: Write) -> None:
    """The csv module refuses a field over 131,072 characters (and the reader refused the rest
    of the file); a business scope or a decision's text may be that long."""
    scope = "经营范围" * 40_000  # 160,000 characters
    text = f"{HEADER},scope\n{ROW_A},{scope}\n{ROW_B},短\n"
    assert rows_of(write("long.csv", text)) == [
        (2, {**A, "scope": scope}),
        (3, {**B, "scope": "短"}),
    ]


def test_a_field_over_the_field_limit_rejects_its_row_naming_the_column_and_length(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_FIELD_CHARS", 1000)
    quoted = '"' + "第一段\n" * 300 + '"'  # over the field limit, over several lines
    text = f"{HEADER},scope\n{ROW_A},{'x' * 1001}\n{ROW_B},{quoted}\n{ROW_A},ok\n"
    rows = list(read_rows(write("long.csv", text)))
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            "the value of 'scope' is 1,001 characters long, over the limit of 1,000: "
            "the row was not read",
        ),
        (
            3,
            "the value of 'scope' is 1,200 characters long, over the limit of 1,000: "
            "the row was not read",
        ),
        (304, None),
    ]
    assert rows[2].values == {**A, "scope": "ok"}


def _peak_reading(path: Path) -> tuple[list[SourceRow], int]:
    tracemalloc.start()
    try:
        rows = list(read_rows(path))
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["long.csv", "long.tsv"])
def test_a_line_over_the_cap_is_read_past_in_bounded_memory_and_rejected(
    write: Write, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A line of 4 MB under a cap of 10,000 characters: never held whole (the peak stays far
    below the line), its row rejected naming the line and its length, the next rows read."""
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 10_000)
    monkeypatch.setattr(sources, "_CHUNK", 1 << 12)
    sep = "\t" if name.endswith("tsv") else ","
    long_line = sep.join(["1", "名"] + ["x"] * 2_000_000)
    text = f"{HEADER}\n{ROW_A}\n{long_line}\r\n{ROW_B}\n".replace(",", sep)
    rows, peak = _peak_reading(write(name, text))
    assert peak < 1 << 20, f"peak {peak:,} bytes"
    assert [(row.line, row.values, row.error) for row in rows] == [
        (2, A, None),
        (
            3,
            {},
            f"line 3 is {len(long_line):,} characters long, over the limit of 10,000: "
            "the row was not read",
        ),
        (4, B, None),
    ]


def test_a_quoted_field_running_past_the_cap_rejects_its_row_the_next_rows_read(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 1000)
    decision = '"' + "判决书正文，第一段。\n" * 500 + '"'
    text = f"{HEADER},text\n{ROW_A},{decision}\n{ROW_B},短\n"
    rows = list(read_rows(write("decisions.csv", text)))
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            "the row from line 2 to line 502 is 5,534 characters long, over the limit of 1,000 "
            "(the quoted field in column 'text' spans those lines: a stray quote?); the row was "
            "not read",
        ),
        (503, None),
    ]


def test_a_jsonl_line_over_the_cap_is_read_past_in_bounded_memory_and_rejected(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 10_000)
    monkeypatch.setattr(sources, "MAX_FIELD_CHARS", 1000)
    monkeypatch.setattr(sources, "_CHUNK", 1 << 12)
    long_line = json.dumps({"uscc": "1", "scope": "x" * 4_000_000})
    lines = [json.dumps({"uscc": "2"}), long_line, json.dumps({"uscc": "3", "scope": "y" * 1001})]
    rows, peak = _peak_reading(write("long.jsonl", "\n".join([*lines, '{"uscc": "4"}']) + "\n"))
    assert peak < 1 << 20, f"peak {peak:,} bytes"
    assert [(row.line, row.values, row.error) for row in rows] == [
        (1, {"uscc": "2"}, None),
        (
            2,
            {},
            f"line 2 is {len(long_line):,} characters long, over the limit of 10,000: "
            "the row was not read",
        ),
        (
            3,
            {},
            "the value of 'scope' is 1,001 characters long, over the limit of 1,000: "
            "the row was not read",
        ),
        (4, {"uscc": "4"}, None),
    ]


def test_a_lone_quote_inside_an_unquoted_field_of_a_line_over_the_cap_swallows_no_rows(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The csv module takes a quote for the opening of a field only at the field's start: in
    `ab"c` it is a character. Reading past a line over the cap follows the same rule, so the
    odd quote does not read the rows after the line as the rest of a quoted field."""
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 200)
    long_line = '9,ab"c,1,' + "x" * 300
    text = f"{HEADER},text\n{long_line}\n{ROW_A},t\n{ROW_B},t\n"
    rows = list(read_rows(write("lone.csv", text)))
    assert [(row.line, row.values, row.error) for row in rows] == [
        (
            2,
            {},
            f"line 2 is {len(long_line):,} characters long, over the limit of 200: "
            "the row was not read",
        ),
        (3, {**A, "text": "t"}, None),
        (4, {**B, "text": "t"}, None),
    ]


def test_a_lone_quote_after_a_quoted_field_closes_past_the_cap_swallows_no_rows(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line closing a quoted field that ran past the cap goes on with `ab"c`: an even
    count of quotes on it, yet the field is closed and the row ends with the line."""
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 200)
    row = '9,"名\n' + "段落\n" * 100 + '尾",ab"c,t'
    text = f"{HEADER},text\n{row}\n{ROW_A},t\n{ROW_B},t\n"
    rows = list(read_rows(write("lone.csv", text)))
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            "the row from line 2 to line 103 is 315 characters long, over the limit of 200 "
            "(the quoted field in column 'name' spans those lines: a stray quote?); the row "
            "was not read",
        ),
        (104, None),
        (105, None),
    ]
    assert [row.values for row in rows[1:]] == [{**A, "text": "t"}, {**B, "text": "t"}]


def test_a_row_over_the_cap_above_the_header_refuses_the_file_naming_its_lines(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A title is passed over because it names none of the columns read; a row over the cap
    was not read, so whether it is a title or the header cannot be told."""
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 200)
    title = '"企业名单\n' + "说明\n" * 100 + '"'
    path = write("titled.csv", f"{title}\n{HEADER}\n{ROW_A}\n")
    with pytest.raises(SourceError) as caught:
        list(read_rows(path, columns=frozenset({"uscc"})))
    assert str(caught.value) == (
        f"{path}: lines 1 to 102, above the header, are 308 characters long, over the limit "
        "of 200: whether they are a title or the header cannot be told (a stray quote?); the "
        "file was not read"
    )
    long_title = "名单" * 200
    path = write("long_title.csv", f"名单\n{long_title}\n{HEADER}\n{ROW_A}\n")
    with pytest.raises(SourceError) as caught:
        list(read_rows(path, columns=frozenset({"uscc"})))
    assert str(caught.value) == (
        f"{path}: line 2, above the header, is 400 characters long, over the limit of 200: "
        "whether it is a title or the header cannot be told; the file was not read"
    )


# --- Excel --------------------------------------------------------------------------------------


@pytest.fixture
def roles_xlsx(tmp_path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["这是说明页"])
    sheet = book.create_sheet("roles")
    sheet.append([])
    sheet.append([" person_id ", "company_id", "since", "stake", "active", None])
    sheet.append([110101199003070000, "91110000100000000A", date(2020, 1, 2), 0.25, True])
    sheet.append([None, None, None])
    sheet.append([12.0, 123456789012346000.0, datetime(2021, 3, 4, 5, 6, 7), 1, False, "x"])
    sheet.append([" ", None, ""])
    book.save(tmp_path / "roles.xlsx")
    return tmp_path / "roles.xlsx"


def test_xlsx_sheet_rows_numbers_dates_and_blank_rows(roles_xlsx: Path) -> None:
    assert rows_of(roles_xlsx, sheet="roles") == [
        (
            3,
            {
                "person_id": "1.1010119900307E+17",  # Excel keeps every number as a float
                "company_id": "91110000100000000A",
                "since": "2020-01-02",
                "stake": "0.25",
                "active": "true",
            },
        ),
        (
            5,
            {
                "person_id": "12",
                "company_id": "1.23456789012346E+17",  # a number cell: digits lost
                "since": "2021-03-04T05:06:07",
                "stake": "1",
                "active": "false",
            },
        ),
    ]


def test_xlsx_header_below_a_title_is_found_by_the_columns_read(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["股东信息表"])
    sheet.merge_cells("A1:C1")
    sheet.append(["基本信息", None, "出资"])  # a group row above the names
    sheet.append(["股东名称", "公司", "持股比例"])
    sheet.append(["张伟", "91350203MA2Y0001X", "25%"])
    book.save(tmp_path / "holders.xlsx")
    found = read_rows(tmp_path / "holders.xlsx", columns=frozenset({"公司", "持股比例"}))
    assert [(row.line, row.values) for row in found] == [
        (4, {"股东名称": "张伟", "公司": "91350203MA2Y0001X", "持股比例": "25%"})
    ]
    # read without the names it looks for, the first non-empty row is the header
    assert rows_of(tmp_path / "holders.xlsx")[0] == (2, {"股东信息表": "基本信息"})
    refused = r"none of its first 4 non-empty rows is a header naming any of the columns read"
    with pytest.raises(SourceError, match=refused + r" \(uscc\)"):
        list(read_rows(tmp_path / "holders.xlsx", columns=frozenset({"uscc"})))


def test_xlsx_first_sheet_by_default(roles_xlsx: Path) -> None:
    assert rows_of(roles_xlsx) == []  # the notes sheet: a header and nothing else


def test_xlsx_unknown_sheet_lists_the_sheets(roles_xlsx: Path) -> None:
    listed = r"roles\.xlsx: no sheet 'Sheet1' \(sheets: 说明, roles\)"
    with pytest.raises(SourceError, match=listed):
        list(read_rows(roles_xlsx, sheet="Sheet1"))


def test_xlsx_empty_sheet_and_damaged_file(tmp_path: Path, write: Write) -> None:
    from openpyxl import Workbook

    Workbook().save(tmp_path / "empty.xlsx")
    assert list(read_rows(tmp_path / "empty.xlsx")) == []  # no rows, as an empty CSV file
    with pytest.raises(SourceError, match=r"broken\.xlsx: not a readable Excel file"):
        list(read_rows(write("broken.xlsx", b"PK not really")))


def _workbook_with_sheet_xml(path: Path, rewrite: Callable[[bytes], bytes]) -> Path:
    """A workbook of a header and one row, its sheet's XML passed through `rewrite`."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["uscc", "name"])
    book.active.append(["91110000100000000A", "甲"])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename == "xl/worksheets/sheet1.xml":
                data = rewrite(data)
            out.writestr(part.filename, data)
    return path


def test_an_xlsx_whose_sheet_inflates_like_a_zip_bomb_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    """16 MB of spaces after the rows deflate to some 16 KB; openpyxl held such a run in memory
    whole, so a gigabyte of them took a gigabyte. A part inflating over 100 times is refused."""
    spaces = b" " * (16 << 20)
    path = _workbook_with_sheet_xml(
        tmp_path / "bomb.xlsx", lambda xml: xml.replace(b"</sheetData>", spaces + b"</sheetData>")
    )
    with pytest.raises(SourceError, match=r"bomb\.xlsx: its part xl/worksheets/sheet1\.xml "):
        list(read_rows(path))


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "{("&a%s;" % (i - 1 if i else "")) * 10}">' for i in range(9))
        + "]>",
    ],
    ids=["external entity", "billion laughs"],
)
def test_an_xlsx_sheet_with_a_dtd_trick_is_refused_naming_the_file(
    tmp_path: Path, doctype: str
) -> None:
    """The XML parser resolves no external entity and stops an entity expansion bomb; what it
    raised stopped the load as a crash, not as a file the loader cannot read."""
    entity = b"&e;" if "SYSTEM" in doctype else b"&a8;"
    path = _workbook_with_sheet_xml(
        tmp_path / "dtd.xlsx",
        lambda xml: doctype.encode() + xml.replace("甲".encode(), entity),
    )
    with pytest.raises(SourceError, match=r"dtd\.xlsx: not a readable Excel file") as caught:
        list(read_rows(path))
    assert "root:" not in str(caught.value)


def test_an_xlsx_value_over_the_field_limit_rejects_its_row_naming_the_column_and_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import Workbook

    monkeypatch.setattr(sources, "MAX_FIELD_CHARS", 1000)
    book = Workbook()
    sheet = book.active
    sheet.append(["uscc", "scope"])
    sheet.append(["1", "x" * 1001])
    sheet.append(["2", "ok"])
    book.save(tmp_path / "long.xlsx")
    rows = list(read_rows(tmp_path / "long.xlsx"))
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            "the value of 'scope' is 1,001 characters long, over the limit of 1,000: "
            "the row was not read",
        ),
        (3, None),
    ]
    assert rows[1].values == {"uscc": "2", "scope": "ok"}


# --- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_bad_lines_are_error_rows_the_rest_reads(write: Write) -> None:
    lines = [
        json.dumps({"uscc": "1", "name": "甲", "capital": 100, "extra": None}, ensure_ascii=False),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"uscc": "2", "tags": ["a", "乙"], "meta": {"k": 1.5}}, ensure_ascii=False),
        "{}",
        json.dumps({" name ": "丙", "ok": True}, ensure_ascii=False),
    ]
    path = write("parties.jsonl", "\r\r\n".join(lines) + "\n")
    rows = list(read_rows(path))
    assert [(row.line, row.values, row.error) for row in rows] == [
        (1, {"uscc": "1", "name": "甲", "capital": "100", "extra": ""}, None),
        (3, {}, "not valid JSON at column 2: expecting property name enclosed in double quotes"),
        (4, {}, "not a JSON object but an array"),
        (5, {"uscc": "2", "tags": '["a", "乙"]', "meta": '{"k": 1.5}'}, None),
        (7, {"name": "丙", "ok": "true"}, None),
    ]


def test_a_jsonl_line_cut_off_is_told_as_cut_off_with_its_column(write: Write) -> None:
    whole = json.dumps({"uscc": "91350203MA2Y00014K", "name": "鹭岛科技"}, ensure_ascii=False)
    lines = [whole[:40], whole[:30], whole + "}", '岛科技"}']
    rows = list(read_rows(write("parties.jsonl", "\r\n".join(lines) + "\r\n")))
    cut = "not complete JSON: the line is cut off at column"
    assert [(row.line, row.error) for row in rows] == [
        (1, f"{cut} 40, inside a string opened at column 40"),
        (2, f"{cut} 30, before its object is closed"),
        (3, "not valid JSON: more text after the object, from column 47 (two lines run together?)"),
        (4, "not valid JSON: the line does not start with '{' (the end of a line broken in two?)"),
    ]


def test_jsonl_lines_no_json_reader_agrees_on_are_error_rows_the_rest_reads(
    write: Write,
) -> None:
    """A provider's file may hold what Python's json module reads but JSON does not mean: a
    line nested past the recursion limit (which stopped the whole load), infinities (which
    loaded as the text `inf`), a key given twice (the last value won without a word), an
    integer too long to convert. Each is its row's error; `NaN`, pandas' missing number as
    `json.dumps` writes it, is an empty cell."""
    lines = [
        '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"name": Infinity}',
        '{"name": -Infinity}',
        '{"capital": 1e999}',
        '{"uscc": "1", "name": "甲", "uscc": "2"}',
        '{"capital": ' + "9" * 5000 + "}",
        '{"name": "乙", "capital": NaN}',
    ]
    rows = list(read_rows(write("parties.jsonl", "\n".join(lines) + "\n")))
    assert [(row.line, row.values, row.error) for row in rows] == [
        (1, {}, "nested too deeply"),
        (2, {}, "not valid JSON: Infinity is no JSON number"),
        (3, {}, "not valid JSON: -Infinity is no JSON number"),
        (4, {}, "the number 1e999 is too large to read"),
        (5, {}, "names the key 'uscc' twice: which of its values is meant cannot be told"),
        (6, {}, "a number of 5000 digits is too long to read"),
        (7, {"name": "乙", "capital": ""}, None),
    ]


def test_jsonl_in_gbk(write: Write) -> None:
    path = write("gbk.ndjson", '{"name": "甲公司"}\n'.encode("gbk"))
    assert rows_of(path) == [(1, {"name": "甲公司"})]


# --- Parquet ------------------------------------------------------------------------------------


@pytest.fixture
def records_parquet(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "uscc": ["1", None, "3", None],
            "amount": pa.array([Decimal("12.50"), None, Decimal("7"), None], pa.decimal128(9, 2)),
            "count": pa.array([1, 2, None, None], pa.int64()),
            "ratio": [0.5, 2.0, None, None],
            "on": [date(2024, 5, 6), None, date(2020, 1, 1), None],
            "at": pa.array([datetime(2024, 5, 6), None, None, None], pa.timestamp("s")),
            "tags": [["x", "乙"], None, [], None],
        }
    )
    path = tmp_path / "records.parquet"
    pq.write_table(table, path, row_group_size=2)
    return path


def test_parquet_records_numbered_from_two(
    records_parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_PARQUET_BATCH", 1)
    assert rows_of(records_parquet) == [
        (
            2,
            {
                "uscc": "1",
                "amount": "12.5",
                "count": "1",
                "ratio": "0.5",
                "on": "2024-05-06",
                "at": "2024-05-06",
                "tags": '["x", "乙"]',
            },
        ),
        (
            3,
            {"uscc": "", "amount": "", "count": "2", "ratio": "2", "on": "", "at": "", "tags": ""},
        ),
        (
            4,
            {
                "uscc": "3",
                "amount": "7",
                "count": "",
                "ratio": "",
                "on": "2020-01-01",
                "at": "",
                "tags": "[]",
            },
        ),
    ]  # the fourth record, all null, is a blank row


def test_damaged_parquet(write: Write) -> None:
    with pytest.raises(SourceError, match=r"x\.pq: not a readable Parquet file"):
        list(read_rows(write("x.pq", b"PAR1 nothing PAR1")))


def test_a_parquet_value_over_the_field_limit_rejects_its_row_naming_the_column_and_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(sources, "MAX_FIELD_CHARS", 1000)
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"uscc": ["1", "2"], "tags": [["y" * 1000], ["ok"]]}), path)
    rows = list(read_rows(path))
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            "the value of 'tags' is 1,004 characters long, over the limit of 1,000: "
            "the row was not read",
        ),
        (3, None),
    ]
    assert rows[1].values == {"uscc": "2", "tags": '["ok"]'}


# --- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (12, "12"),
        (12.0, "12"),
        (-3.0, "-3"),
        (2.50, "2.5"),
        (1.234567e-7, "1.234567e-07"),
        (110101199003070012, "110101199003070012"),
        (1.2345678901234568e17, "1.2345678901234568E+17"),  # no exact number: not in full
        (350203198102032.0, "350203198102032"),  # 15 digits: Excel keeps them
        (1e15, "1E+15"),
        (-2.5e20, "-2.5E+20"),
        (350203198102032123, "350203198102032123"),  # an int is exact
        (Decimal("100.00"), "100"),
        (Decimal("0.10"), "0.1"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 2, 29, 8, 30), "2024-02-29T08:30:00"),
        (True, "true"),
        (False, "false"),
        ({"a": [1, "甲"], "on": date(2024, 1, 1)}, '{"a": [1, "甲"], "on": "2024-01-01"}'),
        (b"abc", "abc"),
        ("  kept as is ", "  kept as is "),
    ],
)
def test_cells_as_text(value: object, text: str) -> None:
    assert as_text(value) == text


# --- property: what csv.writer writes reads back ------------------------------------------------

_cell = st.text(alphabet=st.sampled_from('ab 甲乙公司,"\n\t;x1'), max_size=8)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(min_value=1, max_value=4))
    header = [f"列{i}" for i in range(width)]
    rows = draw(st.lists(st.lists(_cell, min_size=width, max_size=width), max_size=8))
    return header, rows


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=_tables(),
    terminator=st.sampled_from(["\n", "\r\n", "\r\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    chunk=st.sampled_from([2, 5, 1 << 20]),
)
def test_csv_writer_output_reads_back(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table: tuple[list[str], list[list[str]]],
    terminator: str,
    encoding: str,
    chunk: int,
) -> None:
    header, rows = table
    monkeypatch.setattr(sources, "_CHUNK", chunk)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=terminator).writerows([header, *rows])
    path = tmp_path / "written.csv"
    path.write_bytes(out.getvalue().encode(encoding))

    expected = []
    line = 2
    for row in rows:
        if "".join(row).strip():
            expected.append((line, dict(zip(header, row, strict=True))))
        line += 1 + sum(cell.count("\n") for cell in row)
    assert rows_of(path) == expected


@settings(max_examples=500)
@given(
    text=st.text(alphabet=st.sampled_from('ab,"|'), max_size=12),
    sep=st.sampled_from([",", "|"]),
    cut=st.integers(min_value=1, max_value=12),
    starts_quoted=st.booleans(),
)
def test_a_line_read_past_ends_in_a_quoted_field_exactly_when_the_csv_module_reads_on(
    text: str, sep: str, cut: int, starts_quoted: bool
) -> None:
    """Whether a row goes on past a line over the cap is told as the csv module tells it, from a
    row's start or inside a quoted field, whole or in pieces cut anywhere."""
    line = text + "\n"
    before = ['"x\n'] if starts_quoted else []
    reader = csv.reader([*before, line, "end\n"], delimiter=sep)
    next(reader)
    reads_on = reader.line_num > len(before) + 1
    quoting = sources._CsvQuoting()
    quoting.sep = sep
    for index, piece in enumerate(p for p in (line[:cut], line[cut:]) if p):
        quoting.watch(piece, index == 0)
    assert quoting.ends_quoted(sources.LongLine(len(text)), starts_quoted) == reads_on
    assert quoting.ends_quoted(line, starts_quoted) == reads_on
