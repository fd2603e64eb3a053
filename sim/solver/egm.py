r"""The endogenous grid method with portfolio choice: the problem discretised for its compiled map.

:class:`EgmMap` discretises a :class:`~sim.solver.problem.HouseholdProblem` and maps
``(log c_j, varsigma_j)`` on the end-of-period asset grid to its update: expected marginal utility
``H(s, x)`` over next period's states and shocks, then consumption from the Euler equation and one
projected Newton step on the portfolio first-order condition (equations in
:mod:`sim.solver.household`). With debt and a risky asset both allowed, the debt and asset branches
are combined by an upper envelope (:mod:`sim.solver.envelope`). The map itself is compiled
(:mod:`sim.solver.egm_loops`), and so is the Anderson iteration that finds its fixed point
(:mod:`sim.solver.anderson`); this class discretises the problem and holds what they read.
"""
from __future__ import annotations

import numpy as np

from . import egm_loops
from .anderson import anderson
from .interp import interp_rows
from .policy import PolicySolution
from .problem import HouseholdProblem, asset_grid


def _writable(v) -> np.ndarray:
    """``v`` as the compiled map's arrays are typed, C-contiguous, float64 and writable (a copy only
    where it is not: an array from Ray's object store is read-only, and Numba would compile every
    function again for that type)."""
    return np.require(v, dtype=np.float64, requirements=["C", "W"])


class EgmMap:
    """Discretised problem and the EGM map ``(log c_j, share_j) -> (log c_j, share_j)``."""

    def __init__(self, p: HouseholdProblem):
        self.p = p
        self.a = _writable(p.a_grid)  # a copy: the problem's arrays are read-only
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
        # where the envelope integrates u' across the branches' overlap (trapezoids)
        self.nodes = np.linspace(0.0, 1.0, 65)
        # what the compiled map reads (egm_loops' layout); the problem's read-only arrays copied
        # once, writable as the rest (one compiled signature)
        self.compiled = (self.a, float(p.price), float(p.a_min), int(self.neg), bool(self.kinked), self.nodes,
                         self.x, _writable(p.income), _writable(self.theta), _writable(self.pi),
                         _writable(p.transition), float(p.crra), float(p.beta), float(p.R_free), self.excess,
                         _writable(self.w), bool(p.has_risky))

    def knots(self, c: np.ndarray, share: np.ndarray | None = None):
        """Endogenous (m, c[, share]) knots with the constraint point (m_min, 0) prepended; where
        debt and a risky asset meet, the two branches' upper envelope (:mod:`sim.solver.envelope`)."""
        zero = np.zeros_like(c) if share is None else share
        mk, ck, sk = egm_loops.knots(_writable(c), _writable(zero), self.compiled)
        return mk, ck, (None if share is None else sk)

    def evaluate(self, v: np.ndarray) -> np.ndarray:
        """The map on the iteration's variables (:meth:`pack`'s layout): ``F(v)``."""
        out = np.empty_like(v)
        egm_loops.egm_map(_writable(v), out, self.compiled)
        return out

    def step(self, c: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One EGM iteration on ``(c, share)``, ``(S, G)`` each: :meth:`evaluate`, unpacked."""
        update = self.unpack(self.evaluate(self.pack(c, share)))
        return update if self.p.has_risky else (update[0], share)

    def admissible(self, v: np.ndarray) -> bool:
        """Whether ``v`` is finite with cash-on-hand increasing along each branch: where a start (a
        forecast) may go; the iteration checks its mixed iterates the same way."""
        return bool(egm_loops.monotone(_writable(v), self.compiled))

    def iterate(self, v0: np.ndarray, fv0: np.ndarray, tol: float, max_iter: int, depth: int = 6):
        """Anderson-accelerated iteration from ``v0`` (``fv0 = F(v0)``) to ``|F(v) - v| < tol``:
        ``(F(v), iterations, distance)`` (:func:`sim.solver.anderson.anderson`)."""
        fv, iterations, distance = anderson(_writable(v0), _writable(fv0), float(tol), int(max_iter), int(depth),
                                            self.compiled)
        return fv, int(iterations), float(distance)

    def unpack(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(c, share)`` from the variables, the shares clipped to [0, 1] (zero without a risky
        asset)."""
        return egm_loops.unpack(_writable(v), self.compiled)

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

