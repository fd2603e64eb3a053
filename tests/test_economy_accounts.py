"""Stock-flow consistency of the macro block, its checkpoint state, and the policy and labour-market
rules it is built from."""
import json
from dataclasses import replace

import numpy as np
import pytest

from economy_driver import simulate
from sim.config import ConfigError, compose
from sim.economy import make_economy
from sim.macro import government as gov
from sim.macro import period
from sim.macro.labour import LabourMarket
from sim.macro.ownership import Owner
from sim.macro.sfc import SECTORS, Ledger, flow_of_funds, largest_residual


def test_ledger_rows_columns_and_flow_of_funds():
    led = Ledger()
    led.transfer("wages", "firms", "households", 10.0)
    led.transfer("UBI", "government", "households", 2.0, 2.5)  # the two sides disagree by 0.5
    led.entry("investment", "firms", 3.0)
    led.entry("investment", "firms", -3.0, capital=True)
    assert led.row_residuals() == {"wages": 0.0, "UBI": 0.5, "investment": 0.0}
    assert led.net_lending("households") == 12.5 and led.net_lending("firms") == -10.0
    assert set(led.matrix()["wages"]) == set(SECTORS)
    change = {s: 0.0 for s in SECTORS} | {"households": 12.5, "firms": -10.0, "government": -2.0}
    assert flow_of_funds(led, change) == {s: 0.0 for s in SECTORS}
    assert largest_residual({"a": 1e-3, "b": -2e-3}, 10.0) == (2e-4, "b")


@pytest.mark.parametrize("scenario", ["baseline", "universal_basic_capital", "card_fees"])
def test_accounts_close_to_rounding_every_period(scenario):
    run = simulate(f"scenario={scenario}", periods=5)
    eco = run.economy
    assert all(r["sfc_residual"] < 1e-12 for r in run.rows)
    # the balance sheet adds up: sectors' net worth = capital + inventories
    last = run.rows[-1]
    n = run.cfg.population.households
    net_worth = (last["mean_wealth"] * n + last["firm_net_worth"] - last["government_debt"]
                 + eco.fund.equity + eco.dominant.equity + eco.intermediaries.safe)
    assert net_worth == pytest.approx(last["capital"] + last["inventories"], rel=1e-12)
    # every residual the economy checked is there and tiny
    assert len(eco.last_residuals) >= 25
    assert max(abs(v) for v in eco.last_residuals.values()) < 1e-9 * last["output"]


@pytest.mark.parametrize("name, factor, identity", [
    ("ubi", 1.001, "row: UBI"),
    ("labour_income", 1.0005, "row: wages"),
    ("risky_end", 1.0001, "household budget (kernels)"),
])
def test_an_inconsistent_flow_is_caught(name, factor, identity):
    """Scale one of the households' reported sums: the period's sfc_residual must see it."""
    def tamper(t, totals):
        if t != 2:
            return totals
        agg = dict(totals.agg)
        agg[name] *= factor
        return replace(totals, agg=agg)

    run = simulate("scenario=baseline", "policy.ubi.level=0.1", periods=3, tamper=tamper)
    sfc = [r["sfc_residual"] for r in run.rows]
    assert sfc[0] < 1e-12 and sfc[1] < 1e-12
    assert sfc[2] > 1e-6
    res = run.economy.last_residuals
    assert abs(res[identity]) > 1e-6 * run.rows[2]["output"]


def test_state_dict_round_trip_replays_the_next_period_exactly():
    run = simulate("scenario=robot_tax_ubi", periods=4)
    cfg, eco = run.cfg, run.economy
    # a fresh economy restored from the JSON state of the original after period 3 ...
    state = json.loads(json.dumps(eco.state_dict()))
    restored = make_economy(cfg, eco.key)
    restored.load_state_dict(state)
    assert restored.state_dict() == eco.state_dict()
    # ... faces the same environment in period 4 and books the same accounts
    med = run.rows[-1]["median_income"]
    env_a, env_b = eco.environment(4, run.totals[-1], med), restored.environment(4, run.totals[-1], med)
    assert env_a == env_b
    row_a, row_b = eco.close(4, env_a, run.totals[-1]), restored.close(4, env_b, run.totals[-1])
    assert row_a.keys() == row_b.keys()
    assert all(row_a[k] == row_b[k] or (np.isnan(row_a[k]) and np.isnan(row_b[k])) for k in row_a)


