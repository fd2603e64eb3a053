"""The errors the project reports to users as one line (``sim`` prints them without a traceback).

``ConfigError``: the input is wrong (exit 2). ``RunError``: the run could not go on for a reason
outside the configuration (the checkpoint store failed or hung, shard actors kept dying, another
process holds the run directory, a results store is damaged, the economy itself could not go on);
the message says what is wrong and what to do (exit 1).
"""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the key and what to do."""


class RunError(RuntimeError):
    """A run stopped (or refused to start) for a reason outside its configuration; one line.
    ``resumable``: what the run committed is kept, and ``sim resume RUN_DIR`` continues it once
    the cause is removed (the entry points add that advice with the run directory)."""

    resumable = False


class StoreFailure(RunError):
    """Checkpoint or results I/O failed or timed out mid-run (store down, disk full, a checkpoint
    removed under the run). Nothing committed is lost: ``sim resume`` continues once the cause is gone."""

    resumable = True


class RunLocked(RunError):
    """Another live process holds the run directory."""


class EconomyStopped(RunError):
    """The economy could not go on (a market with nothing to price, accounts that do not close):
    the message names the period and why, and the periods before it are written as the run's
    results, to be looked at (``sim report``). Resuming would stop at the same period.
    ``reason``: the error that stopped it (``MarketDidNotClear``, ``AccountingError``)."""

    def __init__(self, message: str, reason: BaseException | None = None):
        super().__init__(message)
        self.reason = reason


class DamagedResults(RunError):
    """A results store whose contents do not match the checksums written with it."""


def own_error(exc: BaseException) -> BaseException:
    """The error a Ray task raised: ``ray.get`` re-raises it wrapped (a RayTaskError that is also
    of the task's error class, its message Ray's traceback), the task's own error as ``cause``."""
    return getattr(exc, "cause", exc)


def error_line(command: str, exc: BaseException, run_dir=None) -> str:
    """The one line ``sim COMMAND`` prints for a ConfigError, RunError or OSError."""
    if isinstance(exc, OSError) and not isinstance(exc, (ConfigError, RunError)):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"cannot write{where}: {exc.strerror or exc} (free space or fix the permissions)"
        resumable = True
    else:
        text, resumable = " ".join(str(exc).split()), getattr(exc, "resumable", False)
    if resumable and run_dir is not None:
        text += f"; then continue with: sim resume {run_dir}"
    return f"sim {command}: error: {text}"
