"""Checkpoint store failures under a real run (real Ray, real Zarr): a full disk (a small tmpfs),
an S3 server (moto on loopback, a subprocess) that hangs, a concurrent run pruning the same store.
Each ends with one StoreFailure line saying what is wrong and what to do, leaves nothing half
written, and ``sim resume`` after the cause is removed gives results bit-identical to an
uninterrupted run (issue 18)."""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.checkpoint.store import CheckpointStore, MANIFEST
from sim.cli import main as sim_main
from sim.config import compose
from sim.coordinator import run
from sim.errors import StoreFailure
from tests.conftest import SMALL as RUN
from tests.conftest import tmpfs, tree_digest, with_

# the reference (the digest of RUN's uninterrupted results): tests/conftest.py
SMALL = [*RUN, "checkpoint.every=2"]


def at_period(period: int, action):
    """An on_event observer that calls ``action()`` once, when period ``period`` starts."""
    done = []

    def observe(event, t, actors):
        if event == "period" and t == period and not done:
            done.append(t)
            action()
    return observe


@pytest.fixture(scope="module")
def checkpointing(base):
    """RUN with a checkpoint every 2 periods."""
    return with_(base, checkpoint__every=2)


def uncommitted(store_dir: Path) -> list[Path]:
    return [d for d in store_dir.rglob("ckpt-*") if d.is_dir() and not (d / MANIFEST).is_file()]


@pytest.fixture
def small_disk(tmp_path):
    """A 20 MB tmpfs; skipped where mounting is not permitted (the ENOSPC store in
    test_a_store_raising_enospc covers that path)."""
    with tmpfs(tmp_path / "disk", "size=20m") as mount:
        yield mount


def fill(directory: Path) -> Path:
    """Write a file until the file system is full."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_stops_with_one_line_and_resume_finishes_bit_identical(small_disk, checkpointing, reference):
    run_dir = small_disk / "run"
    with pytest.raises(StoreFailure) as info:
        run(checkpointing, run_dir, on_event=at_period(3, lambda: fill(small_disk)))
    message = str(info.value)
    assert "\n" not in message and "free space" in message and "No space left" in message
    assert not uncommitted(run_dir / "checkpoints"), "the partial checkpoint was left behind"
    assert not list(run_dir.glob("*.partial*"))

    (small_disk / "filler").unlink()  # the cause removed: resume finishes, bit-identical
    summary = run(checkpointing, run_dir, resume=True)
    assert summary.periods == 8
    assert tree_digest(run_dir / "results.zarr") == reference
    assert not list(run_dir.glob("results.zarr.*"))


def test_concurrent_run_pruning_the_store_leaves_the_checkpoint_in_flight(ray_session, checkpointing, reference, tmp_path):
    """Another run of the same configuration sharing checkpoint.store commits a later checkpoint
    and prunes while this run's checkpoint is being written: it must leave that folder alone."""
    store_dir = tmp_path / "shared"
    cfg = with_(checkpointing, checkpoint__store=str(store_dir))
    seen = []

    def observe(event, t, actors):
        if event == "checkpoint" and t == 4:
            other = CheckpointStore.open(cfg, tmp_path / "other")
            seen.extend(e.name for e in other.entries() if not e.committed)
            other.prune("ckpt-00000006-000000000000000000")  # as after its commit of period 6
    run(cfg, tmp_path / "run", on_event=observe)
    assert seen, "the observer found no checkpoint in flight"
    assert tree_digest(tmp_path / "run" / "results.zarr") == reference


def test_a_store_raising_enospc_under_sim_run_and_sim_resume(ray_session, tmp_path, monkeypatch, capsys):
    """The CLI: one line, exit 1, the advice names `sim resume RUN_DIR`; resume finishes."""
    calls = []
    put_macro = CheckpointStore.put_macro

    def full(self, name, files):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{self.path}/{name}/macro.json")
        return put_macro(self, name, files)

    monkeypatch.setattr(CheckpointStore, "put_macro", full)
    run_dir = tmp_path / "run"
    assert sim_main(["run", *SMALL, f"hydra.run.dir={run_dir}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sim run: error: checkpoint store"), err
    assert "free space" in err[0] and err[0].endswith(f"sim resume {run_dir}")
    assert not uncommitted(run_dir / "checkpoints")

    monkeypatch.setattr(CheckpointStore, "put_macro", put_macro)
    assert sim_main(["resume", str(run_dir)]) == 0, capsys.readouterr().err
    ref_dir = tmp_path / "ref"
    assert sim_main(["run", *SMALL, "checkpoint.every=0", f"hydra.run.dir={ref_dir}"]) == 0
    assert tree_digest(run_dir / "results.zarr") == tree_digest(ref_dir / "results.zarr")


# --- a hung object store: checkpoint.io_timeout_s ------------------------------------------------------
@pytest.fixture
def moto_process():
    """A moto S3 server in its own process on loopback (so it can be paused with SIGSTOP)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    import s3fs

    deadline = time.monotonic() + 60
    while True:
        try:
            s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing",
                              skip_instance_cache=True).mkdir("hang")
            break
        except Exception:
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.3)
    try:
        yield proc, endpoint
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=30)


def test_hung_store_times_out_with_one_line_and_resume_finishes(ray_session, checkpointing, reference, moto_process,
                                                                 tmp_path):
    proc, endpoint = moto_process
    cfg = compose([*SMALL, "checkpoint.store=s3://hang/run", "checkpoint.io_timeout_s=8",
                   *(f"+checkpoint.storage_options.{k}={v}"
                     for k, v in {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}.items())])
    run_dir = tmp_path / "run"
    t0, stopped = time.monotonic(), []
    try:
        with pytest.raises(StoreFailure) as info:
            run(cfg, run_dir, on_event=at_period(3, lambda: stopped.append(os.kill(proc.pid, signal.SIGSTOP))))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    message = str(info.value)
    assert stopped, "the store failed before it was paused"
    assert "\n" not in message and "did not answer within 8 s" in message and "checkpoint.io_timeout_s" in message
    assert time.monotonic() - t0 < 240

    summary = run(cfg, run_dir, resume=True)  # the store is back
    assert summary.periods == 8
    assert tree_digest(run_dir / "results.zarr") == reference
