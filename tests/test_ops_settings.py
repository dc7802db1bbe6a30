"""Settings as an operator meets them: through the real `credgraph` command, with `CREDGRAPH_*`
variables and a `.env` file, never a traceback (docs/settings.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from credgraph.graph.settings import load_settings
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in list(os.environ):
        if name.startswith("CREDGRAPH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    (tmp_path / "a-file").write_text("not a folder\n")
    return CliRunner()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("API_PORT", "abc", "CREDGRAPH_API_PORT='abc': should be a whole number"),
        ("API_PORT", "-5", "CREDGRAPH_API_PORT='-5': should be greater than or equal to 1"),
        ("MAX_PAGE_SIZE", "-1", "CREDGRAPH_MAX_PAGE_SIZE='-1': should be greater than"),
        ("ENVIRONMENT", "prod", "CREDGRAPH_ENVIRONMENT='prod': should be 'development' or"),
        ("EMBEDDED_HEAP", "2gb", "CREDGRAPH_EMBEDDED_HEAP='2gb': should be a whole number and m"),
        ("API_PUBLIC_ACCESS", "maybe", "CREDGRAPH_API_PUBLIC_ACCESS='maybe': should be true or"),
        ("NEO4J_URI", "http://db:7474", "CREDGRAPH_NEO4J_URI='http://db:7474': must start with"),
        ("DATA_DIR", "{tmp}/a-file", "CREDGRAPH_DATA_DIR='{tmp}/a-file': {tmp}/a-file is a file"),
        ("DATA_DIR", "{tmp}/a-file/data", "{tmp}/a-file/data': {tmp}/a-file is a file, not a"),
        ("AUDIT_LOG", "{tmp}", "CREDGRAPH_AUDIT_LOG='{tmp}': {tmp} is a folder; name the log"),
        ("PERSON_KEY", "not-long-enough", "CREDGRAPH_PERSON_KEY: must be at least 32 characters"),
    ],
)
def test_a_refused_value_is_named_by_its_variable(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    said: str,
) -> None:
    monkeypatch.setenv(f"CREDGRAPH_{variable}", value.format(tmp=tmp_path))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2, result.output
    assert said.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output and "pydantic" not in result.output
    assert "not-long-enough" not in result.output  # a secret's value is never shown


def test_production_refuses_to_run_without_its_secrets(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGRAPH_ENVIRONMENT", "production")
    monkeypatch.delenv("CREDGRAPH_PERSON_KEY")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2
    assert "CREDGRAPH_PERSON_KEY is required in production" in result.output
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_NEO4J_URI", "bolt://db:7687")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2
    assert "CREDGRAPH_NEO4J_PASSWORD is required in production" in result.output
    monkeypatch.setenv("CREDGRAPH_NEO4J_PASSWORD", "")  # as `PASSWORD=` in a .env file
    assert "CREDGRAPH_NEO4J_PASSWORD is required" in runner.invoke(app, ["audit", "verify"]).output
    monkeypatch.setenv("CREDGRAPH_NEO4J_PASSWORD", "a-real-password-for-the-store")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_a_variable_that_is_no_setting_is_named_with_the_nearest_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CREDGRAPH_DATADIR=/srv/credgraph\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGRAPH_")}
    env.update(
        CREDGRAPH_DATA_DIR=str(tmp_path / "data"),
        CREDGRAPH_API_PROT="9000",
        CREDGRAPH_NOTHING_LIKE_IT="1",
        CREDGRAPH_BROWSER_TESTS="1",  # the test suite's own switch
    )
    result = subprocess.run(
        [sys.executable, "-m", "credgraph", "audit", "verify"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "is not a setting" in line]
    assert warned == [
        "credgraph: CREDGRAPH_API_PROT is not a setting and is ignored; "
        "did you mean CREDGRAPH_API_PORT?",
        "credgraph: CREDGRAPH_DATADIR is not a setting and is ignored; "
        "did you mean CREDGRAPH_DATA_DIR?",
        "credgraph: CREDGRAPH_NOTHING_LIKE_IT is not a setting and is ignored (docs/settings.md)",
    ]


def test_paths_may_start_with_the_home_folder(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", "~/data")
    monkeypatch.setenv("CREDGRAPH_RISK_PROFILES_FILE", "~/profiles.yaml")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.risk_profiles_file == tmp_path / "profiles.yaml"
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "~").exists()  # no folder named `~` in the working directory
