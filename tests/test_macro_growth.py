"""Growth reference paths against Korinek–Suh's qualitative results and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from sim.macro.automation import automation_path
from sim.macro.growth import KS_TABLE2, ramsey_path, reference_path, solow_path
from sim.macro.technology import CobbDouglas

RHO, ETA, DELTA, A, SIGMA = 0.04, 2.0, 0.10, 0.5, 0.5  # Korinek–Suh Table 2, annual


def _check_equilibrium(p, dt):
    """Resource constraint and the discrete Euler equation, recomputed from the path arrays."""
    K, Y, C, R = p.K, p.output, p.consumption, p.rental
    np.testing.assert_allclose(K[1:], K[:-1] + dt * (Y[:-1] - DELTA * K[:-1] - C[:-1]), rtol=1e-11)
    lhs = C[:-1] ** -ETA
    rhs = np.exp(-RHO * dt) * (1 + dt * (R[1:] - DELTA)) * C[1:] ** -ETA
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9)
    assert p.euler_residual < 1e-10


def test_table2_calibration_constants():
    assert KS_TABLE2 == dict(rho=0.04, eta=2.0, delta=0.10, sigma=0.5, A=0.5, L=1.0, phi0=0.608,
                             K0=4.6)


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_baseline_agi_wages_rise_then_collapse_before_full_automation(dt):
    T = 20.0
    p = reference_path("baseline_agi", 60.0, dt=dt)
    _check_equilibrium(p, dt)
    w0 = p.wage[0]
    assert w0 == pytest.approx(1.4029, rel=1e-3)  # Table 2: labour share ~66 % of Y ~ 2.14
    before = p.years < T
    peak = np.argmax(np.where(before, p.wage, -np.inf))
    assert p.wage[peak] > 1.05 * w0  # wages first rise ...
    fallen = np.nonzero((p.years > p.years[peak]) & before & (p.wage < w0))[0]
    assert fallen.size > 0  # ... then fall below their initial level before full automation
    # Labour becomes abundant (region 2, w = A) before Phi reaches 1; then w = A for ever.
    assert np.any(p.region[before] == 2)
    np.testing.assert_allclose(p.wage[p.years >= T], A)
    # Labour share heads toward 0: L/(K + L) with K exploding.
    ls = p.labour_share
    assert ls[0] > 0.6 and ls[p.years == 30.0][0] < 0.02 and ls[-1] < 1e-3
    assert np.all(np.diff(ls[p.years >= T]) < 0)
    # Output takes off: AK growth after full automation, far above business as usual.
    assert p.output[p.years == 50.0][0] > 100 * p.output[0]
    late = p.years >= 30.0
    growth = np.diff(np.log(p.output[late])) / dt
    assert np.all(growth > 0.12)


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_consumption_growth_after_full_automation_is_the_ak_closed_form(dt):
    # Region 2 with Phi = 1: R = A for ever, so the Euler equation gives constant growth
    # C_{t+1}/C_t = (exp(-rho dt) (1 + dt (A - delta)))^(1/eta), continuous limit (A-delta-rho)/eta.
    p = reference_path("aggressive_agi", 40.0, dt=dt)
    after = p.years >= 5.0 + dt
    ratio = p.consumption[after][1:] / p.consumption[after][:-1]
    expected = (np.exp(-RHO * dt) * (1 + dt * (A - DELTA))) ** (1 / ETA)
    np.testing.assert_allclose(ratio, expected, rtol=1e-10)


def test_aggressive_agi_wages_collapse_within_five_years():
    p = reference_path("aggressive_agi", 40.0)
    _check_equilibrium(p, 1.0)
    assert np.any((p.years < 5.0) & (p.wage < p.wage[0]))
    assert np.any((p.years < 5.0) & (p.region == 2))
    assert p.labour_share[-1] < 1e-3


def test_business_as_usual_wages_keep_rising():
    p = reference_path("bau", 300.0, extra_years=200.0)
    _check_equilibrium(p, 1.0)
    first = p.years <= 50.0
    assert np.all(np.diff(p.wage[first]) > 0)
    assert p.wage[p.years == 50.0][0] > 1.5 * p.wage[0]
    assert np.all(p.region == 1)  # labour stays scarce
    # Balanced growth: with Pareto tasks (1 - Phi falling at lambda g) the economy grows at
    # lambda g / (1 - sigma) = 2 %/yr, the rate at which K keeps (1-Phi)^(1/sigma) K^((sigma-1)/sigma)
    # constant; convergence is slow, so check the trend late in the path.
    g = np.diff(np.log(p.output))
    assert 0.018 < g[250] < 0.0205 and g[250] > g[150] > g[100]
    gw = np.diff(np.log(p.wage))
    assert 0.017 < gw[250] < 0.0205


def test_bout_of_automation_wages_dip_then_labour_scarce_again():
    p = reference_path("bout", 100.0, phi_end=0.9, duration=10.0)
    _check_equilibrium(p, 1.0)
    w0 = p.wage[0]
    assert p.wage[p.years <= 10.0].min() < w0
    assert p.wage[-1] > 2 * w0 and p.region[-1] == 1


def _ks_rental(K, Phi):
    Y = A * (Phi**2 / K + (1 - Phi) ** 2) ** -1  # sigma = 0.5, L = 1
    return (Y / K) ** 2 * Phi**2 / A


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_constant_automation_converges_to_steady_state(dt):
    # Steady state of the discrete Euler equation: 1 = exp(-rho dt)(1 + dt (R - delta)).
    R_star = DELTA + np.expm1(RHO * dt) / dt
    K_star = brentq(lambda K: _ks_rental(K, 0.608) - R_star, 1.0, 100.0, xtol=1e-14)
    p = reference_path("constant", 200.0, dt=dt)
    _check_equilibrium(p, dt)
    assert p.K[-1] == pytest.approx(K_star, rel=1e-6)
    assert np.all(np.diff(p.K) > 0)  # K_0 = 4.6 is below the steady state: monotone approach


def test_cobb_douglas_ramsey_and_solow_steady_states():
    tech = CobbDouglas(A=1.0, alpha=0.36)
    phi = np.zeros(301)
    R_star = DELTA + np.expm1(RHO)
    K_star = (0.36 / R_star) ** (1 / 0.64)
    p = ramsey_path(phi, tech, K0=2.0)
    _check_equilibrium(p, 1.0)
    assert p.K[200] == pytest.approx(K_star, rel=1e-8)
    s = solow_path(phi, tech, saving_rate=0.3, K0=2.0)
    assert s.K[-1] == pytest.approx((0.3 / DELTA) ** (1 / 0.64), rel=1e-8)
    np.testing.assert_allclose(s.consumption, 0.7 * s.output)


def test_ramsey_path_accepts_a_custom_phi_array():
    years = np.arange(0, 151.0)
    p = ramsey_path(automation_path("agi", years, T=30.0))
    _check_equilibrium(p, 1.0)
    assert p.phi[30] == 1.0 and p.wage[40] == A
