"""``sim report RUN_DIR [RUN_DIR ...]``: plots, a summary table and one self-contained HTML page.

Arguments are run directories written by ``sim run`` (``results.zarr``, ``provenance.json``,
``.hydra/``) or Hydra sweep directories (``multirun.yaml`` and numbered job directories ``0/``,
``1/``, ...), which stand for all their jobs. One run gives a report of that run; several give a
comparison, every figure overlaying all runs.

The library entry point is :func:`build_report`; :func:`main` is the command line.
"""
from __future__ import annotations

import argparse
import base64
import datetime as _dt
import html as _html
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from sim import plots as _plots
from sim.plots import PlotResult

__all__ = ["Run", "ReportResult", "ReportError", "build_report", "expand_run_dirs", "load_run",
           "summary_table", "main"]


class ReportError(Exception):
    """A user-facing problem with the arguments (not a run directory, empty sweep, ...)."""


# ---------------------------------------------------------------------------------------------
# runs


@dataclass
class Run:
    """One run directory, loaded."""

    path: Path
    label: str
    ds: xr.Dataset
    provenance: dict[str, Any]
    overrides: list[str]
    scenario: str | None
    seed: int | None
    households: int | None
    periods_per_year: float | None
    sweep: Path | None = None  # the sweep directory this run is a job of

    @property
    def periods(self) -> int:
        return int(self.ds.sizes.get("period", 0))

    @property
    def command(self) -> str | None:
        cmd = self.provenance.get("command")
        return str(cmd) if cmd else None


@dataclass
class ReportResult:
    """What :func:`build_report` wrote, and the data behind it."""

    out_dir: Path
    runs: list[Run]
    plots: dict[str, PlotResult]
    summary: pd.DataFrame
    summary_csv: Path
    html: Path | None
    notes: list[str] = field(default_factory=list)

    @property
    def pngs(self) -> list[Path]:
        return [p.png for p in self.plots.values() if p.png is not None]

    @property
    def skipped(self) -> dict[str, list[str]]:
        """Figures not drawn, with the reason."""
        return {k: p.notes for k, p in self.plots.items() if p.skipped}


def is_sweep_dir(path: Path) -> bool:
    """A Hydra multirun directory: ``multirun.yaml`` and numbered job directories."""
    return path.is_dir() and (path / "multirun.yaml").is_file() and not (path / "results.zarr").exists()


