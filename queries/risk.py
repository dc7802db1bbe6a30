"""The risk report: the status layer and the contagion layer of one party, and a screening
decision drawn from them.

`risk_report(store, key, as_of=..., profile=...)` answers for one party on one date under one
policy profile: its flags and proposals (queries/risk_status.py), its contagion score with the
paths that explain it and the date it would clear (queries/contagion.py), and a `snapshot_id`
naming the data and the profile version that produced the answer, so that a decision can be
reproduced. `screen_decision(report, profile)` turns a report into PASS, REVIEW or BLOCK with
its reasons, the subject's own records kept apart from its linked parties' hits; a party that is
not in the graph is NOT_FOUND, which is not the same answer as "no risk found".

A batch of parties is read together: the data version (queries/ledger.py: one small read, or
none within a `DataVersionCache`'s time), then one neighbourhood read per contagion level for
all of them, then one read of the records (queries/snapshot.py `read_risk_neighbourhood`),
from which both layers are drawn; a further read fetches the relations the contagion paths show
when they lie beyond the parties' own relations. `max_depth` + 2 or 3 reads for any batch, as
long as its neighbourhood stays within `CREDGRAPH_RISK_NEIGHBOURHOOD_CAP` relations; when it
does not, each party's is read alone under the cap, and a party whose own neighbourhood passes
it (one next to a professional officer on thousands of boards) is answered with its status
layer in full and its contagion layer cut (`Contagion.truncated`), never a stall.

The GraphQL fields `riskReport` and `screen` and `credgraph risk explain` call this module. The
API keeps the reports it answered in a `ReportCache` (`CREDGRAPH_RISK_REPORT_CACHE_SIZE`): an
approval system screens the same applicant for a licence, a contract and a grant, and the
snapshot id tells when the graph has changed since. It keeps the relations of hubs too (a
`HubCache`, `CREDGRAPH_API_HUB_CACHE_RELATIONS`, shared with walks and path searches): a new
applicant one step from a professional officer on hundreds of boards reads the officer's boards
once, not at every screen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from credgraph.graph.store import GraphStore, StoreError
from credgraph.graph.vocabulary import CODE_WORD, RecordStatus, RegistrationStatus, Sector
from credgraph.queries.caches import HubCache, Hubs, LruCache, Observer, PerVersion
from credgraph.queries.contagion import ContagionPath, PartyScore, score_parties
from credgraph.queries.ledger import (
    DataVersion,
    DataVersionCache,
    current_data_version,
    data_version,
)
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.records import NEGATIVE_KINDS
from credgraph.queries.risk_status import (
    MAX_BATCH,
    ReasonCode,
    RecordRef,
    StatusLayer,
    layer_json,
    layers_of_neighbourhood,
    role_firms,
    to_jsonable,
)
from credgraph.queries.snapshot import (
    CentreRelation,
    Neighbourhood,
    SanctionSubjects,
    read_risk_neighbourhood,
)

# relations one risk report's neighbourhood walk reads in all (CREDGRAPH_RISK_NEIGHBOURHOOD_CAP)
DEFAULT_NEIGHBOURHOOD_CAP = 20_000

MAX_SECTOR_LENGTH = 40

__all__ = [
    "MAX_BATCH",
    "Contagion",
    "DataMoved",
    "DataVersion",
    "DataVersionCache",
    "Outcome",
    "ReportCache",
    "RiskReport",
    "ScreenDecision",
    "ScreenReason",
    "current_data_version",
    "data_version",
    "risk_report",
    "risk_reports",
    "screen_decision",
    "sector_code",
]


class Outcome(StrEnum):
    PASS = "PASS"  # noqa: S105 (a screening outcome, not a secret)
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"
    NOT_FOUND = "NOT_FOUND"


class Scope(StrEnum):
    """Whose record a screening reason rests on."""

    OWN = "own"  # the subject's own records
    LINKED = "linked"  # a linked party's records: role rules and contagion


@dataclass(frozen=True)
class Contagion:
    """The contagion layer's answer for one party (queries/contagion.py `score_party`)."""

    available: bool
    score: float = 0.0
    clears_on: date | None = None
    paths: list[ContagionPath] = field(default_factory=list)
    # the part of the score that comes from linked parties' records (None: all of it); the
    # party's own records already weigh as its own flags, so screening looks at this part
    linked_score: float | None = None
    # the neighbourhood passed `cap` (CREDGRAPH_RISK_NEIGHBOURHOOD_CAP) relations before the
    # profile's depth: no score, no paths, no clearing date (`available` False), and
    # `explored_depth` the hops whose every relation was read; for a score, the depth it was
    # read to (None for a party not found)
    truncated: bool = False
    explored_depth: int | None = None
    cap: int | None = None

    @property
    def from_linked_parties(self) -> float:
        return self.score if self.linked_score is None else self.linked_score


