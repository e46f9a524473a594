"""Mode dsr (direct server return): the switch only rewrites the destination MAC. The IP header is
untouched, the member holds the VIP on its loopback and replies straight to the client, so the
switch sees one direction only and conntrack has nothing to track.

Per-connection state lives in the switch instead: the first packet of a connection is spread by
the VIP's slot table and `learn`s a flow in dsr_conn pinning its 5-tuple to the chosen member.
Later packets find the pin, so a member change (or weight 0, draining) moves no open connection.
(The learn sits in a flow of dsr_pin that the bucket resubmits to: Open vSwitch 3.1 does not
learn from an action inside a dp_hash group's bucket.)
"""
from dataclasses import replace

from flows import pipeline as p
from flows.ir import Flow, Learn, Resubmit, SetField
from flows.slots import assign
from flows.vip import IP_PROTO, TCP_SYN_ONLY, l4_match, spread


def dsr_vip_flows(vip, located, previous_slots=None, down=frozenset()):
    """All flows, the select group (or None) and the slot table of one dsr VIP (arguments as for
    flows.vip.vip_flows)."""
    vip_cookie = p.cookie(vip.id)
    flows = [Flow(p.CLASSIFY.id, p.Priority.VIP, l4_match(vip.protocol, ipv4_dst=vip.address, ports={"dst": vip.port}),
                  (Resubmit(p.DSR_CONN.id),), goto=p.DSR.id, cookie=vip_cookie)]
    pin = {}
    eligible = {}
    for member in vip.members:
        if member.address not in located:
            continue
        address = p.ipv4_int(member.address)
        member_cookie = p.cookie(vip.id, member.id)
        pin[member.id] = (SetField(p.HOST_REG, address), Resubmit(p.DSR_PIN.id))
        flows.append(Flow(p.DSR_PIN.id, p.Priority.MEMBER,
                          l4_match(vip.protocol, ipv4_dst=vip.address, ports={"dst": vip.port}, reg2=address),
                          (Learn(p.DSR_CONN.id, IP_PROTO[vip.protocol], vip.protocol, address, p.HOST_REG,
                                 p.DSR_IDLE_TIMEOUT, p.DSR_FIN_IDLE_TIMEOUT, p.Priority.VIP, member_cookie),),
                          goto=p.LOCATE.id, cookie=member_cookie))
        if member.weight > 0 and member.id not in down:
            eligible[member.id] = member.weight
    table = assign(previous_slots, eligible)
    unpinned = l4_match(vip.protocol, ipv4_dst=vip.address, ports={"dst": vip.port}, reg2=0)
    spread_flows, group = spread(vip, table, pin, p.DSR.id, unpinned)
    if vip.protocol == "tcp":
        # A SYN gets a flow of its own: the datapath flow cached for a connection's SYN (which
        # spreads it) then never serves its later packets, which find the pin. Otherwise they
        # could follow the cached spreading path after a member change, to another member.
        spread_flows += [replace(f, match=tuple(sorted(dict(f.match, tcp_flags=TCP_SYN_ONLY).items())),
                                 priority=p.Priority.DSR_SYN)
                         for f in spread_flows if f.table == p.DSR.id]
    return flows + spread_flows, group, table


def stale_pins(before, after):
    """Learned pins a change of VIPs leaves without a purpose -> (cookie, mask) pairs to delete
    from dsr_conn: every pin of a dsr VIP that is gone (or no longer dsr), and the pins of a
    member that left its dsr VIP. (Pins of a drained member stay: draining keeps connections.)"""
    now = {v.id: v for v in after}
    stale = []
    for vip in before:
        if vip.mode != "dsr":
            continue
        kept = now.get(vip.id)
        if kept is None or kept.mode != "dsr":
            stale.append((p.cookie(vip.id), p.COOKIE_VIP_MASK))
            continue
        remaining = {m.id for m in kept.members}
        stale += [(p.cookie(vip.id, m.id), ALL_BITS) for m in vip.members if m.id not in remaining]
    return stale


ALL_BITS = 0xFFFFFFFFFFFFFFFF
