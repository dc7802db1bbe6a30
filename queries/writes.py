"""Write statements used by the loaders: batched, idempotent MERGEs keyed on `uid` or `key`.

Each statement takes `$rows`, a list of maps, and UNWINDs it, and `$lineage`, the map of what
is the same for the whole batch (source, run id, load time): passed once rather than on every
row, which halves the cost of a write on the embedded store (temporal values are expensive to
decode). Nodes merge on their `uid`;
relations between parties merge on their `key` (the source and the source's own record id), so
loading the same rows twice leaves the graph as it was and a corrected row replaces its earlier
version. Relation types and labels cannot be parameters in Cypher, so there is one statement per
type, chosen from the closed vocabulary by the lookup tables at the end of this module.

A full extract (`credgraph load --full-extract DATE`) passes `$listed_on`, the day the extract
describes: each relation and record it lists keeps the latest such day in `last_listed_on`
(never moved back by an older extract loaded later); other loads pass null and leave it alone.
A full extract's chunks run the dated variants of the writes (`DATED_WRITES`, at the end): an
older extract loaded after a newer one keeps the newer one's values (`described_on`).
The statements at the end of this module then end what a full extract no longer lists.

No statement returns rows: on the embedded store, streaming a result back costs as much as the
write itself, and the loader counts rows on its side. Each MERGE of a relation starts from the
end with few relations (the company an officer serves, the record of a subject): ArcadeDB
expands a MERGE pattern from its first node, and a professional officer on a thousand boards
would make every write scan a thousand relations (Neo4j plans this itself; the pattern means
the same).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import LiteralString

# a natural person's properties read, added to, deleted: graph/migrations.py runs them too
from credgraph.graph.schema import (
    ADD_TO_NATURAL_PERSON,
    DELETE_NATURAL_PERSON,
    NATURAL_PERSON_PROPERTIES,
)
from credgraph.graph.vocabulary import Label, RelationType

MERGE_LEGAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:LegalPerson {uid: row.uid})
SET n += row.props, n += $lineage
"""

MERGE_NATURAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:NaturalPerson {uid: row.uid})
SET n += row.props, n += $lineage
"""

# a party named by a secondary source: created if new, otherwise only added to (its lineage
# left as it is)
MERGE_SECONDARY_LEGAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:LegalPerson {uid: row.uid})
ON CREATE SET n += row.props, n += $lineage
ON MATCH SET n += row.update
"""

MERGE_SECONDARY_NATURAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:NaturalPerson {uid: row.uid})
ON CREATE SET n += row.props, n += $lineage
ON MATCH SET n += row.update
"""

MERGE_AUTHORITIES: LiteralString = """
UNWIND $rows AS row
MERGE (n:Authority {uid: row.uid})
SET n += row.props, n += $lineage
"""

EXISTING_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (n:LegalPerson {uid: uid})
RETURN n.uid AS uid
"""

EXISTING_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (n:NaturalPerson {uid: uid})
RETURN n.uid AS uid
"""

# the parties FtM files keyed by a strong identifier (USCC, resident ID, passport) and gave
# these entity ids (as stored: graph/identifiers.py `ftm_stored_id`), through their `FtmId`
# nodes (below): found by the id a later file's links name, or a lookup of `FTM:<id>`
# (queries/ftm_ids.py). A node whose party is gone names nothing.
LEGAL_PERSONS_BY_FTM_ID: LiteralString = """
UNWIND $ids AS id
MATCH (f:FtmId {ftm_id: id})
MATCH (n:LegalPerson {uid: f.party_uid})
RETURN n.uid AS uid, f.ftm_id AS ftm_id
"""

NATURAL_PERSONS_BY_FTM_ID: LiteralString = """
UNWIND $ids AS id
MATCH (f:FtmId {ftm_id: id})
MATCH (n:NaturalPerson {uid: f.party_uid})
RETURN n.uid AS uid, f.ftm_id AS ftm_id
"""

# the USCC-bearing legal persons that organisation codes (GB 11714) belong to
LEGAL_PERSONS_BY_ORG_CODE: LiteralString = """
UNWIND $codes AS code
MATCH (n:LegalPerson {org_code: code})
WHERE n.uscc IS NOT NULL
RETURN code, n.uid AS uid
"""

# candidates for a masked USCC such as 91230199744****927K
LEGAL_PERSONS_MATCHING_MASK: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.uid STARTS WITH $prefix AND n.uid ENDS WITH $suffix AND size(n.uid) = $length
RETURN n.uid AS uid, n.name_key AS name_key
LIMIT $limit
"""

# candidates for a masked resident ID: same visible digits, to be narrowed by name
NATURAL_PERSONS_BY_MASK: LiteralString = """
MATCH (n:NaturalPerson {id_masked: $masked})
RETURN n.uid AS uid, n.name_key AS name_key
LIMIT $limit
"""

# a legacy identifier, kept as an alias node of the legal person that now carries a USCC
MERGE_LEGACY_CODES: LiteralString = """
UNWIND $rows AS row
MATCH (n:LegalPerson {uid: row.to_uid})
MERGE (c:LegacyCode {uid: row.from_uid})
SET c += row.props, c += $lineage
MERGE (c)-[r:ALIAS_OF {key: row.key}]->(n)
SET r += row.link, r += $lineage
"""

# the USCC-bearing legal persons that carry old registration numbers themselves
LEGAL_PERSONS_BY_REGISTRATION_NUMBER: LiteralString = """
UNWIND $codes AS code
MATCH (n:LegalPerson {registration_number: code})
WHERE n.uscc IS NOT NULL
RETURN code, n.uid AS uid
"""

# the legal persons (individual businesses) that give these operator keys: the businesses a
# person operates, and those keyed by a USCC or `REG:` that an `OPR:<key>` business is, once
# one of them says it runs under the same operator (loaders/fold.py)
LEGAL_PERSONS_BY_OPERATOR_KEY: LiteralString = """
UNWIND $keys AS key
MATCH (n:LegalPerson {operator_key: key})
RETURN key, n.uid AS uid
"""

# whether the store holds any business that gives its operator (a person's chunk looks for the
# businesses it operates only then)
ANY_OPERATED_BUSINESS: LiteralString = """
MATCH (n:LegalPerson)
WHERE n.operator_key IS NOT NULL
RETURN n.uid AS uid
LIMIT 1
"""

# the USCC-bearing legal persons that legacy codes (`<type>:<code>`) stand for
LEGAL_PERSONS_BY_LEGACY_CODE: LiteralString = """
UNWIND $codes AS code
MATCH (:LegacyCode {uid: code})-[:ALIAS_OF]->(n:LegalPerson)
RETURN code, n.uid AS uid
"""