@dataclass(frozen=True)
class RiskReport:
    """Both risk layers of one party on one date under one profile."""

    party: PartyKey
    found: bool
    name: str | None
    as_of: date
    profile: str
    profile_version: str
    data_version: DataVersion
    snapshot_id: str
    status: StatusLayer
    contagion: Contagion
    # a legal person's registration status as the graph holds it (登记状态: `active`, `revoked`,
    # `cancelled`, `moved_out`); None for a natural person and a party not found. The registry
    # gives no date: it is the status the latest load listed, whatever the as-of date
    registration_status: str | None = None


# a registration that sends a screen to REVIEW: the business may no longer trade
REGISTRATION_REASON: dict[str, ReasonCode] = {
    RegistrationStatus.REVOKED.value: ReasonCode.REGISTRATION_REVOKED,
    RegistrationStatus.CANCELLED.value: ReasonCode.REGISTRATION_CANCELLED,
}


@dataclass(frozen=True)
class ScreenReason:
    code: str
    scope: Scope
    detail: str
    record_uid: str | None = None
    disclosure: str | None = None  # of the record: who may be told which record it is
    record_sector: str | None = None
    # whether the record is of the sector screened for; None when no sector was given, or the
    # record names none
    in_sector: bool | None = None
    # the last day the record is public (docs/security.md): who may be told which record it is
    disclosure_until: date | None = None
    # the record is under objection on the as-of date (DOMAIN.md: annotated in every answer);
    # False for a reason without a record
    under_objection: bool = False
    # the record's status on the as-of date: a repaired, revoked or expired one is no longer
    # public (docs/security.md); None for a reason without a record
    record_status: RecordStatus | None = None

    @classmethod
    def of_record(cls, code: str, scope: Scope, detail: str, record: RecordRef) -> ScreenReason:
        """A reason resting on `record`: its id, disclosure, sector, status and objection."""
        return cls(
            code,
            scope,
            detail,
            record.uid,
            record.disclosure,
            record.sector,
            disclosure_until=record.disclosure_until,
            record_status=record.status,
            under_objection=record.under_objection,
        )


@dataclass(frozen=True)
class ScreenDecision:
    party: PartyKey
    outcome: Outcome
    reasons: list[ScreenReason]
    as_of: date
    profile: str
    profile_version: str
    snapshot_id: str
    sector: str | None = None  # the sector screened for, when one was given
    # information beside the reasons, about the party itself; none of it offsets a reason
    # (DOMAIN.md: red lists and grades do not mask sanctions)
    registration_status: str | None = None
    grades: list[RecordRef] = field(default_factory=list)  # current, one per scheme
    positive: list[RecordRef] = field(default_factory=list)  # counting red lists and honours

    @property
    def own_reasons(self) -> list[ScreenReason]:
        return [r for r in self.reasons if r.scope is Scope.OWN]

    @property
    def linked_reasons(self) -> list[ScreenReason]:
        return [r for r in self.reasons if r.scope is Scope.LINKED]


