"""Household solver: closed forms, optimality conditions off the grid, interface, bad parameters."""
from __future__ import annotations

import numpy as np
import pytest

from sim.solver.household import (
    HouseholdProblem,
    PolicySolution,
    bench_solver,
    default_problem,
    solve_household,
)
from sim.solver.markov import product_chain, stationary_distribution, tauchen
from sim.solver.returns import lognormal_nodes


def one_state(**kw) -> HouseholdProblem:
    base = dict(crra=3.0, beta=0.95, R_free=1.02, transition=np.ones((1, 1)), income=np.ones(1))
    base.update(kw)
    return HouseholdProblem(**base)


def markov_risky_problem(**kw) -> HouseholdProblem:
    logz, Pz = tauchen(5, 0.7, 0.3)
    z = np.exp(logz) / (stationary_distribution(Pz) @ np.exp(logz))
    states, P = product_chain((z, Pz), (np.array([1.0, 0.4]), np.array([[0.95, 0.05], [0.4, 0.6]])))
    base = dict(
        crra=3.0, beta=0.94, R_free=1.02, transition=P, income=states[:, 0] * states[:, 1],
        risky_mean=1.07, risky_std=0.18, risky_nodes=7, transitory_std=0.1, transitory_nodes=3,
        grid_points=250, a_max=60.0,
    )
    base.update(kw)
    return HouseholdProblem(**base)


# ----- closed forms ---------------------------------------------------------------------------


def test_zero_income_safe_asset_is_linear_with_closed_form_mpc():
    """No income, safe asset: c = kappa m, kappa = 1 - (beta R^(1-gamma))^(1/gamma)."""
    gamma, beta, R = 2.5, 0.95, 1.03
    sol = solve_household(one_state(crra=gamma, beta=beta, R_free=R, income=np.zeros(1), a_max=50.0))
    kappa = 1.0 - (beta * R ** (1.0 - gamma)) ** (1.0 / gamma)
    m = np.array([1e-3, 0.1, 1.0, 7.3, 40.0])
    c, _ = sol.on_grid(m)
    # tol=1e-8 bounds the last step; the distance to the fixed point is ~tol/(1-rate) ~ 1e-7.
    np.testing.assert_allclose(c[0] / m, kappa, rtol=1e-6)


def test_patient_households_beta_r_above_one_closed_form():
    """beta R >= 1 (the most patient type at a high rate): no target wealth, but with gamma > 1
    the consumption function exists (Carroll 2020) and the solver finds it: with no income,
    c = kappa m, kappa = 1 - (beta R^(1-gamma))^(1/gamma) > 0 although beta R = 1.0197."""
    gamma, beta, R = 2.0, 0.99, 1.03
    assert beta * R > 1.0
    sol = solve_household(one_state(crra=gamma, beta=beta, R_free=R, income=np.zeros(1), a_max=50.0))
    kappa = 1.0 - (beta * R ** (1.0 - gamma)) ** (1.0 / gamma)
    c, _ = sol.on_grid(np.array([1e-3, 0.1, 1.0, 7.3, 40.0]))
    np.testing.assert_allclose(c[0] / np.array([1e-3, 0.1, 1.0, 7.3, 40.0]), kappa, rtol=1e-5)


def test_zero_income_risky_asset_closed_form():
    """No income, IID returns: share = one-period optimum, c = kappa m with the portfolio return."""
    from scipy.optimize import brentq

    gamma, beta, R_f = 4.0, 0.95, 1.02
    R, w = lognormal_nodes(1.06, 0.2, 9)
    s_star = brentq(lambda s: np.sum(w * (R_f + s * (R - R_f)) ** (-gamma) * (R - R_f)), 0.0, 1.0, xtol=1e-14)
    kappa = 1.0 - (beta * np.sum(w * (R_f + s_star * (R - R_f)) ** (1.0 - gamma))) ** (1.0 / gamma)
    prob = one_state(crra=gamma, beta=beta, R_free=R_f, income=np.zeros(1), risky_mean=1.06,
                     risky_std=0.2, risky_nodes=9, a_max=100.0)
    sol = solve_household(prob)
    m = np.array([0.01, 0.5, 3.0, 60.0])
    c, share = sol.on_grid(m)
    np.testing.assert_allclose(share[0], s_star, atol=1e-6)
    np.testing.assert_allclose(c[0] / m, kappa, rtol=1e-6)


