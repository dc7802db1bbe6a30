"""FollowTheMoney entity files: parties, links and records, parsed in two passes."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import (
    ftm_person_token,
    make_resident_id,
    make_uscc,
    person_token,
)
from credgraph.graph.names import name_key
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import (
    Label,
    LegalPersonKind,
    PersonIdType,
    RecordStatus,
    RelationType,
    Role,
)
from credgraph.loaders import sources
from credgraph.loaders.ftm import Parsed, parse_entities, role_of
from credgraph.loaders.report import LoadReport
from credgraph.loaders.rows import NodeRow, ParseContext, RecordRow, RelationRow, RowError
from credgraph.queries.links import LinkKind, suspected_links
from credgraph.queries.lookup import PartyKey
from credgraph.queries.records import fetch_record_states
from typer.testing import CliRunner

from tests.conftest import TEST_PERSON_KEY, new_database
from tests.registries import ftm_entity, load_folder, write_csv

KEY = b"k" * 32
CTX = ParseContext(person_key=KEY, today=date(2026, 6, 30))
USCC = make_uscc("9", "1", "350203", "MA2Y0001")
RESIDENT = make_resident_id("350203", date(1975, 3, 2), 12, "M")


def _write(tmp_path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path = tmp_path / "entities.ftm.json"
    text = [
        line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines
    ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


Lines = list[tuple[int, Parsed | RowError]]


def _parse(tmp_path: Path, lines: list[dict[str, Any] | str]) -> Lines:
    return list(parse_entities(CTX, _write(tmp_path, lines)))


def _by_line(parsed: Lines) -> dict[int, Parsed | RowError]:
    lines = [line for line, _ in parsed]
    assert len(lines) == len(set(lines)), "a line was yielded twice"
    return dict(parsed)


def test_a_company_with_a_uscc_is_strong_and_one_without_is_weak(tmp_path: Path) -> None:
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity(
                    "co-1",
                    "Company",
                    name=["厦门鹭岛科技有限公司", "Xiamen Ludao Technology Co., Ltd."],
                    registrationNumber=USCC.lower(),
                    country="cn",
                    address="厦门市思明区",
                    incorporationDate="2010-05",
                ),
                ftm_entity(
                    "co-2", "Company", name="Shell Holdings Ltd", registrationNumber="12345"
                ),
                ftm_entity("gov-1", "PublicBody", name="某市市场监督管理局"),
            ],
        )
    )
    strong, weak, body = rows[1], rows[2], rows[3]
    assert isinstance(strong, NodeRow) and isinstance(weak, NodeRow) and isinstance(body, NodeRow)
    assert strong.label is Label.LEGAL_PERSON and strong.uid == USCC
    assert strong.props["strong_id"] is True and strong.props["uscc"] == USCC
    assert strong.props["org_code"] == USCC[8:17] and strong.props["region_code"] == "350203"
    assert strong.props["name"] == "厦门鹭岛科技有限公司"
    assert strong.props["name_key"] == name_key("厦门鹭岛科技有限公司")
    assert strong.props["aliases"] == ["厦门鹭岛科技有限公司", "Xiamen Ludao Technology Co., Ltd."]
    assert strong.props["country"] == "CN" and strong.props["registered_on"] == date(2010, 5, 1)
    assert strong.props["kind"] == LegalPersonKind.ENTERPRISE.value
    assert weak.uid == "FTM:co-2" and weak.props["strong_id"] is False
    assert weak.props["uscc"] is None and weak.props["aliases"] == [weak.props["name"]]
    assert body.props["kind"] == LegalPersonKind.GOVERNMENT_BODY.value


def test_a_uscc_in_tax_number_with_full_width_characters_counts(tmp_path: Path) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in USCC)
    rows = _by_line(_parse(tmp_path, [ftm_entity("co", "Organization", name="X", taxNumber=wide)]))
    assert isinstance(rows[1], NodeRow) and rows[1].uid == USCC


def test_a_line_over_the_cap_is_read_past_and_rejected_the_next_entities_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 10_000)
    long_line = json.dumps(ftm_entity("co-2", "Company", name="x" * 100_000))
    lines = [
        ftm_entity("co-1", "Company", name="甲"),
        long_line,
        ftm_entity("co-3", "Company", name="丙"),
    ]
    rows = _by_line(_parse(tmp_path, lines))
    assert isinstance(rows[1], NodeRow) and isinstance(rows[3], NodeRow)
    assert isinstance(rows[2], RowError) and (rows[2].field, rows[2].reason) == (
        "(row)",
        f"line 2 is {len(long_line):,} bytes long, over the limit of 10,000: the row was not read",
    )


def test_control_characters_are_dropped_from_names_and_values(tmp_path: Path) -> None:
    entity = ftm_entity("co", "Company", name="鹭岛\x00科技\x07", address="思明区\x1b湖滨路")
    rows = _by_line(_parse(tmp_path, [entity]))
    assert isinstance(rows[1], NodeRow)
    assert (rows[1].props["name"], rows[1].props["address"]) == ("鹭岛科技", "思明区湖滨路")


def _all_text(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def test_a_person_with_a_resident_id_gets_a_token_and_no_raw_number(tmp_path: Path) -> None:
    passport = "E12345678"
    parsed = _parse(
        tmp_path,
        [
            ftm_entity(
                "p-1",
                "Person",
                name="张伟",
                idNumber=["not-a-number", RESIDENT],
                birthDate="1975-03-02",
                gender="female",  # the number says otherwise, and the number wins
            ),
            ftm_entity(
                "p-2", "Person", name="John Smith", passportNumber=passport, nationality="gb"
            ),
            ftm_entity("p-3", "Person", name="Jane Doe", passportNumber=passport),  # no country
            ftm_entity("p-4", "Person", firstName="Wei", lastName="Li"),
        ],
    )
    rows = _by_line(parsed)
    resident, foreign, weak, named = rows[1], rows[2], rows[3], rows[4]
    assert isinstance(resident, NodeRow) and resident.label is Label.NATURAL_PERSON
    assert resident.uid == person_token(KEY, PersonIdType.RESIDENT, RESIDENT)
    assert resident.props["id_type"] == "resident" and resident.props["strong_id"] is True
    assert resident.props["id_masked"] == RESIDENT[:4] + "*" * 10 + RESIDENT[-4:]
    assert resident.props["sex"] == "M" and resident.props["country"] == "CN"
    assert resident.props["birth_year"] == 1975
    assert isinstance(foreign, NodeRow)
    assert foreign.uid == person_token(KEY, PersonIdType.PASSPORT, passport, "GB")
    assert foreign.props["id_type"] == "passport" and foreign.props["id_masked"] == "******678"
    assert isinstance(weak, NodeRow) and weak.uid == ftm_person_token(KEY, "p-3")
    assert weak.props["id_type"] == "none" and weak.props["strong_id"] is False
    assert isinstance(named, NodeRow) and named.props["name"] == "Wei Li"
    everything = _all_text([(line, getattr(row, "props", row)) for line, row in parsed])
    for secret in (RESIDENT, RESIDENT[6:14], "1975-03-02", passport):
        assert secret not in everything


def test_an_entity_id_holding_a_resident_number_is_hashed(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        [
            ftm_entity(f"cn-{RESIDENT}", "Person", name="王五"),
            ftm_entity("s-1", "Sanction", entity=f"cn-{RESIDENT}", authority="某局"),
        ],
    )
    person = dict(parsed)[1]
    assert isinstance(person, NodeRow) and person.uid == ftm_person_token(KEY, f"cn-{RESIDENT}")
    assert re.fullmatch("[0-9a-f]{32}", person.uid) and person.props["ftm_id"].startswith("H")
    record = dict(parsed)[2]
    assert isinstance(record, RecordRow) and record.subject.uid == person.uid
    assert RESIDENT not in _all_text([getattr(row, "__dict__", row) for _, row in parsed])


def test_a_sanction_before_its_entity_still_resolves(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        [
            {
                **ftm_entity(
                    "s-1",
                    "Sanction",
                    entity="co-1",
                    authority="厦门市市场监督管理局",
                    program="严重违法失信名单",
                    reason="虚假登记",
                    startDate="2018",
                    listingDate="2018-03-02T10:00:00",
                ),
                "datasets": ["cn_amr_blacklist", "default"],
            },
            ftm_entity("s-2", "Sanction", entity="co-1", startDate="2019-01", endDate="2020-06-30"),
            ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC),
        ],
    )
    assert [line for line, _ in parsed] == [3, 1, 2]  # parties first
    rows = _by_line(parsed)
    record, expired = rows[1], rows[2]
    assert isinstance(record, RecordRow) and isinstance(expired, RecordRow)
    assert record.label is Label.SANCTION_EVENT and record.uid == "FTM:s-1"
    assert record.subject.label is Label.LEGAL_PERSON and record.subject.uid == USCC
    assert record.source_record == "s-1"
    props = record.props
    assert props["record_id"] == "s-1" and props["kind"] == "blacklist"
    assert props["status"] == props["listed_status"] == RecordStatus.ACTIVE.value
    assert props["disclosure"] == "public" and props["source_system"] == "cn_amr_blacklist"
    assert props["list_name"] == "严重违法失信名单" and props["description"] == "虚假登记"
    assert props["valid_from"] == date(2018, 1, 1) and props["valid_to"] is None
    assert props["published_on"] == date(2018, 3, 2)
    assert props["authority_name"] == "厦门市市场监督管理局"
    assert record.authority is not None
    assert record.authority.uid == f"NAME:{name_key('厦门市市场监督管理局')}"
    assert record.authority.props == {"code": None, "name": "厦门市市场监督管理局"}
    assert expired.props["status"] == "expired" and expired.props["valid_to"] == date(2020, 6, 30)
    assert expired.authority is None and expired.props["source_system"] == "cn_test"


def test_ownership_percentages_become_stakes(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        [
            ftm_entity(
                "own-1",
                "Ownership",
                owner="p-1",
                asset="co-1",
                percentage="12.5",
                sharesValue="1,000,000",
                startDate="2015-06-01",
            ),
            ftm_entity("own-2", "Ownership", owner="co-2", asset="co-1", percentage="40%"),
            ftm_entity("own-3", "Ownership", owner="co-1", asset="p-1"),  # a person is no asset
            ftm_entity("own-4", "Ownership", owner="co-2", asset="co-1", percentage="150"),
            ftm_entity(
                "own-5",
                "Ownership",
                owner="co-2",
                asset="co-1",
                sharesValue="9",
                sharesCurrency="USD",
            ),
            ftm_entity("p-1", "Person", name="张伟", idNumber=RESIDENT),
            ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC),
            ftm_entity("co-2", "Company", name="Offshore Ltd"),
        ],
    )
    rows = _by_line(parsed)
    person, held = rows[1], rows[2]
    assert isinstance(person, RelationRow) and isinstance(held, RelationRow)
    assert person.type is RelationType.SHAREHOLDER_OF and person.source_record == "own-1"
    assert person.source.label is Label.NATURAL_PERSON and person.target.uid == USCC
    assert person.props == {
        "stake": 0.125,
        "stake_range": None,
        "subscribed_capital": 1_000_000.0,
        "valid_from": date(2015, 6, 1),
        "valid_to": None,
    }
    assert held.source.uid == "FTM:co-2" and held.props["stake"] == 0.4
    assert isinstance(rows[3], RowError) and rows[3].field == "asset"
    assert isinstance(rows[4], RowError) and rows[4].field == "percentage"
    assert isinstance(rows[5], RelationRow) and rows[5].props["subscribed_capital"] is None


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("法定代表人", Role.LEGAL_REPRESENTATIVE),
        ("Legal Representative", Role.LEGAL_REPRESENTATIVE),
        ("董事长", Role.CHAIR),
        ("Chairman of the Board", Role.CHAIR),
        ("董事", Role.DIRECTOR),
        ("Non-executive Director", Role.DIRECTOR),
        ("监事", Role.SUPERVISOR),
        ("Supervisor", Role.SUPERVISOR),
        ("总经理", Role.MANAGER),
        ("经理", Role.MANAGER),
        ("General Manager", Role.MANAGER),
        ("Company Secretary", Role.SECRETARY),
        ("董事会秘书", Role.SECRETARY),
        ("CFO", Role.CFO),
        ("财务负责人", Role.CFO),
        ("负责人", Role.PRINCIPAL),
        ("Shareholder representative", Role.DIRECTOR),
        (None, Role.DIRECTOR),
    ],
)
def test_role_texts(text: str | None, role: Role) -> None:
    assert role_of(text) is role


def test_directorships_become_role_relations(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        [
            ftm_entity(
                "d-1", "Directorship", director="p-1", organization="co-1", role="法定代表人"
            ),
            ftm_entity(
                "d-2",
                "Directorship",
                director="p-1",
                organization="co-1",
                role="董事长",
                endDate="2020-01-01",
            ),
            ftm_entity(
                "d-3", "Directorship", director="co-2", organization="co-1", role="director"
            ),
            ftm_entity("d-4", "Directorship", director="p-1", organization="p-1"),
            ftm_entity("p-1", "Person", name="张伟", idNumber=RESIDENT),
            ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC),
            ftm_entity("co-2", "Company", name="Nominee Director Ltd"),
        ],
    )
    rows = _by_line(parsed)
    legal_rep, chair = rows[1], rows[2]
    assert isinstance(legal_rep, RelationRow) and isinstance(chair, RelationRow)
    assert legal_rep.type is RelationType.LEGAL_REPRESENTATIVE_OF
    assert legal_rep.source.uid == person_token(KEY, PersonIdType.RESIDENT, RESIDENT)
    assert legal_rep.target.uid == USCC and legal_rep.source_record == "d-1"
    assert legal_rep.props == {
        "role": "legal_representative",
        "title": "法定代表人",
        "matter": None,
        "valid_from": None,
        "valid_to": None,
    }
    assert chair.type is RelationType.EXECUTIVE_OF and chair.props["role"] == "chair"
    assert chair.props["valid_to"] == date(2020, 1, 1)
    assert 3 not in rows  # a company as director: not mapped, counted (below), not rejected
    assert isinstance(rows[4], RowError) and rows[4].field == "organization"


def test_broken_lines_are_rejected_once_with_their_line(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        [
            ftm_entity("co-1", "Company", name="鹭岛科技"),
            '{"id": "co-2", "schema": "Company", ',  # cut off
            "",  # blank: not an entity
            "[1, 2]",
            {"schema": "Sanction", "properties": {"entity": ["co-1"]}},  # no id
            {"id": "s-9", "schema": "Sanction", "properties": ["entity"]},
            ftm_entity("s-1", "Sanction", entity="nobody"),
            ftm_entity("s-2", "Sanction"),
            ftm_entity("co-3", "Company", registrationNumber=USCC),  # no name
            ftm_entity("s-3", "Sanction", entity="co-3"),  # its party was rejected
            ftm_entity("s-4", "Sanction", entity="co-1", startDate="March 2018"),
            ftm_entity("addr-1", "Address", full="厦门市思明区"),  # skipped silently
            ftm_entity("o-1", "Ownership", owner="co-1", asset="co-1"),
        ],
    )
    rows = _by_line(parsed)
    assert sorted(rows) == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    errors = {
        line: (row.field, row.reason) for line, row in rows.items() if isinstance(row, RowError)
    }
    assert errors[2][0] == "(row)" and errors[2][1].startswith("not complete JSON: the line is cut")
    assert errors[4] == ("(row)", "not a JSON object")
    assert errors[5][0] == errors[6][0] == "(row)"
    assert errors[7][0] == "entity" and "nobody" not in errors[7][1]
    assert errors[8] == ("entity", "is required")
    assert errors[9] == ("name", "is required")
    assert errors[10][0] == "entity"
    assert errors[11][0] == "startDate"
    assert errors[13][0] == "owner"
    assert isinstance(rows[1], NodeRow)


def test_a_line_cut_off_is_told_as_cut_off_and_where(tmp_path: Path) -> None:
    whole = json.dumps(ftm_entity("co-2", "Company", name="鹭岛科技二", address="厦门市思明区"))
    parsed = _by_line(
        _parse(tmp_path, [ftm_entity("co-1", "Company", name="鹭岛科技"), whole[:60], whole[:45]])
    )
    assert isinstance(parsed[1], NodeRow)
    cut = parsed[2]
    assert isinstance(cut, RowError) and cut.field == "(row)"
    assert cut.reason == (
        "not complete JSON: the line is cut off at column 60, before its object is closed"
    )
    cut = parsed[3]
    assert isinstance(cut, RowError)
    assert cut.reason.startswith("not complete JSON: the line is cut off at column 45, inside")


def test_every_line_is_yielded_at_most_once(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = []
    for i in range(20):
        lines.append(ftm_entity(f"co-{i}", "Company", name=f"公司{i}"))
        lines.append(ftm_entity(f"s-{i}", "Sanction", entity=f"co-{(i * 7) % 25}"))
        lines.append(ftm_entity(f"n-{i}", "Note", description="x"))
        lines.append("{not json")
    parsed = _parse(tmp_path, lines)
    counts = Counter(line for line, _ in parsed)
    assert max(counts.values()) == 1
    assert len(parsed) == 20 * 3  # companies, sanctions, broken lines; notes are not counted
    known = sum(1 for i in range(20) if (i * 7) % 25 < 20)  # co-20 .. co-24 do not exist
    assert sum(isinstance(row, RecordRow) for _, row in parsed) == known
    assert sum(isinstance(row, RowError) for _, row in parsed) == 20 + 20 - known


def test_a_bom_and_every_line_ending_are_read(tmp_path: Path) -> None:
    path = tmp_path / "entities.ftm.json"
    entity = json.dumps(ftm_entity("co-1", "Company", name="鹭岛科技"), ensure_ascii=False)
    path.write_bytes(("\ufeff" + entity + "\r\n" + entity + "\r\n").encode("utf-8"))
    parsed = list(parse_entities(CTX, path))
    assert [line for line, _ in parsed] == [1, 2]
    assert all(isinstance(row, NodeRow) and row.uid == "FTM:co-1" for _, row in parsed)
    # lone carriage returns (old Mac) and the \r\r\n of doubly converted files end lines too
    path.write_bytes((entity + "\r" + entity + "\r\r\n\r" + entity + "\r").encode("utf-8"))
    parsed = list(parse_entities(CTX, path))
    assert [line for line, _ in parsed] == [1, 2, 4]
    assert all(isinstance(row, NodeRow) for _, row in parsed)


# --- through the real loader into the embedded store -------------------------------------------


def _load(graph: GraphStore, source: Path, lines: list[dict[str, Any]]) -> LoadReport:
    """Write `lines` as an FtM file into `source` (beside any registry files there) and load
    the folder with the real loader."""
    (source / "entities.ftm.json").write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in lines) + "\n", encoding="utf-8"
    )
    return load_folder(graph, source, source / "rejects", batch_size=100)


def test_an_ftm_file_loads_beside_a_registry_and_links_same_names(
    graph: GraphStore, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    write_csv(
        source / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[USCC, "厦门鹭岛科技有限公司", "enterprise"]],
    )
    lines = [
        ftm_entity("s-1", "Sanction", entity="weak-co", authority="某市市场监督管理局"),
        ftm_entity("weak-co", "Company", name="廈門鷺島科技有限公司"),  # traditional: same key
        ftm_entity("p-1", "Person", name="张伟", idNumber=RESIDENT),
        ftm_entity("d-1", "Directorship", director="p-1", organization="weak-co", role="董事长"),
        ftm_entity("o-1", "Ownership", owner="p-1", asset=USCC.lower(), percentage="12.5"),
        ftm_entity(USCC.lower(), "Company", name="厦门鹭岛科技有限公司", registrationNumber=USCC),
        ftm_entity("s-2", "Sanction", entity="ghost"),
    ]
    report = _load(graph, source, lines)
    assert [Path(f.file).name for f in report.files] == ["legal_persons.csv", "entities.ftm.json"]

    ftm_report = report.files[1]
    assert (ftm_report.read, ftm_report.loaded, ftm_report.rejected, ftm_report.merged) == (
        7,
        6,
        1,
        0,
    )
    same = graph.read(
        "MATCH (a:LegalPerson)-[r:POSSIBLY_SAME_AS]-(b:LegalPerson) "
        "RETURN a.uid AS a, b.uid AS b, r.score AS score",
        operation="test",
    )
    assert {(row["a"], row["b"]) for row in same} >= {("FTM:weak-co", USCC)}
    links = graph.read(
        "MATCH (p:NaturalPerson)-[r]->(c:LegalPerson) RETURN type(r) AS type, c.uid AS company",
        operation="test",
    )
    assert {(row["type"], row["company"]) for row in links} == {
        ("EXECUTIVE_OF", "FTM:weak-co"),
        ("SHAREHOLDER_OF", USCC),
    }
    records = graph.read(
        "MATCH (c:LegalPerson)-[:SUBJECT_OF]->(r:SanctionEvent)-[:ISSUED_BY]->(a:Authority) "
        "RETURN c.uid AS subject, r.uid AS record, a.name AS authority",
        operation="test",
    )
    assert [(r["subject"], r["record"], r["authority"]) for r in records] == [
        ("FTM:weak-co", "FTM:s-1", "某市市场监督管理局")
    ]


def test_a_list_entry_of_a_registry_party_adds_its_names_in_either_order(
    embedded: EmbeddedStore, driver: Any, tmp_path: Path
) -> None:
    registry, listed = tmp_path / "registry", tmp_path / "list"
    registry.mkdir()
    listed.mkdir()
    write_csv(
        registry / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[USCC, "厦门质检贸易", "enterprise"]],
    )
    company = ftm_entity("qa-1", "Company", name="Xiamen QA Trading Co", registrationNumber=USCC)
    (listed / "entities.ftm.json").write_text(json.dumps(company) + "\n", encoding="utf-8")
    seen = []
    for order in ([registry, listed], [listed, registry]):
        store = new_database(embedded, driver, prefix="ftmorder")
        for folder in order:
            load_folder(store, folder, tmp_path / "rejects", batch_size=100)
        [row] = store.read(
            "MATCH (n:LegalPerson {uid: $uid}) RETURN n.name AS name, n.aliases AS aliases, "
            "n.source AS source, n.source_row AS row, n.ftm_id AS ftm_id",
            {"uid": USCC},
            operation="test",
        )
        seen.append(row)
    assert seen[0] == seen[1]  # the graph does not depend on the order of the loads
    assert seen[0]["name"] == "厦门质检贸易" and "Xiamen QA Trading Co" in seen[0]["aliases"]
    assert (seen[0]["source"], seen[0]["row"]) == ("legal_persons", "legal_persons:2")


def test_contact_properties_get_the_registry_loaders_matching_keys(tmp_path: Path) -> None:
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity(
                    "co",
                    "Company",
                    name="X",
                    address=["廈門市思明區 湖濱南路1號", "另一个地址"],
                    phone="0592-555 0101",
                    email="Boss@Example.CN",
                ),
                ftm_entity("p", "Person", name="Y", phone="(0592) 5550101", address="某地"),
                ftm_entity("bare", "Company", name="Z"),
            ],
        )
    )
    firm, person, bare = rows[1], rows[2], rows[3]
    assert isinstance(firm, NodeRow) and isinstance(person, NodeRow) and isinstance(bare, NodeRow)
    assert firm.props["address"] == "廈門市思明區 湖濱南路1號"
    assert firm.props["address_key"] == name_key("厦门市思明区湖滨南路1号")
    assert (firm.props["phone"], firm.props["phone_key"]) == ("0592-555 0101", "05925550101")
    assert (firm.props["email"], firm.props["email_key"]) == ("Boss@Example.CN", "boss@example.cn")
    assert person.props["phone_key"] == "05925550101" and person.props["email_key"] is None
    assert "address" not in person.props and "address_key" not in person.props
    assert {bare.props[k] for k in ("address_key", "phone_key", "email_key")} == {None}


def test_ftm_parties_sharing_an_address_phone_or_email_are_suspected_links(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Two FtM companies at one address (written differently), an FtM company and a registry
    firm with one phone, and an FtM person with the first company's e-mail."""
    source = tmp_path / "in"
    source.mkdir()
    write_csv(
        source / "legal_persons.csv",
        ["uscc", "name", "kind", "phone"],
        [[USCC, "厦门鹭岛科技有限公司", "enterprise", "0592 5550199"]],
    )
    lines = [
        ftm_entity(
            "co-a",
            "Company",
            name="甲公司",
            address="廈門市思明區 湖濱南路1號",
            email="zhang@example.cn",
        ),
        ftm_entity("co-b", "Company", name="乙公司", address="厦门市思明区湖滨南路1号"),
        ftm_entity("co-c", "Company", name="丙公司", phone="(0592) 555-0199"),
        ftm_entity("co-d", "Company", name="丁公司", address="厦门市思明区湖滨南路2号"),
        ftm_entity("p-1", "Person", name="张伟", email="Zhang@Example.CN"),
    ]
    report = _load(graph, source, lines)
    assert report.files[1].rejected == 0
    a, b, c = (PartyKey(Label.LEGAL_PERSON, f"FTM:co-{n}") for n in "abc")
    person = PartyKey(Label.NATURAL_PERSON, ftm_person_token(TEST_PERSON_KEY.encode(), "p-1"))
    as_of = date(2026, 6, 30)

    from_a = suspected_links(graph, a, as_of=as_of)
    assert {(link.kind, link.party) for link in from_a.items} == {
        (LinkKind.SHARED_ADDRESS, b),
        (LinkKind.SHARED_EMAIL, person),
    }
    address = next(link for link in from_a.items if link.kind is LinkKind.SHARED_ADDRESS)
    assert address.evidence == {
        "key": name_key("厦门市思明区湖滨南路1号"),
        "address": "廈門市思明區 湖濱南路1號",
    }
    from_c = suspected_links(graph, c, as_of=as_of)
    assert {(link.kind, link.party) for link in from_c.items} == {
        (LinkKind.SHARED_PHONE, PartyKey(Label.LEGAL_PERSON, USCC))
    }


