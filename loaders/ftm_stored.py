"""FtM ids a file names but does not hold: the parties earlier loads gave them.

A city loads a sanctions file one month and an ownership file (or a delta) the next: the
second's links name the first's entities by FtM id. loaders/ftm.py asks :class:`StoredEnds`,
once per chunk of links and only for the ids its file does not hold, which party each stands
for, as a CSV role reaches a party loaded before.

The answer is queries/ftm_ids.py `ftm_parties`, the chain the lookup of `FTM:<id>` follows too:
the party keyed by the id as a party without a strong identifier (or the party the `FtmReferent`
claims of that uid name, chains followed; several for a referent two files claimed for two
parties), else the party an FtM file keyed by a USCC, resident ID or
passport and gave the id (its `FtmId` nodes; every id every file gave it). Reads: the
referents', then one per label, then, for the ids left, one per label.

Parties, referents and `FtmId`s this load wrote, or would have written, count as the store's
(`Resolver`, `Referents`): a dry run of two files finds the parties of the first, weak or keyed
by a strong identifier, as the load of the two files does, though it writes nothing. An id that
names several parties (a party of each label, or two parties two files gave it) names none:
the link is rejected saying so, whichever order the files came in. An id no load gave a party
is left out of the answer.
"""

from __future__ import annotations

from collections.abc import Collection

from credgraph.graph.store import GraphStore
from credgraph.loaders.referents import Referents
from credgraph.loaders.resolve import Resolver
from credgraph.loaders.rows import ParseContext, PartyRef
from credgraph.queries.ftm_ids import FtmSources, ftm_parties


class StoredEnds:
    """The party each FtM id stands for in the store (module docstring); a `ftm.StoredEnds`."""

    def __init__(
        self, store: GraphStore | None, ctx: ParseContext, resolver: Resolver, referents: Referents
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._resolver = resolver
        self._sources = FtmSources(referents.final, resolver.existing, resolver.ftm_id_parties)

    def __call__(self, ids: Collection[str]) -> dict[str, PartyRef | str]:
        found = ftm_parties(
            self._store,
            ids,
            self._ctx.person_key,
            self._sources,
            operation="load.resolve",
            today=self._ctx.today,
        )
        answers: dict[str, PartyRef | str] = {}
        for entity_id, parties in found.items():
            if len(parties) > 1:
                answers[entity_id] = (
                    f"names {len(parties)} parties in the store; cannot tell which is meant"
                )
                continue
            [(label, uid)] = parties
            # the loader then finds it among this run's parties, with no second read
            self._resolver.add_party(label, uid)
            answers[entity_id] = PartyRef(label, uid)
        return answers
