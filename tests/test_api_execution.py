"""The fast path for plain fields (api/execution.py) answers exactly as graphql-core does.

Two ways: a small strawberry schema whose values break the rules in every way the fast path
gives up on (a null where the schema says non-null, a value a scalar refuses, an object of the
wrong type, an iterator where a list is expected ...), and the real API served twice on one
database, with and without the fast path, asked every root field with every field it can
select, as every role."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator
from datetime import date
from enum import Enum
from typing import Any

import httpx
import pytest
import strawberry
from credgraph.api import app as app_module
from credgraph.api.app import create_app
from credgraph.api.execution import FastExecutor
from credgraph.api.keys import make_key
from credgraph.api.roles import ApiRole
from credgraph.api.schema import build_schema
from credgraph.graph.settings import Settings
from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    is_leaf_type,
)
from strawberry.extensions import ParserCache

from tests.api_support import Served, write_api_registry
from tests.conftest import new_database
from tests.registries import FIRM_A, FIRM_B, SHOP_C, ZHANG, load_folder

# --- a small schema, values that break its rules ----------------------------------------------


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Thing:
    name: str


@strawberry.type
class Part:
    label: str
    size: int | None
    colour: Colour | None
    made: date | None


@strawberry.type
class Box(Thing):
    parts: list[Part]
    maybe_parts: list[Part | None] | None
    tags: list[str]

    @strawberry.field
    def loud_name(self, times: int = 1) -> str:
        return self.name.upper() * times


@strawberry.type
class Crate(Thing):
    weight: float


@strawberry.type
class Tray:
    box: Box | None
    must_box: Box
    thing: Thing | None
    things: list[Thing]


def part(label: Any = "a", size: Any = 1, colour: Any = Colour.RED, made: Any = None) -> Part:
    return Part(label=label, size=size, colour=colour, made=made or date(2025, 3, 2))


def box(**overrides: Any) -> Box:
    values: dict[str, Any] = {
        "name": "box",
        "parts": [part("a"), part("b", None, None)],
        "maybe_parts": [part("c"), None],
        "tags": ["x", "y"],
    }
    values.update(overrides)
    return Box(**values)


def tray(**overrides: Any) -> Tray:
    values: dict[str, Any] = {
        "box": box(),
        "must_box": box(name="must"),
        "thing": Crate(name="crate", weight=2.5),
        "things": [box(name="in"), Crate(name="c", weight=1.0)],
    }
    values.update(overrides)
    return Tray(**values)


# made afresh for every run: an iterator is used up by the first
TRAYS: dict[str, Callable[[], Tray]] = {
    "ordinary": lambda: tray(),
    "non-null field is null": lambda: tray(box=box(name=None)),
    "non-null object is null": lambda: tray(must_box=None),
    "null in a list of non-null": lambda: tray(box=box(parts=[part("a"), None])),
    "null in a list of nullable": lambda: tray(box=box(maybe_parts=[None, part("z")])),
    "an iterator for a list": lambda: tray(box=box(tags=iter(["p", "q"]))),
    "a tuple for a list": lambda: tray(box=box(tags=("p", "q"))),
    "a value a scalar refuses": lambda: tray(box=box(parts=[part(size="many")])),
    "a value an enum refuses": lambda: tray(box=box(parts=[part(colour="green")])),
    "an exception as a value": lambda: tray(box=box(parts=[part(label=ValueError("no label"))])),
    "an object of the wrong type": lambda: tray(box=Crate(name="not a box", weight=1)),
    "an interface value of no type": lambda: tray(thing="just text"),
    "a missing attribute": lambda: tray(box=object()),
    "null lists": lambda: tray(box=box(maybe_parts=None)),
}

CURRENT: dict[str, Tray] = {}


@strawberry.type
class SmallQuery:
    @strawberry.field
    def tray(self) -> Tray:
        return CURRENT["tray"]

    @strawberry.field
    async def later(self) -> Tray:
        return CURRENT["tray"]


PARTS = "label size colour made"
SMALL_QUERIES = {
    "plain": f"{{ tray {{ box {{ name tags parts {{ {PARTS} }} maybeParts {{ {PARTS} }} }} }} }}",
    "non-null parents": f"{{ tray {{ mustBox {{ name parts {{ {PARTS} }} }} }} }}",
    "interfaces, fragments, typename": (
        "{ tray { __typename thing { __typename name ... on Crate { weight } "
        "... on Box { tags } } things { name ...B } } } fragment B on Box { parts { label } }"
    ),
    "a resolver inside plain fields": "{ tray { box { name loudName(times: 2) tags } } }",
    "aliases and a field twice": (
        "{ tray { a: box { n: name tags } box { name n2: name parts { label } } } }"
    ),
    "an async root": f"{{ later {{ box {{ name parts {{ {PARTS} }} }} }} }}",
    "directives": (
        "query($yes: Boolean!) { tray { box { name @include(if: $yes) tags @skip(if: $yes) "
        "parts { label @include(if: false) size } } } }"
    ),
}


def run(schema: strawberry.Schema, query: str, yes: bool = True) -> dict[str, Any]:
    result = asyncio.run(schema.execute(query, variable_values={"yes": yes}))
    errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
    return {"data": result.data, "errors": sorted(errors, key=json.dumps)}


@pytest.fixture(scope="module")
def small_schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    def made(executor: type[FastExecutor] | None) -> strawberry.Schema:
        # the parser cache, as the API has it: requests with the same text share its nodes
        return strawberry.Schema(
            query=SmallQuery,
            types=[Box, Crate],
            execution_context_class=executor,
            extensions=[lambda: ParserCache(maxsize=100)],
        )

    return made(FastExecutor), made(None)


@pytest.mark.parametrize("values", list(TRAYS))
@pytest.mark.parametrize("query", list(SMALL_QUERIES))
def test_the_fast_path_answers_as_graphql_core_does(
    small_schemas: tuple[strawberry.Schema, strawberry.Schema], values: str, query: str
) -> None:
    fast, plain = small_schemas
    CURRENT["tray"] = TRAYS[values]()
    expected = run(plain, SMALL_QUERIES[query])
    CURRENT["tray"] = TRAYS[values]()
    assert run(fast, SMALL_QUERIES[query]) == expected


def test_the_fast_path_reports_errors_at_their_paths(
    small_schemas: tuple[strawberry.Schema, strawberry.Schema],
) -> None:
    fast, _ = small_schemas
    CURRENT["tray"] = TRAYS["null in a list of non-null"]()
    answer = run(fast, "{ tray { box { name parts { label } } mustBox { name } } }")
    assert answer["data"] == {"tray": {"box": None, "mustBox": {"name": "must"}}}
    assert answer["errors"] == [
        {
            "message": "Cannot return null for non-nullable field Box.parts.",
            "path": ["tray", "box", "parts", 1],
        }
    ]


def test_plain_fields_skip_graphql_cores_field_execution(
    small_schemas: tuple[strawberry.Schema, strawberry.Schema],
) -> None:
    """The point of it: graphql-core executes only what is not plain (here the root field, the
    resolver field and nothing else)."""
    fast, plain = small_schemas
    CURRENT["tray"] = TRAYS["ordinary"]()
    executed: list[str] = []
    original = FastExecutor.__mro__[1].execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        executed.append(f"{parent_type.name}.{details[0].node.name.value}")
        return original(self, parent_type, source, details, *rest)

    query = "{ tray { box { name loudName parts { label size } } things { name } } }"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastExecutor.__mro__[1], "execute_field", counting)
        run(fast, query)
        assert executed == ["SmallQuery.tray", "Tray.box", "Box.loudName"]
        executed.clear()
        run(plain, query)
    assert len(executed) == 12  # every field of every item: 1 + 1 + 3 + 2 * 2 + 1 + 2


def test_directives_on_variables_are_planned_for_each_execution(
    small_schemas: tuple[strawberry.Schema, strawberry.Schema],
) -> None:
    """An operation whose fields depend on its variables is not planned once for all: the same
    text with `$yes` true, then false, then true again answers as graphql-core does each time."""
    fast, plain = small_schemas
    CURRENT["tray"] = TRAYS["ordinary"]()
    query = SMALL_QUERIES["directives"]
    for yes in (True, False, True):
        assert run(fast, query, yes) == run(plain, query, yes)
    assert run(fast, query, False)["data"] == {
        "tray": {"box": {"tags": ["x", "y"], "parts": [{"size": 1}, {"size": None}]}}
    }


def test_an_operation_is_planned_once_for_all_its_executions(
    small_schemas: tuple[strawberry.Schema, strawberry.Schema],
) -> None:
    """Plans are kept by operation (the parser cache gives every request with the same text the
    same nodes): a second execution plans nothing, and still answers for its own values."""
    fast, plain = small_schemas
    # a text of its own: no other test has planned it
    query = SMALL_QUERIES["interfaces, fragments, typename"].replace("{ tray", "{ once: tray", 1)
    planned: list[str] = []
    original = FastExecutor._make_object_completer

    def counting(self: Any, object_type: Any, details: Any) -> Any:
        planned.append(object_type.name)
        return original(self, object_type, details)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastExecutor, "_make_object_completer", counting)
        CURRENT["tray"] = TRAYS["ordinary"]()
        first = run(fast, query)
        assert planned  # the first execution plans
        planned.clear()
        CURRENT["tray"] = tray(thing=box(name="another"), things=[])
        second = run(fast, query)
    assert planned == []
    assert second == run(plain, query)
    assert second != first


# --- the real API, with and without the fast path ---------------------------------------------


def full_selection(field_type: GraphQLType, schema: GraphQLSchema, depth: int) -> str:
    """Every field of a type that takes no required argument, to `depth` levels, with an inline
    fragment for each type behind an interface."""
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        field_type = field_type.of_type
    assert isinstance(field_type, GraphQLNamedType)
    if is_leaf_type(field_type):
        return ""
    if depth == 0:
        return "{ __typename }"
    parts = ["__typename"]
    if isinstance(field_type, GraphQLObjectType | GraphQLInterfaceType):
        for name, field in field_type.fields.items():
            if any(isinstance(arg.type, GraphQLNonNull) for arg in field.args.values()):
                continue
            parts.append(f"{name} {full_selection(field.type, schema, depth - 1)}".strip())
    if isinstance(field_type, GraphQLInterfaceType):
        for implementation in schema.get_possible_types(field_type):
            inner = full_selection(implementation, schema, depth)
            parts.append(f"... on {implementation.name} {inner}")
    return "{ " + " ".join(parts) + " }"


ROOT_CALLS = {
    "entity": f'entity(id: "{FIRM_A}")',
    "person": f'entity(id: "{ZHANG}")',
    "search": 'search(name: "厦门", first: 5)',
    "linkedParties": f'linkedParties(id: "{FIRM_A}", depth: 3)',
    "paths": f'paths(from: "{FIRM_A}", to: "{SHOP_C}", maxDepth: 4, first: 3)',
    "dishonestParties": f'dishonestParties(id: "{FIRM_A}", depth: 3)',
    "suspectedLinks": f'suspectedLinks(id: "{FIRM_A}")',
    "controlGroup": f'controlGroup(id: "{FIRM_A}", minStake: 0)',
    "guaranteeCircle": f'guaranteeCircle(id: "{FIRM_B}")',
    "riskReport": f'riskReport(id: "{FIRM_B}")',
    "screen": f'screen(ids: ["{FIRM_A}", "{FIRM_B}", "{SHOP_C}"], purpose: LICENSING)',
    "no such party": 'entity(id: "91350100MA00000000")',
}
DEPTH = 6  # below CREDGRAPH_API_MAX_QUERY_DEPTH with the root


def full_query(call: str) -> str:
    schema = build_schema()._schema
    name = call.split("(")[0]
    return f"{{ {call} {full_selection(schema.query_type.fields[name].type, schema, DEPTH)} }}"


@pytest.fixture(scope="module")
def both_apps(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client, dict[ApiRole, str]]]:
    tmp = tmp_path_factory.mktemp("execution")
    store = new_database(embedded, driver, prefix="exec")
    load_folder(store, write_api_registry(tmp), tmp / "rejects", batch_size=100)
    keys = {role: make_key(store, role.value, f"test {role.value}").secret for role in ApiRole}

    def app(name: str, fast: bool) -> Any:
        app_settings = settings.model_copy(
            update={
                "audit_log": tmp / name / "audit.log",
                "audit_fsync": False,
                "api_max_tokens": 20_000,  # the whole schema in one query
            }
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(app_module, "build_schema", functools.partial(build_schema, fast=fast))
            return create_app(store, app_settings)

    with (
        Served(app("fast", True)) as fast,
        Served(app("plain", False)) as plain,
        httpx.Client(base_url=fast.url, timeout=60) as fast_client,
        httpx.Client(base_url=plain.url, timeout=60) as plain_client,
    ):
        yield fast_client, plain_client, keys


def ask(client: httpx.Client, key: str, query: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {key}", "X-Credgraph-Purpose": "investigation"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("requestId", None)
    return body


def test_the_full_selection_stays_within_the_depth_limit(settings: Settings) -> None:
    assert settings.api_max_query_depth >= DEPTH + 2  # the root field, and its selection
    assert "... on NaturalPerson" in full_query(ROOT_CALLS["entity"])


@pytest.mark.parametrize("role", list(ApiRole))
@pytest.mark.parametrize("call", list(ROOT_CALLS))
def test_the_api_answers_the_same_with_the_fast_path(
    both_apps: tuple[httpx.Client, httpx.Client, dict[ApiRole, str]], call: str, role: ApiRole
) -> None:
    fast, plain, keys = both_apps
    query = full_query(ROOT_CALLS[call])
    expected = ask(plain, keys[role], query)
    assert ask(fast, keys[role], query) == expected
    if role is ApiRole.ADMIN and call != "no such party":
        assert expected.get("data") and not expected.get("errors"), expected  # answered in full
