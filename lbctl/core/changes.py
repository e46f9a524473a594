"""Changes: what every switch should hold, and getting it there. A configuration change is
computed for every switch first, then saved (the Store), then sent, so a refused change sends
nothing and saves nothing. A switch that connects is read before anything is sent to it, and then
*adopted*: every desired flow is re-added in place and only what is not desired is deleted, so a
controller restart interrupts no traffic. A switch that refuses a message is read again."""
import logging

from flows import pipeline
from flows.desired import SwitchState, desired_state, graces_end
from flows.dsr import stale_pins
from flows.ir import Meter, SelectGroup
from flows.protocols import IP_PROTO
from flows.reconcile import adopt, diff
from flows.text import describe
from flows.slots import SLOTS
from flows.vip import cut_members, vip_register
from lbctl.core.messages import Barrier, CtFlush, DeleteLearned, ReadState, Wipe
from lbctl.hosts import Place

LOG = logging.getLogger("lbctl")

ADOPT_TIMEOUT = 5          # seconds to read a connecting switch's flows before emptying and refilling it
READ_AGAIN_HOLDOFF = 10    # seconds between two repairs of one switch after errors


class Changes:
    def __init__(self, core):
        self.core = core

    # ------------------------------------------------------------------ configuration changes

    def apply(self, step, of_vip=True):
        """Apply one change everywhere, or (on any error) nowhere. `step`: Config -> (the new
        Config, the VIP (or, `of_vip` False, the network) it changed). Returns (that VIP or
        network, the messages)."""
        core = self.core
        started = (core.stats.change_ms, core.clock.monotonic())
        core.last_change = started[1]
        result = {}

        def change(config):
            new, changed = step(config)
            result["changed"], result["before"] = changed, config
            result["plans"] = self._plans(config, new)
            return new

        new = core.store.transact(change)
        changed = result["changed"]
        vips = [v for v in new.vips if v.id == changed.id] if of_vip else None
        return changed, self._serve(result["before"], new, result["plans"], vips, started)

    def saved_elsewhere(self, config):
        """A configuration saved by another controller (a replicated Store): serve it."""
        before = self.core.config
        return self._serve(before, config, self._plans(before, config), None, None)

    def _plans(self, before, config):
        """What every writable switch should hold for `config`, coming from `before`. In a
        cluster, a switch that stands by for a VIP's group keeps to the slot table the active
        switch's plan has (planned again, when its own first plan differs)."""
        stale = stale_pins(before.vips, config.vips, before.network_by_name)
        cut = [(vip, member, before.network_by_name[member.network].id)
               for vip, member in cut_members(before.vips, config.vips)]
        plans = [(switch, self.plan(switch, config, stale, cut)) for switch in self._writable()]
        planned = {switch.dpid: plan[0] for switch, plan in plans}
        again = []
        for switch, plan in plans:
            hints = self.core.slot_hints(switch, config.vips, planned)
            if any(plan[0].slots.get(vip_id) != table for vip_id, table in hints.items()):
                plan = self.plan(switch, config, stale, cut, hints)
            again.append((switch, plan))
        return again

    def _serve(self, before, config, plans, changed, started):
        """Make `config` (planned as `plans`) the one in force; `changed`: the VIPs whose members'
        status may have changed (None: all)."""
        core = self.core
        core.config = config
        core.hosts.keep_only(config.hosts.keys())
        out = []
        for switch, plan in plans:
            out += self.send(switch, plan, started)
        core.monitoring.track(config.vips)
        core.monitoring.note_statuses(changed)
        core.neighbours.announce(set(core.owned(config)) - set(core.owned(before)))
        return out + core.elect()

    # ------------------------------------------------------------------ planning and sending

    def _writable(self):
        return [switch for switch in self.core.switches.values() if self.core.placement.writable(switch)]

    def desired(self, switch, config, previous=None, hints=None):
        """What `switch` should hold for `config`, following `previous`; `hints`: VIP id -> the
        slot table to keep to (by default: the installed ones of the switches active for the
        groups it stands by for)."""
        core = self.core
        vips = core.placement.served(switch, config.vips)
        if hints is None:
            hints = core.slot_hints(switch, vips)
        return desired_state(vips, core.places(switch, config), core.settings_for(config), previous,
                             core.monitoring.down(vips), core.clock.monotonic(), core.standby(switch, config),
                             core.pickup(switch, vips), hints)

    def plan(self, switch, config, stale=(), cut=(), hints=None):
        """What `switch` should hold for `config`, and the messages that take it there: first
        deleting the learned dsr pins in `stale`, last forgetting the conntrack entries of the
        (VIP, member, the member's network id) of `cut`."""
        desired = self.desired(switch, config, switch.installed, hints)
        messages = [DeleteLearned(pipeline.DSR_CONN.id, m) for m in stale]
        messages += list(diff(switch.installed, desired))
        messages += [CtFlush(pipeline.lb_zone(network_id), IP_PROTO[vip.protocol], (vip.address, vip.port),
                             (member.address, member.port)) for vip, member, network_id in cut]
        return desired, messages

    def send(self, switch, plan, started=None):
        """The messages of a plan and a barrier after them; the switch now holds the plan.
        `started`: (the samples the time to the barrier's reply goes to, when its cause came)."""
        desired, messages = plan
        switch.installed = desired
        if not messages:
            return []
        barrier = Barrier(switch.xid())
        switch.pending[barrier.xid] = started or (None, None)
        self.core.stats.count("flow_changes", len(messages))
        return [(switch.dpid, message) for message in messages + [barrier]]

    def sync(self, switch, started=None):
        """Bring one switch from what it holds to what it should hold (a switch not adopted yet
        is left alone: adoption computes everything anyway)."""
        if not self.core.placement.writable(switch):
            return []
        return self.send(switch, self.plan(switch, self.core.config), started)

    def sync_all(self):
        """Every switch; in a cluster twice, so that a standby keeps to the slot tables its active
        switch has just taken (the second pass sends nothing where they agree already)."""
        rounds = 2 if self.core.cluster.config.enabled else 1
        return [message for _ in range(rounds) for switch in list(self.core.switches.values())
                for message in self.sync(switch)]

    # ------------------------------------------------------------------ reading and adopting a switch

    def read(self, switch):
        switch.start_reading(self.core.clock.monotonic())
        return [(switch.dpid, ReadState())]

    def flows_read(self, switch, rows, more):
        if switch.adopted:
            return []
        for row in rows:
            flow = row.flow
            switch.found.flows[flow.key] = flow
            fields = dict(flow.match)
            if row.place and flow.table == pipeline.LOCATE.id and pipeline.HOST_REG.field in fields:
                switch.found_places[fields[pipeline.HOST_REG.field]] = Place(*row.place)
            elif flow.table == pipeline.SLOT.id and pipeline.VIP_REG.field in fields:
                slots = switch.found_slots.setdefault(fields[pipeline.VIP_REG.field], {})
                slots[fields[pipeline.SLOT_REG.field]] = row.loads
            elif flow.table == pipeline.STANDBY_TABLE.id and pipeline.OWNED_REG.field in fields:
                value = fields[pipeline.OWNED_REG.field]
                switch.found_standby.add(pipeline.suffix_group(value[0] if isinstance(value, tuple) else value))
        return self._part_read(switch, "flows", more)

    def groups_read(self, switch, groups, more):
        """`groups`: (group id, what each bucket loads) pairs."""
        if switch.adopted:
            return []
        for group_id, buckets in groups:
            switch.found.groups[group_id] = SelectGroup(group_id)
            vip = self.core.config.by_id.get(group_id)   # a VIP's group is numbered like it
            if vip is not None:
                switch.found_slots[vip_register(vip)] = dict(enumerate(buckets))
        return self._part_read(switch, "groups", more)

    def meters_read(self, switch, meter_ids, more):
        if switch.adopted:
            return []
        switch.found.meters.update((meter_id, Meter(meter_id, 0, 0)) for meter_id in meter_ids)
        return self._part_read(switch, "meters", more)

    def _part_read(self, switch, part, more):
        if not more:
            switch.reading.discard(part)
        return [] if switch.reading else self.adopt(switch)

    def adopt(self, switch):
        """Take over what the switch holds: where hosts were (its locate flows) seeds the host
        table, its slot tables (and dsr's moved slots) are kept, every desired flow is re-added in
        place, and only what is not desired is deleted (but the pins the switch learned)."""
        core = self.core
        now = core.clock.wall()
        keys = {host_id: key for key, host_id in core.config.hosts.items()}
        for host_id, place in switch.found_places.items():
            key = keys.get(host_id)
            if key is not None and core.hosts.where(switch.dpid, key) is None:
                core.hosts.learn(switch.dpid, key, place.mac, place.port, now)
        elsewhere = core.cluster_adopted(switch)
        found = self._found_state(switch)
        core.monitoring.seed(core.config.vips, {(vip_id, member) for vip_id, table in found.slots.items()
                                                for member in table})
        desired = self.desired(switch, core.config, found)
        changes = adopt(switch.found, desired, keep_tables={pipeline.DSR_CONN.id})
        deletions = [change for change in changes if change.op.startswith("delete")]
        for change in deletions:
            LOG.info("switch %016x: deleting what it holds and should not: %s", switch.dpid, describe(change.item))
        switch.installed = SwitchState()
        out = self.send(switch, (desired, list(changes)))
        core.monitoring.note_statuses()
        LOG.info("switch %016x adopted: %d flows found, %d deletions, %d host places kept",
                 switch.dpid, len(switch.found.flows), len(deletions), len(switch.found_places))
        # A cluster's every active switch announces again: the switch adopted now may have been
        # active before it froze, and pulled its groups' MACs back to itself in the fabric.
        core.neighbours.announce(set(core.owned()), None if core.cluster.config.enabled else [switch])
        return elsewhere + out

    def _found_state(self, switch):
        """A state holding only the slot tables (and dsr's moved slots, whose grace starts again
        now) that the switch's groups and slot flows carry, for the VIPs configured: adoption
        keeps them, so no connection changes member. A table the switch holds only in part is not
        kept."""
        core = self.core
        found = SwitchState()
        for vip in core.config.vips:
            loads = switch.found_slots.get(vip_register(vip), {})
            if len(loads) != SLOTS:
                continue
            if vip.mode == "dsr":
                member_of, chosen = {m.host: m.id for m in vip.members}, pipeline.HOST_REG.field
            else:
                member_of, chosen = {m.id: m.id for m in vip.members}, pipeline.MEMBER_REG.field
            table = tuple(member_of.get(loads[slot].get(chosen)) for slot in range(SLOTS))
            if None in table:
                continue
            found.slots[vip.id] = table
            if vip.mode == "dsr":
                grace = core.clock.monotonic() + core.settings.dsr_grace
                old = {slot: member_of.get(loads[slot].get(pipeline.MEMBER_REG.field)) for slot in range(SLOTS)}
                moves = {slot: (member, grace) for slot, member in old.items() if member is not None}
                if moves:
                    found.moves[vip.id] = moves
        return found

    def repair(self, switch):
        """Read a switch that refused a message again, and adopt it; at most once every
        READ_AGAIN_HOLDOFF seconds, so a message wrong in itself cannot cause a loop."""
        now = self.core.clock.monotonic()
        if not switch.adopted or now - switch.read_again < READ_AGAIN_HOLDOFF:
            return []
        switch.read_again = now
        LOG.warning("switch %016x: reading it again to repair it", switch.dpid)
        return self.read(switch)

    def tick(self, now):
        """Switches whose state could not be read within ADOPT_TIMEOUT: empty and refill them. And
        switches where the grace of a dsr moved slot ended: their slots are plain again."""
        out = []
        for switch in list(self.core.switches.values()):
            if switch.adopted and graces_end(switch.installed) <= now:
                out += self.sync(switch)
            if switch.adopted or switch.read_since is None or now - switch.read_since < ADOPT_TIMEOUT:
                continue
            LOG.warning("switch %016x: its flows could not be read in %d s; emptying and refilling it",
                        switch.dpid, ADOPT_TIMEOUT)
            switch.installed = SwitchState()
            out += [(switch.dpid, Wipe())] + self.sync(switch)
            self.core.neighbours.announce(set(self.core.owned()), [switch])
        return out
