"""Documentation that must not fall behind the code."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from credgraph.api import limits
from credgraph.api.errors import ErrorCode
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import MEMORY_SIZE, Settings
from credgraph.loaders import sources
from openpyxl import Workbook
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from tests.conftest import TEST_PERSON_KEY

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


def accepted(field: FieldInfo) -> str | None:
    """What the settings table's `accepted` column must say for a field whose values the code
    bounds (a range, a closed set, a memory size); None for free text."""
    annotation = field.annotation
    if annotation is bool:
        return "`true` or `false`"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [f"`{member.value}`" for member in annotation]
        return ", ".join(values[:-1]) + " or " + values[-1]
    if _bound(field, "pattern") == MEMORY_SIZE:
        return "a size: a whole number and `m` or `g` (`512m`, `4g`)"
    low, high, above = _bound(field, "ge"), _bound(field, "le"), _bound(field, "gt")
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"{low} or more"
    if above is not None:
        return f"more than {above}"
    return None


def _bound(field: FieldInfo, name: str) -> object:
    return next((getattr(m, name) for m in field.metadata if hasattr(m, name)), None)


def test_every_setting_says_what_it_accepts() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = dict(
        re.findall(r"^\| `CREDGRAPH_([A-Z0-9_]+)` \| [^|]+ \| ([^|]+) \|", text, flags=re.MULTILINE)
    )
    for name, field in Settings.model_fields.items():
        said = rows[name.upper()].strip()
        assert said, name
        expected = accepted(field)
        assert expected is None or said == expected, (name, said, expected)


def test_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_the_readme_command_lines_name_real_verbs_and_options() -> None:
    import typer.main

    from credgraph.cli import app

    root = typer.main.get_command(app)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## The command line") : text.index("Settings come from")]
    checked = []
    for line in block.splitlines():
        parts = [p.strip() for p in line.split("#")[0].split("|")]
        if not parts[0].startswith("credgraph "):
            continue
        group: list[str] = []
        for part in parts:
            words = part.split()
            if words and words[0] == "credgraph":
                command, path = _command(root, words[1:])
                group = path[:-1]
            else:  # `keys create ... | list | revoke ID`: a sibling, or a value (`html|png`)
                command, path = _command(root, group + words[:1])
                if len(path) <= len(group):
                    continue
            assert path, part
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for option in re.findall(r"--[a-z][a-z-]*", part):
                assert option in options, (path, option)
            checked.append(" ".join(path))
    assert {"serve", "keys create", "keys list", "keys revoke", "audit verify"} <= set(checked)


def _command(root: Any, words: list[str]) -> tuple[Any, list[str]]:
    """The deepest command `words` name from the root, and the names that lead to it."""
    command, path = root, []
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, [*path, word]
    return command, path


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


# --- the command lines the docs show -----------------------------------------------------------

# the docs that describe each verb: every option its --help lists must be shown with it there
DESCRIBED_IN = {
    "generate": ("README.md", "docs/formats.md"),
    "load": ("README.md", "docs/formats.md"),
    "stats": ("README.md",),
    "serve": ("README.md",),
    "demo": ("README.md",),
    "search": ("README.md", "docs/queries.md"),
    "linked": ("README.md", "docs/queries.md"),
    "paths": ("README.md", "docs/queries.md"),
    "trace": ("README.md", "docs/queries.md"),
    "links": ("README.md", "docs/queries.md"),
    "groups": ("README.md", "docs/queries.md"),
    "circles": ("README.md", "docs/queries.md"),
    "export": ("README.md", "docs/viz.md"),
    "backup": ("README.md", "docs/operations.md"),
    "restore": ("README.md", "docs/operations.md"),
}
# every doc whose command lines are checked against the code (the options they name exist)
COMMAND_DOCS = ("README.md", "docs/formats.md", "docs/queries.md", "docs/viz.md")
COMMAND_DOCS += ("docs/risk-model.md", "docs/security.md", "docs/settings.md")
COMMAND_DOCS += ("docs/operations.md",)


def command_lines(text: str) -> list[str]:
    """Each `credgraph …` command line of a doc: in a code block (with its indented
    continuation lines, without its `#` comment) or in `inline code`."""
    lines: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            code = line.split(" #")[0]
            if "credgraph " in code:
                lines.append(code[code.index("credgraph ") :])
            elif lines and code[:1].isspace() and code.strip().startswith("["):
                lines[-1] += " " + code.strip()
            continue
        lines.extend(m for m in re.findall(r"`(credgraph [^`]+)`", line))
    # `credgraph groups ID | credgraph circles [ID]`: two commands
    return [f"credgraph {part}" for line in lines for part in line.split("credgraph ")[1:]]


def _commands_named(doc: str) -> list[tuple[list[str], set[str], set[str]]]:
    """(the verb's path, options named, options the verb has) of each command line of `doc`."""
    import typer.main

    from credgraph.cli import app

    root = typer.main.get_command(app)
    found = []
    for line in command_lines((ROOT / doc).read_text(encoding="utf-8")):
        words = [w for w in line.split()[1:] if not w.startswith(("-", "[", "|"))]
        command, path = _command(root, words)
        if not path:
            continue
        if hasattr(command, "commands") and "|" in line:  # `keys create … | list | revoke`
            command, path = _command(root, words[: len(path) + 1])
        named = set(re.findall(r"--[a-z][a-z-]*", line))
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        found.append((path, named, options))
    return found


def test_every_option_the_docs_show_with_a_command_exists() -> None:
    for doc in COMMAND_DOCS:
        for path, named, options in _commands_named(doc):
            assert named <= options, (doc, " ".join(path), sorted(named - options))


def test_every_option_of_a_verb_is_shown_where_the_docs_describe_it() -> None:
    import typer.main

    from credgraph.cli import app

    root = typer.main.get_command(app)
    for verb, docs in DESCRIBED_IN.items():
        shown = {
            option
            for doc in docs
            for path, named, _ in _commands_named(doc)
            if path == [verb]
            for option in named
        }
        for param in root.commands[verb].params:
            names = {*param.opts, *param.secondary_opts}
            if param.param_type_name == "option" and "--help" not in names:
                assert names & shown, (verb, param.opts, docs)


# --- the worked mapping example of docs/formats.md ---------------------------------------------


def _worked_example() -> tuple[str, str, list[str], str, str]:
    """The extract formats.md describes (file, sheet, columns), its mapping file and its YAML."""
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("### Worked example") : text.index("## Load reports")]
    told = re.search(
        r"sends\s+`([^`]+)`,\s+one\s+sheet\s+`([^`]+)`,\s+columns\s+(.*?)\.\s+Write\s+`([^`]+)`",
        section,
        re.S,
    )
    assert told, "the worked example names its file, sheet, columns and mapping file"
    columns = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", told.group(3)))
    mapping = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert mapping
    return told.group(1), told.group(2), columns, told.group(4), mapping.group(1)


