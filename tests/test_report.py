"""``sim report``: the data behind every figure, the summary table, sweeps, comparisons, the CLI.

The runs are synthetic run directories with the layout ``sim run`` writes (``results.zarr`` written
with xarray, ``provenance.json``, ``.hydra/``) and values given by formulas, so every figure's data
can be checked against a known answer. ``make_run`` and ``make_sweep`` are also used by
``test_report_browser.py``.
"""
from __future__ import annotations

import base64
import json
import re
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr
import yaml

from sim import report
from sim.report import build_report, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FRACTION = "fraction"

# Every figure of the report, in page order.
ALL_KEYS = ["output", "wage_labour_share", "unemployment", "rates", "inequality", "lorenz",
            "consumption_by_decile", "capital_ownership", "portfolios", "debt_to_gdp"]


# ---------------------------------------------------------------------------------------------
# synthetic runs


def pareto_lorenz(p: np.ndarray, alpha: float) -> np.ndarray:
    """Lorenz curve of a Pareto(alpha) distribution: L(p) = 1 - (1 - p)^(1 - 1/alpha)."""
    return 1.0 - (1.0 - p) ** (1.0 - 1.0 / alpha)


def power_lorenz(p: np.ndarray, k: float) -> np.ndarray:
    """L(p) = p^k (k = 2: the uniform distribution); Gini (k - 1) / (k + 1)."""
    return p**k


def series(T: int, ppy: float, *, growth: float = 0.02, takeoff: float = 0.0, wage_peak: float = 0.6,
           unemp_peak: float = 0.12, shift: float = 0.0, ineq: float = 1.4) -> dict[str, np.ndarray]:
    """Formula paths for every time-series variable (shares as fractions)."""
    t = np.arange(T, dtype=float)
    yrs = t / ppy
    s = t / max(T - 1, 1)
    potential = 100.0 * (1.0 + growth) ** yrs * np.exp(takeoff * s**3)
    output = potential * (1.0 - 0.04 * np.sin(2 * np.pi * s) ** 2 - shift)
    wage = 1.0 + wage_peak * np.sin(np.pi * s) - 0.3 * s  # rises, then falls
    unemp = 0.05 + unemp_peak * np.exp(-((s - 0.6) ** 2) / 0.02)
    alpha = 3.0 - ineq * s  # wealth Pareto tail, fattening over time
    return {
        "output": output,
        "potential_output": potential,
        "consumption": 0.7 * output,
        "investment": 0.2 * output,
        "government_spending": 0.1 * output,
        "wage": wage,
        "return_safe": 1.01 + 0.0 * s,
        "return_risky": 1.05 + 0.01 * np.sin(5 * s),
        "labour_share": 0.65 - 0.4 * s**2,
        "unemployment_rate": unemp,
        "displacement_rate": 0.02 * s,
        "inflation": 0.02 + 0.03 * np.sin(3 * np.pi * s) - 0.02 * s,
        "nominal_rate": np.maximum(0.0, 0.03 + 0.04 * np.sin(3 * np.pi * s)),
        "real_rate": 0.01 + 0.02 * np.sin(3 * np.pi * s),
        "debt_to_gdp": 0.6 + 0.5 * s,
        "tax_labour_rate": 0.25 + 0.1 * s,
        "tax_capital_rate": 0.2 - 0.2 * s,
        "ubi_cost": 0.01 * s * output,
        "fee_revenue": 0.001 * output,
        "dominant_capital_share": 0.1 + 0.5 * s**2,
        "gini_wealth": 1.0 / (2.0 * alpha - 1.0),
        "gini_income": 1.0 / 3.0 + 0.1 * s,
        "gini_consumption": 0.2 + 0.05 * s,
        "top1_wealth_share": 0.01 ** (1.0 - 1.0 / alpha),
        "top10_wealth_share": 0.1 ** (1.0 - 1.0 / alpha),
        "bottom50_wealth_share": pareto_lorenz(np.full(T, 0.5), alpha),
        "bottom50_capital_share": 0.08 - 0.05 * s,
        "top1_capital_share": 0.3 + 0.2 * s,
        "participation_rate": 0.6 - 0.1 * s,
        "household_safe_assets": 300.0 + 100.0 * s,
        "household_risky_assets": 600.0 + 50.0 * s,
        "equity_price": 1.0 + 0.5 * s,
        "poverty_rate": 0.1 + 0.05 * s,
        "sfc_residual": 1e-12 * np.cos(7 * t),
    }


