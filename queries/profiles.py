"""Named policy profiles: every parameter of the risk model in one closed, validated object.

A profile decides how records weigh (severity by kind, escalation for repeated dishonesty,
recency half-life, default durations), how risk travels (relation weights, stake weighting,
decay per hop, depth), which one-step role rules apply, whether a record under objection
counts, and the screening thresholds. Two profiles ship built in (`default`, `strict`); a
deployment adds its own in a YAML file named by `CREDGRAPH_RISK_PROFILES_FILE`, each either
complete or `extends:` another profile and overriding some fields; it never redefines a
built-in one. docs/risk-model.md
explains every parameter; a test checks that each field is documented there.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import yaml
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import PARTY_RELATIONS, RecordKind, RelationType, Role
from credgraph.queries.records import NEGATIVE_KINDS
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_PROFILE = "default"

# a term in a profile: written and read back as `3y`, `6m`, `90d` (records.py `Term`)
ProfileTerm = Annotated[Term, PlainValidator(Term.parse), PlainSerializer(str)]


class ProfileError(ValueError):
    """A profile name that does not exist, or a profiles file that does not validate."""


class PolicyProfile(BaseModel):
    """The parameters of the two risk layers. All weights are in [0, 1]."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    description: str = ""

    # records: which count, and how much
    count_under_objection: bool = Field(
        False, description="a record under objection counts (else it is only annotated)"
    )
    severity: dict[RecordKind, float] = Field(
        default_factory=lambda: {
            RecordKind.BLACKLIST: 1.0,
            RecordKind.DISHONEST_DEBTOR: 0.9,
            RecordKind.SERIOUS_VIOLATION: 0.9,
            RecordKind.ADMIN_PENALTY: 0.4,
            RecordKind.ABNORMAL_OPERATION: 0.2,
        }
    )
    escalation: float = Field(
        0.25, ge=0, le=1, description="extra weight per further active negative record"
    )
    half_life_days: float = Field(730.0, gt=0, description="recency: weight halves per period")
    default_term: dict[RecordKind, ProfileTerm] = Field(
        default_factory=lambda: {
            RecordKind.ADMIN_PENALTY: Term(years=3),
            RecordKind.ABNORMAL_OPERATION: Term(years=3),
            RecordKind.SERIOUS_VIOLATION: Term(years=3),
            RecordKind.BLACKLIST: Term(years=3),
            RecordKind.DISHONEST_DEBTOR: Term(years=5),
        },
        description="how long a record without an end counts, from its decision date",
    )

    # status layer: one-step role rules of DOMAIN.md
    role_rule_kinds: frozenset[RecordKind] = Field(
        default_factory=lambda: frozenset(
            {RecordKind.BLACKLIST, RecordKind.SERIOUS_VIOLATION, RecordKind.DISHONEST_DEBTOR}
        ),
        description="record kinds of a firm that flag its legal representative and principal",
    )
    role_rule_roles: frozenset[Role] = Field(
        default_factory=lambda: frozenset({Role.LEGAL_REPRESENTATIVE, Role.PRINCIPAL}),
        description="roles the firm rule reaches (one step only, DOMAIN.md)",
    )
    sector_scoped_kinds: frozenset[RecordKind] = Field(
        default_factory=frozenset,
        description="record kinds whose own counting record BLOCKs a screen only for its own "
        "sector: screened for another sector, it sends to REVIEW",
    )
    role_rule_grades: frozenset[str] = Field(
        default_factory=lambda: frozenset({"D"}),
        description="grade values (any scheme) that make a firm D-grade for the role rule",
    )

    # contagion layer
    relation_weight: dict[RelationType, float] = Field(
        default_factory=lambda: {
            RelationType.LEGAL_REPRESENTATIVE_OF: 0.8,
            RelationType.PRINCIPAL_OF: 0.8,
            RelationType.ACTUAL_CONTROLLER_OF: 0.9,
            RelationType.EXECUTIVE_OF: 0.5,
            RelationType.RESPONSIBLE_FOR: 0.6,
            RelationType.REGISTERED_PROFESSIONAL_OF: 0.3,
            RelationType.PRACTISES_AT: 0.2,
            RelationType.SHAREHOLDER_OF: 1.0,
            RelationType.INVESTS_IN: 0.4,
            RelationType.BRANCH_OF: 0.7,
            RelationType.GUARANTEES: 0.7,
            RelationType.SUPPLIES: 0.1,
            RelationType.MEMBER_OF: 0.1,
            RelationType.PARTICIPATES_IN: 0.1,
        }
    )
    stake_weighted: bool = Field(True, description="SHAREHOLDER_OF weight is multiplied by stake")
    missing_stake: float = Field(
        0.5, ge=0, le=1, description="stake of a SHAREHOLDER_OF relation that records none"
    )
    decay: float = Field(0.5, gt=0, lt=1, description="factor applied per hop")
    max_depth: int = Field(3, ge=1, le=4, description="hops risk may travel")
    min_contribution: float = Field(
        0.01, gt=0, lt=1, description="a path contributing less is dropped"
    )
    clear_below: float = Field(0.05, gt=0, lt=1, description="a score below this is clear")
    explain_paths: int = Field(10, ge=1, le=100, description="paths kept per explanation")

    # whole-graph triage
    pagerank_alpha: float = Field(0.85, gt=0, lt=1, description="PageRank damping")

    # screening
    review_at: float = Field(0.2, ge=0, le=1, description="contagion score sending to REVIEW")
    block_on_own_record: bool = Field(True, description="an own counting record means BLOCK")

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        # profiles written before terms took years and months named them in days
        if isinstance(data, Mapping) and "default_duration_days" in data:
            raise ValueError(
                "default_duration_days is now default_term: a term per kind such as 3y, 6m or "
                "1095d (docs/risk-model.md)"
            )
        return data

    @field_validator("severity", "relation_weight")
    @classmethod
    def _weights_in_unit_interval(cls, value: dict[Any, float]) -> dict[Any, float]:
        for key, weight in value.items():
            if not 0 <= weight <= 1:
                raise ValueError(f"{key}: weight {weight} is outside [0, 1]")
        return value

    @field_validator("relation_weight")
    @classmethod
    def _party_relations_only(cls, value: dict[RelationType, float]) -> dict[RelationType, float]:
        # contagion walks party relations only (never a record link, an alias or a same-as
        # guess): a weight on another type would be silently ignored, so it is refused
        for relation in value:
            if relation not in PARTY_RELATIONS:
                raise ValueError(
                    f"{relation.value} is no relation between parties that risk travels along "
                    "(docs/risk-model.md: contagion follows party relations only)"
                )
        return value

    @field_validator("severity", "role_rule_kinds", "sector_scoped_kinds")
    @classmethod
    def _negative_kinds_only(cls, value: Any) -> Any:
        # a red list, an honour or a grade is never held against anyone (DOMAIN.md): a profile
        # naming one here would be silently ignored, so it is refused instead
        for kind in value:
            if kind not in NEGATIVE_KINDS:
                negative = ", ".join(sorted(k.value for k in NEGATIVE_KINDS))
                raise ValueError(f"{kind.value} is not a negative record kind ({negative})")
        return value


