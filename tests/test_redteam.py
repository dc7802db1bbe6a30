"""A security review's attacks on the running API: each test is a leak found and closed."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.masking import mask_identity_numbers, scrub
from credgraph.api.roles import ApiRole
from credgraph.api.schema import schema
from credgraph.graph.settings import Settings
from graphql import GraphQLError

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_A, RECORD_HEADER, SHOP_C, ZHANG, load_folder, write_csv


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("redteam"))


FIRST_GENERATION = ZHANG[:6] + ZHANG[8:17]  # the same person's 15-digit number
UNKNOWN_FIRST_GENERATION = "110101800101001"
HIDDEN_DIGITS = ZHANG[4:14]  # what the masked form 3502**********1252 hides


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", [])}


def audit_events(env: ApiEnv) -> list[dict[str, Any]]:
    if not env.audit_path.exists():  # no event written yet
        return []
    return [json.loads(line) for line in env.audit_path.read_text().splitlines()]


def leaks(text: str) -> bool:
    """Whether the hidden digits come back, whatever is put between them."""
    return HIDDEN_DIGITS in re.sub(r"\D", "", text)


SPLIT = {
    "zero-width space": ZHANG[:9] + "\u200b" + ZHANG[9:],
    "right-to-left mark": ZHANG[:9] + "\u200f" + ZHANG[9:],
    "hyphens": f"{ZHANG[:6]}-{ZHANG[6:14]}-{ZHANG[14:]}",
    "spaces": f"{ZHANG[:6]} {ZHANG[6:14]} {ZHANG[14:]}",
    "no-break spaces": f"{ZHANG[:6]}\u00a0{ZHANG[6:14]}\u00a0{ZHANG[14:]}",
    "slashes": "/".join((ZHANG[:4], ZHANG[4:8], ZHANG[8:12], ZHANG[12:16], ZHANG[16:])),
    "backslashes": f"{ZHANG[:6]}\\{ZHANG[6:14]}\\{ZHANG[14:]}",
    "commas": f"{ZHANG[:6]},{ZHANG[6:14]},{ZHANG[14:]}",
    "full-width comma": f"{ZHANG[:6]}\uff0c{ZHANG[6:]}",
    "enumeration comma": f"{ZHANG[:6]}\u3001{ZHANG[6:]}",
    "full-width slash": f"{ZHANG[:6]}\uff0f{ZHANG[6:]}",
    "colons": f"{ZHANG[:6]}:{ZHANG[6:14]}\uff1a{ZHANG[14:]}",
}


@pytest.mark.parametrize("how", sorted(SPLIT))
def test_a_number_split_by_invisible_or_separating_characters_is_never_echoed(
    api_env: ApiEnv, how: str
) -> None:
    number = SPLIT[how]
    probes = [  # GraphQL's own messages quote a literal of the wrong type
        f'{{ linkedParties(id: "x", depth: "{number}") {{ totalCount }} }}',
        f'{{ riskReport(id: "x", asOf: "{number}") {{ found }} }}',
        f'{{ entity(id: "x") {{ f_{number.replace(" ", "_").replace("-", "_")} }} }}',
    ]
    for query in probes:
        response = api_env.post(query, role=ApiRole.ADMIN)
        assert response.status_code == 200
        assert not leaks(response.text), (how, response.text)


def test_scrub_and_stored_text_mask_split_numbers_too() -> None:
    for number in SPLIT.values():
        assert not leaks(scrub(f"value {number} refused"))
        assert not leaks(mask_identity_numbers(f"证据 {number} 附后"))
    # what is written with the same separators and is no identity number stays as typed
    for ordinary in (
        "2024-03-01 电话 0592-1234567",
        "2025/03/01 至 2026/02/28",
        "罚款 1,000,000 元，已于 2025/03/01 缴清",
        "金额 12,345,678.90 元、1，000，000 元",
        "10:30:00 到达；文号 闽（2024）第12号",
        r"D:\证据\2025\03\01.pdf",
    ):
        assert mask_identity_numbers(ordinary) == ordinary
        assert scrub(ordinary) == unicodedata.normalize("NFKC", ordinary)
    for typed in ("3502/0320/0104/0331/38", "350203，200104033138"):
        assert mask_identity_numbers(f"证据 {typed} 附后") != f"证据 {typed} 附后"
        assert mask_identity_numbers(typed).count("*") == 10
    # a number followed by a comma, a colon or a slash and more digits is still one number
    for written in (
        f"a {ZHANG}, 2019-03-01",
        f"身份证{ZHANG}，2019年处罚",
        f"编号 12:{ZHANG}",
        f"{ZHANG}/2025/03/01",
    ):
        assert not leaks(mask_identity_numbers(written)), written


def test_stored_text_masks_a_number_beside_other_digits() -> None:
    spaced = f"{ZHANG[:6]} {ZHANG[6:14]} {ZHANG[14:]}"
    for written in (
        f"身份证 {ZHANG} 2019年处罚",  # a year after it, split by a space only
        f"2019 {ZHANG} 附后",
        f"{spaced} 2019-03-01",
        f"{ZHANG} {UNKNOWN_FIRST_GENERATION} 两人",
    ):
        masked = mask_identity_numbers(written)
        assert not leaks(masked), written
        assert "2019" in masked or "两人" in masked
    two = mask_identity_numbers(f"{ZHANG} {UNKNOWN_FIRST_GENERATION}")
    assert UNKNOWN_FIRST_GENERATION not in two
    # digits beside a date that make no resident ID number stay as typed, and so do ranges of
    # dates split by dashes whose digits add up to 15
    for ordinary in (
        "电话 0592-1234567 2024-03-01",
        "编号 1234 5678 9012 3456 789 号",
        "电话 13800090101 2024-05-01",
        "Tel13800090101/2024",
        "有效期2024.10.15—2025.1.14",
        "2024.1.15–2025.10.14止",
    ):
        assert mask_identity_numbers(ordinary) == ordinary


def test_stored_text_masks_a_number_glued_to_other_digits() -> None:
    for written in (
        f"2019{ZHANG}",
        f"{ZHANG}1",
        f"ID{ZHANG}5",
        f"{ZHANG}{ZHANG}",
        f"12345 {ZHANG[:10]} {ZHANG[10:]}",  # an odd group before a split number
    ):
        assert not leaks(mask_identity_numbers(written)), written


def test_stored_text_masks_a_number_touching_letters_or_split_by_dashes() -> None:
    for written in (
        f"佛信修ID{ZHANG}号",
        f"代理人IDNo{ZHANG}",
        f"x{ZHANG}",
        f"{ZHANG[:10]}\u2010{ZHANG[10:]}",  # a Unicode hyphen
        f"{ZHANG[:6]}\u2013{ZHANG[6:14]}\u2014{ZHANG[14:]}",  # en and em dashes
        f"{ZHANG[:6]}\uff0d{ZHANG[6:]}",  # a full-width hyphen
    ):
        assert not leaks(mask_identity_numbers(written)), written
        assert not leaks(scrub(written)), written
    # a reference that merely touches letters and is no resident ID number stays as typed
    for ordinary in ("文号ABC123456789012345", "合同 HT202403011234567 号"):
        assert mask_identity_numbers(ordinary) == ordinary


def test_an_alias_holding_a_number_is_refused_not_echoed(api_env: ApiEnv) -> None:
    for query in (
        f'{{ _{ZHANG}: entity(id: "x") {{ id }} }}',
        f'{{ entity(id: "x") {{ n_{ZHANG[:6]}_{ZHANG[6:]}: name }} }}',
    ):
        response = api_env.post(query, role=ApiRole.ADMIN)
        assert not leaks(response.text), response.text
        assert codes(response.json()) == {"GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    "ident",
    [
        FIRST_GENERATION,
        UNKNOWN_FIRST_GENERATION,
        f"ＤＯＣ:resident:CN:{ZHANG}",
        f"D.OC:resident:CN:{ZHANG}",
    ],
)
def test_a_pseudonymising_role_cannot_look_a_person_up_by_number_in_another_spelling(
    api_env: ApiEnv, ident: str
) -> None:
    for field in ("entity", "linkedParties"):
        body = api_env.gql(
            f"query ($v: String!) {{ {field}(id: $v) {{ __typename }} }}",
            role=ApiRole.ANALYST,
            purpose="analysis",
            v=ident,
        )
        # refused alike whether a person holds the number or nobody does
        assert codes(body) == {"FORBIDDEN"}, (field, body)
        assert body["data"] is None or body["data"][field] is None
    public = api_env.gql(
        "query ($v: String!) { entity(id: $v) { __typename } }", role=ApiRole.PUBLIC, v=ident
    )
    assert public == {"data": {"entity": None}}


def test_an_unknown_first_generation_number_needs_a_purpose_as_a_known_one(
    api_env: ApiEnv,
) -> None:
    for ident in (FIRST_GENERATION, UNKNOWN_FIRST_GENERATION):
        body = api_env.gql(f'{{ entity(id: "{ident}") {{ id }} }}', purpose=None)
        assert codes(body) == {"PURPOSE_REQUIRED"}, (ident, body)
    # a business under a 15-digit registration number: found, by every role, without a purpose
    for role in (ApiRole.ANALYST, ApiRole.PUBLIC, ApiRole.INVESTIGATOR):
        body = api_env.gql(f'{{ entity(id: "{SHOP_C[4:]}") {{ id }} }}', role=role, purpose=None)
        assert body == {"data": {"entity": {"id": SHOP_C}}}


def test_a_search_matching_a_person_off_the_page_needs_a_purpose(api_env: ApiEnv) -> None:
    first = api_env.gql('{ search(name: "张伟") { edges { cursor } } }')
    cursor = first["data"]["search"]["edges"][-1]["cursor"]
    # the page after the last match is empty, but totalCount counts the person
    body = api_env.gql(
        'query ($c: String!) { search(name: "张伟", after: $c) { totalCount } }',
        purpose=None,
        c=cursor,
    )
    assert codes(body) == {"PURPOSE_REQUIRED"}, body
    assert audit_events(api_env)[-1]["outcome"] == "refused:purpose_required"


def test_a_linked_parties_page_naming_a_person_off_the_page_needs_a_purpose(
    api_env: ApiEnv,
) -> None:
    query = """query ($id: String!, $after: String) {
      linkedParties(id: $id, depth: 2, includeFormer: true, after: $after) {
        totalCount edges { cursor node { parentId party { __typename } } }
      }
    }"""
    whole = api_env.gql(query, id=SHOP_C)["data"]["linkedParties"]["edges"]
    assert whole[0]["node"]["party"]["__typename"] == "NaturalPerson"
    # the next page holds only businesses, reached through the person: its token is their parent
    body = api_env.gql(query, purpose=None, id=SHOP_C, after=whole[0]["cursor"])
    assert codes(body) == {"PURPOSE_REQUIRED"}, body
    assert body["data"]["linkedParties"] is None
    assert audit_events(api_env)[-1]["outcome"] == "refused:purpose_required"


def test_a_pseudonymised_persons_records_name_no_case_or_decision(
    api_env: ApiEnv, tmp_path: Path
) -> None:
    """A court's case number or a decision number names the person to anyone who looks it up
    in the public lists: the analyst, who sees persons by token only, gets records without."""
    decided = tmp_path / "decided"
    decided.mkdir()
    write_csv(
        decided / "records.csv",
        [
            "record_id",
            "subject_id",
            "kind",
            "authority_name",
            "decision_number",
            "decision_date",
            "status",
            "disclosure",
            "source_system",
        ],
        [
            [
                "P-9",
                ZHANG,
                "admin_penalty",
                "厦门市市场监督管理局",
                "厦市监罚〔2024〕88号",
                "2024-05-01",
                "active",
                "public",
                "xm-scjg",
            ]
        ],
    )
    assert load_folder(api_env.store, decided, tmp_path / "rejects").rejected == 0
    found = api_env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', role=ApiRole.INVESTIGATOR)
    token = found["data"]["entity"]["id"]
    fields = "kind caseNumber decisionNumber description"
    query = f'{{ entity(id: "{token}") {{ records {{ {fields} }} }} }}'
    shown = api_env.gql(query, role=ApiRole.INVESTIGATOR)["data"]["entity"]["records"]
    assert {r["kind"]: r["caseNumber"] or r["decisionNumber"] for r in shown} == {
        "dishonest_debtor": "(2023)闽0203执1234号",
        "admin_penalty": "厦市监罚〔2024〕88号",
    }
    pseudonymised = api_env.gql(query, role=ApiRole.ANALYST)["data"]["entity"]["records"]
    assert sorted(r["kind"] for r in pseudonymised) == sorted(r["kind"] for r in shown)
    assert all(
        (r["caseNumber"], r["decisionNumber"], r["description"]) == (None, None, None)
        for r in pseudonymised
    )
    flags = "flags { own record { kind decisionNumber } }"
    report = f'{{ riskReport(id: "{token}", asOf: "2024-06-01") {{ {flags} }} }}'
    numbers = {
        role: {
            f["record"]["kind"]: f["record"]["decisionNumber"]
            for f in api_env.gql(report, role=role)["data"]["riskReport"]["flags"]
            if f["own"]
        }
        for role in (ApiRole.INVESTIGATOR, ApiRole.ANALYST)
    }
    assert numbers[ApiRole.INVESTIGATOR]["admin_penalty"] == "厦市监罚〔2024〕88号"
    assert set(numbers[ApiRole.ANALYST].values()) == {None}


CASE_AS_ID = "(2024)闽0203执88号"  # a court list whose record id is the case number


def test_a_pseudonymised_persons_records_go_by_a_pseudonym(api_env: ApiEnv, tmp_path: Path) -> None:
    """A source's record id is often the case or decision number, which names the person to
    anyone who looks it up: the analyst sees such a record under a keyed pseudonym, the same in
    the party's records, its report's flags and another party's evidence paths."""
    court = tmp_path / "court"
    court.mkdir()
    row = [CASE_AS_ID, ZHANG, "dishonest_debtor", "judicial", "COURT1", "厦门市思明区人民法院"]
    row += ["2024-02-01", "2024-02-01", "", "active", "public", "court", "厦门市思明区人民法院"]
    write_csv(court / "court_debtors.csv", RECORD_HEADER, [[*row, CASE_AS_ID]])
    assert load_folder(api_env.store, court, tmp_path / "rejects").rejected == 0
    found = api_env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', role=ApiRole.INVESTIGATOR)
    token = found["data"]["entity"]["id"]
    query = f'{{ entity(id: "{token}") {{ records {{ id kind }} }} }}'
    named = api_env.gql(query, role=ApiRole.INVESTIGATOR)["data"]["entity"]["records"]
    assert f"COURT:{CASE_AS_ID}" in {r["id"] for r in named}

    def analyst(text: str) -> dict[str, Any]:
        body = api_env.gql(text, role=ApiRole.ANALYST, purpose="analysis")
        assert "errors" not in body, body
        assert "闽0203执88" not in json.dumps(body, ensure_ascii=False)
        return dict(body["data"])

    records = analyst(query)["entity"]["records"]
    pseudonyms = {r["id"] for r in records}
    assert len(pseudonyms) == len(named) and all(
        re.fullmatch(r"REC:[0-9a-f]{32}", p) for p in pseudonyms
    )
    assert analyst(query)["entity"]["records"] == records  # stable across answers
    report = (
        f'{{ riskReport(id: "{token}", asOf: "2024-06-01") {{ flags {{ own record {{ id }} }} }} }}'
    )
    flagged = {f["record"]["id"] for f in analyst(report)["riskReport"]["flags"] if f["own"]}
    assert flagged and flagged <= pseudonyms
    paths = "contagion { paths { partyIds recordId } }"
    firm = analyst(f'{{ riskReport(id: "{FIRM_A}", asOf: "2024-06-01") {{ {paths} }} }}')
    through = [p for p in firm["riskReport"]["contagion"]["paths"] if token in p["partyIds"]]
    held = {
        p["recordId"] for p in through if p["partyIds"][0] == token
    }  # paths start at the holder
    assert held and held <= pseudonyms


