"""A dry run matches a masked identifier (`91230199744****927K`, `3502**********1234`) as the
real load of the same files would: against the parties an earlier file of the run accepted
(with the names it gave them) as well as the store's, each party counted once."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import make_resident_id, make_uscc, upgraded_resident_id
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import Loader, plan_load
from credgraph.loaders.mapping import builtin_mappings, load_mapping
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.queries.dump import dump_graph

from tests.conftest import TEST_PERSON_KEY
from tests.registries import TODAY, ftm_entity, run_load, write_csv

FIRM_A = make_uscc("9", "1", "350203", "MA2Y0031")
FIRM_B = make_uscc("9", "1", "350102", "MA2Y0032")
ZHANG = make_resident_id("350203", date(1975, 3, 2), 12, "M")
LI = make_resident_id("350102", date(1982, 11, 30), 7, "F")


def _uscc_twin(uscc: str) -> str:
    """Another valid USCC with the same characters outside positions 12-15 (0-based 11-14)."""
    for n in range(10000):
        twin = make_uscc(uscc[0], uscc[1], uscc[2:8], uscc[8:11] + f"{n:05d}")
        if twin != uscc and twin[:11] == uscc[:11] and twin[15:] == uscc[15:]:
            return twin
    raise AssertionError("no twin")


def _resident_twin(number: str) -> str:
    """Another resident ID with the same first four and last four characters (the only ones
    credgraph keeps): same region, sequence and sex, another birth date."""
    birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    sex = "M" if int(number[16]) % 2 else "F"
    for days in range(1, 4000):
        twin = make_resident_id(number[:6], birth + timedelta(days=days), int(number[14:16]), sex)
        if twin[-4:] == number[-4:]:
            return twin
    raise AssertionError("no twin")


TWIN_A = _uscc_twin(FIRM_A)
ZHANG_TWIN = _resident_twin(ZHANG)


def _masked_uscc(uscc: str) -> str:
    return uscc[:11] + "****" + uscc[15:]


def _masked_person(number: str) -> str:
    return number[:4] + "*" * 10 + number[-4:]


NOBODY = "3509**********0000"  # fits no one
ROLE_HEADER = [
    "person_id_number",
    "person_name",
    "company_id",
    "company_name",
    "role",
    "valid_from",
    "source_record",
]
ROLES = [
    [_masked_person(LI), "", FIRM_B, "", "supervisor", "2016-01-01", "r1"],  # one fits
    [_masked_person(ZHANG), "", FIRM_B, "", "director", "2015-01-01", "r2"],  # two fit
    [_masked_person(ZHANG), "张伟", FIRM_B, "", "chair", "2015-01-01", "r3"],  # the name: one
    [ZHANG, "", _masked_uscc(FIRM_A), "", "director", "2015-01-01", "r4"],  # two fit
    [ZHANG, "", _masked_uscc(FIRM_A), "孪生科技有限公司", "manager", "2015-01-01", "r5"],
    [NOBODY, "", FIRM_B, "", "manager", "2015-01-01", "r6"],  # none fits
    [LI, "", _masked_uscc(FIRM_B), "", "director", "2017-01-01", "r7"],  # one fits
    # two fit, the name beside it neither: it said "matches no party in the store"
    [_masked_person(ZHANG), "赵六", FIRM_B, "", "manager", "2015-01-01", "r8"],
]
COUNTS = ("read", "loaded", "rejected", "merged", "folded")
AMBIGUOUS = "masked identifier matches 2 parties; give the party's name beside it to narrow it"
NONE_FITS = "masked identifier matches no party loaded"
NO_NAME_FITS = (
    "masked identifier matches 2 parties, and the name beside it is the name of none of them"
)


def _registry(tmp_path: Path) -> Path:
    """The run's files: parties, and roles naming some of them by masked identifiers."""
    folder = tmp_path / "registry"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [FIRM_A, "厦门鹭岛科技有限公司", "enterprise"],
            [TWIN_A, "孪生科技有限公司", "enterprise"],
            [FIRM_B, "福州闽江贸易有限公司", "enterprise"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [
            ["resident", ZHANG, "张伟", "M"],
            ["resident", ZHANG_TWIN, "王芳", "M"],
            ["resident", LI, "李娜", "F"],
        ],
    )
    write_csv(folder / "roles.csv", ROLE_HEADER, ROLES)
    return folder


