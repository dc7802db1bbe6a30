"""Errors the API reports: a stable code in `extensions.code`, a message safe to show.

Resolvers raise `ApiError` subclasses with a message written for the caller. Everything else
(a store failure, a bug) becomes `INTERNAL_ERROR` or `STORE_UNAVAILABLE` with a generic message
and the request id: no stack trace, no store message, no echo of the input ever leaves.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

from credgraph.api.audit import AuditUnavailable
from credgraph.api.masking import scrub, scrub_lines
from credgraph.graph.store import StoreError
from graphql import (
    ArgumentNode,
    ASTValidationRule,
    GraphQLError,
    GraphQLInputType,
    ValidationContext,
    ValueNode,
    ValuesOfCorrectTypeRule,
    VariableDefinitionNode,
    get_named_type,
    is_scalar_type,
    print_ast,
)
from graphql.language import VisitorAction
from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension


class ErrorCode(StrEnum):
    """Every code an error carries in `extensions.code`. Its `status` is the HTTP status of a
    request refused with it before GraphQL reads the request; once GraphQL has read it, the
    answer is a 200 whatever its errors (docs/security.md, Abuse limits and errors)."""

    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PUBLIC_INTERFACE_ONLY = "PUBLIC_INTERFACE_ONLY"
    NOT_OFFERED = "NOT_OFFERED"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    BATCH_NOT_SUPPORTED = "BATCH_NOT_SUPPORTED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    TIME_BUDGET_EXCEEDED = "TIME_BUDGET_EXCEEDED"

    @property
    def status(self) -> int:
        """The HTTP status of a request refused with this code before GraphQL reads it."""
        return HTTP_STATUS[self]


HTTP_STATUS: Final[Mapping[ErrorCode, int]] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.PUBLIC_INTERFACE_ONLY: 403,
    ErrorCode.NOT_OFFERED: 403,
    ErrorCode.PURPOSE_REQUIRED: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.BATCH_NOT_SUPPORTED: 400,
    ErrorCode.QUERY_TOO_COMPLEX: 400,
    ErrorCode.GRAPHQL_PARSE_FAILED: 400,
    ErrorCode.GRAPHQL_VALIDATION_FAILED: 400,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.AUDIT_UNAVAILABLE: 503,
    ErrorCode.STORE_UNAVAILABLE: 503,
    # the store is the API's upstream: it did not answer within the request's budget
    ErrorCode.TIME_BUDGET_EXCEEDED: 504,
}


def argument_message(name: str, reason: str) -> str:
    """The message of an error about the argument `name` (`argument first: must be between 1
    and 200`): callers and tests know which argument by its first words."""
    return f"argument {name}: {reason}"


class ApiError(Exception):
    """An error with a stable code, the HTTP status that code has, and a message written for
    the caller."""

    code: ClassVar[ErrorCode] = ErrorCode.BAD_REQUEST
    status: ClassVar[int] = ErrorCode.BAD_REQUEST.status

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = cls.code.status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def argument(cls, name: str, reason: str) -> Self:
        """The error about the argument `name`: its message names the argument first."""
        return cls(argument_message(name, reason))


class BadInput(ApiError):
    code = ErrorCode.BAD_USER_INPUT


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class Conflict(ApiError):
    code = ErrorCode.CONFLICT


class NotOffered(ApiError):
    """An operation this deployment does not offer (a city without credit repair, say): no
    role may call it, and no argument changes that."""

    code = ErrorCode.NOT_OFFERED


class PurposeRequired(ApiError):
    code = ErrorCode.PURPOSE_REQUIRED


class TimeBudgetExceeded(ApiError):
    code = ErrorCode.TIME_BUDGET_EXCEEDED


# the token limit is the parser's (strawberry's MaxTokensLimiter only sets it): its syntax error
# is known by the whole of its message, never by a word a field or argument could also hold
_TOO_MANY_TOKENS = re.compile(
    r"Syntax Error: Document contains more than \d+ tokens\. Parsing aborted\."
)


def too_complex(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """A limiter's validation rule (depth, aliases) whose errors carry the code
    `QUERY_TOO_COMPLEX` in their extensions: `classify` knows them by it, not by their words.
    Strawberry's limiters report while the rule is built, so the context's reporting is
    wrapped for that time only."""

    class TooComplex(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.on_error

            def tagged(error: GraphQLError) -> None:
                extensions = {**(error.extensions or {}), "code": ErrorCode.QUERY_TOO_COMPLEX}
                report(GraphQLError(error.message, error.nodes, extensions=extensions))

            context.on_error = tagged  # type: ignore[method-assign]
            try:
                super().__init__(context)
            except KeyError:
                # strawberry's depth limiter looks up every fragment spread by name: an unknown
                # one (`...F`) is graphql-core's KnownFragmentNamesRule's to report, as
                # GRAPHQL_VALIDATION_FAILED, and the document is refused whatever its depth
                ASTValidationRule.__init__(self, context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

    TooComplex.__name__ = TooComplex.__qualname__ = f"TooComplex{rule.__name__}"
    return TooComplex


STORE_UNAVAILABLE = (
    ErrorCode.STORE_UNAVAILABLE,
    "the graph store could not answer; try again later",
)


_TIMEOUT_WORDS = ("Timeout", "TimedOut")


def store_failure(error: StoreError) -> tuple[ErrorCode, str]:
    """The (code, message) a store failure is reported with: a store timeout is the request's
    time budget running out (each transaction gets what is left of it). ArcadeDB names its
    timeouts `...Timeout...`; Neo4j ends a transaction past its timeout with
    `Neo.ClientError.Transaction.TransactionTimedOut` (or `...TimedOutClientConfiguration`)."""
    if error.code and any(word in error.code for word in _TIMEOUT_WORDS):
        return TimeBudgetExceeded.code, "the request ran out of its time budget"
    return STORE_UNAVAILABLE


def classify(error: GraphQLError) -> tuple[ErrorCode, str]:
    """The (code, message) a GraphQL error is reported with."""
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code, scrub(original.message)
    if isinstance(original, AuditUnavailable):
        return (
            ErrorCode.AUDIT_UNAVAILABLE,
            "the lookup could not be registered, so it is not answered",
        )
    if isinstance(original, StoreError):
        return store_failure(original)
    if original is None:
        message = error.message
        limited = (error.extensions or {}).get("code") == ErrorCode.QUERY_TOO_COMPLEX
        if limited or _TOO_MANY_TOKENS.fullmatch(message):
            return ErrorCode.QUERY_TOO_COMPLEX, scrub(message)
        if message.startswith("Syntax Error"):
            return ErrorCode.GRAPHQL_PARSE_FAILED, scrub(message)
        return ErrorCode.GRAPHQL_VALIDATION_FAILED, scrub(message)
    if error.path is None and isinstance(original, (GraphQLError, ValueError, TypeError)):
        # a variable or literal that does not coerce to its type (a bad date, say)
        return ErrorCode.BAD_USER_INPUT, _invalid_variable(error) or scrub(error.message)
    return ErrorCode.INTERNAL_ERROR, "internal error"


_VARIABLE_PATH = re.compile(r"^Variable '\$\w+' has invalid value at ([\w\[\].]+):")


def _invalid_variable(error: GraphQLError) -> str | None:
    """For a variable whose value does not coerce to its type: which variable, where inside it,
    and which type, never the value (graphql-core's message quotes it)."""
    node = error.nodes[0] if error.nodes else None
    if not isinstance(node, VariableDefinitionNode):
        return None
    where = _VARIABLE_PATH.match(error.message)
    at = f" at {where.group(1)}" if where else ""
    name, kind = node.variable.name.value, print_ast(node.type)
    return f"variable ${name}: the value{at} does not fit its type {kind}"


class ArgumentValuesOfCorrectType(ValuesOfCorrectTypeRule):
    """graphql-core's check of literal values, with the argument named in every error: a
    scalar that refuses a literal (`asOf: "2024-13-01"`, `first: "abc"`) wrote its own message,
    naming neither the argument nor (for a date) where it is, and quoting the value."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._argument: ArgumentNode | None = None
        self._value: tuple[ValueNode, GraphQLInputType] | None = None

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        self._argument, self._value = node, None

    def leave_argument(self, *_args: Any) -> None:
        self._argument, self._value = None, None

    def is_valid_value_node(
        self, node: ValueNode, input_type: GraphQLInputType | None
    ) -> VisitorAction:
        self._value = (node, input_type) if input_type is not None else None
        return super().is_valid_value_node(node, input_type)

    def report_error(self, error: GraphQLError) -> None:
        if self._argument is None:
            super().report_error(error)
            return
        name = self._argument.name.value
        scalar = self._refused_scalar(error)
        if scalar is None:
            super().report_error(GraphQLError(argument_message(name, error.message), error.nodes))
            return
        node, input_type = scalar
        message = argument_message(name, f"the value does not fit its type {input_type}")
        super().report_error(GraphQLError(message, node))

    def _refused_scalar(self, error: GraphQLError) -> tuple[ValueNode, GraphQLInputType] | None:
        """The value and type of the scalar literal this error is about, if it is one."""
        if self._value is None or not is_scalar_type(get_named_type(self._value[1])):
            return None
        if error.nodes and error.nodes[0] is not self._value[0]:
            return None
        return self._value


class NameArgumentsInValueErrors(SchemaExtension):
    """Validates with `ArgumentValuesOfCorrectType` in place of graphql-core's own rule."""

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = tuple(
            ArgumentValuesOfCorrectType if rule is ValuesOfCorrectTypeRule else rule
            for rule in self.execution_context.validation_rules
        )
        yield


def refusal(code: ErrorCode, message: str) -> dict[str, Any]:
    """The body of a request refused before GraphQL answers it: one error with its code."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def refusal_response(
    code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A request refused before GraphQL answers it: `refusal`'s body, with the code's status."""
    return JSONResponse(refusal(code, message), status_code=code.status, headers=headers)


# graphql-core suggests names close to a misspelt one ("Did you mean 'entity'?"): with
# introspection off, that would still map the schema a guess at a time
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def logged_traceback(error: BaseException) -> str:
    """The traceback of an unexpected error as the server log gets it: each line scrubbed as a
    message to a caller is (api/masking.py `scrub`), so that an exception whose message quotes
    the caller's text (`KeyError: 'F350581198909237627'`) leaves no identity number in the log,
    and no line longer than a message may be."""
    return scrub_lines("".join(traceback.format_exception(error)))


def format_error(error: GraphQLError, request_id: str, *, suggest: bool = True) -> dict[str, Any]:
    """The error as the caller gets it; `suggest=False` drops GraphQL's name suggestions."""
    code, message = classify(error)
    if not suggest:
        message = _SUGGESTION.sub("", message)
    formatted: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if code is ErrorCode.INTERNAL_ERROR:
        formatted["extensions"]["requestId"] = request_id
    if error.path is not None:
        # an alias is part of the path: scrubbed as the message is
        formatted["path"] = [scrub(p) if isinstance(p, str) else p for p in error.path]
    if error.locations is not None and code is not ErrorCode.INTERNAL_ERROR:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    return formatted
