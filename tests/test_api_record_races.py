"""Record changes sent at once through the running app: the check that a change applies and its
write are one transaction, so concurrent changes to one record are serialised and each later
one is judged against the record as the earlier left it (refused `CONFLICT` as it would be
when sent afterwards). The calls start together behind a barrier, several records in turn."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import httpx
import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.queries import writes

from tests.api_support import ApiEnv, start_api_env
from tests.registries import RECORD_HEADER, load_folder, write_csv

FIRM = make_uscc("9", "1", "350102", "MA2Y0081")
ROUNDS = 3  # records raced on per test; each race runs THREADS calls at once
THREADS = 6
ADMIN = {"role": ApiRole.ADMIN, "purpose": "credit_repair"}

OPEN = """mutation ($r: String!) {
  openObjection(recordId: $r, evidence: "paid", deadline: "2099-01-01") { status changeId } }"""
CLOSE = """mutation ($r: String!, $upheld: Boolean!) {
  closeObjection(recordId: $r, upheld: $upheld) { status changeId } }"""
REPAIR = """mutation ($r: String!) {
  recordRepair(recordId: $r, decisionNumber: "修复〔2024〕9号") { status changeId } }"""

STORED: LiteralString = """
MATCH (r {uid: $uid}) RETURN r.status AS status
"""


def _record(record_id: str) -> list[str]:
    authority = ["AUTH7", "福州市市场监督管理局"]
    decided = ["2024-01-10", "2024-01-10", "2027-12-31", "active", "public", "race", "", ""]
    return [record_id, FIRM, "admin_penalty", "market", *authority, *decided]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("record-races")


@pytest.fixture(scope="module")
def env(embedded: Any, driver: Any, settings: Settings, tmp: Path) -> Iterator[ApiEnv]:
    """The app on a store holding penalties O-<n>, M-<n> and L-<n> of one firm (a repair may take
    effect from 2024-04-10 on)."""
    for api in start_api_env(embedded, driver, settings, tmp):
        folder = tmp / "races"
        folder.mkdir()
        write_csv(
            folder / "legal_persons.csv",
            ["uscc", "name", "kind"],
            [[FIRM, "福州竞态贸易有限公司", "enterprise"]],
        )
        rows = [_record(f"{kind}-{n}") for kind in ("O", "M", "L") for n in range(ROUNDS)]
        write_csv(folder / "records.csv", RECORD_HEADER, rows)
        report = load_folder(api.store, folder, tmp / "rejects", batch_size=100)
        assert [f.rejected for f in report.files] == [0, 0], report
        yield api


def _at_once(env: ApiEnv, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Send the calls from a thread each, released together; their answers in call order."""
    answers: list[dict[str, Any]] = [{} for _ in calls]
    start = threading.Barrier(len(calls))

    def send(n: int, query: str, variables: dict[str, Any]) -> None:
        with httpx.Client(base_url=env.served.url, timeout=60) as client:
            headers = {
                "Authorization": f"Bearer {env.keys[ApiRole.ADMIN]}",
                "X-Credgraph-Purpose": "credit_repair",
            }
            body = {"query": query, "variables": variables}
            start.wait()
            answers[n] = client.post("/graphql", json=body, headers=headers).json()

    threads = [
        threading.Thread(target=send, args=(n, query, variables))
        for n, (query, variables) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _audited(env: ApiEnv, since: int) -> list[str]:
    """The outcome of each call audited after the log's first `since` lines: the last event of
    its request (a change refused inside its write follows the call's first event)."""
    lines = env.audit_path.read_text(encoding="utf-8").splitlines()[since:]
    last = {event["request"]: event["outcome"] for event in map(json.loads, lines)}
    return sorted(last.values())


def _audit_lines(env: ApiEnv) -> int:
    if not env.audit_path.exists():  # nothing audited yet
        return 0
    return len(env.audit_path.read_text(encoding="utf-8").splitlines())


def _succeeded(answer: dict[str, Any]) -> bool:
    if answer.get("errors"):
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["CONFLICT"], answer
        return False
    return True


def _history(env: ApiEnv, record: str) -> list[str]:
    """The record's changes in the order they fold (same day: uid order, the API's time order)."""
    rows = env.store.read(writes.STATUS_CHANGES_OF_RECORDS, {"uids": [record]})
    ordered = sorted(rows, key=lambda row: (str(row["effective_on"]), row["change_uid"]))
    return [str(row["change"]) for row in ordered]


def _stored(env: ApiEnv, record: str) -> str:
    return str(env.store.read(STORED, {"uid": record})[0]["status"])


@pytest.mark.parametrize("n", range(ROUNDS))
def test_objections_opened_at_once_on_one_record_open_one(env: ApiEnv, n: int) -> None:
    record = f"RACE:O-{n}"
    logged = _audit_lines(env)
    answers = _at_once(env, [(OPEN, {"r": record})] * THREADS)
    won = [a for a in answers if _succeeded(a)]
    assert len(won) == 1, answers
    assert _audited(env, logged) == ["ok"] + ["refused:conflict"] * (THREADS - 1)
    assert won[0]["data"]["openObjection"]["status"] == "under_objection"
    refused = [a["errors"][0]["message"] for a in answers if a.get("errors")]
    assert refused == ["the record is already under objection"] * (THREADS - 1)
    assert _history(env, record) == ["objection_opened"]
    # the objection that stands is the one answered: closing it is not refused
    closed = env.gql(CLOSE, r=record, upheld=False, **ADMIN)
    assert closed["data"]["closeObjection"]["status"] == "active", closed


@pytest.mark.parametrize("n", range(ROUNDS))
def test_closes_and_repairs_at_once_on_a_record_under_objection_agree(env: ApiEnv, n: int) -> None:
    record = f"RACE:M-{n}"
    opened = env.gql(OPEN, r=record, **ADMIN)
    assert opened["data"], opened
    assert opened["data"]["openObjection"]["status"] == "under_objection", opened
    calls = [
        (CLOSE, {"r": record, "upheld": True}),
        (CLOSE, {"r": record, "upheld": True}),
        (CLOSE, {"r": record, "upheld": False}),
        (REPAIR, {"r": record}),
        (REPAIR, {"r": record}),
        (REPAIR, {"r": record}),
    ]
    logged = _audit_lines(env)
    answers = _at_once(env, calls)
    closes = [
        c[1]["upheld"]
        for c, a in zip(calls, answers, strict=True)
        if c[0] is CLOSE and _succeeded(a)
    ]
    repairs = [a for c, a in zip(calls, answers, strict=True) if c[0] is REPAIR and _succeeded(a)]
    assert len(closes) <= 1 and len(repairs) <= 1, answers
    assert closes or repairs, answers
    history = _history(env, record)
    # one after another as the store took them: each change applied to the record as the one
    # before left it, and nothing after the record stopped counting
    if closes == [True]:
        assert not repairs and history == ["objection_opened", "objection_closed", "revoked"]
        final = "revoked"
    elif closes == [False] and repairs:
        assert history == ["objection_opened", "objection_closed", "repaired"], answers
        final = "repaired"
    elif closes == [False]:
        assert history == ["objection_opened", "objection_closed"], answers
        final = "active"
    else:  # repaired while under objection: no objection can be closed after it
        assert history == ["objection_opened", "repaired"], answers
        final = "repaired"
    assert _stored(env, record) == final
    won = len(closes) + len(repairs)
    assert _audited(env, logged) == ["ok"] * won + ["refused:conflict"] * (THREADS - won)
    last = max(
        (a["data"] for a in answers if not a.get("errors")),
        key=lambda data: next(iter(data.values()))["changeId"],
    )
    assert next(iter(last.values()))["status"] == final


def test_a_load_listing_records_again_keeps_the_changes_made_meanwhile(
    env: ApiEnv, tmp: Path
) -> None:
    """A re-load's refold of the records it lists, while objections to them are opened through
    the API: no objection is lost from a record's stored status."""
    folder = tmp / "again"
    folder.mkdir()
    records = [f"L-{n}" for n in range(ROUNDS)]
    write_csv(folder / "records.csv", RECORD_HEADER, [_record(r) for r in records])
    start = threading.Barrier(2)
    loaded: list[Any] = []

    def load() -> None:
        start.wait()
        loaded.append(load_folder(env.store, folder, tmp / "rejects-again", batch_size=1))

    loader = threading.Thread(target=load)
    loader.start()
    start.wait()
    opened = [env.gql(OPEN, r=f"RACE:{r}", **ADMIN) for r in records]
    loader.join(timeout=120)
    assert [f.rejected for f in loaded[0].files] == [0], loaded
    for record, answer in zip(records, opened, strict=True):
        assert answer["data"]["openObjection"]["status"] == "under_objection", answer
        assert _history(env, f"RACE:{record}") == ["objection_opened"]
        assert _stored(env, f"RACE:{record}") == "under_objection"
