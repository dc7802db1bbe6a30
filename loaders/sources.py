"""Reading source files as they come: formats, encodings, broken line endings, numbered rows.

`read_rows(path)` reads any supported file (`SOURCE_FORMATS`; `detect_format` picks the format
by extension) and yields `SourceRow(line, values, error)`, streaming: no file is read into
memory whole, so a 1 GB extract reads in constant memory.

`values` maps the header names (stripped, BOM removed; unnamed columns dropped) to text, the
text a person would type: a null is "", an int `12` (an int of any length written out in full,
an 18-digit ID in a JSON or Parquet integer too), an integral float below 1e15 as an int (Excel's
`12.0` as `12`), a whole float from 1e15 up in scientific notation (`3.50203198102032E+17`, as
Excel saves it to CSV: a float keeps some 15 significant digits, so its digits may be lost, and
an identifier's cell refuses it), a float NaN "" (the missing value of pandas and Parquet
writers), other floats their shortest repr (`2.5`), a date or a datetime at
midnight `YYYY-MM-DD`, another datetime its ISO form, a bool "true"/"false", a nested JSON or
Parquet value (list, object) its JSON text. Cells beyond the header are ignored (in CSV and
TSV only when empty), missing cells are "". Blank rows (every cell empty or blank) are
skipped.

`line` says where the row is as a person would find it:

- CSV/TSV: the physical line where the row starts, the header being line 1 (after any blank
  lines above it). A quoted field spanning lines counts them all, so the next row's line is
  right; the line breaks inside a quoted field are kept, as `\\n`. A quoted field whose later
  lines look like whole rows (a stray quote ran over them) makes its row an error row, and so
  does a row with values beyond the header's last column (a delimiter in an unquoted field).
- Excel: the sheet's row number. JSON Lines: the physical line.
- Parquet: the record number plus one, as if the column names were line 1.

A row that cannot be read at all (a JSON line that is not valid JSON, or not an object, or
one `json_line_value` refuses: nested too deeply, a key twice, an infinite number) comes
with `error` set and empty values, so the loader rejects that row with its line and goes on.

Text files are read a line at a time, each line held to `MAX_LINE_CHARS` (`text_lines`,
`byte_lines`): a longer line is read past in pieces of that size, never held whole, and its
row comes with `error` naming the line and its length; so does a CSV or TSV row whose quoted
field runs past that many characters over several lines (a stray or unclosed quote, told as
such, naming the lines it ran over to the next quote or the end of the file; where a quoted
field closes is told by the csv module's own rule, `_csv_state_after`). A value over
`MAX_FIELD_CHARS`, in any format, makes its row an error row naming the column and the length.
Memory is bounded by the caps, never by the file.

Text files (CSV, TSV, JSON Lines) may be UTF-8, UTF-8 with a BOM, GBK/GB18030 (what Chinese
office software and the courts' systems export), or UTF-16 with its BOM (Excel's "Unicode
text", tab-separated). `detect_encoding` takes a UTF-16 BOM for UTF-16, else reads the file once
through an incremental UTF-8 decoder; any invalid sequence means GB18030, a superset of GBK. An
explicit `encoding` overrides it. Line endings may be `\\n`, `\\r\\n`, a lone `\\r` (old Mac) or the
`\\r\\r\\n` of files converted twice, mixed in one file: each is one line ending. The
`\\r\\r\\n` is folded to `\\r\\n` on the bytes, block by block, before decoding (safe: in UTF-8,
GBK and GB18030 the bytes `\\r` and `\\n` never occur inside a character), so the csv module
reads the file handle at full speed.

CSV is comma-separated, TSV tab-separated; `delimiter` overrides either. A `.csv` or `.txt`
whose first line has tabs and no commas is read as tab-separated (`detect_format` says `tsv` for
such a `.txt`), one with neither but a `|` or a `;` as separated by it. Excel files are read
with openpyxl in read-only mode: the sheet `sheet` names, else the first whose header names one
of the `columns`, else the first; a merged cell below
the header fills every cell it covers. In CSV, TSV and Excel files the header is the first
non-empty row naming one of the `columns` the caller reads (a title above it is passed over),
or without `columns` the first non-empty row. Parquet is read in record batches.

`SourceError` (naming the file) is raised for a missing file, an unknown extension or format,
an unknown encoding, text that does not decode (with the byte offset and line of the first bad
bytes), a header naming a column twice, an unknown sheet (listing the sheets), an
unreadable Excel or Parquet file (an Excel part that inflates like a zip bomb, a sheet's XML
that declares entities), a first line over `MAX_LINE_CHARS` (no header) or a CSV row over it
above the header (a title or the header: it cannot be told), and a CSV row the csv module
cannot parse. A file with nothing in it (0 bytes, a BOM alone, blank lines, an empty sheet) is
no error: it has no rows, as one with a header alone. Problems with the file
itself are raised when `read_rows` is called; those found in the content, as reading reaches
them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, AnyStr, BinaryIO, TextIO

from credgraph.graph.identifiers import normalise_text

if TYPE_CHECKING:
    from _csv import Reader

    from _typeshed import WriteableBuffer

_CHUNK = 1 << 20
# The longest line the text readers (CSV, TSV, JSON Lines, FtM) hold, in characters, its
# ending included (FtM files, read as bytes: in bytes); a CSV or TSV row that spans lines in
# a quoted field is held to it as a whole. A longer line or row is read past in pieces of this
# size, never held whole, and its row rejected, so memory is bounded by the cap whatever the
# file. 4 Mi characters: room for a row of several values at the field limit below, and at
# most 16 MB as a Python string.
MAX_LINE_CHARS = 1 << 22
# The longest value a CSV, TSV or JSON Lines row may hold, in characters. A business scope
# runs to a few thousand characters, a decision's full text to some tens of thousands; a
# megabyte of text in one cell is no registry value, but a file damaged there.
MAX_FIELD_CHARS = 1 << 20
_SNIFF_BYTES = 1 << 16
_PARQUET_BATCH = 10_000

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


# --- formats ------------------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """The format by the file's extension (see SOURCE_FORMATS); a tab-separated `.txt` is `tsv`."""
    fmt = _FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_FORMAT_OF_SUFFIX))
        raise SourceError(f"{path}: unknown file type {path.suffix!r} (known: {known})")
    if path.suffix.lower() == ".txt" and _sniff_delimiter(_first_line(path)) == "\t":
        return "tsv"
    return fmt


