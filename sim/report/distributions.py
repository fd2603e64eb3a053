"""The report's distribution figures, drawn from the snapshots in ``results.zarr``: Lorenz curves
and mean consumption by wealth decile.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from sim.report.drawing import (DPI, PlotResult, RunLike, available, describe, group_notes,
                                missing_reason, new_figure, palette, run_legend, save, style_axes,
                                unit_text)

LORENZ_VARS = (("lorenz_wealth", "Wealth"), ("lorenz_income", "Income"),
               ("lorenz_consumption", "Consumption"))
MAX_SNAPSHOTS_ONE_RUN = 6


def _snapshot_label(period: float, ppy: float | None) -> str:
    if ppy:
        years = period / ppy
        return "year " + f"{years:.2f}".rstrip("0").rstrip(".")
    return f"period {int(period)}"


def _coord(da: xr.DataArray, dim: str) -> np.ndarray:
    """A dimension's coordinate values, or the natural default when the dataset has none."""
    n = da.sizes[dim]
    if dim in da.coords:
        return np.asarray(da[dim].values)
    if dim == "quantile":
        return np.linspace(0.0, 1.0, n)
    if dim == "decile":
        return np.arange(1, n + 1)
    return np.arange(n)


def _valid_snapshots(da: xr.DataArray) -> list[int]:
    """Indices of the snapshots holding any finite value (callers ensure there is one)."""
    other = [d for d in da.dims if d != "snapshot"]
    finite = np.isfinite(np.asarray(da.transpose("snapshot", *other).values, dtype=float))
    return [int(k) for k in np.flatnonzero(finite.reshape(finite.shape[0], -1).any(axis=1))]


def _pick_snapshots(snaps: np.ndarray, k: int) -> list[int]:
    """Indices of at most k snapshots, evenly spread, first and last always included."""
    n = len(snaps)
    if n <= k:
        return list(range(n))
    return sorted(set(np.round(np.linspace(0, n - 1, k)).astype(int).tolist()))


