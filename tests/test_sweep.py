"""`sim run -m` runs a sweep's jobs on Ray, in Hydra's layout, and resumes without redoing work."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import xarray as xr

ARGS = ["population=small", "periods=4", "output.progress=false", "checkpoint.every=2"]


def sweep(ray_session, sweep_dir):
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", "-m", "seed=1,2", *ARGS,
                           f"hydra.sweep.dir={sweep_dir}"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


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

    # re-running the same sweep redoes nothing ...
    stamps = {j: (tmp_path / j / "provenance.json").read_text() for j in ("0", "1")}
    out = sweep(ray_session, tmp_path)
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
