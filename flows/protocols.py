"""Protocol numbers the pipeline and the controller's packets use, named once: EtherTypes, the
VLAN field's bits, IP protocols, TCP flags, ARP operations, ICMP types and conntrack's ct_state
bits."""

ETH_TYPE_IP = 0x0800
ETH_TYPE_IPV6 = 0x86DD
ETH_TYPE_ARP = 0x0806
ETH_TYPE_VLAN = 0x8100

# vlan_vid, as OpenFlow has it: 0 for a packet with no 802.1Q tag, else OFPVID_PRESENT | the VLAN
# id (12 bits).
VLAN_PRESENT = 0x1000
VLAN_ID_MASK = 0x0FFF

IP_PROTO = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
IP_PROTO_ICMP = IP_PROTO["icmp"]
IP_PROTO_TCP = IP_PROTO["tcp"]
IP_PROTO_UDP = IP_PROTO["udp"]

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x001, 0x002, 0x004, 0x008, 0x010
TCP_SYN_ONLY = (TCP_SYN, TCP_SYN | TCP_ACK)   # a tcp_flags match: +syn-ack

ARP_REQUEST = 1
ARP_REPLY = 2

ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_PORT_UNREACH_CODE = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11

# ct_state bits, as Open vSwitch defines them.
CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def ct_state(on, off=0):
    """A ct_state match: the bits `on` set, the bits `off` clear, and the packet tracked."""
    return (on | CT_TRK, on | off | CT_TRK)
