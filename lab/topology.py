"""The standard topology of the demo, the integration tests and the benchmarks (`build`), the
same hosts on the fabric of a cluster of balancers (`build_fabric`, drawn in lab/cluster.py), and
the tenant topology (`build_tenants`): two tenant VLANs that use the same address plan.

198.18.0.0/15 is the range set aside for benchmarking (RFC 2544): it is never anyone's real
network, so a flow or a log line with these addresses is plainly ours. Tenant networks are
10.0.0.0/24, as tenants' own plans would be; they exist only inside the lab's namespaces.

The tenant topology. Tenants A (VLAN 101) and B (VLAN 102) have identical plans; each host's
default gateway is 10.0.0.1, the balancer's future address on the tenant network (nothing
answers it yet). The provider network, untagged, has the standard client, on a port that
carries untagged frames only (`tag=0`: NORMAL floods no tenant's frames to it).

      provider client 198.18.0.10 (untagged only)
                  | port 1, tag=0
    +-------------+----------- lbctl bridge <prefix>br (fail_mode=secure) ------------+
    |  port 21: a-m3 10.0.0.13, tag=101       port 22: b-m3 10.0.0.13, tag=102        |
    |  port 50: trunk_acc (patch; carries 101 and 102, tagged; nothing untagged)      |
    +-------------+-------------------------------------------------------------------+
                  | patch pair: trunk_acc <-> uplink_acc (port 50 on both bridges)
    +-------------+------------ access bridge <prefix>_acc (standalone, NORMAL) ------+
    |  tag=101: a-client 10.0.0.10 (port 1),  a-m1 .11 (port 2),  a-m2 .12 (port 3)   |
    |  tag=102: b-client 10.0.0.10 (port 11), b-m1 .11 (port 12), b-m2 .12 (port 13)  |
    +---------------------------------------------------------------------------------+

Members m1..m3 of each tenant serve HTTP and answer with their host name ("a-m1\\n"). MACs show
VLAN and address (hosts.mac_for): a-m1 06:65:0a:00:00:0b, b-m1 06:66:0a:00:00:0b; the
provider client keeps 02:00:c6:12:00:0a. On the lbctl bridge, OpenFlow sees a tenant's frames
tagged on port 50 (dl_vlan=101/102) and untagged on its access port (21/22).

The two topologies fit in one lab (the tenant demo, `python -m lab demo up --tenants`):
`build(lab, vlan=0)` first, then `build_tenants(lab, provider_client=<build's client>)`. Their
ports on the lbctl bridge (1-4; 21, 22, 50) and host names do not meet. `vlan=0` makes the
standard hosts' ports untagged only, as the provider client's is: a plain port is a trunk of
every VLAN, and NORMAL (lbctl switches a tenant's ARP with it, tag pushed back) would flood
tenant frames, tagged, to it.
"""

from dataclasses import dataclass

from lab.hosts import Host
from lab.ovs import AccessBridge

PREFIXLEN = 24
CLIENT = ("client", "198.18.0.10", 1)            # name, address, OpenFlow port
MEMBERS = (("m1", "198.18.0.11", 2),
           ("m2", "198.18.0.12", 3),
           ("m3", "198.18.0.13", 4))
HTTP_PORTS = (80, 8080)
DEMO_VIP = "198.18.0.100"  # the `web` VIP of config/vips.yaml: members .11-.13, port 80
TENANT_VIP = "10.0.0.100"       # `a-web` and `b-web` of config/tenants.yaml: each tenant's m1-m3
PROVIDER_VIP = "198.18.0.120"   # `a-public` there: tenant A's a-m1, a-m2, on the default network


def build(lab, http_ports=HTTP_PORTS, vlan=None):
    """Add the client and the members (each serving HTTP) to a started lab; returns the hosts.
    `vlan=0`: their ports carry untagged frames only (beside tenant VLANs; see above)."""
    name, ip, ofport = CLIENT
    lab.add_host(name, ip, PREFIXLEN, ofport=ofport, vlan=vlan)
    for name, ip, ofport in MEMBERS:
        lab.add_host(name, ip, PREFIXLEN, ofport=ofport, vlan=vlan)
        lab.start_http(name, http_ports)
    return dict(lab.hosts)


def build_fabric(cluster, http_ports=HTTP_PORTS):
    """The standard client and members on a started cluster's fabric (lab/cluster.py), members
    serving HTTP; returns the hosts. Same addresses and MACs as build(), no OpenFlow ports."""
    name, ip, _ = CLIENT
    cluster.add_host(name, ip, PREFIXLEN)
    for name, ip, _ in MEMBERS:
        cluster.add_host(name, ip, PREFIXLEN)
        cluster.start_http(name, http_ports)
    return dict(cluster.hosts)


TENANT_PREFIXLEN = 24
TENANT_GATEWAY = "10.0.0.1"
# Every tenant's plan: host, address, and whether it sits behind the trunk (on the access
# bridge) or on an access port of the lbctl bridge itself.
TENANT_PLAN = (("client", "10.0.0.10", "trunk"),
               ("m1", "10.0.0.11", "trunk"),
               ("m2", "10.0.0.12", "trunk"),
               ("m3", "10.0.0.13", "lbctl"))
TENANT_MEMBERS = ("m1", "m2", "m3")
# Tenant, VLAN, OpenFlow ports of client, m1, m2 (access bridge) and m3 (lbctl bridge).
TENANTS = (("a", 101, (1, 2, 3, 21)),
           ("b", 102, (11, 12, 13, 22)))
ACCESS_BRIDGE = "acc"  # the access bridge is <prefix>_acc
TRUNK_OFPORT = 50      # its patch port on the lbctl bridge


@dataclass(frozen=True)
class Tenant:
    name: str     # "a": its hosts are "a-client", "a-m1", ...
    vlan: int
    hosts: dict   # plan name ("client", "m1", ...) -> Host


@dataclass(frozen=True)
class TenantTopology:
    provider_client: Host  # untagged only, on the lbctl bridge
    access: AccessBridge   # access.trunk_ofport: the trunk's OpenFlow port on the lbctl bridge
    tenants: dict          # tenant name -> Tenant


def build_tenants(lab, http_ports=HTTP_PORTS, provider_client=None):
    """Add the tenant topology (see above) to a started lab, members serving HTTP.

    `provider_client`: a host the lab has already, to be the provider client (the standard
    topology's client, when `build` ran first); None: it is added, untagged only.
    No flows: a test adds `priority=0,actions=NORMAL` to the lbctl bridge, or a controller
    brings its own.
    """
    if provider_client is None:
        name, ip, ofport = CLIENT
        provider_client = lab.add_host(name, ip, PREFIXLEN, ofport=ofport, vlan=0)
    access = lab.add_access_bridge(ACCESS_BRIDGE, TRUNK_OFPORT,
                                   vlans=[vlan for _, vlan, _ in TENANTS])
    tenants = {}
    for tenant, vlan, ofports in TENANTS:
        made = {}
        for (plan_name, ip, place), ofport in zip(TENANT_PLAN, ofports):
            bridge = access.bridge if place == "trunk" else None
            made[plan_name] = lab.add_host(f"{tenant}-{plan_name}", ip, TENANT_PREFIXLEN,
                                           ofport=ofport, gateway=TENANT_GATEWAY, vlan=vlan,
                                           bridge=bridge)
        for member in TENANT_MEMBERS:
            lab.start_http(made[member], http_ports)
        tenants[tenant] = Tenant(tenant, vlan, made)
    return TenantTopology(provider_client, access, tenants)
