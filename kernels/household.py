"""The household step, written once: the scalar phases one household goes through in a period.

Each phase is a plain function of scalars (and of read-only tables indexed by scalars), in the
small subset of Python that ``kernels.cuda_c`` translates to CUDA C. The same functions are
compiled by Numba into the fused CPU kernel (``kernels.step_fused``) and translated into the GPU
kernel (``kernels.step_cupy``), so both run this arithmetic, in this order; the NumPy oracle
(``kernels.step_numpy``) writes it out again on arrays and the tests hold all three bit-identical.

A period, with ``p`` the params vector (``kernels.inputs.P_*``), goods per period throughout:

1. shocks: uniforms u_job, u_z, u_task (``kernels.rng``); ``productivity_after`` moves z along
   its Markov chain, ``job_transition`` moves the employment state e and maybe the task x;
2. ``income``: cash on hand m and measured disposable income y;
3. decisions: the household's type, the discrete state s = e n_z + z (``policy_row``) and m's
   place on the quadratic kernel grid (``grid_index``, ``grid_interval``) give consumption c and
   the risky share (``consumption_and_share``);
4. ``portfolio``: end-of-period safe and risky assets b', k';
5. ``contributions``: what the household adds to each per-block sum in ``SUMMED``.

Rules of the subset (checked by the translator): one assignment per local name (``+=`` aside),
no ``//`` or ``%``, ``int()`` only of non-negative values, ``min``/``max`` of two arguments,
annotated parameters, constants read from modules (``inputs.P_WAGE``), calls only to other
functions of this subset.
"""
from __future__ import annotations

import math

import numpy as np

from kernels import inputs

# --- 1. shocks and transitions ------------------------------------------------------------------


def productivity_after(u: float, cdf: np.ndarray, row: int, n_z: int) -> int:
    """Next productivity state by inverse CDF: the number of j < n_z - 1 with u >= cdf[row + j],
    ``row`` = z n_z the current state's row of the flattened transition CDF (last column 1)."""
    z_new = 0
    for j in range(n_z - 1):
        z_new += u >= cdf[row + j]
    return z_new


def job_transition(employment: int, task: np.float32, u_job: float, u_task: float, p: np.ndarray):
    """(e', x', employed on an automated task) from e, task complexity x and two uniforms.

    With Phi the automation frontier, a task is automated iff x < Phi. Employed on an automated
    task: displaced if u_job < hazard, else unemployed if u_job < hazard + separation; employed on
    a human task: unemployed if u_job < separation; not employed: employed if u_job < job_finding,
    and a hired worker whose task is automated gets x' = Phi + u_task (1 - Phi) (float32).
    """
    phi = p[inputs.P_AUTOMATION]
    automated = task < phi
    employed = employment == inputs.EMPLOYED
    hazard = p[inputs.P_HAZARD_DISPLACEMENT] if automated else 0.0
    leaves_to = (inputs.DISPLACED if u_job < hazard
                 else (inputs.UNEMPLOYED if u_job < hazard + p[inputs.P_SEPARATION] else inputs.EMPLOYED))
    hired = u_job < p[inputs.P_JOB_FINDING]
    employment_new = leaves_to if employed else (inputs.EMPLOYED if hired else employment)
    redrawn = np.float32(phi + u_task * (1.0 - phi))
    task_new = redrawn if ((not employed) & hired & automated) else task
    return employment_new, task_new, employed & automated


def treated(u_treat: float, wealth_begin: float, p: np.ndarray) -> bool:
    """Whether the household gets this period's one-off transfer: a transfer is paid
    (``P_TRANSFER`` > 0), its beginning-of-period wealth b + k is in [wealth_min, wealth_max), and
    its uniform of stream TREATMENT is below 1/2 (a random half, drawn by the counter-based
    generator, so the same households on every backend and layout)."""
    return ((p[inputs.P_TRANSFER] > 0.0) & (u_treat < 0.5) & (wealth_begin >= p[inputs.P_TRANSFER_WEALTH_MIN])
            & (wealth_begin < p[inputs.P_TRANSFER_WEALTH_MAX]))


# --- 2. income ------------------------------------------------------------------------------------


