"""FollowTheMoney entity files (JSON lines, as OpenSanctions publishes `entities.ftm.json`).

Each line is one entity: `{"id": ..., "schema": "Company", "properties": {"name": [...], ...},
"datasets": [...]}`; every property holds a list of strings. :func:`parse_entities` turns the
entities credgraph understands into the same canonical rows `loaders.rows` builds from the
tabular files, so the loader stages and writes them unchanged.

Two passes, because entities come in any order (a sanction may precede the company it names):

1. parties: `Company`, `Organization`, `LegalEntity`, `PublicBody` become legal persons and
   `Person` natural persons; each accepted party goes into a map FtM id -> party reference,
   the only thing kept in memory. Lines that are not UTF-8, not JSON objects, lack `id` or
   `schema`, or whose `properties` is not an object are rejected here, once, as `(row)`.
2. links: `Ownership` becomes `SHAREHOLDER_OF`, `Directorship` a role relation and
   `Sanction` a blacklist record (`SanctionEvent`), their ends looked up in the map. An end
   that is not in the file is asked of `stored` (loaders/ftm_stored.py: the party an earlier
   load gave the id), once per `batch` links. An end that is missing, in neither, or was
   rejected in pass 1 rejects the line, naming the property (and the line of the rejected
   entity).

The file is streamed twice. Every yielded line number (1-based, physical; lines end at `\\n`)
appears once across both passes. Entities of other schemas (`Address`, `Identification`,
`Note`, `Position`, `Family`, `Associate`, `Vessel`, ...) are not yielded but counted by schema
in `unmapped`, and so is a link to one of them (a `Sanction` of a `Vessel`, an `Ownership` of a
`Security`) or a `Directorship` of a company as director: real data that credgraph has no
place for, neither loaded nor rejected. A load report's `read` counts the entities this
mapping understands (and the broken lines), `unmapped_entities` the others. The properties of
loaded entities that no field reads are counted in `unused` (`Sanction.sourceUrl`).

An entity's `referents` (the ids merged into it) name it too, within the file: a link that
uses an old id reaches the party. An id of the file wins over another entity's referent.
Across files (loads) the loader follows them: each party row carries, in `referents`, the uids
the parties of those ids have without a strong identifier (`weak_uid`), and loaders/referents.py
folds such a party into the row's party, whichever file comes first (docs/formats.md).

Mapping rules:

- Legal persons. If `registrationNumber`, `taxNumber`, `uniqueEntityId`, `idNumber`, `ogrnCode`,
  `innCode`, `vatCode` or `okpoCode` holds a valid USCC, the USCC is the key (`strong_id` true,
  `org_code` and `region_code` from it); otherwise the key is `FTM:<entity id>` and `strong_id` is
  false: the loader then links the party `POSSIBLY_SAME_AS` to parties of the same name key, never
  merging by name. `kind`: `government_body` for `PublicBody`, else `enterprise`. `name`: the first
  name (required); `aliases`: every name and `alias` value, the first name included (a party the
  registry also holds keeps the registry's name and lineage, and gets the list's names as aliases),
  each but the party's name also an `OtherName` (kind `alias`), and each `previousName` one of kind
  `former_name` (loaders/names.py); `country` (upper case) from `country` or `jurisdiction`;
  `address`, `phone`, `email` (the first of each) with the matching keys the registry loader gives
  them (`address_key`, `phone_key`, `email_key`: loaders/rows.py), so queries/links.py finds parties
  sharing them; `registered_on` from `incorporationDate`; `registration_number` when
  `registrationNumber` holds a Chinese registration number (15 digits with check, or 13).
- Natural persons. A valid resident ID number in `idNumber` is the key (keyed token, masked
  form in `id_masked`, `sex` from the number); else a `passportNumber` with a two-letter
  `nationality` or `country` (keyed token of type `passport`, `mask_document` form); else the
  key is the keyed token of the entity id (`ftm_person_token`: the same HMAC under the person
  key, document type `ftm_entity`, 32 hex characters like every person's key), `strong_id`
  false, `id_type` `none`. Never `FTM:<entity id>`: an entity id names its person to anyone
  who looks it up, so it is no pseudonym. The token depends on the entity id alone, so a
  re-load and a second file with the same entity find the same node; Ownership, Directorship
  and Sanction lines that name the person get it from the party map. The entity id is kept
  only in `ftm_id`, or as an `FtmId` of a person keyed by a document (lineage, which no API
  field shows). No raw identity number is stored or repeated in a message; of `birthDate` only
  `birth_year` is kept. `phone` and `email` with their matching keys, as for legal persons (a
  person's address is not kept, as in the registry's files).
- A party's entity id (as stored: `stored_id`): in `ftm_id` when it is the party's key
  (`FTM:<id>`, a person's token of it); for a party keyed by a USCC, resident ID or passport,
  in `NodeRow.ftm_id`, which the loader keeps as an `FtmId` node of the party beside those of
  the ids other files gave it (queries/writes.py MERGE_FTM_IDS): no file's id replaces
  another's, whatever the order of the loads.
- `Sanction` -> a `SanctionEvent` of kind `blacklist`, subject the `entity`; uid
  `FTM:<sanction id>`, `record_id` the sanction id, `source_system` the sanction's first
  dataset (else `ftm`), `disclosure` public, `status` active unless `endDate` is on or before
  the load date (then expired); `list_name` from `program`, `legal_basis` from `provisions`,
  `decision_number` from `authorityId` / `unscId`, `published_on` from `listingDate`,
  `valid_from` / `valid_to` from `startDate` / `endDate`, `description` from `reason` /
  `summary`; `authority` (the first) becomes an `Authority` keyed by its name key.
- `Ownership` (`owner` -> `asset`, which must be a legal person) -> `SHAREHOLDER_OF` with
  `stake` = `percentage` / 100 (`12.5` or `12.5%` -> 0.125); a range (`50-75`, `50 - 75%`,
  `75-100`, as UK PSC-derived data gives bands) gives its lower bound as the stake and is
  kept as written in `stake_range`; `subscribed_capital` from
  `sharesValue` when numeric and in CNY (or no currency given), validity from the dates.
- `Directorship` (`director`, a natural person, -> `organization`, a legal person; a company
  as director is counted as unmapped) -> the
  relation of the role read from `role` (English or Chinese; `director` when absent or
  unrecognised); the text as written is kept in `title`.
- Dates are `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a datetime starting so; a partial date means
  its first day, and as an `endDate` (the first day a thing no longer holds, as `valid_to`)
  the first day after it: `endDate` `2020-06` ends on 2020-07-01. Of several values the
  earliest is taken, or the latest of an `endDate`.
- Several values: `name` and `alias` all become aliases (the first name is the name);
  `program`, `provisions`, `reason`/`summary` and a directorship's `role` are joined with `; `
  (the role read from the whole text); of any other property the first value is kept.
- A legal person's or a record's FtM id is not personal, but an id that embeds a valid
  resident ID number is replaced by a keyed hash (`H<hex>`, `FTM:H<hex>` as a uid) wherever
  it would be stored; a person's uid is its token whatever its id holds. Messages never
  repeat FtM ids.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from credgraph.graph.identifiers import (
    FTM_PREFIX,
    IdentifierError,
    ftm_stored_id,
    ftm_weak_uid,
    mask_document,
    mask_resident_id,
    normalise_code,
    normalise_text,
    validate_registration_number,
    validate_resident_id,
    validate_uscc,
)
from credgraph.graph.names import name_key
from credgraph.graph.terms import Term
from credgraph.graph.vocabulary import (
    RECORD_LABEL,
    ROLE_RELATION,
    Disclosure,
    Label,
    LegalPersonKind,
    OtherNameKind,
    PersonIdType,
    RecordKind,
    RecordStatus,
    RelationType,
    Role,
)
from credgraph.loaders.rows import (
    ChangeRow,
    NodeRow,
    ParseContext,
    PartyRef,
    Props,
    RecordRow,
    RelationRow,
    RowError,
    contact_properties,
    person_uid,
    without_controls,
)
from credgraph.loaders.sources import (
    JsonLineError,
    LongLine,
    byte_lines,
    json_line_value,
    long_line_problem,
)

Parsed = NodeRow | RelationRow | RecordRow | ChangeRow
Entity = dict[str, Any]
# the parties an earlier load gave FtM ids a file names but does not hold: id -> the party, or
# why the store names none for it; an id it leaves out is in no load (loaders/ftm_stored.py)
StoredEnds = Callable[[Collection[str]], Mapping[str, PartyRef | str]]

NO_ID = "none"  # id_type of a person without a usable identity document

LEGAL_PERSON_SCHEMAS: dict[str, LegalPersonKind] = {
    "Company": LegalPersonKind.ENTERPRISE,
    "Organization": LegalPersonKind.ENTERPRISE,
    "LegalEntity": LegalPersonKind.ENTERPRISE,
    "PublicBody": LegalPersonKind.GOVERNMENT_BODY,
}
PERSON_SCHEMA = "Person"
PARTY_SCHEMAS = frozenset({*LEGAL_PERSON_SCHEMAS, PERSON_SCHEMA})
# the properties of each link schema that name a party, by FtM id
END_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Sanction": ("entity",),
    "Ownership": ("owner", "asset"),
    "Directorship": ("director", "organization"),
}
LINK_SCHEMAS = frozenset(END_PROPERTIES)
NOT_FOUND = "refers to an entity that is neither in this file nor in the store"

# properties that may carry a legal person's USCC
USCC_PROPERTIES = (
    "registrationNumber",
    "taxNumber",
    "uniqueEntityId",
    "idNumber",
    "ogrnCode",
    "innCode",
    "vatCode",
    "okpoCode",
)

_PARTY_PROPERTIES = frozenset(
    {"name", "alias", "previousName", "country", "address", "phone", "email", *USCC_PROPERTIES}
)
# the properties each mapped schema reads (whether a value then passes its check or not); the
# others are counted in the load report's `unmapped_properties`
PERSON_PROPERTIES = frozenset(
    {
        "name",
        "alias",
        "previousName",
        "firstName",
        "lastName",
        "nationality",
        "country",
        "gender",
        "idNumber",
        "passportNumber",
        "birthDate",
        "phone",
        "email",
    }
)  # not `address`: a person's address is not kept
READ_PROPERTIES: dict[str, frozenset[str]] = {
    **{
        schema: _PARTY_PROPERTIES | {"jurisdiction", "incorporationDate"}
        for schema in LEGAL_PERSON_SCHEMAS
    },
    "Sanction": frozenset(
        {
            "entity",
            "program",
            "provisions",
            "authorityId",
            "unscId",
            "listingDate",
            "authority",
            "reason",
            "summary",
            "startDate",
            "endDate",
        }
    ),
    "Ownership": frozenset(
        {"owner", "asset", "percentage", "sharesValue", "sharesCurrency", "startDate", "endDate"}
    ),
    "Directorship": frozenset({"director", "organization", "role", "startDate", "endDate"}),
}

# role text -> role, first match wins (so 董事长 is a chair before 董事 makes a director)
ROLE_PATTERNS: tuple[tuple[re.Pattern[str], Role], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), role)
    for pattern, role in (
        (r"legal\s+representative|法定代表人|法人代表", Role.LEGAL_REPRESENTATIVE),
        (r"supervis|监事", Role.SUPERVISOR),
        (r"\bchair|董事长|主席", Role.CHAIR),
        (r"secretary|秘书", Role.SECRETARY),
        (r"\bcfo\b|chief\s+financial\s+officer|财务负责人|财务总监", Role.CFO),
        (r"\bmanager\b|经理", Role.MANAGER),
        (r"\bprincipal\b|person\s+in\s+charge|负责人", Role.PRINCIPAL),
        (r"director|董事", Role.DIRECTOR),
    )
)

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:$|[T ])")
_YEAR = re.compile(r"^(\d{4})")
# a band of percentages, `50-75`, `50% - 75%`, `75–100` (hyphen or dash)
_RANGE = re.compile(r"^([^-–—]+?)\s*[-–—]\s*([^-–—]+)$")
_CNY = frozenset({"CNY", "RMB", "人民币", "元"})


def parse_entities(
    ctx: ParseContext,
    path: Path,
    unmapped: dict[str, int] | None = None,
    unused: dict[str, int] | None = None,
    *,
    stored: StoredEnds | None = None,
    batch: int = 1000,
) -> Iterator[tuple[int, Parsed | RowError]]:
    """Parties first, then the links and records that refer to them (module docstring).

    `unmapped` counts the entities credgraph does not map, by schema (`Family`), and the links
    it does not map for what they point at (`Sanction (entity: Vessel)`); `unused` counts the
    properties of loaded entities that no field takes (`Company.topics`). Neither is yielded.
    `stored` finds the parties of ids the file names but does not hold, asked once per `batch`
    links and only for such ids (without it, those links are rejected).
    """
    unmapped = {} if unmapped is None else unmapped
    unused = {} if unused is None else unused
    ends = yield from _parse_parties(ctx, path, unmapped, unused)
    yield from _parse_links(ctx, path, ends, unmapped, unused, stored, batch)


def _parse_parties(
    ctx: ParseContext, path: Path, unmapped: dict[str, int], unused: dict[str, int]
) -> Generator[tuple[int, Parsed | RowError], None, _Ends]:
    """Pass 1: the parties, each yielded with its line; returns what it learnt of the ids a
    link may point at."""
    parties: dict[str, PartyRef] = {}
    others: dict[str, str] = {}
    refused: dict[str, int] = {}
    for line, entity in _entities(path):
        if isinstance(entity, RowError):
            yield line, entity
            continue
        schema = entity["schema"]
        if schema in LINK_SCHEMAS:
            continue
        if schema not in PARTY_SCHEMAS:
            _count(unmapped, schema)
            for name in _ids(entity):
                others.setdefault(name, schema)
            continue
        _count_unused(unused, entity)
        try:
            node = _party(ctx, entity)
        except RowError as exc:
            refused.setdefault(entity["id"], line)
            yield line, exc
            continue
        ref = PartyRef(node.label, node.uid)
        parties[entity["id"]] = ref  # an id wins over another entity's referent
        for referent in _ids(entity)[1:]:
            parties.setdefault(referent, ref)
        yield line, node
    return _Ends(parties, others, refused, {})


def _parse_links(
    ctx: ParseContext,
    path: Path,
    ends: _Ends,
    unmapped: dict[str, int],
    unused: dict[str, int],
    stored: StoredEnds | None,
    batch: int,
) -> Iterator[tuple[int, Parsed | RowError]]:
    """Pass 2: the links and records, each yielded with its line, their ends looked up in
    what pass 1 learnt and, `batch` links at a time, in the store (`stored`)."""
    links = (
        (line, entity)
        for line, entity in _entities(path)
        # not rejected in pass 1, a party, or a schema credgraph does not map
        if not isinstance(entity, RowError) and entity["schema"] in LINK_SCHEMAS
    )
    for chunk in _batches(links, batch):
        _look_up_stored(chunk, ends, stored)
        for line, entity in chunk:
            try:
                parsed = _link(ctx, entity, ends)
            except NotMapped as exc:
                _count(unmapped, str(exc))
                continue
            except RowError as exc:
                yield line, exc
                continue
            _count_unused(unused, entity)
            yield line, parsed


def _look_up_stored(
    chunk: list[tuple[int, Entity]], ends: _Ends, stored: StoredEnds | None
) -> None:
    """Ask the store (`stored`) once for the parties of the ids the chunk's links name and the
    file does not hold; `ends.stored` then holds the answers for this chunk only."""
    outside = {target for _, entity in chunk for target in _ends_outside(entity, ends)}
    ends.stored.clear()
    if outside and stored is not None:
        ends.stored.update(stored(outside))


def _batches(items: Iterator[tuple[int, Entity]], size: int) -> Iterator[list[tuple[int, Entity]]]:
    while chunk := list(islice(items, size)):
        yield chunk


def _ends_outside(entity: Entity, ends: _Ends) -> Iterator[str]:
    """The ids a link names that no entity of the file holds (the store may)."""
    for name in END_PROPERTIES[entity["schema"]]:
        target = _first(entity, name)
        if target is not None and not ends.in_file(target):
            yield target


class NotMapped(Exception):
    """A link credgraph does not map (a sanction of a vessel): counted, neither loaded nor
    rejected. The message is the report's key, `<schema> (<property>: <what it points at>)`."""


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _count_unused(unused: dict[str, int], entity: Entity) -> None:
    schema = entity["schema"]
    read = PERSON_PROPERTIES if schema == PERSON_SCHEMA else READ_PROPERTIES.get(schema)
    for name, value in entity["properties"].items():
        if read is not None and name not in read and value not in (None, "", []):
            _count(unused, f"{schema}.{name}")


