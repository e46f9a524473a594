"""A switch in memory that walks packets through lbctl's flows, so that what the pipeline does to a
packet (which port it leaves by, rewritten how) is unit-tested without Open vSwitch. The
integration tests still run the real switch; this one answers in microseconds and names the flows
a packet matched when it goes astray.

It models, in OpenFlow 1.3 / Open vSwitch 3.1 terms:
- tables: the highest-priority matching flow wins (two matching flows of that priority are an
  error: Open vSwitch would pick one arbitrarily); masked matches (MACs, ct_state, tcp_flags,
  vlan_vid, nw_ttl, ip_frag...); meter, then apply-actions in order, then goto_table; a table with
  no match does nothing (the packet is dropped, or a resubmit returns to where it was);
- flow, group and meter mods as `flows.reconcile.Change`s, refused where Open vSwitch refuses them:
  a goto_table backwards; a match field without its prerequisites; an action whose fields'
  prerequisites the match does not state (set_field, move), a ct or dec_ttl in a flow that does not
  match eth_type=ip; ct_mark or ct_label written outside a ct's exec, anything else written in one;
  exec or a NAT range in a ct without commit; a missing group or meter; a group added twice; the
  VLAN actions below. Deleting a group or meter deletes the flows that use it;
- one 802.1Q tag, in vlan_vid as OpenFlow has it (0: none; 0x1000 | the VLAN id): push_vlan (VLAN
  id 0), pop_vlan, and set_field or 12-bit moves of the VLAN id. Refused as Open vSwitch refuses
  them in OpenFlow 1.3: a pop_vlan or a set_field of vlan_vid in a flow where neither the match
  (vlan_vid with the present bit) nor a push_vlan before it ensures a tag, a set_field of vlan_vid
  without the present bit, a third tag, a move of more than 12 bits. Open vSwitch takes a move
  into vlan_vid in any flow but writes nothing to a packet with no tag: walking one there is an
  error, as are a pop_vlan of a packet with no tag (a resubmit popped it first?) and a push_vlan
  onto a tagged one (two tags are not modelled);
- outputs to a port, IN_PORT, NORMAL, CONTROLLER (with the table that sent it) and FLOOD, and to a
  port held in a register. An output to the packet's in_port is dropped, as Open vSwitch does,
  unless in_port was set to something else first (set_field:0->in_port: a hairpin); in_port so
  set lasts until the packet is recirculated;
- select groups and multipath: the choice is `switch.choose(group_or_multipath, packet)`, by
  default a deterministic hash of the 5-tuple the same both ways (of the addresses alone for a
  fragment, of the source address for multipath on nw_src), so a test can force a bucket or slot.
  A bucket runs on a copy of the packet and is an OpenFlow action set: it may hold at most one
  output, group, resubmit or ct (Open vSwitch would silently run only one), and no learn or
  multipath;
- conntrack per zone, for TCP, UDP and ICMP echo (see `Conntrack`): a lookup sets ct_state (+trk,
  +new until a reply is seen, then +est; +rpl for replies; +inv for a TCP packet that cannot open
  a connection, such as a SYN-ACK, or an echo reply nobody asked for), ct_mark and ct_label; commit
  creates the entry, its mark and label written by `exec` (set_field of the whole value, moves
  into bit ranges, reading the packet's own fields and ct_label); NAT to the first free address
  and port of a range (Open vSwitch picks by hash: see `_translations`), and `nat` alone applying
  an entry's NAT in the packet's direction.
  `ct(table=N)` forks the packet: a copy continues in table N with the connection's state
  (registers kept, in_port restored); the packet itself goes on with the next action as it was.
  A ct without table rewrites the packet itself (its NAT) and the next action sees the result, so
  `ct(zone=A,nat),ct(zone=B,nat,table=T)` runs two lookups in one pass: the second sees the
  first one's NAT, and only the last one's state reaches table T. After any ct the packet that
  goes on in the same pass is untracked (Open vSwitch clears its ct fields), and a table lookup
  after a ct without table that rewrote it is an error: Open vSwitch would match the packet as it
  was before that NAT while the datapath holds the rewritten one;
- ICMP errors (destination unreachable, source quench, redirect, time exceeded, parameter problem;
  `icmp_error`) quoting a datagram: conntrack relates one to the connection whose tuple, either
  way, is the quoted datagram's reversed and was sent by the error's destination (+rel, +rpl in
  the reply direction, the connection's mark and label; +inv for any other), and its NAT
  rewrites the error's outer addresses and the quoted tuple as Open vSwitch does;
- IP fragments (`fragment`): ip_frag as Open vSwitch's nw_frag (FRAG_ANY, FRAG_LATER). In the
  bridge's normal fragment mode every fragment's L4 ports (and ICMP type and code) read 0 to flows
  and a later fragment has no TCP flags. Open vSwitch's conntrack holds fragments until their
  datagram is whole, tracks the reassembled datagram, then lets the original fragments go on with
  its state and NAT; the fake does not reassemble, it models that result: each fragment is tracked
  with its datagram's 5-tuple (which a fragment carries along for that) and NAT rewrites its
  addresses, and the first fragment's ports. A later fragment leaves with no L4 fields;
- learn (the dsr pins): the learned flow matches the fixed fields and the packet's own values of
  the copied ones, and loads a constant or (a field's name) the value that field had; with a
  limit, nothing is learned while the target table holds that many flows of the learned cookie
  (Open vSwitch counts per table and cookie) and the packet goes on; register and header moves and
  loads at any offset and width (MACs and addresses as numbers); dec_ttl (a TTL of 1 or less stops
  the current actions: the packet is not forwarded); resubmit;
- counters: packets per flow and per meter.

It does not model: idle or hard timeouts (learned flows stay), rate limiting by meters, TCP
state beyond "a reply was seen" (FIN and RST close nothing; entries stay until the test ends),
conntrack's zone limits, ICMP echo ids (an echo's connection is its two addresses), the packet-in
dec_ttl may send, conntrack's reassembly itself (a fragment is tracked alone, as if its datagram
were whole: one whose siblings never come, or smaller than ipf's minimum, still goes through),
a second VLAN tag and VLAN priorities (PCP), IPv6, NORMAL's own L2 learning (a packet output to
NORMAL is simply reported as such), write-actions, packet sizes and the payload.
"""
import functools
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, List

