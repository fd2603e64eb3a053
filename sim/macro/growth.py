"""Deterministic classical-closure reference paths (Korinek–Suh's representative agent).

This is the small, independent reference that the full simulator's classical closure is compared
with: one representative household that owns the capital stock, supplies L inelastically and
knows the automation path Phi_t (perfect foresight). Because there are no distortions, the
competitive path equals the planner's path, so we solve the planner's Euler equation.

Time steps have length dt years (dt = 1: annual, Korinek–Suh's Table 2; dt = 0.25: quarterly).
Flows (Y, C, I, w, R) are per year; stocks (K) are levels. At step t (time t dt years):

    Y_t = F(K_t, L, Phi_t),   R_t = F_K,   w_t = F_L                     (technology.py)
    K_{t+1} = K_t + dt (Y_t - delta K_t - C_t)                               resource constraint
    C_t^(-eta) = exp(-rho dt) (1 + dt (R_{t+1} - delta)) C_{t+1}^(-eta)      Euler equation

which tends to the continuous-time Ramsey model (dC/C = (R - delta - rho)/eta dt) as dt -> 0.

Terminal condition: after the last step Phi stays at Phi_N forever, and C_N is given by the
stationary consumption rule at Phi_N. If Phi_N = 1 under Korinek–Suh the economy is in region 2
for ever, Y = A (K + L), an AK economy with a wage, and the rule is exact:
    C = m (M + A L/(A - delta)),  m = (1 - (beta G)^(1/eta)/G)/dt,  G = 1 + dt (A - delta),
where M = K + dt (Y - delta K) is the resources available at the step and A L/(A - delta) is human
wealth. Otherwise the stationary rule is found by iterating the endogenous-grid step to a fixed
point. Truncation only affects the last decades, so ``reference_path`` solves ``extra_years``
beyond the reported horizon.

Method: (1) backward endogenous-grid-method (EGM) time iteration over a log-spaced capital grid,
then a forward simulation (robust, no root finding); (2) Newton polish of the whole path on the
Euler equations in log K (tridiagonal Jacobian, analytical), so the reported path satisfies the
discrete Euler equations to ~1e-12 (``GrowthPath.euler_residual``).

Calibration (Korinek–Suh 2024, Table 2, annual): rho = 0.04, eta = 2, delta = 0.10, sigma = 0.5,
A = 0.5, L = 1, Phi_0 = 0.608, K_0 = 4.6 (``KS_TABLE2``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded

from sim.macro.automation import automation_path
from sim.macro.technology import KorinekSuh, Technology

#: Korinek–Suh (2024) Table 2, annual.
KS_TABLE2 = dict(rho=0.04, eta=2.0, delta=0.10, sigma=0.5, A=0.5, L=1.0, phi0=0.608, K0=4.6)


@dataclass(frozen=True)
class GrowthPath:
    """A reference path; arrays indexed by step t = 0..N (time ``years[t]`` = t dt).

    output, consumption, investment (= Y - C, gross), wage, rental (gross R): per year.
    K: capital at the start of the step. labour_share = w L / Y. region: 1 or 2 (Korinek–Suh).
    euler_residual: max |log Euler error| over the path (0 for a Solow path).
    """

    years: np.ndarray
    phi: np.ndarray
    K: np.ndarray
    output: np.ndarray
    consumption: np.ndarray
    investment: np.ndarray
    wage: np.ndarray
    rental: np.ndarray
    labour_share: np.ndarray
    region: np.ndarray
    euler_residual: float

    def truncate(self, n_steps: int) -> "GrowthPath":
        """The first n_steps + 1 points (steps 0..n_steps)."""
        s = slice(0, n_steps + 1)
        arrays = {k: getattr(self, k)[s] for k in
                  ("years", "phi", "K", "output", "consumption", "investment", "wage", "rental",
                   "labour_share", "region")}
        return GrowthPath(**arrays, euler_residual=self.euler_residual)


def _path_from_K(K, C, phi, tech, L, dt, euler_residual):
    fp = tech.factor_prices(K, L, phi)
    Y = np.asarray(fp.output)
    return GrowthPath(years=np.arange(len(K)) * dt, phi=np.asarray(phi, float), K=K, output=Y,
                      consumption=C, investment=Y - C, wage=np.asarray(fp.wage),
                      rental=np.asarray(fp.rental), labour_share=np.asarray(fp.labour_share),
                      region=np.asarray(fp.region), euler_residual=float(euler_residual))


# ----------------------------------------------------------------------------------------------
# Solow path
# ----------------------------------------------------------------------------------------------

def solow_path(phi, tech: Technology | None = None, *, saving_rate=0.25, dt=1.0,
               delta=KS_TABLE2["delta"], L=KS_TABLE2["L"], K0=KS_TABLE2["K0"]) -> GrowthPath:
    """Solow path with a fixed gross saving rate s: K_{t+1} = K_t + dt (s Y_t - delta K_t).

    phi: Phi_t at steps 0..N (length N + 1). C_t = (1 - s) Y_t.
    """
    tech = KorinekSuh(A=KS_TABLE2["A"], sigma=KS_TABLE2["sigma"]) if tech is None else tech
    phi = np.asarray(phi, dtype=float)
    K = np.empty(len(phi))
    K[0] = K0
    for t in range(len(phi) - 1):
        Y = tech.factor_prices(K[t], L, phi[t]).output
        K[t + 1] = K[t] + dt * (saving_rate * Y - delta * K[t])
    Y = np.asarray(tech.factor_prices(K, L, phi).output)
    return _path_from_K(K, (1.0 - saving_rate) * Y, phi, tech, L, dt, 0.0)


# ----------------------------------------------------------------------------------------------
# Ramsey path: EGM time iteration, then Newton on the Euler equations
# ----------------------------------------------------------------------------------------------

def _interp_extrap(x, xp, fp):
    """Piecewise-linear interpolation of fp(xp) at x, extrapolating linearly beyond the ends."""
    y = np.interp(x, xp, fp)
    lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    y = np.where(x < xp[0], fp[0] + lo_slope * (x - xp[0]), y)
    return np.where(x > xp[-1], fp[-1] + hi_slope * (x - xp[-1]), y)


class _Policy:
    """Consumption rule C(M) stored as log C linear in log M on an endogenous grid."""

    def __init__(self, log_M, log_C):
        self.log_M, self.log_C = log_M, log_C

    def __call__(self, M):
        return np.exp(_interp_extrap(np.log(M), self.log_M, self.log_C))

    def elasticity(self, M):
        """d log C / d log M (slope of the log-log interpolant)."""
        h = 1e-6
        lm = np.log(M)
        return (_interp_extrap(lm + h, self.log_M, self.log_C)
                - _interp_extrap(lm - h, self.log_M, self.log_C)) / (2 * h)


class _AKPolicy:
    """Exact rule in the Korinek–Suh AK regime (Phi = 1): C = m (M + H), H = A L/(A - delta)."""

    def __init__(self, A, L, delta, rho, eta, dt):
        G = 1.0 + dt * (A - delta)
        growth = (np.exp(-rho * dt) * G) ** (1.0 / eta)
        if not (A > delta and growth < G):
            raise ValueError("AK terminal regime has no finite-value solution for these parameters")
        self.m = (1.0 - growth / G) / dt
        self.H = A * L / (A - delta)

    def __call__(self, M):
        return self.m * (M + self.H)

    def elasticity(self, M):
        return M / (M + self.H)


class _Problem:
    def __init__(self, phi, tech, rho, eta, delta, L, K0, dt):
        self.phi = np.asarray(phi, dtype=float)
        self.tech, self.rho, self.eta, self.delta, self.L, self.K0, self.dt = (
            tech, rho, eta, delta, L, K0, dt)
        self.log_beta = -rho * dt

    def resources(self, K, phi):
        """M = K + dt (Y - delta K), gross return G = 1 + dt (R - delta), and R."""
        fp = self.tech.factor_prices(K, self.L, phi)
        M = K + self.dt * (np.asarray(fp.output) - self.delta * K)
        R = np.asarray(fp.rental)
        return M, 1.0 + self.dt * (R - self.delta)

    def grid_prices(self, K_grid, phi_next):
        """Next-step resources M_{t+1}(K') and log(beta G_{t+1}(K')) on the capital grid."""
        M_next, gross = self.resources(K_grid, phi_next)
        return M_next, self.log_beta + np.log(gross)

    def egm_step(self, K_grid, policy_next, prices):
        """C_t on the endogenous grid M_t = K' + dt C_t from the Euler equation at K_{t+1} = K'."""
        M_next, log_beta_gross = prices
        C = policy_next(M_next) * np.exp(-log_beta_gross / self.eta)
        M = K_grid + self.dt * C
        return _Policy(np.log(M), np.log(C))

    def terminal_policy(self, K_grid, tol=1e-11, max_iter=20000):
        phi_N = self.phi[-1]
        if isinstance(self.tech, KorinekSuh) and phi_N == 1.0:
            return _AKPolicy(self.tech.A, self.L, self.delta, self.rho, self.eta, self.dt)
        # Stationary rule at Phi_N: iterate the EGM step to a fixed point, from C = M/horizon-ish.
        M_grid = K_grid
        policy = _Policy(np.log(M_grid), np.log(M_grid * (1.0 - np.exp(-self.rho * self.dt))
                                                / self.dt + 1e-300))
        probe = np.geomspace(K_grid[0] * 10, K_grid[-1] / 10, 64)
        c_old = policy(probe)
        prices = self.grid_prices(K_grid, phi_N)  # Phi is frozen: prices on the grid are fixed
        for _ in range(max_iter):
            policy = self.egm_step(K_grid, policy, prices)
            c_new = policy(probe)
            if np.max(np.abs(np.log(c_new / c_old))) < tol:
                break
            c_old = c_new
        else:
            warnings.warn("stationary terminal policy did not converge; the last decades of the "
                          "path may be inaccurate", RuntimeWarning, stacklevel=3)
        return policy

    # -- EGM solution ------------------------------------------------------------------------

    def solve_egm(self, K_grid):
        N = len(self.phi) - 1
        policies = [None] * (N + 1)
        policies[N] = self.terminal_policy(K_grid)
        prices, phi_cached = None, None
        for t in range(N - 1, -1, -1):
            if self.phi[t + 1] != phi_cached:  # flat stretches of Phi reuse the grid prices
                phi_cached = self.phi[t + 1]
                prices = self.grid_prices(K_grid, phi_cached)
            policies[t] = self.egm_step(K_grid, policies[t + 1], prices)
        K = np.empty(N + 1)
        K[0] = self.K0
        for t in range(N):
            M, _ = self.resources(K[t], self.phi[t])
            K[t + 1] = M - self.dt * policies[t](M)
            if not K[t + 1] > 0:
                raise RuntimeError(f"EGM path lost positivity of capital at step {t + 1}")
        return K, policies[N]

    # -- Newton polish on the Euler equations ------------------------------------------------

    def euler(self, K, terminal):
        """Euler residuals e_t (t = 0..N-1), consumption path, and the Jacobian bands in log K."""
        dt, eta, L, delta = self.dt, self.eta, self.L, self.delta
        M, gross = self.resources(K, self.phi)
        C = np.empty_like(K)
        C[:-1] = (M[:-1] - K[1:]) / dt
        C[-1] = terminal(M[-1])
        if np.any(C <= 0):
            return None, C, None
        e = eta * np.diff(np.log(C)) - self.log_beta - np.log(gross[1:])
        # Derivatives of log C_t with respect to u_j = log K_j.
        own = K * gross / (dt * C)  # d log C_t / d u_t   (t < N)
        own[-1] = K[-1] * gross[-1] / M[-1] * terminal.elasticity(M[-1])
        nxt = -K[1:] / (dt * C[:-1])  # d log C_t / d u_{t+1}
        dR = np.asarray(self.tech.rental_slope(K, L, self.phi))
        dgross = dt * K * dR / gross  # d log G_t / d u_t
        # Row t of e, unknowns u_1..u_N at columns 0..N-1: e_t depends on u_t, u_{t+1}, u_{t+2}.
        sub = -eta * own[1:-1]  # d e_t / d u_t,     t = 1..N-1
        diag = eta * (own[1:] - nxt) - dgross[1:]  # d e_t / d u_{t+1}, t = 0..N-1
        sup = eta * nxt[1:]  # d e_t / d u_{t+2}, t = 0..N-2
        return e, C, (sub, diag, sup)

    def newton(self, K, terminal, tol=1e-12, max_iter=60):
        K = K.copy()
        e, C, bands = self.euler(K, terminal)
        for _ in range(max_iter):
            err = np.max(np.abs(e))
            if err < tol:
                break
            sub, diag, sup = bands
            n = len(diag)
            ab = np.zeros((3, n))
            ab[0, 1:] = sup
            ab[1] = diag
            ab[2, :-1] = sub
            step = solve_banded((1, 1), ab, -e)
            lam = 1.0
            while lam > 1e-6:
                K_try = K.copy()
                K_try[1:] = K[1:] * np.exp(lam * step)
                e_try, C_try, bands_try = self.euler(K_try, terminal)
                if e_try is not None and np.max(np.abs(e_try)) < err:
                    break
                lam /= 2
            else:
                break
            K, e, C, bands = K_try, e_try, C_try, bands_try
        return K, C, float(np.max(np.abs(e)))


def ramsey_path(phi, tech: Technology | None = None, *, dt=1.0, rho=KS_TABLE2["rho"],
                eta=KS_TABLE2["eta"], delta=KS_TABLE2["delta"], L=KS_TABLE2["L"],
                K0=KS_TABLE2["K0"], points_per_efold=20, polish=True) -> GrowthPath:
    """Perfect-foresight representative-agent path for a given automation path.

    phi: Phi_t at steps 0..N (length N + 1, step dt years); Phi stays at phi[-1] after step N.
    tech: a technology with ``factor_prices`` and ``rental_slope`` (default Korinek–Suh Table 2).
    rho (per year), eta (CRRA), delta (per year), L (effective labour), K0 (initial capital).
    """
    tech = KorinekSuh(A=KS_TABLE2["A"], sigma=KS_TABLE2["sigma"]) if tech is None else tech
    phi = np.asarray(phi, dtype=float)
    if phi.ndim != 1 or len(phi) < 3:
        raise ValueError("phi must be a 1-d array of at least 3 steps")
    prob = _Problem(phi, tech, rho, eta, delta, L, K0, dt)
    N = len(phi) - 1

    # Capital grid: wide enough for the path. The Euler growth rate at the highest return on the
    # path bounds how fast consumption (and, eventually, capital) can grow.
    R_max = float(np.max(tech.factor_prices(K0, L, phi).rental))
    g = max(((np.exp(-rho * dt) * (1 + dt * (R_max - delta))) ** (1 / eta) - 1) / dt, 0.02)
    lo, hi = np.log(min(K0, L) * 1e-3), np.log((K0 + L) * 1e3) + g * N * dt
    for _attempt in range(4):
        K_grid = np.exp(np.linspace(lo, hi, int((hi - lo) * points_per_efold) + 2))
        K, terminal = prob.solve_egm(K_grid)
        logK = np.log(K)
        if logK.min() > lo + 2 and logK.max() < hi - 2:
            break
        lo, hi = min(lo, logK.min() - 5), max(hi, logK.max() + 5)

    if polish:
        K, C, resid = prob.newton(K, terminal)
        if resid > 1e-8:
            warnings.warn(f"Newton polish stopped at Euler residual {resid:.2e}", RuntimeWarning,
                          stacklevel=2)
    else:
        e, C, _ = prob.euler(K, terminal)
        resid = float(np.max(np.abs(e)))
    return _path_from_K(K, C, phi, tech, L, dt, resid)


def reference_path(kind="baseline_agi", horizon_years=100.0, *, dt=1.0, extra_years=100.0,
                   tech: Technology | None = None, rho=KS_TABLE2["rho"], eta=KS_TABLE2["eta"],
                   delta=KS_TABLE2["delta"], L=KS_TABLE2["L"], K0=KS_TABLE2["K0"],
                   **automation_params) -> GrowthPath:
    """Ramsey reference path for a named automation scenario (``automation.AUTOMATION_KINDS``).

    Solves over horizon_years + extra_years (to keep the terminal condition away) and returns the
    steps 0..horizon_years/dt. automation_params go to ``automation.automation_path``.
    """
    n_report = int(round(horizon_years / dt))
    n_solve = int(round((horizon_years + extra_years) / dt))
    years = np.arange(n_solve + 1) * dt
    phi = automation_path(kind, years, **automation_params)
    path = ramsey_path(phi, tech, dt=dt, rho=rho, eta=eta, delta=delta, L=L, K0=K0)
    return path.truncate(n_report)
