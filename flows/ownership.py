"""The balancer's own addresses and MACs. Each address it owns (a VIP's, a pool's, a gateway, the
monitor address) is one entry of the `owned` table, which ARP and echo requests are looked up in
(flows/arp.py, flows/icmp.py), and one guard in classify: nobody else may send from it. Whatever
else is sent to the balancer's MACs is refused (TCP, UDP) or dropped, never flooded; and until
tenant networks exist, VLAN-tagged frames are not the balancer's."""
from flows import addresses
from flows import pipeline as p
from flows.ir import NORMAL, Flow, Move, Output, SetField, match
from flows.protocols import ETH_TYPE_IP, IP_PROTO_TCP, IP_PROTO_UDP

TAGGED = (0x1000, 0x1000)   # vlan_vid: an 802.1Q tag is present (OpenFlow's OFPVID_PRESENT bit)


def owned_flows(address, group, cookie):
    """An address the balancer owns, in redundancy group `group` (its MAC): its owned entry and its
    guard."""
    return [Flow(p.OWNED.id, p.OWNED.ADDRESS, match((p.ADDRESS_REG, addresses.to_int(address))),
                 (SetField(p.OWNED_REG.field, p.IS_OWNED | group),), cookie=cookie),
            Flow(p.CLASSIFY.id, p.CLASSIFY.GUARD, match(**addresses.fields(address, "src")), cookie=cookie)]


def pipeline_flows(settings):
    """The flows that keep what is sent to the balancer's MACs from being flooded, and the owned
    table's answer for an address that is not the balancer's."""
    own = p.own_mac_match(settings.cluster_id)
    return [
        Flow(p.CLASSIFY.id, p.CLASSIFY.TAGGED_OWN, match(vlan_vid=TAGGED, eth_dst=own)),
        Flow(p.CLASSIFY.id, p.CLASSIFY.TAGGED, match(vlan_vid=TAGGED), (Output(NORMAL),)),
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC_REFUSE, match(eth_dst=own, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_TCP),
             goto=p.REJECT.id),
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC_REFUSE, match(eth_dst=own, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_UDP),
             goto=p.REJECT.id),
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC, match(eth_dst=own)),
        Flow(p.OWNED.id, p.OWNED.DEFAULT, match(), (SetField(p.OWNED_REG.field, 0),)),
    ]


def own_mac(settings, field, source, offset):
    """Actions that write into `field` the balancer's MAC of the redundancy group held in bits
    [offset..offset+15] of `source`: the cluster's prefix, then the group into its low 16 bits."""
    return (SetField(field, p.own_mac_base(settings.cluster_id)), Move(source, field, 16, src_ofs=offset))
