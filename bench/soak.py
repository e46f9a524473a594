"""A soak: new TCP connections through a routed VIP for minutes on end while its members are
added, drained, restored, removed and re-added over REST. A measurement: it prints figures and
asserts nothing.

    sudo .venv/bin/python -m bench.soak [--minutes 10] [--rate 100] [--seed 1] [--no-changes] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace,
the standard topology of lab/topology.py: client 198.18.0.10, members m1..m3 .11-.13, each with
nginx answering its own name) and the real controller, `ryu-manager lbctl_app`, started with one
VIP, `soak` 198.18.0.100:80 tcp routed -> m1, m2, m3 port 80 weight 1 (shared subnet: the switch
catches the members' replies by their source).

The client: a Python asyncio script in the client namespace opens --rate new connections a second
for the whole run, paced (a connection due more than 1 s late is skipped, not sent in a burst) and
bounded (at most MAX_IN_FLIGHT open at once; a connection due while that many are open is
skipped). Each connection connects (3 s timeout; its client port, as the kernel picks it for
connect(), is read as the SYN leaves, so a failed connection has one too), waits a random 0-1 s
(seeded) so that connections are in flight when the members change, sends `GET /` with
`Connection: close`, and reads the answer to its end (5 s timeout). It records start and end
(CLOCK_MONOTONIC, which the script shares), client port, and the member that answered or the
error with the phase it happened in.

The changes: at random intervals (seeded, 4-16 s apart, the first after 10 s), one PUT
/v1/vips/soak with a changed member list. The first change is always `add`: a fourth host m4
(198.18.0.14, OpenFlow port 5) is brought up with nginx and added. After that, uniformly among
the kinds possible at the moment: `drain` (weight 0), `restore` (weight 1 again), `remove` and
`re-add` (weight 1). A change never leaves the VIP without a member of weight > 0. After each PUT
the script waits until the switch holds exactly what the controller computes (lab/lbctl.py:
switch_text against expected_switch_text, bucket order aside; `add` first waits for the controller
to locate m4) and reads the switch's conntrack (zone 64): which member each client port's
connection was NATed to. For the last 15 s the VIP has its initial members again.

A failed connection is an *expected cut* when it was in flight during a change that removed a
member (`remove`, or the return to the initial members at the end; started before the switch held
the change, still open when the PUT was sent) and conntrack had it on the removed member, or had
no entry for its client port at all (its SYN never got through; the member is then unknown and the
cut is counted apart). Every other failure is *unexpected* (target 0): in particular any failure
of a connection in flight on a member being drained. Unexpected failures on a client port that
carried an expected cut, with no connection on it answered since, are counted apart: a cut
connection's conntrack entry is never closed (the member's packets no longer pass the switch's
conntrack), and Open vSwitch takes a SYN on the same 5-tuple for an invalid packet of that entry.
For each connection whose SYN went unanswered (the first MAX_SYN_LOOKS), the script reads
conntrack's entry for its client port right after the failure. `--no-changes` runs the same load
with the members left alone: a control for what one client reusing its ports costs by itself.

Every 10 s a sample: the controller's RSS (VmRSS of the ryu-manager process the lab started) and
CPU time, ovs-vswitchd's RSS, the switch's flow count (dump-aggregate) and group count, and the
userspace datapath's conntrack entries (dpctl/ct-get-nconns; zone 64's by TCP state). Reported:
first and last samples, the growth (and a least-squares slope) of the controller's RSS, and for
each member configuration the flow and group counts seen under it (in routed mode no flow depends
on the number of connections: each configuration should show one count). At the end, with the
initial members back and the client stopped, the switch's flows are compared with those at the
start (the lines that differ are printed) and with what the controller computes.

Exit status: 0 when measured, whatever the figures; 1 when the measurement itself failed (the lab
or the controller would not start, the controller or the client exited during the run, a REST
change was refused, the time budget ran out); 130 on Ctrl-C. The lab is removed in every case; the
workdir (logs, the client's connections.jsonl) is kept only when the measurement failed.
"""

import json
import random
import re
import statistics
import sys
import time
from collections import Counter

from bench.lib import (Deadline, MeasurementFailed, bench_parser, bounded, controller_stats,
                       cpu_seconds, flow_count, lab_pid, machine_text, memory_kb, run, started_lab)
from flows.pipeline import LB_ZONE
from lab import free_tcp_port, topology
from lab.lbctl import Controller, shares, switch_text

VIP_NAME = "soak"
VIP_ADDRESS = topology.DEMO_VIP
VIP_PORT = 80
CLIENT, CLIENT_IP, _ = topology.CLIENT
INITIAL_MEMBERS = tuple(name for name, _, _ in topology.MEMBERS)      # m1, m2, m3
EXTRA_MEMBER = ("m4", "198.18.0.14", 5)                              # brought up by the first change

