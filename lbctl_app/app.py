"""The Ryu shell. It wires switches, REST calls and packet-ins to the model (`model`, `store`,
`hosts`, `stats`) and to the pure flow computation (`flows`), and sends what `flows.reconcile`
says. It decides nothing about what a flow contains."""
import gc
import ipaddress
import logging
import os
import time

from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.lib.packet import arp, packet
from ryu.ofproto import ofproto_v1_3

from flows import pipeline, render
from flows.desired import Settings, SwitchState, desired_state
from flows.dsr import stale_pins
from flows.vip import IP_PROTO, cut_members
from flows.ir import Meter, SelectGroup
from flows.reconcile import adopt, diff
from lbctl_app import health, hosts as hosttable, httpd, packets, rest, store
from lbctl_app.model import Conflict, InvalidInput, LbError
from lbctl_app.stats import Stats
from lbctl_app.traffic import Traffic, counter_tables

LOG = logging.getLogger("lbctl")
CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt("vips_file", default=None,
               help="YAML file of VIPs, read at start when there is no saved state yet"),
    cfg.StrOpt("state_file", default="/var/lib/lbctl/state.msgpack",
               help="where every VIP change is saved (msgpack, replaced atomically)"),
    cfg.StrOpt("token_file", default=None,
               help="if set, REST calls that change anything need 'Authorization: Bearer <the file's "
                    "content>'; the file must not be readable by group or others (chmod 600)"),
    cfg.IntOpt("cluster_id", default=0, min=0, max=255,
               help="byte 4 of the balancer's MACs; differs between lbctl clusters on one LAN"),
    cfg.FloatOpt("probe_period", default=0.5,
                 help="seconds between rounds of ARP probes for members to find"),
    cfg.FloatOpt("refresh_interval", default=60.0,
                 help="a member not heard from for this many seconds is probed again"),
    cfg.IntOpt("arp_punt_pps", default=100, min=1,
               help="ARP packets per second the switch sends to the controller at most"),
    cfg.IntOpt("arp_punt_burst", default=50, min=0, help="... after a burst of this many"),
    cfg.IntOpt("member_arp_pps", default=100, min=1,
               help="the same for ARP from members' addresses, which has a meter of its own"),
    cfg.ListOpt("gateways", default=[],
                help="the balancer's gateway addresses (routed mode), e.g. 198.18.0.1/24, 198.18.2.1/24: "
                     "it answers ARP and ping for them, and members and clients use them as their router"),
    cfg.IntOpt("gateway_group", default=1, min=1, max=0xFFFF, help="the redundancy group (MAC) of the gateways"),
    cfg.IntOpt("reject_pps", default=100, min=1,
               help="connections to a VIP with no live member the controller refuses per second at most"),
    cfg.IntOpt("duplicate_moves", default=5, min=2,
               help="an address that moves this many times within duplicate_window is frozen"),
    cfg.FloatOpt("duplicate_window", default=180.0, help="seconds (RFC 7432's M)"),
    cfg.StrOpt("monitor_address", default=None,
               help="the source address of health probes, owned by the balancer (it answers ARP for it): "
                    "members must be able to reach it. Needed by VIPs with a health_monitor"),
    cfg.IntOpt("monitor_pps", default=1000, min=1, help="replies to health probes the controller takes per second at most"),
    cfg.FloatOpt("stats_interval", default=10.0, min=0.1,
                 help="seconds between two readings of the switches' flow and group counters"),
    cfg.IntOpt("garp_count", default=3, min=0, help="gratuitous ARPs sent per announcement"),
    cfg.FloatOpt("garp_interval", default=1.0, help="seconds between them"),
], group="lbctl")

MONITOR_TICK = 0.05   # seconds between two looks at which health probes are due or late
ADOPT_TIMEOUT = 5   # seconds to read a connecting switch's flows before emptying and refilling it
QUIET_BEFORE_READING = 1.0   # seconds without a VIP change before the counters are read
READ_AGAIN_HOLDOFF = 10   # seconds between two repairs of one switch after errors


def _beside_config(path):
    """A relative path in the [lbctl] section is relative to the config file that holds it."""
    if path and not os.path.isabs(path) and CONF.config_file:
        return os.path.join(os.path.dirname(os.path.abspath(CONF.config_file[-1])), path)
    return path


