"""The labour market seen from the coordinator: full employment, expected employment, and the rule
that steers the kernels' job-finding and separation probabilities toward the firms' planned
employment (demand closure).

The kernels move households between employed (E), unemployed and displaced with per-period
probabilities: an employed worker on an automated task is displaced with the hazard h, any
employed worker separates with s, a non-employed household finds a job with f. With a the share
of employed workers on automated tasks (last period's, as households perceive it), expected
employment after this period's transitions is

    E^e(s, f) = E_{t-1} (1 - s - h a) + (N - E_{t-1}) f.

Full employment is E* = N (1 - u_n) with the frictional rate u_n = s_0 / (s_0 + f_0) of the
configured base rates; full-employment effective labour is L* = E* l where l = L_{t-1} / E_{t-1}
is the mean productivity of the employed (1 at the start: productivity has mean 1).

Steering rule (demand closure): firms want E^p = u E* (u = planned utilisation). Starting from the
base rates,
* if E^e(s_0, f_0) < E^p, hiring speeds up: f = min(f_max, (E^p - E_{t-1}(1 - s_0 - h a)) / (N - E_{t-1}));
* if E^e(s_0, f_0) > E^p, hiring slows first: f = max(0, same formula); if even f = 0 leaves too
  many employed, separations rise: s = min(s_max, 1 - h a - E^p / E_{t-1}).
So expected employment equals the plan whenever the bounds allow (f is kept >= f_min, so a
large cut is made by separations); the kernels' draws add sampling noise of order sqrt(N).

Beliefs. These rates can swing for one period (to cut employment by 4% in a quarter, hiring
nearly stops); households, who solve their problem as if today's rates persisted, would read
that as a permanent collapse of job prospects. They instead expect the job-finding rate that
would sustain the planned unemployment rate u^p = 1 - E^p/N as a steady state at the base
separation and displacement rates (s_0 + h a)(1 - u^p) = u^p f, i.e.
    f^ss = (s_0 + h a)(1 - u^p) / u^p, clipped to [f_min, f_max],
    f^b = f_0 + sensitivity (f^ss - f_0),   s^b = s_0,
which equals f_0 at the natural rate: slack still lowers perceived job prospects, smoothly
(sensitivity = ``economy.labour.belief_sensitivity``; 0: households ignore the cycle).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabourMarket:
    households: int
    separation: float  # s_0, per period
    job_finding: float  # f_0, per period
    hazard: float  # h, per period
    job_finding_max: float = 1.0
    separation_max: float = 0.5
    job_finding_min: float = 0.0
    belief_sensitivity: float = 1.0

    @property
    def natural_rate(self) -> float:
        total = self.separation + self.job_finding
        return self.separation / total if total > 0 else 0.0

    @property
    def full_employment(self) -> float:
        return self.households * (1.0 - self.natural_rate)

    def expected_employment(self, employed: float, automated_share: float, s: float, f: float) -> float:
        return employed * (1.0 - s - self.hazard * automated_share) + (self.households - employed) * f

    def steer(self, employed: float, automated_share: float, target: float) -> tuple[float, float]:
        """(separation, job_finding) whose expected employment is ``target`` where the bounds allow."""
        s0, f0 = self.separation, self.job_finding
        stay = employed * (1.0 - s0 - self.hazard * automated_share)
        idle = self.households - employed
        if self.expected_employment(employed, automated_share, s0, f0) <= target:
            f = (target - stay) / idle if idle > 0 else f0
            return s0, min(max(f, f0), self.job_finding_max)
        fmin = min(self.job_finding_min, f0)
        f = (target - stay) / idle if idle > 0 else fmin
        if f >= fmin:
            return s0, min(f, f0)
        # hiring at f_min still leaves too many employed: separations rise
        s = (1.0 - self.hazard * automated_share - (target - idle * fmin) / employed
             if employed > 0 else s0)
        return min(max(s, s0), self.separation_max), fmin

    def belief_job_finding(self, automated_share: float, target: float) -> float:
        """f^b: the job-finding rate that sustains the planned unemployment rate (see above)."""
        u = 1.0 - target / self.households
        if u <= 0.0:
            return self.job_finding_max
        f = (self.separation + self.hazard * automated_share) * (1.0 - u) / u
        f = min(max(f, self.job_finding_min), self.job_finding_max)
        return self.job_finding + self.belief_sensitivity * (f - self.job_finding)
