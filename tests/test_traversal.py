"""Linked parties on the real store: named graphs worked out by hand, pages, and random graphs
checked against networkx shortest-path lengths over the filtered multigraph."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries import writes
from credgraph.queries.lookup import ArgumentError, PartyKey
from credgraph.queries.traversal import LinkedResult, linked_parties, page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import MiniRegistry, cli_runner

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


def _star(leaves: int) -> MiniRegistry:
    """Hub H supplies L0..L{n-1}; L0 also guarantees X."""
    reg = MiniRegistry()
    reg.firm("H")
    reg.firm("X")
    for i in range(leaves):
        reg.firm(f"L{i}")
        reg.relate("H", f"L{i}", "supplies")
    reg.relate("L0", "X", "guarantees")
    return reg


def test_a_hub_is_cut_at_the_cap_and_the_answer_says_so(graph: GraphStore, tmp_path: Path) -> None:
    reg = _star(30)
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
    reg = _star(23)
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
            reference.add_edge(holder, held)
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
            reference.add_edge(person, firm)
    link = st.tuples(st.sampled_from(firms), st.sampled_from(firms))
    for a, b in data.draw(st.lists(link.filter(lambda p: p[0] != p[1]), max_size=8)):
        kind = data.draw(st.sampled_from(FIRM_RELATIONS))
        reg.relate(a, b, kind)
        if FIRM_TYPES[kind] in types:
            reference.add_edge(a, b)
    graph.write("MATCH (n) DETACH DELETE n")
    reg.load(graph, tmp_path_factory.mktemp("linked"))
    root = data.draw(st.sampled_from(firms + persons))
    depth = data.draw(st.integers(1, 4))

    result = linked_parties(
        graph,
        reg.key(root),
        depth=depth,
        relation_types=sorted(types),
        as_of=AS_OF,
        include_former=former,
        min_stake=min_stake,
    )

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


# --- the CLI -------------------------------------------------------------------------------


def test_the_linked_verb(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    reg = _chain()
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    number = reg.ids["P"]

    answer = runner.invoke(app, ["linked", reg.ids["A"], "--depth", "2", "--json"])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert [(i["depth"], i["party"]["label"]) for i in document["items"]] == [
        (1, "LegalPerson"),
        (2, "NaturalPerson"),
    ]
    person = document["items"][1]["party"]
    assert person["id_masked"].count("*") >= 8 and number not in answer.output
    assert document["items"][1]["via"]["direction"] == "in"
    assert (document["explored_depth"], document["truncated"]) == (2, False)

    # by the person's resident ID: the number is never printed back
    table = runner.invoke(app, ["linked", number, "--depth", "1", "--as-of", "2025-06-30"])
    assert table.exit_code == 0, table.output
    assert number not in table.output, table.output
    assert "LEGAL_REPRESENTATIV" in table.output and "2 of 2 parties" in table.output

    paged = runner.invoke(app, ["linked", reg.ids["P"], "--depth", "2", "--first", "1", "--json"])
    first = json.loads(paged.stdout)
    assert first["has_next_page"] and first["total"] == 4
    rest = runner.invoke(
        app, ["linked", number, "--depth", "2", "--first", "9", "--after", first["end_cursor"]]
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
    from credgraph.queries.traversal import _NEIGHBOURS

    wanted = {t.value for t in PARTY_RELATIONS} | {RelationType.POSSIBLY_SAME_AS.value}
    for query in _NEIGHBOURS.values():
        pattern = query.split("-[r:", 1)[1].split("]-", 1)[0]
        assert {name.strip() for name in pattern.split("|")} == wanted
