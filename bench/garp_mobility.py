"""How fast the controller follows a member that moves (GARP to barrier, with many VIPs), and what an
ARP storm does to it. A measurement: it prints figures and asserts no timing.

    sudo .venv/bin/python -m bench.garp_mobility [--vips 100] [--moves 200] [--pace-ms 20]
                                                 [--storm-seconds 5] [--storm-frames 500000] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace, the
standard topology of lab/topology.py) plus a host `m3b` on OpenFlow port 5 with m3's address
198.18.0.13 (and, as lab.hosts derives MACs from addresses, m3's MAC: a move is a port change, as
when a VM migrates). The real controller, `ryu-manager lbctl_app`, runs with duplicate_moves high
enough that flapping is never frozen and garp_count 0; besides config/vips.yaml's `web` it gets
--vips more VIPs by POST /v1/vips (198.18.1.1.. port 80, members m1, m2, m3 port 80). However many
VIPs share the member, a move changes one flow: the member's `locate` flow (table 31).

1. Moves. GARP requests claiming 198.18.0.13 come alternately from m3b and from m3, one at a time:
   each is followed by a wait (at most 2 s) until GET /v1/stats `move_to_barrier_ms.count` grows,
   then --pace-ms of quiet. The frames leave from AF_PACKET sockets this process opened in the
   hosts' namespaces, so the send time is known to the microsecond. Reported:
     inside view   move_to_barrier_ms: the controller's ARP packet-in to the barrier reply for the
                   resulting flow changes (its own samples from this run; p50/p90/p99 nearest rank)
     outside view  the host's send to the moment `ovs-ofctl monitor` (a flow monitor on table 31,
                   read by a thread here) reports the moved address's locate flow with the new
                   output port. It adds what the inside view cannot
                   see: the switch's upcall, the meter, the OpenFlow relay and Ryu's parsing.
   Target: p99 of the inside view <= 20 ms. A move not confirmed within 2 s counts as unconfirmed.

2. ARP storm. The client sends ARP requests from its own address and MAC (it is learned once, so
   the storm itself moves nothing) for 230 addresses of 198.18.0.0/24 that nobody owns, from a raw
   socket loop in its namespace, for --storm-seconds and at most --storm-frames frames, paced to
   spread the frames over the whole time (a bare loop sends ~600k frames/s here, which would use
   500k frames up in under a second). Meanwhile this process calls GET /v1/vips back to back and,
   one second in, moves the member again (the REST calls pause meanwhile): GARPs 100 ms apart (at
   most 20) until the flow monitor shows the locate flow moved. A host sends one GARP or a few;
   while the storm drains the meter's bucket, each has only a small chance to find a token left
   and reach the controller. Reported: frames sent and how many reached the switch's ARP
   table; the meter's view (ovs-ofctl meter-stats: packets in, dropped by its band); packet-ins
   the controller handled per second of storm (packet_in_arp) next to arp_punt_pps and
   arp_punt_burst; REST latency (sequential GET /v1/vips, the call as a client sees it: request,
   JSON of all VIPs, parse) idle before the storm and during it; whether the move was followed,
   after how many GARPs, and its latencies.

Exit status: 0 when measured, whether or not the target was met; 1 when the measurement itself
failed (the lab, the controller or the storm would not run, the VIPs never reached the switch, or
no move was confirmed); 130 on Ctrl-C. The lab is removed in every case; the workdir (logs) is kept
only when the measurement failed, and its path is printed.
"""

import ctypes
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

from bench.lib import (Deadline, MeasurementFailed, bench_parser, bounded, controller_stats,
                       distribution, machine_text, ms, run, started_lab)
from flows import pipeline
from lab import free_tcp_port, topology
from lab.arp import BROADCAST, REQUEST, ZERO_MAC
from lab.lbctl import REPO_VIPS, Controller

