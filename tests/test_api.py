"""GraphQL over real HTTP: the app served by uvicorn on a free port, on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.queries.dump import dump_graph

from tests.api_support import (
    HONOUR_RECORD,
    OBJECTION_RECORD,
    REPAIR_RECORD,
    ApiEnv,
    cache_hits,
    start_api_env,
    store_reads,
)
from tests.registries import FIRM_A, FIRM_B, LI, SHOP_C, ZHANG, load_folder, write_csv

FIRM_D = make_uscc("9", "1", "350203", "MA2Y0004")


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("api"))


OFFICERS_AND_THEIR_FIRMS = """
query ($id: String!, $former: Boolean!) {
  linkedParties(id: $id, depth: 2, relationTypes: [LEGAL_REPRESENTATIVE_OF, EXECUTIVE_OF],
                includeFormer: $former) {
    root { id name }
    exploredDepth truncated totalCount
    items {
      depth parentId
      via { type role fromId toId current validTo source sourceRecord }
      party { __typename id name records { kind status }
              ... on LegalPerson { uscc kind }
              ... on NaturalPerson { idMasked } }
    }
  }
}
"""

ENTITY = """
query ($id: String!) {
  entity(id: $id) {
    __typename id name
    records { category kind status authority validTo }
    ... on LegalPerson { uscc orgCode kind registeredOn }
    ... on NaturalPerson { idMasked sex }
  }
}
"""

PAGE = """
query ($id: String!, $after: String) {
  linkedParties(id: $id, depth: 2, first: 2, after: $after) {
    totalCount
    edges { cursor node { party { id } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


def test_officers_and_their_other_firms(api_env: ApiEnv) -> None:
    body = api_env.gql(OFFICERS_AND_THEIR_FIRMS, id=FIRM_A, former=False)
    assert "errors" not in body, body
    result = body["data"]["linkedParties"]
    assert result["root"]["name"] == "厦门鹭岛科技有限公司"
    assert (result["exploredDepth"], result["truncated"]) == (2, False)
    by_name = {item["party"]["name"]: item for item in result["items"]}
    assert set(by_name) == {"张伟", "李娜", "福州闽江贸易有限公司"}
    zhang = by_name["张伟"]
    assert (zhang["depth"], zhang["via"]["type"], zhang["via"]["fromId"], zhang["via"]["toId"]) == (
        1,
        "LEGAL_REPRESENTATIVE_OF",
        zhang["party"]["id"],
        FIRM_A,
    )
    assert {"kind": "dishonest_debtor", "status": "active"} in zhang["party"]["records"]
    assert by_name["李娜"]["via"]["role"] == "supervisor"
    other = by_name["福州闽江贸易有限公司"]
    assert (other["depth"], other["parentId"], other["via"]["role"]) == (
        2,
        zhang["party"]["id"],
        "director",
    )
    assert other["party"]["uscc"] == FIRM_B


def test_former_relations_only_when_asked(api_env: ApiEnv) -> None:
    body = api_env.gql(OFFICERS_AND_THEIR_FIRMS, id=FIRM_A, former=True)
    items = body["data"]["linkedParties"]["items"]
    shop = [item for item in items if item["party"]["id"] == SHOP_C]
    assert len(shop) == 1
    assert shop[0]["via"]["current"] is False and shop[0]["via"]["validTo"] == "2020-06-30"


def _every_page(env: ApiEnv, party: str) -> tuple[list[str], int]:
    """The ids of every page of `PAGE` from `party`, following the cursors, and the total."""
    seen: list[str] = []
    after = None
    while True:
        page = env.gql(PAGE, id=party, after=after)["data"]["linkedParties"]
        seen += [edge["node"]["party"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


def test_pages_follow_cursors_without_gaps_or_repeats(api_env: ApiEnv) -> None:
    seen, total = _every_page(api_env, FIRM_A)
    assert len(seen) == len(set(seen)) == total >= 3


def test_a_walk_is_kept_until_the_data_moves(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    env_iter = start_api_env(embedded, driver, settings, tmp_path)
    env = next(env_iter)
    try:

        def pages() -> list[str]:
            return _every_page(env, FIRM_A)[0]

        def reads() -> tuple[float, ...]:
            return tuple(
                store_reads(env, op) for op in ("linked_parties", "lookup", "lookup.parties")
            )

        before = reads()
        first = pages()
        walked = reads()
        # several pages, one walk: at most one read per level and label at depth 2
        assert len(first) >= 3 and 0 < walked[0] - before[0] <= 2 * 2
        # the second time through: the walk, the identifier and the parties are all kept
        hits = {cache: cache_hits(env, cache) for cache in ("walks", "identifiers", "parties")}
        assert pages() == first
        assert reads() == walked
        assert all(cache_hits(env, cache) > hits[cache] for cache in hits), hits
        # a load moves the data version: the next question walks the new graph
        folder = tmp_path / "more"
        folder.mkdir()
        write_csv(
            folder / "legal_persons.csv",
            ["uscc", "name", "kind"],
            [[FIRM_D, "新公司", "enterprise"]],
        )
        write_csv(
            folder / "shareholdings.csv",
            ["holder_id", "company_id", "stake", "source_record"],
            [[FIRM_D, FIRM_A, "0.1", "s9"]],
        )
        load_folder(env.store, folder, tmp_path / "rejects-more")
        assert sorted(pages()) == sorted([*first, FIRM_D])
        assert reads()[0] > walked[0]
    finally:
        env_iter.close()


def test_walks_paths_and_screens_share_the_hubs_they_read(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    # every party with two relations in a level read counts as a hub here
    env_iter = start_api_env(embedded, driver, settings, tmp_path, api_hub_min_relations=2)
    env = next(env_iter)
    try:
        query = """query ($a: String!, $b: String!) { paths(from: $a, to: $b, maxDepth: 2) {
            paths { length parties { id } } } }"""
        before = store_reads(env, "linked_parties")
        cold = env.gql(query, a=FIRM_A, b=FIRM_B)["data"]["paths"]
        cold_reads = store_reads(env, "linked_parties") - before
        hits = cache_hits(env, "hubs")
        # the same search again takes the hubs it read from the cache, with the same answer
        before = store_reads(env, "linked_parties")
        assert env.gql(query, a=FIRM_A, b=FIRM_B)["data"]["paths"] == cold
        assert store_reads(env, "linked_parties") - before < cold_reads
        assert cache_hits(env, "hubs") > hits
        # and so does a walk through them
        hits = cache_hits(env, "hubs")
        assert env.gql(PAGE, id=FIRM_A, after=None)["data"]["linkedParties"]["totalCount"] >= 3
        assert cache_hits(env, "hubs") > hits
        # a screen keeps the hubs its risk walk read (a read of its own), and the next screen
        # near them takes them
        screen = """query ($id: String!) { screen(ids: [$id], purpose: LICENSING) {
            decision } }"""
        for firm in (FIRM_A, FIRM_B):
            hits = cache_hits(env, "hubs")
            assert "errors" not in env.gql(screen, role=ApiRole.APPROVAL, purpose=None, id=firm)
        assert cache_hits(env, "hubs") > hits
    finally:
        env_iter.close()


NETWORK = """
query ($id: String!, $first: Int, $after: String) {
  linkedParties(id: $id, depth: 1, first: $first, after: $after) {
    totalCount relationsTruncated
    pageInfo { hasNextPage endCursor }
    items { party { id name } via { type fromId toId sourceRecord } }
    relations { type fromId toId role stake amount current sourceRecord }
  }
}
"""


def _close_reads(api_env: ApiEnv) -> float:
    """How many closing reads (the relations among the farthest parties) the app has made."""
    return store_reads(api_env, "linked_parties.close")


def test_records_are_read_only_when_a_query_selects_them(api_env: ApiEnv) -> None:
    before = store_reads(api_env, "lookup.records")
    names = api_env.gql(f'{{ entity(id: "{FIRM_A}") {{ name }} }}')
    assert names == {"data": {"entity": {"name": "厦门鹭岛科技有限公司"}}}
    assert store_reads(api_env, "lookup.records") == before
    nested = (
        f'{{ linkedParties(id: "{FIRM_A}") {{ items {{ party {{ name '
        "... on LegalPerson { records { kind } } } } } }"
    )
    body = api_env.gql(nested)
    assert "errors" not in body, body
    kinds = {
        i["party"]["name"]: sorted(r["kind"] for r in i["party"]["records"])
        for i in body["data"]["linkedParties"]["items"]
        if "records" in i["party"]
    }
    # FIRM_B's penalties: P-1 (expired 2019), G-1, O-1 and O-2; the others linked are persons
    assert kinds == {"福州闽江贸易有限公司": ["admin_penalty"] * 4}
    assert store_reads(api_env, "lookup.records") > before


def test_linked_parties_carry_every_relation_among_them(api_env: ApiEnv) -> None:
    before = _close_reads(api_env)
    body = api_env.gql(NETWORK, id=FIRM_A)
    assert "errors" not in body, body
    answer = body["data"]["linkedParties"]
    ids = {item["party"]["name"]: item["party"]["id"] for item in answer["items"]}
    zhang, li = ids["张伟"], ids["李娜"]
    got = sorted(
        (r["type"], r["fromId"], r["toId"], r["sourceRecord"]) for r in answer["relations"]
    )
    # the three hops that reached 张伟, 李娜 and FIRM_B, and the relations among those three
    # (his directorship and her stake in FIRM_B), which the walk at depth 1 does not read
    assert got == sorted(
        [
            ("LEGAL_REPRESENTATIVE_OF", zhang, FIRM_A, "r1"),
            ("EXECUTIVE_OF", zhang, FIRM_B, "r2"),
            ("EXECUTIVE_OF", li, FIRM_A, "r3"),
            ("SHAREHOLDER_OF", FIRM_A, FIRM_B, "s1"),
            ("SHAREHOLDER_OF", li, FIRM_B, "s2"),
            ("GUARANTEES", FIRM_A, FIRM_B, "g1"),
        ]
    )
    vias = {(i["via"]["type"], i["via"]["fromId"], i["via"]["toId"]) for i in answer["items"]}
    assert vias <= {(t, a, b) for t, a, b, _ in got}
    by_record = {r["sourceRecord"]: r for r in answer["relations"]}
    assert by_record["s2"]["stake"] == 0.4 and by_record["g1"]["amount"] == 7500000
    assert by_record["r2"]["role"] == "director" and by_record["r2"]["current"] is True
    assert answer["relationsTruncated"] is False
    assert _close_reads(api_env) > before

    # page by page: each relation once, on the page of its later end
    gathered: list[tuple[str, ...]] = []
    known = {FIRM_A}
    after = None
    while True:
        chunk = api_env.gql(NETWORK, id=FIRM_A, first=1, after=after)["data"]["linkedParties"]
        known |= {item["party"]["id"] for item in chunk["items"]}
        for r in chunk["relations"]:
            assert {r["fromId"], r["toId"]} <= known
            gathered.append((r["type"], r["fromId"], r["toId"], r["sourceRecord"]))
        if not chunk["pageInfo"]["hasNextPage"]:
            break
        after = chunk["pageInfo"]["endCursor"]
    assert sorted(gathered) == got

    # an analyst sees persons by token only, in the relations as everywhere
    analyst = api_env.post(NETWORK, role=ApiRole.ANALYST, purpose="analysis", id=FIRM_A)
    relations = analyst.json()["data"]["linkedParties"]["relations"]
    assert {r["fromId"] for r in relations} >= {zhang, li}
    assert ZHANG not in analyst.text and LI not in analyst.text

    # a query that does not ask for the relations does not pay for their read
    before = _close_reads(api_env)
    api_env.gql(PAGE, id=FIRM_A, after=None)
    assert _close_reads(api_env) == before


def test_entity_by_uscc_org_code_and_resident_id(api_env: ApiEnv) -> None:
    firm = api_env.gql(ENTITY, id=FIRM_A)["data"]["entity"]
    assert firm["__typename"] == "LegalPerson" and firm["uscc"] == FIRM_A
    assert {
        "category": "SanctionEvent",
        "kind": "blacklist",
        "status": "active",
        "authority": "厦门市应急管理局",
        "validTo": "2027-03-01",
    } in firm["records"]
    by_org_code = api_env.gql(ENTITY, id=f"{FIRM_A[8:16]}-{FIRM_A[16]}")["data"]["entity"]
    assert by_org_code["id"] == FIRM_A
    person = api_env.gql(ENTITY, id=ZHANG)["data"]["entity"]
    assert person["__typename"] == "NaturalPerson" and person["name"] == "张伟"
    assert person["idMasked"] == ZHANG[:4] + "*" * 10 + ZHANG[-4:]


def test_search_by_name_folds_traditional_characters(api_env: ApiEnv) -> None:
    body = api_env.gql('{ search(name: "廈門鷺島") { totalCount edges { node { id name } } } }')
    assert [e["node"]["id"] for e in body["data"]["search"]["edges"]] == [FIRM_A]


def test_a_search_says_when_more_parties_match_than_it_lists(
    api_env: ApiEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "namesakes"
    folder.mkdir()
    firms = [make_uscc("9", "1", "350211", f"MA8N{n:04d}") for n in range(3)]
    rows = [[uscc, f"同名测试{n}号有限公司", "enterprise"] for n, uscc in enumerate(firms)]
    write_csv(folder / "legal_persons.csv", ["uscc", "name", "kind"], rows)
    load_folder(api_env.store, folder, tmp_path / "rejects")
    query = '{ search(name: "同名测试") { totalCount truncated edges { node { id } } } }'
    everything = api_env.gql(query)["data"]["search"]
    assert (everything["totalCount"], everything["truncated"]) == (3, False)
    monkeypatch.setattr("credgraph.api.lookup.MAX_SEARCH_LIMIT", 2)  # the served app's limit
    cut = api_env.gql(query)["data"]["search"]
    assert (cut["totalCount"], cut["truncated"]) == (2, True)


def test_paths_between_two_firms_have_typed_hops(api_env: ApiEnv) -> None:
    query = """query ($a: String!, $b: String!) { paths(from: $a, to: $b, maxDepth: 2) {
        truncated exploredDepth paths { length parties { id } hops { type fromId toId } } } }"""
    answer = api_env.gql(query, a=FIRM_A, b=FIRM_B)["data"]["paths"]
    assert answer["truncated"] is False and answer["exploredDepth"] == 1
    paths = answer["paths"]
    assert len(paths) == 1 and paths[0]["length"] == 1
    assert paths[0]["parties"][0]["id"] == FIRM_A and paths[0]["parties"][-1]["id"] == FIRM_B
    assert paths[0]["hops"][0]["type"] in {"SHAREHOLDER_OF", "GUARANTEES"}


def test_risk_report_and_screen(api_env: ApiEnv) -> None:
    report = api_env.gql(
        """query ($id: String!) { riskReport(id: $id) { found snapshotId profile
            flags { code own record { id kind } } contagion { available } } }""",
        id=FIRM_A,
    )
    assert "errors" not in report, report
    flags = report["data"]["riskReport"]["flags"]
    assert any(f["code"] == "OWN_BLACKLIST" and f["own"] for f in flags)
    screened = api_env.gql(
        """query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) {
            index decision found partyId snapshotId
            ownReasons { code } linkedReasons { code } } }""",
        role=ApiRole.APPROVAL,
        purpose=None,
        ids=[FIRM_A, "91350100M000100Y43"],
    )
    assert "errors" not in screened, screened
    first, second = screened["data"]["screen"]
    assert first["decision"] == "BLOCK" and "OWN_BLACKLIST" in {
        r["code"] for r in first["ownReasons"]
    }
    assert (second["decision"], second["found"], second["partyId"]) == ("NOT_FOUND", False, None)
    assert first["snapshotId"] == second["snapshotId"]


def test_objection_opened_closed_and_repair_recorded(api_env: ApiEnv) -> None:
    opened = api_env.gql(
        """mutation ($r: String!) { openObjection(recordId: $r, evidence: "paid in full",
            deadline: "2099-01-01") { status change recordId } }""",
        role=ApiRole.ADMIN,
        purpose="objection_handling",
        r=OBJECTION_RECORD,
    )
    assert opened["data"]["openObjection"]["status"] == "under_objection", opened
    firm = api_env.gql(
        "query ($id: String!) { entity(id: $id) { records { id status underObjection } } }",
        id=FIRM_B,
    )["data"]["entity"]
    assert {"id": OBJECTION_RECORD, "status": "under_objection", "underObjection": True} in firm[
        "records"
    ]
    again = api_env.gql(
        """mutation ($r: String!) { openObjection(recordId: $r, evidence: "x",
            deadline: "2099-01-01") { status } }""",
        role=ApiRole.ADMIN,
        r=OBJECTION_RECORD,
    )
    [conflict] = again["errors"]
    assert conflict["extensions"]["code"] == "CONFLICT" and conflict["path"] == ["openObjection"]
    assert conflict["message"] == "the record is already under objection"
    closed = api_env.gql(
        """mutation ($r: String!) { closeObjection(recordId: $r, upheld: false) { status } }""",
        role=ApiRole.ADMIN,
        r=OBJECTION_RECORD,
    )
    assert closed["data"]["closeObjection"]["status"] == "active"
    repaired = api_env.gql(
        """mutation ($r: String!) { recordRepair(recordId: $r, decisionNumber: "修复〔2026〕1号")
            { status statusSince } }""",
        role=ApiRole.ADMIN,
        r=REPAIR_RECORD,
    )
    assert repaired["data"]["recordRepair"]["status"] == "repaired", repaired


CHANGE = """mutation ($r: String!, $on: Date, $e: String = "e") {
  open: openObjection(recordId: $r, evidence: $e, deadline: "2099-01-01", effectiveOn: $on)
  { status statusSince }
}"""
CLOSE = """mutation ($r: String!, $on: Date) {
  closeObjection(recordId: $r, upheld: false, effectiveOn: $on) { status }
}"""
REPAIR = """mutation ($r: String!) { recordRepair(recordId: $r, decisionNumber: "1") { status } }"""
SCREEN_REASONS = """query ($id: String!) {
  screen(ids: [$id], purpose: LICENSING) { decision ownReasons { code } }
}"""


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def test_a_change_takes_effect_at_latest_today_and_never_before_the_status_it_changes(
    api_env: ApiEnv,
) -> None:
    admin = {"role": ApiRole.ADMIN, "purpose": "objection_handling"}
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    future = api_env.gql(CHANGE, r=HONOUR_RECORD, on=tomorrow, **admin)
    assert _code(future) == "BAD_USER_INPUT" and "effectiveOn" in future["errors"][0]["message"]
    # an objection to a record before it was published would rewrite its history
    before = api_env.gql(CHANGE, r=HONOUR_RECORD, on="1990-01-01", e="早", **admin)
    refused = before["errors"][0]["message"]
    assert _code(before) == "CONFLICT" and "cannot take effect before" in refused, refused
    full_width = ZHANG.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    evidence = f"申请人 {ZHANG} 已履行；身份证号 {full_width}"
    opened = api_env.gql(CHANGE, r=HONOUR_RECORD, on=None, e=evidence, **admin)["data"]["open"]
    assert opened == {"status": "under_objection", "statusSince": clock.today().isoformat()}
    stored = str(dump_graph(api_env.store))  # free text is stored with the numbers masked
    assert "已履行" in stored and ZHANG not in stored and full_width not in stored
    # an honour under objection is annotated, and is no reason to review its holder
    screen = api_env.gql(SCREEN_REASONS, role=ApiRole.APPROVAL, id=SHOP_C)["data"]["screen"][0]
    assert "RECORD_UNDER_OBJECTION" not in {r["code"] for r in screen["ownReasons"]}, screen
    early = api_env.gql(CLOSE, r=HONOUR_RECORD, on="1990-01-01", **admin)
    assert _code(early) == "CONFLICT" and "since" in early["errors"][0]["message"]
    assert api_env.gql(CLOSE, r=HONOUR_RECORD, on=None, **admin)["data"]["closeObjection"] == {
        "status": "active"
    }
    repaired = api_env.gql(REPAIR, r=HONOUR_RECORD, **admin)
    assert _code(repaired) == "CONFLICT" and "negative" in repaired["errors"][0]["message"]


def test_unknown_party_is_null_and_bad_ids_name_the_argument(api_env: ApiEnv) -> None:
    unknown = api_env.gql(ENTITY, id="91350100M000100Y43")
    assert unknown["data"]["entity"] is None and "errors" not in unknown
    report = api_env.gql(
        "query ($id: String!) { riskReport(id: $id) { found party { id } flags { code } "
        "contagion { score } snapshotId } }",
        id="91350100M000100Y43",
    )["data"]["riskReport"]
    assert report["found"] is False and report["party"] is None and report["flags"] == []
    assert report["contagion"] is None and len(report["snapshotId"]) == 16
    bad = api_env.gql(ENTITY, id="not-an-id")
    assert bad["data"]["entity"] is None
    assert bad["errors"][0]["message"].startswith("argument id:")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_check = api_env.gql(ENTITY, id=ZHANG[:-1] + ("1" if ZHANG[-1] != "1" else "2"))
    assert "resident ID" in wrong_check["errors"][0]["message"]
    assert ZHANG[:-1] not in wrong_check["errors"][0]["message"]
    too_deep = api_env.gql(
        OFFICERS_AND_THEIR_FIRMS.replace("depth: 2", "depth: 9"), id=FIRM_A, former=False
    )
    assert too_deep["errors"][0]["message"].startswith("argument depth:")


def test_resident_numbers_never_cross_the_wire(api_env: ApiEnv) -> None:
    queries = ((ENTITY, ZHANG), (ENTITY, LI), (OFFICERS_AND_THEIR_FIRMS, FIRM_A), (NETWORK, LI))
    for query, ident in queries:
        variables: dict[str, Any] = {"id": ident}
        if query is OFFICERS_AND_THEIR_FIRMS:
            variables["former"] = True
        for role in ApiRole:
            text = api_env.post(query, role=role, **variables).text
            assert ZHANG not in text and LI not in text


def test_health_readiness_and_metrics(api_env: ApiEnv) -> None:
    client = api_env.client
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"ready": True, "backend": "arcadedb"}
    api_env.gql(ENTITY, id=FIRM_A)
    metrics = client.get("/metrics").text
    assert 'credgraph_http_requests_total{route="/graphql",status="200"}' in metrics
    assert 'credgraph_graphql_operation_duration_seconds_bucket{operation="entity"' in metrics
    assert 'credgraph_store_duration_seconds_count{operation="lookup' in metrics
    assert "# TYPE credgraph_http_request_duration_seconds histogram" in metrics


def test_a_depth_past_the_walks_limit_is_refused_whatever_the_setting(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    # CREDGRAPH_MAX_DEPTH goes up to 6 for `paths`; the linked-party and dishonest-party walks
    # stop at 4: depth 5 is the caller's error, not the server's
    for env in start_api_env(embedded, driver, settings, tmp_path, max_depth=6):
        for field in ("linkedParties", "dishonestParties"):
            body = env.gql(f'{{ {field}(id: "{FIRM_A}", depth: 5) {{ totalCount }} }}')
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
            assert body["errors"][0]["message"] == "argument depth: must be between 1 and 4"
        paths = f'{{ paths(from: "{FIRM_A}", to: "{FIRM_B}", maxDepth: 6) {{ truncated }} }}'
        deep = env.gql(paths)
        assert "errors" not in deep, deep
