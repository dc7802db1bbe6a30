"""The domain's day: "today" is the date in China, whatever the server's time zone.

The platforms are Chinese municipal ones (DOMAIN.md), so the day a record starts, ends or stops
being disclosed is a day in China. China keeps one time zone, China Standard Time, UTC+8, with no
daylight saving since 1991: a fixed offset, which needs no time zone database (tzdata). Every
default as-of date, and every check of a date against today, reads `today()`; the server's own
zone (`TZ`) plays no part, so a host on UTC no longer answers as of yesterday between 00:00 and
08:00 Beijing time. Timestamps (lineage, audit, ledger) stay in UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def today() -> date:
    """The date in China now (UTC+8)."""
    return datetime.now(CHINA_STANDARD_TIME).date()
