"""Warming (queries/warmup.py) on the real embedded store: which parties are hubs, what warming
keeps and spares, the sanction subjects, when the warmer warms, and an API worker warming its
own."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError
from credgraph.queries.caches import HubCache, PerVersion
from credgraph.queries.ledger import data_version
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.risk import risk_report
from credgraph.queries.snapshot import SanctionSubjects
from credgraph.queries.traversal import linked_parties
from credgraph.queries.warmup import Hub, Warmer, find_hubs, warm_hubs, warm_subjects

from tests.api_support import ApiEnv, cache_hits, metric, start_api_env
from tests.counting import CountingStore
from tests.investigations import MiniRegistry
from tests.registries import FIRM_A, FIRM_B
from tests.test_api import PAGE

AS_OF = date(2025, 6, 30)
DEFAULT = BUILTIN_PROFILES["default"]


def two_hubs() -> MiniRegistry:
    """H guarantees L0..L29 and G guarantees L0..L19; L0 also guarantees X, which is
    blacklisted. H has 30 relations, G 20, L0 3, the other leaves 1 or 2, X 1."""
    reg = MiniRegistry()
    for name in ("H", "G", "X"):
        reg.firm(name)
    for i in range(30):
        reg.firm(f"L{i}")
        reg.relate("H", f"L{i}")
    for i in range(20):
        reg.relate("G", f"L{i}")
    reg.relate("L0", "X")
    reg.record("BX-1", "X")
    return reg


@pytest.fixture
def hubs_graph(graph: GraphStore, tmp_path: Path) -> tuple[GraphStore, MiniRegistry]:
    reg = two_hubs()
    reg.load(graph, tmp_path / "first")
    return graph, reg


def test_hubs_are_the_parties_with_many_relations_largest_first(
    hubs_graph: tuple[GraphStore, MiniRegistry],
) -> None:
    graph, reg = hubs_graph
    assert find_hubs(graph, 3) == [
        Hub(reg.key("H"), 30),
        Hub(reg.key("G"), 20),
        Hub(reg.key("L0"), 3),
    ]
    assert find_hubs(graph, 21) == [Hub(reg.key("H"), 30)]
    assert find_hubs(graph, 31) == []


def _reads(counting: CountingStore, operation: str) -> int:
    return counting.operations().count(operation)


def test_warmed_hubs_spare_walks_and_reports_their_reads(
    hubs_graph: tuple[GraphStore, MiniRegistry],
) -> None:
    graph, reg = hubs_graph
    token = data_version(graph).token()
    cache = HubCache(1000, least=10)
    found = find_hubs(graph, 10)
    counting = CountingStore(graph)
    warmed = warm_hubs(counting, cache, found, data_token=token, as_of=AS_OF)
    # H and G, under the walks' read and the risk walk's: 2 x (30 + 20) relations
    assert (warmed.hubs, warmed.relations, len(cache)) == (2, 100, 4)
    # both hubs in one batch: a level read and a risk level read
    assert counting.operations() == ["linked_parties", "risk.neighbourhood"]
    # warming again reads nothing: every hub is kept under both reads
    warm_hubs(counting, cache, found, data_token=token, as_of=AS_OF)
    assert len(counting.reads) == 2
    counting = CountingStore(graph)
    bound = cache.bound(counting, token)
    leaf = reg.key("L25")  # linked to H only

    # a walk from a leaf reads its own relation; H's 30 come from the cache, as H's walk would
    walk = linked_parties(counting, leaf, depth=2, as_of=AS_OF, hubs=bound)
    assert walk == linked_parties(graph, leaf, depth=2, as_of=AS_OF)
    assert _reads(counting, "linked_parties") == 1 and walk.relations_read == [1, 30]

    # a report: the centre, then H from the cache, then L0..L29 and the records: one read fewer
    report = risk_report(counting, leaf, as_of=AS_OF, profile=DEFAULT, hubs=cache)
    alone = CountingStore(graph)
    assert report == risk_report(alone, leaf, as_of=AS_OF, profile=DEFAULT)
    assert report.contagion.score > 0  # X, three hops away through H and L0
    assert _reads(counting, "risk.neighbourhood") == _reads(alone, "risk.neighbourhood") - 1

    # another date is another read: nothing warmed answers it
    later = linked_parties(counting, leaf, depth=2, as_of=AS_OF + timedelta(days=1), hubs=bound)
    assert _reads(counting, "linked_parties") == 3 and later.relations_read == [1, 30]


def test_reports_name_only_the_sanction_subjects_they_are_given(
    hubs_graph: tuple[GraphStore, MiniRegistry],
) -> None:
    graph, reg = hubs_graph
    token = data_version(graph).token()
    subjects = PerVersion[SanctionSubjects]()
    leaf = reg.key("L25")  # X, the only subject, is three hops away through H and L0
    alone = risk_report(graph, leaf, as_of=AS_OF, profile=DEFAULT)
    assert warm_subjects(graph, subjects, data_token=token) == 1
    assert risk_report(graph, leaf, as_of=AS_OF, profile=DEFAULT, subjects=subjects) == alone
    assert alone.contagion.score > 0
    # the set is what the records read trusts: one that leaves X out misses its blacklisting
    subjects.put(graph.database, token, SanctionSubjects({}, {}))
    blind = risk_report(graph, leaf, as_of=AS_OF, profile=DEFAULT, subjects=subjects)
    assert blind.contagion.score == 0
    # and one kept for another data version is not used
    subjects.put(graph.database, "another version", SanctionSubjects({}, {}))
    assert risk_report(graph, leaf, as_of=AS_OF, profile=DEFAULT, subjects=subjects) == alone


def test_warming_takes_the_largest_hubs_that_fit_in_the_cache(
    hubs_graph: tuple[GraphStore, MiniRegistry],
) -> None:
    graph, _ = hubs_graph
    token = data_version(graph).token()
    found = find_hubs(graph, 3)  # H 30, G 20, L0 3; each warmed under two reads
    # room for 50 of each read: H and G; for 30: H, and L0 would not fit beside it; for 25: G
    # (H does not fit) and L0; for 2: none
    for size, hubs, relations in ((100, 2, 100), (60, 1, 60), (50, 2, 46), (5, 0, 0)):
        cache = HubCache(size, least=3)
        warmed = warm_hubs(graph, cache, found, data_token=token, as_of=AS_OF)
        assert (warmed.hubs, warmed.relations, len(cache)) == (hubs, relations, 2 * hubs), size


def test_the_warmer_warms_once_the_data_version_and_the_date_hold_still(
    hubs_graph: tuple[GraphStore, MiniRegistry], tmp_path: Path
) -> None:
    graph, reg = hubs_graph
    counting = CountingStore(graph)
    day = [AS_OF]
    hubs, subjects = HubCache(1000, least=10), PerVersion[SanctionSubjects]()
    warmer = Warmer(counting, 3600, hubs=hubs, subjects=subjects, today=lambda: day[0])

    assert warmer.look() is None  # the first look: nothing seen before to compare with
    warmed = warmer.look()
    assert warmed is not None and warmed.hubs is not None and warmed.hubs.hubs == 2
    assert warmed.subjects == 1 and _reads(counting, "hubs.find") == 2
    token = data_version(graph).token()
    kept = subjects.get(graph.database, token)
    assert kept is not None and kept.holds(reg.key("X")) and not kept.holds(reg.key("L0"))
    assert warmer.look() is None  # already warm for this version and day

    # a load moves the data version: the subjects kept are not found for it; once it holds
    # still both are warmed again, with the hubs known
    extra = MiniRegistry()
    extra.firm("Y")
    extra.record("BY-1", "Y")
    extra.load(graph, tmp_path / "second")
    later = data_version(graph).token()
    assert warmer.look() is None and subjects.get(graph.database, later) is None
    again = warmer.look()
    assert again is not None and again.hubs is not None and again.hubs.hubs == 2
    assert again.subjects == 2 and _reads(counting, "hubs.find") == 2
    assert len(hubs) == 8  # both versions' hubs, under both reads

    # a new day: its reads are other reads, and the hubs are found again; the subjects, which
    # depend on the data version only, are not read again
    day[0] = AS_OF + timedelta(days=1)
    assert warmer.look() is None
    newday = warmer.look()
    assert newday is not None and newday.subjects is None and _reads(counting, "hubs.find") == 4


def test_sanction_subjects_read_under_a_version_that_moved_are_not_kept(
    hubs_graph: tuple[GraphStore, MiniRegistry],
) -> None:
    graph, _ = hubs_graph
    subjects = PerVersion[SanctionSubjects]()
    assert warm_subjects(graph, subjects, data_token="an older version") is None
    assert subjects.get(graph.database, "an older version") is None
    token = data_version(graph).token()
    assert warm_subjects(graph, subjects, data_token=token) == 1
    kept = subjects.get(graph.database, token)
    assert kept is not None and len(kept) == 1
    # out of the cycle collector's walks, however many subjects a registry has
    assert not gc.is_tracked(kept.legal) and not gc.is_tracked(kept.natural)
    assert subjects.get("another database", token) is None


def test_a_warmer_that_cannot_read_tells_and_keeps_looking(graph: GraphStore) -> None:
    missing = GraphStore(graph.driver, "no-such-database", 5.0, backend=graph.backend)
    failures: list[Exception] = []
    failed = threading.Event()

    def on_failed(error: Exception) -> None:
        failures.append(error)
        if len(failures) >= 2:
            failed.set()

    warmer = Warmer(missing, 0.05, hubs=HubCache(1000), on_failed=on_failed)
    warmer.start()
    try:
        assert failed.wait(30), "the warmer stopped looking after a failure"
    finally:
        warmer.stop()
    # each look told the store's own refusal, naming the database it could not open
    assert len(failures) >= 2
    for failure in failures:
        assert isinstance(failure, StoreError), failure
        assert failure.code == "Neo.ClientError.Database.DatabaseNotFound"
        assert str(failure).startswith("Cannot open database: no-such-database")


@pytest.fixture
def warming_api(embedded: Any, driver: Any, settings: Settings, tmp_path: Path) -> Iterator[ApiEnv]:
    yield from start_api_env(
        embedded, driver, settings, tmp_path, api_warmup_s=0.1, api_hub_min_relations=1
    )


def test_an_api_worker_warms_its_hub_cache_and_sanction_subjects(warming_api: ApiEnv) -> None:
    env = warming_api
    deadline = time.monotonic() + 60
    while metric(env, 'credgraph_warmups_total{outcome="warmed"}') < 1:
        assert time.monotonic() < deadline, "no warming within 60 s"
        time.sleep(0.1)
    services = env.served.app.state.services
    assert len(services.hubs) > 0 and services.hubs.relations > 0
    subjects = services.subjects.get(env.store.database, data_version(env.store).token())
    assert subjects is not None and len(subjects) > 0
    # what the worker warmed is what its walks read by default: a walk finds it kept
    hits = cache_hits(env, "hubs")
    assert env.gql(PAGE, id=FIRM_A, after=None)["data"]["linkedParties"]["totalCount"] >= 3
    assert cache_hits(env, "hubs") > hits
    # and so does a screen's risk walk
    hits = cache_hits(env, "hubs")
    screen = "query ($id: String!) { screen(ids: [$id], purpose: LICENSING) { decision } }"
    assert "errors" not in env.gql(screen, role=ApiRole.APPROVAL, purpose=None, id=FIRM_B)
    assert cache_hits(env, "hubs") > hits
