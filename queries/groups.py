"""Groups: the connected group around a party over chosen relations, and guarantee circles.

A control group is the connected component containing a party when only some relations count:
by default shareholdings of at least `min_stake` (0.5), legal representation and actual control,
current on the as-of date, direction ignored. It is read breadth first (queries/tracing.py
`walk`, one read per level and label) and bounded: at most `max_members` parties, `cap`
relations per level and `max_levels` levels; `truncated` says when a bound cut it short.

A guarantee circle (联保圈) is a strongly connected component of the GUARANTEES relations with
more than one member: every member guarantees, directly or through the others, every other.
`guarantee_circles` scans the whole graph: one read of every current GUARANTEES relation, then
Tarjan's algorithm in Python. `circles_of` reads the guarantee component around one party
(breadth first, bounded like a group), takes the strongly connected component containing it,
and lists the simple cycles through the party in guarantee order (Johnson's algorithm from that
party), at most `limit` of them: the shortest, found by a search by length when there are more.

The graph algorithms are pure functions over plain adjacency, with their complexity stated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, LiteralString, TypeVar

from credgraph.graph import clock
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RelationType
from credgraph.queries.lookup import ArgumentError, PartyKey
from credgraph.queries.paths import DEFAULT_MAX_STEPS, distances_to, paths_of_length
from credgraph.queries.tracing import Step, described, hop_summary, walk_with
from credgraph.queries.traversal import DEFAULT_CAP, relation_filter

CONTROL_RELATIONS: tuple[RelationType, ...] = (
    RelationType.SHAREHOLDER_OF,
    RelationType.LEGAL_REPRESENTATIVE_OF,
    RelationType.ACTUAL_CONTROLLER_OF,
)
DEFAULT_MIN_STAKE = 0.5
DEFAULT_MAX_MEMBERS = 2000
DEFAULT_MAX_LEVELS = 32
DEFAULT_CIRCLE_LIMIT = 1000
DEFAULT_CYCLE_LIMIT = 50

# every guarantee in one row (none on ArcadeDB when there is none) as [guarantor, guaranteed]:
# the driver's cost is per row (docs/benchmarks.md, "One row per read")
GUARANTEES_ON_DATE: LiteralString = """
MATCH (a:LegalPerson)-[r:GUARANTEES]->(b:LegalPerson)
WHERE (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
RETURN collect([a.uid, b.uid]) AS guarantees
"""

N = TypeVar("N", bound=Hashable)


# --- pure graph functions ------------------------------------------------------------------------


def connected_components(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> list[set[N]]:
    """The connected components of an undirected graph (union-find with path halving).

    Endpoints of `edges` missing from `nodes` are added. O((V + E) α(V)).
    """
    parent: dict[N, N] = {node: node for node in nodes}

    def find(x: N) -> N:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups: dict[N, set[N]] = {}
    for node in parent:
        groups.setdefault(find(node), set()).add(node)
    return list(groups.values())


def strongly_connected_components(adjacency: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of a directed graph, iteratively (no recursion).

    `adjacency` maps a node to its successors; nodes only named as successors count too. Each
    component comes sorted; components come in reverse topological order. O(V + E) after
    sorting each successor list (O(E log E)) for a deterministic answer.
    """
    successors = {v: sorted(set(ws)) for v, ws in adjacency.items()}
    nodes = sorted(set(successors) | {w for ws in successors.values() for w in ws})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(successors.get(start, ())))]
        while work:
            v, successors_left = work[-1]
            for w in successors_left:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors.get(w, ()))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    components.append(sorted(component))
    return components


def shortest_cycle_through(adjacency: Mapping[str, Iterable[str]], start: str) -> list[str] | None:
    """A shortest directed cycle through `start`, from `start` in edge order; None if none.

    Breadth first from `start` until an edge leads back to it. O(V + E).
    """
    parent: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(adjacency.get(node, ())):
            if nxt == start:
                cycle = [node]
                while (previous := parent[cycle[-1]]) is not None:
                    cycle.append(previous)
                cycle.reverse()
                return cycle
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def cycles_through(
    adjacency: Mapping[str, Iterable[str]], start: str, limit: int
) -> tuple[list[list[str]], bool]:
    """The simple directed cycles through `start`, each from `start` in edge order.

    Johnson's circuit search from `start`, restricted to its strongly connected component
    (nodes both reachable from and reaching `start`): O((V + E)(C + 1)) for C cycles. Stops
    after `limit` cycles; the flag says whether it stopped early.
    """
    successors = {v: set(ws) for v, ws in adjacency.items()}
    inside = _reachable(successors, start) & _reachable(_reverse(successors), start)
    if len(inside) < 2:
        return [], False
    nbrs = {v: sorted(successors.get(v, set()) & inside) for v in inside}
    cycles: list[list[str]] = []
    path = [start]
    blocked = {start}
    blockers: dict[str, set[str]] = {v: set() for v in inside}
    closed = [False]
    stack = [iter(nbrs[start])]
    while stack:
        for w in stack[-1]:
            if w == start:
                cycles.append(list(path))
                closed[-1] = True
                if len(cycles) >= limit:
                    return cycles, True
            elif w not in blocked:
                path.append(w)
                closed.append(False)
                blocked.add(w)
                stack.append(iter(nbrs[w]))
                break
        else:
            stack.pop()
            v = path.pop()
            if closed.pop():
                if closed:
                    closed[-1] = True
                _unblock(v, blocked, blockers)
            else:
                for w in nbrs[v]:
                    blockers[w].add(v)
    return cycles, False


