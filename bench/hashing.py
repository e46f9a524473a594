"""How well a VIP's hashing spreads real connections through Open vSwitch: evenness, weights,
source_ip stickiness, and what removing a member disturbs. A measurement: it prints figures and
asserts nothing.

    sudo .venv/bin/python -m bench.hashing [--modes routed,dsr,one-arm] [--connections 10000]
                  [--concurrency 16] [--flows 2000] [--held 200] [--sources 32] [--json]

The default run takes about 40 s for the three modes on a 2-core machine.

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace)
with a client 198.18.0.10 (OpenFlow port 1; also --sources more addresses 198.18.0.21.. on its
eth0) and eight members m1..m8, 198.18.0.11-.18 on ports 2-9, each running nginx, which answers
with its own name and logs every request. The real controller, `ryu-manager lbctl_app`, starts
with no VIP. For each mode, VIP `hashing` 198.18.0.100:80 is created by POST /v1/vips (dsr: first
lab.dsr.configure_member on every member; one-arm: with the pool 198.18.0.200-.201, ports
1024-65535). A mode the controller refuses is reported as "not available" with its 400 error.
Every figure comes from real TCP connections through the switch; nothing here computes the hash.
After each REST change the script waits until the switch's select group (or slot flows) holds
the new slot table, and prints the slots each member got as the switch shows them.

a. Evenness: 8 members of weight 1, `ab -n --connections -c 16` (no keepalive: each request a new
   connection from a new client port). Connections per member are counted in the members' nginx
   access logs; reported: busiest / mean (target <= 1.05). A perfect uniform hash also shows
   sampling noise, so the script prints the max/mean such a hash would give at that count
   (normal approximation: median, 95th percentile, and how often it would miss the target)
   beside it. At 10,000 connections that is about one run in five: one run's figure says
   little; --connections 50000 makes it sharper.
b. Weights: members m1, m2, m3 with weights 1, 2, 3 (the others out), --connections by ab.
   Shares against 16.7/33.3/50.0 %; the largest error in percentage points (target <= 5 pp).
c. source_ip: the 8 members with `algorithm: source_ip`. ab from the client's one address
   (--connections / 5 connections: all must land on one member), then a small Python client that
   binds each of the --sources extra addresses in turn, 10 connections each: every address must
   stay on one member, and the addresses must spread over several members.
d. Removing one member of 8 (m4: PUT the VIP without it).
   (i)  Established connections: before the change, --held TCP connections to the VIP are opened
        from client ports 30000.. (each mode its own range) and left idle: nginx has keepalive
        off, so one connection cannot carry a request before the change and one after; instead
        nothing is sent until after it (nginx waits up to 60 s for a request). Which member holds
        each one is read before the change from the switch's conntrack (the reply tuple of an
        established connection with the VIP's ct_mark names the member; for a mode without
        conntrack, from `ss` in the members). After the change every connection sends one
        request; survived = answered by the member that held it. Those on surviving members must
        all survive; those on m4 are reported apart (removal is not draining: they may break).
   (ii) New connections: the switch hashes a new connection's own 5-tuple (before any NAT), so
        its member is a function of that 5-tuple, and the same --flows 5-tuples are sent before
        and after the change: a Python client binds client ports 20000.. explicitly, one
        connection per port, and reads which member answered. A reused 5-tuple is hashed anew
        only if the switch takes its SYN for a new connection. In the NAT modes the client
        closes every connection with a reset once answered: no TIME_WAIT on either host, and
        conntrack holds the connection as closed, so a SYN on the same 5-tuple starts a new one
        (Open vSwitch may then give it another client port towards the member, as in
        bench/new_conn_rate.py; that is what the member sees, not what was hashed). In dsr a
        slot moved within its grace period pins each new connection to its member, and the pin
        outlives it (seconds after a FIN, up to its idle timeout otherwise), so the pins are
        deleted between passes
        (`ovs-appctl revalidator/purge`, else cached datapath flows re-learn them, then
        `ovs-ofctl del-flows`; the controller does not track learned flows); also before parts
        a-c, so that no pin of an earlier part steers a reused client port. Conntrack is not
        flushed: a flush while members still hold TIME_WAIT sockets of earlier ab connections
        stalled ab runs here for over 5 s (a reused client port hashes to the same member, whose
        TIME_WAIT socket answered the SYN with a bare ACK; the switch, its conntrack entry
        flushed, sent that ACK to the client un-NATed through NORMAL, and the SYN never got
        through).
        Passes: A1, A2 (no change in between: a control, expected 0 changed, which shows the
        method is exact), then the change, then B. Reported: the fraction of the 5-tuples whose
        member differs between A2 and B, against 1/N + 2 % (14.5 %), and how many of them were
        not on m4 (moved without need; minimal movement means 0).
   (iii) Adding m4 back: --held more connections, opened to the 7 members from the next client
        ports, then m4 added back (PUT): every one must be answered by the member that held it.

For dsr the script also prints how many learned pins the closed connections of part a left in the
switch when part b began (and how many of them never matched a packet after the SYN), and how
many pins a DELETE of the VIP left behind.

Exit status: 0 when measured (a refused mode is a result too), whether or not the targets were
met; 1 when the measurement itself failed (the lab or the controller would not start, a client
failed or timed out, too many connections failed); 130 on Ctrl-C. The lab is removed in every
case; the workdir (logs) is kept only when the measurement failed, and its path is printed.
"""

