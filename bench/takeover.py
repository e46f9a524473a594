"""How long a client sees no answer when the active balancer of a cluster fails, and which open
connections survive the takeover. A measurement: it prints figures and asserts no timing.

    sudo .venv/bin/python -m bench.takeover [--takeovers 20] [--quick] [--held 20] [--pace-ms 10]
                                            [--kinds kill,uplink] [--settle 1.5] [--echo 0.2,3] [--json]

What runs: the cluster lab (lab/cluster.py: a Linux-bridge fabric; the client and the members
on it; balancers a and b, each its own ovs-vswitchd with the userspace datapath, on a stick) and
the real controller, `ryu-manager lbctl_app`, with `balancers = a, b`, `uplinks = a=50, b=50`,
gateways 198.18.0.1/24 and 198.18.3.1/24, and garp_count, garp_interval and takeover_grace at
their defaults (3, 1 s, 60 s). Three VIPs, all in redundancy group 1 with the gateways, so that
one failure moves them together; each member runs lab.lbctl's NAME_SERVER on port 9000:
  one-arm  198.18.0.100:9000 -> m1, m2 (198.18.0.11, .12), SNAT pool 198.18.0.200
  dsr      198.18.0.120:9000 -> m2, m3 (the VIP on their `lo`, lab/dsr.py)
  routed   198.18.0.130:9000 -> r1, r2 (198.18.3.11, .12). Routed mode needs the members'
           replies to come back through the balancer; on this flat fabric the client and m1-m3
           share 198.18.0.0/24, so a member would answer the client straight. The routed members
           sit on another subnet of the same fabric instead, with the balancer's gateway
           198.18.3.1 (group 1's MAC) as their default route.

A cycle. The client (one Python process in its namespace; it ends itself after 60 s) opens
--held long-lived connections to each VIP, each asking "who" once. Then, every --pace-ms, it
starts a new short connection to each VIP: connect, ask, read the member's name, close, with
3 s for all of it (the kernel resends a lost SYN after 1 s). It stamps each answer with
CLOCK_MONOTONIC, which all namespaces share. After 1 s of this the active switch fails in one
of these ways:
  kill    SIGKILL of its ovs-vswitchd (Cluster.kill_switch): the controller reads EOF at once; the
          fabric keeps sending the group's MAC to the dead switch's port until a gratuitous ARP
          of the new active switch moves it.
  uplink  the fabric's end of its uplink goes down (Cluster.cut_uplink): an OpenFlow port status
          tells the controller; the fabric forgets the port's MACs and floods until it learns
          the group's MAC again.
  hang    (not run by default) SIGSTOP of its ovs-vswitchd, SIGCONT once the cycle is measured:
          a hung switch whose connection stays open, which only OpenFlow echo requests find out
          (--echo INTERVAL,COUNT sets ryu-manager's echo_request_interval and
          maximum_unreplied_echo_requests; Ryu's defaults send none).
Once every VIP has answered a connection started after the failure (or 10 s passed), and 0.5 s
more, the client sends one line on each held connection and waits up to 3 s for the answer.
Then the failed switch comes back (Cluster.restart_switch, with no flows; restore_uplink;
SIGCONT). The bench waits until GET /v1/cluster shows both switches healthy and each member
located on both, checks where the fabric holds the group's MAC (see below), and waits --settle
more seconds. With no preemption the group stays on the survivor, so the next failure hits the
other switch: failures alternate between a and b, each from the same steady state. The default
--settle puts each failure more than garp_count - 1 garp_intervals (2 s) after the last
adoption of a switch; `--settle 0` shows what happens inside that window.

Reported, per mode and kind of failure, over the takeovers:
  gap       the longest time between two consecutive answers, the later one after the failure,
            up to 0.5 s after the first answer to a connection started after the failure. This
            is what a client asking every --pace-ms sees. p50, p99 (nearest rank: with 20
            samples, the max) and max. Target: p99 <= 1 s (keepalived's VRRP with 1 s adverts
            needs about 3 s).
  failed    short connections that got no answer (timed out, reset), with when they started; and
            held connections that could not even be opened before the failure (left out of the
            share below). For each, whether an earlier connection to the VIP had used its client
            port (a switch's conntrack may still hold that one) and, for one-arm, whether its
            member still held an orphaned connection from the SNAT pool port it was NATed to.
  survived  held connections whose line after the takeover was answered by the member that
            answered before, as a share; the other outcomes by kind. The switches' conntrack
            (read on the active switch before the failure and on the new one after the check)
            explains what broke: for one-arm, the SNAT pool port of each held connection on the
            old and on the new switch (the new switch picks the connection up, takeover_grace,
            and chooses a port afresh); for routed, which member the new switch NATed a broken
            one to. Also: in how many cycles the two switches' slot tables (select groups)
            differed at the failure, and at the end how many connections from the pool address
            the one-arm members still hold (the client holds none).
  detection the failure to the switch's PORT_STATUS (uplink: an `ovs-ofctl monitor` beside
            the controller), to the controller's log lines "switch ... disconnected" or
            "uplink port 50 is down" and "(takeover: ...)" (the log tailed every 5 ms), and to
            the fabric learning the group's MAC at the new switch (`bridge monitor fdb`); the
            failures that came within 2 s of a switch's adoption, apart.
  returns   a returning switch that still holds the group's MAC in the fabric, though it now
            stands by, is a black hole for every VIP of the group (after a hang, the switch acts
            as the active one until the controller adopts it again). The bench waits 4 s for a
            gratuitous ARP of the controller, then sends one from the active switch itself
            (Cluster.send_garp), and reports both.
  baseline  the same cycles with no failure (the client's pacing, the machine's load): read the
            gaps against it.
The controller's `takeovers` counter (GET /v1/cluster) at the end.

Exit status: 0 when measured, whether or not the target was met; 1 when the measurement itself
failed (the lab or the controller would not start, a failed switch did not come back healthy,
the client loop broke); 130 on Ctrl-C. The lab is removed in every case; the workdir (logs) is
kept only when the measurement failed, and its path is printed.
"""

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

from bench.lib import (Deadline, MeasurementFailed, bench_parser, bounded, distribution, machine_text,
                       run, started_cluster)
from lab import dsr, free_tcp_port, topology
from lab.lbctl import NAME_SERVER, Controller, wait_for
from lbctl.core import Options

A, B = "0000000000000001", "0000000000000002"
GROUP = 1
SERVICE_PORT = 9000
POOL_ADDRESS = "198.18.0.200"
ROUTED_GATEWAY = "198.18.3.1"
ROUTED_MEMBERS = (("r1", "198.18.3.11"), ("r2", "198.18.3.12"))
VIPS = (  # mode, then the VIP as POSTed
    ("one-arm", {"name": "arm", "address": "198.18.0.100", "mode": "one-arm",
                 "snat_pool": {"addresses": [POOL_ADDRESS]},
                 "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12"}]}),
    ("dsr", {"name": "direct", "address": "198.18.0.120", "mode": "dsr",
             "members": [{"address": "198.18.0.12"}, {"address": "198.18.0.13"}]}),
    ("routed", {"name": "routed", "address": "198.18.0.130", "mode": "routed",
                "members": [{"address": ip} for _, ip in ROUTED_MEMBERS]}),
)
MODES = tuple(mode for mode, _ in VIPS)
DSR_MEMBERS = ("m2", "m3")
SERVING = ("m1", "m2", "m3") + tuple(name for name, _ in ROUTED_MEMBERS)
MEMBER_ADDRESS = dict([(name, ip) for name, ip, _ in topology.MEMBERS] + list(ROUTED_MEMBERS))
OPTIONS = {"balancers": f"a={A}, b={B}", "uplinks": "a=50, b=50",
           "gateways": f"198.18.0.1/24, {ROUTED_GATEWAY}/24"}