def test_what_the_loader_does_not_map_is_counted_not_rejected(tmp_path: Path) -> None:
    unmapped: dict[str, int] = {}
    unused: dict[str, int] = {}
    lines: list[dict[str, Any] | str] = [
        ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC, topics="sanction"),
        ftm_entity(
            "p-1",
            "Person",
            name="张伟",
            position="General Manager",
            topics="role.pep",
            address="厦门市思明区某路1号",
            birthPlace="厦门",
        ),
        ftm_entity("v-1", "Vessel", name="HAO FAN 6", imoNumber="IMO8628597"),
        ftm_entity("sec-1", "Security", name="鹭岛科技 股票", isin="CNE000000001"),
        ftm_entity("s-1", "Sanction", entity="v-1", program="DPRK3"),
        ftm_entity("s-2", "Sanction", entity="co-1", program="NPWMD", sourceUrl="https://x.test/1"),
        ftm_entity("o-1", "Ownership", owner="co-1", asset="sec-1", percentage="10"),
        ftm_entity("d-1", "Directorship", director="co-1", organization="co-1", role="director"),
        ftm_entity("f-1", "Family", person="p-1", relative="p-1", relationship="spouse"),
        ftm_entity("a-1", "Associate", person="p-1", associate="p-1"),
        ftm_entity("u-1", "UnknownLink", subject="p-1", object="co-1"),
        ftm_entity("occ-1", "Occupancy", holder="p-1", post="pos-1"),
        ftm_entity("pos-1", "Position", name="Member of the State Duma"),
        ftm_entity("addr-1", "Address", full="Dandong, Liaoning"),
        ftm_entity("id-1", "Identification", holder="p-1", number="7512345678"),
    ]
    parsed = _by_line(list(parse_entities(CTX, _write(tmp_path, lines), unmapped, unused)))
    assert sorted(parsed) == [1, 2, 6]  # the two parties and the sanction of the company
    assert unmapped == {
        "Vessel": 1,
        "Security": 1,
        "Family": 1,
        "Associate": 1,
        "UnknownLink": 1,
        "Occupancy": 1,
        "Position": 1,
        "Address": 1,
        "Identification": 1,
        "Sanction (entity: Vessel)": 1,
        "Ownership (asset: Security)": 1,
        "Directorship (director: a company or organisation)": 1,
    }
    assert unused == {
        "Company.topics": 1,
        "Person.position": 1,
        "Person.topics": 1,
        "Person.address": 1,
        "Person.birthPlace": 1,
        "Sanction.sourceUrl": 1,
    }


