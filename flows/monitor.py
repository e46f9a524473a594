"""Health probes' replies. The controller sends probes from the monitor address (packet-outs
straight to the member's port), so every reply is addressed to it, whatever port or subnet the
member is on: a SYN-ACK or a reset, a UDP answer, an ICMP echo reply or port unreachable. They go
to the controller through their own meter, before anything else could take them: a member's
SYN-ACK from its service port would otherwise match the member's reply catch and enter conntrack.
An echo request to the monitor address is not a reply: the echo responder answers it."""
from flows import pipeline as p
from flows.icmp import ECHO_REPLY, ETH_TYPE_IP, IP_PROTO_ICMP
from flows.ir import CONTROLLER, Flow, Output, match
from flows.vip import IP_PROTO

DEST_UNREACHABLE = 3


def reply_flows(address):
    cookie = p.host_cookie(address)
    to_us = [match(eth_type=ETH_TYPE_IP, ipv4_dst=address, ip_proto=IP_PROTO[kind]) for kind in ("tcp", "udp")]
    to_us += [match(eth_type=ETH_TYPE_IP, ipv4_dst=address, ip_proto=IP_PROTO_ICMP, icmpv4_type=kind)
              for kind in (ECHO_REPLY, DEST_UNREACHABLE)]
    return [Flow(p.CLASSIFY.id, p.Priority.MONITOR, m, goto=p.MONITOR.id, cookie=cookie) for m in to_us] + [
        Flow(p.MONITOR.id, p.Priority.DEFAULT, match(), (Output(CONTROLLER),), meter=p.MONITOR_METER, cookie=cookie)]
