"""Demand-closure policy rules: Phillips curve, Taylor rule with a ZLB, Fisher relation, investment.

Pure NumPy functions (scalars in, scalars out; arrays broadcast).

Units convention. Every rate (inflation pi, nominal rate i, real rate r, rental rate R,
depreciation delta, growth) is an *annual* rate written as a decimal (0.02 = 2 % per year), whatever
the model period. Gaps are proportional deviations (-0.03 = 3 % below potential). Flows such as
investment are per year; multiply by dt = 1/periods_per_year to get the amount in one period, and
use ``period_rate`` / ``annual_rate`` to convert compound rates. Coefficients that describe
dynamics (persistence, smoothing) are per model period, so they depend on the period length.
"""
from __future__ import annotations

import numpy as np


def _out(x):
    x = np.asarray(x, dtype=float)
    return x[()] if x.ndim == 0 else x


# ----------------------------------------------------------------------------------------------
# Conversions and gaps
# ----------------------------------------------------------------------------------------------

def period_rate(annual, periods_per_year=4):
    """Compound rate per period from an annual rate: (1 + r_a)^(1/n) - 1."""
    return _out(np.expm1(np.log1p(np.asarray(annual, float)) / periods_per_year))


def annual_rate(per_period, periods_per_year=4):
    """Annual compound rate from a per-period rate: (1 + r_p)^n - 1."""
    return _out(np.expm1(np.log1p(np.asarray(per_period, float)) * periods_per_year))


def utilisation_gap(demand, potential):
    """Slack measure gap = D / Y* - 1 (dimensionless; negative = slack, positive = overheating).

    Use realised or expected *demand* D, not output Q = min(Y*, D): output is capped at potential,
    so only demand can signal excess demand to the Phillips curve and the Taylor rule.
    """
    return _out(np.asarray(demand, float) / np.asarray(potential, float) - 1.0)


def adaptive_expectation(previous, realised, weight=0.5):
    """Adaptive expectations x^e_{t+1} = x^e_t + weight (x_t - x^e_t), weight in [0, 1] per period."""
    previous = np.asarray(previous, float)
    return _out(previous + weight * (np.asarray(realised, float) - previous))


# ----------------------------------------------------------------------------------------------
# Inflation and interest rates
# ----------------------------------------------------------------------------------------------

def expected_inflation(pi_prev, *, anchoring=0.25, pi_target=0.02):
    """Anchored expectations, annual: pi^e_t = w pi* + (1 - w) pi_{t-1}.

    w (``economy.phillips.anchoring``, per period) is the weight on the central bank's target:
    w = 0 is adaptive (last period's inflation), w = 1 fully anchored. The hybrid form follows the
    estimated "anchoring" of expectations in Blanchard (2016, "The Phillips curve: back to the
    '60s?") and Ball & Mazumder (2011), who find US expectations have been close to anchored at
    the target since the late 1990s.
    """
    return _out(anchoring * pi_target + (1.0 - anchoring) * np.asarray(pi_prev, float))


def slack_response(gap, *, slack_scale=0.075):
    """The gap term of the Phillips curve, dimensionless: h(g) = g for g >= 0 and
    h(g) = -s (1 - exp(g / s)) for g < 0 (s = ``slack_scale`` > 0).

    The slope h' is 1 at g = 0 and exp(g / s) below: it flattens in deep slack and h never falls
    below -s. This is downward nominal wage rigidity (Akerlof, Dickens & Perry 1996; Benigno &
    Ricci 2011: a convex Phillips curve, flat at high unemployment), which is why Japan's two
    decades of slack gave deflation of about -1 %/yr, not a spiral. s = inf would be linear.
    """
    g = np.asarray(gap, float)
    below = -slack_scale * -np.expm1(np.minimum(g, 0.0) / slack_scale)
    return _out(np.where(g >= 0.0, g, below))


def phillips_curve(pi_expected, gap, *, kappa=0.1, slack_scale=0.075, shock=0.0):
    """Expectations-augmented Phillips curve with downward rigidity, annual inflation rate.

        pi_t = pi^e_t + kappa h(gap_t) + shock_t

    pi^e_t from ``expected_inflation``; gap = D/Y* - 1 (``utilisation_gap``: notional demand, so
    rationed excess demand raises inflation); h from ``slack_response``. kappa: change in annual
    inflation per unit gap near potential (0.1: a 1 % gap moves inflation by 0.1 pp). With
    anchoring w, persistent slack takes inflation to pi* + kappa h(gap) / w: in deep slack no
    lower than pi* - kappa s / w (-1 %/yr at the defaults, pi* = 2 %, kappa = 0.1, s = 0.075,
    w = 0.25).
    """
    return _out(np.asarray(pi_expected, float) + kappa * slack_response(gap, slack_scale=slack_scale)
                + shock)


