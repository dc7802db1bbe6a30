"""The GraphQL types of parties, records and relations, and their connections.

Parties behind one interface (`Party`: `LegalPerson`, `NaturalPerson`), each with the records
its caller's role may see; natural persons carry an opaque token as `id` and a masked number,
and resident ID numbers never come back. Also the relation, path and page types that several
root fields answer with (api/lookup.py, api/paths.py, api/investigate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import strawberry
from credgraph.api.context import Context, chosen_profile
from credgraph.api.errors import BadInput, Forbidden
from credgraph.api.keys import as_utc
from credgraph.api.roles import DISCLOSURES, Purpose
from credgraph.graph import clock
from credgraph.graph.store import stored_date
from credgraph.graph.vocabulary import Disclosure, RelationType
from credgraph.queries.snapshot import record_state_of
from strawberry.types import Info

strawberry.enum(RelationType, description="Relation types of the graph.")
strawberry.enum(Disclosure, description="Disclosure class of a record: who may see it.")
strawberry.enum(Purpose, description="Why a lookup is made; registered in the audit log.")


@strawberry.type(
    description="A record as it stood on one date under one policy profile: the rule the flags "
    "of `riskReport` apply (docs/risk-model.md)."
)
class RecordStateOn:
    as_of: date
    profile: str
    status: str = strawberry.field(description="its lifecycle status on that date")
    since: date | None = strawberry.field(description="when that status took effect")
    starts_on: date | None = strawberry.field(description="the first day it counts")
    ends_on: date | None = strawberry.field(
        description="the first day it no longer counts if nothing new happens: its `validTo`, "
        "else its decision date (else its start) plus its kind's default term in the profile "
        "(calendar years, months or days), else the day a change "
        "ended it; null when open-ended"
    )
    listed: bool = strawberry.field(description="it had started by that date")
    counts: bool = strawberry.field(
        description="it weighs against its subject on that date: negative, started, not ended, "
        "and not under an objection the profile leaves out"
    )
    under_objection: bool


@strawberry.type(description="A credit record: a sanction, a commendation or a grade.")
class CreditRecord:
    id: strawberry.ID
    category: str = strawberry.field(description="SanctionEvent, Commendation or CreditGrade")
    kind: str
    sector: str | None
    list_name: str | None
    scheme: str | None
    grade: str | None
    status: str = strawberry.field(
        description="active, revoked, repaired, expired, under_objection"
    )
    status_since: date | None
    under_objection: bool = strawberry.field(description="the subject contests this record")
    disclosure: str
    authority: str | None
    decision_number: str | None
    decision_date: date | None
    published_on: date | None
    valid_from: date | None
    valid_to: date | None
    disclosure_until: date | None
    court: str | None
    case_number: str | None
    description: str | None
    source_system: str | None
    city: str | None
    legal_basis: str | None = strawberry.field(description="the rule applied")
    obligation: str | None = strawberry.field(
        description="a dishonest debtor's obligation, as the judgment set it"
    )
    performance: str | None = strawberry.field(
        description="how far a dishonest debtor has performed the obligation"
    )
    dishonest_behaviour: str | None = strawberry.field(
        description="the specific dishonest behaviour a debtor is listed for"
    )
    source_record_id: str | None = strawberry.field(
        description="the record's own id in its source system (`sourceSystem`)"
    )
    source: str | None = strawberry.field(
        description="lineage: the source the load read it from (the file, or the mapping's "
        "source name); null for the public role"
    )
    source_row: str | None = strawberry.field(
        description="lineage: the source and line of the row loaded (`records.csv:12`); null "
        "for the public role"
    )
    run_id: str | None = strawberry.field(
        description="lineage: the load run that last wrote it (the `run_id` of its load "
        "report); null for the public role"
    )
    loaded_at: datetime | None = strawberry.field(
        description="lineage: when that load run started (UTC); null for the public role"
    )
    row: strawberry.Private[dict[str, Any]]  # as read, with its status changes

    @strawberry.field(
        description="The record as it stood on `asOf` (default today) under `profile` (default "
        "the deployment's): `status` and `validTo` above are the latest, and a record without "
        "`validTo` still ends after its kind's default term."
    )
    def state_on(
        self, info: Info[Context, None], as_of: date | None = None, profile: str | None = None
    ) -> RecordStateOn:
        chosen = chosen_profile(info.context, profile)
        day = as_of or clock.today()
        state = record_state_of(self.row, self.row.get("changes") or (), day, chosen)
        return RecordStateOn(
            as_of=day,
            profile=chosen.name,
            status=state.status.value,
            since=state.since,
            starts_on=state.starts_on,
            ends_on=state.ends_on,
            listed=state.listed,
            counts=state.counts,
            under_objection=state.under_objection,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CreditRecord:
        status = str(row.get("status") or "active")
        return cls(
            id=strawberry.ID(row["uid"]),
            category=row["label"],
            kind=row["kind"],
            sector=row.get("sector"),
            list_name=row.get("list_name"),
            scheme=row.get("scheme"),
            grade=row.get("grade"),
            status=status,
            status_since=stored_date(row.get("status_since")),
            under_objection=status == "under_objection",
            disclosure=str(row.get("disclosure") or ""),
            authority=row.get("authority"),
            decision_number=row.get("decision_number"),
            decision_date=stored_date(row.get("decision_date")),
            published_on=stored_date(row.get("published_on")),
            valid_from=stored_date(row.get("valid_from")),
            valid_to=stored_date(row.get("valid_to")),
            disclosure_until=stored_date(row.get("disclosure_until")),
            court=row.get("court"),
            case_number=row.get("case_number"),
            description=row.get("description"),
            source_system=row.get("source_system"),
            city=row.get("city"),
            legal_basis=row.get("legal_basis"),
            obligation=row.get("obligation"),
            performance=row.get("performance"),
            dishonest_behaviour=row.get("dishonest_behaviour"),
            source_record_id=row.get("record_id"),
            source=row.get("source"),
            source_row=row.get("source_row"),
            run_id=row.get("run_id"),
            loaded_at=_neo_datetime(row.get("loaded_at")),
            row=row,
        )


def _neo_datetime(value: Any) -> datetime | None:
    """A date-time property as a Python datetime in UTC (the driver returns neo4j.time.DateTime)."""
    native = value.to_native() if hasattr(value, "to_native") else value
    return as_utc(native) if isinstance(native, datetime) else None


@strawberry.interface(description="A credit subject: a legal person or a natural person.")
class Party:
    id: strawberry.ID
    name: str
    visible_records: strawberry.Private[list[CreditRecord]]

    @strawberry.field(
        description="The party's records the caller's role may see; a filter on a disclosure "
        "class the role does not see is refused, and so is an empty list."
    )
    def records(
        self,
        info: Info[Context, None],
        disclosure: list[Disclosure] | None = None,
        kinds: list[str] | None = None,
    ) -> list[CreditRecord]:
        role = info.context.role
        for argument, given in (("disclosure", disclosure), ("kinds", kinds)):
            if given is not None and not given:  # as `relationTypes: []`: never widened to all
                info.context.register("records", outcome="refused:bad_user_input")
                raise BadInput.argument(
                    argument, "choose at least one, or leave the argument out for all"
                )
        if disclosure:
            hidden = sorted(d.value for d in disclosure if d not in DISCLOSURES[role])
            if hidden:
                info.context.register("records", outcome="refused:role")
                raise Forbidden.argument(
                    "disclosure", f"the {role.value} role does not see {', '.join(hidden)} records"
                )
        chosen = self.visible_records
        if disclosure:
            wanted = {d.value for d in disclosure}
            chosen = [r for r in chosen if r.disclosure in wanted]
        if kinds:
            chosen = [r for r in chosen if r.kind in set(kinds)]
        return chosen


@strawberry.type(
    description="An enterprise, individual business, institution or other legal person."
)
class LegalPerson(Party):
    kind: str
    uscc: str | None
    registration_number: str | None
    org_code: str | None
    region_code: str | None
    registered_on: date | None
    status: str | None
    address: str | None
    industry: str | None


@strawberry.type(
    description="A natural person: the identity number is only ever shown masked; roles that "
    "see persons pseudonymised get the token and a masked name only."
)
class NaturalPerson(Party):
    id_type: str | None
    id_masked: str | None
    sex: str | None


@strawberry.type(description="A relation between two parties, with its dates and source.")
class Relation:
    type: RelationType
    from_id: strawberry.ID
    to_id: strawberry.ID
    role: str | None
    stake: float | None
    amount: float | None
    valid_from: date | None
    valid_to: date | None
    current: bool
    source: str | None
    source_record: str | None
    matter: str | None = strawberry.field(
        description="a responsible person's relation: the matter (a record id or a case) the "
        "person answers for; a project participation (PARTICIPATES_IN): the project; null on a "
        "person's relation to a role that sees persons pseudonymised",
    )
    project_role: str | None = strawberry.field(
        description="a project participation (PARTICIPATES_IN): the participant's part in the "
        "project (总承包, 分包, 监理, 设计 …) as its source wrote it; null on other relations",
    )
    subscribed_capital: float | None = strawberry.field(
        description="a shareholding's subscribed capital, in yuan"
    )


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A party reached from the root, with the relation that reached it.")
class LinkedParty:
    party: Party
    depth: int
    parent_id: strawberry.ID
    via: Relation


@strawberry.type
class CursorEdge:
    """An edge of a relay connection, whose cursor is made only when a query asks for it: a
    cursor is sealed with a MAC (api/pages.py), and a page of 50 that nobody pages on spent a
    fifth of `linkedParties`' worker time making them."""

    cursor_of: strawberry.Private[Callable[[], str]]

    @strawberry.field(description="An opaque cursor after this edge's node, for `after`.")
    def cursor(self) -> str:
        return self.cursor_of()


