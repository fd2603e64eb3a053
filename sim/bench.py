"""``sim bench``: the performance figures of docs/design.md ("Performance figures"), measured in
one run on this machine.

Figures (JSON with ``--json``):
* memory-copy bandwidth (NumPy copy of a large array; bytes read + written per second);
* household-steps per second per core for each CPU backend (one thread, in process), the bytes a
  household-step moves (state read + written) and so the ratio to the bandwidth bound;
* resident bytes per household;
* the same per GPU where CuPy and a GPU are present;
* the ratio to HARK's ``PortfolioConsumerType.simulate()`` on the same households and periods;
* the household solver's time for the default problem;
* checkpoint throughput and time to recover, when that module is present;
* ``end_to_end``: the default run's step loop (10^6 households x 40 periods, 2 actors) against
  the kernel bound, actors x the fused per-core rate measured in the same bench run;
* with ``--scale``: wall time and peak memory of ``sim run`` for 10^7 households x 100 periods,
  and ``end_to_end`` at that size (``end_to_end_scale``).
Speed lives here, never in tests.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kernels import schema as S


def copy_bandwidth(nbytes: int = 256 * 2**20, repeats: int = 5) -> float:
    """Best-of-n NumPy copy bandwidth, bytes moved (read + write) per second."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


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
                     return_safe=1.005, return_risky=1.02, tax_capital=0.1, dividend=0.02,
                     tax_consumption=0.05, payment_fee=0.02, hazard_displacement=0.05,
                     separation=0.02, job_finding=0.5, automation=0.6, grid_min=0.0,
                     grid_max=grid_max, poverty_line=0.5).items():
        p[S.PARAMS[k]] = v
    return dict(params=p, productivity=chain.levels, transition_cdf=chain.cdf, c_table=c_table,
                share_table=share, stationary=chain.stationary)