from flows import pipeline
from flows.ir import (CONTROLLER, FLOOD, IN_PORT, NORMAL, Ct, DecTtl, Flow, Group, Learn, Move, Multipath,
                      Output, OutputReg, PopVlan, PushVlan, Resubmit, SelectGroup, SetField, match)
from flows import addresses
from flows.protocols import (CT_EST, CT_INV, CT_NEW, CT_REL, CT_RPL, CT_TRK, ETH_TYPE_ARP, ETH_TYPE_IP,
                             ETH_TYPE_IPV6, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, TCP_ACK, TCP_FIN,
                             TCP_RST, TCP_SYN, VLAN_ID_MASK, VLAN_PRESENT)
from flows.protocols import IP_PROTO_ICMP as ICMP
from flows.protocols import IP_PROTO_TCP as TCP
from flows.protocols import IP_PROTO_UDP as UDP

BROADCAST = "ff:ff:ff:ff:ff:ff"
MAX_DEPTH = 64   # nested lookups (resubmit, goto, recirculation) before a pipeline counts as looping

FRAG_ANY, FRAG_LATER = 1, 2   # ip_frag bits, as Open vSwitch's nw_frag: a fragment; not the first one
ICMP_FRAG_NEEDED = 4          # destination unreachable's code for "fragmentation needed" (path MTU)
# The ICMP types Open vSwitch's conntrack relates to the connection of the datagram they quote.
ICMP_ERRORS = frozenset({ICMP_DEST_UNREACH, 4, 5, 11, 12})

# Every field a packet may carry, with its width and how it is written: "mac" and "ipv4" fields
# hold text ("0a:00:00:00:00:11", "198.18.0.11"), the others integers.
_HEADERS = {
    "eth_src": (48, "mac"), "eth_dst": (48, "mac"), "eth_type": (16, "int"), "vlan_vid": (13, "int"),
    "arp_op": (16, "int"), "arp_spa": (32, "ipv4"), "arp_tpa": (32, "ipv4"),
    "arp_sha": (48, "mac"), "arp_tha": (48, "mac"),
    "ip_proto": (8, "int"), "ipv4_src": (32, "ipv4"), "ipv4_dst": (32, "ipv4"), "nw_ttl": (8, "int"),
    "ip_frag": (8, "int"),
    "tcp_src": (16, "int"), "tcp_dst": (16, "int"), "tcp_flags": (12, "int"),
    "udp_src": (16, "int"), "udp_dst": (16, "int"),
    "icmpv4_type": (8, "int"), "icmpv4_code": (8, "int"),
}
_METADATA = {"in_port": (32, "int"), "ct_state": (32, "int"), "ct_zone": (16, "int"),
             "ct_mark": (32, "int"), "ct_label": (128, "int"),
             **{"reg%d" % i: (32, "int") for i in range(16)}}
FIELDS = {**_HEADERS, **_METADATA}
# Fields of which a move, an output or a multipath names fewer bits than a match sees: a tag's
# VLAN id alone (Open vSwitch's OXM_OF_VLAN_VID; its present bit is push_vlan's and pop_vlan's).
_SUBFIELD_BITS = {"vlan_vid": VLAN_ID_MASK.bit_length()}
# An ICMP error's quoted datagram (a ConnTuple: its 5-tuple as it was sent). Part of the packet,
# rewritten by conntrack's NAT, but no field a flow can match.
QUOTED = "quoted"

_CT_FIELDS = ("ct_state", "ct_zone", "ct_mark", "ct_label")
_READ_ONLY = frozenset({"ct_state", "ct_zone"})
_EXEC_ONLY = frozenset({"ct_mark", "ct_label"})   # written by a commit's exec, and only there
# What a fragment's flows see as 0 (Open vSwitch's normal fragment mode), and what a later
# fragment lacks altogether (it has no L4 header).
_PORTS = frozenset({"tcp_src", "tcp_dst", "udp_src", "udp_dst", "icmpv4_type", "icmpv4_code"})
_L4 = _PORTS | {"tcp_flags"}

# What a field needs the match to say first (Open vSwitch refuses a flow that matches, sets or
# moves the field otherwise); a prerequisite may have its own.
_PREREQUISITES = {
    **dict.fromkeys(("ip_proto", "ipv4_src", "ipv4_dst", "nw_ttl", "ip_frag"), ("eth_type", ETH_TYPE_IP)),
    **dict.fromkeys(("arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"), ("eth_type", ETH_TYPE_ARP)),
    **dict.fromkeys(("tcp_src", "tcp_dst", "tcp_flags"), ("ip_proto", TCP)),
    **dict.fromkeys(("udp_src", "udp_dst"), ("ip_proto", UDP)),
    **dict.fromkeys(("icmpv4_type", "icmpv4_code"), ("ip_proto", ICMP)),
}
_TABLE_NAMES = {t.id: t.name for t in pipeline.TABLES}
# Pseudo-key of a packet that a ct without table rewrote in this pass (see the module's docstring).
_REWRITTEN = "(rewritten by ct in this pass)"


class Refused(Exception):
    """A flow, group or meter mod that Open vSwitch would refuse with an OpenFlow error."""


class PipelineError(Exception):
    """The flows ask for something no switch can do with this packet (an unknown field, two flows
    of one priority matching it, a loop, an absent group...)."""


# ---------------------------------------------------------------- field values


def _bits(name):
    if name not in FIELDS:
        raise PipelineError("unknown field %r" % name)
    return FIELDS[name][0]


@functools.lru_cache(maxsize=1 << 14)
def _to_int(name, value):
    kind = FIELDS[name][1] if name in FIELDS else None
    if isinstance(value, int):
        return value
    if kind == "mac":
        return int(value.replace(":", ""), 16)
    if kind == "ipv4":
        return addresses.to_int(value)
    raise PipelineError("%s: %r is not a value of this field" % (name, value))


def _from_int(name, value):
    kind = FIELDS[name][1]
    if kind == "mac":
        text = "%012x" % value
        return ":".join(text[i:i + 2] for i in range(0, 12, 2))
    if kind == "ipv4":
        return addresses.text(value)
    return value


def _normal(name, value):
    """A value as a packet holds it: lower-case MACs, dotted IPv4 text, integers."""
    return _from_int(name, _to_int(name, value) & ((1 << _bits(name)) - 1))


