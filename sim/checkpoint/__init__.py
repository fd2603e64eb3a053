"""Checkpoints of a run (docs/checkpoints.md), one module per part:

* ``store``: where checkpoints live (StoreSpec, the config fingerprint), and the CheckpointStore
  that begins, commits (MANIFEST.json with checksums), prunes, lists and checks them;
* ``households``: the shard actors' side, writing and reading their region of the household
  state arrays with a CRC-32 per chunk;
* ``macro_state``: the coordinator's state (MacroState) and its storage as JSON plus arrays.

When to checkpoint and how to recover is the coordinator's: sim/supervisor.py, sim/shard_pool.py.
"""
