"""How lbctl scales with the number of VIPs: 1,000 VIPs of 8 members each, created over REST on a
real lab, timed until the switch has confirmed every flow; the controller's memory; the switch's
flows and groups per VIP, which hundreds of open connections do not change. A measurement: it
prints figures and asserts nothing.

    sudo .venv/bin/python -m bench.scale [--vips 1000] [--members 8] [--at-size 50]
                                         [--connections 300] [--stats-interval S] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace), a
client 198.18.0.10 (OpenFlow port 1) and --members hosts m1, m2, ... at 198.18.0.11, .12, ...
(ports 2, 3, ...), all on 198.18.0.0/15, and the real controller, `ryu-manager lbctl_app`, with
lbctl's defaults (the lab's probe_period of 0.2 s aside; --stats-interval sets stats_interval) and
one VIP at start, `seed` (198.19.255.254, port 9), which lists every member: the controller learns
only members, so it locates every one of them (probes, and a gratuitous ARP from each) before the
first timed VIP arrives, and each VIP gets its whole select group and member flows at once (an
unlocated member would be left out, and the figures would be those of smaller VIPs). The seed's
flows are part of the baseline. The members of the VIPs that get connections serve HTTP with nginx.

1. Creation. VIP i (0, 1, ...) is `s<i>`, 198.19.<i // 250>.<1 + i % 250>:80 tcp routed, members
   every host at port 10000 + i (so no two VIPs share a member's flows). The POSTs go one after
   the other on one kept-alive HTTP connection. The total runs from the first POST's send to the
   switch's barrier reply for the last POST's changes (the switch answers barriers in order): the
   last POST's send plus its change_to_barrier_ms. GET /v1/stats must then show no barrier request
   unanswered (`pending_barriers` 0; first looked at 0.2 s after the last POST, then every 50 ms:
   with 1,000 VIPs each look costs the controller tens of ms). Also: the POST round trip as the
   client sees it, and the controller's own time from each change's start to the barrier reply
   (`change_to_barrier_ms`, kept for the last 1,000 changes; it starts when the controller takes
   the request, so time a request waits in the HTTP server is only in the round trip), over all
   the POSTs and the last 100 (the largest sizes); the CPU time the controller and ovs-vswitchd
   used; then what one GET /v1/stats costs, and, when stats_interval is at most 39 s, an idle
   window of stats_interval + 1 s: the controller's CPU (its reading of the switch's counters)
   and GET /v1/vips/s0 every 0.1 s meanwhile.
   Targets: every VIP confirmed within 10 s; p99 of change_to_barrier_ms <= 50 ms.
2. One create at that size: --at-size more VIPs, one at a time, 200 ms apart (each alone on the
   controller and the switch): the POST round trip and change_to_barrier_ms of a lone create with
   --vips VIPs in place (the same p99 target).
3. The switch against the controller: flows (dump-aggregate) and groups and their buckets
   (dump-groups) counted, and compared line by line with what the controller computes from its
   saved state and the hosts it knows (lab/lbctl.py: bucket and slot order aside).
4. Memory: VmRSS of the ryu-manager process before the first VIP, after the creation, and at the
   end; VmHWM (its peak).
5. Flows per VIP (beyond what the switch held before the first VIP: the pipeline's, the seed's
   and the members' own; by count and by the cookies of 3 VIPs), then connections: 100 HTTP
   requests, each on a new connection, to each of the first 3 VIPs (answered by the members'
   nginx), then --connections connections opened at once to those VIPs and held open while the
   switch's flows and groups are counted again, with the datapath's flows and conntrack's entries
   beside them (where connections do take room). Each held connection then asks once, and its
   answer is checked.

Exit status: 0 when measured, whether or not the targets were met; 1 when the measurement itself
failed (the lab or the controller would not start, a member was not located, a POST was refused,
the switch did not confirm in time, the time budget ran out); 130 on Ctrl-C. The lab is removed
in every case; the workdir (logs) is kept only when the measurement failed, and its path printed.
"""

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.lib import (HTTP_ANSWER, Deadline, MeasurementFailed, bench_parser, bounded,
                       controller_stats, cpu_seconds, datapath_flow_count, distribution, flow_count,
                       lab_pid, machine_text, memory_kb, ms, run, started_lab)
