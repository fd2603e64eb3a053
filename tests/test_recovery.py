"""Crash recovery on the session's real Ray: a shard actor's process is SIGKILLed mid-run (or while
a checkpoint is being written), the coordinator replaces the actors, reloads the last committed
checkpoint and replays; a killed driver is finished by `sim resume`. Every time, results.zarr is
bit-identical to an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import ray
from omegaconf import OmegaConf

from sim.checkpoint.store import MANIFEST, fingerprint
from sim.cli import main as sim_main
from sim.config import CLOSURES, compose
from sim.coordinator import run
from sim.supervisor import RecoveryError
from tests.conftest import SHAPE, SMALL, tree_digest, with_
from tests.economy_driver import debt_shock

# base and reference (SMALL, and the digest of its uninterrupted run): tests/conftest.py
ACTOR_DEATH = ("ActorDiedError", "RayActorError", "ActorUnavailableError")


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("checkpoints/run-*/ckpt-*"))


def dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Killer:
    """An on_event observer that SIGKILLs shard ``shard``'s real process when ``event`` fires at
    ``period`` (at most ``times`` times)."""

    def __init__(self, period: int, event: str = "period", shard: int = 1, times: int = 1, before_kill=None):
        self.period, self.event, self.shard, self.times = period, event, shard, times
        self.before_kill = before_kill
        self.killed: list[int] = []

    def __call__(self, event, period, actors):
        if event == self.event and period == self.period and len(self.killed) < self.times:
            if self.before_kill:
                self.before_kill()
            pid = ray.get(actors[self.shard].pid.remote())
            os.kill(pid, signal.SIGKILL)
            self.killed.append(pid)


# checkpoint k is taken after period k - 1 and written while period k is stepped: a shard lost
# then (kill at 4) loses checkpoint 4, which was never committed, and the run restores 2
@pytest.mark.parametrize("every,kill_at,restored", [(2, 5, 4), (2, 4, 2), (2, 1, 0), (0, 4, 0)],
                         ids=["after-checkpoint", "while-a-checkpoint-is-written", "before-first-checkpoint",
                              "checkpoints-off"])
def test_killed_worker_recovers_bit_identical(every, kill_at, restored, base, reference, tmp_path):
    killer = Killer(kill_at)
    run(with_(base, checkpoint__every=every), tmp_path / "run", on_event=killer)
    assert len(killer.killed) == 1 and dead(killer.killed[0])
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    [event] = prov["recoveries"]
    assert event["period"] == kill_at and event["phase"] == "step" and event["error"] in ACTOR_DEATH
    assert event["restored_period"] == restored
    assert (event["checkpoint"] is None) == (restored == 0)
    assert prov["finished"] is not None
    assert tree_digest(tmp_path / "run" / "results.zarr") == reference


def test_worker_killed_while_writing_a_checkpoint(base, reference, tmp_path):
    run_dir = tmp_path / "run"
    cfg = with_(base, checkpoint__every=2, checkpoint__keep=3)
    at_kill = {}

    def look():  # the store as the kill finds it: period 2 committed, period 4's arrays created
        dirs = checkpoint_dirs(run_dir)
        at_kill["committed"] = {d.name: tree_digest(d) for d in dirs if (d / MANIFEST).is_file()}
        at_kill["partial"] = [d.name for d in dirs if not (d / MANIFEST).is_file()]

    killer = Killer(4, event="checkpoint", before_kill=look)

    def observe(event, period, actors):  # and the half-written checkpoint as the replay starts
        if killer.killed and event == "period" and "replay" not in at_kill:
            [partial] = run_dir.glob(f"checkpoints/run-*/{at_kill['partial'][0]}")
            at_kill["replay"] = {"manifest": (partial / MANIFEST).exists(),
                                 "chunks": len(list(partial.glob("*/c/*")))}
        killer(event, period, actors)

    run(cfg, run_dir, on_event=observe)
    prov = json.loads((run_dir / "provenance.json").read_text())
    [event] = prov["recoveries"]
    assert event["phase"] == "checkpoint" and event["period"] == 4 and event["restored_period"] == 2
    assert [int(n.split("-")[1]) for n in at_kill["committed"]] == [2] and len(at_kill["partial"]) == 1
    # as the replay starts: not committed, and the killed shard's chunks are missing (5 arrays x 20)
    assert at_kill["replay"]["manifest"] is False and at_kill["replay"]["chunks"] < 5 * 20
    assert tree_digest(run_dir / "results.zarr") == reference
    # the committed checkpoint was never rewritten; the half-written one is gone; 4 was committed anew
    dirs = checkpoint_dirs(run_dir)
    assert all((d / MANIFEST).is_file() for d in dirs)
    assert [int(d.name.split("-")[1]) for d in dirs] == [2, 4, 6]
    assert {d.name: tree_digest(d) for d in dirs[:1]} == at_kill["committed"]
    assert at_kill["partial"][0] not in {d.name for d in dirs}


def test_recoveries_are_bounded(base, tmp_path):
    killer = Killer(3, times=99)
    with pytest.raises(RecoveryError) as info:
        run(with_(base, checkpoint__every=2, checkpoint__max_recoveries=2), tmp_path / "run", on_event=killer)
    message = str(info.value)
    assert "checkpoint.max_recoveries=2" in message and "period 3" in message and "\n" not in message
    assert len(killer.killed) == 3  # two recoveries, then the third death stops the run
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert prov["finished"] is None and [e["restored_period"] for e in prov["recoveries"]] == [2, 2]
    assert not (tmp_path / "run" / "results.zarr").exists()


# --- the driver dies: `sim resume RUN_DIR` ---------------------------------------------------------
def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).resolve().parents[1])


def _committed_periods(run_dir: Path) -> list[int]:
    return [int(d.name.split("-")[1]) for d in checkpoint_dirs(run_dir) if (d / MANIFEST).is_file()]


def test_killed_driver_is_finished_by_sim_resume(ray_session, tmp_path):
    run_dir = tmp_path / "cli"
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    overrides = [*SMALL, "periods=100", "checkpoint.every=3", "seed=3", f"hydra.run.dir={run_dir}"]
    driver = subprocess.Popen([sys.executable, "-m", "sim.cli", "run", *overrides], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        deadline = time.monotonic() + 240
        while not any(p >= 6 for p in _committed_periods(run_dir)):
            assert driver.poll() is None, driver.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the run never committed a checkpoint"
            time.sleep(0.02)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == -signal.SIGKILL
    assert not (run_dir / "results.zarr").exists(), f"finished before the kill ({_committed_periods(run_dir)})"
    assert json.loads((run_dir / "provenance.json").read_text())["finished"] is None

    proc = _cli("resume", str(run_dir), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results:" in proc.stderr
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["command"].startswith("sim run") and "seed=3" in prov["command"]
    assert prov["resumes"][0]["command"] == f"sim resume {run_dir}"
    restored = prov["resumes"][0]["restored_from"]["period"]
    assert restored >= 6 and restored % 3 == 0 and prov["finished"] is not None

    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    assert prov["checkpoint"]["root"].endswith(f"run-{fingerprint(cfg)[:16]}")

    # the same command, never interrupted (a subprocess too: the tree may be edited while a session
    # runs, and this process imported its modules at the start)
    ref_dir = tmp_path / "ref"
    same = [o for o in overrides if not o.startswith(("hydra.run.dir", "checkpoint.every"))]
    proc = _cli("run", *same, "checkpoint.every=0", f"hydra.run.dir={ref_dir}", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed, ref = tree_digest(run_dir / "results.zarr"), tree_digest(ref_dir / "results.zarr")
    assert resumed == ref, _first_difference(run_dir, ref_dir, restored)


def _first_difference(run_dir: Path, ref_dir: Path, restored: int) -> str:
    """Where results differ; before the restored period means the code changed under the test."""
    import numpy as np
    import xarray as xr

    a, b = xr.open_zarr(run_dir / "results.zarr").load(), xr.open_zarr(ref_dir / "results.zarr").load()
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if a[name].dims[0] == "period" and not np.array_equal(x, y, equal_nan=True):
            first = int(np.argmax(~((x == y) | (np.isnan(x) & np.isnan(y)))))
            return f"{name} differs from period {first} on (restored at {restored})"
    return "metadata differs"


def test_resume_refuses_what_it_cannot_do(tmp_path, capsys):
    assert sim_main(["resume", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sim resume: error:") and "no such run directory" in err and "\n" not in err

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "provenance.json").write_text(json.dumps({"config": OmegaConf.to_container(compose(SMALL)),
                                                         "finished": None}))
    assert sim_main(["resume", str(run_dir), "seed=4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "seed cannot change on resume" in err and "\n" not in err

    (run_dir / "results.zarr").mkdir()
    (run_dir / "provenance.json").write_text(json.dumps({"config": {}, "finished": "2026-01-01T00:00:00"}))
    assert sim_main(["resume", str(run_dir)]) == 0
    assert "already finished" in capsys.readouterr().err


def _killed_after_checkpoint_4_recovers_bit_identical(cfg, tmp_path):
    """cfg (checkpoint.every=2, one shard actor) run uninterrupted, and again with its actor killed
    at period 5: the run restores checkpoint 4 and ends with the same results.zarr."""
    run(with_(cfg, checkpoint__every=0), tmp_path / "ref")
    killer = Killer(5, shard=0)
    run(cfg, tmp_path / "run", on_event=killer)
    assert killer.killed
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert [e["restored_period"] for e in prov["recoveries"]] == [4]
    assert tree_digest(tmp_path / "run" / "results.zarr") == tree_digest(tmp_path / "ref" / "results.zarr")


@pytest.mark.parametrize("closure", [c for c in CLOSURES if c != "demand"])  # demand: the tests above
def test_every_closure_recovers_bit_identical(closure, ray_session, tmp_path):
    """A closure whose state_dict() missed some state would diverge after a restore (one shard
    actor: the closure's state is the driver's, whatever the layout)."""
    cfg = compose([*SMALL, f"economy.closure={closure}", "market=value", "checkpoint.every=2", "cluster.actors=1"])
    _killed_after_checkpoint_4_recovers_bit_identical(cfg, tmp_path)


def test_priced_equity_market_recovers_bit_identical(ray_session, tmp_path):
    """The priced market's state (shares, price, dividend, profit, beliefs) and the policy cache's
    candidate solves are in the checkpoint: a replay from it clears at the same prices."""
    cfg = compose([*SMALL, "market=priced", "checkpoint.every=2", "cluster.actors=1"])  # its yield anchor too
    _killed_after_checkpoint_4_recovers_bit_identical(cfg, tmp_path)


def test_calibrated_run_recovers_bit_identical(ray_session, tmp_path):
    """The shipped calibration (the tests above run without it): each household carries one of 7
    discount-factor types and may be in the high-productivity state, and the policy cache holds 7
    warm starts. A checkpoint that lost any of them would make the replay part from the reference."""
    cfg = compose([*SHAPE, "periods=6", "checkpoint.every=2", "cluster.actors=1"])
    assert cfg.household.types.count > 1 and cfg.household.productivity.high_state.level > 0
    _killed_after_checkpoint_4_recovers_bit_identical(cfg, tmp_path)


def test_the_escape_clause_recovers_bit_identical(ray_session, tmp_path):
    """The tax rule's escape clause carries an offset from period to period (docs/economy.md,
    "Financing rules"). A debt shock (1.2 years of output over the target) takes the calibrated
    economy to the lower bound and the clause acts from about period 4; checkpoint 8 (taken after
    period 7) holds a non-zero offset, and a restore from it replays the uninterrupted run's results."""
    import xarray as xr

    cfg = compose(["scenario=baseline", debt_shock(), "population.households=2000",
                   "population.block_size=1024", "household.grid_points=80", "household.kernel_grid_points=256",
                   "household.risky_nodes=5", "periods=12", "checkpoint.every=4", "cluster.actors=1",
                   "output.progress=false"])
    run(with_(cfg, checkpoint__every=0), tmp_path / "ref")
    assert xr.open_zarr(tmp_path / "ref" / "results.zarr")["tax_escape_offset"].values[7] < 0.0
    killer = Killer(10, shard=0)  # checkpoint 8 is committed after period 9 (sim/supervisor.py)
    run(cfg, tmp_path / "run", on_event=killer)
    assert killer.killed
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert [e["restored_period"] for e in prov["recoveries"]] == [8]
    assert tree_digest(tmp_path / "run" / "results.zarr") == tree_digest(tmp_path / "ref" / "results.zarr")
