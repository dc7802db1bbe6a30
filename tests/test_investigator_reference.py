"""The investigators' queries against references written here: random registries with dated
relations on the boundaries of the as-of date, stakes, parallel relations, POSSIBLY_SAME_AS and
credit records with lifecycles, loaded through the real loader, each answer compared with
networkx over the relations that should count; and every verb's JSON against its Python answer.

A relation counts on the as-of date when `valid_from` is empty or on/before it and `valid_to`
empty or after it (with former relations, ended ones count too); a record counts from its
decision date until its `valid_to` or its kind's default term, and not from the day a
revocation, repair or expiry takes effect, nor while an objection is open unless the profile
counts objections (docs/queries.md, docs/risk-model.md).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RecordKind, RelationType
from credgraph.queries import writes
from credgraph.queries.groups import circles_of, connected_group, guarantee_circles
from credgraph.queries.links import suspected_links
from credgraph.queries.lookup import PartyKey
from credgraph.queries.paths import shortest_paths
from credgraph.queries.profiles import BUILTIN_PROFILES, PolicyProfile
from credgraph.queries.tracing import trace_dishonest
from credgraph.queries.traversal import linked_parties, page
from hypothesis import given
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import MiniRegistry, cli_runner, random_parties, store_examples

AS_OF = date(2025, 6, 30)
# the day before, the day of, and the day after the as-of date, or no date
DAYS = ["", "2025-06-29", "2025-06-30", "2025-07-01"]
SPANS = st.tuples(st.sampled_from(DAYS), st.sampled_from(DAYS)).filter(
    lambda span: not span[0] or not span[1] or span[1] >= span[0]
)
# decision dates around the as-of date and around the default terms' ends (3 and 5 years)
DECIDED = [AS_OF - timedelta(days=n) for n in (-1, 0, 1)] + [
    date(2022, 6, 30),
    date(2022, 7, 1),
    date(2020, 6, 30),
    date(2020, 7, 1),
]


def _counts_now(since: str, until: str, former: bool) -> bool:
    if since and date.fromisoformat(since) > AS_OF:
        return False
    return former or not until or date.fromisoformat(until) > AS_OF


def _record_counts(
    kind: str,
    decided: date,
    valid_to: str,
    changes: list[tuple[str, date]],
    profile: PolicyProfile,
) -> bool:
    term = profile.default_term.get(RecordKind(kind))
    if valid_to:
        end: date | None = date.fromisoformat(valid_to)
    else:
        end = term.after(decided) if term is not None else None
    if decided > AS_OF or (end is not None and end <= AS_OF):
        return False
    if any(c in ("revoked", "repaired", "expired") and day <= AS_OF for c, day in changes):
        return False
    return profile.count_under_objection or not _under_objection(changes)


def _under_objection(changes: list[tuple[str, date]]) -> bool:
    """Whether the objections opened and closed by AS_OF leave the record under objection:
    day by day, each time a change that changes the record as it then stands (an opening of
    one not under objection, a closing of one under objection), so that an objection opened
    and closed on one day leaves the record as the day found it (docs/risk-model.md)."""
    under = False
    for day in sorted({day for _, day in changes if day <= AS_OF}):
        opens = sum(1 for c, d in changes if c == "objection_opened" and d == day)
        closes = sum(1 for c, d in changes if c == "objection_closed" and d == day)
        while (not under and opens) or (under and closes):
            if under:
                under, closes = False, closes - 1
            else:
                under, opens = True, opens - 1
    return under


@store_examples(40)
@given(data=st.data())
def test_traced_parties_are_those_with_a_record_counting_on_the_date(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, persons = random_parties(data.draw, firms=(2, 7), persons=(0, 3))
    reference: nx.MultiGraph = nx.MultiGraph()
    reference.add_nodes_from(firms + persons)
    former = data.draw(st.booleans())
    if persons:
        roles = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
        for person, firm in data.draw(st.lists(roles, max_size=6)):
            since, until = data.draw(SPANS)
            reg.role(person, firm, "director", since=since, until=until)
            if _counts_now(since, until, former):
                reference.add_edge(person, firm)
    pairs = st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(lambda p: p[0] != p[1])
    for a, b in data.draw(st.lists(pairs, max_size=8)):
        since, until = data.draw(SPANS)
        kind = data.draw(st.sampled_from(["guarantees", "supplies"]))
        reg.relate(a, b, kind, since=since, until=until)
        if _counts_now(since, until, former):
            reference.add_edge(a, b)
    profile = BUILTIN_PROFILES[data.draw(st.sampled_from(["default", "strict"]))]
    counting: dict[str, set[str]] = {}
    for i in range(data.draw(st.integers(0, 6))):
        subject = data.draw(st.sampled_from(firms + persons))
        kind = data.draw(st.sampled_from(["blacklist", "dishonest_debtor", "red_list"]))
        decided = data.draw(st.sampled_from(DECIDED))
        ends = [d for d in DAYS if not d or date.fromisoformat(d) >= decided]
        valid_to = data.draw(st.sampled_from(ends))
        status = data.draw(st.sampled_from(["active", "active", "under_objection"]))
        reg.record(f"R{i}", subject, kind, status=status, decided=decided.isoformat(),
                   valid_to=valid_to)  # fmt: skip
        changes = [("objection_opened", date(2020, 1, 1))] if status == "under_objection" else []
        kinds = ["revoked", "repaired", "expired", "objection_opened", "objection_closed"]
        if kind == "red_list":
            kinds.remove("repaired")  # the loader refuses it: credit repair ends a sanction
        for change in data.draw(st.lists(st.sampled_from(kinds), max_size=2)):
            # the loader refuses a repair or an expiry before the record starts
            ending = change in ("repaired", "expired")
            days = [d for d in DAYS[1:] if not ending or date.fromisoformat(d) >= decided]
            if not days:
                continue
            day = data.draw(st.sampled_from(days))
            reg.change(f"R{i}", change, day)
            changes.append((change, date.fromisoformat(day)))
        if kind != "red_list" and _record_counts(kind, decided, valid_to, changes, profile):
            counting.setdefault(subject, set()).add(f"R{i}")
    reg.reload(graph, tmp_path_factory)
    root = data.draw(st.sampled_from(firms + persons))
    depth = data.draw(st.integers(1, 4))

    result = trace_dishonest(
        graph, reg.key(root), profile, depth=depth, as_of=AS_OF, include_former=former
    )

    names = {reg.key(n): n for n in firms + persons}
    lengths = nx.single_source_shortest_path_length(reference, root, cutoff=depth)
    expected = {n: d for n, d in lengths.items() if n in counting and n != root}
    assert {names[item.party]: item.distance for item in result.items} == expected
    assert result.found == len(expected) and not result.truncated
    for item in result.items:
        assert {r.record_id for r in item.records if r.counts} == counting[names[item.party]]
        walked = [root] + [names[hop["to"]] for hop in item.path]
        assert walked[-1] == names[item.party] and nx.is_path(reference, walked)


@store_examples(40)
@given(data=st.data())
def test_linked_parties_pages_caps_and_paths_agree_with_networkx(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg, firms, persons = random_parties(data.draw, firms=(2, 7), persons=(1, 3))
    everyone = firms + persons
    former = data.draw(st.booleans())
    min_stake = data.draw(st.sampled_from([0.0, 0.3, 0.5]))
    same_as = data.draw(st.booleans())
    kinds = [
        RelationType.SHAREHOLDER_OF,
        RelationType.EXECUTIVE_OF,
        RelationType.GUARANTEES,
        RelationType.SUPPLIES,
    ]
    types = set(data.draw(st.lists(st.sampled_from(kinds), min_size=1, unique=True)))
    # edges keyed by the relation's key, as the loader writes it (source:source_record)
    reference: nx.MultiGraph = nx.MultiGraph()
    reference.add_nodes_from(everyone)
    roles = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
    for person, firm in data.draw(st.lists(roles, max_size=5)):
        since, until = data.draw(SPANS)
        reg.role(person, firm, "director", since=since, until=until)
        if _counts_now(since, until, former) and RelationType.EXECUTIVE_OF in types:
            reference.add_edge(person, firm, key=f"roles:{reg.roles[-1][-1]}")
    holdings = st.tuples(st.sampled_from(everyone), st.sampled_from(firms)).filter(
        lambda p: p[0] != p[1]
    )
    for holder, held in data.draw(st.lists(holdings, max_size=5)):
        since, until = data.draw(SPANS)
        stake = data.draw(st.sampled_from([None, 0.3, 0.5, 0.9]))
        reg.share(holder, held, stake, since=since, until=until)
        if (
            _counts_now(since, until, former)
            and RelationType.SHAREHOLDER_OF in types
            and (stake or 0.0) >= min_stake
        ):
            reference.add_edge(holder, held, key=f"shareholdings:{reg.shares[-1][-1]}")
    pairs = st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(lambda p: p[0] != p[1])
    for a, b in data.draw(st.lists(pairs, max_size=7)):
        since, until = data.draw(SPANS)
        kind = data.draw(st.sampled_from(["guarantees", "supplies"]))
        reg.relate(a, b, kind, since=since, until=until)
        if _counts_now(since, until, former) and RelationType(kind.upper()) in types:
            reference.add_edge(a, b, key=f"firm_relations:{reg.firm_relations[-1][-1]}")
    same = data.draw(st.lists(pairs, max_size=2, unique=True))
    reg.reload(graph, tmp_path_factory)
    for a, b in same:
        key = f"same-name:{a}:{b}"
        row = {"from_uid": reg.key(a).uid, "to_uid": reg.key(b).uid, "key": key, "props": {}}
        graph.write(
            writes.POSSIBLY_SAME_AS_WRITES[Label.LEGAL_PERSON],
            {"rows": [row], "lineage": {"source": "test"}},
        )
        if same_as:
            reference.add_edge(a, b, key=key)
    names = {reg.key(n): n for n in everyone}
    keys = {n: reg.key(n) for n in everyone}
    root = data.draw(st.sampled_from(everyone))
    depth = data.draw(st.integers(1, 4))
    chosen: dict[str, Any] = {
        "relation_types": sorted(types),
        "as_of": AS_OF,
        "include_former": former,
        "min_stake": min_stake,
        "follow_same_as": same_as,
    }

    result = linked_parties(graph, keys[root], depth=depth, **chosen)

    expected = nx.single_source_shortest_path_length(reference, root, cutoff=depth)
    del expected[root]
    listed = {names[item.key]: item.depth for item in result.items}
    assert listed == expected and not result.truncated
    distance = nx.single_source_shortest_path_length(reference, root)
    for item in result.items:  # the parent: the smallest party one level nearer
        nearer = {
            other
            for other in reference.neighbors(names[item.key])
            if distance[other] == item.depth - 1
        }
        assert item.parent == min(keys[other] for other in nearer)
        assert item.via.properties["key"] in reference[names[item.parent]][names[item.key]]

    # walking every page lists each party once, in the answer's order
    first = data.draw(st.integers(1, 4))
    walked: list[PartyKey] = []
    after: str | None = None
    while True:
        chunk = page(result, first=first, after=after)
        walked += [item.key for item in chunk.items]
        if not chunk.has_next_page:
            break
        after = chunk.end_cursor
    assert walked == [item.key for item in result.items]

    # a cap keeps every nearer level whole and lists nothing beyond the level it cut
    capped = linked_parties(graph, keys[root], depth=depth, cap=data.draw(st.integers(1, 6)),
                            **chosen)  # fmt: skip
    kept = {names[item.key]: item.depth for item in capped.items}
    if capped.truncated:
        cut = capped.explored_depth
        assert {n: d for n, d in kept.items() if d < cut} == {
            n: d for n, d in expected.items() if d < cut
        }
        assert set(kept.items()) <= set(expected.items()) and max(kept.values(), default=0) <= cut
    else:
        assert kept == listed

    # the k shortest paths: all simple paths up to max_depth, by length then parties' keys
    target = data.draw(st.sampled_from([n for n in everyone if n != root]))
    k, max_depth = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    paths = shortest_paths(graph, keys[root], keys[target], k=k, max_depth=max_depth, **chosen)
    simple = nx.all_simple_paths(nx.Graph(reference), root, target, cutoff=max_depth)
    every = sorted(([keys[n] for n in p] for p in simple), key=lambda p: (len(p), p))
    assert [path.parties for path in paths.paths] == every[:k] and not paths.truncated
    for path in paths.paths:
        for hop in path.hops:
            between = reference[names[hop.from_key]][names[hop.to_key]]
            assert hop.relation.properties["key"] in between
            assert {hop.relation.from_key, hop.relation.to_key} == {hop.from_key, hop.to_key}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@store_examples(40)
@given(data=st.data())
def test_links_groups_and_circles_agree_with_references(
    graph: GraphStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    reg = MiniRegistry()
    firms = [f"F{i}" for i in range(data.draw(st.integers(2, 6)))]
    persons = [f"P{i}" for i in range(data.draw(st.integers(1, 3)))]
    phones = st.sampled_from(["", "0592-111", "(0592)111", "0592-222"])
    addresses = st.sampled_from(["", "思明路1号", "思明路 1 号", "湖里路2号"])
    for firm in firms:
        reg.firm(firm, phone=data.draw(phones), address=data.draw(addresses))
    for person in persons:
        email = data.draw(st.sampled_from(["", "a@b.cn", "A@B.CN"]))
        reg.person(person, phone=data.draw(phones), email=email)
    former = data.draw(st.booleans())
    min_stake = data.draw(st.sampled_from([0.0, 0.5, 0.6]))
    offices: dict[tuple[str, str], set[str]] = {}
    control: nx.MultiGraph = nx.MultiGraph()
    guarantees: nx.DiGraph = nx.DiGraph()
    guarantees.add_nodes_from(firms)
    held = st.tuples(st.sampled_from(persons), st.sampled_from(firms))
    for person, firm in data.draw(st.lists(held, max_size=7)):
        since, until = data.draw(SPANS)
        role = data.draw(st.sampled_from(["legal_representative", "director", "principal"]))
        reg.role(person, firm, role, since=since, until=until)
        if _counts_now(since, until, former):
            offices.setdefault((person, firm), set()).add(role)
            if role == "legal_representative":
                control.add_edge(person, firm)
    holdings = st.tuples(st.sampled_from(firms + persons), st.sampled_from(firms)).filter(
        lambda p: p[0] != p[1]
    )
    for holder, firm in data.draw(st.lists(holdings, max_size=5)):
        since, until = data.draw(SPANS)
        stake = data.draw(st.sampled_from([None, 0.5, 0.7, 0.2]))
        reg.share(holder, firm, stake, since=since, until=until)
        if _counts_now(since, until, former) and (stake or 0.0) >= min_stake:
            control.add_edge(holder, firm)
    pairs = st.tuples(st.sampled_from(firms), st.sampled_from(firms)).filter(lambda p: p[0] != p[1])
    for a, b in data.draw(st.lists(pairs, max_size=9)):
        since, until = data.draw(SPANS)
        reg.relate(a, b, "guarantees", since=since, until=until)
        if _counts_now(since, until, former):
            guarantees.add_edge(a, b)
    reg.reload(graph, tmp_path_factory)
    names = {reg.key(n): n for n in firms + persons}
    root = data.draw(st.sampled_from(firms + persons))

    # suspected links: officers in office at both firms, and the matching keys of contacts
    links = suspected_links(graph, reg.key(root), as_of=AS_OF, include_former=former)
    expected: set[tuple[str, ...]] = set()
    for (person, firm), here in offices.items():
        for (other_person, other), there in offices.items():
            if firm == root and other_person == person and other != root:
                roles = (",".join(sorted(here)), ",".join(sorted(there)))
                expected.add(("shared_officer", other, person, *roles))
    contacts = {f: (reg.firms[f][3].replace(" ", ""), _digits(reg.firms[f][4]), "") for f in firms}
    contacts |= {p: ("", _digits(reg.persons[p][4]), reg.persons[p][5].lower()) for p in persons}
    for kind, index in (("shared_address", 0), ("shared_phone", 1), ("shared_email", 2)):
        mine = contacts[root][index]
        for other, theirs in contacts.items():
            if mine and other != root and theirs[index] == mine:
                expected.add((kind, other))
    found: set[tuple[str, ...]] = set()
    for link in links.items:
        if link.kind.value == "shared_officer":
            e = link.evidence
            roles = (",".join(e["roles_here"]), ",".join(e["roles_there"]))
            found.add((link.kind.value, names[link.party], names[e["person"]], *roles))
        else:
            found.add((link.kind.value, names[link.party]))
    assert found == expected and links.found == len(found) and not links.truncated

    # the control group: the component of the root over the relations that count
    group = connected_group(
        graph, reg.key(root), as_of=AS_OF, include_former=former, min_stake=min_stake
    )
    control.add_node(root)
    component = nx.node_connected_component(control, root)
    assert {names[key]: d for key, d in group.distance.items()} == dict(
        nx.single_source_shortest_path_length(control, root)
    )
    assert len(group.relations) == control.subgraph(component).number_of_edges()

    # guarantee circles: every elementary cycle through the party once, none invented
    if root in firms:
        mine = circles_of(graph, reg.key(root), as_of=AS_OF, include_former=former)
        cycles = []
        for cycle in nx.simple_cycles(guarantees):
            if root in cycle:
                at = cycle.index(root)
                cycles.append(tuple(cycle[at:] + cycle[:at]))
        assert sorted(tuple(names[m] for m in c) for c in mine.cycles) == sorted(cycles)
        assert len(mine.cycles) == len(cycles)
        scc = next(c for c in nx.strongly_connected_components(guarantees) if root in c)
        assert {names[m] for m in mine.members} == (scc if len(scc) > 1 else set())
    everything = guarantee_circles(graph, as_of=AS_OF, include_former=former)
    assert {frozenset(names[m] for m in c.members) for c in everything.circles} == {
        frozenset(c) for c in nx.strongly_connected_components(guarantees) if len(c) > 1
    }


# --- the verbs' JSON is the Python answer ---------------------------------------------------


def _by_id(value: Any) -> Any:
    """Python answers and CLI documents on one footing: parties by id, dates and codes as text."""
    if isinstance(value, PartyKey):
        return value.uid
    if isinstance(value, dict):
        if "label" in value and "id" in value:
            return value["id"]
        return {str(k): _by_id(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_by_id(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _everything() -> MiniRegistry:
    """A guarantee circle A -> B -> C -> A, A and C at one address, A and E on one phone, P and
    Q on one e-mail; P represents A and became B's director on the as-of date, Q stopped
    representing C that day; C blacklisted that day, B's blacklisting repaired that day."""
    reg = MiniRegistry()
    for name in "ABCDE":
        phone = "0592-1234567" if name in "AE" else ""
        reg.firm(name, phone=phone, address="厦门市思明区1号" if name in "AC" else "")
    reg.person("P", email="p@x.cn")
    reg.person("Q", email="P@X.CN")
    reg.role("P", "A", "legal_representative", since="2020-01-01")
    reg.role("P", "B", "director", since="2025-06-30")
    reg.role("Q", "C", "legal_representative", until="2025-06-30")
    reg.share("A", "B", 0.6)
    reg.share("B", "C", 0.5)
    reg.share("Q", "D", 0.49)
    reg.relate("A", "B")
    reg.relate("B", "C")
    reg.relate("C", "A")
    reg.relate("C", "D", "supplies", since="2025-07-01")
    reg.record("BL-C", "C", "blacklist", decided="2025-06-30")
    reg.record("BL-D", "D", "dishonest_debtor", decided="2024-01-01")
    reg.record("BL-B", "B", "blacklist", decided="2024-01-01")
    reg.change("BL-B", "repaired", "2025-06-30")
    return reg


