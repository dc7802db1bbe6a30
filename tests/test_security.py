"""Abuse and bad input: keys, limits, injection payloads, masking of everything said back."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio import to_thread
from credgraph.api.gate import RequestIds
from credgraph.api.keys import ApiKeyError, KeyRing, make_key, revoke
from credgraph.api.roles import ApiRole
from credgraph.api.schema import schema
from credgraph.graph.settings import Environment, Settings
from credgraph.graph.store import GraphStore
from credgraph.queries.dump import dump_graph
from fastapi import APIRouter
from graphql import build_schema

from tests.api_support import ApiEnv, metric, start_api_env
from tests.registries import FIRM_A, ZHANG


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("api"))


PAYLOADS = [
    "' OR 1=1 //",
    '"}) MATCH (n) DETACH DELETE n //',
    "x` ) DETACH DELETE n WITH 1 AS `y",
    "91350203MA2Y0001XR' }) RETURN 1 UNION MATCH (n) SET n.pwned = true RETURN 1 //",
    "$uids",
    "\\u0000\\x00" + "\x00",
    "张伟\u202e\u200b",
    "ＺＨＡＮＧ" + "１" * 18,
    "A" * 5000,
    "9" * 17 + "X",
    "REG:' DELETE n",
    "DOC:resident:CN:' DELETE n",
    "\ud7ff" * 3,
]

STRING_ARGUMENTS = {
    "entity.id": ("query ($v: String!) { entity(id: $v) { id } }", ApiRole.ADMIN),
    "search.name": ("query ($v: String!) { search(name: $v) { totalCount } }", ApiRole.ADMIN),
    "search.after": (
        'query ($v: String!) { search(name: "厦门", after: $v) { totalCount } }',
        ApiRole.ADMIN,
    ),
    "linkedParties.id": (
        "query ($v: String!) { linkedParties(id: $v) { totalCount } }",
        ApiRole.ADMIN,
    ),
    "linkedParties.after": (
        f'query ($v: String!) {{ linkedParties(id: "{FIRM_A}", after: $v) {{ totalCount }} }}',
        ApiRole.ADMIN,
    ),
    "paths.from": (
        f'query ($v: String!) {{ paths(from: $v, to: "{FIRM_A}") {{ truncated }} }}',
        ApiRole.ADMIN,
    ),
    "paths.to": (
        f'query ($v: String!) {{ paths(from: "{FIRM_A}", to: $v) {{ truncated }} }}',
        ApiRole.ADMIN,
    ),
    "riskReport.id": ("query ($v: String!) { riskReport(id: $v) { found } }", ApiRole.ADMIN),
    "riskReport.profile": (
        f'query ($v: String!) {{ riskReport(id: "{FIRM_A}", profile: $v) {{ found }} }}',
        ApiRole.ADMIN,
    ),
    "screen.ids": (
        "query ($v: String!) { screen(ids: [$v], purpose: LICENSING) { decision } }",
        ApiRole.ADMIN,
    ),
    "screen.profile": (
        f'query ($v: String!) {{ screen(ids: ["{FIRM_A}"], purpose: LICENSING, profile: $v) '
        "{ decision } }",
        ApiRole.ADMIN,
    ),
    "records.kinds": (
        f'query ($v: String!) {{ entity(id: "{FIRM_A}") {{ records(kinds: [$v]) {{ id }} }} }}',
        ApiRole.ADMIN,
    ),
    "dishonestParties.id": (
        "query ($v: String!) { dishonestParties(id: $v) { totalCount } }",
        ApiRole.ADMIN,
    ),
    "dishonestParties.profile": (
        f'query ($v: String!) {{ dishonestParties(id: "{FIRM_A}", profile: $v) {{ totalCount }} }}',
        ApiRole.ADMIN,
    ),
    "dishonestParties.after": (
        f'query ($v: String!) {{ dishonestParties(id: "{FIRM_A}", after: $v) {{ totalCount }} }}',
        ApiRole.ADMIN,
    ),
    "suspectedLinks.id": (
        "query ($v: String!) { suspectedLinks(id: $v) { totalCount } }",
        ApiRole.ADMIN,
    ),
    "suspectedLinks.after": (
        f'query ($v: String!) {{ suspectedLinks(id: "{FIRM_A}", after: $v) {{ totalCount }} }}',
        ApiRole.ADMIN,
    ),
    "controlGroup.id": ("query ($v: String!) { controlGroup(id: $v) { minStake } }", ApiRole.ADMIN),
    "guaranteeCircle.id": (
        "query ($v: String!) { guaranteeCircle(id: $v) { limited } }",
        ApiRole.ADMIN,
    ),
    "openObjection.recordId": (
        'mutation ($v: String!) { openObjection(recordId: $v, evidence: "e", '
        'deadline: "2099-01-01") { status } }',
        ApiRole.ADMIN,
    ),
    "screen.sector": (
        f'query ($v: String!) {{ screen(ids: ["{FIRM_A}"], purpose: LICENSING, sector: $v) '
        "{ decision } }",
        ApiRole.ADMIN,
    ),
    "openObjection.evidence": (
        'mutation ($v: String!) { openObjection(recordId: "NO:SUCH", evidence: $v, '
        'deadline: "2099-01-01") { status } }',
        ApiRole.ADMIN,
    ),
    "closeObjection.recordId": (
        "mutation ($v: String!) { closeObjection(recordId: $v, upheld: true) { status } }",
        ApiRole.ADMIN,
    ),
    "recordRepair.recordId": (
        'mutation ($v: String!) { recordRepair(recordId: $v, decisionNumber: "1") { status } }',
        ApiRole.ADMIN,
    ),
    "recordRepair.note": (
        'mutation ($v: String!) { recordRepair(recordId: "NO:SUCH", decisionNumber: "1", '
        "note: $v) { status } }",
        ApiRole.ADMIN,
    ),
    "closeObjection.note": (
        'mutation ($v: String!) { closeObjection(recordId: "NO:SUCH", upheld: true, note: $v) '
        "{ status } }",
        ApiRole.ADMIN,
    ),
    "recordRepair.decisionNumber": (
        'mutation ($v: String!) { recordRepair(recordId: "NO:SUCH", decisionNumber: $v) '
        "{ status } }",
        ApiRole.ADMIN,
    ),
}


def no_key_ids(store: GraphStore) -> Any:
    return dump_graph(store, skip_labels=["ApiKey"])


def test_requests_without_a_valid_key_get_401(api_env: ApiEnv) -> None:
    query = '{ entity(id: "x") { id } }'
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = api_env.client.post("/graphql", json={"query": query}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": [
                {
                    "message": "send a valid API key as `Authorization: Bearer <key>`",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
    forged = api_env.keys[ApiRole.ADMIN][:-4] + "AAAA"
    assert api_env.post(query, key=forged).status_code == 401
    for path in ("/healthz", "/readyz", "/metrics"):
        assert api_env.client.get(path).status_code == 200


def test_revoked_keys_and_unknown_roles_are_refused(api_env: ApiEnv) -> None:
    ring = KeyRing(api_env.store, cache_s=0)
    new = make_key(api_env.store, "analyst", "to be revoked")
    assert ring.caller(new.secret) is not None
    revoke(api_env.store, new.key_id)
    assert ring.caller(new.secret) is None
    with pytest.raises(ApiKeyError, match="must be one of") as refused:
        make_key(api_env.store, "root", "x")
    assert refused.value.argument == "role"


def test_an_unknown_purpose_is_a_400(api_env: ApiEnv) -> None:
    response = api_env.post('{ entity(id: "x") { id } }', purpose="curiosity")
    assert response.status_code == 400
    assert "X-Credgraph-Purpose" in response.json()["errors"][0]["message"]


def test_two_purposes_are_a_400(api_env: ApiEnv) -> None:
    headers = [
        ("Authorization", f"Bearer {api_env.keys[ApiRole.INVESTIGATOR]}"),
        ("X-Credgraph-Purpose", "investigation"),
        ("X-Credgraph-Purpose", "fishing"),
    ]
    body = {"query": '{ entity(id: "x") { id } }'}
    response = api_env.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "header X-Credgraph-Purpose: give it once, one of licensing, procurement, "
        "public_resource_trading, fiscal_funds, recruitment, investigation, supervision, "
        "analysis, objection_handling, credit_repair"
    )


def test_oversized_bodies_and_batches_are_refused(api_env: ApiEnv) -> None:
    headers = {"Authorization": f"Bearer {api_env.keys[ApiRole.ADMIN]}"}
    big = {"query": '{ entity(id: "x") { id } }', "variables": {"pad": "x" * 70_000}}
    response = api_env.client.post("/graphql", json=big, headers=headers)
    assert response.status_code == 413
    too_large = {  # the limit named: the default api_max_body_bytes
        "message": "the request body is larger than 65536 bytes",
        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
    }
    assert response.json() == {"errors": [too_large]}

    def chunks() -> Iterator[bytes]:  # streamed, no Content-Length
        for _ in range(100):
            yield b" " * 1000

    streamed = api_env.client.post("/graphql", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and streamed.json() == {"errors": [too_large]}
    batch = [{"query": '{ entity(id: "x") { id } }'}] * 2
    response = api_env.client.post("/graphql", json=batch, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "send one GraphQL operation per request",
                "extensions": {"code": "BATCH_NOT_SUPPORTED"},
            }
        ]
    }


def test_alias_and_token_limits(api_env: ApiEnv) -> None:
    aliases = "{ " + " ".join(f'a{i}: entity(id: "{FIRM_A}") {{ id }}' for i in range(20)) + " }"
    tokens = '{ entity(id: "x") { ' + "id " * 3000 + "} }"
    for _ in range(2):  # the second time from the parse and validation caches: refused again
        body = api_env.gql(aliases)
        # the count found and the limit (the default api_max_aliases) named
        assert [(e["extensions"]["code"], e["message"]) for e in body["errors"]] == [
            ("QUERY_TOO_COMPLEX", "20 aliases found. Allowed: 15")
        ]
        assert body["data"] is None
        body = api_env.gql(tokens)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and body["data"] is None
        assert "more than 2000 tokens" in error["message"]  # the default api_max_tokens
        assert len(error["message"]) <= 300


def test_fields_named_like_a_limit_are_ordinary_validation_errors(api_env: ApiEnv) -> None:
    # a field or argument value that happens to say "aliases" or "tokens" is a schema mistake,
    # not one of the limits: only the limiters' own errors are QUERY_TOO_COMPLEX
    for query in (
        '{ search(name: "x") { aliases } }',
        '{ search(name: "x", kind: tokens) { totalCount } }',
        '{ entity(id: "x") { foo } }',
        'query aliases { entity(id: "x") { maximumOperationDepth } }',
    ):
        body = api_env.gql(query, role=ApiRole.ADMIN)
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes == {"GRAPHQL_VALIDATION_FAILED"}, (query, body["errors"])


def test_errors_never_echo_an_identity_number(api_env: ApiEnv) -> None:
    probes = [
        (f"{{ entity(id: {ZHANG[:-1]}) {{ id }} }}", {}),  # an Int literal: a validation error
        ('query ($d: Date!) { linkedParties(id: "x", asOf: $d) { totalCount } }', {"d": ZHANG}),
        ('query ($v: Int!) { linkedParties(id: "x", depth: $v) { totalCount } }', {"v": ZHANG}),
        (f'{{ entity(id: "{ZHANG}") {{ nosuchfield }} }}', {}),
        (f'{{ entity(id: "{ZHANG[:-1]}0") {{ id }} }}', {}),
    ]
    for query, variables in probes:
        text = api_env.post(query, role=ApiRole.ADMIN, **variables).text
        assert ZHANG[:-1] not in text and ZHANG[2:-2] not in text, text
        assert "Traceback" not in text and "neo4j" not in text.lower()


BAD_VARIABLES = [
    ('query ($d: Date) { riskReport(id: "x", asOf: $d) { found } }', {"d": "2027-02-30"}, "$d"),
    ('query ($d: Date) { riskReport(id: "x", asOf: $d) { found } }', {"d": 12345}, "$d"),
    ('query ($p: Purpose!) { screen(ids: ["x"], purpose: $p) { decision } }', {"p": ZHANG}, "$p"),
    ('query ($f: Int) { search(name: "x", first: $f) { totalCount } }', {"f": "abc"}, "$f"),
    ('query ($f: Int) { search(name: "x", first: $f) { totalCount } }', {"f": 2**40}, "$f"),
    ("query ($n: String!) { search(name: $n) { totalCount } }", {"n": None}, "$n"),
    ("query ($n: String!) { search(name: $n) { totalCount } }", {"n": int(ZHANG[:-1])}, "$n"),
    (
        "query ($n: [String!]!) { screen(ids: $n, purpose: LICENSING) { decision } }",
        {"n": ["a", 1]},
        "$n: the value at [1]",
    ),
]


def test_a_variable_of_the_wrong_type_is_bad_input_naming_it_and_never_echoed(
    api_env: ApiEnv, caplog: pytest.LogCaptureFixture
) -> None:
    for query, variables, named in BAD_VARIABLES:
        with caplog.at_level(logging.DEBUG, logger="credgraph"):
            body = api_env.gql(query, role=ApiRole.ADMIN, **variables)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
        assert error["message"].startswith(f"variable {named}"), error["message"]
        value = next(iter(variables.values()))
        assert value is None or str(value) not in json.dumps(body), body
        assert ZHANG[2:-2] not in caplog.text and "Traceback" not in caplog.text
        caplog.clear()


BAD_LITERALS = [
    ('{ riskReport(id: "x", asOf: "2024-13-01") { found } }', "asOf", "Date", '"2024-13-01"'),
    ('{ riskReport(id: "x", asOf: "yesterday") { found } }', "asOf", "Date", '"yesterday"'),
    ('{ search(name: "x", first: "abc") { totalCount } }', "first", "Int", '"abc"'),
    ('{ linkedParties(id: "x", depth: 1.5) { totalCount } }', "depth", "Int!", "1.5"),
]


def test_a_literal_of_the_wrong_type_names_its_argument_and_where_it_is(api_env: ApiEnv) -> None:
    # a scalar's own refusal came without the argument's name or a location
    for query, argument, kind, literal in BAD_LITERALS:
        body = api_env.gql(query, role=ApiRole.ADMIN)
        (error,) = body["errors"]
        assert error["message"] == f"argument {argument}: the value does not fit its type {kind}"
        assert error["locations"] == [{"line": 1, "column": query.index(literal) + 1}], error
        assert literal.strip('"') not in json.dumps(body), "the value is not echoed"
    enum = api_env.gql('{ linkedParties(id: "x", relationTypes: [FOO]) { totalCount } }')
    assert enum["errors"][0]["message"].startswith(
        "argument relationTypes: Value 'FOO' does not exist in 'RelationType' enum"
    )


NOT_AN_OBJECT = "the body must be one JSON object with a `query`"
NOT_JSON = "the body is not JSON in UTF-8"
BAD_BODIES = [  # each with the message that says what is wrong with it
    (b'"hello"', "application/json", NOT_AN_OBJECT),
    (b"null", "application/json", NOT_AN_OBJECT),
    (b'{"query": "{ entity(id: \\"\xff\\") { id } }"}', "application/json", NOT_JSON),  # not UTF-8
    (
        b'{"query": "{ x }", "variables": {"v": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
        "application/json",
        # JSON in UTF-8, too deep for Python's parser: it was told "not JSON in UTF-8"
        "the body's JSON nests too deeply",
    ),
    (b"{not json", "application/json", NOT_JSON),
    (b'{"query": "{ x }"}', "text/plain", "Unsupported content type"),
    (b'{"variables": {}}', "application/json", "No GraphQL query found in the request"),
    (
        b'{"query": 5}',
        "application/json",
        "The GraphQL operation's `query` must be a string or null, if provided.",
    ),
]


def test_a_body_graphql_cannot_read_is_a_400_with_a_code(api_env: ApiEnv) -> None:
    for content, content_type, message in BAD_BODIES:
        headers = {
            "Authorization": f"Bearer {api_env.keys[ApiRole.ADMIN]}",
            "Content-Type": content_type,
        }
        response = api_env.client.post("/graphql", content=content, headers=headers)
        assert response.status_code == 400, (content[:40], response.text)
        assert response.json() == {
            "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
        }, content[:40]


def test_a_public_name_search_never_finds_persons(api_env: ApiEnv) -> None:
    for name in ("张伟", "张", "李娜"):
        body = api_env.gql(
            "query ($n: String!) { search(name: $n) { edges { node { __typename } } } }",
            role=ApiRole.PUBLIC,
            n=name,
        )
        assert body["data"]["search"]["edges"] == []


def test_a_filter_on_a_hidden_disclosure_class_is_refused(api_env: ApiEnv) -> None:
    body = api_env.gql(
        f'{{ entity(id: "{FIRM_A}") {{ records(disclosure: [RESTRICTED]) {{ id }} }} }}',
        role=ApiRole.APPROVAL,
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == (
        "argument disclosure: the approval role does not see restricted records"
    )
    assert error["path"] == ["entity", "records"] and body["data"] == {"entity": None}


def test_every_string_argument_of_the_schema_is_tried() -> None:
    sdl = build_schema(schema.as_str())
    found = set()
    for root in (sdl.query_type, sdl.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            for argument, definition in field.args.items():
                if "String" in str(definition.type) and "Date" not in str(definition.type):
                    found.add(f"{name}.{argument}")
    # `records` is a field of Party; its string argument is tried through `entity`
    assert found <= set(STRING_ARGUMENTS), sorted(found - set(STRING_ARGUMENTS))


def test_injection_payloads_in_every_string_argument_change_nothing(api_env: ApiEnv) -> None:
    before = no_key_ids(api_env.store)
    for name, (query, role) in STRING_ARGUMENTS.items():
        for payload in PAYLOADS:
            response = api_env.post(query, role=role, purpose="supervision", v=payload)
            assert response.status_code in (200, 413), (name, response.text)
            if response.status_code == 413:
                continue
            body = response.json()
            codes = {e["extensions"]["code"] for e in body.get("errors", [])}
            assert "INTERNAL_ERROR" not in codes and "STORE_UNAVAILABLE" not in codes, (
                name,
                payload[:40],
                body,
            )
            assert payload[:200] not in json.dumps(body) or len(payload) < 8
    assert no_key_ids(api_env.store) == before


@pytest.fixture(scope="module")
def production_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(
        embedded,
        driver,
        settings,
        tmp_path_factory.mktemp("prod"),
        environment=Environment.PRODUCTION,
        api_public_access=True,
        api_max_query_depth=3,
    )


def test_production_turns_off_introspection_and_graphiql(production_env: ApiEnv) -> None:
    body = production_env.gql("{ __schema { types { name } } }")
    assert body.get("data") is None
    assert {(e["extensions"]["code"], e["message"]) for e in body["errors"]} == {
        (
            "GRAPHQL_VALIDATION_FAILED",
            "GraphQL introspection has been disabled, but the requested query contained the "
            f"field '{field}'.",
        )
        for field in ("__schema", "types")
    }
    page = production_env.client.get("/graphql")  # no GraphiQL: GET is refused as any method
    assert page.status_code == 405 and page.headers["allow"] == "POST"
    assert production_env.client.get("/docs").status_code == 404


def test_graphiql_is_served_in_development_only(api_env: ApiEnv, production_env: ApiEnv) -> None:
    for env, shown in ((api_env, True), (production_env, False)):
        headers = {
            "Authorization": f"Bearer {env.keys[ApiRole.INVESTIGATOR]}",
            "Accept": "text/html",
        }
        page = env.client.get("/graphql", headers=headers)
        assert (page.status_code == 200 and "graphiql" in page.text.lower()) is shown, page.text
        if not shown:
            assert page.status_code == 405 and page.headers["allow"] == "POST"


def test_graphiql_and_refused_methods_count_under_the_graphql_route(
    api_env: ApiEnv, production_env: ApiEnv
) -> None:
    """docs/security.md, Metrics: the route label is the template of the route that matched.
    GET /graphql (GraphiQL in development, 405 outside it) matched /graphql, not nothing."""
    for env, status in ((api_env, 200), (production_env, 405)):
        series = f'credgraph_http_requests_total{{route="/graphql",status="{status}"}}'
        unmatched = f'credgraph_http_requests_total{{route="unmatched",status="{status}"}}'
        before, before_unmatched = metric(env, series), metric(env, unmatched)
        headers = {"Authorization": f"Bearer {env.keys[ApiRole.INVESTIGATOR]}"}
        assert env.client.get("/graphql", headers=headers).status_code == status
        assert env.client.get("/graphql/", headers=headers).status_code in (status, 307)
        assert metric(env, series) >= before + 1
        assert metric(env, unmatched) == before_unmatched
    missing = 'credgraph_http_requests_total{route="unmatched",status="404"}'
    before = metric(api_env, missing)
    assert api_env.client.get("/no-such-page").status_code == 404
    assert metric(api_env, missing) == before + 1  # a path that matched no route stays so


def test_production_suggests_no_field_names(api_env: ApiEnv, production_env: ApiEnv) -> None:
    misspelt = '{ entit(id: "x") { id } }'
    for env, suggests in ((api_env, True), (production_env, False)):
        error = env.gql(misspelt, role=ApiRole.ADMIN)["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert ("Did you mean" in error["message"]) is suggests, error["message"]


def test_depth_limit(production_env: ApiEnv) -> None:
    shallow = f'{{ entity(id: "{FIRM_A}") {{ records {{ id }} }} }}'
    assert "errors" not in production_env.gql(shallow, role=ApiRole.ADMIN)
    deep = f'{{ linkedParties(id: "{FIRM_A}") {{ edges {{ node {{ party {{ id }} }} }} }} }}'
    for _ in range(2):  # a cached validation still refuses
        body = production_env.gql(deep, role=ApiRole.ADMIN)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and body["data"] is None
        # the limit named: production's api_max_query_depth
        assert error["message"] == "'anonymous' exceeds maximum operation depth of 3"


def test_public_access_without_a_key_is_the_public_role(production_env: ApiEnv) -> None:
    body = production_env.gql(
        f'{{ entity(id: "{FIRM_A}") {{ records {{ disclosure }} }} }}', role=None, purpose=None
    )
    assert {r["disclosure"] for r in body["data"]["entity"]["records"]} == {"public"}
    linked = production_env.gql(
        f'{{ linkedParties(id: "{FIRM_A}") {{ totalCount }} }}', role=None, purpose=None
    )
    [error] = linked["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN" and error["path"] == ["linkedParties"]
    assert error["message"] == "the public role may not call linkedParties"
    assert linked["data"] == {"linkedParties": None}
    wrong = production_env.post('{ entity(id: "x") { id } }', key="cgk_bad", purpose=None)
    assert wrong.status_code == 401


def test_a_worker_runs_its_requests_on_the_configured_threads(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    probe = APIRouter()

    @probe.get("/probe/threads")
    async def threads() -> dict[str, float]:
        return {"tokens": to_thread.current_default_thread_limiter().total_tokens}

    for env in start_api_env(
        embedded, driver, settings, tmp_path, extra_routers=(probe,), api_threads=3
    ):
        assert env.client.get("/probe/threads").json() == {"tokens": 3}
        body = env.gql(f'{{ entity(id: "{FIRM_A}") {{ name }} }}')
        # requests still answered on three threads
        assert body == {"data": {"entity": {"name": "厦门鹭岛科技有限公司"}}}


def test_liveness_answers_while_every_worker_thread_is_busy(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    held, release = threading.Event(), threading.Event()
    probe = APIRouter()

    @probe.get("/probe/hold")
    def hold() -> dict[str, bool]:  # a slow request, on the only worker thread
        held.set()
        return {"released": release.wait(30)}

    for env in start_api_env(
        embedded, driver, settings, tmp_path, extra_routers=(probe,), api_threads=1
    ):
        slow = threading.Thread(target=env.client.get, args=("/probe/hold",))
        slow.start()
        try:
            assert held.wait(30)
            with httpx.Client(base_url=env.served.url, timeout=5) as other:
                assert other.get("/healthz").json()["status"] == "ok"
        finally:
            release.set()
            slow.join(30)


def test_each_request_is_logged_once_with_codes_and_ids_but_no_identifier(
    api_env: ApiEnv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="credgraph.api"):
        bad = api_env.post("query ($v: String!) { entity(id: $v) { id } }", v=ZHANG[:-1] + "0")
        refused = api_env.client.post("/graphql", json={"query": '{ entity(id: "x") { id } }'})
        ok = api_env.client.get("/healthz")
        # a request's line is written once its answer has left: the last may still be on its way
        requests = _request_lines(caplog, 3)
    by_id = {line["request"]: line for line in requests}
    assert len(requests) == 3 and len(by_id) == 3
    first = by_id[bad.headers["X-Request-Id"]]
    assert (first["route"], first["status"], first["role"]) == ("/graphql", 200, "investigator")
    assert first["errors"] == ["BAD_USER_INPUT"] and first["key_id"]
    errors = [json.loads(r.getMessage()) for r in caplog.records if "graphql_error" in r.message]
    assert [(e["request"], e["code"]) for e in errors] == [(first["request"], "BAD_USER_INPUT")]
    second = by_id[refused.headers["X-Request-Id"]]
    assert (second["status"], second["key_id"], second["errors"]) == (401, None, None)
    assert by_id[ok.headers["X-Request-Id"]]["route"] == "/healthz"
    assert ZHANG[:10] not in caplog.text  # the argument is never logged


def test_request_ids_are_unique_and_tell_nothing_of_the_count() -> None:
    """Ids from a counter, keyed-hashed: 16 hex digits, none twice, and no run of them that
    counts up (an id must not tell a caller how many requests the worker served)."""
    ids = RequestIds()
    drawn = [next(ids) for _ in range(20_000)]
    assert all(len(i) == 16 and set(i) <= set("0123456789abcdef") for i in drawn)
    assert len(set(drawn)) == len(drawn)
    as_numbers = [int(i, 16) for i in drawn[:1000]]
    assert as_numbers != sorted(as_numbers)
    assert len({i[:8] for i in drawn[:1000]}) > 900  # no shared prefix either
    assert next(RequestIds()) != drawn[0]  # another process's key, another sequence


def _request_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, Any]]:
    """The request log lines captured, once `count` of them are there (at most 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "credgraph.api"]
        requests = [line for line in lines if line.get("event") == "request"]
        if len(requests) >= count or time.monotonic() > deadline:
            return requests
        time.sleep(0.01)
