"""The domain's day (graph/clock.py): today is the date in China (UTC+8), whatever the server's
time zone. A host on UTC, or in Los Angeles, decided as of yesterday for part of every day.

Each check below runs under two zones whose dates differ from China's at complementary times:
UTC-12 is behind China's date while it is 00:00 to 20:00 in China, UTC+14 ahead of it while it is
18:00 to 24:00 there. So at any hour the old code (the server's `date.today()`) failed under one
of them. Zones are POSIX strings (`<-12>12` is UTC-12), which need no time zone database;
America/Los_Angeles and Asia/Shanghai are asked too, as the integrator who found it did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc

from tests.api_support import ApiEnv, module_api
from tests.investigations import store_env
from tests.registries import FIRM_A, write_csv

CHINA = timezone(timedelta(hours=8))
BEHIND, AHEAD = "<-12>12", "<+14>-14"  # UTC-12 and UTC+14: 26 hours apart, never one date
FIRM = make_uscc("9", "1", "350203", "MA2Y0C10")
PURPOSE = ["--purpose", "licensing"]
ZONES = [BEHIND, AHEAD, "America/Los_Angeles", "Asia/Shanghai"]


def test_today_is_the_date_in_china() -> None:
    before = datetime.now(CHINA).date()
    today = clock.today()
    assert today in {before, datetime.now(CHINA).date()}


def test_the_zones_asked_below_never_share_a_date() -> None:
    """What makes the checks below fail on the old code at any hour: the two zones' own dates
    differ from each other, so at least one differs from China's."""
    ask = [sys.executable, "-c", "import datetime; print(datetime.date.today())"]
    days = {
        zone: subprocess.run(
            ask, env={**os.environ, "TZ": zone}, capture_output=True, text=True, check=True
        ).stdout.strip()
        for zone in (BEHIND, AHEAD)
    }
    assert days[BEHIND] < days[AHEAD], days


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lets a test set this process's zone (`TZ` and `time.tzset()`), put back afterwards."""
    yield
    monkeypatch.undo()
    time.tzset()


def _one_more_firm(extra: Path) -> None:
    """The tiny registry, and a firm of its own (the API's set-up loads a folder)."""
    write_csv(
        extra / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM, "钟表有限公司", "enterprise"]],
    )


api_env, cli = module_api("clock", _one_more_firm)

SCREEN = """
query ($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) { partyId found asOf } }
"""
REPORT = "query ($id: String!) { riskReport(id: $id) { asOf } }"


@pytest.mark.parametrize("zone", ZONES)
def test_screen_and_risk_report_decide_as_of_chinas_date_in_any_zone(
    api_env: ApiEnv, zone: str, monkeypatch: pytest.MonkeyPatch, local_zone: None
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    before = datetime.now(CHINA).date().isoformat()
    screened = api_env.gql(SCREEN, role=ApiRole.APPROVAL, ids=[FIRM_A])
    report = api_env.gql(REPORT, role=ApiRole.INVESTIGATOR, id=FIRM_A)
    after = datetime.now(CHINA).date().isoformat()
    assert "errors" not in screened and "errors" not in report, (screened, report)
    [result] = screened["data"]["screen"]
    assert result["found"]
    assert result["asOf"] in {before, after}, (zone, result["asOf"], before)
    assert report["data"]["riskReport"]["asOf"] in {before, after}, (zone, report, before)


def test_risk_explain_gives_the_same_as_of_under_every_zone(
    api_env: ApiEnv, embedded: EmbeddedStore
) -> None:
    """`credgraph risk explain ID --json` without `--as-of`, run under each zone: one as_of,
    China's date (the integrator's two runs gave 2026-11-25 and 2026-11-26)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGRAPH_")}
    env.update(store_env(embedded, api_env.store))
    command = [sys.executable, "-m", "credgraph", "risk", "explain", FIRM_A, "--json", *PURPOSE]
    before = datetime.now(CHINA).date().isoformat()
    as_of = {}
    for zone in ZONES:
        run = subprocess.run(
            command, env={**env, "TZ": zone}, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        as_of[zone] = json.loads(run.stdout)["as_of"]
    after = datetime.now(CHINA).date().isoformat()
    if before == after:
        assert set(as_of.values()) == {before}, as_of
    else:  # midnight in China fell during the runs
        assert set(as_of.values()) <= {before, after}, as_of
