"""In-process stepping of the economy for the tests of the macro block (no Ray).

It runs ``sim.serial``'s one-process step loop (the coordinator's, with one plain
``HouseholdShard``) at a small size, so the economy's equations can be checked over many periods
without actor start-up cost. The scenario test (tests/test_scenarios.py) runs the real coordinator on Ray.
"""
from __future__ import annotations

import numpy as np

from sim import accounts
from sim.config import compose
from sim.serial import Run, simulate as simulate_serial

FAST = ["population.households=2000", "population.block_size=1024", "backend=numpy", "cluster.actors=1",
        "household.grid_points=80", "household.kernel_grid_points=256", "household.risky_nodes=5"]


def simulate(*overrides: str, periods: int | None = None, tamper=None) -> Run:
    """Step the configured economy; ``tamper(t, totals) -> totals`` may alter what close() sees.
    ``run.deciles[t]``: mean consumption by wealth decile in period t."""
    cfg = compose([*FAST, *overrides] + ([f"periods={periods}"] if periods else []))
    run = simulate_serial(cfg, tamper=tamper)
    run.deciles = [accounts.snapshot(totals, np.linspace(0, 1, 11))["consumption_by_wealth_decile"]
                   for totals in run.totals]
    return run


def debt_shock(years_over_target: float = 1.2) -> str:
    """The override that opens the economy with public debt ``years_over_target`` years of output
    over the tax rule's target (docs/economy.md, "Financing rules"). The target is read from the
    shipped configuration, so the shock keeps its size when a refit moves the target (3.0 -> 3.5 at
    stop 21 shrank a written 4.2 to 0.7 years over it)."""
    target = float(compose([]).policy.fiscal.target_debt_to_gdp)
    return f"economy.initial_debt_to_gdp={round(target + years_over_target, 10)!r}"
