"""The coordinator's step loop: macro state on the driver, households in shard actors.

Per period (docs/design.md, "The data path of one period"):
  1. the economy gives the period's environment (prices, policy, rates);
  2. the household problem is (re)solved and its policy tables put once in the object store (with
     a priced equity market, at the price that clears it, sim.macro.clearing.clear_period: the shards
     step at each candidate price and hold the step, ``HouseholdShard.try_step``);
  3. every shard actor runs one kernel pass (or keeps the one it holds at the clearing price) and
     returns per-block partial aggregates;
  4. partials are combined in global block order, the economy closes its accounts;
  5. outputs are recorded (distribution snapshots at chosen periods).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ray
from omegaconf import DictConfig, OmegaConf
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from kernels import rng
from sim import accounts, results
from sim.checkpoint.macro_state import MacroState
from sim.checkpoint.store import CheckpointStore
from sim.capacity import ActorCapacity
from sim.economy import make_economy
from sim.errors import EconomyStopped
from sim.environment import ProductivityChain, household_problem, kernel_params
from sim.household_types import release_in_task as release_type_solvers
from sim.household_types import start as start_type_solvers
from sim.layout import RunShape
from sim.macro import government as gov
from sim.macro.clearing import clear_period
from sim.macro.equity import MarketDidNotClear
from sim.opening_wealth import check_config as check_opening, opening_law, scaled_to_draws
from sim.policy_cache import PolicyCache
from sim.shard import ShardActor
from sim.shard_pool import ShardPool
from sim.supervisor import Supervisor, shard_lost_errors


@dataclass
class RunSummary:
    run_dir: Path
    periods: int
    households: int
    seconds: float
    household_steps_per_second: float
    final: dict[str, float] = field(default_factory=dict)
    loop_seconds: dict[str, float] = field(default_factory=dict)  # LoopClock.report()
    solves: int = 0  # household-problem solves
    solver_iterations: int = 0  # EGM iterations over all solves


def init_ray(address: str | None, **options) -> None:
    """Attach to the cluster at ``address``, or start a private local Ray instance.

    ``address="local"`` when none is given: a bare ``ray.init()`` would join whatever cluster
    ``$RAY_TMPDIR/ray/ray_current_cluster`` names (someone else's, or a dead one, where it hangs
    for ever)."""
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(address="local", include_dashboard=False, **options)


def connect_ray(cluster_cfg) -> None:
    """Attach to the configured cluster, RAY_ADDRESS, or start a private local Ray instance."""
    if not ray.is_initialized():
        init_ray(cluster_cfg.address or os.environ.get("RAY_ADDRESS"),
                 log_to_driver=False, configure_logging=False)


def _cpus_per_actor(cluster_cfg) -> float:
    if cluster_cfg.cpus_per_actor is not None:
        return float(cluster_cfg.cpus_per_actor)
    cpus = ray.cluster_resources().get("CPU", 1.0)
    return min(1.0, math.floor(100 * cpus / cluster_cfg.actors) / 100) or 0.01


def reserve_actors(actors: int, cpus: float, gpu: bool = False):
    """Reserve every shard actor's resources at once (a Ray placement group: gang scheduling).

    Without it, concurrent runs on one cluster (the jobs of a sweep) can each get some of their
    actors placed and wait forever for the rest. Replacement actors after a crash reuse the bundle
    of the actor they replace.
    """
    bundle = {"CPU": cpus, **({"GPU": 1} if gpu else {})}
    have = ray.cluster_resources()
    for resource, each in bundle.items():  # waiting is right when busy, never when impossible
        if each * actors > have.get(resource, 0.0) + 1e-9:
            from sim.config import ConfigError

            raise ConfigError(
                f"cluster.actors={actors} need {each * actors:g} {resource} but the Ray cluster has "
                f"{have.get(resource, 0.0):g}: lower cluster.actors"
                + (", or use backend=fused on a cluster without GPUs" if resource == "GPU" else ""))
    group = placement_group([dict(bundle) for _ in range(actors)], strategy="PACK")
    ray.get(group.ready())
    return group


class LoopClock:
    """Wall seconds of the step loop by phase, for provenance and ``sim bench``: where the time
    between two shard steps goes. ``lap(phase)`` charges the time since the previous lap."""

    PHASES = ("environment", "solve", "launch", "wait", "close", "checkpoint", "recovery")

    def __init__(self):
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.start = self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self._last
        self._last = now

    def report(self) -> dict[str, float]:
        """Seconds per phase and ``loop``, the step loop's wall time in all."""
        return {**self.seconds, "loop": self._last - self.start}


