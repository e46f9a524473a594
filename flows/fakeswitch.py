"""A switch in memory that walks packets through lbctl's flows, so that what the pipeline does to a
packet (which port it leaves by, rewritten how) is unit-tested without Open vSwitch. The
integration tests still run the real switch; this one answers in microseconds and names the flows
a packet matched when it goes astray.

It models, in OpenFlow 1.3 / Open vSwitch terms:
- tables: the highest-priority matching flow wins (two matching flows of that priority are an
  error: Open vSwitch would pick one arbitrarily); masked matches (MACs, ct_state, tcp_flags...);
  meter, then apply-actions in order, then goto_table; a table with no match does nothing (the
  packet is dropped, or a resubmit returns to where it was);
- flow, group and meter mods as `flows.reconcile.Change`s, refused where Open vSwitch refuses them
  (a goto_table backwards, a match without its prerequisites, a missing group or meter, a group
  added twice); deleting a group or meter deletes the flows that use it;
- outputs to a port, IN_PORT, NORMAL, CONTROLLER (with the table that sent it) and FLOOD, an
  output to the packet's own in_port being dropped; output to a port held in a register;
- select groups (a bucket runs on a copy of the packet) and multipath: the choice is
  `switch.choose(group_or_multipath, packet)`, by default a deterministic hash of the 5-tuple (of
  the source address for multipath on nw_src), so a test can force a bucket or slot;
- conntrack per zone, for TCP, UDP and ICMP echo: a lookup sets ct_state (+trk, +new until a
  reply is seen, then +est; +rpl for replies; +inv for a TCP packet that cannot open a
  connection, such as a SYN-ACK, or an echo reply nobody asked for), ct_mark and ct_label; commit
  creates the entry, its mark and label set by `exec`; NAT to the first free address and port of
  a range, and `nat` alone applying an entry's NAT in the packet's direction; `ct(table=N)` forks
  the packet: a copy continues in table N with the new state (registers kept), the packet itself
  goes on with the next action, untouched; `switch.conntrack.connections()` lists the entries;
- learn (the 5-tuple pins of dsr), register and header moves and loads, dec_ttl (a TTL of 1 or
  less drops the packet), resubmit;
- counters: packets per flow and per meter.

It does not model: idle or hard timeouts (learned flows stay), rate limiting by meters, TCP
state beyond "a reply was seen" (FIN and RST close nothing; entries stay until the test ends),
ICMP errors related to a connection, fragments, VLANs, IPv6, NORMAL's own L2 learning (a packet
output to NORMAL is simply reported as such), write-actions, and the packet's payload.
"""
import functools
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, List

from flows import pipeline
from flows.ir import (CONTROLLER, FLOOD, IN_PORT, NORMAL, Ct, DecTtl, Flow, Group, Learn, Move, Multipath,
                      Output, OutputReg, Resubmit, SelectGroup, SetField, match)
from flows import addresses
from flows.protocols import (CT_EST, CT_INV, CT_NEW, CT_RPL, CT_TRK, ETH_TYPE_ARP, ETH_TYPE_IP, ICMP_ECHO_REPLY,
                             ICMP_ECHO_REQUEST, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN)
from flows.protocols import IP_PROTO_ICMP as ICMP
from flows.protocols import IP_PROTO_TCP as TCP
from flows.protocols import IP_PROTO_UDP as UDP

BROADCAST = "ff:ff:ff:ff:ff:ff"
MAX_DEPTH = 64   # nested lookups (resubmit, goto, recirculation) before a pipeline counts as looping

# Every field a packet may carry, with its width and how it is written: "mac" and "ipv4" fields
# hold text ("0a:00:00:00:00:11", "198.18.0.11"), the others integers.
_HEADERS = {
    "eth_src": (48, "mac"), "eth_dst": (48, "mac"), "eth_type": (16, "int"),
    "arp_op": (16, "int"), "arp_spa": (32, "ipv4"), "arp_tpa": (32, "ipv4"),
    "arp_sha": (48, "mac"), "arp_tha": (48, "mac"),
    "ip_proto": (8, "int"), "ipv4_src": (32, "ipv4"), "ipv4_dst": (32, "ipv4"), "nw_ttl": (8, "int"),
    "tcp_src": (16, "int"), "tcp_dst": (16, "int"), "tcp_flags": (12, "int"),
    "udp_src": (16, "int"), "udp_dst": (16, "int"),
    "icmpv4_type": (8, "int"), "icmpv4_code": (8, "int"),
}
_METADATA = {"in_port": (32, "int"), "ct_state": (32, "int"), "ct_zone": (16, "int"),
             "ct_mark": (32, "int"), "ct_label": (128, "int"),
             **{"reg%d" % i: (32, "int") for i in range(8)}}
