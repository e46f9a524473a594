"""NAT-mode VIP flows: conntrack, a slot table per VIP carried by a select group or by multipath,
destination NAT to the member (mode routed), plus source NAT from a pool (mode one-arm).

A VIP here is anything with `id`, `address`, `port`, `protocol` and `members` (each with `id`,
`host` (its host id), `address`, `port`, `weight`), such as `lbctl.model.Vip`. Where members are
on the switch matters only to `host_flows` (one `locate` flow per host); a VIP's own flows depend
only on which of its members are located at all.
"""
from flows import addresses
from flows import pipeline as p
from flows import slots
from flows.ir import (NORMAL, Bucket, Ct, DecTtl, Flow, Group, Move, Multipath, Nat, Output, OutputReg,
                      SelectGroup, SetField, match)
from flows.protocols import CT_EST, CT_NEW, CT_RPL, ETH_TYPE_IP, IP_PROTO, TCP_SYN_ONLY, ct_state


def endpoint(protocol, address, port, side, *pairs, **fields):
    """A match on packets of `protocol` from (side "src") or to (side "dst") address:port."""
    return match(*pairs, ip_proto=IP_PROTO[protocol], **addresses.fields(address, side),
                 **{"%s_%s" % (protocol, side): port}, **fields)


def with_fields(m, **fields):
    """A match with more fields."""
    return tuple(sorted(dict(m, **fields).items()))


def pipeline_flows():
    """The conntrack flows shared by all VIPs, and each table's last resort."""
    ip = ETH_TYPE_IP
    return [
        Flow(p.CLASSIFY.id, p.CLASSIFY.DEFAULT, match(), (Output(NORMAL),)),
        # Established traffic: ct_mark (the VIP id) picks the right flow in the next table.
        Flow(p.CONNTRACK.id, p.CONNTRACK.CT_STATE,
             match(eth_type=ip, ct_state=ct_state(CT_EST, CT_RPL)), goto=p.TO_MEMBER.id),
        Flow(p.CONNTRACK.id, p.CONNTRACK.CT_STATE,
             match(eth_type=ip, ct_state=ct_state(CT_EST | CT_RPL)), goto=p.TO_CLIENT.id),
        # Not a VIP connection after all (e.g. a client talking to a member directly).
        Flow(p.CONNTRACK.id, p.CONNTRACK.DEFAULT, match(), (Output(NORMAL),)),
        Flow(p.SNAT.id, p.SNAT.DEFAULT, match()),       # VIP gone: drop
        # A reply to a pool address, un-SNATed: now undo the VIP's destination NAT.
        Flow(p.UNSNAT.id, p.UNSNAT.CT_STATE, match(eth_type=ip, ct_state=ct_state(CT_EST | CT_RPL)),
             (Ct(zone=p.LB_ZONE, table=p.CONNTRACK.id, nat=Nat()),)),
        Flow(p.UNSNAT.id, p.UNSNAT.DEFAULT, match()),
        Flow(p.SLOT.id, p.SLOT.DEFAULT, match()),       # no eligible member: drop
        Flow(p.TO_MEMBER.id, p.TO_MEMBER.DEFAULT, match()),  # member gone: drop
        Flow(p.LOCATE.id, p.LOCATE.DEFAULT, match()),     # host not located: drop
        # dsr: a connection with a learned pin (reg2 set by dsr_conn) goes straight to its member.
        Flow(p.DSR.id, p.DSR.DEFAULT, match(), goto=p.LOCATE.id),
        Flow(p.TO_CLIENT.id, p.TO_CLIENT.DEFAULT, match()),  # VIP gone: drop
    ]


def host_flows(host, place):
    """Where host `host` (its id) is: the single flow a move of that host rewrites."""
    if place is None:
        return []
    return [Flow(p.LOCATE.id, p.LOCATE.HOST, match((p.HOST_REG, host)),
                 (SetField("eth_dst", place.mac), Output(place.port)), cookie=p.host_cookie(host))]


