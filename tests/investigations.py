"""Small named registries for the investigators' queries, loaded through the real loader.

`MiniRegistry` collects parties, relations, records and status changes by short names ("A",
"P"), writes them as canonical CSV files (docs/formats.md) and loads them with `load_paths`,
so the tests query exactly what a real load writes. `key(name)` gives the party's `PartyKey`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey
from typer.testing import CliRunner

from tests.conftest import TEST_PERSON_KEY

TODAY = date(2026, 6, 30)
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
]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@dataclass
class MiniRegistry:
    """A registry built by name; every id is made valid, every row is meant to load."""

    firms: dict[str, list[str]] = field(default_factory=dict)
    persons: dict[str, list[str]] = field(default_factory=dict)
    roles: list[list[str]] = field(default_factory=list)
    shares: list[list[str]] = field(default_factory=list)
    firm_relations: list[list[str]] = field(default_factory=list)
    records: list[list[str]] = field(default_factory=list)
    changes: list[list[str]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def firm(self, name: str, *, address: str = "", phone: str = "", email: str = "") -> str:
        uscc = make_uscc("9", "1", "350203", f"MA{len(self.ids):06d}")
        self.ids[name] = uscc
        self.firms[name] = [uscc, f"{name}有限公司", "enterprise", address, phone, email]
        return uscc

    def person(self, name: str, *, phone: str = "", email: str = "") -> str:
        number = make_resident_id(
            "350203", date(1960, 1, 1) + timedelta(days=len(self.ids)), 1, "M"
        )
        self.ids[name] = number
        self.persons[name] = ["resident", number, f"人{name}", "M", phone, email]
        return number

    def role(
        self,
        person: str,
        firm: str,
        role: str = "legal_representative",
        *,
        since: str = "",
        until: str = "",
    ) -> None:
        row_id = f"r{len(self.roles)}"
        self.roles.append([self.ids[person], self.ids[firm], role, since, until, row_id])

    def share(
        self, holder: str, firm: str, stake: float | None = 0.5, *, since: str = "", until: str = ""
    ) -> None:
        row_id = f"s{len(self.shares)}"
        value = "" if stake is None else str(stake)
        self.shares.append([self.ids[holder], self.ids[firm], value, since, until, row_id])

    def relate(
        self, a: str, b: str, relation: str = "guarantees", *, since: str = "", until: str = ""
    ) -> None:
        row_id = f"f{len(self.firm_relations)}"
        self.firm_relations.append(
            [self.ids[a], self.ids[b], relation, "1000000", since, until, row_id]
        )

    def record(
        self,
        record_id: str,
        subject: str,
        kind: str = "blacklist",
        *,
        status: str = "active",
        decided: str = "2024-01-01",
        valid_to: str = "",
    ) -> None:
        self.records.append(
            [
                record_id,
                self.ids[subject],
                kind,
                "work_safety",
                "AUTH1",
                "厦门市应急管理局",
                decided,
                decided,
                valid_to,
                status,
                "public",
                "xm-credit",
            ]
        )

    def change(self, record_id: str, change: str, effective_on: str) -> None:
        change_id = f"c{len(self.changes)}"
        self.changes.append([change_id, record_id, "xm-credit", change, effective_on])

    def key(self, name: str) -> PartyKey:
        if name in self.firms:
            return PartyKey(Label.LEGAL_PERSON, self.ids[name])
        token = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, self.ids[name])
        return PartyKey(Label.NATURAL_PERSON, token)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        files = [
            (
                "legal_persons.csv",
                ["uscc", "name", "kind", "address", "phone", "email"],
                list(self.firms.values()),
            ),
            (
                "natural_persons.csv",
                ["id_type", "id_number", "name", "sex", "phone", "email"],
                list(self.persons.values()),
            ),
            (
                "roles.csv",
                [
                    "person_id_number",
                    "company_id",
                    "role",
                    "valid_from",
                    "valid_to",
                    "source_record",
                ],
                self.roles,
            ),
            (
                "shareholdings.csv",
                ["holder_id", "company_id", "stake", "valid_from", "valid_to", "source_record"],
                self.shares,
            ),
            (
                "firm_relations.csv",
                [
                    "from_id",
                    "to_id",
                    "relation",
                    "amount",
                    "valid_from",
                    "valid_to",
                    "source_record",
                ],
                self.firm_relations,
            ),
            ("records.csv", RECORD_HEADER, self.records),
            (
                "status_changes.csv",
                ["change_id", "record_id", "source_system", "change", "effective_on"],
                self.changes,
            ),
        ]
        for name, header, rows in files:
            if rows:
                _write(folder / name, header, rows)
        return folder

    def load(self, store: GraphStore, tmp_path: Path) -> None:
        """Write and load; a rejected row is a bug in the test, so it fails loudly."""
        folder = self.write(tmp_path / f"registry{len(list(tmp_path.glob('registry*')))}")
        report = load_paths(
            store,
            ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
            [folder],
            batch_size=500,
            rejects_dir=tmp_path / "rejects",
        )
        assert report.rejected == 0, report.to_json()


def cli_runner(
    monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore, store: GraphStore
) -> CliRunner:
    """A CLI runner whose `credgraph` verbs reach the test's database on the session's server."""
    address = embedded.address
    env = {
        "CREDGRAPH_NEO4J_URI": address.bolt_uri,
        "CREDGRAPH_NEO4J_USER": address.user,
        "CREDGRAPH_NEO4J_PASSWORD": address.password,
        "CREDGRAPH_DATABASE": store.database or "",
        "CREDGRAPH_PERSON_KEY": TEST_PERSON_KEY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner()
