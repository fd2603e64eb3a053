"""The household step, NumPy reference implementation: the readable specification.

One call advances every household of a shard by one period (docs/model.md, "Households"):

1. Job transitions. With one uniform u (stream JOB) per household:
   employed on an automated task (x < Phi):  displaced if u < hazard,
                                            else unemployed if u < hazard + separation;
   employed on a human task:                 unemployed if u < separation;
   unemployed or displaced:                  employed if u < job_finding, and a worker whose task
                                             is automated draws a new one, x = Phi + u_task (1 - Phi).
   Productivity z moves along its Markov chain (stream PRODUCTIVITY, inverse CDF).
2. Income (goods per period):
   m = b + k + r_b b + r_k k - tau_k (r_b b + r_k k) - tau_w (b + k)
       + (1 - tau_l) w z 1[employed] + benefit 1[not employed] + (1 - s_ubi) UBI + dividend,
   with r = R - 1 the net returns. Measured disposable income leaves out the revaluation of risky
   holdings, v = k (R_k - R_inc)(1 - tau_k) (R_inc: the payout part of R_k), as national accounts
   do: y = m - (b + k) + s_ubi UBI - v, so that income is never driven negative by a bad quarter.
3. Decisions: c = c_j(m, s), share = share_j(m, s) from the solver's tables of the household's type
   j (one table per discount factor) at the discrete state s = e * n_z + z, linear in m on the
   kernel grid; spending costs (1 + tau_c + f) c.
4. Portfolio: a = m - (1 + tau_c + f) c >= -borrowing_limit; k' = share a^+ + s_ubi UBI, b' = a - share a^+.
5. Partial aggregates per block of households: the quantities of ``kernels.household.SUMMED``
   (each household's terms from ``household.contributions``) summed sequentially in household order (np.bincount accumulates in index order, like the fused
   loop), so every backend gets the same bits; the others (taxes, transfers, capital income)
   follow from those sums by ``kernels.aggregates.complete``.

The fused and CuPy kernels run ``kernels.household``'s scalar phases, which implement exactly this
arithmetic, in this order; the tests hold them bit-identical to this readable oracle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import aggregates as aggregates_rules
from kernels import household, rng
from kernels import schema as S


@dataclass
class Partials:
    """Per-block partial results of one step for one shard (blocks in household order)."""

    aggregates: np.ndarray  # (n_blocks, N_AGGREGATES) float64 sums
    histograms: np.ndarray  # (n_blocks, N_HISTOGRAMS, N_BINS) float64
    extrema: np.ndarray  # (n_blocks, N_EXTREMA) float64 min/max


def policy_weights(m: np.ndarray, grid_min: float, grid_max: float, n_grid: int):
    """Index j and weight w of m on the quadratic kernel grid m_j = g0 + (g1 - g0)(j/(G-1))^2.

    The grid is dense where the consumption function bends (near the borrowing limit). The index
    comes from a square root, not a search; w > 1 above the grid extrapolates linearly. Divisions
    are multiplications by reciprocals (1/span, and 1/(m_{j+1} - m_j), which the fused kernel
    tabulates): every backend forms the same reciprocals, so the bits agree.
    """
    span = grid_max - grid_min
    step = 1.0 / (n_grid - 1)
    t = np.sqrt(np.maximum(m - grid_min, 0.0) * (1.0 / span)) * (n_grid - 1)
    j = np.minimum(t.astype(np.int64), n_grid - 2)
    m0 = household.grid_point(j, grid_min, span, step)
    m1 = household.grid_point(j + 1, grid_min, span, step)
    return j, (m - m0) * (1.0 / (m1 - m0))


def per_type(table: np.ndarray) -> np.ndarray:
    """A policy table as (types, states, grid points): a (states, grid points) table is one type's."""
    table = np.asarray(table)
    return table.reshape((-1,) + table.shape[-2:])