def vip_flows(vip, located, vip_mac, previous_slots=None, down=frozenset()):
    """All flows, the select group (or None) and the slot table of one VIP, given which member
    hosts (ids) are located, the VIP's MAC, the slot table in force and the ids of members its
    health monitor holds down (they get no new connection; their open ones go on, as draining)."""
    vip_cookie = p.cookie(vip.id)
    lookup = Ct(zone=p.LB_ZONE, table=p.CONNTRACK.id, nat=Nat())
    hop = (DecTtl(),) if vip.mode == "routed" else ()   # routed mode forwards at L3: one hop each way
    to_vip = endpoint(vip.protocol, vip.address, vip.port, "dst")
    flows = [
        Flow(p.CLASSIFY.id, p.CLASSIFY.VIP, to_vip, (lookup,), cookie=vip_cookie),

        Flow(p.TO_CLIENT.id, p.TO_CLIENT.VIP, match(eth_type=addresses.eth_type(vip.address), ct_mark=vip.id),
             hop + (SetField("eth_src", vip_mac),
                    Move("ct_label", "eth_dst", 48, src_ofs=p.CT_LABEL_CLIENT_MAC[0]),
                    Move("ct_label", p.PORT_REG.field, 32, src_ofs=p.CT_LABEL_CLIENT_PORT[0]),
                    OutputReg(p.PORT_REG.field, 0, 16)),
             cookie=vip_cookie),
    ]
    eligible = {}
    commits = {}
    for member in vip.members:
        if member.host not in located:
            continue  # not resolved yet: left out until the controller knows its MAC and port
        member_cookie = p.cookie(vip.id, member.id)
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.MEMBER, endpoint(vip.protocol, member.address, member.port, "src"),
                          (lookup,), cookie=member_cookie))
        deliver = hop + (SetField("eth_src", vip_mac), SetField(p.HOST_REG.field, member.host))
        for priority, state in ((p.TO_MEMBER.MEMBER, {}), (p.TO_MEMBER.MEMBER_NEW, {"ct_state": ct_state(CT_NEW)})):
            # The same delivery twice: a connection's first packet (still new to conntrack) has a
            # flow of its own, whose packet count is the member's new connections.
            flows.append(Flow(p.TO_MEMBER.id, priority,
                              endpoint(vip.protocol, member.address, member.port, "dst", ct_mark=vip.id, **state),
                              deliver, goto=p.LOCATE.id, cookie=member_cookie))
        commits[member.id] = (commit_to(vip, member, p.SNAT.id if vip.mode == "one-arm" else p.TO_MEMBER.id),)
        if member.weight > 0 and member.id not in down:  # weight 0 drains: no new connections,
            eligible[member.id] = member.weight          # established ones continue
    # A packet of a connection committed already that conntrack still calls new (a retransmitted
    # SYN, a second datagram before any reply) comes out of the lookup NATed to its member, so the
    # VIP's new-connection flow no longer matches it: it goes on to that member like the requests
    # of an established connection. (Left to table 20's NORMAL it would be flooded, lost.)
    flows.append(Flow(p.CONNTRACK.id, p.CONNTRACK.VIP,
                      match(eth_type=addresses.eth_type(vip.address), ct_state=ct_state(CT_NEW), ct_mark=vip.id),
                      goto=p.SNAT.id if vip.mode == "one-arm" else p.TO_MEMBER.id, cookie=vip_cookie))
    if vip.mode == "one-arm":
        flows += snat_flows(vip)
    table = slots.assign(previous_slots, eligible)
    new_to_vip = with_fields(to_vip, ct_state=ct_state(CT_NEW))
    new_connection = new_to_vip
    if vip.protocol == "tcp" and table is not None:
        # Only a SYN opens a connection. Any other TCP packet conntrack does not know (a late
        # packet of a connection cut by a member's removal, say) is refused with a reset rather
        # than committed to some member, which would answer it with a reset of its own and
        # leave a conntrack entry behind, sometimes with a rewritten client port.
        new_connection = with_fields(new_to_vip, tcp_flags=TCP_SYN_ONLY)
        flows.append(Flow(p.CONNTRACK.id, p.CONNTRACK.STRAY, new_to_vip, goto=p.REJECT.id, cookie=vip_cookie))
    spread_flows, group = spread(vip, table, commits, p.CONNTRACK.id, p.CONNTRACK.VIP, new_connection)
    return flows + spread_flows, group, table


