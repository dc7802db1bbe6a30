"""Full extracts: what a snapshot of a source no longer lists is ended on the day it describes.

Registries send this month's complete list, not the changes since last month. Loaded with
`credgraph load --full-extract DATE`, every relation and record a file lists keeps DATE in
`last_listed_on` (the latest such date: an older extract loaded later does not move it back,
queries/writes.py). Once every file of the load is written, each snapshot source (a roles,
shareholdings, firm-relations or records file, by its source name; a source split over several
files is one snapshot) is compared with the store:

- a relation of the source that counts on DATE and that no extract of DATE or later listed
  gets `valid_to = ended_on = DATE` and `ended_by_run`: a former relation, never deleted;
- such a record gets an `expired` status change effective DATE (uid `<record>|delisted:<source>`,
  one per record and source) through the loader's status-change path, so its status and every
  status that depends on it is recomputed (graph/lifecycle.py), and `delisted_on = DATE`.

Out of order: once a source's ending for DATE is done, a ledger entry (`extract:<kind>:<source>:
<DATE>`) keeps that it had a complete extract of DATE. An older extract loaded later then also
ends, on the date of each newer extract of its source, what only it listed: the graph is the one
the extracts give loaded in date order.

Listed again: a relation or record a full extract ended that an extract of that day or later
lists again (a corrected extract after a forced wrong one, a debtor listed again) is current
again: the relation loses the end the ending gave it, the record its `delisting` change.

Guards: a source whose files rejected rows ends nothing (the rejected rows may be the ones
still listed), nor one that would end more than `MAX_END_SHARE` of its relations or records
(those the extract lists plus those it would end) when that is more than `MIN_GUARDED`: a
truncated or wrong file. `force` lifts both.

Crash safety: the ending is written in chunks, each in one transaction with its run-ledger
entry (`LoadChunk`, uid `end:<snapshot digest>:<chunk digest>`, `ended` = its count) and the
ledger head's count. The candidates are read again at every run and the ending statements repeat
the test, so a re-run after a kill ends exactly what is left, and loading the same extract again
ends nothing. What a run killed before its re-score had ended is no candidate any more: when the
loader found chunks of the snapshot's files that such a run committed (`resumed`), the
relations of the source ended, and its negative records delisted, on DATE or later go to the
re-score (one read each; none otherwise).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, LiteralString

from credgraph.graph.identifiers import status_change_uid
from credgraph.graph.lifecycle import Listing
from credgraph.graph.store import GraphStore, Transaction, bolt_date
from credgraph.graph.vocabulary import Label, StatusChangeKind
from credgraph.loaders.mapping import Target
from credgraph.loaders.report import FileReport
from credgraph.queries import writes
from credgraph.queries.ledger import LATER_EXTRACTS, count_chunk, ensure_data_head

Row = dict[str, Any]

# an extract that would end more than this share of its source's relations (or records) is
# refused, when that is more than MIN_GUARDED of them: a month's real changes are a few percent
MAX_END_SHARE = 0.25
MIN_GUARDED = 10

# what no longer lists, ends, and revives the relations of each kind
RELATION_SNAPSHOTS: dict[Target, tuple[LiteralString, LiteralString, LiteralString]] = {
    Target.ROLES: (writes.UNLISTED_ROLES, writes.END_ROLES, writes.REVIVE_ROLES),
    Target.SHAREHOLDINGS: (
        writes.UNLISTED_SHAREHOLDINGS,
        writes.END_SHAREHOLDINGS,
        writes.REVIVE_SHAREHOLDINGS,
    ),
    Target.FIRM_RELATIONS: (
        writes.UNLISTED_FIRM_RELATIONS,
        writes.END_FIRM_RELATIONS,
        writes.REVIVE_FIRM_RELATIONS,
    ),
}
SNAPSHOT_TARGETS = frozenset({*RELATION_SNAPSHOTS, Target.RECORDS})

# what the extracts of a date or later ended, of each kind (for a run after a killed one)
ENDED_SINCE: dict[Target, LiteralString] = {
    Target.ROLES: writes.ENDED_ROLES_SINCE,
    Target.SHAREHOLDINGS: writes.ENDED_SHAREHOLDINGS_SINCE,
    Target.FIRM_RELATIONS: writes.ENDED_FIRM_RELATIONS_SINCE,
}

# records no longer listed stop counting as records whose term ended (graph/lifecycle.py)
DELISTED_CHANGE = StatusChangeKind.EXPIRED


@dataclass
class Snapshot:
    """The files of one source of one kind in a full-extract load, and what they listed."""

    target: Target
    source: str
    reports: list[FileReport] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    # relation keys or record uids the files list: read only by a dry run, whose rows are not
    # written (a load marks them in the store with `last_listed_on`)
    listed: set[str] = field(default_factory=set)

    def digest(self, on: date) -> str:
        text = repr((sorted(self.digests), self.target.value, self.source, on.isoformat()))
        return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class EndingContext:
    store: GraphStore | None
    on: date
    run_id: str
    batch_size: int
    lineage: Row  # source, run id, load time, as the loader writes them
    dry_run: bool
    force: bool
    # the loader's status-change path (`Loader`'s refold), so a delisting folds like any change
    refold: Callable[[Transaction, dict[str, Label], dict[str, Listing]], None]
    # told the ends (`from_uid`, `from_legal`, `to_uid`) of the relations ended or made current
    # again, for the re-score after the load (`Loader`'s `_note_ends`)
    ended: Callable[[Sequence[Row]], None]
    # an earlier run committed chunks of the snapshot's files and stopped before its re-score
    # (killed): what it may have ended or delisted goes to the re-score (`_ended_before`)
    resumed: bool = False
    # told the negative records delisted before, for the re-score (`Loader`'s `_note_changed`)
    delisted: Callable[[Mapping[str, Label]], None] | None = None


def end_unlisted(snapshot: Snapshot, ctx: EndingContext) -> None:
    """End what `snapshot`'s source had and its files no longer list, or say why not; the
    count (or the refusal) goes on the report of its last file."""
    report = snapshot.reports[-1]
    report.ended = 0
    _revive(snapshot, ctx)  # what it lists is listed, whatever else is wrong with the file
    _ended_before(snapshot, ctx)
    rejected = sum(r.rejected for r in snapshot.reports)
    if rejected and not ctx.force:
        report.end_refused = (
            f"{_names(snapshot)}: {rejected:,} row(s) rejected, so nothing was ended (a rejected"
            " row may be one still listed); fix them, or pass --force-end"
        )
        return
    if ctx.store is None:
        return
    candidates = _candidates(snapshot, ctx)
    listed = sum(r.loaded for r in snapshot.reports)
    if not ctx.force and _too_many(len(candidates), listed):
        kind = "records" if snapshot.target is Target.RECORDS else "relations"
        report.end_refused = (
            f"{_names(snapshot)}: would end {len(candidates):,} of the "
            f"{len(candidates) + listed:,} {kind} of source {snapshot.source!r} (more than "
            f"{MAX_END_SHARE:.0%}): refused, nothing was ended; a truncated or wrong file? "
            "Check it, or pass --force-end"
        )
        return
    counted = {_id(row) for row in candidates}
    _end(snapshot, ctx, candidates)
    if not ctx.dry_run:
        ctx.store.write(
            writes.MARK_CHUNK_COMMITTED, _extract_entry(snapshot, ctx), operation="load"
        )
    # an older extract loaded after newer ones: what only it listed, the next newer one ends
    for later in _later_extracts(snapshot, ctx):
        at_later = replace(ctx, on=later)
        more = [r for r in _candidates(snapshot, at_later, listed=False) if _id(r) not in counted]
        counted |= {_id(row) for row in more}
        _end(snapshot, at_later, more)
    report.ended = len(counted)


def _revive(snapshot: Snapshot, ctx: EndingContext) -> None:
    """Make current again what a full extract ended and an extract of that day or later lists
    (a corrected extract, a debtor listed again), in one transaction with its ledger entry."""
    if ctx.dry_run or ctx.store is None:
        return
    ensure_data_head(ctx.store)
    uid = f"relist:{snapshot.digest(ctx.on)}"

    def work(tx: Transaction) -> None:
        if snapshot.target is Target.RECORDS:
            revived = _relist_records(tx, ctx, snapshot)
        else:
            query = RELATION_SNAPSHOTS[snapshot.target][2]
            rows = tx.run(query, {"source": snapshot.source})
            ctx.ended(rows)
            revived = len(rows)
        if revived:
            committed_at = datetime.now(UTC)
            ledger = {"run_id": ctx.run_id, "committed_at": committed_at, "revived": revived}
            tx.run(writes.MARK_CHUNK_COMMITTED, {"uid": uid, "props": ledger})
            count_chunk(tx, committed_at)

    ctx.store.transaction(work, operation="load.full_extract")


def _ended_before(snapshot: Snapshot, ctx: EndingContext) -> None:
    """With `ctx.resumed`: the relations of the source ended, and its negative records delisted,
    on the date or later go to the re-score; a run killed before its re-score may have ended
    them, and its endings are no candidates any more. One read."""
    if not ctx.resumed or ctx.dry_run or ctx.store is None:
        return
    params = {"source": snapshot.source, "date": bolt_date(ctx.on)}
    if snapshot.target is Target.RECORDS:
        query = writes.DELISTED_SANCTION_EVENTS_SINCE
        rows = ctx.store.read(query, params, operation="load.full_extract")
        if ctx.delisted is not None:
            ctx.delisted({row["uid"]: Label.SANCTION_EVENT for row in rows})
        return
    rows = ctx.store.read(ENDED_SINCE[snapshot.target], params, operation="load.full_extract")
    ctx.ended(rows)


def _relist_records(tx: Transaction, ctx: EndingContext, snapshot: Snapshot) -> int:
    """Withdraw the delisting of records listed again and fold their status again."""
    relisted: dict[str, Label] = {}
    for label, query in writes.RELISTED_RECORDS.items():
        uids = [row["uid"] for row in tx.run(query, {"source": snapshot.source})]
        if uids:
            tx.run(writes.RELIST_RECORDS[label], {"uids": uids})
            relisted.update(dict.fromkeys(uids, label))
    if relisted:
        tx.run(writes.DELETE_DELISTINGS, {"uids": list(relisted)})
        ctx.refold(tx, relisted, {})
    return len(relisted)


def _end(snapshot: Snapshot, ctx: EndingContext, candidates: list[Row]) -> None:
    if ctx.dry_run or not candidates or ctx.store is None:
        return
    ensure_data_head(ctx.store)
    write = _end_records if snapshot.target is Target.RECORDS else _end_relations
    for chunk in _chunks(candidates, ctx.batch_size):
        _commit(ctx, snapshot, chunk, write)


def _extract_entry(snapshot: Snapshot, ctx: EndingContext) -> Row:
    """The ledger entry saying the source had a complete extract of the date, once its ending
    is done: a later load of an older extract ends on this date what only that one lists."""
    day = ctx.on.isoformat()
    return {
        "uid": f"extract:{snapshot.target.value}:{snapshot.source}:{day}",
        "props": {
            "extract_target": snapshot.target.value,
            "extract_source": snapshot.source,
            "extract_on": bolt_date(ctx.on),
            "run_id": ctx.run_id,
            "committed_at": datetime.now(UTC),
        },
    }


def _later_extracts(snapshot: Snapshot, ctx: EndingContext) -> list[date]:
    """The dates of the complete extracts of the source loaded before, after this one's date."""
    assert ctx.store is not None
    params = {
        "target": snapshot.target.value,
        "source": snapshot.source,
        "date": bolt_date(ctx.on),
    }
    rows = ctx.store.read(LATER_EXTRACTS, params, operation="load.full_extract")
    return sorted({row["extract_on"].to_native() for row in rows})