FIELDS = {**_HEADERS, **_METADATA}

# What a match on a field needs the same match to say first (Open vSwitch refuses the flow otherwise).
_PREREQUISITES = {
    **dict.fromkeys(("ip_proto", "ipv4_src", "ipv4_dst", "nw_ttl"), ("eth_type", ETH_TYPE_IP)),
    **dict.fromkeys(("arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"), ("eth_type", ETH_TYPE_ARP)),
    **dict.fromkeys(("tcp_src", "tcp_dst", "tcp_flags"), ("ip_proto", TCP)),
    **dict.fromkeys(("udp_src", "udp_dst"), ("ip_proto", UDP)),
    **dict.fromkeys(("icmpv4_type", "icmpv4_code"), ("ip_proto", ICMP)),
}
_TABLE_NAMES = {t.id: t.name for t in pipeline.TABLES}


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


def _read_bits(packet, name, ofs, n_bits):
    if ofs + n_bits > _bits(name):
        raise PipelineError("%s has no bits %d..%d" % (name, ofs, ofs + n_bits - 1))
    if name not in packet:
        raise PipelineError("the packet has no %s to read" % name)
    return (_to_int(name, packet[name]) >> ofs) & ((1 << n_bits) - 1)


def _write_bits(packet, name, ofs, n_bits, value):
    if ofs + n_bits > _bits(name):
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
        if _to_int(name, packet[name]) & mask != _to_int(name, value) & mask:
            return False
    return True


def _flow_text(flow):
    return "table %d (%s), priority %d, cookie %#x" % (
        flow.table, _TABLE_NAMES.get(flow.table, "?"), flow.priority, flow.cookie)


def ct_state_text(bits):
    """ct_state as `ovs-ofctl` writes it: +new+trk."""
    names = ((CT_NEW, "new"), (CT_EST, "est"), (CT_RPL, "rpl"), (CT_INV, "inv"), (CT_TRK, "trk"))
    return "".join("+" + name for bit, name in names if bits & bit) or "-trk"


# ---------------------------------------------------------------- packets


def _endpoint(text):
    address, port = text.rsplit(":", 1)
    return address, int(port)


def _ipv4(src, dst, eth_src, eth_dst, proto, ttl):
    return {"eth_src": _normal("eth_src", eth_src), "eth_dst": _normal("eth_dst", eth_dst),
            "eth_type": ETH_TYPE_IP, "ip_proto": proto, "ipv4_src": src, "ipv4_dst": dst, "nw_ttl": ttl}


def tcp(src, dst, eth_src, eth_dst, flags=TCP_SYN, ttl=64):
    """A TCP packet from `src` to `dst` ("address:port"), by default a SYN."""
    (src_ip, src_port), (dst_ip, dst_port) = _endpoint(src), _endpoint(dst)
    return dict(_ipv4(src_ip, dst_ip, eth_src, eth_dst, TCP, ttl), tcp_src=src_port, tcp_dst=dst_port, tcp_flags=flags)


def udp(src, dst, eth_src, eth_dst, ttl=64):
    """A UDP datagram from `src` to `dst` ("address:port")."""
    (src_ip, src_port), (dst_ip, dst_port) = _endpoint(src), _endpoint(dst)
    return dict(_ipv4(src_ip, dst_ip, eth_src, eth_dst, UDP, ttl), udp_src=src_port, udp_dst=dst_port)


def icmp_echo(src, dst, eth_src, eth_dst, reply=False, ttl=64):
    """An ICMP echo request (or reply) between two addresses."""
    return dict(_ipv4(src, dst, eth_src, eth_dst, ICMP, ttl),
                icmpv4_type=ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST, icmpv4_code=0)


