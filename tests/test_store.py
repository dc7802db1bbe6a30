"""The embedded store and the schema, used for real."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from credgraph.api.limits import BudgetedStore
from credgraph.api.metrics import Metrics
from credgraph.graph.embedded import EmbeddedStore, EmbeddedStoreError
from credgraph.graph.schema import SCHEMA_STATEMENTS, apply_schema, describe_schema
from credgraph.graph.settings import (
    Collector,
    Settings,
    SettingsError,
    load_settings,
    with_collector,
)
from credgraph.graph.store import (
    READ_ATTEMPTS,
    GraphStore,
    StoreError,
    bolt_date,
    connect,
    open_store,
)

from tests.conftest import make_settings

COUNT_MARKERS = "MATCH (n:Authority) RETURN count(n) AS c"
CREATE_MARKERS = (
    "UNWIND range(1, $n) AS i MERGE (a:Authority {uid: 'm' + toString(i)}) RETURN count(a) AS c"
)


def test_schema_applied_twice_is_a_no_op(graph: GraphStore) -> None:
    first = describe_schema(graph)
    apply_schema(graph)
    assert describe_schema(graph) == first
    constraint_names = {
        s.split()[2] for s in SCHEMA_STATEMENTS if s.startswith("CREATE CONSTRAINT")
    }
    assert constraint_names <= set(first["constraints"])


def test_uniqueness_constraint_is_enforced(graph: GraphStore) -> None:
    graph.write("CREATE (:LegalPerson {uid: 'X'})")
    with pytest.raises(StoreError, match=r"Duplicated key \[X\] .*'LegalPerson\[uid\]'") as refused:
        graph.write("CREATE (:LegalPerson {uid: 'X'})")
    assert refused.value.code == "Neo.ClientError.Schema.ConstraintValidationFailed"
    assert graph.read("MATCH (p:LegalPerson) RETURN p.uid AS uid") == [{"uid": "X"}]


def test_read_and_write_transactions(graph: GraphStore) -> None:
    assert graph.write(CREATE_MARKERS, {"n": 5}) == [{"c": 5}]
    assert graph.read(COUNT_MARKERS) == [{"c": 5}]
    assert graph.ping()


COLLECTED_MARKERS = (
    "MATCH (a:Authority) WITH a ORDER BY a.uid "
    "RETURN 'all' AS name, collect([a.uid, size(a.uid), 0.5, true, null]) AS markers"
)


def test_reads_follow_the_writes_of_the_same_store_by_bookmark(graph: GraphStore) -> None:
    """Behind a routing URI, sessions share one bookmark manager, so a read after a write
    carries the write's bookmark (what a Neo4j cluster's secondary waits for); the embedded
    store, a single server, is sent none, and accepts them."""
    graph.transaction(lambda tx: tx.run("CREATE (n:LoadChunk {uid: 'bookmark-0'})"))
    assert not graph.routed and not graph.bookmarks
    graph = dataclasses.replace(graph, routed=True, _closers=[])
    graph.transaction(lambda tx: tx.run("CREATE (n:LoadChunk {uid: 'bookmark-1'})"))
    first = graph.bookmarks
    assert first
    assert graph.read("MATCH (n:LoadChunk {uid: 'bookmark-1'}) RETURN count(n) AS n") == [{"n": 1}]
    graph.transaction(lambda tx: tx.run("MATCH (n:LoadChunk {uid: 'bookmark-1'}) DELETE n"))
    assert graph.bookmarks and graph.bookmarks != first
    assert graph.read("MATCH (n:LoadChunk {uid: 'bookmark-1'}) RETURN count(n) AS n") == [{"n": 0}]


def test_a_request_s_view_of_the_store_shares_the_process_s_bookmarks(graph: GraphStore) -> None:
    """An API request's store (a deadline and timings around the process's store) commits
    into, and waits for, the same bookmarks as every other request of the process."""
    graph = dataclasses.replace(graph, routed=True, _closers=[])
    first = BudgetedStore(graph, 5.0, Metrics())
    first.transaction(lambda tx: tx.run("CREATE (n:LoadChunk {uid: 'bookmark-2'})"))
    second = BudgetedStore(graph, 5.0, Metrics())
    assert first.bookmarks and second.bookmarks == first.bookmarks == graph.bookmarks
    graph.write("MATCH (n:LoadChunk {uid: 'bookmark-2'}) DELETE n")


def test_a_plain_read_gives_the_rows_a_converted_one_gives(graph: GraphStore) -> None:
    graph.write(CREATE_MARKERS, {"n": 3})
    converted = graph.read(COLLECTED_MARKERS)
    assert converted == [
        {"name": "all", "markers": [[f"m{i}", 2, 0.5, True, None] for i in (1, 2, 3)]}
    ]
    assert graph.read(COLLECTED_MARKERS, plain=True) == converted


ECHO_ROWS = "UNWIND $rows AS row RETURN row.uid AS uid, row.on AS on ORDER BY uid"


def test_a_list_parameter_arrives_whole_and_its_debug_line_is_short(
    graph: GraphStore, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [{"uid": f"b{i:04d}", "on": date(2024, 1, 1 + i % 28)} for i in range(3000)]
    with caplog.at_level(logging.DEBUG, logger="neo4j"):
        echoed = graph.read(ECHO_ROWS, {"rows": rows})
    assert [(row["uid"], row["on"].to_native()) for row in echoed] == [
        (row["uid"], row["on"]) for row in rows
    ]
    runs = [record.getMessage() for record in caplog.records if "C: RUN" in record.getMessage()]
    assert runs and "<3000 values>" in runs[-1] and len(runs[-1]) < 500


STORED_DAYS = """
UNWIND $rows AS row
CREATE (a:Authority {uid: row.uid, on: row.on})
WITH a
RETURN a.uid AS uid, a.on AS on, a.on < date('1970-01-02') AS early
"""


@pytest.mark.parametrize(
    "day",
    [date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(2024, 2, 29), date(9999, 12, 31)],
)
def test_a_date_made_ahead_is_stored_as_the_date_itself(graph: GraphStore, day: date) -> None:
    rows = [{"uid": "ahead", "on": bolt_date(day)}, {"uid": "plain", "on": day}]
    stored = graph.write(STORED_DAYS, {"rows": rows})
    assert [(row["uid"], row["on"].to_native(), row["early"]) for row in stored] == [
        (uid, day, day < date(1970, 1, 2)) for uid in ("ahead", "plain")
    ]


class _Relay:
    """A TCP relay to the store that can cut the connections it carries and refuse the next
    ones: what a client sees when a cluster member goes away under it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._open: list[socket.socket] = []
        self.refuse = 0  # the next this many connections are closed at once
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.refuse:
                self.refuse -= 1
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def cut(self, *, refuse: int) -> None:
        """Close every connection carried so far, and refuse the next `refuse`."""
        self.refuse = refuse
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def close(self) -> None:
        self._listener.close()
        self.cut(refuse=0)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def relayed(embedded: EmbeddedStore, graph: GraphStore) -> Iterator[tuple[_Relay, GraphStore]]:
    """The test's database through a relay, its driver connected (one pooled connection)."""
    address = embedded.address
    relay = _Relay(("127.0.0.1", int(address.bolt_uri.rsplit(":", 1)[1])))
    driver = connect(f"bolt://127.0.0.1:{relay.port}", address.user, address.password, None, 30)
    store = GraphStore(driver, graph.database, 30.0, backend="arcadedb")
    yield relay, store
    store.close()
    relay.close()


