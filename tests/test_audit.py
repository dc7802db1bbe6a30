"""The audit log: one event per lookup, before the answer; a hash chain that shows tampering."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.audit import AuditLog, AuditUnavailable, verify
from credgraph.api.roles import ApiRole, may_call
from credgraph.api.schema import build_schema
from credgraph.graph.settings import Settings
from typer.testing import CliRunner

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, ZHANG
from tests.test_api_execution import ROOT_CALLS


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("api"))


KEY = b"audit-test-key"


def events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_root_field_registers_one_event_without_identifiers(api_env: ApiEnv) -> None:
    before = len(events(api_env.audit_path))
    body = api_env.gql(
        f'{{ a: entity(id: "{ZHANG}") {{ id }} b: entity(id: "{FIRM_A}") {{ id }} '
        f'c: linkedParties(id: "{FIRM_A}") {{ totalCount }} }}',
        purpose="licensing",
    )
    assert "errors" not in body
    new = events(api_env.audit_path)[before:]
    # root fields resolve concurrently, so their events may come in any order
    assert sorted(str(e["operation"]) for e in new) == ["entity", "entity", "linkedParties"]
    assert all(e["purpose"] == "licensing" and e["role"] == "investigator" for e in new)
    assert all(e["outcome"] == "ok" and e["key_name"] == "test investigator" for e in new)
    text = api_env.audit_path.read_text(encoding="utf-8")
    assert ZHANG not in text and FIRM_A not in text and "张伟" not in text
    assert verify(api_env.audit_path, api_env.settings.audit_key_bytes()).ok


@pytest.mark.parametrize("name", sorted(build_schema()._schema.query_type.fields))
def test_each_root_field_alone_registers_one_event_of_its_own(api_env: ApiEnv, name: str) -> None:
    # ROOT_CALLS names a call of every root field the schema has: a new field needs one there
    call = ROOT_CALLS[name]
    role = next(role for role in ApiRole if may_call(role, name))
    before = len(events(api_env.audit_path))
    body = api_env.gql(f"{{ {call} {{ __typename }} }}", role=role, purpose="investigation")
    assert "errors" not in body, body
    new = events(api_env.audit_path)[before:]
    assert [(e["operation"], e["outcome"], e["role"]) for e in new] == [(name, "ok", role.value)]
    assert verify(api_env.audit_path, api_env.settings.audit_key_bytes()).ok


def test_refusals_are_registered_too(api_env: ApiEnv) -> None:
    before = len(events(api_env.audit_path))
    api_env.gql(f'{{ linkedParties(id: "{FIRM_A}") {{ totalCount }} }}', role=ApiRole.PUBLIC)
    api_env.gql(f'{{ entity(id: "{ZHANG}") {{ id }} }}', purpose=None)
    outcomes = [e["outcome"] for e in events(api_env.audit_path)[before:]]
    assert outcomes == ["refused:role", "refused:purpose_required"]


FIFTY_ONE_IDS = ", ".join(['"x"'] * 51)
REFUSED_CALLS = [
    (
        f"{{ screen(ids: [{FIFTY_ONE_IDS}], purpose: LICENSING) {{ decision }} }}",
        ApiRole.APPROVAL,
        ["refused:bad_user_input"],
    ),
    (
        '{ entity(id: "91350203MA2Y0001XQ") { id } }',
        ApiRole.INVESTIGATOR,  # a bad check digit
        ["refused:bad_user_input"],
    ),
    (
        f'{{ linkedParties(id: "{FIRM_A}", depth: 9) {{ totalCount }} }}',
        ApiRole.INVESTIGATOR,
        ["refused:bad_user_input"],
    ),
    (
        'mutation { closeObjection(recordId: "XMCREDIT:B-1", upheld: false) { status } }',
        ApiRole.ADMIN,
        ["refused:conflict"],
    ),  # no objection is open on it
    ('{ entity(id: "91350200MA0000015A") { id } }', ApiRole.INVESTIGATOR, ["not_found"]),
    ('{ riskReport(id: "91350200MA0000015A") { found } }', ApiRole.INVESTIGATOR, ["not_found"]),
    (
        f'{{ entity(id: "{FIRM_A}") {{ records(disclosure: [RESTRICTED]) {{ id }} }} }}',
        ApiRole.APPROVAL,
        ["ok", "refused:role"],
    ),
    (  # root fields run side by side: each registers its own outcome
        f'{{ a: entity(id: "{FIRM_A}") {{ id }} '
        f'b: linkedParties(id: "{FIRM_A}", depth: 9) {{ totalCount }} }}',
        ApiRole.INVESTIGATOR,
        ["ok", "refused:bad_user_input"],
    ),
]


@pytest.mark.parametrize("query,role,outcomes", REFUSED_CALLS)
def test_calls_refused_or_not_found_are_registered_with_their_outcome(
    api_env: ApiEnv, query: str, role: ApiRole, outcomes: list[str]
) -> None:
    before = len(events(api_env.audit_path))
    body = api_env.gql(query, role=role)
    assert body.get("errors") or outcomes == ["not_found"], body
    assert sorted(str(e["outcome"]) for e in events(api_env.audit_path)[before:]) == outcomes


def test_an_unwritable_audit_log_fails_the_lookup(api_env: ApiEnv) -> None:
    api_env.gql(f'{{ entity(id: "{FIRM_A}") {{ id }} }}')
    path = api_env.audit_path
    kept = path.with_name("kept.log")
    path.rename(kept)
    path.mkdir()  # not writable as a file, even for root (chmod would not stop root)
    try:
        body = api_env.gql(f'{{ entity(id: "{FIRM_A}") {{ id name }} }}')
    finally:
        path.rmdir()
        kept.rename(path)
    assert body["data"]["entity"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "AUDIT_UNAVAILABLE" and error["path"] == ["entity"]
    assert error["message"] == "the lookup could not be registered, so it is not answered"
    assert "厦门" not in json.dumps(body, ensure_ascii=False)


def _chain(tmp_path: Path, n: int) -> Path:
    log = AuditLog(tmp_path / "audit.log", KEY, fsync=False)
    for i in range(n):
        log.append(operation="entity", subjects=[f"t{i}"], result_size=1)
    return log.path


def test_a_changed_event_is_named(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"result_size":1', '"result_size":0')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    verdict = verify(path, KEY)
    assert (verdict.first_bad, verdict.reason) == (3, "its content was changed")


def test_a_removed_event_is_named(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    lines = path.read_text(encoding="utf-8").splitlines()
    del lines[1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify(path, KEY).first_bad == 2


def test_an_inserted_event_is_named_as_inserted_not_removed(tmp_path: Path) -> None:
    """docs/security.md: verify names the first event changed, inserted or removed. A line
    copied, one moved back, or one that does not chain is an insertion; a gap is a removal."""
    original = _chain(tmp_path, 12).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "audit.log"

    def told(lines: list[str]) -> tuple[int | None, str | None]:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        verdict = verify(path, KEY)
        return verdict.first_bad, verdict.reason

    copied = [*original[:10], original[9], *original[10:]]  # event 10 twice
    assert told(copied) == (
        11,
        "it repeats sequence number 10 (an event inserted, or a line copied?)",
    )
    moved_back = [*original[:10], original[3], *original[10:]]
    assert told(moved_back) == (
        11,
        "sequence goes back from 10 to 4 (an event inserted, or lines moved?)",
    )
    forged = json.loads(original[10])
    forged["prev"] = "0" * 64  # a line written in with the next number, linking to nothing
    assert told([*original[:10], json.dumps(forged), *original[10:]]) == (
        11,
        "does not link to the event before it (an event inserted?)",
    )
    assert told([*original[:4], *original[6:]]) == (
        5,
        "sequence jumps from 4 to 7 (events removed?)",
    )


def test_swapped_events_are_named_as_out_of_order_not_removed(tmp_path: Path) -> None:
    """Two adjacent lines swapped: event 32 follows 30 and 31 comes after it. verify said
    "sequence jumps from 30 to 32 (events removed?)", though nothing was removed."""
    original = _chain(tmp_path, 34).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "audit.log"
    swapped = [*original[:30], original[31], original[30], *original[32:]]
    path.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    verdict = verify(path, KEY)
    assert (verdict.first_bad, verdict.reason) == (
        31,
        "events out of order: event 32 comes right after 30, and event 31 later (lines reordered?)",
    )


def test_a_log_that_starts_after_a_rotation_is_checked_from_its_first_event(
    tmp_path: Path,
) -> None:
    """`continued`: the rotated files are not at hand (a backup holds only the live log): the
    log is checked from its first event on, and a real break after it is still found."""
    log = AuditLog(tmp_path / "audit.log", KEY, fsync=False)
    for _ in range(4):
        log.append(operation="entity")
    log.path.rename(tmp_path / "audit.log.1")
    for _ in range(3):
        log.append(operation="screen")
    assert verify(log.path, KEY).reason is not None  # without the rotated file, as ever
    verdict = verify(log.path, KEY, continued=True)
    assert (verdict.ok, verdict.first, verdict.events) == (True, 5, 7)
    assert verify(tmp_path / "audit.log.1", KEY, continued=True).first == 1
    lines = log.path.read_text(encoding="utf-8").splitlines()
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")
    broken = verify(log.path, KEY, continued=True)
    assert (broken.first_bad, broken.first) == (6, 5)
    assert broken.reason == "sequence jumps from 5 to 7 (events removed?)"
    lines[0] = lines[0].replace('"entity"', '"screen"').replace('"screen"', '"search"', 1)
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify(log.path, KEY, continued=True).first_bad == 5  # its seal still checked


def test_events_cut_off_the_end_are_detected(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    verdict = verify(path, KEY)
    assert not verdict.ok and verdict.first_bad == 4


def _cut_last(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")


def test_a_deleted_log_is_detected_and_the_next_events_keep_the_gap(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    path.unlink()
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.reason) == (False, "the log is missing; its head names 5 events")
    AuditLog(path, KEY, fsync=False).append(operation="entity", subjects=[], result_size=0)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["seq"] == 6  # goes on from the head: the five removed stay visible
    assert verify(path, KEY).first_bad == 1


def test_a_cut_log_without_its_head_is_detected_and_stays_so(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    _cut_last(path)
    path.with_name("audit.log.head").unlink()
    assert verify(path, KEY).reason == (
        "the head file is missing: events cut off the end would not show"
    )
    AuditLog(path, KEY, fsync=False).append(operation="entity", subjects=[], result_size=0)
    assert not verify(path, KEY).ok  # a writer does not write the head back


def test_a_head_rewritten_without_the_key_is_detected(tmp_path: Path) -> None:
    path = _chain(tmp_path, 5)
    fourth = json.loads(path.read_text(encoding="utf-8").splitlines()[3])
    _cut_last(path)
    head = path.with_name("audit.log.head")
    head.write_text(json.dumps({"seq": 4, "hash": fourth["hash"]}), encoding="utf-8")
    assert verify(path, KEY).reason == "the head file is damaged or was changed"
    forged = hmac.new(b"a guess", b"audit-head|4|" + fourth["hash"].encode(), hashlib.sha256)
    head.write_text(
        json.dumps({"seq": 4, "hash": fourth["hash"], "seal": forged.hexdigest()}),
        encoding="utf-8",
    )
    assert verify(path, KEY).reason == "the head file is damaged or was changed"


def test_a_head_one_group_behind_its_log_is_a_stop_between_two_writes(tmp_path: Path) -> None:
    path = _chain(tmp_path, 3)
    head = path.with_name("audit.log.head")
    kept = head.read_bytes()
    AuditLog(path, KEY, fsync=False).append(operation="entity", subjects=[], result_size=0)
    head.write_bytes(kept)  # the writer stopped after the event, before the head
    assert verify(path, KEY).ok


def test_a_chain_recomputed_without_the_key_fails(tmp_path: Path) -> None:
    path = _chain(tmp_path, 3)
    assert verify(path, KEY).ok
    assert verify(path, b"another key").first_bad == 1


def test_threads_and_processes_share_one_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", KEY, fsync=False)
    other = AuditLog(tmp_path / "audit.log", KEY, fsync=False)  # as a second worker would

    def write(target: AuditLog) -> None:
        for _ in range(50):
            target.append(operation="screen")

    threads = [threading.Thread(target=write, args=(t,)) for t in (log, other, log, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pid = os.fork()
    if pid == 0:  # a child process appends through its own handle
        write(AuditLog(tmp_path / "audit.log", KEY, fsync=False))
        os._exit(0)
    write(log)
    os.waitpid(pid, 0)
    verdict = verify(log.path, KEY)
    assert verdict.ok and verdict.events == 300


def test_threads_appending_together_share_fsyncs_and_each_event_is_on_disk_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(tmp_path / "audit.log", KEY, fsync=True)
    synced: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:  # a disk slow enough that threads arrive during a write
        time.sleep(0.005)
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    late: list[int] = []

    def write() -> None:
        for _ in range(25):
            event = log.append(operation="screen")
            on_disk = log.path.read_text(encoding="utf-8")
            if f'"hash":"{event["hash"]}"' not in on_disk:
                late.append(event["seq"])

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = verify(log.path, KEY)
    assert verdict.ok and verdict.events == 200
    assert late == [], "an append returned before its event was written"
    assert len(synced) < 200 / 2, f"{len(synced)} fsyncs for 200 events: no grouping"


def test_every_waiting_thread_hears_that_the_log_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.mkdir()  # a directory where the log should be: every write fails
    log = AuditLog(path, KEY, fsync=False)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            log.append(operation="entity")
        except AuditUnavailable as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "a thread waits forever"
    assert len(errors) == 6
    path.rmdir()
    assert log.append(operation="entity")["seq"] == 1, "the log works again once it can"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def _cli_log(tmp_path: Path) -> tuple[Settings, AuditLog]:
    """The settings and the audit log that the `runner`'s commands read."""
    from credgraph.graph.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data")
    return settings, AuditLog(settings.audit_log_path, settings.audit_key_bytes(), fsync=False)