def test_the_load_report_counts_what_was_not_mapped(graph: GraphStore, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    lines = [
        ftm_entity("v-1", "Vessel", name="HAO FAN 6"),
        ftm_entity("s-1", "Sanction", entity="v-1", program="DPRK3", sourceUrl="https://x.test/1"),
        ftm_entity("co-1", "Company", name="Offshore Ltd", notes="shell"),
        ftm_entity("addr-1", "Address", full="Road Town"),
    ]
    report = _load(graph, source, lines)
    ftm_report = report.files[0]
    assert (ftm_report.read, ftm_report.loaded, ftm_report.rejected) == (1, 1, 0)
    assert ftm_report.unmapped_entities == {
        "Vessel": 1,
        "Address": 1,
        "Sanction (entity: Vessel)": 1,
    }
    assert ftm_report.unmapped_properties == {"Company.notes": 1}
    written = report.to_json()["files"][0]
    assert written["unmapped_entities"]["Sanction (entity: Vessel)"] == 1


def test_a_link_to_an_entity_not_in_the_file_or_rejected_says_which(tmp_path: Path) -> None:
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity("co-1", "Company", name="鹭岛科技"),
                ftm_entity("co-2", "Company", alias="no name"),  # rejected: no name
                ftm_entity("o-1", "Ownership", owner="co-1", asset="NK-not-here"),
                ftm_entity("o-2", "Ownership", owner="co-2", asset="co-1"),
                ftm_entity("d-1", "Directorship", director="Q-absent", organization="co-1"),
            ],
        )
    )
    assert isinstance(rows[2], RowError) and rows[2].field == "name"
    missing, refused, director = rows[3], rows[4], rows[5]
    assert isinstance(missing, RowError) and missing.field == "asset"
    assert missing.reason == "refers to an entity that is neither in this file nor in the store"
    assert isinstance(refused, RowError) and refused.field == "owner"
    assert refused.reason == "refers to the entity of line 2, which was rejected"
    assert isinstance(director, RowError) and director.field == "director"