def _first_line(path: Path) -> str:
    """The first non-blank line of a text file, as far as the first 64 KB go ("" if none)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return ""  # reading it will say what is wrong
    for line in head.replace(b"\r", b"\n").split(b"\n"):
        if line.strip():
            return line.decode("latin-1")  # only tabs and commas matter, both ASCII
    return ""


def _sniff_delimiter(header_line: str) -> str:
    """Comma if the line has one; else a tab, a `|` (the exchange files of many Chinese
    government and bank systems) or a `;` (a European Excel's CSV), the first it has."""
    return next((sep for sep in ",\t|;" if sep in header_line), ",")


def read_rows(
    path: Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    columns: Collection[str] = (),
) -> Iterator[SourceRow]:
    """Yield the data rows of a source file of any supported format. `columns`, the names the
    reader of the rows looks for, finds the header of a CSV, TSV or Excel file below a title
    (`_pick_header`)."""
    _require_file(path)
    fmt = format or detect_format(path)
    if fmt in ("xlsx", "parquet") and path.stat().st_size == 0:
        return iter(())  # a 0-byte export: no rows (nothing to read as a workbook or a table)
    if fmt in ("csv", "tsv"):
        tab = "\t" if fmt == "tsv" else None
        return read_csv_rows(path, encoding, delimiter=delimiter or tab, columns=columns)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet, frozenset(columns))
    if fmt == "jsonl":
        return _read_jsonl(path, _encoding_for(path, encoding))
    if fmt == "parquet":
        return _read_parquet(path)
    raise SourceError(f"{path}: unknown format {fmt!r} (known: {', '.join(SOURCE_FORMATS)})")


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")


# --- text: encodings and line endings -----------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """`utf-16` for a file that opens with a UTF-16 byte order mark (Excel's "Unicode text"),
    `utf-8-sig` when the whole file decodes as UTF-8 (BOM or not), else `gb18030`."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return "utf-16"
            handle.seek(0)
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror}") from exc
    return "utf-8-sig"


def _encoding_for(path: Path, encoding: str | None) -> str:
    """The encoding given, checked, or the one detected."""
    if encoding is None:
        return detect_encoding(path)
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise SourceError(f"{path}: unknown encoding {encoding!r}") from exc
    return encoding


def _folds_bytes(encoding: str) -> bool:
    """Whether `\\r\\r\\n` can be folded on the bytes: an ASCII-compatible encoding."""
    try:
        return b"\r\r\n".decode(encoding) == "\r\r\n"
    except UnicodeDecodeError:
        return False


