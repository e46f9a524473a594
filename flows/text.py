"""Desired-state values -> the text `ovs-ofctl -O OpenFlow13 dump-flows --no-stats` (and
`dump-groups`, `dump-meters`) prints for them, so golden files, docs/pipeline.md and a live dump
read alike. Pure: no Ryu."""
from flows import pipeline
from flows.ir import (CONTROLLER, Ct, DecTtl, Group, Learn, Meter, Move, Multipath, Output, OutputReg, PopVlan,
                      PushVlan, Resubmit, SelectGroup, SetField)
from flows.protocols import (ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_VLAN, IP_PROTO, VLAN_ID_MASK,
                             VLAN_PRESENT)

_PROTOCOLS = {(ETH_TYPE_ARP, None): "arp", (ETH_TYPE_IP, None): "ip", (ETH_TYPE_IPV6, None): "ipv6"}
_PROTOCOLS.update({(ETH_TYPE_IP, number): name for name, number in IP_PROTO.items() if name != "icmpv6"})
_PROTOCOLS.update({(ETH_TYPE_IPV6, number): name + "6" for name, number in IP_PROTO.items() if name != "icmp"})
_PROTOCOLS[(ETH_TYPE_IPV6, IP_PROTO["icmpv6"])] = "icmp6"
_MATCH_NAMES = [  # in the order ovs-ofctl prints them (vlan_vid under two names: see _vlan_text)
    ("in_port", "in_port"), ("vlan_vid", None), ("eth_src", "dl_src"), ("eth_dst", "dl_dst"), ("ipv4_src", "nw_src"), ("ipv4_dst", "nw_dst"),
    ("ipv6_src", "ipv6_src"), ("ipv6_dst", "ipv6_dst"),
    ("arp_spa", "arp_spa"), ("arp_tpa", "arp_tpa"), ("arp_op", "arp_op"),
    ("tcp_src", "tp_src"), ("tcp_dst", "tp_dst"), ("udp_src", "tp_src"), ("udp_dst", "tp_dst"),
    ("icmpv4_type", "icmp_type"), ("nw_ttl", "nw_ttl"),
]
_FRAG = {(1, 1): "yes", (0, 1): "no", (1, 3): "first", (3, 3): "later"}
_CT_STATE_BITS = ["new", "est", "rel", "rpl", "inv", "trk"]
_TCP_FLAG_BITS = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"]
_NXM_NAMES = {"eth_src": ("NXM_OF_ETH_SRC", 48), "eth_dst": ("NXM_OF_ETH_DST", 48),
              "arp_sha": ("NXM_NX_ARP_SHA", 48), "arp_tha": ("NXM_NX_ARP_THA", 48),
              "arp_spa": ("NXM_OF_ARP_SPA", 32), "arp_tpa": ("NXM_OF_ARP_TPA", 32),
              "ct_label": ("NXM_NX_CT_LABEL", 128),
              "ipv4_src": ("NXM_OF_IP_SRC", 32), "ipv4_dst": ("NXM_OF_IP_DST", 32),
              "ipv6_src": ("NXM_NX_IPV6_SRC", 128), "ipv6_dst": ("NXM_NX_IPV6_DST", 128),
              "tcp_src": ("NXM_OF_TCP_SRC", 16), "tcp_dst": ("NXM_OF_TCP_DST", 16),
              "udp_src": ("NXM_OF_UDP_SRC", 16), "udp_dst": ("NXM_OF_UDP_DST", 16),
              "in_port": ("OXM_OF_IN_PORT", 32), "vlan_vid": ("OXM_OF_VLAN_VID", 12)}
_NXM_NAMES.update({r.field: ("NXM_NX_%s" % r.field.upper(), r.bits) for r in pipeline.REGISTERS})
_SET_FIELD_NAMES = {"ipv4_src": "ip_src", "ipv4_dst": "ip_dst", "icmpv4_type": "icmp_type"}
_HEX_FIELDS = {"ct_mark", "ct_label"} | {r.field for r in pipeline.REGISTERS}


