"""The pipeline, declared once: its tables (each with the tables it may go to, its priority bands
and the fields it matches and sets), its registers, the conntrack zones and the ct_mark/ct_label
layout, the cookie layout and the balancer's MACs. Every other module names these, never a bare
number; `tests/unit/test_pipeline.py` checks every flow of every mode against these contracts and
`docs/pipeline.md` against this file.

Reading order of a packet (docs/pipeline.md walks through each table):

  classify (0) --ARP--> arp (10) --copy, rate-limited by a meter--> arp_punt (11) --> controller
      |  TCP/UDP to a VIP, or from a member's service port
      v
  ct(zone, nat) --> conntrack (20) --new--> group:<vip> --bucket: ct(commit, dnat)--> to_member (30)
                       |--established, request direction--> to_member (30) --> locate (31)
                       |--established, reply direction-----> to_client (40)
  TCP, UDP, ICMP reply/unreachable to the monitor address --> monitor (13) --meter--> controller
  anything else: NORMAL (plain L2 switching, never through conntrack)
"""
from dataclasses import dataclass, field
from typing import Tuple


@dataclass(frozen=True)
class Band:
    """A priority band of one table: which flows use it, and why it sits where it does."""
    name: str
    priority: int
    meaning: str


@dataclass(frozen=True)
class Register:
    """A register the pipeline uses, its width and what it carries."""
    field: str
    bits: int
    meaning: str


@dataclass(frozen=True)
class Table:
    """One table and its contract: `goes_to` the tables its flows may continue in (goto_table,
    resubmit, conntrack's recirculation, through a group's buckets too), `bands` its priorities,
    `matches` and `sets` the fields its flows may match and write. Bands are attributes:
    CLASSIFY.VIP is the priority of the VIP band of table classify."""
    id: int
    name: str
    purpose: str
    bands: Tuple[Band, ...]
    goes_to: Tuple[str, ...] = ()
    matches: frozenset = field(default_factory=frozenset)
    sets: frozenset = field(default_factory=frozenset)

    def __getattr__(self, name):
        for band in self.__dict__.get("bands", ()):
            if band.name == name:
                return band.priority
        raise AttributeError("table %s has no band %s" % (self.__dict__.get("name"), name))


DEFAULT = Band("DEFAULT", 0, "the table's last resort")

# ------------------------------------------------------------------ registers

PORT_REG = Register("reg0", 32, "to_client: the switch port a connection's request came in on, to output its reply there")
SLOT_REG = Register("reg1", 32, "the slot (0-255) a multipath VIP's new connection hashed to")
HOST_REG = Register("reg2", 32, "the host id of the host a packet goes to, for locate (0: not chosen yet)")
ADDRESS_REG = Register("reg3", 32, "scratch: the requester's address while an echo reply swaps addresses")
REGISTERS = (PORT_REG, SLOT_REG, HOST_REG, ADDRESS_REG)

# Fields that only a few tables match or write, named once.
L2 = frozenset({"in_port", "eth_src", "eth_dst", "eth_type"})
L3 = frozenset({"ip_proto", "ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst"})
L4 = frozenset({"tcp_src", "tcp_dst", "udp_src", "udp_dst", "tcp_flags"})
ARP_FIELDS = frozenset({"arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"})
ICMP_FIELDS = frozenset({"icmpv4_type"})
CT_FIELDS = frozenset({"ct_state", "ct_mark"})
CT_WRITES = frozenset({"ct_mark", "ct_label"})   # what a commit's exec() records

# ------------------------------------------------------------------ tables
# OpenFlow's goto_table only goes forward: a table's flows may goto higher-numbered tables only
# (conntrack's recirculation, ct(table=N), and resubmit may go anywhere).

CLASSIFY = Table(0, "classify", "send VIP traffic and member replies through conntrack; ARP to arp; echo "
                 "requests to the balancer's addresses answered in place; the rest NORMAL", (
                     Band("POOL", 350, "a reply to a one-arm SNAT pool address (before the member catch)"),
                     Band("MONITOR", 320, "a reply to a health probe, sent to the monitor address (before the "
                                          "member catch, which it also matches)"),
                     Band("VIP", 300, "a VIP's address and port; an echo request to a balancer's address"),
                     Band("MEMBER", 300, "a packet from a member's service endpoint (its reply)"),
                     Band("ARP", 200, "ARP, to the arp table"),
                     DEFAULT),
                 goes_to=("arp", "monitor", "dsr_conn", "dsr", "conntrack", "unsnat"),
                 matches=L2 | L3 | L4 | ICMP_FIELDS,
                 sets=frozenset({"eth_src", "eth_dst", "ipv4_src", "ipv4_dst", "icmpv4_type", ADDRESS_REG.field}))
