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
from sim.bench_inputs import kernel_rate


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
    from sim.household_types import close as close_type_solvers

    cfg = compose([*overrides, f"population.households={households}", f"periods={periods}",
                   f"cluster.actors={actors}", "output.progress=false"])
    close_type_solvers()  # its own type solvers, as a `sim run` has (a driver keeps them otherwise)
    with tempfile.TemporaryDirectory() as tmp:
        summary = run(cfg, Path(tmp) / "run")
    loop = summary.loop_seconds
    rate = households * periods / loop["loop"]
    bound = actors * per_core_rate
    return {"households": households, "periods": periods, "actors": actors, "steps_per_second": rate,
            "kernel_bound_steps_per_second": bound, "ratio": rate / bound,
            "run_seconds": summary.seconds, "loop_seconds": loop,
            "solves": summary.solves, "solver_iterations": summary.solver_iterations}


def _machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def gpu_bench(quick: bool = False) -> dict:
    """``--gpu-only``: the GPU figures, the fused kernel's per-core rate at the same size beside
    them, and the one-process economy on both (``sim.bench_gpu.run_agreement``). Needs no Ray."""
    from sim.bench_gpu import gpu_figures, run_agreement

    n, periods = (1_000_000, 8) if quick else (10_000_000, 20)
    out = {"machine": _machine(),
           "gpu": gpu_figures(n), "fused_per_core": {"households": n,
                                                     "household_steps_per_second": kernel_rate("fused", n)}}
    if out["gpu"].get("available"):
        out["run_agreement"] = run_agreement(n, periods)
    return out


def run_bench(quick: bool = False, scale: bool = False, hark: bool = True) -> dict:
    from sim.bench_gpu import gpu_figures

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
        "machine": _machine(),
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


def _print_gpu_only(r: dict) -> None:
    _print_gpu(r["gpu"])
    print(f"fused kernel, one core       {r['fused_per_core']['household_steps_per_second'] / 1e6:.1f} M household-steps/s")
    a = r.get("run_agreement")
    if a:
        for backend in a["backends"]:
            b = a[backend]
            print(f"{backend:>6} economy, one process {b['step_household_steps_per_second'] / 1e6:9.1f} M "
                  f"household-steps/s in the passes ({b['household_passes_per_period']:.1f} a period), "
                  f"{b['seconds']:.1f} s in all, {b['solve']:.1f} s solving ({a['households']:,} x {a['periods']})")
        print(f"agreement                    outputs within {a['max_relative_difference']:.1e} of their scale "
              f"(worst: {a['worst_output']}; period 0: {a['first_period_max_relative_difference']:.1e}); "
              f"{a['identical_households']:.4%} of households bit-identical")


def _print_gpu(g: dict) -> None:
    print(f"gpu                          {g['household_steps_per_second'] / 1e9:.2f} G household-steps/s per "
          f"step, {g['kernel_alone_household_steps_per_second'] / 1e9:.2f} G kernel alone, "
          f"{g['device_bytes_per_household']:.0f} device bytes per household, on {g['device']}"
          if g.get("available") else f"gpu                          skipped: {g['reason']}")


def _print_human(r: dict) -> None:
    if "fused_per_core" in r:
        return _print_gpu_only(r)
    gb = r["memory_copy_bandwidth_bytes_per_second"] / 1e9
    print(f"memory copy bandwidth        {gb:.1f} GB/s (read + write)")
    print(f"bytes per household-step    {r['bytes_per_household_step']} (state read + written)")
    print(f"resident bytes per household {r['resident_bytes_per_household']}")
    for name, c in r["cpu_per_core"].items():
        print(f"{name:>6} kernel, one core    {c['household_steps_per_second'] / 1e6:8.1f} M household-steps/s "
              f"({c['ratio_to_bandwidth_bound']:.1%} of the bandwidth bound)")
    _print_gpu(r["gpu"])
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
    ap.add_argument("--gpu-only", action="store_true",
                    help="only the GPU figures, and the economy stepped in one process on the GPU against "
                         "the fused CPU kernel (10^7 households x 20 periods; no Ray needed)")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = ap.parse_args(argv)

    def measure() -> dict:
        if args.gpu_only:
            return gpu_bench(quick=args.quick)
        return run_bench(quick=args.quick, scale=args.scale, hark=not args.no_hark)

    if args.json:
        # stdout carries the JSON alone: progress and Ray's forwarded worker logs (the recovery
        # benchmark kills a worker on purpose) go to stderr
        with contextlib.redirect_stdout(sys.stderr):
            result = measure()
    else:
        result = measure()
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
