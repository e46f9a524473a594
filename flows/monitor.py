"""Health probes' replies. The controller sends probes from the monitor address (packet-outs
straight to the member's port), so every reply is addressed to it, whatever port or subnet the
member is on: a SYN-ACK or a reset, a UDP answer, an ICMP echo reply or port unreachable. They go
to the controller through their own meter, before anything else could take them: a member's
SYN-ACK from its service port would otherwise match the member's reply catch and enter conntrack.
An echo request to the monitor address is not a reply: the echo responder answers it."""
from flows import addresses
from flows import pipeline as p
from flows.ir import CONTROLLER, Flow, Output, match
from flows.protocols import ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, IP_PROTO, IP_PROTO_ICMP


def reply_flows(network_id, address, cookie):
    """The flows that take replies to the probes sent from `address` (the monitor address of
    network `network_id`), with the cookie of the owner of that address."""
    to_us = dict(addresses.fields(address, "dst"), **{p.NETWORK_REG.field: network_id})
    replies = [match(ip_proto=IP_PROTO[kind], **to_us) for kind in ("tcp", "udp")]
    replies += [match(ip_proto=IP_PROTO_ICMP, icmpv4_type=kind, **to_us) for kind in (ICMP_ECHO_REPLY, ICMP_DEST_UNREACH)]
    return [Flow(p.CLASSIFY.id, p.CLASSIFY.MONITOR, m, goto=p.MONITOR.id, cookie=cookie) for m in replies] + [
        Flow(p.MONITOR.id, p.MONITOR.DEFAULT, match(), (Output(CONTROLLER),), meter=p.MONITOR_METER, cookie=cookie)]
