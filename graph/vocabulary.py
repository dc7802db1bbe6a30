"""The closed vocabulary of the graph: node labels, relation types and the codes they carry.

Every label and relation type that reaches a Cypher statement comes from here; nothing a user
supplies ever becomes one. The enums follow DOMAIN.md: who is a credit subject, how parties are
related, and which credit records exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import Any


class Label(StrEnum):
    """Node labels."""

    # Enum hashes by member name in Python code; a label hashes as its text, in C, as often as
    # party keys are hashed (and consistently with `Label.LEGAL_PERSON == "LegalPerson"`)
    __hash__ = str.__hash__

    LEGAL_PERSON = "LegalPerson"
    NATURAL_PERSON = "NaturalPerson"
    SANCTION_EVENT = "SanctionEvent"
    COMMENDATION = "Commendation"
    CREDIT_GRADE = "CreditGrade"
    AUTHORITY = "Authority"
    # a dated change of a record's status (revocation, repair, objection, expiry)
    STATUS_CHANGE = "StatusChange"
    # a legacy identifier (organisation code, registration number, ...) of a legal person
    LEGACY_CODE = "LegacyCode"
    # an FtM entity id merged into another entity (`referents`): which party it now names
    FTM_REFERENT = "FtmReferent"
    # an FtM entity id a file gave a party it keyed by a strong identifier (USCC, resident ID)
    FTM_ID = "FtmId"
    # another name a party goes or went by (a former name, a sanctions list's alias): one node
    # per party, kind and name key, linked to the party by NAME_OF, found by name search
    OTHER_NAME = "OtherName"
    # bookkeeping: one committed chunk of a load run (the run ledger)
    LOAD_CHUNK = "LoadChunk"
    # an API key of the GraphQL API: its id, name, role and the hash of its secret (api/keys.py)
    API_KEY = "ApiKey"


PARTY_LABELS: tuple[Label, ...] = (Label.LEGAL_PERSON, Label.NATURAL_PERSON)
RECORD_LABELS: tuple[Label, ...] = (Label.SANCTION_EVENT, Label.COMMENDATION, Label.CREDIT_GRADE)


class LegalPersonKind(StrEnum):
    """The subtype of a legal person; it decides which rule set applies."""

    ENTERPRISE = "enterprise"
    INDIVIDUAL_BUSINESS = "individual_business"
    PUBLIC_INSTITUTION = "public_institution"
    SOCIAL_ORGANISATION = "social_organisation"
    GOVERNMENT_BODY = "government_body"
    JUDICIAL_BODY = "judicial_body"


class RegistrationStatus(StrEnum):
    """A legal person's registration status (登记状态)."""

    ACTIVE = "active"
    REVOKED = "revoked"  # 吊销
    CANCELLED = "cancelled"  # 注销
    MOVED_OUT = "moved_out"  # 迁出


class GradeScheme(StrEnum):
    """The credit-grade schemes of the reference cities: many schemes, not one A-D scale."""

    TAX = "tax"
    LABOUR = "labour"
    ENTERPRISE_COMPOSITE = "enterprise_composite"
    ENVIRONMENT = "environment"
    WORK_SAFETY = "work_safety"


class RelationType(StrEnum):
    """Relation types between parties, between a subject and its records, and of lineage."""

    __hash__ = str.__hash__  # as Label's

    # person -> legal person roles
    LEGAL_REPRESENTATIVE_OF = "LEGAL_REPRESENTATIVE_OF"
    PRINCIPAL_OF = "PRINCIPAL_OF"
    EXECUTIVE_OF = "EXECUTIVE_OF"
    RESPONSIBLE_FOR = "RESPONSIBLE_FOR"
    REGISTERED_PROFESSIONAL_OF = "REGISTERED_PROFESSIONAL_OF"
    PRACTISES_AT = "PRACTISES_AT"
    ACTUAL_CONTROLLER_OF = "ACTUAL_CONTROLLER_OF"
    # ownership and firm-to-firm
    SHAREHOLDER_OF = "SHAREHOLDER_OF"
    INVESTS_IN = "INVESTS_IN"
    BRANCH_OF = "BRANCH_OF"
    GUARANTEES = "GUARANTEES"
    SUPPLIES = "SUPPLIES"
    MEMBER_OF = "MEMBER_OF"
    PARTICIPATES_IN = "PARTICIPATES_IN"
    # records
    SUBJECT_OF = "SUBJECT_OF"
    ISSUED_BY = "ISSUED_BY"
    CHANGES = "CHANGES"
    ALIAS_OF = "ALIAS_OF"
    # (:OtherName)-[:NAME_OF]->(party): a name, never a relation between parties
    NAME_OF = "NAME_OF"
    # resolution: never traversed unless asked for
    POSSIBLY_SAME_AS = "POSSIBLY_SAME_AS"


