"""``sim report``'s entry points: :func:`build_report` (the library call) and :func:`main`."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from sim.report.drawing import PlotResult
from sim.report.figures import make_all
from sim.report.page import write_html
from sim.report.runs import Run, ReportError, assign_labels, expand_run_dirs, load_run
from sim.report.summary import summary_table, summary_text

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
    notes += [f"{r.label} stopped at period {r.provenance['stopped']['period']}: its results end there "
              f"({r.provenance['stopped']['reason']})." for r in runs if r.provenance.get("stopped")]
    out.mkdir(parents=True, exist_ok=True)
    plots = make_all(runs, out)
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
    if out.exists() and not out.is_dir():
        print(f"sim report: error: --out {out} is a file, not a directory: name a directory "
              "(it is created if missing)", file=sys.stderr)
        return 2
    if len(args.run_dirs) == 1 and _is_fork(args.run_dirs[0]):
        return _fork_report(Path(args.run_dirs[0]), Path(out))
    try:
        result = build_report(args.run_dirs, out, html=not args.no_html)
    except ReportError as exc:
        print(f"sim report: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # --out not writable, a full disk
        print(f"sim report: error: cannot write {exc.filename or out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(summary_text(result.runs, result.summary))
    for note in result.notes:
        print(f"note: {note}")
    for key, why in result.skipped.items():
        print(f"not drawn: {key}: {' '.join(why)}")
    print(f"{len(result.pngs)} figures and summary.csv in {result.out_dir}")
    if result.html is not None:
        print(f"report: {result.html}")
    return 0



def _is_fork(path) -> bool:
    from sim.effects import is_fork_dir

    return is_fork_dir(Path(path))


def _fork_report(fork_dir: Path, out: Path) -> int:
    """A fork directory (``sim fork --out``): the effects table and the effect-path figure."""
    from sim.effects import write_effects
    from sim.errors import RunLocked
    from sim.report.effects import plot_effects

    try:
        write_effects(fork_dir)
    except RunLocked as exc:
        print(f"sim report: error: {exc}", file=sys.stderr)
        return 1
    print((fork_dir / "effects.md").read_text())
    result = plot_effects(fork_dir, out)
    print(f"figure: {result.png}\neffects: {fork_dir / 'effects.zarr'}")
    return 0
