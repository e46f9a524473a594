"""Balancer: the state the managers share (configuration, switches, hosts, statistics) and the
events the shell feeds in. Every event returns the messages to send, as (dpid, message) pairs in
the order they must leave."""
import logging
import time
from dataclasses import dataclass

from flows import pipeline
from flows.desired import Settings
from flows.ir import IN_PORT
from lbctl import packets
from lbctl.core.changes import Changes
from lbctl.core.messages import PacketOut
from lbctl.core.monitoring import Monitoring
from lbctl.core.neighbours import Neighbours
from lbctl.core.polling import Polling
from lbctl.core.switches import Placement, Switch
from lbctl.hosts import HostTable
from lbctl.model import DEFAULT_NETWORK, LbError
from lbctl.stats import Stats

LOG = logging.getLogger("lbctl")


class StartError(Exception):
    """The configuration cannot be served; the message says why."""


@dataclass(frozen=True)
class Options:
    """What the operator configures about the controller itself ([lbctl] in ryu-manager's config)."""
    cluster_id: int = 0              # byte 4 of the balancer's MACs
    gateways: tuple = ()             # the balancer's router addresses
    gateway_networks: tuple = ()     # ... the subnets they are on ("198.18.0.0/24"), where known
    gateway_group: int = 1           # ... and their redundancy group
    monitor_address: str = None      # the source of health probes
    arp_punt_pps: int = 100
    arp_punt_burst: int = 50
    member_arp_pps: int = 100
    reject_pps: int = 100
    monitor_pps: int = 1000
    probe_period: float = 0.5        # seconds between rounds of ARP probes for members to find
    refresh_interval: float = 60.0   # a member not heard from for this long is probed again
    host_max_age: float = 3600.0     # ... and forgotten when not heard from for this long
    duplicate_moves: int = 5
    duplicate_window: float = 180.0
    garp_count: int = 3
    garp_interval: float = 1.0
    stats_interval: float = 10.0
    dsr_grace: float = 300.0         # seconds a dsr slot's old owner keeps its connections after a change

    def settings(self):
        return Settings(cluster_id=self.cluster_id, arp_punt_pps=self.arp_punt_pps, arp_punt_burst=self.arp_punt_burst,
                        member_arp_pps=self.member_arp_pps, reject_pps=self.reject_pps, gateways=tuple(self.gateways),
                        gateway_group=self.gateway_group, monitor_address=self.monitor_address,
                        monitor_pps=self.monitor_pps, dsr_grace=self.dsr_grace)


class Clock:
    """Time as the core reads it: monotonic seconds for schedules, wall-clock seconds for what
    the API shows. Tests give a clock they move themselves."""

    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)


