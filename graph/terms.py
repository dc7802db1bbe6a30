"""Terms: how long something lasts, in whole calendar years, months and days (`3y`, `6m`,
`90d`, `1y6m`), as a city's rules state them. Here, in graph/, so that the settings can read
terms too (graph/settings.py `repair_after`); queries/records.py counts records' terms with it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import MAXYEAR, date, timedelta

_TERM = re.compile(r"(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?")


@dataclass(frozen=True)
class Term:
    """How long a record counts by default, or is published before it may be repaired: whole
    years, months and days, as a city's rules state them ("published for at most 3 years").
    Written `3y`, `6m`, `90d` or `1y6m`; a bare number is days.

    Years and months are calendar ones: a term ends on the same day of the month that many
    months later, or on the month's last day when that month is shorter (2024-02-29 + 1y is
    2025-02-28), as Chinese law counts periods in years and months. 3y is therefore 1,095 or
    1,096 days, by the leap days it spans.
    """

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, value: object) -> Term:
        """A Term from `3y`, `6m`, `90d`, `1y6m` or a number of days; ValueError otherwise."""
        if isinstance(value, Term):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            term = cls(days=value)
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            term = cls(days=int(value.strip()))  # a bare number, written as text (`"90"`)
        elif (
            isinstance(value, str)
            and value.strip()
            and (match := _TERM.fullmatch(value.strip().lower()))
        ):
            years, months, days = (int(part or 0) for part in match.groups())
            term = cls(years, months, days)
        else:
            raise ValueError(f"expected a term such as 3y, 6m, 90d or 1y6m, got {value!r}")
        if term.days < 0 or term == cls():
            raise ValueError(f"expected a term of at least one day, got {value!r}")
        return term

    def after(self, origin: date) -> date:
        """The day this term after `origin` ends: the first day no longer in it. A term running
        past the last representable date ends on it."""
        month_index = origin.month - 1 + self.months + 12 * self.years
        year, month = origin.year + month_index // 12, month_index % 12 + 1
        if year > MAXYEAR:
            return date.max
        day = min(origin.day, calendar.monthrange(year, month)[1])
        try:
            return date(year, month, day) + timedelta(days=self.days)
        except OverflowError:
            return date.max

    def __str__(self) -> str:
        parts = [(self.years, "y"), (self.months, "m"), (self.days, "d")]
        return "".join(f"{count}{unit}" for count, unit in parts if count) or "0d"
