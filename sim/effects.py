"""Effects of a fork's arms: arm minus control, per period, with a band across seeds.

A fork directory (``sim fork --out DIR``) holds one run directory per arm, ``DIR/NAME``, or, when
several parents (seeds) were forked, one such folder per parent, ``DIR/<parent>/NAME``. The
control of a parent is its arm named ``control`` (which must have no overrides) or else the parent
run itself. For each arm a and parent s the effect on variable v is

    d_{a,s,t} = v_{a,s,t} - v_{control,s,t}                 (t = every period; 0 before the fork)

and across the S parents the mean effect and its 95% band (Student t, S - 1 degrees of freedom)

    mean_t = (1/S) sum_s d_{s,t},   half width_t = t_{0.975, S-1} sd_t / sqrt(S),
    sd_t^2 = (1/(S-1)) sum_s (d_{s,t} - mean_t)^2.

With one parent the band is not defined (NaN). Written to ``DIR/effects.zarr`` (variables
``<v>`` on (arm, parent, period) and ``<v>_mean``, ``<v>_low``, ``<v>_high`` on (arm, period)),
``DIR/effects.csv`` (one row per arm, variable and period) and ``DIR/effects.md`` (a table at the
fork period, a year later and the last period).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

from sim import run_lock
from sim.errors import ConfigError
from sim.results import write_store, write_text

# the variables whose effects are written (those present in the runs)
MAIN = ("output", "consumption", "unemployment_rate", "mean_wealth", "median_income", "gini_wealth",
        "bottom50_wealth_share", "poverty_rate", "debt_to_gdp", "ubi_cost", "labour_share")


def _provenance(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "provenance.json").read_text())
    except (OSError, ValueError):
        return {}


def _fork_record(run_dir: Path) -> dict:
    return _provenance(run_dir).get("fork") or {}


def _arms(folder: Path) -> dict[Path, bool]:
    """Every arm ``sim fork`` wrote in ``folder``, and whether it finished: an arm whose economy
    stopped has the periods it reached as results.zarr (sim.coordinator), not a whole run to
    compare."""
    found = {}
    for p in sorted(folder.iterdir()):
        prov = _provenance(p) if p.is_dir() else {}
        if prov.get("fork"):
            found[p] = bool(prov.get("finished")) and (p / "results.zarr").is_dir()
    return found


def _arm_dirs(folder: Path) -> list[Path]:
    """The finished arms in ``folder``."""
    return [p for p, finished in _arms(folder).items() if finished]


def groups(fork_dir: Path) -> dict[str, list[Path]]:
    """{parent label: its arm directories}: DIR/NAME (one parent) or DIR/<parent>/NAME."""
    fork_dir = Path(fork_dir)
    if not fork_dir.is_dir():
        raise ConfigError(f"{fork_dir}: no such fork directory")
    arms = _arm_dirs(fork_dir)
    if arms:
        return {"parent": arms}
    # a parent folder holding arms none of which finished (stopped, unfinished) stays, empty, so
    # that the effects say so rather than drop that parent
    found = {}
    for p in sorted(fork_dir.iterdir()):
        held = _arms(p) if p.is_dir() else {}
        if held:
            found[p.name] = [q for q, finished in held.items() if finished]
    if not any(found.values()):
        raise ConfigError(f"{fork_dir}: no finished arm (no */results.zarr written by `sim fork`)")
    return found


def is_fork_dir(path: Path) -> bool:
    try:
        groups(path)
        return True
    except (ConfigError, OSError):
        return False


def _load(run_dir: Path) -> xr.Dataset:
    from sim.data import load

    return load(run_dir)


def _control(arms: list[Path]) -> tuple[Path, list[Path]]:
    """The control run of one parent and the arms compared with it."""
    named = [a for a in arms if a.name == "control"]
    if named:
        if _fork_record(named[0]).get("overrides"):
            raise ConfigError(f"{named[0]}: the arm named control has overrides; rename it, or fork "
                              "again with a `--arm control` without overrides")
        return named[0], [a for a in arms if a.name != "control"]
    return Path(_fork_record(arms[0])["parent"]), arms


def effects(fork_dir: Path) -> xr.Dataset:
    """The effects dataset (see the module docstring)."""
    per_parent = groups(fork_dir)
    names = None
    diffs: dict[str, list[np.ndarray]] = {}
    attrs = {}
    for label, arms in per_parent.items():
        if not arms:
            raise ConfigError(f"{fork_dir}/{label}: no arm finished there (stopped or unfinished); the "
                              "effects need every parent's")
        control_dir, treated = _control(arms)
        these = [a.name for a in treated]
        if names is None:
            names = these
        elif these != names:
            raise ConfigError(f"{fork_dir}/{label}: arms {these} differ from the other parents' {names} "
                              "(an arm that stopped or is unfinished under one parent counts only under the others)")
        control = _load(control_dir)
        attrs.setdefault("at", _fork_record(arms[0]).get("at"))
        attrs.setdefault("periods_per_year", control.attrs.get("periods_per_year"))
        for arm_dir in treated:
            arm = _load(arm_dir)
            for v in MAIN:
                if v in arm and v in control:
                    diffs.setdefault(v, []).append((arm[v] - control[v]).values)
    if not names:
        raise ConfigError(f"{fork_dir}: no arm besides the control")
    n_arms, n_parents = len(names), len(per_parent)
    periods = np.arange(len(next(iter(diffs.values()))[0]))
    data = {}
    for v, rows in diffs.items():
        d = np.stack(rows).reshape(n_parents, n_arms, -1).transpose(1, 0, 2)  # (arm, parent, period)
        mean, low, high = band(d)
        data[v] = (("arm", "parent", "period"), d, {"long_name": f"effect on {v}: arm minus control"})
        data[f"{v}_mean"] = (("arm", "period"), mean, {"long_name": f"mean effect on {v} across parents"})
        data[f"{v}_low"] = (("arm", "period"), low, {"long_name": "lower end of the 95% band (Student t)"})
        data[f"{v}_high"] = (("arm", "period"), high, {"long_name": "upper end of the 95% band (Student t)"})
    attrs = {k: v for k, v in attrs.items() if v is not None}
    attrs["band"] = "mean +- t(0.975, S-1) sd / sqrt(S) across the S parents"
    return xr.Dataset(data, coords={"arm": names, "parent": list(per_parent), "period": periods}, attrs=attrs)


def band(d: np.ndarray, level: float = 0.95):
    """(mean, low, high) over axis 1 (parents) of d (arm, parent, period): Student-t interval."""
    from scipy import stats

    s = d.shape[1]
    mean = d.mean(axis=1)
    if s < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan
    half = stats.t.ppf(0.5 + level / 2, s - 1) * d.std(axis=1, ddof=1) / math.sqrt(s)
    return mean, mean - half, mean + half


def write_effects(fork_dir: Path) -> Path:
    """Write effects.zarr, effects.csv and effects.md into the fork directory, each whole (a
    temporary, then a rename: a failed write leaves the previous files as they were); the zarr's
    path. One writer at a time holds the directory (``run_lock.hold``: RunLocked otherwise), and
    sweeps the temporaries a writer killed mid-write left."""
    fork_dir = Path(fork_dir)
    ds = effects(fork_dir)
    variables = [v for v in MAIN if v in ds]
    lines = ["arm,variable,period,mean,low,high"]
    for arm in ds.arm.values:
        for v in variables:
            for t in ds.period.values:
                row = [ds[f"{v}_{k}"].sel(arm=arm, period=t).item() for k in ("mean", "low", "high")]
                lines.append(f"{arm},{v},{t}," + ",".join(f"{x:.10g}" for x in row))
    with run_lock.hold(fork_dir, "effects", then=f"sim report {fork_dir}"):
        path = write_store(ds, fork_dir / "effects.zarr")
        write_text(fork_dir / "effects.csv", "\n".join(lines) + "\n")
        write_text(fork_dir / "effects.md", table(ds))
    return path


def table(ds: xr.Dataset) -> str:
    """Markdown: mean effect [95% band] at the fork period, a year later and the last period."""
    at = int(ds.attrs.get("at", 0))
    last = int(ds.period.values[-1])
    ppy = int(ds.attrs.get("periods_per_year", 4))
    periods = sorted({at, min(at + ppy, last), last})
    head = "| arm | variable | " + " | ".join(f"period {t}" for t in periods) + " |"
    lines = [f"Effects (arm minus control; {ds.sizes['parent']} parent(s); "
             "95% band across parents in brackets)", "", head, "|" + "---|" * (2 + len(periods))]
    for arm in ds.arm.values:
        for v in [v for v in MAIN if v in ds]:
            cells = []
            for t in periods:
                m, lo, hi = (ds[f"{v}_{k}"].sel(arm=arm, period=t).item() for k in ("mean", "low", "high"))
                cells.append(f"{m:.4g}" + ("" if math.isnan(lo) else f" [{lo:.4g}, {hi:.4g}]"))
            lines.append(f"| {arm} | {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
