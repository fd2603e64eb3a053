"""``sim.load`` / ``sim.load_sweep``: results as xarray Datasets with CF metadata and pint units.

The stores are written by the real writer (``results.build_dataset`` + ``write_results``) from
hand-made rows, so the tests need no Ray run.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml

import sim
from sim import results
from sim.data import LoadError, unit_registry

QUANTILES = np.linspace(0.0, 1.0, 11)


def _write_run(run_dir, periods=6, ppy=4, overrides=(), offset=0.0):
    rows = [{name: offset + t + 0.5 for name in results.SERIES} for t in range(periods)]
    snap = {name: np.full(10 if dim == "decile" else QUANTILES.size, 0.5)
            for name, (dim, _, _) in results.SNAPSHOTS.items()}
    attrs = {"scenario": "baseline", "seed": 1, "households": 100, "periods_per_year": ppy}
    ds = results.build_dataset(rows, {0: snap, periods - 1: snap}, QUANTILES, attrs)
    run_dir.mkdir(parents=True)
    results.write_results(ds, run_dir)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    return run_dir


@pytest.fixture
def run_dir(tmp_path):
    return _write_run(tmp_path / "run", overrides=["scenario=baseline", "seed=1"])


def test_every_unit_parses_with_pint_and_every_variable_is_named(run_dir):
    ds = sim.load(run_dir)
    registry = unit_registry(ds.attrs["periods_per_year"])
    for name, var in ds.variables.items():
        assert var.attrs.get("long_name"), name
        registry.parse_units(var.attrs["units"])  # raises on anything pint cannot parse
    assert ds.attrs["Conventions"].startswith("CF-")


def test_period_unit_annualises_by_periods_per_year():
    # 1 % per quarter is 4 % per year (linear), and a quarter is a quarter of a year.
    registry = unit_registry(4)
    assert registry.Quantity(0.01, "1 / period").to("1 / year").magnitude == pytest.approx(0.04)
    assert registry.Quantity(8, "goods / period").to("goods / year").magnitude == pytest.approx(32)


def test_year_coordinate_and_bounds_and_overrides(run_dir):
    ds = sim.load(run_dir)
    np.testing.assert_array_equal(ds["year"].values, [0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    bounds = [name for name in ds.data_vars if name.endswith("_bound")]
    assert bounds
    for bound in bounds:
        statistic = bound[: -len("_bound")]
        assert ds[statistic].attrs["ancillary_variables"] == bound
        assert ds[bound].attrs["units"] == ds[statistic].attrs["units"]
    assert ds.attrs["overrides"] == "scenario=baseline seed=1"
    frame = ds[["output", "gini_wealth"]].to_dataframe()
    assert list(frame.index.names) == ["period"] and len(frame) == 6


def test_load_accepts_the_store_path_and_rejects_other_directories(run_dir, tmp_path):
    assert sim.load(run_dir / "results.zarr").sizes["period"] == 6
    with pytest.raises(LoadError, match="no results.zarr"):
        sim.load(tmp_path)


def test_load_sweep_puts_runs_on_a_dimension_with_swept_coordinates(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}")
    for job, (seed, level) in enumerate([(1, 0.0), (2, 0.0), (1, 0.5)]):
        _write_run(sweep / str(job), overrides=["scenario=ubi", f"seed={seed}", f"economy.ubi.level={level}"],
                   offset=10.0 * job)
    (sweep / "3").mkdir()  # an unfinished job: left out
    ds = sim.load_sweep(sweep)
    assert ds.sizes["run"] == 3
    assert ds["seed"].values.tolist() == [1, 2, 1]
    assert ds["economy.ubi.level"].values.tolist() == [0.0, 0.0, 0.5]
    assert ds.attrs["swept_keys"] == "seed economy.ubi.level"
    assert ds.attrs["overrides"] == "scenario=ubi"
    # Job 2's output at period 1 is its offset (20) + 1 + 0.5, from the hand-made rows.
    assert float(ds["output"].sel(run=2, period=1)) == 21.5
    frame = ds["output"].to_dataframe()
    assert len(frame) == 3 * 6


def test_load_sweep_without_finished_jobs_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="no finished job"):
        sim.load_sweep(tmp_path)


def test_results_store_has_the_files_zarr_itself_writes(tmp_path):
    """results.zarr is encoded in memory and written as files: the same files, byte for byte, as
    xarray and zarr write to a directory store themselves from the same dataset, and they read
    back identical."""
    import warnings
    from pathlib import Path

    import xarray as xr

    rows = [{name: t + 0.5 for name in results.SERIES} for t in range(6)]
    snap = {name: np.full(10 if dim == "decile" else QUANTILES.size, 0.5)
            for name, (dim, _, _) in results.SNAPSHOTS.items()}
    ds = results.build_dataset(rows, {0: snap, 5: snap}, QUANTILES, {"scenario": "baseline", "seed": 1,
                                                                    "households": 100, "periods_per_year": 4})
    (tmp_path / "run").mkdir()
    store = results.write_results(ds, tmp_path / "run")
    reference = ds.copy()
    reference.attrs[results.CHECKSUMS] = xr.open_zarr(store).attrs[results.CHECKSUMS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.to_zarr(tmp_path / "reference.zarr", mode="w-", consolidated=True, zarr_format=3)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    ours, theirs = files(store), files(tmp_path / "reference.zarr")
    assert sorted(ours) == sorted(theirs) and len(ours) > 2 * len(results.SERIES)
    assert ours == theirs
    back = xr.open_zarr(store).load()
    assert results.damage(back) is None
    back.attrs.pop(results.CHECKSUMS)
    assert back.identical(ds)
