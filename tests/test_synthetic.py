"""The synthetic registry: deterministic, valid where it should be, dirty exactly where it says.

The registry is checked the way a data team would check a delivery: by loading it (a dry run,
no store) and comparing the load report with the manifest, then by looking at its shape.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from credgraph.graph.identifiers import normalise_code, validate_resident_id, validate_uscc
from credgraph.graph.vocabulary import City
from credgraph.loaders.loader import load_paths
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.loaders.synthetic import AS_OF, HEADERS, generate

from tests.conftest import TEST_PERSON_KEY

ENTERPRISES = 600
SEED = 42
TODAY = date(2026, 1, 1)
CANONICAL_FILES = {
    "legal_persons.csv",
    "legacy_identifiers.csv",
    "natural_persons.csv",
    "roles.csv",
    "shareholdings.csv",
    "firm_relations.csv",
    "records.csv",
    "court_debtors.csv",
    "status_changes.csv",
}
# the roles behind LEGAL_REPRESENTATIVE_OF, PRINCIPAL_OF and EXECUTIVE_OF
OFFICER_ROLES = {
    "legal_representative",
    "principal",
    "chair",
    "director",
    "supervisor",
    "manager",
    "secretary",
    "cfo",
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "registry"
    generate(folder, enterprises=ENTERPRISES, seed=SEED)
    return folder


@pytest.fixture(scope="module")
def manifest(registry: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((registry / "manifest.json").read_text("utf-8"))
    return document


def _dry_run(folder: Path, rejects: Path) -> LoadReport:
    context = ParseContext(TEST_PERSON_KEY.encode(), today=TODAY)
    return load_paths(None, context, [folder], batch_size=250, rejects_dir=rejects)


@pytest.fixture(scope="module")
def dry_run(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadReport, Path]:
    rejects = tmp_path_factory.mktemp("rejects")
    return _dry_run(registry, rejects), rejects


@pytest.fixture(scope="module")
def accepted(registry: Path, dry_run: tuple[LoadReport, Path]) -> dict[str, list[dict[str, str]]]:
    """The rows of every file that the dry run accepted (the rejected lines taken out)."""
    _, rejects = dry_run
    kept = {}
    for name in CANONICAL_FILES:
        rejected_lines = {
            int(row["line"]) for row in _read(rejects / name.replace(".csv", ".rejects.csv"))
        }
        # no cell holds a line break, so data row k (from 0) is on line k + 2
        kept[name] = [
            row for k, row in enumerate(_read(registry / name)) if k + 2 not in rejected_lines
        ]
    return kept


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    encoding = "gbk" if path.name == "court_debtors.csv" else "utf-8"
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


class _Canonical:
    """Party references as written -> the party's key (USCC, REG:number or person number)."""

    def __init__(self, accepted: dict[str, list[dict[str, str]]]) -> None:
        self.aliases: dict[str, str] = {}
        for firm in accepted["legal_persons.csv"]:
            if firm["uscc"]:
                uscc = normalise_code(firm["uscc"])
                self.aliases[uscc[8:17]] = uscc
        for legacy in accepted["legacy_identifiers.csv"]:
            if legacy["legacy_type"] == "registration_number":
                self.aliases["REG:" + legacy["legacy_code"]] = legacy["uscc"]

    def __call__(self, written: str) -> str:
        if written.startswith("DOC:"):
            return written
        code = normalise_code(written)
        return self.aliases.get(code, code)


# --- determinism and the manifest ------------------------------------------------------------


def test_same_arguments_same_bytes_other_seed_other_bytes(registry: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, enterprises=ENTERPRISES, seed=SEED)
    generate(other, enterprises=ENTERPRISES, seed=SEED + 1)
    names = sorted(path.name for path in registry.iterdir() if path.is_file())
    assert names == sorted(path.name for path in again.iterdir())
    for name in names:
        assert (again / name).read_bytes() == (registry / name).read_bytes(), name
    for name in ("legal_persons.csv", "natural_persons.csv", "roles.csv"):
        assert (other / name).read_bytes() != (registry / name).read_bytes(), name


