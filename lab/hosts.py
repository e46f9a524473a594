"""Test hosts: one network namespace each, joined to the bridge by a veth pair.

The veth pair is created directly in its two namespaces (the host's `eth0` and the bridge port
in the switch namespace), so it never exists in the root namespace, not even for a moment.
"""

import ipaddress
import re
from dataclasses import dataclass

from lab.cmd import run

IFNAMSIZ = 15  # the kernel's limit on interface names, without the trailing NUL
HOST_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # "client", "a-m1"
VLAN_IDS = range(0, 4095)  # 4095 is reserved; 0 is "untagged only" (see Host.vlan)


@dataclass(frozen=True)
class Host:
    name: str        # "client", "m1"
    netns: str       # "<prefix>-<name>"
    ip: str          # address of eth0 inside the namespace
    prefixlen: int
    mac: str         # of eth0 inside the namespace
    ofport: int      # OpenFlow port number of the bridge side, on `bridge`
    port_name: str   # the bridge side of the veth pair, as ovs-ofctl shows it
    gateway: str = None
    # None: an untagged plain OVS port, which NORMAL takes for a trunk of every VLAN (tagged
    # floods of any VLAN reach it). N: an access port of VLAN N (OVS `tag`); 0: untagged only.
    vlan: int = None
    bridge: str = None  # the bridge its port is on (None in records older than access bridges)


def mac_for(ip, vlan=None):
    """A locally administered MAC that shows the address: 198.18.0.11 -> 02:00:c6:12:00:0b.

    Tenants reuse addresses, so a host on a VLAN also shows its VLAN, in the 12 bits before the
    address, and 6 as the first byte's low nibble: 10.0.0.11 on VLAN 101 (0x065) ->
    06:65:0a:00:00:0b, on VLAN 102 -> 06:66:... (VLAN 0xabc -> a6:bc:...). Both 2 and 6 are
    unicast and local; 6 keeps VLAN 108 (0x6c) off lbctl's own prefix 02:6c.
    """
    vlan = vlan or 0
    first = (vlan >> 8) << 4 | (0x06 if vlan else 0x02)
    return f"{first:02x}:{vlan & 0xff:02x}:" + \
        ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def check_vlan(vlan):
    if vlan is not None and vlan not in VLAN_IDS:
        raise ValueError(f"vlan {vlan!r}: a VLAN id from 1 to 4094, or 0 (untagged only)")
    return vlan


def sh(*argv):
    return run(argv).stdout


def prepare_netns(name):
    """A fresh namespace with lo up and IPv6 off.

    IPv6 off keeps router solicitations and MLD reports out of the bridge, so flow counters and
    packet-ins only show the traffic a test sent. It is set before any veth arrives, via
    `default`, so eth0 never gets a link-local address.
    """
    sh("ip", "netns", "add", name)
    sh("ip", "netns", "exec", name, "sysctl", "-q", "-w",
       "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    sh("ip", "-n", name, "link", "set", "lo", "up")


def check_names(prefix, name):
    if not HOST_NAME.match(name):
        raise ValueError(f"host name {name!r}: use lower-case letters and digits, "
                         "starting with a letter, with single hyphens between them")
    port_name = f"{prefix}{name}"
    if len(port_name) > IFNAMSIZ:
        raise ValueError(f"host name {name!r}: bridge port name {port_name!r} is longer "
                         f"than {IFNAMSIZ} characters")
    return f"{prefix}-{name}", port_name


def make_host(switch_netns, netns, port_name, ip, prefixlen, mac, gateway):
    """Wire the namespace `netns` (already made) to the switch namespace; returns its MAC."""
    sh("ip", "-n", switch_netns, "link", "add", port_name, "type", "veth",
       "peer", "name", "eth0", "netns", netns)
    mac = mac or mac_for(ip)
    sh("ip", "-n", netns, "link", "set", "eth0", "address", mac)
    sh("ip", "-n", netns, "addr", "add", f"{ip}/{prefixlen}", "dev", "eth0")
    sh("ip", "-n", netns, "link", "set", "eth0", "up")
    sh("ip", "-n", switch_netns, "link", "set", port_name, "up")
    if gateway:
        sh("ip", "-n", netns, "route", "add", "default", "via", gateway)
    # With tx offload a veth hands over packets whose TCP checksum is left for "the NIC" to
    # fill in; the userspace datapath forwards and NATs them as they are, so the receiver
    # would see bad checksums. Both ends compute checksums in software instead.
    sh("ip", "netns", "exec", netns, "ethtool", "-K", "eth0", "tx", "off")
    sh("ip", "netns", "exec", switch_netns, "ethtool", "-K", port_name, "tx", "off")
    return mac
