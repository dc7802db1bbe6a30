"""The demo end to end, through the real command line: generate, load, serve, Ctrl-C.

This is what a newcomer does with `make demo`, on a small registry: the CLI starts the embedded
store, loads the generated files, serves GraphQL, and on SIGINT stops the API and the store.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, process_env
from tests.test_viz_page import (
    CHROMEDRIVER,
    CHROMIUM,
    browser,  # noqa: F401 (fixture)
    click_node,
    labels,
    screenshot,
    search,
    wait_for,
)

if CHROMIUM and CHROMEDRIVER:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

DEMO_SIZE = 150
OFFICERS_AND_THEIR_OTHER_FIRMS = """
query ($id: String!) {
  entity(id: $id) { name ... on LegalPerson { uscc kind } records { kind status } }
  linkedParties(id: $id, depth: 2,
                relationTypes: [LEGAL_REPRESENTATIVE_OF, EXECUTIVE_OF, PRINCIPAL_OF]) {
    items { depth parentId via { type role } party { __typename id name } }
  }
}
"""
SUGGESTED = re.compile(r'linkedParties\(id: "([0-9A-Z]{18})", depth: 2\)')
# what the demo prints for a newcomer to paste into GraphiQL: the query, then the headers
PRINTED = re.compile(r"and run\n\n(\{\n.*?\n\})\n.*?with the headers [^\n]*:\n(\{[^\n]*\})", re.S)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "credgraph", *args]


def _wait_for(client: httpx.Client, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _serve(demo_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`credgraph serve` on the demo's data, ready to answer (stop it with SIGINT)."""
    process = subprocess.Popen(
        _cli("serve"),
        env=process_env(demo_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        _wait_for(client, process, 120)
    return process


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The demo data directory, the USCC of the first query the demo suggests, and what the demo
    printed on standard error."""
    data_dir = tmp_path_factory.mktemp("demo")
    env = process_env(data_dir, free_port())
    done = subprocess.run(
        _cli("demo", "--enterprises", str(DEMO_SIZE), "--no-serve"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    suggested = SUGGESTED.search(done.stderr)
    assert suggested, "the demo prints a first query to try"
    return data_dir, suggested.group(1), done.stderr


def test_demo_loads_once_and_reuses_its_data(demo: tuple[Path, str, str]) -> None:
    demo_dir = demo[0]
    registry = next(demo_dir.glob("demo-registry-*"))
    loaded = json.loads((registry / "loaded.json").read_text(encoding="utf-8"))
    assert all(f["read"] == f["loaded"] + f["rejected"] + f["merged"] for f in loaded["files"])
    assert sum(f["rejected"] for f in loaded["files"]) > 0, "the demo exercises the rejects"
    again = subprocess.run(
        _cli("demo", "--enterprises", str(DEMO_SIZE), "--no-serve"),
        env=process_env(demo_dir, free_port()),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing the data" in again.stderr
    # nothing serves after --no-serve: the demo says how to start a server
    assert "/graphql after `credgraph serve`" in again.stderr


def test_served_demo_answers_and_stops_on_ctrl_c(demo: tuple[Path, str, str]) -> None:
    demo_dir, uscc, printed = demo
    told = PRINTED.search(printed)
    assert told, "the demo prints a query and the headers to send with it"
    port = free_port()
    process = subprocess.Popen(
        _cli("serve"),
        env=process_env(demo_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _wait_for(client, process, 120)
            body: dict[str, Any] = client.post(
                "/graphql",
                json={"query": OFFICERS_AND_THEIR_OTHER_FIRMS, "variables": {"id": uscc}},
                headers={
                    "Authorization": "Bearer "
                    + (demo_dir / "demo-api-key").read_text(encoding="utf-8").strip(),
                    "X-Credgraph-Purpose": "investigation",
                },
            ).json()
            # the query the demo printed, pasted as it is with the headers it printed
            pasted: dict[str, Any] = client.post(
                "/graphql", json={"query": told.group(1)}, headers=json.loads(told.group(2))
            ).json()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert "errors" not in pasted, pasted
    assert pasted["data"]["linkedParties"]["root"]["uscc"] == uscc
    assert pasted["data"]["linkedParties"]["items"], "the printed query finds the firm's network"
    assert "errors" not in body, body
    assert body["data"]["entity"]["uscc"] == uscc
    items = body["data"]["linkedParties"]["items"]
    officers = [i for i in items if i["depth"] == 1 and i["party"]["__typename"] == "NaturalPerson"]
    other_firms = [
        i for i in items if i["depth"] == 2 and i["party"]["__typename"] == "LegalPerson"
    ]
    assert any(o["via"]["type"] == "LEGAL_REPRESENTATIVE_OF" for o in officers)
    assert other_firms, "an officer's other firm is reached at depth 2"
    assert {f["parentId"] for f in other_firms} <= {o["party"]["id"] for o in officers}
    assert process.returncode == 0
    assert not (demo_dir / "store.json").exists(), "Ctrl-C stopped the embedded store cleanly"


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)
def test_the_network_page_draws_the_served_demo(
    demo: tuple[Path, str, str],
    browser: WebDriver,  # noqa: F811
) -> None:
    """What a newcomer sees after `make demo`: /viz draws the suggested firm's network."""
    demo_dir, uscc, _ = demo
    port = free_port()
    process = _serve(demo_dir, port)
    try:
        browser.get(f"http://127.0.0.1:{port}/viz")
        wait_for(browser, "window.cgPage !== undefined")
        browser.execute_script("sessionStorage.clear()")
        key = (demo_dir / "demo-api-key").read_text(encoding="utf-8").strip()
        browser.find_element(By.ID, "key").send_keys(key)
        browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
        search(browser, uscc)
        assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
        kinds = browser.execute_script(
            "return cgPage.cy.nodes().map(n => [n.id(), n.data('kind'), n.data('label')])"
        )
        assert uscc in {node_id for node_id, _, _ in kinds}
        officer = next(label for _, kind, label in kinds if kind == "NaturalPerson")
        assert labels(browser, "edge"), "the firm's relations are drawn"
        click_node(browser, officer)
        assert "natural person" in browser.find_element(By.ID, "panel").text
        state = wait_for(
            browser,
            "(s => s !== 'loading' && s)(document.querySelector('#panel .risk').dataset.state)",
        )
        assert state == "done"  # the demo key (investigator) reads the risk report
        screenshot(browser, "viz-demo.png")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
