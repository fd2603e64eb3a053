"""Household state in a checkpoint, the shard actors' side: each shard actor writes its own
region of the state arrays into a checkpoint (whole chunks) and reads it back, checking every
chunk against the CRC-32 the manifest holds. Runs inside the actor processes; household state
never passes through the driver.
"""
from __future__ import annotations

import zlib

import numpy as np

from kernels.schema import STATE_DTYPES
from sim.checkpoint.store import StoreSpec, one_line


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
                            f"unreadable ({one_line(exc, 160)})")
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

