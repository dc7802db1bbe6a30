"""The FastAPI application: GraphQL at /graphql, health and readiness probes, metrics.

`create_app(store, settings)` takes an open store, so the CLI, the demo and the tests decide
where the data lives; the app never opens a store of its own.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from credgraph.api.schema import Context, schema
from credgraph.graph.settings import Environment, Settings
from credgraph.graph.store import GraphStore
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from strawberry.fastapi import GraphQLRouter

from credgraph import __version__


class Metrics:
    """Request counts and latency sums by route, in Prometheus text format."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests[(route, status)] += 1
        self.seconds[route] += seconds

    def render(self) -> str:
        lines = [
            "# HELP credgraph_requests_total HTTP requests by route and status.",
            "# TYPE credgraph_requests_total counter",
        ]
        for (route, status), count in sorted(self.requests.items()):
            lines.append(f'credgraph_requests_total{{route="{route}",status="{status}"}} {count}')
        lines += [
            "# HELP credgraph_request_seconds_total Time spent answering, by route.",
            "# TYPE credgraph_request_seconds_total counter",
        ]
        for route, seconds in sorted(self.seconds.items()):
            lines.append(f'credgraph_request_seconds_total{{route="{route}"}} {seconds:.6f}')
        return "\n".join(lines) + "\n"


def create_app(store: GraphStore, settings: Settings) -> FastAPI:
    development = settings.environment is Environment.DEVELOPMENT
    app = FastAPI(
        title="credgraph",
        version=__version__,
        docs_url="/docs" if development else None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
    )
    metrics = Metrics()
    context = Context(store=store, settings=settings)

    async def get_context() -> Context:
        return context

    graphql = GraphQLRouter(
        schema, context_getter=get_context, graphql_ide="graphiql" if development else None
    )
    app.include_router(graphql, prefix="/graphql")

    @app.middleware("http")
    async def measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response: Response = await call_next(request)
        # matched routes have no path parameters, so the path is a bounded label
        path = request.url.path if request.scope.get("route") is not None else "unmatched"
        metrics.observe(path, response.status_code, time.perf_counter() - started)
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ready = store.ping()
        return JSONResponse(
            {"ready": ready, "backend": store.backend}, status_code=200 if ready else 503
        )

    @app.get("/metrics")
    def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/")
    def index() -> dict[str, str]:
        return {"service": "credgraph", "graphql": "/graphql", "health": "/healthz"}

    return app