def test_the_log_s_folder_is_made_on_the_first_write_and_again_once_removed(
    tmp_path: Path,
) -> None:
    import shutil

    folder = tmp_path / "audit"
    log = AuditLog(folder / "audit.log", KEY, fsync=False)
    assert not folder.exists()  # opening a log writes nothing
    assert log.append(operation="entity")["seq"] == 1
    shutil.rmtree(folder)  # log, head and lock gone: a new chain starts
    assert log.append(operation="entity")["seq"] == 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "audit.log",
        "audit.log.head",
        "audit.log.lock",
    ]


def test_audit_verify_command_exits_1_naming_the_event(runner: CliRunner, tmp_path: Path) -> None:
    _, log = _cli_log(tmp_path)
    for _ in range(4):
        log.append(operation="entity")
    good = runner.invoke(app, ["audit", "verify"])
    assert good.exit_code == 0 and "4 events, chain intact" in good.output
    lines = log.path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"entity"', '"search"')
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1 and "event 2 is bad" in bad.output


def test_audit_verify_of_a_fresh_data_dir_says_so_and_makes_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "no audit log yet" in result.output
    assert not (tmp_path / "data").exists()  # no key made for a log that is not there


def test_audit_verify_without_the_key_exits_2_and_makes_no_new_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    settings, log = _cli_log(tmp_path)
    log.append(op="x")
    settings.audit_key_path.unlink()
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2 and "audit.key is missing" in result.output
    assert not settings.audit_key_path.exists()