def _seen(packet, name):
    """A field's value as flows see it: a fragment's L4 ports read 0, a later fragment's TCP flags too."""
    frag = packet.get("ip_frag", 0)
    if (frag & FRAG_ANY and name in _PORTS) or (frag & FRAG_LATER and name in _L4):
        return 0
    return packet[name]


def _subfield_bits(name):
    return _SUBFIELD_BITS.get(name) or _bits(name)


def _read_bits(packet, name, ofs, n_bits):
    if ofs + n_bits > _subfield_bits(name):
        raise PipelineError("%s has no bits %d..%d" % (name, ofs, ofs + n_bits - 1))
    if name not in packet:
        raise PipelineError("the packet has no %s to read" % name)
    return (_to_int(name, _seen(packet, name)) >> ofs) & ((1 << n_bits) - 1)


def _write_bits(packet, name, ofs, n_bits, value):
    if ofs + n_bits > _subfield_bits(name):
        raise PipelineError("%s has no bits %d..%d" % (name, ofs, ofs + n_bits - 1))
    mask = ((1 << n_bits) - 1) << ofs
    old = _to_int(name, packet.get(name, 0))
    packet[name] = _from_int(name, (old & ~mask) | ((value << ofs) & mask))


def _matches(flow_match, packet):
    for name, wanted in flow_match:
        value, mask = wanted if isinstance(wanted, tuple) else (wanted, None)
        mask = (1 << _bits(name)) - 1 if mask is None else _to_int(name, mask)
        if name not in packet:
            if mask:
                return False
            continue
        if _to_int(name, _seen(packet, name)) & mask != _to_int(name, value) & mask:
            return False
    return True


def _missing_prerequisite(name, fields):
    """The first prerequisite (field, value) of field `name` that the match `fields` does not
    state, or None."""
    needed = _PREREQUISITES.get(name)
    while needed is not None:
        if fields.get(needed[0]) != needed[1]:
            return needed
        needed = _PREREQUISITES.get(needed[0])
    return None


def _flow_text(flow):
    return "table %d (%s), priority %d, cookie %#x" % (
        flow.table, _TABLE_NAMES.get(flow.table, "?"), flow.priority, flow.cookie)


def ct_state_text(bits):
    """ct_state as `ovs-ofctl` writes it: +new+trk."""
    names = ((CT_NEW, "new"), (CT_EST, "est"), (CT_REL, "rel"), (CT_RPL, "rpl"), (CT_INV, "inv"), (CT_TRK, "trk"))
    return "".join("+" + name for bit, name in names if bits & bit) or "-trk"


# ---------------------------------------------------------------- packets


def _endpoint(text):
    address, port = text.rsplit(":", 1)
    return address, int(port)


def _ipv4(src, dst, eth_src, eth_dst, proto, ttl):
    return {"eth_src": _normal("eth_src", eth_src), "eth_dst": _normal("eth_dst", eth_dst), "vlan_vid": 0,
            "eth_type": ETH_TYPE_IP, "ip_proto": proto, "ipv4_src": src, "ipv4_dst": dst, "nw_ttl": ttl,
            "ip_frag": 0}


def tcp(src, dst, eth_src, eth_dst, flags=TCP_SYN, ttl=64):
    """A TCP packet from `src` to `dst` ("address:port"), by default a SYN."""
    (src_ip, src_port), (dst_ip, dst_port) = _endpoint(src), _endpoint(dst)
    return dict(_ipv4(src_ip, dst_ip, eth_src, eth_dst, TCP, ttl), tcp_src=src_port, tcp_dst=dst_port, tcp_flags=flags)


def udp(src, dst, eth_src, eth_dst, ttl=64):
    """A UDP datagram from `src` to `dst` ("address:port")."""
    (src_ip, src_port), (dst_ip, dst_port) = _endpoint(src), _endpoint(dst)
    return dict(_ipv4(src_ip, dst_ip, eth_src, eth_dst, UDP, ttl), udp_src=src_port, udp_dst=dst_port)


def fragment(datagram, later=False):
    """A fragment of `datagram` (a packet from udp() or tcp()): the first one, or a later one. It
    keeps the datagram's ports for conntrack, which tracks the datagram as a whole; flows read them
    as 0, and a later fragment leaves with none."""
    return dict(datagram, ip_frag=FRAG_ANY | (FRAG_LATER if later else 0))


def icmp_echo(src, dst, eth_src, eth_dst, reply=False, ttl=64):
    """An ICMP echo request (or reply) between two addresses."""
    return dict(_ipv4(src, dst, eth_src, eth_dst, ICMP, ttl),
                icmpv4_type=ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST, icmpv4_code=0)


def icmp_error(src, dst, eth_src, eth_dst, about, kind=ICMP_DEST_UNREACH, code=ICMP_FRAG_NEEDED, ttl=64):
    """An ICMP error of type `kind` (3 destination unreachable, 11 time exceeded, 12 parameter
    problem) from `src` to `dst` about `about` (a packet from tcp(), udp() or icmp_echo(): the
    datagram that went from `dst`), which it quotes. By default "fragmentation needed", the error
    path MTU discovery lives on."""
    return dict(_ipv4(src, dst, eth_src, eth_dst, ICMP, ttl), icmpv4_type=kind, icmpv4_code=code,
                **{QUOTED: _conn_tuple(about)})


def arp_request(sender_mac, sender_ip, target_ip):
    """A broadcast ARP request: who has `target_ip`?"""
    sender_mac = _normal("eth_src", sender_mac)
    return {"eth_src": sender_mac, "eth_dst": BROADCAST, "vlan_vid": 0, "eth_type": ETH_TYPE_ARP, "arp_op": 1,
            "arp_sha": sender_mac, "arp_spa": sender_ip, "arp_tha": "00:00:00:00:00:00", "arp_tpa": target_ip}


def tagged(packet, vid):
    """`packet` with an 802.1Q tag of VLAN `vid`."""
    return dict(packet, vlan_vid=VLAN_PRESENT | vid)


def _headers(packet):
    """The packet as it leaves: its headers (a later fragment has no L4 ones) and any quoted datagram."""
    later = packet.get("ip_frag", 0) & FRAG_LATER
    return {name: value for name, value in packet.items()
            if (name in _HEADERS and not (later and name in _L4)) or name == QUOTED}


# ---------------------------------------------------------------- conntrack


