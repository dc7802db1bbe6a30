"""The risk root fields: `riskReport` (both risk layers of one party) and `screen`
(decisions for applicants), with the records, flags and contagion paths as the caller's role may
see them (docs/risk-model.md, Risk report and screening)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

import strawberry
from credgraph.api.context import Context, chosen_profile
from credgraph.api.errors import BadInput
from credgraph.api.parties import (
    hop_relation,
    materialise,
    pseudonymised_record_id,
    pseudonymises,
    resolve_party,
)
from credgraph.api.roles import CONTAGION, Purpose, sees_disclosure
from credgraph.api.types import Party, Relation
from credgraph.graph import clock
from credgraph.graph.identifiers import names_a_person
from credgraph.graph.store import StoreError, stored_date
from credgraph.graph.vocabulary import Label, RecordStatus, RelationType
from credgraph.queries.contagion import ContagionPath, Hop
from credgraph.queries.lookup import PartyKey, uids_keyed_by
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.risk import (
    MAX_BATCH,
    READS_UNDER_ONE_VERSION,
    Contagion,
    DataMoved,
    DataVersion,
    ScreenDecision,
    current_data_version,
    risk_report,
    risk_reports,
    screen_decision,
    sector_code,
    snapshot_id,
)
from credgraph.queries.risk import RiskReport as PartyRiskReport
from credgraph.queries.traversal import Hop as StoredHop

T = TypeVar("T")


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
    scheme: str | None = strawberry.field(
        default=None, description="a grade's scheme (`tax`, `labour` ...); null for other kinds"
    )
    grade: str | None = strawberry.field(
        default=None, description="a grade's value in its scheme; null for other kinds"
    )
    list_name: str | None = strawberry.field(
        default=None, description="the list it is on (a red list's, a blacklist's name)"
    )


@strawberry.type(
    description="An own record that no longer counts on the as-of date, and since when."
)
class RiskHistoryEntry:
    record: RiskRecord
    stopped_on: date | None = strawberry.field(description="the first day it no longer counted")
    why: str = strawberry.field(description="`revoked`, `repaired`, `expired` or `superseded`")


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
    under_objection: bool = strawberry.field(
        description="the record behind the flag is under objection on the as-of date (said "
        "also when `record` is null for the caller's role)"
    )


@strawberry.enum(
    description="Which way an evidence path's hop runs: FORWARD, the relation is stored from "
    "the earlier party of the path (nearer the record) to the later one; BACKWARD, from the "
    "later to the earlier (the path from a sanctioned firm to a firm that guarantees it runs "
    "against the guarantee). Risk travels a relation either way."
)
class HopDirection(StrEnum):
    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"


@strawberry.type(
    description="A path by which risk reaches the party (contagion layer): from the subject of "
    "the record at its start to the party, hop i linking partyIds[i] and partyIds[i+1]."
)
class EvidencePath:
    party_ids: list[strawberry.ID] = strawberry.field(
        description="from the record's subject to the party asked about"
    )
    relations: list[str] = strawberry.field(
        description="the hops' relation types, in order (as `hops`; kept for older callers)"
    )
    hops: list[Relation] = strawberry.field(
        description="the hops in order, each the relation as the `paths` field shows it: "
        "`fromId`/`toId` give the direction it is stored in, which `directions` says relative "
        "to the path; with its role, stake, amount and validity dates"
    )
    directions: list[HopDirection] = strawberry.field(
        description="hop i's direction relative to the path: FORWARD when stored from "
        "partyIds[i] to partyIds[i+1], BACKWARD when from partyIds[i+1] to partyIds[i]"
    )
    contribution: float | None
    record_id: strawberry.ID | None
    under_objection: bool = strawberry.field(
        description="the record at the path's start is under objection on the as-of date (said "
        "also when `recordId` is null for the caller's role); only a counting record starts a "
        "path, so one under objection only under a profile that counts objections (`strict`)"
    )


@strawberry.type(description="The analytic contagion score: never a sanction status.")
class ContagionScore:
    available: bool
    score: float | None
    clears_on: date | None = strawberry.field(description="when the score would fall below clear")
    paths: list[EvidencePath]
    truncated: bool = strawberry.field(
        default=False,
        description="the neighbourhood walk passed CREDGRAPH_RISK_NEIGHBOURHOOD_CAP relations "
        "before the profile's depth (a hub with thousands of links near the party): no score, "
        "no paths and no clearing date (`available` false); a screen says REVIEW "
        "(CONTAGION_UNAVAILABLE). The flags and proposals are answered in full all the same",
    )
    explored_depth: int | None = strawberry.field(
        default=None,
        description="the hops from the party whose every relation the walk read: the profile's "
        "depth for a score, fewer when `truncated`",
    )


REGISTRATION_DESCRIPTION = (
    "the party's registration status (登记状态) as the graph holds it: `active`, `revoked` "
    "(吊销), `cancelled` (注销), `moved_out` (迁出); the registry gives no date, so it is the "
    "status the latest load listed. `revoked` and `cancelled` send a screen to REVIEW "
    "(REGISTRATION_REVOKED, REGISTRATION_CANCELLED). Null for a natural person"
)
GRADES_DESCRIPTION = (
    "the party's own current grades, one per scheme (the counting grade that started last: "
    "`scheme`, `grade`, `authority` the issuer, `startsOn` its date); information beside the "
    "reasons, never offsetting a negative record"
)
POSITIVE_DESCRIPTION = (
    "the party's own counting red-list and honour records; information beside the reasons: "
    "they never offset a negative record (DOMAIN.md: red lists do not mask sanctions)"
)


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
    registration_status: str | None = strawberry.field(
        default=None,
        description=REGISTRATION_DESCRIPTION,
    )
    grades: list[RiskRecord] = strawberry.field(
        default_factory=list, description=GRADES_DESCRIPTION
    )
    deficient_grades: list[RiskRecord] = strawberry.field(
        default_factory=list,
        description="those of `grades` the profile treats as deficient (`role_rule_grades`): "
        "each sends a screen to REVIEW (OWN_DEFICIENT_GRADE)",
    )
    positive: list[RiskRecord] = strawberry.field(
        default_factory=list, description=POSITIVE_DESCRIPTION
    )
    history: list[RiskHistoryEntry] = strawberry.field(
        default_factory=list,
        description="own records that stopped counting by the as-of date (revoked, repaired, "
        "expired, superseded), with the day they stopped",
    )


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
        "record has no date to count its term from: REVIEW), OWN_DEFICIENT_GRADE (an own "
        "current grade is one the role rule treats as D-grade, `role_rule_grades`: REVIEW, as "
        "its legal representative's proposal), REGISTRATION_REVOKED, REGISTRATION_CANCELLED "
        "(the party's registration is revoked (吊销) or cancelled (注销): REVIEW). In "
        "`linkedReasons`, REVIEW at "
        "most: RESPONSIBLE_PERSON_OF_RECORD (the person is responsible for a firm's counting "
        "record), PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM, "
        "PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM, PROPOSAL_OFFICER_OF_SANCTIONED_FIRM (the "
        "person holds that role at a seriously deficient or D-grade firm: a proposal, a person "
        "decides), CONTAGION_AT_OR_ABOVE_REVIEW (the contagion score from linked parties "
        "reaches the profile's `review_at`), CONTAGION_UNAVAILABLE (the contagion layer did "
        "not answer, or the party's neighbourhood passed CREDGRAPH_RISK_NEIGHBOURHOOD_CAP "
        "relations: an unanswered check is not a pass)."
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
    under_objection: bool = strawberry.field(
        default=False,
        description="the record behind the reason is under objection on `asOf` (said also when "
        "`recordId` is null for the caller's role); false for a reason without a record (a "
        "contagion reason: its evidence paths in `riskReport` say it of each record)",
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
        description="reasons from the party's own records, grades and registration"
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
    registration_status: str | None = strawberry.field(
        default=None, description=REGISTRATION_DESCRIPTION
    )
    grades: list[RiskRecord] = strawberry.field(
        default_factory=list, description=GRADES_DESCRIPTION
    )
    positive: list[RiskRecord] = strawberry.field(
        default_factory=list, description=POSITIVE_DESCRIPTION
    )


def _risk_record(ctx: Context, ref: Any, day: date, of_person: bool = False) -> RiskRecord | None:
    """The record behind a flag as the role sees it in an answer for `day`: None when it may
    not see its class (a public record past its `disclosure_until` counting as
    government_shared), and without its decision number when it is a pseudonymised person's
    (`of_person`)."""
    if not sees_disclosure(
        ctx.role, ref.disclosure, until=ref.disclosure_until, day=day, status=ref.status
    ):
        return None
    hide = of_person and pseudonymises(ctx)
    return RiskRecord(
        id=pseudonymised_record_id(ctx, ref.uid) if hide else strawberry.ID(ref.uid),
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
        decision_date=stored_date(ref.decision_date),
        disclosure=ref.disclosure,
        source_system=ref.source_system,
        scheme=ref.scheme,
        grade=ref.grade,
        list_name=ref.list_name,
    )


def _risk_records(ctx: Context, refs: Any, day: date, of_person: bool) -> list[RiskRecord]:
    """The records among `refs` the role sees (`_risk_record`), in order."""
    return [r for r in (_risk_record(ctx, ref, day, of_person) for ref in refs) if r]


def _history(ctx: Context, layer: Any, day: date, of_person: bool) -> list[RiskHistoryEntry]:
    return [
        RiskHistoryEntry(record=record, stopped_on=entry.stopped_on, why=entry.why)
        for entry in layer.history
        if (record := _risk_record(ctx, entry.record, day, of_person)) is not None
    ]


def _flag(ctx: Context, flag: Any, proposal: bool, of_person: bool, day: date) -> RiskFlag:
    """A flag of a party's report; `of_person`: the party is a natural person, whose own
    records its own flags name (a flag via a role names a firm's record)."""
    via = flag.via
    return RiskFlag(
        code=flag.code.value,
        own=via is None,
        proposal=proposal,
        record=_risk_record(ctx, flag.record, day, of_person and via is None),
        via_firm_id=strawberry.ID(via.firm.uid) if via else None,
        via_firm_name=via.firm_name if via else None,
        via_relation=via.relation if via else None,
        via_role=via.role.value if via else None,
        rule=flag.rule,
        under_objection=flag.record.under_objection,
    )


def _evidence(ctx: Context, path: ContagionPath, day: date) -> EvidencePath:
    """A contagion path; its record named only to a role that sees the record's class."""
    record = path.record
    return EvidencePath(
        party_ids=[strawberry.ID(party.uid) for party in path.parties],
        relations=[hop.type.value for hop in path.hops],
        hops=[_evidence_hop(ctx, hop, day) for hop in path.hops],
        directions=[
            HopDirection.FORWARD if hop.direction == "forward" else HopDirection.BACKWARD
            for hop in path.hops
        ],
        contribution=float(path.contribution),
        record_id=_record_id(
            ctx,
            record.uid,
            record.disclosure,
            record.disclosure_until,
            record.status,
            day,
            path.subject.label is Label.NATURAL_PERSON,
        ),
        under_objection=record.under_objection,
    )


def _evidence_hop(ctx: Context, hop: Hop, day: date) -> Relation:
    """A contagion hop as the `paths` field's hops show a relation (its stored direction, and
    a person's relation without what names the person to a pseudonymising role)."""
    properties = {
        "role": hop.role,
        "stake": hop.stake,
        "amount": hop.amount,
        "valid_from": hop.valid_from,
        "valid_to": hop.valid_to,
        "source": hop.source,
        "source_record": hop.source_record,
        "matter": hop.matter,
        "project_role": hop.project_role,
        "subscribed_capital": hop.subscribed_capital,
    }
    return hop_relation(ctx, StoredHop(hop.type, hop.stored_from, hop.stored_to, properties), day)


def _record_id(
    ctx: Context,
    uid: str | None,
    disclosure: str | None,
    until: date | None,
    status: RecordStatus | str | None,
    day: date,
    of_person: bool = False,
) -> strawberry.ID | None:
    """A record's id, or None when the role does not see its disclosure class in an answer for
    `day` (a public record past its `disclosure_until`, `until`, or repaired, revoked or expired
    on `day`, `status`, counts as government_shared):
    the record still counts (a decision does not depend on who asks), but is not named. A
    natural person's record (`of_person`) goes by its pseudonym to a pseudonymising role."""
    if uid is None or not sees_disclosure(
        ctx.role, disclosure, until=until, day=day, status=status
    ):
        return None
    if of_person and pseudonymises(ctx):
        return pseudonymised_record_id(ctx, uid)
    return strawberry.ID(uid)


def build_risk_report(
    ctx: Context, id: str, as_of: date | None, profile: str | None
) -> RiskReport | None:
    """The root field `riskReport`: the party `id` names, its status and contagion score
    under the chosen profile."""
    chosen = chosen_profile(ctx, profile)

    def read(data: DataVersion) -> tuple[PartyKey | None, PartyRiskReport | None]:
        key = resolve_party(ctx, id, data=data)
        if key is None:
            return None, None
        report = risk_report(
            ctx.store,
            key,
            as_of=as_of or clock.today(),
            profile=chosen,
            versions=ctx.services.versions,
            cache=ctx.services.reports,
            data=data,
            hubs=ctx.services.hubs,
            subjects=ctx.services.subjects,
            cap=ctx.settings.risk_neighbourhood_cap,
        )
        return key, report

    data, (key, report) = under_one_version(ctx, read)
    if key is None or report is None:
        ctx.register("riskReport", persons=names_a_person(id), outcome="not_found")
        return _not_found_report(chosen, data, as_of or clock.today())
    parties = materialise(ctx, [key], data, day=as_of)
    person = key.label is Label.NATURAL_PERSON
    passed = _persons_on_paths(ctx, report.contagion)
    ctx.register(
        "riskReport",
        subjects=[key, *passed],
        size=1 if report.found else 0,
        persons=person or bool(passed),
        basis={
            "snapshot": report.snapshot_id,
            "profile": report.profile,
            "profile_version": report.profile_version,
            "as_of": report.as_of.isoformat(),
        },
    )
    return _shown_report(ctx, report, parties.get(key), person)


def _persons_on_paths(ctx: Context, contagion: Contagion) -> list[PartyKey]:
    """The natural persons on the evidence paths the role sees."""
    # an evidence path through a person names the person and the person's record: that touches
    # a natural person as much as asking for one does (docs/security.md, Purpose)
    return [
        party
        for path in (contagion.paths if ctx.role in CONTAGION else ())
        for party in path.parties
        if party.label is Label.NATURAL_PERSON
    ]


def _shown_report(
    ctx: Context, report: PartyRiskReport, party: Party | None, person: bool
) -> RiskReport:
    """The report as the role sees it; `person`: its party is a natural person."""
    layer, contagion, day = report.status, report.contagion, report.as_of
    return RiskReport(
        party=party,
        found=report.found,
        as_of=report.as_of,
        profile=report.profile,
        profile_version=report.profile_version,
        snapshot_id=report.snapshot_id,
        flags=[_flag(ctx, f, False, person, day) for f in layer.flags],
        proposals=[_flag(ctx, p, True, person, day) for p in layer.proposals],
        under_objection=[
            r for r in (_risk_record(ctx, x, day, person) for x in layer.under_objection) if r
        ],
        term_unknown=[
            r for r in (_risk_record(ctx, x, day, person) for x in layer.term_unknown) if r
        ],
        contagion=_contagion_score(ctx, contagion, day) if ctx.role in CONTAGION else None,
        clears_on=contagion.clears_on if ctx.role in CONTAGION else None,
        registration_status=report.registration_status,
        grades=_risk_records(ctx, layer.grades, day, person),
        deficient_grades=_risk_records(ctx, layer.deficient_grades, day, person),
        positive=_risk_records(ctx, layer.positive, day, person),
        history=_history(ctx, layer, day, person),
    )


def _contagion_score(ctx: Context, contagion: Contagion, day: date) -> ContagionScore:
    return ContagionScore(
        available=contagion.available,
        score=contagion.score if contagion.available else None,
        clears_on=contagion.clears_on,
        paths=[_evidence(ctx, p, day) for p in contagion.paths],
        truncated=contagion.truncated,
        explored_depth=contagion.explored_depth,
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


def screen_parties(
    ctx: Context, ids: list[str], purpose: Purpose, profile: str | None, sector: str | None
) -> list[ScreenResult]:
    """The root field `screen`: each of `ids` screened for `purpose`."""
    if not 1 <= len(ids) <= ctx.settings.api_max_screen_ids:
        raise BadInput.argument("ids", f"give 1 to {ctx.settings.api_max_screen_ids} ids")
    chosen = chosen_profile(ctx, profile)
    try:
        sector = sector_code(sector)
    except ValueError as exc:
        raise BadInput.argument("sector", str(exc)) from None
    as_of = clock.today()

    # under one data version: it names the snapshot, and keys the identifier and report caches
    def read(
        data: DataVersion,
    ) -> tuple[list[PartyKey | None], list[PartyKey], dict[PartyKey, PartyRiskReport]]:
        keys = [resolve_party(ctx, raw, f"ids[{index}]", data) for index, raw in enumerate(ids)]
        found = list(dict.fromkeys(k for k in keys if k is not None))
        return keys, found, _screen_reports(ctx, found, as_of, chosen, data)

    data, (keys, found, reports) = under_one_version(ctx, read)
    version = profile_version(chosen)
    snapshot = snapshot_id(chosen, data)
    decided: list[tuple[PartyKey | None, ScreenDecision | None]] = []
    for key in keys:
        report = reports.get(key) if key else None
        if report is None or not report.found:
            decided.append((None, None))
        else:
            decided.append((key, screen_decision(report, chosen, sector)))
    ctx.register(
        "screen",
        subjects=found,
        size=len(ids),
        persons=any(names_a_person(raw) for raw in ids),
        purpose=purpose,
        outcome="ok" if found else "not_found",
        sector=sector,
        basis=_screen_basis(ctx, ids, decided, snapshot, chosen, as_of),
    )
    return [
        _screened(ctx, index, decision, sector)
        if decision is not None
        else _not_found(index, snapshot, chosen.name, version, as_of, sector)
        for index, (_, decision) in enumerate(decided)
    ]


def under_one_version(ctx: Context, read: Callable[[DataVersion], T]) -> tuple[DataVersion, T]:
    """`read` under the graph's data version, and the version: read again, identifiers
    included, when the graph moved while it read (a load chunk or a record change committed
    among its statements: `DataMoved`), so that an answer and its snapshot id name the same
    data. A graph that keeps moving: StoreError (STORE_UNAVAILABLE, try again)."""
    for _ in range(READS_UNDER_ONE_VERSION):
        data = current_data_version(ctx.store, ctx.services.versions)
        try:
            return data, read(data)
        except DataMoved:
            continue  # the version cache was cleared: the next read is a newer one
    raise StoreError(
        f"the graph changed while the answer was read, {READS_UNDER_ONE_VERSION} times: try again"
    )


def _screen_basis(
    ctx: Context,
    ids: list[str],
    decided: list[tuple[PartyKey | None, ScreenDecision | None]],
    snapshot: str,
    chosen: PolicyProfile,
    as_of: date,
) -> dict[str, Any]:
    """What a screen decided and on what, for its audit event (docs/security.md, Audit): the
    snapshot id, the profile and its version, the day, and for each id in the order given its
    party's token (none when not found), the decision and each reason's code with its record's
    token. Tokens, never identifiers: a supervisor who holds the party or record finds it."""
    return {
        "snapshot": snapshot,
        "profile": chosen.name,
        "profile_version": profile_version(chosen),
        "as_of": as_of.isoformat(),
        "decisions": [
            {"subject": _unknown_subject(ctx, raw), "decision": Decision.NOT_FOUND.value}
            if key is None or decision is None
            else {
                "subject": ctx.subject_token(key),
                "decision": decision.outcome.value,
                "reasons": [
                    [reason.code, ctx.token(reason.record_uid) if reason.record_uid else None]
                    for reason in decision.reasons
                ],
            }
            for raw, (key, decision) in zip(ids, decided, strict=True)
        ],
    }


def _unknown_subject(ctx: Context, raw: str) -> str | None:
    """The token of the uid an id that names no party would key its party by (a USCC, a
    resident ID number's person token), so that the applicant's screens are found later
    (`credgraph audit find`) even when it was not found; None when only the store could
    tell (a legacy code, `REG:`)."""
    uids = uids_keyed_by(raw, ctx.person_key())
    return ctx.token(uids[0]) if uids else None


def _screen_reports(
    ctx: Context, found: list[PartyKey], as_of: date, chosen: PolicyProfile, data: DataVersion
) -> dict[PartyKey, PartyRiskReport]:
    """The reports of the parties found, all under the data version `data`."""
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
            clearing=False,  # a screen shows no clearing date: none is sought
            cap=ctx.settings.risk_neighbourhood_cap,
        )
    return reports


def _not_found(
    index: int, snapshot: str, profile: str, version: str, as_of: date, sector: str | None
) -> ScreenResult:
    return ScreenResult(
        index=index,
        party_id=None,
        decision=Decision.NOT_FOUND,
        found=False,
        own_reasons=[],
        linked_reasons=[],
        snapshot_id=snapshot,
        profile=profile,
        profile_version=version,
        as_of=as_of,
        sector=sector,
    )


def _screened(
    ctx: Context, index: int, decision: ScreenDecision, sector: str | None
) -> ScreenResult:
    """The decision on a party found, with the reasons as the role sees them."""
    person = decision.party.label is Label.NATURAL_PERSON
    return ScreenResult(
        index=index,
        party_id=strawberry.ID(decision.party.uid),
        decision=Decision(decision.outcome.value),
        found=True,
        own_reasons=[_reason(ctx, r, decision.as_of) for r in decision.own_reasons],
        linked_reasons=[_reason(ctx, r, decision.as_of) for r in decision.linked_reasons],
        snapshot_id=decision.snapshot_id,
        profile=decision.profile,
        profile_version=decision.profile_version,
        as_of=decision.as_of,
        sector=sector,
        registration_status=decision.registration_status,
        grades=_risk_records(ctx, decision.grades, decision.as_of, person),
        positive=_risk_records(ctx, decision.positive, decision.as_of, person),
    )


def _reason(ctx: Context, reason: Any, day: date) -> ScreenReason:
    record_id = _record_id(
        ctx,
        reason.record_uid,
        reason.disclosure,
        reason.disclosure_until,
        reason.record_status,
        day,
    )
    return ScreenReason(
        code=reason.code,
        detail=reason.detail,
        record_id=record_id,
        record_sector=reason.record_sector if record_id is not None else None,
        in_sector=reason.in_sector,
        under_objection=reason.under_objection,
    )
