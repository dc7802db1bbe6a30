"""Whether a credit record counts against its subject on a given date.

A record counts from its start (`valid_from`, else its decision or publication date) until it
ends: its `valid_to` (the first day it no longer counts), the default term its profile gives its
kind (`Term`: years, months or days) counted from the decision date (else from its start) when
the source set no end, or the
date a revocation, repair or expiry took effect (graph/lifecycle.py folds those; a record its
source lists as repaired, revoked or expired with the date that began, `listed_status_since`,
counts until that date as if the change came then). A record of a
kind with a default duration but neither a start nor an end has a term nobody can place: it
never counts, and is annotated `term_unknown` for a person to look at. A record under objection
is annotated as such; whether it counts is the profile's decision.

`record_state` is a pure function; `fetch_record_states` reads the records and their status
changes for any number of subjects in one round trip per label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, LiteralString

from credgraph.graph.lifecycle import (
    ENDED_STATUSES,
    StatusEvent,
    current_status,
    listing_events,
    record_start,
)
from credgraph.graph.store import GraphStore, native_date, native_record
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import Label, RecordKind, RecordStatus, StatusChangeKind
from credgraph.queries.lookup import PartyKey

NEGATIVE_KINDS: frozenset[RecordKind] = frozenset(
    {
        RecordKind.BLACKLIST,
        RecordKind.DISHONEST_DEBTOR,
        RecordKind.ADMIN_PENALTY,
        RecordKind.ABNORMAL_OPERATION,
        RecordKind.SERIOUS_VIOLATION,
    }
)
POSITIVE_KINDS: frozenset[RecordKind] = frozenset({RecordKind.RED_LIST, RecordKind.HONOUR})

RECORDS_WITH_CHANGES_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:LegalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
RETURN uid AS subject, r {.*} AS record,
       collect(c {.uid, .change, .effective_on}) AS changes
"""

RECORDS_WITH_CHANGES_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:NaturalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
RETURN uid AS subject, r {.*} AS record,
       collect(c {.uid, .change, .effective_on}) AS changes
