r"""The household problem: consumption and risky-share policies by the endogenous grid method.

Level model (no permanent-income normalisation). Timing, matching the simulation kernel: at the
start of a period the discrete state ``s`` is realised and the household has cash-on-hand

.. math:: m = \mathcal{R}\, a_{-1} + y_s\, \theta, \qquad
          \mathcal{R} = R_f + \varsigma_{-1} (R - R_f),

with ``theta`` an IID mean-one lognormal transitory multiplier and ``R`` the IID lognormal risky
gross return. It chooses consumption ``c`` (spending ``p c`` goods, ``p = price``), end-of-period
assets ``a = m - p c >= -b`` (``b = borrowing_limit``) and a risky share ``varsigma in [0, 1]`` of
``a`` (only when ``a > 0``: debt is always safe, no short sales, no leverage). Bellman equation:

.. math:: V(m, s) = \max_{c, \varsigma}\; u(c) + \beta\, E\big[V(\mathcal{R}' a + y_{s'}\theta', s') \mid s\big],
          \qquad u(c) = \frac{c^{1-\gamma}}{1-\gamma}.

Euler equation and portfolio first-order condition (both hold at interior solutions; ``p`` cancels
because it is constant):

.. math::
    u'(c) &= \beta\, E\big[\mathcal{R}'\, u'(c')\big] \quad (\text{equality unless } a = -b),\\
    0 &= E\big[(R' - R_f)\, u'(c')\big] \quad (\text{share clipped to } [0, 1]).

Method (Carroll 2006 EGM; portfolio step as in HARK's ``ConsPortfolioModel``): fix a grid of
end-of-period assets ``a_j``. Next period's expected marginal utility of *bank balances*
``x = \mathcal{R} a`` given today's state is

.. math:: H(s, x) = \sum_{s'} P_{s s'} \sum_k \pi_k\, u'\big(c(s', x + y_{s'} \theta_k)\big),

computed on a grid of ``x``, one sum over tomorrow's states per point. Then, with ``R_n`` the
return nodes (weights ``w_n``) and ``x_n = (R_f + \varsigma (R_n - R_f)) a_j``,

.. math:: c_j = \Big(\beta \sum_n w_n (R_f + \varsigma(R_n - R_f)) H(s, x_n)\Big)^{-1/\gamma},
          \qquad m_j = a_j + p\, c_j ,

and ``varsigma`` solves ``sum_n w_n (R_n - R_f) H(s, x_n) = 0``. ``H`` is interpolated through its
"consumption-like" transform ``H^{-1/gamma}``, which is nearly linear. The share is updated by one
projected Newton step per EGM iteration (the FOC is decreasing and convex in the share, so
Newton does not overshoot from below), so at the fixed point both conditions hold. The fixed
point in ``(log c_j, varsigma_j)`` is found by EGM iteration with Anderson acceleration
(safeguarded: a mixed iterate is used only if it keeps ``m_j`` increasing).

Where the pieces are: :mod:`sim.solver.problem` (the parameters, validated, and the grids and
nodes derived from them), :mod:`sim.solver.egm` (the problem discretised for the EGM map, its
starts), :mod:`sim.solver.egm_loops` and :mod:`sim.solver.envelope` (the map, compiled),
:mod:`sim.solver.anderson` (the iteration, compiled with it), :mod:`sim.solver.policy` (the
solved policy tables and their evaluation);
this module solves (:func:`solve_household`) and holds the default problem and its benchmark.
"""
from __future__ import annotations

import time

import numpy as np

from .egm import EgmMap
from .markov import product_chain, stationary_distribution, tauchen
from .policy import PolicySolution
from .problem import HouseholdProblem, asset_grid

__all__ = [
    "HouseholdProblem",
    "PolicySolution",
    "solve_household",
    "default_problem",
    "bench_solver",
    "asset_grid",
]


