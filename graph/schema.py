"""The schema: uniqueness constraints and indexes, applied idempotently.

Every node carries `uid`, its deterministic key: the USCC (or `REG:<registration number>`)
for a legal person, the keyed person token for a natural person, `<source>:<record id>` for
a record, the authority code for an authority. Statements use `IF NOT EXISTS`, so applying the
schema twice is a no-op on Neo4j 5 and on ArcadeDB alike.

The store also says which credgraph data format made it: one `StoreFormat` node whose `version`
is written when the schema is applied to a new, empty database. A store without it that holds
data was made before formats were versioned: version 0. graph/migrations.py brings an older
store up to date (`credgraph migrate`).
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
STORE_FORMAT_UID: LiteralString = (
    "CREATE CONSTRAINT store_format_uid IF NOT EXISTS FOR (n:StoreFormat) REQUIRE n.uid IS UNIQUE"
)
API_KEY_UID: LiteralString = (
    "CREATE CONSTRAINT api_key_uid IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.uid IS UNIQUE"
)
FTM_REFERENT_UID: LiteralString = (
    "CREATE CONSTRAINT ftm_referent_uid IF NOT EXISTS FOR (n:FtmReferent) REQUIRE n.uid IS UNIQUE"
)
FTM_REFERENT_REFERENT: LiteralString = (
    "CREATE INDEX ftm_referent_referent IF NOT EXISTS FOR (n:FtmReferent) ON (n.referent_uid)"
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
# an individual business's operator's keyed token (loaders/rows.py): `OPR:` references and folds
LEGAL_PERSON_OPERATOR_KEY: LiteralString = (
    "CREATE INDEX legal_person_operator_key IF NOT EXISTS FOR (n:LegalPerson) ON (n.operator_key)"
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
# another name of a party (graph/vocabulary.py Label.OTHER_NAME), keyed by party, kind and name
# key (graph/identifiers.py `other_name_uid`), found by name search through its name key
OTHER_NAME_UID: LiteralString = (
    "CREATE CONSTRAINT other_name_uid IF NOT EXISTS FOR (n:OtherName) REQUIRE n.uid IS UNIQUE"
)
OTHER_NAME_NAME_KEY: LiteralString = (
    "CREATE INDEX other_name_name_key IF NOT EXISTS FOR (n:OtherName) ON (n.name_key)"
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

# the FtM entity ids files gave parties they keyed by a strong identifier (queries/writes.py
# MERGE_FTM_IDS), found by the links of a later FtM file (loaders/ftm_stored.py) and by a
# lookup of `FTM:<id>`: the only way to such a party by its entity id
FTM_ID_UID: LiteralString = (
    "CREATE CONSTRAINT ftm_id_uid IF NOT EXISTS FOR (n:FtmId) REQUIRE n.uid IS UNIQUE"
)
FTM_ID_FTM_ID: LiteralString = (
    "CREATE INDEX ftm_id_ftm_id IF NOT EXISTS FOR (n:FtmId) ON (n.ftm_id)"
)

# a relation's key (its source and its id there) on every type the loader keys by a source's
# ids: the loader finds what an earlier load keyed with a chunk's ids whatever the ends
# (queries/writes.py KEYED_ROLES and the like)
RELATION_KEY_INDEXES: tuple[LiteralString, ...] = (
    "CREATE INDEX legal_representative_of_key IF NOT EXISTS "
    "FOR ()-[r:LEGAL_REPRESENTATIVE_OF]-() ON (r.key)",
    "CREATE INDEX principal_of_key IF NOT EXISTS FOR ()-[r:PRINCIPAL_OF]-() ON (r.key)",
    "CREATE INDEX executive_of_key IF NOT EXISTS FOR ()-[r:EXECUTIVE_OF]-() ON (r.key)",
    "CREATE INDEX responsible_for_key IF NOT EXISTS FOR ()-[r:RESPONSIBLE_FOR]-() ON (r.key)",
    "CREATE INDEX registered_professional_of_key IF NOT EXISTS "
    "FOR ()-[r:REGISTERED_PROFESSIONAL_OF]-() ON (r.key)",
    "CREATE INDEX practises_at_key IF NOT EXISTS FOR ()-[r:PRACTISES_AT]-() ON (r.key)",
    "CREATE INDEX actual_controller_of_key IF NOT EXISTS "
    "FOR ()-[r:ACTUAL_CONTROLLER_OF]-() ON (r.key)",
    "CREATE INDEX shareholder_of_key IF NOT EXISTS FOR ()-[r:SHAREHOLDER_OF]-() ON (r.key)",
    "CREATE INDEX invests_in_key IF NOT EXISTS FOR ()-[r:INVESTS_IN]-() ON (r.key)",
    "CREATE INDEX branch_of_key IF NOT EXISTS FOR ()-[r:BRANCH_OF]-() ON (r.key)",
    "CREATE INDEX guarantees_key IF NOT EXISTS FOR ()-[r:GUARANTEES]-() ON (r.key)",
    "CREATE INDEX supplies_key IF NOT EXISTS FOR ()-[r:SUPPLIES]-() ON (r.key)",
    "CREATE INDEX member_of_key IF NOT EXISTS FOR ()-[r:MEMBER_OF]-() ON (r.key)",
    "CREATE INDEX participates_in_key IF NOT EXISTS FOR ()-[r:PARTICIPATES_IN]-() ON (r.key)",
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
    FTM_REFERENT_UID,
    FTM_REFERENT_REFERENT,
    LEGAL_PERSON_USCC,
    LEGAL_PERSON_ORG_CODE,
    LEGAL_PERSON_REG_NO,
    LEGAL_PERSON_OPERATOR_KEY,
    LEGAL_PERSON_NAME_KEY,
    NATURAL_PERSON_NAME_KEY,
    LEGACY_CODE_UID,
    OTHER_NAME_UID,
    OTHER_NAME_NAME_KEY,
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
    FTM_ID_UID,
    FTM_ID_FTM_ID,
    API_KEY_UID,
    STORE_FORMAT_UID,
    *RELATION_KEY_INDEXES,
)

# the data format this code writes and reads: the number of the last migration
# (graph/migrations.py MIGRATIONS; a test keeps the two equal)
FORMAT_VERSION = 3
# the uid of the one StoreFormat node, and its label (store metadata, not data: queries/dump.py
# leaves it out)
STORE_FORMAT_KEY = "credgraph"
STORE_FORMAT_LABEL = "StoreFormat"

# the store's format, and (only when it has none) whether it holds anything: one read. A store
# without a StoreFormat node holds no other node either when it is new.
READ_STORE_FORMAT: LiteralString = """
OPTIONAL MATCH (f:StoreFormat {uid: $uid})
RETURN f.version AS version,
  CASE WHEN f IS NULL THEN EXISTS { MATCH (n) } ELSE true END AS populated
