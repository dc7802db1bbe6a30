"""The compact snapshot (queries/snapshot.py): what a whole-graph read and a neighbourhood read
hold, on a small registry loaded with the real loader."""

from __future__ import annotations

import gc
from pathlib import Path

import credgraph.queries.snapshot as snapshot_module
import numpy as np
import pytest
from credgraph.graph.cycles import BULK_GC_THRESHOLD, rare_collections
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import RelationType
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.snapshot import (
    RELATION_CODE,
    RELATION_TYPES,
    read_neighbourhood,
    read_snapshot,
    relation_details,
    relation_weights,
)

from tests.test_contagion import AS_OF, Registry, firm, firm_key, person, person_key

DEFAULT = BUILTIN_PROFILES["default"]


@pytest.fixture
def small(graph: GraphStore, tmp_path: Path) -> GraphStore:
    """Firms 1-4, persons 11-13. 11 legal rep of 1 and 2; 12 director of 2, formerly of 3;
    firm 3 holds 40% of 4; 13 holds 4 without a stake; firm 1 guarantees firm 3. Records: a
    blacklist of 1, a revoked penalty of 2, a red list of 3 (positive: never a seed)."""
    reg = Registry(tmp_path / "small")
    for n in (1, 2, 3, 4):
        reg.firm(n)
    for n in (11, 12, 13):
        reg.person(n)
    reg.role(11, 1, "legal_representative")
    reg.role(11, 2, "legal_representative")
    reg.role(12, 2, "director")
    reg.role(12, 3, "director", "2010-01-01", "2020-01-01")
    reg.share(firm(3), 4, "0.4")
    reg.share(person(13), 4, "")
    reg.guarantee(1, 3)
    reg.record("K-1", firm(1), "blacklist", "2024-01-01")
    reg.record("K-2", firm(2), "admin_penalty", "2024-01-01")
    reg.change("K-2", "revoked", "2024-02-01")
    reg.record("K-3", firm(3), "red_list", "2024-01-01")
    reg.load(graph)
    return graph


def test_whole_graph_snapshot_holds_current_party_relations_and_counting_seeds(
    small: GraphStore,
) -> None:
    snap = read_snapshot(small, AS_OF, profile=DEFAULT)
    assert snap.node_count == 7
    assert snap.relation_count == 6  # the former directorship is left out
    assert list(snap.labels) == [0, 0, 0, 0, 1, 1, 1]  # legal persons first
    assert list(snap.uids[:4]) == sorted(snap.uids[:4])
    assert [str(u) for u in snap.seeds.uid] == ["TEST:K-1"] or list(snap.seeds.uid) == ["K-1"]
    assert snap.seeds.subject.tolist() == [snap.index_of(firm_key(1))]
    assert snap.stats.party_rows == 7 and snap.stats.relation_rows == 6
    assert snap.stats.reads == 3  # the parties of each label with their relations, the records
    # as of 2015 the directorship of firm 3 was current
    assert read_snapshot(small, AS_OF.replace(year=2015), profile=DEFAULT).relation_count == 7


def test_whole_graph_relations_join_their_ends_whatever_the_chunks(small: GraphStore) -> None:
    snap = read_snapshot(small, AS_OF, profile=DEFAULT)
    relations = {
        (snap.key(int(a)), snap.key(int(b)), RELATION_TYPES[int(t)])
        for a, b, t in zip(snap.rel_src, snap.rel_dst, snap.rel_type, strict=True)
    }
    assert relations == {
        (person_key(11), firm_key(1), RelationType.LEGAL_REPRESENTATIVE_OF),
        (person_key(11), firm_key(2), RelationType.LEGAL_REPRESENTATIVE_OF),
        (person_key(12), firm_key(2), RelationType.EXECUTIVE_OF),
        (firm_key(3), firm_key(4), RelationType.SHAREHOLDER_OF),
        (person_key(13), firm_key(4), RelationType.SHAREHOLDER_OF),
        (firm_key(1), firm_key(3), RelationType.GUARANTEES),
    }
    # a row at a time: every chunk's elementIds and relations joined across the chunks
    one_by_one = read_snapshot(small, AS_OF, profile=DEFAULT, chunk=1)
    for field in ("uids", "labels", "rel_src", "rel_dst", "rel_type", "scored"):
        assert np.array_equal(getattr(one_by_one, field), getattr(snap, field)), field
    assert np.array_equal(one_by_one.rel_stake, snap.rel_stake, equal_nan=True)
    assert one_by_one.seeds.subject.tolist() == snap.seeds.subject.tolist()


