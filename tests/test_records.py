"""When a credit record counts on a date (queries/records.py), worked out by hand.

Pure cases of `record_state` first (term end, default term in calendar years, revocation
before and after the as-of date, repair, expiry, objections, future-dated records and changes),
then one registry loaded through the real loader and read back with `fetch_record_states`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.lifecycle import StatusEvent, record_start
from credgraph.graph.store import GraphStore, native_date
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import Label, RecordKind, RecordStatus, StatusChangeKind
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.records import (
    fetch_record_states,
    native_record_dated,
    record_end,
    record_state,
    status_events,
)
from hypothesis import given
from hypothesis import strategies as st

from tests.test_risk_status import FIRM_A, FIRM_D, load_registry

TERMS = BUILTIN_PROFILES["default"].default_term
JAN1 = date(2020, 1, 1)


def _record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uid": "XM:R-1",
        "record_id": "R-1",
        "kind": RecordKind.ADMIN_PENALTY.value,
        "listed_status": RecordStatus.ACTIVE.value,
        "valid_from": JAN1,
        "valid_to": date(2021, 1, 1),
    }
    base.update(fields)
    return base


def _event(change: StatusChangeKind, on: date, uid: str = "c1") -> StatusEvent:
    return StatusEvent(uid, change, on)


def _state(
    record: dict[str, Any],
    as_of: date,
    changes: list[StatusEvent] | None = None,
    *,
    objections: bool = False,
) -> Any:
    return record_state(
        record,
        changes or [],
        as_of,
        count_objections=objections,
        default_term=TERMS,
    )


# --- term ---------------------------------------------------------------------------------------


def test_a_record_counts_until_its_valid_to_and_not_on_that_day() -> None:
    record = _record()
    on_last_day = _state(record, date(2020, 12, 31))
    assert on_last_day.counts and on_last_day.status is RecordStatus.ACTIVE
    assert on_last_day.ends_on == date(2021, 1, 1)
    on_end = _state(record, date(2021, 1, 1))
    assert not on_end.counts
    assert (on_end.status, on_end.since) == (RecordStatus.EXPIRED, date(2021, 1, 1))


def test_without_valid_to_the_profile_default_duration_applies_from_the_decision_date() -> None:
    # an administrative penalty is published for 3 years by default: 2020-03-01 + 3 years
    record = _record(valid_from=None, valid_to=None, decision_date=date(2020, 3, 1))
    assert record_start(record) == date(2020, 3, 1)
    assert record_end(record, TERMS) == date(2023, 3, 1)
    assert _state(record, date(2023, 2, 28)).counts
    last = _state(record, date(2023, 3, 1))
    assert not last.counts and last.status is RecordStatus.EXPIRED


def test_the_start_falls_back_to_the_publication_date() -> None:
    record = _record(valid_from=None, valid_to=None, published_on=date(2021, 5, 6))
    assert record_start(record) == date(2021, 5, 6)
    assert not _state(record, date(2021, 5, 5)).counts
    assert _state(record, date(2021, 5, 6)).counts


def test_a_kind_without_default_duration_stays_until_something_ends_it() -> None:
    record = _record(kind=RecordKind.HONOUR.value, valid_to=None)
    state = _state(record, date(2040, 1, 1))
    assert state.ends_on is None and state.counts and not state.negative


def test_a_future_dated_record_does_not_count_before_it_starts() -> None:
    record = _record(valid_from=date(2021, 1, 1), valid_to=None)
    before = _state(record, date(2020, 12, 31))
    assert not before.listed and not before.counts
    assert _state(record, date(2021, 1, 1)).counts


# --- status changes -----------------------------------------------------------------------------


def test_a_revocation_before_the_as_of_date_ends_the_record_on_its_date() -> None:
    revoked = [_event(StatusChangeKind.REVOKED, date(2020, 6, 1))]
    state = _state(_record(), date(2020, 7, 1), revoked)
    assert (state.status, state.since, state.ends_on) == (
        RecordStatus.REVOKED,
        date(2020, 6, 1),
        date(2020, 6, 1),
    )
    assert not state.counts


def test_a_revocation_after_the_as_of_date_is_not_yet_known_but_ends_it_then() -> None:
    revoked = [_event(StatusChangeKind.REVOKED, date(2020, 6, 1))]
    state = _state(_record(), date(2020, 5, 31), revoked)
    assert state.counts and state.status is RecordStatus.ACTIVE
    assert state.ends_on == date(2020, 6, 1)  # the clearing date, not the term end


def test_a_repaired_record_stops_counting_from_its_repair_date() -> None:
    repaired = [_event(StatusChangeKind.REPAIRED, date(2020, 9, 1))]
    assert _state(_record(), date(2020, 8, 31), repaired).counts
    on_day = _state(_record(), date(2020, 9, 1), repaired)
    assert not on_day.counts
    assert (on_day.status, on_day.since) == (RecordStatus.REPAIRED, date(2020, 9, 1))


def test_an_expiry_change_ends_the_record_before_its_term() -> None:
    expired = [_event(StatusChangeKind.EXPIRED, date(2020, 4, 1))]
    state = _state(_record(), date(2020, 4, 1), expired)
    assert (state.status, state.since, state.counts) == (
        RecordStatus.EXPIRED,
        date(2020, 4, 1),
        False,
    )


def test_a_revocation_overrides_an_earlier_repair() -> None:
    changes = [
        _event(StatusChangeKind.REPAIRED, date(2020, 3, 1), "a"),
        _event(StatusChangeKind.REVOKED, date(2020, 5, 1), "b"),
    ]
    assert _state(_record(), date(2020, 6, 1), changes).status is RecordStatus.REVOKED


def test_an_open_objection_counts_only_when_the_profile_says_so() -> None:
    opened = [_event(StatusChangeKind.OBJECTION_OPENED, date(2020, 4, 1))]
    suspended = _state(_record(), date(2020, 5, 1), opened, objections=False)
    assert suspended.under_objection and not suspended.counts
    counted = _state(_record(), date(2020, 5, 1), opened, objections=True)
    assert counted.under_objection and counted.counts


def test_a_closed_objection_lets_the_record_stand_again() -> None:
    changes = [
        _event(StatusChangeKind.OBJECTION_OPENED, date(2020, 4, 1), "a"),
        _event(StatusChangeKind.OBJECTION_CLOSED, date(2020, 6, 1), "b"),
    ]
    during = _state(_record(), date(2020, 5, 1), changes)
    after = _state(_record(), date(2020, 6, 1), changes)
    assert during.under_objection and not during.counts
    assert not after.under_objection and after.counts
    assert (after.status, after.since) == (RecordStatus.ACTIVE, date(2020, 6, 1))


def test_a_record_listed_under_objection_is_annotated_from_the_start() -> None:
    record = _record(listed_status=RecordStatus.UNDER_OBJECTION.value)
    state = _state(record, date(2020, 2, 1))
    assert state.under_objection and not state.counts
    assert _state(record, date(2020, 2, 1), objections=True).counts


def test_an_objection_does_not_outlive_the_term() -> None:
    opened = [_event(StatusChangeKind.OBJECTION_OPENED, date(2020, 4, 1))]
    state = _state(_record(), date(2021, 2, 1), opened, objections=True)
    assert state.status is RecordStatus.EXPIRED and not state.counts


def test_a_record_listed_expired_by_a_later_extract_counted_during_its_term() -> None:
    record = _record(listed_status=RecordStatus.EXPIRED.value)
    during = _state(record, date(2020, 6, 1))
    assert during.counts and during.status is RecordStatus.ACTIVE
    after = _state(record, date(2021, 6, 1))
    assert (after.status, after.since, after.counts) == (
        RecordStatus.EXPIRED,
        date(2021, 1, 1),
        False,
    )


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(list(StatusChangeKind)),
        st.integers(min_value=0, max_value=500),
    ),
    max_size=6,
)


@given(
    changes=CHANGES,
    as_of_offset=st.integers(min_value=-10, max_value=520),
    objections=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_order_of_status_changes_gives_the_same_state(
    changes: list[tuple[StatusChangeKind, int]], as_of_offset: int, objections: bool, seed: int
) -> None:
    events = [
        _event(kind, JAN1 + timedelta(days=days), f"c{i}") for i, (kind, days) in enumerate(changes)
    ]
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    as_of = JAN1 + timedelta(days=as_of_offset)
    record = _record(valid_to=date(2021, 3, 1))
    first = _state(record, as_of, events, objections=objections)
    second = _state(record, as_of, shuffled, objections=objections)
    assert first == second
    # whatever happened, an ended record never counts and only a started one can
    if first.status in (RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.EXPIRED):
        assert not first.counts
    if as_of < JAN1:
        assert not first.counts


def test_status_events_skip_changes_without_a_date() -> None:
    events = status_events(
        [
            {"uid": "a", "change": "repaired", "effective_on": date(2020, 1, 2)},
            {"uid": "b", "change": "revoked", "effective_on": None},
            {"uid": None, "change": None, "effective_on": None},  # OPTIONAL MATCH found none
        ]
    )
    assert events == [StatusEvent("a", StatusChangeKind.REPAIRED, date(2020, 1, 2))]


# --- read from the store ------------------------------------------------------------------------


def test_states_read_from_the_store_use_the_stored_dates_and_changes(
    graph: GraphStore, tmp_path: Path
) -> None:
    load_registry(graph, tmp_path)
    firm_a, firm_d = PartyKey(Label.LEGAL_PERSON, FIRM_A), PartyKey(Label.LEGAL_PERSON, FIRM_D)

    def states(as_of: date) -> dict[str, Any]:
        found = fetch_record_states(
            graph,
            [firm_a, firm_d],
            as_of,
            count_objections=False,
            default_term=TERMS,
        )
        return {s.record["record_id"]: s for group in found.values() for s in group}

    mid_2024 = states(date(2024, 6, 1))
    blacklist = mid_2024["B-1"]
    assert blacklist.counts and blacklist.starts_on == date(2024, 3, 1)
    assert blacklist.ends_on == date(2027, 3, 1)
    assert isinstance(blacklist.record["decision_date"], date)
    # the old blacklist ran out by its own term
    assert mid_2024["B-0"].status is RecordStatus.EXPIRED
    assert mid_2024["B-0"].since == date(2016, 1, 1)
    # the penalty of FIRM_D was repaired on 2024-09-01 (status_changes.csv)
    assert mid_2024["P-D"].counts
    late_2024 = states(date(2024, 10, 1))
    assert not late_2024["P-D"].counts
    assert (late_2024["P-D"].status, late_2024["P-D"].since) == (
        RecordStatus.REPAIRED,
        date(2024, 9, 1),
    )
    # in 2015 the old blacklist counted and the new one did not exist yet
    in_2015 = states(date(2015, 6, 1))
    assert in_2015["B-0"].counts and not in_2015["B-1"].listed


def test_dates_read_as_text_become_dates_and_nothing_else_does() -> None:
    assert native_date("2024-03-02") == date(2024, 3, 2)
    assert native_date(date(2024, 3, 2)) == date(2024, 3, 2)
    assert native_date(None) is None
    record = {"kind": "blacklist", "record_id": "2024-01-01", "valid_from": "2024-01-01"}
    dated = native_record_dated({**record, "valid_to": None})
    assert dated == {**record, "valid_from": date(2024, 1, 1), "valid_to": None}
    changes = [{"uid": "c1", "change": "revoked", "effective_on": "2024-05-01"}]
    assert status_events(changes) == [StatusEvent("c1", StatusChangeKind.REVOKED, date(2024, 5, 1))]


@pytest.mark.parametrize(
    ("term", "origin", "end"),
    [
        # a leap day between: three calendar years are 1,096 days
        (Term(years=3), date(2024, 1, 1), date(2027, 1, 1)),
        (Term(years=3), date(2020, 3, 1), date(2023, 3, 1)),
        # no such day in the month it ends in: its last day
        (Term(years=1), date(2024, 2, 29), date(2025, 2, 28)),
        (Term(months=1), date(2025, 1, 31), date(2025, 2, 28)),
        (Term(months=6), date(2025, 8, 31), date(2026, 2, 28)),
        (Term(years=1, months=6), date(2024, 10, 15), date(2026, 4, 15)),
        (Term(days=90), date(2025, 1, 1), date(2025, 4, 1)),
        # past the last day there is: it ends there
        (Term(years=5), date(9998, 6, 1), date.max),
    ],
)
def test_a_term_ends_on_the_same_day_of_the_month_in_calendar_years_and_months(
    term: Term, origin: date, end: date
) -> None:
    assert term.after(origin) == end
    record = _record(valid_from=None, valid_to=None, decision_date=origin)
    assert record_end(record, {RecordKind.ADMIN_PENALTY: term}) == end


@pytest.mark.parametrize(
    ("written", "term"),
    [
        ("3y", Term(years=3)),
        (" 1Y6M ", Term(years=1, months=6)),
        ("90d", Term(days=90)),
        (1095, Term(days=1095)),
        ("90", Term(days=90)),  # a bare number is days, quoted in YAML or not
    ],
)
def test_a_term_is_written_in_years_months_or_days(written: object, term: Term) -> None:
    assert Term.parse(written) == term
    assert Term.parse(str(term)) == term


@pytest.mark.parametrize(
    "written", ["", "3 years", "y", "-1d", 0, -5, True, 1.5, "0m", "0", "-5", "٣"]
)
def test_what_is_no_term_is_refused(written: object) -> None:
    with pytest.raises(ValueError, match="expected a term"):
        Term.parse(written)
