"""Submit ``sim`` runs and sweeps to a Ray cluster as Ray Jobs: a thin layer over Ray's own
:class:`ray.job_submission.JobSubmissionClient`.

What this adds to ``ray job submit``: the project shipped as ``working_dir`` by default, minus
virtualenvs, VCS data, run outputs and caches (:data:`DEFAULT_EXCLUDES`); the submitting
checkout's git revision passed to the job as ``SIM_GIT_REVISION`` (the shipped files carry no
``.git``, so provenance could not find it otherwise); a retry while a freshly started head has no
job agent yet; and an exit status that says whether the job succeeded. Everything else (packaging
the working_dir, env vars for driver and workers, status, log streaming, stop) is Ray's client.

Command line::

    python -m jobs.submit --address http://HOST:8265 [--wait] [--no-working-dir] \\
        [--env KEY=VALUE ...] -- sim run population.households=1000000 periods=50

It prints the job id, and with ``--wait`` streams the job's logs and waits for a terminal state;
the exit status is 0 when the job SUCCEEDED and 1 when it FAILED or was STOPPED (or the wait timed
out). ``python -m jobs status|logs|stop JOB_ID`` query or stop a job. Python API: :func:`submit`
returns a :class:`JobResult`.

Authentication: Ray >= 2.52 clusters may run with token authentication (``RAY_AUTH_MODE=token``).
Ray's client sends the token itself when ``RAY_AUTH_MODE=token`` is set here; this module also
sends one given by ``--token``/``token=``, ``RAY_AUTH_TOKEN`` or the file ``RAY_AUTH_TOKEN_PATH``
names, whatever the local auth mode.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Iterable, Mapping, Sequence

#: The project root: the directory holding pyproject.toml (jobs/ lives directly under it).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: What is never shipped in a job's working_dir (gitignore syntax, relative to the working_dir).
#: Ray also honours a .gitignore / .rayignore found in the working_dir.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git", ".venv", "venv", ".env", "**/__pycache__", "*.pyc", "*.egg-info", ".pytest_cache",
    ".mypy_cache", ".ruff_cache", "outputs", "multirun", "runs", "*.zarr", "build", "dist", ".whl",
    ".gl", "bench-*.json", "node_modules",
)

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})

#: Sentinel meaning "ship the project root as working_dir".
PROJECT = "project"

#: The variable through which a job learns the git revision of the code it was shipped.
GIT_REVISION_VAR = "SIM_GIT_REVISION"


@dataclasses.dataclass
class JobResult:
    """What :func:`submit` knows about a submitted job."""

    job_id: str
    address: str
    status: str = "PENDING"
    message: str | None = None
    logs: str | None = None
    timed_out: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def exit_code(self) -> int:
        """0 when the job succeeded or was only submitted (not waited for), else 1."""
        if self.succeeded or (not self.terminal and not self.timed_out):
            return 0
        return 1


def normalize_address(address: str | None) -> str:
    """``HOST:PORT`` or ``http(s)://HOST:PORT`` -> ``http(s)://HOST:PORT`` (the Jobs API URL).

    ``None`` falls back to ``RAY_JOBS_ADDRESS`` and then ``RAY_ADDRESS``, which must then name the
    dashboard, not the GCS port. (Ray's client would try to reach a GCS at ``HOST:PORT``.)
    """
    if not address:
        address = os.environ.get("RAY_JOBS_ADDRESS") or os.environ.get("RAY_ADDRESS")
    if not address:
        raise ValueError(
            "no Ray cluster address: pass --address http://HOST:8265 (the dashboard / Jobs API), "
            "or set RAY_JOBS_ADDRESS"
        )
    address = address.strip().rstrip("/")
    if "://" not in address:
        address = "http://" + address
    if not address.startswith(("http://", "https://")):
        raise ValueError(
            f"{address!r} is not a Ray Jobs address: use the dashboard URL http://HOST:8265 "
            "(ray:// client addresses and GCS addresses do not serve the Jobs API)"
        )
    return address


def _auth_headers(token: str | None) -> dict[str, str]:
    token = token or os.environ.get("RAY_AUTH_TOKEN")
    if not token and os.environ.get("RAY_AUTH_TOKEN_PATH"):
        token = Path(os.environ["RAY_AUTH_TOKEN_PATH"]).expanduser().read_text().strip()
    return {"Authorization": f"Bearer {token.strip()}"} if token else {}


def git_revision(directory: str | os.PathLike) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding ``directory``; None outside one."""
    try:
        out = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def build_runtime_env(
    working_dir: str | os.PathLike | None,
    env: Mapping[str, str] | None = None,
    excludes: Iterable[str] | None = None,
) -> dict:
    """The job's runtime_env: working_dir (with excludes) and env_vars (for driver and workers).

    A shipped working_dir inside a git checkout also sets ``SIM_GIT_REVISION`` to its revision
    (unless ``env`` sets it); with no working_dir the job runs the cluster's installed code, whose
    revision this checkout cannot vouch for, so none is passed.
    """
    runtime_env: dict = {}
    env_vars = {str(k): str(v) for k, v in (env or {}).items()}
    if working_dir is not None:
        wd = PROJECT_ROOT if working_dir == PROJECT else Path(working_dir)
        wd = wd.resolve()
        if not wd.is_dir():
            raise FileNotFoundError(f"working_dir {wd} is not a directory")
        runtime_env["working_dir"] = str(wd)
        runtime_env["excludes"] = list(DEFAULT_EXCLUDES if excludes is None else excludes)
        revision = git_revision(wd)
        if revision and GIT_REVISION_VAR not in env_vars:
            env_vars[GIT_REVISION_VAR] = revision
    if env_vars:
        runtime_env["env_vars"] = env_vars
    return runtime_env


def _client(address: str, token: str | None):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address, headers=_auth_headers(token) or None)


