"""Exports of a neighbourhood: pure functions from `Neighbourhood` to the bytes of a file.

- `html`: one self-contained file (the graph library, the page's styles and the data inlined)
  that opens offline in any browser;
- `png`, `svg`: A4 pictures with a legend (viz/render.py);
- `graphml`, `gexf`: for Gephi and other graph tools (networkx writers; GEXF carries Gephi's
  colour and size attributes);
- `json`: Cytoscape JSON (`{"elements": {"nodes": [...], "edges": [...]}}`), which
  Cytoscape desktop and cytoscape.js read.

Every format is cut to `MAX_NODES` first (viz/model.py `cluster_leaves`), and carries the
notices that say what was cut.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree.ElementTree import SubElement

import networkx as nx
from credgraph.viz.model import (
    CLUSTER,
    LEGAL_PERSON,
    MAX_NODES,
    NATURAL_PERSON,
    RECORD,
    Neighbourhood,
    VizEdge,
    VizNode,
    cluster_leaves,
)
from credgraph.viz.page import asset_text, library_text
from credgraph.viz.render import render, style_of
from networkx.readwrite.gexf import GEXFWriter
from networkx.readwrite.graphml import GraphMLWriter

FORMATS = ("html", "png", "svg", "graphml", "gexf", "json")


def _node_data(node: VizNode) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": node.id,
        "label": node.label,
        "kind": node.kind,
        "depth": node.depth,
        "sanctioned": node.sanctioned,
        "count": node.count,
        "details": dict(node.details),
    }
    if node.risk is not None:
        data["risk"] = node.risk
    return data


def _edge_data(edge: VizEdge) -> dict[str, Any]:
    return {
        "id": edge.id,
        "source": edge.source,
        "target": edge.target,
        "type": edge.type,
        "label": edge.label,
        "current": edge.current,
        "details": dict(edge.details),
    }


def to_cytoscape(hood: Neighbourhood) -> dict[str, Any]:
    """Cytoscape JSON, with what the picture is of under `data`."""
    return {
        "data": {
            "root": hood.root,
            "title": hood.title(),
            "depth": hood.depth,
            "asOf": hood.as_of.isoformat() if hood.as_of else None,
            "truncated": hood.truncated,
            "notices": list(hood.notices),
        },
        "elements": {
            "nodes": [{"data": _node_data(n)} for n in hood.nodes],
            "edges": [{"data": _edge_data(e)} for e in hood.edges],
        },
    }


def to_json(hood: Neighbourhood) -> bytes:
    return json.dumps(to_cytoscape(hood), ensure_ascii=False, indent=1).encode()


# a detail named like a node's own attribute (a firm's or a record's `kind`) is written with the
# node kind before it, `legal_person_kind`, `record_kind`: one name, one meaning per file
_DETAIL_PREFIX = {
    LEGAL_PERSON: "legal_person",
    NATURAL_PERSON: "natural_person",
    RECORD: "record",
    CLUSTER: "cluster",
}


# details that are numbers or yes/no in every file: Gephi sizes and filters by a typed column,
# not by text ("0.51", "yes")
_NUMBER_DETAILS = frozenset({"stake", "amount"})
_YES_NO_DETAILS = frozenset({"counts", "under_objection"})


def _typed(name: str, value: Any) -> str | float | bool | None:
    """A detail as the graph files type it: a stake or an amount as a float (the same type on
    every element, so one key declares it), a yes/no as a boolean, anything else as text; None
    for a number that is none (it is left out rather than written as text)."""
    if name in _NUMBER_DETAILS:
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if name in _YES_NO_DETAILS and value in ("yes", "no"):
        return bool(value == "yes")
    return str(value)


def _typed_details(details: Mapping[str, Any], taken: Mapping[str, Any]) -> dict[str, Any]:
    typed = {name: _typed(name, value) for name, value in details.items() if name not in taken}
    return {name: value for name, value in typed.items() if value is not None}


def _to_networkx(hood: Neighbourhood) -> nx.MultiDiGraph:
    """A directed multigraph with flat, typed attributes only (GraphML and GEXF take no
    nested values and no None)."""
    graph = nx.MultiDiGraph(**_graph_attributes(hood))
    for node in hood.nodes:
        attrs: dict[str, Any] = {
            "label": node.label,
            "kind": node.kind,
            "depth": node.depth,
            "sanctioned": node.sanctioned,
            "count": node.count,
            "risk": node.risk if node.risk is not None else -1.0,
        }
        prefix = _DETAIL_PREFIX.get(node.kind, "detail")
        renamed = {f"{prefix}_{k}" if k in attrs else k: v for k, v in node.details.items()}
        attrs.update(_typed_details(renamed, attrs))
        graph.add_node(node.id, **attrs)
    for edge in hood.edges:
        # `relation`, not `type`: GEXF keeps `type` for directed/undirected
        attrs = {"relation": edge.type, "label": edge.label, "current": edge.current}
        attrs.update(_typed_details(edge.details, attrs))
        graph.add_edge(edge.source, edge.target, key=edge.id, **attrs)
    return graph


def _graph_attributes(hood: Neighbourhood) -> dict[str, Any]:
    """What the picture is of: its root, depth, date, and whether (and how) it was cut."""
    attrs: dict[str, Any] = {"root": hood.root, "depth": hood.depth, "truncated": hood.truncated}
    if hood.as_of:
        attrs["as_of"] = hood.as_of.isoformat()
    if hood.notices:
        attrs["notices"] = "; ".join(hood.notices)
    return attrs


class _GraphMLWriter(GraphMLWriter):  # type: ignore[misc]
    """networkx's writer, made valid GraphML: a key id is unique in the file (networkx's named
    ids gave a node's `label` and an edge's `label` one id, which the GraphML schema refuses
    and readers keyed by id mix up), and a boolean is `true`/`false` (xs:boolean), not
    Python's `True`."""

    def get_key(self, name: str, attr_type: str, scope: str, default: Any) -> str:
        if (name, attr_type, scope) not in self.keys:
            # a node's attribute by its name (Gephi maps `label` by key id), the others by
            # their scope and name: `edge_label`, `graph_depth`
            key_id = name if scope == "node" else f"{scope}_{name}"
            self.keys[(name, attr_type, scope)] = key_id
            element = self.myElement(
                "key", **{"id": key_id, "for": scope, "attr.name": name, "attr.type": attr_type}
            )
            self.xml.insert(0, element)
        return str(self.keys[(name, attr_type, scope)])

    def add_data(
        self, name: str, element_type: type, value: Any, scope: str = "all", default: Any = None
    ) -> Any:
        if element_type is bool:
            value = str(value).lower()
        return super().add_data(name, element_type, value, scope, default)


