"""NAT-mode VIPs (routed, one-arm): conntrack, a slot table per VIP carried by a select group or by
multipath, a commit per member with destination NAT (one-arm: plus source NAT from a pool), and
the pipeline's generic tables that carry every connection afterwards by its conntrack entry.

A connection's entry holds all the per-connection facts (flows.pipeline: ct_mark, ct_label): the
VIP (and whether it is routed), the client's MAC and switch port, the VIP's redundancy group and the
member's host. So to_member and to_client are a few flows for all VIPs, and a VIP costs flows for
its address and port, its spread, and two per member: its replies' catch and its commit.

A VIP here is anything with `id`, `address`, `port`, `protocol`, `mode`, `algorithm`,
`redundancy_group` and `members` (each with `id`, `host` (its host id), `address`, `port`,
`weight`), such as `lbctl.model.Vip`; its networks (where its clients reach it, where its members
are) come as flows.networks describes them. A connection lives in its members' network's zones. Where members are on the switch matters only to host_flows
(one `locate` flow per host); a VIP's own flows depend only on which of its members are located.
"""
from dataclasses import replace

from flows import addresses
from flows import pipeline as p
from flows import slots
from flows.ir import (CONTROLLER, NORMAL, Bucket, Ct, DecTtl, Flow, Group, Move, Multipath, Nat, Output, Resubmit,
                      SelectGroup, SetField, match)
from flows.networks import exits, to_host
from flows.ownership import own_mac
from flows.protocols import (CT_EST, CT_NEW, CT_REL, CT_RPL, ETH_TYPE_IP, IP_PROTO, IP_PROTO_ICMP, IP_PROTO_TCP,
                             IP_PROTO_UDP, TCP_SYN_ONLY, ct_state)

ROUTED = (p.VIP_ROUTED, p.VIP_ROUTED)   # a ct_mark / VIP register match: a routed VIP
FRAGMENT = (1, 1)                        # ip_frag: any fragment of a datagram
TTL_ENDS_HERE = (0, 1)                   # nw_ttl values a hop here ends (nw_ttl takes no mask)


def endpoint(protocol, address, port, side, *pairs, **fields):
    """A match on packets of `protocol` from (side "src") or to (side "dst") address:port."""
    return match(*pairs, ip_proto=IP_PROTO[protocol], **addresses.fields(address, side),
                 **{"%s_%s" % (protocol, side): port}, **fields)


def with_fields(m, **fields):
    """A match with more fields."""
    return tuple(sorted(dict(m, **fields).items()))


def vip_register(vip):
    """What classify loads into the VIP register for `vip`."""
    return vip.id | (p.VIP_ROUTED if vip.mode == "routed" else 0)


def lookup(mode, network_id):
    """The conntrack lookup of a request to a VIP of `mode` whose members are on network
    `network_id`: its DNAT zone; one-arm's also its SNAT zone, in the same pass (no recirculation
    between them)."""
    if mode == "one-arm":
        return (Ct(zone=p.lb_zone(network_id), nat=Nat()),
                Ct(zone=p.snat_zone(network_id), table=p.CONNTRACK.id, nat=Nat()))
    return (Ct(zone=p.lb_zone(network_id), table=p.CONNTRACK.id, nat=Nat()),)


def reply_lookup(network_id):
    """A reply (from a member, or to a pool address) on network `network_id`: un-SNAT, then
    un-DNAT, in one pass."""
    return (Ct(zone=p.snat_zone(network_id), nat=Nat()), Ct(zone=p.lb_zone(network_id), table=p.CONNTRACK.id, nat=Nat()))