KINDS = ("kill", "uplink", "hang")
DEFAULT_KINDS = ("kill", "uplink")
CLIENT = topology.CLIENT[0]
CLIENT_PORT_RANGE = "1024 65000"   # the client's ephemeral ports: fewer reuses of a recent 4-tuple

TARGET_P99_S = 1.0
PERCENTILES = (0.50, 0.99)
STEADY_S = 1.0               # the client loop runs this long before the failure
TAIL_S = 0.5                 # ... and this long after every VIP answered again
RECOVER_TIMEOUT_S = 10.0     # a VIP that does not answer within this: not recovered
REQUEST_TIMEOUT_S = 3.0      # one short connection, all of it
HELD_OPEN_TIMEOUT_S = 3.0    # the held connections opened and answered before the failure
HELD_CHECK_TIMEOUT_S = 3.0   # the answer to a held connection's line after the takeover
CLIENT_LIMIT_S = 60.0        # the client loop ends itself after this long, whatever happens
CLIENT_START_TIMEOUT_S = 15.0
STANDBY_TIMEOUT_S = 30.0     # the failed switch healthy and standing by again
SETTLE_S = 1.5               # after that, before the next cycle (--settle)
# A takeover, and a switch's adoption, announce the group's addresses garp_count times,
# garp_interval apart (the controller's clock ticks every 0.05 s): a takeover within that time
# joins the schedule under way instead of announcing at once.
ANNOUNCING_S = (Options.garp_count - 1) * Options.garp_interval + 0.1
RETURN_TIMEOUT_S = 20.0      # --after-return: the restarted standby adopted
FABRIC_HEAL_S = 4.0          # a fabric that holds the group's MAC at the standby: wait this long for a
                             # gratuitous ARP of the active switch, then send one (and say so)
LOG_POLL_S = 0.005
SETUP_BUDGET_S = 120
CYCLE_BUDGET_S = 60          # at most, per cycle, for the time budget
QUICK_TAKEOVERS = 5
FAILURES_SHOWN = 4           # failed short connections listed per mode and kind in the text

# Runs in the client: the request loop and the held connections, in one single-threaded
# selector loop. argv: the VIPs as JSON [[address, port], ...], pace, request timeout, held per
# VIP, the time to open them, held check timeout, the process's own time limit. It prints JSON
# lines: {"ready": ..., "not_opened": [...]} once the held connections answered or failed,
# {"recovered": vip, "at": t} for the first answer to a connection started after "mark <t>"
# (stdin), {"checked": ...} once every held connection's line after "check" was answered or
# failed, and after "stop" (or its time limit) the record:
# requests [vip, started, ended, outcome, client port] (outcome: the member, or "error <errno
# name>") and the
# held connections [vip, client port, member, outcome].
CLIENT_LOOP = r'''
import errno, json, os, selectors, socket, sys, time
vips = [tuple(v) for v in json.loads(sys.argv[1])]
pace, timeout, held_per_vip, open_timeout, check_timeout, limit = (
    float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]),
    float(sys.argv[7]))
now = time.monotonic
sel = selectors.DefaultSelector()
requests, held, in_flight = [], [], []

def say(doc):
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()

def error_name(e):
    code = e.errno if isinstance(e, OSError) else e
    return "error " + (errno.errorcode.get(code, str(code)) if code else type(e).__name__)

class Request:
    """One short connection asking once."""
    def __init__(self, vip):
        self.vip, self.started, self.data, self.done = vip, now(), b"", False
        self.sock = socket.socket()
        self.sock.setblocking(False)
        code = self.sock.connect_ex(vips[vip])
        self.port = self.sock.getsockname()[1]
        if code not in (0, errno.EINPROGRESS):
            self.end(error_name(code))
            return
        self.connected = False
        sel.register(self.sock, selectors.EVENT_WRITE, self)
        in_flight.append(self)

    def ready(self):
        try:
            if not self.connected:
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    return self.end(error_name(code))
                self.connected = True
                self.sock.send(b"who\n")   # 4 bytes into an empty send buffer
                sel.modify(self.sock, selectors.EVENT_READ, self)
                return
            chunk = self.sock.recv(256)
        except OSError as e:
            return self.end(error_name(e))
        if not chunk:
            return self.end("error EOF")
        self.data += chunk
        if b"\n" in self.data:
            self.end(self.data.split(b"\n")[0].decode())

    def end(self, outcome):
        if self.done:
            return
        self.done = True
        requests.append([self.vip, self.started, now(), outcome, self.port])
        try:
            sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        if mark is not None and self.vip not in recovered and self.started > mark and not outcome.startswith("error"):
            recovered[self.vip] = now()
            say({"recovered": self.vip, "at": recovered[self.vip]})

class Held:
    """A long-lived connection: opened and asked once before the failure (phases "opening" and
    "first"), idle across it, asked once more after "check" ("asked"), then "done"."""
    def __init__(self, vip):
        self.vip, self.member, self.outcome, self.data, self.phase = vip, None, None, b"", "opening"
        self.sock = socket.socket()
        self.sock.setblocking(False)
        code = self.sock.connect_ex(vips[vip])
        self.port = self.sock.getsockname()[1]
        if code not in (0, errno.EINPROGRESS):
            self.end(error_name(code))
            return
        sel.register(self.sock, selectors.EVENT_WRITE, self)

    def ready(self):
        try:
            if self.phase == "opening":
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    return self.end(error_name(code))
                self.sock.send(b"who\n")
                self.phase = "first"
                sel.modify(self.sock, selectors.EVENT_READ, self)
                return
            chunk = self.sock.recv(256)
        except OSError as e:
            return self.end(error_name(e))
        if not chunk:
            return self.end("error EOF")
        if self.phase == "idle":
            return self.end("error unasked data")
        self.data += chunk
        if b"\n" in self.data:
            line, self.data = self.data.split(b"\n")[0].decode(), b""
            if self.phase == "first":
                self.member, self.phase = line, "idle"
            else:
                self.end(line)

    def ask(self):
        try:
            self.sock.send(b"who\n")
            self.phase, self.due = "asked", now() + check_timeout
        except OSError as e:
            self.end(error_name(e))

    def end(self, outcome):
        if self.outcome is None:
            where = {"opening": " at open", "first": " at open", "idle": " while idle"}.get(self.phase, "")
            self.outcome = outcome + where
            self.phase = "done"
            try:
                sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass

mark, recovered, checking, stopping = None, {}, False, False
started = now()
for vip in range(len(vips)):
    for _ in range(held_per_vip):
        held.append(Held(vip))
while any(h.phase in ("opening", "first") for h in held) and now() < started + open_timeout:
    for key, _ in sel.select(0.05):
        key.data.ready()
for h in held:
    if h.phase in ("opening", "first"):
        h.end("error timeout")
os.set_blocking(0, False)
sel.register(0, selectors.EVENT_READ, "stdin")
say({"ready": now(), "not_opened": [[h.vip, h.port, h.outcome] for h in held if h.outcome]})
commands = b""
next_start = now()
while not stopping and now() - started < limit:
    t = now()
    if t >= next_start:
        for vip in range(len(vips)):
            Request(vip)
        next_start = max(next_start + pace, t)
    while in_flight and (in_flight[0].done or in_flight[0].started + timeout < t):
        in_flight.pop(0).end("error timeout")
    if checking:
        for h in held:
            if h.phase == "asked" and h.due < t:
                h.end("error timeout")
        if all(h.phase == "done" for h in held):
            checking = False
            say({"checked": now()})
    for key, _ in sel.select(max(0.0, min(next_start - now(), 0.005))):
        if key.data != "stdin":
            key.data.ready()
            continue
        chunk = os.read(0, 4096)
        if not chunk:
            stopping = True
        commands += chunk
        while b"\n" in commands:
            line, commands = commands.split(b"\n", 1)
            word, _, arg = line.decode().partition(" ")
            if word == "mark":
                mark = float(arg)
            elif word == "check":
                checking = True
                for h in held:
                    if h.phase == "idle":
                        h.ask()
            elif word == "stop":
                stopping = True
for r in in_flight:
    if not r.done:
        requests.append([r.vip, r.started, None, "unfinished", r.port])
say({"requests": requests, "held": [[h.vip, h.port, h.member, h.outcome or "unchecked"] for h in held],
     "limit": not stopping})
'''