# --- building reports ---------------------------------------------------------------------------


def snapshot_id(profile: PolicyProfile, data: DataVersion) -> str:
    """A digest naming the profile version and the data state that produced an answer."""
    text = f"{profile_version(profile)}|{data.token()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def risk_report(
    store: GraphStore,
    key: PartyKey,
    *,
    as_of: date,
    profile: PolicyProfile,
    versions: DataVersionCache | None = None,
    cache: ReportCache | None = None,
    data: DataVersion | None = None,
    hubs: HubCache | None = None,
    subjects: PerVersion[SanctionSubjects] | None = None,
    clearing: bool = True,
    cap: int = DEFAULT_NEIGHBOURHOOD_CAP,
) -> RiskReport:
    """Both risk layers of one party on `as_of` under `profile` (see `risk_reports`)."""
    reports = risk_reports(
        store,
        [key],
        as_of=as_of,
        profile=profile,
        versions=versions,
        cache=cache,
        data=data,
        hubs=hubs,
        subjects=subjects,
        clearing=clearing,
        cap=cap,
    )
    return reports[key]


def risk_reports(
    store: GraphStore,
    keys: Iterable[PartyKey],
    *,
    as_of: date,
    profile: PolicyProfile,
    versions: DataVersionCache | None = None,
    cache: ReportCache | None = None,
    data: DataVersion | None = None,
    hubs: HubCache | None = None,
    subjects: PerVersion[SanctionSubjects] | None = None,
    clearing: bool = True,
    cap: int = DEFAULT_NEIGHBOURHOOD_CAP,
) -> dict[PartyKey, RiskReport]:
    """Risk reports of up to MAX_BATCH parties, read together (see the module docstring).

    The data version is `data` when the caller has read it already (the API reads it once per
    request), else it comes from `versions` (the API's per-process cache), else from the store.
    Reports already in `cache` for this snapshot id and date are not read again; the relations
    of the hubs `hubs` keeps for this data version are not read again either, and when
    `subjects` holds the sanction subjects of this data version (queries/warmup.py warms it),
    the records read names only those among the parties reached. Each report equals the one
    its party gets alone. Without `clearing` the reports seek no clearing date (`clears_on`
    None; a screen shows none), and are kept apart in `cache` from those with one.

    A neighbourhood walk reads at most `cap` relations (`CREDGRAPH_RISK_NEIGHBOURHOOD_CAP`):
    when the batch's passes it, each party's is read alone, and a party whose own passes it
    gets its status layer in full and no contagion score (`Contagion.truncated`; a screen says
    REVIEW, CONTAGION_UNAVAILABLE). Raises ValueError naming `ids` when the batch is larger
    than MAX_BATCH.
    """
    parties = list(dict.fromkeys(keys))
    if len(parties) > MAX_BATCH:
        raise ValueError(f"ids: at most {MAX_BATCH} parties per call, got {len(parties)}")
    if not parties:
        return {}
    given = data is not None
    for _ in range(READS_UNDER_ONE_VERSION):
        if data is None:
            data = current_data_version(store, versions)
        snapshot = snapshot_id(profile, data)
        answered = (
            cache.get_many(store.database, snapshot, as_of, parties, clearing=clearing)
            if cache
            else {}
        )
        missing = [key for key in parties if key not in answered]
        if not missing:
            return {key: answered[key] for key in parties}
        token = data.token()
        fresh = _read_reports(
            store,
            missing,
            as_of=as_of,
            profile=profile,
            snapshot=snapshot,
            data=data,
            hubs=hubs.bound(store, token) if hubs is not None else None,
            subjects=subjects.get(store.database, token) if subjects is not None else None,
            clearing=clearing,
            cap=cap,
        )
        # the reads are several statements: a load chunk or a record change committed among
        # them would show under a snapshot id that names the data before it. The head's
        # counters only grow, so the same head after the reads means nothing committed
        now = data_version(store, operation="risk.data_version_check")
        if now == data:
            if cache is not None:
                cache.put_many(store.database, snapshot, as_of, fresh, clearing=clearing)
            answered.update(fresh)
            return {key: answered[key] for key in parties}
        if versions is not None:
            versions.invalidate()
        if given:  # the caller labels its answer with `data`: it reads again
            raise DataMoved(now)
        data = now
    raise StoreError(
        f"the graph changed while the reports were read, {READS_UNDER_ONE_VERSION} times: try again"
    )


