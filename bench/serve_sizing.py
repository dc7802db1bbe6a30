"""What `credgraph serve` takes on a loaded store: memory of the store and the API, and the
answers of `screen` and `linkedParties` depth 2 under concurrent callers.

Runs `credgraph keys create` and `credgraph serve` as a city would, on the store already loaded
under `--data-dir` (for the 1,000,000-enterprise registry, the `--data-dir` of
bench/risk_bench.py or bench/query_bench.py), with the store's heap and page cache given here.
Once the API is ready it waits `--warm-s` seconds (the workers warm their hub and sanction
caches, `CREDGRAPH_API_WARMUP_S`), then `--clients` threads each ask `--per-client` different
enterprises of `--registry` (its legal_persons.csv, in a seeded random order) for their
`linkedParties` at depth 2 and their `screen`, one after the other: every call a party not
asked before, the caches' worst case. It prints the resident memory (RSS) of the store's JVM
and of the API's processes after start, after the warm-up and every 30 s under load, and the
latency percentiles and errors of each kind of call. An enterprise of the registry whose USCC
the loader rejected (the generator's dirty rows) is refused by the API as a bad id: counted
apart as `refused`, not as errors.

    .venv/bin/python bench/serve_sizing.py --data-dir /work/bench-store/1m \\
        --registry /work/bench-store/registry-1m --heap 8g --page-cache 5g --workers 1

The API keys it creates stay in the store (`credgraph keys revoke` them after).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

LINKED = (
    "query ($id: String!) { linkedParties(id: $id, depth: 2, first: 50) { totalCount "
    "edges { node { depth party { id name } via { type role } } } } }"
)
SCREEN = "query ($id: String!) { screen(ids: [$id], purpose: LICENSING) { decision snapshotId } }"
CREDGRAPH = str(Path(sys.executable).with_name("credgraph"))


def rss_mb(data_dir: str) -> dict[str, int]:
    """RSS in MB of the store's JVM (its data under `data_dir`) and of `credgraph serve`'s
    processes (the parent and its workers)."""
    found: dict[str, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = next(
            (
                int(line.split()[1]) // 1024
                for line in status.splitlines()
                if line.startswith("VmRSS")
            ),
            0,
        )
        if "java" in command and data_dir in command:
            found[f"store {pid}"] = rss
        elif "credgraph serve" in command or (
            "multiprocessing" in command and "credgraph" in command
        ):
            found[f"api {pid}"] = rss
    return found


def create_key(env: dict[str, str], role: str) -> str:
    made = subprocess.run(
        [CREDGRAPH, "keys", "create", "--role", role, "--name", f"serve sizing {role}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(word for word in made.stdout.split() if len(word) > 30)


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> float:
    started = time.perf_counter()
    while server.poll() is None:
        try:
            if httpx.get(url).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"credgraph serve stopped with status {server.returncode}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--registry", required=True, type=Path)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--page-cache", default="", help="unset: a quarter of the heap")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=750)
    parser.add_argument("--warm-s", type=float, default=120)
    parser.add_argument("--port", type=int, default=18000)
    args = parser.parse_args()
    env = {**os.environ, "CREDGRAPH_DATA_DIR": args.data_dir, "CREDGRAPH_EMBEDDED_HEAP": args.heap}
    if args.page_cache:
        env["CREDGRAPH_EMBEDDED_PAGE_CACHE"] = args.page_cache
    keys = {"linked": create_key(env, "investigator"), "screen": create_key(env, "approval")}
    server = subprocess.Popen(
        [CREDGRAPH, "serve", "--port", str(args.port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    figures: dict[str, Any] = {
        "heap": args.heap,
        "page_cache": args.page_cache or "default",
        "workers": args.workers,
        "clients": args.clients,
    }
    try:
        figures["ready_after_s"] = round(wait_ready(f"{base}/readyz", server), 1)
        figures["rss_mb_ready"] = rss_mb(args.data_dir)
        time.sleep(args.warm_s)
        figures["rss_mb_warmed"] = rss_mb(args.data_dir)
        with (args.registry / "legal_persons.csv").open(encoding="utf-8") as rows:
            ids = [row["uscc"] for row in csv.DictReader(rows) if row["uscc"]]
        random.Random(3).shuffle(ids)
        latencies: dict[str, list[float]] = {"linked": [], "screen": []}
        errors: list[str] = []
        refused = [0]
        lock = threading.Lock()

        def client(first: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as http:
                for uscc in ids[first : first + args.per_client]:
                    for kind, query in (("linked", LINKED), ("screen", SCREEN)):
                        started = time.perf_counter()
                        answer = http.post(
                            "/graphql",
                            json={"query": query, "variables": {"id": uscc}},
                            headers={
                                "Authorization": f"Bearer {keys[kind]}",
                                "X-Credgraph-Purpose": "licensing",
                            },
                        )
                        elapsed = time.perf_counter() - started
                        body = answer.json() if answer.status_code == 200 else {}
                        codes = {
                            e.get("extensions", {}).get("code") for e in body.get("errors", [])
                        }
                        with lock:
                            latencies[kind].append(elapsed)
                            if codes == {"BAD_USER_INPUT"}:
                                refused[0] += 1
                            elif answer.status_code != 200 or codes:
                                errors.append(answer.text[:200])

        threads = [
            threading.Thread(target=client, args=(n * args.per_client,))
            for n in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            time.sleep(30)
            print(
                json.dumps(
                    {
                        "s": round(time.perf_counter() - started),
                        "screens": len(latencies["screen"]),
                        "rss_mb": rss_mb(args.data_dir),
                    }
                ),
                flush=True,
            )
        seconds = time.perf_counter() - started
        figures["under_load"] = {
            "seconds": round(seconds),
            "calls_per_s": round(sum(map(len, latencies.values())) / seconds, 1),
            "refused_bad_id": refused[0],
            "errors": len(errors),
            **{
                f"{kind}_ms": {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
                for kind, v in latencies.items()
            },
        }
        figures["rss_mb_after"] = rss_mb(args.data_dir)
        if errors:
            figures["first_errors"] = errors[:3]
    finally:
        server.send_signal(2)
        server.wait(120)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
