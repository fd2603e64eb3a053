"""``python -m sim.report ...``: the same as ``sim report ...``."""
import sys

from sim.report.command import main

sys.exit(main())
