"""Dishonest-party tracing on the real store: named graphs worked out by hand, and random graphs
checked against networkx shortest-path lengths."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RelationType
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.tracing import ArgumentError, TraceResult, trace_dishonest
from hypothesis import given
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import MiniRegistry, cli_runner, random_parties, store_examples

DEFAULT = BUILTIN_PROFILES["default"]
STRICT = BUILTIN_PROFILES["strict"]
AS_OF = date(2025, 6, 30)
# the verb's answers below reach the person P: asked with a purpose, as an investigator does
PURPOSE = ["--purpose", "investigation"]


def _hits(result: TraceResult) -> dict[PartyKey, int]:
    return {item.party: item.distance for item in result.items}


def _shared_legal_rep() -> MiniRegistry:
    """A <-legal rep- P -legal rep-> B, and B is blacklisted."""
    reg = MiniRegistry()
    reg.firm("A")
    reg.firm("B")
    reg.person("P")
    reg.role("P", "A", "legal_representative", since="2015-01-01")
    reg.role("P", "B", "legal_representative", since="2016-01-01")
    reg.record("BL-B", "B", "blacklist", decided="2024-03-01", valid_to="2027-03-01")
    return reg


def test_a_blacklisted_firm_is_found_through_the_shared_legal_representative(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = _shared_legal_rep()
    reg.load(graph, tmp_path)
    a, b, p = reg.key("A"), reg.key("B"), reg.key("P")

    result = trace_dishonest(graph, a, DEFAULT, depth=2, as_of=AS_OF)

    assert _hits(result) == {b: 2}
    hit = result.items[0]
    assert [(h["from"], h["to"], h["type"], h["direction"], h["role"]) for h in hit.path] == [
        (a, p, "LEGAL_REPRESENTATIVE_OF", "in", "legal_representative"),
        (p, b, "LEGAL_REPRESENTATIVE_OF", "out", "legal_representative"),
    ]
    assert hit.path[0]["valid_from"] == date(2015, 1, 1) and hit.path[0]["valid_to"] is None
    assert hit.path[1]["source"] == "roles" and hit.path[1]["source_record"] == "r1"
    [record] = hit.records
    assert (record.record_id, record.kind, record.status) == ("BL-B", "blacklist", "active")
    assert record.counts and not record.under_objection
    assert record.authority == "厦门市应急管理局"
    assert (result.explored_depth, result.truncated, result.found) == (2, False, 1)
    # the person is shown by masked number only; the firm by its code
    assert result.parties[p]["id_masked"].count("*") >= 8
    assert result.parties[b]["uscc"] == b.uid
    # one step is not enough
    assert _hits(trace_dishonest(graph, a, DEFAULT, depth=1, as_of=AS_OF)) == {}


def test_ended_records_are_not_found_and_as_of_answers_as_the_graph_stood(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Hub H has a legal rep in five firms: one revoked, one repaired in 2025-03, one whose
    term ran out, one listed as revoked, one still active."""
    reg = MiniRegistry()
    reg.firm("H")
    for name in ("REVOKED", "REPAIRED", "EXPIRED", "LISTED_REVOKED", "ACTIVE"):
        reg.firm(name)
        reg.share("H", name, 0.6)
    reg.record("R1", "REVOKED", decided="2024-01-01")
    reg.change("R1", "revoked", "2024-06-01")
    reg.record("R2", "REPAIRED", decided="2024-01-01")
    reg.change("R2", "repaired", "2025-03-01")
    reg.record("R3", "EXPIRED", "admin_penalty", decided="2023-01-01", valid_to="2024-01-01")
    reg.record("R4", "LISTED_REVOKED", status="revoked", decided="2024-01-01")
    reg.record("R5", "ACTIVE", "dishonest_debtor", decided="2024-01-01")
    reg.record("G1", "H", "red_list", decided="2024-01-01")  # positive: never a hit
    reg.load(graph, tmp_path)
    h = reg.key("H")

    now = trace_dishonest(graph, h, DEFAULT, depth=1, as_of=AS_OF)
    assert _hits(now) == {reg.key("ACTIVE"): 1}

    before_repair = trace_dishonest(graph, h, DEFAULT, depth=1, as_of=date(2025, 2, 1))
    assert _hits(before_repair) == {reg.key("ACTIVE"): 1, reg.key("REPAIRED"): 1}

    before_expiry = trace_dishonest(graph, h, DEFAULT, depth=1, as_of=date(2023, 6, 1))
    assert _hits(before_expiry) == {reg.key("EXPIRED"): 1}  # the others were not decided yet


