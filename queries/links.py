"""Suspected links with their evidence: parties that share an officer, an address, a phone or an
e-mail with a given party.

A suspected link is no relation: nothing here is stored or traversed, and each link says what it
rests on. `shared_officer`: the person (shown masked) holds a role at both legal persons, with the
roles on each side; `shared_address`, `shared_phone`, `shared_email`: the two parties carry the same
matching key (docs/formats.md: address name key, phone digits, lower-case e-mail).

A key that many parties share (a registered agent's address, a bookkeeper's phone, an officer on
hundreds of boards) says little about any one pair and would flood the answer: when more than
`per_key_cap` other parties share one piece of evidence, the answer reports that evidence in
`crowded` with the number of parties instead of listing them. At most `limit` links are returned
and `truncated` says when more were found; a party's officers are read up to `cap`.

Reads: one for the party's officers, one for their other firms (counts and at most
`per_key_cap` firms per officer, aggregated in the store), one per contact key and label, and one
per label for the names on the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, LiteralString

from credgraph.graph import clock
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RelationType
from credgraph.queries.lookup import ArgumentError, PartyKey, fetch_parties
from credgraph.queries.tracing import described
from credgraph.queries.traversal import relation_filter

DEFAULT_PER_KEY_CAP = 100
DEFAULT_LIMIT = 500
DEFAULT_OFFICER_CAP = 1000

OFFICER_RELATIONS: tuple[RelationType, ...] = (
    RelationType.LEGAL_REPRESENTATIVE_OF,
    RelationType.PRINCIPAL_OF,
    RelationType.EXECUTIVE_OF,
    RelationType.ACTUAL_CONTROLLER_OF,
)


class LinkKind(StrEnum):
    SHARED_OFFICER = "shared_officer"
    SHARED_ADDRESS = "shared_address"
    SHARED_PHONE = "shared_phone"
    SHARED_EMAIL = "shared_email"


OFFICERS_OF_LEGAL_PERSON: LiteralString = """
MATCH (p:NaturalPerson)-[r]->(:LegalPerson {uid: $uid})
WHERE type(r) IN $types
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
RETURN p.uid AS person, coalesce(r.role, toLower(type(r))) AS role
LIMIT $cap
"""

OTHER_FIRMS_OF_OFFICERS: LiteralString = """
UNWIND $persons AS person
MATCH (:NaturalPerson {uid: person})-[r]->(b:LegalPerson)
WHERE type(r) IN $types AND b.uid <> $uid
  AND ($include_former OR r.valid_to IS NULL OR r.valid_to > $as_of)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
