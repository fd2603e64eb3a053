"""Vectorised piecewise-linear interpolation used by the solver (no Python loop over states).

Both helpers extrapolate linearly beyond the end knots, using the first or last segment.
"""
from __future__ import annotations

import numpy as np

__all__ = ["interp_rows", "interp_common"]


def interp_rows(xk: np.ndarray, yk: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation: row ``s`` of the result interpolates ``(xk[s], yk[s])`` at ``xq[s]``.

    ``xk``, ``yk`` are ``(S, N)`` with each row of ``xk`` strictly increasing; ``xq`` is ``(S, Q)``.
    All rows are searched in one ``np.searchsorted`` call: row ``s`` is shifted by ``s * span``,
    where ``span`` exceeds the range of all knots and queries, which makes the concatenated knots
    globally sorted while keeping each query inside its own row's block.
    """
    S, N = xk.shape
    lo = min(xk.min(), xq.min())
    span = max(xk.max(), xq.max()) - lo + 1.0
    shift = span * np.arange(S)[:, None]
    pos = np.searchsorted((xk - lo + shift).ravel(), (xq - lo + shift).ravel(), side="right")
    idx = np.clip(pos.reshape(xq.shape) - 1 - N * np.arange(S)[:, None], 0, N - 2)
    x0 = np.take_along_axis(xk, idx, axis=1)
    x1 = np.take_along_axis(xk, idx + 1, axis=1)
    y0 = np.take_along_axis(yk, idx, axis=1)
    y1 = np.take_along_axis(yk, idx + 1, axis=1)
    return y0 + (xq - x0) * ((y1 - y0) / (x1 - x0))


def interp_common(xk: np.ndarray, yk: np.ndarray, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate ``S`` functions that share one knot vector ``xk (N,)``: ``yk (S, N)`` at ``xq (S, ...)``.

    Returns ``(values, slopes)``, both shaped like ``xq``; ``slopes`` is the slope of the segment
    used (needed for Newton steps on the portfolio first-order condition).
    """
    S, N = yk.shape
    flat = xq.reshape(S, -1)
    idx = np.clip(np.searchsorted(xk, flat, side="right") - 1, 0, N - 2)
    slopes_all = np.diff(yk, axis=1) / np.diff(xk)  # (S, N-1), cheap: N is the grid size
    rows = (N * np.arange(S))[:, None]
    y0 = yk.ravel()[idx + rows]
    slope = slopes_all.ravel()[idx + rows - np.arange(S)[:, None]]
    return (y0 + (flat - xk[idx]) * slope).reshape(xq.shape), slope.reshape(xq.shape)
