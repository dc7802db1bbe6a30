"""`credgraph keys create / list / revoke`: the key is printed once, only its digest stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from credgraph.api.keys import KeyRing, digest, make_key
from credgraph.graph.settings import load_settings
from credgraph.graph.store import GraphStore, open_store
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, free_port


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CREDGRAPH_EMBEDDED_BOLT_PORT", str(free_port()))
    monkeypatch.setenv("CREDGRAPH_EMBEDDED_HTTP_PORT", str(free_port()))
    monkeypatch.setenv("CREDGRAPH_EMBEDDED_HEAP", "512m")
    return CliRunner()


def test_keys_are_created_listed_and_revoked(runner: CliRunner) -> None:
    created = runner.invoke(app, ["keys", "create", "--role", "approval", "--name", "审批系统"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("cgk_")
    listed = runner.invoke(app, ["keys", "list", "--json"])
    keys = json.loads(listed.stdout)
    assert [(k["name"], k["role"], k["revoked_at"]) for k in keys] == [
        ("审批系统", "approval", None)
    ]
    assert secret not in listed.stdout
    settings = load_settings()
    with open_store(settings) as store:
        ring = KeyRing(store, cache_s=0)
        caller = ring.caller(secret)
        assert caller is not None and caller.role.value == "approval"
        from credgraph.queries.keys import find_key

        stored = find_key(store, keys[0]["id"])
        assert stored is not None and stored.secret_sha256 == digest(secret.split("_", 2)[2])
    revoked = runner.invoke(app, ["keys", "revoke", keys[0]["id"]])
    assert revoked.exit_code == 0 and revoked.output == f"key {keys[0]['id']} (审批系统) revoked\n"
    with open_store(settings) as store:
        assert KeyRing(store, cache_s=0).caller(secret) is None
    bad = runner.invoke(app, ["keys", "create", "--role", "root", "--name", "x"])
    assert bad.exit_code == 2 and "--role: must be one of public" in bad.output
    blank = runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", " "])
    assert blank.exit_code == 2 and "--name: must be 1 to 100 characters" in blank.output
    unknown = runner.invoke(app, ["keys", "revoke", "0123456789ab"])
    assert unknown.exit_code == 2 and "KEY_ID: no key with the id '0123456789ab'" in unknown.output


class CountingReads(GraphStore):
    """The real store, counting its reads."""

    reads = 0

    def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read(*args, **kwargs)


def test_a_key_looked_up_lately_is_checked_without_the_store(graph: GraphStore) -> None:
    approval = make_key(graph, "approval", "审批系统")
    counting = CountingReads(graph.driver, graph.database, graph.timeout_s)
    ring = KeyRing(counting, cache_s=60)
    assert ring.cached_caller(approval.secret) == (False, None)  # never seen: ask the store
    caller = ring.caller(approval.secret)
    assert caller is not None and caller.role.value == "approval" and counting.reads == 1
    assert ring.cached_caller(approval.secret) == (True, caller)
    key_id = approval.secret.split("_", 2)[1]
    assert ring.cached_caller(f"cgk_{key_id}_{'A' * 43}") == (True, None)  # wrong secret
    assert ring.cached_caller("not a key") == (True, None)
    assert counting.reads == 1
    assert KeyRing(counting, cache_s=0).cached_caller(approval.secret) == (False, None)


def test_keys_list_shows_utc_times_and_an_empty_list_says_how_to_make_a_key(
    runner: CliRunner,
) -> None:
    with open_store(load_settings()):  # held open: each command attaches to it
        empty = runner.invoke(app, ["keys", "list"])
        assert empty.exit_code == 0 and "no API keys yet: credgraph keys create" in empty.output
        assert (
            runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", "a"]).exit_code
            == 0
        )
        listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert listed[0]["created_at"].endswith("+00:00")  # not a wall-clock time of no zone


def test_a_key_written_to_a_file_is_owner_only_and_a_namesake_is_pointed_out(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "keys" / "approval.key"
    with open_store(load_settings()):
        first = runner.invoke(
            app,
            ["keys", "create", "--role", "approval", "--name", "审批系统", "--out", str(target)],
        )
        assert first.exit_code == 0, first.output
        assert "cgk_" not in first.stdout and f"written to {target}" in first.output
        assert target.stat().st_mode & 0o777 == 0o600
        secret = target.read_text(encoding="utf-8").strip()
        again = runner.invoke(
            app, ["keys", "create", "--role", "approval", "--name", "x", "--out", str(target)]
        )
        assert again.exit_code == 2
        told = " ".join(again.output.split())  # as wrapped to the terminal
        assert f"--out: {target} exists; the key is only written into a new file" in told, told
        assert target.read_text(encoding="utf-8").strip() == secret
        rotated = runner.invoke(app, ["keys", "create", "--role", "approval", "--name", "审批系统"])
        key_id = secret.split("_")[1]
        assert f"note: key {key_id} (approval) has this name too and still works" in rotated.output
        assert len(json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)) == 2


def test_a_key_is_revoked_by_its_whole_text_and_revoking_again_changes_nothing(
    runner: CliRunner,
) -> None:
    with open_store(load_settings()):
        created = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "leaked"])
        secret = created.stdout.strip()
        first = runner.invoke(app, ["keys", "revoke", secret])  # as found in a leaked file
        [key] = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
        assert first.exit_code == 0, first.output
        # the key the secret is of, named by its id, and no part of the secret said back
        assert first.output == f"key {key['id']} (leaked) revoked\n"
        assert key["revoked_at"] is not None and secret.split("_", 2)[2] not in first.output
        second = runner.invoke(app, ["keys", "revoke", key["id"]])
        assert second.exit_code == 0
        assert f"was already revoked at {key['revoked_at']}; nothing changed" in second.output
        [again] = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
        assert again["revoked_at"] == key["revoked_at"]
        unknown = runner.invoke(app, ["keys", "revoke", "0123456789ab"])
        assert unknown.exit_code == 2 and "no key with the id '0123456789ab'" in unknown.output
