"""``sim calibrate``'s driver: differential evolution over Ray, journaled and resumable.

Each candidate theta is one full simulation of the base run with the parameters set to theta (the
project's own ``sim.coordinator.run``, in a Ray task that reserves no CPU: its shard actors reserve
their own, as ``sim fork``'s arms and the sweep launcher's jobs do). Its moments (sim/calibrate/
moments.py) give the loss L(theta) = sum_j w_j (m_j(theta) - d_j)^2 (sim/calibrate/targets.py).
Every candidate uses the same seed (common random numbers), so L moves with theta, not with noise.

The optimiser is scipy.optimize.differential_evolution, seeded, with ``updating="deferred"`` and
``workers=`` this module's map: a generation's candidates run in parallel, at most ``parallel``
at a time. Each finished candidate is appended to the journal (sim/calibrate/journal.py) in the
output directory; rerunning the same command replays the optimiser from its seed, takes every
journaled loss back without running it, and continues where it stopped: the candidates and the
best point are those of an uninterrupted calibration.
"""
from __future__ import annotations

import math
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from sim.calibrate import spec as specs
from sim.calibrate.journal import Journal, key
from sim.calibrate.moments import moments
from sim.calibrate.targets import loss
from sim.errors import ConfigError, EconomyStopped, RunError

# the loss of a candidate the model cannot run (an inadmissible combination, a solver that does not
# converge): far above any fit, finite so that the optimiser's convergence test stays defined
PENALTY = 1.0e6
CANDIDATES = "candidates"


def header(spec: specs.Spec, base: DictConfig) -> dict:
    """What a journal may only be continued with: the spec and the base run, less what cannot
    change a result (where it runs: ``cluster``; how many run at once: ``optimiser.parallel``)."""
    record = specs.as_record(spec)
    record.pop("run")  # its effect is the base run below
    record["optimiser"].pop("parallel")
    run = OmegaConf.to_container(base, resolve=True)
    run.pop("cluster")
    return {"spec": record, "base": run}


def _same_run(run_dir: Path, cfg: DictConfig) -> bool:
    """Whether run_dir holds a finished run of exactly cfg (cluster settings aside)."""
    from sim.resume import read_provenance

    try:
        record = read_provenance(run_dir)
    except ConfigError:
        return False
    if not record or not record.get("finished") or not (run_dir / "results.zarr").is_dir():
        return False
    want = OmegaConf.to_container(cfg, resolve=True)
    have = dict(record.get("config") or {})
    want.pop("cluster"), have.pop("cluster", None)
    return have == want


def evaluate(cfg: DictConfig, run_dir: Path, burn_in: int, command: str) -> dict:
    """Run one candidate (or reuse its finished run) and measure its moments; a Ray task.

    A candidate the model cannot simulate (the household solver fails) returns ``error``; a failure
    of the machinery (RunError, a lost node) propagates: the calibration stops, resumable."""
    import sim
    from sim.accounts import AccountingError
    from sim.coordinator import run

    started = time.perf_counter()
    simulated = False
    if not _same_run(run_dir, cfg):
        shutil.rmtree(run_dir, ignore_errors=True)  # a candidate cut short starts again
        try:
            run(cfg, run_dir, command=command)
        except EconomyStopped as exc:  # a market that cannot clear: the candidate's; accounts: a bug
            if isinstance(exc.reason, AccountingError):
                raise
            return {"error": " ".join(str(exc.reason or exc).split()), "seconds": time.perf_counter() - started,
                    "simulated": True}
        except (RunError, AccountingError):
            raise
        except RuntimeError as exc:
            return {"error": " ".join(str(exc).split()), "seconds": time.perf_counter() - started,
                    "simulated": True}
        simulated = True
    found, notes, extra = moments(sim.load(run_dir), burn_in)
    return {"moments": found, "notes": notes, "extra": extra, "simulated": simulated,
            "seconds": time.perf_counter() - started}


@dataclass
class Outcome:
    best: dict  # the journal entry of the best candidate
    evaluations: int  # candidates the optimiser asked for
    simulated: int  # of which simulated in this session (the rest came from the journal or a finished run)
    seconds: float
    message: str  # the optimiser's


