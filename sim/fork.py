"""``sim fork RUN_DIR --at T --out DIR --arm NAME [KEY=VALUE ...] ...``: policy experiments as forks.

Every arm restores the parent's state at period T, applies its overrides from T on, and runs to
the parent's last period with the same random numbers (they are keyed by seed, household and
period, never by the path taken: docs/experiments.md). The state at T comes from the parent's
newest committed checkpoint at or before T (copied into the arm's own store), from which the arm
replays the parent's configuration up to T; with none left (``checkpoint.keep`` prunes them), it
replays from period 0. ``DIR/NAME`` is a run directory like any other (results.zarr holds periods
0 .. end, provenance.json the fork), so a fork of an arm is a fork like any other.

Arms run in parallel, one Ray task each (like the sweep launcher's jobs; the task reserves no CPU,
its shard actors reserve their own).
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim import run_lock
from sim.config import ConfigError, dotted, validate
from sim.errors import RunError, RunLocked, own_error
from sim.resume import load_run

HELP = """\
usage: sim fork RUN_DIR [RUN_DIR ...] --at T --out DIR --arm NAME [KEY=VALUE ...] [--arm NAME [KEY=VALUE ...]] ...
       sim fork RUN_DIR --at T --out DIR --arm control --scenario NAME [KEY=VALUE ...] ...

Fork a finished run at period T into arms that share every random draw: each arm restores the
run's state at T, applies its KEY=VALUE overrides from T on, and runs to the run's last period.
`--scenario NAME` is an arm named NAME that asks a shipped scenario (conf/scenario/NAME.yaml) of
a baseline run's state at T: its overrides are the keys in which `scenario=NAME` differs from
`scenario=baseline`, both composed with the run's own overrides (.hydra/overrides.yaml: its
calibration, size, ...), at NAME's values, with its dated events (economy.automation_path.start,
in years; policy.ubi.start, in periods) moved by T, so they happen as long after the fork as
after a run's start.
DIR/NAME is each arm's run directory (results.zarr holds every period; before T the parent's).
An arm named `control` with no overrides is the reference of `sim report DIR` (else the parent).
Several RUN_DIRs (e.g. seeds): each one's arms go to DIR/seed-<seed>/NAME, and the effects in
DIR/effects.zarr get a 95% band across them.
Keys that would change the past are refused: population.*, seed, periods, periods_per_year,
backend.*, economy.closure, household.productivity.*, household.types.count (each household's type
is part of its state), household.kernel_grid_*, output.* (but
output.progress), and after period 0 the keys that act only at the opening: the stakes
policy.fund.initial_share and policy.dominant.initial_share, economy.initial_capital,
economy.initial_debt_to_gdp and economy.demand.initial_utilisation. Examples:
  sim fork outputs/run --at 20 --out forks/ubi --arm control --arm ubi policy.ubi.level=0.1
