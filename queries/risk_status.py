"""The status layer of risk: a party's own counting records and the one-step role rules.

DOMAIN.md bounds what may be inferred, and this module infers nothing more:

- every negative record of the party that counts on the as-of date (queries/records.py) is a
  flag with a stable reason code (`OWN_BLACKLIST`, ...) and the record behind it;
- the legal representative or principal (the profile's `role_rule_roles`) of a firm with a
  counting record of a kind in `role_rule_kinds`, or a current grade in `role_rule_grades`, gets
  a PROPOSAL, never a flag: the plan says such a person "may" be listed, so a person decides;
- the person responsible for a matter (`RESPONSIBLE_FOR` whose `matter` names a counting record
  of the firm) gets a flag linked to that person's own credit (`RESPONSIBLE_PERSON_OF_RECORD`);
- nothing further: an executive's other firms, shareholders and longer paths are the contagion
  layer's analytic business, never a status.

Role relations count when they are current on the as-of date (started by then and not ended):
a former legal representative is not a current one. Positive records and current grades are
listed apart and never change a flag (a current grade the role rule treats as deficient is
listed again under `deficient_grades`: a reason to review, never a flag); records that stopped
counting are history, with the date they stopped. A record whose term cannot be placed
(records.py `term_unknown`) never counts and is listed apart, for a person to look at. A record
under objection is annotated wherever it appears; whether it counts is the profile's
`count_under_objection`.

A batch of parties costs four reads at most, whatever its size (up to `MAX_BATCH` parties):
their own records (one per label), the role relations of the persons among them, and the records
of the firms those relations reach. A risk report (queries/risk.py) costs none of its own:
`layers_of_neighbourhood` draws the same layers from the contagion layer's neighbourhood read.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, StrEnum
from typing import Any, LiteralString

from credgraph.graph.lifecycle import ENDED_STATUSES
from credgraph.graph.store import GraphStore, native_record, stored_date
from credgraph.graph.vocabulary import Label, RecordKind, RecordStatus, RelationType, Role
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.records import (
    NEGATIVE_KINDS,
    POSITIVE_KINDS,
    RecordState,
    fetch_record_states,
)
from credgraph.queries.snapshot import CentreRelation, Neighbourhood

# the most parties one screening call may name; the API refuses larger batches
MAX_BATCH = 100

ROLE_RELATIONS_OF_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (p:NaturalPerson {uid: uid})-[r]->(f:LegalPerson)
WHERE r.role IN $roles
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.valid_to > $as_of)
RETURN uid AS person, type(r) AS type, properties(r) AS relation,
       f.uid AS firm, f.name AS firm_name
"""

ROLE_RULE = (
    "DOMAIN.md (Chaozhou): the legal representative or principal of a D-grade or seriously "
    "deficient firm MAY be put on the bad-credit list; a person decides"
)
RESPONSIBILITY_RULE = (
    "DOMAIN.md (Fuzhou): a violation is linked to the responsible person's own credit"
)


class ReasonCode(StrEnum):
    """Stable reason codes of flags and proposals (part of the public contract)."""

    OWN_BLACKLIST = "OWN_BLACKLIST"
    OWN_DISHONEST_DEBTOR = "OWN_DISHONEST_DEBTOR"
    OWN_ADMIN_PENALTY = "OWN_ADMIN_PENALTY"
    OWN_ABNORMAL_OPERATION = "OWN_ABNORMAL_OPERATION"
    OWN_SERIOUS_VIOLATION = "OWN_SERIOUS_VIOLATION"
    RESPONSIBLE_PERSON_OF_RECORD = "RESPONSIBLE_PERSON_OF_RECORD"
    PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM = "PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM"
    PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM = "PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM"
    # a role a deployment's profile adds to role_rule_roles
    PROPOSAL_OFFICER_OF_SANCTIONED_FIRM = "PROPOSAL_OFFICER_OF_SANCTIONED_FIRM"
    # the party's own current grade is deficient (`role_rule_grades`): REVIEW, never a flag
    OWN_DEFICIENT_GRADE = "OWN_DEFICIENT_GRADE"
    # the party's registration (登记状态) is revoked (吊销) or cancelled (注销): REVIEW
    REGISTRATION_REVOKED = "REGISTRATION_REVOKED"
    REGISTRATION_CANCELLED = "REGISTRATION_CANCELLED"


