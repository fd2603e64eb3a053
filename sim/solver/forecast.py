r"""A forecast of this period's fixed point from the last few periods' (a multi-secant step).

The coordinator solves a household problem every period, and the problem moves with the economy:
wages, the safe rate, the perceived risky return and its risk, the employment transitions. A warm
start from last period's solution leaves the whole move to the iteration, whose tail is slow
(docs/solver.md, "Warm starts"). But the moves of successive periods are few directions of a
low-dimensional environment, and the solutions of the last periods say how the fixed point
responds to them. With ``theta`` the problem's parameters (:func:`environment`) and ``x`` the
fixed point's variables on the end-of-period grid (``EgmMap.variables``), the last ``k + 1``
solves give differences ``dTheta_i = theta_i - theta_{i-1}`` and ``dX_i = x_i - x_{i-1}``;
the forecast for a new ``theta`` is

.. math:: x^{f} = x_{last} + \sum_i \gamma_i\, dX_i, \qquad
          \gamma = \arg\min_\gamma \big\| (\theta - \theta_{last}) - \sum_i \gamma_i\, dTheta_i \big\|,

the secant (finite-difference) approximation of ``x*(theta)`` on the span of the recent moves:
exact where ``x*`` is linear in ``theta`` and the new move lies in that span, as in Broyden's
multi-secant updates and Anderson mixing, here across problems rather than within one. It is a
starting point only: the solver iterates from it to the same tolerance, so the answer keeps the
same error bound, and it starts from last period's solution instead wherever that is closer to
its own update (``solve_household``'s ``forecast``).

Which solves a forecast fits (:func:`forecast_path`): under a priced equity market a period has
several solves, one per candidate price, and those differ only in the price's two parameters
(the perceived risky return's mean and risk). A period's first solve moves the whole environment,
a direction the last few solves, mostly candidate prices, hardly span; so it is fitted on the
periods' path instead (the last solve of each of the ``DEPTH`` periods before the last, then
every solve of the last period; a period's last solve is its last candidate, next to the clearing
price but not always it), and the period's later solves, moves along the price, on the
last ``DEPTH`` moves, as every solve was before. With one solve a period (the value market) the two
are the same path, the one every solve used before. On the calibrated baseline under the priced
market (the test driver's grids, 100 quarters): 487 EGM iterations a quarter (7 types) against 756
fitting every solve on the last ``DEPTH`` moves, a period's first solves 212 against 485; 3, 4, 5 or
7 older periods instead of ``DEPTH`` gave 520, 490, 484 and 483 (flat from 4 on; ``DEPTH`` keeps the
value market's path, and its bits, as they were).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DEPTH", "environment", "forecast_path", "keep", "secant_forecast"]

RIDGE = 1e-10  # of the moves' squared size; 1e-6 and 1e-2 gave 20% and 53% more iterations
DEPTH = 6  # moves fitted (a later candidate's; the first solve's path has DEPTH older periods' last
# solves and the last period's): on the calibrated default's 40 quarters (7 types, one solve a quarter), 3, 4, 6, 8 and 12 moves
# gave 19,992, 15,443, 12,141, 12,340 and 13,099 EGM iterations (23,546 without the forecast)


def environment(problem) -> np.ndarray:
    """The problem's parameters that move from period to period, as one vector ``theta``: the log
    of income per state (a zero income enters as a constant), the transition matrix, the gross
    safe return, the risky return's mean and log-std, the transitory shock's log-std, the price.
    The forecast fits a move in ``theta`` by the recent moves, so scales matter only for what lies
    outside their span; log income weighs every state's relative move alike (in levels the high
    earners' moves dominated the fit: 13,170 iterations on the calibrated default's 40 quarters
    against 12,141 in logs)."""
    return np.concatenate([
        np.log(np.maximum(problem.income, 1e-300)), problem.transition.ravel(),
        [problem.R_free, problem.risky_mean or 0.0, problem.risky_std, problem.transitory_std, problem.price],
    ])


def secant_forecast(history: list, theta: np.ndarray, depth: int = DEPTH) -> np.ndarray | None:
    """The fixed point's variables forecast at ``theta`` from ``history``, the last solves'
    ``(theta_i, x_i)`` oldest first (module docstring); None where there is no difference to go
    by (fewer than two solves, or their vectors' shapes differ from the last)."""
    theta_last, x_last = history[-1] if history else (None, None)
    recent = []
    for theta_i, x_i in reversed(history[-depth - 1:]):
        if theta_i.shape != theta.shape or x_i.shape != x_last.shape:
            break
        recent.append((theta_i, x_i))
    if len(recent) < 2:
        return None
    recent.reverse()
    d_theta = np.array([b[0] - a[0] for a, b in zip(recent[:-1], recent[1:])])
    d_x = np.array([b[1] - a[1] for a, b in zip(recent[:-1], recent[1:])])
    gram = d_theta @ d_theta.T
    scale = np.trace(gram)
    if not scale > 0.0:
        return None
    # normal equations with a ridge far below the moves' size: collinear moves stay solvable
    gram.flat[:: gram.shape[0] + 1] += RIDGE * scale
    gamma = np.linalg.solve(gram, d_theta @ (theta - theta_last))
    return x_last + gamma @ d_x


def forecast_path(history: list, period: int) -> list:
    """The ``(theta, x)`` path a forecast for a solve in ``period`` fits, from ``history``, the
    solves' ``(period, theta, x)`` oldest first (module docstring): where ``period`` has solves
    already (a later candidate price), the last ``DEPTH + 1`` of them all; otherwise the last
    solve of each of the ``DEPTH`` periods before the last one solved, then all of that one's."""
    if history and history[-1][0] == period:
        path = history[-DEPTH - 1:]
    else:
        last = max((p for p, _, _ in history), default=None)
        older = [history[i] for i in _period_ends(history) if history[i][0] != last]
        path = older[-DEPTH:] + [e for e in history if e[0] == last]
    return [(theta, x) for _, theta, x in path]


def keep(history: list, period: int) -> list:
    """What of ``history`` (``(period, theta, x)``, oldest first) the forecasts of ``period``'s
    later solves and of the next period's first can use: the last ``DEPTH + 1`` solves, every solve
    of ``period`` and of the last period before it, and the last solve of each older period (at
    most ``DEPTH`` of those), in their order. So at most 2 DEPTH + 1 entries and two periods' solves
    (a price search tries at most 1 + ``max_widen`` + ``max_refine`` prices a period)."""
    recent = sorted({p for p, _, _ in history if p <= period})[-2:]
    older = [i for i in _period_ends(history) if history[i][0] not in recent][-DEPTH:]
    kept = set(older) | set(range(max(0, len(history) - DEPTH - 1), len(history)))
    return [e for i, e in enumerate(history) if i in kept or e[0] in recent]


def _period_ends(history: list) -> list[int]:
    """The indices of each period's last solve in ``history`` (``(period, theta, x)``, oldest first)."""
    return [i for i, e in enumerate(history) if i + 1 == len(history) or history[i + 1][0] != e[0]]
