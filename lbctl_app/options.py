"""The [lbctl] options of ryu-manager's configuration, read into the core's Options. A bad value
stops the start with a one-line error naming the option."""
import ipaddress
import os

from ryu import cfg

from flows.pipeline import MAX_REDUNDANCY_GROUP, NODE_GROUP
from lbctl.core import Options
from lbctl.core.cluster import ClusterConfig

CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt("vips_file", default=None,
               help="YAML file of VIPs, read at start when there is no saved state yet"),
    cfg.StrOpt("state_file", default="/var/lib/lbctl/state.msgpack",
               help="where every VIP change is saved (msgpack, replaced atomically)"),
    cfg.StrOpt("token_file", default=None,
               help="if set, REST calls that change anything need 'Authorization: Bearer <the file's "
                    "content>'; the file must not be readable by group or others (chmod 600)"),
    cfg.IntOpt("cluster_id", default=0, min=0, max=255,
               help="byte 4 of the balancer's MACs; differs between lbctl clusters on one LAN"),
    cfg.FloatOpt("probe_period", default=0.5,
                 help="seconds between rounds of ARP probes for members to find"),
    cfg.FloatOpt("refresh_interval", default=60.0,
                 help="a member not heard from for this many seconds is probed again"),
    cfg.FloatOpt("host_max_age", default=3600.0, min=1.0,
                 help="a member not heard from for this many seconds is forgotten (unresolved until found again)"),
    cfg.IntOpt("arp_punt_pps", default=100, min=1,
               help="ARP packets per second the switch sends to the controller at most"),
    cfg.IntOpt("arp_punt_burst", default=50, min=0, help="... after a burst of this many"),
    cfg.IntOpt("member_arp_pps", default=100, min=1,
               help="the same for ARP from members' addresses, which has a meter of its own"),
    cfg.ListOpt("gateways", default=[],
                help="the balancer's gateway addresses (routed mode) on the default network, e.g. 198.18.0.1/24, "
                     "198.18.2.1/24: it answers ARP and ping for them, and members and clients use them as their router"),
    cfg.IntOpt("gateway_group", default=1, min=1, max=0xFFF, help="the redundancy group (MAC) of the gateways"),
    cfg.IntOpt("reject_pps", default=100, min=1,
               help="connections to a VIP with no live member the controller refuses per second at most"),
    cfg.IntOpt("duplicate_moves", default=5, min=2,
               help="an address that moves this many times within duplicate_window is frozen"),
    cfg.FloatOpt("duplicate_window", default=180.0, help="seconds (RFC 7432's M)"),
    cfg.StrOpt("monitor_address", default=None,
               help="the source address of health probes on the default network, owned by the balancer (it answers "
                    "ARP for it): members must be able to reach it. Needed by VIPs with a health_monitor there"),
    cfg.IntOpt("monitor_pps", default=1000, min=1, help="replies to health probes the controller takes per second at most"),
    cfg.FloatOpt("dsr_grace", default=300.0, min=0.0,
                 help="seconds after a dsr slot changes owner during which the old owner keeps the connections "
                      "that began before (new ones go to the new owner and are pinned); 0: none"),
    cfg.FloatOpt("stats_interval", default=10.0, min=0.1,
                 help="seconds between two readings of the switches' flow and group counters"),
    cfg.ListOpt("balancers", default=[],
                help="a cluster's balancer switches, name=dpid (16 hex digits), in their default order of "
                     "preference: each redundancy group is active on one of them (none: every switch is active)"),
    cfg.ListOpt("group_order", default=[],
                help="a group's own order of preference, group=name name ... (groups not listed: balancers' order)"),
    cfg.BoolOpt("preempt", default=False,
                help="a switch more preferred than a group's active one takes the group back (after hold_down)"),
    cfg.FloatOpt("hold_down", default=10.0, min=0.0,
                 help="seconds a switch must be up before it takes a group back (preempt)"),
    cfg.FloatOpt("takeover_grace", default=60.0, min=0.0,
                 help="seconds after a takeover in which the new active switch picks up NAT connections mid-stream"),
    cfg.ListOpt("uplinks", default=[],
                help="name=port port ...: the switch cannot serve while one of these ports is down"),
    cfg.IntOpt("garp_count", default=3, min=0, help="gratuitous ARPs sent per announcement"),
    cfg.FloatOpt("garp_interval", default=1.0, help="seconds between them"),
], group="lbctl")


