"""The run's results as a labelled, chunked dataset (``results.zarr``) and its provenance record.

Every variable carries ``units`` and ``description`` attributes; time series are on dimension
``period``, snapshots on (``snapshot``, ``quantile``) and (``snapshot``, ``decile``).
"""
from __future__ import annotations

import json
import subprocess
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

GOODS = "goods per period"
SHARE = "share (0-1)"
RATE = "per period"
# name -> (units, description). Every time series written goes here (tests check the attrs).
SERIES: dict[str, tuple[str, str]] = {
    "output": (GOODS, "actual output Y_t"),
    "potential_output": (GOODS, "potential output at full employment Y*_t"),
    "consumption": (GOODS, "aggregate household consumption C_t (real)"),
    "investment": (GOODS, "investment I_t (fixed closure: household net saving)"),
    "government_spending": (GOODS, "government consumption G_t"),
    "wage": ("goods per efficiency unit per period", "wage w_t"),
    "return_safe": ("gross, per period", "gross return on safe assets R_f"),
    "return_risky": ("gross, per period", "realised gross return on risky holdings"),
    "labour_share": (SHARE, "labour income over output"),
    "unemployment_rate": (SHARE, "households not employed (unemployed + displaced)"),
    "displacement_rate": (SHARE, "households displaced by automation"),
    "automation": (SHARE, "automation frontier Phi_t: share of tasks automated"),
    "inflation": (RATE, "inflation of the consumption price"),
    "nominal_rate": (RATE, "nominal policy rate"),
    "real_rate": (RATE, "real safe rate"),
    "debt_to_gdp": ("ratio to annual output", "government debt over annual output"),
    "ubi_cost": (GOODS, "total UBI paid"),
    "fee_revenue": (GOODS, "payment fees earned by intermediaries"),
    "dominant_capital_share": (SHARE, "share of capital owned by the dominant holder"),
    "mean_wealth": ("goods", "mean household wealth, end of period"),
    "gini_wealth": ("index (0-1)", "Gini coefficient of household wealth (end of period)"),
    "gini_income": ("index (0-1)", "Gini coefficient of disposable income"),
    "gini_consumption": ("index (0-1)", "Gini coefficient of consumption"),
    "top1_wealth_share": (SHARE, "wealth share of the top 1% by wealth"),
    "top10_wealth_share": (SHARE, "wealth share of the top 10% by wealth"),
    "bottom50_wealth_share": (SHARE, "wealth share of the bottom 50% by wealth"),
    "bottom50_capital_share": (SHARE, "share of household risky capital owned by the bottom 50% by wealth"),
    "top1_capital_share": (SHARE, "share of household risky capital owned by the top 1% by wealth"),
    "poverty_rate": (SHARE, "households with disposable income below the poverty line"),
    "median_income": (GOODS, "median disposable income"),
    "sfc_residual": ("ratio to output", "largest stock-flow accounting residual / output"),
}
BOUNDED = ["gini_wealth", "gini_income", "gini_consumption", "top1_wealth_share",
           "top10_wealth_share", "bottom50_wealth_share", "bottom50_capital_share",
           "top1_capital_share"]
for _name in BOUNDED:
    SERIES[f"{_name}_bound"] = ("same as " + _name, f"bound on the sketch error of {_name}: |true - value| <= bound")

SNAPSHOTS: dict[str, tuple[str, str, str]] = {  # name -> (second dim, units, description)
    "lorenz_wealth": ("quantile", SHARE, "Lorenz curve of wealth: share held by the poorest p"),
    "lorenz_income": ("quantile", SHARE, "Lorenz curve of disposable income"),
    "lorenz_consumption": ("quantile", SHARE, "Lorenz curve of consumption"),
    "consumption_by_wealth_decile": ("decile", GOODS, "mean consumption by wealth decile"),
}


def build_dataset(rows: list[dict[str, float]], snapshots: dict[int, dict[str, np.ndarray]],
                  quantiles: np.ndarray, attrs: dict) -> xr.Dataset:
    periods = np.arange(len(rows), dtype=np.int64)
    data = {}
    for name, (units, desc) in SERIES.items():
        if name in rows[0]:
            values = np.array([r[name] for r in rows], dtype=np.float64)
            data[name] = xr.Variable("period", values, {"units": units, "description": desc})
    snap_periods = np.array(sorted(snapshots), dtype=np.int64)
    for name, (dim, units, desc) in SNAPSHOTS.items():
        values = np.stack([snapshots[p][name] for p in snap_periods])
        data[name] = xr.Variable(("snapshot", dim), values, {"units": units, "description": desc})
    coords = {
        "period": ("period", periods, {"units": "period", "description": "simulation period"}),
        "snapshot": ("snapshot", snap_periods, {"units": "period", "description": "period of the snapshot"}),
        "quantile": ("quantile", quantiles, {"units": SHARE, "description": "population share"}),
        "decile": ("decile", np.arange(1, 11), {"units": "decile", "description": "wealth decile"}),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_results(ds: xr.Dataset, run_dir: Path) -> Path:
    """Write results.zarr atomically: to a temporary name, then rename (never a half-written store)."""
    final = run_dir / "results.zarr"
    tmp = run_dir / "results.zarr.partial"
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    with warnings.catch_warnings():  # consolidated metadata is a zarr-v3 extension; xarray reads it
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=3)
    if final.exists():
        import shutil

        shutil.rmtree(final)
    tmp.rename(final)
    return final


def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[1])
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str:
    try:
        return metadata.version("agency-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_provenance(run_dir: Path, record: dict) -> Path:
    path = run_dir / "provenance.json"
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    tmp.replace(path)
    return path
