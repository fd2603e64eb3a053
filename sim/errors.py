"""The errors the project reports to users as one line (``sim`` prints them without a traceback)."""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the key and what to do."""
