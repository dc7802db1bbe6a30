"""Searching by name as an investigator starts from: whether `truncated` tells of more matches."""

from __future__ import annotations

from pathlib import Path

from credgraph.graph.store import GraphStore
from credgraph.queries.lookup import search_by_name

from tests.investigations import MiniRegistry


def test_a_search_with_substrings_says_more_matched_when_the_prefixes_fill_the_limit(
    graph: GraphStore, tmp_path: Path
) -> None:
    """One name is 鹭岛 (its firm: 鹭岛有限公司, a prefix match) and one contains it (厦门鹭岛):
    with --contains and --limit 1 the prefix match fills the page, and the answer must still
    say that more parties match (docs/queries.md: `truncated` says more matched)."""
    reg = MiniRegistry()
    reg.firm("鹭岛")
    reg.firm("厦门鹭岛")
    reg.load(graph, tmp_path)

    both = search_by_name(graph, "鹭岛", substring=True, limit=2)
    assert [m.match.value for m in both.items] == ["prefix", "substring"] and not both.truncated
    one = search_by_name(graph, "鹭岛", substring=True, limit=1)
    assert [m.key for m in one.items] == [reg.key("鹭岛")] and one.truncated
    assert not search_by_name(graph, "鹭岛", limit=1).truncated  # without --contains: no more
