"""Discount-factor types (cstwMPC's beta-dist) and the high-productivity state (Castaneda,
Diaz-Gimenez & Rios-Rull 2003), docs/model.md section 11: closed forms, the per-type solve, the
invariants, and a wealth distribution with fatter tails. Economies are stepped in process
(tests/economy_driver.py); the Ray paths (parallel solves, shard layouts) use the session's Ray."""
import time
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr
from economy_driver import simulate
from omegaconf import OmegaConf

from sim.config import ConfigError, compose, validate
from sim.policy_cache import PolicyCache
from sim.environment import ProductivityChain, discount_factors, household_problem
from sim.solver.egm import EgmMap
from sim.solver.markov import stationary_distribution, tauchen, with_high_state

# the mechanisms are checked against the uncalibrated model (one type, no high state, the schema's
# beta): the shipped calibration (conf/calibration/scf.yaml) is off, each test sets what it needs
BARE = ["~calibration"]
SPREAD = ["household.types.count=3", "household.types.beta_spread=0.01"]
TAIL = ["household.productivity.high_state.level=10", "household.productivity.high_state.entry=0.0025",
        "household.productivity.high_state.exit=0.05"]
FAST_SOLVE = ["household.grid_points=80", "household.kernel_grid_points=256", "household.risky_nodes=5"]


# --- the discount factors -------------------------------------------------------------------------
def test_discount_factors_are_the_midpoints_of_equal_bins_of_the_uniform():
    # cstwMPC: beta ~ U[c - s, c + s] approximated by n equiprobable points (HARK's
    # Uniform.discretize, which takes each bin's midpoint): here written out by hand
    cfg = compose([*BARE, "household.beta=0.98", "household.types.count=4", "household.types.beta_spread=0.02"])
    assert np.allclose(discount_factors(cfg.household), [0.965, 0.975, 0.985, 0.995], rtol=0, atol=1e-15)
    cfg = compose([*BARE, "household.beta=0.97", "household.types.count=3", "household.types.beta_spread=0.03"])
    assert np.allclose(discount_factors(cfg.household), [0.95, 0.97, 0.99], rtol=0, atol=1e-15)
    # one type is the centre exactly, whatever the spread (the model of before the types)
    for spread in (0.0, 0.0137):
        cfg = compose([*BARE, "household.beta=0.9731", f"household.types.beta_spread={spread}"])
        betas = discount_factors(cfg.household)
        assert betas.shape == (1,) and betas[0] == 0.9731


def test_bad_types_and_high_state_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^household.types: beta_j from .* each must be in \(0, 1\)"):
        compose([*BARE, "household.beta=0.985", "household.types.count=2", "household.types.beta_spread=0.04"])
    with pytest.raises(ConfigError, match="^household.types.count must be"):
        compose([*BARE, "household.types.count=257"])  # the type index is one byte
    with pytest.raises(ConfigError, match="high_state.level > 0 needs entry > 0 and exit > 0"):
        compose([*BARE, "household.productivity.high_state.level=5", "household.productivity.high_state.entry=0.01"])
    # the fixed closure's patience condition is the most patient type's
    fixed = ["economy.closure=fixed", "market=value", "economy.return_safe=1.01", "household.beta=0.985"]
    validate(compose([*BARE, *fixed]))  # 0.985 * 1.01 < 1
    with pytest.raises(ConfigError, match="most patient type's beta \\* economy.return_safe"):
        compose([*BARE, *fixed, "household.types.count=2", "household.types.beta_spread=0.02"])  # 0.995 * 1.01


def test_a_fork_cannot_change_the_number_of_types():
    from sim.fork import check_override

    with pytest.raises(ConfigError, match="household.types.count cannot change in a fork"):
        check_override("household.types.count=3", at=4)
    check_override("household.types.beta_spread=0.01", at=4)  # preferences may change