def pipeline_flows(settings):
    """The flows every NAT-mode connection goes through after its conntrack lookup, for all VIPs."""
    own = p.own_mac_match(settings.cluster_id)
    ip = dict(eth_type=ETH_TYPE_IP)
    deliver = own_mac(settings, "eth_src", "ct_label", p.CT_LABEL_MAC[0]) + (
        Move("ct_label", p.HOST_REG.field, p.CT_LABEL_HOST[1], src_ofs=p.CT_LABEL_HOST[0]), SetField("in_port", 0))
    reply = own_mac(settings, "eth_src", "ct_label", p.CT_LABEL_MAC[0]) + (
        Move("ct_label", "eth_dst", 48, src_ofs=p.CT_LABEL_CLIENT_MAC[0]),
        Move("ct_label", p.PORT_REG.field, p.CT_LABEL_CLIENT_PORT[1], src_ofs=p.CT_LABEL_CLIENT_PORT[0]),
        Move("ct_label", p.VLAN_REG.field, p.CT_LABEL_CLIENT_VLAN[1], src_ofs=p.CT_LABEL_CLIENT_VLAN[0]),
        SetField("in_port", 0))
    flows = [
        *exits(Flow(p.CLASSIFY.id, p.CLASSIFY.DEFAULT, match(), (Output(NORMAL),))),
        # Not to a VIP, and no connection of ours: a member talking to someone directly, an ICMP
        # error about something else. Switched, unless it was sent to the balancer's MAC.
        Flow(p.CONNTRACK.id, p.CONNTRACK.NOT_OURS_TO_US, match((p.VIP_REG, 0), ct_mark=0, eth_dst=own)),
        *exits(Flow(p.CONNTRACK.id, p.CONNTRACK.NOT_OURS, match((p.VIP_REG, 0), ct_mark=0), (Output(NORMAL),))),
        # Only a SYN opens a TCP connection. Any other TCP packet conntrack does not know (a late
        # packet of a connection cut by a member's removal, say) is refused with a reset rather
        # than committed to some member.
        Flow(p.CONNTRACK.id, p.CONNTRACK.STRAY,
             match(ct_state=ct_state(CT_NEW), ct_mark=0, ip_proto=IP_PROTO_TCP, **ip), goto=p.REJECT.id),
        Flow(p.CONNTRACK.id, p.CONNTRACK.UNSERVED, match(ct_mark=0)),
        # Committed already but still new to conntrack (a retransmitted SYN, a second datagram
        # before any reply): NATed by the lookup, it goes on to its member.
        Flow(p.CONNTRACK.id, p.CONNTRACK.COMMITTED, match(ct_state=ct_state(CT_NEW)), goto=p.TO_MEMBER.id),
        Flow(p.CONNTRACK.id, p.CONNTRACK.DEFAULT, match()),
    ]
    for state in (CT_EST, CT_REL):
        flows += [Flow(p.CONNTRACK.id, p.CONNTRACK.CT_STATE, match(ct_state=ct_state(state, CT_RPL), **ip),
                       goto=p.TO_MEMBER.id),
                  Flow(p.CONNTRACK.id, p.CONNTRACK.CT_STATE, match(ct_state=ct_state(state | CT_RPL), **ip),
                       goto=p.TO_CLIENT.id)]
    flows += [
        Flow(p.TO_MEMBER.id, p.TO_MEMBER.ROUTED, match(ct_mark=ROUTED, **ip), (DecTtl(),) + deliver, goto=p.LOCATE.id),
        Flow(p.TO_MEMBER.id, p.TO_MEMBER.DELIVER, match(**ip), deliver, goto=p.LOCATE.id),
        Flow(p.TO_CLIENT.id, p.TO_CLIENT.ROUTED, match(ct_mark=ROUTED, **ip), (DecTtl(),) + reply, goto=p.EGRESS.id),
        Flow(p.TO_CLIENT.id, p.TO_CLIENT.DELIVER, match(**ip), reply, goto=p.EGRESS.id),
        Flow(p.COMMIT.id, p.COMMIT.DEFAULT, match()),
        Flow(p.SLOT.id, p.SLOT.DEFAULT, match()),
        Flow(p.HAIRPIN.id, p.HAIRPIN.DEFAULT, match()),
        Flow(p.LOCATE.id, p.LOCATE.DEFAULT, match()),
    ]
    # A routed VIP's new connection whose TTL would run out at this hop goes to the controller,
    # which answers ICMP time exceeded as a router does, before anything is committed for it (a
    # SYN with TTL 1 leaves no conntrack entry behind).
    flows += [Flow(p.COMMIT.id, p.COMMIT.TTL, match((p.VIP_REG, ROUTED), nw_ttl=ttl, **ip), (Output(CONTROLLER),),
                   meter=p.REJECT_METER) for ttl in TTL_ENDS_HERE]
    return flows


def shared(flow):
    """The flow to install for a key that several VIPs name. A UDP VIP's fragment flow matches its
    address alone (a fragment's ports are not there to match): when several UDP VIPs share the
    address, it cannot say which VIP a new fragmented datagram is for, so it names none. The
    fragments of a datagram of a known connection still follow it (conntrack's entry holds the
    VIP); those of a new one are dropped rather than sent to another VIP's service. Any other
    shared flow is the same for every VIP that names it."""
    if (flow.table, flow.priority) != (p.CLASSIFY.id, p.CLASSIFY.VIP_FRAGMENT):
        return flow
    return replace(flow, actions=tuple(a for a in flow.actions
                                       if not (isinstance(a, SetField) and a.field == p.VIP_REG.field)))


