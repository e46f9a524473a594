"""Traffic counters per VIP and per member, from the switch's own flow counters. Plain
state: lbctl.core.polling feeds each complete reading in, the API and /metrics read totals out.

Where each figure comes from (cookie = VIP id << 32 | member id, see flows.pipeline):
  VIP packets, bytes         its requests (classify's VIP flows), and the replies that pass the
                             switch: its members' (below; NAT modes), or what its dsr members
                             send from its address (classify's dsr reply flow)
  member packets, bytes      NAT modes: the member's replies (its reply flow in classify; a member
                             endpoint listed by several VIPs counts under the lowest VIP id);
                             dsr: the requests delivered to it (dsr_deliver)
  member connections         the new connections committed to it (its commit flow), or its SYNs (dsr)
  VIP connections            the sum over its members

Only the flows of the tables above are read, VIP by VIP (by cookie), spread over the reading
interval: Ryu parses about 5,000 flows a second, and at 1,000 VIPs a reading of every flow and
group would hold the controller up for seconds.
A switch resets a flow's counters when the flow is replaced: totals add each counter's growth
since the last poll, and a counter found lower than before counts from zero. Whatever a flow
counted between the last poll and its removal is not seen.
"""
from flows import pipeline as p


def counter_tables(mode):
    """The tables a VIP's figures are read from."""
    return (p.CLASSIFY.id, p.DSR_DELIVER.id) if mode == "dsr" else (p.CLASSIFY.id, p.COMMIT.id)


VIP_TRAFFIC = {(p.CLASSIFY.id, p.CLASSIFY.VIP), (p.CLASSIFY.id, p.CLASSIFY.VIP_FRAGMENT),
               (p.CLASSIFY.id, p.CLASSIFY.DSR_REPLY)}
MEMBER_TRAFFIC = {(p.CLASSIFY.id, p.CLASSIFY.MEMBER), (p.DSR_DELIVER.id, p.DSR_DELIVER.MEMBER),
                  (p.DSR_DELIVER.id, p.DSR_DELIVER.SYN)}
NEW_CONNECTION = {(p.COMMIT.id, p.COMMIT.MEMBER), (p.DSR_DELIVER.id, p.DSR_DELIVER.SYN)}


class Totals:
    __slots__ = ("packets", "bytes", "connections")

    def __init__(self):
        self.packets = self.bytes = self.connections = 0

    def to_dict(self):
        return {"packets": self.packets, "bytes": self.bytes, "connections": self.connections}


class Traffic:
    def __init__(self):
        self.totals = {}       # (vip id, member id; 0 for the VIP itself) -> Totals
        self._last = {}        # (dpid, VIP id) -> {counter key: (packets, bytes)} at its last reading
        self.polls = 0
        self.polled_at = None  # wall-clock time of the last complete poll
        self._report = None    # ((polls, vips), the report then)

    def poll(self, dpid, vip_id, flows, now):
        """One complete reading of VIP `vip_id`'s counters on switch `dpid`: `flows` are
        (table, priority, cookie, match key, packets, bytes) rows of its counter_tables(mode)."""
        last = self._last.get((dpid, vip_id), {})
        seen = {}
        for table, priority, cookie, key, packets, nbytes in flows:
            member_id = p.owner(cookie).member
            counter = (table, priority, cookie, key)
            grown = _growth(last.get(counter), packets, nbytes)
            seen[counter] = (packets, nbytes)
            if member_id == 0:
                if (table, priority) in VIP_TRAFFIC:
                    self._add(vip_id, 0, *grown)
                continue
            if (table, priority) in MEMBER_TRAFFIC:
                self._add(vip_id, member_id, *grown)
                self._add(vip_id, 0, *grown)
            if (table, priority) in NEW_CONNECTION:
                self._total(vip_id, member_id).connections += grown[0]
        self._last[(dpid, vip_id)] = seen
        self.polls += 1
        self.polled_at = now

    def forget_switch(self, dpid):
        for key in [key for key in self._last if key[0] == dpid]:
            del self._last[key]

    def _total(self, vip_id, member_id):
        found = self.totals.get((vip_id, member_id))
        if found is None:
            found = self.totals[(vip_id, member_id)] = Totals()
        return found

    def _add(self, vip_id, member_id, packets, nbytes):
        total = self._total(vip_id, member_id)
        total.packets += packets
        total.bytes += nbytes

    def report(self, vips):
        """{vip name: {packets, bytes, connections, members: {"address:port": {...}}}} for `vips`;
        totals of VIPs and members no longer there are dropped. Kept until the next poll or a
        change of `vips` (a report of 1,000 VIPs costs tens of ms)."""
        if self._report is not None and self._report[0] == (self.polls, vips):
            return self._report[1]
        out = self._fresh_report(vips)
        self._report = ((self.polls, vips), out)
        return out

    def _fresh_report(self, vips):
        keep = {(vip.id, 0) for vip in vips} | {(vip.id, m.id) for vip in vips for m in vip.members}
        for gone in set(self.totals) - keep:
            del self.totals[gone]
        ids = {vip.id for vip in vips}
        for gone in [key for key in self._last if key[1] not in ids]:
            del self._last[gone]
        out = {}
        for vip in vips:
            members = {"%s:%d" % (m.address, m.port): self._total(vip.id, m.id).to_dict() for m in vip.members}
            doc = self._total(vip.id, 0).to_dict()
            doc["connections"] = sum(m["connections"] for m in members.values())
            doc["members"] = members
            out[vip.name] = doc
        return out


def _growth(before, packets, nbytes):
    """How much a counter grew since `before`; all of it when it is new or was reset."""
    if before is None or packets < before[0] or nbytes < before[1]:
        return packets, nbytes
    return packets - before[0], nbytes - before[1]