def parse_address(option, value):
    """An address option; a bad one stops the start."""
    try:
        return str(ipaddress.IPv4Address(value.strip())) if value else None
    except ValueError:
        raise SystemExit("lbctl cannot start: [lbctl] %s: %r is not an IPv4 address" % (option, value))


def parse_gateways(entries):
    """`address/prefix` entries of the gateways option -> their addresses; a bad one stops the start."""
    addresses = []
    for entry in entries:
        try:
            addresses.append(str(ipaddress.IPv4Interface(entry.strip()).ip))
        except ValueError:
            raise SystemExit("lbctl cannot start: [lbctl] gateways: %r is not an IPv4 address/prefix" % entry)
    return tuple(addresses)


class Switch:
    """A connected datapath and the state we have told it to hold."""

    def __init__(self, datapath):
        self.datapath = datapath
        self.dpid = datapath.id
        self.installed = None   # unknown until the switch's own flows have been read (adoption)
        self.found = SwitchState()            # what reading the switch found ...
        self.found_places = {}                # ... where its locate flows said hosts are ...
        self.found_serving = set()            # ... and (VIP id, member address) its groups send to
        self.reading = {"flows", "groups", "meters"}
        self.read_again = float("-inf")       # when an error last made us read the switch again
        self.pending = {}   # barrier xid -> (the samples it times or None, when its cause arrived)
        self.counter_reads = {}   # xid of a counter request in flight -> the Reading it is part of
        self.counters = {}  # VIP id -> {flow key: (packets, bytes)} at its last reading


class Reading:
    """The reading of one VIP's counters on one switch: the requests not answered in full yet,
    and the rows their replies brought."""

    def __init__(self, vip_id, xids):
        self.vip_id = vip_id
        self.waiting = set(xids)
        self.rows = []