import argparse
import json
import re
import selectors
import statistics
import subprocess
import sys
import time
from collections import Counter

from bench.lib import (HTTP_ANSWER, Deadline, MeasurementFailed, bench_parser, bounded,
                       machine_text, run, run_ab, started_lab)
from flows.pipeline import COOKIE_OWNER_MASK
from flows.slots import SLOTS
from lab import dsr, free_tcp_port, topology
from lab.lbctl import Controller

MODES = ("routed", "dsr", "one-arm")
CLIENT, CLIENT_IP, CLIENT_OFPORT = topology.CLIENT            # client, 198.18.0.10, port 1
MEMBERS = tuple((f"m{i}", f"198.18.0.{10 + i}", 1 + i) for i in range(1, 9))   # m1 .11 port 2 ...
VIP_NAME, VIP, VIP_PORT = "hashing", "198.18.0.100", 80
SNAT_POOL = {"addresses": ["198.18.0.200", "198.18.0.201"], "ports": [1024, 65535]}
SOURCE_BASE = 21                   # --sources extra client addresses: 198.18.0.21, .22, ...
MAX_SOURCES = 64                   # .21-.84: clear of the members, the VIP and the pool
PER_SOURCE = 10                    # connections from each extra address (part c)
WEIGHTS = {"m1": 1, "m2": 2, "m3": 3}
REMOVED = "m4"
FLOW_PORT_BASE = 20000             # part d (ii): client ports 20000.. (below the ephemeral range)
HELD_PORT_BASE = 30000             # part d (i): client ports 30000.. (routed), 30900.. (dsr), ...
MAX_FLOWS, MAX_HELD = 9000, 900    # the port ranges stay apart and below 32768

TARGET_MAX_MEAN = 1.05
TARGET_WEIGHT_PP = 5.0
TARGET_MOVED_EXTRA = 0.02          # moved <= 1/N + 2 %

MAX_CLIENT_ERRORS = 0.01           # Python clients: more errors than this: the measurement failed
AB_RUN_TIMEOUT_S = 90             # the longest one ab run may take
APPLY_TIMEOUT_S = 10.0             # REST change -> the switch holds the new slot table
PIN_CLEAR_SETTLE_S = (0.2, 0.5, 1.0, 2.0)   # rounds of: purge the datapath, wait, delete pins, wait
DELETE_SETTLE_S = 0.5              # DELETE of the VIP -> its flows are gone from the switch
HELD_ANSWER_TIMEOUT_S = 3.0        # a held connection's request after the change
ACCESS_LOG_SETTLE_S = 2.0          # nginx logs a request just after answering it
TIME_BUDGET_S = 170                # lab start to the last connection; the script stays near 3 min

# `ovs-appctl dpctl/dump-conntrack`: the request's client port, and the member in the reply tuple.
CT_ENTRY = re.compile(r"orig=\(src=([\d.]+),dst=([\d.]+),sport=(\d+),dport=(\d+)\),"
                      r"reply=\(src=([\d.]+),.*\bmark=(\d+),.*state=ESTABLISHED")
PINNED = re.compile(r"tp_src=(\d+)")

# Runs in the client namespace: one new connection per (source address, port), each closed with a
# reset once answered; prints [[address, client port, what answered], ...].
FLOWS_CLIENT = HTTP_ANSWER + r"""
import json, signal, socket, struct, sys
signal.alarm(int(sys.argv[4]))    # never outlives the benchmark
vip, vport, jobs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
REQUEST, RESET = b"GET / HTTP/1.0\r\n\r\n", struct.pack("ii", 1, 0)
out = []
for source, first, count in jobs:          # first 0: let the kernel pick the port
    for i in range(count):
        s = socket.socket()
        port = first + i if first else 0
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(2)
            s.bind((source, port))
            s.connect((vip, vport))
            port = s.getsockname()[1]
            s.sendall(REQUEST)
            got = who_answered(read_to_end(s), 30)
        except OSError as e:
            got = "error " + type(e).__name__
        finally:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)   # no TIME_WAIT anywhere
            s.close()
        out.append([source, port, got])
print(json.dumps(out))
"""

