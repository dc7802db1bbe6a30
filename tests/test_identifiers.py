"""Identifiers: check characters catch every single-character change and adjacent swap.

GB 32100 (USCC, mod 31 over weights 3^i) and GB 11643 (resident ID, ISO 7064 MOD 11-2) both
detect every single substitution and every transposition of neighbours, the check character
included; these properties test that the implementation keeps that promise, exhaustively over
positions, for codes hypothesis builds.
"""

from __future__ import annotations

from datetime import date

import pytest
from credgraph.graph.identifiers import (
    HASHED_FTM_ID_SHAPE,
    PERSON_TOKEN_SHAPE,
    USCC_ALPHABET,
    IdentifierError,
    format_org_code,
    ftm_id_uid,
    ftm_person_token,
    ftm_referent_uid,
    ftm_stored_id,
    ftm_weak_uid,
    is_masked,
    make_resident_id,
    make_uscc,
    mask_document,
    mask_resident_id,
    normalise_code,
    org_code_check_char,
    other_name_uid,
    person_token,
    registration_number_check_digit,
    status_change_uid,
    validate_org_code,
    validate_registration_number,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.vocabulary import Label, PersonIdType
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 11, 23)
REAL_USCC = "91350100M000100Y43"
REAL_RESIDENT = "11010519491231002X"

org_bodies = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
regions = st.sampled_from(["350203", "350102", "350521", "440604", "445102"])
usccs = st.builds(make_uscc, st.sampled_from("1259Y"), st.sampled_from("1239"), regions, org_bodies)
residents = st.builds(
    make_resident_id,
    regions,
    st.dates(date(1930, 1, 1), date(2008, 12, 31)),
    st.integers(1, 99),
    st.sampled_from("MF"),
)


def _substitutions(code: str, alphabet: str) -> list[str]:
    return [
        code[:i] + c + code[i + 1 :] for i in range(len(code)) for c in alphabet if c != code[i]
    ]


def _adjacent_swaps(code: str) -> list[str]:
    return [
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(len(code) - 1)
        if code[i] != code[i + 1]
    ]


def _rejected(validate: object, code: str) -> bool:
    try:
        validate(code)  # type: ignore[operator]
    except IdentifierError:
        return True
    return False


def test_real_codes_validate() -> None:
    assert validate_uscc(REAL_USCC) == REAL_USCC
    assert validate_org_code("74419092-7") == "744190927"
    assert format_org_code("744190927") == "74419092-7"
    person = validate_resident_id(REAL_RESIDENT, today=TODAY)
    assert (person.birth_date, person.sex) == (date(1949, 12, 31), "F")
    assert validate_registration_number("110108000000016") == "110108000000016"


@given(usccs)
def test_every_single_change_and_adjacent_swap_of_a_uscc_is_caught(code: str) -> None:
    assert validate_uscc(code) == code
    variants = _substitutions(code, USCC_ALPHABET) + _adjacent_swaps(code)
    missed = [v for v in variants if not _rejected(validate_uscc, v)]
    assert missed == []


@given(residents)
def test_every_single_change_and_adjacent_swap_of_a_resident_id_is_caught(code: str) -> None:
    def validate(value: str) -> object:
        return validate_resident_id(value, today=TODAY)

    assert validate(code)
    variants = _substitutions(code, "0123456789X") + _adjacent_swaps(code)
    missed = [v for v in variants if not _rejected(validate, v)]
    assert missed == []


@given(org_bodies)
def test_every_single_digit_change_of_an_org_code_is_caught(body: str) -> None:
    # GB 11714's mod 11 values letters 10-35, so a letter and a digit 11 apart (B and 0)
    # share a residue: the standard only promises to catch digit errors. Inside a USCC the
    # mod-31 check catches the rest (test above).
    code = body + org_code_check_char(body)
    assert validate_org_code(code) == code
    body_digits = [
        code[:i] + d + code[i + 1 : 8]
        for i in range(8)
        if code[i].isdigit()
        for d in "0123456789"
        if d != code[i]
    ]
    missed = [v + code[8] for v in body_digits if not _rejected(validate_org_code, v + code[8])]
    assert missed == []


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_registration_numbers_catch_single_changes(first14: str) -> None:
    code = first14 + registration_number_check_digit(first14)
    assert validate_registration_number(code) == code
    missed = [
        v
        for v in _substitutions(code, "0123456789")
        if not _rejected(validate_registration_number, v)
    ]
    assert missed == []


