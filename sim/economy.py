"""The macro block on the coordinator: what households face each period, and the accounts after.

An economy object has two methods the step loop calls:
* ``environment(t, previous)``: the PeriodEnvironment of period t (prices, policy, rates), given the
  totals of period t-1 (None at t = 0);
* ``close(t, env, totals)``: the macro outputs of period t from the households' totals, updating its
  own stocks (government debt ...).

Every economy also has ``initial_automation`` (Phi at t = 0, for the households' initial tasks),
``initial_wealth_mean`` (the mean of their initial wealth draw: the configured one, or in the
classical and demand closures the one that carries ``economy.initial_debt_to_gdp``) and
``state_dict()`` / ``load_state_dict(d)`` (all mutable state as plain JSON-able values).

``FixedPriceEconomy`` is the first slice (economy.closure=fixed): prices and labour-market rates are
given by the config; output is measured from the income side, Y = w L + (R_f - 1) B + (E R_k - 1) K,
and the government's budget closes with debt. It shares the government block with the other
closures (sim/macro/government.py: taxes, the UBI's start, ramp and indexation, G as a share of
potential output, the financing rule deficit or tax_rule) and refuses the keys it has no sector for (``check_fixed``).
The classical and demand closures (docs/model.md) live in sim/macro/classical.py and
sim/macro/demand.py on the shared machinery of sim/macro/closure.py.
"""
from __future__ import annotations

from sim.accounts import Totals, household_budget_residual, poverty_reference
from sim.errors import ConfigError
from sim.environment import PeriodEnvironment
from sim.macro import government as gov
from sim.macro import policy_rules as pr
from sim.macro.shocks import lognormal_return


def check_fixed(cfg) -> None:
    """Refuse (ConfigError, one line) a policy the fixed closure cannot honour: it has no equity
    market for the fund and the dominant holder, no intermediaries' accounts, and no potential
    output before the households report (so no UBI indexed to it)."""
    p = cfg.policy
    refused = [
        ("policy.fund.initial_share", p.fund.initial_share != 0,
         "set it to 0 (policy.dividend pays a fixed per-household dividend here)"),
        ("policy.dominant.initial_share", p.dominant.initial_share != 0, "set it to 0"),
        ("policy.ubi.indexation", p.ubi.indexation == "output",
         "use prices, nominal or wage (all constant here)"),
        ("policy.fee.spend_share", p.fee.earner == "intermediaries" and p.fee.spend_share != 1,
         "set it to 1 (the intermediaries' saving is not tracked here)"),
        ("policy.financing", p.financing == "balanced",
         "use deficit or tax_rule (no firm sector here to pay the balancing levy)"),
    ]
    for key, bad, fix in refused:
        if bad:
            value = p
            for part in key.split(".")[1:]:
                value = value[part]
            raise ConfigError(f"{key}={value} is not honoured by economy.closure=fixed: {fix}, "
                              "or use economy.closure=demand")


