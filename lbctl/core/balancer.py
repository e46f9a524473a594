"""Balancer: the state the managers share (configuration, switches, hosts, statistics) and the
events the shell feeds in. Every event returns the messages to send, as (dpid, message) pairs in
the order they must leave."""
import logging
import time
from dataclasses import dataclass

from flows import pipeline
from flows.desired import Settings
from flows.ir import IN_PORT
from flows.networks import DEFAULT
from lbctl import packets
from lbctl.core.changes import Changes
from lbctl.core.cluster import Cluster, ClusterConfig
from lbctl.core.messages import PacketOut
from lbctl.core.monitoring import Monitoring
from lbctl.core.neighbours import Neighbours
from lbctl.core.polling import Polling
from lbctl.core.switches import Placement, Switch
from lbctl.hosts import HostTable
from lbctl.model import LbError
from lbctl.networks import default_network
from lbctl.stats import Stats

LOG = logging.getLogger("lbctl")


class StartError(Exception):
    """The configuration cannot be served; the message says why."""


@dataclass(frozen=True)
class Options:
    """What the operator configures about the controller itself ([lbctl] in ryu-manager's config)."""
    cluster_id: int = 0              # byte 4 of the balancer's MACs
    gateways: tuple = ()             # the balancer's router addresses on the default network ("198.18.0.1/24")
    gateway_group: int = 1           # ... and their redundancy group
    monitor_address: str = None      # the source of health probes on the default network
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
    cluster: ClusterConfig = ClusterConfig()   # the balancer switches of a cluster (none: every switch is active)
    takeover_grace: float = 60.0     # seconds after a takeover in which NAT connections are picked up mid-stream

    def settings(self, networks):
        return Settings(cluster_id=self.cluster_id, arp_punt_pps=self.arp_punt_pps, arp_punt_burst=self.arp_punt_burst,
                        member_arp_pps=self.member_arp_pps, reject_pps=self.reject_pps, networks=tuple(networks),
                        monitor_pps=self.monitor_pps, dsr_grace=self.dsr_grace)

    def default_network(self):
        """The default network as these options set it (LbError names a bad gateway)."""
        return default_network(self.gateways, self.gateway_group, self.monitor_address)


class Clock:
    """Time as the core reads it: monotonic seconds for schedules, wall-clock seconds for what
    the API shows. Tests give a clock they move themselves."""

    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)