MAX_IN_FLIGHT = 1000           # the client's bound on open connections
MAX_SYN_LOOKS = 200            # conntrack looks for connections whose SYN went unanswered
HOLD_MAX_S = 1.0               # each connection waits 0..this before its request
CONNECT_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 5.0         # a cut connection ends with this timeout
SAMPLE_EVERY_S = 10.0
FIRST_CHANGE_AFTER_S = 10.0    # a sample or two under the initial members and load first
CHANGE_GAP_S = (4.0, 16.0)     # uniform, seeded
RESTORE_BEFORE_END_S = 15.0    # the initial members again for the end of the run
APPLY_TIMEOUT_S = 10.0         # PUT -> the switch holds what the controller computes
SETUP_BUDGET_S = 240           # lab, controller, final waits and checks, besides --minutes

# `ovs-appctl dpctl/dump-conntrack`: the client port of the request, the member in the reply
# tuple, the VIP's ct_mark and the TCP state.
CT_ENTRY = re.compile(r"orig=\(src=([\d.]+),dst=([\d.]+),sport=(\d+),dport=(\d+)\),"
                      r"reply=\(src=([\d.]+),.*?\bmark=(\d+)")
CT_STATE = re.compile(r"state=(\w+)")
NAT_EXHAUSTED = "Unable to NAT due to tuple space exhaustion"  # ovs-vswitchd.log, rate-limited

# Runs in the client namespace: paced, bounded new connections for a number of seconds; one JSON
# line per connection [start, end, client port, member or null, error or null] to a file, then a
# line {"summary": ...}.
CLIENT_SCRIPT = r"""
import asyncio, errno, json, random, signal, socket, sys, time
(vip, port, rate, seconds, hold_max, seed, out_path, max_in_flight,
 connect_timeout, answer_timeout) = sys.argv[1:11]
port, rate, seconds, hold_max, max_in_flight = int(port), float(rate), float(seconds), float(hold_max), int(max_in_flight)
connect_timeout, answer_timeout = float(connect_timeout), float(answer_timeout)
signal.alarm(int(seconds + connect_timeout + hold_max + answer_timeout + 60))   # never outlives the benchmark
REQUEST = b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
rng = random.Random(seed)
out = open(out_path, "w")
in_flight = 0

async def one(hold):
    global in_flight
    loop = asyncio.get_running_loop()
    start, sport, member, error, phase = time.monotonic(), None, None, None, "connect"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        # connect() picks the client port as a client would (not bind(): its random ports come
        # back within seconds); it is known as soon as the SYN is sent.
        code = sock.connect_ex((vip, port))
        sport = sock.getsockname()[1]
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, "connect")
        writable = loop.create_future()
        loop.add_writer(sock, lambda: writable.done() or writable.set_result(None))
        try:
            await asyncio.wait_for(writable, connect_timeout)
        finally:
            loop.remove_writer(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, "connect")
        phase = "hold"
        await asyncio.sleep(hold)
        phase = "request"
        await loop.sock_sendall(sock, REQUEST)
        phase = "answer"
        async def read_all():
            data = b""
            while True:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    return data
                data += chunk
        data = await asyncio.wait_for(read_all(), answer_timeout)
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200 ") and body.strip():
            member = body.decode(errors="replace").strip()
        else:
            error = "answer: not a 200 with a body: %r" % data[:60]
    except asyncio.TimeoutError:
        error = phase + ": timeout"
    except OSError as e:
        error = "%s: %s" % (phase, errno.errorcode.get(e.errno, type(e).__name__))
    finally:
        sock.close()
        in_flight -= 1
    out.write(json.dumps([round(start, 4), round(time.monotonic(), 4), sport, member, error]) + "\n")
    out.flush()   # the benchmark reads along

async def main():
    global in_flight
    tasks, started, late, busy = set(), 0, 0, 0
    t0 = time.monotonic()
    i = 0
    while i / rate < seconds:
        due = t0 + i / rate
        i += 1
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:
            late += 1
            continue
        if in_flight >= max_in_flight:
            busy += 1
            continue
        in_flight += 1
        task = asyncio.create_task(one(rng.uniform(0, hold_max)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        started += 1
    if tasks:
        await asyncio.wait(set(tasks))
    out.write(json.dumps({"summary": {"due": i, "started": started, "skipped_late": late,
                                      "skipped_in_flight_bound": busy, "first": t0,
                                      "seconds": time.monotonic() - t0}}) + "\n")
    out.close()

asyncio.run(main())
"""