# Runs in the client namespace: opens connections from fixed ports and sends nothing; prints the
# ports it opened, waits for a line on stdin, then asks one request on each and prints who answered.
HELD_CLIENT = HTTP_ANSWER + r"""
import json, selectors, signal, socket, struct, sys, time
signal.alarm(int(sys.argv[6]))    # never outlives the benchmark
source, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
vip, vport = sys.argv[4], int(sys.argv[5])
answer_timeout = float(sys.argv[7])
socks, failed = {}, 0
for port in range(first, first + count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(2)
    try:
        s.bind((source, port))
        s.connect((vip, vport))
        socks[port] = s
    except OSError:
        failed += 1
        s.close()
print(json.dumps({"open": sorted(socks), "failed": failed}), flush=True)
sys.stdin.readline()
selector, data, results = selectors.DefaultSelector(), {}, {}
for port, s in socks.items():
    try:
        s.setblocking(False)
        s.send(b"GET / HTTP/1.0\r\n\r\n")
        selector.register(s, selectors.EVENT_READ, port)
        data[port] = b""
    except OSError as e:
        results[port] = "error " + type(e).__name__
deadline = time.monotonic() + answer_timeout
while len(results) < len(socks) and time.monotonic() < deadline:
    for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
        port = key.data
        try:
            chunk = key.fileobj.recv(4096)
        except OSError as e:
            results[port] = "error " + type(e).__name__
            selector.unregister(key.fileobj)
            continue
        if chunk:
            data[port] += chunk
            continue
        selector.unregister(key.fileobj)
        results[port] = who_answered(data[port], 30)
for port in socks:
    results.setdefault(port, "no answer")
    socks[port].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    socks[port].close()
print(json.dumps(results), flush=True)
"""


def source_addresses(n):
    return [f"198.18.0.{SOURCE_BASE + i}" for i in range(n)]


def build(lab, n_sources):
    lab.add_host(CLIENT, CLIENT_IP, topology.PREFIXLEN, ofport=CLIENT_OFPORT)
    for address in source_addresses(n_sources):
        lab.run(CLIENT, ["ip", "addr", "add", f"{address}/{topology.PREFIXLEN}", "dev", "eth0"])
    for name, address, ofport in MEMBERS:
        lab.add_host(name, address, topology.PREFIXLEN, ofport=ofport)
        lab.start_http(name)


def vip_body(mode, weights=None, algorithm="5-tuple"):
    """The VIP for `mode`: members {name: weight} (default: all 8, weight 1)."""
    weights = weights or {name: 1 for name, _, _ in MEMBERS}
    address = {name: ip for name, ip, _ in MEMBERS}
    body = {"name": VIP_NAME, "address": VIP, "port": VIP_PORT, "protocol": "tcp", "mode": mode,
            "algorithm": algorithm,
            "members": [{"address": address[n], "port": VIP_PORT, "weight": w} for n, w in weights.items()]}
    if mode == "one-arm":
        body["snat_pool"] = SNAT_POOL
    return body


# -- the switch ---------------------------------------------------------------------------------

def switch_slots(lab, doc):
    """{member name: slots} as the switch holds them: the buckets of the VIP's select group, or
    its slot flows (`reg1=<slot>`). A bucket or slot flow names its member by the member's id in
    reg5 (NAT modes: the commit to choose), or in dsr by its host's id in reg2 (the first
    set_field: a moved slot's new owner)."""
    texts = []
    for line in lab.ofctl("dump-groups").splitlines():
        if line.strip().startswith(f"group_id={doc['group_id']},"):
            texts += line.split("bucket=")[1:]
    for line in lab.ofctl("dump-flows", f"cookie={doc['cookie']}").splitlines():
        if "reg1=" in line.partition("actions=")[0]:
            texts.append(line.partition("actions=")[2])
    name_of = {address: name for name, address, _ in MEMBERS}
    register, key = ("reg2", "host") if doc["mode"] == "dsr" else ("reg5", "id")
    names = {member[key]: name_of.get(member["address"], "?") for member in doc["members"]}
    loads = re.compile(r"set_field:(0x[0-9a-f]+|\d+)->%s\b" % register)
    count = Counter()
    for text in texts:
        found = loads.search(text)
        count[names.get(int(found.group(1), 0), "?") if found else "?"] += 1
    return dict(sorted(count.items()))


