"""Value transforms a mapping may apply to a source cell before the canonical checks.

Each transform takes the cell's text and returns canonical text, or raises `ValueError` with a
reason the rejects file can show. They are the vocabulary of `transform:` in a mapping file
(docs/formats.md): `date`, `percent`, `fraction`, `amount`, `upper`, `lower`, `digits`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

Transform = Callable[[str], str]

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
# Excel and databases append a midnight time to dates
_TIME_SUFFIX = re.compile(r"[T ]0{1,2}:0{2}(:0{2}(\.0+)?)?$")

# `¥3,000`, `人民币500万元`, `750万`, `1.2亿元`, `500万元人民币`: a currency before or after says 元
# a bare number may be in scientific notation: a number cell of 1e15 or more reads as `1.5E+15`
_AMOUNT = re.compile(
    r"^(¥|人民币)?\s*(-?[\d.]+(?:[eE][+-]?\d+)?)\s*(亿|万|千|百)?\s*(元人民币|元|圆|人民币)?$"
)
_UNIT_SCALE = {"亿": Decimal(100_000_000), "万": Decimal(10_000), "千": Decimal(1000)}
_UNIT_SCALE["百"] = Decimal(100)

# `unit:` values a mapping may give for a column of bare numbers
AMOUNT_UNITS = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}


def _half_width(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def to_date(text: str) -> str:
    """`20180302`, `2018-3-2`, `2018/03/02`, `2018.03.02`, `2018年3月2日` -> `2018-03-02`."""
    cleaned = _TIME_SUFFIX.sub("", _half_width(text))
    for pattern in _DATE_PATTERNS:
        if match := pattern.match(cleaned):
            year, month, day = (int(part) for part in match.groups())
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                break
    raise ValueError(f"{text!r} is not a date (e.g. 2018-03-02, 20180302, 2018年3月2日)")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def percent(text: str) -> str:
    """`12.5%` or `12.5` (a percentage) -> `0.125`."""
    cleaned = _half_width(text).rstrip("%").strip()
    return _plain(_decimal(cleaned) / 100)


def fraction(text: str) -> str:
    """A stake written either way: `12.5%` -> `0.125`; `0.125` stays."""
    cleaned = _half_width(text)
    if cleaned.endswith("%"):
        return percent(cleaned)
    return _plain(_decimal(cleaned))


def amount(text: str, unit: str = "元") -> str:
    """`750万元`, `750万`, `1.2亿元`, `3,000元`, `¥3,000`, `人民币500万元` -> yuan; a bare number
    is read in `unit`."""
    cleaned = _half_width(text).replace(",", "").replace(" ", "")
    match = _AMOUNT.match(cleaned)
    if match is None:
        raise ValueError(f"{text!r} is not an amount (e.g. 750万元, 3000元, 1.2亿)")
    before, number, scale_word, after = match.groups()
    currency = before or after
    if unit not in AMOUNT_UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(AMOUNT_UNITS)}")
    if scale_word:
        scale = _UNIT_SCALE[scale_word]
    else:  # `3000元` says its unit; only a bare number is in the column's
        scale = Decimal(1) if currency else AMOUNT_UNITS[unit]
    return _plain(_decimal(number) * scale)


# a long number Excel did not keep as text (3.50203E+17), or a number cell of 1e15 or more
_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?E[+-]?\d+$", re.IGNORECASE)


def digits(text: str) -> str:
    """Only the digits and letters of an identifier (drops spaces, hyphens, dots). A number in
    scientific notation is refused: its digits are lost, and dropping its dot and its `E` would
    make up an identifier."""
    cleaned = _half_width(text)
    if _SCIENTIFIC.match(cleaned):
        raise ValueError(
            "is a number in scientific notation (like 3.5E+17): a long number kept as a number, "
            "not as text, keeps only some 15 significant digits, so its digits are lost; format "
            "the column as text"
        )
    return "".join(ch for ch in cleaned if ch.isalnum())


TRANSFORMS: dict[str, Transform] = {
    "date": to_date,
    "percent": percent,
    "fraction": fraction,
    "amount": amount,
    "upper": lambda text: _half_width(text).upper(),
    "lower": lambda text: _half_width(text).lower(),
    "digits": digits,
}
