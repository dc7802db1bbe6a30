"""Suspected links with their evidence, on the real store: shared officers and shared contact
keys, worked out by hand, crowded evidence reported by count, and random officer graphs against
networkx."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.queries.links import LinkKind, LinksResult, suspected_links
from credgraph.queries.lookup import PartyKey
from credgraph.queries.tracing import ArgumentError
from hypothesis import given
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import MiniRegistry, cli_runner, random_parties, store_examples

AS_OF = date(2025, 6, 30)


def _links(result: LinksResult) -> set[tuple[str, PartyKey]]:
    return {(link.kind.value, link.party) for link in result.items}


def test_firms_sharing_a_person_are_linked_with_the_person_and_both_roles(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    for name in ("A", "B", "C", "D"):
        reg.firm(name)
    reg.person("P")
    reg.person("Q")
    reg.role("P", "A", "legal_representative")
    reg.role("P", "A", "director")
    reg.role("P", "B", "supervisor")
    reg.role("Q", "A", "cfo")
    reg.role("Q", "C", "manager", until="2020-01-01")  # Q left C: no current shared officer
    reg.role("Q", "D", "registered_professional")  # not an officer role
    reg.share("P", "D", 0.9)  # a shareholding is not an office
    reg.load(graph, tmp_path)
    a, b, c, p = reg.key("A"), reg.key("B"), reg.key("C"), reg.key("P")

    result = suspected_links(graph, a, as_of=AS_OF)

    assert _links(result) == {("shared_officer", b)}
    [link] = result.items
    assert link.evidence == {
        "person": p,
        "roles_here": ["director", "legal_representative"],
        "roles_there": ["supervisor"],
    }
    assert (
        result.parties[p]["id_masked"].startswith("3502") and "*" in result.parties[p]["id_masked"]
    )
    assert "id_number" not in result.parties[p]
    assert not result.truncated and not result.crowded

    formerly = suspected_links(graph, a, as_of=AS_OF, include_former=True)
    assert _links(formerly) == {("shared_officer", b), ("shared_officer", c)}
    assert _links(suspected_links(graph, a, as_of=date(2019, 1, 1))) == _links(formerly)


def test_a_role_held_through_several_relations_is_named_once_on_each_side(
    graph: GraphStore, tmp_path: Path
) -> None:
    """P is legal representative of A twice (two terms) and of B three times: each side's
    roles name it once, as `roles_here` always did."""
    reg = MiniRegistry()
    for name in ("A", "B"):
        reg.firm(name)
    reg.person("P")
    reg.role("P", "A", "legal_representative", since="2010-01-01", until="2015-01-01")
    reg.role("P", "A", "legal_representative", since="2015-01-01")
    for since in ("2011-01-01", "2016-01-01", "2021-01-01"):
        reg.role("P", "B", "legal_representative", since=since)
    reg.load(graph, tmp_path)

    [link] = suspected_links(graph, reg.key("A"), as_of=AS_OF, include_former=True).items
    assert link.evidence["roles_here"] == ["legal_representative"]
    assert link.evidence["roles_there"] == ["legal_representative"]


def test_shared_address_phone_and_email_are_matched_on_their_keys(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    reg.firm(
        "A", address="廈門市思明區 湖濱南路1號", phone="0592-555 0101", email="Boss@Example.CN"
    )
    reg.firm("B", address="厦门市思明区湖滨南路1号")  # traditional vs simplified, spaces
    reg.firm("C", phone="(0592) 5550101")
    reg.firm("D", email="boss@example.cn ")
    reg.firm("E", address="厦门市思明区湖滨南路2号", phone="0592-555 0102")
    reg.person("P", phone="05925550101")
    reg.load(graph, tmp_path)
    a = reg.key("A")

    result = suspected_links(graph, a, as_of=AS_OF)

    assert _links(result) == {
        ("shared_address", reg.key("B")),
        ("shared_phone", reg.key("C")),
        ("shared_phone", reg.key("P")),
        ("shared_email", reg.key("D")),
    }
    evidence = {link.kind: link.evidence for link in result.items}
    assert evidence[LinkKind.SHARED_PHONE]["key"] == "05925550101"
    assert evidence[LinkKind.SHARED_EMAIL]["key"] == "boss@example.cn"
    assert evidence[LinkKind.SHARED_ADDRESS]["address"] == "廈門市思明區 湖濱南路1號"
    # from the person's side: the phone links it back to both firms
    back = suspected_links(graph, reg.key("P"), as_of=AS_OF)
    assert _links(back) == {("shared_phone", a), ("shared_phone", reg.key("C"))}


def test_evidence_shared_by_too_many_parties_is_counted_not_listed(
    graph: GraphStore, tmp_path: Path
) -> None:
    reg = MiniRegistry()
    agent = "厦门市思明区代理大厦8楼"
    reg.firm("A", address=agent)
    reg.person("HUB")
    reg.role("HUB", "A", "director")
    for i in range(8):
        reg.firm(f"F{i}", address=agent)
        reg.role("HUB", f"F{i}", "supervisor")
    reg.firm("B")
    reg.person("P")
    reg.role("P", "A")
    reg.role("P", "B")
    reg.load(graph, tmp_path)

    result = suspected_links(graph, reg.key("A"), as_of=AS_OF, per_key_cap=5)

    assert _links(result) == {("shared_officer", reg.key("B"))}
    crowded = {(c.kind.value, c.parties) for c in result.crowded}
    assert crowded == {("shared_officer", 8), ("shared_address", 8)}
    hub = next(c for c in result.crowded if c.kind is LinkKind.SHARED_OFFICER)
    assert hub.evidence["person"] == reg.key("HUB") and hub.evidence["roles_here"] == ["director"]

    roomy = suspected_links(graph, reg.key("A"), as_of=AS_OF, per_key_cap=8)
    assert roomy.found == 17 and not roomy.crowded  # 8 + 1 officer links, 8 by address
    limited = suspected_links(graph, reg.key("A"), as_of=AS_OF, per_key_cap=8, limit=4)
    assert len(limited.items) == 4 and limited.found == 17 and limited.truncated


@pytest.mark.parametrize("argument", ["per_key_cap", "limit", "cap"])
def test_caps_below_one_are_refused_naming_them(graph: GraphStore, argument: str) -> None:
    with pytest.raises(ArgumentError) as raised:
        suspected_links(graph, PartyKey(Label.LEGAL_PERSON, "X"), **{argument: 0})  # type: ignore[arg-type]
    assert (raised.value.argument, str(raised.value)) == (
        argument,
        f"{argument}: must be at least 1",
    )


# --- random officer graphs against networkx -----------------------------------------------------

OFFICER_ROLES = ("legal_representative", "director", "supervisor", "manager", "principal")


@store_examples(12)
@given(data=st.data())
def test_shared_officers_agree_with_networkx_two_step_neighbours(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, persons = random_parties(data.draw, firms=(2, 7), persons=(1, 4))
    pairs = data.draw(
        st.lists(
            st.tuples(st.sampled_from(persons), st.sampled_from(firms)), max_size=12, unique=True
        )
    )
    reference = nx.Graph()
    reference.add_nodes_from(firms, bipartite=0)
    for person, firm in pairs:
        reg.role(person, firm, data.draw(st.sampled_from(OFFICER_ROLES)))
        reference.add_edge(person, firm)
    reg.reload(graph, tmp_path_factory)
    root = data.draw(st.sampled_from(firms))

    result = suspected_links(graph, reg.key(root), as_of=AS_OF)

    # (other firm, person) pairs: the person is a neighbour of both firms
    expected = {
        (other, person)
        for person in reference.neighbors(root)
        for other in reference.neighbors(person)
        if other != root
    }
    names = {reg.key(n): n for n in firms + persons}
    found = {(names[link.party], names[link.evidence["person"]]) for link in result.items}
    assert found == expected


def test_credgraph_links_prints_evidence_with_persons_masked(
    graph: GraphStore,
    tmp_path: Path,
    embedded: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = MiniRegistry()
    reg.firm("A", address="厦门市思明区1号")
    reg.firm("B", address="廈門市思明區1號")
    reg.firm("C")
    reg.person("P")
    reg.role("P", "A")
    reg.role("P", "C", "director")
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)

    purpose = ["--purpose", "investigation"]  # the shared officer is a person
    result = runner.invoke(
        app, ["links", reg.ids["A"], "--as-of", "2025-06-30", "--json", *purpose]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    found = {(item["kind"], item["party"]["id"]) for item in document["items"]}
    assert found == {("shared_address", reg.ids["B"]), ("shared_officer", reg.ids["C"])}
    officer = next(i for i in document["items"] if i["kind"] == "shared_officer")
    assert officer["evidence"]["person"]["id_masked"].count("*") >= 8
    assert officer["evidence"]["roles_there"] == ["director"]

    text = runner.invoke(app, ["links", reg.ids["A"], "--as-of", "2025-06-30", *purpose])
    assert text.exit_code == 0 and "shared_officer" in text.output
    for output in (result.output, text.output):
        assert reg.ids["P"] not in output

    bad = runner.invoke(app, ["links", reg.ids["A"], "--per-key-cap", "0"])
    assert bad.exit_code == 2 and "--per-key-cap" in bad.output
