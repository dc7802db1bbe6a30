"""An analyst's checks of the pictures: graph files Gephi and networkx take as typed, valid
files with stable ids, and a record's status on the date drawn, marked on the page, in the
exported HTML and in the static pictures. One app on the embedded store, one browser session."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import matplotlib
import networkx as nx
import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import Label
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import choose_profile, load_profiles
from credgraph.viz.export import export
from credgraph.viz.model import RECORD, Neighbourhood, build_neighbourhood, cluster_leaves
from credgraph.viz.page import viz_router
from credgraph.viz.render import PNG_DPI, _draw, cjk_font, in_rings
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_A, RECORD_HEADER, load_folder, write_csv
from tests.test_viz_page import CHROMEDRIVER, CHROMIUM, browser, open_page, search, wait_for

__all__ = ["browser"]  # the browser fixture of tests/test_viz_page.py: one session here

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"
GEXF = "{http://www.gexf.net/1.2draft}"
CONTESTED = make_uscc("9", "1", "350203", "MD000001")
CONTESTED_NAME = "异议测试商贸有限公司"
# on 2025-06-01: listed 2024 and contested since 2025-01-01; a penalty that ran out in 2023; a
# penalty repaired in 2024; a penalty decided in September 2025, not started yet
ON_THE_DAY = date(2025, 6, 1)
STATUS_ON_THE_DAY = {
    "record:XMCREDIT:Q-OBJ": "under_objection",
    "record:XMCREDIT:Q-OLD": "expired",
    "record:XMCREDIT:Q-FIX": "repaired",
}

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)


@pytest.fixture(scope="module")
def app_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("vizqa")
    yield from start_api_env(embedded, driver, settings, tmp, extra_routers=(viz_router(),))


@pytest.fixture(scope="module")
def env(app_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> ApiEnv:
    """The app with the page, on the API registry, plus a firm whose records changed status."""
    folder = tmp_path_factory.mktemp("contested")
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[CONTESTED, "", CONTESTED_NAME, "enterprise", "2015-01-01"]],
    )
    authority = ["market", "AUTH9", "厦门市市场监督管理局"]
    rows = [
        ["Q-OBJ", CONTESTED, "abnormal_operation", *authority, "2024-01-01", "2024-01-01"],
        ["Q-OLD", CONTESTED, "admin_penalty", *authority, "2022-01-01", "2022-01-01"],
        ["Q-FIX", CONTESTED, "admin_penalty", *authority, "2023-03-01", "2023-03-01"],
        ["Q-NEW", CONTESTED, "admin_penalty", *authority, "2025-09-01", "2025-09-01"],
    ]
    ends = ["2027-01-01", "2023-01-01", "2027-03-01", "2028-09-01"]
    rows = [[*row, end, "active", "public", "xm-credit", "", ""] for row, end in zip(rows, ends)]
    write_csv(folder / "records.csv", RECORD_HEADER, rows)
    write_csv(
        folder / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [
            ["C-1", "Q-OBJ", "xm-credit", "objection_opened", "2025-01-01"],
            ["C-2", "Q-FIX", "xm-credit", "repaired", "2024-03-01"],
        ],
    )
    load_folder(app_env.store, folder, folder / "rejects", batch_size=100)
    return app_env


def _hood(env: ApiEnv, key: PartyKey, depth: int, as_of: date | None = None) -> Neighbourhood:
    profile = choose_profile(load_profiles(None), None)
    return build_neighbourhood(env.store, key, profile, depth=depth, as_of=as_of)


def test_graphml_declares_each_key_once_typed_with_xml_booleans(env: ApiEnv) -> None:
    """networkx's named key ids gave a node's `label` and an edge's `label` one id (the GraphML
    schema wants key ids unique), stakes and amounts were text, yes/no were text, and booleans
    were Python's `True`, not xs:boolean's `true`."""
    hood = _hood(env, PartyKey(Label.LEGAL_PERSON, FIRM_A), depth=2)
    data = export(hood, "graphml")
    assert data == export(hood, "graphml")  # the same graph, the same file
    root = ElementTree.fromstring(data)
    keys = root.findall(f"{GRAPHML}key")
    ids = [k.get("id") for k in keys]
    assert len(ids) == len(set(ids)), sorted(ids)
    declared = {(k.get("for"), k.get("attr.name")): k.get("attr.type") for k in keys}
    assert declared[("edge", "stake")] == "double"
    assert declared[("edge", "amount")] == "double"
    assert declared[("node", "counts")] == "boolean"
    assert declared[("node", "under_objection")] == "boolean"
    assert declared[("edge", "valid_from")] == "string"  # dates as ISO text
    booleans = {k.get("id") for k in keys if k.get("attr.type") == "boolean"}
    values = {d.text for d in root.iter(f"{GRAPHML}data") if d.get("key") in booleans}
    assert values == {"true", "false"}
    assert "None" not in {d.text for d in root.iter(f"{GRAPHML}data")}
    graph = nx.read_graphml(io.BytesIO(data))
    stakes = [d["stake"] for *_, d in graph.edges(data=True) if "stake" in d]
    assert stakes and all(isinstance(s, float) for s in stakes) and 0.6 in stakes
    records = [d for _, d in graph.nodes(data=True) if d["kind"] == RECORD]
    assert records and all(isinstance(d["counts"], bool) for d in records)


def test_gexf_edges_keep_their_relation_ids_from_one_export_to_the_next(env: ApiEnv) -> None:
    """GEXF numbered edges 0, 1, ... in file order: the stake between two firms was edge 3 in
    one export and edge 1 in the next, and Gephi's append merged different relations."""
    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)

    def edge_ids(hood: Neighbourhood) -> dict[str, str]:
        root = ElementTree.fromstring(export(hood, "gexf"))
        found = {}
        for edge in root.iter(f"{GEXF}edge"):
            found[str(edge.get("id"))] = f"{edge.get('source')}->{edge.get('target')}"
        return found

    wide, narrow = edge_ids(_hood(env, firm_a, 2)), edge_ids(_hood(env, firm_a, 1))
    assert set(wide) == {e.id for e in _hood(env, firm_a, 2).edges}
    for edge_id, ends in narrow.items():  # the same relation, the same id, in both files
        assert wide[edge_id] == ends


