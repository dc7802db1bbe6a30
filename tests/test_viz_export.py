"""Exports of a neighbourhood, parsed back: GraphML and GEXF by networkx, PNG by its pixels,
SVG by its text, HTML and Cytoscape JSON by their data; the cut of a large neighbourhood."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import matplotlib
import networkx as nx
import numpy as np
import pytest
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import choose_profile, load_profiles
from credgraph.queries.scores import score_graph
from credgraph.viz.export import FORMATS, export, to_cytoscape
from credgraph.viz.model import (
    CLUSTER,
    LEGAL_PERSON,
    NATURAL_PERSON,
    RECORD,
    Neighbourhood,
    VizEdge,
    VizNode,
    build_neighbourhood,
    cluster_leaves,
    edge_label,
)
from credgraph.viz.render import _draw, _parallel, cjk_font, layout, radial_layout
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, new_database
from tests.investigations import MiniRegistry, cli_runner, guarantee_circle
from tests.registries import (
    FIRM_A,
    FIRM_B,
    RECORD_HEADER,
    ZHANG,
    load_folder,
    write_csv,
    write_tiny_registry,
)

FIRM_A_NAME = "厦门鹭岛科技有限公司"
FIRM_B_NAME = "福州闽江贸易有限公司"
AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def tiny_store(embedded, driver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:  # type: ignore[no-untyped-def]
    store = new_database(embedded, driver, prefix="vizx")
    tmp = tmp_path_factory.mktemp("vizx")
    load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=AS_OF),
        [write_tiny_registry(tmp)],
        batch_size=100,
        rejects_dir=tmp / "rejects",
    )
    yield store
    embedded.drop_database(store.database or "")


@pytest.fixture(scope="module")
def firm_a_hood(tiny_store: GraphStore, settings: Settings) -> Neighbourhood:
    return _firm_a_hood(tiny_store)


def _firm_a_hood(store: GraphStore, include_records: bool = True) -> Neighbourhood:
    """FIRM_A two steps out, former relations too, under the default profile."""
    profile = choose_profile(load_profiles(None), None)
    return build_neighbourhood(
        store,
        PartyKey(Label.LEGAL_PERSON, FIRM_A),
        profile,
        depth=2,
        as_of=AS_OF,
        include_former=True,
        include_records=include_records,
    )


def _labels(hood: Neighbourhood, kind: str) -> set[str]:
    return {n.label for n in hood.nodes if n.kind == kind}


def test_the_neighbourhood_holds_parties_relations_and_records(firm_a_hood: Neighbourhood) -> None:
    assert _labels(firm_a_hood, LEGAL_PERSON) == {FIRM_A_NAME, FIRM_B_NAME, "思明区老张小吃店"}
    assert _labels(firm_a_hood, NATURAL_PERSON) == {"张伟", "李娜"}
    by_label = {n.label: n for n in firm_a_hood.nodes}
    assert by_label[FIRM_A_NAME].sanctioned  # its blacklist entry counts on the date
    assert by_label["张伟"].sanctioned  # dishonest debtor
    assert not by_label[FIRM_B_NAME].sanctioned  # its penalty expired in 2019
    labels = {(e.type, e.label) for e in firm_a_hood.edges}
    assert ("SHAREHOLDER_OF", "60%") in labels
    assert ("GUARANTEES", "¥750万") in labels
    assert ("LEGAL_REPRESENTATIVE_OF", "legal representative") in labels
    former = [e for e in firm_a_hood.edges if not e.current]
    # the legal representative of the shop until 2020 is a former relation
    assert [(e.type, e.target) for e in former if e.type != "SUBJECT_OF"] == [
        ("LEGAL_REPRESENTATIVE_OF", "REG:350203600012345")
    ]
    # every relation between two parties of the picture is drawn, not only the walk's tree:
    # 张伟 reaches FIRM_B directly as well as through FIRM_A
    graph = nx.MultiGraph([(e.source, e.target) for e in firm_a_hood.edges])
    assert graph.number_of_edges(FIRM_A, FIRM_B) == 2  # stake and guarantee


def test_relations_the_cap_left_unread_are_said_to_be_missing(tiny_store: GraphStore) -> None:
    profile = choose_profile(load_profiles(None), None)
    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)
    hood = build_neighbourhood(
        tiny_store, firm_a, profile, depth=1, as_of=AS_OF, include_former=True, cap=3
    )
    assert hood.truncated
    assert hood.notices == [
        "depth 1 was read only in part (more than 3 relations): "
        "some parties at that depth, and all beyond, are not drawn",
        "some relations among the farthest parties are not drawn: more than 3 to read",
    ]


def test_without_records_the_same_parties_and_relations_are_drawn(
    tiny_store: GraphStore, firm_a_hood: Neighbourhood
) -> None:
    hood = _firm_a_hood(tiny_store, include_records=False)
    with_records = firm_a_hood
    assert _labels(with_records, RECORD), "the tiny registry's firms have records"
    assert not _labels(hood, RECORD)
    assert [n for n in with_records.nodes if n.kind != RECORD] == hood.nodes
    assert [e for e in with_records.edges if e.type != "SUBJECT_OF"] == hood.edges
    # a party is still drawn sanctioned by the records it does not show
    assert {n.label for n in hood.nodes if n.sanctioned} == {FIRM_A_NAME, "张伟"}
    assert (hood.truncated, hood.notices) == (False, [])


def _circle() -> MiniRegistry:
    """A guarantee circle A->B->C->A; B also guaranteed C until 2020 (a former relation)."""
    return guarantee_circle(former=True)


def test_a_level_the_cap_cut_is_said_to_be_read_in_part(tiny_store: GraphStore) -> None:
    profile = choose_profile(load_profiles(None), None)
    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)
    hood = build_neighbourhood(tiny_store, firm_a, profile, depth=2, as_of=AS_OF, cap=1)
    assert hood.truncated
    parties = {(n.label, n.depth) for n in hood.nodes if n.kind in (LEGAL_PERSON, NATURAL_PERSON)}
    # the cut level keeps what it read: parties at depth 1 are drawn, not all three of them
    # (FIRM_B, 张伟 and 李娜 are linked to FIRM_A on the day), and nothing beyond
    assert (FIRM_A_NAME, 0) in parties
    at_one = {label for label, depth in parties if depth == 1}
    assert at_one and at_one < {FIRM_B_NAME, "张伟", "李娜"}, parties
    assert {depth for _, depth in parties} == {0, 1}
    assert hood.notices[0] == (
        "depth 1 was read only in part (more than 1 relations): "
        "some parties at that depth, and all beyond, are not drawn"
    )


def test_a_circle_is_exported_whole(graph: GraphStore, tmp_path: Path) -> None:
    reg = _circle()
    reg.load(graph, tmp_path)
    a, b, c = (reg.ids[n] for n in "ABC")
    profile = choose_profile(load_profiles(None), None)
    hood = build_neighbourhood(
        graph, reg.key("A"), profile, depth=1, as_of=AS_OF, include_former=True
    )
    # from A at depth 1 the walk reaches B and C by A-B and C-A; B-C joins two parties of the
    # last level and is drawn too, and the former guarantee beside it as its own edge
    exported = nx.read_graphml(io.BytesIO(export(hood, "graphml")))
    assert exported.has_edge(b, c)
    circle = {(x, y) for x, y, d in exported.edges(data=True) if d["current"]}
    assert circle == {(a, b), (b, c), (c, a)}
    former = [(x, y) for x, y, d in exported.edges(data=True) if not d["current"]]
    assert former == [(b, c)]
    assert exported.number_of_edges(b, c) == 2
    # the picture draws the former one apart from the current one, dashed
    groups = _parallel(hood)
    assert {key for key in groups if {key[0], key[1]} == {b, c}} == {
        (min(b, c), max(b, c), True),
        (min(b, c), max(b, c), False),
    }
    # every other format carries the third edge too
    doc = json.loads(export(hood, "json"))
    pairs = {(e["data"]["source"], e["data"]["target"]) for e in doc["elements"]["edges"]}
    assert (b, c) in pairs
    gexf = nx.read_gexf(io.BytesIO(export(hood, "gexf")))
    assert gexf.has_edge(b, c)
    # without former relations: the circle alone
    current = build_neighbourhood(graph, reg.key("A"), profile, depth=1, as_of=AS_OF)
    assert sorted((e.source, e.target) for e in current.edges if e.type == "GUARANTEES") == sorted(
        [(a, b), (b, c), (c, a)]
    )


def test_graphml_and_gexf_read_back_with_networkx(firm_a_hood: Neighbourhood) -> None:
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        graph = reader(io.BytesIO(export(firm_a_hood, fmt)))
        assert graph.number_of_nodes() == len(firm_a_hood.nodes), fmt
        assert graph.number_of_edges() == len(firm_a_hood.edges), fmt
        names = {data.get("label") for _, data in graph.nodes(data=True)}
        assert {FIRM_A_NAME, FIRM_B_NAME, "张伟"} <= names, fmt
        types = {data.get("relation") for *_, data in graph.edges(data=True)}
        assert {"SHAREHOLDER_OF", "GUARANTEES", "SUBJECT_OF"} <= types, fmt
    gexf = nx.read_gexf(io.BytesIO(export(firm_a_hood, "gexf")))
    assert gexf.nodes[FIRM_A]["viz"]["color"] == {"r": 214, "g": 39, "b": 40, "a": 1.0}


def test_graphml_and_gexf_keep_every_detail_and_say_what_was_cut(
    firm_a_hood: Neighbourhood,
) -> None:
    hood = cluster_leaves(firm_a_hood, max_nodes=5)  # cut: its notices must travel
    assert hood.notices
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        graph = reader(io.BytesIO(export(firm_a_hood, fmt)))
        # a firm's and a record's own kind are kept beside the node kind
        assert graph.nodes[FIRM_A]["kind"] == LEGAL_PERSON, fmt
        assert graph.nodes[FIRM_A]["legal_person_kind"] == "enterprise", fmt
        kinds = {d.get("record_kind") for _, d in graph.nodes(data=True) if d["kind"] == "Record"}
        assert "blacklist" in kinds, fmt
        authorities = {d.get("authority") for _, d in graph.nodes(data=True)}
        assert "厦门市应急管理局" in authorities, fmt  # the blacklist's issuing authority
        # what the picture is of, and what was cut, is in the file
        text = export(hood, fmt).decode()
        for notice in hood.notices:
            assert notice in text, fmt
    gexf = ElementTree.fromstring(export(hood, "gexf"))
    description = gexf.find(
        "{http://www.gexf.net/1.2draft}meta/{http://www.gexf.net/1.2draft}description"
    )
    assert description is not None and description.text
    assert f"root: {FIRM_A}" in description.text and "truncated: True" in description.text


def test_cytoscape_json_and_html_carry_the_data(firm_a_hood: Neighbourhood) -> None:
    doc = json.loads(export(firm_a_hood, "json"))
    assert doc == to_cytoscape(firm_a_hood)
    assert doc["data"]["root"] == FIRM_A
    ids = {n["data"]["id"] for n in doc["elements"]["nodes"]}
    assert all(
        e["data"]["source"] in ids and e["data"]["target"] in ids for e in doc["elements"]["edges"]
    )
    html = export(firm_a_hood, "html").decode()
    assert "<script src=" not in html and "http://" not in html.split("cytoscape")[0]
    inline = re.search(
        r'<script type="application/json" id="neighbourhood">(.*?)</script>', html, re.S
    )
    assert inline is not None
    assert json.loads(inline.group(1)) == doc
    assert "cytoscape" in html and "function clusterLeaves" in html


def test_a_record_that_no_longer_counts_is_drawn_as_ended_negative_or_positive(
    tiny_store: GraphStore, tmp_path: Path
) -> None:
    """A revoked or expired negative record was drawn dashed (`current` false) while an expired
    red-list entry kept a solid line: one rule now, for both, whatever the format."""
    firm = make_uscc("9", "1", "350206", "MC0000R1")
    folder = tmp_path / "records"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[firm, "", "记录线型测试有限公司", "enterprise", "2015-01-01"]],
    )
    rows = [
        # record id, kind, valid_from, valid_to, listed status
        ("LS-NEG-ON", "admin_penalty", "2025-01-01", "2027-01-01", "active"),
        ("LS-NEG-REVOKED", "admin_penalty", "2025-01-01", "2027-01-01", "revoked"),
        ("LS-NEG-EXPIRED", "admin_penalty", "2020-01-01", "2021-01-01", "active"),
        ("LS-RED-ON", "red_list", "2025-01-01", "2028-01-01", "active"),
        ("LS-RED-EXPIRED", "red_list", "2020-01-01", "2021-01-01", "active"),
    ]
    source = ["public", "xm-credit", "", ""]  # disclosure, source system, court, case
    write_csv(
        folder / "records.csv",
        RECORD_HEADER,
        [
            [uid, firm, kind, "tax", "AUTH7", "厦门市税务局", start, start, end, status, *source]
            for uid, kind, start, end, status in rows
        ],
    )
    load_folder(tiny_store, folder, tmp_path / "rejects", batch_size=100)
    hood = build_neighbourhood(
        tiny_store,
        PartyKey(Label.LEGAL_PERSON, firm),
        choose_profile(load_profiles(None), None),
        depth=1,
        as_of=AS_OF,
    )
    # a record's uid is its source system's and its own id
    drawn = {e.target.removeprefix("record:XMCREDIT:"): e.current for e in hood.edges}
    expected = {
        "LS-NEG-ON": True,
        "LS-NEG-REVOKED": False,
        "LS-NEG-EXPIRED": False,
        "LS-RED-ON": True,
        "LS-RED-EXPIRED": False,
    }
    assert {uid: drawn[uid] for uid in expected} == expected
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        exported = reader(io.BytesIO(export(hood, fmt)))
        ended = {
            target.removeprefix("record:XMCREDIT:")
            for _, target, data in exported.edges(data=True)
            if str(data["current"]).lower() == "false"
        }
        assert ended == {"LS-NEG-REVOKED", "LS-NEG-EXPIRED", "LS-RED-EXPIRED"}, fmt
    # the legend says what a dashed line means, in the pictures and in the HTML page
    assert "or a record that no longer counts" in export(hood, "svg").decode()
    assert "or a record that no longer counts" in export(hood, "html").decode()


def test_png_is_a4_legible_and_not_blank(firm_a_hood: Neighbourhood) -> None:
    image = Image.open(io.BytesIO(export(firm_a_hood, "png"))).convert("RGB")
    assert image.size == (2338, 1654)  # A4 landscape at 200 dpi
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50
    red = sum(count for count, (r, g, b) in colours if r > 200 and g < 60 and b < 60)
    assert red > 200  # the sanctioned parties are drawn red


def test_a_high_risk_root_keeps_its_orange_ring(firm_a_hood: Neighbourhood) -> None:
    def orange(hood: Neighbourhood) -> int:
        image = Image.open(io.BytesIO(export(hood, "png"))).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 20) or []
        return sum(n for n, (r, g, b) in colours if r > 230 and 100 < g < 160 and b < 60)

    def with_root_risk(risk: float | None) -> Neighbourhood:
        nodes = [replace(n, risk=risk) if n.id == FIRM_A else n for n in firm_a_hood.nodes]
        return replace(firm_a_hood, nodes=nodes)

    # the legend has its orange ring either way: the root adds one of its own
    assert orange(with_root_risk(0.9)) > orange(with_root_risk(None)) + 100


def test_a_picture_of_two_nodes_side_by_side_is_drawn() -> None:
    # a shop and its operator, a party and its one record: laid out level, on one line
    pair = Neighbourhood(
        "shop",
        [
            VizNode("shop", LEGAL_PERSON, "思明区老张小吃店"),
            VizNode("zhang", NATURAL_PERSON, "张伟", 1),
        ],
        [VizEdge("e", "zhang", "shop", "LEGAL_REPRESENTATIVE_OF", "legal representative")],
        depth=1,
    )
    assert Image.open(io.BytesIO(export(pair, "png"))).size == (2338, 1654)
    assert "思明区老张小吃店" in export(pair, "svg").decode()


def test_svg_names_the_parties_and_has_a_legend(firm_a_hood: Neighbourhood) -> None:
    svg = export(firm_a_hood, "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in (FIRM_A_NAME, "张伟", "李娜", "60%", "legend", "former relation"):
        assert name in svg, name
    assert cjk_font() is not None  # make test installs fonts-wqy-zenhei where missing


def _star(leaves: int) -> Neighbourhood:
    nodes = [VizNode("hub", LEGAL_PERSON, "枢纽公司", 0)]
    edges = []
    for i in range(leaves):
        nodes.append(VizNode(f"p{i}", NATURAL_PERSON, f"股东{i}", 1, sanctioned=i == 7))
        edges.append(VizEdge(f"e{i}", f"p{i}", "hub", "SHAREHOLDER_OF", "1%"))
    return Neighbourhood("hub", nodes, edges, depth=1)


def test_a_hub_with_thousands_of_leaves_is_folded_into_a_cluster() -> None:
    star = _star(3000)
    cut = cluster_leaves(star, max_nodes=300)
    clusters = [n for n in cut.nodes if n.kind == CLUSTER]
    assert len(cut.nodes) <= 300 and cut.truncated
    assert [c.count for c in clusters] == [2999]  # the sanctioned leaf stays visible
    assert {n.id for n in cut.nodes} == {"hub", "p7", clusters[0].id}
    assert cut.notices == [
        "2999 leaf parties folded into 1 cluster node to keep the picture under 300 nodes"
    ]
    # the sanctioned leaf's own relation, and the cluster's one for the 2999 folded
    assert {(e.source, e.target, e.label) for e in cut.edges} == {
        ("p7", "hub", "1%"),
        (clusters[0].id, "hub", "2999"),
    }
    assert cluster_leaves(_star(20), max_nodes=300) == _star(20)  # small pictures stay whole


def test_a_hub_s_shareholders_and_its_holdings_are_two_clusters() -> None:
    star = _star(30)  # 30 shareholders of the hub
    for i in range(12):  # and 12 firms the hub holds shares in
        star.nodes.append(VizNode(f"f{i}", LEGAL_PERSON, f"子公司{i}", 1))
        star.edges.append(VizEdge(f"h{i}", "hub", f"f{i}", "SHAREHOLDER_OF", "51%"))
    cut = cluster_leaves(star, max_nodes=10)
    clusters = {n.id: n.count for n in cut.nodes if n.kind == CLUSTER}
    assert sorted(clusters.values()) == [12, 29]  # the sanctioned shareholder stays drawn
    links = {
        (e.source, e.target) for e in cut.edges if e.source in clusters or e.target in clusters
    }
    holders = next(c for c, count in clusters.items() if count == 29)
    holdings = next(c for c, count in clusters.items() if count == 12)
    assert links == {(holders, "hub"), ("hub", holdings)}  # each the way its relations run


def test_without_leaves_to_fold_the_farthest_nodes_are_left_out() -> None:
    chain = Neighbourhood(
        "n0",
        [VizNode(f"n{i}", LEGAL_PERSON, f"公司{i}", i) for i in range(50)],
        [VizEdge(f"e{i}", f"n{i}", f"n{i + 1}", "SUPPLIES", "supplies") for i in range(49)],
        depth=49,
    )
    cut = cluster_leaves(chain, max_nodes=20)
    assert {n.id for n in cut.nodes} == {f"n{i}" for i in range(20)}
    assert cut.notices == ["30 farthest nodes left out (cap of 20 nodes)"]
    assert {e.id for e in cut.edges} == {f"e{i}" for i in range(19)}  # among those kept only


def test_a_cluster_s_label_is_never_cut() -> None:
    svg = export(_star(2000), "svg").decode()
    assert "1999 × shareholder" in svg


def test_exports_of_a_large_neighbourhood_are_cut_and_say_so() -> None:
    doc: dict[str, Any] = json.loads(export(_star(2000), "json"))
    assert len(doc["elements"]["nodes"]) <= 300
    folded = "1999 leaf parties folded into 1 cluster node to keep the picture under 300 nodes"
    assert doc["data"]["notices"] == [folded]
    graph = nx.read_graphml(io.BytesIO(export(_star(2000), "graphml")))
    assert folded in graph.graph["notices"]


@pytest.mark.parametrize(
    ("relation", "props", "label"),
    [
        ("SHAREHOLDER_OF", {"stake": 0.255}, "25.5%"),
        ("GUARANTEES", {"amount": 3.2e8}, "¥3.2亿"),
        ("EXECUTIVE_OF", {"role": "cfo"}, "cfo"),
        ("BRANCH_OF", {}, "branch"),
    ],
)
def test_edge_labels(relation: str, props: dict[str, Any], label: str) -> None:
    assert edge_label(relation, props) == label


def test_unknown_format_is_refused_naming_the_argument(firm_a_hood: Neighbourhood) -> None:
    with pytest.raises(ValueError, match="argument format"):
        export(firm_a_hood, "pdf")
    assert set(FORMATS) == {"html", "png", "svg", "graphml", "gexf", "json"}


def test_cli_export_refuses_a_bad_format_or_out_before_opening_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["export", FIRM_A, "--format", "pdf", "--out", "x.pdf"])
    assert result.exit_code == 2
    assert "--format" in result.output
    assert not (tmp_path / "data").exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for out in (tmp_path, a_file / "x.html"):  # a folder; a path under a file
        result = CliRunner().invoke(app, ["export", FIRM_A, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("--out") and "Traceback" not in result.output
    assert not (tmp_path / "data").exists()


def test_cli_export_takes_the_options_the_other_verbs_take(
    tiny_store: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = cli_runner(monkeypatch, embedded, tiny_store)
    out = tmp_path / "[red]zhang.json"  # a path is printed as it is, not as rich markup
    # `--types` as `credgraph linked` takes it, a format in capitals, a resident ID number
    args = ["export", ZHANG, "--types", "shareholder_of,executive_of", "--format", "JSON"]
    # an export of a person is a lookup of one: without a purpose nothing is written, exit 4
    refused = runner.invoke(app, [*args, "--out", str(out), "--as-of", AS_OF.isoformat()])
    assert refused.exit_code == 4 and "--purpose" in refused.stderr, refused.output
    assert not out.exists() and ZHANG not in refused.output
    args += ["--purpose", "investigation"]
    result = runner.invoke(app, [*args, "--out", str(out), "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert ZHANG not in result.output  # the ID number is never echoed
    assert "[red]zhang.json" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    types = {e["data"]["type"] for e in doc["elements"]["edges"]} - {"SUBJECT_OF"}
    assert types and types <= {"SHAREHOLDER_OF", "EXECUTIVE_OF"}
    assert ZHANG not in out.read_text(encoding="utf-8")
    # the first name of the option still works
    png = tmp_path / "zhang.png"
    result = runner.invoke(
        app,
        [
            "export",
            ZHANG,
            "--relation-type",
            "GUARANTEES",
            "--format",
            "png",
            "--out",
            str(png),
            "--purpose",
            "investigation",
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(png).size == (2338, 1654)


def test_cli_export_takes_its_format_from_the_out_file_s_extension(
    tiny_store: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--out net.png` without `--format` wrote an HTML page named net.png."""
    runner = cli_runner(monkeypatch, embedded, tiny_store)
    png = tmp_path / "net.png"
    purpose = ["--purpose", "investigation"]  # the firm's neighbourhood holds persons
    result = runner.invoke(app, ["export", FIRM_A, "--depth", "1", "--out", str(png), *purpose])
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG") and "(png," in result.output
    refused = runner.invoke(app, ["export", FIRM_A, "--format", "svg", "--out", str(png), *purpose])
    assert refused.exit_code == 2 and "--out net.png names png" in refused.output
    page = tmp_path / "net.out"  # an extension that names no format: html, as before
    result = runner.invoke(app, ["export", FIRM_A, "--depth", "1", "--out", str(page), *purpose])
    assert result.exit_code == 0 and page.read_text(encoding="utf-8").startswith("<!doctype html")


def test_a_picture_shows_the_profile_s_stored_scores_and_only_records_started(
    tiny_store: GraphStore,
) -> None:
    profile = choose_profile(load_profiles(None), None)
    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)
    _, snapshot, scores = score_graph(tiny_store, profile, AS_OF)
    index = snapshot.index_of(firm_a)
    assert index is not None
    stored = float(scores[index])
    assert stored > 0  # its blacklist entry counts

    def drawn(as_of: date | None) -> Neighbourhood:
        return build_neighbourhood(tiny_store, firm_a, profile, depth=1, as_of=as_of)

    node = next(n for n in drawn(AS_OF).nodes if n.id == FIRM_A)
    assert node.risk == pytest.approx(stored)
    assert "risk" in to_cytoscape(drawn(AS_OF))["elements"]["nodes"][0]["data"]
    # a picture of another day shows no score of this one, and no record not yet started
    earlier = drawn(date(2024, 1, 1))
    assert next(n for n in earlier.nodes if n.id == FIRM_A).risk is None
    assert "record:XMCREDIT:B-1" not in {n.id for n in earlier.nodes}  # starts 2024-03-01
    assert "record:XMCREDIT:B-1" in {n.id for n in drawn(AS_OF).nodes}


