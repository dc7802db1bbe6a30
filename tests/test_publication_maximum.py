"""An administrative penalty is published for at most 3 years from its decision date
(DOMAIN.md, national practice; `CREDGRAPH_PUBLISH_AT_MOST`, per kind and `kind:sector`): past
that, the public role no longer sees it, whatever `valid_to` or `disclosure_until` its source
gave; the internal roles still do, and it counts as before (docs/security.md, docs/risk-model.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings, SettingsError, load_settings, publication_terms
from credgraph.graph.terms import Term

from tests.api_support import ApiEnv, start_api_env_with
from tests.registries import RECORD_HEADER, write_csv

TODAY = clock.today()
THREE_YEARS, ONE_YEAR = Term.parse("3y"), Term.parse("1y")


def _decided_ago(term: Term, days: int) -> date:
    """A decision date whose `term` ended `days` days ago (0: it ends today; negative: later)."""
    day = TODAY - timedelta(days=days)
    origin = date(day.year - term.years - 1, day.month, 1)
    while term.after(origin + timedelta(days=1)) <= day:
        origin += timedelta(days=1)
    return origin


# record id -> (uscc, kind, sector, decision date, disclosure_until)
_LATER = (TODAY + timedelta(days=400)).isoformat()
RECORDS = {
    # decided over 3 years ago, its source says it stays in force and disclosed beyond
    "PM-1": ("MA2Y0P01", "admin_penalty", "tax", _decided_ago(THREE_YEARS, 10), _LATER),
    # its 3 years end today: today is the first day it is no longer published
    "PM-2": ("MA2Y0P02", "admin_penalty", "tax", _decided_ago(THREE_YEARS, 0), _LATER),
    # its 3 years end tomorrow: still published today
    "PM-3": ("MA2Y0P03", "admin_penalty", "tax", _decided_ago(THREE_YEARS, -1), ""),
    # a blacklisting: the plans give no maximum for its kind
    "PM-4": ("MA2Y0P04", "blacklist", "tourism", _decided_ago(THREE_YEARS, 400), _LATER),
    # a city's own maximum for one sector: a year
    "PM-5": ("MA2Y0P05", "admin_penalty", "food_drug", _decided_ago(ONE_YEAR, 5), _LATER),
}
SETTING = '{"admin_penalty": "3y", "admin_penalty:food_drug": "1y"}'


def _uscc(serial: str) -> str:
    return make_uscc("9", "1", "350203", serial)


def write_firms(folder: Path) -> None:
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [
            [_uscc(serial), "", f"公示上限{rid}贸易有限公司", "enterprise", "2015-01-01"]
            for rid, (serial, *_) in RECORDS.items()
        ],
    )
    rows = [
        [
            rid,
            _uscc(serial),
            kind,
            sector,
            "AUTH2",
            "厦门市市场监督管理局",
            decided.isoformat(),
            decided.isoformat(),
            _LATER,  # valid_to: still in force
            "active",
            "public",
            "xm-credit",
            "",
            "",
            until,
        ]
        for rid, (serial, kind, sector, decided, until) in RECORDS.items()
    ]
    write_csv(folder / "records.csv", [*RECORD_HEADER, "disclosure_until"], rows)


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("publication-maximum")
    at_most = publication_terms(SETTING)
    yield from start_api_env_with(
        embedded, driver, settings, tmp, write_firms, publish_at_most=at_most
    )


ENTITY = "query ($id: String!) { entity(id: $id) { records { id } } }"


def shown(env: ApiEnv, rid: str, role: ApiRole) -> bool:
    body = env.gql(ENTITY, role=role, id=_uscc(RECORDS[rid][0]))
    assert "errors" not in body, body
    return f"XMCREDIT:{rid}" in [r["id"] for r in body["data"]["entity"]["records"]]


def test_a_penalty_past_its_longest_publication_is_not_shown_to_the_public_role(
    api_env: ApiEnv,
) -> None:
    assert not shown(api_env, "PM-1", ApiRole.PUBLIC)
    assert not shown(api_env, "PM-2", ApiRole.PUBLIC)  # the day its 3 years end
    assert shown(api_env, "PM-3", ApiRole.PUBLIC)  # the day before


def test_a_kind_without_a_maximum_stays_shown_and_a_sector_has_its_own(api_env: ApiEnv) -> None:
    assert shown(api_env, "PM-4", ApiRole.PUBLIC)
    assert not shown(api_env, "PM-5", ApiRole.PUBLIC)


@pytest.mark.parametrize(
    "role", [ApiRole.APPROVAL, ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN]
)
def test_the_internal_roles_still_see_a_penalty_past_its_longest_publication(
    api_env: ApiEnv, role: ApiRole
) -> None:
    assert shown(api_env, "PM-1", role)


def test_the_maximum_decides_disclosure_not_counting(api_env: ApiEnv) -> None:
    query = """query ($ids: [String!]!) {
      screen(ids: $ids, purpose: LICENSING) { partyId ownReasons { code recordId } }
    }"""
    body = api_env.gql(query, role=ApiRole.APPROVAL, ids=[_uscc(RECORDS["PM-1"][0])])
    assert "errors" not in body, body
    reasons = body["data"]["screen"][0]["ownReasons"]
    assert "XMCREDIT:PM-1" in {r["recordId"] for r in reasons}


def test_the_default_is_three_years_for_administrative_penalties_only(tmp_path: Path) -> None:
    defaults = load_settings(data_dir=tmp_path)
    assert defaults.publish_at_most == {"admin_penalty": THREE_YEARS}


def test_a_bad_maximum_is_refused_naming_the_variable_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGRAPH_PUBLISH_AT_MOST", '{"admin_penalty": "3x"}')
    with pytest.raises(SettingsError) as refused:
        load_settings(data_dir=tmp_path)
    assert "CREDGRAPH_PUBLISH_AT_MOST" in str(refused.value)
    assert "'admin_penalty'" in str(refused.value)


def test_the_public_is_told_the_last_day_it_is_shown_a_record(api_env: ApiEnv) -> None:
    """PM-3's source gives no end of disclosure, its 3 years end tomorrow: the public is told
    today, the last day it sees it; an internal role is told what the source said."""
    query = "query ($id: String!) { entity(id: $id) { records { id disclosureUntil } } }"
    uscc = _uscc(RECORDS["PM-3"][0])
    told = {}
    for role in (ApiRole.PUBLIC, ApiRole.INVESTIGATOR):
        body = api_env.gql(query, role=role, id=uscc)
        assert "errors" not in body, body
        told[role] = {r["id"]: r["disclosureUntil"] for r in body["data"]["entity"]["records"]}
    assert told[ApiRole.PUBLIC]["XMCREDIT:PM-3"] == TODAY.isoformat()
    assert told[ApiRole.INVESTIGATOR]["XMCREDIT:PM-3"] is None  # the source gave none
