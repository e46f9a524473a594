"""The few packets the controller reads and writes, as bytes: ARP (its probes, gratuitous ARP, and
what members and claimants send), health probes and their replies, and the answers that refuse a
connection (a TCP reset, an ICMP port unreachable) or report its TTL run out (ICMP time exceeded).
A small codec of our own (Ethernet with an optional 802.1Q tag, ARP, IPv4, TCP, UDP, ICMP): no
switch, no event loop and no packet library here. The shell sends what these return."""
import struct
from dataclasses import dataclass
from typing import Optional

from flows import addresses
from flows.protocols import (ARP_REPLY, ARP_REQUEST, ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_VLAN, ICMP_DEST_UNREACH,
                             ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_PORT_UNREACH_CODE, ICMP_TIME_EXCEEDED,
                             IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN)

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
PROBE_SOURCE = "0.0.0.0"   # RFC 5227 probe: the sender claims no address
DEFAULT_TTL = 64
QUOTED = 8                 # bytes of the offending datagram an ICMP error quotes after its IP header


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def mac_text(raw):
    return ":".join("%02x" % b for b in raw)


def checksum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# ------------------------------------------------------------------ reading

@dataclass(frozen=True)
class Arp:
    opcode: int
    src_mac: str
    src_ip: str
    dst_mac: str
    dst_ip: str


@dataclass(frozen=True)
class Ip:
    src: str
    dst: str
    proto: int
    ttl: int
    header: bytes       # the IP header as received
    payload: bytes      # what follows it (the L4 header and data)


@dataclass(frozen=True)
class Frame:
    dst: str
    src: str
    vlan: Optional[int]        # the 802.1Q VLAN id, if tagged
    ethertype: int
    arp: Optional[Arp] = None
    ip: Optional[Ip] = None
    raw: bytes = b""


def parse(raw):
    """An Ethernet frame -> Frame (arp or ip filled in when it carries one), or None when it is
    too short or malformed to be one."""
    if len(raw) < 14:
        return None
    dst, src, ethertype = mac_text(raw[0:6]), mac_text(raw[6:12]), struct.unpack("!H", raw[12:14])[0]
    offset, vlan = 14, None
    if ethertype == ETH_TYPE_VLAN and len(raw) >= 18:
        vlan = struct.unpack("!H", raw[14:16])[0] & 0x0FFF
        ethertype, offset = struct.unpack("!H", raw[16:18])[0], 18
    body = raw[offset:]
    if ethertype == ETH_TYPE_ARP:
        if len(body) < 28:
            return None
        opcode = struct.unpack("!H", body[6:8])[0]
        found = Arp(opcode, mac_text(body[8:14]), addresses.text(body[14:18]), mac_text(body[18:24]),
                    addresses.text(body[24:28]))
        return Frame(dst, src, vlan, ethertype, arp=found, raw=raw)
    if ethertype == ETH_TYPE_IP:
        if len(body) < 20 or body[0] >> 4 != 4:
            return None
        length = (body[0] & 0x0F) * 4
        total = struct.unpack("!H", body[2:4])[0]
        if length < 20 or len(body) < length or total < length:
            return None
        header = body[:length]
        found = Ip(addresses.text(body[12:16]), addresses.text(body[16:20]), body[9], body[8], header,
                   body[length:min(total, len(body))])
        return Frame(dst, src, vlan, ethertype, ip=found, raw=raw)
    return Frame(dst, src, vlan, ethertype, raw=raw)


@dataclass(frozen=True)
class Tcp:
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    data: bytes


@dataclass(frozen=True)
class Udp:
    src_port: int
    dst_port: int
    data: bytes


@dataclass(frozen=True)
class Icmp:
    type: int
    code: int
    rest: bytes    # the 4 bytes after the checksum (identifier and sequence of an echo)
    data: bytes


