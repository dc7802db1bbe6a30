"""The neighbourhood a picture shows: nodes, edges, notices, and how a large one is cut down.

One structure feeds every picture: the page builds the same shape in JavaScript from GraphQL
answers (viz/static/graph.js), the exports (viz/export.py) build it here from the store through
`credgraph.queries`. Node kinds are `LegalPerson`, `NaturalPerson`, `Record` and `Cluster`
(leaves of a hub folded into one node with a count).

`cluster_leaves` is the cap: past `max_nodes`, the leaves of each hub are folded per relation
type and direction into cluster nodes, and if that is still too many, the farthest parties are
left out; every cut is said in `notices`, so a picture never pretends to be complete when it is
not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

from credgraph.graph import clock
from credgraph.graph.store import GraphStore, native
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.lookup import PartyKey, fetch_parties
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.records import RecordState, fetch_record_states
from credgraph.queries.scores import stored_scores
from credgraph.queries.traversal import LinkedResult, linked_parties

LEGAL_PERSON = "LegalPerson"
NATURAL_PERSON = "NaturalPerson"
RECORD = "Record"
CLUSTER = "Cluster"

_Item = TypeVar("_Item", "VizNode", "VizEdge")

# the page and the exports cut at the same size (viz/static/graph.js: MAX_NODES)
MAX_NODES = 300
# a hub is folded only when it has at least this many leaves of one relation type
MIN_CLUSTER = 8

# short names of relation types for edge labels (the type itself is kept on the edge)
RELATION_LABELS: dict[str, str] = {
    "LEGAL_REPRESENTATIVE_OF": "legal rep.",
    "PRINCIPAL_OF": "principal",
    "EXECUTIVE_OF": "executive",
    "RESPONSIBLE_FOR": "responsible",
    "REGISTERED_PROFESSIONAL_OF": "registered prof.",
    "PRACTISES_AT": "practises at",
    "ACTUAL_CONTROLLER_OF": "controller",
    "SHAREHOLDER_OF": "shareholder",
    "INVESTS_IN": "invests",
    "BRANCH_OF": "branch",
    "GUARANTEES": "guarantees",
    "SUPPLIES": "supplies",
    "MEMBER_OF": "member",
    "PARTICIPATES_IN": "participates",
    "SUBJECT_OF": "record",
}


@dataclass(frozen=True)
class VizNode:
    id: str
    kind: str
    label: str
    depth: int = 0
    sanctioned: bool = False
    risk: float | None = None
    count: int = 0  # parties folded into a cluster node
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VizEdge:
    id: str
    source: str
    target: str
    type: str
    label: str
    current: bool = True
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Neighbourhood:
    root: str
    nodes: list[VizNode]
    edges: list[VizEdge]
    depth: int
    as_of: date | None = None
    truncated: bool = False
    notices: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> VizNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def title(self) -> str:
        root = self.node(self.root)
        return root.label if root else self.root


def edge_label(relation_type: str, properties: Mapping[str, Any]) -> str:
    """What an edge says: the role, the stake as a percentage, or the amount, else the type."""
    role = properties.get("role")
    stake = properties.get("stake")
    amount = properties.get("amount")
    if isinstance(stake, int | float):
        return f"{stake * 100:.4g}%"
    if isinstance(amount, int | float):
        return format_amount(float(amount))
    if role:
        return str(role).replace("_", " ")
    return RELATION_LABELS.get(relation_type, relation_type.lower())


def format_amount(amount: float) -> str:
    """Yuan in the units Chinese reports use: 万 (10^4) and 亿 (10^8)."""
    if amount >= 1e8:
        return f"¥{amount / 1e8:.4g}亿"
    if amount >= 1e4:
        return f"¥{amount / 1e4:.4g}万"
    return f"¥{amount:.0f}"


def cluster_leaves(
    hood: Neighbourhood, max_nodes: int = MAX_NODES, min_cluster: int = MIN_CLUSTER
) -> Neighbourhood:
    """The neighbourhood cut down to at most `max_nodes` nodes, saying what was cut.

    First the leaves of each hub (parties with one edge, not the root, not sanctioned, not
    risky) are folded per hub, relation type and direction into one cluster node with their
    count, largest groups first, until the picture fits; then the farthest nodes are dropped,
    records first.
    O(V log V + E).
    """
    if len(hood.nodes) <= max_nodes:
        return hood
    degree: dict[str, int] = defaultdict(int)
    for edge in hood.edges:
        degree[edge.source] += 1
        degree[edge.target] += 1
    by_id = {n.id: n for n in hood.nodes}
    # per hub, relation type and direction: a hub's shareholders and the firms it holds shares
    # in are two clusters, each linked the way its relations run
    groups: dict[tuple[str, str, bool], list[VizEdge]] = defaultdict(list)
    for edge in hood.edges:
        for leaf, hub in ((edge.source, edge.target), (edge.target, edge.source)):
            if _foldable(by_id.get(leaf), hood.root, degree[leaf]) and degree[hub] > 1:
                groups[(hub, edge.type, hub == edge.source)].append(edge)
    folded: set[str] = set()
    clusters: list[tuple[VizNode, VizEdge]] = []
    excess = len(hood.nodes) - max_nodes
    for (hub, relation_type, outward), edges in sorted(groups.items(), key=lambda g: -len(g[1])):
        if excess <= 0 or len(edges) < min_cluster:
            break
        leaves = [e.target if outward else e.source for e in edges]
        leaves = [leaf for leaf in leaves if leaf not in folded]
        folded.update(leaves)
        cluster_id = f"cluster:{hub}:{relation_type}:{'out' if outward else 'in'}"
        label = f"{len(leaves)} × {RELATION_LABELS.get(relation_type, relation_type)}"
        depth = by_id[leaves[0]].depth if leaves else 0
        node = VizNode(cluster_id, CLUSTER, label, depth=depth, count=len(leaves))
        start, end = (hub, cluster_id) if outward else (cluster_id, hub)
        link = VizEdge(f"{cluster_id}:edge", start, end, relation_type, f"{len(leaves)}")
        clusters.append((node, link))
        excess -= len(leaves) - 1
    nodes = [n for n in hood.nodes if n.id not in folded] + [c for c, _ in clusters]
    notices = list(hood.notices)
    if folded:
        notices.append(
            f"{len(folded)} leaf parties folded into {len(clusters)} cluster "
            f"node{'' if len(clusters) == 1 else 's'} "
            f"to keep the picture under {max_nodes} nodes"
        )
    if len(nodes) > max_nodes:
        kept = sorted(
            nodes,
            key=lambda n: (n.id != hood.root, n.kind == RECORD, n.depth, n.kind == CLUSTER),
        )
        dropped = len(nodes) - max_nodes
        nodes = kept[:max_nodes]
        notices.append(f"{dropped} farthest nodes left out (cap of {max_nodes} nodes)")
    keep = {n.id for n in nodes}
    edges = [e for e in hood.edges if e.source in keep and e.target in keep]
    edges += [link for _, link in clusters if link.source in keep and link.target in keep]
    return replace(hood, nodes=nodes, edges=edges, truncated=True, notices=notices)


def _foldable(node: VizNode | None, root: str, degree: int) -> bool:
    return (
        node is not None
        and node.id != root
        and degree == 1
        and node.kind in (LEGAL_PERSON, NATURAL_PERSON)
        and not node.sanctioned
        and (node.risk or 0.0) < 0.5
    )


def build_neighbourhood(
    store: GraphStore,
    root: PartyKey,
    profile: PolicyProfile,
    *,
    depth: int,
    as_of: date | None = None,
    relation_types: Sequence[RelationType] = PARTY_RELATIONS,
    include_former: bool = False,
    include_records: bool = True,
    cap: int = 5000,
) -> Neighbourhood:
    """The parties within `depth` relations of `root`, every relation between them (the
    network, not only the walk's tree), and (optionally) their records, as a picture shows them.

    One breadth-first walk with its closing read (queries/traversal.py `linked_parties`: at
    most 2 x depth + 2 reads), one batched read per label for the parties, one for their
    records, and one for the contagion scores `credgraph risk score` wrote under `profile`
    (queries/scores.py), which size the nodes: only scores of this profile's version, and of
    `as_of` when one is given (a picture of the past shows no score of today).
    """
    day = as_of or clock.today()
    walked = linked_parties(
        store,
        root,
        depth=depth,
        relation_types=relation_types,
        as_of=day,
        include_former=include_former,
        cap=cap,
        close_relations=True,
    )
    distance = {root: 0, **{item.key: item.depth for item in walked.items}}
    keys = list(distance)
    props = fetch_parties(store, keys)
    states = fetch_record_states(
        store,
        keys,
        day,
        count_objections=profile.count_under_objection,
        default_term=profile.default_term,
    )
    scores = _profile_scores(store, keys, profile, as_of)
    nodes, edges = _parties_and_records(keys, distance, props, states, scores, include_records)
    for hop in walked.relations:  # each relation once, the walk's hops among them
        edges.append(_relation_edge(hop.type, hop.from_key, hop.to_key, hop.properties, day))
    return Neighbourhood(
        root=root.uid,
        nodes=_unique(nodes),
        edges=_unique(edges),
        depth=depth,
        as_of=as_of,
        truncated=walked.truncated or walked.relations_truncated,
        notices=_walk_notices(walked, cap),
    )


def _parties_and_records(
    keys: Sequence[PartyKey],
    distance: Mapping[PartyKey, int],
    props: Mapping[PartyKey, Mapping[str, Any]],
    states: Mapping[PartyKey, list[RecordState]],
    scores: Mapping[PartyKey, float],
    include_records: bool,
) -> tuple[list[VizNode], list[VizEdge]]:
    """A node per party, and with `include_records` a node and an edge per record listed."""
    nodes: list[VizNode] = []
    edges: list[VizEdge] = []
    for key in keys:
        node_states = states.get(key, [])
        score = scores.get(key)
        nodes.append(_party_node(key, props.get(key, {}), distance[key], node_states, score))
        if include_records:
            for state in node_states:
                if not state.listed:  # not started on the day drawn: not in the graph yet
                    continue
                record_node, record_edge = _record_node(key, state, distance[key])
                nodes.append(record_node)
                edges.append(record_edge)
    return nodes, edges


def _walk_notices(walked: LinkedResult, cap: int) -> list[str]:
    """What the walk's caps left out of the picture."""
    notices = []
    if walked.truncated:
        # the walk keeps what it read of the level the cap cut, and reads no further
        notices.append(
            f"depth {walked.explored_depth} was read only in part (more than {cap} relations): "
            "some parties at that depth, and all beyond, are not drawn"
        )
    if walked.relations_truncated:
        notices.append(
            f"some relations among the farthest parties are not drawn: more than {cap} to read"
        )
    return notices


def _profile_scores(
    store: GraphStore, keys: Sequence[PartyKey], profile: PolicyProfile, as_of: date | None
) -> dict[PartyKey, float]:
    """The stored contagion scores of `keys` written under this profile's version (and on
    `as_of`, when given)."""
    version = profile_version(profile)
    found: dict[PartyKey, float] = {}
    for key, row in stored_scores(store, keys).items():
        scored_on = native(row.get("as_of"))
        if row.get("version") == version and (as_of is None or scored_on == as_of):
            found[key] = float(row["score"])
    return found


def _unique(items: Iterable[_Item]) -> list[_Item]:
    return list({item.id: item for item in items}.values())


def _party_node(
    key: PartyKey,
    props: Mapping[str, Any],
    depth: int,
    states: Sequence[RecordState],
    score: float | None,
) -> VizNode:
    details: dict[str, Any] = {}
    if key.label is Label.LEGAL_PERSON:
        for name in ("uscc", "registration_number", "kind", "status", "industry", "address"):
            if props.get(name):
                details[name] = str(props[name])
    else:
        if props.get("id_masked"):
            details["id_masked"] = str(props["id_masked"])
    counting = [s for s in states if s.negative and s.counts]
    if counting:
        details["counting_records"] = ", ".join(sorted({s.kind.value for s in counting}))
    return VizNode(
        id=key.uid,
        kind=key.label.value,
        label=str(props.get("name") or key.uid),
        depth=depth,
        sanctioned=bool(counting),
        risk=score,
        details=details,
    )


def _record_node(subject: PartyKey, state: RecordState, depth: int) -> tuple[VizNode, VizEdge]:
    record = state.record
    name = record.get("list_name") or record.get("grade") or state.kind.value.replace("_", " ")
    details = {
        "kind": state.kind.value,
        "status": state.status.value,
        "counts": "yes" if state.counts else "no",
        "authority": str(record.get("authority_name") or ""),
        "decision_date": _iso(record.get("decision_date")),
        "ends_on": _iso(state.ends_on),
        "under_objection": "yes" if state.under_objection else "no",
    }
    node = VizNode(
        id=f"record:{state.uid}",
        kind=RECORD,
        label=str(name),
        depth=depth,
        sanctioned=state.negative and state.counts,
        details={k: v for k, v in details.items() if v},
    )
    edge = VizEdge(
        id=f"record:{subject.uid}:{state.uid}",
        source=subject.uid,
        target=node.id,
        type=RelationType.SUBJECT_OF.value,
        label=state.status.value,
        # one rule for every record, negative or positive: one that does not count (or hold)
        # on the date is drawn as ended, as a former relation is
        current=state.counts,
    )
    return node, edge


def _relation_edge(
    relation_type: RelationType,
    start: PartyKey,
    end: PartyKey,
    properties: Mapping[str, Any],
    as_of: date,
) -> VizEdge:
    valid_to = native(properties.get("valid_to"))
    current = valid_to is None or (isinstance(valid_to, date) and valid_to > as_of)
    distinct = properties.get("key") or properties.get("source_record") or ""
    details: dict[str, Any] = {
        name: _iso(properties.get(name))
        for name in ("role", "matter", "project_role", "valid_from", "valid_to", "source")
        if properties.get(name) is not None
    }
    for name in ("stake", "amount"):  # numbers stay numbers (JSON, GraphML and GEXF type them)
        value = properties.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            details[name] = float(value)
    return VizEdge(
        id=f"{relation_type.value}:{start.uid}:{end.uid}:{distinct}",
        source=start.uid,
        target=end.uid,
        type=relation_type.value,
        label=edge_label(relation_type.value, properties),
        current=current,
        details=details,
    )


def _iso(value: Any) -> str:
    converted = native(value)
    if converted is None:
        return ""
    return converted.isoformat() if isinstance(converted, date) else str(converted)