def to_graphml(hood: Neighbourhood) -> bytes:
    writer = _GraphMLWriter(encoding="utf-8", infer_numeric_types=True)
    writer.add_graph_element(_to_networkx(hood))
    buffer = io.BytesIO()
    writer.dump(buffer)
    return buffer.getvalue()


def to_gexf(hood: Neighbourhood) -> bytes:
    graph = _to_networkx(hood)
    for node in hood.nodes:
        style = style_of(node, hood.root)
        colour = str(style["colour"]).lstrip("#")
        rgb = {c: int(colour[i : i + 2], 16) for c, i in (("r", 0), ("g", 2), ("b", 4))}
        graph.nodes[node.id]["viz"] = {"color": {**rgb, "a": 1.0}, "size": float(style["size"])}
    for *_, key, attrs in graph.edges(keys=True, data=True):
        # the relation's own id, as in GraphML: networkx numbered edges 0, 1, ... in file
        # order, so the same relation had another id in the next export and Gephi's append
        # joined two different relations under one id
        attrs["id"] = key
    writer = GEXFWriter(encoding="utf-8")
    # GEXF has no graph attributes: what GraphML says of the graph (the notices of a cut
    # picture above all) goes in the file's description, which Gephi shows
    meta = writer.xml.find("meta")
    if meta is not None:
        description = "; ".join(f"{k}: {v}" for k, v in _graph_attributes(hood).items())
        SubElement(meta, "description").text = description
    writer.add_graph(graph)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def to_png(hood: Neighbourhood) -> bytes:
    return render(hood, "png")


def to_svg(hood: Neighbourhood) -> bytes:
    return render(hood, "svg")


def _script_safe(text: str) -> str:
    # inside <script> only `</` can end the element early; JSON and JS both accept `<\/`
    return text.replace("</", "<\\/")


def to_html(hood: Neighbourhood) -> bytes:
    """One HTML file with everything inlined: opens offline, from disk, in any browser."""
    data = json.dumps(to_cytoscape(hood), ensure_ascii=False).replace("<", "\\u003c")
    title = _html_escape(f"{hood.title()} — credgraph")
    page = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="credgraph export">
<title>{title}</title>
<style>
{asset_text("viz.css")}
</style>
</head>
<body class="export">
<header><h1 id="title"></h1><p id="notices" class="notices"></p></header>
<main>
<div id="graph" aria-label="network picture"></div>
<aside id="panel"><p class="hint">Click a node for its details.</p></aside>
</main>
<div id="legend"></div>
<script type="application/json" id="neighbourhood">{data}</script>
<script>{_script_safe(library_text())}</script>
<script>{_script_safe(asset_text("graph.js"))}</script>
<script>{_script_safe(asset_text("export-viewer.js"))}</script>
</body>
</html>
"""
    return page.encode()


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_WRITERS: dict[str, Callable[[Neighbourhood], bytes]] = {
    "html": to_html,
    "png": to_png,
    "svg": to_svg,
    "graphml": to_graphml,
    "gexf": to_gexf,
    "json": to_json,
}


def export(hood: Neighbourhood, fmt: str, max_nodes: int = MAX_NODES) -> bytes:
    """The neighbourhood, cut to `max_nodes`, as a file of format `fmt` (one of FORMATS)."""
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"argument format: one of {', '.join(FORMATS)}, not {fmt!r}")
    return writer(cluster_leaves(hood, max_nodes))