from flows import pipeline
from lab import free_tcp_port
from lab.arp import garp
from lab.lbctl import Controller, connect, served_by, shares

CLIENT, CLIENT_IP, CLIENT_OFPORT = "client", "198.18.0.10", 1
PREFIXLEN = 15                       # 198.18.0.0/15: hosts and VIPs on one link
MEMBER_BASE = 11                     # m1 is 198.18.0.11, m2 .12, ...
MAX_MEMBERS = 64
MAX_VIPS = 10000
VIP_PORT = 80
MEMBER_PORT_BASE = 10000             # VIP i's members serve port 10000 + i
CONNECTED_VIPS = 3                   # the VIPs that get connections (their member ports run nginx)
REQUESTS_PER_VIP = 100
TARGET_TOTAL_S = 10.0
TARGET_P99_MS = 50.0
PERCENTILES = (0.50, 0.99)           # of each distribution, as GET /v1/stats gives them
SIZE_SPACING_S = 0.2                 # before each create at size: the one before is confirmed by then
CONFIRM_PAUSE_S = 0.2                # after a change, before the first GET /v1/stats
STATS_POLL_S = 0.05
CONFIRM_TIMEOUT_S = 120.0
LOCATE_TIMEOUT_S = 20.0
HOLD_TIMEOUT_S = 60.0
IDLE_CALL_INTERVAL_S = 0.1
DEFAULT_STATS_INTERVAL_S = 10.0      # lbctl's stats_interval
MAX_IDLE_S = 40.0
OFCTL_TIMEOUT_S = 120
SAMPLES_KEPT = 1000                  # GET /v1/stats keeps the last 1,000 change samples
TIME_BUDGET_S = 600
HOST_COOKIES = "%#x/%#x" % (pipeline.cookie(pipeline.HOSTS), pipeline.COOKIE_OWNER_MASK)   # members' own flows

# Runs in the client: opens `count` TCP connections to the addresses given (round robin), prints
# how many are open, waits for a line on stdin, then sends one request on each and prints the
# member that answered each ("error ..." for a failure).
HOLD = HTTP_ANSWER + """
import json, socket, sys
targets = [(a, int(p)) for a, p in (t.split(":") for t in sys.argv[2].split(","))]
socks, errors = [], []
for i in range(int(sys.argv[1])):
    try:
        socks.append(socket.create_connection(targets[i % len(targets)], timeout=5))
    except OSError as e:
        errors.append(type(e).__name__)
print(json.dumps({"open": len(socks), "errors": errors}), flush=True)
sys.stdin.readline()
answers = {}
for s in socks:
    try:
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: vip\\r\\nConnection: close\\r\\n\\r\\n")
        key = who_answered(read_to_end(s), 20)
    except OSError as e:
        key = "error " + type(e).__name__
    answers[key] = answers.get(key, 0) + 1
    s.close()
print(json.dumps(answers), flush=True)
"""


def members(n):
    return [(f"m{i}", f"198.18.0.{MEMBER_BASE + i - 1}", 1 + i) for i in range(1, n + 1)]


def vip_address(i):
    return f"198.19.{i // 250}.{1 + i % 250}"


def seed_vip(hosts):
    return {"name": "seed", "address": "198.19.255.254", "port": 9, "members": [{"address": ip} for _, ip, _ in hosts]}


def vip_body(i, hosts):
    return {"name": f"s{i}", "address": vip_address(i), "port": VIP_PORT, "protocol": "tcp", "mode": "routed",
            "members": [{"address": ip, "port": MEMBER_PORT_BASE + i} for _, ip, _ in hosts]}


# -- the controller and the switch ---------------------------------------------------------------

