"""The discount-factor types' household problems, solved in parallel on Ray.

With ``household.types.count`` = n > 1 each period has n problems that differ only in beta
(``sim.environment.discount_factors``). They are independent, so where Ray is initialised (the
coordinator always runs inside Ray) they are spread over a few solver actors and gathered in type
order; otherwise, or with one type, they are solved one after another in this process.

Actors, not tasks: a task's worker process is a fresh one whenever Ray has retired the last (it
keeps few idle workers on a small node), and importing the solver and loading its compiled code
there took seconds per period, far more than the solve. An actor is a process kept, in a driver,
for as long as its Ray job: a later run in the same process (a script's or a notebook's runs one
after another, the test session) reuses the warm pool instead of starting new actors (about 1.4 s
of a calibrated run on two cores); Ray ends them with their owner, at ``ray.shutdown`` or when the
process exits. A run hosted by a Ray task (a fork's or an experiment's arm, a sweep's job, ``sim
calibrate``'s candidate) ends its pool with it (``release_in_task``): an idle worker would
otherwise hold it, a few Python processes' memory, until the whole job ends. A kept pool whose
actor has died since (beyond its one restart) is replaced once and the round solved again; actors
made for the round that die stop the run with one line (``RunError``). Pool size: min(n, this
machine's cores); actor k solves types k, k + P, ... in one call (one round trip an actor, not one
a type: the default run's solve rounds, 10^6 x 40, took 7.3-7.6 s against 8.8-8.9 s with a call a
type).

The answer does not depend on any of this: every actor runs the same ``solve_household`` on the
same problem and warm start, and the actors are pinned to this process's node (hard node
affinity), so they run on the CPU the serial solve would run on (NumPy and Numba pick their SIMD
code by CPU, so another node's could round differently in the last bit). They ask for no CPU
(``num_cpus=0``): the shard actors hold the cluster's CPUs for the whole run but are idle while
the coordinator solves, and an actor that waited for a CPU they hold would wait for ever.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from sim.errors import RunError


def type_problems(problem, betas: np.ndarray) -> list:
    """The types' problems: ``problem`` at each discount factor beta_j (everything else shared,
    what is derived from it too: ``HouseholdProblem.with_beta``)."""
    return [problem.with_beta(float(b)) for b in betas]


def _solve(problem, tol: float, guess, forecast=None):
    from sim.solver.household import solve_household

    return solve_household(problem, tol=tol, guess=guess, forecast=forecast)


class _Solver:
    """A solver process kept warm for this process's Ray job (a Ray actor: ``_pool``)."""

    def solve_each(self, work: list, tol: float) -> list:
        """Each ``(problem, guess, forecast)`` of ``work`` solved in turn: one call, and one
        round trip, for all the types this actor solves."""
        return [_solve(problem, tol, guess, forecast) for problem, guess, forecast in work]

    def warm(self) -> None:
        """Import the solver and load its compiled loops (Numba's disk cache): a second or two
        of a fresh process, better spent while the shards start than in the first period."""
        from sim.solver.household import default_problem

        _solve(default_problem(grid_points=20), 1e-3, None)


_POOL: dict = {"owner": None, "actors": []}


def _on_ray(types: int) -> bool:
    """Whether ``types`` problems are solved on Ray: more than one, and Ray initialised in this
    process (it is not imported here where nobody started it: ``sim.serial``, a machine without it)."""
    ray = sys.modules.get("ray")
    return types > 1 and ray is not None and ray.is_initialized()


def _pool(types: int) -> list:
    """The solver actors for ``types`` problems, min(types, cores) of them, on this node; made once
    per Ray job and node (a new local cluster numbers its jobs from 1 again, but its node is new),
    each told to load the solver as it is made (``_Solver.warm``: no wait)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    context = ray.get_runtime_context()
    owner = (context.get_job_id(), context.get_node_id())
    if _POOL["owner"] != owner:
        _POOL.update(owner=owner, actors=[])
    actors, size = _POOL["actors"], min(types, os.cpu_count() or 1)
    if len(actors) < size:
        here = NodeAffinitySchedulingStrategy(context.get_node_id(), soft=False)
        make = ray.remote(num_cpus=0, max_restarts=1, max_task_retries=1)(_Solver).options(scheduling_strategy=here)
        made = [make.remote() for _ in range(size - len(actors))]
        for actor in made:
            actor.warm.remote()
        actors.extend(made)
    return actors[:size]


def start(count: int) -> None:
    """Start the solver actors for ``count`` types now, where Ray runs and there is more than one
    type, and have them load the solver while the caller goes on (no wait)."""
    if _on_ray(count):
        _pool(count)  # a kept pool's actors are warm already; new ones load the solver as they start


def release_in_task() -> None:
    """The end of a run: a Ray task's run ends its solver actors (``close``); a driver's keeps
    them for its next run (module docstring)."""
    ray = sys.modules.get("ray")
    # a task's process runs in WORKER_MODE, a driver's in SCRIPT_MODE (get_task_id() would log a
    # warning in a driver)
    if ray is not None and ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE:
        close()


def close() -> None:
    """End the solver actors now; the next parallel solve starts new ones."""
    import ray

    for actor in _POOL["actors"]:
        try:
            ray.kill(actor)
        except Exception:  # already gone, or Ray shut down
            pass
    _POOL.update(owner=None, actors=[])


def solve_types(problems: list, tol: float, guesses: list, parallel: bool | None = None,
                forecasts: list | None = None) -> list:
    """Each problem solved to ``tol`` from its warm start (``guesses[j]``, or None, and
    ``forecasts[j]``, or None: ``solve_household``'s two starts), in type order.

    ``parallel``: on Ray solver actors (True), in this process (False), or on Ray when it is
    initialised and there is more than one problem (None). The results are the same bits."""
    if parallel is None:
        parallel = _on_ray(len(problems))
    forecasts = forecasts or [None] * len(problems)
    work = list(zip(problems, guesses, forecasts, strict=True))
    if not parallel:
        return [_solve(p, tol, g, f) for p, g, f in work]
    import ray

    while True:
        owner, had = _POOL["owner"], len(_POOL["actors"])
        actors = _pool(len(problems))
        kept = _POOL["owner"] == owner and had >= len(actors)  # all made by an earlier round or run
        try:
            # actor k solves types k, k + P, ... in one call (one round trip each, not one per type)
            parts = ray.get([actor.solve_each.remote(work[k::len(actors)], tol) for k, actor in enumerate(actors)])
            break
        except ray.exceptions.RayActorError as exc:
            close()
            if not kept:  # solver actors made for this round died: not a stale pool, say so
                raise RunError(f"the household solver actors died while solving {len(problems)} types "
                               f"({type(exc).__name__}); the node may be out of memory: lower "
                               "household.grid_points or household.types.count, or free memory, then "
                               "sim resume RUN_DIR") from exc
            # an actor of a kept pool has died since (beyond its restart): a new pool solves the
            # same problems again, the same bits
    return [parts[j % len(actors)][j // len(actors)] for j in range(len(problems))]


def stack_tables(solutions: list, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' tables, (types, states, grid points): type j's policy on ``grid`` at [j]."""
    on_grid = [s.on_grid(grid) for s in solutions]
    return (np.ascontiguousarray(np.stack([c for c, _ in on_grid])),
            np.ascontiguousarray(np.stack([share for _, share in on_grid])))
