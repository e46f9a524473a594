"""New TCP connections per second through a VIP on a tenant network (VLAN 101, client and members
behind a trunk) against the same VIP on the untagged default network, same run, same mode; each
beside its plain-forwarding path. A measurement: it prints figures and asserts no timing.

    sudo .venv/bin/python -m bench.tagged_conn_rate [--requests 4000] [--concurrency 16] [--rounds 11]
                                                    [--quick] [--json]

What runs: a private lab (lab/: Open vSwitch with the userspace datapath in its own namespace)
with the tenant topology of lab/topology.py (build_tenants: tenants A and B, VLANs 101 and 102,
10.0.0.0/24 each, behind a trunk from an access bridge, port 50 on lbctl's bridge; the untagged
provider client 198.18.0.10 on port 1), to which this bench adds the untagged members m1, m2, m3
(198.18.0.11-.13, ports 2-4, untagged only) and a third member of tenant A behind the trunk,
a-m4 (10.0.0.14, access bridge port 4). Every member serves HTTP on ports 80 and 8080 (nginx).
The real controller, `ryu-manager lbctl_app` (the default network's gateway 198.18.0.1/24 and
monitor address 198.18.0.2, as tests/integration/test_tenants.py has them), gets the networks
`tenant-a` (VLAN 101, access port 21, gateway 10.0.0.1/24, monitor address 10.0.0.2) and
`tenant-b` (VLAN 102, access port 22), and two VIPs of one shape, by POST:

  untagged  http://198.18.0.100/       one-arm, default network, SNAT pool 198.18.0.200-.201,
                                       members m1, m2, m3 port 80; client `client` (port 1).
  tagged    http://10.0.0.100/         one-arm, network tenant-a, SNAT pool 10.0.0.200-.201,
                                       members a-m1, a-m2, a-m4 port 80, all behind the trunk;
                                       client `a-client`, behind the trunk. Every packet enters
                                       lbctl's bridge tagged on port 50 (the tag popped at
                                       ingress) and leaves it there, tagged again.

Both one-arm: the tenant's clients share the members' subnet, so the members' replies must come
back through the balancer (to the SNAT pool), and the untagged VIP takes the same mode so that
the two differ only in the network. The plain-forwarding paths, without a VIP (member port 8080:
lbctl sends replies from a VIP's service port, 80, through conntrack; see bench.new_conn_rate):

  untagged-direct  http://198.18.0.11:8080/  client -> m1 across lbctl's bridge (NORMAL).
  tagged-direct    http://10.0.0.13:8080/    a-client -> a-m3 (tenant A's host on lbctl's
                                             access port 21): across the access bridge, the
                                             trunk and lbctl's bridge (tag popped, pushed back
                                             for NORMAL, which sends it out untagged on 21).

The tagged side's packets also cross the access bridge (a learning bridge, NORMAL) and the
patch pair: that hop is part of a tenant behind a trunk, and the two direct paths show what
it costs without lbctl's VIP. ApacheBench (`ab`, without keepalive, so every request is a new
connection) runs in each side's client. Rounds alternate the order of the four (reversed every
other round) so that a drift of the machine hits all alike. Before each measured run, as in
bench.peers: TIME_WAIT sockets killed in that side's client and members (`ss -K state
time-wait`), conntrack flushed; each of the four gets one warm-up run first (which also settles
ARP). Reported: each round's rates, the medians, the ratio tagged/untagged of the VIPs' medians
against the target 0.95 (as the other benches judge theirs), beside it the median and range of
the same ratio within each round (the two VIPs' runs are adjacent in every round, so this one is
less exposed to the machine's drift: on this 2-core machine single runs vary by a factor of two
when other work runs), the ratio of the direct paths and each VIP against its own direct path;
failed and non-2xx responses; during the measured VIP runs, the packet-ins (non-ARP
target 0), the members' shares and the client addresses they logged (the SNAT pool's, if one-arm
works as meant); "tuple space exhaustion" lines in the switch log.

Exit status: 0 when measured, whether or not the target was met; 1 when the measurement itself
failed (the lab or controller would not start, ab failed or timed out, or more than 0.1 % of
the requests failed); 130 on Ctrl-C. The lab is removed in every case; the workdir (logs) is kept
only when the measurement failed, and its path is printed.
"""

import statistics
import sys
import time

