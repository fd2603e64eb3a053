"""Failures end with one line on stderr that says what is wrong and what to do, a non-zero exit
where the run did not finish, no traceback, and nothing a later ``sim resume`` trips on
(issue 18). Store failures under a real run: tests/test_failures_store.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from sim.cli import main as sim_main
from sim.config import compose
from sim.config_schema import MAX_PERIODS
from tests.conftest import SMALL, tmpfs


def one_line_error(capsys, command: str) -> str:
    """stderr must be exactly one line starting with `sim COMMAND: error:`; return it."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sim {command}: error:"), err
    assert "Traceback" not in err
    return lines[0]


def finished_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "results.zarr").mkdir()
    (run_dir / "provenance.json").write_text(json.dumps({"config": OmegaConf.to_container(compose(SMALL)),
                                                         "finished": "2026-01-01T00:00:00"}))
    return run_dir


# --- item 10: periods has an upper bound; resume of a finished run checks its overrides ----------
def test_periods_has_a_declared_upper_bound(capsys):
    assert sim_main(["run", "periods=100000000"]) == 2
    line = one_line_error(capsys, "run")
    assert "periods" in line and f"<= {MAX_PERIODS}" in line


def test_resume_of_a_finished_run_checks_overrides(tmp_path, capsys):
    run_dir = finished_run(tmp_path / "run")
    assert sim_main(["resume", str(run_dir), "seed=4"]) == 2  # a result-changing key: refused
    assert "seed cannot change on resume" in one_line_error(capsys, "resume")
    assert sim_main(["resume", str(run_dir), "cluster.actors=4"]) == 2  # nothing to apply it to
    line = one_line_error(capsys, "resume")
    assert "already finished" in line and "cluster.actors=4" in line and "sim run" in line
    assert sim_main(["resume", str(run_dir)]) == 0
    assert "already finished" in capsys.readouterr().err


# --- item 11: recoveries exhausted under `sim run` ---------------------------------------------------
def kill_a_shard_at(monkeypatch, period: int) -> list:
    """Make the run's supervisor kill shard actor 1 when period ``period`` starts (once)."""
    import ray

    from sim.supervisor import Supervisor

    killed, notify = [], Supervisor.notify

    def killing(self, event, t):
        if event == "period" and t == period and not killed:
            killed.append(t)
            ray.kill(self.pool.actors[1], no_restart=True)
        notify(self, event, t)

    monkeypatch.setattr(Supervisor, "notify", killing)
    return killed


def test_no_recoveries_allowed_and_one_kill_ends_in_one_line(ray_session, tmp_path, monkeypatch, capsys):
    killed = kill_a_shard_at(monkeypatch, 3)
    run_dir = tmp_path / "run"
    code = sim_main(["run", *SMALL, "checkpoint.every=2", "checkpoint.max_recoveries=0",
                     f"hydra.run.dir={run_dir}"])
    assert killed == [3] and code == 1
    line = one_line_error(capsys, "run")
    assert "checkpoint.max_recoveries=0" in line and f"sim resume {run_dir}" in line
    assert not (run_dir / "results.zarr").exists()


