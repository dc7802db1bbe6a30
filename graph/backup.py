"""Backups of the embedded store's data directory, and restoring them (docs/operations.md).

A backup is one folder, readable by its owner alone:

    manifest.json       what the backup holds: its format, the credgraph and ArcadeDB versions,
                        when it was taken, the database and its data version (the ledger's
                        head, queries/ledger.py), the person key's fingerprint, the audit
                        chain's last event, and the SHA-256 of every other file
    database.zip        ArcadeDB's own backup of the database (`BACKUP DATABASE`)
    person.key          the key of person tokens, when it lives in the data directory
    audit/              the audit key, and the audit log and its head as they stood

It is taken while the store serves and loads: ArcadeDB backs up a snapshot of what was
committed when the backup began, and the audit files are copied under the lock their writers
take, so the copy ends at a whole event. The data version is read before and after the
database's backup; when a load or record change committed in between, the archive may hold
any version between the two, and the version it holds is read from a scratch database the
server restores from it (then drops).

Restoring checks every digest first, then that nothing would be lost or mixed: no store runs
on the data directory and none is there (unless forced: the old one is moved aside, never
deleted), the person key configured or found there is the backup's (tokens made under another
key never match), and an audit chain found there is sealed by the backup's audit key. Only then
does it write. A live audit log is never overwritten: its events are newer than the backup's,
and replacing them by the backup's would look exactly like cutting them off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.files import last_line, sha256_file
from credgraph.graph.locks import exclusive
from credgraph.graph.settings import AUDIT_KEY_NAME, AUDIT_LOG_NAME, Settings

FORMAT = "credgraph-backup/1"
MANIFEST = "manifest.json"
DATABASE = "database.zip"
PERSON_KEY = "person.key"
# the audit files in a backup: named as in a data directory of the default settings, so that
# `credgraph audit verify` checks the copy in place (CREDGRAPH_AUDIT_LOG=DEST/audit/audit.log)
AUDIT_KEY = f"audit/{AUDIT_KEY_NAME}"
AUDIT_LOG = f"audit/{AUDIT_LOG_NAME}"
_CHUNK = 1 << 20


class BackupError(ValueError):
    """A backup that cannot be made or restored. `argument` is what to fix (SRC, DEST, a
    setting), the message names the path and why."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(reason)
        self.argument = argument


@dataclass(frozen=True)
class AuditFiles:
    """The audit log's files. The log and its key are settings; the files the audit keeps
    beside a log (its head, the lock its writers take turns on) are a detail of api/audit.py,
    which graph/ does not import: the caller passes how it names them (`beside`: a log's path
    to its head's and its lock's)."""

    log: Path
    key: Path
    beside: Callable[[Path], tuple[Path, Path]]

    @property
    def head(self) -> Path:
        return self.beside(self.log)[0]

    @property
    def lock(self) -> Path:
        return self.beside(self.log)[1]

    @property
    def live(self) -> bool:
        """Whether a chain is here: events written, or a head that says there were."""
        return self.log.exists() or self.head.exists()

    def in_backup(self, folder: Path) -> AuditFiles:
        """The same files in the backup `folder`."""
        return AuditFiles(folder / AUDIT_LOG, folder / AUDIT_KEY, self.beside)


@dataclass(frozen=True)
class Restored:
    """What a restore did beside the database: where an old store went, and whether the
    backup's audit log was put in place (`restored`), a live one kept (`kept`) or neither
    existed (`none`)."""

    moved_aside: Path | None
    audit: str


def key_fingerprint(key: bytes) -> str:
    """Which key made the tokens, without giving the key away."""
    return hmac.new(key, b"credgraph-backup|key-fingerprint", hashlib.sha256).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    return sha256_file(path).hexdigest()