class DataMoved(Exception):
    """The graph's data version moved while reports were read under the one given (`now` is
    the newer): read again under it, identifiers included, so that an answer and its snapshot
    id name the same data."""

    def __init__(self, now: DataVersion) -> None:
        super().__init__(f"the data version moved to {now.token()} while the reports were read")
        self.now = now


# how many times a report is read again when the graph moves while it is read; a load commits
# a chunk every second or so, a report's reads take tens of milliseconds
READS_UNDER_ONE_VERSION = 3


def _read_reports(
    store: GraphStore,
    parties: list[PartyKey],
    *,
    as_of: date,
    profile: PolicyProfile,
    data: DataVersion,
    snapshot: str,
    hubs: Hubs | None,
    subjects: SanctionSubjects | None,
    clearing: bool,
    cap: int,
) -> dict[PartyKey, RiskReport]:
    version = profile_version(profile)

    def status_firms(relations: Sequence[CentreRelation]) -> set[PartyKey]:
        return role_firms(relations, profile)

    hood = read_risk_neighbourhood(
        store,
        parties,
        as_of,
        depth=profile.max_depth,
        profile=profile,
        records_of=status_firms,
        hubs=hubs,
        subjects=subjects,
        cap=cap,
    )
    if hood.truncated and len(parties) > 1:
        # one hub must not take the other parties' answers with it: each under the cap alone
        alone: dict[PartyKey, RiskReport] = {}
        for key in parties:
            alone |= _read_reports(
                store,
                [key],
                as_of=as_of,
                profile=profile,
                data=data,
                snapshot=snapshot,
                hubs=hubs,
                subjects=subjects,
                clearing=clearing,
                cap=cap,
            )
        return alone
    layers = layers_of_neighbourhood(hood, parties, as_of=as_of, profile=profile)
    found = [key for key in parties if key in hood.names]
    scores: dict[PartyKey, PartyScore] = {}
    if not hood.truncated:
        scores = score_parties(
            hood.snapshot, found, profile, store=store, clearing=clearing, cap=cap
        )
    return {
        key: RiskReport(
            party=key,
            found=key in hood.names,
            name=hood.names.get(key),
            as_of=as_of,
            profile=profile.name,
            profile_version=version,
            data_version=data,
            snapshot_id=snapshot,
            status=layers[key],
            contagion=_contagion(key, hood, scores, profile, cap),
            registration_status=hood.registration.get(key),
        )
        for key in parties
    }


class ReportCache:
    """Risk reports already answered, by database, snapshot id, date and party: at most `size`
    of them, the least recently used dropped first (`size` 0 keeps none).

    Right without expiry: the snapshot id names the profile version and the data version, and
    every committed load chunk and every record change moves the data version (queries/
    ledger.py), so a report is only ever found for the graph and profile that produced it.
    Thread-safe; O(1) per party.
    """

    def __init__(self, size: int, observer: Observer | None = None) -> None:
        self._cache: LruCache[tuple[Any, ...], RiskReport] = LruCache(size, observer)

    @property
    def size(self) -> int:
        return self._cache.size

    @property
    def hits(self) -> int:
        return self._cache.hits

    @property
    def misses(self) -> int:
        return self._cache.misses

    def get_many(
        self,
        database: str | None,
        snapshot: str,
        as_of: date,
        keys: Sequence[PartyKey],
        *,
        clearing: bool = True,
    ) -> dict[PartyKey, RiskReport]:
        found = self._cache.get_many((database, snapshot, as_of, clearing, key) for key in keys)
        return {entry[4]: report for entry, report in found.items()}

    def put_many(
        self,
        database: str | None,
        snapshot: str,
        as_of: date,
        reports: Mapping[PartyKey, RiskReport],
        *,
        clearing: bool = True,
    ) -> None:
        """Keep `reports`; those made without a clearing date (`clearing` False) apart from
        those with one, which a report with one must not be answered by."""
        self._cache.put_many(
            {(database, snapshot, as_of, clearing, key): report for key, report in reports.items()}
        )


