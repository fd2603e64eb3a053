"""The figures of ``sim report``: one PNG per topic, every run overlaid on the same axes.

Each ``plot_*`` function takes the runs (objects with ``label``, ``ds`` (the run's
``results.zarr`` as an :class:`xarray.Dataset`) and ``periods_per_year``) and an output directory,
writes one PNG and returns a :class:`PlotResult` holding the data actually drawn, so that tests and
notebooks can check a figure without reading pixels. A figure whose variables are absent from every
run is not drawn (``PlotResult.png is None``) and says why in ``notes``; a variable absent from only
some runs is drawn for the others and noted.

Conventions:

* Data in a :class:`PlotResult` are the dataset's own values, unscaled. Shares and rates that the
  dataset stores as fractions are shown in percent by the axis tick formatter only.
* The time axis is in years (``period / periods_per_year``) when every run states
  ``periods_per_year``; otherwise in periods. Series are indexed by that axis.
* With one run, colour tells the variables apart; with several, colour is the run and the line
  style is the variable.

Only :class:`matplotlib.figure.Figure` is used (no ``pyplot``): no global backend is selected and no
figure is left open, so this module is safe to import inside notebooks and long-lived processes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

DPI = 110
LINESTYLES = ("-", "--", ":", "-.")


class RunLike(Protocol):
    label: str
    ds: xr.Dataset
    periods_per_year: float | None


@dataclass
class PlotResult:
    """One figure: where it was written and the data drawn in it.

    ``data`` maps a variable name to a :class:`pandas.DataFrame` with one column per run label
    (time series: indexed by the time axis; ``consumption_by_wealth_decile``: by decile) or, for
    Lorenz curves, columns ``(run label, snapshot period)`` indexed by population share.
    ``meta`` records presentation choices (time axis, log scales, snapshot periods, units).
    """

    key: str
    title: str
    png: Path | None = None
    data: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.png is None


# ---------------------------------------------------------------------------------------------
# helpers


@dataclass(frozen=True)
class Var:
    """A plotted variable: a dataset variable, or one derived from others with ``compute``."""

    name: str
    label: str
    percent: bool = False  # a fraction shown in percent (unless its units say it already is %)
    compute: Callable[[xr.Dataset], xr.DataArray] | None = None
    needs: tuple[str, ...] = ()

    def required(self) -> tuple[str, ...]:
        return self.needs if self.compute is not None else (self.name,)


@dataclass(frozen=True)
class Panel:
    title: str
    vars: tuple[Var, ...]
    ylabel: str
    logy: str = "never"  # "auto": log scale when positive and spanning more than 30x
    zero_line: bool = False


def _available(ds: xr.Dataset, names: Sequence[str]) -> bool:
    """True when every variable exists and has at least one finite value."""
    for n in names:
        if n not in ds.data_vars:
            return False
        v = np.asarray(ds[n].values, dtype=float)
        if not np.isfinite(v).any():
            return False
    return True


def _missing_reason(ds: xr.Dataset, names: Sequence[str]) -> str:
    absent = [n for n in names if n not in ds.data_vars]
    if absent:
        return "no variable " + ", ".join(f"'{n}'" for n in absent)
    return "only NaN in " + ", ".join(f"'{n}'" for n in names)


def time_axis(runs: Sequence[RunLike]) -> tuple[str, str, list[float]]:
    """(axis label, index name, divisor per run): years when every run knows periods_per_year."""
    ppys = [r.periods_per_year for r in runs]
    if runs and all(p is not None and np.isfinite(p) and p > 0 for p in ppys):
        return "Time (years)", "year", [float(p) for p in ppys]  # type: ignore[arg-type]
    return "Period", "period", [1.0] * len(runs)


def _period_values(ds: xr.Dataset, dim: str = "period") -> np.ndarray:
    if dim in ds.coords:
        return np.asarray(ds[dim].values, dtype=float)
    return np.arange(ds.sizes[dim], dtype=float)


def _percent_scale(da: xr.DataArray) -> float:
    """The ``xmax`` of a PercentFormatter: 1 for fractions, 100 when units already are percent."""
    units = str(da.attrs.get("units", "")).lower()
    return 100.0 if ("%" in units or "percent" in units) else 1.0


def _per_what(units: str) -> str:
    """' per year' from 'fraction per year', '' when the units name no time basis."""
    u = units.lower()
    i = u.find(" per ")
    if i >= 0:
        return units[i:]
    return ""


def _unit_text(run_das: list[xr.DataArray], percent: bool) -> str:
    units = ""
    for da in run_das:
        units = str(da.attrs.get("units", "")).strip()
        if units:
            break
    if percent:
        return "%" + _per_what(units)
    if units in ("", "1", "dimensionless", "fraction", "ratio", "index"):
        return ""
    return units


def _describe(result: PlotResult, name: str, label: str, das: Sequence[xr.DataArray]) -> None:
    """Record the dataset's description of a plotted variable (shown under the figure)."""
    for da in das:
        desc = str(da.attrs.get("description", "")).strip()
        if desc:
            result.meta.setdefault("descriptions", {})[name] = f"{label}: {desc}"
            return


