"""Checkpoints and restartable shard actors (DESIGN.md, "Checkpoints and restart").

Store layout (``checkpoint.store``: a local path or any fsspec URL; null = <run dir>/checkpoints)::

    <store>/run-<fingerprint[:16]>/            one folder per result-determining configuration
        ckpt-<period:08d>-<stamp>/             a Zarr v3 group; the run continues at <period>
            zarr.json
            safe/ risky/ task/ productivity/ employment/
                                               one array per household state variable, shape
                                               (households,), chunks of population.block_size,
                                               Blosc (LZ4, bit shuffle); each shard actor
                                               writes its own chunks
            macro.pkl                          coordinator state (economy, results so far ...)
            MANIFEST.json                      written LAST: the commit record

Commit protocol: the coordinator creates the group and empty arrays (metadata only), every shard
actor snapshots its households and writes its region straight to the store on a background thread
(whole chunks: shards start on block boundaries and chunk = block) while the next period is
stepped, the coordinator writes ``macro.pkl``; half an interval later (``Supervisor.checkpoint``)
it collects the CRC-32 of each of their chunks and writes ``MANIFEST.json`` (period, layout-independent
metadata, per-chunk and macro checksums, and a checksum of the manifest itself), and only then
prunes older checkpoints down to ``checkpoint.keep``. A checkpoint folder without a manifest does
not exist; nothing committed is ever written again (every attempt gets a fresh folder name). A
shard lost while a checkpoint is in flight loses that checkpoint, never an older one.

Recovery: when a shard actor dies (``RayActorError``), the :class:`Supervisor` kills the other
actors, starts fresh ones and has every shard load the newest committed checkpoint whose checksums
verify (each shard reads and checks only its own chunks), falling back to older ones and finally to
the initial state. Random numbers are counter-based, so replaying from any of these gives the same
results, bit for bit. ``sim resume RUN_DIR`` uses the same path after a driver died.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import pickle
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from kernels.schema import STATE_DTYPES
from sim.config import ConfigError

log = logging.getLogger("sim.checkpoint")

FORMAT = "sim-checkpoint/1"
MANIFEST = "MANIFEST.json"
MACRO = "macro.pkl"
PREFIX = "ckpt-"
# Blosc with LZ4 after a bit shuffle: as small as zstd level 1 on household state (about 1.3x on
# evolved states) and about five times faster to encode (2.2 against 0.45 GB/s on one core), which
# keeps the checkpoint's share of run time low now that the kernel takes ~15 ns per household.
CODEC = {"cname": "lz4", "clevel": 1, "shuffle": "bitshuffle"}
PROBE_TIMEOUT_S = 60.0
# config keys that never change results (so a checkpoint stays valid when they differ)
RESULT_NEUTRAL_KEYS = ("cluster", "checkpoint", "output.progress")


class CheckpointStoreError(ConfigError):
    """checkpoint.store cannot be used (one line naming the key)."""


class RecoveryError(RuntimeError):
    """Shard actors kept dying: more than checkpoint.max_recoveries recoveries."""


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- where checkpoints live ---------------------------------------------------------------------
@dataclass
class StoreSpec:
    """A location (absolute local path or fsspec URL) and its fsspec storage options.

    Small and picklable: the coordinator sends it to the shard actors, which open the store
    themselves (household state never travels through the driver)."""

    url: str
    options: dict = field(default_factory=dict)

    def child(self, name: str) -> "StoreSpec":
        if "://" in self.url:
            return StoreSpec(self.url.rstrip("/") + "/" + name, self.options)
        return StoreSpec(os.path.join(self.url, name), self.options)

    def filesystem(self):
        from fsspec.core import url_to_fs

        return url_to_fs(self.url, **copy.deepcopy(self.options))  # s3fs edits nested options

    @property
    def is_local(self) -> bool:
        return "://" not in self.url or self.url.startswith("file://")

    def zarr_store(self, read_only: bool = False):
        from zarr.storage import FsspecStore, LocalStore

        if self.is_local:
            path = self.url[len("file://"):] if self.url.startswith("file://") else self.url
            return LocalStore(path, read_only=read_only)
        return FsspecStore.from_url(self.url, storage_options=copy.deepcopy(self.options), read_only=read_only)


def base_spec(cfg, run_dir) -> StoreSpec:
    """checkpoint.store resolved: null -> <run dir>/checkpoints; relative paths made absolute (shard
    actors run in other working directories)."""
    from omegaconf import OmegaConf

    store = cfg.checkpoint.store
    raw = OmegaConf.select(cfg, "checkpoint.storage_options", default=None)
    options = OmegaConf.to_container(raw, resolve=True) if raw is not None else {}
    if store is None:
        url = os.path.abspath(os.path.join(str(run_dir), "checkpoints"))
    elif "://" not in str(store):
        url = os.path.abspath(os.path.expanduser(str(store)))
    else:
        url = str(store)
    return StoreSpec(url, dict(options or {}))


def fingerprint(cfg) -> str:
    """SHA-256 of the resolved config without the keys that do not change results."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=True)
    tree.pop("hydra", None)
    for key in RESULT_NEUTRAL_KEYS:
        *parents, last = key.split(".")
        node = tree
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()


