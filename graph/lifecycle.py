"""A credit record's lifecycle: its listed status folded with the dated changes that followed.

Sources publish a record once and its revocation, repair, expiry or objection later, often in
another file. The graph keeps the status the source listed (`listed_status`) and each change as
a `StatusChange` node; the current `status` is always recomputed by :func:`current_status`, so
the result does not depend on the order in which the changes arrived.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from credgraph.graph.vocabulary import RecordStatus, StatusChangeKind

# A revoked record never counted; a repaired or expired one stopped counting. Later changes do
# not bring it back (a new listing is a new record).
_FINAL = frozenset({RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.EXPIRED})


@dataclass(frozen=True)
class StatusEvent:
    uid: str
    change: StatusChangeKind
    effective_on: date


def current_status(
    listed: RecordStatus, changes: Iterable[StatusEvent], *, as_of: date | None = None
) -> tuple[RecordStatus, date | None]:
    """The status after applying `changes` up to `as_of`, and the date it took effect.

    Changes apply day by day, and within a day in (uid) order but for an objection opened and
    closed on the same day: those leave the record as the day found it (opened then closed when
    it was not under objection, closed then opened again when it was), whatever their ids. So
    the answer is independent of load order. An objection suspends the record until it closes,
    when the status before it returns; a revocation overrides everything. O(k log k) for k
    changes.
    """
    status, since = listed, None
    # a record listed as under objection returns to active when the objection closes
    before_objection: RecordStatus = (
        RecordStatus.ACTIVE if listed is RecordStatus.UNDER_OBJECTION else listed
    )
    ordered = sorted(changes, key=lambda e: (e.effective_on, e.uid))
    for day, events in itertools.groupby(ordered, key=lambda e: e.effective_on):
        if as_of is not None and day > as_of:
            break
        for event in sorted(events, key=_same_day_rank(status)):
            new = _apply(status, before_objection, event.change)
            if event.change is StatusChangeKind.OBJECTION_OPENED and new is not status:
                before_objection = status
            if new is not status:
                status, since = new, event.effective_on
    return status, since


def _same_day_rank(status: RecordStatus) -> Callable[[StatusEvent], int]:
    """Of one day's changes, the objection change that undoes the day's status goes first: an
    objection opened and closed on one day (ids `z-open`, `a-close` from a file) left the
    record under objection for good. The sort is stable: the rest keep their uid order."""
    first = (
        StatusChangeKind.OBJECTION_CLOSED
        if status is RecordStatus.UNDER_OBJECTION
        else StatusChangeKind.OBJECTION_OPENED
    )
    return lambda event: 0 if event.change is first else 1


def _apply(
    status: RecordStatus, before_objection: RecordStatus, change: StatusChangeKind
) -> RecordStatus:
    if change is StatusChangeKind.REVOKED:
        return RecordStatus.REVOKED
    if status in _FINAL:
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