def _id(row: Row) -> str:
    return str(row.get("key") or row.get("uid"))


def _too_many(ending: int, listed: int) -> bool:
    return ending > MIN_GUARDED and ending > MAX_END_SHARE * (ending + listed)


def _names(snapshot: Snapshot) -> str:
    return ", ".join(r.file for r in snapshot.reports)


def _candidates(snapshot: Snapshot, ctx: EndingContext, *, listed: bool = True) -> list[Row]:
    """The source's relations (`key`; their ends `to_uid`, `from_uid`, `from_legal`) or records
    (`uid`, `label`) that count on the date and that no extract of that date or later listed, in
    a stable order; with `listed`, not those the snapshot's own files list (what a dry run has
    not marked)."""
    keep = snapshot.listed if listed else set()
    assert ctx.store is not None
    params = {"source": snapshot.source, "date": bolt_date(ctx.on)}
    found: list[Row] = []
    if snapshot.target is Target.RECORDS:
        for label, query in writes.UNLISTED_RECORDS.items():
            rows = ctx.store.read(query, params, operation="load.full_extract")
            found += [{"uid": row["uid"], "label": label} for row in rows]
        found = [row for row in found if row["uid"] not in keep]
        return sorted(found, key=lambda row: str(row["uid"]))
    query = RELATION_SNAPSHOTS[snapshot.target][0]
    rows = ctx.store.read(query, params, operation="load.full_extract")
    ends = ("to_uid", "from_uid", "from_legal")
    found = [{"key": r["key"], **{name: r[name] for name in ends}} for r in rows]
    found = [row for row in found if row["key"] not in keep]
    return sorted(found, key=lambda row: str(row["key"]))


