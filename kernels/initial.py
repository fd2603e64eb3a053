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
                  types: int = 1, wealth_table: tuple | None = None) -> dict[str, np.ndarray]:
    """State arrays for households first_id .. first_id + n - 1 (host memory, narrow dtypes).

    wealth ~ Exponential(mean wealth_mean), or with ``wealth_table = (grid (types, N), cdf (types,
    S, N))`` (sim.opening_wealth.WealthTable) the inverse of the piecewise-linear CDF of the
    household's type and state s = e n_z + z at its uniform draw (non-negative: sim.opening_wealth
    refuses a borrowing limit), split risky_share into risky holdings; productivity from
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
    if wealth_table is None:  # the exponential draw: empty tables, never read
        wgrid, wcdf = np.zeros((1, 1)), np.zeros((1, 1, 1))
    else:
        wgrid, wcdf = (np.ascontiguousarray(a, dtype=np.float64) for a in wealth_table)
        if wgrid.shape[0] < types or wcdf.shape[:1] != wgrid.shape[:1] or wcdf.shape[1] < 2 * cdf.size \
                or wcdf.shape[2] != wgrid.shape[1]:
            raise ValueError(f"wealth table of shapes {wgrid.shape} and {wcdf.shape} does not cover {types} "
                             f"type(s) and the employed and unemployed states of {cdf.size} productivity levels")
    state = {name: np.empty(n, dtype=dtype) for name, dtype in S.STATE_DTYPES.items()}
    words = np.array([rng.period_word(-1, s) for s in _STREAMS], dtype=np.uint64)
    _draw(np.uint64(first_id), np.uint64(key), words, float(wealth_mean), float(risky_share),
          float(unemployment), float(automation), cdf, np.uint64(types), wealth_table is not None, wgrid, wcdf,
          state["safe"], state["risky"],
          state["task"], state["productivity"], state["employment"], state["type"])
    return state


def inverse_cdf(grid: np.ndarray, cdf: np.ndarray, u: float) -> float:
    """x with F(x) = u for the piecewise-linear law of sim.opening_wealth: an atom of cdf[0] at
    grid[0], then cdf[k] - cdf[k-1] spread evenly over (grid[k-1], grid[k]]; cdf[-1] = 1 > u.
    Binary search for the first k with cdf[k] > u (searchsorted, side="right")."""
    lo, hi = 0, cdf.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    if lo == 0:
        return grid[0]
    return grid[lo - 1] + (grid[lo] - grid[lo - 1]) * ((u - cdf[lo - 1]) / (cdf[lo] - cdf[lo - 1]))


_inverse_cdf = njit(inline="always")(inverse_cdf)


def _make_draw(sources_fingerprint: str):
    """The compiled pass. Numba's disk cache keys a function by its own code and closure, not by
    the generator and schema it inlines: it closes over their fingerprint, as the fused step does
    (``kernels.step_fused._SOURCES_FINGERPRINT``), so an edit there compiles it again."""

    @njit(cache=True)
    def draw(first_id, key, words, wealth_mean, risky_share, unemployment, automation, cdf, types,
             tabled, wgrid, wcdf, safe, risky, task, productivity, employment, type_):
        """The draws of ``initial_state``, household by household: the productivity state the
        first whose CDF exceeds u, employment u < unemployment, the task automation + u (1 -
        automation), the type id mod types, wealth = -mean ln(1 - u) or (``tabled``) the inverse of
        its type's and state's piecewise-linear CDF at u, each u from its own stream of the
        household's hash."""
        sources_fingerprint  # noqa: B018 (keys the disk cache)
        for i in range(safe.size):
            hid = first_id + np.uint64(i)
            h = _household_hash(key, hid)
            u = _uniform(h, words[1])
            z = 0
            while cdf[z] <= u:  # searchsorted(cdf, u, side="right"): cdf[-1] = 1 > u
                z += 1
            productivity[i] = z
            employment[i] = _UNEMPLOYED if _uniform(h, words[2]) < unemployment else _EMPLOYED
            task[i] = automation + _uniform(h, words[3]) * (1.0 - automation)
            type_[i] = hid % types
            u = _uniform(h, words[0])
            if tabled:
                wealth = _inverse_cdf(wgrid[type_[i]], wcdf[type_[i], employment[i] * cdf.size + z], u)
            else:
                wealth = wealth_mean * (0.0 - _log_unit(1.0 - u))  # 1 - u is exact
            safe[i] = wealth * (1.0 - risky_share)
            risky[i] = wealth * risky_share

    return draw


_draw = _make_draw(_SOURCES_FINGERPRINT)
