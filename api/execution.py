"""GraphQL execution with a fast path for plain fields.

graphql-core completes every field of an answer the same way, whatever it is: a resolve-info
object of fourteen members, a path entry, the field's resolver called through strawberry's
wrapper, an awaitable check, then the value's type looked at again for every item. For an
answer of fifty linked parties that is some 500 fields and about half of a worker's CPU,
though almost every one of them only reads an attribute of a dataclass and coerces a scalar.

`FastExecutor` completes such fields directly: a field is *plain* when strawberry resolves it
by reading the attribute of the same name (a field without a resolver, permission classes or
field extensions), it takes no argument and nothing defers it; a plain field's value is then
completed by a function made for its type and selection (scalars and enums coerced, lists item
by item, objects field by field, an interface by the strawberry type of the value), kept for
the operation's later requests (below). Fields that are not plain (every root field, every
resolver of ours) go through graphql-core as before.

The fast path records nothing and has no side effects (it reads attributes and coerces
values), so whenever it meets anything it does not handle in the ordinary way (a null where
the schema says non-null, a value a scalar refuses, an exception as a value, an object that
is not of its type, a generator where a list is expected, a cast), it gives the field up and
graphql-core completes the same field from the start, reporting the error at its path as it
always has. The answer is the same either way; tests/test_api_execution.py runs queries
through both executors and compares.

The functions are made once per operation, not per request: the parser cache hands every
request with the same text the same nodes, so a schema keeps the plans of its last
`SHARED_PLANS` operations by their operation node. An operation with a directive anywhere (an
`@include(if: $var)` makes its fields depend on the variables) is planned for each execution.

The completion of a value costs O(size of the answer) either way; this path saves the
constant per field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    is_interface_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.types.cast import get_strawberry_type_cast
from strawberry.types.field import StrawberryField

Completer = Callable[[Any], Any]
# per field of a selection, in the query's order: its response name, its field group and how to
# complete it fast (None: through graphql-core)
FieldsPlan = list[tuple[str, FieldDetailsList, Completer | None]]

_TYPENAME = "__typename"
_DEFINITION = "strawberry-definition"  # where strawberry keeps its field on graphql-core's
_PLAIN = "credgraph-plain-attribute"  # where `_plain_attribute` keeps what it found
_PLANS = "credgraph-plans"  # where a schema keeps its `_PlanCache`
SHARED_PLANS = 256  # operations whose plans a schema keeps (as many as the parser cache holds)


# strawberry's is_type_of takes the resolve info and never reads it
_NO_INFO = cast("GraphQLResolveInfo[Any]", None)


class _GiveUp(Exception):
    """The fast path met something graphql-core must complete (and report)."""


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, with plain fields completed directly (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _shared_plans(self.schema, self.operation, self.fragment_definitions)
        self._plans = plans.fields if plans is not None else {}
        self._objects = plans.objects if plans is not None else {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._fields_plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        fast: dict[str, Any] = {}
        slow: GroupedFieldSet = {}
        for name, details, complete in plan:
            if complete is not None:
                with contextlib.suppress(Exception):  # graphql-core completes it, and reports
                    fast[name] = complete(source_value)
                    continue
            slow[name] = details
        if not slow:
            return fast
        rest = super().execute_fields(parent_type, source_value, path, slow, position_context)
        if self.is_awaitable(rest):
            pending = cast("Awaitable[dict[str, Any]]", rest)

            async def joined() -> dict[str, Any]:
                return _in_order(plan, fast, await pending)

            return joined()
        return _in_order(plan, fast, cast("dict[str, Any]", rest))

    def _fields_plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> FieldsPlan | None:
        """The plan of a selection on `parent_type`; None when no field of it is plain."""
        key = (parent_type.name, *(_node_ids(d) for d in grouped_field_set.values()))
        if key not in self._plans:
            plan: FieldsPlan = [
                (name, details, self._field_completer(parent_type, details))
                for name, details in grouped_field_set.items()
            ]
            self._plans[key] = plan if any(c is not None for _, _, c in plan) else None
        return self._plans[key]

    def _field_completer(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList
    ) -> Completer | None:
        """How to complete a field of `parent_type` from its parent's value, if it is plain."""
        first = details[0]
        name = first.node.name.value
        if name == _TYPENAME:
            type_name = parent_type.name
            return lambda _source: type_name
        field = parent_type.fields.get(name)
        attribute = _plain_attribute(field, details)
        if field is None or attribute is None:
            return None
        complete = self._completer(field.type, details)
        if complete is None:
            return None
        return lambda source: complete(getattr(source, attribute))

    def _completer(
        self, return_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        """How to complete a value of `return_type` selected by `details`; None when some part of
        it cannot be completed fast."""
        if is_non_null_type(return_type):
            return _non_null(self._completer(return_type.of_type, details))
        if is_list_type(return_type):
            return _listed(self._completer(return_type.of_type, details))
        if isinstance(return_type, CustomGraphQLEnumType):
            return _enum(return_type)
        if is_leaf_type(return_type):
            return _leaf(return_type.coerce_output_value)
        if is_object_type(return_type):
            return _nullable(self._object_completer(return_type, details))
        if is_interface_type(return_type):
            return self._interface_completer(return_type, details)
        return None  # unions: through graphql-core

    def _object_completer(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> Completer | None:
        key = (object_type.name, _node_ids(details))
        if key in self._objects:
            return self._objects[key]
        self._objects[key] = None  # a type that selects itself again is completed slowly
        complete = self._make_object_completer(object_type, details)
        self._objects[key] = complete
        return complete

    def _make_object_completer(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> Completer | None:
        is_type_of = object_type.is_type_of
        if is_type_of is not None and not _from_strawberry(is_type_of, "_get_is_type_of"):
            return None
        grouped, defer_usages, *_ = self.collect_subfields(object_type, details)
        if defer_usages:
            return None
        fields: list[tuple[str, Completer]] = []
        for name, sub_details in grouped.items():
            complete = self._field_completer(object_type, sub_details)
            if complete is None:
                return None
            fields.append((name, complete))

        def complete_object(value: Any) -> dict[str, Any]:
            if is_type_of is not None and not is_type_of(value, _NO_INFO):
                raise _GiveUp
            return {name: complete(value) for name, complete in fields}

        return complete_object

    def _interface_completer(
        self, interface: GraphQLInterfaceType, details: FieldDetailsList
    ) -> Completer | None:
        if interface.resolve_type is None or not _from_strawberry(
            interface.resolve_type, "_get_resolve_type"
        ):
            return None
        # every possible type's completer made now: a plan kept for later executions must not
        # hold this executor (see `_shared_plans`)
        by_type = {
            runtime.name: self._object_completer(runtime, details)
            for runtime in self.schema.get_possible_types(interface)
        }

        def complete_interface(value: Any) -> Any:
            if value is None:
                return None
            # what strawberry's resolve_type does for a strawberry object that is not cast
            definition = getattr(value, "__strawberry_definition__", None)
            if (
                definition is None
                or definition.is_graphql_generic
                or get_strawberry_type_cast(value) is not None
            ):
                raise _GiveUp
            complete = by_type.get(definition.name)
            if complete is None:  # not a type of the interface, or not plain
                raise _GiveUp
            return complete(value)

        return complete_interface


@dataclasses.dataclass
class _Plans:
    """The completers of one operation. `anchor` keeps the operation's nodes alive, so that the
    node ids in the keys stay theirs."""

    anchor: tuple[Any, ...]
    fields: dict[tuple[Any, ...], FieldsPlan | None] = dataclasses.field(default_factory=dict)
    objects: dict[tuple[Any, ...], Completer | None] = dataclasses.field(default_factory=dict)


class _PlanCache:
    """The plans of the last `size` operations a schema executed, by their operation node (the
    parser cache hands the same nodes to every request with the same text)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._plans: OrderedDict[int, _Plans] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, operation: OperationDefinitionNode, fragments: Any) -> _Plans:
        with self._lock:
            plans = self._plans.get(id(operation))
            if plans is not None and plans.anchor[0] is operation:
                self._plans.move_to_end(id(operation))
                return plans
            plans = self._plans[id(operation)] = _Plans((operation, fragments))
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
            return plans


def _shared_plans(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> _Plans | None:
    """The plans every execution of this operation on this schema shares, or None when the
    operation has a directive (an `@include(if: $var)` makes the fields depend on the
    variables: such an execution plans for itself)."""
    if _has_directives(operation.selection_set, fragments):
        return None
    cache = schema.extensions.get(_PLANS)
    if cache is None:
        cache = schema.extensions[_PLANS] = _PlanCache(SHARED_PLANS)
    return cast("_PlanCache", cache).get(operation, fragments)


def _has_directives(
    selections: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether a selection, its fragments included, carries a directive anywhere. O(nodes)."""
    pending = [selections]
    seen: set[str] = set()
    while pending:
        selection_set = pending.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if selection.directives:
                return True
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    if fragment.directives:
                        return True
                    pending.append(fragment.selection_set)
            else:
                pending.append(cast("FieldNode | InlineFragmentNode", selection).selection_set)
    return False


def _node_ids(details: FieldDetailsList) -> tuple[int, ...]:
    """A field group by the ids of its nodes (alive as long as their `_Plans`)."""
    return tuple(id(d.node) for d in details)


def _plain_attribute(field: GraphQLField | None, details: FieldDetailsList) -> str | None:
    """The attribute a plain field reads (see the module), or None when it is not plain."""
    if field is None:
        return None
    # kept in the field's own extensions: the schema holds the field for good, and graphql-core
    # leaves extensions to the schema's makers
    extensions = field.extensions
    attribute = extensions.get(_PLAIN, Undefined)
    if attribute is Undefined:
        attribute = extensions[_PLAIN] = _basic_attribute(field)
    if attribute is None or any(
        d.node.arguments or d.defer_usage or d.fragment_variable_values for d in details
    ):
        return None
    return cast("str", attribute)


def _basic_attribute(field: GraphQLField) -> str | None:
    """The attribute a field reads when strawberry resolves it by reading one."""
    if field.args:
        return None
    definition = field.extensions.get(_DEFINITION)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr:
        return None
    # a basic field with exception handlers gets a full resolver from strawberry
    if getattr(field.resolve, "__name__", None) != "_get_basic_result":
        return None
    return definition.python_name


def _from_strawberry(function: Callable[..., Any], maker: str) -> bool:
    """Whether `function` is the one strawberry's schema converter makes in `maker`."""
    return function.__module__ == "strawberry.schema.schema_converter" and (
        f"{maker}.<locals>." in function.__qualname__
    )


def _non_null(inner: Completer | None) -> Completer | None:
    if inner is None:
        return None

    def complete_non_null(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _GiveUp  # graphql-core reports the null at its path
        return completed

    return complete_non_null


def _listed(item: Completer | None) -> Completer | None:
    if item is None:
        return None

    def complete_list(value: Any) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple):  # iterators, async iterables: graphql-core's
            raise _GiveUp
        return [item(each) for each in value]

    return complete_list


def _leaf(coerce: Callable[[Any], Any]) -> Completer:
    def complete_leaf(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Exception):
            raise _GiveUp
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _GiveUp
        return coerced

    return complete_leaf


def _enum(enum: CustomGraphQLEnumType) -> Completer:
    """A strawberry enum: its members' names looked up, not searched for one by one (as
    strawberry's `coerce_output_value` does); anything else coerced as it would be."""
    names: dict[Any, str] = {}
    members: Iterable[Any] = enum.wrapped_cls
    for member in members:
        # the first name whose value is the member's, as strawberry's search finds it
        found = next((n for n, v in enum.values.items() if v.value == member.value), None)
        if found is not None:
            names[member] = found
    coerce = _leaf(enum.coerce_output_value)

    def complete_enum(value: Any) -> Any:
        name = names.get(value) if isinstance(value, enum.wrapped_cls) else None
        return coerce(value) if name is None else name

    return complete_enum


def _nullable(complete: Completer | None) -> Completer | None:
    if complete is None:
        return None
    return lambda value: None if value is None else complete(value)


def _in_order(plan: FieldsPlan, fast: dict[str, Any], slow: dict[str, Any]) -> dict[str, Any]:
    """The fields of both parts in the query's order (a field graphql-core left out stays out)."""
    return {
        name: fast[name] if name in fast else slow[name]
        for name, _, _ in plan
        if name in fast or name in slow
    }
