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


# ------------------------------------------------------------ health probes

ECHO_ID = 0x6c62   # the identifier of our echo requests ("lb"); the sequence number is the token
PROBE_PAYLOAD = b"lbctl health probe"


def probe(kind, src_mac, dst_mac, src_ip, dst_ip, port, token):
    """A health probe of `kind` from the monitor address to a member: a TCP SYN or a UDP datagram
    from source port `token` to `port`, or an ICMP echo request with sequence number `token`."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac))
    proto = {"tcp": 6, "udp": 17, "ping": IP_PROTO_ICMP}[kind]
    pkt.add_protocol(ipv4.ipv4(src=src_ip, dst=dst_ip, proto=proto, ttl=64))
    if kind == "tcp":
        pkt.add_protocol(tcp.tcp(src_port=token, dst_port=port, seq=token << 16, bits=tcp.TCP_SYN, window_size=1024))
    elif kind == "udp":
        pkt.add_protocol(udp.udp(src_port=token, dst_port=port))
        pkt.add_protocol(PROBE_PAYLOAD)
    else:
        pkt.add_protocol(icmp.icmp(type_=icmp.ICMP_ECHO_REQUEST, data=icmp.echo(id_=ECHO_ID, seq=token,
                                                                                  data=PROBE_PAYLOAD)))
    pkt.serialize()
    return bytes(pkt.data)


def probe_reply(raw):
    """What a packet sent to the monitor address says about a probe: (kind, member address,
    member port, token, ok, reason), or None when it is not a reply to one of ours."""
    pkt = packet.Packet(raw)
    ip = pkt.get_protocol(ipv4.ipv4)
    if ip is None:
        return None
    segment, datagram, message = pkt.get_protocol(tcp.tcp), pkt.get_protocol(udp.udp), pkt.get_protocol(icmp.icmp)
    if segment is not None:
        if segment.bits & tcp.TCP_RST:
            return "tcp", ip.src, segment.src_port, segment.dst_port, False, "connection refused"
        if segment.bits & tcp.TCP_SYN and segment.bits & tcp.TCP_ACK:
            return "tcp", ip.src, segment.src_port, segment.dst_port, True, "SYN-ACK"
        return None
    if datagram is not None:
        return "udp", ip.src, datagram.src_port, datagram.dst_port, True, "answered"
    if message is None:
        return None
    if message.type == icmp.ICMP_ECHO_REPLY and isinstance(message.data, icmp.echo) and message.data.id == ECHO_ID:
        return "ping", ip.src, 0, message.data.seq, True, "echo reply"
    if message.type == icmp.ICMP_DEST_UNREACH and isinstance(message.data, icmp.dest_unreach):
        return _unreachable(message)
    return None


def _unreachable(message):
    """An ICMP destination unreachable about one of our UDP probes: the member refuses its port
    (or a router says it cannot reach the member)."""
    quoted = bytes(message.data.data)
    if len(quoted) < 28 or quoted[9] != 17:
        return None
    header = (quoted[0] & 0x0F) * 4
    if len(quoted) < header + 4:
        return None
    member = ".".join(str(b) for b in quoted[16:20])
    token = int.from_bytes(quoted[header:header + 2], "big")
    port = int.from_bytes(quoted[header + 2:header + 4], "big")
    why = "port unreachable" if message.code == icmp.ICMP_PORT_UNREACH_CODE else "unreachable (code %d)" % message.code
    return "udp", member, port, token, False, why