def test_price_only_rescales_consumption():
    """Spending p*c: with u homothetic, c_p(m) = c_1(m) / p exactly."""
    m = np.array([0.2, 1.0, 4.0, 20.0])
    c1, s1 = solve_household(markov_risky_problem()).on_grid(m)
    cp, sp = solve_household(markov_risky_problem(price=1.07)).on_grid(m)
    np.testing.assert_allclose(cp, c1 / 1.07, rtol=1e-6)
    np.testing.assert_allclose(sp, s1, atol=1e-6)


# ----- optimality conditions at points off the grid ------------------------------------------


@pytest.mark.parametrize("patience", [
    dict(),
    # beta R_f = 1.0098 > 1 (allowed: the consumption function exists; no stationary distribution)
    dict(beta=0.99, risky_mean=1.04, a_max=80.0)])
def test_euler_and_portfolio_conditions_hold_off_grid(patience):
    prob = markov_risky_problem(**patience)
    sol = solve_household(prob)
    theta, pi = prob.shocks
    R, w = lognormal_nodes(prob.risky_mean, prob.risky_std, prob.risky_nodes)
    m = np.linspace(0.35, 45.0, 37) * 1.0137  # deliberately not grid points
    c, share = sol.on_grid(m)
    a = m[None, :] - c
    S = prob.n_states
    euler, worst_foc = [], 0.0
    for s in range(S):
        for j in range(m.size):
            if a[s, j] < 1e-6:  # constrained: Euler holds as an inequality only
                continue
            Rp = prob.R_free + share[s, j] * (R - prob.R_free)  # (n,)
            # next-period cash on hand for every (s', theta_k, R_n)
            cash = Rp[None, None, :] * a[s, j] + prob.income[:, None, None] * theta[None, :, None]
            c_next = np.stack([sol.on_grid(cash[t].ravel())[0][t] for t in range(S)]).reshape(cash.shape)
            mu = c_next ** (-prob.crra)
            weights = prob.transition[s][:, None, None] * pi[None, :, None] * w[None, None, :]
            rhs = prob.beta * np.sum(weights * Rp * mu)
            euler.append(abs(rhs ** (-1.0 / prob.crra) / c[s, j] - 1.0))
            if 0.02 < share[s, j] < 0.98:
                foc = np.sum(weights * (R - prob.R_free) * mu) / np.sum(weights * Rp * mu)
                worst_foc = max(worst_foc, abs(foc))
    # Consumption-equivalent Euler errors: ~1e-5 typically; largest just above the constraint
    # kink, where next period's consumption functions have kinks between grid points.
    assert max(euler) < 1e-3
    assert np.quantile(euler, 0.9) < 5e-5
    assert worst_foc < 2e-5


# ----- interface ------------------------------------------------------------------------------


def test_solution_layout_and_on_grid_semantics():
    prob = markov_risky_problem(borrowing_limit=0.5)
    sol = solve_household(prob)
    S, G = sol.m.shape
    assert S == prob.n_states and sol.c.shape == sol.share.shape == (S, G)
    assert np.all(np.diff(sol.m, axis=1) > 0)
    np.testing.assert_array_equal(sol.m[:, 0], -0.5)
    np.testing.assert_array_equal(sol.c[:, 0], 0.0)
    assert np.all((sol.share >= 0) & (sol.share <= 1))
    # Constrained region: between m_min and the kink, c = (m - m_min)/price, a = -b.
    kink = sol.m[:, 1]
    q = -0.5 + 0.5 * (kink.min() + 0.5)
    c, _ = sol.on_grid(np.array([q]))
    np.testing.assert_allclose(c[:, 0], q + 0.5, rtol=1e-12)
    # Below the minimum: zero consumption. Above the top: linear extrapolation, share constant.
    c, share = sol.on_grid(np.array([-1.0, sol.m.max() * 3]))
    np.testing.assert_array_equal(c[:, 0], 0.0)
    top = sol.m[:, -1]
    slope = (sol.c[:, -1] - sol.c[:, -2]) / (sol.m[:, -1] - sol.m[:, -2])
    np.testing.assert_allclose(c[:, 1], sol.c[:, -1] + slope * (sol.m.max() * 3 - top), rtol=1e-10)
    np.testing.assert_allclose(share[:, 1], sol.share[:, -1])
    # Debt is never invested in the risky asset.
    a = sol.m - sol.c
    assert np.all(sol.share[a < -1e-12] == 0.0)


