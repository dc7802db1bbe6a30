"""Personalised PageRank (queries/pagerank.py) against networkx.pagerank with the same
personalisation, on random graphs and on a loaded snapshot."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore
from credgraph.queries.pagerank import (
    personalised_pagerank,
    seed_personalisation,
    transition_matrix,
    triage_ranking,
    undirected_personalised_pagerank,
)
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.snapshot import read_snapshot, relation_weights
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.cli import app
from tests.investigations import cli_runner
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
    st.integers(0, 2**15 - 1),
    st.integers(1, 3),
)
def test_both_solvers_match_networkx_pagerank(
    spec, alpha: float, offered: int, threads: int
) -> None:  # type: ignore[no-untyped-def]
    n, edges, personalisation = spec
    # any nodes may be offered for elimination: those that clash stay in the system
    eliminable = np.array([bool(offered >> i & 1) for i in range(n)])
    src = np.array([e[0] for e in edges], dtype=np.int32)
    dst = np.array([e[1] for e in edges], dtype=np.int32)
    weight = np.array([e[2] for e in edges], dtype=np.float64)
    transition, out_weight = transition_matrix(n, src, dst, weight)
    power = personalised_pagerank(
        transition, out_weight, np.array(personalisation), alpha=alpha, tol=TOL
    )
    conjugate = undirected_personalised_pagerank(
        n, src, dst, weight, np.array(personalisation), alpha=alpha, tol=TOL
    )
    # threads share the rows out, some of them none on a small graph
    eliminated = undirected_personalised_pagerank(
        n,
        src,
        dst,
        weight,
        np.array(personalisation),
        alpha=alpha,
        tol=TOL,
        eliminable=eliminable,
        threads=threads,
    )
    expected = networkx_reference(n, edges, personalisation, alpha)
    for ours in (power, conjugate, eliminated):
        assert ours.scores.sum() == pytest.approx(1.0)
        assert np.abs(ours.scores - expected).max() < 1e-9


def test_components_without_a_seed_score_zero_and_a_lone_seed_still_ranks() -> None:
    # components {0, 1, 2} (seeded at 0), {3, 4} (no seed), and 5 alone (a seed, no relation)
    src = np.array([0, 1, 3], dtype=np.int32)
    dst = np.array([1, 2, 4], dtype=np.int32)
    weight = np.array([1.0, 0.5, 1.0])
    personalisation = np.array([3.0, 0, 0, 0, 0, 1.0])
    ours = undirected_personalised_pagerank(6, src, dst, weight, personalisation, alpha=0.85)
    edges = list(zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True))
    expected = networkx_reference(6, edges, personalisation, 0.85)
    assert ours.scores[3] == 0.0 and ours.scores[4] == 0.0
    assert np.abs(ours.scores - expected).max() < 1e-9
    assert ours.scores[5] > 0  # a seed with no relation still ranks (networkx agrees)
    # the only seed has no relation: the walk only restarts, there, whatever the solver splits
    alone = np.array([0, 0, 0, 0, 0, 1.0])
    for eliminable, threads in ((None, None), (np.ones(6, dtype=bool), 3)):
        lone = undirected_personalised_pagerank(
            6, src, dst, weight, alone, alpha=0.85, eliminable=eliminable, threads=threads
        )
        assert lone.scores.tolist() == [0, 0, 0, 0, 0, 1.0] and lone.iterations == 0


def test_a_star_worked_by_hand_whatever_is_offered_for_elimination() -> None:
    # a firm (0) with two persons (1, 2), the walk restarting at person 1, alpha 1/2. The
    # persons send everything to the firm, the firm half to each: x0 = a (x1 + x2),
    # x1 = a x0 / 2 + (1 - a), x2 = a x0 / 2, so x0 = a / (1 + a) = 1/3, x2 = 1/12, x1 = 7/12
    src = np.array([0, 0], dtype=np.int32)
    dst = np.array([1, 2], dtype=np.int32)
    weight = np.array([2.0, 2.0])
    personalisation = np.array([0.0, 1.0, 0.0])
    expected = [1 / 3, 7 / 12, 1 / 12]
    for offered in ([False, True, True], [True, False, False], [True, True, True], None):
        eliminable = None if offered is None else np.array(offered)
        ours = undirected_personalised_pagerank(
            3, src, dst, weight, personalisation, alpha=0.5, tol=TOL, eliminable=eliminable
        )
        assert ours.scores == pytest.approx(expected, abs=1e-12), offered


def firm_graph(firms: int, persons: int, roles: int, seed: int) -> tuple:  # type: ignore[type-arg]
    """Firms 0..firms-1 with persons after them holding `roles` roles among them in all (some
    one, some many), some firm-to-firm relations, and a personalisation on a few parties."""
    rng = np.random.default_rng(seed)
    holders = rng.integers(firms, firms + persons, roles)
    held = rng.integers(0, firms, roles)
    owners, owned = rng.integers(0, firms, firms // 2), rng.integers(0, firms, firms // 2)
    src = np.concatenate([holders, owners]).astype(np.int32)
    dst = np.concatenate([held, owned]).astype(np.int32)
    weight = rng.random(len(src)) + 0.1
    n = firms + persons
    personalisation = np.zeros(n)
    personalisation[rng.integers(0, n, max(1, n // 40))] = 1.0
    return n, src, dst, weight, personalisation, np.arange(n) >= firms


def test_eliminating_the_persons_of_a_firm_graph_takes_fewer_products() -> None:
    # 300 firms, 900 persons holding one to three roles each, and some firm-to-firm relations
    n, src, dst, weight, personalisation, is_person = firm_graph(300, 900, 2_000, 11)
    plain = undirected_personalised_pagerank(n, src, dst, weight, personalisation, alpha=0.85)
    eliminated = undirected_personalised_pagerank(
        n, src, dst, weight, personalisation, alpha=0.85, eliminable=is_person
    )
    assert np.abs(plain.scores - eliminated.scores).sum() < 1e-9
    assert eliminated.iterations < plain.iterations
    with pytest.raises(ValueError, match="eliminable"):
        undirected_personalised_pagerank(
            n, src, dst, weight, personalisation, alpha=0.85, eliminable=is_person[1:]
        )


def test_every_thread_count_gives_the_same_ranking() -> None:
    # large enough that the default shares it out on a machine with two CPUs or more
    n, src, dst, weight, personalisation, is_person = firm_graph(20_000, 60_000, 300_000, 5)
    one = undirected_personalised_pagerank(
        n, src, dst, weight, personalisation, alpha=0.85, eliminable=is_person, threads=1
    )
    for threads in (2, 3, None):
        shared = undirected_personalised_pagerank(
            n, src, dst, weight, personalisation, alpha=0.85, eliminable=is_person, threads=threads
        )
        assert shared.iterations == one.iterations
        assert np.abs(shared.scores - one.scores).max() < 1e-15
    with pytest.raises(ValueError, match="threads"):
        undirected_personalised_pagerank(
            n, src, dst, weight, personalisation, alpha=0.85, threads=0
        )


def power_step_change(n, src, dst, weight, personalisation, alpha, x):  # type: ignore[no-untyped-def]
    """The L1 change one step of networkx's power iteration makes to x, computed directly."""
    transition, out_weight = transition_matrix(n, src, dst, weight)
    p = personalisation / personalisation.sum()
    dangling = x[out_weight == 0].sum()
    stepped = alpha * (transition.T @ x + dangling * p) + (1 - alpha) * p
    return float(np.abs(stepped - x).sum())


