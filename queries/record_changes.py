"""Status changes made through the API: objections opened and closed, repairs recorded.

A change is written exactly as the loader writes a `status_changes` row (a `StatusChange` node
`-[:CHANGES]->` the record, uid `<record uid>|<change id>`, with lineage), and the record's
`status` is refolded from its listed status and all its changes by graph/lifecycle.py, in the
same transaction. So a change made by hand and the same change arriving later in a source file
give the same status: they are two `StatusChange` nodes (the API's change id is its own, the
file's is the source's), and whichever comes second changes nothing (a repair of a repaired
record, an objection opened on one under objection); the status is theirs once, from the
earlier of their dates.

Whether a deployment offers repair and objection at all is the API's to check (settings
`record_repair`, `record_objection`); how long a record is published before a repair may take
effect is checked here (`repair_after`). Neither binds the loader: its `status_changes` rows
are the authorities' own decisions, recorded as they come.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, LiteralString

from credgraph.graph import clock
from credgraph.graph.identifiers import status_change_uid
from credgraph.graph.lifecycle import Listing, StatusEvent, current_status, record_start
from credgraph.graph.store import GraphStore, Transaction, native, native_record
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import (
    RECORD_LABELS,
    Label,
    RecordKind,
    RecordStatus,
    StatusChangeKind,
)
from credgraph.queries import writes
from credgraph.queries.ledger import count_change, ensure_data_head
from credgraph.queries.lookup import PartyKey, party_key

SUBJECTS_OF_SANCTION_EVENT: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:SanctionEvent {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.kind, .sector, .city, .valid_from, .valid_to, .decision_date, .published_on} AS record
"""

SUBJECTS_OF_COMMENDATION: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:Commendation {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.kind, .sector, .city, .valid_from, .valid_to, .decision_date, .published_on} AS record
"""

SUBJECTS_OF_CREDIT_GRADE: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:CreditGrade {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.kind, .sector, .city, .valid_from, .valid_to, .decision_date, .published_on} AS record
"""

_SUBJECTS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: SUBJECTS_OF_SANCTION_EVENT,
    Label.COMMENDATION: SUBJECTS_OF_COMMENDATION,
    Label.CREDIT_GRADE: SUBJECTS_OF_CREDIT_GRADE,
}


class ChangeRefused(ValueError):
    """The change does not apply to the record as it stands (the message says why)."""


@dataclass(frozen=True)
class RecordTarget:
    """A record found by uid: its label, its current status (and the day it took effect, None
    for the status it was listed with), its subjects, the day it starts (records.py
    `record_start`; None when it has no date), its kind, sector, decision date and city (its region
    prefix, None when it names none)."""

    uid: str
    label: Label
    status: RecordStatus
    subjects: list[PartyKey] = field(default_factory=list)
    since: date | None = None
    starts_on: date | None = None
    kind: RecordKind | None = None
    sector: str | None = None
    decided_on: date | None = None
    published_on: date | None = None
    valid_to: date | None = None
    city: str | None = None

    def ends_on(self, default_term: Mapping[RecordKind, Term]) -> date | None:
        """The first day the record no longer counts by its own term (records.py
        `record_end`): its `valid_to`, else its kind's default term from its decision date
        (else its start); None when open-ended."""
        if self.valid_to is not None:
            return self.valid_to
        origin = self.decided_on or self.starts_on
        term = default_term.get(self.kind) if self.kind is not None else None
        return term.after(origin) if origin is not None and term is not None else None

    def first_day_for(self, change: StatusChangeKind) -> tuple[date, str] | None:
        """The first day `change` may take effect, and what that day is: the start for a repair
        or an expiry, which end a record as it counts; for an objection opened or closed (an
        upheld one revokes), the day the record was decided or published if earlier, since its
        subject may contest a record announced to take effect later."""
        objection = (StatusChangeKind.OBJECTION_OPENED, StatusChangeKind.OBJECTION_CLOSED)
        if change not in objection:
            return (self.starts_on, "starts") if self.starts_on is not None else None
        known = [
            (day, what)
            for day, what in (
                (self.decided_on, "was decided"),
                (self.published_on, "was published"),
                (self.starts_on, "starts"),
            )
            if day is not None
        ]
        return min(known, key=lambda known_day: known_day[0]) if known else None