def ms(seconds):
    """Seconds as milliseconds, to the tenth; None: not measured."""
    return None if seconds is None else round(seconds * 1000, 1)


# -- watching the controller's log and the fabric ---------------------------------------------

class LogWatch:
    """The controller's log, tailed every LOG_POLL_S: the moment each line containing one of
    `words` was first seen here."""

    def __init__(self, path, words):
        self.path, self.words = path, words
        self.lines = []   # (monotonic seen, line)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.offset = path.stat().st_size if path.exists() else 0
        self.thread = threading.Thread(target=self._read, name="logwatch", daemon=True)
        self.thread.start()

    def _read(self):
        partial = ""
        while not self.stopped.wait(LOG_POLL_S):
            try:
                with open(self.path, errors="replace") as f:
                    f.seek(self.offset)
                    text = f.read()
                    self.offset = f.tell()
            except OSError:
                continue
            seen = time.monotonic()
            text, _, partial = (partial + text).rpartition("\n")
            with self.lock:
                self.lines += [(seen, line) for line in text.splitlines() if any(w in line for w in self.words)]

    def first(self, word, after):
        """When the first line containing `word` seen after `after` was seen, and the line."""
        with self.lock:
            return next(((t, line) for t, line in self.lines if t > after and word in line), (None, None))

    def last(self, word, before):
        """When the last line containing `word` seen before `before` was seen, or None."""
        with self.lock:
            return next((t for t, line in reversed(self.lines) if t < before and word in line), None)

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=5)


