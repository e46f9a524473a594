"""A cluster of balancer switches: which switch each redundancy group is active on. The active
switch alone answers ARP for the group's addresses, announces them and carries its VIPs'
traffic; the others stand by with the group's flows in place (flows.networks.standby_flows).

A switch is *healthy* while it is connected, adopted and its uplinks are up. A group's active
switch is the first healthy one in the group's order of preference, except that a group stays
where it is while its switch is healthy (no preemption, as with most appliance clusters) unless
`preempt` is set; then a switch more preferred than the active one takes the group back once it
has been healthy for `hold_down` seconds, so that a flapping switch cannot make a group bounce.
When the active switch fails, the next healthy one takes over at once (a takeover).

At a controller's start nothing is active yet: a group becomes active on a switch that was found
active for it (adoption reads which groups each switch stood by for), so a restart keeps each
group where it is; a group no switch was found active for waits until every balancer is adopted,
or `settle` seconds, then takes its first healthy switch. Plain state with the time passed in:
no Ryu, no sockets."""
import logging
from dataclasses import dataclass, field

LOG = logging.getLogger("lbctl")

SETTLE = 3.0   # seconds a fresh cluster waits for all its balancers before electing without them


@dataclass(frozen=True)
class ClusterConfig:
    """What the operator says about the cluster ([lbctl] options): the balancer switches by name
    (name -> dpid, in the default order of preference), each group's own order (group -> names),
    whether a more preferred switch takes a group back, after how long, and each switch's
    uplink ports (a switch whose uplink is down cannot serve)."""
    balancers: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)
    preempt: bool = False
    hold_down: float = 10.0
    uplinks: dict = field(default_factory=dict)   # name -> frozenset of port numbers

    @property
    def enabled(self):
        return bool(self.balancers)

    def order(self, group):
        """The balancers' dpids in group `group`'s order of preference."""
        names = self.orders.get(group) or list(self.balancers)
        return [self.balancers[name] for name in names]

    def name(self, dpid):
        return next((name for name, known in self.balancers.items() if known == dpid), "%016x" % dpid)

    def index(self, dpid):
        """The switch's place in `balancers` (its node MAC's number)."""
        return list(self.balancers.values()).index(dpid)


@dataclass
class Election:
    """One group changing switch: `old` (None: none was active) to `new` (None: no switch can
    serve it)."""
    group: int
    old: object
    new: object
    takeover: bool   # the old switch failed (not a failback, nor the first election)


class Cluster:
    def __init__(self, config, started):
        self.config = config
        self.started = started          # monotonic: when the controller started
        self.healthy = {}               # dpid -> since when (monotonic) it is healthy
        self.connected = set()          # dpids adopted
        self.links_down = {}            # dpid -> its uplink ports that are down
        self.found_active = {}          # dpid -> groups it was found active for at adoption
        self.active = {}                # group -> (dpid, since: wall clock seconds)
        self.takeovers = 0

    # ------------------------------------------------------------------ switch events

    def adopted(self, dpid, found_active, now):
        """Switch `dpid` is adopted; it was active for the groups `found_active` before."""
        self.connected.add(dpid)
        self.found_active[dpid] = set(found_active)
        self._health(dpid, now)

    def gone(self, dpid, now):
        self.connected.discard(dpid)
        self.found_active.pop(dpid, None)
        self._health(dpid, now)

    def uplink(self, dpid, port, up, now):
        """A port of switch `dpid` went up or down: it matters when it is one of its uplinks."""
        name = self.config.name(dpid)
        if port not in self.config.uplinks.get(name, ()):
            return False
        down = self.links_down.setdefault(dpid, set())
        (down.discard if up else down.add)(port)
        self._health(dpid, now)
        return True

    def _health(self, dpid, now):
        ok = dpid in self.connected and not self.links_down.get(dpid)
        if ok and dpid not in self.healthy:
            self.healthy[dpid] = now
        elif not ok:
            self.healthy.pop(dpid, None)

    # ------------------------------------------------------------------ elections

    def elect(self, groups, now, wall):
        """Bring every group of `groups` to the switch it should be active on; the Elections that
        changed something. `now`: monotonic seconds; `wall`: wall-clock seconds (for `since`)."""
        changes = []
        for group in sorted(groups):
            old = self.active.get(group, (None, None))[0]
            new = self._choose(group, old, now)
            if new == old:
                continue
            takeover = old is not None and old not in self.healthy
            if new is None:
                del self.active[group]
            else:
                self.active[group] = (new, wall)
            self.takeovers += takeover and new is not None
            changes.append(Election(group, old, new, takeover))
            LOG.warning("redundancy group %d: %s -> %s%s", group, self._named(old), self._named(new),
                        " (takeover: %s failed)" % self._named(old) if takeover else "")
        for group in set(self.active) - set(groups):
            del self.active[group]
        return changes

    def _choose(self, group, old, now):
        order = [dpid for dpid in self.config.order(group) if dpid in self.healthy]
        if old in self.healthy:
            if not self.config.preempt:
                return old
            better = [dpid for dpid in order[:order.index(old)] if now - self.healthy[dpid] >= self.config.hold_down]
            return better[0] if better else old
        if old is None:
            found = [dpid for dpid in order if group in self.found_active.get(dpid, ())]
            if found:
                return found[0]
            settled = self.connected >= set(self.config.balancers.values()) or now - self.started >= SETTLE
            if not settled:
                return None
        return order[0] if order else None

    def next_change(self, now):
        """When an election could next change something by time alone (a hold-down ending, a fresh
        cluster settling), or None."""
        times = []
        if now - self.started < SETTLE:
            times.append(self.started + SETTLE)
        if self.config.preempt:
            times += [since + self.config.hold_down for since in self.healthy.values()
                      if since + self.config.hold_down > now]
        return min(times, default=None)

    # ------------------------------------------------------------------ reading

    def is_active(self, dpid, group):
        """Whether switch `dpid` is active for `group` (without a cluster: every switch is)."""
        if not self.config.enabled:
            return True
        return self.active.get(group, (None, None))[0] == dpid

    def active_switch(self, group):
        return self.active.get(group, (None, None))[0]

    def _named(self, dpid):
        return "none" if dpid is None else self.config.name(dpid)

    def describe(self, groups):
        """Per group: its active switch, its standbys in order, since when."""
        out = []
        for group in sorted(groups):
            active, since = self.active.get(group, (None, None))
            standbys = [dpid for dpid in self.config.order(group) if dpid != active]
            out.append({"group": group, "active": self._switch_doc(active), "since": since,
                        "standbys": [self._switch_doc(dpid) for dpid in standbys]})
        return out

    def _switch_doc(self, dpid):
        if dpid is None:
            return None
        return {"name": self.config.name(dpid), "dpid": "%016x" % dpid, "healthy": dpid in self.healthy}
