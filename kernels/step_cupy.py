"""The household step on a CUDA GPU (CuPy RawModule): one kernel per period.

``household_step``: one CUDA block per slice of an aggregation block (``population.block_size``
households; at most ``SLICE`` per slice). Each thread steps households of its slice with
``household`` (``kernels.household``'s scalar phases translated to CUDA C by ``kernels.cuda_c``:
the same functions the fused CPU kernel compiles), writes their new state in place and adds their
contributions to the sums of ``kernels.household.SUMMED``, the extrema and the eight histograms
in registers and shared memory; the block then reduces its threads' sums and extrema by a fixed
tree and writes them and its histograms out (no global atomics, no per-household columns). The
slices of an aggregation block are summed in a fixed order and ``kernels.aggregates.complete``
derives the other aggregates. The parameter and aggregate layouts come from ``kernels.schema``
and ``kernels.household.SUMMED``.

Agreement: the per-household arithmetic is IEEE double with no contraction (``--fmad=false``), so
states match the CPU bit for bit; sums and extrema use fixed reduction trees, so aggregates are
the same bits run to run and agree with the CPU's sequential sums to rounding (tested to 1e-12
relative where a GPU exists). Histogram amounts are added in shared memory by atomics whose order
varies, so they agree to rounding but are not bit-reproducible run to run; their counts are exact.
"""
from __future__ import annotations

import numpy as np

from kernels import aggregates as aggregates_rules
from kernels import cuda_c, household, rng
from kernels import schema as S
from kernels.step_numpy import Partials

# aggregate index -> position of a household's contribution in the thread's sums
# (kernels.household.SUMMED order)
COLUMN = {S.AGGREGATES[name]: j for j, name in enumerate(household.SUMMED)}
THREADS = 512  # per CUDA block
MIN_BLOCKS = 2  # CUDA blocks per multiprocessor the compiler must fit (__launch_bounds__): 64
# registers, a few spilled. On an H100 the whole step was as fast as with 128 x 5 or 256 x 3
# (5.3 x 10^9 household-steps/s) and 25% faster than 512 x 1 (docs/performance.md, "GPU")
# a slice's tallies, one row: its sums (SUMMED order), extrema (X_*), histograms (H_* x N_BINS)
SUMS, EXTREMA = 0, len(COLUMN)
HISTOGRAMS = EXTREMA + S.N_EXTREMA
TALLY = HISTOGRAMS + S.N_HISTOGRAMS * S.N_BINS
SLICE = 8192  # households per CUDA block at most: amortises zeroing and writing its histograms


def aggregates_from_columns(sums: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Per-block aggregates (n_blocks, N_AGGREGATES) from per-block sums of the contribution
    columns (n_blocks, >= len(SUMMED)); the derived aggregates by ``kernels.aggregates.complete``."""
    aggregates = np.zeros((sums.shape[0], S.N_AGGREGATES))
    aggregates[:, list(COLUMN)] = sums[:, : len(COLUMN)]
    return aggregates_rules.complete(aggregates, np.asarray(params, dtype=np.float64))


def _source() -> str:
    """The per-household device function ``household``: ``kernels.household``'s phases and
    ``kernels.rng``'s generator as translated by ``kernels.cuda_c``, composed as the fused kernel's
    passes compose them. It advances household i's state in place, adds its contributions to
    ``acc`` (``kernels.household.SUMMED`` order), and leaves in ``v`` its end-of-period wealth,
    income, consumption and risky holdings (for the histograms and extrema) and in ``bins`` their
    histogram bins. Accumulating in place keeps the thread's registers few (no per-household
    array of contributions to spill)."""
    phases = cuda_c.translate(rng.household_hash, rng.uniform, household.productivity_after,
                              household.job_transition, household.income, household.grid_interval,
                              household.grid_index, household.policy_row, household.consumption_and_share,
                              household.portfolio, household.contributions, household.treated)
    columns = "\n".join(f"    acc[{q}] += terms.v{q};" for q in range(len(COLUMN)))
    tallied = (f"    v[0] = b_new + k_new; v[1] = terms.v{COLUMN[S.A_INCOME]}; "
               f"v[2] = terms.v{COLUMN[S.A_CONSUMPTION]}; v[3] = terms.v{COLUMN[S.A_RISKY_END]};")
    return phases + f"""
