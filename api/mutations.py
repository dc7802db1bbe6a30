"""The record changes the API writes: objections and credit repairs, where the
deployment offers them (docs/security.md). The `Mutation` type that exposes them is assembled in
api/schema.py."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import strawberry
from credgraph.api.context import Context, chosen_profile, refusal_outcome
from credgraph.api.errors import BadInput, Conflict, NotFound, NotOffered, logged_traceback
from credgraph.api.limits import MAX_RECORD_ID_CHARS
from credgraph.api.masking import mask_identity_numbers
from credgraph.graph import clock
from credgraph.graph.settings import offered_in
from credgraph.graph.vocabulary import Label, StatusChangeKind
from credgraph.queries.contagion import rescore
from credgraph.queries.lookup import PartyKey
from credgraph.queries.record_changes import (
    AppliedChange,
    ChangeRefused,
    RecordTarget,
    apply_changes,
    check_applies,
    find_record,
)

_log = logging.getLogger("credgraph.api")


@strawberry.type(description="A status change written through the API, and the record after it.")
class RecordChange:
    record_id: strawberry.ID
    change: str = strawberry.field(
        description="the last change written: objection_opened, objection_closed, revoked (an "
        "objection upheld), repaired"
    )
    change_id: str
    effective_on: date
    status: str = strawberry.field(
        description="the record's status today, with this change: a change a source dated "
        "later (a scheduled expiry) shows from its own date, in `stateOn` on that date"
    )
    status_since: date | None
    rescored_subjects: int | None = strawberry.field(
        description="parties whose contagion score was recomputed; null when re-scoring "
        "failed (the change itself is committed)"
    )


# a record change as a mutation gives it: its kind, the day it takes effect, its properties
_Change = tuple[StatusChangeKind, date, dict[str, Any]]


def change_record(
    ctx: Context, operation: str, record_id: str, changes: Sequence[_Change]
) -> RecordChange:
    """The record change `operation` (a mutation's name) makes: `changes` (kind, day,
    properties) applied to the record `record_id` names, checked, audited, its parties re-scored."""
    target = _record_to_change(ctx, operation, record_id)
    check = _change_check(ctx, changes)
    persons = any(s.label is Label.NATURAL_PERSON for s in target.subjects)
    _refuse_at_once(ctx, operation, target, changes, check, persons)
    applied = _apply(ctx, operation, target, changes, check, persons)
    if ctx.services.versions is not None:  # a new data version: this worker names it at once
        ctx.services.versions.invalidate()
    rescored = _rescore(ctx, target.subjects)
    return RecordChange(
        record_id=strawberry.ID(target.uid),
        change=changes[-1][0].value,
        change_id=applied.change_uid,
        effective_on=changes[-1][1],
        status=applied.status.value,
        status_since=applied.since,
        rescored_subjects=rescored,
    )


def _record_to_change(ctx: Context, operation: str, record_id: str) -> RecordTarget:
    """The record `record_id` names; BadInput for an empty or overlong id, NotFound (audited)
    for one that names no record."""
    if not record_id.strip() or len(record_id) > MAX_RECORD_ID_CHARS:
        raise BadInput.argument("recordId", f"must be 1 to {MAX_RECORD_ID_CHARS} characters")
    target = find_record(ctx.store, record_id.strip())
    if target is None:
        ctx.register(operation, size=0, outcome="not_found")
        raise NotFound.argument("recordId", "no such record")
    return target


def _change_check(ctx: Context, changes: Sequence[_Change]) -> Callable[[RecordTarget], None]:
    """The check that the first of `changes` applies to a record as it stands: raises
    ChangeRefused when it does not."""
    # a record's term ends by the deployment's default profile, as `stateOn` says
    default_term = chosen_profile(ctx, None).default_term

    def check(record: RecordTarget) -> None:
        check_applies(
            record,
            changes[0][0],
            changes[0][1],
            ctx.settings.repair_after,
            default_term=default_term,
        )

    return check


def _refuse_at_once(
    ctx: Context,
    operation: str,
    target: RecordTarget,
    changes: Sequence[_Change],
    check: Callable[[RecordTarget], None],
    persons: bool,
) -> None:
    """Audit the call, and raise its refusal when the record's city is not offered the change
    or the record as read does not allow it: refused without a write transaction (`_apply`
    judges it again inside one)."""
    refused: Conflict | NotOffered | None = _not_offered_in(ctx, operation, target.city)
    try:
        check(target)
    except ChangeRefused as exc:
        refused = refused or Conflict(str(exc))
    ctx.register(
        operation,
        subjects=target.subjects,
        size=0 if refused else 1,
        persons=persons,
        outcome=refusal_outcome(refused) if refused else "ok",
        basis=_change_basis(ctx, target, changes),
    )
    if refused:
        raise refused


def _change_basis(ctx: Context, target: RecordTarget, changes: Sequence[_Change]) -> dict[str, Any]:
    """Which record a change was asked for and what it asked, for its audit event: a party may
    have several records, and the log must say which one was repaired or objected to, and from
    which day (the record as a token, as subjects are)."""
    return {
        "record": ctx.token(target.uid),
        "changes": [[kind.value, effective_on.isoformat()] for kind, effective_on, _ in changes],
    }


def _apply(
    ctx: Context,
    operation: str,
    target: RecordTarget,
    changes: Sequence[_Change],
    check: Callable[[RecordTarget], None],
    persons: bool,
) -> AppliedChange:
    """Write `changes` to the record, checked again on the record as it stands in the write's
    own transaction, under its write lock: of changes to one record made at once, the later is
    refused as it would be when made afterwards (a Conflict, audited)."""

    def rows() -> list[tuple[str, StatusChangeKind, date, dict[str, Any]]]:
        # lifecycle folds same-day changes in uid order: a time-ordered id, taken in the write
        # transaction once it holds the record's lock, keeps them in the order they were made
        # (an objection opened and closed on one day, or closed by one call as another waits)
        stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        return [
            (f"api-{stamp}-{n}", kind, effective_on, props)
            for n, (kind, effective_on, props) in enumerate(changes)
        ]

    try:
        return apply_changes(
            ctx.store, target, rows, source="api", run_id=f"api:{ctx.caller.key_id}", check=check
        )
    except ChangeRefused as exc:
        refused = Conflict(str(exc))
        # the call was audited as allowed; its outcome is this refusal: audited too
        ctx.register(
            operation,
            subjects=target.subjects,
            persons=persons,
            outcome=refusal_outcome(refused),
            basis=_change_basis(ctx, target, changes),
        )
        raise refused from exc


# the setting that says whether the deployment offers each record change (docs/settings.md)
_OFFERED_BY = {
    "openObjection": "record_objection",
    "closeObjection": "record_objection",
    "recordRepair": "record_repair",
}


def require_offered(ctx: Context, operation: str) -> None:
    """Refuse a record change the deployment does not offer (credit repair exists in some
    cities only, objection handling in most), before its arguments are even read; `answer_field`
    audits the refusal (`refused:not_offered`)."""
    setting = _OFFERED_BY[operation]
    if getattr(ctx.settings, setting) is False:
        raise NotOffered(
            f"this deployment does not offer {operation} (CREDGRAPH_{setting.upper()}=false)"
        )


def _not_offered_in(ctx: Context, operation: str, city: str | None) -> NotOffered | None:
    """The refusal of a record change to a record of a city where the deployment does not
    offer it (its setting a list of region-code prefixes that the record's `city` does not
    start with; a record that names no city is in none of them), else None."""
    setting = _OFFERED_BY[operation]
    offered = getattr(ctx.settings, setting)
    if offered_in(offered, city):
        return None
    variable = f"CREDGRAPH_{setting.upper()}"
    if city is None:
        why = f"the record names no city, and {variable} names the cities that offer it"
        return NotOffered(f"this deployment does not offer {operation} here: {why}")
    # the prefixes are not repeated: the error text's masking takes a run of them for a number
    return NotOffered(
        f"this deployment does not offer {operation} for a record of city {city} "
        f"({variable} does not name it)"
    )


def _rescore(ctx: Context, subjects: Sequence[PartyKey]) -> int | None:
    """Re-score the parties a change affects, under the stored run's profile and date (the
    deployment's own profiles among those it may name); None when that failed."""
    try:
        result = rescore(ctx.store, list(subjects), profiles=ctx.services.profiles)
    except Exception as failed:  # the change is committed; stale scores must not hide that
        line = json.dumps({"event": "rescore_failed", "request": ctx.request_id})
        _log.error(f"{line}\n{logged_traceback(failed)}")
        return None
    return len(result)


def effective_day(effective_on: date | None) -> date:
    """The day a change takes effect: today unless given, and never after today (a change is
    recorded once it has taken effect; answers for today would otherwise show it early)."""
    today = clock.today()
    if effective_on is not None and effective_on > today:
        raise BadInput.argument("effectiveOn", "after today; record a change once it takes effect")
    return effective_on or today


def checked_text(argument: str, value: str | None, limit: int, required: bool) -> str | None:
    """A free-text argument of a record change, stripped and with identity numbers masked;
    BadInput naming `argument` when it is missing but `required`, or longer than `limit`."""
    if value is None or not value.strip():
        if required:
            raise BadInput.argument(argument, "is required")
        return None
    if len(value) > limit:
        raise BadInput.argument(argument, f"longer than {limit} characters")
    return mask_identity_numbers(value.strip())  # stored: never an identity number
