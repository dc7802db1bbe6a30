"""The public interface is separate: with `CREDGRAPH_API_INTERFACE=public` the server answers the
public role only, and refuses a key of any other role with 403 `PUBLIC_INTERFACE_ONLY`, audited;
the default (`internal`) interface is as it was (docs/security.md, "Public and internal
interfaces")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.settings import ApiInterface, Settings
from pydantic import ValidationError

from tests.api_support import ApiEnv, start_api_env
from tests.registries import FIRM_A

ENTITY = f'{{ entity(id: "{FIRM_A}") {{ id records {{ disclosure }} }} }}'
INTERNAL_ROLES = (ApiRole.APPROVAL, ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN)


@pytest.fixture(scope="module")
def public_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    yield from start_api_env(
        embedded,
        driver,
        settings,
        tmp_path_factory.mktemp("public-interface"),
        api_public_access=True,
        api_interface=ApiInterface.PUBLIC,
    )


@pytest.fixture(scope="module")
def internal_env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    # the default interface, with public access on as a city may run it today
    yield from start_api_env(
        embedded,
        driver,
        settings,
        tmp_path_factory.mktemp("internal-interface"),
        api_public_access=True,
    )


def audit_lines(env: ApiEnv) -> list[dict[str, Any]]:
    if not env.audit_path.exists():
        return []
    return [json.loads(line) for line in env.audit_path.read_text(encoding="utf-8").splitlines()]


def test_the_setting_takes_internal_or_public(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDGRAPH_API_INTERFACE", raising=False)
    assert Settings(_env_file=None).api_interface is ApiInterface.INTERNAL  # type: ignore[call-arg]
    monkeypatch.setenv("CREDGRAPH_API_INTERFACE", "public")
    assert Settings(_env_file=None).api_interface is ApiInterface.PUBLIC  # type: ignore[call-arg]
    monkeypatch.setenv("CREDGRAPH_API_INTERFACE", "both")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("role", INTERNAL_ROLES)
def test_a_public_interface_refuses_every_key_of_an_internal_role(
    public_env: ApiEnv, role: ApiRole
) -> None:
    before = len(audit_lines(public_env))
    response = public_env.post(ENTITY, role=role)
    assert response.status_code == 403, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PUBLIC_INTERFACE_ONLY"
    assert "public" in error["message"]
    events = audit_lines(public_env)[before:]
    assert len(events) == 1, events
    [event] = events
    assert event["role"] == role.value
    assert event["key_id"] == public_env.keys[role].split("_")[1]
    assert event["outcome"] == "refused:public_interface_only"
    assert event["subjects"] == [] and event["result_size"] == 0


def test_a_public_interface_answers_the_public_role(public_env: ApiEnv) -> None:
    for key_role in (None, ApiRole.PUBLIC):  # anonymous, and a key of the public role
        body = public_env.gql(ENTITY, role=key_role, purpose=None)
        assert "errors" not in body, body
        assert body["data"]["entity"]["id"] == FIRM_A
        assert {r["disclosure"] for r in body["data"]["entity"]["records"]} == {"public"}


@pytest.mark.parametrize("role", INTERNAL_ROLES)
def test_the_internal_interface_answers_every_role_as_before(
    internal_env: ApiEnv, role: ApiRole
) -> None:
    body = internal_env.gql(ENTITY, role=role)
    assert "errors" not in body, body
    assert body["data"]["entity"]["id"] == FIRM_A
    anonymous = internal_env.gql(ENTITY, role=None, purpose=None)
    assert "errors" not in anonymous and anonymous["data"]["entity"]["id"] == FIRM_A


def test_a_refused_request_is_audited_by_its_route_never_by_the_path_typed(
    public_env: ApiEnv,
) -> None:
    """The audit event of a key refused by a public interface named the path as the caller
    typed it (an ID number and a name in it, any length): it names the route as the metrics
    do, its template or `unmatched` (docs/security.md, Logs)."""
    admin = {"Authorization": f"Bearer {public_env.keys[ApiRole.ADMIN]}"}
    typed = "/x/350581198909237627/%E5%BD%AD%E7%87%95" + "/a" * 3000
    expected = {typed: "unmatched", "/healthz": "/healthz", "/graphql": "/graphql"}
    for path, label in expected.items():
        before = len(audit_lines(public_env))
        response = public_env.client.get(path, headers=admin)
        assert response.status_code == 403, (path, response.text)
        [event] = audit_lines(public_env)[before:]
        assert event["operation"] == label, event
        assert event["outcome"] == "refused:public_interface_only"
    raw = public_env.audit_path.read_text(encoding="utf-8")
    assert "350581198909237627" not in raw and "彭燕" not in raw and "/x/" not in raw


@pytest.mark.parametrize(
    "authorization",
    [[""], ["", ""], ["Bearer {public}", "Bearer {admin}"], ["Bearer {public}", ""]],
    ids=["empty", "empty-twice", "two-keys", "key-and-empty"],
)
def test_an_empty_or_repeated_authorization_header_is_refused(
    public_env: ApiEnv, authorization: list[str]
) -> None:
    """With public access on, an empty `Authorization` header got the public role, and of two
    the first counted: each is refused 401 `UNAUTHENTICATED`, audited like other refusals."""
    keys = {"public": public_env.keys[ApiRole.PUBLIC], "admin": public_env.keys[ApiRole.ADMIN]}
    headers = [("Authorization", value.format(**keys)) for value in authorization]
    before = len(audit_lines(public_env))
    response = public_env.client.post("/graphql", json={"query": ENTITY}, headers=headers)
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    [event] = audit_lines(public_env)[before:]
    assert event["outcome"] == "refused:unauthenticated"
    assert (event["operation"], event["key_id"], event["role"]) == ("/graphql", None, None)
    assert event["subjects"] == [] and event["result_size"] == 0
