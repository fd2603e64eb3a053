"""Initial household state, drawn with the counter-based generator at period -1.

Like every draw in the simulator, a household's initial state depends only on (seed, household id),
so it is the same whatever the shard layout.
"""
from __future__ import annotations

import numpy as np

from kernels import rng
from kernels import schema as S


def initial_state(first_id: int, n: int, key: int, wealth_mean: float, risky_share: float,
                  unemployment: float, automation: float, stationary: np.ndarray,
                  types: int = 1) -> dict[str, np.ndarray]:
    """State arrays for households first_id .. first_id + n - 1 (host memory, narrow dtypes).

    wealth ~ Exponential(mean wealth_mean), split risky_share into risky holdings; productivity from
    the chain's stationary law; unemployed with probability ``unemployment``; the task of every
    household from the not-yet-automated range, x ~ U(automation, 1) (docs/model.md: workers hold tasks
    that are not automated); the type j = id mod ``types`` (household.types: each of the n types
    holds every n-th household, so the types' shares are equal to within one household, whatever
    the shard layout).
    """
    if not 1 <= types <= 256:
        raise ValueError(f"types={types}: the type index is one byte, so 1 to 256 types")
    h = rng.household_hashes(key, np.arange(first_id, first_id + n, dtype=np.uint64))
    draw = lambda stream: rng.uniforms_from_hash(h, -1, stream)  # noqa: E731
    wealth = -wealth_mean * np.log1p(-draw(rng.STREAM_INIT_WEALTH))
    cdf = np.cumsum(stationary)
    cdf[-1] = 1.0
    z = np.searchsorted(cdf, draw(rng.STREAM_INIT_PRODUCTIVITY), side="right")
    unemployed = draw(rng.STREAM_INIT_EMPLOYMENT) < unemployment
    task = automation + draw(rng.STREAM_INIT_TASK) * (1.0 - automation)
    state = {
        "safe": wealth * (1.0 - risky_share),
        "risky": wealth * risky_share,
        "task": task,
        "productivity": np.minimum(z, len(stationary) - 1),
        "employment": np.where(unemployed, S.UNEMPLOYED, S.EMPLOYED),
        "type": np.arange(first_id, first_id + n, dtype=np.uint64) % np.uint64(types),
    }
    return {name: np.ascontiguousarray(v, dtype=S.STATE_DTYPES[name]) for name, v in state.items()}
