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
from datetime import date

from credgraph.graph import clock
from credgraph.graph.identifiers import PROVINCE_CODES, is_valid_resident_id

# a run of digits that may be split by what identifiers are written with (spaces, hyphens, dots,
# underscores, slashes and backslashes, commas and colons, full-width `，`, `、`, `／`, `：`
# included) or by invisible characters (zero-width spaces, direction marks): normalise_code
# reads `3502 0319-7503.0212 52` as the number, so a mask has to see it as one too. Dates and
# amounts written so stay as they are: in stored text only a run of 15 or 18 digits written like
# a number is masked (`_written_like_a_number`), and valid numbers within longer runs
_INSIDE = (
    r"\s\-.·_\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
    r"\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # the other hyphens and dashes, the minus sign
)
# what may also stand between a number's groups, but as often ends it (`110105194912310025,
# 2019-03-01`): tried only after the separators above found no number
_BETWEEN = r"/\\,:\uff0c\u3001\uff0f\uff3c\uff1a"
_SEPARATOR = rf"[{_INSIDE}{_BETWEEN}]"


def _digit_run(separator: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?<![0-9A-Za-z])\d(?:{separator}{{0,3}}\d)*(?:{separator}{{0,3}}[Xx])?(?![0-9A-Za-z])"
    )


# stored text is masked in two passes: runs split by the separators inside numbers, then what
# is left split by any (a comma after a number must not join it to the date that follows)
_DIGIT_RUNS = (_digit_run(rf"[{_INSIDE}]"), _digit_run(_SEPARATOR))
# then runs that touch a letter (`IDNo350102196907133502`, `x3505…号`): only a valid number in
# them is masked, a reference such as `ABC123456789012345` staying as typed
_ADJOINING_RUN = re.compile(
    rf"(?<!\d)\d(?:{_SEPARATOR}{{0,3}}\d)*(?:{_SEPARATOR}{{0,3}}[Xx])?(?!\d)"
)
# scrub: any such run of 12 digits or more, even inside a longer word (an alias, a field name)
_LONG_DIGIT_RUN = re.compile(rf"\d(?:{_SEPARATOR}{{0,3}}\d){{11,}}(?:{_SEPARATOR}{{0,3}}[Xx])?")
# a run in one piece: digits, and the check character that may end a number
_DIGIT_GROUP = re.compile(r"\d+[Xx]?")
_FULL_WIDTH_DIGITS = re.compile(r"[０-９Ｘｘ]+")
MAX_MESSAGE = 300


def mask_name(name: str) -> str:
    """A pseudonymised person's name: the family name and one star per other character."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def holds_long_number(text: str) -> bool:
    """Whether `text` holds a run of 12 digits or more that `scrub` would mask."""
    return _LONG_DIGIT_RUN.search(text) is not None


def _mask_run(run: str) -> str:
    """`run` with every digit but its first four and last four starred, separators kept."""
    places = [i for i, ch in enumerate(run) if ch.isdigit() or ch in "Xx"]
    hidden = set(places[4:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(run))


def mask_identity_numbers(text: str) -> str:
    """`text` with every run that could be an identity number masked (full-width digits
    folded first): 15 or 18 characters written in one piece, or split by spaces, hyphens or
    dashes, dots, underscores, slashes, backslashes, commas, colons (ASCII or full-width, and
    `、`) or invisible characters where they are written like one (`_written_like_a_number`);
    and within longer runs, or runs that touch a letter, each valid resident ID number; the
    rest as it was."""
    folded = _FULL_WIDTH_DIGITS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    for runs in _DIGIT_RUNS:
        folded = runs.sub(_mask_identity_run, folded)
    return _ADJOINING_RUN.sub(lambda m: _mask_numbers_within(m.group(0)), folded)


def _mask_identity_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = "".join(ch for ch in run if ch.isdigit() or ch in "Xx").upper()
    whole = _DIGIT_GROUP.fullmatch(run) is not None
    if len(digits) in (15, 18) and (whole or _written_like_a_number(digits)):
        return _mask_run(run)
    return _mask_numbers_within(run, pieces=True)


def _written_like_a_number(digits: str) -> bool:
    """Whether 15 or 18 digits that separators split into groups are written like a resident
    ID number, not like two dates of a range (`2024.10.15—2025.1.14`): 18 with a birth date
    (digits 7-14) from 1880 to today, the check character not asked (a number typed with a slip
    is one all the same); 15 (the first generation) with a province's code and a birth date
    (digits 7-12, YYMMDD). A run in one piece is masked without asking."""
    if len(digits) == 18:
        return _birth_date(digits[6:14]) is not None
    return digits[:2] in PROVINCE_CODES and _birth_date("19" + digits[6:12]) is not None


def _birth_date(yyyymmdd: str) -> date | None:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None
    return born if date(1880, 1, 1) <= born <= clock.today() else None


def _mask_numbers_within(run: str, *, pieces: bool = False) -> str:
    """`run` with each 18 of its characters in a row (across its separators, or inside one
    longer group) that are a valid resident ID number masked: a number with a year after it
    (`11010519491231002X 2019`), glued to other digits, or touching a letter. Only a valid
    number (its check character and a birth date from 1880 to today: about one in 60,000 of
    random digits) is masked here, so a phone number beside a date stays as typed; and with
    `pieces` (a run that touches no letter), as a run of its own would be, a group of 15 or 18
    digits in one piece. O(n) for n digits."""
    places = [i for i, ch in enumerate(run) if ch.isdigit() or ch in "Xx"]
    chars = "".join(run[i] for i in places).upper()
    hidden: set[int] = set()
    start = 0
    while start + 18 <= len(chars):
        if is_valid_resident_id(chars[start : start + 18]):
            hidden.update(places[start + 4 : start + 14])  # as `_mask_run` hides them
            start += 18
        else:
            start += 1
    for group in _DIGIT_GROUP.finditer(run) if pieces else ():
        if group.end() - group.start() in (15, 18):
            hidden.update(range(group.start() + 4, group.end() - 4))
    if not hidden:
        return run
    return "".join("*" if i in hidden else ch for i, ch in enumerate(run))


def scrub_lines(text: str) -> str:
    """`text` (a traceback, a log record) with each line scrubbed (`scrub`)."""
    return "\n".join(scrub(line) for line in text.splitlines())


def scrub(text: str) -> str:
    """Text safe to send back: control and invisible characters dropped first (so that they
    cannot hide a number from the mask and then vanish), every run of 12 digits or more masked,
    at most MAX_MESSAGE characters."""
    folded = unicodedata.normalize("NFKC", text)
    printable = "".join(ch for ch in folded if unicodedata.category(ch)[0] != "C" or ch == " ")
    masked = _LONG_DIGIT_RUN.sub(lambda m: _mask_run(m.group(0)), printable)
    if len(masked) > MAX_MESSAGE:
        return masked[: MAX_MESSAGE - 1] + "…"
    return masked
