"""How households are split into blocks and shards.

Blocks are the unit of reduction: every partial aggregate is kept per block of ``block_size``
households and combined in global block order, so results do not depend on the number of shards.
Shards (one per actor) own contiguous runs of whole blocks, balanced to within one block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shard:
    index: int
    lo: int  # first household id (a multiple of block_size)
    hi: int  # one past the last household id

    @property
    def size(self) -> int:
        return self.hi - self.lo


def n_blocks(households: int, block_size: int) -> int:
    return -(-households // block_size)


def shard_layout(households: int, actors: int, block_size: int) -> list[Shard]:
    """Split households [0, households) into ``actors`` shards on block boundaries."""
    blocks = n_blocks(households, block_size)
    if not 1 <= actors <= blocks:
        raise ValueError(f"cannot split {blocks} blocks of households over {actors} actors")
    base, extra = divmod(blocks, actors)
    shards, first = [], 0
    for i in range(actors):
        count = base + (1 if i < extra else 0)
        lo, hi = first * block_size, min((first + count) * block_size, households)
        shards.append(Shard(i, lo, hi))
        first += count
    return shards


def actors_for(asked: int, households: int, block_size: int) -> int:
    """The shard actors a run takes: ``cluster.actors``, at most one a block (an actor owns whole
    blocks, and results do not depend on how many actors there are)."""
    return min(asked, n_blocks(households, block_size))


def capped_note(asked: int, households: int, block_size: int) -> str | None:
    """The line a command prints where ``actors_for`` takes fewer actors than asked (None if not);
    ``asked`` as the configuration gave it (a YAML string is an int once validated)."""
    asked = int(asked)
    actors = actors_for(asked, households, block_size)
    if actors == asked:
        return None
    return (f"{households:,} households fill {actors} block(s) of population.block_size={block_size}: "
            f"{actors} shard actor(s), not cluster.actors={asked} (an actor owns whole blocks; results "
            "do not depend on how many)")


@dataclass(frozen=True)
class RunShape:
    """The shape of one run, computed once from its configuration: how many households, in blocks
    of which size, split over which shards (one per actor)."""
    households: int
    block_size: int
    actors: int
    blocks: int
    shards: tuple[Shard, ...]

    @classmethod
    def of(cls, cfg: Any) -> "RunShape":
        """From a checked configuration (population.households, population.block_size, cluster.actors;
        the actors as ``actors_for`` takes them, also from a configuration as the user wrote it)."""
        households, block_size = cfg.population.households, cfg.population.block_size
        actors = actors_for(cfg.cluster.actors, households, block_size)
        return cls(households, block_size, actors, n_blocks(households, block_size),
                   tuple(shard_layout(households, actors, block_size)))