VIPS_FILE = REPO_VIPS   # the `web` VIP: DEMO_VIP:80 -> m1, m2, m3
MOVER, MOVER_IP, MOVER_OFPORT = topology.MEMBERS[2]   # m3, 198.18.0.13, port 4
TWIN, TWIN_OFPORT = "m3b", 5                       # the same address on another port
CLIENT = topology.CLIENT[0]
SERVICE_PORT = 80
BENCH_VIP_NET = ipaddress.ip_network("198.18.1.0/24")   # bench VIPs: .1, .2, ... port 80
MAX_VIPS = 250
# Addresses of the client's /24 that no host and no VIP holds: the storm's ARP targets.
TAKEN = {ip for _, ip, _ in (topology.CLIENT, *topology.MEMBERS)} | {topology.DEMO_VIP}
STORM_TARGETS = [f"198.18.0.{i}" for i in range(20, 251) if f"198.18.0.{i}" not in TAKEN]

CONTROLLER_OPTIONS = {"duplicate_moves": 100000,   # never freeze the flapping we cause
                      "garp_count": 0}             # no announcements of the 100 new VIPs
ARP_PUNT_PPS, ARP_PUNT_BURST = 100, 50             # lbctl's defaults (lbctl_app/app.py)
TARGET_P99_MS = 20.0
PERCENTILES = (0.50, 0.90, 0.99)   # of each distribution
MOVE_WAIT_S = 2.0              # a move not confirmed within this is counted, not waited for
STATS_POLL_S = 0.005           # GET /v1/stats while a confirmation is due
SAMPLES_KEPT = 1000            # GET /v1/stats keeps this many recent move samples
MAX_MOVES = 500                # ... so that one run's samples all stay in it
SWITCH_READY_TIMEOUT_S = 60.0
REST_IDLE_CALLS = 50
REST_STORM_MAX_CALLS = 2000
STORM_MOVE_AFTER_S = 1.0       # into the storm, the member moves once more
STORM_GARP_INTERVAL_S = 0.1
STORM_GARP_MAX = 20
STORM_START_TIMEOUT_S = 10.0
STORM_SETTLE_S = 1.0           # after the storm: packet-ins still queued get handled and counted
TIME_BUDGET_S = 240            # lab start to the end of the storm

CLONE_NEWNET = 0x40000000
# `ovs-ofctl monitor` (OpenFlow 1.0 + Nicira flow monitor) prints e.g.
#  event=ADDED table=31 cookie=0xffffffff00000003 reg2=0x3 actions=set_field:..->eth_dst,output:5
# (a locate flow: reg2 and the cookie's low half are the host's id).
MONITOR_LINE = re.compile(r"event=(?:ADDED|MODIFIED) table=\d+ cookie=(0x[0-9a-f]+) "
                          r".*\breg2=0x[0-9a-f]+\b.*\boutput:(\d+)\s*$")
METER_IN = re.compile(r"packet_in_count:(\d+)")
METER_BAND = re.compile(r"^\s*0: packet_count:(\d+)", re.M)
N_PACKETS = re.compile(r"n_packets=(\d+)")

# Runs inside the client namespace: ARP requests from the client to `targets`, round robin, until
# `seconds` have passed or `max_frames` are sent, never ahead of max_frames/seconds. Prints one
# JSON line when it starts and one when it ends (CLOCK_MONOTONIC is shared by all namespaces).
STORM = """
import json, socket, struct, sys, time
sha, spa, targets = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
seconds, max_frames = float(sys.argv[4]), int(sys.argv[5])
mac = lambda text: bytes.fromhex(text.replace(":", ""))
head = mac("ff:ff:ff:ff:ff:ff") + mac(sha) + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, 1)
frames = [head + mac(sha) + socket.inet_aton(spa) + bytes(6) + socket.inet_aton(t) for t in targets]
per_second, sent, errors = max_frames / seconds, 0, 0
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind(("eth0", 0))
    send = s.send
    start = time.monotonic()
    print(json.dumps({"started": start}), flush=True)
    while sent + errors < max_frames:
        for frame in frames[:max_frames - sent - errors]:
            try:
                send(frame)
                sent += 1
            except OSError:
                errors += 1
        now = time.monotonic()
        if now - start >= seconds:
            break
        ahead = (sent + errors) / per_second - (now - start)
        if ahead > 0.001:
            time.sleep(ahead)
    print(json.dumps({"started": start, "ended": time.monotonic(), "sent": sent, "errors": errors}),
          flush=True)
"""