WITH person, b.uid AS other, collect(DISTINCT coalesce(r.role, toLower(type(r)))) AS roles
WITH person, count(other) AS firms, collect({uid: other, roles: roles}) AS others
RETURN person, firms, others[0..$per_key] AS others
"""

LEGAL_PERSONS_BY_ADDRESS_KEY: LiteralString = """
MATCH (b:LegalPerson {address_key: $value})
WHERE b.uid <> $uid
WITH collect(b.uid) AS uids
RETURN size(uids) AS parties, uids[0..$per_key] AS sample
"""

LEGAL_PERSONS_BY_PHONE_KEY: LiteralString = """
MATCH (b:LegalPerson {phone_key: $value})
WHERE b.uid <> $uid
WITH collect(b.uid) AS uids
RETURN size(uids) AS parties, uids[0..$per_key] AS sample
"""

NATURAL_PERSONS_BY_PHONE_KEY: LiteralString = """
MATCH (b:NaturalPerson {phone_key: $value})
WHERE b.uid <> $uid
WITH collect(b.uid) AS uids
RETURN size(uids) AS parties, uids[0..$per_key] AS sample
"""

LEGAL_PERSONS_BY_EMAIL_KEY: LiteralString = """
MATCH (b:LegalPerson {email_key: $value})
WHERE b.uid <> $uid
WITH collect(b.uid) AS uids
RETURN size(uids) AS parties, uids[0..$per_key] AS sample
"""

NATURAL_PERSONS_BY_EMAIL_KEY: LiteralString = """
MATCH (b:NaturalPerson {email_key: $value})
WHERE b.uid <> $uid
WITH collect(b.uid) AS uids
RETURN size(uids) AS parties, uids[0..$per_key] AS sample
"""

# (kind, the party property holding the key, the loaded value shown as evidence, statements)
_CONTACTS: tuple[tuple[LinkKind, str, str, tuple[tuple[Label, LiteralString], ...]], ...] = (
    (
        LinkKind.SHARED_ADDRESS,
        "address_key",
        "address",
        ((Label.LEGAL_PERSON, LEGAL_PERSONS_BY_ADDRESS_KEY),),
    ),
    (
        LinkKind.SHARED_PHONE,
        "phone_key",
        "phone",
        (
            (Label.LEGAL_PERSON, LEGAL_PERSONS_BY_PHONE_KEY),
            (Label.NATURAL_PERSON, NATURAL_PERSONS_BY_PHONE_KEY),
        ),
    ),
    (
        LinkKind.SHARED_EMAIL,
        "email_key",
        "email",
        (
            (Label.LEGAL_PERSON, LEGAL_PERSONS_BY_EMAIL_KEY),
            (Label.NATURAL_PERSON, NATURAL_PERSONS_BY_EMAIL_KEY),
        ),
    ),
)
_KIND_ORDER = {kind: i for i, kind in enumerate(LinkKind)}


@dataclass(frozen=True)
class SuspectedLink:
    """Another party linked to the one asked about by `kind`, and what the link rests on.

    `evidence` for `shared_officer`: `person` (a PartyKey), `roles_here` (the person's roles at
    the party asked about) and `roles_there` (at the other party); for the contact kinds: `key`
    (the shared matching key) and the value as loaded on the party asked about.
    """

    kind: LinkKind
    party: PartyKey
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CrowdedEvidence:
    """Evidence shared by more than `per_key_cap` other parties: reported, not listed."""

    kind: LinkKind
    evidence: dict[str, Any]
    parties: int


@dataclass
class LinksResult:
    root: PartyKey
    as_of: date
    items: list[SuspectedLink] = field(default_factory=list)
    crowded: list[CrowdedEvidence] = field(default_factory=list)
    found: int = 0
    truncated: bool = False
    parties: dict[PartyKey, dict[str, Any]] = field(default_factory=dict)


def suspected_links(
    store: GraphStore,
    root: PartyKey,
    *,
    as_of: date | None = None,
    include_former: bool = False,
    officer_types: Sequence[RelationType] = OFFICER_RELATIONS,
    per_key_cap: int = DEFAULT_PER_KEY_CAP,
    limit: int = DEFAULT_LIMIT,
    cap: int = DEFAULT_OFFICER_CAP,
    describe: bool = True,
) -> LinksResult:
    """Parties sharing an officer, an address, a phone or an e-mail with `root`.

    Officers are the persons in `officer_types` roles at `root` on `as_of` (current ones unless
    `include_former`). O(officers x their firms) in the store, bounded by the caps. `parties`
    names the parties of the answer when `describe` (one more read per label).
    """
    for name, value in (("per_key_cap", per_key_cap), ("limit", limit), ("cap", cap)):
        if value < 1:
            raise ArgumentError(name, "must be at least 1")
    day = as_of or clock.today()
    types = [t.value for t in relation_filter(officer_types).types]
    result = LinksResult(root, day)
    links: list[SuspectedLink] = []
    if root.label is Label.LEGAL_PERSON:
        links += _shared_officers(store, root, day, include_former, types, per_key_cap, cap, result)
    node = fetch_parties(store, [root]).get(root, {})
    links += _shared_contacts(store, root, node, per_key_cap, result)
    links.sort(key=_link_order)
    result.found = len(links)
    result.truncated = result.truncated or len(links) > limit
    result.items = links[:limit]
    if describe:
        shown = {root} | {link.party for link in result.items}
        evidence = [e.evidence for e in result.items] + [e.evidence for e in result.crowded]
        shown |= {e["person"] for e in evidence if "person" in e}
        result.parties = described(store, shown)
    return result


def _link_order(link: SuspectedLink) -> tuple[int, str, str]:
    person = link.evidence.get("person")
    return (_KIND_ORDER[link.kind], link.party.uid, person.uid if person else "")


def _shared_officers(
    store: GraphStore,
    root: PartyKey,
    as_of: date,
    include_former: bool,
    types: list[str],
    per_key_cap: int,
    cap: int,
    result: LinksResult,
) -> list[SuspectedLink]:
    window = {"as_of": as_of, "include_former": include_former, "types": types}
    rows = store.read(
        OFFICERS_OF_LEGAL_PERSON,
        {**window, "uid": root.uid, "cap": cap + 1},
        operation="investigate.officers",
    )
    if len(rows) > cap:
        result.truncated = True
        rows = rows[:cap]
    roles_here: dict[str, set[str]] = {}
    for row in rows:
        roles_here.setdefault(row["person"], set()).add(row["role"])
    if not roles_here:
        return []
    params = {**window, "persons": list(roles_here), "uid": root.uid, "per_key": per_key_cap}
    found = store.read(OTHER_FIRMS_OF_OFFICERS, params, operation="investigate.officer_firms")
    links = []
    for row in found:
        person = PartyKey(Label.NATURAL_PERSON, row["person"])
        here = sorted(roles_here[row["person"]])
        if row["firms"] > per_key_cap:
            evidence = {"person": person, "roles_here": here}
            result.crowded.append(CrowdedEvidence(LinkKind.SHARED_OFFICER, evidence, row["firms"]))
            continue
        for other in row["others"]:
            evidence = {"person": person, "roles_here": here, "roles_there": sorted(other["roles"])}
            links.append(
                SuspectedLink(
                    LinkKind.SHARED_OFFICER, PartyKey(Label.LEGAL_PERSON, other["uid"]), evidence
                )
            )
    return links


def _shared_contacts(
    store: GraphStore,
    root: PartyKey,
    node: dict[str, Any],
    per_key_cap: int,
    result: LinksResult,
) -> list[SuspectedLink]:
    links = []
    for kind, key_name, value_name, statements in _CONTACTS:
        value = node.get(key_name)
        if not value:
            continue
        evidence = {"key": value, value_name: node.get(value_name)}
        total = 0
        sharing: list[PartyKey] = []
        for label, statement in statements:
            params = {"value": value, "uid": root.uid, "per_key": per_key_cap}
            for row in store.read(statement, params, operation="investigate.contacts"):
                total += row["parties"]
                sharing += [PartyKey(label, uid) for uid in row["sample"]]
        if total > per_key_cap:
            result.crowded.append(CrowdedEvidence(kind, evidence, total))
            continue
        links += [SuspectedLink(kind, other, dict(evidence)) for other in sharing]
    return links