ARP = Table(10, "arp", "answer ARP for the balancer's addresses; switch other ARP and copy members' and "
            "suspicious ARP to the controller", (
                Band("CLAIM", 250, "someone else's ARP that claims one of our addresses: controller only"),
                Band("REPLY", 200, "answer a request for one of our addresses"),
                Band("MEMBER", 150, "ARP from a member's address: switched, and punted through the members' meter"),
                Band("FOR_US", 100, "replies to the controller's probes (sent to one of our MACs)"),
                DEFAULT),
            goes_to=("arp_punt", "member_arp_punt"),
            matches=frozenset({"eth_type", "eth_dst"}) | ARP_FIELDS,
            sets=frozenset({"eth_src", "eth_dst"}) | ARP_FIELDS)
ARP_PUNT = Table(11, "arp_punt", "send ARP to the controller, through the ARP meter", (DEFAULT,))
MEMBER_ARP_PUNT = Table(12, "member_arp_punt", "send members' ARP to the controller, through their own meter",
                        (DEFAULT,))
MONITOR = Table(13, "monitor", "replies to health probes (sent to the monitor address): to the controller, "
                "through the monitor meter", (DEFAULT,))
DSR_CONN = Table(15, "dsr_conn", "dsr: one learned flow per connection, pinning it to its member", (
    Band("PIN", 300, "a connection's pin, learned by dsr_pin"),),
    matches=frozenset({"eth_type"}) | L3 | L4, sets=frozenset({HOST_REG.field}))
DSR = Table(16, "dsr", "dsr: a connection not pinned yet is spread; a pinned one goes to its member", (
    Band("SYN", 310, "a SYN not pinned yet (a datapath flow of its own: see flows/dsr.py)"),
    Band("VIP", 300, "a packet not pinned yet: spread over the slot table"),
    DEFAULT),
    goes_to=("dsr_pin", "slot", "reject", "locate"),
    matches=frozenset({"eth_type", HOST_REG.field}) | L3 | L4,
    sets=frozenset({HOST_REG.field, SLOT_REG.field}))
DSR_PIN = Table(17, "dsr_pin", "dsr: a new connection learns its pin, then goes to its member", (
    Band("MEMBER", 300, "one member of a VIP: learn the pin"),),
    goes_to=("dsr_conn", "locate"),
    matches=frozenset({"eth_type", HOST_REG.field}) | L3 | L4)
CONNTRACK = Table(20, "conntrack", "after the conntrack lookup: new VIP connections to the VIP's select group; "
                  "established ones by direction", (
                      Band("VIP", 300, "a VIP's new connections (its SYNs), or a packet of one it committed "
                                       "already that conntrack still calls new"),
                      Band("STRAY", 290, "a TCP packet to a VIP, new to conntrack but no SYN: refused"),
                      Band("CT_STATE", 100, "established traffic, by direction"),
                      DEFAULT),
                  goes_to=("slot", "snat", "to_member", "to_client", "reject"),
                  matches=frozenset({"eth_type"}) | L3 | L4 | CT_FIELDS,
                  sets=frozenset({SLOT_REG.field}) | CT_WRITES)
SLOT = Table(21, "slot", "new connections of multipath VIPs (UDP, source_ip): the hashed slot's member", (
    Band("VIP", 300, "one slot of a VIP"),
    DEFAULT),
    goes_to=("snat", "to_member", "dsr_pin"),
    matches=frozenset({"eth_type", SLOT_REG.field}) | L3 | L4,
    sets=frozenset({HOST_REG.field}) | CT_WRITES)
SNAT = Table(22, "snat", "one-arm: requests get a source address and port from the VIP's pool", (
    Band("VIP", 300, "a one-arm VIP's requests"),
    DEFAULT),
    goes_to=("to_member",), matches=frozenset({"eth_type", "ct_mark"}), sets=CT_WRITES)
UNSNAT = Table(23, "unsnat", "one-arm: replies to a pool address, un-SNATed, go to the VIP's conntrack", (
    Band("CT_STATE", 100, "a reply of a known connection"),
    DEFAULT),
    goes_to=("conntrack",), matches=frozenset({"eth_type", "ct_state"}))
TO_MEMBER = Table(30, "to_member", "a request of a VIP connection, NATed to a member: the VIP's source MAC", (
    Band("MEMBER_NEW", 310, "a connection's first packet (its packet count: the member's new connections)"),
    Band("MEMBER", 300, "the requests of a member's connections"),
    DEFAULT),
    goes_to=("locate",), matches=frozenset({"eth_type"}) | L3 | L4 | CT_FIELDS,
    sets=frozenset({"eth_src", HOST_REG.field}))
LOCATE = Table(31, "locate", "a packet for the host in reg2: its MAC and switch port (one flow per host)", (
    Band("HOST", 300, "where one host is"),
    DEFAULT),
    matches=frozenset({HOST_REG.field}), sets=frozenset({"eth_dst"}))
TO_CLIENT = Table(40, "to_client", "deliver an un-NATed reply back where the request came from", (
    Band("VIP", 300, "a VIP's replies"),
    DEFAULT),
    matches=frozenset({"eth_type", "ct_mark"}), sets=frozenset({"eth_src", "eth_dst", PORT_REG.field}))