class _FoldedEndings(io.RawIOBase):
    """A binary file as read with every `\\r\\r\\n` turned into `\\r\\n`, a block at a time."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._held = b""  # trailing `\r`s of a block: the next block may complete a `\r\r\n`
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._out:
            block = self._raw.read(_CHUNK)
            if not block:
                self._out, self._held = memoryview(self._held), b""
                break
            data = self._held + block
            kept = data.rstrip(b"\r")
            self._held = data[len(kept) :]
            self._out = memoryview(kept.replace(b"\r\r\n", b"\r\n"))
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._out))
        target[:count] = self._out[:count]
        self._out = self._out[count:]
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def _open_text(path: Path, encoding: str) -> Iterator[TextIO]:
    """The file as text, `\\r\\r\\n` folded; iterating it yields lines split on \\r, \\n, \\r\\n.

    A decoding error inside the block becomes a SourceError with the byte offset and line.
    """
    try:
        if _folds_bytes(encoding):
            raw = _FoldedEndings(path.open("rb"))
            buffered = io.BufferedReader(raw, buffer_size=_CHUNK)
            handle: TextIO = io.TextIOWrapper(buffered, encoding=encoding, newline="")
        else:
            handle = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror}") from exc
    try:
        with handle:
            yield handle
    except UnicodeDecodeError as exc:
        raise SourceError(_undecodable(path, encoding, exc)) from exc


def _undecodable(path: Path, encoding: str, exc: UnicodeDecodeError) -> str:
    where = _locate_undecodable(path, encoding)
    at = f"at byte {where[0]} (line {where[1]})" if where else f"({exc.reason})"
    message = f"{path}: cannot be decoded as {encoding} {at}"
    if codecs.lookup(encoding).name == "gb18030":
        # GB18030 was the guess because UTF-8 failed: where it failed is most often the fault
        # (a UTF-8 export with one damaged line), not where GB18030 gave up
        utf8 = _locate_undecodable(path, "utf-8")
        if utf8 is not None:
            message += (
                f", nor as UTF-8, which it is up to byte {utf8[0]} (line {utf8[1]}): "
                "a UTF-8 file damaged there?"
            )
    return message + "; name the file's encoding in the mapping (read: {encoding: …})"


def _locate_undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """The byte offset and line of the first bytes `encoding` cannot decode."""
    name = codecs.lookup(encoding).name
    decoder = codecs.getincrementaldecoder("utf-8" if name == "utf-8-sig" else encoding)()
    offset, endings, tail = 0, 0, b""
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            pending = decoder.getstate()[0]
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = offset - len(pending) + exc.start
                before = block[: max(0, bad - offset)]
                return bad, endings + _endings(tail + before) - _endings(tail) + 1
            endings += _endings(tail + block) - _endings(tail)
            offset, tail = offset + len(block), (tail + block)[-2:]
    return None


def _endings(data: bytes) -> int:
    """Line endings in `data`, `\\r\\r\\n`, `\\r\\n`, `\\r` and `\\n` each counting one."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") + data.count(b"\r") - crlf - data.count(b"\r\r\n")


# --- lines held to the cap ---------------------------------------------------------------------


@dataclass(frozen=True)
class LongLine:
    """A line longer than the cap, read past: its length (its ending not counted)."""

    length: int


# what a piece of a line over the cap is shown to: the piece, and whether it starts the line
PieceWatcher = Callable[[AnyStr, bool], None]


def text_lines(handle: TextIO, watch: PieceWatcher[str] | None = None) -> Iterator[str | LongLine]:
    """The lines of a text file, split as iterating it splits them, each at most
    MAX_LINE_CHARS long; a longer one comes as a LongLine, its pieces shown to `watch` first."""
    return _capped_lines(handle.readline, MAX_LINE_CHARS, ("\n", "\r"), watch)


def byte_lines(handle: BinaryIO) -> Iterator[bytes | LongLine]:
    """The lines of a file read as bytes, each at most MAX_LINE_CHARS bytes long; a longer one
    comes as a LongLine."""
    return _capped_lines(handle.readline, MAX_LINE_CHARS, (b"\n", b"\r"), None)


def _capped_lines(
    readline: Callable[[int], AnyStr],
    cap: int,
    endings: tuple[AnyStr, AnyStr],
    watch: PieceWatcher[AnyStr] | None,
) -> Iterator[AnyStr | LongLine]:
    """What `readline` gives, a line at a time, each at most `cap` long with its ending; a
    longer one is read past in pieces of `cap`, never held whole, each shown to `watch` before
    the LongLine is yielded. One readline call per line, as iterating the file makes."""
    size = cap + 1
    piece = readline(size)
    while piece:
        if len(piece) <= cap:
            yield piece
            piece = readline(size)
            continue
        length = 0
        while piece:
            if watch is not None:
                watch(piece, length == 0)
            length += len(piece)
            if piece.endswith(endings) or len(piece) < size:
                break
            piece = readline(size)
        last, piece = piece, readline(size)
        if last.endswith(endings[1]) and piece == endings[0]:
            piece = readline(size)  # the `\n` of a `\r\n` a read stopped between
        ending = len(last) - len(last.rstrip(endings[0] + endings[1]))
        yield LongLine(length - ending)


def long_line_problem(number: int, length: int, unit: str = "characters") -> str:
    """Why a line over the cap was not read, for its row's reject."""
    return (
        f"line {number} is {length:,} {unit} long, over the limit of {MAX_LINE_CHARS:,}: "
        "the row was not read"
    )


def _too_long_value(values: dict[str, str]) -> str | None:
    """Why a row holding a value over MAX_FIELD_CHARS is not read, or None."""
    # the lengths alone first: every Excel and Parquet row passes here, few values are long
    if max(map(len, values.values()), default=0) <= MAX_FIELD_CHARS:
        return None
    name, value = max(values.items(), key=_value_length)
    return (
        f"the value of {name!r} is {len(value):,} characters long, over the limit of "
        f"{MAX_FIELD_CHARS:,}: the row was not read"
    )


def _value_length(item: tuple[str, str]) -> int:
    return len(item[1])


# --- CSV and TSV --------------------------------------------------------------------------------


def read_csv_rows(
    path: Path,
    encoding: str | None = None,
    *,
    delimiter: str | None = None,
    columns: Collection[str] = (),
) -> Iterator[SourceRow]:
    """Yield each data row of a CSV or TSV file with its starting line number."""
    _require_file(path)
    chosen = _encoding_for(path, encoding)
    if delimiter is not None and len(delimiter) != 1:
        raise SourceError(f"{path}: the delimiter must be one character, not {delimiter!r}")
    return _csv_rows(path, chosen, delimiter, frozenset(columns))


