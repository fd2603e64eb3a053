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

computed on a grid of ``x`` by one matrix product over states. Then, with ``R_n`` the return nodes
(weights ``w_n``) and ``x_n = (R_f + \varsigma (R_n - R_f)) a_j``,

.. math:: c_j = \Big(\beta \sum_n w_n (R_f + \varsigma(R_n - R_f)) H(s, x_n)\Big)^{-1/\gamma},
          \qquad m_j = a_j + p\, c_j ,

and ``varsigma`` solves ``sum_n w_n (R_n - R_f) H(s, x_n) = 0``. ``H`` is interpolated through its
"consumption-like" transform ``H^{-1/gamma}``, which is nearly linear. The share is updated by one
projected Newton step per EGM iteration (the FOC is decreasing and convex in the share, so
Newton does not overshoot from below), so at the fixed point both conditions hold. The fixed
point in ``(log c_j, varsigma_j)`` is found by EGM iteration with Anderson acceleration
(safeguarded: a mixed iterate is used only if it keeps ``m_j`` increasing).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .interp import interp_common, interp_rows
from .markov import check_transition, product_chain, stationary_distribution, tauchen
from .returns import lognormal_nodes, mean_one_lognormal_nodes, portfolio_limit_share

__all__ = [
    "HouseholdProblem",
    "PolicySolution",
    "solve_household",
    "default_problem",
    "bench_solver",
    "asset_grid",
]


def asset_grid(lo: float, hi: float, n: int, nest: int = 2) -> np.ndarray:
    """``n`` points on ``[lo, hi]``, nested-exponentially dense near ``lo`` (HARK-style ``nest``).

    Consumption functions curve most near the borrowing constraint, so that is where points go.
    """
    span = hi - lo
    top = span
    for _ in range(nest):
        top = np.log1p(top)
    u = np.linspace(0.0, top, n)
    for _ in range(nest):
        u = np.expm1(u)
    u[-1] = span  # remove rounding at the top
    return lo + u


def _finite_positive(name: str, value: float) -> float:
    if value is None or not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def _count(name: str, value: int, least: int) -> int:
    if int(value) != value or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value}")
    return int(value)


