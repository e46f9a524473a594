"""How lbctl scales with tenant networks: 100 networks (VLANs 101-200) of 10 VIPs each, 8
members per VIP, created over REST on a real lab and timed until the switch has confirmed every
flow, against the same 1,000 VIPs on the default network in the same run; what a network costs
the switch with no VIP on it. A measurement: it prints figures and asserts nothing.

    sudo .venv/bin/python -m bench.scale_networks [--networks 100] [--vips-per-network 10]
                                                  [--members 8] [--rounds 2] [--quick] [--json]

What runs, for each side, in a lab of its own (a fresh switch and controller): Open vSwitch with
the userspace datapath, the real controller `ryu-manager lbctl_app` with lbctl's defaults (but
the lab's probe_period of 0.2 s and a refresh_interval of 600 s: see below), started with no VIP,
and one host, `trunk` (OpenFlow port 1, an untagged port that carries every VLAN), that stands in
for every member. The two sides:

  default   --networks x --vips-per-network VIPs on the default network, exactly those of
            bench.scale: VIP i is `s<i>`, 198.19.<i // 250>.<1 + i % 250>:80 tcp routed, members
            198.18.0.11, .12, ... at port 10000 + i.
  networks  --networks networks `vlan<N>`, N = 101, 102, ..., each {"vlan": N, "gateways":
            ["10.0.0.1/24"], "monitor_address": "10.0.0.2"} (one address plan for all, as
            tenants' would be), created by POST one after the other; then --vips-per-network
            VIPs on each: VIP i (the j-th of its network) is `s<i>`, 10.0.0.<100 + j>:80 tcp
            routed on that network, members 10.0.0.11, .12, ... there at port 10000 + i.

In both, no two VIPs share a member's flows (member ports differ), as in bench.scale.

Members, as in bench.scale, are located before the first timed VIP, so that each VIP gets its
whole select group and member flows at once (an unlocated member would be left out, and the
figures would be those of smaller VIPs). The controller learns only members, so each network
(and the default one) first gets a seed VIP listing its members (`seed-<network>`, the last
address of the plan, port 9), created untimed. bench.scale locates real hosts; here there is
no host behind a tenant's members (800 namespaces would be too many for this machine): the trunk
host sends each member's gratuitous ARP itself, 802.1Q-tagged with its network's VLAN (untagged
on the default side), from a MAC of its own (stand_in_mac: not lab.hosts.mac_for's, which gives
VLAN 108's hosts 02:6c:..., the prefix of lbctl's own MACs), at 80 frames/s (under the
members' ARP meter, member_arp_pps 100), again for those not located after each pass, at most
LOCATE_PASSES passes. The controller then knows each member at the trunk's port, as it would a
host behind a trunk. Nothing answers its ARP probes, so refresh_interval is 600 s (the default,
60 s, would have it probe every member again during a long run); a member stays located for
host_max_age (3600 s). The default side locates its members the same way (untagged), so both
sides differ only in their networks.

Reported for each side, as bench.scale reports its 1.:
- the creation of the VIPs, POSTed one after the other on one kept-alive connection: the total
  from the first POST's send to the switch's barrier reply for the last POST's change (its send
  plus its change_to_barrier_ms; GET /v1/stats then shows no barrier unanswered), the POST round
  trip, the controller's change_to_barrier_ms (p50, p99), the CPU of the controller and of
  ovs-vswitchd meanwhile;
- flows per VIP: the switch's flows (dump-aggregate) after the creation, less those before it
  (the pipeline, the networks, the seeds, the members' own flows) and less any change in the
  members' own flows (their cookies), over the VIPs; the same by cookie for the first, a middle
  and the last VIP; groups per VIP and buckets per group;
- the switch against the controller: every flow and group compared line by line with what the
  controller computes from its saved state and the hosts it knows (bucket and slot order aside);
- the controller's RSS before and after the creation.
The networks side also reports the networks' creation (timed alike) and a network's own cost:
the switch's flows and groups before and after the networks were created, with no VIP on any
(and the flows with the networks' cookies). Last, the ratios networks/default of the total time,
of change_to_barrier_ms p50 and p99, of the POST round trip's p50, of the controller's CPU and of
flows per VIP; with --rounds > 1, of the medians over the rounds (sides in alternating order,
each side in a fresh lab).

Exit status: 0 when measured; 1 when the measurement itself failed (a lab or the controller would
not start, a member was not located, a POST was refused, the switch did not confirm in time, the
time budget ran out); 130 on Ctrl-C. Each lab is removed in every case; the workdir (logs) is
kept only when the measurement failed, and its path printed.
"""