def kernel_rate(backend: str, households: int, periods: int = 5, block_size: int = 65536) -> float:
    """Household-steps per second of one backend on one thread (best period after a warm-up)."""
    from kernels import get_step
    from kernels.initial import initial_state
    from kernels.rng import seed_key

    inp = synthetic_inputs()
    key = seed_key(1)
    state = initial_state(0, households, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"])
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


def hark_rate(households: int, periods: int) -> dict:
    """HARK's PortfolioConsumerType.simulate(): agent-steps per second (solve time excluded)."""
    try:
        from HARK.ConsumptionSaving.ConsPortfolioModel import PortfolioConsumerType
    except ImportError:
        return {"available": False, "reason": "econ-ark (HARK) is not installed: pip install -e '.[test]'"}
    agent = PortfolioConsumerType(AgentCount=households, cycles=0)
    agent.solve()
    agent.T_sim = periods
    agent.track_vars = ["aNrm"]
    agent.initialize_sim()
    t0 = time.perf_counter()
    agent.simulate()
    seconds = time.perf_counter() - t0
    return {"available": True, "seconds": seconds, "agent_steps_per_second": households * periods / seconds}


def gpu_figures(households: int) -> dict:
    """The CuPy backend on GPU 0: the whole step (kernel, per-block reductions, histograms, copies
    back to the host), the household kernel alone (CUDA events), and device bytes per household."""
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
        alone = _gpu_kernel_alone(households, block_size=65536)
    except Exception as exc:  # report, and let the CPU figures stand
        return {"available": False, "reason": f"GPU benchmark failed: {type(exc).__name__}: {exc}"}
    return {"available": True, "device": name.decode() if isinstance(name, bytes) else str(name),
            "households": households, "household_steps_per_second": rate, **alone}


def _gpu_kernel_alone(households: int, block_size: int, periods: int = 5) -> dict:
    import cupy as cp

    from kernels import step_cupy
    from kernels.initial import initial_state
    from kernels.rng import seed_key

    inp = synthetic_inputs()
    key = seed_key(1)
    state = {k: cp.asarray(v) for k, v in
             initial_state(0, households, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"]).items()}
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
        step_cupy.launch(state, 0, t, key, tables, block_size)  # includes zeroing its output columns
        end.record()
        end.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, end) / 1e3)
    return {"kernel_alone_household_steps_per_second": households / best,
            "device_bytes_per_household": device_bytes / households}


def scale_run(households: int = 10_000_000, periods: int = 100) -> dict:
    """Wall time and peak memory (all processes of the run) of `sim run` at scale."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sim.cli", "run", "population=large",
               f"population.households={households}", f"periods={periods}",
               "output.progress=false", f"hydra.run.dir={tmp}/run"]
        t0 = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak = 0
        while proc.poll() is None:
            rss = 0
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        out = proc.stdout.read()
    return {"households": households, "periods": periods, "seconds": seconds,
            "peak_memory_bytes": peak, "returncode": proc.returncode, "tail": out[-600:]}


def end_to_end(households: int, periods: int, actors: int, per_core_rate: float,
               overrides: tuple[str, ...] = ()) -> dict:
    """One ``sim run`` in this process (default configuration otherwise) against the kernel bound.

    ``steps_per_second`` is households x periods over the step loop's wall time (from the first
    period to the last: actors already started and initialised, results not yet written);
    ``kernel_bound_steps_per_second`` is ``actors x per_core_rate`` (household-steps per second of
    the fused kernel on one core); ``ratio`` their quotient. ``loop_seconds`` says where the step
    loop's time went (``sim.coordinator.LoopClock``), ``run_seconds`` is the whole run.
    """
    from sim.config import compose
    from sim.coordinator import run

    cfg = compose([*overrides, f"population.households={households}", f"periods={periods}",
                   f"cluster.actors={actors}", "output.progress=false"])
    with tempfile.TemporaryDirectory() as tmp:
        summary = run(cfg, Path(tmp) / "run")
    loop = summary.loop_seconds
    rate = households * periods / loop["loop"]
    bound = actors * per_core_rate
    return {"households": households, "periods": periods, "actors": actors, "steps_per_second": rate,
            "kernel_bound_steps_per_second": bound, "ratio": rate / bound,
            "run_seconds": summary.seconds, "loop_seconds": loop,
            "solves": summary.solves, "solver_iterations": summary.solver_iterations}


def run_bench(quick: bool = False, scale: bool = False, hark: bool = True) -> dict:
    n = 1_000_000 if quick else 4_000_000
    bandwidth = copy_bandwidth()
    bytes_per_step = 2 * S.BYTES_PER_HOUSEHOLD  # every state byte read once and written once
    cpu = {}
    for backend, households in (("fused", n), ("numpy", n // 8)):
        rate = kernel_rate(backend, households)
        cpu[backend] = {
            "households": households,
            "household_steps_per_second": rate,
            "bandwidth_bound_steps_per_second": bandwidth / bytes_per_step,
            "ratio_to_bandwidth_bound": rate * bytes_per_step / bandwidth,
        }
    out = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "memory_copy_bandwidth_bytes_per_second": bandwidth,
        "bytes_per_household_step": bytes_per_step,
        "resident_bytes_per_household": S.BYTES_PER_HOUSEHOLD,
        "cpu_per_core": cpu,
        "gpu": gpu_figures(10_000_000 if not quick else 1_000_000),
    }
    if hark:
        h_n, h_t = (100_000, 20) if quick else (1_000_000, 20)
        figures = hark_rate(h_n, h_t)
        if figures.get("available"):
            ours_same = kernel_rate("fused", h_n, periods=h_t)
            figures.update(households=h_n, periods=h_t, ours_steps_per_second=ours_same,
                           ratio=ours_same / figures["agent_steps_per_second"])
        out["hark"] = figures
    try:
        from sim.solver.household import bench_solver

        out["solver"] = bench_solver()
    except ImportError as exc:
        out["solver"] = {"available": False, "reason": str(exc)}
    try:
        from sim.bench_checkpoint import bench_checkpoint  # issue 6

        out["checkpoint"] = bench_checkpoint(1_000_000 if quick else 10_000_000)
    except ImportError:
        out["checkpoint"] = {"available": False, "reason": "checkpoint benchmark not available"}
    fused = cpu["fused"]["household_steps_per_second"]
    out["end_to_end"] = end_to_end(*((200_000, 10) if quick else (1_000_000, 40)), 2, fused,
                                   ("population.block_size=16384",) if quick else ())
    if scale:
        out["scale_run"] = scale_run()
        out["end_to_end_scale"] = end_to_end(10_000_000, 100, 2, fused, ("population=large",))
    return out


def _print_human(r: dict) -> None:
    gb = r["memory_copy_bandwidth_bytes_per_second"] / 1e9
    print(f"memory copy bandwidth        {gb:.1f} GB/s (read + write)")
    print(f"bytes per household-step    {r['bytes_per_household_step']} (state read + written)")
    print(f"resident bytes per household {r['resident_bytes_per_household']}")
    for name, c in r["cpu_per_core"].items():
        print(f"{name:>6} kernel, one core    {c['household_steps_per_second'] / 1e6:8.1f} M household-steps/s "
              f"({c['ratio_to_bandwidth_bound']:.1%} of the bandwidth bound)")
    g = r["gpu"]
    print(f"gpu                          {g['household_steps_per_second'] / 1e9:.2f} G household-steps/s per "
          f"step, {g['kernel_alone_household_steps_per_second'] / 1e9:.2f} G kernel alone, "
          f"{g['device_bytes_per_household']:.0f} device bytes per household, on {g['device']}"
          if g.get("available") else f"gpu                          skipped: {g['reason']}")
    h = r.get("hark", {})
    if h.get("available"):
        print(f"HARK simulate()              {h['agent_steps_per_second'] / 1e6:.2f} M agent-steps/s; "
              f"ours {h['ratio']:.0f}x faster ({h['households']:,} households x {h['periods']} periods)")
    s = r.get("solver", {})
    if "seconds" in s:
        print(f"household solver             {s['seconds']:.3f} s for the default problem")
    ck = r.get("checkpoint", {})
    if "write_mb_per_s" in ck:
        print(f"checkpoint write / read      {ck['write_mb_per_s']:.0f} / {ck['read_mb_per_s']:.0f} MB/s "
              f"({ck['households']:,} households, every {ck['every']} periods)")
        print(f"checkpoint share of run      step loop waited {ck['checkpoint_share_of_run']:.1%}; "
              f"{ck['run_time_added_share']:.1%} of run time against a run without checkpoints")
        rec = ck["recovery"]
        print(f"killed worker to running     {rec['seconds_to_running_again']:.1f} s "
              f"({rec['seconds_to_caught_up']:.1f} s until caught up)")
    for name, size in (("end_to_end", ""), ("end_to_end_scale", " (--scale)")):
        if name in r:
            e = r[name]
            print(f"step loop{size:<20} {e['steps_per_second'] / 1e6:.1f} M household-steps/s = {e['ratio']:.0%} "
                  f"of the kernel bound ({e['actors']} actors, {e['households']:,} x {e['periods']})")
    if "scale_run" in r:
        sr = r["scale_run"]
        print(f"sim run 10^7 x 100           {sr['seconds']:.1f} s, peak memory {sr['peak_memory_bytes'] / 2**30:.2f} GiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sim bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test, ~1 minute)")
    ap.add_argument("--scale", action="store_true", help="also time `sim run` at 10^7 households x 100 periods")
    ap.add_argument("--no-hark", action="store_true", help="skip the HARK comparison")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if args.json:
        # stdout carries the JSON alone: progress and Ray's forwarded worker logs (the recovery
        # benchmark kills a worker on purpose) go to stderr
        with contextlib.redirect_stdout(sys.stderr):
            result = run_bench(quick=args.quick, scale=args.scale, hark=not args.no_hark)
    else:
        result = run_bench(quick=args.quick, scale=args.scale, hark=not args.no_hark)
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        args.out.write_text(text)
    if args.json:
        print(text)
    else:
        _print_human(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