def transport(ip):
    """The Tcp, Udp or Icmp an Ip carries (None: another protocol, or cut short)."""
    body = ip.payload
    if ip.proto == IP_PROTO_TCP and len(body) >= 20:
        src, dst, seq, ack, offset_flags = struct.unpack("!HHIIH", body[:14])
        offset = (offset_flags >> 12) * 4
        return Tcp(src, dst, seq, ack, offset_flags & 0x1FF, body[offset:]) if offset >= 20 else None
    if ip.proto == IP_PROTO_UDP and len(body) >= 8:
        src, dst = struct.unpack("!HH", body[:4])
        return Udp(src, dst, body[8:])
    if ip.proto == IP_PROTO_ICMP and len(body) >= 8:
        return Icmp(body[0], body[1], body[4:8], body[8:])
    return None


# ------------------------------------------------------------------ writing

def ethernet(dst, src, ethertype, payload, vlan=None):
    tag = struct.pack("!HH", ETH_TYPE_VLAN, vlan) if vlan is not None else b""
    return mac_bytes(dst) + mac_bytes(src) + tag + struct.pack("!H", ethertype) + payload


def tagged(raw, vlan):
    """The untagged frame `raw` with an 802.1Q tag for VLAN `vlan` (None: as it is)."""
    if vlan is None:
        return raw
    return raw[:12] + struct.pack("!HH", ETH_TYPE_VLAN, vlan) + raw[12:]


def ipv4(src, dst, proto, payload, ttl=DEFAULT_TTL):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, proto, 0,
                         addresses.packed(src), addresses.packed(dst))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def _pseudo_header(src, dst, proto, length):
    return addresses.packed(src) + addresses.packed(dst) + struct.pack("!BBH", 0, proto, length)


