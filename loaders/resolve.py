"""Which party, or record, a reference stands for: this run's first, then the store's.

Plain references (USCC, `REG:` number, person token) must name a party loaded in this run or
already in the store. Legacy references go to the USCC that took them over: an organisation code
to the legal person whose USCC contains it, a registration number through its `ALIAS_OF` link
or to the USCC-bearing legal person that carries it.
A masked reference (`91230199744****927K`) is matched only when exactly one party fits its
visible characters (and the name given beside it): never a guess. A load finds the parties its
earlier files wrote in the store; a dry run, which writes none, also matches against the ones
its earlier files would have written, with the name key and masked number the load would
store for them (`Resolver.add_written`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, LiteralString

from credgraph.graph.identifiers import OPERATOR_PREFIX, mask_resident_id
from credgraph.graph.lifecycle import record_start
from credgraph.graph.store import GraphStore, native_record
from credgraph.graph.vocabulary import Label, LegacyCodeType
from credgraph.loaders.rows import MASKED_PREFIX, ORG_PREFIX, REG_PREFIX, PartyRef, legacy_uid
from credgraph.queries import writes

# how many candidates a masked identifier may bring back before we stop looking
_MASK_CANDIDATES = 50
# a masked identifier keeps the length of the USCC or resident ID it hides (loaders/rows.py)
_MASKED_LENGTH = 18

# legacy codes a USCC-bearing legal person may carry as a property rather than as an alias node
_CARRIED_CODES: dict[LegacyCodeType, LiteralString] = {
    LegacyCodeType.ORG_CODE: writes.LEGAL_PERSONS_BY_ORG_CODE,
    LegacyCodeType.REGISTRATION_NUMBER: writes.LEGAL_PERSONS_BY_REGISTRATION_NUMBER,
}

Resolution = PartyRef | str  # the party, or why it cannot be found
# the parties a masked identifier fits, with their name keys
Candidates = list[tuple[str, str | None]]


@dataclass(slots=True)
class _Written:
    """What a dry run's rows of one party would leave in the properties a masked identifier is
    matched on (with a legal person's uid; None: no row writes it): `name_key` and `id_masked`
    written over whatever the store holds, and `created_*`, which hold only where the store
    holds no such party (a secondary source creates a party with all its properties, but only
    adds to one there already, leaving its name)."""

    name_key: str | None = None
    id_masked: str | None = None
    created_name_key: str | None = None
    created_id_masked: str | None = None

    def name(self, held: bool, stored: str | None = None) -> str | None:
        """The name key the load would leave: `held`, whether the store holds the party (with
        `stored` as its name key)."""
        if self.name_key is not None:
            return self.name_key
        return stored if held else self.created_name_key

    def masked(self) -> str | None:
        """The masked number the load would leave (a person's is made from the number its uid
        is made from: the store's, if it holds the person, is the same)."""
        return self.id_masked if self.id_masked is not None else self.created_id_masked


class Resolver:
    """Resolves references in batches; remembers what this run has loaded."""

    def __init__(self, store: GraphStore | None, *, dry_run: bool = False) -> None:
        self._store = store
        self._dry_run = dry_run
        self.known: dict[Label, set[str]] = defaultdict(set)
        self.records: dict[str, Label] = {}
        self.record_starts: dict[str, date] = {}  # the first day each record counts, if dated
        self._aliases: dict[str, str] = {}  # legacy uid -> USCC
        # operator key -> the legal persons (individual businesses) this run gave it
        self._operators: dict[str, set[str]] = defaultdict(set)
        self._operated_in_store: bool | None = None  # whether the store held any, once asked
        self._no_alias: set[str] = set()  # legacy uids the store has no USCC for
        # parties this run folded into others (loaders/fold.py): gone, though a dry run, or a
        # fold not committed yet, leaves them in the store
        self._gone: set[tuple[Label, str]] = set()
        # FtM entity ids (as stored) this run gave parties keyed by a strong identifier (the
        # `FtmId` nodes it writes, or would write: a dry run) -> those parties
        self._ftm_ids: dict[str, set[tuple[Label, str]]] = defaultdict(set)
        # a dry run: the parties its rows would write, as a later file's masked identifiers
        # would find them in the store after a load (`add_written`), indexed by what a mask
        # shows: a legal person's uid (sorted when a mask is matched), a person's masked number
        self._written: dict[Label, dict[str, _Written]] = {
            Label.LEGAL_PERSON: {},
            Label.NATURAL_PERSON: {},
        }
        self._written_firms: list[str] = []
        self._firms_sorted = True
        self._written_masks: dict[str, list[str]] = {}

    # what this run has loaded
    def add_party(self, label: Label, uid: str) -> None:
        self.known[label].add(uid)
        self._gone.discard((label, uid))

    def add_written(
        self,
        label: Label,
        uid: str,
        props: Mapping[str, Any],
        kept: Mapping[str, Any] | None = None,
    ) -> None:
        """A dry run: the properties a staged party row writes (`props`, as its statement sets
        them: queries/writes.py `PARTY_WRITES`), or, from a secondary source, `kept` over a
        party there already and `props` on one it creates (`SECONDARY_PARTY_WRITES`). A later
        file's masked identifiers are matched against what they leave (`_resolve_masked`), as
        the load matches them against the party it wrote. A load keeps nothing here."""
        if not self._dry_run or label not in self._written:
            return
        parties = self._written[label]
        written = parties.get(uid)
        if written is None:
            written = parties[uid] = _Written()
            if kept is not None:
                written.created_name_key = props.get("name_key")
                written.created_id_masked = props.get("id_masked")
            if label is Label.LEGAL_PERSON and len(uid) == _MASKED_LENGTH:  # a USCC
                self._written_firms.append(uid)
                self._firms_sorted = False
        given = props if kept is None else kept
        if given.get("name_key") is not None:
            written.name_key = given["name_key"]
        if given.get("id_masked") is not None:
            written.id_masked = given["id_masked"]
        if label is Label.NATURAL_PERSON and (masked := written.masked()) is not None:
            people = self._written_masks.setdefault(masked, [])
            if uid not in people:
                people.append(uid)

    def add_alias(self, legacy: str, uscc: str) -> None:
        self._aliases[legacy] = uscc

    def add_operator(self, key: str, uid: str) -> None:
        """This run wrote a legal person that gives this operator key."""
        self._operators[key].add(uid)

    def operated(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """The legal persons (individual businesses, whatever their key) that give each of
        these operator keys, in this run or in the store, but those this run folded away. One
        read, and none while neither the run nor the store holds any such business."""
        wanted = sorted(set(keys))
        found: dict[str, set[str]] = {key: set(self._operators.get(key, ())) for key in wanted}
        if self._store is not None and wanted and self._store_operated():
            rows = self._store.read(
                writes.LEGAL_PERSONS_BY_OPERATOR_KEY, {"keys": wanted}, operation="load.resolve"
            )
            for row in rows:
                found[row["key"]].add(row["uid"])
        return {
            key: {uid for uid in uids if (Label.LEGAL_PERSON, uid) not in self._gone}
            for key, uids in found.items()
        }

    def operator_owners(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Of `operated`, the businesses keyed by a USCC or `REG:`: those an `OPR:` party of
        the same operator is (loaders/loader.py `_operator_folds`)."""
        return {
            key: {uid for uid in uids if not uid.startswith(OPERATOR_PREFIX)}
            for key, uids in self.operated(keys).items()
        }

    def _store_operated(self) -> bool:
        """Whether the store held a business giving its operator when first asked (the store
        gains others only through this run, which adds them with `add_operator`)."""
        if self._operated_in_store is None:
            assert self._store is not None
            rows = self._store.read(writes.ANY_OPERATED_BUSINESS, {}, operation="load.resolve")
            self._operated_in_store = bool(rows)
        return self._operated_in_store

    def add_ftm_id(self, label: Label, uid: str, stored_id: str) -> None:
        """This run gave the party (keyed by a USCC, resident ID or passport) this FtM id."""
        self._ftm_ids[stored_id].add((label, uid))

    def forget_party(self, label: Label, uid: str) -> None:
        """A party folded into another (loaders/fold.py) is no longer there to refer to."""
        self.known[label].discard(uid)
        self._gone.add((label, uid))
        self._written.get(label, {}).pop(uid, None)

    def add_record(self, uid: str, label: Label, starts_on: date | None = None) -> None:
        self.records[uid] = label
        self.record_starts.pop(uid, None)  # a record loaded again: its row's dates hold
        if starts_on is not None:
            self.record_starts[uid] = starts_on

    # resolution
    def resolve(self, refs: Iterable[PartyRef]) -> dict[PartyRef, Resolution]:
        """The party each reference stands for, or the reason it cannot be found."""
        wanted = set(refs)
        answers: dict[PartyRef, Resolution] = {}
        legacy = {ref for ref in wanted if ref.legacy}
        answers.update(self._resolve_legacy(legacy))
        for ref in wanted - legacy:
            if ref.masked:
                answers[ref] = self._resolve_masked(ref)
        answers.update(self._resolve_operators(ref for ref in wanted if ref not in answers))
        plain = {ref for ref in wanted if ref not in answers} | {
            answer for answer in answers.values() if isinstance(answer, PartyRef)
        }
        self._look_up({ref for ref in plain if ref.uid not in self.known[ref.label]})
        alternatives = {ref.alternative for ref in wanted if ref.alternative is not None}
        self._look_up({alt for alt in alternatives if alt.uid not in self.known[alt.label]})
        for ref in wanted:
            target = answers.get(ref, ref)
            if isinstance(target, PartyRef) and target.alternative is not None:
                target = self._choose(target)
            if isinstance(target, PartyRef) and target.uid not in self.known[target.label]:
                answers[ref] = "refers to a party that is neither in this load nor in the store"
            else:
                answers[ref] = target
        return answers

    def _resolve_operators(self, refs: Iterable[PartyRef]) -> dict[PartyRef, Resolution]:
        """`OPR:<key>` references whose business is no longer (or never was) keyed so: the one
        legal person keyed by a USCC or `REG:` that gives the operator key (the party the
        `OPR:` one folded into), or why none can be told. Those still keyed so are left to the
        plain lookup."""
        wanted = {ref for ref in refs if ref.uid.startswith(OPERATOR_PREFIX)}
        self._look_up({ref for ref in wanted if ref.uid not in self.known[ref.label]})
        missing = {ref for ref in wanted if ref.uid not in self.known[ref.label]}
        owners = self.operator_owners(ref.uid[len(OPERATOR_PREFIX) :] for ref in missing)
        answers: dict[PartyRef, Resolution] = {}
        for ref in missing:
            found = sorted(owners.get(ref.uid[len(OPERATOR_PREFIX) :], ()))
            if len(found) == 1:
                answers[ref] = PartyRef(Label.LEGAL_PERSON, found[0])
            elif found:
                answers[ref] = (
                    f"the operator runs {len(found)} businesses keyed otherwise "
                    f"({', '.join(found[:3])}): name the one meant by its USCC or REG:"
                )
        return answers

    def _choose(self, ref: PartyRef) -> Resolution:
        """A code valid as a USCC and as a resident ID: whichever party is on file."""
        assert ref.alternative is not None
        firm = PartyRef(ref.label, ref.uid)
        found = [p for p in (firm, ref.alternative) if p.uid in self.known[p.label]]
        if len(found) == 2:
            return "is both a USCC and a resident ID on file; cannot tell which is meant"
        return found[0] if found else firm

    def resolve_records(self, uids: Iterable[str]) -> dict[str, Label]:
        """The label of each record uid found in this run or in the store (its start, where
        it has one, then in `record_starts`)."""
        wanted = set(uids)
        missing = [uid for uid in wanted if uid not in self.records]
        if missing and self._store is not None:
            for label, query in writes.EXISTING_RECORDS.items():
                for row in self._store.read(query, {"uids": missing}, operation="load.resolve"):
                    dates = native_record(row["dates"] or {})
                    self.add_record(row["uid"], label, record_start(dates))
        return {uid: self.records[uid] for uid in wanted if uid in self.records}

    def registration_owners(self, numbers: Iterable[str]) -> dict[str, str]:
        """The USCC that took each registration number over, where one did."""
        keys = {
            number: legacy_uid(LegacyCodeType.REGISTRATION_NUMBER, number) for number in numbers
        }
        self._load_aliases({key for key in keys.values() if key not in self._aliases})
        return {number: self._aliases[key] for number, key in keys.items() if key in self._aliases}

    def holders(self, keys: Iterable[str | None]) -> dict[str, str]:
        """The legal person that holds each legacy code (`<type>:<code>`), in this run or in
        the store, where one does."""
        wanted = {key for key in keys if key is not None}
        self._load_aliases({key for key in wanted if key not in self._aliases})
        return {key: self._aliases[key] for key in wanted if key in self._aliases}

    def ftm_id_parties(self, stored_ids: Iterable[str]) -> dict[str, set[tuple[Label, str]]]:
        """The parties this run gave each of these (stored) FtM ids, of those it still holds
        (as a stored `FtmId` whose party is gone names nothing): what a later file of the run
        finds through the store in a load, and through this in a dry run, which writes none."""
        found = {}
        for stored_id in stored_ids:
            parties = {
                (label, uid)
                for label, uid in self._ftm_ids.get(stored_id, ())
                if uid in self.known[label]
            }
            if parties:
                found[stored_id] = parties
        return found

    def existing(self, label: Label, uids: Iterable[str]) -> set[str]:
        """Which of these parties this run loaded or the store holds."""
        wanted = set(uids)
        self._look_up({PartyRef(label, uid) for uid in wanted if uid not in self.known[label]})
        return wanted & self.known[label]

    def _look_up(self, refs: set[PartyRef]) -> None:
        if self._store is None or not refs:
            return
        by_label: dict[Label, list[str]] = defaultdict(list)
        for ref in refs:
            if (ref.label, ref.uid) not in self._gone:
                by_label[ref.label].append(ref.uid)
        for label, uids in by_label.items():
            query = writes.EXISTING_PARTIES[label]
            rows = self._store.read(query, {"uids": uids}, operation="load.resolve")
            self.known[label].update(row["uid"] for row in rows)

    def _resolve_legacy(self, refs: set[PartyRef]) -> dict[PartyRef, Resolution]:
        keys = {ref: _legacy_key(ref) for ref in refs}
        self._load_aliases({key for key in keys.values() if key not in self._aliases})
        answers: dict[PartyRef, Resolution] = {}
        for ref, key in keys.items():
            if key in self._aliases:
                answers[ref] = PartyRef(Label.LEGAL_PERSON, self._aliases[key])
            elif ref.uid.startswith(REG_PREFIX):
                answers[ref] = PartyRef(Label.LEGAL_PERSON, ref.uid)  # an unconverted business
            else:
                answers[ref] = "no legal person carries this organisation code"
        return answers

    def _load_aliases(self, keys: set[str]) -> None:
        keys -= self._no_alias
        if self._store is None or not keys:
            return
        rows = self._store.read(
            writes.LEGAL_PERSONS_BY_LEGACY_CODE, {"codes": sorted(keys)}, operation="load.resolve"
        )
        self._aliases.update({row["code"]: row["uid"] for row in rows})
        for code_type, query in _CARRIED_CODES.items():
            prefix = f"{code_type.value}:"
            codes = [
                key[len(prefix) :]
                for key in keys
                if key.startswith(prefix) and key not in self._aliases
            ]
            if codes:
                rows = self._store.read(query, {"codes": codes}, operation="load.resolve")
                self._aliases.update({prefix + row["code"]: row["uid"] for row in rows})
        # the store gains aliases only through this run, which adds them with `add_alias`
        self._no_alias.update(key for key in keys if key not in self._aliases)

    def _resolve_masked(self, ref: PartyRef) -> Resolution:
        masked = ref.uid[len(MASKED_PREFIX) :]
        if ref.label is Label.NATURAL_PERSON:
            candidates = self._masked_people(masked)
        else:
            candidates = self._masked_firms(masked)
        fitting = len(candidates)  # the parties (loaded before, or earlier in this run) it fits
        if ref.name_key is not None:
            candidates = [(uid, key) for uid, key in candidates if key == ref.name_key]
        if len(candidates) == 1:
            return replace(ref, uid=candidates[0][0], name_key=None)
        if not fitting:
            return "masked identifier matches no party loaded"
        if not candidates:
            if fitting == 1:
                return "masked identifier matches 1 party, and the name beside it is not its name"
            return (
                f"masked identifier matches {fitting} parties, and the name beside it is the "
                "name of none of them"
            )
        hint = "" if ref.name_key else "; give the party's name beside it to narrow it"
        return f"masked identifier matches {len(candidates)} parties{hint}"

    def _masked_firms(self, masked: str) -> Candidates:
        prefix = masked[: masked.index("*")]
        suffix = masked[masked.rindex("*") + 1 :]
        stored: Candidates = []
        if self._store is not None:
            params = {
                "prefix": prefix,
                "suffix": suffix,
                "length": len(masked),
                "limit": _MASK_CANDIDATES,
            }
            rows = self._store.read(
                writes.LEGAL_PERSONS_MATCHING_MASK, params, operation="load.resolve"
            )
            stored = [(row["uid"], row["name_key"]) for row in rows if _fits(masked, row["uid"])]
        if not self._dry_run:
            return stored
        if not self._firms_sorted:
            self._written_firms.sort()
            self._firms_sorted = True
        firms = self._written_firms
        written = []
        at = bisect_left(firms, prefix)
        while at < len(firms) and firms[at].startswith(prefix):
            if _fits(masked, firms[at]):
                written.append(firms[at])
            at += 1
        return self._with_written(Label.LEGAL_PERSON, stored, written)

    def _masked_people(self, masked: str) -> Candidates:
        # a person's number is stored masked as mask_resident_id masks it, which a source may
        # have hidden more of: its first four and last four characters must show
        if "*" in masked[:4] + masked[-4:]:
            return []
        display = mask_resident_id(masked)
        stored: Candidates = []
        if self._store is not None:
            rows = self._store.read(
                writes.NATURAL_PERSONS_BY_MASK,
                {"masked": display, "limit": _MASK_CANDIDATES},
                operation="load.resolve",
            )
            stored = [(row["uid"], row["name_key"]) for row in rows]
        if not self._dry_run:
            return stored
        people = self._written[Label.NATURAL_PERSON]
        written = [
            uid
            for uid in self._written_masks.get(display, ())
            if uid in people and people[uid].masked() == display
        ]
        return self._with_written(Label.NATURAL_PERSON, stored, written)

    def _with_written(self, label: Label, stored: Candidates, written: list[str]) -> Candidates:
        """A dry run: the parties that fit a mask as the load would find them, each once: the
        store's but those the run folded away, with the name its earlier files would give
        them, and those only the run would write (the store answers with every party that
        fits, up to `_MASK_CANDIDATES`, so one of these it did not name it does not hold)."""
        parties = self._written[label]
        found: dict[str, str | None] = {}
        for uid, key in stored:
            if (label, uid) in self._gone:
                continue
            run = parties.get(uid)
            found[uid] = run.name(True, key) if run is not None else key
        for uid in written:
            run = parties.get(uid)  # None: folded away since
            if run is not None and uid not in found and (label, uid) not in self._gone:
                found[uid] = run.name(False)
        return list(found.items())


def _fits(masked: str, code: str) -> bool:
    return len(masked) == len(code) and all(
        m in ("*", c) for m, c in zip(masked, code, strict=True)
    )


def _legacy_key(ref: PartyRef) -> str:
    if ref.uid.startswith(REG_PREFIX):
        return legacy_uid(LegacyCodeType.REGISTRATION_NUMBER, ref.uid[len(REG_PREFIX) :])
    return legacy_uid(LegacyCodeType.ORG_CODE, ref.uid[len(ORG_PREFIX) :])
