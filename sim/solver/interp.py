"""Piecewise-linear interpolation used by the solver, compiled (Numba).

It extrapolates linearly beyond the end knots, using the first or last segment. ``interp_rows``
re-expresses a warm start, builds the kernels' tables and places Young's histogram
(:mod:`sim.solver.stationary`); the EGM map's own loops and the debt/asset upper envelope
(:mod:`sim.solver.egm_loops`, :mod:`sim.solver.envelope`) search with :func:`hunt`, inlined.
Compiled once (cached on disk), not NumPy's ``searchsorted`` plus gathers, which allocated half a
dozen temporaries per call. The segment of a query ``x`` is the last knot ``<= x``
(``searchsorted(..., side="right") - 1``), clipped to the first and last segments; it is found by
walking from the previous query's segment (queries come along grids, so mostly a step or two: a
binary search's mispredicted branches were most of the time).
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["interp_rows", "hunt"]


@numba.njit(cache=True, inline="always")
def _segment(knots, x) -> int:
    """Index j of the segment [knots[j], knots[j+1]] used for x: the last knot <= x, in [0, N-2]."""
    lo, hi = 0, knots.size  # invariant: knots[:lo] <= x < knots[hi:]
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < knots[mid]:
            hi = mid
        else:
            lo = mid + 1
    return min(max(lo - 1, 0), knots.size - 2)


@numba.njit(cache=True, inline="always")
def hunt(knots, x, j) -> int:
    """The segment of x (as :func:`_segment`), searched by walking from segment ``j``: fast when
    successive queries are close, as along a grid."""
    last = knots.size - 2
    while j < last and x >= knots[j + 1]:
        j += 1
    while j > 0 and x < knots[j]:
        j -= 1
    return j


@numba.njit(cache=True)
def _interp_rows(xk, yk, xq, out):
    for s in range(xq.shape[0]):
        j = _segment(xk[s], xq[s, 0]) if xq.shape[1] else 0
        for q in range(xq.shape[1]):
            x = xq[s, q]
            j = hunt(xk[s], x, j)  # queries mostly come in increasing order
            x0, x1, y0, y1 = xk[s, j], xk[s, j + 1], yk[s, j], yk[s, j + 1]
            out[s, q] = y0 + (x - x0) * ((y1 - y0) / (x1 - x0))


def interp_rows(xk: np.ndarray, yk: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation: row ``s`` of the result interpolates ``(xk[s], yk[s])`` at ``xq[s]``.

    ``xk``, ``yk`` are ``(S, N)`` with each row of ``xk`` strictly increasing; ``xq`` is ``(S, Q)``.
    """
    xk, yk = np.asarray(xk, dtype=np.float64), np.asarray(yk, dtype=np.float64)
    xq = np.asarray(xq, dtype=np.float64)
    out = np.empty(xq.shape)
    _interp_rows(xk, yk, xq, out)
    return out
