"""`sim run -m` runs a sweep's jobs on Ray, in Hydra's layout, and resumes without redoing work."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import xarray as xr

ARGS = ["population=small", "periods=3", "output.progress=false", "checkpoint.every=0"]


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
