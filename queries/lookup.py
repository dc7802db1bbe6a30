"""Finding parties by identifier and reading them with their credit records.

An identifier as a user types it (a USCC, a legacy organisation code or registration number,
a resident ID number, `REG:`/`DOC:` references, or the opaque id credgraph returns) resolves
to a `PartyKey`. A resident ID number is hashed on arrival and never leaves this module.
Reads are batched: one statement per label for any number of keys.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, LiteralString

from credgraph.graph.identifiers import (
    IdentifierError,
    is_masked,
    normalise_code,
    person_token,
    validate_org_code,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType

LEGAL_PERSONS_BY_UID: LiteralString = """
UNWIND $uids AS uid
MATCH (n:LegalPerson {uid: uid})
RETURN n {.*} AS node
"""

NATURAL_PERSONS_BY_UID: LiteralString = """
UNWIND $uids AS uid
MATCH (n:NaturalPerson {uid: uid})
RETURN n {.*} AS node
"""

LEGAL_PERSON_BY_ORG_CODE: LiteralString = """
MATCH (n:LegalPerson {org_code: $code})
RETURN n.uid AS uid
LIMIT 2
"""

LEGAL_PERSON_BY_REGISTRATION_NUMBER: LiteralString = """
MATCH (n:LegalPerson {registration_number: $number})
RETURN n.uid AS uid
LIMIT 2
"""

RECORDS_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:LegalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(a:Authority)
RETURN uid AS subject, labels(r) AS labels, r {.*} AS record, a.name AS authority
"""

RECORDS_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:NaturalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(a:Authority)
RETURN uid AS subject, labels(r) AS labels, r {.*} AS record, a.name AS authority
"""

_BY_UID: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_BY_UID,
    Label.NATURAL_PERSON: NATURAL_PERSONS_BY_UID,
}
_RECORDS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: RECORDS_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: RECORDS_OF_NATURAL_PERSONS,
}
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_RECORD_LABELS = {
    label.value: label for label in (Label.SANCTION_EVENT, Label.COMMENDATION, Label.CREDIT_GRADE)
}


class BadIdentifier(ValueError):
    """An identifier argument that cannot be used; the message never repeats a person's number."""


@dataclass(frozen=True)
class PartyKey:
    label: Label
    uid: str


def resolve_identifier(store: GraphStore, raw: str, person_key: bytes) -> PartyKey | None:
    """The party an identifier names, or None when the store has no such party.

    Raises BadIdentifier for input that is no identifier at all, or is masked.
    """
    text = raw.strip()
    if not text:
        raise BadIdentifier("id is empty")
    if _TOKEN.match(text):
        return _existing(store, PartyKey(Label.NATURAL_PERSON, text))
    code = normalise_code(text)
    if is_masked(code):
        raise BadIdentifier("id is masked; give the full identifier")
    if code.startswith("REG:"):
        return _existing(store, PartyKey(Label.LEGAL_PERSON, code))
    if code.startswith("DOC:"):
        parts = text.split(":", 3)
        if len(parts) != 4 or parts[1].strip().lower() not in PersonIdType.__members__.values():
            raise BadIdentifier("document id must be DOC:<type>:<country>:<number>")
        token = person_token(person_key, PersonIdType(parts[1].strip().lower()), parts[3], parts[2])
        return _existing(store, PartyKey(Label.NATURAL_PERSON, token))
    if len(code) == 18:
        return _resolve_18(store, code, person_key)
    if len(code) == 9:
        try:
            org_code = validate_org_code(code)
        except IdentifierError as exc:
            raise BadIdentifier(f"not a valid organisation code: {exc}") from None
        return _unique(store.read(LEGAL_PERSON_BY_ORG_CODE, {"code": org_code}, operation="lookup"))
    if code.isdigit() and len(code) in (13, 15):
        return _unique(
            store.read(LEGAL_PERSON_BY_REGISTRATION_NUMBER, {"number": code}, operation="lookup")
        )
    raise BadIdentifier("id is not a USCC, organisation code, registration number or resident ID")


def _resolve_18(store: GraphStore, code: str, person_key: bytes) -> PartyKey | None:
    try:
        return _existing(store, PartyKey(Label.LEGAL_PERSON, validate_uscc(code)))
    except IdentifierError as uscc_error:
        try:
            validate_resident_id(code)
        except IdentifierError:
            if code[:17].isdigit():
                raise BadIdentifier(
                    "not a valid resident ID number (check character or birth date)"
                ) from None
            raise BadIdentifier(f"not a valid USCC: {uscc_error}") from None
    token = person_token(person_key, PersonIdType.RESIDENT, code)
    return _existing(store, PartyKey(Label.NATURAL_PERSON, token))


def _existing(store: GraphStore, key: PartyKey) -> PartyKey | None:
    rows = store.read(_BY_UID[key.label], {"uids": [key.uid]}, operation="lookup")
    return key if rows else None


def _unique(rows: list[dict[str, Any]]) -> PartyKey | None:
    # a legacy code shared by two parties names neither: an ambiguous match is no match
    return PartyKey(Label.LEGAL_PERSON, rows[0]["uid"]) if len(rows) == 1 else None


def fetch_parties(store: GraphStore, keys: Iterable[PartyKey]) -> dict[PartyKey, dict[str, Any]]:
    """The stored properties of many parties: one read per label."""
    by_label = _group(keys)
    found: dict[PartyKey, dict[str, Any]] = {}
    for label, uids in by_label.items():
        for row in store.read(_BY_UID[label], {"uids": uids}, operation="lookup.parties"):
            found[PartyKey(label, row["node"]["uid"])] = row["node"]
    return found


def fetch_records(
    store: GraphStore, keys: Iterable[PartyKey]
) -> dict[PartyKey, list[dict[str, Any]]]:
    """Every credit record of many parties, with its record label and issuing authority."""
    records: dict[PartyKey, list[dict[str, Any]]] = defaultdict(list)
    for label, uids in _group(keys).items():
        for row in store.read(_RECORDS[label], {"uids": uids}, operation="lookup.records"):
            record_label = next(
                (_RECORD_LABELS[x] for x in row["labels"] if x in _RECORD_LABELS),
                Label.SANCTION_EVENT,
            )
            record = {**row["record"], "label": record_label.value, "authority": row["authority"]}
            records[PartyKey(label, row["subject"])].append(record)
    return records


def _group(keys: Iterable[PartyKey]) -> dict[Label, list[str]]:
    grouped: dict[Label, list[str]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        grouped[key.label].append(key.uid)
    return grouped