def _ids(entity: Entity) -> list[str]:
    """The entity's id, then its `referents` (the ids merged into it, as OpenSanctions lists
    them), without repeats."""
    referents = entity.get("referents")
    names = [entity["id"]] + [
        r.strip() for r in (referents if isinstance(referents, list) else []) if isinstance(r, str)
    ]
    return list(dict.fromkeys(name for name in names if name))


def role_of(text: str | None) -> Role:
    """The role a directorship's `role` text names; `director` when it names none we know."""
    if text:
        for pattern, role in ROLE_PATTERNS:
            if pattern.search(text):
                return role
    return Role.DIRECTOR


# --- reading -----------------------------------------------------------------------------------


def _entities(path: Path) -> Iterator[tuple[int, Entity | RowError]]:
    """Each non-blank line with its number: a checked entity object, or why it is not one."""
    with path.open("rb") as handle:
        for number, raw in enumerate(_lines(handle), start=1):
            if isinstance(raw, LongLine):
                yield number, RowError("(row)", long_line_problem(number, raw.length, "bytes"))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, RowError("(row)", "not UTF-8 text")
                continue
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            yield number, _entity(text)


def _lines(handle: BinaryIO) -> Iterator[bytes | LongLine]:
    """The lines of a file read as bytes (each decoded alone, so that one bad line is one
    reject), ended as loaders/sources.py ends them: `\\n`, `\\r\\n`, the `\\r\\r\\n` of doubly
    converted files, or a lone `\\r`; one over the cap (sources.MAX_LINE_CHARS, in bytes) is
    read past, never held, and comes as a LongLine."""
    for raw in byte_lines(handle):
        if isinstance(raw, LongLine):
            yield raw
        else:
            yield from raw.rstrip(b"\n").rstrip(b"\r").split(b"\r")