def test_a_wrong_key_is_named_as_a_possible_cause(tmp_path: Path) -> None:
    path = _chain(tmp_path, 3)
    assert "the audit key is not the one that sealed" in str(verify(path, b"other").reason)
    path.write_text(path.read_text(encoding="utf-8").replace('"t0"', '"t9"'), encoding="utf-8")
    assert "audit key" in str(verify(path, KEY).reason)  # the first event: either cause


def test_a_rotated_log_is_checked_with_the_files_it_was_moved_into(
    runner: CliRunner, tmp_path: Path
) -> None:
    _, log = _cli_log(tmp_path)
    for _ in range(3):
        log.append(operation="entity")
    first = log.path.with_name("audit.log.2026-06-01")
    log.path.rename(first)  # as logrotate moves it, under a running writer
    alone_first = runner.invoke(app, ["audit", "verify", str(first)])  # none written since
    assert alone_first.exit_code == 0 and "3 events, chain intact" in alone_first.output
    for _ in range(2):
        log.append(operation="entity")
    second = log.path.with_name("audit.log.2026-06-02")
    log.path.rename(second)
    log.append(operation="entity")
    alone = runner.invoke(app, ["audit", "verify"])
    assert alone.exit_code == 1
    expected = f"{log.path} starts at event 6; expected event 1: give the older files first"
    assert expected in " ".join(alone.output.split()), alone.output
    whole = runner.invoke(app, ["audit", "verify", str(first), str(second)])
    assert whole.exit_code == 0 and "6 events, chain intact" in whole.output
    reordered = runner.invoke(app, ["audit", "verify", str(second), str(first)])
    assert reordered.exit_code == 1
    # the file named first starts at event 4: no event is bad, a file is out of place
    told = " ".join(reordered.output.split())
    assert f"{second} starts at event 4; expected event 1: give the older files first" in told
    assert "is bad" not in told, reordered.output


