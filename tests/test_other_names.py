"""Finding a party by its other names: the former names (曾用名) a registry gives
(`former_names`) or a rename leaves, and a sanctions list's aliases (FtM), through the real
loader and the embedded store (loaders/names.py, queries/lookup.py `search_by_name`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_uscc, registration_number_check_digit
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
from credgraph.queries.lookup import MatchedOn, MatchKind, PartyKey, search_by_name

from credgraph.cli import app
from tests.api_support import ApiEnv, module_api
from tests.conftest import TEST_PERSON_KEY
from tests.registries import TODAY, ftm_entity, load_folder, write_csv

FIRM = make_uscc("9", "1", "350203", "MA0NAME1")
OTHER = make_uscc("9", "1", "350203", "MA0NAME2")
REG = "35020360004321" + registration_number_check_digit("35020360004321")
HEADER = ["uscc", "registration_number", "name", "kind", "former_names"]


def _folder(tmp_path: Path, name: str, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    write_csv(folder / "legal_persons.csv", header, rows)
    return folder


def _load(store: GraphStore, folder: Path, tmp_path: Path, on: date | None = None) -> None:
    rejects = tmp_path / f"rejects-{folder.name}"
    if on is None:
        report = load_folder(store, folder, rejects)
    else:
        context = ParseContext(TEST_PERSON_KEY.encode(), today=TODAY)
        report = load_paths(
            store, context, [folder], batch_size=500, rejects_dir=rejects, full_extract=on
        )
    assert all(not f.rejected for f in report.files), report


def _found(store: GraphStore, name: str, **kwargs: Any) -> list[tuple[str, str, MatchedOn]]:
    result = search_by_name(store, name, **kwargs)
    return [(m.key.uid, m.matched_name, m.matched_on) for m in result.items]


def test_former_names_column_is_searched(graph: GraphStore, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "a",
        [[FIRM, "", "厦门白鹭新材料有限公司", "enterprise", "厦门鹭岛化工厂；鹭岛塑料厂| ;"]],
    )
    _load(graph, folder, tmp_path)
    assert _found(graph, "厦门鹭岛化工厂") == [(FIRM, "厦门鹭岛化工厂", MatchedOn.FORMER_NAME)]
    assert _found(graph, "鹭岛塑料") == [(FIRM, "鹭岛塑料厂", MatchedOn.FORMER_NAME)]
    [match] = search_by_name(graph, "厦门鹭岛化工厂").items
    assert (match.name, match.match, match.score) == (
        "厦门白鹭新材料有限公司",
        MatchKind.EXACT,
        2.5,
    )
    # substring, as for names, only when asked
    assert _found(graph, "塑料厂") == []
    assert _found(graph, "塑料厂", substring=True) == [(FIRM, "鹭岛塑料厂", MatchedOn.FORMER_NAME)]
    # loading the same file again adds nothing
    before = dump_graph(graph, ignore=LINEAGE_OF_RUN, skip_labels=["LoadChunk"])
    again = [[FIRM, "", "厦门白鹭新材料有限公司", "enterprise", "厦门鹭岛化工厂；鹭岛塑料厂"]]
    _load(graph, _folder(tmp_path, "again", again), tmp_path)
    assert dump_graph(graph, ignore=LINEAGE_OF_RUN, skip_labels=["LoadChunk"]) == before


def test_a_rename_keeps_the_old_name_searchable(graph: GraphStore, tmp_path: Path) -> None:
    _load(
        graph,
        _folder(tmp_path, "jan", [[FIRM, "", "厦门鹭岛贸易有限公司", "enterprise", ""]]),
        tmp_path,
    )
    _load(
        graph,
        _folder(tmp_path, "feb", [[FIRM, "", "厦门白鹭控股有限公司", "enterprise", ""]]),
        tmp_path,
    )
    assert _found(graph, "厦门白鹭控股有限公司") == [(FIRM, "厦门白鹭控股有限公司", MatchedOn.NAME)]
    assert _found(graph, "厦门鹭岛贸易有限公司") == [
        (FIRM, "厦门鹭岛贸易有限公司", MatchedOn.FORMER_NAME)
    ]
    [match] = search_by_name(graph, "厦门鹭岛贸易").items
    assert match.name == "厦门白鹭控股有限公司"  # the current name, the former one matched
    # the same file again, and a spelling of the same key, add nothing
    names = graph.read("MATCH (o:OtherName) RETURN o.uid AS uid")
    feb2 = [[FIRM, "", "廈門白鷺控股有限公司", "enterprise", ""]]
    _load(graph, _folder(tmp_path, "feb2", feb2), tmp_path)
    assert graph.read("MATCH (o:OtherName) RETURN o.uid AS uid") == names


def test_a_rename_earlier_in_the_run_and_in_one_chunk(graph: GraphStore, tmp_path: Path) -> None:
    rows = [
        [FIRM, "", "鹭岛一号有限公司", "enterprise", ""],
        [FIRM, "", "鹭岛二号有限公司", "enterprise", ""],
    ]
    _load(graph, _folder(tmp_path, "run", rows), tmp_path)
    assert _found(graph, "鹭岛一号有限公司") == [(FIRM, "鹭岛一号有限公司", MatchedOn.FORMER_NAME)]
    assert _found(graph, "鹭岛二号有限公司") == [(FIRM, "鹭岛二号有限公司", MatchedOn.NAME)]


def test_an_older_extract_s_names_are_former_names(graph: GraphStore, tmp_path: Path) -> None:
    feb = _folder(tmp_path, "feb", [[FIRM, "", "白鹭控股有限公司", "enterprise", ""]])
    jan = _folder(tmp_path, "jan", [[FIRM, "", "鹭岛贸易有限公司", "enterprise", "鹭岛商行"]])
    _load(graph, feb, tmp_path, on=date(2025, 2, 28))
    _load(graph, jan, tmp_path, on=date(2025, 1, 31))
    # back-filled, January renames nothing, but its names were the firm's: the names are those
    # the two extracts leave in date order
    assert _found(graph, "鹭岛贸易") == [(FIRM, "鹭岛贸易有限公司", MatchedOn.FORMER_NAME)]
    assert _found(graph, "鹭岛商行") == [(FIRM, "鹭岛商行", MatchedOn.FORMER_NAME)]
    assert _found(graph, "白鹭控股") == [(FIRM, "白鹭控股有限公司", MatchedOn.NAME)]
    _load(graph, jan, tmp_path, on=date(2025, 1, 31))  # again: nothing more
    assert len(graph.read("MATCH (o:OtherName) RETURN o.uid AS uid")) == 2
    # in date order, the January name is a former name
    mar = _folder(tmp_path, "mar", [[FIRM, "", "白鹭集团有限公司", "enterprise", ""]])
    _load(graph, mar, tmp_path, on=date(2025, 3, 31))
    assert _found(graph, "白鹭控股") == [(FIRM, "白鹭控股有限公司", MatchedOn.FORMER_NAME)]


def test_current_names_rank_before_former_names(graph: GraphStore, tmp_path: Path) -> None:
    rows = [
        [FIRM, "", "鹭岛科技有限公司", "enterprise", ""],
        [OTHER, "", "白鹭新材料有限公司", "enterprise", "鹭岛科技有限公司"],
    ]
    _load(graph, _folder(tmp_path, "a", rows), tmp_path)
    result = search_by_name(graph, "鹭岛科技有限公司")
    assert [(m.key.uid, m.matched_on, m.score) for m in result.items] == [
        (FIRM, MatchedOn.NAME, 3.0),
        (OTHER, MatchedOn.FORMER_NAME, 2.5),
    ]
    # a party matched on its name and on a former name is listed once, on its name
    rows = [[FIRM, "", "鹭岛科技有限公司", "enterprise", "鹭岛科技"]]
    _load(graph, _folder(tmp_path, "b", rows), tmp_path)
    found = search_by_name(graph, "鹭岛科技").items
    assert [(m.key.uid, m.matched_on, m.score) for m in found] == [
        (FIRM, MatchedOn.FORMER_NAME, 2.5),  # exact on a former name, above its name's prefix
        (OTHER, MatchedOn.FORMER_NAME, 1.25),
    ]


def test_a_business_folded_into_its_uscc_brings_its_names(
    graph: GraphStore, tmp_path: Path
) -> None:
    header = [*HEADER, "registered_on"]
    shop = [["", REG, "思明区老张小吃店", "individual_business", "老张面馆", ""]]
    _load(graph, _folder(tmp_path, "old", shop, header), tmp_path)
    converted = [[FIRM, REG, "厦门老张餐饮有限公司", "individual_business", "", ""]]
    _load(graph, _folder(tmp_path, "new", converted, header), tmp_path)
    assert _found(graph, "老张面馆") == [(FIRM, "老张面馆", MatchedOn.FORMER_NAME)]
    assert _found(graph, "思明区老张小吃店") == [(FIRM, "思明区老张小吃店", MatchedOn.FORMER_NAME)]
    rows = graph.read("MATCH (o:OtherName) RETURN o.uid AS uid, o.party_uid AS party ORDER BY uid")
    assert {row["party"] for row in rows} == {FIRM}
    assert len(rows) == 2  # nothing doubled, nothing left of the folded party


def test_ftm_aliases_are_searched(graph: GraphStore, tmp_path: Path) -> None:
    folder = tmp_path / "ftm"
    folder.mkdir()
    entities = [
        ftm_entity(
            "co-1",
            "Company",
            name="Egret Trading Ltd",
            alias=["鹭岛贸易", "Egret Holdings"],
            previousName="Heron Export Co",
        ),
    ]
    (folder / "entities.ftm.json").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entities), encoding="utf-8"
    )
    _load(graph, folder, tmp_path)
    assert _found(graph, "鹭岛贸易") == [("FTM:co-1", "鹭岛贸易", MatchedOn.ALIAS)]
    assert _found(graph, "egret holdings") == [("FTM:co-1", "Egret Holdings", MatchedOn.ALIAS)]
    assert _found(graph, "Heron Export") == [("FTM:co-1", "Heron Export Co", MatchedOn.FORMER_NAME)]
    assert _found(graph, "Egret Trading Ltd") == [("FTM:co-1", "Egret Trading Ltd", MatchedOn.NAME)]
    assert PartyKey(Label.LEGAL_PERSON, "FTM:co-1") in {
        m.key for m in search_by_name(graph, "Egret").items
    }


def _api_files(folder: Path) -> None:
    write_csv(
        folder / "legal_persons.csv",
        HEADER,
        [[OTHER, "", "白鹭控股有限公司", "enterprise", "鹭岛远洋渔业有限公司"]],
    )
    person = ftm_entity("p-1", "Person", name="Wang Fang", alias="王芳芳", nationality="cn")
    (folder / "people.ftm.json").write_text(
        json.dumps(person, ensure_ascii=False) + "\n", encoding="utf-8"
    )


api_env, cli = module_api("names", _api_files)

SEARCH = """query ($name: String!) { search(name: $name) {
  totalCount edges { matchedName matchedOn node { __typename id name } } } }"""


def test_graphql_search_says_which_name_matched(api_env: ApiEnv) -> None:
    edges = api_env.gql(SEARCH, name="鹭岛远洋渔业")["data"]["search"]["edges"]
    assert edges == [
        {
            "matchedName": "鹭岛远洋渔业有限公司",
            "matchedOn": "FORMER_NAME",
            "node": {"__typename": "LegalPerson", "id": OTHER, "name": "白鹭控股有限公司"},
        }
    ]
    # a legal person's names are public: the public role finds it by its former name too
    public = api_env.gql(SEARCH, name="鹭岛远洋渔业", role=ApiRole.PUBLIC, purpose=None)
    assert public["data"]["search"]["edges"] == edges
    # a person by an alias: for a role that sees persons' names, and for no other
    person = api_env.gql(SEARCH, name="王芳芳")["data"]["search"]
    assert [(e["matchedName"], e["matchedOn"], e["node"]["name"]) for e in person["edges"]] == [
        ("王芳芳", "ALIAS", "Wang Fang")
    ]
    for role in (ApiRole.PUBLIC, ApiRole.ANALYST):
        hidden = api_env.gql(SEARCH, name="王芳芳", role=role, purpose=None)
        assert hidden["data"]["search"] == {"totalCount": 0, "edges": []}, role
    # the current name matched
    edges = api_env.gql(SEARCH, name="白鹭控股有限公司")["data"]["search"]["edges"]
    assert [(e["matchedName"], e["matchedOn"]) for e in edges] == [("白鹭控股有限公司", "NAME")]


def test_cli_search_says_which_name_matched(cli: Any) -> None:
    result = cli.invoke(app, ["search", "鹭岛远洋渔业", "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)["items"]
    assert (item["party"]["id"], item["matched_name"], item["matched_on"], item["score"]) == (
        OTHER,
        "鹭岛远洋渔业有限公司",
        "former_name",
        1.3,
    )
    table = cli.invoke(app, ["search", "鹭岛远洋渔业"])
    assert "former_name: 鹭岛远洋渔业有限公司" in table.output.replace("\n", "")
    persons = cli.invoke(
        app, ["search", "王芳芳", "--persons", "--json", "--purpose", "investigation"]
    )
    assert persons.exit_code == 0, persons.output
    [item] = json.loads(persons.output)["items"]
    assert (item["matched_name"], item["matched_on"]) == ("王芳芳", "alias")


def test_other_names_are_never_walked_as_relations(api_env: ApiEnv) -> None:
    walk = """query ($id: String!) { linkedParties(id: $id, depth: 2) {
      totalCount relations { type } } }"""
    linked = api_env.gql(walk, id=OTHER)["data"]["linkedParties"]
    assert linked == {"totalCount": 0, "relations": []}
    query = """query ($id: String!) {
      linkedParties(id: $id, depth: 1, relationTypes: [NAME_OF]) { totalCount } }"""
    refused = api_env.gql(query, id=OTHER)
    assert refused["data"] is None or refused["data"]["linkedParties"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "NAME_OF" in error["message"]