def _shorten(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _colours(n: int) -> list:
    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.92, n)]


def _style_axes(ax) -> None:
    ax.grid(True, color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _new_figure(n_panels: int, n_runs: int, height: float = 4.6) -> tuple[Figure, list]:
    width = {1: 8.5, 2: 13.0, 3: 16.0}.get(n_panels, 5.2 * n_panels)
    extra = 0.0 if n_runs <= 1 else 0.35 * int(np.ceil(n_runs / _legend_columns_guess(n_runs)))
    fig = Figure(figsize=(width, height + extra), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax in axes:
        _style_axes(ax)
    return fig, list(axes)


def _legend_columns_guess(n_runs: int) -> int:
    return max(1, min(n_runs, 4))


def _legend_columns(labels: Sequence[str]) -> int:
    longest = max((len(s) for s in labels), default=0)
    cap = 1 if longest > 60 else 2 if longest > 35 else 3 if longest > 22 else 4
    return max(1, min(len(labels), cap))


def _run_legend(fig: Figure, labels: Sequence[str], colours: Sequence, marker: str | None = None) -> None:
    """One legend for the runs, below the panels (several runs only)."""
    if len(labels) <= 1:
        return
    if marker == "patch":
        handles = [Patch(facecolor=c, label=lab) for lab, c in zip(labels, colours)]
    else:
        handles = [Line2D([], [], color=c, linewidth=2.2, label=lab) for lab, c in zip(labels, colours)]
    fig.legend(handles=handles, loc="outside lower center", ncols=_legend_columns(labels), frameon=False,
               fontsize=9, title="Runs", title_fontsize=9)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")
    return path


def _group_notes(missing: dict[str, list[str]], what: str) -> list[str]:
    """'Variable x: not in runs a, b' lines from {reason-key: [run labels]}."""
    return [f"{key} {what} {', '.join(repr(r) for r in runs)}." for key, runs in missing.items()]


# ---------------------------------------------------------------------------------------------
# time-series figures


def timeseries_figure(runs: Sequence[RunLike], out_dir: Path, key: str, title: str,
                      panels: Sequence[Panel]) -> PlotResult:
    """Panels of time series, every run overlaid. The generic engine of most figures."""
    result = PlotResult(key=key, title=title)
    xlabel, index_name, divisors = time_axis(runs)
    result.meta["time_axis"] = index_name
    labels = [r.label for r in runs]
    colours = _colours(len(runs))
    several = len(runs) > 1

    # Which (panel, var, run) can be drawn.
    drawable: list[tuple[Panel, list[tuple[Var, list[int]]]]] = []
    missing: dict[str, list[str]] = {}
    for panel in panels:
        pv = []
        for var in panel.vars:
            ok = []
            for i, run in enumerate(runs):
                if _available(run.ds, var.required()):
                    ok.append(i)
                else:
                    missing.setdefault(f"{var.label} ({_missing_reason(run.ds, var.required())}):",
                                       []).append(run.label)
            if ok:
                pv.append((var, ok))
        if pv:
            drawable.append((panel, pv))

    if not drawable:
        names = sorted({n for p in panels for v in p.vars for n in v.required()})
        result.notes.append(f"Not drawn: no run has data for {', '.join(names)}.")
        result.notes.extend(_group_notes(missing, "in run(s)"))
        return result
    dropped = [p.title for p in panels if p.title not in {d[0].title for d in drawable}]
    if dropped:
        result.notes.append("Panel(s) left out for lack of data: " + ", ".join(dropped) + ".")
    result.notes.extend(_group_notes(missing, "missing in run(s)"))

    fig, axes = _new_figure(len(drawable), len(runs))
    fig.suptitle(title, fontsize=13, fontweight="bold")
    log_panels = []
    for ax, (panel, pvars) in zip(axes, drawable):
        all_vals = []
        pct_xmax = None
        for j, (var, ok) in enumerate(pvars):
            das = []
            series = {}
            for i in ok:
                run = runs[i]
                da = var.compute(run.ds) if var.compute is not None else run.ds[var.name]
                das.append(da)
                x = _period_values(run.ds) / divisors[i]
                y = np.asarray(da.values, dtype=float)
                series[run.label] = pd.Series(y, index=pd.Index(x, name=index_name), name=run.label)
                colour = colours[i] if several else _colours(max(len(pvars), 1))[j]
                ax.plot(x, y, color=colour, linestyle=LINESTYLES[j % len(LINESTYLES)], linewidth=1.8,
                        label=None if several else var.label)
                all_vals.append(y[np.isfinite(y)])
            df = pd.concat(series, axis=1)
            df.columns.name = "run"
            result.data[var.name] = df
            if var.percent:
                pct_xmax = _percent_scale(das[0])
            unit = _unit_text(das, var.percent)
            result.meta.setdefault("units", {})[var.name] = unit
            _describe(result, var.name, var.label, das)
        ax.set_title(panel.title, fontsize=11)
        ax.set_xlabel(xlabel)
        unit = result.meta["units"][pvars[0][0].name]
        ax.set_ylabel(f"{panel.ylabel} ({unit})" if unit else panel.ylabel)
        if pct_xmax is not None:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=pct_xmax, decimals=None))
        vals = np.concatenate(all_vals) if all_vals else np.array([])
        if panel.logy == "auto" and vals.size and vals.min() > 0 and vals.max() / vals.min() > 30:
            ax.set_yscale("log")
            log_panels.append(panel.title)
        if panel.zero_line and vals.size and vals.min() < 0 < vals.max():
            ax.axhline(0.0, color="0.35", linewidth=0.8, zorder=1)
        absent = [(v.label, [runs[i].label for i in range(len(runs)) if i not in ok]) for v, ok in pvars]
        absent = [(lab, who) for lab, who in absent if who]
        if absent:
            text = "\n".join(_shorten(f"no {lab.lower()} in: " + ", ".join(who)) for lab, who in absent)
            ax.text(0.99, 0.01, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                    color="0.35", style="italic")
        if not several and len(pvars) > 1:
            ax.legend(frameon=False, fontsize=9)
        elif several and len(pvars) > 1:
            ax.legend(handles=[Line2D([], [], color="0.3", linestyle=LINESTYLES[j % len(LINESTYLES)],
                                      label=v.label) for j, (v, _) in enumerate(pvars)],
                      frameon=False, fontsize=9)
    result.meta["log_y"] = log_panels
    _run_legend(fig, labels, colours)
    result.png = _save(fig, out_dir / f"{key}.png")
    return result


