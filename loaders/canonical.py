"""Load a folder of canonical registry files (docs/formats.md) into the graph.

Files load in dependency order: parties first, then the relations and records that refer to
them. Each file streams in chunks: rows are parsed and checked, references resolved against the
parties of this run and then the store, and the accepted rows written in batched, idempotent
transactions. A rejected row never stops the file; every accepted row lands.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, LiteralString

from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.loaders.report import FileReport, LoadReport, RejectsWriter
from credgraph.loaders.rows import (
    NodeRow,
    ParseContext,
    PartyRef,
    RecordRow,
    RelationRow,
    RowError,
    parse_firm_relation,
    parse_legal_person,
    parse_natural_person,
    parse_record,
    parse_role,
    parse_shareholding,
)
from credgraph.loaders.sources import SourceRow, detect_encoding, read_csv_rows
from credgraph.queries import writes

Parsed = NodeRow | RelationRow | RecordRow
Parser = Callable[[ParseContext, dict[str, str]], Parsed]


@dataclass(frozen=True)
class CanonicalFile:
    name: str
    parse: Parser
    reference_fields: tuple[str, ...] = ()  # the columns naming the rows' source and target


CANONICAL_FILES: tuple[CanonicalFile, ...] = (
    CanonicalFile("legal_persons.csv", parse_legal_person),
    CanonicalFile("natural_persons.csv", parse_natural_person),
    CanonicalFile("roles.csv", parse_role, ("person_id_number", "company_id")),
    CanonicalFile("shareholdings.csv", parse_shareholding, ("holder_id", "company_id")),
    CanonicalFile("firm_relations.csv", parse_firm_relation, ("from_id", "to_id")),
    CanonicalFile("records.csv", parse_record, ("subject_id",)),
    CanonicalFile("court_debtors.csv", parse_record, ("subject_id",)),
)

_EXISTING: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: writes.EXISTING_LEGAL_PERSONS,
    Label.NATURAL_PERSON: writes.EXISTING_NATURAL_PERSONS,
}
_NODE_WRITES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: writes.MERGE_LEGAL_PERSONS,
    Label.NATURAL_PERSON: writes.MERGE_NATURAL_PERSONS,
    Label.AUTHORITY: writes.MERGE_AUTHORITIES,
}


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class CanonicalLoader:
    """Loads canonical files into one store (or only checks them, with `store=None`)."""

    def __init__(
        self,
        store: GraphStore | None,
        context: ParseContext,
        *,
        batch_size: int,
        rejects_dir: Path,
        run_id: str | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._ctx = context
        self._batch = batch_size
        self._rejects_dir = rejects_dir
        self.run_id = run_id or new_run_id()
        self._loaded_at = datetime.now(UTC)
        self._known: dict[Label, set[str]] = defaultdict(set)
        self._seen: set[tuple[str, str]] = set()
        self._on_rows = on_rows or (lambda n: None)

    def load_directory(self, directory: Path) -> LoadReport:
        """Load every canonical file present in `directory`, in dependency order."""
        present = [spec for spec in CANONICAL_FILES if (directory / spec.name).is_file()]
        if not present:
            names = ", ".join(spec.name for spec in CANONICAL_FILES)
            raise FileNotFoundError(f"{directory}: none of the canonical files ({names})")
        report = LoadReport(self.run_id, dry_run=self._store is None)
        for spec in present:
            report.files.append(self.load_file(directory / spec.name, spec))
        return report

    def load_file(self, path: Path, spec: CanonicalFile) -> FileReport:
        encoding = detect_encoding(path)
        report = FileReport(file=str(path), encoding=encoding)
        rejects = RejectsWriter(self._rejects_dir / f"{path.stem}.rejects.csv", report)
        try:
            for chunk in _chunks(read_csv_rows(path, encoding), self._batch):
                report.read += len(chunk)
                accepted = self._parse_chunk(chunk, spec, rejects)
                accepted = self._resolve_references(accepted, spec, rejects)
                self._count_and_write(accepted, path.stem, report)
                self._on_rows(len(chunk))
        finally:
            rejects.close()
        return report

    # parsing and checking
    def _parse_chunk(
        self, chunk: Sequence[SourceRow], spec: CanonicalFile, rejects: RejectsWriter
    ) -> list[tuple[int, Parsed]]:
        accepted: list[tuple[int, Parsed]] = []
        for row in chunk:
            try:
                accepted.append((row.line, spec.parse(self._ctx, row.values)))
            except RowError as exc:
                rejects.reject(row.line, exc.field, exc.reason)
        return accepted

    def _resolve_references(
        self, accepted: list[tuple[int, Parsed]], spec: CanonicalFile, rejects: RejectsWriter
    ) -> list[tuple[int, Parsed]]:
        if not spec.reference_fields:
            return accepted
        wanted = {ref for _, parsed in accepted for ref in _references(parsed)}
        self._look_up_in_store({ref for ref in wanted if ref.uid not in self._known[ref.label]})
        resolved = []
        for line, parsed in accepted:
            missing = [
                field_name
                for field_name, ref in zip(spec.reference_fields, _references(parsed), strict=False)
                if ref.uid not in self._known[ref.label]
            ]
            if missing:
                rejects.reject(
                    line,
                    missing[0],
                    "refers to a party that is neither in this load nor in the store",
                )
            else:
                resolved.append((line, parsed))
        return resolved

    def _look_up_in_store(self, refs: set[PartyRef]) -> None:
        if self._store is None or not refs:
            return
        by_label: dict[Label, list[str]] = defaultdict(list)
        for ref in refs:
            by_label[ref.label].append(ref.uid)
        for label, uids in by_label.items():
            rows = self._store.read(_EXISTING[label], {"uids": uids}, operation="load.resolve")
            self._known[label].update(row["uid"] for row in rows)

    # counting and writing
    def _count_and_write(
        self, accepted: list[tuple[int, Parsed]], source: str, report: FileReport
    ) -> None:
        batches: dict[LiteralString, list[dict[str, Any]]] = defaultdict(list)
        issuers: dict[LiteralString, list[dict[str, Any]]] = defaultdict(list)
        for line, parsed in accepted:
            key = _dedup_key(parsed)
            if key in self._seen:
                report.merged += 1
            else:
                self._seen.add(key)
                report.loaded += 1
            lineage = {
                "source": source,
                "source_record": f"{source}:{line}",
                "run_id": self.run_id,
                "loaded_at": self._loaded_at,
            }
            self._stage(parsed, lineage, batches, issuers)
        if self._store is None:
            return
        for group in (batches, issuers):
            for query, rows in group.items():
                self._store.write_rows(query, rows, batch_size=self._batch, operation="load")

    def _stage(
        self,
        parsed: Parsed,
        lineage: dict[str, Any],
        batches: dict[LiteralString, list[dict[str, Any]]],
        issuers: dict[LiteralString, list[dict[str, Any]]],
    ) -> None:
        if isinstance(parsed, NodeRow):
            self._known[parsed.label].add(parsed.uid)
            batches[_NODE_WRITES[parsed.label]].append(
                {"uid": parsed.uid, "props": {**parsed.props, **lineage}}
            )
        elif isinstance(parsed, RelationRow):
            query = _relation_write(parsed)
            batches[query].append(
                {
                    "from_uid": parsed.source.uid,
                    "to_uid": parsed.target.uid,
                    "source": lineage["source"],
                    "source_record": parsed.source_record,
                    "props": {**parsed.props, "run_id": self.run_id, "loaded_at": self._loaded_at},
                }
            )
        else:
            props = {**parsed.props, **lineage, "source_record": parsed.source_record}
            row = {
                "uid": parsed.uid,
                "subject_uid": parsed.subject.uid,
                "source": lineage["source"],
                "source_record": parsed.source_record,
                "props": props,
            }
            batches[writes.RECORD_WRITES[(parsed.subject.label, parsed.label)]].append(row)
            if parsed.authority is not None:
                authority = parsed.authority
                if authority.uid not in self._known[Label.AUTHORITY]:
                    self._known[Label.AUTHORITY].add(authority.uid)
                    batches[writes.MERGE_AUTHORITIES].append(
                        {"uid": authority.uid, "props": {**authority.props, **lineage}}
                    )
                issuers[writes.RECORD_ISSUER_LINKS[parsed.label]].append(
                    {**row, "authority_uid": authority.uid}
                )


def _references(parsed: Parsed) -> tuple[PartyRef, ...]:
    if isinstance(parsed, RelationRow):
        return (parsed.source, parsed.target)
    if isinstance(parsed, RecordRow):
        return (parsed.subject,)
    return ()


def _dedup_key(parsed: Parsed) -> tuple[str, str]:
    if isinstance(parsed, NodeRow):
        return (parsed.label.value, parsed.uid)
    if isinstance(parsed, RecordRow):
        return (parsed.label.value, parsed.uid)
    return (f"{parsed.type.value}:{parsed.source.label.value}", parsed.source_record)


def _relation_write(row: RelationRow) -> LiteralString:
    if row.type in writes.PERSON_ROLE_WRITES:
        return writes.PERSON_ROLE_WRITES[row.type]
    if row.type in writes.FIRM_RELATION_WRITES:
        return writes.FIRM_RELATION_WRITES[row.type]
    return writes.SHAREHOLDER_WRITES[row.source.label]
