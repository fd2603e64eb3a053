"""`sim experiment mpc` on the session's real Ray: a one-off transfer to a random half at period T,
measured in forks of a small run (4,000 households, 12 quarters, transfer at period 6)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sim.cli import main as sim_main
from sim.config import compose
from sim.coordinator import run

# the uncalibrated model (one household problem a period, not the shipped calibration's 7): the
# experiment's machinery is tested, and its economics (the poor spend more of a transfer) holds in
# any buffer-stock model
SMALL = ["~calibration", "population.households=4000", "population.block_size=500", "periods=12", "cluster.actors=1",
         "output.progress=false", "checkpoint.every=4", "checkpoint.keep=2", "seed=3"]
AT = 6  # between the parent's checkpoints (4, 8): the arms replay 4 -> 6
KEYS = ("mpc_period", "mpc_year", "mpc_by_wealth_quintile", "standard_error", "households", "transfer")


@pytest.fixture(scope="module")
def measured(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("mpc")
    run(compose(SMALL), root / "parent")
    return root


def experiment(root, capsys, *extra) -> dict:
    assert sim_main(["experiment", "mpc", str(root / "parent"), "--at", str(AT), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_mpc_json_has_finite_numbers_and_the_economics_holds(measured, capsys):
    result = experiment(measured, capsys)
    assert all(key in result for key in KEYS)
    numbers = [result[k] for k in KEYS if k != "mpc_by_wealth_quintile"] + result["mpc_by_wealth_quintile"]
    assert all(math.isfinite(x) for x in numbers) and len(result["mpc_by_wealth_quintile"]) == 5
    assert result["households"] == 4000 and result["transfer"] > 0 and result["standard_error"] > 0
    assert 0.0 < result["mpc_period"] <= 1.0
    assert result["mpc_year"] >= result["mpc_period"]
    quintiles = result["mpc_by_wealth_quintile"]
    assert quintiles[0] > quintiles[-1]  # the poorest spend more of it than the richest
    # a random half: the count is Binomial(4000, 1/2) (sd 31.6)
    assert abs(result["treated"] - 2000) < 5 * 31.6
    # the bands partition the treated half of the `all` arm household by household: their extra
    # spending adds up to the all arm's (the same households, the same draws)
    counts = result["treated_by_wealth_quintile"]
    assert sum(counts) == result["treated"] and min(counts) > 0.15 * result["treated"]
    weighted = sum(n * m for n, m in zip(counts, quintiles)) / result["treated"]
    assert weighted == pytest.approx(result["mpc_period"], rel=1e-9)
    # the randomized comparison estimates the same MPC, within its sampling error
    assert abs(result["mpc_period_randomized"] - result["mpc_period"]) < 4 * result["standard_error"]
    # the default, priced market: every arm trades period T at the parent's price (the untreated
    # face the same prices in every arm), and clears its own from T + 1
    import sim

    def price(path, t):
        return float(sim.load(path)["equity_price"].sel(period=t))

    held = price(measured / "parent", AT)
    arms = Path(result["dir"])
    assert all(price(arms / name, AT) == held for name in ("control", "all", "q1", "q5"))
    assert price(arms / "all", AT + 1) != price(arms / "control", AT + 1)


def test_default_transfer_is_a_week_of_median_income_and_bad_input_is_refused(measured, capsys):
    import sim

    median = float(sim.load(measured / "parent")["median_income"].values[AT])
    result = experiment(measured, capsys)  # reuses the finished arms
    assert result["transfer"] == pytest.approx(median * 4 / 52, rel=1e-12)
    assert sim_main(["experiment", "mpc", str(measured / "parent"), "--at", "11"]) == 2
    assert "--at 11" in capsys.readouterr().err
    assert sim_main(["experiment", "mpc", str(measured / "parent"), "--at", "6", "--transfer", "-1"]) == 2
    assert sim_main(["experiment", "elasticity", str(measured / "parent"), "--at", "6"]) == 2


def test_an_output_folder_holding_other_arms_is_refused_and_left_as_it_is(measured, capsys):
    """Arms are reused by folder: a folder whose arms were forked with another transfer (or
    without the held price, before it) would have mixed with this experiment's. Refused, one line,
    before any arm runs, and nothing there is touched."""
    from tests.test_recovery import tree_digest

    first = experiment(measured, capsys)  # the default transfer's arms, finished (or reused)
    out = Path(first["dir"])
    before = tree_digest(out)
    assert sim_main(["experiment", "mpc", str(measured / "parent"), "--at", str(AT), "--out", str(out),
                     "--transfer", repr(2 * first["transfer"])]) == 2
    err = capsys.readouterr().err
    assert "holds an arm forked otherwise" in err and "transfer" in err and len(err.strip().splitlines()) == 1
    assert tree_digest(out) == before


def test_an_arm_in_use_stops_the_experiment_with_one_line(measured, capsys):
    # each arm's directory is held while it runs; an arm's error comes back from its Ray task as
    # the arm's own line, not Ray's traceback
    from sim import run_lock

    out = Path(experiment(measured, capsys)["dir"])
    arm = next(p for p in sorted(out.iterdir()) if (p / "provenance.json").is_file())
    with run_lock.hold(arm, "another experiment"):
        assert sim_main(["experiment", "mpc", str(measured / "parent"), "--at", str(AT)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("sim experiment: error:") and f"{arm} is in use by another sim process" in line


@pytest.mark.parametrize("argv", [["--help"], ["mpc", "--help"], ["mpc", "runs/x", "--at", "3", "-h"]])
def test_help_anywhere_prints_the_usage(argv, capsys):
    assert sim_main(["experiment", *argv]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sim experiment mpc RUN_DIR --at T") and "mpc_by_wealth_quintile" in out


def test_arms_inside_a_moved_run_are_still_its_own(measured, capsys, tmp_path):
    """The MPC's arms lie inside their parent (RUN_DIR/experiments/...): a run copied or moved
    elsewhere with them keeps its finished arms, reused rather than refused (their records name
    the old parent path)."""
    import shutil

    first = experiment(measured, capsys)
    moved = tmp_path / "moved"
    shutil.copytree(measured / "parent", moved / "parent")
    again = experiment(moved, capsys)
    assert again["mpc_period"] == first["mpc_period"] and again["dir"].startswith(str(moved))