# --- folding a party into the one it became (loaders/fold.py): a business without a USCC into
# the legal person that took its number over, an FtM party into the one that names its entity
# id as a referent. Read what the old node says and where it is linked, move it, delete it

LEGAL_PERSON_PROPERTIES: LiteralString = """
UNWIND $uids AS uid
MATCH (n:LegalPerson {uid: uid})
RETURN n.uid AS uid, properties(n) AS props
"""

RELATIONS_FROM_LEGAL_PERSON: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})-[r]->(m)
RETURN type(r) AS type, labels(m) AS labels, m.uid AS other, properties(r) AS props
"""

RELATIONS_FROM_NATURAL_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})-[r]->(m)
RETURN type(r) AS type, labels(m) AS labels, m.uid AS other, properties(r) AS props
"""

RELATIONS_TO_LEGAL_PERSON: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})<-[r]-(m)
RETURN type(r) AS type, labels(m) AS labels, m.uid AS other, properties(r) AS props
"""

RELATIONS_TO_NATURAL_PERSON: LiteralString = """
MATCH (n:NaturalPerson {uid: $uid})<-[r]-(m)
RETURN type(r) AS type, labels(m) AS labels, m.uid AS other, properties(r) AS props
"""

ADD_TO_LEGAL_PERSON: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})
SET n += $props
"""

# with its other names: they name nothing else
DELETE_LEGAL_PERSON: LiteralString = """
MATCH (n:LegalPerson {uid: $uid})
OPTIONAL MATCH (o:OtherName)-[:NAME_OF]->(n)
DETACH DELETE o, n
"""

# --- other names of a party: former names (曾用名) and a sanctions list's aliases -------------
# (loaders/names.py). One `OtherName` node per party, kind and name key (graph/identifiers.py
# `other_name_uid`), linked to its party by NAME_OF: what a node says depends on the row alone,
# so a file loaded again adds nothing and its lineage is the first load's. Never removed by a
# load: a name the party went by stays one. A fold (loaders/fold.py) writes the folded party's
# other names anew for the party it folds into, and deleting a party deletes its other names.

MERGE_LEGAL_PERSON_OTHER_NAMES: LiteralString = """
UNWIND $rows AS row
MATCH (n:LegalPerson {uid: row.party_uid})
MERGE (o:OtherName {uid: row.uid})
ON CREATE SET o += row.props, o += $lineage
MERGE (o)-[r:NAME_OF]->(n)
ON CREATE SET r += row.link, r += $lineage
"""

MERGE_NATURAL_PERSON_OTHER_NAMES: LiteralString = """
UNWIND $rows AS row
MATCH (n:NaturalPerson {uid: row.party_uid})
MERGE (o:OtherName {uid: row.uid})
ON CREATE SET o += row.props, o += $lineage
MERGE (o)-[r:NAME_OF]->(n)
ON CREATE SET r += row.link, r += $lineage
"""

# the names the parties a chunk writes have before it is written, and whether a row of an
# extract of $listed_on writes their values (a registry's: `described_on`; a secondary
# source's additions: `secondary_described_on`; always when $listed_on is null, a plain load)
LEGAL_PERSON_NAMES: LiteralString = """
UNWIND $uids AS uid
MATCH (n:LegalPerson {uid: uid})
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  $listed_on IS NULL OR n.described_on IS NULL OR n.described_on <= $listed_on AS current,
  $listed_on IS NULL OR n.secondary_described_on IS NULL
    OR n.secondary_described_on <= $listed_on AS additions_current
"""

NATURAL_PERSON_NAMES: LiteralString = """
UNWIND $uids AS uid
MATCH (n:NaturalPerson {uid: uid})
RETURN n.uid AS uid, n.name AS name, n.name_key AS name_key,
  $listed_on IS NULL OR n.described_on IS NULL OR n.described_on <= $listed_on AS current,
  $listed_on IS NULL OR n.secondary_described_on IS NULL
    OR n.secondary_described_on <= $listed_on AS additions_current
"""

# the other names of parties about to be folded into others (loaders/fold.py)
OTHER_NAMES_OF_LEGAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (o:OtherName)-[:NAME_OF]->(:LegalPerson {uid: uid})
RETURN uid, properties(o) AS props
"""

OTHER_NAMES_OF_NATURAL_PERSONS: LiteralString = """
UNWIND $uids AS uid
MATCH (o:OtherName)-[:NAME_OF]->(:NaturalPerson {uid: uid})
RETURN uid, properties(o) AS props
"""

# --- FtM referents: the entity ids OpenSanctions merged into another entity ------------------
# (loaders/referents.py). One small node per claim: a party row that lists a referent says the
# party of that id is its own. Keyed by both (graph/identifiers.py `ftm_referent_uid`),
# `referent_uid` the uid a party of that id has when it has no strong identifier (`FTM:<id>`,
# or a person's token of it), `party_uid` the uid of the row's party: what the row says, so
# every claim stays, the same in every load order, and a file loaded again adds nothing (its
# lineage is the first load's). Two claims of one referent for two parties name neither
# (queries/ftm_ids.py). No relation: nothing traverses it.

MERGE_FTM_REFERENTS: LiteralString = """
UNWIND $rows AS row
MERGE (n:FtmReferent {uid: row.uid})
ON CREATE SET n += row.props, n += $lineage
"""

FTM_REFERENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (n:FtmReferent {referent_uid: uid})
RETURN n.referent_uid AS uid, n.party_uid AS party_uid
"""

# whether any referent is stored (read once per load, before an FtM file asks the store)
ANY_FTM_REFERENT: LiteralString = """
MATCH (n:FtmReferent)
RETURN n.uid AS uid
LIMIT 1
"""

# --- FtM ids of parties keyed by a strong identifier ------------------------------------------
# (loaders/ftm.py). Two files may give one company (one USCC) two entity ids: each id a file
# gives such a party is one small node keyed by the party and the id (graph/identifiers.py
# `ftm_id_uid`), `ftm_id` the id as stored, `party_uid` the party's uid. What a node says
# depends on the row alone, so every id stays, in any load order, and a file loaded again adds
# nothing; its lineage is the first load's, as a secondary source leaves a party's. The party's
# uid is a strong key, which no fold takes away (loaders/fold.py folds `REG:` parties and
# parties without a strong identifier), so folds do not move these nodes. No relation.

MERGE_FTM_IDS: LiteralString = """
UNWIND $rows AS row
MERGE (n:FtmId {uid: row.uid})
ON CREATE SET n += row.props, n += $lineage
"""

