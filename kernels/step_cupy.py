"""The household step on a CUDA GPU (CuPy RawKernel).

One thread per household runs ``kernels.household``'s scalar phases (translated to CUDA C by
``kernels.cuda_c``; the same functions the fused CPU kernel compiles), writing the new state in place and the household's contributions to the per-block sums
of ``kernels.household.SUMMED``; the per-block reductions are then CuPy reductions over a (column,
block, household) view, and ``kernels.aggregates.complete`` derives the other aggregates. The parameter
and aggregate layouts come from ``kernels.schema`` and ``kernels.household.SUMMED``.

Agreement: the per-household arithmetic is IEEE double with no contraction (``--fmad=false``), so
states match the CPU bit for bit; per-block sums use CuPy's tree reductions and histogram sums use
atomics, so aggregates agree with the CPU to rounding (tested to 1e-12 relative where a GPU exists).
Histogram sums via atomics are not bit-reproducible run to run on the GPU; aggregates are.
"""
from __future__ import annotations

import numpy as np

from kernels import aggregates as aggregates_rules
from kernels import cuda_c, household, rng
from kernels import schema as S
from kernels.step_numpy import Partials

# per-household contribution columns: the summed aggregates (kernels.household.SUMMED, in that
# order), then end-of-period wealth for the wealth histogram and extrema
COLUMN = {S.AGGREGATES[name]: j for j, name in enumerate(household.SUMMED)}
WEALTH_END = len(COLUMN)
N_COLUMNS = len(COLUMN) + 1


