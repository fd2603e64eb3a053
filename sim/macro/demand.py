"""The demand closure (``economy.closure=demand``, the scenarios' default): output is what firms
expect to sell, capped by potential; slack shows up as unemployment and idle capital
(docs/model.md, "Firms, demand and prices"; rules from ``policy_rules.py``).

Per period t (annual rates; x dt or ``period_rate`` per period):

1. Potential Y*_t = F(K_t, L*_t, Phi_t) dt at full-employment effective labour L*_t (``labour.py``).
2. Central bank: i_t = max(i_lb, s i_{t-1} + (1 - s)(r* + pi* + phi_pi (pi_{t-1} - pi*) + phi_y gap_{t-1}))
   (Taylor rule with smoothing s and a zero lower bound, on last period's inflation and demand
   gap; i_{-1} = r* + pi*); expected inflation is anchored, pi^e_t = w pi* + (1 - w) pi_{t-1}
   (w = ``economy.phillips.anchoring``); the real safe return is Fisher's, 1 + r_t = (1 + i_t)/(1 + pi^e_t), and
   R_f,t = (1 + r_t)^dt. Safe assets are real (indexed) claims paying the ex-ante real rate.
3. Firms plan Q_t = min(Y*_t, max(0, D^e_t - nu N_{t-1})): expected demand, less a share nu of the
   inventory (or plus a share of the order backlog when N < 0). Utilisation u_t = Q_t / Y*_t;
   capital and labour are used in that proportion, so with constant returns the factor prices
   are those of full employment: w_t = F_L(K_t, L*_t, Phi_t) dt, rental R_t = F_K. Firms hoard labour:
   planned employment E^p_t = E_{t-1} + lambda_E (u_t E* - E_{t-1}) closes a share lambda_E
   (``economy.labour.adjustment``) of the gap each period (Okun's law: employment moves less than
   output), and is reached by steering job finding and separations (``LabourMarket.steer``).
4. Investment (q rule with the accelerator): q_t = u^e R_t / (r_t + delta + xi), u^e = min(1, D^e/Y*),
   I_t = K_t max(0, delta + (q_t - 1)/chi) dt, decided at the start of the period
   (``economy.investment.rule=accelerator``: toward a desired capital that follows expected demand
   and the user cost only, ``_investment``).
5. Equity (``economy.equity.market=value``; ``priced``: shares with a price that clears their market,
   sim/macro/equity.py): the firm sector's net worth NW_F (its retained profit: Y - wL - delta K - interest, less
   what it paid its owners) is paid out to equity holders the next period with a valuation shock:
   R_k,t = clip((1 + NW_F,t-1 / E_t-1) eps_t, floor, cap), eps_t mean-one lognormal with std
   ``economy.equity.shock_std`` (the same draw on every layout; the risk households perceive is
   ``economy.risky_std``, larger by default: a documented choice, because with all-equity
   portfolios a realised +-10% quarter would swing aggregate disposable income negative). So a holding's realised gross return is
   (distributed profits + revaluation) / previous value; whatever the shock or the clip does not
   pay stays in NW_F and is paid the period after. Households buy and sell equity at its value,
   firms issue and redeem it, and borrow or repay the rest (their debt is the safe asset that
   households, intermediaries and the government's creditors hold). Households expect the
   fundamental excess return, the firm sector's expected profit at planned utilisation per unit
   of equity less the safe rate, x_t = ((u_t R_t - delta) dt K_t - r_f D_F) / E_t-1 - r_f, adaptively:
   p^e_t = p^e_t-1 + lambda_k (clip(x_t, +-max_premium) - p^e_t-1); the mean of the risky return in
   their problem is R_f + clip(p^e_t, 0, max_premium), its std ``risky_std``. (The excess return
   falls as households hold more equity, a cobweb that adaptive beliefs, lambda_k < 1, damp.)
6. Kernels run; realised output Y_t = min(Q_t, F(u_t K_t, L_t, Phi_t) dt) with the realised
   effective labour (extra hires are hoarded labour: paid, not producing more than planned).
7. Demand D_t = C_t + C_I,t + C_X,t + G_t + I_t; unsold output is inventory, N_t = N_{t-1} + Y_t - D_t
   (negative: an order backlog), financed by firm debt.
8. Phillips curve: pi_t = pi^e_t + kappa h(D_t/Y*_t - 1), h flattening in deep slack (downward
   rigidity, ``policy_rules.slack_response``); price level
   P_t = P_{t-1} (1 + pi_t)^dt. Expected demand is growth-adjusted: firms expect demand in
   proportion to potential, d^e_{t+1} = d^e_t + lambda (D_t / Y*_t - d^e_t), D^e_{t+1} = d^e_{t+1} Y*_{t+1}
   (lambda = 1: last period's demand times the growth of potential, D_t Y*_{t+1} / Y*_t, a growth
   factor firms know from their capital stock and the technology). Expectations in levels,
   D^e_{t+1} = D^e_t + lambda (D_t - D^e_t), lag a growing economy by (1 - lambda) / lambda
   periods of growth, which held unemployment above its natural rate for decades in agi_20y.
"""
from __future__ import annotations