# --- a relation's key names one relation: what the store keys with the ids of a chunk ----------
# (loaders/loader.py refuses a row that gives a stored relation's key other ends or another
# type). Found by the key alone, whatever its ends: an id reused for two other parties is found
# too. Each part reads one relation type's key index (graph/schema.py RELATION_KEY_INDEXES) with
# the chunk's keys as one list: on the embedded store a pattern of several types, a label on an
# end, or a key per UNWIND row scans every relation of the type instead, so the parts stay one
# type each, with unlabelled ends, joined by UNION ALL (one read per chunk).

KEYED_ROLES: LiteralString = """
MATCH (a)-[r:LEGAL_REPRESENTATIVE_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:PRINCIPAL_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:EXECUTIVE_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:RESPONSIBLE_FOR]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:REGISTERED_PROFESSIONAL_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:PRACTISES_AT]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:ACTUAL_CONTROLLER_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:PARTICIPATES_IN]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
"""

KEYED_SHAREHOLDINGS: LiteralString = """
MATCH (a)-[r:SHAREHOLDER_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
"""

KEYED_FIRM_RELATIONS: LiteralString = """
MATCH (a)-[r:INVESTS_IN]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:BRANCH_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:GUARANTEES]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:SUPPLIES]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:MEMBER_OF]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
UNION ALL
MATCH (a)-[r:PARTICIPATES_IN]->(b)
WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
"""

# a FollowTheMoney file writes roles and shareholdings under one source
KEYED_ROLES_AND_SHAREHOLDINGS: LiteralString = KEYED_ROLES + "UNION ALL\n" + KEYED_SHAREHOLDINGS

