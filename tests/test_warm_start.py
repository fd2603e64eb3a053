"""Warm-started household solves (the coordinator's PolicyCache): the same answers as a cold solve
within the solver's error bound, fewer iterations, the forecast of the next fixed point from the
last solves (sim.solver.forecast), and a checkpoint round trip that keeps the next warm-started
solve bit for bit."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.checkpoint.macro_state import MacroState
from sim.config import compose
from sim.policy_cache import PolicyCache
from sim.economy import make_economy
from sim.solver.egm import EgmMap
from sim.solver.forecast import DEPTH, environment, forecast_path, keep, secant_forecast
from sim.solver.household import default_problem, solve_household

TOL = 1e-6  # the run's default household.tolerance


@pytest.fixture(scope="module")
def problems():
    """Four consecutive periods' problems: the safe return falls by 1e-3 and incomes rise by 1% a
    period, more than the default run's environment moves (so the warm start has work to do)."""
    first = default_problem()
    return [replace(first, R_free=first.R_free - 1e-3 * k, income=first.income * (1.0 + 0.01 * k))
            for k in range(4)]


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
    x_star = egm.variables(exact)
    for solution in (warm, cold):
        assert np.max(np.abs(egm.variables(solution) - x_star)) <= bound
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
    for t in range(3):  # three solves: the fourth starts from their forecast
        running.tables(problems[t], t)
    files = MacroState(make_economy(cfg, 1), running, period=3).to_files()
    restored = MacroState(make_economy(cfg, 1), PolicyCache(cfg.household)).load_files(files).policy
    assert restored.iterations == running.iterations and restored.solves == 3

    expected = running.tables(problems[3], 3)
    got = restored.tables(problems[3], 3)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    assert restored.iterations == running.iterations  # the same warm-started solve
    cold = PolicyCache(cfg.household).tables(problems[3], 3)
    assert not np.array_equal(cold[0], expected[0])
    # without the stored solves' history (a checkpoint that lost it) the start differs, and so do the bits
    forgetful = MacroState(make_economy(cfg, 1), PolicyCache(cfg.household)).load_files(files).policy
    forgetful._history = [[] for _ in forgetful._history]
    assert not np.array_equal(forgetful.tables(problems[3], 3)[0], expected[0])


def test_secant_forecast_is_exact_for_a_linear_response():
    """For x(theta) = A theta + b and a new move in the span of the recent moves, the multi-secant
    forecast is x(theta) itself (linear algebra, not the solver), up to the ridge that keeps
    collinear moves solvable (1e-10 of their squared size: here ~1e-8 of the values)."""
    rng = np.random.default_rng(7)
    A, b = rng.normal(size=(50, 9)), rng.normal(size=50)
    basis = rng.normal(size=(3, 9))  # the environment moves in a 3-dimensional subspace
    thetas = [rng.normal(size=9)]
    for _ in range(4):
        thetas.append(thetas[-1] + rng.normal(size=3) @ basis)
    history = [(t, A @ t + b) for t in thetas]
    new = thetas[-1] + rng.normal(size=3) @ basis
    assert np.allclose(secant_forecast(history, new), A @ new + b, rtol=1e-6, atol=0)
    # fewer than two solves, or a change of shape (another grid): no forecast
    assert secant_forecast(history[:1], new) is None
    assert secant_forecast([(thetas[0], np.zeros(3)), history[-1]], new) is None
    # a move outside the recent moves' span is not reproduced ...
    far = thetas[-1] + rng.normal(size=9)
    assert not np.allclose(secant_forecast(history, far), A @ far + b, rtol=1e-3, atol=0)
    # ... nor one that only moves older than the last DEPTH spanned: the history is truncated
    extra = rng.normal(size=9)
    old = [thetas[0] - extra * k for k in range(3, 0, -1)]  # three earlier moves along `extra`
    recent = [thetas[0] + rng.normal(size=3) @ basis * k for k in range(1, DEPTH + 1)]
    long_history = [(t, A @ t + b) for t in [*old, thetas[0], *recent]]
    along_extra = recent[-1] + extra
    assert np.allclose(secant_forecast(long_history, along_extra, depth=DEPTH + 4), A @ along_extra + b,
                       rtol=1e-6, atol=0)
    assert not np.allclose(secant_forecast(long_history, along_extra), A @ along_extra + b, rtol=1e-3, atol=0)


