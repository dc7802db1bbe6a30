"""Kill the loader, or the store, at random points; a re-run must give the clean load's graph.

The loader runs as a real `credgraph load` process against the real embedded store and is
killed with SIGKILL; the store is killed with SIGKILL too. After each interruption the same
command runs again, until one run finishes. The graph must equal the one an uninterrupted load
gives: same nodes and relations with the same properties (apart from run bookkeeping), nothing
lost and nothing doubled.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore, connect
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.synthetic import generate
from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
from credgraph.queries.stats import graph_counts

from tests.conftest import TEST_PERSON_KEY, make_settings, new_database

BATCH = 40
IGNORE = (*LINEAGE_OF_RUN, "source_row")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "registry"
    generate(folder, enterprises=120, seed=11)
    return folder


def _load_command(
    embedded: EmbeddedStore, database: str, registry: Path, data: Path
) -> tuple[list[str], dict[str, str]]:
    address = embedded.address
    env = {
        **os.environ,
        "CREDGRAPH_NEO4J_URI": address.bolt_uri,
        "CREDGRAPH_NEO4J_USER": address.user,
        "CREDGRAPH_NEO4J_PASSWORD": address.password,
        "CREDGRAPH_DATABASE": database,
        "CREDGRAPH_PERSON_KEY": TEST_PERSON_KEY,
        "CREDGRAPH_WRITE_BATCH_SIZE": str(BATCH),
        "CREDGRAPH_DATA_DIR": str(data),
    }
    command = [
        sys.executable,
        "-m",
        "credgraph",
        "load",
        str(registry),
        "--rejects-dir",
        str(data / "rejects"),
    ]
    return command, env


def _clean(store: GraphStore, registry: Path, tmp: Path) -> None:
    load_paths(
        store, ParseContext(TEST_PERSON_KEY.encode()), [registry], batch_size=BATCH, rejects_dir=tmp
    )


def _wait_for_chunks(store: GraphStore, count: int, process: subprocess.Popen[bytes]) -> bool:
    """Until `count` chunks are in the ledger; False if the loader ended first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if graph_counts(store)["ledger"]["chunks"] >= count:
            return True
        time.sleep(0.05)
    return False


def _same_graph(a: GraphStore, b: GraphStore) -> None:
    counts_a, counts_b = graph_counts(a), graph_counts(b)
    assert counts_a["nodes"] == counts_b["nodes"]
    assert counts_a["relations"] == counts_b["relations"]
    dump_a = dump_graph(a, ignore=IGNORE, skip_labels=["LoadChunk"])
    dump_b = dump_graph(b, ignore=IGNORE, skip_labels=["LoadChunk"])
    assert dump_a.nodes == dump_b.nodes
    assert dump_a.relations == dump_b.relations


@pytest.fixture
def pair(embedded, driver) -> Iterator[tuple[GraphStore, GraphStore]]:  # type: ignore[no-untyped-def]
    clean, crashed = (
        new_database(embedded, driver, "clean"),
        new_database(embedded, driver, "crash"),
    )
    yield clean, crashed
    for store in (clean, crashed):
        embedded.drop_database(store.database or "")


def test_a_loader_killed_at_random_points_then_rerun_equals_a_clean_load(
    embedded: EmbeddedStore, pair: tuple[GraphStore, GraphStore], registry: Path, tmp_path: Path
) -> None:
    clean, crashed = pair
    _clean(clean, registry, tmp_path / "clean-rejects")
    command, env = _load_command(embedded, crashed.database or "", registry, tmp_path)
    rnd = random.Random(20261123)
    kills = 0
    # kill at random points in the load: after a random number of committed chunks (0 is
    # "while starting up"), so the test does not depend on how fast this machine is
    for threshold in sorted(rnd.sample(range(0, 20), 4)):
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if _wait_for_chunks(crashed, threshold, process):
            # a short jitter only: the loader commits many small chunks a second, and with a
            # longer one it can finish the whole registry before the kill comes
            time.sleep(rnd.uniform(0.0, 0.05))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
        process.wait()
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode in (0, 1), final.stderr
    assert kills >= 1, "the loader finished before it could be killed; make the registry larger"
    _same_graph(crashed, clean)
    assert graph_counts(crashed)["ledger"]["runs"] >= 2


def test_a_store_killed_during_a_load_keeps_every_committed_chunk(
    registry: Path,
    tmp_path: Path,
    embedded: EmbeddedStore,
    driver,  # type: ignore[no-untyped-def]
) -> None:
    clean = new_database(embedded, driver, "clean")
    _clean(clean, registry, tmp_path / "clean-rejects")
    settings = make_settings(tmp_path / "own-store")
    own = EmbeddedStore(settings)
    own.start()
    try:
        own.create_database("victim")
        command, env = _load_command(own, "victim", registry, tmp_path)
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        address = own.address
        watcher = connect(address.bolt_uri, address.user, address.password, "victim", 30)
        try:
            started = _wait_for_chunks(GraphStore(watcher, "victim", 30.0), 3, process)
        finally:
            watcher.close()
        assert started, "the loader ended before the store could be killed"
        pid = json.loads((settings.data_dir / "store.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode != 0
        assert "run the same command again" in stderr or "store" in stderr
        own.stop()
        own = EmbeddedStore(settings)
        own.start()
        command, env = _load_command(own, "victim", registry, tmp_path)
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert final.returncode in (0, 1), final.stderr
        address = own.address
        victim_driver = connect(address.bolt_uri, address.user, address.password, "victim", 30)
        try:
            _same_graph(GraphStore(victim_driver, "victim", 30.0), clean)
        finally:
            victim_driver.close()
    finally:
        own.stop()
        embedded.drop_database(clean.database or "")
