r"""The EGM map, compiled (Numba): from the iteration's variables ``(log c_j, share_j)`` to their
update, in one call.

Each EGM iteration (:class:`sim.solver.egm.EgmMap`) builds the endogenous cash-on-hand knots
(with the debt/asset upper envelope where both exist, :mod:`sim.solver.envelope`), evaluates
next period's consumption at every state, bank balance and shock node (expected marginal
utility), then takes one projected Newton step on the portfolio first-order condition at every
state, asset point and return node. Written as NumPy expressions these were a dozen passes over
``(S, G, nodes)`` temporaries; here each is one pass, and the whole map is one compiled call, so
the Anderson iteration around it (:mod:`sim.solver.anderson`) runs without Python in between
(docs/solver.md, "Speed").

Interpolation is piecewise linear with linear extrapolation beyond the end knots
(:mod:`sim.solver.interp`); ``u'(c) = c^{-gamma}`` is computed as ``1/c^2`` when ``gamma = 2`` (a
power was two thirds of the time).

The map's data travel as one tuple, ``problem`` (:attr:`sim.solver.egm.EgmMap.compiled`):
``(a, price, a_min, neg, kinked, nodes, x, income, theta, pi, transition, gamma, beta, R_free,
excess, w, risky)``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numba
import numpy as np

from .envelope import envelope_row
from .interp import hunt

__all__ = ["knots", "unpack", "egm_map", "monotone", "map_at", "increasing", "SOURCES_FINGERPRINT"]

# Numba's disk cache keys a function by its own bytecode and closure and its own file's stamp, not
# by the functions it compiles into itself: after an edit to envelope.py a cached entry point would
# go on running the old envelope. So of these files' functions only the entry points (those Python
# calls) are cached, each closing over a fingerprint of every file whose code it carries: an edit
# recompiles them. (interp.py's own functions compile nothing from another file: cached by it.)
SOURCES_FINGERPRINT = hashlib.sha256(b"".join(
    (Path(__file__).parent / name).read_bytes()
    for name in ("interp.py", "envelope.py", "egm_loops.py", "anderson.py"))).hexdigest()


@numba.njit(inline="always")
def _marginal_utility(c, gam):
    return 1.0 / (c * c) if gam == 2.0 else c ** (-gam)


@numba.njit(inline="always")
def _inverse_marginal_utility(v, gam):
    """``c`` with ``u'(c) = v``: ``v^(-1/gamma)``; ``1/sqrt(v)`` when ``gamma = 2``."""
    return 1.0 / np.sqrt(v) if gam == 2.0 else v ** (-1.0 / gam)


@numba.njit
def expected_marginal_utility(mk, ck, x, income, theta, pi, transition, gam):
    r"""Expected marginal utility of bank balances ``x_i`` (goods), per state ``s`` today:

    .. math:: H(s, x_i) = \sum_{s'} P[s, s'] \sum_k \pi_k\, c(s', x_i + y_{s'} \theta_k)^{-\gamma},

    ``c(s', .)`` interpolated on the knots ``(mk[s'], ck[s'])``, ``(S, K)``; ``income`` is
    ``y_{s'}`` (goods per period), ``(theta, pi)`` the transitory shock's nodes and weights.
    Returns ``(S, len(x))``."""
    S = mk.shape[0]
    g = np.empty((S, x.size))
    seg = np.empty(theta.size, np.int64)  # each shock node's last segment: its m rises with x
    for s in range(S):
        seg.fill(0)
        for i in range(x.size):
            acc = 0.0
            for k in range(theta.size):
                m = x[i] + income[s] * theta[k]
                j = seg[k] = hunt(mk[s], m, seg[k])
                c = ck[s, j] + (m - mk[s, j]) * ((ck[s, j + 1] - ck[s, j]) / (mk[s, j + 1] - mk[s, j]))
                acc += pi[k] * _marginal_utility(max(c, 1e-300), gam)
            g[s, i] = acc
    H = np.zeros((S, x.size))
    for s in range(S):  # the expectation over tomorrow's state
        for r in range(S):
            weight = transition[s, r]
            for i in range(x.size):
                H[s, i] += weight * g[r, i]
    return H


@numba.njit
def portfolio_step(x, H, a, share, neg, R_free, excess, w, gam, beta, c_new, share_new):
    r"""Consumption from the Euler equation and one projected Newton step on the portfolio
    first-order condition, at each state ``s`` and end-of-period asset point ``a_j`` (goods),
    into ``(c_new, share_new)``, ``(S, G)``.

    For ``j >= neg`` (assets ``a_j >= 0``), with ``R_p = R_f + share_j (R_n - R_f)`` on the
    return nodes ``n`` (weights ``w_n``), ``x_n = R_p a_j`` and ``h_n = q(x_n)^{-gamma}``, where
    ``q = H^{-1/gamma}`` is interpolated linearly on the bank-balance points ``x[neg:]``:

    .. math:: \text{foc} = \sum_n w_n h_n (R_n - R_f), \quad
              \text{dfoc} = a_j \sum_n w_n (-\gamma h_n q'/q) (R_n - R_f)^2, \quad
              c_j = \Big(\beta \sum_n w_n h_n R_p\Big)^{-1/\gamma},

    and the new share is ``clip(share_j - foc/dfoc, 0, 1)``. The FOC is decreasing and convex in
    the share, so the step never overshoots from below; one per iteration suffices because the
    share is part of the fixed point. For ``j < neg`` (debt) ``x_j = R_f a_j`` exactly:
    ``c_j = (beta R_f H(s, x_j))^{-1/gamma}``, share unchanged (0).
    """
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
        seg.fill(0)
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