def _solves(counts: list[int]) -> list:
    """A history of (period, theta, x) with ``counts[p]`` solves in period p; x names the solve."""
    return [(p, np.array([p, k], float), np.array([p, k])) for p, n in enumerate(counts) for k in range(n)]


def _names(path: list) -> list:
    return [tuple(int(v) for v in x) for _, x in path]


def test_a_periods_first_forecast_follows_the_periods_and_its_later_ones_the_last_solves():
    """Under the priced market a period has several solves (candidate prices). Its first solve is
    fitted on the periods' path: the last solve of each of the DEPTH periods before the last one,
    then all of the last one's; a later one on the last DEPTH + 1 solves. With one solve a period
    both are the last DEPTH + 1 solves (the rule every solve had before)."""
    history = _solves([1, 3, 2, 4, 1, 3, 2, 3, 2, 3])
    finals = [(p, n - 1) for p, n in enumerate([1, 3, 2, 4, 1, 3, 2, 3, 2])][-DEPTH:]
    assert _names(forecast_path(history, 10)) == finals + [(9, 0), (9, 1), (9, 2)]
    assert _names(forecast_path(history, 9)) == _names([(t, x) for _, t, x in history[-DEPTH - 1:]])
    assert forecast_path([], 0) == []
    one_each = _solves([1] * 12)
    for t in (11, 12):
        assert _names(forecast_path(one_each, t)) == _names([(th, x) for _, th, x in one_each[-DEPTH - 1:]])


def test_the_kept_history_gives_the_forecasts_the_whole_history_would():
    """What PolicyCache keeps after each solve (``keep``) is enough: for any number of solves per
    period, none in some (an unchanged problem, ``resolve_every``), the path of the period's next
    solve and of a later period's first is the one the whole history gives, and what is kept stays
    within 2 DEPTH + 1 entries and two periods' solves."""
    rng = np.random.default_rng(3)
    for _ in range(30):
        counts = list(rng.integers(0, 6, size=15))
        full, kept = [], []
        for p, n in enumerate(counts):
            for k in range(n):
                full.append((p, np.array([p, k], float), np.array([p, k])))
                kept = keep(kept + [full[-1]], p)
                for t in (p, p + 1, p + 3):
                    assert _names(forecast_path(kept, t)) == _names(forecast_path(full, t))
                assert len(kept) <= 2 * DEPTH + 1 + 2 * max(counts)


@pytest.mark.slow
def test_the_periods_path_saves_iterations_under_the_priced_market(monkeypatch):
    """The calibrated baseline under the priced market (the test driver's grids): fitted on the
    periods' path, the solves take fewer EGM iterations than fitted on the last DEPTH + 1 solves
    (mostly candidate prices, whose last steps are moves so small that their solution differences
    are mostly the solver's own error). Same tolerance either way; the economy the same within it."""
    import sim.policy_cache
    from economy_driver import simulate

    def count(rule=None):
        if rule is not None:
            monkeypatch.setattr(sim.policy_cache, "forecast_path", rule)
        caches = []
        original = sim.policy_cache.PolicyCache.tables

        def tables(self, problem, t):
            if self not in caches:
                caches.append(self)
            return original(self, problem, t)

        monkeypatch.setattr(sim.policy_cache.PolicyCache, "tables", tables)
        run = simulate(periods=24)
        monkeypatch.undo()
        return sum(c.iterations for c in caches), run

    by_period, run = count()
    last_solves, old = count(lambda history, t: [(th, x) for _, th, x in history[-DEPTH - 1:]])
    assert by_period < 0.85 * last_solves, (by_period, last_solves)
    for key in ("unemployment_rate", "equity_price", "consumption"):
        assert np.allclose(run.series(key), old.series(key), rtol=1e-3, atol=1e-4), key


