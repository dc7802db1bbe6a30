"""`credgraph backup DEST` and `credgraph restore SRC`: the embedded store's data directory
(the database, the person key, the audit key and log) into one folder and back
(docs/operations.md; graph/backup.py does the files).

`backup` runs while `serve` or a load runs, and records itself as an event of the audit
chain once the copy is complete (no backup is kept without it). `restore` checks the
backup's digests and that nothing would be lost (exit 2 naming the file or setting in the way)
before it writes, records the restore as an event of the audit chain, then starts the
restored store and checks that it holds the backup's data version (exit 1 if not, 3 if it does
not start). With `CREDGRAPH_NEO4J_URI` set both refuse (exit 2): Neo4j is backed up with
neo4j-admin.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from credgraph import __version__
from credgraph.cli_common import (
    cli_audit_log,
    cli_settings,
    cli_user,
    console,
    fail,
    given_path,
    open_cli_store,
)
from credgraph.graph.backup import (
    AUDIT_KEY,
    AUDIT_LOG,
    DATABASE,
    AuditFiles,
    BackupError,
    Restored,
    check_destination,
    read_backup,
    restore_backup,
    write_backup,
)
from credgraph.graph.embedded import EmbeddedStore, EmbeddedStoreError
from credgraph.graph.migrations import format_problem
from credgraph.graph.schema import store_format
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError, open_store

NEO4J_BACKUP = (
    "CREDGRAPH_NEO4J_URI is set: credgraph backs up only its embedded store. Back up Neo4j "
    "with its own tools: `neo4j-admin database dump` (Community, the database stopped) or "
    "`neo4j-admin database backup` (Enterprise, online); keep CREDGRAPH_PERSON_KEY with it "
    "(docs/operations.md)"
)


def _embedded_settings(verb: str) -> Settings:
    settings = cli_settings()
    if not settings.embedded:
        console.print(f"[red]cannot {verb}:[/red] {escape(NEO4J_BACKUP)}")
        raise typer.Exit(2)
    return settings


def audit_files(settings: Settings) -> AuditFiles:
    """The audit log's files, those kept beside it named as api/audit.py names them."""
    from credgraph.api.audit import beside

    return AuditFiles(settings.audit_log_path, settings.audit_key_path, beside)


def _refused(exc: BackupError) -> typer.Exit:
    return fail(exc.argument, str(exc))


def backup_command(
    dest: Annotated[
        Path,
        typer.Argument(
            metavar="DEST", help="a new folder to write the backup into", parser=given_path
        ),
    ],
) -> None:
    """Back up the embedded store while it runs: the database, the person key, the audit key
    and log, and a manifest with their digests (docs/operations.md)."""
    from credgraph.queries.ledger import data_version

    settings = _embedded_settings("back up")
    if not settings.has_store():
        console.print(f"nothing to back up: no store under {escape(str(settings.data_dir))}")
        raise typer.Exit(1)
    try:
        check_destination(dest)  # before a store starts
    except BackupError as exc:
        raise _refused(exc) from None
    # a store of an older data format is backed up too: that is what to do before migrating
    with open_cli_store(settings, any_format=True) as store:
        assert store.embedded is not None  # embedded settings, opened by open_store

        def read_version(database: str) -> str:
            # on the same connection: the database, or a scratch copy of the backup's
            on = GraphStore(store.driver, database, store.timeout_s, backend=store.backend)
            return data_version(on).token()

        try:
            manifest = write_backup(
                store.embedded,
                settings,
                audit_files(settings),
                dest,
                read_version,
                __version__,
                data_format=store_format(store),
            )
        except BackupError as exc:
            raise _refused(exc) from None
        except (EmbeddedStoreError, StoreError) as exc:
            console.print(f"[red]the backup failed; nothing was kept:[/red] {escape(str(exc))}")
            raise typer.Exit(3) from None
    _record_backup(settings, dest, manifest)
    _check_copied_chain(dest, manifest)
    size = manifest["files"][DATABASE]["bytes"]
    console.print(
        f"backed up {escape(str(settings.data_dir))} into {escape(str(dest))}: data version "
        f"{escape(manifest['data_version'])}, database {size:,} bytes, "
        f"{(manifest['audit'] or {}).get('last_event', 0):,} audit events"
    )