"""
# keys whose change would rewrite periods before T, or make the arm incomparable to its parent
REFUSED = ("population.", "seed", "periods", "periods_per_year", "backend.", "backend",
           "economy.closure", "household.productivity.", "household.types.count", "household.kernel_grid_",
           "output.")
ALLOWED = ("output.progress",)
MARKET = ("market", "economy.equity.market")  # the config group and its key
# keys that act only when the economy opens (period 0): a fork after it would run as its control
OPENING_ONLY = ("policy.fund.initial_share", "policy.dominant.initial_share", "economy.initial_capital",
                "economy.initial_debt_to_gdp", "economy.demand.initial_utilisation")


# keys that date an event from period 0, by the block that switches the event on, and their unit
DATED = {"economy.automation_path.": ("economy.automation_path.start", "years"),
         "policy.ubi.": ("policy.ubi.start", "periods")}


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...]
    scenario: str | None = None  # an arm of ``--scenario NAME``: its overrides come first


def scenario_overrides(run_dir: Path, name: str, at: int) -> tuple[str, ...]:
    """The overrides that ask scenario ``name`` of the run in ``run_dir`` from period ``at``: the
    keys in which ``scenario=name`` differs from ``scenario=baseline``, both composed with the
    run's own other overrides (its calibration, size, ...: what ``sim run scenario=name`` with
    them would change), at ``name``'s values; where a block with a dated event differs
    (:data:`DATED`), its start moved by ``at``. ConfigError where the run was not composed by
    ``sim run`` from the baseline, or ``name`` is not a scenario."""
    from sim.config import compose
    from sim.data import composition_overrides, split_override

    if not (run_dir / ".hydra" / "overrides.yaml").is_file():
        raise ConfigError(f"--scenario {name}: {run_dir} has no .hydra/overrides.yaml (not a run of `sim run`, "
                          "e.g. an arm): fork the baseline run itself, or give the arm's keys with --arm")
    own = [(o, *split_override(o)) for o in composition_overrides(run_dir)]
    chosen = [value for _, key, value in own if key == "scenario"]
    if chosen and chosen[-1] != "baseline":
        raise ConfigError(f"--scenario {name}: {run_dir} runs scenario {chosen[-1]}, not baseline; a scenario "
                          "arm asks its scenario of a baseline run")
    rest = [o for o, key, _ in own if key != "scenario" and not key.startswith("hydra.")]
    base, scen = dotted(compose(rest + ["scenario=baseline"])), dotted(compose(rest + [f"scenario={name}"]))
    changed = {k: v for k, v in scen.items() if base.get(k) != v}
    per_year = int(scen["periods_per_year"])
    for block, (key, unit) in DATED.items():
        if any(k.startswith(block) for k in changed):
            changed[key] = scen[key] + (at / per_year if unit == "years" else at)
    return tuple(f"{k}={_value(v)}" for k, v in sorted(changed.items()))


def arm_overrides(arm: Arm, run_dir: Path, at: int) -> tuple[str, ...]:
    """An arm's overrides for the parent in ``run_dir``: a ``--scenario`` arm's scenario keys
    (:func:`scenario_overrides`) before the user's own (which win); ConfigError, naming the
    scenario, where one of them cannot change in a fork at ``at``."""
    if arm.scenario is None:
        return arm.overrides
    overrides = scenario_overrides(run_dir, arm.scenario, at)
    for item in overrides:
        try:
            check_override(item, at)
        except ConfigError as exc:
            raise ConfigError(f"--scenario {arm.scenario}: {exc}") from None
    return overrides + arm.overrides


def _value(v) -> str:
    """A config value as an override's right-hand side (lists and None as YAML says them)."""
    if v is None:
        return "null"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def parse(argv: list[str]) -> tuple[list[Path], int, Path, list[Arm]]:
    """(RUN_DIRs, T, DIR, arms) from the command line; ConfigError naming what is wrong."""
    run_dirs = []
    while argv and not argv[0].startswith("-"):
        run_dirs.append(Path(argv.pop(0)))
    if not run_dirs:
        raise ConfigError("expected RUN_DIR first (sim fork --help)")
    at, out, arms = None, None, []
    rest = iter(argv)
    for item in rest:
        if item in ("--at", "--out", "--arm", "--scenario"):
            value = next(rest, None)
            if value is None or value.startswith("--"):
                raise ConfigError(f"{item} needs a value")
            if item == "--at":
                try:
                    at = int(value)
                except ValueError:
                    raise ConfigError(f"--at {value}: expected a period (an integer)") from None
            elif item == "--out":
                out = Path(value)
            elif item == "--scenario":
                arms.append(Arm(value, (), scenario=value))
            else:
                arms.append(Arm(value, ()))
        elif arms and "=" in item and not item.startswith("-"):
            arms[-1] = replace(arms[-1], overrides=arms[-1].overrides + (item,))
        else:
            raise ConfigError(f"{item!r}: expected --at, --out, --arm NAME, --scenario NAME or KEY=VALUE "
                              "after an --arm")
    if at is None or out is None or not arms:
        raise ConfigError("--at T, --out DIR and at least one --arm NAME or --scenario NAME are required")
    names = [a.name for a in arms]
    for name in names:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"--arm {name!r}: use letters, digits, - and _ (it names a directory)")
    if len(set(names)) != len(names):
        raise ConfigError(f"arm names must differ: {', '.join(names)}")
    return run_dirs, at, out, arms


