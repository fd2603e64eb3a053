"""``sim calibrate``: the method of simulated moments against documented targets, on Ray.

spec.py (what is estimated, conf/calibrate.yaml), targets.py (the data and the objective),
moments.py (the model's side), journal.py (resumability), driver.py (the optimiser over Ray),
outputs.py (fit table, Lorenz plot, the config group), cli.py (the command). docs/calibration.md.
"""