@strawberry.type
class LinkedPartyEdge(CursorEdge):
    node: LinkedParty


@strawberry.type(description="Linked parties of one party, a page at a time.")
class LinkedPartyConnection:
    root: Party
    edges: list[LinkedPartyEdge]
    page_info: PageInfo
    total_count: int
    explored_depth: int
    truncated: bool = strawberry.field(description="a cap cut the walk short")
    relations: list[Relation] = strawberry.field(
        description="Every relation between two parties of the answer that this page adds: one "
        "end on this page, the other on it, on an earlier page or the root; over all pages each "
        "relation comes once (the `via` relations included)"
    )
    relations_truncated: bool = strawberry.field(
        description="the cap cut the read of the relations among the farthest parties short: "
        "some of them may be missing"
    )

    @strawberry.field(description="The nodes of `edges`, for callers that need no cursors.")
    def items(self) -> list[LinkedParty]:
        return [edge.node for edge in self.edges]


@strawberry.enum(description="Which of a party's names a search matched.")
class MatchedOn(StrEnum):
    NAME = "name"
    FORMER_NAME = "former_name"
    ALIAS = "alias"


@strawberry.type
class PartyEdge(CursorEdge):
    node: Party
    matched_name: str = strawberry.field(
        description="The name that matched the search: the party's name, or a former name or "
        "alias of it (`matchedOn`)."
    )
    matched_on: MatchedOn = strawberry.field(
        description="NAME for the party's current name, FORMER_NAME for a name it went by "
        "before (曾用名), ALIAS for a name a sanctions list gives it."
    )


@strawberry.type(description="Parties found by name, a page at a time.")
class PartyConnection:
    edges: list[PartyEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="matches found, up to the search's limit (`truncated` says when more exist)"
    )
    truncated: bool = strawberry.field(
        default=False,
        description="more parties match than the search lists (its limit, or a tier of "
        "candidates cut at its cap): give more of the name",
    )


@strawberry.type(description="A path between two parties: the parties in order and typed hops.")
class PartyPath:
    length: int
    parties: list[Party]
    hops: list[Relation] = strawberry.field(
        description="hop i links parties[i] and parties[i+1]; fromId/toId give its direction"
    )
