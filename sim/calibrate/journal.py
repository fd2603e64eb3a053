"""The calibration's journal: every evaluated candidate, one JSON line each, appended as it finishes.

The first line is the header (the spec and the base run's resolved config): a journal only ever
continues the same calibration. A candidate is keyed by its parameter vector written exactly
(``float.hex``), so an optimiser replayed from the same seed asks for the same vectors and gets the
recorded losses back without running anything: that is how an interrupted calibration continues
(docs/calibration.md). Lines are flushed and fsynced one by one; a last line cut short by a kill
is dropped on opening.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from sim.errors import ConfigError


def key(x) -> tuple[str, ...]:
    """The exact identity of a parameter vector."""
    return tuple(float(v).hex() for v in x)


def first_difference(a, b, path: str = "") -> str | None:
    """The dotted path of the first value that differs between two JSON trees, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            found = first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if found:
                return found
        return None
    return None if a == b else (path or "the header")


def comparable(header: dict) -> dict:
    """The part of a header that must match for a journal to be continued: less the spec's ``fixed``
    settings (their effect is the base run, compared in full) and its weight-0 targets (shown in
    the fit table, never in the loss), so that neither a target added to the table nor how the
    spec spells a fixed setting refuses a journal the search would replay the same."""
    out = json.loads(json.dumps(header))
    spec = out.get("spec")
    if isinstance(spec, dict):
        spec.pop("fixed", None)
        if isinstance(spec.get("targets"), dict):
            spec["targets"] = {k: w for k, w in spec["targets"].items() if w != 0}
    return out


class Journal:
    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.entries: list[dict] = []
        self._by_key: dict[tuple[str, ...], dict] = {}
        if self.path.exists():
            self._read(header)
        else:
            self._write_line({"header": header})

    def _read(self, header: dict) -> None:
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        good = 0  # bytes of whole, parseable lines
        records = []
        for line in lines:
            if not line.strip():
                good += len(line) + 1
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                break  # a line cut short by a kill: everything after it is dropped
            good += len(line) + 1
        if good < len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(min(good, len(raw)))
        if not records or "header" not in records[0]:
            raise ConfigError(f"{self.path} is not a calibration journal; choose another --out")
        differs = first_difference(comparable(records[0]["header"]), comparable(header))
        if differs is not None:
            raise ConfigError(f"{self.path.parent} holds a calibration with another spec or base run "
                              f"({differs} differs); choose another --out (or delete it to start over)")
        for entry in records[1:]:
            self._add(entry)

    def _add(self, entry: dict) -> None:
        self.entries.append(entry)
        self._by_key.setdefault(tuple(entry["x"]), entry)

    def _write_line(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def get(self, x) -> dict | None:
        return self._by_key.get(key(x))

    def append(self, entry: dict) -> None:
        self._write_line(entry)
        self._add(entry)

    def best(self) -> dict | None:
        """The entry with the lowest loss (the first one on a tie)."""
        return min(self.entries, key=lambda e: e["loss"], default=None)
