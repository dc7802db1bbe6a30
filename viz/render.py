"""Static pictures of a neighbourhood for reports: PNG and SVG, A4 landscape, with a legend.

Drawn with matplotlib (a bare Figure, no display) on a networkx layout, so a picture needs neither a
browser nor a network. Chinese names need a CJK font on the machine: `cjk_font()` looks for the
usual ones (Noto Sans CJK, Source Han Sans, WenQuanYi, ...) through matplotlib's font list and
fontconfig; without one the picture is still drawn and its notices say the names may show as
boxes (docs/viz.md says which package to install).

The colours and shapes are the page's (viz/static/graph.js): one legend for every picture.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import matplotlib
import networkx as nx
from credgraph.viz.model import (
    CLUSTER,
    LEGAL_PERSON,
    NATURAL_PERSON,
    RECORD,
    Neighbourhood,
    VizEdge,
    VizNode,
)
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

# matplotlib warns at every text when a CJK font has no "normal" weight (WenQuanYi is 500)
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

A4_LANDSCAPE = (11.69, 8.27)  # inches
PNG_DPI = 200  # 2338 x 1654 pixels: sharp when printed on A4

# the page's palette (viz/static/graph.js PALETTE)
COLOURS = {
    LEGAL_PERSON: "#4c78a8",
    NATURAL_PERSON: "#54a24b",
    RECORD: "#9d9d9d",
    CLUSTER: "#bab0ac",
    "sanctioned": "#d62728",
    "high_risk": "#ff7f0e",
    "root": "#222222",
    "edge": "#666666",
    "former": "#b0b0b0",
    "under_objection": "#9467bd",
    "repaired": "#2ca02c",
}
# a record's status on the date drawn, as its mark says it (viz/static/graph.js RECORD_STATUS):
# under objection and repaired ringed in their colour, expired and revoked hollow, each named
# under the record's name; an active record is grey, red while it counts
RECORD_STATUS = {
    "under_objection": "under objection",
    "repaired": "repaired",
    "expired": "expired",
    "revoked": "revoked",
}
_HOLLOW = ("expired", "revoked")
SHAPES = {LEGAL_PERSON: "s", NATURAL_PERSON: "o", RECORD: "D", CLUSTER: "8"}
HIGH_RISK = 0.5  # a contagion score from here up is drawn as high risk (viz/static/graph.js)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
NO_CJK_FONT = (
    "no CJK font found: Chinese names may show as boxes "
    "(install fonts-noto-cjk or fonts-wqy-zenhei)"
)


@cache
def cjk_font() -> str | None:
    """The family name of a font with Chinese glyphs, or None. Looked up once per process."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in _fontconfig_cjk_files():
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def _fontconfig_cjk_files() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no user input
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.split(":")[0].strip() for line in found.stdout.splitlines() if line)