def test_a_read_that_loses_its_connection_is_run_again(
    relayed: tuple[_Relay, GraphStore], graph: GraphStore
) -> None:
    relay, store = relayed
    graph.write(CREATE_MARKERS, {"n": 3})
    relay.cut(refuse=1)  # the pooled connection dies, and so does the next one
    assert store.read(COUNT_MARKERS) == [{"c": 3}]
    assert relay.accepted >= 3  # the first, the refused one, the one that answered


def test_a_read_gives_up_after_its_attempts_and_a_bad_statement_at_once(
    relayed: tuple[_Relay, GraphStore], graph: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay, store = relayed
    pauses: list[float] = []  # the pauses the read takes between its attempts, still taken
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (pauses.append(s), real_sleep(s)))
    relay.cut(refuse=1_000)
    before = relay.accepted  # the pooled connection the driver opened when connecting
    with pytest.raises(StoreError, match="store unavailable") as gone:
        store.read(COUNT_MARKERS)
    assert gone.value.code is None  # the driver's error, not the store's
    assert relay.accepted - before == READ_ATTEMPTS and pauses == [0.1, 0.2]
    # retries stay inside the read's timeout: one pause of 0.1 s fits in 0.15 s, 0.1 + 0.2 do not
    # (counted, not timed: the pause of 0.2 s is never taken)
    pauses.clear()
    with pytest.raises(StoreError, match="store unavailable"):
        store.read(COUNT_MARKERS, timeout_s=0.15)
    assert relay.accepted - before == READ_ATTEMPTS + 2 and pauses == [0.1]
    pauses.clear()
    with pytest.raises(StoreError, match="Syntax error at line 1:19") as refused:
        graph.read("MATCH (n:Authority RETURN n")  # not retryable: one attempt, the store's code
    assert refused.value.code == "Neo.ClientError.Statement.SyntaxError" and pauses == []


