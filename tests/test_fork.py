"""`sim fork` on the session's real Ray: arms restore the parent's state at T and continue with the
same random numbers. An arm without overrides reproduces its parent byte for byte; a policy arm
equals the parent before T and differs from T on; an arm whose shard actor is killed recovers;
the effects of three parents (seeds) get a band; a shipped scenario asked as an arm
(`--scenario NAME`) is that scenario from the fork on."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr
import pytest

import sim
from sim import run_lock
from sim.cli import main as sim_main
from sim.config import ConfigError, compose
from sim.coordinator import run
from sim.errors import RunLocked
from sim.fork import Arm, run_arm, run_arms
from tests.test_recovery import Killer, tree_digest

# one shard actor per run: the fork machinery does not depend on the layout (results are
# layout-independent: tests/test_run.py), and every actor started costs seconds, 9 runs here; the
# uncalibrated model (one household problem a period, not the shipped calibration's 7): the
# machinery does not depend on the parameters either
SMALL = ["~calibration", "population.households=3000", "population.block_size=500", "periods=12", "cluster.actors=1",
         "output.progress=false", "checkpoint.every=4", "checkpoint.keep=2"]
AT = 6  # between checkpoints (4 and 8): the arms replay 4 -> 6 under the parent's config
SEEDS = (1, 2, 3)
# a sudden UBI of 0.1, financed by the baseline's tax rule (it once drove the solver past
# convergence: a zero-premium belief made the share at a = 0 flip, fixed in sim/solver/egm_loops.py)
UBI = ("policy.ubi.level=0.1",)


@pytest.fixture(scope="module")
def forked(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("fork")
    parents = []
    for seed in SEEDS:
        parents.append(root / f"parent-{seed}")
        run(compose(SMALL + [f"seed={seed}"]), parents[-1])
    jobs = [(p, root / "out" / f"seed-{s}") for p, s in zip(parents, SEEDS)]
    run_arms(jobs, AT, [Arm("control", ()), Arm("ubi", UBI)], "sim fork (test)")
    return root, parents


def test_arm_without_overrides_reproduces_the_parent_bit_for_bit(forked):
    root, parents = forked
    for parent, seed in zip(parents, SEEDS):
        assert tree_digest(root / "out" / f"seed-{seed}" / "control" / "results.zarr") == \
            tree_digest(parent / "results.zarr")


def test_an_arm_in_use_is_refused_with_one_line(forked, capsys):
    # an arm's directory is held while it runs, as a run's is: a second fork of it stops before
    # any Ray work, and the arm finished there is untouched
    root, parents = forked
    arm_dir = root / "out" / "seed-1" / "ubi"
    digest = tree_digest(arm_dir / "results.zarr")
    argv = [str(parents[0]), "--at", str(AT), "--out", str(root / "out" / "seed-1"), "--arm", "ubi", *UBI]
    capsys.readouterr()
    with run_lock.hold(arm_dir, "another fork"):
        code = sim_main(["fork", *argv])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and line.startswith("sim fork: error:") and "in use by another sim process" in line
    assert line.endswith("then run: sim fork " + " ".join(argv))
    assert tree_digest(arm_dir / "results.zarr") == digest


def test_an_arm_whose_economy_stops_leaves_the_others_and_the_effects_alone(forked, tmp_path, monkeypatch):
    # an arm that cannot go on (here its accounts fail after the fork) stops with its line and the
    # periods it reached, as a run does; the effects compare finished arms only
    import ray

    from sim import accounts, effects
    from sim.errors import EconomyStopped
    from sim.fork import gather, run_arm

    root, parents = forked
    out = tmp_path / "out"
    run_arm(parents[0], AT, out, Arm("control", ()), "sim fork (test)")
    check = accounts.check_closed
    monkeypatch.setattr(accounts, "check_closed",
                        lambda t, row: check(t, {**row, "sfc_residual": float("nan")} if t == AT + 1 else row))
    with pytest.raises(EconomyStopped, match=f"period {AT + 1}: .*periods 0-{AT} are in"):
        run_arm(parents[0], AT, out, Arm("ubi", UBI), "sim fork (test)")
    assert xr.open_zarr(out / "ubi" / "results.zarr").sizes["period"] == AT + 1
    assert effects.groups(out) == {"parent": [out / "control"]}
    # several parents: one whose arms all stopped is not dropped from the effects
    import json
    import shutil

    for label in ("seed-1", "seed-2"):
        shutil.copytree(root / "out" / "seed-1", tmp_path / "multi" / label)
    for arm in (tmp_path / "multi" / "seed-2").iterdir():
        if (arm / "provenance.json").is_file():
            prov = json.loads((arm / "provenance.json").read_text())
            (arm / "provenance.json").write_text(json.dumps({**prov, "finished": None}))
    with pytest.raises(ConfigError, match="seed-2: no arm finished there"):
        effects.effects(tmp_path / "multi")

    # run as Ray tasks, a stopped arm is one entry with its own line, not Ray's traceback
    @ray.remote(num_cpus=0)
    def stops():
        raise EconomyStopped("period 9: no shares to price")

    @ray.remote(num_cpus=0)
    def finishes():
        return {"arm": "b", "dir": "x/b"}

    got = gather({Path("x/a"): stops.remote(), Path("x/b"): finishes.remote()})
    assert got == [{"arm": "a", "dir": "x/a", "error": "period 9: no shares to price"}, {"arm": "b", "dir": "x/b"}]


def test_priced_market_arm_without_overrides_reproduces_the_parent(ray_session, tmp_path):
    """Under market=priced the state an arm restores includes the market's (shares, price, the
    search's slope) and the policy cache's candidate solves: an arm with no change clears at the
    parent's prices, bit for bit; a UBI arm's prices depart from T on."""
    parent = tmp_path / "parent"
    run(compose(SMALL + ["market=priced", "periods=8"]), parent)
    run_arms([(parent, tmp_path / "out")], AT, [Arm("control", ()), Arm("ubi", UBI)], "sim fork (test)")
    assert tree_digest(tmp_path / "out" / "control" / "results.zarr") == tree_digest(parent / "results.zarr")
    prices = sim.load(parent)["equity_price"].values
    ubi = sim.load(tmp_path / "out" / "ubi")["equity_price"].values
    assert np.array_equal(ubi[:AT], prices[:AT]) and (ubi[AT:] != prices[AT:]).all()


def test_policy_arm_equals_the_parent_before_T_and_differs_from_T(forked):
    root, parents = forked
    parent, arm = sim.load(parents[0]), sim.load(root / "out" / "seed-1" / "ubi")
    for name in ("consumption", "mean_wealth", "gini_wealth", "output"):
        assert np.array_equal(arm[name].values[:AT], parent[name].values[:AT]), name
    assert (arm["ubi_cost"].values[AT:] > 0).all() and (parent["ubi_cost"].values == 0).all()
    assert (arm["consumption"].values[AT:] != parent["consumption"].values[AT:]).all()


def test_effect_bands_across_three_seeds(forked, capsys):
    from sim.effects import write_effects  # noqa: I001

    root, _ = forked
    from sim.effects import effects

    ds = effects(root / "out")
    write_effects(root / "out")
    csv = (root / "out" / "effects.csv").read_text()
    # what a writer killed mid-write leaves, swept by the next one
    (root / "out" / "effects.zarr.partial-dead").mkdir()
    (root / "out" / "effects.csv.partial-dead").write_text("arm,")
    write_effects(root / "out")  # again over the first: replaced whole, no temporary left
    assert sorted(p.name for p in (root / "out").glob("effects*")) == ["effects.csv", "effects.md", "effects.zarr"]
    assert not (root / "out" / ".sim.lock").exists()
    with run_lock.hold(root / "out", "another writer"):  # one writer at a time
        with pytest.raises(RunLocked, match="in use by another sim process .* then run: " + re.escape(f"sim report {root / 'out'}")):
            write_effects(root / "out")
        capsys.readouterr()
        assert sim_main(["report", str(root / "out"), "--out", str(root / "report")]) == 1
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("sim report: error:") and "in use" in line
    assert (root / "out" / "effects.csv").read_text() == csv
    xr.testing.assert_identical(xr.open_zarr(root / "out" / "effects.zarr").load(), ds)
    assert list(ds.arm.values) == ["ubi"] and ds.sizes["parent"] == 3
    d = ds["consumption"].sel(arm="ubi").values  # (parent, period)
    assert (d[:, :AT] == 0).all()  # identical before the fork
    # the band is the Student-t interval across the three seeds, recomputed here by hand
    mean, sd = d.mean(axis=0), d.std(axis=0, ddof=1)
    half = 4.302652729911275 * sd / np.sqrt(3)  # t(0.975, 2)
    np.testing.assert_allclose(ds["consumption_high"].sel(arm="ubi").values, mean + half)
    assert (half[AT:] > 0).all() and (ds["consumption_low"].sel(arm="ubi").values[AT:] > 0).all()


def test_killed_arm_worker_recovers_bit_for_bit(forked, tmp_path):
    root, parents = forked
    killer = Killer(period=9, shard=0)
    run_arm(parents[0], AT, tmp_path, Arm("ubi", UBI), "sim fork (test)", on_event=killer)
    assert killer.killed
    assert tree_digest(tmp_path / "ubi" / "results.zarr") == \
        tree_digest(root / "out" / "seed-1" / "ubi" / "results.zarr")


def test_a_financing_switch_continues_the_parents_taxes_and_recovers(forked, tmp_path):
    """An arm that switches the parent's tax rule to a balanced budget at T starts from the tax
    rates the parent set at T (the carried term converted: government.carried_at_switch, not the
    tax rule's integral term read as the balanced surcharge); killed after a checkpoint past T, it
    restores that checkpoint without converting it again: the same bits."""
    import json

    root, parents = forked
    arm = Arm("balanced", ("policy.financing=balanced",))
    run_arm(parents[0], AT, tmp_path / "ref", arm, "sim fork (test)")
    parent, ref = sim.load(parents[0])["tax_labour_rate"].values, sim.load(tmp_path / "ref" / "balanced")
    assert parent[AT] != compose(SMALL).policy.tax_labour  # the parent's rule has a surcharge at T
    assert ref["tax_labour_rate"].values[AT] == parent[AT]
    assert np.all(np.abs(ref["government_deficit"].values[AT:]) < 1e-9 * ref["output"].values[AT:])
    killer = Killer(period=10, shard=0)  # checkpoint 8, past the fork, is committed after period 9
    run_arm(parents[0], AT, tmp_path / "run", arm, "sim fork (test)", on_event=killer)
    assert killer.killed
    prov = json.loads((tmp_path / "run" / "balanced" / "provenance.json").read_text())
    assert [e["restored_period"] for e in prov["recoveries"]] == [8]
    assert tree_digest(tmp_path / "run" / "balanced" / "results.zarr") == \
        tree_digest(tmp_path / "ref" / "balanced" / "results.zarr")
    # an arm of the arm, with no change: it replays the grandparent's rule up to 6 and converts
    # there (forked at 7, from the arm's checkpoint 4), or restores the arm's checkpoint 8, taken
    # before its switch at 8 under the arm's own rule (forked at 8): the arm, bit for bit, either way
    for at in (7, 8):
        run_arm(tmp_path / "ref" / "balanced", at, tmp_path / f"again-{at}", Arm("again", ()), "sim fork (test)")
        assert tree_digest(tmp_path / f"again-{at}" / "again" / "results.zarr") == \
            tree_digest(tmp_path / "ref" / "balanced" / "results.zarr"), at


def test_fork_of_a_fork_before_its_fork_point(forked, tmp_path):
    """The arm's arm at T=5 < 6 replays the grandparent's config, so a no-override arm of the ubi
    arm at 5 equals the grandparent up to 5 and runs without UBI (the ubi arm's switch is later)."""
    root, parents = forked
    run_arm(root / "out" / "seed-1" / "ubi", 5, tmp_path, Arm("again", ()), "sim fork (test)")
    again, parent = sim.load(tmp_path / "again"), sim.load(parents[0])
    assert np.array_equal(again["consumption"].values, parent["consumption"].values)


def test_a_finished_arm_is_reused_and_a_different_one_in_its_folder_refused(forked):
    """Arms are found by folder: the same arm again is skipped; an arm of the same name with other
    overrides is refused before any Ray work (its results would otherwise be taken for the new
    arm's), and the finished one is left byte for byte."""
    root, parents = forked
    out = root / "out" / "seed-1"
    before = tree_digest(out / "ubi")
    (again,) = run_arms([(parents[0], out)], AT, [Arm("ubi", UBI)], "sim fork (test)")
    assert again["skipped"]
    with pytest.raises(ConfigError, match=r"holds an arm forked otherwise \(overrides"):
        run_arms([(parents[0], out)], AT, [Arm("ubi", ("policy.ubi.level=0.2",))], "sim fork (test)")
    with pytest.raises(ConfigError, match="holds an arm forked otherwise"):
        run_arms([(parents[0], out)], AT - 1, [Arm("ubi", UBI)], "sim fork (test)")
    assert tree_digest(out / "ubi") == before


def test_overrides_that_change_the_past_are_refused(forked, tmp_path, capsys):
    _, parents = forked
    for key in ("population.households=10", "seed=4", "periods=30", "backend=numpy"):
        assert sim_main(["fork", str(parents[0]), "--at", "3", "--out", str(tmp_path), "--arm", "x", key]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "cannot change in a fork" in err, err


def test_opening_stakes_are_refused_after_period_0(tmp_path):
    """A fund or dominant stake is set when the economy opens; a fork after period 0 would run as
    its control bit for bit, so it is refused (at period 0 it is an ordinary switch)."""
    from sim.config import ConfigError
    from sim.fork import check_override

    for key in ("policy.fund.initial_share=0.3", "policy.dominant.initial_share=0.3", "economy.initial_capital=5.0",
                "economy.initial_debt_to_gdp=0.5", "economy.demand.initial_utilisation=0.9"):
        with pytest.raises(ConfigError, match="opens"):
            check_override(key, at=4)
        check_override(key, at=0)
    check_override("policy.ubi.level=0.1", at=4)


def test_the_equity_market_cannot_change_in_a_fork():
    # a value-market parent has no shares or price to carry, a priced one's stocks are at market
    # value: either switch would load a state its market cannot read
    from sim.config import ConfigError
    from sim.fork import check_override

    for item in ("market=priced", "economy.equity.market=priced", "market=value"):
        for at in (0, 4):
            with pytest.raises(ConfigError, match="equity market cannot change in a fork"):
                check_override(item, at=at)


@pytest.mark.parametrize("argv", [["--help"], ["runs/x", "--help"], ["runs/x", "--at", "3", "--arm", "a", "-h"]])
def test_help_anywhere_prints_the_usage(argv, capsys):
    assert sim_main(["fork", *argv]) == 0
    assert capsys.readouterr().out.startswith("usage: sim fork RUN_DIR")


SCENARIOS = ("agi_5y", "agi_20y", "agi_20y_ubi", "card_fees", "low_fees", "deficit_ubi_zlb", "tax_ubi_zlb",
             "robot_tax_ubi", "ubi_autoinvest")


def composed_by(run_dir, overrides):
    """What `sim run` records of its composition (Hydra's .hydra/overrides.yaml)."""
    import yaml

    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    return run_dir


def test_scenario_arm_is_the_scenario_with_its_events_moved_to_the_fork(tmp_path):
    """`--scenario NAME` at period T of a (calibrated) baseline run: the baseline with the arm's
    overrides is the scenario's configuration as `sim run scenario=NAME` composes it, except its
    two dated events, which come T periods later (the automation path's start in years, the UBI's
    in periods); and each key the scenario file itself sets is among them at the file's value."""
    import yaml
    from omegaconf import OmegaConf

    from sim.config import dotted
    from sim.fork import scenario_overrides

    at, per_year = 360, 4
    parent = composed_by(tmp_path / "base", ["population.households=200000"])
    baseline = compose(["population.households=200000"])
    base = dotted(baseline)
    for name in SCENARIOS:
        overrides = scenario_overrides(parent, name, at)
        assert overrides, name
        got = dotted(OmegaConf.merge(baseline, OmegaConf.from_dotlist(list(overrides))))
        want = dotted(compose(["population.households=200000", f"scenario={name}"]))
        moved = {k for k in want if got[k] != want[k]}
        assert moved <= {"economy.automation_path.start", "policy.ubi.start"}, (name, moved)
        if want["economy.automation_path.kind"] != base["economy.automation_path.kind"]:
            assert got["economy.automation_path.start"] == want["economy.automation_path.start"] + at / per_year
        if want["policy.ubi.level"] != base["policy.ubi.level"]:
            assert got["policy.ubi.start"] == want["policy.ubi.start"] + at
        own = dotted({k: v for k, v in yaml.safe_load(
            (sim.config.CONF_DIR / "scenario" / f"{name}.yaml").read_text()).items() if k != "defaults"})
        for key, value in own.items():
            if key not in ("policy.ubi.start", "economy.automation_path.start", "economy.taylor.r_star"):
                assert got[key] == value, (name, key)  # r_star: the calibration sets it too
    automates = [n for n in SCENARIOS if "economy.automation_path.start=90.0" in scenario_overrides(parent, n, at)]
    assert len(automates) == 7  # all but the two fee scenarios
    assert scenario_overrides(parent, "baseline", at) == ()


def test_scenario_arm_keeps_what_the_calibration_would_hide(tmp_path):
    """Composed with the parent's own overrides: without the calibration (which sets the neutral
    rate to 0 for every scenario) deficit_ubi_zlb's own r_star = 0 is one of its keys."""
    from sim.fork import scenario_overrides

    calibrated = scenario_overrides(composed_by(tmp_path / "a", []), "deficit_ubi_zlb", 8)
    uncalibrated = scenario_overrides(composed_by(tmp_path / "b", ["~calibration"]), "deficit_ubi_zlb", 8)
    assert not any(o.startswith("economy.taylor.r_star=") for o in calibrated)
    assert "economy.taylor.r_star=0.0" in uncalibrated


def test_scenario_arm_is_refused_where_it_would_not_be_the_scenario(tmp_path):
    from sim.config import ConfigError
    from sim.fork import arm_overrides

    base = composed_by(tmp_path / "base", [])
    for name in ("compute_monopoly", "universal_basic_capital"):  # stakes at the opening
        with pytest.raises(ConfigError, match=f"--scenario {name}: .*opens"):
            arm_overrides(Arm(name, (), scenario=name), base, 4)
        assert arm_overrides(Arm(name, (), scenario=name), base, 0)
    with pytest.raises(ConfigError, match="no_such_scenario"):
        arm_overrides(Arm("x", (), scenario="no_such_scenario"), base, 4)
    with pytest.raises(ConfigError, match="runs scenario agi_20y, not baseline"):
        arm_overrides(Arm("x", (), scenario="card_fees"), composed_by(tmp_path / "agi", ["scenario=agi_20y"]), 4)
    with pytest.raises(ConfigError, match="no .hydra/overrides.yaml"):
        arm_overrides(Arm("x", (), scenario="card_fees"), tmp_path / "nothing", 4)
    # the user's own keys come after the scenario's, so they win
    assert arm_overrides(Arm("x", ("policy.ubi.level=0.2",), scenario="agi_20y_ubi"), base, 4)[-1] == \
        "policy.ubi.level=0.2"


def test_scenario_arm_from_the_command_line(forked, tmp_path):
    """`sim fork RUN --at 6 --out DIR --scenario agi_5y`: the arm is named after the scenario,
    equals the parent up to the fork and automates from its new start (period 6) on."""
    import json

    _, parents = forked
    parent = composed_by(parents[0], SMALL + ["seed=1"])
    assert sim_main(["fork", str(parent), "--at", str(AT), "--out", str(tmp_path), "--scenario", "agi_5y",
                     "output.progress=false"]) == 0
    prov = json.loads((tmp_path / "agi_5y" / "provenance.json").read_text())
    assert prov["scenario"] == "agi_5y"
    assert f"economy.automation_path.start={AT / 4}" in prov["fork"]["overrides"]
    arm = sim.load(tmp_path / "agi_5y")["automation"].values
    parent = sim.load(parents[0])["automation"].values
    assert np.array_equal(arm[: AT + 1], parent[: AT + 1])
    assert np.all(arm[AT + 2:] > parent[AT + 2:])


@pytest.mark.slow
def test_a_ubi_at_the_zero_lower_bound_asked_as_a_fork(ray_session, tmp_path):
    """deficit_ubi_zlb's question where its premise holds (agi_5y stays off the bound:
    docs/scenarios.md). compute_monopoly's demand shortfall holds the policy rate at zero for years
    (from quarter 83 at stop 21; the test driver's grids, 2,000 households); forked inside that
    spell, at the first checkpoint (every 4 quarters) with the nine quarters up to it at the bound,
    into a control arm and deficit_ubi_zlb's UBI (0.05 goods a quarter at constant real value) under
    the parent's tax rule and under financing=deficit. The UBI raises demand under either rule. And
    what a financing switch at a fork means: the tax rule had cut the labour tax to zero (debt below
    its target), so under it the UBI is borrowed too, while financing=deficit restores the base rate
    (no rule, no surcharge): that arm taxes labour at 25 % again and consumes less than the other."""
    from tests.economy_driver import FAST

    parent = tmp_path / "parent"
    run(compose([*FAST, "scenario=compute_monopoly", "periods=112", "checkpoint.every=4", "checkpoint.keep=28",
                 "output.progress=false"]), parent)  # every checkpoint kept: the fork starts from its own
    # the fork point: the first checkpoint with eight quarters at the bound behind it (quarter 84 under
    # the calibration of stops 8-20; the spell's start moves with the calibration)
    rate = sim.load(parent)["nominal_rate"].values
    at = next((t for t in range(8, 100, 4) if (rate[t - 8:t + 1] == 0.0).all()), None)
    assert at is not None, "compute_monopoly's policy rate never stayed at its bound for eight quarters"
    ubi = ("policy.ubi.level=0.05", "policy.ubi.indexation=prices")
    run_arms([(parent, tmp_path / "out")], at,
             [Arm("control", ()), Arm("tax", (*ubi, "policy.financing=tax_rule")),
              Arm("deficit", (*ubi, "policy.financing=deficit"))], "sim fork (test)")
    control, tax, deficit = (sim.load(tmp_path / "out" / name) for name in ("control", "tax", "deficit"))
    assert (sim.load(parent)["nominal_rate"].values[at - 8:at + 1] == 0.0).all()  # the premise
    # firms plan a quarter's output from the demand they expected before it, so the UBI's spending
    # employs from the second quarter after the fork (under financing=deficit, whose restored labour
    # tax offsets part of it, the first quarter's unemployment was the control's at stop 21)
    after = slice(at + 2, None)
    for arm in (tax, deficit):
        assert (arm["consumption"].values[at:] > control["consumption"].values[at:]).all()
        assert (arm["unemployment_rate"].values[after] < control["unemployment_rate"].values[after]).all()
    assert (control["tax_labour_rate"].values[at - 4:] == 0.0).all() and (tax["tax_labour_rate"].values[at:] == 0.0).all()
    assert np.allclose(deficit["tax_labour_rate"].values[at:], 0.25)
    assert (deficit["consumption"].values[at:] < tax["consumption"].values[at:]).all()
