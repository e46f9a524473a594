"""New TCP connections per second through a routed VIP, against the same client going straight
to a member through the same switch in the same run. A measurement: it prints figures and asserts
no timing.

    sudo .venv/bin/python -m bench.new_conn_rate [--requests 4000] [--concurrency 16] [--rounds 7] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace,
the standard topology of lab/topology.py) and the real controller, `ryu-manager lbctl_app`, with
config/vips.yaml: VIP `web` 198.18.0.100:80 -> m1, m2, m3 port 80. ApacheBench (`ab`, not
Python) runs in the client namespace without keepalive, so every request is a new connection:

  VIP     http://198.18.0.100/       conntrack lookup, select group, commit with DNAT to a
                                     member, and un-NAT of every reply (table 0 sends packets
                                     *from* a member's VIP service port, 80, through conntrack).
  direct  http://198.18.0.11:8080/   the baseline: plain L2 forwarding (NORMAL) only. It uses
                                     port 8080 on purpose: m1's replies from port 80 would match
                                     the member flow and go through conntrack too, so a "direct"
                                     run on port 80 would not be the plain path.

Rounds alternate the order (VIP first, then direct first, ...) so that a drift of the machine
hits both alike; each side gets one warm-up run first (which also settles ARP). Reported: each
round's rates, the medians, the ratio VIP/direct of the medians against the target 0.75; failed
and non-2xx responses; the packet-ins the controller counted during the VIP runs (GET /v1/stats,
total and non-ARP: the target is no non-ARP packet-in, while hosts refreshing their neighbours may
cause a few ARP ones) and the packets the switch's CONTROLLER-action flows sent in that time; and
how the VIP's connections spread over the members (their nginx access logs). Last, a look at
conntrack: one client opening thousands of connections a second reuses source ports within a
fraction of a second (the member closes first, so the client's port is free at once), and Open
vSwitch 3.1's userspace conntrack then gives the new connection another client port when the old
entry still holds the reply tuple, or drops its SYN ("tuple space exhaustion" in the switch log,
seen at about 80,000 connections in 7 s, not at the defaults). Both are counted and printed.

Exit status: 0 when measured, whether or not the target was met; 1 when the measurement itself
failed (the lab or controller would not start, ab failed or timed out, or more than 0.1 % of the
requests failed); 130 on Ctrl-C. The lab is removed in every case; the workdir (logs) is kept
only when the measurement failed, and its path is printed.
"""

import re
import statistics
import sys
import time

from bench.lib import (AB_SOCKET_TIMEOUT_S, Deadline, ab_arguments, ab_options, bench_parser, controller_stats,
                       machine_text, run, run_ab, started_lab)
from flows.pipeline import LB_ZONE
from lab import free_tcp_port, topology
from lab.lbctl import REPO_VIPS, Controller

VIPS_FILE = REPO_VIPS
VIP_NAME = "web"                          # in VIPS_FILE: DEMO_VIP:80 -> m1, m2, m3 port 80
VIP_URL = f"http://{topology.DEMO_VIP}/"
CLIENT = topology.CLIENT[0]
MEMBERS = tuple(name for name, _, _ in topology.MEMBERS)
DIRECT_MEMBER = topology.MEMBERS[0]       # m1, 198.18.0.11
DIRECT_PORT = 8080                        # not the VIP's service port: see the docstring
assert DIRECT_PORT in topology.HTTP_PORTS
DIRECT_URL = f"http://{DIRECT_MEMBER[1]}:{DIRECT_PORT}/"

TARGET_RATIO = 0.75               # VIP/direct of the median rates
WARMUP_REQUESTS = 300
AB_RUN_TIMEOUT_S = 60             # the longest one ab run may take
TIME_BUDGET_S = 150               # lab start to last ab run; the whole bench stays under 3 min
ACCESS_LOG_SETTLE_S = 2.0         # nginx logs a request just after answering it

# `ovs-appctl dpctl/dump-conntrack`: the client port of the request, and the one the reply goes to.
CT_PORTS = re.compile(r"orig=\(src=[^,]+,dst=[^,]+,sport=(\d+),.*?"
                      r"reply=\(src=[^,]+,dst=[^,]+,sport=\d+,dport=(\d+)\)")