@dataclass(frozen=True)
class ForkPoint:
    """How an arm of ``sim fork`` (sim/fork.py) runs: ``schedule`` the configurations in force,
    as (first period, config) pairs from period 0 (the parent's, then the arm's; a fork of a fork
    has more), ``store_config`` the configuration whose checkpoints the arm's store holds (the
    first one: the arm starts from a copy of its parent's checkpoint), ``record`` what
    provenance.json keeps, ``transfer`` PeriodEnvironment fields set at the arm's first period
    only (a one-off transfer, sim experiment mpc), or None."""

    schedule: tuple
    store_config: DictConfig
    record: dict
    transfer: dict | None = None

    @property
    def at(self) -> int:
        return self.schedule[-1][0]

    def config_at(self, period: int) -> DictConfig:
        return [c for start, c in self.schedule if start <= period][-1]


def switch_config(macro: MacroState, cfg: DictConfig, key: int, *, convert_from: DictConfig | None) -> MacroState:
    """The same macro state under configuration ``cfg``: its economy and policy cache rebuilt from
    ``cfg`` and loaded with the state's own files (exactly what a checkpoint restores), so every
    stock carries over and the policy takes the arm's switches from this period on.
    ``convert_from``: the configuration the state was produced under, where this is a fork's
    switch (a state at the switch period is its predecessor's: a checkpoint there was written
    before the switch); then a change of ``policy.financing`` converts the carried surcharge term
    (``government.carried_at_switch``). None for a state restored inside ``cfg``'s own periods,
    converted already."""
    arm = MacroState(make_economy(cfg, key), PolicyCache(cfg.household)).load_files(macro.to_files())
    if convert_from is not None:
        before, after = gov.FiscalSettings.from_config(convert_from.policy), arm.economy.fiscal
        if before.financing != after.financing:
            arm.economy.carried_surcharge = gov.carried_at_switch(
                before, after, macro.economy.carried_surcharge, macro.economy.debt_ratio,
                getattr(macro.economy, "escape_offset", 0.0))
    return arm


def snapshot_periods(periods: int, every: int) -> list[int]:
    return sorted(set(range(0, periods, every)) | {periods - 1})


def _drawn(pool: ShardPool, law, opening, pop, chain):
    """The opening wealth law scaled to the draws the shards make from it (None: the exponential
    draw). Each shard sums its own blocks' draws, so the population is drawn in parallel; their sums,
    in block order (the pool's actors are in layout order), give the same scale on any layout."""
    if law is None:
        return None
    sums = ray.get([a.opening_sums.remote(law, pop.initial_risky_share, pop.initial_unemployment, chain.stationary)
                    for a in pool.actors])
    return scaled_to_draws(law, [s for shard in sums for s in shard], float(opening.initial_wealth_mean),
                           int(pop.households))