@dataclass(frozen=True)
class AppliedChange:
    record: RecordTarget
    change_uid: str
    status: RecordStatus
    since: date | None


def find_record(
    store: GraphStore, record_uid: str, *, today: date | None = None
) -> RecordTarget | None:
    """The record with this uid and its subjects, its status as it stands `today` (default: the
    system date): one read per record label (three at most), and two more for a record whose
    stored status took effect after today.

    The stored `status` folds every change a source published, a change dated in the future
    (a scheduled expiry) included; a change made today must be judged against the record as it
    stands today, so such a record is refolded up to today (graph/lifecycle.py)."""
    for label in RECORD_LABELS:
        rows = store.read(_SUBJECTS[label], {"uid": record_uid}, operation="records.subjects")
        if rows:
            subjects = [party_key(row["uid"], row["labels"]) for row in rows]
            on = today or clock.today()
            status, day = _stored_status_on(
                rows[0], on, partial(_status_on, store, label, record_uid, on)
            )
            record = native_record(rows[0]["record"] or {})
            decided, published = record.get("decision_date"), record.get("published_on")
            valid_to = record.get("valid_to")
            return RecordTarget(
                record_uid,
                label,
                status,
                subjects,
                day,
                starts_on=record_start(record),
                kind=_kind(record.get("kind")),
                sector=record.get("sector") or None,
                decided_on=decided if isinstance(decided, date) else None,
                published_on=published if isinstance(published, date) else None,
                valid_to=valid_to if isinstance(valid_to, date) else None,
                city=str(record["city"]) if record.get("city") else None,
            )
    return None


def _stored_status_on(
    row: Mapping[str, Any], on: date, fold: Callable[[], tuple[RecordStatus, date | None]]
) -> tuple[RecordStatus, date | None]:
    """The record's status on `on` from its stored `status` and `since` (`row`): as stored,
    unless it took effect after `on`, then as `fold` gives it."""
    status = RecordStatus(row["status"] or RecordStatus.ACTIVE.value)
    since = native(row["since"])
    day = since if isinstance(since, date) else None
    if day is not None and day > on:
        return fold()
    return status, day


def _status_on(
    store: GraphStore, label: Label, record_uid: str, on: date
) -> tuple[RecordStatus, date | None]:
    """The record's status on `on`: its listed status folded with its changes effective by
    then (two reads)."""
    listed = store.read(
        writes.LISTED_STATUSES[label], {"uids": [record_uid]}, operation="records.status_on"
    )
    changes = store.read(
        writes.STATUS_CHANGES_OF_RECORDS, {"uids": [record_uid]}, operation="records.status_on"
    )
    status, since = _listed_status(listed)
    return current_status(status, _status_events(changes), as_of=on, listed_since=since)


def _locked(tx: Transaction, target: RecordTarget, on: date) -> RecordTarget:
    """`target` with its status on `on` as the record stands in `tx`, read after taking the
    record's write lock (`writes.LOCK_FOR_CHANGE`): a concurrent change to it commits before
    this read or waits for `tx` (Neo4j), or fails at its commit and is run again (ArcadeDB)."""
    rows = tx.run(writes.LOCK_FOR_CHANGE[target.label], {"uid": target.uid})
    if not rows:
        raise ChangeRefused("the record is no longer stored")

    def fold() -> tuple[RecordStatus, date | None]:
        listed, since = _listed(tx, target.label, target.uid)
        return current_status(listed, _events(tx, target.uid), as_of=on, listed_since=since)

    status, since = _stored_status_on(rows[0], on, fold)
    return replace(target, status=status, since=since)