def _entity(text: str) -> Entity | RowError:
    try:
        entity = json_line_value(text)
    except JsonLineError as exc:
        return RowError("(row)", str(exc))
    if not isinstance(entity, dict):
        return RowError("(row)", "not a JSON object")
    entity_id, schema = entity.get("id"), entity.get("schema")
    if not isinstance(entity_id, str) or not entity_id.strip():
        return RowError("(row)", "an entity needs a non-empty string `id`")
    if not isinstance(schema, str) or not schema.strip():
        return RowError("(row)", "an entity needs a non-empty string `schema`")
    properties = entity.get("properties")
    if properties is None:
        entity["properties"] = {}
    elif not isinstance(properties, dict):
        return RowError("(row)", "`properties` must be an object")
    entity["id"], entity["schema"] = entity_id.strip(), schema.strip()
    return entity


def _values(entity: Entity, name: str) -> list[str]:
    """A property's values, normalised (NFKC, white space collapsed), empty ones dropped."""
    raw = entity["properties"].get(name)
    items: Sequence[Any] = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    texts = (
        normalise_text(without_controls(str(item)))
        for item in items
        if isinstance(item, (str, int, float))
    )
    return [text for text in texts if text]


def _first(entity: Entity, *names: str) -> str | None:
    for name in names:
        if values := _values(entity, name):
            return values[0]
    return None


