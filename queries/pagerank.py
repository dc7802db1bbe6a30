"""Personalised PageRank from sanctioned seeds, for whole-graph triage.

Where the contagion score (queries/contagion.py) is local and explained, this ranking is global:
the stationary distribution of a random walk over the party graph that restarts, with
probability 1 - alpha at each step, at a seed chosen in proportion to its base weight. Parties
that many weighted walks from sanctioned parties reach rank high, however far. It ranks; it is
not a score with a meaning of its own, and never a sanction.

The conventions are networkx.pagerank's:
`x <- alpha * (x P + (x . dangling) p) + (1 - alpha) p`, P the row-normalised weighted
adjacency, p the personalisation, dangling nodes (no weighted edge) jumping by p; the answer is
the fixed point, and a solver stops when one such step changes x by less than `tol` in L1.

Two solvers give that fixed point:

- `personalised_pagerank`: power iteration on a CSR matrix, any (directed) graph. One sparse
  matrix-vector product per iteration: O(m log(1/tol) / log(1/alpha)) in all.
- `undirected_personalised_pagerank`: the party graph is undirected, and then the fixed point
  solves a symmetric positive definite system, which conjugate gradients solve in about
  sqrt((1 + alpha) / (1 - alpha)) times fewer products than power iteration needs (about 40
  instead of 120 at alpha 0.85), each a little dearer. Nodes of an independent set (natural
  persons, linked only to legal persons) can be eliminated first, exactly: the rest of the
  system is smaller and better conditioned (21 products on the 10^6-enterprise registry).
  `triage_ranking` uses it so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from credgraph.graph.vocabulary import Label
from credgraph.queries.contagion import seed_bases
from credgraph.queries.profiles import PolicyProfile
from credgraph.queries.snapshot import (
    LABEL_CODE,
    FloatArray,
    Int32Array,
    IntArray,
    Snapshot,
    relation_weights,
)

BoolArray = npt.NDArray[np.bool_]

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
    p = _restart_distribution(personalisation, n)
    if p is None:
        return PageRank(np.zeros(n), 0, 0.0)
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


def undirected_personalised_pagerank(
    n: int,
    src: Int32Array,
    dst: Int32Array,
    weight: FloatArray,
    personalisation: FloatArray,
    *,
    alpha: float,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    eliminable: BoolArray | None = None,
) -> PageRank:
    """Personalised PageRank of an undirected weighted graph, by conjugate gradients.

    Each edge counts both ways, parallel edges add up and edges of weight 0 are dropped, as in
    `transition_matrix`; the answer is `personalised_pagerank`'s (same fixed point, same stopping
    test). Why it works: with W the symmetric weight matrix and D its degrees, the fixed point
    is x = y / sum(y) where y = alpha W D^-1 y + (1 - alpha) p (dangling mass returns by p, so
    it only rescales y), and y = D^1/2 z turns that into (I - alpha S) z = (1 - alpha) D^-1/2 p
    with S = D^-1/2 W D^-1/2 symmetric, eigenvalues of I - alpha S in [1 - alpha, 1 + alpha].

    `eliminable` marks nodes that may be solved for in closed form (natural persons, who are
    only ever linked to legal persons). Those of them linked to no other candidate (an
    independent set), and every node without an edge, leave the system: their rows are an
    identity block, so the rest solves the Schur complement I - alpha S_FF - alpha^2 S_FE S_EF,
    on fewer unknowns and with a narrower spectrum (fewer iterations), preconditioned by its
    diagonal; each eliminated node is then one sparse row away. Without candidates, this is
    conjugate gradients on the whole system (less the nodes without an edge).

    O(n + m) to build the blocks, then O(n + m) per iteration, about
    sqrt((1 + alpha) / (1 - alpha)) * ln(2 / tol) / 2 iterations at most (a party in a
    component without a seed stays at exactly 0). Raises ValueError naming `personalisation`
    as `personalised_pagerank` does, and `eliminable` when it has the wrong shape;
    NoConvergence after `max_iter` iterations.
    """
    p = _restart_distribution(personalisation, n)
    if eliminable is not None and eliminable.shape != (n,):
        raise ValueError("eliminable: expected one flag per node")
    if p is None:
        return PageRank(np.zeros(n), 0, 0.0)
    positive = weight > 0
    if not positive.all():
        src, dst, weight = src[positive], dst[positive], weight[positive]
    degree = np.bincount(src, weight, minlength=n) + np.bincount(dst, weight, minlength=n)
    root = np.sqrt(degree)
    inverse_root = np.divide(1.0, root, out=np.zeros(n), where=degree > 0)
    scaled = weight * inverse_root[src] * inverse_root[dst]
    isolated = degree == 0
    eliminated = _independent_subset(eliminable, src, dst, isolated)
    system = _SplitSystem.build(n, src, dst, scaled, eliminated, alpha)
    z, iterations, residual = _conjugate_gradients(
        system, (1 - alpha) * p * inverse_root, root, p, tol=tol, max_iter=max_iter
    )
    y = z * root
    y[isolated] = (1 - alpha) * p[isolated]
    return PageRank(y / y.sum(), iterations, residual)


def _independent_subset(
    candidates: BoolArray | None, src: Int32Array, dst: Int32Array, isolated: BoolArray
) -> BoolArray:
    """The nodes without an edge, and the candidates with no self-loop and no edge to another
    candidate. O(n + m)."""
    if candidates is None:
        return isolated
    chosen = candidates & ~isolated
    clash = chosen[src] & chosen[dst]  # a self-loop clashes with itself
    chosen[src[clash]] = False  # one end of each clashing edge is enough
    return chosen | isolated


@dataclass(frozen=True)
class _SplitSystem:
    """I - alpha S with the nodes of an independent set E eliminated, the rest F kept.

    S is held as CSR blocks over local positions (S_EE is zero): `ff` (F x F) and `ef`
    (E x F; S_FE is its transpose). The reduced operator is C = I - alpha S_FF - alpha^2 S_FE
    S_EF, and z_E = rhs_E + alpha S_EF z_F. S_FE S_EF adds, for each eliminated node, the
    products of its entries two by two; for a node with one or two neighbours (most persons
    hold one or two roles) those few products are cheaper formed than applied, so C is applied
    as `own * x - alpha * near @ x - alpha^2 * far_t @ (far @ x)`: `own` and `near` hold those
    nodes' products (and S_FF), `far` the rows of the others."""

    kept: IntArray
    eliminated: IntArray
    ff: sp.csr_matrix
    ef: sp.csr_matrix
    alpha: float
    own: FloatArray
    near: sp.csr_matrix
    far: sp.csr_matrix
    far_t: sp.csr_matrix
    inverse_diagonal: FloatArray  # of C, the Jacobi preconditioner

    @classmethod
    def build(
        cls,
        n: int,
        src: Int32Array,
        dst: Int32Array,
        scaled: FloatArray,
        eliminated: BoolArray,
        alpha: float,
    ) -> _SplitSystem:
        """O(n + m)."""
        kept_nodes = np.flatnonzero(~eliminated)
        eliminated_nodes = np.flatnonzero(eliminated)
        kept_count, eliminated_count = len(kept_nodes), len(eliminated_nodes)
        position = np.empty(n, dtype=np.int32)
        position[kept_nodes] = np.arange(kept_count, dtype=np.int32)
        position[eliminated_nodes] = np.arange(eliminated_count, dtype=np.int32)
        src_out, dst_out = eliminated[src], eliminated[dst]
        inner = ~src_out & ~dst_out
        rows = np.concatenate([position[src[inner]], position[dst[inner]]])
        cols = np.concatenate([position[dst[inner]], position[src[inner]]])
        ff = _csr(
            np.concatenate([scaled[inner], scaled[inner]]), rows, cols, (kept_count, kept_count)
        )
        # an edge with one end eliminated: the eliminated end is the row of ef
        crosses = src_out | dst_out
        src_gone, src_c, dst_c = src_out[crosses], src[crosses], dst[crosses]
        gone_end = position[np.where(src_gone, src_c, dst_c)]
        kept_end = position[np.where(src_gone, dst_c, src_c)]
        # the constructor sums parallel relations, as the products below need
        ef = _csr(scaled[crosses], gone_end, kept_end, (eliminated_count, kept_count))
        folded, folded_squares, pairs = _fold_narrow_rows(ef)
        near = sp.csr_matrix(ff + alpha * pairs)
        far = _rows(ef, ~folded)
        squares = np.bincount(ef.indices, ef.data**2, minlength=kept_count)
        diagonal = 1 - alpha * ff.diagonal() - alpha**2 * squares
        return cls(
            kept=kept_nodes,
            eliminated=eliminated_nodes,
            ff=ff,
            ef=ef,
            alpha=alpha,
            own=1 - alpha**2 * folded_squares,
            near=near,
            far=far,
            far_t=sp.csr_matrix(far.T),
            inverse_diagonal=1.0 / diagonal,
        )

    def reduce(self, rhs: FloatArray) -> FloatArray:
        """The right-hand side of the reduced system."""
        reduced = rhs[self.kept] + self.alpha * (self.ef.T @ rhs[self.eliminated])
        return np.asarray(reduced, dtype=np.float64)

    def apply(self, x: FloatArray) -> FloatArray:
        """C x. Three sparse products, over fewer than m entries in all."""
        a = self.alpha
        applied = self.own * x - a * (self.near @ x)
        if self.far.nnz:
            applied -= (a * a) * (self.far_t @ (self.far @ x))
        return np.asarray(applied, dtype=np.float64)

    def expand(self, z_kept: FloatArray, rhs: FloatArray) -> FloatArray:
        """The solution over every node, from the reduced one."""
        z = np.empty(len(rhs))
        z[self.kept] = z_kept
        z[self.eliminated] = rhs[self.eliminated] + self.alpha * (self.ef @ z_kept)
        return z

    def product(self, v: FloatArray) -> FloatArray:
        """S v over every node."""
        out = np.empty(len(v))
        v_kept, v_gone = v[self.kept], v[self.eliminated]
        out[self.kept] = self.ff @ v_kept + self.ef.T @ v_gone
        out[self.eliminated] = self.ef @ v_kept
        return out


