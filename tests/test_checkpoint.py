"""Checkpoints on a local store: layout, manifest, commit order and retention, layout independence,
and corrupt checkpoints detected on load (the run falls back and still ends bit-identical)."""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zarr
from omegaconf import OmegaConf

from kernels.schema import STATE_DTYPES
from sim.checkpoint.store import MANIFEST, fingerprint
from sim.coordinator import run
from tests.conftest import tree_digest, with_

# base and reference (SMALL, and the digest of its uninterrupted run): tests/conftest.py


def store_root(run_dir: Path, cfg) -> Path:
    return run_dir / "checkpoints" / f"run-{fingerprint(cfg)[:16]}"


def checkpoints(root: Path) -> list[tuple[int, str, bool]]:
    """(period, name, committed) of every checkpoint folder, oldest first."""
    return sorted((int(p.name.split("-")[1]), p.name, (p / MANIFEST).is_file())
                  for p in root.iterdir() if p.name.startswith("ckpt-"))


@pytest.fixture(scope="module")
def checkpointed(ray_session, base, tmp_path_factory):
    """A run with a checkpoint every 2 periods, keeping 2; records what was committed whenever a
    new checkpoint's arrays exist but the shards have not written yet."""
    cfg = with_(base, checkpoint__every=2, checkpoint__keep=2)
    path = tmp_path_factory.mktemp("ckpt") / "run"
    seen = {}

    def observe(event, period, actors):
        if event == "checkpoint":
            seen[period] = checkpoints(store_root(path, cfg))

    run(cfg, path, on_event=observe)
    return cfg, path, seen


def test_checkpointing_does_not_change_results(reference, checkpointed):
    _, path, _ = checkpointed
    assert tree_digest(path / "results.zarr") == reference


@pytest.mark.filterwarnings("ignore:Object at .* is not recognized as a component of a Zarr hierarchy")
def test_store_layout_and_manifest(checkpointed):
    cfg, path, _ = checkpointed
    root = store_root(path, cfg)
    found = checkpoints(root)
    assert [(p, c) for p, _, c in found] == [(4, True), (6, True)]  # keep=2, nothing uncommitted left
    for period, name, _ in found:
        group = root / name
        manifest = json.loads((group / MANIFEST).read_text())
        assert manifest["period"] == period and manifest["name"] == name
        assert manifest["households"] == 20000 and manifest["block_size"] == 1024
        assert manifest["fingerprint"] == fingerprint(cfg) and manifest["seed"] == 0
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        assert manifest["checksum"] == zlib.crc32(json.dumps(body, sort_keys=True).encode())
        assert set(manifest["macro"]) == {"macro.json", "macro.npz"}
        for file_name, check in manifest["macro"].items():
            data = (group / file_name).read_bytes()
            assert len(data) == check["bytes"] and zlib.crc32(data) == check["crc32"]
        g = zarr.open_group(str(group), mode="r")
        assert set(manifest["arrays"]) == set(STATE_DTYPES) == set(g.array_keys())
        for var, dtype in STATE_DTYPES.items():
            arr = g[var]
            assert arr.shape == (20000,) and arr.chunks == (1024,) and arr.dtype == dtype
            meta = json.loads((group / var / "zarr.json").read_text())
            assert any(c["name"] == "blosc" for c in meta["codecs"]), meta["codecs"]
            crcs = manifest["arrays"][var]["crc32"]
            assert len(crcs) == 20 and len(list((group / var / "c").iterdir())) == 20
            data = arr[:]
            assert crcs == [zlib.crc32(data[i:i + 1024]) for i in range(0, 20000, 1024)]
        assert manifest["state_bytes"] == 20000 * sum(dt.itemsize for dt in STATE_DTYPES.values())


def test_older_checkpoints_pruned_only_after_a_newer_commit(checkpointed):
    _, _, seen = checkpointed
    # while the checkpoint of period p is being written, the older ones are all still there
    assert [(p, c) for p, _, c in seen[2] if c] == []
    assert [(p, c) for p, _, c in seen[4] if c] == [(2, True)]
    assert [(p, c) for p, _, c in seen[6] if c] == [(2, True), (4, True)]