OWN_REASON: dict[RecordKind, ReasonCode] = {
    RecordKind.BLACKLIST: ReasonCode.OWN_BLACKLIST,
    RecordKind.DISHONEST_DEBTOR: ReasonCode.OWN_DISHONEST_DEBTOR,
    RecordKind.ADMIN_PENALTY: ReasonCode.OWN_ADMIN_PENALTY,
    RecordKind.ABNORMAL_OPERATION: ReasonCode.OWN_ABNORMAL_OPERATION,
    RecordKind.SERIOUS_VIOLATION: ReasonCode.OWN_SERIOUS_VIOLATION,
}

PROPOSAL_REASON: dict[Role, ReasonCode] = {
    Role.LEGAL_REPRESENTATIVE: ReasonCode.PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM,
    Role.PRINCIPAL: ReasonCode.PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM,
}


@dataclass(frozen=True)
class RecordRef:
    """The record behind a flag, a proposal or a history entry, as it stood on the as-of date."""

    uid: str
    record_id: str | None
    kind: RecordKind
    sector: str | None
    list_name: str | None
    scheme: str | None
    grade: str | None
    status: RecordStatus
    status_since: date | None
    starts_on: date | None
    ends_on: date | None
    counts: bool
    under_objection: bool
    term_unknown: bool
    authority: str | None
    decision_number: str | None
    decision_date: date | None
    published_on: date | None
    disclosure: str | None
    disclosure_until: date | None  # the last day a public record is shown to the public role
    source_system: str | None
    source: str | None
    source_row: str | None

    @classmethod
    def from_state(cls, state: RecordState) -> RecordRef:
        r = state.record
        return cls(
            uid=state.uid,
            record_id=r.get("record_id"),
            kind=state.kind,
            sector=r.get("sector"),
            list_name=r.get("list_name"),
            scheme=r.get("scheme"),
            grade=r.get("grade"),
            status=state.status,
            status_since=state.since,
            starts_on=state.starts_on,
            ends_on=state.ends_on,
            counts=state.counts,
            under_objection=state.under_objection,
            term_unknown=state.term_unknown,
            authority=r.get("authority_name"),
            decision_number=r.get("decision_number"),
            decision_date=r.get("decision_date"),
            published_on=r.get("published_on"),
            disclosure=r.get("disclosure"),
            disclosure_until=stored_date(r.get("disclosure_until")),
            source_system=r.get("source_system"),
            source=r.get("source"),
            source_row=r.get("source_row"),
        )


@dataclass(frozen=True)
class RoleLink:
    """A person's role relation to a firm, current on the as-of date."""

    firm: PartyKey
    firm_name: str | None
    relation: RelationType
    role: Role
    matter: str | None
    valid_from: date | None
    valid_to: date | None
    source: str | None
    source_record: str | None


@dataclass(frozen=True)
class Flag:
    """A status flag: an own counting record, or a record the party answers for by its role."""

    code: ReasonCode
    record: RecordRef
    via: RoleLink | None = None  # None: the party's own record
    rule: str | None = None

    @property
    def own(self) -> bool:
        return self.via is None

    @property
    def under_objection(self) -> bool:
        return self.record.under_objection


@dataclass(frozen=True)
class Proposal:
    """A discretionary role rule that applies: a person decides whether to list the party."""

    code: ReasonCode
    record: RecordRef
    via: RoleLink
    rule: str = ROLE_RULE


@dataclass(frozen=True)
class HistoryEntry:
    """A record that no longer counts: why (revoked, repaired, expired, superseded) and since."""

    record: RecordRef
    stopped_on: date | None
    why: str


@dataclass(frozen=True)
class StatusLayer:
    """The status layer of one party on one date."""

    party: PartyKey
    as_of: date
    flags: list[Flag] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    under_objection: list[RecordRef] = field(default_factory=list)
    # limited in time by the profile, with no date to count from and no end: never counts
    term_unknown: list[RecordRef] = field(default_factory=list)
    positive: list[RecordRef] = field(default_factory=list)
    grades: list[RecordRef] = field(default_factory=list)
    # the current grades among `grades` that the profile treats as deficient (`_deficient_grade`)
    deficient_grades: list[RecordRef] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def own_flags(self) -> list[Flag]:
        return [f for f in self.flags if f.own]

    @property
    def linked_flags(self) -> list[Flag]:
        return [f for f in self.flags if not f.own]


