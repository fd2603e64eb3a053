"""Mechanisms of the classical and demand closures, against independent expectations: the
Korinek–Suh formulas written out here, their qualitative AGI path, textbook demand and ownership
effects. Runs step the economy in process (tests/economy_driver.py) on small populations."""
import numpy as np
import pytest

from economy_driver import simulate

# Korinek–Suh (2024) Table 2, annual
A, SIGMA, PHI0, K_PER_L, DELTA = 0.5, 0.5, 0.608, 4.6, 0.10


def ks(K, L, phi):
    """docs/model.md's region-1 formulas, written out literally: (Y, w, R) per year."""
    r = (SIGMA - 1) / SIGMA
    Y = A * (phi ** (1 / SIGMA) * K**r + (1 - phi) ** (1 / SIGMA) * L**r) ** (1 / r)
    w = A**r * (Y / L) ** (1 / SIGMA) * (1 - phi) ** (1 / SIGMA)
    R = A**r * (Y / K) ** (1 / SIGMA) * phi ** (1 / SIGMA)
    return Y, w, R


@pytest.mark.parametrize("closure", ["classical", "demand"])
def test_table2_calibration_starts_at_the_korinek_suh_point(closure):
    # without the shipped calibration: Table 2's point is the technology's, and the calibration's
    # high-productivity state (about 1% of households, each supplying ~17 efficiency units) makes
    # the realised effective labour of 2,000 households noisier than the 3e-3 checked below
    run = simulate("~calibration", f"economy.closure={closure}", *(["market=value"] if closure != "demand" else []),
                   periods=2)
    Y, w, R = ks(K_PER_L, 1.0, PHI0)
    assert w * 0.25 == pytest.approx(1.403 / 4, rel=1e-3)  # the paper's numbers, quarterly
    assert w * Y and (w * 1.0) / Y == pytest.approx(0.657, abs=0.002)
    row = run.rows[0]
    n = run.cfg.population.households
    full = n * (1 - 0.02 / (0.02 + 0.5))  # natural rate of the base separation/job finding
    assert row["potential_output"] == pytest.approx(Y / 4 * full, rel=1e-9)
    if closure == "demand":  # priced at full employment, K/L* = 4.6: exactly the Table 2 point
        assert row["wage"] == pytest.approx(w / 4, rel=1e-9)
    else:  # priced at expected labour, which the realised one matches up to sampling noise
        _, w_real, _ = ks(K_PER_L * full, row["effective_labour"], PHI0)
        assert row["wage"] == pytest.approx(w_real / 4, rel=3e-3)
        assert row["wage"] != pytest.approx(w / 4, rel=1e-9)
    assert row["labour_share"] == pytest.approx(0.66, abs=0.015)  # "about 66%"
    assert row["automation"] == pytest.approx(PHI0)


# the wage's rise before the collapse: Korinek-Suh's planner path (docs/macro.md, growth reference)
# peaks 16% (annual steps) to 25% (quarterly) above its start; the economy must show at least half
# of that. The calibration of stops 8-20 did not, from its exponential opening nor from its
# burned-in, nearly stationary distribution (a fork at quarter 360, docs/calibration.md 9), nor did
# stop 21's from its stationary opening, nor stop 22's (the fork table's agi_20y arm: the wage's peak
# is the fork quarter): the investment boom runs
# the economy above potential, the Taylor rule raises the real rate to about 4%/yr and capital does
# not outgrow automation. A known problem of the calibrated economy, kept visible: strict, so the
# mark goes when it shows the rise.
# Under the priced equity market the uncalibrated economy does not show it either: the equity it
# holds is worth more than book and its wealth effect runs the economy 2% above potential (the
# value market's runs 2% below), the Taylor rule holds the real rate higher, and investment is a
# quarter lower by year 10 (crowded out), so capital does not outgrow automation (docs/economy.md,
# "The priced equity market"). The technology's path is shown under the value market.
NO_WAGE_RISE = ("the calibrated economy's wage does not rise under agi_20y, from its opening or from a burned-in "
                "state (docs/calibration.md 9, 'The distribution under each scenario')")
