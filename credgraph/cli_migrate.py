"""`credgraph migrate`: bring the store up to the data format this code writes
(graph/migrations.py, docs/operations.md)."""

from __future__ import annotations

import typer
from rich.markup import escape

from credgraph.cli_common import STORE_PROBLEM, cli_settings, console, open_cli_store
from credgraph.graph.migrations import MigrationError, StoreFormatError, migrate
from credgraph.graph.schema import FORMAT_VERSION
from credgraph.graph.store import StoreError


def migrate_command() -> None:
    """Apply the pending data-format migrations to the store; says what each changed."""
    settings = cli_settings()
    with open_cli_store(settings, any_format=True) as store:
        try:
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
