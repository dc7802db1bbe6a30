"""The API while its store is frozen (the JVM stopped, its sockets open but silent), not gone:
every GraphQL request answers within its time budget and a grace (`BUDGET_GRACE_S` in
api/context.py), audited; a key that is not cached is refused with 503 as quickly; the probes
answer whatever the request threads are blocked on; and once the store thaws the API answers
as before (docs/security.md, Limits)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from credgraph.api.app import create_app
from credgraph.api.context import BUDGET_GRACE_S
from credgraph.api.keys import make_key
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Settings
from credgraph.graph.store import PING_TIMEOUT_S, GraphStore, open_store

from tests.api_support import Served
from tests.conftest import make_settings

BUDGET_S = 1.0
# what a loaded 2-core machine adds to an answer's time
SLACK_S = 1.5
SCREEN = """
query Screen($ids: [String!]!) {
  screen(ids: $ids, purpose: LICENSING) { index decision found }
}
"""
UNKNOWN_USCC = "91350100M000100Y43"


@pytest.fixture
def frozen_env(tmp_path: Path) -> Iterator[tuple[GraphStore, Settings]]:
    settings = make_settings(
        tmp_path / "data",
        api_request_timeout_s=BUDGET_S,
        api_threads=2,
        api_key_cache_s=600.0,
        audit_log=tmp_path / "audit.log",
        audit_fsync=False,
    )
    store = open_store(settings)
    try:
        apply_schema(store)
        yield store, settings
    finally:
        store.close()


def _events(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _screen(client: httpx.Client, key: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.post(
        "/graphql",
        json={"query": SCREEN, "variables": {"ids": [UNKNOWN_USCC]}},
        headers={"Authorization": f"Bearer {key}"},
    )
    return answer, time.monotonic() - started


def _code(answer: httpx.Response) -> str | None:
    errors = answer.json().get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def test_a_frozen_store_leaves_requests_and_probes_bounded(
    frozen_env: tuple[GraphStore, Settings],
) -> None:
    store, settings = frozen_env
    cached = make_key(store, "approval", "cached").secret
    uncached = make_key(store, "approval", "uncached").secret
    assert store.embedded is not None
    pid = store.embedded.running_pid()
    assert pid is not None
    app = create_app(store, settings)
    limit = BUDGET_S + BUDGET_GRACE_S + SLACK_S
    with (
        Served(app) as served,
        httpx.Client(base_url=served.url, timeout=limit + 5) as client,
        ThreadPoolExecutor(6) as callers,
    ):
        answer, _ = _screen(client, cached)  # the key is cached from here on
        assert answer.status_code == 200 and _code(answer) is None, answer.text
        os.kill(pid, signal.SIGSTOP)
        try:
            # more requests than the worker has threads (2): every one answers in time
            hung = [callers.submit(_screen, client, cached) for _ in range(5)]
            time.sleep(0.3)
            for probe, status in (("/healthz", 200), ("/metrics", 200), ("/readyz", 503)):
                started = time.monotonic()
                said = client.get(probe, timeout=PING_TIMEOUT_S + SLACK_S)
                assert said.status_code == status, (probe, said.text)
                assert time.monotonic() - started < PING_TIMEOUT_S + SLACK_S, probe
            timed_out = []
            for future in hung:
                answer, seconds = future.result()
                assert answer.status_code == 200, answer.text
                assert _code(answer) == "TIME_BUDGET_EXCEEDED", answer.text
                assert seconds < limit, seconds
                timed_out.append(answer.headers["X-Request-Id"])
            # a refusal the gate audits does not wait for the blocked threads either
            started = time.monotonic()
            twice = [("Authorization", f"Bearer {cached}")] * 2
            answer = client.post("/graphql", json={"query": "{ __typename }"}, headers=twice)
            assert answer.status_code == 401, answer.text
            assert time.monotonic() - started < SLACK_S
            refused = answer.headers["X-Request-Id"]
            # a key not cached cannot be checked: 503 within the budget too
            answer, seconds = _screen(client, uncached)
            assert answer.status_code == 503, answer.text
            assert answer.json()["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
            assert seconds < limit, seconds
        finally:
            os.kill(pid, signal.SIGCONT)
        # thawed: the API answers as before, once the blocked threads are back
        deadline = time.monotonic() + 60
        while True:
            answer, _ = _screen(client, cached)
            if _code(answer) is None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert answer.status_code == 200 and _code(answer) is None, answer.text
        assert answer.json()["data"]["screen"][0]["decision"] == "NOT_FOUND"
        assert client.get("/readyz").status_code == 200
        answer, _ = _screen(client, uncached)
        assert answer.status_code == 200 and _code(answer) is None, answer.text
        time.sleep(1.0)  # what the blocked threads did once thawed is written by now
    events = _events(settings.audit_log_path)
    assert [e["outcome"] for e in events if e["request"] == refused] == ["refused:unauthenticated"]
    for request in timed_out:  # one event each, the answer's: none added when a thread thawed
        outcomes = [e["outcome"] for e in events if e["request"] == request]
        assert outcomes == ["refused:time_budget_exceeded"], (request, outcomes)