class Rest:
    """One kept-alive HTTP connection to the controller's REST API."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (1, 2):   # once more on a connection the server closed meanwhile
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                                  headers={"Content-Type": "application/json"})
                reply = self.conn.getresponse()
                text = reply.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if reply.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return reply.status, (json.loads(text) if text else None)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def wait_confirmed(rest, deadline):
    """Poll GET /v1/stats until no barrier request is unanswered -> (when that was seen, the stats).

    The first look comes CONFIRM_PAUSE_S after the change, then one every STATS_POLL_S: with
    1,000 VIPs a GET /v1/stats costs the controller tens of milliseconds (it reports traffic per
    VIP and member), and a barrier reply arriving meanwhile would wait for it, which would
    lengthen the very change_to_barrier_ms measured."""
    time.sleep(CONFIRM_PAUSE_S)
    give_up = time.monotonic() + deadline.timeout(CONFIRM_TIMEOUT_S)
    while True:
        stats = controller_stats(rest)
        if stats["pending_barriers"] == 0:
            return time.monotonic(), stats
        if time.monotonic() > give_up:
            raise MeasurementFailed(f"the switch has not answered {stats['pending_barriers']} barrier "
                                    f"requests after {CONFIRM_TIMEOUT_S:.0f} s")
        time.sleep(STATS_POLL_S)


def post(rest, body, path="/v1/vips"):
    """POST one VIP (or what `path` takes) -> (when it was sent, how long the answer took)."""
    started = time.monotonic()
    status, doc = rest.call("POST", path, body)
    took = time.monotonic() - started
    if status != 201:
        raise MeasurementFailed(f"POST {path} {body['name']} answered {status}: {doc}")
    return started, took


def ofctl(lab, command, *args):
    """`ovs-ofctl <command> <bridge> <args>` with a timeout fit for tens of thousands of flows."""
    return lab.switch.ofctl(command, lab.bridge, *args, timeout=OFCTL_TIMEOUT_S)


def switch_counts(lab):
    """(flows, groups, buckets) the switch holds."""
    flows = flow_count(lab, timeout=OFCTL_TIMEOUT_S)
    groups = buckets = 0
    for line in ofctl(lab, "dump-groups").splitlines():
        if "group_id=" in line:
            groups += 1
            buckets += line.count("bucket=")
    return flows, groups, buckets


def ofctl_text(lab):
    """lab.lbctl.switch_text(lab), with longer timeouts."""
    lines = ofctl(lab, "dump-flows", "--no-stats").splitlines() + ofctl(lab, "dump-groups").splitlines()
    meters = lab.ofctl("dump-meters").replace("bands=\n", "bands= ").splitlines()
    return sorted(line.strip() for line in lines + meters if line.strip() and not line.startswith("OFPST_"))


def compare(lab, controller):
    """The switch's flows and groups against what the controller computes."""
    started = time.monotonic()
    actual = shares(ofctl_text(lab))
    expected_text = controller.expected_switch_text().splitlines()
    expected = shares(expected_text)
    differ = sorted(set(actual) ^ set(expected))
    expected_flows = sum(1 for line in expected_text if not line.startswith(("group_id=", "meter=")))
    expected_groups = sum(1 for line in expected_text if line.startswith("group_id="))
    return {"differing_lines": len(differ), "examples": differ[:3], "expected_flows": expected_flows,
            "expected_groups": expected_groups, "seconds": round(time.monotonic() - started, 1)}


def vip_flows(lab, cookie):
    """Flows the switch holds with a cookie (value/mask: a VIP's as GET /v1/vips/<name> shows it)."""
    return flow_count(lab, f"cookie={cookie}", timeout=OFCTL_TIMEOUT_S)


def datapath_numbers(lab):
    """(datapath flows, conntrack entries) of the userspace datapath."""
    return datapath_flow_count(lab), int(lab.switch.appctl("dpctl/ct-get-nconns").strip())


# -- the measurements ----------------------------------------------------------------------------

def build(lab, hosts):
    """The client and the members; every member located by the controller before any VIP."""
    lab.add_host(CLIENT, CLIENT_IP, PREFIXLEN, ofport=CLIENT_OFPORT)
    served = tuple(MEMBER_PORT_BASE + i for i in range(CONNECTED_VIPS))
    for name, ip, ofport in hosts:
        lab.add_host(name, ip, PREFIXLEN, ofport=ofport)
        lab.start_http(name, served)


def locate_members(lab, rest, hosts):
    give_up = time.monotonic() + LOCATE_TIMEOUT_S
    while True:
        status, known = rest.call("GET", "/v1/hosts")
        missing = [(name, ip) for name, ip, _ in hosts if ip not in {h["ip"] for h in known or ()}]
        if not missing:
            return
        if time.monotonic() > give_up:
            raise MeasurementFailed(f"the controller has not located {', '.join(n for n, _ in missing)} "
                                    f"after {LOCATE_TIMEOUT_S:.0f} s")
        for name, ip in missing:
            garp(lab, name, ip)
        time.sleep(0.2)


