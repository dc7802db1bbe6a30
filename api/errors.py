"""Errors the API reports: a stable code in `extensions.code`, a message safe to show.

Resolvers raise `ApiError` subclasses with a message written for the caller. Everything else
(a store failure, a bug) becomes `INTERNAL_ERROR` or `STORE_UNAVAILABLE` with a generic message
and the request id: no stack trace, no store message, no echo of the input ever leaves.
"""

from __future__ import annotations

import re
from typing import Any

from credgraph.api.audit import AuditUnavailable
from credgraph.api.masking import scrub
from credgraph.graph.store import StoreError
from graphql import GraphQLError, VariableDefinitionNode, print_ast


class ApiError(Exception):
    """An error with a stable code and a message written for the caller."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(ApiError):
    code = "BAD_USER_INPUT"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Conflict(ApiError):
    code = "CONFLICT"


class NotOffered(ApiError):
    """An operation this deployment does not offer (a city without credit repair, say): no
    role may call it, and no argument changes that."""

    code = "NOT_OFFERED"


class PurposeRequired(ApiError):
    code = "PURPOSE_REQUIRED"


class TimeBudgetExceeded(ApiError):
    code = "TIME_BUDGET_EXCEEDED"


_COMPLEXITY = ("maximum operation depth", "aliases", "tokens")


STORE_UNAVAILABLE = ("STORE_UNAVAILABLE", "the graph store could not answer; try again later")


def store_failure(error: StoreError) -> tuple[str, str]:
    """The (code, message) a store failure is reported with: a store timeout is the request's
    time budget running out (each transaction gets what is left of it)."""
    if error.code and "Timeout" in error.code:
        return TimeBudgetExceeded.code, "the request ran out of its time budget"
    return STORE_UNAVAILABLE


def classify(error: GraphQLError) -> tuple[str, str]:
    """The (code, message) a GraphQL error is reported with."""
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code, scrub(original.message)
    if isinstance(original, AuditUnavailable):
        return "AUDIT_UNAVAILABLE", "the lookup could not be registered, so it is not answered"
    if isinstance(original, StoreError):
        return store_failure(original)
    if original is None:
        message = error.message
        if any(part in message for part in _COMPLEXITY):
            return "QUERY_TOO_COMPLEX", scrub(message)
        if message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED", scrub(message)
        return "GRAPHQL_VALIDATION_FAILED", scrub(message)
    if error.path is None and isinstance(original, (GraphQLError, ValueError, TypeError)):
        # a variable or literal that does not coerce to its type (a bad date, say)
        return "BAD_USER_INPUT", _invalid_variable(error) or scrub(error.message)
    return "INTERNAL_ERROR", "internal error"


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


def refusal(code: str, message: str) -> dict[str, Any]:
    """The body of a request refused before GraphQL answers it: one error with its code."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


# graphql-core suggests names close to a misspelt one ("Did you mean 'entity'?"): with
# introspection off, that would still map the schema a guess at a time
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def format_error(error: GraphQLError, request_id: str, *, suggest: bool = True) -> dict[str, Any]:
    """The error as the caller gets it; `suggest=False` drops GraphQL's name suggestions."""
    code, message = classify(error)
    if not suggest:
        message = _SUGGESTION.sub("", message)
    formatted: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if code == "INTERNAL_ERROR":
        formatted["extensions"]["requestId"] = request_id
    if error.path is not None:
        # an alias is part of the path: scrubbed as the message is
        formatted["path"] = [scrub(p) if isinstance(p, str) else p for p in error.path]
    if error.locations is not None and code not in ("INTERNAL_ERROR",):
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    return formatted