def _record_backup(settings: Settings, dest: Path, manifest: dict[str, Any]) -> None:
    """One event in the audit chain after the copy: a backup holds every person's data, so who
    took it, when and where to is registered, as a lookup is. No backup is kept without its
    event: when it cannot be written the new folder is removed (exit 3)."""
    from credgraph.api.audit import AuditUnavailable

    try:
        cli_audit_log(settings).append(
            operation="backup",
            outcome="ok",
            source="cli",
            key_name=cli_user(),
            role="cli",
            backup=str(dest.resolve()),
            backup_data_version=manifest.get("data_version"),
            backup_digest=manifest.get("digest"),
            backup_audit_events=(manifest.get("audit") or {}).get("last_event", 0),
        )
    except (AuditUnavailable, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        console.print(
            f"[red]the backup could not be registered in the audit log, so it is not "
            f"kept:[/red] {escape(str(exc))}"
        )
        raise typer.Exit(3) from None


def _check_copied_chain(dest: Path, manifest: dict[str, Any]) -> None:
    """Warn when the audit chain copied is already broken: the backup keeps it as evidence,
    and `audit verify` after a restore will say so. A log that starts after a rotation (its
    older events are in the files it was moved into, which a backup does not hold) is checked
    from its first event on, and said to start there: that is no break."""
    from credgraph.api.audit import verify

    if AUDIT_LOG not in manifest["files"]:
        return
    key = (dest / AUDIT_KEY).read_text(encoding="utf-8").strip().encode()
    verdict = verify(dest / AUDIT_LOG, key, continued=True)
    if not verdict.ok:
        console.print(
            f"[yellow]the audit log copied is broken at event {verdict.first_bad}:[/yellow] "
            f"{escape(verdict.reason or '')} (credgraph audit verify)"
        )
    elif verdict.first > 1:
        console.print(
            f"the audit log copied starts at event {verdict.first:,}, after a rotation: events "
            f"{verdict.first:,} to {verdict.events:,} check out; the events before should be in "
            "the files it was rotated into, which a backup does not hold (credgraph audit "
            "verify ROTATED... with them tells whether they are, or were removed)"
        )


def restore_command(
    src: Annotated[
        Path,
        typer.Argument(
            metavar="SRC", help="a folder written by credgraph backup", parser=given_path
        ),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="move a store already in the data directory aside (never deleted)"
        ),
    ] = False,
) -> None:
    """Restore a backup into the data directory, which must hold no store (else --force) and
    have none running; the digests are checked first (docs/operations.md)."""
    settings = _embedded_settings("restore")
    try:
        manifest = read_backup(src)
        store = EmbeddedStore(settings)
        restored = restore_backup(store, settings, audit_files(settings), src, manifest, force)
    except BackupError as exc:
        raise _refused(exc) from None
    except EmbeddedStoreError as exc:
        console.print(f"[red]cannot restore:[/red] {escape(str(exc))}")
        raise typer.Exit(3) from None
    _record_restore(settings, src, manifest, restored)
    if restored.moved_aside is not None:
        console.print(f"the store that was there is kept in {escape(str(restored.moved_aside))}")
    _check_restored(settings, manifest)


def _record_restore(
    settings: Settings, src: Path, manifest: dict[str, Any], restored: Restored
) -> None:
    """One event in the audit chain: from then on the chain says the graph went back."""
    cli_audit_log(settings).append(
        operation="restore",
        outcome="ok",
        source="cli",
        key_name=cli_user(),
        role="cli",
        backup=str(src.resolve()),
        backup_created_at=manifest.get("created_at"),
        backup_data_version=manifest.get("data_version"),
        backup_digest=manifest.get("digest"),
        backup_audit_events=(manifest.get("audit") or {}).get("last_event", 0),
        audit_log=restored.audit,
    )
    said = {
        "restored": "the backup's audit log was put in place",
        "kept": "the audit log found here was kept (its events are newer than the backup's)",
        "none": "neither the data directory nor the backup had an audit log: a new one begins",
    }[restored.audit]
    console.print(f"{said}; its next event records the restore")


def _check_restored(settings: Settings, manifest: dict[str, Any]) -> None:
    """Start the restored store and compare its data version with the manifest's."""
    from credgraph.queries.ledger import data_version

    try:
        with open_store(settings) as store:
            found = data_version(store).token()
            restored_format = store_format(store)
    except (EmbeddedStoreError, StoreError) as exc:
        console.print(f"[red]the restored store does not start:[/red] {escape(str(exc))}")
        raise typer.Exit(3) from None
    expected = manifest.get("data_version")
    if expected is not None and found != expected:
        console.print(
            f"[red]the restored store holds data version {escape(found)}, the manifest says "
            f"{escape(str(expected))}[/red]"
        )
        raise typer.Exit(1)
    said = "as its manifest says" if expected else "(loads committed during the backup)"
    console.print(
        f"restored the backup of {escape(str(manifest.get('created_at')))} into "
        f"{escape(str(settings.data_dir))}: data version {escape(found)} {said}"
    )
    problem = format_problem(restored_format)
    if problem is not None:  # an older backup is restored, then migrated: say so now
        console.print(f"[yellow]{escape(problem)}[/yellow]")