MERGE_LEGAL_REPRESENTATIVE_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:LEGAL_REPRESENTATIVE_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_PRINCIPAL_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:PRINCIPAL_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_EXECUTIVE_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:EXECUTIVE_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_RESPONSIBLE_FOR: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:RESPONSIBLE_FOR {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_REGISTERED_PROFESSIONAL_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:REGISTERED_PROFESSIONAL_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_PRACTISES_AT: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:PRACTISES_AT {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_ACTUAL_CONTROLLER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:ACTUAL_CONTROLLER_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

# a person's part in a project the legal person runs (roles.csv `project_participant`); a
# firm's is MERGE_FIRM_PARTICIPATES_IN: one relation type from either kind of party
MERGE_PERSON_PARTICIPATES_IN: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:PARTICIPATES_IN {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_PERSON_SHAREHOLDER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:SHAREHOLDER_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_COMPANY_SHAREHOLDER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:SHAREHOLDER_OF {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_INVESTS_IN: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:INVESTS_IN {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_BRANCH_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:BRANCH_OF {key: row.key}]->(b)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_GUARANTEES: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:GUARANTEES {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_SUPPLIES: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:SUPPLIES {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_MEMBER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:MEMBER_OF {key: row.key}]->(b)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

# a firm's part in a project the other legal person runs (firm_relations.csv `participates_in`)
MERGE_FIRM_PARTICIPATES_IN: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (b)<-[r:PARTICIPATES_IN {key: row.key}]-(a)
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
"""

MERGE_LEGAL_PERSONS_POSSIBLY_SAME_AS: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:POSSIBLY_SAME_AS {key: row.key}]->(b)
SET r += row.props, r += $lineage
"""

MERGE_NATURAL_PERSONS_POSSIBLY_SAME_AS: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:NaturalPerson {uid: row.to_uid})
MERGE (a)-[r:POSSIBLY_SAME_AS {key: row.key}]->(b)
SET r += row.props, r += $lineage
"""

# parties sharing a normalised name where one side has no strong identifier
SAME_NAME_LEGAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MATCH (n:LegalPerson {name_key: row.name_key})
WHERE n.uid <> row.uid AND (row.strong_id = false OR n.strong_id = false)
RETURN row.uid AS uid, n.uid AS other, n.strong_id AS other_strong
"""

# whether any party without a strong identifier exists (then new parties are compared by name)
ANY_WEAK_LEGAL_PERSONS: LiteralString = """
MATCH (n:LegalPerson {strong_id: false})
RETURN n.uid AS uid
LIMIT 1
"""

# parties sharing a normalised name where one side has no strong identifier
SAME_NAME_NATURAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MATCH (n:NaturalPerson {name_key: row.name_key})
WHERE n.uid <> row.uid AND (row.strong_id = false OR n.strong_id = false)
RETURN row.uid AS uid, n.uid AS other, n.strong_id AS other_strong
"""

# whether any party without a strong identifier exists (then new parties are compared by name)
ANY_WEAK_NATURAL_PERSONS: LiteralString = """
MATCH (n:NaturalPerson {strong_id: false})
RETURN n.uid AS uid
LIMIT 1
"""

MERGE_SANCTION_EVENT_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:SanctionEvent {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

MERGE_COMMENDATION_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:Commendation {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

MERGE_CREDIT_GRADE_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:CreditGrade {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

MERGE_SANCTION_EVENT_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:SanctionEvent {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

MERGE_COMMENDATION_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:Commendation {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

MERGE_CREDIT_GRADE_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:CreditGrade {uid: row.uid})
SET r += row.props, r += $lineage
SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on
  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END
MERGE (r)<-[l:SUBJECT_OF]-(s)
SET l += row.link, l += $lineage
"""

LINK_SANCTION_EVENT_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:SanctionEvent {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l += row.link, l += $lineage
"""

LINK_COMMENDATION_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:Commendation {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l += row.link, l += $lineage
"""

LINK_CREDIT_GRADE_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:CreditGrade {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l += row.link, l += $lineage
"""

EXISTING_SANCTION_EVENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:SanctionEvent {uid: uid})
RETURN r.uid AS uid, r {.valid_from, .decision_date, .published_on} AS dates
"""

EXISTING_COMMENDATIONS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:Commendation {uid: uid})
RETURN r.uid AS uid, r {.valid_from, .decision_date, .published_on} AS dates
"""

EXISTING_CREDIT_GRADES: LiteralString = """
UNWIND $uids AS uid
MATCH (r:CreditGrade {uid: uid})
RETURN r.uid AS uid, r {.valid_from, .decision_date, .published_on} AS dates
"""

MERGE_STATUS_CHANGES_OF_SANCTION_EVENT: LiteralString = """
UNWIND $rows AS row
MATCH (r:SanctionEvent {uid: row.record_uid})
MERGE (c:StatusChange {uid: row.uid})
SET c += row.props, c += $lineage
MERGE (c)-[l:CHANGES]->(r)
SET l += row.link, l += $lineage
"""

MERGE_STATUS_CHANGES_OF_COMMENDATION: LiteralString = """
UNWIND $rows AS row
MATCH (r:Commendation {uid: row.record_uid})
MERGE (c:StatusChange {uid: row.uid})
SET c += row.props, c += $lineage
MERGE (c)-[l:CHANGES]->(r)
SET l += row.link, l += $lineage
"""

MERGE_STATUS_CHANGES_OF_CREDIT_GRADE: LiteralString = """
UNWIND $rows AS row
MATCH (r:CreditGrade {uid: row.record_uid})
MERGE (c:StatusChange {uid: row.uid})
SET c += row.props, c += $lineage
MERGE (c)-[l:CHANGES]->(r)
SET l += row.link, l += $lineage
"""

# the dated changes of some records, to fold into their current status
STATUS_CHANGES_OF_RECORDS: LiteralString = """
UNWIND $uids AS uid
MATCH (c:StatusChange {record_uid: uid})
RETURN uid, c.uid AS change_uid, c.change AS change, c.effective_on AS effective_on
"""

# whether the store holds any status change: without one, no record row can be refused for a
# start after a stored repair or expiry (loaders/loader.py), and a first load reads no more
ANY_STATUS_CHANGE: LiteralString = """
MATCH (c:StatusChange)
RETURN c.uid AS uid
LIMIT 1
"""

# the repairs and expiries the store holds for records a re-load lists again, with the dates
# the record has: a row that moves the record's start after one of them is refused
# (loaders/loader.py). Starts from the changes' record index: a record without one reads
# nothing more.
ENDINGS_OF_RECORDS: LiteralString = """
UNWIND $uids AS uid
MATCH (c:StatusChange {record_uid: uid})
WHERE c.change IN $changes
MATCH (c)-[:CHANGES]->(r)
RETURN uid, c.uid AS change_uid, c.change AS change, c.effective_on AS effective_on,
  r {.valid_from, .decision_date, .published_on} AS dates
"""

LISTED_STATUS_OF_SANCTION_EVENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:SanctionEvent {uid: uid})
RETURN r.uid AS uid, r.listed_status AS listed_status, r.listed_status_since AS listed_since
"""

LISTED_STATUS_OF_COMMENDATIONS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:Commendation {uid: uid})
RETURN r.uid AS uid, r.listed_status AS listed_status, r.listed_status_since AS listed_since
"""

LISTED_STATUS_OF_CREDIT_GRADES: LiteralString = """
UNWIND $uids AS uid
MATCH (r:CreditGrade {uid: uid})
RETURN r.uid AS uid, r.listed_status AS listed_status, r.listed_status_since AS listed_since
"""

# a record about to take a status change through the API, locked for the change's transaction:
# setting its status to itself takes the record's write lock in Neo4j (a concurrent change
# waits for the commit) and makes it the transaction's write in ArcadeDB (a concurrent change
# that commits later fails and is retried); its status as it stands, read under that lock
LOCK_SANCTION_EVENT_FOR_CHANGE: LiteralString = """
MATCH (r:SanctionEvent {uid: $uid})
SET r.status = r.status
RETURN r.status AS status, r.status_since AS since
"""

LOCK_COMMENDATION_FOR_CHANGE: LiteralString = """
MATCH (r:Commendation {uid: $uid})
SET r.status = r.status
RETURN r.status AS status, r.status_since AS since
"""

LOCK_CREDIT_GRADE_FOR_CHANGE: LiteralString = """
MATCH (r:CreditGrade {uid: $uid})
SET r.status = r.status
RETURN r.status AS status, r.status_since AS since
"""

SET_STATUS_OF_SANCTION_EVENTS: LiteralString = """
UNWIND $rows AS row
MATCH (r:SanctionEvent {uid: row.uid})
SET r.status = row.status, r.status_since = row.since
"""

SET_STATUS_OF_COMMENDATIONS: LiteralString = """
UNWIND $rows AS row
MATCH (r:Commendation {uid: row.uid})
SET r.status = row.status, r.status_since = row.since
"""

SET_STATUS_OF_CREDIT_GRADES: LiteralString = """
UNWIND $rows AS row
MATCH (r:CreditGrade {uid: row.uid})
SET r.status = row.status, r.status_since = row.since
"""

# the run ledger: written in the same transaction as the chunk it marks
MARK_CHUNK_COMMITTED: LiteralString = """
MERGE (c:LoadChunk {uid: $uid})
SET c += $props
"""

# `pending`: the chunk's relations were written by a load whose re-score after it has not run
# yet (killed before it): the next run of the file re-scores their ends (loaders/loader.py);
# `folds`, `person_folds`: the legal and natural persons the chunk folded parties into
# (loaders/fold.py), kept while pending
COMMITTED_CHUNKS: LiteralString = """
MATCH (c:LoadChunk {file_digest: $digest})
RETURN c.uid AS uid, c.rescore_pending AS pending, c.rescore_folds AS folds,
  c.rescore_person_folds AS person_folds
"""

# the first file of a load: its committed chunks as above (`mine`), and with them every chunk
# of the ledger still owing a re-score, whatever file it came from (an earlier run that stopped
# before its re-score, of a file since changed or loaded with another batch size): the load
# re-scores what they changed too (`tracked`: their entries name it, `rescore_parties`,
# `rescore_persons`, `rescore_records`; else it is not known). One read in place of
# COMMITTED_CHUNKS: a scan of the ledger's label, a chunk per 10,000 rows.
COMMITTED_AND_PENDING_CHUNKS: LiteralString = """
MATCH (c:LoadChunk)
WHERE c.file_digest = $digest OR c.rescore_pending = true
RETURN c.uid AS uid, c.file_digest = $digest AS mine, c.rescore_pending AS pending,
  c.rescore_folds AS folds, c.rescore_person_folds AS person_folds,
  c.rescore_tracked AS tracked, c.rescore_parties AS parties, c.rescore_persons AS persons,
  c.rescore_records AS records
"""

# once the re-score after a load has run: its chunks, and those of earlier runs it took in, are
# no longer pending
MARK_CHUNKS_RESCORED: LiteralString = """
UNWIND $uids AS uid
MATCH (c:LoadChunk {uid: uid})
REMOVE c.rescore_pending, c.rescore_folds, c.rescore_person_folds, c.rescore_tracked,
  c.rescore_parties, c.rescore_persons, c.rescore_records
"""

# once a full `risk score` has written every party's score: no chunk committed before it
# started owes a re-score any more
MARK_ALL_RESCORED: LiteralString = """
MATCH (c:LoadChunk)
WHERE c.rescore_pending = true AND c.committed_at <= $before
REMOVE c.rescore_pending, c.rescore_folds, c.rescore_person_folds, c.rescore_tracked,
  c.rescore_parties, c.rescore_persons, c.rescore_records
"""

# whether a load committed a chunk of a source before: only then can the store hold a relation
# keyed with one of its ids. A chunk the ledger marked before it named sources (no `source`)
# may be of any. A scan of the ledger's label: a chunk per 10,000 rows.
SOURCE_LOADED_BEFORE: LiteralString = """
MATCH (c:LoadChunk)
WHERE c.source = $source OR (c.file_digest IS NOT NULL AND c.source IS NULL)
RETURN c.uid AS uid
LIMIT 1
"""

# --- full extracts: what an extract of DATE no longer lists is ended on DATE --------------------
# A relation or record is a candidate when its source is the extract's, it counts on DATE (it
# started by then and has not ended), and no extract of DATE or later listed it. The ending
# statements repeat the test, so running them again (a re-run after a crash) ends nothing twice.

UNLISTED_ROLES: LiteralString = """
MATCH (a:NaturalPerson)-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF|RESPONSIBLE_FOR
  |REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF|PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source
  AND (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.key AS key, b.uid AS to_uid, a.uid AS from_uid, a:LegalPerson AS from_legal
"""

UNLISTED_SHAREHOLDINGS: LiteralString = """
MATCH (a)-[r:SHAREHOLDER_OF]->(b:LegalPerson)
WHERE r.source = $source
  AND (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.key AS key, b.uid AS to_uid, a.uid AS from_uid, a:LegalPerson AS from_legal
"""

UNLISTED_FIRM_RELATIONS: LiteralString = """
MATCH (a:LegalPerson)-[r:INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF
  |PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source
  AND (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.key AS key, b.uid AS to_uid, a.uid AS from_uid, a:LegalPerson AS from_legal
"""

# what a source's full extracts of $date or later ended (delisted), with the ends: a run of the
# extract again after one killed before its re-score re-scores them (loaders/extract.py)
ENDED_ROLES_SINCE: LiteralString = """
MATCH (a:NaturalPerson)-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF|RESPONSIBLE_FOR
  |REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF|PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on >= $date
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

ENDED_SHAREHOLDINGS_SINCE: LiteralString = """
MATCH (a)-[r:SHAREHOLDER_OF]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on >= $date
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

ENDED_FIRM_RELATIONS_SINCE: LiteralString = """
MATCH (a:LegalPerson)-[r:INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF
  |PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on >= $date
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

DELISTED_SANCTION_EVENTS_SINCE: LiteralString = """
MATCH (r:SanctionEvent {source: $source})
WHERE r.delisted_on >= $date
RETURN r.uid AS uid
"""

# each ending starts from the legal person at the relation's head, as the MERGEs do
END_ROLES: LiteralString = """
UNWIND $rows AS row
MATCH (b:LegalPerson {uid: row.to_uid})<-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF
  |RESPONSIBLE_FOR|REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF
  |PARTICIPATES_IN]-(:NaturalPerson)
WHERE r.key = row.key AND (r.valid_to IS NULL OR r.valid_to > $date)
SET r.valid_to = $date, r.ended_on = $date, r.ended_by_run = $run_id
"""

END_SHAREHOLDINGS: LiteralString = """
UNWIND $rows AS row
MATCH (b:LegalPerson {uid: row.to_uid})<-[r:SHAREHOLDER_OF]-()
WHERE r.key = row.key AND (r.valid_to IS NULL OR r.valid_to > $date)
SET r.valid_to = $date, r.ended_on = $date, r.ended_by_run = $run_id
"""

END_FIRM_RELATIONS: LiteralString = """
UNWIND $rows AS row
MATCH (b:LegalPerson {uid: row.to_uid})<-[r:INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES
  |MEMBER_OF|PARTICIPATES_IN]-(:LegalPerson)
WHERE r.key = row.key AND (r.valid_to IS NULL OR r.valid_to > $date)
SET r.valid_to = $date, r.ended_on = $date, r.ended_by_run = $run_id
"""

UNLISTED_SANCTION_EVENTS: LiteralString = """
MATCH (r:SanctionEvent {source: $source})
WHERE (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.delisted_on IS NULL OR r.delisted_on > $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.uid AS uid
"""

UNLISTED_COMMENDATIONS: LiteralString = """
MATCH (r:Commendation {source: $source})
WHERE (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.delisted_on IS NULL OR r.delisted_on > $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.uid AS uid
"""

UNLISTED_CREDIT_GRADES: LiteralString = """
MATCH (r:CreditGrade {source: $source})
WHERE (r.last_listed_on IS NULL OR r.last_listed_on < $date)
  AND (r.delisted_on IS NULL OR r.delisted_on > $date)
  AND (r.valid_from IS NULL OR r.valid_from <= $date)
  AND (r.valid_to IS NULL OR r.valid_to > $date)
RETURN r.uid AS uid
"""

# listed again by an extract of the day it was ended or later (a corrected extract, a debtor
# listed again): current again, unless its source gave it an end of its own since
# (each revived relation comes back with its ends: they are re-scored after the load)
REVIVE_ROLES: LiteralString = """
MATCH (a:NaturalPerson)-[r:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF|RESPONSIBLE_FOR
  |REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF|PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on IS NOT NULL AND r.last_listed_on >= r.ended_on
SET r.valid_to = CASE WHEN r.valid_to = r.ended_on THEN null ELSE r.valid_to END
REMOVE r.ended_on, r.ended_by_run
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

REVIVE_SHAREHOLDINGS: LiteralString = """
MATCH (a)-[r:SHAREHOLDER_OF]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on IS NOT NULL AND r.last_listed_on >= r.ended_on
SET r.valid_to = CASE WHEN r.valid_to = r.ended_on THEN null ELSE r.valid_to END
REMOVE r.ended_on, r.ended_by_run
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

REVIVE_FIRM_RELATIONS: LiteralString = """
MATCH (a:LegalPerson)-[r:INVESTS_IN|BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF
  |PARTICIPATES_IN]->(b:LegalPerson)
WHERE r.source = $source AND r.ended_on IS NOT NULL AND r.last_listed_on >= r.ended_on
SET r.valid_to = CASE WHEN r.valid_to = r.ended_on THEN null ELSE r.valid_to END
REMOVE r.ended_on, r.ended_by_run
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

RELISTED_SANCTION_EVENTS: LiteralString = """
MATCH (r:SanctionEvent {source: $source})
WHERE r.delisted_on IS NOT NULL AND r.last_listed_on >= r.delisted_on
RETURN r.uid AS uid
"""

RELISTED_COMMENDATIONS: LiteralString = """
MATCH (r:Commendation {source: $source})
WHERE r.delisted_on IS NOT NULL AND r.last_listed_on >= r.delisted_on
RETURN r.uid AS uid
"""

RELISTED_CREDIT_GRADES: LiteralString = """
MATCH (r:CreditGrade {source: $source})
WHERE r.delisted_on IS NOT NULL AND r.last_listed_on >= r.delisted_on
RETURN r.uid AS uid
"""

# the `expired` changes a full extract wrote (`delisting`), for records listed again
DELETE_DELISTINGS: LiteralString = """
UNWIND $uids AS uid
MATCH (c:StatusChange {record_uid: uid})
WHERE c.delisting = true
DETACH DELETE c
"""

# back to the status its source listed; the loader then folds its other changes again
RELIST_SANCTION_EVENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:SanctionEvent {uid: uid})
SET r.status = r.listed_status, r.status_since = r.listed_status_since
REMOVE r.delisted_on, r.delisted_by_run
"""

RELIST_COMMENDATIONS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:Commendation {uid: uid})
SET r.status = r.listed_status, r.status_since = r.listed_status_since
REMOVE r.delisted_on, r.delisted_by_run
"""

RELIST_CREDIT_GRADES: LiteralString = """
UNWIND $uids AS uid
MATCH (r:CreditGrade {uid: uid})
SET r.status = r.listed_status, r.status_since = r.listed_status_since
REMOVE r.delisted_on, r.delisted_by_run
"""

# beside the `expired` status change the loader writes for it (loaders/loader.py)
MARK_DELISTED_SANCTION_EVENTS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:SanctionEvent {uid: uid})
SET r.delisted_on = $date, r.delisted_by_run = $run_id
"""

MARK_DELISTED_COMMENDATIONS: LiteralString = """
UNWIND $uids AS uid
MATCH (r:Commendation {uid: uid})
SET r.delisted_on = $date, r.delisted_by_run = $run_id
"""

MARK_DELISTED_CREDIT_GRADES: LiteralString = """
UNWIND $uids AS uid
MATCH (r:CreditGrade {uid: uid})
SET r.delisted_on = $date, r.delisted_by_run = $run_id
"""

PARTY_WRITES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: MERGE_LEGAL_PERSONS,
    Label.NATURAL_PERSON: MERGE_NATURAL_PERSONS,
    Label.AUTHORITY: MERGE_AUTHORITIES,
}

SECONDARY_PARTY_WRITES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: MERGE_SECONDARY_LEGAL_PERSONS,
    Label.NATURAL_PERSON: MERGE_SECONDARY_NATURAL_PERSONS,
}

EXISTING_PARTIES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: EXISTING_LEGAL_PERSONS,
    Label.NATURAL_PERSON: EXISTING_NATURAL_PERSONS,
}

PARTIES_BY_FTM_ID: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSONS_BY_FTM_ID,
    Label.NATURAL_PERSON: NATURAL_PERSONS_BY_FTM_ID,
}

EXISTING_RECORDS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: EXISTING_SANCTION_EVENTS,
    Label.COMMENDATION: EXISTING_COMMENDATIONS,
    Label.CREDIT_GRADE: EXISTING_CREDIT_GRADES,
}

PERSON_ROLE_WRITES: dict[RelationType, LiteralString] = {
    RelationType.LEGAL_REPRESENTATIVE_OF: MERGE_LEGAL_REPRESENTATIVE_OF,
    RelationType.PRINCIPAL_OF: MERGE_PRINCIPAL_OF,
    RelationType.EXECUTIVE_OF: MERGE_EXECUTIVE_OF,
    RelationType.RESPONSIBLE_FOR: MERGE_RESPONSIBLE_FOR,
    RelationType.REGISTERED_PROFESSIONAL_OF: MERGE_REGISTERED_PROFESSIONAL_OF,
    RelationType.PRACTISES_AT: MERGE_PRACTISES_AT,
    RelationType.ACTUAL_CONTROLLER_OF: MERGE_ACTUAL_CONTROLLER_OF,
    RelationType.PARTICIPATES_IN: MERGE_PERSON_PARTICIPATES_IN,
}

FIRM_RELATION_WRITES: dict[RelationType, LiteralString] = {
    RelationType.INVESTS_IN: MERGE_INVESTS_IN,
    RelationType.BRANCH_OF: MERGE_BRANCH_OF,
    RelationType.GUARANTEES: MERGE_GUARANTEES,
    RelationType.SUPPLIES: MERGE_SUPPLIES,
    RelationType.MEMBER_OF: MERGE_MEMBER_OF,
    RelationType.PARTICIPATES_IN: MERGE_FIRM_PARTICIPATES_IN,
}

SHAREHOLDER_WRITES: dict[Label, LiteralString] = {
    Label.NATURAL_PERSON: MERGE_PERSON_SHAREHOLDER_OF,
    Label.LEGAL_PERSON: MERGE_COMPANY_SHAREHOLDER_OF,
}

POSSIBLY_SAME_AS_WRITES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: MERGE_LEGAL_PERSONS_POSSIBLY_SAME_AS,
    Label.NATURAL_PERSON: MERGE_NATURAL_PERSONS_POSSIBLY_SAME_AS,
}

PARTY_PROPERTIES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSON_PROPERTIES,
    Label.NATURAL_PERSON: NATURAL_PERSON_PROPERTIES,
}

RELATIONS_FROM_PARTY: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: RELATIONS_FROM_LEGAL_PERSON,
    Label.NATURAL_PERSON: RELATIONS_FROM_NATURAL_PERSON,
}

