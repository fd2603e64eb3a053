r"""Safeguarded Anderson acceleration of the EGM map's fixed point, compiled (Numba) with the map.

Plain EGM converges at rate about ``(beta R)^(1/gamma)/R`` per iteration (hundreds to thousands of
steps); Anderson mixing (type II, depth 6; Walker & Ni 2011, "Anderson acceleration for
fixed-point iterations", SIAM J. Numer. Anal. 49(4)) removes that slow mode. With residuals
``g = F(x) - x`` and the last ``depth`` differences ``dX``, ``dG`` of iterates and residuals, the
mixing weights solve ``min |g - dG' gamma|`` by its normal equations (``depth x depth``) and the
next iterate is

.. math:: x^+ = x + g - \gamma' (dX + dG).

Safeguard: a mixed iterate is used only if it is finite and keeps cash-on-hand increasing along
each branch (``egm_loops.increasing``); otherwise the plain step ``F(x)`` is, and the history is
cleared.

The iteration calls the map (``egm_loops.map_at``, at the unpacked variables) directly: the
iteration from one start is one compiled call, with no Python between iterations, where the NumPy
version spent as long around the map as in it (docs/performance.md, "Stop 23"). It is written for
that map, not for any ``F``: a compiled function that took its map as an argument would be
compiled again in every process (Numba cannot cache it), seconds in each solver actor. The
differences live in ring buffers and their Gram matrix gains one row a step; its dot products
keep eight partial sums, so they do not wait on each addition (one running sum made the compiled
glue slower than BLAS's at stop 9).
"""
from __future__ import annotations

import numba
import numpy as np

from .egm_loops import SOURCES_FINGERPRINT, _unpack, increasing, map_at

__all__ = ["anderson"]


@numba.njit(inline="always")
def _dot(u, v):
    """sum_i u_i v_i in eight interleaved partial sums (then summed pairwise): a fixed order, so
    the same bits on every machine, without one addition's latency per element."""
    n = u.size
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    top = n - n % 8
    for i in range(0, top, 8):
        s0 += u[i] * v[i]
        s1 += u[i + 1] * v[i + 1]
        s2 += u[i + 2] * v[i + 2]
        s3 += u[i + 3] * v[i + 3]
        s4 += u[i + 4] * v[i + 4]
        s5 += u[i + 5] * v[i + 5]
        s6 += u[i + 6] * v[i + 6]
        s7 += u[i + 7] * v[i + 7]
    for i in range(top, n):
        s0 += u[i] * v[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit
def _solve(A, b):
    """x with A x = b for a small square A: Gaussian elimination with partial pivoting (A and b
    are overwritten)."""
    n = b.size
    for col in range(n):
        pivot = col
        for r in range(col + 1, n):
            if abs(A[r, col]) > abs(A[pivot, col]):
                pivot = r
        if pivot != col:
            for k in range(n):
                A[col, k], A[pivot, k] = A[pivot, k], A[col, k]
            b[col], b[pivot] = b[pivot], b[col]
        for r in range(col + 1, n):
            f = A[r, col] / A[col, col]
            for k in range(col, n):
                A[r, k] -= f * A[col, k]
            b[r] -= f * b[col]
    x = np.empty(n)
    for r in range(n - 1, -1, -1):
        acc = b[r]
        for k in range(r + 1, n):
            acc -= A[r, k] * x[k]
        x[r] = acc / A[r, r]
    return x


@numba.njit
def _anderson(x0, fx0, tol, max_iter, depth, problem):
    """The fixed point ``x = F(x)`` of ``F = egm_map(., problem)`` from ``x0``, with ``fx0 =
    F(x0)``: ``(F(x), iterations, distance)``. Converged (``distance < tol``): ``distance =
    max|F(x) - x|`` at the returned ``F(x)``'s ``x``. Stopped after ``max_iter`` map evaluations:
    ``distance`` is the last measured one, of the iterate before the returned ``F``'s (as the
    NumPy version had it).

    The mixed iterate is written ``F(x) - gamma' dF`` with ``dF = dX + dG`` the differences of
    successive ``F(x)`` (the same point, one history fewer to read)."""
    n = x0.size
    dF, dG = np.empty((depth, n)), np.empty((depth, n))
    gram = np.empty((depth, depth))
    x, fx = x0.copy(), fx0.copy()
    g, fx_prev, cand = np.empty(n), np.empty(n), np.empty(n)
    used = head = 0  # rows of history held; the row the next difference overwrites (the oldest)
    have_prev = False
    dist = np.inf
    for it in range(1, max_iter + 1):
        # one pass: the residual and its size, the newest differences, F(x) kept
        dist = 0.0
        for i in range(n):
            gi = fx[i] - x[i]
            size = abs(gi)
            if size != size:  # NaN: it stays (no size compares above it), and never converges
                dist = size
            elif size > dist:
                dist = size
            if have_prev:
                dF[head, i] = fx[i] - fx_prev[i]
                dG[head, i] = gi - g[i]  # g: the last residual until here
            g[i], fx_prev[i] = gi, fx[i]
        if dist < tol:
            return fx, it, dist
        if have_prev:
            used = min(used + 1, depth)
            for r in range(used):
                gram[head, r] = gram[r, head] = _dot(dG[r], dG[head])
            head = (head + 1) % depth
        have_prev = True
        mixed = False
        if used:
            A = np.empty((used, used))
            trace = 0.0
            for r in range(used):
                trace += gram[r, r]
                for k in range(used):
                    A[r, k] = gram[r, k]
            rhs = np.empty(used)
            for r in range(used):
                A[r, r] += 1e-12 * trace + 1e-300
                rhs[r] = _dot(dG[r], g)
            gamma = _solve(A, rhs)
            finite = True
            for i in range(n):
                step = fx[i]
                for r in range(used):
                    step -= gamma[r] * dF[r, i]
                cand[i] = step
                finite = finite and np.isfinite(step)
            if finite:  # egm_loops._monotone's check, done here to keep c for the map below
                c, share = _unpack(cand, problem)
                mixed = increasing(c, problem)
            if mixed:
                x, cand = cand, x
            else:
                used = head = 0
        if not mixed:  # the plain step; fx is overwritten below
            x, fx = fx, x
            c, share = _unpack(x, problem)
        map_at(c, share, fx, problem)
    return fx, max_iter, dist


def _entry_point(fingerprint: str):
    """:func:`_anderson`, cached on disk under a key that covers the map's files
    (``egm_loops.SOURCES_FINGERPRINT``)."""

    @numba.njit(cache=True)
    def anderson(x0, fx0, tol, max_iter, depth, problem):
        fingerprint  # noqa: B018 (keys the disk cache)
        return _anderson(x0, fx0, tol, max_iter, depth, problem)

    anderson.__doc__ = _anderson.__doc__
    return anderson


anderson = _entry_point(SOURCES_FINGERPRINT)
