"""`credgraph backup` and `credgraph restore` on the real embedded store (docs/operations.md).

One data directory is loaded and backed up while its store runs (as under `credgraph serve`),
then changed; the backup is restored into fresh data directories: the graph, the person key
and the audit chain come back as they stood, and a damaged backup or a data directory in the
way is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.audit import AuditLog, verify
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.schema import FORMAT_VERSION
from credgraph.graph.settings import Settings
from credgraph.graph.store import open_store
from credgraph.queries.ledger import data_version
from credgraph.queries.stats import graph_counts
from typer.testing import CliRunner, Result

from credgraph.cli import app
from credgraph.cli_common import cli_user
from tests.conftest import TEST_PERSON_KEY, make_settings
from tests.registries import FIRM_A, ZHANG, write_csv, write_tiny_registry

NEW_FIRM = make_uscc("9", "1", "350203", "MA2Y0077")


def _env(settings: Settings, **extra: str | None) -> dict[str, str | None]:
    """The environment of a CLI run on `settings`' data directory and ports, the person key
    generated into the data directory (as a city without CREDGRAPH_PERSON_KEY has it)."""
    return {
        "CREDGRAPH_DATA_DIR": str(settings.data_dir),
        "CREDGRAPH_EMBEDDED_BOLT_PORT": str(settings.embedded_bolt_port),
        "CREDGRAPH_EMBEDDED_HTTP_PORT": str(settings.embedded_http_port),
        "CREDGRAPH_EMBEDDED_HEAP": "1g",
        "CREDGRAPH_EMBEDDED_AOT_CACHE": "off",
        "CREDGRAPH_PERSON_KEY": None,
        "CREDGRAPH_NEO4J_URI": None,
        **extra,
    }


def _run(settings: Settings, *args: str, **extra: str | None) -> Result:
    return CliRunner().invoke(app, list(args), env=_env(settings, **extra))


def _stats(settings: Settings) -> dict[str, Any]:
    result = _run(settings, "stats", "--json")
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _settings(data_dir: Path) -> Settings:
    return make_settings(data_dir, person_key=None)


@dataclass(frozen=True)
class Source:
    settings: Settings
    backup: Path
    manifest: dict[str, Any]
    counts: dict[str, Any]
    audit_events: int


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A loaded data directory whose store runs, backed up, then changed after the backup."""
    root = tmp_path_factory.mktemp("backup-source")
    settings = _settings(root / "data")
    registry = write_tiny_registry(root)
    with EmbeddedStore(settings):  # the backup is taken online, as under `credgraph serve`
        assert _run(settings, "load", str(registry)).exit_code == 1  # its deliberate rejects
        audit = AuditLog(settings.audit_log_path, settings.audit_key_bytes())
        for operation in ("entity", "linkedParties", "screen"):
            audit.append(operation=operation, outcome="ok")
        counts = _stats(settings)
        result = _run(settings, "backup", str(root / "backup"))
        assert result.exit_code == 0, result.output
        manifest = json.loads((root / "backup" / "manifest.json").read_text(encoding="utf-8"))
        more = root / "more"
        more.mkdir()
        write_csv(
            more / "legal_persons.csv",
            ["uscc", "registration_number", "name", "kind", "registered_on"],
            [[NEW_FIRM, "", "厦门后来公司", "enterprise", "2020-01-01"]],
        )
        assert _run(settings, "load", str(more)).exit_code == 0
        audit.append(operation="entity", outcome="ok")
        assert _stats(settings) != counts, "the change after the backup changed nothing"
        yield Source(settings, root / "backup", manifest, counts, 3)