@dataclass(frozen=True)
class ConnTuple:
    """One direction of a connection as conntrack keys it (ICMP echo: ports 0)."""
    proto: int
    src: str
    src_port: int
    dst: str
    dst_port: int

    def reverse(self):
        return ConnTuple(self.proto, self.dst, self.dst_port, self.src, self.src_port)

    def __str__(self):
        return "%s %s:%d -> %s:%d" % ({TCP: "tcp", UDP: "udp", ICMP: "icmp"}[self.proto],
                                      self.src, self.src_port, self.dst, self.dst_port)


@dataclass
class Connection:
    zone: int
    original: ConnTuple   # as the first packet came
    reply: ConnTuple      # as a reply comes (after NAT: from the member, or to the pool address)
    mark: int = 0
    label: int = 0
    replied: bool = False  # a reply was seen: the connection is established

    @property
    def dnat(self):
        """Whether the connection's NAT rewrites its requests' destination."""
        return (self.original.dst, self.original.dst_port) != (self.reply.src, self.reply.src_port)

    @property
    def snat(self):
        """Whether the connection's NAT rewrites its requests' source."""
        return (self.original.src, self.original.src_port) != (self.reply.dst, self.reply.dst_port)


def _conn_tuple(packet):
    """A packet's tuple as conntrack keys it (a fragment's: its datagram's), or None: not tracked
    by tuple (ARP, ICMP other than echo)."""
    proto = packet.get("ip_proto") if packet.get("eth_type") == ETH_TYPE_IP else None
    if proto in (TCP, UDP):
        prefix = "tcp" if proto == TCP else "udp"
        return ConnTuple(proto, packet["ipv4_src"], packet[prefix + "_src"],
                         packet["ipv4_dst"], packet[prefix + "_dst"])
    if proto == ICMP and packet.get("icmpv4_type") in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
        return ConnTuple(proto, packet["ipv4_src"], 0, packet["ipv4_dst"], 0)
    return None


def _is_icmp_error(packet):
    return (packet.get("eth_type") == ETH_TYPE_IP and packet.get("ip_proto") == ICMP
            and packet.get("icmpv4_type") in ICMP_ERRORS)


def _may_open(packet):
    """Whether a packet conntrack does not know may start a connection (Open vSwitch's userspace
    conntrack: not a SYN-ACK nor a nonsense flag set; not an echo reply)."""
    proto = packet["ip_proto"]
    if proto == TCP:
        flags = packet["tcp_flags"]
        if flags & TCP_SYN:
            return not flags & (TCP_ACK | TCP_RST | TCP_FIN)
        return bool(flags & (TCP_ACK | TCP_RST))
    if proto == ICMP:
        return packet["icmpv4_type"] == ICMP_ECHO_REQUEST
    return True


def _set_tuple(packet, tup):
    packet["ipv4_src"], packet["ipv4_dst"] = tup.src, tup.dst
    if tup.proto in (TCP, UDP):
        prefix = "tcp" if tup.proto == TCP else "udp"
        packet[prefix + "_src"], packet[prefix + "_dst"] = tup.src_port, tup.dst_port


def _nat_error(error, connection, is_reply):
    """Rewrite an ICMP error related to `connection` as Open vSwitch's conntrack NAT does: the
    outer address the connection's NAT rewrites in that direction (so an error from a router on
    the way back seems to come from the VIP), and the quoted datagram as the other side sent it."""
    original, reply = connection.original, connection.reply
    if is_reply:
        if connection.dnat:
            error["ipv4_src"] = original.dst
        elif connection.snat:
            error["ipv4_dst"] = original.src
        error[QUOTED] = original
    else:
        if connection.dnat:
            error["ipv4_dst"] = reply.src
        elif connection.snat:
            error["ipv4_src"] = reply.dst
        error[QUOTED] = reply


class Conntrack:
    """Connections by zone, each found by its original and its reply tuple."""

    def __init__(self):
        self._by_tuple = {}   # (zone, ConnTuple) -> Connection

    def connections(self, zone=None):
        """Every connection (of one zone), oldest first."""
        seen = {id(c): c for c in self._by_tuple.values() if zone is None or c.zone == zone}
        return list(seen.values())

    def find(self, zone, tup):
        """-> (connection, whether `tup` is its reply direction), or (None, False)."""
        found = self._by_tuple.get((zone, tup))
        if found is None:
            return None, False
        return found, tup != found.original

    def related(self, zone, error):
        """The connection an ICMP error is about, and whether the error travels in its reply
        direction: the connection one of whose tuples is the quoted datagram's reversed (the
        datagram went one way, its error comes back). (None, False): none, or the error's
        destination did not send the quoted datagram (Open vSwitch checks that too)."""
        quoted = error.get(QUOTED)
        if quoted is None or quoted.src != error["ipv4_dst"]:
            return None, False
        return self.find(zone, quoted.reverse())

    def open(self, zone, original, translations):
        """Commit a connection: the first of `translations` (the packet after NAT) whose reply
        tuple no connection of the zone uses yet. None: every one is taken."""
        for translated in translations:
            reply = translated.reverse()
            if (zone, reply) not in self._by_tuple:
                connection = Connection(zone, original, reply)
                self._by_tuple[(zone, original)] = self._by_tuple[(zone, reply)] = connection
                return connection
        return None


def _source_ports(port):
    """The source ports Open vSwitch tries for a connection from `port` when it has no range of
    its own to use: that port, then the next ones of its class (1-511, 600-1023 or 1024-65535),
    wrapping round, 128 at most."""
    if port == 0:   # ICMP (the fake keys it without an id)
        return [0]
    low, high = (1, 511) if port < 512 else (600, 1023) if port < 1024 else (1024, 65535)
    return [low + (port - low + i) % (high - low + 1) for i in range(min(128, high - low + 1))]


