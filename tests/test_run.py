"""End to end on the session's real Ray instance: layout-independent, seed-dependent results and the
run directory of docs/design.md ("Interfaces users rely on")."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from sim.config import compose
from sim.coordinator import run
from sim.results import SERIES, SNAPSHOTS

# the uncalibrated model (one type; the layouts of a run with types: tests/test_types.py): what is
# tested is the coordinator and the run directory, and the shipped calibration would solve 7
# household problems a period instead of 1
SMALL = ["~calibration", "population.households=20000", "population.block_size=1024", "periods=6",
         "output.progress=false", "checkpoint.every=0", "output.snapshot_every=3"]
REQUIRED = ["output", "potential_output", "consumption", "investment", "wage", "labour_share",
            "unemployment_rate", "inflation", "gini_wealth", "gini_income", "gini_consumption",
            "top1_wealth_share", "top10_wealth_share", "bottom50_wealth_share",
            "dominant_capital_share", "debt_to_gdp", "sfc_residual"]


def simulate(tmp_path, name, *overrides):
    cfg = compose([*SMALL, *overrides])
    run(cfg, tmp_path / name)
    return xr.open_zarr(tmp_path / name / "results.zarr").load()


@pytest.fixture(scope="module")
def by_actors(ray_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layouts")
    return {k: simulate(tmp, f"a{k}", f"cluster.actors={k}") for k in (1, 2, 4)}


def test_results_bit_identical_for_1_2_4_actors(by_actors):
    ref = by_actors[1]
    for k in (2, 4):
        assert set(by_actors[k].data_vars) == set(ref.data_vars)
        for name in ref.data_vars:
            assert np.array_equal(by_actors[k][name].values, ref[name].values, equal_nan=True), (k, name)


def test_other_seed_gives_other_numbers(by_actors, tmp_path):
    other = simulate(tmp_path, "seed1", "seed=1", "cluster.actors=1")
    assert not np.array_equal(other["gini_wealth"].values, by_actors[1]["gini_wealth"].values)
    assert not np.array_equal(other["consumption"].values, by_actors[1]["consumption"].values)


def test_results_layout_and_labels(by_actors):
    ds = by_actors[2]
    assert ds.sizes["period"] == 6
    for name in REQUIRED:
        assert name in ds, name
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("description"), name
        assert np.all(np.isfinite(var.values)), name
    assert set(SNAPSHOTS) <= set(ds.data_vars)
    assert list(ds["snapshot"].values) == [0, 3, 5]
    assert np.all(ds["sfc_residual"].values <= 1e-9)
    # invariants any economy satisfies
    lorenz = ds["lorenz_wealth"].values
    assert np.all(np.diff(lorenz, axis=1) >= -1e-12) and np.allclose(lorenz[:, -1], 1.0)
    for name in ("gini_wealth", "gini_income", "gini_consumption"):  # revaluations are not income,
        assert np.all((ds[name] > 0) & (ds[name] < 1)), name      # so no quarter pushes a Gini past 1
    assert np.all(ds["top1_wealth_share"] < ds["top10_wealth_share"])
    assert np.all(ds["output"] <= ds["potential_output"] + 1e-9)
    assert set(ds.data_vars) <= set(SERIES) | set(SNAPSHOTS)


def test_sim_run_cli_writes_run_directory(ray_session, tmp_path):
    """`sim run` as a user types it, attached to this session's Ray through RAY_ADDRESS. It asks
    for more actors than the population has blocks: the run takes one actor a block, and says so."""
    run_dir = tmp_path / "cli"
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", *SMALL, "population.block_size=10240", "cluster.actors=3",
         "seed=5", f"hydra.run.dir={run_dir}"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "results.zarr").is_dir()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["seed"] == 5 and prov["backend"] == "fused"
    assert prov["shard_layout"] == [[0, 10240], [10240, 20000]]  # 2 blocks: 2 actors, not 3
    assert "20,000 households fill 2 block(s)" in proc.stderr and "not cluster.actors=3" in proc.stderr
    # its .hydra/config.yaml keeps the 3 actors asked for: a fork of it takes the run's shape
    from sim.fork import Arm, prepare

    arm_cfg, fork, _ = prepare(run_dir, 4, tmp_path / "forks", Arm("control", ()), None)
    assert arm_cfg.cluster.actors == 2 and fork.record["at"] == 4
    assert prov["command"].startswith("sim run") and "seed=5" in prov["command"]
    assert prov["config"]["population"]["households"] == 20000
    assert "results:" in proc.stderr and str(run_dir) in proc.stderr
    # the run's messages are also in Hydra's job log, app.log (one line each, time-stamped)
    logged = (run_dir / "app.log").read_text().splitlines()
    for line in ("done: ", "  results: ", "  report:  sim report "):
        (shown,) = [ln for ln in proc.stderr.splitlines() if ln.startswith(line)]
        assert any(ln.endswith(shown) for ln in logged), (shown, logged)


def test_failed_run_is_explained_on_stderr_and_in_app_log(ray_session, tmp_path):
    """A run refused at start (more actors than the 2-CPU test cluster has) says why in one line on
    stderr, and the same line is in the run's app.log."""
    run_dir = tmp_path / "refused"
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", *SMALL, "cluster.actors=8", "cluster.cpus_per_actor=1",
         f"hydra.run.dir={run_dir}"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("sim run: error:")]
    assert "cluster.actors=8 need 8 CPU" in line
    assert (run_dir / "app.log").read_text().rstrip().endswith(line)


def test_git_revision_recorded_at_submission_is_used_without_git(monkeypatch):
    """A Ray Job's working directory has no .git: the revision the submitter put in
    SIM_GIT_REVISION is recorded; a checkout's own revision wins where git can read it."""
    from sim import coordinator, results

    monkeypatch.setenv("SIM_GIT_REVISION", "0123abcd")
    monkeypatch.setattr(results, "git_revision", lambda: None)
    assert coordinator.code_revision() == "0123abcd"
    monkeypatch.setattr(results, "git_revision", lambda: "fedc9876")
    assert coordinator.code_revision() == "fedc9876"
    monkeypatch.delenv("SIM_GIT_REVISION")
    monkeypatch.setattr(results, "git_revision", lambda: None)
    assert coordinator.code_revision() is None


def test_priced_equity_market_clears_to_the_same_bits_on_any_layout(ray_session, tmp_path):
    """The priced equity market (sim/macro/equity.py) clears on the shards' tried steps: their
    per-block sums, combined in block order, make the clearing price and so every output the same
    bits on 1 and 3 shard actors (3 does not divide the blocks evenly)."""
    runs = [simulate(tmp_path, f"a{k}", "economy.equity.market=priced", "population.households=6000",
                     "periods=4", f"cluster.actors={k}") for k in (1, 3)]
    from sim.results import PRICED_MARKET

    assert set(PRICED_MARKET) <= set(runs[0].data_vars)
    price = runs[0]["equity_price"].values
    assert price[0] == 1.0 and np.all(price[1:] != 1.0)  # the opening issue, then cleared prices
    for name in runs[0].data_vars:
        assert np.array_equal(runs[0][name].values, runs[1][name].values, equal_nan=True), name