@pytest.mark.parametrize("name", ["F", f"F{ZHANG}"])
def test_an_unknown_fragment_is_a_validation_error_and_never_logged(
    api_env: ApiEnv, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """strawberry's depth limiter raised KeyError on a spread of an unknown fragment: an
    INTERNAL_ERROR, whose logged traceback ended in `KeyError: 'F<an ID number>'`."""
    for query in (f"{{ __typename ...{name} }}", f'{{ entity(id: "x") {{ id ...{name} }} }}'):
        with caplog.at_level(logging.DEBUG, logger="credgraph"):
            response = api_env.post(query, role=ApiRole.ADMIN)
        assert response.status_code == 200, response.text
        assert codes(response.json()) == {"GRAPHQL_VALIDATION_FAILED"}, response.text
        assert not leaks(response.text), response.text
        assert ZHANG[2:-2] not in caplog.text and "Traceback" not in caplog.text
        caplog.clear()


def test_a_logged_traceback_never_carries_the_callers_text_unscrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error is logged with its traceback: every line of it scrubbed as a message
    to a caller is, its exception's message (which may quote an argument) included."""
    try:
        {}[f"F{ZHANG}"]  # what the depth limiter did
    except KeyError as exc:
        error = GraphQLError("unexpected", original_error=exc)
    with caplog.at_level(logging.DEBUG, logger="credgraph"):
        schema.process_errors([error])
    assert "graphql_error" in caplog.text and "KeyError" in caplog.text
    assert ZHANG[2:-2] not in caplog.text, caplog.text
    assert all(record.exc_info is None for record in caplog.records)


LONE_SURROGATE_FIELDS = {
    "entity": "query ($s: String!) { entity(id: $s) { id } }",
    "linkedParties": "query ($s: String!) { linkedParties(id: $s) { totalCount } }",
    "suspectedLinks": "query ($s: String!) { suspectedLinks(id: $s) { totalCount } }",
    "controlGroup": "query ($s: String!) { controlGroup(id: $s) { __typename } }",
    "guaranteeCircle": "query ($s: String!) { guaranteeCircle(id: $s) { __typename } }",
    "screen": "query ($s: String!) { screen(ids: [$s], purpose: LICENSING) { decision } }",
    "openObjection": "mutation ($s: String!) { openObjection(recordId: $s, evidence: "
    '"e", deadline: "2030-01-01") { recordId } }',
    "closeObjection": "mutation ($s: String!) { closeObjection(recordId: $s, upheld: false) "
    "{ recordId } }",
    "recordRepair": 'mutation ($s: String!) { recordRepair(recordId: $s, decisionNumber: "d") '
    "{ recordId } }",
}


@pytest.mark.parametrize("field", sorted(LONE_SURROGATE_FIELDS))
def test_a_lone_surrogate_in_an_argument_is_bad_input_naming_it(
    api_env: ApiEnv, field: str
) -> None:
    """JSON may carry a lone UTF-16 surrogate (`"\\ud800"`), which GraphQL takes as a String:
    hashing or sending it to the store raised UnicodeEncodeError, an INTERNAL_ERROR, in every
    root field but `entity`. Each answers BAD_USER_INPUT naming the argument, audited."""
    query = LONE_SURROGATE_FIELDS[field]
    argument = "ids" if field == "screen" else "recordId" if "recordId" in query else "id"
    headers = {
        "Authorization": f"Bearer {api_env.keys[ApiRole.ADMIN]}",
        "X-Credgraph-Purpose": "investigation",
        "Content-Type": "application/json",
    }
    for value in ("\ud800", f"{ZHANG}\ud800"):
        before = len(audit_events(api_env))
        # json.dumps writes the surrogate as the escape `\ud800`, as a hostile client would
        body = json.dumps({"query": query, "variables": {"s": value}}).encode()
        response = api_env.client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 200, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (field, response.text)
        assert error["message"].startswith(f"argument {argument}: "), error["message"]
        assert not leaks(response.text), response.text
        [event] = audit_events(api_env)[before:]
        assert (event["operation"], event["outcome"]) == (field, "refused:bad_user_input")
