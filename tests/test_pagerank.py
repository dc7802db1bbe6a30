"""Personalised PageRank (queries/pagerank.py) against networkx.pagerank with the same
personalisation, on random graphs and on a loaded snapshot."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from credgraph.graph.store import GraphStore
from credgraph.queries.pagerank import (
    personalised_pagerank,
    seed_personalisation,
    transition_matrix,
    triage_ranking,
)
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.snapshot import read_snapshot, relation_weights
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_contagion import AS_OF
from tests.test_snapshot import small  # noqa: F401 (fixture)

TOL = 1e-12


def networkx_reference(n, edges, personalisation, alpha):  # type: ignore[no-untyped-def]
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for a, b, w in edges:
        if w > 0:
            previous = g[a][b]["weight"] if g.has_edge(a, b) else 0.0
            g.add_edge(a, b, weight=previous + w)
    weights = {i: float(personalisation[i]) for i in range(n)}
    result = nx.pagerank(
        g, alpha=alpha, personalization=weights, weight="weight", tol=TOL / n, max_iter=1000
    )
    return np.array([result[i] for i in range(n)])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 15).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.05, 1)).filter(
                    lambda e: e[0] != e[1]
                ),
                max_size=3 * n,
            ),
            st.lists(st.floats(0, 1), min_size=n, max_size=n).filter(lambda p: sum(p) > 0.01),
        )
    ),
    st.sampled_from([0.5, 0.85]),
)
def test_matches_networkx_pagerank(spec, alpha: float) -> None:  # type: ignore[no-untyped-def]
    n, edges, personalisation = spec
    src = np.array([e[0] for e in edges], dtype=np.int32)
    dst = np.array([e[1] for e in edges], dtype=np.int32)
    weight = np.array([e[2] for e in edges], dtype=np.float64)
    transition, out_weight = transition_matrix(n, src, dst, weight)
    ours = personalised_pagerank(
        transition, out_weight, np.array(personalisation), alpha=alpha, tol=TOL
    )
    expected = networkx_reference(n, edges, personalisation, alpha)
    assert ours.scores.sum() == pytest.approx(1.0)
    assert np.abs(ours.scores - expected).max() < 1e-9


def test_no_seed_gives_zeros_and_bad_personalisation_is_refused() -> None:
    transition, out_weight = transition_matrix(
        3, np.array([0], np.int32), np.array([1], np.int32), np.array([1.0])
    )
    assert personalised_pagerank(
        transition, out_weight, np.zeros(3), alpha=0.85
    ).scores.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="personalisation"):
        personalised_pagerank(transition, out_weight, np.array([1.0, -1.0, 0]), alpha=0.85)


def test_triage_on_a_loaded_snapshot_matches_networkx(small: GraphStore) -> None:  # noqa: F811
    profile = BUILTIN_PROFILES["default"]
    snap = read_snapshot(small, AS_OF, profile=profile)
    ranking = triage_ranking(snap, profile, tol=TOL)
    weights = relation_weights(snap, profile)
    edges = list(zip(snap.rel_src.tolist(), snap.rel_dst.tolist(), weights.tolist(), strict=True))
    personalisation = seed_personalisation(snap, profile)
    expected = networkx_reference(snap.node_count, edges, personalisation, profile.pagerank_alpha)
    assert np.abs(ranking.scores - expected).max() < 1e-9
    # the blacklisted firm's walk ranks it first
    assert int(np.argmax(ranking.scores)) == int(snap.seeds.subject[0])
