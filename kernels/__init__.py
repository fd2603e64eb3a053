"""Per-household kernels: the one-period household step on NumPy, fused CPU (Numba) and CuPy.

``get_step(name)`` returns the step function of a backend; all share the contract of
``kernels.step_numpy.step`` and the wire format of ``kernels.schema``.
"""
from __future__ import annotations

BACKENDS = ("numpy", "fused", "cupy")


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