def test_the_reported_residual_is_the_step_change_of_the_answer() -> None:
    # stopped early (a loose tol), where the restart mass is still off: the step change the
    # solver computes from its reduced residual must be the one a power step makes; a party
    # without a relation (a seed) and an unseeded component make every term count
    n, src, dst, weight, personalisation, is_person = firm_graph(300, 900, 2_000, 7)
    personalisation[[5, n - 1]] = 2.0
    alone = (src == n - 1) | (dst == n - 1)  # the last person loses its roles
    src, dst, weight = src[~alone], dst[~alone], weight[~alone]
    for tol in (1e-2, 1e-4, 1e-7):
        for eliminable, threads in ((None, 1), (is_person, 1), (is_person, 3)):
            ours = undirected_personalised_pagerank(
                n,
                src,
                dst,
                weight,
                personalisation,
                alpha=0.85,
                tol=tol,
                eliminable=eliminable,
                threads=threads,
            )
            expected = power_step_change(n, src, dst, weight, personalisation, 0.85, ours.scores)
            assert ours.residual < tol
            assert ours.residual == pytest.approx(expected, rel=1e-6, abs=1e-15)


def test_conjugate_gradients_need_fewer_products_than_power_iteration() -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    src = rng.integers(0, n, 6_000).astype(np.int32)
    dst = rng.integers(0, n, 6_000).astype(np.int32)
    weight = rng.random(6_000)
    personalisation = np.zeros(n)
    personalisation[rng.integers(0, n, 50)] = 1.0
    transition, out_weight = transition_matrix(n, src, dst, weight)
    power = personalised_pagerank(transition, out_weight, personalisation, alpha=0.85)
    conjugate = undirected_personalised_pagerank(n, src, dst, weight, personalisation, alpha=0.85)
    assert np.abs(power.scores - conjugate.scores).sum() < 1e-9
    assert conjugate.iterations < power.iterations


