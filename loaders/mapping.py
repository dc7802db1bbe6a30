"""Declarative mappings: how one source's columns and codes become canonical fields.

A mapping is a small YAML file (docs/formats.md teaches how to write one): which canonical
target the source feeds, which files it matches, how to read them, and for every canonical field
the source column(s) it comes from, a transform (`date`, `percent`, `amount` ...) and a code
table. The canonical formats ship as built-in mappings (`loaders/mappings/*.yaml`) that pass the
canonical columns through.

A mapping only reshapes text; every check still happens in `loaders.rows`, so a mapped source
is held to exactly the same rules as a canonical one.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from credgraph.graph.identifiers import normalise_text
from credgraph.loaders.rows import RowError
from credgraph.loaders.transforms import AMOUNT_UNITS, TRANSFORMS, amount


class Target(StrEnum):
    """What a source feeds, in load order: parties before what refers to them."""

    LEGAL_PERSONS = "legal_persons"
    LEGACY_IDENTIFIERS = "legacy_identifiers"
    NATURAL_PERSONS = "natural_persons"
    FTM_ENTITIES = "ftm_entities"
    ROLES = "roles"
    SHAREHOLDINGS = "shareholdings"
    FIRM_RELATIONS = "firm_relations"
    RECORDS = "records"
    STATUS_CHANGES = "status_changes"


LOAD_ORDER: tuple[Target, ...] = tuple(Target)

# the canonical fields of each tabular target, as docs/formats.md lists them (a test keeps the
# two equal): a mapping's `fields` may only name these, so that a misspelt name is an error
# when the mapping is read, not a column whose data never lands
CANONICAL_FIELDS: dict[Target, frozenset[str]] = {
    target: frozenset(names.split())
    for target, names in {
        Target.LEGAL_PERSONS: "uscc registration_number org_code name kind region_code "
        "registered_on status registered_capital address industry phone email operator_id_type "
        "operator_id_number operator_country former_names",
        Target.NATURAL_PERSONS: "id_type id_number country name sex phone email",
        Target.ROLES: "person_id_number person_name company_id company_name role matter "
        "project_role source_record valid_from valid_to",
        Target.SHAREHOLDINGS: "holder_id holder_name company_id company_name stake "
        "subscribed_capital source_record valid_from valid_to",
        Target.FIRM_RELATIONS: "from_id from_name to_id to_name relation amount matter "
        "project_role source_record valid_from valid_to",
        Target.RECORDS: "record_id subject_id subject_name kind sector list_name scheme grade "
        "authority_code "
        "authority_name legal_basis decision_number decision_date published_on valid_from "
        "valid_to disclosure_until status status_since disclosure city court case_number "
        "enforcement_basis obligation "
        "performance dishonest_behaviour description source_system",
        Target.LEGACY_IDENTIFIERS: "uscc legacy_type legacy_code valid_from valid_to",
        Target.STATUS_CHANGES: "change_id record_id source_system change effective_on "
        "decision_number note",
    }.items()
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FieldRule:
    """Where one canonical field comes from."""

    field: str
    columns: tuple[str, ...] = ()
    value: str | None = None  # a constant
    transform: str | None = None
    unit: str | None = None  # for `amount`: the unit of bare numbers
    codes: MappingABC[str, str] | None = None
    default: str | None = None  # used when the column is absent or empty
    # `codes` keyed by `_fold`: how a cell is looked up when it is not a key as written
    folded_codes: MappingABC[str, str] = dataclasses.field(default_factory=dict)

    def apply(self, values: MappingABC[str, str]) -> str | None:
        if self.value is not None:
            return self.value
        column, raw = self._first_present(values)
        if raw is None:
            return self.default
        label = self.field if column == self.field else f"{column} ({self.field})"
        try:
            return self._convert(raw)
        except ValueError as exc:
            raise RowError(label, str(exc)) from None

    def _first_present(self, values: MappingABC[str, str]) -> tuple[str, str | None]:
        for column in self.columns:
            raw = values.get(column)
            if raw is not None and raw.strip():
                return column, raw.strip()
        return (self.columns[0] if self.columns else self.field), None

    def _convert(self, raw: str) -> str:
        text = raw
        if self.codes is not None:
            code = self.codes.get(text) or self.folded_codes.get(_fold(text))
            if code is None:
                known = ", ".join(list(self.codes)[:12])
                raise ValueError(f"{text!r} is not in the code table (known: {known})")
            text = code
        if self.transform == "amount":
            return amount(text, self.unit or "元")
        if self.transform is not None:
            return TRANSFORMS[self.transform](text)
        return text


def _fold(text: str) -> str:
    """A code as compared with a code table's: full-width folded, spaces collapsed, any case
    (`存续（在营）` is `存续(在营)`, `Active` is `active`)."""
    return normalise_text(text).casefold()


@dataclass(frozen=True)
class ReadOptions:
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class SourceMapping:
    """One source's mapping onto a canonical target."""

    name: str
    target: Target
    match: tuple[str, ...] = ()
    source: str | None = None  # the source name written on nodes; default the file's stem
    read: ReadOptions = field(default_factory=ReadOptions)
    fields: tuple[FieldRule, ...] = ()
    passthrough: bool = False
    origin: str = "<built-in>"

    def matches(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name, pattern) for pattern in self.match)

    def source_name(self, path: Path) -> str:
        return self.source or path.stem

    def named(self, error: RowError, values: MappingABC[str, str]) -> RowError:
        """`error` of a canonical field, naming the source column it came from in this row
        (`注册资本 (registered_capital)`), as the mapping's own errors do."""
        for rule in self.fields:
            if rule.field == error.field:
                column, _ = rule._first_present(values)
                if column != rule.field:
                    return RowError(f"{column} ({rule.field})", error.reason)
        return error

    def apply(self, values: MappingABC[str, str]) -> dict[str, str]:
        """Canonical cells for one source row; raises RowError naming the source column."""
        canonical: dict[str, str] = dict(values) if self.passthrough else {}
        for rule in self.fields:
            text = rule.apply(values)
            if text is None:
                canonical.pop(rule.field, None)
            else:
                canonical[rule.field] = text
        return canonical