def income(safe: float, risky: float, working: bool, level: float, is_treated: bool, p: np.ndarray):
    """(cash on hand m, disposable income y) of a household with assets b, k and productivity
    level z (efficiency units), after this period's job transition:

      m = b + k + (1 - tau_l) w z 1[working] + benefit 1[not working] + UBI + dividend
          + r_b b + r_k k - tau_k (r_b b + r_tax k) - tau_w (b + k) + T 1[treated] - kappa 1[k > 0]
          - s_ubi UBI,
      y = m - (b + k) + s_ubi UBI - v,   v = k (R_k - R_inc)(1 - tau_k) + tau_k k (R_k - R_tax),

    r = R - 1 the net returns, T the one-off transfer (``treated``), kappa the per-period cost of
    holding equity (a stock-market participation cost, docs/economy.md); v, the after-tax
    revaluation of risky holdings, is not income (R_inc is the payout part of R_k). R_tax is the
    part of R_k the capital tax reaches: all of it in the value market (gains taxed as they
    accrue, R_tax = R_k), the payout only where equity is priced (R_tax = R_inc: unrealised gains
    are not taxed). Each tax is the rate times its base, as ``kernels.aggregates`` writes it.
    """
    labour_income = p[inputs.P_WAGE] * level if working else 0.0
    labour_tax = p[inputs.P_TAX_LABOUR] * labour_income
    benefit = 0.0 if working else p[inputs.P_BENEFIT]
    capital_income = safe * (p[inputs.P_RETURN_SAFE] - 1.0) + risky * (p[inputs.P_RETURN_RISKY] - 1.0)
    capital_tax = p[inputs.P_TAX_CAPITAL] * (safe * (p[inputs.P_RETURN_SAFE] - 1.0)
                                             + risky * (p[inputs.P_RETURN_RISKY_TAXED] - 1.0))
    wealth_begin = safe + risky
    wealth_tax = p[inputs.P_TAX_WEALTH] * wealth_begin
    transfer = p[inputs.P_TRANSFER] if is_treated else 0.0
    participation = p[inputs.P_PARTICIPATION_COST] if risky > 0.0 else 0.0
    income_total = ((((labour_income - labour_tax) + benefit + p[inputs.P_UBI] + p[inputs.P_DIVIDEND]
                      + (capital_income - capital_tax)) - wealth_tax) + transfer) - participation
    cash = wealth_begin + income_total - p[inputs.P_UBI] * p[inputs.P_UBI_INVEST_SHARE]
    revaluation = (((risky * (p[inputs.P_RETURN_RISKY] - p[inputs.P_RETURN_RISKY_INCOME]))
                    * (1.0 - p[inputs.P_TAX_CAPITAL]))
                   + (p[inputs.P_TAX_CAPITAL] * risky) * (p[inputs.P_RETURN_RISKY] - p[inputs.P_RETURN_RISKY_TAXED]))
    return cash, income_total - revaluation


# --- 3. decisions ---------------------------------------------------------------------------------


def grid_point(j: int, grid_min: float, span: float, step: float) -> float:
    """m_j = g0 + (g1 - g0) (j/(G-1))^2, the quadratic kernel grid (span = g1 - g0, step = 1/(G-1)):
    dense where the consumption function bends, near the borrowing limit. Works on arrays of j."""
    x = j * step
    return grid_min + span * (x * x)


def grid_interval(j: int, grid_min: float, span: float, step: float):
    """(m_j, 1/(m_{j+1} - m_j)): an interval's lower end and reciprocal width (a division per
    interval, so that the weight of m is a multiplication; the fused kernel tabulates these)."""
    lower = grid_point(j, grid_min, span, step)
    return lower, 1.0 / (grid_point(j + 1, grid_min, span, step) - lower)


def grid_index(cash: float, grid_min: float, inv_span: float, n_grid: int) -> int:
    """The grid interval j holding m: j = min(floor((G-1) sqrt((m - g0)^+ / span)), G-2), a square
    root, not a search; above the grid the last interval (its weight > 1 extrapolates linearly)."""
    t = math.sqrt(max(cash - grid_min, 0.0) * inv_span) * (n_grid - 1)
    return min(int(t), n_grid - 2)


def policy_row(household_type: int, employment: int, z: int, n_z: int, n_grid: int) -> int:
    """q of (type j, state s = e n_z + z, interval 0) in the flattened policy tables, whose shape is
    (types, N_EMPLOYMENT n_z, n_grid), one table per type: q = ((j N_EMPLOYMENT + e) n_z + z) n_grid."""
    return ((household_type * inputs.N_EMPLOYMENT + employment) * n_z + z) * n_grid


