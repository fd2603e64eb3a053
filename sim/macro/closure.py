"""What the classical and demand closures share: technology and automation, the labour market,
policy, the non-household owners, and the period's close (docs/economy.md).

A closure is a ``MacroEconomy`` subclass that decides, at the start of a period (``_plan``), the
wage, the returns, the labour-market rates, planned output and investment, and at the end
(``_output``, ``_realise``), realised output, investment and inventories. Everything else is
shared: ``environment`` turns the plan into what households face, and ``close`` runs the blocks of
sim/macro/period.py (flows, ledger, stocks, checks, output row; the balance sheet and its opening
are stated there). Units: stocks in goods; flows in goods per period; the technology's annual flows
and rates are converted with dt = 1 / periods_per_year (flows x dt, depreciation delta dt per
period, interest rates compounded, (1 + r)^dt - 1).

Timing of a period t. ``environment(t)`` reads only the state left by period t-1 (it never changes
it, so a restart from a checkpoint replays bit for bit) and stores the period's plan; the kernels
then pay wages, transfers and returns at those prices and report sums; ``close(t)`` books the
period, checks the accounts and updates the state.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.accounts import Totals, poverty_reference
from sim.environment import PeriodEnvironment, discount_factors
from sim.macro import government as gov
from sim.macro import period
from sim.macro.automation import automation_path
from sim.macro.labour import LabourMarket
from sim.macro.ownership import dominant_holder, public_fund
from sim.macro.payments import Intermediaries
from sim.macro.sfc import largest_residual
from sim.macro.technology import make_technology


def automation_params(cfg_path) -> tuple[str, dict]:
    """The kind and the parameters its path function takes (null = the kind's default)."""
    kind = str(cfg_path.kind)
    takes = {"constant": ("phi0",), "bau": ("phi0", "lam_g"),
             "baseline_agi": ("phi0", "lam_g", "T"), "aggressive_agi": ("phi0", "lam_g", "T"),
             "agi": ("phi0", "lam_g", "T"), "bout": ("phi0", "phi_end", "duration")}[kind] + ("start",)
    params = {k: float(cfg_path[k]) for k in takes if cfg_path[k] is not None}
    return kind, params


@dataclass
class Plan:
    """Decisions of period t taken at its start (transient: recomputed from the state)."""

    t: int
    phi: float
    K: float
    L_full: float  # full-employment effective labour
    potential: float  # Y*_t, goods per period
    rental: float  # gross marginal product of capital at full employment, per year
    wage: float  # goods per efficiency unit per period
    return_safe: float
    return_risky: float
    payout: float  # equity payout rate before the shock (R_k = (1 + payout) x shock)
    separation: float
    job_finding: float
    planned_output: float  # Q_t
    utilisation: float  # Q_t / Y*_t
    investment: float  # planned gross investment (demand closure), goods per period
    expected_demand: float
    nominal_rate: float  # annual
    real_rate: float  # annual
    stance: gov.FiscalStance
    dividend: float  # per household
    tobin_q: float = 1.0
    belief_job_finding: float | None = None  # households' expected job finding (None: the actual)
    premium: float = 0.0  # households' expected excess equity return, per period (demand closure)
    return_risky_income: float | None = None  # payout part of return_risky, counted as income
    return_risky_taxed: float | None = None  # the part of return_risky the capital tax reaches (None: all)
    expected_inflation: float = 0.0  # pi^e_t, annual (demand closure)
    # the priced equity market (economy.equity.market=priced, sim/macro/equity.py)
    equity_price: float = 1.0  # p_t, goods per share (the clearing price once settled)
    dividend_per_share: float = 0.0  # d_t, goods per share
    share_supply: float | None = None  # S_t-1 + dS_t (None: period 0, the opening issue)
    expected_return: float = 1.0  # E[R_k] from observables, gross per period
    belief_bound_binds: bool = False  # the solvability bound lowered the households' beliefs
    buyback_capped: bool = False  # the firms' buyback hit its guard
    no_seller: bool = False  # only the fund and the dominant holder would hold the shares (no_seller_price)
    clearing_slope: float | None = None  # dz/dlog p of the excess demand at the clearing price
    belief_premium: float | None = None  # E[R] - R_f households plan with at the settled price (per period)
    belief_cap: float = float("inf")  # the pre-tax gross return the beliefs may not exceed (solvability)
    risky_mean_taxed: float | None = None  # the part of the expected risky return the tax reaches (None: all)


class MacroEconomy:
    """Shared machinery of the classical and demand closures (see the module docstring)."""

    closure = "base"

    def __init__(self, cfg, key: int):
        e, p, pop = cfg.economy, cfg.policy, cfg.population
        self.key = key
        self.ppy = int(cfg.periods_per_year)
        self.dt = 1.0 / self.ppy
        self.n = int(pop.households)
        # the most patient type's beta: a belief cap (economy.patience_cap) keeps its beta R below it
        self.beta = float(discount_factors(cfg.household)[-1])
        self.poverty_share = float(cfg.output.poverty_share)
        self.poverty_smoothing = float(cfg.output.poverty_smoothing)
        tech_params = ({"A": float(e.tfp), "sigma": float(e.sigma)} if e.technology == "korinek_suh"
                       else {"A": float(e.tfp), "alpha": float(e.alpha)})
        self.tech = make_technology(str(e.technology), **tech_params)
        self.delta = float(e.depreciation)  # per year
        self.path_kind, self.path_params = automation_params(e.automation_path)
        self.labour = LabourMarket(self.n, float(e.separation), float(e.job_finding),
                                   float(e.hazard_displacement), float(e.labour.job_finding_max),
                                   float(e.labour.separation_max), float(e.labour.job_finding_min),
                                   float(e.labour.belief_sensitivity))
        self.risky_std = float(e.risky_std)
        self.equity_premium = float(e.equity_premium)  # per period, households' initial belief
        # kappa per unit of the wage: what holding equity costs a household per period (the
        # participation rule of kernels.household.portfolio; docs/economy.md "Who holds equity")
        self.participation_cost = float(e.equity.participation_cost)
        self.patience_cap = None if e.patience_cap is None else float(e.patience_cap)
        self.fiscal = gov.FiscalSettings.from_config(p)
        self.payment_fee = float(p.payment_fee)
        self.intermediaries = Intermediaries(str(p.fee.earner), float(p.fee.spend_share))
        # --- state carried from period to period (state_dict) ---
        self.t = 0  # next period to close
        self.K = float(e.initial_capital) * self.labour.full_employment  # mean productivity 1
        self.inventories = 0.0
        self.firm_debt = 0.0
        self.firm_net_worth = 0.0
        self.government_debt = 0.0
        u0 = float(pop.initial_unemployment)
        self.employed = self.n * (1.0 - u0)
        self.labour_per_employed = 1.0
        self.automated_share = 0.0
        self.debt_ratio: float | None = None
        self.carried_surcharge = 0.0  # balanced: s_t for the next period; tax_rule: its integral term
        self.escape_offset = 0.0  # tax_rule: the escape clause's offset to the next surcharge
        self.output = 0.0
        self.poverty_income: float | None = None  # reference income of the poverty line
        # UBI indexation bases (functions of the config only)
        fp0 = self._factor_prices(self.K, self.labour.full_employment, self.phi(0))
        self.wage0 = float(fp0.wage) * self.dt
        self.potential0 = float(fp0.output) * self.dt
        self._init_closure(cfg)
        # Expected opening holdings (the exact ones arrive with period 0's totals).
        self.theta_fund, self.theta_dominant = float(p.fund.initial_share), float(p.dominant.initial_share)
        risky_share = float(pop.initial_risky_share)
        if e.initial_debt_to_gdp is None:
            wealth0 = self.n * float(pop.initial_wealth_mean)
        else:  # the households' wealth that carries the opening debt (period.opening_wealth)
            wealth0 = period.opening_wealth(
                float(e.initial_debt_to_gdp) * self.potential0 * self.ppy, capital=self.K,
                risky_share=risky_share, owners_share=self.theta_fund + self.theta_dominant,
                payout=self._opening_payout(), intermediaries=self.intermediaries.safe)
        self.initial_wealth_mean = wealth0 / self.n  # of the households' initial draw (population.initial_wealth)
        risky0 = wealth0 * risky_share
        equity0 = risky0 / (1.0 - self.theta_fund - self.theta_dominant)
        self.fund = public_fund(p.fund)
        self.dominant = dominant_holder(p.dominant)
        self.fund.equity = self.theta_fund * equity0
        self.dominant.equity = self.theta_dominant * equity0
        self.hh_safe = wealth0 - risky0
        self.hh_risky = risky0

    def _init_closure(self, cfg) -> None:
        """The closure's own parameters and state (before the opening holdings, which may need them)."""

    def _opening_payout(self) -> float:
        """The payout rate of period 0's equity return (per period): NW_F,-1 = payout x E_-1 in
        ``period.open_balance_sheet``."""
        return 0.0

    # ----- pieces -----------------------------------------------------------------------------
    def phi(self, t: int) -> float:
        """Automation frontier Phi_t (time in years t / periods_per_year)."""
        return float(automation_path(self.path_kind, t * self.dt, **self.path_params))

    @property
    def initial_automation(self) -> float:
        """Phi at t = 0: households' initial tasks are drawn above it."""
        return self.phi(0)

    def _factor_prices(self, K, L, phi):
        return self.tech.factor_prices(K, L, phi)

    def _period_rate(self, annual: float) -> float:
        return period.period_rate(annual, self.dt)

    def _belief_cap(self, tax_capital: float, tax_wealth: float) -> float:
        """Largest pre-tax gross return whose after-tax value R satisfies beta R <= patience_cap
        (none: infinity)."""
        if self.patience_cap is None:
            return float("inf")
        target = self.patience_cap / self.beta  # after-tax gross
        if tax_capital >= 1.0:
            return float("inf")
        return 1.0 + (target - 1.0 + tax_wealth) / (1.0 - tax_capital)

    def equity_held(self) -> float:
        """Firm equity at its holders' value, end of the last closed period."""
        return self.hh_risky + self.fund.equity + self.dominant.equity

    # ----- the step-loop interface ---------------------------------------------------------------
    def environment(self, t: int, previous: Totals | None, median_income: float | None) -> PeriodEnvironment:
        phi = self.phi(t)
        L_full = self.labour.full_employment * self.labour_per_employed
        fp = self._factor_prices(self.K, L_full, phi)
        potential = float(fp.output) * self.dt
        plan = self._plan(t, phi, L_full, fp, potential)
        self._plan_t = plan
        st = plan.stance
        cap = self._belief_cap(st.tax_capital, st.tax_wealth)
        belief_safe, risky_mean, risky_std = self._beliefs(plan, min(plan.return_safe, cap), cap)
        # the smoothed median of accounts.poverty_reference (``median_income``, last period's, is not used)
        line = self.poverty_share * (self.poverty_income if self.poverty_income is not None else plan.wage)
        return PeriodEnvironment(
            wage=plan.wage,
            return_safe=plan.return_safe,
            return_risky=plan.return_risky,
            return_risky_income=plan.return_risky_income,
            return_risky_taxed=plan.return_risky_taxed,
            risky_mean_taxed=plan.risky_mean_taxed,
            risky_mean=risky_mean,
            risky_std=risky_std,
            separation=plan.separation,
            job_finding=plan.job_finding,
            hazard_displacement=self.labour.hazard,
            automation=phi,
            automated_share=self.automated_share,
            tax_labour=st.tax_labour,
            tax_capital=st.tax_capital,
            tax_consumption=st.tax_consumption,
            tax_wealth=st.tax_wealth,
            benefit=st.benefit,
            payment_fee=self.payment_fee,
            ubi=st.ubi,
            ubi_invest_share=st.ubi_invest_share,
            dividend=plan.dividend,
            poverty_line=line,
            belief_return_safe=belief_safe,
            belief_job_finding=plan.belief_job_finding,
            participation_cost=self.participation_cost * plan.wage,
        )

    def _fiscal_stance(self, t: int, wage: float, potential: float) -> gov.FiscalStance:
        index = gov.ubi_index(self.fiscal.ubi_indexation, price_level=self.price_level(), wage=wage,
                              wage0=self.wage0, potential=potential, potential0=self.potential0)
        return gov.stance(self.fiscal, t, debt_ratio=self.debt_ratio, potential=potential, index=index,
                          carried=self.carried_surcharge, offset=self.escape_offset)

    def _dividend(self, return_risky: float, tax_capital: float) -> float:
        """The fund's per-household dividend this period, paid from its after-tax equity return
        (known before the kernels run)."""
        return self.fund.payout(return_risky, tax_rate=tax_capital) / self.n

    def price_level(self) -> float:
        return 1.0

    def close(self, t: int, env: PeriodEnvironment, tot: Totals) -> dict[str, float]:
        """Book period t from the households' totals, check the accounts, update the state and
        return the period's outputs: the blocks of sim/macro/period.py in dependency order."""
        plan = self._plan_t
        if plan.t != t:
            raise RuntimeError(f"close({t}) after environment({plan.t})")
        residuals: dict[str, float] = {}
        if t == 0:
            self._store_stocks(period.open_balance_sheet(
                tot, capital=self.K, theta_fund=self.theta_fund, theta_dominant=self.theta_dominant,
                payout=plan.payout, intermediaries=self.intermediaries.safe, return_risky=env.return_risky,
                dividends=env.dividend * tot["households"], dominant=self.dominant,
                tax_rate=env.tax_capital))
        else:  # the households' holdings carry over from the last period, bit for bit
            residuals.update(period.continuity(tot, self._stocks()))
        opening = replace(self._stocks(), household_safe=tot["safe_begin"], household_equity=tot["risky_begin"])
        output = self._output(plan, tot["effective_labour"])
        flows = period.period_flows(env, tot, opening, output=output,
                                    government_spending=plan.stance.spending,
                                    intermediaries=self.intermediaries, dominant=self.dominant,
                                    realise=lambda final_demand: self._realise(plan, output, final_demand),
                                    owners_return=self._owners_return(env))
        ledger = period.book(env, tot, opening, flows, self.intermediaries.earner)
        levy = period.balance_budget(ledger, self.fiscal.financing)
        depreciation_rate = self.delta * self.dt
        closing = period.update_stocks(opening, flows, ledger, tot, env, intermediaries=self.intermediaries,
                                       depreciation_rate=depreciation_rate)
        residuals.update(period.check(opening, closing, flows, ledger, tot, env,
                                      depreciation_rate=depreciation_rate))
        sfc, _ = largest_residual(residuals, output)
        self.last_residuals = residuals
        self._store_stocks(closing)
        self._carry_labour(tot)
        self.output = output
        self.poverty_income = poverty_reference(self.poverty_income, tot, self.poverty_smoothing)
        self.debt_ratio = self.government_debt / (output * self.ppy) if output > 0 else None
        if self.fiscal.financing == "balanced":
            self.carried_surcharge = gov.balanced_surcharge(plan.stance.surcharge, levy,
                                                            self._taxable_base(env, tot, opening, flows))
        else:
            self.carried_surcharge = gov.integrate_debt_gap(self.fiscal, self.carried_surcharge, self.debt_ratio)
        self.t = t + 1
        extra = self._update_expectations(plan, env, output, flows.demand)
        self.escape_offset = gov.escape_offset(
            self.fiscal, self.escape_offset, plan.stance.surcharge,
            gov.rule_surcharge(self.fiscal, self.debt_ratio, self.carried_surcharge),
            self._at_lower_bound(plan), extra["output_gap"])
        extra["tax_escape_offset"] = self.escape_offset
        extra.update(self._close_markets(plan, env, tot, opening, closing, levy, output))
        row = period.output_row(plan, env, tot, opening, closing, flows, ledger, sfc=sfc,
                                fee_earner=self.intermediaries.earner, periods_per_year=self.ppy, levy=levy)
        row.update(extra)
        return row

    def _taxable_base(self, env: PeriodEnvironment, tot: Totals, opening: period.Stocks, flows: period.Flows) -> float:
        """What a surcharge on the labour and capital rates is levied on (goods): labour income
        plus every holder's capital income when positive (households', the fund's, the dominant
        holder's, the intermediaries')."""
        capital = (period.taxed_capital_income(env, tot, opening.household_equity)
                   + (env.taxed_return - 1.0) * (opening.fund + opening.dominant)
                   + (flows.services + flows.interest_intermediaries
                      if self.intermediaries.earner == "intermediaries" else 0.0))
        return tot["labour_income"] + max(0.0, capital)

    def _stocks(self) -> period.Stocks:
        """The balance sheet the last close left (households' holdings as it booked them)."""
        return period.Stocks(
            household_safe=self.hh_safe, household_equity=self.hh_risky, fund=self.fund.equity,
            dominant=self.dominant.equity, intermediaries=self.intermediaries.safe,
            government_debt=self.government_debt, firm_debt=self.firm_debt, capital=self.K,
            inventories=self.inventories, firm_net_worth=self.firm_net_worth)

    def _store_stocks(self, stocks: period.Stocks) -> None:
        self.hh_safe, self.hh_risky = stocks.household_safe, stocks.household_equity
        self.fund.equity, self.dominant.equity = stocks.fund, stocks.dominant
        self.intermediaries.safe = stocks.intermediaries
        self.government_debt, self.firm_debt = stocks.government_debt, stocks.firm_debt
        self.K, self.inventories = stocks.capital, stocks.inventories
        self.firm_net_worth = stocks.firm_net_worth

    def _carry_labour(self, tot: Totals) -> None:
        """The labour-market state the next period's plan starts from: employment E_t, the
        automated share of last period's employed, and mean productivity of the employed L_t/E_t."""
        employed_before, employed = self.employed, tot["employed"]
        self.automated_share = tot["automated_employed"] / employed_before if employed_before > 0 else 0.0
        self.employed = employed
        if employed > 0:
            self.labour_per_employed = tot["effective_labour"] / employed

    # ----- closure-specific ----------------------------------------------------------------------
    def _plan(self, t, phi, L_full, fp, potential) -> Plan:
        raise NotImplementedError

    def _beliefs(self, plan: Plan, belief_safe: float, cap: float) -> tuple[float, float, float]:
        """(safe belief, risky mean, risky std) households plan with, given the safe return
        already capped at ``cap`` (gross, pre-tax) for solvability."""
        return (belief_safe, *self._risky_belief(plan, belief_safe, cap))

    def _risky_belief(self, plan: Plan, belief_safe: float, cap: float) -> tuple[float, float]:
        raise NotImplementedError

    def _owners_return(self, env: PeriodEnvironment) -> float | None:
        """The gross return the fund and the dominant holder pay out or consume from (None: all
        of R_k, revaluations included)."""
        return None

    # an equity market that clears by price before the step (sim/macro/equity.py) sets this
    prices_equity = False

    def _close_markets(self, plan: Plan, env: PeriodEnvironment, tot: Totals, opening: period.Stocks,
                       closing: period.Stocks, levy: float, output: float) -> dict:
        """Outputs of markets the closure clears itself (none here)."""
        return {}

    def _output(self, plan: Plan, L: float) -> float:
        raise NotImplementedError

    def _realise(self, plan: Plan, Y: float, final_demand: float) -> tuple[float, float]:
        """(gross investment, change in inventories) given output and demand other than investment."""
        raise NotImplementedError

    def _update_expectations(self, plan: Plan, env: PeriodEnvironment, Y: float, demand: float) -> dict:
        return {"inflation": 0.0, "price_level": 1.0, "output_gap": demand / plan.potential - 1.0,
                "expected_inflation": 0.0}

    def _at_lower_bound(self, plan: Plan) -> bool:
        """Whether the period ``plan`` planned had its policy rate at the lower bound (no
        interest-rate rule here: never)."""
        return False

    # ----- checkpoints ---------------------------------------------------------------------------
    _STATE = ("t", "K", "inventories", "firm_debt", "firm_net_worth", "government_debt", "hh_safe",
              "hh_risky", "employed", "labour_per_employed", "automated_share", "debt_ratio", "output",
              "poverty_income", "carried_surcharge", "escape_offset")

    def state_dict(self) -> dict:
        """All mutable state as plain JSON-able values (everything else comes from the config)."""
        d = {name: getattr(self, name) for name in self._STATE}
        d["fund"] = self.fund.state_dict()
        d["dominant"] = self.dominant.state_dict()
        d["intermediaries"] = self.intermediaries.state_dict()
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in d.items()}

    def load_state_dict(self, d: dict) -> None:
        for name in self._STATE:
            v = d[name]
            setattr(self, name, v if v is None or name == "t" else float(v))
        self.t = int(d["t"])
        self.fund.load_state_dict(d["fund"])
        self.dominant.load_state_dict(d["dominant"])
        self.intermediaries.load_state_dict(d["intermediaries"])