@dataclass(frozen=True, eq=False)
class HouseholdProblem:
    """One household problem; validated on construction (bad parameters raise ``ValueError``).

    Units: ``income`` and ``a_max``/``borrowing_limit`` are goods per period; returns are gross
    per period; ``risky_std`` and ``transitory_std`` are standard deviations of the *log*.
    ``a_max=None`` picks ``100 x`` the stationary mean income (or 100 if income is zero).
    """

    crra: float
    beta: float
    R_free: float
    transition: np.ndarray
    income: np.ndarray
    risky_mean: float | None = None
    risky_std: float = 0.0
    risky_nodes: int = 7
    transitory_std: float = 0.0
    transitory_nodes: int = 1
    borrowing_limit: float = 0.0
    price: float = 1.0
    grid_points: int = 200
    a_max: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        set_(self, "crra", _finite_positive("crra (risk aversion gamma)", self.crra))
        set_(self, "beta", _finite_positive("beta (discount factor)", self.beta))
        set_(self, "R_free", _finite_positive("R_free (gross safe return)", self.R_free))
        income = np.array(self.income, dtype=float).reshape(-1)
        if income.size == 0 or not np.all(np.isfinite(income)):
            raise ValueError("income must be a non-empty vector of finite numbers")
        if np.any(income < 0.0):
            raise ValueError(f"income must be >= 0 in every state (min is {income.min():.4g})")
        P = check_transition(self.transition, income.size, "transition")
        income.setflags(write=False)
        P = P.copy()
        P.setflags(write=False)
        set_(self, "income", income)
        set_(self, "transition", P)
        if self.risky_mean is not None:
            set_(self, "risky_mean", _finite_positive("risky_mean (gross risky return)", self.risky_mean))
        if not np.isfinite(self.risky_std) or self.risky_std < 0.0:
            raise ValueError(f"risky_std must be >= 0, got {self.risky_std}")
        if not np.isfinite(self.transitory_std) or self.transitory_std < 0.0:
            raise ValueError(f"transitory_std must be >= 0, got {self.transitory_std}")
        set_(self, "risky_nodes", _count("risky_nodes", self.risky_nodes, 1))
        set_(self, "transitory_nodes", _count("transitory_nodes", self.transitory_nodes, 1))
        set_(self, "grid_points", _count("grid_points", self.grid_points, 10))
        if not np.isfinite(self.borrowing_limit) or self.borrowing_limit < 0.0:
            raise ValueError(f"borrowing_limit must be >= 0 (assets >= -borrowing_limit), got {self.borrowing_limit}")
        set_(self, "price", _finite_positive("price (goods per unit of consumption)", self.price))
        if self.a_max is None:
            set_(self, "a_max", 100.0 * self.income_scale)
        set_(self, "a_max", _finite_positive("a_max", self.a_max))
        self._check_solvable()

    # ----- derived objects (cached; the dataclass is frozen) -----------------------------------
    @property
    def n_states(self) -> int:
        return self.income.size

    @property
    def has_risky(self) -> bool:
        return self.risky_mean is not None

    @cached_property
    def income_scale(self) -> float:
        """Stationary mean income (goods per period), used to scale grids; 1 if income is zero."""
        mean = float(stationary_distribution(self.transition) @ self.income)
        return mean if mean > 0.0 else (float(self.income.max()) or 1.0)

    @cached_property
    def shocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Transitory multipliers ``theta_k`` and probabilities ``pi_k`` (equiprobable, mean one)."""
        return mean_one_lognormal_nodes(self.transitory_std, self.transitory_nodes)

    @cached_property
    def returns(self) -> tuple[np.ndarray, np.ndarray]:
        """Risky return nodes ``R_n`` and weights ``w_n`` (equiprobable, exact mean)."""
        if not self.has_risky:
            return np.array([self.R_free]), np.ones(1)
        return lognormal_nodes(self.risky_mean, self.risky_std, self.risky_nodes)

    @cached_property
    def limit_share(self) -> float:
        """Share as wealth -> infinity: one-period CRRA optimum on the discretised returns."""
        if not self.has_risky:
            return 0.0
        return portfolio_limit_share(*self.returns, self.R_free, self.crra)

    @property
    def a_min(self) -> float:
        return -self.borrowing_limit

    def _check_solvable(self) -> None:
        """Raise ``ValueError`` when the infinite-horizon problem has no (stationary) solution."""
        if self.beta * self.R_free >= 1.0:
            raise ValueError(
                f"beta*R_free = {self.beta * self.R_free:.6g} >= 1: households are too patient; "
                "assets grow without bound and there is no stationary solution"
            )
        worst = self.income.min() * self.shocks[0].min()
        # The household must be able to carry the maximal debt forever: interest (R_f-1)*b paid
        # out of the worst income. At equality consumption would be zero forever (u' infinite).
        if self.borrowing_limit > 0.0 and worst - (self.R_free - 1.0) * self.borrowing_limit <= 0.0:
            raise ValueError(
                f"borrowing_limit {self.borrowing_limit:.6g} is at or beyond the natural borrowing limit "
                f"(worst income {worst:.6g} cannot service (R_free-1)*debt); lower it"
            )
        # Return impatience: beta*E[R_p^(1-gamma)] < 1 keeps the limiting MPC positive. When it
        # fails with gamma < 1 the value of wealth is infinite, so there is no solution.
        R, w = self.returns
        Rp = self.R_free + self.limit_share * (R - self.R_free)
        ric = self.beta * float(w @ Rp ** (1.0 - self.crra))
        if ric >= 1.0 and self.crra < 1.0:
            raise ValueError(
                f"return impatience fails (beta*E[R^(1-gamma)] = {ric:.6g} >= 1 with gamma < 1): "
                "value is infinite, no solution"
            )

    @cached_property
    def a_grid(self) -> np.ndarray:
        """End-of-period asset grid ``(G,)``: from the limit ``-b`` to ``a_max``, 0 included if b > 0."""
        G = self.grid_points
        lo = self.a_min
        # If income can be zero and b = 0, a = 0 would leave zero consumption next period: the
        # natural limit coincides with the artificial one, so start just above it.
        if self.borrowing_limit == 0.0 and self.income.min() == 0.0:
            lo = 1e-7 * self.income_scale
        if self.borrowing_limit > 0.0:
            grid = np.union1d(asset_grid(lo, self.a_max, G - 1), [0.0])
        else:
            grid = asset_grid(lo, self.a_max, G)
        return grid


@dataclass(frozen=True, eq=False)
class PolicySolution:
    """Policies per discrete state on endogenous cash-on-hand points.

    ``m``, ``c``, ``share`` are ``(S, G)``; ``m[:, 0] = -borrowing_limit`` with ``c = 0`` there, so
    linear interpolation gives ``c = (m - m_min)/price`` in the constrained region; ``m[:, 1]`` is
    the kink where the borrowing limit stops binding. ``c`` is consumption in units (spending is
    ``price * c`` goods). ``share`` is the risky share of end-of-period assets (0 where assets
    are <= 0 or there is no risky asset).
    """

    m: np.ndarray
    c: np.ndarray
    share: np.ndarray
    iterations: int = 0  # EGM iterations used
    distance: float = 0.0  # last max change in (log c, share): below the requested tol
    price: float = 1.0  # goods per unit of consumption, so that a = m - price * c

    def on_grid(self, m_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(c, share), each ``(S, len(m_points))``: linear in ``m`` per state; ``c`` extrapolates
        linearly above the last point, ``share`` is held constant there; ``m`` below the minimum
        gives ``c = 0``."""
        q = np.asarray(m_points, dtype=float).reshape(1, -1)
        S = self.m.shape[0]
        qq = np.broadcast_to(q, (S, q.shape[1]))
        c = interp_rows(self.m, self.c, qq)
        c = np.where(qq < self.m[:, :1], 0.0, c)
        inside = np.clip(qq, self.m[:, :1], self.m[:, -1:])
        share = interp_rows(self.m, self.share, inside)
        return c, share

    def assets(self, m_points: np.ndarray) -> np.ndarray:
        """End-of-period assets ``a = m - price * c(m)``, ``(S, len(m_points))``."""
        c, _ = self.on_grid(m_points)
        return np.asarray(m_points, dtype=float)[None, :] - self.price * c


