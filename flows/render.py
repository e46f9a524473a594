"""Desired-state values -> Ryu OpenFlow 1.3 messages, and -> `ovs-ofctl` text.

The text form is what `ovs-ofctl -O OpenFlow13 dump-flows --no-stats` prints for the same flow, so
golden files, the README walk-through and a live dump read alike.
"""
import functools
import struct

from ryu.ofproto import nicira_ext
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from flows import pipeline
from flows.ir import (CONTROLLER, FLOOD, IN_PORT, NORMAL, Ct, DecTtl, Flow, Group, Learn, Meter, Move, Multipath,
                      Output, OutputReg, Resubmit, SelectGroup, SetField, match)

NAT_SRC, NAT_DST = 1, 2          # Open vSwitch's NX_NAT_F_* flags (Ryu has no names for them)
CT_COMMIT = 1                    # NX_CT_F_COMMIT
NX_IN_PORT = 0xFFF8              # resubmit keeps the packet's in_port (OpenFlow 1.0's 16-bit OFPP_IN_PORT)
# Open vSwitch's nx_hash_fields numbers (Ryu names only the first two).
MULTIPATH_FIELDS = {"symmetric_l3l4+udp": 3, "nw_src": 4}
SPECIAL_PORTS = {IN_PORT: ofp.OFPP_IN_PORT, NORMAL: ofp.OFPP_NORMAL,
                 CONTROLLER: ofp.OFPP_CONTROLLER, FLOOD: ofp.OFPP_FLOOD}

# ---------------------------------------------------------------- Ryu messages


def ryu_actions(actions):
    return [_ryu_action(a) for a in actions]


def _ryu_action(action):
    if isinstance(action, Output):
        port = SPECIAL_PORTS.get(action.port, action.port)
        return parser.OFPActionOutput(port, ofp.OFPCML_NO_BUFFER if action.port == CONTROLLER else 0)
    if isinstance(action, SetField):
        return parser.OFPActionSetField(**{action.field: action.value})
    if isinstance(action, Move):
        return parser.NXActionRegMove(src_field=action.src, dst_field=action.dst, n_bits=action.n_bits,
                                      src_ofs=action.src_ofs, dst_ofs=action.dst_ofs)
    if isinstance(action, OutputReg):
        return parser.NXActionOutputReg(
            ofs_nbits=nicira_ext.ofs_nbits(action.ofs, action.ofs + action.n_bits - 1),
            src=action.field, max_len=0)
    if isinstance(action, Group):
        return parser.OFPActionGroup(action.group_id)
    if isinstance(action, DecTtl):
        return parser.OFPActionDecNwTtl()
    if isinstance(action, Resubmit):
        return parser.NXActionResubmitTable(in_port=NX_IN_PORT, table_id=action.table)
    if isinstance(action, Learn):
        return _ryu_learn(action)
    if isinstance(action, Multipath):
        return parser.NXActionMultipath(
            fields=MULTIPATH_FIELDS[action.fields], basis=0, algorithm=nicira_ext.NX_MP_ALG_MODULO_N,
            max_link=action.n_links - 1, arg=0, ofs_nbits=nicira_ext.ofs_nbits(0, action.n_bits - 1),
            dst=action.dst)
    if isinstance(action, Ct):
        nested = []
        if action.nat is not None:
            nested.append(_ryu_nat(action.nat))
        nested.extend(_ryu_action(a) for a in action.exec_)
        return parser.NXActionCT(
            flags=CT_COMMIT if action.commit else 0, zone_src="", zone_ofs_nbits=action.zone,
            recirc_table=nicira_ext.NX_CT_RECIRC_NONE if action.table is None else action.table,
            alg=0, actions=nested)
    raise TypeError("no OpenFlow form for %r" % (action,))


