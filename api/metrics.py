"""Prometheus metrics in text format: request counts, latency histograms, store latency.

Three families: HTTP requests by route and status (counter and latency histogram), GraphQL
operations by root field and outcome (histogram), and store round trips by the operation name
the queries give them (histogram). Labels are bounded: routes that matched, root field names of
the schema, operation names of the code; never a value from a request. Each worker process
keeps its own figures (scrape each worker, or run one worker per port behind the balancer).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Iterable

BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Histogram:
    """One histogram family: cumulative bucket counts, sum and count per label set."""

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self._counts: defaultdict[tuple[str, ...], list[int]] = defaultdict(
            lambda: [0] * (len(BUCKETS) + 1)
        )
        self._sums: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._lock = threading.Lock()

    def observe(self, values: tuple[str, ...], seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._counts[values][index] += 1
            self._sums[values] += seconds

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            items = sorted((k, list(v), self._sums[k]) for k, v in self._counts.items())
        for values, counts, total in items:
            base = ",".join(f'{n}="{v}"' for n, v in zip(self.labels, values, strict=True))
            running = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield f'{self.name}_bucket{{{base},le="{le}"}} {running}'
            yield f"{self.name}_sum{{{base}}} {total:.6f}"
            yield f"{self.name}_count{{{base}}} {running}"


class Metrics:
    """Every metric the API exports."""

    def __init__(self) -> None:
        self._requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self.request_seconds = Histogram(
            "credgraph_http_request_duration_seconds", "HTTP request latency by route.", ("route",)
        )
        self.operation_seconds = Histogram(
            "credgraph_graphql_operation_duration_seconds",
            "GraphQL root field latency by field and outcome.",
            ("operation", "outcome"),
        )
        self.store_seconds = Histogram(
            "credgraph_store_duration_seconds",
            "Graph store round-trip latency by query operation.",
            ("operation",),
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, str(status))] += 1
        self.request_seconds.observe((route,), seconds)

    def render(self) -> str:
        lines = [
            "# HELP credgraph_http_requests_total HTTP requests by route and status.",
            "# TYPE credgraph_http_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self._requests.items())
        for (route, status), count in requests:
            lines.append(
                f'credgraph_http_requests_total{{route="{route}",status="{status}"}} {count}'
            )
        for histogram in (self.request_seconds, self.operation_seconds, self.store_seconds):
            lines.extend(histogram.render())
        return "\n".join(lines) + "\n"