BUILTIN_PROFILES: dict[str, PolicyProfile] = {
    "default": PolicyProfile(
        name="default",
        description="National practice defaults: objections suspend, three hops, halving per hop",
    ),
    "strict": PolicyProfile(
        name="strict",
        description="For procurement and fiscal funds: objections count, slower recency decay",
        count_under_objection=True,
        half_life_days=1460.0,
        decay=0.6,
        review_at=0.1,
    ),
}


@dataclass(frozen=True)
class KnownProfile:
    """A profile and where it comes from: `source` is None for a built-in profile, else the
    profiles file; `extends` is the profile it starts from (None for a built-in one)."""

    profile: PolicyProfile
    source: Path | None = None
    extends: str | None = None


def load_profiles(path: Path | None) -> dict[str, PolicyProfile]:
    """The built-in profiles plus those in the YAML file at `path` (if any), by name.

    The file maps profile names to their fields; `extends: NAME` starts from another profile.
    Raises ProfileError naming the profile and field that do not validate, or the profile that
    takes a built-in profile's name.
    """
    return {known.profile.name: known.profile for known in known_profiles(path)}


def known_profiles(path: Path | None) -> list[KnownProfile]:
    """What `load_profiles` gives, the built-in profiles first and then the file's in its order,
    each with where it comes from. Raises ProfileError as `load_profiles`."""
    known = [KnownProfile(profile) for profile in BUILTIN_PROFILES.values()]
    if path is None:
        return known
    profiles = dict(BUILTIN_PROFILES)
    for name, fields in _read_profiles_file(path).items():
        entry = _profile_from(path, str(name), fields, profiles)
        profiles[entry.profile.name] = entry.profile
        known.append(entry)
    return known


