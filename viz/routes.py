"""The viz routes as the CLI's app builder looks for them (credgraph/cli_api.py)."""

from __future__ import annotations

from credgraph.viz.page import viz_router

router = viz_router()