"""

# a new database gets the current format; a node already there (another process stamped it
# first) keeps its version
STAMP_STORE_FORMAT: LiteralString = """
MERGE (f:StoreFormat {uid: $uid})
ON CREATE SET f.version = $version, f.created_at = datetime()
RETURN f.version AS version
"""

# a migration's new version (graph/migrations.py), over whatever version the node held: unlike
# the stamp above, which leaves a node already there as it is
SET_STORE_FORMAT: LiteralString = """
MERGE (f:StoreFormat {uid: $uid})
SET f.version = $version, f.migrated_at = datetime()
"""

SHOW_CONSTRAINTS: LiteralString = "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name"
SHOW_INDEXES: LiteralString = "SHOW INDEXES YIELD name RETURN name ORDER BY name"

# --- a natural person's node as a whole: its properties read, added to, deleted. The loaders'
# fold (queries/writes.py PARTY_PROPERTIES, ADD_TO_PARTY, DELETE_PARTY) and graph/migrations.py
# both run them: they are named here, as graph/ imports nothing from queries/

NATURAL_PERSON_PROPERTIES: LiteralString = """
UNWIND $uids AS uid
MATCH (n:NaturalPerson {uid: uid})
RETURN n.uid AS uid, properties(n) AS props
"""

ADD_TO_NATURAL_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})
SET n += $props
"""

# with its other names: they name nothing else
DELETE_NATURAL_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})
OPTIONAL MATCH (o:OtherName)-[:NAME_OF]->(n)
DETACH DELETE o, n
"""


def apply_schema(store: GraphStore, *, migrating: bool = False) -> int:
    """Create every constraint and index that does not exist yet; the store's data format.

    The format is read first, and a store of another format gets no schema: a newer one is
    never written by this code, and an older one only by `credgraph migrate` (`migrating`),
    which brings its indexes up before its migrations. The caller checks the version returned
    (graph/migrations.py `check_format`) and refuses the store without having changed it. A new,
    empty database is stamped with FORMAT_VERSION once its schema exists. One read (and the
    schema's statements), once per process."""
    found = _stored_format(store)
    if found is not None and (found > FORMAT_VERSION or (found < FORMAT_VERSION and not migrating)):
        return found
    store.run_schema(SCHEMA_STATEMENTS)
    return found if found is not None else _stamp(store)


def store_format(store: GraphStore) -> int:
    """The data format the store holds: its StoreFormat node's version; 0 for a store that
    holds data but no StoreFormat node (made before formats were versioned). An empty store is
    stamped with FORMAT_VERSION. One read (and one write for a new database)."""
    found = _stored_format(store)
    return found if found is not None else _stamp(store)


def _stamp(store: GraphStore) -> int:
    """Stamp a new, empty database with FORMAT_VERSION; the version its node holds (another
    process may have stamped it first). One write."""
    params = {"uid": STORE_FORMAT_KEY, "version": FORMAT_VERSION}
    [stamped] = store.write(STAMP_STORE_FORMAT, params, operation="schema")
    return int(stamped["version"])


def _stored_format(store: GraphStore) -> int | None:
    """The StoreFormat node's version, 0 for a store with data but no such node, None for an
    empty store. One read."""
    [row] = store.read(READ_STORE_FORMAT, {"uid": STORE_FORMAT_KEY}, operation="schema")
    if row["version"] is not None:
        return int(row["version"])
    return 0 if row["populated"] else None


def describe_schema(store: GraphStore) -> dict[str, list[str]]:
    """Names of the constraints and indexes in the store, for checks and `credgraph stats`."""
    return {
        "constraints": [row["name"] for row in store.read(SHOW_CONSTRAINTS, operation="schema")],
        "indexes": [row["name"] for row in store.read(SHOW_INDEXES, operation="schema")],
    }
