"""Linked parties on the real store: named graphs worked out by hand, pages, and random graphs
checked against networkx shortest-path lengths over the filtered multigraph."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries import writes
from credgraph.queries.caches import HUB_RELATIONS, HubCache, Hubs
from credgraph.queries.lookup import ArgumentError, PartyKey
from credgraph.queries.paths import shortest_paths
from credgraph.queries.risk_status import to_jsonable
from credgraph.queries.traversal import (
    Hop,
    LinkedCache,
    LinkedResult,
    linked_parties,
    page,
    relation_filter,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.counting import CountingStore
from tests.investigations import MiniRegistry, cli_runner, star_registry

AS_OF = date(2025, 6, 30)


def _depths(result: LinkedResult) -> dict[PartyKey, int]:
    return {item.key: item.depth for item in result.items}


def _chain() -> MiniRegistry:
    """A -holds 60%-> B <-legal rep- P -legal rep-> C -guarantees-> D."""
    reg = MiniRegistry()
    for name in ("A", "B", "C", "D"):
        reg.firm(name)
    reg.person("P")
    reg.share("A", "B", 0.6, since="2015-01-01")
    reg.role("P", "B", "legal_representative", since="2016-01-01")
    reg.role("P", "C", "legal_representative", since="2017-01-01")
    reg.relate("C", "D", "guarantees", since="2018-01-01")
    return reg


def test_a_chain_is_walked_one_level_per_hop(graph: GraphStore, tmp_path: Path) -> None:
    reg = _chain()
    reg.load(graph, tmp_path)
    a, b, c, d, p = (reg.key(n) for n in "ABCDP")

    for depth, expected in [
        (1, {b: 1}),
        (2, {b: 1, p: 2}),
        (3, {b: 1, p: 2, c: 3}),
        (4, {b: 1, p: 2, c: 3, d: 4}),
    ]:
        result = linked_parties(graph, a, depth=depth, as_of=AS_OF)
        assert _depths(result) == expected
        assert (result.explored_depth, result.truncated) == (depth, False)

    result = linked_parties(graph, a, depth=4, as_of=AS_OF)
    by_key = {item.key: item for item in result.items}
    # each hop keeps the relation's own direction and its properties
    assert (by_key[b].via.type, by_key[b].via.from_key, by_key[b].via.to_key) == (
        RelationType.SHAREHOLDER_OF,
        a,
        b,
    )
    assert by_key[b].via.properties["stake"] == 0.6
    assert by_key[p].parent == b and by_key[p].via.from_key == p
    assert by_key[p].via.properties["role"] == "legal_representative"
    assert by_key[p].via.properties["source_record"] == "r0"
    assert by_key[p].via.properties["source_row"].startswith("roles:")
    assert by_key[d].via.type is RelationType.GUARANTEES and by_key[d].parent == c
    # from the middle, both ways; the walk stops when nothing new is reached
    middle = linked_parties(graph, p, depth=4, as_of=AS_OF)
    assert _depths(middle) == {b: 1, c: 1, a: 2, d: 2}
    assert middle.explored_depth == 3
    # only the chosen relation types
    firms_only = linked_parties(
        graph, a, depth=4, as_of=AS_OF, relation_types=[RelationType.SHAREHOLDER_OF]
    )
    assert _depths(firms_only) == {b: 1}


def test_a_walk_cache_walks_once_per_data_version(graph: GraphStore, tmp_path: Path) -> None:
    reg = _chain()
    reg.load(graph, tmp_path)
    a, b, p = reg.key("A"), reg.key("B"), reg.key("P")
    cache = LinkedCache(100)  # relations
    counting = CountingStore(graph)
    now = relation_filter(as_of=AS_OF)
    first = cache.walk(counting, "v1", a, 2, now)
    assert first == linked_parties(graph, a, depth=2, as_of=AS_OF)
    assert _depths(first) == {b: 1, p: 2}
    reads = len(counting.reads)
    assert reads and set(counting.operations()) == {"linked_parties"}
    assert cache.walk(counting, "v1", a, 2, now) is first and len(counting.reads) == reads
    # the relations among the farthest parties: a walk that read them answers for one that does
    # not ask for them, not the other way round
    closed = cache.walk(counting, "v1", a, 2, now, close_relations=True)
    assert "linked_parties.close" in counting.operations() and closed.relations
    reads = len(counting.reads)
    assert cache.walk(counting, "v1", a, 2, now, close_relations=True) is closed
    assert len(counting.reads) == reads
    # another date, depth or data version is another walk, read again
    for version, depth, chosen, expected in [
        ("v1", 2, relation_filter(as_of=date(2015, 6, 30)), {b: 1}),  # before P's role
        ("v1", 1, now, {b: 1}),
        ("v2", 2, now, {b: 1, p: 2}),
    ]:
        reads = len(counting.reads)
        assert _depths(cache.walk(counting, version, a, depth, chosen)) == expected
        assert len(counting.reads) > reads
    # a walk holding more relations than the cache may is not kept, nor is any with 0
    for nothing in (LinkedCache(0), LinkedCache(len(closed.items) + len(closed.relations) - 1)):
        for _ in range(2):
            reads = len(counting.reads)
            nothing.walk(counting, "v1", a, 2, now, close_relations=True)
            assert len(counting.reads) > reads


def test_depth_and_arguments_are_checked_by_name(graph: GraphStore, tmp_path: Path) -> None:
    reg = _chain()
    reg.load(graph, tmp_path)
    a = reg.key("A")
    for depth in (0, 5, -1):
        with pytest.raises(ArgumentError, match="depth") as caught:
            linked_parties(graph, a, depth=depth)
        assert caught.value.argument == "depth"
    with pytest.raises(ArgumentError, match="relation_types"):
        linked_parties(graph, a, depth=1, relation_types=[RelationType.SUBJECT_OF])
    with pytest.raises(ArgumentError, match="follow_same_as"):
        linked_parties(graph, a, depth=1, relation_types=[RelationType.POSSIBLY_SAME_AS])
    with pytest.raises(ArgumentError, match="relation_types"):
        linked_parties(graph, a, depth=1, relation_types=[])
    with pytest.raises(ArgumentError, match="min_stake"):
        linked_parties(graph, a, depth=1, min_stake=1.5)
    with pytest.raises(ArgumentError, match="cap"):
        linked_parties(graph, a, depth=1, cap=0)


def test_a_hub_is_cut_at_the_cap_and_the_answer_says_so(graph: GraphStore, tmp_path: Path) -> None:
    reg = star_registry(30)
    reg.load(graph, tmp_path)
    hub, leaf, x = reg.key("H"), reg.key("L0"), reg.key("X")
    leaves = {reg.key(f"L{i}") for i in range(30)}

    full = linked_parties(graph, hub, depth=2, as_of=AS_OF)
    assert _depths(full) == {**dict.fromkeys(leaves, 1), x: 2}
    assert not full.truncated and full.relations_read == [30, 31]

    capped = linked_parties(graph, hub, depth=2, as_of=AS_OF, cap=10)
    assert capped.truncated and capped.explored_depth == 1
    assert len(capped.items) == 10 and set(_depths(capped)) <= leaves
    assert all(item.depth == 1 for item in capped.items)

    # from a leaf: level 1 reads 2 relations, level 2 meets the hub's 30 (and X's 1): cut at 12
    from_leaf = linked_parties(graph, leaf, depth=3, as_of=AS_OF, cap=12)
    assert from_leaf.truncated and from_leaf.explored_depth == 2
    assert {k: d for k, d in _depths(from_leaf).items() if d == 1} == {hub: 1, x: 1}
    second = [item for item in from_leaf.items if item.depth == 2]
    assert 10 <= len(second) <= 12  # two of the 12 relations read may lead back to L0
    assert from_leaf.relations_read == [2, 12]


def _reads_of(counting: CountingStore, work: Any) -> tuple[Any, int]:
    """What `work()` gives, and how many store reads it made."""
    before = len(counting.reads)
    answer = work()
    return answer, len(counting.reads) - before


def test_a_hub_cache_answers_for_the_hubs_it_keeps(graph: GraphStore, tmp_path: Path) -> None:
    reg = star_registry(30)
    reg.load(graph, tmp_path)
    hub, x = reg.key("H"), reg.key("X")
    leaves = [reg.key(f"L{i}") for i in range(30)]
    hubs = HubCache(1000, least=10)  # H has 30 relations, L0 2, every other party 1
    counting = CountingStore(graph)
    now = hubs.bound(counting, "v1")

    def walk(root: PartyKey, **options: Any) -> LinkedResult:
        return linked_parties(counting, root, depth=2, as_of=AS_OF, **options)

    # the first walk through H reads it and keeps it; the answer is the walk without the cache
    first, reads = _reads_of(counting, lambda: walk(leaves[1], hubs=now))
    assert first == walk(leaves[1]) and reads == 2 and len(hubs) == 1
    assert first.relations_read == [1, 30]
    # a walk from another leaf reads only its own relation: H's come from the cache
    second, reads = _reads_of(counting, lambda: walk(leaves[2], hubs=now))
    assert second == walk(leaves[2]) and reads == 1 and second.relations_read == [1, 30]
    assert _depths(second) == {hub: 1, **{leaf: 2 for leaf in leaves if leaf != leaves[2]}}
    # so does a path search, with the same paths as without the cache
    cached, reads = _reads_of(
        counting, lambda: shortest_paths(counting, leaves[3], x, k=2, as_of=AS_OF, hubs=now)
    )
    read, all_reads = _reads_of(
        counting, lambda: shortest_paths(counting, leaves[3], x, k=2, as_of=AS_OF)
    )
    assert [path.parties for path in cached.paths] == [[leaves[3], hub, leaves[0], x]]
    assert cached.paths == read.paths and reads == all_reads - 1
    # another data version or another filter is another graph: H is read again
    for bound, as_of in ((hubs.bound(counting, "v2"), AS_OF), (now, date(2024, 1, 1))):
        _, reads = _reads_of(
            counting,
            lambda b=bound, d=as_of: linked_parties(counting, leaves[4], depth=2, as_of=d, hubs=b),
        )
        assert reads == 2
    # kept relations count against the cap as read ones do
    capped, reads = _reads_of(counting, lambda: walk(leaves[5], hubs=now, cap=12))
    assert capped.truncated and capped.relations_read == [1, 12] and reads == 1
    assert capped.truncated == walk(leaves[5], cap=12).truncated


def test_a_hub_cache_keeps_no_cut_read_and_no_small_party(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = star_registry(30)
    reg.load(graph, tmp_path)
    leaf = reg.key("L1")
    for hubs in (HubCache(1000, least=10), HubCache(0, least=10), HubCache(1000, least=31)):
        bound = hubs.bound(graph, "v1")
        linked_parties(graph, leaf, depth=2, as_of=AS_OF, cap=12, hubs=bound)  # H's read is cut
        assert len(hubs) == 0
        full = linked_parties(graph, leaf, depth=2, as_of=AS_OF, hubs=bound)
        assert not full.truncated
        kept = hubs.least <= 30 and hubs.size > 0
        assert len(hubs) == int(kept) and hubs.relations == (30 if kept else 0)
        # H's 30 relations, each a tuple of a dozen values: more than 30 small strings' worth
        assert (hubs.footprint() > 30 * 12 * 40) == kept and (hubs.footprint() == 0) != kept
    # the library's default and the API's setting name the same hub
    assert HubCache(1).least == HUB_RELATIONS
    assert Settings.model_fields["api_hub_min_relations"].default == HUB_RELATIONS


def _terms() -> MiniRegistry:
    """P was legal rep of A 2010..2018, then of B from 2019; Q is executive of A from mid-2020."""
    reg = MiniRegistry()
    reg.firm("A")
    reg.firm("B")
    reg.person("P")
    reg.person("Q")
    reg.role("P", "A", "legal_representative", since="2010-01-01", until="2018-01-01")
    reg.role("P", "B", "legal_representative", since="2019-01-01")
    reg.role("Q", "A", "director", since="2020-06-01")
    return reg


def test_former_relations_and_the_as_of_date(graph: GraphStore, tmp_path: Path) -> None:
    reg = _terms()
    reg.load(graph, tmp_path)
    a, b, p, q = (reg.key(n) for n in "ABPQ")

    def walk(as_of: date, depth: int = 1, former: bool = False) -> dict[PartyKey, int]:
        result = linked_parties(graph, a, depth=depth, as_of=as_of, include_former=former)
        return _depths(result)

    assert walk(date(2025, 1, 1)) == {q: 1}
    assert walk(date(2025, 1, 1), former=True) == {p: 1, q: 1}
    assert walk(date(2025, 1, 1), depth=2, former=True) == {p: 1, q: 1, b: 2}
    assert walk(date(2015, 1, 1)) == {p: 1}
    assert walk(date(2017, 12, 31)) == {p: 1}
    assert walk(date(2018, 1, 1)) == {}  # the term ended that day
    assert walk(date(2020, 6, 1)) == {q: 1}  # and this one began that day
    assert walk(date(2020, 5, 31)) == {}
    # a relation that had not begun does not count, even with former ones
    assert walk(date(2009, 1, 1), former=True) == {}


def test_minimum_stake_applies_to_shareholdings_only(graph: GraphStore, tmp_path: Path) -> None:
    reg = MiniRegistry()
    for name in ("A", "X", "Y", "Z"):
        reg.firm(name)
    reg.person("P")
    reg.share("X", "A", 0.6)
    reg.share("Y", "A", 0.1)
    reg.share("Z", "A", None)
    reg.role("P", "A", "legal_representative")
    reg.load(graph, tmp_path)
    a, x, y, z, p = (reg.key(n) for n in "AXYZP")

    def walk(min_stake: float) -> set[PartyKey]:
        return set(_depths(linked_parties(graph, a, depth=1, as_of=AS_OF, min_stake=min_stake)))

    assert walk(0.0) == {x, y, z, p}
    assert walk(0.1) == {x, y, p}
    assert walk(0.5) == {x, p}
    assert walk(1.0) == {p}


def test_possibly_same_as_is_followed_only_when_asked(graph: GraphStore, tmp_path: Path) -> None:
    reg = MiniRegistry()
    for name in ("A", "A2", "S"):
        reg.firm(name)
    reg.person("P")
    reg.role("P", "A", "legal_representative")
    reg.share("S", "A2", 0.9)
    reg.load(graph, tmp_path)
    a, a2, s, p = (reg.key(n) for n in ("A", "A2", "S", "P"))
    row = {"from_uid": a.uid, "to_uid": a2.uid, "key": "same-name:test", "props": {"score": 0.5}}
    graph.write(
        writes.POSSIBLY_SAME_AS_WRITES[Label.LEGAL_PERSON],
        {"rows": [row], "lineage": {"source": "test"}},
    )

    assert _depths(linked_parties(graph, a, depth=2, as_of=AS_OF)) == {p: 1}
    followed = linked_parties(graph, a, depth=2, as_of=AS_OF, follow_same_as=True)
    assert _depths(followed) == {p: 1, a2: 1, s: 2}
    link = next(item.via for item in followed.items if item.key == a2)
    assert link.type is RelationType.POSSIBLY_SAME_AS and link.properties["key"] == "same-name:test"


def test_pages_cover_every_party_exactly_once_in_order(graph: GraphStore, tmp_path: Path) -> None:
    reg = star_registry(23)
    reg.load(graph, tmp_path)
    result = linked_parties(graph, reg.key("H"), depth=2, as_of=AS_OF)
    assert len(result.items) == 24
    order = [(item.depth, item.key) for item in result.items]
    assert order == sorted(order)

    seen: list[PartyKey] = []
    after: str | None = None
    pages = 0
    while True:
        chunk = page(result, first=5, after=after)
        seen.extend(item.key for item in chunk.items)
        pages += 1
        assert chunk.total == 24
        if not chunk.has_next_page:
            break
        after = chunk.end_cursor
    assert pages == 5 and seen == [item.key for item in result.items]
    assert page(result, first=100).has_next_page is False

    other = linked_parties(graph, reg.key("L1"), depth=2, as_of=AS_OF)
    cursor = page(result, first=5).end_cursor
    with pytest.raises(ArgumentError, match="another query"):
        page(other, first=5, after=cursor)
    for bad in ("garbage", "eyJhIjoxfQ", ""):
        if bad:
            with pytest.raises(ArgumentError, match="after"):
                page(result, first=5, after=bad)
    for first in (0, 1001):
        with pytest.raises(ArgumentError, match="first"):
            page(result, first=first)


# --- random graphs against networkx ---------------------------------------------------------

FIRM_RELATIONS = ["guarantees", "supplies", "invests_in"]
FIRM_TYPES = {
    "guarantees": RelationType.GUARANTEES,
    "supplies": RelationType.SUPPLIES,
    "invests_in": RelationType.INVESTS_IN,
}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_graphs_agree_with_networkx(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    firms = [f"F{i}" for i in range(data.draw(st.integers(2, 8)))]
    persons = [f"P{i}" for i in range(data.draw(st.integers(1, 3)))]
    reg = MiniRegistry()
    for name in firms:
        reg.firm(name)
    for name in persons:
        reg.person(name)
    min_stake = data.draw(st.sampled_from([0.0, 0.3]))
    former = data.draw(st.booleans())
    types = set(
        data.draw(
            st.lists(
                st.sampled_from(
                    [
                        RelationType.SHAREHOLDER_OF,
                        RelationType.LEGAL_REPRESENTATIVE_OF,
                        RelationType.EXECUTIVE_OF,
                        *FIRM_TYPES.values(),
                    ]
                ),
                min_size=1,
                unique=True,
            )
        )
    )
    reference: nx.MultiGraph = nx.MultiGraph()
    reference.add_nodes_from(firms + persons)
    pair = st.tuples(st.sampled_from(firms + persons), st.sampled_from(firms))
    for holder, held in data.draw(st.lists(pair.filter(lambda p: p[0] != p[1]), max_size=8)):
        stake = data.draw(st.sampled_from([0.1, 0.5, None]))
        ended = data.draw(st.booleans())
        reg.share(holder, held, stake, until="2020-01-01" if ended else "")
        if (
            RelationType.SHAREHOLDER_OF in types
            and (stake or 0.0) >= min_stake
            and (former or not ended)
        ):
            reference.add_edge(holder, held, key=reg.shares[-1][-1])
    role = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
    for person, firm in data.draw(st.lists(role, max_size=6)):
        kind = data.draw(st.sampled_from(["legal_representative", "director"]))
        ended = data.draw(st.booleans())
        reg.role(person, firm, kind, until="2020-01-01" if ended else "")
        relation = (
            RelationType.LEGAL_REPRESENTATIVE_OF
            if kind == "legal_representative"
            else RelationType.EXECUTIVE_OF
        )
        if relation in types and (former or not ended):
            reference.add_edge(person, firm, key=reg.roles[-1][-1])
    link = st.tuples(st.sampled_from(firms), st.sampled_from(firms))
    for a, b in data.draw(st.lists(link.filter(lambda p: p[0] != p[1]), max_size=8)):
        kind = data.draw(st.sampled_from(FIRM_RELATIONS))
        reg.relate(a, b, kind)
        if FIRM_TYPES[kind] in types:
            reference.add_edge(a, b, key=reg.firm_relations[-1][-1])
    graph.write("MATCH (n) DETACH DELETE n")
    reg.load(graph, tmp_path_factory.mktemp("linked"))
    root = data.draw(st.sampled_from(firms + persons))
    depth = data.draw(st.integers(1, 4))

    def walk(hubs: Hubs | None = None) -> LinkedResult:
        return linked_parties(
            graph,
            reg.key(root),
            depth=depth,
            relation_types=sorted(types),
            as_of=AS_OF,
            include_former=former,
            min_stake=min_stake,
            close_relations=True,
            hubs=hubs,
        )

    result = walk()

    names = {reg.key(n): n for n in firms + persons}
    expected = nx.single_source_shortest_path_length(reference, root, cutoff=depth)
    del expected[root]
    assert {names[item.key]: item.depth for item in result.items} == expected
    assert not result.truncated
    for item in result.items:  # every hop is a real relation from a party one level nearer
        parent = names[item.parent]
        assert expected.get(parent, 0) == item.depth - 1
        assert reference.has_edge(parent, names[item.key])
        assert item.via.type in types
        assert {item.via.from_key, item.via.to_key} == {item.parent, item.key}
    # the relations are those of the subgraph induced by the answer's parties
    induced = reference.subgraph([root, *expected])
    assert sorted(
        (*sorted((names[h.from_key], names[h.to_key])), str(h.properties["source_record"]))
        for h in result.relations
    ) == sorted((*sorted((a, b)), key) for a, b, key in induced.edges(keys=True))
    # with every party a hub (one relation is enough), the first walk fills the cache and the
    # second answers from it: both as without it
    hubs = HubCache(10_000, least=1).bound(graph, "v1")
    assert walk(hubs) == result and walk(hubs) == result


# --- the CLI -------------------------------------------------------------------------------


def test_the_linked_verb(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    reg = _chain()
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    number = reg.ids["P"]

    purpose = ["--purpose", "investigation"]  # the walk reaches the person P
    answer = runner.invoke(app, ["linked", reg.ids["A"], "--depth", "2", "--json", *purpose])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert [(i["depth"], i["party"]["label"]) for i in document["items"]] == [
        (1, "LegalPerson"),
        (2, "NaturalPerson"),
    ]
    person = document["items"][1]["party"]
    assert person["id_masked"].count("*") >= 8 and number not in answer.output
    assert document["items"][1]["via"]["direction"] == "in"
    assert "also" not in document["items"][1]["via"]  # a path's notion: parallel relations
    assert (document["explored_depth"], document["truncated"]) == (2, False)

    # by the person's resident ID: the number is never printed back
    table = runner.invoke(
        app, ["linked", number, "--depth", "1", "--as-of", "2025-06-30", *purpose]
    )
    assert table.exit_code == 0, table.output
    assert number not in table.output, table.output
    assert "LEGAL_REPRESENTATIV" in table.output and "2 of 2 parties" in table.output

    paged = runner.invoke(
        app, ["linked", reg.ids["P"], "--depth", "2", "--first", "1", "--json", *purpose]
    )
    first = json.loads(paged.stdout)
    assert first["has_next_page"] and first["total"] == 4
    rest = runner.invoke(
        app,
        [
            "linked",
            number,
            "--depth",
            "2",
            "--first",
            "9",
            "--after",
            first["end_cursor"],
            *purpose,
        ],
    )
    assert rest.exit_code == 0, rest.output

    for args, option in [
        (["--depth", "5"], "--depth"),
        (["--types", "NOT_A_TYPE"], "--types"),
        (["--as-of", "yesterday"], "--as-of"),
        (["--min-stake", "2"], "--min-stake"),
        (["--after", "nonsense"], "--after"),
    ]:
        bad = runner.invoke(app, ["linked", reg.ids["A"], *args])
        assert bad.exit_code == 2 and option in bad.output, (args, bad.output)
    bad_id = runner.invoke(app, ["linked", number[:-1] + "0"])
    assert bad_id.exit_code == 2 and "ID" in bad_id.output and number[:-1] not in bad_id.output
    unknown = runner.invoke(app, ["linked", make_uscc("9", "1", "350203", "MA999999")])
    assert unknown.exit_code == 1 and "no party" in unknown.output


def test_the_neighbour_pattern_names_every_party_relation() -> None:
    from credgraph.queries.traversal import _CLOSE_RELATIONS, _NEIGHBOURS

    wanted = {t.value for t in PARTY_RELATIONS} | {RelationType.POSSIBLY_SAME_AS.value}
    statements = [_NEIGHBOURS, _CLOSE_RELATIONS]
    for query in [query for by_label in statements for query in by_label.values()]:
        pattern = query.split("-[r:", 1)[1].split("]-", 1)[0]
        assert {name.strip() for name in pattern.split("|")} == wanted


# --- the relations among the parties of an answer (the network, not the walk's tree) -------


@dataclass(frozen=True)
class Spec:
    """One relation as the test wrote it: what the reference graph is built from."""

    type: RelationType
    start: str
    end: str
    record: str  # its source record, which tells it apart
    since: str = ""
    until: str = ""
    stake: float | None = None

    def counts(self, as_of: date, former: bool, min_stake: float) -> bool:
        began = not self.since or date.fromisoformat(self.since) <= as_of
        ended = bool(self.until) and date.fromisoformat(self.until) <= as_of
        enough = self.type is not RelationType.SHAREHOLDER_OF or (self.stake or 0.0) >= min_stake
        return began and (former or not ended) and enough


@dataclass
class Network:
    """A MiniRegistry that also keeps every relation it writes, for the networkx reference."""

    reg: MiniRegistry = field(default_factory=MiniRegistry)
    specs: list[Spec] = field(default_factory=list)

    def guarantee(self, a: str, b: str, *, since: str = "", until: str = "") -> None:
        self.reg.relate(a, b, "guarantees", since=since, until=until)
        record = self.reg.firm_relations[-1][-1]
        self.specs.append(Spec(RelationType.GUARANTEES, a, b, record, since, until))

    def share(self, holder: str, firm: str, stake: float, *, until: str = "") -> None:
        self.reg.share(holder, firm, stake, until=until)
        record = self.reg.shares[-1][-1]
        self.specs.append(Spec(RelationType.SHAREHOLDER_OF, holder, firm, record, "", until, stake))

    def role(self, person: str, firm: str, role: str) -> None:
        self.reg.role(person, firm, role)
        kind = (
            RelationType.LEGAL_REPRESENTATIVE_OF
            if role == "legal_representative"
            else RelationType.EXECUTIVE_OF
        )
        self.specs.append(Spec(kind, person, firm, self.reg.roles[-1][-1]))

    def reference(
        self,
        as_of: date = AS_OF,
        former: bool = False,
        min_stake: float = 0.0,
        types: Sequence[RelationType] = PARTY_RELATIONS,
    ) -> nx.MultiDiGraph:
        """Every relation that counts under the filters, keyed by its source record."""
        graph: nx.MultiDiGraph = nx.MultiDiGraph()
        graph.add_nodes_from(self.reg.ids)
        for spec in self.specs:
            if spec.type in types and spec.counts(as_of, former, min_stake):
                graph.add_edge(spec.start, spec.end, key=spec.record, type=spec.type)
        return graph


def _circle_and_shared_officers() -> Network:
    """A guarantee circle A->B->C->A; B and C also linked by a 10% stake, a guarantee that
    ended in 2020 and one that begins in 2030. A holds 60% of F; firms F and G share two
    officers, P (legal rep. of F, director of G) and Q (director of F, supervisor of G)."""
    net = Network()
    for name in ("A", "B", "C", "F", "G"):
        net.reg.firm(name)
    for name in ("P", "Q"):
        net.reg.person(name)
    net.guarantee("A", "B")
    net.guarantee("B", "C")
    net.guarantee("C", "A")
    net.share("B", "C", 0.1)
    net.guarantee("B", "C", since="2015-01-01", until="2020-01-01")
    net.guarantee("C", "B", since="2030-01-01")
    net.share("A", "F", 0.6)
    net.role("P", "F", "legal_representative")
    net.role("P", "G", "director")
    net.role("Q", "F", "director")
    net.role("Q", "G", "supervisor")
    return net


def _relations(result: LinkedResult, names: dict[PartyKey, str]) -> list[tuple[str, ...]]:
    return sorted(
        (names[h.from_key], names[h.to_key], str(h.properties["source_record"]), h.type.value)
        for h in result.relations
    )


def _induced(reference: nx.MultiDiGraph, parties: set[str]) -> list[tuple[str, ...]]:
    induced = reference.subgraph(parties)
    return sorted(
        (a, b, key, data["type"].value) for a, b, key, data in induced.edges(keys=True, data=True)
    )


def _answer(result: LinkedResult, names: dict[PartyKey, str]) -> set[str]:
    return {names[result.root], *(names[item.key] for item in result.items)}


def test_every_relation_among_the_parties_is_returned(graph: GraphStore, tmp_path: Path) -> None:
    net = _circle_and_shared_officers()
    net.reg.load(graph, tmp_path)
    names = {net.reg.key(n): n for n in net.reg.ids}
    reference = net.reference()
    undirected = nx.Graph(reference)

    # the circle from A at depth 1: B and C are both last-level parties, yet B-C is returned
    circle = linked_parties(graph, net.reg.key("A"), depth=1, as_of=AS_OF, close_relations=True)
    assert _answer(circle, names) == {"A", "B", "C", "F"}
    assert [(a, b, t) for a, b, _, t in _relations(circle, names)] == [
        ("A", "B", "GUARANTEES"),
        ("A", "F", "SHAREHOLDER_OF"),
        ("B", "C", "GUARANTEES"),
        ("B", "C", "SHAREHOLDER_OF"),
        ("C", "A", "GUARANTEES"),
    ]
    assert circle.close_relations_read == 2 and not circle.relations_truncated
    # the tree has three hops; the network has five relations
    assert len({item.via.identity() for item in circle.items}) == 3

    # every party and depth: the relations are the induced subgraph of the answer's parties
    for root in net.reg.ids:
        for depth in (1, 2, 3):
            result = linked_parties(
                graph, net.reg.key(root), depth=depth, as_of=AS_OF, close_relations=True
            )
            parties = _answer(result, names)
            expected = nx.single_source_shortest_path_length(undirected, root, cutoff=depth)
            assert parties == set(expected), (root, depth)
            assert _relations(result, names) == _induced(reference, parties), (root, depth)
            assert not result.truncated and not result.relations_truncated
            # each relation once, each hop of the tree among them
            identities = [hop.identity() for hop in result.relations]
            assert len(identities) == len(set(identities))
            assert {item.via.identity() for item in result.items} <= set(identities)

    # two firms sharing two officers: both officer links to each firm, not one
    officers = linked_parties(graph, net.reg.key("F"), depth=2, as_of=AS_OF, close_relations=True)
    links = [(a, b) for a, b, _, _ in _relations(officers, names)]
    assert {("P", "F"), ("Q", "F"), ("P", "G"), ("Q", "G")} <= set(links)

    # without the closing read only what the walk read: B-C is missing
    open_ = linked_parties(graph, net.reg.key("A"), depth=1, as_of=AS_OF, close_relations=False)
    assert open_.close_relations_read is None
    assert open_.relations == []  # not asked for: not collected


def test_the_closing_read_applies_the_walks_filters(graph: GraphStore, tmp_path: Path) -> None:
    net = _circle_and_shared_officers()
    net.reg.load(graph, tmp_path)
    names = {net.reg.key(n): n for n in net.reg.ids}
    a = net.reg.key("A")

    def between_b_and_c(result: LinkedResult) -> list[tuple[str, ...]]:
        return [r for r in _relations(result, names) if {r[0], r[1]} == {"B", "C"}]

    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 2),  # the current guarantee and the stake
        ({"include_former": True}, 3),  # and the guarantee that ended in 2020
        ({"min_stake": 0.3}, 1),  # the 10% stake is dropped
        ({"relation_types": [RelationType.GUARANTEES]}, 1),
        ({"as_of": date(2017, 6, 30)}, 3),  # the former guarantee was then in force
        ({"as_of": date(2031, 1, 1)}, 3),  # the one from 2030 has begun
        ({"as_of": date(2031, 1, 1), "include_former": True}, 4),
    ]
    for arguments, count in cases:
        chosen: dict[str, Any] = {"as_of": AS_OF, **arguments}
        result = linked_parties(graph, a, depth=1, close_relations=True, **chosen)
        assert len(between_b_and_c(result)) == count, arguments
        reference = net.reference(
            as_of=chosen["as_of"],
            former=chosen.get("include_former", False),
            min_stake=chosen.get("min_stake", 0.0),
            types=chosen.get("relation_types", PARTY_RELATIONS),
        )
        assert _relations(result, names) == _induced(reference, _answer(result, names))


def test_the_closing_read_is_capped_and_says_so(graph: GraphStore, tmp_path: Path) -> None:
    """Hub H supplies L0..L5; every pair of leaves is linked by a guarantee (15 relations)."""
    reg = MiniRegistry()
    reg.firm("H")
    leaves = [f"L{i}" for i in range(6)]
    for leaf in leaves:
        reg.firm(leaf)
        reg.relate("H", leaf, "supplies")
    for i, x in enumerate(leaves):
        for y in leaves[i + 1 :]:
            reg.relate(x, y, "guarantees")
    reg.load(graph, tmp_path)
    hub = reg.key("H")

    full = linked_parties(graph, hub, depth=1, as_of=AS_OF, close_relations=True)
    assert (full.close_relations_read, full.relations_truncated) == (15, False)
    assert len(full.relations) == 6 + 15

    capped = linked_parties(graph, hub, depth=1, as_of=AS_OF, cap=10, close_relations=True)
    assert not capped.truncated  # the walk read 6 relations: under the cap
    assert (capped.close_relations_read, capped.relations_truncated) == (10, True)
    assert len(capped.relations) == 6 + 10

    # when the cap cuts the walk, the closing read covers the level it was expanding too
    cut = linked_parties(graph, hub, depth=1, as_of=AS_OF, cap=4, close_relations=True)
    assert cut.truncated and len(cut.items) == 4
    shown = {hub, *(item.key for item in cut.items)}
    assert all(h.from_key in shown and h.to_key in shown for h in cut.relations)
    supplies = [h for h in cut.relations if h.type is RelationType.SUPPLIES]
    assert len(supplies) == 4  # hub to every leaf shown
    assert cut.relations_truncated  # 4 supplies and 6 guarantees among the 5: over 4


def test_pages_carry_each_relation_once(graph: GraphStore, tmp_path: Path) -> None:
    net = _circle_and_shared_officers()
    net.reg.load(graph, tmp_path)
    result = linked_parties(graph, net.reg.key("F"), depth=3, as_of=AS_OF, close_relations=True)
    assert len(result.items) == 6 and len(result.relations) == 9

    gathered: list[Hop] = []
    shown: list[PartyKey] = []
    after: str | None = None
    while True:
        chunk = page(result, first=2, after=after)
        on_page = {item.key for item in chunk.items}
        for hop in chunk.relations:
            # an end on this page, the other on it, on an earlier one, or the root
            assert hop.from_key in on_page or hop.to_key in on_page
            assert {hop.from_key, hop.to_key} <= {result.root, *shown, *on_page}
        gathered.extend(chunk.relations)
        shown.extend(item.key for item in chunk.items)
        if not chunk.has_next_page:
            break
        after = chunk.end_cursor
    assert sorted(h.identity() for h in gathered) == sorted(h.identity() for h in result.relations)
    assert len(gathered) == len(result.relations)
    # a single page of everything carries everything
    assert page(result, first=100).relations == result.relations


def test_linked_on_the_command_line_prints_the_relations_among_the_parties(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    net = _circle_and_shared_officers()
    net.reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    a = net.reg.ids["A"]
    as_of = ["--as-of", AS_OF.isoformat()]

    answer = runner.invoke(app, ["linked", a, "--depth", "1", "--relations", "--json", *as_of])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    uid = {net.reg.key(name).uid: name for name in net.reg.ids}
    drawn = sorted(
        (uid[r["from"]["id"]], uid[r["to"]["id"]], r["type"]) for r in document["relations"]
    )
    assert drawn == [
        ("A", "B", "GUARANTEES"),
        ("A", "F", "SHAREHOLDER_OF"),
        ("B", "C", "GUARANTEES"),
        ("B", "C", "SHAREHOLDER_OF"),
        ("C", "A", "GUARANTEES"),
    ]
    assert document["relations_truncated"] is False

    plain = runner.invoke(app, ["linked", a, "--depth", "1", "--json", *as_of])
    assert "relations" not in json.loads(plain.stdout)  # asked for only
    table = runner.invoke(app, ["linked", a, "--depth", "1", "--relations", *as_of])
    assert table.exit_code == 0 and "relations among them" in table.output


def test_a_hop_as_json_names_its_fields_and_its_ends() -> None:
    firm = PartyKey(Label.LEGAL_PERSON, "91F")
    person = PartyKey(Label.NATURAL_PERSON, "P1")
    hop = Hop(RelationType.EXECUTIVE_OF, person, firm, {"valid_from": date(2020, 1, 2)})
    assert to_jsonable(hop) == {
        "type": "EXECUTIVE_OF",
        "from_key": {"label": "NaturalPerson", "uid": "P1"},
        "to_key": {"label": "LegalPerson", "uid": "91F"},
        "properties": {"valid_from": "2020-01-02"},
    }
    # keys sort by label, then uid, and hash as the tuples they are
    assert sorted([firm, person, PartyKey(Label.LEGAL_PERSON, "91A")]) == [
        PartyKey(Label.LEGAL_PERSON, "91A"),
        firm,
        person,
    ]
    assert {firm: 1}[PartyKey(Label.LEGAL_PERSON, "91F")] == 1


def test_via_is_the_smallest_relation_by_type_then_key(graph: GraphStore, tmp_path: Path) -> None:
    """A and B guarantee each other: B's via is the guarantee with the smaller key, whichever
    way it points (docs/queries.md: smallest parent, then relation type, then relation key)."""
    reg = MiniRegistry()
    for name in ("A", "B"):
        reg.firm(name)
    reg.relate("B", "A")  # key firm_relations:f0
    reg.relate("A", "B")  # key firm_relations:f1
    reg.load(graph, tmp_path)
    a, b = reg.key("A"), reg.key("B")
    assert a < b  # so an order by start first would pick A -> B

    [item] = linked_parties(graph, a, depth=1, as_of=AS_OF).items
    assert (item.key, item.via.properties["source_record"], item.via.from_key) == (b, "f0", b)
    [path] = shortest_paths(graph, a, b, as_of=AS_OF).paths
    assert path.hops[0].relation.properties["source_record"] == "f0"


def test_linked_as_json_shows_each_relation_with_its_key(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    """A guarantees B twice: the hop to B and the two relations carry the walk's `key`, which
    tells them apart, and no path's `also`."""
    reg = MiniRegistry()
    for name in ("A", "B"):
        reg.firm(name)
    reg.relate("A", "B")
    reg.relate("A", "B")
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    walk = linked_parties(graph, reg.key("A"), depth=1, as_of=AS_OF, close_relations=True)

    answer = runner.invoke(
        app, ["linked", reg.ids["A"], "--as-of", AS_OF.isoformat(), "--relations", "--json"]
    )
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    [item] = document["items"]
    assert item["via"]["key"] == walk.items[0].via.properties["key"] == "firm_relations:f0"
    assert [r["key"] for r in document["relations"]] == [
        h.properties["key"] for h in walk.relations
    ]
    assert len({r["key"] for r in document["relations"]}) == 2
    assert all("also" not in r for r in document["relations"])
