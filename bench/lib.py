"""What the benchmarks of bench/ share, so that each module keeps only its own figures, options
and texts: the runner (the parser's common options, main()'s availability check, the lab's
workdir, the exit statuses and the printed result), the lab's scaffolding (a started private lab
removed however the run ends, the time budget), the machine description, readings of a process
(CPU time, memory), of the switch (flow counts) and of the controller (GET /v1/stats), ApacheBench
runs in a lab namespace, the percentiles of a sample, and the client code that reads an HTTP
answer in a lab namespace.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab import CommandFailed, Cluster, Lab, free_tcp_port, unavailable_reason
# The one nearest-rank percentile of the project: the figures of a bench and those of GET
# /v1/stats are computed alike.
from lbctl.stats import percentile

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


# -- the machine and its processes --------------------------------------------------------------

def machine():
    ovs = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True, text=True).stdout
    return {"nproc": len(os.sched_getaffinity(0)),
            "ovs": ovs.splitlines()[0] if ovs else "unknown",
            "kernel": os.uname().release,
            "loadavg_at_start": round(os.getloadavg()[0], 2)}


def machine_text(m):
    """The machine description as every bench prints it, on one line."""
    end = f", {m['loadavg_at_end']} at end" if "loadavg_at_end" in m else ""
    return (f"machine: {m['nproc']} CPUs, {m['ovs']}, Linux {m['kernel']}, "
            f"load average {m['loadavg_at_start']} at start{end}")


def lab_pid(lab, key):
    """The pid of a process the lab recorded ("controller", "ovs-vswitchd", ...)."""
    return lab.record.data["processes"][key]["pid"]


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        raise MeasurementFailed(f"process {pid} is gone") from None
    fields = stat[stat.rindex(")") + 2:].split()   # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid, field="VmRSS"):
    """A memory figure of a process in kB, from /proc/<pid>/status (VmRSS, VmHWM: its peak)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        raise MeasurementFailed(f"process {pid} is gone") from None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise MeasurementFailed(f"no {field} for process {pid}")


# -- the lab ------------------------------------------------------------------------------------

def new_lab(workdir, tag):
    """A private lab, not started yet, in workdir: its namespaces and bridge are named after tag
    and four random hex digits, so that runs side by side do not meet."""
    prefix = tag + secrets.token_hex(2)
    return Lab(workdir, prefix, bridge=f"{prefix}br", of_port=free_tcp_port())


@contextlib.contextmanager
def started(lab):
    """The lab (a core.Lab or a cluster.Cluster, not started yet), started, and removed when the
    block ends, however it ends: once the block is left, a second Ctrl-C (or SIGTERM) cannot cut
    the removal short."""
    try:
        lab.start()
        yield lab
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        lab.stop()


def started_lab(workdir, tag):
    """A started new_lab(workdir, tag), removed when the block ends (see started())."""
    return started(new_lab(workdir, tag))


def started_cluster(workdir, tag, balancers=("a", "b")):
    """A started cluster lab (lab/cluster.py) of those balancers in workdir, named like new_lab's,
    removed when the block ends (see started())."""
    return started(Cluster(workdir, tag + secrets.token_hex(2), free_tcp_port(), balancers))


FLOW_COUNT = re.compile(r"flow_count=(\d+)")


def flow_count(lab, *match, bridge=None, timeout=20):
    """Flows the bridge (the lab's unless named) holds, of those matching `match` if given
    (e.g. "cookie=0x..../0x...."): `ovs-ofctl dump-aggregate`."""
    text = lab.switch.ofctl("dump-aggregate", bridge or lab.bridge, *match, timeout=timeout)
    return int(FLOW_COUNT.search(text).group(1))


def datapath_flow_count(lab):
    """Flows the userspace datapath holds now (`ovs-appctl dpctl/dump-flows`)."""
    return sum(1 for line in lab.switch.appctl("dpctl/dump-flows").splitlines() if line.strip())


def controller_stats(api):
    """GET /v1/stats -> its document; api: anything with lab.lbctl.Controller's call()."""
    status, doc = api.call("GET", "/v1/stats")
    if status != 200:
        raise MeasurementFailed(f"GET /v1/stats answered {status}: {doc}")
    return doc


# -- ApacheBench --------------------------------------------------------------------------------

AB_FIELDS = {
    "complete": re.compile(r"^Complete requests:\s+(\d+)", re.M),
    "failed": re.compile(r"^Failed requests:\s+(\d+)", re.M),
    "non_2xx": re.compile(r"^Non-2xx responses:\s+(\d+)", re.M),  # printed only when there are some
    "rate": re.compile(r"^Requests per second:\s+([\d.]+)", re.M),
}
AB_FAILED_DETAIL = re.compile(r"^\s+\((Connect: .*)\)$", re.M)
AB_SOCKET_TIMEOUT_S = 5           # ab -s: the longest wait for one response
AB_MAX_FAILED_FRACTION = 0.001    # more failed requests than this: the measurement failed


