"""The GraphQL schema: parties behind one interface, records, relations, connections, risk.

Every root field runs the same way (`_answer`): the caller's role may call it (api/roles.py),
the work runs in a worker thread against the request's budgeted store, the answer is masked for
the role, and an audit event is written before the answer is returned; if the event cannot be
written the field fails. Reads are batched: one store read per label per level of a query
(parties, their records, each level of a walk), never one query per row. Natural persons carry
an opaque token as `id` and a masked number; resident ID numbers are hashed on arrival and
never come back, not even in an error.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import strawberry
from credgraph.api.audit import AuditLog, AuditUnavailable, subject_token
from credgraph.api.errors import (
    ApiError,
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    NotOffered,
    PurposeRequired,
    classify,
    store_failure,
)
from credgraph.api.keys import Caller
from credgraph.api.masking import mask_identity_numbers, mask_name
from credgraph.api.metrics import Metrics
from credgraph.api.roles import (
    CONTAGION,
    DISCLOSURES,
    PERSONS,
    ApiRole,
    PersonView,
    Purpose,
    may_call,
    sees_disclosure,
)
from credgraph.graph.identifiers import (
    FTM_PREFIX,
    PERSON_TOKEN_SHAPE,
    is_valid_resident_id,
    normalise_code,
    record_pseudonym,
    upgraded_resident_id,
)
from credgraph.graph.names import name_key
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore, StoreError
from credgraph.graph.vocabulary import (
    PARTY_RELATIONS,
    Disclosure,
    Label,
    RelationType,
    StatusChangeKind,
)
from credgraph.queries.caches import HubCache, Hubs, PerVersion
from credgraph.queries.contagion import ContagionPath, rescore
from credgraph.queries.groups import (
    CONTROL_RELATIONS,
    DEFAULT_CYCLE_LIMIT,
    DEFAULT_MIN_STAKE,
    circles_of,
    connected_group,
)
from credgraph.queries.links import LinkKind, suspected_links
from credgraph.queries.lookup import (
    MAX_SEARCH_LIMIT,
    BadIdentifier,
    IdentifierCache,
    PartyCardCache,
    PartyKey,
    fetch_party_cards,
    fetch_records,
    resolve_identifier,
    search_by_name,
)
from credgraph.queries.paths import MAX_K, shortest_paths
from credgraph.queries.profiles import (
    PolicyProfile,
    ProfileError,
    choose_profile,
    profile_version,
)
from credgraph.queries.record_changes import (
    ChangeRefused,
    apply_changes,
    check_applies,
    find_record,
)
from credgraph.queries.risk import (
    MAX_BATCH,
    DataVersion,
    DataVersionCache,
    ReportCache,
    current_data_version,
    risk_report,
    risk_reports,
    screen_decision,
    sector_code,
    snapshot_id,
)
from credgraph.queries.risk import RiskReport as PartyRiskReport
from credgraph.queries.snapshot import SanctionSubjects, record_state_of
from credgraph.queries.tracing import TraceHit, trace_dishonest
from credgraph.queries.traversal import (
    Hop,
    LinkedCache,
    LinkedResult,
    RelationFilter,
    relation_filter,
    relations_on_page,
    walk_linked,
)
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

T = TypeVar("T")
_log = logging.getLogger("credgraph.api")

strawberry.enum(RelationType, description="Relation types of the graph.")
strawberry.enum(Disclosure, description="Disclosure class of a record: who may see it.")
strawberry.enum(Purpose, description="Why a lookup is made; registered in the audit log.")

PURPOSE_HEADER = "X-Credgraph-Purpose"


@strawberry.enum(description="Which kind of party a search looks for.")
class PartyKind(StrEnum):
    LEGAL_PERSON = "LegalPerson"
    NATURAL_PERSON = "NaturalPerson"


@dataclass
class Services:
    """What every request shares: settings, the person key, profiles, audit, metrics."""

    settings: Settings
    person_key: bytes
    audit: AuditLog
    metrics: Metrics
    profiles: dict[str, PolicyProfile]
    # the data version risk reports name (CREDGRAPH_RISK_DATA_VERSION_CACHE_S); None: read it
    versions: DataVersionCache | None = None
    # reports answered, by snapshot id (CREDGRAPH_RISK_REPORT_CACHE_SIZE); None: keep none
    reports: ReportCache | None = None
    # identifiers resolved, by data version (the same size); None: resolve every time
    identifiers: IdentifierCache | None = None
    # linkedParties walks, by data version (CREDGRAPH_API_WALK_CACHE_RELATIONS); None: none kept
    walks: LinkedCache | None = None
    # party cards, by data version (CREDGRAPH_API_PARTY_CACHE_SIZE); None: read every time
    cards: PartyCardCache | None = None
    # hubs' relations for walks, paths and risk reports, by data version
    # (CREDGRAPH_API_HUB_CACHE_RELATIONS)
    hubs: HubCache | None = None
    # the sanction subjects of the current data version, when warmed (CREDGRAPH_API_WARMUP_S):
    # a risk report's records read names only those
    subjects: PerVersion[SanctionSubjects] | None = None


class Context(BaseContext):
    """One request: who calls, for what purpose, through which (budgeted) store."""

    def __init__(
        self,
        *,
        store: GraphStore,
        services: Services,
        caller: Caller,
        purpose: Purpose | None,
        request_id: str,
    ) -> None:
        super().__init__()
        self.store = store
        self.services = services
        self.settings = services.settings
        self.caller = caller
        self.purpose = purpose
        self.request_id = request_id
        # set when a root field of the request selects `records`: parties are then read with
        # their records, otherwise without (one read per label fewer)
        self.wants_records = False

    @property
    def role(self) -> ApiRole:
        return self.caller.role

    def person_key(self) -> bytes:
        return self.services.person_key

    def register(
        self,
        operation: str,
        *,
        subjects: Iterable[PartyKey] = (),
        size: int = 0,
        persons: bool = False,
        outcome: str = "ok",
        purpose: Purpose | None = None,
        sector: str | None = None,
    ) -> None:
        """Write the audit event of a lookup; refuse it when it reaches persons without purpose.

        Raises AuditUnavailable when the event cannot be written: the caller gets no answer.
        """
        purpose = purpose or self.purpose
        # a lookup that reaches a person needs a purpose before anything else is said of it (an
        # unknown identity number is refused as a known one is, a conflict is not told either)
        unchecked = outcome in ("refused:role", "refused:purpose_required")
        if persons and purpose is None and not unchecked:
            self._write(operation, subjects, 0, "refused:purpose_required", None, sector)
            raise PurposeRequired(
                f"this lookup reaches natural persons: give a purpose in the {PURPOSE_HEADER} "
                "header (docs/security.md)"
            )
        self._write(operation, subjects, size, outcome, purpose, sector)

    def _write(
        self,
        operation: str,
        subjects: Iterable[PartyKey],
        size: int,
        outcome: str,
        purpose: Purpose | None,
        sector: str | None = None,
    ) -> None:
        key = self.person_key()
        tokens = sorted({subject_token(key, s.uid) for s in subjects})
        self.services.audit.append(
            request=self.request_id,
            key_id=self.caller.key_id,
            key_name=self.caller.name,
            role=self.caller.role.value,
            purpose=purpose.value if purpose else None,
            operation=operation,
            subjects=tokens,
            result_size=size,
            outcome=outcome,
            # a screen's sector is part of what the lookup was for
            **({"sector": sector} if sector else {}),
        )
        registered = _CALL_EVENTS.get()
        if registered is not None:
            registered.append(outcome)


# the audit outcomes one root field's call has written (set in the call's worker thread, whose
# context is its own copy)
_CALL_EVENTS: ContextVar[list[str] | None] = ContextVar("credgraph_call_events", default=None)


def _neo_date(value: Any) -> date | None:
    """A date property as a Python date (the driver returns neo4j.time.Date)."""
    native = value.to_native() if hasattr(value, "to_native") else value
    return native if isinstance(native, date) else None


# --- types ---------------------------------------------------------------------------------------


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
    row: strawberry.Private[dict[str, Any]]  # as read, with its status changes

    @strawberry.field(
        description="The record as it stood on `asOf` (default today) under `profile` (default "
        "the deployment's): `status` and `validTo` above are the latest, and a record without "
        "`validTo` still ends after its kind's default term."
    )
    def state_on(
        self, info: Info[Context, None], as_of: date | None = None, profile: str | None = None
    ) -> RecordStateOn:
        chosen = _profile(info.context, profile)
        day = as_of or date.today()
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
            status_since=_neo_date(row.get("status_since")),
            under_objection=status == "under_objection",
            disclosure=str(row.get("disclosure") or ""),
            authority=row.get("authority"),
            decision_number=row.get("decision_number"),
            decision_date=_neo_date(row.get("decision_date")),
            published_on=_neo_date(row.get("published_on")),
            valid_from=_neo_date(row.get("valid_from")),
            valid_to=_neo_date(row.get("valid_to")),
            disclosure_until=_neo_date(row.get("disclosure_until")),
            court=row.get("court"),
            case_number=row.get("case_number"),
            description=row.get("description"),
            source_system=row.get("source_system"),
            city=row.get("city"),
            row=row,
        )


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
                raise BadInput(
                    f"argument {argument}: choose at least one, or leave the argument out for all"
                )
        if disclosure:
            hidden = sorted(d.value for d in disclosure if d not in DISCLOSURES[role])
            if hidden:
                info.context.register("records", outcome="refused:role")
                raise Forbidden(
                    f"argument disclosure: the {role.value} role does not see "
                    f"{', '.join(hidden)} records"
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
class LinkedPartyEdge:
    cursor: str
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


@strawberry.type
class PartyEdge:
    cursor: str
    node: Party


@strawberry.type(description="Parties found by name, a page at a time.")
class PartyConnection:
    edges: list[PartyEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A status change written through the API, and the record after it.")
class RecordChange:
    record_id: strawberry.ID
    change: str = strawberry.field(
        description="the last change written: objection_opened, objection_closed, revoked (an "
        "objection upheld), repaired"
    )
    change_id: str
    effective_on: date
    status: str = strawberry.field(
        description="the record's status today, with this change: a change a source dated "
        "later (a scheduled expiry) shows from its own date, in `stateOn` on that date"
    )
    status_since: date | None
    rescored_subjects: int | None = strawberry.field(
        description="parties whose contagion score was recomputed; null when re-scoring "
        "failed (the change itself is committed)"
    )


# --- helpers -------------------------------------------------------------------------------------


def _names_a_person(raw: str) -> bool:
    """Whether an identifier may name a natural person (token, document, resident ID number,
    first-generation 15-digit resident ID, FollowTheMoney entity id), read as the resolver
    reads it: `ＤＯＣ:` and `D.OC:` are documents too."""
    text = raw.strip()
    if PERSON_TOKEN_SHAPE.match(text) or _is_ftm_id(text):
        return True
    code = normalise_code(text)
    return code.startswith("DOC:") or is_valid_resident_id(code) or _first_generation_id(code)


def _may_name_a_business(raw: str) -> bool:
    """Whether an identifier that may name a person may name a legal person instead: only what
    it resolves to tells (a 15-digit registration number, an FtM company's entity id)."""
    text = raw.strip()
    return _is_ftm_id(text) or _first_generation_id(normalise_code(text))


def _is_ftm_id(text: str) -> bool:
    return text[: len(FTM_PREFIX)].upper() == FTM_PREFIX


def _first_generation_id(code: str) -> bool:
    """Whether a normalised code may be a 15-digit first-generation resident ID; a business
    registration number may have that shape too."""
    return upgraded_resident_id(code) != code


def _resolve(
    ctx: Context, raw: str, argument: str = "id", data: DataVersion | None = None
) -> PartyKey | None:
    """The party `raw` names, after the role's checks; from the identifier cache when the
    request has read the data version (`data`)."""
    if len(raw) > 200:
        raise BadInput(f"argument {argument}: longer than 200 characters")
    view = PERSONS[ctx.role]
    # a pseudonymising role follows the tokens it was given, and nothing else that names a person
    token = view is PersonView.PSEUDONYMISED and PERSON_TOKEN_SHAPE.match(raw.strip()) is not None
    by_number = view is not PersonView.MASKED and not token and _names_a_person(raw)
    if by_number and not _may_name_a_business(raw):
        _refuse_person_lookup(ctx, argument)
        return None
    cache = ctx.services.identifiers
    try:
        if cache is not None and data is not None:
            key = cache.resolve(ctx.store, raw, ctx.person_key(), data.token())
        else:
            key = resolve_identifier(ctx.store, raw, ctx.person_key())
    except BadIdentifier as exc:
        raise BadInput(f"argument {argument}: {exc}") from None
    if by_number and (key is None or key.label is Label.NATURAL_PERSON):
        # 15 digits or an FtM id: a business is named; a first-generation resident ID or an FtM
        # person is refused whether a person or nobody holds it, so the refusal tells neither
        _refuse_person_lookup(ctx, argument)
        return None
    return key


def _refuse_person_lookup(ctx: Context, argument: str) -> None:
    """A role that does not see persons masked asked by an identity number: the public role
    gets nobody (it cannot tell a person from nobody), a pseudonymising role a refusal."""
    if PERSONS[ctx.role] is not PersonView.HIDDEN:
        raise Forbidden(
            f"argument {argument}: the {ctx.role.value} role may not look up natural persons "
            "by identity number"
        )


def _records_for(
    ctx: Context, rows: list[dict[str, Any]], of_person: bool = False
) -> list[CreditRecord]:
    records = [
        CreditRecord.from_row(row)
        for row in rows
        if sees_disclosure(ctx.role, row.get("disclosure"))
    ]
    if of_person and _pseudonymising(ctx):
        return [
            dataclasses.replace(r, id=_pseudonymised_record_id(ctx, r.id), **_REFERENCES_HIDDEN)
            for r in records
        ]
    return records


# what names a pseudonymised person's record to anyone who looks it up: a court's case number,
# an authority's decision number, the text (docs/security.md, "pseudonymised")
_REFERENCES_HIDDEN: dict[str, Any] = {
    "decision_number": None,
    "case_number": None,
    "description": None,
}


def _pseudonymising(ctx: Context) -> bool:
    return PERSONS[ctx.role] is PersonView.PSEUDONYMISED


def _pseudonymised_record_id(ctx: Context, uid: str) -> strawberry.ID:
    """A pseudonymised person's record by a keyed token of its id: a source's record id is
    often its case or decision number (docs/security.md, "pseudonymised")."""
    return strawberry.ID(record_pseudonym(ctx.person_key(), uid))


def _party(
    ctx: Context, key: PartyKey, props: dict[str, Any], records: list[dict[str, Any]]
) -> Party:
    visible = _records_for(ctx, records, of_person=key.label is Label.NATURAL_PERSON)
    if key.label is Label.LEGAL_PERSON:
        return LegalPerson(
            id=strawberry.ID(key.uid),
            name=props.get("name") or "",
            visible_records=visible,
            kind=props.get("kind") or "",
            uscc=props.get("uscc"),
            registration_number=props.get("registration_number"),
            org_code=props.get("org_code"),
            region_code=props.get("region_code"),
            registered_on=_neo_date(props.get("registered_on")),
            status=props.get("status"),
            address=props.get("address"),
            industry=props.get("industry"),
        )
    if _pseudonymising(ctx):
        return NaturalPerson(
            id=strawberry.ID(key.uid),
            name=mask_name(props.get("name") or ""),
            visible_records=visible,
            id_type=None,
            id_masked=None,
            sex=None,
        )
    return NaturalPerson(
        id=strawberry.ID(key.uid),
        name=props.get("name") or "",
        visible_records=visible,
        id_type=props.get("id_type"),
        id_masked=props.get("id_masked"),
        sex=props.get("sex"),
    )


def _visible(ctx: Context, keys: Iterable[PartyKey]) -> list[PartyKey]:
    hidden = PERSONS[ctx.role] is PersonView.HIDDEN
    return [k for k in dict.fromkeys(keys) if not (hidden and k.label is Label.NATURAL_PERSON)]


def _materialise(
    ctx: Context, keys: Iterable[PartyKey], data: DataVersion | None = None
) -> dict[PartyKey, Party]:
    """The parties the role may see, with their visible records when the request selects
    `records`: one read per label, and one more per label for the records. With the data version
    the request read (`data`), cards kept under it are not read again."""
    wanted = _visible(ctx, keys)
    if not wanted:
        return {}
    cache = ctx.services.cards
    if cache is not None and data is not None:
        props = cache.fetch(ctx.store, wanted, data.token())
    else:
        props = fetch_party_cards(ctx.store, wanted)
    records = fetch_records(ctx.store, wanted) if ctx.wants_records else {}
    return {k: _party(ctx, k, props[k], records.get(k, [])) for k in wanted if k in props}


def _relation(ctx: Context, hop: Hop, today: date) -> Relation:
    props = hop.properties
    # a source record id names a pseudonymised person's relation to whoever holds the source
    # (a FollowTheMoney link's id to anyone: docs/security.md, "pseudonymised")
    of_person = Label.NATURAL_PERSON in (hop.from_key.label, hop.to_key.label)
    hide = of_person and _pseudonymising(ctx)
    valid_to = _neo_date(props.get("valid_to"))
    return Relation(
        type=hop.type,
        from_id=strawberry.ID(hop.from_key.uid),
        to_id=strawberry.ID(hop.to_key.uid),
        role=props.get("role"),
        stake=props.get("stake"),
        amount=props.get("amount"),
        valid_from=_neo_date(props.get("valid_from")),
        valid_to=valid_to,
        current=valid_to is None or valid_to > today,
        source=props.get("source"),
        source_record=None if hide else props.get("source_record"),
    )


def _party_relation_types(requested: list[RelationType] | None) -> tuple[RelationType, ...]:
    """The relation types asked for; left out, every party relation. An empty list is refused,
    as `credgraph linked --types ""` is: it is a filter built from an empty selection, and
    reading it as every type would show more than was asked for."""
    if requested is None:
        return PARTY_RELATIONS
    if not requested:
        raise BadInput(
            "argument relationTypes: choose at least one relation type, or leave the argument "
            "out for every type"
        )
    for relation_type in requested:
        if relation_type is RelationType.POSSIBLY_SAME_AS:
            raise BadInput(
                "argument relationTypes: POSSIBLY_SAME_AS is a name match, not a relation; "
                "ask for it with followSameAs"
            )
        if relation_type not in PARTY_RELATIONS:
            raise BadInput(
                f"argument relationTypes: {relation_type.value} does not link two parties"
            )
    return tuple(dict.fromkeys(requested))


def _encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _decode_cursor(kind: str, cursor: str | None) -> int:
    """The offset after a cursor (0 for none); BadInput for a cursor of another field."""
    if cursor is None:
        return 0
    try:
        prefix, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if prefix != kind or not offset.isdigit():
            raise ValueError
        return int(offset) + 1
    except (ValueError, UnicodeDecodeError):
        raise BadInput("argument after: not a cursor of this field") from None


def _page_size(ctx: Context, first: int | None) -> int:
    limit = first if first is not None else ctx.settings.max_page_size
    if not 1 <= limit <= ctx.settings.max_page_size:
        raise BadInput(f"argument first: must be between 1 and {ctx.settings.max_page_size}")
    return limit


def _page_info(kind: str, start: int, shown: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=start + shown < total,
        has_previous_page=start > 0,
        start_cursor=_encode_cursor(kind, start) if shown else None,
        end_cursor=_encode_cursor(kind, start + shown - 1) if shown else None,
    )


def _selects(selections: Iterable[Selection], names: set[str]) -> bool:
    """Whether the fields selected on one type (fragments included) name one of `names`."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name in names:
                return True
        elif _selects(selection.selections, names):
            return True
    return False


def _selects_anywhere(selections: Iterable[Selection], names: set[str]) -> bool:
    """Whether a selection, at any depth (fragments included), names one of `names`."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name in names:
            return True
        if _selects_anywhere(selection.selections, names):
            return True
    return False


def _has_person(parties: Iterable[Party]) -> bool:
    return any(isinstance(p, NaturalPerson) for p in parties)


async def _answer(
    info: Info[Context, None],
    operation: str,
    work: Callable[[Context], T],
    purpose: Purpose | None = None,
) -> T:
    """Check the role, run `work` in a worker thread, time it; a refusal is audited too, with
    `purpose` when the field takes it as an argument (`screen`), else the header's."""
    ctx = info.context
    if _selects_anywhere(info.selected_fields, {"records"}):
        ctx.wants_records = True  # never reset: another root field of the request may need them
    started = time.perf_counter()
    outcome = "ok"

    def guarded() -> T:
        if not may_call(ctx.role, operation):
            ctx.register(operation, outcome="refused:role", purpose=purpose)
            raise Forbidden(f"the {ctx.role.value} role may not call {operation}")
        registered: list[str] = []
        _CALL_EVENTS.set(registered)  # this call's own: root fields run side by side
        try:
            return work(ctx)
        except ApiError as refused:
            if not registered:  # refused before it registered: bad input, say
                ctx.register(operation, outcome=_refusal_outcome(refused), purpose=purpose)
            raise
        except AuditUnavailable:
            raise
        except Exception as failed:  # the store failed, or credgraph did: registered all the same
            if not registered:
                ctx.register(operation, outcome=_failure_outcome(failed), purpose=purpose)
            raise

    try:
        return await run_in_threadpool(guarded)
    except ApiError as exc:
        outcome = exc.code.lower()
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        ctx.services.metrics.operation_seconds.observe(
            (operation, outcome), time.perf_counter() - started
        )


def _failure_outcome(failed: Exception) -> str:
    """The audit outcome of a call that failed other than by a refusal: the code its caller
    gets (api/errors.py `classify`), in lower case."""
    code = store_failure(failed)[0] if isinstance(failed, StoreError) else "INTERNAL_ERROR"
    return f"refused:{code.lower()}"


def _refusal_outcome(refused: ApiError) -> str:
    """The audit outcome of a call refused with `refused` (docs/security.md, Audit)."""
    if isinstance(refused, NotFound):
        return "not_found"
    if isinstance(refused, Forbidden):
        return "refused:role"
    return f"refused:{refused.code.lower()}"


# --- root fields ---------------------------------------------------------------------------------


def _entity(ctx: Context, id: str) -> Party | None:
    key = _resolve(ctx, id)
    party = _materialise(ctx, [key]).get(key) if key else None
    ctx.register(
        "entity",
        subjects=[key] if key else [],
        size=1 if party else 0,
        outcome="ok" if key else "not_found",
        # an identity number needs a purpose whether a person or nobody holds it; a business
        # found under a registration number shaped like a first-generation one does not
        persons=isinstance(party, NaturalPerson)
        or (
            PERSONS[ctx.role] is not PersonView.HIDDEN
            and (key is None or key.label is Label.NATURAL_PERSON)
            and _names_a_person(id)
        ),
    )
    return party


def _search(
    ctx: Context, name: str, kind: PartyKind | None, first: int | None, after: str | None
) -> PartyConnection:
    if len(name) > 100:
        raise BadInput("argument name: longer than 100 characters")
    if not name_key(name):
        raise BadInput("argument name: has no letters or digits")
    limit = _page_size(ctx, first)
    start = _decode_cursor("search", after)
    sees_persons = PERSONS[ctx.role] is PersonView.MASKED
    if kind is PartyKind.NATURAL_PERSON and not sees_persons:
        raise Forbidden(
            f"argument kind: the {ctx.role.value} role may not search natural persons by name"
        )
    labels = [Label(kind.value)] if kind else [Label.LEGAL_PERSON]
    if kind is None and sees_persons:
        labels.append(Label.NATURAL_PERSON)
    # every match up to the search limit, ranked (exact, then prefix by name length): pages cut it
    matches = search_by_name(ctx.store, name, labels=labels, limit=MAX_SEARCH_LIMIT)
    found = [match.key for match in matches.items]
    page_keys = found[start : start + limit]
    parties = _materialise(ctx, page_keys)
    shown = [parties[k] for k in page_keys if k in parties]
    # `totalCount` counts every match: a person matched is touched even off the page
    persons = any(key.label is Label.NATURAL_PERSON for key in found)
    ctx.register("search", subjects=page_keys, size=len(shown), persons=persons)
    edges = [
        PartyEdge(cursor=_encode_cursor("search", start + i), node=party)
        for i, party in enumerate(shown)
    ]
    total = len(found)
    return PartyConnection(
        edges=edges, page_info=_page_info("search", start, len(shown), total), total_count=total
    )


@dataclass(frozen=True)
class RelationArguments:
    """The relation filter's arguments, as `linkedParties` and `paths` both take them (and the
    CLI's `linked` and `paths` their options: docs/queries.md)."""

    types: list[RelationType] | None = None
    as_of: date | None = None
    include_former: bool = False
    min_stake: float = 0.0
    follow_same_as: bool = False

    def chosen(self) -> RelationFilter:
        """The checked filter; BAD_USER_INPUT naming `relationTypes` or `minStake`."""
        if not 0.0 <= self.min_stake <= 1.0:
            raise BadInput("argument minStake: must be between 0 and 1 (a share of the capital)")
        return relation_filter(
            _party_relation_types(self.types),
            as_of=self.as_of,
            include_former=self.include_former,
            min_stake=self.min_stake,
            follow_same_as=self.follow_same_as,
        )


def _linked(
    ctx: Context,
    id: str,
    depth: int,
    filters: RelationArguments,
    first: int | None,
    after: str | None,
    with_relations: bool = True,
) -> LinkedPartyConnection | None:
    if not 1 <= depth <= ctx.settings.max_depth:
        raise BadInput(f"argument depth: must be between 1 and {ctx.settings.max_depth}")
    limit = _page_size(ctx, first)
    start = _decode_cursor("linked", after)
    chosen = filters.chosen()
    # read once: it keys the identifier, walk and card caches
    data = current_data_version(ctx.store, ctx.services.versions)
    root = _resolve(ctx, id, data=data)
    if root is None:
        ctx.register("linkedParties", persons=_names_a_person(id), outcome="not_found")
        return None
    walk = _walk(ctx, root, depth, chosen, data, with_relations)
    hidden = PERSONS[ctx.role] is PersonView.HIDDEN
    items = sorted(
        (i for i in walk.items if not (hidden and i.key.label is Label.NATURAL_PERSON)),
        key=lambda i: (i.depth, i.via.type.value, i.key.label.value, i.key.uid),
    )
    page = items[start : start + limit]
    parties = _materialise(ctx, [root, *(item.key for item in page)], data)
    if root not in parties:
        ctx.register("linkedParties", subjects=[root], persons=root.label is Label.NATURAL_PERSON)
        return None
    today = chosen.as_of
    edges = [
        LinkedPartyEdge(
            cursor=_encode_cursor("linked", start + i),
            node=LinkedParty(
                party=parties[item.key],
                depth=item.depth,
                parent_id=strawberry.ID(item.parent.uid),
                via=_relation(ctx, item.via, today),
            ),
        )
        for i, item in enumerate(page)
        if item.key in parties
    ]
    # only parties the role sees (items are filtered already, the root is visible)
    relations = relations_on_page(
        walk.relations,
        root,
        (item.key for item in page if item.key in parties),
        (item.key for item in items[:start]),
    )
    ctx.register(
        "linkedParties",
        subjects=[root, *(item.key for item in page)],
        size=len(edges),
        # `totalCount`, `parentId` and the relations name parties off the page too: a person
        # anywhere in the walk is touched
        persons=root.label is Label.NATURAL_PERSON
        or any(item.key.label is Label.NATURAL_PERSON for item in items),
    )
    return LinkedPartyConnection(
        root=parties[root],
        edges=edges,
        page_info=_page_info("linked", start, len(edges), len(items)),
        total_count=len(items),
        explored_depth=walk.explored_depth,
        truncated=walk.truncated,
        relations=[_relation(ctx, hop, today) for hop in relations] if with_relations else [],
        relations_truncated=walk.relations_truncated,
    )


def _walk(
    ctx: Context,
    root: PartyKey,
    depth: int,
    chosen: RelationFilter,
    data: DataVersion,
    with_relations: bool,
) -> LinkedResult:
    """The walk from `root`, from the walk cache when it was made under `data`;
    `with_relations` adds the read for the relations among the farthest parties."""
    cap = ctx.settings.traversal_cap
    cache, hubs = ctx.services.walks, ctx.services.hubs
    if cache is None:
        bound = hubs.bound(ctx.store, data.token()) if hubs is not None else None
        return walk_linked(
            ctx.store, root, depth, chosen, cap=cap, close_relations=with_relations, hubs=bound
        )
    return cache.walk(
        ctx.store,
        data.token(),
        root,
        depth,
        chosen,
        cap=cap,
        close_relations=with_relations,
        hubs=hubs,
    )


# --- paths ----------------------------------------------------------------------------------------


def _hubs(ctx: Context) -> Hubs | None:
    """The worker's hub cache bound to the current data version; None when it keeps none."""
    if ctx.services.hubs is None:
        return None
    data = current_data_version(ctx.store, ctx.services.versions)
    return ctx.services.hubs.bound(ctx.store, data.token())


@strawberry.type(description="A path between two parties: the parties in order and typed hops.")
class PartyPath:
    length: int
    parties: list[Party]
    hops: list[Relation] = strawberry.field(
        description="hop i links parties[i] and parties[i+1]; fromId/toId give its direction"
    )


@strawberry.type(
    description="The shortest paths between two parties, and how far the search explored: "
    "with `truncated` false, no other path of at most `maxDepth` hops is shorter."
)
class PathSearch:
    from_: Party = strawberry.field(name="from", description="the party `from` names")
    to: Party = strawberry.field(description="the party `to` names")
    paths: list[PartyPath] = strawberry.field(
        description="by length, then by their parties (kind, then id); empty when none was "
        "found within `maxDepth` hops (or within what the search read, when `truncated`)"
    )
    explored_depth: int = strawberry.field(
        description="the hops the search read from both ends together: every path of at most "
        "that many hops lies in what it read"
    )
    truncated: bool = strawberry.field(
        description="a cap cut the search short; shorter or more paths may exist"
    )


def _paths(
    ctx: Context,
    from_: str,
    to: str,
    max_depth: int,
    first: int | None,
    filters: RelationArguments,
) -> PathSearch | None:
    if not 1 <= max_depth <= ctx.settings.max_depth:
        raise BadInput(f"argument maxDepth: must be between 1 and {ctx.settings.max_depth}")
    if first is not None and not 1 <= first <= MAX_K:
        raise BadInput(f"argument first: must be between 1 and {MAX_K}")
    chosen = filters.chosen()
    start = _resolve(ctx, from_, argument="from")
    end = _resolve(ctx, to, argument="to")
    persons = _names_a_person(from_) or _names_a_person(to)
    if start is None or end is None:
        ctx.register(
            "paths", subjects=[k for k in (start, end) if k], persons=persons, outcome="not_found"
        )
        return None
    if start == end:
        # refused as `credgraph paths A A` is, after the purpose check: the refusal tells that
        # both identifiers name one party, which only a caller who may look it up learns
        ctx.register("paths", subjects=[start], persons=persons, outcome="refused:bad_user_input")
        raise BadInput("argument to: is the same party as from; paths join two parties")
    found = shortest_paths(
        ctx.store,
        start,
        end,
        k=first or 1,
        max_depth=max_depth,
        relation_types=chosen.types,
        as_of=chosen.as_of,
        include_former=chosen.include_former,
        min_stake=chosen.min_stake,
        follow_same_as=chosen.follow_same_as,
        cap=ctx.settings.traversal_cap,
        hubs=_hubs(ctx),
    )
    parties = _materialise(
        ctx, [start, end, *(key for path in found.paths for key in path.parties)]
    )
    if start not in parties or end not in parties:
        # an end the role may not see: answered as one that names no party
        ctx.register("paths", subjects=[start, end], persons=persons, outcome="not_found")
        return None
    # a path through a party the role may not see is not shown at all
    shown = [path for path in found.paths if all(key in parties for key in path.parties)]
    today = chosen.as_of
    answer = [
        PartyPath(
            length=path.length,
            parties=[parties[key] for key in path.parties],
            hops=[_relation(ctx, hop.relation, today) for hop in path.hops],
        )
        for path in shown
    ]
    if answer:
        subjects = list(dict.fromkeys(key for path in shown for key in path.parties))
        ctx.register(
            "paths",
            subjects=subjects,
            size=len(answer),
            persons=persons or any(_has_person(path.parties) for path in answer),
        )
    else:
        ctx.register("paths", subjects=[start, end], persons=persons)
    return PathSearch(
        from_=parties[start],
        to=parties[end],
        paths=answer,
        explored_depth=found.explored_depth,
        truncated=found.truncated,
    )


# --- dishonest parties ----------------------------------------------------------------------------


@strawberry.type(
    description="A party within `depth` steps of the root with a negative record counting on "
    "the as-of date, one shortest path to it, and its negative records the role sees."
)
class DishonestParty:
    party: Party
    distance: int = strawberry.field(description="steps from the root")
    path: PartyPath = strawberry.field(description="one shortest path from the root to it")
    records: list[CreditRecord] = strawberry.field(
        description="its negative records counting on `asOf` under `profile`, then those under "
        "an objection the profile does not count (`stateOn(asOf, profile)` tells which); only "
        "the disclosure classes the caller's role sees"
    )


@strawberry.type
class DishonestPartyEdge:
    cursor: str
    node: DishonestParty


@strawberry.type(description="Dishonest parties around one party, nearest first, a page at a time.")
class DishonestPartyConnection:
    root: Party
    as_of: date
    profile: str
    edges: list[DishonestPartyEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="the hits the role may see: a party whose counting records are all of "
        "classes the role does not see is left out, uncounted"
    )
    parties_reached: int
    explored_depth: int
    truncated: bool = strawberry.field(description="a cap cut the walk short")

    @strawberry.field(description="The nodes of `edges`, for callers that need no cursors.")
    def items(self) -> list[DishonestParty]:
        return [edge.node for edge in self.edges]


def _dishonest(
    ctx: Context,
    id: str,
    depth: int,
    filters: RelationArguments,
    profile: str | None,
    first: int | None,
    after: str | None,
) -> DishonestPartyConnection | None:
    if not 1 <= depth <= ctx.settings.max_depth:
        raise BadInput(f"argument depth: must be between 1 and {ctx.settings.max_depth}")
    limit = _page_size(ctx, first)
    start = _decode_cursor("dishonest", after)
    chosen, policy = filters.chosen(), _profile(ctx, profile)
    data = current_data_version(ctx.store, ctx.services.versions)
    root = _resolve(ctx, id, data=data)
    if root is None:
        ctx.register("dishonestParties", persons=_names_a_person(id), outcome="not_found")
        return None
    traced = trace_dishonest(
        ctx.store,
        root,
        policy,
        depth=depth,
        relation_types=chosen.types,
        as_of=chosen.as_of,
        include_former=chosen.include_former,
        cap=ctx.settings.traversal_cap,
        # every hit: which of them the role may see decides what is counted and paged
        limit=_traced_limit(ctx),
        describe=False,  # the parties are drawn as the role sees them, below
    )
    ctx.wants_records = True  # a hit is shown with the records that make it one
    keys = [root, *(key for item in traced.items for key in _path_parties(root, item.steps))]
    parties = _materialise(ctx, keys, data)
    if root not in parties:
        person = root.label is Label.NATURAL_PERSON
        ctx.register("dishonestParties", subjects=[root], persons=person)
        return None
    day = chosen.as_of
    hits = [hit for item in traced.items if (hit := _seen_hit(ctx, root, item, parties, day))]
    page = hits[start : start + limit]
    ctx.register(
        "dishonestParties",
        subjects=[root, *(hit.party_key for hit in page)],
        size=len(page),
        persons=root.label is Label.NATURAL_PERSON
        # the walk's persons: a path or a hit names them, on this page or another
        or any(key.label is Label.NATURAL_PERSON for key in keys),
    )
    return DishonestPartyConnection(
        root=parties[root],
        as_of=chosen.as_of,
        profile=policy.name,
        edges=[
            DishonestPartyEdge(cursor=_encode_cursor("dishonest", start + i), node=hit.node)
            for i, hit in enumerate(page)
        ],
        page_info=_page_info("dishonest", start, len(page), len(hits)),
        total_count=len(hits),
        parties_reached=traced.parties_reached,
        explored_depth=traced.explored_depth,
        truncated=traced.truncated,
    )


def _traced_limit(ctx: Context) -> int:
    """The most hits a trace answers with: every party one capped walk can reach."""
    return ctx.settings.traversal_cap * ctx.settings.max_depth


def _path_parties(root: PartyKey, steps: Iterable[Hop]) -> list[PartyKey]:
    """The parties along a path from `root`, `root` first."""
    keys = [root]
    for step in steps:
        keys.append(step.other(keys[-1]))
    return keys


@dataclass(frozen=True)
class _SeenHit:
    party_key: PartyKey
    node: DishonestParty


def _seen_hit(
    ctx: Context, root: PartyKey, item: TraceHit, parties: dict[PartyKey, Party], day: date
) -> _SeenHit | None:
    """The hit as the role sees it; None when the role may not see a party on its path, or
    sees none of the records that make the party a hit (it would learn of a hidden record)."""
    keys = _path_parties(root, item.steps)
    if any(key not in parties for key in keys):
        return None
    party = parties[item.party]
    by_uid = {str(r.row["uid"]): r for r in party.visible_records}
    if not any(r.counts and r.uid in by_uid for r in item.records):
        return None
    path = PartyPath(
        length=len(item.steps),
        parties=[parties[key] for key in keys],
        hops=[_relation(ctx, step, day) for step in item.steps],
    )
    records = [by_uid[r.uid] for r in item.records if r.uid in by_uid]
    node = DishonestParty(party=party, distance=item.distance, path=path, records=records)
    return _SeenHit(item.party, node)


# --- suspected links ------------------------------------------------------------------------------


@strawberry.enum(description="What a suspected link rests on.")
class SuspectedLinkKind(StrEnum):
    SHARED_OFFICER = "shared_officer"
    SHARED_ADDRESS = "shared_address"
    SHARED_PHONE = "shared_phone"
    SHARED_EMAIL = "shared_email"


@strawberry.type(
    description="Another party that shares an officer, an address, a phone or an e-mail with "
    "the one asked about: evidence for a person to weigh, not a relation."
)
class SuspectedLink:
    kind: SuspectedLinkKind
    party: Party
    officer: Party | None = strawberry.field(
        description="SHARED_OFFICER: the person who holds a role at both"
    )
    roles_here: list[str] = strawberry.field(
        description="SHARED_OFFICER: the officer's roles at the party asked about"
    )
    roles_there: list[str] = strawberry.field(
        description="SHARED_OFFICER: the officer's roles at `party`"
    )
    shared_value: str | None = strawberry.field(
        description="the address, phone or e-mail as loaded on the party asked about; null "
        "when either party is a natural person (a person's contacts are never shown)"
    )


@strawberry.type(
    description="Evidence that more than `perKeyCap` other parties share (a registered agent's "
    "address, an officer on hundreds of boards): counted, not listed."
)
class CrowdedEvidence:
    kind: SuspectedLinkKind
    officer: Party | None
    shared_value: str | None = strawberry.field(
        description="the address shared, when the party asked about is a legal person; null "
        "for a phone or e-mail, which persons among the many may share"
    )
    parties: int


@strawberry.type
class SuspectedLinkEdge:
    cursor: str
    node: SuspectedLink


@strawberry.type(description="Suspected links of one party, a page at a time.")
class SuspectedLinkConnection:
    root: Party
    as_of: date
    edges: list[SuspectedLinkEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="the links the role may see: one to a party, or through an officer, the "
        "role does not see is left out, uncounted"
    )
    crowded: list[CrowdedEvidence]
    truncated: bool = strawberry.field(description="a cap cut the read of officers short")

    @strawberry.field(description="The nodes of `edges`, for callers that need no cursors.")
    def items(self) -> list[SuspectedLink]:
        return [edge.node for edge in self.edges]


def _suspected(
    ctx: Context,
    id: str,
    as_of: date | None,
    include_former: bool,
    per_key_cap: int,
    first: int | None,
    after: str | None,
) -> SuspectedLinkConnection | None:
    if not 1 <= per_key_cap <= _MAX_PER_KEY_CAP:
        raise BadInput(f"argument perKeyCap: must be between 1 and {_MAX_PER_KEY_CAP}")
    limit = _page_size(ctx, first)
    start = _decode_cursor("links", after)
    data = current_data_version(ctx.store, ctx.services.versions)
    root = _resolve(ctx, id, data=data)
    if root is None:
        ctx.register("suspectedLinks", persons=_names_a_person(id), outcome="not_found")
        return None
    found = suspected_links(
        ctx.store,
        root,
        as_of=as_of,
        include_former=include_former,
        per_key_cap=per_key_cap,
        limit=ctx.settings.traversal_cap,
        cap=ctx.settings.traversal_cap,
        describe=False,
    )
    evidence = [link.evidence for link in found.items] + [c.evidence for c in found.crowded]
    officers = [key for key in map(_officer, evidence) if key is not None]
    keys = [root, *(link.party for link in found.items), *officers]
    parties = _materialise(ctx, keys, data)
    if root not in parties:
        person = root.label is Label.NATURAL_PERSON
        ctx.register("suspectedLinks", subjects=[root], persons=person)
        return None
    # a person's contacts are never shown, nor a firm's that a person shares (the same digits)
    firms_only = root.label is Label.LEGAL_PERSON
    links = [
        link
        for link in found.items
        if link.party in parties and (_officer(link.evidence) or link.party) in parties
    ]
    page = links[start : start + limit]
    ctx.register(
        "suspectedLinks",
        subjects=[root, *(link.party for link in page)],
        size=len(page),
        persons=any(key.label is Label.NATURAL_PERSON for key in keys),
    )
    return SuspectedLinkConnection(
        root=parties[root],
        as_of=found.as_of,
        edges=[
            SuspectedLinkEdge(
                cursor=_encode_cursor("links", start + i),
                node=SuspectedLink(
                    kind=SuspectedLinkKind(link.kind.value),
                    party=parties[link.party],
                    officer=_officer_of(link.evidence, parties),
                    roles_here=list(link.evidence.get("roles_here", [])),
                    roles_there=list(link.evidence.get("roles_there", [])),
                    shared_value=_shared_value(link.evidence)
                    if firms_only and link.party.label is Label.LEGAL_PERSON
                    else None,
                ),
            )
            for i, link in enumerate(page)
        ],
        page_info=_page_info("links", start, len(page), len(links)),
        total_count=len(links),
        crowded=[
            CrowdedEvidence(
                kind=SuspectedLinkKind(crowded.kind.value),
                officer=_officer_of(crowded.evidence, parties),
                # shared by many, persons among them maybe: only an address names a firm alone
                shared_value=_shared_value(crowded.evidence)
                if firms_only and crowded.kind is LinkKind.SHARED_ADDRESS
                else None,
                parties=crowded.parties,
            )
            for crowded in found.crowded
            if (_officer(crowded.evidence) or root) in parties
        ],
        truncated=found.truncated,
    )


# the most other parties one piece of evidence may be shared by and still be listed
_MAX_PER_KEY_CAP = 1000


def _officer(evidence: dict[str, Any]) -> PartyKey | None:
    person = evidence.get("person")
    return person if isinstance(person, PartyKey) else None


def _officer_of(evidence: dict[str, Any], parties: dict[PartyKey, Party]) -> Party | None:
    person = _officer(evidence)
    return parties.get(person) if person else None


def _shared_value(evidence: dict[str, Any]) -> str | None:
    """The address, phone or e-mail a contact link rests on (queries/links.py `_CONTACTS`)."""
    for name in ("address", "phone", "email"):
        if evidence.get(name):
            return str(evidence[name])
    return None


# --- groups and guarantee circles ----------------------------------------------------------------


@strawberry.type(description="A member of a group, with its steps from the party asked about.")
class GroupMember:
    party: Party
    distance: int


@strawberry.type(
    description="The connected group around a party over chosen relations (by default its "
    "control group: shareholdings of at least `minStake`, legal representation, actual control)."
)
class PartyGroup:
    root: Party
    as_of: date
    relation_types: list[RelationType]
    min_stake: float
    members: list[GroupMember] = strawberry.field(
        description="nearest first, the party asked about first"
    )
    relations: list[Relation] = strawberry.field(description="every relation among the members")
    explored_depth: int
    truncated: bool = strawberry.field(
        description="a bound (CREDGRAPH_TRAVERSAL_CAP parties or relations a level) cut the "
        "group short: it may have more members"
    )


@strawberry.type(
    description="A cycle of guarantees: each party guarantees the next, the last the first."
)
class GuaranteeCycle:
    parties: list[Party]


@strawberry.type(
    description="The guarantee circle (联保圈) a legal person sits in: the parties that each "
    "guarantee, directly or through the others, every other, and the cycles through it."
)
class GuaranteeCircle:
    root: Party
    as_of: date
    members: list[Party] = strawberry.field(description="empty when it is in no circle")
    cycles: list[GuaranteeCycle] = strawberry.field(
        description="the simple cycles through the party asked about, shortest first, each "
        "starting from it; at most `first`"
    )
    limited: bool = strawberry.field(description="more cycles run through it than `first`")
    explored_depth: int
    truncated: bool = strawberry.field(
        description="a bound cut the read of the guarantees short, or `limited`"
    )


def _group(
    ctx: Context,
    id: str,
    relation_types: list[RelationType] | None,
    min_stake: float,
    as_of: date | None,
    include_former: bool,
) -> PartyGroup | None:
    # left out, the control relations: an empty list is refused, as for linkedParties
    types = list(CONTROL_RELATIONS) if relation_types is None else relation_types
    checked = RelationArguments(types, as_of, include_former, min_stake).chosen()
    data = current_data_version(ctx.store, ctx.services.versions)
    root = _resolve(ctx, id, data=data)
    if root is None:
        ctx.register("controlGroup", persons=_names_a_person(id), outcome="not_found")
        return None
    cap = ctx.settings.traversal_cap
    group = connected_group(
        ctx.store,
        root,
        relation_types=checked.types,
        min_stake=checked.min_stake,
        as_of=checked.as_of,
        include_former=checked.include_former,
        max_members=cap,
        cap=cap,
        describe=False,
    )
    parties = _materialise(ctx, group.members, data)
    shown = [key for key in group.members if key in parties]
    ctx.register(
        "controlGroup",
        subjects=shown,
        size=len(shown),
        persons=any(key.label is Label.NATURAL_PERSON for key in group.members),
    )
    if root not in parties:
        return None
    return PartyGroup(
        root=parties[root],
        as_of=group.as_of,
        relation_types=list(group.relation_types),
        min_stake=group.min_stake,
        members=[GroupMember(party=parties[key], distance=group.distance[key]) for key in shown],
        relations=[
            _relation(ctx, step, group.as_of)
            for step in group.steps
            if step.start in parties and step.end in parties
        ],
        explored_depth=group.explored_depth,
        truncated=group.truncated,
    )


def _circle(
    ctx: Context, id: str, as_of: date | None, include_former: bool, first: int
) -> GuaranteeCircle | None:
    if not 1 <= first <= _MAX_CYCLES:
        raise BadInput(f"argument first: must be between 1 and {_MAX_CYCLES}")
    data = current_data_version(ctx.store, ctx.services.versions)
    root = _resolve(ctx, id, data=data)
    if root is None:
        ctx.register("guaranteeCircle", persons=_names_a_person(id), outcome="not_found")
        return None
    cap = ctx.settings.traversal_cap
    mine = circles_of(
        ctx.store,
        root,
        as_of=as_of,
        include_former=include_former,
        limit=first,
        max_members=cap,
        cap=cap,
        describe=False,
    )
    parties = _materialise(ctx, [root, *mine.members], data)
    ctx.register(
        "guaranteeCircle",
        subjects=[root, *mine.members],
        size=len(mine.members),
        persons=root.label is Label.NATURAL_PERSON,
    )
    if root not in parties:
        return None
    return GuaranteeCircle(
        root=parties[root],
        as_of=mine.as_of,
        members=[parties[key] for key in mine.members if key in parties],
        cycles=[GuaranteeCycle(parties=[parties[key] for key in cycle]) for cycle in mine.cycles],
        limited=mine.limited,
        explored_depth=mine.explored_depth,
        truncated=mine.truncated,
    )


# the most cycles through one party a `guaranteeCircle` lists
_MAX_CYCLES = 200


# --- risk -----------------------------------------------------------------------------------------


@strawberry.enum(description="A screening decision; NOT_FOUND is not the same as PASS.")
class Decision(StrEnum):
    PASS = "PASS"  # noqa: S105 (a decision, not a secret)
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"
    NOT_FOUND = "NOT_FOUND"


@strawberry.type(description="The record behind a flag, as it stood on the as-of date.")
class RiskRecord:
    id: strawberry.ID
    kind: str
    sector: str | None
    status: str
    status_since: date | None
    starts_on: date | None
    ends_on: date | None = strawberry.field(description="the first day it no longer counts")
    counts: bool
    under_objection: bool
    authority: str | None
    decision_number: str | None
    decision_date: date | None
    disclosure: str | None
    source_system: str | None


@strawberry.type(description="A status flag or proposal, with its reason code and its record.")
class RiskFlag:
    code: str
    own: bool = strawberry.field(description="the party's own record (else via a role link)")
    proposal: bool = strawberry.field(description="a discretionary rule: a person decides")
    record: RiskRecord | None = strawberry.field(
        description="null when the record's disclosure class is hidden from the caller's role"
    )
    via_firm_id: strawberry.ID | None
    via_firm_name: str | None
    via_relation: RelationType | None
    via_role: str | None
    rule: str | None


@strawberry.type(description="A path by which risk reaches the party (contagion layer).")
class EvidencePath:
    party_ids: list[strawberry.ID]
    relations: list[str]
    contribution: float | None
    record_id: strawberry.ID | None


@strawberry.type(description="The analytic contagion score: never a sanction status.")
class ContagionScore:
    available: bool
    score: float | None
    clears_on: date | None = strawberry.field(description="when the score would fall below clear")
    paths: list[EvidencePath]


@strawberry.type(description="Both risk layers of one party on one date under one profile.")
class RiskReport:
    party: Party | None
    found: bool
    as_of: date
    profile: str
    profile_version: str
    snapshot_id: str = strawberry.field(description="names the data and profile version")
    flags: list[RiskFlag]
    proposals: list[RiskFlag]
    under_objection: list[RiskRecord]
    term_unknown: list[RiskRecord] = strawberry.field(
        description="own negative records without any date to place their term: they never "
        "count, and send a screen to REVIEW (RECORD_TERM_UNKNOWN) for a person to decide"
    )
    contagion: ContagionScore | None = strawberry.field(
        description="null for roles that do not see contagion scores, and for a party not found"
    )
    clears_on: date | None


@strawberry.type(
    description="Why a screen did not PASS: a stable code, a text for the person who decides, "
    "and the record behind it (docs/risk-model.md, Risk report and screening)."
)
class ScreenReason:
    code: str = strawberry.field(
        description="In `ownReasons`: OWN_BLACKLIST, OWN_DISHONEST_DEBTOR, OWN_ADMIN_PENALTY, "
        "OWN_ABNORMAL_OPERATION, OWN_SERIOUS_VIOLATION (an own negative record counts: BLOCK, "
        "or REVIEW under a profile without `block_on_own_record`), RECORD_UNDER_OBJECTION (an "
        "own negative record is under objection: REVIEW), RECORD_TERM_UNKNOWN (an own negative "
        "record has no date to count its term from: REVIEW). In `linkedReasons`, REVIEW at "
        "most: RESPONSIBLE_PERSON_OF_RECORD (the person is responsible for a firm's counting "
        "record), PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM, "
        "PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM, PROPOSAL_OFFICER_OF_SANCTIONED_FIRM (the "
        "person holds that role at a seriously deficient or D-grade firm: a proposal, a person "
        "decides), CONTAGION_AT_OR_ABOVE_REVIEW (the contagion score from linked parties "
        "reaches the profile's `review_at`), CONTAGION_UNAVAILABLE (the contagion layer did "
        "not answer: an unanswered check is not a pass)."
    )
    detail: str = strawberry.field(description="the reason in words, for the person who decides")
    record_id: strawberry.ID | None = strawberry.field(
        description="the record behind the reason; null for a contagion reason, and when the "
        "caller's role does not see the record's disclosure class (it still counts)"
    )
    record_sector: str | None = strawberry.field(
        default=None,
        description="the sector of the record behind the reason (`tourism`, `construction` "
        "...), when it names one and the caller's role sees the record",
    )
    in_sector: bool | None = strawberry.field(
        default=None,
        description="whether that record is of the sector screened for; null when no `sector` "
        "was given, or the record names none",
    )


@strawberry.type(description="The screening of one id of a `screen` call.")
class ScreenResult:
    index: int = strawberry.field(description="position of the id in the call (ids are not echoed)")
    party_id: strawberry.ID | None = strawberry.field(
        description="the id credgraph holds the party under (a USCC, `REG:<number>`, a natural "
        "person's 32-hex token: never the number asked with); null when not found"
    )
    decision: Decision = strawberry.field(
        description="BLOCK: an own negative record counts; REVIEW: a person decides, on the "
        "reasons; PASS: no reason found; NOT_FOUND: the graph holds no party under this id, "
        "which is not a PASS"
    )
    found: bool
    own_reasons: list[ScreenReason] = strawberry.field(
        description="reasons from the party's own records"
    )
    linked_reasons: list[ScreenReason] = strawberry.field(
        description="reasons from other parties: role rules (one step) and contagion"
    )
    snapshot_id: str = strawberry.field(
        description="names the data version and `profileVersion` the decision was made on: the "
        "same ids asked on the same `asOf` under the same snapshotId get the same decisions, "
        "and every load and record change (objection, repair) gives a new one. credgraph keeps "
        "no past data, so a decision made under an older snapshotId cannot be asked again: keep "
        "the answer with the case. While it holds, `riskReport(id, asOf, profile)` shows the "
        "flags and the contagion score behind the decision under the same snapshotId."
    )
    profile: str = strawberry.field(description="the policy profile decided under")
    profile_version: str = strawberry.field(
        description="a digest of every parameter of the profile"
    )
    as_of: date = strawberry.field(description="the day decided for: the day of the call")
    sector: str | None = strawberry.field(
        default=None, description="the sector screened for, as the call gave it"
    )


def _risk_record(ctx: Context, ref: Any, of_person: bool = False) -> RiskRecord | None:
    """The record behind a flag as the role sees it: None when it may not see its class, and
    without its decision number when it is a pseudonymised person's (`of_person`)."""
    if not sees_disclosure(ctx.role, ref.disclosure):
        return None
    hide = of_person and _pseudonymising(ctx)
    return RiskRecord(
        id=_pseudonymised_record_id(ctx, ref.uid) if hide else strawberry.ID(ref.uid),
        kind=ref.kind.value,
        sector=ref.sector,
        status=ref.status.value,
        status_since=ref.status_since,
        starts_on=ref.starts_on,
        ends_on=ref.ends_on,
        counts=ref.counts,
        under_objection=ref.under_objection,
        authority=ref.authority,
        decision_number=None if hide else ref.decision_number,
        decision_date=_neo_date(ref.decision_date),
        disclosure=ref.disclosure,
        source_system=ref.source_system,
    )


def _flag(ctx: Context, flag: Any, proposal: bool, of_person: bool) -> RiskFlag:
    """A flag of a party's report; `of_person`: the party is a natural person, whose own
    records its own flags name (a flag via a role names a firm's record)."""
    via = flag.via
    return RiskFlag(
        code=flag.code.value,
        own=via is None,
        proposal=proposal,
        record=_risk_record(ctx, flag.record, of_person and via is None),
        via_firm_id=strawberry.ID(via.firm.uid) if via else None,
        via_firm_name=via.firm_name if via else None,
        via_relation=via.relation if via else None,
        via_role=via.role.value if via else None,
        rule=flag.rule,
    )


def _evidence(ctx: Context, path: ContagionPath) -> EvidencePath:
    """A contagion path; its record named only to a role that sees the record's class."""
    record = path.record
    return EvidencePath(
        party_ids=[strawberry.ID(party.uid) for party in path.parties],
        relations=[hop.type.value for hop in path.hops],
        contribution=float(path.contribution),
        record_id=_record_id(
            ctx, record.uid, record.disclosure, path.subject.label is Label.NATURAL_PERSON
        ),
    )


def _record_id(
    ctx: Context, uid: str | None, disclosure: str | None, of_person: bool = False
) -> strawberry.ID | None:
    """A record's id, or None when the role does not see its disclosure class: the record
    still counts (a decision does not depend on who asks), but is not named. A natural
    person's record (`of_person`) goes by its pseudonym to a pseudonymising role."""
    if uid is None or not sees_disclosure(ctx.role, disclosure):
        return None
    if of_person and _pseudonymising(ctx):
        return _pseudonymised_record_id(ctx, uid)
    return strawberry.ID(uid)


def _profile(ctx: Context, name: str | None) -> PolicyProfile:
    try:
        return choose_profile(ctx.services.profiles, name)
    except ProfileError:
        known = ", ".join(sorted(ctx.services.profiles))
        raise BadInput(f"argument profile: no such profile; known: {known}") from None


def _risk_report(
    ctx: Context, id: str, as_of: date | None, profile: str | None
) -> RiskReport | None:
    chosen = _profile(ctx, profile)
    data = current_data_version(ctx.store, ctx.services.versions)
    key = _resolve(ctx, id, data=data)
    if key is None:
        ctx.register("riskReport", persons=_names_a_person(id), outcome="not_found")
        return _not_found_report(chosen, data, as_of or date.today())
    report = risk_report(
        ctx.store,
        key,
        as_of=as_of or date.today(),
        profile=chosen,
        versions=ctx.services.versions,
        cache=ctx.services.reports,
        data=data,
        hubs=ctx.services.hubs,
        subjects=ctx.services.subjects,
    )
    parties = _materialise(ctx, [key], data)
    contagion = report.contagion
    shown = ContagionScore(
        available=contagion.available,
        score=contagion.score if contagion.available else None,
        clears_on=contagion.clears_on,
        paths=[_evidence(ctx, p) for p in contagion.paths],
    )
    layer = report.status
    person = key.label is Label.NATURAL_PERSON
    # an evidence path through a person names the person and the person's record: that touches
    # a natural person as much as asking for one does (docs/security.md, Purpose)
    passed = [
        party
        for path in (contagion.paths if ctx.role in CONTAGION else ())
        for party in path.parties
        if party.label is Label.NATURAL_PERSON
    ]
    ctx.register(
        "riskReport",
        subjects=[key, *passed],
        size=1 if report.found else 0,
        persons=person or bool(passed),
    )
    return RiskReport(
        party=parties.get(key),
        found=report.found,
        as_of=report.as_of,
        profile=report.profile,
        profile_version=report.profile_version,
        snapshot_id=report.snapshot_id,
        flags=[_flag(ctx, f, False, person) for f in layer.flags],
        proposals=[_flag(ctx, p, True, person) for p in layer.proposals],
        under_objection=[
            r for r in (_risk_record(ctx, x, person) for x in layer.under_objection) if r
        ],
        term_unknown=[r for r in (_risk_record(ctx, x, person) for x in layer.term_unknown) if r],
        contagion=shown if ctx.role in CONTAGION else None,
        clears_on=contagion.clears_on if ctx.role in CONTAGION else None,
    )


def _not_found_report(profile: PolicyProfile, data: DataVersion, as_of: date) -> RiskReport:
    """The report for an id the graph holds no party under (or none the role may see): `found`
    false, with the snapshot it was asked under, as `screen` answers NOT_FOUND. Not found is
    not "no risk found"."""
    return RiskReport(
        party=None,
        found=False,
        as_of=as_of,
        profile=profile.name,
        profile_version=profile_version(profile),
        snapshot_id=snapshot_id(profile, data),
        flags=[],
        proposals=[],
        under_objection=[],
        term_unknown=[],
        contagion=None,
        clears_on=None,
    )


def _screen(
    ctx: Context, ids: list[str], purpose: Purpose, profile: str | None, sector: str | None
) -> list[ScreenResult]:
    if not 1 <= len(ids) <= ctx.settings.api_max_screen_ids:
        raise BadInput(f"argument ids: give 1 to {ctx.settings.api_max_screen_ids} ids")
    chosen = _profile(ctx, profile)
    try:
        sector = sector_code(sector)
    except ValueError as exc:
        raise BadInput(f"argument sector: {exc}") from None
    # read once: it names the snapshot, and keys the identifier and report caches
    data = current_data_version(ctx.store, ctx.services.versions)
    keys = [_resolve(ctx, raw, f"ids[{index}]", data) for index, raw in enumerate(ids)]
    found = list(dict.fromkeys(k for k in keys if k is not None))
    as_of = date.today()
    reports: dict[PartyKey, PartyRiskReport] = {}
    # the risk layer reads at most MAX_BATCH parties at a time; CREDGRAPH_API_MAX_SCREEN_IDS
    # may allow more, and every part is read under the one data version read above
    for start in range(0, len(found), MAX_BATCH):
        reports |= risk_reports(
            ctx.store,
            found[start : start + MAX_BATCH],
            as_of=as_of,
            profile=chosen,
            versions=ctx.services.versions,
            cache=ctx.services.reports,
            data=data,
            hubs=ctx.services.hubs,
            subjects=ctx.services.subjects,
        )
    ctx.register(
        "screen",
        subjects=found,
        size=len(ids),
        persons=any(_names_a_person(raw) for raw in ids),
        purpose=purpose,
        outcome="ok" if found else "not_found",
        sector=sector,
    )
    version = profile_version(chosen)
    snapshot = snapshot_id(chosen, data)
    results = []
    for index, key in enumerate(keys):
        report = reports.get(key) if key else None
        if report is None or not report.found:
            results.append(
                ScreenResult(
                    index=index,
                    party_id=None,
                    decision=Decision.NOT_FOUND,
                    found=False,
                    own_reasons=[],
                    linked_reasons=[],
                    snapshot_id=snapshot,
                    profile=chosen.name,
                    profile_version=version,
                    as_of=as_of,
                    sector=sector,
                )
            )
            continue
        decision = screen_decision(report, chosen, sector)
        results.append(
            ScreenResult(
                index=index,
                party_id=strawberry.ID(report.party.uid),
                decision=Decision(decision.outcome.value),
                found=True,
                own_reasons=[_reason(ctx, r) for r in decision.own_reasons],
                linked_reasons=[_reason(ctx, r) for r in decision.linked_reasons],
                snapshot_id=decision.snapshot_id,
                profile=decision.profile,
                profile_version=decision.profile_version,
                as_of=decision.as_of,
                sector=sector,
            )
        )
    return results


def _reason(ctx: Context, reason: Any) -> ScreenReason:
    record_id = _record_id(ctx, reason.record_uid, reason.disclosure)
    return ScreenReason(
        code=reason.code,
        detail=reason.detail,
        record_id=record_id,
        record_sector=reason.record_sector if record_id is not None else None,
        in_sector=reason.in_sector,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="One party by USCC, legacy code, resident ID number or the id credgraph "
        "returned; null when there is none the caller may see."
    )
    async def entity(self, info: Info[Context, None], id: str) -> Party | None:
        return await _answer(info, "entity", lambda ctx: _entity(ctx, id))

    @strawberry.field(description="Parties by name (its matching key, exact or as a prefix).")
    async def search(
        self,
        info: Info[Context, None],
        name: str,
        kind: PartyKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> PartyConnection:
        return await _answer(info, "search", lambda ctx: _search(ctx, name, kind, first, after))

    @strawberry.field(
        description="Parties linked to one party, up to `depth` relations away; "
        "`relationTypes` left out follows every party relation, an empty list is refused; "
        "`minStake` (0 to 1) skips smaller shareholdings; `followSameAs` also follows "
        "POSSIBLY_SAME_AS links (name matches, never followed unless asked)."
    )
    async def linked_parties(
        self,
        info: Info[Context, None],
        id: str,
        depth: int = 1,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        first: int | None = None,
        after: str | None = None,
        min_stake: float = 0.0,
        follow_same_as: bool = False,
    ) -> LinkedPartyConnection | None:
        # the extra read for the relations among the farthest parties only when they are asked
        asked = {"relations", "relationsTruncated"}
        wanted = any(_selects(field.selections, asked) for field in info.selected_fields)
        filters = RelationArguments(
            relation_types, as_of, include_former, min_stake, follow_same_as
        )
        return await _answer(
            info,
            "linkedParties",
            lambda ctx: _linked(ctx, id, depth, filters, first, after, wanted),
        )

    @strawberry.field(
        description="The `first` (default 1, at most 20) shortest simple paths between two "
        "parties, up to `maxDepth` hops, by length, over the party relations that "
        "`linkedParties` would follow with the same `relationTypes`, `asOf` (default today), "
        "`includeFormer`, `minStake` and `followSameAs`; `from` and `to` naming the same party "
        "is refused (BAD_USER_INPUT naming `to`). The answer says how far the search explored "
        "and whether a cap cut it short; null when `from` or `to` names no party."
    )
    async def paths(
        self,
        info: Info[Context, None],
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        max_depth: int = 3,
        first: int | None = None,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        min_stake: float = 0.0,
        follow_same_as: bool = False,
    ) -> PathSearch | None:
        filters = RelationArguments(
            relation_types, as_of, include_former, min_stake, follow_same_as
        )
        return await _answer(
            info, "paths", lambda ctx: _paths(ctx, from_, to, max_depth, first, filters)
        )

    @strawberry.field(
        description="Dishonest-party tracing: every party within `depth` steps (1 to "
        "CREDGRAPH_MAX_DEPTH, default 2) of one party with a negative record counting on `asOf` "
        "under `profile`, nearest first, each with one shortest path and its records; over the "
        "relations `relationTypes`, `asOf` and `includeFormer` choose, as for `linkedParties`."
    )
    async def dishonest_parties(
        self,
        info: Info[Context, None],
        id: str,
        depth: int = 2,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        profile: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> DishonestPartyConnection | None:
        filters = RelationArguments(relation_types, as_of, include_former)
        return await _answer(
            info,
            "dishonestParties",
            lambda ctx: _dishonest(ctx, id, depth, filters, profile, first, after),
        )

    @strawberry.field(
        description="Suspected links: parties that share an officer (legal persons), an "
        "address, a phone or an e-mail with one party on `asOf`, each with what it rests on; "
        "evidence shared by more than `perKeyCap` (default 100) other parties is counted in "
        "`crowded`, not listed."
    )
    async def suspected_links(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        include_former: bool = False,
        per_key_cap: int = 100,
        first: int | None = None,
        after: str | None = None,
    ) -> SuspectedLinkConnection | None:
        return await _answer(
            info,
            "suspectedLinks",
            lambda ctx: _suspected(ctx, id, as_of, include_former, per_key_cap, first, after),
        )

    @strawberry.field(
        description="The connected group around one party over `relationTypes` (default "
        "SHAREHOLDER_OF, LEGAL_REPRESENTATIVE_OF, ACTUAL_CONTROLLER_OF: its control group), "
        "shareholdings counting from `minStake` (default 0.5), direction ignored, on `asOf`."
    )
    async def control_group(
        self,
        info: Info[Context, None],
        id: str,
        relation_types: list[RelationType] | None = None,
        min_stake: float = DEFAULT_MIN_STAKE,
        as_of: date | None = None,
        include_former: bool = False,
    ) -> PartyGroup | None:
        return await _answer(
            info,
            "controlGroup",
            lambda ctx: _group(ctx, id, relation_types, min_stake, as_of, include_former),
        )

    @strawberry.field(
        description="The guarantee circle a legal person sits in on `asOf`, with the `first` "
        "(default 50, at most 200) shortest cycles of guarantees through it."
    )
    async def guarantee_circle(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        include_former: bool = False,
        first: int = DEFAULT_CYCLE_LIMIT,
    ) -> GuaranteeCircle | None:
        return await _answer(
            info,
            "guaranteeCircle",
            lambda ctx: _circle(ctx, id, as_of, include_former, first),
        )

    @strawberry.field(
        description="Both risk layers of one party: status flags with reason codes and records, "
        "proposals, the contagion score with its evidence paths and clearing date; `found` "
        "false (and no party) for an id the graph holds no party under."
    )
    async def risk_report(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        profile: str | None = None,
    ) -> RiskReport | None:
        return await _answer(info, "riskReport", lambda ctx: _risk_report(ctx, id, as_of, profile))

    @strawberry.field(
        description="Screen applicants for a decision: PASS, REVIEW, BLOCK or NOT_FOUND per id, "
        "own records apart from linked parties' hits, and the snapshot that produced it. `ids` "
        "takes 1 to CREDGRAPH_API_MAX_SCREEN_IDS (50) identifiers, as `entity` does; more, or "
        "one that is no identifier, refuses the whole call with BAD_USER_INPUT naming `ids` or "
        "`ids[i]`."
    )
    async def screen(
        self,
        info: Info[Context, None],
        ids: list[str],
        purpose: Purpose,
        profile: str | None = None,
        sector: Annotated[
            str | None,
            strawberry.argument(
                description="the sector the decision is for (`construction`, `tourism` ..., "
                "or a city's own code): registered with the call; each reason says whether its "
                "record is of that sector, and a profile's `sector_scoped_kinds` BLOCK only "
                "in their own sector"
            ),
        ] = None,
    ) -> list[ScreenResult]:
        return await _answer(
            info, "screen", lambda ctx: _screen(ctx, ids, purpose, profile, sector), purpose
        )


# --- mutations -----------------------------------------------------------------------------------


def _change(
    ctx: Context,
    operation: str,
    record_id: str,
    changes: Sequence[tuple[StatusChangeKind, date, dict[str, Any]]],
) -> RecordChange:
    if not record_id.strip() or len(record_id) > 200:
        raise BadInput("argument recordId: must be 1 to 200 characters")
    target = find_record(ctx.store, record_id.strip())
    if target is None:
        ctx.register(operation, size=0, outcome="not_found")
        raise NotFound("argument recordId: no such record")
    refused: Conflict | None = None
    try:
        check_applies(target, changes[0][0], changes[0][1], ctx.settings.repair_after)
    except ChangeRefused as exc:
        refused = Conflict(str(exc))
    ctx.register(
        operation,
        subjects=target.subjects,
        size=0 if refused else 1,
        persons=any(s.label is Label.NATURAL_PERSON for s in target.subjects),
        outcome=_refusal_outcome(refused) if refused else "ok",
    )
    if refused:
        raise refused
    # lifecycle folds same-day changes in uid order: a time-ordered id keeps them in the order
    # they were made (an objection opened and closed on one day)
    stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
    rows = [
        (f"api-{stamp}-{n}", kind, effective_on, props)
        for n, (kind, effective_on, props) in enumerate(changes)
    ]
    applied = apply_changes(
        ctx.store, target, rows, source="api", run_id=f"api:{ctx.caller.key_id}"
    )
    if ctx.services.versions is not None:  # a new data version: this worker names it at once
        ctx.services.versions.invalidate()
    rescored = _rescore(ctx, target.subjects)
    return RecordChange(
        record_id=strawberry.ID(target.uid),
        change=changes[-1][0].value,
        change_id=applied.change_uid,
        effective_on=changes[-1][1],
        status=applied.status.value,
        status_since=applied.since,
        rescored_subjects=rescored,
    )


# the setting that says whether the deployment offers each record change (docs/settings.md)
_OFFERED_BY = {
    "openObjection": "record_objection",
    "closeObjection": "record_objection",
    "recordRepair": "record_repair",
}


def _require_offered(ctx: Context, operation: str) -> None:
    """Refuse a record change the deployment does not offer (credit repair exists in some
    cities only, objection handling in most), before its arguments are even read; `_answer`
    audits the refusal (`refused:not_offered`)."""
    setting = _OFFERED_BY[operation]
    if not bool(getattr(ctx.settings, setting)):
        raise NotOffered(
            f"this deployment does not offer {operation} (CREDGRAPH_{setting.upper()}=false)"
        )


def _rescore(ctx: Context, subjects: Sequence[PartyKey]) -> int | None:
    """Re-score the parties a change affects, under the stored run's profile and date (the
    deployment's own profiles among those it may name); None when that failed."""
    try:
        result = rescore(ctx.store, list(subjects), profiles=ctx.services.profiles)
    except Exception:  # the change is committed; stale scores must not hide that from the caller
        _log.exception(json.dumps({"event": "rescore_failed", "request": ctx.request_id}))
        return None
    return len(result)


def _effective_on(effective_on: date | None) -> date:
    """The day a change takes effect: today unless given, and never after today (a change is
    recorded once it has taken effect; answers for today would otherwise show it early)."""
    today = date.today()
    if effective_on is not None and effective_on > today:
        raise BadInput("argument effectiveOn: after today; record a change once it takes effect")
    return effective_on or today


def _text(argument: str, value: str | None, limit: int, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise BadInput(f"argument {argument}: is required")
        return None
    if len(value) > limit:
        raise BadInput(f"argument {argument}: longer than {limit} characters")
    return mask_identity_numbers(value.strip())  # stored: never an identity number


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Open an objection (异议) on a record: it is annotated as under objection "
        "until the objection closes, and counts only under profiles that say so. `evidence` and "
        "`deadline` (the day the objection is to be decided by) are kept with the change, and "
        "no field shows them; the deadline closes nothing: the objection stays open, and the "
        "record annotated, until closeObjection. Refused with NOT_OFFERED where the deployment "
        "does not offer objection handling (CREDGRAPH_RECORD_OBJECTION=false)."
    )
    async def open_objection(
        self,
        info: Info[Context, None],
        record_id: str,
        evidence: str,
        deadline: date,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            _require_offered(ctx, "openObjection")
            on = _effective_on(effective_on)
            if deadline < on:
                raise BadInput("argument deadline: is before the objection opens")
            props = {"evidence": _text("evidence", evidence, 2000, True), "deadline": deadline}
            return _change(
                ctx,
                "openObjection",
                record_id,
                [(StatusChangeKind.OBJECTION_OPENED, on, props)],
            )

        return await _answer(info, "openObjection", work)

    @strawberry.mutation(
        description="Close an objection. Upheld: the record is revoked from that day; "
        "not upheld: the record stands as before. Refused with NOT_OFFERED where the "
        "deployment does not offer objection handling (CREDGRAPH_RECORD_OBJECTION=false)."
    )
    async def close_objection(
        self,
        info: Info[Context, None],
        record_id: str,
        upheld: bool,
        note: str | None = None,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            _require_offered(ctx, "closeObjection")
            on = _effective_on(effective_on)
            props = {"note": _text("note", note, 2000, False), "upheld": upheld}
            changes = [(StatusChangeKind.OBJECTION_CLOSED, on, props)]
            if upheld:
                changes.append((StatusChangeKind.REVOKED, on, {"note": "objection upheld"}))
            return _change(ctx, "closeObjection", record_id, changes)

        return await _answer(info, "closeObjection", work)

    @strawberry.mutation(
        description="Record a credit repair (信用修复): the record stops counting from that day. "
        "Refused with NOT_OFFERED where the deployment does not offer credit repair "
        "(CREDGRAPH_RECORD_REPAIR=false), and with CONFLICT, naming the first day it may take "
        "effect, before the record has been published for the CREDGRAPH_REPAIR_AFTER term of "
        "its kind and sector (else of its kind), counted from its decision date (else its "
        "start)."
    )
    async def record_repair(
        self,
        info: Info[Context, None],
        record_id: str,
        decision_number: str,
        note: str | None = None,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            _require_offered(ctx, "recordRepair")
            on = _effective_on(effective_on)
            props = {
                "decision_number": _text("decisionNumber", decision_number, 200, True),
                "note": _text("note", note, 2000, False),
            }
            return _change(ctx, "recordRepair", record_id, [(StatusChangeKind.REPAIRED, on, props)])

        return await _answer(info, "recordRepair", work)


class _Schema(strawberry.Schema):
    """Logs errors as one JSON line each (code and path), never arguments or values; only an
    unexpected error gets its traceback, under the request's log line."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        context = getattr(execution_context, "context", None)
        request = context.request_id if isinstance(context, Context) else None
        for error in errors:
            code, _ = classify(error)
            line = json.dumps(
                {"event": "graphql_error", "request": request, "code": code, "path": error.path}
            )
            if code == "INTERNAL_ERROR":
                _log.error(line, exc_info=error.original_error)
            else:
                _log.info(line)


def build_schema(extensions: Sequence[Any] = ()) -> strawberry.Schema:
    return _Schema(
        query=Query,
        mutation=Mutation,
        types=[LegalPerson, NaturalPerson],
        extensions=list(extensions),
    )


schema = build_schema()

__all__ = ["CONTAGION", "Context", "Services", "build_schema", "schema"]
