"""GraphQL over real HTTP: the app served by uvicorn on a free port, on the embedded store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from credgraph.api.app import create_app
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext

from tests.conftest import TEST_PERSON_KEY, free_port, new_database
from tests.registries import FIRM_A, FIRM_B, LI, SHOP_C, ZHANG, write_tiny_registry

OFFICERS_AND_THEIR_FIRMS = """
query ($id: String!, $former: Boolean!) {
  linkedParties(id: $id, depth: 2, relationTypes: [LEGAL_REPRESENTATIVE_OF, EXECUTIVE_OF],
                includeFormer: $former) {
    root { id name }
    exploredDepth truncated
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


class Served:
    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(store, settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def api(
    embedded, driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    store = new_database(embedded, driver, prefix="api")
    tmp = tmp_path_factory.mktemp("api")
    load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [write_tiny_registry(tmp)],
        batch_size=100,
        rejects_dir=tmp / "rejects",
    )
    with Served(store, settings) as client:
        yield client


def graphql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_officers_and_their_other_firms(api: httpx.Client) -> None:
    body = graphql(api, OFFICERS_AND_THEIR_FIRMS, id=FIRM_A, former=False)
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
    assert zhang["party"]["records"] == [{"kind": "dishonest_debtor", "status": "active"}]
    assert by_name["李娜"]["via"]["role"] == "supervisor"
    other = by_name["福州闽江贸易有限公司"]
    assert (other["depth"], other["parentId"], other["via"]["role"]) == (
        2,
        zhang["party"]["id"],
        "director",
    )
    assert other["party"]["uscc"] == FIRM_B
    assert other["party"]["records"] == [{"kind": "admin_penalty", "status": "expired"}]


def test_former_relations_only_when_asked(api: httpx.Client) -> None:
    body = graphql(api, OFFICERS_AND_THEIR_FIRMS, id=FIRM_A, former=True)
    items = body["data"]["linkedParties"]["items"]
    shop = [item for item in items if item["party"]["id"] == SHOP_C]
    assert len(shop) == 1
    assert shop[0]["via"]["current"] is False and shop[0]["via"]["validTo"] == "2020-06-30"


def test_entity_by_uscc_org_code_and_resident_id(api: httpx.Client) -> None:
    firm = graphql(api, ENTITY, id=FIRM_A)["data"]["entity"]
    assert firm["__typename"] == "LegalPerson" and firm["uscc"] == FIRM_A
    assert firm["records"] == [
        {
            "category": "SanctionEvent",
            "kind": "blacklist",
            "status": "active",
            "authority": "厦门市应急管理局",
            "validTo": "2027-03-01",
        }
    ]
    by_org_code = graphql(api, ENTITY, id=f"{FIRM_A[8:16]}-{FIRM_A[16]}")["data"]["entity"]
    assert by_org_code["id"] == FIRM_A
    person = graphql(api, ENTITY, id=ZHANG)["data"]["entity"]
    assert person["__typename"] == "NaturalPerson" and person["name"] == "张伟"
    assert person["idMasked"] == ZHANG[:4] + "*" * 10 + ZHANG[-4:]


def test_resident_numbers_never_cross_the_wire(api: httpx.Client) -> None:
    for query, ident in ((ENTITY, ZHANG), (ENTITY, LI), (OFFICERS_AND_THEIR_FIRMS, FIRM_A)):
        variables: dict[str, Any] = {"id": ident}
        if query is OFFICERS_AND_THEIR_FIRMS:
            variables["former"] = True
        text = api.post("/graphql", json={"query": query, "variables": variables}).text
        assert ZHANG not in text and LI not in text


def test_unknown_party_is_null_and_bad_ids_name_the_argument(api: httpx.Client) -> None:
    unknown = graphql(api, ENTITY, id="91350100M000100Y43")
    assert unknown["data"]["entity"] is None and "errors" not in unknown
    bad = graphql(api, ENTITY, id="not-an-id")
    assert bad["data"]["entity"] is None
    assert bad["errors"][0]["message"].startswith("argument id:")
    wrong_check = graphql(api, ENTITY, id=ZHANG[:-1] + ("1" if ZHANG[-1] != "1" else "2"))
    assert "resident ID" in wrong_check["errors"][0]["message"]
    assert ZHANG[:-1] not in wrong_check["errors"][0]["message"]
    too_deep = graphql(
        api, OFFICERS_AND_THEIR_FIRMS.replace("depth: 2", "depth: 9"), id=FIRM_A, former=False
    )
    assert too_deep["errors"][0]["message"].startswith("argument depth:")


def test_health_readiness_and_metrics(api: httpx.Client) -> None:
    assert api.get("/healthz").json()["status"] == "ok"
    assert api.get("/readyz").json() == {"ready": True, "backend": "arcadedb"}
    metrics = api.get("/metrics").text
    assert 'credgraph_requests_total{route="/graphql",status="200"}' in metrics
