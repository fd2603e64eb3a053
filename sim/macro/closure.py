"""What the classical and demand closures share: technology and automation, the labour market, the
sectors' stocks, the period's accounts and the stock-flow checks (docs/economy.md).

A closure is a ``MacroEconomy`` subclass that decides, at the start of a period (``_plan``), the
wage, the returns, the labour-market rates, planned output and investment, and at the end
(``_realise``), realised output, investment and inventories; everything else (policy, owners,
accounts, outputs) is here. Units: stocks in goods; flows in goods per period; the technology's
annual flows and rates are converted with dt = 1 / periods_per_year (flows x dt, depreciation
delta dt per period, interest rates compounded with ``policy_rules.period_rate``).

Timing of a period t. ``environment(t)`` reads only the state left by period t-1 (it never changes
it, so a restart from a checkpoint replays bit for bit) and stores the period's plan; the kernels
then pay wages, transfers and returns at those prices and report sums; ``close(t)`` books the
period, checks the accounts and updates the state.

Balance sheet (end of period; goods). Households: safe b, equity k. Firms: capital K, inventories N;
debt D_F, equity E = k + E_P + E_X (at the value at which it trades), net worth NW_F. Government:
debt B_G. Fund: equity E_P. Dominant holder: equity E_X. Intermediaries: safe S_I. Safe assets clear
by firm borrowing (firms issue or redeem debt to finance whatever their equity does not; a negative
D_F is firms' net cash): b + S_I = D_F + B_G. Equity clears by issuance at value: firms issue or buy
back equity whenever its holders buy or sell, so E is what the holders hold.

Opening balance sheet (t = -1), fixed when the households' initial holdings are first reported
(close of period 0): K_0 = ``economy.initial_capital`` x L*_0; N = 0; E = k_0 / (1 - theta_P - theta_X)
with the fund and the dominant holder owning theta_P E and theta_X E; NW_F = what period 0's
equity return pays out; D_F = K_0 - E - NW_F; B_G = b_0 + S_I - D_F (the government's initial debt
is whatever makes the initial claims add up to the capital stock; negative means net assets).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels import rng
from sim.accounts import Totals, household_budget_residual
from sim.environment import PeriodEnvironment
from sim.macro import government as gov
from sim.macro.automation import automation_path
from sim.macro.labour import LabourMarket
from sim.macro.ownership import dominant_holder, public_fund
from sim.macro.payments import Intermediaries
from sim.macro.sfc import SECTORS, Ledger, flow_of_funds, largest_residual
from sim.macro.technology import make_technology

AGGREGATE_ID = 2**63  # household id reserved for economy-wide draws (real ids are below it)
STREAM_EQUITY_SHOCK = 1  # stream 0 is the fixed closure's risky return


def equity_shock(key: int, period: int, std: float) -> float:
    """Mean-one lognormal multiplier with the given std, from the counter-based generator at the
    reserved aggregate id: the same number on every shard layout and after a restart."""
    if std == 0:
        return 1.0
    from scipy.special import ndtri

    s2 = math.log1p(std**2)
    u = rng.uniforms(key, np.array([AGGREGATE_ID], dtype=np.uint64), period, STREAM_EQUITY_SHOCK)[0]
    return float(math.exp(math.sqrt(s2) * float(ndtri(u)) - 0.5 * s2))


def automation_params(cfg_path) -> tuple[str, dict]:
    """The kind and the parameters its path function takes (null = the kind's default)."""
    kind = str(cfg_path.kind)
    takes = {"constant": ("phi0",), "bau": ("phi0", "lam_g"),
             "baseline_agi": ("phi0", "lam_g", "T"), "aggressive_agi": ("phi0", "lam_g", "T"),
             "agi": ("phi0", "lam_g", "T"), "bout": ("phi0", "phi_end", "start", "duration")}[kind]
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


class MacroEconomy:
    """Shared machinery of the classical and demand closures (see the module docstring)."""

    closure = "base"

    def __init__(self, cfg, key: int):
        e, p, pop = cfg.economy, cfg.policy, cfg.population
        self.key = key
        self.ppy = int(cfg.periods_per_year)
        self.dt = 1.0 / self.ppy
        self.n = int(pop.households)
        self.beta = float(cfg.household.beta)
        self.poverty_share = float(cfg.output.poverty_share)
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
        self.patience_cap = float(e.patience_cap)
        self.fiscal = gov.FiscalSettings.from_config(p)
        self.payment_fee = float(p.payment_fee)
        # Expected opening holdings (the exact ones arrive with period 0's totals).
        self.theta_fund, self.theta_dominant = float(p.fund.initial_share), float(p.dominant.initial_share)
        wealth0 = self.n * float(pop.initial_wealth_mean)
        risky0 = wealth0 * float(pop.initial_risky_share)
        equity0 = risky0 / (1.0 - self.theta_fund - self.theta_dominant)
        self.fund = public_fund(p.fund)
        self.dominant = dominant_holder(p.dominant)
        self.fund.equity = self.theta_fund * equity0
        self.dominant.equity = self.theta_dominant * equity0
        self.intermediaries = Intermediaries(str(p.fee.earner), float(p.fee.spend_share))
        # --- state carried from period to period (state_dict) ---
        self.t = 0  # next period to close
        self.K = float(e.initial_capital) * self.labour.full_employment  # mean productivity 1
        self.inventories = 0.0
        self.firm_debt = 0.0
        self.firm_net_worth = 0.0
        self.government_debt = 0.0
        self.hh_safe = wealth0 - risky0
        self.hh_risky = risky0
        u0 = float(pop.initial_unemployment)
        self.employed = self.n * (1.0 - u0)
        self.labour_per_employed = 1.0
        self.automated_share = 0.0
        self.debt_ratio: float | None = None
        self.output = 0.0
        # UBI indexation bases (functions of the config only)
        fp0 = self._factor_prices(self.K, self.labour.full_employment, self.phi(0))
        self.wage0 = float(fp0.wage) * self.dt
        self.potential0 = float(fp0.output) * self.dt

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
        return float(np.expm1(np.log1p(annual) * self.dt))

    def _belief_cap(self, tax_capital: float, tax_wealth: float) -> float:
        """Largest pre-tax gross return whose after-tax value R satisfies beta R <= patience_cap."""
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
        belief_safe = min(plan.return_safe, cap)
        risky_mean, risky_std = self._risky_belief(plan, belief_safe, cap)
        line = self.poverty_share * (median_income if median_income is not None else plan.wage)
        return PeriodEnvironment(
            wage=plan.wage,
            return_safe=plan.return_safe,
            return_risky=plan.return_risky,
            return_risky_income=plan.return_risky_income,
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
        )

    def _fiscal_stance(self, t: int, wage: float, potential: float) -> gov.FiscalStance:
        index = gov.ubi_index(self.fiscal.ubi_indexation, price_level=self.price_level(), wage=wage,
                              wage0=self.wage0, potential=potential, potential0=self.potential0)
        return gov.stance(self.fiscal, t, debt_ratio=self.debt_ratio, potential=potential, index=index)

    def _dividend(self, return_risky: float) -> float:
        """The fund's per-household dividend this period (known before the kernels run)."""
        return self.fund.payout(return_risky) / self.n

    def price_level(self) -> float:
        return 1.0

    def close(self, t: int, env: PeriodEnvironment, tot: Totals) -> dict[str, float]:
        plan = self._plan_t
        if plan.t != t:
            raise RuntimeError(f"close({t}) after environment({plan.t})")
        n = tot["households"]
        res: dict[str, float] = {}
        if t == 0:
            self._open_balance_sheet(tot, plan)
        else:  # the households' holdings carry over from the last period, bit for bit
            res["continuity: household safe assets"] = tot["safe_begin"] - self.hh_safe
            res["continuity: household equity"] = tot["risky_begin"] - self.hh_risky
        Rf, Rk = env.return_safe, env.return_risky
        L, E = tot["effective_labour"], tot["employed"]
        Y = self._output(plan, L)
        C = tot["consumption"]
        b0, k0 = tot["safe_begin"], tot["risky_begin"]
        EP0, EX0, SI0 = self.fund.equity, self.dominant.equity, self.intermediaries.safe
        BG0, DF0, H0 = self.government_debt, self.firm_debt, k0 + EP0 + EX0
        st = plan.stance

        # --- flows of the period (goods) ---
        fee_received = env.payment_fee * C
        interest_I = (Rf - 1.0) * SI0
        C_I = self.intermediaries.spending(fee_received, interest_I)
        C_X = self.dominant.payout(Rk)
        dividends_paid = env.dividend * n
        G = st.spending
        I, dN = self._realise(plan, Y, C + C_I + C_X + G)
        demand = C + C_I + C_X + G + I

        led = Ledger()
        led.transfer("wages", "firms", "households", env.wage * L, tot["labour_income"])
        led.transfer("labour tax", "households", "government", tot["labour_tax"],
                     env.tax_labour * tot["labour_income"])
        led.transfer("capital income tax", "households", "government", tot["capital_tax"],
                     env.tax_capital * tot["capital_income"])
        led.transfer("wealth tax", "households", "government", tot["wealth_tax"], env.tax_wealth * (b0 + k0))
        led.transfer("consumption", "households", "firms", C)
        led.transfer("consumption tax", "households", "government", tot["consumption_tax"],
                     env.tax_consumption * C)
        fee_sector = "intermediaries" if self.intermediaries.earner == "intermediaries" else "government"
        led.transfer("payment fees", "households", fee_sector, tot["fees"], fee_received)
        led.transfer("unemployment benefit", "government", "households", env.benefit * (n - E), tot["benefits"])
        led.transfer("UBI", "government", "households", env.ubi * n, tot["ubi"])
        led.transfer("fund dividends", "fund", "households", dividends_paid, tot["dividends"])
        led.entry("interest", "households", (Rf - 1.0) * b0)
        led.entry("interest", "intermediaries", interest_I)
        led.entry("interest", "government", -(Rf - 1.0) * BG0)
        led.entry("interest", "firms", -(Rf - 1.0) * DF0)
        led.entry("equity returns", "households", (Rk - 1.0) * k0)
        led.entry("equity returns", "fund", (Rk - 1.0) * EP0)
        led.entry("equity returns", "dominant", (Rk - 1.0) * EX0)
        led.entry("equity returns", "firms", -(Rk - 1.0) * H0)
        led.transfer("consumption of intermediaries", "intermediaries", "firms", C_I)
        led.transfer("consumption of the dominant holder", "dominant", "firms", C_X)
        led.transfer("government consumption", "government", "firms", G)
        # Investment and inventories are bought by firms from firms: receipts (current account)
        # and purchases (capital account) of the same sector; they enter its net lending as 0.
        led.entry("investment", "firms", I)
        led.entry("investment", "firms", -I, capital=True)
        led.entry("change in inventories", "firms", dN)
        led.entry("change in inventories", "firms", -dN, capital=True)

        # --- stocks at the end of the period ---
        self.government_debt = BG0 - led.net_lending("government")
        self.fund.update(Rk, dividends_paid)
        self.dominant.update(Rk, C_X)
        self.intermediaries.update(fee_received if fee_sector == "intermediaries" else 0.0, interest_I, C_I)
        b1, k1 = tot["safe_end"], tot["risky_end"]
        equity = k1 + self.fund.equity + self.dominant.equity
        firm_debt = b1 + self.intermediaries.safe - self.government_debt  # safe assets clear
        K1 = (1.0 - self.delta * self.dt) * self.K + I
        N1 = self.inventories + dN
        net_worth = K1 + N1 - firm_debt - equity
        depreciation = self.delta * self.dt * self.K

        change = {
            "households": (b1 + k1) - (b0 + k0),
            "firms": -(firm_debt - DF0) - (equity - H0),
            "government": -(self.government_debt - BG0),
            "fund": self.fund.equity - EP0,
            "dominant": self.dominant.equity - EX0,
            "intermediaries": self.intermediaries.safe - SI0,
        }
        for item, r in led.row_residuals().items():
            res[f"row: {item}"] = r
        for sector, r in flow_of_funds(led, change).items():
            res[f"flow of funds: {sector}"] = r
        res["sum of sectoral balances"] = sum(led.net_lending(s) for s in SECTORS)
        res["household budget (kernels)"] = household_budget_residual(tot)
        res["household capital income"] = tot["capital_income"] - (Rf - 1.0) * b0 - (Rk - 1.0) * k0
        res["goods market"] = Y - (C + C_I + C_X + G + I + dN)
        res["firm net worth"] = net_worth - (self.firm_net_worth + led.net_lending("firms") + I + dN - depreciation)
        res["net financial assets sum to zero"] = (b1 + k1 + self.fund.equity + self.dominant.equity
                                                  + self.intermediaries.safe - firm_debt - equity
                                                  - self.government_debt)
        sfc, worst = largest_residual(res, Y)
        self.last_residuals = res

        # --- state update ---
        self.K, self.inventories = K1, N1
        self.firm_debt, self.firm_net_worth = firm_debt, net_worth
        self.hh_safe, self.hh_risky = b1, k1
        E_prev = self.employed
        self.automated_share = tot["automated_employed"] / E_prev if E_prev > 0 else 0.0
        self.employed = E
        if E > 0:
            self.labour_per_employed = L / E
        self.output = Y
        self.debt_ratio = self.government_debt / (Y * self.ppy) if Y > 0 else None
        self.t = t + 1
        extra = self._update_expectations(plan, env, Y, demand)

        labour_income = tot["labour_income"]
        row = {
            "output": Y,
            "potential_output": plan.potential,
            "planned_output": plan.planned_output,
            "demand": demand,
            "expected_demand": plan.expected_demand,
            "consumption": C,
            "investment": I,
            "government_spending": G,
            "inventories": N1,
            "inventory_change": dN,
            "capital": K1,
            "utilisation": plan.utilisation,
            "tobin_q": plan.tobin_q,
            "wage": env.wage,
            "rental_rate": plan.rental,
            "return_safe": Rf,
            "return_risky": Rk,
            "labour_share": labour_income / Y if Y else float("nan"),
            "unemployment_rate": (tot["unemployed"] + tot["displaced"]) / n,
            "displacement_rate": tot["displaced"] / n,
            "employment_rate": E / n,
            "effective_labour": L,
            "job_finding": env.job_finding,
            "separation": env.separation,
            "automation": plan.phi,
            "nominal_rate": self._period_rate(plan.nominal_rate),
            "real_rate": self._period_rate(plan.real_rate),
            "government_debt": self.government_debt,
            "government_deficit": -led.net_lending("government"),
            "debt_to_gdp": self.government_debt / (Y * self.ppy),
            "tax_revenue": (env.tax_labour * labour_income + env.tax_capital * tot["capital_income"]
                            + env.tax_wealth * (b0 + k0) + env.tax_consumption * C
                            + (fee_received if fee_sector == "government" else 0.0)),
            "tax_labour_rate": env.tax_labour,
            "tax_capital_rate": env.tax_capital,
            "ubi_cost": tot["ubi"],
            "ubi_level": env.ubi,
            "benefit_cost": tot["benefits"],
            "fee_revenue": tot["fees"],
            "intermediaries_spending": C_I,
            "intermediaries_assets": self.intermediaries.safe,
            "firm_debt": firm_debt,
            "firm_net_worth": net_worth,
            "equity_value": equity,
            "fund_capital_share": self.fund.equity / equity if equity > 0 else 0.0,
            "fund_dividend": env.dividend,
            "dominant_capital_share": self.dominant.equity / equity if equity > 0 else 0.0,
            "dominant_consumption": C_X,
            "household_capital_share": k1 / equity if equity > 0 else 0.0,
            "mean_wealth": (b1 + k1) / n,
            "sfc_residual": sfc,
        }
        row.update(extra)
        return row

    def _open_balance_sheet(self, tot: Totals, plan: Plan) -> None:
        """The opening stocks (t = -1) from the households' reported initial holdings."""
        b0, k0 = tot["safe_begin"], tot["risky_begin"]
        equity = k0 / (1.0 - self.theta_fund - self.theta_dominant)
        self.fund.equity = self.theta_fund * equity
        self.dominant.equity = self.theta_dominant * equity
        self.hh_safe, self.hh_risky = b0, k0
        self.firm_net_worth = plan.payout * equity
        self.inventories = 0.0
        self.firm_debt = self.K + self.inventories - equity - self.firm_net_worth
        self.government_debt = b0 + self.intermediaries.safe - self.firm_debt

    # ----- closure-specific ----------------------------------------------------------------------
    def _plan(self, t, phi, L_full, fp, potential) -> Plan:
        raise NotImplementedError

    def _risky_belief(self, plan: Plan, belief_safe: float, cap: float) -> tuple[float, float]:
        raise NotImplementedError

    def _output(self, plan: Plan, L: float) -> float:
        raise NotImplementedError

    def _realise(self, plan: Plan, Y: float, final_demand: float) -> tuple[float, float]:
        """(gross investment, change in inventories) given output and demand other than investment."""
        raise NotImplementedError

    def _update_expectations(self, plan: Plan, env: PeriodEnvironment, Y: float, demand: float) -> dict:
        return {"inflation": 0.0, "price_level": 1.0, "output_gap": demand / plan.potential - 1.0}

    # ----- checkpoints ---------------------------------------------------------------------------
    _STATE = ("t", "K", "inventories", "firm_debt", "firm_net_worth", "government_debt", "hh_safe",
              "hh_risky", "employed", "labour_per_employed", "automated_share", "debt_ratio", "output")

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

