"""The fixed closure shares the government block with the macro closures (UBI schedule, G, the
financing rule, a public payment rail) and refuses what it has no sector for."""
import numpy as np
import pytest

from economy_driver import simulate
from sim.config import ConfigError, compose
from sim.economy import check_config, make_economy

# without the shipped calibration: it is the demand closure's, and its most patient type would save
# without bound at the fixed closure's given safe return (sim.config.validate refuses it)
PLAIN = ["~calibration", "economy.closure=fixed", "market=value", "policy.financing=deficit", "policy.government.spending=0"]


@pytest.mark.parametrize("override, key", [
    ("policy.fund.initial_share=0.2", "policy.fund.initial_share"),
    ("policy.dominant.initial_share=0.3", "policy.dominant.initial_share"),
    ("policy.ubi.indexation=output", "policy.ubi.indexation"),
    ("policy.fee.spend_share=0.5", "policy.fee.spend_share"),
    ("policy.financing=balanced", "policy.financing"),
])
def test_fixed_closure_refuses_what_it_cannot_honour(override, key):
    overrides = ["population.households=1000", "population.block_size=500", *PLAIN, override]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        compose(overrides)  # refused with the config check, before any Ray work
    message = str(info.value)
    assert len(message.splitlines()) == 1 and "economy.closure=demand" in message
    demand = compose([*overrides, "economy.closure=demand"])  # the demand closure honours it
    check_config(demand)
    fixed = demand.copy()
    fixed.economy.closure = "fixed"
    for refuse in (check_config, lambda cfg: make_economy(cfg, 7)):  # and so does building it
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            refuse(fixed)


def test_fixed_closure_pays_the_ubi_from_its_start_up_its_ramp():
    run = simulate(*PLAIN, "policy.ubi.level=0.1", "policy.ubi.start=2", "policy.ubi.ramp=4", periods=7)
    n = run.cfg.population.households
    ramp = [0, 0, 0.25, 0.5, 0.75, 1, 1]  # worked by hand: (t - start + 1) / ramp from period 2
    assert [e.ubi for e in run.envs] == pytest.approx([0.1 * r for r in ramp], rel=1e-15)
    assert run.series("ubi_cost") == pytest.approx([0.1 * r * n for r in ramp], rel=1e-12)


def test_fixed_closure_follows_the_tax_rule_and_buys_g():
    """Baseline policy (25% labour tax, tax rule to 40% debt/GDP with an integral term, G = 15% of
    potential): the debt recomputed from the households' totals, the surcharge from it, and G from
    potential output."""
    run = simulate("~calibration", "economy.closure=fixed", "market=value", "policy.fiscal.response=0.5", periods=6)
    ppy = run.cfg.periods_per_year
    fiscal = run.cfg.policy.fiscal
    debt, integral = 0.0, 0.0
    for t, (env, tot, row) in enumerate(zip(run.envs, run.totals, run.rows)):
        if t == 0:
            assert env.tax_labour == 0.25  # no debt history yet
        else:
            ratio = debt / (run.rows[t - 1]["output"] * ppy)
            surcharge = min(max(0.5 * (ratio - 0.4) + integral, -0.45), 0.45)
            assert env.tax_labour == pytest.approx(min(max(0.25 + surcharge, 0.0), 0.95), rel=1e-12)
        assert (row["tax_labour_rate"], row["tax_capital_rate"]) == (env.tax_labour, env.tax_capital)  # reported
        assert row["government_spending"] == pytest.approx(0.15 * row["potential_output"], rel=1e-12)
        revenue = tot["labour_tax"] + tot["capital_tax"] + tot["wealth_tax"] + tot["consumption_tax"]
        debt = debt * env.return_safe + tot["benefits"] + tot["ubi"] + row["government_spending"] - revenue
        assert row["debt_to_gdp"] == pytest.approx(debt / (row["output"] * ppy), rel=1e-9)
        integral = min(max(integral + fiscal.integral * (row["debt_to_gdp"] - 0.4), -0.45), 0.45)
    rates = [e.tax_labour for e in run.envs]
    assert len(set(rates)) > 1  # the rule moved the rate
    assert np.all(run.series("sfc_residual") < 1e-9)


def test_fixed_closure_public_payment_rail_is_revenue():
    private = simulate(*PLAIN, "policy.payment_fee=0.02", periods=3)
    public = simulate(*PLAIN, "policy.payment_fee=0.02", "policy.fee.earner=government", periods=3)
    # same households (the fee's earner does not change what they face); debt lower by the fees
    assert private.series("fee_revenue") == pytest.approx(public.series("fee_revenue"), rel=0)
    gap = (private.series("debt_to_gdp") - public.series("debt_to_gdp")) * public.series("output") * 4
    fees = public.series("fee_revenue")
    R = public.envs[0].return_safe
    assert gap[0] == pytest.approx(fees[0], rel=1e-9)
    assert gap[2] == pytest.approx(fees[0] * R**2 + fees[1] * R + fees[2], rel=1e-9)