# --- the high-productivity state ------------------------------------------------------------------
@pytest.mark.parametrize("entry, exit", [(0.0025, 0.05), (0.01, 0.2), (0.3, 1.0)])
def test_high_state_has_its_closed_form_stationary_share_and_mean_one(entry, exit):
    _, P = tauchen(5, 0.9, 0.4)
    Q = with_high_state(P, entry, exit)
    assert np.allclose(Q.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    pi = stationary_distribution(Q)
    h = entry / (entry + exit)
    assert abs(pi[-1] - h) < 1e-12
    # the ordinary states keep the Tauchen chain's proportions
    np.testing.assert_allclose(pi[:-1] / (1 - h), stationary_distribution(P), rtol=1e-10)
    # the invariant law by brute force: a long power of the matrix
    np.testing.assert_allclose(np.linalg.matrix_power(Q, 20_000)[0], pi, rtol=1e-8, atol=1e-12)

    cfg = compose([*BARE, "household.productivity.high_state.level=12", f"household.productivity.high_state.entry={entry}",
                   f"household.productivity.high_state.exit={exit}", "household.productivity.states=5",
                   "household.productivity.rho=0.9", "household.productivity.sigma=0.4"])
    chain = ProductivityChain.from_config(cfg.household.productivity)
    assert abs(chain.stationary @ chain.levels - 1.0) < 1e-12  # mean efficiency 1, as without it
    ordinary = chain.levels[:-1] @ pi[:-1] / (1 - h)
    assert abs(chain.levels[-1] / ordinary - 12.0) < 1e-10  # its level: 12 x the ordinary mean
    assert np.allclose(chain.transition, Q, rtol=0, atol=0)


def test_no_high_state_leaves_tauchens_chain_exactly():
    cfg = compose(BARE)
    chain = ProductivityChain.from_config(cfg.household.productivity)
    pc = cfg.household.productivity
    ref = ProductivityChain.tauchen(pc.states, pc.rho, pc.sigma)
    assert np.array_equal(chain.levels, ref.levels) and np.array_equal(chain.transition, ref.transition)


# --- the solves -------------------------------------------------------------------------------------
def _problem(cfg):
    from sim.economy import make_economy

    economy = make_economy(cfg, 1)
    env = economy.environment(0, None, None)
    return household_problem(env, ProductivityChain.from_config(cfg.household.productivity), cfg.household)


def test_each_types_policy_is_the_single_type_solve_at_its_beta():
    cfg = compose([*BARE, *FAST_SOLVE, *SPREAD, "economy.closure=fixed", "market=value"])
    c, share = PolicyCache(cfg.household).tables(_problem(cfg), 0)
    assert c.shape[0] == share.shape[0] == 3
    for j, beta in enumerate(discount_factors(cfg.household)):
        alone = compose([*BARE, *FAST_SOLVE, f"household.beta={float(beta)!r}", "economy.closure=fixed", "market=value"])
        c1, share1 = PolicyCache(alone.household).tables(_problem(alone), 0)
        assert c1.shape[0] == 1
        assert np.array_equal(c[j], c1[0]) and np.array_equal(share[j], share1[0]), j
    # more patience, no more consumption anywhere (the same where the borrowing limit binds and
    # all is spent), and less wherever the households save (the upper half of the grid)
    assert np.all(np.diff(c, axis=0) <= 0)
    assert np.all(np.diff(c[:, :, c.shape[2] // 2:], axis=0) < 0)


def test_parallel_solves_on_ray_equal_the_serial_ones(ray_session):
    from sim.household_types import solve_types, type_problems

    cfg = compose([*BARE, *FAST_SOLVE, *SPREAD, "economy.closure=fixed", "market=value"])
    problems = type_problems(_problem(cfg), discount_factors(cfg.household))
    serial = solve_types(problems, 1e-6, [None] * 3, parallel=False)
    parallel = solve_types(problems, 1e-6, [None] * 3, parallel=True)
    warm = solve_types(problems, 1e-7, parallel, parallel=True)  # warm starts travel with the tasks
    for a, b, w in zip(serial, parallel, warm, strict=True):
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("m", "c", "share"))
        assert w.iterations < a.iterations
    assert not np.array_equal(serial[0].c, serial[2].c)  # each task solved its own type's problem
    # forecasts travel with the tasks too (here the moved problems' own solutions: surely used)
    moved = type_problems(replace(_problem(cfg), income=_problem(cfg).income * 1.01), discount_factors(cfg.household))
    plain = solve_types(moved, 1e-6, serial, parallel=False)
    forecasts = [EgmMap(p).variables(s) for p, s in zip(moved, plain)]
    on_ray = solve_types(moved, 1e-6, serial, parallel=True, forecasts=forecasts)
    here = solve_types(moved, 1e-6, serial, parallel=False, forecasts=forecasts)
    for a, b, c in zip(here, on_ray, plain, strict=True):
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("m", "c", "share"))
        assert b.iterations < c.iterations


def test_policy_cache_with_types_restores_bit_for_bit():
    from sim.checkpoint.macro_state import MacroState
    from sim.economy import make_economy

    cfg = compose([*BARE, *FAST_SOLVE, *SPREAD, "economy.closure=fixed", "market=value"])
    problem = _problem(cfg)
    running = PolicyCache(cfg.household)
    running.tables(problem, 0)
    files = MacroState(make_economy(cfg, 1), running, period=1).to_files()
    restored = MacroState(make_economy(cfg, 1), PolicyCache(cfg.household)).load_files(files).policy
    assert restored.solves == running.solves == 3
    moved = replace(problem, R_free=problem.R_free + 1e-4)  # the next period's problem moved a little
    expected, got = running.tables(moved, 1), restored.tables(moved, 1)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True))