def load_mapping(path: Path) -> SourceMapping:
    """Read and check a mapping file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping: {_os_reason(exc)}") from None
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"{path}: cannot read the mapping: not UTF-8 from byte {exc.start}; save it in UTF-8"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: {_yaml_problem(exc)}") from None
    return parse_mapping(document, origin=str(path), default_name=path.stem)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    return exc.strerror or str(exc)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where the YAML breaks, on one line: PyYAML's own message spans several, quoting the text
    and naming an internal stream."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"not valid YAML: {' '.join(str(exc).split())}"
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return f"not valid YAML at {where}: {problem}" + (f" ({context})" if context else "")


def parse_mapping(document: Any, *, origin: str, default_name: str) -> SourceMapping:
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: a mapping is a YAML map with `target` and `fields`")
    unknown = set(document) - {"name", "target", "match", "source", "read", "fields", "passthrough"}
    if unknown:
        raise MappingError(f"{origin}: unknown keys {sorted(unknown)}")
    target_name = _scalar(document.get("target", ""), origin, "target")
    try:
        target = Target(target_name)
    except ValueError:
        allowed = ", ".join(t.value for t in Target)
        raise MappingError(f"{origin}: `target` must be one of: {allowed}") from None
    fields = document.get("fields") or {}
    if not isinstance(fields, dict):
        raise MappingError(f"{origin}: `fields` must map canonical field names to their columns")
    _check_field_names(fields, target, origin)
    return SourceMapping(
        name=_scalar(document.get("name", default_name), origin, "name"),
        target=target,
        match=tuple(_strings(document.get("match") or [], origin, "match")),
        source=_optional_scalar(document.get("source"), origin, "source"),
        read=_read_options(document.get("read") or {}, origin),
        fields=tuple(_field_rule(str(name), spec, origin) for name, spec in fields.items()),
        passthrough=bool(document.get("passthrough", False)),
        origin=origin,
    )


def _check_field_names(fields: dict[Any, Any], target: Target, origin: str) -> None:
    """Refuse a field the target does not have, naming it and the fields it has."""
    known = CANONICAL_FIELDS.get(target)
    if known is None:  # FollowTheMoney entities are read as entities, not mapped field by field
        if fields:
            raise MappingError(f"{origin}: `fields`: the {target.value} target maps no fields")
        return
    for name in fields:
        if str(name) not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise MappingError(
                f"{origin}: fields.{name}: {target.value} has no such field; {hint}"
                f"its fields: {', '.join(sorted(known))}"
            )


def _scalar(value: Any, origin: str, key: str) -> str:
    """A text, number or boolean of the mapping as text. A list or a map is refused: none is
    meant there, and the text of one built from YAML aliases (a "billion laughs" of nested
    references) would take exponential time and memory to write out."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return "" if value is None else str(value)
    raise MappingError(f"{origin}: `{key}` must be a text or a number, not a list or a map")