# -- the host side ------------------------------------------------------------------------------

class HostSocket:
    """An AF_PACKET socket on a host's eth0, opened from this process: a frame leaves at send(),
    so the time of a GARP is known exactly (no `ip netns exec` process in between). Only the
    opening thread visits the host's namespace, and only while it opens the socket."""

    def __init__(self, host):
        self.host = host
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            theirs = os.open(f"/run/netns/{host.netns}", os.O_RDONLY)
            try:
                if libc.setns(theirs, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {host.netns} failed")
                try:
                    self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                    self.sock.bind(("eth0", 0))
                finally:
                    if libc.setns(own, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns back to our own namespace failed")
            finally:
                os.close(theirs)
        finally:
            os.close(own)

    def garp(self, ip):
        """A gratuitous ARP request (sender = target = ip) from the host's MAC; the send time."""
        mac = bytes.fromhex(self.host.mac.replace(":", ""))
        frame = (bytes.fromhex(BROADCAST.replace(":", "")) + mac
                 + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, REQUEST)
                 + mac + socket.inet_aton(ip) + bytes.fromhex(ZERO_MAC.replace(":", ""))
                 + socket.inet_aton(ip))
        sent_at = time.monotonic()
        self.sock.send(frame)
        return sent_at

    def close(self):
        self.sock.close()


# -- the switch side ----------------------------------------------------------------------------

class DeliveryMonitor:
    """`ovs-ofctl monitor` on the locate table: when each locate flow (by its cookie, which
    names its host) last got a new output port, timestamped as its line arrives here."""

    KEY = "ofmonitor"

    def __init__(self, lab):
        self.lab = lab
        self.latest = {}   # cookie -> (output port, monotonic time seen)
        self.changed = threading.Condition()
        self.proc = None

    def start(self):
        mgmt = self.lab.workdir / f"{self.lab.bridge}.mgmt"
        self.proc = subprocess.Popen(["ovs-ofctl", "monitor", str(mgmt), f"watch:!initial,table={pipeline.LOCATE.id}"],
                                     env=self.lab.switch.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     bufsize=1, start_new_session=True)
        # Recorded like the lab's own processes, so that lab.stop() ends it whatever happens here.
        self.lab.record.add_process(self.KEY, self.proc.pid, "ovs-ofctl monitor of table 30")
        threading.Thread(target=self._read, name="ofmonitor", daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            seen = time.monotonic()
            found = MONITOR_LINE.search(line)
            if found:
                with self.changed:
                    self.latest[found.group(1)] = (int(found.group(2)), seen)
                    self.changed.notify_all()

    def wait_moved(self, cookies, port, since, timeout):
        """(first, last) monotonic times at which the flows `cookies` were seen with output
        `port` after `since`, once all were; None if not all were within timeout."""
        def moved():
            return all(self.latest.get(c, (None, 0))[0] == port and self.latest[c][1] >= since
                       for c in cookies)
        with self.changed:
            if not self.changed.wait_for(moved, timeout):
                return None
            times = [self.latest[c][1] for c in cookies]
        return min(times), max(times)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            self.lab.record.drop_process(self.KEY)


def meter_counts(lab):
    """The ARP meter: packets that reached it, and packets its drop band dropped."""
    text = lab.ofctl("meter-stats")
    return {"in": int(METER_IN.search(text).group(1)), "dropped": int(METER_BAND.search(text).group(1))}


def arp_table_packets(lab):
    """Packets the switch's ARP table has matched, all flows together."""
    return sum(int(n) for n in N_PACKETS.findall(lab.ofctl("dump-flows", f"table={pipeline.ARP.id}")))


def switch_holds(lab, n_deliveries, n_vips):
    """Every VIP's commit flows (one per member) and select group (256 slot buckets each) are on
    the switch."""
    flows = lab.ofctl("dump-flows", "--no-stats", f"table={pipeline.COMMIT.id}").splitlines()
    member = f"priority={pipeline.COMMIT.MEMBER},"
    deliveries = sum(1 for line in flows if member in line)
    groups = lab.ofctl("dump-groups")
    return deliveries == n_deliveries and groups.count("group_id=") == n_vips \
        and groups.count("bucket=") == 256 * n_vips


# -- the controller side ------------------------------------------------------------------------

def bench_vip(i):
    members = [{"address": ip, "port": SERVICE_PORT, "weight": 1} for _, ip, _ in topology.MEMBERS]
    return {"name": f"bench{i:03d}", "address": str(BENCH_VIP_NET[i]), "port": SERVICE_PORT,
            "protocol": "tcp", "mode": "routed", "members": members}


def create_vips(controller, count, deadline):
    """POST count VIPs one after another -> each POST's milliseconds."""
    took = []
    for i in range(1, count + 1):
        deadline.check()
        started = time.monotonic()
        status, doc = controller.call("POST", "/v1/vips", bench_vip(i))
        took.append(ms(time.monotonic() - started))
        if status != 201:
            raise MeasurementFailed(f"POST /v1/vips {bench_vip(i)['name']} answered {status}: {doc}")
    return took


def mover_cookies(controller):
    """The cookie of the moving address's locate flow; and whether every member of every VIP is
    located."""
    status, vips = controller.call("GET", "/v1/vips")
    if status != 200:
        raise MeasurementFailed(f"GET /v1/vips answered {status}: {vips}")
    status, hosts = controller.call("GET", "/v1/hosts/" + MOVER_IP)
    cookies = [h["cookie"] for h in hosts] if status == 200 else []
    resolved = all(m["locations"] for v in vips for m in v["members"])
    return cookies, resolved, sum(len(v["members"]) for v in vips), len(vips)


def current_port(controller):
    status, hosts = controller.call("GET", "/v1/hosts/" + MOVER_IP)
    return hosts[0]["port"] if status == 200 and hosts else None


def wait_count_above(controller, count, until):
    """Poll GET /v1/stats until move_to_barrier_ms.count exceeds `count` or `until` (monotonic)
    passes, checking at least once; the new count, or None."""
    while True:
        now_count = controller_stats(controller)["move_to_barrier_ms"]["count"]
        if now_count > count:
            return now_count
        if time.monotonic() >= until:
            return None
        time.sleep(STATS_POLL_S)


def rest_latency(controller, calls):
    took = []
    for _ in range(calls):
        started = time.monotonic()
        status, _ = controller.call("GET", "/v1/vips")
        took.append(ms(time.monotonic() - started))
        if status != 200:
            raise MeasurementFailed(f"GET /v1/vips answered {status}")
    return took


# -- the two measurements -----------------------------------------------------------------------

class Mover:
    """Moves 198.18.0.13 between m3 and m3b with GARPs and tells how each move went."""

    def __init__(self, lab, controller, monitor, cookies):
        self.lab, self.controller, self.monitor, self.cookies = lab, controller, monitor, cookies
        self.sockets = {}
        self.port = current_port(controller)

    def open(self):
        for name in (MOVER, TWIN):
            self.sockets[name] = HostSocket(self.lab.host(name))

    def close(self):
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()

    def next_host(self):
        return TWIN if self.port != TWIN_OFPORT else MOVER

    def move(self, garps=1, garp_interval=0.0):
        """One move: GARPs from the other host (more than one only while not followed), then the
        wait for the switch (flow monitor) and for the controller's sample (GET /v1/stats)."""
        name = self.next_host()
        port = self.lab.host(name).ofport
        count = controller_stats(self.controller)["move_to_barrier_ms"]["count"]
        first_sent = sent = self.sockets[name].garp(MOVER_IP)
        sent_garps, seen = 1, None
        while True:   # at most (garps - 1) * garp_interval + MOVE_WAIT_S
            wait = garp_interval if sent_garps < garps else MOVE_WAIT_S
            seen = self.monitor.wait_moved(self.cookies, port, first_sent, wait)
            if seen or sent_garps >= garps:
                break
            sent = self.sockets[name].garp(MOVER_IP)
            sent_garps += 1
        if seen:
            time.sleep(STATS_POLL_S)   # let the barrier reply in before our own REST call
        new_count = wait_count_above(self.controller, count, max(time.monotonic(), sent + MOVE_WAIT_S))
        self.port = port if new_count else current_port(self.controller)
        return {"to": name, "port": port, "garps": sent_garps, "confirmed": new_count is not None,
                "all_flows_at": seen[1] if seen else None,
                "first_flow_ms": ms(seen[0] - first_sent) if seen else None,
                "all_flows_ms": ms(seen[1] - first_sent) if seen else None}


def measure_moves(controller, mover, moves, pace, deadline):
    before = controller_stats(controller)
    results = []
    for _ in range(moves):
        deadline.check()
        results.append(mover.move())
        results[-1].pop("all_flows_at")
        time.sleep(pace)
    after = controller_stats(controller)
    if after["move_to_barrier_ms"]["count"] >= SAMPLES_KEPT:
        raise MeasurementFailed(f"GET /v1/stats keeps {SAMPLES_KEPT} move samples: this run's are no longer "
                                "all there (fewer --moves)")
    new = after["move_to_barrier_ms"]["count"] - before["move_to_barrier_ms"]["count"]
    samples = after["move_to_barrier_ms"]["recent"][-new:] if new > 0 else []
    moved = after["host_moves"] - before["host_moves"]
    changes = after["flow_changes"] - before["flow_changes"]

    def seen(key):
        return distribution((r[key] for r in results), PERCENTILES)   # None: not seen

    return {
        "moves": moves,
        "confirmed": sum(r["confirmed"] for r in results),
        "not_confirmed": sum(not r["confirmed"] for r in results),
        "move_to_barrier_ms": distribution(samples, PERCENTILES),
        "samples": samples,
        "outside_first_flow_ms": seen("first_flow_ms"),
        "outside_all_flows_ms": seen("all_flows_ms"),
        "not_seen_by_monitor": sum(r["all_flows_ms"] is None for r in results),
        "host_moves": moved,
        "flow_changes_per_move": round(changes / moved, 1) if moved else None,
    }


def read_storm_log(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def measure_storm(lab, controller, mover, args, deadline):
    idle = rest_latency(controller, REST_IDLE_CALLS)
    before = {"stats": controller_stats(controller), "meter": meter_counts(lab),
              "arp_table": arp_table_packets(lab)}
    client = lab.host(CLIENT)
    log = lab.workdir / "arpstorm.log"
    log.unlink(missing_ok=True)
    proc = lab.spawn(CLIENT, "arpstorm", [sys.executable, "-c", STORM, client.mac, client.ip,
                                           ",".join(STORM_TARGETS), args.storm_seconds, args.storm_frames])
    give_up = time.monotonic() + STORM_START_TIMEOUT_S
    while not (log.exists() and read_storm_log(log)):
        if proc.poll() is not None or time.monotonic() > give_up:
            said = log.read_text()[-500:] if log.exists() else ""
            raise MeasurementFailed(f"the ARP storm did not start: {said}")
        time.sleep(0.02)
    started = read_storm_log(log)[0]["started"]

    # REST calls back to back while the storm lasts, in a thread of their own; paused while the
    # member moves, so that the move competes with the storm only, not with our own REST load.
    rest = []   # (monotonic start, milliseconds, status)
    done, pause, paused = threading.Event(), threading.Event(), threading.Event()

    def call_rest():
        try:
            while not done.is_set() and len(rest) < REST_STORM_MAX_CALLS:
                if pause.is_set():
                    paused.set()
                    time.sleep(0.005)
                    continue
                t = time.monotonic()
                try:
                    status, _ = controller.call("GET", "/v1/vips")
                except OSError as e:   # a timeout: reported as a failed measurement below
                    status = f"{type(e).__name__}: {e}"
                rest.append((t, ms(time.monotonic() - t), status))
        finally:
            paused.set()   # no call in flight any more

    caller = threading.Thread(target=call_rest, name="rest", daemon=True)
    caller.start()
    try:
        time.sleep(max(0.0, started + STORM_MOVE_AFTER_S - time.monotonic()))
        pause.set()
        paused.wait(timeout=15)   # the call in flight has ended
        move = mover.move(garps=STORM_GARP_MAX, garp_interval=STORM_GARP_INTERVAL_S) \
            if proc.poll() is None else None
        move_samples = controller_stats(controller)["move_to_barrier_ms"]["recent"]
        pause.clear()
        try:
            proc.wait(timeout=args.storm_seconds + 15)
        except subprocess.TimeoutExpired:
            raise MeasurementFailed("the ARP storm did not end in time") from None
    finally:
        done.set()
        caller.join(timeout=15)
    deadline.check()
    time.sleep(STORM_SETTLE_S)
    lines = read_storm_log(log)
    if proc.returncode != 0 or len(lines) < 2:
        raise MeasurementFailed(f"the ARP storm exited with {proc.returncode}: {log.read_text()[-500:]}")
    storm = lines[-1]
    after = {"stats": controller_stats(controller), "meter": meter_counts(lab),
             "arp_table": arp_table_packets(lab)}
    lab.stop_process("arpstorm")
    if move:
        move["controller_port_after_storm"] = current_port(controller)

    seconds = storm["ended"] - storm["started"]
    during = [took for t, took, status in rest if storm["started"] <= t <= storm["ended"]]
    failed = [status for _, _, status in rest if status != 200]
    if failed:
        raise MeasurementFailed(f"GET /v1/vips failed {len(failed)} times during the storm: {failed[0]}")
    packet_in_arp = after["stats"]["packet_in_arp"] - before["stats"]["packet_in_arp"]
    meter_in = after["meter"]["in"] - before["meter"]["in"]
    dropped = after["meter"]["dropped"] - before["meter"]["dropped"]
    if move:
        move["move_to_barrier_ms"] = move_samples[-1] if move["confirmed"] else None
        at = move.pop("all_flows_at")
        move["followed_during_storm"] = at is not None and at <= storm["ended"]
    return {
        "seconds": round(seconds, 3),
        "frames_sent": storm["sent"],
        "send_errors": storm["errors"],
        "frames_per_second": round(storm["sent"] / seconds),
        "arp_table_packets": after["arp_table"] - before["arp_table"],
        "arp_table_per_second": round((after["arp_table"] - before["arp_table"]) / seconds),
        "meter_in": meter_in,
        "meter_dropped": dropped,
        "meter_passed": meter_in - dropped,
        "packet_in_arp": packet_in_arp,
        "packet_in_arp_per_second": round(packet_in_arp / seconds, 1),
        "arp_punt_pps": ARP_PUNT_PPS, "arp_punt_burst": ARP_PUNT_BURST,
        "rest_idle_ms": distribution(idle, PERCENTILES),
        "rest_storm_ms": distribution(during, PERCENTILES),
        "move": move,
    }


def measure(args, workdir):
    deadline = Deadline(TIME_BUDGET_S)
    with started_lab(workdir, "gm") as lab:
        topology.build(lab)
        lab.add_host(TWIN, MOVER_IP, topology.PREFIXLEN, ofport=TWIN_OFPORT)
        controller = Controller(lab, free_tcp_port(), VIPS_FILE, options=CONTROLLER_OPTIONS).start()
        controller.wait_resolved("web")

        post_ms = create_vips(controller, args.vips, deadline)
        give_up = time.monotonic() + SWITCH_READY_TIMEOUT_S
        while True:
            cookies, resolved, n_members, n_vips = mover_cookies(controller)
            if resolved and switch_holds(lab, n_members, n_vips):
                break
            if time.monotonic() > give_up:
                raise MeasurementFailed(f"the switch does not hold the {n_vips} VIPs after "
                                        f"{SWITCH_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        setup = {"vips": n_vips, "delivery_flows": n_members,
                 "post_ms": distribution(post_ms, PERCENTILES),
                 "post_first10_mean_ms": round(sum(post_ms[:10]) / len(post_ms[:10]), 2),
                 "post_last10_mean_ms": round(sum(post_ms[-10:]) / len(post_ms[-10:]), 2),
                 "create_seconds": round(sum(post_ms) / 1000, 2)}

        # The monitor's process is in the lab's record: the lab's removal ends it whatever happens.
        monitor = DeliveryMonitor(lab)
        monitor.start()
        mover = Mover(lab, controller, monitor, cookies)
        try:
            mover.open()
            time.sleep(0.2)   # the monitor's session is up
            moves = measure_moves(controller, mover, args.moves, args.pace_ms / 1000, deadline)
            if not moves["confirmed"]:
                raise MeasurementFailed(f"none of {args.moves} moves was confirmed by GET /v1/stats")
            storm = measure_storm(lab, controller, mover, args, deadline)
        finally:
            mover.close()
            monitor.stop()
        return setup, moves, storm


def summary(args, info, measured):
    setup, moves, storm = measured
    p99 = moves["move_to_barrier_ms"]["p99"]
    return {
        "benchmark": "garp_mobility",
        "machine": info,
        "parameters": {"vips": setup["vips"], "bench_vips": args.vips, "moves": args.moves,
                       "pace_ms": args.pace_ms, "move_wait_s": MOVE_WAIT_S,
                       "moving_address": MOVER_IP, "between": {MOVER: MOVER_OFPORT, TWIN: TWIN_OFPORT},
                       "controller_options": CONTROLLER_OPTIONS,
                       "storm_seconds": args.storm_seconds, "storm_max_frames": args.storm_frames,
                       "storm_targets": len(STORM_TARGETS), "rest_idle_calls": REST_IDLE_CALLS},
        "setup": setup,
        "moves": moves,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": p99 is not None and p99 <= TARGET_P99_MS,
        "storm": storm,
    }


def dist_text(d, unit="ms"):
    if not d["count"]:
        return "no samples"
    return (f"p50 {d['p50']:.1f}  p90 {d['p90']:.1f}  p99 {d['p99']:.1f}  max {d['max']:.1f} {unit}"
            f"  (n={d['count']})")


def print_text(s):
    p, m, su, mv, st = s["parameters"], s["machine"], s["setup"], s["moves"], s["storm"]
    print(f"lbctl GARP mobility: {p['vips']} VIPs (web + {p['bench_vips']}) share member "
          f"{p['moving_address']}, which moves between {MOVER} (port {MOVER_OFPORT}) and {TWIN} "
          f"(port {TWIN_OFPORT}) {p['moves']} times, "
          f"{p['pace_ms']} ms apart")
    print(machine_text(m))
    print(f"setup: {p['bench_vips']} VIPs created by POST in {su['create_seconds']} s (per POST: first 10 "
          f"mean {su['post_first10_mean_ms']} ms, last 10 mean {su['post_last10_mean_ms']} ms); the switch "
          f"holds {su['delivery_flows']} commit flows (one per VIP member)")
    print(f"1. moves: {mv['confirmed']} confirmed, {mv['not_confirmed']} not confirmed within "
          f"{p['move_wait_s']:.0f} s; {mv['flow_changes_per_move']} flow changes per move")
    d = mv["move_to_barrier_ms"]
    print(f"   inside  (ARP packet-in -> barrier reply, move_to_barrier_ms): {dist_text(d)}")
    print(f"           target p99 <= {s['target_p99_ms']:.0f} ms: {'met' if s['target_met'] else 'MISSED'}")
    print("   outside (host sends GARP -> ovs-ofctl monitor shows the new port)")
    print(f"           the locate flow:            {dist_text(mv['outside_all_flows_ms'])}"
          + (f"; {mv['not_seen_by_monitor']} moves not seen complete" if mv["not_seen_by_monitor"] else ""))
    print(f"2. ARP storm from the client ({p['storm_targets']} unowned targets, its own sender address): "
          f"{st['frames_sent']} frames in {st['seconds']:.2f} s = {st['frames_per_second']} frames/s"
          + (f" ({st['send_errors']} send errors)" if st["send_errors"] else ""))
    print(f"   the switch's ARP table matched {st['arp_table_packets']} "
          f"({st['arp_table_per_second']}/s); the ARP meter let {st['meter_passed']} of "
          f"{st['meter_in']} through and dropped {st['meter_dropped']}")
    print(f"   packet-ins handled: {st['packet_in_arp']} ARP = {st['packet_in_arp_per_second']}/s "
          f"(configured arp_punt_pps {st['arp_punt_pps']}, burst {st['arp_punt_burst']})")
    print(f"   REST GET /v1/vips ({su['vips']} VIPs), sequential:")
    print(f"           idle before the storm:  {dist_text(st['rest_idle_ms'])}")
    print(f"           during the storm:       {dist_text(st['rest_storm_ms'])}  (back to back; "
          f"paused while the member moved)")
    move = st["move"]
    if move is None:
        print("   member move during the storm: not tried (the storm had ended)")
    elif move["all_flows_ms"] is not None:
        print(f"   member move during the storm (GARPs {STORM_GARP_INTERVAL_S * 1000:.0f} ms apart until "
              f"followed, at most {STORM_GARP_MAX}; REST calls paused): followed after "
              f"{move['garps']} GARP(s); "
              f"first GARP -> locate flow {move['all_flows_ms']:.1f} ms; move_to_barrier "
              + (f"{move['move_to_barrier_ms']:.1f} ms" if move["move_to_barrier_ms"] is not None
                 else "not confirmed")
              + ("" if move["followed_during_storm"] else " (after the storm had ended)"))
    else:
        print(f"   member move during the storm: NOT followed after {move['garps']} GARPs "
              f"{STORM_GARP_INTERVAL_S * 1000:.0f} ms apart; after the storm the controller has "
              f"{p['moving_address']} at port {move['controller_port_after_storm']} (the host sending "
              f"is on port {move['port']})")


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--vips", type=bounded(int, 1, MAX_VIPS), default=100,
                        help=f"VIPs to create besides `web` (default 100, at most {MAX_VIPS})")
    parser.add_argument("--moves", type=bounded(int, 1, MAX_MOVES), default=200,
                        help=f"member moves to time (default 200, at most {MAX_MOVES})")
    parser.add_argument("--pace-ms", type=bounded(float, 0, 1000), default=20.0,
                        help="quiet time after each move (default 20)")
    parser.add_argument("--storm-seconds", type=bounded(float, 2, 30), default=5.0,
                        help="length of the ARP storm (default 5, 2 to 30)")
    parser.add_argument("--storm-frames", type=bounded(int, 1000, 5_000_000), default=500_000,
                        help="ARP frames the storm sends at most, spread over its length (default 500000)")
    return run("garp_mobility", parser.parse_args(argv), measure, summary, print_text)


if __name__ == "__main__":
    sys.exit(main())