def test_embedded_store_restarts_with_its_data(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with open_store(settings) as store:
        store.write(CREATE_MARKERS, {"n": 3})
    password_file = tmp_path / "store-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    with open_store(settings) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 3}]
    assert not (tmp_path / "store.json").exists(), "a clean stop removes the state file"


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with open_store(settings) as store:
        store.write(CREATE_MARKERS, {"n": 7})
        state = (tmp_path / "store.json").read_text()
        pid = int(state.split('"pid": ')[1].split(",")[0])
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with open_store(settings) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 7}]


def test_a_second_process_attaches_instead_of_starting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with EmbeddedStore(settings) as first:
        second = EmbeddedStore(settings)
        address = second.start()
        assert not second.owns_process
        assert address.bolt_uri == first.address.bolt_uri


def test_taken_port_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = make_settings(tmp_path, embedded_bolt_port=port)
        with pytest.raises(EmbeddedStoreError, match=f"port {port}.*CREDGRAPH_EMBEDDED_BOLT_PORT"):
            EmbeddedStore(settings).start()


def test_unwritable_data_dir_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    # the settings refuse it, naming the variable
    with pytest.raises(SettingsError, match=r"CREDGRAPH_DATA_DIR=.*a-file is a file, not a folder"):
        make_settings(blocker / "data")
    # and a store given such a folder all the same says so before it starts
    settings = make_settings(tmp_path / "fine").model_copy(update={"data_dir": blocker / "data"})
    with pytest.raises(EmbeddedStoreError, match=r"not writable.*CREDGRAPH_DATA_DIR"):
        EmbeddedStore(settings).start()


def _jvm_arguments(data_dir: Path) -> list[str]:
    state = (data_dir / "store.json").read_text()
    pid = int(state.split('"pid": ')[1].split(",")[0])
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


@pytest.mark.parametrize(
    ("collector", "page_cache", "flags"),
    [
        ("latency", None, {"-XX:+UseZGC"}),
        ("throughput", "300m", {"-XX:+UseParallelGC", "-Darcadedb.maxPageRAM=300"}),
    ],
)
def test_the_store_runs_the_chosen_collector_and_page_cache(
    tmp_path: Path, collector: str, page_cache: str | None, flags: set[str]
) -> None:
    settings = make_settings(tmp_path, embedded_gc=collector, embedded_page_cache=page_cache)
    with open_store(settings) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 0}]
        arguments = _jvm_arguments(tmp_path)
    assert flags <= set(arguments)
    assert (page_cache is None) == (not any("maxPageRAM" in a for a in arguments))