def render(hood: Neighbourhood, fmt: str) -> bytes:
    """The neighbourhood drawn as `fmt` ("png" or "svg"). O(V^2) for the layout at most
    MAX_NODES nodes (viz/model.py cuts bigger ones first)."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"argument fmt: png or svg, not {fmt!r}")
    family = cjk_font()
    notices = list(hood.notices) + ([] if family else [NO_CJK_FONT])
    style: dict[str, Any] = {"svg.fonttype": "none"}  # SVG keeps names as text, searchable
    if family:
        style["font.family"] = [family, "DejaVu Sans"]
    # a Figure without pyplot: no global figure registry, no display backend
    with matplotlib.rc_context(style):  # type: ignore[arg-type]
        figure = _draw(hood, notices)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=PNG_DPI)
    return buffer.getvalue()


# a root with more neighbours than this is a hub: force-directed layouts heap its neighbours
# into a disk where their names overprint, so it is drawn in rings
HUB_NEIGHBOURS = 24
KAMADA_KAWAI_MAX_NODES = 150
RING_SPACING = 0.5  # between neighbours on a ring, in steps between rings
RING_FULL_SIZE_NODES = 60  # up to this many nodes, rings are drawn at full size
RING_SMALLEST_SCALE = 0.5
RAY_LABEL_GAP = 6.0  # points between a node and its name along the ray
RAY_LABEL_MARGIN = 4.0  # points kept between the longest names and the edge of the drawing
# renderers round each glyph to whole pixels: a 4.5-point glyph measured 4.3 points wide at
# the figure's 100 dpi is drawn 5 points wide at 72 (SVG) and 4.7 at 200 (PNG)
GLYPH_SLACK = 1.0  # points per character


def layout(hood: Neighbourhood) -> dict[str, tuple[float, float]]:
    """Positions for every node, the same every time for the same neighbourhood: rings around
    the root where `in_rings` says so (`radial_layout`), else Kamada-Kawai."""
    graph = _graph(hood)
    if len(graph) == 0:
        return {}
    if in_rings(hood):
        return radial_layout(graph, hood.root, _order_key(hood))
    positions = nx.kamada_kawai_layout(graph)
    return {node: (float(xy[0]), float(xy[1])) for node, xy in positions.items()}


def in_rings(hood: Neighbourhood) -> bool:
    """Whether a picture is drawn in rings: a root with more than HUB_NEIGHBOURS neighbours,
    more than KAMADA_KAWAI_MAX_NODES nodes, or parts not connected to each other."""
    graph = _graph(hood)
    if len(graph) < 2:
        return False
    hub = hood.root in graph and graph.degree(hood.root) > HUB_NEIGHBOURS
    return hub or len(graph) > KAMADA_KAWAI_MAX_NODES or not nx.is_connected(graph)


def radial_layout(
    graph: nx.Graph, root: str, order: Mapping[str, tuple[Any, ...]] | None = None
) -> dict[str, tuple[float, float]]:
    """The root at the centre, the nodes k relations away on the k-th ring around it.

    Each node is placed in the middle of an angle that its parent in a breadth-first tree
    gives it, in proportion to the leaves beneath it, so a node sits beside its siblings and
    in front of what hangs from it, and no angle is shared. Neighbours are visited in `order`
    (by node id where none is given); nodes the root does not reach go on one more ring.
    O(V log V + E).
    """
    key = order or {}
    children: dict[str, list[str]] = {}
    depth: dict[str, int] = {}
    if root in graph:
        depth[root] = 0
        level = [root]
        while level:
            following: list[str] = []
            for node in level:
                fresh = [n for n in graph[node] if n not in depth]
                fresh.sort(key=lambda n: (key.get(n, ()), n))
                children[node] = fresh
                for child in fresh:
                    depth[child] = depth[node] + 1
                following.extend(fresh)
            level = following
    positions = _fan(root, children, depth) if root in graph else {}
    strays = sorted((n for n in graph if n not in positions), key=lambda n: (key.get(n, ()), n))
    outer = max(depth.values(), default=0) + 1
    for index, node in enumerate(strays):
        angle = 2 * math.pi * index / len(strays)
        positions[node] = (outer * math.cos(angle), outer * math.sin(angle))
    return positions


def _fan(
    root: str, children: Mapping[str, list[str]], depth: Mapping[str, int]
) -> dict[str, tuple[float, float]]:
    """Angles shared out from the root by leaves beneath each node, positions on rings.

    A node with children keeps the middle slot of its angle for itself (its name runs along
    that ray), its children on either side. A ring's radius grows with the nodes on it, so a
    hub's hundred firms sit side by side, not on top of each other."""
    leaves: dict[str, int] = {}
    for node in sorted(depth, key=lambda n: -depth[n]):  # the deepest first
        kids = children.get(node, ())
        own = 1 if kids and node != root else 0
        leaves[node] = max(1, own + sum(leaves[child] for child in kids))
    radius = _ring_radii(depth)
    positions = {root: (0.0, 0.0)}
    spans = {root: (0.0, 2 * math.pi)}
    for node in sorted(depth, key=lambda n: depth[n]):
        low, high = spans[node]
        kids = children.get(node, [])
        per_leaf = (high - low) / leaves[node]
        half = len(kids) // 2
        for index, kid in enumerate(kids):
            if index == half and node != root:
                low += per_leaf  # the node's own slot
            share = per_leaf * leaves[kid]
            spans[kid] = (low, low + share)
            middle = low + share / 2
            r = radius[depth[kid]]
            positions[kid] = (r * math.cos(middle), r * math.sin(middle))
            low += share
    return positions


def _ring_radii(depth: Mapping[str, int]) -> dict[int, float]:
    """Each ring one step beyond the one inside it, and wide enough for RING_SPACING between
    neighbours on it."""
    count: dict[int, int] = {}
    for level in depth.values():
        count[level] = count.get(level, 0) + 1
    radii = {0: 0.0}
    for level in range(1, max(count, default=0) + 1):
        needed = count.get(level, 0) * RING_SPACING / (2 * math.pi)
        radii[level] = max(radii[level - 1] + 1.0, needed)
    return radii


def _graph(hood: Neighbourhood) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(n.id for n in hood.nodes)
    graph.add_edges_from((e.source, e.target) for e in hood.edges)
    return graph