from bench.lib import (AB_SOCKET_TIMEOUT_S, Deadline, MeasurementFailed, ab_arguments, ab_options, bench_parser,
                       controller_stats, machine_text, run, run_ab, started_lab)
from lab import free_tcp_port, topology
from lab.lbctl import Controller

SIDES = ("untagged", "tagged", "untagged-direct", "tagged-direct")
VIPS = ("untagged", "tagged")
DEFAULT_OPTIONS = {"gateways": "198.18.0.1/24", "monitor_address": "198.18.0.2"}
TENANT = {"gateways": ["10.0.0.1/24"], "monitor_address": "10.0.0.2"}
NETWORKS = [dict(TENANT, name="tenant-a", vlan=101, access_ports=[21]),
            dict(TENANT, name="tenant-b", vlan=102, access_ports=[22])]
UNTAGGED_MEMBERS = (("m1", "198.18.0.11", 2), ("m2", "198.18.0.12", 3), ("m3", "198.18.0.13", 4))
EXTRA_TENANT_MEMBER = ("a-m4", "10.0.0.14", 4)   # on the access bridge, VLAN 101
TAGGED_MEMBERS = ("a-m1", "a-m2", "a-m4")
SERVICE_PORT = 80
DIRECT_PORT = 8080
assert DIRECT_PORT in topology.HTTP_PORTS
VIP_BODIES = {
    "untagged": {"name": "untagged", "address": "198.18.0.100", "port": SERVICE_PORT, "protocol": "tcp",
                 "mode": "one-arm", "snat_pool": {"addresses": ["198.18.0.200", "198.18.0.201"]},
                 "members": [{"address": ip} for _, ip, _ in UNTAGGED_MEMBERS]},
    "tagged": {"name": "tagged", "network": "tenant-a", "address": "10.0.0.100", "port": SERVICE_PORT,
               "protocol": "tcp", "mode": "one-arm", "snat_pool": {"addresses": ["10.0.0.200", "10.0.0.201"]},
               "members": [{"address": ip} for ip in ("10.0.0.11", "10.0.0.12", "10.0.0.14")]},
}
CLIENTS = {"untagged": topology.CLIENT[0], "tagged": "a-client",
           "untagged-direct": topology.CLIENT[0], "tagged-direct": "a-client"}
URLS = {"untagged": "http://198.18.0.100/", "tagged": "http://10.0.0.100/",
        "untagged-direct": f"http://198.18.0.11:{DIRECT_PORT}/", "tagged-direct": f"http://10.0.0.13:{DIRECT_PORT}/"}
MEMBERS = {"untagged": tuple(name for name, _, _ in UNTAGGED_MEMBERS), "tagged": TAGGED_MEMBERS,
           "untagged-direct": ("m1",), "tagged-direct": ("a-m3",)}

TARGET_RATIO = 0.95               # tagged/untagged of the VIPs' median rates
DEFAULT_ROUNDS = 11               # more than bench.new_conn_rate's 7: four sides, and a noisy machine
WARMUP_REQUESTS = 300
AB_RUN_TIMEOUT_S = 60             # the longest one ab run may take
ACCESS_LOG_SETTLE_S = 2.0         # nginx logs a request just after answering it
SETUP_BUDGET_S = 90               # the lab, the controller, the VIPs' members located
ROUND_BUDGET_S = 60               # per round: four resets and ab runs
QUICK = {"requests": 2000, "rounds": 3}
NAT_EXHAUSTED = "Unable to NAT due to tuple space exhaustion"  # ovs-vswitchd.log, rate-limited


def build(lab):
    """The tenant topology, the untagged members and a-m4; every member serving HTTP."""
    tenants = topology.build_tenants(lab)
    for name, ip, ofport in UNTAGGED_MEMBERS:
        lab.add_host(name, ip, topology.PREFIXLEN, ofport=ofport, vlan=0)
        lab.start_http(name, topology.HTTP_PORTS)
    name, ip, ofport = EXTRA_TENANT_MEMBER
    lab.add_host(name, ip, topology.TENANT_PREFIXLEN, ofport=ofport, gateway=topology.TENANT_GATEWAY,
                 vlan=tenants.tenants["a"].vlan, bridge=tenants.access.bridge)
    lab.start_http(name, topology.HTTP_PORTS)


def configure(controller):
    for path, body in [("/v1/networks", n) for n in NETWORKS] + [("/v1/vips", VIP_BODIES[v]) for v in VIPS]:
        status, doc = controller.call("POST", path, body)
        if status != 201:
            raise MeasurementFailed(f"POST {path} {body['name']} answered {status}: {doc}")
    for name in VIPS:
        controller.wait_resolved(name)


