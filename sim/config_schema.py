"""The configuration schema: every key of a run, with its type, unit, range and default.

This is the one place a parameter is declared. Hydra composes ``conf/config.yaml`` on top of
``SimConfig`` (registered in Hydra's ConfigStore as ``schema``), so a value of the wrong type is
refused by OmegaConf and an unknown key by ``sim.config``. Ranges are declared with the field
(``param(default, ge=..., gt=..., le=..., lt=..., choices=...)``) and checked in one place
(``sim.config.check_ranges``), which names the key's full dotted path in its one-line message.

The groups ``population``, ``backend`` and ``cluster`` have no defaults here: their values live in
``conf/<group>/<option>.yaml`` (a whole block picked at once). Scenarios (``conf/scenario/``) only
set keys declared here. Units: goods per period unless stated; one period is a quarter by default
(``periods_per_year``); "per YEAR" keys are converted with ``periods_per_year``.

Fields are read as ``cfg.population.households`` from the composed (schema-backed) DictConfig, or
from dataclass instances: ``OmegaConf.to_object(cfg)`` gives a ``SimConfig``.
"""
# (no `from __future__ import annotations`: OmegaConf reads the field types at runtime)
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from kernels import BACKENDS
from sim.macro.automation import AUTOMATION_KINDS as _AUTOMATION_PATHS
from sim.macro.government import FEE_EARNERS, FINANCING, UBI_INDEXATION
from sim.macro.technology import TECHNOLOGIES as _TECHNOLOGY_CLASSES
from sim.opening_wealth import INITIAL_WEALTH

MAX_PERIODS = 10_000  # 2,500 years of quarters
# the choices of a key are the names the code that implements them knows
CLOSURES = ("fixed", "classical", "demand")  # sim.economy.make_economy
EQUITY_MARKETS = ("value", "priced")  # sim.economy.make_economy (demand closure)
INVESTMENT_RULES = ("q", "accelerator")  # sim.macro.demand.DemandEconomy._investment
TECHNOLOGIES = tuple(_TECHNOLOGY_CLASSES)
AUTOMATION_KINDS = tuple(_AUTOMATION_PATHS)


def param(default: Any = MISSING, *, ge=None, gt=None, le=None, lt=None, choices=None):
    """A field with its default and its admissible range (inclusive ge/le, exclusive gt/lt; None,
    where the type is Optional, is always admissible)."""
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    return field(default=default, metadata={k: v for k, v in bounds.items() if v is not None})


def share(default: Any = MISSING):
    """A share or probability in [0, 1]."""
    return param(default, ge=0.0, le=1.0)


def nonnegative(default: Any = MISSING):
    return param(default, ge=0.0)


def positive(default: Any = MISSING):
    return param(default, gt=0.0)


def within(low: float, high: float, default: Any):
    """A number in [low, high] (rates per year: a sanity range)."""
    return param(default, ge=low, le=high)


# --- households ------------------------------------------------------------------------------------
@dataclass
class Population:
    """Who lives in the economy; values come from conf/population/ (small, default, large)."""
    households: int = param(ge=1)
    block_size: int = param(ge=1)  # households per reduction block (results never depend on shards)
    # the opening wealth's law: exponential | stationary (the period-0 problem's own, scaled to
    # initial_wealth_mean; sim/opening_wealth.py)
    initial_wealth: str = param("exponential", choices=INITIAL_WEALTH)
    initial_wealth_mean: float = nonnegative()  # mean of the initial wealth (goods)
    initial_risky_share: float = share()  # share of initial wealth held in risky capital
    initial_unemployment: float = share()  # share unemployed in period 0


@dataclass
class HighState:
    """An earnings tail: a high-productivity state after Castaneda, Diaz-Gimenez & Rios-Rull (2003),
    entered from every ordinary state and left to them by their stationary law (docs/model.md, 11;
    sim.solver.markov.with_high_state). Its stationary share is entry / (entry + exit)."""
    level: float = nonnegative(0.0)  # productivity / mean of the ordinary states (0: no high state)
    entry: float = param(0.0, ge=0.0, lt=1.0)  # probability per period of entering it
    exit: float = share(0.0)  # probability per period of leaving it


@dataclass
class Productivity:
    """Log productivity: a Tauchen AR(1) (and optionally a high state), mean normalised to 1."""
    states: int = param(7, ge=1, le=85)  # Markov states (3 x states must fit the one-byte index)
    rho: float = param(0.95, gt=-1.0, lt=1.0)  # persistence per period
    sigma: float = nonnegative(0.3)  # stationary standard deviation of log productivity
    high_state: HighState = field(default_factory=HighState)