def apply(controller, lab, method, body, deadline):
    """POST or PUT the VIP; wait until the switch holds its slot table. -> (status, doc, slots)."""
    path = "/v1/vips" if method == "POST" else f"/v1/vips/{VIP_NAME}"
    status, doc = controller.call(method, path, body)
    if status not in (200, 201):
        return status, doc, None
    controller.wait_resolved(VIP_NAME)
    expected = {name for name, address, _ in MEMBERS
                if any(m["address"] == address and m["weight"] > 0 for m in body["members"])}
    give_up = time.monotonic() + deadline.timeout(APPLY_TIMEOUT_S)
    while True:
        slots = switch_slots(lab, doc)
        if set(slots) == expected and sum(slots.values()) == SLOTS:
            return status, doc, slots
        if time.monotonic() > give_up:
            raise MeasurementFailed(f"{method} {VIP_NAME}: after {APPLY_TIMEOUT_S:.0f} s the switch holds "
                                    f"slots {slots or 'none'}, expected {SLOTS} over {sorted(expected)}")
        time.sleep(0.05)


def pins(lab):
    """The learned flows that pin a connection to the VIP to its member (dsr; none in the NAT
    modes): the lines of dump-flows that match the VIP and a client port."""
    return [line for line in lab.ofctl("dump-flows").splitlines()
            if f"nw_dst={VIP}" in line and PINNED.search(line.partition("actions=")[0])]


def clear_pins(lab):
    """Delete the learned pins to the VIP (dsr), so that a 5-tuple seen before is hashed anew.
    A pin deleted while the datapath still cached the flow that had learned it was back here
    within a fraction of a second (Open vSwitch re-runs `learn` when it revalidates that flow),
    so the datapath flows are purged first (which re-runs `learn` one last time), then the pins
    deleted, and that repeated until none is left. -> how many pins there were, and how many of
    them had never matched a packet."""
    found = left = pins(lab)
    tables, trace = set(), []
    for settle in PIN_CLEAR_SETTLE_S:
        if not left:
            return {"pins": len(found), "never_matched": sum(1 for line in found if " n_packets=0," in line),
                    "rounds": len(trace)}
        # By table and by VIP (the cookie's high half): also pins of a deleted VIP on this address.
        tables |= {(re.search(r"table=(\d+)", line).group(1), int(re.search(r"cookie=(0x[0-9a-f]+)", line)
                                                                   .group(1), 16) >> 32) for line in left}
        lab.switch.appctl("revalidator/purge")
        time.sleep(settle)
        for table, vip_id in sorted(tables):
            cookie = f"{vip_id << 32:#x}/{COOKIE_OWNER_MASK:#x}"
            lab.ofctl("del-flows", f"table={table},cookie={cookie},tcp,nw_dst={VIP}")
        deleted_to = len(pins(lab))
        time.sleep(settle)
        left = pins(lab)
        trace.append(f"{deleted_to} just after del-flows, {len(left)} {settle} s later")
    raise MeasurementFailed(f"learned pins of the VIP keep coming back ({'; '.join(trace)}): "
                            f"{left[0].strip()}")


# -- clients ------------------------------------------------------------------------------------

def log_lengths(lab):
    return {name: len(lab.access_log(name)) for name, _, _ in MEMBERS}


def ab_per_member(lab, n, concurrency, deadline):
    """`ab -n n -c concurrency` from the client's own address -> {member: connections}."""
    before = log_lengths(lab)
    run_ab(lab, CLIENT, f"http://{VIP}:{VIP_PORT}/", n, concurrency, deadline, AB_RUN_TIMEOUT_S)
    settle = time.monotonic() + ACCESS_LOG_SETTLE_S
    while True:
        added = {name: len(lab.access_log(name)) - before[name] for name in before}
        if sum(added.values()) >= n or time.monotonic() > settle:
            return added
        time.sleep(0.05)


def flows(lab, jobs, deadline):
    """The FLOWS_CLIENT in the client namespace -> [[source, port, member or error], ...]."""
    count = sum(c for _, _, c in jobs)
    limit = deadline.timeout(30 + count * 0.02)
    try:
        proc = lab.run(CLIENT, [sys.executable, "-c", FLOWS_CLIENT, VIP, str(VIP_PORT), json.dumps(jobs),
                                str(int(limit) + 1)], timeout=limit + 5, check=False)
    except subprocess.TimeoutExpired:
        raise MeasurementFailed(f"{count} connections not done after {limit:.0f} s") from None
    if proc.returncode != 0:
        raise MeasurementFailed(f"the connection client exited with {proc.returncode}: "
                                + " / ".join(proc.stderr.strip().splitlines()[-3:]))
    out = json.loads(proc.stdout)
    errors = [got for _, _, got in out if got not in lab.hosts]
    if len(errors) > MAX_CLIENT_ERRORS * count:
        raise MeasurementFailed(f"{len(errors)} of {count} connections failed, e.g. {errors[0]}")
    return out


