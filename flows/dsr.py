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

from flows import addresses
from flows import pipeline as p
from flows.ir import Flow, Learn, Resubmit, SetField
from flows.protocols import IP_PROTO, TCP_SYN_ONLY
from flows.slots import assign
from flows.vip import departures, endpoint, spread, with_fields


def dsr_vip_flows(vip, located, previous_slots=None, down=frozenset()):
    """All flows, the select group (or None) and the slot table of one dsr VIP (arguments as for
    flows.vip.vip_flows)."""
    vip_cookie = p.cookie(vip.id)
    to_vip = endpoint(vip.protocol, vip.address, vip.port, "dst")
    flows = [Flow(p.CLASSIFY.id, p.CLASSIFY.VIP, to_vip, (Resubmit(p.DSR_CONN.id),), goto=p.DSR.id, cookie=vip_cookie)]
    pin = {}
    eligible = {}
    five_tuple = (addresses.field(vip.address, "src"), addresses.field(vip.address, "dst"),
                  vip.protocol + "_src", vip.protocol + "_dst")
    for member in vip.members:
        if member.host not in located:
            continue
        member_cookie = p.cookie(vip.id, member.id)
        pin[member.id] = (SetField(p.HOST_REG.field, member.host), Resubmit(p.DSR_PIN.id))
        learn = Learn(p.DSR_CONN.id, (("eth_type", addresses.eth_type(vip.address)), ("ip_proto", IP_PROTO[vip.protocol])),
                      five_tuple, member.host, p.HOST_REG.field, p.DSR_IDLE_TIMEOUT, p.DSR_FIN_IDLE_TIMEOUT,
                      p.DSR_CONN.PIN, member_cookie)
        flows.append(Flow(p.DSR_PIN.id, p.DSR_PIN.MEMBER, with_fields(to_vip, **{p.HOST_REG.field: member.host}),
                          (learn,), goto=p.LOCATE.id, cookie=member_cookie))
        if member.weight > 0 and member.id not in down:
            eligible[member.id] = member.weight
    table = assign(previous_slots, eligible)
    unpinned = with_fields(to_vip, **{p.HOST_REG.field: 0})
    spread_flows, group = spread(vip, table, pin, p.DSR.id, p.DSR.VIP, unpinned)
    if vip.protocol == "tcp":
        # A SYN gets a flow of its own: the datapath flow cached for a connection's SYN (which
        # spreads it) then never serves its later packets, which find the pin. Otherwise they
        # could follow the cached spreading path after a member change, to another member.
        spread_flows += [replace(f, match=with_fields(f.match, tcp_flags=TCP_SYN_ONLY), priority=p.DSR.SYN)
                         for f in spread_flows if f.table == p.DSR.id]
    return flows + spread_flows, group, table


def stale_pins(before, after):
    """Learned pins a change of VIPs leaves without a purpose -> (cookie, mask) pairs to delete
    from dsr_conn: every pin of a dsr VIP that goes, and the pins of a member that left its dsr
    VIP. (Pins of a drained member stay: draining keeps connections.)"""
    stale = []
    for vip, gone, whole in departures(before, after):
        if vip.mode != "dsr":
            continue
        if whole:
            stale.append(p.vip_cookie_match(vip.id))
        else:
            stale += [(p.cookie(vip.id, m.id), p.COOKIE_ALL_BITS) for m in gone]
    return stale
