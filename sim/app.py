"""Hydra's application for ``sim run``: one task = one simulation in Hydra's output directory."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.config import CONF_DIR, ConfigError, validate


def _reproduce_command() -> str:
    overrides = list(HydraConfig.get().overrides.task)
    return " ".join(["sim run", *overrides])


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def hydra_main(cfg: DictConfig) -> float | None:
    from sim.coordinator import run

    try:
        validate(cfg)
    except ConfigError as exc:
        print(f"sim run: error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    summary = run(cfg, run_dir, command=_reproduce_command())
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
