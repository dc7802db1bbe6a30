"""Warming an API worker's caches before a query needs them: hubs' relations, sanction subjects.

A `HubCache` (queries/caches.py) fills as walks meet hubs, so after a start, a new data version
or a new day the first walk near each hub still waits for the store to read its hundreds of
relations, and those walks set the p99 (docs/benchmarks.md, "Warm hubs"). And a risk report
reads the sanction records of every party its walk reached, by looking each of them up, when
only about one party in ten is the subject of one. Here:

- `find_hubs` lists the parties with at least `least` party relations, largest first: one
  scan of each label, O(parties + party relations) in the store;
- `warm_hubs` reads the relations of the largest of them under the reads an API worker makes
  by default, the walks' and path searches' default filter and the risk walk's, both as of one
  date, and keeps them, bound to one data version; O(their relations);
- `warm_subjects` reads the parties that are the subject of a sanction record
  (`read_sanction_subjects`, O(records)) and keeps them for the data version, so that a risk
  report's records read names only those (queries/snapshot.py);
- `Warmer` does both from a background thread of an API worker (`CREDGRAPH_API_WARMUP_S`): it
  looks at the data version and the date at each interval, and warms once both have held still
  for one interval and differ from what it last warmed. A load moves the version with every
  chunk, so nothing is warmed while one runs; the hubs are found again only on a new day, and a
  new data version re-reads the hubs it already knows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import LiteralString, NamedTuple

from credgraph.graph import clock
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.queries.caches import HubCache, PerVersion
from credgraph.queries.ledger import data_version
from credgraph.queries.lookup import PartyKey
from credgraph.queries.snapshot import SanctionSubjects, keep_risk_relations, read_sanction_subjects
from credgraph.queries.traversal import read_level, relation_filter

# Every party relation counts, current or not, whatever the filter: an upper bound of what a
# level read returns, which is all the choice of hubs needs. COUNT {} lets the store count a
# party's relations without returning them: on ArcadeDB it took about half the time of
# MATCH ... count(r) and a quarter of size([...]) over the 1M registry's natural persons.
HUBS_AMONG_LEGAL_PERSONS: LiteralString = """
MATCH (p:LegalPerson)
WITH p, COUNT { (p)-[:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF|RESPONSIBLE_FOR
    |REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF|SHAREHOLDER_OF|INVESTS_IN
    |BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN|POSSIBLY_SAME_AS]-() } AS relations
WHERE relations >= $least
RETURN p.uid AS uid, relations
"""

HUBS_AMONG_NATURAL_PERSONS: LiteralString = """
MATCH (p:NaturalPerson)
WITH p, COUNT { (p)-[:LEGAL_REPRESENTATIVE_OF|PRINCIPAL_OF|EXECUTIVE_OF|RESPONSIBLE_FOR
    |REGISTERED_PROFESSIONAL_OF|PRACTISES_AT|ACTUAL_CONTROLLER_OF|SHAREHOLDER_OF|INVESTS_IN
    |BRANCH_OF|GUARANTEES|SUPPLIES|MEMBER_OF|PARTICIPATES_IN|POSSIBLY_SAME_AS]-() } AS relations
