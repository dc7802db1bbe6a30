"""Status changes made through the API: objections opened and closed, repairs recorded.

A change is written exactly as the loader writes a `status_changes` row (a `StatusChange` node
`-[:CHANGES]->` the record, uid `<record uid>|<change id>`, with lineage), and the record's
`status` is refolded from its listed status and all its changes by graph/lifecycle.py, in the
same transaction. So a change made by hand and the same change arriving later in a source file
give the same graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, LiteralString

from credgraph.graph.lifecycle import StatusEvent, current_status
from credgraph.graph.store import GraphStore, Transaction
from credgraph.graph.vocabulary import RECORD_LABELS, Label, RecordStatus, StatusChangeKind
from credgraph.queries import writes
from credgraph.queries.ledger import count_change, ensure_data_head
from credgraph.queries.lookup import PartyKey, party_key
from credgraph.queries.records import native, native_record, record_start

SUBJECTS_OF_SANCTION_EVENT: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:SanctionEvent {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.valid_from, .decision_date, .published_on} AS dates
"""

SUBJECTS_OF_COMMENDATION: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:Commendation {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.valid_from, .decision_date, .published_on} AS dates
"""

SUBJECTS_OF_CREDIT_GRADE: LiteralString = """
MATCH (p)-[:SUBJECT_OF]->(r:CreditGrade {uid: $uid})
RETURN p.uid AS uid, labels(p) AS labels, r.status AS status, r.status_since AS since,
       r {.valid_from, .decision_date, .published_on} AS dates
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
    for the status it was listed with), its subjects and the day it starts (records.py
    `record_start`; None when it has no date)."""

    uid: str
    label: Label
    status: RecordStatus
    subjects: list[PartyKey] = field(default_factory=list)
    since: date | None = None
    starts_on: date | None = None


@dataclass(frozen=True)
class AppliedChange:
    record: RecordTarget
    change_uid: str
    status: RecordStatus
    since: date | None


def find_record(store: GraphStore, record_uid: str) -> RecordTarget | None:
    """The record with this uid and its subjects: one read per record label (three at most)."""
    for label in RECORD_LABELS:
        rows = store.read(_SUBJECTS[label], {"uid": record_uid}, operation="records.subjects")
        if rows:
            subjects = [party_key(row["uid"], row["labels"]) for row in rows]
            status = RecordStatus(rows[0]["status"] or RecordStatus.ACTIVE.value)
            since = native(rows[0]["since"])
            day = since if isinstance(since, date) else None
            starts_on = record_start(native_record(rows[0]["dates"] or {}))
            return RecordTarget(record_uid, label, status, subjects, day, starts_on)
    return None


def check_applies(target: RecordTarget, change: StatusChangeKind, effective_on: date) -> None:
    """Raise ChangeRefused when `change` on `effective_on` makes no sense for the record as it
    stands: a change before its current status took effect would rewrite its history (an
    objection closed before it was opened, an objection to a record before it was published)."""
    if target.since is not None and effective_on < target.since:
        raise ChangeRefused(
            f"the record is {target.status.value} since {target.since.isoformat()}; "
            "a change cannot take effect before that"
        )
    if target.starts_on is not None and effective_on < target.starts_on:
        raise ChangeRefused(
            f"the record starts on {target.starts_on.isoformat()}; "
            "a change cannot take effect before that"
        )
    if change is StatusChangeKind.REPAIRED and target.label is not Label.SANCTION_EVENT:
        raise ChangeRefused("credit repair applies to negative records only")
    status = target.status
    ended = (RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.EXPIRED)
    if status in ended:
        raise ChangeRefused(f"the record is {status.value}; it no longer counts")
    if change is StatusChangeKind.OBJECTION_OPENED and status is RecordStatus.UNDER_OBJECTION:
        raise ChangeRefused("the record is already under objection")
    if change is StatusChangeKind.OBJECTION_CLOSED and status is not RecordStatus.UNDER_OBJECTION:
        raise ChangeRefused("the record is not under objection")


def apply_changes(
    store: GraphStore,
    target: RecordTarget,
    changes: Sequence[tuple[str, StatusChangeKind, date, Mapping[str, Any]]],
    *,
    source: str,
    run_id: str,
) -> AppliedChange:
    """Write status changes `(change id, kind, effective on, props)` and refold the record.

    One write transaction: the changes, the new status and the count of record changes on the
    ledger's head (queries/ledger.py: a new data version) commit together or not at all.
    """
    now = datetime.now(UTC)
    lineage = {"source": source, "run_id": run_id, "loaded_at": now}
    rows = [
        {
            "uid": f"{target.uid}|{change_id}",
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

    def work(tx: Transaction) -> tuple[RecordStatus, date | None]:
        tx.run(writes.STATUS_CHANGE_WRITES[target.label], {"rows": rows, "lineage": lineage})
        count_change(tx, now)  # a new data version, in the same transaction
        return _refold(tx, target)

    ensure_data_head(store)
    status, since = store.transaction(work, operation="records.change")
    return AppliedChange(target, str(rows[-1]["uid"]), status, since)


def _refold(tx: Transaction, target: RecordTarget) -> tuple[RecordStatus, date | None]:
    events = [
        StatusEvent(row["change_uid"], StatusChangeKind(row["change"]), _date(row["effective_on"]))
        for row in tx.run(writes.STATUS_CHANGES_OF_RECORDS, {"uids": [target.uid]})
    ]
    listed_rows = tx.run(writes.LISTED_STATUSES[target.label], {"uids": [target.uid]})
    listed = RecordStatus(
        (listed_rows[0]["listed_status"] if listed_rows else None) or RecordStatus.ACTIVE.value
    )
    status, since = current_status(listed, events)
    tx.run(
        writes.SET_STATUSES[target.label],
        {"rows": [{"uid": target.uid, "status": status.value, "since": since}]},
    )
    return status, since


def _date(value: Any) -> date:
    native = value.to_native() if hasattr(value, "to_native") else value
    assert isinstance(native, date)
    return native
