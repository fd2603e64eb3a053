"""The blocks of a period's close, shared by the classical and demand closures (docs/economy.md,
"The close of a period, block by block").

Each block is a small pure function: its signature declares its inputs, its return value (a frozen
dataclass or a dict) names its outputs, and it changes nothing it is given. ``MacroEconomy.close``
(sim/macro/closure.py) calls them in dependency order:

    open_balance_sheet (t = 0)  -> Stocks        the opening balance sheet (t = -1)
                                                 (``opening_wealth``: the households' wealth it needs
                                                 for a given opening debt)
    continuity (t > 0)          -> residuals     households' opening holdings vs the last close
    period_flows                -> Flows         the period's flows (with the closure's realise)
    book                        -> Ledger        the transaction-flow matrix
    balance_budget              -> levy          financing=balanced: the firms' balancing levy
    update_stocks               -> Stocks        the balance sheet at the end of the period
    check                       -> residuals     the stock-flow identities (sfc_residual)
    output_row                  -> dict          the period's macro outputs

Balance sheet (``Stocks``; goods). Households: safe b, equity k. Firms: capital K, inventories N;
debt D_F, equity E = k + E_P + E_X (at the value at which it trades), net worth NW_F. Government:
debt B_G. Fund: equity E_P. Dominant holder: equity E_X. Intermediaries: safe S_I. Safe assets clear
by firm borrowing (firms issue or redeem debt to finance whatever their equity does not; a negative
D_F is firms' net cash): b + S_I = D_F + B_G. Equity clears by issuance at value: firms issue or buy
back equity whenever its holders buy or sell, so E is what the holders hold. The opening balance
sheet (t = -1) is fixed when the households' initial holdings are first reported (close of period
0); the government's initial debt is whatever makes the initial claims add up to the capital stock,
so with ``economy.initial_debt_to_gdp`` set the households' initial wealth is drawn to the size that
makes it that debt (``opening_wealth``).

Units: stocks in goods (end of period), flows in goods per period; returns R_f, R_k are gross per
period, so r = R_f - 1 and rho = R_k - 1 are per-period rates. Every expression keeps the
operations and their order of the procedural close it replaced, so results are bit-identical.
A new mechanism (e.g. equity priced by a market-clearing price, rationing, financing rules) is a
new block between these, or a replacement of one, with its inputs and outputs named the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.accounts import Totals, household_budget_residual
from sim.environment import PeriodEnvironment
from sim.macro.ownership import Owner, capital_income_tax, equity_after
from sim.macro.payments import Intermediaries
from sim.macro.sfc import SECTORS, Ledger, flow_of_funds


@dataclass(frozen=True)
class Stocks:
    """The sectors' balance sheet (goods): at the end of a period, or opening one (docs/economy.md).

    An opening ``Stocks`` carries the households' holdings as the kernels report them at the start
    of the period (``safe_begin``, ``risky_begin``), the other sectors' as the last close left them.
    """

    household_safe: float  # b
    household_equity: float  # k, at value
    fund: float  # E_P, the public fund's equity
    dominant: float  # E_X, the dominant holder's equity
    intermediaries: float  # S_I, the intermediaries' safe assets
    government_debt: float  # B_G
    firm_debt: float  # D_F (negative: firms' net cash)
    capital: float  # K
    inventories: float  # N (negative: an order backlog)
    firm_net_worth: float  # NW_F = K + N - D_F - E

    @property
    def equity(self) -> float:
        """E = k + E_P + E_X: firm equity at its holders' value."""
        return self.household_equity + self.fund + self.dominant


@dataclass(frozen=True)
class Flows:
    """The period's flows that are not the households' own sums (goods per period)."""

    output: float  # Y_t
    consumption: float  # C_t, households' (the kernels' sum)
    fees: float  # f C_t, payment fees at the coordinator's price
    interest_intermediaries: float  # (R_f - 1) S_I,t-1
    consumption_intermediaries: float  # C_I,t
    consumption_dominant: float  # C_X,t
    dividends: float  # the fund's dividends to all households, dividend x N
    government_spending: float  # G_t
    investment: float  # I_t, gross
    inventory_change: float  # dN_t = N_t - N_t-1
    rationed: float = 0.0  # orders not served: notional demand less what was delivered
    tax_fund: float = 0.0  # tau_k (R_tax - 1) E_P,t-1
    tax_dominant: float = 0.0  # tau_k (R_tax - 1) E_X,t-1
    tax_intermediaries: float = 0.0  # tau_k (F + P + (R_f - 1) S_I,t-1)
    participation_costs: float = 0.0  # P = kappa x holders: households' stock-market participation costs

    @property
    def services(self) -> float:
        """F + P: what households pay the fee earner for payments and for holding equity."""
        return self.fees + self.participation_costs

    @property
    def owners_tax(self) -> float:
        """Capital income tax paid by the holders other than households (goods per period)."""
        return self.tax_fund + self.tax_dominant + self.tax_intermediaries

    @property
    def demand(self) -> float:
        """Notional final demand D_t = C + C_I + C_X + G + I as ordered: served plus rationed."""
        return (self.consumption + self.consumption_intermediaries + self.consumption_dominant
                + self.government_spending + self.investment + self.rationed)


