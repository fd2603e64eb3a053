"""Acceptance of every shipped scenario (issue 13's economy items), stepped in process
(tests/economy_driver.py) at 2,000 households: inventories never negative, annualised inflation in
[-10 %, +20 %] and the real rate below 15 %/yr in every period, closed accounts, the fund's and the
dominant holder's stakes as configured at t = 0, debt/GDP below 4 at the end. The default suite runs 5 years; the slow mark
runs the 30 years (120 quarters) of the acceptance criteria. Both under the default, priced equity
market (docs/economy.md "The priced equity market"), and the same under stage 1's value market
(``market=value``): its 30 years are slow; the default suite runs three scenarios with it, the UBI
under automation, the dominant holder and the fund whose stake must open as configured, 5 years
each."""
import numpy as np
import pytest

from economy_driver import simulate
from sim.config import CONF_DIR

SCENARIOS = sorted(p.stem for p in (CONF_DIR / "scenario").glob("*.yaml"))


def check_scenario(name: str, periods: int, *overrides: str) -> None:
    run = simulate(f"scenario={name}", *overrides, periods=periods)
    s, cfg = run.series, run.cfg
    assert np.all(s("inventories") >= 0.0), name
    inflation = (1.0 + s("inflation")) ** 4 - 1.0
    real = (1.0 + s("real_rate")) ** 4 - 1.0
    assert np.all((inflation >= -0.10) & (inflation <= 0.20)), (name, inflation.min(), inflation.max())
    assert np.all(real < 0.15), (name, real.max())
    assert np.all(s("sfc_residual") <= 1e-9), name
    # issue 13's criterion is debt/GDP below 4 at the end of 30 years. A shorter run checks only that
    # debt does not run away (the deficit UBI's runaway reached 55): the UBI scenarios pass 4 around
    # year 5 while the tax rule catches up (under stop 22's calibration agi_20y_ubi 4.08 at quarter
    # 19, at most 4.32 in quarter 30) and end at 3.4 (docs/economy.md, the 30-year table)
    assert s("debt_to_gdp")[-1] < (4.0 if periods >= 120 else 5.0), (name, s("debt_to_gdp")[-1])
    assert s("fund_capital_share")[0] == pytest.approx(cfg.policy.fund.initial_share, abs=0.01)
    assert s("dominant_capital_share")[0] == pytest.approx(cfg.policy.dominant.initial_share, abs=0.01)
    # no clipping device binds in the beliefs (the spec): a guard, since market=priced sets no cap,
    # against one set again in a scenario or the market's config
    if cfg.economy.equity.market == "priced":
        assert np.all(s("belief_bound_binds") == 0.0), name


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_has_no_artefacts_over_5_years(name):
    check_scenario(name, 20)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_has_no_artefacts_over_30_years(name):
    check_scenario(name, 120)


@pytest.mark.parametrize("name", ["agi_20y_ubi", "compute_monopoly", "universal_basic_capital"])
def test_value_market_scenario_has_no_artefacts_over_5_years(name):
    check_scenario(name, 20, "market=value")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_value_market_scenario_has_no_artefacts_over_30_years(name):
    check_scenario(name, 120, "market=value")


@pytest.mark.slow
def test_a_ubi_restores_the_demand_a_compute_monopoly_loses():
    """The seeds' shortfall where the automation income goes to a holder that spends little
    (docs/economy.md, "The priced equity market"): over 30 years compute_monopoly's dominant
    holder comes to own every share, and demand collapses (a third of the workforce idle or more,
    the policy rate at zero); the same economy with a UBI paid by the tax rule keeps unemployment
    within the baseline's range and never reaches the zero lower bound. Both runs pass through
    quarters where the buyback has no seller (the period trades where households want no equity)."""
    runs = {name: simulate(f"scenario={name}", periods=120) for name in ("compute_monopoly", "compute_monopoly_ubi")}
    plain, ubi = (runs[k].series for k in ("compute_monopoly", "compute_monopoly_ubi"))
    assert plain("dominant_capital_share")[-1] > 0.99 and ubi("dominant_capital_share")[-1] > 0.99
    assert plain("unemployment_rate")[-8:].min() > 0.3 and np.sum(plain("nominal_rate") <= 1e-12) >= 8
    assert ubi("unemployment_rate")[-8:].max() < 0.07 and np.all(ubi("nominal_rate") > 0.0)
    assert ubi("consumption")[-1] > 2.0 * plain("consumption")[-1]
    for s in (plain, ubi):
        assert s("equity_no_seller").sum() > 0  # the no-seller price's path was taken


@pytest.mark.slow
def test_the_baseline_lies_in_the_ranges_of_the_data():
    """Issue 13's baseline, 40 years after a 10-year burn-in (quarters 40-200), against the ranges the
    model's spec takes from the data (docs/economy.md, "The priced equity market"; SCF 2019 for the
    portfolios, survey and historical premia for the equity's excess return): the real safe rate
    0-4 %/yr, the equity's mean excess return 2-9 %/yr both realised and as households expect it, their
    safe share of financial wealth 0.2-0.8, participation 0.35-0.8, unemployment 3-7 %, inflation
    1-3 %/yr, and debt/GDP drifting by less than 0.1 over the last 10 years."""
    s = simulate("scenario=baseline", periods=200).series
    w = slice(40, 200)
    per_year = lambda x: 4.0 * float(np.mean(x[w]))  # noqa: E731 - a mean quarterly rate, per year
    safe, risky = s("household_safe_assets"), s("household_risky_assets")
    moments = {
        "real safe rate": per_year(s("return_safe") - 1.0),
        "realised excess": per_year(s("return_risky") - s("return_safe")),
        "expected excess": per_year(s("expected_equity_return") + 1.0 - s("return_safe")),
        "safe share": float(np.mean((safe / (safe + risky))[w])),
        "participation": float(np.mean(s("participation_rate")[w])),
        "unemployment": float(np.mean(s("unemployment_rate")[w])),
        "inflation": per_year(s("inflation")),
        "debt drift": abs(s("debt_to_gdp")[199] - s("debt_to_gdp")[159]),
    }
    ranges = {"real safe rate": (0.0, 0.04), "realised excess": (0.02, 0.09), "expected excess": (0.02, 0.09),
              "safe share": (0.2, 0.8), "participation": (0.35, 0.8), "unemployment": (0.03, 0.07),
              "inflation": (0.01, 0.03), "debt drift": (0.0, 0.1)}
    outside = {k: round(v, 4) for k, v in moments.items() if not ranges[k][0] <= v <= ranges[k][1]}
    assert not outside, (outside, moments)
