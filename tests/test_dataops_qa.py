"""A data team's second and later loads: corrected extracts that reuse a relation's id for other
parties, and legacy codes a second source claims for another firm (docs/formats.md, "Load
reports, rejects and re-runs"), on the real embedded store."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from credgraph.graph.identifiers import make_uscc, person_token
from credgraph.graph.schema import RELATION_KEY_INDEXES
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PersonIdType
from credgraph.loaders.loader import load_paths
from credgraph.loaders.mapping import load_mapping
from credgraph.loaders.rows import ParseContext
from credgraph.queries.writes import KEYED_FIRM_RELATIONS, KEYED_ROLES, KEYED_SHAREHOLDINGS

from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, TODAY, ZHANG, load_folder, write_csv

FIRM_C = make_uscc("9", "1", "350203", "MA2Y0003")
REG_NO = "350203600012345"
ZHANG_UID = person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, ZHANG)

ROLES = ["person_id_number", "company_id", "role", "valid_from", "source_record"]
LEGACY = ["uscc", "legacy_type", "legacy_code"]


def _parties(folder: Path) -> Path:
    folder.mkdir()
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [FIRM_A, "厦门鹭岛科技有限公司", "enterprise"],
            [FIRM_B, "福州闽江贸易有限公司", "enterprise"],
            [FIRM_C, "厦门三号有限公司", "enterprise"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张伟"], ["resident", LI, "李娜"]],
    )
    return folder


def _rejects(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with Path(path).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _keyed(graph: GraphStore, key: str) -> list[tuple[str, str, str]]:
    rows = graph.read(
        "MATCH (a)-[r]->(b) WHERE r.key = $key RETURN type(r) AS t, a.uid AS a, b.uid AS b",
        {"key": key},
    )
    return sorted((row["t"], row["a"], row["b"]) for row in rows)


def test_a_corrected_extract_reusing_a_relation_id_for_other_ends_is_rejected(
    graph: GraphStore, tmp_path: Path
) -> None:
    first = _parties(tmp_path / "2025-01")
    write_csv(
        first / "roles.csv",
        ROLES,
        [
            [ZHANG, FIRM_A, "legal_representative", "2015-01-01", "R17"],
            [LI, FIRM_B, "director", "2016-01-01", "R18"],
            [LI, FIRM_C, "principal", "2016-01-01", "R19"],
        ],
    )
    load_folder(graph, first, tmp_path / "rejects-1")
    second = tmp_path / "2025-02"
    second.mkdir()
    write_csv(
        second / "roles.csv",
        ROLES,
        [
            [LI, FIRM_A, "legal_representative", "2015-01-01", "R17"],  # another person
            [LI, FIRM_C, "director", "2016-01-01", "R18"],  # the same person, another firm
            [LI, FIRM_C, "director", "2016-01-01", "R19"],  # another relation type, same ends
            [LI, FIRM_B, "director", "2016-01-01", "R18"],  # as loaded: the same relation
            [ZHANG, FIRM_B, "director", "2020-01-01", "R20"],  # new
        ],
    )
    for run in (1, 2):  # a second run rejects the same rows and writes nothing twice
        report = load_folder(graph, second, tmp_path / f"rejects-2-{run}", batch_size=2)
        roles = report.files[0]
        assert (roles.read, roles.loaded, roles.rejected, roles.merged) == (5, 2, 3, 0)
        rejected = _rejects(roles.rejects_file)
        assert [(int(r["line"]), r["field"]) for r in rejected] == [
            (2, "source_record"),
            (3, "source_record"),
            (4, "source_record"),
        ]
        assert "LEGAL_REPRESENTATIVE_OF 3502**********1252 -> " + FIRM_A in rejected[0]["reason"]
        assert "(roles:2)" in rejected[0]["reason"]
        # the relation as stored: the row that wrote it last (line 5 of the first run)
        shown = f"EXECUTIVE_OF {LI[:4]}**********{LI[-4:]} -> {FIRM_B} (roles:"
        assert shown + ("3)" if run == 1 else "5)") in rejected[1]["reason"]
    assert len(_keyed(graph, "roles:R17")) == 1
    assert len(_keyed(graph, "roles:R18")) == 1
    assert [t for t, _, _ in _keyed(graph, "roles:R19")] == ["PRINCIPAL_OF"]
    assert len(_keyed(graph, "roles:R20")) == 1


def test_a_relation_id_reused_between_two_other_parties_is_rejected(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The stored relation shares neither end with the row: it is found by its key alone."""
    first = _parties(tmp_path / "2025-01")
    write_csv(first / "roles.csv", ROLES, [[ZHANG, FIRM_A, "director", "2015-01-01", "R17"]])
    load_folder(graph, first, tmp_path / "rejects-1")
    stored = graph.read("MATCH ()-[r {key: 'roles:R17'}]->() RETURN properties(r) AS p")
    second = tmp_path / "2025-02"
    second.mkdir()
    write_csv(
        second / "roles.csv",
        ROLES,
        [
            [LI, FIRM_C, "director", "2019-01-01", "R17"],  # two other parties
            [LI, FIRM_B, "director", "2019-01-01", "R18"],  # new
        ],
    )
    roles = load_folder(graph, second, tmp_path / "rejects-2").files[0]
    assert (roles.read, roles.loaded, roles.rejected) == (2, 1, 1)
    [rejected] = _rejects(roles.rejects_file)
    assert (rejected["line"], rejected["field"]) == ("2", "source_record")
    shown = f"EXECUTIVE_OF {ZHANG[:4]}**********{ZHANG[-4:]} -> {FIRM_A} (roles:2)"
    assert shown in rejected["reason"]
    assert _keyed(graph, "roles:R17") == [("EXECUTIVE_OF", ZHANG_UID, FIRM_A)]
    assert graph.read("MATCH ()-[r {key: 'roles:R17'}]->() RETURN properties(r) AS p") == stored
    assert [t for t, _, _ in _keyed(graph, "roles:R18")] == ["EXECUTIVE_OF"]