def solve_household(
    problem: HouseholdProblem,
    tol: float = 1e-8,
    max_iter: int = 2000,
    guess: PolicySolution | None = None,
    forecast: np.ndarray | None = None,
) -> PolicySolution:
    """Solve the infinite-horizon problem; ``tol`` bounds the last change in ``log c`` and share.

    ``guess`` (e.g. the solution for nearby parameters) warm-starts the iteration. ``forecast``:
    the iteration's variables predicted for this problem (``EgmMap.variables`` layout, e.g.
    :func:`sim.solver.forecast.secant_forecast`); the iteration starts there instead when its
    first change in ``log c`` is smaller than the guess's (one more map evaluation, counted in
    ``iterations``). Either way it stops at the same ``tol``, so the answer keeps the same error
    bound (docs/solver.md, "Warm starts"). Raises ``ValueError`` for an invalid problem (see
    :class:`HouseholdProblem`) and ``RuntimeError`` if the iteration does not converge within
    ``max_iter`` steps from any of its starts (the forecast's, the guess's, a cold one).
    """
    egm = EgmMap(problem)
    if guess is not None and guess.m.shape[0] != problem.n_states:
        raise ValueError(f"guess has {guess.m.shape[0]} states but the problem has {problem.n_states}")
    x0 = egm.pack(*(egm.from_guess(guess) if guess is not None else egm.initial()))
    S, G = problem.n_states, egm.a.size
    fx0 = egm.evaluate(x0)
    starts = [(x0, fx0)]
    total = 0  # map evaluations: every start's iterations, and the forecast's check
    if forecast is not None and forecast.shape == x0.shape and egm.admissible(forecast):
        f_forecast, total = egm.evaluate(forecast), 1
        # compared on log c: the shares' first change is led by points where the portfolio
        # condition is nearly flat (near a = 0), and says little about the distance to the fixed point
        if np.max(np.abs((f_forecast - forecast)[: S * G])) < np.max(np.abs((fx0 - x0)[: S * G])):
            starts.insert(0, (forecast, f_forecast))
    if guess is not None:
        starts.append((None, None))  # a cold start, built only if needed
    # Anderson mixing can stall from a warm start (seen from last quarter's policy in the quarter a
    # UBI starts: the residual between 0.009 and 0.04 for 2000 iterations, where a cold start
    # converged in 182; docs/solver.md): then the next start (the guess's after the forecast's),
    # then a cold one. Where the first converges nothing else runs: the same bits as without it.
    for x0, fx0 in starts:
        if x0 is None:
            x0 = egm.pack(*egm.initial())
            fx0 = egm.evaluate(x0)
        x, iters, dist = egm.iterate(x0, fx0, tol, max_iter)
        total += iters
        if dist < tol:
            break
    c, share = egm.unpack(x)
    if not (np.all(np.isfinite(c)) and np.all(c > 0.0) and np.all(np.isfinite(share))):
        raise RuntimeError("household solver produced non-finite or non-positive consumption")
    if dist >= tol:
        raise RuntimeError(f"household solver did not converge in {max_iter} iterations (distance {dist:.3g})")
    m, ck, sk = egm.knots(c, share)
    if not np.all(np.diff(m, axis=1) > 0.0):  # interpolation needs increasing cash-on-hand
        raise RuntimeError("household solver: cash-on-hand knots not increasing (non-concave problem?)")
    return PolicySolution(m=m, c=ck, share=sk, iterations=total, distance=dist, price=problem.price)


# ----- default problem and benchmark ----------------------------------------------------------


def default_problem(grid_points: int = 200) -> HouseholdProblem:
    """Default quarterly household: 7 productivity x 3 employment states, risky asset.

    Productivity: Tauchen(7, rho=0.95, sigma=0.3, m=3) on log z, z normalised to mean one.
    Employment (employed, unemployed, displaced-by-automation) quarterly transitions below;
    income = z when employed, 0.5 z unemployment benefit, 0.2 flat support when displaced.
    beta = 0.985, gamma = 2, R_f = 1.005, risky mean 1.015 and log-std 0.08 per quarter.
    """
    logz, Pz = tauchen(7, 0.95, 0.3)
    z = np.exp(logz) / (stationary_distribution(Pz) @ np.exp(logz))
    Pe = np.array([[0.95, 0.04, 0.01], [0.45, 0.50, 0.05], [0.10, 0.05, 0.85]])
    states, P = product_chain((z, Pz), (np.arange(3.0), Pe))
    zz, emp = states[:, 0], states[:, 1].astype(int)
    income = np.where(emp == 0, zz, np.where(emp == 1, 0.5 * zz, 0.2))
    return HouseholdProblem(
        crra=2.0, beta=0.985, R_free=1.005, transition=P, income=income,
        risky_mean=1.015, risky_std=0.08, risky_nodes=7, grid_points=grid_points,
    )


def bench_solver(repeats: int = 3) -> dict:
    """Time :func:`solve_household` on :func:`default_problem` (cold start, best of ``repeats``)."""
    problem = default_problem()
    times, cpu = [], []
    sol = None
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        sol = solve_household(problem)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "name": "household_solver",
        "seconds": min(times),  # wall clock, best of `repeats`
        "cpu_seconds": min(cpu),  # less sensitive to other load on a shared machine
        "seconds_all": times,
        "states": problem.n_states,
        "grid_points": problem.grid_points,
        "risky_nodes": problem.risky_nodes,
        "iterations": sol.iterations,
        "tol": 1e-8,
    }