def beside_config(path):
    """A relative path in the [lbctl] section is relative to the config file that holds it."""
    if path and not os.path.isabs(path) and CONF.config_file:
        return os.path.join(os.path.dirname(os.path.abspath(CONF.config_file[-1])), path)
    return path


def parse_address(option, value):
    """An address option; a bad one stops the start."""
    try:
        return str(ipaddress.IPv4Address(value.strip())) if value else None
    except ValueError:
        raise SystemExit("lbctl cannot start: [lbctl] %s: %r is not an IPv4 address" % (option, value))


def parse_gateways(entries):
    """`address/prefix` entries of the gateways option, checked (an entry without a prefix is a
    /32); a bad one stops the start."""
    gateways = []
    for entry in entries:
        try:
            gateways.append(ipaddress.IPv4Interface(entry.strip()).with_prefixlen)
        except ValueError:
            raise SystemExit("lbctl cannot start: [lbctl] gateways: %r is not an IPv4 address/prefix" % entry)
    return tuple(gateways)


def _stop(option, entry, why):
    raise SystemExit("lbctl cannot start: [lbctl] %s: %r %s" % (option, entry, why))


def _pairs(option, entries):
    """`key=value` entries -> [(key, value)], both stripped."""
    pairs = []
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            _stop(option, entry, "is not key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_cluster(balancers, group_order, preempt, hold_down, uplinks):
    """The cluster options -> ClusterConfig; a bad entry stops the start, naming it."""
    named = {}
    for name, dpid in _pairs("balancers", balancers):
        if len(dpid) != 16 or any(c not in "0123456789abcdefABCDEF" for c in dpid):
            _stop("balancers", "%s=%s" % (name, dpid), "has no dpid of 16 hex digits")
        if name in named or int(dpid, 16) in named.values():
            _stop("balancers", "%s=%s" % (name, dpid), "repeats a name or a dpid")
        named[name] = int(dpid, 16)
    if len(named) > 256 - (NODE_GROUP & 0xFF):
        _stop("balancers", balancers, "are more than %d" % (256 - (NODE_GROUP & 0xFF)))
    orders = {}
    for group, names in _pairs("group_order", group_order):
        order = names.split()
        if not group.isdigit() or not 1 <= int(group) <= MAX_REDUNDANCY_GROUP:
            _stop("group_order", "%s=%s" % (group, names), "names no redundancy group from 1 to %d"
                  % MAX_REDUNDANCY_GROUP)
        unknown = [name for name in order if name not in named]
        if unknown or len(set(order)) != len(order):
            _stop("group_order", "%s=%s" % (group, names), "names a switch twice or not in balancers")
        orders[int(group)] = order
    links = {}
    for name, ports in _pairs("uplinks", uplinks):
        if name not in named or not all(port.isdigit() for port in ports.split()):
            _stop("uplinks", "%s=%s" % (name, ports), "is not a balancer's name and its port numbers")
        links[name] = frozenset(int(port) for port in ports.split())
    return ClusterConfig(named, orders, preempt, hold_down, links)


def options():
    """The core's Options from [lbctl]."""
    opts = CONF.lbctl
    return Options(cluster_id=opts.cluster_id, gateways=parse_gateways(opts.gateways), gateway_group=opts.gateway_group,
                   monitor_address=parse_address("monitor_address", opts.monitor_address),
                   arp_punt_pps=opts.arp_punt_pps, arp_punt_burst=opts.arp_punt_burst,
                   member_arp_pps=opts.member_arp_pps, reject_pps=opts.reject_pps, monitor_pps=opts.monitor_pps,
                   probe_period=opts.probe_period, refresh_interval=opts.refresh_interval,
                   host_max_age=opts.host_max_age, duplicate_moves=opts.duplicate_moves,
                   duplicate_window=opts.duplicate_window, garp_count=opts.garp_count,
                   garp_interval=opts.garp_interval, stats_interval=opts.stats_interval, dsr_grace=opts.dsr_grace,
                   cluster=parse_cluster(opts.balancers, opts.group_order, opts.preempt, opts.hold_down, opts.uplinks),
                   takeover_grace=opts.takeover_grace)
