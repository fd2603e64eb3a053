"""What households face in one period, and its two translations: the solver's problem and the
kernels' parameter vector.

A ``PeriodEnvironment`` holds the macro quantities a household sees (prices, policy, labour-market
rates). From it, and nowhere else, come
* ``household_problem``: the discrete-state income process and returns the solver needs, and
* ``kernel_params``: the flat vector the household kernels read.
so the solver and the simulation always agree on incomes, taxes and transition rates.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kernels import schema as S


@dataclass(frozen=True)
class ProductivityChain:
    """Discrete productivity process: levels z_j (mean 1 under the stationary law) and P[j, j']."""

    levels: np.ndarray
    transition: np.ndarray

    @property
    def cdf(self) -> np.ndarray:
        c = np.cumsum(self.transition, axis=1)
        c[:, -1] = 1.0  # guard the inverse-CDF draw against rounding
        return c

    @property
    def stationary(self) -> np.ndarray:
        """Stationary law of the chain (initial productivity is drawn from it)."""
        from sim.solver.markov import stationary_distribution

        return stationary_distribution(self.transition)

    @classmethod
    def tauchen(cls, states: int, rho: float, sigma: float) -> "ProductivityChain":
        from sim.solver.markov import stationary_distribution, tauchen

        log_grid, P = tauchen(states, rho, sigma)
        levels = np.exp(log_grid)
        levels = levels / (stationary_distribution(P) @ levels)
        return cls(levels, P)

    def with_high_state(self, level: float, entry: float, exit: float) -> "ProductivityChain":
        """This chain with a high-productivity state appended (``markov.with_high_state``: entered
        with probability ``entry`` from every state, left with ``exit``), its level ``level`` times
        the mean of the ordinary states; then all levels divided by the new stationary mean
        (1 - h) mean + h level mean, h = entry/(entry + exit), so that it is 1 again."""
        from sim.solver.markov import stationary_distribution, with_high_state

        P = with_high_state(self.transition, entry, exit)
        mean = stationary_distribution(self.transition) @ self.levels
        levels = np.append(self.levels, level * mean)
        return ProductivityChain(levels / (stationary_distribution(P) @ levels), P)

    @classmethod
    def from_config(cls, prod_cfg) -> "ProductivityChain":
        """The chain ``household.productivity`` configures: Tauchen's, with the high state when
        ``high_state.level`` > 0 (0: none, the chain is Tauchen's exactly)."""
        chain = cls.tauchen(int(prod_cfg.states), float(prod_cfg.rho), float(prod_cfg.sigma))
        high = prod_cfg.high_state
        if float(high.level) > 0.0:
            chain = chain.with_high_state(float(high.level), float(high.entry), float(high.exit))
        return chain


@dataclass(frozen=True)
class PeriodEnvironment:
    """Everything a household faces in period t (goods per period; returns gross per period)."""

    wage: float
    return_safe: float  # realised gross safe return this period
    return_risky: float  # realised gross risky return this period
    risky_mean: float  # expected gross risky return (the household's belief, IID lognormal)
    risky_std: float
    separation: float
    job_finding: float
    hazard_displacement: float
    automation: float  # Phi_t
    automated_share: float  # share of employed workers on automated tasks (perceived hazard)
    tax_labour: float = 0.0
    tax_capital: float = 0.0
    tax_consumption: float = 0.0
    tax_wealth: float = 0.0
    benefit: float = 0.0
    payment_fee: float = 0.0
    ubi: float = 0.0
    ubi_invest_share: float = 0.0
    dividend: float = 0.0
    poverty_line: float = 0.0
    return_risky_income: float | None = None  # payout part of return_risky (None: all of it)
    # the part of return_risky the capital tax reaches (None: all of it, gains taxed as they
    # accrue; a priced equity market taxes the payout only, sim/macro/equity.py)
    return_risky_taxed: float | None = None
    # likewise the part of the expected risky return (risky_mean) the tax will reach: the expected
    # dividend yield where gains are untaxed (None: all of it, gains and losses taxed as they accrue)
    risky_mean_taxed: float | None = None
    # The households' belief about the safe return when it differs from the realised one (None:
    # the realised). A macro closure with economy.patience_cap lowers it so that the most patient
    # type's beta * R stays below the cap.
    belief_return_safe: float | None = None
    # Likewise the job-finding and separation probabilities households expect to persist (None:
    # this period's). The demand closure sets them from the planned unemployment rate.
    belief_job_finding: float | None = None
    belief_separation: float | None = None
    # A one-off transfer this period to a random half of the households whose beginning-of-period
    # wealth is in [transfer_wealth_min, transfer_wealth_max) (sim experiment mpc); unanticipated,
    # so it is not in the household problem.
    transfer: float = 0.0
    transfer_wealth_min: float = -1e300
    transfer_wealth_max: float = 1e300
    # kappa: what a household holding equity pays per period to hold it (goods; a participation
    # cost, economy.equity.participation_cost x wage in the classical and demand closures,
    # docs/economy.md "Who holds equity"); 0 in the fixed closure.
    participation_cost: float = 0.0

    def with_(self, **changes) -> "PeriodEnvironment":
        return replace(self, **changes)

    @property
    def price(self) -> float:
        """Goods paid per unit of consumption: 1 + tau_c + f."""
        return 1.0 + self.tax_consumption + self.payment_fee

    @property
    def taxed_return(self) -> float:
        """R_tax: the gross risky return whose excess the capital tax reaches."""
        return self.return_risky if self.return_risky_taxed is None else self.return_risky_taxed

    @property
    def after_tax_risky_mean(self) -> float:
        """The risky return households expect after tax: 1 + (E[R_k] - 1)(1 - tau_k) - tau_w where
        gains are taxed as they accrue; E[R_k] - tau_k (E[R_tax] - 1) - tau_w where only the
        expected dividend yield E[R_tax] - 1 is (``risky_mean_taxed``)."""
        if self.risky_mean_taxed is None:
            return self.after_tax_gross(self.risky_mean)
        return self.risky_mean - self.tax_capital * (self.risky_mean_taxed - 1.0) - self.tax_wealth

    @property
    def after_tax_risky_std(self) -> float:
        """Its standard deviation: the tax shares the risk of a return it reaches in full (losses
        offset), (1 - tau_k) std; an untaxed price change keeps all of it."""
        return self.risky_std * (1.0 - self.tax_capital) if self.risky_mean_taxed is None else self.risky_std

    @property
    def expected_excess(self) -> float:
        """The after-tax excess return households plan with, per period:
        after-tax E[R_k] - after-tax R_f^belief (the participation rule's gain, kernels.household)."""
        safe = self.return_safe if self.belief_return_safe is None else self.belief_return_safe
        return self.after_tax_risky_mean - self.after_tax_gross(safe)

    def after_tax_gross(self, gross: float) -> float:
        """Gross return net of capital and wealth taxes: 1 + (R - 1)(1 - tau_k) - tau_w."""
        return 1.0 + (gross - 1.0) * (1.0 - self.tax_capital) - self.tax_wealth


def employment_transition(env: PeriodEnvironment) -> np.ndarray:
    """3x3 perceived transition over (employed, unemployed, displaced), the kernel's rules:
    E -> D with prob hazard * automated_share, E -> U with prob separation; U, D -> E with job_finding.
    """
    d = env.hazard_displacement * env.automated_share
    f = env.job_finding if env.belief_job_finding is None else env.belief_job_finding
    s = env.separation if env.belief_separation is None else env.belief_separation
    return np.array([
        [1.0 - d - s, s, d],
        [f, 1.0 - f, 0.0],
        [f, 0.0, 1.0 - f],
    ])


def state_income(env: PeriodEnvironment, chain: ProductivityChain) -> np.ndarray:
    """Non-capital cash income per discrete state s = e * n_z + z (goods per period):
    employed (1 - tau_l) w z_j, otherwise the benefit; plus the cash part of UBI and the dividend."""
    common = env.ubi * (1.0 - env.ubi_invest_share) + env.dividend
    employed = (1.0 - env.tax_labour) * env.wage * chain.levels + common
    idle = np.full_like(chain.levels, env.benefit + common)
    return np.concatenate([employed, idle, idle])


def discount_factors(hh_cfg) -> np.ndarray:
    """The types' discount factors beta_j, j = 0 .. n-1 (``household.types``): the midpoints of n
    equal-probability bins of the uniform distribution on [beta - spread, beta + spread], as
    cstwMPC's beta-dist (Carroll, Slacalek, Tokuoka & White 2017, QE 8(3); HARK's
    ``Uniform(...).discretize(n)``):

        beta_j = beta + spread (2 j + 1 - n) / n.

    n = 1 gives beta itself, exactly."""
    n = int(hh_cfg.types.count)
    return float(hh_cfg.beta) + float(hh_cfg.types.beta_spread) * ((2.0 * np.arange(n) + 1.0 - n) / n)


def household_problem(env: PeriodEnvironment, chain: ProductivityChain, hh_cfg):
    """The solver's problem for this environment (infinite horizon at the perceived environment),
    at the centre of the discount factors, ``household.beta`` (``PolicyCache`` solves each type's
    at its own, ``discount_factors``)."""
    from sim.solver.household import HouseholdProblem

    transition = np.kron(employment_transition(env), chain.transition)
    return HouseholdProblem(
        crra=float(hh_cfg.crra),
        beta=float(hh_cfg.beta),
        R_free=env.after_tax_gross(env.return_safe if env.belief_return_safe is None
                                   else env.belief_return_safe),
        transition=transition,
        income=state_income(env, chain),
        risky_mean=env.after_tax_risky_mean if env.risky_std > 0 else None,
        risky_std=log_std(env.after_tax_risky_mean, env.after_tax_risky_std),
        risky_nodes=int(hh_cfg.risky_nodes),
        borrowing_limit=float(hh_cfg.borrowing_limit),
        price=env.price,
        grid_points=int(hh_cfg.grid_points),
        a_max=float(hh_cfg.asset_max),
    )


def log_std(mean: float, std: float) -> float:
    """Std of log R for a lognormal gross return R with the given mean and std (the solver's
    convention, as HARK's): sigma^2 = log(1 + (std / mean)^2)."""
    return float(np.sqrt(np.log1p((std / mean) ** 2))) if std > 0 else 0.0


def kernel_params(env: PeriodEnvironment, hh_cfg) -> np.ndarray:
    """The flat parameter vector the kernels read (kernels.schema.PARAMS)."""
    p = S.new_params()
    values = {
        "wage": env.wage,
        "tax_labour": env.tax_labour,
        "benefit": env.benefit,
        "ubi": env.ubi,
        "ubi_invest_share": env.ubi_invest_share,
        "return_safe": env.return_safe,
        "return_risky": env.return_risky,
        "return_risky_income": env.return_risky if env.return_risky_income is None else env.return_risky_income,
        "return_risky_taxed": env.taxed_return,
        "tax_capital": env.tax_capital,
        "tax_wealth": env.tax_wealth,
        "dividend": env.dividend,
        "tax_consumption": env.tax_consumption,
        "payment_fee": env.payment_fee,
        "hazard_displacement": env.hazard_displacement,
        "separation": env.separation,
        "job_finding": env.job_finding,
        "automation": env.automation,
        "borrowing_limit": float(hh_cfg.borrowing_limit),
        "grid_min": -float(hh_cfg.borrowing_limit),
        "grid_max": float(hh_cfg.kernel_grid_max),
        "poverty_line": env.poverty_line,
        "transfer": env.transfer,
        "transfer_wealth_min": env.transfer_wealth_min,
        "transfer_wealth_max": env.transfer_wealth_max,
        "participation_cost": env.participation_cost,
        "expected_excess": env.expected_excess,
    }
    for name, value in values.items():
        p[S.PARAMS[name]] = value
    return p