class Balancer:
    def __init__(self, options, store, clock=Clock()):
        self.options = options
        self.store = store
        self.clock = clock
        self._settings = None
        self._owned = (None, None)   # (a configuration, what the balancer owns in it)
        try:
            self.config = store.load(options.default_network())
        except LbError as e:
            raise StartError("[lbctl] gateways, monitor_address: %s" % e)
        self.stats = Stats()
        self.switches = {}              # dpid -> Switch
        self.placement = Placement()
        self.hosts = HostTable(options.duplicate_moves, options.duplicate_window, options.host_max_age)
        self.cluster = Cluster(options.cluster, clock.monotonic())
        self.next_election = self.cluster.next_change(clock.monotonic())   # when time alone may change one
        self.pickups = {}   # (dpid, group) -> until when (monotonic) that switch picks up the group's connections
        self.last_change = float("-inf")   # when the last configuration change came in (monotonic)
        self.changes = Changes(self)
        self.neighbours = Neighbours(self)
        self.monitoring = Monitoring(self)
        self.polling = Polling(self)
        self.monitoring.track(self.config.vips)
        self.monitoring.note_statuses()

    # ------------------------------------------------------------------ configuration

    def create_vip(self, vip):
        return self.changes.apply(lambda config: config.create(vip))

    def replace_vip(self, name, vip, revision=None):
        return self.changes.apply(lambda config: config.replace(name, vip, revision))

    def delete_vip(self, name, revision=None):
        return self.changes.apply(lambda config: config.delete(name, revision))

    def create_network(self, network):
        return self.changes.apply(lambda config: config.create_network(network), of_vip=False)

    def replace_network(self, name, network, revision=None):
        return self.changes.apply(lambda config: config.replace_network(name, network, revision), of_vip=False)

    def delete_network(self, name, revision=None):
        return self.changes.apply(lambda config: config.delete_network(name, revision), of_vip=False)

    def saved_elsewhere(self, config):
        """The Store tells of a configuration another controller saved: serve it."""
        return self.changes.saved_elsewhere(config)

    def forget_host(self, address, network=DEFAULT):
        """Forget where a host is (and clear a duplicate): it is probed and learned afresh.
        Returns (whether it was known, the messages)."""
        if not self.hosts.forget((network, address)):
            return False, []
        LOG.info("host %s on network %s forgotten by request", address, network)
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
        self.cluster.gone(dpid, self.clock.monotonic())
        out = self.elect()
        self.monitoring.note_statuses()
        return out

    def port_status(self, dpid, port, up):
        """A switch's port went up or down: an uplink of a cluster's switch decides whether it
        can serve."""
        if dpid not in self.switches or not self.cluster.uplink(dpid, port, up, self.clock.monotonic()):
            return []
        LOG.warning("switch %016x: uplink port %d is %s", dpid, port, "up" if up else "down")
        return self.elect()

    def cluster_adopted(self, switch):
        """A switch was adopted (Changes.adopt): the cluster learns which groups it was active for
        (those it did not stand by for, if it held our flows at all), and elects. The messages the
        elections send to other switches."""
        if not self.cluster.config.enabled:
            return []
        groups = set(self.groups())
        found = groups - switch.found_standby if switch.found.flows else set()
        self.cluster.adopted(switch.dpid, found, self.clock.monotonic())
        return self.elect(skip=switch)

    def elect(self, skip=None):
        """Put every redundancy group on the switch it should be active on; the messages that
        takes: the switches whose groups changed get their flows (but `skip`, which is being
        adopted), the new active switch announces the group's addresses."""
        if not self.cluster.config.enabled:
            return []
        now = self.clock.monotonic()
        changes = self.cluster.elect(self.groups(), now, self.clock.wall())
        self.next_election = self.cluster.next_change(now)
        if not changes:
            return []
        if any(change.takeover for change in changes):
            self.stats.count("takeovers", sum(change.takeover for change in changes))
        touched = {dpid for change in changes for dpid in (change.old, change.new) if dpid is not None}
        for change in changes:
            self.pickups = {key: until for key, until in self.pickups.items() if key[1] != change.group}
            if change.takeover and change.new is not None and self.options.takeover_grace:
                self.pickups[(change.new, change.group)] = now + self.options.takeover_grace
        out = [message for dpid in sorted(touched) if dpid in self.switches and self.switches[dpid] is not skip
               for message in self.changes.sync(self.switches[dpid])]
        owned = self.owned()
        for change in changes:
            if change.new in self.switches:
                self.neighbours.announce({key for key, group in owned.items() if group == change.group},
                                         [self.switches[change.new]], at_once=True)
        return out

    def pickup(self, switch, vips):
        """The ids of the NAT-mode VIPs of `vips` whose connections `switch` picks up mid-stream: it
        took their group over less than takeover_grace ago (see flows.vip.vip_flows)."""
        if not self.pickups:
            return frozenset()
        now = self.clock.monotonic()
        groups = {group for (dpid, group), until in self.pickups.items() if dpid == switch.dpid and until > now}
        return frozenset(vip.id for vip in vips if vip.redundancy_group in groups and vip.mode != "dsr")

    def _pickups_ended(self, now):
        """Switches whose pick-up of a group's connections just ended: their flows change back."""
        ended = {dpid for (dpid, _), until in self.pickups.items() if until <= now}
        if not ended:
            return []
        self.pickups = {key: until for key, until in self.pickups.items() if until > now}
        return [message for dpid in sorted(ended) if dpid in self.switches
                for message in self.changes.sync(self.switches[dpid])]

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

    def packet_in(self, dpid, table_id, in_port, data, network_id=0):
        """A packet the switch sent up, from table `table_id`, as it was there: arrived on switch
        port `in_port` on the network `network_id` (its register), its VLAN tag popped."""
        started = self.clock.monotonic()
        self.stats.count("packet_in")
        switch = self.switches.get(dpid)
        network = self.config.network_by_id.get(network_id)
        if switch is None or network is None:
            return []
        if table_id == pipeline.REJECT.id:
            self.stats.count("packet_in_reject")
            return self._answer(switch, packets.refusal(data), network, in_port, "rejected")
        if table_id == pipeline.COMMIT.id:
            self.stats.count("packet_in_reject")
            return self._answer(switch, packets.time_exceeded(data), network, in_port, "time_exceeded")
        if table_id == pipeline.MONITOR.id:
            self.stats.count("packet_in_monitor")
            return self.monitoring.replied(switch, data, in_port, network)
        frame = packets.parse(data)
        if frame is None or frame.arp is None:
            return []
        self.stats.count("packet_in_arp")
        return self.neighbours.arp(switch, frame, in_port, started, network)

    def _answer(self, switch, answer, network, in_port, counter):
        """Answer a packet back where it came from, tagged as its network is there: a refused new
        connection (no live member: a reset or a port unreachable at once, rather than leave the
        client to time out), a routed VIP's packet whose TTL runs out here (time exceeded, as the
        router the balancer is)."""
        if answer is None:
            return []
        self.stats.count(counter)
        return [(switch.dpid, PacketOut(packets.tagged(answer, network.tag_on(in_port)), IN_PORT, in_port))]

    def tick(self, now):
        """Whatever is due by `now` (monotonic): health probes and their deadlines, ARP probes,
        gratuitous ARPs, counter readings, switches whose state could not be read in time, a
        cluster's elections that time decides (a hold-down ending, a fresh cluster settling)."""
        elections = self.elect() if self.next_election is not None and self.next_election <= now else []
        elections += self._pickups_ended(now)
        return (elections + self.changes.tick(now) + self.monitoring.tick(now) + self.neighbours.tick(now)
                + self.polling.tick(now))

    # ------------------------------------------------------------------ shared by the managers

    def adopted(self):
        return [switch for switch in self.switches.values() if switch.adopted]

    @property
    def settings(self):
        return self.settings_for(self.config)

    def settings_for(self, config):
        """The flows' settings for `config` (its networks), kept while they stay the same."""
        if self._settings is None or self._settings.networks != config.networks:
            self._settings = self.options.settings(config.networks)
        return self._settings

    def owned(self, config=None):
        """Every (network, address) the balancer owns -> its redundancy group: VIPs, SNAT pools,
        gateways and monitor addresses."""
        config = config or self.config
        if self._owned[0] is not config:   # (once per configuration: every ARP packet-in asks)
            owned = {(network.name, address): group for network in config.networks
                     for address, group in network.owned.items()}
            owned.update(config.addresses)
            self._owned = (config, owned)
        return self._owned[1]

    def own_mac(self, network, group):
        """The balancer's MAC on `network` (a name) for redundancy group `group`."""
        return pipeline.own_mac(self.options.cluster_id, self.config.network_by_name[network].id, group)

    def node_mac(self, network, switch):
        """The MAC a cluster's switch sends its own ARP probes from on `network` (no group's: the
        fabric must not learn a group's MAC at a switch where the group is not active)."""
        return self.own_mac(network, pipeline.NODE_GROUP + self.cluster.config.index(switch.dpid))

    def groups(self, config=None):
        """Every redundancy group some address of the balancer is in."""
        return set(self.owned(config).values())

    def slot_hints(self, switch, vips, states=None):
        """VIP id -> the slot table of the switch active for the VIP's group, for the VIPs of `vips`
        that `switch` stands by for (`states`: dpid -> the state to read them from; by default what
        each switch holds)."""
        if not self.cluster.config.enabled:
            return {}
        hints = {}
        for vip in vips:
            active = self.cluster.active_switch(vip.redundancy_group)
            if active is None or active == switch.dpid:
                continue
            state = (states or {}).get(active) or getattr(self.switches.get(active), "installed", None)
            table = state.slots.get(vip.id) if state is not None else None
            if table is not None:
                hints[vip.id] = table
        return hints

    def standby(self, switch, config=None):
        """The (network, group) pairs `switch` stands by for: those whose group is active on
        another switch of the cluster (or on none yet)."""
        if not self.cluster.config.enabled:
            return frozenset()
        return frozenset((network, group) for (network, _), group in self.owned(config).items()
                         if not self.cluster.is_active(switch.dpid, group))

    def host_id(self, key):
        """The host id of (network, address), or None when no VIP lists it."""
        return self.config.hosts.get(key)

    def places(self, switch, config=None):
        """host id -> Place of the members (of `config`) located on `switch`."""
        hosts = (config or self.config).hosts
        return {hosts[key]: place for key, place in self.hosts.places(switch.dpid).items() if key in hosts}

    def where(self, key, group=None):
        """The first adopted switch that knows where host `key` is (with a `group`: one where that
        redundancy group is active), and the place there."""
        for switch in self.adopted():
            place = self.hosts.where(switch.dpid, key)
            if place is not None and (group is None or self.cluster.is_active(switch.dpid, group)):
                return switch, place
        return None, None
