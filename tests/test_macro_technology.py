"""Technologies against closed forms: Korinek–Suh (2024) formulas, Euler's theorem, limits."""
from __future__ import annotations

import numpy as np
import pytest

from sim.macro.technology import (
    CobbDouglas,
    FactorPrices,
    KorinekSuh,
    make_technology,
    phi_hat,
    potential_output,
)

SIGMAS = [0.3, 0.5, 0.9, 1.0, 1.2, 2.0]


def ks_direct(A, s, K, L, Phi):
    """Korinek–Suh region-1 formulas written out literally (docs/model.md), as the reference."""
    r = (s - 1) / s
    Y = A * (Phi ** (1 / s) * K**r + (1 - Phi) ** (1 / s) * L**r) ** (1 / r)
    w = A**r * (Y / L) ** (1 / s) * (1 - Phi) ** (1 / s)
    R = A**r * (Y / K) ** (1 / s) * Phi ** (1 / s)
    return Y, w, R


def grid():
    K = np.array([0.05, 0.7, 4.6, 30.0, 1e4])
    L = np.array([0.3, 1.0, 7.0])
    Phi = np.array([0.0, 0.1, 0.5, 0.608, 0.9, 0.999, 1.0])
    return [np.asarray(a, float).ravel() for a in np.meshgrid(K, L, Phi, indexing="ij")]


def test_table2_initial_labour_share_about_66_percent():
    # Korinek & Suh (2024), Table 2 calibration: labour share ~ 66 %.
    fp = KorinekSuh(A=0.5, sigma=0.5).factor_prices(4.6, 1.0, 0.608)
    assert fp.region == 1
    assert abs(fp.labour_share - 0.66) < 0.01


def test_region1_matches_literal_formulas():
    for s in [0.3, 0.5, 0.9, 1.2, 2.0]:
        tech = KorinekSuh(A=0.5, sigma=s)
        K, L, Phi = grid()
        inside = (Phi > 0) & (Phi < K / (K + L))
        K, L, Phi = K[inside], L[inside], Phi[inside]
        fp = tech.factor_prices(K, L, Phi)
        Y, w, R = ks_direct(0.5, s, K, L, Phi)
        np.testing.assert_allclose(fp.output, Y, rtol=1e-12)
        np.testing.assert_allclose(fp.wage, w, rtol=1e-11)
        np.testing.assert_allclose(fp.rental, R, rtol=1e-11)
        np.testing.assert_allclose(fp.labour_share, w * L / Y, rtol=1e-11)
        assert np.all(fp.region == 1)


def test_region2_closed_form():
    tech = KorinekSuh(A=0.7, sigma=0.5)
    K = np.array([0.5, 1.0, 3.0, 10.0])
    L = np.array([1.0, 2.0, 1.0, 0.5])
    Phi = np.minimum(1.0, K / (K + L) + np.array([0.0, 0.05, 0.1, 0.3]))
    fp = tech.factor_prices(K, L, Phi)
    assert np.all(fp.region == 2)
    np.testing.assert_allclose(fp.output, 0.7 * (K + L), rtol=1e-15)
    np.testing.assert_allclose(fp.wage, 0.7, rtol=0)
    np.testing.assert_allclose(fp.rental, 0.7, rtol=0)
    np.testing.assert_allclose(fp.labour_share, L / (K + L), rtol=1e-15)
    # Full automation: region 2 whatever the capital stock.
    assert np.all(tech.factor_prices(np.geomspace(1e-3, 1e6, 10), 1.0, 1.0).region == 2)


@pytest.mark.parametrize("s", SIGMAS)
def test_euler_theorem_both_regions(s):
    tech = KorinekSuh(A=0.5, sigma=s)
    K, L, Phi = grid()
    fp = tech.factor_prices(K, L, Phi)
    assert set(np.unique(fp.region)) == {1, 2}
    np.testing.assert_allclose(fp.wage * L + fp.rental * K, fp.output, rtol=1e-12)
    np.testing.assert_allclose(fp.labour_share, fp.wage * L / fp.output, rtol=1e-12)


@pytest.mark.parametrize("s", SIGMAS)
def test_continuity_at_region_boundary(s):
    tech = KorinekSuh(A=0.5, sigma=s)
    for K, L in [(4.6, 1.0), (0.3, 2.0), (50.0, 1.0)]:
        ph = phi_hat(K, L)
        assert ph == pytest.approx(K / (K + L))
        below = tech.factor_prices(K, L, ph * (1 - 1e-10))
        at = tech.factor_prices(K, L, ph)
        assert below.region == 1 and at.region == 2
        for field in ("output", "wage", "rental", "labour_share"):
            assert getattr(below, field) == pytest.approx(getattr(at, field), rel=1e-7)
        # At Phi_hat the literal region-1 formulas give exactly Y = A (K + L), w = R = A.
        Y, w, R = ks_direct(0.5, s, K, L, ph) if s != 1.0 else ks_direct(0.5, 1 + 1e-7, K, L, ph)
        tol = 1e-12 if s != 1.0 else 1e-6
        assert Y == pytest.approx(0.5 * (K + L), rel=tol)
        assert w == pytest.approx(0.5, rel=tol) and R == pytest.approx(0.5, rel=tol)


