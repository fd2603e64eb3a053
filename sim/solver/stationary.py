r"""Stationary distribution of a solved household problem (Young 2010 histogram method).

The state at the start of a period is ``(s, x)`` with ``x = \mathcal{R} a_{-1}`` the *bank
balance* (wealth after returns, before income). On a fine grid of ``x``, one period maps

.. math:: (s, x_i) \to m = x_i + y_s\theta_k \to a = m - p\,c(s, m),\ \varsigma(s, m)
          \to x' = (R_f + \varsigma (R_n - R_f))\, a ,\quad s' \sim P_{s\cdot},

and ``x'`` is split between its two neighbouring grid points with weights that preserve its
mean (Young's lottery). That gives a sparse Markov matrix ``T`` on ``S x N`` points; its
invariant vector ``D = T^T D``, ``sum D = 1`` is found by a Krylov solve polished by power iteration
(``T^T`` applied in its two factors: the lottery, then the state's move).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .interp import interp_rows
from .policy import PolicySolution
from .problem import HouseholdProblem, asset_grid

__all__ = ["StationaryDistribution", "stationary_wealth", "transition_matrix"]


@dataclass(frozen=True, eq=False)
class StationaryDistribution:
    """Invariant joint law of the discrete state and bank balances.

    ``grid (N,)``: bank balances ``x`` (goods); ``mass (S, N)``: probabilities summing to one.
    ``mean_assets`` is ``E[a]``, end-of-period assets (capital supplied, goods per household);
    ``mean_consumption`` is ``E[c]`` (units of consumption); ``mass_at_top`` is the probability on
    the last grid point (should be ~0, else raise ``x_max``).
    """

    grid: np.ndarray
    mass: np.ndarray
    mean_assets: float
    mean_consumption: float
    mean_income: float
    mass_at_top: float

    @property
    def state_probabilities(self) -> np.ndarray:
        return self.mass.sum(axis=1)


def _lottery(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower neighbour index and its weight, so that ``w*g[i] + (1-w)*g[i+1] = x`` (clipped)."""
    x = np.clip(x, grid[0], grid[-1])
    i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    w = (grid[i + 1] - x) / (grid[i + 1] - grid[i])
    return i, w


def _policies(problem: HouseholdProblem, sol: PolicySolution, grid: np.ndarray):
    """End-of-period assets, risky shares and consumption at every (s, x_i, theta_k)."""
    theta, _ = problem.shocks
    S, N, K = problem.n_states, grid.size, theta.size
    m = grid[None, :, None] + problem.income[:, None, None] * theta[None, None, :]  # (S, N, K)
    flat = m.reshape(S, -1)
    # Each state has its own m-points: evaluate state s's policy at row s only.
    c = interp_rows(sol.m, sol.c, flat)
    c = np.where(flat < sol.m[:, :1], 0.0, c)
    share = interp_rows(sol.m, sol.share, np.clip(flat, sol.m[:, :1], sol.m[:, -1:]))
    a = np.maximum(flat - problem.price * c, problem.a_min)
    share = np.where(a > 0.0, share, 0.0)
    return a.reshape(S, N, K), share.reshape(S, N, K), c.reshape(S, N, K)


def lottery_matrix(problem: HouseholdProblem, sol: PolicySolution, grid: np.ndarray) -> sp.csr_matrix:
    """Sparse ``L[(s,i), (s,j)] = Prob(x' = grid_j | s, x_i)`` before the state moves: each row's
    mass stays in its own state's block (the next state is drawn after, independently)."""
    theta, pi = problem.shocks
    R, w = problem.returns
    S, N = problem.n_states, grid.size
    a, share, _ = _policies(problem, sol, grid)
    Rp = problem.R_free + share[..., None] * (R - problem.R_free)  # (S, N, K, n)
    i, lam = _lottery(grid, Rp * a[..., None])
    prob = pi[None, None, :, None] * w[None, None, None, :]
    rows = (np.arange(S)[:, None] * N + np.arange(N)[None, :])[:, :, None, None]
    rows = np.broadcast_to(rows, i.shape)
    cols = np.arange(S)[:, None, None, None] * N + i
    data = np.concatenate([(prob * lam).ravel(), (prob * (1.0 - lam)).ravel()])
    return sp.csr_matrix(
        (data, (np.concatenate([rows.ravel()] * 2), np.concatenate([cols.ravel(), cols.ravel() + 1]))),
        shape=(S * N, S * N),
    )