def _contagion(
    key: PartyKey,
    hood: Neighbourhood,
    scores: Mapping[PartyKey, PartyScore],
    profile: PolicyProfile,
    cap: int,
) -> Contagion:
    if hood.truncated and key in hood.names:
        return Contagion(
            available=False, truncated=True, explored_depth=hood.explored_depth, cap=cap
        )
    if key not in scores:
        return Contagion(available=False)
    return replace(contagion_of(key, scores[key]), explored_depth=profile.max_depth)


def contagion_of(key: PartyKey, result: PartyScore) -> Contagion:
    """The one place the contagion layer is wired in: a `PartyScore` of queries/contagion.py."""
    return Contagion(
        available=True,
        score=float(result.score),
        clears_on=result.clears_on,
        paths=list(result.paths),
        linked_score=linked_part(key, result.paths, float(result.score)),
    )


def linked_part(key: PartyKey, paths: Sequence[ContagionPath], score: float) -> float:
    """The noisy-OR of the contributions of linked parties' records (not the party's own).

    Exact when no own record contributes (then it is the score); otherwise folded from the
    ranked explanation paths, which hold the largest contributions. O(p) for p paths.
    """
    if all(path.subject != key for path in paths):
        return score
    keep = 1.0
    for path in paths:
        if path.subject != key:
            keep *= 1.0 - path.contribution
    return 1.0 - keep


# --- screening ----------------------------------------------------------------------------------


def screen_decision(
    report: RiskReport, profile: PolicyProfile, sector: str | None = None
) -> ScreenDecision:
    """PASS, REVIEW or BLOCK for a found party, NOT_FOUND for one the graph does not hold.

    - an own counting negative record: BLOCK when the profile's `block_on_own_record`, else
      REVIEW; but REVIEW when the screen is for a `sector` and the record is of a kind the
      profile's `sector_scoped_kinds` limits to its own sector and of another sector (a
      tourism blacklist, screened for a construction licence);
    - an own negative record under objection or whose term is unknown, a responsibility flag,
      a proposal, or a contagion score from linked parties at or above the profile's
      `review_at`: REVIEW (the part of the score that the party's own records make is already
      there as its own flags);
    - an own current grade the role rule treats as deficient (`OWN_DEFICIENT_GRADE`), or a
      revoked or cancelled registration (`REGISTRATION_REVOKED`, `REGISTRATION_CANCELLED`):
      REVIEW;
    - nothing of that: PASS.

    The party's registration status, current grades and positive records come with the
    decision, apart from the reasons: none of them offsets a reason. Each reason from a record
    says the record's sector and, when a `sector` is given, whether
    it is that one. Raises ValueError naming `profile` when the report was made under another
    profile version.
    """
    if profile_version(profile) != report.profile_version:
        raise ValueError(
            f"profile: the report was made under {report.profile!r} "
            f"(version {report.profile_version}), not {profile.name!r}"
        )
    if not report.found:
        reasons = [ScreenReason("NOT_FOUND", Scope.OWN, "the graph holds no party with this id")]
        return _decision(report, Outcome.NOT_FOUND, reasons, sector)
    reasons = [
        _placed(reason, sector)
        for reason in (
            *_own_reasons(report.status, profile, sector),
            *_standing_reasons(report),
            *_linked_reasons(report, profile),
        )
    ]
    outcome = Outcome.PASS
    if reasons:
        outcome = Outcome.REVIEW
    blocking = [f for f in report.status.own_flags if not _other_sector(f.record, profile, sector)]
    if profile.block_on_own_record and blocking:
        outcome = Outcome.BLOCK
    return _decision(report, outcome, reasons, sector)


