"""A Hydra launcher that runs each job of a sweep (`sim run -m`) as a Ray task.

It keeps Hydra's multirun semantics and output layout (sweep dir, numbered job subdirs,
multirun.yaml) and runs the jobs in parallel on the Ray cluster the sweep is attached to: the local
one started here, RAY_ADDRESS, or ``hydra.launcher.address``. Job tasks take no CPU themselves
(``num_cpus: 0``): the CPUs belong to the shard actors each job creates, so jobs can never starve
their own actors. Finished jobs are skipped when a sweep is re-run into the same sweep dir (see
``sim.app``), which makes a sweep resumable.

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

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
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


def _run_one(hydra_context, task_function, sweep_config, singleton_state) -> JobReturn:
    setup_globals()
    Singleton.set_state(singleton_state)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


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
        refs = []
        for offset, overrides in enumerate(job_overrides):
            idx = initial_job_idx + offset
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
                cfg.hydra.job.num = idx
            if self.max_parallel and len(refs) >= self.max_parallel:
                # wait until no more than max_parallel - 1 jobs are still running
                ray.wait(refs, num_returns=len(refs) - self.max_parallel + 1)
            refs.append(remote.remote(self.hydra_context, self.task_function, cfg, state))
        return ray.get(refs)
