"""What ``sim calibrate`` estimates: the spec (conf/calibrate.yaml), typed and checked.

The spec names the base run every candidate shares (``run``: ``sim run`` overrides), the burn-in,
the parameters to estimate (config keys of the run schema with bounds and a starting value), the
targets with their weights (sim/calibrate/targets.py) and the optimiser's settings. The driver is
generic: any float key of sim/config_schema.py can be a parameter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.calibrate.targets import TARGETS
from sim.config import CONF_DIR, ConfigError, compose, schema_field

DEFAULT_SPEC = CONF_DIR / "calibrate.yaml"
# every candidate: no checkpoints (an interrupted candidate starts again: it is short) and no
# progress bar (the calibration prints one line per candidate)
CANDIDATE_OVERRIDES = ("checkpoint.every=0", "output.progress=false")


@dataclass
class Parameter:
    key: str = MISSING  # a float key of the run schema, e.g. household.beta
    low: float = MISSING
    high: float = MISSING
    start: Optional[float] = None  # null: the base run's value (a warm start)


@dataclass
class Optimiser:
    """scipy.optimize.differential_evolution's settings (docs/calibration.md)."""
    seed: int = 0
    popsize: int = 5  # population = max(5, popsize x parameters) (scipy's rule)
    maxiter: int = 3  # generations after the initial population
    tol: float = 0.01  # stop when the population's losses agree (relative)
    mutation: List[float] = field(default_factory=lambda: [0.5, 1.0])
    recombination: float = 0.7
    parallel: Optional[int] = None  # candidates in flight at once (null: cluster CPUs / cluster.actors)


@dataclass
class Spec:
    name: str = "scf"  # writes conf/calibration/<name>.yaml: sim run calibration=<name>
    run: List[str] = field(default_factory=list)  # the base run's `sim run` overrides
    burn_in: int = 0  # periods discarded before the moments are measured
    # settings that belong to the calibration but are not estimated (the number of discount-factor
    # types, the grids' tops): every candidate runs with them and the written group carries them
    fixed: Dict[str, Any] = field(default_factory=dict)
    parameters: List[Parameter] = field(default_factory=list)
    targets: Dict[str, float] = field(default_factory=dict)  # target -> weight
    optimiser: Optimiser = field(default_factory=Optimiser)


SPEC_KEYS = tuple(Spec.__dataclass_fields__)


def split_overrides(items: list[str]) -> tuple[list[str], list[str]]:
    """(spec overrides, run overrides): KEY=VALUE whose first part names a field of the spec
    (optimiser.maxiter=0, burn_in=8, name=demo) changes the spec, any other is a run override
    appended to the spec's ``run`` (periods=12, population.households=1000)."""
    spec, run = [], []
    for item in items:
        key, sep, _ = item.lstrip("+~").partition("=")
        if not sep:
            raise ConfigError(f"{item!r}: expected KEY=VALUE")
        (spec if key.split(".")[0] in SPEC_KEYS else run).append(item)
    return spec, run


def load(path: Path | None = None, overrides: list[str] = ()) -> tuple[Spec, DictConfig]:
    """(spec, base run config) from the spec file and KEY=VALUE overrides; ConfigError naming the
    problem. The base config is the run every candidate starts from, composed and validated."""
    path = Path(path) if path is not None else DEFAULT_SPEC
    if not path.is_file():
        raise ConfigError(f"--spec {path}: no such file")
    spec_items, run_items = split_overrides(list(overrides))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Spec), OmegaConf.load(path),
                                 OmegaConf.from_dotlist(spec_items))
        spec: Spec = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        where = f" ({exc.full_key})" if getattr(exc, "full_key", None) else ""
        raise ConfigError(f"calibration spec {path}{where}: {' '.join(str(exc).splitlines()[0].split())}") from None
    except Exception as exc:  # YAML syntax
        raise ConfigError(f"calibration spec {path}: {' '.join(str(exc).split())}") from None
    spec.run = list(spec.run) + [f"{key}={value}" for key, value in spec.fixed.items()] + run_items
    base = compose([*spec.run, *CANDIDATE_OVERRIDES])
    # a run override may name a fixed setting (population.initial_wealth=exponential): the candidates
    # run with the override, so the written group must carry it too, not the spec file's value
    spec.fixed = {key: _plain(OmegaConf.select(base, key)) for key in spec.fixed}
    check(spec, base)
    return spec, base


def _plain(value):
    """A config value as plain Python (a group of keys as a dict), as the written group needs it."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def check(spec: Spec, base: DictConfig) -> None:
    """The spec's values make sense against the base run; ConfigError on the first problem."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", spec.name):
        raise ConfigError(f"name {spec.name!r}: use letters, digits, - and _ (it names conf/calibration/<name>.yaml)")
    if not spec.parameters:
        raise ConfigError("parameters: give at least one (key, low, high)")
    keys = [p.key for p in spec.parameters]
    for key in spec.fixed:  # (an unknown key has already stopped the base run's composition)
        if key in keys:
            raise ConfigError(f"fixed: {key} is also a parameter; it is either estimated or fixed")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"parameters: a key appears twice ({', '.join(keys)})")
    for p in spec.parameters:
        found = schema_field(p.key)
        if found is None:
            raise ConfigError(f"parameters: unknown config key '{p.key}' (sim/config_schema.py lists every key)")
        if found[0] is not float:
            raise ConfigError(f"parameters: {p.key} is not a number (only float keys can be estimated)")
        if not p.low < p.high:
            raise ConfigError(f"parameters: {p.key} needs low < high, got [{p.low}, {p.high}]")
        start = start_value(p, base)
        if not p.low <= start <= p.high:
            raise ConfigError(f"parameters: {p.key} starts at {start} outside [{p.low}, {p.high}]; "
                              "set its start or widen the bounds")
    if not spec.targets:
        raise ConfigError("targets: give at least one target with its weight")
    for name, weight in spec.targets.items():
        if name not in TARGETS:
            raise ConfigError(f"targets: unknown target {name!r} (known: {', '.join(TARGETS)})")
        if not weight >= 0:
            raise ConfigError(f"targets: the weight of {name} must be >= 0, got {weight}")
    if not 0 <= spec.burn_in < base.periods:
        raise ConfigError(f"burn_in={spec.burn_in} must lie in 0 .. periods-1 = {base.periods - 1}")
    o = spec.optimiser
    if o.popsize < 1 or o.maxiter < 0 or not o.tol >= 0 or (o.parallel is not None and o.parallel < 1):
        raise ConfigError("optimiser: popsize >= 1, maxiter >= 0, tol >= 0 and parallel >= 1 (or null)")
    if len(o.mutation) not in (1, 2) or not all(0 <= m < 2 for m in o.mutation) or not 0 <= o.recombination <= 1:
        raise ConfigError("optimiser: mutation is one number or [low, high] in [0, 2), recombination in [0, 1]")


def start_value(p: Parameter, base: DictConfig) -> float:
    """The parameter's starting value: the spec's, else the base run's (its current calibration)."""
    return float(p.start if p.start is not None else OmegaConf.select(base, p.key))


def candidate_config(base: DictConfig, spec: Spec, x) -> DictConfig:
    """The base run with the parameter values ``x`` (in the order of ``spec.parameters``), validated;
    ConfigError where a combination is not admissible (e.g. beta R >= 1 in the fixed closure)."""
    from sim.config import validate

    cfg = OmegaConf.create(OmegaConf.to_container(base))
    for p, value in zip(spec.parameters, x):
        OmegaConf.update(cfg, p.key, float(value), merge=False)
    return validate(cfg)


def as_record(spec: Spec) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(spec))
