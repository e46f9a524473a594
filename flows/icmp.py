"""ICMP. An echo request has its destination looked up in `owned` (of its network): the switch
answers those to the balancer's own addresses (VIPs, pools, gateways, the monitor address) itself,
and switches the rest. ICMP errors go through conntrack (flows/networks.py: in the zones of the
network they arrive on)."""
from flows import pipeline as p
from flows.ir import IN_PORT, NORMAL, Flow, Move, Output, Resubmit, SetField, match
from flows.networks import exits
from flows.ownership import own_mac
from flows.protocols import ETH_TYPE_IP, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_PROTO_ICMP


def pipeline_flows(settings):
    icmp = dict(eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_ICMP)
    reply = ((Move("eth_src", "eth_dst", 48),) + own_mac(settings, "eth_src", p.OWNED_REG.field, 0)
             + (Move("ipv4_src", "ipv4_dst", 32), Move(p.ADDRESS_REG.field, "ipv4_src", 32),
                SetField("icmpv4_type", ICMP_ECHO_REPLY), Output(IN_PORT)))
    return [
        Flow(p.CLASSIFY.id, p.CLASSIFY.ECHO, match(icmpv4_type=ICMP_ECHO_REQUEST, **icmp),
             (Move("ipv4_dst", p.ADDRESS_REG.field, 32), Resubmit(p.OWNED.id), Resubmit(p.STANDBY_TABLE.id),
              Resubmit(p.ECHO.id))),
    ] + exits(Flow(p.ECHO.id, p.ECHO.REPLY, match((p.OWNED_REG, (p.IS_OWNED, p.IS_OWNED | p.STANDBY)), **icmp),
                   reply)) + exits(
        Flow(p.ECHO.id, p.ECHO.DEFAULT, match(), (Output(NORMAL),)))