def run(cfg: DictConfig, run_dir: Path, command: str = "sim run", *, resume: bool = False,
        scenario: str | None = None, on_event=None, fork: ForkPoint | None = None) -> RunSummary:
    """Simulate ``cfg.periods`` periods and write the run directory; return a summary.

    ``resume``: continue from the newest good checkpoint in the run's store (``sim resume``).
    ``on_event(event, period, actors)``: an observer of the step loop (see Supervisor.notify).
    ``fork``: periods before ``fork.at`` follow the parent's configuration ``fork.parent``, the
    rest ``cfg`` (an arm of ``sim fork``, sim/fork.py).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = rng.seed_key(cfg.seed)
    pop, hh = cfg.population, cfg.household
    before = fork.config_at(0) if fork is not None else cfg  # in force from period 0
    chain = ProductivityChain.from_config(hh.productivity)
    every = cfg.checkpoint.every
    store_cfg = fork.store_config if fork is not None else cfg
    store = CheckpointStore.open(store_cfg, run_dir) if every > 0 or resume else None  # fails fast
    connect_ray(cfg.cluster)
    start_type_solvers(int(hh.types.count))  # they load the solver while the shards start
    opening = make_economy(before, key)  # the households' first state: initial automation and wealth
    # the opening's wealth law, built now, or, resuming, only if no checkpoint is found and the
    # shards draw it after all; either way a refusal stops the run before any shard actor,
    # placement group or provenance
    law = None if resume else opening_law(before, chain, key, opening)
    if resume:
        check_opening(before)
    shape = RunShape.of(cfg)
    cpus = _cpus_per_actor(cfg.cluster)
    gpu = cfg.backend.name == "cupy"
    capacity = ActorCapacity(reserve_actors(shape.actors, cpus, gpu=gpu), shape.actors,
                             {"CPU": cpus, **({"GPU": 1} if gpu else {})}, households=shape.households,
                             block_size=shape.block_size, grace_s=cfg.cluster.replace_grace_s,
                             timeout_s=cfg.cluster.capacity_timeout_s, run_dir=run_dir)
    pool = ShardPool(  # the group is looked up when an actor starts: it changes when the run shrinks or grows
        lambda s: ShardActor.options(
            num_cpus=cpus, num_gpus=1 if gpu else 0,
            scheduling_strategy=PlacementGroupSchedulingStrategy(capacity.group, placement_group_bundle_index=s.index),
        ).remote(s, shape.block_size, cfg.backend.name, key),
        list(shape.shards),
        lambda: (float(opening.initial_wealth_mean), pop.initial_risky_share, pop.initial_unemployment,
                 float(opening.initial_automation), chain.stationary, int(hh.types.count),
                 _drawn(pool, law if not resume else opening_law(before, chain, key, opening), opening, pop, chain)))
    sup = Supervisor(
        pool, store, lambda: MacroState(make_economy(before, key), PolicyCache(before.household)),
        households=shape.households, block_size=shape.block_size, periods=cfg.periods,
        every=every, max_recoveries=cfg.checkpoint.max_recoveries, on_event=on_event, capacity=capacity,
        meta={"seed": cfg.seed, "backend": cfg.backend.name, "periods": cfg.periods,
              "package_version": results.package_version(), "git_revision": code_revision()})
    prov = _Provenance(cfg, run_dir, command, shape, sup, resume, scenario)
    if fork is not None:
        prov.record["fork"] = fork.record
    built_from = before  # the configuration the macro state's economy was built from
    productivity_ref = ray.put(chain.levels)
    cdf_ref = ray.put(chain.cdf)
    quantiles = np.linspace(0.0, 1.0, cfg.output.lorenz_points)
    snaps_at = set(snapshot_periods(cfg.periods, cfg.output.snapshot_every))

    progress = _progress(cfg)
    t0 = time.perf_counter()
    stopped = None  # (period, why) where the economy could not go on
    try:
        macro = sup.start(resume)  # built from `before`, whatever period it restored
        clock = LoopClock()
        while macro.period < cfg.periods:
            t = macro.period
            if fork is not None and fork.config_at(t) is not built_from:  # a fork's switch, or a restore past one
                previous = fork.config_at(t - 1) if t > 0 else None
                built_from = fork.config_at(t)
                macro = switch_config(macro, built_from, key,
                                      convert_from=previous if previous is not None and previous is not built_from else None)
            try:
                sup.notify("period", t)
                env = macro.economy.environment(t, macro.previous, macro.median_income)
                if fork is not None and t == fork.at and fork.transfer is not None:
                    env = env.with_(**fork.transfer)  # a one-off payment (sim experiment mpc)
                household_cfg = macro.policy.hh_cfg  # the parent's before a fork, cfg's after
                clock.lap("environment")

                def solve(e, t=t, household_cfg=household_cfg):
                    return macro.policy.tables(household_problem(e, chain, household_cfg), t)

                def demand(params, c, share, t=t):  # the shards step at each candidate and hold it
                    sums = []
                    for j in range(len(params)):
                        refs = [ray.put(x) for x in (params[j], c[j], share[j])]
                        parts = ray.get([a.try_step.remote(t, refs[0], productivity_ref, cdf_ref, *refs[1:])
                                         for a in pool.actors])
                        sums.append(np.concatenate(parts).sum(axis=0))  # in block order: any layout
                    return np.concatenate(sums)

                env, c_table, share_table, tried = clear_period(macro.economy, env, household_cfg, solve,
                                                                demand)
                clock.lap("solve")
                if tried:  # the shards stepped at the clearing price: keep it
                    stepping = [a.keep_step.remote(t) for a in pool.actors]
                else:
                    refs = [ray.put(x) for x in (kernel_params(env, household_cfg), c_table, share_table)]
                    stepping = [a.step.remote(t, refs[0], productivity_ref, cdf_ref, refs[1], refs[2])
                                for a in pool.actors]
                clock.lap("launch")
                partials = ray.get(stepping)
                clock.lap("wait")
                sup.settle(stepped=t)  # commit the checkpoint written in the background, when due
                totals = accounts.combine(partials)
                row = macro.economy.close(t, env, totals)
                row.update(accounts.distribution_row(totals))
                accounts.check_closed(t, row)
                macro.record(row, totals, accounts.snapshot(totals, quantiles) if t in snaps_at else None)
                clock.lap("close")
                if sup.due(macro.period):
                    sup.checkpoint(macro)
                    if capacity.changes:  # a grow is on record before the run goes on
                        prov.write(macro)
                clock.lap("checkpoint")
            except shard_lost_errors() as exc:  # a shard actor (or its node) died: restore and replay
                macro, built_from = sup.recover(exc, t), before
                prov.write(macro)
                clock.lap("recovery")
            except (MarketDidNotClear, accounts.AccountingError) as exc:  # the economy, not the machinery
                stopped = (t, exc)
                sup.settle()  # a checkpoint in flight is committed: a replay starts from it
                break
            progress(macro.period, time.perf_counter() - t0, shape.households)
    finally:
        progress.close()
        pool.kill()
        release_type_solvers()  # a driver keeps them for its next run, a task's run ends them
        capacity.release()
    seconds = time.perf_counter() - t0

    attrs = {
        "scenario": prov.scenario,
        "seed": cfg.seed,
        "households": shape.households,
        "periods_per_year": cfg.periods_per_year,
        "backend": cfg.backend.name,
    }
    if stopped is not None:
        raise _stopped(run_dir, prov, macro, quantiles, attrs, *stopped)
    ds = results.build_dataset(macro.rows, macro.snapshots, quantiles, attrs)
    results.write_results(ds, run_dir)
    prov.write(macro, seconds=seconds, loop_seconds=clock.report())
    steps = shape.households * cfg.periods
    return RunSummary(run_dir, cfg.periods, shape.households, seconds, steps / seconds,
                      final=macro.rows[-1], loop_seconds=clock.report(), solves=macro.policy.solves,
                      solver_iterations=macro.policy.iterations)


def _stopped(run_dir: Path, prov, macro, quantiles, attrs: dict, t: int, why: Exception) -> EconomyStopped:
    """Where the economy could not go on at period ``t``: the periods before it written as the
    run's results (what led there is what a user wants to see), provenance saying where and why
    (``stopped``; ``finished`` stays null), and the one line to report."""
    text = " ".join(str(why).split())
    reason = f"{type(why).__name__}: {text}"
    reached = "; no period was reached, so this run wrote no results"
    if macro.rows:  # the results say they end early too (attrs["stopped"]: sim.load_sweep leaves them out)
        ds = results.build_dataset(macro.rows, macro.snapshots, quantiles, {**attrs, "stopped": f"period {t}: {reason}"})
        results.write_results(ds, run_dir)
        reached = f"; periods 0-{len(macro.rows) - 1} are in {run_dir / 'results.zarr'} (sim report {run_dir})"
    prov.record["stopped"] = {"period": t, "reason": reason}
    prov.write(macro)
    return EconomyStopped((text if text.startswith(f"period {t}:") else f"period {t}: {text}") + reached, why)


class _Provenance:
    """provenance.json: written when the run starts (finished: null), after every recovery, and
    complete at the end. A resumed run keeps the original command and start time."""

    def __init__(self, cfg, run_dir: Path, command: str, shape: RunShape, sup, resume: bool,
                 scenario: str | None):
        self.cfg, self.run_dir, self.sup = cfg, run_dir, sup
        before = {}
        if resume and (run_dir / "provenance.json").is_file():
            try:
                before = json.loads((run_dir / "provenance.json").read_text())
            except ValueError:
                before = {}
        self.scenario = scenario or before.get("scenario") or _scenario_name(cfg)
        self.earlier_recoveries = before.get("recoveries", [])
        self.earlier_shape_changes = before.get("shape_changes", [])
        entry = {"command": command, "at": results.now_iso()}
        if before.get("stopped"):  # a replay of a run whose economy stopped: where it had stopped
            entry["after_stop"] = before["stopped"]
        self.record = {
            "command": before.get("command", command),
            "config": OmegaConf.to_container(cfg, resolve=True),
            "scenario": self.scenario,
            "seed": cfg.seed,
            "package_version": results.package_version(),
            "git_revision": code_revision(),
            "backend": cfg.backend.name,
            "shard_layout": [[s.lo, s.hi] for s in shape.shards],
            "block_size": shape.block_size,
            "python": sys.version.split()[0],
            "ray": ray.__version__,
            "started": before.get("started", results.now_iso()),
            "finished": None,
            "resumes": before.get("resumes", []) + ([entry] if resume else []),
        }
        self.write(None)

    def write(self, macro, seconds: float | None = None, loop_seconds: dict | None = None) -> None:
        if self.record["resumes"] and self.sup.restored_from is not None:
            self.record["resumes"][-1]["restored_from"] = self.sup.restored_from
        record = dict(self.record)
        record["recoveries"] = self.earlier_recoveries + self.sup.recoveries
        # every change in the number of shard actors (a node lost, capacity back): sim/capacity.py
        record["shape_changes"] = self.earlier_shape_changes + self.sup.capacity.changes
        record["checkpoint"] = self.sup.report()
        if seconds is not None:
            policy = macro.policy
            record.update(finished=results.now_iso(), seconds=seconds, household_solves=policy.solves,
                          solver_seconds=policy.solve_seconds, solver_iterations=policy.iterations,
                          loop_seconds=loop_seconds)
        results.write_provenance(self.run_dir, record)


def _scenario_name(cfg) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices.get("scenario", "custom")
    except ValueError:  # no Hydra runtime (library use)
        return str(OmegaConf.select(cfg, "scenario_name", default="custom"))


def code_revision() -> str | None:
    """The git revision of the code: the checkout's, else SIM_GIT_REVISION, which the Ray Job
    submitter sets (a job's working directory is shipped without .git)."""
    return results.git_revision() or os.environ.get("SIM_GIT_REVISION") or None


class _progress:
    """Periods done, household-steps/s and time left, on stderr: a tqdm bar on a terminal; where
    stderr is not one (a job log, a file), a plain line at every tenth of the periods (no ANSI
    codes, no carriage returns)."""

    STEPS = 10

    def __init__(self, cfg, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.enabled, self.bar = int(cfg.periods), bool(cfg.output.progress), None
        self.marks = sorted({math.ceil(self.total * k / self.STEPS) for k in range(1, self.STEPS + 1)})
        self.shown = 0  # periods done at the last plain line
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="period", file=self.stream,
                            desc=f"{int(cfg.population.households):,} households", dynamic_ncols=True)

    def __call__(self, done: int, elapsed: float, households: int):
        rate = done * households / max(elapsed, 1e-9) / 1e6
        if self.bar is not None:
            self.bar.update(done - self.bar.n)  # goes back after a recovery
            self.bar.set_postfix_str(f"{rate:.3g}M household-steps/s")
        elif self.enabled and done > self.shown and any(self.shown < m <= done for m in self.marks):
            left = elapsed / max(done, 1) * (self.total - done)
            print(f"period {done}/{self.total} ({done / self.total:.0%}), {rate:.3g}M household-steps/s, "
                  f"{left:.0f} s left", file=self.stream, flush=True)
            self.shown = done

    def close(self):
        if self.bar is not None:
            self.bar.close()