# --- the economy ---------------------------------------------------------------------------------------
def test_one_type_equals_three_types_that_share_beta():
    """With no spread every type has household.beta, so three tables of the same policy must give
    the single-type run's numbers bit for bit: the type byte and the table offset change nothing."""
    one = simulate(*BARE, periods=6)
    three = simulate(*BARE, "household.types.count=3", periods=6)
    assert np.array_equal(one.households.state["type"], np.zeros(2000))
    assert np.array_equal(three.households.state["type"], np.arange(2000) % 3)
    for a, b in zip(one.rows, three.rows, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=True), k


@pytest.fixture(scope="module")
def wealth_runs():
    common = ["population.households=20000", "backend=fused"]
    return {"one": simulate(*BARE, *common, periods=80),
            "types": simulate(*BARE, *common, *SPREAD, *TAIL, periods=80)}


def _wealth(run):
    st = run.households.state
    return st["safe"] + st["risky"], st["type"]


def test_more_patient_types_hold_more_wealth(wealth_runs):
    wealth, types = _wealth(wealth_runs["types"])
    means = [wealth[types == j].mean() for j in range(3)]
    assert means[0] < means[1] < means[2]
    assert means[2] > 1.5 * means[0]


def test_types_and_the_high_state_spread_the_wealth_distribution(wealth_runs):
    """Qualitative (docs/model.md 11): the single-type baseline's wealth is far too equal (Gini
    about 0.47); the beta spread and the earnings tail raise the Gini and the top shares and lower
    the bottom half's share. Checked against the households' own state, not only the results rows."""
    one, types = wealth_runs["one"].rows[-1], wealth_runs["types"].rows[-1]
    assert types["gini_wealth"] > one["gini_wealth"] + 0.1
    assert types["top10_wealth_share"] > one["top10_wealth_share"] + 0.1
    assert types["top1_wealth_share"] > one["top1_wealth_share"]
    assert types["bottom50_wealth_share"] < one["bottom50_wealth_share"]

    def gini(w):  # the sample Gini, sorted cumulative-sum formula
        w = np.sort(w)
        n = len(w)
        return (2 * np.arange(1, n + 1) - n - 1) @ w / (n * w.sum())

    g_one, g_types = gini(_wealth(wealth_runs["one"])[0]), gini(_wealth(wealth_runs["types"])[0])
    assert abs(g_one - one["gini_wealth"]) < 0.02 and abs(g_types - types["gini_wealth"]) < 0.02


def test_results_with_types_are_the_same_on_any_shard_layout(ray_session, tmp_path):
    from sim.coordinator import run

    base = ["population.households=12000", "population.block_size=1024", "periods=4", "output.progress=false",
            "checkpoint.every=0", *FAST_SOLVE, *SPREAD, *TAIL]
    from sim import household_types

    results, solvers = [], []
    for actors in (1, 3):
        run(compose([*BARE, *base, f"cluster.actors={actors}"]), tmp_path / f"a{actors}")
        results.append(xr.open_zarr(tmp_path / f"a{actors}" / "results.zarr").load())
        solvers.append([a._actor_id for a in household_types._POOL["actors"]])
    ref, other = results
    for name in ref.data_vars:
        assert np.array_equal(other[name].values, ref[name].values, equal_nan=True), name
    assert OmegaConf.select(compose([*BARE, *base]), "household.types.count") == 3
    # the second run solved its types on the first run's solver actors, still running
    import os

    assert len(solvers[0]) == min(3, os.cpu_count() or 1) and solvers[1] == solvers[0]


