"""Documentation that must not fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

from credgraph.graph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_and_nothing_else() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `CREDGRAPH_([A-Z0-9_]+)` \|", text, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_documented_defaults_match_the_code() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `CREDGRAPH_([A-Z0-9_]+)` \| ([^|]+) \|", text, flags=re.MULTILINE))
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{getattr(default, 'value', default)}`"
        assert rows[name.upper()].strip() == shown, name


def test_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_every_mapping_target_and_transform_is_documented() -> None:
    from credgraph.loaders.mapping import Target
    from credgraph.loaders.transforms import TRANSFORMS

    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for target in Target:
        if target is not Target.FTM_ENTITIES:
            assert f"`{target.value}`" in text, target
    for name in TRANSFORMS:
        assert f"`{name}`" in text, name


def test_benchmarks_give_the_command_that_reproduces_them() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "bench").glob("*.py")):
        assert f"bench/{script.name}" in text, script.name
