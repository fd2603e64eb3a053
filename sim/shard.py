"""The shard actor: owns households [lo, hi) and advances them one period per call.

Household state never leaves the actor except to a checkpoint; per period it receives a small
parameter vector and the policy tables and returns per-block partial aggregates. The class is plain
Python (testable without Ray); ``ShardActor`` is its Ray actor form. Actors know nothing of what the
parameters mean in policy terms: that lives on the coordinator.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from kernels import get_step
from kernels import schema
from kernels.initial import initial_state
from kernels.step_numpy import Partials
from sim.checkpoint.households import read_region, write_region
from sim.layout import Shard
from sim.opening_wealth import block_sums


class HouseholdShard:
    def __init__(self, shard: Shard, block_size: int, backend: str, key: int):
        if shard.lo % block_size:
            raise ValueError(f"shard {shard.index} starts at {shard.lo}, not a block boundary")
        self.shard, self.block_size, self.backend, self.key = shard, block_size, backend, key
        self._step = get_step(backend)
        self.state: dict[str, np.ndarray] | None = None
        self.types = 0  # 1 + the largest type index among the households (the tables they need)
        # the price search's tries (try_step): the state at the start of the period they try, and
        # the try whose step is held until it is kept or put back
        self._period_start: dict | None = None
        self._start_of: int | None = None  # the period whose start _period_start holds
        self._tried: tuple[int, Partials] | None = None
        self._writer: tuple[threading.Thread, dict] | None = None  # a checkpoint write in flight

    def pid(self) -> int:
        """Process id (tests kill it to simulate a crash)."""
        return os.getpid()

    def check_memory(self) -> None:
        """Refuse, before allocating, a shard that cannot fit this node's memory (or GPU)."""
        import psutil

        from kernels import PEAK_DEVICE_BYTES_PER_HOUSEHOLD, PEAK_HOST_BYTES_PER_HOUSEHOLD

        size, i = self.shard.size, self.shard.index
        need = size * PEAK_HOST_BYTES_PER_HOUSEHOLD[self.backend]
        free = psutil.virtual_memory().available
        if need > 0.8 * free:
            raise MemoryError(f"shard {i} needs about {need / 2**30:.1f} GiB for {size:,} households but its "
                              f"node has {free / 2**30:.1f} GiB free: raise cluster.actors or lower "
                              "population.households")
        if self.backend == "cupy":
            import cupy as cp

            free_dev, _ = cp.cuda.runtime.memGetInfo()
            need = size * PEAK_DEVICE_BYTES_PER_HOUSEHOLD
            if need > 0.9 * free_dev:
                raise MemoryError(f"shard {i} needs about {need / 2**30:.1f} GiB of GPU memory for {size:,} "
                                  f"households but the GPU has {free_dev / 2**30:.1f} GiB free: raise "
                                  "cluster.actors or lower population.households")

    def initialise(self, wealth_mean, risky_share, unemployment, automation, stationary, types: int = 1,
                   wealth_table=None) -> int:
        """Draw the shard's households' opening state (``kernels.initial.initial_state``;
        ``wealth_table``: a ``sim.opening_wealth.WealthTable``, or None for the exponential draw)."""
        self.check_memory()
        table = None if wealth_table is None else (wealth_table.grid, wealth_table.cdf)
        self.state = initial_state(self.shard.lo, self.shard.size, self.key, wealth_mean,
                                   risky_share, unemployment, automation, np.asarray(stationary), types, table)
        self.types = int(self.state["type"].max(initial=0)) + 1
        if self.backend == "cupy":
            import cupy as cp

            self.state = {k: cp.asarray(v) for k, v in self.state.items()}
        self._forget_tries()
        return self.shard.size

    def opening_sums(self, wealth_table, risky_share, unemployment, stationary) -> list[float]:
        """Each of this shard's blocks' opening wealth drawn from ``wealth_table``, not yet scaled to
        its draws (``sim.opening_wealth.block_sums``): the coordinator adds every shard's in block
        order and scales the table so that the population's draws sum to the balance sheet's."""
        return block_sums(wealth_table, self.shard.lo, self.shard.hi, self.block_size, self.key,
                          risky_share, unemployment, np.asarray(stationary))

    def step(self, period: int, params, productivity, transition_cdf, c_table, share_table) -> Partials:
        if self.state is None:
            raise RuntimeError(f"shard {self.shard.index} stepped before initialise()")
        tables = 1 if np.ndim(c_table) == 2 else np.shape(c_table)[0]
        if tables < self.types:  # the fused and GPU kernels would read past the tables
            raise ValueError(f"shard {self.shard.index}: its households have {self.types} types but the "
                             f"policy has {tables} table(s) (household.types.count)")
        self._put_back(period)
        self._start_of = None
        return self._step(self.state, self.shard.lo, period, self.key, params, productivity,
                          transition_cdf, c_table, share_table, self.block_size)

    def try_step(self, period: int, params, productivity, transition_cdf, c_table, share_table) -> np.ndarray:
        """The households' equity demand at one candidate price, found by stepping them at it: the
        per-block sums of their end-of-period risky holdings k' (goods), an array (n_blocks, 1).

        The step is held, not committed: the next try of the period first puts the state back as
        it was at the period's start (a copy taken at its first try), and so does ``step``; ``keep_step``
        commits it instead. So the candidate the price search settles on, usually its last, is
        not stepped twice, and what the market cleared on is the step's own sum. A try costs a
        step and a copy of the state (23 bytes a household)."""
        if self.state is None:
            raise RuntimeError(f"shard {self.shard.index} asked for demand before initialise()")
        self._put_back(period)
        if self._start_of != period:
            if self._period_start is None:
                self._period_start = {k: v.copy() for k, v in self.state.items()}
            else:
                for k, v in self.state.items():
                    self._period_start[k][...] = v
            self._start_of = period
        try:
            partials = self.step(period, params, productivity, transition_cdf, c_table, share_table)
        except BaseException:  # a step that failed part-way leaves no half-stepped state behind
            self._restore_period_start()
            raise
        self._start_of, self._tried = period, (period, partials)
        return partials.aggregates[:, [schema.A_RISKY_END]].copy()

    def keep_step(self, period: int) -> Partials:
        """Commit the step of the last ``try_step`` of ``period`` and return its partials."""
        if self._tried is None or self._tried[0] != period:
            raise RuntimeError(f"shard {self.shard.index}: no step of period {period} was tried")
        (_, partials), self._tried, self._start_of = self._tried, None, None
        return partials

    def _put_back(self, period: int) -> None:
        """Undo a try's step, if one is held: the state as it was at the start of the period."""
        if self._tried is None:
            return
        if self._tried[0] != period:
            raise RuntimeError(f"shard {self.shard.index}: a try of period {self._tried[0]} is held at "
                               f"period {period}")
        self._restore_period_start()
        self._tried = None

    def _restore_period_start(self) -> None:
        for k, v in self.state.items():  # in place: the arrays the kernels step (host or device)
            v[...] = self._period_start[k]

    def _forget_tries(self) -> None:
        self._period_start, self._start_of, self._tried = None, None, None

    def get_state(self) -> dict[str, np.ndarray]:
        """A host copy of the state (tests and checkpoints)."""
        if self.backend == "cupy":
            return {k: v.get() for k, v in self.state.items()}
        return {k: v.copy() for k, v in self.state.items()}

    def begin_checkpoint(self, root, name: str) -> None:
        """Snapshot this shard's households and write them into checkpoint ``name``
        (sim.checkpoint.households) on a background thread, so the next periods are stepped while
        it is written. Returns once the snapshot is taken; ``finish_checkpoint`` waits for the
        write."""
        if self._writer is not None:
            raise RuntimeError(f"shard {self.shard.index}: a checkpoint write is already in flight")
        if self._tried is not None:
            raise RuntimeError(f"shard {self.shard.index}: checkpoint asked while a try of period "
                               f"{self._tried[0]} is held")
        snapshot = self.get_state()  # a copy: the next step updates self.state in place
        outcome: dict = {}

        def write() -> None:
            t0 = time.perf_counter()
            try:
                outcome["result"] = write_region(root, name, self.shard.lo, snapshot, self.block_size)
                outcome["result"]["seconds"] = time.perf_counter() - t0
            except BaseException as exc:  # handed to finish_checkpoint, which raises it
                outcome["error"] = exc

        thread = threading.Thread(target=write, name=f"checkpoint-{name}", daemon=True)
        thread.start()
        self._writer = (thread, outcome)

    def finish_checkpoint(self) -> dict:
        """Wait for the write ``begin_checkpoint`` started; return the CRC-32 of each chunk written
        (for the coordinator's manifest) and the write's duration, or raise what it raised."""
        if self._writer is None:
            raise RuntimeError(f"shard {self.shard.index}: no checkpoint write in flight")
        (thread, outcome), self._writer = self._writer, None
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def load_checkpoint(self, root, name: str, arrays: dict) -> list[str]:
        """Replace the state with this shard's households from checkpoint ``name``, verified against
        the manifest's checksums. Returns the problems found (state untouched) or []."""
        state, problems = read_region(root, name, self.shard.lo, self.shard.hi, self.block_size, arrays)
        if problems:
            return [f"shard {self.shard.index}: {p}" for p in problems]
        self.types = int(state["type"].max(initial=0)) + 1
        if self.backend == "cupy":
            import cupy as cp

            state = {k: cp.asarray(v) for k, v in state.items()}
        self.state = state
        self._forget_tries()
        return []


def __getattr__(name):
    """``ShardActor``, the Ray actor form of :class:`HouseholdShard`, made on first use: Ray is
    imported only where actors are made, so ``sim.serial`` steps a shard where Ray is absent (a GPU
    machine without it, issue 20)."""
    if name == "ShardActor":
        import ray

        globals()["ShardActor"] = actor = ray.remote(HouseholdShard)
        return actor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