# Who is rationed first when orders exceed output plus inventories (docs/economy.md, "Rationing"):
# the dominant holder's and the intermediaries' consumption (what they do not spend stays as their
# saving: equity, safe assets), then government purchases (it borrows less), then investment
# (ordered at the start of the period under contract, so served before the government's and the
# owners' later orders). Households' consumption, decided in the kernels, is served last.
RATIONING_ORDER = ("dominant", "intermediaries", "government", "investment")


def ration(orders: dict[str, float], excess: float) -> tuple[dict[str, float], float]:
    """Serve ``orders`` (goods per period, by buyer) when they exceed the goods available by
    ``excess`` >= 0: the buyers of ``RATIONING_ORDER`` are cut in that order, each down to 0 at
    most, until the excess is gone (a queue, Benassy 1982, ch. 2: uniform and efficient; no order
    is served beyond what was asked). Returns the served orders and what is left unserved (the
    households' orders beyond that remain an order backlog, N < 0)."""
    served = dict(orders)
    left = excess
    for buyer in RATIONING_ORDER:
        cut = min(left, served[buyer])
        served[buyer] -= cut
        left -= cut
    return served, left


def open_balance_sheet(tot: Totals, *, capital: float, theta_fund: float, theta_dominant: float,
                       payout: float, intermediaries: float, return_risky: float, dividends: float,
                       dominant: Owner, tax_rate: float = 0.0) -> Stocks:
    """The opening stocks (t = -1), set when period 0's households' totals arrive, so that the fund
    and the dominant holder hold their configured shares theta_P, theta_X of firm equity at the
    close of period 0 (the first period reported):

    E_0 = k_0' / (1 - theta_P - theta_X) with k_0' the households' equity at the close of period 0;
    E_P,-1 = (theta_P E_0 + Div_0) / (1 + (1 - tau_k)(R_k - 1))  (the fund's dividend is fixed ex ante);
    E_X,-1 = theta_X E_0 / g_X, g_X its growth factor under its payout rule (``Owner.growth``);
    E_-1 = k_0 + E_P,-1 + E_X,-1, NW_F = payout E_-1 (what period 0's equity return pays out),
    N = 0, D_F = K_0 + N - E_-1 - NW_F, B_G = b_0 + S_I - D_F.

    Households buy equity in period 0 (their portfolio moves to its chosen share), which firms
    issue; anchoring the stakes at t = -1 instead would dilute them in period 0 by that issuance.
    """
    b0, k0 = tot["safe_begin"], tot["risky_begin"]
    target = tot["risky_end"] / (1.0 - theta_fund - theta_dominant)
    fund = (theta_fund * target + dividends) / (1.0 + (1.0 - tax_rate) * (return_risky - 1.0)) if theta_fund > 0 else 0.0
    held = theta_dominant * target / dominant.growth(return_risky, tax_rate) if theta_dominant > 0 else 0.0
    equity = k0 + fund + held
    net_worth = payout * equity
    inventories = 0.0
    firm_debt = capital + inventories - equity - net_worth
    return Stocks(household_safe=b0, household_equity=k0, fund=fund,
                  dominant=held, intermediaries=intermediaries,
                  government_debt=b0 + intermediaries - firm_debt, firm_debt=firm_debt, capital=capital,
                  inventories=inventories, firm_net_worth=net_worth)