import json
import statistics
import sys
import time
from dataclasses import dataclass

from bench import scale
from bench.lib import (Deadline, MeasurementFailed, bench_parser, bounded, flow_count, lab_pid, machine_text,
                       memory_kb, run, started_lab)
from bench.scale import (HOST_COOKIES, Rest, compare, create_all, dist_text, post, switch_counts,
                         vip_flows, wait_confirmed)
from flows import pipeline
from lab import free_tcp_port, packets
from lab.lbctl import Controller
from lbctl import packets as codec

SIDES = ("default", "networks")
TRUNK, TRUNK_IP, TRUNK_OFPORT = "trunk", "198.18.0.9", 1   # stands in for every member
FIRST_VLAN = 101
MAX_NETWORKS = 1000
MAX_VIPS_PER_NETWORK = 100          # 10.0.0.100-.199
MAX_MEMBERS = 64                    # 10.0.0.11-.74
TENANT_NETWORK = {"gateways": ["10.0.0.1/24"], "monitor_address": "10.0.0.2"}
TENANT_MEMBER_BASE = 11             # 10.0.0.11, .12, ...
TENANT_VIP_BASE = 100               # a network's j-th VIP is 10.0.0.(100 + j)
TENANT_SEED = "10.0.0.254"
SEED_PORT = 9
VIP_PORT = scale.VIP_PORT
MEMBER_PORT_BASE = scale.MEMBER_PORT_BASE
OPTIONS = {"refresh_interval": 600}  # nothing answers the probes of the stand-in members
GARP_RATE = 80.0                    # frames/s, under the members' ARP meter (member_arp_pps 100)
LOCATE_PASSES = 3
LOCATE_SETTLE_S = 3.0               # after a pass: found members are learned within 0.1 s
NETWORK_COOKIES = "%#x/%#x" % (pipeline.cookie(pipeline.NETWORKS), pipeline.COOKIE_OWNER_MASK)
SIDE_BUDGET_S = 300                 # one side: lab, location, creation, comparison
QUICK = {"networks": 20, "vips_per_network": 5, "rounds": 1}


@dataclass(frozen=True)
class Plan:
    """What one side creates: its networks (bodies), seed VIPs, VIPs, and the members to locate
    as (network, address, VLAN)."""
    networks: list
    seeds: list
    vips: list
    members: list


def stand_in_mac(ip, vlan):
    """The MAC a stand-in member announces: 0e (locally administered, unicast), its VLAN in 16
    bits (0: untagged), the last 3 bytes of its address."""
    return "0e:%02x:%02x:" % divmod(vlan or 0, 256) + ":".join("%02x" % int(b) for b in ip.split(".")[1:])


def tenant_vip(i, j, network, members):
    return {"name": f"s{i}", "network": network, "address": f"10.0.0.{TENANT_VIP_BASE + j}", "port": VIP_PORT,
            "protocol": "tcp", "mode": "routed",
            "members": [{"address": ip, "port": MEMBER_PORT_BASE + i} for ip in members]}


