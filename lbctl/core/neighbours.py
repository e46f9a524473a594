"""Neighbours: the ARP side of the balancer. It learns where its members are (from their ARP and
their answers to its probes) and follows them when they move, freezes an address that flaps,
defends the balancer's own addresses against anyone who claims them, and announces them with
gratuitous ARP. Only members are learned: ARP from anyone else changes nothing here. Everything
is per network: a host is (network, address), and what the balancer sends on a network leaves
tagged as that network is, through the switch's own L2 switching (NORMAL), which keeps each VLAN
to its ports."""
import logging

from flows.ir import NORMAL
from flows.pipeline import is_own_mac
from lbctl import hosts as hosttable
from lbctl import packets
from lbctl.core.messages import PacketOut

LOG = logging.getLogger("lbctl")

CLAIM_LOG_INTERVAL = 10.0   # seconds: claims on one address after the first are logged once in this
NEW_HOST_SETTLE = 0.1       # seconds: members newly found are put in service together, at most this late


class Neighbours:
    def __init__(self, core):
        self.core = core
        options = core.options
        self.probes = hosttable.ProbeSchedule()
        self.next_probe_round = 0.0
        self.garps = {}           # (network, address) -> [announcements left, when the next is due, switches (None: all)]
        self.claims_logged = {}   # (network, address) -> (when a claim on it was last logged, claims since then)
        self.garp_count, self.garp_interval = options.garp_count, options.garp_interval
        self.found = {}           # dpid -> ({host key: (mac, port)} found, not learned yet; when they are due)

    # ------------------------------------------------------------------ ARP packet-ins

    def arp(self, switch, frame, in_port, started, network):
        """An ARP packet that arrived on `network`."""
        seen = frame.arp
        if seen.src_ip == packets.PROBE_SOURCE:
            return []   # an address probe (RFC 5227) says nothing about where anyone is
        core = self.core
        owned = core.owned()
        key = (network.name, seen.src_ip)
        if key in owned or is_own_mac(seen.src_mac):
            self._defend(seen, key, owned)
            return []
        if core.host_id(key) is None:
            core.stats.count("arp_ignored")
            return []
        if core.hosts.host(switch.dpid, key) is None:
            return self._found(switch, key, seen.src_mac, in_port)
        return self._learn(switch, key, seen.src_mac, in_port, started)

    def _found(self, switch, key, mac, port):
        """A member found on `switch` for the first time. Members found by one round of probes
        answer within milliseconds of each other: they are learned and put in service together,
        by one change, at most NEW_HOST_SETTLE later, or at once when the last one missing comes.
        (In dsr, slots handed from one newly found member to the next would be moved slots, each
        with a grace of pins.) Until then the API does not show them, so a member it shows
        located is one the switch serves."""
        core = self.core
        found, due = self.found.get(switch.dpid, ({}, core.clock.monotonic() + NEW_HOST_SETTLE))
        found[key] = (mac, port)
        self.found[switch.dpid] = (found, due)
        if all(k in found or core.hosts.host(switch.dpid, k) is not None for k in core.config.hosts):
            return self._learn_found(switch.dpid)
        return []

    def _learn_found(self, dpid):
        core = self.core
        found, _ = self.found.pop(dpid)
        switch = core.switches.get(dpid)
        if switch is None:
            return []
        for key, (mac, port) in found.items():
            if core.hosts.learn(dpid, key, mac, port, core.clock.wall()) == hosttable.NEW:
                LOG.info("member %s on network %s is at %s port %d", key[1], key[0], mac, port)
        core.monitoring.note_statuses()
        return core.changes.sync(switch)

    def _learn(self, switch, key, mac, port, started):
        core = self.core
        outcome = core.hosts.learn(switch.dpid, key, mac, port, core.clock.wall())
        if outcome == hosttable.FROZEN:
            core.stats.count("frozen_arp")
        elif outcome == hosttable.BECAME_DUPLICATE:
            core.stats.count("duplicates")
            LOG.error("host %s on network %s marked duplicate: it moved %d times within %.0f s (now claimed by %s "
                      "on port %d); frozen at its last place until DELETE /v1/hosts/%s?network=%s", key[1], key[0],
                      core.hosts.max_moves, core.hosts.window, mac, port, key[1], key[0])
        elif outcome == hosttable.MOVED:
            core.stats.count("host_moves")
            LOG.info("member %s on network %s is at %s port %d", key[1], key[0], mac, port)
            return core.changes.sync(switch, (core.stats.move_ms, started))
        return []

    def _defend(self, seen, key, owned):
        """Someone else on a network speaks for one of our addresses (`key`: (network, address))
        or MACs: change nothing, count it, log it (once per CLAIM_LOG_INTERVAL per address, with
        how many came meanwhile), and tell that network the true binding again (one announcement
        at a time per address, however fast the claims come)."""
        core = self.core
        if key in owned and seen.src_mac == core.own_mac(key[0], owned[key]):
            return
        core.stats.count("ownership_conflicts")
        now = core.clock.monotonic()
        logged, since = self.claims_logged.get(key, (float("-inf"), 0))
        if now - logged >= CLAIM_LOG_INTERVAL:
            more = " (%d more claims on it in the last %.0f s)" % (since, now - logged) if since else ""
            LOG.warning("ownership conflict: %s claims %s on network %s (ARP op %d); re-announcing our binding%s",
                        seen.src_mac, seen.src_ip, key[0], seen.opcode, more)
            self.claims_logged[key] = (now, 0)
        else:
            self.claims_logged[key] = (logged, since + 1)
        if key in owned:
            self.announce({key})

    # ------------------------------------------------------------------ announcements

    def announce(self, addresses, switches=None, at_once=False):
        """Gratuitous ARPs for `addresses` ((network, address) keys): garp_count of them,
        garp_interval apart, on `switches` (None: every switch). An address already being
        announced is not announced again, only on more switches; but `at_once` (a group moved to
        another switch: the fabric must learn its MAC there now) starts its announcements over,
        the first one now."""
        now = self.core.clock.monotonic()
        for address in addresses:
            pending = self.garps.get(address)
            if pending is None:
                if self.garp_count:
                    self.garps[address] = [self.garp_count, now, None if switches is None else {s.dpid for s in switches}]
                continue
            if pending[2] is not None:
                pending[2] = None if switches is None else pending[2] | {s.dpid for s in switches}
            if at_once:
                pending[0], pending[1] = self.garp_count, now

    def _due_garps(self, now):
        core = self.core
        owned = core.owned()
        out = []
        for key, pending in sorted(self.garps.items()):
            left, due, dpids = pending
            if due > now:
                continue
            if key in owned:
                network, address = core.config.network_by_name[key[0]], key[1]
                garp = packets.arp_request(core.own_mac(network.name, owned[key]), address, address, network.vlan)
                for switch in core.switches.values():
                    if (dpids is None or switch.dpid in dpids) and core.cluster.is_active(switch.dpid, owned[key]):
                        out.append((switch.dpid, PacketOut(garp, NORMAL)))
                        core.stats.count("garps_sent")
            pending[0], pending[1] = left - 1, now + self.garp_interval
        self.garps = {address: pending for address, pending in self.garps.items() if pending[0] > 0}
        return out

    # ------------------------------------------------------------------ probes and ageing

    def tick(self, now):
        out = self._due_garps(now)
        for dpid in [dpid for dpid, (_, due) in self.found.items() if due <= now]:
            out += self._learn_found(dpid)
        if now >= self.next_probe_round:
            self.next_probe_round = now + self.core.options.probe_period
            out += self._expire() + self._probe_members(now)
        return out

    def _expire(self):
        """Forget members not heard from for host_max_age (they stopped answering probes)."""
        core = self.core
        gone = core.hosts.expire(core.clock.wall())
        if not gone:
            return []
        core.monitoring.note_statuses()
        return [message for switch in core.adopted() if switch.dpid in gone for message in core.changes.sync(switch)]

    def _probe_members(self, now):
        """ARP probes (RFC 5227: sender address 0.0.0.0) for members not located yet, or not heard
        from for refresh_interval. A probe leaves no entry in anyone's ARP cache, and a dsr member,
        which must not answer for the VIP on its loopback, still answers it."""
        core = self.core
        stale_before = core.clock.wall() - core.options.refresh_interval
        asking = {}   # (dpid, host key) -> the VIP we ask from
        for switch in core.switches.values():
            for vip in core.config.vips:
                for member in vip.members:
                    known = core.hosts.host(switch.dpid, member.key)
                    if known is None or known.last_seen < stale_before:
                        asking.setdefault((switch.dpid, member.key), vip)
        out = []
        for dpid, key in self.probes.due(set(asking), now):
            if dpid in core.switches:
                network = core.config.network_by_name[key[0]]
                group = asking[(dpid, key)].redundancy_group
                mac = (core.own_mac(network.name, group) if core.cluster.is_active(dpid, group)
                       else core.node_mac(network.name, core.switches[dpid]))
                probe = packets.arp_request(mac, packets.PROBE_SOURCE, key[1], network.vlan)
                out.append((dpid, PacketOut(probe, NORMAL)))
                core.stats.count("probes_sent")
        return out
