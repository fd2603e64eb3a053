"""A wheel built from the project carries its Hydra configs, and an installed `sim` runs from any
directory (no checkout, no editable install)."""
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project's wheel, built as a user builds it (`pip wheel . --no-deps`)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (path,) = out.glob("agency_sim-*.whl")
    return path


def test_wheel_carries_every_config_file(wheel):
    sources = {p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml")}
    assert "config.yaml" in sources and any(s.startswith("scenario/") for s in sources)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    missing = {s for s in sources if f"sim/conf/{s}" not in names}
    assert not missing, f"configs not in the wheel: {sorted(missing)}"
    assert "hydra_plugins/sim_ray_launcher/ray_launcher.py" in names


def _installed(wheel, where):
    """Install the wheel (no dependencies) into a plain directory; return an environment whose
    Python imports sim from there, not from the checkout."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target",
                    str(where), str(wheel)], check=True, capture_output=True, timeout=300)
    return dict(os.environ, PYTHONPATH=str(where))


def test_installed_package_finds_its_configs(wheel, tmp_path):
    env = _installed(wheel, tmp_path / "site")
    code = ("import sim, sim.config; print(sim.__file__); print(sim.config.CONF_DIR); "
            "print((sim.config.CONF_DIR / 'config.yaml').is_file())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    module, conf_dir, present = proc.stdout.split()
    site = (tmp_path / "site").resolve()
    assert Path(module).resolve().is_relative_to(site), module
    assert Path(conf_dir).resolve().is_relative_to(site / "sim" / "conf"), conf_dir
    assert present == "True"


@pytest.mark.slow
def test_wheel_in_fresh_venv_runs_from_any_directory(wheel, tmp_path):
    """A new virtual environment with only the wheel installed (its dependencies are borrowed from
    the test's environment through a path entry, which does not activate the editable install's
    import hook) runs `sim run` from a directory unrelated to the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS", "SIM_CONF_DIR")}
    proc = subprocess.run([str(venv / "bin" / "sim"), "run", "population=small", "periods=2",
                           "output.progress=false"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done:" in proc.stderr
    (results,) = workdir.glob("outputs/*/*/results.zarr")
    assert results.is_dir()
    where = subprocess.run([str(python), "-c", "import sim; print(sim.__file__)"], cwd=workdir,
                           env=env, capture_output=True, text=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(Path(site).resolve()), where
