"""Equity as shares with a price that clears the market each period (the demand closure with
``economy.equity.market=priced``; docs/economy.md, "The priced equity market").

Firms have S_t shares outstanding; households, the public fund and the dominant holder hold
them. Per period t >= 1 (goods, per period):

* **Payout rule** (Lintner 1956, "Distribution of incomes of corporations among dividends,
  retained earnings, and taxes", AER 46(2): firms move dividends part of the way toward a target
  share of earnings; Godley & Lavoie 2007, ch. 11, pay a share of last period's profit):
  D_t = D_t-1 + s (payout max(Pi_t-1, 0) - D_t-1), d_t = D_t / S_t-1 per share, where
  Pi_t = Y_t - w_t L_t - delta dt K_t - r_f D_F,t-1 - levy_t (K_t the capital period t opens
  with) is the firm sector's profit after interest and s the speed of adjustment per period
  (``smoothing``; Lintner's estimate is about 0.3 a year).
  One quarter's loss no longer sets the dividend, and with it the Gordon belief, to zero.
* **Financing rule**: a target leverage with partial adjustment (Flannery & Rangan 2006,
  "Partial adjustment toward target capital structures", JFE 79: firms close about a third of the
  gap to their target a year), plus optionally a share of investment in new equity (Godley &
  Lavoie 2007, ch. 11): dS_t = (issuance I_t - a (lambda (K_t + N_t-1) - D_F,t-1)) / p_t-1, a per
  period, lambda the target of firm debt over capital and inventories (book). An under-levered
  firm sector buys back shares with debt, an over-levered one issues; the rest of the financing
  need is debt (which clears the safe-asset market, as in stage 1). So when households sell
  equity the firms' buybacks, not only the price, absorb it, and firm debt supplies safe assets
  toward a target rather than passively. A buyback never takes more than half the shares in one
  period (``max_buyback``; a guard, reported as ``equity_buyback_capped``), and none when the
  fund and the dominant holder, who never sell, would hold all the shares supplied at the price at
  which households want none: that period trades at that price (``no_seller_price``), firms
  issuing what those holders buy (reported as ``equity_no_seller``).
* **Beliefs from observables**: households expect dividend growth g^e (adaptive from period 2:
  g^e_t = g^e_t-1 + lambda (d_t / d_t-1 - 1 - g^e_t-1)) and, as Gordon's model has it, the price to
  grow with dividends, so at the price p they pay E[R] = (1 + g^e)(1 + d_t / p): a higher price
  lowers the expected return. And they expect the price to close a share nu of its gap to
  d_t / y-bar, the price at which the dividend yield is normal (y-bar: an average of the yields
  seen at the clearing prices, weight omega): E[R] += nu (d_t / y-bar - p) / p. The dividend-
  price ratio mean-reverts (Campbell & Shiller 1988, RFS 1(3); Cochrane 2008, RFS 21(4)); without
  it a rate cut doubled the price in a quarter and set off a cobweb.
* **Clearing** (a temporary equilibrium, Grandmont 1977): at a candidate price p a holding's
  realised return is R(p) = (p + d_t) / p_t-1 and households expect E[R](p), so each candidate has
  its own household solve; every holder's end-of-period equity value V(p) follows (households:
  the shards' step at the candidate, held until kept or undone, ``HouseholdShard.try_step``; the
  fund and the dominant holder: their rules). The price solves V(p) / p = S_t-1 + dS_t, found
  by a safeguarded secant in log p (``EquityMarket.clear``) to a relative gap of 1e-4 (or a bracket 1e-5 wide in log p); firms
  absorb that gap by issuing or buying back the difference at the clearing price
  (``equity_clearing_gap`` reports it).

The market opens in period 0 at p_-1 = 1 (the normalisation) with an opening issue: firms sell
or buy back at that price whatever shares households want, and the fund and the dominant holder
hold theta of all shares at its close (sim/macro/period.py ``open_balance_sheet``). Clearing by
price starts in period 1. Why: the households' initial
portfolio (``population.initial_risky_share``) is a configuration, not a choice; clearing it by
price revalued the whole stock of equity (x2.2 in period 0 of universal_basic_capital), and the
wealth effect of that jump drove demand to twice output, inflation to 15 %/yr and, through the
Taylor rule, the real rate to 15 %/yr, which then ate the firms' profit and the dividend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.macro.demand import DemandEconomy
from sim.macro.ownership import capital_income_tax, equity_after


class MarketDidNotClear(RuntimeError):
    """No price in the widened bracket clears the equity market."""


@dataclass
class EquityMarket:
    payout: float  # share of last period's profit paid as dividends
    issuance: float  # share of gross investment financed by new shares
    growth_weight: float  # lambda of the dividend-growth belief, per period
    span: float  # the first step's limit in log p (doubled while the steps stay on one side)
    tolerance: float = 1e-4  # |shares wanted / shares supplied - 1| at which the market clears
    max_widen: int = 8  # steps tried before two prices bracket the clearing one
    max_refine: int = 12  # refinement round trips after that
    bracket: float = 1e-5  # ... or until the bracket is this narrow in log p
    smoothing: float = 1.0  # s, Lintner's speed of adjustment of dividends per period (1: none)
    leverage_speed: float = 0.0  # a, share of the gap to the leverage target closed per period
    max_buyback: float = 0.5  # most of the shares bought back in one period
    # --- state at the end of the last closed period ---
    shares: float = 1.0  # S_t-1
    price: float = 1.0  # p_t-1, goods per share
    dividend: float = 0.0  # d_t-1, goods per share
    growth: float = 0.0  # g^e, expected dividend growth per period
    reversion: float = 0.0  # nu, share of the gap to the anchor price the price is expected to close per period
    anchor_weight: float = 0.0  # omega, the anchor yield's weight on the latest observed yield, per period
    anchor_yield: float | None = None  # y-bar, the dividend yield households take as normal (None: not yet seen)
    profit: float | None = None  # Pi_t-1 (None before period 0 closes)
    paid: float = 0.0  # D_t-1, total dividends of the last period (goods)
    closed: int = 0  # periods closed
    slope: float | None = None  # dz/dlog p of the excess demand at the last clearing price
    premium: float | None = None  # E[R] - R_f households planned with at the last clearing price (per period)
    premium_before: float | None = None  # ... and at the one before it

    # ----- decisions at the start of period t ---------------------------------------------------
    def dividend_now(self, opening_yield: float) -> float:
        """d_t per share: the payout rule, D_t = D_t-1 + s (payout max(Pi_t-1, 0) - D_t-1) over
        S_t-1; before any profit (period 0) the yield ``opening_yield`` on the opening price."""
        if self.profit is None:
            return opening_yield * self.price
        total = self.paid + self.smoothing * (self.payout * max(self.profit, 0.0) - self.paid)
        return total / self.shares if self.shares > 0 else 0.0

    def planned_supply(self, investment: float, leverage_gap: float = 0.0) -> tuple[float, bool]:
        """(S_t-1 + dS_t, whether the buyback guard bound), dS_t = (issuance I_t - a gap) / p_t-1
        with gap = lambda (K + N) - D_F the debt the firms are short of their target (goods)."""
        change = (self.issuance * investment - self.leverage_speed * leverage_gap) / self.price
        floor = -self.max_buyback * self.shares
        return self.shares + max(change, floor), change < floor

    def expected_return(self, dividend: float, price: float) -> float:
        """E[R] = (1 + g^e)(1 + d_t / p) + nu (d_t / y-bar - p) / p, gross per period, at the
        price p the household pays: the Gordon return plus the price's expected move toward the
        one at which the dividend yield is its normal y-bar (nu = 0, or no yield seen yet:
        none)."""
        gordon = (1.0 + self.growth) * (1.0 + dividend / price)
        if not self.reversion or not self.anchor_yield:
            return gordon
        return gordon + self.reversion * (dividend / self.anchor_yield - price) / price

    def indifference_price(self, dividend: float, safe: float, tax: float) -> float | None:
        """The price at which households expect the safe return after the capital tax tau (which
        reaches the dividend yield and the safe interest), E[R](p) - tau (1 + g^e) d / p =
        R_f - tau (R_f - 1), so that none wants to hold equity (the Merton share is zero):
        ``price_for`` at that return. None where no price gives it (households expect more than
        the safe return at any price)."""
        return self.price_for(dividend, safe - tax * (safe - 1.0), tax)

    def price_for(self, dividend: float, expected: float, tax: float = 0.0) -> float | None:
        """The price p at which households expect the gross return ``expected`` after the capital
        tax tau on the dividend yield, E[R](p) - tau (1 + g^e) d / p = expected. With E[R] =
        (1 + g^e) - nu + d ((1 + g^e) + nu / y-bar) / p:

            p = ((1 - tau)(1 + g^e) d + nu d / y-bar) / (expected - (1 + g^e) + nu)

        (nu = 0 or no yield seen yet: no anchor term). None where no price gives it (the
        denominator is not positive: households expect more than ``expected`` at any price)."""
        nu = self.reversion if self.reversion and self.anchor_yield else 0.0
        top = (1.0 - tax) * (1.0 + self.growth) * dividend + (nu * dividend / self.anchor_yield if nu else 0.0)
        bottom = expected - (1.0 + self.growth) + nu
        return top / bottom if bottom > 0.0 and top > 0.0 else None

    def expected_income(self, dividend: float, price: float) -> float:
        """The dividend yield part of E[R], (1 + g^e) d_t / p: what the capital tax will reach."""
        return (1.0 + self.growth) * dividend / price

    def realised_return(self, price: float, dividend: float) -> float:
        """R = (p_t + d_t) / p_t-1 on a share held through period t."""
        return (price + dividend) / self.price

    # ----- clearing ----------------------------------------------------------------------------
    def clear(self, supply: float, value_at: Callable[[np.ndarray], np.ndarray],
              start: float | None = None) -> tuple[float, float | None]:
        """(p, slope): the price at which holders want ``supply`` shares, value_at(p) / p = supply,
        where value_at maps candidate prices to the goods all holders would hold in equity at each
        (one round trip to the shards, and one household solve, per candidate); and the slope
        dz/dlog p of the excess demand z(p) = value_at(p) / (p supply) - 1 there (the next
        period's first step).

        A safeguarded secant in log p: from ``start`` (the economy's first guess,
        ``PricedDemandEconomy.first_price``; last period's price where None), a Newton step with
        last period's slope (at most ``span`` in log p; the limit doubles while the steps stay on
        one side of the price), then secant steps until two prices bracket it, then regula falsi with the
        Illinois modification (Dowell & Jarratt 1971) until |z| <= ``tolerance`` (``_refine``). The returned
        price is one value_at was evaluated at, so the households' decisions there are exactly
        the ones the step will take. Households' demand is steep (the Merton share moves with the
        premium), which is why one interpolation of a schedule is not enough. Measured (calibrated
        baseline, 2,000 households): 3.5 candidates a quarter without a participation cost, 4.7 with
        ``market=priced``'s, where a 5-price schedule and its refinement took 7.6; 3.4 at stop 14,
        3.0 with the first guess at last period's premium (60 quarters; the first gap's median
        0.0073 against 0.040) and 3.15 with its trend (``first_price``: noise at this size; at 10^6
        households the trend saves a tenth of the candidates).
        """
        if not supply > 0.0:
            raise MarketDidNotClear(f"no equity price clears a market for {supply:.6g} shares: firms have no "
                                    "shares outstanding to price")
        seen: list[tuple[float, float]] = []

        def excess(x: float) -> float:
            p = math.exp(x)
            z = float(np.asarray(value_at(np.array([p])), dtype=np.float64)[0]) / (p * supply) - 1.0
            if not math.isfinite(z):
                raise MarketDidNotClear(f"equity demand is not finite at the price {p:.6g}")
            seen.append((x, z))
            return z

        xb = math.log(self.price if start is None else start)
        zb = excess(xb)
        slope, limit = self.slope, self.span
        for widen in range(self.max_widen + 1):
            if abs(zb) <= self.tolerance:
                return math.exp(xb), slope
            if widen == self.max_widen:
                break
            step = -zb / (slope if slope is not None and slope < 0.0 else -1.0)
            limited = abs(step) > limit
            xn = xb + max(-limit, min(limit, step))
            zn = excess(xn)
            if (zn > 0.0) != (zb > 0.0) or zn == 0.0:
                return self._refine(excess, seen, xb, zb, xn, zn)
            secant = (zn - zb) / (xn - xb)
            slope = secant if secant < 0.0 else slope
            limit = 2.0 * limit if limited else limit
            xb, zb = xn, zn
        lo, hi = min(x for x, _ in seen), max(x for x, _ in seen)
        raise MarketDidNotClear(
            f"no equity price in [{math.exp(lo):.4g}, {math.exp(hi):.4g}] (goods per share) clears the "
            f"market for {supply:.6g} shares; holders wanted "
            f"{[round((z + 1.0) * supply, 6) for _, z in sorted(seen)]} shares at those prices")

    def _refine(self, excess, seen, xa: float, za: float, xb: float, zb: float) -> tuple[float, float | None]:
        """Regula falsi with the Illinois modification on a bracket [xa, xb] of log p, until |z| <=
        ``tolerance`` or the bracket is narrower than ``bracket`` (demand summed over households
        who enter and leave the market at thresholds is a step function: with few households a
        step can straddle zero). Returns the evaluated price with the smallest |z|."""
        side = 0
        wa, wb = za, zb  # the ends' weights in the interpolation (Illinois halves a stale one)
        for _ in range(self.max_refine):
            if abs(zb) <= self.tolerance or abs(xb - xa) <= self.bracket:
                break
            x = (xa * wb - xb * wa) / (wb - wa) if wb != wa else 0.5 * (xa + xb)
            z = excess(x)
            if abs(z) <= self.tolerance:
                break
            if (z > 0) == (za > 0):
                xa, za, wa = x, z, z
                if side == -1:
                    wb *= 0.5  # Illinois: the stale end's weight is halved
                side = -1
            else:
                xb, zb, wb = x, z, z
                if side == 1:
                    wa *= 0.5
                side = 1
        x = min(seen, key=lambda xz: abs(xz[1]))[0]
        (x1, z1), (x2, z2) = sorted(seen)[0], sorted(seen)[-1]  # the widest pair: a stable slope
        slope = (z2 - z1) / (x2 - x1) if x2 != x1 else None
        return math.exp(x), (slope if slope is not None and slope < 0.0 else self.slope)

    # ----- end of period t ---------------------------------------------------------------------
    def close(self, *, price: float, dividend: float, equity_value: float, profit: float,
              slope: float | None = None, premium: float | None = None) -> float:
        """Record period t's price, dividend and profit; the shares outstanding are what holders
        hold at the clearing price, S_t = E_t / p_t (the planned supply plus the clearing gap).
        Returns S_t."""
        # growth is observed from period 2 on: d_0 is the opening yield, not paid from profit
        if self.closed >= 2 and self.dividend > 0.0:
            self.growth += self.growth_weight * (dividend / self.dividend - 1.0 - self.growth)
        # D_t, paid on S_t-1 (period 0: on the shares its close leaves, the opening issue included)
        self.paid = dividend * (self.shares if self.closed else equity_value / price)
        # the normal yield: an average of the yields seen at the clearing prices (period 0's is
        # the opening yield; anchor_weight = 1: the last one)
        seen = dividend / price
        self.anchor_yield = seen if self.anchor_yield is None else (
            self.anchor_yield + self.anchor_weight * (seen - self.anchor_yield))
        self.price, self.dividend, self.profit = price, dividend, profit
        self.closed += 1
        self.slope = self.slope if slope is None else slope
        self.premium_before, self.premium = self.premium, premium
        self.shares = equity_value / price
        return self.shares

    def state_dict(self) -> dict:
        return {"shares": self.shares, "price": self.price, "dividend": self.dividend,
                "growth": self.growth, "profit": self.profit, "closed": self.closed,
                "paid": self.paid, "slope": self.slope, "anchor_yield": self.anchor_yield,
                "premium": self.premium, "premium_before": self.premium_before}

    def load_state_dict(self, d: dict) -> None:
        self.shares, self.price = float(d["shares"]), float(d["price"])
        self.dividend, self.growth = float(d["dividend"]), float(d["growth"])
        self.profit = None if d["profit"] is None else float(d["profit"])
        self.closed = int(d["closed"])
        self.paid = float(d["paid"])
        self.slope = None if d["slope"] is None else float(d["slope"])
        anchor = d.get("anchor_yield")  # none in a checkpoint of a run made before the anchor (nu = 0)
        self.anchor_yield = None if anchor is None else float(anchor)
        # none in a checkpoint made before them (the search starts at p_t-1, then without the trend)
        self.premium, self.premium_before = (None if d.get(k) is None else float(d[k])
                                             for k in ("premium", "premium_before"))


class PricedDemandEconomy(DemandEconomy):
    """The demand closure with a priced equity market: step 5 of sim/macro/demand.py replaced by
    the rules above. The fund and the dominant holder pay out or consume from their dividend
    income, 1 + d_t / p_t-1 (``_owners_return``): paying out a marked-to-market gain sells shares
    each time the price rises, which turned every rise into a consumption spike and shrank the
    fund's stake."""

    prices_equity = True

    def _init_closure(self, cfg) -> None:
        super()._init_closure(cfg)
        eq = cfg.economy.equity
        self.market = EquityMarket(
            payout=float(eq.payout), issuance=float(eq.issuance), growth_weight=float(eq.growth_weight),
            span=float(eq.price_span),
            smoothing=1.0 - (1.0 - float(eq.dividend_smoothing)) ** self.dt,  # per year -> per period
            leverage_speed=1.0 - (1.0 - float(eq.leverage_adjustment)) ** self.dt,
            reversion=1.0 - (1.0 - float(eq.yield_reversion)) ** self.dt,  # per year -> per period
            anchor_weight=1.0 - (1.0 - float(eq.yield_memory)) ** self.dt)
        self.leverage_target = float(eq.leverage_target)
        self.crra = float(cfg.household.crra)
        self.held = (int(eq.held_period), float(eq.held_price))
        self._held_now: float | None = None

    def _equity_plan(self, t, Rf, u, rental, I, stance) -> dict:
        m = self.market
        self._held_now = self.held[1] if t == self.held[0] and t > 0 else None
        # before any profit (period 0) the dividend is the opening payout (r_f + the initial premium) on p_-1 = 1
        d = m.dividend_now(opening_yield=self._opening_payout())
        expected = m.expected_return(d, m.price)
        supply, capped = None, False  # period 0: the opening issue at p_-1 = 1
        if m.profit is not None:
            gap = self.leverage_target * (self.K + self.inventories) - self.firm_debt
            supply, capped = m.planned_supply(I, gap)
        income = 1.0 + d / m.price  # the dividend yield: income; the price change: a revaluation
        return dict(return_risky=m.realised_return(m.price, d),  # at an unchanged price until cleared
                    # unrealised gains are not taxed: the capital tax reaches the dividend only
                    return_risky_income=income, return_risky_taxed=income,
                    risky_mean_taxed=1.0 + m.expected_income(d, m.price),
                    payout=d / m.price,  # period 0's payout (the opening)
                    dividend=self._dividend(income, stance.tax_capital), premium=expected - Rf,
                    equity_price=m.price, dividend_per_share=d, share_supply=supply,
                    expected_return=expected, buyback_capped=capped)

    def _beliefs(self, plan, belief_safe, cap):
        plan.belief_cap = cap  # for the candidate prices' beliefs (``at_price``)
        safe, risky, plan.belief_bound_binds = self._believed(plan.expected_return, belief_safe, cap)
        return safe, risky, self.risky_std

    def _believed(self, expected_return: float, belief_safe: float, cap: float) -> tuple[float, float, bool]:
        """(safe belief, risky mean, whether the level was lowered): households plan with the
        excess return they observe, E[R] - R_f; where ``economy.patience_cap`` is set (not under
        ``market=priced``: ``cap`` is then infinite) the level of both returns is lowered so that
        the certainty-equivalent return of the Merton portfolio (share min(1, premium / (gamma
        sigma^2)), no leverage), R_f + share premium - gamma sigma^2 share^2 / 2, does not exceed
        the cap the safe belief already obeys."""
        premium = max(expected_return - belief_safe, 0.0)
        risk = self.crra * self.risky_std**2
        share = min(1.0, premium / risk) if risk > 0 else 1.0  # the Merton share, no leverage
        room = share * premium - 0.5 * risk * share**2  # its certainty-equivalent excess return
        safe = min(belief_safe, cap - room)
        return safe, safe + (expected_return - belief_safe), safe < belief_safe

    def _owners_return(self, env):
        return env.return_risky_income

    # ----- clearing (``sim.macro.clearing.clear_period``) -----------------------------------------
    def held_price(self) -> float | None:
        """This period's price where an experiment holds it (``economy.equity.held_period``):
        no search, firms issue or buy back the gap at it (``equity_clearing_gap``)."""
        return self._held_now

    def no_seller_price(self, env) -> float | None:
        """The price this period trades at when only the fund and the dominant holder would hold
        the shares to be supplied (None: the market clears by price). Both never sell: each keeps
        its shares and buys with what it retains of its dividends, so its demand in shares falls
        with the price only through those purchases. Where, at the price at which households
        want no equity (``EquityMarket.indifference_price``), the two alone want all the shares
        supplied, a clearing price would be one at which households hold none and the two buy
        exactly the new shares with their dividends: a market of one buyer, its price set by how
        few shares there are (it went to ×40 in four quarters in compute_monopoly). Instead the
        period trades at that corner price (last period's where no price gives it: they already
        hold all the shares), and the firms issue what the two buy (the held price's path,
        ``equity_clearing_gap``; reported as ``equity_no_seller``)."""
        m, plan = self.market, self._plan_t
        supply = plan.share_supply
        corner = m.indifference_price(plan.dividend_per_share, self._safe_belief(env), plan.stance.tax_capital)
        if corner is None:
            alone = (self.fund.equity + self.dominant.equity) / m.price >= supply
            price = m.price
        else:
            alone = self.others_value(self.at_price(env, corner)) / corner >= supply
            price = corner
        if not alone:
            return None
        plan.no_seller = True
        return price

    def equity_supply(self) -> float | None:
        """Shares to be held at the clearing price this period (None in period 0: the opening
        issue at p_-1 = 1)."""
        return self._plan_t.share_supply

    def _safe_belief(self, env) -> float:
        """The safe return households plan with before the equity market's beliefs: the realised
        one, or the cap's where economy.patience_cap is set and binds."""
        return min(env.return_safe, self._plan_t.belief_cap)

    def at_price(self, env, price: float):
        """What households face if the equity price is ``price``: the realised return on their
        shares and the return they expect from here (the fund's dividend, paid from its dividend
        income, does not move with the price)."""
        d = self._plan_t.dividend_per_share
        safe, risky, _ = self._believed(self.market.expected_return(d, price), self._safe_belief(env),
                                        self._plan_t.belief_cap)
        return env.with_(return_risky=self.market.realised_return(price, d), risky_mean=risky,
                         risky_mean_taxed=1.0 + self.market.expected_income(d, price),
                         belief_return_safe=safe)

    def others_value(self, env) -> float:
        """The fund's and the dominant holder's equity at the end of the period at env's return,
        after their payouts and taxes (goods): their demand at that price."""
        R, taxed, tau = env.return_risky, env.taxed_return, env.tax_capital
        fund = equity_after(self.fund.equity, R, env.dividend * self.n, capital_income_tax(self.fund.equity, taxed, tau))
        paid = self.dominant.payout(env.return_risky_income, self.dominant.equity, tau)
        dominant = equity_after(self.dominant.equity, R, paid, capital_income_tax(self.dominant.equity, taxed, tau))
        return fund + dominant

    def settle_price(self, env, price: float, slope: float | None = None):
        """Fix the period's plan at the clearing price (and the excess demand's slope there, for
        the next period's search) and return the environment at it."""
        settled = self.at_price(env, price)
        plan = self._plan_t
        plan.clearing_slope = slope
        plan.equity_price, plan.return_risky = price, settled.return_risky
        plan.expected_return = self.market.expected_return(plan.dividend_per_share, price)
        plan.premium = plan.expected_return - plan.return_safe
        plan.belief_premium = plan.expected_return - self._safe_belief(env)
        plan.belief_bound_binds = settled.belief_return_safe < self._safe_belief(env)
        return settled

    def first_price(self, env) -> float | None:
        """Where the price search starts: the price at which households would expect, over this
        period's safe belief, the premium pi they planned with at the last clearing prices, moved
        as it moved between the last two, E[R](p) = R_f,t + pi_t-1 + (pi_t-1 - pi_t-2)
        (``EquityMarket.price_for``), within ``price_span`` in log p of p_t-1; None (start at
        p_t-1) before any clearing price or where no price gives it. A forecast of where the
        market clears, nothing households believe: it decides how many candidates the search
        tries, not the price it finds (within the market's tolerance). The premium's trend
        matters in a large population, whose demand is smooth (10^6 households: 2.23 candidates
        a quarter against 2.46 without it over the default 40 quarters, 1.96 against 2.10 over
        100); with 2,000 households, whose demand is a step function, it neither helps nor hurts
        much (3.15 against 3.00, 60 quarters)."""
        m = self.market
        if m.premium is None:
            return None
        trend = 0.0 if m.premium_before is None else m.premium - m.premium_before
        p = m.price_for(self._plan_t.dividend_per_share, self._safe_belief(env) + m.premium + trend)
        if p is None:
            return None
        return math.exp(min(max(math.log(p / m.price), -m.span), m.span)) * m.price

    def _close_markets(self, plan, env, tot, opening, closing, levy, output) -> dict:
        """The period's profit, Pi_t = Y - wL - delta dt K_t - r_f D_F,t-1 - levy (next period's
        dividend), and the shares outstanding at the clearing price."""
        profit = (output - env.wage * tot["effective_labour"] - self.delta * self.dt * opening.capital
                  - (env.return_safe - 1.0) * opening.firm_debt - levy)
        supply = plan.share_supply
        shares = self.market.close(price=plan.equity_price, dividend=plan.dividend_per_share,
                                   equity_value=closing.equity, profit=profit, slope=plan.clearing_slope,
                                   premium=plan.belief_premium)
        return {"equity_price": plan.equity_price, "dividend": plan.dividend_per_share,
                "shares_outstanding": shares,
                "equity_clearing_gap": 0.0 if supply is None else shares / supply - 1.0,
                "expected_equity_return": plan.expected_return - 1.0, "firm_profit": profit,
                "belief_bound_binds": float(plan.belief_bound_binds),
                "equity_buyback_capped": float(plan.buyback_capped),
                "equity_no_seller": float(plan.no_seller)}

    def state_dict(self) -> dict:
        return super().state_dict() | {"market": self.market.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        self.market.load_state_dict(d["market"])
