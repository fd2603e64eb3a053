"""Stationary wealth distribution (Young's method) against a Monte Carlo simulation of the policy."""
from __future__ import annotations

import numpy as np

from sim.solver.household import HouseholdProblem, solve_household
from sim.solver.markov import stationary_distribution, tauchen
from sim.solver.stationary import stationary_wealth, transition_matrix


def make_problem(**kw):
    y, P = tauchen(5, 0.6, 0.3)
    base = dict(crra=2.0, beta=0.94, R_free=1.03, transition=P, income=np.exp(y),
                transitory_std=0.1, transitory_nodes=3, grid_points=150, a_max=40.0)
    base.update(kw)
    return HouseholdProblem(**base)


def simulate_mean_assets(prob, sol, n=10_000, periods=300, seed=0):
    """Simulate households with the policy (independent of the histogram code)."""
    rng = np.random.default_rng(seed)
    theta, pi = prob.shocks
    R, w = prob.returns
    cum = np.cumsum(prob.transition, axis=1)
    s = rng.choice(prob.n_states, size=n, p=stationary_distribution(prob.transition))
    x = np.zeros(n)
    total = 0.0
    for t in range(periods):
        m = x + prob.income[s] * theta[rng.choice(theta.size, size=n, p=pi)]
        c, sh = np.empty(n), np.empty(n)
        for k in range(prob.n_states):  # each household uses its own state's policy
            here = s == k
            ck, shk = sol.on_grid(m[here])
            c[here], sh[here] = ck[k], shk[k]
        a = m - prob.price * c
        sh = np.where(a > 0, sh, 0.0)
        if t >= periods // 2:
            total += a.mean()
        x = (prob.R_free + sh * (R[rng.integers(0, R.size, size=n)] - prob.R_free)) * a
        s = np.minimum((rng.random(n)[:, None] < cum[s]).argmax(axis=1), prob.n_states - 1)
    return total / (periods - periods // 2)


def test_histogram_matches_simulation_safe_asset():
    prob = make_problem()
    sol = solve_household(prob)
    dist = stationary_wealth(prob, sol, n_points=800)
    assert abs(dist.mass.sum() - 1.0) < 1e-12 and dist.mass.min() >= 0.0
    np.testing.assert_allclose(dist.state_probabilities, stationary_distribution(prob.transition), atol=1e-10)
    sim = simulate_mean_assets(prob, sol)
    assert abs(dist.mean_assets / sim - 1.0) < 0.02


def test_histogram_matches_simulation_risky_asset():
    prob = make_problem(risky_mean=1.06, risky_std=0.15, risky_nodes=5, beta=0.92)
    sol = solve_household(prob)
    dist = stationary_wealth(prob, sol, n_points=800)
    sim = simulate_mean_assets(prob, sol)
    assert abs(dist.mean_assets / sim - 1.0) < 0.03


def test_transition_matrix_is_stochastic_and_preserves_means():
    prob = make_problem()
    sol = solve_household(prob)
    grid = np.linspace(0.0, 40.0, 300)
    T = transition_matrix(prob, sol, grid)
    np.testing.assert_allclose(np.asarray(T.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    # Young's lottery preserves the mean of next-period balances: E[x'] = R_f * E[a] per row.
    S, N = prob.n_states, grid.size
    xbar = (T @ np.tile(grid, S)).reshape(S, N)
    theta, pi = prob.shocks
    m = grid[None, :, None] + prob.income[:, None, None] * theta
    a = np.stack([sol.assets(m[s].ravel())[s].reshape(N, -1) for s in range(S)])  # (S, N, K)
    inside = prob.R_free * a.max(axis=2) < grid[-1]  # clipping at the top is the one allowed deviation
    np.testing.assert_allclose(xbar[inside], (prob.R_free * a @ pi)[inside], rtol=1e-10, atol=1e-12)


def test_distribution_is_invariant_under_the_assembled_transition_matrix():
    """The solve applies T^T in its two factors (the lottery, then the state's move); the answer
    is checked against T assembled whole: D = T^T D to round-off, with a risky asset."""
    prob = make_problem(risky_mean=1.06, risky_std=0.15, risky_nodes=5, beta=0.92)
    sol = solve_household(prob)
    dist = stationary_wealth(prob, sol, n_points=400)
    D = dist.mass.ravel()
    T = transition_matrix(prob, sol, dist.grid)
    assert np.abs(T.T @ D - D).max() < 1e-12 and abs(D.sum() - 1.0) < 1e-12


def test_too_patient_households_have_no_stationary_distribution():
    """beta R >= 1: the policy exists (tests/test_solver_household.py) but assets grow without
    bound, so there is no stationary distribution to compute: refused, one line."""
    import pytest

    prob = make_problem(beta=0.99, R_free=1.02)
    sol = solve_household(prob)
    with pytest.raises(ValueError, match="no stationary distribution") as info:
        stationary_wealth(prob, sol, n_points=200)
    assert "\n" not in str(info.value)
