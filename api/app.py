"""The FastAPI application: GraphQL at /graphql, health and readiness probes, metrics.

`create_app(store, settings)` takes an open store, so the CLI, the demo and the tests decide
where the data lives; the app never opens a store of its own. Extra routers (the viz pages)
come in through `extra_routers`: api/ never imports viz/.

Every request passes, in order: the body limit (413 / batch refusal, api/limits.py), the gate
(api/gate.py: the `Authorization: Bearer <key>` header, 401 without a valid key except on the
open routes; request id, metrics and the request log), then GraphQL with its depth, alias and
token limits, and a time budget every store call inherits. `request.state.caller` holds the
`Caller` (None when no valid key came), and `request.state.audit` the audit log, for extra
routers that answer lookups themselves.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from anyio import to_thread
from credgraph.api.audit import AuditLog
from credgraph.api.context import PURPOSE_HEADER, Context, Services
from credgraph.api.errors import (
    ErrorCode,
    NameArgumentsInValueErrors,
    format_error,
    refusal,
    refusal_response,
    too_complex,
)
from credgraph.api.gate import Gate, json_log
from credgraph.api.keys import Caller, KeyRing
from credgraph.api.limits import BodyLimit, BudgetedStore, NoNumbersInAliases
from credgraph.api.metrics import Metrics
from credgraph.api.roles import Purpose
from credgraph.api.schema import build_schema
from credgraph.graph.settings import Environment, Settings
from credgraph.graph.store import GraphStore
from credgraph.queries.caches import HubCache, PerVersion
from credgraph.queries.lookup import IdentifierCache, PartyCardCache
from credgraph.queries.profiles import ProfileError, load_profiles
from credgraph.queries.risk import DataVersionCache, ReportCache
from credgraph.queries.traversal import LinkedCache
from credgraph.queries.warmup import Warmer, Warming
from cross_web import HTTPException
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from credgraph import __version__

# distinct query texts whose parse and validation a worker keeps: clients send a few documents
# with variables; bounded so that unique texts cannot grow memory
QUERY_CACHE_SIZE = 256


_ContextGetter = Callable[[StarletteRequest], Context]
# the stable code of each status strawberry refuses a request with
_HTTP_CODES = {
    code.status: code
    for code in (ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED)
}


class _NamedRoute(Route):
    """A Starlette route that leaves itself in the scope, as FastAPI's own routes do: the gate
    labels a request's metrics and log line with the template of the route that matched
    (`scope["route"]`), which FastAPI's router sets for none but its own (GET /graphql, the
    GraphiQL page, was counted as `unmatched`)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


