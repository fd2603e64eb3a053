"""The household step: backends agree bit for bit, the budget identity holds household by household,
transitions happen at the configured rates, and shard boundaries do not change any number."""
import numpy as np
import pytest

from kernels import rng
from kernels import schema as S
from kernels import step_fused, step_numpy
from kernels.initial import initial_state
from kernels.rng import seed_key

NZ = 5
NT = 3  # discount-factor types: one policy table each (the kernels index them by the type byte)
KEY = seed_key(2024)


@pytest.fixture(scope="module")
def setup():
    r = np.random.default_rng(5)
    P = r.random((NZ, NZ)) + np.eye(NZ) * 3
    P /= P.sum(axis=1, keepdims=True)
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0
    levels = np.exp(np.linspace(-0.8, 0.8, NZ))
    bl = 0.5
    grid = step_numpy.kernel_grid(-bl, 300.0, 128)
    s = np.arange(3 * NZ)[:, None]
    j = np.arange(NT)[:, None, None]
    # a concave, increasing consumption rule and a falling risky share, different by type and state
    c_table = np.maximum(0.0, 0.6 + 0.05 * s + (0.4 - 0.05 * j) * np.sqrt(np.maximum(grid + bl, 0)) - 0.1)
    c_table[:, :, 0] = 0.0
    share = np.clip(1.1 - grid / 200 - 0.02 * s - 0.1 * j, 0, 1)
    p = S.new_params()
    for k, v in dict(wage=1.2, tax_labour=0.2, benefit=0.3, ubi=0.15, ubi_invest_share=0.1,
                     return_safe=1.01, return_risky=0.97, return_risky_taxed=0.97, tax_capital=0.15, tax_wealth=0.002,
                     dividend=0.04, tax_consumption=0.05, payment_fee=0.025,
                     hazard_displacement=0.3, separation=0.03, job_finding=0.4, automation=0.45,
                     borrowing_limit=bl, grid_min=-bl, grid_max=300.0, poverty_line=0.9,
                     participation_cost=0.02, expected_excess=0.01).items():
        p[S.PARAMS[k]] = v
    stationary = np.linalg.matrix_power(P, 200)[0]
    return dict(P=P, cdf=cdf, levels=levels, c=c_table, share=share, p=p, stationary=stationary)


def _state(n, setup, first=0):
    return initial_state(first, n, KEY, 4.0, 0.3, 0.2, 0.3, setup["stationary"], types=NT)


def _step(fn, state, setup, first=0, period=0, block=256):
    return fn(state, first, period, KEY, setup["p"], setup["levels"], setup["cdf"], setup["c"],
              setup["share"], block)


# blocks smaller than a tile, blocks of several tiles with a partial last one, and a ragged end
@pytest.mark.parametrize("block", [256, 1000, 4096])
def test_fused_equals_numpy_bit_for_bit(setup, block):
    n = 20_011
    a, b = _state(n, setup), _state(n, setup)
    for t in range(4):
        pa = _step(step_numpy.step, a, setup, period=t, block=block)
        pb = _step(step_fused.step, b, setup, period=t, block=block)
        for name in S.STATE_DTYPES:
            assert np.array_equal(a[name], b[name]), name
        assert np.array_equal(pa.aggregates, pb.aggregates)
        assert np.array_equal(pa.histograms, pb.histograms)
        assert np.array_equal(pa.extrema, pb.extrema)


def test_fused_equals_numpy_bit_for_bit_with_a_transfer(setup):
    # a period that pays a transfer runs the fused kernel's other specialisation (treatment draw
    # and the transfer-only sums); the default params above pay none and run the transfer-free one
    p = setup["p"].copy()
    p[S.P_TRANSFER], p[S.P_TRANSFER_WEALTH_MIN], p[S.P_TRANSFER_WEALTH_MAX] = 0.7, 1.0, 6.0
    with_transfer = dict(setup, p=p)
    n = 20_011
    a, b = _state(n, setup), _state(n, setup)
    for t in range(3):
        pa = _step(step_numpy.step, a, with_transfer, period=t, block=1000)
        pb = _step(step_fused.step, b, with_transfer, period=t, block=1000)
        for name in S.STATE_DTYPES:
            assert np.array_equal(a[name], b[name]), name
        assert np.array_equal(pa.aggregates, pb.aggregates)
        assert np.array_equal(pa.histograms, pb.histograms)
        assert np.array_equal(pa.extrema, pb.extrema)
    # the check has teeth: some households were treated, and not all in the wealth range
    treated = pa.aggregates[:, S.A_TREATED].sum()
    assert 0 < treated < n / 2
    assert pa.aggregates[:, S.A_TREATED_CONSUMPTION].sum() > 0