RELATIONS_TO_PARTY: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: RELATIONS_TO_LEGAL_PERSON,
    Label.NATURAL_PERSON: RELATIONS_TO_NATURAL_PERSON,
}

ADD_TO_PARTY: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: ADD_TO_LEGAL_PERSON,
    Label.NATURAL_PERSON: ADD_TO_NATURAL_PERSON,
}

DELETE_PARTY: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: DELETE_LEGAL_PERSON,
    Label.NATURAL_PERSON: DELETE_NATURAL_PERSON,
}

OTHER_NAME_WRITES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: MERGE_LEGAL_PERSON_OTHER_NAMES,
    Label.NATURAL_PERSON: MERGE_NATURAL_PERSON_OTHER_NAMES,
}

PARTY_NAMES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: LEGAL_PERSON_NAMES,
    Label.NATURAL_PERSON: NATURAL_PERSON_NAMES,
}

OTHER_NAMES_OF: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: OTHER_NAMES_OF_LEGAL_PERSONS,
    Label.NATURAL_PERSON: OTHER_NAMES_OF_NATURAL_PERSONS,
}


ANY_WEAK_PARTY: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: ANY_WEAK_LEGAL_PERSONS,
    Label.NATURAL_PERSON: ANY_WEAK_NATURAL_PERSONS,
}

