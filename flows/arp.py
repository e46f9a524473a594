"""ARP: the switch answers requests for the balancer's own addresses itself; every other ARP packet
is switched normally and copied, through a rate-limiting meter, to the controller, which learns
where hosts are from it. ARP from anyone else that claims one of our addresses goes only to the
controller: it is never switched on, so no neighbour learns the false binding."""
from flows import pipeline as p
from flows.ir import (CONTROLLER, IN_PORT, NORMAL, Flow, Meter, Move, Output, SetField, match)
from flows.protocols import ARP_REPLY, ARP_REQUEST, ETH_TYPE_ARP


def pipeline_flows(settings):
    """The flows and meters of the controller's packet-ins (ARP, and refused connections) that
    do not depend on any VIP."""
    flows = [
        Flow(p.CLASSIFY.id, p.CLASSIFY.ARP, match(eth_type=ETH_TYPE_ARP), goto=p.ARP.id),
        # Answers to the controller's own probes: only the controller needs them.
        Flow(p.ARP.id, p.ARP.FOR_US,
             match(eth_type=ETH_TYPE_ARP, arp_op=ARP_REPLY, eth_dst=p.own_mac_match(settings.cluster_id)),
             goto=p.ARP_PUNT.id),
        Flow(p.ARP.id, p.ARP.DEFAULT, match(), (Output(NORMAL),), goto=p.ARP_PUNT.id),
        Flow(p.ARP_PUNT.id, p.ARP_PUNT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.ARP_METER),
        Flow(p.MEMBER_ARP_PUNT.id, p.MEMBER_ARP_PUNT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.MEMBER_ARP_METER),
        Flow(p.REJECT.id, p.REJECT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.REJECT_METER),
    ]
    return flows, [Meter(p.ARP_METER, settings.arp_punt_pps, settings.arp_punt_burst),
                   Meter(p.MEMBER_ARP_METER, settings.member_arp_pps, settings.arp_punt_burst),
                   Meter(p.REJECT_METER, settings.reject_pps, settings.arp_punt_burst)]


def member_flows(host, address):
    """ARP from member host `host` (its id) at `address`: switched as usual, and punted through the
    members' own meter, so that its moves are seen even while some other host floods ARP."""
    return [Flow(p.ARP.id, p.ARP.MEMBER, match(eth_type=ETH_TYPE_ARP, arp_spa=address),
                 (Output(NORMAL),), goto=p.MEMBER_ARP_PUNT.id, cookie=p.host_cookie(host))]


def responder(address, mac, cookie):
    """Turn an ARP request for `address` into the reply, in place, and send it back."""
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
    return Flow(p.ARP.id, p.ARP.REPLY,
                match(eth_type=ETH_TYPE_ARP, arp_op=ARP_REQUEST, arp_tpa=address), actions, cookie=cookie)


def claim_guard(address, cookie):
    """ARP sent *from* one of our addresses by someone else (our own ARP never passes the tables)."""
    return Flow(p.ARP.id, p.ARP.CLAIM, match(eth_type=ETH_TYPE_ARP, arp_spa=address),
                goto=p.ARP_PUNT.id, cookie=cookie)