def test_fused_kernel_is_compiled_noalias():
    # Without the noalias flag the fused kernel is still right, but its household pass does not
    # vectorise (about 1.5x slower): fail loudly if a Numba upgrade removes the flag.
    assert step_fused._NOALIAS == {"noalias": True}
    for kernel in (step_fused._step_with_transfer, step_fused._step_without_transfer):
        assert kernel.targetoptions.get("noalias") is True


def test_fused_kernel_asks_llvm_for_full_width_vectors():
    # the attribute is what makes LLVM use 512-bit registers on AVX-512 CPUs (15% on this kernel);
    # check it reaches the IR of a function that calls the helper, compiled here (not cached)
    from numba import njit

    @njit
    def marked(a):
        step_fused._prefer_512_bit_vectors()
        return a + 1.0

    assert marked(1.0) == 2.0
    ir = next(iter(marked.inspect_llvm().values()))
    assert '"prefer-vector-width"="512"' in ir


def test_fused_kernel_refuses_overlapping_state(setup):
    state = _state(1000, setup)
    state["risky"] = state["safe"][::-1]  # a view of the same memory
    with pytest.raises(ValueError, match="'safe' and 'risky' share memory"):
        _step(step_fused.step, state, setup)


@pytest.mark.parametrize("backend", [step_numpy.step, step_fused.step])
def test_budget_identity_and_constraints_per_household(setup, backend):
    # with block_size 1 every block is one household, so the partials are per-household values
    st = _state(3000, setup)
    agg = _step(backend, st, setup, block=1).aggregates
    col = lambda name: agg[:, S.AGGREGATES[name]]  # noqa: E731
    change = (col("safe_end") + col("risky_end")) - (col("safe_begin") + col("risky_begin"))
    spending = col("consumption") * (1 + setup["p"][S.P_TAX_CONSUMPTION] + setup["p"][S.P_PAYMENT_FEE])
    income = col("income") + col("revaluation")  # measured income leaves out the equity surprise
    np.testing.assert_allclose(change, income - spending, rtol=0, atol=1e-12)
    assert np.all(col("consumption") >= 0)
    bl = setup["p"][S.P_BORROWING_LIMIT]
    assert np.all(st["safe"] + st["risky"] >= -bl - 1e-12)
    assert np.all(st["risky"] >= 0)  # no short selling
    # a household's risky holding is its share of positive end-of-period assets plus invested UBI
    ubi_inv = setup["p"][S.P_UBI] * setup["p"][S.P_UBI_INVEST_SHARE]
    assert np.all(st["risky"] >= ubi_inv - 1e-15)


