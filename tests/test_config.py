"""Bad configuration stops `sim run` before any work, with one line that names the key."""
import dataclasses
import os
import shutil
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from sim.cli import main
from sim.config import ConfigError, compose


@pytest.mark.parametrize("override, key", [
    ("population.housholds=10", "population.housholds"),   # misspelt key
    ("nonsense=1", "nonsense"),
    ("population.households=-5", "population.households"),
    ("periods=0", "periods"),
    ("cluster.actors=two", "cluster.actors"),
    ("cluster.actors=0", "cluster.actors"),
    ("household.beta=1.2", "household.beta"),
    ("backend=gpu", "backend"),
    ("scenario=utopia", "scenario"),
    ("seed=abc", "seed"),
    ("+population.housholds=10", "population.housholds"),  # a new key added with '+'
    ("+economy.labour.speed=1", "economy.labour.speed"),   # ... at any depth
    ("+population.households=4", "population.households"),  # '+' on a key that exists
    ("population.households=abc", "population.households"),  # wrong type
    ("output.progress=maybe", "output.progress"),
    ("household.tolerance=nan", "household.tolerance"),
])
def test_bad_override_one_line_error_naming_key(override, key, tmp_path, capsys):
    run_dir = tmp_path / "run"
    overrides = [override, f"hydra.run.dir={run_dir}"]
    code = main(["run", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert key in err
    assert not run_dir.exists()  # stopped before any work


def test_more_actors_than_blocks_run_one_actor_a_block():
    # an actor owns whole blocks and results do not depend on the layout (tests/test_run.py), so a
    # small population runs rather than being refused: sim run's default 2 actors at 50,000
    assert compose(["population.households=1000", "population.block_size=512", "cluster.actors=3"]).cluster.actors == 2
    assert compose(["population.households=50000"]).cluster.actors == 1
    assert compose(["population.households=3", "cluster.actors=5"]).cluster.actors == 1
    assert compose(["population.households=200000", "cluster.actors=3"]).cluster.actors == 3  # 4 blocks


def test_sweep_values_are_checked_each(capsys, tmp_path):
    code = main(["run", "-m", "periods=3,-1", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert code == 2 and "periods" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_defaults_compose_and_validate():
    cfg = compose([])
    assert cfg.population.households == 1_000_000 and cfg.cluster.actors == 2
    assert cfg.periods == 40 and cfg.backend.name == "fused"


def test_help_explains_keys(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for key in ("population.households", "cluster.actors", "checkpoint.store", "scenario", "-m"):
        assert key in out


def test_population_too_large_for_memory_is_refused_before_work(tmp_path, capsys):
    # 10^11 households cannot fit any machine this runs on; nothing may be created
    code = main(["run", "population.households=100000000000", "population.block_size=1048576",
                 f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "population.households" in err and "GiB" in err
    assert not (tmp_path / "run").exists()


def test_memory_check_scales_with_backend():
    from sim.config import check_local_memory

    cfg = compose(["population.households=10000000"])
    check_local_memory(cfg, available=4 * 2**30)  # fused: 10^7 x 80 B fits in 4 GiB
    cfg.backend.name = "numpy"
    with pytest.raises(ConfigError, match="backend=numpy"):
        check_local_memory(cfg, available=4 * 2**30)  # the reference's temporaries do not


def test_shard_refuses_what_its_node_cannot_hold():
    """On a cluster the actor checks its own node before allocating anything."""
    from sim.layout import Shard
    from sim.shard import HouseholdShard

    shard = HouseholdShard(Shard(0, 0, 10**11), block_size=1024, backend="fused", key=1)
    with pytest.raises(MemoryError, match="raise cluster.actors"):
        shard.initialise(5.0, 0.2, 0.05, 0.0, [1.0])
    assert shard.state is None


def test_gpu_backend_on_a_cluster_without_gpus_is_refused(ray_session):
    from sim.coordinator import reserve_actors

    with pytest.raises(ConfigError, match="GPU .* backend=fused"):
        reserve_actors(2, 0.5, gpu=True)


def test_too_patient_households_are_refused_before_work(tmp_path, capsys):
    """beta * R >= 1 has no stationary solution (the solver's condition), caught at config time."""
    code = main(["run", "economy.closure=fixed", "market=value", "economy.return_safe=1.02", "household.beta=0.99",
                 f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "household.beta" in err and "economy.return_safe" in err
    assert not (tmp_path / "run").exists()


def test_misspelt_key_added_with_plus_is_refused_by_the_command(tmp_path):
    """`sim run +population.housholds=10` as a user types it: one line naming the key, exit 2, and
    no work: RAY_ADDRESS points nowhere, so starting Ray would fail with pages of output instead."""
    run_dir = tmp_path / "run"
    env = dict(os.environ, RAY_ADDRESS="127.0.0.1:1")
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", "+population.housholds=10",
                           f"hydra.run.dir={run_dir}"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sim run: error: unknown config key 'population.housholds' "
        "(see `sim run --help`, or sim/config_schema.py for every key)"]
    assert not run_dir.exists()


def test_unknown_key_in_a_sweep_is_refused_before_it_starts(tmp_path, capsys):
    code = main(["run", "-m", "seed=1,2", "+population.housholds=10", f"hydra.sweep.dir={tmp_path / 's'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "population.housholds" in err
    assert not (tmp_path / "s").exists()


@pytest.fixture
def conf_copy(tmp_path, monkeypatch):
    """A copy of conf/ that a test may add scenario files to."""
    import sim.config

    conf = tmp_path / "conf"
    shutil.copytree(sim.config.CONF_DIR, conf)
    monkeypatch.setattr(sim.config, "CONF_DIR", conf)
    return conf


@pytest.mark.parametrize("body, message", [
    ("policy:\n  ubi:\n    levle: 0.1\n", "unknown config key 'policy.ubi.levle'"),
    ("policy:\n  ubi:\n    level: lots\n", "policy.ubi.level must be a finite number, got 'lots'"),
    ("economy:\n  taylor:\n    smoothing: 1.0\n", "economy.taylor.smoothing must be < 1.0, got 1.0"),
])
def test_scenario_file_keys_are_checked_too(conf_copy, tmp_path, capsys, body, message):
    (conf_copy / "scenario" / "typo.yaml").write_text(
        "# @package _global_\ndefaults:\n  - baseline\n  - _self_\n" + body)
    code = main(["run", "scenario=typo", f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert message in err
    assert not (tmp_path / "run").exists()


def test_validate_refuses_a_key_added_behind_the_schema():
    """The check inside the Hydra app (after composition) sees keys added any way at all."""
    from sim.config import validate

    cfg = compose([])
    OmegaConf.update(cfg, "population.housholds", 10, force_add=True)  # what Hydra's '+' does
    with pytest.raises(ConfigError, match=r"unknown config key 'population\.housholds'"):
        validate(cfg)


def _bounded_keys(schema, prefix=""):
    from sim.config import schema_fields

    for name, (kind, spec) in schema_fields(schema).items():
        if dataclasses.is_dataclass(kind):
            yield from _bounded_keys(kind, f"{prefix}{name}.")
        elif any(b in spec.metadata for b in ("ge", "gt", "le", "lt")):
            yield f"{prefix}{name}", spec.metadata


def test_every_declared_range_is_enforced_with_the_key_named():
    """For each key with a declared bound, a value just past the bound is refused naming the key
    (and the bound); a value on an inclusive bound is accepted by the range check."""
    from sim.config import check_ranges, validate
    from sim.config_schema import SimConfig

    base = compose(["economy.closure=demand"])
    keys = list(_bounded_keys(SimConfig))
    assert len(keys) > 80  # the schema declares ranges for (almost) every number
    for key, bounds in keys:
        integer = isinstance(OmegaConf.select(base, key), int)
        step = 1 if integer else 1e-9
        for name, outside in (("ge", -step), ("gt", 0), ("le", step), ("lt", 0)):
            if name not in bounds:
                continue
            bound = bounds[name]
            if integer and bound == 2**64 - 1:
                continue
            cfg = base.copy()
            OmegaConf.update(cfg, key, bound + outside)
            with pytest.raises(ConfigError, match=rf"^{key} must be"):
                validate(cfg)
            if name in ("ge", "le"):
                OmegaConf.update(cfg, key, bound)
                check_ranges(cfg)  # the bound itself is inside


def test_typed_config_objects():
    """The checked config as dataclass instances, the same values as attribute access gives."""
    from sim.config import typed
    from sim.config_schema import SimConfig, Taylor

    cfg = compose(["scenario=agi_20y_ubi"])
    run = typed(cfg)
    assert isinstance(run, SimConfig) and isinstance(run.economy.taylor, Taylor)
    assert run.policy.ubi.level == cfg.policy.ubi.level == 0.1
    assert run.population.households == 1_000_000 and run.economy.automation_path.T is None
    assert isinstance(cfg.economy.wage, float) and isinstance(cfg.periods, int)


def test_run_shape_is_computed_once_from_the_config():
    """20000 households in blocks of 1024: 20 blocks (the last one partial), 10 per actor."""
    from sim.layout import RunShape

    shape = RunShape.of(compose(["population.households=20000", "population.block_size=1024",
                                 "cluster.actors=2"]))
    assert (shape.households, shape.block_size, shape.actors, shape.blocks) == (20000, 1024, 2, 20)
    assert [(s.lo, s.hi) for s in shape.shards] == [(0, 10240), (10240, 20000)]
