"""Ray Jobs submission (jobs/submit.py, over Ray's JobSubmissionClient) against the session's real
local Ray, and the run-directory upload helpers (jobs/storage.py: python -m jobs sync/run, fsspec's
rsync) against a loopback S3 server (moto).

Working-dir choice. The `sim run` job runs with no working_dir: on this machine the package is
installed (editable) in the venv the session's Ray workers use, so the job runs exactly this
checkout either way, and a second upload of an identical project package right after the first
job released it can race with Ray's package garbage collection ("Failed to download runtime_env
file package ... from the GCS", seen once here with two back-to-back jobs). Shipping the project
as working_dir, as `python -m jobs.submit` does by default for remote clusters, is tested once, by
the trivial job, which also checks what the package contains and leaves out.
The `python`/`sim` commands of the jobs come from the venv, whose bin/ is put first on the job's
PATH (the raylet's PATH need not contain it when pytest is started as .venv/bin/pytest).
"""
from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import storage
from jobs import submit as js

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)
JOB_TIMEOUT_S = 600


def _job_env(**extra: str) -> dict[str, str]:
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    # Whatever auth mode this process uses, the job's own ray.init must agree with it.
    env["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE", "disabled")
    env.update(extra)
    return env


RAY_AGENT_PORT = 52365  # Ray's fixed default dashboard-agent port (ray.init cannot change it)


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


@pytest.fixture(scope="module")
def jobs_address(ray_session) -> str:
    """The session Ray's Jobs API, once it accepts jobs (a first no-op job waits for the head's
    dashboard agent). Skips only when that agent could not start because another Ray instance on
    this host holds its port (a shared developer machine; never the case in CI)."""
    address = "http://" + ray_session.dashboard_url
    try:
        warmup = js.submit("true", address=address, wait=True, working_dir=None, env=_job_env(),
                           timeout=JOB_TIMEOUT_S, agent_wait=60)
    except RuntimeError as exc:
        if js._NO_AGENT in str(exc) and _port_taken(RAY_AGENT_PORT):
            pytest.skip(f"Ray's dashboard agent port {RAY_AGENT_PORT} is held by another Ray "
                        "instance on this host, so this session's Jobs API has no agent")
        raise
    assert warmup.status == "SUCCEEDED", warmup.logs
    return address


# ------------------------------------------------------------------------------ no Ray needed


