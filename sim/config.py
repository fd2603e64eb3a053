"""Loading and checking the run configuration (Hydra, from ``conf/`` on the schema).

Every key's type, unit, range and default is declared once, in ``sim.config_schema``. This module
checks a composed configuration against it before any work starts: an unknown key (also one added
with ``+``, or set by a scenario file), a value of the wrong type or out of its declared range, or
an inconsistent combination of keys stops the run with a one-line error that names the key.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config_schema import CLOSURES, SimConfig  # noqa: F401 (CLOSURES: for callers)
from sim.errors import ConfigError

# sim/conf: in a checkout a link to the top-level conf/, in an installed wheel a copy of it
CONF_DIR = Path(os.environ.get("SIM_CONF_DIR", Path(__file__).resolve().parent / "conf"))
HINT = "see `sim run --help`, or sim/config_schema.py for every key"


# --- the schema's fields --------------------------------------------------------------------------
def schema_fields(schema: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """name -> (type, field) of a schema dataclass, with Optional[X] read as X."""
    hints = typing.get_type_hints(schema)
    out = {}
    for f in dataclasses.fields(schema):
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) is typing.Union and len(args) == 1:
            kind = args[0]
        out[f.name] = (kind, f)
    return out


def _is_block(kind: Any) -> bool:
    return dataclasses.is_dataclass(kind)


def schema_field(key: str) -> tuple[Any, dataclasses.Field] | None:
    """The (type, field) a dotted key names, or None if the schema has no such key. Keys inside a
    free mapping (checkpoint.storage_options.*) belong to it: they give the mapping's field."""
    kind, spec = SimConfig, None
    for part in key.split("."):
        if not _is_block(kind):
            return (kind, spec) if typing.get_origin(kind) is dict else None
        fields = schema_fields(kind)
        if part not in fields:
            return None
        kind, spec = fields[part]
    return kind, spec


def unknown_key(cfg: DictConfig, schema: type = SimConfig, prefix: str = "") -> str | None:
    """The first key of cfg (full dotted name) that the schema does not declare, or None."""
    fields = schema_fields(schema)
    for key in cfg.keys():
        name = f"{prefix}{key}"
        if key not in fields:
            return name
        kind, _ = fields[key]
        value = cfg._get_node(key)
        if _is_block(kind) and isinstance(value, DictConfig) and not value._is_none():
            inner = unknown_key(value, kind, name + ".")
            if inner:
                return inner
    return None


def missing_key(cfg: DictConfig, schema: type = SimConfig, prefix: str = "") -> str | None:
    """The first key the schema declares that cfg lacks (a run directory written by older code)."""
    for name, (kind, _) in schema_fields(schema).items():
        if name not in cfg:
            return f"{prefix}{name}"
        if _is_block(kind) and isinstance(cfg[name], DictConfig):
            inner = missing_key(cfg[name], kind, f"{prefix}{name}.")
            if inner:
                return inner
    return None


_KIND_WORDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}


def type_error(full_key: str, value: Any) -> str:
    """One line for a value OmegaConf could not convert to the key's declared type."""
    found = schema_field(full_key)
    if found and typing.get_origin(found[0]) is dict:
        word = "a mapping of options"
    else:
        word = _KIND_WORDS.get(found[0], "valid") if found else "valid"
    return f"{full_key} must be {word}, got {value!r}"


