"""How fast a health monitor takes a failed member out of its VIP's group, and puts it back. A
measurement: it prints figures and asserts no timing.

    sudo .venv/bin/python -m bench.health_detect [--interval 0.5] [--timeout 0.2] [--rise 2] [--fall 3]
                                                 [--rounds 10] [--seed 1] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace, the
standard topology of lab/topology.py) and the real controller, `ryu-manager lbctl_app`, with
monitor_address 198.18.0.2. Each member runs a small TCP server on port 9000 that answers every
line with its name (lab.lbctl's NAME_SERVER, plus SO_REUSEADDR so that it can come back at once,
plus one line in its log with the moment it listens). The bench POSTs a routed VIP `probed`
198.18.0.140:9000 -> m1, m2, m3 port 9000 with a tcp health monitor of the given interval,
timeout, rise and fall, and waits until all three are up and in its select group.

Each round takes one member (m1, m2, m3 in turn) through two failures, in alternating order:
  kill       its server gets SIGKILL from this process: the port is closed, probes get resets.
             Measured from the kill; it comes back when a new server listens (its own timestamp).
  link-down  `ip link set eth0 down` in its namespace: probes get silence. Measured from the
             moment the command is issued (it takes a few ms, printed); back with `... up`.
Before each failure, and again before the member is brought back, the bench sleeps a random
fraction of the interval (seeded), so that both fall anywhere in the probe schedule's phase (a
detection is in step with the probes). Then, per failure:
  detection  the failure to the first `ovs-ofctl dump-groups` of the VIP's group (polled every
             10 ms, from the moment its output is read) without a bucket that NATs to the member
             (`nat(dst=ADDR:9000)`); also to the first GET /v1/vips/probed (every 20 ms) showing
             it `down`, and to the controller's own `status_since` (wall clock, ms).
  recovery   the restart (server listening again) or link-up to the first dump with its buckets
             back; also to GET showing it `up`, and to `status_since`.
  held       one connection through the VIP, opened at the start of the round and landed on
             another member, asks "who" before the failure, after detection and after recovery:
             it must keep answering, from the same member.
  new        from just before the random sleep until 0.3 s after detection, the client opens a
             new connection through the VIP every 20 ms (each asks once, 1 s timeout). Reported:
             those started between the failure and the detection, and how many failed, next to
             the number expected (those hashed to the member's slots: its share of the group's
             buckets); and those that failed although they started before the failure (more
             than 50 ms before, or ended before it) or after the detection (expected: none),
             each on an `unexpected:` line. Such a line names the client port's earlier use by a
             connection that timed out: Open vSwitch's conntrack may still hold that one's
             SYN_SENT entry, NATed to its member, and give the new SYN that NAT.

The target: a failed member leaves the group within fall x interval + 100 ms (met when the largest
detection of the variant is within it). Printed beside it, the bound of the probe schedule
(lbctl_app/health.py): after the last good probe, the next comes one interval later, then probes
follow `timeout` apart while they fail, so resets are seen after at most interval + (fall - 1) x
timeout and silence after interval + fall x timeout. The controller looks at due and late probes
every 50 ms (MONITOR_TICK), which adds up to that much per probe; a recovery needs at most
interval + (rise - 1) x timeout the same way.

Exit status: 0 when measured, whether or not the target was met; 1 when the measurement itself
failed (the lab or the controller would not start, the VIP was refused or its members never came
up, a member did not come back after a failure); 130 on Ctrl-C. The lab is removed in every case;
the workdir (logs) is kept only when the measurement failed, and its path is printed.
"""

import datetime
import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time

from bench.lib import (Deadline, MeasurementFailed, bench_parser, bounded, controller_stats,
                       distribution, machine_text, percentile, positive_int, run, started_lab)
from flows.pipeline import MEMBER_REG
from lab import free_tcp_port, topology
from lab.lbctl import REPO_VIPS, Controller, wait_for

MONITOR_ADDRESS = "198.18.0.2"
SERVICE_PORT = 9000
VIP_NAME = "probed"
VIP_ADDRESS = "198.18.0.140"
CLIENT = topology.CLIENT[0]
MEMBERS = tuple(name for name, _, _ in topology.MEMBERS)
VARIANTS = ("kill", "link-down")