@dataclass
class Types:
    """Discount-factor types, cstwMPC's beta-dist (docs/model.md, 11): ``count`` types, beta_j the
    midpoints of equal bins of U[beta - beta_spread, beta + beta_spread]; household i has type
    i mod count (sim.environment.discount_factors)."""
    count: int = param(1, ge=1, le=256)  # types (the type index is one byte; 1: everyone has beta)
    beta_spread: float = param(0.0, ge=0.0, lt=1.0)  # half-width of the uniform spread of beta


@dataclass
class Household:
    """Preferences and the solver (docs/model.md, "The household problem")."""
    crra: float = positive(2.0)  # relative risk aversion gamma
    beta: float = param(0.985, gt=0.0, lt=1.0)  # discount factor per period (the types' centre)
    borrowing_limit: float = nonnegative(0.0)  # end-of-period assets a >= -borrowing_limit (goods)
    grid_points: int = param(200, ge=10)  # solver's end-of-period asset grid
    asset_max: float = positive(500.0)  # top of the solver's asset grid (goods)
    kernel_grid_points: int = param(1024, ge=8)  # policy table resolution seen by the kernels
    kernel_grid_max: float = positive(2000.0)  # cash on hand the tables cover (goods; linear above)
    risky_nodes: int = param(7, ge=1)  # nodes of the discretised lognormal risky return
    resolve_every: int = param(1, ge=1)  # re-solve every k periods (when prices moved)
    # solver convergence: policy error ~2e-5, far below the kernel grid's; validation uses 1e-8
    tolerance: float = param(1.0e-6, gt=0.0, le=1e-2)
    productivity: Productivity = field(default_factory=Productivity)
    types: Types = field(default_factory=Types)


# --- the macro closure -----------------------------------------------------------------------------
@dataclass
class AutomationPath:
    """Phi_t, time in years = period / periods_per_year (sim/macro/automation.py)."""
    kind: str = param("constant", choices=AUTOMATION_KINDS)  # baseline_agi: 20 y, aggressive_agi: 5 y
    phi0: float = param(0.608, ge=0.0, lt=1.0)  # Phi at t = 0 (Korinek-Suh Table 2)
    lam_g: float = nonnegative(0.01)  # Pareto tail x compute growth, per YEAR (bau and agi paths)
    T: Optional[float] = positive(None)  # YEARS to full automation (agi kinds; null: 20 or 5)
    phi_end: float = share(0.9)  # bout: Phi after the bout
    start: float = param(0.0)  # YEARS before the path leaves phi0 (bout: the bout's start)
    duration: float = positive(10.0)  # bout: length, YEARS


@dataclass
class Labour:
    """Demand closure: how employment follows planned output."""
    adjustment: float = param(0.5, gt=0.0, le=1.0)  # share of the employment gap closed per period
    job_finding_max: float = share(1.0)  # per period
    job_finding_min: float = share(0.05)  # per period (below it, separations do the cutting)
    belief_sensitivity: float = share(0.5)  # how much perceived job finding follows planned unemployment
    separation_max: float = share(0.5)  # per period


@dataclass
class Demand:
    expectation_weight: float = param(0.5, gt=0.0, le=1.0)  # D^e <- D^e + weight (D - D^e) per period
    inventory_adjustment: float = share(0.5)  # share of inventories (or backlog) worked off per period
    initial_utilisation: float = param(1.0, gt=0.0, le=1.0)  # D^e_0 / Y*_0


@dataclass
class Investment:
    """Demand closure's investment rule (docs/macro.md, "Investment").

    ``q``: I/K = max(0, delta + (q - 1)/chi), q = u^e R / ((r + xi)/(1 - tau_k) + delta).
    ``accelerator``: I = max(0, delta K + speed (K* - K)), K* = (K_0/Y*_0) (c_ref/c_t)^sigma Y^e:
    desired capital follows expected demand and the user cost, not the technology's factor shares."""
    rule: str = param("q", choices=INVESTMENT_RULES)
    chi: float = positive(10.0)  # adjustment cost, YEARS (q rule)
    risk_premium: float = param(0.04)  # xi per YEAR (both rules' user cost)
    speed: float = param(0.1, gt=0.0, le=1.0)  # accelerator: share of the gap to K* closed a YEAR (the q rule's 1/chi)


