"""A run with no cluster configured starts its own Ray: it never joins (or hangs on) a cluster
another process left recorded in ``$RAY_TMPDIR/ray/ray_current_cluster``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def test_run_ignores_a_stale_cluster_record(tmp_path):
    """Issue "Failures that say one line": a dead cluster's address in the record made a plain
    ``sim run`` hang for ever. Here the record names a port nothing listens on; the run must start
    a private instance and finish."""
    # Ray's socket paths must stay under 108 bytes: a short folder, not pytest's deep tmp_path
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:6399")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = str(ray_tmp)
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", "population=small", "population.households=2000",
         "periods=2", "cluster.actors=1", "output.progress=false", f"hydra.run.dir={tmp_path / 'run'}"],
        env=env, capture_output=True, text=True, timeout=240)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "results.zarr").is_dir()