class Evaluator:
    """The optimiser's ``workers=`` map: every candidate of a generation as a Ray task."""

    def __init__(self, spec: specs.Spec, base: DictConfig, out: Path, journal: Journal, log, parallel: int,
                 total: int):
        self.spec, self.base, self.out, self.journal, self.log = spec, base, out, journal, log
        self.parallel, self.total = parallel, total
        self.requested = 0  # candidates asked for so far: a candidate's number is its place in this order
        self.simulated = 0
        self.per_generation = population_size(spec)  # DE (deferred) asks whole generations, the first included
        self.remote = None

    def objective(self, x) -> float:  # the optimiser's func: evaluated through the map
        return self.map(None, [x])[0]

    def describe(self, x) -> str:
        return " ".join(f"{p.key}={v:.6g}" for p, v in zip(self.spec.parameters, x))

    def _entry(self, number: int, x, result: dict) -> dict:
        entry = {"n": number, "x": list(key(x)), "params": {p.key: float(v) for p, v in zip(self.spec.parameters, x)},
                 "seconds": round(float(result["seconds"]), 3), "generation": number // self.per_generation,
                 "run_dir": str(Path(CANDIDATES) / f"{number:04d}")}
        if "error" in result:
            return entry | {"loss": PENALTY, "error": result["error"], "moments": {}, "notes": {}}
        weights = dict(self.spec.targets)
        return entry | {"loss": loss(result["moments"], weights), "moments": result["moments"],
                        "notes": result["notes"], "extra": result["extra"]}

    def _submit(self, number: int, x):
        import ray

        try:
            cfg = specs.candidate_config(self.base, self.spec, x)
        except ConfigError as exc:  # an inadmissible combination: a finished candidate, no run
            return {"error": f"inadmissible: {exc}", "seconds": 0.0, "simulated": False}
        if self.remote is None:
            self.remote = ray.remote(num_cpus=0, max_retries=0)(evaluate)
        command = f"sim calibrate (candidate {number} of {self.out}): {self.describe(x)}"
        return self.remote.remote(cfg, self.out / CANDIDATES / f"{number:04d}", self.spec.burn_in, command)

    def _finish(self, number: int, x, result: dict) -> dict:
        entry = self._entry(number, x, result)
        self.journal.append(entry)
        self.simulated += bool(result.get("simulated"))
        best = self.journal.best()
        what = f"error: {entry['error']}" if "error" in entry else f"loss {entry['loss']:.6g}"
        self.log(f"[{len(self.journal.entries):>3}/{self.total}] candidate {number}: {self.describe(x)}  "
                 f"{what}  (best {best['loss']:.6g}; {entry['seconds']:.1f} s)")
        return entry

    def map(self, _func, xs) -> list[float]:
        import ray

        xs = [np.asarray(x, dtype=float) for x in xs]
        losses: list[float | None] = [None] * len(xs)
        waiting = deque()
        twins: dict[tuple, list[int]] = {}  # a vector asked twice in one generation runs once
        for i, x in enumerate(xs):
            number = self.requested
            self.requested += 1
            entry = self.journal.get(x)
            if entry is not None:
                losses[i] = entry["loss"]
            elif key(x) in twins:
                twins[key(x)].append(i)
            else:
                twins[key(x)] = [i]
                waiting.append((i, number, x))
        flying: dict = {}
        while waiting or flying:
            while waiting and len(flying) < self.parallel:
                i, number, x = waiting.popleft()
                ref = self._submit(number, x)
                if isinstance(ref, dict):  # decided without a run
                    self._finish(number, x, ref)
                else:
                    flying[ref] = (i, number, x)
            if flying:
                done, _ = ray.wait(list(flying), num_returns=1)
                i, number, x = flying.pop(done[0])
                self._finish(number, x, ray.get(done[0]))
        for places in twins.values():
            for i in places:
                losses[i] = self.journal.get(xs[places[0]])["loss"]
        return [float(v) for v in losses]

    def on_generation(self, intermediate_result) -> None:
        """scipy's callback, after each generation that follows the initial population (0)."""
        generation = self.requested // self.per_generation - 1
        self.log(f"generation {generation} done: best loss {intermediate_result.fun:.6g} at "
                 f"{self.describe(intermediate_result.x)}")


def population_size(spec: specs.Spec) -> int:
    """Candidates per generation: scipy's max(5, popsize x parameters)."""
    return max(5, spec.optimiser.popsize * len(spec.parameters))


def default_parallel(base: DictConfig) -> int:
    """Candidates that fit the cluster at once: its CPUs over one candidate's actors' CPUs."""
    import ray

    cpus = ray.cluster_resources().get("CPU", 1.0)
    each = base.cluster.actors * (base.cluster.cpus_per_actor or 1.0)
    return max(1, int(cpus // each))


def calibrate(spec: specs.Spec, base: DictConfig, out: Path, log=None) -> Outcome:
    """Run (or continue) the calibration in ``out``; the best candidate and what it took."""
    from scipy.optimize import differential_evolution

    from sim.coordinator import connect_ray

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(out)
    journal = Journal(out / "journal.jsonl", header(spec, base))
    connect_ray(base.cluster)
    o = spec.optimiser
    parallel = o.parallel or default_parallel(base)
    total = population_size(spec) * (o.maxiter + 1)
    if journal.entries:
        log(f"continuing {out}: {len(journal.entries)} candidates in its journal")
    log(f"calibrating {', '.join(p.key for p in spec.parameters)}: at most {total} candidates "
        f"({population_size(spec)} per generation x {o.maxiter + 1}), {parallel} at a time")
    evaluator = Evaluator(spec, base, out, journal, log, parallel, total)
    started = time.perf_counter()
    mutation = tuple(o.mutation) if len(o.mutation) == 2 else o.mutation[0]
    result = differential_evolution(
        evaluator.objective, [(p.low, p.high) for p in spec.parameters],
        x0=[specs.start_value(p, base) for p in spec.parameters],  # warm start: replaces a member
        rng=o.seed, popsize=o.popsize, maxiter=o.maxiter, tol=o.tol, mutation=mutation,
        recombination=o.recombination, polish=False, updating="deferred", workers=evaluator.map,
        callback=evaluator.on_generation, init="latinhypercube")
    best = journal.get(result.x) or journal.best()
    if not math.isfinite(best["loss"]) or best["loss"] >= PENALTY:
        raise RunError("no candidate could be simulated (every one failed); see the journal's errors")
    return Outcome(best, evaluator.requested, evaluator.simulated, time.perf_counter() - started,
                   str(result.message))