def _period_of(name: str) -> int | None:
    if not name.startswith(PREFIX):
        return None
    try:
        return int(name[len(PREFIX):].split("-", 1)[0])
    except ValueError:
        return None


def _json_crc(manifest: dict) -> int:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


@dataclass(frozen=True)
class Entry:
    """A checkpoint folder in the store (committed = its manifest exists)."""

    name: str
    period: int
    committed: bool


class CheckpointStore:
    """The checkpoints of one configuration: list, begin, commit, prune, inspect."""

    def __init__(self, base: StoreSpec, fingerprint: str, keep: int):
        self.base, self.fingerprint, self.keep = base, fingerprint, int(keep)
        self.root = base.child(f"run-{fingerprint[:16]}")
        self.fs, self.path = self.root.filesystem()
        self.bad: set[str] = set()  # committed checkpoints found corrupt by this process

    @classmethod
    def open(cls, cfg, run_dir) -> "CheckpointStore":
        """Resolve checkpoint.store and check it can be written and read back (before any work)."""
        base = base_spec(cfg, run_dir)
        try:
            store = cls(base, fingerprint(cfg), int(cfg.checkpoint.keep))
        except Exception as exc:  # unknown protocol, missing fsspec backend, bad options
            raise CheckpointStoreError(f"checkpoint.store {base.url!r} cannot be opened: {_one_line(exc)}") from None
        store.probe()
        return store

    def probe(self) -> None:
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as FutureTimeout

        def attempt():
            if self.root.is_local:
                self.fs.makedirs(self.path, exist_ok=True)
            key = f"{self.path}/.probe-{secrets.token_hex(4)}"
            self.fs.pipe_file(key, b"probe")
            if self.fs.cat_file(key) != b"probe":
                raise OSError("wrote a probe object but read back different bytes")
            self.fs.rm_file(key)

        pool = ThreadPoolExecutor(1)
        try:
            pool.submit(attempt).result(timeout=PROBE_TIMEOUT_S)
        except FutureTimeout:
            raise CheckpointStoreError(f"checkpoint.store {self.base.url!r} did not answer within "
                                       f"{PROBE_TIMEOUT_S:.0f} s") from None
        except Exception as exc:
            raise CheckpointStoreError(f"checkpoint.store {self.base.url!r} is not usable: {_one_line(exc)}") from None
        finally:
            pool.shutdown(wait=False)

    # --- listing --------------------------------------------------------------------------------
    def _abs(self, rel: str) -> str:
        return f"{self.path}/{rel}"

    def entries(self) -> list[Entry]:
        """Checkpoint folders, oldest first (by period, then by when they were begun)."""
        self.fs.invalidate_cache(self.path)
        try:
            listing = self.fs.ls(self.path, detail=False)
        except FileNotFoundError:
            return []
        names = sorted({p.rstrip("/").rsplit("/", 1)[-1] for p in listing})
        return [Entry(n, _period_of(n), self.fs.exists(self._abs(f"{n}/{MANIFEST}")))
                for n in names if _period_of(n) is not None]

    def committed(self) -> list[Entry]:
        return [e for e in self.entries() if e.committed]

    # --- writing --------------------------------------------------------------------------------
    def begin(self, period: int, households: int, block_size: int) -> str:
        """Create a fresh checkpoint group and its empty arrays; return its name."""
        import zarr
        from zarr.codecs import BloscCodec

        name = f"{PREFIX}{period:08d}-{time.time_ns() // 1000:014x}{secrets.token_hex(2)}"
        group = zarr.open_group(self.root.child(name).zarr_store(), mode="w-",
                                attributes={"period": period, "format": FORMAT})
        for var, dtype in STATE_DTYPES.items():
            group.create_array(var, shape=(households,), chunks=(block_size,), dtype=dtype,
                               compressors=BloscCodec(**CODEC), fill_value=0,
                               dimension_names=("household",))
        return name

    def _put(self, rel: str, data: bytes) -> None:
        """Write one object whole: temp file + rename locally; object stores PUT atomically."""
        path = self._abs(rel)
        if self.root.is_local:
            tmp = f"{path}.tmp-{secrets.token_hex(4)}"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        else:
            self.fs.pipe_file(path, data)

    def put_macro(self, name: str, blob: bytes) -> None:
        self._put(f"{name}/{MACRO}", blob)

    def commit(self, name: str, period: int, households: int, block_size: int,
               shard_results: list[dict], blob: bytes, meta: dict) -> dict:
        """Write the manifest (the commit) from the shards' chunk checksums."""
        n_chunks = -(-households // block_size)
        arrays = {var: {"dtype": str(dt), "crc32": [None] * n_chunks} for var, dt in STATE_DTYPES.items()}
        for res in shard_results:
            first = res["first_chunk"]
            for var, crcs in res["crc32"].items():
                arrays[var]["crc32"][first:first + len(crcs)] = crcs
        missing = [var for var, a in arrays.items() if None in a["crc32"]]
        if missing:
            raise RuntimeError(f"checkpoint {name}: no shard wrote part of {missing} (layout bug)")
        manifest = {
            "format": FORMAT,
            "name": name,
            "period": period,
            "fingerprint": self.fingerprint,
            "households": households,
            "block_size": block_size,
            "chunk_households": block_size,
            "codec": "blosc({cname}, clevel={clevel}, {shuffle})".format(**CODEC),
            "checksum_algorithm": "crc32 of the decoded bytes of each chunk",
            "arrays": arrays,
            "state_bytes": int(sum(res["bytes"] for res in shard_results)),
            "macro": {"path": MACRO, "bytes": len(blob), "crc32": zlib.crc32(blob)},
            "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **meta,
        }
        manifest["checksum"] = _json_crc(manifest)
        self._put(f"{name}/{MANIFEST}", json.dumps(manifest, indent=1, sort_keys=True).encode())
        return manifest

    def prune(self, newest: str) -> None:
        """Keep the newest ``keep`` good committed checkpoints (``newest`` among them); remove the
        rest, and uncommitted leftovers not newer than ``newest``. Manifest first, then data."""
        entries = self.entries()
        good = [e for e in entries if e.committed and e.name not in self.bad]
        keep = {e.name for e in good[-self.keep:]} | {newest}
        limit = _period_of(newest)
        for e in entries:
            if e.name in keep or not (e.committed or e.period <= limit):
                continue
            try:
                if e.committed:
                    self.fs.rm_file(self._abs(f"{e.name}/{MANIFEST}"))
                self.fs.rm(self._abs(e.name), recursive=True)
            except (OSError, FileNotFoundError) as exc:  # pruning is housekeeping, never fatal
                log.warning("could not prune checkpoint %s: %s", e.name, _one_line(exc))

    # --- reading --------------------------------------------------------------------------------
    def inspect(self, entry: Entry, households: int, block_size: int) -> tuple[str | None, dict | None, bytes | None]:
        """Check what the coordinator can check cheaply: manifest, macro blob, chunk presence and
        array metadata. Returns (problem or None, manifest, macro blob)."""
        import zarr

        try:
            raw = self.fs.cat_file(self._abs(f"{entry.name}/{MANIFEST}"))
        except FileNotFoundError:
            return "manifest missing", None, None
        try:
            manifest = json.loads(raw)
        except ValueError:
            return "manifest is not valid JSON", None, None
        if not isinstance(manifest, dict) or manifest.get("checksum") != _json_crc(manifest):
            return "manifest checksum mismatch", None, None
        expected = {"format": FORMAT, "fingerprint": self.fingerprint, "period": entry.period,
                    "households": households, "block_size": block_size}
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"manifest {key} is {manifest.get(key)!r}, expected {value!r}", None, None
        try:
            blob = self.fs.cat_file(self._abs(f"{entry.name}/{MACRO}"))
        except FileNotFoundError:
            return f"{MACRO} missing", None, None
        if len(blob) != manifest["macro"]["bytes"] or zlib.crc32(blob) != manifest["macro"]["crc32"]:
            return f"{MACRO} checksum mismatch", None, None
        store = self.root.child(entry.name).zarr_store(read_only=True)
        for var, dtype in STATE_DTYPES.items():
            try:
                arr = zarr.open_array(store, path=var, mode="r")
            except Exception as exc:
                return f"{var}: array metadata unreadable ({_one_line(exc, 120)})", None, None
            if arr.shape != (households,) or arr.chunks != (block_size,) or arr.dtype != dtype:
                return f"{var}: array is {arr.shape} {arr.dtype} in chunks {arr.chunks}", None, None
            missing = self._missing_chunks(entry.name, var, arr)
            if missing:
                return f"{var} chunk {missing[0]} missing ({len(missing)} missing)", None, None
        return None, manifest, blob

    def _missing_chunks(self, name: str, var: str, arr) -> list[int]:
        keys = {i: arr.metadata.encode_chunk_key((i,)) for i in range(arr.nchunks)}
        prefix = self._abs(f"{name}/{var}")
        self.fs.invalidate_cache(prefix)
        present = set()
        for top in {k.split("/", 1)[0] for k in keys.values() if "/" in k} or {""}:
            try:
                listing = self.fs.ls(f"{prefix}/{top}" if top else prefix, detail=False)
            except FileNotFoundError:
                continue
            present |= {f"{top}/{p.rsplit('/', 1)[-1]}" if top else p.rsplit("/", 1)[-1] for p in listing}
        return [i for i, k in keys.items() if k not in present]


# --- the shard actors' side (called inside the actor processes) --------------------------------
def chunk_crcs(data: np.ndarray, block_size: int) -> list[int]:
    """CRC-32 of the bytes of each chunk-sized piece of a shard's (chunk-aligned) array."""
    data = np.ascontiguousarray(data)
    return [zlib.crc32(data[i:i + block_size]) for i in range(0, len(data), block_size)]


def write_region(root: StoreSpec, name: str, lo: int, state: dict[str, np.ndarray], block_size: int) -> dict:
    """Write households [lo, lo + n) of every state array into checkpoint ``name`` (whole chunks:
    ``lo`` is a multiple of ``block_size``); return the chunks' checksums."""
    import zarr

    if lo % block_size:
        raise ValueError(f"shard starts at {lo}, not on a chunk boundary of {block_size}")
    store = root.child(name).zarr_store()
    crcs, nbytes = {}, 0
    for var in STATE_DTYPES:
        data = np.ascontiguousarray(state[var])
        arr = zarr.open_array(store, path=var, mode="r+").with_config({"write_empty_chunks": True})
        arr[lo:lo + len(data)] = data
        crcs[var] = chunk_crcs(data, block_size)
        nbytes += data.nbytes
    return {"first_chunk": lo // block_size, "crc32": crcs, "bytes": nbytes}


def read_region(root: StoreSpec, name: str, lo: int, hi: int, block_size: int,
                arrays: dict) -> tuple[dict[str, np.ndarray] | None, list[str]]:
    """Read and verify households [lo, hi) of checkpoint ``name`` against the manifest's
    checksums. Returns (state, []) or (None, problems)."""
    import zarr

    store = root.child(name).zarr_store(read_only=True)
    first = lo // block_size
    state, problems = {}, []
    for var, dtype in STATE_DTYPES.items():
        try:
            arr = zarr.open_array(store, path=var, mode="r")
            data = np.asarray(arr[lo:hi])
        except Exception as exc:  # undecodable (truncated, flipped) chunk, vanished object ...
            problems.append(f"{var} {_locate_unreadable(store, var, lo, hi, block_size) or ''}"
                            f"unreadable ({_one_line(exc, 160)})")
            continue
        if data.dtype != dtype or data.shape != (hi - lo,):
            problems.append(f"{var}: read {data.shape} {data.dtype}")
            continue
        got = chunk_crcs(data, block_size)
        want = arrays[var]["crc32"][first:first + len(got)]
        bad = [first + i for i, (a, b) in enumerate(zip(got, want)) if a != b]
        if bad:
            problems.append(f"{var} chunk {bad[0]} checksum mismatch ({len(bad)} bad)")
            continue
        state[var] = data
    return (None, problems) if problems else (state, [])


def _locate_unreadable(store, var, lo, hi, block_size) -> str | None:
    import zarr

    try:
        arr = zarr.open_array(store, path=var, mode="r")
    except Exception:
        return None
    for start in range(lo, hi, block_size):
        try:
            arr[start:min(start + block_size, hi)]
        except Exception:
            return f"chunk {start // block_size} "
    return None


# --- coordinator state ----------------------------------------------------------------------------
def get_state(obj) -> Any:
    """An object's mutable state: its ``state_dict()``, or else all its attributes."""
    return obj.state_dict() if hasattr(obj, "state_dict") else dict(vars(obj))


def set_state(obj, state) -> None:
    if hasattr(obj, "load_state_dict"):
        obj.load_state_dict(state)
    else:
        vars(obj).update(state)


@dataclass
class MacroState:
    """Everything the coordinator carries from period to period: the economy, the policy cache,
    the outputs so far and what the next period's environment is computed from."""

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

    def to_bytes(self) -> bytes:
        return pickle.dumps({
            "period": self.period, "rows": self.rows, "snapshots": self.snapshots,
            "previous": self.previous, "median_income": self.median_income,
            "economy": get_state(self.economy), "policy": get_state(self.policy),
        }, protocol=5)

    def load_bytes(self, blob: bytes) -> "MacroState":
        d = _SafeUnpickler(io.BytesIO(blob)).load()
        self.period, self.rows, self.snapshots = d["period"], d["rows"], d["snapshots"]
        self.previous, self.median_income = d["previous"], d["median_income"]
        set_state(self.economy, d["economy"])
        set_state(self.policy, d["policy"])
        return self


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data, NumPy arrays and the project's own classes only (a checkpoint store is
    data, not code: nothing in it can name an arbitrary callable)."""

    _NUMPY = {"_reconstruct", "_frombuffer", "scalar", "ndarray", "dtype"}
    _BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str",
                 "bytes", "bytearray", "bool", "slice", "range"}

    def find_class(self, module, name):
        import importlib

        if module == "builtins" and name in self._BUILTINS:
            return super().find_class(module, name)
        if module.split(".")[0] == "numpy" and (name in self._NUMPY or module == "numpy.dtypes"):
            return super().find_class(module, name)
        if module.split(".")[0] in ("sim", "kernels") and "." not in name:
            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        raise pickle.UnpicklingError(f"checkpoint macro state names {module}.{name}, which is not allowed")


# --- shard actors as a replaceable pool ----------------------------------------------------------
class ShardPool:
    """The run's shard actors; on failure all are replaced (and reload their state)."""

    def __init__(self, make_actor: Callable, layout: list, initialise_args: tuple):
        self.make_actor, self.layout, self.initialise_args = make_actor, layout, initialise_args
        self.actors: list = []

    def start(self) -> None:
        self.kill()
        self.actors = [self.make_actor(s) for s in self.layout]

    def kill(self) -> None:
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # already gone
                pass
        self.actors = []

    def initialise(self) -> None:
        import ray

        ray.get([a.initialise.remote(*self.initialise_args) for a in self.actors])

    def begin_write(self, root: StoreSpec, name: str) -> None:
        """Every shard snapshots its region and starts writing it in the background."""
        import ray

        ray.get([a.begin_checkpoint.remote(root, name) for a in self.actors])

    def finish_write(self) -> list[dict]:
        """Wait for every shard's write; their chunk checksums, in shard order."""
        import ray

        return ray.get([a.finish_checkpoint.remote() for a in self.actors])

    def load(self, root: StoreSpec, name: str, arrays: dict) -> list[str]:
        import ray

        results = ray.get([a.load_checkpoint.remote(root, name, arrays) for a in self.actors])
        return [p for problems in results for p in problems]

    def pids(self) -> list[int]:
        import ray

        return ray.get([a.pid.remote() for a in self.actors])


# --- the supervisor: start, checkpoint, recover ---------------------------------------------------
class Supervisor:
    """Checkpoints the run and brings it back after a shard actor or the driver died."""

    def __init__(self, pool: ShardPool, store: CheckpointStore | None, new_macro: Callable[[], MacroState], *,
                 households: int, block_size: int, periods: int, every: int, max_recoveries: int,
                 meta: dict | None = None, on_event: Callable | None = None):
        self.pool, self.store, self.new_macro = pool, store, new_macro
        self.households, self.block_size, self.periods = households, block_size, periods
        self.every, self.max_recoveries = every, max_recoveries
        self.meta, self.on_event = dict(meta or {}), on_event
        self.recoveries: list[dict] = []
        self.skipped: list[dict] = []
        self.restored_from: dict | None = None
        self.commits: list[dict] = []
        self._phase, self._phase_period = "step", 0
        self.own: set[str] = set()  # checkpoints this run committed or resumed from
        self._warned: set[str] = set()
        self._load_seconds = 0.0
        self._pending: dict | None = None  # the checkpoint being written, until settle() commits it

    # the step loop calls these
    def notify(self, event: str, period: int) -> None:
        """Observers (tests inject faults here): event 'period' before a period is stepped,
        'checkpoint' once a checkpoint's arrays exist and before the shards snapshot and write."""
        if self.on_event is not None:
            self.on_event(event, period, list(self.pool.actors))

    def due(self, period: int) -> bool:
        return self.store is not None and self.every > 0 and period % self.every == 0 and period < self.periods

    def start(self, resume: bool) -> MacroState:
        import ray

        try:
            if resume:
                macro, entry = self._restore(resume=True)
                self.restored_from = {"period": macro.period, "checkpoint": entry.name if entry else None}
                if entry is not None:
                    self.own.add(entry.name)
                log.info("resuming at period %d (%s)", macro.period, entry.name if entry else "initial state")
                return macro
            self.pool.start()
            self.pool.initialise()
            return self.new_macro()
        except ray.exceptions.RayActorError as exc:
            return self.recover(exc, 0)

    def checkpoint(self, macro: MacroState) -> None:
        """Begin a checkpoint of the state after period ``macro.period - 1``: the shards snapshot
        their households and write them in the background while the run goes on (the state is a
        few bytes per household, so the snapshot costs little next to a period); ``settle``
        commits it right after period ``min(macro.period + max(1, every // 2) - 1, periods - 1)``
        is stepped (half an interval for the writes; never after the run's last period). A shard
        lost after the commit finds the checkpoint, one lost before it the previous one (so the
        longest replay is ``every + max(1, every // 2) - 1`` periods); which one does not depend
        on timing. At most one checkpoint is in flight."""
        self.settle()
        self._phase, self._phase_period = "checkpoint", macro.period
        t0 = time.perf_counter()
        name = self.store.begin(macro.period, self.households, self.block_size)
        self.notify("checkpoint", macro.period)
        self.pool.begin_write(self.store.root, name)
        blob = macro.to_bytes()
        self.store.put_macro(name, blob)
        self._pending = {"name": name, "period": macro.period, "blob": blob, "seconds": time.perf_counter() - t0,
                         "commit_by": min(macro.period + max(1, self.every // 2) - 1, self.periods - 1)}
        self._phase = "step"

    def settle(self, stepped: int | None = None) -> None:
        """Commit the checkpoint in flight, if any: wait for the shards' writes (normally long
        done), write the manifest, prune older checkpoints. After period ``stepped`` only when
        that is the checkpoint's commit period; with no period, now."""
        pending = self._pending
        if pending is None or (stepped is not None and stepped < pending["commit_by"]):
            return
        self._phase, self._phase_period = "checkpoint", pending["period"]
        t0 = time.perf_counter()
        results = self.pool.finish_write()
        name = pending["name"]
        manifest = self.store.commit(name, pending["period"], self.households, self.block_size, results,
                                     pending["blob"], self.meta)
        self._pending = None
        self.own.add(name)
        self.store.prune(name)
        self._phase = "step"
        self.commits.append({"period": pending["period"], "name": name,
                             "seconds": pending["seconds"] + time.perf_counter() - t0,
                             "shard_write_seconds": max(r["seconds"] for r in results),
                             "state_bytes": manifest["state_bytes"]})

    def recover(self, exc: BaseException, period: int) -> MacroState:
        """Replace every shard actor and restore the newest good checkpoint (or the initial state)."""
        import ray

        phase, self._phase = self._phase, "step"
        self._pending = None  # a checkpoint in flight is never committed; its folder is pruned later
        if phase == "checkpoint":  # report the checkpoint's period, not the period before it
            period = self._phase_period
        t0 = time.perf_counter()
        while True:
            if len(self.recoveries) >= self.max_recoveries:
                raise RecoveryError(
                    f"shard actor lost at period {period} ({phase}: {_one_line(exc, 160)}); gave up after "
                    f"{len(self.recoveries)} recoveries (checkpoint.max_recoveries={self.max_recoveries})") from exc
            log.warning("shard actor lost at period %d during %s (%s): restarting the shard actors",
                        period, phase, _one_line(exc, 160))
            try:
                macro, entry = self._restore(resume=False)
                break
            except ray.exceptions.RayActorError as again:  # died while restoring: counts again
                self.recoveries.append(self._event(period, phase, exc, None, None, time.perf_counter() - t0))
                exc, phase, t0 = again, "restore", time.perf_counter()
        event = self._event(period, phase, exc, macro.period, entry, time.perf_counter() - t0)
        self.recoveries.append(event)
        log.warning("recovered in %.1f s: restored period %d from %s; replaying", event["seconds"],
                    macro.period, entry.name if entry else "the initial state")
        return macro

    def report(self) -> dict:
        """For provenance.json."""
        return {
            "store": self.store.base.url if self.store else None,
            "root": self.store.root.url if self.store else None,
            "every": self.every,
            "keep": self.store.keep if self.store else None,
            "commits": len(self.commits),
            # what each checkpoint cost the step loop (snapshot, metadata, manifest, and any wait
            # for the background writes), and how long the slowest shard's write took
            "write_seconds": [round(c["seconds"], 4) for c in self.commits],
            "shard_write_seconds": [round(c["shard_write_seconds"], 4) for c in self.commits],
            "state_bytes": self.commits[-1]["state_bytes"] if self.commits else None,
            "last": self.commits[-1]["name"] if self.commits else None,
            "restored_from": self.restored_from,
            "skipped": self.skipped,
        }

    # internals
    def _event(self, period, phase, exc, restored, entry, seconds) -> dict:
        return {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "period": period,
                "phase": phase, "error": type(exc).__name__, "message": _one_line(exc, 300),
                "restored_period": restored, "checkpoint": entry.name if entry else None,
                "seconds": round(seconds, 4), "load_seconds": round(self._load_seconds, 4)}

    def _restore(self, resume: bool) -> tuple[MacroState, Entry | None]:
        """Fresh actors; load the newest checkpoint that verifies, else the initial state. A resume
        may use any checkpoint of this configuration; a running run only its own (one left in a
        shared store by another run, perhaps of other code, never silently replaces its state)."""
        self.pool.start()
        self._load_seconds = 0.0
        entries = self.store.entries() if self.store is not None else []
        if not resume:
            entries = [e for e in entries if e.name in self.own]
        for entry in reversed(entries):
            if entry.name in self.store.bad:
                continue
            if not entry.committed:
                self._skip(entry, "no manifest (not committed: an interrupted write?); ignored")
                continue
            problem, manifest, blob = self.store.inspect(entry, self.households, self.block_size)
            if problem is None and resume and manifest.get("git_revision") != self.meta.get("git_revision"):
                log.warning("checkpoint %s was written by code revision %s, resuming with %s: results "
                            "may differ from an uninterrupted run", entry.name,
                            manifest.get("git_revision"), self.meta.get("git_revision"))
            if problem is None:
                t0 = time.perf_counter()
                problems = self.pool.load(self.store.root, entry.name, manifest["arrays"])
                self._load_seconds = time.perf_counter() - t0
                problem = f"{problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "") \
                    if problems else None
            if problem is None:
                try:
                    macro = self.new_macro().load_bytes(blob)
                except Exception as exc:
                    problem = f"{MACRO} unreadable ({_one_line(exc, 160)})"
                else:
                    if macro.period == entry.period:
                        return macro, entry
                    problem = f"{MACRO} holds period {macro.period}"
            self.store.bad.add(entry.name)
            self._skip(entry, f"is corrupt: {problem}; trying an older one")
        if self.store is not None and (resume or any(e.committed for e in entries)):
            log.warning("no good checkpoint in %s: restarting from the initial state (period 0)", self.store.root.url)
        self.pool.initialise()
        return self.new_macro(), None

    def _skip(self, entry: Entry, why: str) -> None:
        if entry.name in self._warned:
            return
        self._warned.add(entry.name)
        self.skipped.append({"checkpoint": entry.name, "period": entry.period, "reason": why})
        log.warning("checkpoint %s (period %d) %s", entry.name, entry.period, why)


def bench_checkpoint(households: int, **options) -> dict:
    """Checkpoint write/read throughput, share of run time, time to recover (sim.bench_checkpoint)."""
    from sim.bench_checkpoint import bench_checkpoint as bench

    return bench(households, **options)
