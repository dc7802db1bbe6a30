"""Write statements used by the loaders: batched, idempotent MERGEs keyed on `uid`.

Each statement takes `$rows`, a list of maps, and UNWINDs it in one transaction. Nodes merge on
their `uid`; relations merge on (source, source record), so loading the same rows twice leaves
the graph as it was. Relation types cannot be parameters in Cypher, so there is one statement
per type, chosen from the closed vocabulary by the lookup tables at the end of this module.
"""

from __future__ import annotations

from typing import LiteralString

from credgraph.graph.vocabulary import Label, RelationType

MERGE_LEGAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:LegalPerson {uid: row.uid})
SET n += row.props
RETURN count(n) AS written
"""

MERGE_NATURAL_PERSONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:NaturalPerson {uid: row.uid})
SET n += row.props
RETURN count(n) AS written
"""

MERGE_AUTHORITIES: LiteralString = """
UNWIND $rows AS row
MERGE (a:Authority {uid: row.uid})
SET a += row.props
RETURN count(a) AS written
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

MERGE_LEGAL_REPRESENTATIVE_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:LEGAL_REPRESENTATIVE_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_PRINCIPAL_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:PRINCIPAL_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_EXECUTIVE_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:EXECUTIVE_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_RESPONSIBLE_FOR: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:RESPONSIBLE_FOR {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_REGISTERED_PROFESSIONAL_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:REGISTERED_PROFESSIONAL_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_PRACTISES_AT: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:PRACTISES_AT {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_ACTUAL_CONTROLLER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:ACTUAL_CONTROLLER_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_PERSON_SHAREHOLDER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:NaturalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:SHAREHOLDER_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_COMPANY_SHAREHOLDER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:SHAREHOLDER_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_INVESTS_IN: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:INVESTS_IN {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_BRANCH_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:BRANCH_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_GUARANTEES: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:GUARANTEES {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_SUPPLIES: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:SUPPLIES {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_MEMBER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (a:LegalPerson {uid: row.from_uid})
MATCH (b:LegalPerson {uid: row.to_uid})
MERGE (a)-[r:MEMBER_OF {source: row.source, source_record: row.source_record}]->(b)
SET r += row.props
RETURN count(r) AS written
"""

MERGE_SANCTION_EVENT_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:SanctionEvent {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

MERGE_COMMENDATION_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:Commendation {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

MERGE_CREDIT_GRADE_OF_LEGAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:LegalPerson {uid: row.subject_uid})
MERGE (r:CreditGrade {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

MERGE_SANCTION_EVENT_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:SanctionEvent {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

MERGE_COMMENDATION_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:Commendation {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

MERGE_CREDIT_GRADE_OF_NATURAL_PERSON: LiteralString = """
UNWIND $rows AS row
MATCH (s:NaturalPerson {uid: row.subject_uid})
MERGE (r:CreditGrade {uid: row.uid})
SET r += row.props
MERGE (s)-[l:SUBJECT_OF]->(r)
SET l.source = row.source, l.source_record = row.source_record, l.run_id = row.props.run_id,
    l.loaded_at = row.props.loaded_at, l.valid_from = row.props.valid_from,
    l.valid_to = row.props.valid_to
RETURN count(r) AS written
"""

LINK_SANCTION_EVENT_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:SanctionEvent {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l.source = row.source, l.run_id = row.props.run_id
RETURN count(l) AS written
"""

LINK_COMMENDATION_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:Commendation {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l.source = row.source, l.run_id = row.props.run_id
RETURN count(l) AS written
"""

LINK_CREDIT_GRADE_ISSUER: LiteralString = """
UNWIND $rows AS row
MATCH (r:CreditGrade {uid: row.uid})
MATCH (a:Authority {uid: row.authority_uid})
MERGE (r)-[l:ISSUED_BY]->(a)
SET l.source = row.source, l.run_id = row.props.run_id
RETURN count(l) AS written
"""

PERSON_ROLE_WRITES: dict[RelationType, LiteralString] = {
    RelationType.LEGAL_REPRESENTATIVE_OF: MERGE_LEGAL_REPRESENTATIVE_OF,
    RelationType.PRINCIPAL_OF: MERGE_PRINCIPAL_OF,
    RelationType.EXECUTIVE_OF: MERGE_EXECUTIVE_OF,
    RelationType.RESPONSIBLE_FOR: MERGE_RESPONSIBLE_FOR,
    RelationType.REGISTERED_PROFESSIONAL_OF: MERGE_REGISTERED_PROFESSIONAL_OF,
    RelationType.PRACTISES_AT: MERGE_PRACTISES_AT,
    RelationType.ACTUAL_CONTROLLER_OF: MERGE_ACTUAL_CONTROLLER_OF,
}

FIRM_RELATION_WRITES: dict[RelationType, LiteralString] = {
    RelationType.INVESTS_IN: MERGE_INVESTS_IN,
    RelationType.BRANCH_OF: MERGE_BRANCH_OF,
    RelationType.GUARANTEES: MERGE_GUARANTEES,
    RelationType.SUPPLIES: MERGE_SUPPLIES,
    RelationType.MEMBER_OF: MERGE_MEMBER_OF,
}

SHAREHOLDER_WRITES: dict[Label, LiteralString] = {
    Label.NATURAL_PERSON: MERGE_PERSON_SHAREHOLDER_OF,
    Label.LEGAL_PERSON: MERGE_COMPANY_SHAREHOLDER_OF,
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
