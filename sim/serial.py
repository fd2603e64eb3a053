"""The coordinator's step loop in one process, without Ray: one ``HouseholdShard`` stepped here.

Period t, as in ``sim.coordinator`` (one shard instead of many, no checkpoints):

    env_t      = economy.environment(t, totals_{t-1}, median income_{t-1})
    tables_t   = policy.tables(household problem at env_t)      (re-solved when env_t changed;
                 with a priced equity market, at the price that clears it: sim.macro.equity,
                 the households stepped at each candidate and the step held, try_step)
    partials_t = households.step(t, params(env_t), tables_t)    (the kernel, any backend; or
                 households.keep_step(t) where the clearing price was the last tried)
    row_t      = economy.close(t, env_t, combine(partials_t))   (the macro block, the accounts)

The households are the same bits as in a distributed run of the same seed on any shard layout
(counter-based draws, per-block sums; ``docs/design.md``, "Determinism"). Uses: the macro block's
tests (``tests/economy_driver.py``), and machines where Ray is absent, such as a GPU machine that
runs the CuPy backend against the fused CPU kernel (``sim bench --gpu-only``, issue 20).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernels import rng
from sim import accounts
from sim.economy import make_economy
from sim.environment import ProductivityChain, household_problem, kernel_params
from sim.layout import shard_layout
from sim.macro.clearing import clear_period
from sim.opening_wealth import opening_table
from sim.policy_cache import PolicyCache
from sim.shard import HouseholdShard
from sim.solver.markov import stationary_distribution


@dataclass
class Run:
    """A run's rows (one dict of outputs per period) and what produced them."""

    cfg: object
    economy: object
    households: HouseholdShard
    rows: list = field(default_factory=list)
    envs: list = field(default_factory=list)
    totals: list = field(default_factory=list)
    # where the time went: "solve" (environment, policy tables, the price search's own arithmetic),
    # "step" (every pass over the households: the search's tries and the committed step), "close"
    seconds: dict = field(default_factory=lambda: {"solve": 0.0, "step": 0.0, "close": 0.0})
    passes: int = 0  # passes over the households (tries and steps); a try that is kept is one pass

    def series(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])


def simulate(cfg, tamper: Callable | None = None,
             on_period: Callable[[int, Run], None] | None = None) -> Run:
    """Step the economy of ``cfg`` (a composed config) for ``cfg.periods`` periods in this process.

    ``tamper(t, totals) -> totals`` may alter what the macro block sees (tests of its checks: a
    tampered run is not stopped by its residuals); ``on_period(t, run)`` is called after each
    period (progress, per-period records). Raises ``AccountingError`` where the accounts do not
    close, as the distributed loop does."""
    key = rng.seed_key(int(cfg.seed))
    hh, pop = cfg.household, cfg.population
    chain = ProductivityChain.from_config(hh.productivity)
    (shard,) = shard_layout(int(pop.households), 1, int(pop.block_size))
    households = HouseholdShard(shard, int(pop.block_size), cfg.backend.name, key)
    households.check_memory()
    economy = make_economy(cfg, key)
    households.initialise(economy.initial_wealth_mean, float(pop.initial_risky_share),
                          float(pop.initial_unemployment), economy.initial_automation,
                          stationary_distribution(chain.transition), int(hh.types.count),
                          opening_table(cfg, chain, key))
    policy = PolicyCache(hh)
    run = Run(cfg, economy, households)
    previous, median = None, None
    for t in range(int(cfg.periods)):
        t0 = time.perf_counter()
        env = economy.environment(t, previous, median)

        def solve(e, t=t):
            return policy.tables(household_problem(e, chain, hh), t)

        tries = [0.0]  # seconds of this period's tries: the households' time, not the solve's

        def demand(params, c, share, t=t):  # a priced market: the households stepped at each candidate
            t_try = time.perf_counter()
            # each candidate's (n_blocks, 1) sums summed on their own, as the coordinator does
            sums = np.concatenate([
                households.try_step(t, params[j], chain.levels, chain.cdf, c[j], share[j]).sum(axis=0)
                for j in range(len(params))])
            tries[0] += time.perf_counter() - t_try
            run.passes += len(params)
            return sums

        env, c, share, tried = clear_period(economy, env, hh, solve, demand)
        t1 = time.perf_counter()
        partials = (households.keep_step(t) if tried else
                    households.step(t, kernel_params(env, hh), chain.levels, chain.cdf, c, share))
        run.passes += 0 if tried else 1
        t2 = time.perf_counter()
        totals = accounts.combine([partials])
        if tamper is not None:
            totals = tamper(t, totals)
        row = economy.close(t, env, totals)
        if tamper is None:
            accounts.check_closed(t, row)
        row.update(accounts.distribution_row(totals))
        run.rows.append(row)
        run.envs.append(env)
        run.totals.append(totals)
        previous, median = totals, row["median_income"]
        for phase, seconds in (("solve", t1 - t0 - tries[0]), ("step", t2 - t1 + tries[0]),
                               ("close", time.perf_counter() - t2)):
            run.seconds[phase] += seconds
        if on_period is not None:
            on_period(t, run)
    return run
