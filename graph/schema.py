"""The schema: uniqueness constraints and indexes, applied idempotently.

Every node carries `uid`, its deterministic key: the USCC (or `REG:<registration number>`)
for a legal person, the keyed person token for a natural person, `<source>:<record id>` for
a record, the authority code for an authority. Statements use `IF NOT EXISTS`, so applying the
schema twice is a no-op on Neo4j 5 and on ArcadeDB alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, LiteralString

if TYPE_CHECKING:  # graph/store.py reads PING from here
    from credgraph.graph.store import GraphStore

# a readiness check that the store must answer (GraphStore.ping): a round trip, not the driver's
# cached server details
PING: LiteralString = "RETURN 1 AS ok"

LEGAL_PERSON_UID: LiteralString = (
    "CREATE CONSTRAINT legal_person_uid IF NOT EXISTS FOR (n:LegalPerson) REQUIRE n.uid IS UNIQUE"
)
NATURAL_PERSON_UID: LiteralString = (
    "CREATE CONSTRAINT natural_person_uid IF NOT EXISTS "
    "FOR (n:NaturalPerson) REQUIRE n.uid IS UNIQUE"
)
SANCTION_EVENT_UID: LiteralString = (
    "CREATE CONSTRAINT sanction_event_uid IF NOT EXISTS "
    "FOR (n:SanctionEvent) REQUIRE n.uid IS UNIQUE"
)
COMMENDATION_UID: LiteralString = (
    "CREATE CONSTRAINT commendation_uid IF NOT EXISTS FOR (n:Commendation) REQUIRE n.uid IS UNIQUE"
)
CREDIT_GRADE_UID: LiteralString = (
    "CREATE CONSTRAINT credit_grade_uid IF NOT EXISTS FOR (n:CreditGrade) REQUIRE n.uid IS UNIQUE"
)
AUTHORITY_UID: LiteralString = (
    "CREATE CONSTRAINT authority_uid IF NOT EXISTS FOR (n:Authority) REQUIRE n.uid IS UNIQUE"
)
STATUS_CHANGE_UID: LiteralString = (
    "CREATE CONSTRAINT status_change_uid IF NOT EXISTS FOR (n:StatusChange) REQUIRE n.uid IS UNIQUE"
)
LOAD_CHUNK_UID: LiteralString = (
    "CREATE CONSTRAINT load_chunk_uid IF NOT EXISTS FOR (n:LoadChunk) REQUIRE n.uid IS UNIQUE"
)
API_KEY_UID: LiteralString = (
    "CREATE CONSTRAINT api_key_uid IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.uid IS UNIQUE"
)
LEGAL_PERSON_USCC: LiteralString = (
    "CREATE INDEX legal_person_uscc IF NOT EXISTS FOR (n:LegalPerson) ON (n.uscc)"
)
LEGAL_PERSON_ORG_CODE: LiteralString = (
    "CREATE INDEX legal_person_org_code IF NOT EXISTS FOR (n:LegalPerson) ON (n.org_code)"
)
LEGAL_PERSON_REG_NO: LiteralString = (
    "CREATE INDEX legal_person_reg_no IF NOT EXISTS FOR (n:LegalPerson) ON (n.registration_number)"
)
LEGAL_PERSON_NAME_KEY: LiteralString = (
    "CREATE INDEX legal_person_name_key IF NOT EXISTS FOR (n:LegalPerson) ON (n.name_key)"
)
NATURAL_PERSON_NAME_KEY: LiteralString = (
    "CREATE INDEX natural_person_name_key IF NOT EXISTS FOR (n:NaturalPerson) ON (n.name_key)"
)
LEGAL_PERSON_STRONG_ID: LiteralString = (
    "CREATE INDEX legal_person_strong_id IF NOT EXISTS FOR (n:LegalPerson) ON (n.strong_id)"
)
NATURAL_PERSON_STRONG_ID: LiteralString = (
    "CREATE INDEX natural_person_strong_id IF NOT EXISTS FOR (n:NaturalPerson) ON (n.strong_id)"
)
LEGACY_CODE_UID: LiteralString = (
    "CREATE CONSTRAINT legacy_code_uid IF NOT EXISTS FOR (n:LegacyCode) REQUIRE n.uid IS UNIQUE"
)
NATURAL_PERSON_ID_MASKED: LiteralString = (
    "CREATE INDEX natural_person_id_masked IF NOT EXISTS FOR (n:NaturalPerson) ON (n.id_masked)"
)
STATUS_CHANGE_RECORD: LiteralString = (
    "CREATE INDEX status_change_record IF NOT EXISTS FOR (n:StatusChange) ON (n.record_uid)"
)
LOAD_CHUNK_FILE: LiteralString = (
    "CREATE INDEX load_chunk_file IF NOT EXISTS FOR (n:LoadChunk) ON (n.file_digest)"
)
SANCTION_EVENT_STATUS: LiteralString = (
    "CREATE INDEX sanction_event_status IF NOT EXISTS FOR (n:SanctionEvent) ON (n.status)"
)
# contact keys (loaders/rows.py), looked up by suspected-link queries (queries/links.py)
LEGAL_PERSON_ADDRESS_KEY: LiteralString = (
    "CREATE INDEX legal_person_address_key IF NOT EXISTS FOR (n:LegalPerson) ON (n.address_key)"
)
LEGAL_PERSON_PHONE_KEY: LiteralString = (
    "CREATE INDEX legal_person_phone_key IF NOT EXISTS FOR (n:LegalPerson) ON (n.phone_key)"
)
LEGAL_PERSON_EMAIL_KEY: LiteralString = (
    "CREATE INDEX legal_person_email_key IF NOT EXISTS FOR (n:LegalPerson) ON (n.email_key)"
)
NATURAL_PERSON_PHONE_KEY: LiteralString = (
    "CREATE INDEX natural_person_phone_key IF NOT EXISTS FOR (n:NaturalPerson) ON (n.phone_key)"
)
NATURAL_PERSON_EMAIL_KEY: LiteralString = (
    "CREATE INDEX natural_person_email_key IF NOT EXISTS FOR (n:NaturalPerson) ON (n.email_key)"
)

SCHEMA_STATEMENTS: tuple[LiteralString, ...] = (
    LEGAL_PERSON_UID,
    NATURAL_PERSON_UID,
    SANCTION_EVENT_UID,
    COMMENDATION_UID,
    CREDIT_GRADE_UID,
    AUTHORITY_UID,
    STATUS_CHANGE_UID,
    LOAD_CHUNK_UID,
    LEGAL_PERSON_USCC,
    LEGAL_PERSON_ORG_CODE,
    LEGAL_PERSON_REG_NO,
    LEGAL_PERSON_NAME_KEY,
    NATURAL_PERSON_NAME_KEY,
    LEGACY_CODE_UID,
    LEGAL_PERSON_STRONG_ID,
    NATURAL_PERSON_STRONG_ID,
    NATURAL_PERSON_ID_MASKED,
    STATUS_CHANGE_RECORD,
    LOAD_CHUNK_FILE,
    LEGAL_PERSON_ADDRESS_KEY,
    LEGAL_PERSON_PHONE_KEY,
    LEGAL_PERSON_EMAIL_KEY,
    NATURAL_PERSON_PHONE_KEY,
    NATURAL_PERSON_EMAIL_KEY,
    SANCTION_EVENT_STATUS,
    API_KEY_UID,
)

SHOW_CONSTRAINTS: LiteralString = "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name"
SHOW_INDEXES: LiteralString = "SHOW INDEXES YIELD name RETURN name ORDER BY name"


def apply_schema(store: GraphStore) -> None:
    """Create every constraint and index that does not exist yet."""
    store.run_schema(SCHEMA_STATEMENTS)


def describe_schema(store: GraphStore) -> dict[str, list[str]]:
    """Names of the constraints and indexes in the store, for checks and `credgraph stats`."""
    return {
        "constraints": [row["name"] for row in store.read(SHOW_CONSTRAINTS, operation="schema")],
        "indexes": [row["name"] for row in store.read(SHOW_INDEXES, operation="schema")],
    }
