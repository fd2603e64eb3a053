"""Command-line habits: `sim --version`, bash completion, progress lines in non-terminal logs."""
import io
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]


def sim(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_version_is_the_project_version():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    proc = sim("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"sim (agency-sim) {declared}"


@pytest.fixture(scope="module")
def completing_bash(tmp_path_factory):
    """A function that runs bash's completion of a `sim` command line (as <TAB> would) and returns
    the words offered, with the completion script `sim completion bash` printed, loaded in bash."""
    if shutil.which("bash") is None:
        pytest.skip("no bash on this machine")
    bin_dir = tmp_path_factory.mktemp("bin")
    wrapper = bin_dir / "sim"  # `sim` on PATH, running this checkout with this interpreter
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sim.cli "$@"\n')
    wrapper.chmod(0o755)
    script = sim("completion", "bash").stdout
    assert "complete " in script

    def complete(line):
        program = (script + '\nCOMP_LINE="$1"; COMP_POINT=${#COMP_LINE}\n'
                   'read -ra COMP_WORDS <<< "$COMP_LINE"\n'
                   '[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")\n'
                   'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n'
                   '_sim_completion\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        proc = subprocess.run(["bash", "--norc", "-c", program, "bash", line], env=env,
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        return [w for w in proc.stdout.splitlines() if w]

    return complete


def test_bash_completes_commands_groups_and_options(completing_bash):
    scenarios = sorted(p.stem for p in (ROOT / "conf" / "scenario").glob("*.yaml"))
    assert completing_bash("sim re") == ["resume", "report"]
    assert completing_bash("sim run scen") == ["scenario="]
    assert completing_bash("sim run scenario=") == [f"scenario={s}" for s in scenarios]
    assert completing_bash("sim run -m seed=1,2 scenario=agi_2") == ["scenario=agi_20y", "scenario=agi_20y_ubi"]
    offered = completing_bash("sim run population.")
    assert "population.households=" in offered and all(w.startswith("population.") for w in offered)
    assert completing_bash("sim validate ") == ["aiyagari", "hark", "merton"]


def test_hydra_shell_completion_flag_gives_the_same_script():
    assert sim("run", "--shell-completion", "install=bash").stdout == sim("completion", "bash").stdout


class _Log(io.StringIO):
    def isatty(self):
        return False


def test_progress_in_a_log_is_plain_lines_at_each_tenth():
    from sim.coordinator import _progress

    cfg = OmegaConf.create({"periods": 40, "output": {"progress": True}, "population": {"households": 1000}})
    log = _Log()
    progress = _progress(cfg, stream=log)
    for done in range(1, 41):
        progress(done, elapsed=float(done), households=1000)
    progress.close()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [line.split()[1] for line in lines] == [f"{4 * k}/40" for k in range(1, 11)]
    # 1,000 households a period at a period a second: 0.001M (three significant digits, not 0.0M)
    assert lines[-1].startswith("period 40/40 (100%), 0.001M household-steps/s, 0 s left")


def test_progress_of_few_periods_has_one_line_per_period():
    from sim.coordinator import _progress

    cfg = OmegaConf.create({"periods": 3, "output": {"progress": True}, "population": {"households": 10}})
    log = _Log()
    progress = _progress(cfg, stream=log)
    for done in (1, 2, 3):
        progress(done, elapsed=1.0, households=10)
    assert [line.split()[1] for line in log.getvalue().splitlines()] == ["1/3", "2/3", "3/3"]