def arp_request(sender_mac, sender_ip, target_ip):
    """A broadcast ARP request: who has `target_ip`?"""
    sender_mac = _normal("eth_src", sender_mac)
    return {"eth_src": sender_mac, "eth_dst": BROADCAST, "eth_type": ETH_TYPE_ARP, "arp_op": 1,
            "arp_sha": sender_mac, "arp_spa": sender_ip, "arp_tha": "00:00:00:00:00:00", "arp_tpa": target_ip}


def _headers(packet):
    return {name: value for name, value in packet.items() if name in _HEADERS}


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


def _conn_tuple(packet):
    proto = packet.get("ip_proto") if packet.get("eth_type") == ETH_TYPE_IP else None
    if proto in (TCP, UDP):
        prefix = "tcp" if proto == TCP else "udp"
        return ConnTuple(proto, packet["ipv4_src"], packet[prefix + "_src"], packet["ipv4_dst"], packet[prefix + "_dst"])
    if proto == ICMP and packet.get("icmpv4_type") in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
        return ConnTuple(proto, packet["ipv4_src"], 0, packet["ipv4_dst"], 0)
    return None


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


def _translations(tup, nat):
    """The tuples a new connection may be NATed to, in the order they are tried."""
    if nat is None or nat.kind is None:
        yield tup
        return
    low = addresses.to_int(nat.address)
    high = addresses.to_int(nat.address_max) if nat.address_max else low
    if nat.port is None or tup.proto == ICMP:
        ports = [tup.dst_port if nat.kind == "dst" else tup.src_port]
    else:
        ports = range(nat.port, (nat.port_max or nat.port) + 1)
    for address in range(low, high + 1):
        for port in ports:
            if nat.kind == "dst":
                yield replace(tup, dst=addresses.text(address), dst_port=port)
            else:
                yield replace(tup, src=addresses.text(address), src_port=port)


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
    tup = _conn_tuple(packet)
    if tup is None:
        return (packet.get("ipv4_src"), packet.get("ipv4_dst"))
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
            for flow in state.flows.values():
                self._add_flow(flow)

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
            needed = _PREREQUISITES.get(name)
            if needed is not None and fields.get(needed[0]) != needed[1]:
                return "a match on %s needs %s=%#x" % (name, *needed)
        if flow.meter is not None and flow.meter not in self.meters:
            return "meter %d does not exist" % flow.meter
        for action in flow.actions:
            if isinstance(action, Group) and action.group_id not in self.groups:
                return "group %d does not exist" % action.group_id
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
        for name in packet:
            if name not in _HEADERS:
                raise PipelineError("unknown header field %r" % name)
        walk = _Walk(self)
        start = {name: _normal(name, value) for name, value in packet.items()}
        start.update({name: 0 for name in _METADATA}, in_port=in_port)
        walk.table(start, pipeline.CLASSIFY.id, 0)
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