__device__ __forceinline__ int bin_of(double v) {{
    if (v < {S.V_MIN!r}) return 0;
    if (v >= {S.V_MAX!r}) return {S.N_BINS - 1};
    return (int)((__double_as_longlong(v) >> {S.BIN_SHIFT}) - {S.BIN_OFFSET}LL + 1);
}}
__device__ __forceinline__ void household(
    const long long i, double* b, double* k, float* x, unsigned char* z, unsigned char* e,
    const unsigned char* ty, const u64 first_id, const u64 key, const u64 w_job, const u64 w_z,
    const u64 w_task, const u64 w_treat, const double* p, const double* productivity, const double* cdf,
    const int n_z, const double* c_table, const double* share_table, const int n_grid, double* acc, double* v,
    int* bins)
{{
    u64 hh = household_hash(key, first_id + (u64)i);
    double u_z = uniform(hh, w_z), u_job = uniform(hh, w_job), u_task = uniform(hh, w_task);
    double bi = b[i], ki = k[i];
    bool is_treated = treated(uniform(hh, w_treat), bi + ki, p);
    long long z_new = productivity_after(u_z, cdf, (long long)z[i] * n_z, n_z);
    auto job = job_transition((long long)e[i], x[i], u_job, u_task, p);
    long long e_new = job.v0;
    bool working = e_new == {S.EMPLOYED};
    double efficiency = working ? productivity[z_new] : 0.0;
    auto earned = income(bi, ki, working, productivity[z_new], is_treated, p);
    double cash = earned.v0, disposable = earned.v1;

    double grid_min = p[{S.P_GRID_MIN}];
    double span = p[{S.P_GRID_MAX}] - grid_min;
    long long j = grid_index(cash, grid_min, 1.0 / span, n_grid);
    auto interval = grid_interval(j, grid_min, span, 1.0 / (n_grid - 1));
    double weight = (cash - interval.v0) * interval.v1;
    long long q0 = policy_row((long long)ty[i], e_new, z_new, n_z, n_grid);
    auto chosen = consumption_and_share(cash, weight, q0 + j, c_table, share_table, p);
    double c = chosen.v0;
    auto assets = portfolio(cash, c, chosen.v1, p);
    double b_new = assets.v0, k_new = assets.v1;
    b[i] = b_new; k[i] = k_new; x[i] = job.v1;
    z[i] = (unsigned char)z_new; e[i] = (unsigned char)e_new;

    auto terms = contributions(e_new, job.v2, efficiency, disposable, c, bi, ki, b_new, k_new, is_treated, p);
{columns}
{tallied}
    bins[0] = bin_of(b_new + k_new);
    bins[1] = bin_of(disposable);
    bins[2] = bin_of(c);
}}
"""


def _kernel_source() -> str:
    """``household_step``: CUDA block g steps households [lo, hi) of slice g and writes the
    slice's sums, extrema and histograms (see the module docstring)."""
    nb = S.N_BINS
    w, y, c, r = "v[0]", "v[1]", "v[2]", "v[3]"  # as ``household`` leaves them
    # histogram rows: (row, bin index, amount or None for a count); counts are added as integers
    # (native shared-memory atomics, exact), amounts as doubles
    rows = ((S.H_WEALTH_COUNT, 0, None), (S.H_WEALTH_SUM, 0, w), (S.H_WEALTH_RISKY, 0, r),
            (S.H_WEALTH_CONSUMPTION, 0, c), (S.H_INCOME_COUNT, 1, None), (S.H_INCOME_SUM, 1, y),
            (S.H_CONSUMPTION_COUNT, 2, None), (S.H_CONSUMPTION_SUM, 2, c))
    counts = [row for row in rows if row[2] is None]
    amounts = [row for row in rows if row[2] is not None]
    adds = "\n".join([f"        atomicAdd(&n_in[{j * nb} + bins[{which}]], 1u);" for j, (_, which, _) in enumerate(counts)]
                     + [f"        atomicAdd(&h[{j * nb} + bins[{which}]], {v});" for j, (_, which, v) in enumerate(amounts)])
    write = "\n".join([f"    for (int j = threadIdx.x; j < {nb}; j += {THREADS}) row[{HISTOGRAMS + h_row * nb} + j] = n_in[{k * nb} + j];"
                       for k, (h_row, _, _) in enumerate(counts)]
                      + [f"    for (int j = threadIdx.x; j < {nb}; j += {THREADS}) row[{HISTOGRAMS + h_row * nb} + j] = h[{k * nb} + j];"
                         for k, (h_row, _, _) in enumerate(amounts)])
    extrema = ((S.X_WEALTH_MIN, w, "min", "inf"), (S.X_WEALTH_MAX, w, "max", "-inf"),
               (S.X_INCOME_MIN, y, "min", "inf"), (S.X_INCOME_MAX, y, "max", "-inf"),
               (S.X_CONSUMPTION_MIN, c, "min", "inf"), (S.X_CONSUMPTION_MAX, c, "max", "-inf"))
    init = "".join(f" ext[{x}] = {start};" for x, _, _, start in extrema)
    update = "\n".join(f"        ext[{x}] = f{f}(ext[{x}], {v});" for x, v, f, _ in extrema)
    reduce_ext = "\n".join(f"    tree(red, ext[{x}], {f}_op(), row + {EXTREMA + x});"
                           for x, _, f, _ in extrema)
    return f"""
struct add_op {{ __device__ double operator()(double a, double b) const {{ return a + b; }} }};
struct min_op {{ __device__ double operator()(double a, double b) const {{ return fmin(a, b); }} }};
struct max_op {{ __device__ double operator()(double a, double b) const {{ return fmax(a, b); }} }};

// the block's values v (one per thread) reduced by a fixed tree; thread 0 writes the result
template <class Op>
__device__ void tree(double* red, double v, Op op, double* result) {{
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = {THREADS} / 2; s > 0; s >>= 1) {{
        if (threadIdx.x < s) red[threadIdx.x] = op(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }}
    if (threadIdx.x == 0) *result = red[0];
    __syncthreads();
}}

extern "C" __global__ void __launch_bounds__({THREADS}, {MIN_BLOCKS}) household_step(
    double* b, double* k, float* x, unsigned char* z, unsigned char* e, const unsigned char* ty,
    const u64 first_id, const u64 key, const u64 w_job, const u64 w_z, const u64 w_task, const u64 w_treat,
    const double* p, const double* productivity, const double* cdf, const int n_z,
    const double* c_table, const double* share_table, const int n_grid, const long long n,
    const long long block_size, const long long chunk, const int slices,
    double* tallies)
{{
    __shared__ double h[{len(amounts) * nb}];
    __shared__ unsigned int n_in[{len(counts) * nb}];
    __shared__ double red[{THREADS}];
    const double inf = __longlong_as_double(0x7ff0000000000000LL);
    const long long g = blockIdx.x, block = g / slices;
    const long long lo = block * block_size + (g % slices) * chunk;
    long long hi = lo + chunk;
    if (hi > (block + 1) * block_size) hi = (block + 1) * block_size;
    if (hi > n) hi = n;
    for (int j = threadIdx.x; j < {len(amounts) * nb}; j += {THREADS}) h[j] = 0.0;
    for (int j = threadIdx.x; j < {len(counts) * nb}; j += {THREADS}) n_in[j] = 0u;
    __syncthreads();
    double acc[{len(COLUMN)}];
    for (int q = 0; q < {len(COLUMN)}; ++q) acc[q] = 0.0;
    double ext[{S.N_EXTREMA}];{init}
    double v[4];
    int bins[3];
    for (long long i = lo + threadIdx.x; i < hi; i += {THREADS}) {{
        household(i, b, k, x, z, e, ty, first_id, key, w_job, w_z, w_task, w_treat, p, productivity, cdf,
                  n_z, c_table, share_table, n_grid, acc, v, bins);
{adds}
{update}
    }}
    double* row = tallies + g * {TALLY};
    for (int q = 0; q < {len(COLUMN)}; ++q) tree(red, acc[q], add_op(), row + {SUMS} + q);
{reduce_ext}
{write}
}}
"""


