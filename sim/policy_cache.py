"""The household policy the kernels read, re-solved only when the perceived environment changed.

Shared by the distributed step loop (``sim.coordinator``) and the one-process loop
(``sim.serial``); it needs no Ray (the types' solves use Ray solver actors only where Ray runs).
"""
from __future__ import annotations

import time

import numpy as np

from kernels.step_numpy import kernel_grid
from sim.environment import discount_factors
from sim.household_types import solve_types, stack_tables, type_problems
from sim.solver.egm import EgmMap
from sim.solver.forecast import environment, forecast_path, keep, secant_forecast


class PolicyCache:
    """Solves the household problem when the perceived environment changed, warm-started from the
    last solution; returns the tables the kernels read.

    Warm start (time iteration from the previous fixed point): period t's solve starts from period
    t-1's policy, so when the environment moved little it needs about half the iterations of a
    cold start (docs/solver.md, "Warm starts"). Same tolerance, so the same answers within the
    solver's error bound; but the bits of period t's tables depend on period t-1's solution, which
    is why that solution is part of :meth:`state_dict` (the checkpoint's macro state): a run
    restored from a checkpoint warm-starts from exactly what the uninterrupted run had.

    Forecast: the solve may start instead from a forecast of the fixed point, a multi-secant
    step from recent solves' environments and solutions (the path of the last periods for a
    period's first solve, the last few solves for its later candidate prices:
    :func:`sim.solver.forecast.forecast_path`), where that is closer to its own update; about half
    the iterations again (docs/solver.md, "Warm starts"). Those solves, with their periods, are in
    :meth:`state_dict` too.

    Discount-factor types (``household.types``): one problem per type, at its beta, each
    warm-started from its own last solution, solved in parallel on Ray solver actors
    (``sim.household_types``); the tables are (types, states, grid points).
    """

    def __init__(self, hh_cfg):
        self.hh_cfg = hh_cfg
        self.grid = kernel_grid(-float(hh_cfg.borrowing_limit), float(hh_cfg.kernel_grid_max),
                                int(hh_cfg.kernel_grid_points))
        self.betas = discount_factors(hh_cfg)
        self._key = None
        self._solutions = None  # one per type
        self._tables = None
        self._history = [[] for _ in self.betas]  # per type: (period, environment, variables), oldest first
        self.solves = 0
        self.iterations = 0  # EGM iterations over all solves
        self.solve_seconds = 0.0

    @staticmethod
    def _problem_key(problem) -> tuple:
        from dataclasses import fields

        return tuple(np.asarray(getattr(problem, f.name)).tobytes() for f in fields(problem))

    def tables(self, problem, t: int) -> tuple[np.ndarray, np.ndarray]:
        """The policy tables (types, states, grid points) for ``problem`` (at household.beta),
        re-solved when it changed and a re-solve is due."""
        key = self._problem_key(problem)
        due = t % int(self.hh_cfg.resolve_every) == 0
        if self._tables is None or (due and key != self._key):
            start = time.perf_counter()
            guesses = self._solutions or [None] * len(self.betas)
            theta = environment(problem)
            problems = type_problems(problem, self.betas)
            paths = [forecast_path(h, t) for h in self._history]
            forecasts = [secant_forecast(path, theta, depth=len(path) - 1) for path in paths]
            self._solutions = solve_types(problems, float(self.hh_cfg.tolerance), guesses, forecasts=forecasts)
            for history, p, solution in zip(self._history, problems, self._solutions):
                history.append((t, theta, EgmMap(p).variables(solution)))
                history[:] = keep(history, t)
            self._tables = stack_tables(self._solutions, self.grid)
            self._key = key
            self.solve_seconds += time.perf_counter() - start
            self.solves += len(self._solutions)
            self.iterations += sum(s.iterations for s in self._solutions)
        return self._tables

    def state_dict(self) -> dict:
        """What a checkpoint keeps: the last solutions seed the next solves, so restoring them
        (rather than solving afresh) keeps a restarted run bit-identical."""
        return {"key": self._key, "solutions": self._solutions, "tables": self._tables,
                "history": [[list(entry) for entry in h] for h in self._history],
                "solves": self.solves, "iterations": self.iterations, "solve_seconds": self.solve_seconds}

    def load_state_dict(self, state: dict) -> None:
        self._key, self._solutions, self._tables = state["key"], state["solutions"], state["tables"]
        # absent in checkpoints written before the forecast; entries without their period (theta,
        # x: written before the forecast followed the periods) are dropped. Either way the next
        # solves start from the stored solution
        self._history = [[tuple(entry) for entry in h if len(entry) == 3]
                         for h in state.get("history", [[] for _ in self.betas])]
        self.solves, self.solve_seconds = state["solves"], state["solve_seconds"]
        self.iterations = state.get("iterations", 0)  # absent in checkpoints written before it
