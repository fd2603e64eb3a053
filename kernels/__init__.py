"""Per-household kernels: the one-period household step on NumPy, fused CPU (Numba) and CuPy.

``get_step(name)`` returns the step function of a backend; all share the contract of
``kernels.step_numpy.step`` and the wire format of ``kernels.schema``.
"""
from __future__ import annotations

BACKENDS = ("numpy", "fused", "cupy")

# Peak host bytes per household while a shard initialises or steps (measured with tracemalloc,
# see docs/performance.md): the NumPy reference makes household-sized temporaries; the fused and
# GPU paths hold the 23-byte state plus the initial draws. Used to refuse shards that cannot fit.
PEAK_HOST_BYTES_PER_HOUSEHOLD = {"numpy": 450, "fused": 80, "cupy": 80}
# Device bytes per household on the GPU (counted, not measured: no GPU yet): state 23, contribution
# columns 14 x 8 (kernels.step_cupy.N_COLUMNS), bin indices 3 x 4, and the histogram pass's block
# index, flat bin index and two padded extrema buffers (8 each).
PEAK_DEVICE_BYTES_PER_HOUSEHOLD = 181


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