def parent_labels(run_dirs: list[Path]) -> list[str]:
    """Sub-folder of each parent's arms when several parents (seeds) are forked at once:
    seed-<seed>, or the run directory's name where seeds repeat."""
    seeds = [load_run(d)[0].seed for d in run_dirs]
    if len(set(seeds)) == len(seeds):
        return [f"seed-{s}" for s in seeds]
    return [f"{i}-{d.name}" for i, d in enumerate(run_dirs)]


def check_override(item: str, at: int = 0) -> None:
    key, sep, _ = item.lstrip("+").partition("=")
    if not sep:
        raise ConfigError(f"{item!r}: expected KEY=VALUE")
    if key in ALLOWED:
        return
    if key == "economy.investment.rule":
        raise ConfigError(f"{key}: the investment rule cannot change in a fork (the accelerator's desired "
                          "capital is anchored at the opening); run each rule with `sim run` and compare those")
    if key in MARKET:
        raise ConfigError(f"{key}: the equity market cannot change in a fork (the priced market opens in "
                          "period 0 with its share issue and carries its shares and price from there); "
                          "run each market with `sim run` (market=value, market=priced) and compare those")
    if any(key == k or (k.endswith((".", "_")) and key.startswith(k)) for k in REFUSED):
        raise ConfigError(f"{key} cannot change in a fork (it would change the periods before the fork "
                          "or the random numbers); start a new run with `sim run` instead")
    if at > 0 and key in OPENING_ONLY:
        raise ConfigError(f"{key} acts when the economy opens (period 0) and does nothing in a fork "
                          f"at period {at}: fork at --at 0, or compare with a new `sim run`")


def schedule_of(cfg: DictConfig, prov: dict) -> list[tuple[int, DictConfig]]:
    """The configurations a run was simulated with, as (first period, config): one for a run,
    more for an arm (its provenance keeps its parent's)."""
    record = prov.get("fork")
    if not record:
        return [(0, cfg)]
    return [(int(start), OmegaConf.create(c)) for start, c in record["schedule"]]


def arm_config(parent: DictConfig, overrides: tuple[str, ...]) -> DictConfig:
    """The parent's configuration with the arm's overrides; checkpoints in the arm's directory."""
    for item in overrides:
        check_override(item)
    dotlist = [o.lstrip("+") for o in overrides] + ["checkpoint.store=null"]
    return validate(OmegaConf.merge(parent, OmegaConf.from_dotlist(dotlist)))


def parent_store(cfg: DictConfig, schedule, run_dir: Path):
    """The parent's checkpoint store (an arm's is in its own directory, under its root config's
    fingerprint: the fingerprint its copied checkpoint was written under)."""
    from sim.checkpoint.store import CheckpointStore

    root = schedule[0][1]
    if len(schedule) > 1:
        root = OmegaConf.merge(root, {"checkpoint": cfg.checkpoint})
    return CheckpointStore.open(root, run_dir)


def seed_store(source, at: int, target_root, households: int, block_size: int) -> int | None:
    """Copy the newest committed checkpoint of ``source`` at or before period ``at`` into the arm's
    store ``target_root`` (a local folder); returns its period, or None (replay from period 0)."""
    for entry in reversed(source.committed()):
        if entry.period > at:
            continue
        problem, _, _ = source.inspect(entry, households, block_size)
        if problem is not None:
            continue
        target = Path(target_root.url.removeprefix("file://")) / entry.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            if source.root.is_local:
                shutil.copytree(f"{source.path}/{entry.name}", partial)
            else:
                source.fs.get(f"{source.path}/{entry.name}/", f"{partial}/", recursive=True)
            partial.rename(target)
        return entry.period
    return None