def test_static_pictures_mark_each_record_s_status_on_the_day(env: ApiEnv) -> None:
    """PNG and SVG drew every record that did not count alike, a grey diamond: a record under
    objection, a repaired one and an expired one could not be told apart."""
    hood = _hood(env, PartyKey(Label.LEGAL_PERSON, CONTESTED), depth=1, as_of=ON_THE_DAY)
    drawn = {n.id: n.details.get("status") for n in hood.nodes if n.kind == RECORD}
    assert drawn == STATUS_ON_THE_DAY  # the September penalty had not started
    svg = export(hood, "svg").decode()
    for words in ("under objection", "repaired", "expired"):
        assert words in svg, words
    assert "#9467bd" in svg.lower() and "#2ca02c" in svg.lower()  # their rings
    assert "record expired or revoked" in svg  # and the legend says what the marks mean


@needs_browser
def test_the_page_shows_a_record_as_it_stood_on_the_date(
    browser: Any, env: ApiEnv, tmp_path: Path
) -> None:
    """The page drew a record's latest status ("under_objection — under objection" for a
    record contested months after the date drawn, while it counted in red) and drew records
    that had not started by the date; the exported HTML did not mark statuses either."""
    open_page(browser, env, ApiRole.INVESTIGATOR)
    browser.execute_script("document.getElementById('as-of').value = '2024-06-01'")
    search(browser, CONTESTED)
    records = browser.execute_script(
        "return cgPage.cy.nodes('[kind = \"Record\"]')"
        ".map(n => [n.id(), n.data('recordStatus'), n.data('sanctioned')])"
    )
    # in June 2024 the listing counted (nothing contested it yet); the September 2025 penalty
    # had not started
    assert sorted(map(tuple, records)) == [
        ("record:XMCREDIT:Q-FIX", "repaired", False),
        ("record:XMCREDIT:Q-OBJ", "active", True),
        ("record:XMCREDIT:Q-OLD", "expired", False),
    ]
    row = browser.execute_script(
        "return Array.from(document.querySelectorAll('#panel table.records tr[data-status]'))"
        ".map(r => r.cells[1].textContent)"
    )
    assert "active" in row and not any("under objection" in cell for cell in row)
    drawn = browser.execute_script("return document.body.dataset.drawn")
    browser.execute_script(
        """const box = document.getElementById('as-of'); box.value = arguments[0];
           box.dispatchEvent(new Event('change'));""",
        ON_THE_DAY.isoformat(),
    )
    wait_for(browser, f"document.body.dataset.drawn !== '{drawn}' && !cgPage.state.busy")
    marks = browser.execute_script(
        "return cgPage.cy.nodes('[kind = \"Record\"]').map(n => [n.id(), n.data('recordStatus'),"
        " n.data('short'), n.style('border-color'), n.style('background-color')])"
    )
    by_id = {m[0]: m[1:] for m in marks}
    assert {k: v[0] for k, v in by_id.items()} == STATUS_ON_THE_DAY
    _, short, border, _ = by_id["record:XMCREDIT:Q-OBJ"]
    assert short.endswith("\nunder objection") and border == "rgb(148,103,189)"
    assert by_id["record:XMCREDIT:Q-FIX"][2] == "rgb(44,160,44)"
    assert by_id["record:XMCREDIT:Q-OLD"][3] == "rgb(255,255,255)"  # hollow
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('#panel table.records tr[data-status]'))"
        ".map(r => r.cells[1].textContent)"
    )
    assert "under objection" in cells and not any("—" in cell for cell in cells)
    # the exported HTML marks them the same way
    hood = _hood(env, PartyKey(Label.LEGAL_PERSON, CONTESTED), depth=1, as_of=ON_THE_DAY)
    page = tmp_path / "contested.html"
    page.write_bytes(export(hood, "html"))
    browser.get(page.as_uri())
    wait_for(browser, "window.cgExport && cgExport.cy.nodes().length")
    exported = browser.execute_script(
        "return cgExport.cy.nodes('[kind = \"Record\"]').map(n => [n.id(), n.data('recordStatus')])"
    )
    assert dict(map(tuple, exported)) == STATUS_ON_THE_DAY
    legend = browser.find_element("id", "legend").text
    assert re.search(r"record under objection.*record repaired", legend, re.S)


