"""Loading and validating the run configuration (Hydra, from ``conf/``).

The config files in ``conf/`` are the one source of truth for parameters and their defaults. This
module only checks them: before any work starts, a wrong key or a bad value stops the run with a
one-line error that names the key and says what would be valid.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(os.environ.get("SIM_CONF_DIR", Path(__file__).resolve().parents[1] / "conf"))
BACKENDS = ("numpy", "fused", "cupy")
CLOSURES = ("fixed", "classical", "demand")
TECHNOLOGIES = ("korinek_suh", "cobb_douglas")
AUTOMATION_KINDS = ("constant", "bau", "baseline_agi", "aggressive_agi", "agi", "bout")
UBI_INDEXATION = ("prices", "nominal", "wage", "output")
FISCAL_RULES = ("deficit", "tax", "spending")
FEE_EARNERS = ("intermediaries", "government")


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the key."""


# --- checks ---------------------------------------------------------------------------------------
def _int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], str | None]:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            return f"must be an integer, got {v!r}"
        if lo is not None and v < lo:
            return f"must be >= {lo}, got {v}"
        if hi is not None and v > hi:
            return f"must be <= {hi}, got {v}"
        return None

    return check


def _num(lo: float | None = None, hi: float | None = None, lo_open=False, hi_open=False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"must be a finite number, got {v!r}"
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return f"must be {'>' if lo_open else '>='} {lo}, got {v}"
        if hi is not None and (v > hi or (hi_open and v == hi)):
            return f"must be {'<' if hi_open else '<='} {hi}, got {v}"
        return None

    return check


def _choice(options):
    def check(v):
        return None if v in options else f"must be one of {', '.join(options)}; got {v!r}"

    return check


def _optional(inner):
    return lambda v: None if v is None else inner(v)


def _str_or_none(v):
    return None if v is None or isinstance(v, str) else f"must be a path or URL string, got {v!r}"


def _mapping(v):
    return None if isinstance(v, (dict, DictConfig)) else f"must be a mapping of options, got {v!r}"


_SHARE = _num(0.0, 1.0)
_PROB = _num(0.0, 1.0)
_NONNEG = _num(0.0)
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "seed": _int(0, 2**64 - 1),
    "periods": _int(1),
    "periods_per_year": _int(1),
    "population.households": _int(1),
    "population.block_size": _int(1),
    "population.initial_wealth_mean": _NONNEG,
    "population.initial_risky_share": _SHARE,
    "population.initial_unemployment": _SHARE,
    "household.crra": _num(0.0, lo_open=True),
    "household.beta": _num(0.0, 1.0, lo_open=True, hi_open=True),
    "household.borrowing_limit": _NONNEG,
    "household.grid_points": _int(10),
    "household.asset_max": _num(0.0, lo_open=True),
    "household.kernel_grid_points": _int(8),
    "household.kernel_grid_max": _num(0.0, lo_open=True),
    "household.risky_nodes": _int(1),
    "household.resolve_every": _int(1),
    "household.tolerance": _num(0.0, 1e-2, lo_open=True),
    "household.productivity.states": _int(1, 255),
    "household.productivity.rho": _num(-1.0, 1.0, lo_open=True, hi_open=True),
    "household.productivity.sigma": _NONNEG,
    "economy.closure": _choice(CLOSURES),
    "economy.wage": _NONNEG,
    "economy.return_safe": _num(0.0, lo_open=True),
    "economy.equity_premium": _num(),
    "economy.risky_std": _NONNEG,
    "economy.separation": _PROB,
    "economy.job_finding": _PROB,
    "economy.hazard_displacement": _PROB,
    "economy.automation": _SHARE,
    "economy.technology": _choice(TECHNOLOGIES),
    "economy.tfp": _num(0.0, lo_open=True),
    "economy.sigma": _num(0.0, lo_open=True),
    "economy.alpha": _num(0.0, 1.0, lo_open=True, hi_open=True),
    "economy.depreciation": _num(0.0, 1.0),
    "economy.initial_capital": _num(0.0, lo_open=True),
    "economy.patience_cap": _num(0.0, 1.0, lo_open=True, hi_open=True),
    "economy.automation_path.kind": _choice(AUTOMATION_KINDS),
    "economy.automation_path.phi0": _num(0.0, 1.0, hi_open=True),
    "economy.automation_path.lam_g": _NONNEG,
    "economy.automation_path.T": _optional(_num(0.0, lo_open=True)),
    "economy.automation_path.phi_end": _SHARE,
    "economy.automation_path.start": _num(),
    "economy.automation_path.duration": _num(0.0, lo_open=True),
    "economy.labour.adjustment": _num(0.0, 1.0, lo_open=True),
    "economy.labour.job_finding_max": _PROB,
    "economy.labour.separation_max": _PROB,
    "economy.labour.job_finding_min": _PROB,
    "economy.labour.belief_sensitivity": _SHARE,
    "economy.demand.expectation_weight": _num(0.0, 1.0, lo_open=True),
    "economy.demand.inventory_adjustment": _SHARE,
    "economy.demand.initial_utilisation": _num(0.0, 1.0, lo_open=True),
    "economy.investment.chi": _num(0.0, lo_open=True),
    "economy.investment.risk_premium": _num(),
    "economy.equity.expectation_weight": _SHARE,
    "economy.equity.max_premium": _NONNEG,
    "economy.equity.return_floor": _num(0.0, 1.0),
    "economy.equity.return_cap": _num(1.0),
    "economy.equity.shock_std": _NONNEG,
    "economy.phillips.kappa": _NONNEG,
    "economy.phillips.persistence": _SHARE,
    "economy.phillips.anchor": _num(-0.5, 0.5),
    "economy.taylor.r_star": _num(-0.5, 0.5),
    "economy.taylor.pi_target": _num(-0.5, 0.5),
    "economy.taylor.phi_pi": _NONNEG,
    "economy.taylor.phi_y": _NONNEG,
    "economy.taylor.lower_bound": _num(-0.5, 0.5),
    "economy.taylor.smoothing": _num(0.0, 1.0, hi_open=True),
    "policy.tax_labour": _SHARE,
    "policy.tax_capital": _SHARE,
    "policy.tax_consumption": _NONNEG,
    "policy.tax_wealth": _SHARE,
    "policy.benefit": _NONNEG,
    "policy.payment_fee": _NONNEG,
    "policy.ubi.level": _NONNEG,
    "policy.ubi.invest_share": _SHARE,
    "policy.dividend": _NONNEG,
    "policy.ubi.indexation": _choice(UBI_INDEXATION),
    "policy.ubi.start": _int(0),
    "policy.ubi.ramp": _int(0),
    "policy.government.spending": _num(0.0, 1.0),
    "policy.fiscal.rule": _choice(FISCAL_RULES),
    "policy.fiscal.target_debt_to_gdp": _num(),
    "policy.fiscal.response": _NONNEG,
    "policy.fiscal.max_surcharge": _SHARE,
    "policy.fund.initial_share": _num(0.0, 1.0, hi_open=True),
    "policy.fund.payout": _SHARE,
    "policy.fee.earner": _choice(FEE_EARNERS),
    "policy.fee.spend_share": _SHARE,
    "policy.dominant.initial_share": _num(0.0, 1.0, hi_open=True),
    "policy.dominant.reinvest": _SHARE,
    "cluster.actors": _int(1),
    "cluster.address": _str_or_none,
    "cluster.cpus_per_actor": _optional(_num(0.0, lo_open=True)),
    "backend.name": _choice(BACKENDS),
    "checkpoint.every": _int(0),
    "checkpoint.store": _str_or_none,
    "checkpoint.keep": _int(1),
    "checkpoint.storage_options": _mapping,
    "checkpoint.max_recoveries": _int(0),
    "output.snapshot_every": _int(1),
    "output.lorenz_points": _int(2),
    "output.poverty_share": _num(0.0, lo_open=True),
    "output.progress": lambda v: None if isinstance(v, bool) else f"must be true or false, got {v!r}",
}


