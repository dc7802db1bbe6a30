"""Small named registries for the investigators' queries, loaded through the real loader.

`MiniRegistry` collects parties, relations, records and status changes by short names ("A",
"P"), writes them as canonical CSV files (docs/formats.md) and loads them with `load_paths`
so the tests query exactly what a real load writes. `key(name)` gives the party's `PartyKey`.
`random_parties` and `store_examples` serve the property tests that load a drawn registry into
the store for every example.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType
from credgraph.queries.lookup import PartyKey
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import TEST_PERSON_KEY
from tests.registries import RECORD_HEADER, load_folder, write_csv


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
                # a dishonest judgment debtor names its court and case (docs/formats.md)
                "思明区人民法院" if kind == "dishonest_debtor" else "",  # court
                f"(2024)闽0203执{record_id}号" if kind == "dishonest_debtor" else "",  # case
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
                write_csv(folder / name, header, rows)
        return folder

    def load(self, store: GraphStore, tmp_path: Path) -> None:
        """Write and load; a rejected row is a bug in the test, so it fails loudly."""
        folder = self.write(tmp_path / f"registry{len(list(tmp_path.glob('registry*')))}")
        report = load_folder(store, folder, tmp_path / "rejects")
        assert report.rejected == 0, report.to_json()

    def reload(self, store: GraphStore, tmp_path_factory: pytest.TempPathFactory) -> None:
        """Empty the database, then load: hypothesis runs every example in the test's one."""
        store.write("MATCH (n) DETACH DELETE n")
        self.load(store, tmp_path_factory.mktemp("registry"))


def random_parties(
    draw: Callable[[st.SearchStrategy[int]], int],
    firms: tuple[int, int],
    persons: tuple[int, int] = (0, 0),
) -> tuple[MiniRegistry, list[str], list[str]]:
    """A registry of firms F0, F1, ... and persons P0, P1, ..., how many of each drawn from the
    ranges (`draw` is hypothesis's, of `st.data()` or of a composite strategy)."""
    firm_names = [f"F{i}" for i in range(draw(st.integers(*firms)))]
    person_names = [f"P{i}" for i in range(draw(st.integers(*persons)))] if persons[1] else []
    reg = MiniRegistry()
    for name in firm_names:
        reg.firm(name)
    for name in person_names:
        reg.person(name)
    return reg, firm_names, person_names


def store_examples(max_examples: int) -> settings:
    """Hypothesis settings for a test that loads every example into the `graph` database: the
    database outlives the examples (so `MiniRegistry.reload`), and a load is slow."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def cli_runner(
    monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore, store: GraphStore
) -> CliRunner:
    """A CLI runner whose `credgraph` verbs reach the test's database on the session's server."""
    for name, value in store_env(embedded, store).items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def explain(cli: CliRunner, party: str, day: str) -> dict[str, Any]:
    """`credgraph risk explain PARTY --as-of DAY --json`, its document, asked as an
    investigator does (`--purpose investigation`: a person's report, or one whose contagion
    paths pass through a person, needs a purpose)."""
    from credgraph.cli import app

    arguments = ["risk", "explain", party, "--as-of", day, "--json", "--purpose", "investigation"]
    result = cli.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def store_env(embedded: EmbeddedStore, store: GraphStore) -> dict[str, str]:
    """The settings that point a `credgraph` process at the test's database."""
    address = embedded.address
    return {
        "CREDGRAPH_NEO4J_URI": address.bolt_uri,
        "CREDGRAPH_NEO4J_USER": address.user,
        "CREDGRAPH_NEO4J_PASSWORD": address.password,
        "CREDGRAPH_DATABASE": store.database or "",
        "CREDGRAPH_PERSON_KEY": TEST_PERSON_KEY,
        # a folder of its own, for what a verb keeps there (the audit log of lookups)
        "CREDGRAPH_DATA_DIR": tempfile.mkdtemp(prefix="credgraph-cli-"),
    }


def guarantee_circle(*, former: bool = False) -> MiniRegistry:
    """A guarantee circle A->B->C->A; with `former`, B also guaranteed C until 2020."""
    reg = MiniRegistry()
    for name in ("A", "B", "C"):
        reg.firm(name)
    reg.relate("A", "B")
    reg.relate("B", "C")
    reg.relate("C", "A")
    if former:
        reg.relate("B", "C", since="2015-01-01", until="2020-01-01")
    return reg


def star_registry(leaves: int, kind: str = "supplies") -> MiniRegistry:
    """Hub H relates to L0..L{n-1} (`kind`, from H: it supplies them); L0 also guarantees X."""
    reg = MiniRegistry()
    reg.firm("H")
    reg.firm("X")
    for i in range(leaves):
        reg.firm(f"L{i}")
        reg.relate("H", f"L{i}", kind)
    reg.relate("L0", "X", "guarantees")
    return reg
