"""A Hydra launcher that runs each job of a sweep (`sim run -m`) as a Ray task.

It keeps Hydra's multirun semantics and output layout (sweep dir, numbered job subdirs,
multirun.yaml) and runs the jobs in parallel on the Ray cluster the sweep is attached to: the local
one started here, RAY_ADDRESS, or ``hydra.launcher.address``. Job tasks take no CPU themselves
(``num_cpus: 0``): the CPUs belong to the shard actors each job creates, so jobs can never starve
their own actors.

A sweep re-run into the same sweep dir is resumable: a job keeps the numbered directory of the earlier
job with the same overrides (whatever position its values now have), where ``sim.app`` skips it if
finished; new configurations get new numbers. A failing job is recorded, the others finish, and the
sweep ends with one line per failed job and exit status 1.

Written for this project instead of hydra-ray-launcher, which pins cloudpickle<3 (conflicting with
joblib) and forces an object-store size that fails when attaching to a cluster.
"""
# (no `from __future__ import annotations`: Hydra execs plugin modules outside sys.modules,
# where dataclasses cannot resolve string annotations)

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import yaml

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import (JobReturn, JobStatus, configure_log, filter_overrides, run_job,
                              setup_globals)
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


@dataclass
class SimRayLauncherConf:
    _target_: str = "hydra_plugins.sim_ray_launcher.ray_launcher.SimRayLauncher"
    address: Optional[str] = None  # null: RAY_ADDRESS if set, else start a local Ray instance
    num_cpus: float = 0.0  # CPUs reserved by each job task (its actors reserve their own)
    max_parallel: int = 0  # 0: all jobs at once (Ray queues actors on free CPUs)


ConfigStore.instance().store(group="hydra/launcher", name="sim_ray", node=SimRayLauncherConf, provider="sim")


class JobExit(Exception):
    """A job's task called sys.exit (its reason is in the job's log)."""


def _run_one(hydra_context, task_function, sweep_config, singleton_state) -> JobReturn:
    setup_globals()
    Singleton.set_state(singleton_state)

    def task(cfg):
        # SystemExit would end the Ray worker (WorkerCrashedError for the whole sweep); as an
        # exception, Hydra records the job as failed and the other jobs go on
        try:
            return task_function(cfg)
        except SystemExit as exc:
            raise JobExit(f"exited with status {exc.code}") from None

    return run_job(hydra_context=hydra_context, task_function=task, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def earlier_jobs(sweep_dir: Path, output_subdir: Optional[str]) -> dict:
    """Job number of each numbered job directory already in sweep_dir, keyed by its sorted
    overrides (from <job>/<output_subdir>/overrides.yaml)."""
    found = {}
    if not sweep_dir.is_dir() or output_subdir is None:
        return found
    for job in sweep_dir.iterdir():
        record = job / output_subdir / "overrides.yaml"
        if job.name.isdigit() and record.is_file():
            found[tuple(sorted(yaml.safe_load(record.read_text()) or []))] = int(job.name)
    return found


def job_numbers(job_overrides: Sequence[Sequence[str]], earlier: dict, first_new: int) -> list:
    """A number per job: that of the earlier job with the same overrides, else the next unused one
    (from first_new), so a reordered sweep finds its finished jobs by configuration."""
    numbers, taken = [], set(earlier.values())
    fresh = max([first_new - 1, *taken]) + 1
    for overrides in job_overrides:
        number = earlier.get(tuple(sorted(overrides)))
        if number is None or number in numbers:
            number, fresh = fresh, fresh + 1
        numbers.append(number)
    return numbers


def failure(result) -> Optional[str]:
    """Why a job failed, in one line, or None if it did not (result: JobReturn or a Ray error)."""
    if isinstance(result, JobReturn):
        if result.status != JobStatus.FAILED:
            return None
        error = result._return_value
    else:
        error = result
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0]}" if lines[0] else type(error).__name__


class SimRayLauncher(Launcher):
    def __init__(self, address: Optional[str] = None, num_cpus: float = 0.0, max_parallel: int = 0):
        self.address, self.num_cpus, self.max_parallel = address, num_cpus, max_parallel
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        if not ray.is_initialized():
            from sim.coordinator import init_ray

            init_ray(self.address or os.environ.get("RAY_ADDRESS"), log_to_driver=True,
                     configure_logging=False)
        remote = ray.remote(num_cpus=self.num_cpus, max_retries=0)(_run_one)
        log.info(f"Launching {len(job_overrides)} jobs on Ray")
        state = Singleton.get_state()
        earlier = earlier_jobs(Path(str(self.config.hydra.sweep.dir)), self.config.hydra.output_subdir)
        numbers = job_numbers(job_overrides, earlier, initial_job_idx)
        refs = []
        for idx, overrides in zip(numbers, job_overrides):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
                cfg.hydra.job.num = idx
            if self.max_parallel and len(refs) >= self.max_parallel:
                # wait until no more than max_parallel - 1 jobs are still running
                ray.wait(refs, num_returns=len(refs) - self.max_parallel + 1)
            refs.append(remote.remote(self.hydra_context, self.task_function, cfg, state))
        results = []
        for ref in refs:
            try:
                results.append(ray.get(ref))
            except ray.exceptions.RayError as exc:  # the worker died (out of memory, killed, ...)
                results.append(exc)
        failed = [(idx, overrides, failure(r)) for idx, overrides, r in zip(numbers, job_overrides, results)
                  if failure(r)]
        if failed:
            lines = [f"  #{idx} {' '.join(filter_overrides(overrides))}: {why}" for idx, overrides, why in failed]
            log.error(f"{len(failed)} of {len(results)} jobs failed (the others finished; re-run the "
                      "same sweep to retry only these):\n" + "\n".join(lines))
            raise SystemExit(1)
        return results
