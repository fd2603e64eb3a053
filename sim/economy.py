"""The macro block on the coordinator: what households face each period, and the accounts after.

An economy object has two methods the step loop calls:
* ``environment(t, previous)``: the PeriodEnvironment of period t (prices, policy, rates), given the
  totals of period t-1 (None at t = 0);
* ``close(t, env, totals)``: the macro outputs of period t from the households' totals, updating its
  own stocks (government debt ...).

Every economy also has ``initial_automation`` (Phi at t = 0, for the households' initial tasks) and
``state_dict()`` / ``load_state_dict(d)`` (all mutable state as plain JSON-able values).

``FixedPriceEconomy`` is the first slice (economy.closure=fixed): prices and labour-market rates are
given by the config; output is measured from the income side, Y = w L + (R_f - 1) B + (E R_k - 1) K,
and the government's budget closes with debt. The classical and demand closures (MODEL.md) live in
sim/macro/classical.py and sim/macro/demand.py on the shared machinery of sim/macro/closure.py.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from kernels import rng
from sim.accounts import Totals, household_budget_residual
from sim.environment import PeriodEnvironment

AGGREGATE_ID = 2**63  # household id reserved for economy-wide draws (real ids are below it)
STREAM_RISKY_RETURN = 0


def lognormal_return(key: int, period: int, mean: float, std: float) -> float:
    """Realised gross risky return of a period: lognormal with the given mean and std, drawn from the
    counter-based generator at the reserved aggregate id (so it is the same on every layout)."""
    if std == 0:
        return mean
    s2 = math.log1p((std / mean) ** 2)
    u = rng.uniforms(key, np.array([AGGREGATE_ID], dtype=np.uint64), period, STREAM_RISKY_RETURN)[0]
    return float(mean * math.exp(math.sqrt(s2) * float(ndtri(u)) - 0.5 * s2))


class FixedPriceEconomy:
    """Prices, returns and labour-market rates fixed by config (``economy.closure=fixed``)."""

    def __init__(self, cfg, key: int):
        e, p = cfg.economy, cfg.policy
        self.key = key
        self.periods_per_year = int(cfg.periods_per_year)
        self.poverty_share = float(cfg.output.poverty_share)
        self.base = PeriodEnvironment(
            wage=float(e.wage),
            return_safe=float(e.return_safe),
            return_risky=float(e.return_safe + e.equity_premium),
            risky_mean=float(e.return_safe + e.equity_premium),
            risky_std=float(e.risky_std),
            separation=float(e.separation),
            job_finding=float(e.job_finding),
            hazard_displacement=float(e.hazard_displacement),
            automation=float(e.automation),
            automated_share=0.0,
            tax_labour=float(p.tax_labour),
            tax_capital=float(p.tax_capital),
            tax_consumption=float(p.tax_consumption),
            tax_wealth=float(p.tax_wealth),
            benefit=float(p.benefit),
            payment_fee=float(p.payment_fee),
            ubi=float(p.ubi.level),
            ubi_invest_share=float(p.ubi.invest_share),
            dividend=float(p.dividend),
        )
        self.debt = 0.0  # government debt (goods), held by the rest of the economy

    @property
    def initial_automation(self) -> float:
        """Phi at t = 0 (households' initial tasks are drawn above it)."""
        return self.base.automation

    def state_dict(self) -> dict:
        """The mutable state (checkpoints); everything else comes from the config."""
        return {"debt": self.debt}

    def load_state_dict(self, state: dict) -> None:
        self.debt = float(state["debt"])

    def environment(self, t: int, previous: Totals | None, median_income: float | None) -> PeriodEnvironment:
        b = self.base
        line = self.poverty_share * (median_income if median_income is not None else b.wage)
        automated = 0.0
        if previous is not None and previous["employed"] > 0:
            automated = previous["automated_employed"] / previous["employed"]
        return b.with_(
            return_risky=lognormal_return(self.key, t, b.risky_mean, b.risky_std),
            return_risky_income=b.risky_mean,  # the expected return is income, the surprise is not
            poverty_line=line,
            automated_share=automated,
        )

    def close(self, t: int, env: PeriodEnvironment, tot: Totals) -> dict[str, float]:
        n = tot["households"]
        labour_income = tot["labour_income"]
        capital_part = ((env.return_safe - 1.0) * tot["safe_begin"]
                        + (env.risky_mean - 1.0) * tot["risky_begin"])
        output = labour_income + capital_part
        potential = env.wage * n + capital_part  # full employment: mean productivity is 1
        revenue = (tot["labour_tax"] + tot["capital_tax"] + tot["wealth_tax"]
                   + tot["consumption_tax"])
        spending = tot["benefits"] + tot["ubi"] + tot["dividends"]
        self.debt = self.debt * env.return_safe + spending - revenue
        saving = tot["income"] - (tot["consumption"] + tot["consumption_tax"] + tot["fees"])
        residual = household_budget_residual(tot)
        return {
            "output": output,
            "potential_output": potential,
            "consumption": tot["consumption"],
            "investment": saving,
            "government_spending": 0.0,
            "wage": env.wage,
            "return_safe": env.return_safe,
            "return_risky": env.return_risky,
            "labour_share": labour_income / output if output else float("nan"),
            "unemployment_rate": (tot["unemployed"] + tot["displaced"]) / n,
            "displacement_rate": tot["displaced"] / n,
            "automation": env.automation,
            "inflation": 0.0,
            "nominal_rate": env.return_safe - 1.0,
            "real_rate": env.return_safe - 1.0,
            "debt_to_gdp": self.debt / (output * self.periods_per_year),
            "ubi_cost": tot["ubi"],
            "fee_revenue": tot["fees"],
            "dominant_capital_share": 0.0,
            "mean_wealth": (tot["safe_end"] + tot["risky_end"]) / n,
            "sfc_residual": abs(residual) / abs(output),
        }


def make_economy(cfg, key: int):
    """The macro block of ``economy.closure``: fixed (this module), classical
    (sim/macro/classical.py) or demand (sim/macro/demand.py); see docs/economy.md."""
    closure = cfg.economy.closure
    if closure == "fixed":
        return FixedPriceEconomy(cfg, key)
    if closure == "classical":
        from sim.macro.classical import ClassicalEconomy

        return ClassicalEconomy(cfg, key)
    if closure == "demand":
        from sim.macro.demand import DemandEconomy

        return DemandEconomy(cfg, key)
    raise ValueError(f"economy.closure={closure!r} is not implemented")
