"""Source rows to validated canonical rows, one function per canonical file.

Each `parse_*` function takes the raw cells of one row and returns the row to write, or raises
`RowError` naming the field and the reason. Nothing reaches the store unchecked: identifiers
are normalised and their check characters verified, dates and numbers parsed, codes looked up
in the closed vocabulary. Resident ID numbers are turned into keyed tokens here and never
travel further; error messages never repeat them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

from credgraph.graph import clock
from credgraph.graph.identifiers import (
    OPERATOR_PREFIX,
    IdentifierError,
    is_masked,
    is_valid_registration_number,
    is_valid_resident_id,
    is_valid_uscc,
    mask_document,
    mask_resident_id,
    normalise_code,
    normalise_text,
    operator_token,
    person_token,
    region_problem,
    status_change_uid,
    upgraded_resident_id,
    validate_org_code,
    validate_registration_number,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.lifecycle import ENDED_STATUSES, record_start
from credgraph.graph.names import name_key
from credgraph.graph.vocabulary import (
    CODE_WORD,
    FIRM_RELATION_TYPE,
    RECORD_LABEL,
    ROLE_RELATION,
    City,
    Disclosure,
    FirmRelation,
    GradeScheme,
    Label,
    LegacyCodeType,
    LegalPersonKind,
    OtherNameKind,
    PersonIdType,
    RecordKind,
    RecordStatus,
    RegistrationStatus,
    RelationType,
    Role,
    Sector,
    StatusChangeKind,
)
from credgraph.loaders.transforms import amount, to_date

Props = dict[str, Any]
_E = TypeVar("_E", bound=StrEnum)


class RowError(ValueError):
    """A row that cannot be accepted; `field` names the offending column."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class PartyRef:
    """A reference to a party. Masked and legacy-code references are resolved by the loader."""

    label: Label
    uid: str
    name_key: str | None = None  # the name given beside a masked identifier, to narrow it
    # an all-digit code valid both as a USCC and as a resident ID: the person, if on file
    alternative: PartyRef | None = None

    @property
    def masked(self) -> bool:
        return self.uid.startswith(MASKED_PREFIX)

    @property
    def legacy(self) -> bool:
        return self.uid.startswith((REG_PREFIX, ORG_PREFIX))


MASKED_PREFIX = "MASKED:"
REG_PREFIX = "REG:"
ORG_PREFIX = "ORG:"


@dataclass(frozen=True)
class NodeRow:
    label: Label
    uid: str
    props: Props
    # False for secondary sources (sanctions lists): they add to a registry party, never rename it
    authoritative: bool = True
    # FtM: the uids the parties of the entity ids merged into this one have (loaders/referents.py)
    referents: tuple[str, ...] = ()
    # FtM: the entity id (as stored) of a party keyed by a strong identifier, kept as an
    # `FtmId` of the party (queries/writes.py MERGE_FTM_IDS) rather than in its properties
    ftm_id: str | None = None
    # an individual business's operator: the person's uid (token), its principal if loaded
    principal: str | None = None
    # a natural person: the operator key (`operator_token`) of the person's document, to find
    # the individual businesses it operates; never stored on the person
    operator_key: str | None = None
    # other names the row gives the party: former names (`former_names`), FtM aliases; written
    # as `OtherName` nodes (loaders/names.py), never as a property
    other_names: tuple[tuple[OtherNameKind, str], ...] = ()


@dataclass(frozen=True)
class RelationRow:
    type: RelationType
    source: PartyRef
    target: PartyRef
    source_record: str
    props: Props


@dataclass(frozen=True)
class ChangeRow:
    """A dated status change of a record, identified by the record's uid."""

    uid: str
    record_uid: str
    source_record: str
    props: Props


@dataclass(frozen=True)
class RecordRow:
    label: Label
    uid: str
    subject: PartyRef
    source_record: str
    props: Props
    authority: NodeRow | None = None


@dataclass
class ParseContext:
    """What row parsing needs besides the row: the person key and the reference date."""

    person_key: bytes
    today: date = field(default_factory=clock.today)


# --- cell helpers ------------------------------------------------------------------------------


# characters nobody sees that web pages and word processors leave in copied cells (zero-width
# spaces and joiners, a byte order mark, a soft hyphen, direction marks): a USCC with one would
# be "19 characters" to its check, and show as 18
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"))
# control characters (C0, DEL, C1) but tab and the line breaks: a fixed-width export's NUL
# padding, a DOS end-of-file mark, an escape. No value means one and nobody sees one; unlike
# the invisible characters above they are dropped from the stored name too, which an XML
# export (GraphML) could not carry otherwise
_CONTROLS = dict.fromkeys(
    code for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in "\t\n\r"
)
_UNSEEN = _INVISIBLE | _CONTROLS