REJECT = Table(50, "reject", "a new connection to a VIP with no live member: to the controller, which answers "
               "a TCP reset or an ICMP port unreachable (through the reject meter)", (DEFAULT,))

TABLES = (CLASSIFY, ARP, ARP_PUNT, MEMBER_ARP_PUNT, MONITOR, DSR_CONN, DSR, DSR_PIN, CONNTRACK, SLOT, SNAT, UNSNAT,
          TO_MEMBER, LOCATE, TO_CLIENT, REJECT)
TABLE_BY_ID = {t.id: t for t in TABLES}
TABLE_BY_NAME = {t.name: t for t in TABLES}

# ------------------------------------------------------------------ conntrack

# The conntrack zone every VIP connection lives in (request and reply must share it for NAT), and
# the zone of one-arm VIPs' source NAT: a connection has one entry in each.
LB_ZONE = 64
SNAT_ZONE = 65

# ct_mark holds the VIP id of a connection; ct_label holds where the request came from, so the
# reply goes back to that MAC and port without any L2 learning.
CT_LABEL_CLIENT_MAC = (0, 48)    # bits [0..47]: eth_src of the request (client or its router)
CT_LABEL_CLIENT_PORT = (64, 32)  # bits [64..95]: the switch port the request came in on

# dsr: how long a connection's learned pin lives without packets, and after its FIN or RST.
DSR_IDLE_TIMEOUT = 300
DSR_FIN_IDLE_TIMEOUT = 5

# ------------------------------------------------------------------ cookies
# A flow's cookie names its owner. High 32 bits: the VIP id, or HOSTS (the low half is then a host
# id: where the host is, its ARP), or NETWORKS (the low half is a network id: the balancer's own
# addresses there, gateways and the monitor address). Low 32 bits of a VIP's flow: the member id,
# 0 for the VIP as a whole. Cookie 0: the pipeline's own flows.
# One VIP: cookie=0x<id>00000000/0xffffffff00000000; one host: 0xffffffff0000000d (host id 13).

COOKIE_OWNER_SHIFT = 32
COOKIE_OWNER_MASK = 0xFFFFFFFF00000000
COOKIE_ALL_BITS = 0xFFFFFFFFFFFFFFFF
PIPELINE_COOKIE = 0
HOSTS = 0xFFFFFFFF
NETWORKS = 0xFFFFFFFE
MAX_VIP_ID = NETWORKS - 1


def cookie(vip_id, member_id=0):
    return (vip_id << COOKIE_OWNER_SHIFT) | member_id


def host_cookie(host_id):
    return cookie(HOSTS, host_id)


def network_cookie(network_id):
    return cookie(NETWORKS, network_id)


@dataclass(frozen=True)
class Owner:
    """Who a cookie says a flow belongs to: kind "vip" (vip id, member id or 0), "host" (host id),
    "network" (network id) or "pipeline"."""
    kind: str
    id: int = 0
    member: int = 0


def owner(value):
    high, low = value >> COOKIE_OWNER_SHIFT, value & 0xFFFFFFFF
    if value == PIPELINE_COOKIE:
        return Owner("pipeline")
    if high == HOSTS:
        return Owner("host", low)
    if high == NETWORKS:
        return Owner("network", low)
    return Owner("vip", high, low)


def vip_cookie_match(vip_id):
    """(cookie, mask) selecting every flow of one VIP."""
    return cookie(vip_id), COOKIE_OWNER_MASK


def group_id(vip_id):
    """Each VIP owns one select group, numbered like the VIP."""
    return vip_id


# ------------------------------------------------------------------ meters
# They bound the controller's packet-ins: a storm of ARP cannot starve the controller, and a storm
# from clients cannot crowd out the ARP of members (their moves must be seen).
ARP_METER = 1
MEMBER_ARP_METER = 2
REJECT_METER = 3     # bounds the packet-ins of connections refused for want of a live member
MONITOR_METER = 4    # bounds the packet-ins of replies to health probes

# ------------------------------------------------------------------ the balancer's MACs
# One per redundancy group, as an HA cluster needs (all addresses of a group move together with
# one MAC). Layout 02:6c:62:CC:GG:GG -- 02: locally administered unicast, 6c:62 ("lb"), CC the
# cluster id (two lbctl deployments on one LAN pick different ones), GGGG the redundancy group.
# Derived from configuration only, so stable across restarts.
MAC_PREFIX = "02:6c:62"


def own_mac(cluster_id, redundancy_group):
    return "%s:%02x:%02x:%02x" % (MAC_PREFIX, cluster_id, redundancy_group >> 8, redundancy_group & 0xFF)


def own_mac_match(cluster_id):
    """(value, mask) matching every MAC of this cluster."""
    return ("%s:%02x:00:00" % (MAC_PREFIX, cluster_id), "ff:ff:ff:ff:00:00")


def is_own_mac(mac):
    return mac.lower().startswith(MAC_PREFIX + ":")
