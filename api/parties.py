"""Identifiers to parties, and parties and relations as the caller's role sees them.

`resolve_party` takes an identifier after the role's checks (a role that may not look up persons by
identity number is refused, or finds nobody); `materialise` draws the parties the role may see,
one read per label (and one more for their records when the request selects them), masked or
pseudonymised as the role's view of persons says (api/roles.py, docs/security.md).
`RelationArguments` checks the relation filter `linkedParties`, `paths` and the investigators'
fields take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import strawberry
from credgraph.api.context import Context, chosen_profile
from credgraph.api.errors import BadInput, Forbidden
from credgraph.api.limits import MAX_ID_CHARS
from credgraph.api.masking import mask_name
from credgraph.api.roles import PERSONS, ApiRole, PersonView, sees_disclosure
from credgraph.api.types import CreditRecord, LegalPerson, NaturalPerson, Party, Relation
from credgraph.graph import clock
from credgraph.graph.identifiers import (
    PERSON_TOKEN_SHAPE,
    is_ftm_id,
    may_be_first_generation_id,
    names_a_person,
    names_an_operator,
    normalise_code,
    record_pseudonym,
)
from credgraph.graph.store import stored_date
from credgraph.graph.vocabulary import (
    PARTY_RELATIONS,
    Disclosure,
    Label,
    RecordStatus,
    RelationType,
)
from credgraph.queries.lookup import (
    BadIdentifier,
    PartyKey,
    fetch_party_cards,
    fetch_records,
    resolve_identifier,
)
from credgraph.queries.records import publication_end
from credgraph.queries.risk import DataVersion
from credgraph.queries.snapshot import record_state_of
from credgraph.queries.traversal import Hop, RelationFilter, relation_filter


def _may_name_a_business(raw: str) -> bool:
    """Whether an identifier that may name a person may name a legal person instead: only what
    it resolves to tells (a 15-digit registration number, an FtM company's entity id)."""
    text = raw.strip()
    return is_ftm_id(text) or may_be_first_generation_id(normalise_code(text))


def resolve_party(
    ctx: Context, raw: str, argument: str = "id", data: DataVersion | None = None
) -> PartyKey | None:
    """The party `raw` names, after the role's checks; from the identifier cache when the
    request has read the data version (`data`)."""
    if len(raw) > MAX_ID_CHARS:
        raise BadInput.argument(argument, f"longer than {MAX_ID_CHARS} characters")
    view = PERSONS[ctx.role]
    # a pseudonymising role follows the tokens it was given, and nothing else that names a person
    token = view is PersonView.PSEUDONYMISED and PERSON_TOKEN_SHAPE.match(raw.strip()) is not None
    by_number = view is not PersonView.MASKED and not token and names_a_person(raw)
    if by_number and not _may_name_a_business(raw):
        _refuse_person_lookup(ctx, argument)
        return None
    ctx.named_person |= names_an_operator(raw)
    cache = ctx.services.identifiers
    try:
        if cache is not None and data is not None:
            key = cache.resolve(ctx.store, raw, ctx.person_key(), data.token())
        else:
            key = resolve_identifier(ctx.store, raw, ctx.person_key())
    except BadIdentifier as exc:
        raise BadInput.argument(argument, str(exc)) from None
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
        raise Forbidden.argument(
            argument,
            f"the {ctx.role.value} role may not look up natural persons by identity number",
        )


def _records_for(
    ctx: Context, rows: list[dict[str, Any]], day: date, of_person: bool = False
) -> list[CreditRecord]:
    """The records the role sees in an answer for `day`: by their disclosure class, a public
    record past its `disclosure_until`, or repaired, revoked or expired on `day`, as a
    government_shared one (api/roles.py)."""
    shown = [
        (row, until)
        for row, until in ((row, _disclosed_until(ctx, row)) for row in rows)
        if sees_disclosure(
            ctx.role, row.get("disclosure"), until=until, day=day, status=_status_on(ctx, row, day)
        )
    ]
    records = [CreditRecord.from_row(row) for row, _ in shown]
    if ctx.role is ApiRole.PUBLIC:
        # the public is told the last day it is shown the record: the source's
        # `disclosure_until`, or the day its longest publication ends if that comes first
        records = [
            dataclasses.replace(r, disclosure_until=until, **_LINEAGE_HIDDEN)
            for r, (_, until) in zip(records, shown, strict=True)
        ]
    if of_person and pseudonymises(ctx):
        return [
            dataclasses.replace(r, id=pseudonymised_record_id(ctx, r.id), **_REFERENCES_HIDDEN)
            for r in records
        ]
    return records


def _disclosed_until(ctx: Context, row: dict[str, Any]) -> date | None:
    """The last day a record is disclosed as public: its `disclosure_until`, and for the public
    role no later than the day before its longest publication ends (`publish_at_most`, from its
    decision date: queries/records.py `publication_end`); the roles that see government_shared
    records see it either way, so the maximum is worked out for the public role only."""
    until = stored_date(row.get("disclosure_until"))
    if ctx.role is not ApiRole.PUBLIC or row.get("disclosure") != Disclosure.PUBLIC.value:
        return until
    end = publication_end(row, ctx.settings.publish_at_most)
    if end is None:
        return until
    last = end if end == date.min else end - timedelta(days=1)
    return last if until is None else min(until, last)


def _status_on(ctx: Context, row: dict[str, Any], day: date) -> RecordStatus | None:
    """A record's lifecycle status on `day` under the deployment's profile (its status changes
    folded in, a term run out as `expired`), as `stateOn` answers it; None where the status
    does not decide who sees it (any class but public, any role but the public one, which alone
    loses a public record that stopped standing): the fold is not made for nothing."""
    if ctx.role is not ApiRole.PUBLIC or row.get("disclosure") != Disclosure.PUBLIC.value:
        return None
    state = record_state_of(row, row.get("changes") or (), day, chosen_profile(ctx, None))
    return state.status


# what names a pseudonymised person's record to anyone who looks it up: a court's case number,
# an authority's decision number, the source's own record id (often one of them), the texts of
# the case (docs/security.md, "pseudonymised")
_REFERENCES_HIDDEN: dict[str, Any] = {
    "decision_number": None,
    "case_number": None,
    "description": None,
    "source_record_id": None,
    "obligation": None,
    "performance": None,
    "dishonest_behaviour": None,
}

# the internal loads a record came by: the public interface shows the publishing system and
# its record id, not the files and runs of the platform's own loads (docs/security.md)
_LINEAGE_HIDDEN: dict[str, Any] = {
    "source": None,
    "source_row": None,
    "run_id": None,
    "loaded_at": None,
}


def pseudonymises(ctx: Context) -> bool:
    """Whether the caller's role sees natural persons pseudonymised."""
    return PERSONS[ctx.role] is PersonView.PSEUDONYMISED


def pseudonymised_record_id(ctx: Context, uid: str) -> strawberry.ID:
    """A pseudonymised person's record by a keyed token of its id: a source's record id is
    often its case or decision number (docs/security.md, "pseudonymised")."""
    return strawberry.ID(record_pseudonym(ctx.person_key(), uid))


def _party(
    ctx: Context,
    key: PartyKey,
    props: dict[str, Any],
    records: list[dict[str, Any]],
    day: date,
) -> Party:
    visible = _records_for(ctx, records, day, of_person=key.label is Label.NATURAL_PERSON)
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
            registered_on=stored_date(props.get("registered_on")),
            status=props.get("status"),
            address=props.get("address"),
            industry=props.get("industry"),
        )
    if pseudonymises(ctx):
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