def test_a_gzip_compressed_rotated_file_is_checked_as_it_was_written(
    runner: CliRunner, tmp_path: Path
) -> None:
    """logrotate's `compress`: audit.log.1.gz was read as it lies on disk, and its first event
    called "not a well-formed event", as tampering would be."""
    settings, log = _cli_log(tmp_path)
    for _ in range(3):
        log.append(operation="entity")
    compressed = log.path.with_name("audit.log.1.gz")
    compressed.write_bytes(gzip.compress(log.path.read_bytes()))
    log.path.unlink()
    log.append(operation="entity")
    result = runner.invoke(app, ["audit", "verify", str(compressed)])
    assert result.exit_code == 0 and "4 events, chain intact" in result.output, result.output
    assert verify(log.path, settings.audit_key_bytes(), [compressed]).ok
    compressed.write_bytes(compressed.read_bytes()[:-12])  # cut short while being compressed
    cut = runner.invoke(app, ["audit", "verify", str(compressed)])
    assert cut.exit_code == 2 and "the compressed file is cut off" in cut.output, cut.output


def test_the_live_log_named_among_the_rotated_files_is_refused_naming_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`verify` reads the live log after the rotated files anyway: named among them too, its
    events came twice and the chain was called broken ("sequence jumps")."""
    _, log = _cli_log(tmp_path)
    log.append(operation="entity")
    rotated = log.path.with_name("audit.log.2026-06-01")
    log.path.rename(rotated)
    log.append(operation="entity")
    result = runner.invoke(app, ["audit", "verify", str(rotated), str(log.path)])
    assert result.exit_code == 2, result.output
    assert f"ROTATED: {log.path} is the live audit log" in " ".join(result.output.split())
    alone = runner.invoke(app, ["audit", "verify", str(rotated)])
    assert alone.exit_code == 0 and "2 events, chain intact" in alone.output


def test_audit_verify_prints_a_path_with_brackets_as_it_is(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # rich read `[red]` in a path as markup: the name vanished from the message
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "[red]data"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0 and "[red]data/audit/audit.log" in result.output


def test_a_bad_event_in_a_rotated_file_names_that_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    # the message named the live audit.log, which was intact, as where the bad event was
    settings, log = _cli_log(tmp_path)
    for _ in range(3):
        log.append(operation="entity")
    rotated = log.path.with_name("audit.log.2026-06-01")
    log.path.rename(rotated)
    log.append(operation="entity")
    lines = rotated.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"entity"', '"search"')
    rotated.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["audit", "verify", str(rotated)])
    assert result.exit_code == 1, result.output
    assert f"event 2 is bad (line 2 of {rotated})" in " ".join(result.output.split())
    assert verify(log.path, settings.audit_key_bytes(), [rotated]).location == (rotated, 2)
