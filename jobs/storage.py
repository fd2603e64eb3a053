"""Run directories on object storage, because a job's pods keep no disk after the job.

:func:`sync_tree` is fsspec's ``rsync`` (any two filesystems: local paths, ``s3://bucket/prefix``;
S3 endpoint and credentials from the usual ``AWS_*`` / ``FSSPEC_S3_*`` environment variables), and
:func:`run_and_upload` runs a command and then uploads its run directory; the RayJob manifests use
it as ``python -m jobs run --run-dir DIR --upload-to URL -- sim run ... hydra.run.dir=DIR``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence


def _url(location: str) -> str:
    """A local path made absolute (fsspec's generic rsync maps paths by string replacement, so
    relative and absolute spellings of one place must not meet); URLs unchanged."""
    return location if "://" in location else str(Path(location).resolve())


def sync_tree(src: str, dst: str) -> int:
    """Copy the directory tree ``src`` into ``dst`` (local paths or fsspec URLs); returns the
    number of files copied. Every file is copied, overwriting what ``dst`` has (a resumed run can
    rewrite a chunk with one of the same size); files only ``dst`` has are kept."""
    import fsspec
    from fsspec.generic import rsync

    src, dst = _url(src).rstrip("/"), _url(dst).rstrip("/")
    src_fs, src_path = fsspec.core.url_to_fs(src)
    if not src_fs.isdir(src_path):
        raise FileNotFoundError(f"{src} is not a directory")
    return len(rsync(src, dst, update_cond="always"))


def run_and_upload(
    command: Sequence[str], run_dir: str, upload_to: str, fetch_from: str | None = None
) -> int:
    """Run ``command``; then copy ``run_dir`` to ``upload_to`` (also after a failure, so partial
    results and logs survive the pod). With ``fetch_from``, first copy that tree into ``run_dir``
    (e.g. the uploaded directory of an interrupted run, for ``sim resume``). Returns the command's
    exit status, or 1 if only the upload failed."""
    if not command:
        raise ValueError("no command to run")
    if fetch_from:
        n = sync_tree(fetch_from, run_dir)
        print(f"[jobs] fetched {n} files from {fetch_from} to {run_dir}", file=sys.stderr)
    returncode = subprocess.call(list(command))
    if not Path(run_dir).is_dir():
        print(f"[jobs] {run_dir} does not exist: nothing to upload", file=sys.stderr)
        return returncode or 1
    try:
        n = sync_tree(run_dir, upload_to)
    except Exception as exc:  # noqa: BLE001 - report and fail the job
        print(f"[jobs] upload of {run_dir} to {upload_to} failed: {exc!r}", file=sys.stderr)
        return returncode or 1
    print(f"[jobs] uploaded {n} files from {run_dir} to {upload_to}", file=sys.stderr)
    return returncode
