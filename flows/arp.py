"""ARP. Every ARP packet has its sender and target addresses looked up in `owned` (the balancer's
own addresses). The switch then answers a request for one of them itself; ARP from anyone else
that claims one of them (or one of the balancer's MACs) goes only to the controller, never on, so
no neighbour learns the false binding; a member's ARP is switched and copied to the controller
through its own meter (its moves must be seen); replies to the controller's probes go to it; all
other ARP is switched and never reaches the controller."""
from flows import pipeline as p
from flows.ir import CONTROLLER, IN_PORT, NORMAL, Flow, Meter, Move, Output, Resubmit, SetField, match
from flows.networks import exits
from flows.ownership import own_mac
from flows.protocols import ARP_REPLY, ARP_REQUEST, ETH_TYPE_ARP

ANSWERED = (p.IS_OWNED, p.IS_OWNED)   # a reg6/reg8 match: owned said the address is the balancer's
ACTIVE = (p.IS_OWNED, p.IS_OWNED | p.STANDBY)   # ... and its group is active on this switch


def pipeline_flows(settings):
    """The ARP flows and the meters of the controller's packet-ins (ARP, refused connections)."""
    own = p.own_mac_match(settings.cluster_id)
    lookup = (Move("arp_spa", p.ADDRESS_REG.field, 32), Resubmit(p.OWNED.id),
              Move(p.OWNED_REG.field, p.CLAIM_REG.field, 32),
              Move("arp_tpa", p.ADDRESS_REG.field, 32), Resubmit(p.OWNED.id), Resubmit(p.STANDBY_TABLE.id))
    group = (p.OWNED_REG.field, 0)
    reply = ((Move("eth_src", "eth_dst", 48),) + own_mac(settings, "eth_src", *group)
             + (SetField("arp_op", ARP_REPLY), Move("arp_sha", "arp_tha", 48), Move("arp_spa", "arp_tpa", 32))
             + own_mac(settings, "arp_sha", *group)
             + (Move(p.ADDRESS_REG.field, "arp_spa", 32), Output(IN_PORT)))
    flows = [
        Flow(p.CLASSIFY.id, p.CLASSIFY.ARP, match(eth_type=ETH_TYPE_ARP), goto=p.ARP.id),
        Flow(p.ARP.id, p.ARP.LOOKUP, match(eth_type=ETH_TYPE_ARP), lookup, goto=p.ARP_ANSWER.id),
        Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.CLAIM, match((p.CLAIM_REG, ANSWERED), eth_type=ETH_TYPE_ARP),
             goto=p.ARP_PUNT.id),
        Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.CLAIM_MAC, match(eth_type=ETH_TYPE_ARP, eth_src=own), goto=p.ARP_PUNT.id),
        *exits(Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.REPLY,
                    match((p.OWNED_REG, ACTIVE), eth_type=ETH_TYPE_ARP, arp_op=ARP_REQUEST), reply)),
        # Answers to the controller's own probes: only the controller needs them.
        Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.FOR_US, match(eth_type=ETH_TYPE_ARP, arp_op=ARP_REPLY, eth_dst=own),
             goto=p.ARP_PUNT.id),
        *exits(Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.DEFAULT, match(), (Output(NORMAL),))),
        Flow(p.STANDBY_TABLE.id, p.STANDBY_TABLE.DEFAULT, match()),
        Flow(p.ARP_PUNT.id, p.ARP_PUNT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.ARP_METER),
        Flow(p.MEMBER_ARP_PUNT.id, p.MEMBER_ARP_PUNT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.MEMBER_ARP_METER),
        Flow(p.REJECT.id, p.REJECT.DEFAULT, match(), (Output(CONTROLLER),), meter=p.REJECT_METER),
    ]
    return flows, [Meter(p.ARP_METER, settings.arp_punt_pps, settings.arp_punt_burst),
                   Meter(p.MEMBER_ARP_METER, settings.member_arp_pps, settings.arp_punt_burst),
                   Meter(p.REJECT_METER, settings.reject_pps, settings.arp_punt_burst)]


def member_flows(host, address, network):
    """ARP from member host `host` (its id) at `address` on `network`: switched as usual, and
    punted through the members' own meter, so that its moves are seen even while some other host
    floods ARP."""
    return exits(Flow(p.ARP_ANSWER.id, p.ARP_ANSWER.MEMBER,
                      match((p.NETWORK_REG, network.id), eth_type=ETH_TYPE_ARP, arp_spa=address),
                      (Output(NORMAL),), goto=p.MEMBER_ARP_PUNT.id, cookie=p.host_cookie(host)), network.vlan is not None)