def test_normalize_address_forms(monkeypatch):
    monkeypatch.delenv("RAY_JOBS_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert js.normalize_address("127.0.0.1:8265") == "http://127.0.0.1:8265"
    assert js.normalize_address("https://ray.example:443/") == "https://ray.example:443"
    with pytest.raises(ValueError, match="dashboard"):
        js.normalize_address("ray://head:10001")
    with pytest.raises(ValueError, match="no Ray cluster address"):
        js.normalize_address(None)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.2:8265")
    assert js.normalize_address(None) == "http://127.0.0.2:8265"


def test_runtime_env_ships_project_without_venv_git_or_outputs():
    renv = js.build_runtime_env(js.PROJECT, {"A": 1})
    assert Path(renv["working_dir"]) == ROOT
    assert (ROOT / "pyproject.toml").is_file()
    for pattern in (".venv", ".git", "outputs", "multirun", "*.zarr", "**/__pycache__"):
        assert pattern in renv["excludes"]
    assert renv["env_vars"]["A"] == "1"
    assert js.build_runtime_env(None, None) == {}


def _head_of(directory: Path) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_runtime_env_passes_the_shipped_checkouts_git_revision(tmp_path):
    head = _head_of(ROOT)
    if head is None:
        pytest.skip("this project is not a git checkout here")
    renv = js.build_runtime_env(js.PROJECT, {"A": "1"})
    assert renv["env_vars"] == {"A": "1", js.GIT_REVISION_VAR: head}
    # The user's value wins; code not shipped from here gets no revision from here.
    assert js.build_runtime_env(js.PROJECT, {js.GIT_REVISION_VAR: "x"})["env_vars"] == {js.GIT_REVISION_VAR: "x"}
    assert js.build_runtime_env(None, {"A": "1"}) == {"env_vars": {"A": "1"}}
    if _head_of(tmp_path) is None:  # a directory outside any checkout
        assert "env_vars" not in js.build_runtime_env(tmp_path)


def test_cli_rejects_missing_entrypoint_and_bad_env(capsys):
    with pytest.raises(SystemExit) as exc:
        js.main(["--address", "http://127.0.0.1:1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        js.main(["--address", "http://127.0.0.1:1", "--env", "NOEQUALS", "--", "true"])
    assert exc.value.code == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_auth_token_header_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    assert js._auth_headers(None) == {}
    token_file = tmp_path / "tok"
    token_file.write_text("abc123\n")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token_file))
    assert js._auth_headers(None) == {"Authorization": "Bearer abc123"}
    monkeypatch.setenv("RAY_AUTH_TOKEN", "fromenv")
    assert js._auth_headers(None) == {"Authorization": "Bearer fromenv"}
    assert js._auth_headers("explicit") == {"Authorization": "Bearer explicit"}


def test_submit_retries_only_while_no_agent_is_registered(monkeypatch):
    monkeypatch.setattr(js.time, "sleep", lambda s: None)

    class FakeClient:
        def __init__(self, errors):
            self.errors, self.calls = list(errors), 0

        def submit_job(self, **kwargs):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
            return "raysubmit_fake"

    busy = RuntimeError("Request failed with status code 500: No available agent to submit job, "
                        "please try again later..")
    client = FakeClient([busy, busy])
    assert js._submit_job(client, 60.0, entrypoint="true") == "raysubmit_fake"
    assert client.calls == 3
    client = FakeClient([RuntimeError("Request failed with status code 400: bad runtime_env")])
    with pytest.raises(RuntimeError, match="400"):
        js._submit_job(client, 60.0, entrypoint="true")
    assert client.calls == 1
    client = FakeClient([busy] * 100)
    with pytest.raises(RuntimeError, match="No available agent"):
        js._submit_job(client, 0.0, entrypoint="true")  # no time left: give up at once
    assert client.calls == 1


def test_sync_tree_local_roundtrip(tmp_path):
    src = tmp_path / "run"
    (src / "results.zarr" / "output").mkdir(parents=True)
    (src / "results.zarr" / "output" / "c.0").write_bytes(b"\x00\x01" * 1000)
    (src / "provenance.json").write_text('{"seed": 1}')
    copied = storage.sync_tree(str(src), str(tmp_path / "copy"))
    assert copied == 2
    assert (tmp_path / "copy" / "provenance.json").read_text() == '{"seed": 1}'
    assert (tmp_path / "copy" / "results.zarr" / "output" / "c.0").read_bytes() == b"\x00\x01" * 1000
    # A rewritten file of the same size is copied again (a resumed run rewrites chunks), a file
    # only the destination has is kept, and relative paths work.
    (src / "provenance.json").write_text('{"seed": 2}')
    (tmp_path / "copy" / "extra.txt").write_text("kept")
    relative_src = os.path.relpath(src)
    assert storage.sync_tree(relative_src, str(tmp_path / "copy")) == 2
    assert (tmp_path / "copy" / "provenance.json").read_text() == '{"seed": 2}'
    assert (tmp_path / "copy" / "extra.txt").read_text() == "kept"
    with pytest.raises(FileNotFoundError):
        storage.sync_tree(str(tmp_path / "missing"), str(tmp_path / "x"))


# ------------------------------------------------------------------------------ real Ray jobs


def test_trivial_job_ships_project_and_env(jobs_address):
    code = (
        "import os, ray; ray.init(); "
        "print('CPUS', ray.cluster_resources().get('CPU', 0)); "
        "print('FILES', ' '.join(sorted(os.listdir('.')))); "
        "print('MARK', os.environ.get('SIM_TEST_MARK')); "
        "print('REVISION', os.environ.get('SIM_GIT_REVISION'))"
    )
    result = js.submit(
        ["python", "-c", code],
        address=jobs_address,
        wait=True,
        env=_job_env(SIM_TEST_MARK="hello-42"),
        timeout=JOB_TIMEOUT_S,
    )
    assert result.status == "SUCCEEDED", result.logs
    assert result.exit_code == 0
    lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in result.logs.splitlines() if " " in ln}
    assert float(lines["CPUS"]) >= 1.0
    files = set(lines["FILES"].split())
    assert {"pyproject.toml", "conf", "jobs", "sim"} <= files
    assert not files & {".venv", ".git", "outputs", "agency_sim.egg-info", ".pytest_cache"}
    assert lines["MARK"] == "hello-42"
    assert lines["REVISION"] == str(_head_of(ROOT))  # "None" both sides outside a checkout