import numpy as np

from sim.macro import policy_rules as pr
from sim.macro.closure import MacroEconomy, Plan
from sim.macro.shocks import equity_shock


class DemandEconomy(MacroEconomy):
    closure = "demand"
    _STATE = MacroEconomy._STATE + ("inflation", "gap", "price", "demand_ratio", "premium", "nominal")

    def _init_closure(self, cfg) -> None:
        e = cfg.economy
        self.nu = float(e.demand.inventory_adjustment)
        self.employment_adjustment = float(e.labour.adjustment)
        self.demand_weight = float(e.demand.expectation_weight)
        self.investment_rule = str(e.investment.rule)
        self.chi = float(e.investment.chi)
        self.xi = float(e.investment.risk_premium)
        self.accelerator_speed = float(e.investment.speed)
        # the accelerator's capital-labour elasticity: Korinek-Suh's between tasks (region 1), 1
        # for Cobb-Douglas (a CES firm's conditional demand for capital moves as c^-sigma)
        self.substitution = float(e.sigma) if e.technology == "korinek_suh" else 1.0
        # its anchors (state: set by the opening's configuration, carried through forks and
        # restarts): the opening's K/Y* and the untaxed user cost at the neutral rate, so capital
        # is at rest (I = delta K) in the opening's steady state
        self.capital_output0 = self.K / (self.potential0 * self.ppy)
        self.user_cost0 = float(pr.user_cost(float(e.taylor.r_star), self.delta, risk_premium=self.xi))
        self.premium_weight = float(e.equity.expectation_weight)
        self.max_premium = float(e.equity.max_premium)
        self.return_floor = float(e.equity.return_floor)
        self.return_cap = float(e.equity.return_cap)
        self.shock_std = float(e.equity.shock_std)
        ph, ty = e.phillips, e.taylor
        self.phillips = dict(kappa=float(ph.kappa), slack_scale=float(ph.slack_scale))
        self.anchoring = dict(anchoring=float(ph.anchoring), pi_target=float(ty.pi_target))
        self.taylor = dict(r_star=float(ty.r_star), pi_target=float(ty.pi_target), phi_pi=float(ty.phi_pi),
                           phi_y=float(ty.phi_y), lower_bound=float(ty.lower_bound),
                           smoothing=float(ty.smoothing))
        # state
        self.inflation = float(ty.pi_target)  # annual, last period's
        self.gap = 0.0  # last period's D/Y* - 1
        self.price = 1.0  # price level P_{t-1}
        self.demand_ratio = float(e.demand.initial_utilisation)  # expected D_t / Y*_t
        self.premium = float(e.equity_premium)  # households' expected excess equity return, per period
        self.nominal = float(ty.r_star + ty.pi_target)  # last period's policy rate, annual

    def price_level(self) -> float:
        return self.price

    _ANCHORS = ("capital_output0", "user_cost0")  # the accelerator's, fixed at the opening

    def state_dict(self) -> dict:
        return super().state_dict() | {name: float(getattr(self, name)) for name in self._ANCHORS}

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        for name in self._ANCHORS:  # a checkpoint from before they existed: the configuration's
            if name in d:
                setattr(self, name, float(d[name]))

    def _rates(self) -> tuple[float, float, float, float]:
        """This period's policy rate i, expected inflation pi^e, real rate r (annual) and gross safe
        return R_f (per period), from last period's inflation, gap and policy rate (step 2)."""
        i = float(pr.taylor_rule(self.inflation, self.gap, i_prev=self.nominal, **self.taylor))
        expected = float(pr.expected_inflation(self.inflation, **self.anchoring))
        r = float(pr.fisher_real_rate(i, expected))
        return i, expected, r, 1.0 + self._period_rate(r)

    def _opening_payout(self) -> float:
        # period 0's payout: the safe rate plus the households' initial premium (``_plan``, t = 0)
        return (self._rates()[3] - 1.0) + self.premium

    def _plan(self, t, phi, L_full, fp, potential) -> Plan:
        i, expected, r, Rf = self._rates()
        De = self.demand_ratio * potential  # growth-adjusted: scales with this period's potential
        Q = min(potential, max(0.0, De - self.nu * self.inventories))
        u = Q / potential if potential > 0 else 0.0
        # labour hoarding: planned employment closes a share of the gap to u E* each period
        target = self.employed + self.employment_adjustment * (u * self.labour.full_employment - self.employed)
        s, f = self.labour.steer(self.employed, self.automated_share, target)
        wage = float(fp.wage) * self.dt
        rental = float(fp.rental)
        stance = self._fiscal_stance(t, wage, potential)
        q = float(pr.tobin_q(rental, min(1.0, De / potential), r, self.delta, risk_premium=self.xi,
                             tax_capital=stance.tax_capital))
        I = self._investment(q, De, r, stance.tax_capital) * self.dt
        return Plan(
            t=t, phi=phi, K=self.K, L_full=L_full, potential=potential, rental=rental, wage=wage,
            return_safe=Rf, separation=s, job_finding=f,
            planned_output=Q, utilisation=u, investment=I, expected_demand=De, nominal_rate=i,
            real_rate=r, stance=stance, tobin_q=q,
            belief_job_finding=self.labour.belief_job_finding(self.automated_share, target),
            expected_inflation=expected, **self._equity_plan(t, Rf, u, rental, I, stance),
        )

    def _investment(self, q: float, expected_demand: float, r: float, tax_capital: float) -> float:
        """Gross investment per year by ``economy.investment.rule``: the q rule (Hayashi), or the
        flexible accelerator toward K* = (K_0/Y*_0)(c_ref/c_t)^sigma Y^e (a CES firm's desired
        capital with the opening's capital-output ratio at the untaxed neutral-rate user cost
        c_ref: it answers expected demand and the after-tax cost of capital, not a change in the
        technology's factor shares). Y^e per year: ``expected_demand`` (per period) x ppy."""
        if self.investment_rule == "q":
            return float(pr.q_investment(self.K, q, self.delta, chi=self.chi))
        cost = float(pr.user_cost(r, self.delta, risk_premium=self.xi, tax_capital=tax_capital))
        if not cost > 0.0:  # (r + xi)/(1 - tau) < -delta: a real rate no shipped scenario comes near
            raise RuntimeError(f"the user cost of capital is {cost:.4g} a year at the real rate {r:.4g}: "
                               "the accelerator's desired capital is undefined; use economy.investment.rule=q")
        ratio = self.capital_output0 * (self.user_cost0 / cost) ** self.substitution
        return float(pr.accelerator_investment(self.K, expected_demand * self.ppy, capital_output_ratio=ratio,
                                               delta=self.delta, speed=self.accelerator_speed))

    def _equity_plan(self, t: int, Rf: float, u: float, rental: float, I: float, stance) -> dict:
        """The plan's equity terms (step 5): the realised return, its income part, the payout,
        the fund's dividend and the households' premium belief."""
        H = self.equity_held()
        if t == 0:
            payout = (Rf - 1.0) + self.premium
        else:
            payout = self.firm_net_worth / H if H > 0 else 0.0
        # households' expected excess equity return: the firm sector's expected profit at planned
        # utilisation, per unit of equity, less the safe rate (adaptive, clipped)
        profit = (u * rental - self.delta) * self.dt * self.K - (Rf - 1.0) * self.firm_debt
        excess = profit / H - (Rf - 1.0) if H > 0 else self.max_premium
        excess = float(np.clip(excess, -self.max_premium, self.max_premium))
        premium = self.premium + self.premium_weight * (excess - self.premium)
        shock = equity_shock(self.key, t, self.shock_std)
        Rk = float(np.clip((1.0 + payout) * shock, self.return_floor, self.return_cap))
        # income is the payout; losses and the valuation shock are revaluations (not income)
        return dict(return_risky=Rk, return_risky_income=1.0 + max(payout, 0.0), payout=payout,
                    dividend=self._dividend(Rk, stance.tax_capital), premium=premium)

    def _risky_belief(self, plan, belief_safe, cap):
        # Only the safe return must keep beta R < 1; with risk the solver needs no cap on the mean.
        return belief_safe + min(max(plan.premium, 0.0), self.max_premium), self.risky_std

    def _output(self, plan, L):
        if plan.planned_output <= 0.0:
            return 0.0
        capacity = float(self._factor_prices(plan.utilisation * plan.K, L, plan.phi).output) * self.dt
        return min(plan.planned_output, capacity)

    def _at_lower_bound(self, plan) -> bool:
        return plan.nominal_rate <= self.taylor["lower_bound"]  # the rule's max(lower_bound, .): exact

    def _realise(self, plan, Y, final_demand):
        return plan.investment, Y - (final_demand + plan.investment)

    def _update_expectations(self, plan, env, Y, demand):
        gap = demand / plan.potential - 1.0
        pi = float(pr.phillips_curve(plan.expected_inflation, gap, **self.phillips))
        pi_period = self._period_rate(pi)
        self.price = self.price * (1.0 + pi_period)
        self.demand_ratio = self.demand_ratio + self.demand_weight * (gap + 1.0 - self.demand_ratio)
        self.premium = plan.premium
        self.nominal = plan.nominal_rate
        self.inflation, self.gap = pi, gap
        return {"inflation": pi_period, "price_level": self.price, "output_gap": gap,
                "expected_inflation": self._period_rate(plan.expected_inflation)}