class _Walk:
    """One packet's way through the tables: its copies' egress and the trace."""

    def __init__(self, switch):
        self.switch = switch
        self.result = Result()

    def note(self, depth, text):
        self.result.trace.append("  " * depth + text)

    def table(self, packet, table_id, depth, how=""):
        if depth > MAX_DEPTH:
            raise PipelineError("more than %d nested lookups: a loop?\n%s" % (MAX_DEPTH, self.result))
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
        """Apply `actions` to `packet` in place. False: the packet is dropped (TTL run out)."""
        for action in actions:
            if isinstance(action, Output):
                self.output(packet, action.port, flow, depth)
            elif isinstance(action, OutputReg):
                self.output(packet, _read_bits(packet, action.field, action.ofs, action.n_bits), flow, depth)
            elif isinstance(action, SetField):
                _bits(action.field)
                packet[action.field] = _normal(action.field, action.value)
            elif isinstance(action, Move):
                value = _read_bits(packet, action.src, action.src_ofs, action.n_bits)
                _write_bits(packet, action.dst, action.dst_ofs, action.n_bits, value)
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

    def output(self, packet, port, flow, depth):
        if port == IN_PORT:
            port = packet["in_port"]
        elif port == packet["in_port"]:
            self.note(depth + 1, "output:%s dropped: the packet came in on it" % port)
            return
        elif not isinstance(port, int) and port not in (NORMAL, CONTROLLER, FLOOD):
            raise PipelineError("no such port %r" % (port,))
        self.note(depth + 1, "output:%s" % port)
        self.result.egress.append(Egress(port, _headers(packet), flow.table, flow.cookie))

    def choice(self, chooser, packet, count, depth, what):
        index = self.switch.choose(chooser, dict(packet))
        if not 0 <= index < count:
            raise PipelineError("%s: choice %r is not one of 0..%d" % (what, index, count - 1))
        self.note(depth + 1, "%s: %d of %d" % (what, index, count))
        return index

    def group(self, packet, group_id, flow, depth):
        group = self.switch.groups.get(group_id)
        if group is None:
            raise PipelineError("group %d does not exist" % group_id)
        bucket = group.buckets[self.choice(group, packet, len(group.buckets), depth, "group %d bucket" % group_id)]
        self.actions(dict(packet), bucket.actions, flow, depth + 1)   # a bucket acts on a copy

    def learn(self, packet, learn, depth):
        copied = {name: packet[name] for name in learn.copy}
        learned = Flow(learn.table, learn.priority, match(**dict(learn.fixed), **copied),
                       (SetField(learn.register, learn.value),), cookie=learn.cookie)
        self.switch._add_flow(learned)
        self.note(depth + 1, "learn: %s" % _flow_text(learned))

    def conntrack(self, packet, ct, depth):
        """ct(...): a copy of the packet goes through conntrack and, with a table, on from there."""
        tracked = dict(packet)
        tup = _conn_tuple(tracked)
        connection, is_reply = (None, False) if tup is None else self.switch.conntrack.find(ct.zone, tup)
        if connection is not None:
            connection.replied = connection.replied or is_reply
            state = CT_TRK | (CT_EST if connection.replied else CT_NEW) | (CT_RPL if is_reply else 0)
        elif tup is None or not _may_open(tracked):
            state = CT_TRK | CT_INV
        else:
            state = CT_TRK | CT_NEW
            if ct.nat is not None and ct.nat.kind is not None and not ct.commit:
                raise PipelineError("ct zone %d: NAT to a range needs commit" % ct.zone)
            if ct.commit:
                connection = self.switch.conntrack.open(ct.zone, tup, _translations(tup, ct.nat))
                if connection is None:
                    self.note(depth + 1, "ct zone %d: no free tuple to NAT %s to, dropped" % (ct.zone, tup))
                    return
                self.note(depth + 1, "ct zone %d: committed %s, replies %s" % (ct.zone, tup, connection.reply))
        if ct.exec_ and not ct.commit:
            raise PipelineError("ct zone %d: exec sets a connection's mark or label only at commit" % ct.zone)
        if ct.exec_ and connection is not None:
            self.set_mark_and_label(tracked, connection, ct.exec_)
        if connection is not None and ct.nat is not None:
            _set_tuple(tracked, (connection.original if is_reply else connection.reply).reverse())
        tracked.update(ct_state=state, ct_zone=ct.zone,
                       ct_mark=connection.mark if connection else 0, ct_label=connection.label if connection else 0)
        self.note(depth + 1, "ct zone %d: %s" % (ct.zone, ct_state_text(state)))
        if ct.table is not None:
            self.table(tracked, ct.table, depth + 1, "recirculated: ")

    @staticmethod
    def set_mark_and_label(packet, connection, actions):
        view = dict(packet, ct_mark=connection.mark, ct_label=connection.label)
        for action in actions:
            target = action.field if isinstance(action, SetField) else getattr(action, "dst", None)
            if target not in ("ct_mark", "ct_label"):
                raise PipelineError("ct exec: %r sets neither ct_mark nor ct_label" % (action,))
            if isinstance(action, SetField):
                view[target] = _normal(target, action.value)
            else:
                _write_bits(view, target, action.dst_ofs, action.n_bits,
                            _read_bits(view, action.src, action.src_ofs, action.n_bits))
        connection.mark, connection.label = view["ct_mark"], view["ct_label"]
