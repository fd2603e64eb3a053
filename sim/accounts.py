"""Combining shard partials into economy-wide totals, and the household-side statistics of a period.

Partials arrive per block; they are stacked in global block order and summed, so the totals are
bit-identical whatever the number of shards (docs/design.md, "The data path of one period").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import schema as S
from kernels.step_numpy import Partials
from sim import distribution as D


SFC_TOLERANCE = 1e-9  # largest stock-flow residual a period may leave, as a share of its output


class AccountingError(RuntimeError):
    """A stock-flow consistency violation: a bug, never a warning."""


def check_closed(t: int, row: dict) -> None:
    """Raise ``AccountingError`` if period ``t``'s accounts do not close (``sfc_residual``, the
    largest identity residual over output, above ``SFC_TOLERANCE``; NaN fails too)."""
    if not row["sfc_residual"] <= SFC_TOLERANCE:
        raise AccountingError(f"period {t}: stock-flow residual {row['sfc_residual']:.3e} of "
                              f"output exceeds {SFC_TOLERANCE:g}")


@dataclass(frozen=True)
class Totals:
    """Economy-wide household totals of one period."""

    agg: dict[str, float]  # AGGREGATES name -> sum over all households
    wealth: D.Sketch  # by end-of-period wealth
    income: D.Sketch  # by disposable income
    consumption: D.Sketch  # by consumption
    risky_by_wealth: np.ndarray  # (N_BINS,) risky holdings summed per wealth bin
    consumption_by_wealth: np.ndarray  # (N_BINS,) consumption summed per wealth bin

    def __getitem__(self, name: str) -> float:
        return self.agg[name]


def combine(partials: list[Partials]) -> Totals:
    """Sum partials given in global block order (shards sorted by first household)."""
    agg = np.concatenate([p.aggregates for p in partials]).sum(axis=0)
    hist = np.concatenate([p.histograms for p in partials]).sum(axis=0)
    ext = np.concatenate([p.extrema for p in partials])
    mins, maxs = ext.min(axis=0), ext.max(axis=0)

    def sketch(count_row, sum_row, lo_col, hi_col):
        return D.Sketch.from_histogram(hist[count_row], hist[sum_row], mins[lo_col], maxs[hi_col])

    return Totals(
        agg={name: float(agg[i]) for name, i in S.AGGREGATES.items()},
        wealth=sketch(S.H_WEALTH_COUNT, S.H_WEALTH_SUM, S.X_WEALTH_MIN, S.X_WEALTH_MAX),
        income=sketch(S.H_INCOME_COUNT, S.H_INCOME_SUM, S.X_INCOME_MIN, S.X_INCOME_MAX),
        consumption=sketch(S.H_CONSUMPTION_COUNT, S.H_CONSUMPTION_SUM,
                           S.X_CONSUMPTION_MIN, S.X_CONSUMPTION_MAX),
        risky_by_wealth=hist[S.H_WEALTH_RISKY],
        consumption_by_wealth=hist[S.H_WEALTH_CONSUMPTION],
    )


def household_budget_residual(t: Totals) -> float:
    """Aggregate household budget identity, which the kernels satisfy household by household:
    sum(b' + k') - sum(b + k) = sum(disposable income) + revaluations - (1 + tau_c + f) C.
    Returns LHS - RHS.
    """
    change = (t["safe_end"] + t["risky_end"]) - (t["safe_begin"] + t["risky_begin"])
    spending = t["consumption"] + t["consumption_tax"] + t["fees"]
    return change - ((t["income"] + t["revaluation"]) - spending)


def poverty_reference(previous: float | None, t: Totals, weight: float) -> float:
    """The income the poverty line is a share of (``output.poverty_share``; goods per period):
    an exponentially weighted mean of the median disposable income (capital gains excluded, as
    the kernels measure income), M_t = M_t-1 + weight (median_t - M_t-1), M_0 = median_0.

    The at-risk-of-poverty line of Eurostat and the OECD is a share (60 %, 50 %) of the median
    equivalised disposable income of a year; a quarter's median swings with the equity payout,
    so a line set from last quarter's median moved the poverty rate between 0.3 % and 98 %.
    Smoothing (weight 0.1 per quarter: a mean over about 2.5 years) keeps the line's relative
    definition while following growth, as Eurostat's line follows a yearly income.
    """
    median = D.quantile(t.income, 0.5)
    return median if previous is None else previous + weight * (median - previous)


def distribution_row(t: Totals) -> dict[str, float]:
    """Per-period distribution statistics (value and error bound where the value is estimated)."""
    n = t["households"]
    row: dict[str, float] = {}
    for name, sk in (("wealth", t.wealth), ("income", t.income), ("consumption", t.consumption)):
        g = D.gini(sk)
        row[f"gini_{name}"], row[f"gini_{name}_bound"] = g.value, g.bound
    # Shares of household risky capital are 0 (exactly) when households hold none (e.g. the
    # classical closure, where all wealth is one safe claim on capital).
    no_risky = not t.risky_by_wealth.sum() > 0
    nothing = D.Estimate(0.0, 0.0)
    for name, est in (
        ("top1_wealth_share", D.top_share(t.wealth, 0.01)),
        ("top10_wealth_share", D.top_share(t.wealth, 0.10)),
        ("bottom50_wealth_share", D.bottom_share(t.wealth, 0.50)),
        ("bottom50_capital_share",
         nothing if no_risky else D.bottom_share(t.wealth, 0.50, t.risky_by_wealth)),
        ("bottom50_consumption_share", D.bottom_share(t.wealth, 0.50, t.consumption_by_wealth)),
        ("top1_capital_share", nothing if no_risky else D.top_share(t.wealth, 0.01, t.risky_by_wealth)),
    ):
        row[name], row[f"{name}_bound"] = est.value, est.bound
    row["poverty_rate"] = t["poor"] / n
    row["median_income"] = D.quantile(t.income, 0.5)
    row.update(treatment_row(t))
    return row


def treatment_row(t: Totals) -> dict[str, float]:
    """The sums ``sim experiment mpc`` reads (sim/experiment.py): households treated by a one-off
    transfer and their consumption, the sums of squared consumption (per-household variances), and
    household spending C (1 + tau_c + f), consumption at consumer prices. Zero treated in a run
    without a transfer."""
    return {name: t[name] for name in ("treated", "treated_consumption", "consumption_squared",
                                       "treated_consumption_squared")} | {
        "household_spending": t["consumption"] + t["consumption_tax"] + t["fees"]}


def snapshot(t: Totals, quantiles: np.ndarray) -> dict[str, np.ndarray]:
    """Lorenz curves and mean consumption by wealth decile at one period."""
    return {
        "lorenz_wealth": D.lorenz_curve(t.wealth, quantiles),
        "lorenz_income": D.lorenz_curve(t.income, quantiles),
        "lorenz_consumption": D.lorenz_curve(t.consumption, quantiles),
        "consumption_by_wealth_decile": D.group_means(t.wealth, t.consumption_by_wealth, 10),
    }