def test_status_logs_and_stop_of_a_running_job(jobs_address):
    """python -m jobs status / logs / stop, against a job that would otherwise run 10 minutes."""
    result = js.submit(
        ["python", "-c", "import time; print('started', flush=True); time.sleep(600)"],
        address=jobs_address, wait=False, working_dir=None, env=_job_env(),
    )
    cli = [sys.executable, "-m", "jobs"]
    where = ["--address", jobs_address, result.job_id]
    run = dict(cwd=ROOT, capture_output=True, text=True, timeout=120,
               env={**os.environ, "PYTHONPATH": str(ROOT)})
    client = js._client(jobs_address, None)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while "started" not in client.get_job_logs(result.job_id) and time.monotonic() < deadline:
        time.sleep(1)
    proc = subprocess.run([*cli, "status", *where], **run)
    assert proc.returncode == 0 and proc.stdout.startswith("RUNNING"), proc.stdout + proc.stderr
    proc = subprocess.run([*cli, "logs", *where], **run)
    assert "started" in proc.stdout, proc.stderr
    proc = subprocess.run([*cli, "stop", *where], **run)
    assert proc.returncode == 0 and "stop requested" in proc.stdout, proc.stderr
    status, _, timed_out = js.wait_for(client, result.job_id, timeout=120)
    assert (status, timed_out) == ("STOPPED", False)


