"""Policy profiles (queries/profiles.py): the built-ins, a deployment's YAML file, the errors,
and the documentation of every parameter in docs/risk-model.md."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import RecordKind, RelationType, Role
from credgraph.queries.profiles import (
    BUILTIN_PROFILES,
    DEFAULT_PROFILE,
    PolicyProfile,
    ProfileError,
    choose_profile,
    known_profiles,
    load_profiles,
    profile_parameters,
    profile_version,
)
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, free_port, make_settings

RISK_MODEL = Path(__file__).resolve().parents[1] / "docs" / "risk-model.md"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- built-ins ----------------------------------------------------------------------------------


def test_the_builtin_profiles_validate_and_are_named_by_their_keys() -> None:
    assert set(BUILTIN_PROFILES) == {"default", "strict"}
    for name, profile in BUILTIN_PROFILES.items():
        assert profile.name == name
        assert PolicyProfile.model_validate(profile.model_dump()) == profile


def test_strict_counts_objections_and_reviews_sooner() -> None:
    default, strict = BUILTIN_PROFILES["default"], BUILTIN_PROFILES["strict"]
    assert not default.count_under_objection and strict.count_under_objection
    assert strict.review_at < default.review_at
    assert default.role_rule_roles == {Role.LEGAL_REPRESENTATIVE, Role.PRINCIPAL}
    assert RecordKind.ADMIN_PENALTY not in default.role_rule_kinds


def test_the_defaults_follow_national_practice() -> None:
    # administrative penalties are published for at most 3 years, counted from the decision
    default = BUILTIN_PROFILES["default"]
    assert default.default_term[RecordKind.ADMIN_PENALTY] == Term(years=3)
    assert RecordKind.GRADE not in default.default_term
    assert set(default.severity) == {
        RecordKind.BLACKLIST,
        RecordKind.DISHONEST_DEBTOR,
        RecordKind.ADMIN_PENALTY,
        RecordKind.ABNORMAL_OPERATION,
        RecordKind.SERIOUS_VIOLATION,
    }


def test_profile_version_is_the_same_in_every_process() -> None:
    # sets iterate in an order Python salts per process: the digest must not follow it
    script = (
        "from credgraph.queries.profiles import BUILTIN_PROFILES, profile_version;"
        "print(sorted((n, profile_version(p)) for n, p in BUILTIN_PROFILES.items()))"
    )
    printed = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(printed) == 1, printed


def test_profile_version_names_every_parameter() -> None:
    default = BUILTIN_PROFILES["default"]
    assert profile_version(default) == profile_version(default.model_copy())
    assert profile_version(default) != profile_version(default.model_copy(update={"decay": 0.4}))
    assert profile_version(default) != profile_version(BUILTIN_PROFILES["strict"])
    assert re.fullmatch(r"[0-9a-f]{12}", profile_version(default))


# --- a deployment's file ------------------------------------------------------------------------


def test_no_file_gives_the_builtins() -> None:
    assert load_profiles(None) == BUILTIN_PROFILES


def test_a_profile_extends_another_and_overrides_some_fields(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        """
procurement:
  extends: strict
  description: public-resource trading
  review_at: 0.05
  relation_weight:
    GUARANTEES: 0.9
local:
  decay: 0.4
  role_rule_kinds: [blacklist, dishonest_debtor]
  role_rule_grades: [D, red]
procurement_xm:
  extends: procurement
  max_depth: 2
