"""The /viz page in headless Chromium (Debian's, through its chromedriver) against the app on
the embedded store: search, draw, click, panel, paths, risk path, roles, a large hub, and the
exported HTML opened offline. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import Label
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import choose_profile, load_profiles
from credgraph.viz.export import export, to_cytoscape
from credgraph.viz.model import (
    LEGAL_PERSON,
    NATURAL_PERSON,
    Neighbourhood,
    VizEdge,
    VizNode,
    build_neighbourhood,
    cluster_leaves,
)
from credgraph.viz.page import viz_router

from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import guarantee_circle
from tests.registries import FIRM_A, FIRM_B, LI, RECORD_HEADER, ZHANG, load_folder, write_csv

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
HUB = make_uscc("9", "1", "350203", "MB000000")
HUB_SHAREHOLDERS = 2500

# CI sets CREDGRAPH_BROWSER_TESTS=required (.ci/run): there a missing browser fails the run
if (CHROMIUM is None or CHROMEDRIVER is None) and os.environ.get(
    "CREDGRAPH_BROWSER_TESTS"
) == "required":
    raise RuntimeError("the browser tests need Debian's chromium and chromium-driver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)

if CHROMIUM and CHROMEDRIVER:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select, WebDriverWait


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the test may run as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,950",
        "--lang=zh-CN",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def viz_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("viz")
    yield from start_api_env(
        embedded, driver, settings, tmp, extra_routers=(viz_router(),), max_page_size=1000
    )


def wait_for(browser: WebDriver, script: str, timeout: float = 60) -> Any:
    """Wait until a JavaScript expression is truthy, and return its value."""
    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(
        lambda d: d.execute_script(f"return {script}")
    )


def open_page(browser: WebDriver, env: ApiEnv, role: ApiRole) -> None:
    browser.get(env.served.url + "/viz")
    wait_for(browser, "window.cgPage !== undefined")
    browser.execute_script("sessionStorage.clear()")
    browser.find_element(By.ID, "key").send_keys(env.keys[role])
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()


def search(browser: WebDriver, text: str) -> None:
    drawn = browser.execute_script("return document.body.dataset.drawn || ''")
    box = browser.find_element(By.ID, "query")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait_for(
        browser,
        f"(document.body.dataset.drawn || '') !== '{drawn}' || "
        "document.getElementById('status').className === 'error'",
    )


def click_node(browser: WebDriver, label: str) -> None:
    """A real mouse click on the canvas where cytoscape drew the node.

    The open panel's risk report first settles: when it arrives it resizes the node it scores,
    and a node grown after its neighbour's position was read could take the click.
    """
    wait_for(browser, "document.querySelector('#panel .risk[data-state=\"loading\"]') === null")
    x, y, width, height = browser.execute_script(
        """const n = cgPage.cy.nodes().filter(n => n.data('label') === arguments[0])[0];
           const p = n.renderedPosition(), c = document.getElementById('graph');
           return [p.x, p.y, c.clientWidth, c.clientHeight];""",
        label,
    )
    graph = browser.find_element(By.ID, "graph")
    ActionChains(browser).move_to_element_with_offset(
        graph, int(x - width / 2), int(y - height / 2)
    ).click().perform()
    try:
        wait_for(browser, f"document.querySelector('#panel h2')?.textContent === {label!r}")
    except TimeoutException:
        screenshot(browser, f"viz-page-click-failed-{label}.png")
        raise


def panel_action(browser: WebDriver, action: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f'#panel button[data-action="{action}"]').click()


def labels(browser: WebDriver, selector: str = "node") -> list[str]:
    return browser.execute_script(  # type: ignore[no-any-return]
        "return cgPage.cy.elements(arguments[0]).map(e => e.data('label'))", selector
    )


def risk_section(browser: WebDriver) -> str:
    """Wait for the panel's riskReport answer (or refusal) and return the panel text."""
    wait_for(browser, "document.querySelector('#panel .risk:not([data-state=\"loading\"])')")
    return browser.find_element(By.ID, "panel").text


def reason_codes(browser: WebDriver) -> list[str]:
    return browser.execute_script(  # type: ignore[no-any-return]
        "return Array.from(document.querySelectorAll('#panel [data-code]'))"
        ".map(e => e.dataset.code)"
    )


