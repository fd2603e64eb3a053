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
