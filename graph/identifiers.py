"""Identifiers of credit subjects: validation, normalisation, keyed tokens and masked forms.

- Unified social credit code (USCC, GB 32100-2015): 18 characters from a 31-character
  alphabet; position 1 the registering authority, 2 the type, 3-8 the region code, 9-17 the
  organisation code (GB 11714, with its own check character at 17), 18 a mod-31 check.
- Organisation code (GB 11714-1997): 8 body characters and a mod-11 check (`X` for 10),
  often written `74419092-7`.
- Resident identity number (GB 11643-1999): 17 digits and an ISO 7064 mod 11-2 check
  (`X` for 10); positions 7-14 the birth date, 17 odd for men and even for women.

Raw resident numbers are never stored: :func:`person_token` turns a normalised number into a
keyed HMAC, and :func:`mask_resident_id` gives the form shown to people. A FollowTheMoney
person without an identity document is keyed the same way by its entity id
(:func:`ftm_person_token`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from credgraph.graph import clock
from credgraph.graph.vocabulary import Label, PersonIdType

# the uid prefix of a legal person or record a FollowTheMoney entity gave without a strong
# identifier (loaders/ftm.py); a lookup by such a uid finds it (queries/lookup.py). A natural
# person never has one: an entity id names its person, so the person gets a keyed token
FTM_PREFIX = "FTM:"
# the document type and namespace of the token of an FtM person without an identity document
# (`ftm_person_token`): not a PersonIdType, so no file and no `DOC:` lookup can claim it
FTM_ENTITY_DOCUMENT = "ftm_entity"
FTM_NAMESPACE = "FTM"
# the prefix and keyed-token namespace of the id a pseudonymising role sees for a natural
# person's record (`record_pseudonym`): a source's record id is often its case or decision number
RECORD_PSEUDONYM_PREFIX = "REC:"
_RECORD_NAMESPACE = "record"
# the uid prefix of an individual business known by neither a USCC nor a registration number,
# only by its operator's identity document (`operator_token`)
OPERATOR_PREFIX = "OPR:"
_OPERATOR_CONTEXT = "operator"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"^[0-9A-Z]{8}$")

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_RID_SHAPE = re.compile(r"^\d{17}[\dX]$")

_MASK_CHAR = "*"


class IdentifierError(ValueError):
    """An identifier that fails validation; the message says which rule it broke."""


# --- normalisation ---------------------------------------------------------------------------


def normalise_text(value: str) -> str:
    """Full-width to half-width (NFKC), collapse runs of white space, strip the ends."""
    folded = value if value.isascii() else unicodedata.normalize("NFKC", value)
    return " ".join(folded.split())


def normalise_code(value: str) -> str:
    """Normalise an identifier as written: NFKC, upper case, no spaces, hyphens or dots."""
    if value.isascii() and value.isalnum():  # the common case, without a regex
        return value.upper()
    folded = unicodedata.normalize("NFKC", value).upper()
    return re.sub(r"[\s\-.·]", "", folded)


def is_masked(value: str) -> bool:
    """Whether an identifier has been masked for display (`91230199744****927K`)."""
    return _MASK_CHAR in unicodedata.normalize("NFKC", value)


# --- organisation code (GB 11714) ----------------------------------------------------------


def _org_char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def org_code_check_char(body: str) -> str:
    """The check character of an 8-character organisation-code body."""
    if not _ORG_BODY.match(body):
        raise IdentifierError(f"organisation code body must be 8 digits or letters: {body!r}")
    total = sum(_org_char_value(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def validate_org_code(value: str) -> str:
    """Return the organisation code in canonical 9-character form or raise IdentifierError."""
    code = normalise_code(value)
    if len(code) != 9:
        raise IdentifierError(f"organisation code must have 9 characters, got {len(code)}")
    body, check = code[:8], code[8]
    expected = org_code_check_char(body)
    if check != expected:
        raise IdentifierError(
            f"organisation code check character is {check!r}, expected {expected!r}"
        )
    return code


def format_org_code(code: str) -> str:
    """Display form with the hyphen: `74419092-7`."""
    return f"{code[:8]}-{code[8:]}"


# --- unified social credit code (GB 32100) -----------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise IdentifierError(f"USCC body must be 17 characters of {USCC_ALPHABET}: {first17!r}")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Return the USCC in canonical form or raise IdentifierError naming the broken rule.

    Checks the length, the alphabet, the embedded organisation code (positions 9-17, GB 11714)
    and the check character (position 18).
    """
    code = normalise_code(value)
    if is_masked(code):
        raise IdentifierError("USCC is masked")
    if len(code) != 18:
        raise IdentifierError(f"USCC must have 18 characters, got {len(code)}")
    bad = [c for c in code if c not in _USCC_VALUE]
    if bad:
        raise IdentifierError(f"USCC contains characters outside the GB 32100 alphabet: {bad[0]!r}")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise IdentifierError(f"USCC check character is {code[17]!r}, expected {expected!r}")
    try:
        validate_org_code(code[8:17])
    except IdentifierError as exc:
        raise IdentifierError(f"USCC embedded {exc}") from exc
    return code