def _fold_narrow_rows(ef: sp.csr_matrix) -> tuple[BoolArray, FloatArray, sp.csr_matrix]:
    """The rows of ef with one or two entries (eliminated nodes with one or two neighbours),
    and their share of S_FE S_EF formed: the squares of their entries summed per column (the
    diagonal), and the product of the two entries of each two-entry row at both of its
    off-diagonal places. O(rows + entries)."""
    kept_count = ef.shape[1]
    width = np.diff(ef.indptr)
    folded = width <= 2
    squares = np.bincount(ef.indices, ef.data**2 * np.repeat(folded, width), minlength=kept_count)
    first = ef.indptr[:-1][width == 2]
    one, other = ef.indices[first], ef.indices[first + 1]
    product = ef.data[first] * ef.data[first + 1]
    pairs = _csr(
        np.concatenate([product, product]),
        np.concatenate([one, other]),
        np.concatenate([other, one]),
        (kept_count, kept_count),
    )
    return folded, np.asarray(squares, dtype=np.float64), pairs


def _rows(matrix: sp.csr_matrix, chosen: BoolArray) -> sp.csr_matrix:
    """The chosen rows of a CSR matrix, in order. O(rows + entries)."""
    width = np.diff(matrix.indptr)
    keep = np.repeat(chosen, width)
    indptr = np.concatenate([[0], np.cumsum(width[chosen])])
    return sp.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], indptr),
        shape=(int(chosen.sum()), matrix.shape[1]),
    )