def _seal(manifest: dict[str, Any]) -> str:
    """The manifest's digest of itself: a byte changed in it is found like one in a file."""
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _copy_private(source: Path, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
        shutil.copyfileobj(handle, out, _CHUNK)


# backing up
def check_destination(dest: Path) -> None:
    """A backup goes into a new folder (or an empty one): never over another backup."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError("DEST", f"{dest} exists and is not an empty folder; name a new one")
    if not dest.parent.is_dir():
        raise BackupError("DEST", f"{dest.parent} is not a folder")


def write_backup(
    store: EmbeddedStore,
    settings: Settings,
    audit: AuditFiles,
    dest: Path,
    read_version: Callable[[str], str],
    credgraph_version: str,
    *,
    data_format: int,
) -> dict[str, Any]:
    """Back up the store `store` serves, its person key and the `audit` files into the new folder
    `dest`; returns the manifest. `read_version` reads the data version of a database of the
    store. Nothing is left at `dest` when it fails."""
    check_destination(dest)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        name = settings.database_name or "credgraph"
        version, seen = _backup_database(store, name, staging / DATABASE, read_version)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "credgraph_version": credgraph_version,
            "arcadedb_version": metadata.version("arcadedb-embedded"),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": name,
            "data_version": version,
            "data_versions_seen": seen,
            "data_format": data_format,
            "person_key": _copy_person_key(settings, staging),
            "audit": _copy_audit(audit, staging),
        }
        manifest["files"] = {
            path.relative_to(staging).as_posix(): {
                "sha256": sha256_of(path),
                "bytes": path.stat().st_size,
            }
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        manifest["digest"] = _seal(manifest)
        fd = os.open(staging / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=2) + "\n")
        if dest.exists():  # an empty folder, checked above
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _backup_database(
    store: EmbeddedStore, name: str, target: Path, read_version: Callable[[str], str]
) -> tuple[str, list[str]]:
    """The database's archive moved to `target`, the data version it holds, and the versions
    read before and after the backup."""
    before = read_version(name)
    archive = store.backup_database(name)
    try:
        after = read_version(name)
        held = before if before == after else _version_in(store, name, archive, read_version)
        shutil.move(archive, target)
        target.chmod(0o600)
    finally:
        archive.unlink(missing_ok=True)
    return held, list(dict.fromkeys((before, after)))


def _version_in(
    store: EmbeddedStore, name: str, archive: Path, read_version: Callable[[str], str]
) -> str:
    """The data version an archive holds, read from a scratch database restored from it (and
    dropped): when a load or record change committed during the backup, the snapshot may hold
    any version between the two reads."""
    scratch = f"{name}_backup_check_{secrets.token_hex(4)}"
    store.restore_backup_as(name, archive, scratch)
    try:
        return read_version(scratch)
    finally:
        store.drop_database(scratch)


def _copy_person_key(settings: Settings, staging: Path) -> dict[str, str] | None:
    """The person key's fingerprint, and the key itself when it lives in the data directory.
    A key set in CREDGRAPH_PERSON_KEY stays where it is kept: the backup does not hold it."""
    if settings.person_key is not None:
        return {"source": "setting", "fingerprint": key_fingerprint(settings.person_key_bytes())}
    path = settings.data_dir / PERSON_KEY
    if not path.is_file():  # no person token was ever made here
        return None
    _copy_private(path, staging / PERSON_KEY)
    key = path.read_text(encoding="utf-8").strip().encode()
    return {"source": "file", "fingerprint": key_fingerprint(key)}


def _copy_audit(files: AuditFiles, staging: Path) -> dict[str, int] | None:
    """The audit key, and the log and its head copied under the writers' lock (a copy ends
    at a whole event, the head with it); the last event's number. None: no audit key yet."""
    if not files.key.is_file():
        return None
    copy = files.in_backup(staging)
    _copy_private(files.key, copy.key)
    with exclusive(files.lock):
        for source, target in ((files.log, copy.log), (files.head, copy.head)):
            if source.is_file():
                _copy_private(source, target)
    return {"last_event": _last_seq(copy.log)}


def _last_seq(log: Path) -> int:
    """The number of the log's last event, read from its end: a city's log grows by millions
    of events a year. 0 when there is none, or the last line is no event (`credgraph backup`
    then says the copied chain is broken)."""
    last = last_line(log)
    try:
        return int(json.loads(last)["seq"]) if last else 0
    except (ValueError, KeyError, TypeError):
        return 0