def test_every_relation_type_read_by_key_has_a_key_index() -> None:
    """A type without one is read by a scan of all its relations, on every re-load's chunk."""
    indexed = {t for s in RELATION_KEY_INDEXES for t in re.findall(r"\[r:(\w+)\]", s)}
    assert len(indexed) == len(RELATION_KEY_INDEXES)
    for statement in (KEYED_ROLES, KEYED_SHAREHOLDINGS, KEYED_FIRM_RELATIONS):
        assert set(re.findall(r"\[r:(\w+)\]", statement)) <= indexed


def test_a_reused_relation_id_is_found_whatever_ledger_the_first_load_left(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The check reads the store only for a source an earlier load committed chunks of (a first
    load of a registry pays nothing for it); a ledger written before chunks named their source
    may hold any source, and the check runs."""
    first = _parties(tmp_path / "2025-01")
    write_csv(first / "roles.csv", ROLES, [[ZHANG, FIRM_A, "legal_representative", "", "R17"]])
    load_folder(graph, first, tmp_path / "rejects-1")
    sources = graph.read("MATCH (c:LoadChunk) WHERE c.file_digest IS NOT NULL RETURN c.source AS s")
    assert {row["s"] for row in sources} == {"legal_persons", "natural_persons", "roles"}
    graph.write("MATCH (c:LoadChunk) REMOVE c.source")  # as an older credgraph left it
    second = tmp_path / "2025-02"
    second.mkdir()
    write_csv(second / "roles.csv", ROLES, [[LI, FIRM_A, "legal_representative", "", "R17"]])
    roles = load_folder(graph, second, tmp_path / "rejects-2").files[0]
    assert (roles.loaded, roles.rejected) == (0, 1)
    assert len(_keyed(graph, "roles:R17")) == 1


def test_a_legacy_code_held_by_one_firm_is_refused_for_another(
    graph: GraphStore, tmp_path: Path
) -> None:
    first = _parties(tmp_path / "amr")
    write_csv(first / "legacy_identifiers.csv", LEGACY, [[FIRM_A, "registration_number", REG_NO]])
    load_folder(graph, first, tmp_path / "rejects-1")
    second = tmp_path / "tax"
    second.mkdir()
    write_csv(
        second / "tax_legacy_identifiers.csv",
        LEGACY,
        [
            [FIRM_B, "registration_number", REG_NO],  # held by FIRM_A
            [FIRM_A, "registration_number", REG_NO],  # its holder again: fine
        ],
    )
    write_csv(
        second / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [[FIRM_C, REG_NO, "厦门三号有限公司", "enterprise"]],  # claims it beside its USCC
    )
    mapping = tmp_path / "tax.yaml"
    mapping.write_text(
        "target: legacy_identifiers\nmatch: ['tax_legacy_*.csv']\nsource: tax\npassthrough: true\n",
        encoding="utf-8",
    )
    report = load_paths(
        graph,
        ParseContext(TEST_PERSON_KEY.encode(), today=TODAY),
        [second],
        batch_size=500,
        rejects_dir=tmp_path / "rejects-2",
        mappings=[load_mapping(mapping)],
    )
    by_name = {Path(f.file).name: f for f in report.files}
    firms, legacy = by_name["legal_persons.csv"], by_name["tax_legacy_identifiers.csv"]
    assert (firms.read, firms.loaded, firms.rejected) == (1, 0, 1)
    assert _rejects(firms.rejects_file) == [
        {
            "line": "2",
            "field": "registration_number",
            "reason": f"registration_number {REG_NO} is already held by {FIRM_A} (in the store): "
            "a legacy code names one legal person",
        }
    ]
    assert (legacy.read, legacy.loaded, legacy.rejected) == (2, 1, 1)
    assert [(r["line"], r["field"]) for r in _rejects(legacy.rejects_file)] == [
        ("2", "legacy_code")
    ]
    holders = graph.read(
        "MATCH (:LegacyCode {uid: $uid})-[:ALIAS_OF]->(n) RETURN n.uid AS uid",
        {"uid": f"registration_number:{REG_NO}"},
    )
    assert {row["uid"] for row in holders} == {FIRM_A}  # once per source that names it
    assert not graph.read(
        "MATCH (n:LegalPerson {registration_number: $code}) RETURN n.uid AS uid", {"code": REG_NO}
    )


def test_two_files_of_one_load_claiming_one_code_name_the_first(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _parties(tmp_path / "in")
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [
            [FIRM_A, REG_NO, "厦门鹭岛科技有限公司", "enterprise"],
            [FIRM_B, "", "福州闽江贸易有限公司", "enterprise"],
        ],
    )
    write_csv(folder / "legacy_identifiers.csv", LEGACY, [[FIRM_B, "registration_number", REG_NO]])
    report = load_folder(graph, folder, tmp_path / "rejects")
    legacy = next(f for f in report.files if f.file.endswith("legacy_identifiers.csv"))
    assert legacy.rejected == 1
    assert _rejects(legacy.rejects_file)[0]["reason"] == (
        f"registration_number {REG_NO} is already held by {FIRM_A} (legal_persons.csv line 2): "
        "a legacy code names one legal person"
    )
