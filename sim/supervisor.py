"""The recovery policy (coordinator side): checkpoint the run, and bring it back when a shard
actor or the driver died (docs/design.md, "Checkpoints and restart"; docs/checkpoints.md).

Commit protocol: the coordinator creates the checkpoint's group and empty arrays (metadata only),
every shard actor snapshots its households and writes its region straight to the store on a
background thread (whole chunks: shards start on block boundaries and chunk = block) while the next
period is stepped, the coordinator writes the macro state; half an interval later
(``Supervisor.settle``) it collects the CRC-32 of each of their chunks and writes the manifest, and
only then prunes older checkpoints down to ``checkpoint.keep``. A shard lost while a checkpoint is
in flight loses that checkpoint, never an older one.

Recovery: when a shard actor dies (``RayActorError``), the :class:`Supervisor` kills the other
actors, starts fresh ones and has every shard load the newest committed checkpoint whose checksums
verify (each shard reads and checks only its own chunks), falling back to older ones and finally to
the initial state. Random numbers are counter-based, so replaying from any of these gives the same
results, bit for bit. ``sim resume RUN_DIR`` uses the same path after a driver died.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable

from sim.checkpoint.macro_state import MacroState
from sim.checkpoint.store import CheckpointStore, Entry, one_line
from sim.errors import RunError, StoreFailure
from sim.shard_pool import ShardPool


def shard_lost_errors() -> tuple[type[BaseException], ...]:
    """What Ray raises when a shard actor is gone: the actor's own death, or, when its whole node
    went, the loss of the step results that lived there (``ObjectLostError`` and its kinds)."""
    import ray

    return ray.exceptions.RayActorError, ray.exceptions.ObjectLostError

# checkpoint events (commits, corrupt checkpoints skipped, recoveries) share one logger
log = logging.getLogger("sim.checkpoint")


class RecoveryError(RunError):
    """Shard actors kept dying: more than checkpoint.max_recoveries recoveries."""

    resumable = True


class Supervisor:
    """Checkpoints the run and brings it back after a shard actor or the driver died."""

    def __init__(self, pool: ShardPool, store: CheckpointStore | None, new_macro: Callable[[], MacroState], *,
                 households: int, block_size: int, periods: int, every: int, max_recoveries: int,
                 meta: dict | None = None, on_event: Callable | None = None, capacity=None):
        self.pool, self.store, self.new_macro = pool, store, new_macro
        self.capacity = capacity  # sim.capacity.ActorCapacity: shrink after a lost node, grow back
        self.households, self.block_size, self.periods = households, block_size, periods
        self.every, self.max_recoveries = every, max_recoveries
        self.meta, self.on_event = dict(meta or {}), on_event
        self.recoveries: list[dict] = []
        self.skipped: list[dict] = []
        self.restored_from: dict | None = None
        self.commits: list[dict] = []
        self._phase, self._phase_period = "step", 0
        self.own: set[str] = set()  # checkpoints this run committed or resumed from
        self._warned: set[str] = set()
        self._load_seconds = 0.0
        self._pending: dict | None = None  # the checkpoint being written, until settle() commits it

    # the step loop calls these
    def notify(self, event: str, period: int) -> None:
        """Observers (tests inject faults here): event 'period' before a period is stepped,
        'checkpoint' once a checkpoint's arrays exist and before the shards snapshot and write."""
        if self.on_event is not None:
            self.on_event(event, period, list(self.pool.actors))

    def due(self, period: int) -> bool:
        return self.store is not None and self.every > 0 and period % self.every == 0 and period < self.periods

    def start(self, resume: bool) -> MacroState:
        try:
            if resume:
                macro, entry = self._restore(resume=True)
                self.restored_from = {"period": macro.period, "checkpoint": entry.name if entry else None}
                if entry is not None:
                    self.own.add(entry.name)
                log.info("resuming at period %d (%s)", macro.period, entry.name if entry else "initial state")
                return macro
            self.pool.start()
            self.pool.initialise()
            return self.new_macro()
        except shard_lost_errors() as exc:
            return self.recover(exc, 0)

    def checkpoint(self, macro: MacroState) -> None:
        """Begin a checkpoint of the state after period ``macro.period - 1``: the shards snapshot
        their households and write them in the background while the run goes on (the state is a
        few bytes per household, so the snapshot costs little next to a period); ``settle``
        commits it right after period ``min(macro.period + max(1, every // 2) - 1, periods - 1)``
        is stepped (half an interval for the writes; never after the run's last period). A shard
        lost after the commit finds the checkpoint, one lost before it the previous one (so the
        longest replay is ``every + max(1, every // 2) - 1`` periods); which one does not depend
        on timing. At most one checkpoint is in flight."""
        self.settle()
        self._phase, self._phase_period = "checkpoint", macro.period
        t0 = time.perf_counter()
        store, timeout = self.store, self.store.io_timeout_s
        name = store.io(f"creating checkpoint of period {macro.period}", store.begin, macro.period,
                        self.households, self.block_size)
        with self._discard_on_failure(name):
            self.notify("checkpoint", macro.period)
            self.pool.begin_write(store.root, name, timeout)
            macro_files = macro.to_files()
            store.io(f"writing checkpoint {name}", store.put_macro, name, macro_files)
        self._pending = {"name": name, "period": macro.period, "macro_files": macro_files,
                         "seconds": time.perf_counter() - t0,
                         "commit_by": min(macro.period + max(1, self.every // 2) - 1, self.periods - 1)}
        self._phase = "step"
        if self.capacity is not None and self.capacity.room_to_grow():
            self._grow(macro)

    def settle(self, stepped: int | None = None) -> None:
        """Commit the checkpoint in flight, if any: wait for the shards' writes (normally long
        done), write the manifest, prune older checkpoints. After period ``stepped`` only when
        that is the checkpoint's commit period; with no period, now."""
        pending = self._pending
        if pending is None or (stepped is not None and stepped < pending["commit_by"]):
            return
        self._phase, self._phase_period = "checkpoint", pending["period"]
        t0 = time.perf_counter()
        name, store = pending["name"], self.store
        with self._discard_on_failure(name):
            results = self.pool.finish_write(store.root, name, store.io_timeout_s)
            manifest = store.io(f"committing checkpoint {name}", store.commit, name, pending["period"],
                                self.households, self.block_size, results, pending["macro_files"], self.meta)
        self._pending = None
        self.own.add(name)
        store.io(f"pruning checkpoints older than {name}", store.prune, name)
        self._phase = "step"
        self.commits.append({"period": pending["period"], "name": name,
                             "seconds": pending["seconds"] + time.perf_counter() - t0,
                             "shard_write_seconds": max(r["seconds"] for r in results),
                             "state_bytes": manifest["state_bytes"]})

    def recover(self, exc: BaseException, period: int) -> MacroState:
        """Replace every shard actor and restore the newest good checkpoint (or the initial state)."""
        phase, self._phase = self._phase, "step"
        self._pending = None  # a checkpoint in flight is never committed; its folder is pruned later
        if phase == "checkpoint":  # report the checkpoint's period, not the period before it
            period = self._phase_period
        t0 = time.perf_counter()
        while True:
            if len(self.recoveries) >= self.max_recoveries:
                raise RecoveryError(
                    f"shard actor lost at period {period} ({phase}: {one_line(exc, 160)}); gave up after "
                    f"{len(self.recoveries)} recoveries (checkpoint.max_recoveries={self.max_recoveries}); find why "
                    "shard actors die (memory: population.households per cluster.actors; Ray's logs under "
                    "$RAY_TMPDIR/ray/session_latest/logs)") from exc
            log.warning("shard actor lost at period %d during %s (%s): restarting the shard actors",
                        period, phase, one_line(exc, 160))
            try:
                if self.capacity is not None:  # a lost node: wait for a replacement, or shrink
                    self._reshape_after_loss(period)
                macro, entry = self._restore(resume=False)
                break
            except shard_lost_errors() as again:  # died while restoring: counts again
                self.recoveries.append(self._event(period, phase, exc, None, None, time.perf_counter() - t0))
                exc, phase, t0 = again, "restore", time.perf_counter()
        event = self._event(period, phase, exc, macro.period, entry, time.perf_counter() - t0)
        self.recoveries.append(event)
        log.warning("recovered in %.1f s: restored period %d from %s; replaying", event["seconds"],
                    macro.period, entry.name if entry else "the initial state")
        return macro

    def report(self) -> dict:
        """For provenance.json."""
        return {
            "store": self.store.base.url if self.store else None,
            "root": self.store.root.url if self.store else None,
            "every": self.every,
            "keep": self.store.keep if self.store else None,
            "commits": len(self.commits),
            # what each checkpoint cost the step loop (snapshot, metadata, manifest, and any wait
            # for the background writes), and how long the slowest shard's write took
            "write_seconds": [round(c["seconds"], 4) for c in self.commits],
            "shard_write_seconds": [round(c["shard_write_seconds"], 4) for c in self.commits],
            "state_bytes": self.commits[-1]["state_bytes"] if self.commits else None,
            "last": self.commits[-1]["name"] if self.commits else None,
            "restored_from": self.restored_from,
            "skipped": self.skipped,
        }

    # changes of shape (sim/capacity.py)
    def _reshape_after_loss(self, period: int) -> None:
        self.pool.kill()
        layout = self.capacity.after_loss(period)
        if layout is not None:
            self.pool.reshape(layout)

    def _grow(self, macro: MacroState) -> None:
        """Grow back to more actors at this checkpoint: commit it now, start the larger pool and
        have it load the checkpoint (the macro state stays as it is: nothing is replayed)."""
        self.settle()
        name = self.commits[-1]["name"]
        [entry] = [e for e in self.store.entries() if e.name == name]
        problem, manifest, _ = self.store.inspect(entry, self.households, self.block_size)
        if problem is not None:
            raise RuntimeError(f"checkpoint {name} just committed cannot be read back: {problem}")
        self.pool.kill()
        self.pool.reshape(self.capacity.grow(macro.period))
        self.pool.start()
        problems = self.pool.load(self.store.root, name, manifest["arrays"])
        if problems:
            raise RuntimeError(f"checkpoint {name} just committed cannot be loaded: {problems[0]}")

    # internals
    @contextmanager
    def _discard_on_failure(self, name: str):
        """A checkpoint whose write failed is removed (after its writers are stopped), so nothing
        half-written is left for a later run to skip; the StoreFailure goes on up."""
        try:
            yield
        except StoreFailure:
            self._pending = None
            self._let_writers_finish(name)
            self.pool.kill()
            self.store.discard(name)
            raise

    def _let_writers_finish(self, name: str) -> None:
        """Wait (at most the store's I/O timeout, else 60 s) for the shards' writes of checkpoint
        ``name`` to end, however they end: a write still in flight when the folder is removed
        would recreate it with a few chunks (a killed actor does not stop at once). Errors here
        are expected: they are why the checkpoint is being discarded."""
        try:
            self.pool.finish_write(self.store.root, name, self.store.io_timeout_s or 60.0)
        except Exception:  # noqa: BLE001 (a failed, hung or absent write: nothing more to wait for)
            pass

    def _event(self, period, phase, exc, restored, entry, seconds) -> dict:
        return {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "period": period,
                "phase": phase, "error": type(exc).__name__, "message": one_line(exc, 300),
                "restored_period": restored, "checkpoint": entry.name if entry else None,
                "seconds": round(seconds, 4), "load_seconds": round(self._load_seconds, 4)}

    def _restore(self, resume: bool) -> tuple[MacroState, Entry | None]:
        """Fresh actors; load the newest checkpoint that verifies, else the initial state. A resume
        may use any checkpoint of this configuration; a running run only its own (one left in a
        shared store by another run, perhaps of other code, never silently replaces its state)."""
        self.pool.start()
        self._load_seconds = 0.0
        entries = self.store.io("listing checkpoints", self.store.entries) if self.store is not None else []
        if not resume:
            entries = [e for e in entries if e.name in self.own]
        for entry in reversed(entries):
            if entry.name in self.store.bad:
                continue
            if not entry.committed:
                self._skip(entry, "no manifest (not committed: an interrupted write?); ignored")
                continue
            problem, manifest, macro_files = self.store.io(f"reading checkpoint {entry.name}", self.store.inspect,
                                                           entry, self.households, self.block_size)
            if problem is None and resume and manifest.get("git_revision") != self.meta.get("git_revision"):
                log.warning("checkpoint %s was written by code revision %s, resuming with %s: results "
                            "may differ from an uninterrupted run", entry.name,
                            manifest.get("git_revision"), self.meta.get("git_revision"))
            if problem is None:
                t0 = time.perf_counter()
                problems = self.pool.load(self.store.root, entry.name, manifest["arrays"], self.store.io_timeout_s)
                self._load_seconds = time.perf_counter() - t0
                problem = f"{problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "") \
                    if problems else None
            if problem is None:
                try:
                    macro = self.new_macro().load_files(macro_files)
                except Exception as exc:
                    problem = f"macro state unreadable ({one_line(exc, 160)})"
                else:
                    if macro.period == entry.period:
                        return macro, entry
                    problem = f"macro state holds period {macro.period}"
            self.store.bad.add(entry.name)
            self._skip(entry, f"cannot be restored: {problem}; trying an older one")
        if self.store is not None and (resume or any(e.committed for e in entries)):
            log.warning("no good checkpoint in %s: restarting from the initial state (period 0)", self.store.root.url)
        self.pool.initialise()
        return self.new_macro(), None

    def _skip(self, entry: Entry, why: str) -> None:
        if entry.name in self._warned:
            return
        self._warned.add(entry.name)
        self.skipped.append({"checkpoint": entry.name, "period": entry.period, "reason": why})
        log.warning("checkpoint %s (period %d) %s", entry.name, entry.period, why)
