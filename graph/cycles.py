"""Python's cycle collector during bulk work: loads and whole-graph reads.

Both allocate millions of short-lived objects (cells, rows, parameter maps, the driver's
records) while they keep large structures alive (the parties and keys seen, the arrays read so
far). With CPython's default thresholds (a young collection every 700 net allocations) the
collector rescans the survivors so often that it took 40 % of a load's parsing time and a sixth
to a fifth of the 1M registry's whole-graph read (docs/benchmarks.md). Neither makes many
reference cycles, so the collector may run rarely while they last.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# net allocations between two young-generation collections during bulk work (CPython: 700)
BULK_GC_THRESHOLD = 100_000


@contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cycle collector only every `BULK_GC_THRESHOLD` net allocations inside the block,
    and restore its thresholds afterwards (also when the block raises)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(BULK_GC_THRESHOLD, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
