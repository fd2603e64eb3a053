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


# The CUDA source as plain C++: the qualifiers become nothing and a host loop plays the grid. This
# runs the GPU kernel's own arithmetic on every machine with a C++ compiler, GPU or not.
_HOST_PRELUDE = """
#include <algorithm>
#include <cmath>
#include <cstring>
using std::fmax; using std::fmin; using std::min; using std::sqrt;
#define __device__
#define __forceinline__ inline
#define __global__
struct Dim { unsigned x; };
static Dim blockDim, blockIdx, threadIdx;
static inline long long __double_as_longlong(double v) { long long r; std::memcpy(&r, &v, 8); return r; }
"""
_HOST_GRID = """
extern "C" void run_grid(double* b, double* k, float* x, unsigned char* z, unsigned char* e,
    u64 first_id, u64 key, u64 w_job, u64 w_z, u64 w_task, const double* p,
    const double* productivity, const double* cdf, int n_z, const double* c_table,
    const double* share_table, int n_grid, long long n, long long stride, double* out, int* bins,
    unsigned blocks, unsigned threads)
{
    blockDim.x = threads;
    for (unsigned g = 0; g < blocks; ++g) {
        blockIdx.x = g;
        for (unsigned t = 0; t < threads; ++t) {
            threadIdx.x = t;
            household_step(b, k, x, z, e, first_id, key, w_job, w_z, w_task, p, productivity, cdf,
                           n_z, c_table, share_table, n_grid, n, stride, out, bins);
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler to build the CUDA source for the host")
def test_cuda_source_run_on_the_host_matches_numpy_reference(tmp_path):
    import ctypes

    from kernels import rng, step_cupy
    from sim.bench import synthetic_inputs

    src = tmp_path / "household_step.cpp"
    src.write_text(_HOST_PRELUDE + step_cupy._source() + _HOST_GRID)
    lib_path = tmp_path / "household_step.so"
    # no contraction into FMA and no fast math: the same IEEE operations as NumPy (and as nvcc with
    # --fmad=false)
    proc = subprocess.run(["c++", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib_path),
                           str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_grid = ctypes.CDLL(str(lib_path)).run_grid

    inp = synthetic_inputs()
    key = seed_key(3)
    n, block, threads = 50_003, 4096, 256
    n_blocks = -(-n // block)
    stride = n_blocks * block
    ref = initial_state(0, n, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"])
    host = {name: v.copy() for name, v in ref.items()}
    tables = [np.ascontiguousarray(inp[name], dtype=np.float64)
              for name in ("params", "productivity", "transition_cdf", "c_table", "share_table")]
    p, productivity, cdf, c_table, share_table = tables
    ptr = lambda a: ctypes.c_void_p(a.ctypes.data)  # noqa: E731
    u64 = ctypes.c_uint64
    for t in range(3):
        expect = step_numpy.step(ref, 0, t, key, *tables, block)
        out = np.zeros((step_cupy.N_COLUMNS, stride))
        bins = np.zeros((3, stride), dtype=np.int32)
        words = [rng.period_word(t, s) for s in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK)]
        run_grid(*(ptr(host[name]) for name in ("safe", "risky", "task", "productivity", "employment")),
                 u64(0), u64(key), *(u64(w) for w in words), ptr(p), ptr(productivity), ptr(cdf),
                 ctypes.c_int(len(productivity)), ptr(c_table), ptr(share_table),
                 ctypes.c_int(c_table.shape[1]), ctypes.c_longlong(n), ctypes.c_longlong(stride),
                 ptr(out), ptr(bins), ctypes.c_uint(-(-n // threads)), ctypes.c_uint(threads))
        for name in S.STATE_DTYPES:  # the household arithmetic, bit for bit
            assert np.array_equal(host[name], ref[name]), name
        # the per-block reduction and the derived aggregates, as step_cupy.step does them on the GPU
        sums = out.reshape(step_cupy.N_COLUMNS, n_blocks, block).sum(axis=2).T
        got = step_cupy.aggregates_from_columns(sums, p)
        np.testing.assert_allclose(got, expect.aggregates, rtol=1e-12, atol=1e-9)
        wealth = ref["safe"] + ref["risky"]
        assert np.array_equal(out[step_cupy.WEALTH_END, :n], wealth)
        assert np.array_equal(bins[0, :n], S.bin_index(wealth))
        assert np.array_equal(bins[2, :n], S.bin_index(out[step_cupy.COLUMN[S.A_CONSUMPTION], :n]))
