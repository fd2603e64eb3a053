"""The kernels' inputs: the household state arrays and the flat ``params`` vector of a period.

The first half of the wire format (``kernels.schema`` re-exports it and adds the outputs). It is
its own module because the household step (``kernels.household``) reads these constants, and the
outputs' layout reads the household step: one direction each, no cycle.
"""
from __future__ import annotations

import numpy as np


def _names(*names: str) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}


# --- household state: name -> dtype (the narrowest dtype that is exact enough) --------------------
STATE_DTYPES: dict[str, np.dtype] = {
    "safe": np.dtype(np.float64),  # b_i: safe assets (goods), end of last period
    "risky": np.dtype(np.float64),  # k_i: value of risky (equity) holdings (goods)
    "task": np.dtype(np.float32),  # x_i: occupation complexity in [0, 1]; automated iff x < Phi
    "productivity": np.dtype(np.uint8),  # z_i: index into the productivity Markov chain
    "employment": np.dtype(np.uint8),  # e_i: EMPLOYED / UNEMPLOYED / DISPLACED
    "type": np.dtype(np.uint8),  # j_i: preference type (its discount factor; household.types), fixed
}
BYTES_PER_HOUSEHOLD = sum(dt.itemsize for dt in STATE_DTYPES.values())

EMPLOYED, UNEMPLOYED, DISPLACED = 0, 1, 2
N_EMPLOYMENT = 3


# --- scalar inputs for one period (all per household per period, goods unless stated) -------------
PARAMS = _names(
    "wage",  # w_t: wage per unit of effective labour
    "tax_labour",  # tau_l
    "benefit",  # unemployment benefit per unemployed/displaced household
    "ubi",  # UBI_t per household (cash part = ubi * (1 - ubi_invest_share))
    "ubi_invest_share",  # share of UBI auto-invested in risky capital
    "return_safe",  # gross realised return on safe assets this period
    "return_risky",  # gross realised return on risky holdings this period
    "return_risky_income",  # the part of it counted as income (payout); the rest is revaluation
    "tax_capital",  # tau_k on capital income (losses offset)
    "tax_wealth",  # tau_w on beginning-of-period wealth
    "dividend",  # per-capita dividend of the public capital fund
    "tax_consumption",  # tau_c
    "payment_fee",  # f: payment fee per unit of consumption
    "hazard_displacement",  # probability an automated-task worker loses the job this period
    "separation",  # probability any employed worker becomes unemployed
    "job_finding",  # probability an unemployed/displaced household finds a job
    "automation",  # Phi_t: tasks with complexity below Phi_t are automated
    "borrowing_limit",  # end-of-period assets a >= -borrowing_limit
    "grid_min",  # kernel policy grid: m_j = grid_min + (grid_max - grid_min) (j/(G-1))^2
    "grid_max",
    "poverty_line",  # households with disposable income below this count as poor
    "transfer",  # one-off transfer to each treated household this period (0: none; sim experiment mpc)
    "transfer_wealth_min",  # households are eligible iff transfer_wealth_min <= b + k < transfer_wealth_max
    "transfer_wealth_max",  # (beginning-of-period wealth); the treated are a random half of them
    "participation_cost",  # kappa: paid by every household holding equity at the start of the period
    "expected_excess",  # E[R_k] - R_f the household plans with (per period): the participation gain
    "return_risky_taxed",  # the part of return_risky the capital tax reaches (R_k: gains taxed as they accrue)
)
N_PARAMS = len(PARAMS)
globals().update({f"P_{k.upper()}": v for k, v in PARAMS.items()})

__all__ = ["STATE_DTYPES", "BYTES_PER_HOUSEHOLD", "EMPLOYED", "UNEMPLOYED", "DISPLACED", "N_EMPLOYMENT",
           "PARAMS", "N_PARAMS", "new_params", *(f"P_{k.upper()}" for k in PARAMS)]


def new_params() -> np.ndarray:
    """A zeroed params vector with neutral defaults (gross returns 1, no automation)."""
    p = np.zeros(N_PARAMS)
    p[PARAMS["return_safe"]] = 1.0
    p[PARAMS["return_risky"]] = 1.0
    p[PARAMS["return_risky_income"]] = 1.0
    p[PARAMS["return_risky_taxed"]] = 1.0
    return p