def test_written_forms_normalise_to_one_code() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in REAL_USCC)
    for written in (full_width, REAL_USCC.lower(), " 9135 0100-M000 100Y43 "):
        assert validate_uscc(written) == REAL_USCC
    assert normalise_code("７４４１９０９２－７") == "744190927"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        (REAL_USCC[:17], "18 characters"),
        (REAL_USCC[:-1] + "I", "alphabet"),
        (REAL_USCC[:-1] + "4", "check character"),
        ("91230199744****927K", "masked"),
    ],
)
def test_uscc_errors_name_the_rule(code: str, rule: str) -> None:
    with pytest.raises(IdentifierError, match=rule):
        validate_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        REAL_RESIDENT[:-1] + "1",
        make_resident_id("350203", date(1990, 1, 1), 5, "M")[:10] + "13" + "01" + "0051",
        make_resident_id("350203", date(2030, 1, 1), 5, "M"),
    ],
)
def test_resident_id_errors_never_repeat_the_number(code: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_resident_id(code, today=TODAY)
    message = str(caught.value)
    assert code not in message and code[6:14] not in message and code[-4:] not in message


def test_masked_forms_hide_the_birth_date() -> None:
    assert is_masked("91230199744****927K") and is_masked("3502**********123X")
    assert not is_masked(REAL_USCC)
    masked = mask_resident_id(REAL_RESIDENT)
    assert masked == "1101**********002X"
    assert "19491231" not in masked
    assert mask_document("E12345678") == "******678"


def test_person_tokens_are_keyed_and_never_contain_the_number() -> None:
    key_a, key_b = b"a" * 32, b"b" * 32
    token = person_token(key_a, PersonIdType.RESIDENT, REAL_RESIDENT)
    assert token == person_token(key_a, PersonIdType.RESIDENT, REAL_RESIDENT.lower())
    assert token != person_token(key_b, PersonIdType.RESIDENT, REAL_RESIDENT)
    assert token != person_token(key_a, PersonIdType.PASSPORT, REAL_RESIDENT)
    assert REAL_RESIDENT not in token and "19491231" not in token
    assert len(token) == 32


def test_token_shapes_are_those_of_the_tokens_made() -> None:
    """The lookup tells a person's key by PERSON_TOKEN_SHAPE, and the migration an FtM id
    stored hashed by HASHED_FTM_ID_SHAPE: both are the shapes of what is made here."""
    key = b"k" * 32
    for token in (
        person_token(key, PersonIdType.RESIDENT, REAL_RESIDENT),
        ftm_person_token(key, "Q-12345"),
    ):
        assert PERSON_TOKEN_SHAPE.match(token) and not HASHED_FTM_ID_SHAPE.match(token)
    hashed = ftm_stored_id(key, f"cn-court-{REAL_RESIDENT}")
    assert hashed != f"cn-court-{REAL_RESIDENT}"
    assert HASHED_FTM_ID_SHAPE.match(hashed) and not PERSON_TOKEN_SHAPE.match(hashed)
    assert not HASHED_FTM_ID_SHAPE.match(ftm_stored_id(key, "Q-12345"))


def test_node_keys_are_the_strings_stored_before_they_moved_to_identifiers() -> None:
    # made by the functions in queries/ and loaders/ before they moved here: stored keys must
    # not change, or a load after the move would write every node again beside the old one
    key = b"k" * 32
    on = date(2024, 1, 1)
    assert ftm_weak_uid(key, Label.LEGAL_PERSON, "Q-ftm-1", today=on) == "FTM:Q-ftm-1"
    hashed = ftm_weak_uid(key, Label.LEGAL_PERSON, "id-350102196907133502", today=on)
    assert hashed == "FTM:H51fe267dd4b253494a35b36b87129f15"
    person = ftm_weak_uid(key, Label.NATURAL_PERSON, "Q-ftm-1", today=on)
    assert person == "84e6a0f43fb8abf3aaead6fc6596eddc"
    assert ftm_id_uid(Label.NATURAL_PERSON, "abc", "Q1") == "NaturalPerson|abc|Q1"
    assert ftm_referent_uid("FTM:x", "91350100M000100Y3C") == "FTM:x|91350100M000100Y3C"
    assert other_name_uid("91350100M000100Y3C", "former", "xyz") == "91350100M000100Y3C|former|xyz"
    assert status_change_uid("CRT:R-1", "C-9") == "CRT:R-1|C-9"