def _example_rows(fields: dict[str, Any], columns: list[str]) -> list[list[object]]:
    """One row per entry of the mapping's code tables (each code once), in the shape the
    example describes: dates as `20180302` (a number, as Excel keeps it, or text), capital in
    万元 as a number."""

    def column(spec: Any) -> str:
        return str(spec["column"] if isinstance(spec, dict) else spec)

    coded = {
        column(s): list(s["codes"]) for s in fields.values() if isinstance(s, dict) and "codes" in s
    }
    rows = []
    for i in range(max(len(codes) for codes in coded.values())):
        by_field: dict[str, object] = {
            "uscc": make_uscc("9", "1", "350203", f"MA2YW{i:03d}"),
            "name": f"厦门示例{i}有限公司",
            "registered_on": 20180302 if i % 2 else "20180302",
            "registered_capital": 500 + i,
            "address": f"厦门市思明区某路{i}号",
        }
        values = {column(spec): by_field.get(name) for name, spec in fields.items()}
        values.update({name: codes[i % len(codes)] for name, codes in coded.items()})
        rows.append([values.get(c, "") for c in columns])
    return rows


def test_the_worked_mapping_example_loads_without_rejects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The extract built exactly as formats.md describes it, loaded with the mapping as written:
    the real command line, a dry run on a data dir without a store (no store is started)."""
    from credgraph.cli import app

    file_name, sheet_name, columns, mapping_name, mapping_text = _worked_example()
    fields = yaml.safe_load(mapping_text)["fields"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    sheet.append(columns)
    rows = _example_rows(fields, columns)
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / file_name)
    (tmp_path / mapping_name).write_text(mapping_text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDGRAPH_NEO4J_URI", raising=False)
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(
        app, ["load", file_name, "--mapping", mapping_name, "--dry-run", "--report", "r.json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (entry,) = report["files"]
    assert (entry["read"], entry["loaded"], entry["rejected"]) == (len(rows), len(rows), 0)
    assert entry["missing_columns"] == entry["unused_columns"] == []
    # and the report has no key formats.md does not name
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    told = text[text.index("`--report FILE` writes") : text.index("A header that names")]
    for key in [*report, *entry]:
        assert f"`{key}`" in told or f'"{key}"' in told, key


# --- the query functions queries.md shows ------------------------------------------------------

QUERY_MODULES = ("lookup", "traversal", "paths", "tracing", "links", "groups", "warmup")


def _arguments(text: str) -> list[str]:
    """`a, b=(x, y), c=1` -> [`a`, `b=(x, y)`, `c=1`]: split on the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def test_the_query_functions_queries_md_shows_have_those_arguments_and_defaults() -> None:
    import ast
    import importlib
    import inspect

    modules = [importlib.import_module(f"credgraph.queries.{m}") for m in QUERY_MODULES]
    text = (ROOT / "docs" / "queries.md").read_text(encoding="utf-8")
    shown = re.findall(r"`([a-z_]+)\(((?:store|result)[^`]*)\)`", text)
    assert len(shown) >= 10
    for name, arguments in shown:
        module = next((m for m in modules if hasattr(m, name)), None)
        assert module is not None, name
        parameters = inspect.signature(getattr(module, name)).parameters
        told = [a.split("=", 1) for a in _arguments(" ".join(arguments.split()))]
        assert [t[0] for t in told] == list(parameters), name
        for argument, default in (t for t in told if len(t) == 2 and t[1]):
            actual = parameters[argument].default
            if hasattr(module, default):  # a named constant: PARTY_RELATIONS
                assert actual == getattr(module, default), (name, argument)
            elif re.fullmatch(r"[\d_.]+|None|True|False|'[^']*'", default):
                assert actual == ast.literal_eval(default), (name, argument, actual)
            else:  # labels, as their names
                assert default == f"({', '.join(v.value for v in actual)},)", (name, argument)