@pytest.mark.parametrize("gains", ["taxed as they accrue", "untaxed"])
@pytest.mark.parametrize("backend", [step_numpy.step, step_fused.step])
def test_derived_aggregates_are_the_households_flows_summed(setup, backend, gains):
    # kernels sum only aggregates.SUMMED; taxes, transfers and capital income follow by rule. Check
    # them against the model's per-household equations evaluated here, summed block by block.
    # The capital tax reaches R_tax - 1 of the equity return: all of it (the value market) or its
    # payout R_inc - 1 only (a priced market: unrealised gains are not taxed).
    p, n, block = setup["p"].copy(), 5000, 1000
    p[S.P_RETURN_RISKY], p[S.P_RETURN_RISKY_INCOME] = 1.06, 1.01  # a 5% gain on a 1% dividend
    p[S.P_RETURN_RISKY_TAXED] = p[S.P_RETURN_RISKY] if gains == "taxed as they accrue" else p[S.P_RETURN_RISKY_INCOME]
    setup = {**setup, "p": p}
    st = _state(n, setup)
    b0, k0 = st["safe"].copy(), st["risky"].copy()
    agg = _step(backend, st, setup, block=block).aggregates
    working = st["employment"] == S.EMPLOYED
    labour = np.where(working, p[S.P_WAGE] * setup["levels"][st["productivity"]], 0.0)
    capital = b0 * (p[S.P_RETURN_SAFE] - 1) + k0 * (p[S.P_RETURN_RISKY] - 1)
    ones = np.ones(n)
    flows = {
        "labour_income": labour,
        "labour_tax": p[S.P_TAX_LABOUR] * labour,
        "benefits": np.where(working, 0.0, p[S.P_BENEFIT]),
        "ubi": p[S.P_UBI] * ones,
        "ubi_invested": p[S.P_UBI] * p[S.P_UBI_INVEST_SHARE] * ones,
        "dividends": p[S.P_DIVIDEND] * ones,
        "capital_income": capital,
        "capital_tax": p[S.P_TAX_CAPITAL] * (b0 * (p[S.P_RETURN_SAFE] - 1) + k0 * (p[S.P_RETURN_RISKY_TAXED] - 1)),
        "wealth_tax": p[S.P_TAX_WEALTH] * (b0 + k0),
        # the gain after the tax it bears: (R_k - R_inc) k less tau_k (R_tax - R_inc) k
        "revaluation": k0 * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_INCOME])
                       - p[S.P_TAX_CAPITAL] * k0 * (p[S.P_RETURN_RISKY_TAXED] - p[S.P_RETURN_RISKY_INCOME]),
        "participation_costs": np.where(k0 > 0, p[S.P_PARTICIPATION_COST], 0.0),
    }
    starts = np.arange(0, n, block)
    for name, per_household in flows.items():
        np.testing.assert_allclose(agg[:, S.AGGREGATES[name]], np.add.reduceat(per_household, starts),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    # consumption taxes and fees: households spend (1 + tau_c + f) c in all, by the budget identity
    income = agg[:, S.A_INCOME] + agg[:, S.A_REVALUATION]
    change = (agg[:, S.A_SAFE_END] + agg[:, S.A_RISKY_END]) - (agg[:, S.A_SAFE_BEGIN] + agg[:, S.A_RISKY_BEGIN])
    spending = agg[:, S.A_CONSUMPTION] + agg[:, S.A_CONSUMPTION_TAX] + agg[:, S.A_FEES]
    np.testing.assert_allclose(spending, income - change, rtol=1e-12)
    np.testing.assert_allclose(agg[:, S.A_CONSUMPTION_TAX] / agg[:, S.A_CONSUMPTION], p[S.P_TAX_CONSUMPTION])
    # a block of one household: the rules repeat the household's own arithmetic, bit for bit (the
    # revaluation in the kernel's arrangement: (R_k - R_inc) k (1 - tau_k) + tau_k k (R_k - R_tax))
    flows["revaluation"] = ((k0 * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_INCOME])) * (1.0 - p[S.P_TAX_CAPITAL])
                            + (p[S.P_TAX_CAPITAL] * k0) * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_TAXED]))
    st = _state(n, setup)
    one = _step(backend, st, setup, block=1).aggregates
    for name, per_household in flows.items():
        assert np.array_equal(one[:, S.AGGREGATES[name]], per_household), name


def test_transition_rates(setup):
    n = 400_000
    st = _state(n, setup)
    before = {k: v.copy() for k, v in st.items()}
    _step(step_fused.step, st, setup, block=65536)
    p = setup["p"]
    phi = p[S.P_AUTOMATION]

    def check_rate(mask, event, prob):
        k, m = int(np.sum(event & mask)), int(np.sum(mask))
        se = np.sqrt(prob * (1 - prob) / m)
        assert abs(k / m - prob) < 5 * se + 1e-12, (k / m, prob)

    emp = before["employment"] == S.EMPLOYED
    automated = before["task"] < phi
    hz, sep = p[S.P_HAZARD_DISPLACEMENT], p[S.P_SEPARATION]
    check_rate(emp & automated, st["employment"] == S.DISPLACED, hz)
    check_rate(emp & automated, st["employment"] == S.UNEMPLOYED, sep)
    check_rate(emp & ~automated, st["employment"] == S.UNEMPLOYED, sep)
    assert not np.any((emp & ~automated) & (st["employment"] == S.DISPLACED))
    idle = ~emp
    check_rate(idle, st["employment"] == S.EMPLOYED, p[S.P_JOB_FINDING])
    hired = idle & (st["employment"] == S.EMPLOYED)
    # re-employed workers whose task was automated get one from the non-automated range
    assert np.all(st["task"][hired & automated] >= np.float32(phi))
    assert np.array_equal(st["task"][~(hired & automated)], before["task"][~(hired & automated)])
    # productivity moves along its Markov chain
    for z in range(NZ):
        was = before["productivity"] == z
        for z2 in range(NZ):
            check_rate(was, st["productivity"] == z2, setup["P"][z, z2])