@numba.njit
def _knots(c, share, problem):
    """The endogenous knots ``(m, c, share)``, ``(S, K)``: ``m_j = a_j + p c_j`` (goods) with the
    constraint point ``(a_min, 0)`` first (its share the next knot's), ``K = G + 1``; where
    ``kinked`` (debt and a risky asset) the two branches' upper envelope, ``K = G + 3``."""
    a, price, a_min, neg, kinked, nodes, gam = (problem[0], problem[1], problem[2], problem[3], problem[4],
                                                problem[5], problem[11])
    S, G = c.shape
    width = G + 3 if kinked else G + 1
    mk, ck, sk = np.empty((S, width)), np.empty((S, width)), np.empty((S, width))
    m = np.empty(G)
    for s in range(S):
        for j in range(G):
            m[j] = a[j] + price * c[s, j]
        if kinked:
            envelope_row(m, c[s], share[s], neg, a_min, price, gam, nodes, mk[s, 1:], ck[s, 1:], sk[s, 1:])
        else:
            for j in range(G):  # a loop: a slice assignment takes Numba seconds to compile
                mk[s, j + 1], ck[s, j + 1], sk[s, j + 1] = m[j], c[s, j], share[s, j]
        mk[s, 0], ck[s, 0], sk[s, 0] = a_min, 0.0, sk[s, 1]
    return mk, ck, sk


@numba.njit
def _unpack(v, problem):
    """``(c, share)``, ``(S, G)``, from the variables ``(log c, share)``; the shares clipped to
    [0, 1] (Anderson's mixing may leave them slightly), zero without a risky asset."""
    S, G, risky = problem[10].shape[0], problem[0].size, problem[16]
    c, share = np.empty((S, G)), np.zeros((S, G))
    for s in range(S):
        for j in range(G):
            c[s, j] = np.exp(v[s * G + j])
            if risky:
                share[s, j] = min(max(v[S * G + s * G + j], 0.0), 1.0)
    return c, share


@numba.njit
def _egm_map(v, out, problem):
    """One EGM iteration: the variables ``v = (log c_j, share_j)`` (the shares only with a risky
    asset), ``S x G`` each, state-major, to their update in ``out``."""
    c, share = _unpack(v, problem)
    map_at(c, share, out, problem)


@numba.njit
def map_at(c, share, out, problem):
    """:func:`egm_map` at the unpacked variables ``(c, share)``, ``(S, G)`` each."""
    a, price, a_min, neg, kinked, nodes, x, income, theta, pi, transition, gam, beta, R_free, excess, w, risky = problem
    S, G = c.shape
    mk, ck, _ = _knots(c, share, problem)
    H = expected_marginal_utility(mk, ck, x, income, theta, pi, transition, gam)
    if not risky:  # x = R_f a exactly: the Euler equation alone
        for s in range(S):
            for j in range(G):
                out[s * G + j] = np.log(_inverse_marginal_utility(beta * R_free * H[s, j], gam))
        return
    c_new, share_new = np.empty((S, G)), np.empty((S, G))
    portfolio_step(x, H, a, share, neg, R_free, excess, w, gam, beta, c_new, share_new)
    for s in range(S):
        for j in range(G):
            out[s * G + j] = np.log(c_new[s, j])
            out[S * G + s * G + j] = share_new[s, j]


@numba.njit
def increasing(c, problem):
    """Whether endogenous cash-on-hand ``m_j = a_j + p c_j`` increases along each branch (debt,
    assets) in every state: what the knots' interpolation needs."""
    a, price, neg, kinked = problem[0], problem[1], problem[3], problem[4]
    S, G = c.shape
    for s in range(S):
        before = a[0] + price * c[s, 0]
        for j in range(1, G):
            m = a[j] + price * c[s, j]
            if not (m - before > 0.0) and not (kinked and j == neg):  # the jump between the branches
                return False
            before = m
    return True


@numba.njit
def _monotone(v, problem):
    """Whether the variables ``v`` are finite and their consumption :func:`increasing`: where a
    start may go."""
    for i in range(v.size):
        if not np.isfinite(v[i]):
            return False
    c, _ = _unpack(v, problem)
    return increasing(c, problem)


def _entry_points(fingerprint: str):
    """The cached entry points, keyed by ``fingerprint`` (each calls its implementation above, a
    module global, so nothing but the fingerprint is in its closure)."""

    @numba.njit(cache=True)
    def knots(c, share, problem):
        fingerprint  # noqa: B018 (keys the disk cache)
        return _knots(c, share, problem)

    @numba.njit(cache=True)
    def unpack(v, problem):
        fingerprint  # noqa: B018
        return _unpack(v, problem)

    @numba.njit(cache=True)
    def egm_map(v, out, problem):
        fingerprint  # noqa: B018
        _egm_map(v, out, problem)

    @numba.njit(cache=True)
    def monotone(v, problem):
        fingerprint  # noqa: B018
        return _monotone(v, problem)

    for entry, implementation in ((knots, _knots), (unpack, _unpack), (egm_map, _egm_map), (monotone, _monotone)):
        entry.__doc__ = implementation.__doc__
    return knots, unpack, egm_map, monotone


knots, unpack, egm_map, monotone = _entry_points(SOURCES_FINGERPRINT)
