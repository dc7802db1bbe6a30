"""The store records its data format; an older store is refused until `credgraph migrate`
brings it up to date (graph/migrations.py). The old store is the FtM file loaded with today's
code and then put back, with Cypher, into the shape the loader wrote before commit 3f0cdde:
persons without an identity document keyed `FTM:<entity id>`, and no format node."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import ftm_person_token, make_uscc, person_token
from credgraph.graph.migrations import MIGRATIONS
from credgraph.graph.schema import (
    FORMAT_VERSION,
    STORE_FORMAT_KEY,
    apply_schema,
    describe_schema,
    store_format,
)
from credgraph.graph.store import GraphStore, open_store
from credgraph.graph.vocabulary import PersonIdType
from typer.testing import CliRunner

from credgraph.cli import app
from credgraph.cli_common import cli_user
from tests.conftest import TEST_PERSON_KEY, make_settings, new_database
from tests.investigations import store_env
from tests.registries import ftm_entity, load_folder
from tests.test_ftm_persons import ENTITIES, PERSON_ID, RESIDENT

TOKEN = ftm_person_token(TEST_PERSON_KEY.encode(), PERSON_ID)
_bare_names = itertools.count()


def _load(store: GraphStore, tmp: Path, name: str, entities: list[dict[str, Any]]) -> None:
    folder = tmp / name
    folder.mkdir()
    (folder / "entities.ftm.json").write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in entities) + "\n", encoding="utf-8"
    )
    assert load_folder(store, folder, tmp / f"rejects-{name}", batch_size=100).rejected == 0


def _make_old(store: GraphStore) -> None:
    """Today's graph in the shape of a store loaded before persons were keyed by token, and
    before formats were versioned (no ledger either, so a re-load writes every row again)."""
    store.write(
        "MATCH (p:NaturalPerson) WHERE p.id_type = 'none' SET p.uid = 'FTM:' + p.ftm_id",
        operation="test",
    )
    store.write("MATCH (n) WHERE n:LoadChunk OR n:StoreFormat DETACH DELETE n", operation="test")


def _persons(store: GraphStore) -> dict[str, str]:
    rows = store.read("MATCH (p:NaturalPerson) RETURN p.name AS name, p.uid AS uid")
    return {row["name"]: row["uid"] for row in rows}


def _relations(store: GraphStore, uid: str) -> list[tuple[str, str, Any]]:
    rows = store.read(
        "MATCH (p:NaturalPerson {uid: $uid})-[r]->(m) "
        "RETURN type(r) AS type, m.uid AS other, r.key AS key ORDER BY type, other",
        {"uid": uid},
    )
    return [(row["type"], row["other"], row["key"]) for row in rows]


def _cli(embedded: EmbeddedStore, store: GraphStore, tmp: Path, *args: str) -> Any:
    """A `credgraph` run on the test's database, its audit log (`migrate` writes one) under
    `tmp`."""
    env = {**store_env(embedded, store), "CREDGRAPH_DATA_DIR": str(tmp / "data")}
    return CliRunner(env=env).invoke(app, list(args))


def test_the_code_version_is_the_last_migration() -> None:
    assert [m.number for m in MIGRATIONS] == list(range(1, FORMAT_VERSION + 1))


def test_a_new_database_carries_the_current_format(graph: GraphStore) -> None:
    rows = graph.read(
        "MATCH (f:StoreFormat) RETURN f.uid AS uid, f.version AS version", operation="test"
    )
    assert rows == [{"uid": STORE_FORMAT_KEY, "version": FORMAT_VERSION}]
    assert store_format(graph) == FORMAT_VERSION


def test_an_old_store_is_refused_until_migrated_and_then_keeps_one_node_per_person(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path, "first", ENTITIES)
    before = _relations(graph, TOKEN)
    assert {t for t, _, _ in before} == {"EXECUTIVE_OF", "SHAREHOLDER_OF", "SUBJECT_OF"}
    _make_old(graph)
    assert _persons(graph)["钱多多"] == "FTM:" + PERSON_ID
    assert store_format(graph) == 0

    folder = tmp_path / "again"
    folder.mkdir()
    (tmp_path / "first" / "entities.ftm.json").rename(folder / "entities.ftm.json")
    for verb in (["load", str(folder)], ["search", "钱多多"], ["stats"]):
        refused = _cli(embedded, graph, tmp_path, *verb)
        assert refused.exit_code == 3, refused.output
        assert (
            f"data format 0, older than this credgraph's format {FORMAT_VERSION}" in refused.output
        )
        assert "credgraph migrate" in refused.output and "Traceback" not in refused.output
    assert _persons(graph)["钱多多"] == "FTM:" + PERSON_ID  # the refused load wrote nothing

    done = _cli(embedded, graph, tmp_path, "migrate")
    assert done.exit_code == 0, done.output
    assert "migration 1" in done.output and "1 FtM person(s) re-keyed" in done.output
    # the person whose entity id was stored hashed cannot be re-keyed, and is named
    assert "1 person(s) keyed FTM: kept as they are" in done.output
    persons = _persons(graph)
    assert persons["钱多多"] == TOKEN
    assert _relations(graph, TOKEN) == before  # roles, stake and record kept, same keys
    assert store_format(graph) == FORMAT_VERSION

    loaded = _cli(embedded, graph, tmp_path, "load", str(folder))
    assert loaded.exit_code == 0, loaded.output
    after = _persons(graph)
    assert after["钱多多"] == TOKEN
    [count] = graph.read(
        "MATCH (p:NaturalPerson {name: '钱多多'}) RETURN count(p) AS n", operation="test"
    )
    assert count["n"] == 1  # no second node for the re-keyed person
    assert _relations(graph, TOKEN) == before

    again = _cli(embedded, graph, tmp_path, "migrate")
    assert again.exit_code == 0, again.output
    assert f"at data format {FORMAT_VERSION}: nothing to migrate" in again.output
    assert _persons(graph) == after
    audit = (tmp_path / "data" / "audit" / "audit.log").read_text(encoding="utf-8")
    events = [json.loads(line) for line in audit.splitlines()]
    assert [(e["operation"], e["from_format"]) for e in events] == [("migrate", 0)]
    assert (events[0]["role"], events[0]["key_name"]) == ("cli", cli_user())


def test_migrate_merges_a_person_loaded_again_after_the_upgrade(
    graph: GraphStore, tmp_path: Path
) -> None:
    from credgraph.graph.migrations import migrate

    person, firm = ENTITIES[0], ENTITIES[2]
    directorship, sanction = ENTITIES[4], ENTITIES[6]
    _load(graph, tmp_path, "old", [person, firm, directorship])
    _make_old(graph)
    graph.write(  # a property only the old load gave
        "MATCH (p:NaturalPerson {uid: $uid}) SET p.birth_year = 1970",
        {"uid": "FTM:" + PERSON_ID},
        operation="test",
    )
    # the upgraded code loads a sanction of the same person: a second node, under its token
    _load(graph, tmp_path, "new", [person, firm, sanction])
    assert {uid for name, uid in _persons(graph).items() if name == "钱多多"} == {TOKEN}
    [both] = graph.read(
        "MATCH (p:NaturalPerson {name: '钱多多'}) RETURN count(p) AS n", operation="test"
    )
    assert both["n"] == 2

    found, applied = migrate(graph, TEST_PERSON_KEY.encode())
    assert (found, [a.migration.number for a in applied]) == (0, [1, 2, 3])
    assert "1 FtM person(s) merged" in applied[0].changes[1]
    rows = graph.read(
        "MATCH (p:NaturalPerson {name: '钱多多'}) RETURN p.uid AS uid, p.birth_year AS year",
        operation="test",
    )
    assert rows == [{"uid": TOKEN, "year": 1970}]
    assert {t for t, _, _ in _relations(graph, TOKEN)} == {"EXECUTIVE_OF", "SUBJECT_OF"}
    assert migrate(graph, TEST_PERSON_KEY.encode()) == (FORMAT_VERSION, [])


def test_a_newer_store_is_refused_naming_both_versions(
    graph: GraphStore, embedded: EmbeddedStore, tmp_path: Path
) -> None:
    version = FORMAT_VERSION + 1
    graph.write("MATCH (f:StoreFormat) SET f.version = $v", {"v": version}, operation="test")
    for verb in (["stats"], ["migrate"]):
        refused = _cli(embedded, graph, tmp_path, *verb)
        assert refused.exit_code == 3, refused.output
        assert (
            f"data format {version}, newer than this credgraph's format {FORMAT_VERSION}"
            in refused.output
        )


def test_migrate_refuses_a_store_another_process_runs_and_changes_nothing(tmp_path: Path) -> None:
    """A load or `serve` (of this release or the one before, which checks no format) shares
    the embedded store migrate would attach to: it could write under the old keys as the
    migration re-keys them, and its end stops the store under the migration. migrate sees it
    did not start the store and refuses, naming the process, before it writes anything."""
    settings = make_settings(tmp_path / "data")
    env = {
        "CREDGRAPH_DATA_DIR": str(settings.data_dir),
        "CREDGRAPH_EMBEDDED_BOLT_PORT": str(settings.embedded_bolt_port),
        "CREDGRAPH_EMBEDDED_HTTP_PORT": str(settings.embedded_http_port),
        "CREDGRAPH_EMBEDDED_HEAP": "1g",
        "CREDGRAPH_EMBEDDED_AOT_CACHE": "off",
        "CREDGRAPH_PERSON_KEY": TEST_PERSON_KEY,
        "CREDGRAPH_NEO4J_URI": None,
    }
    runner = CliRunner(env=env)
    # the store as another process runs it: started here, not by the migrate command
    with EmbeddedStore(settings) as other, open_store(settings) as store:
        apply_schema(store)
        _load(store, tmp_path, "old", ENTITIES)
        _make_old(store)
        refused = runner.invoke(app, ["migrate"])
        assert refused.exit_code == 3, refused.output
        assert f"a store (process {other.running_pid()}) is running on" in refused.output
        assert "stop what uses it (credgraph serve, a load)" in refused.output
        assert _persons(store)["钱多多"] == "FTM:" + PERSON_ID
        assert store_format(store) == 0
    # with nothing else on it, migrate starts the store itself, migrates, and stops it again
    done = runner.invoke(app, ["migrate"])
    assert done.exit_code == 0, done.output
    assert f"the graph store went from data format 0 to {FORMAT_VERSION}" in done.output
    assert EmbeddedStore(settings).running_pid() is None
    with open_store(settings) as store:
        assert _persons(store)["钱多多"] == TOKEN
        assert store_format(store) == FORMAT_VERSION


def _bare_database(embedded: EmbeddedStore, driver: Any, holding: str) -> GraphStore:
    """A database without the schema, holding one node written by `holding`."""
    name = f"bare{next(_bare_names)}"
    embedded.create_database(name)
    store = GraphStore(driver, name, 30.0, backend="arcadedb")
    store.write(holding, {"uid": STORE_FORMAT_KEY}, operation="test")
    assert describe_schema(store) == {"constraints": [], "indexes": []}
    return store


@pytest.mark.parametrize(
    ("holding", "version"),
    [
        ("CREATE (:LegalPerson {uid: 'X'})", 0),  # before formats were versioned
        (f"CREATE (:StoreFormat {{uid: $uid, version: {FORMAT_VERSION + 1}}})", FORMAT_VERSION + 1),
    ],
    ids=["older", "newer"],
)
def test_a_store_of_another_format_gets_no_schema_before_it_is_refused(
    embedded: EmbeddedStore, driver: Any, holding: str, version: int
) -> None:
    """The format is read before any index is created: a refused store is left as it was (a
    newer release's store may have dropped an index this code would create again)."""
    store = _bare_database(embedded, driver, holding)
    try:
        assert apply_schema(store) == version
        assert describe_schema(store) == {"constraints": [], "indexes": []}
        assert apply_schema(store, migrating=True) == version
        schema = describe_schema(store)
        assert bool(schema["indexes"]) is (version < FORMAT_VERSION)  # migrate brings it up
    finally:
        embedded.drop_database(store.database or "")


# format 1: a party an FtM file keyed by a strong identifier carried its entity id in `ftm_id`
STRONG_USCC = make_uscc("9", "1", "350203", "MA2Y0009")
STRONG = [
    ftm_entity("co-strong", "Company", name="鹭岛科技有限公司", registrationNumber=STRONG_USCC),
    ftm_entity("p-strong", "Person", name="王五", idNumber=RESIDENT),
    ftm_entity("co-weak", "Company", name="Dandong Trading Ltd"),
    ftm_entity("s-strong", "Sanction", entity="co-strong", program="SDN"),
]


def _make_format_1(store: GraphStore) -> None:
    """Today's graph in the shape format 1 stored: a strong-keyed party's entity id in its
    `ftm_id` (no `FtmId` node), its indexes on the parties' `ftm_id`."""
    for label in ("LegalPerson", "NaturalPerson"):
        store.write(
            f"MATCH (f:FtmId) MATCH (n:{label} {{uid: f.party_uid}}) SET n.ftm_id = f.ftm_id",
            operation="test",
        )
    store.write("MATCH (f:FtmId) DELETE f", operation="test")
    store.run_schema(
        [
            "CREATE INDEX legal_person_ftm_id IF NOT EXISTS FOR (n:LegalPerson) ON (n.ftm_id)",
            "CREATE INDEX natural_person_ftm_id IF NOT EXISTS FOR (n:NaturalPerson) ON (n.ftm_id)",
        ]
    )
    store.write("MATCH (f:StoreFormat) SET f.version = 1", operation="test")


def test_migration_2_keeps_the_entity_id_of_a_strong_keyed_party_as_an_ftm_id_node(
    graph: GraphStore, tmp_path: Path
) -> None:
    from credgraph.graph.migrations import migrate
    from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
    from credgraph.queries.lookup import resolve_identifier

    key = TEST_PERSON_KEY.encode()
    _load(graph, tmp_path, "list", STRONG)

    def dump() -> Any:
        return dump_graph(graph, ignore=LINEAGE_OF_RUN, skip_labels=["LoadChunk"])

    loaded = dump()
    _make_format_1(graph)
    assert store_format(graph) == 1
    assert "legal_person_ftm_id" in describe_schema(graph)["indexes"]

    found, applied = migrate(graph, key)
    assert (found, [a.migration.number for a in applied]) == (1, [2, 3])
    assert applied[0].changes == [
        "1 legal person(s) and 1 person(s) keyed by a strong identifier: their FtM entity id "
        "moved from `ftm_id` to an FtmId node"
    ]
    assert dump() == loaded, "the migrated store is not what a load writes now"
    assert {"legal_person_ftm_id", "natural_person_ftm_id"}.isdisjoint(
        describe_schema(graph)["indexes"]
    )
    firm = resolve_identifier(graph, "FTM:co-strong", key)
    assert firm is not None and firm.uid == STRONG_USCC
    person = resolve_identifier(graph, "FTM:p-strong", key)
    assert person is not None and person.uid == person_token(key, PersonIdType.RESIDENT, RESIDENT)
    # a later file links by the id, and the file loaded again adds nothing
    _load(graph, tmp_path, "later", [ftm_entity("s-later", "Sanction", entity="co-strong")])
    _load(graph, tmp_path, "again", STRONG)
    assert migrate(graph, key) == (FORMAT_VERSION, [])


# format 2: one FtmReferent per referent, keyed by its uid, naming the last file's party
MERGED = [
    ftm_entity("co-old", "Company", name="Dandong Trading Ltd"),
    ftm_entity("s-old", "Sanction", entity="co-old", program="SDN"),
]
MERGING = [
    {**ftm_entity("co-new", "Company", name="Dandong Trading Ltd"), "referents": ["co-old"]},
    {**ftm_entity("p-new", "Person", name="Li Na"), "referents": ["p-old"]},
]


@pytest.fixture
def second_graph(embedded, driver):  # type: ignore[no-untyped-def]
    store = new_database(embedded, driver, prefix="mig")
    yield store
    embedded.drop_database(store.database or "")


def _make_format_2(store: GraphStore) -> None:
    """Today's graph in the shape format 2 stored: an FtmReferent keyed by the referent's uid,
    no `referent_uid`, no index on it."""
    store.write(
        "MATCH (n:FtmReferent) SET n.uid = n.referent_uid REMOVE n.referent_uid",
        operation="test",
    )
    store.run_schema(["DROP INDEX ftm_referent_referent IF EXISTS"])
    store.write("MATCH (f:StoreFormat) SET f.version = 2", operation="test")


def test_migration_3_keeps_each_referent_as_the_claim_of_its_party(
    graph: GraphStore, second_graph: GraphStore, tmp_path: Path
) -> None:
    from credgraph.graph.migrations import migrate
    from credgraph.queries.dump import LINEAGE_OF_RUN, dump_graph
    from credgraph.queries.lookup import AmbiguousIdentifier, resolve_identifier

    key = TEST_PERSON_KEY.encode()
    _load(graph, tmp_path, "old", MERGED)
    _load(graph, tmp_path, "new", MERGING)

    def dump(store: GraphStore) -> Any:
        return dump_graph(store, ignore=(*LINEAGE_OF_RUN, "source_row"), skip_labels=["LoadChunk"])

    loaded = dump(graph)
    _make_format_2(graph)
    assert store_format(graph) == 2
    assert "ftm_referent_referent" not in describe_schema(graph)["indexes"]

    found, applied = migrate(graph, key)
    assert (found, [a.migration.number for a in applied]) == (2, [3])
    assert applied[0].changes == [
        "2 FtM referent(s) keyed by the referent and the party that claims it"
    ]
    assert dump(graph) == loaded, "the migrated store is not what a load writes now"
    assert "ftm_referent_referent" in describe_schema(graph)["indexes"]
    firm = resolve_identifier(graph, "FTM:co-old", key)
    assert firm is not None and firm.uid == "FTM:co-new"
    # a later file loaded again adds nothing; one giving the referent another party makes
    # it name neither, as in a store loaded by this code alone
    _load(graph, tmp_path, "again", MERGING)
    assert dump(graph) == loaded
    other = [{**ftm_entity("co-other", "Company", name="Other Ltd"), "referents": ["co-old"]}]
    _load(graph, tmp_path, "other", other)
    with pytest.raises(AmbiguousIdentifier, match="names 2 parties"):
        resolve_identifier(graph, "FTM:co-old", key)
    for name, lines in (("f-old", MERGED), ("f-new", MERGING), ("f-other", other)):
        _load(second_graph, tmp_path, name, lines)
    assert dump(graph) == dump(second_graph)
    assert migrate(graph, key) == (FORMAT_VERSION, [])
