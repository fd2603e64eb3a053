"""The documented targets of ``sim calibrate`` and the method-of-simulated-moments objective.

Each target is a statistic of the data (a value and its source) and the name of the moment the
simulation gives for it (sim/calibrate/moments.py). The objective is the MSM distance with a
diagonal weight matrix W = diag(w_j) over the targets the spec selects,

    L(theta) = sum_j w_j (m_j(theta) - d_j)^2,

m_j the simulated moment, d_j the data value (both in the units of the target: shares as
fractions, K/Y in years). A moment the results do not hold (an output the model does not have
yet) is skipped: it contributes nothing and the fit table says why.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from sim.macro.growth import KS_TABLE2
from sim.macro.technology import KorinekSuh

CSTW = ("Carroll, Slacalek, Tokuoka & White (2017), 'The distribution of wealth and the marginal "
        "propensity to consume', Quantitative Economics 8(3): SCF 2004 net worth")
SCF_2019 = ("Bhutta, Bricker, Chang, Dettling, Goodman, Hsu, Moore, Reber, Volz & Windle (2020), "
            "'Changes in U.S. family finances from 2016 to 2019', Federal Reserve Bulletin 106(5): "
            "SCF 2019, families holding stock directly or indirectly (funds, retirement accounts)")
GRAHAM_HARVEY = ("Graham & Harvey (2018), 'The equity risk premium in 2018', SSRN 3151162: the average "
                 "expected 10-year S&P 500 return over the 10-year Treasury yield in the Duke CFO survey of "
                 "December 2017 (somewhat above the average of the quarterly surveys since June 2000)")
MEHRA_PRESCOTT = ("Mehra & Prescott (1985), 'The equity premium: a puzzle', Journal of Monetary Economics 15(2), "
                  "Table 1: the mean real annual return on a relatively riskless short-term security, US 1889-1978")
KS = ("Korinek & Suh (2024), 'Scenarios for the transition to AGI', NBER w32255, Table 2: "
      "K/Y = K0 / Y(K0, L=1, Phi0) with A=0.5, sigma=0.5, Phi0=0.608, K0=4.6")


def korinek_suh_capital_output() -> float:
    """Annual capital/output ratio of Korinek-Suh's Table 2 economy at t = 0, K0 / Y(K0, 1, Phi0),
    in years (about 2.15): Y from their CES task technology (sim.macro.technology)."""
    tech = KorinekSuh(A=KS_TABLE2["A"], sigma=KS_TABLE2["sigma"], Phi=KS_TABLE2["phi0"])
    return float(KS_TABLE2["K0"] / tech.output(KS_TABLE2["K0"], KS_TABLE2["L"]))


@dataclass(frozen=True)
class Target:
    name: str
    value: float  # d_j, in the units below
    units: str
    description: str
    source: str


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("lorenz_20", -0.002, "share", "net-worth Lorenz curve at the 20th percentile", CSTW),
    Target("lorenz_40", 0.010, "share", "net-worth Lorenz curve at the 40th percentile", CSTW),
    Target("lorenz_60", 0.053, "share", "net-worth Lorenz curve at the 60th percentile", CSTW),
    Target("lorenz_80", 0.171, "share", "net-worth Lorenz curve at the 80th percentile", CSTW),
    Target("top10_share", 0.70, "share", "net-worth share of the top 10%", CSTW),
    Target("top1_share", 0.34, "share", "net-worth share of the top 1%", CSTW),
    Target("capital_output", korinek_suh_capital_output(), "years",
           "capital / annual output", KS),
    Target("participation_rate", 0.526, "share", "households holding risky assets (equity)", SCF_2019),
    Target("expected_premium", 0.0442, "per year",
           "expected equity return over the safe rate, households' belief", GRAHAM_HARVEY),
    Target("real_safe_rate", 0.0080, "per year", "real return on the safe asset", MEHRA_PRESCOTT),
)}
LORENZ = {"lorenz_20": 0.2, "lorenz_40": 0.4, "lorenz_60": 0.6, "lorenz_80": 0.8}


@dataclass(frozen=True)
class Row:
    """One line of the fit table: the model's value is None where the moment was skipped."""
    target: str
    data: float
    model: float | None
    weight: float
    contribution: float | None  # w_j (m_j - d_j)^2
    note: str = ""


def fit_rows(moments: dict[str, float | None], weights: dict[str, float],
             notes: dict[str, str] | None = None) -> list[Row]:
    """The fit table: one row per weighted target, in the order of ``weights``."""
    notes = notes or {}
    rows = []
    for name, weight in weights.items():
        target = TARGETS[name]
        model = moments.get(name)
        if model is None or not math.isfinite(model):
            rows.append(Row(name, target.value, None, weight, None,
                            notes.get(name, "not in the results: skipped")))
            continue
        rows.append(Row(name, target.value, float(model), weight,
                        weight * (float(model) - target.value) ** 2, notes.get(name, "")))
    return rows


def loss(moments: dict[str, float | None], weights: dict[str, float]) -> float:
    """L = sum_j w_j (m_j - d_j)^2 over the targets whose moment exists (module docstring)."""
    return float(sum(r.contribution for r in fit_rows(moments, weights) if r.contribution is not None))


def describe() -> str:
    """The targets with their values and sources (``sim calibrate --help``)."""
    lines = []
    for t in TARGETS.values():
        value = (f"{t.value:.1%}" if t.units == "share" else f"{t.value:.2%}/yr" if t.units == "per year"
                 else f"{t.value:.3f} {t.units}")
        lines.append(f"  {t.name:<19} {value:>11}  {t.description}")
    sources = {t.source: None for t in TARGETS.values()}
    lines.append("Sources:")
    lines.extend(textwrap.fill(s, 96, initial_indent="  - ", subsequent_indent="    ") for s in sources)
    return "\n".join(lines)
