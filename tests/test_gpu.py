"""The CuPy backend agrees with the NumPy reference (runs only where a CUDA GPU and CuPy exist)."""
import shutil
import subprocess

import numpy as np
import pytest

from kernels import schema as S
from kernels import step_numpy
from kernels.initial import initial_state
from kernels.rng import seed_key


def _gpu_reason():
    try:
        import cupy as cp

        if cp.cuda.runtime.getDeviceCount() > 0:
            return None
        return "CuPy found no CUDA device"
    except Exception as exc:  # ImportError, CUDARuntimeError ...
        return f"no CUDA GPU with CuPy on this machine ({type(exc).__name__}); the CPU backends are tested instead"


GPU_REASON = _gpu_reason()


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (CUDA toolkit) not installed")
def test_cuda_source_compiles_without_fused_multiply_add(tmp_path):
    """Compile the generated kernel to PTX (no GPU needed) and check no FMA can change rounding."""
    from kernels.step_cupy import _source

    src = tmp_path / "household_step.cu"
    src.write_text(_source())
    ptx = tmp_path / "household_step.ptx"
    proc = subprocess.run(["nvcc", "--ptx", "--fmad=false", "-o", str(ptx), str(src)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = ptx.read_text()
    assert ".entry household_step" in text
    assert "fma." not in text


@pytest.mark.gpu
@pytest.mark.skipif(GPU_REASON is not None, reason=str(GPU_REASON))
def test_cupy_matches_numpy_reference():
    import cupy as cp

    from kernels import step_cupy
    from sim.bench import synthetic_inputs

    inp = synthetic_inputs()
    key = seed_key(3)
    n, block = 300_000, 4096
    cpu = initial_state(0, n, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"])
    gpu = {k: cp.asarray(v) for k, v in cpu.items()}
    args = (inp["params"], inp["productivity"], inp["transition_cdf"], inp["c_table"], inp["share_table"], block)
    for t in range(3):
        pc = step_numpy.step(cpu, 0, t, key, *args)
        pg = step_cupy.step(gpu, 0, t, key, *args)
        for name in S.STATE_DTYPES:  # per-household arithmetic is bit-identical (no FMA)
            assert np.array_equal(cp.asnumpy(gpu[name]), cpu[name]), name
        np.testing.assert_allclose(pg.aggregates, pc.aggregates, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(pg.histograms, pc.histograms, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(pg.extrema, pc.extrema)