def materialise(
    ctx: Context,
    keys: Iterable[PartyKey],
    data: DataVersion | None = None,
    *,
    day: date | None = None,
) -> dict[PartyKey, Party]:
    """The parties the role may see, with their visible records when the request selects
    `records`: one read per label, and one more per label for the records. With the data version
    the request read (`data`), cards kept under it are not read again. `day`: the day the answer
    is for (the field's `asOf`, default today), which decides whether a public record is still
    disclosed (api/roles.py `sees_disclosure`)."""
    on = day or clock.today()
    wanted = _visible(ctx, keys)
    if not wanted:
        return {}
    cache = ctx.services.cards
    if cache is not None and data is not None:
        props = cache.fetch(ctx.store, wanted, data.token())
    else:
        props = fetch_party_cards(ctx.store, wanted)
    records = fetch_records(ctx.store, wanted) if ctx.wants_records else {}
    return {k: _party(ctx, k, props[k], records.get(k, []), on) for k in wanted if k in props}


def hop_relation(ctx: Context, hop: Hop, today: date) -> Relation:
    """A relation of a walk's hop as the role sees it on `today`."""
    props = hop.properties
    # a source record id names a pseudonymised person's relation to whoever holds the source
    # (a FollowTheMoney link's id to anyone: docs/security.md, "pseudonymised")
    of_person = Label.NATURAL_PERSON in (hop.from_key.label, hop.to_key.label)
    hide = of_person and pseudonymises(ctx)
    valid_to = stored_date(props.get("valid_to"))
    return Relation(
        type=hop.type,
        from_id=strawberry.ID(hop.from_key.uid),
        to_id=strawberry.ID(hop.to_key.uid),
        role=props.get("role"),
        stake=props.get("stake"),
        amount=props.get("amount"),
        valid_from=stored_date(props.get("valid_from")),
        valid_to=valid_to,
        current=valid_to is None or valid_to > today,
        source=props.get("source"),
        source_record=None if hide else props.get("source_record"),
        # a matter is a record id or a case number: it names the person's case
        matter=None if hide else props.get("matter"),
        project_role=props.get("project_role"),
        subscribed_capital=props.get("subscribed_capital"),
    )


def _party_relation_types(requested: list[RelationType] | None) -> tuple[RelationType, ...]:
    """The relation types asked for; left out, every party relation. An empty list is refused,
    as `credgraph linked --types ""` is: it is a filter built from an empty selection, and
    reading it as every type would show more than was asked for."""
    if requested is None:
        return PARTY_RELATIONS
    if not requested:
        raise BadInput.argument(
            "relationTypes",
            "choose at least one relation type, or leave the argument out for every type",
        )
    for relation_type in requested:
        if relation_type is RelationType.POSSIBLY_SAME_AS:
            raise BadInput.argument(
                "relationTypes",
                "POSSIBLY_SAME_AS is a name match, not a relation; ask for it with followSameAs",
            )
        if relation_type not in PARTY_RELATIONS:
            raise BadInput.argument(
                "relationTypes", f"{relation_type.value} does not link two parties"
            )
    return tuple(dict.fromkeys(requested))


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
            raise BadInput.argument("minStake", "must be between 0 and 1 (a share of the capital)")
        return relation_filter(
            _party_relation_types(self.types),
            as_of=self.as_of,
            include_former=self.include_former,
            min_stake=self.min_stake,
            follow_same_as=self.follow_same_as,
        )