def test_warm_start_gives_the_same_solution():
    prob = markov_risky_problem()
    cold = solve_household(prob)
    warm = solve_household(markov_risky_problem(R_free=1.021), guess=cold)
    again = solve_household(prob, guess=warm)
    m = np.linspace(0.3, 50, 17)
    np.testing.assert_allclose(again.on_grid(m)[0], cold.on_grid(m)[0], rtol=1e-6)
    assert again.iterations < cold.iterations


def test_default_problem_and_bench():
    prob = default_problem()
    assert prob.n_states == 21 and prob.grid_points >= 200 and prob.has_risky
    result = bench_solver(repeats=1)
    assert result["states"] == 21 and result["seconds"] > 0.0 and result["iterations"] > 0


# ----- bad parameters -------------------------------------------------------------------------

P2 = np.array([[0.9, 0.1], [0.3, 0.7]])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(crra=0.0), "crra"),
        (dict(crra=-2.0), "crra"),
        (dict(crra=float("nan")), "crra"),
        (dict(beta=0.0), "beta"),
        (dict(beta=-0.9), "beta"),
        (dict(R_free=0.0), "R_free"),
        (dict(transition=np.array([[0.9, 0.2], [0.3, 0.7]])), "sum to 1"),
        (dict(transition=np.array([[1.1, -0.1], [0.3, 0.7]])), "negative"),
        (dict(transition=np.ones((3, 3)) / 3), "income states"),
        (dict(transition=np.ones((2, 3)) / 3), "square"),
        (dict(income=np.array([1.0, -0.5])), "income"),
        (dict(income=np.array([1.0, np.nan])), "income"),
        (dict(borrowing_limit=-1.0), "borrowing_limit"),
        (dict(borrowing_limit=40.0), "natural borrowing limit"),
        (dict(risky_mean=-1.0), "risky_mean"),
        (dict(risky_mean=1.05, risky_std=-0.1), "risky_std"),
        (dict(transitory_std=-0.1), "transitory_std"),
        (dict(price=0.0), "price"),
        (dict(grid_points=3), "grid_points"),
        (dict(a_max=-5.0), "a_max"),
        (dict(crra=0.5, risky_mean=1.3, risky_std=0.01, beta=0.95, R_free=1.01), "impatience"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, match):
    base = dict(crra=2.0, beta=0.95, R_free=1.02, transition=P2, income=np.array([1.0, 0.3]))
    base.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        solve_household(HouseholdProblem(**base))
    assert "\n" not in str(info.value)


