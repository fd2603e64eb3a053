"""The household step on a CUDA GPU (CuPy RawKernel).

One thread per household does the arithmetic of ``kernels.step_numpy`` (the specification) in the
same order, writing the new state in place and the household's contributions to the per-block sums
of ``kernels.aggregates.SUMMED``; the per-block reductions are then CuPy reductions over a (column,
block, household) view, and ``kernels.aggregates.complete`` derives the other aggregates. The CUDA
source is generated from ``kernels.schema`` so the parameter and aggregate layouts have one source
of truth.

Agreement: the per-household arithmetic is IEEE double with no contraction (``--fmad=false``), so
states match the CPU bit for bit; per-block sums use CuPy's tree reductions and histogram sums use
atomics, so aggregates agree with the CPU to rounding (tested to 1e-12 relative where a GPU exists).
Histogram sums via atomics are not bit-reproducible run to run on the GPU; aggregates are.
"""
from __future__ import annotations

import numpy as np

from kernels import aggregates as aggregates_rules
from kernels import rng
from kernels import schema as S
from kernels.step_numpy import Partials

# per-household contribution columns: the summed aggregates (kernels.aggregates.SUMMED, in that
# order), then end-of-period wealth for the wealth histogram and extrema
COLUMN = {a: j for j, a in enumerate(aggregates_rules.SUMMED)}
WEALTH_END = len(COLUMN)
N_COLUMNS = len(COLUMN) + 1


