"""Initial household state, drawn with the counter-based generator at period -1.

Like every draw in the simulator, a household's initial state depends only on (seed, household id),
so it is the same whatever the shard layout, and whatever the CPU: the wealth's logarithm is
``log_unit``, plain IEEE arithmetic, because the library ones are chosen by the CPU (NumPy's SIMD
log1p differs from the C library's in the last bit for about 7 % of draws on AVX-512 machines,
and glibc's own has an FMA build and a plain one, which differ for about 0.05 %). One compiled
pass over the households (the NumPy expressions it replaces made a dozen household-sized
temporaries: 0.9 s for 5 x 10^6 households, 2-2.4 s in each of two actors starting together at
10^7).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels import rng
from kernels import schema as S
from kernels.step_fused import _SOURCES_FINGERPRINT, _household_hash, _uniform

_UNEMPLOYED, _EMPLOYED = S.UNEMPLOYED, S.EMPLOYED
# the state the pass fills, by name (a new state array needs its draw here)
assert set(S.STATE_DTYPES) == {"safe", "risky", "task", "productivity", "employment", "type"}
_STREAMS = (rng.STREAM_INIT_WEALTH, rng.STREAM_INIT_PRODUCTIVITY, rng.STREAM_INIT_EMPLOYMENT, rng.STREAM_INIT_TASK)


_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm's split of ln 2
_SERIES = tuple(1.0 / (2 * k + 1) for k in range(12))  # 1, 1/3, ..., 1/23


def log_unit(x: float) -> float:
    """ln x for 0 < x <= 1 by +, -, x, / alone (so the same bits on any IEEE machine, NumPy,
    Numba without fastmath or plain Python): x = m 2^e with m in [sqrt(1/2), sqrt(2)),
    ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^23/23), s = (m - 1)/(m + 1), |s| <= 0.1716 (the
    series' tail below 10^-19 of its value); e ln 2 in two parts. Within 4 ulp of the C library's
    (tested)."""
    m, e = math.frexp(x)
    if m < 0.7071067811865476:
        m *= 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = _SERIES[11]
    for k in range(10, -1, -1):
        p = p * s2 + _SERIES[k]
    return e * _LN2_HI + (e * _LN2_LO + 2.0 * s * p)


_log_unit = njit(inline="always")(log_unit)


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
        """The draws of ``initial_state``, household by household: wealth = -mean ln(1 - u), the
        productivity state the first whose CDF exceeds u, employment u < unemployment, the task
        automation + u (1 - automation), each from its own stream of the household's hash."""
        sources_fingerprint  # noqa: B018 (keys the disk cache)
        for i in range(safe.size):
            hid = first_id + np.uint64(i)
            h = _household_hash(key, hid)
            wealth = wealth_mean * (0.0 - _log_unit(1.0 - _uniform(h, words[0])))  # 1 - u is exact
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