PARTY_RELATIONS: tuple[RelationType, ...] = tuple(
    t
    for t in RelationType
    if t
    not in (
        RelationType.SUBJECT_OF,
        RelationType.ISSUED_BY,
        RelationType.CHANGES,
        RelationType.ALIAS_OF,
        RelationType.NAME_OF,
        RelationType.POSSIBLY_SAME_AS,
    )
)


class OtherNameKind(StrEnum):
    """What another name of a party is (an `OtherName` node's `kind`)."""

    FORMER_NAME = "former_name"  # 曾用名: a name the party went by before a rename
    ALIAS = "alias"  # a name a sanctions list (FtM `name`, `alias`) gives the party


class Role(StrEnum):
    """A person's role at a legal person, as the registries and the plans name them."""

    LEGAL_REPRESENTATIVE = "legal_representative"
    PRINCIPAL = "principal"
    CHAIR = "chair"
    DIRECTOR = "director"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    SECRETARY = "secretary"
    CFO = "cfo"
    RESPONSIBLE_PERSON = "responsible_person"
    REGISTERED_PROFESSIONAL = "registered_professional"
    PRACTITIONER = "practitioner"
    ACTUAL_CONTROLLER = "actual_controller"
    PROJECT_PARTICIPANT = "project_participant"  # in a project the legal person runs (`matter`)


ROLE_RELATION: dict[Role, RelationType] = {
    Role.LEGAL_REPRESENTATIVE: RelationType.LEGAL_REPRESENTATIVE_OF,
    Role.PRINCIPAL: RelationType.PRINCIPAL_OF,
    Role.CHAIR: RelationType.EXECUTIVE_OF,
    Role.DIRECTOR: RelationType.EXECUTIVE_OF,
    Role.SUPERVISOR: RelationType.EXECUTIVE_OF,
    Role.MANAGER: RelationType.EXECUTIVE_OF,
    Role.SECRETARY: RelationType.EXECUTIVE_OF,
    Role.CFO: RelationType.EXECUTIVE_OF,
    Role.RESPONSIBLE_PERSON: RelationType.RESPONSIBLE_FOR,
    Role.REGISTERED_PROFESSIONAL: RelationType.REGISTERED_PROFESSIONAL_OF,
    Role.PRACTITIONER: RelationType.PRACTISES_AT,
    Role.ACTUAL_CONTROLLER: RelationType.ACTUAL_CONTROLLER_OF,
    Role.PROJECT_PARTICIPANT: RelationType.PARTICIPATES_IN,
}


class FirmRelation(StrEnum):
    """Firm-to-firm relation codes in the canonical `firm_relations` file."""

    INVESTS_IN = "invests_in"
    BRANCH_OF = "branch_of"
    GUARANTEES = "guarantees"
    SUPPLIES = "supplies"
    MEMBER_OF = "member_of"
    PARTICIPATES_IN = "participates_in"  # in a project the `to` firm runs (`matter`)


FIRM_RELATION_TYPE: dict[FirmRelation, RelationType] = {
    FirmRelation.INVESTS_IN: RelationType.INVESTS_IN,
    FirmRelation.BRANCH_OF: RelationType.BRANCH_OF,
    FirmRelation.GUARANTEES: RelationType.GUARANTEES,
    FirmRelation.SUPPLIES: RelationType.SUPPLIES,
    FirmRelation.MEMBER_OF: RelationType.MEMBER_OF,
    FirmRelation.PARTICIPATES_IN: RelationType.PARTICIPATES_IN,
}


class RecordKind(StrEnum):
    """Kinds of credit record."""

    BLACKLIST = "blacklist"
    DISHONEST_DEBTOR = "dishonest_debtor"
    ADMIN_PENALTY = "admin_penalty"
    ABNORMAL_OPERATION = "abnormal_operation"
    SERIOUS_VIOLATION = "serious_violation"
    RED_LIST = "red_list"
    HONOUR = "honour"
    GRADE = "grade"


