"""Finding parties: by USCC, legacy codes (properties and `LegacyCode` aliases), resident ID
(hashed, never echoed), and by name with the documented score; the `search` verb."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.identifiers import (
    format_org_code,
    make_resident_id,
    make_uscc,
    person_token,
    registration_number_check_digit,
    validate_uscc,
)
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, PersonIdType
from credgraph.queries.lookup import (
    AmbiguousIdentifier,
    ArgumentError,
    BadIdentifier,
    MatchKind,
    PartyCardCache,
    PartyKey,
    fetch_parties,
    fetch_party_cards,
    name_score,
    resolve_identifier,
    search_by_name,
)
from hypothesis import given
from hypothesis import strategies as st

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY
from tests.counting import CountingStore
from tests.investigations import cli_runner
from tests.registries import load_folder, write_csv

KEY = TEST_PERSON_KEY.encode()
FIRM = make_uscc("9", "1", "350203", "MA00000A")
OTHER = make_uscc("9", "1", "350203", "MA00000B")
THIRD = make_uscc("9", "1", "350203", "MA00000C")
REG_SHOP = "35020360001234" + registration_number_check_digit("35020360001234")
REG_OLD = "35020310009876" + registration_number_check_digit("35020310009876")
TAX = "350203MA00000C0"
SHARED_TAX = "350203MA00000X0"
PERSON = make_resident_id("350203", date(1980, 5, 17), 3, "M")
# about one resident ID number in 300 also passes the USCC's check (GB 32100)
PERSON_LIKE_A_USCC = make_resident_id("350203", date(1980, 1, 10), 9, "M")
SANCTIONED = "FTM:NK-qa-co-1"  # a FollowTheMoney company without a USCC
NAMES = {
    FIRM: "鹭岛",
    OTHER: "鹭岛科技",
    THIRD: "厦门鹭岛科技有限公司",
    make_uscc("9", "1", "350203", "MA00000D"): "鹭岛贸易有限公司",
    make_uscc("9", "1", "350203", "MA00000E"): "厦门鹭岛",
    make_uscc("9", "1", "350203", "MA00000F"): "鹭岛科技",  # the same key as OTHER
    make_uscc("9", "1", "350203", "MA00000G"): "白鹭科技",
}


@pytest.fixture
def registry(graph: GraphStore, tmp_path: Path) -> GraphStore:
    folder = tmp_path / "registry"
    folder.mkdir()
    firms = [[uscc, "", name, "enterprise"] for uscc, name in NAMES.items()]
    firms.append(["", REG_SHOP, "思明区老张小吃店", "individual_business"])
    write_csv(folder / "legal_persons.csv", ["uscc", "registration_number", "name", "kind"], firms)
    write_csv(
        folder / "legacy_identifiers.csv",
        ["uscc", "legacy_type", "legacy_code", "valid_from", "valid_to"],
        [
            [OTHER, "registration_number", REG_OLD, "2005-01-01", "2016-01-01"],
            [THIRD, "tax_number", TAX, "", ""],
            [THIRD, "org_code", THIRD[8:17], "", ""],
            [FIRM, "tax_number", SHARED_TAX, "", ""],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", PERSON, "鹭岛", "M"], ["resident", PERSON_LIKE_A_USCC, "冯十一", "M"]],
    )
    company = {"id": SANCTIONED[4:], "schema": "Company", "properties": {"name": ["鹭江船务"]}}
    (folder / "entities.ftm.jsonl").write_text(json.dumps(company) + "\n", encoding="utf-8")
    report = load_folder(graph, folder, tmp_path / "rejects", batch_size=100)
    assert report.rejected == 0, report.to_json()
    return graph


def test_identifiers_resolve_to_their_party(registry: GraphStore) -> None:
    def resolve(raw: str) -> PartyKey | None:
        return resolve_identifier(registry, raw, KEY)

    assert resolve(FIRM) == PartyKey(Label.LEGAL_PERSON, FIRM)
    assert resolve(f" {FIRM.lower()} ") == PartyKey(Label.LEGAL_PERSON, FIRM)
    # the organisation code inside the USCC, with or without its hyphen
    assert resolve(FIRM[8:17]) == PartyKey(Label.LEGAL_PERSON, FIRM)
    assert resolve(format_org_code(FIRM[8:17])) == PartyKey(Label.LEGAL_PERSON, FIRM)
    # an individual business without a USCC, by its registration number or REG: reference
    shop = PartyKey(Label.LEGAL_PERSON, f"REG:{REG_SHOP}")
    assert resolve(REG_SHOP) == shop and resolve(f"REG:{REG_SHOP}") == shop
    # legacy codes kept as LegacyCode aliases reach the USCC that took them over
    assert resolve(REG_OLD) == PartyKey(Label.LEGAL_PERSON, OTHER)
    assert resolve(f"REG:{REG_OLD}") == PartyKey(Label.LEGAL_PERSON, OTHER)
    assert resolve(TAX) == PartyKey(Label.LEGAL_PERSON, THIRD)
    # a resident ID number is hashed with the person key; the token itself also resolves
    token = person_token(KEY, PersonIdType.RESIDENT, PERSON)
    assert resolve(PERSON) == PartyKey(Label.NATURAL_PERSON, token)
    assert resolve(token) == PartyKey(Label.NATURAL_PERSON, token)
    # and by its first-generation form (15 digits, issued until 1999), as the loader reads it
    assert resolve(PERSON[:6] + PERSON[8:17]) == PartyKey(Label.NATURAL_PERSON, token)
    # a number that is a valid USCC too, held by no legal person: the person's
    validate_uscc(PERSON_LIKE_A_USCC)
    twin = person_token(KEY, PersonIdType.RESIDENT, PERSON_LIKE_A_USCC)
    assert resolve(PERSON_LIKE_A_USCC) == PartyKey(Label.NATURAL_PERSON, twin)
    # a party a FollowTheMoney entity made, by the id credgraph prints for it
    assert resolve(SANCTIONED) == PartyKey(Label.LEGAL_PERSON, SANCTIONED)
    assert resolve("ftm:NK-qa-co-1") == PartyKey(Label.LEGAL_PERSON, SANCTIONED)
    assert resolve("FTM:no-such-entity") is None


def test_a_party_card_is_its_stored_properties_without_the_lineage(registry: GraphStore) -> None:
    person = PartyKey(Label.NATURAL_PERSON, person_token(KEY, PersonIdType.RESIDENT, PERSON))
    firm, shop = PartyKey(Label.LEGAL_PERSON, FIRM), PartyKey(Label.LEGAL_PERSON, f"REG:{REG_SHOP}")
    nowhere = PartyKey(Label.LEGAL_PERSON, OTHER[:-1] + "X")
    stored = fetch_parties(registry, [firm, shop, person, nowhere])
    cards = fetch_party_cards(registry, [firm, shop, person, nowhere])
    assert set(cards) == set(stored) == {firm, shop, person}
    for key, card in cards.items():
        assert {k: v for k, v in card.items() if v is not None} == {
            k: v for k, v in stored[key].items() if k in card and v is not None
        }
        assert "source" in stored[key] and not {"source", "run_id", "loaded_at"} & set(card)
    assert (cards[firm]["name"], cards[firm]["kind"], cards[firm]["uscc"]) == (
        "鹭岛",
        "enterprise",
        FIRM,
    )
    assert cards[shop]["uscc"] is None and cards[shop]["registration_number"] == REG_SHOP
    assert (cards[person]["name"], cards[person]["sex"]) == ("鹭岛", "M")
    assert cards[person]["id_masked"] and PERSON not in json.dumps(
        list(cards.values()), default=str
    )


def test_a_card_cache_reads_each_party_once_per_data_version(registry: GraphStore) -> None:
    firm, shop = PartyKey(Label.LEGAL_PERSON, FIRM), PartyKey(Label.LEGAL_PERSON, f"REG:{REG_SHOP}")
    nowhere = PartyKey(Label.LEGAL_PERSON, OTHER[:-1] + "X")
    cache = PartyCardCache(10)
    counting = CountingStore(registry)
    cards = cache.fetch(counting, [firm, nowhere], "v1")
    assert cards == fetch_party_cards(registry, [firm, nowhere]) and set(cards) == {firm}
    assert counting.operations() == ["lookup.parties"]
    # kept: the firm, and the party found missing; only the shop is read
    assert cache.fetch(counting, [firm, shop, nowhere], "v1") == fetch_party_cards(
        registry, [firm, shop]
    )
    assert counting.operations() == ["lookup.parties"] * 2 and counting.reads[-1][1] == 1
    assert cache.fetch(counting, [shop, firm], "v1").keys() == {firm, shop}
    assert len(counting.reads) == 2
    cache.fetch(counting, [firm], "v2")  # the data moved: read again
    assert len(counting.reads) == 3
    nothing = PartyCardCache(0)
    for _ in range(2):
        nothing.fetch(counting, [firm], "v1")
    assert len(counting.reads) == 5


def test_unknown_and_bad_identifiers(registry: GraphStore, tmp_path: Path) -> None:
    def resolve(raw: str) -> PartyKey | None:
        return resolve_identifier(registry, raw, KEY)

    assert resolve(make_uscc("9", "1", "350203", "MA0000YY")) is None
    assert resolve(make_resident_id("350203", date(1990, 1, 1), 5, "F")) is None
    assert resolve("350203MA0000ZZ0") is None  # could be a tax number; none on file
    broken = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    for raw in ("", "   ", "hello", FIRM[:-1] + "0", broken, "3502**********1234"):
        with pytest.raises(BadIdentifier) as caught:
            resolve(raw)
        assert PERSON[:10] not in str(caught.value)  # never repeats a person's number
    with pytest.raises(BadIdentifier) as caught:
        resolve("hello")
    # callers name the argument ("ID: ...", "argument ids[0]: ..."), so the message does not
    assert str(caught.value).startswith("not a USCC, legacy code")
    for raw, said in (
        ("", "no identifier given"),
        ("3502**********1234", "masked: give"),
        # a reference with nothing to look up is a typing error, not an unknown party
        ("REG:123", "REG: takes a business registration number"),
        (f"REG:{REG_SHOP[:-1]}0" if REG_SHOP[-1] != "0" else f"REG:{REG_SHOP[:-1]}1", "REG:"),
        ("DOC:passport:US:", "DOC:<type>:<country>:<number>"),
        ("DOC:passport::X1234567", "DOC:<type>:<country>:<number>"),
        # a USCC of digits with a check character no resident ID has is a bad USCC ...
        ("91350581123456788Q", "^not a valid USCC: "),
        # ... and one a resident ID could end with may have meant either
        ("913505811234567880", "^neither a valid USCC .* nor a valid resident ID number"),
    ):
        with pytest.raises(BadIdentifier, match=said):
            resolve(raw)
    # a tax number another department's extract, loaded later, gives another firm: the loader
    # refuses the second claim (docs/formats.md) ...
    folder = tmp_path / "later"
    folder.mkdir()
    write_csv(
        folder / "legacy_identifiers.csv",
        ["uscc", "legacy_type", "legacy_code", "valid_from", "valid_to"],
        [[OTHER, "tax_number", SHARED_TAX, "", ""]],
    )
    assert load_folder(registry, folder, tmp_path / "rejects-later").rejected == 1
    assert resolve(SHARED_TAX) is not None
    # ... but a store an older credgraph loaded may hold it: the code names neither, and says
    # so rather than "no such party"
    registry.write(
        "MATCH (c:LegacyCode {uid: $code}), (n:LegalPerson {uid: $other}) "
        "CREATE (c)-[:ALIAS_OF {key: 'older:1'}]->(n)",
        {"code": f"tax_number:{SHARED_TAX}", "other": OTHER},
    )
    with pytest.raises(AmbiguousIdentifier, match="names 2 legal persons"):
        resolve(SHARED_TAX)


def test_name_score_is_tiered_then_by_coverage() -> None:
    assert name_score("鹭岛", "鹭岛") == (MatchKind.EXACT, 3.0)
    assert name_score("鹭岛", "鹭岛科技") == (MatchKind.PREFIX, 1.5)
    assert name_score("鹭岛", "厦门鹭岛") == (MatchKind.SUBSTRING, 0.5)
    assert name_score("鹭岛", "白鹭科技") is None
    assert name_score("", "鹭岛") is None


@given(query=st.text("abc", min_size=1, max_size=3), names=st.lists(st.text("abc", max_size=6)))
def test_every_exact_outranks_every_prefix_outranks_every_substring(
    query: str, names: list[str]
) -> None:
    scored = [s for s in (name_score(query, name) for name in names) if s is not None]
    tiers = [MatchKind.SUBSTRING, MatchKind.PREFIX, MatchKind.EXACT]
    for (kind_a, score_a), (kind_b, score_b) in itertools.permutations(scored, 2):
        if tiers.index(kind_a) > tiers.index(kind_b):
            assert score_a > score_b


def test_names_are_ranked_by_the_documented_score(registry: GraphStore) -> None:
    def names(query: str, **kwargs: object) -> list[tuple[str, str]]:
        result = search_by_name(registry, query, **kwargs)  # type: ignore[arg-type]
        return [(NAMES.get(m.key.uid, m.name), m.match.value) for m in result.items]

    twins = sorted(uscc for uscc, name in NAMES.items() if name == "鹭岛科技")
    assert names("鹭岛") == [
        ("鹭岛", "exact"),
        ("鹭岛科技", "prefix"),
        ("鹭岛科技", "prefix"),
        ("鹭岛贸易有限公司", "prefix"),
    ]
    # traditional, full-width and spaced spellings share the key
    assert names("鷺島") == names("鹭岛") == names(" 鹭 岛 ")
    assert names("ＬＵ鹭岛") == []
    result = search_by_name(registry, "鹭岛", limit=3)
    assert [m.key.uid for m in result.items][1:] == twins and result.truncated
    assert [round(m.score, 3) for m in result.items] == [3.0, 1.5, 1.5]
    # substring matches come last, when asked for
    assert names("鹭岛", substring=True)[4:] == [
        ("厦门鹭岛", "substring"),
        ("厦门鹭岛科技有限公司", "substring"),
    ]
    # persons only when their label is asked for
    both = search_by_name(registry, "鹭岛", labels=(Label.LEGAL_PERSON, Label.NATURAL_PERSON))
    assert [m.key.label for m in both.items[:2]] == [Label.LEGAL_PERSON, Label.NATURAL_PERSON]
    assert all(m.key.label is Label.LEGAL_PERSON for m in search_by_name(registry, "鹭岛").items)


def test_search_arguments_are_checked(registry: GraphStore) -> None:
    for kwargs, argument in [
        ({"name": "！！", "limit": 5}, "name"),
        ({"name": "鹭岛", "limit": 0}, "limit"),
        ({"name": "鹭岛", "limit": 201}, "limit"),
        ({"name": "鹭岛", "labels": (Label.AUTHORITY,)}, "labels"),
    ]:
        with pytest.raises(ArgumentError) as caught:
            search_by_name(registry, **kwargs)  # type: ignore[arg-type]
        assert caught.value.argument == argument


def test_the_search_verb(
    registry: GraphStore, monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedStore
) -> None:
    runner = cli_runner(monkeypatch, embedded, registry)

    answer = runner.invoke(app, ["search", "鷺島", "--limit", "2", "--json"])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert document["key"] == "鹭岛" and document["truncated"] is True
    assert [(i["party"]["uscc"], i["match"], i["score"]) for i in document["items"]] == [
        (FIRM, "exact", 3.0),
        (OTHER, "prefix", 1.5),
    ]
    # a person among the matches: a purpose, as the API's search asks one
    table = runner.invoke(app, ["search", "鹭岛", "--persons", "--purpose", "investigation"])
    assert table.exit_code == 0 and "3502**********" in table.output
    assert PERSON not in table.output
    typed = runner.invoke(app, ["search", PERSON, "--persons", "--json"])  # a number as a name
    assert typed.exit_code == 1 and PERSON not in typed.output and PERSON[:-4] not in typed.output
    missing = runner.invoke(app, ["search", "不存在的名字"])
    assert missing.exit_code == 1 and "no party matches" in missing.output
    bad = runner.invoke(app, ["search", "鹭岛", "--limit", "0"])
    assert bad.exit_code == 2 and "--limit" in bad.output
    empty = runner.invoke(app, ["search", "？？"])
    assert empty.exit_code == 2 and "NAME" in empty.output
