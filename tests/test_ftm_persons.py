"""A FollowTheMoney person without an identity document is keyed by a token, not by its entity
id: an OpenSanctions id names the person to anyone who looks it up (loaders/ftm.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore

from tests.api_support import ApiEnv, start_api_env
from tests.registries import ftm_entity, load_folder

TOKEN = re.compile(r"^[0-9a-f]{32}$")
FIRM = make_uscc("9", "1", "350203", "MA2Y0777")
RESIDENT = make_resident_id("350203", date(1968, 9, 14), 31, "F")
# public ids a reader would look up on OpenSanctions, each naming the person
PERSON_ID = "NK-kX7pQ2vLm9"
HASHED_ID = f"cn-id-{RESIDENT}"  # an id embedding a resident ID number (`FTM:H<hex>` before)
LINK_IDS = ("NK-dir-kX7pQ2vLm9", "NK-own-kX7pQ2vLm9", "NK-sanction-kX7pQ2vLm9")


ENTITIES = [
    ftm_entity(PERSON_ID, "Person", name="钱多多", nationality="cn"),
    ftm_entity(HASHED_ID, "Person", name="孙小美"),
    ftm_entity("NK-firm-1", "Company", name="厦门多多贸易有限公司", registrationNumber=FIRM),
    ftm_entity("NK-firm-2", "Company", name="多多海外控股有限公司"),  # no strong identifier
    ftm_entity(
        LINK_IDS[0], "Directorship", director=PERSON_ID, organization="NK-firm-1", role="董事"
    ),
    ftm_entity(LINK_IDS[1], "Ownership", owner=PERSON_ID, asset="NK-firm-1", percentage="30"),
    ftm_entity(LINK_IDS[2], "Sanction", entity=PERSON_ID, program="严重失信名单", authority="某局"),
    ftm_entity("NK-dir-2", "Directorship", director=HASHED_ID, organization="NK-firm-1"),
]


def _load(store: GraphStore, tmp: Path, name: str) -> None:
    folder = tmp / name
    folder.mkdir()
    (folder / "entities.ftm.json").write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in ENTITIES) + "\n", encoding="utf-8"
    )
    report = load_folder(store, folder, tmp / f"rejects-{name}", batch_size=100)
    assert report.rejected == 0


def _persons(store: GraphStore) -> dict[str, str]:
    rows = store.read(
        "MATCH (p:NaturalPerson) RETURN p.name AS name, p.uid AS uid", operation="test"
    )
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names)), f"a person became two nodes: {names}"
    return {row["name"]: row["uid"] for row in rows}


def test_a_person_without_documents_is_one_token_keyed_node_across_loads(
    graph: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path, "first")
    _load(graph, tmp_path, "again")  # the same file again: nothing new
    persons = _persons(graph)
    assert set(persons) == {"钱多多", "孙小美"}
    for uid in persons.values():
        assert TOKEN.match(uid), uid  # not FTM:<entity id>, nor FTM:H<hex>
    [count] = graph.read(
        "MATCH (p:NaturalPerson) RETURN count(p) AS n, count(DISTINCT p.uid) AS uids",
        operation="test",
    )
    assert (count["n"], count["uids"]) == (2, 2)
    # every line that names the person reaches the token's node
    links = graph.read(
        "MATCH (p:NaturalPerson)-[r]->(x) RETURN p.uid AS uid, type(r) AS type, "
        "coalesce(x.uid, '') AS target",
        operation="test",
    )
    mine = {(row["type"], row["target"]) for row in links if row["uid"] == persons["钱多多"]}
    assert {("EXECUTIVE_OF", FIRM), ("SHAREHOLDER_OF", FIRM)} <= mine
    assert any(row["type"] == "SUBJECT_OF" for row in links if row["uid"] == persons["钱多多"])
    assert ("EXECUTIVE_OF", FIRM) in {
        (row["type"], row["target"]) for row in links if row["uid"] == persons["孙小美"]
    }


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("ftm-persons")
    for api in start_api_env(embedded, driver, settings, tmp):
        _load(api.store, tmp, "ftm")
        yield api


FIND = "query($name: String!) { search(name: $name) { edges { node { id name } } } }"
ENTITY = """
query($id: String!, $firm: String!) {
  entity(id: $id) {
    id name
    ... on NaturalPerson { idType idMasked sex }
    records { kind status listName authority decisionNumber description sourceSystem }
  }
  linkedParties(id: $firm, depth: 1) {
    edges { node { party { id name } parentId
                   via { type fromId toId role source sourceRecord } } }
    relations { type fromId toId source sourceRecord }
  }
  risk: linkedParties(id: $id, depth: 1) {
    root { id name }
    edges { node { party { id name } via { fromId toId sourceRecord } } }
  }
}
"""


def _token_of(env: ApiEnv, name: str) -> str:
    answer = env.gql(FIND, role=ApiRole.INVESTIGATOR, name=name)
    assert "errors" not in answer, answer
    hits = [edge["node"] for edge in answer["data"]["search"]["edges"]]
    assert [hit["name"] for hit in hits] == [name]
    return str(hits[0]["id"])


def test_the_analyst_sees_no_entity_id_of_a_person_without_documents(env: ApiEnv) -> None:
    for name in ("钱多多", "孙小美"):
        token = _token_of(env, name)  # the investigator finds the person, by its token
        assert TOKEN.match(token), token
        investigator = env.gql(ENTITY, role=ApiRole.INVESTIGATOR, id=token, firm=FIRM)
        assert "errors" not in investigator, investigator
        assert investigator["data"]["entity"]["name"] == name
        answer = env.gql(ENTITY, role=ApiRole.ANALYST, purpose="analysis", id=token, firm=FIRM)
        assert "errors" not in answer, answer
        person = answer["data"]["entity"]
        assert person["id"] == token and person["name"].startswith(name[0])
        linked = answer["data"]["linkedParties"]["edges"]
        assert token in {edge["node"]["party"]["id"] for edge in linked}  # the firm's director
        text = json.dumps(answer, ensure_ascii=False)
        assert "FTM:" not in text.upper()
        for public in (PERSON_ID, HASHED_ID, *LINK_IDS, "NK-dir-2", RESIDENT):
            assert public not in text, public


BY_ID = "query($id: String!) { entity(id: $id) { id name } }"


def test_the_entity_id_finds_the_person_for_an_investigator_only(env: ApiEnv) -> None:
    """An investigator holding an OpenSanctions id looks the person up by it, as by an identity
    document; the analyst's pseudonym must not be reachable from a public id, and the refusal
    is the same whether or not anybody holds it."""
    token = _token_of(env, "钱多多")
    found = env.gql(
        BY_ID, role=ApiRole.INVESTIGATOR, purpose="investigation", id=f"ftm:{PERSON_ID}"
    )
    assert found["data"]["entity"] == {"id": token, "name": "钱多多"}, found
    for entity_id in (PERSON_ID, "NK-nobody"):
        refused = env.gql(BY_ID, role=ApiRole.ANALYST, purpose="analysis", id=f"FTM:{entity_id}")
        assert refused["data"]["entity"] is None
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN" and "argument id" in error["message"]
        assert token not in json.dumps(refused)
    company = env.gql(BY_ID, role=ApiRole.ANALYST, purpose="analysis", id="FTM:NK-firm-2")
    assert "errors" not in company and company["data"]["entity"]["id"] == "FTM:NK-firm-2"
    public = env.gql(BY_ID, role=ApiRole.PUBLIC, id=f"FTM:{PERSON_ID}")
    assert "errors" not in public and public["data"]["entity"] is None