def opening_wealth(debt: float, *, capital: float, risky_share: float, owners_share: float,
                   payout: float, intermediaries: float = 0.0) -> float:
    """Households' total initial wealth W (goods) for which ``open_balance_sheet`` carries the
    government debt B_G,-1 = ``debt``: its identities solved for W.

    With b_0 = (1 - rho) W, k_0 = rho W (rho = ``risky_share``), NW_F = payout E_-1 and
    D_F = K - E_-1 - NW_F (no opening inventories, as there),
    B_G = b_0 + S_I - D_F = b_0 + (1 + payout) E_-1 - (K - S_I).
    The owners' stakes are theta / (1 - theta) of the households' equity at the close of period 0
    (theta = theta_P + theta_X, ``owners_share``), taken to be their whole wealth W (their first
    portfolio choice; under the calibration they hold no safe assets after it), so
    E_-1 = k_0 + theta W / (1 - theta) and

        W = (B_G + K - S_I) / ((1 - rho) + (1 + payout) (rho + theta / (1 - theta)))

    The households (and the owners) hold the public debt and the claims on the capital stock, so
    an economy that starts with its debt at the fiscal rule's target needs this much wealth:
    initial stocks set from the model's own resting point, not arbitrary ones (stock-flow
    consistent practice: Godley & Lavoie 2007, Monetary Economics; Caiani et al. 2016, JEDC 69,
    initialise their agent-based model from its aggregate stationary state). Exact when theta = 0
    and the draws' total is W; with owners, up to the stakes' growth in period 0 and the safe
    assets households keep after their first choice. A W <= 0 (debt so negative that the
    households would owe) is refused."""
    stakes = owners_share / (1.0 - owners_share)
    denominator = (1.0 - risky_share) + (1.0 + payout) * (risky_share + stakes)
    wealth = (debt + capital - intermediaries) / denominator
    if not wealth > 0.0:
        raise ValueError(f"an opening government debt of {debt:g} goods leaves the households no "
                         f"wealth (W = {wealth:g}): the capital stock is {capital:g}")
    return wealth


def taxed_capital_income(env: PeriodEnvironment, tot: Totals, equity: float) -> float:
    """The households' capital income the capital tax reaches: all of it less the untaxed part
    of their equity's return, (R_k - R_tax) k (0 where gains are taxed as they accrue)."""
    return tot["capital_income"] - (env.return_risky - env.taxed_return) * equity


def continuity(tot: Totals, last: Stocks) -> dict[str, float]:
    """Households' holdings at the start of t (kernels) less those at the close of t-1 (0 when
    the state carried over bit for bit)."""
    return {"continuity: household safe assets": tot["safe_begin"] - last.household_safe,
            "continuity: household equity": tot["risky_begin"] - last.household_equity}


def period_flows(env: PeriodEnvironment, tot: Totals, opening: Stocks, *, output: float,
                 government_spending: float, intermediaries: Intermediaries, dominant: Owner,
                 realise: Callable[[float], tuple[float, float]], owners_return: float | None = None) -> Flows:
    """The period's flows at the environment's prices (tau_k = env.tax_capital, surcharge included):

    F = f C;  P = kappa holders (participation costs, earned with the fee);
    T_I = tau_k (F + P + (R_f - 1) S_I,t-1);  C_I = spend_share (F + P + (R_f - 1) S_I,t-1 - T_I)
    (T_I = C_I = 0 on a public rail);  T_P = tau_k (R_tax - 1) E_P,t-1;  T_X = tau_k (R_tax - 1) E_X,t-1
    (R_tax the taxed part of R_k, ``PeriodEnvironment.taxed_return``);
    C_X = (1 - reinvest) max(0, (1 - tau_k)(R_k - 1) E_X,t-1);  Div = dividend x N;  G from the stance;
    (I, dN) = realise(C + C_I + C_X + G), the closure's rule for investment and inventories.
    ``owners_return``: the gross return the dominant holder consumes from, where it is not the
    whole R_k (a priced equity market: the dividend yield only, sim/macro/equity.py).
    """
    consumption = tot["consumption"]
    fees = env.payment_fee * consumption
    participation = env.participation_cost * tot["holders"]
    interest = (env.return_safe - 1.0) * opening.intermediaries
    tax_rate = env.tax_capital
    services = fees + participation  # what the fee earner is paid (Flows.services)
    tax_intermediaries = intermediaries.tax(services, interest, tax_rate)
    spent_intermediaries = intermediaries.spending(services, interest, tax_intermediaries)
    paying = env.return_risky if owners_return is None else owners_return
    spent_dominant = dominant.payout(paying, opening.dominant, tax_rate)
    dividends = env.dividend * tot["households"]
    investment, inventory_change = realise(consumption + spent_intermediaries + spent_dominant
                                           + government_spending)
    excess = -(opening.inventories + inventory_change)  # orders beyond output + inventories
    rationed = 0.0
    if excess > 0.0:
        orders = {"investment": investment, "government": government_spending,
                  "dominant": spent_dominant, "intermediaries": spent_intermediaries}
        served, left = ration(orders, excess)
        investment, government_spending = served["investment"], served["government"]
        spent_dominant, spent_intermediaries = served["dominant"], served["intermediaries"]
        rationed = excess - left
        inventory_change = -opening.inventories - left
    return Flows(output=output, consumption=consumption, fees=fees, interest_intermediaries=interest,
                 consumption_intermediaries=spent_intermediaries, consumption_dominant=spent_dominant,
                 dividends=dividends, government_spending=government_spending, investment=investment,
                 inventory_change=inventory_change, rationed=rationed,
                 tax_fund=capital_income_tax(opening.fund, env.taxed_return, tax_rate),
                 tax_dominant=capital_income_tax(opening.dominant, env.taxed_return, tax_rate),
                 tax_intermediaries=tax_intermediaries, participation_costs=participation)