def host_flows(host, address, place, network):
    """The flows of one member host (its id) on `network`: where it is (the single flow a move of
    it rewrites); its UDP fragments through conntrack (their ports are not there to match); and,
    when it reaches itself through a routed VIP, the hairpin."""
    cookie = p.host_cookie(host)
    here = (p.NETWORK_REG, network.id)
    flows = [
        Flow(p.CLASSIFY.id, p.CLASSIFY.MEMBER_FRAGMENT,
             match(here, ip_proto=IP_PROTO_UDP, ip_frag=FRAGMENT, **addresses.fields(address, "src")),
             reply_lookup(network.id), cookie=cookie),
        Flow(p.TO_MEMBER.id, p.TO_MEMBER.HAIRPIN,
             match(here, ct_mark=ROUTED, **addresses.fields(address, "src"), **{addresses.field(address, "dst"): address}),
             goto=p.HAIRPIN.id, cookie=cookie)]
    if place is not None:
        flows.append(Flow(p.LOCATE.id, p.LOCATE.HOST, match((p.HOST_REG, host)), to_host(network, place.port, place.mac),
                          cookie=cookie))
    return flows


def vip_flows(vip, located, previous_slots=None, down=frozenset(), networks=None, pickup=False):
    """All flows, the select group (or None) and the slot table of one NAT-mode VIP, given which
    member hosts (ids) are located, the slot table in force, the ids of members its health
    monitor holds down (they get no new connection; their open ones go on, as draining) and
    `networks`: (the VIP's network, its members'). With `pickup` (this switch just took the VIP's
    group over from a failed one), a TCP packet conntrack does not know is spread and committed
    like a SYN: a connection the failed switch carried hashes to the same slot, so it goes on
    with the same member (when the slot tables are the same)."""
    clients, members = networks
    here = (p.NETWORK_REG, clients.id)
    vip_cookie = p.cookie(vip.id)
    register = vip_register(vip)
    to_vip = endpoint(vip.protocol, vip.address, vip.port, "dst", here)
    request = (SetField(p.VIP_REG.field, register),) + lookup(vip.mode, members.id)
    flows = [Flow(p.CLASSIFY.id, p.CLASSIFY.VIP, to_vip, request, cookie=vip_cookie)]
    if vip.protocol == "udp":   # fragments carry no port: the VIP's address picks them
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.VIP_FRAGMENT,
                          match(here, ip_proto=IP_PROTO_UDP, ip_frag=FRAGMENT, **addresses.fields(vip.address, "dst")),
                          request, cookie=vip_cookie))
    if vip.mode == "routed":
        flows.append(Flow(p.HAIRPIN.id, p.HAIRPIN.VIP, match(ct_mark=register, eth_type=addresses.eth_type(vip.address)),
                          (Ct(zone=p.snat_zone(members.id), table=p.TO_MEMBER.id, commit=True, nat=Nat("src", vip.address),
                              exec_=(SetField("ct_mark", register), Move("ct_label", "ct_label", 128))),),
                          cookie=vip_cookie))
    choose = {}
    eligible = {}
    for member in vip.members:
        if member.host not in located:
            continue  # not resolved yet: left out until the controller knows its MAC and port
        member_cookie = p.cookie(vip.id, member.id)
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.MEMBER,
                          endpoint(vip.protocol, member.address, member.port, "src", (p.NETWORK_REG, members.id)),
                          reply_lookup(members.id), cookie=member_cookie))
        flows.append(Flow(p.COMMIT.id, p.COMMIT.MEMBER, match((p.VIP_REG, register), (p.MEMBER_REG, member.id),
                                                             eth_type=addresses.eth_type(vip.address)),
                          commit(vip, member, register, clients.id, members.id), cookie=member_cookie))
        choose[member.id] = ((SetField(p.MEMBER_REG.field, member.id),), p.COMMIT.id)
        if member.weight > 0 and member.id not in down:  # weight 0 drains: no new connections,
            eligible[member.id] = member.weight          # established ones continue
    if vip.mode == "one-arm":
        flows += [Flow(p.CLASSIFY.id, p.CLASSIFY.POOL, match(here, **addresses.fields(address, "dst")),
                       reply_lookup(members.id), cookie=vip_cookie) for address in vip.snat_addresses]
        # An ICMP error about its replies, sent to the VIP, must meet its DNAT entry first, then
        # its SNAT one (the order a request meets them): classify's ICMP_ERROR flows use the
        # order of replies, which suits every other error.
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.VIP_ICMP,
                          match(here, ip_proto=IP_PROTO_ICMP, **addresses.fields(vip.address, "dst")),
                          lookup(vip.mode, members.id), cookie=vip_cookie))
    table = slots.assign(previous_slots, eligible)
    new = match((p.VIP_REG, register), ct_state=ct_state(CT_NEW), ct_mark=0)
    if vip.protocol == "tcp" and not pickup:   # only a SYN opens a connection (see CONNTRACK.STRAY)
        new = with_fields(new, eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_TCP, tcp_flags=TCP_SYN_ONLY)
    slot_actions = None if table is None else tuple((owner,) + choose[owner] for owner in table)
    spread_flows, group = spread(vip, slot_actions, p.CONNTRACK.id, p.CONNTRACK.VIP, new)
    return flows + spread_flows, group, table


