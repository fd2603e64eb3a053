"""Simulated moments of one candidate run, measured after a burn-in.

The economy starts from an exponential wealth distribution (``population.initial_wealth_mean``; the
calibration's default ``population.initial_wealth``) far from its own stationary one, so the first
``burn_in`` periods are discarded. Over the window
W = {burn_in, ..., periods - 1}:

  lorenz_p        the mean over the distribution snapshots in W of the wealth Lorenz curve at p
                  (results.zarr ``lorenz_wealth``; the last period is always a snapshot);
  top10_share,
  top1_share      the mean over W of ``top10_wealth_share`` / ``top1_wealth_share``
                  (their sketch-error bounds ride along in the record);
  capital_output  sum_W K / (ppy sum_W Y): capital over annual output, in years (``capital`` is
                  written by the classical and demand closures only);
  participation_rate  the mean over W of ``participation_rate`` (households holding equity),
                  where the results hold it;
  expected_premium  ppy x the mean over W of E_t[R] - R_f,t (``expected_equity_return`` + 1 -
                  ``return_safe``): the households' expected excess return on equity, per year
                  (the priced market's; the value market writes no expected return);
  real_safe_rate  ppy x the mean over W of R_f,t - 1 (``return_safe``): the real return on the
                  safe asset, per year (issue 13's baseline criterion measures it the same way).

A moment whose variables are not in the results is None, with a note saying which output it needs.
"""
from __future__ import annotations

import numpy as np

from sim.calibrate.targets import LORENZ

# moment -> the results variables it is computed from
NEEDS: dict[str, tuple[str, ...]] = {
    **{name: ("lorenz_wealth",) for name in LORENZ},
    "top10_share": ("top10_wealth_share",),
    "top1_share": ("top1_wealth_share",),
    "capital_output": ("capital", "output"),
    "participation_rate": ("participation_rate",),
    "expected_premium": ("expected_equity_return", "return_safe"),
    "real_safe_rate": ("return_safe",),
}


def window(ds, burn_in: int) -> np.ndarray:
    """Mask of the periods in the measurement window (period >= burn_in)."""
    return ds["period"].values >= burn_in


def moments(ds, burn_in: int) -> tuple[dict[str, float | None], dict[str, str], dict]:
    """(moments, notes, extra) of a run's results ``ds`` (sim.load) after ``burn_in`` periods.

    ``extra`` holds the mean Lorenz curve over the window (``quantile``, ``lorenz``) for the plot
    and the sketch bounds of the top shares."""
    periods = int(ds.sizes["period"])
    if not 0 <= burn_in < periods:
        raise ValueError(f"burn_in {burn_in} must lie in 0 .. {periods - 1} (the run's periods)")
    mask = window(ds, burn_in)
    out: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    missing = {name: [v for v in need if v not in ds.variables] for name, need in NEEDS.items()}
    for name, lacking in missing.items():
        if lacking:
            out[name] = None
            notes[name] = f"skipped: the results have no {', '.join(lacking)}"
    extra: dict = {}
    if not missing["lorenz_20"]:
        snaps = ds["snapshot"].values >= burn_in
        quantile = ds["quantile"].values
        curve = ds["lorenz_wealth"].values[snaps].mean(axis=0)
        extra.update(quantile=quantile.tolist(), lorenz=curve.tolist(), snapshots=int(snaps.sum()))
        for name, p in LORENZ.items():
            out[name] = float(np.interp(p, quantile, curve))
    for name, var in (("top10_share", "top10_wealth_share"), ("top1_share", "top1_wealth_share")):
        if not missing[name]:
            out[name] = float(ds[var].values[mask].mean())
            if f"{var}_bound" in ds.variables:
                extra[f"{name}_bound"] = float(ds[f"{var}_bound"].values[mask].max())
    ppy = float(ds.attrs.get("periods_per_year", 4))
    if not missing["capital_output"]:
        out["capital_output"] = float(ds["capital"].values[mask].sum()
                                      / (ppy * ds["output"].values[mask].sum()))
    if not missing["participation_rate"]:
        out["participation_rate"] = float(ds["participation_rate"].values[mask].mean())
    if not missing["expected_premium"]:
        excess = ds["expected_equity_return"].values[mask] + 1.0 - ds["return_safe"].values[mask]
        out["expected_premium"] = float(ppy * excess.mean())
    if not missing["real_safe_rate"]:
        out["real_safe_rate"] = float(ppy * (ds["return_safe"].values[mask] - 1.0).mean())
    return out, notes, extra
