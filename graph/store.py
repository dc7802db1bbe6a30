"""The graph store: one code path, through the official neo4j driver, for every backend.

`open_store(settings)` connects to `CREDGRAPH_NEO4J_URI` when it is set (Neo4j 5, a cluster or
Aura) and otherwise starts (or attaches to) the embedded ArcadeDB server. A read of one
statement runs as an auto-commit (implicit) transaction in a read session, so a cluster routes
it to a secondary, without the BEGIN and COMMIT a managed transaction adds (about a third of the
driver's time on a small read, bench/read_bench.py); a failure the driver calls retryable runs
it again. Writes run in managed write transactions. Every transaction carries a timeout and
metadata naming the operation, which Neo4j shows in `SHOW TRANSACTIONS` and its query log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, LiteralString, TypeVar

import neo4j
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.schema import PING
from credgraph.graph.settings import Settings
from neo4j import Driver, GraphDatabase, ManagedTransaction, unit_of_work
from neo4j.api import BookmarkManager

Row = dict[str, Any]
T = TypeVar("T")

# a read the driver calls retryable is run again, at most this many times in all, after a pause
# growing by READ_RETRY_PAUSE_S each time
READ_ATTEMPTS = 3
READ_RETRY_PAUSE_S = 0.1


# a store that does not answer a connectivity check in this time is not ready (/readyz)
PING_TIMEOUT_S = 2.0


class _Batch(list[Any]):
    """A list parameter whose repr is its length; it packs exactly as a list."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} values>"


