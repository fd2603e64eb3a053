"""The equity market: the households' demand schedule is the step's own arithmetic at each
candidate price, and the clearing price solves a hand-worked market."""
import numpy as np
import pytest

from kernels import schema as S
from kernels import step_fused, step_numpy
from kernels.share_demand import share_demand
from tests.test_kernels import KEY, _state, setup  # noqa: F401 (the kernels' fixture)


@pytest.mark.parametrize("block", [1000, 4096])
def test_schedule_column_is_the_steps_risky_holdings_at_that_price(setup, block):  # noqa: F811
    # Candidate j changes the realised return, its income part and the fund's dividend, as the
    # coordinator does; each column must equal, bit for bit, the step's risky_end sums with
    # params[j] (the same draws, the same phases, the same order of additions).
    n, period = 9_001, 3
    base = setup["p"]
    candidates = []
    for price in (0.8, 1.0, 1.25):
        p = base.copy()
        p[S.P_RETURN_RISKY] = (price + 0.02) / 1.0
        p[S.P_RETURN_RISKY_INCOME] = 1.02
        p[S.P_DIVIDEND] = 0.01 * price
        candidates.append(p)
    params = np.stack(candidates)
    state = _state(n, setup)
    before = {k: v.copy() for k, v in state.items()}
    schedule = share_demand(state, 0, period, KEY, params, setup["levels"], setup["cdf"], setup["c"],
                            setup["share"], block)
    for name in S.STATE_DTYPES:  # read, not changed
        assert np.array_equal(state[name], before[name])
    assert schedule.shape == (-(-n // block), 3)
    for j, p in enumerate(candidates):
        for step in (step_numpy.step, step_fused.step):
            st = {k: v.copy() for k, v in before.items()}
            agg = step(st, 0, period, KEY, p, setup["levels"], setup["cdf"], setup["c"], setup["share"],
                       block).aggregates
            assert np.array_equal(schedule[:, j], agg[:, S.A_RISKY_END]), (j, step.__module__)
    # a higher price raises holders' wealth, so more goods are held in equity
    assert np.all(np.diff(schedule.sum(axis=0)) > 0)


def test_schedule_does_not_depend_on_where_a_shard_starts(setup):  # noqa: F811
    n, block = 12_000, 1000
    params = np.stack([setup["p"], setup["p"]])
    whole = share_demand(_state(n, setup), 0, 1, KEY, params, setup["levels"], setup["cdf"], setup["c"],
                         setup["share"], block)
    parts = [share_demand({k: v[first:first + 4000] for k, v in _state(n, setup).items()}, first, 1, KEY, params, setup["levels"], setup["cdf"], setup["c"], setup["share"], block)
             for first in (0, 4000, 8000)]
    assert np.array_equal(np.concatenate(parts), whole)
