"""Initial household state, drawn with the counter-based generator at period -1.

Like every draw in the simulator, a household's initial state depends only on (seed, household id),
so it is the same whatever the shard layout. One compiled pass over the households (the NumPy
expressions it replaces made a dozen household-sized temporaries: 0.9 s for 5 x 10^6 households,
2-2.4 s in each of two actors starting together at 10^7; tests hold it to those expressions). The
wealth's log1p is the C library's, as Numba compiles it: NumPy's own SIMD log1p differs from it in
the last bit for about 7 % of draws on AVX-512 machines. The C library's is not free of the CPU
either (glibc loads an FMA build where the CPU has FMA and AVX2, which differs from its plain build
in about 0.05 % of draws), so nodes of one cluster should share a CPU family for bit-identical
openings; NumPy's would differ far more often.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels import rng
from kernels import schema as S
from kernels.step_fused import _SOURCES_FINGERPRINT, _household_hash, _uniform

_UNEMPLOYED, _EMPLOYED = S.UNEMPLOYED, S.EMPLOYED
# the state the pass fills, by name (a new state array needs its draw here)
assert set(S.STATE_DTYPES) == {"safe", "risky", "task", "productivity", "employment", "type"}
_STREAMS = (rng.STREAM_INIT_WEALTH, rng.STREAM_INIT_PRODUCTIVITY, rng.STREAM_INIT_EMPLOYMENT, rng.STREAM_INIT_TASK)


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
    cdf = np.cumsum(np.asarray(stationary, dtype=np.float64))
    cdf[-1] = 1.0
    state = {name: np.empty(n, dtype=dtype) for name, dtype in S.STATE_DTYPES.items()}
    words = np.array([rng.period_word(-1, s) for s in _STREAMS], dtype=np.uint64)
    _draw(np.uint64(first_id), np.uint64(key), words, float(wealth_mean), float(risky_share),
          float(unemployment), float(automation), cdf, np.uint64(types), state["safe"], state["risky"],
          state["task"], state["productivity"], state["employment"], state["type"])
    return state


def _make_draw(sources_fingerprint: str):
    """The compiled pass. Numba's disk cache keys a function by its own code and closure, not by
    the generator and schema it inlines: it closes over their fingerprint, as the fused step does
    (``kernels.step_fused._SOURCES_FINGERPRINT``), so an edit there compiles it again."""

    @njit(cache=True)
    def draw(first_id, key, words, wealth_mean, risky_share, unemployment, automation, cdf, types,
             safe, risky, task, productivity, employment, type_):
        """The draws of ``initial_state``, household by household: wealth = -mean log(1 - u), the
        productivity state the first whose CDF exceeds u, employment u < unemployment, the task
        automation + u (1 - automation), each from its own stream of the household's hash."""
        sources_fingerprint  # noqa: B018 (keys the disk cache)
        for i in range(safe.size):
            hid = first_id + np.uint64(i)
            h = _household_hash(key, hid)
            wealth = -wealth_mean * np.log1p(-_uniform(h, words[0]))
            safe[i] = wealth * (1.0 - risky_share)
            risky[i] = wealth * risky_share
            u = _uniform(h, words[1])
            z = 0
            while z < cdf.size and cdf[z] <= u:  # searchsorted(cdf, u, side="right")
                z += 1
            productivity[i] = min(z, cdf.size - 1)
            employment[i] = _UNEMPLOYED if _uniform(h, words[2]) < unemployment else _EMPLOYED
            task[i] = automation + _uniform(h, words[3]) * (1.0 - automation)
            type_[i] = hid % types

    return draw


_draw = _make_draw(_SOURCES_FINGERPRINT)