"""

_RECORDS_WITH_CHANGES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: RECORDS_WITH_CHANGES_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: RECORDS_WITH_CHANGES_OF_NATURAL_PERSONS,
}


@dataclass(frozen=True)
class RecordState:
    """A record as it stood on `as_of`.

    `status` is the lifecycle status on that date (`since`: when it took effect). `listed` says
    whether the record had started by then; `counts` whether it weighs against its subject on
    that date under the rules given; `ends_on` the first day it no longer counts if nothing new
    happens (None: open-ended). `term_unknown`: the profile limits the record's kind in time, but
    the record has no date to count the limit from and no end, so it cannot be shown to count.
    """

    uid: str
    kind: RecordKind
    status: RecordStatus
    since: date | None
    starts_on: date | None
    ends_on: date | None
    listed: bool
    counts: bool
    under_objection: bool
    negative: bool
    record: Mapping[str, Any]
    term_unknown: bool = False


def record_end(record: Mapping[str, Any], default_term: Mapping[RecordKind, Term]) -> date | None:
    """The first day a record no longer counts by its own term (before any status change).

    The source's `valid_to` when given; else the default term of its kind counted from the
    decision date, else from the start (DOMAIN.md: penalties count at most 3 years "counted from
    the decision date", however late they were published); None when the kind has no default
    (the record stays until something ends it) or there is no date to count from.
    """
    valid_to = record.get("valid_to")
    if isinstance(valid_to, date):
        return valid_to
    decided = record.get("decision_date")
    origin = decided if isinstance(decided, date) else record_start(record)
    term = default_term.get(RecordKind(record["kind"]))
    if origin is None or term is None:
        return None
    return term.after(origin)


def publication_end(record: Mapping[str, Any], at_most: Mapping[str, Term]) -> date | None:
    """The first day the public interface no longer discloses a record by the longest
    publication its kind may have (`at_most`, the `publish_at_most` setting: keys `kind:sector`,
    else `kind`), counted from its decision date, else its start (DOMAIN.md: penalties are
    published "at most 3 years ... counted from the decision date", whatever `valid_to` or
    `disclosure_until` its source gave). None when its kind has no maximum; `date.min` when it
    has one but the record has no date to count it from: nothing shows it is still within it,
    so it is not disclosed. It decides disclosure only, never whether the record counts."""
    kind, sector = record.get("kind"), record.get("sector")
    key = next((k for k in (f"{kind}:{sector}", f"{kind}") if k in at_most), None)
    if key is None:
        return None
    decided = native_date(record.get("decision_date"))
    dated = native_record_dated({name: record.get(name) for name in RECORD_DATES})
    origin = decided if isinstance(decided, date) else record_start(dated)
    return date.min if origin is None else at_most[key].after(origin)


def term_unknown(record: Mapping[str, Any], default_term: Mapping[RecordKind, Term]) -> bool:
    """A record of a kind the profile limits in time that has no start and no end: counting it
    would count it on every date, beyond any limit the profile sets."""
    limited = RecordKind(record["kind"]) in default_term
    return limited and record_start(record) is None and record_end(record, {}) is None


def record_state(
    record: Mapping[str, Any],
    changes: Iterable[StatusEvent],
    as_of: date,
    *,
    count_objections: bool,
    default_term: Mapping[RecordKind, Term],
) -> RecordState:
    """Fold a record's listed status, its changes up to `as_of` and its term into one state.

    O(k log k) for k status changes.
    """
    kind = RecordKind(record["kind"])
    events = list(changes)
    start = record_start(record)
    term_end = record_end(record, default_term)
    listed_since = record.get("listed_status_since")
    # a listed `repaired` (revoked, expired) with the date it began: active until then
    listed_status, from_listing = listing_events(
        RecordStatus(record.get("listed_status") or RecordStatus.ACTIVE),
        listed_since if isinstance(listed_since, date) else None,
    )
    events += from_listing
    if listed_status is RecordStatus.EXPIRED and term_end is not None and as_of < term_end:
        # a later extract lists it as expired, but on `as_of` its term still ran
        listed_status = RecordStatus.ACTIVE
    status, since = current_status(listed_status, events, as_of=as_of)
    if status is RecordStatus.EXPIRED and since is None:
        since = term_end  # listed as expired: it expired when its term ended
    if status in ENDED_STATUSES:
        # a repair or revocation after the term ran out does not move the day it stopped counting
        end: date | None = since if since is None else _earliest(since, term_end)
    else:
        end = _earliest(term_end, _first_ending_change(events, as_of))
        if end is not None and end <= as_of:  # its term ran out: expired on that day
            status, since = RecordStatus.EXPIRED, end
    listed = start is None or start <= as_of
    under_objection = status is RecordStatus.UNDER_OBJECTION
    live = status is RecordStatus.ACTIVE or (under_objection and count_objections)
    unplaced = term_unknown(record, default_term)
    return RecordState(
        uid=str(record.get("uid", "")),
        kind=kind,
        status=status,
        since=since,
        starts_on=start,
        ends_on=end,
        listed=listed,
        counts=listed and live and not unplaced,
        under_objection=under_objection,
        negative=kind in NEGATIVE_KINDS,
        record=record,
        term_unknown=unplaced,
    )


def _earliest(*dates: date | None) -> date | None:
    return min((d for d in dates if d is not None), default=None)


def _first_ending_change(events: Sequence[StatusEvent], as_of: date) -> date | None:
    # a repair or revocation already published with a future effective date ends the record then
    ending = (StatusChangeKind.REVOKED, StatusChangeKind.REPAIRED, StatusChangeKind.EXPIRED)
    later = [e.effective_on for e in events if e.change in ending and e.effective_on > as_of]
    return min(later, default=None)


def status_events(changes: Iterable[Mapping[str, Any]]) -> list[StatusEvent]:
    """StatusChange nodes as read from the store, as lifecycle events (`effective_on` a date,
    or its ISO text where a read returned `toString(c.effective_on)`)."""
    events = []
    for change in changes:
        effective_on = native_date(change.get("effective_on"))
        if change.get("uid") is not None and isinstance(effective_on, date):
            events.append(
                StatusEvent(str(change["uid"]), StatusChangeKind(change["change"]), effective_on)
            )
    return events


# the dates that decide whether and how long a record counts (`record_start`, `record_end`, and
# the day its listed status began), and the last day a public record is shown to the public
# role: a read returns them as text
RECORD_DATES = (
    "valid_from",
    "valid_to",
    "decision_date",
    "published_on",
    "listed_status_since",
    "disclosure_until",
)


def native_record_dated(record: Mapping[str, Any]) -> dict[str, Any]:
    """`native_record`, with the `RECORD_DATES` of a read that returned them as ISO text."""
    converted = native_record(record)
    for name in RECORD_DATES:
        if name in converted:
            converted[name] = native_date(converted[name])
    return converted


def fetch_record_states(
    store: GraphStore,
    subjects: Iterable[PartyKey],
    as_of: date,
    *,
    count_objections: bool,
    default_term: Mapping[RecordKind, Term],
) -> dict[PartyKey, list[RecordState]]:
    """Every record of many subjects as it stood on `as_of`: one read per label."""
    grouped: dict[Label, list[str]] = defaultdict(list)
    for key in dict.fromkeys(subjects):
        grouped[key.label].append(key.uid)
    states: dict[PartyKey, list[RecordState]] = defaultdict(list)
    for label, uids in grouped.items():
        rows = store.read(_RECORDS_WITH_CHANGES[label], {"uids": uids}, operation="records")
        for row in rows:
            state = record_state(
                native_record(row["record"]),
                status_events(row["changes"]),
                as_of,
                count_objections=count_objections,
                default_term=default_term,
            )
            states[PartyKey(label, row["subject"])].append(state)
    return states
