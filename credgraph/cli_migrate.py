"""`credgraph migrate`: bring the store up to the data format this code writes
(graph/migrations.py, docs/operations.md)."""

from __future__ import annotations

import typer
from rich.markup import escape

from credgraph.cli_common import (
    STORE_PROBLEM,
    cli_audit_log,
    cli_settings,
    cli_user,
    console,
    open_cli_store,
)
from credgraph.graph.migrations import Applied, MigrationError, StoreFormatError, migrate
from credgraph.graph.schema import FORMAT_VERSION, store_format
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError


def migrate_command() -> None:
    """Apply the pending data-format migrations to the store; says what each changed.

    Back it up first (credgraph backup DEST), and stop `credgraph serve` and any load on it.
    An embedded store another process runs is refused, exit 3 (docs/operations.md)."""
    settings = cli_settings()
    with open_cli_store(settings, migrating=True) as store:
        try:
            _refuse_a_shared_store(store)
            found, applied = migrate(store, settings.person_key_bytes())
        except (StoreFormatError, MigrationError, StoreError) as exc:
            console.print(f"[red]cannot migrate the graph store:[/red] {escape(str(exc))}")
            raise typer.Exit(STORE_PROBLEM) from None
    if not applied:
        console.print(f"the graph store is at data format {found}: nothing to migrate")
        return
    for done in applied:
        console.print(f"migration {done.migration.number}: {escape(done.migration.description)}")
        for change in done.changes:
            console.print(f"  {escape(change)}")
    console.print(f"the graph store went from data format {found} to {FORMAT_VERSION}")
    _record_migration(settings, found, applied)


def _record_migration(settings: Settings, found: int, applied: list[Applied]) -> None:
    """One event in the audit chain, as for a restore: from then on the chain says the graph
    changed shape, and from which format. The migrations' own lines may name parties' keys, so
    the event carries their numbers only. A log that cannot be written exits 3 saying the
    migration itself is done."""
    from credgraph.api.audit import AuditUnavailable

    try:
        cli_audit_log(settings).append(
            operation="migrate",
            outcome="ok",
            source="cli",
            key_name=cli_user(),
            role="cli",
            from_format=found,
            to_format=FORMAT_VERSION,
            migrations=[done.migration.number for done in applied],
            database=settings.database_name or "credgraph",
        )
    except AuditUnavailable as exc:
        console.print(
            f"[red]the migration is done, but the audit log did not record it:[/red] "
            f"{escape(str(exc))}"
        )
        raise typer.Exit(STORE_PROBLEM) from None
    console.print("the audit log's next event records the migration")


def _refuse_a_shared_store(store: GraphStore) -> None:
    """Raise MigrationError when migrations are pending and the embedded store was not started
    by this command: another process (a load, `serve`, maybe of the release before, which
    checks no format) runs it and could write under the keys a migration changes, and its end
    would stop the store under the migration. A store this command started is its own: a
    credgraph process that attaches meanwhile is refused by the format, until the last
    migration is recorded. With CREDGRAPH_NEO4J_URI nothing tells: docs/operations.md."""
    embedded = store.embedded
    if embedded is None or embedded.owns_process or store_format(store) >= FORMAT_VERSION:
        return
    raise MigrationError(
        f"a store (process {embedded.running_pid()}) is running on {embedded.server_dir.parent}; "
        "stop what uses it (credgraph serve, a load) before migrating"
    )
