"""``sim validate`` command: argument handling and output formats (small targets only)."""
from __future__ import annotations

import json

import pytest

from sim.validate import main


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "sim validate" in capsys.readouterr().out


def test_unknown_target_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2


def test_merton_json(capsys):
    assert main(["merton", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "merton" and out["ok"]
    assert abs(out["share"][-1] - out["discrete_limit"]) < 2e-3


def test_aiyagari_one_cell_text_and_file(capsys, tmp_path):
    path = tmp_path / "table.txt"
    assert main(["aiyagari", "--cells", "0.2,0.6,3", "--fast", "--out", str(path)]) == 0
    captured = capsys.readouterr()
    assert "3.8767" in captured.out and "[1/1]" in captured.err  # paper value and progress
    assert "3.8767" in path.read_text()


def test_aiyagari_rejects_cells_outside_the_table():
    with pytest.raises(SystemExit):
        main(["aiyagari", "--cells", "0.3,0.6,3"])