def test_shard_boundaries_do_not_change_numbers(setup):
    n, block = 10_000, 512
    whole = _state(n, setup)
    cut = 6 * block
    left, right = _state(cut, setup), _state(n - cut, setup, first=cut)
    for name in S.STATE_DTYPES:  # initial state is layout-independent too
        assert np.array_equal(np.concatenate([left[name], right[name]]), whole[name])
    pw = _step(step_fused.step, whole, setup, period=3, block=block)
    pl = _step(step_fused.step, left, setup, period=3, block=block)
    pr = _step(step_fused.step, right, setup, first=cut, period=3, block=block)
    assert np.array_equal(np.concatenate([pl.aggregates, pr.aggregates]), pw.aggregates)
    assert np.array_equal(np.concatenate([pl.histograms, pr.histograms]), pw.histograms)
    for name in S.STATE_DTYPES:
        assert np.array_equal(np.concatenate([left[name], right[name]]), whole[name])


def test_histogram_bins_match_their_edges():
    edges = S.bin_edges()
    r = np.random.default_rng(1)
    v = np.concatenate([
        np.exp(r.uniform(-12, 20, 100_000)), edges[1:-1], np.nextafter(edges[1:-1], -np.inf),
        [0.0, -3.0, S.V_MAX * 10],
    ])
    expected = np.searchsorted(edges, v, side="right") - 1
    assert np.array_equal(S.bin_index(v), expected)


def test_resident_bytes_per_household_within_target():
    assert S.BYTES_PER_HOUSEHOLD <= 64


@pytest.mark.parametrize("backend", [step_numpy.step, step_fused.step])
def test_revaluation_is_not_income(setup, backend):
    """A surprise on equity changes wealth, not measured income (national-accounts convention)."""
    expected_return = setup["p"].copy()
    expected_return[S.P_RETURN_RISKY_INCOME] = expected_return[S.P_RETURN_RISKY]  # no surprise
    p = setup["p"].copy()
    p[S.P_RETURN_RISKY_INCOME] = p[S.P_RETURN_RISKY] + 0.05  # a 5-point surprise loss this period
    base, shocked = _state(4000, setup), _state(4000, setup)
    args = (setup["levels"], setup["cdf"], setup["c"], setup["share"], 1)
    pb = backend(base, 0, 0, KEY, expected_return, *args)
    ps = backend(shocked, 0, 0, KEY, p, *args)
    assert np.all(pb.aggregates[:, S.A_REVALUATION] == 0.0)
    col = lambda agg, name: agg[:, S.AGGREGATES[name]]  # noqa: E731
    k0 = col(ps.aggregates, "risky_begin")
    expected = (k0 * -0.05) * (1 - p[S.P_TAX_CAPITAL])
    np.testing.assert_allclose(col(ps.aggregates, "revaluation"), expected, rtol=0, atol=1e-15)
    # measured income differs from the no-surprise run by exactly the revaluation; decisions do not
    np.testing.assert_allclose(col(ps.aggregates, "income") + expected, col(pb.aggregates, "income"),
                               rtol=0, atol=1e-12)
    assert np.array_equal(shocked["safe"], base["safe"]) and np.array_equal(shocked["risky"], base["risky"])