class _Egm:
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
        self.mu_income = p.income[:, None, None] * self.theta[None, None, :]

    def knots(self, c: np.ndarray, share: np.ndarray | None = None):
        """Endogenous (m, c[, share]) knots with the constraint point (m_min, 0) prepended."""
        S = c.shape[0]
        m = self.a[None, :] + self.p.price * c
        if share is None:
            share = np.zeros_like(c)
        if self.kinked:
            m, c, share = self._upper_envelope(m, c, share)
        m0 = np.full((S, 1), self.p.a_min)
        return np.hstack([m0, m]), np.hstack([np.zeros((S, 1)), c]), np.hstack([share[:, :1], share])

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
        S = c.shape[0]
        cash = (self.x[None, :, None] + self.mu_income).reshape(S, -1)
        c_next = interp_rows(mk, ck, cash).reshape(S, self.x.size, -1)
        g = np.maximum(c_next, 1e-300) ** (-self.p.crra) @ self.pi
        return self.p.transition @ g

    def step(self, c: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        H = self.expected_marginal_utility(c)
        if not p.has_risky:
            return (p.beta * p.R_free * H) ** (-1.0 / p.crra), share
        gam = p.crra
        k = self.neg
        marg = np.empty_like(c)
        marg[:, :k] = p.R_free * H[:, :k]  # debt or nothing invested: safe return only
        q = H[:, k:] ** (-1.0 / gam)  # ~linear transform of H, interpolated in x
        a_pos = self.a[k:]
        s_old = share[:, k:]
        Rp = p.R_free + s_old[..., None] * self.excess  # (S, G+, n)
        qv, dq = interp_common(self.x[k:], q, Rp * a_pos[None, :, None])
        h = qv ** (-gam)
        foc = (h * self.excess) @ self.w
        dfoc = ((-gam * h / qv * dq) * self.excess**2) @ self.w * a_pos  # <= 0
        marg[:, k:] = (h * Rp) @ self.w
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = np.where(dfoc < 0.0, s_old - foc / dfoc, np.where(foc > 0.0, 1.0, 0.0))
        new_share = share.copy()
        new_share[:, k:] = np.clip(newton, 0.0, 1.0)
        return (p.beta * marg) ** (-1.0 / gam), new_share

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


def _anderson(F, x0: np.ndarray, ok, tol: float, max_iter: int, depth: int = 6):
    """Safeguarded Anderson acceleration (type II) of the fixed point ``x = F(x)``.

    Returns ``(x, iterations, distance)`` where ``distance = max|F(x) - x|`` at the last ``x``.
    A mixed iterate is accepted only if ``ok(x)``; otherwise the plain step ``F(x)`` is used and
    the history is cleared. Plain EGM converges at rate ~ ``(beta R)^(1/gamma)/R`` per iteration
    (hundreds to thousands of steps); the mixing removes that slow mode.
    """
    x = x0
    fx = F(x)
    dX, dG = [], []
    g_prev = x_prev = None
    dist = np.inf
    for it in range(1, max_iter + 1):
        g = fx - x
        dist = float(np.max(np.abs(g)))
        if dist < tol:
            return fx, it, dist
        if g_prev is not None:
            dX.append(x - x_prev)
            dG.append(g - g_prev)
            if len(dX) > depth:
                dX.pop(0)
                dG.pop(0)
        x_prev, g_prev = x, g
        x_new = fx
        if dX:
            Gm = np.stack(dG, axis=1)
            Xm = np.stack(dX, axis=1)
            # Normal equations of min ||g - Gm gamma||: (depth x depth), much cheaper than lstsq.
            A = Gm.T @ Gm
            A[np.diag_indices_from(A)] += 1e-12 * np.trace(A) + 1e-300
            gamma = np.linalg.solve(A, Gm.T @ g)
            cand = x + g - (Xm + Gm) @ gamma
            if np.all(np.isfinite(cand)) and ok(cand):
                x_new = cand
            else:
                dX.clear()
                dG.clear()
        x = x_new
        fx = F(x)
    return fx, max_iter, dist


def solve_household(
    problem: HouseholdProblem,
    tol: float = 1e-8,
    max_iter: int = 2000,
    guess: PolicySolution | None = None,
) -> PolicySolution:
    """Solve the infinite-horizon problem; ``tol`` bounds the last change in ``log c`` and share.

    ``guess`` (e.g. the solution for nearby parameters) warm-starts the iteration. Raises
    ``ValueError`` for an invalid problem (see :class:`HouseholdProblem`) and ``RuntimeError`` if
    the iteration does not converge within ``max_iter`` steps.
    """
    egm = _Egm(problem)
    if guess is not None and guess.m.shape[0] != problem.n_states:
        raise ValueError(f"guess has {guess.m.shape[0]} states but the problem has {problem.n_states}")
    c0, s0 = egm.from_guess(guess) if guess is not None else egm.initial()
    S, G = c0.shape
    risky = problem.has_risky

    def unpack(x):
        # Anderson mixing may leave [0, 1] slightly; the map itself only sees clipped shares.
        return np.exp(x[: S * G].reshape(S, G)), (np.clip(x[S * G :].reshape(S, G), 0.0, 1.0) if risky else s0)

    def pack(c, share):
        return np.concatenate([np.log(c).ravel(), share.ravel()]) if risky else np.log(c).ravel()

    def F(x):
        c, share = unpack(x)
        return pack(*egm.step(c, share))

    def ok(x):  # endogenous m must increase along each branch (debt / assets)
        c, share = unpack(x)
        dm = np.diff(egm.a[None, :] + problem.price * c, axis=1)
        if egm.kinked:
            dm = np.delete(dm, egm.neg - 1, axis=1)  # the jump between the two branches
        return bool(np.all(dm > 0.0))

    x, iters, dist = _anderson(F, pack(c0, s0), ok, tol, max_iter)
    c, share = unpack(x)
    share = np.clip(share, 0.0, 1.0)
    if not (np.all(np.isfinite(c)) and np.all(c > 0.0) and np.all(np.isfinite(share))):
        raise RuntimeError("household solver produced non-finite or non-positive consumption")
    if dist >= tol:
        raise RuntimeError(f"household solver did not converge in {max_iter} iterations (distance {dist:.3g})")
    m, ck, sk = egm.knots(c, share)
    if not np.all(np.diff(m, axis=1) > 0.0):  # interpolation needs increasing cash-on-hand
        raise RuntimeError("household solver: cash-on-hand knots not increasing (non-concave problem?)")
    return PolicySolution(m=m, c=ck, share=sk, iterations=iters, distance=dist, price=problem.price)


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
