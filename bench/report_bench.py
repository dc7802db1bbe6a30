"""What a risk report of one party costs on a city's store, with and without the neighbourhood cap.

    CREDGRAPH_DATA_DIR=/work/bench-store/1m CREDGRAPH_EMBEDDED_HEAP=6g \\
        .venv/bin/python bench/report_bench.py --registry /work/bench-store/registry-1m \\
        --sample 300 --hub 350502200005206486 --hub 91350213735900667B

Opens the store of `CREDGRAPH_DATA_DIR` (a loaded registry: `bench/risk_bench.py` loads one),
draws about `--sample` legal persons at random (seed `--seed`) from the registry's
`legal_persons.csv`, and asks each one's risk report as `screen` asks it (no clearing date),
one party at a time, under each cap of `--caps` in turn, in one process: by default
`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`'s default (20,000 relations) and 2,147,483,647 (no cap: the
walk reads the whole neighbourhood to the profile's depth, as before the cap). Prints, per cap,
the reports' p50, p90, p99 and longest time and how many the cap cut (contagion unavailable,
`REVIEW`). Then each `--hub` (an identifier: a professional officer on thousands of boards, a
firm next to one) under the first cap only, with and without the clearing date, and under the
others only with `--hubs-uncapped` (before the cap: minutes each).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from credgraph.graph import clock
from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, open_store
from credgraph.queries.lookup import PartyKey, resolve_identifier
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.risk import DEFAULT_NEIGHBOURHOOD_CAP, risk_reports

NO_CAP = 2**31 - 1  # the largest LIMIT the embedded store reads as such


def sample_uscc(registry: Path, size: int, seed: int) -> list[str]:
    """About `size` USCCs of the registry's legal persons, drawn at random. O(rows)."""
    with (registry / "legal_persons.csv").open(encoding="utf-8") as handle:
        codes = [row["uscc"] for row in csv.DictReader(handle) if row.get("uscc")]
    return random.Random(seed).sample(codes, min(size, len(codes)))


def timed_report(
    store: GraphStore, key: PartyKey, cap: int, *, clearing: bool
) -> tuple[float, bool]:
    """Seconds for one party's report, and whether the cap cut it."""
    started = time.perf_counter()
    report = risk_reports(
        store,
        [key],
        as_of=clock.today(),
        profile=BUILTIN_PROFILES["default"],
        clearing=clearing,
        cap=cap,
    )[key]
    return time.perf_counter() - started, report.contagion.truncated


def summary(seconds: list[float], cut: int) -> dict[str, Any]:
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 1)

    return {
        "reports": len(ordered),
        "cut_by_cap": cut,
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--caps", type=int, nargs="+", default=[DEFAULT_NEIGHBOURHOOD_CAP, NO_CAP])
    parser.add_argument("--hub", action="append", default=[])
    parser.add_argument("--hubs-uncapped", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    person_key = settings.person_key_bytes()
    result: dict[str, Any] = {"as_of": clock.today().isoformat(), "caps": {}, "hubs": []}
    with open_store(settings) as store:
        keys = [
            resolve_identifier(store, code, person_key)
            for code in sample_uscc(args.registry, args.sample, args.seed)
        ]
        found = [key for key in keys if key is not None]
        for cap in args.caps:
            runs = [timed_report(store, key, cap, clearing=False) for key in found]
            result["caps"][str(cap)] = summary([s for s, _ in runs], sum(c for _, c in runs))
            print(json.dumps({"cap": cap, **result["caps"][str(cap)]}), flush=True)
        for raw in args.hub:
            key = resolve_identifier(store, raw, person_key)
            if key is None:
                continue
            for cap in args.caps if args.hubs_uncapped else args.caps[:1]:
                for clearing in (False, True):
                    seconds, cut = timed_report(store, key, cap, clearing=clearing)
                    row = {
                        "hub": key.uid[:8],
                        "cap": cap,
                        "clearing": clearing,
                        "seconds": round(seconds, 2),
                        "cut_by_cap": cut,
                    }
                    result["hubs"].append(row)
                    print(json.dumps(row), flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