def book(env: PeriodEnvironment, tot: Totals, opening: Stocks, flows: Flows, fee_earner: str) -> Ledger:
    """The transaction-flow matrix of the period (docs/economy.md). Where the simulator has two
    measurements of a transaction, the households' side is the kernels' sum and the other the
    coordinator's price x quantity, so a row that does not sum to zero is a real inconsistency."""
    n, employed = tot["households"], tot["employed"]
    b0, k0 = opening.household_safe, opening.household_equity
    r_safe, r_equity = env.return_safe - 1.0, env.return_risky - 1.0
    led = Ledger()
    led.transfer("wages", "firms", "households", env.wage * tot["effective_labour"], tot["labour_income"])
    led.transfer("labour tax", "households", "government", tot["labour_tax"],
                 env.tax_labour * tot["labour_income"])
    led.transfer("capital income tax", "households", "government", tot["capital_tax"],
                 env.tax_capital * taxed_capital_income(env, tot, k0))
    led.transfer("wealth tax", "households", "government", tot["wealth_tax"], env.tax_wealth * (b0 + k0))
    led.transfer("consumption", "households", "firms", flows.consumption)
    led.transfer("consumption tax", "households", "government", tot["consumption_tax"],
                 env.tax_consumption * flows.consumption)
    led.transfer("payment fees", "households", fee_earner, tot["fees"], flows.fees)
    led.transfer("participation costs", "households", fee_earner, tot["participation_costs"],
                 flows.participation_costs)
    led.transfer("unemployment benefit", "government", "households", env.benefit * (n - employed),
                 tot["benefits"])
    led.transfer("UBI", "government", "households", env.ubi * n, tot["ubi"])
    led.transfer("one-off transfer", "government", "households", env.transfer * tot["treated"], tot["transfers"])
    led.transfer("fund dividends", "fund", "households", flows.dividends, tot["dividends"])
    led.entry("interest", "households", r_safe * b0)
    led.entry("interest", "intermediaries", flows.interest_intermediaries)
    led.entry("interest", "government", -r_safe * opening.government_debt)
    led.entry("interest", "firms", -r_safe * opening.firm_debt)
    led.entry("equity returns", "households", r_equity * k0)
    led.entry("equity returns", "fund", r_equity * opening.fund)
    led.entry("equity returns", "dominant", r_equity * opening.dominant)
    led.entry("equity returns", "firms", -r_equity * opening.equity)
    led.transfer("capital income tax of the fund", "fund", "government", flows.tax_fund)
    led.transfer("capital income tax of the dominant holder", "dominant", "government", flows.tax_dominant)
    led.transfer("capital income tax of the intermediaries", "intermediaries", "government",
                 flows.tax_intermediaries)
    led.transfer("consumption of intermediaries", "intermediaries", "firms", flows.consumption_intermediaries)
    led.transfer("consumption of the dominant holder", "dominant", "firms", flows.consumption_dominant)
    led.transfer("government consumption", "government", "firms", flows.government_spending)
    # Investment and inventories are bought by firms from firms: receipts (current account)
    # and purchases (capital account) of the same sector; they enter its net lending as 0.
    led.entry("investment", "firms", flows.investment)
    led.entry("investment", "firms", -flows.investment, capital=True)
    led.entry("change in inventories", "firms", flows.inventory_change)
    led.entry("change in inventories", "firms", -flows.inventory_change, capital=True)
    return led