def test_summed_aggregates_are_declared_once_in_household():
    # schema.AGGREGATES, the fused kernel's split, the GPU's columns and aggregates.complete all
    # follow household.SUMMED = COUNTED + AMOUNTS, so adding a quantity is one edit there
    import subprocess
    import sys

    from kernels import aggregates, household, step_cupy

    names = list(S.AGGREGATES)
    assert names == [*household.COUNTED, *household.AMOUNTS, *S.DERIVED]
    assert (S.N_SUMMED, S.N_COUNTED) == (len(household.SUMMED), len(household.COUNTED))
    assert step_cupy.COLUMN == {S.AGGREGATES[name]: q for q, name in enumerate(household.SUMMED)}
    # complete fills every derived column and leaves the summed ones alone
    agg = np.full((2, S.N_AGGREGATES), np.nan)
    agg[:, : S.N_SUMMED] = np.arange(1.0, 1.0 + 2 * S.N_SUMMED).reshape(2, -1)
    before = agg.copy()
    aggregates.complete(agg, S.new_params())
    assert np.array_equal(agg[:, : S.N_SUMMED], before[:, : S.N_SUMMED])
    assert not np.isnan(agg).any()
    # one household's terms: a condition per counted name, an amount per summed amount
    terms = household.contributions(S.UNEMPLOYED, False, 0.0, -1.0, 2.0, 3.0, 4.0, 5.0, 6.0, True,
                                     S.new_params())
    assert len(terms) == len(household.SUMMED)
    got = dict(zip(household.SUMMED, terms, strict=True))
    assert all(isinstance(got[name], (bool, np.bool_)) for name in household.COUNTED)
    expected = {"households": True, "employed": False, "unemployed": True, "displaced": False,
                "automated_employed": False, "poor": True,  # y = -1 below the line at 0
                "effective_labour": 0.0, "consumption": 2.0, "safe_begin": 3.0, "risky_begin": 4.0,
                "safe_end": 5.0, "risky_end": 6.0, "income": -1.0,
                "treated": True, "treated_consumption": 2.0,  # a treated household's c counts
                "consumption_squared": 4.0, "treated_consumption_squared": 4.0}
    assert {name: got[name] for name in expected} == expected
    # schema reads household, household reads inputs: any module imported first must work
    for first in ("kernels.household", "kernels.schema", "kernels.inputs"):
        code = f"import {first}; from kernels import schema; print(schema.A_{household.SUMMED[-1].upper()})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) == S.N_SUMMED - 1


@pytest.mark.parametrize("backend", [step_numpy.step, step_fused.step])
def test_participation_threshold_is_the_merton_gain_against_the_cost(setup, backend):
    # With a constant risky share varsigma, a household holds equity iff
    # (1/2) varsigma (E[R_k] - R_f) a >= kappa, i.e. a >= a* = 2 kappa / (varsigma x excess): below
    # a* all its assets are safe (plus the auto-invested UBI), above it varsigma a is risky.
    varsigma, kappa, excess = 0.6, 0.03, 0.012
    p = setup["p"].copy()
    p[S.P_PARTICIPATION_COST], p[S.P_EXPECTED_EXCESS] = kappa, excess
    shares = np.full_like(setup["share"], varsigma)
    st = _state(20_000, setup)
    agg = backend(st, 0, 0, KEY, p, setup["levels"], setup["cdf"], setup["c"], shares, 1000).aggregates
    ubi_inv = p[S.P_UBI] * p[S.P_UBI_INVEST_SHARE]
    a = st["safe"] + st["risky"] - ubi_inv  # end-of-period assets the household chose
    chosen = st["risky"] - ubi_inv
    threshold = 2 * kappa / (varsigma * excess)
    above = a >= threshold * (1 + 1e-12)
    below = a < threshold * (1 - 1e-12)
    assert above.sum() > 1000 and below.sum() > 1000  # both sides are populated
    np.testing.assert_allclose(chosen[above], varsigma * a[above], rtol=1e-12)
    assert np.all(chosen[below] == 0.0)
    # participants at the end: everyone with equity (the auto-invested UBI included)
    assert agg[:, S.A_PARTICIPANTS].sum() == np.sum(st["risky"] > 0)


