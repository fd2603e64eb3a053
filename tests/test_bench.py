"""`sim bench`'s end_to_end figure (issue 16): its keys and their arithmetic, on a small run.
No timing assertions: speed lives in `sim bench` and docs/performance.md."""
from __future__ import annotations

import math

from sim.bench import end_to_end
from sim.config import compose
from sim.coordinator import LoopClock

KEYS = {"households", "periods", "actors", "steps_per_second", "kernel_bound_steps_per_second", "ratio"}


def test_end_to_end_figures_are_consistent(ray_session):
    per_core = 5.0e7  # a stand-in per-core kernel rate: the arithmetic, not the speed, is tested
    e = end_to_end(20_000, 3, 2, per_core, ("population.block_size=1024",))
    assert KEYS <= set(e)
    assert (e["households"], e["periods"], e["actors"]) == (20_000, 3, 2)
    assert e["kernel_bound_steps_per_second"] == 2 * per_core
    assert math.isclose(e["ratio"], e["steps_per_second"] / e["kernel_bound_steps_per_second"], rel_tol=1e-12)
    loop = e["loop_seconds"]
    assert math.isclose(e["steps_per_second"], 20_000 * 3 / loop["loop"], rel_tol=1e-12)
    # the clock's laps partition the step loop: the phases add up to its wall time
    assert set(loop) == set(LoopClock.PHASES) | {"loop"}
    assert math.isclose(sum(loop[p] for p in LoopClock.PHASES), loop["loop"], rel_tol=1e-9)
    assert loop["wait"] > 0.0 and loop["solve"] > 0.0 and loop["recovery"] == 0.0
    # one solve per type for each candidate equity price (the default's priced market), so at
    # least one a period (the default's types: the shipped calibration's)
    types = int(compose(["population.block_size=1024"]).household.types.count)
    # (period 0 opens the market with one solve; periods 1 and 2 evaluate at least two prices)
    assert e["solves"] % types == 0 and e["solves"] >= 5 * types and e["solver_iterations"] >= e["solves"]
    assert e["run_seconds"] >= loop["loop"]