def consumption_and_share(cash: float, weight: float, q: int, c_flat: np.ndarray,
                          share_flat: np.ndarray, p: np.ndarray):
    """(c, risky share) at cash on hand m, with weight w = (m - m_j)/(m_{j+1} - m_j) and q the
    flattened index of (type, state s, interval j) in the policy tables (``policy_row`` + j).

    c is linear in m (extrapolated beyond the grid), then kept in [0, (m + borrowing limit)/(1 +
    tau_c + f)]; the share is interpolated with w clamped to [0, 1] and kept in [0, 1].
    """
    c0 = c_flat[q]
    c_rule = c0 + weight * (c_flat[q + 1] - c0)
    weight_inside = min(max(weight, 0.0), 1.0)
    s0 = share_flat[q]
    share = min(max(s0 + weight_inside * (share_flat[q + 1] - s0), 0.0), 1.0)
    price = 1.0 + p[inputs.P_TAX_CONSUMPTION] + p[inputs.P_PAYMENT_FEE]
    consumption = max(min(c_rule, (cash + p[inputs.P_BORROWING_LIMIT]) * (1.0 / price)), 0.0)
    return consumption, share


# --- 4. portfolio ---------------------------------------------------------------------------------


def portfolio(cash: float, consumption: float, share: float, p: np.ndarray):
    """(b', k'): end-of-period assets a = m - (1 + tau_c + f) c >= -borrowing limit; the share of
    a^+ goes to risky holdings if the household participates, plus the auto-invested UBI
    s_ubi UBI; the rest is safe.

    Participation (docs/economy.md, "Who holds equity"): the household holds equity iff its
    certainty-equivalent gain from doing so covers the per-period cost kappa,
        (1/2) share (E[R_k] - R_f) a >= kappa,
    the Merton gain at the optimal share (Vissing-Jorgensen 2002's comparison of the benefit of
    participation with its cost). With kappa = 0 every household with a > 0 participates unless
    the excess return it expects is negative (then the gain is too).
    """
    price = 1.0 + p[inputs.P_TAX_CONSUMPTION] + p[inputs.P_PAYMENT_FEE]
    assets = cash - price * consumption
    gain = (0.5 * (share * p[inputs.P_EXPECTED_EXCESS])) * assets
    participates = gain >= p[inputs.P_PARTICIPATION_COST]
    invested = share * max(assets, 0.0) if participates else 0.0
    return assets - invested, invested + p[inputs.P_UBI] * p[inputs.P_UBI_INVEST_SHARE]


# --- 5. per-block sums ------------------------------------------------------------------------------

# The aggregates summed over households, by name, in the order ``contributions`` returns their
# terms. ``kernels.schema.AGGREGATES`` starts with these names (column q is SUMMED[q]); every other
# aggregate follows from the sums by ``kernels.aggregates.complete``. Adding a summed quantity is one
# edit here: its name in COUNTED or AMOUNTS, and its term in ``contributions`` (docs/kernels.md).
#
# COUNTED: households that meet a condition. The term is the condition (a bool); the sums are
# integers, exact in any order, so the fused kernel adds them in its vectorised pass.
COUNTED = ("households", "employed", "unemployed", "displaced", "automated_employed", "poor", "treated",
           "holders", "participants")
# AMOUNTS: floating-point quantities (goods, efficiency units), summed in household order.
AMOUNTS = ("effective_labour", "consumption", "safe_begin", "risky_begin", "safe_end", "risky_end",
           "income", "treated_consumption", "consumption_squared", "treated_consumption_squared")
SUMMED = COUNTED + AMOUNTS
# The sums whose every term is 0 unless a transfer is paid (``treated`` is False when P_TRANSFER
# <= 0): a kernel may skip them in such a period and leave 0 (``kernels.step_fused`` does).
TRANSFER_ONLY = ("treated", "treated_consumption", "treated_consumption_squared")


def contributions(employment_new: int, automated_employed: bool, efficiency: float,
                  disposable_income: float, consumption: float, safe: float, risky: float,
                  safe_new: float, risky_new: float, is_treated: bool, p: np.ndarray):
    """What one household adds to each sum of ``SUMMED``, in that order: the conditions of
    ``COUNTED`` (bools: the household counts or not), then the amounts of ``AMOUNTS`` (float64).

    Also evaluated by the NumPy oracle on arrays, so only operations that work on both.
    """
    return (
        True,  # households
        employment_new == inputs.EMPLOYED,
        employment_new == inputs.UNEMPLOYED,
        employment_new == inputs.DISPLACED,
        automated_employed,
        disposable_income < p[inputs.P_POVERTY_LINE],
        is_treated,
        risky > 0.0,  # holders: equity at the start of the period (they pay kappa)
        risky_new > 0.0,  # participants: equity at the end of the period
        efficiency,
        consumption,
        safe,
        risky,
        safe_new,
        risky_new,
        disposable_income,
        consumption * is_treated,  # c >= 0, so exactly c or 0.0
        consumption * consumption,  # c^2: the per-household variance of c (sim experiment mpc)
        (consumption * consumption) * is_treated,
    )
