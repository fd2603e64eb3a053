"""Every figure of ``sim report``, in the order the page shows them.

Each ``plot_*`` function takes the runs (objects with ``label``, ``ds`` (the run's ``results.zarr``
as an :class:`xarray.Dataset`) and ``periods_per_year``) and an output directory, writes one PNG
and returns a :class:`~sim.report.drawing.PlotResult` holding the data actually drawn, so that
tests and notebooks can check a figure without reading pixels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sim.report.distributions import plot_consumption_by_decile, plot_lorenz
from sim.report.drawing import PlotResult, RunLike
from sim.report.timeseries import (plot_capital_ownership, plot_debt, plot_inequality, plot_output,
                                   plot_portfolios, plot_rates, plot_unemployment, plot_wage)

ALL_PLOTS = (plot_output, plot_wage, plot_unemployment, plot_rates, plot_inequality, plot_lorenz,
             plot_consumption_by_decile, plot_capital_ownership, plot_portfolios, plot_debt)


def make_all(runs: Sequence[RunLike], out_dir: Path) -> dict[str, PlotResult]:
    """Every figure of the report, keyed by ``PlotResult.key`` (in report order)."""
    results = {}
    for fn in ALL_PLOTS:
        r = fn(runs, out_dir)
        results[r.key] = r
    return results