def run_ab(lab, host, url, requests, concurrency, deadline, run_timeout,
           max_failed_fraction=AB_MAX_FAILED_FRACTION):
    """One `ab` run from the host's namespace, without keepalive (every request a new
    connection) -> {"rate", "complete", "failed", "non_2xx", "failed_detail"}. The run must
    complete every request with at most max_failed_fraction of them failed, within run_timeout
    seconds (or what is left of the deadline)."""
    # -r: a receive error counts as a failed request instead of ending the run; the failed
    # fraction decides whether the run is usable.
    argv = ["ab", "-q", "-r", "-s", str(AB_SOCKET_TIMEOUT_S),
            "-n", str(requests), "-c", str(concurrency), url]
    try:
        proc = lab.run(host, argv, timeout=deadline.timeout(run_timeout), check=False)
    except subprocess.TimeoutExpired as e:
        raise MeasurementFailed(f"{' '.join(argv)}: no result after {e.timeout:.0f} s") from None
    out = proc.stdout
    if proc.returncode != 0 or not AB_FIELDS["rate"].search(out):
        detail = (proc.stderr.strip() or out.strip()).splitlines()[-3:]
        raise MeasurementFailed(f"{' '.join(argv)} exited with {proc.returncode}: "
                                + " / ".join(detail))
    result = {}
    for key, pattern in AB_FIELDS.items():
        found = pattern.search(out)
        result[key] = (float if key == "rate" else int)(found.group(1)) if found else 0
    detail = AB_FAILED_DETAIL.search(out)
    result["failed_detail"] = detail.group(1) if result["failed"] and detail else ""
    if result["complete"] != requests:
        raise MeasurementFailed(f"{url}: ab completed {result['complete']} of {requests} requests")
    if result["failed"] > max_failed_fraction * requests:
        raise MeasurementFailed(f"{url}: {result['failed']} of {requests} requests failed "
                                f"({result['failed_detail']})")
    return result


# -- figures ------------------------------------------------------------------------------------

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


# -- the command line ---------------------------------------------------------------------------

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


def bench_parser(doc):
    """The command line of a bench whose module docstring is doc: its first paragraph as the
    description, and --json; the bench adds its own options."""
    result = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    result.add_argument("--json", action="store_true", help="print one JSON object instead")
    return result


def ab_options(parser, measured, rounds=7):
    """The options of a bench of `ab` runs (new connections per second): --requests,
    --concurrency, --rounds (default `rounds`) of each of the `measured` (e.g. "system"), in
    alternating order."""
    parser.add_argument("--requests", "-n", type=positive_int, default=4000,
                        help="requests (= new connections) per measured ab run (default 4000)")
    parser.add_argument("--concurrency", "-c", type=positive_int, default=16,
                        help="ab's concurrent connections (default 16)")
    parser.add_argument("--rounds", type=positive_int, default=rounds,
                        help=f"measured runs of each {measured}, order alternating (default {rounds})")


def ab_arguments(parser, argv):
    """parse_args, refusing more concurrent connections than requests."""
    args = parser.parse_args(argv)
    if args.concurrency > args.requests:
        parser.error(f"--concurrency {args.concurrency}: more than --requests {args.requests}")
    return args


def run(name, args, measure, summarize, print_text, *, needs_ab=False, unavailable=None,
        loadavg_at_end=True):
    """Measure once and print the result; the exit status, for main() to return.

    measure(args, workdir) builds the lab in a new workdir, measures, and removes the lab
    whatever happens (started_lab); summarize(args, info, measured) makes the result (a dict)
    from the machine description and what measure() returned; print_text(result) prints it
    unless args.json. Statuses: 0 measured, 1 the benchmark cannot run here or the measurement
    failed (the workdir is kept and named), 130 interrupted (Ctrl-C, SIGTERM or SIGHUP).
    unavailable: a function that says why the bench cannot run here (or None), checked after
    the lab's own requirements. loadavg_at_end: add the load average after the run to the
    machine description."""
    reason = (unavailable_reason() or (AB_MISSING if needs_ab and not shutil.which("ab") else None)
              or (unavailable() if unavailable else None))
    if reason:
        print(f"{name}: cannot run: {reason}", file=sys.stderr)
        return 1
    # SIGTERM and SIGHUP end the run like Ctrl-C does, through measure()'s cleanup.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)

    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="lbctl-bench-"))
    try:
        measured = measure(args, workdir)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; lab removed, logs in {workdir}", file=sys.stderr)
        return 130
    except (MeasurementFailed, CommandFailed, RuntimeError, AssertionError, OSError) as e:
        # The lab, the controller or a client failed: there is no figure to trust. (Anything else
        # is a bug in the bench and ends with its traceback, also with status 1.)
        print(f"{name}: measurement failed: {e}\n  lab removed, logs in {workdir}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    if loadavg_at_end:
        info["loadavg_at_end"] = round(os.getloadavg()[0], 2)   # other work on the machine shows here

    result = summarize(args, info, measured)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_text(result)
    return 0
