"""Economy-wide random draws: one number per period for the whole economy, from the counter-based
generator at a reserved household id, so they are the same on every shard layout and after a
restart. Each draw has its own stream."""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from kernels import rng

AGGREGATE_ID = 2**63  # household id reserved for economy-wide draws (real ids are below it)
STREAM_RISKY_RETURN = 0  # the fixed closure's risky return
STREAM_EQUITY_SHOCK = 1  # the demand closure's equity valuation shock


def _normal(key: int, period: int, stream: int) -> float:
    u = rng.uniforms(key, np.array([AGGREGATE_ID], dtype=np.uint64), period, stream)[0]
    return float(ndtri(u))


def lognormal_return(key: int, period: int, mean: float, std: float) -> float:
    """Realised gross risky return of a period: lognormal with the given mean and std (per period)."""
    if std == 0:
        return mean
    s2 = math.log1p((std / mean) ** 2)
    return float(mean * math.exp(math.sqrt(s2) * _normal(key, period, STREAM_RISKY_RETURN) - 0.5 * s2))


def equity_shock(key: int, period: int, std: float) -> float:
    """Mean-one lognormal multiplier with the given std (per period)."""
    if std == 0:
        return 1.0
    s2 = math.log1p(std**2)
    return float(math.exp(math.sqrt(s2) * _normal(key, period, STREAM_EQUITY_SHOCK) - 0.5 * s2))
