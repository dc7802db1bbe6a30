"""A real GraphQL client library (gql over httpx) and schemathesis against /graphql."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings
from gql import Client, gql
from gql.transport.httpx import HTTPXTransport
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_A, ZHANG

SDL = Path(__file__).resolve().parents[1] / "docs" / "schema.graphql"
SCHEMA = schemathesis.graphql.from_path(SDL)


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("fuzz"))


def client_for(env: ApiEnv, role: ApiRole) -> Client:
    transport = HTTPXTransport(
        url=f"{env.served.url}/graphql",
        headers={
            "Authorization": f"Bearer {env.keys[role]}",
            "X-Credgraph-Purpose": "licensing",
        },
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


def test_an_approval_system_screens_through_a_graphql_client(api_env: ApiEnv) -> None:
    query = gql(
        """query Screen($ids: [String!]!) {
             screen(ids: $ids, purpose: LICENSING) { index decision found snapshotId
               ownReasons { code recordId } linkedReasons { code } } }"""
    )
    query.variable_values = {"ids": [FIRM_A, ZHANG]}
    with client_for(api_env, ApiRole.APPROVAL) as session:
        result = session.execute(query)
    firm, person = result["screen"]
    assert firm["decision"] == "BLOCK" and person["found"] is True
    assert person["decision"] in {"BLOCK", "REVIEW"}
    assert any(r["code"] == "OWN_DISHONEST_DEBTOR" for r in person["ownReasons"])


def test_a_graphql_client_sees_refusals_as_errors(api_env: ApiEnv) -> None:
    from gql.transport.exceptions import TransportQueryError

    query = gql('query { linkedParties(id: "x") { totalCount } }')
    with client_for(api_env, ApiRole.APPROVAL) as session, pytest.raises(TransportQueryError) as e:
        session.execute(query)
    assert e.value.errors and e.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


@SCHEMA.parametrize()
@hypothesis_settings(
    max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_schemathesis_finds_no_server_error(case: Any, api_env: ApiEnv) -> None:
    response = case.call(
        base_url=f"{api_env.served.url}/graphql",
        headers={
            "Authorization": f"Bearer {api_env.keys[ApiRole.ADMIN]}",
            "X-Credgraph-Purpose": "supervision",
        },
    )
    assert response.status_code == 200, (response.request.url, response.text)
    body = response.json()
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
    assert "INTERNAL_ERROR" not in codes, body
