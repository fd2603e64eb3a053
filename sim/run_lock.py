"""One process at a time in a run directory: ``sim run`` and ``sim resume`` hold an exclusive
``flock`` on the directory itself while they work. The kernel drops it when the holder exits,
however it dies, so a lock is never stale; ``.sim.lock`` only names the holder (pid, host) for the
message a second process prints. Leftover temporaries of a writer that died (``results.zarr.partial-*``
and the like) are removed once the lock is held: nobody else can be writing them; a store it had
moved aside and not yet replaced is put back.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

from sim.errors import RunLocked

HOLDER = ".sim.lock"
# what a writer killed mid-write leaves (sim.results.write_store, write_text): a run's results and
# provenance, a fork directory's effects
LEFTOVERS = ("results.zarr.partial*", "results.zarr.old-*", "provenance.json.partial*",
             "effects.zarr.partial*", "effects.zarr.old-*", "effects.csv.partial*", "effects.md.partial*")


@contextmanager
def hold(run_dir: Path, command: str = "sim", then: str | None = None):
    """Hold the run directory (created if missing) for the duration of the block; RunLocked,
    naming the holder and what to run once it is gone (``then``; default ``sim resume DIR``),
    when another live process holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            holder = (run_dir / HOLDER).read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise RunLocked(f"{run_dir} is in use by another sim process (pid {holder}): wait for it to "
                        f"finish, or stop it and then run: {then or f'sim resume {run_dir}'}") from None
    try:
        (run_dir / HOLDER).write_text(f"{os.getpid()} on {socket.gethostname()} ({command})\n")
        _sweep(run_dir)
        yield run_dir
    finally:
        try:
            (run_dir / HOLDER).unlink(missing_ok=True)
        finally:
            os.close(fd)


def _sweep(run_dir: Path) -> None:
    """Remove what a killed writer left. A writer killed between moving the old store aside and
    renaming its new one into place (sim.results.write_store) leaves no store at all: the newest
    complete old one (its ``zarr.json`` written) is put back first, so a committed result is never
    lost; one half deleted (a writer killed while removing it) is not."""
    for pattern in LEFTOVERS:
        paths = list(run_dir.glob(pattern))
        if ".old-" in pattern:
            final = run_dir / pattern.split(".old-")[0]
            whole = [p for p in paths if (p / "zarr.json").is_file()]
            if whole and not final.exists():
                newest = max(whole, key=lambda p: p.stat().st_mtime_ns)
                newest.rename(final)
                paths.remove(newest)
        for path in paths:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