class HeldConnections:
    """Idle connections from fixed client ports, opened now and asked after a change."""

    def __init__(self, lab, first_port, count, vip_id, deadline):
        self.lab, self.count, self.vip_id, self.deadline = lab, count, vip_id, deadline
        argv = ["ip", "netns", "exec", lab.host(CLIENT).netns, sys.executable, "-c", HELD_CLIENT,
                CLIENT_IP, str(first_port), str(count), VIP, str(VIP_PORT),
                str(int(deadline.timeout(120))), str(HELD_ANSWER_TIMEOUT_S)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        opened = self._line(deadline.timeout(30 + count * 0.05))
        self.ports = opened["open"]
        if opened["failed"] > MAX_CLIENT_ERRORS * count:
            raise MeasurementFailed(f"{opened['failed']} of {count} held connections did not open")

    def _line(self, timeout):
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise MeasurementFailed(f"the held-connection client said nothing for {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            raise MeasurementFailed("the held-connection client exited: "
                                    + self.proc.stderr.read().decode(errors="replace")[-300:])
        return json.loads(line)

    def owners(self):
        """{client port: member} before the change: from the switch's conntrack (the reply tuple
        of an established connection of this VIP names the member), else from the members' own
        sockets (`ss`, for a mode without conntrack). Each mode uses its own client ports, so
        neither sees a connection of an earlier mode."""
        by_ip = {ip: name for name, ip, _ in MEMBERS}
        found = {}
        for line in self.lab.switch.appctl("dpctl/dump-conntrack").splitlines():
            m = CT_ENTRY.search(line)
            if (m and m.group(1) == CLIENT_IP and m.group(2) == VIP and m.group(5) in by_ip
                    and int(m.group(6)) == self.vip_id):
                found[int(m.group(3))] = by_ip[m.group(5)]
        if set(self.ports) - set(found):
            seen = {}
            for name, _, _ in MEMBERS:
                out = self.lab.run(name, ["ss", "-Htn", "state", "established",
                                          f"( sport = :{VIP_PORT} )"]).stdout
                for line in out.splitlines():
                    address, _, port = line.split()[-1].rpartition(":")
                    if address == CLIENT_IP and int(port) in self.ports:
                        seen.setdefault(int(port), set()).add(name)
            for port, names in seen.items():
                if port not in found and len(names) == 1:
                    found[port] = names.pop()
        return {port: found.get(port, "?") for port in self.ports}

    def ask(self):
        """Send one request on every connection -> {client port: member or error}."""
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        answers = self._line(self.deadline.timeout(HELD_ANSWER_TIMEOUT_S + 15))
        return {int(port): got for port, got in answers.items()}

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()    # our own child, by its Popen handle
        self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


# -- the parts ----------------------------------------------------------------------------------

def evenness(lab, args, slots, deadline):
    clear_pins(lab)
    counts = ab_per_member(lab, args.connections, args.concurrency, deadline)
    total = sum(counts.values())
    mean = total / len(counts)
    return {"connections": total, "per_member": counts, "slots": slots,
            "max_over_mean": round(max(counts.values()) / mean, 4),
            "ideal_max_over_mean": ideal_max_over_mean(total, len(counts)),
            "target": TARGET_MAX_MEAN, "target_met": max(counts.values()) / mean <= TARGET_MAX_MEAN}


def ideal_max_over_mean(n, k):
    """What a perfect uniform hash would show at n connections over k members: the busiest
    member's count over the mean, median and 95th percentile, and how often it would exceed the
    target (each count ~ normal, independent: P(max <= x) = P(one <= x)^k)."""
    sd = (n / k * (1 - 1 / k)) ** 0.5 / (n / k)
    z = statistics.NormalDist()
    quantiles = {q: round(1 + z.inv_cdf(float(q) ** (1 / k)) * sd, 4) for q in ("0.5", "0.95")}
    return dict(quantiles, p_over_target=round(1 - z.cdf((TARGET_MAX_MEAN - 1) / sd) ** k, 3))


def weights(lab, args, slots, deadline):
    left = clear_pins(lab)
    counts = ab_per_member(lab, args.connections, args.concurrency, deadline)
    total = sum(counts.values())
    weight_sum = sum(WEIGHTS.values())
    shares = {}
    for name, weight in WEIGHTS.items():
        want, got = 100 * weight / weight_sum, 100 * counts[name] / total
        shares[name] = {"weight": weight, "connections": counts[name], "share_pct": round(got, 2),
                        "target_pct": round(want, 2), "error_pp": round(got - want, 2),
                        "slots": slots.get(name, 0)}
    others = {name: n for name, n in counts.items() if name not in WEIGHTS and n}
    worst = max(abs(s["error_pp"]) for s in shares.values())
    noise = max(100 * (p * (1 - p) / total) ** 0.5 for p in (w / weight_sum for w in WEIGHTS.values()))
    return {"connections": total, "members": shares, "outside_the_vip": others,
            "max_error_pp": worst, "sampling_sd_pp": round(noise, 2),
            "pins_left_by_part_a": left,
            "target_pp": TARGET_WEIGHT_PP, "target_met": worst <= TARGET_WEIGHT_PP and not others}


def source_ip(lab, args, slots, deadline):
    clear_pins(lab)
    one = ab_per_member(lab, max(args.connections // 5, 1), args.concurrency, deadline)
    on = {name: n for name, n in one.items() if n}
    result = {"one_address": {"address": CLIENT_IP, "connections": sum(one.values()), "members": on},
              "slots": slots}
    if args.sources:
        out = flows(lab, [[a, 0, PER_SOURCE] for a in source_addresses(args.sources)], deadline)
        seen = {}
        for source, _, got in out:
            if got in lab.hosts:
                seen.setdefault(source, Counter())[got] += 1
        split = sorted(source for source, members in seen.items() if len(members) > 1)
        home = Counter(next(iter(m)) for m in seen.values() if len(m) == 1)
        result["addresses"] = {"count": args.sources, "connections_each": PER_SOURCE,
                               "split": split, "members_reached": len(home),
                               "addresses_per_member": dict(sorted(home.items()))}
    result["sticky"] = len(on) == 1 and not result.get("addresses", {}).get("split")
    return result


def disruption(lab, controller, mode, vip_id, args, deadline):
    ports = range(FLOW_PORT_BASE, FLOW_PORT_BASE + args.flows)
    jobs = [[CLIENT_IP, FLOW_PORT_BASE, args.flows]]
    member_of = lambda out: {port: got for _, port, got in out}   # noqa: E731

    clear_pins(lab)
    a1 = member_of(flows(lab, jobs, deadline))
    clear_pins(lab)
    a2 = member_of(flows(lab, jobs, deadline))
    control = sum(1 for p in ports if a1.get(p) != a2.get(p))
    clear_pins(lab)

    held_ports = HELD_PORT_BASE + MODES.index(mode) * MAX_HELD
    held = HeldConnections(lab, held_ports, args.held, vip_id, deadline) if args.held else None
    try:
        before = held.owners() if held else {}
        survivors = [n for n, _, _ in MEMBERS if n != REMOVED]
        _, _, slots = apply(controller, lab, "PUT", vip_body(mode, {n: 1 for n in survivors}), deadline)
        after = held.ask() if held else {}
    finally:
        if held:
            held.close()
    clear_pins(lab)
    b = member_of(flows(lab, jobs, deadline))

    both = [p for p in ports if a2.get(p) in lab.hosts and b.get(p) in lab.hosts]
    moved = [p for p in both if a2[p] != b[p]]
    needless = [p for p in moved if a2[p] != REMOVED]
    on_removed = sum(1 for p in both if a2[p] == REMOVED)
    n = len(MEMBERS)
    limit = 1 / n + TARGET_MOVED_EXTRA
    established = None
    if held:
        kept = [p for p, owner in before.items() if owner in survivors]
        lost = [p for p, owner in before.items() if owner == REMOVED]
        established = {
            "opened": len(before), "owner_unknown": sum(1 for o in before.values() if o == "?"),
            "on_surviving_members": len(kept),
            "survived": sum(1 for p in kept if after.get(p) == before[p]),
            "broke": Counter(after.get(p, "no answer") if after.get(p) not in lab.hosts else "other member"
                             for p in kept if after.get(p) != before[p]),
            "on_removed_member": len(lost),
            "on_removed_member_answered": sum(1 for p in lost if after.get(p) == REMOVED),
            "on_removed_member_outcome": Counter(after.get(p, "no answer") if after.get(p) not in lab.hosts
                                                 else f"answered by {after[p]}" for p in lost),
        }
    return {"members_before": n, "removed": REMOVED, "slots_after": slots, "added_back": added_back(
                lab, controller, mode, vip_id, held_ports + args.held, args.held, deadline) if held else None,
            "flows": len(both), "control_changed": control,
            "on_removed_before": on_removed, "moved": len(moved),
            "moved_fraction": round(len(moved) / len(both), 4) if both else None,
            "moved_without_need": len(needless),
            "limit_fraction": round(limit, 4),
            "target_met": bool(both) and len(moved) / len(both) <= limit and control == 0,
            "established": established}


def added_back(lab, controller, mode, vip_id, first_port, count, deadline):
    """d (iii): `count` idle connections to the 7 members, then the removed member added back:
    every one must be answered afterwards by the member that held it."""
    held = HeldConnections(lab, first_port, count, vip_id, deadline)
    try:
        before = held.owners()
        apply(controller, lab, "PUT", vip_body(mode), deadline)
        after = held.ask()
    finally:
        held.close()
    known = {p: owner for p, owner in before.items() if owner in lab.hosts}
    return {"opened": len(before), "owner_unknown": len(before) - len(known),
            "survived": sum(1 for p, owner in known.items() if after.get(p) == owner),
            "broke": Counter(after.get(p, "no answer") if after.get(p) not in lab.hosts else "other member"
                             for p, owner in known.items() if after.get(p) != owner)}


def measure_mode(lab, controller, mode, args, deadline):
    members = [name for name, _, _ in MEMBERS]
    if mode == "dsr":
        for name in members:
            dsr.configure_member(lab, name, VIP)
    try:
        started = time.monotonic()
        status, doc, slots = apply(controller, lab, "POST", vip_body(mode), deadline)
        if status != 201:
            if status == 400:
                return {"available": False, "refused": (doc or {}).get("error", "")}
            raise MeasurementFailed(f"POST {VIP_NAME} ({mode}) answered {status}: {doc}")
        result = {"available": True}
        try:
            result["evenness"] = evenness(lab, args, slots, deadline)
            _, _, slots = apply(controller, lab, "PUT", vip_body(mode, WEIGHTS), deadline)
            result["weights"] = weights(lab, args, slots, deadline)
            _, _, slots = apply(controller, lab, "PUT", vip_body(mode, algorithm="source_ip"), deadline)
            result["source_ip"] = source_ip(lab, args, slots, deadline)
            apply(controller, lab, "PUT", vip_body(mode), deadline)
            result["disruption"] = disruption(lab, controller, mode, doc["id"], args, deadline)
            result["seconds"] = round(time.monotonic() - started, 1)
        finally:
            controller.call("DELETE", f"/v1/vips/{VIP_NAME}")
        # Measured only when the mode was (after a failure the lab goes anyway).
        time.sleep(DELETE_SETTLE_S)
        result["pins_left_by_delete"] = len(pins(lab))
        clear_pins(lab)   # the next mode starts clean
        return result
    finally:
        if mode == "dsr":
            for name in members:
                dsr.unconfigure_member(lab, name, VIP)


def measure(args, workdir):
    deadline = Deadline(TIME_BUDGET_S)
    with started_lab(workdir, "hb") as lab:
        build(lab, args.sources)
        vips_file = workdir / "vips.yaml"
        vips_file.write_text("vips: []\n")
        controller = Controller(lab, free_tcp_port(), vips_file).start()
        return {mode: measure_mode(lab, controller, mode, args, deadline) for mode in args.modes}


def summary(args, info, results):
    return {"benchmark": "hashing", "machine": info,
            "parameters": {"modes": args.modes, "connections": args.connections,
                           "concurrency": args.concurrency, "flows": args.flows, "held": args.held,
                           "sources": args.sources, "vip": f"{VIP}:{VIP_PORT}", "removed": REMOVED,
                           "weights": WEIGHTS, "snat_pool": SNAT_POOL},
            "modes": results}


# -- output -------------------------------------------------------------------------------------

def met(flag):
    return "met" if flag else "MISSED"


def spread_text(counts):
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def print_text(s):
    p, m = s["parameters"], s["machine"]
    print(f"lbctl hashing: VIP {VIP}:{VIP_PORT}, members m1..m8 "
          f"({MEMBERS[0][1]}-{MEMBERS[-1][1].split('.')[-1]}), "
          f"{p['connections']} connections per ab run (-c {p['concurrency']}), "
          f"{p['flows']} fixed 5-tuples, {p['held']} held connections, {p['sources']} extra client addresses")
    print(machine_text(m))
    for mode, r in s["modes"].items():
        if not r["available"]:
            print(f"mode {mode}: not available: {r['refused']}")
            continue
        print(f"mode {mode} ({r['seconds']} s)")
        e = r["evenness"]
        ideal = e["ideal_max_over_mean"]
        print(f"  a. evenness, 8 members of weight 1, {e['connections']} connections: max/mean "
              f"{e['max_over_mean']:.3f}   target <= {TARGET_MAX_MEAN}: {met(e['target_met'])}")
        print(f"     per member: {spread_text(e['per_member'])}")
        print(f"     switch slots: {spread_text(e['slots'])}")
        print(f"     a perfect uniform hash at this count: max/mean p50 {ideal['0.5']:.3f}, "
              f"p95 {ideal['0.95']:.3f}, "
              f"over {TARGET_MAX_MEAN} in {100 * ideal['p_over_target']:.0f} % of runs")
        w = r["weights"]
        parts = ", ".join(f"{name} {x['share_pct']:.1f} % (want {x['target_pct']:.1f}, slots {x['slots']})"
                          for name, x in w["members"].items())
        print(f"  b. weights 1:2:3, {w['connections']} connections: {parts}")
        print(f"     max error {w['max_error_pp']:.2f} pp (sampling sd {w['sampling_sd_pp']:.2f} pp)   "
              f"target <= {TARGET_WEIGHT_PP:.0f} pp: {met(w['target_met'])}"
              + (f"; outside the VIP: {spread_text(w['outside_the_vip'])}" if w["outside_the_vip"] else ""))
        if w["pins_left_by_part_a"]["pins"]:
            left = w["pins_left_by_part_a"]
            print(f"     learned pins of part a's closed connections still in the switch when b began: "
                  f"{left['pins']} ({left['never_matched']} with n_packets=0); deleted")
        c = r["source_ip"]
        one = c["one_address"]
        print(f"  c. source_ip: {one['connections']} connections from {one['address']}: on "
              f"{len(one['members'])} member(s) ({spread_text(one['members'])})")
        if "addresses" in c:
            a = c["addresses"]
            print(f"     {a['count']} client addresses x {a['connections_each']} connections: "
                  f"{a['count'] - len(a['split'])} of {a['count']} addresses on one member"
                  + (f" (split: {', '.join(a['split'])})" if a["split"] else "")
                  + f"; {a['members_reached']} of 8 members reached; addresses per member: "
                  f"{spread_text(a['addresses_per_member'])}")
        print(f"     sticky: {'yes' if c['sticky'] else 'NO'}")
        d = r["disruption"]
        print(f"  d. removing {d['removed']} of {d['members_before']} members (slots after: "
              f"{spread_text(d['slots_after'])})")
        est = d["established"]
        if est:
            broke = sum(est["broke"].values())
            print(f"     (i)  established: {est['opened']} open idle connections; "
                  f"{est['on_surviving_members']} on surviving members: {est['survived']} answered by the "
                  f"same member after the change, {broke} broke"
                  + (f" ({dict(est['broke'])})" if broke else "")
                  + f"; {est['on_removed_member']} on {d['removed']}: "
                  + ", ".join(f"{n} {what}" for what, n in sorted(est["on_removed_member_outcome"].items()))
                  + (f"; owner unknown: {est['owner_unknown']}" if est["owner_unknown"] else ""))
        frac = d["moved_fraction"]
        print(f"     (ii) new connections, the same {d['flows']} 5-tuples before and after: "
              f"{d['moved']} changed member = {100 * frac:.2f} %; {d['on_removed_before']} "
              f"({100 * d['on_removed_before'] / d['flows']:.2f} %) were on {d['removed']}; "
              f"{d['moved_without_need']} moved without need   "
              f"target <= {100 * d['limit_fraction']:.1f} %: {met(d['target_met'])}")
        print(f"          control, the same 5-tuples twice with no change: {d['control_changed']} of "
              f"{d['flows']} changed member")
        back = d["added_back"]
        if back:
            broke = sum(back["broke"].values())
            print(f"     (iii) adding {d['removed']} back: {back['opened']} open idle connections on the others: "
                  f"{back['survived']} answered by the same member after the change, {broke} broke"
                  + (f" ({dict(back['broke'])})" if broke else "")
                  + (f"; owner unknown: {back['owner_unknown']}" if back["owner_unknown"] else ""))
        if r["pins_left_by_delete"]:
            print(f"  after DELETE of the VIP, {r['pins_left_by_delete']} learned pins were still in the "
                  f"switch "
                  f"(deleted before the next mode)")


def modes(text):
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in chosen if m not in MODES]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"{text}: a comma-separated list of {', '.join(MODES)}")
    return list(dict.fromkeys(chosen))


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--modes", type=modes, default=list(MODES),
                        help="modes to measure, in order (default routed,dsr,one-arm)")
    parser.add_argument("--connections", "-n", type=bounded(int, 100, 50000), default=10000,
                        help="connections of each ab run in parts a and b (default 10000)")
    parser.add_argument("--concurrency", "-c", type=bounded(int, 1, 64), default=16,
                        help="ab's concurrent connections (default 16)")
    parser.add_argument("--flows", type=bounded(int, 100, MAX_FLOWS), default=2000,
                        help="fixed 5-tuples sent before and after a member is removed (default 2000)")
    parser.add_argument("--held", type=bounded(int, 0, MAX_HELD // 2), default=200,
                        help="connections held open across the removal, and again across adding the member "
                             "back (default 200; 0: skip)")
    parser.add_argument("--sources", type=bounded(int, 0, MAX_SOURCES), default=32,
                        help="extra client addresses for source_ip (default 32; 0: skip)")
    return run("hashing", parser.parse_args(argv), measure, summary, print_text, needs_ab=True)


if __name__ == "__main__":
    sys.exit(main())
