"""A credit record's lifecycle: its listed status folded with the dated changes that followed.

Sources publish a record once and its revocation, repair, expiry or objection later, often in
another file. The graph keeps the status the source listed (`listed_status`) and each change as
a `StatusChange` node; the current `status` is always recomputed by :func:`current_status`, so
the result does not depend on the order in which the changes arrived.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from credgraph.graph.vocabulary import RecordStatus, StatusChangeKind

# A revoked record never counted; a repaired or expired one stopped counting. Later changes do
# not bring it back (a new listing is a new record).
ENDED_STATUSES: frozenset[RecordStatus] = frozenset(
    {RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.EXPIRED}
)


# the dates a record's start is taken from, first found first
RECORD_START_FIELDS = ("valid_from", "decision_date", "published_on")


def record_start(record: Mapping[str, Any]) -> date | None:
    """The first day a record counts: valid_from, else decision date, else publication date."""
    name = record_start_field(record)
    return None if name is None else record[name]


def record_start_field(record: Mapping[str, Any]) -> str | None:
    """Which of a record's dates gives its start (`record_start`), if one does."""
    return next((n for n in RECORD_START_FIELDS if isinstance(record.get(n), date)), None)


@dataclass(frozen=True)
class StatusEvent:
    uid: str
    change: StatusChangeKind
    effective_on: date


# a record's status as its source listed it, and the day that status began (None: not given)
Listing = tuple[RecordStatus, date | None]

# the uid of the event a listing's `status_since` stands for (`listing_events`): it sorts before
# every change's uid, so the listing is the day's first event
LISTING_UID = ""


def listing_events(
    listed: RecordStatus, listed_since: date | None
) -> tuple[RecordStatus, list[StatusEvent]]:
    """A listed status with the date it began (`status_since` of records.csv) as the status the
    record had before it and the event that changed it: `repaired` since D is a record active
    until a repair on D. A listing without a date, or of a status that is not final, is the
    status the record has from its start, as before."""
    if listed_since is None or listed not in ENDED_STATUSES:
        return listed, []
    event = StatusEvent(LISTING_UID, StatusChangeKind(listed.value), listed_since)
    return RecordStatus.ACTIVE, [event]


def current_status(
    listed: RecordStatus,
    changes: Iterable[StatusEvent],
    *,
    as_of: date | None = None,
    listed_since: date | None = None,
) -> tuple[RecordStatus, date | None]:
    """The status after applying `changes` up to `as_of`, and the date it took effect.

    `listed_since`: the date the listed status began, if the source gave one (`listing_events`:
    the record was active before it).

    Changes apply day by day. Within a day, where the hour is not known, each next change is
    the first in uid order that applies to the status reached (`_applies`: an objection is
    opened on a record not under objection, closed on one under objection): a file's `z-open`
    and `a-close` of one day leave the record as the day found it, and the API's open, close
    and open again (uids in time order) leave it under objection. So the answer is independent
    of load order. An objection suspends the record until it closes, when the status before it
    returns; a revocation overrides everything. O(k log k) for k changes, and O(j^2) for the j
    changes of one day (a handful).
    """
    listed, from_listing = listing_events(listed, listed_since)
    changes = [*changes, *from_listing]
    status, since = listed, None
    # a record listed as under objection returns to active when the objection closes
    before_objection: RecordStatus = (
        RecordStatus.ACTIVE if listed is RecordStatus.UNDER_OBJECTION else listed
    )
    ordered = sorted(changes, key=lambda e: (e.effective_on, e.uid))
    for day, events in itertools.groupby(ordered, key=lambda e: e.effective_on):
        if as_of is not None and day > as_of:
            break
        pending = list(events)  # in uid order
        while pending:
            first = next((i for i, e in enumerate(pending) if _applies(status, e.change)), 0)
            event = pending.pop(first)
            new = _apply(status, before_objection, event.change)
            if event.change is StatusChangeKind.OBJECTION_OPENED and new is not status:
                before_objection = status
            if new is not status:
                status, since = new, event.effective_on
    return status, since


def _applies(status: RecordStatus, change: StatusChangeKind) -> bool:
    """Whether `change` changes a record in `status`: a revocation always does; nothing else
    moves a revoked, repaired or expired record; an objection opens on a record not under
    objection and closes on one under objection."""
    if change is StatusChangeKind.REVOKED:
        return True
    if status in ENDED_STATUSES:
        return False
    if change is StatusChangeKind.OBJECTION_OPENED:
        return status is not RecordStatus.UNDER_OBJECTION
    if change is StatusChangeKind.OBJECTION_CLOSED:
        return status is RecordStatus.UNDER_OBJECTION
    return True


def _apply(
    status: RecordStatus, before_objection: RecordStatus, change: StatusChangeKind
) -> RecordStatus:
    if change is StatusChangeKind.REVOKED:
        return RecordStatus.REVOKED
    if status in ENDED_STATUSES:
        return status
    if change is StatusChangeKind.REPAIRED:
        return RecordStatus.REPAIRED
    if change is StatusChangeKind.EXPIRED:
        return RecordStatus.EXPIRED
    if change is StatusChangeKind.OBJECTION_OPENED:
        return RecordStatus.UNDER_OBJECTION
    if status is RecordStatus.UNDER_OBJECTION:  # objection closed: the record stands
        return before_objection
    return status
