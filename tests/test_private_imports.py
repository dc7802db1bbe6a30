"""No module of the package imports another's private names: what two modules share is public,
named for what it does and documented."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("graph", "loaders", "queries", "api", "viz", "credgraph")


def private_imports(root: Path) -> set[str]:
    """Every `from credgraph.X import _name` (or `from X import _name`, X a package folder) in
    the package's folders, as `path: from module import _name`."""
    found: set[str] = set()
    for folder in PACKAGE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                if node.module.split(".")[0] not in ("credgraph", *PACKAGE_FOLDERS):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        where = path.relative_to(root).as_posix()
                        found.add(f"{where}: from {node.module} import {alias.name}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports(ROOT) == set()
