"""The pipeline, declared once: tables, priority bands, cookie layout, conntrack zone and the
conntrack mark/label layout. Every other module refers to these names, never to bare numbers.

Reading order of a packet (see README "Reading flow dumps"):

  classify (0) --ARP--> arp (10) --copy, rate-limited by a meter--> arp_punt (11) --> controller
      |  TCP/UDP to a VIP, or from a member's service port
      v
  ct(zone=LB_ZONE, nat) --> conntrack (20) --new--> group:<vip> --bucket: ct(commit, dnat)--> to_member (30)
                               |--established, request direction--> to_member (30) --> locate (31)
                               |--established, reply direction-----> to_client (40)
  TCP, UDP, ICMP reply/unreachable to the monitor address --> monitor (13) --meter--> controller
  anything else: NORMAL (plain L2 switching, never through conntrack)
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    id: int
    name: str
    purpose: str


# OpenFlow's goto_table only goes forward: a table's flows may go to higher-numbered tables only
# (conntrack's recirculation, ct(table=N), and resubmit may go anywhere).


CLASSIFY = Table(0, "classify", "send VIP traffic and member replies through conntrack; ARP to arp; rest NORMAL")
ARP = Table(10, "arp", "answer ARP for the balancer's addresses; switch other ARP and copy it to arp_punt")
ARP_PUNT = Table(11, "arp_punt", "send ARP to the controller, through the ARP meter")
MEMBER_ARP_PUNT = Table(12, "member_arp_punt", "send members' ARP to the controller, through their own meter")
MONITOR = Table(13, "monitor", "replies to health probes (sent to the monitor address): to the controller, "
                "through the monitor meter")
REJECT = Table(50, "reject", "a new connection to a VIP with no live member: to the controller, which answers "
               "a TCP reset or an ICMP port unreachable (through the reject meter)")
DSR_CONN = Table(15, "dsr_conn", "dsr: one learned flow per connection, pinning it to its member")
DSR = Table(16, "dsr", "dsr: a connection not pinned yet is spread; a pinned one goes to its member")
DSR_PIN = Table(17, "dsr_pin", "dsr: a new connection learns its pin, then goes to its member")
CONNTRACK = Table(20, "conntrack", "after the conntrack lookup: new VIP connections to the VIP's select group")
SLOT = Table(21, "slot", "new connections of multipath VIPs (UDP, source_ip): the hashed slot's member")
SNAT = Table(22, "snat", "one-arm: requests get a source address and port from the VIP's pool")
UNSNAT = Table(23, "unsnat", "one-arm: replies to a pool address, un-SNATed, go to the VIP's conntrack")
TO_MEMBER = Table(30, "to_member", "a request of a VIP connection, NATed to a member: the VIP's source MAC")
LOCATE = Table(31, "locate", "a packet for the host in reg2: its MAC and switch port (one flow per host)")
TO_CLIENT = Table(40, "to_client", "deliver an un-NATed reply back where the request came from")

TABLES = (CLASSIFY, ARP, ARP_PUNT, MEMBER_ARP_PUNT, MONITOR, DSR_CONN, DSR, DSR_PIN, CONNTRACK, SLOT, SNAT, UNSNAT, TO_MEMBER,
          LOCATE, TO_CLIENT, REJECT)


class Priority:
    """Priority bands, by table. Higher wins; a name says which kind of flow uses its band."""
    POOL = 350          # classify: replies to a one-arm SNAT pool address (before the member catch)
    MONITOR = 320       # classify: replies to health probes (before the member catch, which they also match)
    DSR_SYN = 310       # dsr: a SYN not pinned yet (a datapath flow of its own: see flows/dsr.py)
    MEMBER_NEW = 310    # to_member: a connection's first packet (its packet count: new connections)
    VIP = 300           # a VIP's own flows (match on its address/port, or on its ct_mark)
    STRAY = 290         # conntrack: a TCP packet to a VIP, new to conntrack but no SYN: refused
    MEMBER = 300        # a member's service endpoint (reply catch, delivery)
    HOST = 300          # locate: where one host is
    ARP_CLAIM = 250     # arp: someone else's ARP that claims one of our addresses: controller only
    ARP_TO_TABLE = 200  # classify: ARP goes to the arp table
    ARP_REPLY = 200     # arp: answer a request for one of our addresses
    ARP_MEMBER = 150    # arp: ARP from a member's address, punted through the members' meter
    ARP_FOR_US = 100    # arp: replies to the controller's probes (sent to one of our MACs)
    CT_STATE = 100      # conntrack: established traffic by direction
    DEFAULT = 0         # each table's last resort (NORMAL, or drop)


# The conntrack zone every VIP connection lives in (request and reply must share it for NAT), and
# the zone of one-arm VIPs' source NAT: a connection has one entry in each.
LB_ZONE = 64
SNAT_ZONE = 65

# ct_mark holds the VIP id of a connection; ct_label holds where the request came from, so the
# reply goes back to that MAC and port without any L2 learning.
CT_LABEL_CLIENT_MAC = (0, 48)    # bits [0..47]: eth_src of the request (client or its router)
CT_LABEL_CLIENT_PORT = (64, 32)  # bits [64..95]: the switch port the request came in on
PORT_REG = "reg0"                # scratch register used to output to the recorded port
ADDRESS_REG = "reg3"             # scratch register used to swap addresses in an echo reply
SLOT_REG = "reg1"                # the slot a multipath VIP's new connection hashed to
HOST_REG = "reg2"                # the member a packet goes to (its IPv4 address), for locate

# Cookie layout: high 32 bits the VIP id, low 32 bits the member id (0: the VIP as a whole).
# Cookie 0 is the pipeline's own flows. One VIP: cookie=0x<id>00000000/0xffffffff00000000.
# Flows about a host rather than a VIP (where it is, its ARP) carry HOSTS_VIP_ID in the high half
# and the host's IPv4 address in the low half: 0xffffffffc612000d is host 198.18.0.13.
COOKIE_VIP_SHIFT = 32
COOKIE_VIP_MASK = 0xFFFFFFFF00000000
PIPELINE_COOKIE = 0
HOSTS_VIP_ID = 0xFFFFFFFF


def cookie(vip_id, member_id=0):
    return (vip_id << COOKIE_VIP_SHIFT) | member_id


def ipv4_int(ipv4):
    return int.from_bytes(bytes(int(o) for o in ipv4.split(".")), "big")


def ipv4_text(value):
    return ".".join(str(b) for b in value.to_bytes(4, "big"))


def host_cookie(ipv4):
    return cookie(HOSTS_VIP_ID, ipv4_int(ipv4))


# dsr: how long a connection's learned pin lives without packets, and after its FIN or RST.
DSR_IDLE_TIMEOUT = 300
DSR_FIN_IDLE_TIMEOUT = 5


def vip_of_cookie(value):
    return value >> COOKIE_VIP_SHIFT


def group_id(vip_id):
    """Each VIP owns one select group, numbered like the VIP."""
    return vip_id


# The meters that bound ARP packet-ins: a storm of ARP cannot starve the controller, and a storm
# from clients cannot crowd out the ARP of members (their moves must be seen).
ARP_METER = 1
MEMBER_ARP_METER = 2
REJECT_METER = 3     # bounds the packet-ins of connections refused for want of a live member
MONITOR_METER = 4    # bounds the packet-ins of replies to health probes

# The balancer's own MACs: one per redundancy group, as an HA cluster needs (all addresses of a
# group move together with one MAC). Layout 02:6c:62:CC:GG:GG -- 02: locally administered unicast,
# 6c:62 ("lb"), CC the cluster id (two lbctl deployments on one LAN pick different ones), GGGG
# the redundancy group. Derived from configuration only, so stable across restarts.
MAC_PREFIX = "02:6c:62"


def own_mac(cluster_id, redundancy_group):
    return "%s:%02x:%02x:%02x" % (MAC_PREFIX, cluster_id, redundancy_group >> 8, redundancy_group & 0xFF)


def own_mac_match(cluster_id):
    """(value, mask) matching every MAC of this cluster."""
    return ("%s:%02x:00:00" % (MAC_PREFIX, cluster_id), "ff:ff:ff:ff:00:00")


def is_own_mac(mac):
    return mac.lower().startswith(MAC_PREFIX + ":")