def vip_body(members):
    """The VIP with `members` ({host name: weight})."""
    address = {name: ip for name, ip, _ in (*topology.MEMBERS, EXTRA_MEMBER)}
    return {"name": VIP_NAME, "address": VIP_ADDRESS, "port": VIP_PORT, "protocol": "tcp",
            "mode": "routed",
            "members": [{"address": address[name], "port": VIP_PORT, "weight": weight}
                        for name, weight in sorted(members.items())]}


def config_text(members):
    """A member configuration as the summary shows it: `m1 m2:0 m3` (`:0` drained)."""
    return " ".join(name if weight else f"{name}:0" for name, weight in sorted(members.items()))


# -- what the switch and the controller hold ----------------------------------------------------

def flow_and_group_counts(lab):
    flows = flow_count(lab)
    groups = sum(1 for line in lab.ofctl("dump-groups").splitlines() if "group_id=" in line)
    return flows, groups


def conntrack_lines(lab):
    return lab.switch.appctl("dpctl/dump-conntrack", f"zone={LB_ZONE}").splitlines()


def conntrack_states(lines):
    """{TCP state: entries} of a conntrack dump."""
    return dict(sorted(Counter(m.group(1) if (m := CT_STATE.search(line)) else "?"
                               for line in lines).items()))


def conntrack_owners(lab, vip_id, names_by_ip):
    """{client port: member name} for every entry of the VIP in conntrack zone LB_ZONE."""
    owners = {}
    for line in conntrack_lines(lab):
        m = CT_ENTRY.search(line)
        if (m and m.group(1) == CLIENT_IP and m.group(2) == VIP_ADDRESS
                and int(m.group(6)) == vip_id and m.group(5) in names_by_ip):
            owners[int(m.group(3))] = names_by_ip[m.group(5)]
    return owners


def consistent(lab, controller):
    """The lines in which the switch and the controller's computation differ (bucket and slot
    order aside): [] when the switch holds exactly what it should."""
    actual = shares(switch_text(lab))
    expected = shares(controller.expected_switch_text().splitlines())
    return sorted(set(actual) ^ set(expected))


def wait_consistent(lab, controller, deadline):
    """Until the switch holds what the controller computes -> (seconds waited, differing lines)."""
    start = time.monotonic()
    give_up = start + deadline.timeout(APPLY_TIMEOUT_S)
    while True:
        differ = consistent(lab, controller)
        if not differ or time.monotonic() > give_up:
            return time.monotonic() - start, differ
        time.sleep(0.05)


