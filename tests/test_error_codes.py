"""Every error code has its HTTP status, and every error class and refusal takes both from the
one table of api/errors.py."""

from __future__ import annotations

import pytest
from credgraph.api.errors import (
    HTTP_STATUS,
    ApiError,
    BadInput,
    ErrorCode,
    Forbidden,
    NotFound,
    refusal_response,
    store_failure,
)
from credgraph.graph.store import StoreError


def _error_classes(base: type[ApiError] = ApiError) -> list[type[ApiError]]:
    classes: list[type[ApiError]] = [base]
    for sub in base.__subclasses__():
        classes += _error_classes(sub)
    return classes


def test_every_code_has_a_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


@pytest.mark.parametrize("error", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_carries_the_status_of_its_code(error: type[ApiError]) -> None:
    assert isinstance(error.code, ErrorCode)
    assert error.status == HTTP_STATUS[error.code]
    assert error("x").status == error.code.status


def test_a_refusal_answers_with_the_status_of_its_code() -> None:
    response = refusal_response(ErrorCode.PAYLOAD_TOO_LARGE, "too big", {"X-A": "b"})
    assert response.status_code == 413
    assert response.headers["X-A"] == "b"
    assert response.body == (
        b'{"errors":[{"message":"too big","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}'
    )


def test_an_argument_error_names_the_argument_first() -> None:
    refused = BadInput.argument("first", "must be between 1 and 200")
    assert isinstance(refused, BadInput)
    assert refused.message == "argument first: must be between 1 and 200"
    assert isinstance(NotFound.argument("recordId", "no such record"), NotFound)
    assert Forbidden.argument("kind", "no").code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    "store_code",
    [
        "Neo.ClientError.Transaction.TransactionTimedOut",  # Neo4j 5, the server's limit
        "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",  # the driver's
    ],
)
def test_neo4j_ending_a_transaction_at_its_timeout_is_the_time_budget(store_code: str) -> None:
    """The store ends a transaction when the time left to the request runs out: the caller
    hears that its budget ran out, not that the store is unavailable."""
    code, _ = store_failure(StoreError("the transaction has been terminated", store_code))
    assert code is ErrorCode.TIME_BUDGET_EXCEEDED
    code, _ = store_failure(
        StoreError("no route", "Neo.TransientError.General.DatabaseUnavailable")
    )
    assert code is ErrorCode.STORE_UNAVAILABLE