def _csr(
    data: FloatArray, rows: Int32Array, cols: Int32Array, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR matrix from coordinates, duplicates summed. O(m + rows)."""
    return sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float64)


def _restart_distribution(personalisation: FloatArray, n: int) -> FloatArray | None:
    """The personalisation normalised to sum 1; None when it is all zeros (no seed)."""
    if personalisation.shape != (n,) or (personalisation < 0).any():
        raise ValueError("personalisation: expected one non-negative weight per node")
    total = float(personalisation.sum())
    return personalisation / total if total > 0 else None


def _dot(a: FloatArray, b: FloatArray) -> float:
    # einsum, not BLAS: OpenBLAS's threaded dot spins for milliseconds when the cores are busy
    return float(np.einsum("i,i->", a, b))


def _conjugate_gradients(
    system: _SplitSystem,
    rhs: FloatArray,
    root: FloatArray,
    p: FloatArray,
    *,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int, float]:
    """Solve (I - alpha S) z = rhs through the reduced system, by conjugate gradients
    preconditioned with its diagonal, stopping once the PageRank step test passes on the whole
    solution. O(m) each iteration."""
    reduced = system.reduce(rhs)
    z = np.zeros_like(reduced)
    r = reduced.copy()
    preconditioned = system.inverse_diagonal * r
    direction = preconditioned.copy()
    rz = _dot(r, preconditioned)
    estimate = _StepEstimate.of(system, rhs, root, p)
    check_below = tol  # the estimate at which the (costlier) exact step test is run
    if rz == 0:  # every seed is isolated: the walk only restarts
        z_full = system.expand(z, rhs)
        return z_full, 0, _step_change(system, z_full, root, p)
    for iteration in range(1, max_iter + 1):
        product = system.apply(direction)
        step = rz / _dot(direction, product)
        z += step * direction
        r -= step * product
        estimated = estimate(z, r)
        if estimated < check_below:
            z_full = system.expand(z, rhs)
            change = _step_change(system, z_full, root, p)
            if change < tol:
                return z_full, iteration, change
            check_below = tol * estimated / change  # the estimate ran low by change/estimated
        preconditioned = system.inverse_diagonal * r
        rz_next = _dot(r, preconditioned)
        if rz_next == 0:  # solved exactly
            z_full = system.expand(z, rhs)
            return z_full, iteration, _step_change(system, z_full, root, p)
        direction = preconditioned + (rz_next / rz) * direction
        rz = rz_next
    raise NoConvergence(f"personalised PageRank: no convergence to {tol} in {max_iter} iterations")


@dataclass(frozen=True)
class _StepEstimate:
    """The L1 step change of the PageRank that z stands for, estimated from the residual r of
    the reduced system in O(|F|) instead of a full step's O(m).

    The eliminated rows are solved exactly, so the walk's own residual is D^1/2 r on the kept
    rows and 0 elsewhere, and one step changes x = y / sum(y) by about its L1 norm over
    sum(y); sum(y) is linear in z (weights . z + offset). The estimate runs low while the
    restart mass is still off, and converges on the exact change as the solve does; the exact
    test always has the last word."""

    root_kept: FloatArray
    weights: FloatArray
    offset: float

    @classmethod
    def of(
        cls, system: _SplitSystem, rhs: FloatArray, root: FloatArray, p: FloatArray
    ) -> _StepEstimate:
        alpha = system.alpha
        root_kept, root_gone = root[system.kept], root[system.eliminated]
        # z_E = rhs_E + alpha S_EF z_F, and a party without a relation keeps (1 - alpha) p
        weights = root_kept + alpha * (system.ef.T @ root_gone)
        offset = _dot(root_gone, rhs[system.eliminated]) + (1 - alpha) * float(p[root == 0].sum())
        return cls(root_kept, np.asarray(weights, dtype=np.float64), offset)

    def __call__(self, z: FloatArray, r: FloatArray) -> float:
        total = self.offset + _dot(self.weights, z)
        return float(np.abs(self.root_kept * r).sum()) / total if total > 0 else float("inf")


def _step_change(system: _SplitSystem, z: FloatArray, root: FloatArray, p: FloatArray) -> float:
    """The L1 change one power-iteration step makes to the PageRank that z stands for. O(m)."""
    alpha = system.alpha
    isolated = root == 0
    y = z * root
    y[isolated] = (1 - alpha) * p[isolated]
    total = y.sum()
    x = y / total
    # x P as in power iteration: W D^-1 x = D^1/2 S D^-1/2 x, and D^-1/2 x = z / total (z is 0
    # where there is no relation); dangling (isolated) mass jumps by p
    stepped = system.product(z / total)
    stepped *= root
    stepped += x[isolated].sum() * p
    stepped *= alpha
    stepped += (1 - alpha) * p
    stepped -= x
    return float(np.abs(stepped).sum())


def triage_ranking(
    snapshot: Snapshot, profile: PolicyProfile, *, tol: float = DEFAULT_TOL
) -> PageRank:
    """Personalised PageRank of every party of `snapshot`: walks over the undirected graph
    weighted by the profile's relation weights (stake for ownership), restarting at the seeds
    in proportion to their base weights, damping `pagerank_alpha`. Conjugate gradients
    (`undirected_personalised_pagerank`) with the natural persons eliminated: O(n + m) to
    build, then O(n + m) for each of about 20 to 40 products at alpha 0.85."""
    return undirected_personalised_pagerank(
        snapshot.node_count,
        snapshot.rel_src,
        snapshot.rel_dst,
        relation_weights(snapshot, profile),
        seed_personalisation(snapshot, profile),
        alpha=profile.pagerank_alpha,
        tol=tol,
        # natural persons are linked only to legal persons: solved for in closed form
        eliminable=snapshot.labels == LABEL_CODE[Label.NATURAL_PERSON],
    )