@pytest.mark.parametrize("backend", [step_numpy.step, step_fused.step])
def test_each_household_decides_by_its_own_types_table(setup, backend):
    # Reference: the households of type j stepped alone with table j as the only (2-D) table and
    # type 0. The draws depend on the household id only, so each type's households must come out
    # bit for bit as in the run with all types' tables together.
    n, block = 6000, 500
    together = _state(n, setup)
    assert np.array_equal(together["type"], np.arange(n) % NT)  # id mod types
    _step(backend, together, setup, block=block)
    for j in range(NT):
        alone = _state(n, setup)
        alone["type"][:] = 0
        _step(backend, alone, dict(setup, c=setup["c"][j], share=setup["share"][j]), block=block)
        mine = np.arange(n) % NT == j
        for name in ("safe", "risky", "task", "productivity", "employment"):
            assert np.array_equal(together[name][mine], alone[name][mine]), (j, name)
        assert not np.array_equal(together["safe"][~mine], alone["safe"][~mine])  # the tables differ


def test_initial_state_is_the_generator_s_draws_by_formula():
    """The compiled initial draw against the formulas written with the generator's NumPy functions:
    wealth = -mean ln(1 - u) (``log_unit``, evaluated here by Python on each draw: the compiled
    pass must give its bits, which it cannot if the compiler contracted or reordered its
    arithmetic), split by the risky share; productivity searchsorted in the stationary CDF;
    unemployed iff u < rate; task = automation + u (1 - automation); type = id mod types."""
    from kernels.initial import log_unit

    stationary = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    for first, n, types in [(0, 10_000, 1), (123_457, 20_001, 7), (2**40 + 5, 5_000, 256)]:
        ids = np.arange(first, first + n, dtype=np.uint64)
        u = {s: rng.uniforms(KEY, ids, -1, s) for s in (rng.STREAM_INIT_WEALTH, rng.STREAM_INIT_PRODUCTIVITY,
                                                        rng.STREAM_INIT_EMPLOYMENT, rng.STREAM_INIT_TASK)}
        wealth = np.array([4.0 * (0.0 - log_unit(1.0 - x)) for x in u[rng.STREAM_INIT_WEALTH]])
        cdf = np.cumsum(stationary)
        cdf[-1] = 1.0
        want = {"safe": wealth * (1.0 - 0.3), "risky": wealth * 0.3,
                "task": (0.61 + u[rng.STREAM_INIT_TASK] * (1.0 - 0.61)).astype(np.float32),
                "productivity": np.minimum(np.searchsorted(cdf, u[rng.STREAM_INIT_PRODUCTIVITY], side="right"), 4),
                "employment": np.where(u[rng.STREAM_INIT_EMPLOYMENT] < 0.07, S.UNEMPLOYED, S.EMPLOYED),
                "type": ids % np.uint64(types)}
        got = initial_state(first, n, KEY, 4.0, 0.3, 0.07, 0.61, stationary, types=types)
        assert set(got) == set(S.STATE_DTYPES)
        for name, values in want.items():
            assert got[name].dtype == S.STATE_DTYPES[name]
            assert np.array_equal(got[name], values.astype(S.STATE_DTYPES[name])), name
        assert 0 < np.count_nonzero(got["employment"] == S.UNEMPLOYED) < n


def test_log_unit_is_the_logarithm_to_four_ulp():
    """The opening's logarithm, plain arithmetic so that every CPU draws the same wealth, against
    the C library's: within 4 units in the last place over a million points of (0, 1] (where
    e ln 2 and ln m partly cancel, 3 are seen), exact at 1 and 1/2, within 2 ulp at every power
    of two down to the smallest uniform's 2^-53."""
    import math

    from kernels.initial import log_unit

    x = np.concatenate([rng.uniforms(KEY, np.arange(1_000_000, dtype=np.uint64), 5, 0),
                        np.geomspace(2.0**-53, 1.0, 2_000)])
    x = 1.0 - x[x < 1.0]  # the pass's argument, 1 - u, in (0, 1]
    ours = np.array([log_unit(v) for v in x])
    ref = np.array([math.log(v) for v in x])
    assert np.max(np.abs(ours - ref) / np.spacing(np.abs(ref))) <= 4.0
    for k in range(1, 54):
        assert abs(log_unit(2.0**-k) - math.log(2.0**-k)) <= 2 * np.spacing(k * math.log(2.0))
    assert log_unit(1.0) == 0.0 and log_unit(0.5) == math.log(0.5)