def plan(side, args):
    n_vips = args.networks * args.vips_per_network
    if side == "default":
        hosts = scale.members(args.members)
        return Plan(networks=[], seeds=[dict(scale.seed_vip(hosts), name="seed-default")],
                    vips=[scale.vip_body(i, hosts) for i in range(n_vips)],
                    members=[("default", ip, None) for _, ip, _ in hosts])
    members = [f"10.0.0.{TENANT_MEMBER_BASE + m}" for m in range(args.members)]
    networks = [dict(TENANT_NETWORK, name=f"vlan{FIRST_VLAN + k}", vlan=FIRST_VLAN + k) for k in range(args.networks)]
    return Plan(networks=networks,
                seeds=[{"name": f"seed-{n['name']}", "network": n["name"], "address": TENANT_SEED, "port": SEED_PORT,
                        "members": [{"address": ip} for ip in members]} for n in networks],
                vips=[tenant_vip(k * args.vips_per_network + j, j, n["name"], members)
                      for k, n in enumerate(networks) for j in range(args.vips_per_network)],
                members=[(n["name"], ip, n["vlan"]) for n in networks for ip in members])


# -- the measurement ---------------------------------------------------------------------------

def locate(lab, rest, members, deadline):
    """Every member's gratuitous ARP, sent by the trunk host, until the controller knows them all."""
    missing = members
    for _ in range(LOCATE_PASSES):
        deadline.check()
        frames = [codec.arp_request(stand_in_mac(ip, vlan), ip, ip, vlan) for _, ip, vlan in missing]
        packets.send_frames(lab, TRUNK, frames, rate=GARP_RATE, timeout=deadline.timeout(len(frames) / GARP_RATE + 30))
        settle = time.monotonic() + LOCATE_SETTLE_S
        while missing and time.monotonic() < settle:
            time.sleep(0.2)
            status, known = rest.call("GET", "/v1/hosts")
            if status != 200:
                raise MeasurementFailed(f"GET /v1/hosts answered {status}: {known}")
            seen = {(h["network"], h["ip"]) for h in known}
            missing = [m for m in missing if m[:2] not in seen]
        if not missing:
            return
    raise MeasurementFailed(f"{len(missing)} of {len(members)} members not located after {LOCATE_PASSES} passes of "
                            f"gratuitous ARP, e.g. {missing[0][1]} on network {missing[0][0]}")


def counts_dict(counts):
    return dict(zip(("flows", "groups", "buckets"), counts))


