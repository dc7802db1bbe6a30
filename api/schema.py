"""The GraphQL schema: parties behind one interface, their records and their linked parties.

Resolvers read through `credgraph.queries` only, batched: one read per label for the parties
and records of a whole answer, never one query per row. Resident ID numbers are never returned:
natural persons carry an opaque token as `id` and a masked number.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_RELATIONS, Label, RelationType
from credgraph.queries.lookup import (
    BadIdentifier,
    PartyKey,
    fetch_parties,
    fetch_records,
    resolve_identifier,
)
from credgraph.queries.traversal import Linked, linked_parties
from strawberry.fastapi import BaseContext
from strawberry.types import Info

strawberry.enum(RelationType, description="Relation types of the graph.")


class Context(BaseContext):
    """Per-app context: the store and the settings every resolver reads through."""

    def __init__(self, store: GraphStore, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings

    def person_key(self) -> bytes:
        return self.settings.person_key_bytes()


def _neo_date(value: Any) -> date | None:
    """A date property as a Python date (the driver returns neo4j.time.Date)."""
    native = value.to_native() if hasattr(value, "to_native") else value
    return native if isinstance(native, date) else None


@strawberry.type(description="A credit record: a sanction, a commendation or a grade.")
class CreditRecord:
    id: strawberry.ID
    category: str = strawberry.field(description="SanctionEvent, Commendation or CreditGrade")
    kind: str
    sector: str | None
    list_name: str | None
    scheme: str | None
    grade: str | None
    status: str
    disclosure: str
    authority: str | None
    decision_number: str | None
    decision_date: date | None
    published_on: date | None
    valid_from: date | None
    valid_to: date | None
    court: str | None
    case_number: str | None
    description: str | None
    source_system: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CreditRecord:
        return cls(
            id=strawberry.ID(row["uid"]),
            category=row["label"],
            kind=row["kind"],
            sector=row.get("sector"),
            list_name=row.get("list_name"),
            scheme=row.get("scheme"),
            grade=row.get("grade"),
            status=row["status"],
            disclosure=row["disclosure"],
            authority=row.get("authority"),
            decision_number=row.get("decision_number"),
            decision_date=_neo_date(row.get("decision_date")),
            published_on=_neo_date(row.get("published_on")),
            valid_from=_neo_date(row.get("valid_from")),
            valid_to=_neo_date(row.get("valid_to")),
            court=row.get("court"),
            case_number=row.get("case_number"),
            description=row.get("description"),
            source_system=row.get("source_system"),
        )


@strawberry.interface(description="A credit subject: a legal person or a natural person.")
class Party:
    id: strawberry.ID
    name: str
    records: list[CreditRecord]


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


@strawberry.type(description="A natural person; the identity number is shown masked only.")
class NaturalPerson(Party):
    id_type: str
    id_masked: str
    sex: str | None


@strawberry.type(description="A relation between two parties, with its dates and source.")
class Relation:
    type: str
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


@strawberry.type(description="A party reached from the root, with the relation that reached it.")
class LinkedParty:
    party: Party
    depth: int
    parent_id: strawberry.ID
    via: Relation


@strawberry.type(description="Linked parties of one party, and how far the walk went.")
class LinkedParties:
    root: Party
    items: list[LinkedParty]
    explored_depth: int
    truncated: bool = strawberry.field(description="a cap cut the walk short")


def _party(key: PartyKey, props: dict[str, Any], records: list[dict[str, Any]]) -> Party:
    converted = [CreditRecord.from_row(r) for r in records]
    if key.label is Label.LEGAL_PERSON:
        return LegalPerson(
            id=strawberry.ID(key.uid),
            name=props.get("name") or "",
            records=converted,
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
    return NaturalPerson(
        id=strawberry.ID(key.uid),
        name=props.get("name") or "",
        records=converted,
        id_type=props.get("id_type") or "",
        id_masked=props.get("id_masked") or "",
        sex=props.get("sex"),
    )


def _relation(linked: Linked, today: date) -> Relation:
    props = linked.via.properties
    valid_to = _neo_date(props.get("valid_to"))
    return Relation(
        type=linked.via.type.value,
        from_id=strawberry.ID(linked.via.from_key.uid),
        to_id=strawberry.ID(linked.via.to_key.uid),
        role=props.get("role"),
        stake=props.get("stake"),
        amount=props.get("amount"),
        valid_from=_neo_date(props.get("valid_from")),
        valid_to=valid_to,
        current=valid_to is None or valid_to > today,
        source=props.get("source"),
        source_record=props.get("source_record"),
    )


def _materialise(ctx: Context, keys: list[PartyKey]) -> dict[PartyKey, Party]:
    props = fetch_parties(ctx.store, keys)
    records = fetch_records(ctx.store, keys)
    return {key: _party(key, props[key], records.get(key, [])) for key in keys if key in props}


def _resolve(ctx: Context, raw: str) -> PartyKey | None:
    try:
        return resolve_identifier(ctx.store, raw, ctx.person_key())
    except BadIdentifier as exc:
        raise ValueError(f"argument id: {exc}") from None


def _party_relation_types(requested: list[RelationType] | None) -> tuple[RelationType, ...]:
    if not requested:
        return PARTY_RELATIONS
    for relation_type in requested:
        if relation_type not in PARTY_RELATIONS:
            raise ValueError(
                f"argument relationTypes: {relation_type.value} does not link two parties"
            )
    return tuple(requested)


@strawberry.type
class Query:
    @strawberry.field(description="One party by USCC, legacy code, resident ID number or id.")
    def entity(self, info: Info[Context, None], id: str) -> Party | None:
        key = _resolve(info.context, id)
        if key is None:
            return None
        return _materialise(info.context, [key]).get(key)

    @strawberry.field(description="Parties linked to one party, up to `depth` relations away.")
    def linked_parties(
        self,
        info: Info[Context, None],
        id: str,
        depth: int = 1,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        first: int | None = None,
    ) -> LinkedParties | None:
        ctx = info.context
        if not 1 <= depth <= ctx.settings.max_depth:
            raise ValueError(f"argument depth: must be between 1 and {ctx.settings.max_depth}")
        limit = first if first is not None else ctx.settings.max_page_size
        if not 1 <= limit <= ctx.settings.max_page_size:
            raise ValueError(f"argument first: must be between 1 and {ctx.settings.max_page_size}")
        root = _resolve(ctx, id)
        if root is None:
            return None
        types = _party_relation_types(relation_types)
        walk = linked_parties(
            ctx.store,
            root,
            depth=depth,
            relation_types=types,
            as_of=as_of,
            include_former=include_former,
            cap=ctx.settings.traversal_cap,
        )
        page = walk.items[:limit]
        parties = _materialise(ctx, [root, *(item.key for item in page)])
        today = as_of or date.today()
        items = [
            LinkedParty(
                party=parties[item.key],
                depth=item.depth,
                parent_id=strawberry.ID(item.parent.uid),
                via=_relation(item, today),
            )
            for item in page
            if item.key in parties
        ]
        return LinkedParties(
            root=parties[root],
            items=items,
            explored_depth=walk.explored_depth,
            truncated=walk.truncated or len(walk.items) > limit,
        )


schema = strawberry.Schema(query=Query, types=[LegalPerson, NaturalPerson])
