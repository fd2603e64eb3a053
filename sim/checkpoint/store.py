"""The checkpoint store: where checkpoints live, how one is begun, committed, pruned and checked.

Layout (``checkpoint.store``: a local path or any fsspec URL; null = <run dir>/checkpoints)::

    <store>/run-<fingerprint[:16]>/            one folder per result-determining configuration
        ckpt-<period:08d>-<stamp>/             a Zarr v3 group; the run continues at <period>
            zarr.json
            safe/ risky/ task/ productivity/ employment/
                                               one array per household state variable, shape
                                               (households,), chunks of population.block_size,
                                               Blosc (LZ4, bit shuffle); each shard actor
                                               writes its own chunks (sim.checkpoint.households)
            macro.json macro.npz               coordinator state (sim.checkpoint.macro_state)
            MANIFEST.json                      written LAST: the commit record

The manifest holds the CRC-32 of every chunk (computed by the shard that wrote it) and of every
macro file, and a checksum of itself. A checkpoint folder without a manifest does not exist;
nothing committed is ever written again (every attempt gets a fresh folder name). When to begin
and commit is the supervisor's business (sim/supervisor.py).
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import errno
import secrets
import threading
import time
import zlib
from dataclasses import dataclass, field

from kernels.schema import STATE_DTYPES
from sim.errors import ConfigError, StoreFailure

log = logging.getLogger("sim.checkpoint")

# 2: macro state as JSON + .npz (macro.json, macro.npz) instead of a pickle (macro.pkl)
# 3: a type byte per household (state array ``type``) and one policy solution per type
FORMAT = "sim-checkpoint/3"
MANIFEST = "MANIFEST.json"
PREFIX = "ckpt-"
# Blosc with LZ4 after a bit shuffle: as small as zstd level 1 on household state (about 1.3x on
# evolved states) and about five times faster to encode (2.2 against 0.45 GB/s on one core), which
# keeps the checkpoint's share of run time low now that the kernel takes ~15 ns per household.
CODEC = {"cname": "lz4", "clevel": 1, "shuffle": "bitshuffle"}
# an uncommitted checkpoint folder of another process is left alone this long (it may be another
# run of the same configuration writing it into a shared store); older ones are leftovers
FOREIGN_GRACE_S = 3600.0
# config keys that never change results (so a checkpoint stays valid when they differ)
RESULT_NEUTRAL_KEYS = ("cluster", "checkpoint", "output.progress")
# a macro file named in a manifest: a plain file name inside the checkpoint folder
_MACRO_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class CheckpointStoreError(ConfigError):
    """checkpoint.store cannot be used (one line naming the key)."""


def failure_advice(exc: BaseException) -> str:
    """What to do about a failed store operation, from its cause."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free space on it"
    if isinstance(exc, (FileNotFoundError, KeyError)) or "not found" in str(exc).lower():
        return ("a checkpoint folder vanished under the run: is another run of this configuration "
                "pruning the same store? give each run its own checkpoint.store")
    return "check that the store is up and reachable with these credentials"


def call_with_timeout(fn, timeout_s: float, *args):
    """fn(*args) on a daemon thread; (finished, value or exception). A call that does not return
    within ``timeout_s`` is abandoned (the thread never blocks the interpreter's exit)."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="checkpoint-io", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return False, None
    return True, outcome.get("error", outcome.get("value"))


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line of at most ``limit`` characters (for warnings and errors)."""
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


