r"""The EGM map's inner loops, compiled (Numba): expected marginal utility and the portfolio step.

Each EGM iteration (:class:`sim.solver.egm.EgmMap`) evaluates next period's consumption at every
state, bank balance and shock node, then takes one projected Newton step on the portfolio
first-order condition at every state, asset point and return node. Written as NumPy expressions
these were a dozen passes over ``(S, G, nodes)`` temporaries, and the Python around them, not the
arithmetic, was most of an iteration (0.9-1.3 ms for 24 states x 200 points x 7 return nodes);
here each is one pass, and an iteration takes 0.5-0.7 ms (docs/solver.md, "Speed").

Interpolation is piecewise linear with linear extrapolation beyond the end knots
(:mod:`sim.solver.interp`); ``u'(c) = c^{-gamma}`` is computed as ``1/c^2`` when ``gamma = 2`` (a
power was two thirds of the time).
"""
from __future__ import annotations

import numba
import numpy as np

from .interp import hunt

__all__ = ["expected_marginal_utility", "portfolio_step"]


@numba.njit(cache=True, inline="always")
def _marginal_utility(c, gam):
    return 1.0 / (c * c) if gam == 2.0 else c ** (-gam)


@numba.njit(cache=True, inline="always")
def _inverse_marginal_utility(v, gam):
    """``c`` with ``u'(c) = v``: ``v^(-1/gamma)``; ``1/sqrt(v)`` when ``gamma = 2``."""
    return 1.0 / np.sqrt(v) if gam == 2.0 else v ** (-1.0 / gam)


@numba.njit(cache=True)
def _expected_next(mk, ck, x, income, theta, pi, gam, g):
    seg = np.empty(theta.size, np.int64)  # each shock node's last segment: its m rises with x
    for s in range(mk.shape[0]):
        seg[:] = 0
        for i in range(x.size):
            acc = 0.0
            for k in range(theta.size):
                m = x[i] + income[s] * theta[k]
                j = seg[k] = hunt(mk[s], m, seg[k])
                c = ck[s, j] + (m - mk[s, j]) * ((ck[s, j + 1] - ck[s, j]) / (mk[s, j + 1] - mk[s, j]))
                acc += pi[k] * _marginal_utility(max(c, 1e-300), gam)
            g[s, i] = acc


def expected_marginal_utility(mk, ck, x, income, theta, pi, transition, gam) -> np.ndarray:
    r"""Expected marginal utility of bank balances ``x_i`` (goods), per state ``s`` today:

    .. math:: H(s, x_i) = \sum_{s'} P[s, s'] \sum_k \pi_k\, c(s', x_i + y_{s'} \theta_k)^{-\gamma},

    ``c(s', .)`` interpolated on the knots ``(mk[s'], ck[s'])``, ``(S, K)``; ``income`` is
    ``y_{s'}`` (goods per period), ``(theta, pi)`` the transitory shock's nodes and weights.
    Returns ``(S, len(x))``."""
    g = np.empty((mk.shape[0], x.size))
    _expected_next(mk, ck, x, income, theta, pi, float(gam), g)
    return transition @ g


@numba.njit(cache=True)
def _portfolio_step(x, H, a, share, neg, R_free, excess, w, gam, beta, c_new, share_new):
    S, G = share.shape
    xs = x[neg:]  # the bank balances of the asset branch, where q is known
    q, dq = np.empty(xs.size), np.empty(xs.size - 1)  # q and its slope on each segment
    seg = np.empty(excess.size, np.int64)  # each return node's last segment: its x_n rises with a_j
    for s in range(S):
        for j in range(neg):  # debt (or nothing invested): the safe return only, share 0
            c_new[s, j] = _inverse_marginal_utility(beta * R_free * H[s, j], gam)
            share_new[s, j] = share[s, j]
        for i in range(xs.size):  # q = H^(-1/gamma): consumption-like, nearly linear in x
            q[i] = _inverse_marginal_utility(H[s, neg + i], gam)
        for i in range(xs.size - 1):
            dq[i] = (q[i + 1] - q[i]) / (xs[i + 1] - xs[i])
        seg[:] = 0
        for j in range(neg, G):  # the sums over return nodes stay in registers
            foc = dfoc = marg = 0.0
            sh, aj = share[s, j], a[j]
            for n in range(excess.size):
                e, wn = excess[n], w[n]
                Rp = R_free + sh * e
                x_n = Rp * aj
                i = seg[n] = hunt(xs, x_n, seg[n])
                qv = q[i] + (x_n - xs[i]) * dq[i]
                inv = 1.0 / qv  # u'(q) from 1/q, which the derivative needs too
                h = inv * inv if gam == 2.0 else qv ** (-gam)
                foc += h * e * wn
                dfoc += (-gam * h * inv * dq[i]) * e * e * wn
                marg += h * Rp * wn
            d = dfoc * aj  # <= 0: the first-order condition falls as the share rises
            if d < 0.0:
                newton = sh - foc / d
            else:
                newton = 1.0 if foc > 0.0 else 0.0
            share_new[s, j] = min(max(newton, 0.0), 1.0)
            c_new[s, j] = _inverse_marginal_utility(beta * marg, gam)
        if a[neg] == 0.0 and G > neg + 1:
            # At a = 0 nothing is invested, so the first-order condition does not depend on the
            # share (dfoc = 0): with a zero premium its sign is rounding and the share would flip
            # between 0 and 1 forever. Use its limit from the right (any value is optimal there).
            share_new[s, neg] = share_new[s, neg + 1]


def portfolio_step(x, H, a, share, neg, R_free, excess, w, gam, beta) -> tuple[np.ndarray, np.ndarray]:
    r"""Consumption from the Euler equation and one projected Newton step on the portfolio
    first-order condition, at each state ``s`` and end-of-period asset point ``a_j`` (goods).

    For ``j >= neg`` (assets ``a_j >= 0``), with ``R_p = R_f + share_j (R_n - R_f)`` on the
    return nodes ``n`` (weights ``w_n``), ``x_n = R_p a_j`` and ``h_n = q(x_n)^{-gamma}``, where
    ``q = H^{-1/gamma}`` is interpolated linearly on the bank-balance points ``x[neg:]``:

    .. math:: \text{foc} = \sum_n w_n h_n (R_n - R_f), \quad
              \text{dfoc} = a_j \sum_n w_n (-\gamma h_n q'/q) (R_n - R_f)^2, \quad
              c_j = \Big(\beta \sum_n w_n h_n R_p\Big)^{-1/\gamma},

    and the new share is ``clip(share_j - foc/dfoc, 0, 1)``. The FOC is decreasing and convex in
    the share, so the step never overshoots from below; one per iteration suffices because the
    share is part of the fixed point. For ``j < neg`` (debt) ``x_j = R_f a_j`` exactly:
    ``c_j = (beta R_f H(s, x_j))^{-1/gamma}``, share unchanged (0). Returns ``(c, share)``, ``(S, G)``.
    """
    S, G = share.shape
    c_new, share_new = np.empty((S, G)), np.empty((S, G))
    as_array = np.ascontiguousarray
    _portfolio_step(as_array(x, dtype=np.float64), as_array(H, dtype=np.float64), as_array(a, dtype=np.float64),
                    as_array(share, dtype=np.float64), int(neg), float(R_free), as_array(excess, dtype=np.float64),
                    as_array(w, dtype=np.float64), float(gam), float(beta), c_new, share_new)
    return c_new, share_new