def _ryu_learn(learn):
    copy = [("ipv4_src_nxm", 32), ("ipv4_dst_nxm", 32),
            ("%s_src_nxm" % learn.l4, 16), ("%s_dst_nxm" % learn.l4, 16)]
    specs = [parser.NXFlowSpecMatch(src=0x0800, dst=("eth_type_nxm", 0), n_bits=16),
             parser.NXFlowSpecMatch(src=learn.ip_proto, dst=("ip_proto_nxm", 0), n_bits=8)]
    specs += [parser.NXFlowSpecMatch(src=(field, 0), dst=(field, 0), n_bits=bits) for field, bits in copy]
    specs.append(parser.NXFlowSpecLoad(src=learn.value, dst=(learn.register, 0), n_bits=32))
    return parser.NXActionLearn(table_id=learn.table, specs=specs, idle_timeout=learn.idle_timeout,
                                priority=learn.priority, cookie=learn.cookie,
                                fin_idle_timeout=learn.fin_idle_timeout)


class PaddedNAT(parser.NXActionNAT):
    """Ryu 4.34 sets an NXActionNAT's length rounded up to 8 bytes but writes no padding, so
    ranges whose fields do not add up to a multiple of 8 (address min + max + ports: 12 bytes)
    make a message Open vSwitch refuses. This pads the body itself."""

    def serialize_body(self):
        data = super().serialize_body()
        return data + bytes(-(len(data) + 10) % 8)   # 10: the experimenter action header


def _ryu_nat(nat):
    if nat.kind is None:
        return parser.NXActionNAT(flags=0)
    return PaddedNAT(flags=NAT_DST if nat.kind == "dst" else NAT_SRC, range_ipv4_min=nat.address,
                     range_ipv4_max=nat.address_max or "",
                     range_proto_min=nat.port, range_proto_max=nat.port_max or nat.port)


class _SerializedOnce:
    """A message that keeps its bytes once serialized. The app serializes every message of a
    change before sending any (so one that cannot be encoded fails first), and Ryu's send_msg
    serializes it again: for a VIP's group of SLOTS buckets, that was half the cost of a change.
    Nothing changes a message after its first serialization (its xid is fixed by then)."""

    def serialize(self):
        if self.buf is None:
            super().serialize()


class FlowMod(_SerializedOnce, parser.OFPFlowMod):
    pass


class GroupMod(_SerializedOnce, parser.OFPGroupMod):
    pass


class MeterMod(_SerializedOnce, parser.OFPMeterMod):
    pass


class SharedBucket(parser.OFPBucket):
    """A bucket encoded once however many times its group lists it: a slot table names each
    member in SLOTS/N of its buckets, all alike."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.encoded = None

    def serialize(self, buf, offset):
        if self.encoded is None:   # the first time: Ryu's own encoding, which also sets self.len
            encoded = bytearray()
            super().serialize(encoded, 0)
            self.encoded = bytes(encoded)
        if len(buf) < offset:
            buf.extend(bytes(offset - len(buf)))
        buf[offset:offset + len(self.encoded)] = self.encoded


@functools.lru_cache(maxsize=1 << 16)
def _match_field(name, value):
    """One field of an OFPMatch as OFPMatch(**fields) makes it -> (its OXM order, (name, value)).
    Ryu converts each value to wire form and back several times (netaddr for addresses): ~50 us
    a flow, and the same few thousand (field, value) pairs come back in every VIP's flows."""
    name, value = ofp.oxm_normalize_user(name, value)
    number, wire, mask = ofp.oxm_from_user(name, value)
    return (number[0] if isinstance(number, tuple) else number), ofp.oxm_to_user(number, wire, mask)


def ryu_match(m):
    """The OFPMatch of a flow's match: what parser.OFPMatch(**dict(m)) gives, field by field."""
    fields = sorted((_match_field(name, value) for name, value in m), key=lambda field: field[0])
    return parser.OFPMatch(_ordered_fields=[field for _, field in fields])


def add_flow(datapath, flow):
    instructions = []
    if flow.meter is not None:
        instructions.append(parser.OFPInstructionMeter(flow.meter, ofp.OFPIT_METER))
    if flow.actions:
        instructions.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, ryu_actions(flow.actions)))
    if flow.goto is not None:
        instructions.append(parser.OFPInstructionGotoTable(flow.goto))
    return FlowMod(datapath, cookie=flow.cookie, table_id=flow.table, command=ofp.OFPFC_ADD,
                   priority=flow.priority, match=ryu_match(flow.match), instructions=instructions)