def _age_s(name: str) -> float:
    """Seconds since checkpoint folder ``name`` was begun (its name holds the time in µs, hex);
    infinite for a name that does not parse."""
    try:
        stamp = int(name[len(PREFIX):].split("-", 1)[1][:14], 16)
    except (IndexError, ValueError):
        return float("inf")
    return time.time() - stamp / 1e6


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

    def __init__(self, base: StoreSpec, fingerprint: str, keep: int, io_timeout_s: float = 600.0):
        self.base, self.fingerprint, self.keep = base, fingerprint, int(keep)
        self.io_timeout_s = float(io_timeout_s)
        self.begun: set[str] = set()  # checkpoint folders this process created
        # a configured store may be shared by runs of one configuration; <run dir>/checkpoints is
        # the run's own (its directory lock keeps other processes out)
        self.shared = True
        self.root = base.child(f"run-{fingerprint[:16]}")
        self.fs, self.path = self.root.filesystem()
        self.bad: set[str] = set()  # committed checkpoints found corrupt by this process

    @classmethod
    def open(cls, cfg, run_dir) -> "CheckpointStore":
        """Resolve checkpoint.store and check it can be written and read back (before any work)."""
        base = base_spec(cfg, run_dir)
        try:
            store = cls(base, fingerprint(cfg), int(cfg.checkpoint.keep), float(cfg.checkpoint.io_timeout_s))
        except Exception as exc:  # unknown protocol, missing fsspec backend, bad options
            raise CheckpointStoreError(f"checkpoint.store {base.url!r} cannot be opened: {one_line(exc)}") from None
        store.shared = cfg.checkpoint.store is not None
        store.probe()
        return store

    def probe(self) -> None:
        def attempt():
            if self.root.is_local:
                self.fs.makedirs(self.path, exist_ok=True)
            key = f"{self.path}/.probe-{secrets.token_hex(4)}"
            self.fs.pipe_file(key, b"probe")
            if self.fs.cat_file(key) != b"probe":
                raise OSError("wrote a probe object but read back different bytes")
            self.fs.rm_file(key)

        finished, error = call_with_timeout(attempt, self.io_timeout_s)
        if not finished:
            raise CheckpointStoreError(f"checkpoint.store {self.base.url!r} did not answer within "
                                       f"{self.io_timeout_s:g} s (checkpoint.io_timeout_s)") from None
        if isinstance(error, BaseException):
            raise CheckpointStoreError(f"checkpoint.store {self.base.url!r} is not usable: {one_line(error)}") from None

    def io(self, what: str, fn, *args):
        """fn(*args), a store operation of the driver, within checkpoint.io_timeout_s; a failure or
        a hang ends the run with a StoreFailure (one line: what failed and what to do)."""
        finished, result = call_with_timeout(fn, self.io_timeout_s, *args)
        if not finished:
            raise StoreFailure(f"checkpoint store {self.base.url} did not answer within {self.io_timeout_s:g} s "
                               f"while {what} (checkpoint.io_timeout_s): check that it is up and reachable")
        if isinstance(result, BaseException):
            raise StoreFailure(f"checkpoint store {self.base.url} failed while {what} ({one_line(result, 200)}): "
                               f"{failure_advice(result)}") from None
        return result

    def discard(self, name: str) -> None:
        """Remove an uncommitted checkpoint folder after a failed write (best effort, bounded in
        time: a store that hangs keeps it, and a later commit's pruning removes it)."""
        def remove():
            self.fs.rm(self._abs(name), recursive=True)

        finished, error = call_with_timeout(remove, min(self.io_timeout_s, 30.0))
        if not finished or (isinstance(error, BaseException) and not isinstance(error, FileNotFoundError)):
            log.warning("could not remove the partial checkpoint %s (%s); the next commit prunes it", name,
                        "timed out" if not finished else one_line(error))

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
        self.begun.add(name)
        try:
            group = zarr.open_group(self.root.child(name).zarr_store(), mode="w-",
                                    attributes={"period": period, "format": FORMAT})
            for var, dtype in STATE_DTYPES.items():
                group.create_array(var, shape=(households,), chunks=(block_size,), dtype=dtype,
                                   compressors=BloscCodec(**CODEC), fill_value=0,
                                   dimension_names=("household",))
        except Exception:  # e.g. a full disk: leave no half-made folder behind
            self.discard(name)
            raise
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

    def put_macro(self, name: str, files: dict[str, bytes]) -> None:
        """Write the coordinator's state (file name -> bytes) into checkpoint ``name``."""
        for file_name, data in files.items():
            if not _MACRO_FILE_NAME.fullmatch(file_name) or file_name == MANIFEST:
                raise ValueError(f"macro file name {file_name!r} is not a plain file name")
            self._put(f"{name}/{file_name}", data)

    def commit(self, name: str, period: int, households: int, block_size: int,
               shard_results: list[dict], macro_files: dict[str, bytes], meta: dict) -> dict:
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
            "macro": {file_name: {"bytes": len(data), "crc32": zlib.crc32(data)}
                      for file_name, data in macro_files.items()},
            "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **meta,
        }
        manifest["checksum"] = _json_crc(manifest)
        self._put(f"{name}/{MANIFEST}", json.dumps(manifest, indent=1, sort_keys=True).encode())
        return manifest

    def prune(self, newest: str) -> None:
        """Keep the newest ``keep`` good committed checkpoints (``newest`` among them); remove the
        rest, and uncommitted leftovers not newer than ``newest`` (in a configured store, another
        process's only once FOREIGN_GRACE_S old: it may be a live run writing it). Manifest first,
        then data."""
        entries = self.entries()
        good = [e for e in entries if e.committed and e.name not in self.bad]
        keep = {e.name for e in good[-self.keep:]} | {newest}
        limit = _period_of(newest)
        for e in entries:
            if e.name in keep or not (e.committed or e.period <= limit):
                continue
            if not e.committed and self.shared and e.name not in self.begun and _age_s(e.name) < FOREIGN_GRACE_S:
                continue
            try:
                if e.committed:
                    self.fs.rm_file(self._abs(f"{e.name}/{MANIFEST}"))
                self.fs.rm(self._abs(e.name), recursive=True)
            except (OSError, FileNotFoundError) as exc:  # pruning is housekeeping, never fatal
                log.warning("could not prune checkpoint %s: %s", e.name, one_line(exc))

    # --- reading --------------------------------------------------------------------------------
    def inspect(self, entry: Entry, households: int,
                block_size: int) -> tuple[str | None, dict | None, dict[str, bytes] | None]:
        """Check what the coordinator can check cheaply: manifest, macro files, chunk presence and
        array metadata. Returns (problem or None, manifest, macro files: name -> bytes)."""
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
        if manifest.get("format") != FORMAT:
            return (f"its format is {manifest.get('format')!r}, written by other code; this code reads "
                    f"{FORMAT!r} only"), None, None
        expected = {"fingerprint": self.fingerprint, "period": entry.period,
                    "households": households, "block_size": block_size}
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"manifest {key} is {manifest.get(key)!r}, expected {value!r}", None, None
        macro_files = {}
        for file_name, check in manifest["macro"].items():
            if not _MACRO_FILE_NAME.fullmatch(file_name) or file_name == MANIFEST:
                return f"manifest names macro file {file_name!r}, not a plain file name", None, None
            try:
                data = self.fs.cat_file(self._abs(f"{entry.name}/{file_name}"))
            except FileNotFoundError:
                return f"{file_name} missing", None, None
            if len(data) != check["bytes"] or zlib.crc32(data) != check["crc32"]:
                return f"{file_name} checksum mismatch", None, None
            macro_files[file_name] = data
        store = self.root.child(entry.name).zarr_store(read_only=True)
        for var, dtype in STATE_DTYPES.items():
            try:
                arr = zarr.open_array(store, path=var, mode="r")
            except Exception as exc:
                return f"{var}: array metadata unreadable ({one_line(exc, 120)})", None, None
            if arr.shape != (households,) or arr.chunks != (block_size,) or arr.dtype != dtype:
                return f"{var}: array is {arr.shape} {arr.dtype} in chunks {arr.chunks}", None, None
            missing = self._missing_chunks(entry.name, var, arr)
            if missing:
                return f"{var} chunk {missing[0]} missing ({len(missing)} missing)", None, None
        return None, manifest, macro_files

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