def test_with_beta_is_replace_without_deriving_again():
    """A period's types share everything but beta: ``with_beta`` is ``dataclasses.replace`` (every
    field and every derived object equal) and refuses what it refuses, with the beta-independent
    derived objects computed once."""
    from dataclasses import fields, replace

    p = replace(default_problem(grid_points=40), crra=0.5, beta=0.9)
    for beta in (0.8, 0.93):
        fast, slow = p.with_beta(beta), replace(p, beta=beta)
        for f in fields(p):
            assert np.array_equal(np.asarray(getattr(fast, f.name)), np.asarray(getattr(slow, f.name))), f.name
        for name in ("income_scale", "limit_share", "a_grid"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        for name in ("shocks", "returns"):
            assert all(np.array_equal(a, b) for a, b in zip(getattr(fast, name), getattr(slow, name))), name
        assert fast.returns is p.returns and fast.shocks is p.shocks  # shared, not derived again
        with pytest.raises(ValueError, match="read-only"):  # so no type can change another's
            fast.returns[0][0] = 1.0
        assert p.beta == 0.9  # the original is unchanged
    p.__dict__["depends_on_beta"] = 1.0  # a cached value not listed as beta-free is derived again
    assert "depends_on_beta" not in p.with_beta(0.8).__dict__
    for beta, match in ((0.0, "beta"), (float("nan"), "beta"), (1.2, "impatience")):
        with pytest.raises(ValueError, match=match):
            replace(p, beta=beta)
        with pytest.raises(ValueError, match=match):
            p.with_beta(beta)


def test_policy_solution_is_plain_data():
    sol = PolicySolution(m=np.array([[0.0, 1.0]]), c=np.array([[0.0, 1.0]]), share=np.zeros((1, 2)))
    c, share = sol.on_grid(np.array([0.5, 2.0]))
    np.testing.assert_allclose(c, [[0.5, 2.0]])


def test_debt_to_risky_switch_matches_brute_force_bellman():
    """Borrowing + risky asset: non-concave at a = 0, handled by an upper envelope.

    Independent check: evaluate the value of our policy (policy iteration on a fine grid), then
    maximise u(c) + beta E V over a fine (a, share) grid by brute force just below and above the
    switching point. The brute-force choice must be debt below it and risky saving above it.
    """
    prob = one_state(crra=2.0, beta=0.92, R_free=1.02, risky_mean=1.08, risky_std=0.15, risky_nodes=5,
                     transitory_std=0.1, transitory_nodes=3, borrowing_limit=1.0, grid_points=300, a_max=40.0)
    sol = solve_household(prob)
    # Consumption jumps down at the switch. Smaller dips from secondary kinks (future cash-on-hand
    # landing on the jump) are a documented limitation (docs/solver.md).
    dc = np.diff(sol.c[0])
    i = int(np.argmin(dc))
    assert dc[i] < 5 * np.sort(dc)[1]
    m_star = sol.m[0, i + 1]
    theta, pi = prob.shocks
    R, w = prob.returns
    W = pi[:, None] * w[None, :]

    def u(c):
        return c ** (1 - prob.crra) / (1 - prob.crra)

    mg = np.concatenate([np.linspace(-0.999, 2.0, 600), np.linspace(2.01, 80.0, 400)])
    c, sh = (v[0] for v in sol.on_grid(mg))
    a = mg - c
    nxt = ((prob.R_free + sh[:, None] * (R - prob.R_free)) * a[:, None])[:, None, :] + theta[None, :, None]
    V = u(c) / (1 - prob.beta)
    for _ in range(800):  # beta^800 ~ 1e-29
        V = u(c) + prob.beta * np.sum(W * np.interp(nxt, mg, V), axis=(1, 2))

    for dm in (-0.02, -0.004, 0.004, 0.02):
        m = m_star + dm
        ag = np.linspace(-1.0, m - 1e-3, 2500)
        best_val, best_a = -np.inf, None
        for s in np.linspace(0.0, 1.0, 51):
            Rp = prob.R_free + np.where(ag > 0, s, 0.0)[:, None] * (R - prob.R_free)
            x = (Rp * ag[:, None])[:, None, :] + theta[None, :, None]
            val = u(m - ag) + prob.beta * np.sum(W * np.interp(x, mg, V), axis=(1, 2))
            j = int(np.argmax(val))
            if val[j] > best_val:
                best_val, best_a = val[j], ag[j]
        ours = m - sol.on_grid(np.array([m]))[0][0, 0]
        assert np.sign(best_a) == np.sign(dm) == np.sign(ours)
        assert abs(best_a - ours) < 2e-3


def test_zero_premium_converges_and_holds_no_risk():
    # With the risky mean equal to the safe return (a belief capped at the safe rate) a risk-averse
    # household holds no risky asset wherever it has assets; at a = 0 the first-order condition is
    # flat (nothing is invested), which once made the share there flip between 0 and 1 forever.
    from dataclasses import replace

    from sim.solver.household import default_problem

    R = 1.0220031103691465  # a case that failed in a run (household.beta=0.97, demand closure)
    prob = replace(default_problem(), beta=0.97, R_free=R, risky_mean=R, risky_std=0.0781581351875669)
    sol = solve_household(prob, tol=1e-6)
    assert sol.iterations < 2000
    assert np.max(sol.share[:, 2:]) < 1e-6  # share 0 at every positive asset level (Merton: 0 / (gamma sigma^2))