class Soak:
    """The lab under test, its controller and the log of what was done to it."""

    def __init__(self, lab, controller, vip_id, args, deadline):
        self.lab, self.controller, self.vip_id, self.deadline = lab, controller, vip_id, deadline
        self.rng = random.Random(args.seed)
        self.members = dict.fromkeys(INITIAL_MEMBERS, 1)
        self.out_of_vip = []          # hosts up but not members (m4 once it exists and is removed)
        self.controller_pid = lab_pid(lab, "controller")
        self.switch_pid = lab_pid(lab, "ovs-vswitchd")
        self.names_by_ip = {ip: name for name, ip, _ in topology.MEMBERS}
        self.origin = time.monotonic()
        self.changes = []
        self.samples = []
        self.syn_looks = {}           # (client port, start) -> conntrack lines right after the failure
        self._read_at = 0

    def look_at_failed_syns(self, out_path):
        """Read the client's new records; for each connection whose SYN went unanswered, what
        conntrack holds for its client port now (a few seconds after the SYN)."""
        try:
            with open(out_path, "rb") as f:
                f.seek(self._read_at)
                chunk = f.read()
        except FileNotFoundError:
            return
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self._read_at += len(complete)
        failed = []
        for line in complete.decode().splitlines():
            if line.startswith("["):
                record = json.loads(line)
                if record[4] and record[4].startswith("connect") and record[2]:
                    failed.append(record)
        if not failed or len(self.syn_looks) >= MAX_SYN_LOOKS:
            return
        by_port = {}
        for line in conntrack_lines(self.lab):
            m = CT_ENTRY.search(line)
            if m and m.group(1) == CLIENT_IP:
                by_port.setdefault(int(m.group(3)), []).append(line.strip())
        for record in failed[:MAX_SYN_LOOKS - len(self.syn_looks)]:
            self.syn_looks[(record[2], record[0])] = by_port.get(record[2], [])

    def at(self, t=None):
        return round((time.monotonic() if t is None else t) - self.origin, 3)

    def sample(self):
        try:
            rss = memory_kb(self.controller_pid)
        except MeasurementFailed:
            raise MeasurementFailed(f"the controller (pid {self.controller_pid}) exited at "
                                    f"t={self.at():.0f} s") from None
        flows, groups = flow_and_group_counts(self.lab)
        self.samples.append({
            "t": self.at(), "controller_rss_kb": rss,
            "controller_cpu_s": round(cpu_seconds(self.controller_pid), 2),
            "vswitchd_rss_kb": memory_kb(self.switch_pid), "flows": flows, "groups": groups,
            "conntrack": int(self.lab.switch.appctl("dpctl/ct-get-nconns").strip()),
            "conntrack_states": conntrack_states(conntrack_lines(self.lab)),
            "members": config_text(self.members)})

    # -- changes ----------------------------------------------------------------------------

    def possible(self):
        """[(kind, member)] of the changes allowed now."""
        live = [m for m, w in self.members.items() if w > 0]
        moves = []
        if EXTRA_MEMBER[0] not in self.members and EXTRA_MEMBER[0] not in self.out_of_vip:
            moves.append(("add", EXTRA_MEMBER[0]))
        moves += [("re-add", m) for m in self.out_of_vip]
        if len(live) > 1:
            moves += [("drain", m) for m in live]
        moves += [("restore", m) for m, w in self.members.items() if w == 0]
        moves += [("remove", m) for m, w in self.members.items() if w == 0 or len(live) > 1]
        return moves

    def random_change(self):
        moves = self.possible()
        if not self.changes and ("add", EXTRA_MEMBER[0]) in moves:
            return ("add", EXTRA_MEMBER[0])
        kinds = sorted({kind for kind, _ in moves})
        kind = self.rng.choice(kinds)
        return kind, self.rng.choice(sorted(m for k, m in moves if k == kind))

    def change(self, kind, member):
        if kind == "add":
            name, ip, ofport = EXTRA_MEMBER
            self.lab.add_host(name, ip, topology.PREFIXLEN, ofport=ofport)
            self.lab.start_http(name)
            self.names_by_ip[ip] = name
        members = dict(self.members)
        if kind in ("add", "re-add", "restore"):
            members[member] = 1
        elif kind == "drain":
            members[member] = 0
        elif kind == "remove":
            del members[member]
        self.apply(kind, member, members)

    def restore_initial(self):
        members = dict.fromkeys(INITIAL_MEMBERS, 1)
        if members != self.members:
            self.apply("initial", " ".join(INITIAL_MEMBERS), members)

    def apply(self, kind, member, members):
        put_at = time.monotonic()
        status, doc = self.controller.call("PUT", f"/v1/vips/{VIP_NAME}", vip_body(members))
        answered_at = time.monotonic()
        if status != 200:
            raise MeasurementFailed(f"PUT {VIP_NAME} ({kind} {member}) answered {status}: {doc}")
        previous = self.members
        self.members = members
        removed = sorted(set(previous) - set(members))
        drained = sorted(m for m, w in members.items() if w == 0 and previous.get(m, 0) > 0)
        self.out_of_vip = sorted((set(self.out_of_vip) | set(removed)) - set(members))
        if kind == "add":
            self.controller.wait_resolved(VIP_NAME)
        waited, differ = wait_consistent(self.lab, self.controller, self.deadline)
        applied_at = time.monotonic()
        record = {"t": self.at(put_at), "kind": kind, "member": member,
                  "members": config_text(members),
                  "rest_ms": round(1000 * (answered_at - put_at), 1),
                  "to_switch_ms": round(1000 * (applied_at - put_at), 1) if not differ else None,
                  "not_consistent": differ[:10],
                  "removed": removed, "drained": drained,
                  "put_at": put_at, "applied_at": applied_at, "owners": {}}
        if removed or drained:
            record["owners"] = conntrack_owners(self.lab, self.vip_id, self.names_by_ip)
        self.changes.append(record)


