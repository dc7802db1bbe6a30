"""Shared fixtures: one embedded store for the whole session, one database per test.

The store is the real ArcadeDB server credgraph embeds, started once on free loopback ports
with its data in a temporary directory. Each test that writes gets a database of its own
(`graph`), so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Settings, load_settings
from credgraph.graph.store import GraphStore, connect

pytest_plugins = ["tests.registries"]

# stores started by tests (and the CLI and demo they run) keep no AOT cache in the user's cache
# folder; tests/test_store.py tests the cache in a folder of its own
os.environ.setdefault("CREDGRAPH_EMBEDDED_AOT_CACHE", "off")

TEST_PERSON_KEY = "test-person-key-0123456789abcdef-0123456789"
_names = itertools.count()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports(count: int, taken: Collection[int] = ()) -> list[int]:
    """`count` distinct free ports, none of `taken`. Asked for one at a time, the kernel may
    hand out a port it has just handed out, once its probe is closed: a store and an API on one
    port, and a server that exits at start (a flaky test). Bound together, they differ."""
    with contextlib.ExitStack() as probes:
        ports: list[int] = []
        while len(ports) < count:
            probe = probes.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
            if port not in taken:
                ports.append(port)
        return ports


def process_env(data_dir: Path, api_port: int) -> dict[str, str]:
    """The environment of a `credgraph` process of its own (a store on free ports in `data_dir`,
    the API on `api_port`), without the caller's other CREDGRAPH_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGRAPH_")}
    bolt_port, http_port = free_ports(2, taken={api_port})
    env.update(
        CREDGRAPH_DATA_DIR=str(data_dir),
        CREDGRAPH_EMBEDDED_BOLT_PORT=str(bolt_port),
        CREDGRAPH_EMBEDDED_HTTP_PORT=str(http_port),
        CREDGRAPH_EMBEDDED_HEAP="1g",
        CREDGRAPH_EMBEDDED_AOT_CACHE="off",  # as for every test store
        CREDGRAPH_PERSON_KEY=TEST_PERSON_KEY,
        CREDGRAPH_API_PORT=str(api_port),
    )
    return env


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    bolt_port, http_port = free_ports(2)
    values: dict[str, object] = {
        "data_dir": data_dir,
        "embedded_bolt_port": bolt_port,
        "embedded_http_port": http_port,
        "embedded_heap": "1g",
        "person_key": TEST_PERSON_KEY,
        "neo4j_uri": None,
        # a warming thread would race the tests that count reads; tests/test_warmup.py turns
        # it on for the API worker it checks
        "api_warmup_s": 0,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def embedded(settings: Settings) -> Iterator[EmbeddedStore]:
    server = EmbeddedStore(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def driver(embedded: EmbeddedStore):  # type: ignore[no-untyped-def]
    address = embedded.address
    drv = connect(address.bolt_uri, address.user, address.password, None, 30)
    yield drv
    drv.close()


def new_database(embedded: EmbeddedStore, driver, prefix: str = "t") -> GraphStore:  # type: ignore[no-untyped-def]
    name = f"{prefix}{next(_names)}"
    embedded.create_database(name)
    store = GraphStore(driver, name, 30.0, backend="arcadedb")
    apply_schema(store)
    return store


@pytest.fixture
def graph(embedded: EmbeddedStore, driver) -> Iterator[GraphStore]:  # type: ignore[no-untyped-def]
    """A fresh, empty database with the schema applied, for one test."""
    store = new_database(embedded, driver)
    yield store
    embedded.drop_database(store.database or "")
