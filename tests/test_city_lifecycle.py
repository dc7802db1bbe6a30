"""A city's record lifecycle: whether the deployment offers credit repair and objection handling
(`CREDGRAPH_RECORD_REPAIR`, `CREDGRAPH_RECORD_OBJECTION`), and how long a record is published
before a repair may take effect (`CREDGRAPH_REPAIR_AFTER`), against the running app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import Settings, SettingsError, load_settings
from credgraph.queries import writes

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_B, RECORD_HEADER, load_folder, write_csv

ADMIN: dict[str, Any] = {"role": ApiRole.ADMIN, "purpose": "credit_repair"}
REPAIR = """mutation ($r: String!, $on: Date) {
  recordRepair(recordId: $r, decisionNumber: "修复〔2024〕1号", effectiveOn: $on)
  { status statusSince } }"""
OPEN = """mutation ($r: String!) {
  openObjection(recordId: $r, evidence: "paid", deadline: "2099-01-01") { status } }"""
CLOSE = """mutation ($r: String!) { closeObjection(recordId: $r, upheld: true) { status } }"""

# FIRM_B's records, each decided 2024-01-10: a tax penalty published from 2024-01-15 (its
# waiting period counts from the decision, not the publication), a work-safety penalty, a
# penalty in a city's own sector code, a blacklisting (no entry: no waiting period), and a
# penalty without a decision date, counted from its start
TAX = "FZCREDIT:L-1"
WORK_SAFETY = "FZCREDIT:L-2"
FIRE_SAFETY = "FZCREDIT:L-3"
BLACKLISTING = "FZCREDIT:L-4"
UNDECIDED = "FZCREDIT:L-5"
SPECIAL_EQUIPMENT = "FZCREDIT:L-6"
# each published by a city (its region prefix; L-5 names none): Xiamen, Fuzhou, Chaozhou,
# Quanzhou, Foshan
_RECORDS = [
    ("L-1", "admin_penalty", "tax", "2024-01-10", "2024-01-15", "3502"),
    ("L-2", "admin_penalty", "work_safety", "2024-01-10", "2024-01-10", "3501"),
    ("L-3", "admin_penalty", "fire_safety", "2024-01-10", "2024-01-10", "4451"),
    ("L-4", "blacklist", "tourism", "2024-01-10", "2024-01-10", "3505"),
    ("L-5", "admin_penalty", "tax", "", "2024-03-01", ""),
    ("L-6", "admin_penalty", "special_equipment", "2024-01-10", "2024-01-10", "4406"),
]
# DOMAIN.md: repair in Xiamen, Fuzhou and Quanzhou; objection handling in four of the five
FUJIAN_REPAIR = "3502,3501,3505"
OBJECTION_BUT_CHAOZHOU = "3502, 3501, 3505, 4406"


def _start(
    embedded: Any, driver: Any, settings: Settings, tmp: Path, env: dict[str, str]
) -> Iterator[ApiEnv]:
    """The app with the lifecycle settings read from `env` as a deployment's variables, on a
    database of its own holding the tiny registry and `_RECORDS`."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        city = load_settings(data_dir=settings.data_dir)
    lifecycle = {
        "record_repair": city.record_repair,
        "record_objection": city.record_objection,
        "repair_after": city.repair_after,
    }
    for api in start_api_env(embedded, driver, settings, tmp, **lifecycle):
        extra = tmp / "lifecycle"
        extra.mkdir()
        authority = ["AUTH2", "福州市应急管理局"]
        listed = ["2027-12-31", "active", "public", "fz-credit", "", ""]  # valid_to ... no court
        rows = [
            [rid, FIRM_B, kind, sector, *authority, decided, start, *listed, city]
            for rid, kind, sector, decided, start, city in _RECORDS
        ]
        write_csv(extra / "records.csv", [*RECORD_HEADER, "city"], rows)
        load_folder(api.store, extra, tmp / "rejects", batch_size=100)
        yield api


