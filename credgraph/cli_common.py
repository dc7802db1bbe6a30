"""What every `credgraph` verb shares: the console, settings and opening the store.

Verbs live in modules of their own beside this one (`cli.py` for loading and serving, and one
module per area for the rest); each takes its settings and store from here so that errors read
the same everywhere and exit with the same codes (2: bad input or settings, 3: store unreachable).
"""

from __future__ import annotations

import typer
from rich.console import Console

from credgraph.graph.embedded import EmbeddedStoreError
from credgraph.graph.schema import apply_schema
from credgraph.graph.settings import Settings, load_settings
from credgraph.graph.store import GraphStore, StoreError, open_store

console = Console(stderr=True, soft_wrap=True)


def cli_settings() -> Settings:
    """The settings from the environment, or exit 2 naming what is wrong."""
    try:
        return load_settings()
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def open_cli_store(settings: Settings) -> GraphStore:
    """The configured store with the schema applied, or exit 3 saying why it cannot open."""
    try:
        store = open_store(settings)
    except (EmbeddedStoreError, StoreError) as exc:
        console.print(f"[red]cannot open the graph store:[/red] {exc}")
        raise typer.Exit(3) from None
    apply_schema(store)
    return store