def conform(cfg: DictConfig) -> DictConfig:
    """cfg on the schema: unknown or missing keys and values of the wrong type raise ConfigError."""
    extra = unknown_key(cfg)
    if extra:
        raise ConfigError(f"unknown config key '{extra}' ({HINT})")
    lacking = missing_key(cfg)
    if lacking:
        raise ConfigError(f"{lacking}: missing from the configuration")
    try:
        typed = OmegaConf.merge(OmegaConf.structured(SimConfig), cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(type_error(exc.full_key, exc.value)) from None
    missing = sorted(OmegaConf.missing_keys(typed))
    if missing:
        raise ConfigError(f"{missing[0]}: missing from the configuration (pick a group option, e.g. "
                          f"{missing[0].split('.')[0]}=default)")
    return typed


def _range_problem(value: Any, kind: Any, bounds: dict) -> str | None:
    if kind is float and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if "choices" in bounds and value not in bounds["choices"]:
        return f"must be one of {', '.join(bounds['choices'])}; got {value!r}"
    for name, op, fails in (("ge", ">=", lambda v, b: v < b), ("gt", ">", lambda v, b: v <= b),
                            ("le", "<=", lambda v, b: v > b), ("lt", "<", lambda v, b: v >= b)):
        if name in bounds and fails(value, bounds[name]):
            return f"must be {op} {bounds[name]}, got {value}"
    return None


def check_ranges(cfg: DictConfig, schema: type = SimConfig, prefix: str = "") -> None:
    """Check every value against the range declared with its field; ConfigError on the first."""
    for name, (kind, spec) in schema_fields(schema).items():
        value = cfg[name]
        if _is_block(kind):
            check_ranges(value, kind, f"{prefix}{name}.")
        elif value is None and spec.metadata.get("required"):
            raise ConfigError(type_error(f"{prefix}{name}", value))
        elif value is not None and spec.metadata:
            problem = _range_problem(value, kind, spec.metadata)
            if problem:
                raise ConfigError(f"{prefix}{name} {problem}")


def typed(cfg: DictConfig) -> SimConfig:
    """The checked configuration as dataclass instances (attribute access, typed values)."""
    return OmegaConf.to_object(cfg)


# --- checks across keys ---------------------------------------------------------------------------
def validate(cfg: DictConfig) -> DictConfig:
    """cfg on the schema, every value in its range and the cross-key constraints met; else
    ConfigError on the first problem. Returns the schema-backed (typed, closed) config."""
    from sim.layout import actors_for

    cfg = conform(cfg)
    check_ranges(cfg)
    pop, cl = cfg.population, cfg.cluster
    cl.actors = actors_for(cl.actors, pop.households, pop.block_size)  # sim run says when it caps
    from sim.economy import check_config

    check_config(cfg)  # keys the configured closure cannot honour, before any Ray work
    beta_max = check_household(cfg.household)
    if cfg.economy.closure == "fixed":  # prices are given: the solver's condition is known now
        p = cfg.policy
        R = 1.0 + (cfg.economy.return_safe - 1.0) * (1.0 - p.tax_capital) - p.tax_wealth
        if beta_max * R >= 1.0:
            which = "household.beta" if cfg.household.types.count == 1 else "the most patient type's beta"
            raise ConfigError(
                f"{which} * economy.return_safe (after tax) = {beta_max * R:.4f} >= 1: households would "
                "save without bound; lower household.beta (or household.types.beta_spread) or economy.return_safe"
                "; the shipped calibration (conf/calibration/scf.yaml) is the demand closure's: ~calibration "
                "runs without it")
    check_store_url(cfg.checkpoint.store)
    check_local_memory(cfg)
    if cfg.policy.fund.initial_share + cfg.policy.dominant.initial_share >= 1.0:
        raise ConfigError("policy.fund.initial_share + policy.dominant.initial_share must be < 1 "
                          "(households hold the rest of firm equity)")
    if cfg.economy.closure != "fixed" and cfg.policy.dividend != 0:
        raise ConfigError("policy.dividend is the fixed closure's exogenous dividend; with economy.closure="
                          f"{cfg.economy.closure} the public fund pays it (policy.fund.initial_share, payout)")
    path = cfg.economy.automation_path
    if cfg.economy.closure != "fixed" and path.kind == "bout" and path.phi_end < path.phi0:
        raise ConfigError("economy.automation_path.phi_end must be >= economy.automation_path.phi0")
    return cfg


def check_household(hh) -> float:
    """The discount-factor types lie in (0, 1) and a high state is reachable and left; returns the
    largest type's beta (the solver's patience condition is the most patient type's)."""
    from sim.environment import discount_factors

    betas = discount_factors(hh)
    if not 0.0 < betas[0] <= betas[-1] < 1.0:
        raise ConfigError(
            f"household.types: beta_j from {betas[0]:.4f} to {betas[-1]:.4f} (household.beta "
            f"{hh.beta} +- household.types.beta_spread {hh.types.beta_spread}); each must be in (0, 1)")
    high = hh.productivity.high_state
    if high.level > 0.0 and not (high.entry > 0.0 and high.exit > 0.0):
        raise ConfigError(
            "household.productivity.high_state.level > 0 needs entry > 0 and exit > 0 (a high state "
            f"never entered or never left has no stationary share); got entry={high.entry}, exit={high.exit}")
    return float(betas[-1])


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")


def check_store_url(store: str | None) -> None:
    """checkpoint.store is null, a local path or PROTOCOL://...; an empty value or a mistyped URL
    (``s3:/bucket``) would otherwise become a local folder under the working directory."""
    if store is None:
        return
    hint = "give a local path or a URL such as s3://bucket/prefix (null: <run dir>/checkpoints)"
    if not store.strip():
        raise ConfigError(f"checkpoint.store is empty: {hint}")
    scheme = _SCHEME.match(store)
    if "://" in store:
        from fsspec.registry import known_implementations, registry

        protocol = store.split("://", 1)[0]
        if protocol not in known_implementations and protocol not in registry:
            raise ConfigError(f"checkpoint.store {store!r}: unknown protocol {protocol!r}; {hint}")
    elif scheme:
        raise ConfigError(f"checkpoint.store {store!r} looks like a URL without '://': write "
                          f"{scheme.group(1)}://{store[scheme.end():].lstrip('/')} (or ./{store} for a local path)")


def check_local_memory(cfg: DictConfig, available: int | None = None) -> None:
    """Refuse a population that cannot fit this machine's memory when Ray runs locally.

    On a cluster each shard actor makes the same check against its own node (sim.shard).
    """
    if cfg.cluster.address or os.environ.get("RAY_ADDRESS"):
        return
    from kernels import PEAK_HOST_BYTES_PER_HOUSEHOLD

    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    need = cfg.population.households * PEAK_HOST_BYTES_PER_HOUSEHOLD[cfg.backend.name]
    if need > 0.8 * available:
        fused = "" if cfg.backend.name == "fused" else ", use backend=fused"
        raise ConfigError(
            f"population.households={cfg.population.households:,} needs about {need / 2**30:.1f} GiB "
            f"with backend={cfg.backend.name}, but this machine has {available / 2**30:.1f} GiB free: "
            f"lower population.households{fused}, or run on a cluster (cluster=ray)"
        )


# --- composition (Hydra compose API, for checking overrides before Hydra runs) -------------------
def groups() -> list[str]:
    """The config groups of conf/ (population, backend, cluster, scenario)."""
    return sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir())