# --- the economy cannot go on: one line, and the periods reached written -----------------------------
def test_an_economy_that_cannot_go_on_stops_in_one_line_and_keeps_its_periods(ray_session, tmp_path,
                                                                              monkeypatch, capsys):
    """Accounts that do not close (NaN, as a runaway economy's overflow gives) or a market with
    nothing to price stop the run where they happen: one line naming the period and the reason,
    exit 1, and the periods before it written as the run's results, which sim report draws."""
    import xarray as xr

    from sim import accounts

    check = accounts.check_closed

    def failing(t, row):
        check(t, {**row, "sfc_residual": float("nan")} if t == 3 else row)

    monkeypatch.setattr(accounts, "check_closed", failing)
    run_dir = tmp_path / "run"
    assert sim_main(["run", *SMALL, "checkpoint.every=2", f"hydra.run.dir={run_dir}"]) == 1
    line = one_line_error(capsys, "run")
    assert line.startswith("sim run: error: period 3: stock-flow residual nan")
    assert line.endswith(f"periods 0-2 are in {run_dir / 'results.zarr'} (sim report {run_dir})")
    ds = xr.open_zarr(run_dir / "results.zarr")
    assert ds.sizes["period"] == 3 and bool((ds["sfc_residual"] <= 1e-9).all())
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["finished"] is None and prov["stopped"]["period"] == 3
    assert prov["stopped"]["reason"].startswith("AccountingError: period 3:")
    monkeypatch.setattr(accounts, "check_closed", check)
    import shutil

    import sim
    from sim.data import LoadError

    assert sim.load(run_dir).attrs["stopped"].startswith("period 3: AccountingError: period 3:")
    shutil.copytree(run_dir, tmp_path / "sweep" / "0")  # a sweep whose one job stopped: not a finished job
    with pytest.warns(UserWarning, match="left out, its economy stopped at period 3"):
        with pytest.raises(LoadError, match="every job's economy stopped"):
            sim.load_sweep(tmp_path / "sweep")
    assert sim_main(["report", str(run_dir), "--out", str(tmp_path / "report")]) == 0
    page = next((tmp_path / "report").glob("*.html")).read_text()
    assert "<dt>Stopped</dt><dd>at period 3: AccountingError: period 3: stock-flow residual nan" in page
    assert "stopped at period 3: its results end there" in page  # the page's notes, for a comparison too
    # the same command again replays from the last checkpoint (2) and says what to expect: with the
    # accounts mended (a fix of the code), it finishes, and the periods before the stop are the same
    reached = sim.load(run_dir)
    capsys.readouterr()
    assert sim_main(["run", *SMALL, "checkpoint.every=2", f"hydra.run.dir={run_dir}"]) == 0
    assert "its economy stopped at period 3 (AccountingError: period 3:" in capsys.readouterr().err
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["finished"] and "stopped" not in prov and "stopped" not in sim.load(run_dir).attrs
    (replay,) = prov["resumes"]
    assert replay["restored_from"]["period"] == 2 and replay["after_stop"]["period"] == 3
    done = sim.load(run_dir)
    for name in ("output", "consumption", "gini_wealth", "equity_price", "sfc_residual"):
        assert np.array_equal(done[name].values[:3], reached[name].values), name


# --- item 5: a mistyped store URL is refused, never turned into a local path ------------------------
@pytest.mark.parametrize("store, expected", [("s3:/bucket", "s3://bucket"), ("''", "empty"),
                                             ("' '", "empty"), ("s4://bucket", "unknown protocol")])
def test_mistyped_store_url_is_refused(store, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sim_main(["run", *SMALL, f"checkpoint.store={store}"]) == 2
    assert expected in one_line_error(capsys, "run")
    assert not any(tmp_path.iterdir()), "something was created in the working directory"


# --- item 6: one process at a time in a run directory; unique temporary names -----------------------
def interrupted_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "provenance.json").write_text(json.dumps({"config": OmegaConf.to_container(compose(SMALL)),
                                                         "finished": None}))
    return run_dir


def test_second_resume_of_a_run_refuses_naming_the_holder(tmp_path, capsys):
    import os

    from sim import run_lock

    run_dir = interrupted_run(tmp_path / "run")
    with run_lock.hold(run_dir, "sim resume (the first)"):
        assert sim_main(["resume", str(run_dir)]) == 1
        line = one_line_error(capsys, "resume")
        assert f"pid {os.getpid()}" in line and "in use" in line
    assert not (run_dir / run_lock.HOLDER).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(ray_session, tmp_path, capsys):
    from sim import run_lock

    run_dir = interrupted_run(tmp_path / "run")
    (run_dir / run_lock.HOLDER).write_text("999999999 on nowhere (sim run)\n")  # its holder is gone
    (run_dir / "results.zarr.partial").mkdir()  # a dead writer's temporaries (the old fixed name)
    (run_dir / "results.zarr.partial-0123abcd").mkdir()
    assert sim_main(["resume", str(run_dir)]) == 0, capsys.readouterr().err
    assert (run_dir / "results.zarr").is_dir()
    assert sorted(p.name for p in run_dir.iterdir() if "results" in p.name) == ["results.zarr"]


