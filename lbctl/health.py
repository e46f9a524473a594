"""Health monitors and members' operating status. Plain state with injected clocks:
lbctl.core.monitoring sends the probes these ask for, feeds back the replies and the time, and
resyncs the switches when a member's health changes.

Schedule of one member's probes: one every `interval` while its health agrees with the results;
while results disagree with it (a failure of an up member, a success of a down one) the next probe
follows at `timeout` after the last, so `fall` failures in a row take about interval + (fall - 1) x
timeout to see (HAProxy's "fastinter" idea), within fall x interval when timeout is below interval.
"""
import itertools
import time
from dataclasses import dataclass

UP, DOWN, DRAINING, UNRESOLVED = "up", "down", "draining", "unresolved"
STATUSES = (UP, DOWN, DRAINING, UNRESOLVED)

# Source ports of tcp/udp probes and sequence numbers of ping probes: a reply names its probe by
# them. A range of its own, away from the ports Linux picks for its own connections.
TOKENS = range(20000, 30000)


@dataclass(frozen=True)
class Target:
    """What one member's probes go to, and how. A change of any of it starts the member afresh."""
    kind: str      # tcp, udp or ping
    network: str   # the member's network (its probes leave from that network's monitor address)
    address: str
    port: int      # the member's monitor port (unused by ping)


def target_of(vip, member):
    return Target(vip.health_monitor.type, member.network, member.address, member.probed_port)


@dataclass
class Probe:
    key: tuple     # (vip id, member id)
    target: Target
    sent: float
    deadline: float
    dpid: int      # the switch it left through


class MemberHealth:
    def __init__(self, target, now):
        self.target = target
        self.up = False             # a new member is down until its first probe succeeds
        self.ever_up = False
        self.streak = 0             # results in a row that disagree with `up`
        self.reason = "not probed yet"
        self.probed = False         # a result came in
        self.seeded = False         # taken as up from what a switch was doing, and not probed since
        self.next_probe = now
        self.probe = None           # the token of the probe in flight, if one is


@dataclass(frozen=True)
class Change:
    key: tuple
    up: bool
    reason: str


class Monitors:
    """The health of every member of every VIP with a monitor, keyed by (vip id, member id)."""

    def __init__(self, count=lambda name: None):
        self.count = count          # told "monitor_successes" or "monitor_failures" for each result
        self.members = {}
        self.in_flight = {}         # token -> Probe
        self._tokens = itertools.cycle(TOKENS)
        self._monitor = {}          # vip id -> its HealthMonitor
        self.touched = set()        # keys with a result since the caller last took them (take_touched)

    def track(self, vips, now):
        """Follow a new set of VIPs: members that appear start down (and are probed at once),
        members gone or with a new target are forgotten."""
        wanted = {}
        self._monitor = {}
        for vip in vips:
            if vip.monitored:
                self._monitor[vip.id] = vip.health_monitor
                for member in vip.members:
                    wanted[(vip.id, member.id)] = target_of(vip, member)
        for key in list(self.members):
            if wanted.get(key) != self.members[key].target:
                self._forget(key)
        for key, target in wanted.items():
            if key not in self.members:
                self.members[key] = MemberHealth(target, now)

    def seed(self, vips, serving):
        """A switch was found sending new connections to the (VIP id, member id) pairs in
        `serving` (the controller restarted, say): members never probed yet that it serves are
        taken as up, as if the controller had not restarted, so adopting the switch changes
        nothing. From then on they rise and fall like any member that was up."""
        for vip in vips:
            for member in vip.members:
                health = self.members.get((vip.id, member.id))
                if health is not None and not health.probed and (vip.id, member.id) in serving:
                    health.up = health.ever_up = health.seeded = True
                    health.reason = "serving when the switch was adopted, not probed yet"

    def cancel(self, dpid, now):
        """Switch `dpid` is gone, and with it the probes that left through it: they are not
        failures of their members, which are probed again at once (through another switch, or
        this one when it is back)."""
        for token, probe in list(self.in_flight.items()):
            if probe.dpid == dpid:
                del self.in_flight[token]
                health = self.members.get(probe.key)
                if health is not None:
                    health.probe, health.next_probe = None, now

    def _forget(self, key):
        token = self.members.pop(key).probe
        self.in_flight.pop(token, None)

    def due(self, now):
        """(key, target) of every member whose next probe is due and none is in flight."""
        return [(key, h.target) for key, h in self.members.items() if h.probe is None and h.next_probe <= now]

    def postpone(self, key, now):
        """The member cannot be probed now (not located): try again an interval later."""
        self.members[key].next_probe = now + self._monitor[key[0]].interval

    def start(self, key, now, dpid):
        """A probe of `key` leaves now through switch `dpid`: returns its token."""
        health = self.members[key]
        token = next(self._tokens)
        while token in self.in_flight:
            token = next(self._tokens)
        health.probe = token
        self.in_flight[token] = Probe(key, health.target, now, now + self._monitor[key[0]].timeout, dpid)
        return token

    def reply(self, token, kind, address, port, ok, reason, now, network=None):
        """A reply came for probe `token` from `address`:`port` (on `network`, when known);
        returns a Change or None. A reply that does not fit its probe (another member, another
        kind, another network) is ignored."""
        probe = self.in_flight.get(token)
        if probe is None or (probe.target.kind, probe.target.address) != (kind, address) or (
                kind != "ping" and probe.target.port != port) or network not in (None, probe.target.network):
            return None
        return self._result(self.in_flight.pop(token), ok, reason, now)

    def expire(self, now):
        """Probes without a reply by their deadline: failures (for udp, silence is success)."""
        late = [token for token, probe in self.in_flight.items() if probe.deadline <= now]
        changes = []
        for token in late:
            probe = self.in_flight.pop(token)
            silent_ok = probe.target.kind == "udp"
            change = self._result(probe, silent_ok, "no ICMP port unreachable" if silent_ok else "no answer", now)
            if change is not None:
                changes.append(change)
        return changes

    def take_touched(self):
        """The keys of the members that had a result (their reason may be news) since last asked."""
        touched, self.touched = self.touched, set()
        return touched

    def _result(self, probe, ok, reason, now):
        self.touched.add(probe.key)
        health = self.members[probe.key]
        monitor = self._monitor[probe.key[0]]
        health.probe = None
        self.count("monitor_successes" if ok else "monitor_failures")
        seeded, health.seeded, health.probed = health.seeded, False, True
        if ok == health.up:
            health.streak = 0
            health.next_probe = probe.sent + monitor.interval
            if ok:
                health.ever_up = True
                if seeded:   # now it has been probed
                    health.reason = "1 %s probe succeeded (%s)" % (probe.target.kind, reason)
            elif not health.ever_up:   # still down from the start: say why
                health.reason = "%s probe failed (%s)" % (probe.target.kind, reason)
            return None
        health.streak += 1
        needed = (monitor.rise if health.ever_up else 1) if ok else monitor.fall
        if health.streak < needed:
            health.next_probe = max(now, probe.sent + monitor.timeout)
            return None
        count = "%d %s probe%s" % (needed, probe.target.kind, "s" if needed > 1 else "")
        health.reason = "%s %s (%s)" % (count, "succeeded" if ok else "failed", reason)
        health.up, health.ever_up, health.streak = ok, health.ever_up or ok, 0
        health.next_probe = probe.sent + monitor.interval
        return Change(probe.key, ok, health.reason)

    def down(self, vip):
        """Ids of the members of monitored `vip` that are not up: those never probed (under their
        current target) included, so a VIP about to be tracked can be planned before it is."""
        return frozenset(m.id for m in vip.members if not self._up((vip.id, m.id), target_of(vip, m)))

    def _up(self, key, target):
        health = self.members.get(key)
        return health is not None and health.target == target and health.up

    def health(self, key):
        return self.members.get(key)


