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
  Products and vector updates are shared out by rows among threads. `triage_ranking` uses it
  so.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
# fewer entries of the system than this per thread, and handing work over costs more than it saves
ENTRIES_PER_THREAD = 250_000


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
    threads: int | None = None,
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

    `threads` share each product and vector update by runs of rows (scipy's sparse products
    and numpy's loops let go of the GIL); by default one per CPU this process may use, but no
    more than one per `ENTRIES_PER_THREAD` entries of the system, where handing work over costs
    more than it saves. Every number of threads gives the same answer up to rounding.

    O(n + m) to build the blocks, then O(n + m) per iteration, about
    sqrt((1 + alpha) / (1 - alpha)) * ln(2 / tol) / 2 iterations at most (a party in a
    component without a seed stays at exactly 0). Raises ValueError naming `personalisation`
    as `personalised_pagerank` does, `eliminable` when it has the wrong shape and `threads`
    when it is below 1; NoConvergence after `max_iter` iterations.
    """
    p = _restart_distribution(personalisation, n)
    if eliminable is not None and eliminable.shape != (n,):
        raise ValueError("eliminable: expected one flag per node")
    if threads is not None and threads < 1:
        raise ValueError("threads: expected at least 1")
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
    rhs = (1 - alpha) * p * inverse_root
    with _Workers(threads or _default_threads(2 * len(src))) as workers:
        z, iterations, residual = _conjugate_gradients(
            _Solve.of(system, workers, rhs, root, p), tol=tol, max_iter=max_iter
        )
    y = z * root
    y[isolated] = (1 - alpha) * p[isolated]
    return PageRank(y / y.sum(), iterations, residual)


def _default_threads(entries: int) -> int:
    """One thread per CPU this process may use, but no more than one per
    `ENTRIES_PER_THREAD` entries of the system."""
    if hasattr(os, "sched_getaffinity"):
        available = len(os.sched_getaffinity(0))
    else:  # pragma: no cover (macOS, Windows)
        available = os.cpu_count() or 1
    return max(1, min(available, entries // ENTRIES_PER_THREAD))


class _Workers:
    """Runs a task once per part, side by side: part 0 on the calling thread, the others on a
    pool of threads (numpy's and scipy's loops let go of the GIL)."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self._pool = ThreadPoolExecutor(parts - 1) if parts > 1 else None

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def each(self, task: Callable[..., Sequence[float]], *args: float) -> FloatArray:
        """task(part, *args) for every part; the sums of what they return."""
        pool = self._pool
        pending = [pool.submit(task, part, *args) for part in range(1, self.parts)] if pool else []
        results = [task(0, *args), *(future.result() for future in pending)]
        return np.asarray(np.sum(results, axis=0), dtype=np.float64)


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

    S is held over local positions; S_EE is zero and `ef` is S_EF (E x F; S_FE is its
    transpose). The reduced operator is C = I - alpha S_FF - alpha^2 S_FE S_EF, and
    z_E = rhs_E + alpha S_EF z_F. S_FE S_EF adds, for each eliminated node, the products of its
    entries two by two; for a node with one or two relations (most persons hold one or two
    roles) those few products are cheaper formed than applied. So C x = own * x - joined @
    [x; far @ x]: `own` is the identity less the formed squares, `far` the rows of ef of the
    nodes with three or more relations (numbered last, so a run of ef's rows), and `joined` =
    [alpha S_FF + alpha^2 (formed pairs) | alpha^2 far^T], one matrix so that a product passes
    over the rows of F once."""

    kept: IntArray
    eliminated: IntArray
    ef: sp.csr_matrix
    alpha: float
    own: FloatArray
    far: sp.csr_matrix
    joined: sp.csr_matrix
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
        src_out, dst_out = eliminated[src], eliminated[dst]
        crosses = src_out | dst_out  # an independent set: never both ends
        inner = ~crosses
        src_gone, src_c, dst_c = src_out[crosses], src[crosses], dst[crosses]
        gone_node = np.where(src_gone, src_c, dst_c)
        # eliminated nodes with one or two relations first: their rows of ef are formed, and
        # the rest (`far`) is then a run of rows
        relations = np.bincount(gone_node, minlength=n)
        narrow_nodes = np.flatnonzero(eliminated & (relations <= 2))
        eliminated_nodes = np.concatenate([narrow_nodes, np.flatnonzero(relations > 2)])
        kept_nodes = np.flatnonzero(~eliminated)
        kept_count, eliminated_count = len(kept_nodes), len(eliminated_nodes)
        position = np.empty(n, dtype=np.int32)
        position[kept_nodes] = np.arange(kept_count, dtype=np.int32)
        position[eliminated_nodes] = np.arange(eliminated_count, dtype=np.int32)
        # an edge with one end eliminated: the eliminated end is the row of ef
        gone_end = position[gone_node]
        kept_end = position[np.where(src_gone, dst_c, src_c)]
        crossing = scaled[crosses]
        # the constructor sums parallel relations, as the formed products below need
        ef = _csr(crossing, gone_end, kept_end, (eliminated_count, kept_count))
        first_far = len(narrow_nodes)
        own_squares, pairs = _fold_narrow_rows(ef, first_far)
        far = _row_run(ef, first_far)
        to_far = gone_end >= first_far
        one, other = position[src[inner]], position[dst[inner]]
        inner_data = alpha * scaled[inner]
        square = alpha * alpha
        joined = _csr(
            np.concatenate(
                [inner_data, inner_data, square * pairs.data, square * crossing[to_far]]
            ),
            np.concatenate([one, other, pairs.row, kept_end[to_far]]),
            np.concatenate([other, one, pairs.col, gone_end[to_far] + (kept_count - first_far)]),
            (kept_count, kept_count + far.shape[0]),
        )
        own = 1 - square * own_squares
        far_squares = np.bincount(far.indices, far.data**2, minlength=kept_count)
        diagonal = own - joined.diagonal() - square * far_squares
        return cls(
            kept=kept_nodes,
            eliminated=eliminated_nodes,
            ef=ef,
            alpha=alpha,
            own=own,
            far=far,
            joined=joined,
            inverse_diagonal=1.0 / diagonal,
        )

    def reduce(self, rhs: FloatArray) -> FloatArray:
        """The right-hand side of the reduced system."""
        reduced = rhs[self.kept] + self.alpha * (self.ef.T @ rhs[self.eliminated])
        return np.asarray(reduced, dtype=np.float64)


def _fold_narrow_rows(ef: sp.csr_matrix, rows: int) -> tuple[FloatArray, sp.coo_matrix]:
    """The share of S_FE S_EF of the first `rows` rows of ef (eliminated nodes with one or two
    relations) formed: the squares of their entries summed per column (the diagonal), and the
    product of the two entries of each two-entry row at both of its off-diagonal places (as
    coordinates). O(rows)."""
    kept_count = ef.shape[1]
    starts = ef.indptr[:rows]
    width = ef.indptr[1 : rows + 1] - starts
    single, first = starts[width == 1], starts[width == 2]
    one, other = ef.indices[first], ef.indices[first + 1]
    one_data, other_data = ef.data[first], ef.data[first + 1]
    squares = np.bincount(
        np.concatenate([ef.indices[single], one, other]),
        np.concatenate([ef.data[single] ** 2, one_data**2, other_data**2]),
        minlength=kept_count,
    )
    product = one_data * other_data
    pairs = sp.coo_matrix(
        (
            np.concatenate([product, product]),
            (np.concatenate([one, other]), np.concatenate([other, one])),
        ),
        shape=(kept_count, kept_count),
    )
    return np.asarray(squares, dtype=np.float64), pairs


def _row_run(matrix: sp.csr_matrix, start: int, stop: int | None = None) -> sp.csr_matrix:
    """Rows start to stop of a CSR matrix, as a view of its arrays (no copy). O(rows)."""
    stop = matrix.shape[0] if stop is None else stop
    indptr = matrix.indptr[start : stop + 1]
    first, last = int(indptr[0]), int(indptr[-1])
    return sp.csr_matrix(
        (matrix.data[first:last], matrix.indices[first:last], indptr - first),
        shape=(stop - start, matrix.shape[1]),
    )


def _csr(
    data: FloatArray, rows: Int32Array, cols: Int32Array, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR matrix from coordinates, duplicates summed. O(m + rows)."""
    return sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float64)


def _row_parts(matrix: sp.csr_matrix, parts: int) -> list[slice]:
    """`parts` runs of consecutive rows holding about as many entries each. O(parts log rows)."""
    indptr = matrix.indptr
    targets = indptr[-1] * np.arange(1, parts) / parts
    cuts = [0, *np.searchsorted(indptr, targets).tolist(), matrix.shape[0]]
    return [slice(lo, max(lo, hi)) for lo, hi in itertools.pairwise(cuts)]


def _restart_distribution(personalisation: FloatArray, n: int) -> FloatArray | None:
    """The personalisation normalised to sum 1; None when it is all zeros (no seed)."""
    if personalisation.shape != (n,) or (personalisation < 0).any():
        raise ValueError("personalisation: expected one non-negative weight per node")
    total = float(personalisation.sum())
    return personalisation / total if total > 0 else None


def _dot(a: FloatArray, b: FloatArray) -> float:
    # einsum, not BLAS: OpenBLAS's threaded dot spins for milliseconds when the cores are busy
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True)
class _Solve:
    """The reduced system as conjugate gradients use it, shared out by rows among `workers`:
    the product with C, the PageRank step change that a reduced solution stands for, and the
    whole solution from it.

    The step change, exactly: the eliminated rows are solved exactly, so with res the
    residual of the reduced system and x = y / sum(y), one power-iteration step changes x by
    D_F^1/2 res / sum(y) + c p, where c = (1 - alpha) (1 - 1 / sum(y)) + alpha (1 - alpha)
    (the restart mass of the parties without a relation) / sum(y) is 0 at the fixed point
    (`restart_term`); sum(y) is linear in z_F (`weights` . z_F + `offset`). Conjugate
    gradients update a residual as they go, which gives an estimate in O(|F|); the exact change
    recomputes the residual with one product."""

    system: _SplitSystem
    workers: _Workers
    rows: list[slice]  # of F (and of `joined`), one run per part
    far_rows: list[slice]  # of `far`, one run per part
    ef_rows: list[slice]  # of E (and of `ef`), one run per part
    joined_parts: list[sp.csr_matrix]
    far_parts: list[sp.csr_matrix]
    ef_parts: list[sp.csr_matrix]
    reduced: FloatArray  # the right-hand side of the reduced system
    rhs: FloatArray  # of the whole system
    root_kept: FloatArray
    p_kept: FloatArray
    p_eliminated: float  # the restart mass of the eliminated nodes (those without a relation too)
    p_isolated: float
    weights: FloatArray
    offset: float

    @classmethod
    def of(
        cls,
        system: _SplitSystem,
        workers: _Workers,
        rhs: FloatArray,
        root: FloatArray,
        p: FloatArray,
    ) -> _Solve:
        alpha = system.alpha
        rows = _row_parts(system.joined, workers.parts)
        far_rows = _row_parts(system.far, workers.parts)
        ef_rows = _row_parts(system.ef, workers.parts)
        root_kept, root_gone = root[system.kept], root[system.eliminated]
        # z_E = rhs_E + alpha S_EF z_F, and a party without a relation keeps (1 - alpha) p
        weights = root_kept + alpha * (system.ef.T @ root_gone)
        p_isolated = float(p[root == 0].sum())
        offset = _dot(root_gone, rhs[system.eliminated]) + (1 - alpha) * p_isolated
        return cls(
            system=system,
            workers=workers,
            rows=rows,
            far_rows=far_rows,
            ef_rows=ef_rows,
            joined_parts=[_row_run(system.joined, part.start, part.stop) for part in rows],
            far_parts=[_row_run(system.far, part.start, part.stop) for part in far_rows],
            ef_parts=[_row_run(system.ef, part.start, part.stop) for part in ef_rows],
            reduced=system.reduce(rhs),
            rhs=rhs,
            root_kept=root_kept,
            p_kept=p[system.kept],
            p_eliminated=float(p[system.eliminated].sum()),
            p_isolated=p_isolated,
            weights=np.asarray(weights, dtype=np.float64),
            offset=offset,
        )

    @property
    def size(self) -> int:
        return len(self.reduced)

    def stacked(self) -> FloatArray:
        """A vector [x; far @ x], as `apply` takes it."""
        return np.zeros(self.size + self.system.far.shape[0])

    def apply(self, stacked: FloatArray, out: FloatArray) -> float:
        """out = C x for x = stacked[:|F|] (stacked[|F|:] receives far @ x); returns x . C x."""
        size, own = self.size, self.system.own
        x = stacked[:size]

        def far_part(part: int) -> tuple[float]:
            rows = self.far_rows[part]
            stacked[size + rows.start : size + rows.stop] = self.far_parts[part] @ x
            return (0.0,)

        def joined_part(part: int) -> tuple[float]:
            rows = self.rows[part]
            out[rows] = own[rows] * x[rows] - self.joined_parts[part] @ stacked
            return (_dot(x[rows], out[rows]),)

        self.workers.each(far_part)
        return float(self.workers.each(joined_part)[0])

    def restart_term(self, total: float) -> float:
        """c, the share of p in the step change."""
        alpha = self.system.alpha
        return (1 - alpha) * (1 - 1 / total) + alpha * (1 - alpha) * self.p_isolated / total

    def estimated_step_change(self, scaled_residual: float, total: float) -> float:
        """The step change from the L1 norm of D_F^1/2 r, r the updated residual, and sum(y):
        exact on the eliminated rows, and on the kept ones less their share of c p."""
        if total <= 0:
            return float("inf")
        return scaled_residual / total + abs(self.restart_term(total)) * self.p_eliminated

    def exact_step_change(self, z: FloatArray, total: float) -> float:
        """The step change with the residual recomputed from z: one product."""
        if total <= 0:
            return float("inf")
        stacked, applied = self.stacked(), np.empty(self.size)
        stacked[: self.size] = z
        self.apply(stacked, applied)
        c = self.restart_term(total)

        def part_change(part: int) -> tuple[float]:
            rows = self.rows[part]
            change = self.reduced[rows] - applied[rows]
            change *= self.root_kept[rows]
            change /= total
            change += c * self.p_kept[rows]
            return (float(np.abs(change).sum()),)

        return float(self.workers.each(part_change)[0]) + abs(c) * self.p_eliminated

    def expand(self, z_kept: FloatArray) -> FloatArray:
        """The solution over every node, from the reduced one: z_E = rhs_E + alpha S_EF z_F."""
        z = np.empty(len(self.rhs))
        z[self.system.kept] = z_kept
        eliminated, alpha = self.system.eliminated, self.system.alpha

        def part_expand(part: int) -> tuple[float]:
            nodes = eliminated[self.ef_rows[part]]
            z[nodes] = self.rhs[nodes] + alpha * (self.ef_parts[part] @ z_kept)
            return (0.0,)

        self.workers.each(part_expand)
        return z