#: The Jobs API answers this (HTTP 500) while the head node's dashboard agent is not registered
#: yet, e.g. right after the cluster started; the job was not created, so retrying is safe.
_NO_AGENT = "No available agent to submit job"


def _submit_job(client, agent_wait: float, **kwargs) -> str:
    deadline = time.monotonic() + agent_wait
    delay = 1.0
    while True:
        try:
            return client.submit_job(**kwargs)
        except RuntimeError as exc:
            if _NO_AGENT not in str(exc) or time.monotonic() + delay > deadline:
                raise
            print(f"[jobs.submit] {_NO_AGENT.lower()} yet; retrying in {delay:.0f} s", file=sys.stderr)
            time.sleep(delay)
            delay = min(2 * delay, 10.0)


def _status_of(client, job_id: str) -> tuple[str, str | None]:
    info = client.get_job_info(job_id)
    return str(getattr(info.status, "value", info.status)), info.message


async def _stream_logs(client, job_id: str, out: IO[str]) -> None:
    async for chunk in client.tail_job_logs(job_id):
        out.write(chunk)
        out.flush()


def wait_for(
    client,
    job_id: str,
    *,
    timeout: float | None = None,
    follow: IO[str] | None = None,
    poll_interval: float = 1.0,
) -> tuple[str, str | None, bool]:
    """Wait for a terminal state; returns (status, message, timed_out).

    With ``follow`` the job's log is streamed to it while waiting (Ray's ``tail_job_logs``, which
    ends when the job does); otherwise the status is polled every ``poll_interval`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    if follow is not None:
        try:
            asyncio.run(asyncio.wait_for(_stream_logs(client, job_id, follow), timeout))
        except asyncio.TimeoutError:
            pass
        except Exception as exc:  # noqa: BLE001 - log streaming is best effort; polling decides
            follow.write(f"[jobs.submit] log streaming stopped: {exc!r}; polling status\n")
    while True:
        status, message = _status_of(client, job_id)
        if status in TERMINAL_STATES:
            return status, message, False
        if deadline is not None and time.monotonic() >= deadline:
            return status, message, True
        time.sleep(poll_interval)


def submit(
    entrypoint: Sequence[str] | str,
    address: str | None = None,
    wait: bool = False,
    working_dir: str | os.PathLike | None = PROJECT,
    env: Mapping[str, str] | None = None,
    *,
    excludes: Iterable[str] | None = None,
    submission_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    entrypoint_num_cpus: float | None = None,
    entrypoint_num_gpus: float | None = None,
    timeout: float | None = None,
    follow: IO[str] | None = None,
    fetch_logs: bool = True,
    token: str | None = None,
    poll_interval: float = 1.0,
    agent_wait: float = 120.0,
) -> JobResult:
    """Submit ``entrypoint`` as a Ray Job to the cluster whose dashboard is at ``address``.

    ``entrypoint`` is an argv list (quoted with :func:`shlex.join`) or a ready shell string.
    ``working_dir``: ``"project"`` (default) ships this project, a path ships that directory,
    ``None`` ships nothing and runs what the cluster has installed. ``env`` becomes the job's
    ``runtime_env.env_vars`` (driver and every task/actor of the job).
    With ``wait=True``, blocks until the job is SUCCEEDED/FAILED/STOPPED (or ``timeout`` seconds
    pass: ``timed_out`` is then set and the job keeps running), streaming logs to ``follow`` if
    given, and stores the job's full log in ``JobResult.logs`` when ``fetch_logs``.
    A cluster whose head agent is not ready yet (just started) is retried for ``agent_wait`` s.
    """
    command = entrypoint.strip() if isinstance(entrypoint, str) else shlex.join(list(entrypoint))
    if not command:
        raise ValueError("empty entrypoint")
    address = normalize_address(address)
    client = _client(address, token)
    job_id = _submit_job(
        client,
        agent_wait,
        entrypoint=command,
        runtime_env=build_runtime_env(working_dir, env, excludes) or None,
        submission_id=submission_id,
        metadata=dict(metadata) if metadata else None,
        entrypoint_num_cpus=entrypoint_num_cpus,
        entrypoint_num_gpus=entrypoint_num_gpus,
    )
    result = JobResult(job_id=job_id, address=address)
    if not wait:
        return result
    result.status, result.message, result.timed_out = wait_for(
        client, job_id, timeout=timeout, follow=follow, poll_interval=poll_interval
    )
    if fetch_logs:
        try:
            result.logs = client.get_job_logs(job_id)
        except Exception:  # noqa: BLE001 - logs are a convenience, the status is the answer
            result.logs = None
    return result


def status(job_id: str, address: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    """(status, message) of a job, e.g. ("FAILED", "Job entrypoint command failed with exit code 3")."""
    return _status_of(_client(normalize_address(address), token), job_id)


def logs(job_id: str, address: str | None = None, token: str | None = None,
         follow: IO[str] | None = None) -> str | None:
    """The job's log so far; with ``follow``, stream it there until the job ends (returns None)."""
    client = _client(normalize_address(address), token)
    if follow is None:
        return client.get_job_logs(job_id)
    asyncio.run(_stream_logs(client, job_id, follow))
    return None


