"""The report's one self-contained HTML page: summary, figures as data URIs, provenance."""
from __future__ import annotations

import base64
import datetime
import html
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from sim.report.drawing import PlotResult
from sim.report.runs import Run, sweep_command
from sim.report.summary import summary_html

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


def _escape(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _figure_html(plot: PlotResult) -> str:
    notes = "".join(f"<li>{_escape(n)}</li>" for n in plot.notes)
    notes_html = f'<ul class="notes">{notes}</ul>' if notes else ""
    desc = "; ".join(plot.meta.get("descriptions", {}).values())
    desc_html = f'<span class="desc">{_escape(desc)}.</span>' if desc else ""
    data = base64.b64encode(plot.png.read_bytes()).decode("ascii")  # type: ignore[union-attr]
    return (f'<figure id="fig-{_escape(plot.key)}" class="plot">'
            f'<img alt="{_escape(plot.title)}" src="data:image/png;base64,{data}">'
            f'<figcaption><b>{_escape(plot.title)}.</b> {desc_html}{notes_html}</figcaption></figure>')


def _provenance_html(run: Run) -> str:
    p = run.provenance
    cmd = run.command or "(no command recorded in provenance.json)"
    items = [("Directory", str(run.path)), ("Package version", p.get("package_version")),
             ("Git revision", p.get("git_revision") or "unknown"), ("Backend", p.get("backend")),
             ("Started", p.get("started")), ("Finished", p.get("finished")),
             ("Stopped", (f"at period {p['stopped']['period']}: {p['stopped']['reason']}"  # sim.coordinator
                          if p.get("stopped") else None))]
    dl = "".join(f"<dt>{_escape(k)}</dt><dd>{_escape(v)}</dd>" for k, v in items if v is not None)
    return (f'<div class="run-prov"><h3>{_escape(run.label)}</h3><pre class="command">{_escape(cmd)}</pre>'
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
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    drawn = [p for p in plots.values() if not p.skipped]
    skipped = [p for p in plots.values() if p.skipped]
    skipped_html = ""
    if skipped or notes:
        items = "".join(f"<li><b>{_escape(p.title)}</b>: {_escape(' '.join(p.notes))}</li>" for p in skipped)
        items += "".join(f"<li>{_escape(n_)}</li>" for n_ in notes)
        skipped_html = f'<section id="skipped"><h2>Not shown</h2><ul class="notes">{items}</ul></section>'
    sweeps_html = ""
    for sw in dict.fromkeys(r.sweep for r in runs if r.sweep is not None):
        cmd = sweep_command(sw)
        if cmd:
            sweeps_html += (f'<div class="sweep-prov"><h3>Sweep {_escape(sw)}</h3>'
                            f'<pre class="command sweep">{_escape(cmd)}</pre></div>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)}</title><style>{_CSS}</style></head>
<body>
<header><h1>{_escape(title)}</h1>
<p class="meta">Generated {_escape(now)} by <code>sim report</code>. {len(drawn)} figures.</p></header>
<section id="summary-section"><h2>Summary</h2>{summary_html(runs, summary)}</section>
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
