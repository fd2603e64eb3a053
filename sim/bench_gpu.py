"""The GPU figures of ``sim bench`` (CuPy backend), runnable without Ray: ``sim bench --gpu-only``.

* ``gpu_figures``: the whole step (kernel, per-block reductions, histograms, copies back to the
  host) in household-steps per second, the household kernel alone (CUDA events), and device bytes
  per household (CuPy's pool after a step);
* ``run_agreement``: the one-process economy (``sim.serial``) on the GPU and on the fused CPU
  kernel, same config and seed: how far their outputs and households drift apart, and how fast
  each steps.
"""
from __future__ import annotations

import time

import numpy as np


def gpu_figures(households: int) -> dict:
    """The CuPy backend on GPU 0 (a reason instead where there is none)."""
    from sim.bench_inputs import kernel_rate

    try:
        import cupy as cp

        n_gpu = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no CuPy, no driver, no device
        return {"available": False, "reason": f"no CUDA GPU with CuPy here ({type(exc).__name__})"}
    if n_gpu == 0:
        return {"available": False, "reason": "CuPy found no CUDA device"}
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    try:
        rate = kernel_rate("cupy", households, periods=5, block_size=65536)
        alone = kernel_alone(households, block_size=65536)
    except Exception as exc:  # report, and let the CPU figures stand
        return {"available": False, "reason": f"GPU benchmark failed: {type(exc).__name__}: {exc}"}
    return {"available": True, "device": name.decode() if isinstance(name, bytes) else str(name),
            "households": households, "household_steps_per_second": rate, **alone}


def kernel_alone(households: int, block_size: int, periods: int = 5) -> dict:
    """Best-of-``periods`` rate of the household kernel alone (``step_cupy.launch``, timed with
    CUDA events), and the device bytes per household that one whole step left in CuPy's pool."""
    import cupy as cp

    from kernels import step_cupy
    from sim.bench_inputs import synthetic_inputs, synthetic_state

    inp = synthetic_inputs()
    host, key = synthetic_state(households, inp)
    state = {k: cp.asarray(v) for k, v in host.items()}
    tables = step_cupy.device_tables(inp["params"], inp["productivity"], inp["transition_cdf"],
                                     inp["c_table"], inp["share_table"])
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    step_cupy.step(state, 0, 0, key, inp["params"], inp["productivity"], inp["transition_cdf"],
                   inp["c_table"], inp["share_table"], block_size)  # compiles; the pool keeps its peak
    device_bytes = pool.total_bytes()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    best = float("inf")
    for t in range(1, periods + 1):
        start.record()
        step_cupy.launch(state, 0, t, key, tables, block_size)  # includes allocating its tallies
        end.record()
        end.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, end) / 1e3)
    return {"kernel_alone_household_steps_per_second": households / best,
            "device_bytes_per_household": device_bytes / households}


def run_agreement(households: int, periods: int, overrides: tuple[str, ...] = (),
                  backends: tuple[str, str] = ("cupy", "fused")) -> dict:
    """The default economy stepped in one process (``sim.serial``) on two backends, same seed.

    Per-household arithmetic is the same bits on both (no fused multiply-add on the GPU), but the
    GPU's per-block sums round differently (tree reductions), so period t's aggregates differ in
    the last bits, period t+1's parameters with them, and a household near a threshold (a job
    draw against a hazard) can decide differently, and a warm-started solve can stop an iteration
    earlier or later, which moves the policy by up to the solver's error bound (docs/solver.md,
    "Warm starts"). ``max_relative_difference``: the largest |a - b| / max|series| over every
    output and period (residuals, estimates' error bounds and the clearing gap aside: noise on both;
    ``max_sfc_residual`` gives each backend's); ``first_period_max_relative_difference``: the
    same over period 0, before any feedback (same environment, same policy: only the sums'
    rounding); ``identical_households``: the share of households whose final state is
    bit-identical."""
    from sim.config import compose
    from sim.serial import simulate

    runs, figures = {}, {}
    for backend in backends:
        cfg = compose([f"population.households={households}", f"periods={periods}", f"backend={backend}",
                       "cluster.actors=1", *overrides])
        t0 = time.perf_counter()
        run = simulate(cfg)
        figures[backend] = {"seconds": time.perf_counter() - t0, **run.seconds,
                            # every pass over the households (the price search's tries and the
                            # committed steps), per second of the passes
                            "household_passes_per_period": run.passes / periods,
                            "step_household_steps_per_second": households * run.passes / run.seconds["step"],
                            "max_sfc_residual": float(np.abs(run.series("sfc_residual")).max()),
                            # where equity is priced: the clearing search's remainder (firms absorb it)
                            "max_equity_clearing_gap": (float(np.abs(run.series("equity_clearing_gap")).max())
                                                        if "equity_clearing_gap" in run.rows[0] else None)}
        runs[backend] = run
    a, b = (runs[name] for name in backends)
    worst, worst_name = _largest_gap(a, b, slice(None))
    first, _ = _largest_gap(a, b, slice(0, 1))
    sa, sb = a.households.get_state(), b.households.get_state()
    same = np.ones(households, dtype=bool)
    for name in sa:
        same &= sa[name] == sb[name]
    return {"households": households, "periods": periods, "backends": list(backends), **figures,
            "max_relative_difference": worst, "worst_output": worst_name,
            "first_period_max_relative_difference": first,
            "identical_households": float(same.mean())}


# the clearing search's remainder: noise within the market's tolerance (1e-4) on both backends,
# where the search may stop at a different evaluated price (measured: 5 % apart relative to its
# largest value, every other output within 1e-4); bounded on each backend by its own figure,
# ``max_equity_clearing_gap``
REMAINDERS = ("equity_clearing_gap",)


def _largest_gap(a, b, periods: slice) -> tuple[float, str | None]:
    """The largest |a - b| / max|series| over the outputs of two runs (residuals aside), in ``periods``."""
    worst, worst_name = 0.0, None
    for name, value in a.rows[0].items():
        if not isinstance(value, (int, float, np.floating, np.integer)) or name in REMAINDERS or \
                name.endswith(("_residual", "_bound")):
            # a residual is rounding noise around 0 on both, each with its own bound; an estimate's
            # error bound (``*_bound``) is the width of the histogram bin its quantile falls in,
            # which one household crossing a bin edge changes
            continue
        x, y = a.series(name)[periods].astype(float), b.series(name)[periods].astype(float)
        scale = max(np.abs(x).max(), np.abs(y).max())
        gap = float(np.abs(x - y).max() / scale) if scale > 0 else 0.0
        if gap > worst or worst_name is None:
            worst, worst_name = gap, name
    return worst, worst_name
