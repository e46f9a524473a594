"""Networks: the L2 segments the balancer serves, each a VLAN (or untagged), with the balancer's
gateway addresses there (per redundancy group), the source address of its health probes and
the switch ports where it arrives untagged. Tenants may reuse address plans: everything keyed by
an address is keyed by (network, address).

The network called `default` always exists: the untagged frames of every port that is not some
other network's access port. Its gateways and monitor address are the [lbctl] options, so a
configuration without networks works as it always did."""
import ipaddress

from flows.networks import DEFAULT, Gateway, Network
from flows.pipeline import MAX_NETWORK_ID, MAX_REDUNDANCY_GROUP
from lbctl.validation import Conflict, InvalidInput, host_address, is_int, named_object, no_unknown, required

NETWORK_FIELDS = {"name", "vlan", "gateways", "monitor_address", "access_ports"}
GATEWAY_FIELDS = {"address", "redundancy_group"}
MAX_GATEWAYS = 16
MAX_ACCESS_PORTS = 256
MAX_PORT = 0xFEFF   # OpenFlow's highest port number (OFPP_MAX); above it are the reserved ports


def check_address(network, field, address):
    """An address a VIP, a pool or a member uses on `network`: not the balancer's own there (409),
    nor the network or broadcast address of a gateway's subnet (400)."""
    if address == network.monitor_address:
        raise Conflict("%s: %s is the monitor address of network %r" % (field, address, network.name))
    if any(g.address == address for g in network.gateways):
        raise Conflict("%s: %s is a gateway address of network %r" % (field, address, network.name))
    ip = ipaddress.IPv4Address(address)
    for subnet in network.subnets:
        if ip in (subnet.network_address, subnet.broadcast_address):
            raise InvalidInput(field, address, "is the %s address of the subnet %s of network %r" % (
                "network" if ip == subnet.network_address else "broadcast", subnet, network.name))


def default_network(gateways=(), gateway_group=1, monitor_address=None):
    """The untagged network every configuration has: its gateways (`address/prefix` texts) and
    monitor address come from the [lbctl] options."""
    parsed = tuple(_gateway(g, "gateways[%d]" % i, gateway_group) for i, g in enumerate(gateways))
    return Network(DEFAULT, gateways=parsed, monitor_address=monitor_address)


def parse_network(body, where="", name=None):
    """A JSON/YAML object -> Network (id not yet assigned); `name`, when given, is the URL's."""
    body, network_name = named_object(body, NETWORK_FIELDS, where, name)
    vlan = body.get("vlan")
    if vlan is not None and (not is_int(vlan) or not 1 <= vlan <= 4094):
        raise InvalidInput(where + "vlan", vlan, "is not a VLAN id from 1 to 4094 (or null: untagged)")
    gateways = body.get("gateways", [])
    if not isinstance(gateways, list) or len(gateways) > MAX_GATEWAYS:
        raise InvalidInput(where + "gateways", gateways, "is not a list of at most %d gateways" % MAX_GATEWAYS)
    parsed = tuple(_gateway(g, "%sgateways[%d]" % (where, i)) for i, g in enumerate(gateways))
    for i, gateway in enumerate(parsed):
        if any(g.address == gateway.address for g in parsed[:i]):
            raise InvalidInput("%sgateways[%d].address" % (where, i), gateway.address, "repeats a gateway")
    monitor = body.get("monitor_address")
    if monitor is not None:
        monitor = host_address(monitor, where + "monitor_address")
        check_address(Network(network_name, gateways=parsed), where + "monitor_address", monitor)
    ports = body.get("access_ports", [])
    if not isinstance(ports, list) or len(ports) > MAX_ACCESS_PORTS:
        raise InvalidInput(where + "access_ports", ports, "is not a list of at most %d ports" % MAX_ACCESS_PORTS)
    for i, port in enumerate(ports):
        if not is_int(port) or not 1 <= port <= MAX_PORT:
            raise InvalidInput("%saccess_ports[%d]" % (where, i), port, "is not an OpenFlow port number from 1 to %d"
                               % MAX_PORT)
        if port in ports[:i]:
            raise InvalidInput("%saccess_ports[%d]" % (where, i), port, "repeats a port")
    if vlan is None and not ports:
        raise InvalidInput(where + "access_ports", ports, "is empty: an untagged network other than %r arrives "
                           "on access ports alone" % DEFAULT)
    return Network(network_name, vlan, parsed, monitor, tuple(sorted(ports)))


def _gateway(value, field, group=1):
    """A gateway: `"address/prefix"`, or {"address": "address/prefix", "redundancy_group": N}."""
    if isinstance(value, dict):
        no_unknown(value, GATEWAY_FIELDS, field + ".")
        group = value.get("redundancy_group", group)
        if not is_int(group) or not 1 <= group <= MAX_REDUNDANCY_GROUP:
            raise InvalidInput(field + ".redundancy_group", group,
                               "is not an integer from 1 to %d" % MAX_REDUNDANCY_GROUP)
        field, value = field + ".address", required(value, "address", field + ".")
    try:
        interface = ipaddress.IPv4Interface(value) if isinstance(value, str) else None
    except ValueError:
        interface = None
    if interface is None or "/" not in value:
        raise InvalidInput(field, value, "is not an IPv4 address/prefix such as 10.0.0.1/24")
    address = host_address(str(interface.ip), field)
    network = interface.network
    if network.prefixlen <= 30 and interface.ip in (network.network_address, network.broadcast_address):
        raise InvalidInput(field, value, "is the %s address of its prefix, not a host's" % (
            "network" if interface.ip == network.network_address else "broadcast"))
    return Gateway(address, network.prefixlen, group)


def check_networks(networks):
    """The rules between networks (Conflict names the first broken): unique names, VLANs, access
    ports and ids within the limit."""
    names, vlans, ports = {}, {}, {}
    for network in networks:
        if network.name in names:
            raise Conflict("name: network %r already exists" % network.name)
        names[network.name] = network
        if network.vlan is not None:
            other = vlans.setdefault(network.vlan, network)
            if other is not network:
                raise Conflict("vlan: %d is the VLAN of network %r" % (network.vlan, other.name))
        for port in network.access_ports:
            other = ports.setdefault(port, network)
            if other is not network:
                raise Conflict("access_ports: port %d is an access port of network %r" % (port, other.name))
        if network.id > MAX_NETWORK_ID:
            raise Conflict("name: no network id is left (ids up to %d were handed out)" % MAX_NETWORK_ID)
