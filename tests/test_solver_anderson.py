"""The compiled Anderson iteration and its pieces: the small linear solve and the dot product against
NumPy's, the returned point a fixed point of the map to the stated distance, a NaN never converged."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.solver.anderson import _dot, _solve
from sim.solver.egm import EgmMap
from sim.solver.household import default_problem, solve_household


def test_small_solve_matches_lapack():
    """Gaussian elimination with partial pivoting against LAPACK's gesv, on Gram-like (symmetric,
    positive definite, badly scaled) and on general matrices that need pivoting."""
    rng = np.random.default_rng(7)
    for n in range(1, 7):
        B = rng.normal(size=(n, 40)) * np.logspace(0, -5, n)[:, None]
        for A in (B @ B.T + 1e-12 * np.eye(n), rng.normal(size=(n, n))):
            b = rng.normal(size=n)
            want = np.linalg.solve(A, b)
            got = _solve(A.copy(), b.copy())
            assert np.allclose(A @ got, b, rtol=1e-9, atol=1e-12 * np.abs(b).max())
            assert np.allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_dot_is_the_exact_sum_to_rounding():
    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 8, 9, 1000, 8403):
        u, v = rng.normal(size=n), rng.normal(size=n)
        exact = math.fsum(u * v)  # the products' sum, correctly rounded
        assert abs(_dot(u, v) - exact) <= 1e-13 * max(1.0, float(np.abs(u * v).sum()))


def test_the_iteration_ends_at_a_fixed_point_to_its_tolerance():
    """``iterate`` stops when max|F(x) - x| = distance < tol: one more map evaluation from what it
    returns moves it by no more than about that (the map contracts), and the safeguard held."""
    egm = EgmMap(default_problem(grid_points=60))
    x0 = egm.pack(*egm.initial())
    fx, iterations, distance = egm.iterate(x0, egm.evaluate(x0), 1e-9, 2000)
    assert distance < 1e-9 and 10 < iterations < 2000
    assert np.max(np.abs(egm.evaluate(fx) - fx)) < 1e-8
    assert egm.admissible(fx)  # cash-on-hand increases along the grid at the answer


def test_one_iteration_returns_the_map_at_the_plain_step():
    """With no history the first step is the plain one: ``iterate`` from ``x0`` with one map
    evaluation returns ``F(F(x0))``, bit for bit what :meth:`evaluate` gives (so it returns F at
    its last iterate, not the iterate)."""
    egm = EgmMap(default_problem(grid_points=40))
    x0 = egm.pack(*egm.initial())
    fx0 = egm.evaluate(x0)
    fx, iterations, distance = egm.iterate(x0, fx0, 0.0, 1)
    assert iterations == 1 and distance == np.max(np.abs(fx0 - x0))
    assert np.array_equal(fx, egm.evaluate(fx0))


def test_a_nan_in_the_map_at_a_converged_point_is_not_convergence():
    """At a converged point one NaN in F(x) must keep the distance NaN (a running maximum that
    skipped it would report the rest's, below the tolerance: the control)."""
    problem = default_problem(grid_points=40)
    egm = EgmMap(problem)
    x = egm.variables(solve_household(problem, tol=1e-10))
    fx = egm.evaluate(x)
    _, iterations, distance = egm.iterate(x, fx, 1e-6, 1)
    assert iterations == 1 and distance < 1e-6  # without the NaN it has converged
    fx[7] = np.nan
    _, iterations, distance = egm.iterate(x, fx, 1e-6, 1)
    assert iterations == 1 and np.isnan(distance)


def test_only_fingerprinted_entry_points_are_cached_on_disk():
    """Numba's disk cache keys a function by its own file, not by what it compiles into itself:
    a cached function that compiles in code from another of the solver's files (the map's, the
    envelope's, the iteration's) must close over the fingerprint of all of them, or an edit there
    would leave it running the old code. (interp.py's cached functions use only their own file.)
    Reads Numba's dispatcher internals (``_cache``): a Numba upgrade may need this test updated."""
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    from sim.solver import anderson, egm_loops, envelope

    cached = []
    for module in (egm_loops, envelope, anderson):
        for name, obj in vars(module).items():
            if (isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__
                    and not isinstance(obj._cache, NullCache)):
                closure = [cell.cell_contents for cell in obj.py_func.__closure__ or ()]
                assert egm_loops.SOURCES_FINGERPRINT in closure, f"{module.__name__}.{name}"
                cached.append(name)
    assert {"knots", "unpack", "egm_map", "monotone", "anderson"} <= set(cached)


def test_a_nan_start_never_converges():
    """A NaN in the start makes every residual NaN: the iteration must not report convergence
    (a running maximum that skipped NaN would), and a start with a NaN is not admissible."""
    egm = EgmMap(default_problem(grid_points=30))
    x0 = egm.pack(*egm.initial())
    x0[5] = np.nan
    _, iterations, distance = egm.iterate(x0, egm.evaluate(x0), 1e-6, 25)
    assert iterations == 25 and not distance < 1e-6
    assert not egm.admissible(x0)


def test_a_solve_is_deterministic_and_agrees_with_the_plain_map():
    """Same problem, same bits; and the plain EGM map iterated 50 times from the answer stays within
    1e-5 of it in log c (the tolerance's 1e-8 times the contraction's 1/(1 - rho), about 100)."""
    problem = default_problem(grid_points=60)
    a, b = solve_household(problem), solve_household(problem)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("m", "c", "share"))
    egm = EgmMap(problem)
    c, share = egm.from_guess(a)
    for _ in range(50):
        c, share = egm.step(c, share)
    assert np.max(np.abs(np.log(c) - np.log(egm.from_guess(a)[0]))) < 1e-5


@pytest.mark.parametrize("risky", [True, False])
def test_step_is_evaluate_unpacked(risky):
    from dataclasses import replace

    problem = default_problem(grid_points=40)
    if not risky:
        problem = replace(problem, risky_mean=None, risky_std=0.0)
    egm = EgmMap(problem)
    c, share = egm.initial()
    c1, s1 = egm.step(c, share)
    v = egm.evaluate(egm.pack(c, share))
    assert np.allclose(np.log(c1).ravel(), v[: c.size], rtol=0.0, atol=1e-14)  # exp, then log again
    assert np.array_equal(s1, share if not risky else v[c.size :].reshape(share.shape))
