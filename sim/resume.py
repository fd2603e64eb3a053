"""``sim resume RUN_DIR``: finish a run whose driver died, from its newest good checkpoint.

The run's resolved configuration comes from RUN_DIR/.hydra/config.yaml (written by ``sim run``) or
else from RUN_DIR/provenance.json (written when a run starts); the checkpoint store is the one that
configuration names. Counter-based random numbers make the finished run bit-identical to one that
was never interrupted. Only keys that cannot change results may be overridden (the cluster, the
progress bar, checkpoint retention), e.g. to resume on another cluster or with more actors.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim import run_lock
from sim.config import ConfigError, validate
from sim.config_schema import Checkpoint
from sim.errors import RunError, error_line
from sim.layout import capped_note

HELP = """\
usage: sim resume RUN_DIR [KEY=VALUE ...]

Continue an interrupted run from its last committed checkpoint (or from the start when there is
none) and write its results.zarr and provenance.json, identical to an uninterrupted run.
Overridable keys (they do not change results): cluster.*, output.progress, checkpoint.keep,
checkpoint.max_recoveries, checkpoint.io_timeout_s, checkpoint.storage_options.*
"""
OVERRIDABLE = ("cluster.", "output.progress", "checkpoint.keep", "checkpoint.max_recoveries",
               "checkpoint.io_timeout_s", "checkpoint.storage_options.")


def load_run(run_dir: Path) -> tuple[DictConfig, dict]:
    """The run's resolved config and its provenance record so far ({} if none); ConfigError if the
    directory holds no run."""
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run directory")
    prov = read_provenance(run_dir) or {}
    hydra_cfg = run_dir / ".hydra" / "config.yaml"
    if hydra_cfg.is_file():
        try:
            cfg = OmegaConf.load(hydra_cfg)
        except Exception as exc:  # YAML syntax errors and the like
            raise ConfigError(f"{hydra_cfg} cannot be read ({' '.join(str(exc).split())}): restore it, or "
                              "delete it to resume from the configuration in provenance.json") from None
        if not isinstance(cfg, DictConfig):
            raise ConfigError(f"{hydra_cfg} is not a configuration (a YAML {type(cfg).__name__}): restore it, "
                              "or delete it to resume from the configuration in provenance.json")
    elif isinstance(prov.get("config"), dict):
        cfg = OmegaConf.create(prov["config"])
    else:
        raise ConfigError(f"{run_dir}: no resolved configuration (.hydra/config.yaml or provenance.json); "
                          "is it a run directory?")
    # checkpoint keys added since the run started take today's defaults (they never change results)
    cfg = OmegaConf.merge({"checkpoint": OmegaConf.structured(Checkpoint)}, cfg)
    if "scenario" not in prov:
        hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
        if hydra_yaml.is_file():
            choice = OmegaConf.select(OmegaConf.load(hydra_yaml), "hydra.runtime.choices.scenario", default=None)
            if choice:
                prov["scenario"] = str(choice)
    return cfg, prov


def read_provenance(run_dir: Path) -> dict | None:
    """The run's provenance.json (None if absent or not JSON: a run killed while writing it);
    ConfigError when it is JSON but not a provenance record."""
    path = run_dir / "provenance.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        raise ConfigError(f"{path} is not a provenance record (a JSON {type(record).__name__}, expected an "
                          "object): restore it, or move it away to treat the directory as a new run")
    return record


def apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    for item in overrides:
        key, sep, _ = item.lstrip("+").partition("=")
        if not sep:
            raise ConfigError(f"{item!r}: expected KEY=VALUE")
        if not any(key == k or (k.endswith(".") and key.startswith(k)) for k in OVERRIDABLE):
            raise ConfigError(f"{key} cannot change on resume (it would change the results); "
                              f"allowed: {', '.join(k + '*' if k.endswith('.') else k for k in OVERRIDABLE)}")
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
    return cfg


def stopped_note(run_dir: Path, prov: dict) -> str | None:
    """What to expect of a replay of ``run_dir`` where its economy stopped (sim.coordinator:
    provenance ``stopped``), None where it did not: under the same code it stops there again."""
    stop = prov.get("stopped")
    if not stop:
        return None
    return (f"{run_dir}: its economy stopped at period {stop['period']} ({stop['reason']}); replaying "
            "from its last committed checkpoint: under the same code it stops there again")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(HELP)
        return 0 if argv else 2
    run_dir, overrides = Path(argv[0]), argv[1:]
    try:
        cfg, prov = load_run(run_dir)
        cfg = apply_overrides(cfg, overrides)  # refused keys are refused on a finished run too
        if prov.get("finished") and (run_dir / "results.zarr").is_dir():
            if overrides:
                raise ConfigError(f"{run_dir} already finished (results: {run_dir / 'results.zarr'}): "
                                  f"nothing to resume, so {' '.join(overrides)} would not apply; "
                                  "to run it again with them, use sim run")
            print(f"{run_dir}: already finished (results: {run_dir / 'results.zarr'}); nothing to resume",
                  file=sys.stderr)
            return 0
        asked = OmegaConf.select(cfg, "cluster.actors")
        cfg = validate(cfg)
    except ConfigError as exc:
        print(f"sim resume: error: {exc}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from sim.coordinator import run

    command = " ".join(["sim resume", str(run_dir), *overrides])
    try:
        with run_lock.hold(run_dir, command):  # one process at a time in a run directory
            for note in (capped_note(asked, cfg.population.households, cfg.population.block_size),
                         stopped_note(run_dir, prov)):
                if note is not None:
                    print(note, file=sys.stderr)
            summary = run(cfg, run_dir, command=command, resume=True, scenario=prov.get("scenario"))
    except ConfigError as exc:  # e.g. the checkpoint store cannot be reached: nothing was done
        print(error_line("resume", exc), file=sys.stderr)
        return 2
    except (RunError, OSError) as exc:  # store down or full, recoveries exhausted: one line
        print(error_line("resume", exc, run_dir), file=sys.stderr)
        return 1
    f = summary.final
    print(f"done: {summary.households:,} households x {summary.periods} periods "
          f"(this session {summary.seconds:.1f} s)\n"
          f"  final output {f['output']:.4g}, Gini wealth {f['gini_wealth']:.3f}\n"
          f"  results: {run_dir / 'results.zarr'}\n"
          f"  report:  sim report {run_dir}", file=sys.stderr)
    return 0
