"""The flow vocabulary of flows/ir.py -> Ryu OpenFlow 1.3 messages, and what a switch reports ->
that vocabulary again. The one place that knows Ryu's message classes (flows/text.py gives the
`ovs-ofctl` text of the same values)."""
import functools
import struct

from ryu.ofproto import nicira_ext
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from flows import addresses, pipeline
from flows.ir import (CONTROLLER, FLOOD, IN_PORT, NORMAL, Ct, DecTtl, Flow, Group, Learn, Meter, Move, Multipath,
                      Output, OutputReg, PopVlan, PushVlan, Resubmit, SelectGroup, SetField, match)
from flows.protocols import ETH_TYPE_VLAN
from flows.reconcile import Change
from lbctl.core.messages import Barrier, CtFlush, DeleteLearned, FlowStats, PacketOut, ReadCounters, ReadState, Wipe

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
        # Open vSwitch refuses OpenFlow's 32-bit in_port as a set_field; its own 16-bit one it takes.
        return parser.OFPActionSetField(**{"in_port_nxm" if action.field == "in_port" else action.field: action.value})
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
    if isinstance(action, PushVlan):
        return parser.OFPActionPushVlan(ETH_TYPE_VLAN)
    if isinstance(action, PopVlan):
        return parser.OFPActionPopVlan()
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


LEARN_FIELD_BITS = {"eth_type": 16, "ip_proto": 8, "ipv4_src": 32, "ipv4_dst": 32, "ipv6_src": 128, "ipv6_dst": 128,
                    "tcp_src": 16, "tcp_dst": 16, "udp_src": 16, "udp_dst": 16,
                    **{register.field: register.bits for register in pipeline.REGISTERS}}


def _learn_field(name):
    """A field as Ryu's learn specs name it: a header by its NXM name, a register as it is."""
    return (name if name.startswith("reg") else name + "_nxm", 0)


def _ryu_learn(learn):
    specs = [parser.NXFlowSpecMatch(src=value, dst=_learn_field(name), n_bits=LEARN_FIELD_BITS[name])
             for name, value in learn.fixed]
    specs += [parser.NXFlowSpecMatch(src=_learn_field(name), dst=_learn_field(name), n_bits=LEARN_FIELD_BITS[name])
              for name in learn.copy]
    source = (learn.load, 0) if isinstance(learn.load, str) else learn.load
    specs.append(parser.NXFlowSpecLoad(src=source, dst=(learn.register, 0), n_bits=32))
    kind = LimitedLearn if learn.limit or learn.result else parser.NXActionLearn
    extra = {"limit": learn.limit, "result": learn.result} if kind is LimitedLearn else {}
    return kind(table_id=learn.table, specs=specs, idle_timeout=learn.idle_timeout, **extra,
                                priority=learn.priority, cookie=learn.cookie,
                                fin_idle_timeout=learn.fin_idle_timeout)