def delete_flow(datapath, flow):
    return FlowMod(datapath, table_id=flow.table, command=ofp.OFPFC_DELETE_STRICT,
                   priority=flow.priority, match=ryu_match(flow.match), out_port=ofp.OFPP_ANY,
                   out_group=ofp.OFPG_ANY)


def delete_by_cookie(datapath, table, cookie, mask):
    """Delete every flow of `table` whose cookie matches (learned flows, which no desired state
    lists)."""
    return FlowMod(datapath, cookie=cookie, cookie_mask=mask, table_id=table,
                   command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                   match=parser.OFPMatch())


# Open vSwitch's conntrack flush by tuple (NXT_CT_FLUSH, OVS 3.1+; `ovs-ofctl ct-flush`): a body
# of ip_proto and 7 bytes of padding, then properties (type, length, value padded to 8 bytes):
# the original and the reply tuple (each a nested list of properties, addresses IPv4-mapped
# IPv6) and the zone. Any field left out matches every value.
NX_VENDOR_ID = 0x00002320
NXT_CT_FLUSH = 32
CT_ORIG_TUPLE, CT_REPLY_TUPLE, CT_ZONE_ID = 0, 1, 2
CT_TUPLE_SRC, CT_TUPLE_DST, CT_TUPLE_SRC_PORT, CT_TUPLE_DST_PORT = 0, 1, 2, 3


class Experimenter(_SerializedOnce, parser.OFPExperimenter):
    pass


def _property(kind, value, nested=False):
    """One property: a nested one's content starts 8 bytes in (its header, then 4 of padding)."""
    head = 8 if nested else 4
    length = head + len(value)
    return (struct.pack("!HH", kind, length) + bytes(head - 4) + value + bytes(-length % 8))


def _u16(value):
    """A 16-bit property value, as Open vSwitch writes it: followed by two zero bytes."""
    return struct.pack("!H2x", value)


def _ipv4_mapped(address):
    return bytes(10) + b"\xff\xff" + bytes(int(o) for o in address.split("."))


def ct_flush(datapath, zone, ip_proto, orig_dst=None, reply_src=None):
    """Forget the conntrack entries of `zone` for `ip_proto` whose original destination is
    `orig_dst` and whose reply comes from `reply_src` (each an (address, port), or None for any):
    a removed member's connections through one VIP."""
    body = struct.pack("!B7x", ip_proto)
    for kind, (field, port_field), endpoint in ((CT_ORIG_TUPLE, (CT_TUPLE_DST, CT_TUPLE_DST_PORT), orig_dst),
                                                (CT_REPLY_TUPLE, (CT_TUPLE_SRC, CT_TUPLE_SRC_PORT), reply_src)):
        if endpoint is not None:
            address, port = endpoint
            tuple_ = _property(field, _ipv4_mapped(address)) + _property(port_field, _u16(port))
            body += _property(kind, tuple_, nested=True)
    body += _property(CT_ZONE_ID, _u16(zone))
    return Experimenter(datapath, experimenter=NX_VENDOR_ID, exp_type=NXT_CT_FLUSH, data=body)


def group_mod(datapath, group, command):
    # A slot table lists each member's bucket in many slots, and flows.vip gives them the very
    # same Bucket: one SharedBucket each (found by identity: hashing 256 buckets costs more).
    shared = {}
    buckets = []
    for b in group.buckets:
        bucket = shared.get(id(b))
        if bucket is None:
            bucket = shared[id(b)] = SharedBucket(weight=b.weight, watch_port=ofp.OFPP_ANY, watch_group=ofp.OFPG_ANY,
                                                  actions=ryu_actions(b.actions))
        buckets.append(bucket)
    return GroupMod(datapath, command=command, type_=ofp.OFPGT_SELECT, group_id=group.group_id, buckets=buckets)


def meter_mod(datapath, meter, command):
    return MeterMod(datapath, command=command, flags=ofp.OFPMF_PKTPS | ofp.OFPMF_BURST | ofp.OFPMF_STATS,
                    meter_id=meter.meter_id, bands=[parser.OFPMeterBandDrop(rate=meter.rate, burst_size=meter.burst)])


