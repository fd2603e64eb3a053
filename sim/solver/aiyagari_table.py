"""Aiyagari (1994, QJE 109(3), 659-684), Table II: the reference numbers.

"Net return to capital in % / aggregate saving rate in %" in the stationary equilibrium with
beta = 0.96, alpha = 0.36, delta = 0.08, borrowing limit 0, and log labour endowment an AR(1)
with persistence rho and *stationary* standard deviation sigma, discretised by Tauchen (1986)
into 7 states. mu is the coefficient of relative risk aversion.

Transcribed from the published table (cross-read against the econ-ark REMARK replication
``econ-ark/Aiyagari1994QJE``). A transcription check that needs no source: in this model the
saving rate is ``delta*K/Y = delta*alpha/(r + delta)``, so every (rate, saving) pair below must
satisfy it to the printed rounding -- ``tests/test_solver_aiyagari.py`` checks this for all 24.
"""
from __future__ import annotations

__all__ = [
    "TABLE_II", "SIGMAS", "RHOS", "MUS", "BETA", "ALPHA", "DELTA", "CHAIN_CELLS",
    "REPLICATION_R_PERCENT", "cells",
]

BETA = 0.96
ALPHA = 0.36
DELTA = 0.08
SIGMAS = (0.2, 0.4)
RHOS = (0.0, 0.3, 0.6, 0.9)
MUS = (1.0, 3.0, 5.0)

#: (sigma, rho, mu) -> (net interest rate in percent, aggregate saving rate in percent)
TABLE_II: dict[tuple[float, float, float], tuple[float, float]] = {
    # Panel A: sigma = 0.2
    (0.2, 0.0, 1.0): (4.1666, 23.67),
    (0.2, 0.0, 3.0): (4.1456, 23.71),
    (0.2, 0.0, 5.0): (4.0858, 23.83),
    (0.2, 0.3, 1.0): (4.1365, 23.73),
    (0.2, 0.3, 3.0): (4.0432, 23.91),
    (0.2, 0.3, 5.0): (3.9054, 24.19),
    (0.2, 0.6, 1.0): (4.0912, 23.82),
    (0.2, 0.6, 3.0): (3.8767, 24.25),
    (0.2, 0.6, 5.0): (3.5857, 24.86),
    (0.2, 0.9, 1.0): (3.9305, 24.14),
    (0.2, 0.9, 3.0): (3.2903, 25.51),
    (0.2, 0.9, 5.0): (2.5260, 27.36),
    # Panel B: sigma = 0.4
    (0.4, 0.0, 1.0): (4.0649, 23.87),
    (0.4, 0.0, 3.0): (3.7816, 24.44),
    (0.4, 0.0, 5.0): (3.4177, 25.22),
    (0.4, 0.3, 1.0): (3.9554, 24.09),
    (0.4, 0.3, 3.0): (3.4188, 25.22),
    (0.4, 0.3, 5.0): (2.8032, 26.66),
    (0.4, 0.6, 1.0): (3.7567, 24.50),
    (0.4, 0.6, 3.0): (2.7835, 26.71),
    (0.4, 0.6, 5.0): (1.8070, 29.37),
    (0.4, 0.9, 1.0): (3.3054, 25.47),
    (0.4, 0.9, 3.0): (1.2894, 31.00),
    (0.4, 0.9, 5.0): (-0.3456, 37.63),
}


#: Cells the standard Tauchen chain (7 states, m = 3) does not reproduce within tolerance: the gap
#: is the chain against the paper's own discretisation, not the solver (stable under grid
#: refinement; an independent standard-Tauchen replication shows the same pattern). See
#: docs/solver.md. ``sim validate`` marks them "chain" and still counts them as misses.
CHAIN_CELLS: frozenset[tuple[float, float, float]] = frozenset({
    (0.2, 0.0, 3.0), (0.2, 0.0, 5.0), (0.4, 0.3, 3.0), (0.4, 0.3, 5.0),
    (0.4, 0.6, 3.0), (0.4, 0.6, 5.0), (0.4, 0.9, 5.0),
})

#: Net rate in percent from the independent standard-Tauchen (QuantEcon ``tauchen``, n_std = 3)
#: EGM replication ``youngdoochoi05/Econ-281`` ("Aiyagari (1994).ipynb"), for the cells whose
#: number it prints to two decimals and docs/solver.md quotes; shown beside ours for context.
REPLICATION_R_PERCENT: dict[tuple[float, float, float], float] = {
    (0.4, 0.9, 3.0): 1.50,
    (0.4, 0.9, 5.0): -0.10,
    (0.4, 0.6, 5.0): 1.97,
    (0.2, 0.9, 5.0): 2.65,
}


def cells() -> list[tuple[float, float, float]]:
    """All 24 (sigma, rho, mu) cells in the paper's order (panel, row, column)."""
    return [(s, r, m) for s in SIGMAS for r in RHOS for m in MUS]