def test_partial_end_dates_end_after_their_period(tmp_path: Path) -> None:
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity(
                    "co-1", "Company", name="鹭岛科技", incorporationDate=["2001", "1999-05"]
                ),
                ftm_entity("s-1", "Sanction", entity="co-1", startDate="2017", endDate="2020-06"),
                # ends with the year CTX.today is in: still in force on 2026-06-30
                ftm_entity("s-2", "Sanction", entity="co-1", startDate="2019-03", endDate="2026"),
                ftm_entity("s-3", "Sanction", entity="co-1", endDate="2025-12"),
                ftm_entity("s-4", "Sanction", entity="co-1", endDate="2026-06-30"),  # today
                ftm_entity("s-5", "Sanction", entity="co-1", startDate="2019-05", endDate="2019"),
                ftm_entity(
                    "s-6",
                    "Sanction",
                    entity="co-1",
                    startDate=["2018-04-01", "2016-09-26"],
                    endDate=["2021-01-01", "2022-03-04"],
                ),
                # "until further notice", as some lists write it: the last representable day
                ftm_entity("s-7", "Sanction", entity="co-1", startDate="2020", endDate="9999"),
            ],
        )
    )
    company = rows[1]
    assert isinstance(company, NodeRow) and company.props["registered_on"] == date(1999, 5, 1)
    props = {line: row.props for line, row in rows.items() if isinstance(row, RecordRow)}
    assert props[2]["valid_from"] == date(2017, 1, 1)
    assert props[2]["valid_to"] == date(2020, 7, 1) and props[2]["status"] == "expired"
    assert props[3]["valid_from"] == date(2019, 3, 1)
    assert props[3]["valid_to"] == date(2027, 1, 1) and props[3]["status"] == "active"
    assert props[4]["valid_to"] == date(2026, 1, 1) and props[4]["status"] == "expired"
    # `valid_to` is the first day a record no longer counts: on that day it has ended
    assert props[5]["valid_to"] == date(2026, 6, 30) and props[5]["status"] == "expired"
    assert props[6]["valid_from"] == date(2019, 5, 1) and props[6]["valid_to"] == date(2020, 1, 1)
    assert props[7]["valid_from"] == date(2016, 9, 26)
    assert props[7]["valid_to"] == date(2022, 3, 4)
    assert props[8]["valid_to"] == date.max and props[8]["status"] == "active"


