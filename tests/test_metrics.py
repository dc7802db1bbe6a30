"""/metrics (api/metrics.py): one worker's figures, and every worker's under `serve --workers`.

The multi-worker test runs the real `credgraph serve --workers 2` in a child process against
the session's embedded store and talks to it over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from credgraph.api.metrics import MULTIPROCESS_DIR_ENV, Metrics
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.queries.caches import LruCache

from credgraph.cli_api import multiprocess_metrics
from tests.conftest import free_port
from tests.investigations import store_env


def _value(text: str, series: str) -> int:
    """The value of one series of the text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def test_one_process_renders_counts_and_histograms_in_a_stable_layout() -> None:
    metrics = Metrics()
    for seconds in (0.004, 0.02, 3.0):
        metrics.observe_request("/graphql", 200, seconds)
    metrics.store_seconds.observe(("lookup",), 0.002)
    text = metrics.render()
    assert _value(text, 'credgraph_http_requests_total{route="/graphql",status="200"}') == 3
    buckets = re.findall(
        r'^credgraph_http_request_duration_seconds_bucket\{route="/graphql",le="([^"]+)"\} (\d+)$',
        text,
        flags=re.MULTILINE,
    )
    assert buckets[0] == ("0.001", "0") and buckets[-1] == ("+Inf", "3")
    assert [int(count) for _, count in buckets] == sorted(int(count) for _, count in buckets)
    assert dict(buckets)["0.005"] == "1" and dict(buckets)["5.0"] == "3"
    assert 'credgraph_http_request_duration_seconds_sum{route="/graphql"} 3.024000' in text
    assert _value(text, 'credgraph_store_duration_seconds_count{operation="lookup"}') == 1
    assert "# TYPE credgraph_http_requests_total counter" in text
    assert "_created" not in text
    # a second app in the same process counts apart
    assert (
        _value(Metrics().render(), 'credgraph_http_requests_total{route="/graphql",status="200"}')
        == 0
    )


def test_caches_count_their_hits_and_misses() -> None:
    metrics = Metrics()
    cache: LruCache[str, int | None] = LruCache(2, metrics.cache_observer("walks"))
    cache.put_many({"a": 1, "b": None})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": None}  # None: kept as nothing
    assert cache.first_of(["c", "b", "a"]) == ("b", None)  # one lookup, whichever key answers
    assert cache.first_of(["x", "y"]) is None
    text = metrics.render()
    assert _value(text, 'credgraph_cache_lookups_total{cache="walks",result="hit"}') == 3
    assert _value(text, 'credgraph_cache_lookups_total{cache="walks",result="miss"}') == 2
    assert (cache.hits, cache.misses) == (3, 2)


def test_serve_gives_its_workers_a_private_directory_and_removes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MULTIPROCESS_DIR_ENV, raising=False)
    with multiprocess_metrics():
        directory = Path(os.environ[MULTIPROCESS_DIR_ENV])
        assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not directory.exists() and MULTIPROCESS_DIR_ENV not in os.environ
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, str(chosen))
    with multiprocess_metrics():
        assert os.environ[MULTIPROCESS_DIR_ENV] == str(chosen)
    assert chosen.is_dir()  # an operator's directory stays


def test_metrics_of_serve_with_two_workers_add_up_both_workers(
    embedded: EmbeddedStore, graph: GraphStore, tmp_path: Path
) -> None:
    figures = tmp_path / "figures"  # named here so that the test can see who counted
    figures.mkdir()
    port = free_port()
    env = {
        **os.environ,
        **store_env(embedded, graph),
        "CREDGRAPH_DATA_DIR": str(tmp_path / "data"),
        MULTIPROCESS_DIR_ENV: str(figures),
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "credgraph", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", process)
        sent = 1  # the request that found it up
        deadline = time.monotonic() + 60
        # a fresh connection per request: the kernel hands them to either worker
        while _workers_counting(figures) < 2 and time.monotonic() < deadline:
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            sent += 1
        assert _workers_counting(figures) == 2, "one worker answered every request"
        series = 'credgraph_http_requests_total{route="/healthz",status="200"}'
        for _ in range(4):  # whichever worker answers /metrics tells the sum
            assert _value(httpx.get(f"{base}/metrics", timeout=10).text, series) == sent
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        log.close()
    # each worker writes a JSON line per request on standard error (the request log)
    lines = (tmp_path / "serve.log").read_text(encoding="utf-8").splitlines()
    requests = [json.loads(line) for line in lines if line.startswith('{"event":"request"')]
    health = [line for line in requests if line["route"] == "/healthz"]
    assert len(health) == sent and all(line["status"] == 200 for line in health)
    assert not any('"GET /healthz' in line for line in lines)  # no access log of paths as typed


def test_serve_keeps_workers_that_start_slowly(
    embedded: EmbeddedStore, graph: GraphStore, tmp_path: Path
) -> None:
    """A worker process imports credgraph before it can answer uvicorn's health ping, which
    took 10 s on a busy machine: uvicorn's default 5 s killed it and started another, again and
    again. Each worker here takes 7 s longer to start (a `sitecustomize` of the test's)."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import sys, time\nif '--multiprocessing-fork' in sys.argv:\n    time.sleep(7)\n"
    )
    figures = tmp_path / "figures"
    figures.mkdir()
    port = free_port()
    env = {
        **os.environ,
        **store_env(embedded, graph),
        "CREDGRAPH_DATA_DIR": str(tmp_path / "data"),
        MULTIPROCESS_DIR_ENV: str(figures),
        "PYTHONPATH": os.pathsep.join([str(slow), os.environ.get("PYTHONPATH", "")]),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "credgraph", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    said = log_path.read_text(encoding="utf-8")
    assert "died" not in said, said


def _workers_counting(directory: Path) -> int:
    return len({path.stem.rsplit("_", 1)[-1] for path in directory.glob("counter_*.db")})


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "credgraph serve stopped"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")
