"""``python -m jobs COMMAND``: helpers for running ``sim`` on Ray clusters.

Commands:

``submit [OPTIONS] -- CMD...``
    Submit CMD to a Ray cluster as a Ray Job (same as ``python -m jobs.submit``).
``status|stop [--address URL] JOB_ID``, ``logs [--address URL] [--follow] JOB_ID``
    A job's state, asking Ray to stop it, its log (``--follow``: stream it until the job ends).
``sync SRC DST``
    Copy a directory tree between local paths and fsspec URLs (``s3://bucket/prefix``), e.g. to
    fetch a run directory that a RayJob uploaded: ``python -m jobs sync s3://b/runs/r1 runs/r1``.
``run --run-dir DIR --upload-to URL [--fetch-from URL] -- CMD...``
    Run CMD (e.g. ``sim run ... hydra.run.dir=DIR``), then upload DIR to URL, even if CMD failed.
    The exit status is CMD's (or 1 if only the upload failed). Used as a RayJob entrypoint, since
    the pods of a RayJob keep nothing after the job. ``--fetch-from`` first copies a tree into DIR,
    e.g. to resume an interrupted run on a new cluster:
    ``run --fetch-from s3://b/runs/r1 --run-dir /tmp/r1 --upload-to s3://b/runs/r1 -- sim resume /tmp/r1``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from jobs import storage, submit

USAGE = __doc__


def job_command(command: str, rest: Sequence[str]) -> int:
    """status / logs / stop of one job, through Ray's job client."""
    p = argparse.ArgumentParser(prog=f"python -m jobs {command}")
    submit.add_connection_options(p)
    if command == "logs":
        p.add_argument("--follow", action="store_true", help="stream the log until the job ends")
    p.add_argument("job_id")
    args = p.parse_args(rest)
    if command == "status":
        state, message = submit.status(args.job_id, args.address, args.token)
        print(state + (f": {message}" if message else ""))
        return 0
    if command == "stop":
        stopped = submit.stop(args.job_id, args.address, args.token)
        print(f"{args.job_id}: " + ("stop requested" if stopped else "already ended"))
        return 0
    text = submit.logs(args.job_id, args.address, args.token,
                       follow=sys.stdout if args.follow else None)
    if text is not None:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "submit":
        return submit.main(rest, prog="python -m jobs submit")
    if command in {"status", "logs", "stop"}:
        return job_command(command, rest)
    if command == "sync":
        p = argparse.ArgumentParser(prog="python -m jobs sync", description="copy a directory tree")
        p.add_argument("src")
        p.add_argument("dst")
        args = p.parse_args(rest)
        n = storage.sync_tree(args.src, args.dst)
        print(f"copied {n} files from {args.src} to {args.dst}", file=sys.stderr)
        return 0
    if command == "run":
        p = argparse.ArgumentParser(
            prog="python -m jobs run",
            description="run a command, then upload its run directory",
        )
        p.add_argument("--run-dir", required=True, help="directory the command writes")
        p.add_argument("--upload-to", required=True, help="destination URL, e.g. s3://b/runs/r1")
        p.add_argument("--fetch-from", default=None, help="copy this tree into --run-dir first")
        p.add_argument("cmd", nargs=argparse.REMAINDER)
        args = p.parse_args(rest)
        cmd = submit.command_after_dashes(p, args.cmd)
        return storage.run_and_upload(cmd, args.run_dir, args.upload_to, args.fetch_from)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
