"""A store that counts: the real embedded store, recording each read it is asked for."""

from __future__ import annotations

from credgraph.graph.store import GraphStore


class CountingStore(GraphStore):
    """The real store, recording each read's operation name and row count."""

    def __init__(self, base: GraphStore) -> None:
        super().__init__(base.driver, base.database, base.timeout_s, base.backend)
        self.reads: list[tuple[str, int]] = []
        self.queries: list[str] = []  # the text of each read, in order

    def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rows = super().read(*args, **kwargs)
        self.reads.append((kwargs.get("operation", "read"), len(rows)))
        self.queries.append(args[0] if args else kwargs["query"])
        return rows

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.reads]