# --- the canonical files formats.md describes --------------------------------------------------


def _file_section(text: str, target: str) -> str:
    found = re.search(rf"^## `{target}\.csv`[^\n]*\n(.*?)(?=^## )", text, re.S | re.M)
    assert found, target
    return found.group(1)


def test_every_canonical_column_and_code_is_documented_and_nothing_else() -> None:
    from credgraph.graph import vocabulary as v
    from credgraph.loaders.mapping import CANONICAL_FIELDS

    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for target, fields in CANONICAL_FIELDS.items():
        rows = re.findall(r"^\| ([^|]+) \|", _file_section(text, target.value), re.M)
        told = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row)}
        assert told == set(fields), (target, sorted(told ^ set(fields)))
    codes: list[tuple[str, str, type[Enum]]] = [
        ("legal_persons", "kind", v.LegalPersonKind),
        ("legal_persons", "status", v.RegistrationStatus),
        ("roles", "role", v.Role),
        ("firm_relations", "relation", v.FirmRelation),
        ("records", "kind", v.RecordKind),
        ("records", "status", v.RecordStatus),
        ("records", "disclosure", v.Disclosure),
        ("records", "sector", v.Sector),
        ("status_changes", "change", v.StatusChangeKind),
        ("legacy_identifiers", "legacy_type", v.LegacyCodeType),
    ]
    for target, column, enum in codes:
        row = re.search(rf"^\| `{column}`[^\n]*", _file_section(text, target), re.M)
        assert row, (target, column)
        told = set(re.findall(r"`([a-z_]+)`", row.group(0))) - {column, "_"}
        assert told == {member.value for member in enum}, (target, column)


# --- the identifiers and the generated registry the docs show ----------------------------------

