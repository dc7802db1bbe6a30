"""What every root field shares: the request's context and how a field runs.

`Services` is what the requests of a worker share (settings, the person key, profiles, audit,
metrics, caches); `Context` is one request (who calls, for what purpose, through which budgeted
store) and writes its audit events. Every root field runs the same way (`answer_field`): the
caller's role may call it (api/roles.py), the work runs in a worker thread against the
request's budgeted store, the answer is masked for the role, and an audit event is written
before the answer is returned; if the event cannot be written the field fails. The API waits
for the worker thread until the request's budget and `BUDGET_GRACE_S` have passed, no longer:
a store that does not answer at all (frozen, its sockets open) leaves the thread blocked, and
the field then answers `TIME_BUDGET_EXCEEDED`, registered first, and whatever the thread does
once the store answers is neither registered nor answered.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from credgraph.api.audit import AuditLog, AuditUnavailable, subject_token
from credgraph.api.errors import (
    ApiError,
    BadInput,
    ErrorCode,
    Forbidden,
    NotFound,
    PurposeRequired,
    TimeBudgetExceeded,
    store_failure,
)
from credgraph.api.keys import Caller
from credgraph.api.metrics import Metrics
from credgraph.api.roles import ApiRole, Purpose, may_call
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError
from credgraph.queries.caches import HubCache, PerVersion
from credgraph.queries.lookup import IdentifierCache, PartyCardCache, PartyKey
from credgraph.queries.profiles import PolicyProfile, ProfileError, choose_profile
from credgraph.queries.risk import DataVersionCache, ReportCache
from credgraph.queries.snapshot import SanctionSubjects
from credgraph.queries.traversal import LinkedCache
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

T = TypeVar("T")


PURPOSE_HEADER = "X-Credgraph-Purpose"

# how long past its time budget (CREDGRAPH_API_REQUEST_TIMEOUT_S) a root field's worker thread
# is waited for: the store's own timeout, sent with every transaction, has had time to stop the
# query and say so; past it the store is taken for one that does not answer at all
BUDGET_GRACE_S = 1.0

# the threads that write the audit events the request threads cannot (a root field answered
# past its budget, a request the gate refuses): not those threads, which may all be blocked on
# the store; the audit log may fsync, so not the event loop either
_AUDIT_THREADS = ThreadPoolExecutor(2, thread_name_prefix="credgraph-audit")


async def off_request_threads(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)` on a thread that never waits on the store (`_AUDIT_THREADS`), for
    audit writes that must not queue behind request threads blocked on it."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_AUDIT_THREADS, functools.partial(call, *args, **kwargs))


@dataclass
class Services:
    """What every request shares: settings, the person key, profiles, audit, metrics."""

    settings: Settings
    person_key: bytes
    audit: AuditLog
    metrics: Metrics
    profiles: dict[str, PolicyProfile]
    # the data version risk reports name (CREDGRAPH_RISK_DATA_VERSION_CACHE_S); None: read it
    versions: DataVersionCache | None = None
    # reports answered, by snapshot id (CREDGRAPH_RISK_REPORT_CACHE_SIZE); None: keep none
    reports: ReportCache | None = None
    # identifiers resolved, by data version (the same size); None: resolve every time
    identifiers: IdentifierCache | None = None
    # linkedParties walks, by data version (CREDGRAPH_API_WALK_CACHE_RELATIONS); None: none kept
    walks: LinkedCache | None = None
    # party cards, by data version (CREDGRAPH_API_PARTY_CACHE_SIZE); None: read every time
    cards: PartyCardCache | None = None
    # hubs' relations for walks, paths and risk reports, by data version
    # (CREDGRAPH_API_HUB_CACHE_RELATIONS)
    hubs: HubCache | None = None
    # the sanction subjects of the current data version, when warmed (CREDGRAPH_API_WARMUP_S):
    # a risk report's records read names only those
    subjects: PerVersion[SanctionSubjects] | None = None


class Context(BaseContext):
    """One request: who calls, for what purpose, through which (budgeted) store."""

    def __init__(
        self,
        *,
        store: GraphStore,
        services: Services,
        caller: Caller,
        purpose: Purpose | None,
        request_id: str,
    ) -> None:
        super().__init__()
        self.store = store
        self.services = services
        self.settings = services.settings
        self.caller = caller
        self.purpose = purpose
        self.request_id = request_id
        # set when a root field of the request selects `records`: parties are then read with
        # their records, otherwise without (one read per label fewer)
        self.wants_records = False
        # set when an argument named a person by identity number behind a business (`OPR:` and
        # the operator's number, api/parties.py `resolve_party`): every lookup of the request then
        # reaches a person, whatever it answers
        self.named_person = False

    @property
    def role(self) -> ApiRole:
        return self.caller.role

    def person_key(self) -> bytes:
        return self.services.person_key

    def register(
        self,
        operation: str,
        *,
        subjects: Iterable[PartyKey] = (),
        size: int = 0,
        persons: bool = False,
        outcome: str = "ok",
        purpose: Purpose | None = None,
        sector: str | None = None,
        basis: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the audit event of a lookup; refuse it when it reaches persons without purpose.

        `basis` is what a decision rests on (`decision_basis`), kept in the event so that a
        supervisor finds in the log what was decided, on which data and profile. Raises
        AuditUnavailable when the event cannot be written: the caller gets no answer.
        """
        purpose = purpose or self.purpose
        persons = persons or self.named_person
        # a lookup that reaches a person needs a purpose before anything else is said of it (an
        # unknown identity number is refused as a known one is, a conflict is not told either)
        unchecked = outcome in ("refused:role", "refused:purpose_required")
        if persons and purpose is None and not unchecked:
            self._write(
                operation, subjects, 0, "refused:purpose_required", None, {"sector": sector}
            )
            raise PurposeRequired(
                f"this lookup reaches natural persons: give a purpose in the {PURPOSE_HEADER} "
                "header (docs/security.md)"
            )
        self._write(
            operation, subjects, size, outcome, purpose, {"sector": sector, **(basis or {})}
        )

    def _write(
        self,
        operation: str,
        subjects: Iterable[PartyKey],
        size: int,
        outcome: str,
        purpose: Purpose | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        call = _CALL.get()
        if call is None:
            self._append(operation, subjects, size, outcome, purpose, details)
            return
        with call.lock:
            if call.answered:  # answered past its budget while this thread was blocked
                raise TimeBudgetExceeded("the request ran out of its time budget")
            self._append(operation, subjects, size, outcome, purpose, details)
            call.outcomes.append(outcome)

    def _append(
        self,
        operation: str,
        subjects: Iterable[PartyKey],
        size: int,
        outcome: str,
        purpose: Purpose | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        key = self.person_key()
        tokens = sorted({subject_token(key, s.uid) for s in subjects})
        self.services.audit.append(
            request=self.request_id,
            key_id=self.caller.key_id,
            key_name=self.caller.name,
            role=self.caller.role.value,
            purpose=purpose.value if purpose else None,
            operation=operation,
            subjects=tokens,
            result_size=size,
            outcome=outcome,
            # a screen's sector is part of what the lookup was for; a decision's basis is what
            # it rested on (both only when given)
            **{name: value for name, value in (details or {}).items() if value is not None},
        )

    def subject_token(self, key: PartyKey) -> str:
        """The token the audit log names `key` by (api/audit.py `subject_token`)."""
        return self.token(key.uid)

    def token(self, uid: str) -> str:
        """The audit log's token of a party's or record's uid: never the uid itself."""
        return subject_token(self.person_key(), uid)


class _Call:
    """One root field's call: the audit outcomes it has written, and whether it was answered
    without its worker thread (past the budget). The lock makes the two exclusive: either the
    thread registers, or the answer past the budget does, never both."""

    __slots__ = ("answered", "lock", "outcomes")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: list[str] = []
        self.answered = False

    def answer_overdue(self, ctx: Context, operation: str, purpose: Purpose | None) -> None:
        """Mark the call answered and register it as past its budget, unless the thread has
        registered it already. Raises AuditUnavailable when the event cannot be written."""
        with self.lock:
            self.answered = True
            if not self.outcomes:
                outcome = "refused:time_budget_exceeded"
                ctx._append(operation, (), 0, outcome, purpose or ctx.purpose)
                self.outcomes.append(outcome)


# the call one root field's worker thread works for (set in the thread, whose context is its
# own copy)
_CALL: ContextVar[_Call | None] = ContextVar("credgraph_call", default=None)


async def within(work: Coroutine[Any, Any, T], seconds: float, late: Exception) -> T:
    """`work`'s result, or `late` raised once `seconds` have passed. `work` goes on then (a
    worker thread blocked on a socket cannot be stopped), and what it returns or raises is
    dropped."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_drop)
    try:
        return await asyncio.wait_for(asyncio.shield(task), max(seconds, 0.0))
    except TimeoutError:
        raise late from None


def _drop(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "never retrieved" warning for a dropped failure


def chosen_profile(ctx: Context, name: str | None) -> PolicyProfile:
    """The policy profile `name` names (the deployment's default for None); BadInput naming
    the known ones for a name that is none of them."""
    try:
        return choose_profile(ctx.services.profiles, name)
    except ProfileError:
        known = ", ".join(sorted(ctx.services.profiles))
        raise BadInput.argument("profile", f"no such profile; known: {known}") from None


def selects_any(selections: Iterable[Selection], names: set[str]) -> bool:
    """Whether the fields selected on one type (fragments included) name one of `names`."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name in names:
                return True
        elif selects_any(selection.selections, names):
            return True
    return False


def _selects_anywhere(selections: Iterable[Selection], names: set[str]) -> bool:
    """Whether a selection, at any depth (fragments included), names one of `names`."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name in names:
            return True
        if _selects_anywhere(selection.selections, names):
            return True
    return False


async def answer_field(
    info: Info[Context, None],
    operation: str,
    work: Callable[[Context], T],
    purpose: Purpose | None = None,
) -> T:
    """Check the role, run `work` in a worker thread, time it; a refusal is audited too, with
    `purpose` when the field takes it as an argument (`screen`), else the header's."""
    ctx = info.context
    if _selects_anywhere(info.selected_fields, {"records"}):
        ctx.wants_records = True  # never reset: another root field of the request may need them
    started = time.perf_counter()
    outcome = "ok"
    call = _Call()
    deadline = _request_deadline(ctx)
    guarded = _guarded(info, operation, work, purpose, call)
    try:
        return await _within_budget(guarded, deadline, call, ctx, operation, purpose)
    except ApiError as exc:
        outcome = exc.code.lower()
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        ctx.services.metrics.operation_seconds.observe(
            (operation, outcome), time.perf_counter() - started
        )


def _request_deadline(ctx: Context) -> float:
    """When the request's time budget ends (`time.monotonic`): the store's own deadline when it
    keeps one, else the API's timeout from now."""
    store_deadline = getattr(ctx.store, "deadline", None)
    if isinstance(store_deadline, float):
        return store_deadline
    return time.monotonic() + ctx.settings.api_request_timeout_s


def _guarded(
    info: Info[Context, None],
    operation: str,
    work: Callable[[Context], T],
    purpose: Purpose | None,
    call: _Call,
) -> Callable[[], T]:
    """`work` as its worker thread runs it: not once the call was answered past its budget,
    only for a role that may call `operation`, only on text arguments UTF-8 can carry; a
    refusal or failure before `work` registered the call is registered here."""
    ctx = info.context

    def guarded() -> T:
        _CALL.set(call)  # this call's own: root fields run side by side
        if call.answered:  # it waited for a thread past its budget, and was answered
            raise TimeBudgetExceeded("the request ran out of its time budget")
        if not may_call(ctx.role, operation):
            ctx.register(operation, outcome="refused:role", purpose=purpose)
            raise Forbidden(f"the {ctx.role.value} role may not call {operation}")
        try:
            _check_text_arguments(info)
            return work(ctx)
        except ApiError as refused:
            if not call.outcomes:  # refused before it registered: bad input, say
                ctx.register(operation, outcome=refusal_outcome(refused), purpose=purpose)
            raise
        except AuditUnavailable:
            raise
        except Exception as failed:  # the store failed, or credgraph did: registered all the same
            if not call.outcomes:
                ctx.register(operation, outcome=_failure_outcome(failed), purpose=purpose)
            raise

    return guarded


async def _within_budget(
    guarded: Callable[[], T],
    deadline: float,
    call: _Call,
    ctx: Context,
    operation: str,
    purpose: Purpose | None,
) -> T:
    """`guarded` run in a worker thread, answered by `deadline` (and a grace): past it, the
    call is registered as over its budget before the answer says so."""
    late = TimeBudgetExceeded("the request ran out of its time budget")
    try:
        return await within(
            run_in_threadpool(guarded), deadline + BUDGET_GRACE_S - time.monotonic(), late
        )
    except TimeBudgetExceeded as exc:
        if exc is late:  # the thread is blocked still: registered here, before the answer
            await off_request_threads(call.answer_overdue, ctx, operation, purpose)
        raise


def _check_text_arguments(info: Info[Context, None]) -> None:
    """BadInput naming the first argument of the root field whose text is not Unicode text that
    UTF-8 can carry: a lone UTF-16 surrogate, which JSON may write (`"\\ud800"`) and GraphQL
    takes as a String, but which neither a hash, the store's driver nor a log can encode (it
    failed as INTERNAL_ERROR wherever an id was parsed). Every root field's arguments pass
    here, ids, names, cursors and free text alike, before anything reads them. O(size of the
    arguments)."""
    for field in info.selected_fields:  # the field as the query wrote it, variables filled in
        arguments = field.arguments if isinstance(field, SelectedField) else {}
        for name, value in arguments.items():
            if not _encodable(value):
                raise BadInput.argument(name, "not valid Unicode text (a lone surrogate)")


def _encodable(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(v) for v in value.values())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def _failure_outcome(failed: Exception) -> str:
    """The audit outcome of a call that failed other than by a refusal: the code its caller
    gets (api/errors.py `classify`), in lower case."""
    code = store_failure(failed)[0] if isinstance(failed, StoreError) else ErrorCode.INTERNAL_ERROR
    return f"refused:{code.lower()}"


def refusal_outcome(refused: ApiError) -> str:
    """The audit outcome of a call refused with `refused` (docs/security.md, Audit)."""
    if isinstance(refused, NotFound):
        return "not_found"
    if isinstance(refused, Forbidden):
        return "refused:role"
    return f"refused:{refused.code.lower()}"