def balance_budget(ledger: Ledger, financing: str) -> float:
    """Under ``financing=balanced``: the levy L_t on the firm sector's profit that closes the
    government's budget, L_t = -NL_G before it (goods; negative: a rebate), booked as the row
    "balancing levy" (firms -> government), so NL_G = 0 and B_G = B_G,t-1. Its incidence is on the
    equity holders, through firm net worth and next period's payout. 0 under other rules."""
    if financing != "balanced":
        return 0.0
    levy = -ledger.net_lending("government")
    ledger.transfer("balancing levy", "firms", "government", levy)
    return levy


def update_stocks(opening: Stocks, flows: Flows, ledger: Ledger, tot: Totals, env: PeriodEnvironment,
                  *, intermediaries: Intermediaries, depreciation_rate: float) -> Stocks:
    """The balance sheet at the end of the period, each stock from where it lives:

    B_G = B_G,t-1 - NL_G (the government's own accumulation);
    E_P = E_P,t-1 + rho E_P,t-1 - Div - T_P;  E_X = E_X,t-1 + rho E_X,t-1 - C_X - T_X;
    S_I = S_I,t-1 + F + P + (R_f - 1) S_I,t-1 - C_I - T_I (when the intermediaries earn the fee);
    b, k from the kernels;  E = k + E_P + E_X;  D_F = b + S_I - B_G (firm debt clears safe assets);
    K = (1 - delta dt) K_t-1 + I;  N = N_t-1 + dN;  NW_F = K + N - D_F - E.
    ``depreciation_rate`` is delta dt, per period.
    """
    government_debt = opening.government_debt - ledger.net_lending("government")
    fund = equity_after(opening.fund, env.return_risky, flows.dividends, flows.tax_fund)
    dominant = equity_after(opening.dominant, env.return_risky, flows.consumption_dominant, flows.tax_dominant)
    safe_intermediaries = intermediaries.safe_after(opening.intermediaries, flows.services,
                                                    flows.interest_intermediaries,
                                                    flows.consumption_intermediaries,
                                                    flows.tax_intermediaries)
    b1, k1 = tot["safe_end"], tot["risky_end"]
    equity = k1 + fund + dominant
    firm_debt = b1 + safe_intermediaries - government_debt
    capital = (1.0 - depreciation_rate) * opening.capital + flows.investment
    inventories = opening.inventories + flows.inventory_change
    return Stocks(household_safe=b1, household_equity=k1, fund=fund, dominant=dominant,
                  intermediaries=safe_intermediaries, government_debt=government_debt,
                  firm_debt=firm_debt, capital=capital, inventories=inventories,
                  firm_net_worth=capital + inventories - firm_debt - equity)


def check(opening: Stocks, closing: Stocks, flows: Flows, ledger: Ledger, tot: Totals,
          env: PeriodEnvironment, *, depreciation_rate: float) -> dict[str, float]:
    """The identities of docs/economy.md, each as a residual (goods; 0 when the accounts close):
    transaction rows, flow of funds per sector, the sum of net lending, the households' budget and
    capital income, the goods market Y = C + C_I + C_X + G + I + dN, firm net worth
    (K + N - D_F - E = NW_F,t-1 + NL_F + I + dN - delta dt K_t-1) and net financial assets."""
    b0, k0, b1, k1 = (opening.household_safe, opening.household_equity, closing.household_safe,
                      closing.household_equity)
    equity = closing.equity
    change = {
        "households": (b1 + k1) - (b0 + k0),
        "firms": -(closing.firm_debt - opening.firm_debt) - (equity - opening.equity),
        "government": -(closing.government_debt - opening.government_debt),
        "fund": closing.fund - opening.fund,
        "dominant": closing.dominant - opening.dominant,
        "intermediaries": closing.intermediaries - opening.intermediaries,
    }
    res: dict[str, float] = {}
    for item, r in ledger.row_residuals().items():
        res[f"row: {item}"] = r
    for sector, r in flow_of_funds(ledger, change).items():
        res[f"flow of funds: {sector}"] = r
    res["sum of sectoral balances"] = sum(ledger.net_lending(s) for s in SECTORS)
    res["household budget (kernels)"] = household_budget_residual(tot)
    res["household capital income"] = (tot["capital_income"] - (env.return_safe - 1.0) * b0
                                       - (env.return_risky - 1.0) * k0)
    f = flows
    res["goods market"] = f.output - (f.consumption + f.consumption_intermediaries + f.consumption_dominant
                                      + f.government_spending + f.investment + f.inventory_change)
    depreciation = depreciation_rate * opening.capital
    res["firm net worth"] = closing.firm_net_worth - (opening.firm_net_worth + ledger.net_lending("firms")
                                                      + f.investment + f.inventory_change - depreciation)
    res["net financial assets sum to zero"] = (b1 + k1 + closing.fund + closing.dominant
                                              + closing.intermediaries - closing.firm_debt - equity
                                              - closing.government_debt)
    return res