def spread(vip, table, action_of, at_table, priority, new_connection):
    """Flows (and the group) that send a VIP's new connections to the member of the slot they
    hash to: `action_of[member id]` is what is done with a connection once its member is chosen.

    TCP spread per connection goes through a dp_hash select group of SLOTS equal buckets, one per
    slot: its hash covers TCP ports and costs no datapath flow per connection. Open vSwitch's
    dp_hash leaves UDP ports out and cannot hash the client address alone, so UDP and source_ip
    VIPs hash with `multipath` into SLOTS slot flows instead (one datapath flow per connection or
    per client)."""
    vip_cookie = p.cookie(vip.id)
    if table is None:   # no live member: refuse at once (reset / unreachable) rather than time out
        return [Flow(at_table, priority, new_connection, goto=p.REJECT.id, cookie=vip_cookie)], None
    if vip.protocol == "tcp" and vip.algorithm == "5-tuple":
        # One Bucket per member, listed in each of its slots: 256 objects per VIP cost memory and
        # garbage collector time (and render.group_mod encodes a member's bucket once).
        bucket_of = {owner: Bucket(1, actions) for owner, actions in action_of.items()}
        buckets = tuple(bucket_of[owner] for owner in table)
        return ([Flow(at_table, priority, new_connection, (Group(p.group_id(vip.id)),), cookie=vip_cookie)],
                SelectGroup(p.group_id(vip.id), buckets))
    fields = "nw_src" if vip.algorithm == "source_ip" else "symmetric_l3l4+udp"
    flows = [Flow(at_table, priority, new_connection,
                  (Multipath(fields, slots.SLOTS, p.SLOT_REG.field, 8),), goto=p.SLOT.id, cookie=vip_cookie)]
    for slot, owner in enumerate(table):
        flows.append(Flow(p.SLOT.id, p.SLOT.VIP, endpoint(vip.protocol, vip.address, vip.port, "dst", (p.SLOT_REG, slot)),
                          action_of[owner], cookie=p.cookie(vip.id, owner)))
    return flows, None


def snat_flows(vip):
    """One-arm: every request of the VIP's connections gets a source address and port from the
    pool (a second conntrack entry, in SNAT_ZONE; committed once, applied after), and replies to
    a pool address are un-SNATed before the VIP's own entry un-DNATs them."""
    vip_cookie = p.cookie(vip.id)
    pool = sorted(vip.snat_addresses, key=addresses.to_int)
    low, high = vip.snat_ports
    source_nat = Nat("src", pool[0], low, pool[-1] if len(pool) > 1 else None, high if high != low else None)
    flows = [
        Flow(p.CONNTRACK.id, p.CONNTRACK.VIP,
             match(eth_type=addresses.eth_type(vip.address), ct_state=ct_state(CT_EST, CT_RPL), ct_mark=vip.id),
             goto=p.SNAT.id, cookie=vip_cookie),
        Flow(p.SNAT.id, p.SNAT.VIP, match(eth_type=addresses.eth_type(vip.address), ct_mark=vip.id),
             (Ct(zone=p.SNAT_ZONE, table=p.TO_MEMBER.id, commit=True, nat=source_nat,
                 exec_=(SetField("ct_mark", vip.id),)),), cookie=vip_cookie),
    ]
    for address in pool:
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.POOL, match(**addresses.fields(address, "dst")),
                          (Ct(zone=p.SNAT_ZONE, table=p.UNSNAT.id, nat=Nat()),), cookie=vip_cookie))
    return flows


def commit_to(vip, member, then):
    """A new connection's action once its member is chosen: commit it with destination NAT to the
    member, and record in conntrack the VIP (ct_mark) and where the request came from (ct_label)
    for the replies; then continue in table `then`."""
    label_mac_ofs, label_mac_bits = p.CT_LABEL_CLIENT_MAC
    label_port_ofs, label_port_bits = p.CT_LABEL_CLIENT_PORT
    return Ct(zone=p.LB_ZONE, table=then, commit=True,
              nat=Nat("dst", member.address, member.port),
              exec_=(SetField("ct_mark", vip.id),
                     Move("eth_src", "ct_label", label_mac_bits, dst_ofs=label_mac_ofs),
                     Move("in_port", "ct_label", label_port_bits, dst_ofs=label_port_ofs)))


def departures(before, after):
    """What a change of VIPs takes away: (VIP as it was, the members it loses, whether the VIP goes
    as a whole) for each VIP it touches. A VIP deleted, or moved to another address, port,
    protocol or mode, loses every member; otherwise the members removed from it. Draining keeps a
    member: it takes nothing away. A VIP set keeps the very VIP objects a change leaves alone, so
    those are passed over at once."""
    now = {v.id: v for v in after}
    for vip in before:
        kept = now.get(vip.id)
        if kept is vip:
            continue
        if kept is None or kept.mode != vip.mode or kept.service != vip.service:
            yield vip, vip.members, True
            continue
        remaining = {m.id for m in kept.members}
        gone = tuple(m for m in vip.members if m.id not in remaining)
        if gone:
            yield vip, gone, False


def cut_members(before, after):
    """The (VIP, member) pairs of NAT-mode VIPs whose connections a change of VIPs cuts. Their
    conntrack entries must go too: nothing would ever close them (their packets no longer pass
    conntrack), and a client that reuses the port of one would be refused for a day (an
    established TCP entry's lifetime)."""
    return [(vip, member) for vip, gone, _ in departures(before, after) if vip.mode != "dsr" for member in gone]