def test_checkpoint_content_is_layout_independent(ray_session, checkpointed, tmp_path):
    cfg, path, _ = checkpointed
    cfg3 = with_(cfg, cluster__actors=3, periods=5)
    run(cfg3, tmp_path / "a3")
    two = [n for p, n, _ in checkpoints(store_root(path, cfg)) if p == 4][0]
    three = [n for p, n, _ in checkpoints(tmp_path / "a3" / "checkpoints" / f"run-{fingerprint(cfg3)[:16]}")
             if p == 4][0]
    m2 = json.loads((store_root(path, cfg) / two / MANIFEST).read_text())
    m3 = json.loads((tmp_path / "a3" / "checkpoints" / f"run-{fingerprint(cfg3)[:16]}" / three / MANIFEST).read_text())
    assert m2["arrays"] == m3["arrays"]


# --- corruption: detected on load, the previous good checkpoint is used ------------------------
def _chunk(group: Path, var="safe", index=13) -> Path:
    return group / var / "c" / str(index)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _as_format_1(group: Path) -> None:
    """The checkpoint as code before sim-checkpoint/2 wrote it: macro.pkl, format 1 (and a valid
    manifest checksum, so only the format tells)."""
    manifest = json.loads((group / MANIFEST).read_text())
    for file_name in manifest["macro"]:
        (group / file_name).unlink()
    (group / "macro.pkl").write_bytes(b"an old pickle")
    manifest.pop("checksum")
    manifest.update(format="sim-checkpoint/1",
                    macro={"path": "macro.pkl", "bytes": 13, "crc32": zlib.crc32(b"an old pickle")})
    manifest["checksum"] = zlib.crc32(json.dumps(manifest, sort_keys=True).encode())
    (group / MANIFEST).write_text(json.dumps(manifest))


CORRUPTIONS = {
    "chunk_deleted": (lambda g: _chunk(g).unlink(), "safe chunk 13 missing"),
    "chunk_bytes_flipped": (lambda g: _flip(_chunk(g, "risky", 3)), "risky"),
    "chunk_truncated": (lambda g: _chunk(g, "task", 17).write_bytes(_chunk(g, "task", 17).read_bytes()[:40]), "task"),
    "manifest_missing": (lambda g: (g / MANIFEST).unlink(), "no manifest"),
    "macro_state_flipped": (lambda g: _flip(g / "macro.json"), "macro.json checksum mismatch"),
    "macro_arrays_flipped": (lambda g: _flip(g / "macro.npz"), "macro.npz checksum mismatch"),
    "old_format": (lambda g: _as_format_1(g), "format is 'sim-checkpoint/1'"),
}


def _copy_unfinished(path: Path, dest: Path) -> Path:
    """The run directory as a killed driver leaves it: checkpoints, no results."""
    shutil.copytree(path, dest)
    shutil.rmtree(dest / "results.zarr")
    return dest


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_newest_checkpoint_falls_back_to_previous(kind, reference, checkpointed, tmp_path, caplog):
    cfg, path, _ = checkpointed
    run_dir = _copy_unfinished(path, tmp_path / "run")
    root = store_root(run_dir, cfg)
    (_, old, _), (_, newest, _) = checkpoints(root)
    old_files = tree_digest(root / old)
    corrupt, reason = CORRUPTIONS[kind]
    corrupt(root / newest)
    with caplog.at_level(logging.WARNING, logger="sim.checkpoint"):
        run(cfg, run_dir, resume=True)
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["resumes"][-1]["restored_from"] == {"period": 4, "checkpoint": old}
    messages = [r.getMessage() for r in caplog.records if newest in r.getMessage()]
    assert len(messages) == 1 and reason in messages[0] and "\n" not in messages[0], messages
    assert tree_digest(run_dir / "results.zarr") == reference
    # the good checkpoint was never rewritten; the bad one is gone once period 6 was committed again
    assert tree_digest(root / old) == old_files
    assert [p for p, _, c in checkpoints(root)] == [4, 6] and newest not in {n for _, n, _ in checkpoints(root)}


def test_no_good_checkpoint_restarts_from_initial_state(reference, checkpointed, tmp_path, caplog):
    cfg, path, _ = checkpointed
    run_dir = _copy_unfinished(path, tmp_path / "run")
    root = store_root(run_dir, cfg)
    for _, name, _ in checkpoints(root):
        _flip(_chunk(root / name, "safe", 2))
    with caplog.at_level(logging.WARNING, logger="sim.checkpoint"):
        run(cfg, run_dir, resume=True)
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["resumes"][-1]["restored_from"] == {"period": 0, "checkpoint": None}
    assert len(prov["checkpoint"]["skipped"]) == 2
    assert any("no good checkpoint" in r.getMessage() and "initial state" in r.getMessage() for r in caplog.records)
    assert tree_digest(run_dir / "results.zarr") == reference


