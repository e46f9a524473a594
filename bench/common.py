"""What the benchmark scripts of bench/ share: the repo root on sys.path (for lab/ and flows/), the
machine description, MeasurementFailed, the time budget (Deadline), the private lab's creation and
the guard of its cleanup, GET /v1/stats, the percentiles of a sample, the client code that reads
an HTTP answer in a lab namespace, argparse types, and run(): the part of main() from the
availability check to the printed result, with the exit statuses.

Not a package: each script puts its own directory on sys.path and imports this module as `common`.
The figures, options and texts of each benchmark stay in its script.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # lab/ and flows/ live at the repo root
    sys.path.insert(0, str(REPO_ROOT))

from lab import CommandFailed, Lab, free_tcp_port, unavailable_reason  # noqa: E402

AB_MISSING = "the benchmark needs ab (apt-get install apache2-utils)"


class MeasurementFailed(Exception):
    """The figures cannot be trusted (or do not exist): exit status 1."""


class Deadline:
    """The time budget of one measurement, from lab start on."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self):
        if time.monotonic() > self.end:
            raise MeasurementFailed(f"time budget of {self.seconds} s used up")

    def timeout(self, at_most):
        """A timeout for the next step: at_most, or less if the budget ends sooner."""
        left = self.end - time.monotonic()
        if left <= 1:
            raise MeasurementFailed(f"time budget of {self.seconds} s used up")
        return min(at_most, left)


def machine():
    ovs = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True, text=True).stdout
    return {"nproc": len(os.sched_getaffinity(0)),
            "ovs": ovs.splitlines()[0] if ovs else "unknown",
            "kernel": os.uname().release,
            "loadavg_at_start": round(os.getloadavg()[0], 2)}


def new_lab(workdir, tag):
    """A private lab, not started yet, in workdir: its namespaces and bridge are named after tag
    and four random hex digits, so that runs side by side do not meet."""
    prefix = tag + secrets.token_hex(2)
    return Lab(workdir, prefix, bridge=f"{prefix}br", of_port=free_tcp_port())


def ignore_interrupts():
    """First thing in measure()'s cleanup: a second Ctrl-C (or SIGTERM) must not cut it short."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


# -- the controller's REST API ------------------------------------------------------------------

def controller_stats(api):
    """GET /v1/stats -> its document; api: anything with lab.lbctl.Controller's call()."""
    status, doc = api.call("GET", "/v1/stats")
    if status != 200:
        raise MeasurementFailed(f"GET /v1/stats answered {status}: {doc}")
    return doc


# -- figures ------------------------------------------------------------------------------------

def percentile(sorted_values, fraction):
    """Nearest rank, as GET /v1/stats computes its percentiles (lbctl_app/stats.py)."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def distribution(samples, fractions):
    """The count, the percentile of each fraction (0.99: "p99") and the max of the samples,
    leaving out None (no figure)."""
    ordered = sorted(s for s in samples if s is not None)
    return {"count": len(ordered),
            **{f"p{round(fraction * 100)}": percentile(ordered, fraction) for fraction in fractions},
            "max": ordered[-1] if ordered else None}


def ms(seconds):
    """Seconds as milliseconds, to the microsecond."""
    return round(seconds * 1000, 3)


# -- in a lab namespace -------------------------------------------------------------------------

# Python that a client script run in a lab namespace (`python -c`) puts before its own text.
HTTP_ANSWER = r'''
def read_to_end(s):
    """What s receives until the member closes the connection."""
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


def who_answered(data, shown):
    """The member named by the body of a 200, else "status " and the head's first `shown` bytes."""
    head, _, body = data.partition(b"\r\n\r\n")
    return body.decode().strip() if head.split(b" ")[1:2] == [b"200"] else "status " + repr(head[:shown])
'''


# -- argparse types -----------------------------------------------------------------------------

def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def bounded(kind, low, high):
    def parse(text):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: must be between {low} and {high}")
        return value
    return parse


# -- main() -------------------------------------------------------------------------------------

def run(name, measure, summarize, print_text, *, as_json, needs_ab=False, loadavg_at_end=True):
    """Measure once and print the result; the exit status.

    measure(workdir) builds the lab in a new workdir, measures, and removes the lab whatever
    happens; summarize(info, measured) makes the result (a dict) from the machine description and
    what measure() returned; print_text(result) prints it unless as_json. Statuses: 0 measured,
    1 the benchmark cannot run here or the measurement failed (the workdir is kept and named),
    130 interrupted (Ctrl-C, SIGTERM or SIGHUP). loadavg_at_end: add the load average after the
    run to the machine description."""
    reason = unavailable_reason() or (AB_MISSING if needs_ab and not shutil.which("ab") else None)
    if reason:
        print(f"{name}: cannot run: {reason}", file=sys.stderr)
        return 1
    # SIGTERM and SIGHUP end the run like Ctrl-C does, through measure()'s cleanup.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)

    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="lbctl-bench-"))
    try:
        measured = measure(workdir)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; lab removed, logs in {workdir}", file=sys.stderr)
        return 130
    except (MeasurementFailed, CommandFailed, RuntimeError, AssertionError, OSError) as e:
        # The lab, the controller or a client failed: there is no figure to trust. (Anything else
        # is a bug in the script and ends with its traceback, also with status 1.)
        print(f"{name}: measurement failed: {e}\n  lab removed, logs in {workdir}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    if loadavg_at_end:
        info["loadavg_at_end"] = round(os.getloadavg()[0], 2)   # other work on the machine shows here

    result = summarize(info, measured)
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print_text(result)
    return 0
