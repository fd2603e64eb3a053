"""Every named scenario runs end to end on the real coordinator (Ray, one actor): the accounts close
every period, every output is present, labelled and finite, and each scenario's switch shows."""
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sim.config import CONF_DIR, compose
from sim.coordinator import run
from sim.results import PRICED_MARKET, SERIES

SCENARIOS = sorted(p.stem for p in (CONF_DIR / "scenario").glob("*.yaml"))
NAMED = ["baseline", "agi_20y", "agi_5y", "agi_20y_ubi", "ubi_autoinvest", "universal_basic_capital",
         "robot_tax_ubi", "low_fees", "card_fees", "compute_monopoly", "deficit_ubi_zlb"]
SMALL = ["population.households=5000", "population.block_size=1024", "cluster.actors=1", "periods=4",
         "output.progress=false", "checkpoint.every=0", "output.snapshot_every=2",
         "household.grid_points=100"]
# docs/design.md, "Interfaces users rely on"
INTERFACE = ["output", "potential_output", "consumption", "investment", "wage", "labour_share",
             "unemployment_rate", "inflation", "gini_wealth", "gini_income", "gini_consumption",
             "top1_wealth_share", "top10_wealth_share", "bottom50_wealth_share",
             "dominant_capital_share", "debt_to_gdp", "sfc_residual"]


def test_the_named_scenarios_exist_and_are_documented():
    assert set(NAMED) <= set(SCENARIOS)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    for name in SCENARIOS:
        text = (CONF_DIR / "scenario" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_\n"), name
        comment = re.match(r"(#.*\n)+", text).group(0)
        assert "Question" in comment and len(comment.splitlines()) >= 3, name
        assert f"`{name}`" in doc, name
        assert compose([f"scenario={name}"]).economy.closure == "demand", name


@pytest.fixture(scope="module")
def results(ray_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in SCENARIOS:
        cfg = compose([f"scenario={name}", *SMALL])
        run(cfg, tmp / name)
        out[name] = xr.open_zarr(tmp / name / "results.zarr").load()
    return out


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_runs_with_closed_accounts_and_finite_outputs(results, name):
    ds = results[name]
    assert ds.sizes["period"] == 4
    for var in INTERFACE:
        assert var in ds, var
    for var, da in ds.data_vars.items():
        assert np.all(np.isfinite(da.values)), var
        assert da.attrs.get("units") and da.attrs.get("description"), var
    # every series, the priced market's included (the default market's; a market=value run has
    # all but those)
    assert set(ds.data_vars) >= {k for k in SERIES if not k.endswith("_bound")} - {"mean_wealth"}
    assert set(PRICED_MARKET) <= set(ds.data_vars)
    assert np.all(ds["sfc_residual"].values < 1e-9)
    assert np.all(ds["output"] <= ds["potential_output"] * (1 + 1e-12))
    assert np.all((ds["unemployment_rate"] >= 0) & (ds["unemployment_rate"] <= 1))


def test_each_scenario_switch_shows_in_its_outputs(results):
    r = results
    phi = {k: r[k]["automation"].values for k in r}
    assert np.all(phi["baseline"] == 0.608)
    assert phi["agi_5y"][-1] > phi["agi_20y"][-1] > 0.608  # 5 years is faster than 20
    for k in ("agi_20y_ubi", "ubi_autoinvest", "robot_tax_ubi", "compute_monopoly_ubi"):
        assert r[k]["ubi_cost"].values[-1] > 0, k
    assert np.all(r["deficit_ubi_zlb"]["ubi_cost"].values == 0)  # it starts in period 8
    assert r["agi_20y"]["ubi_cost"].values.max() == 0
    # 8-quarter ramp: the first period pays an eighth, indexed to potential output per household
    ubi = r["agi_20y_ubi"]
    first = ubi["ubi_level"].values[0]
    assert first == pytest.approx(0.1 / 8, rel=1e-12)
    assert ubi["ubi_level"].values[1] == pytest.approx(
        0.1 * 2 / 8 * ubi["potential_output"].values[1] / ubi["potential_output"].values[0], rel=1e-12)
    # the tax rule adds one surcharge s to both rates, each clipped to [0, 0.95]: the robot tax stays
    # 5 points above the labour tax while the labour tax is above 0; below, 0.30 + s < 0.05 (the
    # floor binds when the rule cuts taxes far, e.g. in an economy opening below its debt target)
    robot = r["robot_tax_ubi"]
    lab, cap = robot["tax_labour_rate"].values, robot["tax_capital_rate"].values
    above = lab > 0
    assert cap[above] == pytest.approx(lab[above] + 0.05, abs=1e-12)
    assert np.all((cap[~above] >= 0) & (cap[~above] <= 0.05 + 1e-12))
    assert robot["tax_capital_rate"].values[0] == 0.3  # no surcharge before there is a debt history
    fund = r["universal_basic_capital"]
    assert np.all(fund["fund_capital_share"].values > 0.05) and np.all(fund["fund_dividend"].values >= 0)
    assert fund["fund_dividend"].values.max() > 0
    assert np.all(r["baseline"]["fund_capital_share"].values == 0)
    assert np.all(r["compute_monopoly"]["dominant_capital_share"].values > 0.02)
    assert np.array_equal(r["compute_monopoly_ubi"]["automation"].values, phi["compute_monopoly"])
    assert np.all(r["baseline"]["dominant_capital_share"].values == 0)
    card, low = r["card_fees"], r["low_fees"]
    assert card["fee_revenue"].values == pytest.approx(0.025 * card["consumption"].values, rel=1e-9)
    assert low["fee_revenue"].values == pytest.approx(0.001 * low["consumption"].values, rel=1e-9)
    # pure deficit financing: the tax rates never move; under the tax rule they do
    assert np.all(r["deficit_ubi_zlb"]["tax_labour_rate"].values == 0.25)
    assert np.any(r["agi_5y"]["tax_labour_rate"].values != 0.25)