def sector_code(raw: str | None) -> str | None:
    """The sector a screen is for, as a code (`construction`, or a city's own: lower-case
    letters, digits and `_`); None when not given. ValueError for anything else."""
    if raw is None or not raw.strip():
        return None
    code = raw.strip().lower()
    if len(code) > MAX_SECTOR_LENGTH or not CODE_WORD.match(code):
        known = ", ".join(sector.value for sector in Sector)
        raise ValueError(
            f"not a sector code (lower-case letters, digits and _, up to {MAX_SECTOR_LENGTH}: "
            f"{known}, or a city's own)"
        )
    return code


def _other_sector(record: RecordRef, profile: PolicyProfile, sector: str | None) -> bool:
    """Whether `record` weighs in another sector than the one screened for, under a profile
    that limits its kind to its own sector."""
    return (
        sector is not None
        and record.kind in profile.sector_scoped_kinds
        and record.sector is not None
        and record.sector != sector
    )


def _placed(reason: ScreenReason, sector: str | None) -> ScreenReason:
    """The reason with whether its record is of the sector screened for."""
    if sector is None or reason.record_sector is None:
        return reason
    return replace(reason, in_sector=reason.record_sector == sector)


def _own_reasons(
    layer: StatusLayer, profile: PolicyProfile, sector: str | None
) -> list[ScreenReason]:
    reasons = [
        ScreenReason.of_record(
            flag.code.value,
            Scope.OWN,
            f"own {flag.record.kind.value} record counts"
            + (" (under objection)" if flag.under_objection else "")
            + (
                f" in {flag.record.sector}, not in {sector}: a person decides"
                if _other_sector(flag.record, profile, sector)
                else ""
            ),
            flag.record,
        )
        for flag in layer.own_flags
    ]
    reasons.extend(
        ScreenReason(
            "RECORD_UNDER_OBJECTION",
            Scope.OWN,
            f"own {record.kind.value} record is under objection",
            record.uid,
            record.disclosure,
            record.sector,
            disclosure_until=record.disclosure_until,
            record_status=record.status,
            under_objection=True,
        )
        for record in layer.under_objection
        if record.kind in NEGATIVE_KINDS  # an honour under objection is no reason to look
    )
    reasons.extend(
        ScreenReason.of_record(
            "RECORD_TERM_UNKNOWN",
            Scope.OWN,
            f"own {record.kind.value} record has no date to count its term from: a person decides",
            record,
        )
        for record in layer.term_unknown
        if record.kind in NEGATIVE_KINDS
    )
    return reasons


def _standing_reasons(report: RiskReport) -> list[ScreenReason]:
    """Own reasons from the party's standing rather than a negative record: a current grade the
    role rule treats as deficient (the test its representative's proposal rests on), and a
    revoked or cancelled registration. Each sends to REVIEW, never to BLOCK."""
    reasons = [
        ScreenReason.of_record(
            ReasonCode.OWN_DEFICIENT_GRADE.value,
            Scope.OWN,
            f"own current {grade.scheme or 'unnamed'} grade {grade.grade} is deficient"
            + (f" ({grade.authority})" if grade.authority else "")
            + ": a person decides",
            grade,
        )
        for grade in report.status.deficient_grades
    ]
    code = REGISTRATION_REASON.get(report.registration_status or "")
    if code is not None:
        reasons.append(
            ScreenReason(
                code.value,
                Scope.OWN,
                f"registration status is {report.registration_status}: a person decides",
            )
        )
    return reasons


