"""Paths between two parties: the pure k-shortest enumeration against networkx, named graphs on
the real store worked out by hand, random store graphs against networkx, and the CLI verb."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import RelationType
from credgraph.queries.caches import HubCache
from credgraph.queries.lookup import ArgumentError, PartyKey
from credgraph.queries.paths import k_shortest_simple_paths, shortest_paths
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import MiniRegistry, cli_runner, random_parties, store_examples

AS_OF = date(2025, 6, 30)


def _reference(graph: nx.Graph, a: object, b: object, k: int, cutoff: int) -> list[list[object]]:
    """The k shortest simple paths by length, then by their node sequence."""
    every = sorted(nx.all_simple_paths(graph, a, b, cutoff=cutoff), key=lambda p: (len(p), p))
    return every[:k]


def _adjacency(graph: nx.Graph) -> dict[int, list[int]]:
    return {node: list(graph.neighbors(node)) for node in graph.nodes}


# --- the pure function -----------------------------------------------------------------------


def test_k_shortest_on_a_diamond_with_a_tail() -> None:
    """0-1-3, 0-2-3 and the detour 0-4-5-3; 3-6 hangs off the target."""
    graph = nx.Graph([(0, 1), (1, 3), (0, 2), (2, 3), (0, 4), (4, 5), (5, 3), (3, 6)])
    paths, complete = k_shortest_simple_paths(_adjacency(graph), 0, 3, k=5, max_length=4)
    assert complete and paths == [[0, 1, 3], [0, 2, 3], [0, 4, 5, 3]]
    assert k_shortest_simple_paths(_adjacency(graph), 0, 3, k=1, max_length=4)[0] == [[0, 1, 3]]
    assert k_shortest_simple_paths(_adjacency(graph), 0, 3, k=5, max_length=2)[0] == [
        [0, 1, 3],
        [0, 2, 3],
    ]
    assert k_shortest_simple_paths(_adjacency(graph), 0, 3, k=5, max_length=1)[0] == []
    assert k_shortest_simple_paths({0: [1], 1: [0], 7: []}, 0, 7, k=3, max_length=4) == ([], True)
    # a tiny step budget stops the enumeration and says so
    paths, complete = k_shortest_simple_paths(
        _adjacency(graph), 0, 3, k=5, max_length=4, max_steps=3
    )
    assert not complete and len(paths) < 3


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(2, 9),
    edges=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=24),
    k=st.integers(1, 6),
    cutoff=st.integers(1, 6),
)
def test_k_shortest_agree_with_networkx(
    size: int, edges: list[tuple[int, int]], k: int, cutoff: int
) -> None:
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(range(size))
    graph.add_edges_from((a % size, b % size) for a, b in edges if a % size != b % size)
    adjacency = _adjacency(graph)
    for a, b in itertools.permutations(range(min(size, 4)), 2):
        paths, complete = k_shortest_simple_paths(adjacency, a, b, k=k, max_length=cutoff)
        assert complete
        assert paths == _reference(graph, a, b, k, cutoff)
        if nx.has_path(graph, a, b):
            lengths = [
                len(p) - 1
                for p in itertools.islice(nx.shortest_simple_paths(graph, a, b), k)
                if len(p) - 1 <= cutoff
            ]
            assert [len(p) - 1 for p in paths] == lengths


# --- on the store --------------------------------------------------------------------------


def _diamond() -> MiniRegistry:
    """A and D linked through B (A holds B, B guarantees D), through person P (legal rep of A
    and D), and the long way A -supplies-> E -supplies-> F -supplies-> D; A-X ended in 2020."""
    reg = MiniRegistry()
    for name in ("A", "B", "D", "E", "F", "X"):
        reg.firm(name)
    reg.person("P")
    reg.share("A", "B", 0.7, since="2015-01-01")
    reg.relate("B", "D", "guarantees", since="2016-01-01", until="2030-01-01")
    reg.role("P", "A", "legal_representative", since="2014-01-01")
    reg.role("P", "D", "legal_representative", since="2014-01-01")
    reg.share("P", "D", 0.2, since="2014-01-01")
    reg.relate("A", "E", "supplies")
    reg.relate("E", "F", "supplies")
    reg.relate("F", "D", "supplies")
    reg.relate("A", "X", "supplies", until="2020-01-01")
    reg.relate("X", "D", "supplies", until="2020-01-01")
    return reg


def test_the_k_shortest_paths_with_every_hop_explained(graph: GraphStore, tmp_path: Path) -> None:
    reg = _diamond()
    reg.load(graph, tmp_path)
    a, b, d, e, f, p = (reg.key(n) for n in "ABDEFP")

    result = shortest_paths(graph, a, d, k=5, max_depth=4, as_of=AS_OF)

    middle = sorted([[a, b, d], [a, p, d]])
    assert [path.parties for path in result.paths] == [*middle, [a, e, f, d]]
    assert not result.truncated and result.shortest == 2
    through_b = next(path for path in result.paths if b in path.parties)
    first, second = (hop.summary() for hop in through_b.hops)
    assert (first["from"], first["to"], first["type"], first["direction"]) == (
        a,
        b,
        "SHAREHOLDER_OF",
        "out",
    )
    assert first["stake"] == 0.7 and first["valid_from"] == "2015-01-01"
    assert first["source"] == "shareholdings" and first["source_record"] == "s0"
    assert first["source_row"].startswith("shareholdings:")
    assert (second["type"], second["direction"], second["valid_to"]) == (
        "GUARANTEES",
        "out",
        "2030-01-01",
    )
    through_p = next(path for path in result.paths if p in path.parties)
    into_p, out_of_p = (hop.summary() for hop in through_p.hops)
    assert (into_p["type"], into_p["direction"], into_p["role"]) == (
        "LEGAL_REPRESENTATIVE_OF",
        "in",
        "legal_representative",
    )
    # P also holds 20% of D: one path of parties, the other relation listed beside the hop
    assert out_of_p["type"] == "LEGAL_REPRESENTATIVE_OF" and out_of_p["also"] == ["SHAREHOLDER_OF"]

    # k and depth bound the answer; the ended detour through X counts only as of its time
    assert len(shortest_paths(graph, a, d, k=1, as_of=AS_OF).paths) == 1
    assert [p.length for p in shortest_paths(graph, a, d, k=5, max_depth=2, as_of=AS_OF).paths] == [
        2,
        2,
    ]
    old = shortest_paths(graph, a, d, k=5, max_depth=3, as_of=date(2019, 1, 1))
    assert reg.key("X") in {key for path in old.paths for key in path.parties}
    assert len(old.paths) == 4
    former = shortest_paths(graph, a, d, k=5, max_depth=2, as_of=AS_OF, include_former=True)
    assert len(former.paths) == 3
    # relation types and minimum stake
    firms_only = shortest_paths(
        graph,
        a,
        d,
        k=5,
        as_of=AS_OF,
        relation_types=[RelationType.SHAREHOLDER_OF, RelationType.GUARANTEES],
    )
    assert [path.parties for path in firms_only.paths] == [[a, b, d]]
    assert shortest_paths(graph, a, d, as_of=AS_OF, min_stake=0.8, k=1).paths[0].parties == [
        a,
        p,
        d,
    ]


def test_no_path_a_cap_and_bad_arguments(graph: GraphStore, tmp_path: Path) -> None:
    reg = _diamond()
    reg.firm("Lone")
    reg.load(graph, tmp_path)
    a, d, lone = reg.key("A"), reg.key("D"), reg.key("Lone")

    nothing = shortest_paths(graph, a, lone, as_of=AS_OF)
    assert nothing.paths == [] and not nothing.truncated and nothing.shortest is None
    # A's three current relations are more than a cap of 2: its level is cut, and the search
    # stops there, before D's side is read (the check used to pass on no path at all)
    capped = shortest_paths(graph, a, d, k=5, max_depth=4, as_of=AS_OF, cap=2)
    assert capped.truncated and capped.paths == [] and capped.shortest is None
    assert (capped.explored_source, capped.explored_target) == (1, 0)
    # a cap of 3 reads A's level whole and cuts D's four relations: what was read still gives
    # real paths, the two-hop ones through B or P (A-X-D ended in 2020; A-E-F-D is not read)
    capped = shortest_paths(graph, a, d, k=5, max_depth=4, as_of=AS_OF, cap=3)
    assert capped.truncated and (capped.explored_source, capped.explored_target) == (1, 1)
    found = [path.parties for path in capped.paths]
    assert found and all(
        parties in ([a, reg.key("B"), d], [a, reg.key("P"), d]) for parties in found
    )
    assert len(found) == len({tuple(parties) for parties in found}), found

    for kwargs, argument in [
        ({"k": 0}, "k"),
        ({"k": 21}, "k"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": 7}, "max_depth"),
        ({"min_stake": -0.1}, "min_stake"),
    ]:
        with pytest.raises(ArgumentError) as caught:
            shortest_paths(graph, a, d, **kwargs)  # type: ignore[arg-type]
        assert caught.value.argument == argument
    with pytest.raises(ArgumentError, match="same party"):
        shortest_paths(graph, a, a)


@store_examples(12)
@given(data=st.data())
def test_random_store_graphs_agree_with_networkx(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, persons = random_parties(data.draw, firms=(3, 9), persons=(1, 3))
    reference: nx.Graph = nx.Graph()
    reference.add_nodes_from(firms + persons)
    link = st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(lambda p: p[0] != p[1])
    for x, y in data.draw(st.lists(link, max_size=12)):
        reg.relate(x, y, data.draw(st.sampled_from(["guarantees", "supplies"])))
        reference.add_edge(x, y)
    role = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
    for person, firm in data.draw(st.lists(role, max_size=6)):
        reg.role(person, firm, "director")
        reference.add_edge(person, firm)
    reg.reload(graph, tmp_path_factory)
    everyone = firms + persons
    source, target = data.draw(
        st.tuples(st.sampled_from(everyone), st.sampled_from(everyone)).filter(
            lambda p: p[0] != p[1]
        )
    )
    k = data.draw(st.integers(1, 5))
    max_depth = data.draw(st.integers(1, 5))

    result = shortest_paths(
        graph, reg.key(source), reg.key(target), k=k, max_depth=max_depth, as_of=AS_OF
    )

    names = {reg.key(n): n for n in everyone}
    keys = {n: reg.key(n) for n in everyone}
    by_key = nx.relabel_nodes(reference, keys)
    expected = _reference(by_key, keys[source], keys[target], k, max_depth)
    assert [path.parties for path in result.paths] == expected
    assert not result.truncated
    for path in result.paths:
        for hop in path.hops:
            assert reference.has_edge(names[hop.from_key], names[hop.to_key])
            assert {hop.relation.from_key, hop.relation.to_key} == {hop.from_key, hop.to_key}
    # with every party a hub, the first search fills the cache and the second answers from it
    hubs = HubCache(10_000, least=1).bound(graph, "v1")
    for _ in range(2):
        cached = shortest_paths(
            graph,
            reg.key(source),
            reg.key(target),
            k=k,
            max_depth=max_depth,
            as_of=AS_OF,
            hubs=hubs,
        )
        assert cached.paths == result.paths and not cached.truncated


def test_the_paths_verb(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    reg = _diamond()
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    a, d = reg.ids["A"], reg.ids["D"]

    purpose = ["--purpose", "investigation"]  # the paths pass through the person P
    answer = runner.invoke(
        app, ["paths", a, d, "--k", "2", "--as-of", "2025-06-30", "--json", *purpose]
    )
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert [path["length"] for path in document["paths"]] == [2, 2]
    hops = [hop for path in document["paths"] for hop in path["hops"]]
    person = next(hop["to"] for hop in hops if hop["to"]["label"] == "NaturalPerson")
    assert person["id_masked"].count("*") >= 8 and reg.ids["P"] not in answer.output
    assert document["truncated"] is False

    table = runner.invoke(app, ["paths", a, reg.ids["P"], "--max-depth", "1", *purpose])
    assert table.exit_code == 0 and "path 1: 1 hops" in table.output
    assert reg.ids["P"] not in table.output
    none = runner.invoke(app, ["paths", a, d, "--max-depth", "1"])
    assert none.exit_code == 0 and "no path within 1 hops" in none.output

    for args, option in [
        (["--k", "0"], "--k"),
        (["--max-depth", "9"], "--max-depth"),
        (["--as-of", "2025-13-01"], "--as-of"),
    ]:
        bad = runner.invoke(app, ["paths", a, d, *args])
        assert bad.exit_code == 2 and option in bad.output, (args, bad.output)
    same = runner.invoke(app, ["paths", a, a])
    assert same.exit_code == 2 and "B" in same.output
    unknown = runner.invoke(app, ["paths", a, "12345678-9"])
    assert unknown.exit_code in (1, 2) and "B" in unknown.output


def test_party_keys_order_by_label_then_uid() -> None:
    from credgraph.graph.vocabulary import Label

    keys = [PartyKey(Label.NATURAL_PERSON, "a"), PartyKey(Label.LEGAL_PERSON, "z")]
    assert sorted(keys) == [PartyKey(Label.LEGAL_PERSON, "z"), PartyKey(Label.NATURAL_PERSON, "a")]


def test_also_names_only_the_other_relation_types(graph: GraphStore, tmp_path: Path) -> None:
    """A guarantees B twice and supplies it: the hop shows a guarantee, `also` only SUPPLIES."""
    reg = MiniRegistry()
    for name in "AB":
        reg.firm(name)
    reg.relate("A", "B", "guarantees")
    reg.relate("A", "B", "guarantees")
    reg.relate("B", "A", "supplies")
    reg.load(graph, tmp_path)

    [path] = shortest_paths(graph, reg.key("A"), reg.key("B"), as_of=AS_OF).paths
    [hop] = [hop.summary() for hop in path.hops]
    assert (hop["type"], hop["source_record"], hop["also"]) == ("GUARANTEES", "f0", ["SUPPLIES"])
