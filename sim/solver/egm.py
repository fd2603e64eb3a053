r"""The endogenous grid method with portfolio choice, and the fixed-point iteration that solves it.

:class:`EgmMap` discretises a :class:`~sim.solver.problem.HouseholdProblem` and maps
``(log c_j, varsigma_j)`` on the end-of-period asset grid to its update: expected marginal utility
``H(s, x)`` over next period's states and shocks, then consumption from the Euler equation and one
projected Newton step on the portfolio first-order condition (equations in
:mod:`sim.solver.household`). With debt and a risky asset both allowed, the debt and asset branches
are combined by an upper envelope. :func:`anderson` iterates the map to its fixed point.
"""
from __future__ import annotations

import numpy as np

from .egm_loops import expected_marginal_utility, portfolio_step
from .interp import interp_rows
from .policy import PolicySolution
from .problem import HouseholdProblem, asset_grid


class EgmMap:
    """Discretised problem and the EGM map ``(log c_j, share_j) -> (log c_j, share_j)``."""

    def __init__(self, p: HouseholdProblem):
        self.p = p
        self.a = p.a_grid
        self.theta, self.pi = p.shocks
        self.R, self.w = p.returns
        # Debt (a < 0) earns R_f, positive assets the portfolio return: when both exist, the
        # marginal return on saving jumps up at a = 0 and the problem is not concave there.
        self.kinked = p.has_risky and p.borrowing_limit > 0.0
        if self.kinked:  # a = 0 twice: end of the debt branch (0-) and start of the asset branch (0+)
            self.a = np.concatenate([self.a[self.a <= 0.0], self.a[self.a >= 0.0]])
        # Bank balances x = R_port * a at which next-period marginal utility is needed.
        if not p.has_risky:
            self.x = p.R_free * self.a  # exact: no interpolation of H for the safe-only model
            self.neg = self.a.size  # every grid point uses the safe return
        else:
            # first index of the asset branch: a >= 0 (a < 0 is debt with share 0)
            self.neg = int(np.sum(self.a < 0.0)) + (1 if self.kinked else 0)
            pos = self.a[self.neg :]
            hi = self.R.max() * self.a[-1]
            lo = self.R.min() * pos[0] if pos[0] > 0 else 0.0
            x_pos = asset_grid(lo, hi, self.a.size + 50)
            self.x = np.concatenate([p.R_free * self.a[: self.neg], x_pos])
            self.excess = self.R - p.R_free

    def knots(self, c: np.ndarray, share: np.ndarray | None = None):
        """Endogenous (m, c[, share]) knots with the constraint point (m_min, 0) prepended."""
        S = c.shape[0]
        m = self.a[None, :] + self.p.price * c
        if self.kinked:
            m, c, share = self._upper_envelope(m, c, np.zeros_like(c) if share is None else share)
        mk, ck = np.empty((S, m.shape[1] + 1)), np.empty((S, m.shape[1] + 1))
        mk[:, 0], mk[:, 1:] = self.p.a_min, m
        ck[:, 0], ck[:, 1:] = 0.0, c
        if share is None:
            return mk, ck, None
        return mk, ck, np.hstack([share[:, :1], share])

    def _upper_envelope(self, m, c, share, points: int = 65):
        r"""Combine the debt branch (a <= 0) and the asset branch (a >= 0) of the EGM output.

        Their ``m`` ranges overlap on ``[m_pos(0), m_neg(0)]``. Both branches pass through
        ``a = 0`` with the same continuation value, and along a branch ``dV/dm = u'(c)/p``, so
        the value gain of the asset branch at ``m`` needs no value function:

        .. math:: D(m) = u(c^+_0) - u(c^-_0) + \frac{1}{p}\Big(\int_{m^+_0}^{m} u'(c^+) +
                         \int_{m}^{m^-_0} u'(c^-)\Big).

        ``D`` increases in ``m``; the household switches from debt to the risky asset where
        ``D = 0`` (consumption jumps down there). Knots dominated by the other branch are
        dropped; rows are padded at the top along the linear extrapolation to keep one shape.
        """
        S, G = m.shape
        k = self.neg  # a[k-1] = 0- (debt branch end), a[k] = 0+ (asset branch start)
        p, gam = self.p.price, self.p.crra
        m_neg, c_neg = np.hstack([np.full((S, 1), self.p.a_min), m[:, :k]]), np.hstack([np.zeros((S, 1)), c[:, :k]])
        m_pos, c_pos = m[:, k:], c[:, k:]
        lo, hi = m_pos[:, :1], m_neg[:, -1:]
        xs = lo + (hi - lo) * np.linspace(0.0, 1.0, points)[None, :]
        f_pos = interp_rows(m_pos, c_pos, xs) ** (-gam)  # u'(c) along each branch
        f_neg = interp_rows(m_neg, c_neg, xs) ** (-gam)

        def cumulative(f):  # trapezoid integral from the left end of each row
            steps = 0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(xs, axis=1)
            return np.hstack([np.zeros((S, 1)), np.cumsum(steps, axis=1)])

        def u(x):
            return np.log(x) if gam == 1.0 else x ** (1.0 - gam) / (1.0 - gam)

        I_neg = cumulative(f_neg)
        D = u(c_pos[:, :1]) - u(c_neg[:, -1:]) + (cumulative(f_pos) + I_neg[:, -1:] - I_neg) / p
        # first grid point with D >= 0; interpolate the crossing linearly
        j = np.argmax(D >= 0.0, axis=1)
        j = np.where(np.any(D >= 0.0, axis=1), j, points - 1)
        jm = np.maximum(j - 1, 0)
        d0, d1 = np.take_along_axis(D, jm[:, None], 1), np.take_along_axis(D, j[:, None], 1)
        x0, x1 = np.take_along_axis(xs, jm[:, None], 1), np.take_along_axis(xs, j[:, None], 1)
        t = np.where(d1 > d0, np.clip(-d0 / np.where(d1 > d0, d1 - d0, 1.0), 0.0, 1.0), 1.0)
        star = x0 + t * (x1 - x0)  # (S, 1) switching cash-on-hand
        eps = 1e-10 * (1.0 + np.abs(star))
        c_lo = interp_rows(m_neg, c_neg, star)
        c_hi = interp_rows(m_pos, c_pos, np.maximum(star + eps, m_pos[:, :1]))
        s_hi = interp_rows(m_pos, share[:, k:], np.clip(star + eps, m_pos[:, :1], m_pos[:, -1:]))
        mm = np.hstack([m[:, :k], star, star + eps, m_pos])
        cc = np.hstack([c[:, :k], c_lo, c_hi, c_pos])
        ss = np.hstack([share[:, :k], np.zeros((S, 1)), s_hi, share[:, k:]])
        keep = np.hstack([m[:, :k] < star, np.ones((S, 2), bool), m_pos > star + eps])
        order = np.argsort(np.where(keep, mm, np.inf), axis=1, kind="stable")
        mm, cc, ss = (np.take_along_axis(v, order, 1) for v in (mm, cc, ss))
        n_keep = keep.sum(axis=1, keepdims=True)
        col = np.arange(G + 2)[None, :]
        # pad: continue the last segment linearly (what on_grid would extrapolate anyway)
        last = n_keep - 1
        m_l, m_p = np.take_along_axis(mm, last, 1), np.take_along_axis(mm, last - 1, 1)
        c_l, c_p = np.take_along_axis(cc, last, 1), np.take_along_axis(cc, last - 1, 1)
        s_l = np.take_along_axis(ss, last, 1)
        step = col - last
        pad = col > last
        mm = np.where(pad, m_l + step * (m_l - m_p), mm)
        cc = np.where(pad, c_l + step * (c_l - c_p), cc)
        ss = np.where(pad, s_l, ss)
        return mm, cc, ss

    def expected_marginal_utility(self, c: np.ndarray) -> np.ndarray:
        """``H(s, x) = sum_s' P[s,s'] sum_k pi_k c(s', x + y_s' theta_k)^(-gamma)`` on ``self.x``."""
        mk, ck, _ = self.knots(c)
        p = self.p
        return expected_marginal_utility(mk, ck, self.x, p.income, self.theta, self.pi, p.transition, p.crra)

    def step(self, c: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        H = self.expected_marginal_utility(c)
        if not p.has_risky:
            return (p.beta * p.R_free * H) ** (-1.0 / p.crra), share
        return portfolio_step(self.x, H, self.a, share, self.neg, p.R_free, self.excess, self.w, p.crra, p.beta)

    def initial(self) -> tuple[np.ndarray, np.ndarray]:
        """Perfect-foresight-like start: ``c = y_s + kappa/(1-kappa) (a - a_min)``."""
        p = self.p
        R, w = self.R, self.w
        Rp = p.R_free + p.limit_share * (R - p.R_free)
        kappa = 1.0 - (p.beta * float(w @ Rp ** (1.0 - p.crra))) ** (1.0 / p.crra)
        kappa = min(max(kappa, 0.01), 0.5)
        base = np.maximum(p.income, 0.05 * p.income_scale) / p.price
        c = base[:, None] + kappa / (1.0 - kappa) * (self.a - self.a[0])[None, :] / p.price
        share = np.zeros_like(c)
        if p.has_risky:
            share[:, self.neg :] = 1.0
        return c, share

    def from_guess(self, guess: PolicySolution) -> tuple[np.ndarray, np.ndarray]:
        """Re-express a previous solution on this grid: c and share as functions of assets."""
        a_knots = guess.m - guess.price * guess.c
        a = np.broadcast_to(self.a, (guess.m.shape[0], self.a.size))
        # Drop the prepended (m_min, 0) point: it has the same assets as the kink.
        c = interp_rows(a_knots[:, 1:], guess.c[:, 1:], a)
        share = interp_rows(a_knots[:, 1:], guess.share[:, 1:], np.clip(a, a_knots[:, 1:2], a_knots[:, -1:]))
        share = np.clip(share, 0.0, 1.0) if self.p.has_risky else np.zeros_like(c)
        share[:, : self.neg] = 0.0
        return np.maximum(c, 1e-12 * self.p.income_scale + 1e-300), share

    def pack(self, c: np.ndarray, share: np.ndarray) -> np.ndarray:
        """The iteration's variables: ``log c_j`` on the end-of-period grid, then the shares
        (risky asset only)."""
        return np.concatenate([np.log(c).ravel(), share.ravel()]) if self.p.has_risky else np.log(c).ravel()

    def variables(self, solution: PolicySolution) -> np.ndarray:
        """A solution as the iteration's variables on this grid (:meth:`from_guess`, packed)."""
        return self.pack(*self.from_guess(solution))


def anderson(F, x0: np.ndarray, ok, tol: float, max_iter: int, depth: int = 6, fx0: np.ndarray | None = None):
    """Safeguarded Anderson acceleration (type II) of the fixed point ``x = F(x)``.

    Returns ``(x, iterations, distance)`` where ``distance = max|F(x) - x|`` at the last ``x``.
    A mixed iterate is accepted only if ``ok(x)``; otherwise the plain step ``F(x)`` is used and
    the history is cleared. Plain EGM converges at rate ~ ``(beta R)^(1/gamma)/R`` per iteration
    (hundreds to thousands of steps); the mixing removes that slow mode.

    With residuals ``g = F(x) - x`` and the last ``depth`` differences ``dX``, ``dG`` of iterates
    and residuals, the mixing weights solve ``min |g - dG' gamma|`` by its normal equations
    (``depth x depth``) and the next iterate is ``x + g - gamma' (dX + dG)``. The differences live
    in ring buffers and their Gram matrix ``dG dG'`` gains one row a step, so an iteration costs
    a few passes over ``x``, not a re-stacking and a ``depth``-fold product of the whole history.
    ``fx0``: ``F(x0)`` where the caller has it already.
    """
    n = x0.size
    dX, dG = np.empty((depth, n)), np.empty((depth, n))
    gram = np.empty((depth, depth))
    used = head = 0  # rows of history held; the row the next difference overwrites (the oldest)
    x = x0
    fx = F(x) if fx0 is None else fx0
    g_prev = x_prev = None
    dist = np.inf
    for it in range(1, max_iter + 1):
        g = fx - x
        dist = float(np.max(np.abs(g)))
        if dist < tol:
            return fx, it, dist
        if g_prev is not None:
            np.subtract(x, x_prev, out=dX[head])
            np.subtract(g, g_prev, out=dG[head])
            used = min(used + 1, depth)
            gram[head, :used] = gram[:used, head] = dG[:used] @ dG[head]
            head = (head + 1) % depth
        x_prev, g_prev = x, g
        x_new = fx
        if used:
            A = gram[:used, :used].copy()
            A.flat[:: used + 1] += 1e-12 * np.trace(A) + 1e-300
            gamma = np.linalg.solve(A, dG[:used] @ g)
            cand = x + g - gamma @ dX[:used] - gamma @ dG[:used]
            if np.all(np.isfinite(cand)) and ok(cand):
                x_new = cand
            else:
                used = head = 0
        x = x_new
        fx = F(x)
    return fx, max_iter, dist