def test_a_store_moved_aside_by_a_killed_writer_is_put_back(tmp_path):
    """A writer killed between moving the old results aside and renaming its new ones into place
    (sim.results.write_store) leaves results.zarr.old-* and no results.zarr: the next holder puts
    the old store back (the committed result is not lost) and removes the half-renamed rest."""
    from sim import run_lock

    import os

    run_dir = tmp_path / "run"
    for name, text, age in (("results.zarr.old-0123abcd", '{"older": 1}', 20), ("results.zarr.old-ffff0000", "{}", 10),
                            ("results.zarr.old-00000000", None, 0)):  # the last one half deleted
        (run_dir / name).mkdir(parents=True)
        if text is not None:
            (run_dir / name / "zarr.json").write_text(text)
        os.utime(run_dir / name, ns=(10**18 - age * 10**9,) * 2)
    (run_dir / "results.zarr.partial-4567ef01").mkdir()
    (run_dir / "effects.zarr").mkdir()  # an old store beside a current one is a leftover
    (run_dir / "effects.zarr.old-89ab").mkdir()
    (run_dir / "effects.zarr.old-89ab" / "zarr.json").write_text("{}")
    with run_lock.hold(run_dir, "test"):
        assert (run_dir / "results.zarr" / "zarr.json").read_text() == "{}"  # the newest whole one
        assert sorted(p.name for p in run_dir.iterdir() if "zarr" in p.name) == ["effects.zarr", "results.zarr"]