TARGET_MARGIN_S = 0.1          # the target: fall x interval + this
MONITOR_TICK_S = 0.05          # lbctl_app/app.py: how often the controller looks at due and late probes
GROUP_POLL_S = 0.01            # ovs-ofctl dump-groups while a change is due
REST_POLL_S = 0.02             # GET /v1/vips/probed while a change is due
NEW_CONN_PACE_S = 0.02         # one new connection through the VIP this often
NEW_CONN_TIMEOUT_S = 1.0       # ... each given this long (a SYN to a silent member is not retried)
NEW_CONN_MAX = 1000            # at most this many per failure
NEW_CONN_TAIL_S = 0.3          # the loop goes on this long after detection
IN_FLIGHT_MS = 50              # a connection started this shortly before the failure may be caught by it
HELD_ANSWER_TIMEOUT_S = 6.0
HELD_TRIES = 20                # connections opened until one lands on another member than the victim
SETUP_TIMEOUT_S = 30.0
SETUP_BUDGET_S = 90
SETTLE_S = 0.2                 # after a recovery, before the next failure's random sleep
PERCENTILES = (0.50,)          # of each distribution, beside its max

# Runs in a member: NAME_SERVER (lab/lbctl.py) that can rebind at once after a kill (a connection
# the killed server closed may sit in TIME_WAIT on its side) and says when it listens
# (CLOCK_MONOTONIC is shared by all namespaces).
NAME_SERVER = """
import socketserver, sys, time
class Answer(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(sys.argv[1].encode() + b"\\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
server = socketserver.ThreadingTCPServer(("0.0.0.0", 9000), Answer)
print("listening %.6f" % time.monotonic(), flush=True)
server.serve_forever()
"""
# Runs in the client: one TCP connection; for every line on stdin it asks who answers and prints
# the answer, or the error.
HELD_CONNECTION = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    answers = s.makefile()
    for _ in sys.stdin:
        try:
            s.sendall(b"who\\n")
            print(answers.readline().strip() or "error EOF", flush=True)
        except OSError as e:
            print("error " + type(e).__name__, flush=True)
"""
# Runs in the client: a new connection every `pace` s (each in a thread, asking once, `timeout`
# s for each step) until a line comes on stdin or `limit` were started; then, once all have
# ended, one JSON list of [started, ended, answer or "error <exception>", client port]
# (CLOCK_MONOTONIC; the port as the socket knows it at the end, 0 if it no longer holds one).
NEW_CONNECTIONS = """
import json, select, socket, sys, threading, time
vip, port, pace, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
limit = int(sys.argv[5])
results, threads = [], []
def one(started):
    with socket.socket() as s:
        s.settimeout(timeout)
        try:
            s.connect((vip, port))
            s.sendall(b"who\\n")
            outcome = s.makefile().readline().strip() or "error EOF"
        except OSError as e:
            outcome = "error " + type(e).__name__
        results.append([started, time.monotonic(), outcome, s.getsockname()[1]])
print("started", flush=True)
while len(threads) < limit:
    started = time.monotonic()
    threads.append(threading.Thread(target=one, args=(started,)))
    threads[-1].start()
    if select.select([sys.stdin], [], [], max(0.0, started + pace - time.monotonic()))[0]:
        break
for thread in threads:
    thread.join()