def create_all(rest, bodies, pids, deadline, path="/v1/vips"):
    """POST every body one after the other, then wait for the switch's confirmation: the timings
    of 1. (each POST must be one change of the controller, with one change_to_barrier_ms)."""
    n = len(bodies)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    sent, took = [], []
    for i, body in enumerate(bodies):
        if i % 100 == 0:
            deadline.check()
        started, seconds = post(rest, body, path)
        sent.append(started)
        took.append(ms(seconds))
    seen, stats = wait_confirmed(rest, deadline)
    samples = stats["change_to_barrier_ms"]["recent"][-min(n, SAMPLES_KEPT):]
    # The switch answers barriers in order: the last POST's reply is the last of all. Its arrival
    # to reply time (the controller's own figure) ends the total; the client's send of a POST and
    # its arrival are a loopback hop apart.
    total = sent[-1] - sent[0] + samples[-1] / 1000
    return {
        "vips": n,
        "total_s": round(total, 3),
        "seen_confirmed_s": round(seen - sent[0], 3),
        "posting_s": round(sent[-1] + took[-1] / 1000 - sent[0], 3),
        "post_ms": distribution(took, PERCENTILES),
        "post_last100_ms": distribution(took[-100:], PERCENTILES),
        "change_to_barrier_ms": distribution(samples, PERCENTILES),
        "change_to_barrier_last100_ms": distribution(samples[-100:], PERCENTILES),
        "change_samples": len(samples),
        "cpu_s": {name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()},
        "vips_per_s": round(n / total, 1),
    }


def create_at_size(rest, hosts, first, count, deadline):
    """Creates one at a time, SIZE_SPACING_S apart: each alone on the controller and the switch.
    Their change_to_barrier_ms samples are read once at the end (a GET /v1/stats between them
    would load the controller just before the next one)."""
    took = []
    for i in range(first, first + count):
        deadline.check()
        time.sleep(SIZE_SPACING_S)
        _, seconds = post(rest, vip_body(i, hosts))
        took.append(ms(seconds))
    _, stats = wait_confirmed(rest, deadline)
    barrier_ms = stats["change_to_barrier_ms"]["recent"][-count:]
    return {"creates": count, "post_ms": distribution(took, PERCENTILES),
            "change_to_barrier_ms": distribution(barrier_ms, PERCENTILES)}


def idle_window(rest, seconds, controller_pid):
    """The controller idle for `seconds` with all the VIPs in place, but for its own background
    work (the reading of the switch's counters every stats_interval, probes): the CPU it used, how
    many readings it completed, and what a GET /v1/vips/s0 made every 0.1 s meanwhile took."""
    polls = controller_stats(rest)["traffic_polls"]
    cpu = cpu_seconds(controller_pid)
    took = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        status, doc = rest.call("GET", "/v1/vips/s0")
        if status != 200:
            raise MeasurementFailed(f"GET /v1/vips/s0 answered {status}: {doc}")
        took.append(ms(time.monotonic() - started))
        time.sleep(max(0.0, started + IDLE_CALL_INTERVAL_S - time.monotonic()))
    return {"seconds": seconds, "cpu_s": round(cpu_seconds(controller_pid) - cpu, 2),
            "counter_readings": controller_stats(rest)["traffic_polls"] - polls,
            "get_vip_ms": distribution(took, PERCENTILES)}


def stats_call(controller, controller_pid, calls=5):
    """What one GET /v1/stats takes with all the VIPs in place: as the client sees it (a new
    connection each, so that no delayed ACK stretches a large answer), and the controller's CPU."""
    took = []
    cpu = cpu_seconds(controller_pid)
    for _ in range(calls):
        started = time.monotonic()
        status, doc = controller.call("GET", "/v1/stats")
        if status != 200:
            raise MeasurementFailed(f"GET /v1/stats answered {status}")
        took.append(ms(time.monotonic() - started))
    return {"ms": distribution(took, PERCENTILES), "cpu_ms": ms((cpu_seconds(controller_pid) - cpu) / calls),
            "bytes": len(json.dumps(doc, indent=1))}