# --- reading ------------------------------------------------------------------------------------


def status_layer(
    store: GraphStore, key: PartyKey, *, as_of: date, profile: PolicyProfile
) -> StatusLayer:
    """The status layer of one party (see `status_layers`)."""
    return status_layers(store, [key], as_of=as_of, profile=profile)[key]


def status_layers(
    store: GraphStore, keys: Iterable[PartyKey], *, as_of: date, profile: PolicyProfile
) -> dict[PartyKey, StatusLayer]:
    """The status layers of up to MAX_BATCH parties on `as_of` under `profile`.

    Four reads at most, whatever the batch. A key that names no stored party gets an empty
    layer: telling "not found" from "nothing found" is the caller's job (queries/risk.py).
    Raises ValueError naming `ids` when the batch is larger than MAX_BATCH.
    """
    parties = list(dict.fromkeys(keys))
    if len(parties) > MAX_BATCH:
        raise ValueError(f"ids: at most {MAX_BATCH} parties per call, got {len(parties)}")
    own = _record_states(store, parties, as_of, profile)
    persons = [k.uid for k in parties if k.label is Label.NATURAL_PERSON]
    links = _fetch_role_links(store, persons, as_of, _rule_roles(profile))
    firms = {link.firm for person_links in links.values() for link in person_links}
    firm_states = _record_states(store, firms, as_of, profile) if firms else {}
    return {
        key: _assemble_layer(
            key,
            as_of,
            profile,
            own.get(key, []),
            links.get(key.uid, []) if key.label is Label.NATURAL_PERSON else [],
            firm_states,
        )
        for key in parties
    }


def _record_states(
    store: GraphStore, keys: Iterable[PartyKey], as_of: date, profile: PolicyProfile
) -> dict[PartyKey, list[RecordState]]:
    return fetch_record_states(
        store,
        keys,
        as_of,
        count_objections=profile.count_under_objection,
        default_term=profile.default_term,
    )


def _rule_roles(profile: PolicyProfile) -> list[str]:
    return sorted({role.value for role in profile.role_rule_roles} | {Role.RESPONSIBLE_PERSON})


def _fetch_role_links(
    store: GraphStore, person_uids: Sequence[str], as_of: date, roles: Sequence[str]
) -> dict[str, list[RoleLink]]:
    """Role relations of many persons to firms, current on `as_of`, in `roles`: one read."""
    if not person_uids:
        return {}
    rows = store.read(
        ROLE_RELATIONS_OF_PERSONS,
        {"uids": list(person_uids), "roles": list(roles), "as_of": as_of},
        operation="risk.role_links",
    )
    links: dict[str, list[RoleLink]] = defaultdict(list)
    for row in rows:
        firm = PartyKey(Label.LEGAL_PERSON, row["firm"])
        link = _role_link(firm, row["firm_name"], row["type"], native_record(row["relation"]))
        if link is not None:
            links[row["person"]].append(link)
    return links


def _role_link(
    firm: PartyKey, firm_name: str | None, relation_type: str, relation: Mapping[str, Any]
) -> RoleLink | None:
    try:
        role = Role(relation["role"])
        kind = RelationType(relation_type)
    except ValueError:
        return None  # a role this version does not know cannot trigger a rule
    return RoleLink(
        firm=firm,
        firm_name=firm_name,
        relation=kind,
        role=role,
        matter=relation.get("matter"),
        valid_from=relation.get("valid_from"),
        valid_to=relation.get("valid_to"),
        source=relation.get("source"),
        source_record=relation.get("source_record"),
    )


