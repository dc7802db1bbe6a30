"""Participation in a project (DOMAIN.md "Relations": participates in a project, with a role):
a person's from roles.csv (`project_participant`), a firm's from firm_relations.csv
(`participates_in`), each a PARTICIPATES_IN relation to the firm that runs the project, the
project in its `matter`; loaded from real files into the embedded store."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RelationType
from credgraph.loaders.loader import load_paths
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey, resolve_identifier
from credgraph.queries.stats import graph_counts
from credgraph.queries.traversal import linked_parties

from credgraph.cli import app
from tests.api_support import start_api_env_with
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import cli_runner
from tests.registries import (
    FIRM_A,
    FIRM_B,
    LI,
    SHOP_C,
    TODAY,
    UNKNOWN_FIRM,
    ZHANG,
    load_folder,
    write_csv,
)

PROJECT = "XM-2024-017 鹭岛大道改造工程"


def _registry(tmp_path: Path) -> Path:
    """FIRM_A runs the project; ZHANG works on it as a participant, FIRM_B as a firm; one row
    of each file names a firm the store does not hold."""
    d = tmp_path / "projects"
    d.mkdir()
    write_csv(
        d / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [
            [FIRM_A, "厦门鹭岛建设有限公司", "enterprise"],
            [FIRM_B, "福州闽江工程有限公司", "enterprise"],
        ],
    )
    write_csv(
        d / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", ZHANG, "张伟", "M"], ["resident", LI, "李娜", "F"]],
    )
    write_csv(
        d / "roles.csv",
        ["person_id_number", "company_id", "role", "matter", "valid_from", "source_record"],
        [
            [ZHANG, FIRM_A, "project_participant", PROJECT, "2024-03-01", "p1"],
            [LI, UNKNOWN_FIRM, "project_participant", PROJECT, "2024-03-01", "p2"],  # dirty
        ],
    )
    write_csv(
        d / "firm_relations.csv",
        ["from_id", "to_id", "relation", "matter", "valid_from", "source_record"],
        [
            [FIRM_B, FIRM_A, "participates_in", PROJECT, "2024-04-01", "f1"],
            [UNKNOWN_FIRM, FIRM_A, "participates_in", PROJECT, "2024-04-01", "f2"],  # dirty
        ],
    )
    return d


def _files(report: LoadReport) -> dict[str, dict[str, object]]:
    return {Path(f.file).name: f.to_json() for f in report.files}


def _rejects(report: LoadReport, name: str) -> list[tuple[str, str, str]]:
    with Path(str(_files(report)[name]["rejects_file"])).open(encoding="utf-8") as handle:
        return [(r["line"], r["field"], r["reason"]) for r in csv.DictReader(handle)]


def _participations(graph: GraphStore, firm: PartyKey) -> dict[PartyKey, dict[str, object]]:
    walk = linked_parties(graph, firm, depth=1, relation_types=[RelationType.PARTICIPATES_IN])
    found: dict[PartyKey, dict[str, object]] = {}
    for item in walk.items:
        assert item.via.type is RelationType.PARTICIPATES_IN
        assert item.via.to_key == firm  # from the participant to the firm that runs it
        found[item.key] = dict(item.via.properties)
    return found


def test_a_person_and_a_firm_participate_in_a_project_with_its_name_as_matter(
    graph: GraphStore, tmp_path: Path
) -> None:
    folder = _registry(tmp_path)
    report = load_folder(graph, folder, tmp_path / "rejects")
    files = _files(report)
    assert (files["roles.csv"]["loaded"], files["roles.csv"]["rejected"]) == (1, 1)
    assert (files["firm_relations.csv"]["loaded"], files["firm_relations.csv"]["rejected"]) == (
        1,
        1,
    )

    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)
    firm_b = PartyKey(Label.LEGAL_PERSON, FIRM_B)
    zhang = resolve_identifier(graph, ZHANG, TEST_PERSON_KEY.encode())
    assert zhang is not None and zhang.label is Label.NATURAL_PERSON

    found = _participations(graph, firm_a)
    assert set(found) == {zhang, firm_b}
    person, firm = found[zhang], found[firm_b]
    assert (person["role"], person["matter"], person["source_record"]) == (
        "project_participant",
        PROJECT,
        "p1",
    )
    assert (firm["matter"], firm["source_record"], firm["valid_from"]) == (
        PROJECT,
        "f1",
        date(2024, 4, 1),
    )
    counts = graph_counts(graph)
    assert counts["relations"][RelationType.PARTICIPATES_IN.value] == 2

    # a second load of the same files changes nothing
    again = load_folder(graph, folder, tmp_path / "rejects-again")
    assert again.rejected == 2
    assert _participations(graph, firm_a) == found
    assert graph_counts(graph)["relations"] == counts["relations"]
    assert graph_counts(graph)["nodes"] == counts["nodes"]


def test_a_participation_naming_an_unknown_party_is_rejected_with_line_and_reason(
    graph: GraphStore, tmp_path: Path
) -> None:
    report = load_folder(graph, _registry(tmp_path), tmp_path / "rejects")
    roles = _rejects(report, "roles.csv")
    firms = _rejects(report, "firm_relations.csv")
    assert [(line, field) for line, field, _ in roles] == [("3", "company_id")]
    assert [(line, field) for line, field, _ in firms] == [("3", "from_id")]
    for _, _, reason in roles + firms:
        assert reason  # says why


def _extract(tmp_path: Path, name: str, listed: bool) -> Path:
    """A month's full extract of roles and firm relations: with the participations or not."""
    d = tmp_path / name
    d.mkdir()
    roles = [[ZHANG, FIRM_A, "legal_representative", "", "2010-01-01", "r1"]]
    links = [[FIRM_B, FIRM_A, "supplies", "", "2015-01-01", "s1"]]
    if listed:
        roles.append([ZHANG, FIRM_A, "project_participant", PROJECT, "2024-03-01", "p1"])
        links.append([FIRM_B, FIRM_A, "participates_in", PROJECT, "2024-04-01", "f1"])
    write_csv(
        d / "roles.csv",
        ["person_id_number", "company_id", "role", "matter", "valid_from", "source_record"],
        roles,
    )
    write_csv(
        d / "firm_relations.csv",
        ["from_id", "to_id", "relation", "matter", "valid_from", "source_record"],
        links,
    )
    return d


