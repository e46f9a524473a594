"""ICMP. An echo request has its destination looked up in `owned`: the switch answers those to the
balancer's own addresses (VIPs, pools, gateways, the monitor address) itself, and switches the
rest. An ICMP error (destination unreachable, time exceeded, parameter problem) goes through
conntrack: one about a VIP connection follows that connection, translated like it (so path MTU
discovery works through the balancer); any other is switched as before."""
from flows import pipeline as p
from flows.ir import IN_PORT, NORMAL, Ct, Flow, Move, Nat, Output, Resubmit, SetField, match
from flows.ownership import own_mac
from flows.protocols import ETH_TYPE_IP, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_PROTO_ICMP

ERRORS = (3, 11, 12)   # destination unreachable, time exceeded, parameter problem


def pipeline_flows(settings):
    icmp = dict(eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_ICMP)
    reply = ((Move("eth_src", "eth_dst", 48),) + own_mac(settings, "eth_src", p.OWNED_REG.field, 0)
             + (Move("ipv4_src", "ipv4_dst", 32), Move(p.ADDRESS_REG.field, "ipv4_src", 32),
                SetField("icmpv4_type", ICMP_ECHO_REPLY), Output(IN_PORT)))
    # Both zones, in one pass: an error about a one-arm connection is un-SNATed, then un-DNATed.
    follow = (Ct(zone=p.SNAT_ZONE, nat=Nat()), Ct(zone=p.LB_ZONE, table=p.CONNTRACK.id, nat=Nat()))
    return [
        Flow(p.CLASSIFY.id, p.CLASSIFY.ECHO, match(icmpv4_type=ICMP_ECHO_REQUEST, **icmp),
             (Move("ipv4_dst", p.ADDRESS_REG.field, 32), Resubmit(p.OWNED.id), Resubmit(p.ECHO.id))),
        Flow(p.ECHO.id, p.ECHO.REPLY, match((p.OWNED_REG, (p.IS_OWNED, p.IS_OWNED)), **icmp), reply),
        Flow(p.ECHO.id, p.ECHO.DEFAULT, match(), (Output(NORMAL),)),
    ] + [Flow(p.CLASSIFY.id, p.CLASSIFY.ICMP_ERROR, match(icmpv4_type=kind, **icmp), follow) for kind in ERRORS]