def _commit(
    ctx: EndingContext,
    snapshot: Snapshot,
    chunk: list[Row],
    write: Callable[[Transaction, EndingContext, Snapshot, list[Row]], None],
) -> None:
    """One chunk of endings, in one transaction with its ledger entry and the head's count."""
    assert ctx.store is not None
    ids = "\n".join(_id(row) for row in chunk)
    digest = snapshot.digest(ctx.on)
    committed_at = datetime.now(UTC)
    ledger = {
        "file_digest": digest,
        "file": snapshot.reports[-1].file,
        "source": snapshot.source,
        "rows": 0,
        "ended": len(chunk),
        "run_id": ctx.run_id,
        "committed_at": committed_at,
    }
    uid = f"end:{digest}:{hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()}"

    def work(tx: Transaction) -> None:
        write(tx, ctx, snapshot, chunk)
        tx.run(writes.MARK_CHUNK_COMMITTED, {"uid": uid, "props": ledger})
        count_chunk(tx, committed_at)

    ctx.store.transaction(work, operation="load.full_extract")


def _end_relations(
    tx: Transaction, ctx: EndingContext, snapshot: Snapshot, chunk: list[Row]
) -> None:
    query = RELATION_SNAPSHOTS[snapshot.target][1]
    tx.run(query, {"rows": chunk, "date": bolt_date(ctx.on), "run_id": ctx.run_id})
    ctx.ended(chunk)