def aggregates_from_columns(sums: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Per-block aggregates (n_blocks, N_AGGREGATES) from per-block sums of the contribution
    columns (n_blocks, >= len(SUMMED)); the derived aggregates by ``kernels.aggregates.complete``."""
    aggregates = np.zeros((sums.shape[0], S.N_AGGREGATES))
    aggregates[:, list(COLUMN)] = sums[:, : len(COLUMN)]
    return aggregates_rules.complete(aggregates, np.asarray(params, dtype=np.float64))


def _source() -> str:
    P = {k: v for k, v in S.PARAMS.items()}
    A = {name: COLUMN[a] for name, a in S.AGGREGATES.items() if a in COLUMN}  # name -> column
    return f"""
typedef unsigned long long u64;
__device__ __forceinline__ u64 mix64(u64 x) {{
    x = (x ^ (x >> 30)) * {rng.MIX1}ULL;
    x = (x ^ (x >> 27)) * {rng.MIX2}ULL;
    return x ^ (x >> 31);
}}
__device__ __forceinline__ double uniform(u64 h, u64 word) {{
    return (double)(mix64(h ^ word) >> 11) * {rng.TO_UNIT!r};
}}
__device__ __forceinline__ int bin_of(double v) {{
    if (v < {S.V_MIN!r}) return 0;
    if (v >= {S.V_MAX!r}) return {S.N_BINS - 1};
    return (int)((__double_as_longlong(v) >> {S.BIN_SHIFT}) - {S.BIN_OFFSET}LL + 1);
}}
extern "C" __global__ void household_step(
    double* b, double* k, float* x, unsigned char* z, unsigned char* e,
    const u64 first_id, const u64 key, const u64 w_job, const u64 w_z, const u64 w_task,
    const double* p, const double* productivity, const double* cdf, const int n_z,
    const double* c_table, const double* share_table, const int n_grid, const long long n,
    const long long stride, double* out, int* bins)
{{
    long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x;
    if (i >= n) return;
    const double phi = p[{P['automation']}];
    const double ubi = p[{P['ubi']}];
    const double ubi_invested = ubi * p[{P['ubi_invest_share']}];
    const double price = 1.0 + p[{P['tax_consumption']}] + p[{P['payment_fee']}];
    u64 hh = mix64(key + {rng.GOLDEN}ULL * (first_id + (u64)i));
    double u_job = uniform(hh, w_job);
    double u_z = uniform(hh, w_z);
    double bi = b[i], ki = k[i];
    float xi = x[i];
    int zi = z[i], ei = e[i];

    bool automated = xi < phi;
    bool employed = ei == {S.EMPLOYED};
    double hazard = automated ? p[{P['hazard_displacement']}] : 0.0;
    int e_new = ei;
    if (employed) {{
        if (u_job < hazard) e_new = {S.DISPLACED};
        else if (u_job < hazard + p[{P['separation']}]) e_new = {S.UNEMPLOYED};
    }} else if (u_job < p[{P['job_finding']}]) {{
        e_new = {S.EMPLOYED};
        if (automated) xi = (float)(phi + uniform(hh, w_task) * (1.0 - phi));
    }}
    int z_new = 0;
    for (int j = 0; j < n_z - 1; ++j) z_new += u_z >= cdf[zi * n_z + j];

    bool working = e_new == {S.EMPLOYED};
    double labour_income = working ? p[{P['wage']}] * productivity[z_new] : 0.0;
    double labour_tax = p[{P['tax_labour']}] * labour_income;
    double benefit = working ? 0.0 : p[{P['benefit']}];
    double capital_income = bi * (p[{P['return_safe']}] - 1.0) + ki * (p[{P['return_risky']}] - 1.0);
    double capital_tax = p[{P['tax_capital']}] * capital_income;
    double wealth_begin = bi + ki;
    double wealth_tax = p[{P['tax_wealth']}] * wealth_begin;
    double income_total = ((labour_income - labour_tax) + benefit + ubi + p[{P['dividend']}]
                           + (capital_income - capital_tax)) - wealth_tax;
    double m = wealth_begin + income_total - ubi_invested;
    double revaluation = (ki * (p[{P['return_risky']}] - p[{P['return_risky_income']}]))
                         * (1.0 - p[{P['tax_capital']}]);
    double income = income_total - revaluation;

    int s = e_new * n_z + z_new;
    double grid_min = p[{P['grid_min']}];
    double span = p[{P['grid_max']}] - grid_min;
    double inv = 1.0 / (n_grid - 1);
    double t = sqrt(fmax(m - grid_min, 0.0) * (1.0 / span)) * (n_grid - 1);
    int j = min((int)t, n_grid - 2);
    double x0 = j * inv, x1 = (j + 1) * inv;
    double m0 = grid_min + span * (x0 * x0);
    double m1 = grid_min + span * (x1 * x1);
    double w = (m - m0) * (1.0 / (m1 - m0));
    const double* ct = c_table + (long long)s * n_grid;
    const double* st = share_table + (long long)s * n_grid;
    double c = ct[j] + w * (ct[j + 1] - ct[j]);
    double ws = fmin(fmax(w, 0.0), 1.0);
    double share = fmin(fmax(st[j] + ws * (st[j + 1] - st[j]), 0.0), 1.0);
    c = fmax(fmin(c, (m + p[{P['borrowing_limit']}]) * (1.0 / price)), 0.0);

    double a = m - price * c;
    double invested = share * fmax(a, 0.0);
    double k_new = invested + ubi_invested;
    double b_new = a - invested;
    b[i] = b_new; k[i] = k_new; x[i] = xi; z[i] = (unsigned char)z_new; e[i] = (unsigned char)e_new;

    double* o = out + i;
    o[{A['households']} * stride] = 1.0;
    o[{A['employed']} * stride] = working ? 1.0 : 0.0;
    o[{A['unemployed']} * stride] = e_new == {S.UNEMPLOYED} ? 1.0 : 0.0;
    o[{A['displaced']} * stride] = e_new == {S.DISPLACED} ? 1.0 : 0.0;
    o[{A['automated_employed']} * stride] = (employed && automated) ? 1.0 : 0.0;
    o[{A['effective_labour']} * stride] = working ? productivity[z_new] : 0.0;
    o[{A['consumption']} * stride] = c;
    o[{A['safe_begin']} * stride] = bi;
    o[{A['risky_begin']} * stride] = ki;
    o[{A['safe_end']} * stride] = b_new;
    o[{A['risky_end']} * stride] = k_new;
    o[{A['income']} * stride] = income;
    o[{A['poor']} * stride] = income < p[{P['poverty_line']}] ? 1.0 : 0.0;
    o[{WEALTH_END} * stride] = b_new + k_new;
    bins[i] = bin_of(b_new + k_new);
    bins[stride + i] = bin_of(income);
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
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK)]
    threads = 256
    _kernel()(((n + threads - 1) // threads,), (threads,), (
        state["safe"], state["risky"], state["task"], state["productivity"], state["employment"],
        np.uint64(first_id), np.uint64(key), *words, p, productivity, cdf,
        np.int32(productivity.shape[0]), c_table, share_table, np.int32(c_table.shape[1]),
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
