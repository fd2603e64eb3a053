"""The household step, fused CPU implementation (Numba): no household-sized temporaries.

Same arithmetic, in the same order, as ``kernels.step_numpy`` (the specification; read that first),
so the results are bit-identical (tested). No ``fastmath``: reassociation or FMA contraction would
break that identity. Compiled on first use and cached on disk (``cache=True``) so Ray workers do
not recompile.

Households go through in tiles of ``TILE`` (a few L1-resident buffers), in passes per tile:

0. the three uniforms from one hash, and the productivity transition (the inverse CDF column by
   column);
1. everything else a household does, independent across households, so LLVM vectorises it: (a)
   job transitions and income, (b) decisions from the policy tables and the portfolio; counts are
   integer sums here;
2. the floating-point sums, histograms and extrema, sequentially in household order (the order
   the specification fixes, so no reassociation is needed to keep the bits).

Passes 0 and 1 vectorise only when LLVM knows the arrays do not overlap (``noalias``; ``step`` checks it)
and indices are unsigned (no negative-index wrap-around); it is asked for 512-bit vectors where the
CPU has them. Measured figures: docs/performance.md.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from kernels import aggregates, rng
from kernels import schema as S
from kernels.step_numpy import Partials

TILE = 512  # households per tile: the tile buffers (about 50 KB) stay in L1/L2


def _expose_noalias_option() -> bool:
    """Let ``njit`` take ``noalias=True``: Numba has the compiler flag (its parfors set it) but no
    decorator option. With it, array arguments are LLVM ``noalias`` and passes 0-1 vectorise; without
    it (a Numba that changed its internals) the kernel is the same arithmetic, only slower."""
    try:
        from numba.core.cpu import CPUTargetOptions
        from numba.core.options import TargetOptions

        if not hasattr(CPUTargetOptions, "noalias"):
            CPUTargetOptions.noalias = TargetOptions.Mapping("noalias")
        return True
    except (ImportError, AttributeError):
        return False


_NOALIAS = {"noalias": True} if _expose_noalias_option() else {}

_GOLDEN = np.uint64(rng.GOLDEN)
_MIX1 = np.uint64(rng.MIX1)
_MIX2 = np.uint64(rng.MIX2)
_SH30, _SH27, _SH31, _SH11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@intrinsic
def _float_bits(typingctx, v):
    """Reinterpret a float64 as int64 (a register move, no arithmetic)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@intrinsic
def _prefer_512_bit_vectors(typingctx):
    """Mark the enclosing compiled function with LLVM's ``"prefer-vector-width"="512"``.

    On AVX-512 CPUs LLVM vectorises with 256-bit registers unless told otherwise (it assumes the
    wider units lower the clock); this kernel measured 15% faster at full width. A function
    attribute, so no other code in the process changes; on CPUs without AVX-512 it does nothing.
    llvmlite's attribute set only admits flag attributes, hence ``set.add`` for this key-value one.
    """
    sig = types.none()

    def codegen(context, builder, signature, args):
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always", cache=True)
def _mix64(x):
    x = (x ^ (x >> _SH30)) * _MIX1
    x = (x ^ (x >> _SH27)) * _MIX2
    return x ^ (x >> _SH31)


@njit(inline="always", cache=True)
def _uniform(h, word):
    return np.float64(_mix64(h ^ word) >> _SH11) * rng.TO_UNIT


@njit(inline="always", cache=True)
def _bin(v):
    if v < S.V_MIN:
        return 0
    if v >= S.V_MAX:
        return S.N_BINS - 1
    return (_float_bits(v) >> S.BIN_SHIFT) - S.BIN_OFFSET + 1