def _csv_rows(
    path: Path, encoding: str, delimiter: str | None, columns: frozenset[str]
) -> Iterator[SourceRow]:
    if csv.field_size_limit() < MAX_LINE_CHARS:
        # the lines below hold a row to MAX_LINE_CHARS: the csv module's own limit, 131,072
        # characters, would refuse a long value and the rest of the file with it
        csv.field_size_limit(MAX_LINE_CHARS)
    with _open_text(path, encoding) as handle:
        quoting = _CsvQuoting()
        lines = text_lines(handle, quoting.watch)
        skipped, first = _skip_blank_lines(path, lines)
        if first is None:  # nothing, a BOM alone or blank lines: no rows, as a header alone
            return
        sep = delimiter or _sniff_delimiter(first)
        quoting.sep = sep  # a first line over the cap, read before it is known, is refused
        rows = _CsvLines(itertools.chain((first,), lines), MAX_LINE_CHARS, quoting)
        reader = csv.reader(rows, delimiter=sep)
        yield from _csv_records(path, reader, rows, skipped, columns)


def _skip_blank_lines(path: Path, lines: Iterator[str | LongLine]) -> tuple[int, str | None]:
    """The number of blank lines at the top, and the first line that is not blank."""
    skipped = 0
    for line in lines:
        if isinstance(line, LongLine):
            raise SourceError(f"{path}: {long_line_problem(skipped + 1, line.length)}")
        if line.strip():
            return skipped, line
        skipped += 1
    return skipped, None


@dataclass(frozen=True)
class _Overlong:
    """A CSV row over the cap, read past: its characters, lines, and whether it ran to the end
    of the file inside a quoted field."""

    chars: int
    at_end: bool
    one_line: LongLine | None  # the row was this one line


# where the csv module is in a line: the start of a field, an unquoted field, a quoted field,
# just after a quote in a quoted field (a second quote makes it a quote, else it closed)
_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def _csv_state_after(state: int, text: str, sep: str) -> int:
    """Where the csv module (its `excel` dialect, not strict) is after reading `text` from
    `state`: a quote opens a field only at the field's start (in `ab"c` it is a character),
    `""` in a quoted field is a quote, and after its closing quote a field runs on unquoted to
    the delimiter. `text` has no line break but at its end. A find per quoted field and per
    quote in one, never a step per character."""
    opening = sep + '"'
    pos, end = 0, len(text)
    while pos < end:
        if state == _QUOTED:
            pos = text.find('"', pos)
            if pos < 0:
                return _QUOTED
            state, pos = _QUOTE_IN_QUOTED, pos + 1
        elif state == _QUOTE_IN_QUOTED:
            char, pos = text[pos], pos + 1
            state = _QUOTED if char == '"' else _FIELD_START if char == sep else _UNQUOTED
        elif state == _FIELD_START and text[pos] == '"':
            state, pos = _QUOTED, pos + 1
        else:  # unquoted: every delimiter ends a field, so a quote opens one only after one
            found = text.find(opening, pos)
            if found < 0:
                return _FIELD_START if text.endswith(sep) else _UNQUOTED
            state, pos = _QUOTED, found + 2
    return state


class _CsvQuoting:
    """Whether a line over the cap leaves the csv module inside a quoted field. Its pieces are
    watched as they are read past, before its reader knows whether the line starts a row or
    goes on with a quoted field, so it is followed from both."""

    def __init__(self) -> None:
        self.sep = ","
        self._from_row_start = self._from_quoted = _FIELD_START

    def watch(self, piece: str, starts_line: bool) -> None:
        if starts_line:
            self._from_row_start, self._from_quoted = _FIELD_START, _QUOTED
        self._from_row_start = _csv_state_after(self._from_row_start, piece, self.sep)
        self._from_quoted = _csv_state_after(self._from_quoted, piece, self.sep)

    def ends_quoted(self, line: str | LongLine, starts_quoted: bool) -> bool:
        """Whether `line` (the LongLine last watched) ends inside a quoted field."""
        if isinstance(line, LongLine):
            state = self._from_quoted if starts_quoted else self._from_row_start
        else:
            state = _csv_state_after(_QUOTED if starts_quoted else _FIELD_START, line, self.sep)
        return state == _QUOTED