def match_text(m):
    fields = dict(m)
    parts = []
    if "ct_state" in fields:
        parts.append("ct_state=" + _flags_text(fields["ct_state"], _CT_STATE_BITS))
    if "ct_mark" in fields:
        parts.append("ct_mark=%s" % _value(fields["ct_mark"]))
    if "eth_type" in fields:
        parts.append(_PROTOCOLS[(fields["eth_type"], fields.get("ip_proto"))])
    for register in pipeline.REGISTERS:
        if register.field in fields:
            parts.append("%s=%s" % (register.field, _value(fields[register.field])))
    for field, name in _MATCH_NAMES:
        if field in fields:
            value = fields[field]
            if field == "vlan_vid":
                parts.append(_vlan_text(value))
            else:
                parts.append("%s=%s" % (name, "/".join(map(str, value)) if isinstance(value, tuple) else value))
    if "ip_frag" in fields:
        parts.append("nw_frag=" + _FRAG[fields["ip_frag"]])
    if "tcp_flags" in fields:
        parts.append("tcp_flags=" + _flags_text(fields["tcp_flags"], _TCP_FLAG_BITS))
    return ",".join(parts)


def _vlan_text(value):
    """A vlan_vid match as ovs-ofctl prints it: dl_vlan=10 for one VLAN id, else the TCI bits it
    matches (vlan_tci=0x1000/0x1000: any tag; vlan_tci=0x0000/0x1fff: no tag)."""
    vid, mask = value if isinstance(value, tuple) else (value, VLAN_PRESENT | VLAN_ID_MASK)
    if mask == VLAN_PRESENT | VLAN_ID_MASK and vid & VLAN_PRESENT:
        return "dl_vlan=%d" % (vid & VLAN_ID_MASK)
    return "vlan_tci=%#06x/%#06x" % (vid, mask)


def _flags_text(value_mask, names):
    """(value, mask) of a flags field -> "+new+trk": one +name or -name per bit in the mask."""
    value, mask = value_mask
    return "".join(("+" if value & (1 << i) else "-") + name for i, name in enumerate(names) if mask & (1 << i))


def _hex(value):
    """Integers the way ovs-ofctl prints hexadecimal fields: 0, 0x1, 0x10."""
    return "%#x" % value if value else "0"


def _value(value):
    """A hexadecimal field's value, or value/mask."""
    return "%s/%s" % (_hex(value[0]), _hex(value[1])) if isinstance(value, tuple) else _hex(value)


def _field_text(field, ofs, n_bits):
    name, width = _NXM_NAMES[field]
    if (ofs, n_bits) == (0, width):
        return "%s[]" % name
    return "%s[%d]" % (name, ofs) if n_bits == 1 else "%s[%d..%d]" % (name, ofs, ofs + n_bits - 1)


def action_text(action):
    if isinstance(action, Output):
        if action.port == CONTROLLER:
            return "CONTROLLER:65535"
        return action.port if isinstance(action.port, str) else "output:%d" % action.port
    if isinstance(action, SetField):
        value = _hex(action.value) if action.field in _HEX_FIELDS else action.value
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
    if isinstance(action, PushVlan):
        return "push_vlan:%#x" % ETH_TYPE_VLAN
    if isinstance(action, PopVlan):
        return "pop_vlan"
    if isinstance(action, Resubmit):
        return "resubmit(,%d)" % action.table
    if isinstance(action, Learn):
        return _learn_text(action)
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


def _learn_text(learn):
    fixed = dict(learn.fixed)
    head = ["table=%d" % learn.table, "idle_timeout=%d" % learn.idle_timeout,
            "fin_idle_timeout=%d" % learn.fin_idle_timeout, "priority=%d" % learn.priority,
            "cookie=%#x" % learn.cookie] + (["limit=%d" % learn.limit] if learn.limit else []) + (
        ["result_dst=%s" % _field_text(learn.result[0], learn.result[1], 1)] if learn.result else []) + [
        "eth_type=%#x" % fixed["eth_type"], "nw_proto=%d" % fixed["ip_proto"]]
    copied = [_field_text(field, 0, _NXM_NAMES[field][1]) for field in learn.copy]
    source = (_field_text(learn.load, 0, _NXM_NAMES[learn.load][1]) if isinstance(learn.load, str)
              else "%#x" % learn.load)
    load = "load:%s->%s" % (source, _field_text(learn.register, 0, _NXM_NAMES[learn.register][1]))
    return "learn(%s)" % ",".join(head + copied + [load])


def _nat_range(nat):
    low, high = nat.address, nat.address_max
    if ":" in low:   # IPv6 addresses are bracketed in a range
        low, high = "[%s]" % low, high and "[%s]" % high
    addresses = low + ("-" + high if high else "")
    if nat.port is None:
        return addresses
    return addresses + ":%d" % nat.port + ("-%d" % nat.port_max if nat.port_max else "")


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


def describe(item):
    """A flow, group or meter, as a dump shows it."""
    if isinstance(item, SelectGroup):
        return group_text(item)
    if isinstance(item, Meter):
        return meter_text(item)
    return flow_text(item)
