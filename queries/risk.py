"""The risk report: the status layer and the contagion layer of one party, and a screening
decision drawn from them.

`risk_report(store, key, as_of=..., profile=...)` answers for one party on one date under one
policy profile: its flags and proposals (queries/risk_status.py), its contagion score with the
paths that explain it and the date it would clear (queries/contagion.py), and a `snapshot_id`
naming the data and the profile version that produced the answer, so that a decision can be
reproduced. `screen_decision(report, profile)` turns a report into PASS, REVIEW or BLOCK with
its reasons, the subject's own records kept apart from its linked parties' hits; a party that is
not in the graph is NOT_FOUND, which is not the same answer as "no risk found".

The GraphQL fields `riskReport` and `screen` and `credgraph risk explain` call this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, LiteralString

from credgraph.graph.store import GraphStore
from credgraph.queries.contagion import ContagionPath, score_party
from credgraph.queries.lookup import PartyKey, fetch_parties
from credgraph.queries.profiles import PolicyProfile, profile_version
from credgraph.queries.records import native
from credgraph.queries.risk_status import (
    MAX_BATCH,
    StatusLayer,
    layer_json,
    status_layers,
    to_jsonable,
)

# the run ledger's head: every committed load chunk is one LoadChunk node (loaders/loader.py)
LEDGER_HEAD: LiteralString = """
MATCH (c:LoadChunk)
RETURN count(c) AS chunks, max(c.committed_at) AS last_committed_at
"""

__all__ = [
    "MAX_BATCH",
    "Contagion",
    "DataVersion",
    "Outcome",
    "RiskReport",
    "ScreenDecision",
    "ScreenReason",
    "data_version",
    "risk_report",
    "risk_reports",
    "screen_decision",
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
class DataVersion:
    """The load state of the graph: committed chunks in the run ledger and the latest one."""

    chunks: int
    last_committed_at: datetime | None

    def token(self) -> str:
        last = self.last_committed_at.isoformat() if self.last_committed_at else "-"
        return f"{self.chunks}@{last}"


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


@dataclass(frozen=True)
class ScreenReason:
    code: str
    scope: Scope
    detail: str
    record_uid: str | None = None


@dataclass(frozen=True)
class ScreenDecision:
    party: PartyKey
    outcome: Outcome
    reasons: list[ScreenReason]
    as_of: date
    profile: str
    profile_version: str
    snapshot_id: str

    @property
    def own_reasons(self) -> list[ScreenReason]:
        return [r for r in self.reasons if r.scope is Scope.OWN]

    @property
    def linked_reasons(self) -> list[ScreenReason]:
        return [r for r in self.reasons if r.scope is Scope.LINKED]


# --- building reports ---------------------------------------------------------------------------


def data_version(store: GraphStore) -> DataVersion:
    """The run ledger's head: one read over the (few) LoadChunk nodes."""
    rows = store.read(LEDGER_HEAD, operation="risk.data_version")
    row = rows[0] if rows else {}
    last = native(row.get("last_committed_at"))
    return DataVersion(int(row.get("chunks") or 0), last if isinstance(last, datetime) else None)


def snapshot_id(profile: PolicyProfile, data: DataVersion) -> str:
    """A digest naming the profile version and the data state that produced an answer."""
    text = f"{profile_version(profile)}|{data.token()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def risk_report(
    store: GraphStore, key: PartyKey, *, as_of: date, profile: PolicyProfile
) -> RiskReport:
    """Both risk layers of one party on `as_of` under `profile`."""
    return risk_reports(store, [key], as_of=as_of, profile=profile)[key]


def risk_reports(
    store: GraphStore, keys: Iterable[PartyKey], *, as_of: date, profile: PolicyProfile
) -> dict[PartyKey, RiskReport]:
    """Risk reports of up to MAX_BATCH parties, one read per step for the whole batch.

    The contagion layer is scored per found party over its bounded neighbourhood.
    """
    parties = list(dict.fromkeys(keys))
    layers = status_layers(store, parties, as_of=as_of, profile=profile)
    found = fetch_parties(store, parties)
    data = data_version(store)
    snapshot = snapshot_id(profile, data)
    version = profile_version(profile)
    reports = {}
    for key in parties:
        node = found.get(key)
        reports[key] = RiskReport(
            party=key,
            found=node is not None,
            name=node.get("name") if node else None,
            as_of=as_of,
            profile=profile.name,
            profile_version=version,
            data_version=data,
            snapshot_id=snapshot,
            status=layers[key],
            contagion=(
                contagion_of(store, key, as_of=as_of, profile=profile)
                if node is not None
                else Contagion(available=False)
            ),
        )
    return reports