def plot_lorenz(runs: Sequence[RunLike], out_dir: Path) -> PlotResult:
    """Lorenz curves: one run -> up to 6 snapshots; several -> first (dashed) and last (solid)."""
    result = PlotResult(key="lorenz", title="Lorenz curves at snapshot periods")
    several = len(runs) > 1
    colours = palette(len(runs))
    panels = []
    missing: dict[str, list[str]] = {}
    for var, name in LORENZ_VARS:
        ok = [i for i, r in enumerate(runs) if available(r.ds, (var,))]
        for i, r in enumerate(runs):
            if i not in ok:
                missing.setdefault(f"{name} Lorenz curve ({missing_reason(r.ds, (var,))}):",
                                   []).append(r.label)
        if ok:
            panels.append((var, name, ok))
    if not panels:
        result.notes.append("Not drawn: no run has Lorenz curves (" +
                            ", ".join(v for v, _ in LORENZ_VARS) + ").")
        result.notes.extend(group_notes(missing, "in run(s)"))
        return result
    result.notes.extend(group_notes(missing, "missing in run(s)"))

    fig = Figure(figsize=(5.0 * len(panels) + 0.6, 5.2 + (0.35 * np.ceil(len(runs) / 4) if several else 0)),
                 dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    fig.suptitle(result.title, fontsize=13, fontweight="bold")
    snapshots_drawn: dict[str, list[int]] = {}
    for ax, (var, name, ok) in zip(axes, panels):
        style_axes(ax)
        cols = {}
        ax.plot([0, 1], [0, 1], color="0.55", linewidth=1.0, linestyle="-", label="Equality")
        for i in ok:
            run = runs[i]
            da = run.ds[var]
            snaps = _coord(da, "snapshot")
            q = _coord(da, "quantile")
            valid = _valid_snapshots(da)  # an interrupted run has empty later snapshots
            if several:
                pick = sorted({valid[0], valid[-1]})
            else:
                pick = [valid[k] for k in _pick_snapshots(np.asarray(valid), MAX_SNAPSHOTS_ONE_RUN)]
            snapshots_drawn[run.label] = [int(snaps[k]) for k in pick]
            shades = colormaps["viridis"](np.linspace(0.0, 0.85, len(pick)))
            for n, k in enumerate(pick):
                y = np.asarray(da.isel(snapshot=k).values, dtype=float)
                cols[(run.label, int(snaps[k]))] = pd.Series(y, index=pd.Index(q, name="quantile"))
                lab = _snapshot_label(float(snaps[k]), run.periods_per_year)
                if several:
                    last = k == valid[-1]
                    ax.plot(q, y, color=colours[i], linestyle="-" if last else "--",
                            linewidth=1.8 if last else 1.3)
                else:
                    ax.plot(q, y, color=shades[n], linewidth=1.8, label=lab)
        df = pd.concat(cols, axis=1)
        df.columns.names = ["run", "snapshot"]
        describe(result, var, f"{name} Lorenz curve", [runs[i].ds[var] for i in ok])
        result.data[var] = df
        ax.set_title(f"{name}", fontsize=11)
        ax.set_xlabel("Cumulative share of households (poorest first)")
        ax.set_ylabel(f"Cumulative share of {name.lower()}")
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        ax.set_xlim(0, 1)
        lo = min(0.0, float(np.nanmin(df.values)))
        ax.set_ylim(lo - 0.02 if lo < 0 else 0.0, 1.0)
        if lo < 0:
            ax.axhline(0.0, color="0.35", linewidth=0.8)
        ax.set_box_aspect(1)
        if several:
            ax.legend(handles=[Line2D([], [], color="0.3", linestyle="--", label="first snapshot"),
                               Line2D([], [], color="0.3", linestyle="-", label="last snapshot"),
                               Line2D([], [], color="0.55", label="equality")],
                      frameon=False, fontsize=9, loc="upper left")
        else:
            ax.legend(frameon=False, fontsize=9, loc="upper left")
    result.meta["snapshots"] = snapshots_drawn
    run_legend(fig, [r.label for r in runs], colours)
    result.png = save(fig, out_dir / "lorenz.png")
    return result


def plot_consumption_by_decile(runs: Sequence[RunLike], out_dir: Path) -> PlotResult:
    """Mean consumption by wealth decile at each run's last snapshot, runs side by side."""
    var = "consumption_by_wealth_decile"
    result = PlotResult(key="consumption_by_decile", title="Consumption by wealth decile")
    ok = [i for i, r in enumerate(runs) if available(r.ds, (var,))]
    missing: dict[str, list[str]] = {}
    for i, r in enumerate(runs):
        if i not in ok:
            missing.setdefault(f"Consumption by wealth decile ({missing_reason(r.ds, (var,))}):",
                               []).append(r.label)
    if not ok:
        result.notes.append(f"Not drawn: no run has '{var}'.")
        result.notes.extend(group_notes(missing, "in run(s)"))
        return result
    result.notes.extend(group_notes(missing, "missing in run(s)"))

    several = len(runs) > 1
    colours = palette(len(runs))
    fig, (ax,) = new_figure(1, len(runs), height=4.8)
    fig.set_figwidth(9.5)
    cols, snap_of = {}, {}
    width = 0.8 / len(ok)
    for n, i in enumerate(ok):
        run = runs[i]
        da = run.ds[var]
        k = _valid_snapshots(da)[-1]
        last = int(_coord(da, "snapshot")[k])
        deciles = _coord(da, "decile")
        y = np.asarray(da.isel(snapshot=k).values, dtype=float)
        cols[run.label] = pd.Series(y, index=pd.Index(deciles, name="decile"))
        snap_of[run.label] = last
        offset = (n - (len(ok) - 1) / 2) * width
        ax.bar(deciles + offset, y, width=width * 0.95, color=colours[i] if several else colours[0],
               label=run.label)
    df = pd.concat(cols, axis=1)
    df.columns.name = "run"
    result.data[var] = df
    result.meta["snapshot"] = snap_of
    unit = unit_text([runs[i].ds[var] for i in ok], percent=False,
                     periods_per_year=runs[ok[0]].periods_per_year)
    result.meta["units"] = {var: unit}
    describe(result, var, "Consumption by wealth decile", [runs[i].ds[var] for i in ok])
    ax.set_xticks(np.arange(1, 11))
    ax.set_xticklabels(["1\npoorest"] + [str(d) for d in range(2, 10)] + ["10\nrichest"])
    ax.set_xlabel("Wealth decile")
    ax.set_ylabel(f"Mean consumption ({unit})" if unit else "Mean consumption")
    snaps = sorted(set(snap_of.values()))
    ppy = runs[ok[0]].periods_per_year
    when = _snapshot_label(snaps[0], ppy) if len(snaps) == 1 else "each run's last snapshot"
    ax.set_title(f"Mean consumption by wealth decile, {when}", fontsize=11)
    ax.grid(axis="x", visible=False)
    fig.suptitle(result.title, fontsize=13, fontweight="bold")
    run_legend(fig, [runs[i].label for i in ok], [colours[i] for i in ok], marker="patch")
    result.png = save(fig, out_dir / "consumption_by_decile.png")
    return result
