"""FollowTheMoney referents across loads: an entity id that a later export merged into another
entity (`referents`) names the same party, whichever file is loaded first."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore
from credgraph.loaders.report import LoadReport
from credgraph.queries.dump import LINEAGE_OF_RUN, GraphDump, dump_graph

from tests.conftest import TEST_PERSON_KEY, new_database
from tests.registries import ftm_entity, ftm_merged, ftm_token, load_folder

USCC = make_uscc("9", "1", "350203", "MA2Y0002")
FIRM = "丹东鸿祥实业发展有限公司"


def _load(
    store: GraphStore, folder: Path, lines: list[dict[str, Any]], batch_size: int = 100
) -> LoadReport:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entities.ftm.json").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n",
        encoding="utf-8",
    )
    report = load_folder(store, folder, folder / "rejects", batch_size=batch_size)
    assert [f.rejected for f in report.files] == [0], "a line was rejected"
    return report


def _dump(store: GraphStore) -> GraphDump:
    ignore = (*LINEAGE_OF_RUN, "source_row")
    return dump_graph(store, ignore=ignore, skip_labels=["LoadChunk"])


def _both_orders(
    embedded: Any, driver: Any, tmp_path: Path, old: list[Any], new: list[Any]
) -> dict[str, GraphStore]:
    """The earlier export then the later one, and the other way round, each file a load of
    its own; both stores, the folds each order did checked."""
    stores = {"old, then new": new_database(embedded, driver, prefix="ref")}
    stores["new, then old"] = new_database(embedded, driver, prefix="ref")
    runs = {"old, then new": [old, new], "new, then old": [new, old]}
    for name, files in runs.items():
        reports = [_load(stores[name], tmp_path / f"{name}-{i}", f) for i, f in enumerate(files)]
        assert [sum(f.folded for f in r.files) for r in reports] == [0, 1], name
    return stores


@pytest.fixture
def stores(embedded, driver):  # type: ignore[no-untyped-def]
    made: list[GraphStore] = []
    yield made
    for store in made:
        embedded.drop_database(store.database or "")


def _parties(store: GraphStore, label: str) -> list[dict[str, Any]]:
    return store.read(
        f"MATCH (n:{label}) RETURN n.uid AS uid, n.former_uids AS former, n.name AS name "
        "ORDER BY uid"
    )


def _links(store: GraphStore, uid: str) -> list[tuple[str, str, str]]:
    rows = store.read(
        "MATCH (a)-[r]->(b) WHERE (a.uid = $uid OR b.uid = $uid) "
        "AND NOT type(r) IN ['POSSIBLY_SAME_AS', 'NAME_OF'] "
        "RETURN a.uid AS a, type(r) AS type, b.uid AS b",
        {"uid": uid},
    )
    return sorted((row["a"], row["type"], row["b"]) for row in rows)


def _reloaded_unchanged(store: GraphStore, tmp_path: Path, files: list[Any]) -> None:
    """Each file loaded again, in chunks of two lines: not the chunks the run ledger holds, so
    every row is written again (a party's links in other chunks than the party)."""
    before = _dump(store)
    for i, lines in enumerate(files):
        _load(store, tmp_path / f"again-{i}", lines, batch_size=2)
    assert _dump(store) == before, "loading the files again changed the graph"


def test_a_company_merged_into_another_entity_is_one_party_in_either_order(
    embedded, driver, stores: list[GraphStore], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    parent = ftm_entity("parent", "Company", name="Parent Holdings Ltd")
    director = ftm_entity("dir-p", "Person", name="Zhang Wei")
    old = [
        ftm_entity("co-x", "Company", name=FIRM, address="辽宁省丹东市"),
        parent,
        director,
        ftm_entity("s-1", "Sanction", entity="co-x", program="NPWMD"),
        ftm_entity("own-1", "Ownership", owner="parent", asset="co-x", percentage="60"),
        ftm_entity("d-1", "Directorship", director="dir-p", organization="co-x", role="Director"),
    ]
    new = [
        ftm_merged(ftm_entity("co-y", "Company", name=FIRM, alias="Dandong Hongxiang"), "co-x"),
        parent,
        director,
        # the same ownership and directorship, their end renamed to the merged id
        ftm_entity("own-1", "Ownership", owner="parent", asset="co-y", percentage="60"),
        ftm_entity("d-1", "Directorship", director="dir-p", organization="co-y", role="Director"),
    ]
    by_order = _both_orders(embedded, driver, tmp_path, old, new)
    stores.extend(by_order.values())

    dumps = {name: _dump(store) for name, store in by_order.items()}
    assert dumps["old, then new"] == dumps["new, then old"]
    store = by_order["new, then old"]
    assert _parties(store, "LegalPerson") == [
        {"uid": "FTM:co-y", "former": ["FTM:co-x"], "name": FIRM},
        {"uid": "FTM:parent", "former": None, "name": "Parent Holdings Ltd"},
    ]
    person = ftm_token("dir-p")
    assert _links(store, "FTM:co-y") == sorted(
        [
            ("FTM:co-y", "SUBJECT_OF", "FTM:s-1"),  # the old id's sanction
            ("FTM:parent", "SHAREHOLDER_OF", "FTM:co-y"),
            (person, "EXECUTIVE_OF", "FTM:co-y"),
        ]
    )
    [merged] = store.read("MATCH (n:LegalPerson {uid: 'FTM:co-y'}) RETURN n.address AS address")
    assert merged["address"] == "辽宁省丹东市"  # what only the old entity said fills the gap
    for name, store in by_order.items():
        _reloaded_unchanged(store, tmp_path / name, [old, new])


def test_a_person_merged_into_another_entity_keeps_its_sanction_and_role(
    embedded, driver, stores: list[GraphStore], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    firm = ftm_entity("co-1", "Company", name="Some Trading Ltd")
    old = [
        ftm_entity("p-x", "Person", name="Li Na", birthDate="1970-02-03"),
        firm,
        ftm_entity("s-2", "Sanction", entity="p-x", program="SDN"),
        ftm_entity("d-2", "Directorship", director="p-x", organization="co-1", role="Chairman"),
    ]
    new = [ftm_merged(ftm_entity("p-y", "Person", name="Li Na", gender="female"), "p-x"), firm]
    by_order = _both_orders(embedded, driver, tmp_path, old, new)
    stores.extend(by_order.values())

    dumps = {name: _dump(store) for name, store in by_order.items()}
    assert dumps["old, then new"] == dumps["new, then old"]
    store = by_order["old, then new"]
    person = ftm_token("p-y")
    assert _parties(store, "NaturalPerson") == [
        {"uid": person, "former": [ftm_token("p-x")], "name": "Li Na"}
    ]
    assert _links(store, person) == [
        (person, "EXECUTIVE_OF", "FTM:co-1"),
        (person, "SUBJECT_OF", "FTM:s-2"),
    ]
    [merged] = store.read(
        "MATCH (n:NaturalPerson {uid: $uid}) RETURN n.birth_year AS year, n.sex AS sex",
        {"uid": person},
    )
    assert (merged["year"], merged["sex"]) == (1970, "F")
    for name, store in by_order.items():
        _reloaded_unchanged(store, tmp_path / name, [new, old])


def test_a_party_with_a_uscc_takes_in_a_referent_without_being_rekeyed(
    embedded, driver, stores: list[GraphStore], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    old = [
        ftm_entity("co-x", "Company", name=FIRM),
        ftm_entity("s-1", "Sanction", entity="co-x", program="NPWMD"),
    ]
    new = [ftm_merged(ftm_entity("co-y", "Company", name=FIRM, registrationNumber=USCC), "co-x")]
    by_order = _both_orders(embedded, driver, tmp_path, old, new)
    stores.extend(by_order.values())

    dumps = {name: _dump(store) for name, store in by_order.items()}
    assert dumps["old, then new"] == dumps["new, then old"]
    for store in by_order.values():
        assert _parties(store, "LegalPerson") == [
            {"uid": USCC, "former": ["FTM:co-x"], "name": FIRM}
        ]
        assert _links(store, USCC) == [(USCC, "SUBJECT_OF", "FTM:s-1")]


def test_a_referent_within_one_file_does_not_merge_an_entity_the_file_gives(
    graph: GraphStore, tmp_path: Path
) -> None:
    # the file gives `co-x` itself: its id wins over the referent (loaders/ftm.py), in the
    # store as in the file's links
    lines = [
        ftm_entity("co-x", "Company", name="Other Ltd"),
        ftm_merged(ftm_entity("co-y", "Company", name=FIRM), "co-x"),
        ftm_entity("s-1", "Sanction", entity="co-x"),
    ]
    assert sum(f.folded for f in _load(graph, tmp_path / "one", lines).files) == 0
    assert [p["uid"] for p in _parties(graph, "LegalPerson")] == ["FTM:co-x", "FTM:co-y"]
    assert _links(graph, "FTM:co-x") == [("FTM:co-x", "SUBJECT_OF", "FTM:s-1")]


# two later exports that merged one old id, `co-x`, into two different entities
CLAIM_P = [ftm_merged(ftm_entity("co-p", "Company", name="Pearl River Trading Ltd"), "co-x")]
CLAIM_Q = [ftm_merged(ftm_entity("co-q", "Company", name="Qingdao Harbour Ltd"), "co-x")]
NAMES_X = [ftm_entity("s-x", "Sanction", entity="co-x", program="NPWMD")]
CONFLICT = "referents: referent FTM:co-x is also claimed by {}; links naming it are refused"


def _rejects(folder: Path) -> list[tuple[str, str, str]]:
    path = folder / "rejects" / "entities.ftm.rejects.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["line"], row["field"], row["reason"]) for row in csv.DictReader(handle)]


def _ambiguous(store: GraphStore, entity_id: str) -> None:
    from credgraph.queries.lookup import AmbiguousIdentifier, resolve_identifier

    with pytest.raises(AmbiguousIdentifier, match="names 2 parties"):
        resolve_identifier(store, f"FTM:{entity_id}", TEST_PERSON_KEY.encode())


def test_a_referent_two_files_give_two_parties_names_neither_in_either_order(
    embedded, driver, stores: list[GraphStore], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Both claims are kept: `FTM:co-x` is refused as ambiguous and a later file's link naming
    `co-x` is rejected, whichever file came first; the second file's line says so."""
    runs = {"p, then q": (CLAIM_P, CLAIM_Q), "q, then p": (CLAIM_Q, CLAIM_P)}
    by_order = {name: new_database(embedded, driver, prefix="ref") for name in runs}
    stores.extend(by_order.values())
    for name, files in runs.items():
        store, folder = by_order[name], tmp_path / name
        _load(store, folder / "0", files[0])
        report = _load(store, folder / "1", files[1])
        other = "FTM:co-p" if files[0] is CLAIM_P else "FTM:co-q"
        assert report.files[0].referent_conflicts == 1
        assert report.files[0].referent_conflict_lines == [f"line 1: {CONFLICT.format(other)}"]
        _ambiguous(store, "co-x")
        folder.joinpath("link").mkdir(parents=True)
        (folder / "link" / "entities.ftm.json").write_text(json.dumps(NAMES_X[0]) + "\n")
        load_folder(store, folder / "link", folder / "link" / "rejects", batch_size=100)
        assert _rejects(folder / "link") == [
            ("1", "entity", "names 2 parties in the store; cannot tell which is meant")
        ]
    dumps = {name: _dump(store) for name, store in by_order.items()}
    assert dumps["p, then q"] == dumps["q, then p"], "the graph depends on the load order"
    for name, store in by_order.items():
        _reloaded_unchanged(store, tmp_path / name, [CLAIM_P, CLAIM_Q])
        _ambiguous(store, "co-x")


def test_the_cli_refuses_a_referent_two_files_give_two_parties(
    graph: GraphStore, embedded: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from credgraph.cli import app
    from tests.investigations import cli_runner

    _load(graph, tmp_path / "p", CLAIM_P)
    _load(graph, tmp_path / "q", CLAIM_Q)
    cli = cli_runner(monkeypatch, embedded, graph)
    answer = cli.invoke(app, ["linked", "FTM:co-x", "--json"])
    assert answer.exit_code != 0
    assert "names 2 parties" in answer.output
    for entity_id, party in (("co-p", "FTM:co-p"), ("co-q", "FTM:co-q")):
        answer = cli.invoke(app, ["linked", f"FTM:{entity_id}", "--json"])
        assert answer.exit_code == 0, answer.output
        assert json.loads(answer.stdout)["root"]["id"] == party


def test_a_party_stored_under_a_conflicting_referent_is_folded_once(
    embedded, driver, stores: list[GraphStore], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`co-x` loaded as its own entity first: the first claim folds it, the second folds
    nothing more and is recorded. Loaded after both claims, it stays a party of its own
    (docs/formats.md "referents": the one case that still depends on the order)."""
    weak = [ftm_entity("co-x", "Company", name=FIRM), *NAMES_X]
    first = new_database(embedded, driver, prefix="ref")
    last = new_database(embedded, driver, prefix="ref")
    stores.extend([first, last])
    folded = [
        sum(f.folded for f in _load(first, tmp_path / f"first-{i}", lines).files)
        for i, lines in enumerate([weak, CLAIM_P, CLAIM_Q])
    ]
    assert folded == [0, 1, 0]
    assert _parties(first, "LegalPerson") == [
        {"uid": "FTM:co-p", "former": ["FTM:co-x"], "name": "Pearl River Trading Ltd"},
        {"uid": "FTM:co-q", "former": None, "name": "Qingdao Harbour Ltd"},
    ]
    assert _links(first, "FTM:co-p") == [("FTM:co-p", "SUBJECT_OF", "FTM:s-x")]
    folded = [
        sum(f.folded for f in _load(last, tmp_path / f"last-{i}", lines).files)
        for i, lines in enumerate([CLAIM_P, CLAIM_Q, weak])
    ]
    assert folded == [0, 0, 0]
    assert [p["uid"] for p in _parties(last, "LegalPerson")] == ["FTM:co-p", "FTM:co-q", "FTM:co-x"]
    assert _links(last, "FTM:co-x") == [("FTM:co-x", "SUBJECT_OF", "FTM:s-x")]
    for store in (first, last):
        _ambiguous(store, "co-x")
    # each order's graph stays as it is when its files are loaded again
    _reloaded_unchanged(first, tmp_path / "first", [weak, CLAIM_P, CLAIM_Q])
    _reloaded_unchanged(last, tmp_path / "last", [CLAIM_P, CLAIM_Q, weak])
