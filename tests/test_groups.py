"""Connected groups and guarantee circles: the pure algorithms against networkx on random
graphs, named graphs on the real store worked out by hand, and the synthetic registry's fixed
core found by every investigators' query."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import normalise_code, person_token
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType, RelationType
from credgraph.loaders.synthetic import AS_OF as SYNTHETIC_AS_OF
from credgraph.loaders.synthetic import generate
from credgraph.queries.groups import (
    circles_of,
    connected_components,
    connected_group,
    cycles_through,
    guarantee_circles,
    shortest_cycle_through,
    shortest_cycles_through,
    strongly_connected_components,
)
from credgraph.queries.links import suspected_links
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.tracing import ArgumentError, trace_dishonest
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import (
    MiniRegistry,
    cli_runner,
    random_parties,
    store_examples,
)
from tests.registries import load_folder

AS_OF = date(2025, 6, 30)
NODES = [f"n{i}" for i in range(9)]
edges = st.lists(
    st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)).filter(lambda e: e[0] != e[1]),
    max_size=20,
    unique=True,
)


def _digraph(pairs: list[tuple[str, str]]) -> tuple[nx.DiGraph, dict[str, set[str]]]:
    reference: nx.DiGraph = nx.DiGraph()
    reference.add_nodes_from(NODES)
    reference.add_edges_from(pairs)
    adjacency: dict[str, set[str]] = {n: set() for n in NODES}
    for a, b in pairs:
        adjacency[a].add(b)
    return reference, adjacency


def _rotated(cycle: list[str], start: str) -> tuple[str, ...]:
    at = cycle.index(start)
    return tuple(cycle[at:] + cycle[:at])


# --- the pure algorithms against networkx ----------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(pairs=edges)
def test_strongly_connected_components_agree_with_networkx(pairs: list[tuple[str, str]]) -> None:
    reference, adjacency = _digraph(pairs)
    ours = {frozenset(c) for c in strongly_connected_components(adjacency)}
    assert ours == {frozenset(c) for c in nx.strongly_connected_components(reference)}


@settings(max_examples=200, deadline=None)
@given(pairs=edges, start=st.sampled_from(NODES))
def test_cycles_through_a_node_agree_with_networkx_simple_cycles(
    pairs: list[tuple[str, str]], start: str
) -> None:
    reference, adjacency = _digraph(pairs)
    expected = {_rotated(c, start) for c in nx.simple_cycles(reference) if start in c}
    found, cut = cycles_through(adjacency, start, limit=10_000)
    assert not cut
    assert len(found) == len(expected)
    assert {tuple(c) for c in found} == expected
    shortest = shortest_cycle_through(adjacency, start)
    if expected:
        assert shortest is not None and len(shortest) == min(len(c) for c in expected)
        assert tuple(shortest) in expected
    else:
        assert shortest is None
    if len(expected) > 1:
        some, cut = cycles_through(adjacency, start, limit=1)
        assert cut and len(some) == 1


@settings(max_examples=200, deadline=None)
@given(pairs=edges, start=st.sampled_from(NODES), limit=st.integers(1, 6))
def test_the_shortest_cycles_through_a_node_agree_with_networkx(
    pairs: list[tuple[str, str]], start: str, limit: int
) -> None:
    reference, adjacency = _digraph(pairs)
    expected = sorted(
        (list(_rotated(c, start)) for c in nx.simple_cycles(reference) if start in c),
        key=lambda c: (len(c), c),
    )
    found, cut = shortest_cycles_through(adjacency, start, limit)
    assert found == expected[:limit]
    assert cut == (len(expected) >= limit)


def test_a_party_with_more_cycles_than_the_limit_keeps_the_shortest(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A -> B -> A, and A -> C -> D -> A with C before B in key order, so Johnson's search
    meets the longer cycle first: --limit 1 still gives A -> B."""
    reg = MiniRegistry()
    for name in ("A", "C", "D", "B"):  # uids in this order: C and D sort before B
        reg.firm(name)
    for a, b in [("A", "B"), ("B", "A"), ("A", "C"), ("C", "D"), ("D", "A")]:
        reg.relate(a, b)
    reg.load(graph, tmp_path)
    k = reg.key
    assert k("C") < k("B")

    every = circles_of(graph, k("A"), as_of=AS_OF)
    assert every.cycles == [[k("A"), k("B")], [k("A"), k("C"), k("D")]] and not every.truncated
    first = circles_of(graph, k("A"), as_of=AS_OF, limit=1)
    assert first.cycles == [[k("A"), k("B")]] and first.truncated