def _order_key(hood: Neighbourhood) -> dict[str, tuple[Any, ...]]:
    """Siblings in a ring by kind (parties, clusters, then records), then by name: a firm's
    records hang together, and the same picture comes out every time."""
    rank = {LEGAL_PERSON: 0, NATURAL_PERSON: 1, CLUSTER: 2, RECORD: 3}
    return {n.id: (rank.get(n.kind, 4), n.label) for n in hood.nodes}


def _draw(hood: Neighbourhood, notices: list[str]) -> Figure:
    figure = Figure(figsize=A4_LANDSCAPE)
    axes = figure.subplots()
    axes.set_axis_off()
    positions = layout(hood)
    many = len(hood.nodes) > 120
    rings = in_rings(hood)
    scale = _ring_scale(len(positions)) if rings else 1.0
    _draw_edges(axes, hood, positions, many)
    ray_labels = _draw_nodes(axes, hood, positions, many, rings, scale)
    reach = _frame(axes, hood, positions, rings)
    _add_legend_and_footer(figure, axes, hood, notices)
    for *_, label in ray_labels:  # kept inside the axes below, so the layout need not see them
        label.set_in_layout(False)
    figure.tight_layout(rect=(0, 0.04 + 0.015 * len(notices), 1, 1))
    if rings:  # only now is the axes' size in points known: room past the outer ring for names
        reach = max(reach, _reach_for_names(figure, axes, ray_labels))
        axes.set_xlim(-reach, reach)
        axes.set_ylim(-reach, reach)
    return figure


def _ring_scale(nodes: int) -> float:
    """The size of marks and names in rings."""
    # in rings, a hub's many neighbours share the circle: smaller marks and names the more
    # nodes there are, down to what still prints legibly
    shrunk: float = (RING_FULL_SIZE_NODES / nodes) ** 0.5
    return max(min(1.0, shrunk), RING_SMALLEST_SCALE)


def _draw_edges(
    axes: Axes, hood: Neighbourhood, positions: Mapping[str, tuple[float, float]], many: bool
) -> None:
    """One line per pair of nodes and currency, with the relations' labels unless `many`."""
    groups = _parallel(hood)
    for (a, b, current), edges in groups.items():
        if a not in positions or b not in positions:
            continue
        (x1, y1), (x2, y2) = positions[a], positions[b]
        if not current and (a, b, True) in groups:
            # former beside current: drawn apart, a little to the side, not under the solid line
            (x1, y1), (x2, y2) = _beside((x1, y1), (x2, y2), 0.012)
        axes.plot(
            [x1, x2],
            [y1, y2],
            linestyle="-" if current else "--",
            color=COLOURS["edge"] if current else COLOURS["former"],
            linewidth=(0.6 if many else 1.0) * min(len(edges), 3),
            zorder=1,
        )
        labels = [e.label for e in edges if e.type != "SUBJECT_OF"]
        if not many and labels:
            axes.text(
                (x1 + x2) / 2,
                (y1 + y2) / 2,
                " · ".join(dict.fromkeys(labels)),
                fontsize=6,
                color="#444444",
                ha="center",
                va="center",
                zorder=2,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
            )


def _draw_nodes(
    axes: Axes,
    hood: Neighbourhood,
    positions: Mapping[str, tuple[float, float]],
    many: bool,
    rings: bool,
    scale: float,
) -> list[tuple[float, float, Text]]:
    """The nodes' marks and names; the names along the rays, at their nodes, returned."""
    ray_labels: list[tuple[float, float, Text]] = []
    for node in hood.nodes:
        if node.id not in positions:
            continue
        x, y = positions[node.id]
        _mark(axes, node, hood.root, x, y, scale)
        if not _labelled(node, hood.root, many):
            continue
        text = _name(node, rings)
        size = max(7 * scale, 4.5) if rings else 7 if not many else 5
        if rings and node.id != hood.root:
            ray_labels.append((x, y, _radial_label(axes, x, y, text, size)))
        else:  # under the node, a fixed distance whatever the picture's scale
            axes.annotate(
                text,
                (x, y),
                xytext=(0, -8),
                textcoords="offset points",
                fontsize=size,
                ha="center",
                va="top",
                zorder=4,
            )
    return ray_labels


def _mark(axes: Axes, node: VizNode, root: str, x: float, y: float, scale: float) -> None:
    if node.id == root:
        # the root is ringed outside its own outline: a high-risk root keeps its mark
        axes.scatter(
            [x],
            [y],
            s=_size(node, root) * 1.9 * scale**2,
            marker=SHAPES.get(node.kind, "o"),
            facecolors="none",
            edgecolors=COLOURS["root"],
            linewidths=2.0,
            zorder=3,
        )
    axes.scatter(
        [x],
        [y],
        s=_size(node, root) * scale**2,
        marker=SHAPES.get(node.kind, "o"),
        c=_fill(node),
        edgecolors=_outline(node),
        linewidths=2.0 if _risky(node) or _outline(node) != "white" else 0.6,
        zorder=3,
    )


