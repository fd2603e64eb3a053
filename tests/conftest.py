"""Shared fixtures: one real local Ray instance for the whole test session.

Ray takes ~8 s to start on the 2-core CI machine, so every test that needs Ray shares the
session-scoped ``ray_session`` fixture. It starts Ray with the dashboard (the Ray Jobs API lives
there) and stops exactly what it started (never ``ray stop``, which would kill every Ray process
on the host).
"""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

import pytest

# Token auth is turned on by the first local ray.init() on a machine unless every process agrees
# on a mode (see docs/development.md, "Ray in tests and on a shared machine"); tests use loopback
# only, so disable it everywhere.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Keep Ray from spamming the test output with its own usage-stats prompt.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# The `slow` mark (pyproject.toml): a test's full form, long or large. The default run (CI's) skips
# it and runs the reduced form next to it; SIM_FULL=1, or a -m expression naming `slow`, runs it.
FULL = os.environ.get("SIM_FULL") == "1"


def pytest_collection_modifyitems(config, items):
    if FULL or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow (the full form): SIM_FULL=1 or -m slow runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray instance (2 CPUs, dashboard on loopback), shared by the whole session.

    Yields the ``ray.init`` context; ``ctx.dashboard_url`` is the Ray Jobs endpoint.
    """
    import ray

    ctx = ray.init(
        address="local",  # a private instance, never a cluster some other process left behind
        num_cpus=2,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield ctx
    finally:
        ray.shutdown()


@contextmanager
def tmpfs(mount, options: str):
    """A tmpfs mounted at ``mount`` (root only; ``options`` e.g. ``size=20m`` or ``size=1m,ro``) for
    tests of full or read-only file systems; the test is skipped where mounting is not permitted."""
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here ({made.stderr.decode().strip() or made.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# --- the small run that the checkpoint, recovery and failure tests interrupt --------------------
# Its shape, and the run: the uncalibrated model (~calibration: one type, no high state). What these
# tests check (checkpoints, recovery, resume, the store's failures) is the machinery, the same for
# any parameters, and the shipped calibration would solve 7 household problems a period instead of
# 1; tests/test_recovery.py recovers one run with the calibration's types and high state.
SHAPE = ["population.households=20000", "population.block_size=1024", "periods=8", "cluster.actors=2",
         "output.progress=false", "output.snapshot_every=3"]
SMALL = ["~calibration", *SHAPE]


def with_(cfg, **changes):
    """cfg with dotted keys changed (``checkpoint__every=2``). Every config a test compares derives
    from one composition: conf/ may change while a session runs."""
    from omegaconf import OmegaConf

    return OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k.replace('__', '.')}={v}" for k, v in changes.items()]))


def tree_digest(path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``path``."""
    import hashlib

    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def base():
    """The SMALL configuration, composed once for the session."""
    from sim.config import compose

    return compose(SMALL)


@pytest.fixture(scope="session")
def reference_run(ray_session, base, tmp_path_factory):
    """The run directory of ``base`` run uninterrupted without checkpoints. One run for the session."""
    from sim.coordinator import run

    path = tmp_path_factory.mktemp("reference") / "run"
    run(with_(base, checkpoint__every=0), path)
    return path


@pytest.fixture(scope="session")
def reference(reference_run):
    """tree_digest of the reference run's results.zarr: what every interrupted, recovered or
    resumed run of it must reproduce bit for bit (results depend on neither checkpoints nor the
    shard layout)."""
    return tree_digest(reference_run / "results.zarr")