def prepare(run_dir: Path, at: int, out: Path, arm: Arm, transfer: dict | None = None):
    """(arm config, ForkPoint, scenario) of one arm, its store seeded; ConfigError if the parent
    or the overrides do not allow the fork."""
    from sim.checkpoint.store import CheckpointStore
    from sim.coordinator import ForkPoint
    from sim.layout import RunShape

    cfg, prov = load_run(run_dir)
    if not (prov.get("finished") and (run_dir / "results.zarr").is_dir()):
        raise ConfigError(f"{run_dir}: not a finished run (finish it with `sim resume {run_dir}`)")
    if not 0 <= at < int(cfg.periods):
        raise ConfigError(f"--at {at}: the run has periods 0 .. {int(cfg.periods) - 1}")
    schedule = schedule_of(cfg, prov)
    in_force = [c for start, c in schedule if start <= at][-1]
    overrides = arm_overrides(arm, run_dir, at)
    arm_cfg = arm_config(in_force, overrides)
    store_cfg = OmegaConf.merge(schedule[0][1], {"checkpoint": arm_cfg.checkpoint})
    new_schedule = tuple((start, c) for start, c in schedule if start < at) + ((at, arm_cfg),)
    arm_dir = out / arm.name
    shape = RunShape.of(cfg)
    store = CheckpointStore.open(store_cfg, arm_dir)
    restored = seed_store(parent_store(cfg, schedule, run_dir), at, store.root, shape.households,
                          shape.block_size)
    record = {"parent": str(run_dir.resolve()), "at": at, "arm": arm.name,
              "overrides": list(overrides), "replayed_from": restored or 0,
              "schedule": [[start, OmegaConf.to_container(c, resolve=True)] for start, c in new_schedule]}
    if transfer is not None:
        record["transfer"] = transfer
    return arm_cfg, ForkPoint(new_schedule, store_cfg, record, transfer), arm.scenario or prov.get("scenario")


def run_arm(run_dir: Path, at: int, out: Path, arm: Arm, command: str, transfer: dict | None = None,
            on_event=None) -> dict:
    """Prepare and run one arm in this process (a Ray task or the driver); a summary."""
    from sim.coordinator import run

    arm_dir = out / arm.name
    # one writer at a time, as sim run's: its leftovers swept, a second fork of it refused
    with run_lock.hold(arm_dir, "sim fork", then=command):
        done = _finished(arm_dir, same_arm(run_dir, at, arm_overrides(arm, run_dir, at), transfer))
        if done is not None:
            return done
        cfg, fork, scenario = prepare(run_dir, at, out, arm, transfer)
        summary = run(cfg, arm_dir, command=command, resume=True, scenario=scenario, on_event=on_event, fork=fork)
    return {"arm": arm.name, "dir": str(arm_dir), "seconds": summary.seconds,
            "replayed_from": fork.record["replayed_from"]}


def same_arm(run_dir: Path, at: int, overrides: tuple[str, ...], transfer: dict | None) -> dict:
    """What makes an arm the same arm: its parent, fork point, overrides and one-off transfer (as
    its provenance.json's ``fork`` record keeps them)."""
    return {"parent": str(run_dir.resolve()), "at": at, "overrides": list(overrides), "transfer": transfer}


def _finished(arm_dir: Path, arm: dict) -> dict | None:
    """A summary if ``arm_dir`` holds this arm (``same_arm``) finished, None if it holds nothing or
    the arm unfinished (resumed from its checkpoints). ConfigError if it holds another arm,
    finished or not: its results and checkpoints would be reused, or resumed under this arm's
    configuration; nothing there is touched."""
    try:
        prov = json.loads((arm_dir / "provenance.json").read_text())
    except (OSError, ValueError):
        return None
    record = prov.get("fork") or {}
    held = {key: record.get(key) for key in arm}
    if Path(arm_dir).resolve().is_relative_to(arm["parent"]):  # inside its parent (the MPC's default):
        held["parent"] = arm["parent"]  # the parent is where it lies, moved or renamed with it
    if held != arm:
        differ = ", ".join(f"{key} {held[key]!r} there, {arm[key]!r} now" for key in arm if held[key] != arm[key])
        raise ConfigError(f"{arm_dir} holds an arm forked otherwise ({differ}); it is left as it is: "
                          "give this arm another name or output folder, or remove that one")
    if prov.get("finished") and (arm_dir / "results.zarr").is_dir():
        return {"arm": arm_dir.name, "dir": str(arm_dir), "seconds": 0.0, "skipped": True}
    return None


