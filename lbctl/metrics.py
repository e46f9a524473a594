"""GET /metrics: the balancer in Prometheus' text exposition format, through prometheus_client.
Every figure is read from the core's view when Prometheus scrapes (a custom collector): traffic
per VIP and member from the switches' counters (lbctl.counters, as of the last reading), members'
health, and the controller's own counters. A VIP's and a member's figures carry the `network`
they are on: two tenants' VIPs and members may have the same addresses."""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from lbctl.health import STATUSES

# Controller counters (lbctl.stats) exported one-to-one: counter name -> (metric, help).
CONTROLLER = {
    "flow_changes": ("lbctl_flow_changes", "flow, group and meter changes sent to switches"),
    "host_moves": ("lbctl_host_moves", "members seen at a new MAC or port, and followed"),
    "duplicates": ("lbctl_duplicate_addresses", "addresses frozen by duplicate detection"),
    "ownership_conflicts": ("lbctl_ownership_conflicts", "ARP from others claiming the balancer's addresses"),
    "garps_sent": ("lbctl_garps_sent", "gratuitous ARPs sent for the balancer's addresses"),
    "probes_sent": ("lbctl_arp_probes_sent", "ARP probes sent to find members"),
    "rejected": ("lbctl_rejected_connections", "connections to a VIP with no live member, refused"),
    "time_exceeded": ("lbctl_time_exceeded", "routed packets whose TTL ran out at the balancer, answered"),
    "switch_errors": ("lbctl_switch_errors", "messages a switch refused"),
    "monitor_probes": ("lbctl_health_probes", "health probes sent to members"),
    "monitor_changes": ("lbctl_health_changes", "members that went up or down by their health monitor"),
    "takeovers": ("lbctl_takeovers", "redundancy groups moved to another switch of the cluster because theirs failed"),
}
# Packet-ins by kind: counter name -> kind label.
PACKET_INS = {"packet_in_arp": "arp", "packet_in_reject": "reject", "packet_in_monitor": "health_reply"}


class Collector:
    def __init__(self, view):
        self.view = view

    def collect(self):
        view = self.view
        vips = view.config.vips
        networks = {vip.name: (vip.network, {"%s:%d" % (m.address, m.port): m.network for m in vip.members})
                    for vip in vips}
        yield from self._traffic(view.traffic(), networks)
        yield from self._health(view, vips)
        counters = view.core.stats.counters
        for name, (metric, text) in CONTROLLER.items():
            yield CounterMetricFamily(metric, text, value=counters[name])
        packet_ins = CounterMetricFamily("lbctl_packet_ins", "packet-ins from switches, by kind", labels=["kind"])
        for name, kind in PACKET_INS.items():
            packet_ins.add_metric([kind], counters[name])
        packet_ins.add_metric(["other"], counters["packet_in"] - sum(counters[n] for n in PACKET_INS))
        yield packet_ins
        results = CounterMetricFamily("lbctl_health_probe_results", "health probe results", labels=["result"])
        results.add_metric(["success"], counters["monitor_successes"])
        results.add_metric(["failure"], counters["monitor_failures"])
        yield results
        yield GaugeMetricFamily("lbctl_switches_connected", "switches connected and adopted", value=len(view.core.switches))
        yield GaugeMetricFamily("lbctl_vips", "VIPs configured", value=len(vips))
        yield GaugeMetricFamily("lbctl_networks", "networks configured (the default one too)",
                                value=len(view.config.networks))
        active = GaugeMetricFamily("lbctl_group_active", "1 on the switch a redundancy group is active on",
                                   labels=["group", "switch"])
        for group in view.groups():
            if group["active"] is not None:
                active.add_metric([str(group["group"]), group["active"]["name"]], 1.0)
        yield active

    @staticmethod
    def _traffic(report, networks):
        names = ("packets", "bytes", "connections")
        vip = {n: CounterMetricFamily("lbctl_vip_" + n, text, labels=["vip", "network"]) for n, text in (
            ("packets", "packets of the VIP: requests to it and replies from it"),
            ("bytes", "bytes of the VIP: requests to it and replies from it"),
            ("connections", "new connections to the VIP, sent to a member"))}
        member = {n: CounterMetricFamily("lbctl_member_" + n, text, labels=["vip", "member", "network"]) for n, text in (
            ("packets", "request packets delivered to the member"),
            ("bytes", "request bytes delivered to the member"),
            ("connections", "new connections sent to the member"))}
        for name, doc in report.items():
            network, member_networks = networks[name]
            for n in names:
                vip[n].add_metric([name, network], doc[n])
                for endpoint, counts in doc["members"].items():
                    member[n].add_metric([name, endpoint, member_networks[endpoint]], counts[n])
        yield from vip.values()
        yield from member.values()

    @staticmethod
    def _health(view, vips):
        status = GaugeMetricFamily("lbctl_member_status", "1 for the member's operating status",
                                   labels=["vip", "member", "network", "status"])
        up = GaugeMetricFamily("lbctl_vip_members_up", "members up", labels=["vip", "network"])
        for vip in vips:
            count = 0
            for member in vip.members:
                current = view.status(vip, member)[0]
                count += current == "up"
                for name in STATUSES:
                    status.add_metric([vip.name, "%s:%d" % (member.address, member.port), member.network, name],
                                      float(current == name))
            up.add_metric([vip.name, vip.network], count)
        yield status
        yield up


def exposition(view):
    """The text Prometheus scrapes."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(view))
    return generate_latest(registry)
