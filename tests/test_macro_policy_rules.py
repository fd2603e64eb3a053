"""Policy rules: ZLB, Phillips-curve signs, Fisher relation, investment rules, rate conversions."""
from __future__ import annotations

import numpy as np
import pytest

from sim.macro.policy_rules import (
    accelerator_investment,
    adaptive_expectation,
    annual_rate,
    expected_inflation,
    fisher_real_rate,
    period_rate,
    phillips_curve,
    q_investment,
    taylor_rule,
    tobin_q,
    utilisation_gap,
)


def test_taylor_rule_formula_and_zero_lower_bound():
    # Above the bound: i = r* + pi* + phi_pi (pi - pi*) + phi_y gap.
    assert taylor_rule(0.03, 0.01) == pytest.approx(0.02 + 0.02 + 1.5 * 0.01 + 0.5 * 0.01)
    # Deep slack and deflation: the notional rate is negative, the policy rate stops at zero.
    pi = np.linspace(-0.10, 0.10, 201)
    gap = np.linspace(-0.20, 0.05, 201)
    i = taylor_rule(pi[:, None], gap[None, :])
    assert i.min() == 0.0 and np.all(i >= 0.0)
    assert taylor_rule(-0.05, -0.1) == 0.0
    assert taylor_rule(-0.05, -0.1, lower_bound=-0.005) == -0.005
    # Taylor principle: away from the bound the real rate rises with inflation.
    r_lo = fisher_real_rate(taylor_rule(0.02, 0.0), 0.02, exact=False)
    r_hi = fisher_real_rate(taylor_rule(0.04, 0.0), 0.04, exact=False)
    assert r_hi - r_lo == pytest.approx(0.5 * 0.02)
    # Smoothing.
    assert taylor_rule(0.02, 0.0, i_prev=0.0, smoothing=0.5) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        taylor_rule(0.02, 0.0, smoothing=0.5)


def test_phillips_curve_signs_and_fixed_point():
    base = phillips_curve(0.02, 0.0)
    assert base == pytest.approx(0.02)  # at target with no slack inflation stays at target
    assert phillips_curve(0.02, -0.05) < base < phillips_curve(0.02, 0.05)  # slack lowers it
    assert phillips_curve(0.02, 0.05) - base == pytest.approx(0.1 * 0.05)  # linear above potential
    # a small gap: the slope is kappa (h(g) = g + O(g^2 / s))
    assert phillips_curve(0.02, -1e-6) - base == pytest.approx(0.1 * -1e-6, rel=1e-4)
    # hand-worked: h(-0.075) = -0.075 (1 - e^-1) = -0.04741, so pi = 0.02 - 0.004741
    assert phillips_curve(0.02, -0.075) == pytest.approx(0.02 - 0.1 * 0.075 * (1 - np.exp(-1)), rel=1e-12)
    # Anchored expectations: inflation converges to pi* + kappa h(gap) / w.
    pi = 0.02
    for _ in range(400):
        pi = phillips_curve(expected_inflation(pi, anchoring=0.25, pi_target=0.02), -0.05)
    assert pi == pytest.approx(0.02 + 0.1 * -0.075 * (1 - np.exp(-0.05 / 0.075)) / 0.25)
    # With no anchor (w = 0) persistent slack keeps lowering inflation (the accelerationist case).
    pi = 0.02
    for _ in range(20):
        pi = phillips_curve(expected_inflation(pi, anchoring=0.0), -0.05)
    assert pi < 0.02 - 20 * 0.1 * 0.05 * 0.4


def test_anchored_expectations_hand_worked():
    # w = 0.25, target 2 %, last inflation 6 %: 0.25 x 0.02 + 0.75 x 0.06 = 0.05
    assert expected_inflation(0.06, anchoring=0.25, pi_target=0.02) == pytest.approx(0.05, abs=1e-15)
    assert expected_inflation(-0.04, anchoring=1.0, pi_target=0.02) == 0.02
    assert expected_inflation(-0.04, anchoring=0.0, pi_target=0.02) == -0.04