@dataclass
class Equity:
    """Demand closure: the equity market and households' beliefs about its return.

    ``market``: ``value`` (stage 1: holders buy and sell at value, the return is last period's
    profit with a valuation shock; ``sim/macro/demand.py``) or ``priced`` (shares with a price
    that clears the market each period; ``sim/macro/equity.py``). Each market reads only its own
    keys below."""
    market: str = param("value", choices=EQUITY_MARKETS)  # conf/config.yaml's default group: priced
    participation_cost: float = nonnegative(0.0)  # kappa per period, per unit of the wage w_t
    # --- market=value ---
    expectation_weight: float = share(0.25)  # perceived excess return adapts by this weight per period
    max_premium: float = nonnegative(0.03)  # cap on the perceived excess return, per period
    return_floor: float = share(0.5)  # realised gross equity return per period is clipped to
    return_cap: float = param(1.5, ge=1.0)  # [floor, cap]
    shock_std: float = nonnegative(0.02)  # std of the realised valuation shock per period
    # --- market=priced ---
    payout: float = share(0.75)  # target share of last period's profit paid as dividends
    dividend_smoothing: float = share(0.3)  # Lintner's speed of adjustment toward the target, per YEAR
    issuance: float = share(0.0)  # share of gross investment financed by new shares (at p_t-1)
    leverage_target: float = share(0.35)  # firms' target debt / (capital + inventories), book
    leverage_adjustment: float = share(0.34)  # share of the gap to it closed per YEAR (Flannery & Rangan 2006)
    growth_weight: float = share(0.0)  # the dividend-growth belief adapts by this per period (0: none)
    yield_reversion: float = share(0.0)  # share of the gap to the normal-yield price expected to close per YEAR (0: none)
    yield_memory: float = share(0.1)  # the normal dividend yield's weight on the latest yield, per YEAR
    price_span: float = param(0.1, gt=0.0, le=2.0)  # the clearing search's first step, at most, in log p
    # an experiment's device (sim experiment mpc): in period held_period the price is held_price
    # instead of the clearing one, and firms issue or buy back the gap at it; -1: never (period 0
    # is the opening issue at p = 1, never cleared, so a hold starts at period 1)
    held_period: int = param(-1, ge=-1)
    held_price: float = positive(1.0)  # goods per share


@dataclass
class Phillips:
    """pi = pi^e + kappa h(D/Y* - 1), pi^e = anchoring pi_target + (1 - anchoring) pi_-1, annual;
    h(g) = g above potential, -slack_scale (1 - exp(g / slack_scale)) below (sim/macro/policy_rules.py)."""
    kappa: float = nonnegative(0.1)  # change in annual inflation per unit gap near potential
    anchoring: float = share(0.25)  # weight of economy.taylor.pi_target in expected inflation, per period
    slack_scale: float = positive(0.075)  # gap scale of downward rigidity (h >= -slack_scale)


@dataclass
class Taylor:
    """i = max(lower_bound, s i_-1 + (1-s)(r_star + pi_target + phi_pi (pi - pi_target) + phi_y gap))."""
    r_star: float = within(-0.5, 0.5, 0.02)  # per YEAR
    pi_target: float = within(-0.5, 0.5, 0.02)  # per YEAR
    phi_pi: float = nonnegative(1.5)
    phi_y: float = nonnegative(0.5)
    lower_bound: float = within(-0.5, 0.5, 0.0)  # per YEAR (0 = the zero lower bound)
    smoothing: float = param(0.7, ge=0.0, lt=1.0)  # weight on last period's rate, per period