WHERE relations >= $least
RETURN p.uid AS uid, relations
"""

_HUBS_AMONG: dict[Label, LiteralString] = {
    Label.LEGAL_PERSON: HUBS_AMONG_LEGAL_PERSONS,
    Label.NATURAL_PERSON: HUBS_AMONG_NATURAL_PERSONS,
}

# the reads warm_hubs makes for each hub: the walks' default filter, and the risk walk's
READS_WARMED = 2
# relations a warming read asks for at most (the hubs' counts say how many it will get): rows
# of a size the store and the driver stream without a long pause of either
_RELATIONS_PER_READ = 20_000
# no cap on a warming read: only complete reads are kept (ArcadeDB reads LIMIT as a 32-bit
# integer, and the read asks for one more than its cap)
_UNCAPPED = 2**30


class Hub(NamedTuple):
    """A party and how many party relations it has, current or not."""

    key: PartyKey
    relations: int


def find_hubs(store: GraphStore, least: int) -> list[Hub]:
    """Every party with at least `least` party relations, the most relations first (then by
    key). Two reads, one per label, each a scan of the label: O(parties + party relations)."""
    hubs = [
        Hub(PartyKey(label, row["uid"]), int(row["relations"]))
        for label, query in _HUBS_AMONG.items()
        for row in store.read(query, {"least": least}, operation="hubs.find")
    ]
    return sorted(hubs, key=lambda hub: (-hub.relations, hub.key))


@dataclass(frozen=True)
class Warmed:
    """What `warm_hubs` did: the hubs it read and the relations the cache then held."""

    hubs: int
    relations: int
    seconds: float


def warm_hubs(
    store: GraphStore, cache: HubCache, hubs: Sequence[Hub], *, data_token: str, as_of: date
) -> Warmed:
    """Read and keep the relations of the largest `hubs` (as `find_hubs` orders them) under the
    data version `data_token`: the level reads of walks and path searches with the default
    filter as of `as_of`, and of the risk walk as of `as_of`, exactly as those read them.

    Takes hubs, largest first, as long as their relations under both reads fit in the cache, so
    the warmed hubs do not push one another out; the cache keeps those of at least `cache.least`
    relations in the read (a hub's relation count includes former relations, which the reads
    leave out). O(relations of the hubs taken), in reads of at most about 20,000 relations.
    """
    started = time.perf_counter()
    chosen = _fitting(hubs, cache.size // READS_WARMED)
    bound = cache.bound(store, data_token)
    walks = relation_filter(as_of=as_of)
    for batch in _batches(chosen):
        keys = [hub.key for hub in batch]
        read_level(store, keys, walks, _UNCAPPED, bound)
        keep_risk_relations(store, keys, as_of, bound)
    return Warmed(len(chosen), cache.relations, time.perf_counter() - started)


def _fitting(hubs: Sequence[Hub], relations: int) -> list[Hub]:
    """`hubs` in their order, each taken if its relations still fit in `relations`."""
    taken: list[Hub] = []
    total = 0
    for hub in hubs:
        if total + hub.relations > relations:
            continue
        taken.append(hub)
        total += hub.relations
    return taken


def _batches(hubs: Sequence[Hub]) -> list[list[Hub]]:
    """`hubs` in runs of at most `_RELATIONS_PER_READ` relations (a larger hub alone)."""
    batches: list[list[Hub]] = [[]]
    total = 0
    for hub in hubs:
        if batches[-1] and total + hub.relations > _RELATIONS_PER_READ:
            batches.append([])
            total = 0
        batches[-1].append(hub)
        total += hub.relations
    return [batch for batch in batches if batch]


def warm_subjects(
    store: GraphStore, subjects: PerVersion[SanctionSubjects], *, data_token: str
) -> int | None:
    """Read the sanction subjects and keep them for `data_token`, unless the data version has
    moved from it meanwhile (a set read under another version must not stand for this one).
    How many parties were kept, or None. Three reads, O(sanction records)."""
    found = read_sanction_subjects(store)
    if data_version(store).token() != data_token:
        return None
    subjects.put(store.database, data_token, found)
    return len(found)


@dataclass(frozen=True)
class Warming:
    """What one warming did: the hubs (None when the worker keeps none), the sanction subjects
    kept (None when not warmed: kept already, moved meanwhile, or not asked for)."""

    hubs: Warmed | None
    subjects: int | None
    seconds: float


class Warmer:
    """Keeps an API worker's `HubCache` and sanction subjects warm for one store, from a thread
    of its own (`start`, `stop`).

    Every `interval_s` it reads the data version (one small read) and takes the date; when
    both are what they were at the look before and not what it last warmed, it reads the
    sanction subjects (`warm_subjects`) unless `subjects` holds them for this version, then
    warms `hubs` (`warm_hubs`), finding the hubs again first on a new day (`find_hubs`), and
    tells `on_warmed`. A look that fails is told to `on_failed`, and the next look tries again:
    warming only ever spares reads, so a worker answers the same whether it ran or not.
    """

    def __init__(
        self,
        store: GraphStore,
        interval_s: float,
        *,
        hubs: HubCache | None = None,
        subjects: PerVersion[SanctionSubjects] | None = None,
        today: Callable[[], date] = clock.today,
        on_warmed: Callable[[Warming], None] = lambda _: None,
        on_failed: Callable[[Exception], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.hubs = hubs
        self.subjects = subjects
        self._today = today
        self._on_warmed = on_warmed
        self._on_failed = on_failed
        self._seen: tuple[str, date] | None = None  # at the last look
        self._warmed: tuple[str, date] | None = None
        self._found: tuple[date, list[Hub]] | None = None  # the hubs found on that day
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def look(self) -> Warming | None:
        """One look: warm if the data version and the date held still since the look before
        and were not warmed yet. What it warmed, or None."""
        now = (data_version(self.store).token(), self._today())
        before, self._seen = self._seen, now
        if now != before or now == self._warmed:
            return None
        started = time.perf_counter()
        token, day = now
        kept = None
        if self.subjects is not None and self.subjects.get(self.store.database, token) is None:
            kept = warm_subjects(self.store, self.subjects, data_token=token)
        warmed = None
        if self.hubs is not None:
            if self._found is None or self._found[0] != day:
                self._found = day, find_hubs(self.store, self.hubs.least)
            warmed = warm_hubs(self.store, self.hubs, self._found[1], data_token=token, as_of=day)
        self._warmed = now
        warming = Warming(warmed, kept, time.perf_counter() - started)
        self._on_warmed(warming)
        return warming

    def start(self) -> None:
        """Look now and then every `interval_s` seconds, on a daemon thread, until `stop`."""
        self._thread = threading.Thread(target=self._run, name="warmer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread after its current look (waiting at most `timeout_s` for it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except Exception as exc:  # the thread outlives a failed look: the next one tries
                self._on_failed(exc)
            self._stop.wait(self.interval_s)
