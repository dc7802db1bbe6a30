"""Load reports and rejects files.

For every source file: `read = loaded + rejected + merged`, where `merged` counts rows whose
key an earlier row of the same run already carried (a duplicate merged into one node or
relation; a relation's key is its source and its id there). Rejected rows go to
`<file>.rejects.csv` with the source line, field and reason.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

_VARYING = re.compile(r"'[^']*'|\d+(\.\d+)?")


@dataclass
class FileReport:
    file: str
    mapping: str = ""
    source: str = ""
    encoding: str = ""
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    merged: int = 0
    rejects_file: str | None = None
    skipped_chunks: int = 0  # chunks a previous run already committed (see the run ledger)
    folded: int = 0  # `REG:` parties this run folded into the USCC that took them over (fold.py)
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    # columns of a canonical file that are no canonical field (a misspelt `adress`): not loaded
    unused_columns: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.rejected + self.merged

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadReport:
    run_id: str
    dry_run: bool
    files: list[FileReport] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "files": [f.to_json() for f in self.files],
        }

    def json_text(self) -> str:
        """The report as the JSON `--report` writes."""
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.json_text(), encoding="utf-8")


class RejectsWriter:
    """Writes rejected rows lazily: the file exists only if a row of this run was rejected (a
    file left by an earlier run of the same source is removed first, so that it cannot be
    taken for this run's)."""

    HEADER = ("line", "field", "reason")

    def __init__(self, path: Path, report: FileReport) -> None:
        path.unlink(missing_ok=True)
        self._path = path
        self._report = report
        self._handle: TextIO | None = None
        self._writer: Any = None

    def reject(self, line: int, field_name: str, reason: str) -> None:
        if self._handle is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(self.HEADER)
            self._report.rejects_file = str(self._path)
        self._writer.writerow((line, field_name, reason))
        self._report.rejected += 1
        key = f"{field_name}: {_VARYING.sub('…', reason)}"
        self._report.reasons[key] = self._report.reasons.get(key, 0) + 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
