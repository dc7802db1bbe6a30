"""Reading source files as they come: encoding detection and numbered rows.

A CSV may be UTF-8, UTF-8 with a BOM, or GBK/GB18030 (what Chinese office software and the
courts' systems export). Detection reads the file once in binary through an incremental UTF-8
decoder; any invalid sequence means GB18030, a superset of GBK. The caller may override.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


class SourceError(ValueError):
    """A file that cannot be read at all (missing, undecodable, without a header)."""


@dataclass(frozen=True)
class SourceRow:
    line: int  # 1-based physical line where the row starts; the header is line 1
    values: dict[str, str]


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


def read_csv_rows(path: Path, encoding: str | None = None) -> Iterator[SourceRow]:
    """Yield each data row with its starting line number; header names are stripped.

    Quoted fields may span lines; the line number is where the row starts, as an editor shows it.
    """
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    chosen = encoding or detect_encoding(path)
    try:
        with path.open("r", encoding=chosen, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise SourceError(f"{path}: empty file, expected a header row")
            names = [name.strip().lstrip("\ufeff") for name in header]
            start = reader.line_num + 1
            for values in reader:
                if any(cell.strip() for cell in values):
                    yield SourceRow(start, dict(zip(names, values, strict=False)))
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: cannot be decoded as {chosen}: {exc.reason}") from exc
