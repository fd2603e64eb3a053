"""The CuPy backend agrees with the NumPy reference (runs only where a CUDA GPU and CuPy exist)."""
import shutil
import subprocess

import numpy as np
import pytest

from kernels import schema as S
from kernels import step_cupy, step_numpy
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
    from kernels.step_cupy import _kernel_source, _source

    src = tmp_path / "household_step.cu"
    src.write_text(_source() + _kernel_source())
    ptx = tmp_path / "household_step.ptx"
    # sm_60 or later: the histograms' shared-memory atomicAdd on doubles
    proc = subprocess.run(["nvcc", "--ptx", "--fmad=false", "-arch=sm_90", "-o", str(ptx), str(src)],
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
    from sim.bench_inputs import synthetic_inputs

    inp = synthetic_inputs(types=3)
    key = seed_key(3)
    n, block = 300_000, 4096
    cpu = initial_state(0, n, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"], types=3)
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
static inline long long __double_as_longlong(double v) { long long r; std::memcpy(&r, &v, 8); return r; }
"""
# households 0..n-1 one after another, their contributions and bins written as columns: the
# contributions in kernels.step_cupy.COLUMN's order, then end-of-period wealth
WEALTH_END = len(step_cupy.COLUMN)
N_COLUMNS = WEALTH_END + 1
_HOST_GRID = """
extern "C" void run_grid(double* b, double* k, float* x, unsigned char* z, unsigned char* e,
    const unsigned char* ty, u64 first_id, u64 key, u64 w_job, u64 w_z, u64 w_task, u64 w_treat, const double* p,
    const double* productivity, const double* cdf, int n_z, const double* c_table,
    const double* share_table, int n_grid, long long n, long long stride, double* out, int* bins)
{
    double acc[%(summed)d], v[4];
    int bb[3];
    for (long long i = 0; i < n; ++i) {
        for (int q = 0; q < %(summed)d; ++q) acc[q] = 0.0;  // so acc holds this household's contributions
        household(i, b, k, x, z, e, ty, first_id, key, w_job, w_z, w_task, w_treat, p, productivity, cdf,
                  n_z, c_table, share_table, n_grid, acc, v, bb);
        for (int q = 0; q < %(summed)d; ++q) out[q * stride + i] = acc[q];
        out[%(summed)d * stride + i] = v[0];  // WEALTH_END
        for (int w = 0; w < 3; ++w) bins[w * stride + i] = bb[w];
    }
}
"""


@pytest.fixture(scope="module")
def host_run_grid(tmp_path_factory):
    """The generated per-household CUDA function built as a host library; ``run_grid`` steps
    households 0..n-1 with it and writes their contributions and bins as columns."""
    import ctypes

    from kernels import step_cupy

    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler to build the CUDA source for the host")
    tmp = tmp_path_factory.mktemp("cuda_on_host")
    src = tmp / "household_step.cpp"
    src.write_text(_HOST_PRELUDE + step_cupy._source() + _HOST_GRID % {"summed": len(step_cupy.COLUMN)})
    lib_path = tmp / "household_step.so"
    # no contraction into FMA and no fast math: the same IEEE operations as NumPy (and as nvcc with
    # --fmad=false)
    proc = subprocess.run(["c++", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib_path),
                           str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(str(lib_path)).run_grid


def test_cuda_source_run_on_the_host_matches_numpy_reference(host_run_grid):
    import ctypes

    from kernels import rng, step_cupy
    from sim.bench_inputs import synthetic_inputs

    run_grid = host_run_grid
    inp = synthetic_inputs(types=3)  # three discount-factor types: the kernel's type offset
    key = seed_key(3)
    n, block = 50_003, 4096
    n_blocks = -(-n // block)
    stride = n_blocks * block
    ref = initial_state(0, n, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"], types=3)
    host = {name: v.copy() for name, v in ref.items()}
    tables = [np.ascontiguousarray(inp[name], dtype=np.float64)
              for name in ("params", "productivity", "transition_cdf", "c_table", "share_table")]
    p, productivity, cdf, c_table, share_table = tables
    ptr = lambda a: ctypes.c_void_p(a.ctypes.data)  # noqa: E731
    u64 = ctypes.c_uint64
    with_transfer = p.copy()  # period 1 pays a one-off transfer to a random half of a wealth band
    for name, value in (("transfer", 0.3), ("transfer_wealth_min", 1.0), ("transfer_wealth_max", 40.0)):
        with_transfer[S.PARAMS[name]] = value
    for t in range(3):
        p = with_transfer if t == 1 else tables[0]
        expect = step_numpy.step(ref, 0, t, key, p, *tables[1:], block)
        out = np.zeros((N_COLUMNS, stride))
        bins = np.zeros((3, stride), dtype=np.int32)
        words = [rng.period_word(t, s) for s in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK,
                                                    rng.STREAM_TREATMENT)]
        run_grid(*(ptr(host[name]) for name in ("safe", "risky", "task", "productivity", "employment", "type")),
                 u64(0), u64(key), *(u64(w) for w in words), ptr(p), ptr(productivity), ptr(cdf),
                 ctypes.c_int(len(productivity)), ptr(c_table), ptr(share_table),
                 ctypes.c_int(c_table.shape[-1]), ctypes.c_longlong(n), ctypes.c_longlong(stride),
                 ptr(out), ptr(bins))
        for name in S.STATE_DTYPES:  # the household arithmetic, bit for bit
            assert np.array_equal(host[name], ref[name]), name
        # the per-block reduction and the derived aggregates, as step_cupy.step does them on the GPU
        sums = out.reshape(N_COLUMNS, n_blocks, block).sum(axis=2).T
        got = step_cupy.aggregates_from_columns(sums, p)
        np.testing.assert_allclose(got, expect.aggregates, rtol=1e-12, atol=1e-9)
        wealth = ref["safe"] + ref["risky"]
        assert np.array_equal(out[WEALTH_END, :n], wealth)
        assert np.array_equal(bins[0, :n], S.bin_index(wealth))
        assert np.array_equal(bins[2, :n], S.bin_index(out[step_cupy.COLUMN[S.A_CONSUMPTION], :n]))


class _HostArray(np.ndarray):
    """A NumPy array with CuPy's ``get()``, for the stand-in below."""

    def get(self):
        return np.asarray(self)


def _host(a):
    return np.asarray(a).view(_HostArray)


def _cupy_on_the_host(run_grid):
    """A stand-in for the parts of CuPy that ``kernels.step_cupy`` uses: NumPy arrays, and a
    RawKernel that runs the CUDA source built for the host. CuPy cannot run without a GPU; this
    lets the backend's own host logic (reductions, histograms, extrema) run everywhere."""
    import ctypes
    import time
    import types

    def tallies(out, bins, lo, hi, row):
        """A slice's tallies of households [lo, hi) (sums, extrema, histograms), in NumPy."""
        from kernels.step_cupy import COLUMN, EXTREMA, HISTOGRAMS, SUMS

        cols = out[:, lo:hi]
        row[SUMS:SUMS + len(COLUMN)] = cols[: len(COLUMN)].sum(axis=1)
        w, y = cols[WEALTH_END], cols[COLUMN[S.A_INCOME]]
        c, r = cols[COLUMN[S.A_CONSUMPTION]], cols[COLUMN[S.A_RISKY_END]]
        for x, v in ((S.X_WEALTH_MIN, w), (S.X_INCOME_MIN, y), (S.X_CONSUMPTION_MIN, c)):
            row[EXTREMA + x] = v.min(initial=np.inf)
        for x, v in ((S.X_WEALTH_MAX, w), (S.X_INCOME_MAX, y), (S.X_CONSUMPTION_MAX, c)):
            row[EXTREMA + x] = v.max(initial=-np.inf)
        hist = row[HISTOGRAMS:].reshape(S.N_HISTOGRAMS, S.N_BINS)
        b0, b1, b2 = bins[0, lo:hi], bins[1, lo:hi], bins[2, lo:hi]
        for h, b, v in ((S.H_WEALTH_COUNT, b0, None), (S.H_WEALTH_SUM, b0, w), (S.H_WEALTH_RISKY, b0, r),
                        (S.H_WEALTH_CONSUMPTION, b0, c), (S.H_INCOME_COUNT, b1, None), (S.H_INCOME_SUM, b1, y),
                        (S.H_CONSUMPTION_COUNT, b2, None), (S.H_CONSUMPTION_SUM, b2, c)):
            hist[h] = np.bincount(b, weights=v, minlength=S.N_BINS)

    def kernel(grid, block, args):
        """household_step's contract: the host build steps the households, NumPy plays the
        slices' tallies (their shared-memory trees need real threads)."""
        *household_args, n, block_size, chunk, slices, rows = args
        out, bins = np.zeros((N_COLUMNS, n)), np.zeros((3, n), dtype=np.int32)
        conv = {np.uint64: ctypes.c_uint64, np.int32: ctypes.c_int, np.int64: ctypes.c_longlong}
        c_args = [ctypes.c_void_p(a.ctypes.data) if isinstance(a, np.ndarray) else conv[type(a)](a)
                  for a in (*household_args, n, np.int64(n), out, bins)]
        run_grid(*c_args)
        for g in range(grid[0]):
            first = g // slices * block_size
            lo = first + g % slices * chunk
            tallies(out, bins, lo, min(lo + chunk, first + block_size, n), rows[g])

    fake = types.ModuleType("cupy")
    fake.RawModule = lambda code, options=(): types.SimpleNamespace(get_function={"household_step": kernel}.get)
    fake.asarray = lambda a: _host(np.ascontiguousarray(a))
    for name in ("zeros", "full", "empty", "arange", "bincount", "where"):
        fake.__dict__[name] = (lambda f: lambda *a, **k: _host(f(*a, **k)))(getattr(np, name))
    fake.inf, fake.int32, fake.int64 = np.inf, np.int32, np.int64
    # what sim.bench's GPU figures call: a device, events, a memory pool
    clock = types.SimpleNamespace(record=lambda self: setattr(self, "t", time.perf_counter()),
                                  synchronize=lambda self: None)
    event = type("Event", (), {"record": clock.record, "synchronize": clock.synchronize})
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                      getDeviceProperties=lambda i: {"name": b"host stand-in"},
                                      memGetInfo=lambda: (2**40, 2**40)),
        Device=lambda: types.SimpleNamespace(synchronize=lambda: None),
        Event=event, get_elapsed_time=lambda a, b: (b.t - a.t) * 1e3)
    pool = types.SimpleNamespace(free_all_blocks=lambda: None, total_bytes=lambda: 0)
    fake.get_default_memory_pool = lambda: pool
    return fake


