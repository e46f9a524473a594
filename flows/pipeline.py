"""The pipeline, declared once: its tables (each with the tables it may go to, its priority bands
and the fields it matches and sets), its registers, the conntrack zones and the ct_mark/ct_label
layout, the cookie layout and the balancer's MACs. Every other module names these, never a bare
number; tests/unit/test_pipeline.py checks every flow of every mode against these contracts, and
docs/pipeline.md is generated from this file.

Reading order of a packet (docs/pipeline.md walks through each table):

  ingress (0)   which network the frame is on (its VLAN, or its access port): reg9; its tag is popped
                (and pushed back at the exits: NORMAL, an answer, egress (41))
  classify (1)  ARP --> arp (10) --owned (11)?--> arp_answer (12): answer / claim / member --> punts (13, 14)
                echo request --> owned (11)? --> echo (16): answered in place
                to a NAT VIP --> ct(zone, nat) --> conntrack (20) --new: group / slot (21)--> commit (22)
                    --> ct(commit, DNAT [, SNAT]) --> to_member (30) --> locate (31)
                from a member (a reply), to a pool, an ICMP error --> ct(nat) ... --> conntrack (20) --> to_client (40)
                to a dsr VIP --> group --> dsr_deliver (24) --> locate (31)   (moved slots: dsr_moved (17))
                anything else to the balancer's MACs: refused or dropped; everything else: NORMAL
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
    `matches` and `sets` the fields its flows may match and write (push_vlan and pop_vlan write
    vlan_vid). Bands are attributes:
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
HOST_REG = Register("reg2", 32, "the host id of the host a packet goes to, for locate (dsr: the slot's owner)")
ADDRESS_REG = Register("reg3", 32, "the address looked up in owned (an ARP target or sender, an echo's destination)")
VIP_REG = Register("reg4", 32, "the VIP a packet is sent to (its id, with VIP_ROUTED for a routed VIP); 0: not to a VIP")
MEMBER_REG = Register("reg5", 32, "the member a new connection goes to (its id, for commit); dsr moved slot: the old owner's host id")
OWNED_REG = Register("reg6", 32, "owned's answer: IS_OWNED and the redundancy group of the address looked up; 0: not ours")
PIN_REG = Register("reg7", 32, "dsr: the host id a connection's pin names (0: not pinned; PIN_LEARNED: a new "
                              "connection pinned just now)")
CLAIM_REG = Register("reg8", 32, "arp: owned's answer for the ARP's sender address (a claim if IS_OWNED is set)")
NETWORK_REG = Register("reg9", 32, "the network the frame arrived on (its id; 0: the default network)")
VLAN_REG = Register("reg10", 32, "the 802.1Q tag to put back on the way out (VLAN_PRESENT | the VLAN id; 0: "
                                 "untagged): the arrival's, or at egress the destination's")
REGISTERS = (PORT_REG, SLOT_REG, HOST_REG, ADDRESS_REG, VIP_REG, MEMBER_REG, OWNED_REG, PIN_REG, CLAIM_REG,
             NETWORK_REG, VLAN_REG)

VIP_ROUTED = 1 << 31          # in VIP_REG and ct_mark: a routed VIP (one hop: the TTL is decremented)
PIN_LEARNED_BIT = 31          # in PIN_REG: dsr_moved's learn put the new connection's pin in place
PIN_LEARNED = 1 << PIN_LEARNED_BIT
IS_OWNED = 1 << 24            # in OWNED_REG and CLAIM_REG: the address is the balancer's; low 24 bits: the
                              # low 24 bits of its MAC (own_mac: its network and redundancy group)
STANDBY = 1 << 25             # in OWNED_REG: ... but its redundancy group is active on another switch
VLAN_PRESENT = 0x1000         # OpenFlow's OFPVID_PRESENT: vlan_vid's "a tag is there" bit

# Fields that only a few tables match or write, named once.
L2 = frozenset({"in_port", "eth_src", "eth_dst", "eth_type", "vlan_vid"})
L3 = frozenset({"ip_proto", "ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst", "ip_frag", "nw_ttl"})
L4 = frozenset({"tcp_src", "tcp_dst", "udp_src", "udp_dst", "tcp_flags"})
ARP_FIELDS = frozenset({"arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"})
ICMP_FIELDS = frozenset({"icmpv4_type"})
CT_FIELDS = frozenset({"ct_state", "ct_mark"})
CT_WRITES = frozenset({"ct_mark", "ct_label"})   # what a commit's exec() records

# ------------------------------------------------------------------ tables
# OpenFlow's goto_table only goes forward: a table's flows may goto higher-numbered tables only
# (conntrack's recirculation, ct(table=N), and resubmit may go anywhere).

INGRESS = Table(
    0, "ingress", "which network a frame is on: a VLAN's tag (popped here, pushed back on the way out), an "
    "access port's untagged frames, else the default network; frames of VLANs no network has are switched", (
        Band("TAGGED_ACCESS", 400, "a VLAN-tagged frame on an access port: dropped (a host there cannot reach "
                                   "another network by tagging)"),
        Band("ACCESS", 300, "an untagged frame on an access port: that port's network"),
        Band("VLAN", 200, "a frame tagged with a network's VLAN: that network, its tag popped"),
        Band("UNKNOWN_VLAN_OWN", 101, "a frame of a VLAN no network has, to one of the balancer's MACs: dropped"),
        Band("UNKNOWN_VLAN", 100, "any other frame of a VLAN no network has: switched"),
        Band("DEFAULT", 0, "an untagged frame elsewhere: the default network")),
    goes_to=("classify",), matches=frozenset({"in_port", "vlan_vid", "eth_dst"}),
    sets=frozenset({NETWORK_REG.field, VLAN_REG.field, "vlan_vid"}))
CLASSIFY = Table(
    1, "classify", "sort what arrives: ARP, echo requests, VIP traffic, members' replies, ICMP errors; "
    "guard the balancer's addresses and MACs; the rest is plain L2 switching (NORMAL)", (
        Band("STANDBY", 950, "to a MAC of a redundancy group this switch stands by for: dropped (the switch "
                             "where the group is active carries it)"),
        Band("DSR_REPLY", 910, "a dsr member's reply, from the VIP's address and port (a UDP VIP's: any "
                               "fragment from its address): switched"),
        Band("GUARD", 900, "anything else from one of the balancer's addresses: dropped (nobody else may use them)"),
        Band("MONITOR", 800, "a reply to a health probe, sent to the monitor address"),
        Band("VIP", 700, "to a VIP's address and port: through conntrack (NAT modes) or its group (dsr)"),
        Band("VIP_FRAGMENT", 690, "a UDP fragment to the address of one UDP VIP: through its conntrack (dsr: to "
                                  "the member its client's address hashes to); of several, through conntrack only"),
        Band("MEMBER", 650, "from a member's service endpoint (its replies): un-NAT through conntrack"),
        Band("MEMBER_FRAGMENT", 640, "a UDP fragment from a member: un-NAT through conntrack"),
        Band("ECHO", 620, "an echo request: answered in place when it is to one of the balancer's addresses"),
        Band("VIP_ICMP", 610, "another ICMP message to a one-arm VIP (an error about its replies): through both "
                              "its zones in a request's order; an ICMP error to a dsr VIP: to each of its members"),
        Band("POOL", 600, "to a one-arm SNAT pool address (replies of one-arm connections): un-NAT"),
        Band("ICMP_ERROR", 500, "an ICMP error: through conntrack, it follows the connection it is about"),
        Band("ARP", 300, "ARP, to the arp table"),
        Band("OWN_MAC_REFUSE", 2, "any other TCP or UDP to one of the balancer's MACs: a reset or a port unreachable"),
        Band("OWN_MAC", 1, "anything else to one of the balancer's MACs: dropped, never flooded"),
        DEFAULT),
    goes_to=("arp", "owned", "standby", "echo", "monitor", "conntrack", "slot", "dsr_moved", "dsr_deliver", "locate", "reject"),
    matches=L2 | L3 | L4 | ICMP_FIELDS | {NETWORK_REG.field, VLAN_REG.field},
    sets=frozenset({VIP_REG.field, ADDRESS_REG.field, HOST_REG.field, MEMBER_REG.field, SLOT_REG.field, "vlan_vid",
                    "eth_src"}))
ARP = Table(10, "arp", "look up the ARP's sender and target addresses in owned (of the frame's network), then "
            "answer", (
    Band("LOOKUP", 300, "every ARP packet"),),
    goes_to=("owned", "standby", "arp_answer"),
    matches=frozenset({"eth_type"}), sets=frozenset({ADDRESS_REG.field, CLAIM_REG.field}))
STANDBY_TABLE = Table(9, "standby", "the redundancy groups this switch stands by for (a cluster: each group is active "
                      "on one switch): owned's answer for their addresses marked STANDBY, so that neither ARP nor "
                      "ping is answered here", (
                          Band("GROUP", 300, "one network's MAC of a group this switch stands by for"),
                          DEFAULT),
                      matches=frozenset({OWNED_REG.field}), sets=frozenset({OWNED_REG.field}))
OWNED = Table(11, "owned", "the balancer's own addresses (VIPs, pools, gateways, monitor address) on each network, "
              "and their MACs: the answer in reg6", (
                  Band("ADDRESS", 300, "one address the balancer owns on one network"),
                  DEFAULT),
              matches=frozenset({ADDRESS_REG.field, NETWORK_REG.field}), sets=frozenset({OWNED_REG.field}))
ARP_ANSWER = Table(12, "arp_answer", "answer ARP for the balancer's addresses; copy members' ARP and claims to the "
                   "controller; switch the rest", (
                       Band("CLAIM", 300, "ARP from one of the balancer's addresses, by someone else: controller only"),
                       Band("CLAIM_MAC", 250, "ARP from one of the balancer's MACs, by someone else: controller only"),
                       Band("REPLY", 200, "a request for one of the balancer's addresses: answered in place"),
                       Band("MEMBER", 150, "ARP from a member's address: switched, and punted through the members' meter"),
                       Band("FOR_US", 100, "replies to the controller's probes (sent to one of our MACs)"),
                       DEFAULT),
                   goes_to=("arp_punt", "member_arp_punt"),
                   matches=frozenset({"eth_type", "eth_src", "eth_dst", OWNED_REG.field, CLAIM_REG.field,
                                      NETWORK_REG.field, VLAN_REG.field}) | ARP_FIELDS,
                   sets=frozenset({"eth_src", "eth_dst", "in_port", "vlan_vid"}) | ARP_FIELDS)
ARP_PUNT = Table(13, "arp_punt", "send ARP to the controller, through the ARP meter", (DEFAULT,))
MEMBER_ARP_PUNT = Table(14, "member_arp_punt", "send members' ARP to the controller, through their own meter",
                        (DEFAULT,))
MONITOR = Table(15, "monitor", "replies to health probes (sent to the monitor address): to the controller, "
                "through the monitor meter", (DEFAULT,))
ECHO = Table(16, "echo", "an echo request to one of the balancer's addresses: the reply, in place", (
    Band("REPLY", 300, "to one of the balancer's addresses"),
    DEFAULT),
    matches=frozenset({OWNED_REG.field, VLAN_REG.field}),
    sets=frozenset({"eth_src", "eth_dst", "ipv4_src", "ipv4_dst", "icmpv4_type", "in_port", "vlan_vid"}))
DSR_MOVED = Table(17, "dsr_moved", "dsr, a slot that changed owner within the grace period: a new connection "
                  "goes to the new owner and is pinned; another packet to its pin, or to the old owner", (
                      Band("NEW", 300, "a SYN: pin it to the new owner (if the pins' limit is reached: the old owner)"),
                      Band("OTHER", 200, "any other packet: its pin, else the old owner"),),
                  goes_to=("dsr_conn", "dsr_old"),
                  matches=frozenset({"eth_type", "tcp_flags"}), sets=frozenset({PIN_REG.field}))
DSR_CONN = Table(18, "dsr_conn", "dsr: the pins learned in dsr_moved, one per connection that began within a "
                 "grace period (bounded: see DSR_PIN_LIMIT)", (
                     Band("PIN", 300, "a connection's pin"),),
                 matches=frozenset({"eth_type"}) | L3 | L4, sets=frozenset({PIN_REG.field}))
DSR_OLD = Table(19, "dsr_old", "dsr, moved slot: a packet with a pin goes to it, one without to the old owner", (
    Band("LEARNED", 300, "a new connection just pinned: the new owner"),
    Band("UNPINNED", 200, "no pin: the old owner"),
    Band("PINNED", 100, "the pin's host"),),
    goes_to=("dsr_deliver",), matches=frozenset({PIN_REG.field}), sets=frozenset({HOST_REG.field}))
CONNTRACK = Table(20, "conntrack", "after the conntrack lookup: a VIP's new connections are spread over its "
                  "slots; established and related traffic goes on by direction", (
                      Band("VIP", 300, "a VIP's new connections (its SYNs, or datagrams): spread"),
                      Band("NOT_OURS_TO_US", 251, "not to a VIP and no connection of ours, sent to one of the "
                                                  "balancer's MACs: dropped, never flooded"),
                      Band("NOT_OURS", 250, "not to a VIP and no connection of ours (a member talking to someone "
                                            "directly, an unrelated ICMP error): switched"),
                      Band("STRAY", 240, "a TCP packet to a VIP, new to conntrack but no SYN: refused"),
                      Band("UNSERVED", 230, "anything else new to a VIP (e.g. a fragment it cannot tell apart): dropped"),
                      Band("COMMITTED", 200, "a packet of a connection committed already, still new to conntrack "
                                             "(a retransmitted SYN, a second datagram)"),
                      Band("CT_STATE", 100, "established and related traffic, by direction"),
                      DEFAULT),
                  goes_to=("slot", "commit", "dsr_deliver", "to_member", "to_client", "reject"),
                  matches=frozenset({"eth_type", "eth_dst", "ip_proto", "tcp_flags", VIP_REG.field,
                                     VLAN_REG.field}) | CT_FIELDS,
                  sets=frozenset({SLOT_REG.field, MEMBER_REG.field, "vlan_vid"}))
SLOT = Table(21, "slot", "new connections of multipath VIPs (UDP, source_ip): the hashed slot's member", (
    Band("VIP", 300, "one slot of a VIP"),
    DEFAULT),
    goes_to=("commit", "dsr_deliver", "dsr_moved"),
    matches=frozenset({VIP_REG.field, SLOT_REG.field}),
    sets=frozenset({MEMBER_REG.field, HOST_REG.field}))
COMMIT = Table(22, "commit", "a new connection and its member: commit it with destination NAT (one-arm: and "
               "source NAT from the pool), recording the VIP, the client's MAC and port, the member's host", (
                   Band("TTL", 310, "a routed VIP's packet whose TTL runs out here: to the controller (through the reject "
                                "meter), which answers ICMP time exceeded; nothing is committed"),
                   Band("MEMBER", 300, "one member of a VIP (its packet count: the member's new connections)"),
                   DEFAULT),
               goes_to=("to_member",),
               matches=frozenset({"eth_type", "nw_ttl", VIP_REG.field, MEMBER_REG.field}),
               sets=CT_WRITES)
DSR_DELIVER = Table(24, "dsr_deliver", "dsr: a packet for a member, to locate (its packet count: the member's "
                    "packets; its SYN flow's: its new connections)", (
                        Band("SYN", 310, "a member's new connection"),
                        Band("MEMBER", 300, "a member's packets"),
                        DEFAULT),
                    goes_to=("locate",),
                    matches=frozenset({"eth_type", "ip_proto", "tcp_flags", VIP_REG.field, HOST_REG.field}))
TO_MEMBER = Table(30, "to_member", "a request of a VIP connection, NATed to its member: the VIP's source MAC, "
                  "the member's host from ct_label", (
                      Band("HAIRPIN", 300, "a member's own connection to a routed VIP, hashed back to it: to hairpin"),
                      Band("ROUTED", 200, "a routed VIP's request: one hop"),
                      Band("DELIVER", 100, "a one-arm VIP's request"),),
                  goes_to=("locate", "hairpin"),
                  matches=frozenset({"eth_type", "ipv4_src", "ipv4_dst", "ct_mark", NETWORK_REG.field}),
                  sets=frozenset({"eth_src", "in_port", HOST_REG.field}))
LOCATE = Table(31, "locate", "a packet for the host in reg2: its MAC and switch port, tagged as its network is "
               "there (one flow per host)", (
    Band("HOST", 300, "where one host is"),
    DEFAULT),
    matches=frozenset({HOST_REG.field}), sets=frozenset({"eth_dst", "vlan_vid", "in_port"}))
HAIRPIN = Table(32, "hairpin", "routed: a member reaching itself through its VIP gets the VIP as its peer "
                "(source NAT in the pool zone), so its replies come back through the balancer", (
                    Band("VIP", 300, "one routed VIP"),
                    DEFAULT),
                goes_to=("to_member",), matches=frozenset({"ct_mark"}), sets=CT_WRITES)
TO_CLIENT = Table(40, "to_client", "deliver an un-NATed reply back where the request came from (ct_label): "
                  "its MAC, switch port and VLAN tag", (
    Band("ROUTED", 200, "a routed VIP's reply: one hop"),
    Band("DELIVER", 100, "a one-arm VIP's reply"),),
    goes_to=("egress",),
    matches=frozenset({"ct_mark"}), sets=frozenset({"eth_src", "eth_dst", "in_port", PORT_REG.field, VLAN_REG.field}))
EGRESS = Table(41, "egress", "out the port in reg0, with the 802.1Q tag reg10 holds", (
    Band("OUT", 100, "tagged or untagged, as reg10 says"),),
    matches=frozenset({VLAN_REG.field}), sets=frozenset({"vlan_vid"}))
REJECT = Table(50, "reject", "a new connection the balancer refuses (no live member, or a port it does not "
               "serve): to the controller, which answers a TCP reset or an ICMP port unreachable (through the "
               "reject meter)", (DEFAULT,))

TABLES = (INGRESS, CLASSIFY, ARP, STANDBY_TABLE, OWNED, ARP_ANSWER, ARP_PUNT, MEMBER_ARP_PUNT, MONITOR, ECHO, DSR_MOVED, DSR_CONN, DSR_OLD,
          CONNTRACK, SLOT, COMMIT, DSR_DELIVER, TO_MEMBER, LOCATE, HAIRPIN, TO_CLIENT, EGRESS, REJECT)
TABLE_BY_ID = {t.id: t for t in TABLES}
TABLE_BY_NAME = {t.name: t for t in TABLES}

# ------------------------------------------------------------------ conntrack

# Each network has two zones: that of every VIP connection's destination NAT (request and reply
# must share it), and that of source NAT (one-arm's pool; routed hairpin's VIP): a connection has
# one entry in each it uses, in the zones of its members' network, so identical 5-tuples of two
# tenants never meet. A one-arm request passes both zones in one pass (no recirculation between
# them). The default network's (id 0) are 64 and 65.
LB_ZONE = 64
SNAT_ZONE = 65


def lb_zone(network_id):
    return LB_ZONE + 2 * network_id


def snat_zone(network_id):
    return SNAT_ZONE + 2 * network_id


# ct_mark: the VIP id, with VIP_ROUTED for a routed VIP. ct_label: where the request came from (the
# reply goes back to that MAC, port and VLAN tag without any L2 learning), the low 24 bits of the
# VIP's MAC (its network and redundancy group) and the member's host id (where requests go).
CT_LABEL_CLIENT_MAC = (0, 48)    # bits [0..47]: eth_src of the request (client or its router)
CT_LABEL_MAC = (48, 24)          # bits [48..71]: the low 24 bits of the VIP's MAC (mac_suffix)
CT_LABEL_CLIENT_PORT = (72, 16)  # bits [72..87]: the switch port the request came in on
CT_LABEL_CLIENT_VLAN = (88, 16)  # bits [88..103]: its 802.1Q tag there (VLAN_PRESENT | id; 0: none)
CT_LABEL_HOST = (104, 24)        # bits [104..127]: the member's host id


def ct_label(suffix, host):
    """The part of a connection's ct_label known when it is committed (the rest is moved in):
    `suffix` the VIP's MAC's low 24 bits, `host` the member's host id."""
    return (suffix << CT_LABEL_MAC[0]) | (host << CT_LABEL_HOST[0])


