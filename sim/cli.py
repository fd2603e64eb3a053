"""The ``sim`` console command: run, resume, report, bench, validate.

``sim run`` is Hydra's application: any config key can be overridden (``key=value``), ``-m`` sweeps.
Overrides are checked before Hydra starts, so a wrong key or value stops with one line naming it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sim.config import CONF_DIR, ConfigError
from sim.config_schema import SimConfig

USAGE = """\
usage: sim <command> [arguments]

commands:
  run [KEY=VALUE ...] [-m]   simulate (Hydra overrides; -m runs a sweep over comma-separated values)
  resume RUN_DIR             continue an interrupted run from its last committed checkpoint
  report RUN_DIR [...]       plots, HTML page and summary table for one or several runs or a sweep
  bench [--json]             performance figures (household-steps/s, bandwidth ratio, memory ...)
  validate aiyagari|hark|merton [--json]
                             reproduce the solver's reference results beside the published ones

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
        backend (numpy, fused, cupy), cluster (local, ray).
Examples:
  sim run population.households=100000 periods=80 seed=7
  sim run -m scenario=baseline seed=1,2,3
  sim run --cfg job          print the resolved configuration (every key and value) and exit
  sim resume RUN_DIR         finish an interrupted run from its last committed checkpoint
"""


def _error(cmd: str, message: str) -> int:
    print(f"sim {cmd}: error: {message}", file=sys.stderr)
    return 2


def _check_overrides(args: list[str]) -> None:
    """Compose and validate the config for the given overrides (each sweep value for -m)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sim.config import compose

    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # Hydra's grammar errors
        raise ConfigError(" ".join(str(exc).split())) from None
    if not any(o.is_sweep_override() for o in parsed):
        compose(overrides)
        return
    # a sweep: check each swept value with every other override at its first value
    firsts = []
    for o in parsed:
        if o.is_sweep_override():
            values = [str(v) for v in o.sweep_string_iterator()]
            firsts.append((o, values))
        else:
            firsts.append((o, [o.input_line.split("=", 1)[1]]))
    for i, (o, values) in enumerate(firsts):
        for v in values:
            combo = [f"{p.input_line.split('=', 1)[0]}={vals[0]}" for j, (p, vals) in enumerate(firsts) if j != i]
            compose(combo + [f"{o.input_line.split('=', 1)[0]}={v}"])


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "run":
        return cmd_run(rest)
    if cmd == "report":
        from sim.report import main as report_main

        return report_main(rest)
    if cmd == "validate":
        from sim.validate import main as validate_main

        return validate_main(rest)
    if cmd == "bench":
        from sim.bench import main as bench_main

        return bench_main(rest)
    if cmd == "resume":
        from sim.resume import main as resume_main

        return resume_main(rest)
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