SAME_NAME_PARTIES: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: SAME_NAME_LEGAL_PERSONS,
    Label.NATURAL_PERSON: SAME_NAME_NATURAL_PERSONS,
}

RECORD_WRITES: dict[tuple[Label, Label], LiteralString] = {
    (Label.LEGAL_PERSON, Label.SANCTION_EVENT): MERGE_SANCTION_EVENT_OF_LEGAL_PERSON,
    (Label.LEGAL_PERSON, Label.COMMENDATION): MERGE_COMMENDATION_OF_LEGAL_PERSON,
    (Label.LEGAL_PERSON, Label.CREDIT_GRADE): MERGE_CREDIT_GRADE_OF_LEGAL_PERSON,
    (Label.NATURAL_PERSON, Label.SANCTION_EVENT): MERGE_SANCTION_EVENT_OF_NATURAL_PERSON,
    (Label.NATURAL_PERSON, Label.COMMENDATION): MERGE_COMMENDATION_OF_NATURAL_PERSON,
    (Label.NATURAL_PERSON, Label.CREDIT_GRADE): MERGE_CREDIT_GRADE_OF_NATURAL_PERSON,
}

RECORD_ISSUER_LINKS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: LINK_SANCTION_EVENT_ISSUER,
    Label.COMMENDATION: LINK_COMMENDATION_ISSUER,
    Label.CREDIT_GRADE: LINK_CREDIT_GRADE_ISSUER,
}