def _end_records(tx: Transaction, ctx: EndingContext, snapshot: Snapshot, chunk: list[Row]) -> None:
    on = bolt_date(ctx.on)
    change_id = f"delisted:{snapshot.source}"
    by_label: dict[Label, list[str]] = {}
    for row in chunk:
        by_label.setdefault(row["label"], []).append(row["uid"])
    for label, uids in by_label.items():
        changes = [
            {
                "uid": status_change_uid(uid, change_id),
                "record_uid": uid,
                "props": {
                    "record_uid": uid,
                    "change": DELISTED_CHANGE.value,
                    "effective_on": on,
                    "source_record": change_id,
                    "delisting": True,  # withdrawn if a later extract lists the record again
                    "note": f"no longer listed by the full extract of {ctx.on.isoformat()}",
                },
                "link": {},
            }
            for uid in uids
        ]
        tx.run(writes.STATUS_CHANGE_WRITES[label], {"rows": changes, "lineage": ctx.lineage})
        tx.run(writes.MARK_DELISTED[label], {"uids": uids, "date": on, "run_id": ctx.run_id})
    ctx.refold(tx, {row["uid"]: row["label"] for row in chunk}, {})


def _chunks(rows: Sequence[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), max(size, 1)):
        yield list(rows[start : start + size])