""",
    )
    profiles = load_profiles(path)
    assert set(profiles) == {"default", "strict", "procurement", "local", "procurement_xm"}
    procurement = profiles["procurement"]
    assert procurement.name == "procurement"
    assert procurement.review_at == 0.05
    assert procurement.count_under_objection  # from strict
    assert procurement.half_life_days == BUILTIN_PROFILES["strict"].half_life_days
    # a mapping given replaces the inherited mapping whole
    assert procurement.relation_weight == {RelationType.GUARANTEES: 0.9}
    local = profiles["local"]
    assert local.decay == 0.4 and not local.count_under_objection  # extends default
    assert local.role_rule_kinds == {RecordKind.BLACKLIST, RecordKind.DISHONEST_DEBTOR}
    assert local.role_rule_grades == {"D", "red"}
    chained = profiles["procurement_xm"]
    assert (chained.max_depth, chained.review_at, chained.count_under_objection) == (2, 0.05, True)


def test_the_settings_name_the_profiles_file(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "mine:\n  decay: 0.3\n")
    settings = make_settings(tmp_path / "data", risk_profiles_file=path)
    assert choose_profile(load_profiles(settings.risk_profiles_file), "mine").decay == 0.3


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bad:\n  decay: 2\n", ["'bad'", "decay"]),
        ("bad:\n  decai: 0.4\n", ["'bad'", "decai"]),
        ("bad:\n  severity:\n    blacklist: 1.5\n", ["'bad'", "severity", "blacklist"]),
        ("bad:\n  severity:\n    shoplifting: 0.5\n", ["'bad'", "severity", "shoplifting"]),
        ("bad:\n  role_rule_roles: [janitor]\n", ["'bad'", "role_rule_roles"]),
        # positive records and grades are never negative: naming them would be ignored
        ("bad:\n  severity:\n    red_list: 0.5\n", ["'bad'", "severity", "red_list"]),
        ("bad:\n  role_rule_kinds: [blacklist, grade]\n", ["'bad'", "role_rule_kinds", "grade"]),
        ("bad:\n  role_rule_kinds: [honour]\n", ["'bad'", "role_rule_kinds", "honour"]),
        ("bad:\n  sector_scoped_kinds: [red_list]\n", ["sector_scoped_kinds", "red_list"]),
        ("bad:\n  extends: nowhere\n", ["'bad'", "'nowhere'"]),
        ("bad: 3\n", ["'bad'", "mapping"]),
        ("Bad Name:\n  decay: 0.4\n", ["'Bad Name'", "name"]),
        ("- a list\n", ["mapping of profile names"]),
        ("bad: [unclosed\n", ["cannot read"]),
    ],
)
def test_a_bad_profile_is_refused_naming_the_profile_and_field(
    tmp_path: Path, text: str, named: list[str]
) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(ProfileError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert str(path) in message
    for part in named:
        assert part in message


@pytest.mark.parametrize("builtin", sorted(BUILTIN_PROFILES))
@pytest.mark.parametrize("fields", ["\n  decay: 0.3", " {}", " 3"])
def test_a_file_cannot_redefine_a_builtin_profile(
    tmp_path: Path, builtin: str, fields: str
) -> None:
    """A decision names its profile and version: were `default` redefined by the file, the
    name would stand for other parameters wherever the file is read, and for the built-in ones
    wherever it is not (a CLI run without the setting), against the same store."""
    path = _yaml(tmp_path, f"mine:\n  decay: 0.4\n{builtin}:{fields}\n")
    with pytest.raises(ProfileError) as refused:
        load_profiles(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: profile {builtin!r} is a built-in profile"), message
    assert f"a new name with `extends: {builtin}`" in message


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    with pytest.raises(ProfileError) as refused:
        load_profiles(absent)
    assert str(refused.value).startswith(f"{absent}: cannot read profiles: "), refused.value


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError) as caught:
        choose_profile(BUILTIN_PROFILES, "lenient")
    assert "'lenient'" in str(caught.value)
    assert "default, strict" in str(caught.value)


def test_no_name_chooses_the_default() -> None:
    assert choose_profile(BUILTIN_PROFILES, None).name == DEFAULT_PROFILE


# --- documentation ------------------------------------------------------------------------------


def _documented_parameters() -> dict[str, list[str]]:
    """The rows of the table under "## Profile parameters": field name -> its cells."""
    text = RISK_MODEL.read_text(encoding="utf-8")
    section = text.split("## Profile parameters", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(\w+)`", cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = cells
    return rows


def test_every_profile_field_is_in_the_parameter_table_and_nothing_else() -> None:
    documented = _documented_parameters()
    fields = set(PolicyProfile.model_fields)
    assert fields - set(documented) == set(), "profile fields missing from docs/risk-model.md"
    assert set(documented) - fields == set(), "docs/risk-model.md documents unknown fields"


def test_the_table_gives_each_scalar_default_and_strict_value() -> None:
    documented = _documented_parameters()
    default, strict = BUILTIN_PROFILES["default"], BUILTIN_PROFILES["strict"]
    for name in PolicyProfile.model_fields:
        value, strict_value = getattr(default, name), getattr(strict, name)
        if name in ("name", "description") or not isinstance(value, (bool, int, float)):
            continue
        cells = documented[name]
        assert f"`{str(value).lower()}`" in cells[1].lower(), (name, cells)
        if strict_value != value:
            assert f"`{str(strict_value).lower()}`" in cells[3].lower(), (name, cells)


def test_a_city_writes_its_terms_in_years_months_or_days(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        """
fuzhou:
  default_term:
    admin_penalty: 1y6m
    abnormal_operation: 6m
    blacklist: 730