@pytest.mark.parametrize("chosen", [None, 'a "quoted" pass\\word # not a comment'])
def test_the_store_password_is_never_on_the_command_line(
    tmp_path: Path, chosen: str | None
) -> None:
    # any user of the machine can read a process's arguments (ps, /proc/<pid>/cmdline)
    if chosen is not None:  # one written by hand into the password file, quotes and all
        (tmp_path / "store-password").write_text(chosen + "\n")
    with open_store(make_settings(tmp_path)) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 0}]  # the password let the driver in
        arguments = "\0".join(_jvm_arguments(tmp_path))
        leftovers = list((tmp_path / "arcadedb").glob("*.args"))
        secrets = list((tmp_path / "arcadedb").glob("root-password"))
    password = (tmp_path / "store-password").read_text().strip()
    assert password not in arguments
    assert "rootPassword=" not in arguments  # only the path of a file that holds it
    assert leftovers == [] and secrets == []  # the file is gone once the store answers


def test_a_store_records_an_aot_cache_once_and_later_starts_use_it(tmp_path: Path) -> None:
    caches = tmp_path / "aot"
    first = make_settings(tmp_path / "one", embedded_aot_cache=str(caches))
    with open_store(first) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 0}]
        assert any(a.startswith("-XX:AOTCacheOutput=") for a in _jvm_arguments(tmp_path / "one"))
        meanwhile = make_settings(tmp_path / "two", embedded_aot_cache=str(caches))
        with open_store(meanwhile) as other:  # one store records at a time; the others wait
            assert other.read(COUNT_MARKERS) == [{"c": 0}]
            assert not any("AOTCache" in a for a in _jvm_arguments(tmp_path / "two"))
    recorded = list(caches.glob("*.aot"))
    assert len(recorded) == 1 and recorded[0].stat().st_size > 0
    # the recording's child JVM prints its parent's options into the store's log
    log = tmp_path / "one" / "arcadedb.log"
    password = (tmp_path / "one" / "store-password").read_text().strip()
    assert "JAVA_TOOL_OPTIONS" in log.read_text() and password not in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert sorted(p.name for p in caches.iterdir()) == [recorded[0].name]  # no lock, no temp
    with open_store(first) as store:
        assert store.read(COUNT_MARKERS) == [{"c": 0}]
        assert f"-XX:AOTCache={recorded[0]}" in _jvm_arguments(tmp_path / "one")
    log = (tmp_path / "one" / "arcadedb.log").read_text(encoding="utf-8", errors="replace")
    assert "Unable to use AOT cache" not in log
    other_collector = make_settings(
        tmp_path / "one", embedded_aot_cache=str(caches), embedded_gc="throughput"
    )
    with open_store(other_collector) as store:  # a cache fits only the options that made it
        assert any(a.startswith("-XX:AOTCacheOutput=") for a in _jvm_arguments(tmp_path / "one"))


def test_aot_cache_setting_names_a_folder_or_turns_it_off(tmp_path: Path) -> None:
    assert load_settings(embedded_aot_cache="off").aot_cache_dir() is None
    assert load_settings(embedded_aot_cache=str(tmp_path)).aot_cache_dir() == tmp_path
    auto = load_settings(embedded_aot_cache="auto").aot_cache_dir()
    assert auto is not None and auto.parts[-2:] == ("credgraph", "aot")


def test_a_page_cache_as_large_as_the_heap_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"CREDGRAPH_EMBEDDED_PAGE_CACHE \(2g\) must be smaller than CREDGRAPH_EMBEDDED_HEAP",
    ):
        load_settings(embedded_heap="2g", embedded_page_cache="2g")
    assert load_settings(embedded_heap="2g", embedded_page_cache="1536m").embedded_page_cache


