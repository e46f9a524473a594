"""Mode dsr (direct server return): the switch only rewrites the destination MAC. The IP header is
untouched, the member holds the VIP on its loopback and replies straight to the client, so the
switch sees one direction only and conntrack has nothing to track.

No state per connection either, in the steady state: the switch's hash spreads every packet over
the VIP's slot table (a dp_hash select group: no datapath flow per connection), and a connection's
packets all hash to the same slot, so they reach the same member while its slot keeps its owner.

When a slot changes owner (a member added, drained, held down, reweighted), the connections that
began before the change may still be open on the old owner. For `grace` seconds the slot is
"moved": a new connection (a SYN) goes to the new owner and is pinned (a flow learned in
dsr_conn, at most DSR_PIN_LIMIT of them); any other packet goes to its pin, or else to the old
owner. Only moved slots pay a lookup per connection; when the grace ends, the slot is plain again
(its pins idle out). A slot whose old owner left the VIP, or is no longer located, moves at once:
its connections are cut with it, as a removal does in the NAT modes. Without SYNs to tell new from
old, a UDP VIP's moved slot keeps its old owner until the grace ends.

An ICMP error sent to the VIP (about the replies its members send straight to clients: a
router's "fragmentation needed", say) cannot be told apart by connection without state: it goes
to every located member, and each member's kernel takes the errors about its own connections and
ignores the rest, so path MTU discovery works.
"""
from flows import addresses
from flows import pipeline as p
from flows.ir import NORMAL, Flow, Learn, Move, Multipath, Output, Resubmit, SetField, match
from flows.networks import ICMP_ERRORS as ERRORS, exits
from flows.protocols import ETH_TYPE_IP, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, TCP_SYN_ONLY
from flows.slots import SLOTS, assign, moved
from flows.vip import FRAGMENT, departures, endpoint, spread, with_fields

SYN = dict(eth_type=ETH_TYPE_IP, ip_proto=IP_PROTO_TCP, tcp_flags=TCP_SYN_ONLY)
FIVE_TUPLE = (p.NETWORK_REG.field, "ipv4_src", "ipv4_dst", "tcp_src", "tcp_dst")   # (a tenant's network too)


def pipeline_flows(grace):
    """The moved slots' tables, shared by every dsr VIP: pins live as long as a grace period."""
    # The learn says whether the pin is in place: past the pins' limit (a flood of SYNs during a
    # grace), a new connection goes to the old owner, where its unpinned packets will follow it.
    learn = Learn(p.DSR_CONN.id, (("eth_type", ETH_TYPE_IP), ("ip_proto", IP_PROTO_TCP)), FIVE_TUPLE,
                  p.HOST_REG.field, p.PIN_REG.field, int(grace), p.DSR_FIN_IDLE_TIMEOUT, p.DSR_CONN.PIN,
                  p.PINS_COOKIE, limit=p.DSR_PIN_LIMIT, result=(p.PIN_REG.field, p.PIN_LEARNED_BIT))
    return [
        Flow(p.DSR_MOVED.id, p.DSR_MOVED.NEW, match(**SYN), (SetField(p.PIN_REG.field, 0), learn),
             goto=p.DSR_OLD.id),
        Flow(p.DSR_OLD.id, p.DSR_OLD.LEARNED, match((p.PIN_REG, (p.PIN_LEARNED, p.PIN_LEARNED))),
             goto=p.DSR_DELIVER.id),
        Flow(p.DSR_MOVED.id, p.DSR_MOVED.OTHER, match(), (SetField(p.PIN_REG.field, 0), Resubmit(p.DSR_CONN.id)),
             goto=p.DSR_OLD.id),
        Flow(p.DSR_OLD.id, p.DSR_OLD.UNPINNED, match((p.PIN_REG, 0)), (Move(p.MEMBER_REG.field, p.HOST_REG.field, 32),),
             goto=p.DSR_DELIVER.id),
        Flow(p.DSR_OLD.id, p.DSR_OLD.PINNED, match(), (Move(p.PIN_REG.field, p.HOST_REG.field, 32),),
             goto=p.DSR_DELIVER.id),
        Flow(p.DSR_DELIVER.id, p.DSR_DELIVER.DEFAULT, match()),
    ]


