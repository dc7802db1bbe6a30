"""Source rows to validated canonical rows, one function per canonical file.

Each `parse_*` function takes the raw cells of one row and returns the row to write, or raises
`RowError` naming the field and the reason. Nothing reaches the store unchecked: identifiers
are normalised and their check characters verified, dates and numbers parsed, codes looked up
in the closed vocabulary. Resident ID numbers are turned into keyed tokens here and never
travel further; error messages never repeat them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from credgraph.graph.identifiers import (
    IdentifierError,
    is_masked,
    mask_document,
    mask_resident_id,
    normalise_code,
    normalise_text,
    person_token,
    validate_org_code,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.names import name_key
from credgraph.graph.vocabulary import (
    FIRM_RELATION_TYPE,
    RECORD_LABEL,
    ROLE_RELATION,
    Disclosure,
    FirmRelation,
    Label,
    LegalPersonKind,
    PersonIdType,
    RecordKind,
    RecordStatus,
    RelationType,
    Role,
)

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
    label: Label
    uid: str


@dataclass(frozen=True)
class NodeRow:
    label: Label
    uid: str
    props: Props


@dataclass(frozen=True)
class RelationRow:
    type: RelationType
    source: PartyRef
    target: PartyRef
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
    today: date = field(default_factory=date.today)


# --- cell helpers ------------------------------------------------------------------------------


def _cell(values: Mapping[str, str], name: str) -> str | None:
    raw = values.get(name)
    if raw is None:
        return None
    text = normalise_text(raw)
    return text or None


def _required(values: Mapping[str, str], name: str) -> str:
    text = _cell(values, name)
    if text is None:
        raise RowError(name, "is required")
    return text


def _date(values: Mapping[str, str], name: str) -> date | None:
    text = _cell(values, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(name, f"{text!r} is not a date (YYYY-MM-DD)") from None


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
    if (low is not None and number < low) or (high is not None and number > high):
        raise RowError(name, f"{number:g} is outside {low:g}..{high:g}")
    return number


def _code(values: Mapping[str, str], name: str, enum: type[_E]) -> _E:
    text = _required(values, name).lower()
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RowError(name, f"{text!r} is not one of: {allowed}") from None


def _validity(values: Mapping[str, str]) -> Props:
    valid_from, valid_to = _date(values, "valid_from"), _date(values, "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise RowError("valid_to", "is before valid_from")
    return {"valid_from": valid_from, "valid_to": valid_to}


# --- party references ------------------------------------------------------------------------


def person_uid(ctx: ParseContext, id_type: PersonIdType, number: str, country: str = "CN") -> str:
    return person_token(ctx.person_key, id_type, number, country)


def parse_party_ref(ctx: ParseContext, values: Mapping[str, str], name: str) -> PartyRef:
    """Resolve a party reference cell (docs/formats.md) to a label and uid."""
    text = _required(values, name)
    code = normalise_code(text)
    if is_masked(code):
        raise RowError(name, "is a masked identifier and cannot be matched")
    if code.startswith("REG:"):
        return PartyRef(Label.LEGAL_PERSON, code)
    if code.startswith("DOC:"):
        parts = text.split(":", 3)
        if len(parts) != 4:
            raise RowError(name, "document reference must be DOC:<type>:<country>:<number>")
        try:
            id_type = PersonIdType(parts[1].strip().lower())
        except ValueError:
            raise RowError(name, f"unknown document type {parts[1]!r}") from None
        return PartyRef(Label.NATURAL_PERSON, person_uid(ctx, id_type, parts[3], parts[2]))
    looks_personal = len(code) == 18 and code[:17].isdigit() and not _plausible_uscc(code)
    if looks_personal:
        try:
            validate_resident_id(code, today=ctx.today)
        except IdentifierError as exc:
            raise RowError(name, str(exc)) from None
        return PartyRef(Label.NATURAL_PERSON, person_uid(ctx, PersonIdType.RESIDENT, code))
    try:
        return PartyRef(Label.LEGAL_PERSON, validate_uscc(code))
    except IdentifierError as exc:
        raise RowError(name, str(exc)) from None


def _plausible_uscc(code: str) -> bool:
    try:
        validate_uscc(code)
    except IdentifierError:
        return False
    return True


# --- files -----------------------------------------------------------------------------------


def parse_legal_person(ctx: ParseContext, values: Mapping[str, str]) -> NodeRow:
    kind = _code(values, "kind", LegalPersonKind)
    uscc_text = _cell(values, "uscc")
    reg_no = _cell(values, "registration_number")
    uscc: str | None = None
    if uscc_text:
        try:
            uscc = validate_uscc(uscc_text)
        except IdentifierError as exc:
            raise RowError("uscc", str(exc)) from None
    elif kind is not LegalPersonKind.INDIVIDUAL_BUSINESS or not reg_no:
        raise RowError(
            "uscc", "is required (only individual businesses may go by registration_number)"
        )
    org_code: str | None = None
    if org_text := _cell(values, "org_code"):
        try:
            org_code = validate_org_code(org_text)
        except IdentifierError as exc:
            raise RowError("org_code", str(exc)) from None
        if uscc and uscc[8:17] != org_code:
            raise RowError("org_code", "does not match the organisation code inside the USCC")
    elif uscc:
        org_code = uscc[8:17]
    name = _required(values, "name")
    reg_key = normalise_code(reg_no) if reg_no else None
    uid = uscc or f"REG:{reg_key}"
    props: Props = {
        "uscc": uscc,
        "registration_number": reg_key,
        "org_code": org_code,
        "name": values.get("name", "").strip(),
        "name_key": name_key(name),
        "kind": kind.value,
        "region_code": _cell(values, "region_code") or (uscc[2:8] if uscc else None),
        "registered_on": _date(values, "registered_on"),
        "status": (_cell(values, "status") or "active").lower(),
        "registered_capital": _number(values, "registered_capital", low=0),
        "address": _cell(values, "address"),
        "industry": _cell(values, "industry"),
    }
    return NodeRow(Label.LEGAL_PERSON, uid, props)


def parse_natural_person(ctx: ParseContext, values: Mapping[str, str]) -> NodeRow:
    id_type = _code(values, "id_type", PersonIdType)
    number = _required(values, "id_number")
    if is_masked(number):
        raise RowError("id_number", "is a masked identifier and cannot be a key")
    sex = (_cell(values, "sex") or "").upper() or None
    if sex not in (None, "M", "F"):
        raise RowError("sex", f"{sex!r} is not M or F")
    country = "CN"
    if id_type is PersonIdType.RESIDENT:
        try:
            parsed = validate_resident_id(number, today=ctx.today)
        except IdentifierError as exc:
            raise RowError("id_number", str(exc)) from None
        if sex and sex != parsed.sex:
            raise RowError("sex", "does not agree with the resident ID number")
        sex, masked = parsed.sex, mask_resident_id(parsed.number)
    else:
        country = (_cell(values, "country") or "").upper()
        if len(country) != 2:
            raise RowError("country", "is required for non-resident documents (ISO alpha-2)")
        masked = mask_document(number)
    name = _required(values, "name")
    props: Props = {
        "id_type": id_type.value,
        "id_masked": masked,
        "country": country,
        "name": values.get("name", "").strip(),
        "name_key": name_key(name),
        "sex": sex,
    }
    return NodeRow(Label.NATURAL_PERSON, person_uid(ctx, id_type, number, country), props)


def _source_record(values: Mapping[str, str]) -> str:
    return _required(values, "source_record")


def parse_role(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    person = parse_party_ref(ctx, values, "person_id_number")
    if person.label is not Label.NATURAL_PERSON:
        raise RowError("person_id_number", "must identify a natural person")
    company = parse_party_ref(ctx, values, "company_id")
    if company.label is not Label.LEGAL_PERSON:
        raise RowError("company_id", "must identify a legal person")
    role = _code(values, "role", Role)
    props = {"role": role.value, "matter": _cell(values, "matter"), **_validity(values)}
    return RelationRow(ROLE_RELATION[role], person, company, _source_record(values), props)


def parse_shareholding(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    holder = parse_party_ref(ctx, values, "holder_id")
    company = parse_party_ref(ctx, values, "company_id")
    if company.label is not Label.LEGAL_PERSON:
        raise RowError("company_id", "must identify a legal person")
    if holder == company:
        raise RowError("holder_id", "a company cannot hold itself")
    props = {
        "stake": _number(values, "stake", low=0, high=1),
        "subscribed_capital": _number(values, "subscribed_capital", low=0),
        **_validity(values),
    }
    return RelationRow(RelationType.SHAREHOLDER_OF, holder, company, _source_record(values), props)


def parse_firm_relation(ctx: ParseContext, values: Mapping[str, str]) -> RelationRow:
    source = parse_party_ref(ctx, values, "from_id")
    target = parse_party_ref(ctx, values, "to_id")
    for name, ref in (("from_id", source), ("to_id", target)):
        if ref.label is not Label.LEGAL_PERSON:
            raise RowError(name, "must identify a legal person")
    if source == target:
        raise RowError("to_id", "a relation needs two different parties")
    relation = _code(values, "relation", FirmRelation)
    props = {
        "relation": relation.value,
        "amount": _number(values, "amount", low=0),
        **_validity(values),
    }
    return RelationRow(FIRM_RELATION_TYPE[relation], source, target, _source_record(values), props)


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
    "obligation",
    "performance",
    "dishonest_behaviour",
    "description",
)


def parse_record(ctx: ParseContext, values: Mapping[str, str]) -> RecordRow:
    record_id = _required(values, "record_id")
    subject = parse_party_ref(ctx, values, "subject_id")
    kind = _code(values, "kind", RecordKind)
    status = _code(values, "status", RecordStatus)
    disclosure = _code(values, "disclosure", Disclosure)
    source_system = _required(values, "source_system")
    if kind is RecordKind.GRADE and not (_cell(values, "scheme") and _cell(values, "grade")):
        raise RowError("scheme", "grades need a scheme and a grade value")
    props: Props = {name: _cell(values, name) for name in _RECORD_TEXT_FIELDS}
    props.update(
        record_id=record_id,
        kind=kind.value,
        status=status.value,
        disclosure=disclosure.value,
        source_system=source_system,
        decision_date=_date(values, "decision_date"),
        published_on=_date(values, "published_on"),
        disclosure_until=_date(values, "disclosure_until"),
        authority_name=_cell(values, "authority_name"),
        **_validity(values),
    )
    authority = _authority(values)
    uid = f"{normalise_code(source_system)}:{record_id}"
    return RecordRow(RECORD_LABEL[kind], uid, subject, record_id, props, authority)


def _authority(values: Mapping[str, str]) -> NodeRow | None:
    code, name = _cell(values, "authority_code"), _cell(values, "authority_name")
    if not code and not name:
        return None
    uid = normalise_code(code) if code else f"NAME:{name_key(name or '')}"
    return NodeRow(Label.AUTHORITY, uid, {"code": code, "name": name})
