"""The few packets the controller writes itself, as bytes: ARP requests (probes and gratuitous
ARP) and the refusal of a connection to a VIP with no live member (a TCP reset or an ICMP port
unreachable). No switch and no event loop here: the shell sends what these return."""
from ryu.lib.packet import arp, ethernet, icmp, ipv4, packet, tcp, udp

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
PROBE_SOURCE = "0.0.0.0"   # RFC 5227 probe: the sender claims no address
ETH_TYPE_ARP = 0x0806
IP_PROTO_ICMP = 1


def arp_request(mac, sender_ip, target_ip):
    """A broadcast ARP request from `mac`: a GARP when sender_ip == target_ip, a probe when the
    sender is PROBE_SOURCE."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=BROADCAST, src=mac, ethertype=ETH_TYPE_ARP))
    pkt.add_protocol(arp.arp(opcode=arp.ARP_REQUEST, src_mac=mac, src_ip=sender_ip,
                             dst_mac=ZERO_MAC, dst_ip=target_ip))
    pkt.serialize()
    return bytes(pkt.data)


def refusal(raw):
    """The answer that refuses the connection `raw` (an Ethernet frame) opens: a TCP reset for a
    segment (RFC 793: seq from its ACK, ack past its SYN/FIN and data), an ICMP port unreachable
    carrying its IP header and first 8 bytes for a datagram; None for anything else, and never
    for a reset."""
    pkt = packet.Packet(raw)
    eth, ip = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(ipv4.ipv4)
    segment, datagram = pkt.get_protocol(tcp.tcp), pkt.get_protocol(udp.udp)
    if eth is None or ip is None or (segment is None and datagram is None):
        return None
    answer = packet.Packet()
    answer.add_protocol(ethernet.ethernet(dst=eth.src, src=eth.dst, ethertype=eth.ethertype))
    if segment is not None:
        if segment.bits & tcp.TCP_RST:
            return None
        payload = pkt.protocols[-1] if isinstance(pkt.protocols[-1], (bytes, bytearray)) else b""
        acked = segment.seq + len(payload) + bool(segment.bits & tcp.TCP_SYN) + bool(segment.bits & tcp.TCP_FIN)
        answer.add_protocol(ipv4.ipv4(src=ip.dst, dst=ip.src, proto=ip.proto))
        answer.add_protocol(tcp.tcp(src_port=segment.dst_port, dst_port=segment.src_port,
                                    seq=segment.ack if segment.bits & tcp.TCP_ACK else 0,
                                    ack=acked, bits=tcp.TCP_RST | tcp.TCP_ACK, window_size=0))
    else:
        offending = bytes(raw[14:14 + ip.header_length * 4 + 8])
        answer.add_protocol(ipv4.ipv4(src=ip.dst, dst=ip.src, proto=IP_PROTO_ICMP))
        answer.add_protocol(icmp.icmp(type_=icmp.ICMP_DEST_UNREACH, code=icmp.ICMP_PORT_UNREACH_CODE,
                                      data=icmp.dest_unreach(data=offending)))
    answer.serialize()
    return bytes(answer.data)