def reset(lab, side):
    """The same start for every run: no TIME_WAIT socket in the side's client and members, nothing
    in conntrack."""
    for host in (CLIENTS[side], *MEMBERS[side]):
        lab.run(host, ["ss", "-K", "-n", "state", "time-wait"])
    lab.switch.appctl("dpctl/flush-conntrack")


class VipRuns:
    """What happened during the measured runs of the VIPs only, summed over them: packet-ins, and
    the connections each member logged with the client address it saw."""

    def __init__(self):
        self.packet_in = {side: {"total": 0, "arp": 0} for side in VIPS}
        self.served = {side: {member: [] for member in MEMBERS[side]} for side in VIPS}

    def measure(self, lab, controller, side, run):
        ins, logs = controller_stats(controller), {m: len(lab.access_log(m)) for m in MEMBERS[side]}
        result = run()
        settle = time.monotonic() + ACCESS_LOG_SETTLE_S
        while True:
            added = {m: lab.access_log(m)[logs[m]:] for m in MEMBERS[side]}
            if sum(map(len, added.values())) >= result["complete"] or time.monotonic() > settle:
                break
            time.sleep(0.05)
        for member, lines in added.items():
            self.served[side][member] += lines
        after = controller_stats(controller)
        self.packet_in[side]["total"] += after["packet_in"] - ins["packet_in"]
        self.packet_in[side]["arp"] += after["packet_in_arp"] - ins["packet_in_arp"]
        return result


def measure(args, workdir):
    deadline = Deadline(SETUP_BUDGET_S + args.rounds * ROUND_BUDGET_S)
    with started_lab(workdir, "tg") as lab:
        build(lab)
        empty = workdir / "vips.yaml"
        empty.write_text("vips: []\n")
        controller = Controller(lab, free_tcp_port(), empty, options=DEFAULT_OPTIONS).start()
        configure(controller)

        def ab(side, n):
            return run_ab(lab, CLIENTS[side], URLS[side], n, args.concurrency, deadline, AB_RUN_TIMEOUT_S)

        warmup = {}
        for side in SIDES:
            reset(lab, side)
            warmup[side] = ab(side, max(WARMUP_REQUESTS, args.concurrency))
        vip_runs = VipRuns()
        rounds = []
        for i in range(args.rounds):
            deadline.check()
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            results = {}
            for side in order:
                reset(lab, side)
                if side in VIPS:
                    results[side] = vip_runs.measure(lab, controller, side, lambda: ab(side, args.requests))
                else:
                    results[side] = ab(side, args.requests)
            rounds.append({"order": list(order), **results})
        log = (lab.workdir / "ovs-vswitchd.log").read_text(errors="replace")
        refusals = controller.refusals()
    return {"warmup": warmup, "rounds": rounds, "packet_in": vip_runs.packet_in, "served": vip_runs.served,
            "nat_exhaustion_log_lines": log.count(NAT_EXHAUSTED), "refused_messages": len(refusals)}


