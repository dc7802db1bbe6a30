"""Roles and what each may do: the role matrix of docs/security.md, as data.

One table decides which root fields and mutations a role may call, one which disclosure
classes of records it sees, one how it sees natural persons, one whether it sees contagion
scores. Resolvers ask these tables and nothing else; tests/test_api_roles.py parses the table
in docs/security.md and checks every cell against the running app.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from credgraph.graph.vocabulary import Disclosure, RecordStatus


class ApiRole(StrEnum):
    """The role of an API key."""

    PUBLIC = "public"
    APPROVAL = "approval"
    INVESTIGATOR = "investigator"
    ANALYST = "analyst"
    ADMIN = "admin"


class PersonView(StrEnum):
    """How a role sees natural persons."""

    HIDDEN = "hidden"  # never returned, not even as a hop of a path
    PSEUDONYMISED = "pseudonymised"  # opaque token, masked name, nothing else
    MASKED = "masked"  # name and masked identity number


class Purpose(StrEnum):
    """Why a lookup is made: registered with every lookup, required when persons are touched."""

    LICENSING = "licensing"
    PROCUREMENT = "procurement"
    PUBLIC_RESOURCE_TRADING = "public_resource_trading"
    FISCAL_FUNDS = "fiscal_funds"
    RECRUITMENT = "recruitment"
    INVESTIGATION = "investigation"
    SUPERVISION = "supervision"
    ANALYSIS = "analysis"
    OBJECTION_HANDLING = "objection_handling"
    CREDIT_REPAIR = "credit_repair"


_EVERYONE = frozenset(ApiRole)
_INTERNAL = frozenset(ApiRole) - {ApiRole.PUBLIC}

# root field or mutation -> roles that may call it
OPERATIONS: dict[str, frozenset[ApiRole]] = {
    "entity": _EVERYONE,
    "search": _EVERYONE - {ApiRole.APPROVAL},
    "linkedParties": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "paths": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "dishonestParties": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "suspectedLinks": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "controlGroup": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "guaranteeCircle": frozenset({ApiRole.INVESTIGATOR, ApiRole.ANALYST, ApiRole.ADMIN}),
    "riskReport": _INTERNAL,
    "screen": frozenset({ApiRole.APPROVAL, ApiRole.ADMIN}),
    "openObjection": frozenset({ApiRole.ADMIN}),
    "closeObjection": frozenset({ApiRole.ADMIN}),
    "recordRepair": frozenset({ApiRole.ADMIN}),
}

# role -> disclosure classes of the records it sees
DISCLOSURES: dict[ApiRole, frozenset[Disclosure]] = {
    ApiRole.PUBLIC: frozenset({Disclosure.PUBLIC}),
    ApiRole.APPROVAL: frozenset({Disclosure.PUBLIC, Disclosure.GOVERNMENT_SHARED}),
    ApiRole.INVESTIGATOR: frozenset(
        {Disclosure.PUBLIC, Disclosure.GOVERNMENT_SHARED, Disclosure.RESTRICTED}
    ),
    ApiRole.ANALYST: frozenset({Disclosure.PUBLIC, Disclosure.GOVERNMENT_SHARED}),
    ApiRole.ADMIN: frozenset(Disclosure),
}

PERSONS: dict[ApiRole, PersonView] = {
    ApiRole.PUBLIC: PersonView.HIDDEN,
    ApiRole.APPROVAL: PersonView.MASKED,
    ApiRole.INVESTIGATOR: PersonView.MASKED,
    ApiRole.ANALYST: PersonView.PSEUDONYMISED,
    ApiRole.ADMIN: PersonView.MASKED,
}

CONTAGION: frozenset[ApiRole] = _INTERNAL


def may_call(role: ApiRole, operation: str) -> bool:
    return role in OPERATIONS.get(operation, frozenset())


# a record in one of these statuses on the day of an answer no longer stands: repaired (信用修复:
# no longer published once repaired), revoked (found wrong) or expired (its publication period
# is over); one under objection still stands, annotated
NO_LONGER_STANDING: frozenset[RecordStatus] = frozenset(
    {RecordStatus.REPAIRED, RecordStatus.REVOKED, RecordStatus.EXPIRED}
)


def _shown_disclosure(
    disclosure: str | None, until: date | None, day: date, status: RecordStatus | str | None
) -> str | None:
    """The class a record is shown under on `day`: a public record whose `disclosure_until` is
    before `day`, or whose status on `day` (`status`, as `record_state` folds it: a term run out
    is `expired`) is repaired, revoked or expired, is public no more, and reaches only the roles
    that see government_shared records (docs/security.md, "Role matrix"). What counts for a
    decision does not change."""
    if disclosure != Disclosure.PUBLIC.value:
        return disclosure
    if until is not None and until < day:
        return Disclosure.GOVERNMENT_SHARED.value
    if status in NO_LONGER_STANDING:  # a StrEnum: its text matches as well
        return Disclosure.GOVERNMENT_SHARED.value
    return disclosure


def sees_disclosure(
    role: ApiRole,
    disclosure: str | None,
    *,
    until: date | None,
    day: date,
    status: RecordStatus | str | None,
) -> bool:
    """Whether a record of this disclosure class, disclosed until `until` (None: for good), in
    this lifecycle status on `day` (None: not known, as standing), reaches the role in an answer
    for `day` (unknown class: admin only)."""
    try:
        shown = _shown_disclosure(disclosure, until, day, status)
        return Disclosure(shown or "") in DISCLOSURES[role]
    except ValueError:
        return role is ApiRole.ADMIN