class Balancer:
    def __init__(self, options, store, clock=Clock()):
        self.options = options
        self.settings = options.settings()
        self.store = store
        self.clock = clock
        self.config = store.load()
        self.stats = Stats()
        self.switches = {}              # dpid -> Switch
        self.placement = Placement()
        self.hosts = HostTable(options.duplicate_moves, options.duplicate_window, options.host_max_age)
        self.last_change = float("-inf")   # when the last configuration change came in (monotonic)
        self.changes = Changes(self)
        self.neighbours = Neighbours(self)
        self.monitoring = Monitoring(self)
        self.polling = Polling(self)
        for vip in self.config.vips:
            try:
                self.changes.check(vip)
            except LbError as e:
                raise StartError("vip %s: %s" % (vip.name, e))
        self.monitoring.track(self.config.vips)
        self.monitoring.note_statuses()

    # ------------------------------------------------------------------ configuration

    def create_vip(self, vip):
        return self.changes.apply(lambda config: config.create(vip))

    def replace_vip(self, name, vip, revision=None):
        return self.changes.apply(lambda config: config.replace(name, vip, revision))

    def delete_vip(self, name, revision=None):
        return self.changes.apply(lambda config: config.delete(name, revision))

    def saved_elsewhere(self, config):
        """The Store tells of a configuration another controller saved: serve it."""
        return self.changes.saved_elsewhere(config)

    def forget_host(self, address, network=DEFAULT_NETWORK):
        """Forget where a host is (and clear a duplicate): it is probed and learned afresh.
        Returns (whether it was known, the messages)."""
        if not self.hosts.forget((network, address)):
            return False, []
        LOG.info("host %s forgotten by request", address)
        out = self.changes.sync_all()
        self.monitoring.note_statuses()
        return True, out

    # ------------------------------------------------------------------ switches

    def switch_connected(self, dpid):
        """A switch connects: read what it holds first (see Changes.adopt)."""
        switch = self.switches[dpid] = Switch(dpid, self.clock.monotonic())
        LOG.info("switch %016x connected; reading its flows", dpid)
        return self.changes.read(switch)

    def flows_read(self, dpid, xid, rows, more):
        """A flow stats reply: a part of a counter reading, or of a switch's adoption."""
        switch = self.switches.get(dpid)
        if switch is None:
            return []
        if self.polling.read(switch, xid, rows, more):
            return []
        return self.changes.flows_read(switch, rows, more)

    def groups_read(self, dpid, groups, more):
        """`groups`: (group id, what its buckets send to) pairs."""
        switch = self.switches.get(dpid)
        return [] if switch is None else self.changes.groups_read(switch, groups, more)

    def meters_read(self, dpid, meter_ids, more):
        switch = self.switches.get(dpid)
        return [] if switch is None else self.changes.meters_read(switch, meter_ids, more)

    def switch_gone(self, dpid):
        switch = self.switches.pop(dpid, None)
        if switch is None:
            return []
        self.polling.forget_switch(dpid)
        self.monitoring.cancel(dpid)
        LOG.info("switch %016x disconnected", dpid)
        self.monitoring.note_statuses()
        return []

    def switch_error(self, dpid, kind, code):
        """The switch refused a message: it no longer holds what the controller thinks."""
        LOG.error("switch %016x refused a message: type=%d code=%d", dpid, kind, code)
        self.stats.count("switch_errors")
        switch = self.switches.get(dpid)
        return [] if switch is None else self.changes.repair(switch)

    def barrier_reply(self, dpid, xid):
        switch = self.switches.get(dpid)
        samples, started = switch.pending.pop(xid, (None, None)) if switch else (None, None)
        if samples is not None:
            samples.append(round((self.clock.monotonic() - started) * 1000, 3))
        return []

    # ------------------------------------------------------------------ packets and time

    def packet_in(self, dpid, table_id, in_port, data):
        started = self.clock.monotonic()
        self.stats.count("packet_in")
        switch = self.switches.get(dpid)
        if switch is None:
            return []
        if table_id == pipeline.REJECT.id:
            self.stats.count("packet_in_reject")
            return self._refuse(switch, data, in_port)
        if table_id == pipeline.COMMIT.id:
            self.stats.count("packet_in_reject")
            return self._expire(switch, data, in_port)
        if table_id == pipeline.MONITOR.id:
            self.stats.count("packet_in_monitor")
            return self.monitoring.replied(switch, data, in_port)
        frame = packets.parse(data)
        if frame is None or frame.arp is None:
            return []
        self.stats.count("packet_in_arp")
        return self.neighbours.arp(switch, frame, in_port, started)

    def _refuse(self, switch, data, in_port):
        """A new connection to a VIP with no live member: answer at once, rather than leave the
        client to time out."""
        answer = packets.refusal(data)
        if answer is None:
            return []
        self.stats.count("rejected")
        return [(switch.dpid, PacketOut(answer, IN_PORT, in_port))]

    def _expire(self, switch, data, in_port):
        """A routed VIP's packet whose TTL runs out at the balancer: answer as the router it is."""
        answer = packets.time_exceeded(data)
        if answer is None:
            return []
        self.stats.count("time_exceeded")
        return [(switch.dpid, PacketOut(answer, IN_PORT, in_port))]

    def tick(self, now):
        """Whatever is due by `now` (monotonic): health probes and their deadlines, ARP probes,
        gratuitous ARPs, counter readings, switches whose state could not be read in time."""
        return (self.changes.tick(now) + self.monitoring.tick(now) + self.neighbours.tick(now)
                + self.polling.tick(now))

    # ------------------------------------------------------------------ shared by the managers

    def adopted(self):
        return [switch for switch in self.switches.values() if switch.adopted]

    def owned(self, config=None):
        """Every address the balancer owns -> its redundancy group: VIPs, SNAT pools, gateways and
        the monitor address (in the gateways' group)."""
        owned = dict.fromkeys(self.settings.gateways, self.settings.gateway_group)
        if self.settings.monitor_address:
            owned[self.settings.monitor_address] = self.settings.gateway_group
        owned.update((config or self.config).addresses)
        return owned

    def own_mac(self, group):
        return pipeline.own_mac(self.settings.cluster_id, group)

    def host_id(self, key):
        """The host id of (network, address), or None when no VIP lists it."""
        return self.config.hosts.get(key)

    def places(self, switch):
        """host id -> Place of the members located on `switch`."""
        hosts = self.config.hosts
        return {hosts[key]: place for key, place in self.hosts.places(switch.dpid).items() if key in hosts}

    def where(self, key):
        """The first adopted switch that knows where host `key` is, and the place there."""
        for switch in self.adopted():
            place = self.hosts.where(switch.dpid, key)
            if place is not None:
                return switch, place
        return None, None
