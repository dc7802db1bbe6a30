"""`credgraph keys create / list / revoke`: the key is printed once, only its digest stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from credgraph.api.keys import KeyRing, digest
from credgraph.graph.settings import load_settings
from credgraph.graph.store import open_store
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