def _name(node: VizNode, rings: bool) -> str:
    """A node's name as drawn, with a record's status."""
    # a cluster's label is what it holds ("2500 × shareholder"): never cut
    text = node.label if node.kind == CLUSTER else _short(node.label)
    status = RECORD_STATUS.get(_record_status(node) or "")
    if status:
        text = f"{text} ({status})" if rings else f"{text}\n{status}"
    return text


def _frame(
    axes: Axes, hood: Neighbourhood, positions: Mapping[str, tuple[float, float]], rings: bool
) -> float:
    """The title and the axes' ranges; in rings, the half-width of the square axes."""
    title = f"{hood.title()} — depth {hood.depth}"
    if hood.as_of:
        title += f", as of {hood.as_of.isoformat()}"
    axes.set_title(title, fontsize=12)
    if positions:
        axes.set_xlim(*_limits(x for x, _ in positions.values()))
        axes.set_ylim(*_limits(y for _, y in positions.values()))
    if not rings:
        return 0.0
    # rings stay round, and the names along the rays have room past the outer ring
    reach = max(math.hypot(x, y) for x, y in positions.values()) * 1.3 + 0.5
    axes.set_xlim(-reach, reach)
    axes.set_ylim(-reach, reach)
    axes.set_aspect("equal", adjustable="box")
    return reach


def _add_legend_and_footer(
    figure: Figure, axes: Axes, hood: Neighbourhood, notices: list[str]
) -> None:
    # the legend sits right of the drawing, never over a node
    axes.legend(
        handles=_legend(),
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        frameon=True,
        title="legend",
        title_fontsize=8,
    )
    footer = [f"{_count(hood, LEGAL_PERSON, NATURAL_PERSON)} parties, {len(hood.edges)} edges"]
    footer += notices
    figure.text(0.01, 0.01, "\n".join(footer), fontsize=7, color="#333333", va="bottom")


def _radial_label(axes: Axes, x: float, y: float, text: str, size: float) -> Text:
    """A name along the ray from the root through its node, just outside the node, read left
    to right: the names on a ring fan out and never overprint each other."""
    angle = math.atan2(y, x)
    right = abs(angle) <= math.pi / 2
    degrees = math.degrees(angle)
    return axes.annotate(
        text,
        (x, y),
        xytext=(RAY_LABEL_GAP * math.cos(angle), RAY_LABEL_GAP * math.sin(angle)),
        textcoords="offset points",
        fontsize=size,
        rotation=degrees if right else degrees - 180,
        rotation_mode="anchor",
        ha="left" if right else "right",
        va="center",
        zorder=4,
    )


def _reach_for_names(figure: Figure, axes: Axes, labels: list[tuple[float, float, Text]]) -> float:
    """The half-width, in data units, of square axes that hold every name along a ray.

    A name runs RAY_LABEL_GAP + its width (in points) outward from its node at radius r (in
    data units), half its height to either side of the ray. The axes show -reach..reach on a
    square of 2 * half points, so a data unit is half / reach points, and a name's outer
    corners stay inside (by RAY_LABEL_MARGIN) where, along x (and likewise y),
    r |cos| half / reach + (gap + width) |cos| + height / 2 |sin| <= half - margin,
    the width as measured plus GLYPH_SLACK a character, whatever resolution draws it.
    Names inside the axes stay clear of the title above them and the legend beside them.
    O(names)."""
    box = axes.get_position()
    half = min(box.width * figure.get_figwidth(), box.height * figure.get_figheight()) * 36
    points = 72 / figure.dpi
    reach = 0.0
    for x, y, label in labels:
        radius = math.hypot(x, y)
        if radius == 0:
            continue
        turned = label.get_rotation()
        label.set_rotation(0)  # its own width and height, not those of its turned box
        extent = label.get_window_extent()
        label.set_rotation(turned)
        slack = GLYPH_SLACK * len(label.get_text())
        along, across = RAY_LABEL_GAP + extent.width * points + slack, extent.height * points / 2
        for ray, side in ((abs(x), abs(y)), (abs(y), abs(x))):
            room = half - RAY_LABEL_MARGIN - (along * ray + across * side) / radius
            # names too long for any ring to leave them room: the rings a tenth of the drawing
            reach = max(reach, ray * half / max(room, half / 10))
    return reach