class LimitedLearn(parser.NXActionLearn):
    """Open vSwitch's learn with a limit (NXAST_LEARN2, Nicira subtype 45), which Ryu 4.34 lacks: no
    flow is learned while the table holds `limit` flows of the learned flow's cookie; with a
    `result` (register, bit), that bit is set to whether the flow is there. Its bytes are
    NXAST_LEARN's with the subtype changed (and the write-result flag), then (limit,
    result_dst_ofs, 2 pad bytes) after the 32-byte head, the result register's header, the
    flow_mod specs, padded to 8 bytes again."""
    SUBTYPE = 45
    WRITE_RESULT = 1 << 2   # NX_LEARN_F_WRITE_RESULT

    def __init__(self, *args, limit, result=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit, self.result = limit, result

    def serialize(self, buf, offset):
        plain = bytearray()
        super().serialize(plain, 0)
        head, specs = bytearray(plain[:32]), bytes(plain[32:])
        struct.pack_into("!H", head, 8, self.SUBTYPE)
        result_header, result_ofs = bytearray(), 0
        if self.result is not None:
            field, result_ofs = self.result
            struct.pack_into("!H", head, 24, struct.unpack_from("!H", head, 24)[0] | self.WRITE_RESULT)
            ofp.oxm_serialize_header(ofp.oxm_from_user_header(field), result_header, 0)
        body = bytes(head) + struct.pack("!IHxx", self.limit, result_ofs) + bytes(result_header) + _whole_specs(specs)
        body += bytes(-len(body) % 8)
        body = body[:2] + struct.pack("!H", len(body)) + body[4:]
        if len(buf) < offset:
            buf.extend(bytes(offset - len(buf)))
        buf[offset:offset + len(body)] = body
        self.len = len(body)   # what the instruction around it counts


def _whole_specs(specs):
    """Learn flow_mod specs with NXAST_LEARN's padding cut off: walked spec by spec up to the zero
    header the padding starts with (a spec's own last bytes may be zero)."""
    i = 0
    while i + 2 <= len(specs):
        header = struct.unpack_from("!H", specs, i)[0]
        if header == 0:
            break
        n_bits, immediate, destination = header & 0x3FF, header & (1 << 13), (header >> 11) & 3
        i += 2 + (((n_bits + 15) // 16) * 2 if immediate else 6)
        if destination in (0, 1):   # match or load: a destination field header and offset
            i += 6
    return specs[:i]


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
    ranges = ({"range_ipv4_min": nat.address, "range_ipv4_max": nat.address_max or ""}
              if addresses.family(nat.address) == 4 else
              {"range_ipv6_min": nat.address, "range_ipv6_max": nat.address_max or ""})
    if nat.port is not None:
        ranges.update(range_proto_min=nat.port, range_proto_max=nat.port_max or nat.port)
    return PaddedNAT(flags=NAT_DST if nat.kind == "dst" else NAT_SRC, **ranges)


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


# Open vSwitch checks each match field's prerequisites against the fields before it: eth_type and
# ip_proto must come before what needs them (Ryu's own order puts Nicira fields such as nw_ttl
# and ip_frag first, and the flow is refused).
PREREQUISITE_ORDER = {"in_port": 0, "eth_dst": 1, "eth_src": 1, "vlan_vid": 1, "eth_type": 2,
                      "ip_proto": 3}


def ryu_match(m):
    """The OFPMatch of a flow's match, its fields in an order Open vSwitch takes."""
    fields = sorted((PREREQUISITE_ORDER.get(name, 4),) + _match_field(name, value) for name, value in m)
    return parser.OFPMatch(_ordered_fields=[field for _, _, field in fields])


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


def delete_matching(datapath, table, m):
    """Delete every flow of `table` that matches at least `m` (learned flows, which no desired
    state lists)."""
    return FlowMod(datapath, table_id=table, command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                   out_group=ofp.OFPG_ANY, match=ryu_match(m))


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


def ct_flush(datapath, zone, ip_proto, orig_dst=None, reply_src=None):
    """Forget the conntrack entries of `zone` for `ip_proto` whose original destination is
    `orig_dst` and whose reply comes from `reply_src` (each an (address, port), or None for any):
    a removed member's connections through one VIP."""
    body = struct.pack("!B7x", ip_proto)
    for kind, (field, port_field), endpoint in ((CT_ORIG_TUPLE, (CT_TUPLE_DST, CT_TUPLE_DST_PORT), orig_dst),
                                                (CT_REPLY_TUPLE, (CT_TUPLE_SRC, CT_TUPLE_SRC_PORT), reply_src)):
        if endpoint is not None:
            address, port = endpoint
            tuple_ = _property(field, addresses.mapped(address)) + _property(port_field, _u16(port))
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


def flow_stats(stats):
    """A flow as the switch reports it (an OFPFlowStats) -> FlowStats: the Flow with its key and
    cookie, for a flow that sets eth_dst and outputs to a port that (mac, port), and the registers
    it loads. Actions are not translated back further: adoption needs the key, where `locate`
    flows say hosts are, and what slot flows choose."""
    fields = {}
    for name, value in stats.match.items():
        fields[name] = tuple(value) if isinstance(value, list) else value
    flow = Flow(stats.table_id, stats.priority, match(**fields), cookie=stats.cookie)
    mac = port = None
    loads = {}
    for instruction in stats.instructions:
        for action in getattr(instruction, "actions", ()):
            if isinstance(action, parser.OFPActionSetField) and action.key == "eth_dst":
                mac = action.value
            elif isinstance(action, parser.OFPActionSetField) and action.key in REGISTER_FIELDS:
                loads[action.key] = action.value
            elif isinstance(action, parser.OFPActionOutput) and action.port < ofp.OFPP_MAX:
                port = action.port
    return FlowStats(flow, (mac, port) if mac and port else None, stats.packet_count, stats.byte_count, loads)


REGISTER_FIELDS = frozenset(r.field for r in pipeline.REGISTERS)


def group_buckets(stats):
    """What an OFPGroupDescStats's buckets load into registers, bucket by bucket (a slot table, as
    flows.vip and flows.dsr write it): what a switch was doing before we came."""
    return tuple({action.key: action.value for action in bucket.actions
                  if isinstance(action, parser.OFPActionSetField) and action.key in REGISTER_FIELDS}
                 for bucket in stats.buckets)


def dump_requests(datapath):
    """The requests that read a switch's flows, groups and meters."""
    return [parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL, out_port=ofp.OFPP_ANY,
                                       out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
            parser.OFPGroupDescStatsRequest(datapath),
            parser.OFPMeterConfigStatsRequest(datapath, meter_id=ofp.OFPM_ALL)]


def poll_request(datapath, table, cookie, cookie_mask):
    """The request that reads the counters of the flows of one table with one cookie (under a
    mask): for lbctl.counters, one VIP at a time."""
    return parser.OFPFlowStatsRequest(datapath, table_id=table, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                      cookie=cookie, cookie_mask=cookie_mask, match=parser.OFPMatch())


def wipe(datapath):
    """Messages that empty every table, group and meter: the start of a switch's first sync."""
    return [parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                              out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
            parser.OFPGroupMod(datapath, command=ofp.OFPGC_DELETE, group_id=ofp.OFPG_ALL),
            parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=ofp.OFPM_ALL)]


def to_ryu(datapath, message):
    """One message of the core (lbctl.core.messages, or a flow/group/meter Change) -> the Ryu
    messages that carry it."""
    if isinstance(message, Change):
        return [change_message(datapath, message)]
    if isinstance(message, PacketOut):
        return [parser.OFPPacketOut(datapath, buffer_id=ofp.OFP_NO_BUFFER, in_port=SPECIAL_PORTS.get(message.in_port, message.in_port),
                                    actions=[parser.OFPActionOutput(SPECIAL_PORTS.get(message.port, message.port))],
                                    data=message.data)]
    if isinstance(message, Barrier):
        return [_with_xid(parser.OFPBarrierRequest(datapath), message.xid)]
    if isinstance(message, DeleteLearned):
        return [delete_matching(datapath, message.table, message.match)]
    if isinstance(message, CtFlush):
        return [ct_flush(datapath, message.zone, message.ip_proto, message.orig_dst, message.reply_src)]
    if isinstance(message, ReadCounters):
        return [_with_xid(poll_request(datapath, message.table, message.cookie, message.mask), message.xid)]
    if isinstance(message, ReadState):
        return dump_requests(datapath)
    if isinstance(message, Wipe):
        return wipe(datapath)
    raise TypeError("no OpenFlow message for %r" % (message,))


def _with_xid(msg, xid):
    msg.xid = xid
    return msg