""",
    )
    fuzhou = load_profiles(path)["fuzhou"]
    assert fuzhou.default_term == {
        RecordKind.ADMIN_PENALTY: Term(years=1, months=6),
        RecordKind.ABNORMAL_OPERATION: Term(months=6),
        RecordKind.BLACKLIST: Term(days=730),
    }
    # written back as it was written: the version digest and `extends` read the same terms
    assert fuzhou.model_dump()["default_term"][RecordKind.ADMIN_PENALTY] == "1y6m"
    assert profile_version(fuzhou) != profile_version(BUILTIN_PROFILES["default"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default_term: {admin_penalty: 3 years}", "default_term.admin_penalty: .*such as 3y"),
        ("default_term: {admin_penalty: 0d}", "default_term.admin_penalty: .*at least one day"),
        ("default_duration_days: {admin_penalty: 1095}", "now default_term"),
    ],
)
def test_a_term_that_is_no_term_is_refused_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _yaml(tmp_path, f"city:\n  {text}\n")
    with pytest.raises(ProfileError, match=f"profile 'city': .*{message}"):
        load_profiles(path)


@pytest.mark.parametrize("relation", ["POSSIBLY_SAME_AS", "SUBJECT_OF", "ALIAS_OF", "NAME_OF"])
def test_a_weight_on_a_relation_risk_never_follows_is_refused(
    tmp_path: Path, relation: str
) -> None:
    """Contagion follows party relations only: a weight on a record link, an alias or a
    same-name guess would be silently ignored, so the profile is refused naming it."""
    path = _yaml(tmp_path, f"city:\n  relation_weight: {{{relation}: 0.5}}\n")
    with pytest.raises(ProfileError, match=f"profile 'city': .*{relation} is no relation between"):
        load_profiles(path)


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


@pytest.mark.parametrize(
    "argv",
    [
        ["risk", "score", "--as-of", "2025-01-01"],
        ["risk", "explain", "91350200MA2XXXXX0X"],
        ["risk", "profiles"],
        ["serve", "--port", "PORT"],
        ["load", "FOLDER"],  # its re-score reads the profiles: refused before it loads
    ],
)
def test_a_profiles_file_that_redefines_a_builtin_is_a_bad_setting(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]
) -> None:
    """Refused as every bad setting is, exit 2 naming the variable, before any store starts."""
    path = _yaml(tmp_path, "default:\n  decay: 0.3\n")
    monkeypatch.setenv("CREDGRAPH_RISK_PROFILES_FILE", str(path))
    folder = tmp_path / "extract"
    folder.mkdir()
    (folder / "legal_persons.csv").write_text("uscc,name,kind\n", encoding="utf-8")
    chosen = {"PORT": str(free_port()), "FOLDER": str(folder)}
    argv = [chosen.get(word, word) for word in argv]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "invalid settings: CREDGRAPH_RISK_PROFILES_FILE: " in result.output
    assert "'default' is a built-in profile" in result.output
    assert not (tmp_path / "data" / "arcadedb").exists(), "no store is started"


def _two_of_the_city(tmp_path: Path) -> Path:
    return _yaml(
        tmp_path, "procurement:\n  extends: strict\n  review_at: 0.05\nlocal:\n  decay: 0.4\n"
    )


def test_risk_profiles_lists_each_profile_with_its_source_version_and_base(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _two_of_the_city(tmp_path)
    monkeypatch.setenv("CREDGRAPH_RISK_PROFILES_FILE", str(path))
    result = runner.invoke(app, ["risk", "profiles"])
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in re.split("[│┃]", line)[1:-1]]) == 4
    }
    profiles = load_profiles(path)
    assert rows == {
        "name": ["source", "version", "extends"],
        "default": ["built-in", profile_version(profiles["default"]), ""],
        "strict": ["built-in", profile_version(profiles["strict"]), ""],
        "procurement": [str(path), profile_version(profiles["procurement"]), "strict"],
        "local": [str(path), profile_version(profiles["local"]), "default"],
    }
    assert not (tmp_path / "data" / "arcadedb").exists(), "it reads no store"


def test_risk_profiles_json_gives_the_parameters_each_version_digests(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What a deployment keeps with each change of its file: from it, the version a decision
    names can be checked (docs/risk-model.md gives the digest)."""
    path = _two_of_the_city(tmp_path)
    monkeypatch.setenv("CREDGRAPH_RISK_PROFILES_FILE", str(path))
    result = runner.invoke(app, ["risk", "profiles", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["profiles"]
    assert [(p["name"], p["source"], p["extends"]) for p in listed] == [
        ("default", "built-in", None),
        ("strict", "built-in", None),
        ("procurement", str(path), "strict"),
        ("local", str(path), "default"),
    ]
    profiles = load_profiles(path)
    for entry in listed:
        profile = profiles[entry["name"]]
        assert entry["version"] == profile_version(profile)
        canonical = json.dumps(entry["parameters"], sort_keys=True).encode()
        assert hashlib.sha256(canonical).hexdigest()[:12] == entry["version"]
        # every parameter, as pydantic writes it in JSON (a set's order aside)
        assert entry["parameters"] == _sets_sorted(profile.model_dump(mode="json"))
        assert PolicyProfile.model_validate(entry["parameters"]) == profile
    assert not (tmp_path / "data" / "arcadedb").exists(), "it reads no store"


def test_without_a_file_the_builtins_are_listed_as_built_in(runner: CliRunner) -> None:
    result = runner.invoke(app, ["risk", "profiles", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["profiles"]
    assert [(p["name"], p["source"]) for p in listed] == [
        ("default", "built-in"),
        ("strict", "built-in"),
    ]
    assert [k.source for k in known_profiles(None)] == [None, None]
    assert listed[0]["parameters"] == profile_parameters(BUILTIN_PROFILES["default"])


def _sets_sorted(value: object) -> object:
    if isinstance(value, dict):
        return {key: _sets_sorted(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted(value, key=json.dumps)
    return value