def period_rate(annual: float, dt: float) -> float:
    """(1 + annual)^dt - 1: a compound annual rate per period of dt years."""
    return float(np.expm1(np.log1p(annual) * dt))


def output_row(plan, env: PeriodEnvironment, tot: Totals, opening: Stocks, closing: Stocks, flows: Flows,
               ledger: Ledger, *, sfc: float, fee_earner: str, periods_per_year: int,
               levy: float = 0.0) -> dict[str, float]:
    """The period's macro outputs (sim/results.py SERIES gives their units): flows per period,
    stocks at the end of the period, rates per period, shares as decimals. ``plan`` is the
    closure's Plan of the period (sim/macro/closure.py)."""
    n = tot["households"]
    Y, C, employed = flows.output, flows.consumption, tot["employed"]
    labour_income = tot["labour_income"]
    equity = closing.equity
    dt = 1.0 / periods_per_year
    return {
        "output": Y,
        "potential_output": plan.potential,
        "planned_output": plan.planned_output,
        "demand": flows.demand,
        "rationed_demand": flows.rationed,
        "expected_demand": plan.expected_demand,
        "consumption": C,
        "investment": flows.investment,
        "government_spending": flows.government_spending,
        "inventories": closing.inventories,
        "inventory_change": flows.inventory_change,
        "capital": closing.capital,
        "utilisation": plan.utilisation,
        "tobin_q": plan.tobin_q,
        "wage": env.wage,
        "rental_rate": plan.rental,
        "return_safe": env.return_safe,
        "return_risky": env.return_risky,
        "labour_share": labour_income / Y if Y else float("nan"),
        "unemployment_rate": (tot["unemployed"] + tot["displaced"]) / n,
        "displacement_rate": tot["displaced"] / n,
        "employment_rate": employed / n,
        "effective_labour": tot["effective_labour"],
        "job_finding": env.job_finding,
        "separation": env.separation,
        "automation": plan.phi,
        "nominal_rate": period_rate(plan.nominal_rate, dt),
        "real_rate": period_rate(plan.real_rate, dt),
        "government_debt": closing.government_debt,
        "government_deficit": -ledger.net_lending("government"),
        "debt_to_gdp": closing.government_debt / (Y * periods_per_year),
        "tax_revenue": (env.tax_labour * labour_income
                        + env.tax_capital * taxed_capital_income(env, tot, opening.household_equity)
                        + env.tax_wealth * (opening.household_safe + opening.household_equity)
                        + env.tax_consumption * C + (flows.services if fee_earner == "government" else 0.0)
                        + flows.owners_tax + levy),
        "tax_labour_rate": env.tax_labour,
        "tax_capital_rate": env.tax_capital,
        "ubi_cost": tot["ubi"],
        "ubi_level": env.ubi,
        "benefit_cost": tot["benefits"],
        "fee_revenue": tot["fees"],
        "intermediaries_spending": flows.consumption_intermediaries,
        "intermediaries_assets": closing.intermediaries,
        "firm_debt": closing.firm_debt,
        "firm_net_worth": closing.firm_net_worth,
        "equity_value": equity,
        "fund_capital_share": closing.fund / equity if equity > 0 else 0.0,
        "fund_dividend": env.dividend,
        "dominant_capital_share": closing.dominant / equity if equity > 0 else 0.0,
        "dominant_consumption": flows.consumption_dominant,
        "household_capital_share": closing.household_equity / equity if equity > 0 else 0.0,
        "mean_wealth": (closing.household_safe + closing.household_equity) / n,
        "household_safe_assets": closing.household_safe,
        "household_risky_assets": closing.household_equity,
        "participation_rate": tot["participants"] / n,
        "participation_costs": flows.participation_costs,
        "sfc_residual": sfc,
    }
