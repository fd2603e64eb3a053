"""The discount-factor types' household problems, solved in parallel as Ray tasks.

With ``household.types.count`` = n > 1 each period has n problems that differ only in beta
(``sim.environment.discount_factors``). They are independent, so where Ray is initialised (the
coordinator always runs inside Ray) each is one Ray task, gathered in type order; otherwise, or
with one type, they are solved one after another in this process.

The answer does not depend on which: a task runs the same ``solve_household`` on the same problem
and warm start, and the tasks are pinned to this process's node (hard node affinity), so they run
on the CPU the serial solve would run on (NumPy and Numba pick their SIMD code by CPU, so another
node's CPU could round differently in the last bit). They ask for no CPU (``num_cpus=0``): the
shard actors hold the cluster's CPUs for the whole run but are idle while the coordinator solves,
and a task that waited for a CPU the actors hold would wait for ever. The parallelism is therefore
this node's cores; the wall time of a period's solve is one problem's where it has n free cores.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np


def type_problems(problem, betas: np.ndarray) -> list:
    """The types' problems: ``problem`` at each discount factor beta_j (everything else shared)."""
    return [replace(problem, beta=float(b)) for b in betas]


def _solve(problem, tol: float, guess):
    from sim.solver.household import solve_household

    return solve_household(problem, tol=tol, guess=guess)


_remote = None


def _remote_solve():
    global _remote
    if _remote is None:
        import ray

        _remote = ray.remote(num_cpus=0, max_retries=3)(_solve)
    return _remote


def solve_types(problems: list, tol: float, guesses: list, parallel: bool | None = None) -> list:
    """Each problem solved to ``tol`` from its warm start (``guesses[j]``, or None), in type order.

    ``parallel``: Ray tasks (True), this process (False), or Ray tasks when Ray is initialised and
    there is more than one problem (None). The results are the same bits either way."""
    if parallel is None:
        import ray

        parallel = len(problems) > 1 and ray.is_initialized()
    if not parallel:
        return [_solve(p, tol, g) for p, g in zip(problems, guesses, strict=True)]
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    task = _remote_solve().options(scheduling_strategy=here)
    return ray.get([task.remote(p, tol, g) for p, g in zip(problems, guesses, strict=True)])


def stack_tables(solutions: list, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' tables, (types, states, grid points): type j's policy on ``grid`` at [j]."""
    on_grid = [s.on_grid(grid) for s in solutions]
    return (np.ascontiguousarray(np.stack([c for c, _ in on_grid])),
            np.ascontiguousarray(np.stack([share for _, share in on_grid])))