# what a spreadsheet shows (and writes to CSV) in place of a formula's value when it failed
SPREADSHEET_ERRORS = frozenset(
    {"#N/A", "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#SPILL!", "#CALC!"}
    | {"#GETTING_DATA"}
)


def _cell(values: Mapping[str, str], name: str) -> str | None:
    raw = values.get(name)
    if raw is None:
        return None
    # isascii is O(1) and isprintable a byte scan: most cells skip the translation
    text = normalise_text(raw if raw.isascii() and raw.isprintable() else raw.translate(_UNSEEN))
    if text[:1] == "#" and text in SPREADSHEET_ERRORS:
        raise RowError(name, f"holds the spreadsheet error {text} (a formula that failed)")
    return text or None


# a long number as Excel writes it to CSV when the column was not text: 9.1350203E+17
_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?E\+?\d+$", re.IGNORECASE)


def without_controls(text: str) -> str:
    """`text` without its control characters (`_CONTROLS`)."""
    return text if text.isprintable() else text.translate(_CONTROLS)


# what separates the names of a `former_names` cell (docs/formats.md)
FORMER_NAMES_SEPARATOR = re.compile(r"[;；|]")


def _former_names(values: Mapping[str, str]) -> tuple[tuple[OtherNameKind, str], ...]:
    """The names of a `former_names` cell, each as loaded (ends trimmed, control characters
    dropped); empty parts and parts without a letter or digit are left out."""
    cell = without_controls(values.get("former_names", "") or "")
    names = (part.strip() for part in FORMER_NAMES_SEPARATOR.split(cell))
    kept = dict.fromkeys(name for name in names if name and name_key(name))
    return tuple((OtherNameKind.FORMER_NAME, name) for name in kept)


def _stored_name(values: Mapping[str, str]) -> str:
    """The name as loaded: its ends trimmed and its control characters dropped, nothing else."""
    return without_controls(values.get("name", "")).strip()


def _code_cell(values: Mapping[str, str], name: str) -> str | None:
    """An identifier's cell; one Excel turned into a number in scientific notation lost its
    digits, which no check may guess back."""
    text = _cell(values, name)
    if text is not None and _SCIENTIFIC.match(text):
        raise RowError(  # not quoted: it may be what is left of a resident ID number
            name,
            "is a number in scientific notation (like 3.5E+17): a long number kept as a number, "
            "not as text (in a CSV Excel saved, a number cell of Excel, a JSON or Parquet "
            "float), keeps only some 15 significant digits, so its digits are lost; format the "
            "column as text (in JSON, a string) and export it again",
        )
    return text


def _required_code(values: Mapping[str, str], name: str) -> str:
    text = _code_cell(values, name)
    if text is None:
        raise RowError(name, "is required")
    return text


def _required(values: Mapping[str, str], name: str) -> str:
    text = _cell(values, name)
    if text is None:
        raise RowError(name, "is required")
    return text


# No register date is older; Excel's dates start here, and a date-formatted cell holding 0 (a
# blank a formula or an export filled) reads as its zero date, 1899-12-30
EARLIEST_DAY = date(1900, 1, 1)


def _date(values: Mapping[str, str], name: str) -> date | None:
    """ISO, or another year-first form registries write (`2018/3/2`, `2018.03.02`,
    `2018年3月2日`, a midnight time after it): the same ones a mapping's `date` transform reads.
    Refused before `EARLIEST_DAY`."""
    text = _cell(values, name)
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(to_date(text))
        except ValueError:
            reason = (
                f"{text!r} is not a date (year first: YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日)"
            )
            raise RowError(name, reason) from None
    if day < EARLIEST_DAY:
        raise RowError(
            name,
            f"{day.isoformat()} is before {EARLIEST_DAY.isoformat()}: no register date is; "
            "1899-12-30 is Excel's zero date, what a date-formatted cell holding 0 reads as "
            "(leave the cell empty for no date)",
        )
    return day