def _linked_reasons(report: RiskReport, profile: PolicyProfile) -> list[ScreenReason]:
    layer = report.status
    reasons = [
        ScreenReason.of_record(
            flag.code.value,
            Scope.LINKED,
            f"responsible person of {flag.record.kind.value} record of "
            f"{flag.via.firm_name or flag.via.firm.uid if flag.via else '?'}"
            + (" (under objection)" if flag.under_objection else ""),
            flag.record,
        )
        for flag in layer.linked_flags
    ]
    reasons.extend(
        ScreenReason.of_record(
            proposal.code.value,
            Scope.LINKED,
            f"{proposal.via.role.value} of {proposal.via.firm_name or proposal.via.firm.uid} "
            f"with a counting {proposal.record.kind.value} record"
            + (" (under objection)" if proposal.record.under_objection else "")
            + ": a person decides",
            proposal.record,
        )
        for proposal in layer.proposals
    )
    contagion = report.contagion
    if not contagion.available:
        reasons.append(ScreenReason("CONTAGION_UNAVAILABLE", Scope.LINKED, _unavailable(contagion)))
    elif contagion.from_linked_parties >= profile.review_at:
        reasons.append(
            ScreenReason(
                "CONTAGION_AT_OR_ABOVE_REVIEW",
                Scope.LINKED,
                f"contagion from linked parties {contagion.from_linked_parties:.3f} >= "
                f"review_at {profile.review_at} (whole score {contagion.score:.3f})",
            )
        )
    return reasons


def _unavailable(contagion: Contagion) -> str:
    if not contagion.truncated:
        return "the contagion layer did not answer"
    return (
        "the contagion layer did not answer: the neighbourhood passed "
        f"CREDGRAPH_RISK_NEIGHBOURHOOD_CAP ({contagion.cap} relations) after "
        f"{contagion.explored_depth} hop(s); a person decides"
    )


def _decision(
    report: RiskReport, outcome: Outcome, reasons: list[ScreenReason], sector: str | None
) -> ScreenDecision:
    return ScreenDecision(
        party=report.party,
        outcome=outcome,
        reasons=reasons,
        as_of=report.as_of,
        profile=report.profile,
        profile_version=report.profile_version,
        snapshot_id=report.snapshot_id,
        sector=sector,
        registration_status=report.registration_status,
        grades=list(report.status.grades),
        positive=list(report.status.positive),
    )


# --- JSON ---------------------------------------------------------------------------------------


def report_json(report: RiskReport) -> dict[str, Any]:
    """A report as JSON: the party's own records apart from its linked parties' hits."""
    status = layer_json(report.status)
    return {
        "party": to_jsonable(report.party),
        "found": report.found,
        "name": report.name,
        "as_of": report.as_of.isoformat(),
        "profile": report.profile,
        "profile_version": report.profile_version,
        "snapshot_id": report.snapshot_id,
        "data_version": to_jsonable(report.data_version),
        "registration_status": report.registration_status,
        "own": status["own"],
        "linked": {**status["linked"], "contagion": to_jsonable(report.contagion)},
    }


def decision_json(decision: ScreenDecision) -> dict[str, Any]:
    return {
        "party": to_jsonable(decision.party),
        "outcome": decision.outcome.value,
        "own_reasons": to_jsonable(decision.own_reasons),
        "linked_reasons": to_jsonable(decision.linked_reasons),
        "as_of": decision.as_of.isoformat(),
        "profile": decision.profile,
        "profile_version": decision.profile_version,
        "snapshot_id": decision.snapshot_id,
        "sector": decision.sector,
        "registration_status": decision.registration_status,
        "grades": to_jsonable(decision.grades),
        "positive": to_jsonable(decision.positive),
    }