def test_every_verbs_json_is_its_python_answer(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    reg = _everything()
    reg.load(graph, tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    k, ids, day = reg.key, reg.ids, AS_OF.isoformat()

    def cli(*args: str) -> Any:
        answer = runner.invoke(app, [*args, "--as-of", day, "--json", "--purpose", "investigation"])
        assert answer.exit_code == 0, answer.output
        return json.loads(answer.stdout)

    traced = trace_dishonest(graph, k("A"), BUILTIN_PROFILES["default"], depth=3, as_of=AS_OF)
    assert [(item.party, item.distance) for item in traced.items] == [(k("C"), 1)]
    document = cli("trace", ids["A"], "--depth", "3")
    assert _by_id(document["items"]) == _by_id(
        [
            {"party": i.party, "distance": i.distance, "path": i.path,
             "records": [vars(r) for r in i.records]}
            for i in traced.items
        ]
    )  # fmt: skip
    assert (document["total"], document["truncated"], document["explored_depth"]) == (1, False, 2)

    for name, expected in [
        ("A", {("shared_officer", "B"), ("shared_address", "C"), ("shared_phone", "E")}),
        ("P", {("shared_email", "Q")}),
    ]:
        links = suspected_links(graph, k(name), as_of=AS_OF)
        assert {(link.kind.value, ids[n]) for link in links.items for n in ids
                if k(n) == link.party} == {(kind, ids[n]) for kind, n in expected}  # fmt: skip
        document = cli("links", ids[name])
        assert _by_id(document["items"]) == _by_id(
            [{"kind": i.kind, "party": i.party, "evidence": i.evidence} for i in links.items]
        )

    group = connected_group(graph, k("A"), as_of=AS_OF)
    assert group.members == [k("A"), k("B"), k("P"), k("C")]
    document = cli("groups", ids["A"])
    assert [m["id"] for m in document["members"]] == [m.uid for m in group.members]
    assert _by_id(document["relations"]) == _by_id(group.relations)

    mine = circles_of(graph, k("B"), as_of=AS_OF)
    assert mine.cycles == [[k("B"), k("C"), k("A")]]
    document = cli("circles", ids["B"])
    assert _by_id([document["members"], document["cycles"]]) == _by_id([mine.members, mine.cycles])
    every = guarantee_circles(graph, as_of=AS_OF)
    document = cli("circles")
    assert _by_id(document["circles"]) == _by_id(
        [{"members": c.members, "cycle": c.cycle} for c in every.circles]
    )

    walk = linked_parties(graph, k("A"), depth=3, as_of=AS_OF)
    document = cli("linked", ids["A"], "--depth", "3", "--first", "1000")
    assert [(i["party"]["id"], i["depth"], i["parent"]) for i in document["items"]] == [
        (i.key.uid, i.depth, i.parent.uid) for i in walk.items
    ]
    found = shortest_paths(graph, k("A"), k("C"), k=5, as_of=AS_OF)
    document = cli("paths", ids["A"], ids["C"], "--k", "5")
    assert _by_id(document["paths"]) == _by_id(
        [
            {"length": p.length, "parties": p.parties, "hops": [h.summary() for h in p.hops]}
            for p in found.paths
        ]
    )
    # C -> A; A - B - C (a guarantee and a stake each hop: one path of parties); A - P - B - C
    assert [p.length for p in found.paths] == [1, 2, 3]