_MODULE = None


def _kernel():
    """``household_step``, compiled once per process."""
    global _MODULE
    if _MODULE is None:
        import cupy as cp

        _MODULE = cp.RawModule(code=_source() + _kernel_source(), options=("--fmad=false", "-std=c++17"))
    return _MODULE.get_function("household_step")


def slicing(n: int, block_size: int) -> tuple[int, int, int]:
    """(aggregation blocks, slices per block, households per slice): the kernel's grid is
    blocks x slices CUDA blocks."""
    slices = -(-block_size // SLICE)
    return -(-n // block_size), slices, -(-block_size // slices)


def device_tables(params, productivity, transition_cdf, c_table, share_table) -> tuple:
    """The period's inputs as float64 device arrays, in the order ``launch`` takes them: one
    upload, then views."""
    import cupy as cp

    host = [np.ascontiguousarray(a, dtype=np.float64)
            for a in (params, productivity, transition_cdf, c_table, share_table)]
    flat = cp.asarray(np.concatenate([a.ravel() for a in host]))
    ends = np.cumsum([a.size for a in host])
    return tuple(flat[end - a.size:end].reshape(a.shape) for a, end in zip(host, ends))


def launch(state, first_id, period, key, tables, block_size):
    """The household kernel alone: advances ``state`` (device arrays) in place and returns each
    slice's tallies (grid, TALLY) on the device."""
    import cupy as cp

    p, productivity, cdf, c_table, share_table = tables
    n = int(state["safe"].shape[0])
    n_blocks, slices, chunk = slicing(n, block_size)
    tallies = cp.empty((n_blocks * slices, TALLY))
    words = [np.uint64(rng.period_word(period, st))
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK, rng.STREAM_TREATMENT)]
    _kernel()((n_blocks * slices,), (THREADS,), (
        state["safe"], state["risky"], state["task"], state["productivity"], state["employment"],
        state["type"], np.uint64(first_id), np.uint64(key), *words, p, productivity, cdf,
        np.int32(productivity.shape[0]), c_table, share_table, np.int32(c_table.shape[-1]),
        np.int64(n), np.int64(block_size), np.int64(chunk), np.int32(slices), tallies))
    return tallies


# extrema columns reduced across slices by min (True) or max (False)
_IS_MIN = np.array([name.endswith("_min") for name in S.EXTREMA])


def per_block(tallies, n_blocks: int):
    """The slices' tallies combined per aggregation block (n_blocks, TALLY), in slice order."""
    import cupy as cp

    t = tallies.reshape(n_blocks, -1, TALLY)
    combined = t.sum(axis=1)
    ext = t[:, :, EXTREMA:HISTOGRAMS]
    combined[:, EXTREMA:HISTOGRAMS] = cp.where(cp.asarray(_IS_MIN), ext.min(axis=1), ext.max(axis=1))
    return combined


def step(state, first_id, period, key, params, productivity, transition_cdf, c_table, share_table,
         block_size) -> Partials:
    """Same contract as ``kernels.step_numpy.step``; ``state`` holds CuPy arrays on the device."""
    n = int(state["safe"].shape[0])
    tables = device_tables(params, productivity, transition_cdf, c_table, share_table)
    t = per_block(launch(state, first_id, period, key, tables, block_size), -(-n // block_size)).get()
    hist = t[:, HISTOGRAMS:].reshape(-1, S.N_HISTOGRAMS, S.N_BINS)
    return Partials(aggregates_from_columns(t[:, :EXTREMA], params), hist, t[:, EXTREMA:HISTOGRAMS].copy())