def check_applies(
    target: RecordTarget,
    change: StatusChangeKind,
    effective_on: date,
    repair_after: Mapping[str, Term],
    *,
    default_term: Mapping[RecordKind, Term] | None = None,
    today: date | None = None,
) -> None:
    """Raise ChangeRefused when `change` on `effective_on` makes no sense for the record as it
    stands: a record that no longer counts `today` (default: the system date) takes no change
    at all, whatever the date (it never counts again, so no later day would do either): one
    revoked, repaired or expired, and one whose term ended (its `valid_to`, else its kind's
    term in `default_term`, the profile's, from its decision or start), but for the close of an
    objection open when the term ended; a change before its
    current status took effect would rewrite its history (an objection closed before it was
    opened, an objection to a record before it was published); and a repair before the
    record's shortest publication (`repair_after`, `repair_wait`) would end a penalty's
    publication before the city's rules allow."""
    status = target.status
    ended = (RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.EXPIRED)
    if status in ended:
        since = f" since {target.since.isoformat()}" if target.since else ""
        raise ChangeRefused(f"the record is {status.value}{since}; it no longer counts")
    end = target.ends_on(default_term or {})
    # an objection open when the term ended is still decided: refusing its close would leave
    # it open for good
    closing = change is StatusChangeKind.OBJECTION_CLOSED and status is RecordStatus.UNDER_OBJECTION
    if end is not None and end <= (today or clock.today()) and not closing:
        raise ChangeRefused(f"the record's term ended on {end.isoformat()}; it no longer counts")
    if target.since is not None and effective_on < target.since:
        raise ChangeRefused(
            f"the record is {target.status.value} since {target.since.isoformat()}; "
            "a change cannot take effect before that"
        )
    first = target.first_day_for(change)
    if first is not None and effective_on < first[0]:
        day, what = first
        raise ChangeRefused(
            f"the record {what} on {day.isoformat()}; a change cannot take effect before that"
        )
    if change is StatusChangeKind.REPAIRED and target.label is not Label.SANCTION_EVENT:
        raise ChangeRefused("credit repair applies to negative records only")
    if change is StatusChangeKind.REPAIRED:
        _check_repair_wait(target, effective_on, repair_after)
    if change is StatusChangeKind.OBJECTION_OPENED and status is RecordStatus.UNDER_OBJECTION:
        raise ChangeRefused("the record is already under objection")
    if change is StatusChangeKind.OBJECTION_CLOSED and status is not RecordStatus.UNDER_OBJECTION:
        raise ChangeRefused("the record is not under objection")


@dataclass(frozen=True)
class RepairWait:
    """How long a record is published before a repair may take effect: the `repair_after`
    entry that holds for it (`key`, `term`) and the first day a repair may take effect."""

    key: str
    term: Term
    first_day: date


def repair_wait(target: RecordTarget, repair_after: Mapping[str, Term]) -> RepairWait | None:
    """The record's waiting period: its decision date (else its start) plus the term of its
    `kind:sector` entry, else its kind's; None for a kind without an entry (no waiting period).
    ChangeRefused when there is an entry but no date to count it from."""
    if target.kind is None:
        return None
    keys = (f"{target.kind.value}:{target.sector}", target.kind.value)
    key = next((k for k in keys if k in repair_after), None)
    if key is None:
        return None
    term = repair_after[key]
    origin = target.decided_on or target.starts_on
    if origin is None:
        raise ChangeRefused(
            f"the record has no decision date or start, so its publication of at least {term} "
            f"(CREDGRAPH_REPAIR_AFTER {key!r}) cannot be placed; a repair cannot be recorded"
        )
    return RepairWait(key, term, term.after(origin))


def _check_repair_wait(
    target: RecordTarget, effective_on: date, repair_after: Mapping[str, Term]
) -> None:
    wait = repair_wait(target, repair_after)
    if wait is not None and effective_on < wait.first_day:
        counted = "decision" if target.decided_on else "start"
        raise ChangeRefused(
            f"a repair of this record may take effect from {wait.first_day.isoformat()} on: it "
            f"is published for at least {wait.term} from its {counted} "
            f"(CREDGRAPH_REPAIR_AFTER {wait.key!r})"
        )


Changes = Sequence[tuple[str, StatusChangeKind, date, Mapping[str, Any]]]


