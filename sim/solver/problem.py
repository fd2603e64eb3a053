"""The household problem's parameters, validated, and what is derived from them: the asset
grid, the income-shock and return nodes, the limiting risky share, and the checks that an
infinite-horizon solution exists.

The problem itself (Bellman equation, timing, units) is stated in :mod:`sim.solver.household`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from .markov import check_transition, stationary_distribution
from .returns import lognormal_nodes, mean_one_lognormal_nodes, portfolio_limit_share


def asset_grid(lo: float, hi: float, n: int, nest: int = 2) -> np.ndarray:
    """``n`` points on ``[lo, hi]``, nested-exponentially dense near ``lo`` (HARK-style ``nest``).

    Consumption functions curve most near the borrowing constraint, so that is where points go.
    """
    span = hi - lo
    top = span
    for _ in range(nest):
        top = np.log1p(top)
    u = np.linspace(0.0, top, n)
    for _ in range(nest):
        u = np.expm1(u)
    u[-1] = span  # remove rounding at the top
    return lo + u


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays, made read-only: derived objects are shared by a period's types (``with_beta``)."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _finite_positive(name: str, value: float) -> float:
    if value is None or not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def _count(name: str, value: int, least: int) -> int:
    if int(value) != value or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value}")
    return int(value)


@dataclass(frozen=True, eq=False)
class HouseholdProblem:
    """One household problem; validated on construction (bad parameters raise ``ValueError``).

    Units: ``income`` and ``a_max``/``borrowing_limit`` are goods per period; returns are gross
    per period; ``risky_std`` and ``transitory_std`` are standard deviations of the *log*.
    ``a_max=None`` picks ``100 x`` the stationary mean income (or 100 if income is zero).
    """

    crra: float
    beta: float
    R_free: float
    transition: np.ndarray
    income: np.ndarray
    risky_mean: float | None = None
    risky_std: float = 0.0
    risky_nodes: int = 7
    transitory_std: float = 0.0
    transitory_nodes: int = 1
    borrowing_limit: float = 0.0
    price: float = 1.0
    grid_points: int = 200
    a_max: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        set_(self, "crra", _finite_positive("crra (risk aversion gamma)", self.crra))
        set_(self, "beta", _finite_positive("beta (discount factor)", self.beta))
        set_(self, "R_free", _finite_positive("R_free (gross safe return)", self.R_free))
        income = np.array(self.income, dtype=float).reshape(-1)
        if income.size == 0 or not np.all(np.isfinite(income)):
            raise ValueError("income must be a non-empty vector of finite numbers")
        if np.any(income < 0.0):
            raise ValueError(f"income must be >= 0 in every state (min is {income.min():.4g})")
        P = check_transition(self.transition, income.size, "transition")
        income.setflags(write=False)
        P = P.copy()
        P.setflags(write=False)
        set_(self, "income", income)
        set_(self, "transition", P)
        if self.risky_mean is not None:
            set_(self, "risky_mean", _finite_positive("risky_mean (gross risky return)", self.risky_mean))
        if not np.isfinite(self.risky_std) or self.risky_std < 0.0:
            raise ValueError(f"risky_std must be >= 0, got {self.risky_std}")
        if not np.isfinite(self.transitory_std) or self.transitory_std < 0.0:
            raise ValueError(f"transitory_std must be >= 0, got {self.transitory_std}")
        set_(self, "risky_nodes", _count("risky_nodes", self.risky_nodes, 1))
        set_(self, "transitory_nodes", _count("transitory_nodes", self.transitory_nodes, 1))
        set_(self, "grid_points", _count("grid_points", self.grid_points, 10))
        if not np.isfinite(self.borrowing_limit) or self.borrowing_limit < 0.0:
            raise ValueError(f"borrowing_limit must be >= 0 (assets >= -borrowing_limit), got {self.borrowing_limit}")
        set_(self, "price", _finite_positive("price (goods per unit of consumption)", self.price))
        if self.a_max is None:
            set_(self, "a_max", 100.0 * self.income_scale)
        set_(self, "a_max", _finite_positive("a_max", self.a_max))
        self._check_solvable()

    def with_beta(self, beta: float) -> HouseholdProblem:
        """This problem at discount factor ``beta``: ``dataclasses.replace(self, beta=beta)``
        without deriving again what does not depend on beta (the shock and return nodes, the
        limiting share, the income scale, the grid), which a period's types share; checked as a new
        problem is (beta finite and positive, the return-impatience condition)."""
        for name in _BETA_FREE:  # derived here once, so that every type's copy shares them
            getattr(self, name)
        other = copy.copy(self)  # the fields and the cached derived objects (read-only arrays)
        for name in set(other.__dict__) - _FIELDS - _BETA_FREE:  # anything else is derived again
            del other.__dict__[name]
        object.__setattr__(other, "beta", _finite_positive("beta (discount factor)", beta))
        other._check_solvable()
        return other

    # ----- derived objects (cached; the dataclass is frozen) -----------------------------------
    @property
    def n_states(self) -> int:
        return self.income.size

    @property
    def has_risky(self) -> bool:
        return self.risky_mean is not None

    @cached_property
    def income_scale(self) -> float:
        """Stationary mean income (goods per period), used to scale grids; 1 if income is zero."""
        mean = float(stationary_distribution(self.transition) @ self.income)
        return mean if mean > 0.0 else (float(self.income.max()) or 1.0)

    @cached_property
    def shocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Transitory multipliers ``theta_k`` and probabilities ``pi_k`` (equiprobable, mean one)."""
        return _read_only(*mean_one_lognormal_nodes(self.transitory_std, self.transitory_nodes))

    @cached_property
    def returns(self) -> tuple[np.ndarray, np.ndarray]:
        """Risky return nodes ``R_n`` and weights ``w_n`` (equiprobable, exact mean)."""
        if not self.has_risky:
            return _read_only(np.array([self.R_free]), np.ones(1))
        return _read_only(*lognormal_nodes(self.risky_mean, self.risky_std, self.risky_nodes))

    @cached_property
    def limit_share(self) -> float:
        """Share as wealth -> infinity: one-period CRRA optimum on the discretised returns."""
        if not self.has_risky:
            return 0.0
        return portfolio_limit_share(*self.returns, self.R_free, self.crra)

    @property
    def a_min(self) -> float:
        return -self.borrowing_limit

    def _check_solvable(self) -> None:
        """Raise ``ValueError`` when the infinite-horizon problem has no solution. beta R_free >= 1 is
        allowed: with gamma >= 1 the consumption function exists (return impatience, (beta R)^(1/gamma)
        < R, and a finite value hold; Carroll 2020, "Theoretical foundations of buffer stock saving",
        QE 11(3)); only a target and a stationary distribution need beta R < 1 (the growth-impatience
        condition without growth), which ``stationary_wealth`` checks."""
        worst = self.income.min() * self.shocks[0].min()
        # The household must be able to carry the maximal debt forever: interest (R_f-1)*b paid
        # out of the worst income. At equality consumption would be zero forever (u' infinite).
        if self.borrowing_limit > 0.0 and worst - (self.R_free - 1.0) * self.borrowing_limit <= 0.0:
            raise ValueError(
                f"borrowing_limit {self.borrowing_limit:.6g} is at or beyond the natural borrowing limit "
                f"(worst income {worst:.6g} cannot service (R_free-1)*debt); lower it"
            )
        # Return impatience: beta*E[R_p^(1-gamma)] < 1 keeps the limiting MPC positive. When it
        # fails with gamma < 1 the value of wealth is infinite, so there is no solution.
        R, w = self.returns
        Rp = self.R_free + self.limit_share * (R - self.R_free)
        ric = self.beta * float(w @ Rp ** (1.0 - self.crra))
        if ric >= 1.0 and self.crra < 1.0:
            raise ValueError(
                f"return impatience fails (beta*E[R^(1-gamma)] = {ric:.6g} >= 1 with gamma < 1): "
                "value is infinite, no solution"
            )

    @cached_property
    def a_grid(self) -> np.ndarray:
        """End-of-period asset grid ``(G,)``: from the limit ``-b`` to ``a_max``, 0 included if b > 0."""
        G = self.grid_points
        lo = self.a_min
        # If income can be zero and b = 0, a = 0 would leave zero consumption next period: the
        # natural limit coincides with the artificial one, so start just above it.
        if self.borrowing_limit == 0.0 and self.income.min() == 0.0:
            lo = 1e-7 * self.income_scale
        if self.borrowing_limit > 0.0:
            grid = np.union1d(asset_grid(lo, self.a_max, G - 1), [0.0])
        else:
            grid = asset_grid(lo, self.a_max, G)
        return _read_only(grid)[0]


_FIELDS = frozenset(f.name for f in fields(HouseholdProblem))
# The cached derived objects that do not depend on beta, which with_beta shares; a cached property
# not listed here is derived again for each type.
_BETA_FREE = frozenset({"income_scale", "shocks", "returns", "limit_share", "a_grid"})
