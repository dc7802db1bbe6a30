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
    assert revoked.exit_code == 0
    with open_store(settings) as store:
        assert KeyRing(store, cache_s=0).caller(secret) is None
    bad = runner.invoke(app, ["keys", "create", "--role", "root", "--name", "x"])
    assert bad.exit_code == 2 and "role must be one of" in bad.output


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