def test_cupy_backend_host_logic_matches_numpy_reference(host_run_grid, monkeypatch):
    # step_cupy.step end to end (device tables, launch, per-block sums, derived aggregates,
    # histograms, extrema), with the kernel run on the host and NumPy in CuPy's place
    import sys

    from kernels import step_cupy
    from sim.bench_inputs import synthetic_inputs

    monkeypatch.setitem(sys.modules, "cupy", _cupy_on_the_host(host_run_grid))
    monkeypatch.setattr(step_cupy, "_MODULE", None)
    inp = synthetic_inputs(types=2)
    key = seed_key(4)
    n, block = 30_011, 4096
    ref = initial_state(0, n, key, 5.0, 0.2, 0.05, 0.6, inp["stationary"], types=2)
    dev = {name: _host(v.copy()) for name, v in ref.items()}
    args = (inp["params"], inp["productivity"], inp["transition_cdf"], inp["c_table"], inp["share_table"], block)
    for t in range(3):
        expect = step_numpy.step(ref, 0, t, key, *args)
        got = step_cupy.step(dev, 0, t, key, *args)
        for name in S.STATE_DTYPES:
            assert np.array_equal(np.asarray(dev[name]), ref[name]), name
        np.testing.assert_allclose(got.aggregates, expect.aggregates, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got.histograms, expect.histograms, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(got.extrema, expect.extrema)


def test_bench_gpu_figures_run_on_the_stand_in(host_run_grid, monkeypatch):
    # the GPU section of `sim bench` has no GPU to run on here: run its code path on the stand-in
    import sys

    from kernels import step_cupy
    from sim import bench_gpu

    monkeypatch.setitem(sys.modules, "cupy", _cupy_on_the_host(host_run_grid))
    monkeypatch.setattr(step_cupy, "_MODULE", None)
    figures = bench_gpu.gpu_figures(20_000)
    assert figures["available"], figures
    assert figures["device"] == "host stand-in" and figures["households"] == 20_000
    assert figures["household_steps_per_second"] > 0 and figures["kernel_alone_household_steps_per_second"] > 0
    assert "device_bytes_per_household" in figures


# The one-process economy (sim.serial) on the GPU backend against the fused kernel, same seed. The
# per-household arithmetic is the same bits; the per-block sums round differently (tree reductions
# on the GPU, pairwise in NumPy's sum on the stand-in, sequential in the fused kernel). In period 0
# (same environment, same policy) that rounding is all that parts them: one household computed
# wrongly would move an aggregate of 20,000 by ~5e-5, so FIRST_PERIOD_TOLERANCE catches it. From
# period 1 the rounding reaches the environment, and a warm-started solve can stop an iteration
# earlier or later, moving the policy by up to the solver's error bound (~1e-4 in log c:
# docs/solver.md, "Warm starts"): measured 4e-5 from a 4e-16 change in income alone, 2.7e-4 on the
# stand-in; so over the run the outputs must agree to RUN_TOLERANCE (no drift), not to the last bit.
FIRST_PERIOD_TOLERANCE = 1e-9
RUN_TOLERANCE = 1e-2
SMALL_RUN = ("household.grid_points=80", "household.kernel_grid_points=256", "household.risky_nodes=5",
             "population.block_size=4096")


def _check_agreement(figures, households, periods):
    assert figures["households"] == households and figures["periods"] == periods
    assert figures["first_period_max_relative_difference"] <= FIRST_PERIOD_TOLERANCE, figures
    assert figures["max_relative_difference"] <= RUN_TOLERANCE, (figures["worst_output"], figures)
    for backend in figures["backends"]:
        assert figures[backend]["step_household_steps_per_second"] > 0
        # the priced market steps the households at least once a period, at most at every candidate
        assert 1.0 <= figures[backend]["household_passes_per_period"] <= 8.0
        assert figures[backend]["step"] + figures[backend]["solve"] <= figures[backend]["seconds"]
        assert figures[backend]["max_sfc_residual"] <= 1e-9
        gap = figures[backend]["max_equity_clearing_gap"]  # the default market clears by price
        assert gap is not None and gap <= 1e-3, (backend, gap)  # its tolerance 1e-4, or a bracket


def test_serial_economy_on_the_stand_in_agrees_with_fused(host_run_grid, monkeypatch):
    import sys

    from kernels import step_cupy
    from sim.bench_gpu import run_agreement

    monkeypatch.setitem(sys.modules, "cupy", _cupy_on_the_host(host_run_grid))
    monkeypatch.setattr(step_cupy, "_MODULE", None)
    _check_agreement(run_agreement(20_000, 6, SMALL_RUN), 20_000, 6)


@pytest.mark.gpu
@pytest.mark.skipif(GPU_REASON is not None, reason=str(GPU_REASON))
def test_serial_economy_on_the_gpu_agrees_with_fused():
    from sim.bench_gpu import run_agreement

    _check_agreement(run_agreement(300_000, 12, SMALL_RUN), 300_000, 12)


# --- the translator from the household's Python phases to CUDA C ---------------------------------

def test_translator_refuses_constructs_outside_its_subset():
    from kernels import cuda_c

    def rebinds(a: float) -> float:
        b = a * 2.0
        b = b + 1.0
        return b

    def floors(a: int) -> int:
        return a // 2

    def unannotated(a):
        return a

    for func, message in ((rebinds, "second assignment to 'b'"), (floors, "a // 2"),
                          (unannotated, "annotation None")):
        with pytest.raises(cuda_c.TranslationError, match=message):
            cuda_c.translate(func)


def test_translator_literals_keep_their_values():
    from kernels import cuda_c

    assert cuda_c.literal(2**64 - 1) == "18446744073709551615ULL"
    assert cuda_c.literal(-3) == "-3LL"
    assert float(cuda_c.literal(0.1)) == 0.1  # shortest round-trip repr: the same double
    with pytest.raises(cuda_c.TranslationError):
        cuda_c.literal(float("inf"))


def test_every_summed_quantity_reaches_a_gpu_column():
    # the GPU's contributions follow household.SUMMED: one store per summed quantity, all summed
    from kernels import household, step_cupy

    source = step_cupy._source()
    for q in range(len(household.SUMMED)):
        assert f"acc[{q}] += terms.v{q};" in source
    assert f"tuple{len(household.SUMMED)}<" in source  # contributions returns all of them