def test_sigma_to_one_approaches_cobb_douglas():
    # CES with weights Phi, 1-Phi on x_K = K/Phi, x_L = L/(1-Phi) tends to
    # A (K/Phi)^Phi (L/(1-Phi))^(1-Phi): Cobb-Douglas with alpha = Phi, TFP A Phi^-Phi (1-Phi)^-(1-Phi).
    A = 0.5
    for K, L, Phi in [(4.6, 1.0, 0.608), (10.0, 2.0, 0.3), (2.0, 1.0, 0.5)]:
        cd = CobbDouglas(A=A * Phi**-Phi * (1 - Phi) ** -(1 - Phi), alpha=Phi).factor_prices(K, L)
        exact = KorinekSuh(A=A, sigma=1.0).factor_prices(K, L, Phi)
        for field in ("output", "wage", "rental", "labour_share"):
            assert getattr(exact, field) == pytest.approx(getattr(cd, field), rel=1e-13)
        errors = []
        for eps in [1e-2, 1e-4, 1e-6, 1e-9]:
            for s in (1 - eps, 1 + eps):
                fp = KorinekSuh(A=A, sigma=s).factor_prices(K, L, Phi)
                err = max(abs(getattr(fp, f) / getattr(cd, f) - 1)
                          for f in ("output", "wage", "rental", "labour_share"))
                assert err < 20 * eps
                errors.append(err)
        assert errors[-1] < 1e-8


@pytest.mark.parametrize("s", [0.5, 1.0, 2.0])
def test_marginal_products_equal_finite_differences(s):
    tech = KorinekSuh(A=0.5, sigma=s)
    cases = [(4.6, 1.0, 0.608), (20.0, 1.5, 0.3), (0.8, 1.0, 0.2),  # region 1
             (1.0, 1.0, 0.7), (4.6, 1.0, 0.95)]  # region 2
    for K, L, Phi in cases:
        fp = tech.factor_prices(K, L, Phi)
        hK, hL = 1e-6 * K, 1e-6 * L
        dYdK = (tech.output(K + hK, L, Phi) - tech.output(K - hK, L, Phi)) / (2 * hK)
        dYdL = (tech.output(K, L + hL, Phi) - tech.output(K, L - hL, Phi)) / (2 * hL)
        assert fp.rental == pytest.approx(dYdK, rel=1e-7)
        assert fp.wage == pytest.approx(dYdL, rel=1e-7)
        # The rental-rate slope used by the growth solver, also by finite differences.
        dRdK = (tech.factor_prices(K + hK, L, Phi).rental
                - tech.factor_prices(K - hK, L, Phi).rental) / (2 * hK)
        assert tech.rental_slope(K, L, Phi) == pytest.approx(dRdK, rel=1e-5, abs=1e-12)


def test_edge_cases_no_automation_and_full_automation():
    tech = KorinekSuh(A=0.5, sigma=0.5)
    fp = tech.factor_prices(4.6, 1.0, 0.0)  # capital has no task
    assert fp.output == pytest.approx(0.5) and fp.rental == 0.0 and fp.labour_share == 1.0
    fp = tech.factor_prices(0.0, 1.0, 0.0)
    assert fp.output == pytest.approx(0.5) and fp.rental == 0.0
    fp = tech.factor_prices(4.6, 1.0, 1.0)  # AK with a wage
    assert fp.output == pytest.approx(0.5 * 5.6) and fp.wage == 0.5 and fp.region == 2


def test_cobb_douglas():
    tech = CobbDouglas(A=1.3, alpha=0.36)
    K = np.array([0.5, 5.6, 40.0])
    L = np.array([1.0, 0.9, 3.0])
    fp = tech.factor_prices(K, L)
    np.testing.assert_allclose(fp.output, 1.3 * K**0.36 * L**0.64, rtol=1e-15)
    np.testing.assert_allclose(fp.wage * L + fp.rental * K, fp.output, rtol=1e-13)
    np.testing.assert_allclose(fp.labour_share, 0.64)
    h = 1e-6
    dYdK = (tech.output(K * (1 + h), L) - tech.output(K * (1 - h), L)) / (2 * h * K)
    np.testing.assert_allclose(fp.rental, dYdK, rtol=1e-8)
    dRdK = (tech.factor_prices(K * (1 + h), L).rental
            - tech.factor_prices(K * (1 - h), L).rental) / (2 * h * K)
    np.testing.assert_allclose(tech.rental_slope(K, L), dRdK, rtol=1e-6)


def test_common_protocol_scalars_and_broadcasting():
    techs = [make_technology("korinek_suh", A=0.5, sigma=0.5, Phi=0.608),
             make_technology("cobb_douglas", A=1.0, alpha=0.36)]
    for tech in techs:
        fp = tech.factor_prices(4.6, 1.0, 0.608)
        assert isinstance(fp, FactorPrices)
        assert all(np.ndim(v) == 0 for v in fp)
        assert isinstance(fp.output, float)
        arr = tech.factor_prices(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0]]))
        assert all(np.shape(v) == (2, 3) for v in arr)
        assert potential_output(tech, 4.6, 1.0, 0.608) == fp.output
    # KorinekSuh's stored Phi is the default.
    assert techs[0].factor_prices(4.6, 1.0) == techs[0].factor_prices(4.6, 1.0, 0.608)
    with pytest.raises(ValueError, match="korinek_suh"):
        make_technology("leontief")
    with pytest.raises(ValueError):
        KorinekSuh().factor_prices(1.0, 1.0, 1.2)
    with pytest.raises(ValueError):
        CobbDouglas(alpha=1.0)
