"""Finding parties by identifier or by name, and reading them with their credit records.

An identifier as a user types it (a USCC, a legacy organisation code, registration number, tax
number or institution credit code, a resident ID number, `REG:`/`DOC:` references, or the opaque
id credgraph returns) resolves to a `PartyKey`. A resident ID number is hashed on arrival and
never leaves this module. Legacy codes resolve through the legal person's own properties
(`org_code`, `registration_number`) and through `(:LegacyCode)-[:ALIAS_OF]->(:LegalPerson)`
aliases; a code that two parties share names neither.

Name search (`search_by_name`) ranks by the score documented in docs/queries.md: exact match of
the name key, then prefix, then substring; within a tier the shorter name first, then the uid.
A party's other names (former names, aliases: `OtherName` nodes) are searched too, each match
a little below the same match on a current name; a party is listed once.
Reads are batched: one statement per label for any number of keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, LiteralString, NamedTuple

from credgraph.graph.identifiers import (
    FTM_PREFIX,
    OPERATOR_PREFIX,
    PERSON_TOKEN_SHAPE,
    IdentifierError,
    is_masked,
    is_valid_resident_id,
    is_valid_uscc,
    normalise_code,
    operator_token,
    person_token,
    upgraded_resident_id,
    validate_org_code,
    validate_registration_number,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.names import name_key
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_LABELS, Label, LegacyCodeType, PersonIdType
from credgraph.queries.caches import LruCache, Observer
from credgraph.queries.ftm_ids import ftm_parties, store_sources

# the individual businesses keyed by a USCC or `REG:` that give this operator key: where an
# `OPR:<key>` business folded in (loaders/fold.py)
LEGAL_PERSONS_BY_OPERATOR_KEY: LiteralString = """
MATCH (n:LegalPerson {operator_key: $key})
WHERE NOT n.uid STARTS WITH 'OPR:'
RETURN n.uid AS uid
"""

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

# a party's card: what names and describes it, without its lineage (`fetch_party_cards`)
LEGAL_PERSON_CARDS_BY_UID: LiteralString = """
UNWIND $uids AS uid
MATCH (n:LegalPerson {uid: uid})
RETURN n {.uid, .name, .kind, .uscc, .registration_number, .org_code, .region_code,
          .registered_on, .status, .address, .industry} AS node
"""

NATURAL_PERSON_CARDS_BY_UID: LiteralString = """
UNWIND $uids AS uid
MATCH (n:NaturalPerson {uid: uid})
RETURN n {.uid, .name, .id_type, .id_masked, .sex} AS node
"""

LEGAL_PERSON_EXISTS: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})
RETURN n.uid AS uid
"""

NATURAL_PERSON_EXISTS: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})
RETURN n.uid AS uid
"""

# what a legal person went by before: the uids of the parties folded into it (loaders/fold.py),
# and the registration numbers it carries or holds as aliases (each the number of a `REG:` uid)
LEGAL_PERSON_FORMER_IDS: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})
OPTIONAL MATCH (code:LegacyCode)-[:ALIAS_OF]->(n)
WHERE code.uid STARTS WITH $alias_prefix
RETURN n.former_uids AS former, n.registration_number AS number, collect(code.uid) AS aliases
"""

NATURAL_PERSON_FORMER_IDS: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})
RETURN n.former_uids AS former, null AS number, [] AS aliases
"""

_FORMER_IDS = {
    Label.LEGAL_PERSON: LEGAL_PERSON_FORMER_IDS,
    Label.NATURAL_PERSON: NATURAL_PERSON_FORMER_IDS,
}

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

# legacy codes kept as alias nodes (`<type>:<code>`, loaders/rows.py `legacy_uid`)
LEGAL_PERSONS_BY_ALIAS: LiteralString = """
UNWIND $aliases AS alias
MATCH (:LegacyCode {uid: alias})-[:ALIAS_OF]->(n:LegalPerson)
RETURN DISTINCT n.uid AS uid
LIMIT 2
"""

# name search: exact key (index equality), prefix (an index range: ArcadeDB answers STARTS WITH
# by scanning every name, a range predicate from the index), substring (a scan, opt-in)
LEGAL_PERSONS_NAMED: LiteralString = """
MATCH (n:LegalPerson {name_key: $key})
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