def check_override_keys(overrides: list[str]) -> None:
    """Refuse an override whose key the schema does not declare (with or without '+'), or a '+'
    on a key that exists, before Hydra composes anything."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception as exc:  # Hydra's grammar errors
        raise ConfigError(" ".join(str(exc).split())) from None
    for override in parsed:
        key = override.key_or_group
        if key.split(".")[0].split("/")[0] == "hydra" or key in groups():
            continue
        found = schema_field(key)
        if found is None:
            raise ConfigError(f"unknown config key '{key}' ({HINT})")
        if override.is_add() and typing.get_origin(found[0]) is not dict:
            raise ConfigError(f"'+{key}': the key already exists; drop the '+'")
        if override.is_delete() and typing.get_origin(found[0]) is not dict:
            raise ConfigError(f"'~{key}': a key of the schema cannot be deleted; set it instead ({key}=VALUE)")


def explain_composition_error(exc: BaseException) -> str:
    """One line naming the key, from the exception Hydra raised while composing."""
    from hydra.errors import MissingConfigException

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.partition("/")
        options = f" (available: {', '.join(exc.options)})" if exc.options else ""
        return f"{group}={option}: no such option{options}"
    cause = exc
    while cause is not None:  # the OmegaConf error under Hydra's names the key
        if isinstance(cause, OmegaConfBaseException) and cause.full_key:
            if isinstance(cause, (KeyError, AttributeError)):
                return f"unknown config key '{cause.full_key}' ({HINT})"
            return type_error(cause.full_key, cause.value)
        cause = cause.__cause__ or cause.__context__
    return " ".join(str(exc).split())


def dotted(cfg) -> dict:
    """Every leaf of a config (a DictConfig, resolved, or nested dicts) as {dotted key: value}."""
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in dotted(value).items()})
        else:
            out[str(key)] = value
    return out


def compose(overrides: list[str]) -> DictConfig:
    """Compose conf/ with the overrides (no Hydra runtime) and validate; raise ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    check_override_keys(overrides)
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(explain_composition_error(exc)) from None
    return validate(cfg)