def _translations(tup, nat):
    """The tuples a new connection may be NATed to, in the order they are tried. Open vSwitch picks
    the address (and a range's first port) by a hash of the connection; the fake tries them in
    order, so a test sees the first free one. Like Open vSwitch (3.0 on), when every destination
    is taken a destination NAT rewrites the source port too, and a source NAT with no port range
    keeps the source port while it is free."""
    if nat is None or nat.kind is None:
        yield tup
        return
    low = addresses.to_int(nat.address)
    high = addresses.to_int(nat.address_max) if nat.address_max else low
    if nat.port is not None and tup.proto != ICMP:
        ports = range(nat.port, (nat.port_max or nat.port) + 1)
    else:
        ports = [tup.dst_port] if nat.kind == "dst" else _source_ports(tup.src_port)
    for address in range(low, high + 1):
        for port in ports:
            if nat.kind == "dst":
                yield replace(tup, dst=addresses.text(address), dst_port=port)
            else:
                yield replace(tup, src=addresses.text(address), src_port=port)
    if nat.kind == "dst":
        for port in _source_ports(tup.src_port)[1:]:
            yield replace(tup, dst=addresses.text(low), dst_port=ports[0], src_port=port)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Egress:
    """A packet leaving the switch."""
    port: object     # a port number (IN_PORT resolved), NORMAL, CONTROLLER or FLOOD
    packet: dict     # its header fields as it left
    table: int       # the table of the flow that output it (a packet-in's table_id)
    cookie: int


@dataclass(repr=False)
class Result:
    """What became of one packet: where its copies went, the flows it matched, and a trace (its
    text, also its repr, so that a failed assertion shows the packet's way)."""
    egress: List[Egress] = field(default_factory=list)
    matched: List[Flow] = field(default_factory=list)
    trace: List[str] = field(default_factory=list)

    @property
    def ports(self):
        return [e.port for e in self.egress]

    def single(self):
        """The one packet that left (LookupError, with the trace, if none or several did)."""
        if len(self.egress) != 1:
            raise LookupError("%d packets left, not 1:\n%s" % (len(self.egress), self))
        return self.egress[0]

    def __str__(self):
        return "\n".join(self.trace)

    __repr__ = __str__


# ---------------------------------------------------------------- the switch


def _symmetric_5tuple(packet):
    """What a symmetric hash covers: the 5-tuple, either way (a fragment's ports read 0, so its
    addresses alone count, as in Open vSwitch: all of a datagram's take one bucket or slot)."""
    tup = _conn_tuple(packet)
    if tup is None:
        return tuple(sorted((packet.get("ipv4_src"), packet.get("ipv4_dst"))))
    ends = sorted([(tup.src, tup.src_port), (tup.dst, tup.dst_port)])
    return (tup.proto, *ends)


def _hash(key):
    return zlib.crc32(repr(key).encode())


def default_choice(chooser, packet):
    """A bucket of a select group, or a multipath slot: a deterministic hash of the packet's
    5-tuple (the same both ways), or of its source address for multipath on nw_src."""
    if isinstance(chooser, Multipath):
        if chooser.fields == "nw_src":
            return _hash(packet["ipv4_src"]) % chooser.n_links
        if chooser.fields == "symmetric_l3l4+udp":
            return _hash(_symmetric_5tuple(packet)) % chooser.n_links
        raise PipelineError("multipath on %r is not modelled" % chooser.fields)
    point = _hash(_symmetric_5tuple(packet)) % sum(b.weight for b in chooser.buckets)
    for index, bucket in enumerate(chooser.buckets):
        if point < bucket.weight:
            return index
        point -= bucket.weight
    raise PipelineError("group %d has no bucket of positive weight" % chooser.group_id)


def _is_ip(fields):
    return fields.get("eth_type") in (ETH_TYPE_IP, ETH_TYPE_IPV6)


def _field_refusal(name, fields, writing=False, in_exec=False):
    """Why Open vSwitch refuses a flow whose match is `fields` to read (or write) field `name`."""
    if name not in FIELDS:
        return "no such field %r" % name
    needed = _missing_prerequisite(name, fields)
    if needed is not None:
        return "%s needs %s=%#x in the match" % (name, *needed)
    if writing and name in _READ_ONLY:
        return "%s cannot be written" % name
    if writing and (name in _EXEC_ONLY) != in_exec:
        return ("%s is written only in a ct's exec" % name if not in_exec
                else "a ct's exec writes only ct_mark and ct_label, not %s" % name)
    return None


def _bit_refusal(name, ofs, n_bits):
    if name in FIELDS and ofs + n_bits > _subfield_bits(name):
        return "%s has no bits %d..%d" % (name, ofs, ofs + n_bits - 1)
    return None


def _action_refusal(action, fields, in_exec=False):
    """Why Open vSwitch refuses `action` in a flow whose match is `fields` (None: it takes it)."""
    if isinstance(action, SetField):
        why = _field_refusal(action.field, fields, writing=True, in_exec=in_exec)
        if not why and action.field == "vlan_vid" and not action.value & VLAN_PRESENT:
            why = "set_field vlan_vid needs the present bit %#x in its value, not %#x" % (VLAN_PRESENT, action.value)
        return why
    if isinstance(action, Move):
        return (_field_refusal(action.src, fields) or _bit_refusal(action.src, action.src_ofs, action.n_bits)
                or _field_refusal(action.dst, fields, writing=True, in_exec=in_exec)
                or _bit_refusal(action.dst, action.dst_ofs, action.n_bits))
    if in_exec:
        return "a ct's exec holds only set_field and move, not %r" % (action,)
    if isinstance(action, DecTtl):
        return None if _is_ip(fields) else "dec_ttl needs eth_type=ip in the match"
    if isinstance(action, Ct):
        if not _is_ip(fields):
            return "ct needs eth_type=ip in the match"
        if not action.commit and (action.exec_ or (action.nat is not None and action.nat.kind is not None)):
            return "ct without commit takes no exec and no NAT range"
        for inner in action.exec_:
            why = _action_refusal(inner, fields, in_exec=True)
            if why:
                return "ct exec: " + why
        return None
    if isinstance(action, OutputReg):
        return _field_refusal(action.field, fields) or _bit_refusal(action.field, action.ofs, action.n_bits)
    if isinstance(action, Multipath):
        return _field_refusal(action.dst, fields, writing=True) or _bit_refusal(action.dst, 0, action.n_bits)
    if isinstance(action, Learn):
        learned = dict(action.fixed)   # a copied field's prerequisites must be among the fixed ones
        for name in action.copy:
            why = _field_refusal(name, fields) or _field_refusal(name, learned)
            if why:
                return "learn: " + why
        if isinstance(action.load, str):
            return _field_refusal(action.load, fields)
        return None
    if isinstance(action, Output):
        if isinstance(action.port, int) or action.port in (IN_PORT, NORMAL, CONTROLLER, FLOOD):
            return None
        return "no such port %r" % (action.port,)
    if isinstance(action, (Group, Resubmit, PushVlan, PopVlan)):   # the tags push and pop need: _tag_refusal
        return None
    return "action %r is not modelled" % (action,)