def test_phillips_curve_flattens_in_deep_slack():
    gaps = np.array([-0.6, -0.3, -0.15, -0.05, -0.01])
    slopes = (phillips_curve(0.0, gaps + 1e-7) - phillips_curve(0.0, gaps - 1e-7)) / 2e-7
    assert np.all(np.diff(slopes) > 0)  # the slope rises toward kappa as slack shrinks
    assert slopes[0] < 0.1 * 1e-3 and slopes[-1] == pytest.approx(0.1 * np.exp(-0.01 / 0.075), rel=1e-6)
    # bounded: never more than kappa s below expected inflation, whatever the slack
    assert phillips_curve(0.02, -10.0) == pytest.approx(0.02 - 0.1 * 0.075)
    # deep slack for good (a -58 % gap, as compute_monopoly once had): about -1 %/yr, not -20 %
    pi = 0.02
    for _ in range(400):
        pi = phillips_curve(expected_inflation(pi), -0.58)
    assert -0.0101 < pi < -0.0099
    # the linear curve of old, pi* + kappa gap / w, would sit at -21 %/yr
    assert 0.02 + 0.1 * -0.58 / 0.25 < -0.2


def test_fisher_relation():
    assert fisher_real_rate(0.05, 0.02) == pytest.approx(1.05 / 1.02 - 1)
    assert fisher_real_rate(0.05, 0.02, exact=False) == pytest.approx(0.03)
    # At the zero lower bound, deflation raises the real rate.
    assert fisher_real_rate(0.0, -0.03) == pytest.approx(0.03 / 0.97)


def test_q_investment_rule():
    K, delta = 10.0, 0.08
    # Classical steady state: full utilisation and R = r + delta -> q = 1 -> replacement investment.
    q = tobin_q(rental=0.03 + delta, utilisation=1.0, real_rate=0.03, delta=delta)
    assert q == pytest.approx(1.0)
    assert q_investment(K, q, delta) == pytest.approx(delta * K)
    # Demand shortfall lowers q and investment (accelerator); higher returns raise them.
    q_slack = tobin_q(0.11, 0.9, 0.03, delta)
    q_auto = tobin_q(0.20, 1.0, 0.03, delta)
    assert q_slack < 1 < q_auto
    assert q_investment(K, q_slack, delta) < delta * K < q_investment(K, q_auto, delta)
    assert tobin_q(0.11, 1.3, 0.03, delta) == pytest.approx(1.0)  # idle capacity capped at u = 1
    # Irreversibility: never negative gross investment.
    assert q_investment(K, 0.1, delta) == 0.0
    assert q_investment(K, 1.1, delta, chi=10.0) == pytest.approx(K * (delta + 0.01))


def test_accelerator_rule():
    # At desired capital (K = v Y^e) investment only replaces depreciation.
    assert accelerator_investment(6.0, 2.0, capital_output_ratio=3.0, delta=0.1) == pytest.approx(0.6)
    assert accelerator_investment(6.0, 2.5, capital_output_ratio=3.0, delta=0.1) > 0.6
    assert accelerator_investment(60.0, 2.0, capital_output_ratio=3.0, delta=0.1) == 0.0


def test_conversions_and_helpers():
    q = period_rate(0.05, 4)
    assert (1 + q) ** 4 == pytest.approx(1.05, rel=1e-14)
    np.testing.assert_allclose(annual_rate(period_rate(np.array([-0.02, 0.0, 0.1]), 12), 12),
                               [-0.02, 0.0, 0.1], atol=1e-15)
    assert utilisation_gap(95.0, 100.0) == pytest.approx(-0.05)
    assert adaptive_expectation(1.0, 2.0, 0.25) == pytest.approx(1.25)
    assert np.ndim(taylor_rule(0.02, 0.0)) == 0 and np.ndim(phillips_curve(0.02, 0.0)) == 0