@dataclass
class Economy:
    """The macro closure (docs/model.md, "Firms, demand and prices"; docs/economy.md)."""
    closure: str = param("fixed", choices=CLOSURES)  # fixed prices | classical (supply) | demand
    wage: float = nonnegative(1.0)  # wage per efficiency unit of labour
    return_safe: float = positive(1.005)  # gross safe return per period
    equity_premium: float = param(0.01)  # expected risky minus safe gross return per period
    risky_std: float = nonnegative(0.08)  # std of the log gross risky return households plan with, per period
    separation: float = share(0.02)  # probability an employed worker loses the job per period
    job_finding: float = share(0.5)  # probability an unemployed worker finds a job per period
    hazard_displacement: float = share(0.0)  # P(worker on an automated task is displaced) per period
    automation: float = share(0.0)  # Phi: share of tasks automated (constant in the fixed closure)
    # --- classical and demand closures (annual calibration; converted with periods_per_year) ---
    technology: str = param("korinek_suh", choices=TECHNOLOGIES)
    tfp: float = positive(0.5)  # A: goods per factor unit per YEAR (Korinek-Suh Table 2: 0.5)
    sigma: float = positive(0.5)  # Korinek-Suh elasticity of substitution between tasks
    alpha: float = param(0.36, gt=0.0, lt=1.0)  # Cobb-Douglas capital elasticity
    depreciation: float = share(0.10)  # delta per YEAR
    initial_capital: float = positive(4.6)  # K_0 per efficiency unit of full-employment labour (goods)
    # government debt at t = -1 over annual potential output Y*_0, YEARS (classical and demand
    # closures); null: whatever population.initial_wealth_mean leaves (the opening balance sheet's
    # residual); set: the households' initial wealth mean is the one that carries this debt
    # (sim/macro/period.py opening_wealth) and population.initial_wealth_mean is not used
    initial_debt_to_gdp: Optional[float] = param(None, ge=0.0)
    # cap on the most patient type's perceived beta x after-tax return (null: none, the priced
    # market's; the value market keeps stage 1's 0.998, its calibration's: docs/economy.md)
    patience_cap: Optional[float] = param(0.998, gt=0.0, lt=1.0)
    automation_path: AutomationPath = field(default_factory=AutomationPath)
    labour: Labour = field(default_factory=Labour)
    demand: Demand = field(default_factory=Demand)
    investment: Investment = field(default_factory=Investment)
    equity: Equity = field(default_factory=Equity)
    phillips: Phillips = field(default_factory=Phillips)
    taylor: Taylor = field(default_factory=Taylor)


# --- policy ----------------------------------------------------------------------------------------
@dataclass
class Ubi:
    level: float = nonnegative(0.0)  # UBI per household per period (goods)
    invest_share: float = share(0.0)  # share of UBI auto-invested in risky capital
    indexation: str = param("prices", choices=UBI_INDEXATION)  # prices: constant real value
    start: int = param(0, ge=0)  # first period paid
    ramp: int = param(0, ge=0)  # periods to reach the full level (linear; 0 or 1 = at once)


@dataclass
class Government:
    spending: float = share(0.0)  # government consumption G as a share of potential output


@dataclass
class Fiscal:
    """The tax rule's parameters (policy.financing=tax_rule; docs/economy.md, "Financing rules")."""
    target_debt_to_gdp: float = param(0.6)  # debt over annual output the rule steers to
    response: float = nonnegative(0.1)  # tax surcharge per unit of debt/GDP above target
    integral: float = nonnegative(0.0)  # added to the surcharge per period per unit of debt/GDP above target
    max_surcharge: float = share(0.3)  # |surcharge| at most this (a share)
    # the escape clause (docs/economy.md, "Financing rules"): at the lower bound with slack the
    # surcharge stops rising and falls by escape_easing x |output gap| per PERIOD (0: no clause) ...
    escape_easing: float = nonnegative(0.1)
    escape_unwind: float = share(0.05)  # ... and off it the clause's offset shrinks by this share per PERIOD


@dataclass
class Fund:
    """Public / tokenised capital fund (universal basic capital)."""
    initial_share: float = param(0.0, ge=0.0, lt=1.0)  # share of firm equity it owns at t = 0
    payout: float = share(1.0)  # share of its positive equity return paid as equal dividends


@dataclass
class Fee:
    earner: str = param("intermediaries", choices=FEE_EARNERS)  # who earns policy.payment_fee
    spend_share: float = share(1.0)  # share of the intermediaries' income spent on goods (rest saved)


@dataclass
class Dominant:
    """The dominant holder of capital (a company or a state)."""
    initial_share: float = param(0.0, ge=0.0, lt=1.0)  # share of firm equity it owns at t = 0
    reinvest: float = share(0.5)  # share of its capital income reinvested (the rest is consumed)