@njit(cache=True, nogil=True, **_NOALIAS)
def _step(b, k, x, z, e, first_id, key, w_job, w_z, w_task, p, productivity, cdf, c_table,
          share_table, block_size, agg, hist, ext, grid_lo, inv_width,
          t_uz, t_uj, t_ut, t_m, t_q0, t_row, t_zn, t_b0, t_k0, t_eff, t_c, t_inc, t_bw, t_by, t_bc):
    # grid_lo, inv_width and the t_* tile buffers are arguments, not locals, so that they too are
    # noalias: LLVM cannot vectorise a pass if a buffer might overlap the state it writes.
    _prefer_512_bit_vectors()
    n = b.shape[0]
    n_z = productivity.shape[0]
    n_grid = c_table.shape[1]
    phi = p[S.P_AUTOMATION]
    one_minus_phi = 1.0 - phi
    hazard_automated = p[S.P_HAZARD_DISPLACEMENT]
    separation = p[S.P_SEPARATION]
    job_finding = p[S.P_JOB_FINDING]
    wage = p[S.P_WAGE]
    tax_l = p[S.P_TAX_LABOUR]
    benefit_level = p[S.P_BENEFIT]
    ubi = p[S.P_UBI]
    ubi_invested = ubi * p[S.P_UBI_INVEST_SHARE]
    r_safe = p[S.P_RETURN_SAFE] - 1.0
    r_risky = p[S.P_RETURN_RISKY] - 1.0
    r_gain = p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_INCOME]
    tax_k = p[S.P_TAX_CAPITAL]
    keep_k = 1.0 - tax_k
    tax_w = p[S.P_TAX_WEALTH]
    dividend = p[S.P_DIVIDEND]
    tax_c = p[S.P_TAX_CONSUMPTION]
    fee = p[S.P_PAYMENT_FEE]
    price = 1.0 + tax_c + fee
    limit = p[S.P_BORROWING_LIMIT]
    poverty_line = p[S.P_POVERTY_LINE]
    grid_min = p[S.P_GRID_MIN]
    span = p[S.P_GRID_MAX] - grid_min
    inv_span = 1.0 / span
    inv_price = 1.0 / price
    inv = 1.0 / (n_grid - 1)
    # grid points and reciprocal interval widths, tabulated once (same arithmetic as step_numpy)
    for jj in range(n_grid - 1):
        x0 = jj * inv
        x1 = (jj + 1) * inv
        m0 = grid_min + span * (x0 * x0)
        grid_lo[jj] = m0
        inv_width[jj] = 1.0 / ((grid_min + span * (x1 * x1)) - m0)
    key64 = np.uint64(key)
    cdf_flat = cdf.ravel()
    c_flat = c_table.ravel()
    s_flat = share_table.ravel()

    n_blocks = agg.shape[0]
    for blk in range(n_blocks):
        lo = blk * block_size
        hi = min(lo + block_size, n)
        n_emp = n_unemp = n_auto = n_poor = 0  # integer counts: exact in any order
        s_eff = s_c = s_b0 = s_k0 = s_b1 = s_k1 = s_inc = 0.0  # aggregates.SUMMED, in order
        w_min, w_max = np.inf, -np.inf
        y_min, y_max = np.inf, -np.inf
        c_min, c_max = np.inf, -np.inf
        hb = np.uint64(blk)  # unsigned indices: no negative-index wrap-around code
        for t0 in range(lo, hi, TILE):
            nt = min(TILE, hi - t0)

            # pass 0: the household's three uniforms from one hash (a short loop of independent
            # multiplies), then the productivity transition. The inverse CDF counts the row's
            # entries <= u one CDF column at a time across the tile (a vectorised gather and compare
            # per column), not one household at a time: a search per household would not
            # vectorise, and its branches would mispredict because the next state is random.
            for ii in range(nt):
                i = np.uint64(t0 + ii)
                hh = _mix64(key64 + _GOLDEN * (first_id + i))
                t_uz[ii] = _uniform(hh, w_z)
                t_uj[ii] = _uniform(hh, w_job)
                t_ut[ii] = _uniform(hh, w_task)
                t_row[ii] = np.uint64(z[i]) * np.uint64(n_z)
                t_zn[ii] = 0
            for jz in range(n_z - 1):
                for ii in range(nt):
                    t_zn[ii] += t_uz[ii] >= cdf_flat[t_row[ii] + np.uint64(jz)]

            # pass 1a: job transitions and income (vectorised). Branches are selects; the task
            # uniform is drawn for everyone and used only by re-employed automated workers.
            for ii in range(nt):
                i = np.uint64(t0 + ii)  # unsigned: no wrap-around select, so loads stay affine
                u_job = t_uj[ii]
                u_task = t_ut[ii]
                bi, ki, xi, ei = b[i], k[i], x[i], np.int64(e[i])
                z_new = t_zn[ii]

                # 1. job transitions
                automated = xi < phi
                employed = ei == S.EMPLOYED
                hazard = hazard_automated if automated else 0.0
                e_stay = (S.DISPLACED if u_job < hazard
                          else (S.UNEMPLOYED if u_job < hazard + separation else S.EMPLOYED))
                hired = u_job < job_finding
                e_new = e_stay if employed else (S.EMPLOYED if hired else ei)
                new_task = np.float32(phi + u_task * one_minus_phi)
                xi = new_task if ((not employed) & hired & automated) else xi

                # 2. income
                working = e_new == S.EMPLOYED
                efficiency = productivity[z_new] if working else 0.0
                labour_income = wage * productivity[z_new] if working else 0.0
                labour_tax = tax_l * labour_income
                benefit = 0.0 if working else benefit_level
                capital_income = bi * r_safe + ki * r_risky
                capital_tax = tax_k * capital_income
                wealth_begin = bi + ki
                wealth_tax = tax_w * wealth_begin
                income_total = ((labour_income - labour_tax) + benefit + ubi + dividend
                                + (capital_income - capital_tax)) - wealth_tax
                m = wealth_begin + income_total - ubi_invested
                revaluation = (ki * r_gain) * keep_k
                income = income_total - revaluation
                x[i], z[i], e[i] = xi, z_new, e_new
                t_m[ii] = m
                t_q0[ii] = (e_new * n_z + z_new) * n_grid
                t_b0[ii], t_k0[ii], t_eff[ii], t_inc[ii] = bi, ki, efficiency, income
                t_by[ii] = _bin(income)
                n_emp += working
                n_unemp += e_new == S.UNEMPLOYED
                n_auto += employed & automated
                n_poor += income < poverty_line

            # pass 1b: decisions and portfolio (vectorised). Split from 1a so that each loop's
            # dependency chain (hash -> income -> square root -> table gathers) is short enough
            # for the CPU to overlap several households.
            for ii in range(nt):
                i = np.uint64(t0 + ii)
                m = t_m[ii]
                q0 = t_q0[ii]
                # 3. decisions
                t = math.sqrt(max(m - grid_min, 0.0) * inv_span) * (n_grid - 1)
                j = min(int(t), n_grid - 2)
                w = (m - grid_lo[j]) * inv_width[j]
                q = q0 + j
                c0 = c_flat[q]
                c = c0 + w * (c_flat[q + 1] - c0)
                ws = min(max(w, 0.0), 1.0)
                s0 = s_flat[q]
                share = min(max(s0 + ws * (s_flat[q + 1] - s0), 0.0), 1.0)
                c = max(min(c, (m + limit) * inv_price), 0.0)

                # 4. portfolio
                a = m - price * c
                invested = share * max(a, 0.0)
                k_new = invested + ubi_invested
                b_new = a - invested
                wealth_end = b_new + k_new
                b[i], k[i] = b_new, k_new
                t_c[ii] = c
                t_bw[ii], t_bc[ii] = _bin(wealth_end), _bin(c)

            # pass 2: floating-point sums in household order (as np.bincount sums), histograms
            # (bin-major: a bin's fields share a cache line) and extrema.
            for ii in range(nt):
                i = np.uint64(t0 + ii)
                c, income = t_c[ii], t_inc[ii]
                b_new, k_new = b[i], k[i]
                wealth_end = b_new + k_new
                s_eff += t_eff[ii]
                s_c += c
                s_b0 += t_b0[ii]
                s_k0 += t_k0[ii]
                s_b1 += b_new
                s_k1 += k_new
                s_inc += income
                bw, by, bc = t_bw[ii], t_by[ii], t_bc[ii]
                hist[hb, bw, S.H_WEALTH_COUNT] += 1.0
                hist[hb, bw, S.H_WEALTH_SUM] += wealth_end
                hist[hb, bw, S.H_WEALTH_RISKY] += k_new
                hist[hb, bw, S.H_WEALTH_CONSUMPTION] += c
                hist[hb, by, S.H_INCOME_COUNT] += 1.0
                hist[hb, by, S.H_INCOME_SUM] += income
                hist[hb, bc, S.H_CONSUMPTION_COUNT] += 1.0
                hist[hb, bc, S.H_CONSUMPTION_SUM] += c
                w_min, w_max = min(w_min, wealth_end), max(w_max, wealth_end)
                y_min, y_max = min(y_min, income), max(y_max, income)
                c_min, c_max = min(c_min, c), max(c_max, c)

        a_row = agg[blk]
        a_row[S.A_HOUSEHOLDS] = hi - lo
        a_row[S.A_EMPLOYED] = n_emp
        a_row[S.A_UNEMPLOYED] = n_unemp
        a_row[S.A_DISPLACED] = (hi - lo) - n_emp - n_unemp
        a_row[S.A_AUTOMATED_EMPLOYED] = n_auto
        a_row[S.A_EFFECTIVE_LABOUR] = s_eff
        a_row[S.A_CONSUMPTION] = s_c
        a_row[S.A_SAFE_BEGIN] = s_b0
        a_row[S.A_RISKY_BEGIN] = s_k0
        a_row[S.A_SAFE_END] = s_b1
        a_row[S.A_RISKY_END] = s_k1
        a_row[S.A_INCOME] = s_inc
        a_row[S.A_POOR] = n_poor
        e_row = ext[blk]
        e_row[S.X_WEALTH_MIN], e_row[S.X_WEALTH_MAX] = w_min, w_max
        e_row[S.X_INCOME_MIN], e_row[S.X_INCOME_MAX] = y_min, y_max
        e_row[S.X_CONSUMPTION_MIN], e_row[S.X_CONSUMPTION_MAX] = c_min, c_max


