"""The API when the store cannot answer: refused with a code, never a bare 500, and the health
routes still answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from credgraph.api.app import create_app
from credgraph.api.keys import make_key
from credgraph.graph.settings import Settings

from tests.api_support import Served
from tests.conftest import new_database


def test_a_key_the_store_cannot_check_is_503_and_health_still_answers(
    embedded: Any, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    store = new_database(embedded, driver, prefix="down")
    key = make_key(store, "investigator", "down").secret
    app_settings = settings.model_copy(
        update={"audit_log": tmp_path / "audit.log", "audit_fsync": False}
    )
    app = create_app(store, app_settings)
    headers = {"Authorization": f"Bearer {key}", "X-Credgraph-Purpose": "investigation"}
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        embedded.drop_database(store.database or "")  # every look-up now fails in the store
        answer = client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
        assert answer.headers["Retry-After"] and answer.headers["X-Request-Id"]
        health = client.get("/healthz", headers=headers)
        assert health.status_code == 200 and health.json()["status"] == "ok"
