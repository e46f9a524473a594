"""ARP: the switch answers requests for the balancer's own addresses itself; every other ARP packet
is switched normally and copied to the controller, which learns where hosts are from it."""
from flows import pipeline as p
from flows.ir import (CONTROLLER, IN_PORT, NORMAL, Flow, Move, Output, SetField, match)

ETH_TYPE_ARP = 0x0806
ARP_REQUEST = 1
ARP_REPLY = 2


def pipeline_flows():
    """The ARP flows that do not depend on any VIP."""
    return [
        Flow(p.CLASSIFY.id, p.Priority.ARP_TO_TABLE, match(eth_type=ETH_TYPE_ARP), goto=p.ARP.id),
        # Answers to the controller's own probes: only the controller needs them.
        Flow(p.ARP.id, p.Priority.ARP_FOR_US,
             match(eth_type=ETH_TYPE_ARP, arp_op=ARP_REPLY, eth_dst=(p.OWN_MAC_PREFIX, p.OWN_MAC_MASK)),
             (Output(CONTROLLER),)),
        Flow(p.ARP.id, p.Priority.DEFAULT, match(), (Output(CONTROLLER), Output(NORMAL))),
    ]


def responder(address, cookie):
    """Turn an ARP request for `address` into the reply, in place, and send it back."""
    mac = p.own_mac(address)
    actions = (
        Move("eth_src", "eth_dst", 48),
        SetField("eth_src", mac),
        SetField("arp_op", ARP_REPLY),
        Move("arp_sha", "arp_tha", 48),
        Move("arp_spa", "arp_tpa", 32),
        SetField("arp_sha", mac),
        SetField("arp_spa", address),
        Output(IN_PORT),
    )
    return Flow(p.ARP.id, p.Priority.ARP_REPLY,
                match(eth_type=ETH_TYPE_ARP, arp_op=ARP_REQUEST, arp_tpa=address), actions, cookie=cookie)