def test_two_writers_of_results_never_share_a_temporary(tmp_path):
    """Two writers at once (threads here): each writes its own temporary and renames it whole, so
    the store ends complete (before: both wrote results.zarr.partial and variables went missing)."""
    import threading

    import numpy as np
    import xarray as xr

    from sim import results

    ds = xr.Dataset({f"v{i}": ("period", np.arange(50.0) + i) for i in range(40)})
    errors = []

    def write():
        try:
            results.write_results(ds, tmp_path)
        except Exception as exc:  # the rename race may refuse one writer, never corrupt the store
            errors.append(exc)
    threads = [threading.Thread(target=write) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(errors) < 2
    back = xr.open_zarr(tmp_path / "results.zarr").load()
    assert results.damage(back) is None
    back.attrs.pop(results.CHECKSUMS)
    assert sorted(back.data_vars) == sorted(ds.data_vars) and back.identical(ds)
    assert [p.name for p in tmp_path.iterdir()] == ["results.zarr"]


def test_results_that_do_not_fit_the_disk_leave_the_committed_store(tmp_path):
    """A full disk while results.zarr is written (a real 1 MB tmpfs, 3 MB of results): the write
    fails with the system's error, its temporary is gone, and the store committed before is
    byte for byte what it was."""
    import errno

    import numpy as np
    import xarray as xr

    from sim import results

    with tmpfs(tmp_path / "small", "size=1m") as mount:
        run_dir = mount / "run"
        run_dir.mkdir()
        store = results.write_results(xr.Dataset({"output": ("period", np.arange(4.0))},
                                                 attrs={"periods_per_year": 4}), run_dir)
        before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
        noise = np.random.default_rng(0).random(400_000)  # incompressible: 3.2 MB stored
        with pytest.raises(OSError) as info:
            results.write_results(xr.Dataset({"noise": ("i", noise)}), run_dir)
        assert info.value.errno == errno.ENOSPC
        assert [p.name for p in run_dir.iterdir()] == ["results.zarr"]
        assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
        assert results.damage(xr.open_zarr(store).load()) is None


# --- item 7: bad paths and files: one line, no traceback ------------------------------------------
@pytest.fixture
def read_only_dir(tmp_path):
    with tmpfs(tmp_path / "ro", "size=1m,ro") as mount:
        yield mount


def test_run_dir_on_a_read_only_file_system(read_only_dir, capsys):
    assert sim_main(["run", *SMALL, f"hydra.run.dir={read_only_dir}/run"]) == 2
    line = one_line_error(capsys, "run")
    assert "hydra.run.dir" in line and "read-only" in line


def test_provenance_that_is_a_json_list(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "provenance.json").write_text("[1, 2]")
    assert sim_main(["resume", str(run_dir)]) == 2
    assert "not a provenance record" in one_line_error(capsys, "resume")
    assert sim_main(["run", *SMALL, f"hydra.run.dir={run_dir}"]) == 2
    assert "not a provenance record" in one_line_error(capsys, "run")
    assert (run_dir / "provenance.json").read_text() == "[1, 2]"  # kept for the user to look at


def test_malformed_hydra_config(tmp_path, capsys):
    run_dir = interrupted_run(tmp_path / "run")
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text(": [not yaml\n")
    assert sim_main(["resume", str(run_dir)]) == 2
    assert "config.yaml cannot be read" in one_line_error(capsys, "resume")


def test_report_out_pointing_at_a_file(tmp_path, capsys):
    import numpy as np
    import xarray as xr

    from sim import results

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results.write_results(xr.Dataset({"output": ("period", np.ones(3))}, attrs={"periods_per_year": 4}), run_dir)
    (tmp_path / "file").write_text("x")
    assert sim_main(["report", str(run_dir), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in one_line_error(capsys, "report")


# --- item 9: results.zarr carries checksums; a damaged store is refused -----------------------------
def written_results(run_dir: Path, periods: int = 6) -> Path:
    import numpy as np

    from sim import results

    quantiles = np.linspace(0.0, 1.0, 11)
    rows = [{name: t + 0.5 for name in results.SERIES} for t in range(periods)]
    snap = {name: np.full(10 if dim == "decile" else quantiles.size, 0.5)
            for name, (dim, _, _) in results.SNAPSHOTS.items()}
    ds = results.build_dataset(rows, {0: snap, periods - 1: snap}, quantiles,
                               {"scenario": "baseline", "seed": 1, "households": 100, "periods_per_year": 4})
    run_dir.mkdir(parents=True)
    results.write_results(ds, run_dir)
    return run_dir


def test_results_with_a_chunk_deleted_are_refused(tmp_path, capsys):
    import sim
    from sim.data import LoadError

    run_dir = written_results(tmp_path / "run")
    back = sim.load(run_dir)  # intact: loads, and the checksums stay out of the user's attrs
    assert "checksums" not in back.attrs and float(back["output"][0]) == 0.5
    chunk = next((run_dir / "results.zarr" / "gini_wealth").rglob("c/*"))
    chunk.unlink()  # reads back as the fill value (NaN): what `sim report` showed as n/a

    with pytest.raises(LoadError) as info:
        sim.load(run_dir)
    assert "damaged" in str(info.value) and "gini_wealth" in str(info.value) and "\n" not in str(info.value)
    assert sim_main(["report", str(run_dir), "--out", str(tmp_path / "report")]) == 2
    line = one_line_error(capsys, "report")
    assert "damaged" in line and "gini_wealth" in line


def test_results_with_a_variable_removed_or_a_value_altered_are_refused(tmp_path):
    import shutil

    import numpy as np
    import zarr

    import sim
    from sim.data import LoadError

    run_dir = written_results(tmp_path / "run")
    arr = zarr.open_array(run_dir / "results.zarr" / "output", mode="r+")
    arr[2] = np.nextafter(arr[2], np.inf)  # one bit of one value
    with pytest.raises(LoadError, match="output does not match its checksum"):
        sim.load(run_dir)
    other = written_results(tmp_path / "other")
    shutil.rmtree(other / "results.zarr" / "wage")
    with pytest.raises(LoadError):
        sim.load(other)


# --- item 8: a refused start leaves no directory that looks like a run ------------------------------
def test_refused_start_leaves_no_run_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    assert sim_main(["run", *SMALL, "checkpoint.every=2", f"checkpoint.store={tmp_path / 'a-file' / 'store'}"]) == 2
    assert "checkpoint.store" in one_line_error(capsys, "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "outputs"]
    assert list((tmp_path / "outputs").iterdir()) == [], "the refused run left outputs/DATE/TIME/"
