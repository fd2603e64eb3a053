"""What ``sim calibrate`` leaves behind: the fit table (printed, CSV, Markdown), the Lorenz plot,
best.json, and the config group ``calibration/<name>.yaml`` that ``sim run calibration=<name>``
applies on top of the scenario."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from sim.calibrate.targets import LORENZ, TARGETS, Row, fit_rows

COLUMNS = ("target", "data", "model", "weight", "contribution", "note")


def rows_of(entry: dict, weights: dict[str, float]) -> list[Row]:
    return fit_rows(entry.get("moments", {}), weights, entry.get("notes", {}))


def _cells(row: Row) -> list[str]:
    def num(v):
        return "n/a" if v is None else f"{v:.6g}"

    return [row.target, num(row.data), num(row.model), f"{row.weight:g}", num(row.contribution), row.note]


def table_text(rows: list[Row]) -> str:
    """The fit table as aligned text; the last line is the loss."""
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(COLUMNS))).rstrip() for c in cells]
    total = sum(r.contribution for r in rows if r.contribution is not None)
    return "\n".join(lines + [f"loss (sum of contributions): {total:.6g}"])


def table_markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " | source |", "|" + "---|" * (len(COLUMNS) + 1)]
    for r in rows:
        lines.append("| " + " | ".join(_cells(r)) + f" | {TARGETS[r.target].source} |")
    return "\n".join(lines) + "\n"


def write_table(rows: list[Row], out: Path) -> None:
    with open(out / "fit_table.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, "source"])
        for r in rows:
            writer.writerow([r.target, r.data, "" if r.model is None else r.model, r.weight,
                             "" if r.contribution is None else r.contribution, r.note, TARGETS[r.target].source])
    (out / "fit_table.md").write_text(table_markdown(rows), encoding="utf-8")


def lorenz_plot(entry: dict, out: Path, title: str) -> Path | None:
    """lorenz.png: the best candidate's wealth Lorenz curve (mean over the window's snapshots)
    against the SCF points; None when the results had no Lorenz curve."""
    extra = entry.get("extra") or {}
    if "lorenz" not in extra:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, label="equality")
    ax.plot(extra["quantile"], extra["lorenz"], lw=1.8, label="model (best candidate)")
    ax.plot(list(LORENZ.values()), [TARGETS[n].value for n in LORENZ], "o", color="C3",
            label="data: SCF net worth (cstwMPC)")
    ax.set_xlabel("population share, poorest first")
    ax.set_ylabel("share of net worth")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    path = out / "lorenz.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def nested(params: dict) -> dict:
    """{'household.beta': 0.97} -> {'household': {'beta': 0.97}} (integers, booleans, strings, a
    fixed setting such as population.initial_wealth, and None stay what they are; other numbers are
    floats)."""
    tree: dict = {}
    for dotted, value in params.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value if value is None or isinstance(value, (int, str)) else float(value)  # bool is an int
    return tree


def calibration_yaml(name: str, entry: dict, rows: list[Row], base_overrides: list[str], burn_in: int,
                     evaluations: int, fixed: dict | None = None) -> str:
    """The config group file: the spec's ``fixed`` settings and the estimated parameters at the
    package root (``@package _global_``), with how they were obtained in its comments."""
    import yaml

    fit = "\n".join(f"#   {line}" for line in table_text(rows).splitlines())
    head = (f"# @package _global_\n"
            f"# Calibration '{name}' written by `sim calibrate` (method of simulated moments,\n"
            f"# docs/calibration.md): the best of {evaluations} candidates, loss {entry['loss']:.6g}.\n"
            f"# Base run: {' '.join(base_overrides) or '(the defaults)'}; moments after {burn_in} periods of burn-in.\n"
            f"# Use: sim run calibration={name}   (applied after the scenario; command-line overrides win)\n"
            f"# Fit:\n{fit}\n")
    return head + yaml.safe_dump(nested({**(fixed or {}), **entry["params"]}), sort_keys=True)


def write_all(out: Path, name: str, entry: dict, weights: dict[str, float], base_overrides: list[str],
              burn_in: int, evaluations: int, install_dir: Path | None, fixed: dict | None = None) -> dict[str, Path]:
    """Write every output; returns name -> path."""
    rows = rows_of(entry, weights)
    write_table(rows, out)
    paths = {"fit_csv": out / "fit_table.csv", "fit_md": out / "fit_table.md"}
    plot = lorenz_plot(entry, out, f"{name}: loss {entry['loss']:.4g}")
    if plot is not None:
        paths["lorenz"] = plot
    (out / "best.json").write_text(json.dumps(entry, indent=2, sort_keys=True), encoding="utf-8")
    paths["best"] = out / "best.json"
    text = calibration_yaml(name, entry, rows, base_overrides, burn_in, evaluations, fixed)
    group = out / "calibration"
    group.mkdir(exist_ok=True)
    (group / f"{name}.yaml").write_text(text, encoding="utf-8")
    paths["config"] = group / f"{name}.yaml"
    if install_dir is not None:
        target = Path(install_dir) / "calibration"
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.yaml").write_text(text, encoding="utf-8")
        paths["installed"] = target / f"{name}.yaml"
    return paths
