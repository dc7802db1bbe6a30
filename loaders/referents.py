"""FollowTheMoney referents across loads: an entity id merged into another entity names its party.

OpenSanctions merges entities between two exports: entity `Y` of a later file lists the ids
merged into it in `referents` (`["X"]`), and `X` is gone. Within one file loaders/ftm.py
follows them; across files this module does, so that the party an earlier load gave `X` and
the party of `Y` are one, whichever file is loaded first.

- Each accepted party row with referents leaves, per referent, a claim: an `FtmReferent` node
  keyed by the referent and the row's party (graph/identifiers.py `ftm_referent_uid`), holding
  the uid a party of that id has without a strong identifier (`FTM:<id>`, a person's token of
  it: `ftm.weak_uid`) in `referent_uid` and the uid of the row's party in `party_uid`. What a
  node says depends on the row alone, so the same nodes result in every load order.
- A referent whose claims end at two or more parties (two files listing it for two different
  entities) stands for all of them, so names none: a later file's link naming it is rejected
  and the lookup of `FTM:<id>` refused (queries/ftm_ids.py), in every order. The row whose
  claim conflicts with one stored (or an earlier row's of its file) is loaded and its claim
  kept, but it folds nothing, and the load report notes it (loaders/loader.py
  `_referent_folds`). A party stored under the referent's uid was folded by the first claim
  to arrive, if it was loaded before it; the second cannot undo that (docs/formats.md says
  which graph depends on the order).
- A party already loaded under a referent's uid (by this run, or by the store when the store
  held a party without a strong identifier as the file began) is folded into the row's party
  (loaders/fold.py): its relations and records move, its uid goes to `former_uids`.
- A party row without a strong identifier whose uid a referent names (the older file loaded
  after the later one) is written and folded into the party it names in the same transaction,
  and the links of the file that name it go to that party. Referents of referents are followed
  (`Y` merged into `Z` later).
- A party with a strong identifier (USCC, resident ID, passport) keeps its key: a referent
  never re-keys it, it only finds the party when the referent's own party is a weak one.

Store reads: whether any referent is stored, once per load (none on a new store after that);
then, per chunk, one batched read of the claims of its weak parties' uids and of the uids its
rows list as referents, and one more per step of a chain. Answers are kept for the load, so
the file's links cost no read.
"""

from __future__ import annotations

from collections.abc import Iterable

from credgraph.graph.store import GraphStore
from credgraph.queries import writes
from credgraph.queries.ftm_ids import follow_referents, read_referents


class Referents:
    """Which parties each FtM uid now stands for: what this load wrote, then what the store
    says. A uid claimed for several parties (two files listing it as a referent of two
    different entities) stands for all of them: for a link or a lookup, for none."""

    def __init__(self, store: GraphStore | None) -> None:
        self._store = store
        # uid -> the parties its referent claims name, the store's and this load's; empty: none
        self._party_of: dict[str, frozenset[str]] = {}
        self._stored: bool | None = None  # whether the store held any referent as the load began

    def learn(self, party_uid: str, referents: Iterable[str]) -> None:
        """A party row of this load names these uids as merged into it: a claim each, beside
        the claims the store holds."""
        uids = set(referents)
        self._look_up(uids)
        for uid in uids:
            self._party_of[uid] = self._party_of.get(uid, frozenset()) | {party_uid}

    def final(self, uids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The parties each uid stands for, where its claims name others than itself: one, or
        several for a uid claimed for several."""
        wanted = set(uids)
        self._look_up(wanted)
        answers = {}
        for uid in wanted:
            ends = self._follow(uid)
            if ends != {uid}:
                answers[uid] = ends
        return answers

    def known(self, uid: str) -> str:
        """The party a uid stands for, from what this load has learnt or read already; the uid
        itself when its claims name several."""
        ends = self._follow(uid)
        return next(iter(ends)) if len(ends) == 1 else uid

    def _follow(self, uid: str) -> frozenset[str]:
        return follow_referents(self._party_of, uid)

    def _look_up(self, uids: set[str]) -> None:
        """Read the store's referents of these uids, and of the parties they name, in turn
        (the reads the lookup of `FTM:<id>` makes too: queries/ftm_ids.py)."""
        pending = {uid for uid in uids if uid not in self._party_of}
        if pending and self._holds_referents():
            assert self._store is not None
            read_referents(self._store, pending, self._party_of, "load.resolve")

    def _holds_referents(self) -> bool:
        if self._store is None:
            return False
        if self._stored is None:
            self._stored = bool(self._store.read(writes.ANY_FTM_REFERENT, operation="load"))
        return self._stored