def is_valid_uscc(value: str) -> bool:
    try:
        validate_uscc(value)
    except IdentifierError:
        return False
    return True


def make_uscc(authority: str, kind: str, region: str, org_body: str) -> str:
    """Build a valid USCC from its parts (used by the synthetic registry and tests)."""
    org = org_body + org_code_check_char(org_body)
    first17 = f"{authority}{kind}{region}{org}"
    return first17 + uscc_check_char(first17)


def uscc_org_code(uscc: str) -> str:
    """The 9-character organisation code inside a USCC (positions 9-17)."""
    return uscc[8:17]


# --- resident identity number (GB 11643) -------------------------------------------------------


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 mod 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise IdentifierError("resident ID body must be 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def upgraded_resident_id(code: str) -> str:
    """A first-generation resident ID (15 digits: the birth date as YYMMDD, no check
    character, issued until 1999) as the 18-character number that replaced it: the century
    `19` inserted, the GB 11643 check character appended. Any other code comes back as is."""
    if len(code) != 15 or not code.isdigit():
        return code
    first17 = f"{code[:6]}19{code[6:]}"
    try:
        date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        return code  # no birth date: not a resident ID, let the checks say what it is
    return first17 + resident_id_check_char(first17)


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str  # "M" or "F"

    @property
    def region(self) -> str:
        return self.number[:6]


def validate_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    """Parse a resident ID number or raise IdentifierError naming the broken rule."""
    number = normalise_code(value)
    if is_masked(number):
        raise IdentifierError("resident ID is masked")
    if not _RID_SHAPE.match(number):
        raise IdentifierError("resident ID must be 17 digits and a digit or X")
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        # never echo any part of the number: error messages reach logs and rejects files
        raise IdentifierError("resident ID check character does not match (GB 11643)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdentifierError("resident ID birth date (digits 7-14) is not a date") from exc
    if born.year < 1880 or born > (today or clock.today()):
        raise IdentifierError("resident ID birth date is before 1880 or in the future")
    return ResidentId(number=number, birth_date=born, sex="M" if int(number[16]) % 2 else "F")


def is_valid_resident_id(value: str, today: date | None = None) -> bool:
    """Whether `value` is a resident ID number (check character and birth date, as of
    `today`); about one in 300 also passes the USCC's check (`is_valid_uscc`)."""
    try:
        validate_resident_id(value, today=today)
    except IdentifierError:
        return False
    return True


def make_resident_id(region: str, birth: date, sequence: int, sex: str) -> str:
    """Build a valid resident ID (sequence 0-99, the sex digit chosen to match `sex`)."""
    sex_digit = (sequence % 5) * 2 + (1 if sex == "M" else 0)
    first17 = f"{region}{birth:%Y%m%d}{sequence % 100:02d}{sex_digit}"
    return first17 + resident_id_check_char(first17)


# --- keyed tokens and masked forms ---------------------------------------------------------------

# a keyed token is the first 32 hex digits of an HMAC-SHA256 (`_keyed_token`, `ftm_stored_id`)
_TOKEN_HEX_DIGITS = 32
# the shape of a natural person's key (`person_token`, `ftm_person_token`): how a lookup tells
# a token from the identifiers it resolves
PERSON_TOKEN_SHAPE = re.compile(rf"^[0-9a-f]{{{_TOKEN_HEX_DIGITS}}}$")
# the shape of an FtM entity id stored hashed because it embedded a resident ID (`ftm_stored_id`)
HASHED_FTM_ID_SHAPE = re.compile(rf"^H[0-9a-f]{{{_TOKEN_HEX_DIGITS}}}$")


# the provinces, autonomous regions, municipalities and special regions of GB/T 2260: the first
# two digits of every administrative region code
PROVINCE_CODES = frozenset(
    str(code)
    for code in (
        *range(11, 16),  # North China
        *range(21, 24),  # the North-East
        *range(31, 38),  # East China
        *range(41, 47),  # Central and South China
        *range(50, 55),  # the South-West
        *range(61, 66),  # the North-West
        71,  # Taiwan
        81,  # Hong Kong
        82,  # Macao
    )
)


def region_problem(code: str, digits: int) -> str | None:
    """Why `code` is no administrative region code (or prefix) of `digits` digits (GB/T 2260:
    it starts with a province's two digits), or None."""
    if not (len(code) == digits and code.isdigit()):
        return f"{digits} digits"
    if code[:2] not in PROVINCE_CODES:
        return f"{code[:2]} is no province's code (GB/T 2260: 11 Beijing … 82 Macao)"
    return None


def names_a_person(raw: str) -> bool:
    """Whether an identifier may name a natural person (token, document, resident ID number,
    first-generation 15-digit resident ID, FollowTheMoney entity id), read as a lookup reads
    it: `ＤＯＣ:` and `D.OC:` are documents too. A lookup by such an identifier needs a purpose
    (DOMAIN.md), whether a person, a business or nobody holds it: the API and the command line
    ask this one question."""
    text = raw.strip()
    if PERSON_TOKEN_SHAPE.match(text) or is_ftm_id(text) or names_an_operator(text):
        return True
    code = normalise_code(text)
    return code.startswith("DOC:") or is_valid_resident_id(code) or may_be_first_generation_id(code)


def names_an_operator(raw: str) -> bool:
    """Whether an identifier is `OPR:` and an operator's identity document (a resident ID
    number, `DOC:...`), not the business's own key (`OPR:<token>`): such a lookup asks about
    the person behind the business, and is one by identity number (DOMAIN.md: it needs a
    purpose, and roles that may not look persons up by number may not make it)."""
    text = raw.strip()
    return (
        text[: len(OPERATOR_PREFIX)].upper() == OPERATOR_PREFIX
        and PERSON_TOKEN_SHAPE.match(text[len(OPERATOR_PREFIX) :].strip()) is None
    )


def is_ftm_id(text: str) -> bool:
    """Whether an identifier is a FollowTheMoney entity id (`FTM:`, any case)."""
    return text[: len(FTM_PREFIX)].upper() == FTM_PREFIX


def may_be_first_generation_id(code: str) -> bool:
    """Whether a normalised code may be a 15-digit first-generation resident ID; a business
    registration number may have that shape too."""
    return upgraded_resident_id(code) != code


def person_token(key: bytes, id_type: PersonIdType, number: str, country: str = "CN") -> str:
    """Keyed HMAC-SHA256 token of a person's normalised document number (hex, 32 chars).

    The token is the natural person's key in the graph; without the key it cannot be reversed
    or recomputed from a guessed number.
    """
    return _keyed_token(key, id_type.value, normalise_code(country), normalise_code(number))


def operator_token(key: bytes, id_type: PersonIdType, number: str, country: str = "CN") -> str:
    """Keyed token of an individual business's operator's document, as the business's key
    (`OPR:<token>`) and its `operator_key`.

    Made from the same normalised document as :func:`person_token`, but under a context of its
    own (`operator:<type>` for the document type), so it never equals the operator's person
    token: the business's uid is public, and a caller holding both could otherwise tell which
    person runs it by comparing them. Without the key neither can be recomputed.
    """
    document = f"{_OPERATOR_CONTEXT}:{id_type.value}"
    return _keyed_token(key, document, normalise_code(country), normalise_code(number))


def ftm_person_token(key: bytes, entity_id: str) -> str:
    """The token of a FollowTheMoney person that carries no usable identity document, made
    from its entity id as :func:`person_token` makes one from a document number.

    An FtM entity id names its person to anyone who looks it up, so it is no pseudonym: the
    key is the same HMAC under the person key, of the document type `ftm_entity` in the FtM
    id namespace. The id is taken as written (FtM ids are case- and hyphen-sensitive), so
    the same entity always gets the same token and two entities never share one.
    """
    return _keyed_token(key, FTM_ENTITY_DOCUMENT, FTM_NAMESPACE, entity_id)


# an 18-character run that may be a resident ID number, at every offset (runs may overlap)
_RESIDENT_LIKE = re.compile(r"(?=(\d{17}[\dXx]))")


def ftm_stored_id(key: bytes, entity_id: str, *, today: date | None = None) -> str:
    """A FollowTheMoney entity id as credgraph stores it (`ftm_id`, the `FTM:` uid of a legal
    person without a strong identifier): as written, or, when it embeds a valid resident ID
    number (some lists build ids from one), `H` and the first 32 hex digits of its HMAC under
    the person key, so that no stored id carries a resident ID. The loader and the lookup of
    `FTM:<id>` both go through it, so the same id finds the same party."""
    for match in _RESIDENT_LIKE.finditer(entity_id):
        try:
            validate_resident_id(match.group(1), today=today)
        except IdentifierError:
            continue
        digest = hmac.new(key, f"ftm|{entity_id}".encode(), hashlib.sha256)
        return "H" + digest.hexdigest()[:_TOKEN_HEX_DIGITS]
    return entity_id


def ftm_weak_uid(key: bytes, label: Label, entity_id: str, *, today: date | None = None) -> str:
    """The uid a party of this FollowTheMoney entity id has when it carries no strong
    identifier: the token of the id for a person, `FTM:` and the stored id for a legal person."""
    if label is Label.NATURAL_PERSON:
        return ftm_person_token(key, entity_id)
    return FTM_PREFIX + ftm_stored_id(key, entity_id, today=today)


def ftm_id_uid(label: Label, party_uid: str, stored_id: str) -> str:
    """The key of the `FtmId` node that says this party was given this (stored) entity id."""
    return f"{label.value}|{party_uid}|{stored_id}"


def ftm_referent_uid(referent_uid: str, party_uid: str) -> str:
    """The key of the `FtmReferent` node that says a row of this party lists this referent."""
    return f"{referent_uid}|{party_uid}"


def record_pseudonym(key: bytes, record_uid: str) -> str:
    """The id under which a pseudonymising role sees a natural person's record: `REC:` and a
    keyed token (HMAC under the person key) of its uid, the same for the same record in every
    answer, from which the uid cannot be recovered. A court list's record id is often the case
    number, which names the person to anyone who looks it up."""
    token = _keyed_token(key, _RECORD_NAMESPACE, _RECORD_NAMESPACE, record_uid)
    return RECORD_PSEUDONYM_PREFIX + token


def _keyed_token(key: bytes, document_type: str, country: str, number: str) -> str:
    message = f"{document_type}|{country}|{number}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_TOKEN_HEX_DIGITS]


def status_change_uid(record_uid: str, change_id: str) -> str:
    """The key of the `StatusChange` node of this record under this change id (a source's row
    id, `delisted:<source>` for an extract's ending, an API change's id)."""
    return f"{record_uid}|{change_id}"


def other_name_uid(party_uid: str, kind: str, key: str) -> str:
    """The key of the `OtherName` node that says the party goes or went by a name of this key:
    `<party uid>|<kind>|<name key>` (a name key holds no `|`: graph/names.py drops symbols)."""
    return f"{party_uid}|{kind}|{key}"


def mask_resident_id(number: str) -> str:
    """Display form: region prefix and last four kept, birth date hidden (`3502**********123X`)."""
    n = normalise_code(number)
    return n[:4] + _MASK_CHAR * (len(n) - 8) + n[-4:] if len(n) > 8 else _MASK_CHAR * len(n)


def mask_document(number: str) -> str:
    """Display form for other identity documents: only the last three characters kept."""
    n = normalise_code(number)
    return _MASK_CHAR * max(len(n) - 3, 3) + n[-3:]


# --- business registration number (工商注册号, GS 15-2006) ---------------------------------


def registration_number_check_digit(first14: str) -> str:
    """ISO 7064 MOD 11,10 check digit of a 15-digit registration number."""
    product = 10
    for ch in first14:
        total = (product + int(ch)) % 10 or 10
        product = (total * 2) % 11
    return str((11 - product) % 10)


def validate_registration_number(value: str) -> str:
    """A business registration number: 15 digits with a MOD 11,10 check, or 13 digits (pre-2007).

    Returns the normalised number; raises IdentifierError naming the broken rule.
    """
    number = normalise_code(value)
    if not number.isdigit() or len(number) not in (13, 15):
        raise IdentifierError("a registration number has 15 digits (13 before 2007)")
    if len(number) == 15 and registration_number_check_digit(number[:14]) != number[14]:
        raise IdentifierError("registration number check digit does not match")
    return number


def is_valid_registration_number(value: str) -> bool:
    try:
        validate_registration_number(value)
    except IdentifierError:
        return False
    return True
