"""Stock-flow consistent accounts of one period: the transaction-flow matrix and the stock checks.

Sectors (columns): households (the simulated population), firms (the aggregate firm sector, which
owns the capital stock and inventories), government (with the central bank, consolidated), fund (the
public / tokenised capital fund), dominant (the dominant holder of capital) and intermediaries (the
payment intermediaries). docs/economy.md draws the matrices.

A ``Ledger`` records every transaction of a period as a row of the transaction-flow matrix: each
sector's entry is signed (+ receipt / source of funds, - payment / use of funds). Entries of a row
are filled from independent sources where the simulator has them (the households' side from the
kernels' reported sums, the other side from the coordinator's own prices and quantities), so a
row that does not sum to zero is a real inconsistency between what households were paid and what
the rest of the economy paid them. The column sum of a sector is its net lending (saving less
investment in real assets).

Stock checks compare each sector's change in net financial assets with its net lending
(``flow_of_funds``): the stocks come from where they live (households' from the kernels, firm debt
from the safe-asset market, the government's debt from its own accumulation), the flows from the
ledger. All returns are paid as flows (interest, equity returns), so there are no revaluation
terms: holdings are carried at the value at which they trade.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SECTORS = ("households", "firms", "government", "fund", "dominant", "intermediaries")


@dataclass
class Ledger:
    """The transaction-flow matrix of one period (goods per period)."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    capital: set[str] = field(default_factory=set)  # rows of the capital account (real assets)

    def entry(self, item: str, sector: str, amount: float, capital: bool = False) -> None:
        """Add a signed entry: + a receipt (source of funds), - a payment (use of funds)."""
        if sector not in SECTORS:
            raise KeyError(f"unknown sector {sector!r}")
        row = self.rows.setdefault(item, {})
        row[sector] = row.get(sector, 0.0) + float(amount)
        if capital:
            self.capital.add(item)

    def transfer(self, item: str, payer: str, receiver: str, paid: float, received: float | None = None,
                 capital: bool = False) -> None:
        """A transaction: ``payer`` pays ``paid``; ``receiver`` gets ``received`` (default: the same
        number; give it when the two sides are measured separately)."""
        self.entry(item, payer, -paid, capital)
        self.entry(item, receiver, paid if received is None else received, capital)

    def net_lending(self, sector: str) -> float:
        """Column sum: the sector's net lending (+) or borrowing (-)."""
        return sum(row.get(sector, 0.0) for row in self.rows.values())

    def row_residuals(self) -> dict[str, float]:
        """Every transaction row must sum to zero across sectors."""
        return {item: sum(row.values()) for item, row in self.rows.items()}

    def matrix(self) -> dict[str, dict[str, float]]:
        """Rows with an entry for every sector (0.0 where absent), for reports and docs."""
        return {item: {s: row.get(s, 0.0) for s in SECTORS} for item, row in self.rows.items()}


def flow_of_funds(ledger: Ledger, change_in_financial_assets: dict[str, float]) -> dict[str, float]:
    """Per sector: change in net financial assets less net lending (0 when the accounts close)."""
    return {s: change_in_financial_assets[s] - ledger.net_lending(s) for s in SECTORS}


def largest_residual(residuals: dict[str, float], scale: float) -> tuple[float, str]:
    """max |residual| / |scale| and the identity that attains it (the sfc_residual output)."""
    if not residuals:
        return 0.0, ""
    name = max(residuals, key=lambda k: abs(residuals[k]))
    scale = abs(scale)
    value = abs(residuals[name]) / scale if scale > 0 else (0.0 if residuals[name] == 0 else float("inf"))
    return value, name