def tcp(src, dst, src_port, dst_port, seq, ack, flags, window=0):
    segment = struct.pack("!HHIIHHHH", src_port, dst_port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          (5 << 12) | flags, window, 0, 0)
    value = checksum(_pseudo_header(src, dst, IP_PROTO_TCP, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", value) + segment[18:]


def udp(src, dst, src_port, dst_port, data):
    datagram = struct.pack("!HHHH", src_port, dst_port, 8 + len(data), 0) + data
    value = checksum(_pseudo_header(src, dst, IP_PROTO_UDP, len(datagram)) + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", value) + datagram[8:]


def icmp(kind, code, rest, data):
    message = struct.pack("!BBH", kind, code, 0) + rest + data
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def arp_request(mac, sender_ip, target_ip, vlan=None):
    """A broadcast ARP request from `mac`: a GARP when sender_ip == target_ip, a probe when the
    sender is PROBE_SOURCE."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_TYPE_IP, 6, 4, ARP_REQUEST, mac_bytes(mac), addresses.packed(sender_ip),
                       mac_bytes(ZERO_MAC), addresses.packed(target_ip))
    return ethernet(BROADCAST, mac, ETH_TYPE_ARP, body, vlan)


def arp_reply(mac, sender_ip, target_mac, target_ip, vlan=None):
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_TYPE_IP, 6, 4, ARP_REPLY, mac_bytes(mac), addresses.packed(sender_ip),
                       mac_bytes(target_mac), addresses.packed(target_ip))
    return ethernet(target_mac, mac, ETH_TYPE_ARP, body, vlan)


def _icmp_error(frame, kind, code):
    """An ICMP error about `frame`'s datagram, from the address it was sent to, back to its sender
    (RFC 792: it quotes the IP header and the first 8 bytes after it)."""
    ip = frame.ip
    quoted = ip.header + ip.payload[:QUOTED]
    message = icmp(kind, code, bytes(4), quoted)
    return ethernet(frame.src, frame.dst, ETH_TYPE_IP, ipv4(ip.dst, ip.src, IP_PROTO_ICMP, message), frame.vlan)


def _later_fragment(ip):
    """A fragment other than a datagram's first: it holds no transport header, and no ICMP error
    may be sent about it (RFC 1122 3.2.2)."""
    return struct.unpack("!H", ip.header[6:8])[0] & 0x1FFF != 0


def refusal(raw):
    """The answer that refuses the connection `raw` (an Ethernet frame) opens: a TCP reset for a
    segment (RFC 793: seq from its ACK, ack past its SYN/FIN and data), an ICMP port unreachable
    quoting a datagram; None for anything else, never for a reset, and never for a fragment but
    the first."""
    frame = parse(raw)
    if frame is None or frame.ip is None or _later_fragment(frame.ip):
        return None
    ip = frame.ip
    segment = transport(ip)
    if isinstance(segment, Tcp):
        if segment.flags & TCP_RST:
            return None
        acked = segment.seq + len(segment.data) + bool(segment.flags & TCP_SYN) + bool(segment.flags & TCP_FIN)
        reset = tcp(ip.dst, ip.src, segment.dst_port, segment.src_port,
                    segment.ack if segment.flags & TCP_ACK else 0, acked, TCP_RST | TCP_ACK)
        return ethernet(frame.src, frame.dst, ETH_TYPE_IP, ipv4(ip.dst, ip.src, IP_PROTO_TCP, reset), frame.vlan)
    if isinstance(segment, Udp):
        return _icmp_error(frame, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH_CODE)
    return None


def time_exceeded(raw):
    """ICMP time exceeded in transit (RFC 792) for the datagram `raw`, from the balancer's address
    it was sent to: what a router answers a packet whose TTL runs out. None for what is not
    IPv4, and for a fragment but the first (RFC 1122 3.2.2)."""
    frame = parse(raw)
    if frame is None or frame.ip is None or _later_fragment(frame.ip):
        return None
    return _icmp_error(frame, ICMP_TIME_EXCEEDED, 0)


# ------------------------------------------------------------ health probes

ECHO_ID = 0x6c62   # the identifier of our echo requests ("lb"); the sequence number is the token
PROBE_PAYLOAD = b"lbctl health probe"


def probe(kind, src_mac, dst_mac, src_ip, dst_ip, port, token, vlan=None):
    """A health probe of `kind` from the monitor address to a member: a TCP SYN or a UDP datagram
    from source port `token` to `port`, or an ICMP echo request with sequence number `token`."""
    if kind == "tcp":
        proto, body = IP_PROTO_TCP, tcp(src_ip, dst_ip, token, port, token << 16, 0, TCP_SYN, window=1024)
    elif kind == "udp":
        proto, body = IP_PROTO_UDP, udp(src_ip, dst_ip, token, port, PROBE_PAYLOAD)
    else:
        proto, body = IP_PROTO_ICMP, icmp(ICMP_ECHO_REQUEST, 0, struct.pack("!HH", ECHO_ID, token), PROBE_PAYLOAD)
    return ethernet(dst_mac, src_mac, ETH_TYPE_IP, ipv4(src_ip, dst_ip, proto, body), vlan)


def probe_reply(raw):
    """What a packet sent to the monitor address says about a probe: (kind, member address,
    member port, token, ok, reason), or None when it is not a reply to one of ours."""
    frame = parse(raw)
    if frame is None or frame.ip is None:
        return None
    ip = frame.ip
    message = transport(ip)
    if isinstance(message, Tcp):
        if message.flags & TCP_RST:
            return "tcp", ip.src, message.src_port, message.dst_port, False, "connection refused"
        if message.flags & TCP_SYN and message.flags & TCP_ACK:
            return "tcp", ip.src, message.src_port, message.dst_port, True, "SYN-ACK"
        return None
    if isinstance(message, Udp):
        return "udp", ip.src, message.src_port, message.dst_port, True, "answered"
    if not isinstance(message, Icmp):
        return None
    if message.type == ICMP_ECHO_REPLY:
        ident, token = struct.unpack("!HH", message.rest)
        return ("ping", ip.src, 0, token, True, "echo reply") if ident == ECHO_ID else None
    if message.type == ICMP_DEST_UNREACH:
        return _unreachable(message)
    return None


def _unreachable(message):
    """An ICMP destination unreachable about one of our UDP probes: the member refuses its port
    (or a router says it cannot reach the member)."""
    quoted = message.data
    if len(quoted) < 28 or quoted[9] != IP_PROTO_UDP:
        return None
    header = (quoted[0] & 0x0F) * 4
    if len(quoted) < header + 4:
        return None
    member = addresses.text(quoted[16:20])
    token, port = struct.unpack("!HH", quoted[header:header + 4])
    why = "port unreachable" if message.code == ICMP_PORT_UNREACH_CODE else "unreachable (code %d)" % message.code
    return "udp", member, port, token, False, why
