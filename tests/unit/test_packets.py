"""The packets the controller writes: ARP probes and GARPs, and refusals that a client's stack
will take as 'connection refused' (checked field by field with Ryu's parser)."""
from ryu.lib.packet import arp, ethernet, icmp, ipv4, packet, tcp, udp

from lbctl import packets

CLIENT_MAC, VIP_MAC = "0a:00:00:00:00:10", "02:6c:00:00:00:01"


def frame(l4, payload=b""):
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=VIP_MAC, src=CLIENT_MAC))
    pkt.add_protocol(ipv4.ipv4(src="198.18.0.10", dst="198.18.0.100", proto=6 if isinstance(l4, tcp.tcp) else 17))
    pkt.add_protocol(l4)
    if payload:
        pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def test_probe_and_garp():
    probe = packet.Packet(packets.arp_request(VIP_MAC, packets.PROBE_SOURCE, "198.18.0.11")).get_protocol(arp.arp)
    assert (probe.opcode, probe.src_ip, probe.dst_ip, probe.src_mac) == (1, "0.0.0.0", "198.18.0.11", VIP_MAC)
    garp = packet.Packet(packets.arp_request(VIP_MAC, "198.18.0.100", "198.18.0.100")).get_protocol(arp.arp)
    assert garp.src_ip == garp.dst_ip == "198.18.0.100"


def test_a_syn_is_refused_with_a_reset_that_acknowledges_it():
    answer = packet.Packet(packets.refusal(frame(tcp.tcp(src_port=40000, dst_port=80, seq=1000, bits=tcp.TCP_SYN))))
    eth, ip, seg = answer.get_protocol(ethernet.ethernet), answer.get_protocol(ipv4.ipv4), answer.get_protocol(tcp.tcp)
    assert (eth.src, eth.dst, ip.src, ip.dst) == (VIP_MAC, CLIENT_MAC, "198.18.0.100", "198.18.0.10")
    assert (seg.src_port, seg.dst_port, seg.seq, seg.ack) == (80, 40000, 0, 1001)
    assert seg.bits == tcp.TCP_RST | tcp.TCP_ACK


def test_a_reset_is_never_answered():
    assert packets.refusal(frame(tcp.tcp(src_port=40000, dst_port=80, bits=tcp.TCP_RST))) is None


def test_a_datagram_is_refused_with_port_unreachable_quoting_it():
    raw = frame(udp.udp(src_port=40000, dst_port=53), b"question")
    message = packet.Packet(packets.refusal(raw)).get_protocol(icmp.icmp)
    assert (message.type, message.code) == (icmp.ICMP_DEST_UNREACH, icmp.ICMP_PORT_UNREACH_CODE)
    assert message.data.data == raw[14:14 + 20 + 8], "its IP header and first 8 bytes"


def fragment_of(raw, offset_words, more=True):
    """`raw` with its IP header's fragment offset (in 8-byte units) and More Fragments flag set, the
    header checksum left alone (nothing here checks it)."""
    flags = (0x2000 if more else 0) | offset_words
    return raw[:14 + 6] + flags.to_bytes(2, "big") + raw[14 + 8:]


def test_only_a_datagrams_first_fragment_is_refused():
    raw = frame(udp.udp(src_port=40000, dst_port=7000), b"x" * 64)
    assert packets.refusal(fragment_of(raw, 0)) is not None, "the first holds the ports"
    assert packets.refusal(fragment_of(raw, 185)) is None, "a later one holds data, not a UDP header"
    assert packets.refusal(fragment_of(raw, 185, more=False)) is None


def test_a_packet_whose_ttl_runs_out_gets_time_exceeded_from_the_address_it_was_sent_to():
    raw = frame(tcp.tcp(src_port=40000, dst_port=80, seq=1000, bits=tcp.TCP_SYN))
    answer = packet.Packet(packets.time_exceeded(raw))
    eth, ip, message = answer.get_protocol(ethernet.ethernet), answer.get_protocol(ipv4.ipv4), answer.get_protocol(icmp.icmp)
    assert (eth.src, eth.dst, ip.src, ip.dst) == (VIP_MAC, CLIENT_MAC, "198.18.0.100", "198.18.0.10")
    assert (message.type, message.code) == (icmp.ICMP_TIME_EXCEEDED, 0)
    assert message.data.data == raw[14:14 + 20 + 8]
    assert packets.time_exceeded(fragment_of(raw, 185)) is None
