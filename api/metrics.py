"""Prometheus metrics in text format: request counts, latency histograms, store latency.

Four kinds of figures: HTTP requests by route and status (counter and latency histogram), GraphQL
operations by root field and outcome (histogram), store round trips by the operation name
the queries give them (histogram), and lookups in the worker's caches by cache and result
(counter). Labels are bounded: routes that matched, root field names of
the schema, operation names of the code; never a value from a request.

The values live in `prometheus_client` metrics. With one process they are in memory. Under
`credgraph serve --workers N` every worker writes them to memory-mapped files in one private
directory (`prometheus_client`'s multiprocess mode: `serve` creates the directory and names it
in `PROMETHEUS_MULTIPROC_DIR` before the workers start, and removes it when they stop), and
`/metrics`, whichever worker answers it, adds up the figures of every worker (a worker that was
restarted keeps counting in its predecessor's files' sums). The text is rendered here, so its
layout (label order, `le` last, whole counts) is the same in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter
from prometheus_client import Histogram as PromHistogram
from prometheus_client import values as prom_values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

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


def multiprocess_dir() -> str | None:
    """The shared directory of the workers' figures, when this process counts in one.

    `prometheus_client` chooses file-backed values when it is first imported with
    `PROMETHEUS_MULTIPROC_DIR` set; a process that imported it before counts in memory.
    """
    directory = os.environ.get(MULTIPROCESS_DIR_ENV)
    if not directory or prom_values.ValueClass is prom_values.MutexValue:
        return None
    return directory


class Histogram:
    """One histogram family with its label names; `observe` takes the label values."""

    def __init__(
        self, name: str, help_text: str, labels: tuple[str, ...], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self._metric = PromHistogram(name, help_text, labels, buckets=BUCKETS, registry=registry)

    def observe(self, values: tuple[str, ...], seconds: float) -> None:
        self._metric.labels(*values).observe(seconds)


class Metrics:
    """Every metric the API exports."""

    def __init__(self) -> None:
        # a registry of its own: several apps in one process (the tests) never clash
        self._registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "credgraph_http_requests",
            "HTTP requests by route and status.",
            ("route", "status"),
            registry=self._registry,
        )
        self.request_seconds = Histogram(
            "credgraph_http_request_duration_seconds",
            "HTTP request latency by route.",
            ("route",),
            self._registry,
        )
        self.operation_seconds = Histogram(
            "credgraph_graphql_operation_duration_seconds",
            "GraphQL root field latency by field and outcome.",
            ("operation", "outcome"),
            self._registry,
        )
        self.store_seconds = Histogram(
            "credgraph_store_duration_seconds",
            "Graph store round-trip latency by query operation.",
            ("operation",),
            self._registry,
        )
        self._cache_lookups = Counter(
            "credgraph_cache_lookups",
            "Lookups in an API worker's caches by cache and result (hit or miss).",
            ("cache", "result"),
            registry=self._registry,
        )
        self._warmups = Counter(
            "credgraph_warmups",
            "Warmings of the worker's hub cache and sanction subjects, by outcome.",
            ("outcome",),
            registry=self._registry,
        )
        self._label_names = {
            "credgraph_http_requests": ("route", "status"),
            "credgraph_cache_lookups": ("cache", "result"),
            "credgraph_warmups": ("outcome",),
            **{
                h.name: h.labels
                for h in (self.request_seconds, self.operation_seconds, self.store_seconds)
            },
        }

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self._requests.labels(route, str(status)).inc()
        self.request_seconds.observe((route,), seconds)

    def observe_warmup(self, outcome: str) -> None:
        """A warming of the worker's caches ended: `warmed` or `failed` (queries/warmup.py)."""
        self._warmups.labels(outcome).inc()

    def cache_observer(self, cache: str) -> Callable[[int, int], None]:
        """What a cache named `cache` tells its hits and misses to (queries/caches.py)."""
        hit = self._cache_lookups.labels(cache, "hit")
        miss = self._cache_lookups.labels(cache, "miss")

        def observe(hits: int, misses: int) -> None:
            if hits:
                hit.inc(hits)
            if misses:
                miss.inc(misses)

        return observe

    def render(self) -> str:
        """The text exposition format, over every worker's figures in multiprocess mode."""
        directory = multiprocess_dir()
        families = _every_workers(directory) if directory is not None else self._registry.collect()
        by_name = {family.name: family for family in families}
        lines: list[str] = []
        for name, labels in self._label_names.items():
            family = by_name.get(name)
            if family is not None:
                lines.extend(_render_family(name, family, labels))
        return "\n".join(lines) + "\n"


def _every_workers(directory: str) -> Iterable[Metric]:
    """The figures of every process that counted in `directory`, added up."""
    collector = MultiProcessCollector(None, directory)  # type: ignore[no-untyped-call]
    families: Iterable[Metric] = collector.collect()  # type: ignore[no-untyped-call]
    return families


def _render_family(name: str, family: Metric, labels: tuple[str, ...]) -> Iterable[str]:
    exposed = f"{name}_total" if family.type == "counter" else name
    yield f"# HELP {exposed} {family.documentation}"
    yield f"# TYPE {exposed} {family.type}"
    suffixes = {"_bucket": 0, "_sum": 1, "_count": 2, "_total": 0}
    samples = []
    for sample in family.samples:
        suffix = sample.name[len(name) :]
        if suffix not in suffixes:
            continue  # `_created` and the like
        values = tuple(str(sample.labels.get(label, "")) for label in labels)
        le = sample.labels.get("le")
        bound = float("inf") if le in (None, "+Inf") else float(le)
        samples.append((values, suffixes[suffix], bound, sample, suffix, le))
    for values, _, _, sample, suffix, le in sorted(samples, key=lambda s: s[:3]):
        pairs = [f'{n}="{v}"' for n, v in zip(labels, values, strict=True)]
        if le is not None:
            pairs.append(f'le="{le}"')
        number = f"{sample.value:.6f}" if suffix == "_sum" else str(int(sample.value))
        yield f"{name}{suffix}{{{','.join(pairs)}}} {number}"
