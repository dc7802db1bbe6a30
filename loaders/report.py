"""Load reports and rejects files.

For every source file: `read = loaded + rejected + merged`, where `merged` counts rows whose
key an earlier row of the same run already carried (a duplicate merged into one node or
relation; a relation's key is its source and its id there). Rejected rows go to
`<file>.rejects.csv` with the source line, field and reason, each cell safe to open in a
spreadsheet (`inert_cell`).
"""

from __future__ import annotations

import csv
import heapq
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from credgraph.graph.vocabulary import Label

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
    # rows of a full extract whose values were not written: the store holds those of a later
    # extract (`described_on`). Valid rows, counted in `loaded` or `merged` as well
    outdated: int = 0
    folded: int = 0  # `REG:` parties this run folded into the USCC that took them over (fold.py)
    # an FtM file: rows listing a referent another party claims already (loaders/referents.py),
    # loaded with the claim recorded, folding nothing; the first 100 as `line N: referents: ...`
    referent_conflicts: int = 0
    referent_conflict_lines: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # a full extract (loaders/extract.py): relations or records this run ended (would end, in a
    # dry run) as no longer listed; null for a file of another load or kind
    ended: int | None = None
    end_refused: str | None = None  # why nothing was ended (the guards of a full extract)
    reasons: dict[str, int] = field(default_factory=dict)
    # columns of a canonical file that are no canonical field (a misspelt `adress`): not loaded
    unused_columns: list[str] = field(default_factory=list)
    # columns a mapping reads that the file's header lacks (`注册资本 (registered_capital)`):
    # their fields stay empty on every row
    missing_columns: list[str] = field(default_factory=list)
    # an FtM file (loaders/ftm.py): entities of a schema credgraph does not map, by schema
    # (`Family`), and links to them (`Sanction (entity: Vessel)`): neither loaded nor rejected,
    # and not in `read`; properties of loaded entities that no field reads (`Company.topics`)
    unmapped_entities: dict[str, int] = field(default_factory=dict)
    unmapped_properties: dict[str, int] = field(default_factory=dict)

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
    # the negative records the load wrote or whose status it changed (uids), and what the
    # re-score of their reach did afterwards (credgraph load; None: nothing re-scored)
    changed_records: list[str] = field(default_factory=list)
    # the parties at both ends of the relations it created, changed (stake, dates) or ended, as
    # (label, uid); `more_changed_parties`: more than the re-score takes in, not all kept
    changed_parties: list[tuple[Label, str]] = field(default_factory=list)
    more_changed_parties: bool = False
    # ledger entries of the chunks whose re-score is owed until it has run (loaders/loader.py
    # `mark_rescored`), and how many of them an earlier run committed and stopped before
    # re-scoring (killed), whose relations' ends this load took in
    pending_chunks: list[str] = field(default_factory=list)
    resumed_chunks: int = 0
    rescored: int | None = None
    rescore_note: str | None = None
    # why nothing was re-scored (None: it ran, or there was nothing to do): `over_cap`, more
    # changes than a re-score takes in; `unknown_profile`, the stored run's profile is not one
    # this process has; `failed`, it could not run (store, profiles file): still owed, a run of
    # the same load again re-scores it
    rescore_skipped: str | None = None
    # after the load (none on a dry run): the graph's data version (queries/ledger.py) and the
    # `snapshotId` each known profile's reports and screens name from then on, until the next
    # change: kept with the report, they tie a decision's snapshot id to the load it followed
    data_version: str | None = None
    snapshots: dict[str, str] = field(default_factory=dict)

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
            "rescored": self.rescored,
            "rescore_note": self.rescore_note,
            "rescore_skipped": self.rescore_skipped,
            "rescore_resumed_chunks": self.resumed_chunks,
            "data_version": self.data_version,
            "snapshots": self.snapshots,
        }

    def json_text(self) -> str:
        """The report as the JSON `--report` writes."""
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.json_text(), encoding="utf-8")


class RejectsWriter:
    """Writes rejected rows in source line order, lazily: the file exists only if a row of this
    run was rejected (a file left by an earlier run of the same source is removed first, so
    that it cannot be taken for this run's).

    The loader rejects a chunk's rows in several passes (parsing, then references, then reused
    ids), so `reject` only collects them and `flush`, at the end of each chunk, writes them
    sorted. Chunks follow the file, so sorted chunks make a sorted file; a chunk that goes back
    (an FtM file's second pass, over the links) starts a run in a temporary file, and `close`
    merges the runs. Memory holds one chunk's rejects, whatever the size of the file.
    """

    HEADER = ("line", "field", "reason")

    def __init__(self, path: Path, report: FileReport) -> None:
        path.unlink(missing_ok=True)
        self._path = path
        self._report = report
        self._pending: list[Reject] = []
        self._runs: list[TextIO] = []  # the rejects file, then a temporary file per later run
        self._last = 0  # the line of the last row written

    def reject(self, line: int, field_name: str, reason: str) -> None:
        self._pending.append((line, field_name, reason))
        self._report.rejects_file = str(self._path)
        self._report.rejected += 1
        key = f"{field_name}: {_VARYING.sub('…', reason)}"
        self._report.reasons[key] = self._report.reasons.get(key, 0) + 1

    def flush(self) -> None:
        """Write the rows rejected since the last flush, in line order."""
        if not self._pending:
            return
        self._pending.sort(key=_line_of)
        if not self._runs or self._pending[0][0] < self._last:
            self._runs.append(self._new_run())
        csv.writer(self._runs[-1]).writerows(
            (line, inert_cell(field_name), inert_cell(reason))
            for line, field_name, reason in self._pending
        )
        self._last = self._pending[-1][0]
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if len(self._runs) > 1:
            self._merge_runs()
        for handle in self._runs:
            handle.close()
        self._runs.clear()

    def _new_run(self) -> TextIO:
        if self._runs:
            return tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("w+", encoding="utf-8", newline="")
        csv.writer(handle).writerow(self.HEADER)
        return handle

    def _merge_runs(self) -> None:
        """Rewrite the rejects file as the merge of its runs, streaming."""
        readers: list[Iterator[list[str]]] = []
        for handle in self._runs:
            handle.flush()
            handle.seek(0)
            readers.append(csv.reader(handle))
        next(readers[0])  # the header
        merged = heapq.merge(*readers, key=_csv_line)
        merging = self._path.with_name(self._path.name + ".merging")
        with merging.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(self.HEADER)
            writer.writerows(merged)
        merging.replace(self._path)


Reject = tuple[int, str, str]

# what a spreadsheet (Excel, WPS, LibreOffice) takes a cell starting with for a formula, and
# runs: OWASP's list for CSV injection, a tab and a carriage return before one included
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(text: str) -> str:
    """`text` as a cell a reviewer opens in a spreadsheet without running it: one that starts as
    a formula would (`-0.5 is below the range 0..1`, a value quoted first) gets a `'` before it,
    which the spreadsheet shows as text, as OWASP recommends."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _line_of(reject: Reject) -> int:
    return reject[0]


def _csv_line(row: list[str]) -> int:
    return int(row[0])