@dataclass(frozen=True)
class _Vectors:
    """The vectors of conjugate gradients on the reduced system, updated run of rows by run of
    rows (`rows`, as `_Solve` shares them out)."""

    z: FloatArray
    r: FloatArray
    preconditioned: FloatArray
    stacked: FloatArray  # [direction; far @ direction], as `_Solve.apply` takes it
    product: FloatArray  # C direction
    inverse_diagonal: FloatArray
    weights: FloatArray  # sum(y) = weights . z + offset
    root_kept: FloatArray
    rows: list[slice]

    @classmethod
    def start(cls, solve: _Solve) -> _Vectors:
        size = solve.size
        vectors = cls(
            z=np.zeros(size),
            r=solve.reduced.copy(),
            preconditioned=solve.system.inverse_diagonal * solve.reduced,
            stacked=solve.stacked(),
            product=np.empty(size),
            inverse_diagonal=solve.system.inverse_diagonal,
            weights=solve.weights,
            root_kept=solve.root_kept,
            rows=solve.rows,
        )
        vectors.direction[:] = vectors.preconditioned
        return vectors

    @property
    def direction(self) -> FloatArray:
        return self.stacked[: len(self.z)]

    def advance(self, part: int, step: float) -> tuple[float, float, float]:
        """z += step d, r -= step C d, and the preconditioned r. Returns r . M^-1 r,
        weights . z and the L1 norm of D_F^1/2 r, over this part's rows."""
        here = self.rows[part]
        z, r, preconditioned = self.z[here], self.r[here], self.preconditioned[here]
        z += step * self.direction[here]
        r -= step * self.product[here]
        np.multiply(self.inverse_diagonal[here], r, out=preconditioned)
        scaled_residual = float(np.abs(self.root_kept[here] * r).sum())
        return _dot(r, preconditioned), _dot(self.weights[here], z), scaled_residual

    def turn(self, part: int, beta: float) -> tuple[float]:
        """d = M^-1 r + beta d."""
        here = self.rows[part]
        direction = self.direction[here]
        direction *= beta
        direction += self.preconditioned[here]
        return (0.0,)


