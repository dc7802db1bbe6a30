"""Individual businesses known only by their operator's identity (`OPR:` parties), loaded from
real files into the real embedded store."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import (
    make_resident_id,
    make_uscc,
    operator_token,
    person_token,
)
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType
from credgraph.loaders.report import FileReport, LoadReport
from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
from credgraph.queries.lookup import BadIdentifier, PartyKey, resolve_identifier

from credgraph.cli import app
from tests.api_support import start_api_env_with
from tests.conftest import TEST_PERSON_KEY, new_database
from tests.investigations import cli_runner
from tests.registries import (
    FIRM_A,
    LI,
    RECORD_HEADER,
    ZHANG,
    debtor_row,
    run_load,
    write_csv,
)

KEY = TEST_PERSON_KEY.encode()
LEGAL_HEADER = [
    "uscc",
    "registration_number",
    "name",
    "kind",
    "operator_id_type",
    "operator_id_number",
    "operator_country",
]
PERSON_HEADER = ["id_type", "id_number", "country", "name"]
ROLE_HEADER = ["person_id_number", "company_id", "role", "source_record"]
# Zhang runs a noodle stall registered under nothing but his resident ID
STALL = "OPR:" + operator_token(KEY, PersonIdType.RESIDENT, ZHANG)
PASSPORT = "E12345678"
WANG_STALL = "OPR:" + operator_token(KEY, PersonIdType.PASSPORT, PASSPORT, "GB")


def _stall_row(number: str = ZHANG, *, kind: str = "individual_business") -> list[str]:
    return ["", "", "思明区老张面馆", kind, "resident", number, ""]


def _load(store: GraphStore, paths: list[Path], tmp_path: Path) -> LoadReport:
    return run_load(store, paths, tmp_path / "rejects", dry_run=False)


def _file(report: LoadReport, name: str) -> FileReport:
    return next(f for f in report.files if Path(f.file).name == name)


def _rejects(report: FileReport) -> list[dict[str, str]]:
    assert report.rejects_file is not None
    with Path(report.rejects_file).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return [str(value)]


def test_a_business_with_only_its_operators_id_is_keyed_by_a_token_of_its_own(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    passport_stall = ["", "", "Wang's Tea", "individual_business", "passport", PASSPORT, "gb"]
    write_csv(folder / "legal_persons.csv", LEGAL_HEADER, [_stall_row(), passport_stall])
    write_csv(folder / "natural_persons.csv", PERSON_HEADER, [["resident", ZHANG, "", "张三"]])
    report = _load(graph, [folder], tmp_path)
    firms = _file(report, "legal_persons.csv")
    assert (firms.read, firms.loaded, firms.rejected) == (2, 2, 0)

    rows = graph.read(
        "MATCH (n:LegalPerson) RETURN n.uid AS uid, n.operator_key AS key, "
        "n.operator_id_masked AS masked, n.operator_id_type AS type ORDER BY n.name"
    )
    by_uid = {row["uid"]: row for row in rows}
    assert set(by_uid) == {STALL, WANG_STALL}
    assert by_uid[STALL]["masked"] == ZHANG[:4] + "*" * 10 + ZHANG[-4:]
    assert by_uid[STALL]["key"] == STALL.removeprefix("OPR:")
    assert by_uid[WANG_STALL]["type"] == "passport"
    # not the person's own token: a caller holding the business's uid and the person's cannot
    # tell that one runs the other by comparing them
    zhang = person_token(KEY, PersonIdType.RESIDENT, ZHANG)
    assert STALL.removeprefix("OPR:") != zhang
    # the operator, loaded in the same run, is the business's principal; Wang is not loaded
    principal = graph.read(
        "MATCH (p:NaturalPerson)-[r:PRINCIPAL_OF]->(n:LegalPerson) "
        "RETURN p.uid AS person, n.uid AS firm, r.role AS role"
    )
    assert principal == [{"person": zhang, "firm": STALL, "role": "principal"}]

    # the id the API gives the business finds it, and so does the operator's number
    for given in (STALL, f"OPR:{ZHANG}", f" opr:{ZHANG.lower()} "):
        assert resolve_identifier(graph, given, KEY) == PartyKey(Label.LEGAL_PERSON, STALL)
    assert resolve_identifier(graph, f"OPR:DOC:passport:GB:{PASSPORT}", KEY) == PartyKey(
        Label.LEGAL_PERSON, WANG_STALL
    )
    assert resolve_identifier(graph, f"OPR:{LI}", KEY) is None
    with pytest.raises(BadIdentifier, match="resident ID") as bad:
        resolve_identifier(graph, f"OPR:{ZHANG[:-1]}Y", KEY)
    assert ZHANG[:-1] not in str(bad.value)

    # no raw ID number anywhere in the graph: no property of any node or relation holds one
    dump = dump_graph(graph)
    held = [s for item in (*dump.nodes, *dump.relations) for s in _strings(item)]
    for secret in (ZHANG, ZHANG[:6] + ZHANG[8:17], PASSPORT):
        assert not [s for s in held if secret in s.upper()], secret


def test_a_bad_operator_id_or_an_operator_of_another_kind_is_rejected_naming_the_column(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bad_check = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")
    unborn = make_resident_id("350203", date(2030, 1, 1), 3, "M")
    write_csv(
        folder / "legal_persons.csv",
        LEGAL_HEADER,
        [
            _stall_row(bad_check),  # line 2
            _stall_row(unborn),  # line 3
            [FIRM_A, "", "厦门鹭岛科技有限公司", "enterprise", "resident", LI, ""],  # line 4
            ["", "", "无证小店", "individual_business", "passport", PASSPORT, ""],  # line 5
            ["", "", "无证小店", "individual_business", "resident", "", ""],  # line 6
            ["", "", "无证小店", "individual_business", "", "", ""],  # line 7
            _stall_row(),  # line 8: good
        ],
    )
    report = _file(_load(graph, [folder], tmp_path), "legal_persons.csv")
    assert (report.read, report.loaded, report.rejected) == (7, 1, 6)
    rejects = {int(row["line"]): row for row in _rejects(report)}
    assert {line: row["field"] for line, row in rejects.items()} == {
        2: "operator_id_number",
        3: "operator_id_number",
        4: "operator_id_type",
        5: "operator_country",
        6: "operator_id_number",
        7: "uscc",
    }
    assert "check character" in rejects[2]["reason"]
    assert "birth date" in rejects[3]["reason"]
    assert "only an individual business has an operator" in rejects[4]["reason"]
    assert "operator_id_number" in rejects[7]["reason"]
    # the rejects never repeat the numbers
    text = Path(str(report.rejects_file)).read_text(encoding="utf-8")
    assert bad_check not in text and unborn not in text and LI not in text
    assert graph.read("MATCH (n:LegalPerson) RETURN n.uid AS uid") == [{"uid": STALL}]


def _stall_with_links(tmp_path: Path) -> Path:
    folder = tmp_path / "links"
    folder.mkdir()
    write_csv(folder / "legal_persons.csv", LEGAL_HEADER, [_stall_row()])
    write_csv(
        folder / "natural_persons.csv",
        PERSON_HEADER,
        [["resident", LI, "", "李四"], ["resident", ZHANG, "", "张三"]],
    )
    write_csv(
        folder / "roles.csv",
        ROLE_HEADER,
        [
            [LI, f"OPR:{ZHANG}", "manager", "r1"],
            [LI, f"opr:{ZHANG[:6]}-{ZHANG[6:]}", "cfo", "r2"],  # written loosely, same stall
            [LI, f"OPR:{ZHANG[:-1]}0" if ZHANG[-1] != "0" else f"OPR:{ZHANG[:-1]}1", "cfo", "r3"],
            [LI, f"OPR:{LI}", "cfo", "r4"],  # a valid number, but nobody's business
        ],
    )
    write_csv(folder / "court_debtors.csv", RECORD_HEADER, [debtor_row("d1", f"OPR:{ZHANG}")])
    return folder


def test_references_by_the_operators_id_reach_the_business_and_a_second_load_changes_nothing(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _stall_with_links(tmp_path)
    report = _load(graph, [folder], tmp_path)
    roles = _file(report, "roles.csv")
    assert (roles.read, roles.loaded, roles.rejected) == (4, 2, 2)
    rejects = {int(row["line"]): row for row in _rejects(roles)}
    assert {line: row["field"] for line, row in rejects.items()} == {
        4: "company_id",
        5: "company_id",
    }
    assert "neither in this load nor in the store" in rejects[5]["reason"]
    assert _file(report, "court_debtors.csv").loaded == 1
    linked = graph.read(
        "MATCH (p:NaturalPerson)-[r]->(n:LegalPerson {uid: $uid}) "
        "RETURN type(r) AS type ORDER BY type",
        {"uid": STALL},
    )
    assert [row["type"] for row in linked] == ["EXECUTIVE_OF", "EXECUTIVE_OF", "PRINCIPAL_OF"]
    records = graph.read(
        "MATCH (n:LegalPerson {uid: $uid})-[:SUBJECT_OF]->(r) RETURN r.record_id AS id",
        {"uid": STALL},
    )
    assert records == [{"id": "d1"}]

    ignore = ("run_id", "loaded_at")
    before = dump_graph(graph, ignore=ignore, skip_labels=["LoadChunk"])
    again = _load(graph, [folder], tmp_path)
    assert all(f.balanced for f in again.files)
    assert dump_graph(graph, ignore=ignore, skip_labels=["LoadChunk"]) == before


SHOP_USCC = make_uscc("9", "2", "350203", "MA2Y0077")
SHOP_REG = "350203600012345"


def _converted(tmp_path: Path, *, uscc: str = SHOP_USCC, reg: str = "") -> Path:
    """A later extract: the stall under its USCC (or registration number), with its operator."""
    folder = tmp_path / f"converted-{uscc or reg}"
    folder.mkdir()
    row = [uscc, reg, "思明区老张面馆", "individual_business", "resident", ZHANG, ""]
    write_csv(folder / "legal_persons.csv", LEGAL_HEADER, [row])
    return folder


@pytest.mark.parametrize("key", ["uscc", "registration_number"])
def test_the_operators_business_folds_into_its_uscc_whichever_comes_first(
    embedded, driver, tmp_path: Path, key: str
) -> None:  # type: ignore[no-untyped-def]
    registry = _stall_with_links(tmp_path)
    converted = (
        _converted(tmp_path) if key == "uscc" else _converted(tmp_path, uscc="", reg=SHOP_REG)
    )
    party = SHOP_USCC if key == "uscc" else f"REG:{SHOP_REG}"
    orders = {
        "old extract, then new": [[registry], [converted]],
        "new extract, then old": [[converted], [registry]],
        "both in one run": [[registry, converted]],
    }
    # a dry run without a store tells the fold the load would do
    dry = run_load(None, [registry, converted], tmp_path / "dry", dry_run=True)
    assert sum(f.folded for f in dry.files) == 1
    assert all(f.balanced for f in dry.files)
    stores = {name: new_database(embedded, driver, prefix="opr") for name in orders}
    try:
        for name, runs in orders.items():
            reports = [_load(stores[name], paths, tmp_path) for paths in runs]
            assert sum(f.folded for r in reports for f in r.files) == 1, name
            assert all(f.balanced for r in reports for f in r.files), name
            roles = [f for r in reports for f in r.files if Path(f.file).name == "roles.csv"]
            assert [f.loaded for f in roles] == [2], name
        ignore = (*LINEAGE_OF_RUN, "source_row")
        dumps = {
            name: dump_graph(store, ignore=ignore, skip_labels=["LoadChunk"])
            for name, store in stores.items()
        }
        first = dumps["old extract, then new"]
        assert all(dump == first for dump in dumps.values())

        store = stores["new extract, then old"]
        firms = store.read(
            "MATCH (n:LegalPerson) RETURN n.uid AS uid, n.former_uids AS former, "
            "n.operator_key AS key"
        )
        assert firms == [{"uid": party, "former": [STALL], "key": STALL.removeprefix("OPR:")}]
        linked = store.read(
            "MATCH (:NaturalPerson)-[r:EXECUTIVE_OF]->(n:LegalPerson {uid: $uid}) RETURN count(r)"
            " AS n",
            {"uid": party},
        )
        assert linked == [{"n": 2}]
        principal = store.read(
            "MATCH (p:NaturalPerson)-[r:PRINCIPAL_OF]->(n:LegalPerson) "
            "RETURN p.uid AS person, n.uid AS firm, r.role AS role"
        )
        zhang = person_token(KEY, PersonIdType.RESIDENT, ZHANG)
        assert principal == [{"person": zhang, "firm": party, "role": "principal"}]
        records = store.read(
            "MATCH (n:LegalPerson {uid: $uid})-[:SUBJECT_OF]->(r) RETURN r.record_id AS id",
            {"uid": party},
        )
        assert records == [{"id": "d1"}]
        for given in (STALL, f"OPR:{ZHANG}"):  # the API's lookup finds where it folded
            assert resolve_identifier(store, given, KEY) == PartyKey(Label.LEGAL_PERSON, party)
        # loading everything again changes nothing
        again = _load(store, [registry, converted], tmp_path)
        assert sum(f.folded for f in again.files) == 0
        assert (
            dump_graph(store, ignore=ignore, skip_labels=["LoadChunk"])
            == dumps["new extract, then old"]
        )
    finally:
        for store in stores.values():
            embedded.drop_database(store.database or "")


@pytest.mark.parametrize("persons_first", [True, False], ids=["persons-first", "firms-first"])
def test_the_operator_becomes_the_principal_whichever_is_loaded_first(
    graph: GraphStore, tmp_path: Path, persons_first: bool
) -> None:
    firms = tmp_path / "firms"
    firms.mkdir()
    write_csv(firms / "legal_persons.csv", LEGAL_HEADER, [_stall_row()])
    people = tmp_path / "people"
    people.mkdir()
    write_csv(people / "natural_persons.csv", PERSON_HEADER, [["resident", ZHANG, "", "张三"]])
    query = (
        "MATCH (p:NaturalPerson)-[r:PRINCIPAL_OF]->(n:LegalPerson) "
        "RETURN p.uid AS person, n.uid AS uid, r.source AS source"
    )
    zhang = person_token(KEY, PersonIdType.RESIDENT, ZHANG)
    runs = [[people], [firms]] if persons_first else [[firms], [people]]

    first = _load(graph, runs[0], tmp_path).files[0]
    # a business whose operator is not loaded yet is accepted, without the link
    assert (first.read, first.loaded, first.rejected) == (1, 1, 0)
    assert graph.read(query) == []
    _load(graph, runs[1], tmp_path)
    # the row that comes second writes it, and says so in its lineage
    source = "legal_persons" if persons_first else "natural_persons"
    assert graph.read(query) == [{"person": zhang, "uid": STALL, "source": source}]
    # loading both again changes nothing
    before = dump_graph(graph, ignore=LINEAGE_OF_RUN, skip_labels=["LoadChunk"])
    for paths in runs:
        assert all(f.skipped_chunks == 1 for f in _load(graph, paths, tmp_path).files)
    assert dump_graph(graph, ignore=LINEAGE_OF_RUN, skip_labels=["LoadChunk"]) == before


ENTITY = "query ($id: String!) { entity(id: $id) { id name } }"


def _stall_only(d: Path) -> None:
    write_csv(d / "legal_persons.csv", LEGAL_HEADER, [_stall_row()])


def _code(answer: dict[str, Any]) -> str:
    return str(answer["errors"][0]["extensions"]["code"])


def test_a_lookup_by_the_operator_s_id_is_one_by_identity_number(
    embedded: EmbeddedStore, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    """`OPR:<resident ID>` asks about the person behind the business: a purpose is needed, and
    the roles that may not look persons up by number cannot probe the register with it. The
    business's own id (`OPR:<token>`) is no person's number."""
    by_number = f"OPR:{ZHANG}"
    for api in start_api_env_with(embedded, driver, settings, tmp_path, _stall_only):
        found = api.gql(ENTITY, role=ApiRole.INVESTIGATOR, id=by_number)
        assert found["data"]["entity"] == {"id": STALL, "name": "思明区老张面馆"}
        refused = api.gql(ENTITY, role=ApiRole.APPROVAL, purpose=None, id=by_number)
        assert _code(refused) == "PURPOSE_REQUIRED"
        assert api.gql(ENTITY, role=ApiRole.PUBLIC, purpose=None, id=by_number) == {
            "data": {"entity": None}
        }
        assert _code(api.gql(ENTITY, role=ApiRole.ANALYST, id=by_number)) == "FORBIDDEN"
        # by the business's own id, as search shows it: no person named
        own = api.gql(ENTITY, role=ApiRole.PUBLIC, purpose=None, id=STALL)
        assert own["data"]["entity"] == {"id": STALL, "name": "思明区老张面馆"}
        events = [json.loads(line) for line in api.audit_path.read_text().splitlines()]
        assert [e["outcome"] for e in events if e["operation"] == "entity"][:2] == [
            "ok",
            "refused:purpose_required",
        ]


def test_the_command_line_asks_a_purpose_for_the_operator_s_id(
    embedded: EmbeddedStore, graph: GraphStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "stall"
    folder.mkdir()
    _stall_only(folder)
    _load(graph, [folder / "legal_persons.csv"], tmp_path)
    runner = cli_runner(monkeypatch, embedded, graph)
    refused = runner.invoke(app, ["linked", f"OPR:{ZHANG}", "--json"])
    assert refused.exit_code == 4, refused.output
    answered = runner.invoke(app, ["linked", f"OPR:{ZHANG}", "--json", "--purpose", "licensing"])
    assert answered.exit_code == 0, answered.output
    assert runner.invoke(app, ["linked", STALL, "--json"]).exit_code == 0