def test_manifest_counts_every_row_of_every_file(registry: Path, manifest: dict[str, Any]) -> None:
    assert manifest["seed"] == SEED and manifest["enterprises"] == ENTERPRISES
    assert manifest["as_of"] == AS_OF.isoformat()
    files = manifest["files"]
    assert set(files) == CANONICAL_FILES == set(HEADERS)
    for name, count in files.items():
        assert count["encoding"] == ("gbk" if name == "court_debtors.csv" else "utf-8")
        assert len(_read(registry / name)) == count["rows"], name
        assert 1 <= count["dirty_rows"] <= max(count["rows"] // 100, 1), name
    legal = files["legal_persons.csv"]
    assert legal["rows"] - legal["dirty_rows"] == ENTERPRISES
    assert manifest["totals"] == {
        "rows": sum(c["rows"] for c in files.values()),
        "dirty_rows": sum(c["dirty_rows"] for c in files.values()),
    }


def test_dry_run_rejects_exactly_the_dirty_rows(
    manifest: dict[str, Any], dry_run: tuple[LoadReport, Path]
) -> None:
    report, _ = dry_run
    assert {Path(f.file).name for f in report.files} == CANONICAL_FILES, "manifest.json skipped"
    for f in report.files:
        count = manifest["files"][Path(f.file).name]
        assert f.read == f.loaded + f.rejected + f.merged == count["rows"], f.file
        assert f.rejected == count["dirty_rows"], (f.file, f.reasons)
        assert f.merged == 0, f.file
    totals = manifest["totals"]
    assert report.loaded == totals["rows"] - totals["dirty_rows"]
    assert report.rejected == totals["dirty_rows"]


def test_a_tiny_registry_has_a_dirty_row_in_every_file_and_still_loads(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "tiny", enterprises=3, seed=5)
    report = _dry_run(tmp_path / "tiny", tmp_path / "rejects")
    for f in report.files:
        count = manifest.files[Path(f.file).name]
        assert count.dirty_rows >= 1
        assert (f.read, f.rejected) == (count.rows, count.dirty_rows), (f.file, f.reasons)


# --- valid where it should be -------------------------------------------------------------------


def test_accepted_identifiers_are_valid_and_in_the_five_cities(
    accepted: dict[str, list[dict[str, str]]],
) -> None:
    firms = accepted["legal_persons.csv"]
    usccs = [validate_uscc(firm["uscc"]) for firm in firms if firm["uscc"]]
    assert len(usccs) == len(set(usccs)) > ENTERPRISES * 0.8
    assert {code[2:6] for code in usccs} == {city.value for city in City}
    assert all(firm["region_code"][:4] in {c.value for c in City} for firm in firms)
    unconverted = [firm for firm in firms if not firm["uscc"]]
    assert unconverted and all(f["kind"].lower() == "individual_business" for f in unconverted)
    assert {f["kind"].lower() for f in firms} == {
        "enterprise",
        "individual_business",
        "public_institution",
        "social_organisation",
    }
    people = accepted["natural_persons.csv"]
    residents = [p for p in people if p["id_type"] == "resident"]
    for person in residents:
        parsed = validate_resident_id(person["id_number"], today=TODAY)
        assert person["sex"] in ("", parsed.sex)
    assert len({normalise_code(p["id_number"]) for p in residents}) == len(residents)
    documents = [p for p in people if p["id_type"] != "resident"]
    assert documents and all(len(p["country"]) == 2 for p in documents)


def test_messy_but_valid_identifiers_load(accepted: dict[str, list[dict[str, str]]]) -> None:
    written = [firm["uscc"] for firm in accepted["legal_persons.csv"] if firm["uscc"]]
    written += [role["person_id_number"] for role in accepted["roles.csv"]]
    written += [role["company_id"] for role in accepted["roles.csv"]]
    full_width = [code for code in written if not code.isascii()]
    lower = [code for code in written if code.isascii() and code != code.upper()]
    spaced = [code for code in written if " " in code]
    org_codes = [code for code in written if re.fullmatch(r"[0-9A-Z]{8}-[0-9X]", code)]
    assert full_width and lower and spaced and org_codes


def test_court_list_is_gbk_like_the_courts_publish_it(
    registry: Path, accepted: dict[str, list[dict[str, str]]]
) -> None:
    raw = (registry / "court_debtors.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "人民法院" in raw.decode("gbk")
    debtors = accepted["court_debtors.csv"]
    assert debtors and all(d["kind"] == "dishonest_debtor" for d in debtors)
    for debtor in debtors:
        assert re.fullmatch(r"（20\d\d）[闽粤]\d{4}执\d{1,4}号", debtor["case_number"])
        assert debtor["court"].endswith("人民法院") and debtor["court"] == debtor["authority_name"]
        assert debtor["obligation"] and debtor["performance"] and debtor["dishonest_behaviour"]


# --- the shape of the registry ------------------------------------------------------------------


def test_every_legal_person_has_one_current_leader(
    accepted: dict[str, list[dict[str, str]]],
) -> None:
    canonical = _Canonical(accepted)
    leaders: Counter[str] = Counter()
    former = 0
    for role in accepted["roles.csv"]:
        if role["role"].lower() in ("legal_representative", "principal"):
            if role["valid_to"]:
                former += 1
                assert role["valid_to"] >= role["valid_from"]
            else:
                leaders[canonical(role["company_id"])] += 1
    firms = {
        canonical(firm["uscc"] or "REG:" + firm["registration_number"])
        for firm in accepted["legal_persons.csv"]
    }
    assert set(leaders) == firms and set(leaders.values()) == {1}
    assert former > 0


def test_officer_degrees_are_heavy_tailed(accepted: dict[str, list[dict[str, str]]]) -> None:
    canonical = _Canonical(accepted)
    degrees = Counter(canonical(role["person_id_number"]) for role in accepted["roles.csv"])
    ordered = sorted(degrees.values())
    median = ordered[len(ordered) // 2]
    assert median <= 2 and ordered[-1] >= 10 * median


def test_a_current_legal_representative_also_serves_another_firm(
    accepted: dict[str, list[dict[str, str]]],
) -> None:
    """What the demo's first query looks for (queries/stats.py)."""
    canonical = _Canonical(accepted)
    posts: dict[str, set[str]] = defaultdict(set)
    represented: dict[str, set[str]] = defaultdict(set)
    for role in accepted["roles.csv"]:
        if role["valid_to"] or role["role"].lower() not in OFFICER_ROLES:
            continue
        person, firm = canonical(role["person_id_number"]), canonical(role["company_id"])
        posts[person].add(firm)
        if role["role"].lower() == "legal_representative" and not firm.startswith("REG:"):
            represented[person].add(firm)
    assert any(len(posts[person]) >= 2 for person in represented)


def test_guarantee_circles_and_ownership_chains(accepted: dict[str, list[dict[str, str]]]) -> None:
    canonical = _Canonical(accepted)
    guarantees: nx.DiGraph[str] = nx.DiGraph()
    for relation in accepted["firm_relations.csv"]:
        if relation["relation"].lower() == "guarantees":
            guarantees.add_edge(canonical(relation["from_id"]), canonical(relation["to_id"]))
    assert any(len(cycle) >= 3 for cycle in nx.simple_cycles(guarantees))

    firms = {canonical(f["uscc"]) for f in accepted["legal_persons.csv"] if f["uscc"]}
    owners: nx.DiGraph[str] = nx.DiGraph()
    stakes: dict[str, float] = defaultdict(float)
    for holding in accepted["shareholdings.csv"]:
        holder, company = canonical(holding["holder_id"]), canonical(holding["company_id"])
        if not holding["valid_to"]:
            stakes[company] += float(holding["stake"])
        if holder in firms:
            owners.add_edge(holder, company)
    assert nx.is_directed_acyclic_graph(owners)
    assert nx.dag_longest_path_length(owners) >= 2, "A holds B holds C"
    assert max(stakes.values()) <= 1 + 1e-9
    relations = {r["relation"].lower() for r in accepted["firm_relations.csv"]}
    assert relations == {"invests_in", "branch_of", "guarantees", "supplies", "member_of"}


def test_records_of_every_kind_and_lifecycle(accepted: dict[str, list[dict[str, str]]]) -> None:
    records = accepted["records.csv"] + accepted["court_debtors.csv"]
    assert {r["kind"].lower() for r in records} == {
        "blacklist",
        "dishonest_debtor",
        "admin_penalty",
        "abnormal_operation",
        "serious_violation",
        "red_list",
        "honour",
        "grade",
    }
    assert {r["status"] for r in records} == {
        "active",
        "expired",
        "repaired",
        "revoked",
        "under_objection",
    }
    assert {r["disclosure"] for r in records} == {
        "public",
        "government_shared",
        "restricted",
        "subject_only",
    }
    # repair only where the city has it (not Foshan, Chaozhou); no objections in Chaozhou
    assert {r["city"] for r in records if r["status"] == "repaired"} <= {"3502", "3501", "3505"}
    assert "4451" not in {r["city"] for r in records if r["status"] == "under_objection"}
    grades = [r for r in records if r["kind"].lower() == "grade"]
    assert grades and all(r["scheme"] and r["grade"] for r in grades)
    on_people = [r for r in records if _is_resident(r["subject_id"]) or "DOC:" in r["subject_id"]]
    assert on_people and len(on_people) < len(records)
    changes = {c["change"] for c in accepted["status_changes.csv"]}
    assert changes >= {"revoked", "objection_opened"}


def _is_resident(written: str) -> bool:
    try:
        validate_resident_id(written, today=TODAY)
    except ValueError:
        return False
    return True