def _hub_with_records(firms: int) -> Neighbourhood:
    """A person on the boards of `firms` firms, every third firm with one record and every
    fifth with two: a professional officer's neighbourhood."""
    nodes = [VizNode("hub", NATURAL_PERSON, "郝国磊", 0)]
    edges = []
    for i in range(firms):
        nodes.append(VizNode(f"f{i}", LEGAL_PERSON, f"厦门市某某贸易有限公司{i}", 1))
        edges.append(VizEdge(f"e{i}", "hub", f"f{i}", "EXECUTIVE_OF", "director"))
        for j in range((i % 3 == 0) + (i % 5 == 0)):
            nodes.append(VizNode(f"r{i}.{j}", RECORD, "行政处罚信息", 2))
            edges.append(VizEdge(f"s{i}.{j}", f"f{i}", f"r{i}.{j}", "SUBJECT_OF", ""))
    return Neighbourhood("hub", nodes, edges, depth=1)


def test_a_hub_is_drawn_in_rings_each_node_in_its_own_direction() -> None:
    hood = _hub_with_records(104)
    positions = layout(hood)
    assert positions["hub"] == (0.0, 0.0)
    radius = {
        n.id: round((positions[n.id][0] ** 2 + positions[n.id][1] ** 2) ** 0.5, 9)
        for n in hood.nodes
    }
    firms = {radius[n.id] for n in hood.nodes if n.kind == LEGAL_PERSON}
    records = {radius[n.id] for n in hood.nodes if n.kind == RECORD}
    assert len(firms) == 1 and len(records) == 1 and max(firms) < min(records)
    # every node on a ray of its own: a firm's name runs along its ray, past its records
    directions = [
        round(float(np.arctan2(y, x)), 9) for x, y in positions.values() if (x, y) != (0, 0)
    ]
    assert len(set(directions)) == len(directions) == len(hood.nodes) - 1