def _check_disjoint(arrays: dict) -> None:
    """The kernel is compiled with noalias: no two arrays it is given may share memory."""
    items = list(arrays.items())
    for a, (name_a, arr_a) in enumerate(items):
        for name_b, arr_b in items[a + 1:]:
            if np.may_share_memory(arr_a, arr_b):
                raise ValueError(f"household state arrays '{name_a}' and '{name_b}' share memory; "
                                 "give each state field its own array")


def step(state, first_id, period, key, params, productivity, transition_cdf, c_table, share_table,
         block_size) -> Partials:
    """Same contract as ``kernels.step_numpy.step``."""
    _check_disjoint(state)
    n = state["safe"].shape[0]
    n_blocks = -(-n // block_size)
    n_grid = c_table.shape[1]
    agg = np.zeros((n_blocks, S.N_AGGREGATES))
    hist = np.zeros((n_blocks, S.N_BINS, S.N_HISTOGRAMS))  # bin-major inside the kernel
    ext = np.empty((n_blocks, S.N_EXTREMA))
    words = [np.uint64(rng.period_word(period, st))
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK)]
    # read-only inputs may share memory with each other (noalias only forbids overlap with an
    # array the kernel writes, and every written array is fresh here or checked above)
    tables = [np.ascontiguousarray(a, dtype=np.float64)
              for a in (params, productivity, transition_cdf, c_table, share_table)]
    grid = [np.empty(n_grid - 1) for _ in range(2)]
    tiles = ([np.empty(TILE) for _ in range(4)]  # t_uz, t_uj, t_ut, t_m
             + [np.empty(TILE, np.int64), np.empty(TILE, np.uint64), np.empty(TILE, np.int64)]
             + [np.empty(TILE) for _ in range(5)] + [np.empty(TILE, np.uint64) for _ in range(3)])
    _step(state["safe"], state["risky"], state["task"], state["productivity"], state["employment"],
          np.uint64(first_id), np.uint64(key), *words, *tables, block_size, agg, hist, ext, *grid,
          *tiles)
    aggregates.complete(agg, tables[0])
    return Partials(agg, np.ascontiguousarray(hist.transpose(0, 2, 1)), ext)
