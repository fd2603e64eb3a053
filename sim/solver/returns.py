r"""Discretised lognormal shocks: risky gross returns and mean-one income multipliers.

Both use the **equiprobable** method: the support is cut into ``n`` intervals of probability
``1/n`` and each node is the conditional mean of its interval, so the discrete mean equals the
continuous mean exactly (this is also what econ-ark/HARK does for ``RiskyDstn`` and ``TranShkDstn``).
For ``X = exp(mu + s Z)`` and cut points ``z_{i-1} < z_i`` of the standard normal,

.. math::
    E[X \mid z_{i-1} < Z \le z_i] = e^{\mu + s^2/2}\,
        \frac{\Phi(z_i - s) - \Phi(z_{i-1} - s)}{\Phi(z_i) - \Phi(z_{i-1})} .

``std`` arguments are standard deviations of the **log** (the ``s`` above), like HARK's
``RiskyStd`` and ``TranShkStd``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

__all__ = [
    "lognormal_nodes",
    "mean_one_lognormal_nodes",
    "merton_share",
    "portfolio_limit_share",
]


def lognormal_nodes(mean: float, std: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equiprobable discretisation of a lognormal gross return with mean ``mean``.

    ``std`` is the standard deviation of ``log R`` (so ``log R ~ N(log(mean) - std^2/2, std^2)``).
    Returns ``(values (n,), weights (n,))``, values ascending, ``weights = 1/n``, and
    ``values @ weights == mean`` up to rounding.
    """
    if not np.isfinite(mean) or mean <= 0.0:
        raise ValueError(f"lognormal mean must be a positive finite number, got {mean}")
    if not np.isfinite(std) or std < 0.0:
        raise ValueError(f"lognormal std (of the log) must be >= 0, got {std}")
    if int(n) != n or n < 1:
        raise ValueError(f"number of nodes must be a positive integer, got {n}")
    n = int(n)
    if std == 0.0 or n == 1:
        return np.full(1, float(mean)), np.ones(1)
    z = norm.ppf(np.linspace(0.0, 1.0, n + 1))  # cut points, z[0] = -inf, z[n] = +inf
    # P(z_{i-1} - s < Z <= z_i - s) computed as a difference of CDFs; ndtr(+-inf) is exact.
    mass = np.diff(ndtr(z - std))
    values = mean * mass * n  # mean * E[e^{sZ - s^2/2} | bin] ; bins have probability 1/n
    return values, np.full(n, 1.0 / n)


def mean_one_lognormal_nodes(std: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equiprobable nodes of a mean-one lognormal multiplier (transitory income shock)."""
    return lognormal_nodes(1.0, std, n)


def portfolio_limit_share(values: np.ndarray, weights: np.ndarray, R_free: float, crra: float) -> float:
    r"""Risky share solving the one-period CRRA portfolio FOC on discrete returns, clipped to [0,1].

    .. math:: \sum_j w_j \,(R_f + s (R_j - R_f))^{-\gamma} (R_j - R_f) = 0 .

    With IID returns and no labour income this is the optimal share at every wealth level
    (Samuelson 1969, Merton 1969), hence the limit as wealth dominates human wealth. Solved by
    bisection (the FOC is strictly decreasing in ``s``).
    """
    R = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    excess = R - R_free

    def foc(s: float) -> float:
        return float(np.sum(w * excess * (R_free + s * excess) ** (-crra)))

    if foc(0.0) <= 0.0:
        return 0.0
    if foc(1.0) >= 0.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if foc(mid) > 0.0 else (lo, mid)
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def merton_share(mean: float, std: float, R_free: float, crra: float) -> float:
    r"""Merton's lognormal share in log terms: ``(log E[R] - log R_f) / (gamma * std^2)``.

    This is the continuous-time (or small-period) limit; the exact discrete-period optimum with
    lognormal returns differs from it by terms of order ``std^2``.
    """
    return (np.log(mean) - np.log(R_free)) / (crra * std**2)
