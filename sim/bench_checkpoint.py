"""Checkpoint figures for ``sim bench`` (docs/design.md, "Performance figures"): write and read
throughput, the checkpoint share of run time at the configured interval, and the time to recover
from a killed shard actor. Measured with the real code path (``sim.coordinator.run`` on Ray, the
shard actors writing and reading the store themselves); never asserted in tests.
"""
from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

MB = 1e6


def _block_size(households: int, actors: int) -> int:
    for size in (262144, 65536, 16384, 4096, 1024):
        if -(-households // size) >= max(4, actors):
            return size
    return 256


def bench_checkpoint(households: int, *, actors: int = 2, periods: int = 40, every: int = 10,
                     kill_at: int | None = None, block_size: int | None = None, backend: str = "fused",
                     store: str | None = None, storage_options: dict | None = None,
                     workdir: str | None = None) -> dict:
    """Runs of ``periods`` periods: one with a checkpoint every ``every`` left undisturbed (write
    throughput, checkpoint share of run time, then a timed reload into warm actors for the read
    throughput), the same without checkpoints (the baseline), and one where a shard actor is
    SIGKILLed at ``kill_at`` (default 1.5 intervals in) for the time to recover. ``store`` is
    checkpoint.store (default: a temporary local directory), with fsspec ``storage_options`` (e.g.
    ``{"endpoint_url": ...}``)."""
    import ray

    from sim.checkpoint.store import CheckpointStore
    from sim.config import compose
    from sim.coordinator import _cpus_per_actor, run
    from sim.household_types import close as close_type_solvers
    from sim.shard import ShardActor
    from sim.shard_pool import ShardPool

    block_size = block_size or _block_size(households, actors)
    kill_at = kill_at if kill_at is not None else min(every + max(1, every // 2), periods - 1)
    overrides = [f"population.households={households}", f"population.block_size={block_size}",
                 f"periods={periods}", f"cluster.actors={actors}", f"backend={backend}",
                 f"checkpoint.every={every}", "checkpoint.keep=2", "output.progress=false"]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        if store is None:
            overrides.append(f"checkpoint.store={tmp}/store")
        else:
            overrides.append(f"checkpoint.store={store}/bench-{os.getpid()}-{time.time_ns()}")
        overrides += [f"+checkpoint.storage_options.{k}={v}" for k, v in (storage_options or {}).items()]
        cfg = compose(overrides)

        # 1. undisturbed, with and without checkpoints: write cost and its share of the run. The
        #    run with checkpoints goes first and pays any cold start, so the share errs high; each
        #    starts its own type solvers, as a `sim run` would (a driver keeps them otherwise).
        close_type_solvers()
        summary = run(cfg, Path(tmp) / "plain")
        close_type_solvers()
        baseline = run(compose(overrides + ["checkpoint.every=0"]), Path(tmp) / "baseline")
        prov = json.loads((Path(tmp) / "plain" / "provenance.json").read_text())
        writes = prov["checkpoint"]["write_seconds"]
        shard_writes = prov["checkpoint"]["shard_write_seconds"]
        state_bytes = prov["checkpoint"]["state_bytes"] or 0
        opened = CheckpointStore.open(cfg, Path(tmp) / "plain")
        newest = opened.committed()[-1]
        stored = opened.fs.du(f"{opened.path}/{newest.name}")

        # 2. read: reload the newest checkpoint into warm actors (started and imported first)
        from sim.layout import shard_layout

        layout = shard_layout(households, actors, block_size)
        cpus = _cpus_per_actor(cfg.cluster)
        pool = ShardPool(lambda s: ShardActor.options(num_cpus=cpus).remote(s, block_size, backend, 0), layout, ())
        try:
            pool.start()
            pool.pids()
            problem, manifest, _ = opened.inspect(newest, households, block_size)
            assert problem is None, problem
            pool.load(opened.root, newest.name, manifest["arrays"])  # warm-up: imports, first open
            t0 = time.perf_counter()
            problems = pool.load(opened.root, newest.name, manifest["arrays"])
            read_seconds = time.perf_counter() - t0
            assert not problems, problems
        finally:
            pool.kill()

        # 3. recovery: SIGKILL one shard actor at kill_at; time until the run is running again and
        #    until it is back at kill_at (replay included)
        marks: dict[str, float] = {}

        def kill(event, period, actor_handles):
            if event != "period":
                return
            if period == kill_at and "kill" not in marks:
                pid = ray.get(actor_handles[-1].pid.remote())
                marks["kill"] = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
            elif "kill" in marks and "resumed" not in marks:
                marks["resumed"], marks["restored_period"] = time.perf_counter(), period
            elif "kill" in marks and period == kill_at and "caught_up" not in marks:
                marks["caught_up"] = time.perf_counter()

        run(cfg, Path(tmp) / "killed", on_event=kill)
        event = json.loads((Path(tmp) / "killed" / "provenance.json").read_text())["recoveries"][0]

    checkpoint_seconds = sum(writes)
    # the first commit also pays the actors' first import of zarr: throughput from the later ones
    warm = sorted(shard_writes[1:] or shard_writes)
    warm_write = warm[len(warm) // 2] if warm else None
    return {
        "households": households, "actors": actors, "block_size": block_size, "backend": backend,
        "periods": periods, "every": every, "store": "local temporary directory" if store is None else store,
        "state_mb": state_bytes / MB,
        "stored_mb": stored / MB,
        "compression_ratio": state_bytes / stored if stored else None,
        "commits": len(writes),
        # per commit, what the step loop waited: arrays created, snapshots, macro, manifest, prune
        "write_seconds": writes,
        "shard_write_seconds": shard_writes,  # the slowest shard's background write, per commit
        "write_mb_per_s": state_bytes / MB / warm_write if writes else None,
        "read_seconds": read_seconds,
        "read_mb_per_s": state_bytes / MB / read_seconds,
        "run_seconds": summary.seconds,
        "checkpoint_seconds": checkpoint_seconds,
        "checkpoint_share_of_run": checkpoint_seconds / summary.seconds,
        # the whole cost as a share of the run with checkpoints, background writes competing for
        # the cores included (noisy: two runs)
        "run_seconds_without_checkpoints": baseline.seconds,
        "run_time_added_share": (summary.seconds - baseline.seconds) / summary.seconds,
        "recovery": {
            "kill_period": kill_at,
            "restored_period": marks.get("restored_period"),
            "seconds_to_running_again": marks["resumed"] - marks["kill"],
            "seconds_to_caught_up": marks["caught_up"] - marks["kill"],
            "replayed_periods": kill_at - marks.get("restored_period", 0),
            "supervisor_seconds": event["seconds"],
        },
    }
