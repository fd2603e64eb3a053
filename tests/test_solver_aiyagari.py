"""Aiyagari (1994) Table II: equilibrium interest rates against the paper's numbers.

Chain: standard Tauchen (7 states, m = 3, sigma = stationary std of log labour). Tolerances:
0.05 percentage points for rho <= 0.6, 0.25 for rho = 0.9. The cells are those this chain
reproduces (docs/solver.md lists all 24 and explains the others).
"""
from __future__ import annotations

import pytest

from sim.solver.aiyagari import FAST, equilibrium, firm_prices, labour_chain
from sim.solver.aiyagari_table import ALPHA, DELTA, MUS, RHOS, SIGMAS, TABLE_II, cells
from sim.validate import AIYAGARI_CI_CELLS, AIYAGARI_TOL_PP


def test_reference_table_is_complete_and_internally_consistent():
    """All 24 cells; each saving rate equals delta*alpha/(r+delta) to the printed rounding."""
    assert set(TABLE_II) == {(s, r, m) for s in SIGMAS for r in RHOS for m in MUS} == set(cells())
    for (sigma, rho, mu), (r_pct, s_pct) in TABLE_II.items():
        implied = 100 * DELTA * ALPHA / (r_pct / 100 + DELTA)
        assert implied == pytest.approx(s_pct, abs=0.006), (sigma, rho, mu)


def test_ci_cells_cover_both_sigmas_and_all_rhos():
    assert {c[0] for c in AIYAGARI_CI_CELLS} == set(SIGMAS)
    assert {c[1] for c in AIYAGARI_CI_CELLS} == set(RHOS)
    assert len(AIYAGARI_CI_CELLS) >= 6


def test_firm_first_order_conditions():
    k, w = firm_prices(0.04)
    assert ALPHA * k ** (ALPHA - 1) - DELTA == pytest.approx(0.04, rel=1e-12)
    assert w == pytest.approx((1 - ALPHA) * k**ALPHA, rel=1e-12)


def test_labour_is_normalised_to_mean_one():
    from sim.solver.markov import stationary_distribution

    labour, P = labour_chain(0.4, 0.9)
    assert stationary_distribution(P) @ labour == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("cell", AIYAGARI_CI_CELLS, ids=lambda c: f"sigma{c[0]}-rho{c[1]}-mu{c[2]:g}")
def test_equilibrium_rate_matches_table_ii(cell):
    sigma, rho, mu = cell
    eq = equilibrium(sigma, rho, mu, settings=FAST)
    paper = TABLE_II[cell][0]
    assert 100 * eq.r == pytest.approx(paper, abs=AIYAGARI_TOL_PP[rho])
    assert eq.mass_at_top < 1e-6  # the asset grid is wide enough
