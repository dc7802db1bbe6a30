"""Reading source files as they come: formats, encodings, broken line endings, numbered rows.

Every reader yields `SourceRow(line, values)`: `values` maps the stripped header names to text
(numbers, dates and nulls turned into the text a person would type), and `line` says where the
row is as a person would find it: the physical line where a text row starts (the header is
line 1, and a quoted field spanning lines counts them all), the sheet row of an Excel file, or
for Parquet the record number plus one. A row that cannot be read at all (a JSON line that is
not an object) comes with `error` set, so the loader rejects it and goes on.

Text files may be UTF-8, UTF-8 with a BOM, or GBK/GB18030 (what Chinese office software and the
courts' systems export). Detection reads the file once through an incremental UTF-8 decoder;
any invalid sequence means GB18030, a superset of GBK. Line endings may be `\\n`, `\\r\\n`, a
lone `\\r`, or the `\\r\\r\\n` of files converted twice; all count as one line ending.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

_CHUNK = 1 << 20

SOURCE_FORMATS: tuple[str, ...] = ("csv", "tsv", "xlsx", "jsonl", "parquet")
_FORMAT_OF_SUFFIX = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SOURCE_EXTENSIONS: frozenset[str] = frozenset(_FORMAT_OF_SUFFIX)


class SourceError(ValueError):
    """A file that cannot be read at all (missing, undecodable, without a header)."""


@dataclass(frozen=True)
class SourceRow:
    line: int
    values: dict[str, str]
    error: str | None = None  # set when the row itself cannot be read


def detect_format(path: Path) -> str:
    """The format by the file's extension (see SOURCE_FORMATS)."""
    fmt = _FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_FORMAT_OF_SUFFIX))
        raise SourceError(f"{path}: unknown file type {path.suffix!r} (known: {known})")
    return fmt


def detect_encoding(path: Path) -> str:
    """`utf-8-sig` when the whole file decodes as UTF-8 (BOM or not), else `gb18030`."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def read_rows(
    path: Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Iterator[SourceRow]:
    """Yield the data rows of a source file of any supported format."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = format or detect_format(path)
    if fmt in ("csv", "tsv"):
        return read_csv_rows(
            path, encoding, delimiter=delimiter or ("\t" if fmt == "tsv" else None)
        )
    if fmt == "xlsx":
        return _read_xlsx(path, sheet)
    if fmt == "jsonl":
        return _read_jsonl(path, encoding)
    if fmt == "parquet":
        return _read_parquet(path)
    raise SourceError(f"{path}: unknown format {fmt!r} (known: {', '.join(SOURCE_FORMATS)})")


# --- text: CSV and TSV --------------------------------------------------------------------------


class _Lines:
    """Physical lines of a text file, with `\\r\\r\\n` folded into one ending, and a count."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        pending_cr = False
        for line in self._handle:  # newline="": lines keep their endings, split on \r, \n, \r\n
            if pending_cr and line == "\r\n":
                pending_cr = False  # the second half of a \r\r\n ending
                continue
            pending_cr = line.endswith("\r") and not line.endswith("\r\n")
            self.count += 1
            yield line


def _sniff_delimiter(header_line: str) -> str:
    return "\t" if "\t" in header_line and "," not in header_line else ","


def read_csv_rows(
    path: Path, encoding: str | None = None, *, delimiter: str | None = None
) -> Iterator[SourceRow]:
    """Yield each data row of a CSV or TSV file with its starting line number."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    chosen = encoding or detect_encoding(path)
    try:
        with path.open("r", encoding=chosen, newline="") as handle:
            lines = _Lines(handle)
            stream = iter(lines)
            first = next(stream, None)
            if first is None or not first.strip():
                raise SourceError(f"{path}: empty file, expected a header row")
            sep = delimiter or _sniff_delimiter(first)
            reader = csv.reader(_chain_one(first, stream), delimiter=sep)
            header = next(reader)
            names = [name.strip().lstrip("\ufeff") for name in header]
            start = lines.count + 1
            for values in reader:
                if any(cell.strip() for cell in values):
                    cells = [cell.replace("\r\n", "\n").replace("\r", "\n") for cell in values]
                    yield SourceRow(start, dict(zip(names, cells, strict=False)))
                start = lines.count + 1
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: cannot be decoded as {chosen} (byte {exc.start} of a block: {exc.reason}); "
            "name the encoding in the mapping (read: {encoding: …})"
        ) from exc


def _chain_one(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


# --- structured formats -------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A cell as the text a person would type: no `12.0`, no `1e+17`, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _row_from(names: list[str], values: Iterable[Any]) -> dict[str, str]:
    return {name: as_text(value) for name, value in zip(names, values, strict=False) if name}


def _read_xlsx(path: Path, sheet: str | None) -> Iterator[SourceRow]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise SourceError(f"{path}: not a readable Excel file: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise SourceError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        names: list[str] | None = None
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if not any(as_text(v).strip() for v in values):
                continue
            if names is None:
                names = [as_text(v).strip().lstrip("\ufeff") for v in values]
                continue
            yield SourceRow(number, _row_from(names, values))
        if names is None:
            raise SourceError(f"{path}: empty sheet, expected a header row")
    finally:
        book.close()


def _read_jsonl(path: Path, encoding: str | None) -> Iterator[SourceRow]:
    chosen = encoding or detect_encoding(path)
    with path.open("r", encoding=chosen) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield SourceRow(number, {}, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(value, dict):
                yield SourceRow(number, {}, "not a JSON object")
                continue
            yield SourceRow(number, {str(k): as_text(v) for k, v in value.items()})


def _read_parquet(path: Path) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError subclasses
        raise SourceError(f"{path}: not a readable Parquet file: {exc}") from exc
    number = 1
    for batch in parquet.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            number += 1
            yield SourceRow(number, {str(k): as_text(v) for k, v in record.items()})