class _CsvLines:
    """The lines the csv module reads, each row held to `cap` characters.

    A line over the cap, or a row that a quoted field runs past it, is read past without being
    held: whether a quoted field is still open is told by the csv module's own rule
    (`_CsvQuoting`; the csv module asks for a line within a row only inside one). The csv
    module is then given a line that ends the row (`"` closing the open field), and `overlong`
    says what was read past; the reader of the rows calls `next_row` after each row. Costs a
    method call per line."""

    def __init__(self, lines: Iterator[str | LongLine], cap: int, quoting: _CsvQuoting) -> None:
        self._lines = lines
        self._cap = cap
        self._quoting = quoting
        self._row_chars = 0
        self.hidden = 0  # lines read past beyond those given to the csv module
        self.overlong: _Overlong | None = None
        self.mid_row = False  # whether the row over the cap was cut inside a quoted field

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if isinstance(line, str) and self._row_chars + len(line) <= self._cap:
            self._row_chars += len(line)
            return line
        return self._past_the_cap(line)

    def next_row(self) -> None:
        self._row_chars, self.overlong = 0, None

    def _past_the_cap(self, first: str | LongLine) -> str:
        self.mid_row = in_quotes = self._row_chars > 0
        chars, lines = self._row_chars, 0
        line: str | LongLine | None = first
        while line is not None:
            chars += len(line) if isinstance(line, str) else line.length
            lines, in_quotes = lines + 1, self._quoting.ends_quoted(line, in_quotes)
            if not in_quotes:
                break
            line = next(self._lines, None)
        single = first if isinstance(first, LongLine) and not self.mid_row and lines == 1 else None
        self.overlong = _Overlong(chars, line is None, single)
        self.hidden += lines - 1
        return '"\n' if self.mid_row else "\n"


def _overlong_problem(overlong: _Overlong, start: int, end: int, column: str | None) -> str:
    """Why a CSV row over the cap was not read, naming its lines."""
    if overlong.one_line is not None:
        return long_line_problem(start, overlong.one_line.length)
    field = f"the quoted field in column {column!r}" if column else "a quoted field"
    if overlong.at_end:
        return (
            f"{field} of the row from line {start} is not closed before the end of the file "
            f"(line {end}): {overlong.chars:,} characters, over the limit of {MAX_LINE_CHARS:,}; "
            f"an unclosed quote? Lines {start} to {end} were not read"
        )
    return (
        f"the row from line {start} to line {end} is {overlong.chars:,} characters long, over "
        f"the limit of {MAX_LINE_CHARS:,} ({field} spans those lines: a stray quote?); the row "
        "was not read"
    )


def _csv_records(
    path: Path, reader: Reader, lines: _CsvLines, skipped: int, columns: frozenset[str]
) -> Iterator[SourceRow]:
    """The rows after the header, each numbered by the line it starts on."""
    start = skipped + 1
    sep = reader.dialect.delimiter
    try:
        names = _pick_header(path, _rows_of(path, reader, lines, skipped), columns)
        width, unnamed = len(names), "" in names
        start = reader.line_num + skipped + lines.hidden + 1
        for cells in reader:
            end = reader.line_num + skipped + lines.hidden
            if lines.overlong is not None:
                column = names[len(cells) - 1] if lines.mid_row and len(cells) <= width else None
                yield SourceRow(start, {}, _overlong_problem(lines.overlong, start, end, column))
            elif (text := "".join(cells)).strip():
                if "\r" in text:
                    cells = [cell.replace("\r\n", "\n").replace("\r", "\n") for cell in cells]
                if len(cells) < width:
                    cells += [""] * (width - len(cells))
                values = dict(zip(names, cells, strict=False))
                if unnamed:
                    del values[""]
                error = _swallowed_rows(names, cells, sep, start, end)
                error = error or _overflowing(cells, width, sep)
                if len(text) > MAX_FIELD_CHARS:
                    error = error or _too_long_value(values)
                yield SourceRow(start, values, error)
            lines.next_row()
            start = end + 1
    except csv.Error as exc:
        raise SourceError(f"{path}: line {start}: {exc}") from exc


def _rows_of(path: Path, reader: Reader, lines: _CsvLines, skipped: int) -> Iterator[list[str]]:
    """The rows of the csv reader above the header, each row's count of characters started
    afresh. A row over the cap refuses the file: a title is passed over because it names none
    of the columns read, and this one was not read."""
    start = skipped + 1
    for cells in reader:
        end = reader.line_num + skipped + lines.hidden
        if lines.overlong is not None:
            raise SourceError(f"{path}: {_overlong_above_the_header(lines.overlong, start, end)}")
        lines.next_row()
        yield cells
        start = end + 1


def _overlong_above_the_header(overlong: _Overlong, start: int, end: int) -> str:
    limit = f"over the limit of {MAX_LINE_CHARS:,}"
    if overlong.one_line is not None:
        return (
            f"line {start}, above the header, is {overlong.one_line.length:,} characters long, "
            f"{limit}: whether it is a title or the header cannot be told; the file was not read"
        )
    return (
        f"lines {start} to {end}, above the header, are {overlong.chars:,} characters long, "
        f"{limit}: whether they are a title or the header cannot be told (a stray quote?); the "
        "file was not read"
    )


_SEPARATOR_NAMES = {",": "comma", "\t": "tab", "|": "'|'", ";": "';'"}


def _overflowing(cells: list[str], width: int, sep: str) -> str | None:
    """Why a row with values beyond the header's last column is not read, or None: a field
    holding the delimiter unquoted (`厦门市思明区,某路1号`) shifts every later field one column
    on, and the row would load its address as its industry. Empty cells there (the trailing
    delimiters some exports write) are no harm."""
    if len(cells) <= width or not any(cell.strip() for cell in cells[width:]):
        return None
    sep_name = _SEPARATOR_NAMES.get(sep, repr(sep))
    return (
        f"has {len(cells)} fields where the header names {width} columns: a {sep_name} in a "
        "field that is not quoted? The row was not read"
    )