class FixedPriceEconomy:
    """Prices, returns and labour-market rates fixed by config (``economy.closure=fixed``).
    Built by ``make_economy``, which has refused what it cannot honour (``check_config``)."""

    prices_equity = False  # no equity market at all (``sim.macro.clearing.clear_period``)

    def __init__(self, cfg, key: int):
        e, p = cfg.economy, cfg.policy
        self.key = key
        self.fiscal = gov.FiscalSettings.from_config(p)
        self.fee_earner = str(p.fee.earner)
        self.periods_per_year = int(cfg.periods_per_year)
        self.poverty_share = float(cfg.output.poverty_share)
        self.poverty_smoothing = float(cfg.output.poverty_smoothing)
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
        # the households' initial wealth mean: the configured one (this closure's government starts
        # without debt, so economy.initial_debt_to_gdp is not used here)
        self.initial_wealth_mean = float(cfg.population.initial_wealth_mean)
        self.debt = 0.0  # government debt (goods), held by the rest of the economy
        self.debt_ratio: float | None = None  # last period's debt over annual output (tax rule)
        self.poverty_income: float | None = None  # reference income of the poverty line
        self.carried_surcharge = 0.0  # the tax rule's integral term

    @property
    def initial_automation(self) -> float:
        """Phi at t = 0 (households' initial tasks are drawn above it)."""
        return self.base.automation

    def state_dict(self) -> dict:
        """The mutable state (checkpoints); everything else comes from the config."""
        return {"debt": self.debt, "debt_ratio": self.debt_ratio, "poverty_income": self.poverty_income,
                "carried_surcharge": self.carried_surcharge}

    def load_state_dict(self, state: dict) -> None:
        self.debt = float(state["debt"])
        self.debt_ratio = None if state["debt_ratio"] is None else float(state["debt_ratio"])
        self.poverty_income = None if state["poverty_income"] is None else float(state["poverty_income"])
        self.carried_surcharge = float(state["carried_surcharge"])

    def _stance(self, t: int) -> gov.FiscalStance:
        """The shared government block. The UBI index is 1 under every indexation this closure
        takes: the price level and the wage are constant. G is set at the close (its potential
        output is measured from the period's incomes), so ``potential`` is 0 here."""
        return gov.stance(self.fiscal, t, debt_ratio=self.debt_ratio, potential=0.0, index=1.0,
                          carried=self.carried_surcharge)

    def environment(self, t: int, previous: Totals | None, median_income: float | None) -> PeriodEnvironment:
        b = self.base
        # the smoothed median of accounts.poverty_reference (``median_income`` is not used)
        line = self.poverty_share * (self.poverty_income if self.poverty_income is not None else b.wage)
        automated = 0.0
        if previous is not None and previous["employed"] > 0:
            automated = previous["automated_employed"] / previous["employed"]
        st = self._stance(t)
        return b.with_(
            tax_labour=st.tax_labour,
            tax_capital=st.tax_capital,
            ubi=st.ubi,
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
        if self.fee_earner == "government":  # a public payment rail
            revenue = revenue + tot["fees"]
        government_spending = self._stance(t).spending_share * potential  # G = share x Y*
        spending = tot["benefits"] + tot["ubi"] + tot["dividends"] + government_spending + tot["transfers"]
        self.debt = self.debt * env.return_safe + spending - revenue
        self.debt_ratio = self.debt / (output * self.periods_per_year) if output > 0 else None
        self.carried_surcharge = gov.integrate_debt_gap(self.fiscal, self.carried_surcharge, self.debt_ratio)
        self.poverty_income = poverty_reference(self.poverty_income, tot, self.poverty_smoothing)
        saving = tot["income"] - (tot["consumption"] + tot["consumption_tax"] + tot["fees"])
        residual = household_budget_residual(tot)
        return {
            "output": output,
            "potential_output": potential,
            "consumption": tot["consumption"],
            "investment": saving,
            "government_spending": government_spending,
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
            "tax_labour_rate": env.tax_labour,
            "tax_capital_rate": env.tax_capital,
            "ubi_cost": tot["ubi"],
            "fee_revenue": tot["fees"],
            "dominant_capital_share": 0.0,
            "mean_wealth": (tot["safe_end"] + tot["risky_end"]) / n,
            "household_safe_assets": tot["safe_end"],
            "household_risky_assets": tot["risky_end"],
            "participation_rate": tot["participants"] / n,
            "sfc_residual": abs(residual) / abs(output),
        }


def check_config(cfg) -> None:
    """Refuse (ConfigError) keys the configured closure cannot honour; cheap, no state built, so
    a caller can run it before any Ray work (``make_economy`` runs it too)."""
    if cfg.economy.closure == "fixed":
        check_fixed(cfg)
    inv = cfg.economy.investment
    if inv.rule != "q" and cfg.economy.closure != "demand":
        raise ConfigError(f"economy.investment.rule={inv.rule} is a rule of the demand "
                          f"closure, not of economy.closure={cfg.economy.closure} (there saving finances "
                          "capital): use economy.closure=demand, or leave the rule at q")
    if inv.rule == "accelerator" and not pr.user_cost(cfg.economy.taylor.r_star, cfg.economy.depreciation,
                                                      risk_premium=inv.risk_premium) > 0:
        raise ConfigError("economy.investment.rule=accelerator anchors desired capital at the user cost "
                          "r_star + risk_premium + depreciation, which is not positive here: raise "
                          "economy.investment.risk_premium or economy.taylor.r_star")
    if cfg.economy.equity.market == "priced":
        if cfg.economy.closure != "demand":
            raise ConfigError(f"economy.equity.market=priced is a market of the demand closure, not of "
                              f"economy.closure={cfg.economy.closure}: use economy.closure=demand, or market=value")
        if int(cfg.household.resolve_every) != 1:
            raise ConfigError(f"household.resolve_every={cfg.household.resolve_every} with "
                              "economy.equity.market=priced: the market clears by re-solving the household "
                              "problem at each candidate price; set household.resolve_every=1")


def make_economy(cfg, key: int):
    """The macro block of ``economy.closure``: fixed (this module), classical
    (sim/macro/classical.py) or demand (sim/macro/demand.py; with ``economy.equity.market=priced``
    sim/macro/equity.py); see docs/economy.md."""
    check_config(cfg)
    closure = cfg.economy.closure
    if closure == "fixed":
        return FixedPriceEconomy(cfg, key)
    if closure == "classical":
        from sim.macro.classical import ClassicalEconomy

        return ClassicalEconomy(cfg, key)
    if closure == "demand":
        if cfg.economy.equity.market == "priced":
            from sim.macro.equity import PricedDemandEconomy

            return PricedDemandEconomy(cfg, key)
        from sim.macro.demand import DemandEconomy

        return DemandEconomy(cfg, key)
    raise ValueError(f"economy.closure={closure!r} is not implemented")
