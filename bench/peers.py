"""New TCP connections per second of lbctl beside its peers, in one run, on the same hosts: the
direct path, lbctl in each mode, OVN's load balancer, and a reactive Ryu balancer. A measurement:
it prints figures and asserts no timing.

    sudo .venv/bin/python -m bench.peers [--requests 4000] [--concurrency 16] [--rounds 7]
                                         [--systems direct,routed,one-arm,dsr,reactive,ovn] [--json]

What runs: a private lab (lab/: Open vSwitch 3.1 with the userspace datapath in its own
namespace) with the standard topology of lab/topology.py: client 198.18.0.10, members m1, m2, m3
(198.18.0.11-.13) with nginx on ports 80 and 8080. Every system is measured the same way: ApacheBench
(`ab -n --requests -c --concurrency`, no keepalive, so every request is a new connection) from
the client, against nginx on the members, port 80 through a VIP:

  direct    http://198.18.0.11:8080/  the baseline: m1 straight, plain L2 forwarding (`NORMAL`,
                                      lbctl's last resort) on lbctl's bridge. Port 8080 on
                                      purpose: lbctl sends a member's replies *from* port 80
                                      through conntrack (bench/new_conn_rate.py explains it).
  routed    198.18.0.100:80           lbctl, `ryu-manager lbctl_app` (lab/lbctl.py Controller),
  one-arm   198.18.0.101:80           three VIPs created by POST /v1/vips, all three members
  dsr       198.18.0.102:80           each; one-arm with the SNAT pool 198.18.0.200-.201;
                                      dsr with every member set up by lab/dsr.py (the VIP on
                                      lo, arp_ignore/arp_announce), which stays so all run long.
  ovn       198.18.0.103:80           OVN 23.03 (Debian's ovn-central and ovn-host): a logical
                                      switch with the client and the members, the load balancer
                                      on it (`ls-lb-add`), and a logical router on the same
                                      subnet (198.18.0.254/24) whose switch port has
                                      `options:arp_proxy=<VIP>`: the switch answers the VIP's
                                      ARP with the router's MAC. OVN's switch DNATs a request to
                                      the member as it enters; the router, addressed by that MAC,
                                      sets the member's MAC and hands it back to the switch. The
                                      member answers the client directly, and the switch undoes
                                      the DNAT on the way out (an OVN switch does conntrack on
                                      both its ingress and its egress ports). Without the router
                                      nobody answers the VIP's ARP and nothing sets the member's
                                      MAC: OVN's load balancer has no L2 rewrite of its own.
  reactive  198.18.0.104:80           bench/reactive_lb.py, a Ryu app of the kind Ryu's
                                      tutorials show: each connection's first packet goes to the
                                      controller, which picks a member (round robin) and
                                      installs two exact-match flows with a 10 s idle timeout.

OVN runs its own daemons privately (lab/ovn.py: NB and SB ovsdb-servers, ovn-northd,
ovn-controller, in the switch's namespace, recorded for cleanup), driving an integration bridge
of the same ovs-vswitchd, so both bridges share one userspace datapath. The hosts stay the same
namespaces, veths, addresses, MACs and nginx: for OVN their veths are moved from lbctl's bridge
to the integration bridge (with `external_ids:iface-id`) and back afterwards (at the same
OpenFlow port numbers). Moving was chosen over alternatives that would change the paths: patch
ports between the bridges would add a hop and a second pipeline to every OVN packet, and a second
set of hosts would not be the same hosts. OVN trap: Open vSwitch 3.1.0's userspace conntrack
aborts under OVN when OVN commits with `nat(src)`, which it does when the datapath reports
`ct_zero_snat` (fixed upstream in 3.1.3): lab/ovn.py hides the capability in the Datapath
record before ovn-controller starts, and the output says whether it was still hidden at the end.
lbctl and the reactive app take turns as the controller of lbctl's bridge: before each start the
bridge's flows, groups and meters are deleted (lbctl's VIPs come back from its state file).

Rounds: each round measures every system of --systems (the direct path always) once, grouped
by what runs (lbctl: direct, routed, one-arm, dsr; the reactive app; OVN) in alternating order
(round 2 in reverse, so no set-up is repeated between rounds). Before each measured run of a
system: TIME_WAIT sockets killed in every host (`ss -K state time-wait`: members close first
and keep them), the datapath's conntrack flushed and its flows purged, then a warm-up run of 300
requests. After each measured run: flows counted (`ovs-ofctl dump-aggregate`, `ovs-appctl
dpctl/dump-flows`).

How to read it: per system the median rate over the rounds and its ratio to the direct path's
median of the same run (quote figures only as such ratios), against the targets: dsr >= 0.95,
routed >= 0.80, one-arm >= 0.75, and every lbctl mode ahead of OVN. Packet-ins per connection
during the measured runs: lbctl's GET /v1/stats `packet_in`, the reactive app's own count
(GET /reactive_lb/stats), for OVN the packets the switch sent to ovn-controller (n_packets of
its flows with a controller action). Flows after each system's last measured run show where it
keeps state per connection: the bridge it uses (lbctl's bridge also holds what the other lbctl
VIPs keep, such as dsr's learned pins, which outlive their connections by seconds), its VIP's
own (an lbctl VIP's by its cookie; the reactive app's per-connection flows) and the shared
datapath's (purged before each warm-up, so they are the system's own). Failed requests (ab's
failed and non-2xx) are reported, not fatal.

Exit status: 0 when measured, whether or not the targets were met (a system whose ab run could
not finish, e.g. every request timed out, is reported as failed with the reason and left out of
later rounds); 1 when the measurement itself failed (the lab, a controller or OVN would not start,
the direct path failed, the time budget ran out) or ab (or OVN, if measured) is not installed;
130 on Ctrl-C. The lab is removed in every case; the workdir (logs) is kept only when the
measurement failed, and its path is printed.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench.lib import (Deadline, MeasurementFailed, ab_arguments, ab_options, bench_parser, controller_stats,
                       datapath_flow_count, flow_count, machine_text, run, run_ab, started_lab)
from lab import dsr, free_tcp_port, ovn, topology
from lab.hosts import mac_for
from lab.lbctl import Controller, shares, switch_text, wait_for

CLIENT = topology.CLIENT[0]
MEMBERS = tuple(name for name, _, _ in topology.MEMBERS)
HOSTS = (CLIENT, *MEMBERS)
SERVICE_PORT = 80
DIRECT_URL = f"http://{topology.MEMBERS[0][1]}:8080/"     # m1, not the VIPs' port: see the docstring
LBCTL_VIPS = {"routed": "198.18.0.100", "one-arm": "198.18.0.101", "dsr": "198.18.0.102"}
OVN_VIP = "198.18.0.103"
REACTIVE_VIP = "198.18.0.104"
SNAT_POOL = {"addresses": ["198.18.0.200", "198.18.0.201"], "ports": [1024, 65535]}
OVN_ROUTER = ("02:00:c6:12:00:fe", "198.18.0.254/24")    # the logical router's port: MAC, network
REACTIVE_APP = Path(__file__).resolve().with_name("reactive_lb.py")

# Systems in the order a round measures them, with what must run for each.
SYSTEMS = {"direct": "lbctl", "routed": "lbctl", "one-arm": "lbctl", "dsr": "lbctl",
           "reactive": "reactive", "ovn": "ovn"}
URLS = {"direct": DIRECT_URL, **{mode: f"http://{vip}/" for mode, vip in LBCTL_VIPS.items()},
        "ovn": f"http://{OVN_VIP}/", "reactive": f"http://{REACTIVE_VIP}/"}
TARGET_RATIOS = {"dsr": 0.95, "routed": 0.80, "one-arm": 0.75}   # of the direct path's median rate

WARMUP_REQUESTS = 300
AB_RUN_TIMEOUT_S = 90            # one ab run; the reactive app needs ~8 s for 4,000
SETUP_BUDGET_S = 90              # lab, OVN, the first controllers
ROUND_BUDGET_S = 120             # per round: two controller starts, two moves, 6 x 2 ab runs
READY_TIMEOUT_S = 30.0           # a controller's flows, OVN's port bindings
REACTIVE_IDLE_TIMEOUT_S = 10
REACTIVE_BASE_FLOWS = 3          # ARP and new connections to the controller, the rest NORMAL
CONTROLLER_ACTION = re.compile(r"controller", re.I)
N_PACKETS = re.compile(r"n_packets=(\d+)")


def lbctl_vip(mode):
    body = {"name": mode, "address": LBCTL_VIPS[mode], "port": SERVICE_PORT, "protocol": "tcp",
            "mode": mode, "members": [{"address": ip, "port": SERVICE_PORT} for _, ip, _ in topology.MEMBERS]}
    if mode == "one-arm":
        body["snat_pool"] = SNAT_POOL
    return body


class Peers:
    """The lab, and what is set up on it at the moment: lbctl or the reactive app as the
    controller of lbctl's bridge, the hosts on that bridge or on OVN's."""

    def __init__(self, lab, workdir, deadline):
        self.lab, self.workdir, self.deadline = lab, workdir, deadline
        self.ovn = None
        self.lbctl = None
        self.vips_created = False
        self.reactive_port = None
        self.controller = None        # "lbctl" or "reactive": which one runs
        self.on_ovn = False           # the hosts' veths are on OVN's bridge

    # -- set-up -----------------------------------------------------------------------------

    def build(self, with_ovn):
        topology.build(self.lab)
        for member in MEMBERS:
            dsr.configure_member(self.lab, member, LBCTL_VIPS["dsr"])
        vips_file = self.workdir / "no-vips.yaml"
        vips_file.write_text("vips: []\n")
        self.lbctl = Controller(self.lab, free_tcp_port(), vips_file)
        self.reactive_port = free_tcp_port()
        members = ",".join(f"{self.lab.host(m).ip}/{self.lab.host(m).mac}/{self.lab.host(m).ofport}"
                           for m in MEMBERS)
        (self.workdir / "reactive.conf").write_text(
            f"[reactive_lb]\nvip = {REACTIVE_VIP}\nvip_mac = {mac_for(REACTIVE_VIP)}\n"
            f"service_port = {SERVICE_PORT}\nmembers = {members}\nidle_timeout = {REACTIVE_IDLE_TIMEOUT_S}\n")
        if with_ovn:
            self.ovn = ovn.Ovn(self.lab, f"{self.lab.prefix}int").start()
            self.ovn_topology()

    def ovn_topology(self):
        """The logical switch, router and load balancer (the hosts' ports bind when they arrive)."""
        commands = ["ls-add", "ls0"]
        for name in HOSTS:
            host = self.lab.host(name)
            commands += ["--", "lsp-add", "ls0", name, "--", "lsp-set-addresses", name, f"{host.mac} {host.ip}"]
        mac, network = OVN_ROUTER
        members = ",".join(f"{ip}:{SERVICE_PORT}" for _, ip, _ in topology.MEMBERS)
        commands += ["--", "lr-add", "lr0", "--", "lrp-add", "lr0", "lr0-ls0", mac, network,
                     "--", "lsp-add", "ls0", "ls0-lr0", "--", "lsp-set-type", "ls0-lr0", "router",
                     "--", "lsp-set-addresses", "ls0-lr0", "router",
                     "--", "lsp-set-options", "ls0-lr0", "router-port=lr0-ls0", f"arp_proxy={OVN_VIP}",
                     "--", "lb-add", "lb0", f"{OVN_VIP}:{SERVICE_PORT}", members, "tcp",
                     "--", "ls-lb-add", "ls0", "lb0"]
        self.ovn.nbctl("--wait=sb", *commands)

    # -- what runs --------------------------------------------------------------------------

    def enter(self, environment):
        """Make `environment` ("lbctl", "reactive" or "ovn") the one the hosts' traffic meets."""
        if environment == "ovn":
            if not self.on_ovn:
                self.move_hosts(to_ovn=True)
            return
        if self.on_ovn:
            self.move_hosts(to_ovn=False)
        if self.controller == environment:
            return
        self.stop_controller()
        if environment == "lbctl":
            self.start_lbctl()
        else:
            self.start_reactive()

    def stop_controller(self):
        """Stop whichever controller runs on lbctl's bridge, and empty the bridge for the next."""
        if self.controller:
            self.lab.stop_controller()
            self.controller = None
        for command in ("del-flows", "del-groups", "del-meters"):
            self.lab.ofctl(command)

    def start_lbctl(self):
        self.lbctl.start()
        self.controller = "lbctl"
        if not self.vips_created:
            for mode in LBCTL_VIPS:
                status, doc = self.lbctl.call("POST", "/v1/vips", lbctl_vip(mode))
                if status != 201:
                    raise MeasurementFailed(f"POST /v1/vips {mode} answered {status}: {doc}")
            self.vips_created = True
        for mode in LBCTL_VIPS:
            self.lbctl.wait_resolved(mode)
        wait_for(lambda: set(shares(switch_text(self.lab))) == set(
            shares(self.lbctl.expected_switch_text().splitlines())),
            "the switch holding what lbctl computes", timeout=self.deadline.timeout(READY_TIMEOUT_S))

    def start_reactive(self):
        self.lab.start_controller([self.workdir / "reactive.conf"], self.reactive_port, app=str(REACTIVE_APP))
        self.controller = "reactive"
        self.lab.wait_connected()
        wait_for(lambda: self.reactive_stats()["switches"] == 1 and flow_count(self.lab) == REACTIVE_BASE_FLOWS,
                 "the reactive app's flows", timeout=self.deadline.timeout(READY_TIMEOUT_S))

    def reactive_stats(self):
        url = f"http://127.0.0.1:{self.reactive_port}/reactive_lb/stats"
        with urllib.request.urlopen(url, timeout=10) as reply:
            return json.load(reply)

    def move_hosts(self, to_ovn):
        """Every host's veth from lbctl's bridge to OVN's or back (at its own OpenFlow port),
        then wait until OVN has bound (or released) their logical ports."""
        source, target = (self.lab.bridge, self.ovn.bridge) if to_ovn else (self.ovn.bridge, self.lab.bridge)
        for name in HOSTS:
            host = self.lab.host(name)
            settings = (f"external_ids:iface-id={name}",) if to_ovn else (f"ofport_request={host.ofport}",)
            self.lab.vsctl("del-port", source, host.port_name, "--", "add-port", target, host.port_name,
                           "--", "set", "Interface", host.port_name, *settings)
            if not to_ovn and int(self.lab.vsctl("get", "Interface", host.port_name, "ofport")) != host.ofport:
                raise MeasurementFailed(f"{name} came back to {target} at another OpenFlow port")
        timeout = int(self.deadline.timeout(READY_TIMEOUT_S))
        for name in HOSTS:
            self.ovn.nbctl("wait-until", "Logical_Switch_Port", name, f"up={'true' if to_ovn else 'false'}",
                           timeout=timeout)
        if to_ovn:
            self.ovn.nbctl("--wait=hv", "sync", timeout=timeout)   # its flows are on the switch
        self.on_ovn = to_ovn

    # -- one measured run -------------------------------------------------------------------

    def bridge(self, system):
        return self.ovn.bridge if system == "ovn" else self.lab.bridge

    def vip_flows(self, system):
        """Flows the switch holds for the system's VIP: an lbctl VIP's (by its cookie: with dsr's
        learned pins), the reactive app's per-connection flows; None for OVN (its flows belong to
        logical flows, not to the load balancer alone) and the direct path."""
        if system in LBCTL_VIPS:
            status, doc = self.lbctl.call("GET", f"/v1/vips/{system}")
            if status != 200:
                raise MeasurementFailed(f"GET /v1/vips/{system} answered {status}: {doc}")
            return flow_count(self.lab, f"cookie={doc['cookie']}")
        if system == "reactive":
            return flow_count(self.lab) - REACTIVE_BASE_FLOWS
        return None

    def packet_ins(self, system):
        """What the system's controller has taken so far: packet-ins."""
        if system == "ovn":
            # ovn-controller's: packets its flows with a controller action sent it.
            dump = self.lab.switch.ofctl("dump-flows", self.ovn.bridge)
            return sum(int(N_PACKETS.search(line).group(1)) for line in dump.splitlines()
                       if CONTROLLER_ACTION.search(line.partition("actions=")[2]))
        if system == "reactive":
            return self.reactive_stats()["packet_in"]
        return controller_stats(self.lbctl)["packet_in"]

    def reset(self):
        """The same start for every run: no TIME_WAIT socket in any host, nothing in conntrack,
        no flow in the datapath."""
        for name in HOSTS:
            self.lab.run(name, ["ss", "-K", "-n", "state", "time-wait"])
        self.lab.switch.appctl("dpctl/flush-conntrack")
        self.lab.switch.appctl("revalidator/purge")

    def measure(self, system, requests, concurrency):
        self.enter(SYSTEMS[system])
        self.reset()

        def ab(n):
            # Failed requests are a figure here, not a failed measurement.
            return run_ab(self.lab, CLIENT, URLS[system], n, concurrency, self.deadline, AB_RUN_TIMEOUT_S,
                          max_failed_fraction=1.0)

        warmup = ab(max(WARMUP_REQUESTS, concurrency))
        before = self.packet_ins(system)
        result = ab(requests)
        return {"rate": result["rate"], "failed": result["failed"], "non_2xx": result["non_2xx"],
                "packet_in": self.packet_ins(system) - before,
                "switch_flows": flow_count(self.lab, bridge=self.bridge(system)),
                "vip_flows": self.vip_flows(system),
                "datapath_flows": datapath_flow_count(self.lab),
                "warmup_rate": warmup["rate"]}


def measure(args, workdir):
    deadline = Deadline(SETUP_BUDGET_S + args.rounds * ROUND_BUDGET_S)
    with started_lab(workdir, "pe") as lab:
        peers = Peers(lab, workdir, deadline)
        try:
            peers.build(with_ovn="ovn" in args.systems)
            rounds, errors = [], {}
            for i in range(args.rounds):
                order = args.systems if i % 2 == 0 else args.systems[::-1]
                results = {}
                for system in order:
                    if system in errors:
                        continue
                    deadline.check()
                    try:
                        results[system] = peers.measure(system, args.requests, args.concurrency)
                    except MeasurementFailed as e:
                        if system == "direct":
                            raise
                        errors[system] = f"round {i + 1}: {e}"
                rounds.append({"order": [s for s in order if s in results], **results})
            ovn_facts = None
            if peers.ovn:
                ovn_facts = {"version": subprocess.run(["ovn-controller", "--version"], capture_output=True,
                                                       text=True).stdout.splitlines()[0],
                             "ct_zero_snat_hidden_at_end": peers.ovn.zero_snat_hidden()}
        finally:
            if peers.ovn:
                peers.ovn.stop()
        return rounds, errors, ovn_facts


def summary(args, info, measured):
    rounds, errors, ovn_facts = measured
    direct = statistics.median(r["direct"]["rate"] for r in rounds)
    systems = {}
    for system in args.systems:
        runs = [r[system] for r in rounds if system in r]
        entry = {"url": URLS[system], "rounds_measured": len(runs), "error": errors.get(system)}
        if runs:
            median = statistics.median(run_["rate"] for run_ in runs)
            requests = args.requests * len(runs)
            entry.update({
                "rates": [run_["rate"] for run_ in runs],
                "median_rate": median,
                "ratio_to_direct": round(median / direct, 3),   # the targets are checked on this
                "packet_in": sum(run_["packet_in"] for run_ in runs),
                "packet_in_per_connection": round(sum(run_["packet_in"] for run_ in runs) / requests, 3),
                "switch_flows_after": runs[-1]["switch_flows"],
                "vip_flows_after": runs[-1]["vip_flows"],
                "datapath_flows_after": runs[-1]["datapath_flows"],
                "switch_flows_per_round": [run_["switch_flows"] for run_ in runs],
                "vip_flows_per_round": [run_["vip_flows"] for run_ in runs],
                "datapath_flows_per_round": [run_["datapath_flows"] for run_ in runs],
                "failed_requests": sum(run_["failed"] for run_ in runs),
                "non_2xx_responses": sum(run_["non_2xx"] for run_ in runs),
                "warmup_rates": [run_["warmup_rate"] for run_ in runs]})
        if system in TARGET_RATIOS:
            entry["target_ratio"] = TARGET_RATIOS[system]
            entry["target_met"] = bool(runs) and entry["ratio_to_direct"] >= TARGET_RATIOS[system]
        systems[system] = entry
    ahead = None
    if "ovn" in systems:
        ovn_rate = systems["ovn"].get("median_rate")
        behind = [mode for mode in LBCTL_VIPS if mode in systems
                  and (ovn_rate is None or systems[mode].get("median_rate", 0) <= ovn_rate)]
        ahead = {"target_met": ovn_rate is not None and not behind, "behind": behind}
    return {
        "benchmark": "peers",
        "machine": info,
        "parameters": {"requests": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
                       "systems": args.systems, "keepalive": False, "warmup_requests": WARMUP_REQUESTS,
                       "reactive_idle_timeout_s": REACTIVE_IDLE_TIMEOUT_S, "snat_pool": SNAT_POOL},
        "rounds": [{"order": r["order"], **{s: r[s]["rate"] for s in r["order"]}} for r in rounds],
        "systems": systems,
        "lbctl_ahead_of_ovn": ahead,
        "ovn": ovn_facts,
    }


def print_text(s):
    p, m = s["parameters"], s["machine"]
    print(f"lbctl and its peers, new connections/s: ab -n {p['requests']} -c {p['concurrency']}, no keepalive, "
          f"{p['rounds']} rounds, order alternating, each run after a {p['warmup_requests']}-request warm-up")
    print(machine_text(m))
    if s["ovn"]:
        print(f"OVN: {s['ovn']['version']}; the datapath's ct_zero_snat capability hidden from it (Open vSwitch "
              f"3.1.0's userspace conntrack aborts when OVN commits with nat(src); fixed in 3.1.3), still "
              f"hidden at the end: {'yes' if s['ovn']['ct_zero_snat_hidden_at_end'] else 'NO'}")
    for i, r in enumerate(s["rounds"], 1):
        print(f"  round {i}: " + "  ".join(f"{system} {r[system]:.0f}" for system in r["order"]))
    print(f"{'system':9} {'URL':26} {'median/s':>8} {'ratio':>6}  {'target':15} {'packet-ins':>10} "
          f"{'bridge':>7} {'its VIP':>7} {'datapath':>8} {'failed':>8}")
    print(f"{'':9} {'':26} {'':>8} {'':>6}  {'':15} {'per conn.':>10} {'flows':>7} {'flows':>7} {'flows':>8} "
          f"{'requests':>8}")
    for system, x in s["systems"].items():
        if "median_rate" not in x:
            print(f"{system:9} {x['url']:26} not measured: {x['error']}")
            continue
        target = (f">= {x['target_ratio']:.2f} {'met' if x['target_met'] else 'MISSED'}"
                  if "target_ratio" in x else "")
        vip_flows = "-" if x["vip_flows_after"] is None else x["vip_flows_after"]
        print(f"{system:9} {x['url']:26} {x['median_rate']:8.0f} {x['ratio_to_direct']:6.3f}  {target:15} "
              f"{x['packet_in_per_connection']:10.2f} {x['switch_flows_after']:7} {vip_flows:>7} "
              f"{x['datapath_flows_after']:8} {x['failed_requests'] + x['non_2xx_responses']:8}")
        if x["error"]:
            print(f"{'':9} dropped after {x['rounds_measured']} rounds: {x['error']}")
    ahead = s["lbctl_ahead_of_ovn"]
    if ahead:
        print(f"every lbctl mode ahead of OVN: {'met' if ahead['target_met'] else 'MISSED'}"
              + (f" (not ahead: {', '.join(ahead['behind'])})" if ahead["behind"] else ""))
    print("flows after each system's last measured run: on the bridge it uses (lbctl's for direct, lbctl "
          "and the reactive app, with\n  what the other lbctl VIPs hold, e.g. dsr's learned pins; OVN's for ovn), "
          "of its VIP (lbctl: the VIP's cookie;\n  reactive: its per-connection flows), and in the shared "
          "userspace datapath (purged before each system's warm-up)")


def system_list(text):
    """--systems: a comma-separated list of SYSTEMS -> them in measuring order, the direct path first."""
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(SYSTEMS)
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(sorted(unknown))}: not one of {', '.join(SYSTEMS)}")
    return [name for name in SYSTEMS if name in chosen or name == "direct"]


def main(argv=None):
    parser = bench_parser(__doc__)
    ab_options(parser, "system")
    parser.add_argument("--systems", type=system_list, default=list(SYSTEMS),
                        help=f"the systems to measure (default {','.join(SYSTEMS)}; direct always)")
    args = ab_arguments(parser, argv)
    return run("peers", args, measure, summary, print_text, needs_ab=True,
               unavailable=ovn.unavailable_reason if "ovn" in args.systems else None)


if __name__ == "__main__":
    sys.exit(main())
