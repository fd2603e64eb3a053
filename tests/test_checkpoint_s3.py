"""Checkpoints in object storage: a real S3 API (moto's server on loopback, started by this module)
through fsspec/s3fs. A shard actor killed mid-run recovers from S3, a new driver with an empty run
directory resumes from S3 alone, and an unreachable store stops the run before it starts, with one
line naming checkpoint.store."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time

import pytest
import ray

from sim.checkpoint.store import MANIFEST, CheckpointStoreError, fingerprint
from sim.config import compose
from sim.coordinator import run
from tests.conftest import SMALL, tree_digest, with_

# the reference (the digest of SMALL's uninterrupted results, on a local store): tests/conftest.py
BUCKET = "sim-checkpoints"


def s3_options(endpoint: str) -> dict:
    # test credentials for the loopback server; real deployments take them from the environment
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 (a free port) with one bucket; stopped at the end."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import s3fs

    s3fs.S3FileSystem(**s3_options(endpoint), skip_instance_cache=True).mkdir(BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_base(s3_endpoint):
    """Options go in as a user would type them: `+checkpoint.storage_options.KEY=VALUE`."""
    return compose([*SMALL, *s3_overrides(s3_options(s3_endpoint))])


def s3_overrides(options: dict) -> list[str]:
    return [f"+checkpoint.storage_options.{k}={v}" for k, v in options.items()]


def s3_listing(endpoint: str, prefix: str) -> list[str]:
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options(endpoint), skip_instance_cache=True)
    return sorted(fs.find(f"{BUCKET}/{prefix}"))


def test_worker_killed_recovers_from_s3(s3_base, reference, s3_endpoint, tmp_path):
    cfg = with_(s3_base, checkpoint__every=2, checkpoint__store=f"s3://{BUCKET}/recover")
    killed = []

    def kill_at_5(event, period, actors):
        if event == "period" and period == 5 and not killed:
            killed.append(ray.get(actors[0].pid.remote()))
            os.kill(killed[0], signal.SIGKILL)

    run(cfg, tmp_path / "run", on_event=kill_at_5)
    assert killed
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    [event] = prov["recoveries"]
    assert event["restored_period"] == 4 and event["checkpoint"].startswith("ckpt-00000004-")
    assert tree_digest(tmp_path / "run" / "results.zarr") == reference
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing went to local disk
    keys = s3_listing(s3_endpoint, "recover")
    root = f"{BUCKET}/recover/run-{fingerprint(cfg)[:16]}"
    manifests = [k for k in keys if k.endswith(MANIFEST)]
    assert [k.split("/")[-2].split("-")[1] for k in manifests] == ["00000004", "00000006"]  # keep=2
    assert all(k.startswith(root) for k in keys)
    assert sum(k.endswith("/safe/c/19") for k in keys) == 2  # every chunk of every array is there


class DriverDied(Exception):
    pass


def test_new_driver_resumes_from_s3_alone(s3_base, reference, tmp_path):
    """Pods have no durable disk: a fresh run directory plus the store must be enough."""
    cfg = with_(s3_base, checkpoint__every=3, checkpoint__store=f"s3://{BUCKET}/resume")

    def die_at_7(event, period, actors):  # checkpoints 3 and 6 are committed by then
        if event == "period" and period == 7:
            raise DriverDied

    with pytest.raises(DriverDied):
        run(cfg, tmp_path / "first", on_event=die_at_7)
    run(cfg, tmp_path / "second", resume=True)
    prov = json.loads((tmp_path / "second" / "provenance.json").read_text())
    assert prov["resumes"][0]["restored_from"]["period"] == 6
    assert tree_digest(tmp_path / "second" / "results.zarr") == reference


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_store_fails_before_the_simulation(ray_session, s3_base, tmp_path):
    options = {"endpoint_url": f"http://127.0.0.1:{_closed_port()}", "key": "k", "secret": "s",
               "config_kwargs.retries.max_attempts": 1}  # fail in 1 s, not after 13 s of retries
    cfg = compose([*SMALL, "checkpoint.every=2", f"checkpoint.store=s3://{BUCKET}/nowhere", *s3_overrides(options)])
    events = []
    start = time.monotonic()
    with pytest.raises(CheckpointStoreError) as info:
        run(cfg, tmp_path / "run", on_event=lambda *a: events.append(a))
    message = str(info.value)
    assert message.startswith("checkpoint.store 's3://sim-checkpoints/nowhere'") and "\n" not in message
    assert "connect" in message.lower()
    assert events == [] and not (tmp_path / "run" / "provenance.json").exists()
    assert time.monotonic() - start < 60


def test_unwritable_local_store_fails_before_the_simulation(ray_session, s3_base, tmp_path):
    cfg = with_(s3_base, checkpoint__every=2, checkpoint__store="/proc/sim-checkpoints")
    with pytest.raises(CheckpointStoreError) as info:
        run(cfg, tmp_path / "run")
    assert str(info.value).startswith("checkpoint.store '/proc/sim-checkpoints' is not usable:")
    assert "\n" not in str(info.value)
