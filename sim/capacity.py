"""How many shard actors the Ray cluster has room for, and the run's placement group at that size.

Nodes are volatile, state is not. Results do not depend on the number of actors (sim/layout.py:
partials are kept per block and combined in global block order), so when a node with shard actors
goes and no replacement comes within ``cluster.replace_grace_s`` seconds, the run re-shards its
households onto the actors that fit in what is left (down to one) and goes on from the last
checkpoint; when room comes back (a node joins, an autoscaler adds one) it grows back to
``cluster.actors`` at the next checkpoint boundary. A run that cannot place even one actor within
``cluster.capacity_timeout_s`` stops with one line (:class:`CapacityError`); its checkpoints are
kept and ``sim resume RUN_DIR`` continues it.

The supervisor (sim/supervisor.py) decides *when* (after a lost actor, at a checkpoint); this
module decides *how many* actors, waits for room, and records every change of shape for
provenance.json.
"""
from __future__ import annotations

import logging
import math
import time

import ray
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

from sim.layout import Shard, shard_layout
from sim.supervisor import RecoveryError

log = logging.getLogger("sim.capacity")

POLL_SECONDS = 0.5  # how often the cluster's state is looked at while waiting (a GCS query each)
PROBE_SECONDS = 10.0  # how long a placement group of a given size may take before a smaller one is tried


class CapacityError(RecoveryError):
    """Not even one shard actor found room on the cluster within cluster.capacity_timeout_s."""


class ActorCapacity:
    """The run's placement group (one bundle per shard actor) and how many actors it holds now.

    ``wanted`` is cluster.actors; ``actors`` the current number (``wanted`` unless the run shrank).
    ``changes`` lists every change of shape: period, from and to how many actors, the cause, how
    long the run waited, and the new shard layout.
    """

    def __init__(self, group, wanted: int, bundle: dict, *, households: int, block_size: int,
                 grace_s: float, timeout_s: float, run_dir=None):
        self.group, self.wanted, self.actors, self.bundle = group, wanted, wanted, dict(bundle)
        self.households, self.block_size = households, block_size
        self.grace_s, self.timeout_s, self.run_dir = float(grace_s), float(timeout_s), run_dir
        self.changes: list[dict] = []

    def layout(self) -> list[Shard]:
        return shard_layout(self.households, self.actors, self.block_size)

    def release(self) -> None:
        if self.group is not None:
            remove_placement_group(self.group)
            self.group = None

    # --- after a lost actor ------------------------------------------------------------------------
    def after_loss(self, period: int) -> list[Shard] | None:
        """Called once the old actors are gone. None when the placement group is whole (a worker
        process died, or the lost node's bundles found a new node within the grace period: same
        layout); else the smaller layout the run goes on with."""
        missing = self._missing_bundles()
        if not missing:
            return None
        t0 = time.monotonic()
        log.warning("lost %d of %d shard actors' nodes at period %d: waiting up to %.0f s for a "
                    "replacement node (%s each; cluster.replace_grace_s), then going on with fewer actors",
                    missing, self.actors, period, self.grace_s, self._bundle_text())
        while time.monotonic() - t0 < self.grace_s:
            time.sleep(POLL_SECONDS)
            if not self._missing_bundles():
                log.warning("replacement found after %.1f s: going on with %d actors",
                            time.monotonic() - t0, self.actors)
                return None
        before, missing = self.actors, self._missing_bundles() or missing
        most = min(self.wanted, before - missing + self._free_bundles())  # ours on live nodes + free
        self.release()
        self._reserve_largest(most, period)
        self._record(period, before, f"node lost: {missing} of {before} actors' nodes gone, no replacement "
                     f"within {self.grace_s:g} s", time.monotonic() - t0)
        log.warning("shrinking from %d to %d shard actors at period %d (no replacement within %.0f s); "
                    "going on from the last checkpoint", before, self.actors, period, self.grace_s)
        return self.layout()

    # --- at a checkpoint boundary ------------------------------------------------------------------
    def room_to_grow(self) -> bool:
        """Whether the cluster now has room for more actors than the run has (up to cluster.actors).
        Cheap: one look at the cluster's free resources."""
        return self.actors < self.wanted and self._free_bundles() >= 1

    def grow(self, period: int) -> list[Shard]:
        """Called with the old actors killed: the largest placement group (up to cluster.actors)
        that fits now; the new layout."""
        t0, before = time.monotonic(), self.actors
        target = min(self.wanted, self.actors + self._free_bundles())
        self.release()
        self._reserve_largest(target, period)
        if self.actors != before:
            self._record(period, before, "capacity back", time.monotonic() - t0)
            log.warning("growing from %d to %d shard actors at period %d (room on the cluster again)",
                        before, self.actors, period)
        return self.layout()

    # --- internals ---------------------------------------------------------------------------------
    def _missing_bundles(self) -> int:
        """Bundles of the placement group without a live node (0: the group is whole)."""
        table = placement_group_table(self.group)
        alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        on = table.get("bundles_to_node_id", {})
        gone = sum(1 for i in range(self.actors) if on.get(i) not in alive)
        return gone if table.get("state") != "CREATED" or gone else 0

    def _free_bundles(self) -> int:
        """How many more bundles the cluster's free resources hold (by totals: a placement group
        of that size is then tried, and smaller ones when it does not come)."""
        free = ray.available_resources()
        return min(math.floor(free.get(r, 0.0) / each + 1e-9) for r, each in self.bundle.items())

    def _reserve_largest(self, most: int, period: int) -> None:
        """Reserve the largest placement group of at most ``most`` bundles that the cluster places,
        waiting up to cluster.capacity_timeout_s for room for one; else CapacityError."""
        t0, said, first = time.monotonic(), False, most
        while True:  # the first try from ``most`` (freed resources take a moment to show as free)
            for n in range(first, 0, -1):
                group = placement_group([dict(self.bundle) for _ in range(n)], strategy="PACK")
                if group.wait(PROBE_SECONDS):
                    self.group, self.actors = group, n
                    return
                remove_placement_group(group)
            waited = time.monotonic() - t0
            if waited >= self.timeout_s:
                raise CapacityError(
                    f"no room on the Ray cluster for even one shard actor ({self._bundle_text()}) for "
                    f"{waited:.0f} s after period {period} (cluster.capacity_timeout_s={self.timeout_s:g}); "
                    "its checkpoints are kept for when nodes are back")  # the entry point adds `sim resume`
            if not said:
                log.warning("no room on the Ray cluster for any shard actor (%s each): waiting up to %.0f s "
                            "for a node (cluster.capacity_timeout_s)", self._bundle_text(), self.timeout_s)
                said = True
            time.sleep(POLL_SECONDS)
            first = min(self.wanted, self._free_bundles())  # room came back while waiting: take it

    def _record(self, period: int, before: int, cause: str, waited: float) -> None:
        self.changes.append({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "period": period,
                             "actors_from": before, "actors": self.actors, "cause": cause,
                             "waited_seconds": round(waited, 3),
                             "shard_layout": [[s.lo, s.hi] for s in self.layout()]})

    def _bundle_text(self) -> str:
        return ", ".join(f"{each:g} {r}" for r, each in self.bundle.items())