def test_environment_does_not_change_the_state():
    run = simulate("scenario=agi_5y", periods=2)
    before = run.economy.state_dict()
    run.economy.environment(2, run.totals[-1], run.rows[-1]["median_income"])
    assert run.economy.state_dict() == before


@pytest.mark.parametrize("closure", ["fixed", "classical", "demand"])
def test_every_closure_has_the_interface(closure):
    eco = make_economy(compose(["population.households=1000", "population.block_size=500",
                                f"economy.closure={closure}",
                                # the priced equity market is the demand closure's
                                *(["market=value"] if closure != "demand" else []),
                                # the calibration is the demand closure's (tests/test_economy_fixed.py)
                                *(["~calibration"] if closure == "fixed" else [])]), 7)
    assert 0.0 <= eco.initial_automation < 1.0
    assert eco.initial_wealth_mean > 0.0
    json.dumps(eco.state_dict())
    for name in ("environment", "close", "load_state_dict"):
        assert callable(getattr(eco, name))


def test_labour_market_steering_hits_the_planned_employment():
    lab = LabourMarket(households=1000, separation=0.02, job_finding=0.5, hazard=0.1,
                       job_finding_max=1.0, separation_max=0.5, job_finding_min=0.05)
    assert lab.natural_rate == pytest.approx(0.02 / 0.52)
    employed, a = 900.0, 0.2
    for target in (960.0, 920.0, 880.0, 700.0):
        s, f = lab.steer(employed, a, target)
        expected = employed * (1 - s - 0.1 * a) + (1000 - employed) * f
        assert expected == pytest.approx(target)
        assert 0.05 <= f <= 1.0 and 0.02 <= s <= 0.5
    # beyond the bounds the rates stop at them
    assert lab.steer(employed, a, 999.0) == (0.02, 1.0)
    assert lab.steer(employed, a, 100.0) == (0.5, 0.05)
    # beliefs: the base job-finding rate at the natural rate, lower with slack
    assert lab.belief_job_finding(0.0, lab.full_employment) == pytest.approx(0.5)
    assert lab.belief_job_finding(0.0, 900.0) < 0.5


def test_ubi_ramp_index_and_fiscal_rule():
    assert [gov.ubi_ramp(t, 2, 4) for t in range(7)] == [0, 0, 0.25, 0.5, 0.75, 1, 1]
    assert gov.ubi_ramp(5, 0, 0) == 1.0
    idx = dict(price_level=1.25, wage=0.5, wage0=0.25, potential=3.0, potential0=2.0)
    assert [gov.ubi_index(k, **idx) for k in gov.UBI_INDEXATION] == [1.0, 0.8, 2.0, 1.5]
    s = gov.FiscalSettings.from_config(compose(["policy.financing=tax_rule", "policy.tax_labour=0.2",
                                                "policy.fiscal.target_debt_to_gdp=0.6",
                                                "policy.fiscal.response=0.1", "policy.fiscal.integral=0.02",
                                                "policy.government.spending=0.1"]).policy)
    st = gov.stance(s, 0, debt_ratio=0.9, potential=100.0, index=1.0)  # 0.3 above the 0.6 target
    assert st.surcharge == pytest.approx(0.03) and st.tax_labour == pytest.approx(0.23)
    assert st.spending == pytest.approx(10.0)
    assert gov.stance(s, 0, debt_ratio=None, potential=100.0, index=1.0).surcharge == 0.0
    # the integral term: 0.02 x 0.3 accumulates 0.006 a period and adds to the proportional part
    carried = gov.integrate_debt_gap(s, gov.integrate_debt_gap(s, 0.0, 0.9), 0.9)
    assert carried == pytest.approx(0.012)
    assert gov.stance(s, 0, debt_ratio=0.9, potential=100.0, index=1.0, carried=carried).surcharge == pytest.approx(0.042)
    # no wind-up: 0.1 x 8.4 alone is above the largest surcharge that moves a rate (0.3), so the
    # integral term stays where it was (tests/test_economy_financing.py has the rule's other cases)
    assert gov.integrate_debt_gap(s, 0.29, 9.0) == 0.29
    assert gov.stance(replace(s, financing="deficit"), 0, debt_ratio=5.0, potential=1.0, index=1.0).surcharge == 0
    # balanced: the carried surcharge, whatever the debt; a shortfall of 3 on a base of 100 adds 0.03
    s_b = replace(s, financing="balanced")
    st = gov.stance(s_b, 0, debt_ratio=5.0, potential=100.0, index=1.0, carried=0.05)
    assert st.surcharge == 0.05 and st.tax_labour == pytest.approx(0.25)
    assert gov.balanced_surcharge(0.05, 3.0, 100.0) == pytest.approx(0.08)
    assert gov.balanced_surcharge(0.9, 50.0, 100.0) == gov.MAX_TAX  # no wind-up past the bound


