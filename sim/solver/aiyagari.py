r"""Aiyagari (1994) stationary general equilibrium with the project's household solver.

Firm: Cobb-Douglas ``Y = K^alpha L^(1-alpha)``; factor prices from the first-order conditions

.. math:: r = \alpha (K/L)^{\alpha-1} - \delta, \qquad w = (1-\alpha)(K/L)^{\alpha}.

Households: the problem of :mod:`sim.solver.household` with ``R_free = 1 + r``, income
``w * l_s``, borrowing limit 0 and no risky asset. Labour ``l_s = exp(y_s) / E[exp(y)]`` where
``y`` is :func:`~sim.solver.markov.tauchen` (7 states, ``m = 3``) of the AR(1) with persistence
``rho`` and stationary std ``sigma``; labour is normalised so that aggregate labour ``L = 1``
(with a zero borrowing limit the problem is homogeneous in income, so the normalisation does
not change ``r``). Capital supply ``K_s(r)`` is mean end-of-period assets in the stationary
distribution (Young's method); capital demand is ``K_d(r) = L (\alpha/(r+\delta))^{1/(1-\alpha)}``.
The equilibrium ``r`` solves ``K_s(r) = K_d(r)`` by Brent's method on ``r``, each household solve
warm-started from the previous one.

Rates are returned as **fractions** (0.04 = 4%); the table helpers print percent like the paper.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import brentq

from .aiyagari_table import ALPHA, BETA, DELTA, TABLE_II, cells
from .household import solve_household
from .markov import stationary_distribution, tauchen
from .policy import PolicySolution
from .problem import HouseholdProblem
from .stationary import stationary_wealth

__all__ = [
    "FAST",
    "FULL",
    "AiyagariSettings",
    "AiyagariEquilibrium",
    "labour_chain",
    "firm_prices",
    "capital_supply",
    "equilibrium",
    "equilibrium_rate",
    "reproduce_table",
    "format_table",
]


@dataclass(frozen=True)
class AiyagariSettings:
    """Numerical settings. ``a_max`` is in units of the wage (= mean labour income)."""

    grid_points: int = 120
    dist_points: int = 500
    a_max: float = 60.0
    solver_tol: float = 1e-7
    rate_tol: float = 1e-7  # tolerance on r (fraction): 1e-5 percentage points


#: Fast settings used by the CI tests: within 0.006 pp of a 600-point / 4000-point solution.
FAST = AiyagariSettings()
#: Careful settings for the full-table command: within 0.0025 pp of that fine solution.
FULL = AiyagariSettings(grid_points=200, dist_points=1000, a_max=100.0, solver_tol=1e-9, rate_tol=1e-8)


@dataclass(frozen=True)
class AiyagariEquilibrium:
    """One solved Table II cell (rates and saving rate as fractions; capital per unit of labour)."""

    sigma: float
    rho: float
    crra: float
    r: float  # net interest rate, fraction
    capital: float  # K per unit of labour (L = 1)
    wage: float
    saving_rate: float  # delta * K / Y, fraction
    evaluations: int
    seconds: float
    mass_at_top: float


def labour_chain(sigma: float, rho: float, n: int = 7, m: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labour endowments ``l_s`` (stationary mean one) and transition matrix (Tauchen, ``m`` std)."""
    y, P = tauchen(n, rho, sigma, m)
    labour = np.exp(y)
    return labour / (stationary_distribution(P) @ labour), P


def firm_prices(r: float, alpha: float = ALPHA, delta: float = DELTA) -> tuple[float, float]:
    """Capital per worker demanded at net rate ``r`` and the implied wage: ``(K/L, w)``."""
    k = (alpha / (r + delta)) ** (1.0 / (1.0 - alpha))
    return k, (1.0 - alpha) * k**alpha


def capital_supply(
    r: float,
    labour: np.ndarray,
    P: np.ndarray,
    crra: float,
    beta: float = BETA,
    alpha: float = ALPHA,
    delta: float = DELTA,
    settings: AiyagariSettings = FAST,
    guess: PolicySolution | None = None,
    initial=None,
):
    """Mean assets of the stationary distribution at rate ``r``: ``(K_s, solution, distribution)``.

    ``guess`` and ``initial`` (solution and distribution at a nearby rate) warm-start the solves.
    """
    _, w = firm_prices(r, alpha, delta)
    problem = HouseholdProblem(
        crra=crra, beta=beta, R_free=1.0 + r, transition=P, income=w * labour,
        grid_points=settings.grid_points, a_max=settings.a_max * w,
    )
    sol = solve_household(problem, tol=settings.solver_tol, guess=guess)
    dist = stationary_wealth(problem, sol, n_points=settings.dist_points, initial=initial)
    return dist.mean_assets, sol, dist


