"""Bad configuration stops `sim run` before any work, with one line that names the key."""
import pytest

from sim.cli import main
from sim.config import ConfigError, compose


@pytest.mark.parametrize("override, key", [
    ("population.housholds=10", "population.housholds"),   # misspelt key
    ("nonsense=1", "nonsense"),
    ("population.households=-5", "population.households"),
    ("periods=0", "periods"),
    ("population.households=3", "cluster.actors"),          # 2 actors for 3 households is fine...
    ("cluster.actors=0", "cluster.actors"),
    ("household.beta=1.2", "household.beta"),
    ("backend=gpu", "backend"),
    ("scenario=utopia", "scenario"),
    ("seed=abc", "seed"),
])
def test_bad_override_one_line_error_naming_key(override, key, tmp_path, capsys):
    run_dir = tmp_path / "run"
    overrides = [override, f"hydra.run.dir={run_dir}"]
    if override == "population.households=3":  # ... but 5 actors are not
        overrides.append("cluster.actors=5")
    code = main(["run", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert key in err
    assert not run_dir.exists()  # stopped before any work


def test_more_actors_than_blocks_is_refused():
    with pytest.raises(ConfigError, match="cluster.actors .* population.block_size"):
        compose(["population.households=1000", "population.block_size=512", "cluster.actors=3"])


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
    code = main(["run", "economy.closure=fixed", "economy.return_safe=1.02", "household.beta=0.99",
                 f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "household.beta" in err and "economy.return_safe" in err
    assert not (tmp_path / "run").exists()
