"""A representative period for the benchmarks, and one backend's household-step rate on it.

Shared by ``sim bench`` (``sim.bench``) and its GPU figures (``sim.bench_gpu``), which must run
without Ray or the rest of the bench.
"""
from __future__ import annotations

import time

import numpy as np

from kernels import schema as S


def synthetic_inputs(n_z: int = 7, n_grid: int = 1024, grid_max: float = 2000.0, types: int = 1):
    """A representative period: policy tables of the right shape, (types, 3 n_z, n_grid), a little
    different by type, and moderately busy rates."""
    from kernels.step_numpy import kernel_grid
    from sim.environment import ProductivityChain

    chain = ProductivityChain.tauchen(n_z, 0.95, 0.3)
    grid = kernel_grid(0.0, grid_max, n_grid)
    s = np.arange(3 * n_z)[:, None]
    j = np.arange(types)[:, None, None]
    c_table = np.minimum(grid, 0.6 + 0.02 * s + (0.05 - 0.005 * j) * grid)
    share = np.clip(1.0 - grid / (2 * grid_max) - 0.05 * j, 0.0, 1.0) * np.ones((3 * n_z, 1))
    p = S.new_params()
    for k, v in dict(wage=1.0, tax_labour=0.2, benefit=0.3, ubi=0.1, ubi_invest_share=0.1,
                     return_safe=1.005, return_risky=1.02, return_risky_taxed=1.02, tax_capital=0.1, dividend=0.02,
                     tax_consumption=0.05, payment_fee=0.02, hazard_displacement=0.05,
                     separation=0.02, job_finding=0.5, automation=0.6, grid_min=0.0,
                     grid_max=grid_max, poverty_line=0.5).items():
        p[S.PARAMS[k]] = v
    return dict(params=p, productivity=chain.levels, transition_cdf=chain.cdf, c_table=c_table,
                share_table=share, stationary=chain.stationary)


def synthetic_state(households: int, inp: dict) -> tuple[dict, int]:
    """Households 0..n-1 at the start of the benchmarks' runs (seed 1) and their key."""
    from kernels.initial import initial_state
    from kernels.rng import seed_key

    key = seed_key(1)
    return initial_state(0, households, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"]), key


def kernel_rate(backend: str, households: int, periods: int = 5, block_size: int = 65536) -> float:
    """Household-steps per second of one backend on one thread (best period after a warm-up)."""
    from kernels import get_step

    inp = synthetic_inputs()
    state, key = synthetic_state(households, inp)
    if backend == "cupy":
        import cupy as cp

        state = {k: cp.asarray(v) for k, v in state.items()}
    step = get_step(backend)
    args = (inp["params"], inp["productivity"], inp["transition_cdf"], inp["c_table"], inp["share_table"])
    step(state, 0, 0, key, *args, block_size)  # warm-up (compilation)
    best = float("inf")
    for t in range(1, periods + 1):
        t0 = time.perf_counter()
        step(state, 0, t, key, *args, block_size)
        if backend == "cupy":
            cp.cuda.Device().synchronize()
        best = min(best, time.perf_counter() - t0)
    return households / best