def aggregates_from_columns(sums: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Per-block aggregates (n_blocks, N_AGGREGATES) from per-block sums of the contribution
    columns (n_blocks, >= len(SUMMED)); the derived aggregates by ``kernels.aggregates.complete``."""
    aggregates = np.zeros((sums.shape[0], S.N_AGGREGATES))
    aggregates[:, list(COLUMN)] = sums[:, : len(COLUMN)]
    return aggregates_rules.complete(aggregates, np.asarray(params, dtype=np.float64))


def _source() -> str:
    """The kernel's CUDA C: ``kernels.household``'s phases and ``kernels.rng``'s generator as
    translated by ``kernels.cuda_c``, and a thread that runs them for household i (the same
    composition as the fused kernel's passes) and writes its state and contributions."""
    phases = cuda_c.translate(rng.household_hash, rng.uniform, household.productivity_after,
                              household.job_transition, household.income, household.grid_interval,
                              household.grid_index, household.policy_row, household.consumption_and_share,
                              household.portfolio, household.contributions, household.treated)
    columns = "\n".join(f"    o[{q} * stride] = terms.v{q};" for q in range(len(COLUMN)))
    return phases + f"""
__device__ __forceinline__ int bin_of(double v) {{
    if (v < {S.V_MIN!r}) return 0;
    if (v >= {S.V_MAX!r}) return {S.N_BINS - 1};
    return (int)((__double_as_longlong(v) >> {S.BIN_SHIFT}) - {S.BIN_OFFSET}LL + 1);
}}
extern "C" __global__ void household_step(
    double* b, double* k, float* x, unsigned char* z, unsigned char* e, const unsigned char* ty,
    const u64 first_id, const u64 key, const u64 w_job, const u64 w_z, const u64 w_task, const u64 w_treat,
    const double* p, const double* productivity, const double* cdf, const int n_z,
    const double* c_table, const double* share_table, const int n_grid, const long long n,
    const long long stride, double* out, int* bins)
{{
    long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x;
    if (i >= n) return;
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
    double* o = out + i;
{columns}
    o[{WEALTH_END} * stride] = b_new + k_new;
    bins[i] = bin_of(b_new + k_new);
    bins[stride + i] = bin_of(disposable);
    bins[2 * stride + i] = bin_of(c);
}}
"""


_KERNEL = None


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        import cupy as cp

        _KERNEL = cp.RawKernel(_source(), "household_step", options=("--fmad=false",))
    return _KERNEL


def device_tables(params, productivity, transition_cdf, c_table, share_table) -> tuple:
    """The period's inputs as float64 device arrays, in the order ``launch`` takes them."""
    import cupy as cp

    return tuple(cp.asarray(np.ascontiguousarray(a, dtype=np.float64))
                 for a in (params, productivity, transition_cdf, c_table, share_table))


def launch(state, first_id, period, key, tables, block_size):
    """The household kernel alone: advances ``state`` (device arrays) in place and returns the
    per-household contribution columns (N_COLUMNS, padded length) and bin indices (3, padded)."""
    import cupy as cp

    p, productivity, cdf, c_table, share_table = tables
    n = int(state["safe"].shape[0])
    stride = -(-n // block_size) * block_size  # padded: the tail of the last block contributes zeros
    out = cp.zeros((N_COLUMNS, stride))
    bins = cp.zeros((3, stride), dtype=cp.int32)
    words = [np.uint64(rng.period_word(period, st))
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK, rng.STREAM_TREATMENT)]
    threads = 256
    _kernel()(((n + threads - 1) // threads,), (threads,), (
        state["safe"], state["risky"], state["task"], state["productivity"], state["employment"],
        state["type"], np.uint64(first_id), np.uint64(key), *words, p, productivity, cdf,
        np.int32(productivity.shape[0]), c_table, share_table, np.int32(c_table.shape[-1]),
        np.int64(n), np.int64(stride), out, bins))
    return out, bins


def step(state, first_id, period, key, params, productivity, transition_cdf, c_table, share_table,
         block_size) -> Partials:
    """Same contract as ``kernels.step_numpy.step``; ``state`` holds CuPy arrays on the device."""
    import cupy as cp

    n = int(state["safe"].shape[0])
    n_blocks = -(-n // block_size)
    tables = device_tables(params, productivity, transition_cdf, c_table, share_table)
    out, bins = launch(state, first_id, period, key, tables, block_size)
    stride = out.shape[1]  # n padded to whole blocks

    blocks = out.reshape(N_COLUMNS, n_blocks, block_size)
    aggregates = aggregates_from_columns(blocks[:WEALTH_END].sum(axis=2).T.get(), params)
    cols = {"wealth": out[WEALTH_END, :n], "income": out[COLUMN[S.A_INCOME], :n],
            "consumption": out[COLUMN[S.A_CONSUMPTION], :n]}
    blk = cp.arange(n, dtype=cp.int64) // block_size
    hist = cp.zeros((n_blocks, S.N_HISTOGRAMS, S.N_BINS))
    rows = (
        (0, {S.H_WEALTH_COUNT: None, S.H_WEALTH_SUM: cols["wealth"],
             S.H_WEALTH_RISKY: out[COLUMN[S.A_RISKY_END], :n], S.H_WEALTH_CONSUMPTION: cols["consumption"]}),
        (1, {S.H_INCOME_COUNT: None, S.H_INCOME_SUM: cols["income"]}),
        (2, {S.H_CONSUMPTION_COUNT: None, S.H_CONSUMPTION_SUM: cols["consumption"]}),
    )
    for which, targets in rows:
        flat = blk * S.N_BINS + bins[which, :n]
        for row, weights in targets.items():
            h = cp.bincount(flat, weights=weights, minlength=n_blocks * S.N_BINS)
            hist[:, row, :] = h.reshape(n_blocks, S.N_BINS)
    extrema = cp.empty((n_blocks, S.N_EXTREMA))
    for lo, hi, v in ((S.X_WEALTH_MIN, S.X_WEALTH_MAX, cols["wealth"]),
                      (S.X_INCOME_MIN, S.X_INCOME_MAX, cols["income"]),
                      (S.X_CONSUMPTION_MIN, S.X_CONSUMPTION_MAX, cols["consumption"])):
        padded_lo = cp.full(stride, cp.inf)
        padded_lo[:n] = v
        padded_hi = cp.full(stride, -cp.inf)
        padded_hi[:n] = v
        extrema[:, lo] = padded_lo.reshape(n_blocks, block_size).min(axis=1)
        extrema[:, hi] = padded_hi.reshape(n_blocks, block_size).max(axis=1)
    return Partials(aggregates, hist.get(), extrema.get())
