"""`python -m lbctl_cli` runs the checkout's command line (the integration tests run it so, with
the repo root first on PYTHONPATH), and starts light: neither Ryu nor eventlet is imported."""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs `python -m lbctl_cli --help` in this interpreter, then says what it imported.
INSPECT = """
import contextlib, io, runpy, sys
sys.argv = ["lbctl", "--help"]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("lbctl_cli", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        assert e.code == 0, e.code
print("HEAVY", sorted({name.split(".")[0] for name in sys.modules} & {"ryu", "eventlet"}))
print("FROM", sys.modules["lbctl_cli.cli"].__file__)
"""


def checkout_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def test_python_m_lbctl_cli_runs_the_checkout_without_ryu_or_eventlet():
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lbctl_cli", "--help"], env=checkout_env(), cwd="/",
                          capture_output=True, text=True, timeout=30)
    took = time.monotonic() - started
    assert done.returncode == 0 and done.stdout.startswith("usage: lbctl"), done.stderr
    assert done.stderr == ""
    print("python -m lbctl_cli --help: %.3f s" % took)   # a figure to read, not to assert (noisy machine)
    inspect = subprocess.run([sys.executable, "-c", INSPECT], env=checkout_env(), cwd="/",
                             capture_output=True, text=True, timeout=30)
    assert inspect.returncode == 0, inspect.stderr
    lines = dict(line.split(" ", 1) for line in inspect.stdout.splitlines())
    assert lines["HEAVY"] == "[]", "the command line imports neither ryu nor eventlet"
    assert lines["FROM"] == str(REPO_ROOT / "lbctl_cli" / "cli.py"), "the checkout's code, not an installed copy"
