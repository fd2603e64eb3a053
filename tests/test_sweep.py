"""`sim run -m` runs a sweep's jobs on Ray, in Hydra's layout, and resumes without redoing work."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import xarray as xr

# the uncalibrated model (one household problem a period, not the shipped calibration's 7): what is
# tested is the launcher
ARGS = ["~calibration", "population=small", "periods=4", "output.progress=false", "checkpoint.every=2"]


def run_sweep(ray_session, sweep_dir, *overrides):
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    return subprocess.run([sys.executable, "-m", "sim.cli", "run", "-m", *overrides, *ARGS,
                           f"hydra.sweep.dir={sweep_dir}"], env=env, capture_output=True, text=True,
                          timeout=600)


def sweep(ray_session, sweep_dir, seeds="1,2"):
    # one shard actor per job: what is tested is the launcher, and every actor started costs seconds
    proc = run_sweep(ray_session, sweep_dir, f"seed={seeds}", "cluster.actors=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def seed_of(job_dir):
    return json.loads((job_dir / "provenance.json").read_text())["seed"]


def test_sweep_runs_on_ray_and_resumes(ray_session, tmp_path):
    out = sweep(ray_session, tmp_path)
    assert "Launching 2 jobs on Ray" in out
    assert (tmp_path / "multirun.yaml").is_file()
    seeds = {}
    for job in ("0", "1"):
        prov = json.loads((tmp_path / job / "provenance.json").read_text())
        ds = xr.open_zarr(tmp_path / job / "results.zarr")
        seeds[prov["seed"]] = ds["gini_wealth"].values
    assert set(seeds) == {1, 2} and not np.array_equal(seeds[1], seeds[2])

    # re-running the same sweep, its values in another order, redoes nothing: jobs are found by
    # their configuration, not their position
    stamps = {j: (tmp_path / j / "provenance.json").read_text() for j in ("0", "1")}
    out = sweep(ray_session, tmp_path, seeds="2,1")
    assert out.count("already finished") == 2
    assert all((tmp_path / j / "provenance.json").read_text() == stamps[j] for j in ("0", "1"))
    # ... and a job that did not finish is run again, alone
    shutil.rmtree(tmp_path / "1" / "results.zarr")
    out = sweep(ray_session, tmp_path)
    assert out.count("already finished") == 1
    assert (tmp_path / "1" / "results.zarr").is_dir()
    assert (tmp_path / "0" / "provenance.json").read_text() == stamps["0"]


def test_interrupted_job_resumes_from_its_checkpoint(ray_session, tmp_path):
    """A job whose run started but did not finish continues from its last checkpoint when the
    sweep is re-run, and ends with the same results as the uninterrupted job."""
    sweep(ray_session, tmp_path)
    reference = xr.open_zarr(tmp_path / "0" / "results.zarr").load()
    # make job 0 look as a crash after its period-2 checkpoint leaves it
    prov_path = tmp_path / "0" / "provenance.json"
    record = json.loads(prov_path.read_text())
    record["finished"] = None
    prov_path.write_text(json.dumps(record))
    shutil.rmtree(tmp_path / "0" / "results.zarr")
    out = sweep(ray_session, tmp_path)
    assert "interrupted earlier; resuming" in out and out.count("already finished") == 1
    record = json.loads(prov_path.read_text())
    assert record["finished"] is not None and record["resumes"], record.get("resumes")
    assert record["resumes"][-1].get("restored_from"), "did not restore a checkpoint"
    resumed = xr.open_zarr(tmp_path / "0" / "results.zarr").load()
    for name in reference.data_vars:
        assert np.array_equal(resumed[name].values, reference[name].values, equal_nan=True), name


def test_sweep_with_new_values_keeps_finished_jobs(ray_session, tmp_path):
    """A value added in front of a finished sweep's gets a new job directory; the finished job
    keeps its own and is skipped."""
    sweep(ray_session, tmp_path, seeds="1")
    stamp = (tmp_path / "0" / "provenance.json").read_text()
    out = sweep(ray_session, tmp_path, seeds="3,1")
    assert out.count("already finished") == 1
    assert (tmp_path / "0" / "provenance.json").read_text() == stamp
    assert seed_of(tmp_path / "0") == 1 and seed_of(tmp_path / "1") == 3


def test_failing_job_is_reported_and_the_others_finish(ray_session, tmp_path):
    """A job that fails at run time (more actors than the 2-CPU test cluster has) is recorded as
    failed; the other job finishes; the sweep ends with one line per failed job and status 1."""
    proc = run_sweep(ray_session, tmp_path, "cluster.actors=1,8", "cluster.cpus_per_actor=1")
    err = proc.stdout + proc.stderr
    assert proc.returncode == 1, err[-3000:]
    assert "WorkerCrashedError" not in err and "Traceback" not in err, err[-3000:]
    assert "1 of 2 jobs failed" in err
    (line,) = [ln for ln in err.splitlines() if ln.strip().startswith("#1 ")]
    assert "cluster.actors=8" in line and "ConfigError" in line and "lower cluster.actors" in line
    assert (tmp_path / "0" / "results.zarr").is_dir()
    assert not (tmp_path / "1" / "results.zarr").exists()


def test_job_numbers_follow_the_configuration():
    """Unit check of the launcher's numbering: an earlier job's number for the same (unordered)
    overrides, fresh numbers after every earlier one for the rest."""
    from hydra_plugins.sim_ray_launcher.ray_launcher import job_numbers

    earlier = {("periods=4", "seed=1"): 0, ("periods=4", "seed=2"): 1}
    assert job_numbers([["seed=2", "periods=4"], ["seed=1", "periods=4"]], earlier, 0) == [1, 0]
    assert job_numbers([["seed=3", "periods=4"], ["seed=1", "periods=4"]], earlier, 0) == [2, 0]
    assert job_numbers([["seed=5"], ["seed=6"]], {}, 0) == [0, 1]
    assert job_numbers([["seed=5"]], {}, 4) == [4]  # a later batch of the same sweep


def test_launcher_is_a_hydra_config_group_choice(tmp_path):
    """hydra/launcher=basic replaces the Ray launcher (no Ray launcher keys are left in the way)."""
    def launcher(*overrides):
        proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", *overrides, "--cfg", "hydra",
                               "-p", "hydra.launcher"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    assert "SimRayLauncher" in launcher()
    basic = launcher("hydra/launcher=basic")
    assert "BasicLauncher" in basic and "max_parallel" not in basic


def test_precheck_refuses_a_deletion_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", "-m", "seed=1,2", "~foo"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sim run: error: unknown config key 'foo' (see `sim run --help`, or sim/config_schema.py for every key)"]