class StatusBook:
    """The operating status of each member as the API shows it, with when and why it last
    changed. `update` returns the statuses that changed, for the log."""

    def __init__(self, wall=time.time):
        self.wall = wall
        self.entries = {}   # (vip id, member id) -> (status, since, reason)
        self._members = {}  # vip id -> the member ids with an entry
        self._pruned_for = None   # the VIPs whose members alone have entries

    def update(self, vips, located, monitors, every_vip):
        """Look again at the members of `vips`, and forget those no longer in `every_vip`.
        `located(key)`: where the member at host key (network, address) is, or None. Returns [(vip, member, status, reason)]
        for every member whose status changed."""
        changed = []
        for vip in vips:
            ids = self._members.setdefault(vip.id, set())
            for gone in ids - {member.id for member in vip.members}:   # members the VIP lost
                del self.entries[(vip.id, gone)]
                ids.discard(gone)
            for member in vip.members:
                key = (vip.id, member.id)
                status, reason = self._status(member, located(member.key), monitors.health(key))
                old = self.entries.get(key)
                if old is None or old[0] != status:
                    self.entries[key] = (status, self.wall(), reason)
                    ids.add(member.id)
                    changed.append((vip, member, status, reason))
                elif old[2] != reason:   # same status, new news (a member that stays down says why)
                    self.entries[key] = (status, old[1], reason)
        if every_vip is not self._pruned_for:   # once per VIP set (a change makes a new one): VIPs gone
            current = {vip.id for vip in every_vip}
            for vip_id in [vip_id for vip_id in self._members if vip_id not in current]:
                for member_id in self._members.pop(vip_id):
                    del self.entries[(vip_id, member_id)]
            self._pruned_for = every_vip
        return changed

    @staticmethod
    def _status(member, place, health):
        if place is None:
            return UNRESOLVED, "no answer to ARP yet"
        if member.weight == 0:
            return DRAINING, "weight 0"
        if health is not None:
            return (UP if health.up else DOWN), health.reason
        return UP, "located at %s port %d (no health monitor)" % (place.mac, place.port)

    def get(self, vip_id, member_id):
        return self.entries.get((vip_id, member_id))
