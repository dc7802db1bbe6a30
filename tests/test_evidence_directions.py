"""A risk report's evidence paths say which way each relation runs (docs/risk-model.md,
Explanation): `riskReport`'s `contagion.paths` give their hops in order as `Relation`s (the type
the `paths` field's hops have, `fromId`/`toId` in the stored direction) with a FORWARD/BACKWARD
direction relative to the path, and `credgraph risk explain` (text and --json) shows the same.

The registry (tests/api_support.py) plus, in separate components, each with a sanctioned firm
(an active blacklist): G guarantees S (the path S -> G runs against the guarantee), T guarantees
H (with it), U holds 80 % of J (with it), and QIAN, a natural person, is legal representative of
W and of L (the path W -> QIAN -> L runs against the first relation and with the second). Each
hop is checked against the rows written here."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api
from tests.conftest import TEST_PERSON_KEY
from tests.registries import RECORD_HEADER, write_csv

G, S, T, H, U, J, W, L = (make_uscc("9", "1", "350203", f"MA2Y01{n:02d}") for n in range(8))
FIRMS = (G, S, T, H, U, J, W, L)
QIAN = make_resident_id("350203", date(1970, 8, 8), 21, "M")
QIAN_ID = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, QIAN)
AS_OF = "2026-06-30"
# decided and starting 2025-01-01, ending 2028-01-01, active, public, no court or case
TERM = ["2025-01-01", "2025-01-01", "2028-01-01", "active", "public", "xm-credit", "", ""]

# the relations written, as (type, from, to, source_record): the reference for every hop
GUARANTEE_ROWS = [(G, S, "ev-g1"), (T, H, "ev-g2")]
HOLDING_ROWS = [(U, J, "0.8", "ev-s1")]
ROLE_ROWS = [(QIAN, W, "ev-r1"), (QIAN, L, "ev-r2")]
STORED = {
    **{(f, t): ("GUARANTEES", ref) for f, t, ref in GUARANTEE_ROWS},
    **{(f, t): ("SHAREHOLDER_OF", ref) for f, t, _, ref in HOLDING_ROWS},
    **{(QIAN_ID, t): ("LEGAL_REPRESENTATIVE_OF", ref) for _, t, ref in ROLE_ROWS},
}


def write_evidence(extra: Path) -> None:
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[firm, f"证据方向测试公司{n}", "enterprise"] for n, firm in enumerate(FIRMS)],
    )
    write_csv(
        extra / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", QIAN, "钱进", "M"]],
    )
    write_csv(
        extra / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "valid_from", "source_record"],
        [[f, t, "guarantees", "5000000", "2020-01-01", ref] for f, t, ref in GUARANTEE_ROWS],
    )
    write_csv(
        extra / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "valid_from", "source_record"],
        [[f, t, stake, "2018-01-01", ref] for f, t, stake, ref in HOLDING_ROWS],
    )
    write_csv(
        extra / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "valid_to", "source_record"],
        [[p, t, "legal_representative", "2015-01-01", "", ref] for p, t, ref in ROLE_ROWS],
    )
    write_csv(
        extra / "records.csv",
        RECORD_HEADER,
        [
            [f"EV-{n}", firm, "blacklist", "work_safety", "AUTH1", "厦门市应急管理局", *TERM]
            for n, firm in enumerate((S, T, U, W))
        ],
    )


api_env, cli = module_api("evidence", write_evidence)

REPORT = """query ($id: String!, $asOf: Date) {
  riskReport(id: $id, asOf: $asOf) {
    contagion { paths {
      partyIds relations recordId directions
      hops { type fromId toId role stake amount validFrom validTo current source sourceRecord }
    } } } }"""

# the applicant, then the parties of its one evidence path (from the sanctioned firm's record
# to the applicant), and each hop's direction relative to the path
CASES = [
    (G, [S, G], ["BACKWARD"]),  # G guarantees S: the guarantee runs against the path
    (H, [T, H], ["FORWARD"]),  # T guarantees H
    (J, [U, J], ["FORWARD"]),  # U holds J
    (L, [W, QIAN_ID, L], ["BACKWARD", "FORWARD"]),  # QIAN represents W and L
]


def _paths(api_env: ApiEnv, party: str, role: ApiRole) -> list[dict[str, Any]]:
    body = api_env.gql(REPORT, role=role, id=party, asOf=AS_OF)
    assert "errors" not in body, body
    return body["data"]["riskReport"]["contagion"]["paths"]  # type: ignore[no-any-return]


def _check_hops(path: dict[str, Any], parties: list[str], directions: list[str]) -> None:
    """Each hop links parties[i] and parties[i+1], stored as a written row says, and its
    direction says which way that row runs along the path."""
    assert path["partyIds"] == parties
    assert path["directions"] == directions
    assert [hop["type"] for hop in path["hops"]] == path["relations"]
    for i, (hop, direction) in enumerate(zip(path["hops"], directions, strict=True)):
        earlier, later = parties[i], parties[i + 1]
        stored = (earlier, later) if direction == "FORWARD" else (later, earlier)
        assert (hop["fromId"], hop["toId"]) == stored
        assert stored in STORED, hop  # a relation written in that direction
        assert hop["type"] == STORED[stored][0]
        assert hop["current"] is True


@pytest.mark.parametrize(("party", "parties", "directions"), CASES)
def test_evidence_hops_say_which_way_each_relation_runs(
    api_env: ApiEnv, party: str, parties: list[str], directions: list[str]
) -> None:
    [path] = _paths(api_env, party, ApiRole.INVESTIGATOR)
    _check_hops(path, parties, directions)
    for hop in path["hops"]:
        assert hop["sourceRecord"] == STORED[(hop["fromId"], hop["toId"])][1]


def test_evidence_hops_carry_the_relations_dates_roles_and_stakes(api_env: ApiEnv) -> None:
    [guarantee] = _paths(api_env, G, ApiRole.INVESTIGATOR)[0]["hops"]
    assert guarantee["amount"] == 5000000 and guarantee["validFrom"] == "2020-01-01"
    assert guarantee["validTo"] is None and guarantee["source"]
    [holding] = _paths(api_env, J, ApiRole.INVESTIGATOR)[0]["hops"]
    assert holding["stake"] == pytest.approx(0.8) and holding["validFrom"] == "2018-01-01"
    first, second = _paths(api_env, L, ApiRole.INVESTIGATOR)[0]["hops"]
    assert first["role"] == second["role"] == "legal_representative"
    assert first["validFrom"] == "2015-01-01"


def test_a_person_on_an_evidence_path_is_shown_as_the_role_sees_persons(
    api_env: ApiEnv,
) -> None:
    # pseudonymised (analyst): the token, and not the source's id of the person's relations,
    # as the `paths` hops; masked (approval): as an investigator
    [path] = _paths(api_env, L, ApiRole.ANALYST)
    _check_hops(path, [W, QIAN_ID, L], ["BACKWARD", "FORWARD"])
    assert [hop["sourceRecord"] for hop in path["hops"]] == [None, None]
    [path] = _paths(api_env, L, ApiRole.APPROVAL)
    _check_hops(path, [W, QIAN_ID, L], ["BACKWARD", "FORWARD"])
    assert [hop["sourceRecord"] for hop in path["hops"]] == ["ev-r1", "ev-r2"]
    # the public role gets no risk report, hence no evidence path
    body = api_env.gql(REPORT, role=ApiRole.PUBLIC, purpose=None, id=L, asOf=AS_OF)
    assert body["data"] is None or body["data"]["riskReport"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _explain(cli: CliRunner, party: str, *json_flag: str) -> Any:
    result = cli.invoke(
        app,
        ["risk", "explain", party, "--as-of", AS_OF, *json_flag, "--purpose", "investigation"],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if json_flag else result.stdout


@pytest.mark.parametrize(("party", "parties", "directions"), CASES)
def test_risk_explain_json_agrees_with_the_api(
    api_env: ApiEnv, cli: CliRunner, party: str, parties: list[str], directions: list[str]
) -> None:
    [path] = _explain(cli, party, "--json")["linked"]["contagion"]["paths"]
    assert [p["id"] for p in path["parties"]] == parties
    assert [hop["direction"] for hop in path["hops"]] == [d.lower() for d in directions]
    [answer] = _paths(api_env, party, ApiRole.INVESTIGATOR)
    for hop, shown in zip(path["hops"], answer["hops"], strict=True):
        assert (hop["from_party"]["id"], hop["to_party"]["id"]) == (
            (shown["fromId"], shown["toId"])
            if hop["direction"] == "forward"
            else (shown["toId"], shown["fromId"])
        )
        assert hop["source_record"] == shown["sourceRecord"]
        assert hop["type"] == shown["type"]


def test_risk_explain_text_draws_each_hop_the_way_it_runs(cli: CliRunner) -> None:
    assert f"via {S} <-[GUARANTEES]- {G}" in _explain(cli, G)
    assert f"via {T} -[GUARANTEES]-> {H}" in _explain(cli, H)
    assert f"via {U} -[SHAREHOLDER_OF]-> {J}" in _explain(cli, J)
    text = _explain(cli, L)
    assert (
        f"via {W} <-[LEGAL_REPRESENTATIVE_OF]- {QIAN_ID} -[LEGAL_REPRESENTATIVE_OF]-> {L}" in text
    )