def _tag_refusal(actions, fields):
    """Why Open vSwitch refuses, in OpenFlow 1.3, the 802.1Q tags `actions` need in a flow whose
    match is `fields`: a pop_vlan, or a set_field of vlan_vid, needs a tag that the match (vlan_vid
    with the present bit) or a push_vlan before it ensures; and it counts two such tags at most."""
    wanted = fields.get("vlan_vid", (0, 0))
    vid, mask = wanted if isinstance(wanted, tuple) else (wanted, VLAN_PRESENT)
    tags = 1 if vid & mask & VLAN_PRESENT else 0
    for action in actions:
        if isinstance(action, PushVlan):
            if tags == 2:
                return "push_vlan onto two tags (the match's, or pushed before it): Open vSwitch takes two at most"
            tags += 1
        elif isinstance(action, PopVlan) or (isinstance(action, SetField) and action.field == "vlan_vid"):
            if not tags:
                return "%s needs a tag: vlan_vid with the present bit %#x in the match, or a push_vlan before it" % (
                    "pop_vlan" if isinstance(action, PopVlan) else "set_field vlan_vid", VLAN_PRESENT)
            if isinstance(action, PopVlan):
                tags -= 1
    return None


class FakeSwitch:
    """Tables, groups, meters and conntrack of one switch; `send` walks a packet through them."""

    def __init__(self, state=None):
        self.tables: Dict[int, Dict[tuple, Flow]] = {}
        self.groups: Dict[int, SelectGroup] = {}
        self.meters = {}
        self.flow_packets = Counter()    # flow key -> packets that matched it
        self.meter_packets = Counter()   # meter id -> packets that passed it
        self.conntrack = Conntrack()
        self.choose = default_choice     # (SelectGroup or Multipath, packet) -> bucket or slot
        self._ranked = {}                # table id -> its flows, highest priority first
        if state is not None:
            for meter in state.meters.values():
                self._add_meter(meter)
            for group in state.groups.values():
                self._add_group(group)
            refused = []
            for flow in state.flows.values():
                try:
                    self._add_flow(flow)
                except Refused as error:
                    refused.append(str(error))
            if refused:
                shown = sorted(set(refused))
                raise Refused("%d of the state's flows are refused:\n  %s" % (
                    len(refused), "\n  ".join(shown[:12] + (["..."] if len(shown) > 12 else []))))

    # ------------------------------------------------------------ flow, group and meter mods

    def apply(self, changes):
        """Apply `flows.reconcile.Change`s in order, as the switch would the messages."""
        for change in changes:
            handler = {"add_flow": self._add_flow, "delete_flow": self._delete_flow,
                       "add_group": self._add_group, "modify_group": self._modify_group,
                       "delete_group": self._delete_group, "add_meter": self._add_meter,
                       "modify_meter": self._modify_meter, "delete_meter": self._delete_meter}.get(change.op)
            if handler is None:
                raise Refused("unknown change %r" % change.op)
            handler(change.item)

    def table(self, table_id):
        """The flows of one table, highest priority first."""
        if table_id not in self._ranked:
            flows = self.tables.get(table_id, {}).values()
            self._ranked[table_id] = sorted(flows, key=lambda f: -f.priority)
        return self._ranked[table_id]

    def flows(self):
        """Every flow the switch holds, by key (what a SwitchState's flows hold)."""
        return {key: flow for table in self.tables.values() for key, flow in table.items()}

    def _add_flow(self, flow):
        why = self._refusal(flow)
        if why:
            raise Refused("%s: %s" % (_flow_text(flow), why))
        self.tables.setdefault(flow.table, {})[flow.key] = flow
        self.flow_packets[flow.key] = 0
        self._ranked.pop(flow.table, None)

    def _refusal(self, flow):
        if flow.goto is not None and flow.goto <= flow.table:
            return "goto_table:%d does not go forward" % flow.goto
        fields = dict(flow.match)
        for name, _ in flow.match:
            if name not in FIELDS:
                return "no such field %r" % name
            needed = _missing_prerequisite(name, fields)
            if needed is not None:
                return "a match on %s needs %s=%#x" % (name, *needed)
        if flow.meter is not None and flow.meter not in self.meters:
            return "meter %d does not exist" % flow.meter
        for action in flow.actions:
            if isinstance(action, Group) and action.group_id not in self.groups:
                return "group %d does not exist" % action.group_id
            why = _action_refusal(action, fields)
            if why:
                return why
        why = _tag_refusal(flow.actions, fields)
        if why:
            return why
        state = fields.get("ct_state", 0)
        if any(isinstance(a, Ct) and a.commit for a in flow.actions) and \
                (state[0] if isinstance(state, tuple) else state) & CT_INV:
            return "ct(commit) in a flow that matches +inv"
        return None

    def _delete_flow(self, flow):
        if self.tables.get(flow.table, {}).pop(flow.key, None) is not None:
            self.flow_packets.pop(flow.key, None)
            self._ranked.pop(flow.table, None)

    def _delete_flows_if(self, doomed):
        for table in self.tables.values():
            for flow in [f for f in table.values() if doomed(f)]:
                self._delete_flow(flow)

    def _add_group(self, group):
        if group.group_id in self.groups:
            raise Refused("group %d exists already" % group.group_id)
        self.groups[group.group_id] = group

    def _modify_group(self, group):
        if group.group_id not in self.groups:
            raise Refused("group %d does not exist" % group.group_id)
        self.groups[group.group_id] = group

    def _delete_group(self, group):
        """Deleting a group deletes the flows that output to it (OpenFlow's rule)."""
        self.groups.pop(group.group_id, None)
        self._delete_flows_if(lambda f: Group(group.group_id) in f.actions)

    def _add_meter(self, meter):
        if meter.meter_id in self.meters:
            raise Refused("meter %d exists already" % meter.meter_id)
        self.meters[meter.meter_id] = meter

    def _modify_meter(self, meter):
        if meter.meter_id not in self.meters:
            raise Refused("meter %d does not exist" % meter.meter_id)
        self.meters[meter.meter_id] = meter

    def _delete_meter(self, meter):
        self.meters.pop(meter.meter_id, None)
        self._delete_flows_if(lambda f: f.meter == meter.meter_id)

    # ------------------------------------------------------------ packets

    def send(self, packet, in_port):
        """Walk `packet` (a dict of header fields) in from `in_port`, starting at table 0."""
        start = {}
        for name, value in packet.items():
            if name == QUOTED:
                if not isinstance(value, ConnTuple):
                    raise PipelineError("%s: %r is not a ConnTuple" % (QUOTED, value))
                start[name] = value
            elif name in _HEADERS:
                start[name] = _normal(name, value)
            else:
                raise PipelineError("unknown header field %r" % name)
        start.setdefault("vlan_vid", 0)
        if start.get("eth_type") == ETH_TYPE_IP:
            start.setdefault("nw_ttl", 64)
            start.setdefault("ip_frag", 0)
        start.update({name: 0 for name in _METADATA}, in_port=in_port)
        walk = _Walk(self, in_port)
        walk.table(start, pipeline.INGRESS.id, 0)
        return walk.result

    def _lookup(self, table_id, packet):
        best = None
        for flow in self.table(table_id):
            if best is not None and flow.priority < best.priority:
                break
            if _matches(flow.match, packet):
                if best is not None:
                    raise PipelineError("two flows of one priority match the packet %s:\n  %s %s\n  %s %s" % (
                        _headers(packet), _flow_text(best), best.match, _flow_text(flow), flow.match))
                best = flow
        return best