def taylor_rule(pi, gap, *, r_star=0.02, pi_target=0.02, phi_pi=1.5, phi_y=0.5, lower_bound=0.0,
                i_prev=None, smoothing=0.0):
    """Nominal policy rate (annual) from a Taylor rule with an effective lower bound.

        i*_t = r* + pi_target + phi_pi (pi_t - pi_target) + phi_y gap_t          (notional rate)
        i_t  = max(lower_bound, smoothing * i_{t-1} + (1 - smoothing) * i*_t)

    phi_pi > 1 (the Taylor principle) raises the real rate when inflation rises. lower_bound = 0
    is the zero lower bound; smoothing (per period, in [0, 1)) needs i_prev.
    """
    notional = (r_star + pi_target + phi_pi * (np.asarray(pi, float) - pi_target)
                + phi_y * np.asarray(gap, float))
    if smoothing:
        if i_prev is None:
            raise ValueError("smoothing needs i_prev")
        notional = smoothing * np.asarray(i_prev, float) + (1.0 - smoothing) * notional
    return _out(np.maximum(lower_bound, notional))


def fisher_real_rate(i, pi_expected, *, exact=True):
    """Real safe return from the Fisher relation, annual.

        exact:  1 + r = (1 + i) / (1 + pi^e)        linear:  r = i - pi^e

    At the zero lower bound (i = 0) deflation (pi^e < 0) raises the real rate: r = -pi^e/(1+pi^e).
    """
    i = np.asarray(i, float)
    pi_expected = np.asarray(pi_expected, float)
    if exact:
        return _out((1.0 + i) / (1.0 + pi_expected) - 1.0)
    return _out(i - pi_expected)


# ----------------------------------------------------------------------------------------------
# Investment
# ----------------------------------------------------------------------------------------------

def user_cost(real_rate, delta, *, risk_premium=0.0, tax_capital=0.0):
    """Hall-Jorgenson user cost of capital, per year (Hall & Jorgenson 1967, "Tax policy and
    investment behavior", AER 57(3)):

        c = (r + xi) / (1 - tau_k) + delta

    The gross return a marginal unit of capital must earn so that, after the capital income tax
    tau_k on its net return, its owners get the safe rate r plus the risk premium xi. With
    tau_k = 0 it is the frictionless r + xi + delta; a capital (robot) tax raises it. tau_k < 1.
    """
    return _out((np.asarray(real_rate, float) + risk_premium) / (1.0 - np.asarray(tax_capital, float))
                + delta)


def tobin_q(rental, utilisation, real_rate, delta, *, risk_premium=0.0, tax_capital=0.0):
    """Utilisation-adjusted (Keynesian) Tobin's q on after-tax returns, dimensionless.

        q = u^e R / c,   c = (r + xi) / (1 - tau_k) + delta   (``user_cost``)

    R: gross marginal product of capital at full employment (per year); u^e: expected utilisation
    of capacity, E[D]/Y* capped at 1 (idle capacity earns nothing); r: real safe rate; xi: equity
    risk premium; tau_k: the capital income tax in force (surcharge included). q is the value of
    the marginal unit of installed capital relative to its replacement cost when the current return
    is expected to persist (a perpetuity), so a higher capital tax lowers q and investment. In the
    untaxed classical steady state (u = 1, R = r + delta + xi) q = 1.
    """
    u = np.minimum(np.asarray(utilisation, float), 1.0)
    cost = user_cost(real_rate, delta, risk_premium=risk_premium, tax_capital=tax_capital)
    return _out(u * np.asarray(rental, float) / cost)


def q_investment(K, q, delta, *, chi=10.0):
    """Gross investment (per year) from a q rule with adjustment costs; the recommended rule.

        I / K = max(0, delta + (q - 1) / chi)

    This is Hayashi's (1982) rule for quadratic adjustment costs (chi/2)(I/K - delta)^2 K, with
    irreversibility (I >= 0). With the utilisation-adjusted q of ``tobin_q`` it contains the
    accelerator: a demand shortfall (u < 1) lowers q and investment, which lowers demand again;
    a rise in the return on capital from automation (R up) raises q and investment. chi is in
    years: 1/chi is the response of the investment rate to q (chi = 10: q = 1.1 adds 1 pp to I/K).
    """
    return _out(np.asarray(K, float)
                * np.maximum(0.0, delta + (np.asarray(q, float) - 1.0) / chi))


def accelerator_investment(K, expected_output, *, capital_output_ratio, delta, speed=0.25):
    """Flexible-accelerator investment (per year), an alternative to the q rule.

        I = max(0, delta K + speed (v Y^e - K))

    Desired capital is v Y^e (v: target K/Y in years; Y^e: expected demand per year); speed is the
    share of the gap closed per year. Ignores the return on capital, so it misses the
    automation-driven investment boom; kept for comparison and for Keynesian baselines.
    """
    K = np.asarray(K, float)
    desired = capital_output_ratio * np.asarray(expected_output, float)
    return _out(np.maximum(0.0, delta * K + speed * (desired - K)))
