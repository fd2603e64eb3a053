"""``sim report RUN_DIR [RUN_DIR ...]``: plots, a summary table and one self-contained HTML page.

Arguments are run directories written by ``sim run`` (``results.zarr``, ``provenance.json``,
``.hydra/``) or Hydra sweep directories (``multirun.yaml`` and numbered job directories ``0/``,
``1/``, ...), which stand for all their jobs. One run gives a report of that run; several give a
comparison, every figure overlaying all runs.

The library entry point is :func:`build_report`; :func:`main` is the command line. The modules:

* ``command``: :func:`build_report`, :class:`ReportResult` and the command line;
* ``runs``: finding and loading run and sweep directories, labelling runs;
* ``summary``: the summary table (DataFrame, terminal text, HTML);
* ``page``: the HTML page;
* ``figures``: the list of figures; ``timeseries`` and ``distributions`` draw them, on what
  ``drawing`` gives every figure (:class:`PlotResult`, axes, colours, legends).
"""
from sim.report.command import ReportResult, build_report, default_out_dir, main
from sim.report.drawing import PlotResult
from sim.report.runs import ReportError, Run, assign_labels, expand_run_dirs, load_run
from sim.report.summary import summary_table, summary_text

__all__ = ["Run", "ReportResult", "ReportError", "PlotResult", "build_report", "expand_run_dirs",
           "load_run", "assign_labels", "summary_table", "summary_text", "default_out_dir", "main"]
