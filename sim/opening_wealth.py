"""The households' initial wealth: an exponential draw, or the opening problem's stationary law.

``population.initial_wealth``:

* ``exponential`` (the default): wealth ~ Exponential(mean ``initial_wealth_mean``), the same law
  for every household. Its Gini is 0.5, far below the data's (SCF 2019: about 0.85), so a run's
  distribution takes decades to form (docs/calibration.md discards a burn-in for that reason).
* ``stationary``: the wealth each household would hold in the long run of the period-0 economy.
  Each type's period-0 problem (the one the first period solves) is solved, and its stationary
  distribution of bank balances over the discrete states s = e n_z + z found by Young's (2010)
  histogram method (:func:`sim.solver.stationary.stationary_wealth`). A household of type j in
  state s (its opening employment and productivity, drawn as before) draws its wealth from that
  conditional law. Every type's grid is then scaled by one factor, so that the population's mean is
  the balance sheet's ``initial_wealth_mean`` (and then so that the drawn total is the balance
  sheet's: :func:`scaled_to_draws`): the opening is not a general-equilibrium steady
  state (the households' own stationary saving at the opening's prices need not equal the assets
  the balance sheet gives them), and the scale keeps the law's shape (its Gini, its quantile
  shares), which is what a run from period 0 lacks.

The law on the grid ``g`` (Young's masses ``m_k`` at the points) is read as piecewise linear: the
mass ``m_0`` an atom at ``g_0`` (the borrowing limit: the constrained households), each ``m_k``,
k >= 1, spread evenly over ``(g_{k-1}, g_k]``. Its inverse CDF at a uniform draw ``u`` is the
household's wealth (``kernels.initial``), its mean ``m_0 g_0 + sum_k m_k (g_{k-1} + g_k) / 2``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError

INITIAL_WEALTH = ("exponential", "stationary")
POINTS = 1000  # bank-balance points per state: Gini and top 10 % share to 3 digits of 2,000 points


@dataclass(frozen=True, eq=False)
class WealthTable:
    """The conditional laws a household's opening wealth is drawn from.

    ``grid (types, N)``: wealth (goods), already scaled to the balance sheet's mean;
    ``cdf (types, S, N)``: P(wealth <= grid[j, k] | type j, state s), each row ending at exactly 1."""

    grid: np.ndarray
    cdf: np.ndarray

    def mean(self, state_weights: np.ndarray) -> float:
        """The population mean of the piecewise-linear laws, types equally weighted (each type
        holds every n-th household) and states by ``state_weights (S,)`` (summing to one)."""
        return float(np.mean([_law_means(g, c) @ state_weights for g, c in zip(self.grid, self.cdf)]))


def _law_means(grid: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Mean of each row's piecewise-linear law: the atom at grid[0], the rest uniform per cell."""
    mass = np.diff(cdf, axis=-1, prepend=0.0)
    mid = np.concatenate([grid[:1], 0.5 * (grid[1:] + grid[:-1])])
    return mass @ mid


def opening_state_weights(unemployment: float, productivity_law: np.ndarray, n_states: int) -> np.ndarray:
    """How the opening draw spreads households over s = e n_z + z: employed with probability
    1 - ``unemployment``, unemployed with ``unemployment``, none displaced; z by its stationary law."""
    employment = np.zeros(n_states // productivity_law.size)
    employment[:2] = (1.0 - unemployment, unemployment)
    return np.kron(employment, productivity_law)


def stationary_table(problems: list, solutions: list, state_weights: np.ndarray, wealth_mean: float,
                     n_points: int = POINTS) -> WealthTable:
    """Each type's stationary law of bank balances, conditional on its state, scaled so the
    population's mean wealth is ``wealth_mean`` (goods)."""
    from sim.solver.stationary import stationary_wealth

    grids, cdfs = [], []
    for j, (problem, solution) in enumerate(zip(problems, solutions, strict=True)):
        try:
            law = stationary_wealth(problem, solution, n_points=n_points)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"population.initial_wealth=stationary: type {j} (beta = {problem.beta:.4f}) has no "
                              f"stationary wealth at the opening's prices ({exc}); use "
                              "population.initial_wealth=exponential") from exc
        mass = law.mass
        total = mass.sum(axis=1, keepdims=True)
        marginal = mass.sum(axis=0) / mass.sum()
        # a state with no mass (the displaced, before automation) gets the type's marginal law
        conditional = np.where(total > 0.0, mass / np.where(total > 0.0, total, 1.0), marginal)
        cdf = np.cumsum(conditional, axis=1)
        cdf[:, -1] = 1.0
        grids.append(law.grid)
        cdfs.append(cdf)
    table = WealthTable(np.array(grids), np.array(cdfs))
    mean = table.mean(state_weights)
    if not mean > 0.0:
        raise ConfigError(f"population.initial_wealth=stationary: the opening's stationary wealth has mean {mean:.3g} "
                          "(households save nothing at the opening's prices); use population.initial_wealth="
                          "exponential")
    return WealthTable(table.grid * (wealth_mean / mean), table.cdf)