def connections(lab, rest, n_vips, held, deadline):
    vips = [vip_address(i) for i in range(min(CONNECTED_VIPS, n_vips))]
    cookies = [rest.call("GET", f"/v1/vips/s{i}")[1]["cookie"] for i in range(len(vips))]
    flows_before = [vip_flows(lab, cookie) for cookie in cookies]
    served = {}
    for address in vips:
        deadline.check()
        served[address] = served_by(connect(lab, address, VIP_PORT, REQUESTS_PER_VIP))
    targets = ",".join(f"{address}:{VIP_PORT}" for address in vips)
    client = lab.host(CLIENT)
    proc = subprocess.Popen(["ip", "netns", "exec", client.netns, sys.executable, "-c", HOLD, str(held), targets],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        opened = json.loads(proc.stdout.readline() or "{}")
        if "open" not in opened:
            raise MeasurementFailed(f"the client could not hold connections: {proc.stderr.read()[-500:]}")
        counts_held = switch_counts(lab)
        flows_held = [vip_flows(lab, cookie) for cookie in cookies]
        datapath_held = datapath_numbers(lab)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        answers = json.loads(proc.stdout.readline() or "{}")
        proc.wait(timeout=deadline.timeout(HOLD_TIMEOUT_S))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {"vips": vips, "requests_per_vip": REQUESTS_PER_VIP, "served": served,
            "vip_flows_before": flows_before, "vip_flows_held": flows_held,
            "vip_flows_after": [vip_flows(lab, cookie) for cookie in cookies],
            "held": opened["open"], "open_errors": len(opened["errors"]), "answers": answers,
            "counts_held": counts_held, "datapath_flows_held": datapath_held[0],
            "conntrack_held": datapath_held[1]}


def measure(args, workdir):
    deadline = Deadline(TIME_BUDGET_S)
    hosts = members(args.members)
    with started_lab(workdir, "sc") as lab:
        build(lab, hosts)
        vips_file = Path(workdir) / "seed.yaml"
        vips_file.write_text(json.dumps({"vips": [seed_vip(hosts)]}))   # JSON is YAML
        options = {"stats_interval": args.stats_interval} if args.stats_interval else {}
        controller = Controller(lab, free_tcp_port(), vips_file, options=options).start()
        pids = {key: lab_pid(lab, key) for key in ("controller", "ovs-vswitchd")}
        rest = Rest(controller.rest_port)
        try:
            locate_members(lab, rest, hosts)
            wait_confirmed(rest, deadline)
            baseline = switch_counts(lab)
            memory = {"before_kb": memory_kb(pids["controller"])}

            created = create_all(rest, [vip_body(i, hosts) for i in range(args.vips)], pids, deadline)
            memory["after_create_kb"] = memory_kb(pids["controller"])
            counts = switch_counts(lab)
            host_flows = vip_flows(lab, HOST_COOKIES)
            stats_ms = stats_call(controller, pids["controller"])
            interval = args.stats_interval or DEFAULT_STATS_INTERVAL_S
            idle = idle_window(rest, interval + 1, pids["controller"]) if interval + 1 <= MAX_IDLE_S else None
            compared = compare(lab, controller)
            at_size = create_at_size(rest, hosts, args.vips, args.at_size, deadline) if args.at_size else None
            total_vips = args.vips + args.at_size
            counts_at_end = switch_counts(lab)
            conns = connections(lab, rest, total_vips, args.connections, deadline)
            counts_after = switch_counts(lab)
            memory["end_kb"] = memory_kb(pids["controller"])
            memory["peak_kb"] = memory_kb(pids["controller"], "VmHWM")
            memory["vswitchd_end_kb"] = memory_kb(pids["ovs-vswitchd"])
            refusals = controller.refusals()
        finally:
            rest.close()
        return {"created": created, "at_size": at_size, "baseline": baseline, "counts": counts,
                "host_flows": host_flows, "stats_ms": stats_ms, "idle": idle,
                "compared": compared, "counts_at_end": counts_at_end, "total_vips": total_vips,
                "connections": conns, "counts_after": counts_after, "memory": memory,
                "switch_refusals": len(refusals)}


def per_vip(counts, baseline, n):
    """A VIP's share of the switch: what is beyond the baseline, taken once the members were
    located (the pipeline, the seed VIP, the members' own flows: their ARP and where they are,
    shared by every VIP)."""
    return {"flows": round((counts[0] - baseline[0]) / n, 2),
            "groups": round((counts[1] - baseline[1]) / n, 2),
            "buckets_per_group": round(counts[2] / counts[1], 1) if counts[1] else None}


def summary(args, info, m):
    c, size = m["created"], m["at_size"]
    return {
        "benchmark": "scale",
        "machine": info,
        "parameters": {"vips": args.vips, "members": args.members, "at_size": args.at_size,
                       "stats_interval": args.stats_interval,
                       "connections": args.connections, "vip_mode": "routed tcp 5-tuple"},
        "creation": dict(c, get_stats=m["stats_ms"]),
        "at_size": size,
        "idle": m["idle"],
        "targets": {"total_s": TARGET_TOTAL_S, "p99_ms": TARGET_P99_MS,
                    "total_met": c["total_s"] <= TARGET_TOTAL_S,
                    "p99_met": c["change_to_barrier_ms"]["p99"] <= TARGET_P99_MS,
                    "p99_at_size_met": (size["change_to_barrier_ms"]["p99"] <= TARGET_P99_MS) if size else None},
        "switch": {"baseline": dict(zip(("flows", "groups", "buckets"), m["baseline"])),
                   "after_create": dict(zip(("flows", "groups", "buckets"), m["counts"])),
                   "compared": m["compared"],
                   "host_flows": m["host_flows"],
                   "per_vip": per_vip(m["counts"], m["baseline"], args.vips),
                   "refused_messages": m["switch_refusals"]},
        "memory": m["memory"],
        "connections": dict(m["connections"],
                            counts_before=dict(zip(("flows", "groups", "buckets"), m["counts_at_end"])),
                            counts_held=dict(zip(("flows", "groups", "buckets"), m["connections"]["counts_held"])),
                            counts_after=dict(zip(("flows", "groups", "buckets"), m["counts_after"])),
                            per_vip_held=per_vip(m["connections"]["counts_held"], m["baseline"], m["total_vips"])),
    }


def dist_text(d):
    return f"p50 {d['p50']:.1f}  p99 {d['p99']:.1f}  max {d['max']:.1f} ms (n={d['count']})"


def met(flag):
    return "met" if flag else "not met"


def print_text(s):
    p, mc, c, size, sw, mem, con = (s["parameters"], s["machine"], s["creation"], s["at_size"], s["switch"],
                                    s["memory"], s["connections"])
    t = s["targets"]
    print(f"lbctl scale: {p['vips']} VIPs ({p['vip_mode']}), {p['members']} members each, created by POST "
          f"one after the other")
    print(machine_text(mc))
    print(f"1. all {c['vips']} VIPs confirmed by the switch {c['total_s']:.2f} s after the first POST "
          f"({c['vips_per_s']} VIPs/s; the POSTs took {c['posting_s']:.2f} s; pending_barriers 0 seen at "
          f"{c['seen_confirmed_s']:.2f} s)")
    print(f"   target <= {t['total_s']:.0f} s: {met(t['total_met'])}")
    print(f"   POST round trip (client):     all {dist_text(c['post_ms'])}")
    print(f"                                 last 100 {dist_text(c['post_last100_ms'])}")
    print(f"   change_to_barrier_ms:         all {dist_text(c['change_to_barrier_ms'])}")
    print(f"                                 last 100 {dist_text(c['change_to_barrier_last100_ms'])}")
    print(f"   target p99 <= {t['p99_ms']:.0f} ms: {met(t['p99_met'])}")
    print(f"   CPU used meanwhile: controller {c['cpu_s']['controller']} s, "
          f"ovs-vswitchd {c['cpu_s']['ovs-vswitchd']} s")
    st = c["get_stats"]
    print(f"   then one GET /v1/stats: {dist_text(st['ms'])}, {st['cpu_ms']:.0f} ms of the controller's CPU, "
          f"{st['bytes'] / 1024:.0f} KiB")
    idle = s["idle"]
    if idle:
        print(f"   then {idle['seconds']:.0f} s idle: {idle['counter_readings']} reading(s) of the switch's counters "
              f"(stats_interval {p['stats_interval'] or DEFAULT_STATS_INTERVAL_S:g} s); the controller used "
              f"{idle['cpu_s']} s of CPU; GET /v1/vips/s0 every {IDLE_CALL_INTERVAL_S:g} s: {dist_text(idle['get_vip_ms'])}")
    if size:
        print(f"2. one create at that size ({size['creates']} more VIPs, one at a time, {SIZE_SPACING_S * 1000:.0f} ms "
              f"apart):")
        print(f"   POST round trip (client):     {dist_text(size['post_ms'])}")
        print(f"   change_to_barrier_ms:         {dist_text(size['change_to_barrier_ms'])}  "
              f"target p99 <= {t['p99_ms']:.0f} ms: {met(t['p99_at_size_met'])}")
    a, b, cmp = sw["after_create"], sw["baseline"], sw["compared"]
    print(f"3. the switch holds {a['flows']} flows and {a['groups']} groups ({a['buckets']} buckets); "
          f"the controller computes {cmp['expected_flows']} flows and {cmp['expected_groups']} groups; "
          f"lines that differ: {cmp['differing_lines']} (compared in {cmp['seconds']} s); "
          f"messages refused: {sw['refused_messages']}")
    print(f"4. controller memory (VmRSS): {mem['before_kb'] / 1024:.1f} MiB before, "
          f"{mem['after_create_kb'] / 1024:.1f} MiB after the creation, {mem['end_kb'] / 1024:.1f} MiB at the end "
          f"(peak {mem['peak_kb'] / 1024:.1f} MiB); ovs-vswitchd {mem['vswitchd_end_kb'] / 1024:.1f} MiB at the end")
    pv = sw["per_vip"]
    print(f"5. per VIP: {pv['flows']} flows and {pv['groups']} group of {pv['buckets_per_group']} buckets; "
          f"besides, {b['flows']} flows before the first VIP (the pipeline, the seed VIP and {sw['host_flows']} "
          f"flows of the {p['members']} members: their ARP, where they are), shared by all VIPs")
    served = ", ".join(f"{vip} {sum(n.values())} ({len(n)} members)" for vip, n in con["served"].items())
    print(f"   {con['requests_per_vip']} HTTP requests on new connections to each of {len(con['vips'])} VIPs, "
          f"answered: {served}")
    before, held, after = con["counts_before"], con["counts_held"], con["counts_after"]
    answers = ", ".join(f"{k} {v}" for k, v in sorted(con["answers"].items()))
    print(f"   then {con['held']} connections held open at once ({con['open_errors']} failed to open), "
          f"each asking once at the end: {answers}")
    flows = "/".join
    print(f"   flows of those VIPs (by cookie): {flows(map(str, con['vip_flows_before']))} before, "
          f"{flows(map(str, con['vip_flows_held']))} while held, {flows(map(str, con['vip_flows_after']))} after")
    print(f"   the whole switch, flows/groups: {before['flows']}/{before['groups']} before, "
          f"{held['flows']}/{held['groups']} while held, {after['flows']}/{after['groups']} after "
          f"({con['per_vip_held']['flows']} flows per VIP while held)")
    print(f"   meanwhile the userspace datapath held {con['datapath_flows_held']} datapath flows and conntrack "
          f"{con['conntrack_held']} entries: that is where connections take room")


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--vips", type=bounded(int, CONNECTED_VIPS, MAX_VIPS), default=1000,
                        help=f"VIPs to create (default 1000, {CONNECTED_VIPS} to {MAX_VIPS})")
    parser.add_argument("--members", type=bounded(int, 1, MAX_MEMBERS), default=8,
                        help=f"members of each VIP, one host each (default 8, at most {MAX_MEMBERS})")
    parser.add_argument("--at-size", type=bounded(int, 0, 500), default=50,
                        help="VIPs then created one at a time, each alone (default 50; 0: none)")
    parser.add_argument("--connections", type=bounded(int, 1, 2000), default=300,
                        help="connections held open at once (default 300, at most 2000)")
    parser.add_argument("--stats-interval", type=bounded(float, 0.1, 86400), default=None,
                        help="the controller's stats_interval: seconds between readings of the switch's "
                             "counters (default: lbctl's, 10)")
    return run("scale", parser.parse_args(argv), measure, summary, print_text)


if __name__ == "__main__":
    sys.exit(main())
