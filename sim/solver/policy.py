"""The solved policies: consumption and risky share per discrete state on cash-on-hand knots."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .interp import interp_rows


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