def _optional_scalar(value: Any, origin: str, key: str) -> str | None:
    return None if value is None else _scalar(value, origin, key)


def _strings(value: Any, origin: str, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise MappingError(f"{origin}: `{key}` must be a string or a list of strings")


def _read_options(spec: Any, origin: str) -> ReadOptions:
    if not isinstance(spec, dict) or set(spec) - {"format", "encoding", "delimiter", "sheet"}:
        raise MappingError(f"{origin}: `read` takes format, encoding, delimiter and sheet")
    return ReadOptions(
        **{key: _scalar(value, origin, f"read.{key}") for key, value in spec.items()}
    )


def _field_rule(name: str, spec: Any, origin: str) -> FieldRule:
    where = f"{origin}: fields.{name}"
    if isinstance(spec, (str, list)):
        return FieldRule(name, columns=tuple(_strings(spec, where, "column")))
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: give a column name, a list of names, or a map")
    unknown = set(spec) - {"column", "columns", "value", "transform", "unit", "codes", "default"}
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    columns = spec.get("columns", spec.get("column", name if "value" not in spec else []))
    transform = _optional_scalar(spec.get("transform"), where, "transform")
    if transform is not None and transform not in TRANSFORMS:
        raise MappingError(f"{where}: unknown transform {transform!r} ({', '.join(TRANSFORMS)})")
    unit = _optional_scalar(spec.get("unit"), where, "unit")
    if unit is not None and unit not in AMOUNT_UNITS:
        raise MappingError(f"{where}: unknown unit {unit!r} ({', '.join(AMOUNT_UNITS)})")
    codes = spec.get("codes")
    if codes is not None and not isinstance(codes, dict):
        raise MappingError(f"{where}: `codes` must map source codes to canonical values")
    table = {
        _scalar(k, where, "codes"): _scalar(v, where, f"codes.{k}")
        for k, v in (codes or {}).items()
    }
    return FieldRule(
        field=name,
        columns=tuple(_strings(columns, where, "column")) if columns else (),
        value=_optional_scalar(spec.get("value"), where, "value"),
        transform=transform,
        unit=unit,
        codes=table if codes else None,
        default=_optional_scalar(spec.get("default"), where, "default"),
        folded_codes={_fold(k): v for k, v in table.items()},
    )


def builtin_mappings() -> tuple[SourceMapping, ...]:
    """The mappings of the canonical formats, shipped in `loaders/mappings/`."""
    folder = resources.files("credgraph.loaders") / "mappings"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            document = yaml.safe_load(entry.read_text(encoding="utf-8"))
            found.append(
                parse_mapping(
                    document, origin=f"built-in {entry.name}", default_name=entry.name[:-5]
                )
            )
    return tuple(found)


def choose_mapping(path: Path, mappings: tuple[SourceMapping, ...]) -> SourceMapping | None:
    """The first mapping whose `match` globs take the file's name."""
    return next((mapping for mapping in mappings if mapping.matches(path)), None)