def test_a_full_extract_that_no_longer_lists_a_participation_ends_it(
    graph: GraphStore, tmp_path: Path
) -> None:
    parties = _registry(tmp_path)
    for name in ("roles.csv", "firm_relations.csv"):
        (parties / name).unlink()
    load_folder(graph, parties, tmp_path / "rejects")
    context = ParseContext(TEST_PERSON_KEY.encode(), today=TODAY)

    def extract(folder: Path, day: date) -> LoadReport:
        return load_paths(
            graph, context, [folder], batch_size=100, rejects_dir=tmp_path / "r", full_extract=day
        )

    firm_a = PartyKey(Label.LEGAL_PERSON, FIRM_A)
    extract(_extract(tmp_path, "month1", listed=True), date(2025, 1, 31))
    listed = _participations(graph, firm_a)
    assert sorted(str(p["source_record"]) for p in listed.values()) == ["f1", "p1"]

    report = extract(_extract(tmp_path, "month2", listed=False), date(2025, 2, 28))
    assert {Path(f.file).name: f.ended for f in report.files} == {
        "roles.csv": 1,
        "firm_relations.csv": 1,
    }
    assert _participations(graph, firm_a) == {}  # ended: no longer current
    walk = linked_parties(
        graph,
        firm_a,
        depth=1,
        relation_types=[RelationType.PARTICIPATES_IN],
        include_former=True,
    )
    assert {
        i.via.properties["source_record"]: i.via.properties["valid_to"] for i in walk.items
    } == {
        "p1": date(2025, 2, 28),
        "f1": date(2025, 2, 28),
    }


