"""The coordinator's state between periods (:class:`MacroState`) and how a checkpoint stores it.

Stored as two files, data only (nothing in a checkpoint store can name code to run):

* ``macro.json``: the state as a JSON tree. Python floats are written with ``repr``, which reads
  back bit for bit; what JSON cannot say is tagged with a ``"$type"`` key: non-finite floats
  (their 64 bits in hex), NumPy scalars (dtype and value), tuples, bytes, dicts whose keys are not
  strings (the snapshots are keyed by period), NumPy arrays (a reference into ``macro.npz``) and
  records (dataclass instances of the types in :data:`RECORD_TYPES`, field by field). Lists of
  floats or of one NumPy scalar type go to ``macro.npz`` as one array, and lists of dicts with the
  same keys (the result rows) column by column.
* ``macro.npz``: the NumPy arrays (``.npy`` format: dtype, shape and bytes exact), read without
  pickle.
"""
from __future__ import annotations

import base64
import dataclasses
import importlib
import io
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

JSON_FILE = "macro.json"
ARRAYS_FILE = "macro.npz"
TAG = "$type"
# the only classes a macro state may hold besides plain data and arrays (rebuilt field by field)
RECORD_TYPES = (
    "sim.accounts.Totals",
    "sim.distribution.Sketch",
    "sim.solver.policy.PolicySolution",
    "sim.solver.household.PolicySolution",  # its name in checkpoints written before the solver split
)