STATUS_CHANGE_WRITES: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: MERGE_STATUS_CHANGES_OF_SANCTION_EVENT,
    Label.COMMENDATION: MERGE_STATUS_CHANGES_OF_COMMENDATION,
    Label.CREDIT_GRADE: MERGE_STATUS_CHANGES_OF_CREDIT_GRADE,
}

LISTED_STATUSES: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: LISTED_STATUS_OF_SANCTION_EVENTS,
    Label.COMMENDATION: LISTED_STATUS_OF_COMMENDATIONS,
    Label.CREDIT_GRADE: LISTED_STATUS_OF_CREDIT_GRADES,
}

LOCK_FOR_CHANGE: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: LOCK_SANCTION_EVENT_FOR_CHANGE,
    Label.COMMENDATION: LOCK_COMMENDATION_FOR_CHANGE,
    Label.CREDIT_GRADE: LOCK_CREDIT_GRADE_FOR_CHANGE,
}

SET_STATUSES: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: SET_STATUS_OF_SANCTION_EVENTS,
    Label.COMMENDATION: SET_STATUS_OF_COMMENDATIONS,
    Label.CREDIT_GRADE: SET_STATUS_OF_CREDIT_GRADES,
}


UNLISTED_RECORDS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: UNLISTED_SANCTION_EVENTS,
    Label.COMMENDATION: UNLISTED_COMMENDATIONS,
    Label.CREDIT_GRADE: UNLISTED_CREDIT_GRADES,
}

RELISTED_RECORDS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: RELISTED_SANCTION_EVENTS,
    Label.COMMENDATION: RELISTED_COMMENDATIONS,
    Label.CREDIT_GRADE: RELISTED_CREDIT_GRADES,
}

RELIST_RECORDS: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: RELIST_SANCTION_EVENTS,
    Label.COMMENDATION: RELIST_COMMENDATIONS,
    Label.CREDIT_GRADE: RELIST_CREDIT_GRADES,
}

MARK_DELISTED: dict[Label, LiteralString] = {
    Label.SANCTION_EVENT: MARK_DELISTED_SANCTION_EVENTS,
    Label.COMMENDATION: MARK_DELISTED_COMMENDATIONS,
    Label.CREDIT_GRADE: MARK_DELISTED_CREDIT_GRADES,
}


# every relation the loader writes, by its type and the label of the party it starts from: a
# role from a natural person, a firm relation from a legal person, a shareholding from either
# (PARTICIPATES_IN is both a role and a firm relation)
RELATION_WRITES: dict[tuple[RelationType, Label], LiteralString] = {
    **{(kind, Label.NATURAL_PERSON): query for kind, query in PERSON_ROLE_WRITES.items()},
    **{(kind, Label.LEGAL_PERSON): query for kind, query in FIRM_RELATION_WRITES.items()},
    **{(RelationType.SHAREHOLDER_OF, label): query for label, query in SHAREHOLDER_WRITES.items()},
}


def relation_write(relation: RelationType, source: Label) -> LiteralString:
    """The statement that merges a relation of this type from a party with this label."""
    try:
        return RELATION_WRITES[relation, source]
    except KeyError:
        raise KeyError(
            f"the loader writes no {relation.value} relation from a {source.value}"
        ) from None


# --- relation writes that say what they changed, for the re-score after a load ----------------
# (queries/contagion.py `rescore_records`). The same MERGE, and before its SET, whether the row
# created the relation (it has no `run_id` yet: every write gives it one) or gives a stake or a
# date other than the one stored (what scoring reads; a value the row leaves out is kept);
# only those rows come back, with both ends. A re-load of unchanged rows returns nothing.
# The loader uses them until a load has changed more than the re-score takes in, then the
# plain statements, which return nothing (docs/benchmarks.md: a RETURN costs).

_VALUES: LiteralString = "SET r += row.props, r += $lineage\n"

_LISTED: LiteralString = (
    "SET r.last_listed_on = CASE WHEN $listed_on IS NULL THEN r.last_listed_on\n"
    "  WHEN r.last_listed_on >= $listed_on THEN r.last_listed_on ELSE $listed_on END\n"
)

_RELATION_SET: LiteralString = _VALUES + _LISTED

_CHANGED: LiteralString = """WITH a, b, r, row, r.run_id IS NULL
  OR (row.props.stake IS NOT NULL AND (r.stake IS NULL OR r.stake <> row.props.stake))
  OR (row.props.valid_from IS NOT NULL
      AND (r.valid_from IS NULL OR r.valid_from <> row.props.valid_from))
  OR (row.props.valid_to IS NOT NULL
      AND (r.valid_to IS NULL OR r.valid_to <> row.props.valid_to)) AS changed
"""

_CHANGED_ENDS: LiteralString = """WITH a, b, changed
WHERE changed
RETURN a.uid AS from_uid, a:LegalPerson AS from_legal, b.uid AS to_uid
"""

_CHANGED_RELATION_SET: LiteralString = _CHANGED + _RELATION_SET + _CHANGED_ENDS

CHANGE_REPORTING_RELATION_WRITES: dict[LiteralString, LiteralString] = {
    statement: statement.replace(_RELATION_SET, _CHANGED_RELATION_SET)
    for statement in (
        *PERSON_ROLE_WRITES.values(),
        *FIRM_RELATION_WRITES.values(),
        *SHAREHOLDER_WRITES.values(),
    )
}