def _limits(values: Iterable[float]) -> tuple[float, float]:
    """An axis range around `values`, never flat. Two nodes laid out level left the y range
    near zero, which put their labels (0.035 below them) millions of pixels away: FreeType
    refused to draw them and the export failed."""
    seen = list(values)
    low, high = min(seen), max(seen)
    pad = max((high - low) * 0.08, 0.25)
    return low - pad, high + pad


def _parallel(hood: Neighbourhood) -> dict[tuple[str, str, bool], list[VizEdge]]:
    """Edges grouped by the pair of nodes they join, either way, and whether they are current:
    one line and one label per pair (a stake and a guarantee between the same two firms would
    otherwise overprint), and a dashed one beside it for the former relations."""
    pairs: dict[tuple[str, str, bool], list[VizEdge]] = {}
    for edge in hood.edges:
        a, b = sorted((edge.source, edge.target))
        pairs.setdefault((a, b, edge.current), []).append(edge)
    return pairs


def _beside(
    p: tuple[float, float], q: tuple[float, float], offset: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The segment p-q moved `offset` to its side (perpendicular)."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    nx_, ny_ = -dy / length * offset, dx / length * offset
    return (p[0] + nx_, p[1] + ny_), (q[0] + nx_, q[1] + ny_)


def _count(hood: Neighbourhood, *kinds: str) -> int:
    return sum(1 for n in hood.nodes if n.kind in kinds) + sum(
        n.count for n in hood.nodes if n.kind == CLUSTER
    )


def _risky(node: VizNode) -> bool:
    return node.risk is not None and node.risk >= HIGH_RISK


def _record_status(node: VizNode) -> str | None:
    return str(node.details.get("status")) if node.kind == RECORD else None


def _fill(node: VizNode) -> str:
    if node.sanctioned:
        return COLOURS["sanctioned"]
    if _record_status(node) in _HOLLOW:
        return "#ffffff"  # hex: GEXF's colour is read from it
    return COLOURS.get(node.kind, COLOURS[CLUSTER])


def _outline(node: VizNode) -> str:
    if _risky(node):
        return COLOURS["high_risk"]
    status = _record_status(node)
    if status in ("under_objection", "repaired"):
        return COLOURS[str(status)]
    if status in _HOLLOW:
        return COLOURS[RECORD]
    return "white"


def _size(node: VizNode, root: str) -> float:
    base = {RECORD: 40.0, CLUSTER: 160.0}.get(node.kind, 110.0)
    if node.risk is not None:
        base *= 1.0 + 2.0 * min(max(node.risk, 0.0), 1.0)
    return base * (1.6 if node.id == root else 1.0)


def _labelled(node: VizNode, root: str, many: bool) -> bool:
    if not many:
        return True
    return node.id == root or node.sanctioned or node.kind == CLUSTER or node.depth <= 1


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _legend() -> list[Line2D]:
    def marker(label: str, shape: str, colour: str, edge: str = "white") -> Line2D:
        return Line2D(
            [],
            [],
            linestyle="",
            marker=shape,
            markersize=8,
            markerfacecolor=colour,
            markeredgecolor=edge,
            markeredgewidth=1.5,
            label=label,
        )

    grey = COLOURS[RECORD]
    return [
        marker("legal person", SHAPES[LEGAL_PERSON], COLOURS[LEGAL_PERSON]),
        marker("natural person", SHAPES[NATURAL_PERSON], COLOURS[NATURAL_PERSON]),
        marker("credit record", SHAPES[RECORD], COLOURS[RECORD]),
        marker("cluster of leaves", SHAPES[CLUSTER], COLOURS[CLUSTER]),
        marker("sanctioned (counting record)", "o", COLOURS["sanctioned"]),
        marker("record under objection", SHAPES[RECORD], grey, COLOURS["under_objection"]),
        marker("record repaired", SHAPES[RECORD], grey, COLOURS["repaired"]),
        marker("record expired or revoked", SHAPES[RECORD], "white", COLOURS[RECORD]),
        marker("high contagion score (≥ 0.5)", "o", "white", COLOURS["high_risk"]),
        Line2D([], [], color=COLOURS["edge"], label="current relation"),
        Line2D(
            [],
            [],
            color=COLOURS["former"],
            linestyle="--",
            label="former relation, or a record that no longer counts on the date",
        ),
    ]


def style_of(node: VizNode, root: str) -> Mapping[str, Any]:
    """Colour and size of a node as the other exports (GEXF viz attributes) show it."""
    return {"colour": _fill(node), "size": _size(node, root) ** 0.5}