def contagion_of(
    store: GraphStore, key: PartyKey, *, as_of: date, profile: PolicyProfile
) -> Contagion:
    """The one place the contagion layer is wired in: `score_party` of queries/contagion.py."""
    result = score_party(store, key, profile, as_of)
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


def screen_decision(report: RiskReport, profile: PolicyProfile) -> ScreenDecision:
    """PASS, REVIEW or BLOCK for a found party, NOT_FOUND for one the graph does not hold.

    - an own counting negative record: BLOCK when the profile's `block_on_own_record`, else
      REVIEW;
    - an own record under objection, a responsibility flag, a proposal, or a contagion score
      from linked parties at or above the profile's `review_at`: REVIEW (the part of the score
      that the party's own records make is already there as its own flags);
    - nothing of that: PASS.

    Raises ValueError naming `profile` when the report was made under another profile version.
    """
    if profile_version(profile) != report.profile_version:
        raise ValueError(
            f"profile: the report was made under {report.profile!r} "
            f"(version {report.profile_version}), not {profile.name!r}"
        )
    if not report.found:
        reasons = [ScreenReason("NOT_FOUND", Scope.OWN, "the graph holds no party with this id")]
        return _decision(report, Outcome.NOT_FOUND, reasons)
    reasons = [*_own_reasons(report.status), *_linked_reasons(report, profile)]
    outcome = Outcome.PASS
    if reasons:
        outcome = Outcome.REVIEW
    if profile.block_on_own_record and any(r.code.startswith("OWN_") for r in reasons):
        outcome = Outcome.BLOCK
    return _decision(report, outcome, reasons)


def _own_reasons(layer: StatusLayer) -> list[ScreenReason]:
    reasons = [
        ScreenReason(
            flag.code.value,
            Scope.OWN,
            f"own {flag.record.kind.value} record counts"
            + (" (under objection)" if flag.under_objection else ""),
            flag.record.uid,
        )
        for flag in layer.own_flags
    ]
    reasons.extend(
        ScreenReason(
            "RECORD_UNDER_OBJECTION",
            Scope.OWN,
            f"own {record.kind.value} record is under objection",
            record.uid,
        )
        for record in layer.under_objection
    )
    return reasons


def _linked_reasons(report: RiskReport, profile: PolicyProfile) -> list[ScreenReason]:
    layer = report.status
    reasons = [
        ScreenReason(
            flag.code.value,
            Scope.LINKED,
            f"responsible person of {flag.record.kind.value} record of "
            f"{flag.via.firm_name or flag.via.firm.uid if flag.via else '?'}",
            flag.record.uid,
        )
        for flag in layer.linked_flags
    ]
    reasons.extend(
        ScreenReason(
            proposal.code.value,
            Scope.LINKED,
            f"{proposal.via.role.value} of {proposal.via.firm_name or proposal.via.firm.uid} "
            f"with a counting {proposal.record.kind.value} record: a person decides",
            proposal.record.uid,
        )
        for proposal in layer.proposals
    )
    contagion = report.contagion
    if not contagion.available:
        reasons.append(
            ScreenReason(
                "CONTAGION_UNAVAILABLE", Scope.LINKED, "the contagion layer did not answer"
            )
        )
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


def _decision(report: RiskReport, outcome: Outcome, reasons: list[ScreenReason]) -> ScreenDecision:
    return ScreenDecision(
        party=report.party,
        outcome=outcome,
        reasons=reasons,
        as_of=report.as_of,
        profile=report.profile,
        profile_version=report.profile_version,
        snapshot_id=report.snapshot_id,
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
    }
