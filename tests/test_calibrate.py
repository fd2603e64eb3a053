"""`sim calibrate` (docs/calibration.md): the objective against hand-worked cases, the moments
against a dataset built by hand, the spec's checks, the journal, and the reduced calibration run
end to end on the session's Ray: its outputs, the config group `sim run` composes, and an
interrupted calibration (a killed process) that continues without running a finished candidate
again and ends where the uninterrupted one ends."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
import yaml
from omegaconf import OmegaConf

import sim
import sim.config
from sim.calibrate import outputs, spec as specs
from sim.calibrate.driver import Evaluator, calibrate
from sim.calibrate.journal import Journal
from sim.calibrate.moments import moments
from sim.calibrate.targets import TARGETS, fit_rows, korinek_suh_capital_output, loss
from sim.errors import ConfigError

# The reduced (CI) form: 5 candidates (scipy's smallest population, no further generation) of one
# parameter, 1,000 households, 8 quarters, moments over the last 4, one discount factor, from the
# exponential draw: the machinery is what is checked, and the spec's 7 types and stationary opening
# would add each candidate's 7 solves a period and opening solves (its own beta: no process-wide
# reuse), most of a candidate's cost. The written group carries both overrides (spec.fixed).
CI = ["name=ci", "parameters=[{key: household.beta, low: 0.965, high: 0.99}]", "optimiser.popsize=1",
      "optimiser.maxiter=0", "optimiser.seed=3", "burn_in=4", "population.households=1000",
      "population.block_size=250", "periods=8", "population.initial_wealth=exponential",
      "household.types.count=1"]
CANDIDATES = 5


# --- the objective -------------------------------------------------------------------------------
def test_korinek_suh_capital_output_by_hand():
    """sigma = 1/2 makes the CES a harmonic mean: Y = A / (Phi^2 / K + (1 - Phi)^2 / L)."""
    A, phi, K = 0.5, 0.608, 4.6
    Y = A / (phi ** 2 / K + (1 - phi) ** 2 / 1.0)
    assert korinek_suh_capital_output() == pytest.approx(K / Y, rel=1e-12)
    assert 2.1 < K / Y < 2.2


def test_loss_is_the_weighted_sum_of_squared_deviations():
    m = {"lorenz_20": 0.0, "top10_share": 0.6, "capital_output": 2.0, "participation_rate": None}
    w = {"lorenz_20": 1.0, "top10_share": 2.0, "capital_output": 0.5, "participation_rate": 3.0}
    ky = 4.6 / (0.5 / (0.608 ** 2 / 4.6 + 0.392 ** 2))
    expected = 1.0 * 0.002 ** 2 + 2.0 * (0.6 - 0.70) ** 2 + 0.5 * (2.0 - ky) ** 2
    assert loss(m, w) == pytest.approx(expected, rel=1e-12)
    rows = fit_rows(m, w)
    assert [r.target for r in rows] == list(w)
    skipped = rows[-1]
    assert skipped.model is None and skipped.contribution is None and "skipped" in skipped.note
    assert sum(r.contribution for r in rows[:-1]) == pytest.approx(expected, rel=1e-12)
    # a perfect fit costs nothing, whatever the weights
    assert loss({n: TARGETS[n].value for n in w}, w) == 0.0


def synthetic(periods=10, with_capital=True, with_beliefs=False):
    """A results dataset with values set by hand."""
    q = np.linspace(0.0, 1.0, 11)
    snaps = np.array([0, 5, 9])
    curves = np.stack([q ** 2, q ** 3, q ** 5])  # Lorenz curves at the three snapshots
    t = np.arange(periods)
    data = {"lorenz_wealth": (("snapshot", "quantile"), curves),
            "top10_wealth_share": ("period", 0.5 + 0.01 * t),
            "top1_wealth_share": ("period", 0.2 + 0.0 * t),
            "output": ("period", 1.0 + t)}
    if with_capital:
        data["capital"] = ("period", 8.0 + 0.0 * t)
    if with_beliefs:  # E[R] - 1 = 0.02 + 0.001 t against R_f = 1.005: excess 0.015 + 0.001 t a quarter
        data["expected_equity_return"] = ("period", 0.02 + 0.001 * t)
        data["return_safe"] = ("period", 1.005 + 0.0 * t)
    return xr.Dataset(data, coords={"period": t, "snapshot": snaps, "quantile": q},
                      attrs={"periods_per_year": 4})


def test_moments_after_the_burn_in():
    found, notes, extra = moments(synthetic(), burn_in=5)
    # Lorenz: mean of the snapshots at 5 and 9 (q^3 and q^5), at grid points
    assert found["lorenz_20"] == pytest.approx((0.2 ** 3 + 0.2 ** 5) / 2, rel=1e-12)
    assert found["lorenz_80"] == pytest.approx((0.8 ** 3 + 0.8 ** 5) / 2, rel=1e-12)
    assert extra["snapshots"] == 2
    # top shares: mean over periods 5..9
    assert found["top10_share"] == pytest.approx(0.5 + 0.01 * 7, rel=1e-12)
    assert found["top1_share"] == pytest.approx(0.2)
    # K/Y: 5 x 8 / (4 x (6 + 7 + 8 + 9 + 10)) years
    assert found["capital_output"] == pytest.approx(40.0 / (4 * 40.0), rel=1e-12)
    assert found["participation_rate"] is None and "participation_rate" in notes["participation_rate"]
    assert found["expected_premium"] is None and "expected_equity_return" in notes["expected_premium"]
    # the expected premium, per year: 4 x the mean over periods 5..9 of (0.015 + 0.001 t)
    priced, _, _ = moments(synthetic(with_beliefs=True), burn_in=5)
    assert priced["expected_premium"] == pytest.approx(4 * (0.015 + 0.001 * 7), rel=1e-12)
    # the real safe rate, per year: 4 x 0.005
    assert priced["real_safe_rate"] == pytest.approx(0.02, rel=1e-12)
    assert found["real_safe_rate"] is None and "return_safe" in notes["real_safe_rate"]
    fixed, notes, _ = moments(synthetic(with_capital=False), burn_in=0)
    assert fixed["capital_output"] is None and "capital" in notes["capital_output"]
    with pytest.raises(ValueError, match="burn_in"):
        moments(synthetic(), burn_in=10)


def test_the_written_group_keeps_each_setting_s_type():
    """A fixed setting that is a word (the opening's law) is written as that word, an integer as an
    integer, an estimate as a float (it crashed the calibration's last step when it was a float())."""
    text = outputs.calibration_yaml("x", {"loss": 0.1, "params": {"household.beta": np.float64(0.98)}}, [], [], 4, 1,
                                    {"population.initial_wealth": "stationary", "household.types.count": 7})
    assert yaml.safe_load(text) == {"population": {"initial_wealth": "stationary"},
                                    "household": {"beta": 0.98, "types": {"count": 7}}}


# --- the spec and the journal --------------------------------------------------------------------
@pytest.mark.parametrize("items, message", [
    (["parameters=[{key: household.betta, low: 0.9, high: 0.99}]"], "unknown config key 'household.betta'"),
    (["parameters=[{key: household.grid_points, low: 10, high: 20}]"], "not a number"),
    (["parameters=[{key: household.beta, low: 0.99, high: 0.95}]"], "low < high"),
    (["parameters=[{key: household.beta, low: 0.95, high: 0.98}]"], "starts at 0.98"),  # the calibrated beta
    (["targets={gini: 1.0}"], "unknown target 'gini'"),
    (["burn_in=400"], "burn_in=400"),  # the spec runs 400 periods
    (["name=a/b"], "name"),
    (["fixed={household.betta: 0.9}"], "unknown config key 'household.betta'"),
    (["fixed={household.beta: 0.98}"], "fixed: household.beta is also a parameter"),
    (["populaton.households=5"], "unknown config key 'populaton"),
])
def test_spec_problems_are_one_line(items, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        specs.load(None, items)


def test_the_market_spec_estimates_the_priced_markets_block():
    """conf/calibrate_market.yaml loads, runs under the priced market, and starts from the values
    its documented runs started from (docs/calibration.md section 10: stop 13's estimate, the start
    of stop 21's and stop 22's refits), not the shipped result; on the wealth block's base run,
    from its stationary opening."""
    spec, base = specs.load(sim.config.CONF_DIR / "calibrate_market.yaml")
    assert base.economy.equity.market == "priced" and base.population.initial_wealth == "stationary"
    assert {p.key: p.start for p in spec.parameters} == {"economy.risky_std": 0.1201,
                                                          "economy.equity.participation_cost": 0.0152}
    wealth, _ = specs.load()
    assert (spec.burn_in, base.periods) == (wealth.burn_in, 80)
    assert {k for k, w in spec.targets.items() if w > 0} == {"participation_rate", "expected_premium"}
    # the shipped values, estimated by it, lie inside its box
    for p in spec.parameters:
        shipped = OmegaConf.select(base, p.key)
        assert p.low < shipped < p.high, p.key


def test_spec_splits_spec_keys_from_run_overrides():
    spec, base = specs.load(None, ["burn_in=4", "periods=8", "optimiser.maxiter=1", "seed=7"])
    assert spec.burn_in == 4 and spec.optimiser.maxiter == 1
    assert base.periods == 8 and base.seed == 7 and spec.run[-2:] == ["periods=8", "seed=7"]
    assert base.checkpoint.every == 0  # candidates are not checkpointed


def test_a_run_override_of_a_fixed_setting_is_what_the_group_carries():
    """The candidates run with a command line's override of a fixed setting, so the written group
    (spec.fixed) must carry it: it carried the spec file's value, a calibration it was not fitted with."""
    shipped, _ = specs.load(None, [])
    assert shipped.fixed["population.initial_wealth"] == "stationary"
    assert shipped.fixed["household.types.count"] == 7
    spec, base = specs.load(None, ["population.initial_wealth=exponential", "household.types.count=3"])
    assert base.population.initial_wealth == "exponential" and base.household.types.count == 3
    assert spec.fixed["population.initial_wealth"] == "exponential"
    assert spec.fixed["household.types.count"] == 3
    assert spec.fixed["policy.fiscal.target_debt_to_gdp"] == shipped.fixed["policy.fiscal.target_debt_to_gdp"]


def test_a_candidate_is_journaled_with_its_own_generation(tmp_path):
    """DE asks whole generations (the initial population is generation 0), so candidate n is in
    generation n // population; scipy's callback comes only after a generation ends, too late to
    label the candidates of the generation it closes (the full form journaled all 16 as 0)."""
    spec, base = specs.load(None, ["parameters=[{key: household.beta, low: 0.97, high: 0.99}]",
                                   "optimiser.popsize=1"])  # population max(5, 1 x 1) = 5
    ev = Evaluator(spec, base, tmp_path, None, print, 1, 10)
    failed = {"seconds": 0.0, "error": "inadmissible"}
    assert [ev._entry(n, [0.98], failed)["generation"] for n in (0, 4, 5, 9)] == [0, 0, 1, 1]


def test_a_candidate_whose_market_cannot_clear_is_penalised_and_broken_accounts_stop(tmp_path, monkeypatch):
    # a candidate's economy that stops (sim.errors.EconomyStopped) is that candidate's failure, as
    # MarketDidNotClear always was; accounts that do not close are a bug and stop the calibration
    import sim.coordinator
    from sim.accounts import AccountingError
    from sim.calibrate.driver import evaluate
    from sim.errors import EconomyStopped
    from sim.macro.equity import MarketDidNotClear

    for reason in (MarketDidNotClear("no equity price clears"), AccountingError("period 2: residual nan")):
        def stopping(cfg, run_dir, command, reason=reason):
            raise EconomyStopped(f"period 2: {reason}", reason)

        monkeypatch.setattr(sim.coordinator, "run", stopping)
        if isinstance(reason, AccountingError):
            with pytest.raises(EconomyStopped):
                evaluate(sim.config.compose([]), tmp_path / "c", 4, "sim calibrate")
        else:
            got = evaluate(sim.config.compose([]), tmp_path / "c", 4, "sim calibrate")
            assert got["error"] == "no equity price clears" and got["simulated"]


def test_journal_drops_a_cut_line_and_refuses_another_spec(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, {"spec": {"a": 1}})
    journal.append({"n": 0, "x": [(0.5).hex()], "loss": 2.0})
    journal.append({"n": 1, "x": [(0.25).hex()], "loss": 1.0})
    with open(path, "a") as f:
        f.write('{"n": 2, "x": ["0x1.0p-3"], "lo')  # killed mid-line
    again = Journal(path, {"spec": {"a": 1}})
    assert [e["n"] for e in again.entries] == [0, 1]
    assert again.get([0.25])["loss"] == 1.0 and again.get([0.125]) is None
    assert again.best()["n"] == 1
    assert path.read_text().endswith("}\n")
    with pytest.raises(ConfigError, match="spec.a differs"):
        Journal(path, {"spec": {"a": 2}})


def test_a_journal_continues_past_a_shown_target_and_refuses_a_weighed_one(tmp_path):
    """A target added with weight 0 (shown in the fit table, not in the loss) and the spec's fixed
    settings (compared through the base run) do not refuse a journal; a weighed target does."""
    path = tmp_path / "journal.jsonl"
    old = {"spec": {"targets": {"top1_share": 1.0, "expected_premium": 0.0}, "fixed": {"k": 1}}, "base": {"k": 1}}
    Journal(path, old).append({"n": 0, "x": [(0.5).hex()], "loss": 2.0})
    shown = {"spec": {"targets": {"top1_share": 1.0, "expected_premium": 0.0, "real_safe_rate": 0.0},
                      "fixed": {"k": 1.0}}, "base": {"k": 1}}
    assert Journal(path, shown).get([0.5])["loss"] == 2.0
    weighed = {"spec": {"targets": {"top1_share": 1.0, "real_safe_rate": 1.0}}, "base": {"k": 1}}
    with pytest.raises(ConfigError, match="spec.targets.real_safe_rate differs"):
        Journal(path, weighed)
    with pytest.raises(ConfigError, match="base.k differs"):
        Journal(path, {"spec": {"targets": {"top1_share": 1.0}}, "base": {"k": 2}})


# --- the reduced calibration, end to end ---------------------------------------------------------
@pytest.fixture(scope="module")
def reference(ray_session, tmp_path_factory):
    """The CI form, uninterrupted."""
    out = tmp_path_factory.mktemp("calibration")
    spec, base = specs.load(None, CI)
    lines = []
    outcome = calibrate(spec, base, out, lines.append)
    return spec, base, out, outcome, lines


def test_reduced_calibration_end_to_end(reference, tmp_path, monkeypatch):
    spec, base, out, outcome, lines = reference
    assert outcome.evaluations == CANDIDATES and outcome.simulated == CANDIDATES
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()[1:]]
    assert sorted(e["n"] for e in journal) == list(range(CANDIDATES))
    assert sum(line.startswith("[") for line in lines) == CANDIDATES  # one progress line each
    by_n = {e["n"]: e for e in journal}
    assert by_n[0]["params"]["household.beta"] == base.household.beta  # warm start: the base run's value
    for e in journal:
        beta = e["params"]["household.beta"]
        assert 0.965 <= beta <= 0.99
        run_dir = out / e["run_dir"]
        prov = json.loads((run_dir / "provenance.json").read_text())
        assert prov["config"]["household"]["beta"] == beta and prov["config"]["periods"] == 8
        # the journal's moments are those of the candidate's own results, and its loss theirs
        again, _, _ = moments(sim.load(run_dir), spec.burn_in)
        assert again == e["moments"]
        assert e["loss"] == pytest.approx(loss(again, dict(spec.targets)), rel=1e-12)
    assert outcome.best["loss"] == min(e["loss"] for e in journal)

    install = tmp_path / "conf"
    shutil.copytree(sim.config.CONF_DIR, install)
    paths = outputs.write_all(out, spec.name, outcome.best, dict(spec.targets), spec.run, spec.burn_in,
                              outcome.evaluations, install, dict(spec.fixed))
    table = (out / "fit_table.csv").read_text().splitlines()
    assert table[0].startswith("target,data,model,weight,contribution,note")
    assert len(table) == 1 + len(spec.targets)
    participation = next(r for r in table if r.startswith("participation_rate")).split(",")
    assert 0.0 < float(participation[2]) <= 1.0  # the model's participation_rate, now an output
    assert paths["lorenz"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the group composes with the run schema and carries the spec's fixed settings; without it a run
    # has the shipped calibration, and without any the schema's values
    monkeypatch.setattr(sim.config, "CONF_DIR", install)
    calibrated = sim.config.compose(["calibration=ci"])
    assert calibrated.household.beta == outcome.best["params"]["household.beta"]
    for key, value in spec.fixed.items():
        assert OmegaConf.select(calibrated, key) == value, key
    assert sim.config.compose(["calibration=ci", "household.beta=0.97"]).household.beta == 0.97
    assert sim.config.compose([]).household.beta == base.household.beta
    assert sim.config.compose(["~calibration"]).household.beta == 0.985


def test_interrupted_calibration_continues(reference, ray_session, tmp_path):
    """Kill a calibration after two candidates are journaled; the same command continues: the
    journaled candidates are not run again, and candidates and best equal the uninterrupted run."""
    spec, base, ref_out, ref, _ = reference
    out = tmp_path / "cal"
    env = dict(os.environ, RAY_ADDRESS=ray_session.address_info["address"])
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "calibrate", "--out", str(out), "--no-install",
                             *CI], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    journal = out / "journal.jsonl"
    try:
        while proc.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 3:  # header + 2
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"finished before it could be interrupted: {proc.stderr.read()[-2000:]}"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert 2 <= len(before) < CANDIDATES
    stamps = {e["n"]: (out / e["run_dir"] / "provenance.json").read_text() for e in before}
    import ray

    for _ in range(600):  # the killed driver's tasks and their actors are gone (Ray's fate-sharing)
        if ray.available_resources().get("CPU", 0) >= ray.cluster_resources()["CPU"]:
            break
        time.sleep(0.1)
    outcome = calibrate(spec, base, out, lambda line: None)
    assert outcome.evaluations == CANDIDATES
    assert outcome.simulated <= CANDIDATES - len(before)
    after = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert sorted(e["n"] for e in after) == list(range(CANDIDATES))  # each candidate once
    for e in before:
        assert (out / e["run_dir"] / "provenance.json").read_text() == stamps[e["n"]]
    reference_journal = {json.loads(line)["n"]: json.loads(line)
                         for line in (ref_out / "journal.jsonl").read_text().splitlines()[1:]}
    for e in after:
        assert e["x"] == reference_journal[e["n"]]["x"] and e["loss"] == reference_journal[e["n"]]["loss"]
    assert outcome.best["x"] == ref.best["x"] and outcome.best["loss"] == ref.best["loss"]


def test_cli_help_names_every_target_and_source(capsys):
    from sim.cli import main

    assert main(["calibrate", "--help"]) == 0
    text = capsys.readouterr().out
    for name, target in TARGETS.items():
        assert name in text
    assert "Carroll, Slacalek, Tokuoka & White (2017)" in text and "Korinek & Suh (2024)" in text
    assert "Graham & Harvey (2018)" in text and "4.42%/yr" in text
    assert main(["calibrate", "--out"]) == 2
    assert "--out needs a value" in capsys.readouterr().err
