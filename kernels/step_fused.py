"""The household step, fused CPU implementation (Numba): no household-sized temporaries.

The arithmetic is ``kernels.household``'s scalar phases (and ``kernels.rng``'s generator), compiled
here with ``inline="always"`` into loops over tiles; it equals ``kernels.step_numpy`` (the readable
oracle) bit for bit (tested). No ``fastmath``: reassociation or FMA contraction would
break that identity. Compiled on first use and cached on disk (``cache=True``) so Ray workers do
not recompile.

Households go through in tiles of ``TILE`` (a few L1-resident buffers), in passes per tile:

0. the three uniforms from one hash, and the productivity transition (the inverse CDF column by
   column);
1. everything else a household does, independent across households, so LLVM vectorises it: (a)
   job transitions and income, and the counted terms of ``household.contributions``
   (``household.COUNTED``) as integer sums; (b) decisions from the policy tables and the
   portfolio (and any count whose term reads the decisions: none today);
2. the floating-point sums (``household.AMOUNTS``), histograms and extrema, sequentially in
   household order (the order the specification fixes, so no reassociation is needed to keep the
   bits).

Compiled twice (``_make_kernel``): a period that pays no one-off transfer, the common case, runs
a kernel without the treatment draw and the sums of ``household.TRANSFER_ONLY`` (left 0).

Passes 0 and 1 vectorise only when LLVM knows the arrays do not overlap (``noalias``; ``step`` checks it)
and indices are unsigned (no negative-index wrap-around); it is asked for 512-bit vectors where the
CPU has them. The phases read the parameters from a tuple (registers) and the policy tables through
bare pointers. Measured figures: docs/performance.md.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from types import FunctionType
from pathlib import Path

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from kernels import aggregates, household, inputs, rng, schema
from kernels.step_numpy import Partials, per_type

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



def _inline_all(module, names: tuple[str, ...]) -> tuple:
    """``njit(inline="always")`` versions of ``module``'s plain functions ``names``, whose calls to
    one another resolve to the compiled versions (each is rebuilt over a copy of the module's
    globals holding them). The modules stay free of Numba, for NumPy and the CUDA translator."""
    scope = dict(vars(module))
    for name in names:
        func = scope[name]
        scope[name] = njit(inline="always")(
            FunctionType(func.__code__, scope, name, func.__defaults__, func.__closure__))
    return tuple(scope[name] for name in names)


# module globals, which Numba resolves at compile time (it cannot see into a namespace object)
_mix64, _household_hash, _uniform = _inline_all(rng, ("mix64", "household_hash", "uniform"))
(_job_transition, _income, _grid_point, _grid_interval, _grid_index, _consumption_and_share,
 _portfolio, _contributions, _treated, _policy_row) = _inline_all(household, (
     "job_transition", "income", "grid_point", "grid_interval", "grid_index",
     "consumption_and_share", "portfolio", "contributions", "treated", "policy_row"))
# household.SUMMED = COUNTED + AMOUNTS, and aggregate column q is SUMMED[q] (kernels.schema)
N_COUNTED = schema.N_COUNTED
N_AMOUNTS = schema.N_SUMMED - N_COUNTED


def _make_adder(first: int, n: int, cast: str, skipped: tuple[str, ...] = ()):
    """``add(acc, terms)``: the n-tuple acc + cast(terms[first:first + n]), element by element,
    except the sums named in ``skipped``, left as they are. Tuples stay in registers, so the n
    running sums are n independent chains (generated: Numba has no loop over a tuple's elements of
    mixed types)."""
    names = household.SUMMED[first:first + n]
    source = ("def add(acc, terms):\n    return ("
              + ", ".join(f"acc[{q}]" if names[q] in skipped else f"acc[{q}] + {cast}(terms[{first + q}])"
                          for q in range(n)) + ",)\n")
    scope = {"np": np}
    exec(compile(source, f"<add{first}_{n}>", "exec"), scope)  # noqa: S102 (our own generated source)
    return njit(inline="always")(scope["add"])


def _counted_after_decisions(late_args: tuple[str, ...]) -> tuple[str, ...]:
    """The names of ``household.COUNTED`` whose term in ``household.contributions`` reads one of
    its arguments ``late_args`` (the household's decisions, known only in pass 1b), directly or
    through a local variable; the others can be counted in pass 1a. Read off the function's syntax
    tree; a body with anything but assignments and the return puts every count in pass 1b."""
    func = ast.parse(textwrap.dedent(inspect.getsource(household.contributions))).body[0]
    missing = set(late_args) - {a.arg for a in func.args.args}
    if missing:
        raise RuntimeError(f"household.contributions has no argument {sorted(missing)}; "
                           "update step_fused._LATE_ARGS")
    late = set(late_args)
    for node in func.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            return tuple(name for name, term in zip(household.COUNTED, node.value.elts)
                         if late & {n.id for n in ast.walk(term) if isinstance(n, ast.Name)})
        if not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            break
        if late & {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            late |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return household.COUNTED


# contributions' arguments that pass 1a does not know yet (placeholders there, never read by the
# terms it counts)
_LATE_ARGS = ("consumption", "safe_new", "risky_new")
_COUNTED_LATE = _counted_after_decisions(_LATE_ARGS)
_COUNTED_EARLY = tuple(name for name in household.COUNTED if name not in _COUNTED_LATE)

# counts: integer sums in the vectorised passes (exact in any order, like the oracle's float sums
# of 0/1, which stay exact below 2**53): in pass 1a, where the employment state and income are in
# registers, unless a term needs the decisions (then in pass 1b); amounts: float sums in household
# order in pass 2. The ``_no_transfer`` adders leave the sums of household.TRANSFER_ONLY at 0: a
# kernel compiled for a period without a transfer neither draws the treatment uniform nor adds
# those terms. An adder that skips every term is dropped by LLVM with the terms it would add.
_TRANSFER_ONLY = household.TRANSFER_ONLY
_add_counts_early = _make_adder(0, N_COUNTED, "np.int64", _COUNTED_LATE)
_add_counts_late = _make_adder(0, N_COUNTED, "np.int64", _COUNTED_EARLY)
_add_amounts = _make_adder(N_COUNTED, N_AMOUNTS, "np.float64")
_add_counts_early_no_transfer = _make_adder(0, N_COUNTED, "np.int64", _COUNTED_LATE + _TRANSFER_ONLY)
_add_counts_late_no_transfer = _make_adder(0, N_COUNTED, "np.int64", _COUNTED_EARLY + _TRANSFER_ONLY)
_add_amounts_no_transfer = _make_adder(N_COUNTED, N_AMOUNTS, "np.float64", _TRANSFER_ONLY)
_NO_COUNTS = (np.int64(0),) * N_COUNTED
_NO_AMOUNTS = (0.0,) * N_AMOUNTS


def _make_params_tuple(n: int):
    """``values(params)``: the n parameters as a tuple of floats, read once per call. The phases
    index it with constants (``p[inputs.P_WAGE]``), which compile to registers, not loads: read
    from memory, a parameter that a phase uses only on one branch (``hazard if automated else
    0.0``) is a load LLVM may not speculate, so the vectorised pass gathered it per household
    (a masked gather of one address; six per household in pass 1a cost about 5% of the rate).
    Generated, like the adders: Numba builds no tuple of a run-time length."""
    source = ("def values(params):\n    return ("
              + ", ".join(f"params[{q}]" for q in range(n)) + ",)\n")
    scope: dict = {}
    exec(compile(source, f"<params{n}>", "exec"), scope)  # noqa: S102 (our own generated source)
    return njit(inline="always")(scope["values"])


_params_tuple = _make_params_tuple(schema.N_PARAMS)

# Numba's disk cache keys a function by its own bytecode and closure, not by the modules it
# inlines: the kernel closes over a fingerprint of their sources, so an edit there recompiles.
_SOURCES_FINGERPRINT = hashlib.sha256(b"".join(
    Path(module.__file__).read_bytes() for module in (household, inputs, rng, schema))).hexdigest()


@intrinsic
def _float_bits(typingctx, v):
    """Reinterpret a float64 as int64 (a register move, no arithmetic)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@intrinsic
def _data_pointer(typingctx, array):
    """An array's data as a bare pointer (indexing reads the same memory). The phases take the
    policy tables as pointers: an array passed to an inlined function brings reference-count calls
    into the loop, and a loop with calls does not vectorise."""
    sig = types.CPointer(array.dtype)(array)

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

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


@njit(inline="always")
def _bin(v):
    """Histogram bin of v (``kernels.schema.bin_index``): integer arithmetic on the float's bits."""
    if v < schema.V_MIN:
        return 0
    if v >= schema.V_MAX:
        return schema.N_BINS - 1
    return (_float_bits(v) >> schema.BIN_SHIFT) - schema.BIN_OFFSET + 1


def _make_kernel(sources_fingerprint: str, with_transfer: bool):
    """The tiled kernel; ``with_transfer`` (a compile-time constant) selects whether it draws the
    treatment uniform and adds the sums of ``household.TRANSFER_ONLY``. Without, ``treated`` is
    False for every household, which is what ``household.treated`` gives when no transfer is paid
    (P_TRANSFER <= 0): the same arithmetic, bit for bit, with one hash and three sums fewer."""
    # The adders are called as module globals, chosen by the constant with_transfer inside the
    # kernel: captured in the closure they would pickle differently in every process, and Numba's
    # disk-cache key (which hashes the closure) would never hit, recompiling in each shard actor.

    @njit(cache=True, nogil=True, **_NOALIAS)
    def _step(b, k, x, z, e, ty, first_id, key, w_job, w_z, w_task, w_treat, params, productivity, cdf, c_table,
              share_table, block_size, agg, hist, ext, grid_lo, inv_width,
              t_uz, t_uj, t_ut, t_m, t_q0, t_row, t_zn, t_auto, t_b0, t_k0, t_eff, t_c, t_inc,
              t_bw, t_by, t_bc, t_utr, t_tr):
        # grid_lo, inv_width and the t_* tile buffers are arguments, not locals, so that
        # they too are noalias: LLVM cannot vectorise a pass if a buffer might overlap the state
        # it writes.
        sources_fingerprint  # noqa: B018 (keys the disk cache, see _SOURCES_FINGERPRINT)
        _prefer_512_bit_vectors()
        p = _params_tuple(params)  # the phases read parameters p[schema.P_...] (registers)
        n = b.shape[0]
        n_z = productivity.shape[0]
        n_grid = c_table.shape[2]  # (types, states, grid points)
        grid_min = p[schema.P_GRID_MIN]
        span = p[schema.P_GRID_MAX] - grid_min
        inv_span = 1.0 / span
        step = 1.0 / (n_grid - 1)
        for jj in range(n_grid - 1):  # the grid's intervals, tabulated once
            grid_lo[jj], inv_width[jj] = _grid_interval(jj, grid_min, span, step)
        key64 = np.uint64(key)
        cdf_flat = cdf.ravel()
        c_flat = _data_pointer(c_table)  # C-contiguous (step): the flattened table
        s_flat = _data_pointer(share_table)

        n_blocks = agg.shape[0]
        for blk in range(n_blocks):
            lo = blk * block_size
            hi = min(lo + block_size, n)
            counts, amounts = _NO_COUNTS, _NO_AMOUNTS
            w_min, w_max = np.inf, -np.inf
            y_min, y_max = np.inf, -np.inf
            c_min, c_max = np.inf, -np.inf
            hb = np.uint64(blk)  # unsigned indices: no negative-index wrap-around code
            for t0 in range(lo, hi, TILE):
                nt = min(TILE, hi - t0)

                # pass 0: the household's three uniforms from one hash (a short loop of
                # independent multiplies), then the productivity transition. The inverse CDF
                # (household.productivity_after) counts the row's entries <= u one CDF column at a
                # time across the tile (a vectorised gather and compare per column), not one
                # household at a time: that would not vectorise, and its branches would mispredict.
                for ii in range(nt):
                    hh = _household_hash(key64, first_id + np.uint64(t0 + ii))
                    t_uz[ii] = _uniform(hh, w_z)
                    t_uj[ii] = _uniform(hh, w_job)
                    t_ut[ii] = _uniform(hh, w_task)
                    if with_transfer:
                        t_utr[ii] = _uniform(hh, w_treat)
                    t_row[ii] = np.uint64(z[np.uint64(t0 + ii)]) * np.uint64(n_z)
                    t_zn[ii] = 0
                for jz in range(n_z - 1):
                    for ii in range(nt):
                        t_zn[ii] += t_uz[ii] >= cdf_flat[t_row[ii] + np.uint64(jz)]

                # pass 1a: job transitions and income (vectorised: branches are selects).
                for ii in range(nt):
                    i = np.uint64(t0 + ii)  # unsigned: no wrap-around select, so loads stay affine
                    z_new = t_zn[ii]
                    e_new, x_new, automated_employed = _job_transition(
                        np.int64(e[i]), x[i], t_uj[ii], t_ut[ii], p)
                    working = e_new == schema.EMPLOYED
                    level = productivity[z_new]  # one gather for both uses
                    efficiency = level if working else 0.0
                    is_treated = _treated(t_utr[ii], b[i] + k[i], p) if with_transfer else False
                    cash, income = _income(b[i], k[i], working, level, is_treated, p)
                    if with_transfer:  # else t_tr stays all False (zeros, from step)
                        t_tr[ii] = is_treated
                    x[i], z[i], e[i] = x_new, z_new, e_new
                    t_m[ii] = cash
                    t_q0[ii] = _policy_row(np.int64(ty[i]), e_new, z_new, n_z, n_grid)
                    t_auto[ii] = automated_employed
                    t_b0[ii], t_k0[ii], t_eff[ii], t_inc[ii] = b[i], k[i], efficiency, income
                    t_by[ii] = _bin(income)
                    # the counts whose terms need no decision (_COUNTED_EARLY); NaN stands for
                    # the decisions, which those terms do not read
                    add = _add_counts_early if with_transfer else _add_counts_early_no_transfer
                    counts = add(counts, _contributions(
                        e_new, automated_employed, efficiency, income, np.nan, b[i], k[i], np.nan,
                        np.nan, is_treated, p))

                # pass 1b: decisions and portfolio (vectorised). Split from 1a so that each loop's
                # dependency chain (hash -> income -> square root -> table gathers) is short
                # enough for the CPU to overlap several households.
                for ii in range(nt):
                    i = np.uint64(t0 + ii)
                    cash = t_m[ii]
                    j = _grid_index(cash, grid_min, inv_span, n_grid)
                    ju = np.uint64(j)  # j >= 0: unsigned, no wrap-around select in the gathers
                    weight = (cash - grid_lo[ju]) * inv_width[ju]
                    c, share = _consumption_and_share(cash, weight, t_q0[ii] + j, c_flat,
                                                            s_flat, p)
                    b_new, k_new = _portfolio(cash, c, share, p)
                    b[i], k[i] = b_new, k_new
                    t_c[ii] = c
                    # the other counts (_COUNTED_LATE, none today: then all of it is dropped)
                    add = _add_counts_late if with_transfer else _add_counts_late_no_transfer
                    counts = add(counts, _contributions(
                        np.int64(e[i]), t_auto[ii], t_eff[ii], t_inc[ii], c, t_b0[ii], t_k0[ii],
                        b_new, k_new, t_tr[ii], p))
                    t_bw[ii], t_bc[ii] = _bin(b_new + k_new), _bin(c)

                # pass 2: the sums in household order (as np.bincount sums), histograms (bin-major:
                # a bin's fields share a cache line) and extrema.
                for ii in range(nt):
                    i = np.uint64(t0 + ii)
                    c, income = t_c[ii], t_inc[ii]
                    b_new, k_new = b[i], k[i]
                    wealth_end = b_new + k_new
                    add = _add_amounts if with_transfer else _add_amounts_no_transfer
                    amounts = add(amounts, _contributions(
                        np.int64(e[i]), t_auto[ii], t_eff[ii], income, c, t_b0[ii], t_k0[ii], b_new,
                        k_new, t_tr[ii], p))
                    bw, by, bc = t_bw[ii], t_by[ii], t_bc[ii]
                    hist[hb, bw, schema.H_WEALTH_COUNT] += 1.0
                    hist[hb, bw, schema.H_WEALTH_SUM] += wealth_end
                    hist[hb, bw, schema.H_WEALTH_RISKY] += k_new
                    hist[hb, bw, schema.H_WEALTH_CONSUMPTION] += c
                    hist[hb, by, schema.H_INCOME_COUNT] += 1.0
                    hist[hb, by, schema.H_INCOME_SUM] += income
                    hist[hb, bc, schema.H_CONSUMPTION_COUNT] += 1.0
                    hist[hb, bc, schema.H_CONSUMPTION_SUM] += c
                    w_min, w_max = min(w_min, wealth_end), max(w_max, wealth_end)
                    y_min, y_max = min(y_min, income), max(y_max, income)
                    c_min, c_max = min(c_min, c), max(c_max, c)

            for q in range(N_COUNTED):
                agg[blk, q] = counts[q]
            for q in range(N_AMOUNTS):
                agg[blk, N_COUNTED + q] = amounts[q]
            e_row = ext[blk]
            e_row[schema.X_WEALTH_MIN], e_row[schema.X_WEALTH_MAX] = w_min, w_max
            e_row[schema.X_INCOME_MIN], e_row[schema.X_INCOME_MAX] = y_min, y_max
            e_row[schema.X_CONSUMPTION_MIN], e_row[schema.X_CONSUMPTION_MAX] = c_min, c_max

    return _step


_step_with_transfer = _make_kernel(_SOURCES_FINGERPRINT, True)
_step_without_transfer = _make_kernel(_SOURCES_FINGERPRINT, False)


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
    c_table, share_table = per_type(c_table), per_type(share_table)
    n_grid = c_table.shape[2]
    agg = np.zeros((n_blocks, schema.N_AGGREGATES))
    hist = np.zeros((n_blocks, schema.N_BINS, schema.N_HISTOGRAMS))  # bin-major inside the kernel
    ext = np.empty((n_blocks, schema.N_EXTREMA))
    words = [np.uint64(rng.period_word(period, st))
             for st in (rng.STREAM_JOB, rng.STREAM_PRODUCTIVITY, rng.STREAM_TASK, rng.STREAM_TREATMENT)]
    # read-only inputs may share memory with each other (noalias only forbids overlap with an
    # array the kernel writes, and every written array is fresh here or checked above)
    tables = [np.ascontiguousarray(a, dtype=np.float64)
              for a in (params, productivity, transition_cdf, c_table, share_table)]
    grid = [np.empty(n_grid - 1) for _ in range(2)]
    tiles = ([np.empty(TILE) for _ in range(4)]  # t_uz, t_uj, t_ut, t_m
             + [np.empty(TILE, np.int64), np.empty(TILE, np.uint64), np.empty(TILE, np.int64)]
             + [np.empty(TILE, np.bool_)]  # t_auto
             + [np.empty(TILE) for _ in range(5)] + [np.empty(TILE, np.uint64) for _ in range(3)]
             + [np.empty(TILE), np.zeros(TILE, np.bool_)])  # t_utr, t_tr (False without a transfer)
    # the common period pays no transfer: a kernel without the treatment draw and its sums
    kernel = _step_with_transfer if tables[0][schema.P_TRANSFER] > 0.0 else _step_without_transfer
    kernel(state["safe"], state["risky"], state["task"], state["productivity"], state["employment"],
          state["type"], np.uint64(first_id), np.uint64(key), *words, *tables, block_size, agg, hist, ext, *grid,
          *tiles)
    aggregates.complete(agg, tables[0])
    return Partials(agg, np.ascontiguousarray(hist.transpose(0, 2, 1)), ext)