def test_the_names_in_a_hub_s_picture_do_not_overprint() -> None:
    """Kamada-Kawai heaped a hub's hundred firms into a disk where 71 pairs of names
    overprinted; in rings, each name runs along its own ray."""
    hood = _hub_with_records(104)
    with matplotlib.rc_context({"font.family": [cjk_font() or "DejaVu Sans", "DejaVu Sans"]}):
        figure = _draw(hood, [])
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        names = [_outline_of(text, canvas.get_renderer()) for text in figure.axes[0].texts]
    assert len(names) == 105  # the hub and its firms (records are not named in a picture this big)
    crossing = [
        (i, j)
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if _overlap(names[i], names[j])
    ]
    assert crossing == []


Corners = list[tuple[float, float]]


def _outline_of(text: Any, renderer: Any) -> Corners:
    """The four corners, in pixels, of a name as drawn: its box unturned, turned about the
    point it is anchored at (matplotlib's rotation_mode "anchor")."""
    turned = text.get_rotation()
    text.set_rotation(0)
    box = text.get_window_extent(renderer)
    text.set_rotation(turned)
    x = {"left": box.x0, "right": box.x1}.get(text.get_horizontalalignment(), (box.x0 + box.x1) / 2)
    y = {"top": box.y1, "bottom": box.y0}.get(text.get_verticalalignment(), (box.y0 + box.y1) / 2)
    c, s = np.cos(np.radians(turned)), np.sin(np.radians(turned))
    return [
        (x + c * (px - x) - s * (py - y), y + s * (px - x) + c * (py - y))
        for px, py in ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))
    ]


def _overlap(p: Corners, q: Corners) -> bool:
    """Whether two convex quadrilaterals share area (no separating axis among their edges)."""
    for shape in (p, q):
        for (x1, y1), (x2, y2) in zip(shape, shape[1:] + shape[:1], strict=True):
            normal = (y1 - y2, x2 - x1)
            a = [normal[0] * x + normal[1] * y for x, y in p]
            b = [normal[0] * x + normal[1] * y for x, y in q]
            if max(a) <= min(b) or max(b) <= min(a):
                return False
    return True


def test_rings_are_laid_out_from_the_root_and_leave_strays_outside() -> None:
    graph = nx.Graph([("root", "a"), ("root", "b"), ("a", "c"), ("x", "y")])
    positions = radial_layout(graph, "root")
    distance = {n: (x * x + y * y) ** 0.5 for n, (x, y) in positions.items()}
    assert distance["root"] == 0 and distance["a"] == distance["b"] < distance["c"]
    assert distance["x"] == distance["y"] > distance["c"]  # not reached from the root
    assert radial_layout(graph, "root") == positions  # the same picture every time