def test_the_cycle_collector_runs_rarely_during_bulk_work_and_is_restored() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_collections():
        assert gc.get_threshold() == (BULK_GC_THRESHOLD, *before[1:])
        raise RuntimeError("the block fails")
    assert gc.get_threshold() == before


def test_a_whole_graph_read_restores_the_cycle_collector(
    small: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    fold = snapshot_module._fold_parties

    def watched(rows: list[tuple[object, ...]]) -> object:
        seen.append(gc.get_threshold())
        return fold(rows)

    monkeypatch.setattr(snapshot_module, "_fold_parties", watched)
    read_snapshot(small, AS_OF, profile=DEFAULT)
    assert seen and all(t[0] == BULK_GC_THRESHOLD for t in seen)
    assert gc.get_threshold() == before


def test_adjacency_is_undirected_and_canonical(small: GraphStore) -> None:
    snap = read_snapshot(small, AS_OF, profile=DEFAULT)
    indptr, indices, relation = snap.adjacency()
    assert indptr[-1] == 2 * snap.relation_count
    pairs = {
        (int(a), int(indices[e]))
        for a in range(snap.node_count)
        for e in range(indptr[a], indptr[a + 1])
    }
    assert all((b, a) in pairs for a, b in pairs)
    for a in range(snap.node_count):
        entries = relation[indptr[a] : indptr[a + 1]]
        assert list(entries) == sorted(entries)


def test_relation_weights_use_stake_and_default(small: GraphStore) -> None:
    snap = read_snapshot(small, AS_OF, profile=DEFAULT)
    weights = relation_weights(snap, DEFAULT)
    shares = np.flatnonzero(snap.rel_type == RELATION_CODE[RelationType.SHAREHOLDER_OF])
    by_holder = {snap.key(int(snap.rel_src[i])): float(weights[i]) for i in shares}
    assert by_holder[firm_key(3)] == pytest.approx(0.4)
    assert by_holder[person_key(13)] == pytest.approx(DEFAULT.missing_stake)
    unweighted = relation_weights(snap, DEFAULT.model_copy(update={"stake_weighted": False}))
    assert set(unweighted[shares].tolist()) == {1.0}


def test_neighbourhood_holds_parties_within_depth(small: GraphStore) -> None:
    one = read_neighbourhood(small, [person_key(13)], AS_OF, depth=1, profile=DEFAULT)
    assert {one.key(i) for i in range(one.node_count)} == {person_key(13), firm_key(4)}
    two = read_neighbourhood(small, [firm_key(1)], AS_OF, depth=2, profile=DEFAULT)
    reached = {two.key(i): int(two.distance[i]) for i in range(two.node_count)}  # type: ignore[index]
    assert reached == {
        firm_key(1): 0,
        person_key(11): 1,
        firm_key(3): 1,
        firm_key(2): 2,
        firm_key(4): 2,
    }
    assert [s.record["record_id"] for s in two.seeds.states or ()] == ["K-1"]
    assert two.stats.reads == 3  # one per level for both labels, one for the records


def test_only_the_centres_relations_come_with_every_property(small: GraphStore) -> None:
    two = read_neighbourhood(small, [firm_key(1)], AS_OF, depth=2, profile=DEFAULT)
    centre = two.index_of(firm_key(1))
    own = {i for i in range(two.relation_count) if centre in (two.rel_src[i], two.rel_dst[i])}
    props = two.relation_props or ()
    assert len(own) == 2 and all(props[i] and props[i]["source"] for i in own)  # type: ignore[index]
    assert [i for i, p in enumerate(props) if p is None] == sorted(
        set(range(two.relation_count)) - own
    )
    details = relation_details(small, two, range(two.relation_count))
    assert sorted(details) == list(range(two.relation_count))
    assert all(p["source"] and p["key"] for p in details.values())
    stakes = [details[i].get("stake") for i in range(two.relation_count)]
    assert stakes.count(0.4) == 1  # firm 3 holds 40% of firm 4
