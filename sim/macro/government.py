"""Fiscal policy on the coordinator: taxes, transfers, government consumption and the fiscal rule.

Every instrument is a config switch under ``policy.*`` and all combine (docs/model.md, "Government and
policies"). Quantities are goods per period, tax rates are shares.

* Taxes: labour tau_l, capital income tau_k (the "robot tax": levied on households' interest and
  equity returns, losses offset), consumption tau_c, wealth tau_w (per period on beginning-of-period
  wealth). The kernels collect them household by household.
* Unemployment benefit per unemployed or displaced household.
* UBI: ``level`` goods per household per period at the base, times a ramp that rises linearly
  from 1/ramp at ``start`` to 1 after ``ramp`` periods, times an index:
    prices  - constant real value (everything in the model is real, so price indexation is this);
    nominal - fixed in money: the real value falls with the price level, level / P_{t-1};
    wage    - moves with the wage per efficiency unit, w_t / w_0;
    output  - moves with potential output per household, Y*_t / Y*_0.
  ``invest_share`` of it is paid into the household's risky holdings (the kernels do this).
* Government consumption G_t = spending x Y*_t (a share of potential output).
* Fiscal rule: ``deficit`` (pure deficit financing; debt/GDP is only tracked), ``tax`` (a common
  surcharge on the labour and capital tax rates, s_t = clip(response (d_{t-1} - target), +-max),
  rates clipped to [0, 0.95]) or ``spending`` (G's share is cut by the same s_t, not below 0).
  d_{t-1} is last period's debt over annual output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UBI_INDEXATION = ("prices", "nominal", "wage", "output")
FISCAL_RULES = ("deficit", "tax", "spending")
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
    rule: str
    target: float  # debt over annual output
    response: float
    max_surcharge: float

    @classmethod
    def from_config(cls, p) -> "FiscalSettings":
        u, f = p.ubi, p.fiscal
        return cls(
            tax_labour=float(p.tax_labour), tax_capital=float(p.tax_capital),
            tax_consumption=float(p.tax_consumption), tax_wealth=float(p.tax_wealth),
            benefit=float(p.benefit), spending=float(p.government.spending),
            ubi_level=float(u.level), ubi_invest_share=float(u.invest_share),
            ubi_indexation=str(u.indexation), ubi_start=int(u.start), ubi_ramp=int(u.ramp),
            rule=str(f.rule), target=float(f.target_debt_to_gdp), response=float(f.response),
            max_surcharge=float(f.max_surcharge),
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
    surcharge: float
    spending_share: float  # G_t / Y*_t after the rule


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


def rule_surcharge(s: FiscalSettings, debt_ratio: float | None) -> float:
    """The fiscal rule's adjustment s_t (0 under pure deficit financing or with no history)."""
    if s.rule == "deficit" or debt_ratio is None:
        return 0.0
    return float(np.clip(s.response * (debt_ratio - s.target), -s.max_surcharge, s.max_surcharge))


def stance(s: FiscalSettings, t: int, *, debt_ratio: float | None, potential: float, index: float) -> FiscalStance:
    """The period's taxes, transfers and G from the settings, last period's debt ratio, potential
    output (goods per period) and the UBI index."""
    surcharge = rule_surcharge(s, debt_ratio)
    tax_l, tax_k, share_g = s.tax_labour, s.tax_capital, s.spending
    if s.rule == "tax":
        tax_l = float(np.clip(tax_l + surcharge, 0.0, MAX_TAX))
        tax_k = float(np.clip(tax_k + surcharge, 0.0, MAX_TAX))
    elif s.rule == "spending":
        share_g = max(0.0, share_g - surcharge)
    return FiscalStance(
        tax_labour=tax_l, tax_capital=tax_k, tax_consumption=s.tax_consumption, tax_wealth=s.tax_wealth,
        benefit=s.benefit, ubi=s.ubi_level * ubi_ramp(t, s.ubi_start, s.ubi_ramp) * index,
        ubi_invest_share=s.ubi_invest_share, spending=share_g * potential, surcharge=surcharge,
        spending_share=share_g,
    )