@pytest.mark.parametrize("overrides, key", [
    (["economy.closure=keynes"], "economy.closure"),
    (["economy.technology=leontief"], "economy.technology"),
    (["economy.automation_path.kind=singularity"], "economy.automation_path.kind"),
    (["policy.ubi.indexation=gold"], "policy.ubi.indexation"),
    (["policy.financing=mmt"], "policy.financing"),
    (["policy.fiscal.rule=tax"], "policy.fiscal.rule"),  # the old key is gone: one source of truth
    (["policy.fund.initial_share=0.6", "policy.dominant.initial_share=0.5"], "policy.fund.initial_share"),
    (["scenario=baseline", "policy.dividend=0.1"], "policy.dividend"),
    (["economy.depreciation=1.5"], "economy.depreciation"),
])
def test_bad_economy_config_is_refused(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        compose(overrides)


def test_rationing_queue_hand_worked():
    """Orders 10 (investment) + 4 (government) + 3 (dominant) + 2 (intermediaries) exceed what is
    available by 6: the dominant holder (3) and the intermediaries (2) are cut to 0, the
    government by the last 1; investment is served in full."""
    orders = {"investment": 10.0, "government": 4.0, "dominant": 3.0, "intermediaries": 2.0}
    served, left = period.ration(orders, 6.0)
    assert served == {"investment": 10.0, "government": 3.0, "dominant": 0.0, "intermediaries": 0.0}
    assert left == 0.0
    served, left = period.ration(orders, 25.0)  # more than all of them: the households' part is left
    assert all(v == 0.0 for v in served.values()) and left == 25.0 - 19.0


def test_rationed_orders_close_the_accounts():
    """Two periods in which orders exceed output + inventories (government consumption at 60% of
    potential): inventories end at 0, never below, the rationed goods are not bought, and the
    accounts close."""
    run = simulate("scenario=baseline", "policy.government.spending=0.6", periods=2)
    for row in run.rows:
        assert row["inventories"] >= 0.0
        assert row["sfc_residual"] < 1e-12
    rationed = run.series("rationed_demand")
    assert rationed.max() > 0
    for t, row in enumerate(run.rows):
        if rationed[t] > 0:
            opening = run.rows[t - 1]["inventories"] if t else 0.0
            assert row["inventories"] == 0.0
            served = row["demand"] - row["rationed_demand"]
            assert served == pytest.approx(row["output"] + opening, rel=1e-12)  # all goods sold
            assert row["government_spending"] < 0.6 * row["potential_output"]  # cut by the queue


def test_opening_wealth_inverts_the_opening_balance_sheet():
    """period.opening_wealth solves open_balance_sheet's B_G = b_0 + S_I - D_F for the households'
    wealth: hand-worked, K = 100, B = 50, rho = 0.2, payout = 0.01, no owners or intermediaries:
    W = 150 / (0.8 + 1.01 x 0.2) = 149.70...; and fed back (theta = 0) it gives the debt exactly."""
    assert period.opening_wealth(50.0, capital=100.0, risky_share=0.2, owners_share=0.0,
                                 payout=0.01) == pytest.approx(150.0 / 1.002, rel=1e-15)
    for debt, rho, payout, s_i in ((50.0, 0.2, 0.01, 0.0), (300.0, 0.5, 0.0, 7.0), (0.0, 0.0, 0.02, 0.0)):
        w = period.opening_wealth(debt, capital=100.0, risky_share=rho, owners_share=0.0, payout=payout,
                                  intermediaries=s_i)
        tot = {"safe_begin": (1 - rho) * w, "risky_begin": rho * w, "risky_end": 0.9 * rho * w}
        st = period.open_balance_sheet(tot, capital=100.0, theta_fund=0.0, theta_dominant=0.0, payout=payout,
                                       intermediaries=s_i, return_risky=1.01, dividends=0.0,
                                       dominant=Owner(initial_share=0.0, retain=0.5), tax_rate=0.0)
        assert st.government_debt == pytest.approx(debt, abs=1e-12 * w)
    with pytest.raises(ValueError, match="no wealth"):
        period.opening_wealth(-100.0, capital=100.0, risky_share=0.2, owners_share=0.0, payout=0.0)


def test_the_economy_opens_with_its_debt_at_the_configured_ratio():
    """economy.initial_debt_to_gdp = d: the opening government debt B_G,-1 (the closing debt of
    period 0 less its deficit) is d times annual potential output up to the sampling of the
    households' initial draw: B - d Y* = D (W - E[W]) with D = (1 - rho) + (1 + payout) rho the
    balance sheet's slope (period.opening_wealth) and W the drawn total, whose relative standard
    deviation is 1 / sqrt(n) (exponential draws: std = mean). The draws' total is within 4 of them.
    (The calibration's stationary opening scales its law to the drawn total, so there its debt is
    the configured ratio to round-off: tests/test_opening_wealth.py.)"""
    n, d = 2000, 2.5
    run = simulate("scenario=baseline", "population.initial_wealth=exponential", f"economy.initial_debt_to_gdp={d}",
                   periods=1)
    row, tot = run.rows[0], run.totals[0]
    eco = make_economy(run.cfg, 0)  # as it opens (the run's has closed period 0)
    annual = eco.potential0 * eco.ppy
    rho = float(run.cfg.population.initial_risky_share)
    slope = (1 - rho) + (1 + eco._opening_payout()) * rho
    expected_w = eco.initial_wealth_mean * n
    drawn_w = tot["safe_begin"] + tot["risky_begin"]
    opening = row["government_debt"] - row["government_deficit"]
    assert opening == pytest.approx(d * annual + slope * (drawn_w - expected_w), rel=1e-9)
    assert abs(drawn_w / expected_w - 1.0) < 4.0 / np.sqrt(n)
    assert row["sfc_residual"] <= 1e-9
    # null: the configured mean wealth, whatever debt it leaves
    bare = simulate("scenario=baseline", "economy.initial_debt_to_gdp=null", "population.initial_wealth_mean=3",
                    periods=1)
    assert bare.economy.initial_wealth_mean == 3.0


def test_accounts_that_do_not_close_stop_a_run():
    """The distributed and the in-process loops share one check: a residual above 1e-9 of output,
    or a NaN, raises; within it, nothing."""
    from sim.accounts import AccountingError, check_closed

    check_closed(3, {"sfc_residual": 1e-10})
    for bad in (2e-9, float("nan")):
        with pytest.raises(AccountingError, match="period 3: stock-flow residual"):
            check_closed(3, {"sfc_residual": bad})
