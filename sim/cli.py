"""The ``sim`` console command: run, resume, report, bench, validate.

``sim run`` is Hydra's application: any config key can be overridden (``key=value``), ``-m`` sweeps.
Overrides are checked before Hydra starts, so a wrong key or value stops with one line naming it.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sim.config import CONF_DIR, ConfigError
from sim.config_schema import SimConfig

USAGE = """\
usage: sim <command> [arguments]

commands:
  run [KEY=VALUE ...] [-m]   simulate (Hydra overrides; -m runs a sweep over comma-separated values)
  resume RUN_DIR             continue an interrupted run from its last committed checkpoint
  fork RUN_DIR --at T --out DIR --arm NAME [KEY=VALUE ...] ...
                             policy experiments: arms forked at period T with the same random numbers
  experiment mpc RUN_DIR --at T [--transfer X] [--json]
                             marginal propensity to consume from a one-off transfer to a random half
  report RUN_DIR [...]       plots, HTML page and summary table for one or several runs or a sweep
  bench [--json]             performance figures (household-steps/s, bandwidth ratio, memory ...)
  calibrate [--spec FILE] [--out DIR] [KEY=VALUE ...]
                             estimate parameters by simulated moments against SCF and Korinek-Suh targets
  validate aiyagari|hark|merton [--json]
                             reproduce the solver's reference results beside the published ones
  completion bash            bash completion script: eval "$(sim completion bash)"
  --version                  the installed version

`sim <command> --help` explains each command.
"""

_defaults = SimConfig()  # the schema's defaults, shown in the help
RUN_HELP = f"""\
usage: sim run [KEY=VALUE ...] [GROUP=OPTION ...] [-m] [hydra.run.dir=DIR]

Simulate the economy and write a run directory (results.zarr, provenance.json, .hydra/config.yaml).
With no arguments: 10^6 households in 2 shard actors on a local Ray instance, 40 quarters, the
fused CPU kernel, checkpoints under the run directory.

Frequently used keys (any key of the schema can be overridden; sim/config_schema.py declares each
one with its type, unit, range and default; an unknown key, also one added with '+', is refused):
  seed={_defaults.seed:<26}key of the counter-based random numbers
  periods={_defaults.periods:<23}periods to simulate (periods_per_year={_defaults.periods_per_year}: quarters)
  population.households=N       number of households (population=small|default|large sets a block)
  population.block_size=B       households per reduction block (results never depend on shards)
  cluster.actors=K              shard actors; cluster=ray attaches to a running Ray cluster
  backend=fused|numpy|cupy      household kernel backend
  scenario=NAME                 named scenario (conf/scenario/)
  checkpoint.every=K            commit a checkpoint every K periods (0 = never)
  checkpoint.store=PATH|URL     checkpoint store (local path or fsspec URL such as s3://bucket/run)
  checkpoint.storage_options   fsspec options, e.g. +checkpoint.storage_options.endpoint_url=URL
  checkpoint.max_recoveries={_defaults.checkpoint.max_recoveries:<4}worker crashes survived (each replays from the last checkpoint)
  hydra.run.dir=DIR             output directory of the run (hydra.sweep.dir=DIR for -m)

Groups: scenario ({', '.join(sorted(p.stem for p in (CONF_DIR / 'scenario').glob('*.yaml')))}),
        population ({', '.join(sorted(p.stem for p in (CONF_DIR / 'population').glob('*.yaml')))}),
        backend (numpy, fused, cupy), cluster (local, ray),
        calibration ({', '.join(sorted(p.stem for p in (CONF_DIR / 'calibration').glob('*.yaml'))) or 'none yet'}: written by `sim calibrate`; scf by default,
                     ~calibration runs the uncalibrated model),
        market (priced, value: shares with a price that clears their market each period, or
                equity bought and sold at value; priced by default, value for the fixed and
                classical closures).
Examples:
  sim run population.households=100000 periods=80 seed=7
  sim run -m scenario=baseline seed=1,2,3
  sim run --cfg job          print the resolved configuration (every key and value) and exit
  sim resume RUN_DIR         finish an interrupted run from its last committed checkpoint
"""


def version() -> str:
    """The installed distribution's version (from its metadata: one source, pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("agency-sim")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "unknown (not installed)"


def _error(cmd: str, message: str) -> int:
    print(f"sim {cmd}: error: {message}", file=sys.stderr)
    return 2


def _check_overrides(args: list[str]) -> None:
    """Compose and validate the config for the given overrides; for a sweep (-m), each swept value
    with every other swept key at its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sim.config import compose

    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # Hydra's grammar errors
        raise ConfigError(" ".join(str(exc).split())) from None
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    swept = []
    for o in parsed:
        if o.is_sweep_override():
            try:
                swept.append([f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()])
            except Exception:  # e.g. glob(): Hydra expands it against the group's options later
                continue
    if not swept:
        compose(fixed)
        return
    firsts = [values[0] for values in swept]
    for i, values in enumerate(swept):
        for value in values:
            compose(fixed + firsts[:i] + [value] + firsts[i + 1:])


def _check_output_dir(args: list[str]) -> None:
    """The run (or sweep) directory can be created: its nearest existing ancestor is a writable
    directory on a writable file system (else Hydra fails with a traceback)."""
    import os

    key = "hydra.sweep.dir" if any(a in ("-m", "--multirun") for a in args) else "hydra.run.dir"
    given = [a.split("=", 1)[1] for a in args if a.startswith(key + "=")]
    path = Path(given[-1] if given else "outputs").expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise ConfigError(f"{key}: {path} is a file, not a directory; choose another with {key}=DIR")
    if os.statvfs(path).f_flag & os.ST_RDONLY or not os.access(path, os.W_OK):
        raise ConfigError(f"{key}: cannot create the run directory under {path} (read-only); "
                          f"choose a writable one with {key}=DIR")


def cmd_run(args: list[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(RUN_HELP)
        return 0
    if any(a in ("-sc", "--shell-completion") for a in args):  # Hydra's, advertised in --hydra-help
        from sim.completion import main as completion_main

        if "install=bash" in args:
            return completion_main(["bash"])
        return _error("run", 'shell completion is for bash: eval "$(sim completion bash)"')
    if not any(a.startswith("--") for a in args):  # --cfg/--info etc. are Hydra's own
        try:
            _check_overrides([a for a in args if a not in ("-m", "--multirun")])
            _check_output_dir(args)
        except ConfigError as exc:
            return _error("run", str(exc))
    from sim.app import hydra_main

    sys.argv = ["sim run", *args]
    try:
        hydra_main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# command -> the module whose ``main(argv)`` runs it (``run`` is handled here, through Hydra)
SUBCOMMANDS = {"report": "sim.report", "validate": "sim.validate", "bench": "sim.bench",
               "resume": "sim.resume", "completion": "sim.completion", "fork": "sim.fork",
               "calibrate": "sim.calibrate.cli", "experiment": "sim.experiment"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] == "--version":
        print(f"sim (agency-sim) {version()}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "run":
        return cmd_run(rest)
    if cmd in SUBCOMMANDS:  # imported on use: most pull in heavy libraries
        return importlib.import_module(SUBCOMMANDS[cmd]).main(rest)
    return _error(cmd, f"unknown command {cmd!r}\n{USAGE}")


def entry() -> int:
    """Console entry point: ``main`` with a quiet exit when the reader of stdout goes away."""
    try:
        return main()
    except BrokenPipeError:  # `sim --help | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(entry())