def screenshot(browser: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    return path


def test_search_draw_click_path_and_risk(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, "厦門鷺島")  # traditional characters find the simplified name
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    parties = labels(browser, 'node[kind = "LegalPerson"], node[kind = "NaturalPerson"]')
    assert {"厦门鹭岛科技有限公司", "福州闽江贸易有限公司", "张伟", "李娜"} <= set(parties)
    edges = labels(browser, "edge")
    assert {"legal representative", "supervisor"} <= set(edges)
    # every relation among the parties, not only the one that first reached a party: the
    # stake and the guarantee between the two firms, and 张伟's directorship of FIRM_B
    assert {"60%", "¥750万", "director"} <= set(edges)
    assert labels(browser, 'node[kind = "Record"]')  # records drawn as their own nodes
    sanctioned = labels(browser, "node[?sanctioned]")
    assert {"厦门鹭岛科技有限公司", "张伟"} <= set(sanctioned)
    assert "李娜" not in sanctioned

    click_node(browser, "张伟")
    panel = browser.find_element(By.ID, "panel").text
    assert "natural person" in panel and "sanctioned" in panel
    assert "dishonest_debtor" in panel  # the record table
    assert "厦门" in panel  # the court that listed him
    # the risk section is riskReport's answer: a flag with its reason code
    panel = risk_section(browser)
    assert "OWN_DISHONEST_DEBTOR" in reason_codes(browser)
    assert "OWN_DISHONEST_DEBTOR" in panel

    click_node(browser, "李娜")
    panel = risk_section(browser)
    assert "contagion score" in panel
    # the node is sized by the score the report returned
    assert (
        browser.execute_script(
            "return typeof cgPage.cy.nodes().filter(n => n.data('label') === '李娜')[0]"
            ".data('risk')"
        )
        == "number"
    )
    assert "scores from riskReport" in browser.find_element(By.ID, "legend").text
    panel_action(browser, "explain")
    wait_for(browser, "document.body.dataset.explained")
    on_path = labels(browser, "node.path")
    assert "李娜" in on_path and len(on_path) >= 2
    shot = screenshot(browser, "viz-page.png")
    assert shot.stat().st_size > 20_000


def test_paths_come_from_the_api_and_add_the_missing_parties(
    browser: WebDriver, viz_env: ApiEnv
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, ZHANG)  # a resident ID number draws him at once
    click_node(browser, "张伟")
    panel_action(browser, "path-from")
    search(browser, LI)  # a new picture around her: he is not in it
    assert "张伟" not in labels(browser)
    click_node(browser, "李娜")
    panel_action(browser, "path-to")
    browser.find_element(By.ID, "draw-path").click()
    wait_for(browser, "document.body.dataset.paths")
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    # the page draws what `paths` answers: every party of every path, highlighted
    answer = viz_env.gql(
        "query ($a: String!, $b: String!) { paths(from: $a, to: $b, maxDepth: 4, first: 5)"
        " { paths { parties { name } } } }",
        a=ZHANG,
        b=LI,
    )["data"]["paths"]["paths"]
    expected = {party["name"] for path in answer for party in path["parties"]}
    assert answer and {"张伟", "李娜"} <= expected
    assert set(labels(browser, "node.path")) == expected
    assert browser.execute_script("return cgPage.cy.edges('.path').length") >= 2
    status = browser.find_element(By.ID, "status").text
    # he alone is added: his records are drawn with him, and are no parties
    lengths = ", ".join(str(n) for n in sorted({len(path["parties"]) - 1 for path in answer}))
    assert status == (
        f"{len(answer)} shortest path(s) from the API, of {lengths} step(s), "
        "1 party added to the picture"
    )
    screenshot(browser, "viz-page-path.png")


DATED = [make_uscc("9", "1", "350206", f"MC00000{n}") for n in range(1, 6)]


@pytest.fixture(scope="module")
def dated_paths_loaded(viz_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Five firms: the first guaranteed the last until mid-2020 (one hop then), and since 2021
    a chain of guarantees joins them through the other three (four hops now)."""
    folder = tmp_path_factory.mktemp("dated-paths")
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [
            [uscc, "", f"海沧时序{n}号有限公司", "enterprise", "2015-01-01"]
            for n, uscc in enumerate(DATED, 1)
        ],
    )
    chain = [
        [DATED[n], DATED[n + 1], "guarantees", "100000", "2021-01-01", "", f"dp{n}"]
        for n in range(4)
    ]
    write_csv(
        folder / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "valid_from", "valid_to", "source_record"],
        [
            [DATED[0], DATED[4], "guarantees", "100000", "2019-01-01", "2020-06-30", "dp-old"],
            *chain,
        ],
    )
    load_folder(viz_env.store, folder, folder / "rejects", batch_size=100)
    return DATED


def test_paths_are_found_on_the_chosen_as_of_date(
    browser: WebDriver, viz_env: ApiEnv, dated_paths_loaded: list[str]
) -> None:
    """The page sent `paths` without its as-of: on 2020-01-01 it drew today's four-hop chain
    where the two firms were one guarantee apart on that date."""
    first, last = dated_paths_loaded[0], dated_paths_loaded[-1]
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    browser.execute_script("document.getElementById('as-of').value = '2020-01-01'")
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, first)
    assert set(labels(browser, 'node[kind = "LegalPerson"]')) == {
        "海沧时序1号有限公司",
        "海沧时序5号有限公司",
    }
    click_node(browser, "海沧时序1号有限公司")
    panel_action(browser, "path-from")
    click_node(browser, "海沧时序5号有限公司")
    panel_action(browser, "path-to")
    browser.find_element(By.ID, "draw-path").click()
    wait_for(browser, "document.body.dataset.paths")
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    answer = viz_env.gql(
        "query ($a: String!, $b: String!, $d: Date) {"
        " paths(from: $a, to: $b, maxDepth: 4, first: 5, asOf: $d) { paths { length } } }",
        a=first,
        b=last,
        d="2020-01-01",
    )["data"]["paths"]["paths"]
    assert [path["length"] for path in answer] == [1]
    assert set(labels(browser, "node.path")) == {"海沧时序1号有限公司", "海沧时序5号有限公司"}
    assert browser.find_element(By.ID, "status").text.startswith(
        "1 shortest path(s) from the API, of 1 step(s)"
    )


def test_a_trace_draws_the_dishonest_parties_and_their_paths(
    browser: WebDriver, viz_env: ApiEnv
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, LI)  # LI and her two firms: ZHANG, FIRM_A's representative, is not drawn
    assert "张伟" not in labels(browser)
    click_node(browser, "厦门鹭岛科技有限公司")
    panel_action(browser, "trace")
    wait_for(browser, "document.body.dataset.traced")
    # what `dishonestParties` answers, drawn and highlighted: every party on every hit's path
    answer = viz_env.gql(
        "query ($id: String!) { dishonestParties(id: $id, depth: 1, first: 200) "
        "{ totalCount items { party { name } path { parties { name } } } } }",
        id=FIRM_A,
    )["data"]["dishonestParties"]
    hits = {item["party"]["name"] for item in answer["items"]}
    assert hits == {"张伟", "福州闽江贸易有限公司"}  # D-1, and FIRM_B's penalties
    on_paths = {p["name"] for item in answer["items"] for p in item["path"]["parties"]}
    assert set(labels(browser, "node.path")) == on_paths
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("class") != "error"
    assert status.text == (
        "2 dishonest parties within 1 step of 厦门鹭岛科技有限公司, 1 party added to the picture"
    )
    # a role that may not trace is told so, and the picture stays
    open_page(browser, viz_env, ApiRole.APPROVAL)
    search(browser, FIRM_A)
    click_node(browser, "厦门鹭岛科技有限公司")
    panel_action(browser, "trace")
    wait_for(browser, "document.getElementById('status').className === 'error'")
    assert "may not call dishonestParties" in browser.find_element(By.ID, "status").text
    assert labels(browser, 'node[kind != "Record"]') == ["厦门鹭岛科技有限公司"]


def test_an_explaining_path_adds_the_parties_it_lacks(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, LI)
    assert "张伟" not in labels(browser)
    click_node(browser, "李娜")
    assert "contagion score" in risk_section(browser)
    # the first explanation through a party the picture lacks (him, as legal representative)
    index = browser.execute_script(
        """const report = Array.from(cgPage.state.reports.values())[0];
           return report.contagion.paths.findIndex(
             p => p.partyIds.some(id => !cgPage.state.nodes.has(id)));"""
    )
    assert index >= 0
    panel_action(browser, "explain" if index == 0 else f"explain-{index}")
    wait_for(browser, "document.body.dataset.explained")
    on_path = labels(browser, "node.path")
    assert {"张伟", "李娜"} <= set(on_path)
    assert browser.execute_script("return cgPage.cy.edges('[?evidence]').length") >= 1


def test_a_high_risk_root_keeps_its_ring(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, FIRM_A)
    border, outline = browser.execute_script(
        """const root = cgPage.cy.nodes('.root')[0];
           root.data('highRisk', true);
           return [root.style('border-color'), root.style('outline-color')];"""
    )
    assert border == "rgb(255,127,14)"  # the high-risk ring
    assert outline == "rgb(34,34,34)"  # and the root's own, outside it


def test_parties_joined_by_several_relations_are_not_drawn_on_each_other(
    browser: WebDriver, viz_env: ApiEnv
) -> None:
    browser.get(viz_env.served.url + "/viz")
    wait_for(browser, "window.CG !== undefined")
    overlaps = browser.execute_script(
        """const nodes = [{id: 'r', kind: 'LegalPerson', label: '核心公司', depth: 0}];
           const edges = [];
           for (let i = 0; i < 6; i++) {  // a stake, a guarantee, supplies ... each
             nodes.push({id: 'm' + i, kind: 'LegalPerson', label: '关联公司' + i, depth: 1});
             for (let k = 0; k < 4; k++) edges.push({id: 'm' + i + ':' + k, source: 'm' + i,
               target: 'r', type: 'SUPPLIES', label: 'supplies', current: true});
           }
           for (let i = 0; i < 8; i++) {
             nodes.push({id: 'p' + i, kind: 'NaturalPerson', label: '董事' + i, depth: 1});
             edges.push({id: 'p' + i, source: 'p' + i, target: 'r', type: 'EXECUTIVE_OF',
               label: 'director', current: true});
           }
           const hood = {root: 'r', nodes: nodes, edges: edges, notices: []};
           const box = document.getElementById('graph');
           const cy = cytoscape({container: box, elements: CG.toElements(hood),
             style: CG.stylesheet()});
           cy.layout(CG.layoutOptions(nodes.length, 'r')).run();
           const drawn = cy.nodes().map(n => n.boundingBox({includeLabels: false}));
           cy.destroy();
           let overlaps = 0;
           drawn.forEach((a, i) => drawn.slice(i + 1).forEach(b => {
             if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
           }));
           return overlaps;"""
    )
    assert overlaps == 0


def test_former_relations_are_drawn_dashed_on_request(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, FIRM_A)  # a code goes straight to the party
    assert "思明区老张小吃店" not in labels(browser)
    drawn = browser.execute_script("return document.body.dataset.drawn")
    browser.find_element(By.ID, "former").click()
    wait_for(browser, f"document.body.dataset.drawn !== '{drawn}'")
    assert "思明区老张小吃店" in labels(browser)
    style = browser.execute_script(
        "return cgPage.cy.edges('[!current][type != \"SUBJECT_OF\"]')"
        ".map(e => e.style('line-style'))"
    )
    assert style and set(style) == {"dashed"}


def test_a_redraw_that_fails_leaves_the_picture_working(
    browser: WebDriver, viz_env: ApiEnv
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, FIRM_A)
    browser.execute_script(
        """document.querySelectorAll('#relation-types input').forEach(b => { b.checked = false; });
           document.getElementById('relation-types').dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, "!cgPage.state.busy")
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("class") == "error"
    assert "choose at least one relation type" in status.text
    # the picture on screen is still the one drawn: its nodes open their panel
    click_node(browser, "李娜")
    assert "natural person" in browser.find_element(By.ID, "panel").text


@pytest.fixture(scope="module")
def circle_loaded(viz_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A guarantee circle A->B->C->A, beside the tiny registry."""
    reg = guarantee_circle()
    reg.load(viz_env.store, tmp_path_factory.mktemp("circle"))
    return reg.ids


def test_a_guarantee_circle_is_drawn_whole(
    browser: WebDriver, viz_env: ApiEnv, circle_loaded: dict[str, str]
) -> None:
    a, b, c = (circle_loaded[n] for n in "ABC")
    open_page(browser, viz_env, ApiRole.ANALYST)
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, a)
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    drawn = browser.execute_script(
        "return cgPage.cy.edges('[type = \"GUARANTEES\"]')"
        ".map(e => [e.data('source'), e.data('target')])"
    )
    # B and C are both one step from A: the walk reaches them by A-B and C-A, and the page
    # draws the third side of the circle from `relations`
    assert sorted(map(tuple, drawn)) == sorted([(a, b), (b, c), (c, a)])
    assert len(browser.execute_script("return Array.from(cgPage.state.edges.keys())")) == 3


def test_expand_adds_the_neighbours_of_a_node(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    Select(browser.find_element(By.ID, "depth")).select_by_visible_text("1")
    search(browser, FIRM_A)
    before = browser.execute_script("return cgPage.cy.nodes().length")
    assert "福州闽江贸易有限公司" in labels(browser)
    drawn = browser.execute_script("return document.body.dataset.drawn")
    click_node(browser, "福州闽江贸易有限公司")
    panel_action(browser, "expand")
    wait_for(browser, f"document.body.dataset.drawn !== '{drawn}'")
    assert browser.execute_script("return cgPage.cy.nodes().length") >= before


def test_the_page_shows_only_what_the_role_may_see(browser: WebDriver, viz_env: ApiEnv) -> None:
    open_page(browser, viz_env, ApiRole.ANALYST)
    search(browser, FIRM_A)
    people = labels(browser, 'node[kind = "NaturalPerson"]')
    assert people and all("*" in name for name in people)  # pseudonymised for analysts
    assert "张伟" not in browser.find_element(By.TAG_NAME, "body").text
    # the public role may not call linkedParties: the firm is drawn alone, as `entity` gives it
    open_page(browser, viz_env, ApiRole.PUBLIC)
    search(browser, FIRM_A)
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("class") == "error"
    assert "may not call linkedParties" in status.text and "only the party itself" in status.text
    assert labels(browser, 'node[kind != "Record"]') == ["厦门鹭岛科技有限公司"]
    public = viz_env.gql(
        "query ($id: String!) { entity(id: $id) { records { id } } }",
        role=ApiRole.PUBLIC,
        id=FIRM_A,
    )["data"]["entity"]["records"]
    drawn = browser.execute_script("return cgPage.cy.nodes('[kind = \"Record\"]').map(n => n.id())")
    assert sorted(drawn) == sorted(f"record:{r['id']}" for r in public)  # its public records
    # the risk panel for a role refused riskReport says so and shows nothing in its place
    panel = risk_section(browser)
    assert "may not call riskReport" in panel and "not available to this key" in panel
    assert reason_codes(browser) == []
    # the approval role may read the firm's risk report, not its network
    open_page(browser, viz_env, ApiRole.APPROVAL)
    search(browser, FIRM_A)
    assert labels(browser, 'node[kind != "Record"]') == ["厦门鹭岛科技有限公司"]
    risk_section(browser)
    assert reason_codes(browser)  # its blacklist entry's flag


def test_the_page_needs_a_key_and_loads_nothing_from_outside(
    browser: WebDriver, viz_env: ApiEnv
) -> None:
    browser.get(viz_env.served.url + "/viz")
    wait_for(browser, "window.cgPage !== undefined")
    browser.execute_script("sessionStorage.clear()")
    search(browser, "鹭岛")
    assert "enter an API key" in browser.find_element(By.ID, "status").text
    sources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
    )
    assert sources and all(s.startswith(viz_env.served.url) for s in sources)
    response = viz_env.client.get("/viz")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert viz_env.client.get("/viz/static/../../api/keys.py").status_code == 404
    assert viz_env.client.get("/viz/static/cytoscape.min.js").status_code == 200


@pytest.fixture(scope="module")
def public_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """The API where calls without a key go as the public role."""
    tmp = tmp_path_factory.mktemp("viz-public")
    yield from start_api_env(
        embedded, driver, settings, tmp, extra_routers=(viz_router(),), api_public_access=True
    )


def test_where_public_access_is_on_the_page_works_without_a_key(
    browser: WebDriver, public_env: ApiEnv
) -> None:
    """The page refused every search until a key was entered, even where the deployment lets
    anyone in as the public role."""
    browser.get(public_env.served.url + "/viz")
    wait_for(browser, "window.cgPage !== undefined")
    browser.execute_script("sessionStorage.clear()")
    search(browser, FIRM_A)
    assert "enter an API key" not in browser.find_element(By.ID, "status").text
    assert "厦门鹭岛科技有限公司" in labels(browser)


def test_metrics_count_an_asset_by_its_route_never_by_the_name_asked(viz_env: ApiEnv) -> None:
    for name in (ZHANG, "cytoscape.min.js", "no-such-file.js"):
        viz_env.client.get(f"/viz/static/{name}")
    text = viz_env.client.get("/metrics").text
    assert 'route="/viz/static/{name}",status="404"' in text
    assert 'route="/viz/static/{name}",status="200"' in text
    assert ZHANG not in text and "no-such-file" not in text


LAPSED = make_uscc("9", "1", "350203", "MC000001")


@pytest.fixture(scope="module")
def lapsed_loaded(viz_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A firm listed for abnormal operation in 2020 with no end date: its kind's default term
    (3 years in the default profile) ended it on 2022-12-31."""
    folder = tmp_path_factory.mktemp("lapsed")
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [[LAPSED, "", "旧异常商贸有限公司", "enterprise", "2015-01-01"]],
    )
    row = ["L-1", LAPSED, "abnormal_operation", "market", "AUTH9", "厦门市市场监督管理局"]
    row += ["2020-01-01", "2020-01-01", "", "active", "public", "xm-credit", "", ""]
    # and on the red list for 2020 alone: an honour that no longer holds after it
    red = ["L-2", LAPSED, "red_list", "market", "AUTH9", "厦门市市场监督管理局"]
    red += ["2020-01-01", "2020-01-01", "2021-01-01", "active", "public", "xm-credit", "", ""]
    write_csv(folder / "records.csv", RECORD_HEADER, [row, red])
    load_folder(viz_env.store, folder, folder / "rejects", batch_size=100)
    return LAPSED


def test_a_record_counts_on_the_page_as_the_store_s_rule_says(
    browser: WebDriver, viz_env: ApiEnv, lapsed_loaded: str
) -> None:
    """The page read `status` and `validTo`: a listing without an end date stayed red for ever,
    where the risk report and the exports end it after its kind's default term."""
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, lapsed_loaded)
    assert "旧异常商贸有限公司" in labels(browser)
    assert "旧异常商贸有限公司" not in labels(browser, "node[?sanctioned]")
    drawn = browser.execute_script("return document.body.dataset.drawn")
    browser.execute_script(
        """const box = document.getElementById('as-of'); box.value = '2021-06-01';
           box.dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, f"document.body.dataset.drawn !== '{drawn}'")
    assert "旧异常商贸有限公司" in labels(browser, "node[?sanctioned]")
    # a record that no longer counts is drawn as ended, negative or positive alike: the
    # listing counting on that date dotted (a record's line), the red-list entry ended by then
    # dashed
    lines = browser.execute_script(
        "return Object.fromEntries(cgPage.cy.edges('[type = \"SUBJECT_OF\"]')"
        ".map(e => [e.target().data('label'), e.style('line-style')]))"
    )
    assert lines == {"abnormal operation": "dotted", "red list": "dashed"}


def _write_hub(folder: Path) -> Path:
    folder.mkdir()
    firms = [[HUB, "", "枢纽控股集团有限公司", "enterprise", "2010-01-01"]]
    holdings = []
    for i in range(1, HUB_SHAREHOLDERS + 1):
        uscc = make_uscc("9", "1", "350203", f"MB{i:06d}")
        firms.append([uscc, "", f"鹭江投资{i}号有限公司", "enterprise", "2015-01-01"])
        holdings.append([uscc, HUB, "0.0004", f"hub-{i}"])
    for name, header, rows in (
        (
            "legal_persons.csv",
            ["uscc", "registration_number", "name", "kind", "registered_on"],
            firms,
        ),
        ("shareholdings.csv", ["holder_id", "company_id", "stake", "source_record"], holdings),
    ):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def hub_loaded(viz_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("hub")
    load_paths(
        viz_env.store,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [_write_hub(tmp / "hub")],
        batch_size=1000,
        rejects_dir=tmp / "rejects",
    )
    return HUB


def test_a_hub_with_thousands_of_links_is_capped_and_clustered(
    browser: WebDriver, viz_env: ApiEnv, hub_loaded: str
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, hub_loaded)
    fetched = browser.execute_script("return cgPage.state.nodes.size")
    assert fetched == HUB_SHAREHOLDERS + 1  # every page of the API was read
    drawn = browser.execute_script("return cgPage.cy.nodes().length")
    assert drawn <= 300
    clusters = browser.execute_script(
        "return cgPage.cy.nodes('[kind = \"Cluster\"]').map(n => n.data('count'))"
    )
    assert sum(clusters) >= HUB_SHAREHOLDERS - 300
    notice = browser.find_element(By.ID, "notices").text
    assert "2500 leaf parties folded into 1 cluster node to" in notice
    status = browser.find_element(By.ID, "status").text
    assert status.startswith("1 party and 2500 in clusters, 1 edge drawn"), status
    # its label says what it holds, whole
    assert browser.execute_script(
        "return cgPage.cy.nodes('[kind = \"Cluster\"]').map(n => n.data('short'))"
    ) == [f"{clusters[0]} × shareholder"]
    # the page still answers: a click on the cluster lists its members
    cluster = browser.execute_script(
        "return cgPage.cy.nodes('[kind = \"Cluster\"]')[0].data('label')"
    )
    click_node(browser, cluster)
    members = browser.find_elements(By.CSS_SELECTOR, "#panel ul.members li")
    assert len(members) == clusters[0]
    screenshot(browser, "viz-page-hub.png")


def test_what_is_asked_while_a_hub_is_drawn_is_drawn_after_it(
    browser: WebDriver, viz_env: ApiEnv, hub_loaded: str
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    # while the hub's 2,500 parties are read: another search, then former relations asked for
    browser.execute_script(
        """cgPage.search(arguments[0]);
           cgPage.search(arguments[1]);
           document.getElementById('former').click();""",
        hub_loaded,
        FIRM_A,
    )
    wait_for(browser, "!cgPage.state.busy && cgPage.state.rootId !== null")
    assert browser.execute_script("return cgPage.state.rootId") == FIRM_A
    # drawn as the controls said last: with the shop its former representative ran
    assert "思明区老张小吃店" in labels(browser)
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"


def test_the_page_folds_a_hub_as_the_exports_do(browser: WebDriver, viz_env: ApiEnv) -> None:
    """CG.clusterLeaves and viz/model.py cluster_leaves: the same clusters, linked alike (a
    hub's shareholders and the firms it holds shares in are two clusters)."""
    nodes = [VizNode("hub", LEGAL_PERSON, "枢纽公司")]
    edges = []
    for i in range(30):
        nodes.append(VizNode(f"p{i}", NATURAL_PERSON, f"股东{i}", 1))
        edges.append(VizEdge(f"e{i}", f"p{i}", "hub", "SHAREHOLDER_OF", "1%"))
    for i in range(12):
        nodes.append(VizNode(f"f{i}", LEGAL_PERSON, f"子公司{i}", 1))
        edges.append(VizEdge(f"h{i}", "hub", f"f{i}", "SHAREHOLDER_OF", "51%"))
    hood = Neighbourhood("hub", nodes, edges, depth=1)
    cut = cluster_leaves(hood, max_nodes=10)
    browser.get(viz_env.served.url + "/viz")
    wait_for(browser, "window.CG !== undefined")
    doc = to_cytoscape(hood)
    drawn = browser.execute_script(
        """const cut = CG.clusterLeaves({root: 'hub', nodes: arguments[0], edges: arguments[1],
             notices: []}, 10);
           return [cut.nodes.map(n => [n.id, n.count]),
                   cut.edges.map(e => [e.source, e.target])];""",
        [n["data"] for n in doc["elements"]["nodes"]],
        [e["data"] for e in doc["elements"]["edges"]],
    )
    assert sorted(map(tuple, drawn[0])) == sorted((n.id, n.count) for n in cut.nodes)
    assert sorted(map(tuple, drawn[1])) == sorted((e.source, e.target) for e in cut.edges)
    assert len([n for n in cut.nodes if n.kind == "Cluster"]) == 2


@pytest.mark.parametrize("code", ["FTM:NK-unknown", "350203MA0000ZZ9X1"])
def test_ids_credgraph_prints_and_tax_numbers_are_looked_up_not_searched_as_names(
    browser: WebDriver, viz_env: ApiEnv, code: str
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, code)
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("class") == "error"
    assert status.text.startswith("no party with this code"), status.text


def test_a_name_search_says_how_names_match_and_what_it_lists(
    browser: WebDriver, viz_env: ApiEnv, hub_loaded: str
) -> None:
    open_page(browser, viz_env, ApiRole.INVESTIGATOR)
    search(browser, "鹭岛")  # the middle of 厦门鹭岛科技有限公司
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("class") == "error"
    assert "begins with “鹭岛”" in status.text and "first character" in status.text
    box = browser.find_element(By.ID, "query")
    box.clear()
    box.send_keys("鹭江投资")  # 2,500 firms of the hub
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait_for(browser, "document.querySelectorAll('#results li').length > 0")
    listed = len(browser.find_elements(By.CSS_SELECTOR, "#results li"))
    text = browser.find_element(By.ID, "status").text
    assert text.startswith("at least 200 found: choose one")
    assert f"the first {listed} are listed" in text


@pytest.fixture(scope="module")
def capped_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """The API with a traversal cap of one relation per level."""
    tmp = tmp_path_factory.mktemp("viz-capped")
    yield from start_api_env(
        embedded, driver, settings, tmp, extra_routers=(viz_router(),), traversal_cap=1
    )


def test_a_level_the_api_cut_is_said_to_be_read_in_part(
    browser: WebDriver, capped_env: ApiEnv
) -> None:
    open_page(browser, capped_env, ApiRole.INVESTIGATOR)
    search(browser, FIRM_A)
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    notice = browser.find_element(By.ID, "notices").text
    assert "read depth 1 only in part" in notice and "all beyond" in notice


def test_paths_a_cap_cut_short_are_said_to_be(browser: WebDriver, capped_env: ApiEnv) -> None:
    open_page(browser, capped_env, ApiRole.INVESTIGATOR)
    search(browser, FIRM_A)
    click_node(browser, "厦门鹭岛科技有限公司")
    panel_action(browser, "path-from")
    search(browser, FIRM_B)
    click_node(browser, "福州闽江贸易有限公司")
    panel_action(browser, "path-to")
    browser.find_element(By.ID, "draw-path").click()
    wait_for(browser, "document.body.dataset.paths")
    # FIRM_A's level holds more than one relation: the search stops there, and says so
    answer = capped_env.gql(
        "query ($a: String!, $b: String!) { paths(from: $a, to: $b, maxDepth: 4, first: 5)"
        " { truncated exploredDepth } }",
        a=FIRM_A,
        b=FIRM_B,
    )["data"]["paths"]
    assert answer["truncated"] is True
    assert "a cap cut the search short" in browser.find_element(By.ID, "status").text


def test_exported_html_opens_offline(browser: WebDriver, viz_env: ApiEnv, tmp_path: Path) -> None:
    profile = choose_profile(load_profiles(None), None)
    hood = build_neighbourhood(
        viz_env.store, PartyKey(Label.LEGAL_PERSON, FIRM_A), profile, depth=2
    )
    page = tmp_path / "firm-a.html"
    page.write_bytes(export(hood, "html"))
    browser.get(page.as_uri())
    drawn = wait_for(browser, "window.cgExport && cgExport.cy.nodes().length")
    assert drawn == len(hood.nodes)
    assert "厦门鹭岛科技有限公司" in browser.find_element(By.ID, "title").text
    screenshot(browser, "viz-export.png")
