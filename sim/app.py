"""Hydra's application for ``sim run``: one task = one simulation in Hydra's output directory.

Its messages go through ``logging`` (logger ``sim.run``): Hydra's job logging
(conf/hydra/job_logging/sim.yaml) shows them on stderr and keeps them in the run's ``app.log``.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim import run_lock
from sim.config import CONF_DIR, ConfigError, validate
from sim.errors import RunError, error_line
from sim.layout import capped_note

log = logging.getLogger("sim.run")


def _reproduce_command() -> str:
    overrides = list(HydraConfig.get().overrides.task)
    return " ".join(["sim run", *overrides])


def earlier_run(run_dir: Path, cfg: DictConfig) -> str | None:
    """What run_dir already holds of exactly this configuration: "finished" (results complete),
    "interrupted" (started, not finished, or its economy stopped: continue from its last
    checkpoint) or None."""
    from sim.resume import read_provenance

    record = read_provenance(run_dir)
    if record is None:
        return None
    if record.get("config") != OmegaConf.to_container(cfg, resolve=True):
        return None
    if record.get("finished") is not None and (run_dir / "results.zarr").is_dir():
        return "finished"
    return "interrupted"


# what Hydra and a refused start leave in a run directory: nothing of a run
_NOT_A_RUN = {".hydra", ".sim.lock", "checkpoints"}


def discard_refused(run_dir: Path) -> None:
    """Remove the directory Hydra made for a start that was refused before any work (so no
    outputs/DATE/TIME/ looks like a run); a directory holding anything of a run is kept."""
    try:
        names = {p.name for p in run_dir.iterdir()}
    except OSError:
        return
    if not names <= _NOT_A_RUN | {p for p in names if p.endswith(".log")}:
        return
    if (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    day = run_dir.parent
    if day.parent.name == "outputs":  # Hydra's default outputs/DATE/TIME: drop an empty DATE too
        try:
            day.rmdir()
        except OSError:
            pass


def _run_dir_named() -> bool:
    """Whether the user chose the run directory (``hydra.run.dir=...``), rather than Hydra's
    default outputs/DATE/TIME."""
    return any(o.split("=", 1)[0].lstrip("+") == "hydra.run.dir"
               for o in HydraConfig.get().overrides.hydra)


def _refuse(exc: ConfigError) -> None:
    """Stop the job on a bad configuration: one line, then exit status 2 for a single run; in a
    sweep, the error itself, so the launcher records the job as failed with its reason and the
    other jobs go on."""
    log.error(error_line("run", exc))
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        raise exc
    raise SystemExit(2)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def hydra_main(cfg: DictConfig) -> float | None:
    from sim.coordinator import run

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        asked = OmegaConf.select(cfg, "cluster.actors")
        cfg = validate(cfg)
        capped = capped_note(asked, cfg.population.households, cfg.population.block_size)
        if capped:
            log.info(capped)
        with run_lock.hold(run_dir, "sim run"):
            before = earlier_run(run_dir, cfg)
            if before == "finished":
                log.info(f"{run_dir}: already finished with this configuration; skipped "
                         "(delete the directory to run it again)")
                return None
            if before == "interrupted":  # e.g. a sweep re-run after a crash: continue, don't start over
                from sim.resume import read_provenance, stopped_note

                log.info(stopped_note(run_dir, read_provenance(run_dir) or {})
                         or f"{run_dir}: interrupted earlier; resuming from its last committed checkpoint")
            summary = run(cfg, run_dir, command=_reproduce_command(), resume=before == "interrupted")
    except ConfigError as exc:  # a bad value, an unreachable checkpoint store: found before any work
        if not _run_dir_named():  # a directory the user named keeps its app.log, which says why
            discard_refused(run_dir)
        _refuse(exc)
    except (RunError, OSError) as exc:  # store down or full, recoveries exhausted, run dir in use
        log.error(error_line("run", exc, run_dir))
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        raise SystemExit(1) from None
    except Exception as exc:  # the traceback goes to app.log too (a Ray Job's only record of it)
        log.exception(f"sim run: failed: {type(exc).__name__}: {exc}")
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        raise SystemExit(1) from None
    f = summary.final
    log.info(
        f"done: {summary.households:,} households x {summary.periods} periods in "
        f"{summary.seconds:.1f} s ({summary.household_steps_per_second / 1e6:.3g}M household-steps/s)\n"
        f"  final output {f['output']:.4g}, unemployment {f['unemployment_rate']:.1%}, "
        f"Gini wealth {f['gini_wealth']:.3f}, bottom-50% wealth share {f['bottom50_wealth_share']:.1%}\n"
        f"  results: {run_dir / 'results.zarr'}\n"
        f"  report:  sim report {run_dir}"
    )
    return float(f["output"])