CROWDED_OUT = ("under the priced equity market its wealth effect runs the economy above potential and crowds out "
               "the investment that would raise the wage (docs/economy.md, 'The priced equity market')")


# The two known failures run under the slow mark (25 quarters of 7 types' solves each, ~45 s
# together): they show no mechanism, only that the problem is still there.
@pytest.mark.parametrize("calibration, market", [
    ("bare", "value"),
    pytest.param("bare", "priced", marks=[pytest.mark.slow, pytest.mark.xfail(strict=True, reason=CROWDED_OUT)]),
    pytest.param("calibrated", "priced", marks=[pytest.mark.slow, pytest.mark.xfail(strict=True, reason=NO_WAGE_RISE)])])
def test_agi_20y_wages_rise_then_collapse_and_labour_share_heads_to_zero(calibration, market):
    run = simulate("scenario=agi_20y", "population.households=1000", f"market={market}",
                   *(["~calibration"] if calibration == "bare" else []), periods=100)  # 25 years
    wage, share, output = run.series("wage"), run.series("labour_share"), run.series("output")
    phi = run.series("automation")
    peak = int(wage.argmax())
    assert wage[peak] > 1.08 * wage[0]  # wages rise first (capital accumulates faster than Phi)
    assert 20 <= peak <= 72  # ... for years, before full automation at year 20 (period 80)
    below = peak + int(np.argmax(wage[peak:] < wage[0]))
    assert wage[below] < wage[0] and below < 80  # and fall below their start before T = 20 years
    assert phi[below] < 1.0
    # region 2 (labour abundant): w = A per year, whatever the capital stock
    assert wage[-1] == pytest.approx(A / 4, rel=1e-9)
    assert share[0] > 0.6 and share[-1] < 0.02 and np.all(np.diff(share[60:]) < 0.02)
    assert output[-1] > 10 * output[0]  # output takes off
    assert np.all(run.series("sfc_residual") < 1e-9)
    assert run.series("displacement_rate").max() > 0


def test_demand_shortfall_raises_unemployment():
    """Cutting government consumption (15% of potential -> 0) from the same start: firms expect less
    demand, plan less output, employ fewer workers. The central bank cuts the policy rate; under
    the priced equity market the lower rate also raises the price of equity, and that wealth
    effect, with the tax rule's cuts, restores demand within a year (two under stop 21's
    calibration), while the value market, without the price channel, falls deeper and for longer,
    with a spell at the zero lower bound (at stop 22's calibration 4.6 points at worst and about two
    years, against 0.8 points and three quarters; at stop 21's still short in the second year).
    From the exponential opening, where these were measured: from stop 21's calibration's
    stationary opening the cut landed on households rebuilding their savings, and the slump lasted
    years (not measured again with stop 22's, whose opening is nearly the households' resting
    state) (docs/economy.md, "The priced equity market", what is left)."""
    runs, gap = {}, {}  # gap: the cut's unemployment less the baseline's, quarter by quarter
    opening = "population.initial_wealth=exponential"
    for market in ("priced", "value"):
        base = simulate("scenario=baseline", f"market={market}", opening, periods=12)
        cut = simulate("scenario=baseline", f"market={market}", opening, "policy.government.spending=0.0", periods=12)
        runs[market] = base, cut
        gap[market] = cut.series("unemployment_rate") - base.series("unemployment_rate")
        # on impact a rise; under the priced market a clear one over the first three quarters (more
        # than 20 household-quarters of the 2,000 households' unemployment), not a size: the equity
        # price's rise and the lower rate absorb part of it (on impact about 2 points at stop 21's
        # calibration, 3 at sigma = 0.08; half a point at stop 22's less patient one, whose
        # households spend more of the equity's gain: 0.55, 0.8 and 0.6 points in quarters 1-3;
        # docs/economy.md, "The priced equity market")
        assert gap[market][1] > (0.0 if market == "priced" else 0.02), market
        if market == "priced":
            assert np.sum(gap[market][1:4]) > 0.01
        assert cut.series("utilisation")[1] < base.series("utilisation")[1], market
        assert cut.series("output")[1:4].sum() < base.series("output")[1:4].sum(), market
        assert cut.series("nominal_rate")[1:].mean() < base.series("nominal_rate")[1:].mean(), market
        assert cut.series("nominal_rate").min() >= 0.0
        assert cut.series("inflation")[1:].mean() < base.series("inflation")[1:].mean(), market
    # priced: the lower rate raises the price of equity, and demand has recovered in the second year
    base, cut = runs["priced"]
    assert cut.series("equity_price")[1] > base.series("equity_price")[1]
    assert gap["priced"][8:].mean() < 0.01
    # value: without the price channel the shortfall is deeper and lasts longer: the ZLB binds and
    # the real rate then rises (the deflation channel of docs/model.md)
    base, cut = runs["value"]
    assert np.all(cut.series("utilisation")[1:7] < base.series("utilisation")[1:7])  # a year and a half
    assert cut.series("nominal_rate")[2:].min() == 0.0
    assert gap["value"][1:5].mean() > gap["priced"][1:5].mean() + 0.02  # the first year's shortfall
    assert gap["value"][1:].sum() > 3 * gap["priced"][1:].sum()  # the whole shortfall, in worker-quarters


