"""``sim report FORK_DIR``: effect paths of a fork's arms (arm minus control) with their 95% band
across parents (sim/effects.py computes them; this module draws one figure)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sim.report.drawing import PlotResult

SHOWN = ("consumption", "output", "mean_wealth", "gini_wealth")


def plot_effects(fork_dir: Path, out_dir: Path) -> PlotResult:
    """One panel per variable of SHOWN: the mean effect of each arm per period, its band shaded,
    the fork period marked. ``data``: variable -> DataFrame (columns arm, arm_low, arm_high)."""
    from sim.effects import effects

    ds = effects(Path(fork_dir))
    shown = [v for v in SHOWN if f"{v}_mean" in ds]
    fig = Figure(figsize=(4.0 * len(shown), 3.2), constrained_layout=True)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    data = {}
    for ax, v in zip(axes, shown):
        frame = {}
        for arm in ds.arm.values:
            mean = ds[f"{v}_mean"].sel(arm=arm).values
            low, high = ds[f"{v}_low"].sel(arm=arm).values, ds[f"{v}_high"].sel(arm=arm).values
            line, = ax.plot(ds.period.values, mean, label=str(arm))
            ax.fill_between(ds.period.values, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
            frame.update({str(arm): mean, f"{arm}_low": low, f"{arm}_high": high})
        data[v] = pd.DataFrame(frame, index=pd.Index(ds.period.values, name="period"))
        ax.axvline(int(ds.attrs.get("at", 0)), color="0.5", linestyle=":", linewidth=1)
        ax.axhline(0.0, color="0.7", linewidth=0.8)
        ax.set_title(f"effect on {v}", fontsize=10)
        ax.set_xlabel("period")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"arm minus control, mean and 95% band across {ds.sizes['parent']} parent(s)", fontsize=10)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "effects.png"
    fig.savefig(png, dpi=110)
    return PlotResult(key="effects", title="Effects of the fork's arms", png=png, data=data,
                      meta={"at": ds.attrs.get("at"), "parents": ds.sizes["parent"]})