def _number(
    values: Mapping[str, str], name: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    text = _cell(values, name)
    if text is None:
        return None
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise RowError(name, f"{text!r} is not a number") from None
    if not math.isfinite(number):  # `nan`, `inf`: float() reads them, no register means them
        raise RowError(name, f"{text!r} is not a number")
    if low is not None and number < low:
        raise RowError(name, f"{number:g} is below {_bounds(low, high)}")
    if high is not None and number > high:
        raise RowError(name, f"{number:g} is above {_bounds(low, high)}")
    return number


def _amount(values: Mapping[str, str], name: str) -> float | None:
    """Yuan: a number, or an amount that says its unit (`750万`, `1.5亿元`, `¥3,000`), as a
    mapping's `amount` transform reads it; never below 0."""
    text = _cell(values, name)
    if text is None:
        return None
    try:
        yuan = text if _is_float(text) else amount(text)
    except ValueError:
        reason = (
            f"{text!r} is not an amount in yuan (a number, or one with its unit: 元, 万元, 亿元)"
        )
        raise RowError(name, reason) from None
    return _number({name: yuan}, name, low=0)


def _is_float(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _bounds(low: float | None, high: float | None) -> str:
    """The allowed range in words: `0..1`, `at least 0`, `at most 100`."""
    if low is not None and high is not None:
        return f"the range {low:g}..{high:g}"
    if low is not None:
        return f"the minimum {low:g}"
    return f"the maximum {high:g}"


def _code(values: Mapping[str, str], name: str, enum: type[_E]) -> _E:
    text = _required(values, name).lower()
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RowError(name, f"{text!r} is not one of: {allowed}") from None


def _optional_code(values: Mapping[str, str], name: str, enum: type[_E]) -> _E | None:
    """A code from a closed list, or None for an empty cell."""
    return _code(values, name, enum) if _cell(values, name) else None


def _code_word(values: Mapping[str, str], name: str, known: type[StrEnum]) -> str | None:
    """An open list's code (lower-case letters, digits and `_`), or None for an empty cell."""
    text = (_cell(values, name) or "").lower()
    if not text:
        return None
    if not CODE_WORD.match(text):
        listed = ", ".join(member.value for member in known)
        raise RowError(name, f"{text!r} is not a code (such as {listed})")
    return text


def _validity(values: Mapping[str, str]) -> Props:
    valid_from, valid_to = _date(values, "valid_from"), _date(values, "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise RowError("valid_to", "is before valid_from")
    return {"valid_from": valid_from, "valid_to": valid_to}


# --- party references ------------------------------------------------------------------------


def person_uid(ctx: ParseContext, id_type: PersonIdType, number: str, country: str = "CN") -> str:
    return person_token(ctx.person_key, id_type, number, country)


# the column that may carry the party's name beside a reference column
NAME_COLUMNS = {
    "subject_id": "subject_name",
    "person_id_number": "person_name",
    "holder_id": "holder_name",
    "company_id": "company_name",
    "from_id": "from_name",
    "to_id": "to_name",
}


def _fifteen_digits(name: str, code: str, expected: Label | None) -> str:
    """A 15-digit reference: a legal person's registration number (`REG:<number>`) where a
    legal person is expected, a first-generation resident ID (upgraded to 18) where a person
    is; where either could be, a resident ID only if it is no valid registration number."""
    registration = is_valid_registration_number(code)
    if expected is Label.LEGAL_PERSON and registration:
        return REG_PREFIX + code
    upgraded = upgraded_resident_id(code) if expected is not Label.LEGAL_PERSON else code
    if upgraded != code and (expected is Label.NATURAL_PERSON or not registration):
        return upgraded
    if registration:
        raise RowError(name, "15 digits: write a registration number as REG:<number>")
    kinds: dict[Label | None, str] = {
        Label.LEGAL_PERSON: "a registration number (its check digit does not match)",
        Label.NATURAL_PERSON: "a first-generation resident ID (digits 7-12 are no birth date)",
    }
    what = kinds.get(expected, "a registration number nor a first-generation resident ID")
    raise RowError(name, f"15 digits, but not {what}")


def parse_party_ref(
    ctx: ParseContext, values: Mapping[str, str], name: str, expected: Label | None = None
) -> PartyRef:
    """Turn a party reference cell (docs/formats.md) into a label and uid.

    Masked identifiers (`91230199744****927K`, `3502**********1234`) and legacy codes come back
    unresolved (`MASKED:`, `REG:`, `ORG:`); the loader resolves them against the graph.
    """
    text = _required_code(values, name)
    code = normalise_code(text)
    if is_masked(code):
        return _masked_ref(values, name, code, expected)
    if code.startswith(REG_PREFIX):
        return PartyRef(Label.LEGAL_PERSON, code)
    if code.startswith(OPERATOR_PREFIX):
        return _operator_ref(ctx, name, text.strip()[len(OPERATOR_PREFIX) :])
    if len(code) in (9, 10) and not code.startswith("DOC:"):
        try:
            return PartyRef(Label.LEGAL_PERSON, ORG_PREFIX + validate_org_code(code))
        except IdentifierError as exc:
            raise RowError(name, str(exc)) from None
    if code.startswith("DOC:"):
        parts = text.split(":", 3)
        if len(parts) != 4:
            raise RowError(name, "document reference must be DOC:<type>:<country>:<number>")
        try:
            id_type = PersonIdType(parts[1].strip().lower())
        except ValueError:
            raise RowError(name, f"unknown document type {parts[1]!r}") from None
        return PartyRef(Label.NATURAL_PERSON, person_uid(ctx, id_type, parts[3], parts[2]))
    if len(code) == 15 and code.isdigit():
        code = _fifteen_digits(name, code, expected)
        if code.startswith(REG_PREFIX):
            return PartyRef(Label.LEGAL_PERSON, code)
    found = _code_ref(ctx.person_key, ctx.today, code, expected)
    if isinstance(found, str):
        raise RowError(name, found)
    return found


def _operator_ref(ctx: ParseContext, name: str, document: str) -> PartyRef:
    """`OPR:<resident ID number>` or `OPR:DOC:<type>:<country>:<number>`: the individual
    business its operator's document keys (`OPR:<operator token>`), the number hashed here."""
    if is_masked(document):
        raise RowError(name, "an OPR: reference takes the operator's full ID number, not a mask")
    if normalise_code(document).startswith("DOC:"):
        parts = document.split(":", 3)
        if len(parts) != 4:
            raise RowError(name, "an operator's document is OPR:DOC:<type>:<country>:<number>")
        try:
            id_type = PersonIdType(parts[1].strip().lower())
        except ValueError:
            raise RowError(name, f"unknown document type {parts[1]!r}") from None
        number, country = parts[3], parts[2]
        if len(normalise_code(country)) != 2:
            raise RowError(name, "the document's country is 2 letters (ISO alpha-2)")
    else:
        id_type, country = PersonIdType.RESIDENT, "CN"
        try:
            number = validate_resident_id(
                upgraded_resident_id(normalise_code(document)), today=ctx.today
            ).number
        except IdentifierError as exc:
            raise RowError(name, f"OPR: takes the operator's resident ID number: {exc}") from None
    token = operator_token(ctx.person_key, id_type, number, country)
    return PartyRef(Label.LEGAL_PERSON, OPERATOR_PREFIX + token)


@lru_cache(maxsize=1 << 18)
def _code_ref(person_key: bytes, today: date, code: str, expected: Label | None) -> PartyRef | str:
    """A USCC or resident ID reference, or why it is neither. Cached: references repeat."""
    ctx = ParseContext(person_key, today)
    try:
        return _uncached_code_ref(ctx, code, expected)
    except RowError as exc:
        return exc.reason


def _uncached_code_ref(ctx: ParseContext, code: str, expected: Label | None) -> PartyRef:
    name = "(reference)"
    digits = len(code) == 18 and code[:17].isdigit()
    if digits and expected is not Label.LEGAL_PERSON and is_valid_resident_id(code, ctx.today):
        person = PartyRef(Label.NATURAL_PERSON, person_uid(ctx, PersonIdType.RESIDENT, code))
        if expected is Label.NATURAL_PERSON or not is_valid_uscc(code):
            return person
        # valid both ways (about one all-digit number in 300): the party on file decides
        return PartyRef(Label.LEGAL_PERSON, code, alternative=person)
    if digits and expected is Label.NATURAL_PERSON:
        try:
            validate_resident_id(code, today=ctx.today)
        except IdentifierError as exc:
            raise RowError(name, str(exc)) from None
    try:
        return PartyRef(Label.LEGAL_PERSON, validate_uscc(code))
    except IdentifierError as exc:
        if digits and not is_valid_uscc(code):
            try:
                validate_resident_id(code, today=ctx.today)
            except IdentifierError as person_exc:
                raise RowError(name, str(person_exc)) from None
        raise RowError(name, str(exc)) from None


def _masked_ref(
    values: Mapping[str, str], name: str, code: str, expected: Label | None
) -> PartyRef:
    if len(code) != 18:
        raise RowError(name, "a masked identifier must keep its length of 18 characters")
    given_name = _cell(values, NAME_COLUMNS.get(name, ""))
    label = expected or _masked_label(code)
    return PartyRef(label, MASKED_PREFIX + code, name_key(given_name) if given_name else None)


def _masked_label(code: str) -> Label:
    """Resident IDs are masked over the birth date (positions 7-14); USCCs elsewhere."""
    visible = code.replace("*", "")
    if visible[:-1].isdigit() and "*" in code[6:14]:
        return Label.NATURAL_PERSON
    return Label.LEGAL_PERSON


# --- files -----------------------------------------------------------------------------------


def parse_legal_person(ctx: ParseContext, values: Mapping[str, str]) -> NodeRow:
    kind = _code(values, "kind", LegalPersonKind)
    uscc_text = _code_cell(values, "uscc")
    reg_no = _code_cell(values, "registration_number")
    uscc = _checked_uscc(uscc_text, kind)
    operator = _operator(ctx, values, kind)
    reg_key = _registration_key(reg_no, uscc, operator)
    region = _region_code(values)
    org_code = _checked_org_code(values, uscc)
    name = _required(values, "name")
    operator_key = _operator_key(ctx, operator)
    uid = uscc or (f"{REG_PREFIX}{reg_key}" if reg_key else f"{OPERATOR_PREFIX}{operator_key}")
    address = _cell(values, "address")
    props: Props = {
        "uscc": uscc,
        "registration_number": reg_key,
        "org_code": org_code,
        "name": _stored_name(values),
        "name_key": name_key(name),
        "kind": kind.value,
        "region_code": region or (uscc[2:8] if uscc else None),
        **_registration_properties(ctx, values),
        "address": address,
        # the address's matching key (graph/names.py), for parties sharing an address
        "address_key": name_key(address) or None if address else None,
        "industry": _cell(values, "industry"),
        **_operator_properties(operator_key, operator),
        "strong_id": True,
        **contact_properties(values),
    }
    principal = (
        person_uid(ctx, operator.id_type, operator.number, operator.country) if operator else None
    )
    return NodeRow(
        Label.LEGAL_PERSON, uid, props, principal=principal, other_names=_former_names(values)
    )


def _checked_uscc(uscc_text: str | None, kind: LegalPersonKind) -> str | None:
    """The USCC of a legal person's row, checked; only an individual business may have none."""
    if uscc_text:
        try:
            return validate_uscc(uscc_text)
        except IdentifierError as exc:
            raise RowError("uscc", str(exc)) from None
    if kind is not LegalPersonKind.INDIVIDUAL_BUSINESS:
        raise RowError(
            "uscc", "is required (only individual businesses may go by registration_number)"
        )
    return None


def _registration_key(
    reg_no: str | None, uscc: str | None, operator: _Identity | None
) -> str | None:
    """The registration number, checked and normalised; a business without a USCC must be known
    by it or by its operator."""
    if uscc is None and not reg_no and operator is None:
        raise RowError(
            "uscc",
            "is required, or else the business's registration_number or its operator's "
            "identity (operator_id_type, operator_id_number)",
        )
    if not reg_no:
        return None
    try:
        validate_registration_number(reg_no)
    except IdentifierError as exc:
        raise RowError("registration_number", str(exc)) from None
    return normalise_code(reg_no)


def _region_code(values: Mapping[str, str]) -> str | None:
    region = _cell(values, "region_code")
    if region and (problem := region_problem(region, 6)):
        raise RowError("region_code", f"{region!r} is not a region code ({problem})")
    return region


def _checked_org_code(values: Mapping[str, str], uscc: str | None) -> str | None:
    """The organisation code as given, which must be the one inside the USCC; else the USCC's."""
    org_text = _code_cell(values, "org_code")
    if not org_text:
        return uscc[8:17] if uscc else None
    try:
        org_code = validate_org_code(org_text)
    except IdentifierError as exc:
        raise RowError("org_code", str(exc)) from None
    if uscc and uscc[8:17] != org_code:
        raise RowError("org_code", "does not match the organisation code inside the USCC")
    return org_code


def _registration_properties(ctx: ParseContext, values: Mapping[str, str]) -> Props:
    return {
        "registered_on": _happened(
            ctx, "registered_on", _date(values, "registered_on"), "registered", "a legal person"
        ),
        "status": (
            _optional_code(values, "status", RegistrationStatus) or RegistrationStatus.ACTIVE
        ).value,
        "registered_capital": _amount(values, "registered_capital"),
    }


def _operator_key(ctx: ParseContext, operator: _Identity | None) -> str | None:
    if operator is None:
        return None
    return operator_token(ctx.person_key, operator.id_type, operator.number, operator.country)


def _operator_properties(operator_key: str | None, operator: _Identity | None) -> Props:
    """The operator of an individual business: its keyed token (never the number) and masked
    form, as a natural person's (`OPR:` references find the business by it)."""
    return {
        "operator_key": operator_key,
        "operator_id_type": operator.id_type.value if operator else None,
        "operator_id_masked": operator.masked if operator else None,
        "operator_country": operator.country if operator else None,
    }


# the columns of an individual business's operator's identity, as natural_persons.csv's
OPERATOR_FIELDS = ("operator_id_type", "operator_id_number", "operator_country")


def _operator(
    ctx: ParseContext, values: Mapping[str, str], kind: LegalPersonKind
) -> _Identity | None:
    """The operator's identity document of an individual business, checked as a natural
    person's; None when the row gives none. Another kind of legal person has no operator."""
    given = [name for name in OPERATOR_FIELDS if _code_cell(values, name)]
    if not given:
        return None
    if kind is not LegalPersonKind.INDIVIDUAL_BUSINESS:
        raise RowError(
            given[0],
            f"only an individual business has an operator (this row's kind is {kind.value})",
        )
    if _cell(values, "operator_id_number") is None:
        raise RowError("operator_id_number", f"is required when {given[0]} is given")
    return _identity(ctx, values, "operator_id_type", "operator_id_number", "operator_country")


def contact_properties(values: Mapping[str, str]) -> Props:
    """Phone and e-mail as loaded, plus the keys suspected-link queries match on.

    Phone key: the digits only; e-mail key: lower case (queries/links.py).
    """
    phone, email = _cell(values, "phone"), _cell(values, "email")
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return {
        "phone": phone,
        "email": email,
        "phone_key": digits or None,
        "email_key": email.lower() if email else None,
    }


@dataclass(frozen=True)
class _Identity:
    """A person's identity document, checked: the number normalised (never stored), its masked
    form, and for a resident ID the sex its digit 17 gives."""

    id_type: PersonIdType
    number: str
    country: str
    masked: str
    sex: str | None


def _identity(
    ctx: ParseContext,
    values: Mapping[str, str],
    type_field: str,
    number_field: str,
    country_field: str,
) -> _Identity:
    """The identity document in these columns, checked as `natural_persons.csv` checks its
    `id_type`, `id_number` and `country`; a failure names the column."""
    id_type = _code(values, type_field, PersonIdType)
    number = _required_code(values, number_field)
    if is_masked(number):
        raise RowError(number_field, "is a masked identifier and cannot be a key")
    if id_type is PersonIdType.RESIDENT:
        number = upgraded_resident_id(normalise_code(number))
        try:
            parsed = validate_resident_id(number, today=ctx.today)
        except IdentifierError as exc:
            raise RowError(number_field, str(exc)) from None
        return _Identity(id_type, number, "CN", mask_resident_id(parsed.number), parsed.sex)
    country = (_cell(values, country_field) or "").upper()
    if len(country) != 2:
        raise RowError(country_field, "is required for non-resident documents (ISO alpha-2)")
    return _Identity(id_type, number, country, mask_document(number), None)


def parse_natural_person(ctx: ParseContext, values: Mapping[str, str]) -> NodeRow:
    identity = _identity(ctx, values, "id_type", "id_number", "country")
    sex = (_cell(values, "sex") or "").upper() or None
    if sex not in (None, "M", "F"):
        raise RowError("sex", f"{sex!r} is not M or F")
    if identity.sex is not None:
        if sex and sex != identity.sex:
            raise RowError("sex", "does not agree with the resident ID number")
        sex = identity.sex
    name = _required(values, "name")
    props: Props = {
        "id_type": identity.id_type.value,
        "id_masked": identity.masked,
        "country": identity.country,
        "name": _stored_name(values),
        "name_key": name_key(name),
        "sex": sex,
        "strong_id": True,
        **contact_properties(values),
    }
    uid = person_uid(ctx, identity.id_type, identity.number, identity.country)
    operator_key = operator_token(
        ctx.person_key, identity.id_type, identity.number, identity.country
    )
    return NodeRow(Label.NATURAL_PERSON, uid, props, operator_key=operator_key)


def _source_record(values: Mapping[str, str]) -> str:
    return _required_code(values, "source_record")


def parse_role(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    person = parse_party_ref(ctx, values, "person_id_number", Label.NATURAL_PERSON)
    if person.label is not Label.NATURAL_PERSON:
        raise RowError("person_id_number", "must identify a natural person")
    company = parse_party_ref(ctx, values, "company_id", Label.LEGAL_PERSON)
    if company.label is not Label.LEGAL_PERSON:
        raise RowError("company_id", "must identify a legal person")
    role = _code(values, "role", Role)
    props = {
        "role": role.value,
        "matter": _cell(values, "matter"),
        "project_role": _project_role(values, role is Role.PROJECT_PARTICIPANT, role.value),
        **_validity(values),
    }
    return RelationRow(ROLE_RELATION[role], person, company, _source_record(values), props)


def parse_shareholding(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    holder = parse_party_ref(ctx, values, "holder_id")
    company = parse_party_ref(ctx, values, "company_id", Label.LEGAL_PERSON)
    if company.label is not Label.LEGAL_PERSON:
        raise RowError("company_id", "must identify a legal person")
    if holder == company:
        raise RowError("holder_id", "a company cannot hold itself")
    props = {
        "stake": _number(values, "stake", low=0, high=1),
        "subscribed_capital": _amount(values, "subscribed_capital"),
        **_validity(values),
    }
    return RelationRow(RelationType.SHAREHOLDER_OF, holder, company, _source_record(values), props)


def parse_firm_relation(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    source = parse_party_ref(ctx, values, "from_id", Label.LEGAL_PERSON)
    target = parse_party_ref(ctx, values, "to_id", Label.LEGAL_PERSON)
    for name, ref in (("from_id", source), ("to_id", target)):
        if ref.label is not Label.LEGAL_PERSON:
            raise RowError(name, "must identify a legal person")
    if source == target:
        raise RowError("to_id", "a relation needs two different parties")
    relation = _code(values, "relation", FirmRelation)
    props = {
        "relation": relation.value,
        "amount": _amount(values, "amount"),
        "matter": _cell(values, "matter"),  # for `participates_in`: the project
        "project_role": _project_role(
            values, relation is FirmRelation.PARTICIPATES_IN, relation.value
        ),
        **_validity(values),
    }
    return RelationRow(FIRM_RELATION_TYPE[relation], source, target, _source_record(values), props)


def _project_role(values: Mapping[str, str], participates: bool, kind: str) -> str | None:
    """A project participant's part in the project (`project_role`: 总承包, 分包, 监理, 设计 …),
    free text kept as loaded; refused on a row of another kind, which has no project to have a
    part in (a column shifted by one, or a role meant for another row)."""
    part = _cell(values, "project_role")
    if part is not None and not participates:
        raise RowError(
            "project_role",
            f"is given for a {kind} row: only a project participation (`project_participant` "
            "in roles.csv, `participates_in` in firm_relations.csv) has a role in a project; "
            "leave it empty",
        )
    return part


_RECORD_TEXT_FIELDS = (
    "sector",
    "list_name",
    "scheme",
    "grade",
    "legal_basis",
    "decision_number",
    "city",
    "court",
    "case_number",
    "enforcement_basis",
    "obligation",
    "performance",
    "dishonest_behaviour",
    "description",
)


def parse_record(ctx: ParseContext, values: Mapping[str, str]) -> RecordRow:
    record_id = _required_code(values, "record_id")
    subject = parse_party_ref(ctx, values, "subject_id")
    kind = _code(values, "kind", RecordKind)
    status = _code(values, "status", RecordStatus)
    disclosure = _code(values, "disclosure", Disclosure)
    source_system = _required(values, "source_system")
    if kind is RecordKind.GRADE and not (_cell(values, "scheme") and _cell(values, "grade")):
        raise RowError("scheme", "grades need a scheme and a grade value")
    if kind is RecordKind.DISHONEST_DEBTOR:
        # the court's list names the court and the enforcement case (DOMAIN.md, "Credit records")
        for name in ("court", "case_number"):
            if _cell(values, name) is None:
                raise RowError(name, "is required for a dishonest judgment debtor")
    if status is RecordStatus.REPAIRED and RECORD_LABEL[kind] is not Label.SANCTION_EVENT:
        # as a status_changes row's repair of such a record is (loader.py `_change_problem`)
        raise RowError("status", f"repaired: credit repair ends a negative record, not a {kind}")
    props: Props = {name: _cell(values, name) for name in _RECORD_TEXT_FIELDS}
    # codes, not labels: a record under `旅游` would match no screening by `tourism`. Sectors
    # and grade schemes differ between cities (DOMAIN.md), so a city may add its own codes
    props["sector"] = _code_word(values, "sector", Sector)
    props["scheme"] = _code_word(values, "scheme", GradeScheme)
    city = _cell(values, "city")
    if city and (problem := region_problem(city, 4)):
        known = ", ".join(c.value for c in City)
        raise RowError("city", f"{city!r} is not a city's region prefix ({problem}: {known} …)")
    props.update(
        record_id=record_id,
        kind=kind.value,
        status=status.value,
        listed_status=status.value,
        disclosure=disclosure.value,
        source_system=source_system,
        decision_date=_happened(ctx, "decision_date", _date(values, "decision_date"), "decided"),
        published_on=_happened(ctx, "published_on", _date(values, "published_on"), "published"),
        disclosure_until=_date(values, "disclosure_until"),
        authority_name=_cell(values, "authority_name"),
        **_validity(values),
    )
    # the day the listed status began: stored as the record's `status_since` (the day its
    # status took effect, as a status change sets it) and kept as `listed_status_since`, which
    # the record's status is folded from again whenever a change arrives (graph/lifecycle.py)
    since = _status_since(ctx, values, status, record_start(props))
    props.update(status_since=since, listed_status_since=since)
    authority = _authority(values)
    uid = f"{normalise_code(source_system)}:{record_id}"
    return RecordRow(RECORD_LABEL[kind], uid, subject, record_id, props, authority)


def _status_since(
    ctx: ParseContext, values: Mapping[str, str], status: RecordStatus, starts_on: date | None
) -> date | None:
    """The day a repaired, revoked or expired record's status began (`status_since`), checked
    as a `status_changes.csv` row's `effective_on` is: not after the load's day, and a repair or
    expiry not before the record starts."""
    since = _date(values, "status_since")
    if since is None:
        return None
    if status not in ENDED_STATUSES:
        raise RowError(
            "status_since",
            f"is given for a record listed as {status.value}: only a repaired, revoked or "
            "expired record's status has a start day here; leave it empty (an objection's "
            "dates go in status_changes rows)",
        )
    _happened(ctx, "status_since", since, status.value)
    if status is not RecordStatus.REVOKED and starts_on is not None and since < starts_on:
        raise RowError(
            "status_since",
            f"{since.isoformat()} is before the record starts ({starts_on.isoformat()}): "
            f"a record cannot be {status.value} before it counts",
        )
    return since


def _happened(
    ctx: ParseContext, name: str, day: date | None, what: str, party: str = "a record"
) -> date | None:
    """`day`, the date of something that has happened (column `name`) to `party`, checked: not
    after the load's day (`ParseContext.today`); a year typed wrong (2099) would otherwise keep
    a record out of every as-of date until then."""
    if day is not None and day > ctx.today:
        raise RowError(
            name,
            f"{day.isoformat()} is after the load's day ({ctx.today.isoformat()}): "
            f"{party} cannot have been {what} in the future",
        )
    return day


def _authority(values: Mapping[str, str]) -> NodeRow | None:
    code, name = _cell(values, "authority_code"), _cell(values, "authority_name")
    if not code and not name:
        return None
    uid = normalise_code(code) if code else f"NAME:{name_key(name or '')}"
    return NodeRow(Label.AUTHORITY, uid, {"code": code, "name": name})


def parse_legacy_identifier(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    """A legacy code of a legal person that now carries a USCC: an `ALIAS_OF` link."""
    try:
        uscc = validate_uscc(_required_code(values, "uscc"))
    except IdentifierError as exc:
        raise RowError("uscc", str(exc)) from None
    code_type = _code(values, "legacy_type", LegacyCodeType)
    code = _legacy_code(code_type, _required_code(values, "legacy_code"), uscc)
    props = {"type": code_type.value, "code": code, **_validity(values)}
    alias = PartyRef(Label.LEGACY_CODE, legacy_uid(code_type, code))
    return RelationRow(
        RelationType.ALIAS_OF, alias, PartyRef(Label.LEGAL_PERSON, uscc), alias.uid, props
    )


def legacy_uid(code_type: LegacyCodeType, code: str) -> str:
    return f"{code_type.value}:{code}"


def _legacy_code(code_type: LegacyCodeType, text: str, uscc: str) -> str:
    try:
        if code_type is LegacyCodeType.ORG_CODE:
            code = validate_org_code(text)
            if code != uscc[8:17]:
                raise RowError("legacy_code", "is not the organisation code inside the USCC")
            return code
        if code_type is LegacyCodeType.REGISTRATION_NUMBER:
            return validate_registration_number(text)
    except IdentifierError as exc:
        raise RowError("legacy_code", str(exc)) from None
    code = normalise_code(text)
    if not code.isalnum() or not 15 <= len(code) <= 20:
        raise RowError("legacy_code", f"a {code_type.value} has 15 to 20 letters and digits")
    return code


def parse_status_change(ctx: ParseContext, values: Mapping[str, str]) -> ChangeRow:
    """A revocation, repair, expiry or objection of a record loaded before (or in this run)."""
    change_id = _required_code(values, "change_id")
    record_id = _required_code(values, "record_id")
    source_system = _required(values, "source_system")
    change = _code(values, "change", StatusChangeKind)
    effective_on = _date(values, "effective_on")
    if effective_on is None:
        raise RowError("effective_on", "is required")
    record_uid = f"{normalise_code(source_system)}:{record_id}"
    props: Props = {
        "record_uid": record_uid,
        "change": change.value,
        "effective_on": effective_on,
        "decision_number": _cell(values, "decision_number"),
        "note": _cell(values, "note"),
        "source_record": change_id,
    }
    return ChangeRow(status_change_uid(record_uid, change_id), record_uid, change_id, props)