_TERMINAL = (Output, OutputReg, Group, Resubmit, Ct)   # an action set runs one of these at most


class _Walk:
    """One packet's way through the tables: its copies' egress and the trace."""

    def __init__(self, switch, in_port):
        self.switch = switch
        self.in_port = in_port   # where the packet came in: a recirculation restores it
        self.result = Result()

    def note(self, depth, text):
        self.result.trace.append("  " * depth + text)

    def table(self, packet, table_id, depth, how=""):
        if depth > MAX_DEPTH:
            raise PipelineError("more than %d nested lookups: a loop?\n%s" % (MAX_DEPTH, self.result))
        if packet.get(_REWRITTEN):
            raise PipelineError("table %d looked up in the pass of a ct without table that rewrote the packet: "
                                "Open vSwitch would match the packet as it was before that NAT\n%s"
                                % (table_id, self.result))
        flow = self.switch._lookup(table_id, packet)
        if flow is None:   # a miss ends this lookup: the packet is dropped, or a resubmit returns
            self.note(depth, "%stable %d (%s): no match" % (how, table_id, _TABLE_NAMES.get(table_id, "?")))
            return
        self.note(depth, how + _flow_text(flow))
        self.result.matched.append(flow)
        self.switch.flow_packets[flow.key] += 1
        if flow.meter is not None:
            self.switch.meter_packets[flow.meter] += 1
        if self.actions(packet, flow.actions, flow, depth) and flow.goto is not None:
            self.table(packet, flow.goto, depth)

    def actions(self, packet, actions, flow, depth):
        """Apply `actions` to `packet` in place. False: the actions stop there (a TTL ran out)."""
        for action in actions:
            if isinstance(action, Output):
                self.output(packet, action.port, flow, depth)
            elif isinstance(action, OutputReg):
                self.output(packet, _read_bits(packet, action.field, action.ofs, action.n_bits), flow, depth)
            elif isinstance(action, SetField):
                self.writable(action.field, packet)
                packet[action.field] = _normal(action.field, action.value)
            elif isinstance(action, Move):
                self.writable(action.dst, packet)
                value = _read_bits(packet, action.src, action.src_ofs, action.n_bits)
                _write_bits(packet, action.dst, action.dst_ofs, action.n_bits, value)
            elif isinstance(action, PushVlan):
                if packet["vlan_vid"] & VLAN_PRESENT:
                    raise PipelineError("push_vlan onto a tagged packet: two tags are not modelled")
                packet["vlan_vid"] = VLAN_PRESENT   # VLAN id 0 until a move or set_field gives it one
            elif isinstance(action, PopVlan):
                if not packet["vlan_vid"] & VLAN_PRESENT:
                    raise PipelineError("pop_vlan of a packet with no tag (a resubmit popped it first?): Open vSwitch "
                                        "pops nothing")
                packet["vlan_vid"] = 0
            elif isinstance(action, DecTtl):
                if "nw_ttl" not in packet:
                    raise PipelineError("dec_ttl on a packet with no IP header")
                if packet["nw_ttl"] <= 1:
                    self.note(depth + 1, "dec_ttl: TTL %d runs out, dropped" % packet["nw_ttl"])
                    return False
                packet["nw_ttl"] -= 1
            elif isinstance(action, Resubmit):
                self.table(packet, action.table, depth + 1, "resubmit: ")
            elif isinstance(action, Multipath):
                slot = self.choice(action, packet, action.n_links, depth, "multipath")
                _write_bits(packet, action.dst, 0, action.n_bits, slot)
            elif isinstance(action, Group):
                self.group(packet, action.group_id, flow, depth)
            elif isinstance(action, Learn):
                self.learn(packet, action, depth)
            elif isinstance(action, Ct):
                self.conntrack(packet, action, depth)
            else:
                raise PipelineError("action %r is not modelled" % (action,))
        return True

    @staticmethod
    def writable(name, packet):
        _bits(name)
        if name in _READ_ONLY or name in _EXEC_ONLY:
            raise PipelineError("%s is written only by a ct's exec (ct_state and ct_zone never)" % name)
        if name == "vlan_vid" and not packet["vlan_vid"] & VLAN_PRESENT:
            raise PipelineError("vlan_vid written in a packet with no tag: Open vSwitch writes it nowhere (push_vlan "
                                "first)")

    def output(self, packet, port, flow, depth):
        if port == IN_PORT:
            port = packet["in_port"]
        elif port == packet["in_port"]:
            self.note(depth + 1, "output:%s dropped: the packet came in on it" % port)
            return
        elif not isinstance(port, int) and port not in (NORMAL, CONTROLLER, FLOOD):
            raise PipelineError("no such port %r" % (port,))
        if port == 0:
            self.note(depth + 1, "output:0 dropped: no such port")
            return
        self.note(depth + 1, "output:%s" % port)
        self.result.egress.append(Egress(port, _headers(packet), flow.table, flow.cookie))

    def choice(self, chooser, packet, count, depth, what):
        view = {name: _seen(packet, name) for name in packet}
        index = self.switch.choose(chooser, view)
        if not 0 <= index < count:
            raise PipelineError("%s: choice %r is not one of 0..%d" % (what, index, count - 1))
        self.note(depth + 1, "%s: %d of %d" % (what, index, count))
        return index

    def group(self, packet, group_id, flow, depth):
        group = self.switch.groups.get(group_id)
        if group is None:
            raise PipelineError("group %d does not exist" % group_id)
        bucket = group.buckets[self.choice(group, packet, len(group.buckets), depth, "group %d bucket" % group_id)]
        terminal = [a for a in bucket.actions if isinstance(a, _TERMINAL)]
        if len(terminal) > 1 or (terminal and bucket.actions[-1] is not terminal[0]) or \
                any(isinstance(a, (Learn, Multipath)) for a in bucket.actions):
            raise PipelineError("group %d: a bucket is an action set, which runs at most one output, group, "
                                "resubmit or ct (last) and no learn or multipath: %r" % (group_id, bucket.actions))
        self.actions(dict(packet), bucket.actions, flow, depth + 1)   # a bucket acts on a copy

    def learn(self, packet, learn, depth):
        copied = {name: _seen(packet, name) for name in learn.copy}
        value = _seen(packet, learn.load) if isinstance(learn.load, str) else learn.load
        learned = Flow(learn.table, learn.priority, match(**dict(learn.fixed), **copied),
                       (SetField(learn.register, value),), cookie=learn.cookie)
        table = self.switch.tables.get(learn.table, {})
        if learned.key in table:   # learning it again refreshes it
            table[learned.key] = learned
            self.switch._ranked.pop(learn.table, None)
            self.note(depth + 1, "learn: refreshed %s" % _flow_text(learned))
            there = True
        elif learn.limit and sum(f.cookie == learn.cookie for f in table.values()) >= learn.limit:
            self.note(depth + 1, "learn: table %d holds %d flows of cookie %#x already, nothing learned"
                      % (learn.table, learn.limit, learn.cookie))
            there = False
        else:
            self.switch._add_flow(learned)
            self.note(depth + 1, "learn: %s" % _flow_text(learned))
            there = True
        if learn.result is not None:
            _write_bits(packet, learn.result[0], learn.result[1], 1, int(there))

    def conntrack(self, packet, ct, depth):
        """ct(...) (see the module's docstring): with a table, a copy of the packet is tracked and
        recirculated there; without, the packet itself is tracked and rewritten. Either way the
        packet goes on untracked."""
        tracked = dict(packet) if ct.table is not None else packet
        connection, is_reply, state = self.track(tracked, ct, depth)
        if ct.exec_ and connection is not None:
            self.record(tracked, connection, ct.exec_)
        nat = ""
        if connection is not None and ct.nat is not None:
            before = _headers(tracked)
            if state & CT_REL:
                _nat_error(tracked, connection, is_reply)
            else:
                _set_tuple(tracked, (connection.original if is_reply else connection.reply).reverse())
            if _headers(tracked) != before:
                nat = ", NAT to %s" % (_conn_tuple(tracked) or "%s -> %s quoting %s" % (
                    tracked["ipv4_src"], tracked["ipv4_dst"], tracked.get(QUOTED)))
                if ct.table is None:
                    tracked[_REWRITTEN] = True
        self.note(depth + 1, "ct zone %d: %s%s" % (ct.zone, ct_state_text(state), nat))
        packet.update(dict.fromkeys(_CT_FIELDS, 0))
        if ct.table is not None:
            tracked.update(ct_state=state, ct_zone=ct.zone, in_port=self.in_port,
                           ct_mark=connection.mark if connection else 0, ct_label=connection.label if connection else 0)
            tracked.pop(_REWRITTEN, None)
            self.table(tracked, ct.table, depth + 1, "recirculated: ")

    def track(self, packet, ct, depth):
        """Look `packet` up in zone `ct.zone` (and commit it): -> (its connection or None, whether
        it travels in the reply direction, its ct_state)."""
        conntrack = self.switch.conntrack
        tup = _conn_tuple(packet)
        if tup is None:
            if _is_icmp_error(packet):
                connection, is_reply = conntrack.related(ct.zone, packet)
                if connection is not None:
                    return connection, is_reply, CT_TRK | CT_REL | (CT_RPL if is_reply else 0)
            return None, False, CT_TRK | CT_INV
        connection, is_reply = conntrack.find(ct.zone, tup)
        if connection is not None:
            connection.replied = connection.replied or is_reply
            state = CT_TRK | (CT_EST if connection.replied else CT_NEW) | (CT_RPL if is_reply else 0)
            return connection, is_reply, state
        if not _may_open(packet):
            return None, False, CT_TRK | CT_INV
        if ct.commit:
            connection = conntrack.open(ct.zone, tup, _translations(tup, ct.nat))
            if connection is None:
                self.note(depth + 1, "ct zone %d: no free tuple to NAT %s to" % (ct.zone, tup))
                return None, False, CT_TRK | CT_INV
            self.note(depth + 1, "ct zone %d: committed %s, replies %s" % (ct.zone, tup, connection.reply))
        return connection, False, CT_TRK | CT_NEW

    @staticmethod
    def record(packet, connection, actions):
        """A commit's exec: its actions run on the packet's own fields, ct_mark and ct_label
        included (what the packet carries from its last recirculation); the bits they write go into
        the connection's mark and label, the others stay."""
        view = dict(packet)
        written = {"ct_mark": 0, "ct_label": 0}
        for action in actions:
            if isinstance(action, SetField):
                target, ofs, n_bits = action.field, 0, _bits(action.field)
                view[target] = _normal(target, action.value)
            else:
                target, ofs, n_bits = action.dst, action.dst_ofs, action.n_bits
                _write_bits(view, target, ofs, n_bits, _read_bits(view, action.src, action.src_ofs, n_bits))
            if target not in written:
                raise PipelineError("ct exec: %r writes neither ct_mark nor ct_label" % (action,))
            written[target] |= ((1 << n_bits) - 1) << ofs
        connection.mark = (connection.mark & ~written["ct_mark"]) | (view["ct_mark"] & written["ct_mark"])
        connection.label = (connection.label & ~written["ct_label"]) | (view["ct_label"] & written["ct_label"])