def kernel_grid(grid_min: float, grid_max: float, n_grid: int) -> np.ndarray:
    """The cash-on-hand points m_j the policy tables are evaluated at (``household.grid_point``)."""
    return household.grid_point(np.arange(n_grid), grid_min, grid_max - grid_min, 1.0 / (n_grid - 1))


def step(
    state: dict[str, np.ndarray],
    first_id: int,
    period: int,
    key: int,
    params: np.ndarray,
    productivity: np.ndarray,
    transition_cdf: np.ndarray,
    c_table: np.ndarray,
    share_table: np.ndarray,
    block_size: int,
) -> Partials:
    """Advance the households in ``state`` (ids first_id ...) by one period, in place.

    ``c_table``, ``share_table``: (types, 3 n_z, n_grid), the policy of type j at [j]; a 2-D table
    is one type's. Every household's ``type`` must be below the number of tables."""
    p = params
    b, k = state["safe"], state["risky"]
    x, z, e, ty = state["task"], state["productivity"], state["employment"], state["type"]
    c_table, share_table = per_type(c_table), per_type(share_table)
    n = b.shape[0]
    n_z = productivity.shape[0]
    ids = np.arange(first_id, first_id + n, dtype=np.uint64)
    h = rng.household_hashes(key, ids)
    u_job = rng.uniforms_from_hash(h, period, rng.STREAM_JOB)
    u_z = rng.uniforms_from_hash(h, period, rng.STREAM_PRODUCTIVITY)
    u_task = rng.uniforms_from_hash(h, period, rng.STREAM_TASK)
    u_treat = rng.uniforms_from_hash(h, period, rng.STREAM_TREATMENT)

    # 1. job transitions
    phi = p[S.P_AUTOMATION]
    automated = x < phi
    employed = e == S.EMPLOYED
    automated_employed = employed & automated
    hazard = np.where(automated, p[S.P_HAZARD_DISPLACEMENT], 0.0)
    e_new = e.copy()
    e_new[employed & (u_job < hazard)] = S.DISPLACED
    e_new[employed & (u_job >= hazard) & (u_job < hazard + p[S.P_SEPARATION])] = S.UNEMPLOYED
    hired = ~employed & (u_job < p[S.P_JOB_FINDING])
    e_new[hired] = S.EMPLOYED
    new_task = hired & automated
    x_new = np.where(new_task, (phi + u_task * (1.0 - phi)).astype(np.float32), x)
    # first j with u < cdf[z, j]; the last column of the CDF is 1 by construction
    z_new = (u_z[:, None] >= transition_cdf[z, :-1]).sum(axis=1).astype(np.uint8)

    # 2. income
    working = e_new == S.EMPLOYED
    labour_income = np.where(working, p[S.P_WAGE] * productivity[z_new], 0.0)
    labour_tax = p[S.P_TAX_LABOUR] * labour_income
    benefit = np.where(working, 0.0, p[S.P_BENEFIT])
    ubi = p[S.P_UBI]
    ubi_invested = ubi * p[S.P_UBI_INVEST_SHARE]
    capital_income = b * (p[S.P_RETURN_SAFE] - 1.0) + k * (p[S.P_RETURN_RISKY] - 1.0)
    capital_tax = p[S.P_TAX_CAPITAL] * (b * (p[S.P_RETURN_SAFE] - 1.0) + k * (p[S.P_RETURN_RISKY_TAXED] - 1.0))
    wealth_begin = b + k
    wealth_tax = p[S.P_TAX_WEALTH] * wealth_begin
    treated = household.treated(u_treat, wealth_begin, p)  # a one-off transfer's random half
    income_total = (
        (labour_income - labour_tax)
        + benefit
        + ubi
        + p[S.P_DIVIDEND]
        + (capital_income - capital_tax)
        - wealth_tax
        + np.where(treated, p[S.P_TRANSFER], 0.0)
        - np.where(k > 0.0, p[S.P_PARTICIPATION_COST], 0.0)  # kappa, paid by equity holders
    )
    m = wealth_begin + income_total - ubi_invested
    revaluation = (((k * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_INCOME])) * (1.0 - p[S.P_TAX_CAPITAL]))
                   + (p[S.P_TAX_CAPITAL] * k) * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_TAXED]))
    income = income_total - revaluation

    # 3. decisions from the policy tables
    s = e_new.astype(np.int64) * n_z + z_new
    n_grid = c_table.shape[2]
    j, w = policy_weights(m, p[S.P_GRID_MIN], p[S.P_GRID_MAX], n_grid)
    c0, c1 = c_table[ty, s, j], c_table[ty, s, j + 1]
    c = c0 + w * (c1 - c0)
    ws = np.minimum(np.maximum(w, 0.0), 1.0)
    s0, s1 = share_table[ty, s, j], share_table[ty, s, j + 1]
    share = np.minimum(np.maximum(s0 + ws * (s1 - s0), 0.0), 1.0)
    price = 1.0 + p[S.P_TAX_CONSUMPTION] + p[S.P_PAYMENT_FEE]
    c = np.maximum(np.minimum(c, (m + p[S.P_BORROWING_LIMIT]) * (1.0 / price)), 0.0)

    # 4. portfolio
    a = m - price * c
    participates = (0.5 * (share * p[S.P_EXPECTED_EXCESS])) * a >= p[S.P_PARTICIPATION_COST]
    invested = np.where(participates, share * np.maximum(a, 0.0), 0.0)
    k_new = invested + ubi_invested
    b_new = a - invested
    wealth_end = b_new + k_new

    # 5. partial aggregates per block
    n_blocks = -(-n // block_size)
    blk = np.arange(n, dtype=np.int64) // block_size
    terms = household.contributions(e_new, automated_employed, np.where(working, productivity[z_new], 0.0),
                                    income, c, b, k, b_new, k_new, treated, p)  # the quantities summed per block
    aggregates = np.zeros((n_blocks, S.N_AGGREGATES))
    for name, values in zip(household.SUMMED, terms, strict=True):
        # counts as 0/1 floats: their sums are whole numbers, exact in any order
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,))
        aggregates[:, S.AGGREGATES[name]] = np.bincount(blk, weights=values, minlength=n_blocks)
    aggregates_rules.complete(aggregates, p)

    histograms = np.empty((n_blocks, S.N_HISTOGRAMS, S.N_BINS))
    by_bin = {
        "wealth": (S.bin_index(wealth_end), {S.H_WEALTH_COUNT: None, S.H_WEALTH_SUM: wealth_end,
                                             S.H_WEALTH_RISKY: k_new, S.H_WEALTH_CONSUMPTION: c}),
        "income": (S.bin_index(income), {S.H_INCOME_COUNT: None, S.H_INCOME_SUM: income}),
        "consumption": (S.bin_index(c), {S.H_CONSUMPTION_COUNT: None, S.H_CONSUMPTION_SUM: c}),
    }
    for bins, rows in by_bin.values():
        flat = blk * S.N_BINS + bins
        for row, weights in rows.items():
            hist = np.bincount(flat, weights=weights, minlength=n_blocks * S.N_BINS)
            histograms[:, row, :] = hist.reshape(n_blocks, S.N_BINS)

    extrema = np.empty((n_blocks, S.N_EXTREMA))
    starts = np.arange(n_blocks) * block_size
    for lo, hi, values in ((S.X_WEALTH_MIN, S.X_WEALTH_MAX, wealth_end),
                           (S.X_INCOME_MIN, S.X_INCOME_MAX, income),
                           (S.X_CONSUMPTION_MIN, S.X_CONSUMPTION_MAX, c)):
        extrema[:, lo] = np.minimum.reduceat(values, starts)
        extrema[:, hi] = np.maximum.reduceat(values, starts)

    b[:] = b_new
    k[:] = k_new
    x[:] = x_new
    z[:] = z_new
    e[:] = e_new
    return Partials(aggregates, histograms, extrema)
