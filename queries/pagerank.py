"""Personalised PageRank from sanctioned seeds, for whole-graph triage.

Where the contagion score (queries/contagion.py) is local and explained, this ranking is global:
the stationary distribution of a random walk over the party graph that restarts, with
probability 1 - alpha at each step, at a seed chosen in proportion to its base weight. Parties
that many weighted walks from sanctioned parties reach rank high, however far. It ranks; it is
not a score with a meaning of its own, and never a sanction.

Power iteration on a CSR matrix (scipy.sparse), same conventions as networkx.pagerank:
`x <- alpha * (x P + (x . dangling) p) + (1 - alpha) p`, P the row-normalised weighted
adjacency, p the personalisation, dangling nodes (no weighted edge) jumping by p. Stops when the
L1 change is below `tol`. Each iteration is one sparse matrix-vector product: O(m) per
iteration, O(m log(1/tol) / log(1/alpha)) in all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from credgraph.queries.contagion import seed_bases
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.snapshot import FloatArray, Int32Array, Snapshot, relation_weights

DEFAULT_TOL = 1e-10  # L1 change between iterations
DEFAULT_MAX_ITER = 1000


class NoConvergence(RuntimeError):
    """The power iteration did not reach the tolerance within max_iter iterations."""


@dataclass(frozen=True)
class PageRank:
    scores: FloatArray  # sums to 1 (0 everywhere when there is no seed)
    iterations: int
    residual: float


def transition_matrix(
    n: int, src: Int32Array, dst: Int32Array, weight: FloatArray, *, directed: bool = False
) -> tuple[sp.csr_matrix, FloatArray]:
    """The row-stochastic transition matrix of a weighted graph, and its out-weight per node.

    Undirected by default (each edge both ways); parallel edges add up; edges of weight 0 are
    dropped. O(m log m).
    """
    if directed:
        rows, cols, data = src, dst, weight
    else:
        rows = np.concatenate([src, dst])
        cols = np.concatenate([dst, src])
        data = np.concatenate([weight, weight])
    positive = data > 0
    matrix = sp.csr_matrix(
        (data[positive], (rows[positive], cols[positive])), shape=(n, n), dtype=np.float64
    )
    matrix.sum_duplicates()
    out_weight = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out_weight, out=np.zeros(n), where=out_weight > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix), out_weight


def personalised_pagerank(
    transition: sp.csr_matrix,
    out_weight: FloatArray,
    personalisation: FloatArray,
    *,
    alpha: float,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PageRank:
    """Power iteration from `personalisation` (any non-negative weights; normalised here).

    Raises ValueError naming `personalisation` when it is negative or of the wrong length, and
    NoConvergence when `max_iter` iterations do not reach `tol`.
    """
    n = transition.shape[0]
    if personalisation.shape != (n,) or (personalisation < 0).any():
        raise ValueError("personalisation: expected one non-negative weight per node")
    total = float(personalisation.sum())
    if total == 0:
        return PageRank(np.zeros(n), 0, 0.0)
    p = personalisation / total
    dangling = out_weight == 0
    transposed = transition.T.tocsr()  # x P computed as P^T x, row-major
    x = p.copy()
    for iteration in range(1, max_iter + 1):
        previous = x
        x = alpha * (transposed @ previous + previous[dangling].sum() * p) + (1 - alpha) * p
        residual = float(np.abs(x - previous).sum())
        if residual < tol:
            return PageRank(x, iteration, residual)
    raise NoConvergence(f"personalised PageRank: no convergence to {tol} in {max_iter} iterations")


def seed_personalisation(snapshot: Snapshot, profile: PolicyProfile) -> FloatArray:
    """Per node, the sum of the base weights of its counting negative records on as_of."""
    weights = np.zeros(snapshot.node_count)
    seeds = snapshot.seeds
    if len(seeds):
        np.add.at(weights, seeds.subject, seed_bases(seeds, profile, snapshot.as_of))
    return weights


def triage_ranking(
    snapshot: Snapshot, profile: PolicyProfile, *, tol: float = DEFAULT_TOL
) -> PageRank:
    """Personalised PageRank of every party of `snapshot`: walks over the undirected graph
    weighted by the profile's relation weights (stake for ownership), restarting at the seeds
    in proportion to their base weights, damping `pagerank_alpha`."""
    transition, out_weight = transition_matrix(
        snapshot.node_count,
        snapshot.rel_src,
        snapshot.rel_dst,
        relation_weights(snapshot, profile),
    )
    return personalised_pagerank(
        transition,
        out_weight,
        seed_personalisation(snapshot, profile),
        alpha=profile.pagerank_alpha,
        tol=tol,
    )
