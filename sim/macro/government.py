"""Fiscal policy on the coordinator: taxes, transfers, government consumption and the financing rule.

Every instrument is a config switch under ``policy.*`` and all combine (docs/model.md, "Government and
policies"). Quantities are goods per period, tax rates are shares.

* Taxes: labour tau_l, capital income tau_k (the "robot tax": levied on households' interest and
  equity returns, losses offset, and at the same rate on the fund's and the dominant holder's
  equity returns and the intermediaries' income, sim/macro/period.py), consumption tau_c, wealth
  tau_w (per period on beginning-of-period wealth). The kernels collect households' taxes household
  by household; the coordinator the other holders'.
* Unemployment benefit per unemployed or displaced household.
* UBI: ``level`` goods per household per period at the base, times a ramp that rises linearly
  from 1/ramp at ``start`` to 1 after ``ramp`` periods, times an index:
    prices  - constant real value (everything in the model is real, so price indexation is this);
    nominal - fixed in money: the real value falls with the price level, level / P_{t-1};
    wage    - moves with the wage per efficiency unit, w_t / w_0;
    output  - moves with potential output per household, Y*_t / Y*_0.
  ``invest_share`` of it is paid into the household's risky holdings (the kernels do this).
* Government consumption G_t = spending x Y*_t (a share of potential output).
* Financing rule ``policy.financing`` (docs/economy.md, "Financing rules"), every policy paid for
  by one of:
    deficit  - pure deficit financing; debt/GDP is only tracked;
    tax_rule - a common surcharge on the labour and capital tax rates (so on every holder's capital
               income), s_t = clip(response (d_{t-1} - target) + I_{t-1}, +-max_surcharge), rates
               clipped to [0, 0.95]; d_{t-1} is last period's debt over annual output and
               I_t = clip(I_{t-1} + integral (d_t - target), +-max_surcharge) the integral term
               (``integrate_debt_gap``): a primary balance that rises with debt keeps debt/GDP
               stationary (Bohn 1998), the integral term at the target rather than above it;
               with an escape clause at the interest rate's lower bound (``escape_offset``);
    balanced - revenue = spending (interest included) every period, so debt is constant: the same
               surcharge on labour and capital rates, set before the period from last period's
               shortfall (``balanced_surcharge``), and a balancing levy on the firm sector's profit
               at the close for what the surcharge missed (sim/macro/period.py, ``balance_budget``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UBI_INDEXATION = ("prices", "nominal", "wage", "output")
FINANCING = ("deficit", "tax_rule", "balanced")
FEE_EARNERS = ("intermediaries", "government")
MAX_TAX = 0.95


@dataclass(frozen=True)
class FiscalSettings:
    """What the policy config asks for (immutable; no state lives here)."""

    tax_labour: float
    tax_capital: float
    tax_consumption: float
    tax_wealth: float
    benefit: float
    spending: float  # G as a share of potential output
    ubi_level: float
    ubi_invest_share: float
    ubi_indexation: str
    ubi_start: int
    ubi_ramp: int
    financing: str  # one of FINANCING
    target: float  # debt over annual output
    response: float
    integral: float
    max_surcharge: float
    escape_easing: float  # the escape clause's cut of the surcharge per period per unit of output gap
    escape_unwind: float  # share of its offset unwound per period off the bound

    @classmethod
    def from_config(cls, p) -> "FiscalSettings":
        u, f = p.ubi, p.fiscal
        return cls(
            tax_labour=float(p.tax_labour), tax_capital=float(p.tax_capital),
            tax_consumption=float(p.tax_consumption), tax_wealth=float(p.tax_wealth),
            benefit=float(p.benefit), spending=float(p.government.spending),
            ubi_level=float(u.level), ubi_invest_share=float(u.invest_share),
            ubi_indexation=str(u.indexation), ubi_start=int(u.start), ubi_ramp=int(u.ramp),
            financing=str(p.financing), target=float(f.target_debt_to_gdp), response=float(f.response), integral=float(f.integral),
            max_surcharge=float(f.max_surcharge), escape_easing=float(f.escape_easing),
            escape_unwind=float(f.escape_unwind),
        )


@dataclass(frozen=True)
class FiscalStance:
    """The instruments of one period."""

    tax_labour: float
    tax_capital: float
    tax_consumption: float
    tax_wealth: float
    benefit: float
    ubi: float
    ubi_invest_share: float
    spending: float  # G_t, goods per period
    surcharge: float  # s_t added to the labour and capital tax rates
    spending_share: float  # G_t / Y*_t


def ubi_index(kind: str, *, price_level: float, wage: float, wage0: float, potential: float,
              potential0: float) -> float:
    """The UBI index of ``UBI_INDEXATION`` (1 at the base)."""
    if kind == "prices":
        return 1.0
    if kind == "nominal":
        return 1.0 / price_level
    if kind == "wage":
        return wage / wage0 if wage0 > 0 else 1.0
    if kind == "output":
        return potential / potential0 if potential0 > 0 else 1.0
    raise ValueError(f"unknown UBI indexation {kind!r}; valid: {', '.join(UBI_INDEXATION)}")


def ubi_ramp(t: int, start: int, ramp: int) -> float:
    """0 before ``start``; then min(1, (t - start + 1) / ramp) (1 at once when ramp <= 1)."""
    if t < start:
        return 0.0
    if ramp <= 1:
        return 1.0
    return min(1.0, (t - start + 1) / ramp)


def surcharge_range(s: FiscalSettings) -> tuple[float, float]:
    """The surcharges that move a tax rate, [lo, hi]: below lo = max(-max_surcharge, -max(tau_l, tau_k))
    both rates sit at 0, above hi = min(max_surcharge, MAX_TAX - min(tau_l, tau_k)) both sit at
    their ceiling (tau_l, tau_k the base rates). Outside it the instrument is saturated."""
    lo = max(-s.max_surcharge, -max(s.tax_labour, s.tax_capital))
    hi = min(s.max_surcharge, MAX_TAX - min(s.tax_labour, s.tax_capital))
    return lo, hi


def rule_surcharge(s: FiscalSettings, debt_ratio: float | None, carried: float = 0.0) -> float:
    """The tax rule's surcharge s_t = clip(response (d_{t-1} - target) + I_{t-1}, lo, hi), I the
    carried integral term and [lo, hi] the surcharges that move a rate (``surcharge_range``: beyond
    it the rates are clipped anyway, so the reported surcharge is the one that acts); 0 under
    another financing rule or with no history."""
    if s.financing != "tax_rule" or debt_ratio is None:
        return 0.0
    lo, hi = surcharge_range(s)
    return float(np.clip(s.response * (debt_ratio - s.target) + carried, lo, hi))


def integrate_debt_gap(s: FiscalSettings, carried: float, debt_ratio: float | None) -> float:
    """The tax rule's integral term after a period, with conditional integration (anti-windup):

        I* = I_{t-1} + integral e,   e = d_t - target,   u = response e  (the next proportional part)
        e < 0:  I_t = max(I*, min(I_{t-1}, lo - u))      e > 0:  I_t = min(I*, max(I_{t-1}, hi - u))

    then clipped to +-max_surcharge. Away from the bounds this is the plain integrator I* (a PI
    rule: debt/GDP rests at the target, not where response e pays for the policy); the integral
    moves towards a bound of ``surcharge_range`` only until the next surcharge u + I reaches it,
    and not at all while u + I_{t-1} is already beyond it. Without the clamp the term kept
    integrating while the rates sat at 0 (the 18-year start-up of docs/calibration.md 9) and then
    held them there after debt had passed its target: the overshoot of integrator windup, which
    conditional integration removes (Astrom & Hagglund 2006, Advanced PID Control, ch. 3,
    "Integrator windup"; docs/economy.md, "Financing rules"). Unchanged under another rule."""
    if s.financing != "tax_rule" or debt_ratio is None or s.integral == 0.0:
        return carried
    gap = debt_ratio - s.target
    proportional = s.response * gap
    moved = carried + s.integral * gap
    lo, hi = surcharge_range(s)
    if gap < 0.0:
        moved = max(moved, min(carried, lo - proportional))
    elif gap > 0.0:
        moved = min(moved, max(carried, hi - proportional))
    return float(np.clip(moved, -s.max_surcharge, s.max_surcharge))


def escape_offset(s: FiscalSettings, offset: float, surcharge: float, rule_next: float, at_bound: bool,
                  gap: float) -> float:
    """The tax rule's escape clause: the offset O added to next period's rule surcharge
    (s_t+1 = clip(rule_t+1 + O_t+1, lo, hi)), after a period whose surcharge was s_t.

    At the lower bound with slack (the policy rate i_t at its floor, output gap g_t < 0) the
    surcharge may not rise and falls with the slack,
        O_t+1 = min(s_t, rule_t+1 + O_t) + escape_easing g_t - rule_t+1;
    elsewhere the offset unwinds, O_t+1 = (1 - escape_unwind) O_t. O is never positive, and never
    below lo - rule_t+1 (no easing wound up beyond the rates' floor). Why: at the bound a rule that
    answers a rising debt ratio with taxes deepens the slump that raised it (docs/economy.md,
    "Financing rules"); 0 under another financing rule or with escape_easing = 0."""
    if s.financing != "tax_rule" or s.escape_easing == 0.0:
        return 0.0
    if at_bound and gap < 0.0:
        moved = min(surcharge, rule_next + offset) + s.escape_easing * gap - rule_next
    else:
        moved = (1.0 - s.escape_unwind) * offset
    lo, _ = surcharge_range(s)
    return float(min(0.0, max(moved, lo - rule_next)))


def carried_at_switch(before: FiscalSettings, after: FiscalSettings, carried: float,
                      debt_ratio: float | None, offset: float = 0.0) -> float:
    """The carried surcharge term under ``after`` when a fork's arm switches ``policy.financing``
    from ``before``'s at the fork. The term means different things under the two rules that set a
    surcharge (``balanced``: the surcharge itself; ``tax_rule``: the integral I of
    s = response (d - target) + I), so it is converted, not copied: between them the arm's first
    surcharge is the one the parent would have set (bumpless transfer, Astrom & Hagglund 2006,
    ch. 3), within the new rule's bounds. From ``deficit``, which sets none, the new rule starts
    afresh (I = 0; balanced from 0); to ``deficit`` the term is unused."""
    if before.financing == after.financing:
        return carried
    if after.financing == "deficit" or before.financing == "deficit":
        return 0.0
    now = surcharge_in_force(before, debt_ratio, carried, offset)
    if after.financing == "balanced":
        return float(np.clip(now, -MAX_TAX, MAX_TAX))
    if debt_ratio is None:  # no history: the rule sets no surcharge yet, whatever its term
        return 0.0
    now = float(np.clip(now, *surcharge_range(after)))  # what the new rule can set
    return float(np.clip(now - after.response * (debt_ratio - after.target), -after.max_surcharge,
                         after.max_surcharge))


def balanced_surcharge(previous: float, shortfall: float, base: float) -> float:
    """The balanced budget's surcharge for the next period: s_t = s_{t-1} + L_{t-1} / B_{t-1}, the
    rate that would have raised last period's shortfall L (the balancing levy, goods) from last
    period's taxable base B (labour income plus positive capital income, goods), clipped to
    +-MAX_TAX (no wind-up while the rates sit at their bounds)."""
    if base <= 0.0:
        return previous
    return float(np.clip(previous + shortfall / base, -MAX_TAX, MAX_TAX))


def surcharge_in_force(s: FiscalSettings, debt_ratio: float | None, carried: float, offset: float = 0.0) -> float:
    """The surcharge the financing rule sets from last period's debt ratio, its carried term
    (``balanced``: the surcharge itself; ``tax_rule``: its integral term) and the escape clause's
    offset (``escape_offset``; tax_rule with the clause only: a fork's arm may drop the clause)."""
    if s.financing == "balanced":
        return carried
    surcharge = rule_surcharge(s, debt_ratio, carried)
    if offset != 0.0 and s.financing == "tax_rule" and s.escape_easing > 0.0:
        surcharge = float(np.clip(surcharge + offset, *surcharge_range(s)))
    return surcharge


def stance(s: FiscalSettings, t: int, *, debt_ratio: float | None, potential: float, index: float,
           carried: float = 0.0, offset: float = 0.0) -> FiscalStance:
    """The period's taxes, transfers and G from the settings, last period's debt ratio, potential
    output (goods per period), the UBI index, the carried surcharge term and the escape clause's
    offset (``surcharge_in_force``)."""
    surcharge = surcharge_in_force(s, debt_ratio, carried, offset)
    tax_l, tax_k = s.tax_labour, s.tax_capital
    if surcharge != 0.0:
        tax_l = float(np.clip(tax_l + surcharge, 0.0, MAX_TAX))
        tax_k = float(np.clip(tax_k + surcharge, 0.0, MAX_TAX))
    return FiscalStance(
        tax_labour=tax_l, tax_capital=tax_k, tax_consumption=s.tax_consumption, tax_wealth=s.tax_wealth,
        benefit=s.benefit, ubi=s.ubi_level * ubi_ramp(t, s.ubi_start, s.ubi_ramp) * index,
        ubi_invest_share=s.ubi_invest_share, spending=s.spending * potential, surcharge=surcharge,
        spending_share=s.spending,
    )
