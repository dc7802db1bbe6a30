"""FtM ids a file names but does not hold: the parties earlier loads gave them.

A city loads a sanctions file one month and an ownership file (or a delta) the next: the
second's links name the first's entities by FtM id. loaders/ftm.py asks :class:`StoredEnds`,
once per chunk of links and only for the ids its file does not hold, which party each stands
for, as a CSV role reaches a party loaded before:

1. the party keyed by the id as a party without a strong identifier has it (`FTM:<id>` for a
   legal person, the token of the id for a person: `ftm.weak_uid`), or the party an
   `FtmReferent` of that uid names, chains followed (loaders/referents.py): the referents'
   reads, then one read per label;
2. else the party that carries the id in `ftm_id` (one an FtM file keyed by a USCC, resident
   ID or passport): one read per label, for the ids step 1 did not find.

Parties this load gave the id count as the store's (a dry run of two files finds the first's
weak parties; the second step needs the store). An id that names a party of each label, or
several parties by `ftm_id`, names none: the link is rejected saying so. An id no load gave a
party is left out of the answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.loaders.ftm import stored_id, weak_uid
from credgraph.loaders.referents import Referents
from credgraph.loaders.resolve import Resolver
from credgraph.loaders.rows import ParseContext, PartyRef
from credgraph.queries import writes

_PARTY_LABELS = (Label.LEGAL_PERSON, Label.NATURAL_PERSON)


class StoredEnds:
    """The party each FtM id stands for in the store (module docstring); a `ftm.StoredEnds`."""

    def __init__(
        self, store: GraphStore | None, ctx: ParseContext, resolver: Resolver, referents: Referents
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._resolver = resolver
        self._referents = referents

    def __call__(self, ids: Collection[str]) -> dict[str, PartyRef | str]:
        found = self._by_weak_uid(ids)
        rest = [entity_id for entity_id in ids if entity_id not in found]
        if rest:
            found.update(self._by_ftm_id(rest))
        return found

    def _by_weak_uid(self, ids: Collection[str]) -> dict[str, PartyRef | str]:
        weak = {
            (label, entity_id): weak_uid(self._ctx, label, entity_id)
            for label in _PARTY_LABELS
            for entity_id in ids
        }
        final = self._referents.final(weak.values())
        parties: dict[str, list[PartyRef]] = defaultdict(list)
        for label in _PARTY_LABELS:
            party_of = {
                entity_id: final.get(weak[label, entity_id], weak[label, entity_id])
                for entity_id in ids
            }
            existing = self._resolver.existing(label, party_of.values())
            for entity_id, uid in party_of.items():
                if uid in existing:
                    parties[entity_id].append(PartyRef(label, uid))
        return {entity_id: _one(refs) for entity_id, refs in parties.items()}

    def _by_ftm_id(self, ids: Collection[str]) -> dict[str, PartyRef | str]:
        if self._store is None:
            return {}
        entity_of = {stored_id(self._ctx, entity_id): entity_id for entity_id in ids}
        parties: dict[str, list[PartyRef]] = defaultdict(list)
        for label in _PARTY_LABELS:
            query = writes.PARTIES_BY_FTM_ID[label]
            rows = self._store.read(query, {"ids": sorted(entity_of)}, operation="load.resolve")
            for row in rows:
                parties[entity_of[row["ftm_id"]]].append(PartyRef(label, row["uid"]))
                # the loader then finds it among this run's parties, with no second read
                self._resolver.add_party(label, row["uid"])
        return {entity_id: _one(refs) for entity_id, refs in parties.items()}


def _one(refs: list[PartyRef]) -> PartyRef | str:
    if len(refs) == 1:
        return refs[0]
    return f"names {len(refs)} parties in the store; cannot tell which is meant"
