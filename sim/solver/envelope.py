r"""The debt/asset upper envelope of the EGM output, compiled (Numba), one state's row at a time.

With borrowing and a risky asset both allowed the marginal return on saving jumps from ``R_f``
(debt) to the portfolio's at ``a = 0``, and EGM returns two overlapping branches of endogenous
cash-on-hand: the debt branch (``a <= 0``, the first ``k`` grid points) and the asset branch
(``a >= 0``, the rest). Their ``m`` ranges overlap on ``[m_pos(0), m_neg(0)]``. Both pass
through ``a = 0`` with the same continuation value, and along a branch ``dV/dm = u'(c)/p``, so
the value gain of the asset branch at ``m`` needs no value function:

.. math:: D(m) = u(c^+_0) - u(c^-_0) + \frac{1}{p}\Big(\int_{m^+_0}^{m} u'(c^+) +
                 \int_{m}^{m^-_0} u'(c^-)\Big).

``D`` increases in ``m``; the household switches from debt to the risky asset where ``D = 0``
(consumption jumps down there). Knots dominated by the other branch are dropped; rows are padded
at the top along the linear extrapolation to keep one shape, ``G + 2`` knots.

Not cached on disk by itself: it is compiled into the solver's entry points, whose cache key
covers this file (``sim.solver.egm_loops.SOURCES_FINGERPRINT``).
"""
from __future__ import annotations

import numba
import numpy as np

from .interp import hunt


@numba.njit
def _on(xk, yk, x, j):
    """(xk, yk) on segment j at x: linear, extrapolating beyond the end knots (as interp_rows)."""
    return yk[j] + (x - xk[j]) * ((yk[j + 1] - yk[j]) / (xk[j + 1] - xk[j]))


@numba.njit
def _at(xk, yk, x):
    """(xk, yk) interpolated at x (the segment searched from the first)."""
    return _on(xk, yk, x, hunt(xk, x, 0))


@numba.njit
def _utility(c, gam):
    return np.log(c) if gam == 1.0 else c ** (1.0 - gam) / (1.0 - gam)


@numba.njit
def envelope_row(m, c, share, k, a_min, price, gam, nodes, mm, cc, ss):
    """One state's upper envelope: ``(m, c, share)`` of length G (debt branch ``[:k]``, asset
    branch ``[k:]``) into ``(mm, cc, ss)`` of length G + 2. ``nodes``: the points of [0, 1] at
    which the overlap is cut to integrate ``u'`` by trapezoids (65 of them)."""
    G = m.size
    n_neg = k + 1  # the debt branch with the constraint point (a_min, 0) before it
    m_neg, c_neg = np.empty(n_neg), np.empty(n_neg)
    m_neg[0], c_neg[0] = a_min, 0.0
    for i in range(k):  # loops, not slice assignments: those take Numba seconds to compile
        m_neg[i + 1], c_neg[i + 1] = m[i], c[i]
    m_pos, c_pos, s_pos = m[k:], c[k:], share[k:]
    lo, hi = m_pos[0], m_neg[n_neg - 1]
    points = nodes.size
    xs = np.empty(points)
    for i in range(points):
        xs[i] = lo + (hi - lo) * nodes[i]
    # D at each point: the two branches' u' integrated from their ends by trapezoids
    i_pos, i_neg = np.zeros(points), np.zeros(points)
    j_pos, j_neg = hunt(m_pos, xs[0], 0), hunt(m_neg, xs[0], 0)  # then walked along the points
    f_pos, f_neg = _on(m_pos, c_pos, xs[0], j_pos) ** (-gam), _on(m_neg, c_neg, xs[0], j_neg) ** (-gam)
    for i in range(1, points):
        j_pos, j_neg = hunt(m_pos, xs[i], j_pos), hunt(m_neg, xs[i], j_neg)
        g_pos, g_neg = _on(m_pos, c_pos, xs[i], j_pos) ** (-gam), _on(m_neg, c_neg, xs[i], j_neg) ** (-gam)
        i_pos[i] = i_pos[i - 1] + 0.5 * (g_pos + f_pos) * (xs[i] - xs[i - 1])
        i_neg[i] = i_neg[i - 1] + 0.5 * (g_neg + f_neg) * (xs[i] - xs[i - 1])
        f_pos, f_neg = g_pos, g_neg
    base = _utility(c_pos[0], gam) - _utility(c_neg[n_neg - 1], gam)
    j = points - 1  # the first point with D >= 0 (the last if none)
    for i in range(points):
        if base + (i_pos[i] + i_neg[points - 1] - i_neg[i]) / price >= 0.0:
            j = i
            break
    jm = max(j - 1, 0)
    d0 = base + (i_pos[jm] + i_neg[points - 1] - i_neg[jm]) / price
    d1 = base + (i_pos[j] + i_neg[points - 1] - i_neg[j]) / price
    t = min(max(-d0 / (d1 - d0), 0.0), 1.0) if d1 > d0 else 1.0
    star = xs[jm] + t * (xs[j] - xs[jm])  # the switching cash-on-hand, interpolated linearly
    eps = 1e-10 * (1.0 + abs(star))
    above = star + eps
    # the kept knots in order: the debt branch below the switch, the switch from both sides, the
    # asset branch above it (each branch's m rises, so this is sorted; sorted anyway, stably)
    n = 0
    for i in range(k):
        if m[i] < star:
            mm[n], cc[n], ss[n] = m[i], c[i], share[i]
            n += 1
    mm[n], cc[n], ss[n] = star, _at(m_neg, c_neg, star), 0.0
    mm[n + 1], cc[n + 1] = above, _at(m_pos, c_pos, max(above, m_pos[0]))
    ss[n + 1] = _at(m_pos, s_pos, min(max(above, m_pos[0]), m_pos[G - k - 1]))
    n += 2
    for i in range(G - k):
        if m_pos[i] > above:
            mm[n], cc[n], ss[n] = m_pos[i], c_pos[i], s_pos[i]
            n += 1
    for i in range(1, n):  # insertion sort: stable, one pass where the rows are sorted already
        v, w, u = mm[i], cc[i], ss[i]
        r = i - 1
        while r >= 0 and mm[r] > v:
            mm[r + 1], cc[r + 1], ss[r + 1] = mm[r], cc[r], ss[r]
            r -= 1
        mm[r + 1], cc[r + 1], ss[r + 1] = v, w, u
    # pad: continue the last segment linearly (what the policy's extrapolation would give anyway)
    last = n - 1
    dm, dc = mm[last] - mm[last - 1], cc[last] - cc[last - 1]
    for col in range(n, G + 2):
        mm[col] = mm[last] + (col - last) * dm
        cc[col] = cc[last] + (col - last) * dc
        ss[col] = ss[last]
