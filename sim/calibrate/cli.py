"""The ``sim calibrate`` command line (docs/calibration.md)."""
from __future__ import annotations

import sys
from pathlib import Path

from sim.calibrate.targets import describe
from sim.errors import ConfigError, EconomyStopped, RunError, RunLocked, own_error

HELP = f"""\
usage: sim calibrate [--spec FILE] [--out DIR] [--no-install] [KEY=VALUE ...]

Estimate parameters by the method of simulated moments: each candidate is a full simulation (the
spec's base run with the parameters set), run as a Ray task, many at once; its moments, measured
after a burn-in, are compared with the targets below, and differential evolution
(scipy.optimize, seeded) searches the parameters' bounds for the smallest loss

    L = sum_j w_j (model_j - data_j)^2      (w_j: the target's weight in the spec).

A target whose output the model does not have (e.g. capital_output in the fixed closure) is
skipped and the fit table says so. Targets (data value, what it is; shares as fractions, K/Y in years):
{describe()}

The spec (default conf/calibrate.yaml, the wealth block; conf/calibrate_market.yaml estimates the
priced equity market's participation cost and perceived risk) lists the base run (`run`: sim run overrides), `burn_in`,
the `parameters` (config keys with low, high and start; null start: the base run's value), the
`targets` with their weights and the `optimiser` settings (seed, popsize, maxiter, tol, parallel).
KEY=VALUE changes the spec when KEY is one of its fields (optimiser.maxiter=2, burn_in=40, name=x),
otherwise it is a run override added to the base run (periods=80, population.households=20000).

Outputs in DIR (default calibrations/NAME): journal.jsonl (every candidate), candidates/NNNN/ (their
run directories), fit_table.csv and .md (target, data, model, weight, contribution), lorenz.png
(model against the SCF points), best.json, calibration/NAME.yaml; the latter is also installed as
conf/calibration/NAME.yaml (unless --no-install), so that `sim run calibration=NAME` uses it.
Interrupted (Ctrl-C, a kill, a lost node)? Run the same command again: it continues from the
journal and runs no finished candidate again. Examples:
  sim calibrate                                            the full form (docs/calibration.md)
  sim calibrate population.households=2000 periods=16 burn_in=8 optimiser.maxiter=0 --out /tmp/c
"""


def parse(argv: list[str]) -> tuple[Path | None, Path | None, bool, list[str]]:
    """(spec file, output dir, install, KEY=VALUE items)."""
    spec, out, install, items = None, None, True, []
    rest = iter(argv)
    for item in rest:
        if item in ("--spec", "--out"):
            value = next(rest, None)
            if value is None or value.startswith("--"):
                raise ConfigError(f"{item} needs a value")
            if item == "--spec":
                spec = Path(value)
            else:
                out = Path(value)
        elif item == "--no-install":
            install = False
        elif "=" in item and not item.startswith("-"):
            items.append(item)
        else:
            raise ConfigError(f"{item!r}: expected --spec FILE, --out DIR, --no-install or KEY=VALUE")
    return spec, out, install, items


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    import sim.config
    from sim import run_lock
    from sim.calibrate import outputs, spec as specs
    from sim.calibrate.driver import calibrate

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    out = None
    try:
        spec_path, out, install, items = parse(list(argv))
        spec, base = specs.load(spec_path, items)
        out = out or Path("calibrations") / spec.name
        with run_lock.hold(out, "sim calibrate"):
            outcome = calibrate(spec, base, out, log)
            paths = outputs.write_all(out, spec.name, outcome.best, dict(spec.targets), spec.run, spec.burn_in,
                                      outcome.evaluations, sim.config.CONF_DIR if install else None,
                                      dict(spec.fixed))
    except RunLocked:
        print(f"sim calibrate: error: {out} is in use by another sim calibrate; wait for it, or stop it "
              "and run the same command again to continue", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"sim calibrate: error: {' '.join(str(own_error(exc)).split())}", file=sys.stderr)
        return 2
    except RunError as exc:  # from a candidate's Ray task: its own error, not Ray's traceback
        cause = own_error(exc)
        again = ("" if isinstance(cause, EconomyStopped)  # broken accounts: the same candidate stops again
                 else "; run the same command again to continue")
        print(f"sim calibrate: error: {' '.join(str(cause).split())}{again}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sim calibrate: interrupted; run the same command again to continue from {out}/journal.jsonl",
              file=sys.stderr)
        return 130
    best = outcome.best
    print(outputs.table_text(outputs.rows_of(best, dict(spec.targets))))
    params = ", ".join(f"{k}={v:.6g}" for k, v in best["params"].items())
    log(f"done: {outcome.evaluations} candidates ({outcome.simulated} simulated now, the rest from the "
        f"journal) in {outcome.seconds:.1f} s; {outcome.message}\n"
        f"  best: candidate {best['n']}: {params}, loss {best['loss']:.6g}\n"
        f"  fit table: {paths['fit_md']}\n  Lorenz plot: {paths.get('lorenz', '(no Lorenz curve in the results)')}\n"
        f"  config: {paths.get('installed', paths['config'])}"
        + (f"  (sim run calibration={spec.name})" if "installed" in paths else
           f"  (copy it to conf/calibration/ to use it: sim run calibration={spec.name})"))
    return 0
