"""The API's page cursors (`linkedParties`, `dishonestParties`, `suspectedLinks`, `search`):
each holds the last item's place in the answer's order and a seal of the query, so a load
between two pages neither repeats an item nor skips one the order puts after the cursor, and a
cursor of another query, or an altered one, is refused naming `after`. Real HTTP against the
app on the embedded store; the module's loads add parties, each placed so that it sorts before
the first page's last item (an offset would then list that item again)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Hashable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph import clock
from credgraph.graph.identifiers import make_resident_id, make_uscc, person_token
from credgraph.graph.settings import Settings
from credgraph.graph.vocabulary import PersonIdType

from tests.api_support import ApiEnv, record_row, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.registries import FIRM_A, FIRM_B, LI, RECORD_HEADER, ZHANG, load_folder, write_csv


def _token(number: str) -> str:
    return person_token(TEST_PERSON_KEY.encode(), PersonIdType.RESIDENT, number)


ZHANG_ID, LI_ID = _token(ZHANG), _token(LI)
# a director whose token sorts before both persons of the registry
DIRECTOR = next(
    number
    for number in (make_resident_id("350203", date(1990, 1, 1), n, "M") for n in range(100))
    if _token(number) < min(ZHANG_ID, LI_ID)
)
# firms whose USCCs sort before every firm of the registry (and each before the one above it)
SHAREHOLDER = make_uscc("9", "1", "110000", "MA2Y0031")
TRACED = make_uscc("9", "1", "110000", "MA2Y0021")
LINKED_FIRM = make_uscc("9", "1", "110000", "MA2Y0011")
SEARCHED = [make_uscc("9", "1", code, f"MA2Y00{n}") for code, n in (("350203", 61), ("350203", 62))]
SEARCHED_LATER = make_uscc("9", "1", "110000", "MA2Y0001")


@pytest.fixture(scope="module")
def api_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(embedded, driver, settings, tmp_path_factory.mktemp("cursors"))


def _load(env: ApiEnv, tmp: Path, files: dict[str, tuple[list[str], list[list[str]]]]) -> None:
    folder = tmp / "load"
    folder.mkdir(parents=True)
    for name, (header, rows) in files.items():
        write_csv(folder / name, header, rows)
    report = load_folder(env.store, folder, tmp / "rejects")
    assert report.rejected == 0, report.to_json()


FIRMS = ["uscc", "name", "kind"]
ROLES = ["person_id_number", "company_id", "role", "valid_from", "valid_to", "source_record"]

LINKED = """
query ($id: String!, $depth: Int!, $first: Int, $after: String) {
  linkedParties(id: $id, depth: $depth, first: $first, after: $after) {
    edges { cursor node { party { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
DISHONEST = """
query ($id: String!, $first: Int, $after: String) {
  dishonestParties(id: $id, depth: 2, first: $first, after: $after) {
    edges { cursor node { party { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
LINKS = """
query ($id: String!, $first: Int, $after: String) {
  suspectedLinks(id: $id, first: $first, after: $after) {
    edges { cursor node { kind party { id } officer { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
SEARCH = """
query ($name: String!, $first: Int, $after: String) {
  search(name: $name, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

Page = tuple[list[Hashable], dict[str, Any]]
Ask = Callable[..., Page]


def _asker(
    env: ApiEnv, query: str, field: str, item: Callable[[dict[str, Any]], Hashable], **given: Any
) -> Ask:
    """A function asking `query` for one page (`first`, `after`): the items and `pageInfo`."""

    def ask(first: int, after: str | None, role: ApiRole = ApiRole.INVESTIGATOR) -> Page:
        body = env.gql(query, role=role, first=first, after=after, **given)
        assert "errors" not in body, body
        answer = body["data"][field]
        return [item(edge["node"]) for edge in answer["edges"]], answer["pageInfo"]

    return ask


def _party(node: dict[str, Any]) -> Hashable:
    return str(node["party"]["id"])


def _link(node: dict[str, Any]) -> Hashable:
    return (node["kind"], node["party"]["id"], (node["officer"] or {}).get("id"))


def _across_a_load(ask: Ask, load: Callable[[], None], added: Hashable) -> None:
    """A first page, then `load`, then the pages after its cursor: they list every item the
    whole answer now orders after the first page's last item, in order, and none twice."""
    first_page, info = ask(1, None)
    assert first_page and info["hasNextPage"]
    load()
    rest: list[Hashable] = []
    after = info["endCursor"]
    while True:
        items, info = ask(1, after)
        assert info["hasPreviousPage"] is True
        rest += items
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    final, _ = ask(200, None)
    assert added in final
    assert not set(rest) & set(first_page), "an item of the first page listed again"
    assert rest == final[final.index(first_page[-1]) + 1 :]


def test_linked_parties_page_across_a_load(api_env: ApiEnv, tmp_path: Path) -> None:
    ask = _asker(api_env, LINKED, "linkedParties", _party, id=FIRM_A, depth=1)

    def load() -> None:
        _load(
            api_env,
            tmp_path,
            {
                "legal_persons.csv": (FIRMS, [[SHAREHOLDER, "北京前序控股有限公司", "enterprise"]]),
                "natural_persons.csv": (
                    ["id_type", "id_number", "name", "sex"],
                    [["resident", DIRECTOR, "王五", "M"]],
                ),
                "roles.csv": (ROLES, [[DIRECTOR, FIRM_A, "director", "2020-01-01", "", "c1"]]),
                "shareholdings.csv": (
                    ["holder_id", "company_id", "stake", "source_record"],
                    [[SHAREHOLDER, FIRM_A, "0.1", "c2"]],
                ),
            },
        )

    _across_a_load(ask, load, _token(DIRECTOR))


def test_dishonest_parties_page_across_a_load(api_env: ApiEnv, tmp_path: Path) -> None:
    ask = _asker(api_env, DISHONEST, "dishonestParties", _party, id=LI)

    def load() -> None:
        _load(
            api_env,
            tmp_path,
            {
                "legal_persons.csv": (FIRMS, [[TRACED, "北京失信贸易有限公司", "enterprise"]]),
                "roles.csv": (ROLES, [[LI, TRACED, "director", "2020-01-01", "", "c3"]]),
                "records.csv": (RECORD_HEADER, [record_row("C-1", TRACED, "public", "bj")]),
            },
        )

    _across_a_load(ask, load, TRACED)


def test_suspected_links_page_across_a_load(api_env: ApiEnv, tmp_path: Path) -> None:
    ask = _asker(api_env, LINKS, "suspectedLinks", _link, id=FIRM_A)

    def load() -> None:
        _load(
            api_env,
            tmp_path,
            {
                "legal_persons.csv": (FIRMS, [[LINKED_FIRM, "北京同人咨询有限公司", "enterprise"]]),
                "roles.csv": (ROLES, [[ZHANG, LINKED_FIRM, "director", "2020-01-01", "", "c4"]]),
            },
        )

    _across_a_load(ask, load, ("SHARED_OFFICER", LINKED_FIRM, ZHANG_ID))


def test_search_pages_across_a_load(api_env: ApiEnv, tmp_path: Path) -> None:
    _load(
        api_env,
        tmp_path / "before",
        {"legal_persons.csv": (FIRMS, [[u, "鹭岛测试公司", "enterprise"] for u in SEARCHED])},
    )
    ask = _asker(api_env, SEARCH, "search", lambda node: str(node["id"]), name="鹭岛测试")

    def load() -> None:
        _load(
            api_env,
            tmp_path / "after",
            {"legal_persons.csv": (FIRMS, [[SEARCHED_LATER, "鹭岛测试公司", "enterprise"]])},
        )

    _across_a_load(ask, load, SEARCHED_LATER)


def _decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _altered(cursor: str) -> str:
    """`cursor` with its position moved one step on (its seal kept)."""
    seal, *position = json.loads(_decoded(cursor))
    last = position[-1]
    position[-1] = last + 1 if isinstance(last, int | float) else last + "0"
    return _encoded(json.dumps([seal, *position]))


def _refused(env: ApiEnv, query: str, role: ApiRole = ApiRole.INVESTIGATOR, **given: Any) -> None:
    body = env.gql(query, role=role, **given)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert error["message"].startswith("argument after: "), body


# each connection: its query, the variables of one question and of another, and the field
CONNECTIONS = {
    "linkedParties": (LINKED, {"id": FIRM_A, "depth": 1}, {"id": FIRM_B, "depth": 2}),
    "linkedParties depth": (LINKED, {"id": FIRM_A, "depth": 1}, {"id": FIRM_A, "depth": 2}),
    "dishonestParties": (DISHONEST, {"id": LI}, {"id": FIRM_A}),
    "suspectedLinks": (LINKS, {"id": FIRM_A}, {"id": FIRM_B}),
    "search": (SEARCH, {"name": "鹭岛"}, {"name": "闽江"}),
}


@pytest.mark.parametrize("name", list(CONNECTIONS))
def test_a_cursor_of_another_query_or_altered_is_refused(api_env: ApiEnv, name: str) -> None:
    query, one, other = CONNECTIONS[name]
    field = name.split()[0]
    body = api_env.gql(query, first=1, after=None, **one)
    cursor = body["data"][field]["pageInfo"]["endCursor"]
    assert cursor
    # the cursor works for its own question
    assert "errors" not in api_env.gql(query, first=1, after=cursor, **one)
    _refused(api_env, query, first=1, after=cursor, **other)
    _refused(api_env, query, first=1, after=_altered(cursor), **one)
    # an offset cursor of old, and text that is no cursor at all
    for text in (_encoded("linked:0"), _encoded("search:0"), "bm90OjE=", "%%%", ""):
        _refused(api_env, query, first=1, after=text, **one)
    # another role's cursor: what it may see differs
    _refused(api_env, query, role=ApiRole.ADMIN, first=1, after=cursor, **one)


@pytest.mark.parametrize("role", [ApiRole.ANALYST, ApiRole.INVESTIGATOR])
def test_cursors_hold_no_identity_number_and_only_tokens_the_role_sees(
    api_env: ApiEnv, role: ApiRole
) -> None:
    """A cursor is readable base64: it holds no resident ID, and a person's token only when the
    page showed that person (the token is the `id` the role sees)."""
    after, shown, texts = None, set(), []
    while True:
        body = api_env.gql(LINKED, role=role, id=FIRM_A, depth=2, first=1, after=after)
        answer = body["data"]["linkedParties"]
        for edge in answer["edges"]:
            shown.add(edge["node"]["party"]["id"])
            texts.append(_decoded(edge["cursor"]))
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
    assert len(texts) >= 3 and ZHANG_ID in shown
    for text in texts:
        assert ZHANG not in text and LI not in text and DIRECTOR not in text
        for token in (ZHANG_ID, LI_ID, _token(DIRECTOR)):
            assert token not in text or token in shown


def test_the_public_role_s_cursors_name_no_person(api_env: ApiEnv) -> None:
    body = api_env.gql(SEARCH, role=ApiRole.PUBLIC, purpose=None, name="鹭岛", first=1, after=None)
    assert "errors" not in body, body
    for cursor in (body["data"]["search"]["pageInfo"]["endCursor"],):
        text = _decoded(cursor)
        assert not any(t in text for t in (ZHANG, LI, ZHANG_ID, LI_ID, _token(DIRECTOR)))


LINKS_ON = """
query ($id: String!, $first: Int, $after: String, $asOf: Date) {
  suspectedLinks(id: $id, first: $first, after: $after, asOf: $asOf) {
    edges { cursor node { kind party { id } } }
    pageInfo { endCursor }
  }
}
"""


def test_a_suspected_links_cursor_is_bound_to_the_day_it_was_found_on(api_env: ApiEnv) -> None:
    """Without asOf the links are found today: the cursor is today's, as one given today's
    date, and another day's question refuses it (yesterday's cursor, asked again today)."""
    today = clock.today().isoformat()
    body = api_env.gql(LINKS_ON, id=FIRM_A, first=1, after=None, asOf=None)
    cursor = body["data"]["suspectedLinks"]["pageInfo"]["endCursor"]
    assert cursor
    assert "errors" not in api_env.gql(LINKS_ON, id=FIRM_A, first=1, after=cursor, asOf=today)
    _refused(api_env, LINKS_ON, id=FIRM_A, first=1, after=cursor, asOf="2024-01-01")


def test_a_walk_lists_its_items_in_the_order_of_their_cursor_positions(api_env: ApiEnv) -> None:
    """linkedParties cuts its pages without sorting the walk again (`in_order`): the walk's
    items must come in the order of their positions, persons and legal persons mixed."""
    from credgraph.api.lookup import _linked_position
    from credgraph.graph.vocabulary import Label
    from credgraph.queries.lookup import PartyKey
    from credgraph.queries.traversal import relation_filter, walk_linked

    walk = walk_linked(api_env.store, PartyKey(Label.LEGAL_PERSON, FIRM_A), 3, relation_filter())
    positions = [_linked_position(item) for item in walk.items]
    assert len(positions) >= 3
    assert {p[1] for p in positions} == {Label.LEGAL_PERSON.value, Label.NATURAL_PERSON.value}
    assert positions == sorted(positions)
