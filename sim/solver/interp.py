"""Piecewise-linear interpolation used by the solver, compiled (Numba).

Both helpers extrapolate linearly beyond the end knots, using the first or last segment. They are
the solver's inner loop (the EGM map interpolates next period's consumption and expected marginal
utility at every grid point, state and return node), so they are loops compiled once (cached on
disk), not NumPy's ``searchsorted`` plus gathers, which allocated half a dozen temporaries per call.
The segment of a query ``x`` is the last knot ``<= x`` (``searchsorted(..., side="right") - 1``),
clipped to the first and last segments; it is found by walking from the previous query's segment
(queries come along grids, so mostly a step or two: a binary search's mispredicted branches were
most of the time).
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["interp_rows", "interp_common", "portfolio_terms"]


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
def _hunt(knots, x, j) -> int:
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
            j = _hunt(xk[s], x, j)  # queries mostly come in increasing order
            x0, x1, y0, y1 = xk[s, j], xk[s, j + 1], yk[s, j], yk[s, j + 1]
            out[s, q] = y0 + (x - x0) * ((y1 - y0) / (x1 - x0))


@numba.njit(cache=True)
def _interp_common(xk, yk, xq, values, slopes):
    for s in range(xq.shape[0]):
        j = 0
        for q in range(xq.shape[1]):
            x = xq[s, q]
            j = _hunt(xk, x, j)
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


@numba.njit(cache=True)
def _portfolio_terms(x, q, a, share, R_free, excess, w, gam, foc, dfoc, marg):
    foc[:] = 0.0
    dfoc[:] = 0.0
    marg[:] = 0.0
    for s in range(q.shape[0]):
        for n in range(excess.size):  # n outer: x_n rises with a_j, so each search starts close
            i = 0
            for j in range(a.size):
                Rp = R_free + share[s, j] * excess[n]
                x_n = Rp * a[j]
                i = _hunt(x, x_n, i)
                slope = (q[s, i + 1] - q[s, i]) / (x[i + 1] - x[i])
                qv = q[s, i] + (x_n - x[i]) * slope
                h = 1.0 / (qv * qv) if gam == 2.0 else qv ** (-gam)  # pow was 2/3 of the time
                foc[s, j] += h * excess[n] * w[n]
                dfoc[s, j] += (-gam * h / qv * slope) * excess[n] ** 2 * w[n]
                marg[s, j] += h * Rp * w[n]
        for j in range(a.size):
            dfoc[s, j] *= a[j]


def portfolio_terms(x, q, a, share, R_free, excess, w, gam):
    r"""The EGM portfolio step's sums over the return nodes ``n`` (weights ``w_n``), per state
    ``s`` and end-of-period assets ``a_j`` (:mod:`sim.solver.egm`): with ``R_p = R_f + share
    (R_n - R_f)``, ``x_n = R_p a_j`` and ``h = q(x_n)^{-gamma}`` (``q`` interpolated linearly on
    the knots ``x``, slope ``q'``),

    .. math:: \text{foc} = \sum_n w_n h (R_n - R_f), \quad
              \text{dfoc} = a_j \sum_n w_n (-\gamma h q' / q) (R_n - R_f)^2, \quad
              \text{marg} = \sum_n w_n h R_p .

    Returns ``(foc, dfoc, marg)``, each ``(S, G)``: one compiled pass over ``(S, G, n)``, where
    NumPy built half a dozen ``(S, G, n)`` temporaries per call.
    """
    S, G = share.shape
    foc, dfoc, marg = np.empty((S, G)), np.empty((S, G)), np.empty((S, G))
    as_array = np.ascontiguousarray
    _portfolio_terms(as_array(x, dtype=np.float64), as_array(q, dtype=np.float64), as_array(a, dtype=np.float64),
                     as_array(share, dtype=np.float64), float(R_free), as_array(excess, dtype=np.float64),
                     as_array(w, dtype=np.float64), float(gam), foc, dfoc, marg)
    return foc, dfoc, marg
