"""Who holds equity: the per-period participation cost kappa and the participation rule
(kernels.household.portfolio; the per-household threshold is tested in tests/test_kernels.py),
in a running economy: the costs are booked (the accounts close), charged to exactly last period's
holders, and a cost leaves a share of households out of the market."""
import numpy as np
import pytest

from economy_driver import simulate


@pytest.fixture(scope="module")
def runs():
    return {kappa: simulate("economy.closure=demand", f"economy.equity.participation_cost={kappa}", periods=10)
            for kappa in (0.0, 0.05)}


def test_costs_are_charged_to_last_periods_holders(runs):
    run = runs[0.05]
    n = run.cfg.population.households
    costs, wage, rate = (run.series(v) for v in ("participation_costs", "wage", "participation_rate"))
    # kappa_t = 0.05 w_t per holder; the holders at the start of t are the participants at the end of t-1
    np.testing.assert_allclose(costs[1:], 0.05 * wage[1:] * np.round(rate[:-1] * n), rtol=1e-12)
    assert np.all(run.series("sfc_residual") <= 1e-9)  # the new flow is in the accounts


def test_a_cost_keeps_part_of_the_households_out(runs):
    free, costly = runs[0.0], runs[0.05]
    assert np.all(free.series("participation_costs") == 0.0)
    last_free, last_costly = free.series("participation_rate")[-1], costly.series("participation_rate")[-1]
    assert 0.0 < last_costly < last_free <= 1.0
    # those left out hold their savings safe: the households' safe assets rise with the cost
    assert costly.series("household_safe_assets")[-1] > free.series("household_safe_assets")[-1]
    for run in runs.values():  # the two asset outputs add up to households' wealth
        n = run.cfg.population.households
        np.testing.assert_allclose(run.series("household_safe_assets") + run.series("household_risky_assets"),
                                   run.series("mean_wealth") * n, rtol=1e-12)
