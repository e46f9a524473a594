"""Networks in the switch: `ingress` tells which network each frame is on (a VLAN's tag, popped
there; an access port's untagged frames; else the default network) into reg9, and every flow that
belongs to one network matches it, so two tenants' identical addresses never meet. A frame leaves
with the tag it needs: switched (NORMAL) or answered in place (IN_PORT), with the one it came with;
sent to a host (`locate`) or back to a client (`egress`), with its destination's.

A network is described by Network below (lbctl.networks checks what an operator sends)."""
import hashlib
import ipaddress
import json
from dataclasses import dataclass, replace
from typing import Optional, Tuple

from flows import monitor, ownership
from flows import pipeline as p
from flows.ir import NORMAL, Ct, Flow, Move, Nat, Output, OutputReg, PopVlan, PushVlan, SetField, match
from flows.protocols import ETH_TYPE_IP, IP_PROTO_ICMP

DEFAULT = "default"   # the network of untagged frames on every port no other network has as an access port


@dataclass(frozen=True)
class Gateway:
    """One of the balancer's router addresses on a network: `address/prefixlen`, answered with the
    MAC of `redundancy_group` there."""
    address: str
    prefixlen: int
    redundancy_group: int = 1

    @property
    def interface(self):
        return ipaddress.IPv4Interface("%s/%d" % (self.address, self.prefixlen))

    def to_dict(self):
        return {"address": "%s/%d" % (self.address, self.prefixlen), "redundancy_group": self.redundancy_group}