def _role_links_of(
    relations: Iterable[CentreRelation], profile: PolicyProfile
) -> dict[PartyKey, list[RoleLink]]:
    """The role links of persons among neighbourhood centres, from their current relations
    already read (queries/snapshot.py `read_risk_neighbourhood`): what `_fetch_role_links`
    reads, without a read. O(relations).
    """
    roles = set(_rule_roles(profile))
    links: dict[PartyKey, list[RoleLink]] = defaultdict(list)
    for relation in relations:
        person, firm = relation.centre, relation.other
        if not relation.outgoing or person.label is not Label.NATURAL_PERSON:
            continue
        if firm.label is not Label.LEGAL_PERSON or relation.props.get("role") not in roles:
            continue
        link = _role_link(firm, relation.other_name, relation.type.value, relation.props)
        if link is not None:
            links[person].append(link)
    return links


def role_firms(relations: Sequence[CentreRelation], profile: PolicyProfile) -> set[PartyKey]:
    """The firms whose records the role rules of the person centres look at."""
    return {link.firm for links in _role_links_of(relations, profile).values() for link in links}


def layers_of_neighbourhood(
    hood: Neighbourhood, keys: Iterable[PartyKey], *, as_of: date, profile: PolicyProfile
) -> dict[PartyKey, StatusLayer]:
    """The status layers of a neighbourhood's centres, from what it read (`records_of` must
    have been `role_firms`): the same layers `status_layers` reads, without a read."""
    links = _role_links_of(hood.centre_relations, profile)
    firms = {link.firm for person_links in links.values() for link in person_links}
    firm_states = {firm: hood.records.get(firm, []) for firm in firms}
    return {
        key: _assemble_layer(
            key, as_of, profile, hood.records.get(key, []), links.get(key, []), firm_states
        )
        for key in dict.fromkeys(keys)
    }


# --- the rules (pure) ---------------------------------------------------------------------------


def _assemble_layer(
    party: PartyKey,
    as_of: date,
    profile: PolicyProfile,
    own: Sequence[RecordState],
    links: Sequence[RoleLink],
    firm_states: Mapping[PartyKey, Sequence[RecordState]],
) -> StatusLayer:
    """Apply the status rules to records and role links already read.

    Records are taken in uid order and links in (firm, relation, role, start, source record)
    order, so the layer does not depend on the order the store returned them in.
    O(r log r + l * f) for r own records, l role links and f records per linked firm.
    """
    own = sorted(own, key=lambda state: state.uid)
    links = sorted(links, key=_link_order)
    layer = StatusLayer(party, as_of)
    current_grades, superseded = _split_grades(own)
    for state in own:
        if not state.listed:
            continue  # not started on as_of: the graph did not yet hold it
        ref = RecordRef.from_state(state)
        if state.under_objection:
            layer.under_objection.append(ref)
        if state.status in ENDED_STATUSES:
            layer.history.append(_stopped(ref, state))
        elif state.term_unknown:
            layer.term_unknown.append(ref)
        elif state.uid in superseded:
            layer.history.append(HistoryEntry(ref, superseded[state.uid], "superseded"))
        elif state.negative and state.counts:
            layer.flags.append(Flag(OWN_REASON[state.kind], ref))
        elif state.kind in POSITIVE_KINDS and state.counts:
            layer.positive.append(ref)
        elif state.uid in current_grades:
            layer.grades.append(ref)
            if _deficient_grade(ref.grade, profile):
                layer.deficient_grades.append(ref)
    for link in links:
        states = firm_states.get(link.firm, [])
        if link.role is Role.RESPONSIBLE_PERSON:
            layer.flags.extend(_responsibility_flags(link, states))
        if link.role in profile.role_rule_roles:
            layer.proposals.extend(_role_proposals(link, states, profile))
    # two source rows for the same role at the same firm are one proposal
    unique = {(p.code, p.via.firm, p.record.uid): p for p in reversed(layer.proposals)}
    layer.proposals[:] = unique.values()
    layer.flags.sort(
        key=lambda f: (not f.own, f.code.value, f.record.starts_on or as_of, f.record.uid)
    )
    layer.proposals.sort(key=lambda p: (p.code.value, p.via.firm.uid, p.record.uid))
    layer.history.sort(key=lambda h: (h.stopped_on or as_of, h.record.uid))
    return layer


def _stopped(ref: RecordRef, state: RecordState) -> HistoryEntry:
    # a record repaired or revoked after its term ran out stopped counting when it expired
    if state.since is not None and state.ends_on is not None and state.ends_on < state.since:
        return HistoryEntry(ref, state.ends_on, RecordStatus.EXPIRED.value)
    return HistoryEntry(ref, state.since, state.status.value)