# dsr: how long after a slot changes owner its old owner keeps the connections that began before
# (the default of [lbctl] dsr_grace), and at most how many pins the switch learns meanwhile.
DSR_GRACE = 300
DSR_PIN_LIMIT = 65536
DSR_FIN_IDLE_TIMEOUT = 5

# ------------------------------------------------------------------ cookies
# A flow's cookie names its owner. High 32 bits: the VIP id, or HOSTS (the low half is then a host
# id: where the host is, its ARP, its replies' fragments), or NETWORKS (the low half is a network
# id: the balancer's own addresses there, gateways and the monitor address), or PINS (dsr's learned
# pins). Low 32 bits of a VIP's flow: the member id, 0 for the VIP as a whole. Cookie 0: the
# pipeline's own flows.
# One VIP: cookie=0x<id>00000000/0xffffffff00000000; one host: 0xffffffff0000000d (host id 13).

COOKIE_OWNER_SHIFT = 32
COOKIE_OWNER_MASK = 0xFFFFFFFF00000000
COOKIE_ALL_BITS = 0xFFFFFFFFFFFFFFFF
PIPELINE_COOKIE = 0
HOSTS = 0xFFFFFFFF
NETWORKS = 0xFFFFFFFE
PINS = 0xFFFFFFFD       # dsr's learned pins (all VIPs': their learn limit counts them together)
MAX_VIP_ID = VIP_ROUTED - 1   # VIP ids leave the ct_mark bit VIP_ROUTED free


