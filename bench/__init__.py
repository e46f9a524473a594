"""bench: the benchmarks of lbctl. Each module is one measurement that prints figures and asserts
nothing; run one from the repo root as root, e.g. `sudo .venv/bin/python -m bench.new_conn_rate`.
What they share (the runner, the lab's scaffolding, percentiles, process readings) is in lib.py.
"""
