"""Markov chains and discretised lognormals, checked against closed forms and textbook formulas."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import lognorm, norm

from sim.solver.markov import product_chain, stationary_distribution, tauchen
from sim.solver.returns import lognormal_nodes, mean_one_lognormal_nodes


@pytest.mark.parametrize("rho,sigma", [(0.0, 0.2), (0.3, 0.4), (0.9, 0.4)])
def test_tauchen_matches_formula(rho, sigma):
    y, P = tauchen(7, rho, sigma, m=3.0)
    # Grid: 7 evenly spaced points on [-3 sigma, 3 sigma] (sigma = stationary std).
    np.testing.assert_allclose(y, np.linspace(-3 * sigma, 3 * sigma, 7), atol=1e-15)
    sig_e = sigma * np.sqrt(1 - rho**2)
    d = y[1] - y[0]
    i, j = 2, 4  # an interior cell, integrated independently of the implementation
    expected = norm.cdf((y[j] + d / 2 - rho * y[i]) / sig_e) - norm.cdf((y[j] - d / 2 - rho * y[i]) / sig_e)
    assert P[i, j] == pytest.approx(expected, rel=1e-12)
    # End cells are open: first column includes everything below the first midpoint.
    assert P[i, 0] == pytest.approx(norm.cdf((y[0] + d / 2 - rho * y[i]) / sig_e), rel=1e-12)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)


def test_tauchen_iid_rows_identical():
    _, P = tauchen(7, 0.0, 0.2)
    np.testing.assert_allclose(P, np.tile(P[0], (7, 1)), atol=1e-15)


def test_stationary_distribution_is_left_eigenvector():
    _, P = tauchen(5, 0.8, 0.5)
    pi = stationary_distribution(P)
    vals, vecs = np.linalg.eig(P.T)
    ref = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    np.testing.assert_allclose(pi, ref / ref.sum(), atol=1e-12)


def test_product_chain_is_kronecker():
    (a, Pa), (b, Pb) = ([1.0, 2.0], np.array([[0.9, 0.1], [0.2, 0.8]])), ([0, 1, 2], np.full((3, 3), 1 / 3))
    vals, P = product_chain((a, Pa), (b, Pb))
    assert P.shape == (6, 6)
    # state (i, j) -> (k, l) has probability Pa[i,k] * Pb[j,l]; index = 3*i + j
    assert P[3 * 1 + 2, 3 * 0 + 1] == pytest.approx(Pa[1, 0] * Pb[2, 1])
    np.testing.assert_array_equal(vals[4], [2.0, 1.0])


@pytest.mark.parametrize("n", [1, 3, 7, 25])
def test_lognormal_nodes_are_conditional_means(n):
    mean, s = 1.07, 0.18
    values, weights = lognormal_nodes(mean, s, n)
    assert values @ weights == pytest.approx(mean, rel=1e-13)  # exact mean
    if n == 1:
        return
    dist = lognorm(s=s, scale=mean * np.exp(-s**2 / 2))
    cuts = dist.ppf(np.linspace(0, 1, n + 1))
    k = n // 2  # an interior bin, integrated numerically
    cond_mean = quad(lambda x: x * dist.pdf(x), cuts[k], cuts[k + 1])[0] * n
    assert values[k] == pytest.approx(cond_mean, rel=1e-9)


def test_mean_one_nodes_and_degenerate_case():
    v, w = mean_one_lognormal_nodes(0.1, 5)
    assert v @ w == pytest.approx(1.0, rel=1e-14)
    v, w = mean_one_lognormal_nodes(0.0, 5)
    np.testing.assert_array_equal(v, [1.0])


def test_nodes_equal_hark_discretisation():
    """HARK's equiprobable lognormal uses the same construction: nodes must coincide."""
    pytest.importorskip("HARK")
    from HARK.distributions import Lognormal, MeanOneLogNormal

    ours, _ = lognormal_nodes(1.08, 0.2, 7)
    hark = Lognormal(mean=1.08, sigma=0.2).discretize(7, method="equiprobable").atoms[0]
    np.testing.assert_allclose(ours, hark, rtol=1e-12)
    ours, _ = mean_one_lognormal_nodes(0.15, 5)
    hark = MeanOneLogNormal(0.15).discretize(5, method="equiprobable", tail_N=0).atoms[0]
    np.testing.assert_allclose(ours, hark, rtol=1e-12)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: tauchen(7, 1.0, 0.2), "rho"),
        (lambda: lognormal_nodes(-1.0, 0.1, 3), "mean"),
        (lambda: lognormal_nodes(1.0, -0.1, 3), "std"),
        (lambda: lognormal_nodes(1.0, 0.1, 0), "nodes"),
        (lambda: stationary_distribution(np.array([[0.5, 0.6], [0.5, 0.5]])), "sum to 1"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
