"""econ-ark/HARK reference solutions on calibrations equal to a :class:`HouseholdProblem`.

HARK solves a model normalised by permanent income. With permanent shocks switched off
(``PermShkStd = 0``), growth ``PermGroFac = 1`` and survival ``LivPrb = 1``, its normalised model
*is* our level model: ``m' = R a + theta'``. Income levels enter HARK as transitory-shock atoms
(``MarkovConsumerType``: one income distribution per Markov state with atoms ``y_s theta_k``) or,
for ``PortfolioConsumerType`` (IID income only), by scaling: with income ``y`` our policy is
``c(m) = y c_HARK(m / y)`` and ``share(m) = share_HARK(m / y)`` (CRRA is homothetic).

HARK discretises its lognormals with the same equiprobable method as :mod:`sim.solver.returns`,
so both solvers see identical shock nodes; the remaining differences are grids and interpolation.
HARK is imported lazily: it is a test/validation dependency only.
"""
from __future__ import annotations

import numpy as np

from .problem import HouseholdProblem

__all__ = ["hark_markov_consumption", "hark_portfolio_policy"]


def hark_markov_consumption(
    problem: HouseholdProblem, aXtraCount: int = 400, tolerance: float = 1e-10
):
    """Solve ``problem`` (no risky asset, ``price = 1``) with HARK's ``MarkovConsumerType``.

    Returns ``c(m) -> (S, len(m))``, HARK's consumption function in every state.
    """
    from HARK.ConsumptionSaving.ConsMarkovModel import MarkovConsumerType
    from HARK.distributions import DiscreteDistributionLabeled

    if problem.has_risky or problem.price != 1.0:
        raise ValueError("MarkovConsumerType reference needs a safe-asset-only problem with price 1")
    S = problem.n_states
    theta, pi = problem.shocks
    agent = MarkovConsumerType(
        cycles=0, CRRA=problem.crra, DiscFac=problem.beta,
        Rfree=[np.full(S, problem.R_free)], LivPrb=[np.ones(S)], PermGroFac=[np.ones(S)],
        BoroCnstArt=-problem.borrowing_limit, aXtraMax=problem.a_max + problem.borrowing_limit,
        aXtraCount=aXtraCount, aXtraNestFac=3, vFuncBool=False, CubicBool=False,
        MrkvPrbsInit=np.full(S, 1.0 / S),
    )
    # Set after construction: HARK's constructors would otherwise rebuild these from defaults.
    agent.MrkvArray = [np.array(problem.transition)]
    agent.IncShkDstn = [[
        DiscreteDistributionLabeled(
            pmv=pi, atoms=np.vstack([np.ones(theta.size), y * theta]), var_names=["PermShk", "TranShk"]
        )
        for y in problem.income
    ]]
    agent.tolerance = tolerance
    agent.solve()
    cfuncs = agent.solution[0].cFunc

    def c(m):
        m = np.asarray(m, dtype=float)
        return np.array([cfuncs[s](m) for s in range(S)])

    return c


def hark_portfolio_policy(
    problem: HouseholdProblem, aXtraCount: int = 200, ShareCount: int = 26, tolerance: float = 1e-9
):
    """Solve a one-state ``problem`` with a risky asset using HARK's ``PortfolioConsumerType``.

    Returns ``policy(m) -> (c, share)`` for our level model (arrays shaped like ``m``).
    """
    from HARK.ConsumptionSaving.ConsPortfolioModel import PortfolioConsumerType

    if problem.n_states != 1 or not problem.has_risky:
        raise ValueError("PortfolioConsumerType reference needs one income state and a risky asset")
    if problem.borrowing_limit != 0.0 or problem.price != 1.0:
        raise ValueError("PortfolioConsumerType reference needs borrowing_limit 0 and price 1")
    y = float(problem.income[0])
    if y <= 0.0:
        raise ValueError("PortfolioConsumerType reference needs positive income")
    agent = PortfolioConsumerType(
        cycles=0, CRRA=problem.crra, DiscFac=problem.beta, Rfree=[problem.R_free],
        LivPrb=[1.0], PermGroFac=[1.0], PermShkStd=[0.0], PermShkCount=1,
        TranShkStd=[problem.transitory_std], TranShkCount=problem.transitory_nodes,
        UnempPrb=0.0, IncUnemp=0.0, RiskyAvg=problem.risky_mean, RiskyStd=problem.risky_std,
        RiskyCount=problem.risky_nodes, aXtraMax=problem.a_max / y, aXtraCount=aXtraCount,
        aXtraNestFac=2, ShareCount=ShareCount, BoroCnstArt=0.0, vFuncBool=False,
    )
    agent.tolerance = tolerance
    agent.solve()
    sol = agent.solution[0]

    def policy(m):
        m = np.asarray(m, dtype=float)
        return y * sol.cFuncAdj(m / y), sol.ShareFuncAdj(m / y)

    policy.agent = agent  # expose HARK's discretisations for cross-checks
    return policy