def summary(args, info, m):
    rounds = m["rounds"]
    median = {side: statistics.median(r[side]["rate"] for r in rounds) for side in SIDES}

    def ratio(a, b):
        return round(median[a] / median[b], 3)

    vip_ratio = ratio("tagged", "untagged")
    # The two VIPs' runs are next to each other in every round: their ratio within a round is
    # less exposed to the machine's drift than the ratio of the medians.
    per_round = [round(r["tagged"]["rate"] / r["untagged"]["rate"], 3) for r in rounds]
    return {
        "benchmark": "tagged_conn_rate",
        "machine": info,
        "parameters": {"requests": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
                       "keepalive": False, "warmup_requests": WARMUP_REQUESTS,
                       "ab_socket_timeout_s": AB_SOCKET_TIMEOUT_S, "mode": "one-arm", "urls": URLS,
                       "clients": CLIENTS, "vips": VIP_BODIES, "networks": NETWORKS},
        "rounds": [{"order": r["order"], **{f"{side}_rate": r[side]["rate"] for side in SIDES}} for r in rounds],
        "median_rate": median,
        "ratio_tagged_untagged": vip_ratio,
        "ratio_tagged_untagged_per_round": per_round,
        "median_ratio_per_round": statistics.median(per_round),
        "ratio_direct_tagged_untagged": ratio("tagged-direct", "untagged-direct"),
        "ratio_vip_direct": {"untagged": ratio("untagged", "untagged-direct"),
                             "tagged": ratio("tagged", "tagged-direct")},
        "target_ratio": TARGET_RATIO,
        "target_met": vip_ratio >= TARGET_RATIO,
        "failed_requests": {side: sum(r[side]["failed"] for r in rounds) for side in SIDES},
        "non_2xx_responses": {side: sum(r[side]["non_2xx"] for r in rounds) for side in SIDES},
        "warmup_rate": {side: m["warmup"][side]["rate"] for side in SIDES},
        "during_vip_runs": {side: {"packet_in": m["packet_in"][side]["total"],
                                   "packet_in_arp": m["packet_in"][side]["arp"],
                                   "packet_in_non_arp": m["packet_in"][side]["total"] - m["packet_in"][side]["arp"]}
                            for side in VIPS},
        "connections_per_member": {side: {member: len(lines) for member, lines in m["served"][side].items()}
                                   for side in VIPS},
        "client_addresses_seen_by_members": {side: sorted({a for lines in m["served"][side].values() for a in lines})
                                             for side in VIPS},
        "nat_exhaustion_log_lines": m["nat_exhaustion_log_lines"],
        "refused_messages": m["refused_messages"],
    }


def print_text(s):
    p, med = s["parameters"], s["median_rate"]
    print(f"lbctl new-connection rate, tagged against untagged: ab -n {p['requests']} -c {p['concurrency']}, "
          f"no keepalive, {p['rounds']} rounds, order alternating; both VIPs {p['mode']}")
    print(machine_text(s["machine"]))
    for i, r in enumerate(s["rounds"], 1):
        figures = "  ".join(f"{side} {r[f'{side}_rate']:.0f}" for side in r["order"])
        print(f"  round {i}: {figures}")
    for side in SIDES:
        print(f"{side:16} {p['clients'][side]:9} {p['urls'][side]:28} median {med[side]:8.0f} new connections/s")
    print(f"ratio tagged/untagged (VIPs) {s['ratio_tagged_untagged']:.2f}   target >= {s['target_ratio']:.2f}: "
          f"{'met' if s['target_met'] else 'MISSED'}")
    per_round = s["ratio_tagged_untagged_per_round"]
    print(f"   within each round (the VIPs' runs are adjacent): median {s['median_ratio_per_round']:.2f}, "
          f"from {min(per_round):.2f} to {max(per_round):.2f}")
    vd = s["ratio_vip_direct"]
    print(f"ratio tagged/untagged (direct paths) {s['ratio_direct_tagged_untagged']:.2f};   VIP/direct: "
          f"untagged {vd['untagged']:.2f}, tagged {vd['tagged']:.2f}")
    f, n = s["failed_requests"], s["non_2xx_responses"]
    print("failed requests: " + ", ".join(f"{side} {f[side]}" for side in SIDES)
          + ";   non-2xx: " + ", ".join(f"{side} {n[side]}" for side in SIDES))
    for side in VIPS:
        v = s["during_vip_runs"][side]
        per = s["connections_per_member"][side]
        total = sum(per.values()) or 1
        spread = ", ".join(f"{member} {count} ({100 * count / total:.1f} %)" for member, count in per.items())
        print(f"{side} VIP: {v['packet_in']} packet-ins during its runs ({v['packet_in_arp']} ARP, "
              f"{v['packet_in_non_arp']} other; target 0 other); connections per member {spread}; members saw "
              f"{', '.join(s['client_addresses_seen_by_members'][side]) or '-'}")
    print(f"switch log: {s['nat_exhaustion_log_lines']} NAT-exhaustion lines; messages the switch refused: "
          f"{s['refused_messages']}")


def main(argv=None):
    parser = bench_parser(__doc__)
    ab_options(parser, "of the four", rounds=DEFAULT_ROUNDS)
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run: {QUICK['rounds']} rounds of {QUICK['requests']} requests "
                             "(--requests and --rounds ignored)")
    args = ab_arguments(parser, argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        if args.concurrency > args.requests:
            parser.error(f"--concurrency {args.concurrency}: more than --requests {args.requests}")
    return run("tagged_conn_rate", args, measure, summary, print_text, needs_ab=True)


if __name__ == "__main__":
    sys.exit(main())
