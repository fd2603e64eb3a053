"""Distribution statistics from merged shard histograms against exact single-array computations."""
import numpy as np
import pytest

from kernels import schema as S
from sim import distribution as D


def sketch_from_shards(values, n_shards, weights=None):
    """Histograms built per shard and added, as the coordinator does."""
    counts = np.zeros(S.N_BINS)
    sums = np.zeros(S.N_BINS)
    extra = np.zeros(S.N_BINS)
    for part, wpart in zip(np.array_split(values, n_shards),
                           np.array_split(values if weights is None else weights, n_shards)):
        idx = S.bin_index(part)
        counts += np.bincount(idx, minlength=S.N_BINS)
        sums += np.bincount(idx, weights=part, minlength=S.N_BINS)
        extra += np.bincount(idx, weights=wpart, minlength=S.N_BINS)
    return D.Sketch.from_histogram(counts, sums, values.min(), values.max()), extra


DISTRIBUTIONS = {
    "lognormal": lambda r, n: r.lognormal(1.0, 1.2, n),
    "pareto": lambda r, n: (r.pareto(1.5, n) + 1) * 3.0,
    "with_zeros": lambda r, n: np.where(r.random(n) < 0.3, 0.0, r.exponential(5.0, n)),
    "narrow": lambda r, n: 10 + r.random(n),  # all mass in a few bins: the bound must still hold
}


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("shards", [1, 3])
def test_gini_and_shares_within_stated_bound(name, shards):
    v = DISTRIBUTIONS[name](np.random.default_rng(9), 200_001)
    sk, _ = sketch_from_shards(v, shards)
    g = D.gini(sk)
    assert abs(g.value - D.exact_gini(v)) <= g.bound + 1e-12
    # the bound never exceeds a quarter of the relative bin width (2**(1/16) - 1) / 4 ...
    assert g.bound < (2 ** (1 / 16) - 1) / 4
    if name != "narrow":  # ... and is far smaller when the mass spreads over many bins
        assert g.bound < 2e-3
    for q in (0.01, 0.1, 0.5):
        est = D.top_share(sk, q)
        assert abs(est.value - D.exact_top_share(v, q)) <= est.bound + 1e-12
    bottom = D.bottom_share(sk, 0.5)
    assert abs(bottom.value - (1 - D.exact_top_share(v, 0.5))) <= bottom.bound + 1e-12


def test_closed_form_ginis():
    r = np.random.default_rng(2)
    for values, closed in ((r.exponential(2.0, 1_000_000), 0.5), (r.random(1_000_000), 1 / 3)):
        sk, _ = sketch_from_shards(values, 2)
        assert abs(D.gini(sk).value - closed) < 3e-3


def test_lorenz_deciles_and_quantiles():
    v = np.random.default_rng(4).lognormal(0.0, 1.0, 100_000)
    c = 0.5 + 0.1 * v  # consumption rising in wealth
    sk, c_by_bin = sketch_from_shards(v, 2, weights=c)
    q = np.linspace(0, 1, 101)
    lorenz = D.lorenz_curve(sk, q)
    vs = np.sort(v)
    exact = np.concatenate([[0], np.cumsum(vs)])[np.round(q * v.size).astype(int)] / vs.sum()
    assert np.max(np.abs(lorenz - exact)) < 2e-3
    assert lorenz[0] == 0 and abs(lorenz[-1] - 1) < 1e-12 and np.all(np.diff(lorenz) >= 0)
    means = D.group_means(sk, c_by_bin, 10)
    order = np.argsort(v)
    exact_means = np.array([c[order][i * 10_000:(i + 1) * 10_000].mean() for i in range(10)])
    np.testing.assert_allclose(means, exact_means, rtol=5e-3)
    assert abs(D.quantile(sk, 0.5) - np.median(v)) / np.median(v) < 0.05