# --- dated writes: an older full extract never replaces the values of a newer one -------------
# (`credgraph load --full-extract DATE`, docs/formats.md "Full extracts"). Each party, relation
# and record a dated load writes keeps in `described_on` the day of the extract its values come
# from; a row's values, and the lineage that goes with them, are written only when its day is
# that day or later (the same day: the later load wins, as without dates). A relation or record
# of an older extract still gets its `last_listed_on`: that extract did list it. Derived from the
# plain statements above, which undated loads run unchanged: they write their values and leave
# `described_on` as it is.


def _derived(
    statements: Iterable[LiteralString], plain: LiteralString, dated: LiteralString
) -> dict[LiteralString, LiteralString]:
    """Each statement -> the same with `plain` replaced by `dated` (checked on import: a plain
    statement edited out of step would otherwise keep writing older values)."""
    derived = {statement: statement.replace(plain, dated) for statement in statements}
    unchanged = [statement for statement, text in derived.items() if statement == text]
    if unchanged:
        raise AssertionError(f"no dated variant derived from {unchanged[0]!r}")
    return derived


_NODE_SET: LiteralString = "SET n += row.props, n += $lineage\n"
_SECONDARY_SET: LiteralString = "ON MATCH SET n += row.update\n"
_CURRENT_NODE: LiteralString = "WHERE n.described_on IS NULL OR n.described_on <= $listed_on\n"
_CURRENT: LiteralString = "WHERE r.described_on IS NULL OR r.described_on <= $listed_on\n"
_DATED_VALUES: LiteralString = "SET r += row.props, r += $lineage, r.described_on = $listed_on\n"

_DATED_NODE_SET: LiteralString = (
    "WITH n, row\n"
    + _CURRENT_NODE
    + "SET n += row.props, n += $lineage, n.described_on = $listed_on\n"
)
# A secondary source (a sanctions list) adds to a party what the registry does not own, dated
# on a clock of its own: sharing `described_on` would let a list of March refuse the registry's
# February extract its name and address, and the registry's extract the list's additions.
_CURRENT_ADDITIONS: LiteralString = (
    "WHERE n.secondary_described_on IS NULL OR n.secondary_described_on <= $listed_on\n"
)
_DATED_SECONDARY_SET: LiteralString = (
    "WITH n, row\n"
    + _CURRENT_ADDITIONS
    + "SET n += row.update, n.secondary_described_on = $listed_on\n"
)
_DATED_RELATION_SET: LiteralString = _LISTED + "WITH a, b, r, row\n" + _CURRENT + _DATED_VALUES
_DATED_CHANGED_RELATION_SET: LiteralString = (
    _LISTED + "WITH a, b, r, row\n" + _CURRENT + _CHANGED + _DATED_VALUES + _CHANGED_ENDS
)
# a record's links to its subject and issuer are its values too: an older row leaves them
_DATED_RECORD_SET: LiteralString = _LISTED + "WITH s, r, row\n" + _CURRENT + _DATED_VALUES
_ISSUER_LINK: LiteralString = "MERGE (r)-[l:ISSUED_BY]->(a)\n"
_DATED_ISSUER_LINK: LiteralString = "WITH r, a, row\n" + _CURRENT + _ISSUER_LINK

_RELATION_WRITES: tuple[LiteralString, ...] = (
    *PERSON_ROLE_WRITES.values(),
    *FIRM_RELATION_WRITES.values(),
    *SHAREHOLDER_WRITES.values(),
)

# plain statement -> its dated variant, for a full extract's chunks (loaders/loader.py)
DATED_WRITES: dict[LiteralString, LiteralString] = {
    **_derived((MERGE_LEGAL_PERSONS, MERGE_NATURAL_PERSONS), _NODE_SET, _DATED_NODE_SET),
    **_derived(SECONDARY_PARTY_WRITES.values(), _SECONDARY_SET, _DATED_SECONDARY_SET),
    **_derived(_RELATION_WRITES, _RELATION_SET, _DATED_RELATION_SET),
    **_derived(RECORD_WRITES.values(), _RELATION_SET, _DATED_RECORD_SET),
    **_derived(RECORD_ISSUER_LINKS.values(), _ISSUER_LINK, _DATED_ISSUER_LINK),
}

DATED_CHANGE_REPORTING_RELATION_WRITES: dict[LiteralString, LiteralString] = _derived(
    _RELATION_WRITES, _RELATION_SET, _DATED_CHANGED_RELATION_SET
)

# what of a chunk the store holds with values of a later day than $listed_on: the rows a dated
# load counts as `outdated` (their values are kept), read before the chunk is written
_PARTY_FOUND: LiteralString = "RETURN n.uid AS uid\n"
_RECORD_FOUND: LiteralString = (
    "RETURN r.uid AS uid, r {.valid_from, .decision_date, .published_on} AS dates\n"
)
_RELATION_FOUND: LiteralString = """WHERE r.key IN $keys
RETURN r.key AS key, type(r) AS type, a.uid AS from_uid, b.uid AS to_uid,
  coalesce(a.id_masked, a.uid) AS from_shown, r.source_row AS source_row
"""

OUTDATED_PARTIES: dict[Label, LiteralString] = {
    label: _derived([query], _PARTY_FOUND, "WHERE n.described_on > $listed_on\n" + _PARTY_FOUND)[
        query
    ]
    for label, query in EXISTING_PARTIES.items()
}

# the same for a secondary source's parties: its additions are dated apart (above)
OUTDATED_ADDITIONS: dict[Label, LiteralString] = {
    label: _derived(
        [query], _PARTY_FOUND, "WHERE n.secondary_described_on > $listed_on\n" + _PARTY_FOUND
    )[query]
    for label, query in EXISTING_PARTIES.items()
}

OUTDATED_RECORDS: dict[Label, LiteralString] = {
    label: _derived(
        [query], _RECORD_FOUND, "WHERE r.described_on > $listed_on\nRETURN r.uid AS uid\n"
    )[query]
    for label, query in EXISTING_RECORDS.items()
}

# by the statement that reads a target's relations by key (loaders/loader.py `_KEYED_RELATIONS`)
OUTDATED_RELATIONS: dict[LiteralString, LiteralString] = _derived(
    (KEYED_ROLES, KEYED_SHAREHOLDINGS, KEYED_FIRM_RELATIONS, KEYED_ROLES_AND_SHAREHOLDINGS),
    _RELATION_FOUND,
    "WHERE r.key IN $keys AND r.described_on > $listed_on\nRETURN r.key AS key\n",
)