def test_ubi_raises_consumption_of_the_bottom_half():
    base = simulate("scenario=baseline", periods=6)
    ubi = simulate("scenario=baseline", "policy.ubi.level=0.1", periods=6)
    assert np.all(ubi.series("ubi_cost") == pytest.approx(0.1 * 2000))
    bottom_base = np.mean([d[:5].mean() for d in base.deciles[1:]])
    bottom_ubi = np.mean([d[:5].mean() for d in ubi.deciles[1:]])
    assert bottom_ubi > bottom_base * 1.05
    assert ubi.series("bottom50_consumption_share")[1:].mean() > base.series("bottom50_consumption_share")[1:].mean()


@pytest.mark.parametrize("market", ["value", "priced"])
def test_dominant_holder_share_moves_with_its_reinvestment_rule(market):
    keep = simulate("scenario=compute_monopoly", f"market={market}", "policy.dominant.reinvest=1.0", periods=12)
    spend = simulate("scenario=compute_monopoly", f"market={market}", "policy.dominant.reinvest=0.0", periods=12)
    s_keep, s_spend = keep.series("dominant_capital_share"), spend.series("dominant_capital_share")
    # the stake as configured at t = 0 (not diluted by period 0's issuance to households) ...
    assert s_keep[0] == pytest.approx(0.3, abs=1e-12)
    # consuming its income, its period-0 purchases may be rationed (period.ration): what it could
    # not buy stays as equity, so its stake ends a little above the configured one; if served in
    # full, it ends at the configured one
    if spend.rows[0]["rationed_demand"] > 0:
        assert 0.3 < s_spend[0] <= 0.31
    else:
        assert s_spend[0] == pytest.approx(0.3, abs=1e-12)
    assert np.any(spend.series("rationed_demand") > 0)  # the rationed case is checked below
    # ... reached from an opening stake that then earned R_k under its own rule
    equity0 = keep.rows[0]["equity_value"]
    assert keep.totals[0]["risky_end"] == pytest.approx(0.7 * equity0, rel=1e-12)
    assert np.all(keep.series("dominant_consumption") == 0.0)
    assert spend.series("dominant_consumption").max() > 0.0
    # its income: the whole return R_k - 1 under the value market; the dividend d_t / p_t-1 a
    # share under the priced one (a price change is a revaluation, neither taxed nor consumed).
    # Consuming its income, its equity follows E_X,t = R_k E_X,t-1 - C_X,t - tau_k y_t E_X,t-1 (the
    # capital income tax, surcharge included) with C_X,t <= max(0, (1 - tau_k) y_t E_X,t-1), equal
    # when not rationed (it is first in the rationing queue; what it could not buy stays as equity)
    ex = np.array([r["dominant_capital_share"] * r["equity_value"] for r in spend.rows])
    rk, cx = spend.series("return_risky")[1:], spend.series("dominant_consumption")[1:]
    tau = spend.series("tax_capital_rate")[1:]
    if market == "value":
        y = rk - 1.0
    else:
        y = spend.series("dividend")[1:] / spend.series("equity_price")[:-1]
    assert ex[1:] == pytest.approx(rk * ex[:-1] - cx - tau * y * ex[:-1], rel=1e-9)
    income = np.maximum(0.0, (1 - tau) * y * ex[:-1])
    assert np.all(cx <= income * (1 + 1e-12))
    served = spend.series("rationed_demand")[1:] == 0
    # (under the priced market this economy rations demand every quarter: measured, none served)
    assert served.any() or market == "priced"
    assert cx[served] == pytest.approx(income[served], rel=1e-12)
    if market == "value":
        # reinvesting keeps a larger stake than consuming; by how much depends on how much of its
        # income it could buy: first in the rationing queue, and in the calibrated economy's first
        # quarters (tax cuts while debt rises to its target) it is rationed most periods, so the
        # gap is small (0.005 after 12 quarters, against 0.018 uncalibrated)
        assert s_keep[-1] > s_spend[-1]
    else:
        # in shares: consuming its dividends it keeps its shares when served, and adds what it
        # could not buy when rationed; reinvesting, it buys with all of them. (Rationed in every
        # quarter, the consuming holder ends with about as many shares as the reinvesting one,
        # and its share of all shares moves with the firms' buybacks, which differ between the
        # runs: measured, reinvesting ended with 0.494 of the shares and consuming with 0.500.)
        held = {name: np.array([r["dominant_capital_share"] * r["shares_outstanding"] for r in run.rows])
                for name, run in (("keep", keep), ("spend", spend))}
        assert held["spend"][1:][served] == pytest.approx(held["spend"][:-1][served], rel=1e-9)
        assert np.all(held["spend"][1:] >= held["spend"][:-1] * (1 - 1e-9))
        # what it could not buy stays as equity: its shares grow by exactly that, at the price
        unbought = income - cx
        assert np.diff(held["spend"]) == pytest.approx(unbought / spend.series("equity_price")[1:], rel=1e-6, abs=1e-9)
        # reinvesting, it buys shares with all of its after-tax dividend, each period
        ek = np.array([r["dominant_capital_share"] * r["equity_value"] for r in keep.rows])
        yk = keep.series("dividend")[1:] / keep.series("equity_price")[:-1]
        bought = (1 - keep.series("tax_capital_rate")[1:]) * yk * ek[:-1] / keep.series("equity_price")[1:]
        assert np.all(bought > 0) and np.diff(held["keep"]) == pytest.approx(bought, rel=1e-6)