NAT_EXHAUSTED = "Unable to NAT due to tuple space exhaustion"  # ovs-vswitchd.log, rate-limited


def controller_packets(lab):
    """Packets the switch has sent to the controller: n_packets of flows with a CONTROLLER action."""
    total = 0
    for line in lab.ofctl("dump-flows").splitlines():
        if "CONTROLLER" in line.partition("actions=")[2]:
            total += int(re.search(r"n_packets=(\d+)", line).group(1))
    return total


def packet_ins(controller):
    stats = controller_stats(controller)
    return {"total": stats["packet_in"], "arp": stats["packet_in_arp"]}


def access_log_lengths(lab):
    return {member: len(lab.access_log(member)) for member in MEMBERS}


class VipLoad:
    """What happened during the measured VIP runs only, summed over them (the direct runs in
    between are left out): packet-ins, packets to the controller, connections per member."""

    def __init__(self):
        self.packet_in = {"total": 0, "arp": 0}
        self.switch_to_controller = 0
        self.per_member = dict.fromkeys(MEMBERS, 0)
        self.client_addresses = set()
        self.conntrack = {}

    def measure(self, lab, controller, run):
        ins, sent, logs = packet_ins(controller), controller_packets(lab), access_log_lengths(lab)
        result = run()
        self.switch_to_controller += controller_packets(lab) - sent
        settle = time.monotonic() + ACCESS_LOG_SETTLE_S
        while True:
            added = {m: lab.access_log(m)[logs[m]:] for m in MEMBERS}
            if sum(map(len, added.values())) >= result["complete"] or time.monotonic() > settle:
                break
            time.sleep(0.05)
        for member, lines in added.items():
            self.per_member[member] += len(lines)
            self.client_addresses.update(lines)
        after = packet_ins(controller)
        for key in self.packet_in:
            self.packet_in[key] += after[key] - ins[key]
        return result


def conntrack_state(lab):
    """The VIP connections' conntrack entries left after the runs, and how many of them OVS gave a
    client port of its own choosing. (One client reuses source ports quickly: the kernel frees
    one as soon as a connection closes, since the member closes first. A reused 5-tuple whose old
    entry is still in the table makes Open vSwitch rewrite the client port to keep the reply
    tuple unique, or drop the SYN when it finds none: the "exhaustion" log lines.)"""
    entries = lab.switch.appctl("dpctl/dump-conntrack", f"zone={LB_ZONE}").splitlines()
    ports = [m.groups() for line in entries if (m := CT_PORTS.search(line))]
    log = (lab.workdir / "ovs-vswitchd.log").read_text(errors="replace")
    return {"entries": len(entries),
            "client_port_rewritten": sum(1 for sport, dport in ports if sport != dport),
            "nat_exhaustion_log_lines": log.count(NAT_EXHAUSTED)}


def measure(args, workdir):
    deadline = Deadline(TIME_BUDGET_S)
    with started_lab(workdir, "lb") as lab:
        topology.build(lab)
        controller = Controller(lab, free_tcp_port(), VIPS_FILE).start()
        controller.wait_resolved(VIP_NAME)

        def ab(side, n):
            url = VIP_URL if side == "vip" else DIRECT_URL
            return run_ab(lab, CLIENT, url, n, args.concurrency, deadline, AB_RUN_TIMEOUT_S)

        warmup = {side: ab(side, max(WARMUP_REQUESTS, args.concurrency)) for side in ("vip", "direct")}
        load = VipLoad()
        rounds = []
        for i in range(args.rounds):
            order = ("vip", "direct") if i % 2 == 0 else ("direct", "vip")
            results = {}
            for side in order:
                if side == "vip":
                    results[side] = load.measure(lab, controller, lambda: ab("vip", args.requests))
                else:
                    results[side] = ab("direct", args.requests)
            rounds.append({"order": list(order), **results})
        load.conntrack = conntrack_state(lab)
        return warmup, rounds, load