NATURAL_PERSONS_NAMED: LiteralString = """
MATCH (n:NaturalPerson {name_key: $key})
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

LEGAL_PERSONS_NAME_PREFIX: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.name_key >= $key AND n.name_key < $upper
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

NATURAL_PERSONS_NAME_PREFIX: LiteralString = """
MATCH (n:NaturalPerson)
WHERE n.name_key >= $key AND n.name_key < $upper
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

LEGAL_PERSONS_NAME_SUBSTRING: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.name_key CONTAINS $key AND NOT n.name_key STARTS WITH $key
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

NATURAL_PERSONS_NAME_SUBSTRING: LiteralString = """
MATCH (n:NaturalPerson)
WHERE n.name_key CONTAINS $key AND NOT n.name_key STARTS WITH $key
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key
LIMIT $cap
"""

# the same over other names (`OtherName` nodes: former names, aliases; loaders/names.py): each
# read gives the party with the other name that matched, through the other names' key index
LEGAL_PERSONS_OTHER_NAMED: LiteralString = """
MATCH (o:OtherName {name_key: $key})-[:NAME_OF]->(n:LegalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

NATURAL_PERSONS_OTHER_NAMED: LiteralString = """
MATCH (o:OtherName {name_key: $key})-[:NAME_OF]->(n:NaturalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

LEGAL_PERSONS_OTHER_NAME_PREFIX: LiteralString = """
MATCH (o:OtherName)
WHERE o.name_key >= $key AND o.name_key < $upper
MATCH (o)-[:NAME_OF]->(n:LegalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

NATURAL_PERSONS_OTHER_NAME_PREFIX: LiteralString = """
MATCH (o:OtherName)
WHERE o.name_key >= $key AND o.name_key < $upper
MATCH (o)-[:NAME_OF]->(n:NaturalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

LEGAL_PERSONS_OTHER_NAME_SUBSTRING: LiteralString = """
MATCH (o:OtherName)
WHERE o.name_key CONTAINS $key AND NOT o.name_key STARTS WITH $key
MATCH (o)-[:NAME_OF]->(n:LegalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

NATURAL_PERSONS_OTHER_NAME_SUBSTRING: LiteralString = """
MATCH (o:OtherName)
WHERE o.name_key CONTAINS $key AND NOT o.name_key STARTS WITH $key
MATCH (o)-[:NAME_OF]->(n:NaturalPerson)
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  o.name AS other_name, o.name_key AS other_key, o.kind AS kind
LIMIT $cap
"""

RECORDS_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:LegalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(a:Authority)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
RETURN uid AS subject, labels(r) AS labels, r {.*} AS record, a.name AS authority,
       collect(c {.uid, .change, .effective_on}) AS changes
"""

RECORDS_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (:NaturalPerson {uid: uid})-[:SUBJECT_OF]->(r)
OPTIONAL MATCH (r)-[:ISSUED_BY]->(a:Authority)
OPTIONAL MATCH (c:StatusChange)-[:CHANGES]->(r)
RETURN uid AS subject, labels(r) AS labels, r {.*} AS record, a.name AS authority,
       collect(c {.uid, .change, .effective_on}) AS changes
"""

_BY_UID: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_BY_UID,
    Label.NATURAL_PERSON: NATURAL_PERSONS_BY_UID,
}
_CARDS_BY_UID: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSON_CARDS_BY_UID,
    Label.NATURAL_PERSON: NATURAL_PERSON_CARDS_BY_UID,
}
_EXISTS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSON_EXISTS,
    Label.NATURAL_PERSON: NATURAL_PERSON_EXISTS,
}
_RECORDS: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: RECORDS_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: RECORDS_OF_NATURAL_PERSONS,
}
_NAMED: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_NAMED,
    Label.NATURAL_PERSON: NATURAL_PERSONS_NAMED,
}
_NAME_PREFIX: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_NAME_PREFIX,
    Label.NATURAL_PERSON: NATURAL_PERSONS_NAME_PREFIX,
}
_NAME_SUBSTRING: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_NAME_SUBSTRING,
    Label.NATURAL_PERSON: NATURAL_PERSONS_NAME_SUBSTRING,
}
_OTHER_NAMED: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_OTHER_NAMED,
    Label.NATURAL_PERSON: NATURAL_PERSONS_OTHER_NAMED,
}
_OTHER_NAME_PREFIX: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_OTHER_NAME_PREFIX,
    Label.NATURAL_PERSON: NATURAL_PERSONS_OTHER_NAME_PREFIX,
}
_OTHER_NAME_SUBSTRING: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_OTHER_NAME_SUBSTRING,
    Label.NATURAL_PERSON: NATURAL_PERSONS_OTHER_NAME_SUBSTRING,
}
_RECORD_LABELS = {
    label.value: label for label in (Label.SANCTION_EVENT, Label.COMMENDATION, Label.CREDIT_GRADE)
}


class BadIdentifier(ValueError):
    """An identifier argument that cannot be used; the message never repeats a person's number."""


class AmbiguousIdentifier(BadIdentifier):
    """A legacy code that several legal persons hold: it names none of them."""


class ArgumentError(ValueError):
    """A query argument out of range; `argument` names it (the CLI and API report it so)."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"{argument}: {reason}")
        self.argument = argument
        self.reason = reason


class PartyKey(NamedTuple):
    """A party's key; keys order by label, then uid (the stable order answers use).

    A named tuple rather than a frozen dataclass: a walk makes, hashes, compares and sorts
    thousands of keys, and a tuple does that in C (docs/benchmarks.md "Queries").
    """

    label: Label
    uid: str


def party_key(uid: str, labels: Iterable[str]) -> PartyKey:
    """The key of a party read with `labels(p)`: a legal person, else a natural person."""
    label = Label.LEGAL_PERSON if Label.LEGAL_PERSON.value in labels else Label.NATURAL_PERSON
    return PartyKey(label, uid)


def _ftm_party(store: GraphStore, entity_id: str, person_key: bytes) -> PartyKey | None:
    """A FollowTheMoney entity's party, as the FtM loader finds the party of an id a later
    file's link names (queries/ftm_ids.py `ftm_parties`, shared with loaders/ftm_stored.py):
    the party keyed by the id (a legal person's `FTM:<entity id>`, a person's token of it), the
    party a later export merged the id into, else the party an FtM file keyed by a USCC,
    resident ID or passport and gave the id (every id every file gave it); an id that embeds a
    resident ID number is stored hashed (`ftm_stored_id`). AmbiguousIdentifier for an id that
    names several parties."""
    if not entity_id:
        raise BadIdentifier("FTM: takes a FollowTheMoney entity id")
    sources = store_sources(store, "lookup")
    found = ftm_parties(store, [entity_id], person_key, sources, operation="lookup")
    parties = found.get(entity_id, [])
    if len(parties) > 1:
        raise AmbiguousIdentifier(
            f"the FtM id names {len(parties)} parties (two files gave it to different parties): "
            "give the USCC or the identity document"
        )
    return PartyKey(*parties[0]) if parties else None


def resolve_identifier(store: GraphStore, raw: str, person_key: bytes) -> PartyKey | None:
    """The party an identifier names, or None when the store has no such party.

    Raises BadIdentifier for input that is no identifier at all, or is masked.

    O(L + q log N) for an identifier of L characters, N parties stored, and q index lookups
    in the store (each O(log N) plus the parties it finds, more than one only for a reused
    legacy code, which is refused). The work in memory is linear in L: normalising, check
    characters, one HMAC. q is bounded by the identifier's shape: 1 for a person token or a
    `DOC:` id, 2 for an `OPR:` id or an organisation code, 2 to 3 for an 18-character code or a
    `REG:` number, at most 6 for a 13- or 15-digit number (registration number, then tax
    number or institution credit code, then first-generation resident ID), and for an `FTM:`
    id 4 + c, with c <= MAX_REFERENT_HOPS the steps of the chain of merges it names.
    """
    text = raw.strip()
    if not text:
        raise BadIdentifier("no identifier given")
    if PERSON_TOKEN_SHAPE.match(text):
        return _existing(store, PartyKey(Label.NATURAL_PERSON, text))
    if text[:4].upper() == FTM_PREFIX:  # a party known by its FollowTheMoney entity id
        return _ftm_party(store, text[4:].strip(), person_key)
    if text[:4].upper() == OPERATOR_PREFIX:  # an individual business known by its operator
        return _operated(store, _operator_key(text[4:].strip(), person_key))
    code = normalise_code(text)
    if is_masked(code):
        raise BadIdentifier("masked: give the full identifier")
    if code.startswith("REG:"):
        try:
            validate_registration_number(code[4:])
        except IdentifierError as exc:
            # "no such party" would read as an applicant not in the graph, not as a typing error
            raise BadIdentifier(f"REG: takes a business registration number: {exc}") from None
        # an unconverted business, or the USCC that took the registration number over
        own = _existing(store, PartyKey(Label.LEGAL_PERSON, code))
        return own or _taken_over(store, code[4:])
    if code.startswith("DOC:"):
        token = _document_token(text, person_key)
        return _existing(store, PartyKey(Label.NATURAL_PERSON, token))
    if len(code) == 18:
        return _resolve_18(store, code, person_key)
    if len(code) == 9:
        try:
            org_code = validate_org_code(code)
        except IdentifierError as exc:
            raise BadIdentifier(f"not a valid organisation code: {exc}") from None
        return _resolve_org_code(store, org_code)
    if code.isdigit() and len(code) in (13, 15):
        try:
            number = validate_registration_number(code)
        except IdentifierError:
            number = None  # a 15-digit tax number has no registration check digit
        found = _resolve_registration_number(store, number) if number else None
        return (
            found
            or _resolve_aliases(store, _other_aliases(code))
            or _resolve_first_generation_id(store, code, person_key)
        )
    if code.isalnum() and 15 <= len(code) <= 20:
        return _resolve_aliases(store, _other_aliases(code))
    raise BadIdentifier(
        "not a USCC, legacy code (organisation code, registration number, tax number, "
        "institution credit code) or resident ID"
    )


def _document_token(text: str, person_key: bytes) -> str:
    """The person token of a `DOC:<type>:<country>:<number>` reference, as the loader keys the
    document's holder; BadIdentifier when it is not one."""
    parts = [part.strip() for part in text.split(":", 3)]
    if (
        len(parts) != 4
        or parts[1].lower() not in PersonIdType.__members__.values()
        or not (parts[2] and parts[3])
    ):
        raise BadIdentifier("document id must be DOC:<type>:<country>:<number>")
    return person_token(person_key, PersonIdType(parts[1].lower()), parts[3], parts[2])


def uids_keyed_by(raw: str, person_key: bytes) -> list[str]:
    """The uids a party named by `raw` is keyed by, worked out from the identifier alone: a
    person's token as given, a resident ID number (a first-generation one upgraded) or a `DOC:`
    reference as the loader keys its holder, a USCC as itself (both, for the rare number that
    passes both checks). For the traces of a party the store does not hold (any more), such as
    its audit events; empty for what only the store can resolve (a legacy code, `REG:`)."""
    text = raw.strip()
    if PERSON_TOKEN_SHAPE.match(text):
        return [text]
    code = normalise_code(text)
    if code.startswith("DOC:"):
        try:
            return [_document_token(text, person_key)]
        except BadIdentifier:
            return []
    uids = [code] if is_valid_uscc(code) else []
    number = upgraded_resident_id(code)
    if is_valid_resident_id(number):
        uids.append(person_token(person_key, PersonIdType.RESIDENT, number))
    return uids


def former_uids(store: GraphStore, key: PartyKey) -> list[str]:
    """The uids the party went by before the one it has, as its old traces (audit events) name
    it: those of the parties folded into it (`REG:`, `OPR:`, FtM parties), and `REG:<number>`
    for each registration number it carries or holds as an alias, which a store loaded afresh
    from the converted rows alone no longer lists among them. One indexed read."""
    prefix = _alias(LegacyCodeType.REGISTRATION_NUMBER, "")
    rows = store.read(
        _FORMER_IDS[key.label], {"uid": key.uid, "alias_prefix": prefix}, operation="lookup"
    )
    if not rows:
        return []
    row = rows[0]
    numbers = [row["number"], *(alias[len(prefix) :] for alias in row["aliases"])]
    registered = [f"REG:{number}" for number in numbers if number]
    return sorted({*(row["former"] or ()), *registered} - {key.uid})


def _operator_key(document: str, person_key: bytes) -> str:
    """The operator key an `OPR:` id names: the token itself (the id credgraph gives such a
    business), or one made from the operator's resident ID number or `DOC:<type>:<country>:
    <number>`, hashed here as the loader hashes it (graph/identifiers.py `operator_token`)."""
    if PERSON_TOKEN_SHAPE.match(document):
        return document
    if is_masked(document):
        raise BadIdentifier("masked: give the full identifier")
    if normalise_code(document).startswith("DOC:"):
        parts = [part.strip() for part in document.split(":", 3)]
        if (
            len(parts) != 4
            or parts[1].lower() not in PersonIdType.__members__.values()
            or not (parts[2] and parts[3])
        ):
            raise BadIdentifier("an operator's document must be OPR:DOC:<type>:<country>:<number>")
        return operator_token(person_key, PersonIdType(parts[1].lower()), parts[3], parts[2])
    try:
        number = validate_resident_id(upgraded_resident_id(normalise_code(document))).number
    except IdentifierError as exc:
        raise BadIdentifier(f"OPR: takes the operator's resident ID number: {exc}") from None
    return operator_token(person_key, PersonIdType.RESIDENT, number)


def _operated(store: GraphStore, key: str) -> PartyKey | None:
    """The business an operator key names: the one keyed by it (`OPR:<key>`), else the one
    keyed by a USCC or `REG:` it folded into; AmbiguousIdentifier when the operator runs
    several such businesses and none is keyed by the operator."""
    own = _existing(store, PartyKey(Label.LEGAL_PERSON, OPERATOR_PREFIX + key))
    if own is not None:
        return own
    rows = store.read(LEGAL_PERSONS_BY_OPERATOR_KEY, {"key": key}, operation="lookup")
    uids = sorted({row["uid"] for row in rows})
    if len(uids) > 1:
        raise AmbiguousIdentifier(
            f"the operator runs {len(uids)} businesses: give the one meant by its USCC or REG:"
        )
    return PartyKey(Label.LEGAL_PERSON, uids[0]) if uids else None


def _resolve_first_generation_id(
    store: GraphStore, code: str, person_key: bytes
) -> PartyKey | None:
    """A 15-digit first-generation resident ID, as the 18-character number the loader stores it
    as (graph/identifiers.py `upgraded_resident_id`); None when it is no such ID."""
    upgraded = upgraded_resident_id(code)
    return _resolve_18(store, upgraded, person_key) if upgraded != code else None


class IdentifierCache:
    """Identifiers already resolved (to a party, or to none), by database and data version:
    at most `size` of them, the least recently used dropped first (`size` 0 keeps none).

    Right without expiry for the same reason as the risk report cache: every committed load
    chunk and every record change moves the data version (queries/ledger.py), and the version is
    part of the key. Identifiers that are no identifier at all are refused every time. An
    identifier is kept as its HMAC under the person key, never as typed: resident ID numbers
    must not sit in the worker's memory after their request. O(1).
    """

    def __init__(self, size: int, observer: Observer | None = None) -> None:
        self._cache: LruCache[tuple[str | None, str, bytes], PartyKey | None] = LruCache(
            size, observer
        )

    def resolve(
        self, store: GraphStore, raw: str, person_key: bytes, data_token: str
    ) -> PartyKey | None:
        """`resolve_identifier`, answered from the cache when `raw` was resolved under the data
        version `data_token` (`DataVersion.token()`)."""
        typed = hmac.new(person_key, raw.strip().encode(), hashlib.sha256).digest()
        entry = (store.database, data_token, typed)
        found = self._cache.get_many([entry])
        if entry in found:
            return found[entry]
        key = resolve_identifier(store, raw, person_key)
        self._cache.put_many({entry: key})
        return key


def _resolve_18(store: GraphStore, code: str, person_key: bytes) -> PartyKey | None:
    """A USCC, else a resident ID number. About one resident ID number in 300 also passes the
    USCC's check: it is looked up as a USCC first, then as the person's."""
    try:
        found = _existing(store, PartyKey(Label.LEGAL_PERSON, validate_uscc(code)))
    except IdentifierError as uscc_error:
        try:
            validate_resident_id(code)
        except IdentifierError:
            # an 18-character tax number or institution credit code is neither
            alias = _resolve_aliases(store, _other_aliases(code)) if code.isalnum() else None
            if alias is not None:
                return alias
            if _could_be_resident_id(code):
                # a USCC may be digits up to its check character as well: say both, as the
                # number may have meant either
                raise BadIdentifier(
                    f"neither a valid USCC ({uscc_error}) nor a valid resident ID number "
                    "(check character or birth date)"
                ) from None
            raise BadIdentifier(f"not a valid USCC: {uscc_error}") from None
    else:
        if found is not None or not is_valid_resident_id(code):
            return found
    token = person_token(person_key, PersonIdType.RESIDENT, code)
    return _existing(store, PartyKey(Label.NATURAL_PERSON, token))


def _could_be_resident_id(code: str) -> bool:
    """Written as a resident ID number is: seventeen digits and a digit or `X` to check them."""
    return code[:17].isdigit() and code[17] in "0123456789Xx"


def _existing(store: GraphStore, key: PartyKey) -> PartyKey | None:
    rows = store.read(_EXISTS[key.label], {"uid": key.uid}, operation="lookup")
    return key if rows else None


def _alias(code_type: LegacyCodeType, code: str) -> str:
    return f"{code_type.value}:{code}"


def _other_aliases(code: str) -> list[str]:
    return [
        _alias(LegacyCodeType.TAX_NUMBER, code),
        _alias(LegacyCodeType.INSTITUTION_CREDIT_CODE, code),
    ]


def _resolve_org_code(store: GraphStore, code: str) -> PartyKey | None:
    rows = store.read(LEGAL_PERSON_BY_ORG_CODE, {"code": code}, operation="lookup")
    rows += store.read(
        LEGAL_PERSONS_BY_ALIAS,
        {"aliases": [_alias(LegacyCodeType.ORG_CODE, code)]},
        operation="lookup",
    )
    return _unique(rows)


def _resolve_registration_number(store: GraphStore, number: str) -> PartyKey | None:
    rows = _registration_holders(store, number)
    if _existing(store, PartyKey(Label.LEGAL_PERSON, f"REG:{number}")):
        rows.append({"uid": f"REG:{number}"})
    return _unique(rows)


def _taken_over(store: GraphStore, number: str) -> PartyKey | None:
    """The one legal person that carries a registration number or holds it as an alias."""
    return _unique(_registration_holders(store, number))


def _registration_holders(store: GraphStore, number: str) -> list[dict[str, Any]]:
    rows = store.read(LEGAL_PERSON_BY_REGISTRATION_NUMBER, {"number": number}, operation="lookup")
    return rows + store.read(
        LEGAL_PERSONS_BY_ALIAS,
        {"aliases": [_alias(LegacyCodeType.REGISTRATION_NUMBER, number)]},
        operation="lookup",
    )


def _resolve_aliases(store: GraphStore, aliases: list[str]) -> PartyKey | None:
    return _unique(store.read(LEGAL_PERSONS_BY_ALIAS, {"aliases": aliases}, operation="lookup"))


def _unique(rows: list[dict[str, Any]]) -> PartyKey | None:
    """The one legal person `rows` name, None for none; AmbiguousIdentifier for several."""
    uids = {row["uid"] for row in rows}
    if len(uids) > 1:
        # a legacy code shared by two parties names neither; "no such party" would read as an
        # applicant the graph does not hold
        raise AmbiguousIdentifier(
            f"the code names {len(uids)} legal persons (a legacy code reused): give the USCC"
        )
    return PartyKey(Label.LEGAL_PERSON, uids.pop()) if uids else None


def fetch_parties(store: GraphStore, keys: Iterable[PartyKey]) -> dict[PartyKey, dict[str, Any]]:
    """The stored properties of many parties: one read per label."""
    return _fetch(store, keys, _BY_UID)


def fetch_party_cards(
    store: GraphStore, keys: Iterable[PartyKey]
) -> dict[PartyKey, dict[str, Any]]:
    """What names and describes many parties, without their lineage: `uid`, `name`, `kind`,
    the codes, region, registration date, status, address and industry of legal persons;
    `uid`, `name`, document type, masked number and sex of natural persons. Absent
    properties are None. One read per label; the API's parties are drawn from these."""
    return _fetch(store, keys, _CARDS_BY_UID)


class PartyCardCache:
    """Party cards already read (`fetch_party_cards`), by database, data version and party: at
    most `size` of them, the least recently used dropped first (`size` 0 keeps none).

    Right without expiry for the same reason as the identifier cache: the data version is part
    of the key. A card holds no resident ID number, only its masked form. A party found missing
    is kept as missing. Kept cards are shared: callers must not change them. O(1) per party;
    the parties not kept cost one read per label.
    """

    def __init__(self, size: int, observer: Observer | None = None) -> None:
        self._cache: LruCache[tuple[str | None, str, PartyKey], dict[str, Any] | None] = LruCache(
            size, observer
        )

    def fetch(
        self, store: GraphStore, keys: Iterable[PartyKey], data_token: str
    ) -> dict[PartyKey, dict[str, Any]]:
        """`fetch_party_cards`, the parties read under the data version `data_token` taken
        from the cache."""
        entries = {(store.database, data_token, key): key for key in keys}
        found = self._cache.get_many(entries)
        cards = {entries[entry]: card for entry, card in found.items() if card is not None}
        missing = [key for entry, key in entries.items() if entry not in found]
        if missing:
            read = fetch_party_cards(store, missing)
            self._cache.put_many({(store.database, data_token, k): read.get(k) for k in missing})
            cards.update(read)
        return cards


def _fetch(
    store: GraphStore, keys: Iterable[PartyKey], statements: dict[Label, LiteralString]
) -> dict[PartyKey, dict[str, Any]]:
    found: dict[PartyKey, dict[str, Any]] = {}
    for label, uids in _group(keys).items():
        for row in store.read(statements[label], {"uids": uids}, operation="lookup.parties"):
            found[PartyKey(label, row["node"]["uid"])] = row["node"]
    return found


def fetch_records(
    store: GraphStore, keys: Iterable[PartyKey]
) -> dict[PartyKey, list[dict[str, Any]]]:
    """Every credit record of many parties, with its record label, issuing authority and status
    changes (`changes`: uid, change, effective_on)."""
    records: dict[PartyKey, list[dict[str, Any]]] = defaultdict(list)
    for label, uids in _group(keys).items():
        for row in store.read(_RECORDS[label], {"uids": uids}, operation="lookup.records"):
            record_label = next(
                (_RECORD_LABELS[x] for x in row["labels"] if x in _RECORD_LABELS),
                Label.SANCTION_EVENT,
            )
            record = {
                **row["record"],
                "label": record_label.value,
                "authority": row["authority"],
                "changes": row["changes"],
            }
            records[PartyKey(label, row["subject"])].append(record)
    return records


def _group(keys: Iterable[PartyKey]) -> dict[Label, list[str]]:
    grouped: dict[Label, list[str]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        grouped[key.label].append(key.uid)
    return grouped


# --- name search ------------------------------------------------------------------------------

MAX_SEARCH_LIMIT = 200
DEFAULT_SEARCH_LIMIT = 20
# most candidates one tier reads per label: the prefix `厦门` may match a whole city's firms
NAME_CANDIDATE_CAP = 500


class MatchKind(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUBSTRING = "substring"


class MatchedOn(StrEnum):
    """Which of a party's names a search matched: its current name, or another name
    (`OtherName` nodes: graph/vocabulary.py OtherNameKind)."""

    NAME = "name"
    FORMER_NAME = "former_name"
    ALIAS = "alias"


_TIER = {MatchKind.EXACT: 2, MatchKind.PREFIX: 1, MatchKind.SUBSTRING: 0}
# of two matches of one party with the same score, the one listed: its name first
_MATCHED_ORDER = {MatchedOn.NAME: 0, MatchedOn.FORMER_NAME: 1, MatchedOn.ALIAS: 2}


@dataclass(frozen=True)
class NameMatch:
    key: PartyKey
    name: str
    name_key: str
    match: MatchKind
    score: float
    # the name that matched: the party's name, or the other name and what it is
    matched_name: str = ""
    matched_on: MatchedOn = MatchedOn.NAME

    def rank(self) -> tuple[float, str, str]:
        return (-self.score, self.key.uid, self.key.label.value)

    def better_than(self, other: NameMatch) -> bool:
        """Whether this match of a party is the one to list rather than `other`."""
        mine = (-self.score, _MATCHED_ORDER[self.matched_on], self.matched_name)
        return mine < (-other.score, _MATCHED_ORDER[other.matched_on], other.matched_name)


@dataclass
class NameSearchResult:
    query_key: str
    items: list[NameMatch] = field(default_factory=list)
    # a tier had more candidates than NAME_CANDIDATE_CAP, or more matches than `limit` exist
    truncated: bool = False


def name_score(query_key: str, candidate_key: str) -> tuple[MatchKind, float] | None:
    """The match kind and score of a candidate's name key for a query key, None for no match.

    score = tier + len(query_key) / len(candidate_key), tier 2 for the same key (score 3.0),
    1 for a prefix, 0 for a substring: a tier always outranks the one below, and inside a tier
    the shorter name (more of it matched) ranks first. O(len(candidate_key)).
    """
    if not query_key or query_key not in candidate_key:
        return None
    if candidate_key == query_key:
        kind = MatchKind.EXACT
    elif candidate_key.startswith(query_key):
        kind = MatchKind.PREFIX
    else:
        kind = MatchKind.SUBSTRING
    return kind, _TIER[kind] + len(query_key) / len(candidate_key)


def other_name_score(query_key: str, candidate_key: str) -> tuple[MatchKind, float] | None:
    """`name_score` of another name of a party (a former name, an alias): the same tiers, but
    tier + len(query_key) / len(candidate_key) / 2, so a tier still outranks the one below, and
    the same name matched as another name ranks below it matched as a current name (an exact
    match 2.5, below 3.0 and above every prefix match)."""
    scored = name_score(query_key, candidate_key)
    if scored is None:
        return None
    kind, score = scored
    return kind, _TIER[kind] + (score - _TIER[kind]) / 2


def search_by_name(
    store: GraphStore,
    name: str,
    *,
    labels: Sequence[Label] = (Label.LEGAL_PERSON,),
    limit: int = DEFAULT_SEARCH_LIMIT,
    substring: bool = False,
) -> NameSearchResult:
    """Parties whose name key, or the key of one of their other names (former names, aliases:
    `OtherName` nodes), matches the key of `name`, best score first, at most `limit`; each
    party once, with the name that matched it best (`matched_name`, `matched_on`).

    Per label, one read of the name-key index range [key, key with its last character
    incremented): every exact and prefix match, at most NAME_CANDIDATE_CAP of them, in key
    order; and the same read of the other names' key index. When a read is capped
    (`truncated`), one index equality read adds the exact matches. With `substring`, and only
    when no more than `limit` parties were found, one more read per label and kind of name
    finds names that contain the key elsewhere: no index serves that, so it scans the label's
    names (stopping at the candidate cap), which costs seconds on a store of millions
    (docs/benchmarks.md). Ranked by `name_score` (`other_name_score` for other names), ties by
    uid then label; O(c log c) in the c candidates read.
    """
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ArgumentError("limit", f"must be between 1 and {MAX_SEARCH_LIMIT}, not {limit}")
    for label in labels:
        if label not in PARTY_LABELS:
            raise ArgumentError("labels", f"{label.value} is not a party label")
    key = name_key(name)
    if not key:
        raise ArgumentError("name", "has no letters or digits")
    result = NameSearchResult(key)
    found: dict[PartyKey, NameMatch] = {}
    for label in dict.fromkeys(labels):
        for prefix, exact, other in (
            (_NAME_PREFIX[label], _NAMED[label], False),
            (_OTHER_NAME_PREFIX[label], _OTHER_NAMED[label], True),
        ):
            rows, capped = _candidates(store, prefix, key)
            if capped:
                result.truncated = True
                rows.extend(_candidates(store, exact, key)[0])
            _add_matches(found, label, key, rows, other=other)
    # with `limit` found, a substring match would not be listed, but `truncated` must tell of it
    if substring and len(found) <= limit:
        for label in dict.fromkeys(labels):
            for query, other in (
                (_NAME_SUBSTRING[label], False),
                (_OTHER_NAME_SUBSTRING[label], True),
            ):
                rows, capped = _candidates(store, query, key)
                result.truncated = result.truncated or capped
                _add_matches(found, label, key, rows, other=other)
    ranked = sorted(found.values(), key=NameMatch.rank)
    result.truncated = result.truncated or len(ranked) > limit
    result.items = ranked[:limit]
    return result


def _candidates(
    store: GraphStore, query: LiteralString, key: str
) -> tuple[list[dict[str, Any]], bool]:
    params = {"key": key, "upper": key[:-1] + chr(ord(key[-1]) + 1), "cap": NAME_CANDIDATE_CAP + 1}
    rows = store.read(query, params, operation="lookup.search")
    return rows[:NAME_CANDIDATE_CAP], len(rows) > NAME_CANDIDATE_CAP


def _add_matches(
    found: dict[PartyKey, NameMatch],
    label: Label,
    key: str,
    rows: list[dict[str, Any]],
    *,
    other: bool = False,
) -> None:
    """Score the rows read (of other names, with `other`) and keep each party's best match."""
    for row in rows:
        if other:
            scored = other_name_score(key, row["other_key"] or "")
            matched, on = row["other_name"] or "", _other_kind(row["kind"])
        else:
            scored = name_score(key, row["name_key"] or "")
            matched, on = row["name"] or "", MatchedOn.NAME
        if scored is None:
            continue
        party = PartyKey(label, row["uid"])
        match = NameMatch(party, row["name"] or "", row["name_key"] or "", *scored, matched, on)
        kept = found.get(party)
        if kept is None or match.better_than(kept):
            found[party] = match


def _other_kind(kind: str | None) -> MatchedOn:
    return MatchedOn.ALIAS if kind == MatchedOn.ALIAS.value else MatchedOn.FORMER_NAME
