"""A party's other names: the former names (曾用名) a registry gives or a rename leaves, and the
aliases a sanctions list gives. Each is an `OtherName` node linked to its party by NAME_OF
(queries/writes.py), found by name search (queries/lookup.py `search_by_name`).

Written in the transaction of the chunk that names them, after reading the names its parties
have before it (one read per label), so that a rename by a row sees what earlier chunks and
earlier rows of the same chunk wrote:

- a registry row (`legal_persons.csv`, an authoritative party row) that gives a stored party a
  name of another name key makes the name it replaces a former name; its `former_names` are
  former names too (all but one of the key of its own name);
- a secondary source's row (FtM) adds its aliases (every FtM `name` and `alias` but the
  party's current name) as aliases; it never renames a party;
- a registry row whose values a full extract does not write (an older extract than the
  stored `described_on`) renames nothing, but its name, when not the party's name now, and its
  `former_names` are former names: loaded after the newer extract, it leaves the names the two
  leave in date order (docs/formats.md "Full extracts");
- a secondary source's row whose additions are older than the stored
  `secondary_described_on` adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from credgraph.graph.identifiers import other_name_uid
from credgraph.graph.names import name_key
from credgraph.graph.store import Transaction
from credgraph.graph.vocabulary import LINEAGE_PROPERTIES, Label, OtherNameKind
from credgraph.queries import writes

Row = dict[str, Any]


def staged_names(
    label: Label,
    uid: str,
    props: Row,
    authoritative: bool,
    others: tuple[tuple[OtherNameKind, str], ...],
) -> Row | None:
    """What a party row says of the party's names, for `add_other_names`; None for a row
    that can give none (no name key)."""
    key = props.get("name_key")
    if not key:
        return None
    return {
        "label": label,
        "uid": uid,
        "name": props.get("name"),
        "name_key": key,
        "authoritative": authoritative,
        "others": others,
        "source_row": props.get("source_row"),
    }


def stored_names(tx: Transaction, staged: list[Row], listed_on: Any) -> dict[Label, dict[str, Row]]:
    """The names the chunk's parties have before its writes, and whether each row's values are
    written (`current`, `additions_current`): one read per label."""
    uids: dict[Label, set[str]] = defaultdict(set)
    for row in staged:
        uids[row["label"]].add(row["uid"])
    found: dict[Label, dict[str, Row]] = {}
    for label, chunk_uids in uids.items():
        params = {"uids": sorted(chunk_uids), "listed_on": listed_on}
        found[label] = {r["uid"]: r for r in tx.run(writes.PARTY_NAMES[label], params)}
    return found


def add_other_names(
    tx: Transaction, staged: list[Row], stored: dict[Label, dict[str, Row]], lineage: Row
) -> None:
    """Write the other names the chunk's rows give, in row order (a later row of the chunk sees
    the name an earlier one wrote): one write per label."""
    current: dict[tuple[Label, str], Row] = {
        (label, uid): row for label, rows in stored.items() for uid, row in rows.items()
    }
    batches: dict[Label, list[Row]] = defaultdict(list)
    for row in staged:
        label, uid = row["label"], row["uid"]
        before = current.get((label, uid))
        names: list[tuple[OtherNameKind, str]] = []
        if row["authoritative"]:
            if before is not None and not before["current"]:
                # an older extract's row writes no value, but the name it gives, when not the
                # party's name now, was a name the party went by: a former name, as the newer
                # extract would have made it had the two come in date order
                names.extend(row["others"])
                names.append((OtherNameKind.FORMER_NAME, row["name"] or row["name_key"]))
                own_key = before["name_key"] or row["name_key"]
                batches[label].extend(_name_rows(uid, names, own_key, row["source_row"]))
                continue
            if before is not None and before["name_key"] and before["name_key"] != row["name_key"]:
                names.append((OtherNameKind.FORMER_NAME, before["name"] or before["name_key"]))
            names.extend(row["others"])
            now = {**(before or {"current": True, "additions_current": True})}
            current[(label, uid)] = {**now, "name": row["name"], "name_key": row["name_key"]}
            own_key = row["name_key"]
        else:
            if before is not None and not before["additions_current"]:
                continue
            names.extend(row["others"])
            if before is None:  # the row creates the party: its name is the party's
                current[(label, uid)] = {
                    "name": row["name"],
                    "name_key": row["name_key"],
                    "current": True,
                    "additions_current": True,
                }
                own_key = row["name_key"]
            else:
                own_key = before["name_key"] or row["name_key"]
        batches[label].extend(_name_rows(uid, names, own_key, row["source_row"]))
    for label, rows in batches.items():
        unique: dict[str, Row] = {}
        for other in rows:  # the first row to give a name is the one a MERGE keeps
            unique.setdefault(other["uid"], other)
        tx.run(writes.OTHER_NAME_WRITES[label], {"rows": list(unique.values()), "lineage": lineage})


def _name_rows(
    uid: str, names: list[tuple[OtherNameKind, str]], own_key: str, source_row: str | None
) -> list[Row]:
    """The writes of a party's other names, but those of its own name's key."""
    extra = {"source_row": source_row} if source_row else {}
    return [
        other_name_row(uid, kind, name, key, extra)
        for kind, name in names
        if (key := name_key(name)) and key != own_key
    ]


def other_name_row(party_uid: str, kind: str, name: str, key: str, extra: Row) -> Row:
    """The write of one other name of a party (queries/writes.py OTHER_NAME_WRITES)."""
    props = {"name": name, "name_key": key, "kind": str(kind), "party_uid": party_uid, **extra}
    uid = other_name_uid(party_uid, str(kind), key)
    return {"uid": uid, "party_uid": party_uid, "props": props, "link": extra}


def folded_names(tx: Transaction, label: Label, done: list[tuple[str, str]], props: Row) -> None:
    """Give each party folded into (`done`: old uid, new uid) the other names of the party
    folded into it, and that party's own name when its name key is not the new party's: a
    former name, or an alias when the folded party came from a sanctions list (FtM). Each
    keeps the lineage of what said it. One read and one write; before the old parties are
    deleted (with their other names: queries/writes.py DELETE_PARTY)."""
    if not done:
        return
    olds = sorted({old for old, _ in done})
    found: dict[str, list[Row]] = defaultdict(list)
    for row in tx.run(writes.OTHER_NAMES_OF[label], {"uids": olds}):
        found[row["uid"]].append(row["props"])
    rows: dict[str, Row] = {}
    for old, new in done:
        own_key = props[new].get("name_key")
        was = props[old]
        kind = OtherNameKind.ALIAS if "ftm_id" in was else OtherNameKind.FORMER_NAME
        names = [
            {
                **_lineage(was),
                "name": was.get("name"),
                "name_key": was.get("name_key"),
                "kind": kind.value,
            }
        ]
        names.extend(found.get(old, []))
        for name in names:
            key, text = name.get("name_key"), name.get("name")
            if not key or not text or key == own_key:
                continue
            row = other_name_row(new, name["kind"], text, key, _lineage(name))
            rows.setdefault(row["uid"], row)
    if rows:
        tx.run(writes.OTHER_NAME_WRITES[label], {"rows": list(rows.values()), "lineage": {}})


def _lineage(props: Row) -> Row:
    return {k: v for k, v in props.items() if k in LINEAGE_PROPERTIES and v is not None}