@pytest.mark.parametrize("overrides, key", [
    (["policy.fund.initial_share=0.3"], "fund_capital_share"),
    (["policy.dominant.initial_share=0.3", "policy.dominant.reinvest=0.5"], "dominant_capital_share"),
    (["policy.fund.initial_share=0.2", "policy.dominant.initial_share=0.25"], "dominant_capital_share"),
])
def test_stakes_hold_their_configured_share_at_t0(overrides, key):
    """Households move from their initial 20% risky share in period 0 and firms issue the equity
    they buy; the configured stake is the share at the close of period 0 all the same."""
    run = simulate("scenario=agi_20y", *overrides, periods=1)
    row = run.rows[0]
    theta = {"fund_capital_share": run.cfg.policy.fund.initial_share,
             "dominant_capital_share": run.cfg.policy.dominant.initial_share}
    rationed = row["rationed_demand"] > 0
    consumes = run.cfg.policy.dominant.initial_share > 0 and run.cfg.policy.dominant.reinvest < 1
    for name, value in theta.items():
        if consumes and rationed:
            # the dominant holder's period-0 orders were rationed first (docs/economy.md,
            # "Rationing"): what it could not buy stays as its equity, so its stake is a little above
            # the configured one and the others' a little below, within the issue's tolerance
            assert abs(row[name] - value) <= 0.01, name
            if name == "dominant_capital_share":
                assert row[name] >= value
        else:
            assert row[name] == pytest.approx(value, abs=1e-12), name
    if not (consumes and rationed):
        assert row["household_capital_share"] == pytest.approx(1 - sum(theta.values()), abs=1e-12)
    assert run.totals[0]["risky_end"] > 1.5 * run.totals[0]["risky_begin"]  # the issuance happened
    assert row["sfc_residual"] < 1e-12