def _documented(table_start: str) -> set[str]:
    """The names in the first column of the docs/operations.md table after `table_start`."""
    text = (Path(__file__).parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = text[text.index(table_start) :].split("\n\n")[1].splitlines()[2:]
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_the_backup_holds_the_files_and_manifest_fields_the_docs_list(source: Source) -> None:
    files = {p.relative_to(source.backup).as_posix() for p in source.backup.rglob("*")}
    assert {f for f in files if "." in f} == _documented("It writes:")
    assert set(source.manifest) == _documented("The manifest says")
    assert set(source.manifest["files"]) == files - {"manifest.json", "audit"}


def test_a_restore_brings_back_the_graph_the_person_key_and_the_audit_chain(
    source: Source, tmp_path: Path
) -> None:
    assert source.manifest["data_version"] is not None
    assert {"database.zip", "person.key", "audit/audit.log"} <= set(source.manifest["files"])
    target = _settings(tmp_path / "data")
    result = _run(target, "restore", str(source.backup))
    assert result.exit_code == 0, result.output
    assert (target.data_dir / "person.key").read_text() == (
        source.settings.data_dir / "person.key"
    ).read_text()
    with EmbeddedStore(target):
        assert _stats(target) == source.counts
        # a resident ID: tokenised on arrival
        found = _run(target, "linked", ZHANG, "--json", "--purpose", "investigation")
        assert found.exit_code == 0, found.output
        assert FIRM_A in {item["party"]["id"] for item in json.loads(found.stdout)["items"]}
        assert _run(target, "linked", NEW_FIRM, "--json").exit_code == 1, "loaded after"
        with open_store(target) as store:
            assert data_version(store).token() == source.manifest["data_version"]
    verified = _run(target, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    events = [json.loads(line) for line in target.audit_log_path.read_text().splitlines()]
    # the backup's events, the restore's, then the two lookups above (docs/security.md, Audit)
    assert [(e["operation"], e["outcome"]) for e in events] == [
        ("entity", "ok"),
        ("linkedParties", "ok"),
        ("screen", "ok"),
        ("restore", "ok"),
        ("cli linked", "ok"),
        ("cli linked", "not_found"),
    ]
    assert events[3]["backup_data_version"] == source.manifest["data_version"]
    # who restored it, as a backup and a lookup of the command line say
    assert (events[3]["role"], events[3]["key_name"]) == ("cli", cli_user())


@pytest.mark.parametrize("name", ["database.zip", "person.key", "audit/audit.log", "manifest.json"])
def test_a_backup_with_a_byte_changed_is_refused_naming_the_file(
    source: Source, tmp_path: Path, name: str
) -> None:
    damaged = tmp_path / "backup"
    shutil.copytree(source.backup, damaged)
    content = bytearray((damaged / name).read_bytes())
    content[len(content) // 2] ^= 0x01
    (damaged / name).write_bytes(bytes(content))
    target = _settings(tmp_path / "data")
    result = _run(target, "restore", str(damaged))
    assert result.exit_code == 2, result.output
    assert f"{damaged / name}" in result.output.replace("\n", "")
    assert not (target.data_dir / "arcadedb").exists()
    assert not (target.data_dir / "person.key").exists()


def test_a_restore_over_a_store_is_refused_unless_forced_and_keeps_the_live_audit_log(
    source: Source, tmp_path: Path
) -> None:
    target = _settings(tmp_path / "data")
    old_store = target.data_dir / "arcadedb" / "databases" / "credgraph"
    old_store.mkdir(parents=True)
    (old_store / "keep-me").write_text("the store that was here")
    refused = _run(target, "restore", str(source.backup))
    assert refused.exit_code == 2, refused.output
    assert str(target.data_dir / "arcadedb") in refused.output.replace("\n", "")
    # the audit chain of this host went on after the backup was taken: it is never rewound
    audit_dir = target.audit_log_path.parent
    audit_dir.mkdir(parents=True)
    shutil.copy(source.settings.audit_key_path, target.audit_key_path)
    live = AuditLog(target.audit_log_path, target.audit_key_bytes())
    for operation in ("entity", "entity", "entity", "screen", "paths"):
        live.append(operation=operation, outcome="ok")
    forced = _run(target, "restore", "--force", str(source.backup))
    assert forced.exit_code == 0, forced.output
    kept = list(target.data_dir.glob("arcadedb.replaced-*"))
    assert [p.name for p in (kept[0] / "databases" / "credgraph").iterdir()] == ["keep-me"]
    events = [json.loads(line) for line in target.audit_log_path.read_text().splitlines()]
    assert [e["operation"] for e in events][-2:] == ["paths", "restore"]
    assert verify(target.audit_log_path, target.audit_key_bytes()).ok


def test_a_restore_is_refused_while_a_store_runs_on_the_data_directory(source: Source) -> None:
    result = _run(source.settings, "restore", "--force", str(source.backup))
    assert result.exit_code == 2, result.output
    assert "is running on" in result.output and str(source.settings.data_dir) in result.output


def test_a_person_key_or_audit_key_other_than_the_backup_s_is_refused(
    source: Source, tmp_path: Path
) -> None:
    target = _settings(tmp_path / "data")
    result = _run(target, "restore", str(source.backup), CREDGRAPH_PERSON_KEY=TEST_PERSON_KEY)
    assert result.exit_code == 2, result.output
    assert "CREDGRAPH_PERSON_KEY" in result.output
    result = _run(target, "restore", str(source.backup), CREDGRAPH_DATABASE="other")
    assert result.exit_code == 2, result.output
    assert "CREDGRAPH_DATABASE" in result.output
    target.audit_key_path.parent.mkdir(parents=True)
    target.audit_key_path.write_text("another audit key, sealing another chain\n")
    result = _run(target, "restore", str(source.backup))
    assert result.exit_code == 2, result.output
    assert str(target.audit_key_path) in result.output.replace("\n", "")
    assert not (target.data_dir / "arcadedb").exists()


@pytest.mark.parametrize("verb", ["backup", "restore"])
def test_with_neo4j_configured_both_verbs_point_to_neo4j_admin(
    source: Source, tmp_path: Path, verb: str
) -> None:
    result = _run(
        _settings(tmp_path / "data"),
        verb,
        str(tmp_path / "b" if verb == "backup" else source.backup),
        CREDGRAPH_NEO4J_URI="bolt://127.0.0.1:1",
    )
    assert result.exit_code == 2, result.output
    told = " ".join(result.output.split())
    said = {"backup": "back up", "restore": "restore"}[verb]
    assert told.startswith(
        f"cannot {said}: CREDGRAPH_NEO4J_URI is set: credgraph backs up only its embedded store."
    ), told
    assert "`neo4j-admin database dump`" in told and "`neo4j-admin database backup`" in told
    assert not (tmp_path / "b").exists() and not (tmp_path / "data").exists()  # nothing made


def test_a_backup_taken_during_a_load_holds_a_graph_whose_ledger_matches_its_version(
    tmp_path: Path,
) -> None:
    registry = tmp_path / "registry"
    made = CliRunner().invoke(app, ["generate", "--out", str(registry), "--enterprises", "300"])
    assert made.exit_code == 0, made.output
    settings = _settings(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGRAPH_")}
    env.update({k: v for k, v in _env(settings).items() if v is not None})
    env["CREDGRAPH_WRITE_BATCH_SIZE"] = "25"  # many small chunks: commits all through the backup
    with EmbeddedStore(settings), open_store(settings) as store:
        load = subprocess.Popen(
            [sys.executable, "-m", "credgraph", "load", str(registry)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while data_version(store).chunks < 3 and load.poll() is None:
                time.sleep(0.1)
            result = _run(settings, "backup", str(tmp_path / "backup"))
            during = load.poll() is None
        finally:
            load.wait(timeout=600)
    assert result.exit_code == 0, result.output
    assert during, "the load ended before the backup did: make the registry larger"
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    target = _settings(tmp_path / "restored")
    restored = _run(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    with open_store(target) as copy:
        version = data_version(copy)
        ledger = graph_counts(copy)["ledger"]
    # the head is counted in each chunk's own transaction: a snapshot holds both or neither
    assert ledger["chunks"] == version.chunks > 0
    assert manifest["data_version"] == version.token()
    assert len(manifest["data_versions_seen"]) == 2, "no chunk committed during the backup"


def test_a_backup_is_registered_and_a_log_rotated_before_it_is_not_called_broken(
    tmp_path: Path,
) -> None:
    """docs/operations.md: each backup appends an event (who, when, where to); a live log that
    starts after a rotation (docs/security.md) is checked from its first event and said to
    start there, while a chain really broken is still warned about."""
    settings = _settings(tmp_path / "data")
    with EmbeddedStore(settings):
        audit = AuditLog(settings.audit_log_path, settings.audit_key_bytes())
        for _ in range(4):
            audit.append(operation="entity", outcome="ok")
        rotated = settings.audit_log_path.with_name("audit.log.rot1")
        settings.audit_log_path.rename(rotated)  # as logrotate does, under a running server
        for _ in range(2):
            audit.append(operation="screen", outcome="ok")
        result = _run(settings, "backup", str(tmp_path / "b1"))
        assert result.exit_code == 0, result.output
        said = " ".join(result.output.split())
        assert "broken" not in said, said
        assert "the audit log copied starts at event 5, after a rotation" in said
        manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text(encoding="utf-8"))
        last = json.loads(settings.audit_log_path.read_text(encoding="utf-8").splitlines()[-1])
        assert {k: last[k] for k in ("operation", "outcome", "source", "role", "backup")} == {
            "operation": "backup",
            "outcome": "ok",
            "source": "cli",
            "role": "cli",
            "backup": str((tmp_path / "b1").resolve()),
        }
        assert last["key_name"].startswith("cli:") and last["at"]
        assert last["backup_digest"] == manifest["digest"]
        assert last["backup_audit_events"] == manifest["audit"]["last_event"] == 6
        assert verify(settings.audit_log_path, settings.audit_key_bytes(), [rotated]).ok

        lines = settings.audit_log_path.read_text(encoding="utf-8").splitlines(keepends=True)
        settings.audit_log_path.write_text("".join([lines[0], *lines]), encoding="utf-8")
        broken = _run(settings, "backup", str(tmp_path / "b2"))
        assert broken.exit_code == 0, broken.output
        said = " ".join(broken.output.split())
        assert "the audit log copied is broken at event 6: it repeats sequence number 5" in said


def test_a_backup_of_an_older_format_restores_says_to_migrate_and_the_audit_records_both(
    tmp_path: Path,
) -> None:
    """The manifest names the data format; a restored store of an older one is announced as
    such, and `migrate` then leaves an event in the audit chain after the restore's."""
    settings = _settings(tmp_path / "old")
    registry = write_tiny_registry(tmp_path)
    with EmbeddedStore(settings):
        assert _run(settings, "load", str(registry)).exit_code == 1  # its deliberate rejects
        with open_store(settings) as store:  # a store from before formats were versioned
            store.write("MATCH (f:StoreFormat) DELETE f", operation="test")
        backed_up = _run(settings, "backup", str(tmp_path / "backup"))
        assert backed_up.exit_code == 0, backed_up.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_format"] == 0

    target = _settings(tmp_path / "data")
    restored = _run(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "holds data format 0, older than this credgraph's" in restored.output
    assert "credgraph migrate" in restored.output
    migrated = _run(target, "migrate")
    assert migrated.exit_code == 0, migrated.output
    assert "the audit log's next event records the migration" in migrated.output
    assert _run(target, "stats").exit_code == 0

    verified = _run(target, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    events = [json.loads(line) for line in target.audit_log_path.read_text().splitlines()]
    assert [e["operation"] for e in events][-2:] == ["restore", "migrate"]
    assert {k: events[-1][k] for k in ("from_format", "to_format", "migrations", "source")} == {
        "from_format": 0,
        "to_format": FORMAT_VERSION,
        "migrations": list(range(1, FORMAT_VERSION + 1)),
        "source": "cli",
    }