def _output_gap(ds: xr.Dataset) -> xr.DataArray:
    gap = ds["output"] / ds["potential_output"] - 1.0
    gap.attrs = {"units": "fraction", "description": "output / potential output - 1"}
    return gap


def plot_output(runs, out_dir):
    return timeseries_figure(runs, out_dir, "output", "Output and potential output", [
        Panel("Output vs potential output",
              (Var("output", "Output"), Var("potential_output", "Potential output")),
              "Output", logy="auto"),
        Panel("Output gap", (Var("output_gap", "Output gap", percent=True,
                                 compute=_output_gap, needs=("output", "potential_output")),),
              "Output gap", zero_line=True),
    ])


def plot_wage(runs, out_dir):
    return timeseries_figure(runs, out_dir, "wage_labour_share", "Wage and labour share", [
        Panel("Wage", (Var("wage", "Wage"),), "Wage", logy="auto"),
        Panel("Labour share of income", (Var("labour_share", "Labour share", percent=True),),
              "Labour share"),
    ])


def plot_unemployment(runs, out_dir):
    return timeseries_figure(runs, out_dir, "unemployment", "Unemployment and displacement", [
        Panel("Unemployment rate", (Var("unemployment_rate", "Unemployment rate", percent=True),),
              "Unemployment rate"),
        Panel("Displacement rate", (Var("displacement_rate", "Displacement rate", percent=True),),
              "Displacement rate"),
    ])


def plot_rates(runs, out_dir):
    return timeseries_figure(runs, out_dir, "rates", "Inflation and interest rates", [
        Panel("Inflation", (Var("inflation", "Inflation", percent=True),), "Inflation", zero_line=True),
        Panel("Interest rates", (Var("nominal_rate", "Nominal rate", percent=True),
                                 Var("real_rate", "Real rate", percent=True)),
              "Rate", zero_line=True),
    ])


