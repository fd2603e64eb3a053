"""Counter-based random numbers keyed by (seed, household id, period, stream).

There is no generator state: a draw is a pure function of its key, so draws are identical on any
shard layout, on CPU or GPU, and after a restart from a checkpoint. The construction is SplitMix64's
finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"; the mixer
passes BigCrush in counter mode) applied twice:

    h   = mix64(seed_key + GOLDEN * household_id)          # one independent stream per household
    u64 = mix64(h ^ (MULT * (period * N_STREAMS + stream + 1)))
    u   = (u64 >> 11) * 2**-53                             # uniform on [0, 1), 53 random bits

The same integer arithmetic is written three times (NumPy arrays, Numba scalars, CUDA C for CuPy);
tests hold them bit-identical. All arithmetic is modulo 2**64 (unsigned wrap-around).
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


def mix64_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (used for scalar keys, e.g. the seed)."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * MIX1) & MASK64
    x = ((x ^ (x >> 27)) * MIX2) & MASK64
    return x ^ (x >> 31)


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


def _mix64_array(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(MIX2)
    return x ^ (x >> np.uint64(31))


def uniforms(key: int, household_ids: np.ndarray, period: int, stream: int) -> np.ndarray:
    """Uniform [0, 1) draws for the given households (NumPy reference implementation)."""
    ids = np.asarray(household_ids, dtype=np.uint64)
    h = _mix64_array(np.uint64(key) + np.uint64(GOLDEN) * ids)
    u64 = _mix64_array(h ^ np.uint64(period_word(period, stream)))
    return (u64 >> np.uint64(11)).astype(np.float64) * TO_UNIT


def household_hash(key: int, household_ids: np.ndarray) -> np.ndarray:
    """First stage of the generator, h(seed, household): reused across a household's streams."""
    ids = np.asarray(household_ids, dtype=np.uint64)
    return _mix64_array(np.uint64(key) + np.uint64(GOLDEN) * ids)


def uniforms_from_hash(h: np.ndarray, period: int, stream: int) -> np.ndarray:
    """Second stage: uniform draws for (period, stream) from per-household hashes."""
    u64 = _mix64_array(h ^ np.uint64(period_word(period, stream)))
    return (u64 >> np.uint64(11)).astype(np.float64) * TO_UNIT