def _sweep_jobs(path: Path) -> list[Path]:
    jobs = [p for p in path.iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(jobs, key=lambda p: int(p.name))


def expand_run_dirs(paths: Sequence[Path | str]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """Run directories (each with the sweep it belongs to, or None) and notes on left-out jobs.

    A sweep directory expands to its numbered jobs that hold ``results.zarr``; a path to a
    ``results.zarr`` stands for its run directory.
    """
    out: list[tuple[Path, Path | None]] = []
    notes: list[str] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.name == "results.zarr" and p.is_dir():
            p = p.parent
        if not p.exists():
            raise ReportError(f"{p}: no such directory")
        if is_sweep_dir(p):
            jobs = _sweep_jobs(p)
            good = [j for j in jobs if (j / "results.zarr").is_dir()]
            for j in jobs:
                if j not in good:
                    notes.append(f"Sweep job {j} has no results.zarr (failed or unfinished): left out.")
            if not good:
                raise ReportError(f"{p}: a sweep directory without any finished run (no */results.zarr)")
            out.extend((j, p) for j in good)
        elif (p / "results.zarr").is_dir():
            out.append((p, None))
        else:
            raise ReportError(f"{p}: not a run directory (no results.zarr) nor a Hydra sweep directory "
                              "(no multirun.yaml)")
    return out, notes


def sweep_command(sweep: Path) -> str | None:
    """``sim run -m ...`` rebuilt from the sweep's ``multirun.yaml`` (its task overrides)."""
    cfg = _read_yaml(sweep / "multirun.yaml")
    try:
        task = cfg["hydra"]["overrides"]["task"]
    except (TypeError, KeyError):
        return None
    if not isinstance(task, list) or not task:
        return None
    return "sim run -m " + " ".join(str(t) for t in task)


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None


def _find_key(tree: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a nested dict/list (breadth first)."""
    queue = [tree]
    while queue:
        node = queue.pop(0)
        if isinstance(node, dict):
            if key in node and not isinstance(node[key], (dict, list)):
                return node[key]
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
    return None


def _scenario_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return _scenario_name(value.get("name"))
    return str(value)


def _as_int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _as_float(v: Any) -> float | None:
    try:
        f = None if v is None else float(v)
    except (TypeError, ValueError):
        return None
    return f if f is not None and math.isfinite(f) and f > 0 else None


def load_run(path: Path, sweep: Path | None = None) -> Run:
    """Open a run directory (``results.zarr`` is loaded into memory: it holds aggregates only)."""
    try:
        ds = xr.open_zarr(path / "results.zarr").load()
    except Exception as exc:  # zarr/xarray raise many kinds; the user needs the path and the cause
        raise ReportError(f"{path}: cannot read results.zarr ({type(exc).__name__}: {exc})") from exc
    prov: dict[str, Any] = {}
    if (path / "provenance.json").is_file():
        try:
            prov = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            prov = {}
    hydra_cfg = _read_yaml(path / ".hydra" / "config.yaml") or {}
    overrides = _read_yaml(path / ".hydra" / "overrides.yaml") or []
    overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    config = prov.get("config") or hydra_cfg

    scenario = _scenario_name(ds.attrs.get("scenario")) or _scenario_name(
        config.get("scenario") if isinstance(config, dict) else None)
    seed = _as_int(ds.attrs.get("seed", prov.get("seed", config.get("seed") if isinstance(config, dict) else None)))
    households = _as_int(ds.attrs.get("households"))
    if households is None and isinstance(config, dict):
        pop = config.get("population")
        households = _as_int(pop.get("households")) if isinstance(pop, dict) else None
    ppy = _as_float(ds.attrs.get("periods_per_year"))
    if ppy is None:
        ppy = _as_float(_find_key(config, "periods_per_year"))
    return Run(path=path, label=path.name, ds=ds, provenance=prov, overrides=overrides, scenario=scenario,
               seed=seed, households=households, periods_per_year=ppy, sweep=sweep)


def assign_labels(runs: Sequence[Run]) -> None:
    """Label each run by its Hydra overrides, or else its scenario, or else its directory name.

    With several runs, overrides shared by all of them are dropped (they tell nothing apart).
    Duplicate labels get the directory name appended.
    """
    common: set[str] = set()
    if len(runs) > 1:
        common = set(runs[0].overrides).intersection(*(set(r.overrides) for r in runs[1:]))
    for r in runs:
        parts = [o for o in r.overrides if o not in common]
        r.label = " ".join(parts) or r.scenario or r.path.name
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            where = f"{r.sweep.name}/{r.path.name}" if r.sweep is not None else r.path.name
            r.label = f"{r.label} [{where}]"
    # Still equal (same directory given twice): number them.
    counts: dict[str, int] = {}
    for r in runs:
        n = counts.get(r.label, 0)
        counts[r.label] = n + 1
        if n:
            r.label = f"{r.label} #{n + 1}"


# ---------------------------------------------------------------------------------------------
# summary table

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
    if kind == "ratio":
        return f"{value:.3g}"
    if kind == "share":
        return f"{value * pct:.1f}%"
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


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:1.5rem 2rem;color:#1d232a;background:#fff;line-height:1.45}
h1{margin:.2rem 0}h2{border-bottom:2px solid #e3e7ec;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#5b6670;margin:.2rem 0}
table{border-collapse:collapse;font-size:.92rem;margin:.6rem 0}
th,td{border:1px solid #d5dbe1;padding:.3rem .55rem;text-align:right;vertical-align:top}
th{background:#f2f5f8}td.label,th.label,td.text{text-align:left}
td.label{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
figure{margin:1.4rem 0;padding:0}figure img{max-width:100%;height:auto;border:1px solid #eef0f2}
figcaption{color:#3c4650;font-size:.92rem}ul.notes{color:#7a4b00;font-size:.9rem;margin:.3rem 0}
pre.command{background:#f6f8fa;border:1px solid #e1e4e8;padding:.6rem .8rem;overflow-x:auto;
white-space:pre-wrap;word-break:break-all}
dl.prov{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;font-size:.88rem;margin:.3rem 0}
dl.prov dt{color:#5b6670}dl.prov dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace}
footer{margin-top:2.5rem;color:#8a949e;font-size:.8rem}
"""

# Counts the figures that loaded, and those that decoded to real pixels (drawn onto a small canvas
# and read back: not a single colour). The browser test reads the attributes of #page-check.
_SCRIPT = """
(function(){
  function decodedWithContent(img){
    try {
      var w = 240, h = Math.max(1, Math.round(240 * img.naturalHeight / img.naturalWidth));
      var c = document.createElement("canvas"); c.width = w; c.height = h;
      var ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0, w, h);
      var d = ctx.getImageData(0, 0, w, h).data;
      for (var k = 4; k < d.length; k += 4) {
        if (d[k] !== d[0] || d[k + 1] !== d[1] || d[k + 2] !== d[2]) { return true; }
      }
    } catch (e) {}
    return false;
  }
  function check(){
    var imgs = Array.prototype.slice.call(document.images);
    var el = document.getElementById("page-check");
    var ok = imgs.filter(function(i){ return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
    var decoded = ok.filter(decodedWithContent);
    el.setAttribute("data-images-total", imgs.length);
    el.setAttribute("data-images-ok", ok.length);
    el.setAttribute("data-images-decoded", decoded.length);
    el.setAttribute("data-summary-rows", document.querySelectorAll("#summary tbody tr").length);
    el.textContent = "Figures displayed: " + decoded.length + " of " + imgs.length + ".";
  }
  if (document.readyState === "complete") { check(); } else { window.addEventListener("load", check); }
})();
"""


def _e(s: Any) -> str:
    return _html.escape(str(s), quote=True)


def _summary_html(runs: Sequence[Run], summary: pd.DataFrame) -> str:
    pct = _percent_scales(runs)
    head = "".join(f"<th>{_e(h)}</th>" for h, _ in SUMMARY_COLUMNS.values())
    body = []
    for label, row in summary.iterrows():
        cells = "".join(
            f'<td class="{kind}">{_e(_fmt(row[c], kind, pct.get(c, 100.0)))}</td>'
            for c, (_, kind) in SUMMARY_COLUMNS.items())
        body.append(f'<tr data-run="{_e(label)}"><td class="label">{_e(label)}</td>{cells}</tr>')
    return (f'<table id="summary"><thead><tr><th class="label">Run</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>'
            '<p class="meta">Start and final are the first and last periods with data; shares in percent '
            'of the total; SFC residual: largest stock-flow-consistency error over the run.</p>')


def _figure_html(plot: PlotResult) -> str:
    notes = "".join(f"<li>{_e(n)}</li>" for n in plot.notes)
    notes_html = f'<ul class="notes">{notes}</ul>' if notes else ""
    desc = "; ".join(plot.meta.get("descriptions", {}).values())
    desc_html = f'<span class="desc">{_e(desc)}.</span>' if desc else ""
    data = base64.b64encode(plot.png.read_bytes()).decode("ascii")  # type: ignore[union-attr]
    return (f'<figure id="fig-{_e(plot.key)}" class="plot">'
            f'<img alt="{_e(plot.title)}" src="data:image/png;base64,{data}">'
            f'<figcaption><b>{_e(plot.title)}.</b> {desc_html}{notes_html}</figcaption></figure>')


def _provenance_html(run: Run) -> str:
    p = run.provenance
    cmd = run.command or "(no command recorded in provenance.json)"
    items = [("Directory", str(run.path)), ("Package version", p.get("package_version")),
             ("Git revision", p.get("git_revision") or "unknown"), ("Backend", p.get("backend")),
             ("Started", p.get("started")), ("Finished", p.get("finished"))]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items if v is not None)
    return (f'<div class="run-prov"><h3>{_e(run.label)}</h3><pre class="command">{_e(cmd)}</pre>'
            f'<dl class="prov">{dl}</dl></div>')


def write_html(path: Path, runs: Sequence[Run], summary: pd.DataFrame, plots: dict[str, PlotResult],
               notes: Sequence[str]) -> Path:
    """The one-file report: figures embedded as data URIs, no external resources."""
    n = len(runs)
    if n == 1:
        title = f"Simulation report: {runs[0].label}"
    else:
        sweeps = sorted({str(r.sweep) for r in runs if r.sweep is not None})
        title = (f"Sweep comparison: {Path(sweeps[0]).name} ({n} runs)"
                 if len(sweeps) == 1 and all(r.sweep is not None for r in runs)
                 else f"Comparison of {n} runs")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    drawn = [p for p in plots.values() if not p.skipped]
    skipped = [p for p in plots.values() if p.skipped]
    skipped_html = ""
    if skipped or notes:
        items = "".join(f"<li><b>{_e(p.title)}</b>: {_e(' '.join(p.notes))}</li>" for p in skipped)
        items += "".join(f"<li>{_e(n_)}</li>" for n_ in notes)
        skipped_html = f'<section id="skipped"><h2>Not shown</h2><ul class="notes">{items}</ul></section>'
    sweeps_html = ""
    for sw in dict.fromkeys(r.sweep for r in runs if r.sweep is not None):
        cmd = sweep_command(sw)
        if cmd:
            sweeps_html += (f'<div class="sweep-prov"><h3>Sweep {_e(sw)}</h3>'
                            f'<pre class="command sweep">{_e(cmd)}</pre></div>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body>
<header><h1>{_e(title)}</h1>
<p class="meta">Generated {_e(now)} by <code>sim report</code>. {len(drawn)} figures.</p></header>
<section id="summary-section"><h2>Summary</h2>{_summary_html(runs, summary)}</section>
<section id="figures"><h2>Figures</h2>{''.join(_figure_html(p) for p in drawn)}</section>
{skipped_html}
<section id="reproduce"><h2>Reproduce</h2>
{sweeps_html}<p class="meta">Each run was produced by the command below (from its <code>provenance.json</code>).</p>
{''.join(_provenance_html(r) for r in runs)}</section>
<footer><span id="page-check">Figures displayed: (script did not run).</span></footer>
<script>{_SCRIPT}</script>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# entry points


def build_report(run_dirs: Sequence[Path | str], out_dir: Path | str, *, html: bool = True) -> ReportResult:
    """Write the report of one run, or a comparison of several, into ``out_dir``.

    ``run_dirs`` may hold run directories and Hydra sweep directories (expanded to their jobs).
    Writes one PNG per figure, ``summary.csv`` and (unless ``html=False``) ``report.html``.
    Raises :class:`ReportError` for arguments that are not run or sweep directories.
    """
    if not run_dirs:
        raise ReportError("no run directory given")
    out = Path(out_dir)
    expanded, notes = expand_run_dirs(run_dirs)
    runs = [load_run(p, sweep) for p, sweep in expanded]
    assign_labels(runs)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots.make_all(runs, out)
    summary = summary_table(runs)
    csv = out / "summary.csv"
    summary.to_csv(csv)
    page = write_html(out / "report.html", runs, summary, plots, notes) if html else None
    return ReportResult(out_dir=out, runs=runs, plots=plots, summary=summary, summary_csv=csv, html=page,
                        notes=notes)


def default_out_dir(paths: Sequence[Path | str]) -> Path:
    """RUN_DIR/report for one run, SWEEP_DIR/report for one sweep, ./report-compare otherwise."""
    if len(paths) == 1:
        p = Path(paths[0]).expanduser()
        if p.name == "results.zarr":
            p = p.parent
        return p / "report"
    return Path.cwd() / "report-compare"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="sim report",
        description="Plots, a summary table and a self-contained HTML page for one run, a\n"
                    "comparison of several runs, or every run of a Hydra sweep directory.",
        epilog="Examples:\n"
               "  sim report outputs/2026-11-22/10-00-00            one run -> RUN_DIR/report/\n"
               "  sim report runs/base runs/ubi --out cmp           compare two runs -> cmp/\n"
               "  sim report multirun/2026-11-22/10-00-00           a sweep -> SWEEP_DIR/report/\n\n"
               "Writes one PNG per figure, summary.csv and report.html (figures embedded: open it\n"
               "in any browser, no network needed). Variables a run lacks (older runs) are left\n"
               "out of its figures, with a note on the page. Details: docs/report.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", type=Path,
                    help="run directory (holding results.zarr) or Hydra sweep directory (holding "
                         "multirun.yaml and numbered runs 0/, 1/, ...)")
    ap.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="output directory (default: RUN_DIR/report for one run or sweep, "
                         "./report-compare for several)")
    ap.add_argument("--no-html", action="store_true", help="write the PNGs and summary.csv only")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Command line: ``sim report RUN_DIR [RUN_DIR ...] [--out DIR] [--no-html]``."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out if args.out is not None else default_out_dir(args.run_dirs)
    try:
        result = build_report(args.run_dirs, out, html=not args.no_html)
    except ReportError as exc:
        print(f"sim report: error: {exc}", file=sys.stderr)
        return 2
    print(summary_text(result.runs, result.summary))
    for note in result.notes:
        print(f"note: {note}")
    for key, why in result.skipped.items():
        print(f"not drawn: {key}: {' '.join(why)}")
    print(f"{len(result.pngs)} figures and summary.csv in {result.out_dir}")
    if result.html is not None:
        print(f"report: {result.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
