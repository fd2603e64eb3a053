"""Loading what ``sim report`` is given: run directories and Hydra sweep directories.

A run directory (written by ``sim run``) holds ``results.zarr``, ``provenance.json`` and
``.hydra/``; a sweep directory holds ``multirun.yaml`` and numbered job directories ``0/``, ``1/``,
... and stands for all its finished jobs. :func:`load_run` opens one run, :func:`assign_labels`
names the runs so that a comparison tells them apart.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import xarray as xr
import yaml

from sim import results


class ReportError(Exception):
    """A user-facing problem with the arguments (not a run directory, empty sweep, ...)."""



@dataclass
class Run:
    """One run directory, loaded."""

    path: Path
    label: str
    ds: xr.Dataset
    provenance: dict[str, Any]
    overrides: list[str]
    scenario: str | None
    seed: int | None
    households: int | None
    periods_per_year: float | None
    sweep: Path | None = None  # the sweep directory this run is a job of

    @property
    def periods(self) -> int:
        return int(self.ds.sizes.get("period", 0))

    @property
    def command(self) -> str | None:
        cmd = self.provenance.get("command")
        return str(cmd) if cmd else None


def is_sweep_dir(path: Path) -> bool:
    """A Hydra multirun directory: ``multirun.yaml`` and numbered job directories."""
    return path.is_dir() and (path / "multirun.yaml").is_file() and not (path / "results.zarr").exists()


def _sweep_jobs(path: Path) -> list[Path]:
    jobs = [p for p in path.iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(jobs, key=lambda p: int(p.name))


def expand_run_dirs(paths: Sequence[Path | str]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """Run directories (each with the sweep it belongs to, or None) and notes on left-out jobs.

    A sweep directory expands to its numbered jobs that hold ``results.zarr``; a path to a
    ``results.zarr`` stands for its run directory.
    """
    out: list[tuple[Path, Path | None]] = []
    notes: list[str] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.name == "results.zarr" and p.is_dir():
            p = p.parent
        if not p.exists():
            raise ReportError(f"{p}: no such directory")
        if is_sweep_dir(p):
            jobs = _sweep_jobs(p)
            good = [j for j in jobs if (j / "results.zarr").is_dir()]
            for j in jobs:
                if j not in good:
                    notes.append(f"Sweep job {j} has no results.zarr (failed or unfinished): left out.")
            if not good:
                raise ReportError(f"{p}: a sweep directory without any finished run (no */results.zarr)")
            out.extend((j, p) for j in good)
        elif (p / "results.zarr").is_dir():
            out.append((p, None))
        else:
            raise ReportError(f"{p}: not a run directory (no results.zarr) nor a Hydra sweep directory "
                              "(no multirun.yaml)")
    return out, notes


def sweep_command(sweep: Path) -> str | None:
    """``sim run -m ...`` rebuilt from the sweep's ``multirun.yaml`` (its task overrides)."""
    cfg = _read_yaml(sweep / "multirun.yaml")
    try:
        task = cfg["hydra"]["overrides"]["task"]
    except (TypeError, KeyError):
        return None
    if not isinstance(task, list) or not task:
        return None
    return "sim run -m " + " ".join(str(t) for t in task)


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None


def _find_key(tree: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a nested dict/list (breadth first)."""
    queue = [tree]
    while queue:
        node = queue.pop(0)
        if isinstance(node, dict):
            if key in node and not isinstance(node[key], (dict, list)):
                return node[key]
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
    return None


def _scenario_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return _scenario_name(value.get("name"))
    return str(value)


def _as_int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _as_float(v: Any) -> float | None:
    try:
        f = None if v is None else float(v)
    except (TypeError, ValueError):
        return None
    return f if f is not None and math.isfinite(f) and f > 0 else None


def load_run(path: Path, sweep: Path | None = None) -> Run:
    """Open a run directory (``results.zarr`` is loaded into memory: it holds aggregates only)."""
    try:
        ds = xr.open_zarr(path / "results.zarr").load()
    except Exception as exc:  # zarr/xarray raise many kinds; the user needs the path and the cause
        raise ReportError(f"{path}: cannot read results.zarr ({type(exc).__name__}: {exc})") from exc
    problem = results.damage(ds)  # a chunk deleted reads as NaN: refuse rather than draw n/a
    if problem is not None:
        raise ReportError(f"{path}: results.zarr is damaged: {problem}; run the simulation again or restore "
                          "the store from a copy")
    ds.attrs.pop(results.CHECKSUMS, None)
    prov: dict[str, Any] = {}
    if (path / "provenance.json").is_file():
        try:
            prov = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            prov = {}
        if not isinstance(prov, dict):  # e.g. a JSON list: not a provenance record; read without it
            prov = {}
    hydra_cfg = _read_yaml(path / ".hydra" / "config.yaml") or {}
    overrides = _read_yaml(path / ".hydra" / "overrides.yaml") or []
    overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    config = prov.get("config") or hydra_cfg

    scenario = _scenario_name(ds.attrs.get("scenario")) or _scenario_name(
        config.get("scenario") if isinstance(config, dict) else None)
    seed = _as_int(ds.attrs.get("seed", prov.get("seed", config.get("seed") if isinstance(config, dict) else None)))
    households = _as_int(ds.attrs.get("households"))
    if households is None and isinstance(config, dict):
        pop = config.get("population")
        households = _as_int(pop.get("households")) if isinstance(pop, dict) else None
    ppy = _as_float(ds.attrs.get("periods_per_year"))
    if ppy is None:
        ppy = _as_float(_find_key(config, "periods_per_year"))
    return Run(path=path, label=path.name, ds=ds, provenance=prov, overrides=overrides, scenario=scenario,
               seed=seed, households=households, periods_per_year=ppy, sweep=sweep)


def assign_labels(runs: Sequence[Run]) -> None:
    """Label each run by its Hydra overrides, or else its scenario, or else its directory name.

    With several runs, overrides shared by all of them are dropped (they tell nothing apart).
    Duplicate labels get the directory name appended.
    """
    common: set[str] = set()
    if len(runs) > 1:
        common = set(runs[0].overrides).intersection(*(set(r.overrides) for r in runs[1:]))
    for r in runs:
        parts = [o for o in r.overrides if o not in common]
        r.label = " ".join(parts) or r.scenario or r.path.name
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            where = f"{r.sweep.name}/{r.path.name}" if r.sweep is not None else r.path.name
            r.label = f"{r.label} [{where}]"
    # Still equal (same directory given twice): number them.
    counts: dict[str, int] = {}
    for r in runs:
        n = counts.get(r.label, 0)
        counts[r.label] = n + 1
        if n:
            r.label = f"{r.label} #{n + 1}"
