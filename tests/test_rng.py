"""The counter-based generator: identical on every backend and layout, and statistically sound."""
import numpy as np
import pytest
from scipy import stats

from kernels import rng


def test_same_key_same_draws_any_order():
    key = rng.seed_key(7)
    ids = np.arange(1000, dtype=np.uint64)
    full = rng.uniforms(key, ids, 5, rng.STREAM_JOB)
    # drawing a permuted subset gives the same numbers for the same households
    perm = np.random.default_rng(0).permutation(1000)
    assert np.array_equal(rng.uniforms(key, ids[perm], 5, rng.STREAM_JOB), full[perm])


def test_keys_separate_seeds_periods_streams():
    ids = np.arange(10_000, dtype=np.uint64)
    a = rng.uniforms(rng.seed_key(1), ids, 3, 0)
    for other in (rng.uniforms(rng.seed_key(2), ids, 3, 0), rng.uniforms(rng.seed_key(1), ids, 4, 0),
                  rng.uniforms(rng.seed_key(1), ids, 3, 1), rng.uniforms(rng.seed_key(1), ids + 1, 3, 0)):
        assert not np.any(a == other)
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.04  # 4 standard errors at n = 10^4


def test_uniform_distribution():
    u = rng.uniforms(rng.seed_key(3), np.arange(1_000_000, dtype=np.uint64), 0, 0)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=100, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 1e-4
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # serial correlation between neighbouring households and between consecutive periods
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.005
    u2 = rng.uniforms(rng.seed_key(3), np.arange(1_000_000, dtype=np.uint64), 1, 0)
    assert abs(np.corrcoef(u, u2)[0, 1]) < 0.005


def test_numba_matches_numpy_bit_for_bit():
    from kernels.step_fused import _mix64, _uniform  # noqa: F401  (compiled helpers)
    from numba import njit

    @njit
    def draws(key, ids, word):
        out = np.empty(ids.shape[0])
        for i in range(ids.shape[0]):
            out[i] = _uniform(_mix64(key + np.uint64(rng.GOLDEN) * ids[i]), word)
        return out

    key = rng.seed_key(11)
    ids = np.arange(2**40, 2**40 + 5000, dtype=np.uint64)  # large ids too
    word = np.uint64(rng.period_word(17, rng.STREAM_TASK))
    assert np.array_equal(draws(np.uint64(key), ids, word), rng.uniforms(key, ids, 17, rng.STREAM_TASK))


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_bad_seed_is_refused(bad):
    with pytest.raises(ValueError, match="seed"):
        rng.seed_key(bad)
