"""The balancer's own addresses and MACs. Each address it owns on a network (a VIP's, a pool's, a
gateway, the monitor address) is one entry of the `owned` table, which ARP and echo requests are
looked up in (flows/arp.py, flows/icmp.py), and one guard in classify: nobody else on that network
may send from it. Whatever else is sent to the balancer's MACs is refused (TCP, UDP) or dropped,
never flooded."""
from flows import addresses
from flows import pipeline as p
from flows.ir import Flow, Move, SetField, match
from flows.protocols import ETH_TYPE_IP, IP_PROTO_TCP, IP_PROTO_UDP


def owned_flows(network_id, address, group, cookie):
    """An address the balancer owns on network `network_id`, in redundancy group `group` (its MAC
    there): its owned entry and its guard."""
    here = (p.NETWORK_REG, network_id)
    return [Flow(p.OWNED.id, p.OWNED.ADDRESS, match(here, (p.ADDRESS_REG, addresses.to_int(address))),
                 (SetField(p.OWNED_REG.field, p.IS_OWNED | p.mac_suffix(network_id, group)),), cookie=cookie),
            Flow(p.CLASSIFY.id, p.CLASSIFY.GUARD, match(here, **addresses.fields(address, "src")), cookie=cookie)]


def pipeline_flows(settings):
    """The flows that keep what is sent to the balancer's MACs from being flooded, and the owned
    table's answer for an address that is not the balancer's."""
    own = p.own_mac_match(settings.cluster_id)
    return [
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC_REFUSE, match(eth_dst=own, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_TCP),
             goto=p.REJECT.id),
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC_REFUSE, match(eth_dst=own, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_UDP),
             goto=p.REJECT.id),
        Flow(p.CLASSIFY.id, p.CLASSIFY.OWN_MAC, match(eth_dst=own)),
        Flow(p.OWNED.id, p.OWNED.DEFAULT, match(), (SetField(p.OWNED_REG.field, 0),)),
    ]


def own_mac(settings, field, source, offset):
    """Actions that write into `field` the balancer's MAC whose low 24 bits (network and
    redundancy group: pipeline.mac_suffix) are bits [offset..offset+23] of `source`."""
    return (SetField(field, p.own_mac_base(settings.cluster_id)), Move(source, field, 24, src_ofs=offset))
