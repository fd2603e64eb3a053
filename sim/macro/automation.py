"""Automation paths Phi_t (share of automatable tasks) for the Korinek–Suh (2024) scenarios.

Time is in years since the start of the scenario (the coordinator converts periods with
``years_from_periods``; default 4 periods per year). Every path starts at Phi_0 (0.608 in
Korinek–Suh's Table 2), is non-decreasing, and stays in [Phi_0, 1]. Before year 0 Phi = Phi_0.
``start`` (years) delays any path: Phi_t is the path at t - start, so Phi stays at Phi_0 until
then (the bout's start; a scenario forked from a burned-in economy starts its clock at the fork).

The common micro-foundation (Korinek–Suh, section 2): tasks have a complexity i (the compute a
task needs); the automation frontier I_t grows exponentially with compute, I_t = I_0 e^(g t), and
every task with i <= I_t is automatable, so Phi_t = F(I_t) for the task-complexity CDF F.

* Business as usual (unbounded tasks). Pareto complexity F(i) = 1 - (i/i_min)^(-lambda) gives
      1 - Phi_t = (1 - Phi_0) exp(-lambda g t),        lambda g = 0.01 per year.
  Phi -> 1 only asymptotically; over 100 years Phi_100 = 1 - 0.392 e^(-1) = 0.856.

* AGI (bounded tasks): the same Pareto tail truncated at the most complex human task
  i_max = I_0 e^(g T), i.e. full automation exactly T years from now. Conditioning the Pareto on
  i <= i_max and using Phi_0 to pin down I_0 gives  *(our derivation; documented choice)*
      Phi_t = Phi_0 + (1 - Phi_0) (1 - e^(-lambda g t)) / (1 - e^(-lambda g T)),   t <= T,
      Phi_t = 1,                                                                    t >= T.
  Baseline AGI: T = 20 years; aggressive AGI: T = 5 years; lambda g = 0.01 per year as in business
  as usual (so the two differ only in the bounded support). As T -> infinity this is business as
  usual; as lambda g -> 0 (a log-uniform bounded distribution) it is the straight line from Phi_0
  to 1 over T years. With lambda g T = 0.2 or 0.05 the path is close to linear either way.

* Bout of automation *(choice)*: a one-off linear rise from Phi_0 to ``phi_end`` (default 0.9)
  between ``start`` and ``start + duration`` years (defaults 0 and 10), flat afterwards. Capital
  then catches up and labour becomes scarce again, which is the point of this scenario.

* Constant: Phi_t = Phi_0 (no automation; a control scenario).
"""
from __future__ import annotations

import numpy as np

PHI0 = 0.608  #: Korinek–Suh Table 2 initial share of automatable tasks
LAMBDA_G = 0.01  #: Pareto tail x frontier growth, per year (Korinek–Suh business as usual)


def _years(years):
    return np.asarray(years, dtype=float)


def _out(x):
    return x[()] if x.ndim == 0 else x


def constant_path(years, phi0=PHI0):
    """Phi_t = Phi_0 for all t (no automation)."""
    return _out(np.full_like(_years(years), phi0))


def bau_path(years, phi0=PHI0, lam_g=LAMBDA_G):
    """Business as usual: 1 - Phi_t = (1 - Phi_0) exp(-lam_g max(t, 0)); lam_g per year."""
    t = np.maximum(_years(years), 0.0)
    return _out(1.0 - (1.0 - phi0) * np.exp(-lam_g * t))


def agi_path(years, T=20.0, phi0=PHI0, lam_g=LAMBDA_G):
    """AGI: truncated-Pareto tasks, full automation at T years (formula in the module docstring).

    Phi_t = Phi_0 + (1 - Phi_0) (1 - e^(-lam_g t)) / (1 - e^(-lam_g T)) for 0 <= t <= T, 1 after.
    lam_g = 0 gives the linear path Phi_0 + (1 - Phi_0) t/T.
    """
    if not T > 0:
        raise ValueError(f"T (years to full automation) must be positive, got {T}")
    t = np.clip(_years(years), 0.0, T)
    if lam_g == 0.0:
        frac = t / T
    else:
        # expm1 keeps the ratio exact for small lam_g * T.
        frac = np.expm1(-lam_g * t) / np.expm1(-lam_g * T)
    phi = phi0 + (1.0 - phi0) * frac
    return _out(np.where(t >= T, 1.0, phi))


def baseline_agi_path(years, phi0=PHI0, lam_g=LAMBDA_G, T=20.0):
    """Baseline AGI: everything automatable after T = 20 years."""
    return agi_path(years, T=T, phi0=phi0, lam_g=lam_g)


def aggressive_agi_path(years, phi0=PHI0, lam_g=LAMBDA_G, T=5.0):
    """Aggressive AGI: everything automatable after T = 5 years."""
    return agi_path(years, T=T, phi0=phi0, lam_g=lam_g)


def bout_path(years, phi0=PHI0, phi_end=0.9, duration=10.0):
    """Bout of automation: Phi rises linearly from Phi_0 to phi_end over [0, duration] years
    (``automation_path``'s ``start`` moves it to [start, start + duration]).

    Flat at phi_end afterwards. ``duration`` in years (> 0); phi_end in [phi0, 1].
    """
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if not phi0 <= phi_end <= 1.0:
        raise ValueError(f"phi_end must lie in [phi0, 1], got {phi_end}")
    frac = np.clip(_years(years) / duration, 0.0, 1.0)
    return _out(phi0 + (phi_end - phi0) * frac)


AUTOMATION_KINDS = {
    "constant": constant_path,
    "bau": bau_path,
    "baseline_agi": baseline_agi_path,
    "aggressive_agi": aggressive_agi_path,
    "agi": agi_path,
    "bout": bout_path,
}


def automation_path(kind: str, years, **params):
    """Phi_t at the given times (years since the scenario start) for a named scenario.

    kind: one of AUTOMATION_KINDS ('bau', 'baseline_agi', 'aggressive_agi', 'agi' (give T),
    'bout', 'constant'); params go to the path function (phi0, lam_g, T, phi_end, duration as
    applicable); ``start`` (years, default 0) delays the path: Phi_t = path(t - start).
    """
    try:
        fn = AUTOMATION_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown automation path {kind!r}; valid kinds: {', '.join(sorted(AUTOMATION_KINDS))}"
        ) from None
    return fn(_years(years) - params.pop("start", 0.0), **params)


def years_from_periods(periods, periods_per_year=4):
    """Time in years of period indices: t_years = period / periods_per_year (default quarterly)."""
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    return _out(np.asarray(periods, dtype=float) / periods_per_year)