def test_several_values_of_a_property(tmp_path: Path) -> None:
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity("co-1", "Company", name=["Dandong Hongxiang", "丹东鸿祥"], alias="DHID"),
                ftm_entity("p-1", "Person", name="MA Xiaohong", birthDate=["1971-12", "1972"]),
                ftm_entity(
                    "s-1",
                    "Sanction",
                    entity="co-1",
                    program=["NPWMD", "DPRK3", "NPWMD"],
                    provisions=["EO 13382", "EO 13722"],
                    reason=["WMD support"],
                    summary=["Front company"],
                    authority=["OFAC", "BIS"],
                ),
                ftm_entity(
                    "d-1",
                    "Directorship",
                    director="p-1",
                    organization="co-1",
                    role=["General Manager", "Chairwoman"],
                ),
            ],
        )
    )
    company, person, sanction, directorship = rows[1], rows[2], rows[3], rows[4]
    assert isinstance(company, NodeRow) and company.props["name"] == "Dandong Hongxiang"
    assert company.props["aliases"] == ["Dandong Hongxiang", "丹东鸿祥", "DHID"]
    assert isinstance(person, NodeRow) and person.props["birth_year"] == 1971
    assert isinstance(sanction, RecordRow)
    assert sanction.props["list_name"] == "NPWMD; DPRK3"
    assert sanction.props["legal_basis"] == "EO 13382; EO 13722"
    assert sanction.props["description"] == "WMD support; Front company"
    assert sanction.props["authority_name"] == "OFAC"
    assert isinstance(directorship, RelationRow)
    assert directorship.props["title"] == "General Manager; Chairwoman"
    assert directorship.props["role"] == "chair" and directorship.type is RelationType.EXECUTIVE_OF