@pytest.mark.parametrize(
    ("setting", "secret", "said"),
    [
        ("person_key", "changeme", "is a well-known default; choose a real secret"),
        ("person_key", "neo4j", "is a well-known default; choose a real secret"),
        ("person_key", "short-key", "must be at least 32 characters"),
        ("neo4j_password", "Neo4j", "is a well-known default; choose a real secret"),
    ],
)
def test_settings_refuse_weak_secrets(setting: str, secret: str, said: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**{setting: secret})
    # the setting named as it is set, and the secret itself never repeated
    assert str(refused.value) == f"CREDGRAPH_{setting.upper()}: {said}"


def test_no_uri_means_embedded() -> None:
    settings = load_settings(neo4j_uri=None)
    assert settings.embedded and settings.database_name == "credgraph"
    assert not load_settings(neo4j_uri="bolt://db:7687").embedded


def test_auto_picks_the_collector_of_the_work_and_a_chosen_one_stays() -> None:
    auto = load_settings()
    assert auto.embedded_gc is Collector.AUTO
    assert with_collector(auto, Collector.THROUGHPUT).embedded_gc is Collector.THROUGHPUT
    chosen = load_settings(embedded_gc="latency")
    assert with_collector(chosen, Collector.THROUGHPUT).embedded_gc is Collector.LATENCY


READ_URL = "LOAD CSV FROM $url AS row RETURN row"


@pytest.mark.parametrize("kind", ["file", "remote"])
def test_the_store_reads_no_file_and_no_url(
    graph: GraphStore, settings: Settings, tmp_path: Path, kind: str
) -> None:
    # the store may read its own password file: a statement must not be able to
    secret = tmp_path / "secret.csv"
    secret.write_text("not for the store's answers\n")
    url = secret.as_uri() if kind == "file" else f"http://127.0.0.1:{settings.embedded_http_port}/"
    with pytest.raises(StoreError, match="URLs are disabled"):
        graph.read(READ_URL, {"url": url})


def _wait_until_stopped(pid: int) -> None:
    """kill(SIGSTOP) returns before every thread has stopped; a JVM thread still running could
    answer a ping sent in that window (it did once, on a loaded CI machine)."""
    deadline = time.monotonic() + 10
    tasks = Path(f"/proc/{pid}/task")
    while time.monotonic() < deadline:
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that has just exited
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop within 10 s")


def test_a_frozen_store_is_not_ready_within_the_ping_timeout(
    embedded: EmbeddedStore, graph: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/readyz asks `ping`: against a store that is frozen rather than gone the driver waited out
    its whole acquisition timeout (30 s) before saying no, holding the probe as long."""
    assert graph.ping()
    answered: list[bool] = []  # what the round trip itself said, once it ends
    round_trip = graph._answers
    monkeypatch.setattr(graph, "_answers", lambda: answered.append(round_trip()) or answered[-1])
    pid = int(json.loads(embedded.state_file.read_text(encoding="utf-8"))["pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        _wait_until_stopped(pid)
        ready = graph.ping(timeout_s=1.0)
        # the ping gave up while its round trip still waited on the frozen store: not timed,
        # the driver's own wait (30 s) had not ended when the ping said no
        still_waiting = answered == []
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ready is False and still_waiting
    assert graph.ping() is True


def test_the_graph_files_are_for_the_store_s_user_alone(embedded: EmbeddedStore) -> None:
    # the store writes its files 0644: without this folder's mode any local user read the graph
    assert stat.S_IMODE(embedded.server_dir.stat().st_mode) == 0o700


def test_processes_starting_together_share_one_store(tmp_path: Path) -> None:
    """Two of five commands run at once with no store up failed: each found the ports taken by
    the other's server. They now take turns; the first starts it, the rest attach."""
    settings = make_settings(tmp_path)
    stores = [EmbeddedStore(settings) for _ in range(3)]
    errors: list[BaseException] = []

    def start(store: EmbeddedStore) -> None:
        try:
            store.start()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        assert errors == []
        assert sum(store.owns_process for store in stores) == 1
        assert len({store.address.bolt_uri for store in stores}) == 1
    finally:
        for store in stores:
            store.stop()
