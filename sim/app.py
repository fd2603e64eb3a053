"""Hydra's application for ``sim run``: one task = one simulation in Hydra's output directory."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sim import run_lock
from sim.config import CONF_DIR, ConfigError, validate
from sim.errors import RunError, error_line


def _reproduce_command() -> str:
    overrides = list(HydraConfig.get().overrides.task)
    return " ".join(["sim run", *overrides])


def earlier_run(run_dir: Path, cfg: DictConfig) -> str | None:
    """What run_dir already holds of exactly this configuration: "finished" (results complete),
    "interrupted" (started, not finished: continue from its last checkpoint) or None."""
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


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def hydra_main(cfg: DictConfig) -> float | None:
    from sim.coordinator import run

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        cfg = validate(cfg)
        with run_lock.hold(run_dir, "sim run"):
            before = earlier_run(run_dir, cfg)
            if before == "finished":
                print(f"{run_dir}: already finished with this configuration; skipped "
                      "(delete the directory to run it again)", file=sys.stderr)
                return None
            if before == "interrupted":  # e.g. a sweep re-run after a crash: continue, don't start over
                print(f"{run_dir}: interrupted earlier; resuming from its last committed checkpoint",
                      file=sys.stderr)
            summary = run(cfg, run_dir, command=_reproduce_command(), resume=before == "interrupted")
    except ConfigError as exc:  # a bad value, an unreachable checkpoint store: found before any work
        print(error_line("run", exc), file=sys.stderr)
        discard_refused(run_dir)
        raise SystemExit(2)
    except (RunError, OSError) as exc:  # store down or full, recoveries exhausted, run dir in use
        print(error_line("run", exc, run_dir), file=sys.stderr)
        raise SystemExit(1)
    f = summary.final
    print(
        f"done: {summary.households:,} households x {summary.periods} periods in "
        f"{summary.seconds:.1f} s ({summary.household_steps_per_second / 1e6:.1f}M household-steps/s)\n"
        f"  final output {f['output']:.4g}, unemployment {f['unemployment_rate']:.1%}, "
        f"Gini wealth {f['gini_wealth']:.3f}, bottom-50% wealth share {f['bottom50_wealth_share']:.1%}\n"
        f"  results: {run_dir / 'results.zarr'}\n"
        f"  report:  sim report {run_dir}",
        file=sys.stderr,
    )
    return float(f["output"])