@dataclass
class MacroState:
    """Everything the coordinator carries from period to period: the economy, the policy cache,
    the outputs so far and what the next period's environment is computed from. The economy and
    the policy cache give their state as ``state_dict()`` and take it back with
    ``load_state_dict(d)``."""

    economy: Any
    policy: Any
    period: int = 0  # the next period to simulate
    rows: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    previous: Any = None  # Totals of the last period
    median_income: float | None = None

    def record(self, row: dict, totals, snapshot: dict | None) -> None:
        """Close the current period with its outputs."""
        self.rows.append(row)
        if snapshot is not None:
            self.snapshots[self.period] = snapshot
        self.previous, self.median_income = totals, row["median_income"]
        self.period += 1

    def to_files(self) -> dict[str, bytes]:
        """The state as checkpoint files: {JSON_FILE: JSON tree, ARRAYS_FILE: .npz of its arrays}."""
        arrays: dict[str, np.ndarray] = {}
        tree = encode({
            "period": self.period, "rows": self.rows, "snapshots": self.snapshots,
            "previous": self.previous, "median_income": self.median_income,
            "economy": self.economy.state_dict(), "policy": self.policy.state_dict(),
        }, arrays)
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        text = json.dumps(tree, allow_nan=False, separators=(",", ":"))
        return {JSON_FILE: text.encode(), ARRAYS_FILE: buffer.getvalue()}

    def load_files(self, files: dict[str, bytes]) -> "MacroState":
        """Restore the state that :meth:`to_files` stored; ValueError if the files are not that."""
        missing = [name for name in (JSON_FILE, ARRAYS_FILE) if name not in files]
        if missing:
            raise ValueError(f"macro state lacks {', '.join(missing)}")
        with np.load(io.BytesIO(files[ARRAYS_FILE]), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        d = decode(json.loads(files[JSON_FILE]), arrays)
        self.period, self.rows, self.snapshots = d["period"], d["rows"], d["snapshots"]
        self.previous, self.median_income = d["previous"], d["median_income"]
        self.economy.load_state_dict(d["economy"])
        self.policy.load_state_dict(d["policy"])
        return self


# --- the JSON tree ------------------------------------------------------------------------------
def encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as a JSON-able tree; its NumPy arrays are added to ``arrays`` and referenced."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("a checkpoint cannot store an array of Python objects")
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {TAG: "array", "name": name}
    if isinstance(value, list):
        return _encode_list(value, arrays)
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        item = value.item()
        if isinstance(item, np.generic):  # long double, datetime ...: no exact Python value
            raise TypeError(f"a checkpoint cannot store a NumPy {value.dtype} scalar")
        return {TAG: "numpy", "dtype": value.dtype.str, "value": encode(item, arrays)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {TAG: "float", "bits": struct.pack(">d", value).hex()}
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode(v, arrays) for v in value]}
    if isinstance(value, bytes):
        return {TAG: "bytes", "base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode(v, arrays) for k, v in value.items()}
        return {TAG: "dict", "items": [[encode(k, arrays), encode(v, arrays)] for k, v in value.items()]}
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if dataclasses.is_dataclass(value) and kind in RECORD_TYPES:
        return {TAG: "record", "type": kind,
                "fields": {f.name: encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}}
    raise TypeError(f"a checkpoint cannot store a {kind} (plain data, NumPy arrays and scalars, and "
                    f"the records in sim.checkpoint.macro_state.RECORD_TYPES only)")


def _encode_list(values: list, arrays: dict[str, np.ndarray]) -> Any:
    """A list; as an array when its items are all Python floats or all NumPy scalars of one type,
    as columns when they are dicts with the same string keys (the result rows: one per period,
    so writing them column by column keeps a checkpoint's cost low late in a long run)."""
    if not values:
        return []
    first, kinds = values[0], {type(v) for v in values}
    if kinds == {float}:
        return {TAG: "floats", "array": encode(np.array(values, dtype=np.float64), arrays)}
    if len(kinds) == 1 and isinstance(first, np.generic) and first.dtype.kind in "biuf":
        return {TAG: "scalars", "array": encode(np.array(values, dtype=first.dtype), arrays)}
    if (kinds == {dict} and len(values) > 1 and first and all(isinstance(k, str) for k in first)
            and all(list(v) == list(first) for v in values)):
        return {TAG: "rows", "columns": [[k, _encode_list([v[k] for v in values], arrays)] for k in first]}
    return [encode(v, arrays) for v in values]


def decode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The value :func:`encode` turned into ``tree``."""
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    kind = tree.get(TAG)
    if kind is None:
        return {k: decode(v, arrays) for k, v in tree.items()}
    if kind == "array":
        return arrays[tree["name"]]
    if kind == "floats":
        return decode(tree["array"], arrays).tolist()  # Python floats, every bit kept
    if kind == "scalars":
        return list(decode(tree["array"], arrays))  # NumPy scalars of the array's dtype
    if kind == "rows":
        columns = [(key, decode(values, arrays)) for key, values in tree["columns"]]
        return [dict(zip([key for key, _ in columns], row)) for row in zip(*(v for _, v in columns))]
    if kind == "numpy":
        return np.dtype(tree["dtype"]).type(decode(tree["value"], arrays))
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(tree["bits"]))[0]
    if kind == "tuple":
        return tuple(decode(v, arrays) for v in tree["items"])
    if kind == "bytes":
        return base64.b64decode(tree["base64"])
    if kind == "dict":
        return {decode(k, arrays): decode(v, arrays) for k, v in tree["items"]}
    if kind == "record":
        return _record(tree["type"], {k: decode(v, arrays) for k, v in tree["fields"].items()})
    raise ValueError(f"unknown {TAG} {kind!r} in the macro state")


def _record(kind: str, fields: dict) -> Any:
    """An instance of one of RECORD_TYPES with these field values, set as stored (no __init__ or
    __post_init__ runs: the object is restored, not constructed anew)."""
    if kind not in RECORD_TYPES:
        raise ValueError(f"the macro state names type {kind}, which is not allowed")
    module, _, name = kind.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    expected = {f.name for f in dataclasses.fields(cls)}
    if set(fields) != expected:
        raise ValueError(f"stored {kind} has fields {sorted(fields)}, expected {sorted(expected)}")
    obj = object.__new__(cls)
    for key, value in fields.items():
        object.__setattr__(obj, key, value)  # frozen dataclasses too
    return obj