@pytest.mark.parametrize("variant", ["risky", "safe only", "debt and risky"])
def test_forecast_start_saves_iterations_and_keeps_the_error_bound(problems, variant):
    """Along a steady move of the environment (the fixture's), the forecast from the last three
    solves starts closer than the last solution: fewer iterations, and the answer within the
    same contraction bound of the fixed point as any start. Also without a risky asset (the
    variables are log c only) and with borrowing beside it (the kinked problem)."""
    change = {"risky": {}, "safe only": {"risky_mean": None}, "debt and risky": {"borrowing_limit": 0.5}}[variant]
    problems = [replace(p, **change) for p in problems]
    solutions = [solve_household(problems[0], tol=TOL)]
    for p in problems[1:3]:
        solutions.append(solve_household(p, tol=TOL, guess=solutions[-1]))
    history = [(environment(p), EgmMap(p).variables(s)) for p, s in zip(problems, solutions)]
    current = problems[3]
    forecast = secant_forecast(history, environment(current))
    warm = solve_household(current, tol=TOL, guess=solutions[-1])
    forecast_start = solve_household(current, tol=TOL, guess=solutions[-1], forecast=forecast)
    assert forecast_start.iterations < warm.iterations
    if variant == "debt and risky":
        # its solutions re-expressed on the grid interpolate across the consumption jump at the
        # switch from debt to the risky asset, so a sup-norm bound there measures that, not the solve
        return
    egm = EgmMap(current)
    exact = solve_household(current, tol=1e-11, guess=warm)
    rho = contraction_rate(egm, exact)
    x_star = egm.variables(exact)
    assert np.max(np.abs(egm.variables(forecast_start) - x_star)) <= 2.0 * rho / (1.0 - rho) * TOL


def test_a_bad_forecast_is_not_used(problems):
    """A forecast further from its update than the last solution is ignored: the same bits as the
    plain warm start, one more map evaluation counted."""
    previous = solve_household(problems[0], tol=TOL)
    warm = solve_household(problems[1], tol=TOL, guess=previous)
    egm = EgmMap(problems[1])
    bad = egm.variables(previous)
    bad[: bad.size // 2] += 0.05  # consumption 5% too high everywhere: valid, but far off
    got = solve_household(problems[1], tol=TOL, guess=previous, forecast=bad)
    assert all(np.array_equal(getattr(got, f), getattr(warm, f)) for f in ("m", "c", "share"))
    assert got.iterations == warm.iterations + 1


def test_a_checkpoint_without_the_forecast_history_still_loads(problems):
    """Checkpoints written before the forecast have no "history": the cache loads them, and its next
    solve is the plain warm start from the stored solution."""
    cfg = compose(["~calibration", "population.households=10000", "population.block_size=1024"])
    cache = PolicyCache(cfg.household)
    for t in range(2):
        cache.tables(problems[t], t)
    state = cache.state_dict()
    del state["history"]
    restored = PolicyCache(cfg.household)
    restored.load_state_dict(state)
    assert restored._history == [[]]
    restored.tables(problems[2], 2)
    plain = solve_household(replace(problems[2], beta=float(restored.betas[0])),
                            tol=float(cfg.household.tolerance), guess=state["solutions"][0])
    assert all(np.array_equal(getattr(restored._solutions[0], f), getattr(plain, f)) for f in ("m", "c", "share"))


@pytest.mark.slow
def test_a_warm_start_that_stalls_falls_back_to_a_cold_one():
    """The quarter a UBI starts in compute_monopoly under the tax rule (quarter 80, the test driver's
    coarse grids): Anderson mixing from last quarter's policy stalled (the residual between 0.009 and
    0.04 for 2000 iterations) and the run stopped with 'did not converge'; with the fallback the
    quarter is solved from a cold start (docs/solver.md, "A start that stalls") and the run goes on
    with closed accounts."""
    from economy_driver import simulate

    run = simulate("scenario=compute_monopoly", "policy.ubi.level=0.1", "policy.ubi.indexation=output",
                   "policy.ubi.start=80", "policy.ubi.ramp=4", "policy.financing=tax_rule", periods=82)
    assert len(run.rows) == 82 and run.series("ubi_level")[81] > 0.0
    assert np.all(np.abs(run.series("sfc_residual")) <= 1e-9)
