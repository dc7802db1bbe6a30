"""Cheap refusals before any work, and the time budget every store call inherits.

- `BodyLimit`: an ASGI middleware that refuses a request body over the limit with 413 (by its
  Content-Length, or by counting when it is streamed) and a JSON array sent to /graphql (a
  batch) with 400, before the GraphQL layer parses anything.
- `NoNumbersInAliases`: a validation rule refusing an alias that holds a run of 12 digits or
  more. The answer's keys are the aliases, as typed: one could carry an identity number back.
- `MAX_..._CHARS`: the longest text each string argument takes.
- `BudgetedStore`: the store as one request sees it. Each read, write or transaction gets the
  time left of the request's budget as its transaction timeout (the driver passes it to the
  server, which stops the query), and none starts once the budget is spent. Every round trip is
  timed into the store latency histogram. A store that does not answer at all is bounded by the
  API waiting no longer than the budget (api/context.py `answer_field`), not here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, LiteralString, TypeVar

from credgraph.api.errors import ErrorCode, TimeBudgetExceeded, refusal
from credgraph.api.masking import holds_long_number
from credgraph.api.metrics import Metrics
from credgraph.graph.store import GraphStore, Row, Transaction
from graphql import ASTValidationRule, FieldNode, GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")

# the longest text each string argument takes, in characters: a longer one is refused with
# BAD_USER_INPUT before anything reads it (docs/security.md, Abuse limits and errors)
MAX_ID_CHARS = 200  # `id`, `from`, `to`, each of `ids`
MAX_SEARCH_NAME_CHARS = 100
MAX_RECORD_ID_CHARS = 200
MAX_DECISION_NUMBER_CHARS = 200
MAX_EVIDENCE_CHARS = 2000
MAX_NOTE_CHARS = 2000
MAX_KEY_NAME_CHARS = 100  # an API key's name (`credgraph keys create --name`)


async def _refuse(send: Send, code: ErrorCode, message: str) -> None:
    body = json.dumps(refusal(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses oversized bodies (413) and GraphQL batches (400) before parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int, graphql_path: str = "/graphql") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        too_big = f"the request body is larger than {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, ErrorCode.PAYLOAD_TOO_LARGE, too_big)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, ErrorCode.PAYLOAD_TOO_LARGE, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if scope["path"].rstrip("/") == self.graphql_path and body.lstrip()[:1] == b"[":
            await _refuse(
                send, ErrorCode.BATCH_NOT_SUPPORTED, "send one GraphQL operation per request"
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class NoNumbersInAliases(ASTValidationRule):
    """Refuses an alias holding a run of 12 digits or more (the message never quotes it)."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.alias is not None and holds_long_number(node.alias.value):
            self.report_error(
                GraphQLError("an alias may not hold a run of 12 digits or more", node.alias)
            )


class BudgetedStore(GraphStore):
    """A view of the store for one request: a deadline, and timing of every round trip."""

    def __init__(
        self,
        base: GraphStore,
        budget_s: float,
        metrics: Metrics,
        *,
        deadline: float | None = None,
    ) -> None:
        """`deadline` (on `time.monotonic()`'s clock) when the budget started before this view
        was made (the gate's); else `budget_s` from now."""
        super().__init__(base.driver, base.database, base.timeout_s, base.backend)
        self.share_bookmarks_with(base)
        self.deadline = deadline if deadline is not None else time.monotonic() + budget_s
        self._metrics = metrics

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeBudgetExceeded("the request ran out of its time budget")
        return left

    def _timed(self, operation: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return call()
        finally:
            self._metrics.store_seconds.observe((operation,), time.perf_counter() - started)

    def read(
        self,
        query: LiteralString,
        parameters: Mapping[str, Any] | None = None,
        *,
        operation: str = "read",
        timeout_s: float | None = None,
        plain: bool = False,
    ) -> list[Row]:
        left = self.remaining()
        budget = min(left, timeout_s) if timeout_s else left
        return self._timed(
            operation,
            lambda: super(BudgetedStore, self).read(
                query, parameters, operation=operation, timeout_s=budget, plain=plain
            ),
        )

    def write(
        self,
        query: LiteralString,
        parameters: Mapping[str, Any] | None = None,
        *,
        operation: str = "write",
    ) -> list[Row]:
        self.timeout_s = self.remaining()
        return self._timed(
            operation,
            lambda: super(BudgetedStore, self).write(query, parameters, operation=operation),
        )

    def write_rows(
        self,
        query: LiteralString,
        rows: Sequence[Mapping[str, Any]],
        *,
        batch_size: int,
        operation: str = "write",
    ) -> int:
        self.timeout_s = self.remaining()
        return super().write_rows(query, rows, batch_size=batch_size, operation=operation)

    def transaction(self, work: Callable[[Transaction], T], *, operation: str = "write") -> T:
        self.timeout_s = self.remaining()
        return self._timed(
            operation, lambda: super(BudgetedStore, self).transaction(work, operation=operation)
        )

    def close(self) -> None:  # the request's view never closes the shared driver
        return None
