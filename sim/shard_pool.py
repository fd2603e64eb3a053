"""The run's shard actors as one replaceable pool (coordinator side): start, kill and replace
them all, and have them initialise, write or load a checkpoint together. The actors themselves are
sim/shard.py; when to replace them is the supervisor's decision (sim/supervisor.py).
"""
from __future__ import annotations

from typing import Callable

from sim.checkpoint.store import StoreSpec, failure_advice, one_line
from sim.errors import StoreFailure


class ShardPool:
    """The run's shard actors; on failure all are replaced (and reload their state)."""

    def __init__(self, make_actor: Callable, layout: list, initialise_args: tuple | Callable[[], tuple]):
        """``initialise_args``: what every actor's ``initialise`` is called with, or a function that
        makes them, called once, at the first ``initialise`` (a run resumed from a checkpoint never
        needs them: population.initial_wealth=stationary solves the period-0 problems for them)."""
        self.make_actor, self.layout, self.initialise_args = make_actor, layout, initialise_args
        self.actors: list = []

    def start(self) -> None:
        self.kill()
        self.actors = [self.make_actor(s) for s in self.layout]

    def reshape(self, layout: list) -> None:
        """Kill the actors; the next start() makes one per shard of ``layout`` (a different number
        of actors after a node was lost or came back: sim/capacity.py)."""
        self.kill()
        self.layout = list(layout)

    def kill(self) -> None:
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # already gone
                pass
        self.actors = []

    def initialise(self) -> None:
        import ray

        if callable(self.initialise_args):
            self.initialise_args = self.initialise_args()
        ray.get([a.initialise.remote(*self.initialise_args) for a in self.actors])

    def begin_write(self, root: StoreSpec, name: str, timeout_s: float | None = None) -> None:
        """Every shard snapshots its region and starts writing it in the background."""
        self._store_io(f"writing checkpoint {name}", root, timeout_s,
                       [a.begin_checkpoint.remote(root, name) for a in self.actors])

    def finish_write(self, root: StoreSpec, name: str, timeout_s: float | None = None) -> list[dict]:
        """Wait for every shard's write; their chunk checksums, in shard order."""
        return self._store_io(f"writing checkpoint {name}", root, timeout_s,
                              [a.finish_checkpoint.remote() for a in self.actors])

    def load(self, root: StoreSpec, name: str, arrays: dict, timeout_s: float | None = None) -> list[str]:
        results = self._store_io(f"reading checkpoint {name}", root, timeout_s,
                                 [a.load_checkpoint.remote(root, name, arrays) for a in self.actors])
        return [p for problems in results for p in problems]

    @staticmethod
    def _store_io(what: str, root: StoreSpec, timeout_s: float | None, refs: list):
        """ray.get of the shards' store operations: a shard's I/O error or a hang past timeout_s
        becomes a StoreFailure; a dead actor stays a RayActorError (the supervisor recovers)."""
        import ray

        try:
            return ray.get(refs, timeout=timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise StoreFailure(f"checkpoint store {root.url} did not answer within {timeout_s:g} s while "
                               f"{what} (checkpoint.io_timeout_s): check that it is up and reachable") from None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None) or exc
            if isinstance(cause, ray.exceptions.RayActorError):
                raise cause from None
            raise StoreFailure(f"checkpoint store {root.url} failed while {what} ({one_line(cause, 200)}): "
                               f"{failure_advice(cause)}") from None

    def pids(self) -> list[int]:
        import ray

        return ray.get([a.pid.remote() for a in self.actors])

