"""The report's summary table: headline figures per run, as a DataFrame, plain text and HTML."""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from sim.report.runs import Run

SUMMARY_COLUMNS = {
    # column: (heading, format kind)
    "output_final_over_start": ("Output, final / start", "ratio"),
    "wage_final_over_start": ("Wage, final / start", "ratio"),
    "peak_unemployment": ("Peak unemployment", "share"),
    "final_gini_wealth": ("Gini of wealth, final", "gini"),
    "final_bottom50_wealth_share": ("Bottom 50% wealth share, final", "share"),
    "final_debt_to_gdp": ("Debt / GDP, final", "share"),
    "max_abs_sfc_residual": ("max |SFC residual|", "sci"),
    "households": ("Households", "int"),
    "periods": ("Periods", "int"),
    "seed": ("Seed", "int"),
    "scenario": ("Scenario", "text"),
}


def _finite(ds: xr.Dataset, var: str) -> np.ndarray:
    if var not in ds.data_vars:
        return np.array([])
    v = np.asarray(ds[var].values, dtype=float).ravel()
    return v[np.isfinite(v)]


def _ratio_last_first(ds: xr.Dataset, var: str) -> float:
    v = _finite(ds, var)
    return float(v[-1] / v[0]) if v.size and v[0] != 0 else math.nan


def _last(ds: xr.Dataset, var: str) -> float:
    v = _finite(ds, var)
    return float(v[-1]) if v.size else math.nan


def summary_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Headline figures per run (index: run label). Missing variables give NaN.

    "Start" and "final" are the first and last finite values of a series; shares are fractions as
    stored in the dataset.
    """
    rows = []
    for r in runs:
        ds = r.ds
        unemp = _finite(ds, "unemployment_rate")
        sfc = _finite(ds, "sfc_residual")
        rows.append({
            "output_final_over_start": _ratio_last_first(ds, "output"),
            "wage_final_over_start": _ratio_last_first(ds, "wage"),
            "peak_unemployment": float(unemp.max()) if unemp.size else math.nan,
            "final_gini_wealth": _last(ds, "gini_wealth"),
            "final_bottom50_wealth_share": _last(ds, "bottom50_wealth_share"),
            "final_debt_to_gdp": _last(ds, "debt_to_gdp"),
            "max_abs_sfc_residual": float(np.abs(sfc).max()) if sfc.size else math.nan,
            "households": r.households,
            "periods": r.periods,
            "seed": r.seed,
            "scenario": r.scenario,
        })
    df = pd.DataFrame(rows, index=pd.Index([r.label for r in runs], name="run"),
                      columns=list(SUMMARY_COLUMNS))
    for c in ("households", "periods", "seed"):
        df[c] = df[c].astype("Int64")
    return df


def _share_scale(runs: Sequence[Run], var: str) -> float:
    """Multiplier to percent: 100 for fractions, 1 when the dataset's units are already percent."""
    for r in runs:
        if var in r.ds.data_vars:
            units = str(r.ds[var].attrs.get("units", "")).lower()
            return 1.0 if ("%" in units or "percent" in units) else 100.0
    return 100.0


def _fmt(value: Any, kind: str, pct: float = 100.0) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "ratio":  # fixed decimals: 1.000 beside 0.998, never 1 beside 0.998
        return f"{value:.3f}"
    if kind == "share":
        return f"{value * pct:.2f}%"
    if kind == "gini":
        return f"{value:.3f}"
    if kind == "sci":
        return f"{value:.1e}"
    if kind == "int":
        return f"{int(value):,}"
    return str(value)


_SHORT = {"output_final_over_start": "output x", "wage_final_over_start": "wage x",
          "peak_unemployment": "peak unemp", "final_gini_wealth": "gini wealth",
          "final_bottom50_wealth_share": "bottom50 w", "final_debt_to_gdp": "debt/GDP",
          "max_abs_sfc_residual": "max|sfc|", "households": "households", "periods": "periods",
          "seed": "seed", "scenario": "scenario"}


def _percent_scales(runs: Sequence[Run]) -> dict[str, float]:
    return {c: _share_scale(runs, v) for c, v in (("peak_unemployment", "unemployment_rate"),
                                                  ("final_bottom50_wealth_share", "bottom50_wealth_share"),
                                                  ("final_debt_to_gdp", "debt_to_gdp"))}


def summary_text(runs: Sequence[Run], summary: pd.DataFrame) -> str:
    """The summary table as aligned plain text (for the terminal); x = final / start."""
    pct = _percent_scales(runs)
    header = ["run"] + [_SHORT[c] for c in SUMMARY_COLUMNS]
    rows = [[str(label)] + [_fmt(row[c], kind, pct.get(c, 100.0)) for c, (_, kind) in SUMMARY_COLUMNS.items()]
            for label, row in summary.iterrows()]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if k in (0, len(header) - 1) else cell.rjust(w)
                       for k, (cell, w) in enumerate(zip(r, widths))).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def _escape(s: Any) -> str:
    return html.escape(str(s), quote=True)


def summary_html(runs: Sequence[Run], summary: pd.DataFrame) -> str:
    """The summary table as an HTML ``<table id="summary">`` with a note on its terms."""
    pct = _percent_scales(runs)
    head = "".join(f"<th>{_escape(h)}</th>" for h, _ in SUMMARY_COLUMNS.values())
    body = []
    for label, row in summary.iterrows():
        cells = "".join(
            f'<td class="{kind}">{_escape(_fmt(row[c], kind, pct.get(c, 100.0)))}</td>'
            for c, (_, kind) in SUMMARY_COLUMNS.items())
        body.append(f'<tr data-run="{_escape(label)}"><td class="label">{_escape(label)}</td>{cells}</tr>')
    return (f'<table id="summary"><thead><tr><th class="label">Run</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>'
            '<p class="meta">Start and final are the first and last periods with data; shares in percent '
            'of the total; SFC residual: largest stock-flow-consistency error over the run.</p>')
