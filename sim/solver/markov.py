"""Discrete Markov chains for the household's exogenous state.

* :func:`tauchen` discretises a Gaussian AR(1) (Tauchen 1986), the construction used for the
  Aiyagari (1994) validation;
* :func:`stationary_distribution` returns the invariant distribution of a row-stochastic matrix;
* :func:`product_chain` combines independent chains (e.g. productivity x employment) into one;
* :func:`with_high_state` adds a rarely entered, high-productivity state (Castaneda, Diaz-Gimenez
  & Rios-Rull 2003) to a chain.

Conventions: ``P[i, j] = Prob(s' = j | s = i)``; rows sum to one.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["tauchen", "stationary_distribution", "product_chain", "check_transition", "with_high_state"]


def tauchen(n: int, rho: float, sigma: float, m: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Tauchen (1986) discretisation of the AR(1) ``y' = rho*y + e``, ``e ~ N(0, sigma_e^2)``.

    ``sigma`` is the **stationary** standard deviation of ``y`` (Aiyagari's convention), so the
    innovation has ``sigma_e = sigma * sqrt(1 - rho^2)``. The grid is ``n`` evenly spaced points on
    ``[-m*sigma, m*sigma]`` with step ``d``; the transition probabilities integrate the conditional
    normal density over the cells around each point, the two end cells being open:

    .. math::
        P_{ij} = \Phi\Big(\frac{y_j + d/2 - \rho y_i}{\sigma_e}\Big)
               - \Phi\Big(\frac{y_j - d/2 - \rho y_i}{\sigma_e}\Big),
        \qquad y_0 - d/2 \to -\infty,\; y_{n-1} + d/2 \to +\infty .

    Returns ``(log_grid (n,), P (n, n))``. With ``rho = 0`` every row is the same (IID draws).
    """
    if n < 1:
        raise ValueError(f"tauchen: n must be >= 1, got {n}")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"tauchen: rho must lie in (-1, 1), got {rho}")
    if sigma < 0.0 or m <= 0.0:
        raise ValueError(f"tauchen: need sigma >= 0 and m > 0, got sigma={sigma}, m={m}")
    if n == 1 or sigma == 0.0:
        return np.zeros(n), np.full((n, n), 1.0 / n)
    sigma_e = sigma * np.sqrt(1.0 - rho**2)
    y = np.linspace(-m * sigma, m * sigma, n)
    half = 0.5 * (y[1] - y[0])
    upper = (y[None, :] + half - rho * y[:, None]) / sigma_e
    lower = (y[None, :] - half - rho * y[:, None]) / sigma_e
    upper[:, -1] = np.inf
    lower[:, 0] = -np.inf
    # Differences of survival functions are more accurate in the upper tail, of CDFs in the lower.
    P = np.maximum(norm.cdf(upper) - norm.cdf(lower), norm.sf(lower) - norm.sf(upper))
    return y, P / P.sum(axis=1, keepdims=True)


def check_transition(P: np.ndarray, n: int | None = None, name: str = "transition") -> np.ndarray:
    """Validate a row-stochastic matrix; return it as a float array or raise ``ValueError``."""
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{name} must be a square (S, S) matrix, got shape {P.shape}")
    if n is not None and P.shape[0] != n:
        raise ValueError(f"{name} is {P.shape[0]}x{P.shape[0]} but there are {n} income states")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if np.any(P < 0.0):
        raise ValueError(f"{name} has negative entries (min {P.min():.3g}); it must be row-stochastic")
    worst = np.max(np.abs(P.sum(axis=1) - 1.0))
    if worst > 1e-10:
        raise ValueError(f"{name} rows must sum to 1 (largest deviation {worst:.3g}); it is not stochastic")
    return P


def stationary_distribution(P: np.ndarray) -> np.ndarray:
    r"""Invariant distribution ``pi`` with ``pi P = pi``, ``sum(pi) = 1``.

    Solved as the linear system ``(P^T - I) pi = 0`` with one equation replaced by the
    normalisation; for a chain with one recurrent class this has a unique solution (transient
    states get zero mass). Falls back to power iteration if the direct solve is ill-conditioned.
    """
    P = check_transition(P)
    n = P.shape[0]
    A = P.T - np.eye(n)
    A[-1, :] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    try:
        pi = np.linalg.solve(A, rhs)
        ok = np.all(pi > -1e-12) and np.allclose(pi @ P, pi, atol=1e-12)
    except np.linalg.LinAlgError:
        ok = False
    if not ok:  # several recurrent classes or near-singular: average the power iteration
        pi = np.full(n, 1.0 / n)
        for _ in range(100_000):
            new = 0.5 * (pi + pi @ P)  # lazy chain: same invariant law, no periodicity
            if np.max(np.abs(new - pi)) < 1e-15:
                break
            pi = new
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def product_chain(*chains: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Combine independent chains ``(values_k, P_k)`` into one chain over the product space.

    The combined state index runs over the last chain fastest (``np.kron`` order). Returns
    ``(values (S, K), P (S, S))`` where column k holds chain k's value in each combined state.
    """
    values = [np.asarray(v, dtype=float) for v, _ in chains]
    mats = [check_transition(P, len(v)) for v, P in chains]
    P = mats[0]
    for M in mats[1:]:
        P = np.kron(P, M)
    grids = np.meshgrid(*values, indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1), P


def with_high_state(P: np.ndarray, entry: float, exit: float) -> np.ndarray:
    """The chain ``P`` (n states) with a high state appended as state n, an earnings tail in the
    manner of Castaneda, Diaz-Gimenez & Rios-Rull (2003, JPE 111(4)): from every ordinary state
    the household enters it with probability ``entry`` per period (and otherwise moves by ``P``);
    it leaves with probability ``exit``, to the ordinary states in proportion to ``P``'s stationary
    law pi:

        Q[i, j] = (1 - entry) P[i, j],  Q[i, n] = entry,   Q[n, j] = exit pi_j,  Q[n, n] = 1 - exit.

    Because entry does not depend on the state, the stationary law is closed-form:
    ((1 - h) pi, h) with h = entry / (entry + exit) (inflow entry (1 - h) = outflow exit h, and
    the ordinary states keep pi's proportions). CDG's high state is entered from the state below
    it only; entry from every state keeps the closed form and lets the chain below stay Tauchen's.
    """
    P = check_transition(P)
    if not (0.0 < entry < 1.0 and 0.0 < exit <= 1.0):
        raise ValueError(f"high state: entry must be in (0, 1) and exit in (0, 1], got {entry}, {exit}")
    n = P.shape[0]
    Q = np.zeros((n + 1, n + 1))
    Q[:n, :n] = (1.0 - entry) * P
    Q[:n, n] = entry
    Q[n, :n] = exit * stationary_distribution(P)
    Q[n, n] = 1.0 - exit
    return Q
