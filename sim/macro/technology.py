"""Aggregate technologies: Korinek–Suh task-based automation and Cobb–Douglas.

Both technologies expose one method,

    factor_prices(K, L, Phi=None) -> FactorPrices(output, wage, rental, labour_share, region)

so the coordinator can use either interchangeably (see the ``Technology`` protocol). Everything is
a pure NumPy function of its arguments: scalars in give scalars out, arrays broadcast.

Units. K and L are stocks (units of capital, units of effective labour); output Y and the factor
prices are flows per unit of time of the calibration (per year for Korinek–Suh's Table 2). The
rental rate R is the *gross* marginal product of capital, before depreciation; the net return is
R - delta. Potential output at full employment is output evaluated at L = full-employment
effective labour (``potential_output``).

Korinek & Suh (2024), "Scenarios for the Transition to AGI", NBER WP 32255. A share Phi of tasks is
automatable; with elasticity sigma between tasks,

  region 1 (labour scarce, Phi < Phi_hat = (K/L)/(1 + K/L)):
      Y = A [Phi^(1/s) K^((s-1)/s) + (1-Phi)^(1/s) L^((s-1)/s)]^(s/(s-1))
      w = A^((s-1)/s) (Y/L)^(1/s) (1-Phi)^(1/s),   R = A^((s-1)/s) (Y/K)^(1/s) Phi^(1/s)
  region 2 (labour abundant, Phi >= Phi_hat):
      Y = A (K + L),  w = R = A.

Implementation note. Region 1 is A times the weighted power mean of x_K = K/Phi and
x_L = L/(1-Phi) with weights (Phi, 1-Phi) and exponent r = (s-1)/s, because
Phi^(1/s) K^r = Phi (K/Phi)^r. We evaluate it in logs with log1p/expm1, which is exact in the
Cobb–Douglas limit s -> 1 (r -> 0, Y -> A x_K^Phi x_L^(1-Phi)) and does not overflow for extreme
K/L. Factor payments are computed from the factor shares, s_K + s_L = 1, so Euler's theorem
Y = w L + R K holds to rounding in both regions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
from scipy.special import expit

#: Region codes: 1 = labour scarce (interior CES; also used for Cobb–Douglas), 2 = labour abundant.
REGION_LABOUR_SCARCE = 1
REGION_LABOUR_ABUNDANT = 2


class FactorPrices(NamedTuple):
    """Output and factor prices at (K, L, Phi); scalars or arrays of one broadcast shape.

    output        Y, goods per unit of time
    wage          w = dY/dL, goods per unit of effective labour per unit of time
    rental        R = dY/dK, gross (before depreciation), per unit of time
    labour_share  w L / Y, dimensionless
    region        1 (labour scarce) or 2 (labour abundant, Korinek–Suh); int
    """

    output: np.ndarray | float
    wage: np.ndarray | float
    rental: np.ndarray | float
    labour_share: np.ndarray | float
    region: np.ndarray | int


class Technology(Protocol):
    """What the coordinator needs from a technology."""

    def factor_prices(self, K, L, Phi=None) -> FactorPrices: ...


def _scalarise(*arrays):
    """Turn 0-d arrays into NumPy scalars so that scalars in give scalars out."""
    return tuple(a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a for a in arrays)


def phi_hat(K, L):
    """Region boundary Phi_hat = (K/L) / (1 + K/L) = K / (K + L), dimensionless.

    At Phi = Phi_hat capital per automated task equals labour per human task (K/Phi = L/(1-Phi)).
    """
    K = np.asarray(K, dtype=float)
    L = np.asarray(L, dtype=float)
    return _scalarise(K / (K + L))[0]


@dataclass(frozen=True)
class KorinekSuh:
    """Korinek–Suh CES task technology. Defaults: their Table 2 (annual, A=0.5, sigma=0.5, Phi=0.608).

    A      productivity of a unit of either factor in a task (goods per factor unit per year)
    sigma  elasticity of substitution between tasks (> 0; sigma = 1 is Cobb–Douglas across tasks)
    Phi    default share of automatable tasks, in [0, 1]; ``factor_prices`` may override it
    """

    A: float = 0.5
    sigma: float = 0.5
    Phi: float = 0.608

    def __post_init__(self):
        if not self.A > 0:
            raise ValueError(f"A must be positive, got {self.A}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        _check_phi(self.Phi)

    def factor_prices(self, K, L, Phi=None) -> FactorPrices:
        """Output, wage, gross rental rate, labour share and region at (K, L, Phi)."""
        Phi = self.Phi if Phi is None else Phi
        _check_phi(Phi)
        K, L, Phi = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (K, L, Phi)))
        A, s = self.A, self.sigma
        r = (s - 1.0) / s

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Region 1 in logs. lx_K = log(K/Phi), lx_L = log(L/(1-Phi)), d = lx_K - lx_L.
            lx_L = np.log(L) - np.log1p(-Phi)
            d = np.log(K) - np.log(L) - (np.log(Phi) - np.log1p(-Phi))
            rd = r * d
            if r == 0.0:
                log_mean = lx_L + Phi * d  # Cobb–Douglas across tasks
            else:
                # Factor out the larger of x_K^r, x_L^r so that expm1 sees a non-positive argument.
                base_L = lx_L + np.log1p(Phi * np.expm1(np.minimum(rd, 0.0))) / r
                base_K = (lx_L + d) + np.log1p((1.0 - Phi) * np.expm1(-np.maximum(rd, 0.0))) / r
                log_mean = np.where(rd < 0.0, base_L, base_K)
            y1 = A * np.exp(log_mean)
            # Capital share s_K = Phi x_K^r / (Phi x_K^r + (1-Phi) x_L^r), a logistic in z.
            z = np.log(Phi) - np.log1p(-Phi) + rd
            sK1 = expit(z)
            sL1 = expit(-z)
            # Phi = 0: no automatable task, Y = A L and capital earns nothing.
            no_auto = Phi == 0.0
            y1 = np.where(no_auto, A * L, y1)
            sK1 = np.where(no_auto, 0.0, sK1)
            sL1 = np.where(no_auto, 1.0, sL1)
            w1 = sL1 * y1 / L
            R1 = np.where(no_auto, 0.0, sK1 * y1 / K)

            # Region 2: labour also works on automatable tasks, both factors earn A.
            y2 = A * (K + L)
            # (Phi = 0 stays in region 1 even at K = 0: capital has no task to do.)
            region2 = (Phi >= K / (K + L)) & (Phi > 0.0)
            output = np.where(region2, y2, y1)
            wage = np.where(region2, A, w1)
            rental = np.where(region2, A, R1)
            share = np.where(region2, L / (K + L), sL1)
        region = np.where(region2, REGION_LABOUR_ABUNDANT, REGION_LABOUR_SCARCE)
        return FactorPrices(*_scalarise(output, wage, rental, share, region))

    def output(self, K, L, Phi=None):
        """Y(K, L, Phi), goods per year."""
        return self.factor_prices(K, L, Phi).output

    def rental_slope(self, K, L, Phi=None):
        """dR/dK (per unit of capital per year), used by the growth reference's Newton step.

        Region 1: d ln R / d ln K = -(1 - s_K)/sigma (CES). Region 2: R = A is flat, slope 0.
        """
        fp = self.factor_prices(K, L, Phi)
        K = np.asarray(K, dtype=float)
        sK = 1.0 - np.asarray(fp.labour_share)
        slope = np.where(np.asarray(fp.region) == REGION_LABOUR_ABUNDANT, 0.0,
                         -(1.0 - sK) / self.sigma * np.asarray(fp.rental) / K)
        return _scalarise(slope)[0]


@dataclass(frozen=True)
class CobbDouglas:
    """Y = A K^alpha L^(1-alpha); R = alpha Y/K (gross), w = (1-alpha) Y/L. Phi is ignored.

    A      total factor productivity (goods per year at K = L = 1)
    alpha  capital elasticity, in (0, 1)
    """

    A: float = 1.0
    alpha: float = 0.36

    def __post_init__(self):
        if not self.A > 0:
            raise ValueError(f"A must be positive, got {self.A}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

    def factor_prices(self, K, L, Phi=None) -> FactorPrices:
        """Output, wage, gross rental rate, labour share (= 1 - alpha) and region (always 1)."""
        K, L = np.broadcast_arrays(np.asarray(K, dtype=float), np.asarray(L, dtype=float))
        a = self.alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            Y = self.A * K**a * L ** (1.0 - a)
            R = a * Y / K
            w = (1.0 - a) * Y / L
        share = np.full_like(Y, 1.0 - a)
        region = np.full(Y.shape, REGION_LABOUR_SCARCE)
        return FactorPrices(*_scalarise(Y, w, R, share, region))

    def output(self, K, L, Phi=None):
        return self.factor_prices(K, L).output

    def rental_slope(self, K, L, Phi=None):
        """dR/dK = -(1 - alpha) R / K."""
        fp = self.factor_prices(K, L)
        return _scalarise(-(1.0 - self.alpha) * np.asarray(fp.rental) / np.asarray(K, float))[0]


def potential_output(tech: Technology, K, L_full, Phi=None):
    """Potential output Y* = Y(K, L_full, Phi): output with full employment of effective labour."""
    return tech.factor_prices(K, L_full, Phi).output


TECHNOLOGIES = {"korinek_suh": KorinekSuh, "cobb_douglas": CobbDouglas}


def make_technology(name: str, **params) -> Technology:
    """Build a technology by config name: 'korinek_suh' (A, sigma, Phi) or 'cobb_douglas' (A, alpha)."""
    try:
        cls = TECHNOLOGIES[name]
    except KeyError:
        raise ValueError(f"unknown technology {name!r}; valid: {sorted(TECHNOLOGIES)}") from None
    return cls(**params)


def _check_phi(Phi):
    Phi = np.asarray(Phi, dtype=float)
    if np.any(~((Phi >= 0.0) & (Phi <= 1.0))):
        raise ValueError("Phi (share of automatable tasks) must lie in [0, 1]")
