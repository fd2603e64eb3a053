"""The period's clearing: the household problem solved at each candidate equity price, the
shards asked what their households would hold at it, until one clears (``clear_period``).

The market's rules (the search, the beliefs at a price, the fund's and the dominant holder's
demand) are in ``sim.macro.equity``; this module is the loop between them, the household solve and
the shards, shared by the distributed coordinator (``sim.coordinator``) and the one-process loop
(``sim.serial``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def clear_period(economy, env, household_cfg, solve: Callable, demand: Callable):
    """(env, c, share, tried): the period's environment and the policy tables households step
    with, and whether they are the ones ``demand`` was last asked at. Where ``economy`` prices
    equity, at the price that clears its market; elsewhere ``env`` as it is, solved once (tried:
    False).

    Each candidate price p gives an environment (its realised return and the households' belief,
    ``economy.at_price``) and so a household problem, solved by ``solve(env) -> (c, share)``
    (warm-started from the solves before it). ``demand(params, c, share)`` returns the
    households' equity holdings (goods) at each candidate, stacked, summed over all households
    (the shards step them at each candidate and hold the step, ``HouseholdShard.try_step``; their
    per-block sums combined in block order, so the same on any layout); the fund and the
    dominant holder add theirs by their rules. The clearing price is one that was evaluated, so
    the tables returned are its own; where it is the last one asked (tried), the shards' held
    step is the period's.
    """
    from sim.environment import kernel_params

    supply = economy.equity_supply() if economy.prices_equity else None
    if supply is None:  # no market, or its opening issue (period 0)
        return (env, *solve(env), False)
    if not supply > 0.0:  # before a held or no-seller price, which would set a price for no shares
        from sim.macro.equity import MarketDidNotClear

        raise MarketDidNotClear(
            f"the firms plan {supply:.6g} shares outstanding this period: they bought back every share "
            "households no longer wanted, so there is no equity to price; the periods before it (their "
            "inflation and debt/GDP) say what drove the economy there")
    held = economy.held_price()
    if held is None:
        held = economy.no_seller_price(env)
    if held is not None:  # an experiment holds the price, or no one sells: one solve, the firms take the gap
        settled = economy.settle_price(env, held)
        return (settled, *solve(settled), False)
    evaluated: dict[float, tuple] = {}
    last: list[float] = []  # the candidate demand was last asked at

    def value_at(prices: np.ndarray) -> np.ndarray:
        envs = [economy.at_price(env, float(p)) for p in prices]
        tables = [solve(e) for e in envs]
        evaluated.update(zip(map(float, prices), tables))
        last[:] = [float(prices[-1])]
        households = demand(np.stack([kernel_params(e, household_cfg) for e in envs]),
                            np.stack([c for c, _ in tables]), np.stack([s for _, s in tables]))
        return households + np.array([economy.others_value(e) for e in envs])

    price, slope = economy.market.clear(supply, value_at, economy.first_price(env))
    return (economy.settle_price(env, price, slope), *evaluated[price], last == [price])