def equilibrium(
    sigma: float,
    rho: float,
    crra: float,
    alpha: float = ALPHA,
    delta: float = DELTA,
    beta: float = BETA,
    n_states: int = 7,
    m: float = 3.0,
    settings: AiyagariSettings = FAST,
) -> AiyagariEquilibrium:
    """Stationary equilibrium for one (sigma, rho, crra) cell; see the module docstring.

    Brent's method on ``r`` in ``[-1%, 1/beta - 1 - 1e-6]``: supply is below demand at the lower
    end for every Table II cell, and diverges as ``beta (1 + r) -> 1``.
    """
    t0 = time.perf_counter()
    labour, P = labour_chain(sigma, rho, n_states, m)
    state: dict = {"guess": None, "n": 0, "dist": None}

    def excess(r: float) -> float:
        K, sol, dist = capital_supply(r, labour, P, crra, beta, alpha, delta, settings, state["guess"], state["dist"])
        state.update(guess=sol, n=state["n"] + 1, dist=dist)
        return K - firm_prices(r, alpha, delta)[0]

    r_hi = 1.0 / beta - 1.0 - 1e-6  # supply diverges as beta*(1+r) -> 1
    r_lo = -0.01  # below every Table II cell; keeps beta*R^(1-gamma) < 1 for gamma <= 5
    if excess(r_hi) <= 0.0:  # equilibrium within 1e-6 of the bound (supply nearly vertical)
        r = r_hi
    else:
        r = brentq(excess, r_lo, r_hi, xtol=settings.rate_tol, rtol=4 * np.finfo(float).eps)
        excess(r)  # leave the distribution at the root in `state`
    k, w = firm_prices(r, alpha, delta)
    return AiyagariEquilibrium(
        sigma=sigma, rho=rho, crra=crra, r=r, capital=k, wage=w,
        saving_rate=delta * alpha / (r + delta), evaluations=state["n"],
        seconds=time.perf_counter() - t0, mass_at_top=state["dist"].mass_at_top,
    )


def equilibrium_rate(sigma: float, rho: float, crra: float, **kwargs) -> float:
    """Equilibrium net interest rate as a **fraction** (multiply by 100 for Table II's percent)."""
    return equilibrium(sigma, rho, crra, **kwargs).r


def reproduce_table(
    which: list[tuple[float, float, float]] | None = None,
    settings: AiyagariSettings = FULL,
    progress: Callable[[int, int, AiyagariEquilibrium], None] | None = None,
) -> list[dict]:
    """Solve the requested cells (default: all 24) and pair them with the paper's numbers."""
    todo = list(which) if which is not None else cells()
    rows = []
    for i, (sigma, rho, mu) in enumerate(todo, 1):
        eq = equilibrium(sigma, rho, mu, settings=settings)
        paper_r, paper_s = TABLE_II[(sigma, rho, mu)]
        rows.append({
            "sigma": sigma, "rho": rho, "mu": mu,
            "r_percent": 100 * eq.r, "paper_r_percent": paper_r,
            "diff_pp": 100 * eq.r - paper_r,
            "saving_percent": 100 * eq.saving_rate, "paper_saving_percent": paper_s,
            "seconds": eq.seconds, "evaluations": eq.evaluations, "mass_at_top": eq.mass_at_top,
        })
        if progress is not None:
            progress(i, len(todo), eq)
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table: reproduced vs paper rate (and saving rate), one line per cell."""
    head = f"{'sigma':>5} {'rho':>4} {'mu':>3} | {'r (%)':>8} {'paper':>8} {'diff pp':>8} | {'s (%)':>6} {'paper':>6}"
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(
            f"{row['sigma']:>5.1f} {row['rho']:>4.1f} {row['mu']:>3.0f} | {row['r_percent']:>8.4f} "
            f"{row['paper_r_percent']:>8.4f} {row['diff_pp']:>+8.4f} | {row['saving_percent']:>6.2f} "
            f"{row['paper_saving_percent']:>6.2f}"
        )
    return "\n".join(lines)
