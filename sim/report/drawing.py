"""What every figure of ``sim report`` shares: the :class:`PlotResult` it returns, the variables
and panels it draws, and the axes, colours, legends and notes they are drawn with.

Conventions (all figures):

* Data in a :class:`PlotResult` are the dataset's own values, unscaled. Shares and rates that the
  dataset stores as fractions are shown in percent by the axis tick formatter only.
* The time axis is in years (``period / periods_per_year``) when every run states
  ``periods_per_year``; otherwise in periods. Series are indexed by that axis.
* With one run, colour tells the variables apart; with several, colour is the run and the line
  style is the variable.
* A figure whose variables are absent from every run is not drawn (``PlotResult.png is None``) and
  says why in ``notes``; a variable absent from only some runs is drawn for the others and noted.

Only :class:`matplotlib.figure.Figure` is used (no ``pyplot``): no global backend is selected and no
figure is left open, so the report is safe to build inside notebooks and long-lived processes.
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
    #: Runs that differ only by seed, drawn as a mean with a min-max band: variable -> group label
    #: -> DataFrame with columns mean, min, max (indexed like ``data``).
    bands: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.png is None



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


def available(ds: xr.Dataset, names: Sequence[str]) -> bool:
    """True when every variable exists and has at least one finite value."""
    for n in names:
        if n not in ds.data_vars:
            return False
        v = np.asarray(ds[n].values, dtype=float)
        if not np.isfinite(v).any():
            return False
    return True


def missing_reason(ds: xr.Dataset, names: Sequence[str]) -> str:
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


def period_values(ds: xr.Dataset, dim: str = "period") -> np.ndarray:
    if dim in ds.coords:
        return np.asarray(ds[dim].values, dtype=float)
    return np.arange(ds.sizes[dim], dtype=float)


def percent_scale(da: xr.DataArray) -> float:
    """The ``xmax`` of a PercentFormatter: 1 for fractions, 100 when units already are percent."""
    units = str(da.attrs.get("units", "")).lower()
    return 100.0 if ("%" in units or "percent" in units) else 1.0


PERIOD_NAMES = {1.0: "year", 2.0: "half-year", 4.0: "quarter", 12.0: "month", 52.0: "week"}


def period_name(periods_per_year: float | None) -> str:
    """What one simulation period is called: 'quarter' for 4 a year, else 'period'."""
    return PERIOD_NAMES.get(float(periods_per_year), "period") if periods_per_year else "period"


def plain_units(units: str, periods_per_year: float | None = None) -> str:
    """Units for an axis label: pint's '/' read as 'per', and 'period' named by its length.

    'goods / period' -> 'goods per quarter' (4 periods a year); '1 / period' -> 'per quarter';
    'goods per period' (older runs) likewise; '1' or 'fraction' -> ''.
    """
    text = " ".join(units.replace("/", " per ").replace("_", " ").split())
    if text.startswith("1 per "):
        text = text[2:]
    words = [period_name(periods_per_year) if w == "period" else w for w in text.split(" ")]
    text = " ".join(words)
    return "" if text in ("", "1", "dimensionless", "fraction", "ratio", "index", "relative") else text


def _per_what(units: str) -> str:
    """' per year' from 'fraction per year' (the time basis), '' when the units name none."""
    i = units.find("per ")
    return " " + units[i:] if i >= 0 else ""


def unit_text(run_das: list[xr.DataArray], percent: bool, periods_per_year: float | None = None) -> str:
    """The axis-label units of a plotted variable; a percent keeps the time basis ('% per quarter')."""
    units = ""
    for da in run_das:
        units = str(da.attrs.get("units", "")).strip()
        if units:
            break
    text = plain_units(units, periods_per_year)
    if percent:
        return "%" + _per_what(text)
    return text


def describe(result: PlotResult, name: str, label: str, das: Sequence[xr.DataArray]) -> None:
    """Record the dataset's description of a plotted variable (shown under the figure)."""
    for da in das:
        desc = str(da.attrs.get("description", "")).strip()
        if desc:
            result.meta.setdefault("descriptions", {})[name] = f"{label}: {desc}"
            return


def shorten(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _seed_free(run) -> tuple:
    overrides = getattr(run, "overrides", None) or []
    return tuple(sorted(o for o in overrides if not o.lstrip("+~").startswith("seed=")))


def seed_groups(runs: Sequence[RunLike]) -> list[tuple[str, list[int]]]:
    """Runs that differ only by seed, grouped: [(label, run indices)], in first-run order.

    Two runs are one scenario when their scenario, periods per year and Hydra overrides other than
    ``seed=`` agree and their seeds differ. A group of one keeps its run's label; a larger group is
    labelled by what its runs share and how many seeds it averages.
    """
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        key = (getattr(run, "scenario", None), run.periods_per_year, _seed_free(run))
        groups.setdefault(key, []).append(i)
    out = []
    for key, members in groups.items():
        seeds = {getattr(runs[i], "seed", None) for i in members}
        if len(members) > 1 and len(seeds) == len(members) and None not in seeds:
            name = " ".join(w for w in runs[members[0]].label.split(" ") if not w.startswith("seed="))
            name = name.split(" [")[0].strip() or key[0] or "runs"
            out.append((f"{name} (mean of {len(members)} seeds, min-max band)", members))
        else:
            out.extend((runs[i].label, [i]) for i in members)
    return sorted(out, key=lambda item: min(item[1]))


def palette(n: int) -> list:
    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.92, n)]


def style_axes(ax) -> None:
    ax.grid(True, color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def new_figure(n_panels: int, n_runs: int, height: float = 4.6) -> tuple[Figure, list]:
    width = {1: 8.5, 2: 13.0, 3: 16.0}.get(n_panels, 5.2 * n_panels)
    extra = 0.0 if n_runs <= 1 else 0.35 * int(np.ceil(n_runs / _legend_columns_guess(n_runs)))
    fig = Figure(figsize=(width, height + extra), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax in axes:
        style_axes(ax)
    return fig, list(axes)


def _legend_columns_guess(n_runs: int) -> int:
    return max(1, min(n_runs, 4))


def _legend_columns(labels: Sequence[str]) -> int:
    longest = max((len(s) for s in labels), default=0)
    cap = 1 if longest > 60 else 2 if longest > 35 else 3 if longest > 22 else 4
    return max(1, min(len(labels), cap))


def run_legend(fig: Figure, labels: Sequence[str], colours: Sequence, marker: str | None = None) -> None:
    """One legend for the runs, below the panels (several runs only)."""
    if len(labels) <= 1:
        return
    if marker == "patch":
        handles = [Patch(facecolor=c, label=lab) for lab, c in zip(labels, colours)]
    else:
        handles = [Line2D([], [], color=c, linewidth=2.2, label=lab) for lab, c in zip(labels, colours)]
    fig.legend(handles=handles, loc="outside lower center", ncols=_legend_columns(labels), frameon=False,
               fontsize=9, title="Runs", title_fontsize=9)


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")
    return path


def group_notes(missing: dict[str, list[str]], what: str) -> list[str]:
    """'Variable x: not in runs a, b' lines from {reason-key: [run labels]}."""
    return [f"{key} {what} {', '.join(repr(r) for r in runs)}." for key, runs in missing.items()]
