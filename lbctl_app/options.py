"""The [lbctl] options of ryu-manager's configuration, read into the core's Options. A bad value
stops the start with a one-line error naming the option."""
import ipaddress
import os

from ryu import cfg

from lbctl.core import Options

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
                   garp_interval=opts.garp_interval, stats_interval=opts.stats_interval, dsr_grace=opts.dsr_grace)