def test_classical_closure_saving_finances_capital_at_marginal_products():
    run = simulate("economy.closure=classical", "market=value", periods=10)
    n = run.cfg.population.households
    K = np.concatenate([[K_PER_L * n * (1 - 0.02 / 0.52)], run.series("capital")])
    s, f = 0.02, 0.5
    employed, per_employed = n * (1 - 0.05), 1.0  # opening: 5% unemployed, mean productivity 1
    surprise = 0.0  # realised over expected effective labour, less 1, last period
    for t, row in enumerate(run.rows):
        assert row["return_safe"] == row["return_risky"]  # risky = capital, one return
        # priced at the effective labour expected after this period's transitions at the base rates
        L_expected = (employed * (1 - s) + (n - employed) * f) * per_employed
        _, w, R = ks(K[t], L_expected, PHI0)
        passthrough = 0.0 if t == 0 else run.rows[t - 1]["firm_net_worth"] / (
            run.rows[t - 1]["firm_debt"] + run.rows[t - 1]["equity_value"])
        assert row["wage"] == pytest.approx(w / 4, rel=1e-9)
        assert row["return_safe"] - 1 == pytest.approx((R - DELTA) / 4 + passthrough, rel=1e-9)
        # the passed-on profit is last period's F(K, L) - F_L(K, L^e) L - F_K(K, L^e) K: by Euler's
        # theorem F(K, L) - F(K, L^e) - F_L(K, L^e) (L - L^e), a loss second order in the labour surprise
        # (F concave), (1/2) F_LL dL^2 over claims of ~9 quarters' output: about -0.03 (dL/L)^2 here
        # (labour share 0.66, sigma 0.5); first order it would be ~0.6 |dL/L|
        assert -0.1 * surprise ** 2 - 1e-6 <= passthrough <= 1e-6
        surprise = row["effective_labour"] / L_expected - 1.0
        employed = row["employment_rate"] * n
        per_employed = row["effective_labour"] / employed
        # investment is saving: output less consumption and government consumption (no fees here)
        saving = row["output"] - row["consumption"] - row["government_spending"]
        assert row["investment"] == pytest.approx(saving, rel=1e-12)
        assert K[t + 1] == pytest.approx((1 - DELTA / 4) * K[t] + row["investment"], rel=1e-12)
        # K_{t+1} = household assets less government debt (+ the firm sector's tiny net worth)
        assets = row["mean_wealth"] * n
        assert K[t + 1] == pytest.approx(assets - row["government_debt"] + row["firm_net_worth"], rel=1e-9)
        assert abs(row["firm_net_worth"]) < 1e-2 * K[t + 1]
        assert row["sfc_residual"] < 1e-9
    assert np.all(run.series("inflation") == 0.0)


def test_expected_demand_grows_with_potential():
    """With lambda = 1 firms expect last period's demand times the growth of potential."""
    run = simulate("scenario=agi_20y", "economy.demand.expectation_weight=1.0", periods=12)
    D, De, Ys = run.series("demand"), run.series("expected_demand"), run.series("potential_output")
    assert De[0] == pytest.approx(Ys[0], rel=1e-12)  # initial_utilisation = 1
    assert De[1:] == pytest.approx(D[:-1] * Ys[1:] / Ys[:-1], rel=1e-12)
    # a growing economy, which expectations in levels would lag: potential output trends up; a
    # quarter can dip, since at 2,000 households full-employment labour moves by ~0.8% each time a
    # household enters or leaves the calibrated high-productivity state
    assert Ys[-1] > Ys[0] and np.polyfit(np.arange(len(Ys)), Ys, 1)[0] > 0