@settings(max_examples=200, deadline=None)
@given(pairs=edges)
def test_connected_components_agree_with_networkx(pairs: list[tuple[str, str]]) -> None:
    reference: nx.Graph = nx.Graph()
    reference.add_nodes_from(NODES)
    reference.add_edges_from(pairs)
    ours = {frozenset(c) for c in connected_components(NODES, pairs)}
    assert ours == {frozenset(c) for c in nx.connected_components(reference)}


# --- control groups on the store ---------------------------------------------------------------


def _control_registry() -> MiniRegistry:
    """P leads A; A holds 60% of B; B holds 30% of C; Q controls C; D supplies A; E held 80%
    of A until 2020."""
    reg = MiniRegistry()
    for name in "ABCDE":
        reg.firm(name)
    reg.person("P")
    reg.person("Q")
    reg.role("P", "A", "legal_representative")
    reg.share("A", "B", 0.6)
    reg.share("B", "C", 0.3)
    reg.role("Q", "C", "actual_controller")
    reg.relate("D", "A", "supplies")
    reg.share("E", "A", 0.8, since="2010-01-01", until="2020-01-01")
    return reg


def test_a_control_group_follows_control_relations_only(graph: GraphStore, tmp_path: Path) -> None:
    reg = _control_registry()
    reg.load(graph, tmp_path)
    k = reg.key

    group = connected_group(graph, k("A"), as_of=AS_OF)
    assert set(group.members) == {k("A"), k("P"), k("B")}
    assert group.members[0] == k("A") and group.distance == {k("A"): 0, k("P"): 1, k("B"): 1}
    assert not group.truncated
    assert {(r["from"], r["to"], r["type"], r["stake"]) for r in group.relations} == {
        (k("P"), k("A"), "LEGAL_REPRESENTATIVE_OF", None),
        (k("A"), k("B"), "SHAREHOLDER_OF", 0.6),
    }
    assert group.parties[k("P")]["id_masked"] and "uscc" not in group.parties[k("P")]

    lower = connected_group(graph, k("C"), as_of=AS_OF, min_stake=0.3)
    assert set(lower.members) == {k("A"), k("P"), k("B"), k("C"), k("Q")}
    assert set(connected_group(graph, k("C"), as_of=AS_OF).members) == {k("C"), k("Q")}

    with_supply = connected_group(
        graph,
        k("A"),
        as_of=AS_OF,
        relation_types=[RelationType.SUPPLIES, RelationType.SHAREHOLDER_OF],
    )
    assert set(with_supply.members) == {k("A"), k("B"), k("D")}

    in_2015 = connected_group(graph, k("A"), as_of=date(2015, 1, 1))
    assert k("E") in in_2015.members
    assert k("E") in connected_group(graph, k("A"), as_of=AS_OF, include_former=True).members


def test_a_group_beyond_its_bounds_is_truncated(graph: GraphStore, tmp_path: Path) -> None:
    reg = MiniRegistry()
    for i in range(6):
        reg.firm(f"F{i}")
    for i in range(5):
        reg.share(f"F{i}", f"F{i + 1}", 0.9)
    reg.load(graph, tmp_path)

    whole = connected_group(graph, reg.key("F0"), as_of=AS_OF)
    assert len(whole.members) == 6 and not whole.truncated and whole.explored_depth == 6
    few = connected_group(graph, reg.key("F0"), as_of=AS_OF, max_members=3)
    assert few.truncated and len(few.members) == 3
    shallow = connected_group(graph, reg.key("F0"), as_of=AS_OF, max_levels=2)
    assert shallow.truncated and len(shallow.members) == 3 and shallow.explored_depth == 2
    with pytest.raises(ArgumentError, match="min_stake"):
        connected_group(graph, reg.key("F0"), min_stake=1.5)


