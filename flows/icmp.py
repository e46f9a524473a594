"""ICMP echo to the balancer's addresses, answered by the switch itself, so operators can ping a VIP."""
from flows import pipeline as p
from flows.ir import IN_PORT, Flow, Move, Output, SetField, match

ETH_TYPE_IP = 0x0800
IP_PROTO_ICMP = 1
ECHO_REQUEST, ECHO_REPLY = 8, 0


def echo_responder(address, mac, cookie):
    """Turn an echo request to `address` into the reply, in place, and send it back."""
    actions = (
        Move("eth_src", "eth_dst", 48),
        SetField("eth_src", mac),
        Move("ipv4_src", p.ADDRESS_REG, 32),
        SetField("ipv4_src", address),
        Move(p.ADDRESS_REG, "ipv4_dst", 32),
        SetField("icmpv4_type", ECHO_REPLY),
        Output(IN_PORT),
    )
    return Flow(p.CLASSIFY.id, p.Priority.VIP,
                match(eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_ICMP, ipv4_dst=address, icmpv4_type=ECHO_REQUEST),
                actions, cookie=cookie)
