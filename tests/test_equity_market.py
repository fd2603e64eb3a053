"""The equity market: the households' demand at a candidate price is their step at it, held until
it is kept or put back, and the clearing price solves a hand-worked market."""
import numpy as np
import pytest

from kernels import schema as S
from tests.test_kernels import KEY, _state, setup  # noqa: F401 (the kernels' fixture)


def _shard(setup, n, backend, first=0, block=1000):  # noqa: F811
    from sim.layout import Shard
    from sim.shard import HouseholdShard

    shard = HouseholdShard(Shard(0, first, first + n), block, backend, KEY)
    shard.state, shard.types = _state(n, setup, first), 3
    return shard


def _step_inputs(setup):  # noqa: F811
    """What a step takes after its params: the productivity chain and the policy tables."""
    return setup["levels"], setup["cdf"], setup["c"], setup["share"]


def _candidates(setup):  # noqa: F811
    out = []
    for price in (0.8, 1.0, 1.25):  # as the coordinator builds them: the realised return moves
        p = setup["p"].copy()
        p[S.P_RETURN_RISKY] = (price + 0.02) / 1.0
        p[S.P_DIVIDEND] = 0.01 * price
        out.append(p)
    return out


@pytest.mark.parametrize("backend", ["numpy", "fused"])
def test_a_tried_step_is_the_demand_and_is_kept_or_put_back(setup, backend):  # noqa: F811
    # The price search asks each candidate by stepping the households at it and holding the step.
    # A try must (a) return the step's own risky_end sums, (b) leave, once kept, exactly the state
    # and partials of a plain step at that candidate, and (c) be undone by the next try or a plain
    # step, so the period's step starts from the period's state whatever was tried before.
    n, period = 9_001, 3
    cands = _candidates(setup)
    args = _step_inputs(setup)
    plain = []
    for p in cands:
        ref = _shard(setup, n, backend)
        plain.append((ref.step(period, p, *args), ref.state))
    shard = _shard(setup, n, backend)
    wanted = [shard.try_step(period, p, *args) for p in cands]
    for (partials, _), got in zip(plain, wanted):
        assert got.shape == (-(-n // 1000), 1)
        assert np.array_equal(got[:, 0], partials.aggregates[:, S.A_RISKY_END])
    # a higher price raises holders' wealth, so more goods are held in equity
    assert np.all(np.diff([w.sum() for w in wanted]) > 0)
    kept = shard.keep_step(period)  # the last try, at 1.25
    assert np.array_equal(kept.aggregates, plain[2][0].aggregates)
    for name in S.STATE_DTYPES:
        assert np.array_equal(shard.state[name], plain[2][1][name]), name
    # tries at 1.25 then 0.8, then the plain step at 1.0: the state is 1.0's
    again = _shard(setup, n, backend)
    again.try_step(period, cands[2], *args)
    again.try_step(period, cands[0], *args)
    stepped = again.step(period, cands[1], *args)
    assert np.array_equal(stepped.aggregates, plain[1][0].aggregates)
    for name in S.STATE_DTYPES:
        assert np.array_equal(again.state[name], plain[1][1][name]), name
    # and the next period's tries start from that state (the period's copy is retaken)
    nxt = _shard(setup, n, backend)
    nxt.step(period, cands[1], *args)
    expected = nxt.step(period + 1, cands[0], *args)
    again.try_step(period + 1, cands[2], *args)
    again.try_step(period + 1, cands[0], *args)
    assert np.array_equal(again.keep_step(period + 1).aggregates, expected.aggregates)


def test_a_held_try_is_never_mixed_with_another_period_or_a_checkpoint(setup, tmp_path):  # noqa: F811
    shard = _shard(setup, 3000, "fused")
    args = _step_inputs(setup)
    with pytest.raises(RuntimeError, match="no step of period 2 was tried"):
        shard.keep_step(2)
    shard.try_step(2, setup["p"], *args)
    with pytest.raises(RuntimeError, match="a try of period 2 is held at period 3"):
        shard.step(3, setup["p"], *args)
    with pytest.raises(RuntimeError, match="no step of period 3 was tried"):
        shard.keep_step(3)
    with pytest.raises(RuntimeError, match="checkpoint asked while a try of period 2 is held"):
        shard.begin_checkpoint(tmp_path, "p2")
    shard.keep_step(2)
    with pytest.raises(RuntimeError, match="no step of period 2 was tried"):
        shard.keep_step(2)  # kept once


def test_a_try_that_fails_part_way_leaves_the_periods_state(setup):  # noqa: F811
    shard = _shard(setup, 3000, "fused")
    start = {k: v.copy() for k, v in shard.state.items()}
    args = _step_inputs(setup)
    shard.try_step(2, setup["p"], *args)
    calls = []

    def failing(state, *a):  # steps the households, then fails (a lost GPU, a kernel bug)
        calls.append(1)
        state["safe"][:] += 1.0
        raise FloatingPointError("the kernel failed")

    shard._step = failing
    with pytest.raises(FloatingPointError):
        shard.try_step(2, setup["p"], *args)
    assert calls
    for name in S.STATE_DTYPES:
        assert np.array_equal(shard.state[name], start[name]), name
    with pytest.raises(RuntimeError, match="no step of period 2 was tried"):
        shard.keep_step(2)  # the failed try is not held


def test_clear_period_says_whether_the_clearing_price_was_the_last_tried(monkeypatch):
    # The shards hold the step of the last candidate asked; the coordinator keeps it only where
    # that is the clearing price. Regula falsi can end on an earlier candidate (demand a step
    # function: the best |z| seen is not the last), and then the tables returned are that one's.
    import sim.environment
    from sim.macro.clearing import clear_period

    monkeypatch.setattr(sim.environment, "kernel_params", lambda env, cfg: np.array([env]))

    class Economy:  # environments are their prices; tables are tagged with the price solved at
        prices_equity = True

        def __init__(self, wanted):
            self.market, self.wanted = _market(price=1.2), wanted

        def equity_supply(self):
            return 1.0

        def held_price(self):
            return None

        def no_seller_price(self, env):
            return None

        def first_price(self, env):
            return None

        def at_price(self, env, price):
            return price

        def others_value(self, env):
            return 0.0

        def settle_price(self, env, price, slope=None):
            return price

    for wanted, last_is_best in ((lambda p: 1.3 - 0.3 * p, True),  # smooth: clears at p = 1
                                 (lambda p: 1.002 if p < 1.0 else 0.998, False)):  # never within 1e-4
        asked = []

        def demand(params, c, share):
            asked.extend(params[:, 0].tolist())
            return params[:, 0] * np.array([wanted(p) for p in params[:, 0]])

        tables = lambda p: (np.full(2, p), np.full(2, -p))  # noqa: E731
        env, c, share, tried = clear_period(Economy(wanted), None, None, tables, demand)
        assert tried == last_is_best and (env == asked[-1]) == last_is_best
        assert np.all(c == env) and np.all(share == -env)  # the clearing price's own tables
        assert len(asked) > 2


def test_a_market_with_no_shares_left_stops_with_one_clear_line():
    # measured: under economy.investment.rule=accelerator, deficit_ubi_zlb runs away and the firms
    # buy back every share; the no-seller path then set a price for none, and the close divided by 0
    from sim.macro.clearing import clear_period
    from sim.macro.equity import MarketDidNotClear

    class Economy:
        prices_equity = True

        def equity_supply(self):
            return 0.0

        def held_price(self):  # would be taken before the search
            return 1.0

    def unused(*args):
        raise AssertionError("nothing is solved or stepped for a market with no shares")

    with pytest.raises(MarketDidNotClear, match="plan 0 shares outstanding.*no equity to price"):
        clear_period(Economy(), None, None, unused, unused)


def test_a_checkpoint_without_the_premiums_starts_the_search_at_last_price():
    m = _market(price=1.3, premium=0.01, premium_before=0.012)
    state = m.state_dict()
    assert (state["premium"], state["premium_before"]) == (0.01, 0.012)
    older = {k: v for k, v in state.items() if k not in ("premium", "premium_before")}
    restored = _market()
    restored.load_state_dict(older)
    assert restored.price == 1.3 and restored.premium is None and restored.premium_before is None
    restored.load_state_dict(state)
    assert (restored.premium, restored.premium_before) == (0.01, 0.012)


def test_keeping_the_last_try_is_stepping_again(priced, monkeypatch):
    # Run-level: the shards keep the step they took at the clearing price; stepping afresh at
    # the settled environment must give the same bits in every output (the settled environment
    # is the candidate's own).
    import sim.serial
    from tests.economy_driver import simulate

    clear = sim.serial.clear_period
    monkeypatch.setattr(sim.serial, "clear_period", lambda *a: (*clear(*a)[:3], False))
    again = simulate("~calibration", "scenario=baseline", "market=priced", periods=8)
    assert len(again.rows) == len(priced.rows)
    for mine, theirs in zip(again.rows, priced.rows):
        assert mine.keys() == theirs.keys()
        for k in mine:
            assert mine[k] == theirs[k] or (mine[k] != mine[k] and theirs[k] != theirs[k]), k


def test_tried_demand_does_not_depend_on_where_a_shard_starts(setup):  # noqa: F811
    n, block = 12_000, 1000
    args = _step_inputs(setup)
    whole = _shard(setup, n, "fused", block=block).try_step(1, setup["p"], *args)
    parts = []
    for first in (0, 4000, 8000):
        part = _shard(setup, 4000, "fused", first=first, block=block)
        part.state = {k: v[first:first + 4000].copy() for k, v in _state(n, setup).items()}
        parts.append(part.try_step(1, setup["p"], *args))
    assert np.array_equal(np.concatenate(parts), whole)


def _market(growth_weight=0.02, **kw):
    from sim.macro.equity import EquityMarket

    return EquityMarket(payout=0.75, issuance=0.1, growth_weight=growth_weight, span=0.1, **kw)


@pytest.mark.parametrize("reversion", [0.0, 0.03])
@pytest.mark.parametrize("tax", [0.0, 0.25])
def test_price_for_inverts_the_expected_return(reversion, tax):
    # E[R](p) - tau (1 + g) d / p = expected at the price it gives (tau: the capital tax on the
    # dividend yield; indifference_price is its case expected = R_f - tau (R_f - 1))
    m = _market(growth=0.004, reversion=reversion, anchor_yield=0.011)
    for d, expected, safe in ((0.012, 1.02, 1.02), (0.03, 1.011, 1.011), (0.001, 1.0051, 1.008)):
        p = m.price_for(d, expected, tax)
        assert p > 0
        assert m.expected_return(d, p) - tax * m.expected_income(d, p) == pytest.approx(expected, rel=1e-13)
        q = m.indifference_price(d, safe, tax)
        assert m.expected_return(d, q) - tax * m.expected_income(d, q) == pytest.approx(
            safe - tax * (safe - 1.0), rel=1e-13)
    assert m.price_for(0.012, 1.0 + 0.004 - reversion, tax) is None  # E[R] > expected at every price


def test_the_search_starts_where_households_expect_last_periods_premium(monkeypatch):
    # The first candidate of period t is the price at which households would expect, over this
    # period's safe return, the premium they planned with at t-1's clearing price moved as it
    # moved from t-2's (within price_span of p_t-1). Checked against the outputs: E[R](p) = 1 +
    # d/p + nu (d/y - p)/p (no growth belief here) and the premiums (E[R] - 1) - (R_f - 1).
    from sim.macro.equity import EquityMarket
    from tests.economy_driver import simulate

    starts = []
    clear = EquityMarket.clear

    def recorded(self, supply, value_at, start=None):
        starts.append((start, self.price, self.span))
        return clear(self, supply, value_at, start)

    monkeypatch.setattr(EquityMarket, "clear", recorded)
    run = simulate("~calibration", "scenario=baseline", "market=priced", periods=8)
    cfg, rows = run.cfg, run.rows
    eq, dt = cfg.economy.equity, 1.0 / cfg.periods_per_year
    nu = 1.0 - (1.0 - eq.yield_reversion) ** dt
    omega = 1.0 - (1.0 - eq.yield_memory) ** dt
    assert len(starts) == len(rows) - 1  # period 0 is the opening issue
    assert starts[0][0] is None  # no clearing premium yet: period 1 starts at p_0
    normal = rows[0]["dividend"] / rows[0]["equity_price"]
    moved = 0
    for t in range(2, len(rows)):
        last = rows[t - 1]
        normal += omega * (last["dividend"] / last["equity_price"] - normal)
        premium = [r["expected_equity_return"] + 1.0 - r["return_safe"] for r in rows[t - 2:t]]
        trend = premium[1] - premium[0] if t >= 3 else 0.0  # period 0 (the opening) has none
        d = rows[t]["dividend"]
        target = rows[t]["return_safe"] + premium[1] + trend  # 1 + d/p + nu (d/y - p)/p = target
        wanted = d * (1.0 + nu / normal) / (target - 1.0 + nu)
        start, p0, span = starts[t - 1]
        bounded = min(max(wanted, p0 * np.exp(-span)), p0 * np.exp(span))
        assert start == pytest.approx(bounded, rel=1e-12), t
        moved += start != p0
    assert moved == len(rows) - 2


def test_two_household_market_clears_at_the_hand_worked_price():
    # Household 1 holds 3 goods of equity whatever the price; household 2 owns n2 shares and
    # keeps half of its cash on hand m2 = n2 (p + d) + y2 in equity. With S shares outstanding,
    # 3 + (n2 (p + d) + y2) / 2 = p S, so p* = (3 + n2 d / 2 + y2 / 2) / (S - n2 / 2).
    n2, d, y2, S = 4.0, 0.05, 2.0, 6.0
    asked = []

    def value_at(prices):
        asked.extend(prices.tolist())
        return 3.0 + 0.5 * (n2 * (prices + d) + y2)

    expected = (3.0 + 0.5 * n2 * d + 0.5 * y2) / (S - 0.5 * n2)
    market = _market(price=0.6)  # last period's price, well below p* = 1.05: the steps widen
    price, slope = market.clear(S, value_at)
    assert price == pytest.approx(expected, rel=2e-4)  # |excess| <= tolerance 1e-4
    assert price in asked  # the step runs at a price whose decisions were evaluated
    assert len(asked) <= 10  # a few steps and refinements, not a search
    # z(p) = (3 + n2 (p + d) / 2 + y2 / 2) / (p S) - 1, so dz/dlog p = -(3 + n2 d / 2 + y2 / 2) / (p S)
    assert slope == pytest.approx(-(3.0 + 0.5 * n2 * d + 0.5 * y2) / (expected * S), rel=0.3)
    # next period, from the cleared price with that slope, the same market clears at once
    asked.clear()
    market.price, market.slope = price, slope
    assert market.clear(S, value_at)[0] == price and asked == [price]


def test_no_price_clears_gives_one_clear_line():
    from sim.macro.equity import MarketDidNotClear

    with pytest.raises(MarketDidNotClear, match="no equity price in .* clears the market for 10 shares"):
        _market().clear(10.0, lambda p: np.zeros_like(p))  # nobody wants equity at any price


def test_beliefs_from_observables():
    m = _market(price=2.0, dividend=0.04)
    # E[R] = (1 + g)(1 + d / p): a higher price lowers the expected return
    assert m.expected_return(0.04, 2.0) == pytest.approx(1.02)
    assert m.expected_return(0.04, 4.0) < m.expected_return(0.04, 2.0)
    assert m.realised_return(2.2, 0.04) == pytest.approx((2.2 + 0.04) / 2.0)
    # growth adapts to observed dividend growth from the third close on (d_0 is an opening yield)
    for t in range(3):
        m.close(price=2.0, dividend=0.04 * 1.01 ** (t + 1), equity_value=20.0, profit=1.0)
    assert m.growth == pytest.approx(0.02 * 0.01, rel=1e-9)
    assert m.shares == pytest.approx(10.0)


def test_the_price_is_expected_to_revert_to_the_normal_yield():
    """E[R] = 1 + d / p + nu (d / y - p) / p, worked by hand: at the anchor price d / y no move is
    expected; above it a fall, below it a rise; the normal yield y averages the yields seen."""
    m = _market(growth_weight=0.0, reversion=0.1, anchor_weight=0.5)
    assert m.expected_return(0.04, 2.0) == pytest.approx(1.02)  # no yield seen yet: Gordon's
    m.close(price=2.0, dividend=0.04, equity_value=20.0, profit=1.0)
    assert m.anchor_yield == pytest.approx(0.02) and 0.04 / m.anchor_yield == pytest.approx(2.0)
    assert m.expected_return(0.04, 2.0) == pytest.approx(1.02)  # at the anchor: Gordon's
    assert m.expected_return(0.04, 4.0) == pytest.approx(1.0 + 0.01 + 0.1 * (2.0 - 4.0) / 4.0)
    assert m.expected_return(0.04, 1.0) == pytest.approx(1.0 + 0.04 + 0.1 * (2.0 - 1.0) / 1.0)
    m.close(price=1.0, dividend=0.04, equity_value=20.0, profit=1.0)  # a yield of 0.04 seen
    assert m.anchor_yield == pytest.approx(0.02 + 0.5 * (0.04 - 0.02))
    restored = _market(growth_weight=0.0, reversion=0.1, anchor_weight=0.5)
    restored.load_state_dict(m.state_dict())
    assert restored.anchor_yield == m.anchor_yield
    # demand for a share falls without bound as the price rises, E[R] -> 1 - nu: a price always clears
    assert m.expected_return(0.04, 1e9) == pytest.approx(0.9, rel=1e-6)


@pytest.fixture(scope="module")
def priced():
    """The uncalibrated baseline with the priced market, in one process (tests/economy_driver)."""
    from tests.economy_driver import simulate

    return simulate("~calibration", "scenario=baseline", "market=priced", periods=8)


def test_priced_market_follows_its_rules_period_by_period(priced):
    """Each period's outputs against the rules' closed forms (sim/macro/equity.py), computed here
    from the outputs themselves: the realised return (p_t + d_t) / p_t-1, the expected return
    d_t / p_t + nu (d_t / y_t-1 - p_t) / p_t (Gordon's, no growth belief, plus the expected move
    toward the normal yield y, y_t = y_t-1 + omega (d_t / p_t - y_t-1) from y_0 = d_0 / p_0), Lintner's dividend D_t = D_t-1 + s (payout Pi_t-1^+ - D_t-1), the
    leverage-target financing rule S_t = S_t-1 - a (lambda (K + N) - D_F) / p_t-1 up to the
    clearing gap, which is within the market's tolerance; and the books close."""
    cfg, rows = priced.cfg, priced.rows
    eq, dt = cfg.economy.equity, 1.0 / cfg.periods_per_year
    s = 1.0 - (1.0 - eq.dividend_smoothing) ** dt
    a = 1.0 - (1.0 - eq.leverage_adjustment) ** dt
    nu = 1.0 - (1.0 - eq.yield_reversion) ** dt
    omega = 1.0 - (1.0 - eq.yield_memory) ** dt
    assert nu > 0 and omega > 0  # market=priced's choice: the anchor is in play
    assert rows[0]["equity_price"] == 1.0  # the opening issue at p_-1 = 1
    normal = rows[0]["dividend"] / rows[0]["equity_price"]
    for t in range(1, len(rows)):
        now, last = rows[t], rows[t - 1]
        p, d, p0 = now["equity_price"], now["dividend"], last["equity_price"]
        assert now["return_risky"] == pytest.approx((p + d) / p0, rel=1e-14)
        assert now["expected_equity_return"] == pytest.approx(d / p + nu * (d / normal - p) / p, rel=1e-12)
        normal += omega * (d / p - normal)
        assert abs(now["equity_clearing_gap"]) <= 1e-4  # the market's tolerance
        gap = eq.leverage_target * (last["capital"] + last["inventories"]) - last["firm_debt"]
        planned = last["shares_outstanding"] - a * gap / p0
        assert now["shares_outstanding"] / planned - 1.0 == pytest.approx(now["equity_clearing_gap"], abs=1e-12)
        assert now["equity_value"] == pytest.approx(p * now["shares_outstanding"], rel=1e-12)
        assert now["sfc_residual"] <= 1e-9
        if t >= 2:
            paid_before = last["dividend"] * rows[t - 2]["shares_outstanding"]
            target = eq.payout * max(last["firm_profit"], 0.0)
            assert d * last["shares_outstanding"] == pytest.approx(paid_before + s * (target - paid_before), rel=1e-12)
    # the price moved: the market, not the configuration, set it
    assert len({r["equity_price"] for r in rows[1:]}) == len(rows) - 1


def test_a_held_price_is_taken_that_period_and_firms_absorb_the_gap(priced):
    """``economy.equity.held_period`` (the MPC experiment's device): that period trades at the held
    price, firms issue or buy back what holders do not take at it, the periods before are the
    unheld run's bit for bit, and the market clears again after it."""
    from tests.economy_driver import simulate

    p3 = priced.rows[3]["equity_price"]
    held = simulate("~calibration", "scenario=baseline", "market=priced", "economy.equity.held_period=3",
                    f"economy.equity.held_price={1.05 * p3!r}", periods=6)
    for a, b in zip(priced.rows[:3], held.rows[:3], strict=True):
        assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    row = held.rows[3]
    assert row["equity_price"] == 1.05 * p3
    assert row["equity_clearing_gap"] < -1e-3  # above the clearing price fewer shares are wanted
    assert row["equity_value"] == pytest.approx(row["equity_price"] * row["shares_outstanding"], rel=1e-12)
    assert all(r["sfc_residual"] <= 1e-9 for r in held.rows)
    assert all(abs(r["equity_clearing_gap"]) <= 1e-4 for r in held.rows[4:])


def test_a_participation_cost_keeps_the_poorest_out_of_equity():
    """With kappa > 0 under the priced market the households below the Merton threshold hold only
    safe assets (docs/economy.md, "Who holds equity"): participation falls below one and the
    households' portfolios hold both assets."""
    from tests.economy_driver import simulate

    run = simulate("~calibration", "scenario=baseline", "economy.equity.market=priced",
                   "economy.equity.participation_cost=0.02", periods=6)
    last = run.rows[-1]
    assert 0.05 < last["participation_rate"] < 0.95
    assert last["household_safe_assets"] > 0 and last["household_risky_assets"] > 0


@pytest.mark.parametrize("overrides, says", [
    (["economy.closure=classical"], "a market of the demand closure"),
    (["household.resolve_every=4"], "set household.resolve_every=1"),
])
def test_priced_market_refuses_what_it_cannot_clear(overrides, says):
    """The priced market clears by re-solving the household problem at each candidate price, in the
    demand closure: another closure would silently run without it, and cached tables would fix the
    households' beliefs, so that no price may clear (measured: demand zero at every price)."""
    from sim.config import ConfigError, compose, validate

    with pytest.raises(ConfigError, match=says):
        validate(compose(["market=priced", *overrides]))


def test_a_last_step_that_clears_is_taken():
    # the search's last allowed step lands within the tolerance on the same side: it clears there
    # (it used to give up, since the loop ended before testing that step)
    answers = iter([0.05, 5e-6])
    asked = []

    def value_at(prices):
        asked.append(float(prices[0]))
        return np.array([(1.0 + next(answers)) * prices[0] * 10.0])

    price, _ = _market(price=1.0, max_widen=1).clear(10.0, value_at)
    assert price == asked[-1] and len(asked) == 2


def test_belief_cap_lowers_both_levels_keeps_the_premium_and_is_off_by_default():
    """Where economy.patience_cap is set (the value market's), the households' returns are lowered
    together until the Merton portfolio's certainty-equivalent return equals the cap, worked by
    hand: gamma 2, sigma 0.1, premium 0.01 a quarter -> share 0.5, CE excess 0.5 x 0.01 - 0.02 x 0.25 / 2
    = 0.0025; with R_f 1.01 and a cap of 1.011 the safe belief falls to 1.0085, the risky mean to
    1.0185. Under the default, priced market there is no cap (null), so nothing is lowered."""
    from types import SimpleNamespace

    from sim.config import compose
    from sim.macro.equity import PricedDemandEconomy

    households = SimpleNamespace(crra=2.0, risky_std=0.1)
    safe, risky, lowered = PricedDemandEconomy._believed(households, 1.02, 1.01, 1.011)
    assert lowered and safe == pytest.approx(1.0085, abs=1e-12) and risky == pytest.approx(1.0185, abs=1e-12)
    assert PricedDemandEconomy._believed(households, 1.02, 1.01, 1.02) == (1.01, 1.02, False)
    assert compose([]).economy.patience_cap is None
    assert compose(["market=value"]).economy.patience_cap == 0.998


@pytest.mark.parametrize("dominant, held", [(1.0, True), (0.5, False)])
def test_a_buyback_without_sellers_trades_where_households_want_no_equity(dominant, held):
    """The fund and the dominant holder never sell, so where they hold every share and the firms
    plan a buyback (net cash, firm_debt < 0, against a target of none: the leverage rule buys
    back) no price clears but a one-buyer market's: the period trades at the price at which
    households expect the safe return after tax, E[R](p) - tau (1 + g) d / p = R_f - tau (R_f - 1)
    (checked here on the market's own E[R]), reported as equity_no_seller. Where households
    hold half the shares they sell into the buyback, and the market clears by price as usual."""
    from tests.economy_driver import simulate

    run = simulate("~calibration", "scenario=compute_monopoly", periods=2)
    economy, market = run.economy, run.economy.market
    value = market.shares * market.price
    economy.dominant.equity, economy.hh_risky = dominant * value, (1.0 - dominant) * value
    economy.firm_debt = -50.0  # net cash: the leverage rule buys back
    env = economy.environment(2, run.totals[-1], run.rows[-1]["median_income"])
    plan = economy._plan_t
    assert plan.share_supply < market.shares  # a buyback
    price = economy.no_seller_price(env)
    assert (price is not None) is held and plan.no_seller is held and not plan.buyback_capped
    if held:
        d, R, tau = plan.dividend_per_share, plan.return_safe, plan.stance.tax_capital
        assert market.reversion > 0 and market.anchor_yield > 0  # the anchor's term is in play
        after_tax = market.expected_return(d, price) - tau * (1.0 + market.growth) * d / price
        assert after_tax == pytest.approx(R - tau * (R - 1.0), abs=1e-13)
        # and on what households plan with there (the environment's own after-tax returns): no premium
        faced = economy.at_price(env, price)
        assert faced.after_tax_risky_mean == pytest.approx(faced.after_tax_gross(faced.belief_return_safe), abs=1e-13)