def test_poverty_line_is_a_share_of_the_smoothed_median():
    # the value market: its payout swings the quarterly median, the case a smoothed line is for
    # (the priced market's dividend is itself smoothed, Lintner's rule)
    run = simulate("scenario=baseline", "market=value", periods=16)
    share, weight = run.cfg.output.poverty_share, run.cfg.output.poverty_smoothing
    median = run.series("median_income")
    line = np.array([env.poverty_line for env in run.envs])
    assert line[0] == pytest.approx(share * run.envs[0].wage, rel=1e-12)  # no income observed yet
    reference = median[0]
    for t in range(1, len(line)):
        assert line[t] == pytest.approx(share * reference, rel=1e-12)
        reference += weight * (median[t] - reference)
    # the quarterly median swings with the equity payout; the line moves a tenth as much
    assert np.abs(np.diff(line[2:])).max() < 0.25 * np.abs(np.diff(median[1:])).max()


def test_accelerator_investment_answers_demand_and_the_user_cost_not_the_technology():
    """economy.investment.rule=accelerator, hand-worked: at the opening's expected demand and the
    untaxed neutral-rate user cost, desired capital is today's (I = delta K); it rises with expected
    demand, falls with a capital tax (Hall-Jorgenson: c = (r + xi)/(1 - tau) + delta) and with the
    real rate, as c^-sigma (a CES firm's demand for capital, Korinek-Suh's sigma), and ignores q
    (the technology's return), which the q rule answers."""
    from sim.config import compose
    from sim.economy import make_economy
    from sim.macro import policy_rules as pr

    cfg = compose(["population.households=200", "cluster.actors=1", "economy.investment.rule=accelerator",
                   "economy.investment.speed=0.5"])  # faster than the default: irreversibility binds below
    econ = make_economy(cfg, 0)
    inv = cfg.economy.investment
    K, delta, Y0 = econ.K, float(cfg.economy.depreciation), econ.potential0 * econ.ppy
    r0 = float(cfg.economy.taylor.r_star)
    assert econ._investment(q=3.0, expected_demand=econ.potential0, r=r0, tax_capital=0.0) == pytest.approx(delta * K)
    assert econ._investment(q=0.5, expected_demand=econ.potential0, r=r0, tax_capital=0.0) == pytest.approx(delta * K)

    sigma = float(cfg.economy.sigma)
    assert cfg.economy.technology == "korinek_suh" and sigma == 0.5

    def by_hand(demand_per_year, r, tau):  # K* = (K0/Y*0)(c_ref/c)^sigma Y^e, closed at `speed` a year
        c_ref, c = r0 + inv.risk_premium + delta, (r + inv.risk_premium) / (1 - tau) + delta
        return max(0.0, delta * K + inv.speed * (K / Y0 * (c_ref / c) ** sigma * demand_per_year - K))
    for demand, r, tau in [(1.1, r0, 0.0), (0.9, r0, 0.0), (1.0, r0, 0.3), (1.0, r0 + 0.02, 0.0), (0.2, r0, 0.0)]:
        got = econ._investment(q=1.0, expected_demand=demand * econ.potential0, r=r, tax_capital=tau)
        assert got == pytest.approx(by_hand(demand * Y0, r, tau), rel=1e-12)
    assert econ._investment(1.0, 0.9 * econ.potential0, r0, 0.0) < delta * K < econ._investment(1.0, 1.1 * econ.potential0, r0, 0.0)
    assert econ._investment(1.0, econ.potential0, r0, 0.3) < delta * K  # a robot tax deters it
    assert econ._investment(1.0, 0.2 * econ.potential0, r0, 0.0) == 0.0  # irreversible
    q_rule = make_economy(compose(["population.households=200", "cluster.actors=1"]), 0)
    assert q_rule._investment(1.5, q_rule.potential0, r0, 0.0) == pytest.approx(float(pr.q_investment(K, 1.5, delta, chi=inv.chi)))


