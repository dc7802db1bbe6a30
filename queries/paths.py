"""Paths between two parties: the k shortest simple paths up to a depth, as of a date.

Two steps:

1. `explore`: a bidirectional breadth-first search over the store. Each round expands the side
   whose frontier is smaller by one level (one read per label, `traversal.read_level`, each
   relation with the properties a hop shows), with the same relation filter as linked parties
   (types, as-of date, former relations, minimum stake, `POSSIBLY_SAME_AS` only when asked).
   After the source side has read r_a levels and the target side r_b, every path of at most
   r_a + r_b hops lies in the relations read: hop i of such a path starts within i < r_a of the
   source or ends within r_b - 1 of the target. So the search stops as soon as k paths of at
   most r_a + r_b hops are known, when r_a + r_b reaches `max_depth`, or when a side runs out
   of parties (then every path from that side was read).
2. `k_shortest_simple_paths`: a pure function over the relations read (below).

Caps (docs/queries.md): a level reads at most `cap` relations (default 5,000); a capped level
stops the search with `truncated` set (the paths found are real, but shorter ones may exist
beyond the cap). The enumeration stops after `max_steps` search steps, also setting `truncated`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any, Protocol, TypeVar

from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, RelationType
from credgraph.queries import tracing
from credgraph.queries.caches import Hubs
from credgraph.queries.lookup import ArgumentError, PartyKey
from credgraph.queries.traversal import (
    DEFAULT_CAP,
    HOP_PROPERTIES,
    Hop,
    RelationFilter,
    read_level,
    relation_filter,
    validate_cap,
    validate_depth,
)

MAX_PATH_DEPTH = 6
DEFAULT_PATH_DEPTH = 4
MAX_K = 20
DEFAULT_K = 3
DEFAULT_MAX_STEPS = 200_000

# the relation properties a hop shows: those of a traced hop, the row of the source it came
# from, and a shareholding's subscribed capital (as the API's `Relation` shows them)
PATH_HOP_PROPERTIES = (*HOP_PROPERTIES, "source_row", "subscribed_capital")


class _Ordered(Hashable, Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


N = TypeVar("N", bound=_Ordered)


def k_shortest_simple_paths(
    neighbours: Mapping[N, Iterable[N]],
    source: N,
    target: N,
    k: int,
    max_length: int,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[list[list[N]], bool]:
    """The k shortest simple paths from `source` to `target` of at most `max_length` edges.

    Paths come by length, and paths of one length in the lexicographic order of their node
    sequences, so the answer is one well-defined list. `neighbours` is an undirected adjacency
    (each edge listed from both ends). Returns the paths and whether the enumeration finished
    (False when `max_steps` search steps ran out first).

    BFS layering: one breadth-first search from the target gives every node's distance to it,
    O(V + E); then, for each length L from the distance of the source up to `max_length`, a
    depth-first search over neighbours in sorted order lists the simple paths of exactly L
    edges, entering a node w only when dist(w) <= the edges left, and stops once k paths are
    known. Along shortest paths the pruning leaves no dead end, so the first length costs
    O(k L Δ) for maximum degree Δ (after O(E log E) to sort the adjacency); longer lengths may
    visit prefixes that close no simple path, which `max_steps` bounds.
    """
    if source == target:
        return [[source]], True
    ordered = {node: sorted(set(adjacent)) for node, adjacent in neighbours.items()}
    distance = distances_to(ordered, target)
    if source not in distance or k < 1:
        return [], True
    found: list[list[N]] = []
    budget = [max_steps]
    for length in range(distance[source], max_length + 1):
        for path in paths_of_length(ordered, distance, source, target, length, budget):
            found.append(path)
            if len(found) == k:
                return found, True
        if budget[0] <= 0:
            return found, False
    return found, True


def distances_to(ordered: Mapping[N, Iterable[N]], target: N) -> dict[N, int]:
    """Each node's distance in edges to `target` over `ordered`, breadth first: for a directed
    graph pass its reverse (each node with its predecessors). O(V + E)."""
    distance = {target: 0}
    queue = deque([target])
    while queue:
        node = queue.popleft()
        for other in ordered.get(node, ()):
            if other not in distance:
                distance[other] = distance[node] + 1
                queue.append(other)
    return distance


def paths_of_length(
    ordered: Mapping[N, list[N]],
    distance: Mapping[N, int],
    source: N,
    target: N,
    length: int,
    budget: list[int],
) -> Iterator[list[N]]:
    """The simple paths of exactly `length` edges from `source` to `target` over `ordered`
    (successors in sorted order, so the paths come in the order of their nodes), entering a
    node only when its `distance` to the target (`distances_to`) still fits; each step taken
    spends one of `budget[0]`."""
    path = [source]
    on_path = {source}
    # a stack of neighbour iterators: iterative, so a long path cannot hit the recursion limit
    stack = [iter(ordered.get(source, ()))]
    while stack:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        left = length - len(path)  # edges still to take after the next one
        step = next(
            (w for w in stack[-1] if w not in on_path and distance.get(w, length + 1) <= left),
            None,
        )
        if step is None:
            stack.pop()
            on_path.discard(path.pop())
            continue
        if step == target:
            if left == 0:
                yield [*path, target]
            continue
        path.append(step)
        on_path.add(step)
        stack.append(iter(ordered.get(step, ())))


# --- the store side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathHop:
    """One hop of a path as walked: `direction` is `out` when the relation points the way the
    path goes, `in` when against it; `also` lists other relation types linking the same two
    parties (a path is a sequence of parties; its hop shows the first relation by type)."""

    from_key: PartyKey
    to_key: PartyKey
    relation: Hop
    also: tuple[str, ...] = ()

    @property
    def direction(self) -> str:
        return "out" if self.relation.from_key == self.from_key else "in"

    def summary(self) -> dict[str, Any]:
        shown = tracing.hop_summary(self.relation, self.from_key, PATH_HOP_PROPERTIES, _plain)
        shown["also"] = list(self.also)
        return shown


def _plain(value: Any) -> Any:
    """Dates as ISO text (the driver gives neo4j.time.Date), other values as they are."""
    iso = getattr(value, "iso_format", None) or getattr(value, "isoformat", None)
    return iso() if callable(iso) else value


@dataclass(frozen=True)
class PartyPath:
    parties: list[PartyKey]
    hops: list[PathHop]

    @property
    def length(self) -> int:
        return len(self.hops)


@dataclass
class PathsResult:
    source: PartyKey
    target: PartyKey
    paths: list[PartyPath] = field(default_factory=list)
    # hops each side explored (levels read); their sum bounds the paths known complete
    explored_source: int = 0
    explored_target: int = 0
    truncated: bool = False
    relations_read: int = 0
    reads: int = 0

    @property
    def explored_depth(self) -> int:
        return self.explored_source + self.explored_target

    @property
    def shortest(self) -> int | None:
        return self.paths[0].length if self.paths else None


@dataclass
class _Side:
    root: PartyKey
    distance: dict[PartyKey, int]
    frontier: list[PartyKey]
    levels: int = 0


def shortest_paths(
    store: GraphStore,
    source: PartyKey,
    target: PartyKey,
    *,
    k: int = DEFAULT_K,
    max_depth: int = DEFAULT_PATH_DEPTH,
    relation_types: Sequence[RelationType] = PARTY_RELATIONS,
    as_of: date | None = None,
    include_former: bool = False,
    min_stake: float = 0.0,
    follow_same_as: bool = False,
    cap: int = DEFAULT_CAP,
    max_steps: int = DEFAULT_MAX_STEPS,
    hubs: Hubs | None = None,
) -> PathsResult:
    """The k shortest simple paths from `source` to `target` of at most `max_depth` hops.

    Bidirectional breadth-first search over the store (one read per level and label on the
    side it expands; at most 2 x max_depth reads), then `k_shortest_simple_paths` over the
    relations read; the relations of the hubs that `hubs` keeps (`caches.HubCache.bound`)
    come from it, not from the store. Paths are ordered by length, then by their parties' keys.
    Raises ArgumentError naming `k`, `max_depth`, `to`, `relation_types`, `min_stake` or `cap`.

    O(D (n + m log m + s Δ)) in memory, for D = `max_depth`, n parties and m relations read
    (m <= D x `cap`: each level reads at most `cap`), s = `max_steps` and Δ the largest
    degree among the relations read: at most D levels, each adding its relations and, once the
    two sides have met, running `k_shortest_simple_paths` afresh (O(n + m log m) to order the
    adjacency and find distances, at most s steps of O(Δ) to enumerate); and at most 2D reads.
    """
    validate_depth(max_depth, "max_depth", MAX_PATH_DEPTH)
    validate_cap(cap)
    if isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ArgumentError("k", f"must be between 1 and {MAX_K}, not {k}")
    if source == target:
        raise ArgumentError("to", "is the same party as the one the paths start from")
    chosen = relation_filter(
        relation_types,
        as_of=as_of,
        include_former=include_former,
        min_stake=min_stake,
        follow_same_as=follow_same_as,
    )
    result = PathsResult(source, target)
    graph = _Explored()
    sides = (_Side(source, {source: 0}, [source]), _Side(target, {target: 0}, [target]))
    found: list[list[PartyKey]] = []
    complete = True
    while sides[0].levels + sides[1].levels < max_depth:
        side = _side_to_expand(sides)
        if side is None:
            break  # a side ran out of parties: every path from it was read
        if _expand(store, side, graph, chosen, cap, result, hubs):
            result.truncated = True  # a capped level: what was read still gives real paths
            break
        if not _met(sides):
            continue
        bound = sides[0].levels + sides[1].levels
        found, complete = k_shortest_simple_paths(
            graph.neighbours, source, target, k, bound, max_steps
        )
        if len(found) == k or not complete:
            break
    if len(found) < k and complete:
        found, complete = k_shortest_simple_paths(
            graph.neighbours, source, target, k, max_depth, max_steps
        )
    result.truncated = result.truncated or not complete
    result.explored_source, result.explored_target = sides[0].levels, sides[1].levels
    result.paths = [graph.path(parties) for parties in found]
    return result


def _side_to_expand(sides: tuple[_Side, _Side]) -> _Side | None:
    if not sides[0].frontier or not sides[1].frontier:
        return None
    return min(sides, key=lambda side: len(side.frontier))  # the source side on a tie


def _met(sides: tuple[_Side, _Side]) -> bool:
    small, large = sorted(sides, key=lambda side: len(side.distance))
    return any(key in large.distance for key in small.distance)


def _expand(
    store: GraphStore,
    side: _Side,
    graph: _Explored,
    chosen: RelationFilter,
    cap: int,
    result: PathsResult,
    hubs: Hubs | None,
) -> bool:
    hops, cut = read_level(store, side.frontier, chosen, cap, hubs)
    result.reads += 1
    result.relations_read += len(hops)
    side.levels += 1
    frontier: list[PartyKey] = []
    for here, hop in hops:
        graph.add(hop)
        other = hop.other(here)
        if other not in side.distance:
            side.distance[other] = side.levels
            frontier.append(other)
    side.frontier = sorted(frontier)
    return cut


class _Explored:
    """The relations read so far: an undirected adjacency, and the hops between each pair."""

    def __init__(self) -> None:
        self.neighbours: dict[PartyKey, set[PartyKey]] = defaultdict(set)
        self.between: dict[tuple[PartyKey, PartyKey], dict[tuple[Any, ...], Hop]] = defaultdict(
            dict
        )

    def add(self, hop: Hop) -> None:
        a, b = hop.from_key, hop.to_key
        self.neighbours[a].add(b)
        self.neighbours[b].add(a)
        self.between[_pair(a, b)].setdefault(hop.identity(), hop)

    def path(self, parties: list[PartyKey]) -> PartyPath:
        hops = []
        for here, there in pairwise(parties):
            relations = sorted(self.between[_pair(here, there)].values(), key=Hop.rank)
            shown = relations[0].type
            # a second relation of the shown type is no other type: `also` would repeat it
            others = tuple(
                dict.fromkeys(h.type.value for h in relations[1:] if h.type is not shown)
            )
            hops.append(PathHop(here, there, relations[0], others))
        return PartyPath(parties, hops)


def _pair(a: PartyKey, b: PartyKey) -> tuple[PartyKey, PartyKey]:
    return (a, b) if a <= b else (b, a)