def _conjugate_gradients(
    solve: _Solve, *, tol: float, max_iter: int
) -> tuple[FloatArray, int, float]:
    """Solve (I - alpha S) z = rhs through the reduced system, by conjugate gradients
    preconditioned with its diagonal, stopping once the PageRank step change is below `tol`.
    Each iteration is one product with C and a few vector updates, all shared out by rows.
    O(m) each iteration."""
    v = _Vectors.start(solve)
    rz = _dot(v.r, v.preconditioned)
    if rz == 0:  # no seed reaches a kept node: z = 0 is exact
        return solve.expand(v.z), 0, solve.exact_step_change(v.z, solve.offset)
    check_below = tol  # the estimate at which the (costlier) exact step test is run
    for iteration in range(1, max_iter + 1):
        step = rz / solve.apply(v.stacked, v.product)
        rz_next, weighted, scaled_residual = solve.workers.each(v.advance, step)
        total = solve.offset + weighted
        if rz_next == 0:  # solved exactly
            return solve.expand(v.z), iteration, solve.exact_step_change(v.z, total)
        estimated = solve.estimated_step_change(scaled_residual, total)
        if estimated < check_below:
            change = solve.exact_step_change(v.z, total)
            if change < tol:
                return solve.expand(v.z), iteration, change
            check_below = tol * estimated / change  # the estimate ran low by change/estimated
        solve.workers.each(v.turn, rz_next / rz)
        rz = rz_next
    raise NoConvergence(f"personalised PageRank: no convergence to {tol} in {max_iter} iterations")


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
