"""Per-household kernels: the one-period household step on NumPy, fused CPU (Numba) and CuPy.

``get_step(name)`` returns the step function of a backend; all share the contract of
``kernels.step_numpy.step`` and the wire format of ``kernels.schema``.
"""
from __future__ import annotations

BACKENDS = ("numpy", "fused", "cupy")

# Peak host bytes per household while a shard initialises or steps (measured with tracemalloc,
# see docs/performance.md): the NumPy reference makes household-sized temporaries (450) beside
# the price search's copy of the 23-byte state (``HouseholdShard.try_step``); the fused path's
# peak is its initialisation (the state plus the initial draws; stepping, the state, its copy and
# a checkpoint's snapshot are 69); the GPU's state and its copy live on the device. Used to
# refuse shards that cannot fit.
PEAK_HOST_BYTES_PER_HOUSEHOLD = {"numpy": 475, "fused": 80, "cupy": 80}
# Device bytes per household on the GPU: measured 28.8 on an H100 at 10^7 households in blocks of
# 65,536 (CuPy's pool after a step: the 23-byte state, the slices' tallies, the tables;
# docs/performance.md, "GPU"). A slice's tallies are 41 kB, so blocks of 1,024 add 40 bytes per
# household: 64 covers every block size; the price search's copy of the state adds 23.
PEAK_DEVICE_BYTES_PER_HOUSEHOLD = 88


def get_step(name: str):
    """The step function of backend ``name`` (imported lazily: Numba and CuPy are heavy)."""
    if name == "numpy":
        from kernels.step_numpy import step
    elif name == "fused":
        from kernels.step_fused import step
    elif name == "cupy":
        from kernels.step_cupy import step
    else:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return step
