"""The run's shard actors as one replaceable pool (coordinator side): start, kill and replace
them all, and have them initialise, write or load a checkpoint together. The actors themselves are
sim/shard.py; when to replace them is the supervisor's decision (sim/supervisor.py).
"""
from __future__ import annotations

from typing import Callable

from sim.checkpoint.store import StoreSpec


class ShardPool:
    """The run's shard actors; on failure all are replaced (and reload their state)."""

    def __init__(self, make_actor: Callable, layout: list, initialise_args: tuple):
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

        ray.get([a.initialise.remote(*self.initialise_args) for a in self.actors])

    def begin_write(self, root: StoreSpec, name: str) -> None:
        """Every shard snapshots its region and starts writing it in the background."""
        import ray

        ray.get([a.begin_checkpoint.remote(root, name) for a in self.actors])

    def finish_write(self) -> list[dict]:
        """Wait for every shard's write; their chunk checksums, in shard order."""
        import ray

        return ray.get([a.finish_checkpoint.remote() for a in self.actors])

    def load(self, root: StoreSpec, name: str, arrays: dict) -> list[str]:
        import ray

        results = ray.get([a.load_checkpoint.remote(root, name, arrays) for a in self.actors])
        return [p for problems in results for p in problems]

    def pids(self) -> list[int]:
        import ray

        return ray.get([a.pid.remote() for a in self.actors])