def run_arms(jobs: list[tuple[Path, Path]], at: int, arms: list[Arm], command: str,
             transfers: dict[str, dict] | None = None) -> list[dict]:
    """Every (parent, output folder) x arm as its own Ray task (num_cpus=0: the arm's shard actors
    reserve the CPUs), all at once."""
    import ray

    from sim.coordinator import connect_ray

    transfers = transfers or {}
    for run_dir, out in jobs:  # every arm's overrides, config and folder checked before any Ray work
        parent, _ = load_run(run_dir)
        for arm in arms:
            overrides = arm_overrides(arm, run_dir, at)
            for item in overrides:
                check_override(item, at)
            arm_config(parent, overrides)
            _finished(out / arm.name, same_arm(run_dir, at, overrides, transfers.get(arm.name)))
            if (out / arm.name).is_dir():  # another process writing it: one line now, not a task's traceback
                with run_lock.hold(out / arm.name, "sim fork", then=command):
                    pass
    cfg, _ = load_run(jobs[0][0])
    connect_ray(cfg.cluster)
    remote = ray.remote(num_cpus=0, max_retries=0)(run_arm)
    refs = {out / arm.name: remote.remote(run_dir, at, out, arm, command, transfers.get(arm.name))
            for run_dir, out in jobs for arm in arms}
    return gather(refs)


def gather(refs: dict) -> list[dict]:
    """Each arm's summary, in order, once every arm has ended: an arm that stopped with a RunError
    (its economy could not go on: sim.errors.EconomyStopped) gives ``{"arm", "dir", "error"}``
    with its one line, and the other arms still finish."""
    import ray

    out = []
    for arm_dir, ref in refs.items():
        try:
            out.append(ray.get(ref))
        except RunError as exc:  # Ray's RayTaskError is also the task's own error class
            cause = own_error(exc)
            out.append({"arm": Path(arm_dir).name, "dir": str(arm_dir), "error": " ".join(str(cause).split())})
    return out


def main(argv: list[str]) -> int:
    if not argv or any(a in ("-h", "--help") for a in argv):  # `sim fork RUN --help` too
        print(HELP)
        return 0 if argv else 2
    try:
        command = " ".join(["sim fork", *argv])
        run_dirs, at, out, arms = parse(list(argv))
        outs = [out] if len(run_dirs) == 1 else [out / label for label in parent_labels(run_dirs)]
    except ConfigError as exc:
        print(f"sim fork: error: {exc}", file=sys.stderr)
        return 2
    try:
        results = run_arms(list(zip(run_dirs, outs)), at, arms, command)
    except (ConfigError, RunLocked) as exc:  # from an arm's Ray task too: its own error, not Ray's traceback
        print(f"sim fork: error: {own_error(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    for r in results:
        if "error" in r:
            print(f"arm {r['arm']}: error: {r['error']}", file=sys.stderr)
        else:
            print(f"arm {r['arm']}: {r['dir']}" + (" (already finished)" if r.get("skipped") else ""), file=sys.stderr)
    from sim.effects import write_effects

    try:
        path = write_effects(out)
        print(f"effects: {path}\n  report: sim report {out}", file=sys.stderr)
    except (ConfigError, RunLocked) as exc:
        print(f"sim fork: effects not written: {exc}", file=sys.stderr)
    return 1 if any("error" in r for r in results) else 0