print(json.dumps(results), flush=True)
"""


def ms(seconds):
    """To the tenth of a millisecond (lib.ms keeps microseconds); None: not measured."""
    return None if seconds is None else round(seconds * 1000, 1)


def wall_seconds(iso):
    return datetime.datetime.fromisoformat(iso).timestamp()


# -- watching the switch and the API ----------------------------------------------------------

class Watch(threading.Thread):
    """Calls look() every `pace` s until it returns true, `until` (monotonic) passes or stop();
    `seen`: when the first true look returned. Errors end the watch and are kept in `error`."""

    def __init__(self, name, look, pace, until):
        super().__init__(name=name, daemon=True)
        self.look, self.pace, self.until = look, pace, until
        self.seen = self.error = None
        self.starts = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set() and time.monotonic() < self.until:
            started = time.monotonic()
            self.starts.append(started)
            try:
                if self.look():
                    self.seen = time.monotonic()
                    return
            except Exception as e:   # noqa: BLE001 -- reported by the caller as a failed measurement
                self.error = e
                return
            self.stopped.wait(max(0.0, started + self.pace - time.monotonic()))

    def stop(self):
        self.stopped.set()
        self.join(timeout=30)

    def gaps(self):
        return [b - a for a, b in zip(self.starts, self.starts[1:])]


class Probed:
    """The bench VIP on the switch and in the API."""

    def __init__(self, lab, controller, group_id):
        self.lab, self.controller, self.group_id = lab, controller, group_id

    def buckets(self, address):
        """How many of the group's buckets choose the member at address (they load its member id
        into the member register), and how many it has. (OpenFlow 1.3 cannot ask for one group:
        the dump holds every group, one per line.)"""
        head = f"group_id={self.group_id},"
        line = next((line for line in self.lab.ofctl("dump-groups").splitlines()
                     if line.strip().startswith(head)), None)
        if line is None:
            raise MeasurementFailed(f"the switch holds no group {self.group_id} (VIP {VIP_NAME})")
        chosen = "set_field:%#x->%s," % (self.member(address)["id"], MEMBER_REG.field)
        return line.count(chosen), line.count("bucket=")

    def member(self, address):
        status, doc = self.controller.call("GET", "/v1/vips/" + VIP_NAME)
        if status != 200:
            raise MeasurementFailed(f"GET /v1/vips/{VIP_NAME} answered {status}: {doc}")
        return next(m for m in doc["members"] if m["address"] == address)

    def watch(self, address, up, until):
        """Two watches started at once: the group holding (up) or not holding the member's
        buckets, and the API showing it up or down."""
        in_group = Watch("group", lambda: (self.buckets(address)[0] > 0) == up, GROUP_POLL_S, until)
        wanted = "up" if up else "down"
        in_api = Watch("rest", lambda: self.member(address)["operating_status"] == wanted, REST_POLL_S, until)
        for w in (in_group, in_api):
            w.start()
        return in_group, in_api


def finish(watches):
    for w in watches:
        w.join(timeout=max(0.0, w.until - time.monotonic()) + 30)
        w.stop()
        if w.error is not None:
            raise MeasurementFailed(f"watching the {w.name} failed: {w.error}")


# -- the client's side ------------------------------------------------------------------------

def client_process(lab, script, *args):
    return subprocess.Popen(["ip", "netns", "exec", lab.host(CLIENT).netns, sys.executable, "-c", script,
                             *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_line(proc, timeout):
    if select.select([proc.stdout], [], [], timeout)[0]:
        return proc.stdout.readline().strip()
    return ""


class HeldConnection:
    def __init__(self, lab):
        self.proc = client_process(lab, HELD_CONNECTION, VIP_ADDRESS, SERVICE_PORT)

    def ask(self):
        """Who answers on the connection now ("error ..." if nobody does)."""
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
        except OSError as e:
            return "error " + type(e).__name__
        return read_line(self.proc, HELD_ANSWER_TIMEOUT_S) or "error no answer"

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


def held_elsewhere(lab, victim):
    """A held connection through the VIP that landed on another member than `victim`, and that
    member."""
    for _ in range(HELD_TRIES):
        held = HeldConnection(lab)
        first = held.ask()
        if first in MEMBERS and first != victim:
            return held, first
        held.close()
        if first not in MEMBERS:
            raise MeasurementFailed(f"a connection through the VIP got no answer: {first}")
    raise MeasurementFailed(f"{HELD_TRIES} connections through the VIP all landed on {victim}")


class NewConnections:
    """The client's loop of new connections, started now, stopped by stop()."""

    def __init__(self, lab):
        self.proc = client_process(lab, NEW_CONNECTIONS, VIP_ADDRESS, SERVICE_PORT, NEW_CONN_PACE_S,
                                   NEW_CONN_TIMEOUT_S, NEW_CONN_MAX)
        if read_line(self.proc, 10) != "started":
            self.proc.kill()
            raise MeasurementFailed("the client's connection loop did not start: "
                                    + self.proc.communicate()[1][-300:])

    def stop(self):
        """-> [(started, ended, outcome, client port)] of every connection it made."""
        try:
            out, err = self.proc.communicate("stop\n", timeout=NEW_CONN_TIMEOUT_S + 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise MeasurementFailed("the client's connection loop did not end") from None
        if self.proc.returncode != 0:
            raise MeasurementFailed(f"the client's connection loop exited with {self.proc.returncode}: "
                                    + err[-300:])
        return [tuple(r) for r in json.loads(out.strip().splitlines()[-1])]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def new_connection_counts(results, failed_at, detected_at, stopped_at):
    """Connections started before the failure, between it and the detection, and after."""
    def count(rows):
        failed = [o for _, _, o, _ in rows if o.startswith("error")]
        kinds = {}
        for outcome in failed:
            kinds[outcome[6:]] = kinds.get(outcome[6:], 0) + 1
        return {"started": len(rows), "failed": len(failed), "errors": kinds}

    end = detected_at if detected_at is not None else stopped_at
    return {"before": count([r for r in results if r[0] < failed_at]),
            "during": count([r for r in results if failed_at <= r[0] < end]),
            "after": count([r for r in results if r[0] >= end]),
            # each failure: started (ms after the failure), took (ms), the error, the client port
            "failures": [[ms(started - failed_at), ms(ended - started), outcome[6:], port]
                         for started, ended, outcome, port in results if outcome.startswith("error")]}


# -- one failure and its recovery ------------------------------------------------------------

class Members:
    """The members' servers and links: fail one, bring it back."""

    def __init__(self, lab):
        self.lab = lab
        self.servers = {}

    def serve(self, member, timeout=10.0):
        """Start the member's server; when it listens (monotonic), from its own log line."""
        key = "names-" + member
        log = self.lab.workdir / f"{key}.log"
        before = log.read_text().count("listening ") if log.exists() else 0
        self.servers[member] = proc = self.lab.spawn(member, key, [sys.executable, "-c", NAME_SERVER, member])
        give_up = time.monotonic() + timeout
        while True:
            said = [line for line in log.read_text().splitlines() if line.startswith("listening ")] \
                if log.exists() else []
            if len(said) > before:
                return float(said[-1].split()[1])
            if proc.poll() is not None or time.monotonic() > give_up:
                raise MeasurementFailed(f"the server of {member} did not start: "
                                        f"{log.read_text()[-300:] if log.exists() else ''}")
            time.sleep(0.005)

    def kill(self, member):
        """SIGKILL to the member's server -> when it was sent (monotonic, wall), and the seconds
        until the process was gone."""
        proc = self.servers.pop(member)
        at, wall = time.monotonic(), time.time()
        os.kill(proc.pid, signal.SIGKILL)   # the pid is the server's: `ip netns exec` execs it
        proc.wait(timeout=10)
        took = time.monotonic() - at
        self.lab.stop_process("names-" + member)   # drops it from the lab's record
        return at, wall, took

    def link(self, member, state):
        """`ip link set eth0 <state>` in the member's namespace -> when it was issued (monotonic,
        wall), and the seconds the command took."""
        at, wall = time.monotonic(), time.time()
        self.lab.run(member, ["ip", "link", "set", "eth0", state])
        return at, wall, time.monotonic() - at

    def fail(self, variant, member):
        """-> (the moment of the failure, wall clock then, seconds the command took)."""
        return self.kill(member) if variant == "kill" else self.link(member, "down")

    def restore(self, variant, member):
        """-> (the moment it is back, wall clock then, seconds the command took): for a server,
        the moment it listens, and the seconds from spawn to then."""
        if variant == "kill":
            spawned = time.monotonic()
            listening = self.serve(member)
            return listening, time.time() - (time.monotonic() - listening), listening - spawned
        return self.link(member, "up")


def one_failure(lab, probed, members, monitor, rng, variant, member, held, deadline):
    address = lab.host(member).ip
    share, total = probed.buckets(address)
    detect_wait = 3 * monitor["fall"] * monitor["interval"] + 2
    recover_wait = 3 * monitor["rise"] * monitor["interval"] + 5

    loop = NewConnections(lab)
    try:
        phase = rng.uniform(0, monitor["interval"])
        time.sleep(phase)
        failed_at, failed_wall, fail_took = members.fail(variant, member)
        watches = probed.watch(address, False, time.monotonic() + deadline.timeout(detect_wait))
        finish(watches)
        detected = watches[0].seen
        time.sleep(max(0.0, (detected or time.monotonic()) + NEW_CONN_TAIL_S - time.monotonic()))
        stopped_at = time.monotonic()
        results = loop.stop()
    finally:
        loop.kill()
    down = probed.member(address)
    held_after_detection = held.ask()

    deadline.check()
    restore_phase = rng.uniform(0, monitor["interval"])   # the detection is in step with the probes
    time.sleep(restore_phase)
    back_at, back_wall, restore_took = members.restore(variant, member)
    back = probed.watch(address, True, time.monotonic() + deadline.timeout(recover_wait))
    finish(back)
    up = probed.member(address)
    if back[0].seen is None or back[1].seen is None:
        raise MeasurementFailed(f"{member} ({variant}) did not return within {recover_wait:.1f} s: the group "
                                f"holds {probed.buckets(address)[0]} of its buckets; the API says "
                                f"{up['operating_status']} "
                                f"({up['status_reason']})")
    held_after_recovery = held.ask()
    time.sleep(SETTLE_S)

    def since(doc, wall):
        return ms(wall_seconds(doc["status_since"]) - wall)

    return {
        "variant": variant, "member": member, "failed_at": failed_at, "phase_s": round(phase, 3),
        "restore_phase_s": round(restore_phase, 3),
        "command_ms": ms(fail_took), "restore_command_ms": ms(restore_took),
        "slots": share, "buckets": total,
        "detect_group_ms": ms(detected - failed_at) if detected else None,
        "detect_rest_ms": ms(watches[1].seen - failed_at) if watches[1].seen else None,
        "detect_status_since_ms": since(down, failed_wall) if down["operating_status"] == "down" else None,
        "down_reason": down["status_reason"],
        "recover_group_ms": ms(back[0].seen - back_at),
        "recover_rest_ms": ms(back[1].seen - back_at),
        "recover_status_since_ms": since(up, back_wall),
        "up_reason": up["status_reason"],
        "group_poll_gap_ms": ms(percentile(sorted(watches[0].gaps()), 0.5)),
        "rest_poll_gap_ms": ms(percentile(sorted(watches[1].gaps()), 0.5)),
        "held_after_detection": held_after_detection,
        "held_after_recovery": held_after_recovery,
        "new_connections": new_connection_counts(results, failed_at, detected, stopped_at),
    }


# -- the run ------------------------------------------------------------------------------------

def vip_body(monitor):
    return {"name": VIP_NAME, "address": VIP_ADDRESS, "port": SERVICE_PORT, "protocol": "tcp", "mode": "routed",
            "members": [{"address": ip, "port": SERVICE_PORT} for _, ip, _ in topology.MEMBERS],
            "health_monitor": dict(monitor, type="tcp")}


def measure(args, workdir):
    monitor = {"interval": args.interval, "timeout": args.timeout, "rise": args.rise, "fall": args.fall}
    per_failure = args.interval + 3 * (args.fall + args.rise) * args.interval + 7 + NEW_CONN_TIMEOUT_S + 5
    deadline = Deadline(SETUP_BUDGET_S + args.rounds * len(VARIANTS) * per_failure)
    rng = random.Random(args.seed)
    with started_lab(workdir, "hd") as lab:
        topology.build(lab)
        controller = Controller(lab, free_tcp_port(), REPO_VIPS,
                                options={"monitor_address": MONITOR_ADDRESS}).start()
        controller.wait_resolved("web")
        members = Members(lab)
        for member in MEMBERS:
            members.serve(member)
        status, doc = controller.call("POST", "/v1/vips", vip_body(monitor))
        if status != 201:
            raise MeasurementFailed(f"POST /v1/vips {VIP_NAME} answered {status}: {doc}")
        probed = Probed(lab, controller, doc["group_id"])
        addresses = [lab.host(m).ip for m in MEMBERS]
        try:
            wait_for(lambda: all(probed.member(a)["operating_status"] == "up" for a in addresses)
                     and all(probed.buckets(a)[0] for a in addresses), "every member up and in the group",
                     timeout=SETUP_TIMEOUT_S)
        except AssertionError as e:
            raise MeasurementFailed(f"{e}: {[probed.member(a) for a in addresses]}") from None

        failures, started = [], time.monotonic()
        for i in range(args.rounds):
            victim = MEMBERS[i % len(MEMBERS)]
            held, held_member = held_elsewhere(lab, victim)
            try:
                order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    deadline.check()
                    result = one_failure(lab, probed, members, monitor, rng, variant, victim, held, deadline)
                    result.update(round=i + 1, held_member=held_member,
                                  at_s=round(result.pop("failed_at") - started, 3))   # into the rounds
                    failures.append(result)
            finally:
                held.close()
        stats = controller_stats(controller)
        counters = {k: stats.get(k) for k in ("monitor_probes", "monitor_successes", "monitor_failures",
                                              "monitor_changes")}
        return failures, counters, controller.refusals()


def summary(args, info, measured):
    failures, counters, refusals = measured
    interval, timeout, rise, fall = args.interval, args.timeout, args.rise, args.fall
    target = fall * interval + TARGET_MARGIN_S
    bounds = {"kill": interval + (fall - 1) * timeout, "link-down": interval + fall * timeout}
    variants = {}
    for variant in VARIANTS:
        rows = [f for f in failures if f["variant"] == variant]
        detect = [f["detect_group_ms"] for f in rows]
        undetected = sum(d is None for d in detect)
        new = {part: {"started": sum(f["new_connections"][part]["started"] for f in rows),
                      "failed": sum(f["new_connections"][part]["failed"] for f in rows)}
               for part in ("before", "during", "after")}
        errors = {}
        for f in rows:
            for kind, n in f["new_connections"]["during"]["errors"].items():
                errors[kind] = errors.get(kind, 0) + n
        expected = sum(f["new_connections"]["during"]["started"] * f["slots"] / f["buckets"] for f in rows)
        variants[variant] = {
            "failures": len(rows),
            "detect_group_ms": distribution(detect, PERCENTILES),
            "not_detected": undetected,
            "detect_rest_ms": distribution((f["detect_rest_ms"] for f in rows), PERCENTILES),
            "detect_status_since_ms": distribution((f["detect_status_since_ms"] for f in rows), PERCENTILES),
            "recover_group_ms": distribution((f["recover_group_ms"] for f in rows), PERCENTILES),
            "recover_rest_ms": distribution((f["recover_rest_ms"] for f in rows), PERCENTILES),
            "recover_status_since_ms": distribution((f["recover_status_since_ms"] for f in rows), PERCENTILES),
            "schedule_bound_ms": ms(bounds[variant]),
            "target_ms": ms(target),
            "target_met": not undetected and max(detect) <= ms(target),
            "command_ms": distribution((f["command_ms"] for f in rows), PERCENTILES),
            "restore_command_ms": distribution((f["restore_command_ms"] for f in rows), PERCENTILES),
            "down_reasons": sorted({f["down_reason"] for f in rows}),
            "up_reasons": sorted({f["up_reason"] for f in rows}),
            "held_broken": sum(not (f["held_after_detection"] == f["held_after_recovery"] == f["held_member"])
                               for f in rows),
            "held_answers": sorted({(f["held_member"], f["held_after_detection"], f["held_after_recovery"])
                                    for f in rows}),
            "new_connections": new,
            "new_failed_during_errors": errors,
            "new_failed_during_expected": round(expected, 1),
        }
    gaps = [f["group_poll_gap_ms"] for f in failures if f["group_poll_gap_ms"] is not None]
    lags = [f["detect_group_ms"] - f["detect_status_since_ms"] for f in failures
            if None not in (f["detect_group_ms"], f["detect_status_since_ms"])]
    rest_gaps = [f["rest_poll_gap_ms"] for f in failures if f["rest_poll_gap_ms"] is not None]
    return {
        "benchmark": "health_detect",
        "machine": info,
        "parameters": {"health_monitor": {"type": "tcp", "interval": interval, "timeout": timeout,
                                          "rise": rise, "fall": fall},
                       "rounds": args.rounds, "seed": args.seed, "monitor_address": MONITOR_ADDRESS,
                       "vip": f"{VIP_ADDRESS}:{SERVICE_PORT}", "members": list(MEMBERS),
                       "group_poll_ms": ms(GROUP_POLL_S), "rest_poll_ms": ms(REST_POLL_S),
                       "new_connection_pace_ms": ms(NEW_CONN_PACE_S),
                       "new_connection_timeout_s": NEW_CONN_TIMEOUT_S},
        "recovery_schedule_bound_ms": ms(interval + (rise - 1) * timeout),
        "group_poll_gap_ms_p50": percentile(sorted(gaps), 0.5),
        "rest_poll_gap_ms_p50": percentile(sorted(rest_gaps), 0.5),
        "variants": variants,
        "unexpected": unexpected(failures),
        # the controller's decision to the dump showing it: the barrier, the switch and our polling
        "status_since_to_group_ms": distribution((round(lag, 1) for lag in lags), PERCENTILES),
        "controller_counters": counters,
        "refused_messages": len(refusals),
        "failures": failures,
    }


def unexpected(failures):
    """What should not happen, one line each: a new connection that failed although it started
    before the failure (more than IN_FLIGHT_MS before, or ended before it) or after the detection,
    one to a killed server that did not get a reset, a held connection that broke. A
    failed connection whose client port an earlier one that timed out had used says so: Open
    vSwitch's conntrack may still hold that one's entry (SYN_SENT), NATed to its member."""
    lines, timed_out = [], {}   # client port -> (ms into the run, where) of connections that timed out
    for f in failures:
        where = f"round {f['round']} {f['variant']} {f['member']}"
        detected = f["detect_group_ms"]
        for started, took, error, port in sorted(f["new_connections"]["failures"]):
            at = f["at_s"] * 1000 + started
            if -IN_FLIGHT_MS <= started < 0 < started + took:
                when = None   # in flight when it happened: caught by it if it went to the member
            elif started < 0 or (detected is not None and started >= detected):
                when = "before the failure" if started < 0 else "after detection"
            elif f["variant"] == "kill" and error != "ConnectionRefusedError":
                when = "during detection, not refused,"
            else:
                when = None
            if when:
                earlier = timed_out.get(port)
                lines.append(f"{where}: a new connection {when} failed: {error} (started at {started:+.1f} ms, "
                             f"ended {took:.1f} ms later; detection at {detected} ms; client port {port}"
                             + (f", which a connection that timed out {(at - earlier[0]) / 1000:.1f} s before "
                                f"had used ({earlier[1]})" if earlier else "") + ")")
            if error == "TimeoutError" and port:
                timed_out[port] = (at, where)
        if not f["held_after_detection"] == f["held_after_recovery"] == f["held_member"]:
            lines.append(f"{where}: the held connection to {f['held_member']} answered "
                         f"{f['held_after_detection']!r} after detection, "
                         f"{f['held_after_recovery']!r} after recovery")
    return lines


def dist_text(d):
    if not d["count"]:
        return "no samples"
    return f"p50 {d['p50']:7.1f}  max {d['max']:7.1f} ms"


def print_text(s):
    p, m, hm = s["parameters"], s["machine"], s["parameters"]["health_monitor"]
    print(f"lbctl health detection: tcp monitor interval {hm['interval']} s, timeout {hm['timeout']} s, "
          f"rise {hm['rise']}, fall {hm['fall']}; VIP {p['vip']} -> {', '.join(p['members'])}; "
          f"{p['rounds']} rounds (seed {p['seed']}), each kills one member's server and takes its link down")
    print(machine_text(m))
    print(f"polling: dump-groups every {s['group_poll_gap_ms_p50']} ms, GET /v1/vips/{VIP_NAME} every "
          f"{s['rest_poll_gap_ms_p50']} ms (medians); a new connection every "
          f"{p['new_connection_pace_ms']:.0f} ms, {p['new_connection_timeout_s']:.0f} s timeout")
    for variant, v in s["variants"].items():
        kill = variant == "kill"
        what = "server killed (probes get resets)" if kill else "link down (probes get silence)"
        print(f"{variant}: {what}, {v['failures']} times; "
              + (f"restart: spawned -> listening {dist_text(v['restore_command_ms'])}" if kill else
                 f"`ip link set` took p50 {v['command_ms']['p50']:.1f} ms (measured from its start)"))
        print(f"   detection  {'failure -> bucket gone from the group':41} {dist_text(v['detect_group_ms'])}"
              + (f"; {v['not_detected']} NOT detected" if v["not_detected"] else ""))
        print(f"              {'failure -> GET shows it down':41} {dist_text(v['detect_rest_ms'])}")
        print(f"              {'failure -> its status_since':41} {dist_text(v['detect_status_since_ms'])}")
        print(f"              target: gone within fall x interval + 100 ms = {v['target_ms']:.0f} ms: "
              f"{'met' if v['target_met'] else 'NOT met'}")
        print(f"              the schedule's bound: "
              f"{'interval + (fall-1) x timeout' if kill else 'interval + fall x timeout'}"
              f" = {v['schedule_bound_ms']:.0f} ms, + up to {MONITOR_TICK_S * 1000:.0f} ms a probe "
              "(the controller's tick)")
        back = "listening" if kill else "link up"
        print(f"   recovery   {back + ' -> bucket back in the group':41} {dist_text(v['recover_group_ms'])}")
        print(f"              {back + ' -> GET shows it up':41} {dist_text(v['recover_rest_ms'])}")
        print(f"              {back + ' -> its status_since':41} {dist_text(v['recover_status_since_ms'])}")
        print(f"              the schedule's bound: interval + (rise-1) x timeout = "
              f"{s['recovery_schedule_bound_ms']:.0f} ms, + the ticks")
        print(f"   the API said: {' / '.join(v['down_reasons'])}; then {' / '.join(v['up_reasons'])}")
        print(f"   held connection to another member, asked after detection and after recovery: "
              f"{v['failures'] - v['held_broken']} of {v['failures']} answered by the same member")
        n = v["new_connections"]
        errors = ", ".join(f"{k} {c}" for k, c in sorted(v["new_failed_during_errors"].items())) or "none"
        print(f"   new connections started between failure and detection: {n['during']['failed']} of "
              f"{n['during']['started']} failed ({errors}); the member's share of the slots predicts "
              f"{v['new_failed_during_expected']:.1f}")
        print(f"   new connections started before the failure: {n['before']['failed']} of "
              f"{n['before']['started']} failed; after detection: {n['after']['failed']} of "
              f"{n['after']['started']} failed")
    lag = s["status_since_to_group_ms"]
    print(f"status_since -> the dump without the bucket: {dist_text(lag)}")
    for line in s["unexpected"]:
        print("unexpected: " + line)
    c = s["controller_counters"]
    print(f"controller: {c['monitor_probes']} probes, {c['monitor_successes']} succeeded, "
          f"{c['monitor_failures']} failed, {c['monitor_changes']} status changes; "
          f"{s['refused_messages']} messages refused by the switch")


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--interval", type=bounded(float, 0.1, 10), default=0.5,
                        help="seconds between probes of a stable member (default 0.5)")
    parser.add_argument("--timeout", type=bounded(float, 0.05, 10), default=0.2,
                        help="seconds a probe waits for its answer, and between probes that disagree "
                             "(default 0.2)")
    parser.add_argument("--rise", type=bounded(int, 1, 10), default=2,
                        help="successes that bring a member back (default 2)")
    parser.add_argument("--fall", type=bounded(int, 1, 10), default=3,
                        help="failures that take it out (default 3)")
    parser.add_argument("--rounds", type=bounded(int, 1, 100), default=10,
                        help="rounds, each one member killed and its link down (default 10)")
    parser.add_argument("--seed", type=positive_int, default=1,
                        help="of the random failure moments (default 1)")
    args = parser.parse_args(argv)
    if args.timeout > args.interval:
        parser.error(f"--timeout {args.timeout}: more than --interval {args.interval}")

    return run("health_detect", args, measure, summary, print_text)


if __name__ == "__main__":
    sys.exit(main())
