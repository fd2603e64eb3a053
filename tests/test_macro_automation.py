"""Automation paths Phi_t: Korinek–Suh scenario properties (start, monotonicity, full automation)."""
from __future__ import annotations

import numpy as np
import pytest

from sim.macro.automation import AUTOMATION_KINDS, automation_path, years_from_periods

YEARS = np.linspace(0.0, 100.0, 40001)  # fine enough to see any non-monotonicity


@pytest.mark.parametrize("kind", ["bau", "baseline_agi", "aggressive_agi", "bout", "constant"])
def test_monotone_bounded_and_starts_at_phi0(kind):
    phi = automation_path(kind, YEARS)
    assert phi.shape == YEARS.shape
    assert phi[0] == pytest.approx(0.608, abs=1e-15)
    assert np.all(np.diff(phi) >= 0)
    assert np.all((phi >= 0.608 - 1e-15) & (phi <= 1.0))
    # Before the scenario starts nothing is automated beyond Phi_0.
    assert np.all(automation_path(kind, np.array([-5.0, -0.1])) == pytest.approx(0.608))


@pytest.mark.parametrize("kind, T", [("baseline_agi", 20.0), ("aggressive_agi", 5.0)])
def test_agi_reaches_full_automation_exactly_at_T(kind, T):
    assert automation_path(kind, T) == 1.0
    assert np.all(automation_path(kind, YEARS[YEARS >= T]) == 1.0)
    before = automation_path(kind, YEARS[YEARS < T])
    assert np.all(before < 1.0)
    assert automation_path(kind, T - 1e-6) == pytest.approx(1.0, abs=1e-6)
    # The general AGI kind with its own T.
    assert automation_path("agi", 12.0, T=12.0) == 1.0 and automation_path("agi", 11.9, T=12.0) < 1


def test_bau_is_pareto_with_lambda_g_one_percent_and_never_full():
    phi = automation_path("bau", YEARS)
    assert np.all(phi < 1.0)
    # Pareto tasks and an exponentially growing frontier: log(1 - Phi) falls by lambda*g = 0.01/yr.
    slope = np.diff(np.log(1.0 - phi)) / np.diff(YEARS)
    np.testing.assert_allclose(slope, -0.01, rtol=1e-6)
    assert automation_path("bau", 100.0) == pytest.approx(1 - 0.392 * np.exp(-1.0), rel=1e-12)


def test_agi_limits_linear_and_bau():
    t = np.linspace(0, 20, 81)
    # lambda*g -> 0: a log-uniform bounded distribution, i.e. a straight line to 1 at T.
    np.testing.assert_allclose(automation_path("baseline_agi", t, lam_g=0.0),
                               0.608 + 0.392 * t / 20, rtol=1e-14)
    np.testing.assert_allclose(automation_path("baseline_agi", t, lam_g=1e-12),
                               0.608 + 0.392 * t / 20, rtol=1e-9)
    # T -> infinity: the bounded distribution becomes unbounded, business as usual.
    np.testing.assert_allclose(automation_path("agi", t, T=1e5), automation_path("bau", t),
                               rtol=1e-6)


def test_bout_rises_then_flat():
    phi = automation_path("bout", YEARS, phi_end=0.85, start=2.0, duration=3.0)
    assert np.all(phi[YEARS <= 2.0] == pytest.approx(0.608))
    assert np.all(phi[YEARS >= 5.0] == pytest.approx(0.85))
    mid = automation_path("bout", 3.5, phi_end=0.85, start=2.0, duration=3.0)
    assert 0.608 < mid < 0.85
    with pytest.raises(ValueError):
        automation_path("bout", YEARS, phi_end=0.5)


@pytest.mark.parametrize("kind", ["bau", "baseline_agi", "aggressive_agi", "agi", "bout"])
def test_start_delays_the_path(kind):
    # Phi_t = path(t - start): at Phi_0 until the start, then the undelayed path shifted
    params = {"T": 7.0} if kind == "agi" else {}
    t = np.linspace(0.0, 120.0, 481)
    delayed = automation_path(kind, t, start=90.0, **params)
    assert np.all(delayed[t <= 90.0] == 0.608)
    np.testing.assert_array_equal(delayed[t >= 90.0], automation_path(kind, t[t >= 90.0] - 90.0, **params))
    assert delayed[-1] > 0.608


def test_a_scenario_path_starts_when_configured():
    from sim.config import compose
    from sim.economy import make_economy

    cfg = compose(["scenario=agi_5y", "economy.automation_path.start=2"])
    economy = make_economy(cfg, 0)
    assert economy.phi(8) == 0.608 and economy.phi(9) > 0.608  # quarterly: year 2 is period 8
    assert economy.phi(8 + 4 * 5) == 1.0  # full automation 5 years after the start


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(ValueError) as err:
        automation_path("singularity", YEARS)
    for kind in AUTOMATION_KINDS:
        assert kind in str(err.value)


def test_scalars_and_periods():
    assert np.ndim(automation_path("bau", 3.0)) == 0
    assert years_from_periods(8) == 2.0  # default quarterly
    np.testing.assert_allclose(years_from_periods(np.arange(3), periods_per_year=1), [0, 1, 2])
    with pytest.raises(ValueError):
        years_from_periods(4, periods_per_year=0)