def plot_inequality(runs, out_dir):
    return timeseries_figure(runs, out_dir, "inequality", "Inequality", [
        Panel("Gini coefficients", (Var("gini_wealth", "Wealth"), Var("gini_income", "Income"),
                                    Var("gini_consumption", "Consumption")), "Gini coefficient"),
        Panel("Wealth shares", (Var("top1_wealth_share", "Top 1%", percent=True),
                                Var("top10_wealth_share", "Top 10%", percent=True),
                                Var("bottom50_wealth_share", "Bottom 50%", percent=True)),
              "Share of total wealth", zero_line=True),
    ])


def plot_capital_ownership(runs, out_dir):
    return timeseries_figure(runs, out_dir, "capital_ownership", "Ownership of capital", [
        Panel("Shares of the capital stock",
              (Var("bottom50_capital_share", "Bottom 50% of households", percent=True),
               Var("top1_capital_share", "Top 1% of households", percent=True),
               Var("dominant_capital_share", "Dominant holder", percent=True)),
              "Share of capital"),
    ])


def plot_debt(runs, out_dir):
    return timeseries_figure(runs, out_dir, "debt_to_gdp", "Government debt", [
        Panel("Government debt / GDP", (Var("debt_to_gdp", "Debt / GDP", percent=True),),
              "Debt / GDP", zero_line=True),
    ])


# ---------------------------------------------------------------------------------------------
# distribution figures

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
    colours = _colours(len(runs))
    panels = []
    missing: dict[str, list[str]] = {}
    for var, name in LORENZ_VARS:
        ok = [i for i, r in enumerate(runs) if _available(r.ds, (var,))]
        for i, r in enumerate(runs):
            if i not in ok:
                missing.setdefault(f"{name} Lorenz curve ({_missing_reason(r.ds, (var,))}):",
                                   []).append(r.label)
        if ok:
            panels.append((var, name, ok))
    if not panels:
        result.notes.append("Not drawn: no run has Lorenz curves (" +
                            ", ".join(v for v, _ in LORENZ_VARS) + ").")
        result.notes.extend(_group_notes(missing, "in run(s)"))
        return result
    result.notes.extend(_group_notes(missing, "missing in run(s)"))

    fig = Figure(figsize=(5.0 * len(panels) + 0.6, 5.2 + (0.35 * np.ceil(len(runs) / 4) if several else 0)),
                 dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    fig.suptitle(result.title, fontsize=13, fontweight="bold")
    snapshots_drawn: dict[str, list[int]] = {}
    for ax, (var, name, ok) in zip(axes, panels):
        _style_axes(ax)
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
        _describe(result, var, f"{name} Lorenz curve", [runs[i].ds[var] for i in ok])
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
    _run_legend(fig, [r.label for r in runs], colours)
    result.png = _save(fig, out_dir / "lorenz.png")
    return result


def plot_consumption_by_decile(runs: Sequence[RunLike], out_dir: Path) -> PlotResult:
    """Mean consumption by wealth decile at each run's last snapshot, runs side by side."""
    var = "consumption_by_wealth_decile"
    result = PlotResult(key="consumption_by_decile", title="Consumption by wealth decile")
    ok = [i for i, r in enumerate(runs) if _available(r.ds, (var,))]
    missing: dict[str, list[str]] = {}
    for i, r in enumerate(runs):
        if i not in ok:
            missing.setdefault(f"Consumption by wealth decile ({_missing_reason(r.ds, (var,))}):",
                               []).append(r.label)
    if not ok:
        result.notes.append(f"Not drawn: no run has '{var}'.")
        result.notes.extend(_group_notes(missing, "in run(s)"))
        return result
    result.notes.extend(_group_notes(missing, "missing in run(s)"))

    several = len(runs) > 1
    colours = _colours(len(runs))
    fig, (ax,) = _new_figure(1, len(runs), height=4.8)
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
    unit = _unit_text([runs[i].ds[var] for i in ok], percent=False)
    result.meta["units"] = {var: unit}
    _describe(result, var, "Consumption by wealth decile", [runs[i].ds[var] for i in ok])
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
    _run_legend(fig, [runs[i].label for i in ok], [colours[i] for i in ok], marker="patch")
    result.png = _save(fig, out_dir / "consumption_by_decile.png")
    return result


ALL_PLOTS = (plot_output, plot_wage, plot_unemployment, plot_rates, plot_inequality, plot_lorenz,
             plot_consumption_by_decile, plot_capital_ownership, plot_debt)


def make_all(runs: Sequence[RunLike], out_dir: Path) -> dict[str, PlotResult]:
    """Every figure of the report, keyed by ``PlotResult.key`` (in report order)."""
    results = {}
    for fn in ALL_PLOTS:
        r = fn(runs, out_dir)
        results[r.key] = r
    return results