def apply_changes(
    store: GraphStore,
    target: RecordTarget,
    changes: Changes | Callable[[], Changes],
    *,
    source: str,
    run_id: str,
    today: date | None = None,
    check: Callable[[RecordTarget], None] | None = None,
) -> AppliedChange:
    """Write status changes `(change id, kind, effective on, props)` and refold the record.

    One write transaction: the changes, the new status and the count of record changes on the
    ledger's head (queries/ledger.py: a new data version) commit together or not at all. The
    record keeps the status all its changes give (as the loader stores it: a change a source
    dated in the future included); the answer's status is the record's `today` (default: the
    system date).

    `check` (e.g. `check_applies`) judges the record as it stands `today` in that transaction,
    before anything is written, and raises ChangeRefused to write nothing. The transaction
    first takes the record's write lock, so changes to one record made at once are serialised:
    each is checked against the record as the one committed before it left it (a transaction
    the store fails for a concurrent change to the record is run again, check and all).
    `changes` may be a function that makes them: it is called in the transaction, after the
    lock, so change ids that order a record's same-day changes by time (the API's) follow the
    order the changes commit in.
    """
    on = today or clock.today()

    def work(tx: Transaction) -> tuple[RecordStatus, date | None, str]:
        if check is not None:
            check(_locked(tx, target, on))
        rows = _change_rows(target, changes() if callable(changes) else changes)
        now = datetime.now(UTC)
        lineage = {"source": source, "run_id": run_id, "loaded_at": now}
        tx.run(writes.STATUS_CHANGE_WRITES[target.label], {"rows": rows, "lineage": lineage})
        count_change(tx, now)  # a new data version, in the same transaction
        return (*_refold(tx, target, on), str(rows[-1]["uid"]))

    ensure_data_head(store)
    status, since, last_uid = store.transaction(work, operation="records.change")
    return AppliedChange(target, last_uid, status, since)


def _change_rows(target: RecordTarget, changes: Changes) -> list[dict[str, Any]]:
    return [
        {
            "uid": status_change_uid(target.uid, change_id),
            "record_uid": target.uid,
            "props": {
                **{k: v for k, v in props.items() if v is not None},
                "record_uid": target.uid,
                "change": kind.value,
                "effective_on": effective_on,
                "source_record": change_id,
            },
            "link": {},
        }
        for change_id, kind, effective_on, props in changes
    ]


def _refold(tx: Transaction, target: RecordTarget, on: date) -> tuple[RecordStatus, date | None]:
    """Store the status all the record's changes give; return its status on `on`."""
    (listed, listed_since), events = _listed(tx, target.label, target.uid), _events(tx, target.uid)
    status, since = current_status(listed, events, listed_since=listed_since)
    tx.run(
        writes.SET_STATUSES[target.label],
        {"rows": [{"uid": target.uid, "status": status.value, "since": since}]},
    )
    return current_status(listed, events, as_of=on, listed_since=listed_since)


def _events(tx: Transaction, record_uid: str) -> list[StatusEvent]:
    return _status_events(tx.run(writes.STATUS_CHANGES_OF_RECORDS, {"uids": [record_uid]}))


def _listed(tx: Transaction, label: Label, record_uid: str) -> Listing:
    return _listed_status(tx.run(writes.LISTED_STATUSES[label], {"uids": [record_uid]}))


def _status_events(rows: Sequence[Mapping[str, Any]]) -> list[StatusEvent]:
    return [
        StatusEvent(row["change_uid"], StatusChangeKind(row["change"]), _date(row["effective_on"]))
        for row in rows
    ]


def _listed_status(rows: Sequence[Mapping[str, Any]]) -> Listing:
    """The status the record's source listed, and the day it began (`listing_events`)."""
    row = rows[0] if rows else {}
    status = RecordStatus(row.get("listed_status") or RecordStatus.ACTIVE.value)
    since = row.get("listed_since")
    return status, None if since is None else _date(since)


def _kind(value: object) -> RecordKind | None:
    """The record's kind; None for a kind this version does not know (no waiting period)."""
    try:
        return RecordKind(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _date(value: Any) -> date:
    day = native(value)
    assert isinstance(day, date)
    return day