@pytest.fixture(scope="module")
def national(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """A city that offers both, under the default waiting periods (national practice)."""
    yield from _start(embedded, driver, settings, tmp_path_factory.mktemp("national"), {})


@pytest.fixture(scope="module")
def custom(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """A city with its own waiting period for its own sector code, and none other."""
    env = {"CREDGRAPH_REPAIR_AFTER": json.dumps({"admin_penalty:fire_safety": "1y6m"})}
    yield from _start(embedded, driver, settings, tmp_path_factory.mktemp("custom"), env)


@pytest.fixture(scope="module")
def closed(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """A city without credit repair or objection handling (Foshan, Chaozhou have no repair)."""
    env = {"CREDGRAPH_RECORD_REPAIR": "false", "CREDGRAPH_RECORD_OBJECTION": "false"}
    yield from _start(embedded, driver, settings, tmp_path_factory.mktemp("closed"), env)


@pytest.fixture(scope="module")
def by_city(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """A deployment serving the five cities: repair in three, objection handling in four."""
    env = {
        "CREDGRAPH_RECORD_REPAIR": FUJIAN_REPAIR,
        "CREDGRAPH_RECORD_OBJECTION": OBJECTION_BUT_CHAOZHOU,
    }
    yield from _start(embedded, driver, settings, tmp_path_factory.mktemp("by-city"), env)


def _error(body: dict[str, Any]) -> tuple[str, str]:
    assert body["data"] is None or not any(body["data"].values()), body
    error = body["errors"][0]
    return str(error["extensions"]["code"]), str(error["message"])


def _repair(api: ApiEnv, record: str, on: str | None) -> dict[str, Any]:
    return api.gql(REPAIR, r=record, on=on, **ADMIN)


def _changes(api: ApiEnv, record: str) -> list[dict[str, Any]]:
    return api.store.read(writes.STATUS_CHANGES_OF_RECORDS, {"uids": [record]})


def _status(api: ApiEnv, record: str) -> str:
    query = "query ($id: String!) { entity(id: $id) { records { id status } } }"
    records = api.gql(query, id=FIRM_B)["data"]["entity"]["records"]
    return str(next(r["status"] for r in records if r["id"] == record))


def _events(api: ApiEnv) -> list[dict[str, Any]]:
    if not api.audit_path.exists():  # nothing asked yet
        return []
    lines = api.audit_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_repair_is_refused_where_the_city_offers_none_and_nothing_is_written(
    closed: ApiEnv,
) -> None:
    before = len(_events(closed))
    code, message = _error(_repair(closed, TAX, "2025-01-10"))
    assert code == "NOT_OFFERED" and "recordRepair" in message
    assert "CREDGRAPH_RECORD_REPAIR" in message
    assert _changes(closed, TAX) == [] and _status(closed, TAX) == "active"
    refused = [e for e in _events(closed)[before:] if e["operation"] == "recordRepair"]
    assert [(e["outcome"], e["role"]) for e in refused] == [("refused:not_offered", "admin")]
    # a role that may not make record changes is still told so, whatever the city offers
    other = closed.gql(REPAIR, r=TAX, on=None, role=ApiRole.INVESTIGATOR)
    assert _error(other)[0] == "FORBIDDEN"


def test_objections_are_refused_where_the_city_offers_none(closed: ApiEnv) -> None:
    before = len(_events(closed))
    for mutation, name in ((OPEN, "openObjection"), (CLOSE, "closeObjection")):
        code, message = _error(closed.gql(mutation, r=TAX, **ADMIN))
        assert code == "NOT_OFFERED" and name in message, message
        assert "CREDGRAPH_RECORD_OBJECTION" in message
    assert _changes(closed, TAX) == [] and _status(closed, TAX) == "active"
    outcomes = {e["operation"]: e["outcome"] for e in _events(closed)[before:]}
    assert outcomes["openObjection"] == outcomes["closeObjection"] == "refused:not_offered"


def test_a_penalty_is_repaired_three_months_after_its_decision_not_a_day_before(
    national: ApiEnv,
) -> None:
    before = len(_events(national))
    code, message = _error(_repair(national, TAX, "2024-04-09"))
    assert code == "CONFLICT" and "from 2024-04-10" in message, message
    assert "CREDGRAPH_REPAIR_AFTER" in message and "'admin_penalty'" in message
    assert _changes(national, TAX) == []
    assert _events(national)[before]["outcome"] == "refused:conflict"
    # counted from the decision (2024-01-10), not from the publication (2024-01-15)
    repaired = _repair(national, TAX, "2024-04-10")["data"]["recordRepair"]
    assert repaired == {"status": "repaired", "statusSince": "2024-04-10"}


@pytest.mark.parametrize(
    ("record", "sector"),
    [
        (WORK_SAFETY, "work_safety"),
        (FIRE_SAFETY, "fire_safety"),
        (SPECIAL_EQUIPMENT, "special_equipment"),
    ],
)
def test_a_safety_penalty_is_published_a_year_before_its_repair(
    national: ApiEnv, record: str, sector: str
) -> None:
    """National practice: a year, not three months, in work safety, fire safety and special
    equipment (DOMAIN.md)."""
    for early in ("2024-04-10", "2025-01-09"):
        code, message = _error(_repair(national, record, early))
        assert code == "CONFLICT" and "from 2025-01-10" in message, message
        assert f"'admin_penalty:{sector}'" in message
    repaired = _repair(national, record, "2025-01-10")["data"]["recordRepair"]
    assert repaired["status"] == "repaired"


def test_without_a_decision_date_the_wait_counts_from_the_start_and_other_kinds_wait_not(
    national: ApiEnv,
) -> None:
    code, message = _error(_repair(national, UNDECIDED, "2024-05-31"))
    assert code == "CONFLICT" and "from 2024-06-01" in message, message
    assert _repair(national, UNDECIDED, "2024-06-01")["data"]["recordRepair"]["status"] == (
        "repaired"
    )
    # a blacklisting: no entry for its kind, repaired on the day it was decided
    assert _repair(national, BLACKLISTING, "2024-01-10")["data"]["recordRepair"]["status"] == (
        "repaired"
    )


def test_a_city_s_own_kind_and_sector_entry_from_its_variable(custom: ApiEnv) -> None:
    code, message = _error(_repair(custom, FIRE_SAFETY, "2025-07-09"))
    assert code == "CONFLICT" and "from 2025-07-10" in message, message
    assert "'admin_penalty:fire_safety'" in message
    assert _repair(custom, FIRE_SAFETY, "2025-07-10")["data"]["recordRepair"]["status"] == (
        "repaired"
    )
    # the variable replaces the defaults as a whole: here a tax penalty has no waiting period
    assert _repair(custom, TAX, "2024-01-15")["data"]["recordRepair"]["status"] == "repaired"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('{"admin_penalty:work_safety": "1 year"}', "key 'admin_penalty:work_safety': expected a"),
        ('{"red_list": "1y"}', "key 'red_list': should start with a negative record kind"),
        ('{"admin_penalty:Fire Safety": "1y"}', "key 'admin_penalty:Fire Safety': the sector"),
        ("admin_penalty=3m", "should be a JSON object such as"),
    ],
)
def test_a_bad_waiting_period_is_refused_naming_the_variable_and_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, said: str
) -> None:
    monkeypatch.setenv("CREDGRAPH_REPAIR_AFTER", value)
    with pytest.raises(SettingsError) as refused:
        load_settings(data_dir=tmp_path)
    assert str(refused.value).startswith(f"CREDGRAPH_REPAIR_AFTER={value!r}: "), refused.value
    assert said in str(refused.value)


def test_a_repair_is_refused_for_a_record_of_a_city_without_repair(by_city: ApiEnv) -> None:
    before = len(_events(by_city))
    for record, city in ((FIRE_SAFETY, "4451"), (SPECIAL_EQUIPMENT, "4406")):
        code, message = _error(_repair(by_city, record, "2025-02-01"))
        assert code == "NOT_OFFERED" and "recordRepair" in message, message
        assert f"city {city}" in message and "CREDGRAPH_RECORD_REPAIR" in message
        assert _changes(by_city, record) == [] and _status(by_city, record) == "active"
    refused = [e for e in _events(by_city)[before:] if e["operation"] == "recordRepair"]
    assert [e["outcome"] for e in refused] == ["refused:not_offered"] * 2
    # a record of a city that offers repair is repaired
    assert "errors" not in _repair(by_city, WORK_SAFETY, "2025-02-01")
    assert _status(by_city, WORK_SAFETY) == "repaired"


def test_a_record_that_names_no_city_is_refused_where_repair_is_offered_by_city(
    by_city: ApiEnv,
) -> None:
    code, message = _error(_repair(by_city, UNDECIDED, "2025-02-01"))
    assert code == "NOT_OFFERED" and "names no city" in message, message
    assert "CREDGRAPH_RECORD_REPAIR" in message
    assert _changes(by_city, UNDECIDED) == []


def test_objections_are_refused_for_a_record_of_a_city_without_them(by_city: ApiEnv) -> None:
    before = len(_events(by_city))
    for mutation, name in ((OPEN, "openObjection"), (CLOSE, "closeObjection")):
        code, message = _error(by_city.gql(mutation, r=FIRE_SAFETY, **ADMIN))
        assert code == "NOT_OFFERED" and name in message and "city 4451" in message, message
        assert "CREDGRAPH_RECORD_OBJECTION" in message
    assert _changes(by_city, FIRE_SAFETY) == []
    outcomes = {e["operation"]: e["outcome"] for e in _events(by_city)[before:]}
    assert outcomes["openObjection"] == outcomes["closeObjection"] == "refused:not_offered"
    # Foshan handles objections, though it has no repair
    assert by_city.gql(OPEN, r=SPECIAL_EQUIPMENT, **ADMIN)["data"]["openObjection"] == {
        "status": "under_objection"
    }


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("true", True),
        ("false", False),
        ("3502", ("3502",)),
        (" 3502, 35 ", ("3502", "35")),
    ],
)
def test_where_a_process_is_offered_is_read_from_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, read: object
) -> None:
    monkeypatch.setenv("CREDGRAPH_RECORD_REPAIR", written)
    assert load_settings(data_dir=tmp_path).record_repair == read


@pytest.mark.parametrize("written", ["Xiamen", "3502,", "350203", "maybe"])
def test_a_bad_list_of_cities_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("CREDGRAPH_RECORD_OBJECTION", written)
    with pytest.raises(SettingsError) as refused:
        load_settings(data_dir=tmp_path)
    assert "CREDGRAPH_RECORD_OBJECTION" in str(refused.value)
    assert "region-code prefixes" in str(refused.value)