def run_soak(lab, controller, vip_id, args, deadline, workdir):
    soak = Soak(lab, controller, vip_id, args, deadline)
    seconds = args.minutes * 60
    start_text = switch_text(lab)
    start_counts = flow_and_group_counts(lab)
    out_path = workdir / "connections.jsonl"
    client = lab.spawn(CLIENT, "soak-client", [
        sys.executable, "-c", CLIENT_SCRIPT, VIP_ADDRESS, VIP_PORT, args.rate, seconds,
        HOLD_MAX_S, args.seed, out_path, MAX_IN_FLIGHT, CONNECT_TIMEOUT_S, ANSWER_TIMEOUT_S])
    soak.origin = time.monotonic()
    changes_end = soak.origin + seconds - RESTORE_BEFORE_END_S
    next_sample = soak.origin
    next_change = soak.origin + FIRST_CHANGE_AFTER_S
    restored = False
    while True:
        now = time.monotonic()
        if client.poll() is not None:
            break
        deadline.check()
        if now >= next_sample:
            soak.sample()
            next_sample += SAMPLE_EVERY_S
        if args.changes and now >= next_change and now < changes_end:
            soak.change(*soak.random_change())
            next_change = time.monotonic() + soak.rng.uniform(*CHANGE_GAP_S)
        if now >= changes_end and not restored:
            soak.restore_initial()
            restored = True
        soak.look_at_failed_syns(out_path)
        time.sleep(0.2)
    if client.returncode != 0:
        raise MeasurementFailed(f"the client exited with {client.returncode}: "
                                + (workdir / "soak-client.log").read_text(errors="replace")[-400:])
    if not restored:
        soak.restore_initial()
    soak.sample()
    end_waited, end_differ = wait_consistent(lab, controller, deadline)
    end_text = switch_text(lab)
    end_conntrack = conntrack_lines(lab)
    switch_log = (workdir / "ovs-vswitchd.log").read_text(errors="replace")
    stats = controller_stats(controller)
    lines = out_path.read_text().splitlines()
    summary = json.loads(lines[-1])["summary"] if lines and lines[-1].startswith('{"summary"') else None
    if summary is None:
        raise MeasurementFailed(f"the client wrote no summary to {out_path}")
    records = [json.loads(line) for line in lines[:-1]]
    return {"soak": soak, "records": records, "client": summary,
            "start_counts": start_counts, "end_counts": flow_and_group_counts(lab),
            "start_text": start_text, "end_text": end_text, "end_differ": end_differ,
            "stats": stats, "refusals": controller.refusals(), "end_conntrack": end_conntrack,
            "nat_exhaustion_log_lines": switch_log.count(NAT_EXHAUSTED),
            "switch_log_warnings": [line for line in switch_log.splitlines()
                                    if "|WARN|" in line or "|ERR|" in line][-20:]}


def measure(args, workdir):
    deadline = Deadline(args.minutes * 60 + SETUP_BUDGET_S)
    with started_lab(workdir, "sk") as lab:
        topology.build(lab)
        vips_file = workdir / "vips.yaml"
        # JSON is YAML: the one VIP, as a REST body.
        vips_file.write_text(json.dumps({"vips": [vip_body(dict.fromkeys(INITIAL_MEMBERS, 1))]}))
        controller = Controller(lab, free_tcp_port(), vips_file).start()
        controller.wait_resolved(VIP_NAME)
        vip_id = controller.call("GET", f"/v1/vips/{VIP_NAME}")[1]["id"]
        waited, differ = wait_consistent(lab, controller, deadline)
        if differ:
            raise MeasurementFailed("after start the switch does not hold what the controller "
                                    f"computes: {differ[:5]}")
        return run_soak(lab, controller, vip_id, args, deadline, workdir)


# -- the figures --------------------------------------------------------------------------------

def in_flight(record, change):
    """True if the connection was open while the change was made."""
    start, end = record[0], record[1]
    return start <= change["applied_at"] and end >= change["put_at"]


def classify(records, changes):
    """Every failed connection -> expected cut, or unexpected (apart: a SYN on the client port of
    an earlier cut, whose conntrack entry may still be open); and per member drained or removed,
    what happened to the connections in flight on it."""
    removals = [c for c in changes if c["removed"]]
    expected_seen, expected_unknown, other = [], [], []
    for record in records:
        if record[4] is None:
            continue
        reason = None
        for change in removals:
            if not in_flight(record, change):
                continue
            owner = change["owners"].get(record[2])
            if owner in change["removed"]:
                reason = "seen"
                break
            if owner is None:
                reason = "unknown"
        (expected_seen if reason == "seen" else
         expected_unknown if reason == "unknown" else other).append(record)
    cut = {id(r) for r in expected_seen + expected_unknown}
    previous = previous_on_port(records)
    # A port is spoilt from its cut until a connection on it is answered again.
    spoilt, after_cut_ids = set(), set()
    for record in sorted(records, key=lambda r: r[0]):
        if id(record) in cut:
            spoilt.add(record[2])
        elif record[4] is None:
            spoilt.discard(record[2])
        elif record[2] in spoilt:
            after_cut_ids.add(id(record))
    after_cut = [r for r in other if id(r) in after_cut_ids]
    unexpected = [r for r in other if id(r) not in after_cut_ids]
    per_member = []
    for change in changes:
        for kind, members in (("drain", change["drained"]), ("remove", change["removed"])):
            for member in members:
                on_member = [r for r in records if in_flight(r, change)
                             and (r[3] == member or change["owners"].get(r[2]) == member)]
                per_member.append({"t": change["t"], "kind": kind, "member": member,
                                   "in_flight_on_member": len(on_member),
                                   "answered": sum(1 for r in on_member if r[4] is None),
                                   "failed": sum(1 for r in on_member if r[4] is not None),
                                   "failed_port_of_a_cut": sum(1 for r in on_member
                                                               if id(r) in after_cut_ids),
                                   "failures": sorted({r[4] for r in on_member if r[4]})})
    return expected_seen, expected_unknown, after_cut, unexpected, previous, cut, per_member