HUB = make_uscc("9", "1", "350203", "MH000000")
HUB_NAME = "厦门鹭岛控股集团有限公司"


def test_the_names_on_a_hub_s_outer_ring_stay_clear_of_the_title_and_inside_the_picture(
    env: ApiEnv, tmp_path: Path
) -> None:
    """Rings left a fixed margin in data units past the outer ring, but the names along the
    rays are sized in points: a hub's shareholders at the top ran into the title, and the
    longest names could run off the figure at the sides."""
    firms = [
        [make_uscc("9", "1", "350203", f"MH{i:06d}"), f"厦门市思明区鹭江贸易有限公司{i}"]
        for i in range(1, 41)
    ]
    officers = [
        make_resident_id("350203", date(1970, 1, 1) + timedelta(days=i), i, "M") for i in range(45)
    ]
    write_csv(
        tmp_path / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[HUB, "", HUB_NAME, "enterprise", "2010-01-01"]]
        + [[uscc, "", name, "enterprise", "2012-01-01"] for uscc, name in firms],
    )
    write_csv(
        tmp_path / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", number, f"董事{i}", "M"] for i, number in enumerate(officers)],
    )
    write_csv(
        tmp_path / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "valid_to", "source_record"],
        [[n, HUB, "director", "2015-01-01", "", f"hub-d{i}"] for i, n in enumerate(officers)],
    )
    write_csv(
        tmp_path / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [[uscc, HUB, "0.02", f"hub-s{i}"] for i, (uscc, _) in enumerate(firms)],
    )
    load_folder(env.store, tmp_path, tmp_path / "rejects", batch_size=100)
    # as `credgraph export HUB --depth 1 --max-nodes 60 --out hub.png` draws it: the officers
    # folded into one cluster, the hub and its 40 shareholders in rings
    hood = cluster_leaves(_hood(env, PartyKey(Label.LEGAL_PERSON, HUB), depth=1), 60)
    assert in_rings(hood) and len(hood.nodes) == 42
    edge_labels = {edge.label for edge in hood.edges}
    with matplotlib.rc_context({"font.family": [cjk_font() or "DejaVu Sans", "DejaVu Sans"]}):
        figure = _draw(hood, list(hood.notices))
        canvas = FigureCanvasAgg(figure)
        for dpi in (figure.dpi, PNG_DPI):  # as measured, and as the PNG is drawn
            figure.set_dpi(dpi)
            canvas.draw()
            renderer = canvas.get_renderer()
            axes = figure.axes[0]
            title = axes.title.get_window_extent(renderer)
            legend = axes.get_legend().get_window_extent(renderer)
            names = [
                (text.get_text(), text.get_window_extent(renderer))
                for text in axes.texts
                if text.get_text() not in edge_labels
            ]
            assert len(names) == 42 and "45 × executive" in dict(names)
            assert [name for name, box in names if box.overlaps(title)] == [], dpi
            assert [name for name, box in names if box.overlaps(legend)] == [], dpi
            inside = figure.bbox
            outside = [
                name
                for name, box in names
                if box.x0 < inside.x0
                or box.y0 < inside.y0
                or box.x1 > inside.x1
                or box.y1 > inside.y1
            ]
            assert outside == [], dpi
