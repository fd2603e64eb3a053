"""The wire format between the coordinator and the household kernels (one source of truth).

Every backend reads the same flat ``params`` vector (named indices ``P_*``), updates the same
household state arrays in place, and writes the same per-block partial aggregates (``A_*``),
distribution histograms (``H_*`` x ``N_BINS``) and extrema (``X_*``). Keeping these as flat float64
arrays with named indices lets NumPy, Numba and CUDA share one layout without marshalling.
"""
from __future__ import annotations

import numpy as np

from kernels import household
from kernels.inputs import *  # noqa: F401,F403  (the inputs half: state, params, P_*)
from kernels.inputs import _names

# --- per-block aggregates ----------------------------------------------------------------------
# The summed ones first, declared beside the household step that computes their terms
# (``kernels.household.SUMMED``: counts, then amounts), so adding one is an edit there alone.

# The rest follow from the sums by the model's linear rules (``kernels.aggregates.complete``).
DERIVED = (
    "labour_income",  # gross wages
    "labour_tax",
    "benefits",
    "ubi",  # total UBI paid (cash + invested)
    "ubi_invested",
    "dividends",
    "capital_income",  # gross returns on safe and risky holdings
    "capital_tax",
    "wealth_tax",
    "consumption_tax",
    "fees",
    "revaluation",  # unexpected gains on risky holdings, net of capital tax (not income)
    "participation_costs",  # kappa x holders: the stock-market participation costs households paid
    "transfers",  # one-off transfers paid (transfer x treated)
)
AGGREGATES = _names(*household.SUMMED, *DERIVED)
N_AGGREGATES = len(AGGREGATES)
N_SUMMED = len(household.SUMMED)  # columns 0 .. N_SUMMED-1 are sums over households,
N_COUNTED = len(household.COUNTED)  # the first N_COUNTED of them counts of households
# A_<NAME> = column index. Generated, not written out: a name added in kernels.household gets its
# constant with no edit here.
globals().update({f"A_{k.upper()}": v for k, v in AGGREGATES.items()})

# --- distribution histograms --------------------------------------------------------------------
# Bins are log-spaced by the bits of the IEEE-754 float64: SUB_BITS mantissa bits below the exponent
# give 2**SUB_BITS bins per octave (ratio 2**(1/16) = 1.044). Binning is then integer arithmetic on
# the bit pattern: exact, cheap (no log), and identical on every backend. Bin 0 holds v < V_MIN
# (zero and negatives included), the last bin v >= V_MAX.
SUB_BITS = 4
V_MIN_EXP, V_MAX_EXP = -14, 26  # V_MIN = 2**-14 ~ 6e-5, V_MAX = 2**26 ~ 6.7e7 goods
BIN_SHIFT = 52 - SUB_BITS
BIN_OFFSET = int(np.float64(2.0**V_MIN_EXP).view(np.int64)) >> BIN_SHIFT
N_REGULAR_BINS = (V_MAX_EXP - V_MIN_EXP) << SUB_BITS
N_BINS = N_REGULAR_BINS + 2
V_MIN = 2.0**V_MIN_EXP
V_MAX = 2.0**V_MAX_EXP

HISTOGRAMS = _names(
    "wealth_count",  # by end-of-period wealth bin: households,
    "wealth_sum",  # their wealth,
    "wealth_risky",  # their risky holdings,
    "wealth_consumption",  # their consumption
    "income_count",  # by disposable-income bin
    "income_sum",
    "consumption_count",  # by consumption bin
    "consumption_sum",
)
N_HISTOGRAMS = len(HISTOGRAMS)
globals().update({f"H_{k.upper()}": v for k, v in HISTOGRAMS.items()})

EXTREMA = _names("wealth_min", "wealth_max", "income_min", "income_max", "consumption_min", "consumption_max")
N_EXTREMA = len(EXTREMA)
globals().update({f"X_{k.upper()}": v for k, v in EXTREMA.items()})


def bin_edges() -> np.ndarray:
    """Edges of the N_BINS histogram bins: bin j holds edges[j] <= v < edges[j+1].

    edges[0] = -inf and edges[-1] = +inf; regular edges are exact float64 values.
    """
    bits = (np.arange(N_REGULAR_BINS + 1, dtype=np.int64) + BIN_OFFSET) << BIN_SHIFT
    return np.concatenate([[-np.inf], bits.view(np.float64), [np.inf]])


def bin_index(v: np.ndarray) -> np.ndarray:
    """Histogram bin of each value (NumPy version of the kernels' integer binning)."""
    v = np.asarray(v, dtype=np.float64)
    raw = (v.view(np.int64) >> BIN_SHIFT) - BIN_OFFSET + 1
    idx = np.where(v < V_MIN, 0, np.where(v >= V_MAX, N_BINS - 1, raw))
    return idx.astype(np.int64)
