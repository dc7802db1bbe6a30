"""FollowTheMoney entity ids against the store: which party each id stands for.

Two callers ask it, and both go through :func:`ftm_parties`, so that they cannot drift: the
lookup of `FTM:<id>` (queries/lookup.py: the API's `entity` and `screen`, the CLI), one id at a
time, and the FtM loader, for the ids a file's links name but the file does not hold
(loaders/ftm_stored.py), a chunk of links at a time. The chain, for a batch of ids:

1. the party keyed by the id as a party without a strong identifier has it
   (graph/identifiers.py `ftm_weak_uid`: `FTM:<id>` for a legal person, the token of the id
   for a person; and `FTM:<id>` for a person that migration 1 could not re-key,
   graph/migrations.py), or the party the `FtmReferent` claims of that uid name, chains of
   merges followed (loaders/referents.py); a uid two files claim for two parties (whose chains
   end at two parties) names them both, so none;
2. else, for the ids step 1 did not find, the party an FtM file keyed by a USCC, resident ID or
   passport and gave the id: its `FtmId` nodes (queries/writes.py), one read per label.

An id that names more than one party in a step (a legal person and a person, or two parties
two files gave it) names none: the answer lists them all, in uid order, and the caller refuses
it (the lookup with AmbiguousIdentifier, the loader by rejecting the link), whichever order the
files came in. The callers differ only in what they know beside the store: the loader also
counts the parties, referents and `FtmId`s of its own run (a dry run writes nothing, yet a
later file of the run must find what an earlier one would have written), so it hands in its
own `final`, `existing` and `given` (:class:`FtmSources`); the lookup reads the store for the
first two and has nothing to add to it for the third (:func:`store_sources`). Reads: the
referents (one per step of a chain, none when `final` has them), one per label for step 1
and, when some ids are left and there is a store, one per label for step 2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date

from credgraph.graph.identifiers import ftm_stored_id, ftm_weak_uid
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import PARTY_LABELS, Label
from credgraph.queries import writes

# a chain of merges longer than this is a cycle in the data (X into Y, then Y into X)
MAX_REFERENT_HOPS = 32

Party = tuple[Label, str]


@dataclass(frozen=True)
class FtmSources:
    """What step 1 asks: the party each uid stands for where a referent names another (chains
    followed), and which uids of a label are parties; and what step 2 adds to the store's
    `FtmId` nodes: the parties given each (stored) entity id by what the store does not hold
    yet (a dry run's earlier files). `final` gives the ends of each uid's chains where they are
    not the uid alone: one party, or several for a referent claimed for several."""

    final: Callable[[Collection[str]], Mapping[str, Collection[str]]]
    existing: Callable[[Label, Collection[str]], Collection[str]]
    given: Callable[[Collection[str]], Mapping[str, Collection[Party]]]


def ftm_parties(
    store: GraphStore | None,
    ids: Collection[str],
    person_key: bytes,
    sources: FtmSources,
    *,
    operation: str,
    today: date | None = None,
) -> dict[str, list[Party]]:
    """The parties each id stands for (module docstring), in (label, uid) order: one for an
    id that names one, several for an id that names several; an id that names none is left
    out. Without a store, step 2 asks `sources.given` alone."""
    found = _weak_parties(ids, person_key, sources, today)
    rest = [entity_id for entity_id in ids if entity_id not in found]
    if rest:
        found.update(_carrying_parties(store, rest, person_key, sources, operation, today))
    return found


def _weak_parties(
    ids: Collection[str], person_key: bytes, sources: FtmSources, today: date | None
) -> dict[str, list[Party]]:
    candidates: dict[Label, dict[str, list[str]]] = {label: {} for label in PARTY_LABELS}
    for entity_id in ids:
        firm = ftm_weak_uid(person_key, Label.LEGAL_PERSON, entity_id, today=today)
        person = ftm_weak_uid(person_key, Label.NATURAL_PERSON, entity_id, today=today)
        candidates[Label.LEGAL_PERSON][entity_id] = [firm]
        # `FTM:<id>`: a person migration 1 left keyed so (its entity id was stored hashed)
        candidates[Label.NATURAL_PERSON][entity_id] = [person, firm]
    every = {uid for by_id in candidates.values() for uids in by_id.values() for uid in uids}
    final = sources.final(every)
    parties: dict[str, set[Party]] = defaultdict(set)
    for label, by_id in candidates.items():
        party_of = {uid: final.get(uid, (uid,)) for uids in by_id.values() for uid in uids}
        named = sorted({party for ends in party_of.values() for party in ends})
        existing = set(sources.existing(label, named))
        for entity_id, uids in by_id.items():
            parties[entity_id].update(
                (label, party) for uid in uids for party in party_of[uid] if party in existing
            )
    return {entity_id: sorted(found) for entity_id, found in parties.items() if found}


def _carrying_parties(
    store: GraphStore | None,
    ids: Collection[str],
    person_key: bytes,
    sources: FtmSources,
    operation: str,
    today: date | None,
) -> dict[str, list[Party]]:
    entity_of = {ftm_stored_id(person_key, entity_id, today=today): entity_id for entity_id in ids}
    parties: dict[str, set[Party]] = defaultdict(set)
    for stored, given in sources.given(list(entity_of)).items():
        parties[entity_of[stored]].update(given)
    if store is not None:
        for label, query in writes.PARTIES_BY_FTM_ID.items():
            for row in store.read(query, {"ids": sorted(entity_of)}, operation=operation):
                parties[entity_of[row["ftm_id"]]].add((label, row["uid"]))
    return {entity_id: sorted(found) for entity_id, found in parties.items() if found}


def read_referents(
    store: GraphStore,
    uids: Iterable[str],
    party_of: MutableMapping[str, frozenset[str]],
    operation: str,
) -> None:
    """Add to `party_of` the parties the stored referent claims of each uid name (empty: no
    claim), and in turn those of the parties they name: one read per step of a chain. Uids
    `party_of` holds already are not read."""
    pending = {uid for uid in uids if uid not in party_of}
    for _ in range(MAX_REFERENT_HOPS):
        if not pending:
            return
        rows = store.read(writes.FTM_REFERENTS, {"uids": sorted(pending)}, operation=operation)
        found: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            found[row["uid"]].add(row["party_uid"])
        for uid in pending:
            party_of[uid] = frozenset(found.get(uid, ()))
        pending = {party for parties in found.values() for party in parties} - party_of.keys()


def follow_referents(party_of: Mapping[str, Collection[str]], uid: str) -> frozenset[str]:
    """The parties a uid stands for: the ends of its chains of referent claims in `party_of`
    (the uid alone when it has none; several when claims lead to several parties). A claim back
    into a chain (a cycle in the data) ends it; so does a chain of MAX_REFERENT_HOPS."""

    def ends(current: str, path: frozenset[str]) -> frozenset[str]:
        following = set(party_of.get(current, ())) - path
        if not following or len(path) > MAX_REFERENT_HOPS:
            return frozenset({current})
        return frozenset().union(*(ends(party, path | {party}) for party in following))

    return ends(uid, frozenset({uid}))


def store_sources(store: GraphStore, operation: str) -> FtmSources:
    """Step 1's questions answered by the store alone (the lookup's); step 2 finds every
    `FtmId` in the store, so `given` adds none."""

    def final(uids: Collection[str]) -> dict[str, frozenset[str]]:
        party_of: dict[str, frozenset[str]] = {}
        read_referents(store, uids, party_of, operation)
        return {uid: ends for uid in uids if (ends := follow_referents(party_of, uid)) != {uid}}

    def existing(label: Label, uids: Collection[str]) -> set[str]:
        rows = store.read(writes.EXISTING_PARTIES[label], {"uids": list(uids)}, operation=operation)
        return {row["uid"] for row in rows}

    def given(stored_ids: Collection[str]) -> dict[str, list[Party]]:
        return {}

    return FtmSources(final, existing, given)