def _read_profiles_file(path: Path) -> Mapping[Any, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read profiles: {exc}") from None
    if not isinstance(document, Mapping):
        raise ProfileError(f"{path}: expected a mapping of profile names to fields")
    return document


def _refuse_builtin_name(path: Path, name: str) -> None:
    # a decision names its profile and version: were `default` redefined by the file, the same
    # name would mean other parameters in every process that reads the file, and the built-in
    # ones in any that does not (a CLI run without the setting), against the same store
    if name in BUILTIN_PROFILES:
        raise ProfileError(
            f"{path}: profile {name!r} is a built-in profile and cannot be redefined; give the "
            f"changed profile a new name with `extends: {name}` (docs/risk-model.md)"
        )


def _profile_from(
    path: Path, name: str, fields: Any, known: Mapping[str, PolicyProfile]
) -> KnownProfile:
    _refuse_builtin_name(path, name)
    if not isinstance(fields, Mapping):
        raise ProfileError(f"{path}: profile {name!r}: expected a mapping of fields")
    values = dict(fields)
    base_name = str(values.pop("extends", DEFAULT_PROFILE))
    if base_name not in known:
        raise ProfileError(f"{path}: profile {name!r}: extends unknown profile {base_name!r}")
    merged = {**known[base_name].model_dump(), **values, "name": name}
    try:
        return KnownProfile(PolicyProfile.model_validate(merged), path, base_name)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ProfileError(f"{path}: profile {name!r}: {problems}") from None


def choose_profile(profiles: Mapping[str, PolicyProfile], name: str | None) -> PolicyProfile:
    """The profile called `name` (the default when None), or ProfileError listing the names."""
    chosen = name or DEFAULT_PROFILE
    if chosen not in profiles:
        raise ProfileError(f"unknown profile {chosen!r}; known: {', '.join(sorted(profiles))}")
    return profiles[chosen]


def profile_version(profile: PolicyProfile) -> str:
    """A short digest of every parameter: names the exact model a score or decision used.

    The same in every process: sets are written sorted (their iteration order follows the
    string hash, which Python salts per process) and keys in order. A profile is frozen, so
    its digest is kept with it (the API asks for it on every risk report and screen)."""
    kept = _VERSIONS.get(id(profile))
    if kept is not None and kept[0] is profile:
        return kept[1]
    canonical = json.dumps(profile_parameters(profile), sort_keys=True)
    version = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    with _VERSIONS_LOCK:
        if len(_VERSIONS) >= _KEPT_VERSIONS:
            _VERSIONS.pop(next(iter(_VERSIONS)))
        # the profile is held with its digest, so its id cannot name another profile meanwhile
        _VERSIONS[id(profile)] = (profile, version)
    return version


def profile_parameters(profile: PolicyProfile) -> dict[str, Any]:
    """Every parameter of `profile` as JSON data, sets sorted: what `profile_version` digests
    (the first 12 hex digits of the SHA-256 of `json.dumps(parameters, sort_keys=True)`), so
    that the version can be checked against the parameters kept for it."""
    parameters: dict[str, Any] = _canonical(profile.model_dump(mode="python"))
    return parameters


_KEPT_VERSIONS = 64
_VERSIONS: dict[int, tuple[PolicyProfile, str]] = {}
_VERSIONS_LOCK = threading.Lock()


def _canonical(value: Any) -> Any:
    """`value` as JSON data that does not depend on set order."""
    if isinstance(value, dict):
        return {str(_canonical(k)): _canonical(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(item) for item in value), key=json.dumps)
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, Enum):
        return _canonical(value.value)
    if isinstance(value, (date, Decimal)):
        return str(value)
    return value