class LoadBalancerApp(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The flows of 1,000 VIPs are a few hundred thousand long-lived objects: with Python's
        # default thresholds, young collections run every few hundred allocations and full ones
        # pause a request for ~200 ms. Fewer, larger young collections (bench/scale.py).
        gc.set_threshold(10000, 10, 10)
        opts = CONF.lbctl
        self.opts = opts
        self.state_file = _beside_config(opts.state_file)
        try:
            self.token = store.read_token(_beside_config(opts.token_file)) if opts.token_file else None
            self.state_lock = store.StateLock(self.state_file)
            self.vips, source = store.initial_vips(self.state_file, _beside_config(opts.vips_file))
        except store.StoreError as e:
            LOG.error("lbctl cannot start: %s", e)
            raise SystemExit("lbctl cannot start: %s" % e)
        (LOG.error if "unusable" in source else LOG.info)("lbctl: %d VIP(s) from %s", len(self.vips.vips), source)
        self.settings = Settings(cluster_id=opts.cluster_id, arp_punt_pps=opts.arp_punt_pps,
                                 gateways=parse_gateways(opts.gateways), gateway_group=opts.gateway_group,
                                 arp_punt_burst=opts.arp_punt_burst, member_arp_pps=opts.member_arp_pps,
                                 reject_pps=opts.reject_pps, monitor_pps=opts.monitor_pps,
                                 monitor_address=parse_address("monitor_address", opts.monitor_address))
        self.hosts = hosttable.HostTable(opts.duplicate_moves, opts.duplicate_window)
        self.probes = hosttable.ProbeSchedule()
        for vip in self.vips.vips:
            try:
                self._check_monitoring(vip)
            except LbError as e:
                raise SystemExit("lbctl cannot start: vip %s: %s" % (vip.name, e))
        self.stats = Stats()
        self.monitors = health.Monitors(self.stats.count)
        self.monitors.track(self.vips.vips, time.monotonic())
        self.statuses = health.StatusBook()
        self.traffic = Traffic()
        self.last_change = float("-inf")   # when the last VIP change came in (monotonic)
        self.switches = {}
        self._lock = hub.BoundedSemaphore(1)   # one sync at a time: messages of two syncs never interleave
        self.threads.append(hub.spawn(self._probe_loop))
        self.threads.append(hub.spawn(self._monitor_loop))
        self.threads.append(hub.spawn(self._poll_loop))

    def start(self):
        """Called by ryu-manager once every app is made: serve the REST API on --wsapi-host and
        --wsapi-port (options ryu-manager registers; it serves nothing itself, as no app asks
        for its "wsgi" context)."""
        super().start()
        address = "%s:%d" % (CONF.wsapi_host, CONF.wsapi_port)
        try:
            listener = httpd.listen(CONF.wsapi_host, CONF.wsapi_port)
        except OSError as e:
            LOG.error("lbctl cannot start: wsapi: cannot listen on %s: %s", address, e)
            raise SystemExit("lbctl cannot start: wsapi: cannot listen on %s: %s" % (address, e))
        LOG.info("lbctl: REST API on http://%s", address)
        self.threads.append(hub.spawn(httpd.serve, listener, rest.application(self), rest.MAX_BODY))

    # ------------------------------------------------------------ changes (called by REST)

    def create_vip(self, vip):
        return self._change(lambda vips: vips.create(vip))

    def replace_vip(self, name, vip, revision=None):
        return self._change(lambda vips: vips.replace(name, vip, revision))

    def delete_vip(self, name, revision=None):
        return self._change(lambda vips: vips.delete(name, revision))

    def _change(self, step):
        """Apply one change everywhere, or (on any error) nowhere: the new VIP set and every
        switch's messages are computed first, then the state is saved, then the messages sent."""
        started = (self.stats.change_ms, time.monotonic())
        self.last_change = started[1]
        with self._lock:
            new_vips, vip = step(self.vips)
            self._check_monitoring(vip)
            stale = stale_pins(self.vips.vips, new_vips.vips)
            cut = cut_members(self.vips.vips, new_vips.vips)
            plans = [(switch, self._plan(switch, new_vips, stale, cut)) for switch in self._adopted()]
            store.save_state(self.state_file, new_vips)
            added = set(self._owned(new_vips)) - set(self._owned())
            self.vips = new_vips
            for switch, plan in plans:
                self._send(switch, plan, started)
            self.monitors.track(new_vips.vips, time.monotonic())
            self.note_statuses([v for v in new_vips.vips if v.id == vip.id])
        self._announce(added)
        return vip

    def _check_monitoring(self, vip):
        """A VIP with a health monitor needs the monitor address, which is nobody else's."""
        address = self.settings.monitor_address
        if vip.monitored and address is None:
            raise InvalidInput("health_monitor.type", vip.health_monitor.type,
                               "needs [lbctl] monitor_address in the controller's configuration")
        if address is not None and address in {vip.address, *vip.snat_addresses, *(m.address for m in vip.members)}:
            raise Conflict("address: %s is the balancer's monitor address" % address)

    def forget_host(self, ip):
        """Forget where `ip` is (and clear a duplicate); it is probed and learned again."""
        with self._lock:
            if not self.hosts.forget(ip):
                return False
            for switch in self._adopted():
                self._sync(switch)
            self.note_statuses()
        LOG.info("host %s forgotten by request", ip)
        return True

    # ------------------------------------------------------------ switches

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        """A switch connects: read what it holds, then change only what differs (adoption), so a
        controller restart does not interrupt traffic. Should reading fail, empty and refill it."""
        switch = Switch(ev.msg.datapath)
        self.switches[switch.dpid] = switch
        LOG.info("switch %016x connected; reading its flows", switch.dpid)
        self._read(switch)

    def _read(self, switch):
        """Read what `switch` holds, to adopt it once every part has come in."""
        switch.installed, switch.found, switch.found_places, switch.found_serving = None, SwitchState(), {}, set()
        switch.reading = {"flows", "groups", "meters"}
        for request in render.dump_requests(switch.datapath):
            switch.datapath.send_msg(request)
        hub.spawn_after(ADOPT_TIMEOUT, self._refill_unless_adopted, switch)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flows_read(self, ev):
        if self._polled(ev):
            return
        switch = self._reading(ev)
        if switch is not None:
            for stats in ev.msg.body:
                flow, place = render.read_flow(stats)
                switch.found.flows[flow.key] = flow
                if place and flow.table == pipeline.LOCATE.id and "reg2" in dict(flow.match):
                    switch.found_places[pipeline.ipv4_text(dict(flow.match)["reg2"])] = place
            self._read_part(switch, ev, "flows")

    @set_ev_cls(ofp_event.EventOFPGroupDescStatsReply, MAIN_DISPATCHER)
    def groups_read(self, ev):
        switch = self._reading(ev)
        if switch is not None:
            switch.found.groups.update((g.group_id, SelectGroup(g.group_id)) for g in ev.msg.body)
            switch.found_serving.update((g.group_id, address) for g in ev.msg.body for address in render.group_members(g))
            self._read_part(switch, ev, "groups")

    @set_ev_cls(ofp_event.EventOFPMeterConfigStatsReply, MAIN_DISPATCHER)
    def meters_read(self, ev):
        switch = self._reading(ev)
        if switch is not None:
            switch.found.meters.update((m.meter_id, Meter(m.meter_id, 0, 0)) for m in ev.msg.body)
            self._read_part(switch, ev, "meters")

    def _reading(self, ev):
        switch = self.switches.get(ev.msg.datapath.id)
        return switch if switch is not None and switch.installed is None else None

    def _read_part(self, switch, ev, part):
        if not ev.msg.flags & ev.msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            switch.reading.discard(part)
        if not switch.reading:
            self._adopt(switch)

    def _adopt(self, switch):
        """Take over what the switch holds: where hosts were (its locate flows) seeds the host table,
        every desired flow is re-added in place, and only what is not desired is deleted (but the
        dsr pins the switch learned)."""
        now = time.time()
        with self._lock:
            for ip, (mac, port) in switch.found_places.items():
                if self.hosts.where(switch.dpid, ip) is None:
                    self.hosts.learn(switch.dpid, ip, mac, port, now)
            self.monitors.seed(self.vips.vips, self._serving(switch))
            desired = desired_state(self.vips.vips, self.hosts.places(switch.dpid), self.settings,
                                    down=self._down(self.vips))
            changes = adopt(switch.found, desired, keep_tables={pipeline.DSR_CONN.id})
            messages = [render.change_message(switch.datapath, change) for change in changes]
            stray = sum(1 for change in changes if change.op.startswith("delete"))
            switch.installed = SwitchState()
            self._send(switch, (desired, messages))
            self.note_statuses()
        LOG.info("switch %016x adopted: %d flows found, %d deletions, %d host places kept",
                 switch.dpid, len(switch.found.flows), stray, len(switch.found_places))
        self._announce(self._owned(), [switch])

    def _serving(self, switch):
        """(VIP id, member address) pairs the switch was found sending new connections to: in a
        VIP's group, or in its slot flows."""
        addresses = {pipeline.cookie(vip.id, m.id): (vip.id, m.address) for vip in self.vips.vips for m in vip.members}
        slots = {addresses.get(f.cookie) for f in switch.found.flows.values() if f.table == pipeline.SLOT.id}
        return switch.found_serving | (slots - {None})

    def _refill_unless_adopted(self, switch):
        if switch.installed is not None or self.switches.get(switch.dpid) is not switch:
            return
        LOG.warning("switch %016x: its flows could not be read in %d s; emptying and refilling it",
                    switch.dpid, ADOPT_TIMEOUT)
        with self._lock:
            for msg in render.wipe(switch.datapath):
                switch.datapath.send_msg(msg)
            switch.installed = SwitchState()
            self._sync(switch)
        self._announce(self._owned(), [switch])

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def switch_gone(self, ev):
        switch = self.switches.get(ev.datapath.id)
        if switch is not None and switch.datapath is ev.datapath:   # not a newer connection of it
            del self.switches[ev.datapath.id]
            self.traffic.forget_switch(ev.datapath.id)
            self.monitors.cancel(ev.datapath.id, time.monotonic())
            LOG.info("switch %016x disconnected", ev.datapath.id)
            self.note_statuses()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def switch_error(self, ev):
        """The switch refused a message, so it no longer holds what the controller thinks (someone
        changed it behind our back, say): read it again and adopt it. At most once per
        READ_AGAIN_HOLDOFF seconds, so a message that is wrong in itself cannot cause a loop."""
        LOG.error("switch %016x refused a message: type=%d code=%d", ev.msg.datapath.id,
                  ev.msg.type, ev.msg.code)
        self.stats.count("switch_errors")
        switch = self.switches.get(ev.msg.datapath.id)
        now = time.monotonic()
        if switch is not None and switch.installed is not None and now - switch.read_again >= READ_AGAIN_HOLDOFF:
            switch.read_again = now
            LOG.warning("switch %016x: reading it again to repair it", switch.dpid)
            self._read(switch)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        switch = self.switches.get(ev.msg.datapath.id)
        samples, started = switch.pending.pop(ev.msg.xid, (None, None)) if switch else (None, None)
        if samples is not None:
            samples.append(round((time.monotonic() - started) * 1000, 3))

    def _adopted(self):
        return [switch for switch in self.switches.values() if switch.installed is not None]

    def _sync(self, switch, started=None):
        """Bring one switch from what it holds to what it should hold. Caller holds the lock.
        `started`: as for _send.
        A switch not adopted yet is left alone: adoption computes everything anyway."""
        if switch.installed is not None:
            self._send(switch, self._plan(switch, self.vips), started)

    def _plan(self, switch, vips, stale_pins=(), cut=()):
        """What `switch` should hold for `vips`, and the serialized messages that take it there
        (first deleting the learned dsr pins in `stale_pins`; last forgetting the conntrack
        entries of the (VIP, member) pairs `cut`). Serializing here means a message that cannot be
        encoded fails before anything is sent."""
        desired = desired_state(vips.vips, self.hosts.places(switch.dpid), self.settings, switch.installed,
                                self._down(vips))
        datapath = switch.datapath
        messages = [render.delete_by_cookie(datapath, pipeline.DSR_CONN.id, cookie, mask) for cookie, mask in stale_pins]
        messages += [render.change_message(datapath, change) for change in diff(switch.installed, desired)]
        messages += [render.ct_flush(datapath, pipeline.LB_ZONE, IP_PROTO[vip.protocol], (vip.address, vip.port),
                                     (member.address, member.port)) for vip, member in cut]
        for msg in messages:
            msg.serialize()
        return desired, messages

    def _send(self, switch, plan, started=None):
        """Send a plan and a barrier after it. `started`: (the samples to add the time to the
        barrier reply to, when the cause arrived), or None."""
        desired, messages = plan
        datapath = switch.datapath
        for msg in messages:
            datapath.send_msg(msg)
        if messages:
            barrier = datapath.ofproto_parser.OFPBarrierRequest(datapath)
            datapath.set_xid(barrier)
            switch.pending[barrier.xid] = started or (None, None)
            datapath.send_msg(barrier)
            self.stats.count("flow_changes", len(messages))
        switch.installed = desired

    # ------------------------------------------------------------ ARP: learning, defending, probing

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        started = time.monotonic()
        self.stats.count("packet_in")
        msg = ev.msg
        if msg.table_id == pipeline.REJECT.id:
            self.stats.count("packet_in_reject")
            self._refuse(msg.datapath, msg.data, msg.match["in_port"])
            return
        if msg.table_id == pipeline.MONITOR.id:
            self.stats.count("packet_in_monitor")
            self._probe_replied(msg.datapath, msg.data, msg.match["in_port"])
            return
        seen = packet.Packet(msg.data).get_protocol(arp.arp)
        switch = self.switches.get(msg.datapath.id)
        if seen is None or switch is None:
            return
        self.stats.count("packet_in_arp")
        if seen.src_ip == "0.0.0.0":
            return   # an address probe (RFC 5227) says nothing about where anyone is
        owned = self._owned()
        if seen.src_ip in owned or pipeline.is_own_mac(seen.src_mac):
            self._defend(seen, owned)
            return
        self._learn(switch, seen, msg.match["in_port"], started)

    def _learn(self, switch, seen, port, started):
        outcome = self.hosts.learn(switch.dpid, seen.src_ip, seen.src_mac, port, time.time())
        if outcome == hosttable.FROZEN:
            self.stats.count("frozen_arp")
        elif outcome == hosttable.BECAME_DUPLICATE:
            self.stats.count("duplicates")
            LOG.error("host %s marked duplicate: it moved %d times within %.0f s (now claimed by %s on port %d);"
                      " frozen at its last place until DELETE /v1/hosts/%s", seen.src_ip, self.hosts.max_moves,
                      self.hosts.window, seen.src_mac, port, seen.src_ip)
        elif outcome in (hosttable.NEW, hosttable.MOVED) and self._is_member(seen.src_ip):
            if outcome == hosttable.MOVED:
                self.stats.count("host_moves")
            LOG.info("member %s is at %s port %d", seen.src_ip, seen.src_mac, port)
            with self._lock:
                self._sync(switch, (self.stats.move_ms, started))
                if outcome == hosttable.NEW:
                    self.note_statuses()

    def _defend(self, seen, owned):
        """Someone else speaks for one of our addresses or MACs: change nothing, log, count, and
        tell the LAN the true binding again."""
        ours = seen.src_ip in owned and seen.src_mac == pipeline.own_mac(self.settings.cluster_id, owned[seen.src_ip])
        if ours:
            return
        self.stats.count("ownership_conflicts")
        LOG.warning("ownership conflict: %s claims %s (ARP op %d); re-announcing our binding",
                    seen.src_mac, seen.src_ip, seen.opcode)
        if seen.src_ip in owned:
            self._announce({seen.src_ip})

    def _refuse(self, datapath, raw, in_port):
        """A new connection to a VIP with no live member: answer at once, rather than leave the
        client to time out."""
        answer = packets.refusal(raw)
        if answer is not None:
            ofp = datapath.ofproto
            self._packet_out(datapath, answer, in_port, ofp.OFPP_IN_PORT)
            self.stats.count("rejected")

    def _packet_out(self, datapath, data, in_port, port):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPPacketOut(datapath, buffer_id=ofp.OFP_NO_BUFFER, in_port=in_port,
                                              actions=[parser.OFPActionOutput(port)], data=data))

    def _owned(self, vips=None):
        """Every address the balancer owns -> its redundancy group: VIPs, SNAT pools, gateways and
        the monitor address (in the gateways' group)."""
        owned = dict.fromkeys(self.settings.gateways, self.settings.gateway_group)
        if self.settings.monitor_address:
            owned[self.settings.monitor_address] = self.settings.gateway_group
        owned.update((vips or self.vips).addresses)
        return owned

    def _is_member(self, ip):
        return ip in self.vips.member_addresses

    def _announce(self, addresses, switches=None):
        """Gratuitous ARPs for `addresses`: garp_count of them, garp_interval apart, in the background."""
        if addresses and self.opts.garp_count:
            hub.spawn(self._send_garps, sorted(addresses), switches)

    def _send_garps(self, addresses, switches):
        owned = self._owned()
        for i in range(self.opts.garp_count):
            if i:
                hub.sleep(self.opts.garp_interval)
            for switch in list(switches or self.switches.values()):
                for address in addresses:
                    if address in owned:
                        mac = pipeline.own_mac(self.settings.cluster_id, owned[address])
                        self._send_arp(switch.datapath, mac, address, address)
                        self.stats.count("garps_sent")

    def _probe_loop(self):
        while True:
            hub.sleep(self.opts.probe_period)
            try:
                self._probe_members()
            except Exception:   # the loop must outlive one bad round
                LOG.exception("lbctl: probing members failed")

    def _probe_members(self):
        """ARP probes (RFC 5227: sender address 0.0.0.0) for members not located yet, or not heard
        from for refresh_interval. A probe leaves no entry in anyone's ARP cache, and a dsr member,
        which must not answer for the VIP on its loopback, still answers it."""
        stale_before = time.time() - self.opts.refresh_interval
        asking = {}   # (dpid, member ip) -> the VIP we ask from
        for switch in self.switches.values():
            for vip in self.vips.vips:
                for member in vip.members:
                    known = self.hosts.host(switch.dpid, member.address)
                    if known is None or known.last_seen < stale_before:
                        asking.setdefault((switch.dpid, member.address), vip)
        for dpid, ip in self.probes.due(set(asking), time.monotonic()):
            switch = self.switches.get(dpid)
            if switch is not None:
                vip = asking[(dpid, ip)]
                mac = pipeline.own_mac(self.settings.cluster_id, vip.redundancy_group)
                self._send_arp(switch.datapath, mac, packets.PROBE_SOURCE, ip)
                self.stats.count("probes_sent")

    def _send_arp(self, datapath, mac, from_ip, target_ip):
        """Flood an ARP request from one of our MACs (a GARP or a probe: see packets.arp_request)."""
        ofp = datapath.ofproto
        self._packet_out(datapath, packets.arp_request(mac, from_ip, target_ip), ofp.OFPP_CONTROLLER, ofp.OFPP_FLOOD)

    # ------------------------------------------------------------ health monitors and members' status

    def _down(self, vips):
        """VIP id -> ids of its members that its health monitor holds down."""
        return {vip.id: self.monitors.down(vip) for vip in vips.vips if vip.monitored}

    def _monitor_loop(self):
        while True:
            hub.sleep(MONITOR_TICK)
            try:
                self._monitor_round(time.monotonic())
            except Exception:   # the loop must outlive one bad round
                LOG.exception("lbctl: health probing failed")

    def _monitor_round(self, now):
        """Count probes past their deadline, then send the probes that are due."""
        changes = self.monitors.expire(now)
        for key, target in self.monitors.due(now):
            switch, place = self._where(target.address)
            if place is None:
                self.monitors.postpone(key, now)
                continue
            token = self.monitors.start(key, now, switch.dpid)
            mac = pipeline.own_mac(self.settings.cluster_id, self.settings.gateway_group)
            probe = packets.probe(target.kind, mac, place.mac, self.settings.monitor_address, target.address,
                                  target.port, token)
            self._packet_out(switch.datapath, probe, switch.datapath.ofproto.OFPP_CONTROLLER, place.port)
            self.stats.count("monitor_probes")
        self._health_changed(changes)

    def _where(self, address):
        """The first adopted switch that knows where `address` is, and the place there."""
        for switch in self._adopted():
            place = self.hosts.where(switch.dpid, address)
            if place is not None:
                return switch, place
        return None, None

    def _probe_replied(self, datapath, raw, in_port):
        reply = packets.probe_reply(raw)
        if reply is None:
            return
        kind, address, port, token, ok, reason = reply
        if kind == "tcp" and ok:   # the reset that closes the probe's half-open connection on the member
            self._packet_out(datapath, packets.refusal(raw), in_port, datapath.ofproto.OFPP_IN_PORT)
        change = self.monitors.reply(token, kind, address, port, ok, reason, time.monotonic())
        self._health_changed([change] if change else [])

    def _health_changed(self, changes):
        """Members came up or went down: their VIPs' groups change on every switch."""
        if not changes:
            return
        self.stats.count("monitor_changes", len(changes))
        changed = {change.key[0] for change in changes}
        with self._lock:
            for switch in self._adopted():
                self._sync(switch)
            self.note_statuses([vip for vip in self.vips.vips if vip.id in changed])

    def note_statuses(self, vips=None):
        """Bring members' operating status up to date (all VIPs', or those of `vips`) and log each
        change in one line."""
        for vip, member, status, reason in self.statuses.update(self.vips.vips if vips is None else vips,
                                                                self._located, self.monitors, self.vips.vips):
            LOG.info("member %s:%d of vip %s is %s: %s", member.address, member.port, vip.name, status, reason)

    def _located(self, address):
        return self._where(address)[1]

    # ------------------------------------------------------------ traffic counters

    def _poll_loop(self):
        """Read the counters of every VIP on every switch each stats_interval: VIP by VIP, spread
        over the interval (Ryu parses a reply in one go, holding up everything else meanwhile),
        and never while VIPs are being changed (changes come first)."""
        while True:
            vips = self.vips.vips
            ids = {vip.id for vip in vips}
            for switch in self._adopted():   # the counters of VIPs deleted since the last round go
                switch.counters = {vip_id: c for vip_id, c in switch.counters.items() if vip_id in ids}
            pause = self.opts.stats_interval / max(1, len(vips))
            for vip in vips or [None]:
                hub.sleep(pause)
                while time.monotonic() - self.last_change < QUIET_BEFORE_READING:
                    hub.sleep(QUIET_BEFORE_READING)
                if vip is not None:
                    for switch in self._adopted():
                        self._read_counters(switch, vip)

    def _read_counters(self, switch, vip):
        requests = [render.poll_request(switch.datapath, table, pipeline.cookie(vip.id), pipeline.COOKIE_VIP_MASK)
                    for table in counter_tables(vip.mode)]
        for request in requests:
            switch.datapath.set_xid(request)
        reading = Reading(vip.id, [request.xid for request in requests])
        for request in requests:
            switch.counter_reads[request.xid] = reading
            switch.datapath.send_msg(request)

    def _polled(self, ev):
        """A reply to a counter request: keep its rows; once the VIP's reading is complete, count it."""
        switch = self.switches.get(ev.msg.datapath.id)
        reading = switch.counter_reads.get(ev.msg.xid) if switch else None
        if reading is None:
            return False
        reading.rows.extend(render.flow_counters(stats) for stats in ev.msg.body)
        if ev.msg.flags & ev.msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            return True
        del switch.counter_reads[ev.msg.xid]
        reading.waiting.discard(ev.msg.xid)
        if not reading.waiting:
            switch.counters[reading.vip_id] = {(table, priority, key): (packets, nbytes)
                                               for table, priority, _, key, packets, nbytes in reading.rows}
            self.traffic.poll(switch.dpid, reading.vip_id, reading.rows, time.time())
        return True
