"""Load source files into the graph: plan, parse, resolve, write, and account for every row.

1. Plan: each file gets a mapping (a user's `--mapping`, else a built-in canonical one), and
   files are ordered by what they feed, so parties land before what refers to them.
2. Each file streams in chunks of `batch_size` rows. A reader thread parses and checks each
   row, resolves its references (this run first, then the store) and stages the writes; the
   main thread writes the staged chunk in ONE transaction together with its ledger entry. The
   two overlap, so parsing costs nothing while the store works.
3. The ledger (`LoadChunk` nodes) names every committed chunk by the file's digest, the
   chunk's index and the rows it wrote. A re-run, after a crash or not, parses everything again
   (so the report is the same) but skips the chunks that committed: nothing is lost and nothing
   is doubled, and loading the same files twice leaves the graph untouched. A chunk whose rows
   now resolve a party that was missing before is another chunk, and is written.

For every file `read = loaded + rejected + merged`; each rejected row is written to the
rejects file with its line, field and reason.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any, LiteralString

from credgraph.graph.cycles import rare_collections
from credgraph.graph.files import sha256_file
from credgraph.graph.identifiers import OPERATOR_PREFIX, ftm_id_uid, ftm_referent_uid
from credgraph.graph.lifecycle import (
    RECORD_START_FIELDS,
    Listing,
    StatusEvent,
    current_status,
    record_start,
    record_start_field,
)
from credgraph.graph.store import GraphStore, Transaction, bolt_date, native, native_record
from credgraph.graph.vocabulary import (
    LINEAGE_PROPERTIES,
    Label,
    LegacyCodeType,
    RecordStatus,
    RelationType,
    Role,
    StatusChangeKind,
)
from credgraph.loaders import ftm
from credgraph.loaders.extract import SNAPSHOT_TARGETS, EndingContext, Snapshot, end_unlisted
from credgraph.loaders.fold import fold_parties
from credgraph.loaders.ftm_stored import StoredEnds
from credgraph.loaders.mapping import (
    CANONICAL_FIELDS,
    LOAD_ORDER,
    SourceMapping,
    Target,
    choose_mapping,
)
from credgraph.loaders.names import add_other_names, staged_names, stored_names
from credgraph.loaders.referents import Referents
from credgraph.loaders.report import FileReport, LoadReport, RejectsWriter
from credgraph.loaders.resolve import Resolver
from credgraph.loaders.rows import (
    REG_PREFIX,
    ChangeRow,
    NodeRow,
    ParseContext,
    PartyRef,
    RecordRow,
    RelationRow,
    RowError,
    legacy_uid,
    parse_firm_relation,
    parse_legacy_identifier,
    parse_legal_person,
    parse_natural_person,
    parse_record,
    parse_role,
    parse_shareholding,
    parse_status_change,
)
from credgraph.loaders.sources import (
    SOURCE_EXTENSIONS,
    column_key,
    detect_encoding,
    detect_format,
    read_rows,
)
from credgraph.queries import writes
from credgraph.queries.ledger import count_chunk, ensure_data_head

Parsed = NodeRow | RelationRow | RecordRow | ChangeRow
ParsedLine = tuple[int, Parsed | RowError]
Row = dict[str, Any]

# bump when the meaning of a chunk changes, so old ledger entries no longer match
# 2: chunks fold `REG:` parties (loaders/fold.py); 3: a chunk's key names the rows it writes
LEDGER_VERSION = "3"

TABULAR_PARSERS: dict[Target, Callable[[ParseContext, dict[str, str]], Parsed]] = {
    Target.LEGAL_PERSONS: parse_legal_person,
    Target.LEGACY_IDENTIFIERS: parse_legacy_identifier,
    Target.NATURAL_PERSONS: parse_natural_person,
    Target.ROLES: parse_role,
    Target.SHAREHOLDINGS: parse_shareholding,
    Target.FIRM_RELATIONS: parse_firm_relation,
    Target.RECORDS: parse_record,
    Target.STATUS_CHANGES: parse_status_change,
}

# the reference columns of each kind of row, in the order of `_references`
REFERENCE_FIELDS: dict[Target, tuple[str, ...]] = {
    Target.LEGACY_IDENTIFIERS: ("legacy_code", "uscc"),
    Target.ROLES: ("person_id_number", "company_id"),
    Target.SHAREHOLDINGS: ("holder_id", "company_id"),
    Target.FIRM_RELATIONS: ("from_id", "to_id"),
    Target.RECORDS: ("subject_id",),
    Target.FTM_ENTITIES: ("from", "to"),
}

# what only the registry says about a party: a sanctions list may add to it, never change it
REGISTRY_OWNED = frozenset({"name", "name_key", "kind", "strong_id", "id_type", "country"})

# the files whose rows can give a `REG:` party or claim its number for a USCC (loaders/fold.py)
_IDENTITY_TARGETS = frozenset(
    {Target.LEGAL_PERSONS, Target.LEGACY_IDENTIFIERS, Target.FTM_ENTITIES}
)

# what the store keys with a source's ids, for a file of each kind: the relation types it writes
# (an id of its source names one of them), read by key
_KEYED_RELATIONS: dict[Target, LiteralString] = {
    Target.ROLES: writes.KEYED_ROLES,
    Target.SHAREHOLDINGS: writes.KEYED_SHAREHOLDINGS,
    Target.FIRM_RELATIONS: writes.KEYED_FIRM_RELATIONS,
    Target.FTM_ENTITIES: writes.KEYED_ROLES_AND_SHAREHOLDINGS,
}

# the relation writes, and whether the tail of the relations each writes is a legal person: the
# ends of a chunk's relations, for a chunk an earlier run committed but did not re-score
_FROM_LEGAL: dict[LiteralString, bool] = {
    **dict.fromkeys(writes.PERSON_ROLE_WRITES.values(), False),
    **dict.fromkeys(writes.FIRM_RELATION_WRITES.values(), True),
    **{query: label is Label.LEGAL_PERSON for label, query in writes.SHAREHOLDER_WRITES.items()},
}

# the changes that end a record, which cannot come before it starts: it would end before it
# ever counted. A revocation may (the record never held); an objection ends nothing.
_ENDING_CHANGES = (StatusChangeKind.REPAIRED, StatusChangeKind.EXPIRED)

# a name match alone never merges parties; this is the score of the link it leaves
SAME_NAME_SCORE = 0.5


class PlanError(ValueError):
    """Files that cannot be loaded as asked (no mapping, not found)."""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    mapping: SourceMapping


def plan_load(
    paths: Sequence[Path], mappings: Sequence[SourceMapping], builtins: Sequence[SourceMapping]
) -> list[PlannedFile]:
    """Pair every file with its mapping and put them in load order.

    A directory stands for the data files in it (rejects files excepted). A file named on its
    own with exactly one user mapping that has no `match` patterns takes that mapping.
    """
    files = _expand(paths)
    planned, unmatched = [], []
    lone = [m for m in mappings if not m.match]
    for path in files:
        mapping = choose_mapping(path, tuple(mappings)) or choose_mapping(path, tuple(builtins))
        if mapping is None and len(lone) == 1 and len(files) == 1:
            mapping = lone[0]
        if mapping is None and path.suffix.lower() == ".json" and path not in paths:
            continue  # a folder's manifest or report, not data
        if mapping is None:
            unmatched.append(path.name)
        else:
            planned.append(PlannedFile(path, mapping))
    if unmatched:
        raise PlanError(f"no mapping for {', '.join(unmatched)}: {_unmatched_hint(mappings)}")
    if not planned:
        raise PlanError(_nothing_to_load(paths))
    return sorted(planned, key=lambda p: (LOAD_ORDER.index(p.mapping.target), p.path.name))


def _unmatched_hint(mappings: Sequence[SourceMapping]) -> str:
    """What to do about a file no mapping takes: with --mapping given, which file names its
    `match` patterns take (the advice to pass --mapping misled when one was passed)."""
    patterns = [pattern for mapping in mappings for pattern in mapping.match]
    if patterns:
        return (
            f"the --mapping files take {', '.join(patterns)}: rename the file, add its name to "
            "a mapping's `match`, or move what is not data out of the folder"
        )
    return (
        "name the files as in docs/formats.md, pass --mapping FILE.yaml, or move what is not "
        "data out of the folder"
    )


def _nothing_to_load(paths: Sequence[Path]) -> str:
    where = ", ".join(str(path) for path in paths)
    suffixes = ", ".join(sorted(SOURCE_EXTENSIONS))
    return (
        f"no data files in {where}: a folder loads its own {suffixes} files, not those in "
        "its subfolders (name each folder)"
    )


# spreadsheets of formats the loader does not read: in a folder, refused rather than skipped
_UNREAD_SPREADSHEETS = {
    ".xls": "Excel 97-2003",
    ".xlsm": "Excel with macros",
    ".xlsb": "Excel binary",
    ".ods": "OpenDocument",
    ".et": "WPS",
}


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            children = sorted(child for child in path.iterdir() if child.is_file())
            unread = [c for c in children if c.suffix.lower() in _UNREAD_SPREADSHEETS]
            if unread:
                kinds = ", ".join(
                    f"{c.name} ({_UNREAD_SPREADSHEETS[c.suffix.lower()]})" for c in unread
                )
                raise PlanError(f"{kinds}: not read; save as .xlsx or .csv, or move out of {path}")
            files.extend(
                child
                for child in children
                if child.suffix.lower() in SOURCE_EXTENSIONS
                and not child.name.endswith(".rejects.csv")
            )
        elif path.is_file():
            files.append(path)
        else:
            raise PlanError(f"{path}: no such file or folder")
    return files


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class CommittedChunk:
    """A chunk the ledger holds: whether the re-score after its load is still owed, and the
    parties it folded `REG:` parties into (loaders/fold.py), kept while it is."""

    pending: bool
    folds: tuple[str, ...] = ()
    person_folds: tuple[str, ...] = ()  # the natural persons FtM persons were folded into


@dataclass
class StagedChunk:
    """The writes of one chunk, in the order they must run, and its ledger entry."""

    uid: str  # its key in the run ledger (`_chunk_uid`)
    file_digest: str
    rows: int
    statements: list[tuple[LiteralString, list[Row]]] = field(default_factory=list)
    weak_check: dict[Label, list[Row]] = field(default_factory=dict)
    refold: dict[str, Label] = field(default_factory=dict)  # record uid -> label
    # record uid -> listed status and the day it began (`listed_status_since`), if given
    listed: dict[str, Listing] = field(default_factory=dict)
    # old uid -> the party it is folded into (loaders/fold.py): legal persons (a `REG:` party
    # into its USCC, an FtM referent's party into the entity's), natural persons (FtM referents)
    folds: dict[str, str] = field(default_factory=dict)
    person_folds: dict[str, str] = field(default_factory=dict)
    # what the chunk's party rows say of their names (loaders/names.py `staged_names`): the
    # former names and aliases they give, and the renames, written in its transaction
    names: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class StoredEnding:
    """A repair or expiry the store holds for a record, and the dates the record has there."""

    change_uid: str
    change: StatusChangeKind
    effective_on: date
    dates: Row


@dataclass(frozen=True)
class _FullExtract:
    """How a load writes: as the full extract of a day (loaders/extract.py), or plainly."""

    day: date | None  # the day a full extract describes; None for a plain load
    force_end: bool
    listed_on: Any  # `day` as the driver sends it (`bolt_date`)
    # a full extract's writes keep the values of a later one (queries/writes.py, "dated
    # writes"): its statements in their dated variants; a plain load runs them as they are
    dated: Mapping[LiteralString, LiteralString]
    change_reporting: Mapping[LiteralString, LiteralString]

    @classmethod
    def of(cls, day: date | None, force_end: bool) -> _FullExtract:
        if day is None:
            return cls(None, force_end, None, {}, writes.CHANGE_REPORTING_RELATION_WRITES)
        return cls(
            day,
            force_end,
            bolt_date(day),
            writes.DATED_WRITES,
            writes.DATED_CHANGE_REPORTING_RELATION_WRITES,
        )


@dataclass
class _TargetCounts:
    """What the rows of the current target's files counted (`Loader._count`,
    `Loader._count_relation`): a row seen again is merged, not loaded."""

    target: Target | None
    seen: set[int] = field(default_factory=set)
    # relation keys -> a fingerprint of the ends of their first row, its file (an index in
    # `files`) and its line, packed in one int: one entry per relation of a load
    relation_ends: dict[int, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # the names of the files counted

    def file_index(self, name: str) -> int:
        """The index of file `name` in `files`, added when new (the current file is last)."""
        if not self.files or self.files[-1] != name:
            self.files.append(name)
        return len(self.files) - 1


@dataclass
class _FtmFile:
    """The FtM file being loaded: its parties, and the referents its rows name, learnt once
    it is loaded (within a file, an entity id wins over another entity's referent)."""

    parties: set[str] = field(default_factory=set)
    claims: dict[str, set[str]] = field(default_factory=dict)  # referent uid -> the rows' parties


@dataclass
class _StoreFacts:
    """What the store held as this load started, each read once and when first needed."""

    # sources an earlier load committed chunks of (`Loader._loaded_before`)
    sources_before: dict[str, bool] = field(default_factory=dict)
    any_changes: bool = False  # the store holds a status change (`Loader._changes_stored`)
    head_checked: bool = False  # the ledger's head exists (queries/ledger.py)


@dataclass
class _Rescore:
    """What the re-score after the load takes in (queries/contagion.py `rescore_records`)."""

    # the parties at the ends of relations the load created, changed or ended, and those it
    # folded `REG:` parties into (`Loader._note_folds`), kept while they and the records are
    # at most `cap` (None: not kept); beyond it, `more_parties` says that some were not (the
    # re-score then only says so)
    cap: int | None
    records: set[str] = field(default_factory=set)
    parties: set[tuple[Label, str]] = field(default_factory=set)
    more_parties: bool = False
    # ledger entries of chunks (relations, records) whose re-score is owed: those this run
    # commits (`rescore_pending` on them), and those an earlier run committed and stopped
    # before re-scoring, whose ends this run takes in (`resumed`); `mark_rescored` clears
    # them once the re-score has run
    pending_chunks: list[str] = field(default_factory=list)
    resumed_chunks: int = 0
    resumed_files: set[str] = field(default_factory=set)  # digests of the files of those resumed
    # the ledger's chunks owing a re-score as the load began, of any file (read with the first
    # file's committed chunks, `Loader._committed_chunks`): those no file of this load takes
    # over are taken in once it is written (`Loader._take_in_pending`)
    ledger_read: bool = False
    owed_before: list[Row] = field(default_factory=list)


_DONE = object()


@dataclass(frozen=True)
class _FileLoad:
    """A file being loaded: what staging its chunks needs."""

    item: PlannedFile
    report: FileReport
    rejects: RejectsWriter
    digest: str
    weak_exist: bool  # the store held a party without a strong identifier as the file began
    snapshot: Snapshot | None


class _Handover:
    """The staged chunks of a file, handed from the reading thread to the writing one (at most
    two wait)."""

    def __init__(self) -> None:
        self._staged: queue.Queue[object] = queue.Queue(maxsize=2)
        self._stopped = threading.Event()

    def put(self, entry: object) -> bool:
        """Queue `entry` for the writing thread; False once it has stopped taking any
        (a write failed, or Ctrl-C): then nothing may wait on a full queue."""
        while not self._stopped.is_set():
            try:
                self._staged.put(entry, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def take(self) -> StagedChunk | None:
        """The next staged chunk, waiting for it; None once the reading thread is done. What
        the reading thread raised is raised here."""
        entry = self._staged.get()
        if entry is _DONE:
            return None
        if isinstance(entry, BaseException):
            raise entry
        assert isinstance(entry, StagedChunk)
        return entry

    def stop(self) -> None:
        """The writing thread takes no more: a reader waiting to hand over gives up."""
        self._stopped.set()


_LOW_32 = (1 << 32) - 1


class Loader:
    """Loads planned files into one store, or only checks them (`dry_run`: every row checked,
    references resolved against the store as a load would, nothing written; with
    `store=None`, against the files alone)."""

    def __init__(
        self,
        store: GraphStore | None,
        context: ParseContext,
        *,
        batch_size: int,
        rejects_dir: Path,
        run_id: str | None = None,
        on_rows: Callable[[int], None] | None = None,
        dry_run: bool = False,
        full_extract: date | None = None,
        force_end: bool = False,
        rescore_cap: int | None = None,
    ) -> None:
        self._store = store
        self._dry_run = dry_run or store is None
        self._ctx = context
        self._batch = batch_size
        self._rejects_dir = rejects_dir
        self._rejects_names: set[str] = set()  # rejects files this load writes
        self.run_id = run_id or new_run_id()
        self._loaded_at = datetime.now(UTC)
        self._on_rows = on_rows or (lambda n: None)
        self._resolver = Resolver(store, dry_run=self._dry_run)
        self._referents = Referents(store)
        # the parties earlier loads gave the FtM ids a file's links name but it does not hold
        self._stored_ends = StoredEnds(store, context, self._resolver, self._referents)
        self._facts = _StoreFacts()
        self._counts = _TargetCounts(None)
        self._ftm_file = _FtmFile()
        # legacy codes (`<type>:<code>`) this load gave a holder -> where: one code, one holder
        self._claims: dict[str, str] = {}
        self._extract = _FullExtract.of(full_extract, force_end)
        self._snapshots: dict[tuple[Target, str], Snapshot] = {}  # a full extract's, by source
        self._rescore = _Rescore(rescore_cap)

    def load(self, planned: Sequence[PlannedFile]) -> LoadReport:
        report = LoadReport(self.run_id, dry_run=self._dry_run)
        with rare_collections():
            for item in planned:
                report.files.append(self.load_file(item))
            self._end_unlisted()
            self._take_in_pending()
        report.changed_records = sorted(self._rescore.records)
        report.changed_parties = sorted(self._rescore.parties)
        report.more_changed_parties = self._rescore.more_parties
        report.pending_chunks = list(self._rescore.pending_chunks)
        report.resumed_chunks = self._rescore.resumed_chunks
        return report

    def _take_in_pending(self) -> None:
        """Re-score what the chunks an earlier run committed and did not re-score changed, of
        whatever file (one changed since, loaded with another batch size, or not loaded now):
        those no file of this load took over (`_resume`). Their ledger entries name what they
        changed (`_ledger_props`); one that does not (committed before the entries did, or past
        the cap when what changed was not kept) leaves it unknown: the re-score then says to run
        `credgraph risk score`. No store read: the entries came with the first file's chunks."""
        taken = set(self._rescore.pending_chunks)
        for row in self._rescore.owed_before:
            if row["uid"] in taken:
                continue
            taken.add(row["uid"])
            self._note_folds(row["folds"] or ())
            self._note_folds(row["person_folds"] or (), Label.NATURAL_PERSON)
            if row["tracked"]:
                self._rescore.records.update(row["records"] or ())
                self._note_folds(row["parties"] or ())
                self._note_folds(row["persons"] or (), Label.NATURAL_PERSON)
            else:
                self._rescore.more_parties = True
            self._rescore.pending_chunks.append(row["uid"])
            self._rescore.resumed_chunks += 1

    def _note_changed(self, records: Mapping[str, Label]) -> None:
        """Keep the negative records written or refolded: their subjects' reach is re-scored
        after the load (queries/contagion.py `rescore_records`)."""
        self._rescore.records.update(
            uid for uid, label in records.items() if label is Label.SANCTION_EVENT
        )

    def _tracking(self) -> bool:
        """Whether relation writes say which rows changed something: until the changed records
        and parties pass the re-score's cap (then a full `risk score` is the advice anyway, and
        the plain writes, which return nothing, are cheaper)."""
        cap = self._rescore.cap
        if cap is None or self._rescore.more_parties:
            return False
        return len(self._rescore.records) + len(self._rescore.parties) <= cap

    def _note_ends(self, rows: Sequence[Row]) -> None:
        """Keep both ends of relations created, changed or ended (`from_uid`, `from_legal`,
        `to_uid`: the head is a legal person): they are re-scored after the load."""
        parties = []
        for row in rows:
            tail = Label.LEGAL_PERSON if row["from_legal"] else Label.NATURAL_PERSON
            parties.append((tail, str(row["from_uid"])))
            parties.append((Label.LEGAL_PERSON, str(row["to_uid"])))
        self._note_parties(parties)

    def _note_folds(self, uids: Sequence[str], label: Label = Label.LEGAL_PERSON) -> None:
        """Keep the parties others were folded into: every party whose score a fold moved is
        within `max_depth` hops of the one it was folded into (loaders/fold.py), so re-scoring
        its reach covers the relations and records the fold moved."""
        self._note_parties([(label, uid) for uid in uids])

    def _note_parties(self, parties: Sequence[tuple[Label, str]]) -> None:
        """Keep parties whose reach is re-scored after the load, while within the cap."""
        if not parties or self._rescore.cap is None:
            return
        if not self._tracking():
            self._rescore.more_parties = True
            return
        self._rescore.parties.update(parties)

    def _refold_and_note(
        self, tx: Transaction, records: dict[str, Label], listed: dict[str, Listing]
    ) -> None:
        _refold_statuses(tx, records, listed)
        self._note_changed(records)

    def _end_unlisted(self) -> None:
        """A full extract: end what each snapshot source no longer lists, once all is written."""
        if self._extract.day is None:
            return
        for snapshot in self._snapshots.values():
            context = EndingContext(
                store=self._store,
                on=self._extract.day,
                run_id=self.run_id,
                batch_size=self._batch,
                lineage=self._batch_lineage(snapshot.source),
                dry_run=self._dry_run,
                force=self._extract.force_end,
                refold=self._refold_and_note,
                ended=self._note_ends,
                resumed=not self._rescore.resumed_files.isdisjoint(snapshot.digests),
                delisted=self._note_changed,
            )
            end_unlisted(snapshot, context)

    def load_file(self, item: PlannedFile) -> FileReport:
        report = FileReport(
            file=str(item.path),
            mapping=item.mapping.origin,
            source=item.mapping.source_name(item.path),
        )
        rejects = RejectsWriter(self._rejects_path(item.path), report)
        digest = self._digest(item)
        snapshot = self._snapshot(item, report, digest)
        committed = self._committed_chunks(digest)
        if self._counts.target is not item.mapping.target:
            self._counts = _TargetCounts(item.mapping.target)
        weak_exist = self._weak_parties_exist(item.mapping.target)
        self._ftm_file = _FtmFile()
        file = _FileLoad(item, report, rejects, digest, weak_exist, snapshot)
        started = time.perf_counter()
        try:
            self._stage_and_write(file, committed)
        finally:
            rejects.close()
            report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _stage_and_write(self, file: _FileLoad, committed: Mapping[str, CommittedChunk]) -> None:
        """Write the file's chunks in order while a reading thread stages the next ones."""
        handover = _Handover()
        reader = threading.Thread(
            target=self._stage_chunks,
            args=(file, handover),
            name=f"parse {file.item.path.name}",
            daemon=True,
        )
        reader.start()
        try:
            while (chunk := handover.take()) is not None:
                self._write(chunk, committed, file.report)
                self._on_rows(chunk.rows)
            self._learn_file_referents()
        finally:
            handover.stop()
            reader.join()

    def _stage_chunks(self, file: _FileLoad, handover: _Handover) -> None:
        """The reading thread: parse the file and hand over each chunk staged, then the end."""
        try:
            lines = self._parse(file.item, file.report)
            for index, chunk in enumerate(_chunks(lines, self._batch)):
                if not handover.put(self._stage_chunk(file, chunk, index)):
                    return
            handover.put(_DONE)
        except BaseException as exc:  # handed to the writing thread, which re-raises it
            handover.put(exc)

    def _learn_file_referents(self) -> None:
        """Once an FtM file is loaded, the referents its rows name are known for later files."""
        for referent, parties in sorted(self._ftm_file.claims.items()):
            for party in sorted(parties):
                self._referents.learn(party, [referent])

    def _rejects_path(self, source: Path) -> Path:
        """`<stem>.rejects.csv` in the rejects folder; `<stem>-2.rejects.csv` and on for
        another file of the same stem in this load (two folders' `legal_persons.csv`)."""
        name, number = f"{source.stem}.rejects.csv", 1
        if name not in self._rejects_names:
            self._remove_numbered_rejects(source.stem)
        while name in self._rejects_names:
            number += 1
            name = f"{source.stem}-{number}.rejects.csv"
        self._rejects_names.add(name)
        return self._rejects_dir / name

    def _remove_numbered_rejects(self, stem: str) -> None:
        """The first file of a stem in this load: remove the numbered rejects files of that stem
        an earlier run left (`<stem>-2.rejects.csv` and on, its second file of the stem), so
        that a rejects file in the folder is this run's. `RejectsWriter` removes the one of the
        name it writes; only names of credgraph's own pattern are touched, never this run's."""
        numbered = re.compile(rf"{re.escape(stem)}-(?:[2-9]|[1-9][0-9]+)\.rejects\.csv")
        try:
            found = [p for p in self._rejects_dir.iterdir() if numbered.fullmatch(p.name)]
        except OSError:  # no folder yet: nothing left by an earlier run
            return
        for path in found:
            if path.name not in self._rejects_names and path.is_file():
                path.unlink(missing_ok=True)

    def _snapshot(self, item: PlannedFile, report: FileReport, digest: str) -> Snapshot | None:
        """The snapshot this file belongs to in a full extract: one per kind and source."""
        target = item.mapping.target
        if self._extract.day is None or target not in SNAPSHOT_TARGETS:
            return None
        key = (target, report.source)
        snapshot = self._snapshots.setdefault(key, Snapshot(target, report.source))
        snapshot.reports.append(report)
        snapshot.digests.append(digest)
        return snapshot

    # --- planning helpers ---------------------------------------------------------------------

    def _digest(self, item: PlannedFile) -> str:
        digest = sha256_file(item.path)
        digest.update(repr((item.mapping, self._batch, LEDGER_VERSION)).encode())
        if self._extract.day is not None:
            # its chunks also mark what they list (`last_listed_on`): not those of a plain load
            digest.update(f"full extract of {self._extract.day.isoformat()}".encode())
        return digest.hexdigest()[:40]

    def _committed_chunks(self, digest: str) -> dict[str, CommittedChunk]:
        """The chunks of the file the ledger holds, with the re-score they still owe."""
        if self._store is None or self._dry_run:
            return {}
        if self._rescore.ledger_read:
            query = writes.COMMITTED_CHUNKS
        else:  # the first file: with the chunks of any file still owing a re-score
            query = writes.COMMITTED_AND_PENDING_CHUNKS
        rows = self._store.read(query, {"digest": digest}, operation="load")
        if not self._rescore.ledger_read:
            self._rescore.ledger_read = True
            owed = [row for row in rows if not row["mine"] and row["pending"]]
            self._rescore.owed_before = owed if self._rescore.cap is not None else []
            rows = [row for row in rows if row["mine"]]
        return {
            row["uid"]: CommittedChunk(
                bool(row["pending"]),
                tuple(row["folds"] or ()),
                tuple(row["person_folds"] or ()),
            )
            for row in rows
        }

    def _loaded_before(self, source: str) -> bool:
        """Whether an earlier load committed a chunk of `source` (read once per source and
        load): if none did, no stored relation is keyed with one of its ids."""
        if self._store is None:
            return False
        if source not in self._facts.sources_before:
            rows = self._store.read(
                writes.SOURCE_LOADED_BEFORE, {"source": source}, operation="load"
            )
            self._facts.sources_before[source] = bool(rows)
        return self._facts.sources_before[source]

    def _changes_stored(self) -> bool:
        """Whether the store may hold a status change (read until one is found; a change row of
        this load makes it so): until then no record has a stored repair or expiry."""
        if self._store is not None and not self._facts.any_changes:
            self._facts.any_changes = bool(
                self._store.read(writes.ANY_STATUS_CHANGE, operation="load")
            )
        return self._facts.any_changes

    def _weak_parties_exist(self, target: Target) -> bool:
        parties = (Target.LEGAL_PERSONS, Target.NATURAL_PERSONS, Target.FTM_ENTITIES)
        if self._store is None or target not in parties:
            return False
        return any(
            self._store.read(query, operation="load") for query in writes.ANY_WEAK_PARTY.values()
        )

    # --- parsing ------------------------------------------------------------------------------

    def _parse(self, item: PlannedFile, report: FileReport) -> Iterator[ParsedLine]:
        if item.mapping.target is Target.FTM_ENTITIES:
            report.encoding = "utf-8"
            yield from ftm.parse_entities(
                self._ctx,
                item.path,
                report.unmapped_entities,
                report.unmapped_properties,
                stored=self._stored_ends,
                batch=self._batch,
            )
            return
        parser = TABULAR_PARSERS[item.mapping.target]
        options = item.mapping.read
        source_format = options.format or detect_format(item.path)
        encoding = options.encoding
        if source_format in ("csv", "tsv"):
            # detected once here and passed on, so the file is not scanned a second time
            encoding = encoding or detect_encoding(item.path)
            report.encoding = encoding
        else:
            report.encoding = source_format
        checked_columns, renames = False, {}
        for row in read_rows(
            item.path,
            format=source_format,
            encoding=encoding,
            delimiter=options.delimiter,
            sheet=options.sheet,
            columns=_source_columns(item.mapping),
        ):
            if row.error is not None:
                yield row.line, RowError("(row)", row.error)
                continue
            if not checked_columns:
                renames = _column_renames(item.mapping, row.values)
                header = _renamed(row.values, renames)
                report.unused_columns = _unused_columns(item.mapping, header)
                if source_format != "jsonl":  # a JSON line leaves out what it does not know
                    report.missing_columns = _missing_columns(item.mapping, header)
                checked_columns = True
            values = _renamed(row.values, renames)
            try:
                yield row.line, parser(self._ctx, item.mapping.apply(values))
            except RowError as exc:
                yield row.line, item.mapping.named(exc, row.values)

    # --- staging ------------------------------------------------------------------------------

    def _stage_chunk(self, file: _FileLoad, chunk: list[ParsedLine], index: int) -> StagedChunk:
        """Check, resolve and count a chunk's rows, and stage the writes of those accepted."""
        target = file.item.mapping.target
        file.report.read += len(chunk)
        accepted = self._checked(file, chunk)
        ftm_folds: dict[Label, dict[str, str]] = {}
        if target is Target.FTM_ENTITIES:
            ftm_folds = self._referent_folds(accepted, file.weak_exist, file.report)
            accepted = [(line, self._referred(parsed)) for line, parsed in accepted]
        accepted = self._resolve(target, accepted, file.rejects)
        staged = StagedChunk(uid="", file_digest=file.digest, rows=len(chunk))
        moved = {old: new for pairs in ftm_folds.values() for old, new in pairs.items()}
        written = self._stage_rows(file, accepted, moved, staged)
        file.rejects.flush()  # the chunk's rejects of every pass, in line order
        staged.uid = _chunk_uid((file.digest, index), written)
        self._stage_folds(target, accepted, ftm_folds, staged)
        return staged

    def _checked(self, file: _FileLoad, chunk: list[ParsedLine]) -> list[tuple[int, Parsed]]:
        """The rows of the chunk that parsed and claim no legacy code another party holds; the
        others are rejected."""
        accepted: list[tuple[int, Parsed]] = []
        self._resolver.holders(_legacy_claim(parsed)[0] for _, parsed in chunk)
        where = file.item.path.name
        for line, parsed in chunk:
            if isinstance(parsed, NodeRow) and (clash := self._claim(parsed, where, line)):
                parsed = RowError(*clash)
            if isinstance(parsed, RowError):
                file.rejects.reject(line, parsed.field, parsed.reason)
            else:
                accepted.append((line, parsed))
                if isinstance(parsed, NodeRow):  # an FtM file links parties of its own chunk
                    self._resolver.add_party(parsed.label, parsed.uid)
        return accepted

    def _stage_rows(
        self,
        file: _FileLoad,
        accepted: list[tuple[int, Parsed]],
        moved: Mapping[str, str],
        staged: StagedChunk,
    ) -> list[int]:
        """Count the resolved rows and stage their writes, in `staged`; reject those that would
        reuse a relation's id or a legacy code, or start a record after its stored end. The
        lines written."""
        report, rejects, snapshot = file.report, file.rejects, file.snapshot
        target = file.item.mapping.target
        where = file.item.path.name
        weak_exist = file.weak_exist
        batches: dict[LiteralString, list[Row]] = defaultdict(list)
        source = file.item.mapping.source_name(file.item.path)
        stored = self._stored_relations(target, accepted, source, moved)
        endings = self._stored_endings(accepted)
        outdated = self._outdated(target, accepted, source)
        operators = self._resolver.existing(
            Label.NATURAL_PERSON,
            {p.principal for _, p in accepted if isinstance(p, NodeRow) and p.principal},
        )
        operated = self._resolver.operated(
            p.operator_key for _, p in accepted if isinstance(p, NodeRow) and p.operator_key
        )
        written: list[int] = []
        for line, parsed in accepted:
            listed_key = _listed_key(parsed, source)
            older = listed_key in outdated
            if isinstance(parsed, RelationRow):
                problem = self._claim(parsed, where, line) or self._count_relation(
                    parsed, source, (str(file.item.path), line), report, stored
                )
            # an older extract's record writes no dates: it cannot move the record's start
            elif isinstance(parsed, RecordRow) and not older:
                problem = self._start_problem(parsed, endings)
            else:
                problem = None
            if problem:
                rejects.reject(line, *problem)
                continue
            if not isinstance(parsed, RelationRow):
                self._count(parsed, report)
            if older:
                report.outdated += 1
            self._stage(parsed, source, line, batches, staged, weak_exist, older)
            written.append(line)
            if isinstance(parsed, NodeRow):  # an individual business's operator, if loaded
                if parsed.principal in operators:
                    key = parsed.props["operator_key"]
                    self._stage_operator(parsed.principal, parsed.uid, key, source, line, batches)
                for business in sorted(operated.get(parsed.operator_key or "", ())):
                    key = parsed.operator_key or ""
                    self._stage_operator(parsed.uid, business, key, source, line, batches)
            if snapshot is not None and self._dry_run:  # a load marks them in the store
                snapshot.listed.add(listed_key)
        staged.statements = _ordered(batches)
        return written

    def _stage_folds(
        self,
        target: Target,
        accepted: list[tuple[int, Parsed]],
        ftm_folds: Mapping[Label, dict[str, str]],
        staged: StagedChunk,
    ) -> None:
        """Stage the parties the chunk folds into others (loaders/fold.py)."""
        if target in _IDENTITY_TARGETS:
            staged.folds = self._registration_folds(accepted)
        staged.folds.update(ftm_folds.get(Label.LEGAL_PERSON, {}))
        staged.person_folds = ftm_folds.get(Label.NATURAL_PERSON, {})
        for label, pairs in ftm_folds.items():
            for uid in pairs:  # after staging, which adds the chunk's own parties
                self._resolver.forget_party(label, uid)

    def _referent_folds(
        self, accepted: list[tuple[int, Parsed]], weak_exist: bool, report: FileReport
    ) -> dict[Label, dict[str, str]]:
        """The FtM parties this chunk's party rows make one with another (loaders/referents.py):
        a party an earlier file loaded under a uid a row names as a referent goes into the
        row's party, and a row without a strong identifier that an earlier file's referent
        names goes into the party named. A referent another party claims already (stored, or
        an earlier row of the file) folds nothing: the row is loaded, the claim recorded, and
        the report notes the conflict. The store is asked for parties only when it held a weak
        one as the file began."""
        nodes = [(line, parsed) for line, parsed in accepted if isinstance(parsed, NodeRow)]
        self._ftm_file.parties.update(node.uid for _, node in nodes)
        weak = [node.uid for _, node in nodes if node.props.get("strong_id") is False]
        listing = [node.uid for _, node in nodes if node.referents]
        claimed = [uid for _, node in nodes for uid in node.referents]
        earlier = [party for uid in claimed for party in self._ftm_file.claims.get(uid, ())]
        final = self._referents.final(weak + listing + claimed + earlier)

        def party_of(uid: str) -> str:  # a uid claimed for several parties stays itself
            ends = final.get(uid, frozenset({uid}))
            return next(iter(ends)) if len(ends) == 1 else uid

        refolded = self._folded_before(
            [
                (node.label, node.uid, ends)
                for _, node in nodes
                if len(ends := final.get(node.uid, ())) > 1
            ]
        )
        folds: dict[Label, dict[str, str]] = defaultdict(dict)
        named: dict[Label, dict[str, str]] = defaultdict(dict)  # referent uid -> party
        for line, node in nodes:
            party = refolded.get(node.uid) or party_of(node.uid)
            if party != node.uid:
                folds[node.label][node.uid] = party
            for uid in sorted(set(node.referents) - {party}):
                claims = self._ftm_file.claims.setdefault(uid, set())
                others = {*final.get(uid, ()), *map(party_of, claims)} - {party, uid}
                claims.add(node.uid)
                if others:
                    _note_conflict(report, line, uid, others)
                elif uid not in self._ftm_file.parties:
                    named[node.label][uid] = party
        for label, parties in named.items():
            loaded = (
                self._resolver.existing(label, parties)
                if weak_exist
                else parties.keys() & self._resolver.known[label]
            )
            folds[label].update((uid, parties[uid]) for uid in loaded)
        return folds

    def _folded_before(self, rows: list[tuple[Label, str, Collection[str]]]) -> dict[str, str]:
        """Of the rows whose uid conflicting referent claims name several parties, those one of
        the parties took in already (the uid in its `former_uids`: folded by the first claim,
        when the row's file was loaded before both): the party, so that the file loaded again
        folds the row there again. One read per label with such rows; none without."""
        found: dict[str, str] = {}
        if not rows or self._store is None:
            return found
        for label in {label for label, _, _ in rows}:
            wanted = [(uid, ends) for row_label, uid, ends in rows if row_label is label]
            parties = sorted({party for _, ends in wanted for party in ends})
            answer = self._store.read(
                writes.PARTY_PROPERTIES[label], {"uids": parties}, operation="load.resolve"
            )
            former = {row["uid"]: set(row["props"].get("former_uids") or ()) for row in answer}
            for uid, ends in wanted:
                took = [party for party in sorted(ends) if uid in former.get(party, ())]
                if len(took) == 1:
                    found[uid] = took[0]
        return found

    def _referred(self, parsed: Parsed) -> Parsed:
        """A link or record of an FtM file, its ends moved to the parties referents name (every
        end is a party of the file, looked up with its row: no store read)."""
        answers = {
            ref: PartyRef(ref.label, party)
            for ref in _references(parsed)
            if (party := self._referents.known(ref.uid)) != ref.uid
        }
        return _with_references(parsed, answers) if answers else parsed

    def _resolve(
        self, target: Target, accepted: list[tuple[int, Parsed]], rejects: RejectsWriter
    ) -> list[tuple[int, Parsed]]:
        if target is Target.STATUS_CHANGES:
            return self._resolve_changes(accepted, rejects)
        fields = REFERENCE_FIELDS.get(target, ())
        refs = {ref for _, parsed in accepted for ref in _references(parsed)}
        refs = {ref for ref in refs if ref.label is not Label.LEGACY_CODE}
        if not refs:
            return accepted
        answers = self._resolver.resolve(refs)
        # only the references that resolve to something else (or fail) need a second look:
        # most name a party by its own key, and hashing every reference again is costly
        changed = {ref: answer for ref, answer in answers.items() if answer is not ref}
        if not changed:
            return accepted
        resolved = []
        for line, parsed in accepted:
            refs_of_row = _references(parsed)
            if not any(ref in changed for ref in refs_of_row):
                resolved.append((line, parsed))
                continue
            problem = next(
                (
                    (name, changed[ref])
                    for name, ref in zip(fields, refs_of_row, strict=False)
                    if isinstance(changed.get(ref), str)
                ),
                None,
            )
            if problem is not None:
                rejects.reject(line, problem[0], str(problem[1]))
            else:
                resolved.append((line, _with_references(parsed, changed)))
        return resolved

    def _registration_folds(self, accepted: list[tuple[int, Parsed]]) -> dict[str, str]:
        """`REG:` parties that a USCC took over, by this chunk's rows or earlier ones.

        Either side may come first: a `REG:` row whose number a USCC already carries, or a
        USCC row or legacy alias claiming the number of a `REG:` party already loaded.
        """
        unconverted: list[str] = []
        claims: dict[str, str] = {}  # registration number -> the USCC claiming it
        for _, parsed in accepted:
            if isinstance(parsed, NodeRow) and parsed.label is Label.LEGAL_PERSON:
                number = parsed.props.get("registration_number")
                if number and parsed.uid.startswith(REG_PREFIX):
                    unconverted.append(number)
                elif number:
                    claims[number] = parsed.uid
            elif (
                isinstance(parsed, RelationRow)
                and parsed.type is RelationType.ALIAS_OF
                and parsed.props.get("type") == LegacyCodeType.REGISTRATION_NUMBER
            ):
                claims[parsed.props["code"]] = parsed.target.uid
        owners = self._resolver.registration_owners(unconverted)
        folds = {REG_PREFIX + number: uid for number, uid in owners.items()}
        if claims:
            claimed = [REG_PREFIX + number for number in claims]
            for uid in self._resolver.existing(Label.LEGAL_PERSON, claimed):
                folds[uid] = claims[uid[len(REG_PREFIX) :]]
        for uid in folds:
            self._resolver.forget_party(Label.LEGAL_PERSON, uid)
        folds.update(self._operator_folds(accepted, folds))
        return folds

    def _operator_folds(
        self, accepted: list[tuple[int, Parsed]], folds: Mapping[str, str]
    ) -> dict[str, str]:
        """`OPR:` businesses (keyed by their operator's identity) that a USCC or `REG:` party
        giving the same operator took over, by this chunk's rows or earlier ones, whichever came
        first: each folds into the one such party (through `folds`, the chunk's `REG:` folds),
        and into none when the operator runs several (docs/formats.md)."""
        keys = set()
        for _, parsed in accepted:
            if isinstance(parsed, NodeRow) and parsed.label is Label.LEGAL_PERSON:
                if parsed.uid.startswith(OPERATOR_PREFIX):
                    keys.add(parsed.uid[len(OPERATOR_PREFIX) :])
                elif key := parsed.props.get("operator_key"):
                    keys.add(key)
        if not keys:
            return {}
        owners = self._resolver.operator_owners(keys)
        claimed = {OPERATOR_PREFIX + key: key for key, uids in owners.items() if uids}
        found: dict[str, str] = {}
        for uid in self._resolver.existing(Label.LEGAL_PERSON, claimed):
            parties = {folds.get(owner, owner) for owner in owners[claimed[uid]]}
            if len(parties) == 1:
                found[uid] = parties.pop()
        for uid in found:
            self._resolver.forget_party(Label.LEGAL_PERSON, uid)
        return found

    def _resolve_changes(
        self, accepted: list[tuple[int, Parsed]], rejects: RejectsWriter
    ) -> list[tuple[int, Parsed]]:
        found = self._resolver.resolve_records(
            parsed.record_uid for _, parsed in accepted if isinstance(parsed, ChangeRow)
        )
        kept: list[tuple[int, Parsed]] = []
        for line, parsed in accepted:
            if not isinstance(parsed, ChangeRow):
                kept.append((line, parsed))
            elif parsed.record_uid not in found:
                rejects.reject(
                    line,
                    "record_id",
                    "refers to a record that is neither in this load nor in the store",
                )
            elif (problem := self._change_problem(parsed, found[parsed.record_uid])) is not None:
                rejects.reject(line, *problem)
            else:
                kept.append((line, parsed))
        return kept

    def _change_problem(self, parsed: ChangeRow, label: Label) -> tuple[str, str] | None:
        """(field, reason) when a change cannot be what its row says: a repair of a record
        that is not negative (credit repair ends a sanction; a red list or a grade has none to
        end), or a repair or expiry before the record starts, which would end it before it ever
        counted (a typo in a year does that; a record that never held is revoked, not
        expired)."""
        change = StatusChangeKind(parsed.props["change"])
        if change is StatusChangeKind.REPAIRED and label is not Label.SANCTION_EVENT:
            kind = "a grade" if label is Label.CREDIT_GRADE else "a positive record"
            return "change", f"repaired: credit repair ends a negative record; this one is {kind}"
        starts_on = self._resolver.record_starts.get(parsed.record_uid)
        effective_on = parsed.props["effective_on"]
        if change in _ENDING_CHANGES and starts_on is not None and effective_on < starts_on:
            return "effective_on", (
                f"{effective_on.isoformat()} is before the record starts "
                f"({starts_on.isoformat()}): a record cannot be {change.value} before it counts"
            )
        return None

    def _outdated(
        self, target: Target, accepted: list[tuple[int, Parsed]], source: str
    ) -> set[str]:
        """What of this chunk a full extract would leave as it is (`_listed_key`): the
        parties, relations and records the store holds with values of a later day than the
        extract's (`described_on`), which its rows do not replace. One read per kind, and only
        for a full extract; none for relations of a source no load committed before."""
        if self._store is None or self._extract.listed_on is None:
            return set()
        uids: dict[LiteralString, list[str]] = defaultdict(list)
        keys: list[str] = []
        for _, parsed in accepted:
            if isinstance(parsed, NodeRow) and parsed.label in writes.OUTDATED_PARTIES:
                registry = parsed.authoritative
                reads = writes.OUTDATED_PARTIES if registry else writes.OUTDATED_ADDITIONS
                uids[reads[parsed.label]].append(parsed.uid)
            elif isinstance(parsed, RecordRow):
                uids[writes.OUTDATED_RECORDS[parsed.label]].append(parsed.uid)
            elif isinstance(parsed, RelationRow) and parsed.type is not RelationType.ALIAS_OF:
                keys.append(_listed_key(parsed, source))
        found: set[str] = set()
        listed_on = self._extract.listed_on
        for query, chunk_uids in uids.items():
            params = {"uids": chunk_uids, "listed_on": listed_on}
            found.update(row["uid"] for row in self._store.read(query, params, operation="load"))
        keyed = _KEYED_RELATIONS.get(target)
        if keys and keyed is not None and self._loaded_before(source):
            params = {"keys": keys, "listed_on": listed_on}
            query = writes.OUTDATED_RELATIONS[keyed]
            found.update(row["key"] for row in self._store.read(query, params, operation="load"))
        return found

    def _stored_endings(self, accepted: list[tuple[int, Parsed]]) -> dict[str, list[StoredEnding]]:
        """The repairs and expiries the store holds for this chunk's records (loaded before, or
        recorded through the API), by record uid: one read, once the store holds a change. A
        record's uid is its source system's, not the file's source: a records file of another
        name lists the same records, so `_loaded_before` cannot tell."""
        uids = [parsed.uid for _, parsed in accepted if isinstance(parsed, RecordRow)]
        if self._store is None or not uids or not self._changes_stored():
            return {}
        params = {"uids": uids, "changes": [change.value for change in _ENDING_CHANGES]}
        found: dict[str, list[StoredEnding]] = defaultdict(list)
        for row in self._store.read(writes.ENDINGS_OF_RECORDS, params, operation="load"):
            found[row["uid"]].append(
                StoredEnding(
                    row["change_uid"],
                    StatusChangeKind(row["change"]),
                    native(row["effective_on"]),
                    native_record(row["dates"] or {}),
                )
            )
        return found

    def _start_problem(
        self, parsed: RecordRow, endings: Mapping[str, list[StoredEnding]]
    ) -> tuple[str, str] | None:
        """(field, reason) when the row moves its record's start after a repair or expiry the
        store holds for it: the record would end before it ever counted. The date the row gives
        is the one at fault (the change was decided on the record as it stood); a row that
        leaves the start as stored is not refused."""
        stored = endings.get(parsed.uid)
        if not stored:
            return None
        given = {name: parsed.props[name] for name in RECORD_START_FIELDS if parsed.props.get(name)}
        field_name = record_start_field({**stored[0].dates, **given})
        if field_name not in given:
            return None
        starts_on = given[field_name]
        first = min(stored, key=lambda ending: (ending.effective_on, ending.change_uid))
        if first.effective_on >= starts_on:
            return None
        return field_name, (
            f"{starts_on.isoformat()} would start the record after it was {first.change.value} "
            f"on {first.effective_on.isoformat()} (stored change {first.change_uid}): a record "
            "cannot end before it counts; the stored record is kept"
        )

    def _claim(self, parsed: Parsed, where: str, line: int) -> tuple[str, str] | None:
        """(field, reason) when the row gives a legacy code (a registration number beside a
        USCC, a legacy identifier) to a legal person while another one holds it, in this load
        or in the store: a lookup by the code would no longer know which party it means. Else
        the row's claim is kept, for the rows after it."""
        key, holder, field_name = _legacy_claim(parsed)
        if key is None:
            return None
        held_by = self._resolver.holders([key]).get(key)
        if held_by is not None and held_by != holder:
            place = self._claims.get(key, "in the store")
            code_type, _, code = key.partition(":")
            return field_name, (
                f"{code_type} {code} is already held by {held_by} ({place}): "
                "a legacy code names one legal person"
            )
        self._resolver.add_alias(key, holder)
        self._claims.setdefault(key, f"{where} line {line}")
        return None

    def _stored_relations(
        self,
        target: Target,
        accepted: list[tuple[int, Parsed]],
        source: str,
        moved: Mapping[str, str],
    ) -> dict[int, tuple[set[int], str]]:
        """The relations the store keys with the ids of this chunk's relation rows new to this
        load (`_count_relation`), whatever their ends: relation key -> the ends of each, and one
        described. One read by key, for a source an earlier load committed. An end this chunk
        folds into another party (`moved`: old uid -> new) counts as that party, as the
        relation will once the fold moves it."""
        query = _KEYED_RELATIONS.get(target)
        if self._store is None or query is None or not self._loaded_before(source):
            return {}
        keys: dict[str, int] = {}
        counted = self._counts.relation_ends
        for _, parsed in accepted:
            if isinstance(parsed, RelationRow):
                key = _relation_key(source, parsed.source_record)
                if key not in counted:
                    keys[f"{source}:{parsed.source_record}"] = key
        if not keys:
            return {}
        found: dict[int, tuple[set[int], str]] = {}
        for hit in self._store.read(query, {"keys": list(keys)}, operation="load"):
            from_uid = moved.get(hit["from_uid"], hit["from_uid"])
            ends = _ends(hit["type"], from_uid, moved.get(hit["to_uid"], hit["to_uid"]))
            shown = f"{hit['type']} {hit['from_shown']} -> {hit['to_uid']} ({hit['source_row']})"
            entry = found.setdefault(keys[hit["key"]], (set(), shown))
            entry[0].add(ends)
        return found

    def _count_relation(
        self,
        parsed: RelationRow,
        source: str,
        place: tuple[str, int],
        report: FileReport,
        stored: Mapping[int, tuple[set[int], str]],
    ) -> tuple[str, str] | None:
        """Count a relation row (at `place`: its file's name and its line) as loaded or merged
        by its key (its source and its id there, as the graph keys it); (field, reason) when it
        reuses the id of another relation of this load (named by its file and line), or of one
        the store holds (`stored`), with other ends or of another type, which is rejected: an id
        names one relation. O(1)."""
        key = _relation_key(source, parsed.source_record)
        ends = _ends(parsed.type.value, parsed.source.uid, parsed.target.uid)
        counted = self._counts.relation_ends
        first = counted.get(key)
        if first is None:
            before = stored.get(key)
            if before is not None and ends not in before[0]:
                return "source_record", (
                    f"already names another relation, loaded before: {before[1]}; ids are "
                    "unique: give the corrected relation a new id (a full extract ends the "
                    "old one)"
                )
            index = self._counts.file_index(place[0])
            counted[key] = (ends << 64) | (index << 32) | (place[1] & _LOW_32)
            report.loaded += 1
            return None
        if first >> 64 == ends:
            report.merged += 1
            return None
        at = f"{self._counts.files[(first >> 32) & _LOW_32]} line {first & _LOW_32}"
        if parsed.type is RelationType.ALIAS_OF:
            return "legacy_code", f"is already the alias of another legal person ({at})"
        return "source_record", f"already names another relation ({at}): ids are unique"

    def _count(self, parsed: NodeRow | RecordRow | ChangeRow, report: FileReport) -> None:
        key = hash(_dedup_key(parsed))
        seen = self._counts.seen
        if key in seen:
            report.merged += 1
        else:
            seen.add(key)
            report.loaded += 1

    def _lineage(self, source: str, line: int) -> Row:
        """What differs row by row; the rest of the lineage goes once per batch (`_batch`)."""
        return {"source_row": f"{source}:{line}"}

    def _batch_lineage(self, source: str) -> Row:
        return {"source": source, "run_id": self.run_id, "loaded_at": self._loaded_at}

    def _stage(
        self,
        parsed: Parsed,
        source: str,
        line: int,
        batches: dict[LiteralString, list[Row]],
        staged: StagedChunk,
        weak_exist: bool,
        outdated: bool = False,
    ) -> None:
        lineage = self._lineage(source, line)
        if isinstance(parsed, NodeRow):
            self._stage_party(parsed, lineage, batches, staged, weak_exist)
        elif isinstance(parsed, RelationRow):
            self._stage_relation(parsed, source, lineage, batches)
        elif isinstance(parsed, RecordRow):
            self._stage_record(parsed, lineage, batches, staged, outdated)
        else:
            self._stage_change(parsed, lineage, batches, staged)

    def _stage_party(
        self,
        parsed: NodeRow,
        lineage: Row,
        batches: dict[LiteralString, list[Row]],
        staged: StagedChunk,
        weak_exist: bool,
    ) -> None:
        self._resolver.add_party(parsed.label, parsed.uid)
        props = _present({**parsed.props, **lineage})
        if operator := props.get("operator_key"):
            self._resolver.add_operator(operator, parsed.uid)
        if parsed.label is Label.LEGAL_PERSON and props.get("uscc"):
            for code_type in (LegacyCodeType.ORG_CODE, LegacyCodeType.REGISTRATION_NUMBER):
                if code := props.get(code_type.value):
                    self._resolver.add_alias(legacy_uid(code_type, code), parsed.uid)
        for referent in parsed.referents:
            claim = {"referent_uid": referent, "party_uid": parsed.uid, **lineage}
            uid = ftm_referent_uid(referent, parsed.uid)
            batches[writes.MERGE_FTM_REFERENTS].append({"uid": uid, "props": claim})
        if parsed.ftm_id is not None:
            # a later file of the run finds the party by it, written or not (a dry run)
            self._resolver.add_ftm_id(parsed.label, parsed.uid, parsed.ftm_id)
            uid = ftm_id_uid(parsed.label, parsed.uid, parsed.ftm_id)
            props_of_id = {"ftm_id": parsed.ftm_id, "party_uid": parsed.uid, **lineage}
            batches[writes.MERGE_FTM_IDS].append({"uid": uid, "props": props_of_id})
        kept: Row | None = None  # what a secondary source writes on a party there already
        if parsed.authoritative:
            batches[writes.PARTY_WRITES[parsed.label]].append({"uid": parsed.uid, "props": props})
        else:
            # a secondary source that finds the party adds to it, but leaves its lineage (the
            # source that created it, or the registry's), so the lineage does not depend on the
            # order of the loads
            kept = {k: v for k, v in props.items() if k not in REGISTRY_OWNED | LINEAGE_PROPERTIES}
            batches[writes.SECONDARY_PARTY_WRITES[parsed.label]].append(
                {"uid": parsed.uid, "props": props, "update": kept}
            )
        # a dry run: what the write leaves, for a later file's masked identifiers to match
        self._resolver.add_written(parsed.label, parsed.uid, props, kept)
        # a legal person's rename, and the other names any party row gives (persons are not
        # renamed: only their FtM aliases are kept)
        if parsed.label is Label.LEGAL_PERSON or parsed.other_names:
            named = staged_names(
                parsed.label, parsed.uid, props, parsed.authoritative, parsed.other_names
            )
            if named is not None:
                staged.names.append(named)
        strong = props.get("strong_id", True)
        if (weak_exist or not strong) and props.get("name_key"):
            staged.weak_check.setdefault(parsed.label, []).append(
                {"uid": parsed.uid, "name_key": props["name_key"], "strong_id": strong}
            )

    def _stage_operator(
        self,
        person: str,
        business: str,
        operator_key: str,
        source: str,
        line: int,
        batches: dict[LiteralString, list[Row]],
    ) -> None:
        """An individual business's operator as its principal, written by the business's row
        or the person's, whichever comes second: a PRINCIPAL_OF link keyed by the operator's
        token (`operator:<operator_key>`), so that the links the two rows write are one, and so
        are those of the business under its `OPR:` key and its USCC once the first folds in."""
        record = f"operator:{operator_key}"
        props = {
            "role": Role.PRINCIPAL.value,
            "source_record": record,
            **self._lineage(source, line),
        }
        row = {"from_uid": person, "to_uid": business, "key": record, "props": props}
        batches[writes.relation_write(RelationType.PRINCIPAL_OF, Label.NATURAL_PERSON)].append(row)

    def _stage_relation(
        self,
        parsed: RelationRow,
        source: str,
        lineage: Row,
        batches: dict[LiteralString, list[Row]],
    ) -> None:
        key = f"{source}:{parsed.source_record}"
        props = _present({**parsed.props, **lineage, "source_record": parsed.source_record})
        row = {"from_uid": parsed.source.uid, "to_uid": parsed.target.uid, "key": key}
        if parsed.type is RelationType.ALIAS_OF:
            self._resolver.add_alias(parsed.source.uid, parsed.target.uid)
            link = _present({**lineage, "source_record": parsed.source_record})
            batches[writes.MERGE_LEGACY_CODES].append({**row, "props": props, "link": link})
            return
        batches[writes.relation_write(parsed.type, parsed.source.label)].append(
            {**row, "props": props}
        )

    def _stage_record(
        self,
        parsed: RecordRow,
        lineage: Row,
        batches: dict[LiteralString, list[Row]],
        staged: StagedChunk,
        outdated: bool = False,
    ) -> None:
        self._resolver.add_record(parsed.uid, parsed.label, record_start(parsed.props))
        props = _present({**parsed.props, **lineage, "source_record": parsed.source_record})
        link = _present(
            {**lineage, "valid_from": props.get("valid_from"), "valid_to": props.get("valid_to")}
        )
        # the listed status and the day it began come together from the row that lists the
        # record: a listing without a day clears the one an earlier listing stored (a null in
        # `SET r += row.props` removes the property), or a record listed active again would keep
        # the day its old repair began (docs/formats.md, "Credit records listed again")
        props.update({name: None for name in _LISTING_DAYS if name not in props})
        row = {"uid": parsed.uid, "subject_uid": parsed.subject.uid, "props": props, "link": link}
        batches[writes.RECORD_WRITES[(parsed.subject.label, parsed.label)]].append(row)
        staged.refold[parsed.uid] = parsed.label
        if not outdated:  # else the status its source listed is the stored one (a later day's)
            since = parsed.props.get("listed_status_since")  # a date, not the driver's
            staged.listed[parsed.uid] = (RecordStatus(props["listed_status"]), since)
        if parsed.authority is not None:
            authority = parsed.authority
            if authority.uid not in self._resolver.known[Label.AUTHORITY]:
                self._resolver.add_party(Label.AUTHORITY, authority.uid)
                batches[writes.MERGE_AUTHORITIES].append(
                    {"uid": authority.uid, "props": _present({**authority.props, **lineage})}
                )
            batches[writes.RECORD_ISSUER_LINKS[parsed.label]].append(
                {"uid": parsed.uid, "authority_uid": authority.uid, "link": link}
            )

    def _stage_change(
        self,
        parsed: ChangeRow,
        lineage: Row,
        batches: dict[LiteralString, list[Row]],
        staged: StagedChunk,
    ) -> None:
        label = self._resolver.records[parsed.record_uid]
        self._facts.any_changes = True
        props = _present({**parsed.props, **lineage})
        batches[writes.STATUS_CHANGE_WRITES[label]].append(
            {"uid": parsed.uid, "record_uid": parsed.record_uid, "props": props, "link": lineage}
        )
        staged.refold[parsed.record_uid] = label

    # --- writing ------------------------------------------------------------------------------

    def _write(
        self, chunk: StagedChunk, committed: Mapping[str, CommittedChunk], report: FileReport
    ) -> None:
        if self._store is None or self._dry_run:
            # the folds the load would do: each staged one has its old party, in this run or
            # in the store (one this run folded already is gone for it: `Resolver.forget_party`)
            report.folded += len(chunk.folds) + len(chunk.person_folds)
            return
        # a chunk committed by an earlier run counts too: that run may have stopped before
        # re-scoring what it wrote
        self._note_changed(chunk.refold)
        if chunk.uid in committed:
            report.skipped_chunks += 1
            if committed[chunk.uid].pending:
                self._resume(chunk, committed[chunk.uid])
            return
        tracked, owed = self._tracked_writes(chunk)
        ledger = self._ledger_entry(chunk, report, owed)
        # what the chunk changes is known to the entry unless its relation writes say nothing
        known = bool(tracked) or not any(
            q in self._extract.change_reporting for q, _ in chunk.statements
        )
        lineage = self._batch_lineage(report.source)
        self._ensure_head(self._store)
        changed_ends: list[Row] = []

        def work(tx: Transaction) -> tuple[list[str], list[str]]:
            changed_ends.clear()  # a transaction run again starts over
            listed_on = self._extract.listed_on
            names = stored_names(tx, chunk.names, listed_on) if chunk.names else {}
            self._run_writes(tx, chunk, lineage, tracked, changed_ends)
            add_other_names(tx, chunk.names, names, lineage)
            folded = fold_parties(tx, chunk.folds)
            persons = fold_parties(tx, chunk.person_folds, Label.NATURAL_PERSON)
            props = self._ledger_props(ledger, folded, persons)
            if props.get("rescore_pending"):
                props = _owed_props(props, changed_ends, chunk.refold, known)
            tx.run(writes.MARK_CHUNK_COMMITTED, {"uid": chunk.uid, "props": props})
            if _writes_data(chunk):  # the ledger's head, in the same transaction
                count_chunk(tx, ledger["committed_at"])
            return folded, persons

        folded, persons = self._store.transaction(work, operation="load")
        report.folded += len(folded) + len(persons)
        self._note_ends(changed_ends)
        self._note_folds(folded)
        self._note_folds(persons, Label.NATURAL_PERSON)
        if owed or ((folded or persons) and self._rescore.cap is not None):
            self._rescore.pending_chunks.append(chunk.uid)

    def _tracked_writes(
        self, chunk: StagedChunk
    ) -> tuple[Mapping[LiteralString, LiteralString], bool]:
        """The relation writes to run in their variants that say what they changed (by the
        plain write), and whether the chunk owes a re-score after the load."""
        # relation writes that return the rows that created or changed a relation, while the
        # re-score after the load takes them in; else the plain ones (what they change is then
        # not known)
        reporting = self._extract.change_reporting
        tracked = reporting if self._tracking() else {}
        relations = any(query in reporting for query, _ in chunk.statements)
        if self._rescore.cap is None:
            return tracked, False
        if not tracked:
            self._rescore.more_parties |= relations
        # owed until the re-score after the load has run (`mark_rescored`): a run of the
        # same file after a kill re-scores the ends of its relations (`_resume`)
        return tracked, relations or bool(chunk.refold)

    def _ledger_entry(self, chunk: StagedChunk, report: FileReport, owed: bool) -> Row:
        """The chunk's entry in the run ledger (`LoadChunk`), committed with its writes."""
        entry: Row = {
            "file_digest": chunk.file_digest,
            "file": report.file,
            "source": report.source,
            "rows": chunk.rows,
            "run_id": self.run_id,
            "committed_at": datetime.now(UTC),
        }
        if not _writes_data(chunk):
            entry["wrote_nothing"] = True
        if owed:
            entry["rescore_pending"] = True
        return entry

    def _ensure_head(self, store: GraphStore) -> None:
        """The ledger's head exists (queries/ledger.py): made once a load, before a commit."""
        if not self._facts.head_checked:
            ensure_data_head(store)
            self._facts.head_checked = True

    def _run_writes(
        self,
        tx: Transaction,
        chunk: StagedChunk,
        lineage: Row,
        tracked: Mapping[LiteralString, LiteralString],
        changed_ends: list[Row],
    ) -> None:
        """Run the chunk's staged writes, then link same-name parties and refold the statuses
        of its records; the rows the `tracked` writes return go to `changed_ends`."""
        listed_on = self._extract.listed_on
        for query, rows in chunk.statements:
            params = {"rows": rows, "lineage": lineage, "listed_on": listed_on}
            if query in tracked:
                changed_ends.extend(tx.run(tracked[query], params))
            else:
                tx.run(self._extract.dated.get(query, query), params)
        _link_same_names(tx, chunk.weak_check, lineage)
        _refold_statuses(tx, chunk.refold, chunk.listed)

    def _ledger_props(self, ledger: Row, folded: list[str], persons: list[str]) -> Row:
        """The ledger entry as committed: naming the parties the chunk folded into, while the
        re-score after the load is kept."""
        if not (folded or persons) or self._rescore.cap is None:
            return ledger
        # owed too: the reach of the parties folded into, where the relations and
        # records moved; a run of the same file after a kill finds no party left to
        # fold, so the entry names them (`_resume`)
        return {
            **ledger,
            "rescore_pending": True,
            "rescore_folds": sorted(set(folded)),
            "rescore_person_folds": sorted(set(persons)),
        }

    def _resume(self, chunk: StagedChunk, entry: CommittedChunk) -> None:
        """A chunk (of relations or records, or one that folded parties) an earlier run
        committed and then stopped (killed) before its re-score: which of its rows created or
        changed a relation is no longer known (the write this run skips would have said), so the
        ends of every relation it writes go to the re-score; one that changed nothing re-scores
        to the score it holds. The parties it folded into (from its ledger `entry`) go
        too. Its records are taken in as those of every committed chunk are (`_write`). No
        store read."""
        if self._rescore.cap is None:
            return
        self._note_folds(entry.folds)
        self._note_folds(entry.person_folds, Label.NATURAL_PERSON)
        self._note_ends(
            [
                {"from_uid": row["from_uid"], "from_legal": legal, "to_uid": row["to_uid"]}
                for query, rows in chunk.statements
                if (legal := _FROM_LEGAL.get(query)) is not None
                for row in rows
            ]
        )
        self._rescore.pending_chunks.append(chunk.uid)
        self._rescore.resumed_chunks += 1
        self._rescore.resumed_files.add(chunk.file_digest)


def _owed_props(
    ledger: Row, changed_ends: Sequence[Row], refold: Mapping[str, Label], known: bool
) -> Row:
    """A chunk's ledger entry owing a re-score names what it changed, so that any later load
    re-scores it, whatever its file (`Loader._take_in_pending`): the ends of the relations it
    created, changed or ended (legal persons, `rescore_parties`; natural persons,
    `rescore_persons`) and its negative records (`rescore_records`). `rescore_tracked` says the
    lists are whole (not when its relation writes said nothing, past the cap)."""
    legal: set[str] = set()
    persons: set[str] = set()
    for row in changed_ends:
        (legal if row["from_legal"] else persons).add(str(row["from_uid"]))
        legal.add(str(row["to_uid"]))
    records = sorted(uid for uid, label in refold.items() if label is Label.SANCTION_EVENT)
    return {
        **ledger,
        "rescore_tracked": known,
        "rescore_parties": sorted(legal),
        "rescore_persons": sorted(persons),
        "rescore_records": records,
    }


def mark_rescored(store: GraphStore, chunks: Sequence[str]) -> None:
    """Once the re-score after a load has run: the chunks whose re-score it owed (its own, and
    an earlier run's it took in, `LoadReport.pending_chunks`) are no longer pending."""
    if chunks:
        store.write(writes.MARK_CHUNKS_RESCORED, {"uids": list(chunks)}, operation="load")


def _source_columns(mapping: SourceMapping) -> frozenset[str]:
    """The column names a mapping reads: how a spreadsheet's header is told from a title."""
    named = {column for rule in mapping.fields for column in rule.columns}
    if mapping.passthrough:
        named |= CANONICAL_FIELDS.get(mapping.target, frozenset())
    return frozenset(named)


def _column_renames(mapping: SourceMapping, values: Mapping[str, str]) -> dict[str, str]:
    """Columns named otherwise than the mapping reads them, but the same to a person (`USCC`
    for `uscc` as database exports write it, `注册资本(万元)` for `注册资本（万元）`) -> the name
    the mapping reads."""
    wanted = {column_key(column): column for column in _source_columns(mapping)}
    renames = {}
    for name in values:
        column = wanted.get(column_key(name))
        if column is not None and column != name and column not in values:
            renames[name] = column
    return renames


def _renamed(values: dict[str, str], renames: Mapping[str, str]) -> dict[str, str]:
    return {renames.get(k, k): v for k, v in values.items()} if renames else values


def _missing_columns(mapping: SourceMapping, header: Mapping[str, str]) -> list[str]:
    """The columns a mapping reads for a field that the file's header has none of (and no
    default fills): the field would stay empty on every row without a word."""
    return [
        f"{' / '.join(rule.columns)} ({rule.field})"
        for rule in mapping.fields
        if rule.columns
        and rule.value is None
        and rule.default is None
        and not any(column in header for column in rule.columns)
    ]


def _unused_columns(mapping: SourceMapping, values: Mapping[str, str]) -> list[str]:
    """The columns a canonical file (a mapping that passes columns through) has that are no
    field of its target: a misspelt name, whose values would otherwise vanish unseen."""
    known = CANONICAL_FIELDS.get(mapping.target)
    if not mapping.passthrough or known is None:
        return []
    mapped = {rule.field for rule in mapping.fields}
    return sorted(name for name in values if name not in known and name not in mapped)


# --- in-transaction steps ----------------------------------------------------------------------


def _link_same_names(tx: Transaction, parties: dict[Label, list[Row]], lineage: Row) -> None:
    """POSSIBLY_SAME_AS between same-name parties where one side lacks a strong identifier."""
    for label, rows in parties.items():
        pairs = tx.run(writes.SAME_NAME_PARTIES[label], {"rows": rows})
        links = []
        for pair in pairs:
            a, b = sorted((pair["uid"], pair["other"]))
            links.append(
                {
                    "from_uid": a,
                    "to_uid": b,
                    "key": f"same-name:{a}:{b}",
                    "props": {
                        "score": SAME_NAME_SCORE,
                        "evidence": "same normalised name; no shared strong identifier",
                    },
                }
            )
        if links:
            tx.run(writes.POSSIBLY_SAME_AS_WRITES[label], {"rows": links, "lineage": lineage})


def _refold_statuses(
    tx: Transaction, records: dict[str, Label], listed: dict[str, Listing]
) -> None:
    """Recompute the status of records that have dated changes (graph/lifecycle.py)."""
    if not records:
        return
    changes: dict[str, list[StatusEvent]] = defaultdict(list)
    for row in tx.run(writes.STATUS_CHANGES_OF_RECORDS, {"uids": list(records)}):
        changes[row["uid"]].append(
            StatusEvent(
                row["change_uid"], StatusChangeKind(row["change"]), row["effective_on"].to_native()
            )
        )
    if not changes:
        return
    unknown = [uid for uid in changes if uid not in listed]
    by_label: dict[Label, list[str]] = defaultdict(list)
    for uid in unknown:
        by_label[records[uid]].append(uid)
    for label, uids in by_label.items():
        for row in tx.run(writes.LISTED_STATUSES[label], {"uids": uids}):
            status = RecordStatus(row["listed_status"] or RecordStatus.ACTIVE.value)
            began = row["listed_since"]
            listed[row["uid"]] = (status, None if began is None else began.to_native())
    updates: dict[Label, list[Row]] = defaultdict(list)
    for uid, events in changes.items():
        listed_status, listed_since = listed[uid]
        status, since = current_status(listed_status, events, listed_since=listed_since)
        updates[records[uid]].append({"uid": uid, "status": status.value, "since": since})
    for label, rows in updates.items():
        tx.run(writes.SET_STATUSES[label], {"rows": rows})


# --- small helpers -----------------------------------------------------------------------------

_STATEMENT_ORDER: tuple[LiteralString, ...] = (
    *writes.PARTY_WRITES.values(),
    *writes.SECONDARY_PARTY_WRITES.values(),
    writes.MERGE_LEGACY_CODES,
)


def _writes_data(chunk: StagedChunk) -> bool:
    """Whether the chunk changes the graph beyond its ledger entry. One whose rows were all
    rejected writes nothing, and the data version (queries/ledger.py) does not move for it: a
    snapshot id, and the reports kept under it, stay valid."""
    return bool(chunk.statements or chunk.names or chunk.folds or chunk.person_folds)


def _ordered(batches: dict[LiteralString, list[Row]]) -> list[tuple[LiteralString, list[Row]]]:
    """Nodes (and authorities) before the links that need them."""
    first = [(q, batches[q]) for q in _STATEMENT_ORDER if q in batches]
    issuers = set(writes.RECORD_ISSUER_LINKS.values())
    middle = [(q, r) for q, r in batches.items() if q not in _STATEMENT_ORDER and q not in issuers]
    last = [(q, r) for q, r in batches.items() if q in issuers]
    return first + middle + last


# what a row listing a record says of its status besides the status: written even when empty
_LISTING_DAYS = ("status_since", "listed_status_since")


def _present(props: Row) -> Row:
    """Drop empty values: a source that does not know a field must not erase it. Dates (not
    datetimes) go as the driver sends them, made here in the parsing thread (`bolt_date`)."""
    return {
        key: bolt_date(value) if type(value) is date else value
        for key, value in props.items()
        if value is not None
    }


def _chunk_uid(place: tuple[str, int], written: list[int]) -> str:
    """A chunk's key in the run ledger: its file's digest, its index, and which of its lines it
    writes. A row rejected for a party or record the store did not hold yet is written by a
    later run of the same file, once that party is loaded: the chunk is then another one, not
    skipped as committed. A re-run after a crash accepts the same rows, and skips the chunk."""
    lines = hashlib.blake2b(array("q", written).tobytes(), digest_size=8).hexdigest()
    return f"{place[0]}:{place[1]}:{lines}"


def _relation_key(source: str, source_record: str) -> int:
    """A relation's key (its source and its id there, as the graph keys it), hashed."""
    return hash((source, source_record))


def _ends(relation_type: str, from_uid: str, to_uid: str) -> int:
    """What a relation key names, hashed to 32 bits (`Loader._count_relation`)."""
    return hash((relation_type, from_uid, to_uid)) & _LOW_32


_NOTED_CONFLICTS = 100  # the report lists the first ones; it counts them all


def _note_conflict(report: FileReport, line: int, referent: str, others: set[str]) -> None:
    """A row lists as a referent a uid another party claims already (loaders/referents.py)."""
    report.referent_conflicts += 1
    if len(report.referent_conflict_lines) < _NOTED_CONFLICTS:
        report.referent_conflict_lines.append(
            f"line {line}: referents: referent {referent} is also claimed by "
            f"{', '.join(sorted(others))}; links naming it are refused"
        )


def _legacy_claim(parsed: Parsed | RowError) -> tuple[str | None, str, str]:
    """The legacy code a row gives a legal person (`<type>:<code>`), that legal person and the
    field that gives it; (None, …) for a row that gives none. An organisation code is the one
    inside its USCC (checked when the row is parsed): it needs no holder of its own."""
    if isinstance(parsed, NodeRow) and parsed.label is Label.LEGAL_PERSON:
        number = parsed.props.get("registration_number")
        if number and parsed.props.get("uscc"):
            code = legacy_uid(LegacyCodeType.REGISTRATION_NUMBER, number)
            return code, parsed.uid, "registration_number"
    elif (
        isinstance(parsed, RelationRow)
        and parsed.type is RelationType.ALIAS_OF
        and parsed.props.get("type") != LegacyCodeType.ORG_CODE
    ):
        return parsed.source.uid, parsed.target.uid, "legacy_code"
    return None, "", ""


def _chunks(lines: Iterator[ParsedLine], size: int) -> Iterator[list[ParsedLine]]:
    while chunk := list(islice(lines, size)):
        yield chunk


def _references(parsed: Parsed) -> tuple[PartyRef, ...]:
    if isinstance(parsed, RelationRow):
        return (parsed.source, parsed.target)
    if isinstance(parsed, RecordRow):
        return (parsed.subject,)
    return ()


def _with_references(parsed: Parsed, answers: dict[PartyRef, Any]) -> Parsed:
    if isinstance(parsed, RelationRow):
        return replace(
            parsed,
            source=answers.get(parsed.source, parsed.source),
            target=answers.get(parsed.target, parsed.target),
        )
    if isinstance(parsed, RecordRow):
        return replace(parsed, subject=answers.get(parsed.subject, parsed.subject))
    return parsed


def _listed_key(parsed: Parsed, source: str) -> str:
    """How a full extract names what a row lists: a relation's key, a record's uid."""
    if isinstance(parsed, RelationRow):
        return f"{source}:{parsed.source_record}"
    return parsed.uid


def _dedup_key(parsed: NodeRow | RecordRow | ChangeRow) -> tuple[str, str]:
    """What makes two rows one node (relations: `Loader._count_relation`)."""
    if isinstance(parsed, ChangeRow):
        return ("change", parsed.uid)
    return (parsed.label.value, parsed.uid)


def load_paths(
    store: GraphStore | None,
    context: ParseContext,
    paths: Sequence[Path],
    *,
    batch_size: int,
    rejects_dir: Path,
    mappings: Sequence[SourceMapping] = (),
    full_extract: date | None = None,
    force_end: bool = False,
    rescore_cap: int | None = None,
) -> LoadReport:
    """Plan and load files or folders in one call (the CLI's `load`, without the progress bar)."""
    from credgraph.loaders.mapping import builtin_mappings

    planned = plan_load(paths, mappings, builtin_mappings())
    loader = Loader(
        store,
        context,
        batch_size=batch_size,
        rejects_dir=rejects_dir,
        full_extract=full_extract,
        force_end=force_end,
        rescore_cap=rescore_cap,
    )
    return loader.load(planned)
