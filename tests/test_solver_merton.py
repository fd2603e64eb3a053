"""Risky share: Merton-Samuelson limit at large wealth, full share at low wealth."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from sim.solver.household import HouseholdProblem, solve_household
from sim.solver.returns import lognormal_nodes

MEAN, STD, R_F, GAMMA = 1.06, 0.2, 1.02, 4.0


def discrete_limit(n: int) -> float:
    """Reference: root of sum_j w_j (R_f + s (R_j - R_f))^-gamma (R_j - R_f) = 0 by brentq."""
    R, w = lognormal_nodes(MEAN, STD, n)
    x = R - R_F
    return brentq(lambda s: np.sum(w * x * (R_F + s * x) ** (-GAMMA)), 0.0, 1.0, xtol=1e-14)


def problem(**kw) -> HouseholdProblem:
    base = dict(crra=GAMMA, beta=0.95, R_free=R_F, transition=np.ones((1, 1)), income=np.ones(1),
                risky_mean=MEAN, risky_std=STD, risky_nodes=9, grid_points=300, a_max=1e5)
    base.update(kw)
    return HouseholdProblem(**base)


def test_share_converges_to_discrete_limit_at_large_wealth():
    sol = solve_household(problem())
    m = np.array([1e2, 1e3, 1e4, 1e5])
    _, share = sol.on_grid(m)
    gap = share[0] - discrete_limit(9)
    # Human wealth acts like a bond: share ~ limit * (1 + h/m), so the gap shrinks like 1/m.
    assert np.all(gap > 0) and np.all(np.diff(gap) < 0)
    assert gap[-1] < 2e-3
    assert gap[-1] * m[-1] == pytest.approx(gap[-2] * m[-2], rel=0.05)


def test_share_equals_limit_at_every_wealth_without_income():
    sol = solve_household(problem(income=np.zeros(1), a_max=100.0))
    _, share = sol.on_grid(np.array([0.01, 1.0, 30.0, 99.0]))
    np.testing.assert_allclose(share[0], discrete_limit(9), atol=1e-6)


def test_share_is_one_at_low_wealth_with_safe_income():
    sol = solve_household(problem())
    _, share = sol.on_grid(np.array([0.2, 0.5, 1.0, 2.0, 4.0]))
    np.testing.assert_array_equal(share[0], 1.0)


def test_limit_approaches_merton_share_as_nodes_grow():
    merton = (np.log(MEAN) - np.log(R_F)) / (GAMMA * STD**2)
    # Exact one-period optimum under the continuous lognormal, by quadrature (independent of nodes).
    mu = np.log(MEAN) - STD**2 / 2

    def foc(s):
        def integrand(z):
            x = np.exp(mu + STD * z) - R_F
            return x * (R_F + s * x) ** (-GAMMA) * np.exp(-z * z / 2)

        return quad(integrand, -12, 12, limit=200)[0]

    exact = brentq(foc, 0.0, 1.0, xtol=1e-12)
    errors = [abs(discrete_limit(n) - exact) for n in (5, 25, 101, 401)]
    assert all(b < a for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 5e-4
    # Merton's formula is the small-period limit: off by O(sigma^2) relative in one period.
    assert abs(exact - merton) < STD**2 * merton
    # The household solver with many nodes and no income reproduces the same limit.
    sol = solve_household(problem(income=np.zeros(1), risky_nodes=201, a_max=100.0))
    _, share = sol.on_grid(np.array([5.0]))
    assert share[0, 0] == pytest.approx(exact, abs=5e-4)
    assert share[0, 0] == pytest.approx(merton, abs=STD**2 * merton)