def validate(cfg: DictConfig) -> DictConfig:
    """Check every known key's value and the cross-key constraints; raise ConfigError on the first."""
    for key, check in CHECKS.items():
        value = OmegaConf.select(cfg, key, default="<missing>")
        if value == "<missing>":
            raise ConfigError(f"{key}: missing from the configuration (is conf/ complete?)")
        problem = check(value)
        if problem:
            raise ConfigError(f"{key} {problem}")
    pop, cl = cfg.population, cfg.cluster
    if cl.actors > pop.households:
        raise ConfigError(
            f"cluster.actors ({cl.actors}) exceeds population.households ({pop.households}): "
            "every actor needs at least one household"
        )
    blocks = -(-pop.households // pop.block_size)
    if cl.actors > blocks:
        raise ConfigError(
            f"cluster.actors ({cl.actors}) exceeds the {blocks} blocks of population.block_size="
            f"{pop.block_size} households: lower cluster.actors or population.block_size"
        )
    if cfg.economy.closure == "fixed":  # prices are given: the solver's condition is known now
        p = cfg.policy
        R = 1.0 + (cfg.economy.return_safe - 1.0) * (1.0 - p.tax_capital) - p.tax_wealth
        if cfg.household.beta * R >= 1.0:
            raise ConfigError(
                f"household.beta * economy.return_safe (after tax) = {cfg.household.beta * R:.4f} >= 1: "
                "households would save without bound; lower household.beta or economy.return_safe")
    check_local_memory(cfg)
    if cfg.policy.fund.initial_share + cfg.policy.dominant.initial_share >= 1.0:
        raise ConfigError("policy.fund.initial_share + policy.dominant.initial_share must be < 1 "
                          "(households hold the rest of firm equity)")
    if cfg.economy.closure != "fixed" and cfg.policy.dividend != 0:
        raise ConfigError("policy.dividend is the fixed closure's exogenous dividend; with economy.closure="
                          f"{cfg.economy.closure} the public fund pays it (policy.fund.initial_share, payout)")
    if cfg.economy.closure != "fixed" and cfg.economy.automation_path.kind == "bout" and \
            cfg.economy.automation_path.phi_end < cfg.economy.automation_path.phi0:
        raise ConfigError("economy.automation_path.phi_end must be >= economy.automation_path.phi0")
    if cfg.household.productivity.states * 3 > 255:
        raise ConfigError("household.productivity.states must be <= 85 (state index is one byte)")
    return cfg


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
    need = int(cfg.population.households) * PEAK_HOST_BYTES_PER_HOUSEHOLD[cfg.backend.name]
    if need > 0.8 * available:
        fused = "" if cfg.backend.name == "fused" else ", use backend=fused"
        raise ConfigError(
            f"population.households={cfg.population.households:,} needs about {need / 2**30:.1f} GiB "
            f"with backend={cfg.backend.name}, but this machine has {available / 2**30:.1f} GiB free: "
            f"lower population.households{fused}, or run on a cluster (cluster=ray)"
        )


# --- composition (Hydra compose API, for checking overrides before Hydra runs) -------------------
_PATTERNS = [
    (re.compile(r"Could not override '([^']+)'"), "unknown config key '{0}'"),
    (re.compile(r"Key '([^']+)' is not in struct"), "unknown config key '{0}'"),
    (re.compile(r"Could not find '([^/']+)/([^']+)'"), "{0}={1}: no such option"),
    (re.compile(r"Could not append to config\. An item is already at '([^']+)'"),
     "'+{0}': the key already exists; drop the '+'"),
]


def explain_hydra_error(exc: BaseException) -> str:
    """Turn Hydra's multi-line composition errors into one line that names the key."""
    text = str(exc)
    for pattern, template in _PATTERNS:
        m = pattern.search(text)
        if m:
            msg = template.format(*m.groups())
            if "no such option" in msg:
                group = m.group(1)
                options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
                if options:
                    msg += f" (available: {', '.join(options)})"
            elif "unknown config key" in msg:
                msg += " (see conf/config.yaml for the keys, or `sim run --help`)"
            return msg
    return " ".join(text.split())


def compose(overrides: list[str]) -> DictConfig:
    """Compose conf/ with the overrides (no Hydra runtime) and validate; raise ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(explain_hydra_error(exc)) from None
    return validate(cfg)