def test_a_record_under_objection_is_flagged_and_counts_only_where_the_profile_says(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    reg.firm("A")
    reg.firm("B")
    reg.firm("C")
    reg.relate("A", "B", "supplies")
    reg.relate("C", "A", "supplies")
    reg.record("OB", "B", "blacklist", decided="2024-01-01")
    reg.change("OB", "objection_opened", "2024-05-01")
    reg.record("OC", "C", "blacklist", decided="2024-01-01")
    reg.record("OC2", "C", "admin_penalty", status="under_objection", decided="2024-02-01")
    reg.load(graph, tmp_path)
    a, b, c = reg.key("A"), reg.key("B"), reg.key("C")

    default = trace_dishonest(graph, a, DEFAULT, depth=1, as_of=AS_OF)
    assert _hits(default) == {c: 1}  # B's only record is suspended by the objection
    c_records = {r.record_id: r for r in default.items[0].records}
    assert c_records["OC"].counts and not c_records["OC"].under_objection
    assert c_records["OC2"].under_objection and not c_records["OC2"].counts  # shown, flagged

    strict = trace_dishonest(graph, a, STRICT, depth=1, as_of=AS_OF)
    assert _hits(strict) == {b: 1, c: 1}
    [b_record] = next(item for item in strict.items if item.party == b).records
    assert b_record.under_objection and b_record.counts and b_record.status == "under_objection"
    assert [h["direction"] for h in strict.items[0].path] == ["out"]  # A supplies B


def test_former_relations_are_followed_only_when_asked_or_as_of_before_they_ended(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    reg.firm("A")
    reg.firm("B")
    reg.person("P")
    reg.role("P", "A", since="2010-01-01", until="2020-01-01")  # a former legal rep
    reg.role("P", "B", since="2010-01-01")
    reg.record("BL", "B", decided="2019-01-01", valid_to="2030-01-01")
    reg.load(graph, tmp_path)
    a, b = reg.key("A"), reg.key("B")

    assert _hits(trace_dishonest(graph, a, DEFAULT, depth=2, as_of=AS_OF)) == {}
    formerly = trace_dishonest(graph, a, DEFAULT, depth=2, as_of=AS_OF, include_former=True)
    assert _hits(formerly) == {b: 2}
    assert formerly.items[0].path[0]["valid_to"] == date(2020, 1, 1)
    assert _hits(trace_dishonest(graph, a, DEFAULT, depth=2, as_of=date(2019, 6, 1))) == {b: 2}


def test_relation_types_limit_the_walk(graph: GraphStore, tmp_path: Path) -> None:
    reg = _shared_legal_rep()
    reg.load(graph, tmp_path)
    a = reg.key("A")
    only_shares = trace_dishonest(
        graph, a, DEFAULT, depth=2, as_of=AS_OF, relation_types=[RelationType.SHAREHOLDER_OF]
    )
    assert _hits(only_shares) == {} and only_shares.parties_reached == 0


def test_a_hub_beyond_the_cap_truncates_and_says_how_far_it_got(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    reg.firm("A")
    reg.person("HUB")
    reg.role("HUB", "A")
    for i in range(12):
        reg.firm(f"F{i}")
        reg.role("HUB", f"F{i}", "director")
        reg.record(f"BL{i}", f"F{i}")
    reg.load(graph, tmp_path)
    a = reg.key("A")

    capped = trace_dishonest(graph, a, DEFAULT, depth=3, as_of=AS_OF, cap=5)
    assert capped.truncated and capped.explored_depth == 2
    assert len(capped.items) <= 5

    limited = trace_dishonest(graph, a, DEFAULT, depth=3, as_of=AS_OF, limit=3)
    assert limited.found == 12 and len(limited.items) == 3 and limited.truncated
    assert limited.explored_depth == 3

    full = trace_dishonest(graph, a, DEFAULT, depth=2, as_of=AS_OF)
    assert full.found == 12 and not full.truncated


@pytest.mark.parametrize("depth", [0, 5, -1])
def test_depth_outside_one_to_four_is_refused_naming_it(graph: GraphStore, depth: int) -> None:
    with pytest.raises(ArgumentError, match=r"^depth: ") as raised:
        trace_dishonest(
            graph, PartyKey(Label.LEGAL_PERSON, "91350203MA0000000X"), DEFAULT, depth=depth
        )
    assert raised.value.argument == "depth"


def test_a_record_relation_is_not_a_party_relation(graph: GraphStore) -> None:
    with pytest.raises(ArgumentError, match="relation_types"):
        trace_dishonest(
            graph,
            PartyKey(Label.LEGAL_PERSON, "91350203MA0000000X"),
            DEFAULT,
            relation_types=[RelationType.SUBJECT_OF],
        )


# --- random graphs against networkx ------------------------------------------------------------

ROLE_TYPES = ("legal_representative", "director", "supervisor")


@st.composite
def random_registries(draw: st.DrawFn) -> tuple[MiniRegistry, nx.Graph, set[str], str, int]:
    reg, firms, persons = random_parties(draw, firms=(2, 8), persons=(0, 4))
    reference = nx.Graph()
    reference.add_nodes_from(firms + persons)
    pairs = st.tuples(st.sampled_from(persons or ["-"]), st.sampled_from(firms))
    for person, firm in draw(st.lists(pairs, max_size=8 if persons else 0, unique=True)):
        reg.role(person, firm, draw(st.sampled_from(ROLE_TYPES)))
        reference.add_edge(person, firm)
    firm_pairs = st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(
        lambda p: p[0] != p[1]
    )
    for holder, held in draw(st.lists(firm_pairs, max_size=8, unique=True)):
        if draw(st.booleans()):
            reg.share(holder, held, 0.3)
        else:
            reg.relate(holder, held, draw(st.sampled_from(["guarantees", "supplies"])))
        reference.add_edge(holder, held)
    dishonest = set(draw(st.lists(st.sampled_from(firms + persons), max_size=5, unique=True)))
    for i, name in enumerate(sorted(dishonest)):
        reg.record(f"X{i}", name, draw(st.sampled_from(["blacklist", "dishonest_debtor"])))
    root = draw(st.sampled_from(firms + persons))
    return reg, reference, dishonest, root, draw(st.integers(1, 4))


@store_examples(15)
@given(case=random_registries())
def test_random_graphs_agree_with_networkx_shortest_paths(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, case: tuple
) -> None:
    reg, reference, dishonest, root, depth = case
    reg.reload(graph, tmp_path_factory)
    names = {reg.key(name): name for name in reference.nodes}

    result = trace_dishonest(graph, reg.key(root), DEFAULT, depth=depth, as_of=AS_OF)

    lengths = nx.single_source_shortest_path_length(reference, root, cutoff=depth)
    expected = {n: d for n, d in lengths.items() if n in dishonest and n != root}
    assert {names[k]: d for k, d in _hits(result).items()} == expected
    for item in result.items:
        assert len(item.path) == item.distance
        walked = [names[item.path[0]["from"]]] + [names[h["to"]] for h in item.path]
        assert walked[0] == root and walked[-1] == names[item.party]
        assert nx.is_path(reference, walked)


# --- the command line ---------------------------------------------------------------------------


def test_credgraph_trace_prints_the_path_with_persons_masked(
    graph: GraphStore,
    tmp_path: Path,
    embedded: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = _shared_legal_rep()
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    firm_a, raw_number = reg.ids["A"], reg.ids["P"]

    result = runner.invoke(
        app, ["trace", firm_a, "--depth", "2", "--as-of", "2025-06-30", "--json", *PURPOSE]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [item] = document["items"]
    assert item["party"]["id"] == reg.ids["B"] and item["distance"] == 2
    person = item["path"][0]["to"]
    assert person["label"] == "NaturalPerson" and "*" in person["id_masked"]
    assert item["records"][0]["record_id"] == "BL-B" and item["records"][0]["counts"] is True
    assert document["explored_depth"] == 2 and document["truncated"] is False

    text = runner.invoke(app, ["trace", firm_a, "--as-of", "2025-06-30", *PURPOSE])
    assert text.exit_code == 0, text.output
    assert "BL-B" in text.output and person["id_masked"] in text.output
    # by the person's own number: found, hashed on arrival, never echoed
    by_person = runner.invoke(
        app, ["trace", raw_number, "--depth", "1", "--as-of", "2025-06-30", *PURPOSE]
    )
    assert by_person.exit_code == 0, by_person.output
    for output in (result.output, text.output, by_person.output):
        assert raw_number not in output


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--depth", "5"], "--depth"),
        (["--depth", "0"], "--depth"),
        (["--as-of", "2025-13-01"], "--as-of"),
        (["--types", "SUBJECT_OF"], "--types"),
        (["--types", "OWNS"], "--types"),
        (["--types", ","], "--types"),  # no type at all
        (["--profile", "nosuch"], "--profile"),
    ],
)
def test_credgraph_trace_refuses_bad_arguments_naming_them(
    graph: GraphStore,
    embedded: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    named: str,
) -> None:
    runner = cli_runner(monkeypatch, embedded, graph)
    result = runner.invoke(app, ["trace", "91350203MA0000000X", *arguments])
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_credgraph_trace_names_a_bad_or_unknown_id(
    graph: GraphStore, embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = cli_runner(monkeypatch, embedded, graph)
    bad = runner.invoke(app, ["trace", "hello"])
    assert bad.exit_code == 2 and "ID:" in bad.output
    unknown = runner.invoke(app, ["trace", MiniRegistry().firm("Z")])
    assert unknown.exit_code == 1 and "no party" in unknown.output