def test_failing_job_cli_exits_nonzero(jobs_address):
    proc = subprocess.run(
        [
            sys.executable, "-m", "jobs.submit",
            "--address", jobs_address.removeprefix("http://"),  # host:port form is normalised
            "--wait", "--no-working-dir", "--timeout", str(JOB_TIMEOUT_S),
            "--", sys.executable, "-c", "import sys; print('boom-from-job'); sys.exit(3)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S + 60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1, proc.stderr
    out_lines = proc.stdout.splitlines()
    job_id = out_lines[0].strip()
    assert job_id.startswith("raysubmit_"), proc.stdout
    assert "boom-from-job" in proc.stdout  # streamed job log
    assert "FAILED" in proc.stderr
    # The API agrees.
    from ray.job_submission import JobSubmissionClient

    assert str(JobSubmissionClient(jobs_address).get_job_status(job_id).value) == "FAILED"


def test_no_wait_returns_job_id_then_wait_for(jobs_address):
    result = js.submit(
        ["python", "-c", "print('quick')"],
        address=jobs_address,
        wait=False,
        working_dir=None,
        env=_job_env(),
    )
    assert result.job_id and result.exit_code == 0 and not result.terminal
    client = js._client(result.address, None)
    status, _, timed_out = js.wait_for(client, result.job_id, timeout=JOB_TIMEOUT_S)
    assert (status, timed_out) == ("SUCCEEDED", False)


def _sim_cli_present() -> bool:
    return (ROOT / "sim" / "cli.py").is_file() or (ROOT / "sim" / "cli").is_dir()


@pytest.mark.skipif(not _sim_cli_present(), reason="sim/cli.py (the `sim run` command) not written yet")
def test_sim_run_as_ray_job(jobs_address, tmp_path):
    xr = pytest.importorskip("xarray")
    run_dir = tmp_path / "run"
    result = js.submit(
        [
            "sim", "run",
            "population.households=20000", "periods=3", "cluster.actors=1",
            f"hydra.run.dir={run_dir}",
        ],
        address=jobs_address,
        wait=True,
        working_dir=None,
        env=_job_env(),
        timeout=JOB_TIMEOUT_S,
    )
    assert result.status == "SUCCEEDED", result.logs
    assert (run_dir / "provenance.json").is_file()
    ds = xr.open_zarr(run_dir / "results.zarr")
    try:
        assert ds.sizes["period"] == 3
        out = ds["output"].values
        assert out.shape[0] == 3
        assert all(math.isfinite(float(v)) for v in out.ravel())
    finally:
        ds.close()


# ------------------------------------------------------------------------------ object storage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    exe = shutil.which("moto_server", path=VENV_BIN) or shutil.which("moto_server")
    if exe is None:
        pytest.skip("moto_server not installed (pip install 'moto[server]', in the test extra)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _s3_env(endpoint: str) -> dict[str, str]:
    """The variables the k8s manifests set from the Secret (see jobs/k8s/secret-example.yaml)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=endpoint,
        FSSPEC_S3_ENDPOINT_URL=endpoint,
        PYTHONPATH=str(ROOT),
    )
    return env


def test_run_uploads_run_dir_to_s3_and_sync_fetches_it(s3_server, tmp_path):
    s3fs = pytest.importorskip("s3fs")
    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_server)
    fs.mkdir("sim-results")
    run_dir = tmp_path / "run"
    writer = (
        "import pathlib, sys; d = pathlib.Path(sys.argv[1]); (d / 'results.zarr').mkdir(parents=True); "
        "(d / 'results.zarr' / 'zarr.json').write_text('{}'); (d / 'provenance.json').write_text('{\"ok\": 1}'); "
        "sys.exit(int(sys.argv[2]))"
    )
    env = _s3_env(s3_server)
    # A command that succeeds: its run dir lands in the bucket, exit 0.
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--run-dir", str(run_dir),
         "--upload-to", "s3://sim-results/runs/r1", "--",
         sys.executable, "-c", writer, str(run_dir), "0"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert fs.cat("sim-results/runs/r1/provenance.json") == b'{"ok": 1}'
    assert fs.exists("sim-results/runs/r1/results.zarr/zarr.json")
    # A command that fails: still uploaded (partial results survive), its exit status kept.
    run_dir2 = tmp_path / "run2"
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--run-dir", str(run_dir2),
         "--upload-to", "s3://sim-results/runs/r2", "--",
         sys.executable, "-c", writer, str(run_dir2), "7"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 7, proc.stderr
    assert fs.exists("sim-results/runs/r2/provenance.json")
    # Fetch back with the endpoint taken from the environment only.
    back = tmp_path / "back"
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "sync", "s3://sim-results/runs/r1", str(back)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (back / "provenance.json").read_text() == '{"ok": 1}'
    assert (back / "results.zarr" / "zarr.json").read_text() == "{}"
    # Resume shape: fetch the uploaded run dir into a fresh pod's disk, run, upload again.
    fresh = tmp_path / "fresh"
    reader = ("import pathlib, sys; d = pathlib.Path(sys.argv[1]); "
              "assert (d / 'provenance.json').read_text() == '{\"ok\": 1}'; "
              "(d / 'resumed.txt').write_text('yes')")
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--fetch-from", "s3://sim-results/runs/r1",
         "--run-dir", str(fresh), "--upload-to", "s3://sim-results/runs/r1", "--",
         sys.executable, "-c", reader, str(fresh)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert fs.cat("sim-results/runs/r1/resumed.txt") == b"yes"