def _swallowed_rows(
    names: list[str], cells: list[str], sep: str, start: int, end: int
) -> str | None:
    """Why a row that spans lines looks like several rows run together, or None.

    A quote opened by mistake (`"批发 A` with no closing quote on its line) makes the csv module
    read every line up to the next quote as one field, and the rows in it would vanish into
    that field without a word. A field whose later lines hold as many delimiters as a whole row
    has (at least two) is taken for that: the row is rejected naming the lines it ran over.
    O(length of the row's multi-line fields)."""
    if start == end:
        return None
    whole_row = max(2, len(names) - 1)
    for name, cell in zip(names, cells, strict=False):
        later_lines = cell.split("\n")[1:]
        if any(line.count(sep) >= whole_row for line in later_lines):
            column = f"column {name!r}" if name else "an unnamed column"
            return (
                f"a quoted field in {column} runs from line {start} to line {end} over lines "
                "that look like whole rows: a stray quote? Those rows were not read"
            )
    return None


def column_key(name: str) -> str:
    """A column name as compared with the names a mapping reads: full-width folded, spaces
    collapsed, any case (`USCC`, `注册资本(万元)` for `注册资本（万元）`)."""
    return normalise_text(name).casefold()


# how many non-empty rows above the header a file may have (a title, a unit, a date)
_TITLE_ROWS = 10


def _pick_header(path: Path, rows: Iterator[Iterable[Any]], columns: frozenset[str]) -> list[str]:
    """The header, the rows before it consumed from `rows`.

    Files made for people often open with a title row (merged across the columns), a unit or a
    date above the real header: the header is the first non-empty row that names one of
    `columns` (as `column_key` compares them), within the first `_TITLE_ROWS` + 1 non-empty
    rows. Without `columns`, or when the only non-empty row names none, it is the first
    non-empty row; when several do and none names one, the file is refused, naming what was
    looked for. A file or sheet with no non-empty row has no header: `[]`, and no rows."""
    wanted = {column_key(name) for name in columns}
    seen: list[list[str]] = []
    for cells in rows:
        header = _header(cells)
        if not any(header):
            continue
        if not wanted or not wanted.isdisjoint(column_key(name) for name in header):
            return _unique(path, header)
        seen.append(header)
        if len(seen) > _TITLE_ROWS:
            break
    if not seen:  # nothing but blank rows: no header and no rows, as an empty JSON Lines file
        return []
    if len(seen) > 1:
        named = sorted(columns)
        listed = ", ".join(named[:30]) + (" …" if len(named) > 30 else "")
        raise SourceError(
            f"{path}: none of its first {len(seen)} non-empty rows is a header naming any of "
            f"the columns read ({listed})"
        )
    return _unique(path, seen[0])


def _unique(path: Path, names: list[str]) -> list[str]:
    """The header, refused when it names a column twice: which of the two is meant cannot be
    told, and taking either would load the other's values under its name."""
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        raise SourceError(f"{path}: columns named more than once: {', '.join(twice)}")
    return names


def _header(cells: Iterable[Any]) -> list[str]:
    return [as_text(cell).lstrip("\ufeff").strip() for cell in cells]


# --- cells as text ------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A cell as the text a person would type: no `12.0`, no `1e+17`, dates as ISO."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=as_text)
    return str(value)


# A float holds any whole number below this exactly, and Excel keeps 15 significant digits: a
# whole-number float from here up is no exact number (an 18-digit ID Excel stored as a number,
# 3.50203198102032E+17, or a JSON number written with an exponent or a `.0`).
_EXACT_FLOAT_BELOW = 1e15


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ""  # how pandas and Parquet writers mark a missing number
    if not value.is_integer():
        return repr(value)
    if abs(value) < _EXACT_FLOAT_BELOW:
        return str(int(value))  # Excel's 12.0, a 15-digit ID Excel keeps whole
    # in scientific notation, as Excel saves it to CSV: an identifier's cell refuses it (its
    # digits are lost), an amount reads it as the number it is
    return format(Decimal(repr(value)).normalize(), "E")


def _record(names: list[str], values: Iterable[Any]) -> dict[str, str]:
    """A row of cells under their header names: unnamed columns dropped, missing cells ""."""
    cells = [as_text(value) for value in values]
    cells += [""] * (len(names) - len(cells))
    return {name: cell for name, cell in zip(names, cells, strict=False) if name}


def _is_blank(values: dict[str, str]) -> bool:
    return not "".join(values.values()).strip()


# --- Excel --------------------------------------------------------------------------------------