class FdbWatch:
    """`bridge monitor fdb` in the fabric's namespace: when the fabric learned (or forgot) a MAC
    where, timestamped as each line arrives here."""

    KEY = "fdbmonitor"

    def __init__(self, cluster):
        self.events = []   # (monotonic, "learned"/"deleted", mac, fabric port)
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(["ip", "netns", "exec", cluster.fabric_netns, "bridge", "monitor", "fdb"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1, start_new_session=True)
        # Recorded like the lab's own processes, so that the lab's removal ends it whatever happens.
        cluster.record.add_process(self.KEY, self.proc.pid, "bridge monitor fdb in the fabric")
        threading.Thread(target=self._read, name="fdbmonitor", daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            seen = time.monotonic()
            words = line.split()
            deleted = words[:1] == ["Deleted"]
            words = words[deleted:]
            if len(words) >= 3 and words[1] == "dev":
                with self.lock:
                    self.events.append((seen, "deleted" if deleted else "learned", words[0].lower(), words[2]))

    def learned(self, mac, port, after):
        """When the fabric was first seen to learn `mac` at `port` after `after`."""
        with self.lock:
            return next((t for t, what, m, p in self.events if t > after and what == "learned"
                         and m == mac and p == port), None)


class PortWatch:
    """`ovs-ofctl monitor` on a balancer's management socket, beside the controller: when the
    switch sent each OFPT_PORT_STATUS saying its uplink's link is down, timestamped as the
    message arrives here. (Only in uplink cycles: a killed switch takes the monitor's connection
    with it; start() again after that.)"""

    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name
        self.key = f"portmonitor-{name}"
        self.proc = None
        self.link_down = []   # monotonic
        self.lock = threading.Lock()

    def start(self):
        if self.proc and self.proc.poll() is None:
            return
        balancer = self.cluster.balancer(self.name)
        mgmt = f"{balancer.rundir}/{balancer.bridge}.mgmt"
        # A miss length: without one, Open vSwitch sends a service connection no asynchronous
        # message at all (port status included).
        self.proc = subprocess.Popen(["ovs-ofctl", "-O", "OpenFlow13", "monitor", mgmt, "64"],
                                     env=self.cluster.switches[self.name].env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     start_new_session=True)
        self.cluster.record.add_process(self.key, self.proc.pid, f"ovs-ofctl monitor of {balancer.bridge}")
        threading.Thread(target=self._read, args=(self.proc,), name=self.key, daemon=True).start()

    def _read(self, proc):
        status = None   # when the PORT_STATUS being read arrived
        for line in proc.stdout:
            if "OFPT_PORT_STATUS" in line:
                status = time.monotonic()
            elif status is not None and "state:" in line:
                if "LINK_DOWN" in line:
                    with self.lock:
                        self.link_down.append(status)
                status = None

    def first_down(self, after):
        with self.lock:
            return next((t for t in self.link_down if t > after), None)


# -- the client -------------------------------------------------------------------------------

class ClientLoop:
    """The client's request loop and held connections (CLIENT_LOOP), started in its namespace."""

    def __init__(self, cluster, vips, pace, held):
        argv = ["ip", "netns", "exec", cluster.host(CLIENT).netns, sys.executable, "-c", CLIENT_LOOP,
                json.dumps([[v["address"], SERVICE_PORT] for v in vips]), str(pace), str(REQUEST_TIMEOUT_S),
                str(held), str(HELD_OPEN_TIMEOUT_S), str(HELD_CHECK_TIMEOUT_S), str(CLIENT_LIMIT_S)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.recovered = {}
        self.not_opened = []   # [vip, client port, outcome] of held connections that failed to open
        self.said = queue.Queue()   # the client's JSON lines; None once its output ends
        threading.Thread(target=self._read, name="client", daemon=True).start()
        ready = self._next(CLIENT_START_TIMEOUT_S)
        if "ready" not in ready:
            raise MeasurementFailed("the client loop did not start: " + self._stderr())
        self.not_opened = ready["not_opened"]

    def _read(self):
        for line in self.proc.stdout:
            self.said.put(json.loads(line))
        self.said.put(None)

    def _stderr(self):
        self.kill()
        return self.proc.stderr.read()[-500:]

    def _next(self, timeout):
        """The next JSON line of the client, or {} after timeout."""
        try:
            doc = self.said.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return {}
        if doc is None:
            raise MeasurementFailed("the client loop ended early: " + self._stderr())
        return doc

    def _send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def mark(self, at):
        self._send(f"mark {at!r}")

    def wait_recovered(self, vips, until):
        """Until every VIP (by index) answered a connection started after the mark, or `until`."""
        while len(self.recovered) < vips and time.monotonic() < until:
            doc = self._next(until - time.monotonic())
            if "recovered" in doc:
                self.recovered[doc["recovered"]] = doc["at"]
        return dict(self.recovered)

    def check(self):
        """Ask on every held connection; returns when all have answered or failed."""
        self._send("check")
        give_up = time.monotonic() + HELD_CHECK_TIMEOUT_S + 5
        while time.monotonic() < give_up:
            doc = self._next(give_up - time.monotonic())
            if "checked" in doc:
                return
            if "recovered" in doc:
                self.recovered[doc["recovered"]] = doc["at"]
        raise MeasurementFailed("the client did not finish checking its held connections")

    def stop(self):
        """-> the client's record (see CLIENT_LOOP)."""
        self._send("stop")
        give_up = time.monotonic() + 15
        while time.monotonic() < give_up:
            doc = self._next(give_up - time.monotonic())
            if "requests" in doc:
                self.proc.wait(timeout=10)
                return doc
        raise MeasurementFailed("the client loop did not end: " + self._stderr())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


# -- the cluster ------------------------------------------------------------------------------

def cluster_doc(controller):
    status, doc = controller.call("GET", "/v1/cluster")
    if status != 200:
        raise MeasurementFailed(f"GET /v1/cluster answered {status}: {doc}")
    return doc


def active_name(controller):
    group = next(g for g in cluster_doc(controller)["groups"] if g["group"] == GROUP)
    return group["active"]["name"] if group["active"] else None


def steady(controller):
    """Both balancers healthy, the group active on one of them, and every member of every VIP
    located on both (each switch's own ARP probes: a restarted switch starts with nothing)."""
    doc = cluster_doc(controller)
    if not all(b["healthy"] for b in doc["balancers"]):
        return False
    group = next(g for g in doc["groups"] if g["group"] == GROUP)
    if not group["active"]:
        return False
    for _, vip in VIPS:
        members = controller.call("GET", "/v1/vips/" + vip["name"])[1]["members"]
        if not all({place["dpid"] for place in m["locations"]} >= {A, B} for m in members):
            return False
    return True


CONNTRACK_LINE = re.compile(r"orig=\(src=(?P<src>[\d.]+),dst=(?P<dst>[\d.]+),sport=(?P<sport>\d+),"
                            r"dport=(?P<dport>\d+)\),reply=\(src=(?P<rsrc>[\d.]+),dst=(?P<rdst>[\d.]+),"
                            r"sport=(?P<rsport>\d+),dport=(?P<rdport>\d+)\)")


def conntrack_of(cluster, name, client_ip):
    """What switch `name`'s conntrack holds of the client's connections, by client port: for
    one-arm, the SNAT pool port (the entry whose reply comes from a member to the pool address);
    for routed, the member the connection is NATed to."""
    out = cluster.appctl(name, "dpctl/dump-conntrack")
    routed = next(vip["address"] for mode, vip in VIPS if mode == "routed")
    found = {"one-arm": {}, "routed": {}}
    for m in CONNTRACK_LINE.finditer(out):
        if m["src"] == client_ip and m["rdst"] == POOL_ADDRESS:
            found["one-arm"][int(m["sport"])] = int(m["rdport"])
        elif m["src"] == client_ip and m["dst"] == routed:
            found["routed"][int(m["sport"])] = m["rsrc"]
    return found


def pool_sockets(cluster):
    """{member: the SNAT pool ports of its established connections from the pool address}: what
    the one-arm members hold open (the client holds none between cycles)."""
    members = [m["address"] for mode, vip in VIPS if mode == "one-arm" for m in vip["members"]]
    names = [name for name, ip, _ in topology.MEMBERS if ip in members]
    out = {}
    for name in names:
        lines = cluster.run(name, ["ss", "-tnH", "state", "established", f"( sport = :{SERVICE_PORT} )"]).stdout
        out[name] = sorted(int(peer.rsplit(":", 1)[1]) for line in lines.splitlines() for peer in line.split()[-1:]
                           if peer.startswith(POOL_ADDRESS + ":"))
    return out


def why_not_opened(cluster, active, client_ip, mode, port, outcome, sockets_before):
    """A held connection that could not be opened before the failure: what the active switch's
    conntrack holds of its client port; for one-arm, the member and pool port it was NATed to, and
    whether that member held a connection from that pool port before the cycle began (an
    orphan: see pool_sockets)."""
    mark = f"src={client_ip},"
    lines = [line for line in cluster.appctl(active, "dpctl/dump-conntrack").splitlines()
             if mark in line and (f"sport={port}," in line or f"dport={port})" in line)]
    found = {"mode": mode, "client_port": port, "outcome": outcome, "conntrack": lines}
    if mode == "one-arm":
        for m in CONNTRACK_LINE.finditer("\n".join(lines)):
            if m["rdst"] == POOL_ADDRESS:
                member = next(name for name, ip, _ in topology.MEMBERS if ip == m["rsrc"])
                pool_port = int(m["rdport"])
                found.update(member=member, pool_port=pool_port,
                             orphan_collision=pool_port in sockets_before.get(member, ()))
    return found


def slot_tables(cluster, name):
    """{group id: its buckets} of the VIPs' select groups (one bucket per slot) on switch `name`."""
    out = cluster.ofctl(name, "dump-groups")
    return {line.split(",", 1)[0].strip(): line.strip() for line in out.splitlines() if "group_id=" in line}


def slots_differing(cluster, groups):
    """{mode: buckets that differ between a and b} for the VIPs' groups ({mode: group id})."""
    tables = {name: slot_tables(cluster, name) for name in ("a", "b")}
    out = {}
    for mode, group in groups.items():
        key = f"group_id={group}"
        buckets = [tables[name].get(key, "").split(",bucket=")[1:] for name in ("a", "b")]
        if len(buckets[0]) != len(buckets[1]):
            out[mode] = max(len(buckets[0]), len(buckets[1]))
        else:
            out[mode] = sum(x != y for x, y in zip(*buckets))
    return out


def fabric_after_return(cluster, controller, group_mac):
    """Where the fabric holds the group's MAC once the failed switch is back: None if at the
    active switch (or nowhere: it floods). Otherwise it is a black hole for every VIP of the group:
    wait FABRIC_HEAL_S for the controller's own gratuitous ARPs, then send one from the active
    switch as the controller would (Cluster.send_garp) -> {"healed_by": "controller" or "bench",
    "seconds": how long the MAC was seen at the standby}."""
    active = active_name(controller)
    standby = "b" if active == "a" else "a"
    wrong = cluster.fabric_port_of(standby)
    if cluster.fabric_fdb().get(group_mac) != wrong:
        return None
    seen, give_up = time.monotonic(), time.monotonic() + FABRIC_HEAL_S
    while time.monotonic() < give_up:
        time.sleep(0.05)
        if cluster.fabric_fdb().get(group_mac) != wrong:
            return {"healed_by": "controller", "seconds": round(time.monotonic() - seen, 2)}
    vip = VIPS[0][1]["address"]
    cluster.send_garp(active, vip, group_mac)
    wait_for(lambda: cluster.fabric_fdb().get(group_mac) == cluster.fabric_port_of(active),
             "the fabric learning the group's MAC at the active switch", timeout=5)
    return {"healed_by": "bench", "seconds": round(time.monotonic() - seen, 2)}


def return_standby(cluster, logwatch, name, deadline):
    """Kill and restart the standby switch `name` (--after-return) -> when the controller's log
    showed it adopted again."""
    cluster.kill_switch(name)
    started = time.monotonic()
    cluster.restart_switch(name)
    give_up = time.monotonic() + deadline.timeout(RETURN_TIMEOUT_S)
    while time.monotonic() < give_up:
        adopted, _ = logwatch.first(" adopted:", started)
        if adopted:
            return adopted
        time.sleep(LOG_POLL_S)
    raise MeasurementFailed(f"the restarted standby {name} was not adopted within {RETURN_TIMEOUT_S:.0f} s")


# -- one cycle --------------------------------------------------------------------------------

def one_cycle(cluster, controller, logwatch, fdbwatch, portwatch, groups, group_mac, kind, args, deadline):
    """One takeover of `kind` (None: a baseline cycle, no failure) -> its record."""
    victim = active_name(controller)
    survivor = "b" if victim == "a" else "a"
    client_ip = cluster.host(CLIENT).ip
    fabric_stale = returned = None
    hung = None   # the pid of a stopped ovs-vswitchd, continued whatever happens
    if kind == "uplink":
        portwatch[victim].start()
    slots_differ = slots_differing(cluster, groups)
    sockets_before = pool_sockets(cluster)
    loop = ClientLoop(cluster, [v for _, v in VIPS], args.pace_ms / 1000, args.held)
    try:
        not_opened = [why_not_opened(cluster, victim, client_ip, MODES[vip], port, outcome, sockets_before)
                      for vip, port, outcome in loop.not_opened]
        conntrack_before = conntrack_of(cluster, victim, client_ip)
        if kind and args.after_return is not None:
            returned = return_standby(cluster, logwatch, survivor, deadline)
            time.sleep(max(0.0, returned + args.after_return - time.monotonic()))
        else:
            time.sleep(STEADY_S)
        if kind == "kill":
            failed_at = cluster.kill_switch(victim)
        elif kind == "uplink":
            failed_at = cluster.cut_uplink(victim)
        elif kind == "hang":
            hung = cluster.vswitchd_pid(victim)
            failed_at = time.monotonic()
            os.kill(hung, signal.SIGSTOP)
        else:
            failed_at = time.monotonic()
        loop.mark(failed_at)
        recovered = loop.wait_recovered(len(VIPS), failed_at + RECOVER_TIMEOUT_S)
        time.sleep(TAIL_S)
        loop.check()
        conntrack_after = conntrack_of(cluster, survivor if kind else victim, client_ip)
        record = loop.stop()
        if hung and args.hang_for:
            time.sleep(max(0.0, failed_at + args.hang_for - time.monotonic()))
    finally:
        loop.kill()
        if hung:
            os.kill(hung, signal.SIGCONT)
    if kind:
        if kind == "kill":
            cluster.restart_switch(victim)
        elif kind == "uplink":
            cluster.restore_uplink(victim)
        try:
            wait_for(lambda: steady(controller), f"{victim} healthy again, every member located on both switches",
                     timeout=deadline.timeout(STANDBY_TIMEOUT_S))
        except AssertionError as e:
            raise MeasurementFailed(f"after a {kind} failure: {e}: {cluster_doc(controller)}") from None
        fabric_stale = fabric_after_return(cluster, controller, group_mac)
        time.sleep(args.settle)
    takeover_seen, takeover_line = logwatch.first("(takeover:", failed_at)
    announced = max((t for t in (logwatch.last(" adopted:", failed_at), logwatch.last("(takeover:", failed_at))
                      if t is not None), default=None)
    failure_seen, _ = logwatch.first("disconnected" if kind in ("kill", "hang") else "uplink port", failed_at)
    port_status = portwatch[victim].first_down(failed_at) if kind == "uplink" else None
    moved = fdbwatch.learned(group_mac, cluster.fabric_port_of(survivor), failed_at) if kind else None
    return {"kind": kind or "baseline", "active": victim, "victim": victim if kind else None,
            "survivor": survivor if kind else None, "failed_at": failed_at,
            "client_saw_recovered": sorted(MODES[int(vip)] for vip in recovered),
            "takeover_log_ms": ms(takeover_seen - failed_at) if kind and takeover_seen else None,
            "failure_log_ms": ms(failure_seen - failed_at) if kind and failure_seen else None,
            "port_status_ms": ms(port_status - failed_at) if port_status else None,
            "since_announcement_ms": ms(failed_at - announced) if announced else None,
            "standby_returned_ms": ms(failed_at - returned) if returned else None,
            "slots_differing": slots_differ,
            "not_opened": not_opened,
            "fabric_stale_after_return": fabric_stale,
            "takeover_line": takeover_line if kind else None,
            "fabric_moved_ms": ms(moved - failed_at) if moved else None,
            "conntrack_before": conntrack_before, "conntrack_after": conntrack_after,
            "requests": record["requests"], "held": record["held"], "client_limit_hit": record["limit"]}


def earlier_uses(cycles):
    """For each failure to reach a VIP (a short connection that failed, a held connection that
    could not be opened), the last earlier connection from the same client port to the same VIP
    in an earlier cycle, if any: a switch's conntrack may still hold that one (a connection that
    ended through the other switch never ended in its conntrack). Sets cycle["figures"][mode]
    ["reused_ports"]: [[port, what failed, {"cycle", "as", "outcome", "active"}], ...]."""
    used = {}   # (vip, port) -> {"cycle", "as", "outcome", "active"} of the last connection on it
    for cycle in cycles:
        failed = {index: [] for index in range(len(MODES))}
        for vip, _, _, outcome, port in cycle["requests"]:
            if outcome.startswith("error"):
                failed[vip].append((port, "short: " + outcome[6:]))
        for vip, port, _, outcome in cycle["held"]:
            if outcome.endswith(" at open"):
                failed[vip].append((port, "held: " + outcome[6:]))
        for index, mode in enumerate(MODES):
            cycle["figures"][mode]["reused_ports"] = [[port, what, used[(index, port)]] for port, what in failed[index]
                                                      if (index, port) in used]
        for vip, _, _, outcome, port in cycle["requests"]:
            used[(vip, port)] = {"cycle": cycle["cycle"], "as": "short", "outcome": outcome, "active": cycle["active"]}
        for vip, port, _, outcome in cycle["held"]:
            used[(vip, port)] = {"cycle": cycle["cycle"], "as": "held", "outcome": outcome, "active": cycle["active"]}


def cycle_figures(cycle):
    """Per mode: the gap around the failure, failed requests, the held connections' outcomes."""
    out = {}
    failed_at = cycle["failed_at"]
    for index, mode in enumerate(MODES):
        answered = [(started, ended) for vip, started, ended, outcome, _ in cycle["requests"]
                    if vip == index and ended is not None and not outcome.startswith("error")]
        answers = sorted(ended for _, ended in answered)
        # the first answer to a connection started after the failure: service is back
        back = min((ended for started, ended in answered if started > failed_at), default=None)
        if back is None:
            gap = None
        else:
            pairs = [(a, b) for a, b in zip(answers, answers[1:]) if failed_at < b and a <= back + TAIL_S]
            gap = max((b - a for a, b in pairs), default=None)
        failures, failed_list = {}, []
        for vip, started, ended, outcome, port in cycle["requests"]:
            if vip == index and outcome.startswith("error"):
                failures[outcome[6:]] = failures.get(outcome[6:], 0) + 1
                failed_list.append([ms(started - failed_at), ms(ended - started), outcome[6:], port])
        everyone = [(port, member, outcome) for vip, port, member, outcome in cycle["held"] if vip == index]
        held = [h for h in everyone if not h[2].endswith(" at open")]
        not_opened = {}
        for _, _, outcome in everyone:
            if outcome.endswith(" at open"):
                not_opened[outcome[6:-8]] = not_opened.get(outcome[6:-8], 0) + 1
        collisions = sum(1 for n in cycle["not_opened"] if n["mode"] == mode and n.get("orphan_collision"))
        outcomes = {}
        for _, member, outcome in held:
            key = "same member" if outcome == member else ("other member" if not outcome.startswith("error")
                                                           else outcome[6:])
            outcomes[key] = outcomes.get(key, 0) + 1
        figures = {"gap_ms": ms(gap), "recovered_ms": ms(back - failed_at) if back else None,
                   "requests": sum(1 for r in cycle["requests"] if r[0] == index),
                   "failed": sum(failures.values()), "failures": failures, "failed_list": failed_list,
                   "held": len(held), "survived": outcomes.get("same member", 0), "held_outcomes": outcomes,
                   "held_not_opened": not_opened, "not_opened_orphan_collisions": collisions}
        if mode == "one-arm":
            kept = changed = kept_survived = changed_survived = unknown = 0
            for port, member, outcome in held:
                before = cycle["conntrack_before"]["one-arm"].get(port)
                after = cycle["conntrack_after"]["one-arm"].get(port)
                if before is None or after is None:
                    unknown += 1
                elif before == after:
                    kept += 1
                    kept_survived += outcome == member
                else:
                    changed += 1
                    changed_survived += outcome == member
            figures["pool_port"] = {"kept": kept, "kept_survived": kept_survived, "changed": changed,
                                    "changed_survived": changed_survived, "not_in_conntrack": unknown}
        if mode == "routed":
            # where the new switch's conntrack put the held connections that broke
            lost = {}
            for port, member, outcome in held:
                if outcome != member:
                    where = cycle["conntrack_after"]["routed"].get(port)
                    key = ("not in conntrack" if where is None else
                           "NATed to its member" if where == MEMBER_ADDRESS.get(member) else f"NATed to {where}")
                    lost[key] = lost.get(key, 0) + 1
            figures["broken_where"] = lost
        out[mode] = figures
    return out


# -- the run ----------------------------------------------------------------------------------

def setup(cluster, workdir, echo):
    topology.build_fabric(cluster, http_ports=(80,))
    for name, ip in ROUTED_MEMBERS:
        cluster.add_host(name, ip, topology.PREFIXLEN, gateway=ROUTED_GATEWAY)
    dsr_vip = next(v for mode, v in VIPS if mode == "dsr")
    for member in DSR_MEMBERS:
        dsr.configure_member(cluster, member, dsr_vip["address"])
    for member in SERVING:
        cluster.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
    cluster.run(CLIENT, ["sysctl", "-q", "-w", f"net.ipv4.ip_local_port_range={CLIENT_PORT_RANGE}"])
    empty = workdir / "vips.yaml"
    empty.write_text("vips: []\n")
    base = None
    if echo:
        base = workdir / "echo.conf"
        base.write_text("[DEFAULT]\necho_request_interval = %s\nmaximum_unreplied_echo_requests = %d\n" % echo)
    controller = Controller(cluster, free_tcp_port(), empty, base_config=base, options=OPTIONS).start(switches=2)
    for _, vip in VIPS:
        status, doc = controller.call("POST", "/v1/vips", dict(vip, port=SERVICE_PORT))
        if status != 201:
            raise MeasurementFailed(f"POST /v1/vips {vip['name']} answered {status}: {doc}")
    try:
        wait_for(lambda: active_name(controller) == "a" and steady(controller),
                 "group 1 active on a, b standing by, every member located on both", timeout=30)
    except AssertionError as e:
        raise MeasurementFailed(str(e)) from None
    group_mac = controller.call("GET", "/v1/networks/default")[1]["macs"][str(GROUP)].lower()
    groups = {mode: controller.call("GET", "/v1/vips/" + vip["name"])[1]["group_id"] for mode, vip in VIPS}
    return controller, group_mac, groups


def measure(args, workdir):
    takeovers = QUICK_TAKEOVERS if args.quick else args.takeovers
    cycles = [None] * takeovers + [kind for kind in args.kinds for _ in range(takeovers)]
    deadline = Deadline(SETUP_BUDGET_S + len(cycles) * CYCLE_BUDGET_S)
    with started_cluster(workdir, "tk") as cluster:
        controller, group_mac, groups = setup(cluster, workdir, args.echo)
        logwatch = LogWatch(workdir / "controller.log", ("(takeover:", "disconnected", "uplink port", " adopted:"))
        fdbwatch = FdbWatch(cluster)
        portwatch = {name: PortWatch(cluster, name) for name in cluster.balancers}
        results = []
        try:
            for kind in cycles:
                deadline.check()
                results.append(one_cycle(cluster, controller, logwatch, fdbwatch, portwatch, groups, group_mac, kind,
                                         args, deadline))
        finally:
            logwatch.stop()
        doc = cluster_doc(controller)
        orphans = {member: len(ports) for member, ports in pool_sockets(cluster).items()}
        return {"cycles": results, "pool_sockets_at_end": orphans, "takeovers_counter": doc["takeovers"],
                "group_mac": group_mac, "refusals": len(controller.refusals()), "takeovers_per_kind": takeovers}


def summary(args, info, measured):
    cycles = measured["cycles"]
    for number, cycle in enumerate(cycles, 1):
        cycle["cycle"] = number
        cycle["figures"] = cycle_figures(cycle)
    earlier_uses(cycles)
    series = {}
    for kind in ("baseline",) + tuple(args.kinds):
        rows = [c for c in cycles if c["kind"] == kind]
        per_mode = {}
        for mode in MODES:
            figures = [c["figures"][mode] for c in rows]
            gaps = [f["gap_ms"] for f in figures]
            held = sum(f["held"] for f in figures)
            survived = sum(f["survived"] for f in figures)
            outcomes = {}
            for f in figures:
                for key, n in f["held_outcomes"].items():
                    outcomes[key] = outcomes.get(key, 0) + n
            failures = {}
            for f in figures:
                for key, n in f["failures"].items():
                    failures[key] = failures.get(key, 0) + n
            # each failed short connection: when it started (ms from the failure), how long it
            # took, the error, and the cycle
            failed_list = sorted(item + [c["cycle"]] for c in rows for item in c["figures"][mode]["failed_list"])
            reused = [item + [c["cycle"]] for c in rows for item in c["figures"][mode]["reused_ports"]]
            not_opened = {}
            for c in rows:
                for key, n in c["figures"][mode]["held_not_opened"].items():
                    not_opened[f"{key} (cycle {c['cycle']})"] = n
            gap = distribution(gaps, PERCENTILES)
            entry = {"gap_ms": gap, "not_recovered": sum(g is None for g in gaps),
                     "requests": sum(f["requests"] for f in figures),
                     "failed": sum(f["failed"] for f in figures), "failures": failures, "failed_list": failed_list,
                     "held": held, "survived": survived,
                     "survived_share": round(survived / held, 3) if held else None,
                     "held_outcomes": outcomes, "held_not_opened": not_opened,
                     "not_opened_orphan_collisions": sum(f["not_opened_orphan_collisions"] for f in figures),
                     "failures_on_reused_ports": reused}
            if kind != "baseline":
                entry["target_met"] = not entry["not_recovered"] and gap["p99"] is not None \
                    and gap["p99"] <= TARGET_P99_S * 1000
            if mode == "routed":
                entry["broken_where"] = {}
                for f in figures:
                    for key, n in f["broken_where"].items():
                        entry["broken_where"][key] = entry["broken_where"].get(key, 0) + n
            if mode == "one-arm":
                entry["pool_port"] = {key: sum(f["pool_port"][key] for f in figures)
                                      for key in figures[0]["pool_port"]} if figures else {}
            per_mode[mode] = entry
        series[kind] = {"cycles": len(rows), "modes": per_mode}
        if kind != "baseline":
            series[kind]["takeover_log_ms"] = distribution((c["takeover_log_ms"] for c in rows), PERCENTILES)
            series[kind]["failure_log_ms"] = distribution((c["failure_log_ms"] for c in rows), PERCENTILES)
            series[kind]["port_status_ms"] = distribution((c["port_status_ms"] for c in rows), PERCENTILES)
            series[kind]["fabric_moved_ms"] = distribution((c["fabric_moved_ms"] for c in rows), PERCENTILES)
            series[kind]["no_takeover_line"] = sum(c["takeover_log_ms"] is None for c in rows)
            series[kind]["fabric_not_moved"] = sum(c["fabric_moved_ms"] is None for c in rows)
            series[kind]["victims"] = "".join(c["victim"] for c in rows)
            early = [c for c in rows if c["since_announcement_ms"] is not None
                     and c["since_announcement_ms"] < ANNOUNCING_S * 1000]
            series[kind]["within_announcing"] = {
                "count": len(early),
                "fabric_moved_ms": distribution((c["fabric_moved_ms"] for c in early), PERCENTILES),
                "others_fabric_moved_ms": distribution((c["fabric_moved_ms"] for c in rows if c not in early),
                                                       PERCENTILES)}
            series[kind]["since_announcement_ms"] = distribution((c["since_announcement_ms"] for c in rows),
                                                                 PERCENTILES)
            series[kind]["standby_returned_ms"] = distribution((c["standby_returned_ms"] for c in rows), PERCENTILES)
            stale = [c["fabric_stale_after_return"] for c in rows if c["fabric_stale_after_return"]]
            series[kind]["fabric_stale_after_return"] = {
                "count": len(stale), "healed_by_bench": sum(x["healed_by"] == "bench" for x in stale),
                "seconds": sorted(x["seconds"] for x in stale)}
        for mode in MODES:
            per_mode[mode]["cycles_slots_differing"] = sum(bool(c["slots_differing"].get(mode)) for c in rows)
    for cycle in cycles:   # the raw record stays out of the summary: only the figures per cycle
        for key in ("requests", "held", "conntrack_before", "conntrack_after", "failed_at"):
            cycle.pop(key)
    return {
        "benchmark": "takeover",
        "machine": info,
        "parameters": {"takeovers_per_kind": measured["takeovers_per_kind"], "kinds": list(args.kinds),
                       "held_per_vip": args.held, "pace_ms": args.pace_ms, "steady_s": STEADY_S,
                       "tail_s": TAIL_S, "request_timeout_s": REQUEST_TIMEOUT_S, "settle_s": args.settle,
                       "after_return_s": args.after_return, "hang_for_s": args.hang_for,
                       "vips": {mode: f"{vip['address']}:{SERVICE_PORT}" for mode, vip in VIPS},
                       "controller_options": OPTIONS, "group_mac": measured["group_mac"],
                       "echo": ({"echo_request_interval": args.echo[0], "maximum_unreplied_echo_requests": args.echo[1]}
                                if args.echo else None)},
        "target_p99_ms": TARGET_P99_S * 1000,
        "series": series,
        "takeovers_counter": measured["takeovers_counter"],
        "takeovers_done": sum(c["kind"] != "baseline" for c in cycles),
        "refused_messages": measured["refusals"],
        "pool_sockets_at_end": measured["pool_sockets_at_end"],
        "cycles": cycles,
    }


def dist_text(d):
    if not d["count"]:
        return "no samples"
    return f"p50 {d['p50']:7.1f}  p99 {d['p99']:7.1f}  max {d['max']:7.1f} ms (n={d['count']})"


def print_text(s):
    p, m = s["parameters"], s["machine"]
    print(f"lbctl takeover: a cluster of 2 balancers (each its own ovs-vswitchd), one group holding "
          f"the VIPs of 3 modes; {p['takeovers_per_kind']} takeovers per kind of failure "
          f"({', '.join(p['kinds'])}), failures alternating between a and b")
    print(machine_text(m))
    print(f"client: a new connection to each VIP every {p['pace_ms']:g} ms (ask, answer, close), "
          f"{p['held_per_vip']} held connections per VIP; VIPs "
          + ", ".join(f"{mode} {vip}" for mode, vip in p["vips"].items()))
    echo = p["echo"]
    print("controller: garp_count, garp_interval, takeover_grace at their defaults (3, 1 s, 60 s); OpenFlow echo: "
          + (f"every {echo['echo_request_interval']:g} s, given up after {echo['maximum_unreplied_echo_requests']} "
             "unanswered" if echo else "Ryu's default (no echo requests: a hung switch is never given up)"))
    print("routed: its members r1, r2 sit on 198.18.3.0/24 behind the balancer's gateway 198.18.3.1 "
          "(the client and m1-m3 share 198.18.0.0/24: a member would answer the client straight)")
    print(f"gap: longest time between two answers around the failure (nearest-rank p99: with "
          f"{p['takeovers_per_kind']} takeovers, the max); target p99 <= {s['target_p99_ms']:.0f} ms")
    active_of = {c["cycle"]: c["active"] for c in s["cycles"]}
    for kind, series in s["series"].items():
        title = ("baseline (no failure: the client loop itself)" if kind == "baseline"
                 else {"kill": "kill: SIGKILL of the active switch's ovs-vswitchd",
                       "uplink": "uplink: the active switch's uplink cut at the fabric",
                       "hang": "hang: SIGSTOP of the active switch's ovs-vswitchd (SIGCONT after)"}[kind])
        print(f"{title}, {series['cycles']} cycles" + (f" (failed: {series['victims']})" if kind != "baseline" else ""))
        for mode, e in series["modes"].items():
            target = ("" if kind == "baseline" else
                      "  target " + ("met" if e["target_met"] else "MISSED"))
            not_back = f"  NOT RECOVERED in {e['not_recovered']}" if e["not_recovered"] else ""
            print(f"  {mode:8} gap {dist_text(e['gap_ms'])}{target}{not_back}")
            failures = ", ".join(f"{k} {n}" for k, n in sorted(e["failures"].items()))
            if e["failed_list"]:
                shown = e["failed_list"][:FAILURES_SHOWN]
                failures += ": " + ", ".join(f"{error} started {start:+.0f} ms" for start, _, error, _, _ in shown) \
                    + (", ..." if len(e["failed_list"]) > len(shown) else "")
            outcomes = ", ".join(f"{k} {n}" for k, n in sorted(e["held_outcomes"].items()))
            print(f"           failed {e['failed']} of {e['requests']} short connections"
                  + (f" ({failures})" if failures else "")
                  + f"; held survived {e['survived']} of {e['held']}"
                  + (f" = {100 * e['survived_share']:.0f} %" if e["held"] else "")
                  + (f" ({outcomes})" if e["survived"] != e["held"] else ""))
            if e["held_not_opened"]:
                print("           held connections that could not be opened before the failure (left out above): "
                      + ", ".join(f"{k}: {n}" for k, n in e["held_not_opened"].items())
                      + (f"; {e['not_opened_orphan_collisions']} of them NATed to a pool port from which their member "
                         "still held an orphaned connection" if mode == "one-arm" else ""))
            if e["failures_on_reused_ports"]:
                earlier = {}
                for _, _, before, cycle in e["failures_on_reused_ports"]:
                    outcome = before["outcome"][6:] if before["outcome"].startswith("error") else "answered"
                    key = (f"{before['as']} {outcome} in cycle {before['cycle']} through "
                           + ("the same switch" if before["active"] == active_of[cycle] else "the other switch"))
                    earlier[key] = earlier.get(key, 0) + 1
                print(f"           {len(e['failures_on_reused_ports'])} of these failures on a client port that an "
                      f"earlier connection to the VIP had used: "
                      + ", ".join(f"{k}: {n}" for k, n in sorted(earlier.items())))
            if e["cycles_slots_differing"]:
                print(f"           the two switches' slot tables differed at the failure in "
                      f"{e['cycles_slots_differing']} of {series['cycles']} cycles")
            if e.get("broken_where"):
                print("           the broken ones on the new switch: "
                      + ", ".join(f"{k} {n}" for k, n in sorted(e["broken_where"].items())))
            pool = e.get("pool_port")
            if pool and kind != "baseline":
                print(f"           SNAT pool port of a held connection on the new switch: the old one "
                      f"{pool['kept']} (survived {pool['kept_survived']}), another {pool['changed']} "
                      f"(survived {pool['changed_survived']}), not found in conntrack {pool['not_in_conntrack']}")
        if kind != "baseline":
            if kind == "uplink":
                print(f"  detection: cut -> the switch's PORT_STATUS (LINK_DOWN) seen by ovs-ofctl monitor  "
                      f"{dist_text(series['port_status_ms'])}")
            seen = "its \"uplink port 50 is down\"" if kind == "uplink" else "its \"switch ... disconnected\""
            print(f"  detection: failure -> the controller logs {seen}  {dist_text(series['failure_log_ms'])}")
            print(f"  detection: failure -> controller's \"takeover\" log line  {dist_text(series['takeover_log_ms'])}"
                  + (f"; not seen {series['no_takeover_line']}" if series["no_takeover_line"] else ""))
            print(f"             failure -> fabric learns {p['group_mac']} at the new switch  "
                  f"{dist_text(series['fabric_moved_ms'])}"
                  + (f"; not seen {series['fabric_not_moved']}" if series["fabric_not_moved"] else ""))
            early = series["within_announcing"]
            if early["count"]:
                print(f"             {early['count']} of these failures came less than {ANNOUNCING_S:g} s after a "
                      f"takeover or a switch's adoption, whose gratuitous ARPs for the group's addresses were still "
                      f"going on: fabric learns  {dist_text(early['fabric_moved_ms'])}; the others  "
                      f"{dist_text(early['others_fabric_moved_ms'])}")
            if series["standby_returned_ms"]["count"]:
                print(f"             (--after-return: the standby was restarted before each failure, which came "
                      f"{dist_text(series['standby_returned_ms'])} after its adoption)")
    for kind, series in s["series"].items():
        stale = series.get("fabric_stale_after_return")
        if stale and stale["count"]:
            print(f"{kind}: after {stale['count']} of {series['cycles']} returns of the failed switch the fabric "
                  f"held the group's MAC at it, now a standby (a black hole for every VIP): "
                  f"{stale['count'] - stale['healed_by_bench']} ended by a gratuitous ARP of the controller, "
                  f"{stale['healed_by_bench']} still there after {FABRIC_HEAL_S:g} s and ended by the bench's own "
                  f"(seconds seen: {', '.join(f'{x:g}' for x in stale['seconds'])})")
    print("one-arm members' connections from the SNAT pool still established at the end, though the client has "
          "closed all of its own (orphans: held connections a takeover broke, whose reset came from another pool "
          "port): " + ", ".join(f"{m} {n}" for m, n in s["pool_sockets_at_end"].items()))
    print(f"controller: takeovers {s['takeovers_counter']} (GET /v1/cluster) for {s['takeovers_done']} "
          f"failures; messages the switches refused: {s['refused_messages']}")


def kinds(text):
    chosen = tuple(k.strip() for k in text.split(",") if k.strip())
    wrong = [k for k in chosen if k not in KINDS]
    if wrong or not chosen:
        raise argparse.ArgumentTypeError(f"{text}: not a list of {', '.join(KINDS)}")
    return chosen


def echo(text):
    interval, _, count = text.partition(",")
    try:
        value = (float(interval), int(count))
    except ValueError:
        value = None
    if not value or value[0] <= 0 or value[1] < 1:
        raise argparse.ArgumentTypeError(f"{text}: not INTERVAL,COUNT (e.g. 0.2,3)")
    return value


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--takeovers", type=bounded(int, 1, 200), default=20,
                        help="takeovers per kind of failure (default 20), and as many baseline cycles")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TAKEOVERS} takeovers per kind")
    parser.add_argument("--held", type=bounded(int, 0, 200), default=20,
                        help="long-lived connections per VIP across each takeover (default 20)")
    parser.add_argument("--pace-ms", type=bounded(float, 2, 1000), default=10.0,
                        help="a new connection to each VIP this often (default 10)")
    parser.add_argument("--kinds", type=kinds, default=DEFAULT_KINDS,
                        help="kinds of failure, of kill,uplink,hang (default kill,uplink)")
    parser.add_argument("--settle", type=bounded(float, 0, 10), default=SETTLE_S,
                        help=f"seconds between the failed switch's return (healthy, members located) and "
                             f"the next cycle (default {SETTLE_S:g})")
    parser.add_argument("--after-return", type=bounded(float, 0.5, 10), default=None, metavar="S",
                        help="restart the standby before each failure, and fail the active switch S seconds "
                             "after the standby's adoption (default: no restart)")
    parser.add_argument("--hang-for", type=bounded(float, 0, 30), default=None, metavar="S",
                        help="hang: continue the stopped switch S seconds after it stopped, at the earliest "
                             "(default: as soon as the takeover is measured)")
    parser.add_argument("--echo", type=echo, default=None,
                        help="ryu-manager's echo_request_interval,maximum_unreplied_echo_requests "
                             "([DEFAULT]; default: Ryu's own, 15 s and 0 = no echo requests)")
    return run("takeover", parser.parse_args(argv), measure, summary, print_text)


if __name__ == "__main__":
    sys.exit(main())