def check_config(cfg) -> None:
    """What the stationary opening cannot draw, refused in one line: a debt (with a borrowing limit
    the law's atom is one, after returns, and the opening's portfolio split and the owners' stakes
    do not handle it) and a zero mean (nothing to scale the law to). Checked on the configuration
    the opening is drawn from (a fork's arms draw none: they start from the parent's state)."""
    pop = cfg.population
    if pop.initial_wealth != "stationary":
        return
    if float(cfg.household.borrowing_limit) > 0.0:
        raise ConfigError("population.initial_wealth=stationary draws non-negative wealth only, but "
                          f"household.borrowing_limit={cfg.household.borrowing_limit} lets households owe: set "
                          "household.borrowing_limit=0 or population.initial_wealth=exponential")
    sized_by_debt = cfg.economy.closure != "fixed" and cfg.economy.initial_debt_to_gdp is not None
    if not sized_by_debt and not float(pop.initial_wealth_mean) > 0.0:
        raise ConfigError("population.initial_wealth=stationary scales a law to the households' mean wealth, "
                          f"which is {pop.initial_wealth_mean:g}: give population.initial_wealth_mean a positive "
                          "value, or use population.initial_wealth=exponential")


def block_sums(table: WealthTable, lo: int, hi: int, block_size: int, key: int, risky_share: float,
               unemployment: float, productivity_law: np.ndarray) -> list[float]:
    """The opening wealth (safe + risky, goods) that each block of households [lo, hi) draws from
    ``table``, block by block (``lo`` on a block boundary): the terms of :func:`drawn_total`, made
    where the households are (a shard actor draws its own: ``HouseholdShard.opening_sums``), so the
    population is drawn in parallel, not on one core (half a minute at 10^9)."""
    from kernels.initial import initial_state

    types = table.grid.shape[0]
    sums = []
    for b in range(lo, hi, block_size):
        n = min(block_size, hi - b)
        state = initial_state(b, n, key, 0.0, risky_share, unemployment, 0.0, productivity_law, types,
                              (table.grid, table.cdf))
        sums.append(float(np.sum(state["safe"] + state["risky"])))
    return sums


def drawn_total(sums) -> float:
    """The population's opening wealth: the blocks' sums added one by one in block order, so the
    same total (to the bit) whatever the shard layout that drew them."""
    total = 0.0
    for s in sums:
        total += float(s)
    return total


def scaled_to_draws(table: WealthTable, sums, wealth_mean: float, households: int) -> WealthTable:
    """``table`` scaled by the drawn total's miss, so that the households' wealth drawn from it sums to
    the balance sheet's, ``households`` x ``wealth_mean``, to round-off (``sums``: every block's, from
    :func:`block_sums`, in block order). The law's right tail is long (the top 1 % hold about 40 %),
    so a sample's mean misses the law's by several per cent at 10^4 households (the exponential's by
    1/sqrt(n)), and the opening government debt, the balance sheet's residual, would miss its target
    with it."""
    return WealthTable(table.grid * (wealth_mean * households / drawn_total(sums)), table.cdf)


def opening_law(cfg, chain, key: int, economy=None) -> WealthTable | None:
    """The law ``population.initial_wealth`` asks for (None: the exponential draw), scaled to the
    balance sheet's mean wealth, from the period-0 problem of ``economy``, a throwaway built from
    ``cfg`` (reading its environment moves its state; the run builds its own): made here when None
    and the law is asked for. Not yet scaled to the draws (:func:`scaled_to_draws`): the run's
    shard actors draw those (the coordinator), or :func:`opening_table` in one process."""
    pop = cfg.population
    if pop.initial_wealth == "exponential":
        return None
    check_config(cfg)
    from sim.economy import make_economy
    from sim.environment import discount_factors, household_problem
    from sim.household_types import solve_types, type_problems

    economy = economy if economy is not None else make_economy(cfg, key)

    problem = household_problem(economy.environment(0, None, None), chain, cfg.household)
    problems = type_problems(problem, discount_factors(cfg.household))
    tol, mean = float(cfg.household.tolerance), float(economy.initial_wealth_mean)
    weights = opening_state_weights(float(pop.initial_unemployment), chain.stationary, problem.n_states)
    digest = _digest(problems, tol, weights, mean)
    if digest not in _LAWS:
        solutions = solve_types(problems, tol, [None] * len(problems))
        if len(_LAWS) >= 8:
            _LAWS.pop(next(iter(_LAWS)))
        law = stationary_table(problems, solutions, weights, mean)
        for array in (law.grid, law.cdf):
            array.setflags(write=False)  # shared by every run of the process that asks for it
        _LAWS[digest] = law
    return _LAWS[digest]


# the laws this process has made, by what they are made from: the solves and Young's histograms
# take 1-3 s, and a process that runs the same opening again (a driver's runs, a test session)
# reuses the table, the same numbers (a pure function of those inputs)
_LAWS: dict[str, WealthTable] = {}


def _digest(problems: list, tol: float, weights: np.ndarray, mean: float) -> str:
    """What the opening law is a function of: each type's problem (its dataclass fields, not the
    derived objects cached on it), the solver's tolerance, the opening's state weights and mean."""
    import dataclasses
    import hashlib
    import pickle

    fields = [[getattr(p, f.name) for f in dataclasses.fields(p)] for p in problems]
    return hashlib.sha256(pickle.dumps((fields, tol, weights, mean, POINTS))).hexdigest()


def opening_table(cfg, chain, key: int, economy=None) -> WealthTable | None:
    """The table the households' opening wealth is drawn from (None: the exponential draw), made in
    one process: :func:`opening_law`, scaled to its draws, all of them made here (``sim.serial``)."""
    from sim.economy import make_economy

    if cfg.population.initial_wealth == "exponential":
        return None
    economy = economy if economy is not None else make_economy(cfg, key)
    law = opening_law(cfg, chain, key, economy)
    pop = cfg.population
    households = int(pop.households)
    sums = block_sums(law, 0, households, int(pop.block_size), key, float(pop.initial_risky_share),
                      float(pop.initial_unemployment), chain.stationary)
    return scaled_to_draws(law, sums, float(economy.initial_wealth_mean), households)