_GROUP_COMMANDS = {"add": ofp.OFPGC_ADD, "modify": ofp.OFPGC_MODIFY, "delete": ofp.OFPGC_DELETE}
_METER_COMMANDS = {"add": ofp.OFPMC_ADD, "modify": ofp.OFPMC_MODIFY, "delete": ofp.OFPMC_DELETE}


def change_message(datapath, change):
    """One reconcile.Change -> one OpenFlow message."""
    verb = change.op.split("_")[0]
    item = change.item
    if change.op == "add_flow":
        return add_flow(datapath, item)
    if change.op == "delete_flow":
        return delete_flow(datapath, item)
    if isinstance(item, SelectGroup):
        if verb == "delete":
            return GroupMod(datapath, command=ofp.OFPGC_DELETE, group_id=item.group_id)
        return group_mod(datapath, item, _GROUP_COMMANDS[verb])
    if isinstance(item, Meter):
        if verb == "delete":
            return MeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=item.meter_id)
        return meter_mod(datapath, item, _METER_COMMANDS[verb])
    raise TypeError("no OpenFlow message for %r" % (change,))


def read_flow(stats):
    """A flow as the switch reports it (an OFPFlowStats) -> (Flow with its key and cookie, and for
    a flow that sets eth_dst and outputs to a port, that (mac, port)). Actions are not translated
    back: adoption needs the key, and `locate` flows give back where hosts were."""
    fields = {}
    for name, value in stats.match.items():
        fields[name] = tuple(value) if isinstance(value, list) else value
    flow = Flow(stats.table_id, stats.priority, match(**fields), cookie=stats.cookie)
    mac = port = None
    for instruction in stats.instructions:
        for action in getattr(instruction, "actions", ()):
            if isinstance(action, parser.OFPActionSetField) and action.key == "eth_dst":
                mac = action.value
            elif isinstance(action, parser.OFPActionOutput) and action.port < ofp.OFPP_MAX:
                port = action.port
    return flow, (mac, port) if mac and port else None


def group_members(stats):
    """The addresses an OFPGroupDescStats's buckets send to: each bucket's NAT destination (NAT
    modes) or the member it loads into reg2 (dsr). What a switch was doing before we came."""
    addresses = set()
    for bucket in stats.buckets:
        for action in bucket.actions:
            if isinstance(action, parser.NXActionCT):
                addresses.update(a.range_ipv4_min for a in action.actions
                                 if isinstance(a, parser.NXActionNAT) and a.range_ipv4_min)
            elif isinstance(action, parser.OFPActionSetField) and action.key == pipeline.HOST_REG:
                addresses.add(pipeline.ipv4_text(action.value))
    return addresses


def dump_requests(datapath):
    """The requests that read a switch's flows, groups and meters."""
    return [parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL, out_port=ofp.OFPP_ANY,
                                       out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
            parser.OFPGroupDescStatsRequest(datapath),
            parser.OFPMeterConfigStatsRequest(datapath, meter_id=ofp.OFPM_ALL)]


def poll_request(datapath, table, cookie, cookie_mask):
    """The request that reads the counters of the flows of one table with one cookie (under a
    mask): for lbctl_app.traffic, one VIP at a time."""
    return parser.OFPFlowStatsRequest(datapath, table_id=table, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                      cookie=cookie, cookie_mask=cookie_mask, match=parser.OFPMatch())


def flow_counters(stats):
    """An OFPFlowStats -> (table, priority, cookie, match key, packets, bytes)."""
    key = tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                       for name, value in stats.match.items()))
    return stats.table_id, stats.priority, stats.cookie, key, stats.packet_count, stats.byte_count


def wipe(datapath):
    """Messages that empty every table, group and meter: the start of a switch's first sync."""
    return [parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                              out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
            parser.OFPGroupMod(datapath, command=ofp.OFPGC_DELETE, group_id=ofp.OFPG_ALL),
            parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=ofp.OFPM_ALL)]