def test_referents_name_the_party_within_the_file(tmp_path: Path) -> None:
    merged = {
        **ftm_entity("NK-2Zq8Dc", "Company", name="丹东鸿祥实业发展有限公司"),
        "referents": ["ofac-17893", "eu-fsf-eu-6143"],
    }
    other = {**ftm_entity("ofac-17900", "Company", name="Other Ltd"), "referents": ["NK-2Zq8Dc"]}
    rows = _by_line(
        _parse(
            tmp_path,
            [
                ftm_entity("s-1", "Sanction", entity="ofac-17893", program="NPWMD"),
                merged,
                other,  # claims the id of line 2 as a referent: the id wins
                ftm_entity("o-1", "Ownership", owner="ofac-17900", asset="eu-fsf-eu-6143"),
                ftm_entity("s-2", "Sanction", entity="NK-2Zq8Dc"),
            ],
        )
    )
    sanction, ownership, second = rows[1], rows[4], rows[5]
    assert isinstance(sanction, RecordRow) and sanction.subject.uid == "FTM:NK-2Zq8Dc"
    assert isinstance(ownership, RelationRow) and ownership.target.uid == "FTM:NK-2Zq8Dc"
    assert ownership.source.uid == "FTM:ofac-17900"
    assert isinstance(second, RecordRow) and second.subject.uid == "FTM:NK-2Zq8Dc"


