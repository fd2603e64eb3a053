"""The classical closure (``economy.closure=classical``): supply-determined output, factor prices at
marginal products, household saving finances capital (docs/model.md; validation, Aiyagari / Korinek–Suh).

Per period t (annual technology, dt = 1 / periods_per_year):

* Labour market: the configured base rates s_0, f_0 (no steering); expected effective labour
  L^e_t = E^e(s_0, f_0) l_{t-1} (``labour.py``).
* Prices, set before the kernels run: w_t = F_L(K_t, L^e_t, Phi_t) dt per efficiency unit and
  R_f,t = R_k,t = 1 + (F_K(K_t, L^e_t, Phi_t) - delta) dt + c_t: one return on all wealth, the net
  marginal product of capital. There is no risky asset distinct from capital: households perceive
  no risk (``risky_std`` = 0 in their problem), so their portfolio share is irrelevant.
  c_t = NW_F,t-1 / (D_F,t-1 + E_t-1) passes on to claim holders the firm sector's last-period
  profit, Y - wL - RK, which is not zero only because realised labour L_t differs from L^e_t by
  sampling noise (Euler's theorem makes it zero at L^e); the government pays the same rate on its
  debt.
* Output Y_t = F(K_t, L_t, Phi_t) dt at the realised effective labour L_t reported by the kernels.
* Investment is saving: I_t = Y_t - C_t - C_I,t - C_X,t - G_t (no inventories), and
  K_{t+1} = (1 - delta dt) K_t + I_t. By the balance sheet this is
  K_{t+1} = b + k (household assets) + E_P + E_X + S_I - B_G + NW_F: household (and other holders')
  wealth less government debt, up to the firm sector's small net worth.
"""
from __future__ import annotations

from sim.macro.closure import MacroEconomy, Plan


class ClassicalEconomy(MacroEconomy):
    closure = "classical"

    def _plan(self, t, phi, L_full, fp, potential) -> Plan:
        lab = self.labour
        s, f = lab.separation, lab.job_finding
        L_exp = lab.expected_employment(self.employed, self.automated_share, s, f) * self.labour_per_employed
        fpe = self._factor_prices(self.K, L_exp, phi)
        wage = float(fpe.wage) * self.dt
        claims = self.firm_debt + self.equity_held()
        passthrough = self.firm_net_worth / claims if t > 0 and claims > 0 else 0.0
        r = (float(fpe.rental) - self.delta) * self.dt + passthrough  # per period
        R = 1.0 + r
        stance = self._fiscal_stance(t, wage, potential)
        annual = float((1.0 + r) ** self.ppy - 1.0)
        return Plan(
            t=t, phi=phi, K=self.K, L_full=L_full, potential=potential, rental=float(fpe.rental),
            wage=wage, return_safe=R, return_risky=R, payout=0.0, separation=s, job_finding=f,
            planned_output=float(fpe.output) * self.dt, utilisation=1.0, investment=0.0,
            expected_demand=float(fpe.output) * self.dt, nominal_rate=annual, real_rate=annual,
            stance=stance, dividend=self._dividend(R, stance.tax_capital),
        )

    def _risky_belief(self, plan, belief_safe, cap):
        return belief_safe, 0.0  # no risky asset distinct from capital

    def _output(self, plan, L):
        return float(self._factor_prices(plan.K, L, plan.phi).output) * self.dt

    def _realise(self, plan, Y, final_demand):
        I = Y - final_demand
        if (1.0 - self.delta * self.dt) * self.K + I <= 0.0:
            raise FloatingPointError(f"period {plan.t}: consumption exceeds output and the whole "
                                     "capital stock (classical closure)")
        return I, 0.0
