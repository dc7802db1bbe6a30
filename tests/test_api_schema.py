"""The committed SDL (docs/schema.graphql) is the schema the code serves."""

from __future__ import annotations

from pathlib import Path

from credgraph.api.schema import schema

SDL = Path(__file__).resolve().parents[1] / "docs" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    committed = SDL.read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", (
        "docs/schema.graphql is out of date: regenerate it with\n"
        '.venv/bin/python -c "from credgraph.api.schema import schema; '
        "open('docs/schema.graphql', 'w').write(schema.as_str() + '\\n')\""
    )


def test_every_root_field_of_the_design_is_served() -> None:
    fields = {f.python_name for f in schema.get_type_by_name("Query").fields}  # type: ignore[union-attr]
    assert {"entity", "search", "linked_parties", "paths", "risk_report", "screen"} <= fields