def _date(entity: Entity, name: str, *, end: bool = False) -> date | None:
    """The property's date: of several values the earliest, or for an end date the latest. A
    partial date (`2019`, `2019-03`) means its first day; as an end date, which is the first
    day something no longer holds, the first day after it (`endDate` `2019` ends on
    2020-01-01), so that a sanction listed until 2019 still counts in 2019."""
    days = [_day(name, text, end=end) for text in _values(entity, name)]
    if not days:
        return None
    return max(days) if end else min(days)


# the period a partial end date (`2019-03`, `2019`) spans: it ends the first day after
_A_MONTH, _A_YEAR = Term(months=1), Term(years=1)


def _day(name: str, text: str, *, end: bool) -> date:
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError
        year, month, day = match.groups()
        first = date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise RowError(name, f"{text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None
    if not end or day:
        return first
    return (_A_MONTH if month else _A_YEAR).after(first)


def _validity(entity: Entity) -> Props:
    valid_from, valid_to = _date(entity, "startDate"), _date(entity, "endDate", end=True)
    if valid_from and valid_to and valid_to < valid_from:
        raise RowError("endDate", "is before startDate")
    return {"valid_from": valid_from, "valid_to": valid_to}


def _joined(entity: Entity, *names: str) -> str | None:
    """Every value of the properties, in order and without repeats, joined by `; `."""
    values = [value for name in names for value in _values(entity, name)]
    return "; ".join(dict.fromkeys(values)) or None


def stored_id(ctx: ParseContext, entity_id: str) -> str:
    """The entity id as stored (graph/identifiers.py `ftm_stored_id`)."""
    return ftm_stored_id(ctx.person_key, entity_id, today=ctx.today)


def _other_names(entity: Entity, aliases: list[str]) -> tuple[tuple[OtherNameKind, str], ...]:
    """Every name the list gives, as aliases of the party, and its `previousName` values as
    former names: searched by name (loaders/names.py leaves out the party's own name)."""
    former = tuple((OtherNameKind.FORMER_NAME, name) for name in _values(entity, "previousName"))
    return tuple((OtherNameKind.ALIAS, alias) for alias in aliases) + former


def _names(entity: Entity) -> tuple[str, list[str]]:
    names = _values(entity, "name")
    if not names and entity["schema"] == PERSON_SCHEMA:
        first, last = _first(entity, "firstName"), _first(entity, "lastName")
        if first and last:
            names = [f"{first} {last}"]
    if not names:
        raise RowError("name", "is required")
    # every name the list gives, its first too: where a registry's name wins, it stays
    aliases = list(dict.fromkeys(names + _values(entity, "alias")))
    return names[0], aliases


# --- parties -----------------------------------------------------------------------------------


def _party(ctx: ParseContext, entity: Entity) -> NodeRow:
    if entity["schema"] == PERSON_SCHEMA:
        node = _keyed(ctx, entity, _natural_person(ctx, entity))
    else:
        node = _keyed(ctx, entity, _legal_person(ctx, entity))
    referents = tuple(
        uid for name in _ids(entity)[1:] if (uid := weak_uid(ctx, node.label, name)) != node.uid
    )
    return replace(node, referents=referents) if referents else node


def weak_uid(ctx: ParseContext, label: Label, entity_id: str) -> str:
    """The uid a party of this entity id has when it carries no strong identifier
    (graph/identifiers.py `ftm_weak_uid`, the one queries/ftm_ids.py asks the store for)."""
    return ftm_weak_uid(ctx.person_key, label, entity_id, today=ctx.today)


def _keyed(ctx: ParseContext, entity: Entity, node: NodeRow) -> NodeRow:
    """The party row with its entity id: in `ftm_id` when the id is its key (`FTM:<id>`, the
    token of the id), else, keyed by a strong identifier, as an `FtmId` of the party
    (`NodeRow.ftm_id`): another file may give the same party another id, and both stay."""
    entity_id = stored_id(ctx, entity["id"])
    if node.props["strong_id"]:
        return replace(node, ftm_id=entity_id)
    return replace(node, props={**node.props, "ftm_id": entity_id})


def _legal_person(ctx: ParseContext, entity: Entity) -> NodeRow:
    name, aliases = _names(entity)
    uscc = next(
        (
            code
            for prop in USCC_PROPERTIES
            for value in _values(entity, prop)
            if (code := _valid_uscc(value)) is not None
        ),
        None,
    )
    registration_number = next(
        (n for v in _values(entity, "registrationNumber") if (n := _chinese_reg_no(v))), None
    )
    country = _first(entity, "country", "jurisdiction")
    address = _first(entity, "address")
    props: Props = {
        "uscc": uscc,
        "registration_number": registration_number,
        "org_code": uscc[8:17] if uscc else None,
        "name": name,
        "name_key": name_key(name),
        "aliases": aliases or None,
        "kind": LEGAL_PERSON_SCHEMAS[entity["schema"]].value,
        "region_code": uscc[2:8] if uscc else None,
        "registered_on": _date(entity, "incorporationDate"),
        "address": address,
        # the address's matching key, as the registry loader computes it
        "address_key": name_key(address) or None if address else None,
        "country": country.upper() if country else None,
        "strong_id": uscc is not None,
        **_contacts(entity),
    }
    uid = uscc or weak_uid(ctx, Label.LEGAL_PERSON, entity["id"])
    return NodeRow(
        Label.LEGAL_PERSON,
        uid,
        props,
        authoritative=False,
        other_names=_other_names(entity, aliases),
    )


def _contacts(entity: Entity) -> Props:
    """Phone and e-mail (the first of each) and their matching keys, computed by the registry
    loader's own function so that both sources' parties match each other."""
    cells = {name: _first(entity, name) or "" for name in ("phone", "email")}
    return contact_properties(cells)


def _valid_uscc(value: str) -> str | None:
    try:
        return validate_uscc(normalise_code(value))
    except IdentifierError:
        return None


def _chinese_reg_no(value: str) -> str | None:
    try:
        return validate_registration_number(value)
    except IdentifierError:
        return None


def _natural_person(ctx: ParseContext, entity: Entity) -> NodeRow:
    name, aliases = _names(entity)
    given_country = _first(entity, "nationality", "country")
    country = given_country.upper() if given_country else None
    gender = (_first(entity, "gender") or "").lower()
    sex = {"male": "M", "m": "M", "female": "F", "f": "F"}.get(gender)
    # an entity id names its person to anyone who looks it up: the key is a token of it too
    id_type, masked, uid = NO_ID, None, weak_uid(ctx, Label.NATURAL_PERSON, entity["id"])
    resident = _resident_id(ctx, entity)
    passport = _first(entity, "passportNumber")
    if resident is not None:
        id_type, masked, country = PersonIdType.RESIDENT.value, mask_resident_id(resident), "CN"
        uid = person_uid(ctx, PersonIdType.RESIDENT, resident)
        sex = validate_resident_id(resident, today=ctx.today).sex
    elif passport and normalise_code(passport) and country and _is_alpha2(country):
        id_type, masked = PersonIdType.PASSPORT.value, mask_document(passport)
        uid = person_uid(ctx, PersonIdType.PASSPORT, passport, country)
    birth = _YEAR.match(_first(entity, "birthDate") or "")
    props: Props = {
        "id_type": id_type,
        "id_masked": masked,
        "country": country,
        "name": name,
        "name_key": name_key(name),
        "aliases": aliases or None,
        "sex": sex,
        "birth_year": int(birth.group(1)) if birth else None,
        "strong_id": id_type != NO_ID,
        **_contacts(entity),
    }
    return NodeRow(
        Label.NATURAL_PERSON,
        uid,
        props,
        authoritative=False,
        other_names=_other_names(entity, aliases),
    )


def _resident_id(ctx: ParseContext, entity: Entity) -> str | None:
    for value in _values(entity, "idNumber"):
        try:
            return validate_resident_id(value, today=ctx.today).number
        except IdentifierError:
            continue
    return None


def _is_alpha2(country: str) -> bool:
    return len(country) == 2 and country.isascii() and country.isalpha()


# --- links and records -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ends:
    """What pass 1 learnt of the ids a link may point at."""

    parties: dict[str, PartyRef]  # id or referent of an accepted party -> the party
    others: dict[str, str]  # id or referent of an entity of a schema not mapped -> its schema
    refused: dict[str, int]  # id of a party rejected in pass 1 -> its line
    # id the file does not hold -> the party an earlier load gave it, or why it names none
    # (what `StoredEnds` answered for the links being read)
    stored: dict[str, PartyRef | str]

    def in_file(self, target: str) -> bool:
        return target in self.parties or target in self.others or target in self.refused


def _link(ctx: ParseContext, entity: Entity, ends: _Ends) -> Parsed:
    schema = entity["schema"]
    if schema == "Sanction":
        return _sanction(ctx, entity, ends)
    if schema == "Ownership":
        return _ownership(ctx, entity, ends)
    return _directorship(ctx, entity, ends)


def _end(entity: Entity, name: str, ends: _Ends) -> PartyRef:
    """The party an entity property points at (the FtM id is never echoed in the message). An
    entity of a schema credgraph does not map (a `Vessel`) makes the link one it does not map."""
    target = _first(entity, name)
    if target is None:
        raise RowError(name, "is required")
    ref = ends.parties.get(target)
    if ref is not None:
        return ref
    if (other := ends.others.get(target)) is not None:
        raise NotMapped(f"{entity['schema']} ({name}: {other})")
    if (line := ends.refused.get(target)) is not None:
        raise RowError(name, f"refers to the entity of line {line}, which was rejected")
    found = ends.stored.get(target)
    if isinstance(found, PartyRef):
        return found
    raise RowError(name, found or NOT_FOUND)


def _sanction(ctx: ParseContext, entity: Entity, ends: _Ends) -> RecordRow:
    subject = _end(entity, "entity", ends)
    validity = _validity(entity)
    valid_to = validity["valid_to"]
    # `valid_to` is the first day the sanction no longer holds
    status = RecordStatus.EXPIRED if valid_to and valid_to <= ctx.today else RecordStatus.ACTIVE
    datasets = entity.get("datasets")
    source_system = next(
        (
            normalise_text(d)
            for d in (datasets if isinstance(datasets, list) else [])
            if isinstance(d, str) and d.strip()
        ),
        "ftm",
    )
    record_id = stored_id(ctx, entity["id"])
    authority_name = _first(entity, "authority")
    kind = RecordKind.BLACKLIST
    props: Props = {
        "record_id": record_id,
        "kind": kind.value,
        "status": status.value,
        "listed_status": status.value,
        "disclosure": Disclosure.PUBLIC.value,
        "source_system": source_system,
        "list_name": _joined(entity, "program"),
        "legal_basis": _joined(entity, "provisions"),
        "decision_number": _first(entity, "authorityId", "unscId"),
        "published_on": _date(entity, "listingDate"),
        "authority_name": authority_name,
        "description": _joined(entity, "reason", "summary"),
        **validity,
    }
    authority = None
    if authority_name and name_key(authority_name):
        authority = NodeRow(
            Label.AUTHORITY,
            f"NAME:{name_key(authority_name)}",
            {"code": None, "name": authority_name},
        )
    label = RECORD_LABEL[kind]
    return RecordRow(label, FTM_PREFIX + record_id, subject, record_id, props, authority)


def _ownership(ctx: ParseContext, entity: Entity, ends: _Ends) -> RelationRow:
    owner = _end(entity, "owner", ends)
    asset = _end(entity, "asset", ends)
    if asset.label is not Label.LEGAL_PERSON:
        raise RowError("asset", "must be a company or organisation")
    if owner == asset:
        raise RowError("owner", "a company cannot hold itself")
    stake, stake_range = _stake(entity)
    props: Props = {
        "stake": stake,
        "stake_range": stake_range,
        "subscribed_capital": _capital(entity),
        **_validity(entity),
    }
    key = stored_id(ctx, entity["id"])
    return RelationRow(RelationType.SHAREHOLDER_OF, owner, asset, key, props)


def _stake(entity: Entity) -> tuple[float | None, str | None]:
    """The stake `percentage` gives, and the range as written when it gives one: UK PSC-derived
    data states bands (`50-75`, `50 - 75%`, `75-100`), whose lower bound is the stake."""
    text = _first(entity, "percentage")
    if text is None:
        return None, None
    band = _RANGE.match(text)
    if band is None:
        return _percent(text, text) / 100, None
    low, high = _percent(band.group(1), text), _percent(band.group(2), text)
    if low > high:
        raise RowError("percentage", f"{text!r}: the lower bound is above the upper")
    return low / 100, text


def _percent(part: str, text: str) -> float:
    try:
        percent = float(part.removesuffix("%").strip())
    except ValueError:
        raise RowError("percentage", f"{text!r} is not a number or a range") from None
    if not 0 <= percent <= 100:
        raise RowError("percentage", f"{percent:g} is outside 0..100")
    return percent


def _capital(entity: Entity) -> float | None:
    text = _first(entity, "sharesValue")
    currency = (_first(entity, "sharesCurrency") or "CNY").upper()
    if text is None or currency not in _CNY:
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _directorship(ctx: ParseContext, entity: Entity, ends: _Ends) -> RelationRow:
    director = _end(entity, "director", ends)
    organization = _end(entity, "organization", ends)
    if organization.label is not Label.LEGAL_PERSON:
        raise RowError("organization", "must be a company or organisation")
    if director.label is not Label.NATURAL_PERSON:
        # a corporate director is real data, but no role credgraph has (roles are persons')
        raise NotMapped("Directorship (director: a company or organisation)")
    title = _joined(entity, "role")  # `Chairman; General Manager`: read as one text
    role = role_of(title)
    props: Props = {"role": role.value, "title": title, "matter": None, **_validity(entity)}
    key = stored_id(ctx, entity["id"])
    return RelationRow(ROLE_RELATION[role], director, organization, key, props)
