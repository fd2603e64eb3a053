"""Warm-started household solves (the coordinator's PolicyCache): the same answers as a cold solve
within the solver's error bound, fewer iterations, and a checkpoint round trip that keeps the next
warm-started solve bit for bit."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.checkpoint.macro_state import MacroState
from sim.config import compose
from sim.policy_cache import PolicyCache
from sim.economy import make_economy
from sim.solver.egm import EgmMap
from sim.solver.household import default_problem, solve_household

TOL = 1e-6  # the run's default household.tolerance


@pytest.fixture(scope="module")
def problems():
    """Three consecutive periods' problems: the safe return falls by 1e-3 and incomes rise by 1% a
    period, more than the default run's environment moves (so the warm start has work to do)."""
    first = default_problem()
    return [replace(first, R_free=first.R_free - 1e-3 * k, income=first.income * (1.0 + 0.01 * k))
            for k in range(3)]


def fixed_point_variables(egm: EgmMap, solution) -> np.ndarray:
    """A solution as the iteration's variables (log c_j, share_j) on the end-of-period grid."""
    c, share = egm.from_guess(solution)
    return np.concatenate([np.log(c).ravel(), share.ravel()])


def contraction_rate(egm: EgmMap, solution, steps: int = 40) -> float:
    """The plain EGM map's asymptotic rate rho near the fixed point: the decay of successive
    changes |F^{k+1}(x) - F^k(x)| over ``steps`` iterations (the slowest mode dominates)."""
    c, share = egm.from_guess(solution)
    changes = []
    for _ in range(2 * steps):
        c_next, share_next = egm.step(c, share)
        changes.append(max(np.max(np.abs(np.log(c_next) - np.log(c))), np.max(np.abs(share_next - share))))
        c, share = c_next, share_next
    return float((changes[-1] / changes[steps - 1]) ** (1.0 / steps))


def test_warm_start_agrees_with_cold_solve_within_the_contraction_bound(problems):
    r"""The solver stops at x with |F(x) - x| < tol and returns F(x). If F contracts with modulus
    rho, |F(x) - x*| <= rho |x - x*| <= rho (tol + |F(x) - x*|), so both the warm and the cold
    solution lie within rho/(1 - rho) tol of the fixed point x* whatever the start. rho is
    measured (about 0.99 here, so the bound is ~1e-4 at tol 1e-6); the factor 2 allows for the
    measured asymptotic rate understating the sup-norm modulus."""
    previous, current = problems[0], problems[1]
    warm = solve_household(current, tol=TOL, guess=solve_household(previous, tol=TOL))
    cold = solve_household(current, tol=TOL)
    exact = solve_household(current, tol=1e-11, guess=cold)  # x* to ~1e-9: far inside the bound
    egm = EgmMap(current)
    rho = contraction_rate(egm, exact)
    assert 0.5 < rho < 1.0
    bound = 2.0 * rho / (1.0 - rho) * TOL
    x_star = fixed_point_variables(egm, exact)
    for solution in (warm, cold):
        assert np.max(np.abs(fixed_point_variables(egm, solution) - x_star)) <= bound
    # and the kernels' tables (consumption in levels): relative error of the same size
    grid = np.linspace(0.0, 400.0, 257)
    c_warm, c_cold = warm.on_grid(grid)[0][:, 1:], cold.on_grid(grid)[0][:, 1:]
    assert np.max(np.abs(c_warm / c_cold - 1.0)) <= 2.5 * bound
    # the point of warm starts: fewer iterations to the same tolerance
    assert warm.iterations < cold.iterations


def test_warm_start_is_deterministic(problems):
    previous = solve_household(problems[0], tol=TOL)
    a = solve_household(problems[1], tol=TOL, guess=previous)
    b = solve_household(problems[1], tol=TOL, guess=previous)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("m", "c", "share"))


def test_checkpointed_policy_cache_warm_starts_bit_for_bit(problems):
    """A run restored from a checkpoint solves period t from the restored cache: its tables must be
    the uninterrupted run's bits. A cold cache (what a restart would have without the solution in
    the checkpoint) gives different bits, so the comparison can fail."""
    # one type, as the fixture's problems (R_free = 1.005: the calibration's most patient type would
    # have beta R >= 1); the cache with types is tests/test_types.py's
    cfg = compose(["~calibration", "population.households=10000", "population.block_size=1024"])
    running = PolicyCache(cfg.household)
    running.tables(problems[0], 0)
    running.tables(problems[1], 1)
    files = MacroState(make_economy(cfg, 1), running, period=2).to_files()
    restored = MacroState(make_economy(cfg, 1), PolicyCache(cfg.household)).load_files(files).policy
    assert restored.iterations == running.iterations and restored.solves == 2

    expected = running.tables(problems[2], 2)
    got = restored.tables(problems[2], 2)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    cold = PolicyCache(cfg.household).tables(problems[2], 2)
    assert not np.array_equal(cold[0], expected[0])
    assert restored.iterations == running.iterations  # the same warm-started solve
