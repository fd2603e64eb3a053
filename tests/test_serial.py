"""The one-process step loop (sim.serial): the distributed run's numbers, without Ray."""
import subprocess
import sys

import numpy as np

from conftest import with_


def test_serial_loop_reproduces_the_distributed_run(base, reference_run):
    # one shard stepped in this process against two Ray shard actors: the same per-block partials
    # combined in the same block order, so the same outputs, bit for bit
    import sim
    from sim.serial import simulate

    run = simulate(with_(base, checkpoint__every=0))
    results = sim.load(reference_run)
    compared = 0
    for name, value in run.rows[0].items():
        if name in results.data_vars and results[name].dims == ("period",):
            assert np.array_equal(run.series(name), results[name].values), name
            compared += 1
    assert compared >= 30, compared
    assert len(run.rows) == results.sizes["period"]


def test_serial_loop_runs_where_ray_is_absent(tmp_path):
    # a GPU machine without Ray (issue 20): importing ray or zarr fails there, so block them here
    script = """
import sys
sys.modules["ray"] = None
sys.modules["zarr"] = None
import numpy as np
from sim.config import compose
from sim.serial import simulate
run = simulate(compose(["population.households=4096", "population.block_size=1024", "periods=3",
                        "cluster.actors=1", "household.grid_points=80", "household.kernel_grid_points=256",
                        "household.risky_nodes=5"]))
print(len(run.rows), float(np.abs(run.series("sfc_residual")).max()))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    periods, residual = done.stdout.split()
    assert int(periods) == 3 and float(residual) <= 1e-9
