"""Small named registries, written as canonical files, for tests that load real files."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import ftm_person_token, make_resident_id, make_uscc
from credgraph.graph.store import GraphStore
from credgraph.loaders.loader import Loader, load_paths, plan_load
from credgraph.loaders.mapping import builtin_mappings
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext

from tests.conftest import TEST_PERSON_KEY

TODAY = date(2026, 6, 30)  # the day the tests' loads happen on
FIRM_A = make_uscc("9", "1", "350203", "MA2Y0001")
FIRM_B = make_uscc("9", "1", "350102", "MA2Y0002")
SHOP_C = "REG:350203600012345"
ZHANG = make_resident_id("350203", date(1975, 3, 2), 12, "M")
LI = make_resident_id("350102", date(1982, 11, 30), 7, "F")
BAD_USCC = FIRM_A[:-1] + ("0" if FIRM_A[-1] != "0" else "1")
UNKNOWN_FIRM = make_uscc("9", "1", "445102", "MA2Y0099")

# the columns of records.csv (and court_debtors.csv) the small registries write
RECORD_HEADER = [
    "record_id",
    "subject_id",
    "kind",
    "sector",
    "authority_code",
    "authority_name",
    "decision_date",
    "valid_from",
    "valid_to",
    "status",
    "disclosure",
    "source_system",
    "court",
    "case_number",
]


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8"
) -> None:
    """A canonical file: the header, then the rows."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_tiny_registry(tmp_path: Path) -> Path:
    """Two firms, an individual business, two people, their links and records, 4 dirty rows."""
    d = tmp_path / "tiny"
    d.mkdir()
    write_csv(
        d / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind", "registered_on"],
        [
            [FIRM_A, "", "厦门鹭岛科技有限公司", "enterprise", "2010-05-04"],
            [
                FIRM_B.lower(),
                "",
                "福州闽江贸易有限公司",
                "enterprise",
                "2012-01-09",
            ],  # lower case is fine
            ["", "350203600012345", "思明区老张小吃店", "individual_business", ""],
            [BAD_USCC, "", "坏码公司", "enterprise", ""],  # dirty: check character
            [FIRM_A, "", "厦门鹭岛科技有限公司", "enterprise", "2010-05-04"],  # duplicate: merged
        ],
    )
    write_csv(
        d / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [
            ["resident", ZHANG, "张伟", "M"],
            [
                "resident",
                "".join(chr(ord(c) + 0xFEE0) for c in LI),
                "李娜",
                "F",
            ],  # full-width digits
        ],
    )
    write_csv(
        d / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "valid_to", "source_record"],
        [
            [ZHANG, FIRM_A, "legal_representative", "2010-05-04", "", "r1"],
            [ZHANG, FIRM_B, "director", "2015-01-01", "", "r2"],
            [LI, FIRM_A, "supervisor", "2016-01-01", "", "r3"],
            [ZHANG, SHOP_C, "legal_representative", "2011-01-01", "2020-06-30", "r4"],
            [LI, FIRM_B, "janitor", "", "", "r5"],  # dirty: unknown role
        ],
    )
    write_csv(
        d / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [
            [FIRM_A, FIRM_B, "0.6", "s1"],
            [LI, FIRM_B, "0.4", "s2"],
        ],
    )
    write_csv(
        d / "firm_relations.csv",
        ["from_id", "to_id", "relation", "amount", "valid_from", "source_record"],
        [
            [FIRM_A, FIRM_B, "guarantees", "7500000", "2019-02-30", "g0"],  # dirty: no such date
            [FIRM_A, FIRM_B, "guarantees", "7500000", "2019-02-28", "g1"],
        ],
    )
    write_csv(
        d / "records.csv",
        RECORD_HEADER,
        [
            [
                "B-1",
                FIRM_A,
                "blacklist",
                "work_safety",
                "AUTH1",
                "厦门市应急管理局",
                "2024-03-01",
                "2024-03-01",
                "2027-03-01",
                "active",
                "public",
                "xm-credit",
                "",
                "",
            ],
            [
                "P-1",
                FIRM_B,
                "admin_penalty",
                "tax",
                "AUTH2",
                "福州市税务局",
                "2019-01-01",
                "2019-01-01",
                "2019-04-01",
                "expired",
                "public",
                "fz-credit",
                "",
                "",
            ],
            [
                "P-2",
                UNKNOWN_FIRM,
                "admin_penalty",
                "tax",
                "AUTH2",
                "福州市税务局",
                "2020-01-01",
                "",
                "",
                "active",
                "public",
                "fz-credit",
                "",
                "",
            ],  # dirty: unknown subject
        ],
    )
    write_csv(
        d / "court_debtors.csv",
        RECORD_HEADER,
        [
            [
                "D-1",
                ZHANG,
                "dishonest_debtor",
                "judicial",
                "COURT1",
                "厦门市思明区人民法院",
                "2023-07-01",
                "2023-07-01",
                "",
                "active",
                "public",
                "court",
                "厦门市思明区人民法院",
                "(2023)闽0203执1234号",
            ],
        ],
        encoding="gbk",
    )
    return d


def load_folder(
    store: GraphStore, folder: Path, rejects_dir: Path, batch_size: int = 500
) -> LoadReport:
    """Load a folder of canonical files as `credgraph load` does, with the tests' person key,
    on `TODAY`."""
    context = ParseContext(TEST_PERSON_KEY.encode(), today=TODAY)
    return load_paths(store, context, [folder], batch_size=batch_size, rejects_dir=rejects_dir)


def run_load(
    store: GraphStore | None, paths: list[Path], rejects: Path, *, dry_run: bool
) -> LoadReport:
    """`credgraph load PATHS [--dry-run]` through the loader the CLI runs, with the tests'
    person key, on `TODAY`."""
    loader = Loader(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
        batch_size=100,
        rejects_dir=rejects,
        dry_run=dry_run,
    )
    return loader.load(plan_load(paths, (), builtin_mappings()))


@pytest.fixture
def tiny_registry(tmp_path: Path) -> Path:
    return write_tiny_registry(tmp_path)


def ftm_entity(entity_id: str, schema: str, **properties: Any) -> dict[str, Any]:
    """A FollowTheMoney entity line: each property a value or a list of values."""
    values = {k: v if isinstance(v, list) else [v] for k, v in properties.items()}
    return {"id": entity_id, "schema": schema, "properties": values, "datasets": ["cn_test"]}


def ftm_merged(entity: dict[str, Any], *referents: str) -> dict[str, Any]:
    """The entity as a later export gives it, with the ids merged into it."""
    return {**entity, "referents": list(referents)}


def ftm_token(entity_id: str) -> str:
    """The uid of a person an FtM file keys by its entity id (the test person key)."""
    return ftm_person_token(TEST_PERSON_KEY.encode(), entity_id)


def debtor_row(record_id: str, subject: str) -> list[str]:
    """A `court_debtors.csv` row (RECORD_HEADER) of the Siming court: an active dishonest
    debtor listed from 2024-06-01."""
    return [
        record_id,
        subject,
        "dishonest_debtor",
        "judicial",
        "",
        "",
        "2024-06-01",
        "2024-06-01",
        "",
        "active",
        "public",
        "xm_court",
        "思明区人民法院",
        f"(2024)闽0203执{record_id}号",
    ]