def _counts(report: LoadReport) -> list[dict[str, Any]]:
    files = [f.to_json() for f in report.files]
    return [{"file": Path(f["file"]).name, **{key: f[key] for key in COUNTS}} for f in files]


def _rejects(folder: Path) -> dict[str, list[tuple[str, str, str]]]:
    found = {}
    for path in sorted(folder.glob("*.rejects.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle)
            found[path.name] = [(row["line"], row["field"], row["reason"]) for row in rows]
    return found


def test_a_dry_run_without_a_store_matches_masks_against_the_runs_parties(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _registry(tmp_path)
    dry = run_load(None, [folder], tmp_path / "dry", dry_run=True)
    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)

    assert _rejects(tmp_path / "real") == {
        "roles.rejects.csv": [
            ("3", "person_id_number", AMBIGUOUS),
            ("5", "company_id", AMBIGUOUS),
            ("7", "person_id_number", NONE_FITS),
            ("9", "person_id_number", NO_NAME_FITS),
        ]
    }
    assert dry.dry_run
    assert _counts(dry) == _counts(real)
    assert _rejects(tmp_path / "dry") == _rejects(tmp_path / "real")


def test_a_dry_run_matches_masks_against_the_store_and_the_run_each_party_once(
    graph: GraphStore, tmp_path: Path
) -> None:
    # the store holds one firm of the run (and not its twin), and Zhang under another name,
    # which the run's natural_persons.csv changes
    before = tmp_path / "before"
    before.mkdir()
    write_csv(
        before / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "厦门鹭岛科技有限公司", "enterprise"]],
    )
    write_csv(
        before / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", ZHANG, "张卫", "M"], ["resident", LI, "李娜", "F"]],
    )
    first = run_load(graph, [before], tmp_path / "first", dry_run=False)
    assert [f.rejected for f in first.files] == [0, 0]

    folder = _registry(tmp_path)
    stored = dump_graph(graph)
    dry = run_load(graph, [folder], tmp_path / "dry", dry_run=True)
    assert dump_graph(graph) == stored, "the dry run wrote to the store"
    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)

    assert _rejects(tmp_path / "real") == {
        "roles.rejects.csv": [
            ("3", "person_id_number", AMBIGUOUS),
            ("5", "company_id", AMBIGUOUS),
            ("7", "person_id_number", NONE_FITS),
            ("9", "person_id_number", NO_NAME_FITS),
        ]
    }
    assert _counts(dry) == _counts(real)
    assert _rejects(tmp_path / "dry") == _rejects(tmp_path / "real")


@pytest.mark.parametrize("stored", [False, True], ids=["no-store", "store"])
def test_a_secondary_source_names_only_the_parties_it_creates(
    graph: GraphStore, tmp_path: Path, stored: bool
) -> None:
    """An FtM file (a secondary source) gives its name to a person it creates, and leaves the
    name of one the store holds: a dry run matches the name beside a mask as the load does."""
    firms = (["uscc", "name", "kind"], [[FIRM_B, "福州闽江贸易有限公司", "enterprise"]])
    if stored:
        before = tmp_path / "before"
        before.mkdir()
        write_csv(before / "legal_persons.csv", *firms)
        write_csv(
            before / "natural_persons.csv",
            ["id_type", "id_number", "name", "sex"],
            [["resident", ZHANG, "张卫", "M"]],
        )
        run_load(graph, [before], tmp_path / "first", dry_run=False)
    folder = tmp_path / "run"
    folder.mkdir()
    write_csv(folder / "legal_persons.csv", *firms)
    people = [
        ftm_entity("p-z", "Person", name="张伟", idNumber=ZHANG),
        ftm_entity("p-t", "Person", name="王芳", idNumber=ZHANG_TWIN),
    ]
    (folder / "people.ftm.json").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in people), encoding="utf-8"
    )
    mask = _masked_person(ZHANG)
    write_csv(
        folder / "roles.csv",
        ROLE_HEADER,
        [
            [mask, "张卫", FIRM_B, "", "director", "2015-01-01", "n1"],
            [mask, "张伟", FIRM_B, "", "manager", "2015-01-01", "n2"],
            [mask, "王芳", FIRM_B, "", "supervisor", "2015-01-01", "n3"],
            [mask, "", FIRM_B, "", "chair", "2015-01-01", "n4"],
        ],
    )
    dry = run_load(graph if stored else None, [folder], tmp_path / "dry", dry_run=True)
    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)

    # the mask fits both people, the name beside it neither
    unnamed = ("3" if stored else "2", "person_id_number", NO_NAME_FITS)
    assert _rejects(tmp_path / "real") == {
        "roles.rejects.csv": [unnamed, ("5", "person_id_number", AMBIGUOUS)]
    }
    assert _counts(dry) == _counts(real)
    assert _rejects(tmp_path / "dry") == _rejects(tmp_path / "real")


