"""The households' equity demand schedule: what they would hold at each of a few candidate prices.

A priced equity market (``economy.equity.market=priced``; docs/economy.md, "The priced equity
market") clears within the period. A candidate price p_j changes what the household sees this
period, the realised return on its shares R_j = (p_j + d) / p_-1 (so its cash on hand), and what it
expects from here, E[R] = 1 + d / p_j (so its policy). Each candidate is a full params vector
(row j of ``params``), built by the coordinator exactly as the step's would be at that price, with
its own policy tables.

For every household this pass draws the same uniforms and transitions as the step
(``kernels.household``'s phases, compiled by Numba as in ``kernels.step_fused``), then, per
candidate, income, the decision and the portfolio, and adds the end-of-period risky holdings k'_j
to its block's sum in household order. So column j of the result is, bit for bit, the step's
``risky_end`` sum had it run with ``params[j]`` (tested), and the sums, combined in block order,
are the same on any shard layout. The state is not changed. A CuPy shard's state is copied to the
host for the pass (one host core, per candidate; the GPU step sums its blocks by a reduction tree,
so there the schedule equals the step's sums to rounding, not bit for bit: the states it leaves,
and so the layout-independence, are unchanged).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels import household, rng, schema
from kernels.step_fused import _SOURCES_FINGERPRINT, TILE, _inline_all, _params_tuple

_mix64, _household_hash, _uniform = _inline_all(rng, ("mix64", "household_hash", "uniform"))
(_productivity_after, _job_transition, _income, _grid_point, _grid_interval, _grid_index,
 _policy_row, _consumption_and_share, _portfolio, _treated) = _inline_all(household, (
     "productivity_after", "job_transition", "income", "grid_point", "grid_interval", "grid_index",
     "policy_row", "consumption_and_share", "portfolio", "treated"))


def _make_schedule(sources_fingerprint: str):
    """The compiled pass; it closes over the fingerprint of the inlined modules' sources so that
    Numba's disk cache is recompiled when they change (as ``kernels.step_fused`` does).

    Tiled as the step is: for a tile of households (within one block), first what every candidate
    shares (the hash, the uniforms, the productivity and job transitions: they read only the
    labour market's parameters, the same in every candidate); then per candidate, with its
    parameters read once into registers (``_params_tuple``), income, the decision and the
    portfolio of the tile's households, k'_j summed in household order. The sums are the same
    additions in the same order as one household at a time (and as the step's), so the same bits.
    The price search asks for one candidate a pass, so what it gains is from the candidate's
    parameters read as constants rather than from memory, the tabulated intervals and the tiled
    productivity count: a one-candidate pass about 1.5 times as fast (docs/performance.md, stop
    14); a schedule of several candidates also shares the tile's draws. ``TILE`` (the step's) only
    sizes the buffers: the sums do not depend on it."""

    @njit(cache=True, nogil=True)
    def _schedule(b, k, x, z, e, ty, first_id, key, w_job, w_z, w_task, w_treat, params, productivity, cdf,
                  c_table, share_table, block_size, out):
        sources_fingerprint  # noqa: B018 (keys the disk cache)
        n = b.shape[0]
        n_z = productivity.shape[0]
        n_grid = c_table.shape[3]  # (candidates, types, states, grid points)
        n_cand = params.shape[0]
        cdf_flat = cdf.ravel()
        c_flat = c_table.reshape(n_cand, -1)  # candidate j's tables: row j
        s_flat = share_table.reshape(n_cand, -1)
        key64 = np.uint64(key)
        for j in range(n_cand):  # the grid is the same for every candidate (kernel_params)
            if params[j, schema.P_GRID_MIN] != params[0, schema.P_GRID_MIN] or \
                    params[j, schema.P_GRID_MAX] != params[0, schema.P_GRID_MAX]:
                raise ValueError("candidate params must share the policy grid")
        p0 = _params_tuple(params[0])
        grid_min = p0[schema.P_GRID_MIN]
        span = p0[schema.P_GRID_MAX] - grid_min
        inv_span = 1.0 / span
        step = 1.0 / (n_grid - 1)
        grid_lo, inv_width = np.empty(n_grid - 1), np.empty(n_grid - 1)
        t_uz, t_uj, t_ut, t_utr = np.empty(TILE), np.empty(TILE), np.empty(TILE), np.empty(TILE)
        t_row, t_zn = np.empty(TILE, np.uint64), np.empty(TILE, np.int64)
        t_level, t_working, t_q0 = np.empty(TILE), np.empty(TILE, np.bool_), np.empty(TILE, np.int64)
        for jj in range(n_grid - 1):  # the grid's intervals, tabulated once (as the step does)
            grid_lo[jj], inv_width[jj] = _grid_interval(jj, grid_min, span, step)
        for blk in range(out.shape[0]):
            lo = blk * block_size
            hi = min(lo + block_size, n)
            for t0 in range(lo, hi, TILE):
                nt = min(TILE, hi - t0)
                # what every candidate shares: the uniforms, then the productivity transition
                # counted one CDF column at a time across the tile, then the job transition. The
                # step's pass 0 (kernels/step_fused.py), repeated rather than shared so that the
                # step's compiled loop stays as measured; household.productivity_after one
                # household at a time made this pass 22 % slower (12.7 against 10.4 ms for 500,000
                # households). The schedule's test holds the two to the same bits.
                for ii in range(nt):
                    hh = _household_hash(key64, first_id + np.uint64(t0 + ii))
                    t_uz[ii] = _uniform(hh, w_z)
                    t_uj[ii] = _uniform(hh, w_job)
                    t_ut[ii] = _uniform(hh, w_task)
                    t_utr[ii] = _uniform(hh, w_treat)
                    t_row[ii] = np.uint64(z[np.uint64(t0 + ii)]) * np.uint64(n_z)
                    t_zn[ii] = 0
                for jz in range(n_z - 1):
                    for ii in range(nt):
                        t_zn[ii] += t_uz[ii] >= cdf_flat[t_row[ii] + np.uint64(jz)]
                for ii in range(nt):
                    i = np.uint64(t0 + ii)
                    z_new = t_zn[ii]
                    e_new, _x_new, _auto = _job_transition(np.int64(e[i]), x[i], t_uj[ii], t_ut[ii], p0)
                    t_working[ii] = e_new == schema.EMPLOYED
                    t_level[ii] = productivity[z_new]
                    t_q0[ii] = _policy_row(np.int64(ty[i]), e_new, z_new, n_z, n_grid)
                for j in range(n_cand):
                    p = _params_tuple(params[j])
                    c_j, s_j = c_flat[j], s_flat[j]
                    acc = out[blk, j]
                    for ii in range(nt):
                        i = np.uint64(t0 + ii)  # unsigned: no wrap-around select, so loads stay affine
                        is_treated = _treated(t_utr[ii], b[i] + k[i], p)
                        cash, _y = _income(b[i], k[i], t_working[ii], t_level[ii], is_treated, p)
                        jj = _grid_index(cash, grid_min, inv_span, n_grid)
                        ju = np.uint64(jj)
                        c, share = _consumption_and_share(cash, (cash - grid_lo[ju]) * inv_width[ju], t_q0[ii] + jj,
                                                          c_j, s_j, p)
                        _b_new, k_new = _portfolio(cash, c, share, p)
                        acc += k_new
                    out[blk, j] = acc

    return _schedule


_schedule = _make_schedule(_SOURCES_FINGERPRINT)


def share_demand(state, first_id, period, key, params, productivity, transition_cdf, c_table,
                 share_table, block_size) -> np.ndarray:
    """Per-block sums of end-of-period risky holdings k' (goods), one column per candidate: an
    array (n_blocks, n_candidates). Same inputs as the step, except that ``params`` is
    (n_candidates, N_PARAMS) and ``c_table``, ``share_table`` are (n_candidates, types, states, grid):
    each candidate's own beliefs give its own policy. The state is read, not changed. A GPU state
    is copied to the host."""
    if not isinstance(state["safe"], np.ndarray):  # CuPy: the schedule runs on the host copy
        state = {name: v.get() for name, v in state.items()}
    params = np.ascontiguousarray(np.atleast_2d(params), dtype=np.float64)
    if np.ndim(c_table) == 3:  # one set of (types, states, grid) tables for every candidate
        c_table, share_table = (np.broadcast_to(t, (params.shape[0], *np.shape(t))) for t in (c_table, share_table))
    n = state["safe"].shape[0]
    out = np.zeros((-(-n // block_size), params.shape[0]))
    words = [np.uint64(rng.period_word(period, st))
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK, rng.STREAM_TREATMENT)]
    tables = [np.ascontiguousarray(a, dtype=np.float64)
              for a in (productivity, transition_cdf, c_table, share_table)]
    _schedule(state["safe"], state["risky"], state["task"], state["productivity"], state["employment"], state["type"],
              np.uint64(first_id), np.uint64(key), *words, params, *tables, block_size, out)
    return out
