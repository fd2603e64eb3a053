"""Policies agree with econ-ark/HARK solved live on equal calibrations (1e-3 relative).

HARK's normalised model equals our level model when permanent shocks are off, growth is 1 and
survival is 1 (see ``sim/solver/hark_reference.py``). Both solvers use equiprobable lognormal
nodes, so remaining differences come from grids and interpolation only.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("HARK")

from sim.solver.hark_reference import hark_markov_consumption, hark_portfolio_policy  # noqa: E402
from sim.solver.household import solve_household  # noqa: E402
from sim.validate import HARK_M_POINTS, HARK_RTOL, hark_markov_case, hark_portfolio_case  # noqa: E402

M = HARK_M_POINTS  # 0.3 ... 50: constrained region, buffer-stock region and rich households


def test_markov_consumer_matches_hark():
    prob = hark_markov_case()  # 14 states (productivity x employment) + transitory shocks
    ours, _ = solve_household(prob).on_grid(M)
    ref = hark_markov_consumption(prob)(M)
    assert np.max(np.abs(ours / ref - 1.0)) < HARK_RTOL


def test_markov_consumer_with_borrowing_matches_hark():
    from dataclasses import replace

    prob = replace(hark_markov_case(), borrowing_limit=1.5)  # HARK: BoroCnstArt = -1.5
    m = np.concatenate([[-1.2, -0.8, -0.3, 0.0], M])
    ours, _ = solve_household(prob).on_grid(m)
    ref = hark_markov_consumption(prob)(m)
    assert np.max(np.abs(ours / ref - 1.0)) < HARK_RTOL


def test_portfolio_consumer_matches_hark():
    prob = hark_portfolio_case()
    c, share = solve_household(prob).on_grid(M)
    policy = hark_portfolio_policy(prob)
    c_ref, share_ref = policy(M)
    # Same shock nodes on both sides (checked, not assumed).
    np.testing.assert_allclose(policy.agent.RiskyDstn.atoms[0], prob.returns[0], rtol=1e-12)
    assert np.max(np.abs(c[0] / c_ref - 1.0)) < HARK_RTOL
    assert np.max(np.abs(share[0] / share_ref - 1.0)) < HARK_RTOL
    assert share_ref[0] == 1.0 and share_ref[-1] < 0.6  # the comparison spans both regimes
