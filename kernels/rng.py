"""Counter-based random numbers keyed by (seed, household id, period, stream).

There is no generator state: a draw is a pure function of its key, so draws are identical on any
shard layout, on CPU or GPU, and after a restart from a checkpoint. The construction is SplitMix64's
finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"; the mixer
passes BigCrush in counter mode) applied twice:

    h   = mix64(seed_key + GOLDEN * household_id)          # one independent stream per household
    u64 = mix64(h ^ (MULT * (period * N_STREAMS + stream + 1)))
    u   = (u64 >> 11) * 2**-53                             # uniform on [0, 1), 53 random bits

``mix64``, ``household_hash`` and ``uniform`` are written once, with NumPy uint64 operations that
work on arrays and scalars alike: NumPy runs them on arrays, Numba compiles them for the fused
kernel, and ``kernels.cuda_c`` translates them into the GPU kernel (tests hold all three
bit-identical). All arithmetic is modulo 2**64 (unsigned wrap-around).
"""
from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: SplitMix64's increment
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
MULT = 0xD1B54A32D192ED03  # odd multiplier spreading (period, stream) over all 64 bits
N_STREAMS = 16  # streams per (household, period); see STREAM_* below
TO_UNIT = 2.0**-53

# Streams: one per independent decision inside the household step.
STREAM_JOB = 0  # job loss / displacement / job finding
STREAM_PRODUCTIVITY = 1  # Markov productivity transition
STREAM_TASK = 2  # new occupation (task complexity) on re-employment
STREAM_INIT_WEALTH = 3  # initial conditions (period -1 by convention)
STREAM_INIT_PRODUCTIVITY = 4
STREAM_INIT_EMPLOYMENT = 5
STREAM_INIT_TASK = 6
STREAM_TREATMENT = 7  # assignment to the treated half of a one-off transfer (sim experiment mpc)


def mix64(x: np.uint64):
    """SplitMix64 finaliser of uint64 ``x`` (an np.uint64 or a uint64 array), modulo 2**64:
    x ^= x >> 30; x *= MIX1; x ^= x >> 27; x *= MIX2; x ^= x >> 31."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(MIX2)
    return x ^ (x >> np.uint64(31))


def household_hash(key: np.uint64, household_id: np.uint64):
    """First stage, h = mix64(key + GOLDEN id): one independent stream per household (uint64)."""
    return mix64(key + np.uint64(GOLDEN) * household_id)


def uniform(h: np.uint64, word: np.uint64) -> float:
    """Second stage: the uniform on [0, 1) of hash ``h`` and (period, stream) ``word``, 53 bits."""
    return np.float64(mix64(h ^ word) >> np.uint64(11)) * TO_UNIT


def mix64_int(x: int) -> int:
    """``mix64`` of a Python int (used for scalar keys, e.g. the seed); arrays do not warn on
    the intended wrap-around, so the int goes through a one-element array."""
    return int(mix64(np.array([x & MASK64], dtype=np.uint64))[0])


def seed_key(seed: int) -> int:
    """The 64-bit key of a run's seed (any non-negative integer < 2**64)."""
    if not 0 <= int(seed) <= MASK64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    return mix64_int(int(seed) ^ 0x5EED5EED5EED5EED)


def period_word(period: int, stream: int) -> int:
    """The 64-bit word that keys (period, stream); periods may be -1 (initial conditions)."""
    if not 0 <= stream < N_STREAMS:
        raise ValueError(f"stream must be in [0, {N_STREAMS}), got {stream}")
    return (MULT * ((period + 1) * N_STREAMS + stream + 1)) & MASK64


def uniforms(key: int, household_ids: np.ndarray, period: int, stream: int) -> np.ndarray:
    """Uniform [0, 1) draws for the given households (NumPy, arrays)."""
    return uniforms_from_hash(household_hashes(key, household_ids), period, stream)


def household_hashes(key: int, household_ids: np.ndarray) -> np.ndarray:
    """``household_hash`` of many households: reused across a household's streams."""
    return household_hash(np.uint64(key), np.asarray(household_ids, dtype=np.uint64))


def uniforms_from_hash(h: np.ndarray, period: int, stream: int) -> np.ndarray:
    """``uniform`` for (period, stream) of many per-household hashes."""
    return uniform(h, np.uint64(period_word(period, stream)))
