"""``sim experiment mpc RUN_DIR --at T [--transfer X] [--json]``: the marginal propensity to consume
out of a one-off transfer, measured inside forks of a finished run (docs/experiments.md).

At period T a random half of the households (stream TREATMENT of the counter-based generator) get
a one-off transfer X. Arms, all forked from RUN_DIR at T with the same random numbers
(sim/fork.py):

  control   no transfer (its checkpoint at T gives the wealth quintiles);
  all       X to a random half of every household;
  q1 .. q5  X to the random half of one band of beginning-of-period wealth (period T only).

In period T the untreated households of an arm see exactly what they see in the control arm (same
state, prices and draws), so an arm's spending minus the control's is the treated households'
extra spending, household for household. With S_t household spending at consumer prices
(C (1 + tau_c + f)) and n the households treated,

  mpc_period    = (S^all_T - S^control_T) / (n X),
  mpc_year      = sum_{t=T}^{T+ppy-1} (S^all_t - S^control_t) / (n X),
  mpc quintile  = (S^qj_T - S^control_T) / (n_j X),

mpc_year including what the transfer does to the untreated through prices and demand after T.
Where equity is priced by its market, every arm holds period T's price at the parent's
(``held_price``), since the transfer's demand for equity would otherwise move it in T itself.
Fiscal policy is held passive from T in every arm (``policy.financing=deficit``: the transfer is
paid with debt within the year, as the rebates of the micro studies were), so a tax rule taking
the transfer back within the year does not enter the MPC; all arms share that setting, so it
changes nothing in period T itself.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from sim import run_lock
from sim.config import ConfigError
from sim.errors import RunError, error_line, own_error
from sim.resume import load_run

# every arm from T: the transfer is paid with debt, no tax rule takes it back within the year
PASSIVE_FISCAL = ("policy.financing=deficit",)

HELP = """\
usage: sim experiment mpc RUN_DIR --at T [--transfer X] [--out DIR] [--json]

The marginal propensity to consume out of a one-off transfer X paid at period T to a random half
of the households, measured in forks of the finished run RUN_DIR that share every random draw:
treated spending minus the no-transfer arm's, over X. X defaults to one week of the median
disposable income at T (median income per period x periods_per_year / 52). Arms go to DIR
(default RUN_DIR/experiments/mpc-at-T-transfer-X); running the command again reuses finished arms.
Prints mpc_period, mpc_year (the first year: periods T .. T+periods_per_year-1),
mpc_by_wealth_quintile (period T, poorest first), standard_error (of mpc_period read as a
randomized comparison), households and transfer; --json prints them as JSON. Example:
  sim experiment mpc outputs/run --at 20 --json