def stop(job_id: str, address: str | None = None, token: str | None = None) -> bool:
    """Ask Ray to stop a job; False if it had already ended."""
    return bool(_client(normalize_address(address), token).stop_job(job_id))


# --------------------------------------------------------------------------------------------
# Command line.


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def add_connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--address",
        help="Ray Jobs API (dashboard) URL, e.g. http://HOST:8265; "
        "default $RAY_JOBS_ADDRESS or $RAY_ADDRESS",
    )
    p.add_argument(
        "--token", default=None, help="Ray auth token (prefer the RAY_AUTH_TOKEN environment variable)"
    )


def build_parser(prog: str = "python -m jobs.submit") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Submit a command (e.g. `sim run ...` or `sim run -m ...`) to a Ray cluster "
        "as a Ray Job. Everything after `--` is the job's entrypoint.",
    )
    add_connection_options(p)
    p.add_argument("--wait", action="store_true", help="stream logs and wait for the job to end")
    p.add_argument("--no-logs", action="store_true", help="with --wait, do not stream logs")
    p.add_argument("--timeout", type=float, default=None, help="with --wait, give up after S s")
    wd = p.add_mutually_exclusive_group()
    wd.add_argument("--working-dir", default=PROJECT,
                    help="directory shipped as the job's working_dir (default: this project)")
    wd.add_argument("--no-working-dir", action="store_true",
                    help="ship nothing; run what the cluster's image has installed")
    p.add_argument("--exclude", action="append", default=None,
                   help="extra working_dir exclude pattern (repeatable; added to the defaults)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for the job's driver and workers (repeatable)")
    p.add_argument("--submission-id", default=None, help="job id to use (must be unique)")
    p.add_argument("--entrypoint-num-cpus", type=float, default=None)
    p.add_argument("--entrypoint-num-gpus", type=float, default=None)
    p.add_argument("entrypoint", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return p


def command_after_dashes(parser: argparse.ArgumentParser, words: Sequence[str]) -> list[str]:
    """The command given after ``--`` (argparse REMAINDER keeps the separator); an error if none."""
    words = list(words)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        parser.error("no command: put it after `--`, e.g. -- sim run periods=10")
    return words


def main(argv: Sequence[str] | None = None, prog: str = "python -m jobs.submit") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    entrypoint = command_after_dashes(parser, args.entrypoint)
    try:
        env = _parse_env(args.env)
        address = normalize_address(args.address)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(str(exc))
    result = submit(
        entrypoint,
        address=address,
        working_dir=None if args.no_working_dir else args.working_dir,
        env=env,
        excludes=None if not args.exclude else [*DEFAULT_EXCLUDES, *args.exclude],
        submission_id=args.submission_id,
        entrypoint_num_cpus=args.entrypoint_num_cpus,
        entrypoint_num_gpus=args.entrypoint_num_gpus,
        token=args.token,
    )
    print(result.job_id, flush=True)
    if not args.wait:
        print(f"[jobs.submit] submitted {result.job_id} to {address}; follow it with: "
              f"python -m jobs logs --follow --address {address} {result.job_id}", file=sys.stderr)
        return 0
    try:
        result.status, result.message, result.timed_out = wait_for(
            _client(address, args.token), result.job_id, timeout=args.timeout,
            follow=None if args.no_logs else sys.stdout,
        )
    except KeyboardInterrupt:
        print(f"\n[jobs.submit] stopped waiting; job {result.job_id} keeps running "
              f"(stop it with: python -m jobs stop --address {address} {result.job_id})",
              file=sys.stderr)
        return 130
    if result.timed_out:
        print(f"[jobs.submit] job {result.job_id} still {result.status} after {args.timeout} s; "
              "it keeps running", file=sys.stderr)
    else:
        print(f"[jobs.submit] job {result.job_id} {result.status}"
              + (f": {result.message}" if result.message else ""), file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