def _read_xlsx(path: Path, sheet: str | None, columns: frozenset[str]) -> Iterator[SourceRow]:
    from openpyxl import load_workbook

    _refuse_zip_bomb(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise SourceError(f"{path}: not a readable Excel file: {exc}") from exc
    _east_asian_dates(book)
    try:
        yield from _sheet_rows(path, _worksheet(path, book, sheet, columns), columns)
    except SourceError:
        raise
    except Exception as exc:  # a sheet's XML: a DTD, an entity, a damaged or truncated part
        raise SourceError(f"{path}: not a readable Excel file: {exc}") from exc
    finally:
        book.close()


# Apache POI's guard against zip bombs: a part of more than a megabyte that inflates more than
# 100 times its compressed size is refused. Real sheets inflate 5 to 30 times; a part of
# repeated bytes (a gigabyte of spaces, of empty cells) 1000 times, and openpyxl would hold
# such a run of text in memory whole. zipfile stops inflating a part at its declared size, so
# the declared sizes bound what reading can inflate.
_MAX_INFLATION = 100
_INFLATION_GRACE = 1 << 20


def _refuse_zip_bomb(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl says what is wrong with it
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _INFLATION_GRACE and ratio > _MAX_INFLATION:
            raise SourceError(
                f"{path}: its part {part.filename} inflates {ratio:.0f} times, to "
                f"{part.file_size / (1 << 20):.0f} MB from {part.compress_size} bytes: a zip "
                f"bomb? Real sheets inflate less than {_MAX_INFLATION} times; not read"
            )


# the built-in number formats a Chinese (or Japanese, Korean) Excel gives dates, such as 31,
# `yyyy"年"m"月"d"日"`: a file refers to them by number alone, and openpyxl, which knows only the
# formats every locale shares, would read such a date as its serial number (43161)
_EAST_ASIAN_DATE_FORMATS = frozenset({27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 57, 58})


def _east_asian_dates(book: Any) -> None:
    """Have openpyxl read the cells of those formats as dates, as Excel shows them."""
    styles = getattr(book, "_cell_styles", ())
    dates = getattr(book, "_date_formats", None)
    if isinstance(dates, set):
        dates.update(
            index
            for index, style in enumerate(styles)
            if style.numFmtId in _EAST_ASIAN_DATE_FORMATS
        )


def _worksheet(path: Path, book: Any, sheet: str | None, columns: frozenset[str]) -> Any:
    """The sheet named; else the first whose header names one of `columns` (a workbook may
    open with a sheet of instructions, 填表说明), or without one, the first sheet."""
    if sheet is None:
        if columns and len(book.worksheets) > 1:
            return next(
                (ws for ws in book.worksheets if _names_a_column(path, ws, columns)),
                book.worksheets[0],
            )
        return book.worksheets[0]
    if sheet not in book.sheetnames:
        raise SourceError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
    return book[sheet]


def _names_a_column(path: Path, worksheet: Any, columns: frozenset[str]) -> bool:
    """Whether one of the sheet's first non-empty rows names one of `columns`."""
    if hasattr(worksheet, "reset_dimensions"):
        worksheet.reset_dimensions()
    rows = worksheet.iter_rows(values_only=True)
    try:
        header = _pick_header(path, itertools.islice(rows, _TITLE_ROWS * 10), columns)
    except SourceError:
        return False
    finally:
        rows.close()
    wanted = {column_key(name) for name in columns}
    return not wanted.isdisjoint(column_key(name) for name in header)


def _sheet_rows(path: Path, worksheet: Any, columns: frozenset[str]) -> Iterator[SourceRow]:
    if hasattr(worksheet, "reset_dimensions"):
        worksheet.reset_dimensions()  # do not trust the size the file claims; read every cell
    numbered = enumerate(worksheet.iter_rows(values_only=True), start=1)
    names = _pick_header(path, (cells for _, cells in numbered), columns)
    merged = _MergedCells(_merged_ranges(worksheet))
    for number, cells in numbered:
        values = _record(names, merged.filled(number, cells))
        if not _is_blank(values):
            yield SourceRow(number, values, _too_long_value(values))


Span = tuple[int, int, int, int]  # first row, first column, last row, last column (1-based)
_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _merged_ranges(worksheet: Any) -> list[Span]:
    """The merged cells of a sheet, read from its XML (openpyxl's read-only sheets do not say),
    a block at a time: they are listed after the rows."""
    archive, part = (
        getattr(worksheet.parent, "_archive", None),
        getattr(worksheet, "_worksheet_path", None),
    )
    if archive is None or part is None:
        return []
    spans, tail = [], b""
    with archive.open(part) as source:
        while block := source.read(_CHUNK):
            data = tail + block
            for match in _MERGE_REF.finditer(data):
                first_col, first_row, last_col, last_row = match.groups()
                spans.append((int(first_row), _column(first_col), int(last_row), _column(last_col)))
            cut = data.rfind(b"<")
            tail = data[cut:] if cut >= 0 and b">" not in data[cut:] else b""
    return sorted(set(spans))


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


class _MergedCells:
    """Fills a data row's cells covered by a merged cell with the merged cell's value, as Excel
    shows it: a company merged down over its three shareholders' rows is each row's company.
    Merged cells that start above the first data row (a title, a header) are left alone."""

    def __init__(self, spans: list[Span]) -> None:
        self._pending = spans  # sorted by first row
        self._next = 0
        self._active: list[tuple[Span, Any]] = []
        self._first_data_row: int | None = None

    def filled(self, number: int, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        if self._first_data_row is None:
            self._first_data_row = number
        while self._next < len(self._pending) and self._pending[self._next][0] <= number:
            span = self._pending[self._next]
            self._next += 1
            if span[0] == number and span[0] >= self._first_data_row:
                value = cells[span[1] - 1] if span[1] <= len(cells) else None
                self._active.append((span, value))
        self._active = [(span, value) for span, value in self._active if span[2] >= number]
        if not self._active:
            return cells
        row = list(cells)
        for (_, first_col, _, last_col), value in self._active:
            if len(row) < last_col:
                row += [None] * (last_col - len(row))
            row[first_col - 1 : last_col] = [value] * (last_col - first_col + 1)
        return tuple(row)


# --- JSON Lines ---------------------------------------------------------------------------------


def _read_jsonl(path: Path, encoding: str) -> Iterator[SourceRow]:
    with _open_text(path, encoding) as handle:
        for number, text in enumerate(text_lines(handle), start=1):
            if isinstance(text, LongLine):
                yield SourceRow(number, {}, long_line_problem(number, text.length))
            elif text.strip():
                row = _json_row(number, text.rstrip("\r\n"))
                if row.error is not None or not _is_blank(row.values):
                    yield row


def _json_row(number: int, text: str) -> SourceRow:
    try:
        value = json_line_value(text)
    except JsonLineError as exc:
        return SourceRow(number, {}, str(exc))
    if not isinstance(value, dict):
        return SourceRow(number, {}, f"not a JSON object but {_json_kind(value)}")
    values = {str(key).strip(): as_text(cell) for key, cell in value.items()}
    too_long = _too_long_value(values) if len(text) > MAX_FIELD_CHARS else None
    return SourceRow(number, {} if too_long else values, too_long)


class JsonLineError(ValueError):
    """Why one line of a JSON-lines file is no JSON value to read, in words for a rejects file."""


# longer integers are no identifier or amount, and Python refuses to convert past 4300 digits
_JSON_INT_DIGITS = 100


def json_line_value(text: str) -> Any:
    """The JSON value of one line, held to what JSON means: the `Infinity` literal, a number
    too large for a float (`1e999`, read as infinity) and an object naming a key twice (which
    of its values is meant cannot be told; Python would keep the last without a word) raise
    JsonLineError, as does a line nested too deeply to read. `NaN`, which `json.dumps` writes
    for pandas' missing number, is read as NaN: an empty cell, as in Parquet."""
    try:
        return json.loads(
            text,
            parse_constant=_json_constant,
            parse_float=_json_float,
            parse_int=_json_int,
            object_pairs_hook=_json_object,
        )
    except json.JSONDecodeError as exc:
        raise JsonLineError(json_line_problem(text, exc)) from None
    except RecursionError:
        raise JsonLineError("nested too deeply") from None


def _json_constant(name: str) -> float:
    if name == "NaN":
        return math.nan
    raise JsonLineError(f"not valid JSON: {name} is no JSON number")


def _json_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise JsonLineError(f"the number {text[:40]} is too large to read")
    return number


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > _JSON_INT_DIGITS:
        raise JsonLineError(f"a number of {len(text)} digits is too long to read")
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise JsonLineError(
                f"names the key {key[:80]!r} twice: which of its values is meant cannot be told"
            )
        value[key] = item
    return value


def json_line_problem(text: str, exc: json.JSONDecodeError) -> str:
    """Why one line of a JSON-lines file (its line ending removed) is not JSON, in words a
    person can act on: a line cut off, two lines run together, half of a line broken in two, or
    else what the parser expected and at which column. Never quotes the line, which may hold
    identity numbers."""
    end = len(text.rstrip())
    if exc.msg.startswith("Unterminated string"):
        return (
            f"not complete JSON: the line is cut off at column {end}, inside a string opened at "
            f"column {exc.colno}"
        )
    if exc.pos >= end:
        return (
            f"not complete JSON: the line is cut off at column {end}, before its object is closed"
        )
    if exc.msg == "Extra data":
        return (
            f"not valid JSON: more text after the object, from column {exc.colno} (two lines "
            "run together?)"
        )
    if exc.pos == len(text) - len(text.lstrip()) and exc.msg == "Expecting value":
        return "not valid JSON: the line does not start with '{' (the end of a line broken in two?)"
    return f"not valid JSON at column {exc.colno}: {exc.msg.removesuffix(' at').lower()}"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else "a number or boolean"


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(path: Path) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError subclasses
        raise SourceError(f"{path}: not a readable Parquet file: {exc}") from exc
    with parquet:
        names = _header(parquet.schema_arrow.names)
        number = 1
        for records in _parquet_batches(path, parquet):
            for record in records:
                number += 1
                values = _record(names, record.values())
                if not _is_blank(values):
                    yield SourceRow(number, values, _too_long_value(values))


def _parquet_batches(path: Path, parquet: Any) -> Iterator[list[dict[str, Any]]]:
    batches = parquet.iter_batches(batch_size=_PARQUET_BATCH)
    while True:
        try:
            batch = next(batches, None)
        except Exception as exc:  # a damaged row group
            raise SourceError(f"{path}: not a readable Parquet file: {exc}") from exc
        if batch is None:
            return
        yield batch.to_pylist()
