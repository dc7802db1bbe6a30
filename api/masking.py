"""Masked forms, and scrubbing of anything the API says back to a caller.

Resident ID numbers are never stored, so they can only leak by echo: a GraphQL error that
quotes the argument it refused. `scrub` masks every run of characters that could be an identity
number (15 or 18 characters, full-width digits included) in any text that leaves the API, and
cuts the text short, so neither a number nor a megabyte of payload comes back. Free text a
caller writes into the graph (an objection's evidence, a repair's note) goes through
`mask_identity_numbers` on arrival, so that no number is stored that way either.
"""

from __future__ import annotations

import re
import unicodedata

# 15 digits (first-generation IDs) or 17 digits and a check character, not inside a longer run
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_ANY_LONG_DIGITS = re.compile(r"\d{12,}")
_FULL_WIDTH_DIGITS = re.compile(r"[０-９Ｘｘ]+")
MAX_MESSAGE = 300


def mask_digits(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """A pseudonymised person's name: the family name and one star per other character."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_identity_numbers(text: str) -> str:
    """`text` with every run that could be an identity number masked (full-width digits
    folded first); the rest as it was."""
    folded = _FULL_WIDTH_DIGITS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return _ID_LIKE.sub(lambda m: mask_digits(m.group(1)), folded)


def scrub(text: str) -> str:
    """Text safe to send back: identity-number-like runs masked, control characters dropped,
    at most MAX_MESSAGE characters."""
    masked = mask_identity_numbers(unicodedata.normalize("NFKC", text))
    masked = _ANY_LONG_DIGITS.sub(lambda m: mask_digits(m.group(0)), masked)
    printable = "".join(ch for ch in masked if unicodedata.category(ch)[0] != "C" or ch == " ")
    if len(printable) > MAX_MESSAGE:
        return printable[: MAX_MESSAGE - 1] + "…"
    return printable
