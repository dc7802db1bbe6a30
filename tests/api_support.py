"""What the API tests share: the app served by uvicorn on a free port, keys for every role,
and the tiny registry with records of every disclosure class."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from credgraph.api.app import create_app
from credgraph.api.keys import make_key
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from fastapi import APIRouter
from typer.testing import CliRunner

from tests.conftest import free_port, new_database
from tests.investigations import cli_runner
from tests.registries import (
    FIRM_A,
    FIRM_B,
    RECORD_HEADER,
    SHOP_C,
    ZHANG,
    load_folder,
    write_csv,
    write_tiny_registry,
)

# record uid -> disclosure class, beside the tiny registry's public records
EXTRA_RECORDS = {
    "XMCREDIT:R-1": "restricted",
    "FZCREDIT:G-1": "government_shared",
    "COURT:S-1": "subject_only",
}
OBJECTION_RECORD = "FZCREDIT:O-1"
HONOUR_RECORD = "XMCREDIT:H-1"
REPAIR_RECORD = "FZCREDIT:O-2"
PERSON_RECORD = "COURT:D-1"


def record_row(
    record_id: str, subject: str, disclosure: str, source: str, kind: str = "admin_penalty"
) -> list[str]:
    """A records.csv row: an active tax penalty (unless `kind`) from 2025 to the end of 2027."""
    return [
        record_id,
        subject,
        kind,
        "tax",
        "AUTH2",
        "福州市税务局",
        "2025-01-01",
        "2025-01-01",
        "2027-12-31",
        "active",
        disclosure,
        source,
        "",
        "",
    ]


def write_api_registry(tmp: Path) -> Path:
    folder = write_tiny_registry(tmp)
    rows = [
        record_row("R-1", FIRM_A, "restricted", "xm-credit"),
        record_row("G-1", FIRM_B, "government_shared", "fz-credit"),
        record_row("S-1", ZHANG, "subject_only", "court"),
        record_row("O-1", FIRM_B, "public", "fz-credit"),
        record_row("O-2", FIRM_B, "public", "fz-credit"),
        record_row("H-1", SHOP_C, "public", "xm-credit", kind="red_list"),
    ]
    write_csv(folder / "records.extra.csv", RECORD_HEADER, rows)
    return folder


class Served:
    """The app in a uvicorn server on a daemon thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class ApiEnv:
    store: GraphStore
    settings: Settings
    served: Served
    client: httpx.Client
    keys: dict[ApiRole, str]
    audit_path: Path

    def post(
        self,
        query: str,
        *,
        role: ApiRole | None = ApiRole.INVESTIGATOR,
        purpose: str | None = "investigation",
        key: str | None = None,
        **variables: Any,
    ) -> httpx.Response:
        headers = {}
        token = key or (self.keys[role] if role else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if purpose:
            headers["X-Credgraph-Purpose"] = purpose
        return self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    def gql(self, query: str, **kwargs: Any) -> dict[str, Any]:
        response = self.post(query, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def start_api_env(
    embedded: Any,
    driver: Any,
    settings: Settings,
    tmp: Path,
    *,
    extra_routers: tuple[APIRouter, ...] = (),
    **overrides: Any,
) -> Iterator[ApiEnv]:
    store = new_database(embedded, driver, prefix="api")
    load_folder(store, write_api_registry(tmp), tmp / "rejects", batch_size=100)
    audit_path = tmp / "audit" / "audit.log"
    app_settings = settings.model_copy(
        update={"audit_log": audit_path, "audit_fsync": False, **overrides}
    )
    keys = {role: make_key(store, role.value, f"test {role.value}").secret for role in ApiRole}
    app = create_app(store, app_settings, extra_routers=extra_routers)
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        yield ApiEnv(store, app_settings, served, client, keys, audit_path)


def start_api_env_with(
    embedded: Any,
    driver: Any,
    settings: Settings,
    tmp: Path,
    write: Callable[[Path], None],
    **overrides: Any,
) -> Iterator[ApiEnv]:
    """`start_api_env` (with the settings `overrides`), then the files `write` puts in a folder
    loaded into its database as `credgraph load` loads them, every row accepted: a module's own
    parties and relations."""
    for env in start_api_env(embedded, driver, settings, tmp, **overrides):
        extra = tmp / "extra"
        extra.mkdir()
        write(extra)
        report = load_folder(env.store, extra, tmp / "rejects-extra")
        assert report.rejected == 0, report.to_json()
        yield env


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("api"))


def module_api(label: str, write: Callable[[Path], None]) -> tuple[Any, Any]:
    """A module's `api_env` fixture (the app on a database of its own holding the registry and
    the files `write` makes) and its `cli` fixture (a CLI runner on that database):
    `api_env, cli = module_api("label", write)`."""

    @pytest.fixture(scope="module")
    def api_env(
        embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ApiEnv]:
        tmp = tmp_path_factory.mktemp(label)
        yield from start_api_env_with(embedded, driver, settings, tmp, write)

    @pytest.fixture
    def cli(api_env: ApiEnv, embedded: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
        return cli_runner(monkeypatch, embedded, api_env.store)

    return api_env, cli


def metric(api_env: ApiEnv, series: str) -> float:
    """The value of one series of the app's /metrics (0 when absent)."""
    rows = api_env.client.get("/metrics").text.splitlines()
    return sum(float(row.split()[-1]) for row in rows if row.startswith(series + " "))


def store_reads(api_env: ApiEnv, operation: str) -> float:
    """How many store reads of one operation the app has made."""
    return metric(api_env, f'credgraph_store_duration_seconds_count{{operation="{operation}"}}')


def cache_hits(api_env: ApiEnv, cache: str) -> float:
    """How many lookups in one of the app's caches found their answer."""
    return metric(api_env, f'credgraph_cache_lookups_total{{cache="{cache}",result="hit"}}')