def port_reuse_gaps(records):
    """{id(record): seconds from the end of the last connection on its client port to its start}
    for every connection whose port was used before."""
    last_end, gaps = {}, {}
    for record in sorted(records, key=lambda r: r[0]):
        if record[2] in last_end:
            gaps[id(record)] = record[0] - last_end[record[2]]
        last_end[record[2]] = record[1]
    return gaps


def previous_on_port(records):
    """{id(record): the connection before it on its client port} where there was one."""
    last, previous = {}, {}
    for record in sorted(records, key=lambda r: r[0]):
        if record[2] in last:
            previous[id(record)] = last[record[2]]
        last[record[2]] = record
    return previous


def slope_per_minute(points):
    """Least-squares slope of (t seconds, value) points, per minute."""
    if len(points) < 2:
        return None
    ts, vs = [p[0] for p in points], [p[1] for p in points]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    var = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / var if var else None


def summarize(args, info, measured):
    soak, records = measured["soak"], measured["records"]
    origin = soak.origin
    (expected_seen, expected_unknown, after_cut, unexpected, previous, cut,
     per_change) = classify(records, soak.changes)
    failed = [r for r in records if r[4] is not None]
    by_config = {}
    for s in soak.samples:
        entry = by_config.setdefault(s["members"], {"samples": 0, "flows": set(), "groups": set()})
        entry["samples"] += 1
        entry["flows"].add(s["flows"])
        entry["groups"].add(s["groups"])
    first, last = soak.samples[0], soak.samples[-1]
    rss = [(s["t"], s["controller_rss_kb"]) for s in soak.samples]
    later_half = [p for p in rss if p[0] >= rss[-1][0] / 2]
    start_lines, end_lines = set(shares(measured["start_text"])), set(shares(measured["end_text"]))
    durations = sorted(r[1] - r[0] for r in records if r[4] is None)
    reuse = port_reuse_gaps(records)
    end_ct_by_port = {}
    for line in measured["end_conntrack"]:
        m = CT_ENTRY.search(line)
        if m and m.group(1) == CLIENT_IP:
            end_ct_by_port.setdefault(int(m.group(3)), []).append(line.strip())

    def when(record):
        return round(record[0] - origin, 3)

    def failure(record):
        gap = reuse.get(id(record))
        before = previous.get(id(record))
        return {"t_start": when(record), "t_end": round(record[1] - origin, 3),
                "client_port": record[2], "error": record[4],
                "port_last_used_s_before": round(gap, 1) if gap is not None else None,
                "port_last_use": None if before is None else {
                    "t_start": when(before), "answered_by": before[3], "error": before[4],
                    "expected_cut": id(before) in cut},
                "conntrack_after_failure": soak.syn_looks.get((record[2], record[0])),
                "conntrack_at_end": end_ct_by_port.get(record[2], [])}

    return {
        "benchmark": "soak",
        "machine": info,
        "parameters": {"minutes": args.minutes, "rate_per_s": args.rate, "seed": args.seed,
                       "changes": args.changes,
                       "hold_max_s": HOLD_MAX_S, "connect_timeout_s": CONNECT_TIMEOUT_S,
                       "answer_timeout_s": ANSWER_TIMEOUT_S, "max_in_flight": MAX_IN_FLIGHT,
                       "vip": f"{VIP_ADDRESS}:{VIP_PORT} tcp routed",
                       "change_gap_s": list(CHANGE_GAP_S), "sample_every_s": SAMPLE_EVERY_S},
        "connections": {
            "due": measured["client"]["due"], "made": len(records),
            "skipped_late": measured["client"]["skipped_late"],
            "skipped_in_flight_bound": measured["client"]["skipped_in_flight_bound"],
            "answered": len(records) - len(failed), "failed": len(failed),
            "expected_cuts": len(expected_seen) + len(expected_unknown),
            "expected_cuts_member_seen": len(expected_seen),
            "expected_cuts_member_unknown": len(expected_unknown),
            "unexpected_failures": len(unexpected) + len(after_cut),
            "unexpected_on_port_of_a_cut": len(after_cut),
            "unexpected_other": len(unexpected),
            "failure_kinds": dict(Counter(r[4] for r in failed).most_common()),
            "per_member": dict(sorted(Counter(r[3] for r in records if r[3]).items())),
            "answered_duration_ms": {
                "p50": round(1000 * durations[len(durations) // 2], 1) if durations else None,
                "max": round(1000 * durations[-1], 1) if durations else None},
            "unexpected": [failure(r) for r in unexpected[:50]],
            "unexpected_on_port_of_a_cut_first": [failure(r) for r in after_cut[:10]],
            # A client port used again while conntrack may still hold its last connection
            # (100 connections/s keep about 3,000 entries: closed ones stay about 30 s).
            "client_port_reuse_min_gap_s": round(min(reuse.values()), 1) if reuse else None,
            "client_port_reused_within_60_s": sum(1 for g in reuse.values() if g < 60),
        },
        "changes": [{k: v for k, v in c.items() if k not in ("put_at", "applied_at", "owners")}
                    for c in soak.changes],
        "in_flight_at_changes": per_change,
        "samples": soak.samples,
        "controller_rss_kb": {"first": first["controller_rss_kb"], "last": last["controller_rss_kb"],
                              "min": min(v for _, v in rss), "max": max(v for _, v in rss),
                              "growth": last["controller_rss_kb"] - first["controller_rss_kb"],
                              "slope_per_min": round(slope_per_minute(rss) or 0, 1),
                              "slope_per_min_later_half": round(slope_per_minute(later_half) or 0, 1)},
        "switch_by_member_config": {config: {"samples": e["samples"], "flows": sorted(e["flows"]),
                                             "groups": sorted(e["groups"])}
                                    for config, e in by_config.items()},
        "switch_initial_members": {
            "start": {"flows": measured["start_counts"][0], "groups": measured["start_counts"][1]},
            "end": {"flows": measured["end_counts"][0], "groups": measured["end_counts"][1]},
            "only_at_start": sorted(start_lines - end_lines),
            "only_at_end": sorted(end_lines - start_lines)},
        "conntrack_at_end": {"entries": len(measured["end_conntrack"]),
                             "states": conntrack_states(measured["end_conntrack"])},
        "nat_exhaustion_log_lines": measured["nat_exhaustion_log_lines"],
        "switch_log_warnings": measured["switch_log_warnings"],
        "end_switch_equals_controller": not measured["end_differ"],
        "end_differences": measured["end_differ"][:20],
        "changes_not_consistent_within_s": sum(1 for c in soak.changes if c["not_consistent"]),
        "controller_stats": {k: measured["stats"].get(k) for k in
                             ("flow_changes", "packet_in", "packet_in_arp", "switch_errors")},
        "controller_change_to_barrier_ms": {k: (measured["stats"].get("change_to_barrier_ms") or {}).get(k)
                                            for k in ("count", "p50", "p99", "max")},
        "switch_refused_messages": len(measured["refusals"]),
    }


def print_text(s):
    p, c, m = s["parameters"], s["connections"], s["machine"]
    print(f"lbctl soak: {p['minutes']:g} min, {p['rate_per_s']} new connections/s to {p['vip']} "
          f"(hold 0-{p['hold_max_s']:g} s before the request), seed {p['seed']}"
          + ("" if p["changes"] else "; control run: no member changes"))
    print(machine_text(m))
    kinds = Counter(x["kind"] for x in s["changes"])
    print(f"changes: {len(s['changes'])}"
          + (f" ({', '.join(f'{k} {n}' for k, n in kinds.items())})" if kinds else ""))
    for x in s["changes"]:
        waited = f"{x['to_switch_ms']:.0f} ms" if x["to_switch_ms"] is not None else "NOT CONSISTENT"
        print(f"  t={x['t']:7.1f} s  {x['kind']:8} {x['member']:8} -> {x['members']:18} "
              f"REST {x['rest_ms']:5.0f} ms, switch = controller after {waited}")
    print(f"connections: {c['made']} made of {c['due']} due ({c['skipped_late']} skipped late, "
          f"{c['skipped_in_flight_bound']} at the in-flight bound); answered {c['answered']}, "
          f"failed {c['failed']}")
    print(f"  expected cuts (in flight on a removed member): {c['expected_cuts']} "
          f"({c['expected_cuts_member_seen']} seen on it in conntrack, "
          f"{c['expected_cuts_member_unknown']} with no conntrack entry)")
    print(f"  unexpected failures: {c['unexpected_failures']}   target 0: "
          f"{'met' if c['unexpected_failures'] == 0 else 'MISSED'}")
    print(f"    {c['unexpected_on_port_of_a_cut']} of them on the client port of an earlier cut "
          f"connection (no connection on that port answered since), {c['unexpected_other']} other")
    if c["failure_kinds"]:
        print(f"  failures by kind: {', '.join(f'{k} {n}' for k, n in c['failure_kinds'].items())}")
    for f in c["unexpected_on_port_of_a_cut_first"][:3] + c["unexpected"][:10]:
        last = f["port_last_use"]
        last_text = ("first use" if last is None else
                     f"last used at t={last['t_start']:.1f} s: "
                     + (f"answered by {last['answered_by']}" if last["answered_by"] else last["error"])
                     + (", an expected cut" if last["expected_cut"] else ""))
        print(f"    unexpected: t={f['t_start']:.1f}-{f['t_end']:.1f} s port {f['client_port']} "
              f"({last_text}): {f['error']}")
        for line in (f["conntrack_after_failure"] or [])[:2]:
            print(f"      conntrack after the failure: {line}")
        for line in f["conntrack_at_end"][:2]:
            print(f"      conntrack at the end:        {line}")
    print(f"  client ports: {c['client_port_reused_within_60_s']} connections reused a port within "
          f"60 s of its last use (shortest gap {c['client_port_reuse_min_gap_s']} s)")
    print(f"  answered per member: {', '.join(f'{k} {n}' for k, n in c['per_member'].items())}; "
          f"answered connection p50 {c['answered_duration_ms']['p50']} ms (with the hold)")
    drains = [x for x in s["in_flight_at_changes"] if x["kind"] == "drain"]
    removes = [x for x in s["in_flight_at_changes"] if x["kind"] == "remove"]
    for what, group in (("a drained member when drained", drains),
                        ("a removed member when removed", removes)):
        if group:
            print(f"  in flight on {what}: "
                  f"{sum(x['in_flight_on_member'] for x in group)}, answered "
                  f"{sum(x['answered'] for x in group)}, failed {sum(x['failed'] for x in group)} "
                  f"({sum(x['failed_port_of_a_cut'] for x in group)} of them on the port of an "
                  f"earlier cut)")
    print(f"samples every {p['sample_every_s']:g} s: {len(s['samples'])}")
    for label, x in (("first", s["samples"][0]), ("last", s["samples"][-1])):
        print(f"  {label:5} t={x['t']:6.0f} s  controller RSS {x['controller_rss_kb']} kB, "
              f"CPU {x['controller_cpu_s']} s; ovs-vswitchd RSS {x['vswitchd_rss_kb']} kB; "
              f"{x['flows']} flows, {x['groups']} groups, {x['conntrack']} conntrack entries; "
              f"members {x['members']}")
        print(f"        conntrack zone {LB_ZONE} by state: "
              + ", ".join(f"{k} {n}" for k, n in x["conntrack_states"].items()))
    r = s["controller_rss_kb"]
    print(f"controller RSS: growth {r['growth']:+d} kB (min {r['min']}, max {r['max']}); "
          f"slope {r['slope_per_min']:+.1f} kB/min, later half {r['slope_per_min_later_half']:+.1f} kB/min")
    print("switch flows / groups per member configuration (one count each = no dependence on "
          "connections):")
    for config, e in s["switch_by_member_config"].items():
        print(f"  {config:22} {e['samples']:3} samples: flows {e['flows']}, groups {e['groups']}")
    w = s["switch_initial_members"]
    print(f"initial members, start vs end: flows {w['start']['flows']} -> {w['end']['flows']}, "
          f"groups {w['start']['groups']} -> {w['end']['groups']}")
    for line in w["only_at_start"][:10]:
        print(f"  only at start: {line}")
    for line in w["only_at_end"][:10]:
        print(f"  only at end:   {line}")
    ct = s["conntrack_at_end"]
    print(f"conntrack zone {LB_ZONE} at the end (client stopped): {ct['entries']} entries: "
          + ", ".join(f"{k} {n}" for k, n in ct["states"].items())
          + f"; {s['nat_exhaustion_log_lines']} NAT-exhaustion lines in the switch log")
    print(f"at the end the switch holds what the controller computes: "
          f"{'yes' if s['end_switch_equals_controller'] else 'NO'}")
    for line in s["end_differences"][:10]:
        print(f"  differs: {line}")
    b, st = s["controller_change_to_barrier_ms"], s["controller_stats"]
    print(f"controller: change_to_barrier_ms p50 {b['p50']} p99 {b['p99']} max {b['max']} "
          f"(n={b['count']}); {st['flow_changes']} flow changes, {st['packet_in']} packet-ins "
          f"({st['packet_in_arp']} ARP), switch_errors {st['switch_errors']}, "
          f"refusals in its log {s['switch_refused_messages']}")


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--minutes", type=bounded(float, 0.5, 120), default=10.0,
                        help="length of the run (default 10)")
    parser.add_argument("--rate", type=bounded(int, 1, 200), default=100,
                        help="new connections per second (default 100, at most 200)")
    parser.add_argument("--seed", type=int, default=1, help="of the changes and the holds (default 1)")
    parser.add_argument("--no-changes", dest="changes", action="store_false",
                        help="a control run: the same load, the members never change")
    return run("soak", parser.parse_args(argv), measure, summarize, print_text)


if __name__ == "__main__":
    sys.exit(main())