class _GraphQL(GraphQL[Context, None]):
    """GraphQL with errors reported by code, never with a trace or a store message.

    A plain ASGI endpoint rather than FastAPI's `GraphQLRouter`: the router solves FastAPI
    dependencies and wraps the request once more on every call, which cost a re-screened
    applicant about a tenth of the worker's time (docs/benchmarks.md, API) and gave nothing
    GraphQL uses.
    """

    def __init__(self, schema: Any, context: _ContextGetter, *, development: bool) -> None:
        super().__init__(
            schema, graphql_ide="graphiql" if development else None, allow_queries_via_get=False
        )
        self._context = context
        self._development = development

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's, with a request it refuses (a body that is not a JSON object, an
        unsupported content type, no query) answered as JSON with a code, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if scope["method"] != "POST" and not (self._development and scope["method"] == "GET"):
            # only POST carries operations (GET serves GraphiQL in development): any other
            # method is refused here, with its code, rather than by strawberry as a 404
            refused = refusal_response(
                ErrorCode.METHOD_NOT_ALLOWED, "send GraphQL operations by POST", {"Allow": "POST"}
            )
            await refused(scope, receive, send)
            return
        try:
            response = await self.run(StarletteRequest(scope=scope, receive=receive))
        except HTTPException as error:
            code = _HTTP_CODES.get(error.status_code, ErrorCode.BAD_REQUEST)
            response = JSONResponse(refusal(code, error.reason), status_code=error.status_code)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        """orjson: a tenth of the json module's time for an answer of fifty parties."""
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """The body as a JSON object; anything else is refused with 400 (strawberry let a JSON
        string, null, bytes that are not UTF-8 or nesting deeper than Python's recursion limit
        through as a 500)."""
        try:
            decoded = json.loads(data)
        except ValueError as error:  # UnicodeDecodeError is a ValueError
            raise HTTPException(400, "the body is not JSON in UTF-8") from error
        except RecursionError as error:  # JSON, but deeper than the parser goes
            raise HTTPException(400, "the body's JSON nests too deeply") from error
        if not isinstance(decoded, dict):
            raise HTTPException(400, "the body must be one JSON object with a `query`")
        return decoded

    async def get_context(
        self, request: StarletteRequest | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, StarletteRequest)  # no websocket route is served
        return self._context(request)

    async def process_result(
        self, request: StarletteRequest, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        request_id = getattr(request.state, "request_id", "-")
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            suggest = self._development
            formatted = [format_error(e, request_id, suggest=suggest) for e in result.errors]
            response["errors"] = formatted  # type: ignore[typeddict-item]
            request.state.error_codes = sorted({e["extensions"]["code"] for e in formatted})
        return response


def _warmer(store: GraphStore, services: Services, settings: Settings) -> Warmer | None:
    """The worker's warmer of its hub cache and sanction subjects (`CREDGRAPH_API_WARMUP_S`),
    reading through the store itself: no request's time budget. None when it warms nothing."""
    if settings.api_warmup_s <= 0:
        return None
    metrics = services.metrics

    def warmed(done: Warming) -> None:
        metrics.observe_warmup("warmed")
        json_log(
            event="caches_warmed",
            hubs=done.hubs.hubs if done.hubs else 0,
            hub_relations=done.hubs.relations if done.hubs else 0,
            sanction_subjects=done.subjects,
            seconds=round(done.seconds, 3),
        )

    def failed(error: Exception) -> None:
        metrics.observe_warmup("failed")
        json_log(event="caches_not_warmed", error=type(error).__name__)

    return Warmer(
        store,
        settings.api_warmup_s,
        hubs=services.hubs,
        subjects=services.subjects,
        on_warmed=warmed,
        on_failed=failed,
    )


def _can_write(log: Path) -> bool:
    """Whether the audit log can take an event: its folder and the log writable (a read-only
    file system refuses even root) and the disk not full."""
    try:
        room = os.statvfs(log.parent)
        free = room.f_bfree if os.geteuid() == 0 else room.f_bavail
        writable = os.access(log.parent, os.W_OK) and (
            log.is_file() and os.access(log, os.W_OK) if log.exists() else log.parent.is_dir()
        )
    except OSError:  # the folder is gone or cannot be looked at
        return False
    return writable and free > 0


def create_app(
    store: GraphStore,
    settings: Settings,
    *,
    extra_routers: Sequence[APIRouter] = (),
    audit: AuditLog | None = None,
) -> FastAPI:
    development = settings.environment is Environment.DEVELOPMENT
    services = _services(settings, audit)
    warmer = _warmer(store, services, settings)
    keyring = KeyRing(store, settings.api_key_cache_s)
    app = FastAPI(
        title="credgraph",
        version=__version__,
        lifespan=_lifespan(settings, warmer),
        docs_url="/docs" if development else None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
        # FastAPI's OpenTelemetry hooks look for exporters on every request; credgraph reports
        # through its own /metrics and request log, which carry no personal data
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.state.keyring = keyring
    schema = build_schema(_extensions(settings, development))
    graphql = _GraphQL(schema, _context_getter(store, services), development=development)
    # an ASGI app as the endpoint: Starlette hands it the request as it comes
    app.router.routes.append(
        # every method: the endpoint refuses the ones it does not take, as JSON with a code
        _NamedRoute("/graphql", endpoint=graphql, methods=None, include_in_schema=False)
    )
    for router in extra_routers:
        app.include_router(router)
    _add_probes(app, store, services)
    # the last added runs first: the body limit, then the gate
    app.add_middleware(
        Gate, keyring=keyring, settings=settings, metrics=services.metrics, audit=services.audit
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    return app


def _services(settings: Settings, audit: AuditLog | None) -> Services:
    """What every request of the worker shares: its settings, keys, audit log, metrics, risk
    profiles and caches. ValueError naming the variable for a risk profiles file that is wrong."""
    metrics = Metrics()
    try:
        profiles = load_profiles(settings.risk_profiles_file)
    except ProfileError as exc:
        raise ValueError(f"CREDGRAPH_RISK_PROFILES_FILE: {exc}") from None
    return Services(
        settings=settings,
        person_key=settings.person_key_bytes(),
        audit=audit
        or AuditLog(
            settings.audit_log_path, settings.audit_key_bytes(), fsync=settings.audit_fsync
        ),
        metrics=metrics,
        profiles=profiles,
        versions=DataVersionCache(settings.risk_data_version_cache_s),
        reports=ReportCache(settings.risk_report_cache_size, metrics.cache_observer("reports")),
        identifiers=IdentifierCache(
            settings.risk_report_cache_size, metrics.cache_observer("identifiers")
        ),
        walks=LinkedCache(settings.api_walk_cache_relations, metrics.cache_observer("walks")),
        cards=PartyCardCache(settings.api_party_cache_size, metrics.cache_observer("parties")),
        hubs=HubCache(
            settings.api_hub_cache_relations,
            metrics.cache_observer("hubs"),
            least=settings.api_hub_min_relations,
        )
        if settings.api_hub_cache_relations
        else None,
        subjects=PerVersion() if settings.api_warmup_s > 0 else None,
    )


def _lifespan(
    settings: Settings, warmer: Warmer | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The worker's start and stop: its thread limit, the frozen heap, the warmer."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # resolvers and store calls run on these threads; past the cores they only contend
        # for the interpreter, so a worker can queue requests instead (CREDGRAPH_API_THREADS)
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        # what exists once the app is built (modules, the schema, caches' code) lives as long
        # as the worker: leave it out of the cycle collector's full passes, which otherwise
        # walk it all and stall every request of the moment
        gc.freeze()
        if warmer is not None:
            warmer.start()
        yield
        if warmer is not None:
            warmer.stop()

    return lifespan


def _extensions(settings: Settings, development: bool) -> list[Any]:
    """The schema's extensions: the query limits and the parse and validation caches."""
    # factories: strawberry builds a fresh extension per request. The limiters' rule classes
    # are made once, so that a query text seen before is neither parsed nor validated again
    # (the caches key on the rules, which would otherwise be new classes every request)
    limits = [
        *map(
            too_complex, QueryDepthLimiter(max_depth=settings.api_max_query_depth).validation_rules
        ),
        *map(
            too_complex,
            MaxAliasesLimiter(max_alias_count=settings.api_max_aliases).validation_rules,
        ),
        NoNumbersInAliases,
        # introspection off outside development: a rule among the others, not an extension of
        # its own that strawberry would build for every request
        *(() if development else (NoSchemaIntrospectionCustomRule,)),
    ]
    return [
        NameArgumentsInValueErrors,
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.api_max_tokens),
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
    ]


def _context_getter(store: GraphStore, services: Services) -> _ContextGetter:
    """What a GraphQL request's resolvers get: the store under the request's time budget, the
    caller the gate found, the purpose it gave."""
    settings, metrics = services.settings, services.metrics

    def get_context(request: StarletteRequest) -> Context:
        caller: Caller = request.state.caller
        purpose_text = request.headers.get(PURPOSE_HEADER)
        return Context(
            # the budget runs from when the gate took the request: a key look-up spends it too
            store=BudgetedStore(
                store,
                settings.api_request_timeout_s,
                metrics,
                deadline=getattr(request.state, "deadline", None),
            ),
            services=services,
            caller=caller,
            purpose=Purpose(purpose_text.strip().lower()) if purpose_text else None,
            request_id=request.state.request_id,
        )

    return get_context


def _add_probes(app: FastAPI, store: GraphStore, services: Services) -> None:
    """The open routes: health, readiness, metrics and the index."""
    metrics = services.metrics

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # on the event loop: no thread, no store
        return {"status": "ok", "version": __version__}

    # the probes run on the event loop, never on the request threads: those may all be blocked
    # on a store that does not answer, and a probe must say so rather than wait with them
    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        # ready: the store answers, and a lookup's audit event can be written (else every
        # lookup fails with AUDIT_UNAVAILABLE: a balancer should send them elsewhere)
        answers = await store.ping_async()  # on the ping's own thread, PING_TIMEOUT_S at most
        failing = [
            part
            for part, ok in (("store", answers), ("audit", _can_write(services.audit.path)))
            if not ok
        ]
        body: dict[str, object] = {"ready": not failing, "backend": store.backend}
        if failing:
            body["failing"] = failing
        return JSONResponse(body, status_code=503 if failing else 200)

    @app.get("/metrics")
    async def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"service": "credgraph", "graphql": "/graphql", "health": "/healthz"}
