"""FollowTheMoney links that name an entity only an earlier load holds: a sanctions file one
month, an ownership file the next. The later file's links reach the parties the earlier load
gave those ids (a weak party, a party keyed by a USCC that carries the id in `ftm_id`, the party
a stored referent names), whichever order the files come in once both are loaded."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore
from credgraph.loaders.report import LoadReport
from credgraph.queries import writes
from credgraph.queries.dump import LINEAGE_OF_RUN, GraphDump, dump_graph

from tests.conftest import TEST_PERSON_KEY, new_database
from tests.counting import CountingStore
from tests.registries import ftm_entity, ftm_merged, ftm_token, load_folder

USCC = make_uscc("9", "1", "350203", "MA2Y0002")


# month 1: the sanctions file. `co-n` and `p-n` took in the ids `co-old` and `p-old` (referents)
SANCTIONS = [
    ftm_entity("co-a", "Company", name="Dandong Trading Ltd"),
    ftm_entity("co-u", "Company", name="鹭岛科技有限公司", registrationNumber=USCC),
    ftm_entity("p-a", "Person", name="Zhang Wei"),
    ftm_merged(ftm_entity("co-n", "Company", name="New Name Holdings"), "co-old"),
    ftm_merged(ftm_entity("p-n", "Person", name="Li Na"), "p-old"),
    ftm_entity("s-a", "Sanction", entity="co-a", program="NPWMD"),
]
# month 2: an ownership dataset naming month 1's entities, and one id no load has seen
OWNERSHIP = [
    ftm_entity("co-b", "Company", name="Harbour Logistics Ltd"),
    ftm_entity("own-1", "Ownership", owner="p-a", asset="co-a", percentage="60"),
    ftm_entity("own-2", "Ownership", owner="co-old", asset="co-u", percentage="25"),
    ftm_entity("own-3", "Ownership", owner="co-b", asset="co-a", percentage="15"),
    ftm_entity("d-1", "Directorship", director="p-old", organization="co-u", role="Chairman"),
    ftm_entity("s-u", "Sanction", entity="co-u", program="SDN"),
    ftm_entity("own-4", "Ownership", owner="p-a", asset="co-nowhere", percentage="5"),
]
# every link of OWNERSHIP that names an entity of SANCTIONS, as it lands
LINKS = [
    ("FTM:co-b", "SHAREHOLDER_OF", "FTM:co-a"),
    ("FTM:co-n", "SHAREHOLDER_OF", USCC),
    (ftm_token("p-a"), "SHAREHOLDER_OF", "FTM:co-a"),
    (ftm_token("p-n"), "EXECUTIVE_OF", USCC),
    (USCC, "SUBJECT_OF", "FTM:s-u"),
]


def _load(store: GraphStore, folder: Path, lines: list[dict[str, Any]]) -> LoadReport:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entities.ftm.json").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n",
        encoding="utf-8",
    )
    report = load_folder(store, folder, folder / "rejects", batch_size=100)
    for file in report.files:
        assert file.read == file.loaded + file.rejected + file.merged, file.file
    return report


def _rejects(folder: Path) -> list[dict[str, str]]:
    path = folder / "rejects" / "entities.ftm.rejects.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _why(folder: Path) -> list[tuple[str, str, str]]:
    return [(row["line"], row["field"], row["reason"]) for row in _rejects(folder)]


def _links(store: GraphStore) -> list[tuple[str, str, str]]:
    rows = store.read(
        "MATCH (a)-[r]->(b) WHERE type(r) IN ['SHAREHOLDER_OF', 'EXECUTIVE_OF', 'SUBJECT_OF'] "
        "RETURN a.uid AS a, type(r) AS type, b.uid AS b"
    )
    return sorted((row["a"], row["type"], row["b"]) for row in rows)


def _dump(store: GraphStore) -> GraphDump:
    return dump_graph(store, ignore=(*LINEAGE_OF_RUN, "source_row"), skip_labels=["LoadChunk"])


@pytest.fixture
def second(embedded, driver):  # type: ignore[no-untyped-def]
    store = new_database(embedded, driver, prefix="ftmx")
    yield store
    embedded.drop_database(store.database or "")


def test_a_later_files_links_reach_the_parties_an_earlier_load_gave_their_ids(
    graph: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path / "month-1", SANCTIONS)
    report = _load(graph, tmp_path / "month-2", OWNERSHIP)

    [file] = report.files
    assert (file.read, file.rejected) == (7, 1)
    assert _why(tmp_path / "month-2") == [
        ("7", "asset", "refers to an entity that is neither in this file nor in the store")
    ]
    assert _links(graph) == sorted([*LINKS, ("FTM:co-a", "SUBJECT_OF", "FTM:s-a")])
    # nothing of month 1 doubled: the parties are month 1's and month 2's own
    [row] = graph.read("MATCH (n:LegalPerson) RETURN count(n) AS n")
    assert row["n"] == 4

    before = _dump(graph)
    _load(graph, tmp_path / "month-1 again", SANCTIONS)
    _load(graph, tmp_path / "month-2 again", OWNERSHIP)
    assert _dump(graph) == before, "loading the two files again changed the graph"


def test_the_later_file_first_is_rejected_then_loaded_again_as_if_in_order(
    graph: GraphStore, second: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path / "in order-1", SANCTIONS)
    _load(graph, tmp_path / "in order-2", OWNERSHIP)

    first = _load(second, tmp_path / "early", OWNERSHIP)
    assert first.files[0].rejected == 6  # every link but co-b's: none of their ends is known
    assert {field for _, field, _ in _why(tmp_path / "early")} == {
        "owner",
        "asset",
        "director",
        "entity",
    }
    _load(second, tmp_path / "late-1", SANCTIONS)
    _load(second, tmp_path / "late-2", OWNERSHIP)
    assert _why(tmp_path / "late-2") == _why(tmp_path / "in order-2")
    assert set(LINKS) <= set(_links(second))
    assert _dump(second) == _dump(graph)


def test_a_link_to_an_entity_its_file_rejected_is_rejected_though_the_store_holds_the_id(
    graph: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path / "month-1", SANCTIONS)
    lines = [
        ftm_entity("co-a", "Company", alias="no name"),  # rejected: the file's co-a is broken
        ftm_entity("s-b", "Sanction", entity="co-a"),
    ]
    _load(graph, tmp_path / "month-2", lines)
    assert _why(tmp_path / "month-2") == [
        ("1", "name", "is required"),
        ("2", "entity", "refers to the entity of line 1, which was rejected"),
    ]
    assert ("FTM:co-a", "SUBJECT_OF", "FTM:s-b") not in _links(graph)


def test_the_store_is_asked_once_per_chunk_and_only_for_ids_not_in_the_file(
    graph: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path / "month-1", SANCTIONS)
    parties = [
        ftm_entity("co-c", "Company", name="Inland Shipping Ltd"),
        ftm_entity("co-c2", "Company", name="Inland Shipping Holdings"),
    ]
    link = ftm_entity("own-5", "Ownership", owner="co-c", asset="co-c2", percentage="10")
    counts = []
    for name, lines in (("parties", parties), ("with a link", [parties[0], link, parties[1]])):
        counting = CountingStore(graph)
        _load(counting, tmp_path / name, lines)
        counts.append(counting.operations().count("load.resolve"))
        assert _by_ftm_id(counting) == 0
    assert counts[0] == counts[1], "a link whose ends are in its file read the store"

    counting = CountingStore(graph)
    _load(counting, tmp_path / "month-2", OWNERSHIP)
    # one chunk: one read per label by `ftm_id`, for the ids no weak party or referent has
    assert _by_ftm_id(counting) == 2
    counting = CountingStore(graph)
    load_folder(counting, tmp_path / "month-2", tmp_path / "month-2" / "again", batch_size=2)
    assert _by_ftm_id(counting) == 2 * 3  # OWNERSHIP's 6 links in 3 chunks, each naming co-u


def _by_ftm_id(counting: CountingStore) -> int:
    return sum(query in writes.PARTIES_BY_FTM_ID.values() for query in counting.queries)


# two lists give one company (one USCC) an entity id each: OpenSanctions and a city's own list
FIRM_USCC = make_uscc("9", "1", "350206", "MA2Y0003")
OTHER_USCC = make_uscc("9", "1", "350206", "MA2Y0004")
OPEN_LIST = [
    ftm_entity("os-firm", "Company", name="鹭岛贸易有限公司", registrationNumber=FIRM_USCC)
]
CITY_LIST = [
    ftm_entity("xm-firm", "Company", name="鹭岛贸易有限公司", registrationNumber=FIRM_USCC)
]
# a later file naming the company by each list's id
BY_BOTH_IDS = [
    ftm_entity("p-w", "Person", name="Wang Fang"),
    ftm_entity("own-w", "Ownership", owner="p-w", asset="os-firm", percentage="30"),
    ftm_entity("s-w", "Sanction", entity="xm-firm", program="Xiamen list"),
    ftm_entity("d-w", "Directorship", director="p-w", organization="os-firm", role="Chairman"),
]


def _ftm_ids(store: GraphStore) -> list[tuple[str, str]]:
    """Each FtM id the store finds a party by, with the party (what `FTM:<id>` resolves to)."""
    from credgraph.queries.lookup import resolve_identifier

    found = []
    for entity_id in ("os-firm", "xm-firm"):
        key = resolve_identifier(store, f"FTM:{entity_id}", TEST_PERSON_KEY.encode())
        found.append((entity_id, key.uid if key else ""))
    return found


def test_a_company_two_files_gave_two_ids_keeps_both_whichever_file_comes_first(
    graph: GraphStore, second: GraphStore, tmp_path: Path
) -> None:
    _load(graph, tmp_path / "a-1", OPEN_LIST)
    _load(graph, tmp_path / "a-2", CITY_LIST)
    _load(second, tmp_path / "b-1", CITY_LIST)
    _load(second, tmp_path / "b-2", OPEN_LIST)
    assert _dump(graph) == _dump(second), "the graph depends on the order of the two files"
    for store in (graph, second):
        assert _ftm_ids(store) == [("os-firm", FIRM_USCC), ("xm-firm", FIRM_USCC)]
    before = _dump(graph)
    _load(graph, tmp_path / "a-1 again", OPEN_LIST)
    assert _dump(graph) == before, "loading a file again changed the graph"


def test_a_later_files_links_reach_the_company_by_either_files_id(
    graph: GraphStore, second: GraphStore, tmp_path: Path
) -> None:
    for store, order, name in (
        (graph, (OPEN_LIST, CITY_LIST), "a"),
        (second, (CITY_LIST, OPEN_LIST), "b"),
    ):
        for number, lines in enumerate(order):
            _load(store, tmp_path / f"{name}-{number}", lines)
        report = _load(store, tmp_path / f"{name}-links", BY_BOTH_IDS)
        assert report.rejected == 0, _why(tmp_path / f"{name}-links")
        assert {
            (ftm_token("p-w"), "SHAREHOLDER_OF", FIRM_USCC),
            (ftm_token("p-w"), "EXECUTIVE_OF", FIRM_USCC),
            (FIRM_USCC, "SUBJECT_OF", "FTM:s-w"),
        } <= set(_links(store))
    assert _dump(graph) == _dump(second)


def test_the_cli_finds_the_company_by_the_first_files_id(
    graph: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from credgraph.cli import app
    from tests.investigations import cli_runner

    _load(graph, tmp_path / "1", OPEN_LIST)
    _load(graph, tmp_path / "2", CITY_LIST)
    cli = cli_runner(monkeypatch, embedded, graph)
    for entity_id in ("os-firm", "xm-firm"):
        answer = cli.invoke(app, ["linked", f"FTM:{entity_id}", "--json"])
        assert answer.exit_code == 0, answer.output
        assert json.loads(answer.stdout)["root"]["id"] == FIRM_USCC


def test_an_id_two_files_gave_two_companies_names_neither_in_either_order(
    graph: GraphStore, second: GraphStore, tmp_path: Path
) -> None:
    from credgraph.queries.lookup import AmbiguousIdentifier, resolve_identifier

    first = [ftm_entity("dup", "Company", name="鹭岛贸易有限公司", registrationNumber=FIRM_USCC)]
    other = [ftm_entity("dup", "Company", name="鹭江物流有限公司", registrationNumber=OTHER_USCC)]
    link = [ftm_entity("s-dup", "Sanction", entity="dup", program="Xiamen list")]
    for store, order, name in ((graph, (first, other), "a"), (second, (other, first), "b")):
        for number, lines in enumerate(order):
            _load(store, tmp_path / f"{name}-{number}", lines)
        with pytest.raises(AmbiguousIdentifier, match="names 2 parties"):
            resolve_identifier(store, "FTM:dup", TEST_PERSON_KEY.encode())
        _load(store, tmp_path / f"{name}-link", link)
        assert _why(tmp_path / f"{name}-link") == [
            ("1", "entity", "names 2 parties in the store; cannot tell which is meant")
        ]
    assert _dump(graph) == _dump(second)


def test_an_id_one_file_gave_a_company_and_another_a_person_names_neither(
    graph: GraphStore, tmp_path: Path
) -> None:
    """The lookup and the loader follow one chain (queries/ftm_ids.py): an id that names a
    party of each label is refused by both, rather than the lookup taking the company."""
    from credgraph.queries.lookup import AmbiguousIdentifier, resolve_identifier

    _load(graph, tmp_path / "firms", [ftm_entity("both", "Company", name="Harbour Ltd")])
    _load(graph, tmp_path / "people", [ftm_entity("both", "Person", name="Zhao Min")])
    with pytest.raises(AmbiguousIdentifier, match="names 2 parties"):
        resolve_identifier(graph, "FTM:both", TEST_PERSON_KEY.encode())
    _load(graph, tmp_path / "link", [ftm_entity("s-both", "Sanction", entity="both")])
    assert _why(tmp_path / "link") == [
        ("1", "entity", "names 2 parties in the store; cannot tell which is meant")
    ]


def test_a_person_two_files_gave_two_ids_is_found_by_both(
    graph: GraphStore, second: GraphStore, tmp_path: Path
) -> None:
    from credgraph.graph.identifiers import make_resident_id, person_token
    from credgraph.graph.vocabulary import PersonIdType
    from credgraph.queries.lookup import resolve_identifier

    resident = make_resident_id("350203", date(1971, 5, 6), 17, "M")
    key = TEST_PERSON_KEY.encode()
    token = person_token(key, PersonIdType.RESIDENT, resident)
    lists = [
        [ftm_entity(entity_id, "Person", name="陈明", idNumber=resident)]
        for entity_id in ("os-person", "xm-person")
    ]
    for store, order, name in ((graph, lists, "a"), (second, lists[::-1], "b")):
        for number, lines in enumerate(order):
            _load(store, tmp_path / f"{name}-{number}", lines)
        for entity_id in ("os-person", "xm-person"):
            found = resolve_identifier(store, f"FTM:{entity_id}", key)
            assert found is not None and found.uid == token, entity_id
    assert _dump(graph) == _dump(second)