@store_examples(12)
@given(data=st.data())
def test_random_control_groups_agree_with_networkx_components(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, persons = random_parties(data.draw, firms=(2, 7), persons=(1, 3))
    reference: nx.Graph = nx.Graph()
    reference.add_nodes_from(firms + persons)
    holdings = data.draw(
        st.lists(
            st.tuples(st.sampled_from(firms + persons), st.sampled_from(firms)).filter(
                lambda p: p[0] != p[1]
            ),
            max_size=10,
            unique=True,
        )
    )
    for holder, held in holdings:
        stake = data.draw(st.sampled_from([0.1, 0.5, 0.7]))
        reg.share(holder, held, stake)
        if stake >= 0.5:
            reference.add_edge(holder, held)
    leads = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
    for person, firm in data.draw(st.lists(leads, max_size=5, unique=True)):
        role = data.draw(st.sampled_from(["legal_representative", "director"]))
        reg.role(person, firm, role)
        if role == "legal_representative":
            reference.add_edge(person, firm)
    reg.reload(graph, tmp_path_factory)
    root = data.draw(st.sampled_from(firms + persons))

    group = connected_group(graph, reg.key(root), as_of=AS_OF)

    names = {reg.key(n): n for n in firms + persons}
    assert {names[m] for m in group.members} == nx.node_connected_component(reference, root)
    lengths = nx.single_source_shortest_path_length(reference, root)
    assert {names[m]: d for m, d in group.distance.items()} == lengths


# --- guarantee circles on the store ------------------------------------------------------------


def _circle_registry() -> MiniRegistry:
    """A -> B -> C -> A with a tail C -> D; E <-> F; a figure eight X <-> Y, X <-> Z; and
    G -> H -> G that ended in 2020."""
    reg = MiniRegistry()
    for name in ("A", "B", "C", "D", "E", "F", "X", "Y", "Z", "G", "H"):
        reg.firm(name)
    for a, b in [("A", "B"), ("B", "C"), ("C", "A"), ("C", "D"), ("E", "F"), ("F", "E")]:
        reg.relate(a, b)
    for a, b in [("X", "Y"), ("Y", "X"), ("X", "Z"), ("Z", "X")]:
        reg.relate(a, b)
    reg.relate("G", "H", until="2020-01-01")
    reg.relate("H", "G", until="2020-01-01")
    reg.relate("A", "E", "supplies")  # not a guarantee
    return reg


def test_guarantee_circles_of_the_whole_graph_and_of_one_party(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = _circle_registry()
    reg.load(graph, tmp_path)
    k = reg.key

    everything = guarantee_circles(graph, as_of=AS_OF)
    circles = {frozenset(c.members) for c in everything.circles}
    assert circles == {
        frozenset({k("A"), k("B"), k("C")}),
        frozenset({k("E"), k("F")}),
        frozenset({k("X"), k("Y"), k("Z")}),
    }
    assert everything.found == 3 and not everything.truncated and everything.guarantees_read == 10
    abc = next(c for c in everything.circles if k("A") in c.members)
    first = abc.members[0]
    assert abc.cycle[0] == first and len(abc.cycle) == 3
    assert _rotated([m.uid for m in abc.cycle], k("A").uid) == (k("A").uid, k("B").uid, k("C").uid)
    with_former = guarantee_circles(graph, as_of=AS_OF, include_former=True)
    assert frozenset({k("G"), k("H")}) in {frozenset(c.members) for c in with_former.circles}
    assert len(guarantee_circles(graph, as_of=AS_OF, limit=1).circles) == 1

    mine = circles_of(graph, k("B"), as_of=AS_OF)
    assert mine.members == sorted([k("A"), k("B"), k("C")], key=lambda p: p.uid)
    assert mine.cycles == [[k("B"), k("C"), k("A")]]
    eight = circles_of(graph, k("X"), as_of=AS_OF)
    assert eight.cycles == sorted([[k("X"), k("Y")], [k("X"), k("Z")]], key=lambda c: c[1].uid)
    assert circles_of(graph, k("Y"), as_of=AS_OF).cycles == [[k("Y"), k("X")]]
    assert circles_of(graph, k("D"), as_of=AS_OF).cycles == []
    assert circles_of(graph, k("G"), as_of=AS_OF).members == []
    assert circles_of(graph, k("G"), as_of=date(2019, 1, 1)).cycles == [[k("G"), k("H")]]


@store_examples(10)
@given(data=st.data())
def test_random_guarantee_graphs_agree_with_networkx(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, _ = random_parties(data.draw, firms=(2, 7))
    pairs = data.draw(
        st.lists(
            st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(
                lambda p: p[0] != p[1]
            ),
            max_size=14,
            unique=True,
        )
    )
    for a, b in pairs:
        reg.relate(a, b)
    reg.reload(graph, tmp_path_factory)
    reference: nx.DiGraph = nx.DiGraph()
    reference.add_nodes_from(firms)
    reference.add_edges_from(pairs)
    names = {reg.key(n).uid: n for n in firms}

    found = guarantee_circles(graph, as_of=AS_OF)
    expected = {frozenset(c) for c in nx.strongly_connected_components(reference) if len(c) > 1}
    assert {frozenset(names[m.uid] for m in c.members) for c in found.circles} == expected
    for circle in found.circles:
        assert nx.is_simple_path(reference, [names[m.uid] for m in circle.cycle])
        assert reference.has_edge(names[circle.cycle[-1].uid], names[circle.cycle[0].uid])

    root = data.draw(st.sampled_from(firms))
    mine = circles_of(graph, reg.key(root), as_of=AS_OF)
    cycles = {_rotated(c, root) for c in nx.simple_cycles(reference) if root in c}
    assert {tuple(names[m.uid] for m in c) for c in mine.cycles} == cycles


# --- the synthetic registry's fixed core -------------------------------------------------------


def _first_row(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.DictReader(handle))


def test_the_synthetic_registrys_fixed_core_is_found(graph: GraphStore, tmp_path: Path) -> None:
    """Person 0 leads firms 0 and 1; firm 0 holds 1 holds 2; 0, 1, 2 guarantee in a circle."""
    folder = tmp_path / "synthetic"
    generate(folder, enterprises=40, seed=3)
    load_folder(graph, folder, tmp_path / "rejects")
    with (folder / "legal_persons.csv").open(encoding="utf-8", newline="") as handle:
        usccs = [normalise_code(row["uscc"]) for _, row in zip(range(3), csv.DictReader(handle))]
    f0, f1, f2 = (PartyKey(Label.LEGAL_PERSON, uscc) for uscc in usccs)
    first = _first_row(folder / "natural_persons.csv")
    token = person_token(
        TEST_PERSON_KEY.encode(),
        PersonIdType(first["id_type"].lower()),
        first["id_number"],
        first.get("country") or "CN",
    )
    person_0 = PartyKey(Label.NATURAL_PERSON, token)
    day = SYNTHETIC_AS_OF

    links = suspected_links(graph, f0, as_of=day)
    officer_links = {
        (link.party, link.evidence["person"])
        for link in links.items
        if link.kind.value == "shared_officer"
    }
    assert (f1, person_0) in officer_links

    ownership = connected_group(
        graph, f0, as_of=day, relation_types=[RelationType.SHAREHOLDER_OF], min_stake=0.0
    )
    assert {f0, f1, f2} <= set(ownership.members)

    # the core circle's members signed together and are in force on the reference date
    current = guarantee_circles(graph, as_of=day)
    assert frozenset({f0, f1, f2}) in {frozenset(c.members) for c in current.circles}
    assert [f0, f1, f2] in circles_of(graph, f0, as_of=day).cycles

    # a blacklisting of firm 2, loaded later, is one guarantee away from firm 0 (2 -> 0)
    extra = MiniRegistry()
    extra.ids["F2"] = f2.uid
    extra.record("CORE-BL", "F2", decided="2025-06-01")
    extra.load(graph, tmp_path)
    trace = trace_dishonest(graph, f0, BUILTIN_PROFILES["default"], depth=1, as_of=day)
    hit = next(item for item in trace.items if item.party == f2)
    assert hit.distance == 1 and [r.record_id for r in hit.records if r.counts] == ["CORE-BL"]
    assert hit.path[0]["from"] == f0 and hit.path[0]["to"] == f2


# --- the command line ---------------------------------------------------------------------------


def test_credgraph_groups_and_circles(
    graph: GraphStore,
    tmp_path: Path,
    embedded: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = _control_registry()
    reg.relate("A", "B")
    reg.relate("B", "A")
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    a = reg.ids["A"]

    purpose = ["--purpose", "investigation"]  # the control group holds the person P
    group = runner.invoke(app, ["groups", a, "--as-of", "2025-06-30", "--json", *purpose])
    assert group.exit_code == 0, group.output
    members = {m["id"]: m["distance"] for m in json.loads(group.stdout)["members"]}
    assert members == {a: 0, reg.ids["B"]: 1, reg.key("P").uid: 1}
    wider = runner.invoke(
        app,
        [
            "groups",
            a,
            "--types",
            "shareholder_of,supplies",
            "--min-stake",
            "0.3",
            "--json",
            *purpose,
        ],
    )
    assert wider.exit_code == 0, wider.output
    assert {m["id"] for m in json.loads(wider.stdout)["members"]} == {reg.ids[n] for n in "ABCD"}
    text = runner.invoke(app, ["groups", a, *purpose])
    assert text.exit_code == 0 and "人P" in text.output and reg.ids["P"] not in text.output

    everything = runner.invoke(app, ["circles", "--json"])
    assert everything.exit_code == 0, everything.output
    [circle] = json.loads(everything.stdout)["circles"]
    assert {m["id"] for m in circle["members"]} == {a, reg.ids["B"]}
    mine = runner.invoke(app, ["circles", reg.ids["B"], "--json"])
    assert [[m["id"] for m in c] for c in json.loads(mine.stdout)["cycles"]] == [[reg.ids["B"], a]]
    assert runner.invoke(app, ["circles"]).exit_code == 0
    alone = runner.invoke(app, ["circles", reg.ids["C"]]).output
    assert "no guarantee circle" in alone
    assert alone.startswith("C有限公司")  # the party by its name, not its uid

    for arguments, named in [
        (["groups", a, "--types", "BOGUS"], "--types"),
        (["groups", a, "--min-stake", "2"], "--min-stake"),
        (["circles", "--as-of", "yesterday"], "--as-of"),
        (["circles", "--limit", "0"], "--limit"),
    ]:
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2 and named in result.output, (arguments, result.output)


def test_a_limit_that_leaves_no_cycle_out_truncates_nothing(
    graph: GraphStore,
    tmp_path: Path,
    embedded: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A guarantees B and C, each guarantees A back: two cycles through A. --limit 2 leaves
    none out; --limit 1 does, and says it was the limit, not a cap (docs/queries.md)."""
    reg = MiniRegistry()
    for name in "ABC":
        reg.firm(name)
    for a, b in [("A", "B"), ("B", "A"), ("A", "C"), ("C", "A")]:
        reg.relate(a, b)
    reg.load(graph, tmp_path)
    a = reg.key("A")

    both = circles_of(graph, a, as_of=AS_OF, limit=2)
    assert len(both.cycles) == 2 and not both.truncated and not both.limited
    one = circles_of(graph, a, as_of=AS_OF, limit=1)
    assert one.cycles == [[a, reg.key("B")]] and one.truncated and one.limited

    runner = cli_runner(monkeypatch, embedded, graph)
    day = ["--as-of", AS_OF.isoformat()]
    whole = runner.invoke(app, ["circles", reg.ids["A"], "--limit", "2", *day])
    assert (
        whole.exit_code == 0 and "truncated" not in whole.output and "--limit" not in whole.output
    )
    cut = runner.invoke(app, ["circles", reg.ids["A"], "--limit", "1", *day])
    assert "the first 1 listed (--limit)" in cut.output and "cap" not in cut.output, cut.output
    document = json.loads(runner.invoke(app, ["circles", reg.ids["A"], "--limit", "2", *day,
                                              "--json"]).stdout)  # fmt: skip
    assert document["truncated"] is False and len(document["cycles"]) == 2
    assert document["limited"] is False
    document = json.loads(
        runner.invoke(app, ["circles", reg.ids["A"], "--limit", "1", *day, "--json"]).stdout
    )
    assert (document["truncated"], document["limited"], len(document["cycles"])) == (True, True, 1)