@dataclass
class Policy:
    """Every policy is a switch; all combine."""
    tax_labour: float = share(0.0)
    tax_capital: float = share(0.0)  # on capital income (robot tax), losses offset
    tax_consumption: float = nonnegative(0.0)
    tax_wealth: float = share(0.0)  # per period on beginning-of-period wealth
    benefit: float = nonnegative(0.0)  # unemployment benefit per unemployed household per period (goods)
    payment_fee: float = nonnegative(0.0)  # payment fee per unit of consumption (0.025 = card rails)
    ubi: Ubi = field(default_factory=Ubi)
    # fixed closure only: per-capita dividend of a public fund (goods per period); the classical
    # and demand closures pay the fund's dividend (policy.fund)
    dividend: float = nonnegative(0.0)
    government: Government = field(default_factory=Government)
    # how every policy is paid for: deficit (debt/GDP tracked) | tax_rule (surcharge steers debt/GDP
    # to fiscal.target_debt_to_gdp) | balanced (revenue = spending each period, debt constant)
    financing: str = param("deficit", choices=FINANCING)
    fiscal: Fiscal = field(default_factory=Fiscal)
    fund: Fund = field(default_factory=Fund)
    fee: Fee = field(default_factory=Fee)
    dominant: Dominant = field(default_factory=Dominant)


# --- the machinery ---------------------------------------------------------------------------------
@dataclass
class Cluster:
    """Where the shard actors run; values come from conf/cluster/ (local, ray)."""
    actors: int = param(ge=1)  # shard actors (each owns a contiguous range of whole blocks)
    address: Optional[str] = param()  # null: local Ray (or RAY_ADDRESS); auto: a running cluster
    cpus_per_actor: Optional[float] = positive()  # null: one CPU each, or a fraction of the CPUs
    # a node with shard actors lost: seconds to wait for a replacement before re-sharding onto the
    # actors that fit in what is left (results do not change); grown back at a later checkpoint
    replace_grace_s: float = nonnegative(30.0)
    # seconds to wait for room for even one actor before stopping (resumable: `sim resume RUN_DIR`)
    capacity_timeout_s: float = nonnegative(600.0)


@dataclass
class Backend:
    """The household kernel; conf/backend/ (kernels/step_<name>.py)."""
    name: str = param(choices=BACKENDS)


@dataclass
class Checkpoint:
    every: int = param(10, ge=0)  # commit a checkpoint every k periods (0 = never)
    store: Optional[str] = param(None)  # path or fsspec URL (s3://bucket/prefix); null: <run dir>/checkpoints
    keep: int = param(2, ge=1)  # committed checkpoints kept (older ones are pruned)
    # fsspec options for the store, e.g. {endpoint_url: http://host:9000} (secrets in env vars);
    # its own keys are free (+checkpoint.storage_options.endpoint_url=...); null is refused
    storage_options: Optional[Dict[str, Any]] = field(default_factory=dict, metadata={"required": True})
    max_recoveries: int = param(3, ge=0)  # shard-actor crashes a run recovers from
    # seconds one checkpoint operation (a write, a listing, a shard's region) may take before the
    # run stops with a message naming the store (a hung object store otherwise stalls it silently)
    io_timeout_s: float = param(600.0, gt=0)


@dataclass
class Output:
    snapshot_every: int = param(10, ge=1)  # distribution snapshots every k periods, and the last
    lorenz_points: int = param(101, ge=2)  # population shares at which Lorenz curves are stored
    poverty_share: float = positive(0.5)  # poverty line = share of the smoothed median disposable income
    poverty_smoothing: float = param(0.1, gt=0.0, le=1.0)  # weight of the latest median in it, per period
    progress: bool = True  # progress bar on stderr


@dataclass
class SimConfig:
    """One run."""
    seed: int = param(0, ge=0, le=2**64 - 1)  # key of the counter-based random numbers
    # number of periods to simulate; the driver keeps every period's aggregates (~8 kB each) in
    # memory until results.zarr is written, so the cap keeps it under ~100 MB
    periods: int = param(40, ge=1, le=MAX_PERIODS)
    periods_per_year: int = param(4, ge=1)  # 4 = quarterly (validation modes use 1)
    population: Population = field(default_factory=Population)
    household: Household = field(default_factory=Household)
    economy: Economy = field(default_factory=Economy)
    policy: Policy = field(default_factory=Policy)
    cluster: Cluster = field(default_factory=Cluster)
    backend: Backend = field(default_factory=Backend)
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    output: Output = field(default_factory=Output)


def register() -> None:
    """Put the schema in Hydra's ConfigStore: conf/config.yaml lists ``schema`` first in its
    defaults, so every value composed on top is checked against these types."""
    ConfigStore.instance().store(name="schema", node=SimConfig)


register()
