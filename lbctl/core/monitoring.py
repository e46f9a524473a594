"""Monitoring: health probes of members (sent through the switch to the member's port, from the
monitor address), their replies and deadlines, and each member's operating status as the API
shows it. A member that goes up or down changes its VIPs' slot tables on every switch."""
import logging

from flows.ir import IN_PORT
from lbctl import health, packets
from lbctl.core.messages import PacketOut

LOG = logging.getLogger("lbctl")


class Monitoring:
    def __init__(self, core):
        self.core = core
        self.monitors = health.Monitors(core.stats.count)
        self.statuses = health.StatusBook(core.clock.wall)

    def track(self, vips):
        self.monitors.track(vips, self.core.clock.monotonic())

    def seed(self, vips, serving):
        self.monitors.seed(vips, serving)

    def cancel(self, dpid):
        """A switch is gone, and with it the probes that left through it: not failures."""
        self.monitors.cancel(dpid, self.core.clock.monotonic())

    def down(self, vips):
        """VIP id -> ids of its members that its health monitor holds down."""
        return {vip.id: self.monitors.down(vip) for vip in vips if vip.monitored}

    def tick(self, now):
        """Count probes past their deadline, then send the probes that are due."""
        core = self.core
        changes = self.monitors.expire(now)
        out = []
        for key, target in self.monitors.due(now):
            network = core.config.network_by_name[target.network]
            # From the switch where the monitor address is active: its MAC must not show up elsewhere.
            switch, place = core.where((target.network, target.address), network.monitor_group)
            if place is None:
                self.monitors.postpone(key, now)
                continue
            token = self.monitors.start(key, now, switch.dpid)
            probe = packets.probe(target.kind, core.own_mac(network.name, network.monitor_group), place.mac,
                                  network.monitor_address, target.address, target.port, token,
                                  network.tag_on(place.port))
            out.append((switch.dpid, PacketOut(probe, place.port)))
            core.stats.count("monitor_probes")
        return out + self._results(changes)

    def replied(self, switch, data, in_port, network):
        """A packet to the monitor address of `network`: perhaps the reply to a probe."""
        reply = packets.probe_reply(data)
        if reply is None:
            return []
        kind, address, port, token, ok, reason = reply
        out = []
        if kind == "tcp" and ok:   # the reset that closes the probe's half-open connection on the member
            reset = packets.tagged(packets.refusal(data), network.tag_on(in_port))
            out.append((switch.dpid, PacketOut(reset, IN_PORT, in_port)))
        change = self.monitors.reply(token, kind, address, port, ok, reason, self.core.clock.monotonic(), network.name)
        return out + self._results([change] if change else [])

    def _results(self, changes):
        """After probes' results: members that came up or went down change their VIPs' slot
        tables on every switch; every member with a result may have news in its status."""
        core = self.core
        out = []
        if changes:
            core.stats.count("monitor_changes", len(changes))
            out = core.changes.sync_all()
        touched = {key[0] for key in self.monitors.take_touched()}
        if touched:
            self.note_statuses([core.config.by_id[vip_id] for vip_id in touched if vip_id in core.config.by_id])
        return out

    def note_statuses(self, vips=None):
        """Bring members' operating status up to date (all VIPs', or those of `vips`) and log each
        change in one line. Called on every event that can change one, so reading never does."""
        config = self.core.config
        for vip, member, status, reason in self.statuses.update(config.vips if vips is None else vips,
                                                                self._located, self.monitors, config.vips):
            LOG.info("member %s:%d of vip %s is %s: %s", member.address, member.port, vip.name, status, reason)

    def _located(self, key):
        return self.core.where(key)[1]