def summary(args, info, measured):
    warmup, rounds, load = measured
    median = {side: statistics.median(r[side]["rate"] for r in rounds) for side in ("vip", "direct")}
    ratio = median["vip"] / median["direct"]
    total_vip = sum(load.per_member.values())
    return {
        "benchmark": "new_conn_rate",
        "machine": info,
        "parameters": {"requests": args.requests, "concurrency": args.concurrency,
                       "rounds": args.rounds, "keepalive": False, "warmup_requests": WARMUP_REQUESTS,
                       "ab_socket_timeout_s": AB_SOCKET_TIMEOUT_S,
                       "vip_url": VIP_URL, "direct_url": DIRECT_URL},
        "rounds": [{"order": r["order"], "vip_rate": r["vip"]["rate"], "direct_rate": r["direct"]["rate"]}
                   for r in rounds],
        "median_rate": median,
        "ratio_vip_direct": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "failed_requests": {side: sum(r[side]["failed"] for r in rounds) for side in median},
        "non_2xx_responses": {side: sum(r[side]["non_2xx"] for r in rounds) for side in median},
        "warmup_rate": {side: warmup[side]["rate"] for side in warmup},
        "during_vip_load": {
            "packet_in": load.packet_in["total"],
            "packet_in_arp": load.packet_in["arp"],
            "packet_in_non_arp": load.packet_in["total"] - load.packet_in["arp"],
            "switch_packets_to_controller": load.switch_to_controller,
            "connections_per_member": load.per_member,
            "connections_logged": total_vip,
            "client_addresses_seen_by_members": sorted(load.client_addresses),
        },
        # Cumulative over the warm-up and the VIP runs (the direct path does not use conntrack).
        "conntrack_after_vip_runs": load.conntrack,
    }


def print_text(s):
    p, m, v = s["parameters"], s["machine"], s["during_vip_load"]
    print(f"lbctl new-connection rate: ab -n {p['requests']} -c {p['concurrency']}, no keepalive, "
          f"{p['rounds']} rounds, order alternating")
    print(machine_text(m))
    for i, r in enumerate(s["rounds"], 1):
        figures = "  ".join(f"{side:6} {r[f'{side}_rate']:8.0f}/s" for side in r["order"])
        print(f"  round {i}: {figures}")
    print(f"VIP     {p['vip_url']:28} median {s['median_rate']['vip']:8.0f} new connections/s")
    print(f"direct  {p['direct_url']:28} median {s['median_rate']['direct']:8.0f} new connections/s")
    print(f"ratio VIP/direct {s['ratio_vip_direct']:.2f}   target >= {s['target_ratio']:.2f}: "
          f"{'met' if s['target_met'] else 'MISSED'}")
    f, n = s["failed_requests"], s["non_2xx_responses"]
    print(f"failed requests: VIP {f['vip']}, direct {f['direct']};   "
          f"non-2xx: VIP {n['vip']}, direct {n['direct']}")
    print(f"during the VIP runs: {v['packet_in']} packet-ins ({v['packet_in_arp']} ARP, "
          f"{v['packet_in_non_arp']} other; target 0 other); the switch sent "
          f"{v['switch_packets_to_controller']} packets to the controller")
    total = v["connections_logged"] or 1
    spread = ", ".join(f"{member} {count} ({100 * count / total:.1f} %)"
                       for member, count in v["connections_per_member"].items())
    print(f"VIP connections per member: {spread}; members saw client "
          f"{', '.join(v['client_addresses_seen_by_members']) or '-'}")
    ct = s["conntrack_after_vip_runs"]
    print(f"conntrack zone {LB_ZONE} after the VIP runs: {ct['entries']} entries, "
          f"{ct['client_port_rewritten']} of them with the client port rewritten (a reused "
          f"5-tuple); {ct['nat_exhaustion_log_lines']} NAT-exhaustion lines in the switch log")


def main(argv=None):
    parser = bench_parser(__doc__)
    ab_options(parser, "side")
    args = ab_arguments(parser, argv)
    # The machine load at the end is not part of this benchmark's figures.
    return run("new_conn_rate", args, measure, summary, print_text, needs_ab=True,
               loadavg_at_end=False)


if __name__ == "__main__":
    sys.exit(main())
