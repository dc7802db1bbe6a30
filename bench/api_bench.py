"""API throughput and latency: `screen` of one id and `linkedParties` depth 2, 16 clients.

`screen` runs twice: each call a different enterprise (every enterprise of the registry once,
in a seeded random order, before any repeats: what the store must answer) and the same
enterprise again and again (an applicant screened for a licence, then a contract: the API's
report cache, `CREDGRAPH_RISK_REPORT_CACHE_SIZE`, answers under the same snapshot id).
`linkedParties` runs the same two ways: a new enterprise each call walks the store, the same
enterprise again is answered from the walk and party caches (`CREDGRAPH_API_WALK_CACHE_RELATIONS`,
`CREDGRAPH_API_PARTY_CACHE_SIZE`), as an investigator paging through one neighbourhood is.

Starts a fresh embedded store in a temporary folder (removed at the end), generates and loads a
synthetic registry, then serves, each in a process of its own: the credgraph API (`create_app`, one
uvicorn worker, keys, audit with fsync, all limits on) and a bare FastAPI app with one JSON endpoint
(the baseline: the same server, no GraphQL, no store; an `async def` handler, or a plain `def` with
`BENCH_BARE=sync`). 16 client threads send requests for `--seconds` per scenario; the benchmark
prints requests per second and latency percentiles per scenario as JSON, and for the API's scenarios
the store reads per request by operation with their mean time (from the API's own /metrics, taken
before and after each scenario) and the CPU time per request of the API (its workers included), the
store's JVM and the clients (`/proc/<pid>/stat`).

Before the scenarios it waits until every worker has warmed its caches (the hubs' relations
and the sanction subjects, `CREDGRAPH_API_WARMUP_S`: a worker warms once the data version has
held still for one look), as a worker serving for more than a minute has; `warmed_after_s`
says how long that took. With `CREDGRAPH_API_WARMUP_S=0` in the environment nothing is warmed
and nothing waited for.

    .venv/bin/python bench/api_bench.py --enterprises 2000 --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

CLIENTS = 16
BARE = "bare FastAPI JSON endpoint"
SCREEN = "query ($id: String!) { screen(ids: [$id], purpose: LICENSING) { decision snapshotId } }"
LINKED = (
    "query ($id: String!) { linkedParties(id: $id, depth: 2, first: 50) { totalCount "
    "edges { node { depth party { id name } via { type role } } } } }"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_api(env: dict[str, str], port: int, workers: int) -> None:
    """The API as `credgraph serve --workers N` runs it."""
    os.environ.update(env)
    from credgraph import serving
    from credgraph.cli_api import multiprocess_metrics

    with multiprocess_metrics():
        serving.run(
            "credgraph.cli_api:worker_app",
            factory=True,
            workers=workers,
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )


BARE_ANSWER = {"data": {"screen": [{"decision": "PASS", "snapshotId": "0" * 16}]}}


def bare_app() -> Any:
    """The baseline: FastAPI answering a constant screen result, no GraphQL, no store. Its
    handler is a coroutine (`async def`, on the event loop), or with `BENCH_BARE=sync` a plain
    function, which FastAPI runs on its thread pool."""
    from fastapi import FastAPI

    bare = FastAPI()
    if os.environ.get("BENCH_BARE", "async") == "sync":

        @bare.post("/bare")
        def answer() -> dict[str, Any]:
            return BARE_ANSWER

    else:

        @bare.post("/bare")
        async def answer_on_the_loop() -> dict[str, Any]:
            return BARE_ANSWER

    return bare


def serve_bare(port: int, workers: int) -> None:
    from credgraph import serving

    serving.run(
        "api_bench:bare_app",
        factory=True,
        workers=workers,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


def wait_until_up(url: str, process: multiprocessing.Process) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server behind {url} died")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wait_for_warming(
    base: str, workers: int, warmup_s: float, limit_s: float = 300.0
) -> float | None:
    """Seconds until the API's workers have each warmed their caches once (from /metrics), or
    None when warming is off (`warmup_s`, the API's `CREDGRAPH_API_WARMUP_S`, is 0)."""
    if warmup_s <= 0:
        return None
    series = 'credgraph_warmups_total{outcome="warmed"} '
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        lines = httpx.get(f"{base}/metrics").text.splitlines()
        if sum(float(line.split()[-1]) for line in lines if line.startswith(series)) >= workers:
            return round(time.perf_counter() - started, 1)
        time.sleep(0.5)
    raise RuntimeError(f"the API's workers did not warm their caches within {limit_s:.0f} s")


def run_clients(
    url: str,
    body: dict[str, Any] | list[dict[str, Any]],
    headers: dict[str, str],
    seconds: float,
) -> dict[str, Any]:
    """CLIENTS threads posting for `seconds`; a list of bodies is sent in turn, each once
    before any is repeated."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    bodies = body if isinstance(body, list) else [body]
    turn = itertools.count()

    def client() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                sent = bodies[next(turn) % len(bodies)]
                response = http.post(url, json=sent, headers=headers)
                mine.append(time.perf_counter() - started)
                if response.status_code != 200 or "errors" in response.json():
                    failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(int(p * len(ordered)), len(ordered) - 1)] * 1000, 2)

    return {
        "requests": len(ordered),
        "errors": errors,
        "rps": round(len(ordered) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def store_figures(base: str) -> dict[str, dict[str, float]]:
    """Store round trips so far by operation (count, seconds), from the API's own /metrics."""
    found: dict[str, dict[str, float]] = {}
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        for part in ("_sum", "_count"):
            prefix = f'credgraph_store_duration_seconds{part}{{operation="'
            if line.startswith(prefix):
                name = line[len(prefix) :].split('"', 1)[0]
                found.setdefault(name, {})[part[1:]] = float(line.rsplit(" ", 1)[1])
    return found


def store_per_request(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], requests: int
) -> dict[str, dict[str, float]]:
    """Where one scenario's time went: store reads per request and their mean, by operation."""
    spent = {}
    for name, figures in sorted(after.items()):
        count = figures.get("count", 0.0) - before.get(name, {}).get("count", 0.0)
        seconds = figures.get("sum", 0.0) - before.get(name, {}).get("sum", 0.0)
        if count > 0:
            spent[name] = {
                "per_request": round(count / max(requests, 1), 2),
                "mean_ms": round(1000 * seconds / count, 2),
            }
    return spent


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()  # fields from the state on


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time (user + system) of a process, and of its live children (uvicorn's workers)
    when `children`."""
    pids = [pid]
    for entry in os.listdir("/proc") if children else ():
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if int(_stat(int(entry))[1]) == pid:
                    pids.append(int(entry))
    total = 0
    for each in pids:
        with contextlib.suppress(OSError):
            fields = _stat(each)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def store_process(data_dir: Path) -> int:
    """The pid of the embedded store's JVM serving `data_dir`."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read()
                if b"ArcadeDBServer" in argv and str(data_dir).encode() in argv:
                    return int(entry)
    raise RuntimeError(f"no embedded store process for {data_dir}")


def run_scenario(
    url: str,
    body: dict[str, Any] | list[dict[str, Any]],
    headers: dict[str, str],
    seconds: float,
    base: str,
    processes: dict[str, int],
) -> dict[str, Any]:
    """run_clients, the store reads per request by operation (from /metrics), and the CPU time
    per request of each process (`processes`: name to pid; "api" with its workers, "client" is
    this process)."""
    before = store_figures(base)
    cpu_before = {name: cpu_seconds(pid, name == "api") for name, pid in processes.items()}
    result = run_clients(url, body, headers, seconds)
    cpu_after = {name: cpu_seconds(pid, name == "api") for name, pid in processes.items()}
    result["cpu_ms_per_request"] = {
        name: round(1000 * (cpu_after[name] - cpu_before[name]) / max(result["requests"], 1), 2)
        for name in processes
    }
    result["store_reads_per_request"] = store_per_request(
        before, store_figures(base), result["requests"]
    )
    reads = sum(v["per_request"] for v in result["store_reads_per_request"].values())
    result["store_reads_per_request_total"] = round(reads, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--data-version-cache-s",
        type=float,
        default=0.0,
        help="CREDGRAPH_RISK_DATA_VERSION_CACHE_S of the API (0: the default)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, for the API and the baseline"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CREDGRAPH_API_THREADS of the API (its default)"
    )
    parser.add_argument(
        "--scenarios",
        default="screen,linked",
        help="which of the API's scenarios run after the bare endpoint, in order: "
        "screen, linked or both (comma-separated)",
    )
    args = parser.parse_args()
    if not set(args.scenarios.split(",")) <= {"screen", "linked"}:
        parser.error("--scenarios: choose from screen, linked")
    sys.path.insert(0, str(Path(__file__).parent))  # the baseline's workers import api_bench
    with tempfile.TemporaryDirectory(prefix="api-bench-", ignore_cleanup_errors=True) as work:
        # a fresh store and registry each run, removed at the end
        results, warmed_after_s = _measure(args, Path(work))
    bare_rps = results[BARE]["rps"]
    for name, result in results.items():
        if name != BARE:
            result["share_of_bare"] = round(result["rps"] / bare_rps, 3)
    summary = {
        "enterprises": args.enterprises,
        "clients": CLIENTS,
        "workers": args.workers,
        "threads": args.threads,
        "warmed_after_s": warmed_after_s,
    }
    print(json.dumps({**summary, **results}, indent=2))


def _measure(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], float]:
    """Loads a registry into a fresh store under `work`, serves the API and the bare app, and
    runs the scenarios: their results by name, and how long the API took to warm."""
    from credgraph.api.keys import make_key
    from credgraph.graph.settings import load_settings
    from credgraph.loaders.loader import load_paths
    from credgraph.loaders.rows import ParseContext
    from credgraph.loaders.synthetic import generate
    from credgraph.queries.stats import sample_enterprise_with_shared_officer

    from credgraph.cli_common import open_cli_store

    env = {
        "CREDGRAPH_DATA_DIR": str(work / "data"),
        "CREDGRAPH_EMBEDDED_BOLT_PORT": str(free_port()),
        "CREDGRAPH_EMBEDDED_HTTP_PORT": str(free_port()),
        "CREDGRAPH_PERSON_KEY": "bench-person-key-0123456789abcdef-0123456789",
        "CREDGRAPH_ENVIRONMENT": "production",
        "CREDGRAPH_RISK_DATA_VERSION_CACHE_S": str(args.data_version_cache_s),
    }
    if args.threads:
        env["CREDGRAPH_API_THREADS"] = str(args.threads)
    os.environ.update(env)
    settings = load_settings()
    store = open_cli_store(settings)
    try:
        registry = work / "registry"
        generate(registry, enterprises=args.enterprises, seed=7)
        load_paths(
            store,
            ParseContext(settings.person_key_bytes()),
            [registry],
            batch_size=settings.write_batch_size,
            rejects_dir=work / "rejects",
        )
        sample = sample_enterprise_with_shared_officer(store)
        assert sample is not None, "the registry has an enterprise with a shared officer"
        uscc = sample["uscc"]
        with (registry / "legal_persons.csv").open(encoding="utf-8") as rows:
            everyone = [row["uscc"] for row in csv.DictReader(rows) if row["uscc"]]
        random.Random(7).shuffle(everyone)
        approval = make_key(store, "approval", "bench approval").secret
        investigator = make_key(store, "investigator", "bench investigator").secret

        api_port, bare_port = free_port(), free_port()
        context = multiprocessing.get_context("spawn")
        api = context.Process(target=serve_api, args=(env, api_port, args.workers))
        bare = context.Process(target=serve_bare, args=(bare_port, args.workers))
        api.start()
        bare.start()
        try:
            wait_until_up(f"http://127.0.0.1:{api_port}/healthz", api)
            wait_until_up(f"http://127.0.0.1:{bare_port}/docs", bare)
            api_base = f"http://127.0.0.1:{api_port}"
            graphql = f"{api_base}/graphql"
            base = {"X-Credgraph-Purpose": "licensing"}
            screen_body = {"query": SCREEN, "variables": {"id": uscc}}
            # each enterprise once before any repeats: the report cache cannot answer
            screen_each = [{"query": SCREEN, "variables": {"id": u}} for u in everyone]
            linked_body = {"query": LINKED, "variables": {"id": uscc}}
            linked_each = [{"query": LINKED, "variables": {"id": u}} for u in everyone]
            warm = {**base, "Authorization": f"Bearer {approval}"}
            investigate = {**base, "Authorization": f"Bearer {investigator}"}
            run_clients(graphql, screen_body, warm, 2)  # warm caches and connections
            warmed_after_s = wait_for_warming(api_base, args.workers, settings.api_warmup_s)
            assert api.pid is not None
            processes = {
                "api": api.pid,
                "store": store_process(work / "data"),
                "client": os.getpid(),
            }
            plan = {
                "screen": [
                    ("screen, one id, a new enterprise each call", screen_each, warm),
                    ("screen, one id, the same enterprise again", screen_body, warm),
                ],
                "linked": [
                    ("linkedParties depth 2, a new enterprise each call", linked_each, investigate),
                    ("linkedParties depth 2, the same enterprise again", linked_body, investigate),
                ],
            }
            results = {
                BARE: run_clients(
                    f"http://127.0.0.1:{bare_port}/bare", screen_body, {}, args.seconds
                )
            }
            for group in args.scenarios.split(","):
                for name, body, headers in plan[group]:
                    results[name] = run_scenario(
                        graphql, body, headers, args.seconds, api_base, processes
                    )
        finally:
            api.terminate()
            bare.terminate()
            api.join(10)
            bare.join(10)
    finally:
        store.close()
    return results, warmed_after_s


if __name__ == "__main__":
    main()