"""
QUINTILES = 5
WEEKS_PER_YEAR = 52


def parse(argv: list[str]) -> tuple[Path, int, float | None, Path | None, bool]:
    """(RUN_DIR, T, X or None, DIR or None, json) from ``mpc RUN_DIR --at T ...``."""
    if not argv or argv[0] != "mpc":
        name = argv[0] if argv else ""
        raise ConfigError(f"unknown experiment {name!r}: the experiment is `mpc` (sim experiment --help)")
    argv = argv[1:]
    if not argv or argv[0].startswith("-"):
        raise ConfigError("expected RUN_DIR after `mpc`")
    run_dir, at, transfer, out, as_json = Path(argv[0]), None, None, None, False
    rest = iter(argv[1:])
    for item in rest:
        if item == "--json":
            as_json = True
            continue
        if item not in ("--at", "--transfer", "--out"):
            raise ConfigError(f"{item!r}: expected --at T, --transfer X, --out DIR or --json")
        value = next(rest, None)
        if value is None or value.startswith("--"):
            raise ConfigError(f"{item} needs a value")
        try:
            if item == "--at":
                at = int(value)
            elif item == "--transfer":
                transfer = float(value)
            else:
                out = Path(value)
        except ValueError:
            raise ConfigError(f"{item} {value}: expected a number") from None
    if at is None:
        raise ConfigError("--at T is required (the period of the transfer)")
    if transfer is not None and not (math.isfinite(transfer) and transfer > 0):
        raise ConfigError(f"--transfer {transfer:g}: expected a positive amount of goods")
    return run_dir, at, transfer, out, as_json


def default_transfer(median_income: float, periods_per_year: int) -> float:
    """One week of median disposable income: median income per period x periods per year / 52."""
    return float(median_income) * periods_per_year / WEEKS_PER_YEAR


def wealth_cuts(wealth: np.ndarray) -> list[float]:
    """Cut points c_1 < ... < c_4 of beginning-of-period wealth: band j is [c_j, c_{j+1}) with
    c_0 = -inf, c_5 = +inf, so the kernel's band test (transfer_wealth_min <= b + k < max) puts every
    household in one band. c_j is the wealth of the household of rank floor(j N / 5); households
    with equal wealth share a band, so bands differ from N/5 where wealth has a mass point."""
    ordered = np.sort(wealth)
    return [float(ordered[(j * len(ordered)) // QUINTILES]) for j in range(1, QUINTILES)]


def beginning_wealth(store, at: int, households: int) -> np.ndarray:
    """b + k of every household at the start of period ``at``, from the committed checkpoint at
    ``at`` in ``store`` (float64, summed as the kernel sums it)."""
    import zarr

    entry = next((e for e in store.committed() if e.period == at), None)
    if entry is None:
        raise ConfigError(f"no checkpoint at period {at} in {store.root.url}")
    arrays = store.root.child(entry.name).zarr_store(read_only=True)
    safe = np.asarray(zarr.open_array(arrays, path="safe", mode="r")[:households])
    risky = np.asarray(zarr.open_array(arrays, path="risky", mode="r")[:households])
    return safe + risky


def run_arm(run_dir: Path, at: int, out: Path, name: str, overrides: tuple[str, ...],
            transfer: dict | None, last: int, command: str) -> list[float] | None:
    """Fork ``run_dir`` at ``at`` into ``out/name`` and run it to period ``last`` (included);
    a finished arm is not run again. The control arm (``transfer`` None) returns the wealth cut
    points at ``at`` from its own checkpoint there."""
    from sim.coordinator import ForkPoint, run
    from sim.fork import Arm, _finished, prepare, same_arm
    from sim.layout import RunShape

    arm_dir = out / name
    with run_lock.hold(arm_dir, "sim experiment", then=command):  # one writer, as sim fork's arms
        done = _finished(arm_dir, same_arm(run_dir, at, overrides, transfer))  # before prepare writes there
        cfg, fork, scenario = prepare(run_dir, at, out, Arm(name, overrides), transfer)
        if last + 1 < int(cfg.periods):  # stop early: only period T matters to a quintile's arm
            cfg = OmegaConf.merge(cfg, {"periods": last + 1})
            fork = ForkPoint(fork.schedule[:-1] + ((at, cfg),), fork.store_config, fork.record, transfer)
        if done is None:
            run(cfg, arm_dir, command=command, resume=True, scenario=scenario, fork=fork)
    if transfer is not None:
        return None
    from sim.checkpoint.store import CheckpointStore

    store = CheckpointStore.open(fork.store_config, arm_dir)
    return wealth_cuts(beginning_wealth(store, at, RunShape.of(cfg).households))


def run_arms(specs: list[tuple], run_dir: Path, at: int, out: Path, command: str) -> list:
    """Every (name, overrides, transfer, last period) as its own Ray task, all at once (num_cpus=0:
    each arm's shard actors reserve the CPUs, as in ``sim fork``)."""
    import ray

    from sim.coordinator import connect_ray

    from sim.fork import _finished, same_arm

    for name, overrides, transfer, _ in specs:  # an arm folder holding another arm: refused before any Ray work
        _finished(out / name, same_arm(run_dir, at, overrides, transfer))
    cfg, _ = load_run(run_dir)
    connect_ray(cfg.cluster)
    remote = ray.remote(num_cpus=0, max_retries=0)(run_arm)
    refs = [remote.remote(run_dir, at, out, name, overrides, transfer, last, command)
            for name, overrides, transfer, last in specs]
    ray.wait(refs, num_returns=len(refs))  # every arm ends before one's error is raised: none left writing
    return ray.get(refs)


def payment(amount: float, low: float = -1e300, high: float = 1e300) -> dict:
    """The PeriodEnvironment fields of a one-off transfer to the random half of band [low, high)."""
    return {"transfer": amount, "transfer_wealth_min": low, "transfer_wealth_max": high}


def held_price(cfg, parent, at: int) -> tuple[str, ...]:
    """Where equity is priced by its market, every arm holds period T's price at the parent's
    (``economy.equity.held_period``: firms issue or buy back the gap at it), so that the untreated
    face the same prices in every arm: the transfer's demand for equity would otherwise move the
    price in period T itself, and the untreated's response to it would enter the MPC (a partial-
    equilibrium MPC, as the micro studies measure). From T + 1 the market clears as usual."""
    if cfg.economy.equity.market != "priced":  # (check_config allows it in the demand closure only)
        return ()
    return (f"economy.equity.held_period={at}", f"economy.equity.held_price={float(parent['equity_price'].values[at])!r}")


def measure(run_dir: Path, at: int, transfer: float | None = None, out: Path | None = None,
            command: str = "sim experiment mpc") -> dict:
    """Run the arms (or reuse finished ones) and return the experiment's results (module docstring)."""
    import sim

    cfg, prov = load_run(run_dir)
    periods, per_year = int(cfg.periods), int(cfg.periods_per_year)
    if not (prov.get("finished") and (run_dir / "results.zarr").is_dir()):
        raise ConfigError(f"{run_dir}: not a finished run (finish it with `sim resume {run_dir}`)")
    if not 1 <= at <= periods - per_year:
        raise ConfigError(f"--at {at}: the transfer's year T .. T+{per_year - 1} must lie in the run's periods "
                          f"0 .. {periods - 1} and T >= 1; use 1 <= T <= {periods - per_year}")
    parent = sim.load(run_dir)
    if transfer is None:
        transfer = default_transfer(parent["median_income"].values[at], per_year)
    out = out or run_dir / "experiments" / f"mpc-at-{at}-transfer-{transfer:.6g}"
    year_end = at + per_year - 1
    common = PASSIVE_FISCAL + held_price(cfg, parent, at)
    # the control checkpoints at T (every T periods, all kept) for the wealth bands
    control = ("control", (*common, f"checkpoint.every={at}", f"checkpoint.keep={periods + 1}"),
               None, year_end)
    cuts, _ = run_arms([control, ("all", common, payment(transfer), year_end)], run_dir, at, out,
                       command)
    edges = [-1e300, *cuts, 1e300]
    bands = [(f"q{j + 1}", common, payment(transfer, edges[j], edges[j + 1]), at)
             for j in range(QUINTILES)]
    run_arms(bands, run_dir, at, out, command)
    rows = {name: sim.load(out / name) for name in ("control", "all", *(b[0] for b in bands))}
    return summarise(rows, at, per_year, transfer, cuts) | {"dir": str(out)}


def summarise(rows: dict, at: int, per_year: int, transfer: float, cuts: list[float]) -> dict:
    """The MPCs and the standard error from the arms' series (``rows``: arm name -> dataset)."""
    def series(arm, name, start=at, stop=at + 1):
        return rows[arm][name].values[start:stop].astype(np.float64)

    year = (at, at + per_year)
    spent = series("all", "household_spending", *year) - series("control", "household_spending", *year)
    treated = float(series("all", "treated")[0])
    quintile_mpc, quintile_treated = [], []
    for j in range(QUINTILES):
        name = f"q{j + 1}"
        n = float(series(name, "treated")[0])
        extra = float(series(name, "household_spending")[0] - series("control", "household_spending")[0])
        quintile_mpc.append(extra / (n * transfer) if n else float("nan"))
        quintile_treated.append(int(n))
    randomized, error = difference_of_means(rows["all"], at, transfer)
    return {
        "mpc_period": float(spent[0]) / (treated * transfer),
        "mpc_year": float(spent.sum()) / (treated * transfer),
        "mpc_by_wealth_quintile": quintile_mpc,
        "standard_error": error,
        "mpc_period_randomized": randomized,
        "households": int(rows["all"].attrs["households"]),
        "treated": int(treated),
        "treated_by_wealth_quintile": quintile_treated,
        "wealth_quintile_cuts": cuts,
        "transfer": transfer,
        "period": at,
        "year_periods": [at, at + per_year - 1],
    }


def difference_of_means(arm, at: int, transfer: float) -> tuple[float, float]:
    """(estimate, standard error) of the MPC read as a randomized comparison inside the arm that
    pays the transfer, at period T: with p = S_T / C_T the consumer price (1 + tau_c + f), n_1
    treated and n_0 untreated households, means cbar_g and sample variances s_g^2 of consumption
    (from the sums of c and c^2 of each group),

      mpc = p (cbar_1 - cbar_0) / X,    se = p sqrt(s_1^2 / n_1 + s_0^2 / n_0) / X,

    the (Neyman) standard error of a difference of two means under random assignment."""
    def at_t(name):
        return float(arm[name].values[at])

    price = at_t("household_spending") / at_t("consumption")
    households = float(arm.attrs["households"])
    groups = []
    for total, squares, count in (
            (at_t("treated_consumption"), at_t("treated_consumption_squared"), at_t("treated")),
            (at_t("consumption") - at_t("treated_consumption"),
             at_t("consumption_squared") - at_t("treated_consumption_squared"),
             households - at_t("treated"))):
        mean = total / count
        variance = max(squares / count - mean * mean, 0.0) * count / (count - 1.0)
        groups.append((mean, variance, count))
    (mean_1, var_1, n_1), (mean_0, var_0, n_0) = groups
    return (price * (mean_1 - mean_0) / transfer,
            price * math.sqrt(var_1 / n_1 + var_0 / n_0) / transfer)


def report(result: dict) -> str:
    quintiles = "  ".join(f"{m:.3f}" for m in result["mpc_by_wealth_quintile"])
    return (f"MPC out of a one-off transfer of {result['transfer']:.4g} goods to {result['treated']:,} of "
            f"{result['households']:,} households at period {result['period']}\n"
            f"  in the period:        {result['mpc_period']:.4f}  (randomized comparison "
            f"{result['mpc_period_randomized']:.4f} +- {result['standard_error']:.4f} s.e.)\n"
            f"  over the first year:  {result['mpc_year']:.4f}\n"
            f"  by wealth quintile (poorest first): {quintiles}\n"
            f"  arms: {result['dir']}")


def main(argv: list[str]) -> int:
    if not argv or any(a in ("-h", "--help") for a in argv):  # `sim experiment mpc --help` too
        print(HELP)
        return 0 if argv else 2
    try:
        run_dir, at, transfer, out, as_json = parse(list(argv))
        result = measure(run_dir, at, transfer, out, command=" ".join(["sim experiment", *argv]))
    except ConfigError as exc:  # from an arm's Ray task too: its own error, not Ray's traceback
        print(f"sim experiment: error: {own_error(exc)}", file=sys.stderr)
        return 2
    except (RunError, OSError) as exc:  # an arm's economy stopped, its directory in use, a full disk ...
        print(error_line("experiment", own_error(exc)), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if as_json else report(result))
    return 0