def commit(vip, member, register, clients_id, members_id):
    """A new connection's commit once its member is chosen: destination NAT to the member, and in
    the entry the VIP (ct_mark) and what to_member and to_client need (ct_label: the VIP's MAC on
    its network `clients_id`, where the client is); one-arm then source NAT from the pool, in the
    same pass. In the zones of the members' network `members_id`. On to to_member."""
    suffix = p.mac_suffix(clients_id, vip.redundancy_group)
    record = (SetField("ct_mark", register), SetField("ct_label", p.ct_label(suffix, member.host)),
              Move("eth_src", "ct_label", 48, dst_ofs=p.CT_LABEL_CLIENT_MAC[0]),
              Move("in_port", "ct_label", p.CT_LABEL_CLIENT_PORT[1], dst_ofs=p.CT_LABEL_CLIENT_PORT[0]),
              Move(p.VLAN_REG.field, "ct_label", p.CT_LABEL_CLIENT_VLAN[1], dst_ofs=p.CT_LABEL_CLIENT_VLAN[0]))
    dnat = Nat("dst", member.address, member.port)
    if vip.mode != "one-arm":
        return (Ct(zone=p.lb_zone(members_id), table=p.TO_MEMBER.id, commit=True, nat=dnat, exec_=record),)
    pool = sorted(vip.snat_addresses, key=addresses.to_int)
    low, high = vip.snat_ports
    snat = Nat("src", pool[0], low, pool[-1] if len(pool) > 1 else None, high if high != low else None)
    return (Ct(zone=p.lb_zone(members_id), commit=True, nat=dnat, exec_=record),
            Ct(zone=p.snat_zone(members_id), table=p.TO_MEMBER.id, commit=True, nat=snat, exec_=record))


def spread(vip, slot_actions, at_table, priority, new_connection, first=()):
    """The flow (and the group) that sends a VIP's new connections (`new_connection` in table
    `at_table`) to the slot they hash to, after the actions `first`. `slot_actions`: SLOTS
    entries (member id, actions, the table to go on in or None), what a connection hashed to that
    slot gets; None: no live member, and new connections are refused at once (a reset, an
    unreachable).

    TCP spread per connection goes through a dp_hash select group of SLOTS buckets, one per slot:
    its hash covers TCP ports and costs no datapath flow per connection. Open vSwitch's dp_hash
    leaves UDP ports out and cannot hash the client address alone, so UDP and source_ip VIPs hash
    with `multipath` into SLOTS slot flows instead (one datapath flow per connection or per client)."""
    vip_cookie = p.cookie(vip.id)
    if slot_actions is None:
        return [Flow(at_table, priority, new_connection, first, goto=p.REJECT.id, cookie=vip_cookie)], None
    if vip.protocol == "tcp" and vip.algorithm == "5-tuple":
        # Slots with the same actions share one Bucket: 256 objects per VIP cost memory and garbage
        # collector time (and the shell encodes a bucket once however often it is listed).
        bucket_of = {}
        for _, actions, then in slot_actions:
            key = (actions, then)
            if key not in bucket_of:
                bucket_of[key] = Bucket(1, actions + ((Resubmit(then),) if then is not None else ()))
        buckets = tuple(bucket_of[(actions, then)] for _, actions, then in slot_actions)
        return ([Flow(at_table, priority, new_connection, first + (Group(p.group_id(vip.id)),), cookie=vip_cookie)],
                SelectGroup(p.group_id(vip.id), buckets))
    fields = "nw_src" if vip.algorithm == "source_ip" else "symmetric_l3l4+udp"
    register = vip_register(vip)
    flows = [Flow(at_table, priority, new_connection, first + (Multipath(fields, slots.SLOTS, p.SLOT_REG.field, 8),),
                  goto=p.SLOT.id, cookie=vip_cookie)]
    for slot, (owner, actions, then) in enumerate(slot_actions):
        flows.append(Flow(p.SLOT.id, p.SLOT.VIP, match((p.VIP_REG, register), (p.SLOT_REG, slot)), actions,
                          goto=then, cookie=p.cookie(vip.id, owner)))
    return flows, None


def departures(before, after):
    """What a change of VIPs takes away: (VIP as it was, the members it loses, whether the VIP goes
    as a whole) for each VIP it touches. A VIP deleted, or moved to another address, port,
    protocol or mode, loses every member; otherwise the members removed from it. Draining keeps a
    member: it takes nothing away. A configuration keeps the very VIP objects a change leaves
    alone, so those are passed over at once."""
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
