"""Who owns the firm sector besides households: the public / tokenised capital fund and the dominant
holder of capital (docs/model.md, "Concentration of compute", "universal basic capital").

Both hold equity claims on the firm sector, carried at value (goods), and earn the same realised
equity return R_k as households' risky holdings. Their rules, per period:

* Public fund (``policy.fund``): owns ``initial_share`` of firm equity at t = 0. It pays out
  ``payout`` x max(0, (R_k - 1) E_P) as an equal dividend to every household (the kernels' ``dividend``
  parameter) and reinvests the rest; a loss is absorbed by its holdings. It pays the capital income
  tax tau_k on its equity return, as households do (losses offset), and pays out after tax:
      E_P,t = E_P,t-1 + (R_k,t - 1) E_P,t-1 - Div_t - tau_k (R_k,t - 1) E_P,t-1
* Dominant holder (``policy.dominant``): owns ``initial_share`` of firm equity at t = 0. It consumes
  (1 - reinvest) x max(0, (R_k - 1) E_X) and reinvests the rest of its capital income in more
  equity (a loss is absorbed by its holdings), after the capital income tax tau_k:
      E_X,t = E_X,t-1 + (R_k,t - 1) E_X,t-1 - C_X,t - tau_k (R_k,t - 1) E_X,t-1
  Its capital share is E_X / (E_H + E_X + E_P), the share of firm equity it owns: it grows when
  it reinvests a larger share of its capital income than the other owners save of theirs.

Where equity is priced by its market (``market=priced``, sim/macro/equity.py) both pay out or
consume from their dividend income only (R_k replaced by 1 + d_t / p_t-1 in the payout), and the
capital tax reaches that income only; revaluations stay in their holdings.
"""
from __future__ import annotations

from dataclasses import dataclass


def capital_income_tax(equity: float, gross_return: float, tax_rate: float) -> float:
    """tau_k (R_k - 1) E (goods): the tax on an owner's equity return, negative on a loss (losses
    offset, as for households)."""
    return tax_rate * ((gross_return - 1.0) * equity)


def equity_after(equity: float, gross_return: float, paid: float, tax: float = 0.0) -> float:
    """An owner's equity at the end of the period: E + (R_k - 1) E - paid - tax (goods)."""
    income = (gross_return - 1.0) * equity
    return equity + income - paid - tax


@dataclass
class Owner:
    """A non-household owner of firm equity (the fund or the dominant holder)."""

    initial_share: float  # share of firm equity at t = 0
    retain: float  # share of positive capital income kept as equity (fund: 1 - payout)
    equity: float = 0.0  # E, goods, end of the last closed period

    def payout(self, gross_return: float, equity: float | None = None, tax_rate: float = 0.0) -> float:
        """What it pays out or consumes this period: (1 - retain) max(0, (1 - tau_k)(R_k - 1) E)."""
        e = self.equity if equity is None else equity
        return (1.0 - self.retain) * max(0.0, (1.0 - tax_rate) * (gross_return - 1.0) * e)

    def growth(self, gross_return: float, tax_rate: float = 0.0) -> float:
        """E_t / E_t-1 under its own payout rule (no fixed payment): 1 + (1 - tau_k)(R_k - 1)
        less the share paid out of a positive after-tax return."""
        after_tax = (1.0 - tax_rate) * (gross_return - 1.0)
        return 1.0 + after_tax - (1.0 - self.retain) * max(0.0, after_tax)

    def state_dict(self) -> dict:
        return {"equity": self.equity}

    def load_state_dict(self, d: dict) -> None:
        self.equity = float(d["equity"])


def public_fund(cfg_fund) -> Owner:
    return Owner(initial_share=float(cfg_fund.initial_share), retain=1.0 - float(cfg_fund.payout))


def dominant_holder(cfg_dominant) -> Owner:
    return Owner(initial_share=float(cfg_dominant.initial_share), retain=float(cfg_dominant.reinvest))