@dataclass(frozen=True)
class Network:
    name: str
    vlan: Optional[int] = None             # its 802.1Q VLAN id on trunk ports; None: untagged
    gateways: Tuple[Gateway, ...] = ()
    monitor_address: Optional[str] = None  # the source of health probes of members on it
    access_ports: Tuple[int, ...] = ()     # the switch ports where it arrives untagged
    id: int = 0                            # stable: its register value, cookie, zones and MAC bits

    def to_dict(self):
        return {"name": self.name, "vlan": self.vlan, "gateways": [g.to_dict() for g in self.gateways],
                "monitor_address": self.monitor_address, "access_ports": list(self.access_ports)}

    @property
    def revision(self):
        """Like a VIP's: GET shows it; PUT and DELETE with If-Match are refused if it changed."""
        text = json.dumps(dict(self.to_dict(), id=self.id), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def monitor_group(self):
        """The redundancy group (MAC) of the monitor address: the first gateway's."""
        return self.gateways[0].redundancy_group if self.gateways else 1

    @property
    def owned(self):
        """The balancer's own addresses here (gateways, the monitor address) -> their group."""
        owned = {g.address: g.redundancy_group for g in self.gateways}
        if self.monitor_address:
            owned[self.monitor_address] = self.monitor_group
        return owned

    @property
    def subnets(self):
        """The gateways' subnets that have a network and a broadcast address (not /31, /32)."""
        return [g.interface.network for g in self.gateways if g.prefixlen <= 30]

    def tag_on(self, port):
        """The VLAN id a frame of this network carries on switch port `port` (None: untagged)."""
        return None if self.vlan is None or port in self.access_ports else self.vlan


TAGGED = (p.VLAN_PRESENT, p.VLAN_PRESENT)   # a vlan_vid or VLAN_REG match: a tag is there
UNTAGGED = (0, p.VLAN_PRESENT)
ICMP_ERRORS = (3, 11, 12)   # destination unreachable, time exceeded, parameter problem
RETAG = (PushVlan(), Move(p.VLAN_REG.field, "vlan_vid", 12))   # VLAN_REG's tag, back on the frame


def tag(vlan):
    """The vlan_vid (and VLAN_REG) value of a frame tagged with VLAN `vlan`; 0: untagged."""
    return 0 if vlan is None else p.VLAN_PRESENT | vlan


def exits(flow, tagged=True):
    """`flow`, whose last action sends the packet out (NORMAL, IN_PORT), with the packet's arrival
    tag put back first: two flows, one for frames that came tagged, one for the others. A flow of
    an untagged network (`tagged` False) needs none of that."""
    if not tagged:
        return [flow]
    *before, out = flow.actions
    return [replace(flow, match=_with(flow.match, p.VLAN_REG.field, TAGGED), actions=tuple(before) + RETAG + (out,)),
            replace(flow, match=_with(flow.match, p.VLAN_REG.field, UNTAGGED))]


def _with(m, name, value):
    return tuple(sorted(dict(m, **{name: value}).items()))


def pipeline_flows(settings):
    """The network-independent flows: frames of VLANs no network has, frames of the default
    network, and the egress that sends a packet out reg0's port with reg10's tag."""
    return [
        Flow(p.INGRESS.id, p.INGRESS.UNKNOWN_VLAN_OWN, match(vlan_vid=TAGGED, eth_dst=p.own_mac_match(settings.cluster_id))),
        Flow(p.INGRESS.id, p.INGRESS.UNKNOWN_VLAN, match(vlan_vid=TAGGED), (Output(NORMAL),)),
        Flow(p.INGRESS.id, p.INGRESS.DEFAULT, match(), goto=p.CLASSIFY.id),
    ] + exits(Flow(p.EGRESS.id, p.EGRESS.OUT, match(), (OutputReg(p.PORT_REG.field, 0, 16),)))


def network_flows(network, settings):
    """The flows of one network: how its frames are told apart, its own addresses (gateways, the
    monitor address) and the replies to health probes sent from there, and ICMP errors through
    its conntrack zones (an error about a VIP connection follows that connection)."""
    cookie = p.network_cookie(network.id)
    here = (p.NETWORK_REG, network.id)
    flows = []
    for port in network.access_ports:
        flows += [Flow(p.INGRESS.id, p.INGRESS.TAGGED_ACCESS, match(in_port=port, vlan_vid=TAGGED), cookie=cookie),
                  Flow(p.INGRESS.id, p.INGRESS.ACCESS, match(in_port=port, vlan_vid=0),
                       (SetField(p.NETWORK_REG.field, network.id),), goto=p.CLASSIFY.id, cookie=cookie)]
    if network.vlan is not None:
        flows.append(Flow(p.INGRESS.id, p.INGRESS.VLAN, match(vlan_vid=tag(network.vlan)),
                          (PopVlan(), SetField(p.NETWORK_REG.field, network.id),
                           SetField(p.VLAN_REG.field, tag(network.vlan))), goto=p.CLASSIFY.id, cookie=cookie))
    for address, group in sorted(network.owned.items()):
        flows += ownership.owned_flows(network.id, address, group, cookie)
    if network.monitor_address:
        flows += monitor.reply_flows(network.id, network.monitor_address, cookie)
    # Both zones, in one pass: an error about a one-arm connection is un-SNATed, then un-DNATed.
    follow = (Ct(zone=p.snat_zone(network.id), nat=Nat()),
              Ct(zone=p.lb_zone(network.id), table=p.CONNTRACK.id, nat=Nat()))
    flows += [Flow(p.CLASSIFY.id, p.CLASSIFY.ICMP_ERROR, match(here, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_ICMP,
                                                                icmpv4_type=kind), follow, cookie=cookie)
              for kind in ICMP_ERRORS]
    return flows


def to_host(network, port, mac):
    """The actions that send a packet (untagged since ingress) to the host at `mac` behind switch
    port `port` on `network`: tagged as the network is on that port, and out that port even when
    the packet came in there (a balancer on a stick: one uplink into a fabric)."""
    vlan = network.tag_on(port)
    retag = () if vlan is None else (PushVlan(), SetField("vlan_vid", tag(vlan)))
    return (SetField("eth_dst", mac),) + retag + (SetField("in_port", 0), Output(port))


def standby_flows(network, group, settings):
    """The flows of a redundancy group this switch stands by for on `network` (its active switch is
    another): owned's answers for the group's addresses are marked STANDBY, so that ARP and ping
    go unanswered here, and frames to the group's MAC (flooded by a fabric that has not learned
    it yet) are dropped. The group's VIPs' flows stay in place, ready for a takeover."""
    suffix = p.mac_suffix(network.id, group)
    cookie = p.network_cookie(network.id)
    return [Flow(p.STANDBY_TABLE.id, p.STANDBY_TABLE.GROUP, match((p.OWNED_REG, (p.IS_OWNED | suffix, OWNED_SUFFIX))),
                 (SetField(p.OWNED_REG.field, p.IS_OWNED | p.STANDBY | suffix),), cookie=cookie),
            Flow(p.CLASSIFY.id, p.CLASSIFY.STANDBY, match(eth_dst=p.own_mac(settings.cluster_id, network.id, group)),
                 cookie=cookie)]


OWNED_SUFFIX = p.IS_OWNED | 0xFFFFFF   # a reg6 mask: is it owned, and the MAC's low 24 bits