RECORD_LABEL: dict[RecordKind, Label] = {
    RecordKind.BLACKLIST: Label.SANCTION_EVENT,
    RecordKind.DISHONEST_DEBTOR: Label.SANCTION_EVENT,
    RecordKind.ADMIN_PENALTY: Label.SANCTION_EVENT,
    RecordKind.ABNORMAL_OPERATION: Label.SANCTION_EVENT,
    RecordKind.SERIOUS_VIOLATION: Label.SANCTION_EVENT,
    RecordKind.RED_LIST: Label.COMMENDATION,
    RecordKind.HONOUR: Label.COMMENDATION,
    RecordKind.GRADE: Label.CREDIT_GRADE,
}


# a code of an open list (sectors, grade schemes): what a city adds must read as the built-in ones
CODE_WORD = re.compile(r"^[a-z][a-z0-9_]*$")


class Sector(StrEnum):
    """Sectors whose blacklists the plans name."""

    TOURISM = "tourism"
    WORK_SAFETY = "work_safety"
    FIRE_SAFETY = "fire_safety"
    SPECIAL_EQUIPMENT = "special_equipment"
    MEDICAL = "medical"
    INTELLECTUAL_PROPERTY = "intellectual_property"
    FOOD_DRUG = "food_drug"
    TAX = "tax"
    CONSTRUCTION = "construction"
    LABOUR = "labour"
    SOCIAL_INSURANCE = "social_insurance"
    INTERNET = "internet"
    ENVIRONMENT = "environment"
    PROCUREMENT = "procurement"
    MARKET_REGULATION = "market_regulation"
    JUDICIAL = "judicial"
    GENERAL = "general"


class RecordStatus(StrEnum):
    """Lifecycle status of a credit record."""

    ACTIVE = "active"
    REVOKED = "revoked"
    REPAIRED = "repaired"
    EXPIRED = "expired"
    UNDER_OBJECTION = "under_objection"


class StatusChangeKind(StrEnum):
    """A dated event in a record's lifecycle, published after the record itself."""

    REVOKED = "revoked"  # the decision was withdrawn: the record never counted
    REPAIRED = "repaired"  # credit repair accepted: the record stops counting from this date
    EXPIRED = "expired"  # the disclosure period ended
    OBJECTION_OPENED = "objection_opened"  # the subject contests the record
    OBJECTION_CLOSED = "objection_closed"  # the objection was decided; the record stands


class LegacyCodeType(StrEnum):
    """Identifiers that predate the USCC (2015) and still appear in old extracts."""

    ORG_CODE = "org_code"  # 组织机构代码, GB 11714; embedded in the USCC
    REGISTRATION_NUMBER = "registration_number"  # 工商注册号
    TAX_NUMBER = "tax_number"  # 税务登记号
    INSTITUTION_CREDIT_CODE = "institution_credit_code"  # 机构信用代码 of the central bank


class Disclosure(StrEnum):
    """Disclosure class of an item: who may see it."""

    PUBLIC = "public"
    GOVERNMENT_SHARED = "government_shared"
    RESTRICTED = "restricted"
    SUBJECT_ONLY = "subject_only"


class PersonIdType(StrEnum):
    """Identity document types for natural persons."""

    RESIDENT = "resident"
    PASSPORT = "passport"
    HK_MACAO = "hk_macao"
    TAIWAN = "taiwan"
    FOREIGN_PERMANENT = "foreign_permanent"


class City(StrEnum):
    """The reference cities and their region-code prefixes (DOMAIN.md)."""

    XIAMEN = "3502"
    FUZHOU = "3501"
    QUANZHOU = "3505"
    FOSHAN = "4406"
    CHAOZHOU = "4451"


CITY_NAMES: dict[City, str] = {
    City.XIAMEN: "厦门",
    City.FUZHOU: "福州",
    City.QUANZHOU: "泉州",
    City.FOSHAN: "佛山",
    City.CHAOZHOU: "潮州",
}


# what every node and relation says about its own load (DESIGN.md): the source, the row of it,
# the load run and its time
LINEAGE_PROPERTIES = frozenset({"source", "source_row", "run_id", "loaded_at"})
# what a party node merged into another says about its own load and key, not about the party:
# never carried over to the node it is merged into (graph/migrations.py, loaders/fold.py)
NOT_CARRIED_ON_MERGE = frozenset({"uid", *LINEAGE_PROPERTIES, "former_uids"})


def carried_on_merge(
    old: Mapping[str, Any], new: Mapping[str, Any], not_carried: AbstractSet[str]
) -> dict[str, Any]:
    """What the properties of a party node merged into `new` say that `new` does not: all but
    `not_carried` and the node's risk scores (`risk_*`, written by scoring runs)."""
    return {
        key: value
        for key, value in old.items()
        if key not in new and key not in not_carried and not key.startswith("risk_")
    }