def test_no_seed_gives_zeros_and_bad_personalisation_is_refused() -> None:
    transition, out_weight = transition_matrix(
        3, np.array([0], np.int32), np.array([1], np.int32), np.array([1.0])
    )
    assert personalised_pagerank(
        transition, out_weight, np.zeros(3), alpha=0.85
    ).scores.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="personalisation"):
        personalised_pagerank(transition, out_weight, np.array([1.0, -1.0, 0]), alpha=0.85)
    edge = (np.array([0], np.int32), np.array([1], np.int32), np.array([1.0]))
    assert undirected_personalised_pagerank(3, *edge, np.zeros(3), alpha=0.85).scores.tolist() == [
        0,
        0,
        0,
    ]
    with pytest.raises(ValueError, match="personalisation"):
        undirected_personalised_pagerank(3, *edge, np.array([1.0, -1.0, 0]), alpha=0.85)


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


def test_risk_triage_lists_the_networkx_ranking_from_the_command_line(
    small: GraphStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    embedded: EmbeddedStore,
) -> None:
    profile = BUILTIN_PROFILES["default"]
    snap = read_snapshot(small, AS_OF, profile=profile)
    weights = relation_weights(snap, profile)
    edges = list(zip(snap.rel_src.tolist(), snap.rel_dst.tolist(), weights.tolist(), strict=True))
    expected = networkx_reference(
        snap.node_count, edges, seed_personalisation(snap, profile), profile.pagerank_alpha
    )
    ranked = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0][:3]

    runner = cli_runner(monkeypatch, embedded, small)
    result = runner.invoke(
        app,
        # an analyst's list, which may hold persons
        [
            "risk",
            "triage",
            "--as-of",
            AS_OF.isoformat(),
            "--top",
            "3",
            "--json",
            "--purpose",
            "analysis",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert [entry["id"] for entry in answer["top"]] == [snap.key(int(i)).uid for i in ranked]
    for entry, i in zip(answer["top"], ranked, strict=True):
        assert entry["rank"] == pytest.approx(expected[i], abs=1e-9)
    first = answer["top"][0]
    assert first["seeded"] and first["name"]  # the blacklisted firm, by its name
    assert not any(entry["seeded"] for entry in answer["top"][1:])

    table = runner.invoke(
        app, ["risk", "triage", "--as-of", AS_OF.isoformat(), "--purpose", "analysis"]
    )
    assert table.exit_code == 0 and "look here first" in table.output
    # piped, the table is as wide as it needs: no identifier is cut short
    assert all(entry["id"] in table.output for entry in answer["top"])
    refused = runner.invoke(app, ["risk", "triage", "--top", "0"])
    assert refused.exit_code == 2 and "--top" in refused.output
