"""agency-sim. ``sim.load(run_dir)`` and ``sim.load_sweep(sweep_dir)`` return results as xarray
Datasets (imported on first use, so ``import sim`` stays light)."""

__all__ = ["load", "load_sweep"]


def __getattr__(name):
    if name in __all__:
        from sim import data

        return getattr(data, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