def test_agi_5y_demand_shortfall_when_investment_follows_demand_and_ubi_restores_it():
    """The seeds' question under the two investment rules (docs/economy.md, "What the scenarios
    produce"). With the q rule, automation raises the return on capital and the investment boom
    fills the gap the wage bill leaves. With the accelerator, investment waits for demand: the same
    automation leaves far more workers idle, consumption falls below where it started, and the
    policy rate sits at its floor; a UBI (paid under the scenario's tax rule) restores demand."""
    ubi = ["policy.ubi.level=0.1", "policy.ubi.start=4", "policy.ubi.ramp=4", "policy.ubi.indexation=output"]
    size = ["population.households=1000"]  # the solves, not the households, set the time; the gaps are wide
    runs = {"q": simulate("scenario=agi_5y", *size, periods=28),
            "accelerator": simulate("scenario=agi_5y", *size, "economy.investment.rule=accelerator", periods=28),
            "accelerator_ubi": simulate("scenario=agi_5y", *size, "economy.investment.rule=accelerator", *ubi,
                                        periods=28)}
    u = {name: run.series("unemployment_rate") for name, run in runs.items()}
    at_floor = {name: int(np.sum(run.series("nominal_rate") <= 0.0)) for name, run in runs.items()}
    lowest = {name: run.series("nominal_rate").min() for name, run in runs.items()}
    consumption = {name: run.series("consumption") for name, run in runs.items()}
    assert u["accelerator"].max() > u["q"].max() + 0.05
    # a spell at the zero lower bound under the accelerator, none under the q rule (whose lowest rate,
    # about 0.7 %/yr, is the stationary opening's first quarters, before automation bites)
    assert at_floor["q"] == 0 and lowest["q"] > 0.001 and at_floor["accelerator"] >= 8
    assert consumption["accelerator"][4:].min() < consumption["accelerator"][0]  # consumption down
    # the UBI (from quarter 4, in full from quarter 8) takes the economy off the floor it reached first
    assert u["accelerator_ubi"].max() < u["accelerator"].max() - 0.05
    assert np.all(runs["accelerator_ubi"].series("nominal_rate")[8:] > 0.0)
    assert consumption["accelerator_ubi"][-1] > consumption["accelerator"][-1]
    for run in runs.values():
        assert np.all(run.series("sfc_residual") < 1e-9)
        assert np.all(run.series("inventories") >= 0.0)


def test_investment_rule_is_refused_where_it_cannot_act():
    """The accelerator is a rule of the demand closure (the classical closure's capital is what
    households save), and its desired capital is anchored at the opening, so a fork cannot switch
    it; each refusal is one line that says what to do."""
    from sim.config import ConfigError, compose
    from sim.fork import check_override

    with pytest.raises(ConfigError, match="rule of the demand closure"):
        compose(["economy.closure=classical", "market=value", "economy.investment.rule=accelerator"])
    with pytest.raises(ConfigError, match="cannot change in a fork"):
        check_override("economy.investment.rule=accelerator", at=8)
    check_override("economy.investment.speed=0.2", at=8)  # its speed may change
    with pytest.raises(ConfigError, match="investment.rule"):
        compose(["economy.investment.rule=putty_clay"])
    with pytest.raises(ConfigError, match="not positive"):
        compose(["economy.investment.rule=accelerator", "economy.taylor.r_star=-0.2"])


def test_accelerator_anchors_are_state():
    """The accelerator's anchors travel with the economy's state (a fork or a restart keeps the
    opening's, whatever the arm's configuration); a state written before they existed loads with
    the configuration's."""
    from sim.config import compose
    from sim.economy import make_economy

    econ = make_economy(compose(["population.households=200", "cluster.actors=1",
                                 "economy.investment.rule=accelerator"]), 0)
    other = make_economy(compose(["population.households=200", "cluster.actors=1", "economy.investment.rule=accelerator",
                                  "economy.taylor.r_star=0.03", "economy.investment.risk_premium=0.06"]), 0)
    assert other.user_cost0 != econ.user_cost0
    state = econ.state_dict()
    other.load_state_dict(state)
    assert (other.capital_output0, other.user_cost0) == (econ.capital_output0, econ.user_cost0)
    fresh = make_economy(compose(["population.households=200", "cluster.actors=1", "economy.taylor.r_star=0.03"]), 0)
    own = fresh.user_cost0
    assert own != econ.user_cost0
    old = {k: v for k, v in state.items() if k not in ("capital_output0", "user_cost0")}
    fresh.load_state_dict(old)
    assert fresh.user_cost0 == own  # its configuration's, not the state's
