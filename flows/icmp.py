"""ICMP echo to the balancer's addresses, answered by the switch itself, so operators can ping a VIP."""
from flows import pipeline as p
from flows import addresses
from flows.ir import IN_PORT, Flow, Move, Output, SetField, match
from flows.protocols import ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_PROTO_ICMP


def echo_responder(address, mac, cookie):
    """Turn an echo request to `address` into the reply, in place, and send it back."""
    actions = (
        Move("eth_src", "eth_dst", 48),
        SetField("eth_src", mac),
        Move("ipv4_src", p.ADDRESS_REG.field, 32),
        SetField("ipv4_src", address),
        Move(p.ADDRESS_REG.field, "ipv4_dst", 32),
        SetField("icmpv4_type", ICMP_ECHO_REPLY),
        Output(IN_PORT),
    )
    return Flow(p.CLASSIFY.id, p.CLASSIFY.VIP,
                match(ip_proto=IP_PROTO_ICMP, icmpv4_type=ICMP_ECHO_REQUEST, **addresses.fields(address, "dst")),
                actions, cookie=cookie)