def transition_matrix(problem: HouseholdProblem, sol: PolicySolution, grid: np.ndarray) -> sp.csr_matrix:
    """Sparse ``T[(s,i), (s',j)] = P[s,s'] * Prob(x' = grid_j | s, x_i)`` (row-stochastic):
    ``T = L (P kron I)``, ``L`` the :func:`lottery_matrix`."""
    L = lottery_matrix(problem, sol, grid)
    return (L @ sp.kron(sp.csr_matrix(problem.transition), sp.identity(grid.size), format="csr")).tocsr()


def _invariant(L: sp.csr_matrix, P: np.ndarray, initial: np.ndarray | None = None, tol: float = 1e-13) -> np.ndarray:
    """Invariant vector ``D = T^T D``, ``sum D = 1`` of ``T = L (P kron I)`` (row-stochastic).

    ``T^T D`` is applied in its two factors, ``P^T`` times ``L^T D`` as an (S, N) array: ``T``
    itself has S times the nonzeros of ``L`` (every point reaches every next state), 20x the work
    of a product. Solves the nonsingular system ``(I - T^T + e 1^T) D = e`` (``e`` uniform; its
    solution has ``sum D = 1`` and is invariant) by BiCGSTAB, then polishes with power iteration,
    which also serves as the fallback. Plain power iteration mixes slowly when ``beta R`` is close
    to one (wealth diffuses over a wide range) and sparse LU fills in badly, hence the Krylov solver.
    """
    n, S = L.shape[0], P.shape[0]
    LT, PT = L.T.tocsr(), np.ascontiguousarray(P.T)

    def step(x):  # T^T x
        return (PT @ (LT @ x).reshape(S, n // S)).ravel()

    e = np.full(n, 1.0 / n)
    A = spla.LinearOperator((n, n), matvec=lambda x: x - step(x) + e * x.sum(), dtype=float)
    x0 = e if initial is None else initial / initial.sum()
    D, info = spla.bicgstab(A, e, x0=x0, rtol=1e-13, atol=0.0, maxiter=20 * n)
    if info != 0 or not np.all(np.isfinite(D)) or D.min() < -1e-8 * D.max():
        D = x0  # fall back to plain power iteration from the starting point
    D = np.clip(D, 0.0, None)
    D /= D.sum()
    for _ in range(1_000_000):
        new = step(D)
        if np.abs(new - D).max() < tol:
            return new / new.sum()
        D = new
    raise RuntimeError("stationary distribution: iteration did not converge")


def stationary_wealth(
    problem: HouseholdProblem,
    solution: PolicySolution,
    n_points: int = 1000,
    x_max: float | None = None,
    initial: StationaryDistribution | None = None,
) -> StationaryDistribution:
    """Invariant distribution on ``n_points`` bank-balance points per state (Young's method).

    ``x_max`` defaults to the largest return node times the problem's ``a_max``. ``initial`` (a
    distribution for nearby parameters with the same number of points) warm-starts the iteration.
    """
    if problem.beta * problem.R_free >= 1.0:
        raise ValueError(f"beta*R_free = {problem.beta * problem.R_free:.6g} >= 1: households are too patient; "
                         "assets grow without bound and there is no stationary distribution")
    R, _ = problem.returns
    lo = min(problem.R_free * problem.a_min, 0.0)
    hi = x_max if x_max is not None else float(R.max()) * problem.a_max
    grid = asset_grid(lo, hi, n_points)
    if problem.borrowing_limit > 0.0:  # keep x = 0 (no assets) as an exact node
        grid = np.union1d(grid, [0.0])
    L = lottery_matrix(problem, solution, grid)
    start = initial.mass.ravel() if initial is not None and initial.mass.size == L.shape[0] else None
    D = _invariant(L, problem.transition, start).reshape(problem.n_states, grid.size)
    a, _, c = _policies(problem, solution, grid)
    _, pi = problem.shocks
    return StationaryDistribution(
        grid=grid,
        mass=D,
        mean_assets=float(np.sum(D * (a @ pi))),
        mean_consumption=float(np.sum(D * (c @ pi))),
        mean_income=float(D.sum(axis=1) @ problem.income),
        mass_at_top=float(D[:, -1].sum()),
    )
