"""In-process stepping of the economy for the tests of the macro block (no Ray).

It follows the coordinator's step loop (sim/coordinator.py) with one plain ``HouseholdShard``, so
the economy's equations can be checked over many periods without actor start-up cost. The
scenario test (tests/test_scenarios.py) runs the real coordinator on Ray.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kernels import rng
from sim import accounts
from sim.config import compose
from sim.coordinator import PolicyCache
from sim.economy import make_economy
from sim.environment import ProductivityChain, household_problem, kernel_params
from sim.layout import shard_layout
from sim.shard import HouseholdShard
from sim.solver.markov import stationary_distribution

FAST = ["population.households=2000", "population.block_size=1024", "backend=numpy", "cluster.actors=1",
        "household.grid_points=80", "household.kernel_grid_points=256", "household.risky_nodes=5"]


@dataclass
class Run:
    cfg: object
    economy: object
    rows: list = field(default_factory=list)
    envs: list = field(default_factory=list)
    totals: list = field(default_factory=list)
    deciles: list = field(default_factory=list)  # mean consumption by wealth decile, per period
    households: object = None  # the HouseholdShard: the households' state after the last period

    def series(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])


def simulate(*overrides: str, periods: int | None = None, tamper=None) -> Run:
    """Step the configured economy; ``tamper(t, totals) -> totals`` may alter what close() sees."""
    cfg = compose([*FAST, *overrides] + ([f"periods={periods}"] if periods else []))
    key = rng.seed_key(int(cfg.seed))
    hh, pop = cfg.household, cfg.population
    chain = ProductivityChain.from_config(hh.productivity)
    (shard,) = shard_layout(int(pop.households), 1, int(pop.block_size))
    households = HouseholdShard(shard, int(pop.block_size), cfg.backend.name, key)
    economy = make_economy(cfg, key)
    households.initialise(float(pop.initial_wealth_mean), float(pop.initial_risky_share),
                          float(pop.initial_unemployment), economy.initial_automation,
                          stationary_distribution(chain.transition), int(hh.types.count))
    policy = PolicyCache(hh)
    run = Run(cfg, economy, households=households)
    previous, median = None, None
    for t in range(int(cfg.periods)):
        env = economy.environment(t, previous, median)
        c, share = policy.tables(household_problem(env, chain, hh), t)
        partials = households.step(t, kernel_params(env, hh), chain.levels, chain.cdf, c, share)
        totals = accounts.combine([partials])
        if tamper is not None:
            totals = tamper(t, totals)
        row = economy.close(t, env, totals)
        row.update(accounts.distribution_row(totals))
        run.rows.append(row)
        run.envs.append(env)
        run.totals.append(totals)
        run.deciles.append(accounts.snapshot(totals, np.linspace(0, 1, 11))["consumption_by_wealth_decile"])
        previous, median = totals, row["median_income"]
    return run
