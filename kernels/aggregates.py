"""Which per-block aggregates are sums over households, and how the others follow from them.

A kernel sums only the household quantities in ``SUMMED``, declared in ``kernels.household``
(counts, efficiency units, consumption, assets at the start and end of the period, disposable
income). Every other aggregate (``DERIVED``) is a linear
rule of the model applied to those sums: taxes are proportional, UBI and the dividend are per
head, benefits go to everyone not working, and capital income is the two returns on the two
assets. ``complete`` applies the rules, once, for every backend.

Summed household by household, the same totals would differ from these only by rounding (the
order of the additions); with blocks of one household the rules give each household's own value
bit for bit, because they repeat its arithmetic (tested). Fewer running sums keep the fused
kernel's sequential pass short.
"""
from __future__ import annotations

import numpy as np

from kernels import household
from kernels import schema as S

SUMMED = household.SUMMED  # names, declared beside the household step with each household's terms
DERIVED = S.DERIVED  # the columns ``complete`` fills


def complete(aggregates: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Fill the columns not in ``SUMMED`` of per-block ``aggregates`` (n_blocks, N_AGGREGATES) in place.

    Units: goods per period, summed over the block's households. With p the params vector:
      labour income   = w * sum(z of the employed)          labour tax   = tau_l * labour income
      benefits        = benefit * (households - employed)
      UBI             = UBI * households                    UBI invested = (UBI s_ubi) * households
      dividends       = dividend * households
      capital income  = sum(b) (R_b - 1) + sum(k) (R_k - 1)
      capital tax     = tau_k (sum(b) (R_b - 1) + sum(k) (R_tax - 1))  (R_tax: the taxed part of R_k)
      wealth tax      = tau_w * (sum(b) + sum(k))
      consumption tax = tau_c * sum(c)                      fees         = f * sum(c)
      revaluation     = (sum(k) (R_k - R_inc)) (1 - tau_k) + (tau_k sum(k)) (R_k - R_tax)
      transfers       = T * treated                          (one-off transfer, sim experiment mpc)
      participation   = kappa * holders                      (equity held at the start of the period)
    Each product is written as the household step writes it, so one household's block reproduces
    its own values exactly.
    """
    p = params
    a = aggregates
    households = a[:, S.A_HOUSEHOLDS]
    safe, risky = a[:, S.A_SAFE_BEGIN], a[:, S.A_RISKY_BEGIN]
    ubi = p[S.P_UBI]
    a[:, S.A_LABOUR_INCOME] = p[S.P_WAGE] * a[:, S.A_EFFECTIVE_LABOUR]
    a[:, S.A_LABOUR_TAX] = p[S.P_TAX_LABOUR] * a[:, S.A_LABOUR_INCOME]
    a[:, S.A_BENEFITS] = p[S.P_BENEFIT] * (households - a[:, S.A_EMPLOYED])
    a[:, S.A_UBI] = ubi * households
    a[:, S.A_UBI_INVESTED] = (ubi * p[S.P_UBI_INVEST_SHARE]) * households
    a[:, S.A_DIVIDENDS] = p[S.P_DIVIDEND] * households
    a[:, S.A_CAPITAL_INCOME] = safe * (p[S.P_RETURN_SAFE] - 1.0) + risky * (p[S.P_RETURN_RISKY] - 1.0)
    a[:, S.A_CAPITAL_TAX] = p[S.P_TAX_CAPITAL] * (safe * (p[S.P_RETURN_SAFE] - 1.0)
                                                  + risky * (p[S.P_RETURN_RISKY_TAXED] - 1.0))
    a[:, S.A_WEALTH_TAX] = p[S.P_TAX_WEALTH] * (safe + risky)
    a[:, S.A_CONSUMPTION_TAX] = p[S.P_TAX_CONSUMPTION] * a[:, S.A_CONSUMPTION]
    a[:, S.A_FEES] = p[S.P_PAYMENT_FEE] * a[:, S.A_CONSUMPTION]
    a[:, S.A_REVALUATION] = (((risky * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_INCOME]))
                              * (1.0 - p[S.P_TAX_CAPITAL]))
                             + (p[S.P_TAX_CAPITAL] * risky) * (p[S.P_RETURN_RISKY] - p[S.P_RETURN_RISKY_TAXED]))
    a[:, S.A_TRANSFERS] = p[S.P_TRANSFER] * a[:, S.A_TREATED]
    a[:, S.A_PARTICIPATION_COSTS] = p[S.P_PARTICIPATION_COST] * a[:, S.A_HOLDERS]
    return a