def _link_order(link: RoleLink) -> tuple[str, str, str, date, str]:
    return (
        link.firm.uid,
        link.relation.value,
        link.role.value,
        link.valid_from or date.min,
        link.source_record or "",
    )


def _split_grades(states: Sequence[RecordState]) -> tuple[set[str], dict[str, date | None]]:
    """The current grade per scheme, and the grades a later one superseded (with its date).

    Only counting grades compete; the latest start wins (ties by uid). O(g log g).
    """
    by_scheme: dict[str, list[RecordState]] = defaultdict(list)
    for state in states:
        if state.kind is RecordKind.GRADE and state.counts:
            by_scheme[str(state.record.get("scheme") or "")].append(state)
    current: set[str] = set()
    superseded: dict[str, date | None] = {}
    for grades in by_scheme.values():
        ordered = sorted(grades, key=lambda s: (s.starts_on or date.min, s.uid), reverse=True)
        current.add(ordered[0].uid)
        for state in ordered[1:]:
            superseded[state.uid] = ordered[0].starts_on
    return current, superseded


def _responsibility_flags(link: RoleLink, states: Sequence[RecordState]) -> list[Flag]:
    if not link.matter:
        return []
    return [
        Flag(
            ReasonCode.RESPONSIBLE_PERSON_OF_RECORD,
            RecordRef.from_state(s),
            link,
            RESPONSIBILITY_RULE,
        )
        for s in states
        if s.negative and s.counts and link.matter in _record_names(s)
    ]


def _record_names(state: RecordState) -> set[str]:
    # a matter names a record by its source id, its uid, its case or its decision number
    names = (
        state.uid,
        *(state.record.get(n) for n in ("record_id", "case_number", "decision_number")),
    )
    return {str(name) for name in names if name}


def _deficient_grade(grade: Any, profile: PolicyProfile) -> bool:
    """Whether a current grade's value makes its holder "D-grade": one of the profile's
    `role_rule_grades`, in any scheme, case-insensitive. The one test for both the role rule
    (the firm's representative gets a proposal) and the firm's own screen (OWN_DEFICIENT_GRADE).
    """
    value = str(grade or "").strip().upper()
    return value in {g.strip().upper() for g in profile.role_rule_grades}


def _role_proposals(
    link: RoleLink, states: Sequence[RecordState], profile: PolicyProfile
) -> list[Proposal]:
    code = PROPOSAL_REASON.get(link.role, ReasonCode.PROPOSAL_OFFICER_OF_SANCTIONED_FIRM)
    current_grades, _ = _split_grades(states)
    proposals = []
    for state in states:
        if not state.counts:
            continue
        deficient = state.kind in profile.role_rule_kinds and state.kind in NEGATIVE_KINDS
        d_grade = state.uid in current_grades and _deficient_grade(
            state.record.get("grade"), profile
        )
        if deficient or d_grade:
            proposals.append(Proposal(code, RecordRef.from_state(state), link))
    return proposals


# --- JSON ---------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Dataclasses, named tuples, party keys, enums and dates as plain JSON values."""
    if isinstance(value, PartyKey):
        return {"label": value.label.value, "uid": value.uid}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple: by field
        return {name: to_jsonable(item) for name, item in zip(value._fields, value, strict=True)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def layer_json(layer: StatusLayer) -> dict[str, Any]:
    """A status layer as JSON, the party's own records apart from its linked parties' hits."""

    def flag(f: Flag) -> dict[str, Any]:
        return {**to_jsonable(f), "own": f.own, "under_objection": f.under_objection}

    return {
        "own": {
            "flags": [flag(f) for f in layer.own_flags],
            "under_objection": to_jsonable(layer.under_objection),
            "term_unknown": to_jsonable(layer.term_unknown),
            "positive": to_jsonable(layer.positive),
            "grades": to_jsonable(layer.grades),
            "deficient_grades": to_jsonable(layer.deficient_grades),
            "history": to_jsonable(layer.history),
        },
        "linked": {
            "flags": [flag(f) for f in layer.linked_flags],
            "proposals": to_jsonable(layer.proposals),
        },
    }
