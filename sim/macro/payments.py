"""Payment intermediaries: who earns the payment fee f and what they do with it.

Households pay f per unit of consumption (the kernels charge (1 + tau_c + f) c). ``policy.fee.earner``:

* ``intermediaries`` (default): the fee is the intermediaries' revenue. They spend ``spend_share``
  of their income (fees plus interest on their safe assets) on consumption goods, which is part
  of aggregate demand (their owners' spending), and save the rest in safe assets S_I:
      C_I,t = spend_share (F_t + (R_f,t - 1) S_I,t-1),   S_I,t = S_I,t-1 + (1 - spend_share)(...).
  With spend_share = 1 the fee only redistributes from households to the intermediaries' owners;
  with spend_share < 1 part of the payment rent leaves the circular flow (a demand leak).
* ``government``: a public payment rail; the fee is government revenue.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Intermediaries:
    earner: str  # "intermediaries" or "government"
    spend_share: float
    safe: float = 0.0  # S_I, goods, end of the last closed period

    def tax(self, fees: float, interest: float, tax_rate: float) -> float:
        """T_I = tau_k (F + interest) (0 on a public rail: the fee is the government's)."""
        if self.earner != "intermediaries":
            return 0.0
        return tax_rate * (fees + interest)

    def spending(self, fees: float, interest: float, tax: float = 0.0) -> float:
        """C_I = spend_share (F + interest - T_I)."""
        if self.earner != "intermediaries":
            return 0.0
        return self.spend_share * (fees + interest - tax)

    def safe_after(self, safe: float, fees: float, interest: float, spent: float, tax: float = 0.0) -> float:
        """S_I at the end of the period: S_I + F + interest - T_I - C_I (unchanged on a public rail)."""
        if self.earner != "intermediaries":
            return safe
        return safe + fees + interest - spent - tax

    def state_dict(self) -> dict:
        return {"safe": self.safe}

    def load_state_dict(self, d: dict) -> None:
        self.safe = float(d["safe"])
