"""The gate every request passes after the body limit: who is calling, may they, and how long.

`Gate` is a plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`: that one runs
each request's app in a task group of its own and streams the response through a memory
channel, which cost the API about a tenth of its worker's time on a re-screened applicant.

For each HTTP request it sets, in `scope["state"]` (what `request.state` reads):
- `request_id`: 16 hex characters, also sent back as `X-Request-Id` and in every log line;
- `caller`: the `Caller` of the `Authorization: Bearer <key>` header, None without a valid key
  (a key seen within `CREDGRAPH_API_KEY_CACHE_S` is checked on the event loop; any other goes
  to a worker thread, since looking it up reads the store);
- `audit`: the audit log, for extra routers that answer lookups themselves;
- `deadline`: when the request's time budget (`CREDGRAPH_API_REQUEST_TIMEOUT_S`) runs out, on
  `time.monotonic()`'s clock: GraphQL's store calls get what is left of it.

`/graphql` without a valid key is refused with 401, with an unknown purpose header with 400, and
with 503 `STORE_UNAVAILABLE` when the store cannot be asked whether a key is valid, or does not
answer within the request's time budget, which runs from here (`deadline`; other routes
go on without a caller: `/healthz` answers, `/readyz` says the store is down). On a public
interface (`CREDGRAPH_API_INTERFACE=public`) a valid key of any role but `public` is refused on
every route with 403 `PUBLIC_INTERFACE_ONLY`, and the refusal audited.
Every request is then counted in the metrics by route and status, and logged as one JSON line
of codes, ids and timings (never personal data).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from credgraph.api.audit import AuditLog, AuditUnavailable
from credgraph.api.context import PURPOSE_HEADER, off_request_threads, within
from credgraph.api.errors import STORE_UNAVAILABLE, ErrorCode, refusal_response
from credgraph.api.keys import Caller, KeyRing
from credgraph.api.metrics import Metrics
from credgraph.api.roles import ApiRole, Purpose
from credgraph.graph.settings import ApiInterface, Environment, Settings
from credgraph.graph.store import StoreError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GRAPHQL_PATH = "/graphql"
log = logging.getLogger("credgraph.api")


class RequestIds:
    """Request ids of 16 hex digits: a counter, keyed-hashed with a random key of this process's
    (so an id tells nothing of how many requests came before it). Unique as 64 random bits are,
    not secret: they name a request in logs, the audit and the `X-Request-Id` header. uuid4 read
    the kernel's random source for every request, letting go of the interpreter in the middle of
    the event loop's work (a twentieth of a worker's samples on a re-read page). A forked child
    draws a key of its own."""

    def __init__(self) -> None:
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._key = os.urandom(16)
        self._counter = itertools.count()

    def __next__(self) -> str:
        count = next(self._counter).to_bytes(8, "big")
        return hashlib.blake2b(count, key=self._key, digest_size=8).hexdigest()


_request_ids = RequestIds()


def json_log(**fields: Any) -> None:
    """One JSON object per line; fields are codes, ids and timings, never personal data."""
    if log.isEnabledFor(logging.INFO):
        fields["at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        log.info(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))


class Gate:
    """Caller check, purpose check, request id, metrics and the request log (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keyring: KeyRing,
        settings: Settings,
        metrics: Metrics,
        audit: AuditLog,
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.settings = settings
        self.metrics = metrics
        self.audit = audit
        self.development = settings.environment is Environment.DEVELOPMENT
        self.public_only = settings.api_interface == ApiInterface.PUBLIC

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # the request's time budget (CREDGRAPH_API_REQUEST_TIMEOUT_S) runs from here
        deadline = time.monotonic() + self.settings.api_request_timeout_s
        headers = Headers(scope=scope)
        request_id = next(_request_ids)
        authorizations = headers.getlist("authorization")
        # given twice (which counts?) or empty: no key, and not the absence of one either
        malformed = len(authorizations) > 1 or authorizations[:1] == [""]
        caller, checked = await self._checked_caller(authorizations, malformed, deadline)
        state = scope.setdefault("state", {})
        state.update(request_id=request_id, caller=caller, audit=self.audit, deadline=deadline)
        path = scope["path"].rstrip("/") or "/"
        guarded = path == GRAPHQL_PATH and not (self.development and scope["method"] == "GET")
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        refused = await self._refusal(
            scope, path, guarded, headers, request_id, caller, checked=checked, malformed=malformed
        )
        await (self.app if refused is None else refused)(scope, receive, send_with_id)
        route = route_label(scope, path, guarded)
        self._log_request(scope, request_id, route, status[0], started, caller, state)

    async def _checked_caller(
        self, authorizations: list[str], malformed: bool, deadline: float
    ) -> tuple[Caller | None, bool]:
        """The caller the request's key names (None for no key, a malformed or unknown one), and
        whether the key could be looked up at all."""
        try:
            caller = None if malformed else await self._caller("".join(authorizations), deadline)
        except StoreError:  # the key could not be looked up: refused below where it matters
            return None, False
        return caller, True

    async def _refusal(
        self,
        scope: Scope,
        path: str,
        guarded: bool,
        headers: Headers,
        request_id: str,
        caller: Caller | None,
        *,
        checked: bool,
        malformed: bool,
    ) -> JSONResponse | None:
        """The answer refusing the request before the app sees it, None to let it through: an
        internal role on a public interface, then, on the guarded path, a malformed key, a key
        that could not be looked up, no valid key, a bad purpose header."""
        if self.public_only and caller is not None and caller.role is not ApiRole.PUBLIC:
            operation = route_label(scope, path, guarded)
            return await self._refuse_on_public_interface(caller, request_id, operation, headers)
        if not guarded:
            return None
        if malformed:
            return await self._refuse_malformed(request_id, route_label(scope, path, guarded))
        if not checked:
            return _store_unavailable()
        if caller is None:
            return _unauthorised("send a valid API key as `Authorization: Bearer <key>`")
        if not _purpose_ok(headers.getlist(PURPOSE_HEADER)):
            return _bad_purpose()
        return None

    def _log_request(
        self,
        scope: Scope,
        request_id: str,
        route: str,
        status: int,
        started: float,
        caller: Caller | None,
        state: dict[str, Any],
    ) -> None:
        """The request's duration into the metrics, and its line into the log."""
        seconds = time.perf_counter() - started
        self.metrics.observe_request(route, status, seconds)
        json_log(
            event="request",
            request=request_id,
            method=scope["method"],
            route=route,
            status=status,
            ms=round(seconds * 1000, 2),
            key_id=caller.key_id if caller else None,
            role=caller.role.value if caller else None,
            errors=state.get("error_codes"),
        )

    async def _refuse_on_public_interface(
        self, caller: Caller, request_id: str, operation: str, headers: Headers
    ) -> JSONResponse:
        """The answer to a key of an internal role on a public interface: 403, audited as a
        refused call; 503 when the refusal cannot be registered."""
        purposes = headers.getlist(PURPOSE_HEADER)
        purpose = purposes[0].strip().lower() if _purpose_ok(purposes) and purposes else None
        unregistered = await self._register_refusal(
            request_id, operation, ErrorCode.PUBLIC_INTERFACE_ONLY, caller=caller, purpose=purpose
        )
        if unregistered is not None:
            return unregistered
        message = (
            f"this is the public interface: it answers the public role only, not the "
            f"{caller.role.value} role; use the internal interface"
        )
        return refusal_response(ErrorCode.PUBLIC_INTERFACE_ONLY, message)

    async def _refuse_malformed(self, request_id: str, operation: str) -> JSONResponse:
        """The answer to an `Authorization` header given twice, or empty: 401, audited as a
        refused call; 503 when the refusal cannot be registered."""
        unregistered = await self._register_refusal(
            request_id, operation, ErrorCode.UNAUTHENTICATED
        )
        return unregistered or _unauthorised(
            "give one `Authorization: Bearer <key>` header, or none (public access)"
        )

    async def _register_refusal(
        self,
        request_id: str,
        operation: str,
        code: ErrorCode,
        *,
        caller: Caller | None = None,
        purpose: str | None = None,
    ) -> JSONResponse | None:
        """Audit a request refused before GraphQL read it (on a thread of the audit's: the
        audit log may fsync, and the request threads may all be blocked on the store); the 503
        to answer when that failed, else None. `operation` is the route's label
        (`route_label`), never the path as typed."""
        try:
            await off_request_threads(
                self.audit.append,
                request=request_id,
                key_id=caller.key_id if caller else None,
                key_name=caller.name if caller else None,
                role=caller.role.value if caller else None,
                purpose=purpose,
                operation=operation,
                subjects=[],
                result_size=0,
                outcome=f"refused:{code.lower()}",
            )
        except AuditUnavailable:
            message = "the request could not be registered, so it is not answered"
            return refusal_response(ErrorCode.AUDIT_UNAVAILABLE, message)
        return None

    async def _caller(self, header: str, deadline: float) -> Caller | None:
        """The caller of an `Authorization` header: on the event loop when the key is cached
        (or there is none), else on a worker thread, where reading the store may wait, but no
        later than `deadline` (the request's budget): StoreError then, the store not having
        answered (a frozen store leaves the thread blocked; the request does not wait on it)."""
        if not header:
            return Caller.anonymous() if self.settings.api_public_access else None
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        known, caller = self.keyring.cached_caller(presented)
        if known:
            return caller
        return await within(
            run_in_threadpool(self.keyring.caller, presented),
            deadline - time.monotonic(),
            StoreError("the store did not answer the key look-up within the time budget"),
        )


def route_label(scope: Scope, path: str, guarded: bool) -> str:
    """A request's route as the metrics, the request log and the gate's audit events name it:
    the template of the route that matched (`/viz/static/{name}`; for a request refused before
    the app ran, the route it would have reached), else `unmatched`. Never a value from the
    request: the labels are bounded by the routes."""
    matched = getattr(scope.get("route"), "path", None)
    if isinstance(matched, str):
        return matched
    if guarded:
        return GRAPHQL_PATH
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if isinstance(route, BaseRoute) and route.matches(scope)[0] is not Match.NONE:
            template = getattr(route, "path", None)
            if isinstance(template, str):
                return template
    return "unmatched"


def _purpose_ok(values: list[str]) -> bool:
    """None or one known purpose: two headers would leave which one counts to the server."""
    if not values:
        return True
    if len(values) > 1:
        return False
    try:
        Purpose(values[0].strip().lower())
    except ValueError:
        return False
    return True


def _unauthorised(message: str) -> JSONResponse:
    return refusal_response(
        ErrorCode.UNAUTHENTICATED,
        message,
        headers={"WWW-Authenticate": 'Bearer realm="credgraph"'},
    )


def _store_unavailable() -> JSONResponse:
    return refusal_response(*STORE_UNAVAILABLE, headers={"Retry-After": "5"})


def _bad_purpose() -> JSONResponse:
    known = ", ".join(p.value for p in Purpose)
    message = f"header {PURPOSE_HEADER}: give it once, one of {known}"
    return refusal_response(ErrorCode.BAD_USER_INPUT, message)
