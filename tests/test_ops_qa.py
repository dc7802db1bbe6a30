"""What the operator of a city's credgraph meets (docs/operations.md): a backup of a long audit
log reads its last event from the end, the audit log survives a writer stopped in the middle of
an event and a disk that fills up part way, and /readyz says when lookups cannot be registered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from credgraph.api.app import create_app
from credgraph.api.audit import AuditLog, beside, verify
from credgraph.graph.backup import AuditFiles, write_backup
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.queries.ledger import data_version

from tests.api_support import Served

KEY = b"ops-qa-audit-key"


def _events(log: AuditLog, n: int) -> None:
    for _ in range(n):
        log.append(operation="entity", outcome="ok")


def _read_bytes() -> int:
    """Bytes this process has read so far (`rchar`: every read, of files and sockets)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_a_backup_reads_the_audit_log_s_last_event_from_its_end(
    embedded: EmbeddedStore, graph: GraphStore, settings: Settings, tmp_path: Path
) -> None:
    """A log of 32 MB with a damaged middle (lines that are no events) and a last event cut
    off by a crash: the manifest names the last whole event, the log is read for its copy and
    the copy's digest only, and the copied chain is reported broken where it was broken."""
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    log_path = audit_dir / "audit.log"
    (audit_dir / "audit.key").write_bytes(KEY + b"\n")
    _events(AuditLog(log_path, KEY, fsync=False), 5)
    lines = log_path.read_bytes().splitlines(keepends=True)
    junk = (b"x" * 1023 + b"\n") * (32 * 1024)
    torn = b'{"seq":6,"at":"2026-06-30T02:10:41.5+00:00","operation":"ent'
    log_path.write_bytes(b"".join(lines[:3]) + junk + b"".join(lines[3:]) + torn)
    on = settings.model_copy(update={"database": graph.database, "audit_log": log_path})
    files = AuditFiles(on.audit_log_path, on.audit_key_path, beside)
    dest = tmp_path / "backup"
    before = _read_bytes()
    manifest = write_backup(
        embedded, on, files, dest, lambda _: data_version(graph).token(), "qa", data_format=1
    )
    read = _read_bytes() - before
    size = log_path.stat().st_size
    assert manifest["audit"] == {"last_event": 5}
    assert (dest / "audit" / "audit.log").read_bytes() == log_path.read_bytes()
    others = sum(entry["bytes"] for entry in manifest["files"].values()) - size
    assert read < 2 * size + 2 * others + (4 << 20), "the log was read more than twice"
    verdict = verify(dest / "audit" / "audit.log", KEY)
    assert (verdict.events, verdict.first_bad) == (3, 4)
    assert verdict.reason == "not a well-formed event"


def test_audit_verify_tells_an_event_cut_off_by_a_crash_and_the_next_writer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.log"
    _events(AuditLog(path, KEY, fsync=False), 3)
    with path.open("ab") as handle:  # a writer stopped in the middle of event 4
        handle.write(b'{"seq":4,"at":"2026-06-30T02:10:41.5+00:00","operation":"ent')
    verdict = verify(path, KEY)
    assert (verdict.events, verdict.first_bad) == (3, 4)
    assert verdict.reason is not None and "cut off" in verdict.reason
    # the server started again registers lookups (they all failed with AUDIT_UNAVAILABLE)
    event = AuditLog(path, KEY, fsync=False).append(operation="entity", outcome="ok")
    assert event["seq"] == 4
    assert verify(path, KEY).ok, verify(path, KEY)


_FILL_UP = """
import resource, signal, sys
from pathlib import Path
from credgraph.api.audit import AuditLog, AuditUnavailable
path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is cut short, as on a
resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 300, -1))  # full disk
log = AuditLog(path, sys.argv[2].encode(), fsync=False)
try:
    log.append(operation="screen", outcome="ok", subjects=["a" * 32] * 20)
except AuditUnavailable:
    print("refused")
else:
    print("answered")
"""


def test_a_disk_that_fills_up_part_way_refuses_the_lookup_and_leaves_the_chain_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.log"
    _events(AuditLog(path, KEY, fsync=False), 3)
    ran = subprocess.run(
        [sys.executable, "-c", _FILL_UP, str(path), KEY.decode()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.stdout.strip() == "refused", ran.stdout + ran.stderr
    assert verify(path, KEY).ok, verify(path, KEY)
    assert AuditLog(path, KEY, fsync=False).append(operation="entity", outcome="ok")["seq"] == 4
    assert verify(path, KEY).ok


@pytest.fixture
def served(graph: GraphStore, settings: Settings, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    log = tmp_path / "audit" / "audit.log"
    app = create_app(graph, settings.model_copy(update={"audit_log": log, "audit_fsync": False}))
    with Served(app) as server:
        yield server, log


def test_readyz_is_503_naming_the_audit_while_no_lookup_can_be_registered(
    served: tuple[Any, Path],
) -> None:
    server, log = served
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/readyz").json() == {"ready": True, "backend": "arcadedb"}
        log.mkdir()  # the log cannot be written, even by root (chmod would not stop root)
        try:
            refused = client.get("/readyz")
        finally:
            log.rmdir()
        assert refused.status_code == 503
        assert json.loads(refused.text)["failing"] == ["audit"]
        assert client.get("/readyz").status_code == 200
