"""Every Cypher statement credgraph ships is valid for Neo4j 5, and values are parameters.

The statements are the UPPER_CASE string constants (and the strings inside UPPER_CASE tuples
and dicts) of every module in `credgraph.queries` and of `credgraph.graph.schema` and
`credgraph.graph.migrations`. Each goes through `lintCypherQuery` of Neo4j's
`@neo4j-cypher/language-support` under Node.js, and any diagnostic other than "parameter not
declared" (we pass no parameter list) fails the test: a
query only ArcadeDB accepts is a bug.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import credgraph.queries
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTER = ROOT / "tests" / "cypher_lint.cjs"
PACKAGE = ROOT / "node_modules" / "@neo4j-cypher" / "language-support"
CYPHER_START = re.compile(
    r"^\s*(MATCH|OPTIONAL|MERGE|UNWIND|CREATE|CALL|WITH|RETURN|SHOW|DROP|DETACH|FOREACH)\b"
)
UNDECLARED_PARAMETER = re.compile(r"^Parameter \$\w+ is not defined\.?$")
LAYERS = ("graph", "loaders", "queries", "api", "viz")
RUNNERS = {"run", "read", "write", "write_rows"}
STORE_NAMES = {"store", "_store", "tx", "session", "graph", "transaction"}


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(credgraph.queries.__path__, "credgraph.queries."):
        yield importlib.import_module(info.name)
    yield importlib.import_module("credgraph.graph.schema")
    yield importlib.import_module("credgraph.graph.migrations")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list, frozenset, set)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def shipped_statements() -> dict[str, str]:
    """Every statement once, by the constant that holds it; a tuple or mapping of statements
    gives each its own entry (`writes.DATED_WRITES[3]`), so none hides behind another."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for module in _modules():
        for name, value in vars(module).items():
            if not name.isupper() or name.startswith("_"):
                continue
            texts = [t for t in _strings(value) if CYPHER_START.match(t) and t not in seen]
            key = f"{module.__name__.rsplit('.', 1)[1]}.{name}"
            for index, text in enumerate(texts):
                found[key if isinstance(value, str) else f"{key}[{index}]"] = text
                seen.add(text)
    return found


def test_every_statement_of_a_collection_is_linted() -> None:
    """A constant holding several statements (relation writes by type) lints each of them."""
    from credgraph.queries import writes

    dated = {text for text in _strings(writes.DATED_WRITES) if CYPHER_START.match(text)}
    assert len(dated) > 1 and dated <= set(STATEMENTS.values())


STATEMENTS = shipped_statements()


@pytest.fixture(scope="module")
def lint_results() -> dict[str, list[dict[str, object]]]:
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.fail(
            "the Cypher linter is not installed: run `make test` (it runs `npm ci`), "
            "or `npm ci` in the project folder, with Node.js on the PATH"
        )
    payload = json.dumps([{"name": n, "query": q} for n, q in STATEMENTS.items()])
    done = subprocess.run(
        [node, str(LINTER)], input=payload, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return {item["name"]: item["diagnostics"] for item in json.loads(done.stdout)}


def test_the_project_ships_its_statements_as_constants() -> None:
    assert len(STATEMENTS) > 60
    assert any(name.startswith("schema.") for name in STATEMENTS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_is_valid_neo4j_cypher(
    name: str, lint_results: dict[str, list[dict[str, object]]]
) -> None:
    problems = [d for d in lint_results[name] if not UNDECLARED_PARAMETER.match(str(d["message"]))]
    assert problems == [], f"{name}:\n{STATEMENTS[name]}"


def _built_text(node: ast.expr) -> bool:
    """A query assembled at run time: f-string, concatenation, % or .format()."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def test_no_statement_is_assembled_from_values() -> None:
    offenders = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RUNNERS
                    and _receiver(node.func.value) in STORE_NAMES
                    and node.args
                    and _built_text(node.args[0])
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