# ---------------------------------------------------------------- ovs-ofctl text

_PROTOCOLS = {(0x0806, None): "arp", (0x0800, None): "ip", (0x0800, 1): "icmp", (0x0800, 6): "tcp",
              (0x0800, 17): "udp"}
_MATCH_NAMES = [  # in the order ovs-ofctl prints them
    ("eth_src", "dl_src"), ("eth_dst", "dl_dst"), ("ipv4_src", "nw_src"), ("ipv4_dst", "nw_dst"),
    ("arp_spa", "arp_spa"), ("arp_tpa", "arp_tpa"), ("arp_op", "arp_op"),
    ("tcp_src", "tp_src"), ("tcp_dst", "tp_dst"), ("udp_src", "tp_src"), ("udp_dst", "tp_dst"),
    ("icmpv4_type", "icmp_type"),
]
_CT_STATE_BITS = ["new", "est", "rel", "rpl", "inv", "trk"]
_TCP_FLAG_BITS = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"]
_NXM_NAMES = {"eth_src": ("NXM_OF_ETH_SRC", 48), "eth_dst": ("NXM_OF_ETH_DST", 48),
              "arp_sha": ("NXM_NX_ARP_SHA", 48), "arp_tha": ("NXM_NX_ARP_THA", 48),
              "arp_spa": ("NXM_OF_ARP_SPA", 32), "arp_tpa": ("NXM_OF_ARP_TPA", 32),
              "ct_label": ("NXM_NX_CT_LABEL", 128), "reg0": ("NXM_NX_REG0", 32), "reg1": ("NXM_NX_REG1", 32),
              "reg2": ("NXM_NX_REG2", 32), "reg3": ("NXM_NX_REG3", 32),
              "ipv4_src": ("NXM_OF_IP_SRC", 32), "ipv4_dst": ("NXM_OF_IP_DST", 32),
              "in_port": ("OXM_OF_IN_PORT", 32)}


def match_text(m):
    fields = dict(m)
    parts = []
    if "ct_state" in fields:
        parts.append("ct_state=" + _flags_text(fields["ct_state"], _CT_STATE_BITS))
    if "ct_mark" in fields:
        parts.append("ct_mark=%s" % _hex(fields["ct_mark"]))
    if "eth_type" in fields:
        parts.append(_PROTOCOLS[(fields["eth_type"], fields.get("ip_proto"))])
    for reg in ("reg1", "reg2"):
        if reg in fields:
            parts.append("%s=%s" % (reg, _hex(fields[reg])))
    for field, name in _MATCH_NAMES:
        if field in fields:
            value = fields[field]
            parts.append("%s=%s" % (name, "/".join(map(str, value)) if isinstance(value, tuple) else value))
    if "tcp_flags" in fields:
        parts.append("tcp_flags=" + _flags_text(fields["tcp_flags"], _TCP_FLAG_BITS))
    return ",".join(parts)


def _flags_text(value_mask, names):
    """(value, mask) of a flags field -> "+new+trk": one +name or -name per bit in the mask."""
    value, mask = value_mask
    return "".join(("+" if value & (1 << i) else "-") + name for i, name in enumerate(names) if mask & (1 << i))


_SET_FIELD_NAMES = {"ipv4_src": "ip_src", "ipv4_dst": "ip_dst", "icmpv4_type": "icmp_type"}


def _hex(value):
    """Integers the way ovs-ofctl prints hexadecimal fields: 0, 0x1, 0x10."""
    return "%#x" % value if value else "0"


def _field_text(field, ofs, n_bits):
    name, width = _NXM_NAMES[field]
    return "%s[]" % name if (ofs, n_bits) == (0, width) else "%s[%d..%d]" % (name, ofs, ofs + n_bits - 1)