def test_the_name_columns_beside_masks_are_fields_a_mapping_names_and_no_unused_columns(
    graph: GraphStore, tmp_path: Path
) -> None:
    """formats.md: a masked identifier is checked against the name column beside it. A mapping
    may name those columns (`person_name: 姓名`), and a canonical file's are not told as
    columns not loaded (misspelt?)."""
    folder = _registry(tmp_path)
    canonical = run_load(graph, [folder], tmp_path / "canonical", dry_run=False)
    assert canonical.files[-1].unused_columns == []
    assert canonical.to_json()["files"][-1]["unused_columns"] == []

    mapped = tmp_path / "mapped"
    mapped.mkdir()
    header = ["证件号码", "姓名", "企业代码", "企业名称", "职务", "起始日期", "记录号"]
    write_csv(mapped / "任职.csv", header, ROLES)
    mapping_file = tmp_path / "roles.yaml"
    mapping_file.write_text(
        "target: roles\nmatch: ['任职*.csv']\nfields:\n"
        "  person_id_number: 证件号码\n  person_name: 姓名\n"
        "  company_id: 企业代码\n  company_name: 企业名称\n"
        "  role: 职务\n  valid_from: 起始日期\n  source_record: 记录号\n",
        encoding="utf-8",
    )
    loader = Loader(
        graph,
        ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
        batch_size=100,
        rejects_dir=tmp_path / "mapped-rejects",
    )
    report = loader.load(plan_load([mapped], [load_mapping(mapping_file)], builtin_mappings()))
    roles = report.files[0]
    # the same answers as the canonical file's: 张伟 beside a mask that fits two narrows it
    assert (roles.read, roles.rejected) == (8, 4)
    assert [
        (line, field)
        for line, field, _ in _rejects(tmp_path / "mapped-rejects")["任职.rejects.csv"]
    ] == [
        ("3", "person_id_number"),
        ("5", "company_id"),
        ("7", "person_id_number"),
        ("9", "person_id_number"),
    ]


def test_a_person_of_a_first_generation_number_is_found_by_the_mask_of_its_18_characters(
    graph: GraphStore, tmp_path: Path
) -> None:
    # a 15-digit number is stored upgraded to 18 characters, and masked as those: a masked
    # reference keeps the 18 characters' length, a mask of the 15 digits is refused for its own
    first_generation = "350102690713351"
    masked = _masked_person(upgraded_resident_id(first_generation))
    folder = tmp_path / "registry"
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_B, "福州闽江贸易有限公司", "enterprise"]],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", first_generation, "陈静", "M"]],
    )
    fifteen = first_generation[:4] + "*" * 7 + first_generation[-4:]
    roles = [
        [masked, "", FIRM_B, "", "supervisor", "2016-01-01", "r1"],
        [fifteen, "", FIRM_B, "", "director", "2016-01-01", "r2"],
    ]
    write_csv(folder / "roles.csv", ROLE_HEADER, roles)
    dry = run_load(None, [folder], tmp_path / "dry", dry_run=True)
    real = run_load(graph, [folder], tmp_path / "real", dry_run=False)

    refused = ("3", "person_id_number", "a masked identifier must keep its length of 18 characters")
    assert _rejects(tmp_path / "real") == {"roles.rejects.csv": [refused]}
    assert _rejects(tmp_path / "dry") == _rejects(tmp_path / "real")
    assert _counts(dry) == _counts(real)