def test_a_later_file_ending_a_sanction_ends_the_record(graph: GraphStore, tmp_path: Path) -> None:
    firm = ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC)
    listed = ftm_entity("s-1", "Sanction", entity="co-1", program="NPWMD", startDate="2016-09")
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    assert _load(graph, first, [firm, listed]).rejected == 0
    ended = {**listed, "properties": {**listed["properties"], "endDate": ["2026-05"]}}
    assert _load(graph, later, [firm, ended]).rejected == 0

    key = PartyKey(Label.LEGAL_PERSON, USCC)
    states = {
        on: fetch_record_states(graph, [key], on, count_objections=False, default_term={})[key]
        for on in (date(2026, 5, 31), date(2026, 6, 1))
    }
    assert [(s.uid, s.counts) for s in states[date(2026, 5, 31)]] == [("FTM:s-1", True)]
    assert [(s.uid, s.counts, s.status) for s in states[date(2026, 6, 1)]] == [
        ("FTM:s-1", False, RecordStatus.EXPIRED)
    ]
    assert states[date(2026, 6, 1)][0].ends_on == date(2026, 6, 1)


def test_the_load_summary_names_what_was_not_mapped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`credgraph load` as a user runs it (a dry run, no store started) prints what it passed
    over, beside the table."""
    from credgraph.cli import app

    _write(
        tmp_path,
        [
            ftm_entity("v-1", "Vessel", name="HAO FAN 6"),
            ftm_entity("s-1", "Sanction", entity="v-1", program="DPRK3"),
            ftm_entity("co-1", "Company", name="Offshore Ltd", topics="sanction"),
            ftm_entity("f-1", "Family", person="p-1", relative="p-2"),
        ],
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDGRAPH_NEO4J_URI", raising=False)
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["load", "entities.ftm.json", "--dry-run"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert (
        "entities.ftm.json: entities not mapped (not loaded, not rejected): Vessel (1),"
        " Family (1), Sanction (entity: Vessel) (1)"
    ) in output
    assert "properties not mapped (their values are not loaded): Company.topics (1)" in output


def test_a_percentage_range_loads_its_lower_bound_and_keeps_the_range(
    graph: GraphStore, tmp_path: Path
) -> None:
    """UK PSC-derived ownerships give bands (`50-75`, `75-100`): not a number, but a stake."""
    parties = [
        ftm_entity("co-1", "Company", name="Band Holdings Ltd"),
        ftm_entity("co-2", "Company", name="Band Parent Ltd"),
        ftm_entity("p-1", "Person", name="Jane Roe"),
    ]
    ownerships = [
        ftm_entity("own-1", "Ownership", owner="p-1", asset="co-1", percentage="50 - 75%"),
        ftm_entity("own-2", "Ownership", owner="co-2", asset="co-1", percentage="25-50"),
        ftm_entity("own-3", "Ownership", owner="p-1", asset="co-2", percentage="75–100"),
        ftm_entity("own-4", "Ownership", owner="co-2", asset="co-1", percentage="75-50"),
        ftm_entity("own-5", "Ownership", owner="co-2", asset="co-1", percentage="50-175"),
    ]
    source = tmp_path / "in"
    source.mkdir()
    report = _load(graph, source, [*parties, *ownerships])
    rows = graph.read(
        "MATCH ()-[r:SHAREHOLDER_OF]->() "
        "RETURN r.source_record AS id, r.stake AS stake, r.stake_range AS band",
        operation="test",
    )
    assert {(r["id"], r["stake"], r["band"]) for r in rows} == {
        ("own-1", 0.5, "50 - 75%"),
        ("own-2", 0.25, "25-50"),
        ("own-3", 0.75, "75–100"),
    }
    rejects = (source / "rejects" / "entities.ftm.rejects.csv").read_text(encoding="utf-8")
    assert report.rejected == 2
    assert "percentage" in rejects and "'75-50': the lower bound is above the upper" in rejects
    assert "175 is outside 0..100" in rejects


def test_ftm_ids_find_parties_keyed_by_a_strong_identifier_or_stored_hashed(
    graph: GraphStore, tmp_path: Path
) -> None:
    """`FTM:<id>` finds a company the file keyed by its USCC (through `ftm_id`), a company
    whose id embeds a resident ID number (stored hashed, `FTM:H<hex>`), and a person keyed by
    a resident ID; an id shared by two parties names neither."""
    from credgraph.queries.lookup import AmbiguousIdentifier, resolve_identifier

    embedding = f"cn-shop-{RESIDENT}"
    other = make_uscc("9", "1", "350203", "MA2Y0002")
    source = tmp_path / "list"
    source.mkdir()
    _load(
        graph,
        source,
        [
            ftm_entity("co-1", "Company", name="鹭岛科技", registrationNumber=USCC),
            ftm_entity(embedding, "Company", name="张三便利店"),
            ftm_entity("p-1", "Person", name="张三", idNumber=RESIDENT),
        ],
    )
    key = TEST_PERSON_KEY.encode()
    assert resolve_identifier(graph, "FTM:co-1", key) == PartyKey(Label.LEGAL_PERSON, USCC)
    shop = resolve_identifier(graph, f"FTM:{embedding}", key)
    assert shop is not None and shop.uid.startswith("FTM:H") and RESIDENT not in shop.uid
    person = resolve_identifier(graph, "FTM:p-1", key)
    assert person == PartyKey(
        Label.NATURAL_PERSON, person_token(key, PersonIdType.RESIDENT, RESIDENT)
    )
    assert resolve_identifier(graph, "FTM:co-nowhere", key) is None
    # a second list gives another company the same id: which is meant cannot be told
    again = tmp_path / "again"
    again.mkdir()
    _load(graph, again, [ftm_entity("co-1", "Company", name="鹭江贸易", registrationNumber=other)])
    with pytest.raises(AmbiguousIdentifier, match="names 2 parties"):
        resolve_identifier(graph, "FTM:co-1", key)
