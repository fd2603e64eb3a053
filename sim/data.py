"""Results as xarray Datasets: :func:`load` one run directory, :func:`load_sweep` a Hydra sweep.

``sim.load(run_dir)`` reads ``results.zarr`` eagerly (aggregates only: small) and returns it with
its CF metadata (see :mod:`sim.results`) and the run's Hydra overrides in ``attrs["overrides"]``.
``sim.load_sweep(sweep_dir)`` concatenates every finished job on a new ``run`` dimension, with each
swept key (an override whose value differs between jobs) as a coordinate on ``run``. Units are pint
strings; :func:`unit_registry` defines the project's own units. See docs/data.md.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import xarray as xr
import yaml

from sim import results

__all__ = ["load", "load_sweep", "unit_registry", "LoadError"]


class LoadError(ValueError):
    """A path that is not a finished run (no results.zarr) or a sweep without finished jobs."""


def unit_registry(periods_per_year: float = 4):
    """pint's default registry plus the simulator's units: ``goods`` (the one consumption good),
    ``efficiency_unit`` (of labour) and ``period`` = 1/periods_per_year of a year, so that
    ``Q_("0.01 / period").to("1 / year")`` annualises (linearly) a per-period rate."""
    import pint

    registry = pint.UnitRegistry()
    registry.define("goods = [goods]")
    registry.define("efficiency_unit = [labour_efficiency]")
    registry.define("share = [equity_share]")  # one share of firm equity
    registry.define(f"period = year / {float(periods_per_year)!r}")
    return registry


def composition_overrides(run_dir: Path) -> list[str]:
    """The command-line overrides a run was composed with (Hydra's ``.hydra/overrides.yaml``;
    empty where the run has none, e.g. a run started from Python)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [str(item) for item in items] if isinstance(items, list) else []


def split_override(override: str) -> tuple[str, str]:
    """``KEY=VALUE`` (with an optional ``+`` or ``~`` prefix) as (KEY, VALUE)."""
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def load(run_dir: str | Path) -> xr.Dataset:
    """The run's results (``results.zarr``) in memory, with CF metadata and its overrides.

    ``attrs["overrides"]`` is the Hydra command-line overrides, space separated (empty when none).
    """
    run_dir = Path(run_dir).expanduser()
    if run_dir.name == "results.zarr":
        run_dir = run_dir.parent
    store = run_dir / "results.zarr"
    if not store.is_dir():
        raise LoadError(f"{run_dir}: no results.zarr (not a finished run directory); pass a directory "
                        "written by `sim run`")
    try:
        ds = xr.open_zarr(store).load()
    except Exception as exc:  # zarr/xarray raise many kinds; the user needs the path and the cause
        raise LoadError(f"{store}: cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    problem = results.damage(ds)
    if problem is not None:
        raise LoadError(f"{store} is damaged: {problem}; run the simulation again (sim run with the "
                        "command in provenance.json) or restore the store from a copy")
    ds.attrs.pop(results.CHECKSUMS, None)
    ds.attrs["overrides"] = " ".join(composition_overrides(run_dir))
    return results.annotate(ds)


def _sweep_jobs(sweep_dir: Path) -> list[Path]:
    jobs = [p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return [p for p in sorted(jobs, key=lambda p: int(p.name)) if (p / "results.zarr").is_dir()]


def load_sweep(sweep_dir: str | Path) -> xr.Dataset:
    """Every finished job of a sweep on a ``run`` dimension (the job numbers), eagerly.

    Swept keys (overrides whose values differ between jobs) become coordinates on ``run`` (values
    parsed as YAML: numbers stay numbers); ``attrs["swept_keys"]`` names them and
    ``attrs["overrides"]`` keeps the overrides all jobs share. Runs of different length are padded
    with NaN. Unfinished jobs (no ``results.zarr``) are left out, and so, with a warning, are jobs
    whose economy stopped (their results end early: ``attrs["stopped"]``; ``load`` opens them).
    """
    sweep_dir = Path(sweep_dir).expanduser()
    if not sweep_dir.is_dir():
        raise LoadError(f"{sweep_dir}: no such directory")
    jobs = _sweep_jobs(sweep_dir)
    if not jobs:
        raise LoadError(f"{sweep_dir}: no finished job (no */results.zarr); pass a Hydra sweep directory")
    loaded = [(job, load(job)) for job in jobs]
    for job, ds in loaded:
        if "stopped" in ds.attrs:
            warnings.warn(f"{job}: left out, its economy stopped at {ds.attrs['stopped']}", stacklevel=2)
    loaded = [(job, ds) for job, ds in loaded if "stopped" not in ds.attrs]
    if not loaded:
        raise LoadError(f"{sweep_dir}: every job's economy stopped before its end (sim.load opens one)")
    jobs, datasets = [job for job, _ in loaded], [ds for _, ds in loaded]
    settings = [dict(split_override(o) for o in composition_overrides(job)) for job in jobs]
    keys = list(dict.fromkeys(k for s in settings for k in s))
    swept = [k for k in keys if len({s.get(k) for s in settings}) > 1]
    shared = [f"{k}={settings[0][k]}" for k in keys if k not in swept and k in settings[0]]
    combined = xr.concat(datasets, dim="run", join="outer", combine_attrs="drop_conflicts")
    combined.coords["run"] = ("run", [int(job.name) for job in jobs], {"long_name": "sweep job number"})
    for key in swept:
        values = [yaml.safe_load(s[key]) if key in s else None for s in settings]
        if any(isinstance(v, (dict, list)) for v in values) or len({type(v) for v in values}) > 1:
            values = [str(v) for v in values]
        combined.coords[key] = ("run", values, {"long_name": f"swept override {key}"})
    combined.attrs["swept_keys"] = " ".join(swept)
    combined.attrs["overrides"] = " ".join(shared)
    return results.annotate(combined)
