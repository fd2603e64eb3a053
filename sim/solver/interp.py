"""Piecewise-linear interpolation used by the solver, compiled (Numba): a binary search per query.

Both helpers extrapolate linearly beyond the end knots, using the first or last segment. They are
the solver's inner loop (the EGM map interpolates next period's consumption and expected marginal
utility at every grid point, state and return node), so they are loops compiled once (cached on
disk), not NumPy's ``searchsorted`` plus gathers, which allocated half a dozen temporaries per call.
The segment of a query ``x`` is the last knot ``<= x`` (``searchsorted(..., side="right") - 1``),
clipped to the first and last segments.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["interp_rows", "interp_common"]


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


@numba.njit(cache=True)
def _interp_rows(xk, yk, xq, out):
    for s in range(xq.shape[0]):
        for q in range(xq.shape[1]):
            x = xq[s, q]
            j = _segment(xk[s], x)
            x0, x1, y0, y1 = xk[s, j], xk[s, j + 1], yk[s, j], yk[s, j + 1]
            out[s, q] = y0 + (x - x0) * ((y1 - y0) / (x1 - x0))


@numba.njit(cache=True)
def _interp_common(xk, yk, xq, values, slopes):
    for s in range(xq.shape[0]):
        for q in range(xq.shape[1]):
            x = xq[s, q]
            j = _segment(xk, x)
            slope = (yk[s, j + 1] - yk[s, j]) / (xk[j + 1] - xk[j])
            values[s, q] = yk[s, j] + (x - xk[j]) * slope
            slopes[s, q] = slope


def interp_rows(xk: np.ndarray, yk: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation: row ``s`` of the result interpolates ``(xk[s], yk[s])`` at ``xq[s]``.

    ``xk``, ``yk`` are ``(S, N)`` with each row of ``xk`` strictly increasing; ``xq`` is ``(S, Q)``.
    """
    xk, yk = np.asarray(xk, dtype=np.float64), np.asarray(yk, dtype=np.float64)
    xq = np.asarray(xq, dtype=np.float64)
    out = np.empty(xq.shape)
    _interp_rows(xk, yk, xq, out)
    return out


def interp_common(xk: np.ndarray, yk: np.ndarray, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate ``S`` functions that share one knot vector ``xk (N,)``: ``yk (S, N)`` at ``xq (S, ...)``.

    Returns ``(values, slopes)``, both shaped like ``xq``; ``slopes`` is the slope of the segment
    used (needed for Newton steps on the portfolio first-order condition).
    """
    S = yk.shape[0]
    flat = np.ascontiguousarray(xq, dtype=np.float64).reshape(S, -1)
    values, slopes = np.empty(flat.shape), np.empty(flat.shape)
    _interp_common(np.asarray(xk, dtype=np.float64), np.asarray(yk, dtype=np.float64), flat, values, slopes)
    return values.reshape(xq.shape), slopes.reshape(xq.shape)