def dsr_vip_flows(vip, located, previous_slots=None, down=frozenset(), previous_moves=None, now=0.0, grace=0.0,
                  network=None, mac=None):
    """All flows, the select group (or None), the slot table and the moved slots ({slot: (old
    owner, grace end)}) of one dsr VIP on `network` (its members' too) whose MAC is `mac` (other
    arguments as for flows.vip.vip_flows). What goes to a member leaves from the VIP's MAC, not
    the client's: a switch with one uplink into a fabric sends it back out there, and the fabric
    must not learn the client's MAC at the balancer (the member's replies go straight to it)."""
    vip_cookie = p.cookie(vip.id)
    from_vip = SetField("eth_src", mac)
    here = (p.NETWORK_REG, network.id)
    tagged = network.vlan is not None
    to_vip = endpoint(vip.protocol, vip.address, vip.port, "dst", here)
    # The members answer from the VIP's address and port, straight to the client.
    flows = exits(Flow(p.CLASSIFY.id, p.CLASSIFY.DSR_REPLY, endpoint(vip.protocol, vip.address, vip.port, "src", here),
                       (Output(NORMAL),), cookie=vip_cookie), tagged)
    host_of = {}
    eligible = {}
    for member in vip.members:
        if member.host not in located:
            continue
        host_of[member.id] = member.host
        member_cookie = p.cookie(vip.id, member.id)
        delivery = match((p.VIP_REG, vip.id), (p.HOST_REG, member.host))
        flows.append(Flow(p.DSR_DELIVER.id, p.DSR_DELIVER.MEMBER, delivery, goto=p.LOCATE.id, cookie=member_cookie))
        if vip.protocol == "tcp":
            flows.append(Flow(p.DSR_DELIVER.id, p.DSR_DELIVER.SYN, with_fields(delivery, **SYN),
                              goto=p.LOCATE.id, cookie=member_cookie))
        if member.weight > 0 and member.id not in down:
            eligible[member.id] = member.weight
    if host_of:
        to_each = (from_vip,) + sum(((SetField(p.HOST_REG.field, host), Resubmit(p.LOCATE.id))
                       for host in sorted(set(host_of.values()))), ())
        flows += [Flow(p.CLASSIFY.id, p.CLASSIFY.VIP_ICMP,
                       match(here, ip_proto=IP_PROTO_ICMP, icmpv4_type=kind, **addresses.fields(vip.address, "dst")),
                       to_each, cookie=vip_cookie) for kind in ERRORS]
    table = assign(previous_slots, eligible)
    moves = moved(previous_slots, table, previous_moves or {}, set(host_of), now, grace)
    spread_flows, group = spread(vip, _slot_actions(vip, table, moves, host_of), p.CLASSIFY.id, p.CLASSIFY.VIP,
                                 to_vip, first=(SetField(p.VIP_REG.field, vip.id), from_vip))
    if vip.protocol == "udp":
        flows += _fragment_flows(vip, table is not None, here, tagged, from_vip)
    return flows + spread_flows, group, table, moves


def _fragment_flows(vip, served, here, tagged, from_vip):
    """A UDP VIP's datagrams that arrive in fragments: a fragment has no ports to match or hash,
    so all fragments of one client go to the member its address hashes to (the VIP's slot flows,
    as source_ip would); their answers, fragmented too, go out as the members' replies do."""
    vip_cookie = p.cookie(vip.id)
    fragment = dict(ip_proto=IP_PROTO_UDP, ip_frag=FRAGMENT)
    flows = exits(Flow(p.CLASSIFY.id, p.CLASSIFY.DSR_REPLY, match(here, **fragment, **addresses.fields(vip.address, "src")),
                       (Output(NORMAL),), cookie=vip_cookie), tagged)
    if served:
        flows.append(Flow(p.CLASSIFY.id, p.CLASSIFY.VIP_FRAGMENT,
                          match(here, **fragment, **addresses.fields(vip.address, "dst")),
                          (SetField(p.VIP_REG.field, vip.id), from_vip, Multipath("nw_src", SLOTS, p.SLOT_REG.field, 8)),
                          goto=p.SLOT.id, cookie=vip_cookie))
    return flows


def _slot_actions(vip, table, moves, host_of):
    """What a packet hashed to each slot gets: its owner's host, then dsr_deliver; in a moved slot,
    a SYN the new owner and any other packet its pin or the old owner (dsr_moved)."""
    if table is None:
        return None
    entries = []
    for slot, owner in enumerate(table):
        deliver = (owner, (SetField(p.HOST_REG.field, host_of[owner]),), p.DSR_DELIVER.id)
        if slot in moves:
            old = moves[slot][0]
            if vip.protocol != "tcp":   # no SYN tells new from old: the old owner keeps the slot
                deliver = (old, (SetField(p.HOST_REG.field, host_of[old]),), p.DSR_DELIVER.id)
            else:
                deliver = (owner, (SetField(p.HOST_REG.field, host_of[owner]),
                                   SetField(p.MEMBER_REG.field, host_of[old]), Resubmit(p.DSR_MOVED.id)), None)
        entries.append(deliver)
    return tuple(entries)


def stale_pins(before, after, networks):
    """The learned pins a change of VIPs leaves without a purpose: those of every dsr VIP that goes
    (deleted, or moved to another address, port or mode), as matches to delete from dsr_conn.
    `networks`: name -> network, for the VIPs `before`."""
    return [endpoint(vip.protocol, vip.address, vip.port, "dst", (p.NETWORK_REG, networks[vip.network].id))
            for vip, _, whole in departures(before, after) if vip.mode == "dsr" and whole and vip.protocol == "tcp"]
