"""The report's time-series figures: panels of series over time, every run overlaid.

:func:`timeseries_figure` is the engine; each ``plot_*`` function names its panels and variables.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from sim.report.drawing import (LINESTYLES, Panel, PlotResult, RunLike, Var, available, describe,
                                group_notes, missing_reason, new_figure, palette, percent_scale,
                                period_values, run_legend, save, seed_groups, shorten, time_axis,
                                unit_text)


def timeseries_figure(runs: Sequence[RunLike], out_dir: Path, key: str, title: str,
                      panels: Sequence[Panel]) -> PlotResult:
    """Panels of time series, every run overlaid. The generic engine of most figures."""
    result = PlotResult(key=key, title=title)
    xlabel, index_name, divisors = time_axis(runs)
    result.meta["time_axis"] = index_name
    groups = seed_groups(runs)  # runs that differ only by seed: one mean line and a band
    labels = [label for label, _ in groups]
    colours = palette(len(groups))
    several = len(groups) > 1
    averaged = [label for label, members in groups if len(members) > 1]
    if averaged:
        result.notes.append("Runs that differ only by seed are drawn as their mean with a min-max band: "
                            + "; ".join(averaged) + ".")

    # Which (panel, var, run) can be drawn.
    drawable: list[tuple[Panel, list[tuple[Var, list[int]]]]] = []
    missing: dict[str, list[str]] = {}
    for panel in panels:
        pv = []
        for var in panel.vars:
            ok = []
            for i, run in enumerate(runs):
                if available(run.ds, var.required()):
                    ok.append(i)
                else:
                    missing.setdefault(f"{var.label} ({missing_reason(run.ds, var.required())}):",
                                       []).append(run.label)
            if ok:
                pv.append((var, ok))
        if pv:
            drawable.append((panel, pv))

    if not drawable:
        names = sorted({n for p in panels for v in p.vars for n in v.required()})
        result.notes.append(f"Not drawn: no run has data for {', '.join(names)}.")
        result.notes.extend(group_notes(missing, "in run(s)"))
        return result
    dropped = [p.title for p in panels if p.title not in {d[0].title for d in drawable}]
    if dropped:
        result.notes.append("Panel(s) left out for lack of data: " + ", ".join(dropped) + ".")
    result.notes.extend(group_notes(missing, "missing in run(s)"))

    fig, axes = new_figure(len(drawable), len(runs))
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
                x = period_values(run.ds) / divisors[i]
                y = np.asarray(da.values, dtype=float)
                series[run.label] = pd.Series(y, index=pd.Index(x, name=index_name), name=run.label)
                all_vals.append(y[np.isfinite(y)])
            for g, (group_label, members) in enumerate(groups):
                drawn = [runs[i].label for i in members if i in ok]
                if not drawn:
                    continue
                colour = colours[g] if several else palette(max(len(pvars), 1))[j]
                style = LINESTYLES[j % len(LINESTYLES)]
                label = None if several else var.label
                if len(drawn) == 1:
                    line = series[drawn[0]]
                    ax.plot(line.index, line.values, color=colour, linestyle=style, linewidth=1.8, label=label)
                    continue
                members_df = pd.concat([series[lab] for lab in drawn], axis=1)
                band = pd.DataFrame({"mean": members_df.mean(axis=1), "min": members_df.min(axis=1),
                                     "max": members_df.max(axis=1)})
                result.bands.setdefault(var.name, {})[group_label] = band
                ax.fill_between(band.index, band["min"], band["max"], color=colour, alpha=0.2, linewidth=0)
                ax.plot(band.index, band["mean"], color=colour, linestyle=style, linewidth=1.8, label=label)
            df = pd.concat(series, axis=1)
            df.columns.name = "run"
            result.data[var.name] = df
            if var.percent:
                pct_xmax = percent_scale(das[0])
            unit = unit_text(das, var.percent, runs[ok[0]].periods_per_year)
            result.meta.setdefault("units", {})[var.name] = unit
            describe(result, var.name, var.label, das)
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
            text = "\n".join(shorten(f"no {lab.lower()} in: " + ", ".join(who)) for lab, who in absent)
            ax.text(0.99, 0.01, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                    color="0.35", style="italic")
        if not several and len(pvars) > 1:
            ax.legend(frameon=False, fontsize=9)
        elif several and len(pvars) > 1:
            ax.legend(handles=[Line2D([], [], color="0.3", linestyle=LINESTYLES[j % len(LINESTYLES)],
                                      label=v.label) for j, (v, _) in enumerate(pvars)],
                      frameon=False, fontsize=9)
    result.meta["log_y"] = log_panels
    run_legend(fig, labels, colours)
    result.png = save(fig, out_dir / f"{key}.png")
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


def _safe_share(ds: xr.Dataset) -> xr.DataArray:
    safe = ds["household_safe_assets"] / (ds["household_safe_assets"] + ds["household_risky_assets"])
    safe.attrs = {"units": "fraction", "description": "households' safe assets / their financial wealth"}
    return safe


def plot_portfolios(runs, out_dir):
    # the equity price exists only where a market prices equity (market=priced); its panel is
    # left out, with a note, for the value market's runs
    return timeseries_figure(runs, out_dir, "portfolios", "Households' portfolios and the equity market", [
        Panel("Who holds what",
              (Var("participation_rate", "Households holding equity", percent=True),
               Var("safe_share", "Safe share of their financial wealth", percent=True, compute=_safe_share,
                   needs=("household_safe_assets", "household_risky_assets"))),
              "Share", zero_line=True),
        Panel("Equity price", (Var("equity_price", "Price per share"),), "Price", logy="auto"),
    ])


def plot_debt(runs, out_dir):
    # the tax rates in force show the financing rule at work (its surcharge, and where the policy
    # rate sat at its bound, the escape clause's easing: docs/economy.md, "Financing rules")
    return timeseries_figure(runs, out_dir, "debt_to_gdp", "Government debt and taxes", [
        Panel("Government debt / GDP", (Var("debt_to_gdp", "Debt / GDP", percent=True),),
              "Debt / GDP", zero_line=True),
        Panel("Tax rates in force", (Var("tax_labour_rate", "Labour income tax", percent=True),
                                     Var("tax_capital_rate", "Capital income tax", percent=True)),
              "Tax rate", zero_line=True),
    ])