def test_resume_on_another_number_of_actors(reference, checkpointed, tmp_path):
    cfg, path, _ = checkpointed
    run_dir = _copy_unfinished(path, tmp_path / "run")
    run(with_(cfg, cluster__actors=3), run_dir, resume=True)
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["resumes"][-1]["restored_from"]["period"] == 6
    assert len(prov["shard_layout"]) == 3
    assert tree_digest(run_dir / "results.zarr") == reference


# --- no Ray needed ------------------------------------------------------------------------------
def _same(a, b, where="state") -> None:
    """a and b are the same value bit for bit: same types, dict key order, float bits, arrays."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, (float, np.floating)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _state(macro) -> dict:
    return {"period": macro.period, "rows": macro.rows, "snapshots": macro.snapshots, "previous": macro.previous,
            "median_income": macro.median_income, "economy": macro.economy.state_dict(),
            "policy": macro.policy.state_dict()}


def test_macro_state_round_trips_bit_for_bit_as_json_and_arrays(base):
    from sim.accounts import Totals
    from sim.checkpoint.macro_state import MacroState
    from sim.policy_cache import PolicyCache
    from sim.distribution import Sketch
    from sim.economy import make_economy
    from sim.solver.household import PolicySolution

    rng = np.random.default_rng(3)

    def sketch():
        return Sketch(*(rng.standard_normal(5) for _ in range(4)))

    payload_nan = struct.unpack(">d", bytes.fromhex("fff8000000000123"))[0]  # negative, with payload
    odd = [1.0 / 3.0, 0.1 + 0.2, -0.0, 5e-324, float("inf"), -float("inf"), float("nan"), payload_nan]
    totals = Totals(agg={"households": 2.0, "output": 0.1 + 0.2}, wealth=sketch(), income=sketch(),
                    consumption=sketch(), risky_by_wealth=rng.standard_normal(5),
                    consumption_by_wealth=rng.standard_normal(5))
    policy = PolicyCache(base.household)
    solution = PolicySolution(m=rng.standard_normal((2, 3)), c=rng.standard_normal((2, 3)),
                              share=rng.standard_normal((2, 3)), iterations=7, distance=1e-13, price=1.0)
    policy.load_state_dict({"key": (b"\x00\xff", np.arange(3).tobytes()), "solutions": [solution, solution],
                            "tables": (rng.standard_normal((2, 4)), rng.standard_normal((2, 4)).astype(np.float32)),
                            "solves": 4, "solve_seconds": 0.25})
    rows = [{"output": x, "f64": np.float64(x), "f32": np.float32(x), "i": np.int64(-7), "ok": np.bool_(True),
             "none": None, "$type": "a key that looks like a tag"} for x in odd]
    macro = MacroState(make_economy(base, 1), policy, period=3, rows=rows, median_income=0.7, previous=totals,
                       snapshots={2: {"a": np.arange(4.0)}, 5: {"a": -np.arange(4.0).reshape(2, 2).T}})
    macro.economy.load_state_dict({**macro.economy.state_dict(), "debt": 0.1 + 0.2})

    files = macro.to_files()
    assert set(files) == {"macro.json", "macro.npz"}

    def no_constants(name):
        raise AssertionError(f"{name} in macro.json: not standard JSON")

    json.loads(files["macro.json"], parse_constant=no_constants)
    back = MacroState(make_economy(base, 1), PolicyCache(base.household)).load_files(files)
    _same(_state(macro), _state(back))


@pytest.mark.parametrize("value", [
    [], [1.0, np.float64(2.0), 3, "x"], [np.float32(1.5), np.float32(-0.0)], [np.str_("a"), np.str_("bcd")],
    [{"a": 1.0}, {"b": 2.0}], [{"a": 1.0, "b": None}, {"a": 2.0, "b": (1, 2)}], [{}, {}], [{1: 2.0}, {1: 3.0}],
    {"$type": "dict", "items": [1.0]}, [[0.5, 0.25], [np.int64(3)]],
], ids=repr)
def test_macro_state_lists_and_dicts_keep_their_types(value):
    from sim.checkpoint.macro_state import decode, encode

    arrays = {}
    tree = json.loads(json.dumps(encode(value, arrays)))
    _same(value, decode(tree, arrays))


def test_macro_state_holds_data_only():
    import io

    from sim.checkpoint.macro_state import MacroState, decode, encode

    # a record type outside the allow-list is refused, whatever the store says
    with pytest.raises(ValueError, match="subprocess.Popen, which is not allowed"):
        decode({"$type": "record", "type": "subprocess.Popen", "fields": {"args": "echo pwned"}}, {})
    # arrays are read without pickle: an object array in macro.npz is refused
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([print], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        MacroState(None, None).load_files({"macro.json": b"{}", "macro.npz": buffer.getvalue()})
    # and what cannot be stored as data is refused when the checkpoint is written
    with pytest.raises(TypeError, match="cannot store a builtins.object"):
        encode({"rows": [object()]}, {})


def test_old_format_checkpoint_is_refused_in_one_line(tmp_path):
    from sim.checkpoint.store import CheckpointStore, StoreSpec

    store = CheckpointStore(StoreSpec(str(tmp_path)), "f" * 64, keep=2)
    name = store.begin(4, 2048, 1024)
    manifest = {"format": "sim-checkpoint/1", "name": name, "period": 4, "fingerprint": "f" * 64,
                "households": 2048, "block_size": 1024, "macro": {"path": "macro.pkl", "bytes": 0, "crc32": 0}}
    manifest["checksum"] = zlib.crc32(json.dumps(manifest, sort_keys=True).encode())
    (tmp_path / f"run-{'f' * 16}" / name / MANIFEST).write_text(json.dumps(manifest))
    [entry] = store.committed()
    problem, found, macro_files = store.inspect(entry, 2048, 1024)
    assert problem == "its format is 'sim-checkpoint/1', written by other code; this code reads 'sim-checkpoint/3' only"
    assert found is None and macro_files is None


def test_checkpoint_config_keys_are_checked(base):
    from sim.config import ConfigError, validate

    with pytest.raises(ConfigError, match="checkpoint.storage_options must be a mapping"):
        validate(OmegaConf.merge(base, {"checkpoint": {"storage_options": None}}))
    with pytest.raises(ConfigError, match="checkpoint.max_recoveries must be >= 0"):
        validate(with_(base, checkpoint__max_recoveries=-1))


def test_shard_writes_a_snapshot_in_the_background_while_it_steps(base, tmp_path):
    # the plain shard class, no Ray: the checkpoint holds the households as they were when the
    # write began, though the shard stepped (in place) while it was being written
    from sim.bench_inputs import synthetic_inputs
    from sim.checkpoint.households import read_region
    from sim.checkpoint.store import CheckpointStore, StoreSpec
    from sim.layout import Shard
    from sim.shard import HouseholdShard

    inp = synthetic_inputs()
    n, block = 50_000, 4096
    shard = HouseholdShard(Shard(0, 0, n), block, "fused", 7)
    shard.initialise(3.0, 0.3, 0.05, 0.2, inp["stationary"])
    tables = (inp["params"], inp["productivity"], inp["transition_cdf"], inp["c_table"], inp["share_table"])
    shard.step(0, *tables)
    before = shard.get_state()
    store = CheckpointStore(StoreSpec(str(tmp_path)), "f" * 64, keep=2)
    name = store.begin(1, n, block)
    shard.begin_checkpoint(store.root, name)
    with pytest.raises(RuntimeError, match="already in flight"):
        shard.begin_checkpoint(store.root, name)
    shard.step(1, *tables)
    result = shard.finish_checkpoint()
    assert not all(np.array_equal(before[v], shard.state[v]) for v in STATE_DTYPES)  # it did step
    arrays = {v: {"crc32": c} for v, c in result["crc32"].items()}
    state, problems = read_region(store.root, name, 0, n, block, arrays)
    assert problems == []
    for v in STATE_DTYPES:
        assert np.array_equal(state[v], before[v]), v
    # a write that fails (here: no such checkpoint) raises from finish_checkpoint, not silently
    shard.begin_checkpoint(store.root, "ckpt-missing")
    with pytest.raises(Exception, match="ckpt-missing|not found|No such") as failed:
        shard.finish_checkpoint()
    assert not isinstance(failed.value, RuntimeError) or "in flight" not in str(failed.value)


def test_record_types_name_classes_that_exist():
    """A record type is named by its module path: moving the class must fail here, not in a run's
    first checkpoint."""
    import dataclasses
    import importlib

    from sim.checkpoint.macro_state import RECORD_TYPES

    for kind in RECORD_TYPES:
        module, _, name = kind.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert dataclasses.is_dataclass(cls) and f"{cls.__module__}.{cls.__qualname__}" == kind