def measure_side(workdir, side, args):
    """One side in a lab of its own -> its figures."""
    deadline = Deadline(SIDE_BUDGET_S)
    p = plan(side, args)
    workdir.mkdir()
    with started_lab(workdir, "sn") as lab:
        lab.add_host(TRUNK, TRUNK_IP, scale.PREFIXLEN, ofport=TRUNK_OFPORT)
        vips_file = workdir / "vips.json"
        vips_file.write_text(json.dumps({"vips": []}))   # JSON is YAML
        controller = Controller(lab, free_tcp_port(), vips_file, options=OPTIONS).start()
        pids = {key: lab_pid(lab, key) for key in ("controller", "ovs-vswitchd")}
        rest = Rest(controller.rest_port)
        result = {"side": side}
        try:
            wait_confirmed(rest, deadline)
            if p.networks:
                empty = switch_counts(lab)
                created = create_all(rest, p.networks, pids, deadline, path="/v1/networks")
                created["networks"] = created.pop("vips")
                with_networks = switch_counts(lab)
                result["networks"] = {
                    "creation": created, "switch_before": counts_dict(empty),
                    "switch_after": counts_dict(with_networks),
                    "network_cookie_flows": flow_count(lab, f"cookie={NETWORK_COOKIES}", timeout=scale.OFCTL_TIMEOUT_S),
                    "per_network": {"flows": round((with_networks[0] - empty[0]) / len(p.networks), 2),
                                    "groups": round((with_networks[1] - empty[1]) / len(p.networks), 2)}}
            for seed in p.seeds:
                post(rest, seed)
            locate(lab, rest, p.members, deadline)
            wait_confirmed(rest, deadline)
            baseline = switch_counts(lab)
            baseline_hosts = vip_flows(lab, HOST_COOKIES)
            memory = {"before_kb": memory_kb(pids["controller"])}

            created = create_all(rest, p.vips, pids, deadline)
            memory["after_create_kb"] = memory_kb(pids["controller"])
            counts = switch_counts(lab)
            hosts_after = vip_flows(lab, HOST_COOKIES)
            sample = sorted({0, len(p.vips) // 2, len(p.vips) - 1})
            by_cookie = [vip_flows(lab, rest.call("GET", f"/v1/vips/{p.vips[i]['name']}")[1]["cookie"]) for i in sample]
            compared = compare(lab, controller)
            refusals = controller.refusals()
        finally:
            rest.close()
    n = len(p.vips)
    result.update({
        "creation": created,
        "switch": {"baseline": counts_dict(baseline), "after_create": counts_dict(counts),
                   "host_flows": {"before": baseline_hosts, "after": hosts_after},
                   "compared": compared, "refused_messages": len(refusals)},
        "per_vip": {"flows": round((counts[0] - baseline[0] - (hosts_after - baseline_hosts)) / n, 2),
                    "by_cookie": {p.vips[i]["name"]: flows for i, flows in zip(sample, by_cookie)},
                    "groups": round((counts[1] - baseline[1]) / n, 2),
                    "buckets_per_group": round(counts[2] / counts[1], 1) if counts[1] else None},
        "memory": memory,
    })
    return result


def measure(args, workdir):
    rounds = []
    for r in range(args.rounds):
        order = SIDES if r % 2 == 0 else SIDES[::-1]
        rounds.append({side: measure_side(workdir / f"round{r + 1}-{side}", side, args) for side in order})
        rounds[-1]["order"] = list(order)
    return rounds


# -- the figures -------------------------------------------------------------------------------

def side_figures(result):
    c = result["creation"]
    return {"total_s": c["total_s"], "vips_per_s": c["vips_per_s"],
            "change_p50_ms": c["change_to_barrier_ms"]["p50"], "change_p99_ms": c["change_to_barrier_ms"]["p99"],
            "post_p50_ms": c["post_ms"]["p50"], "post_p99_ms": c["post_ms"]["p99"],
            "controller_cpu_s": c["cpu_s"]["controller"], "vswitchd_cpu_s": c["cpu_s"]["ovs-vswitchd"],
            "flows_per_vip": result["per_vip"]["flows"]}


def summary(args, info, rounds):
    figures = {side: [side_figures(r[side]) for r in rounds] for side in SIDES}
    median = {side: {key: statistics.median(f[key] for f in figures[side]) for key in figures[side][0]}
              for side in SIDES}
    ratio = {key: round(median["networks"][key] / median["default"][key], 3) if median["default"][key] else None
             for key in ("total_s", "change_p50_ms", "change_p99_ms", "post_p50_ms", "controller_cpu_s",
                         "flows_per_vip")}
    return {
        "benchmark": "scale_networks",
        "machine": info,
        "parameters": {"networks": args.networks, "vips_per_network": args.vips_per_network,
                       "vips": args.networks * args.vips_per_network, "members": args.members,
                       "rounds": args.rounds, "vlans": [FIRST_VLAN, FIRST_VLAN + args.networks - 1],
                       "vip_mode": "routed tcp 5-tuple", "controller_options": OPTIONS,
                       "member_location": "gratuitous ARP sent for each member by one trunk host"},
        "rounds": rounds,
        "median": median,
        "ratio_networks_default": ratio,
    }


def print_text(s):
    p, rounds = s["parameters"], s["rounds"]
    print(f"lbctl scale with tenant networks: {p['vips']} VIPs ({p['vip_mode']}), {p['members']} members each, "
          f"on {p['networks']} networks (VLANs {p['vlans'][0]}-{p['vlans'][1]}, {p['vips_per_network']} VIPs each) "
          f"against {p['vips']} on the default network; {p['rounds']} round(s), sides in fresh labs, "
          f"order alternating")
    print(machine_text(s["machine"]))
    for number, r in enumerate(rounds, 1):
        print(f"round {number} ({' then '.join(r['order'])}):")
        n = r["networks"]["networks"]
        nc = n["creation"]
        print(f"  {nc['networks']} networks created by POST and confirmed by the switch in {nc['total_s']:.2f} s "
              f"({nc['vips_per_s']} networks/s)")
        print(f"     POST round trip (client):   {dist_text(nc['post_ms'])}")
        print(f"     change_to_barrier_ms:       {dist_text(nc['change_to_barrier_ms'])}")
        before, after = n["switch_before"], n["switch_after"]
        print(f"     with no VIP, a network costs {n['per_network']['flows']} flows and {n['per_network']['groups']} "
              f"groups (the switch: {before['flows']} flows before, {after['flows']} after; "
              f"{n['network_cookie_flows']} of them with the networks' cookies)")
        for side in r["order"]:
            x = r[side]
            c, sw, pv, mem = x["creation"], x["switch"], x["per_vip"], x["memory"]
            cmp = sw["compared"]
            print(f"  {side}: all {c['vips']} VIPs confirmed by the switch {c['total_s']:.2f} s after the first POST "
                  f"({c['vips_per_s']} VIPs/s; pending_barriers 0 seen at {c['seen_confirmed_s']:.2f} s)")
            print(f"     POST round trip (client):   {dist_text(c['post_ms'])}")
            print(f"     change_to_barrier_ms:       all {dist_text(c['change_to_barrier_ms'])}")
            print(f"                                 last 100 {dist_text(c['change_to_barrier_last100_ms'])}")
            print(f"     CPU used meanwhile: controller {c['cpu_s']['controller']} s, "
                  f"ovs-vswitchd {c['cpu_s']['ovs-vswitchd']} s; controller RSS {mem['before_kb'] / 1024:.1f} -> "
                  f"{mem['after_create_kb'] / 1024:.1f} MiB")
            cookies = ", ".join(f"{name} {flows}" for name, flows in pv["by_cookie"].items())
            print(f"     per VIP: {pv['flows']} flows (by cookie: {cookies}) and {pv['groups']} group of "
                  f"{pv['buckets_per_group']} buckets; before the VIPs the switch held {sw['baseline']['flows']} "
                  f"flows, {sw['host_flows']['before']} of them the members' own ({sw['host_flows']['after']} after)")
            after = sw["after_create"]
            print(f"     the switch holds {after['flows']} flows and {after['groups']} groups; the controller "
                  f"computes {cmp['expected_flows']} and {cmp['expected_groups']}; lines that differ: "
                  f"{cmp['differing_lines']}; messages refused: {sw['refused_messages']}")
    m, ratio = s["median"], s["ratio_networks_default"]
    which = "medians over the rounds" if p["rounds"] > 1 else "the round's figures"
    print(f"networks/default ({which}):")
    for key, text in (("total_s", "time to create and confirm all VIPs"), ("change_p50_ms", "change_to_barrier_ms p50"),
                      ("change_p99_ms", "change_to_barrier_ms p99"), ("post_p50_ms", "POST round trip p50"),
                      ("controller_cpu_s", "controller CPU"), ("flows_per_vip", "flows per VIP")):
        print(f"  {text:38} {m['networks'][key]:9.2f} / {m['default'][key]:9.2f} = {ratio[key]:.2f}")


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--networks", type=bounded(int, 1, MAX_NETWORKS), default=100,
                        help=f"tenant networks, VLANs {FIRST_VLAN} on (default 100, at most {MAX_NETWORKS})")
    parser.add_argument("--vips-per-network", type=bounded(int, 1, MAX_VIPS_PER_NETWORK), default=10,
                        help=f"VIPs on each network (default 10, at most {MAX_VIPS_PER_NETWORK}); the default "
                             "side gets as many VIPs in all")
    parser.add_argument("--members", type=bounded(int, 1, MAX_MEMBERS), default=8,
                        help=f"members of each VIP (default 8, at most {MAX_MEMBERS})")
    parser.add_argument("--rounds", type=bounded(int, 1, 5), default=2,
                        help="rounds of both sides, order alternating, each side in a fresh lab (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run: {QUICK['networks']} networks of {QUICK['vips_per_network']} VIPs, "
                             "1 round (other options ignored but --members)")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return run("scale_networks", args, measure, summary, print_text)


if __name__ == "__main__":
    sys.exit(main())