# restoring
def read_backup(src: Path) -> dict[str, Any]:
    """The manifest of the backup in `src`, once it and every file it lists check out;
    BackupError naming the first file that is missing or differs."""
    path = src / MANIFEST
    if not src.is_dir():
        raise BackupError("SRC", f"{src} is not a folder made by credgraph backup")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError("SRC", f"{path} is missing: not a credgraph backup") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError("SRC", f"{path} is damaged (not JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("SRC", f"{path} is not a manifest of format {FORMAT}")
    if manifest.get("digest") != _seal(manifest):
        raise BackupError("SRC", f"{path} was changed or is damaged: its digest does not match")
    files = manifest.get("files")
    if not isinstance(files, dict) or DATABASE not in files:
        raise BackupError("SRC", f"{path} lists no {DATABASE}")
    for name, entry in files.items():
        _check_file(src, str(name), entry)
    return manifest


def _check_file(src: Path, name: str, entry: Any) -> None:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise BackupError("SRC", f"{src / MANIFEST} names a file outside the backup: {name}")
    path = src / relative
    if not path.is_file():
        raise BackupError("SRC", f"{path} is missing: the backup is incomplete")
    expected = str(entry.get("sha256")) if isinstance(entry, dict) else ""
    actual = sha256_of(path)
    if not hmac.compare_digest(actual, expected):
        raise BackupError(
            "SRC",
            f"{path} does not match the manifest (SHA-256 {actual[:16]}…, the manifest says "
            f"{expected[:16]}…): the backup is damaged",
        )


def restore_backup(
    store: EmbeddedStore,
    settings: Settings,
    files: AuditFiles,
    src: Path,
    manifest: dict[str, Any],
    force: bool,
) -> Restored:
    """Put the checked backup in `src` in place under the data directory of `store` (not
    started), its audit log as the audit `files`. Everything is checked before anything is
    written; BackupError says what stands in the way."""
    with store.exclusive():  # no credgraph process starts a store here meanwhile
        pid = store.running_pid()
        if pid is not None:
            raise BackupError(
                "CREDGRAPH_DATA_DIR",
                f"a store (process {pid}) is running on {settings.data_dir}; stop what uses it "
                "(credgraph serve, a load) before restoring",
            )
        if store.server_dir.exists() and not force:
            raise BackupError(
                "CREDGRAPH_DATA_DIR",
                f"{store.server_dir} holds a store already; restore into a data directory "
                "without one, or give --force to move it aside",
            )
        if manifest.get("database") != (settings.database_name or "credgraph"):
            raise BackupError(
                "CREDGRAPH_DATABASE",
                f"the backup holds the database {manifest.get('database')!r}, the settings "
                f"name {settings.database_name!r}: the store would not open the one restored",
            )
        _check_person_key(settings, manifest)
        audit = _check_audit(files, src, manifest)
        moved = _move_aside(store.server_dir) if store.server_dir.exists() else None
        store.restore_database(src / DATABASE, str(manifest["database"]))
        _restore_person_key(settings, src, manifest)
        _restore_audit(files, src, manifest, audit)
    return Restored(moved, audit)


def _check_person_key(settings: Settings, manifest: dict[str, Any]) -> None:
    entry = manifest.get("person_key")
    if not isinstance(entry, dict):  # the backed-up store had made no person token
        return
    expected, source = str(entry.get("fingerprint")), entry.get("source")
    if settings.person_key is not None:
        if key_fingerprint(settings.person_key_bytes()) != expected:
            unset = ", or unset it to use the backup's person.key" if source == "file" else ""
            raise BackupError(
                "CREDGRAPH_PERSON_KEY",
                f"is not the key the backup's person tokens were made with (fingerprint "
                f"{expected}): no resident ID would match them; set it to that key{unset}",
            )
        return
    if source == "setting":
        raise BackupError(
            "CREDGRAPH_PERSON_KEY",
            f"the backup's person tokens were made with CREDGRAPH_PERSON_KEY (fingerprint "
            f"{expected}), which a backup does not hold: set it to that key to restore",
        )
    present = settings.data_dir / PERSON_KEY
    if present.is_file():
        found = key_fingerprint(present.read_text(encoding="utf-8").strip().encode())
        if found != expected:
            raise BackupError(
                "CREDGRAPH_DATA_DIR",
                f"{present} is another person key than the backup's; move it aside to restore",
            )


def _check_audit(files: AuditFiles, src: Path, manifest: dict[str, Any]) -> str:
    """What to do with the audit log: `restored` (none here: the backup's is put in place),
    `kept` (a live chain here goes on), `none` (neither has one)."""
    listed = _listed(manifest, src, files)
    backup_key = files.in_backup(src).key if "key" in listed else None
    if files.live and not files.key.is_file():
        raise BackupError(
            "CREDGRAPH_AUDIT_LOG",
            f"{files.log} is here without its key {files.key}: put the key back, or move the "
            "log and its head aside",
        )
    if (
        backup_key is not None
        and files.key.is_file()
        and files.key.read_bytes().strip() != backup_key.read_bytes().strip()
    ):
        raise BackupError(
            "CREDGRAPH_AUDIT_LOG",
            f"{files.key} is not the backup's audit key: the chain here was sealed by "
            "another; move the log, its head and its key aside (keep them), or restore "
            "into another data directory",
        )
    if files.live:
        return "kept"
    return "restored" if listed & {"log", "head"} else "none"


def _move_aside(server_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = server_dir.with_name(f"{server_dir.name}.replaced-{stamp}")
    server_dir.rename(target)
    return target


def _restore_person_key(settings: Settings, src: Path, manifest: dict[str, Any]) -> None:
    target = settings.data_dir / PERSON_KEY
    if PERSON_KEY in manifest.get("files", {}) and not target.exists():
        _copy_private(src / PERSON_KEY, target)


def _listed(manifest: dict[str, Any], src: Path, files: AuditFiles) -> set[str]:
    """Which of the audit files (`key`, `log`, `head`) the backup in `src` holds."""
    listed = manifest.get("files", {})
    copy = files.in_backup(src)
    named = {"key": copy.key, "log": copy.log, "head": copy.head}
    return {what for what, path in named.items() if path.relative_to(src).as_posix() in listed}


def _restore_audit(files: AuditFiles, src: Path, manifest: dict[str, Any], audit: str) -> None:
    listed = _listed(manifest, src, files)
    copy = files.in_backup(src)
    if "key" in listed and not files.key.exists():
        _copy_private(copy.key, files.key)
    if audit != "restored":
        return
    for what, source, target in (("log", copy.log, files.log), ("head", copy.head, files.head)):
        if what in listed:
            _copy_private(source, target)