USER_DOCS = ("README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))))


def test_every_identifier_the_docs_show_passes_its_check() -> None:
    """A USCC, resident ID, registration number or organisation code copied from an example
    must be one the program takes: a broken check character is refused (exit 2)."""
    from credgraph.graph.identifiers import (
        is_valid_registration_number,
        is_valid_resident_id,
        is_valid_uscc,
        upgraded_resident_id,
        validate_org_code,
    )

    checked = 0
    for doc in USER_DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for code in re.findall(r"(?<![0-9A-Za-z*_])[0-9A-Z]{18}(?![0-9A-Za-z*_])", text):
            assert is_valid_uscc(code) or is_valid_resident_id(code), (doc, code)
            checked += 1
        for code in re.findall(r"(?<![0-9A-Za-z*])(?:\d{15}|\d{13})(?![0-9*])", text):
            first_generation = is_valid_resident_id(upgraded_resident_id(code))
            assert is_valid_registration_number(code) or first_generation, (doc, code)
            checked += 1
        for code in re.findall(r"(?<![0-9A-Za-z*])\d{8}-[0-9X](?![0-9A-Za-z*])", text):
            validate_org_code(code)  # raises naming the broken rule
            checked += 1
    assert checked >= 5


def test_the_manifest_formats_md_shows_is_the_one_generate_prints(tmp_path: Path) -> None:
    """`credgraph generate` with the example's seed and size prints the manifest formats.md
    shows (the files it lists, and the totals)."""
    from credgraph.cli import app

    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("## `manifest.json`") :]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "formats.md shows a manifest"
    shown = json.loads(block.group(1))
    out = tmp_path / "registry"
    arguments = ["--enterprises", str(shown["enterprises"]), "--seed", str(shown["seed"])]
    result = CliRunner().invoke(app, ["generate", "--out", str(out), *arguments])
    assert result.exit_code == 0, result.output
    written = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    printed = json.loads(result.stdout)
    assert printed == written
    assert {k: printed[k] for k in ("seed", "enterprises", "as_of", "totals")} == {
        k: shown[k] for k in ("seed", "enterprises", "as_of", "totals")
    }
    for name, entry in shown["files"].items():
        assert printed["files"][name] == entry, name


def test_formats_md_gives_the_line_and_value_limits_the_readers_hold_to() -> None:
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for name in ("MAX_LINE_CHARS", "MAX_FIELD_CHARS"):
        assert f"{getattr(sources, name):,} characters" in text and f"`{name}`" in text


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header line is `header`, as stripped cells."""
    lines = text.splitlines()
    start = lines.index(header) + 2  # past the header and its `|---|` line
    rows: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_security_md_lists_every_error_code_with_its_status() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rows = _table(text, "| code | HTTP status | when |")
    documented = {cells[0]: cells[1] for cells in rows}
    assert len(documented) == len(rows), "a code listed twice"
    assert documented == {f"`{code.value}`": str(code.status) for code in ErrorCode}


def test_security_md_lists_every_string_length_limit_with_its_value() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rows = _table(text, "| limit | setting | answer |")
    documented = [re.fullmatch(r"`(MAX_\w+_CHARS)` \((\d+) characters\)", r[1]) for r in rows]
    shown = {m.group(1): int(m.group(2)) for m in documented if m}
    in_code = {name: value for name, value in vars(limits).items() if _LENGTH.fullmatch(name)}
    assert in_code, "api/limits.py names no MAX_..._CHARS"
    assert shown == in_code


_LENGTH = re.compile(r"MAX_\w+_CHARS")


# --- the audit log's subject tokens (docs/security.md) -----------------------------------------


def _subjects_bullet() -> str:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    bullet = text[text.index("- `subjects` are tokens") :].split("\n- ", 1)[0]
    return " ".join(bullet.split())


@pytest.mark.parametrize("uid", ["91350200MA2XXXXX0X", "REG:350200100012345", "张三的令牌"])
def test_the_audit_subject_formula_security_md_gives_is_the_code_s(uid: str) -> None:
    """A supervisor computes a party's token from its uid as the doc says, a year later."""
    import hashlib
    import hmac

    from credgraph.api.audit import subject_token

    key = TEST_PERSON_KEY.encode()
    bullet = _subjects_bullet()
    expression = re.search(r"`(hmac\.new\(.+?)`", bullet)
    assert expression, bullet
    written = eval(expression.group(1), {"hmac": hmac}, {"person_key": key, "uid": uid})
    assert written == subject_token(key, uid)
    # and the prose: the bytes hashed are the prefix it names, then the uid
    prefix = re.search(r"UTF-8 bytes of `([^`]+)` followed by the party's uid", bullet)
    assert prefix, bullet
    told = hmac.new(key, (prefix.group(1) + uid).encode(), hashlib.sha256).hexdigest()[:32]
    assert told == subject_token(key, uid)