def _parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters as the driver gets them, every list as a `_Batch`.

    The driver builds its debug line for every RUN message, the repr of every parameter,
    before the logger decides whether debug is on (neo4j 6.4, `" ".join(map(repr, fields))`):
    for a 10,000-row chunk of a load, megabytes of text made and thrown away (about 2 µs of
    the loader's CPU a row, docs/benchmarks.md)."""
    return {
        key: _Batch(value) if type(value) is list else value
        for key, value in (parameters or {}).items()
    }


try:  # the driver's own Bolt structure: private, so a driver without it sends plain dates
    from neo4j._codec.packstream import Structure as _BoltStructure
except ImportError:  # pragma: no cover (a future driver)
    _BoltStructure = None

_UNIX_EPOCH_DAY = date(1970, 1, 1).toordinal()


def bolt_date(value: date) -> Any:
    """`value` as the driver sends a date (Bolt's `Date`: days since 1970-01-01), made ahead.

    The driver turns each `date` parameter into that structure in a Python hook that builds a
    `neo4j.time.Date` for the epoch every time (neo4j 6.4: 4 µs a date, a load's costliest
    part of packing a row, in the thread that waits on the store); made here, in the loader's
    parsing thread, it costs a subtraction and packs as fast as a string. The store receives
    the same bytes and stores a date. Without the driver's structure class, `value` itself.
    O(1)."""
    if _BoltStructure is None:  # pragma: no cover
        return value
    return _BoltStructure(b"D", value.toordinal() - _UNIX_EPOCH_DAY)


# --- values as read: the driver's own types as Python's --------------------------------------


def native(value: Any) -> Any:
    """A driver temporal value (neo4j.time.Date, DateTime) as its Python equivalent; any other
    value as it is.

    The driver returns its own types, which are not `datetime.date`: without this every date
    read from the store would look absent.
    """
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value


def native_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's properties as read from the store, with Python dates."""
    return {name: native(value) for name, value in record.items()}


def native_date(value: Any) -> Any:
    """`native(value)`, and ISO text (a read's `toString(date)`) as a `datetime.date`: the driver
    turns each date it returns into its own type in Python code, where `date.fromisoformat` is
    one C call."""
    return date.fromisoformat(value) if isinstance(value, str) else native(value)


def stored_date(value: Any) -> date | None:
    """A date property as read (the driver's Date, a date, ISO text), else None."""
    day = native_date(value)
    return day if isinstance(day, date) else None


def stored_datetime(value: Any) -> datetime | None:
    """A date-time property as read (the driver's DateTime, a datetime), else None."""
    moment = native(value)
    return moment if isinstance(moment, datetime) else None


class StoreError(RuntimeError):
    """The store refused or failed a statement; `code` is the store's status code if any."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


# values `Record.data()` returns as they are: scalars and the driver's temporal types
_PLAIN_TYPES = frozenset(
    {str, int, float, bool, type(None), neo4j.time.Date, neo4j.time.DateTime, neo4j.time.Time}
)


def _export(value: Any) -> Any:
    """A value as `Record.data()` gives it (nodes as property dicts, ...), with the common
    cases first: `Record.data()` tests every value against the typing ABCs, which doubled the
    driver's CPU per row on reads of a few hundred rows."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    # scalars inside are kept without a call each: rows often carry lists of many of them
    if kind is dict:
        return {
            key: item if type(item) in _PLAIN_TYPES else _export(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _PLAIN_TYPES else _export(item) for item in value]
    return neo4j.Record([("value", value)]).data()["value"]  # type: ignore[no-untyped-call]


def _collect(
    tx: ManagedTransaction, query: LiteralString, parameters: Mapping[str, Any]
) -> list[Row]:
    return _rows(tx.run(query, _parameters(parameters)))


def _rows(result: neo4j.Result, plain: bool = False) -> list[Row]:
    keys = result.keys()
    if plain:
        return [dict(zip(keys, record, strict=True)) for record in result]
    return [dict(zip(keys, map(_export, record.values()), strict=True)) for record in result]


class Transaction:
    """Statements inside one write transaction (see `GraphStore.transaction`)."""

    def __init__(self, tx: ManagedTransaction) -> None:
        self._tx = tx

    def run(self, query: LiteralString, parameters: Mapping[str, Any] | None = None) -> list[Row]:
        return _collect(self._tx, query, parameters or {})


@dataclass
class GraphStore:
    """A driver bound to one database, with read and write helpers."""

    driver: Driver
    database: str | None
    timeout_s: float
    backend: str = "neo4j"
    # a cluster behind a routing URI (`neo4j://`): reads may go to secondaries, and the sessions
    # pass on their bookmarks (`_bookmarks`); a single server answers every read after every
    # write it acknowledged, and is sent none
    routed: bool = False
    _closers: list[contextlib.AbstractContextManager[Any]] = field(default_factory=list)
    # the embedded server `open_store` started or attached to, if any
    embedded: EmbeddedStore | None = field(default=None, repr=False)
    _pinger: ThreadPoolExecutor = field(  # no thread until the first ping
        init=False,
        repr=False,
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="credgraph-ping"),
    )
    # Every session of this store shares the bookmarks of the transactions it committed: a
    # session passes on only its own, and on a Neo4j cluster a read routed to a secondary
    # could otherwise miss what this process has just written (a load's later chunk checking
    # an earlier one, a report right after a record change).
    _bookmarks: BookmarkManager = field(
        init=False, repr=False, default_factory=GraphDatabase.bookmark_manager
    )

    def share_bookmarks_with(self, other: GraphStore) -> None:
        """Use `other`'s bookmarks from now on: a view of the same store made for one request
        (the API's) waits for what the process committed through any other view, and they for
        what it commits."""
        self._bookmarks = other._bookmarks
        self.routed = other.routed

    @property
    def bookmarks(self) -> frozenset[str]:
        """The bookmarks of the latest transactions this store committed, which every later
        session of it waits for (on a Neo4j cluster, a secondary answers a read only once it
        holds them)."""
        return frozenset(self._bookmarks.get_bookmarks())

    def read(
        self,
        query: LiteralString,
        parameters: Mapping[str, Any] | None = None,
        *,
        operation: str = "read",
        timeout_s: float | None = None,
        plain: bool = False,
    ) -> list[Row]:
        """Run one statement as an auto-commit read and return its rows as dicts.

        `plain` is for statements that return no nodes, relations or paths, only values and
        lists or maps of them: rows keep the values as the driver decoded them, without the pass
        that turns those into dicts (a walk's level read returns thousands of lists).

        A read changes nothing, so a failure the driver calls retryable (a cluster member
        gone, a transient error) runs it again, up to READ_ATTEMPTS times in all, while the
        timeout lasts: every attempt gets what is left of it, so retries never stretch it.
        """
        timeout = timeout_s or self.timeout_s
        deadline = time.monotonic() + timeout
        values = _parameters(parameters)
        for attempt in range(1, READ_ATTEMPTS + 1):
            left = deadline - time.monotonic()
            statement = neo4j.Query(
                query, timeout=max(left, 0.001), metadata={"app": "credgraph", "op": operation}
            )
            try:
                with self._session(neo4j.READ_ACCESS) as session:
                    return _rows(session.run(statement, values), plain)
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
                pause = READ_RETRY_PAUSE_S * attempt
                last = attempt == READ_ATTEMPTS or time.monotonic() + pause >= deadline
                if last or not exc.is_retryable():
                    raise _store_error(exc) from exc
                time.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def write(
        self,
        query: LiteralString,
        parameters: Mapping[str, Any] | None = None,
        *,
        operation: str = "write",
    ) -> list[Row]:
        """Run one statement in a write transaction and return its rows as dicts."""
        work = unit_of_work(timeout=self.timeout_s, metadata={"app": "credgraph", "op": operation})(
            _collect
        )
        with self._session(neo4j.WRITE_ACCESS) as session:
            rows: list[Row] = self._guard(
                lambda: session.execute_write(work, query, parameters or {})
            )
            return rows

    def write_rows(
        self,
        query: LiteralString,
        rows: Sequence[Mapping[str, Any]],
        *,
        batch_size: int,
        operation: str = "write",
    ) -> int:
        """Write rows in batches: `query` takes `$rows` and UNWINDs them; one transaction each.

        Returns the number of rows written. Each batch commits on its own, so a crash loses at
        most the batch in flight, and statements are idempotent MERGEs so a re-run is safe.
        """
        for start in range(0, len(rows), batch_size):
            self.write(query, {"rows": list(rows[start : start + batch_size])}, operation=operation)
        return len(rows)

    def transaction(self, work: Callable[[Transaction], T], *, operation: str = "write") -> T:
        """Run `work` in one write transaction: every statement it runs commits, or none does.

        The driver retries transient failures by calling `work` again, so `work` must not
        change anything outside the transaction.
        """

        def unit(tx: ManagedTransaction) -> T:
            return work(Transaction(tx))

        managed = unit_of_work(
            timeout=self.timeout_s, metadata={"app": "credgraph", "op": operation}
        )(unit)
        with self._session(neo4j.WRITE_ACCESS) as session:
            result: T = self._guard(lambda: session.execute_write(managed))
            return result

    def run_schema(self, statements: Iterable[LiteralString]) -> None:
        """Run schema statements, each in its own auto-commit transaction (required by Neo4j)."""
        with self._session(neo4j.WRITE_ACCESS) as session:
            for statement in statements:
                self._guard(lambda s=statement: session.run(s).consume())

    def ping(self, timeout_s: float = PING_TIMEOUT_S) -> bool:
        """Whether the store answers a trivial read (`PING`) within `timeout_s`.

        A round trip: the driver's `verify_connectivity` may answer from a pooled connection's
        cached server details without asking the store. It runs on a thread of its own: against
        a store that is frozen rather than gone, the driver waits out its whole acquisition
        timeout (the query timeout, 30 s by default), and a /readyz probe and the API thread
        serving it waited as long."""
        check = self._pinger.submit(self._answers)
        try:
            return check.result(timeout=timeout_s)
        except TimeoutError:
            check.cancel()  # still queued behind a ping the store never answered: dropped
            return False

    async def ping_async(self, timeout_s: float = PING_TIMEOUT_S) -> bool:
        """`ping` for the event loop: it waits on the ping's own thread, never on a thread of
        the caller's pool, so a probe answers within `timeout_s` even when every request
        thread is blocked on a frozen store. A ping still waiting behind one the store never
        answered is dropped rather than queued."""
        check = asyncio.wrap_future(self._pinger.submit(self._answers))
        try:
            return await asyncio.wait_for(check, timeout_s)
        except TimeoutError:
            return False

    def _answers(self) -> bool:
        try:
            with self._session(neo4j.READ_ACCESS) as session:
                session.run(PING).consume()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
            return False
        return True

    def close(self) -> None:
        self._pinger.shutdown(wait=False)
        self.driver.close()
        while self._closers:
            self._closers.pop().__exit__(None, None, None)

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _session(self, access_mode: str) -> Iterator[neo4j.Session]:
        with self.driver.session(
            database=self.database,
            default_access_mode=access_mode,
            bookmark_manager=self._bookmarks if self.routed else None,
        ) as session:
            yield session

    @staticmethod
    def _guard(call: Any) -> Any:
        try:
            return call()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
            raise _store_error(exc) from exc


def _store_error(exc: neo4j.exceptions.Neo4jError | neo4j.exceptions.DriverError) -> StoreError:
    if isinstance(exc, neo4j.exceptions.Neo4jError):
        return StoreError(exc.message or str(exc), exc.code)
    return StoreError(f"store unavailable: {exc}")


def connect(uri: str, user: str, password: str, database: str | None, timeout_s: float) -> Driver:
    driver = GraphDatabase.driver(
        uri,
        auth=(user, password),
        max_connection_pool_size=64,
        connection_acquisition_timeout=timeout_s,
        user_agent="credgraph",
    )
    try:
        driver.verify_connectivity()
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
        driver.close()  # a store that cannot be reached or refuses the login: StoreError
        raise _store_error(exc) from exc
    return driver


def open_store(settings: Settings, *, database: str | None = None) -> GraphStore:
    """Open the configured store; start the embedded one when no URI is set.

    Close the returned store (or use it as a context manager): that also stops an embedded
    server this call started.
    """
    db = database or settings.database_name
    if not settings.embedded:
        assert settings.neo4j_uri is not None
        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else ""
        driver = connect(
            settings.neo4j_uri, settings.neo4j_user, password, db, settings.query_timeout_s
        )
        routed = settings.neo4j_uri.split(":", 1)[0].startswith("neo4j")
        return GraphStore(driver, db, settings.query_timeout_s, backend="neo4j", routed=routed)
    embedded = EmbeddedStore(settings)
    address = embedded.start()
    try:
        driver = connect(
            address.bolt_uri, address.user, address.password, db, settings.query_timeout_s
        )
    except Exception:
        embedded.stop()
        raise
    store = GraphStore(driver, db, settings.query_timeout_s, backend="arcadedb")
    store._closers.append(embedded)
    store.embedded = embedded
    return store