class _EndsTheProcess:
    """Unpickled in a solver actor, it ends that process: a real actor death, every time."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


def test_solver_actors_that_keep_dying_stop_the_round_with_one_line(ray_session):
    """A kept pool whose round fails is replaced once; when the new pool's actors die too (here each
    time the round reaches them), the round stops with a RunError that says what and what to do,
    not a RayActorError the coordinator would read as a lost shard; the pool is gone after it."""
    from sim import household_types
    from sim.errors import RunError
    from sim.household_types import solve_types, type_problems

    cfg = compose([*BARE, *FAST_SOLVE, *SPREAD, "economy.closure=fixed", "market=value"])
    problems = type_problems(_problem(cfg), discount_factors(cfg.household))
    solve_types(problems, 1e-6, [None] * 3, parallel=True)  # a kept pool
    assert household_types._POOL["actors"]
    with pytest.raises(RunError, match="solver actors died") as info:
        solve_types([problems[0], _EndsTheProcess(), problems[2]], 1e-6, [None] * 3, parallel=True)
    assert "\n" not in str(info.value)
    assert household_types._POOL["actors"] == []
    again = solve_types(problems, 1e-6, [None] * 3, parallel=True)  # a new pool serves the next round
    assert all(np.array_equal(a.c, b.c) for a, b in zip(again, solve_types(problems, 1e-6, [None] * 3,
                                                                              parallel=False)))


def test_a_run_hosted_by_a_ray_task_ends_its_solver_actors(ray_session, tmp_path):
    """A fork's arms, a sweep's jobs and calibration candidates run inside Ray tasks: such a run
    ends its type solvers with it (an idle worker would hold them until the job ends), where a
    driver's run keeps them for its next run (the test above)."""
    import ray
    from ray.util.state import list_actors

    from sim.coordinator import run

    def solvers() -> set:
        return {a.actor_id for a in list_actors(filters=[("class_name", "=", "_Solver"), ("state", "=", "ALIVE")])}

    cfg = compose([*BARE, "population.households=4096", "population.block_size=1024", "periods=2",
                   "output.progress=false", "checkpoint.every=0", *FAST_SOLVE, *SPREAD])
    before = solvers()
    in_task = ray.remote(num_cpus=0, max_retries=0)(lambda: bool(run(cfg, tmp_path / "task")))
    assert ray.get(in_task.remote())
    deadline = time.monotonic() + 30  # the kill is asynchronous
    while solvers() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not solvers() - before
    assert (tmp_path / "task" / "results.zarr").is_dir()


def test_a_dead_solver_actor_of_a_kept_pool_is_replaced(ray_session):
    """The solver actors outlive a run (sim.household_types): one that has died since, beyond its
    restart, is replaced with the whole pool, and the round solved again gives the serial bits."""
    import ray

    from sim import household_types
    from sim.household_types import solve_types, type_problems

    cfg = compose([*BARE, *FAST_SOLVE, *SPREAD, "economy.closure=fixed", "market=value"])
    problems = type_problems(_problem(cfg), discount_factors(cfg.household))
    serial = solve_types(problems, 1e-6, [None] * 3, parallel=False)
    solve_types(problems, 1e-6, [None] * 3, parallel=True)
    before = list(household_types._POOL["actors"])
    ray.kill(before[0], no_restart=True)
    with pytest.raises(ray.exceptions.RayActorError):  # dead before the next round is sent
        ray.get(before[0].warm.remote())
    again = solve_types(problems, 1e-6, [None] * 3, parallel=True)
    after = household_types._POOL["actors"]
    assert {a._actor_id for a in after}.isdisjoint({a._actor_id for a in before})
    for a, b in zip(serial, again, strict=True):
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("m", "c", "share"))


def test_a_shard_refuses_fewer_tables_than_its_households_types():
    # the fused and GPU kernels do not check the type byte against the tables (it would cost a
    # pass): the shard does, once per step, before a kernel could read past the tables
    from sim.bench_inputs import synthetic_inputs
    from sim.layout import Shard
    from sim.shard import HouseholdShard

    inp = synthetic_inputs(n_z=3, n_grid=64, types=2)
    shard = HouseholdShard(Shard(0, 0, 4096), block_size=1024, backend="fused", key=1)
    shard.initialise(3.0, 0.3, 0.05, 0.2, inp["stationary"], 3)
    assert shard.types == 3
    tables = (inp["params"], inp["productivity"], inp["transition_cdf"])
    with pytest.raises(ValueError, match="households have 3 types but the policy has 2 table"):
        shard.step(0, *tables, inp["c_table"], inp["share_table"])
    with pytest.raises(ValueError, match="households have 3 types but the policy has 1 table"):
        shard.step(0, *tables, inp["c_table"][0], inp["share_table"][0])
    three = synthetic_inputs(n_z=3, n_grid=64, types=3)
    shard.step(0, *tables, three["c_table"], three["share_table"])