def cookie(vip_id, member_id=0):
    return (vip_id << COOKIE_OWNER_SHIFT) | member_id


def host_cookie(host_id):
    return cookie(HOSTS, host_id)


def network_cookie(network_id):
    return cookie(NETWORKS, network_id)


@dataclass(frozen=True)
class Owner:
    """Who a cookie says a flow belongs to: kind "vip" (vip id, member id or 0), "host" (host id),
    "network" (network id), "pins" or "pipeline"."""
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
    if high == PINS:
        return Owner("pins")
    return Owner("vip", high, low)


PINS_COOKIE = cookie(PINS)


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
REJECT_METER = 3     # bounds the packet-ins of refused connections (no live member, a port not served)
MONITOR_METER = 4    # bounds the packet-ins of replies to health probes

# ------------------------------------------------------------------ the balancer's MACs
# One per network and redundancy group, as an HA cluster needs (all addresses of a group on a
# network move together with one MAC) and tenant networks ask (each its own). Layout
# 02:6c:CC:NN:NG:GG -- 02: locally administered unicast, 6c ("l"), CC the cluster id (two lbctl
# deployments on one LAN pick different ones), NNN the network id (12 bits), GGG the redundancy
# group (12 bits). Derived from configuration only, so stable across restarts.
MAC_PREFIX = "02:6c"
MAX_NETWORK_ID = 0xFFF
MAX_REDUNDANCY_GROUP = 0xEFF
NODE_GROUP = 0xF00    # groups 0xF00 + i: the MACs of balancer switch i of a cluster itself (its ARP probes)


def mac_suffix(network_id, redundancy_group):
    """The low 24 bits of the balancer's MAC on a network for a redundancy group."""
    return (network_id << 12) | redundancy_group


def suffix_group(suffix):
    """The redundancy group in a MAC's low 24 bits (mac_suffix)."""
    return suffix & 0xFFF


def own_mac(cluster_id, network_id, redundancy_group):
    suffix = mac_suffix(network_id, redundancy_group)
    return "%s:%02x:%02x:%02x:%02x" % (MAC_PREFIX, cluster_id, suffix >> 16, (suffix >> 8) & 0xFF, suffix & 0xFF)


def own_mac_match(cluster_id):
    """(value, mask) matching every MAC of this cluster: its prefix, whose low 24 bits the network
    and the redundancy group fill in (flows set it, then move mac_suffix into eth_src[0..23])."""
    return own_mac_base(cluster_id), "ff:ff:ff:00:00:00"


def own_mac_base(cluster_id):
    return "%s:%02x:00:00:00" % (MAC_PREFIX, cluster_id)


def is_own_mac(mac):
    return mac.lower().startswith(MAC_PREFIX + ":")