def test_credgraph_linked_finds_the_participants_of_a_firm_s_project(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    load_folder(graph, _registry(tmp_path), tmp_path / "rejects")
    runner = cli_runner(monkeypatch, embedded, graph)
    answer = runner.invoke(
        app,
        # the project's participants include persons
        ["linked", FIRM_A, "--types", "PARTICIPATES_IN", "--json", "--purpose", "investigation"],
    )
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    found = {
        (i["party"]["label"], i["via"]["type"], i["via"]["direction"], i["via"]["matter"])
        for i in document["items"]
    }
    assert found == {
        ("NaturalPerson", "PARTICIPATES_IN", "in", PROJECT),
        ("LegalPerson", "PARTICIPATES_IN", "in", PROJECT),
    }
    assert ZHANG not in answer.output  # the person's number is never printed back


def test_participations_follow_an_unconverted_business_into_its_uscc(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A shop known by its registration number runs the project; a later extract gives its USCC
    beside the number: the shop is folded into it (loaders/fold.py) and both participations,
    the person's and the firm's, move with their matter."""
    shop, converted = SHOP_C, make_uscc("9", "2", "350203", "MA2Y0003")
    first = tmp_path / "first"
    first.mkdir()
    write_csv(
        first / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [
            [FIRM_A, "", "厦门鹭岛建设有限公司", "enterprise"],
            ["", shop.removeprefix("REG:"), "思明区老张装修店", "individual_business"],
        ],
    )
    write_csv(
        first / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", ZHANG, "张伟", "M"]],
    )
    write_csv(
        first / "roles.csv",
        ["person_id_number", "company_id", "role", "matter", "source_record"],
        [[ZHANG, shop, "project_participant", PROJECT, "p1"]],
    )
    write_csv(
        first / "firm_relations.csv",
        ["from_id", "to_id", "relation", "matter", "source_record"],
        [[FIRM_A, shop, "participates_in", PROJECT, "f1"]],
    )
    later = tmp_path / "later"
    later.mkdir()
    write_csv(
        later / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [[converted, shop.removeprefix("REG:"), "思明区老张装修店", "individual_business"]],
    )
    load_folder(graph, first, tmp_path / "rejects")
    report = load_folder(graph, later, tmp_path / "rejects-later")
    assert sum(f.folded for f in report.files) == 1

    zhang = resolve_identifier(graph, ZHANG, TEST_PERSON_KEY.encode())
    found = _participations(graph, PartyKey(Label.LEGAL_PERSON, converted))
    assert {k: (v["matter"], v["source_record"]) for k, v in found.items()} == {
        zhang: (PROJECT, "p1"),
        PartyKey(Label.LEGAL_PERSON, FIRM_A): (PROJECT, "f1"),
    }


# --- the participant's part in the project (`project_role`) -----------------------------------

PARTS = {"p1": "项目经理", "f1": "总承包", "f3": "监理"}


def _write_parts(d: Path) -> None:
    """ZHANG manages FIRM_A's project; FIRM_B is its general contractor and SHOP_C its
    supervisor; two rows of other kinds give a project role too."""
    write_csv(
        d / "roles.csv",
        [
            "person_id_number",
            "company_id",
            "role",
            "matter",
            "project_role",
            "valid_from",
            "source_record",
        ],
        [
            [ZHANG, FIRM_A, "project_participant", PROJECT, " 项目经理 ", "2024-03-01", "p1"],
            [LI, FIRM_A, "director", "", "分包", "2024-03-01", "p2"],  # line 3: not a project
        ],
    )
    write_csv(
        d / "firm_relations.csv",
        ["from_id", "to_id", "relation", "matter", "project_role", "valid_from", "source_record"],
        [
            [FIRM_B, FIRM_A, "participates_in", PROJECT, "总承包", "2024-04-01", "f1"],
            [FIRM_B, SHOP_C, "supplies", "", "分包", "2024-04-01", "f2"],  # line 3: rejected
            [SHOP_C, FIRM_A, "participates_in", PROJECT, "监理", "2024-04-01", "f3"],
        ],
    )


def test_a_participant_s_part_in_the_project_is_kept_on_its_relation(
    graph: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    folder = _registry(tmp_path)
    write_csv(
        folder / "legal_persons.csv",
        ["uscc", "registration_number", "name", "kind"],
        [
            [FIRM_A, "", "厦门鹭岛建设有限公司", "enterprise"],
            [FIRM_B, "", "福州闽江工程有限公司", "enterprise"],
            ["", SHOP_C.removeprefix("REG:"), "思明区老张监理店", "individual_business"],
        ],
    )
    _write_parts(folder)
    report = load_folder(graph, folder, tmp_path / "rejects")
    files = _files(report)
    assert (files["roles.csv"]["loaded"], files["roles.csv"]["rejected"]) == (1, 1)
    assert (files["firm_relations.csv"]["loaded"], files["firm_relations.csv"]["rejected"]) == (
        2,
        1,
    )
    only = (
        "only a project participation (`project_participant` in roles.csv, `participates_in` "
        "in firm_relations.csv) has a role in a project; leave it empty"
    )
    assert _rejects(report, "roles.csv") == [
        ("3", "project_role", f"is given for a director row: {only}")
    ]
    assert _rejects(report, "firm_relations.csv") == [
        ("3", "project_role", f"is given for a supplies row: {only}")
    ]

    found = _participations(graph, PartyKey(Label.LEGAL_PERSON, FIRM_A))
    assert {str(p["source_record"]): p["project_role"] for p in found.values()} == PARTS

    runner = cli_runner(monkeypatch, embedded, graph)
    answer = runner.invoke(
        app,
        ["linked", FIRM_A, "--types", "PARTICIPATES_IN", "--json", "--purpose", "investigation"],
    )
    assert answer.exit_code == 0, answer.output
    vias = [item["via"] for item in json.loads(answer.stdout)["items"]]
    assert sorted(v["project_role"] for v in vias) == sorted(PARTS.values())
    table = runner.invoke(
        app, ["linked", FIRM_A, "--types", "PARTICIPATES_IN", "--purpose", "investigation"]
    )
    assert table.exit_code == 0, table.output
    assert "project_role 总承包" in table.output


PARTS_QUERY = """query ($id: String!) { linkedParties(id: $id, depth: 1,
  relationTypes: [PARTICIPATES_IN]) {
  edges { node { via { type matter projectRole sourceRecord } } } } }"""


def test_the_api_shows_a_participant_s_part_in_the_project(
    embedded: EmbeddedStore, driver: Any, settings: Settings, tmp_path: Path
) -> None:
    for api in start_api_env_with(embedded, driver, settings, tmp_path, _parts_of_firms):
        answer = api.gql(PARTS_QUERY, role=ApiRole.INVESTIGATOR, id=FIRM_A)
        assert "errors" not in answer, answer
        vias = [edge["node"]["via"] for edge in answer["data"]["linkedParties"]["edges"]]
        assert {v["sourceRecord"]: (v["matter"], v["projectRole"]) for v in vias} == {
            "f1": (PROJECT, "总承包"),
            "f4": (PROJECT, None),  # none given
        }


def _parts_of_firms(d: Path) -> None:
    write_csv(
        d / "firm_relations.csv",
        ["from_id", "to_id", "relation", "matter", "project_role", "source_record"],
        [
            [FIRM_B, FIRM_A, "participates_in", PROJECT, "总承包", "f1"],
            [SHOP_C, FIRM_A, "participates_in", PROJECT, "", "f4"],
        ],
    )