def action_text(action):
    if isinstance(action, Output):
        if action.port == CONTROLLER:
            return "CONTROLLER:65535"
        return action.port if isinstance(action.port, str) else "output:%d" % action.port
    if isinstance(action, SetField):
        value = "%#x" % action.value if action.field in ("ct_mark", "reg2") else action.value
        return "set_field:%s->%s" % (value, _SET_FIELD_NAMES.get(action.field, action.field))
    if isinstance(action, Move):
        return "move:%s->%s" % (_field_text(action.src, action.src_ofs, action.n_bits),
                                _field_text(action.dst, action.dst_ofs, action.n_bits))
    if isinstance(action, OutputReg):
        return "output:" + _field_text(action.field, action.ofs, action.n_bits)
    if isinstance(action, Group):
        return "group:%d" % action.group_id
    if isinstance(action, DecTtl):
        return "dec_ttl"
    if isinstance(action, Resubmit):
        return "resubmit(,%d)" % action.table
    if isinstance(action, Learn):
        ports = "NXM_OF_%s_SRC[],NXM_OF_%s_DST[]" % (action.l4.upper(), action.l4.upper())
        return ("learn(table=%d,idle_timeout=%d,fin_idle_timeout=%d,priority=%d,cookie=%#x,eth_type=0x800,"
                "nw_proto=%d,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],%s,load:%#x->%s)" % (
                    action.table, action.idle_timeout, action.fin_idle_timeout, action.priority,
                    action.cookie, action.ip_proto, ports, action.value, _field_text(action.register, 0, 32)))
    if isinstance(action, Multipath):
        return "multipath(%s,0,modulo_n,%d,0,%s)" % (action.fields, action.n_links,
                                                     _field_text(action.dst, 0, action.n_bits))
    if isinstance(action, Ct):
        args = (["commit"] if action.commit else []) + \
            (["table=%d" % action.table] if action.table is not None else []) + ["zone=%d" % action.zone]
        if action.nat is not None:
            nat = action.nat
            args.append("nat" if nat.kind is None else "nat(%s=%s)" % (nat.kind, _nat_range(nat)))
        if action.exec_:
            args.append("exec(%s)" % ",".join(action_text(a) for a in action.exec_))
        return "ct(%s)" % ",".join(args)
    raise TypeError("no text form for %r" % (action,))


def _nat_range(nat):
    addresses = nat.address + ("-" + nat.address_max if nat.address_max else "")
    ports = "%d" % nat.port + ("-%d" % nat.port_max if nat.port_max else "")
    return addresses + ":" + ports


def flow_text(flow, counters=None):
    """As `ovs-ofctl dump-flows --no-stats` prints it; with `counters` (packets, bytes), as
    `dump-flows` does, less the durations and ages."""
    actions = ["meter:%d" % flow.meter] if flow.meter is not None else []
    actions += [action_text(a) for a in flow.actions]
    if flow.goto is not None:
        actions.append("goto_table:%d" % flow.goto)
    match = match_text(flow.match)
    return "%s%s%spriority=%d%s actions=%s" % (
        "cookie=%#x, " % flow.cookie if flow.cookie else "", "table=%d, " % flow.table if flow.table else "",
        "n_packets=%d, n_bytes=%d, " % counters if counters else "",
        flow.priority, "," + match if match else "", ",".join(actions) or "drop")


def group_text(group):
    buckets = ",".join("bucket=%sactions=%s" % ("" if b.weight == 1 else "weight:%d," % b.weight,
                                               ",".join(action_text(a) for a in b.actions))
                       for b in group.buckets)
    return "group_id=%d,type=select%s" % (group.group_id, "," + buckets if buckets else "")


def meter_text(meter):
    """As `ovs-ofctl dump-meters` prints it, its two lines joined by a space."""
    return "meter=%d pktps burst stats bands= type=drop rate=%d burst_size=%d" % (
        meter.meter_id, meter.rate, meter.burst)


def state_text(state, counters=None):
    """A whole switch state as ovs-ofctl would dump it: flows sorted by table and priority, then
    groups, then meters. `counters`: flow key -> (packets, bytes), shown where known."""
    flows = sorted(state.flows.values(), key=lambda f: (f.table, -f.priority, flow_text(f)))
    counters = counters or {}
    return "\n".join([flow_text(f, counters.get(f.key)) for f in flows]
                     + [group_text(g) for _, g in sorted(state.groups.items())]
                     + [meter_text(m) for _, m in sorted(state.meters.items())])