# where a cycle search by length ends: the start's copy, which every edge into the start leads to
# instead (an empty text, which no uid is, sorts before every uid)
_BACK = ""


def shortest_cycles_through(
    adjacency: Mapping[str, Iterable[str]],
    start: str,
    limit: int,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[list[list[str]], bool]:
    """The `limit` shortest simple directed cycles through `start`, each from `start` in edge
    order, by length and then by their nodes; the flag says it stopped early (`limit` cycles,
    or `max_steps` search steps spent).

    A cycle through `start` is a simple path from `start` to its copy `_BACK`, so the paths'
    search by length (queries/paths.py) lists them shortest first: one breadth-first search for
    each node's distance back to `start`, then for each length a depth-first search that enters
    a node only if `start` is still within reach. Johnson's order (`cycles_through`) is not by
    length: cut at `limit`, it could keep a long cycle and drop a shorter one.
    """
    successors = {v: set(ws) for v, ws in adjacency.items()}
    inside = _reachable(successors, start) & _reachable(_reverse(successors), start)
    if len(inside) < 2:
        return [], False
    ordered = {
        v: sorted(_BACK if w == start else w for w in successors.get(v, set()) & inside)
        for v in inside
    }
    distance = distances_to(_reverse(ordered), _BACK)
    cycles: list[list[str]] = []
    budget = [max_steps]
    for length in range(1, len(inside) + 1):
        for path in paths_of_length(ordered, distance, start, _BACK, length, budget):
            cycles.append(path[:-1])
            if len(cycles) >= limit:
                return cycles, True
        if budget[0] <= 0:
            return cycles, True
    return cycles, False


def _unblock(node: str, blocked: set[str], blockers: dict[str, set[str]]) -> None:
    pending = {node}
    while pending:
        w = pending.pop()
        if w in blocked:
            blocked.discard(w)
            pending |= blockers[w]
            blockers[w].clear()


def _reachable(successors: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for w in successors.get(queue.popleft(), ()):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return seen


def _reverse(successors: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    reverse: dict[str, set[str]] = {}
    for v, ws in successors.items():
        for w in ws:
            reverse.setdefault(w, set()).add(v)
    return reverse


# --- groups around a party ---------------------------------------------------------------------


@dataclass
class Group:
    root: PartyKey
    as_of: date
    relation_types: tuple[RelationType, ...]
    min_stake: float
    members: list[PartyKey] = field(default_factory=list)  # by distance from the root, then uid
    distance: dict[PartyKey, int] = field(default_factory=dict)
    relations: list[dict[str, Any]] = field(default_factory=list)
    explored_depth: int = 0
    truncated: bool = False
    parties: dict[PartyKey, dict[str, Any]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)  # `relations` as read, in the same order


def _validate_bounds(**bounds: int) -> None:
    for name, value in bounds.items():
        if value < 1:
            raise ArgumentError(name, "must be at least 1")


def connected_group(
    store: GraphStore,
    root: PartyKey,
    *,
    relation_types: Sequence[RelationType] = CONTROL_RELATIONS,
    min_stake: float = DEFAULT_MIN_STAKE,
    as_of: date | None = None,
    include_former: bool = False,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_levels: int = DEFAULT_MAX_LEVELS,
    cap: int = DEFAULT_CAP,
    describe: bool = True,
) -> Group:
    """The connected group containing `root` over `relation_types` (direction ignored).

    SHAREHOLDER_OF counts only with a stake of at least `min_stake`. One read per level and
    label, and one per label for the members' names when `describe` (`parties`); O(V + E) in
    the group read.
    """
    chosen = relation_filter(
        relation_types, as_of=as_of, include_former=include_former, min_stake=min_stake
    )
    _validate_bounds(max_members=max_members, max_levels=max_levels, cap=cap)
    day = chosen.as_of
    walked = walk_with(store, root, chosen, depth=max_levels, cap=cap, max_parties=max_members)
    inside = [(s.start, s.end) for s in walked.steps if _within(s, walked.distance)]
    [component] = [c for c in connected_components(walked.distance, inside) if root in c]
    group = Group(
        root,
        day,
        chosen.types,
        min_stake,
        explored_depth=walked.explored_depth,
        truncated=walked.truncated or walked.frontier_left,
    )
    group.members = sorted(component, key=lambda k: (walked.distance[k], k.label.value, k.uid))
    group.distance = {key: walked.distance[key] for key in group.members}
    group.steps = [step for step in walked.steps if _within(step, component)]
    group.relations = [hop_summary(step, step.start) for step in group.steps]
    if describe:
        group.parties = described(store, group.members)
    return group


def _within(step: Step, members: Mapping[PartyKey, Any] | set[PartyKey]) -> bool:
    return step.start in members and step.end in members


# --- guarantee circles -------------------------------------------------------------------------


@dataclass(frozen=True)
class GuaranteeCircle:
    """A strongly connected set of guarantors: `members` sorted, `cycle` a shortest cycle
    through the first member in guarantee order (each guarantees the next, the last the first).
    """

    members: list[PartyKey]
    cycle: list[PartyKey]


@dataclass
class CirclesResult:
    as_of: date
    circles: list[GuaranteeCircle] = field(default_factory=list)
    found: int = 0
    truncated: bool = False
    guarantees_read: int = 0
    parties: dict[PartyKey, dict[str, Any]] = field(default_factory=dict)


def guarantee_circles(
    store: GraphStore,
    *,
    as_of: date | None = None,
    include_former: bool = False,
    limit: int = DEFAULT_CIRCLE_LIMIT,
) -> CirclesResult:
    """Every guarantee circle in the graph: one read of the GUARANTEES relations, then Tarjan.

    Largest circles first. O(V + E log E) in the guarantee relations.
    """
    _validate_bounds(limit=limit)
    day = as_of or clock.today()
    params = {"as_of": day, "include_former": include_former}
    rows = store.read(GUARANTEES_ON_DATE, params, operation="investigate.circles", plain=True)
    guarantees = [pair for row in rows for pair in row["guarantees"]]
    adjacency: dict[str, set[str]] = {}
    for guarantor, guaranteed in guarantees:
        adjacency.setdefault(guarantor, set()).add(guaranteed)
    components = [c for c in strongly_connected_components(adjacency) if len(c) > 1]
    components.sort(key=lambda c: (-len(c), c[0]))
    result = CirclesResult(
        day,
        found=len(components),
        truncated=len(components) > limit,
        guarantees_read=len(guarantees),
    )
    for members in components[:limit]:
        within = {v: adjacency.get(v, set()) & set(members) for v in members}
        cycle = shortest_cycle_through(within, members[0]) or []
        result.circles.append(GuaranteeCircle(_keys(members), _keys(cycle)))
    result.parties = described(store, {key for circle in result.circles for key in circle.members})
    return result


@dataclass
class PartyCircles:
    root: PartyKey
    as_of: date
    members: list[PartyKey] = field(default_factory=list)  # its circle; empty when in none
    cycles: list[list[PartyKey]] = field(default_factory=list)  # each from the root
    truncated: bool = False  # a bound cut the walk, or `limited`
    limited: bool = False  # there are more cycles through the root than `limit`
    explored_depth: int = 0
    parties: dict[PartyKey, dict[str, Any]] = field(default_factory=dict)


def circles_of(
    store: GraphStore,
    root: PartyKey,
    *,
    as_of: date | None = None,
    include_former: bool = False,
    limit: int = DEFAULT_CYCLE_LIMIT,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_levels: int = DEFAULT_MAX_LEVELS,
    cap: int = DEFAULT_CAP,
    describe: bool = True,
) -> PartyCircles:
    """The guarantee circle `root` sits in and the simple cycles through it (at most `limit`).

    Reads the guarantee component around `root` breadth first (bounded), so the answer is
    exact unless `truncated`. Shortest cycles first. `parties` names the root and the members
    when `describe` (one more read per label).
    """
    _validate_bounds(limit=limit, max_members=max_members, max_levels=max_levels, cap=cap)
    chosen = relation_filter([RelationType.GUARANTEES], as_of=as_of, include_former=include_former)
    result = PartyCircles(root, chosen.as_of)
    if root.label is not Label.LEGAL_PERSON:
        return result  # only legal persons guarantee one another
    walked = walk_with(store, root, chosen, depth=max_levels, cap=cap, max_parties=max_members)
    result.explored_depth = walked.explored_depth
    result.truncated = walked.truncated or walked.frontier_left
    adjacency: dict[str, set[str]] = {}
    for step in walked.steps:
        adjacency.setdefault(step.start.uid, set()).add(step.end.uid)
    component = next(
        (c for c in strongly_connected_components(adjacency) if root.uid in c and len(c) > 1), []
    )
    # one cycle more than asked for tells whether the limit leaves any out
    cycles, _ = cycles_through(adjacency, root.uid, limit + 1)
    more = len(cycles) > limit
    if more:
        # keep the shortest, which Johnson's order does not find first
        shortest, _ = shortest_cycles_through(adjacency, root.uid, limit)
        cycles = [list(c) for c in dict.fromkeys(tuple(c) for c in [*shortest, *cycles])]
    cycles.sort(key=lambda c: (len(c), c))
    result.members = _keys(component)
    result.cycles = [_keys(c) for c in cycles[:limit]]
    result.limited = more
    result.truncated = result.truncated or more
    if describe:  # the root too, in a circle or not
        result.parties = described(store, dict.fromkeys([root, *result.members]))
    return result


def _keys(uids: Iterable[str]) -> list[PartyKey]:
    return [PartyKey(Label.LEGAL_PERSON, uid) for uid in uids]