UNITS = {"output": "goods per period", "potential_output": "goods per period", "wage": "goods per unit of labour",
         "consumption": "goods per period", "investment": "goods per period",
         "government_spending": "goods per period", "return_safe": "gross per period",
         "return_risky": "gross per period", "inflation": "fraction per year",
         "nominal_rate": "fraction per year", "real_rate": "fraction per year",
         "sfc_residual": "relative", "ubi_cost": "goods per period", "fee_revenue": "goods per period"}


def make_dataset(T: int = 40, ppy: float | None = 4, *, scenario: str = "baseline", seed: int = 1,
                 households: int = 10_000, snapshots: tuple[int, ...] | None = None,
                 drop: tuple[str, ...] = (), **kw) -> xr.Dataset:
    ppy_eff = ppy or 1
    data = series(T, ppy_eff, **kw)
    ds = xr.Dataset(coords={"period": np.arange(T, dtype=np.int64)})
    for name, v in data.items():
        ds[name] = xr.DataArray(v.astype(np.float64), dims=("period",),
                                attrs={"units": UNITS.get(name, FRACTION), "description": name.replace("_", " ")})
    snaps = np.asarray(snapshots if snapshots is not None else (0, T // 2, T - 1), dtype=np.int64)
    q = np.linspace(0.0, 1.0, 101)
    alpha = 3.0 - kw.get("ineq", 1.4) * snaps / max(T - 1, 1)
    ds = ds.assign_coords(snapshot=snaps, quantile=q, decile=np.arange(1, 11, dtype=np.int64))
    lw = np.stack([pareto_lorenz(q, a) for a in alpha])
    li = np.stack([power_lorenz(q, 2.0) for _ in snaps])
    lc = np.stack([power_lorenz(q, 1.5 + 0.1 * j) for j in range(len(snaps))])
    for name, arr in (("lorenz_wealth", lw), ("lorenz_income", li), ("lorenz_consumption", lc)):
        ds[name] = xr.DataArray(arr, dims=("snapshot", "quantile"),
                                attrs={"units": FRACTION, "description": f"{name} at snapshots"})
    cbd = np.stack([(1.0 + 0.1 * j) * (0.5 + 0.15 * np.arange(1, 11)) for j in range(len(snaps))])
    ds["consumption_by_wealth_decile"] = xr.DataArray(
        cbd, dims=("snapshot", "decile"),
        attrs={"units": "goods per period", "description": "mean consumption by wealth decile"})
    ds = ds.drop_vars([d for d in drop if d in ds.data_vars])
    ds.attrs.update({"scenario": scenario, "seed": seed, "households": households})
    if ppy is not None:
        ds.attrs["periods_per_year"] = ppy
    return ds


def make_run(path: Path, *, overrides: list[str] | None = None, scenario: str = "baseline", seed: int = 1,
             households: int = 10_000, **kw) -> Path:
    """A run directory laid out as ``sim run`` writes it."""
    path.mkdir(parents=True, exist_ok=True)
    ds = make_dataset(scenario=scenario, seed=seed, households=households, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr v3 consolidated-metadata notice
        ds.to_zarr(path / "results.zarr", mode="w")
    overrides = overrides if overrides is not None else [f"scenario={scenario}", f"seed={seed}"]
    config = {"seed": seed, "periods": int(ds.sizes["period"]), "scenario": {"name": scenario},
              "population": {"households": households}, "backend": "numpy"}
    prov = {"command": "sim run " + " ".join(overrides), "config": config, "seed": seed,
            "package_version": "0.1.0", "git_revision": "abc1234", "backend": "numpy",
            "shard_layout": [[0, households]], "started": "2026-11-22T10:00:00+00:00",
            "finished": "2026-11-22T10:01:00+00:00"}
    (path / "provenance.json").write_text(json.dumps(prov))
    (path / ".hydra").mkdir(exist_ok=True)
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    return path


def make_sweep(path: Path, jobs: list[dict], *, failed_jobs: int = 0, task: list[str] | None = None) -> Path:
    """A Hydra multirun directory: multirun.yaml and numbered job directories."""
    path.mkdir(parents=True, exist_ok=True)
    hydra = {"mode": "MULTIRUN", "overrides": {"hydra": [], "task": task or []}}
    (path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra, "seed": 1}))
    for i, job in enumerate(jobs):
        make_run(path / str(i), **job)
    for k in range(failed_jobs):  # a job that died before writing results
        bad = path / str(len(jobs) + k) / ".hydra"
        bad.mkdir(parents=True)
        (bad / "overrides.yaml").write_text(yaml.safe_dump(["seed=99"]))
    return path


def check_png(path: Path, min_bytes: int = 8_000) -> None:
    """Exists, is a PNG, is not tiny, and is not one flat colour."""
    assert path.is_file(), path
    raw = path.read_bytes()
    assert raw[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert len(raw) > min_bytes, f"{path} is only {len(raw)} bytes"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    assert float(img[..., :3].std()) > 0.02, f"{path} is (nearly) a single colour"


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> report.ReportResult:
    d = make_run(tmp_path_factory.mktemp("one") / "run", scenario="agi_fast", seed=7,
                 overrides=["scenario=agi_fast", "seed=7"], snapshots=(0, 5, 10, 15, 20, 25, 30, 39))
    return build_report([d], d / "report")


# ---------------------------------------------------------------------------------------------
# one run


def test_one_run_writes_every_figure_and_the_page(one_run):
    assert list(one_run.plots) == ALL_KEYS
    assert not one_run.skipped
    assert [p.name for p in one_run.pngs] == [f"{k}.png" for k in ALL_KEYS]
    for png in one_run.pngs:
        check_png(png)
    assert one_run.html == one_run.out_dir / "report.html"
    assert one_run.summary_csv.is_file()
    assert one_run.runs[0].label == "scenario=agi_fast seed=7"


def test_time_series_are_the_dataset_values_on_a_years_axis(one_run):
    run = one_run.runs[0]
    ds = run.ds
    label = run.label
    for key, var in [("wage_labour_share", "wage"), ("wage_labour_share", "labour_share"),
                     ("output", "output"), ("output", "potential_output"),
                     ("unemployment", "unemployment_rate"), ("unemployment", "displacement_rate"),
                     ("rates", "inflation"), ("rates", "nominal_rate"), ("rates", "real_rate"),
                     ("inequality", "gini_wealth"), ("inequality", "gini_income"),
                     ("inequality", "gini_consumption"), ("inequality", "top1_wealth_share"),
                     ("inequality", "top10_wealth_share"), ("inequality", "bottom50_wealth_share"),
                     ("capital_ownership", "bottom50_capital_share"),
                     ("capital_ownership", "top1_capital_share"),
                     ("capital_ownership", "dominant_capital_share"), ("debt_to_gdp", "debt_to_gdp"),
                     ("debt_to_gdp", "tax_labour_rate"), ("debt_to_gdp", "tax_capital_rate"),
                     ("portfolios", "participation_rate"), ("portfolios", "equity_price")]:
        s = one_run.plots[key].data[var][label]
        np.testing.assert_array_equal(s.to_numpy(), ds[var].values, err_msg=var)
        assert s.index.name == "year"
        np.testing.assert_allclose(s.index.to_numpy(), np.arange(40) / 4.0)
    # The wage path is the formula's: it rises, then falls below its start.
    t = np.arange(40) / 39
    np.testing.assert_allclose(one_run.plots["wage_labour_share"].data["wage"][label].to_numpy(),
                               1.0 + 0.6 * np.sin(np.pi * t) - 0.3 * t)


def test_output_gap_is_output_over_potential_minus_one(one_run):
    ds = one_run.runs[0].ds
    gap = one_run.plots["output"].data["output_gap"][one_run.runs[0].label].to_numpy()
    np.testing.assert_allclose(gap, ds["output"].values / ds["potential_output"].values - 1.0)
    assert gap.min() < -0.03  # the sin^2 dip of the formula


def test_units_reach_the_axis_labels(one_run):
    units = one_run.plots["rates"].meta["units"]
    assert units["inflation"] == "% per year"
    # 4 periods a year: the period is named ("goods per period" in the dataset).
    assert one_run.plots["output"].meta["units"]["output"] == "goods per quarter"
    assert one_run.plots["unemployment"].meta["units"]["unemployment_rate"] == "%"


def test_lorenz_curves_of_known_distributions(one_run):
    p = one_run.plots["lorenz"]
    label = one_run.runs[0].label
    # Eight snapshots: six are drawn, evenly spread, the first and the last included.
    drawn = p.meta["snapshots"][label]
    assert len(drawn) == 6 and drawn[0] == 0 and drawn[-1] == 39
    q = np.linspace(0, 1, 101)
    for snap in drawn:
        alpha = 3.0 - 1.4 * snap / 39
        np.testing.assert_allclose(p.data["lorenz_wealth"][(label, snap)].to_numpy(), pareto_lorenz(q, alpha))
        np.testing.assert_allclose(p.data["lorenz_income"][(label, snap)].to_numpy(), q**2)
    np.testing.assert_allclose(p.data["lorenz_wealth"].index.to_numpy(), q)


def test_consumption_by_decile_is_the_last_snapshot(one_run):
    p = one_run.plots["consumption_by_decile"]
    label = one_run.runs[0].label
    assert p.meta["snapshot"] == {label: 39}
    ds = one_run.runs[0].ds
    np.testing.assert_array_equal(p.data["consumption_by_wealth_decile"][label].to_numpy(),
                                  ds["consumption_by_wealth_decile"].sel(snapshot=39).values)
    assert list(p.data["consumption_by_wealth_decile"].index) == list(range(1, 11))


def test_summary_table_headline_figures(one_run):
    ds = one_run.runs[0].ds
    row = one_run.summary.loc["scenario=agi_fast seed=7"]
    out = ds["output"].values
    assert row["output_final_over_start"] == pytest.approx(out[-1] / out[0])
    assert row["wage_final_over_start"] == pytest.approx(ds["wage"].values[-1] / ds["wage"].values[0])
    assert row["wage_final_over_start"] == pytest.approx(0.7)  # 1 + 0.6 sin(pi) - 0.3
    assert row["peak_unemployment"] == pytest.approx(ds["unemployment_rate"].values.max())
    assert row["peak_unemployment"] > 0.15
    assert row["final_gini_wealth"] == pytest.approx(1.0 / (2 * 1.6 - 1))
    assert row["final_bottom50_wealth_share"] == pytest.approx(pareto_lorenz(np.array(0.5), 1.6))
    assert row["final_debt_to_gdp"] == pytest.approx(1.1)
    assert row["max_abs_sfc_residual"] == pytest.approx(np.abs(1e-12 * np.cos(7 * np.arange(40))).max())
    assert (row["households"], row["periods"], row["seed"], row["scenario"]) == (10_000, 40, 7, "agi_fast")


def test_html_is_self_contained_and_embeds_every_png(one_run):
    page = one_run.html.read_text()
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert len(srcs) == len(one_run.pngs)
    for src, png in zip(srcs, one_run.pngs):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == png.read_bytes()
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must not load anything external"
    assert '<pre class="command">sim run scenario=agi_fast seed=7</pre>' in page
    assert page.count('<tr data-run=') == 1
    assert "abc1234" in page  # git revision from provenance


def test_summary_percentages_in_the_page(one_run):
    page = one_run.html.read_text()
    row = one_run.summary.iloc[0]
    assert f"{row['final_debt_to_gdp'] * 100:.2f}%" in page
    assert f"{row['peak_unemployment'] * 100:.2f}%" in page


# ---------------------------------------------------------------------------------------------
# older runs with variables missing


def test_missing_variables_skip_figures_with_a_note(tmp_path):
    old = make_run(tmp_path / "old", drop=("displacement_rate", "lorenz_wealth", "lorenz_income",
                                           "lorenz_consumption", "consumption_by_wealth_decile",
                                           "bottom50_capital_share", "top1_capital_share",
                                           "dominant_capital_share"))
    res = build_report([old], tmp_path / "rep")
    assert set(res.skipped) == {"lorenz", "consumption_by_decile", "capital_ownership"}
    for key in res.skipped:
        assert not (tmp_path / "rep" / f"{key}.png").exists()
    assert "lorenz_wealth" in " ".join(res.plots["lorenz"].notes)
    # Unemployment is still drawn, without the displacement panel, and says so.
    unemp = res.plots["unemployment"]
    assert unemp.png is not None and "displacement_rate" not in unemp.data
    assert any("Displacement rate" in n for n in unemp.notes)
    check_png(unemp.png)
    page = res.html.read_text()
    assert 'id="skipped"' in page
    assert "Lorenz curves at snapshot periods" in page.split('id="skipped"')[1]
    assert "Ownership of capital" in page.split('id="skipped"')[1]
    assert page.count("<img") == len(res.pngs) == len(ALL_KEYS) - 3


def test_all_nan_variable_counts_as_missing_and_summary_is_nan(tmp_path):
    d = make_run(tmp_path / "r", drop=("debt_to_gdp", "unemployment_rate"))
    ds = xr.open_zarr(d / "results.zarr").load()
    for name in ("debt_to_gdp", "tax_labour_rate", "tax_capital_rate"):  # every variable of the figure
        ds[name] = xr.full_like(ds["wage"], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(d / "results.zarr", mode="w")
    res = build_report([d], tmp_path / "rep")
    assert "debt_to_gdp" in res.skipped
    assert "NaN" in " ".join(res.plots["debt_to_gdp"].notes)
    row = res.summary.iloc[0]
    assert np.isnan(row["final_debt_to_gdp"]) and np.isnan(row["peak_unemployment"])
    assert "n/a" in res.html.read_text()


def test_interrupted_run_uses_the_snapshots_it_reached(tmp_path):
    d = make_run(tmp_path / "r", snapshots=(0, 20, 39))
    ds = xr.open_zarr(d / "results.zarr").load()
    for v in ("lorenz_wealth", "lorenz_income", "lorenz_consumption", "consumption_by_wealth_decile"):
        ds[v].loc[{"snapshot": 39}] = np.nan  # preallocated, never written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(d / "results.zarr", mode="w")
    res = build_report([d], tmp_path / "rep", html=False)
    label = res.runs[0].label
    assert res.plots["lorenz"].meta["snapshots"] == {label: [0, 20]}
    assert res.plots["consumption_by_decile"].meta["snapshot"] == {label: 20}
    np.testing.assert_array_equal(res.plots["consumption_by_decile"].data["consumption_by_wealth_decile"][label],
                                  ds["consumption_by_wealth_decile"].sel(snapshot=20).values)


def test_variable_missing_in_one_of_two_runs_is_drawn_for_the_other(tmp_path):
    a = make_run(tmp_path / "a", scenario="baseline", overrides=["scenario=baseline"])
    b = make_run(tmp_path / "b", scenario="ubi", overrides=["scenario=ubi"], drop=("real_rate",))
    res = build_report([a, b], tmp_path / "cmp")
    rates = res.plots["rates"]
    assert list(rates.data["real_rate"].columns) == ["scenario=baseline"]
    assert list(rates.data["nominal_rate"].columns) == ["scenario=baseline", "scenario=ubi"]
    assert any("Real rate" in n and "'scenario=ubi'" in n for n in rates.notes)


# ---------------------------------------------------------------------------------------------
# comparisons and sweeps


def test_two_runs_compared_with_labels_from_overrides(tmp_path):
    a = make_run(tmp_path / "a", scenario="baseline", overrides=["scenario=baseline", "periods=40"])
    b = make_run(tmp_path / "b", scenario="agi_fast", overrides=["scenario=agi_fast", "periods=40"],
                 takeoff=6.0, wage_peak=1.2)
    res = build_report([a, b], tmp_path / "cmp")
    labels = [r.label for r in res.runs]
    assert labels == ["scenario=baseline", "scenario=agi_fast"]  # the shared periods=40 is dropped
    assert list(res.summary.index) == labels
    assert list(res.plots["wage_labour_share"].data["wage"].columns) == labels
    np.testing.assert_array_equal(res.plots["wage_labour_share"].data["wage"]["scenario=agi_fast"].to_numpy(),
                                  res.runs[1].ds["wage"].values)
    # Output takes off by e^6 in the second run: its level panel is drawn on a log scale.
    assert "Output vs potential output" in res.plots["output"].meta["log_y"]
    ratio = res.summary.loc["scenario=agi_fast", "output_final_over_start"]
    out = res.runs[1].ds["output"].values
    assert ratio == pytest.approx(out[-1] / out[0]) and ratio > 100
    lorenz = res.plots["lorenz"]
    assert lorenz.meta["snapshots"] == {"scenario=baseline": [0, 39], "scenario=agi_fast": [0, 39]}
    assert list(res.plots["consumption_by_decile"].data["consumption_by_wealth_decile"].columns) == labels
    for png in res.pngs:
        check_png(png)
    assert res.html.read_text().count("<tr data-run=") == 2


def test_labels_fall_back_to_scenario_then_directory_and_stay_unique(tmp_path):
    a = make_run(tmp_path / "runA", scenario="baseline", overrides=[])
    b = make_run(tmp_path / "runB", scenario="baseline", overrides=[])
    c = make_run(tmp_path / "runC", scenario="ubi", overrides=[])
    res = build_report([a, b, c], tmp_path / "cmp", html=False)
    assert [r.label for r in res.runs] == ["baseline [runA]", "baseline [runB]", "ubi"]
    assert res.html is None and not (tmp_path / "cmp" / "report.html").exists()
    assert len(res.pngs) == len(ALL_KEYS)


def test_sweep_dir_expands_to_its_jobs(tmp_path):
    sweep = make_sweep(tmp_path / "multirun", [
        {"scenario": "agi_fast", "seed": 1, "overrides": ["scenario=agi_fast", "policy.ubi.level=0.0"]},
        {"scenario": "agi_fast", "seed": 1, "overrides": ["scenario=agi_fast", "policy.ubi.level=0.2"]},
        {"scenario": "agi_fast", "seed": 1, "overrides": ["scenario=agi_fast", "policy.ubi.level=0.4"],
         "shift": 0.05},
    ], failed_jobs=1, task=["scenario=agi_fast", "policy.ubi.level=0.0,0.2,0.4"])
    # Job numbers sort numerically (10 after 2), not as text.
    make_run(sweep / "10", scenario="agi_fast", overrides=["scenario=agi_fast", "policy.ubi.level=1.0"])
    res = build_report([sweep], sweep / "report")
    assert [r.path.name for r in res.runs] == ["0", "1", "2", "10"]
    assert [r.label for r in res.runs] == ["policy.ubi.level=0.0", "policy.ubi.level=0.2",
                                           "policy.ubi.level=0.4", "policy.ubi.level=1.0"]
    assert all(r.sweep == sweep for r in res.runs)
    assert len(res.notes) == 1 and "3" in res.notes[0] and "results.zarr" in res.notes[0]
    out2 = res.runs[2].ds["output"].values
    assert res.summary.loc["policy.ubi.level=0.4", "output_final_over_start"] == pytest.approx(out2[-1] / out2[0])
    page = res.html.read_text()
    assert "Sweep comparison: multirun (4 runs)" in page
    assert page.count("<tr data-run=") == 4
    assert "failed or unfinished" in page
    assert '<pre class="command sweep">sim run -m scenario=agi_fast policy.ubi.level=0.0,0.2,0.4</pre>' in page
    assert page.count('<pre class="command">sim run scenario=agi_fast policy.ubi.level=') == 4


def test_sweep_and_single_run_together(tmp_path):
    sweep = make_sweep(tmp_path / "sw", [{"overrides": ["seed=1"], "seed": 1},
                                         {"overrides": ["seed=2"], "seed": 2}])
    other = make_run(tmp_path / "other", scenario="ubi", overrides=["scenario=ubi"])
    res = build_report([sweep, other], tmp_path / "cmp")
    assert [r.label for r in res.runs] == ["seed=1", "seed=2", "scenario=ubi"]
    assert list(res.summary["seed"]) == [1, 2, 1]
    assert "Comparison of 3 runs" in res.html.read_text()


def test_periods_axis_when_periods_per_year_unknown(tmp_path):
    a = make_run(tmp_path / "a", ppy=None)
    res = build_report([a], tmp_path / "rep", html=False)
    s = res.plots["wage_labour_share"].data["wage"].iloc[:, 0]
    assert s.index.name == "period"
    np.testing.assert_array_equal(s.index.to_numpy(), np.arange(40))
    assert res.runs[0].periods_per_year is None


def test_runs_with_different_periods_per_year_share_a_years_axis(tmp_path):
    a = make_run(tmp_path / "q", ppy=4, T=40, overrides=["freq=quarterly"])
    b = make_run(tmp_path / "y", ppy=1, T=10, overrides=["freq=annual"])
    res = build_report([a, b], tmp_path / "rep", html=False)
    df = res.plots["debt_to_gdp"].data["debt_to_gdp"]
    assert df["freq=quarterly"].dropna().index.max() == pytest.approx(39 / 4)
    assert df["freq=annual"].dropna().index.max() == pytest.approx(9.0)


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_default_out_dirs_and_output(tmp_path, capsys, monkeypatch):
    run = make_run(tmp_path / "run", scenario="baseline", overrides=["scenario=baseline"])
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert (run / "report" / "report.html").is_file()
    assert "scenario=baseline" in out and str(run / "report" / "report.html") in out
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["run", "output", "x"] and "peak unemp" in header
    assert row.startswith("scenario=baseline") and "110.00%" in row  # final debt/GDP, in percent
    for k in ALL_KEYS:
        assert (run / "report" / f"{k}.png").is_file()

    sweep = make_sweep(tmp_path / "sweep", [{"overrides": ["seed=1"]}, {"overrides": ["seed=2"]}])
    assert main([str(sweep)]) == 0
    assert (sweep / "report" / "report.html").is_file()
    # The report folder inside a sweep is not taken for a job on a second report.
    assert main([str(sweep), "--no-html"]) == 0

    monkeypatch.chdir(tmp_path)
    assert main([str(run), str(sweep / "0"), "--no-html"]) == 0
    assert (tmp_path / "report-compare" / "summary.csv").is_file()
    assert not (tmp_path / "report-compare" / "report.html").exists()

    assert main([str(run), "--out", str(tmp_path / "custom")]) == 0
    assert (tmp_path / "custom" / "report.html").is_file()


def test_cli_errors_and_help(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: sim report") and "--no-html" in text and "multirun.yaml" in text
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


# ---------------------------------------------------------------------------------------------
# several seeds of one scenario, number formats, rate units


def test_seeds_of_one_scenario_are_drawn_as_mean_and_band(tmp_path):
    # Three seeds of one scenario (different output paths) and one other scenario.
    dirs = [make_run(tmp_path / f"s{seed}", scenario="ubi", seed=seed, shift=0.01 * seed) for seed in (1, 2, 3)]
    dirs.append(make_run(tmp_path / "base", scenario="baseline", seed=1))
    result = report.build_report(dirs, tmp_path / "out")
    plot = result.plots["output"]
    bands = plot.bands["output"]
    assert len(bands) == 1
    (label, band), = bands.items()
    assert label.startswith("scenario=ubi") and "mean of 3 seeds" in label
    runs = plot.data["output"][[f"scenario=ubi seed={seed}" for seed in (1, 2, 3)]]
    # Hand-worked: the three paths differ only by the constant shift 0.01 * seed times potential,
    # so the mean is seed 2's path and the band runs from seed 3's (lowest) to seed 1's (highest).
    np.testing.assert_allclose(band["mean"].values, runs.iloc[:, 1].values)
    np.testing.assert_allclose(band["min"].values, runs.iloc[:, 2].values)
    np.testing.assert_allclose(band["max"].values, runs.iloc[:, 0].values)
    assert any("mean with a min-max band" in note for note in plot.notes)


def test_ratios_and_shares_keep_their_digits():
    from sim.report.summary import _fmt

    assert (_fmt(1.0004, "ratio"), _fmt(0.998, "ratio")) == ("1.000", "0.998")
    assert _fmt(0.12345, "share") == "12.35%"


def test_per_period_rates_name_the_period(tmp_path):
    from sim.report.drawing import plain_units

    assert plain_units("1 / period", 4) == "per quarter"
    assert plain_units("goods / period", 12) == "goods per month"
    assert plain_units("1 / period", None) == "per period"
    path = make_run(tmp_path / "r")
    with xr.open_zarr(path / "results.zarr") as ds:
        ds = ds.load()
    ds["inflation"].attrs["units"] = "1 / period"  # as sim.results writes it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path / "results.zarr", mode="w")
    result = report.build_report([path], tmp_path / "out", html=False)
    assert result.plots["rates"].meta["units"]["inflation"] == "% per quarter"


def test_report_reads_a_run_whose_provenance_is_not_a_record(tmp_path):
    """A provenance.json holding a JSON list (not the record sim run writes) is read as no
    provenance, not a crash."""
    import json

    from sim.report.runs import load_run

    run = make_run(tmp_path / "run")
    (run / "provenance.json").write_text(json.dumps([1, 2, 3]))
    assert load_run(run).provenance == {}


def test_portfolios_figure_draws_the_safe_share_and_leaves_out_a_missing_price(one_run, tmp_path):
    # the safe share is computed, b / (b + k); a value-market run has no equity price: its panel
    # is left out with a note, the figure still drawn
    run = one_run.runs[0]
    ds = run.ds
    share = one_run.plots["portfolios"].data["safe_share"][run.label].to_numpy()
    np.testing.assert_allclose(share, ds["household_safe_assets"].values
                               / (ds["household_safe_assets"].values + ds["household_risky_assets"].values))
    value_market = make_run(tmp_path / "value", drop=("equity_price",))
    res = build_report([value_market], tmp_path / "rep")
    plot = res.plots["portfolios"]
    assert plot.png is not None and "equity_price" not in plot.data
    assert any("Equity price" in n for n in plot.notes)
