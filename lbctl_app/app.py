"""The Ryu shell. It wires switches, REST calls and packet-ins to the model (`model`, `store`,
`hosts`) and to the pure flow computation (`flows`), and sends what `flows.reconcile` says.
It decides nothing about what a flow contains."""
import logging
import os
import time

from ryu import cfg
from ryu.app.wsgi import WSGIApplication
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ofproto_v1_3

from flows import pipeline, render
from flows.desired import SwitchState, desired_state
from flows.reconcile import diff
from lbctl_app import rest, store
from lbctl_app.hosts import HostTable, ProbeSchedule

LOG = logging.getLogger("lbctl")
CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt("vips_file", default=None,
               help="YAML file of VIPs, read at start when there is no saved state yet"),
    cfg.StrOpt("state_file", default="/var/lib/lbctl/state.msgpack",
               help="where every VIP change is saved (msgpack, replaced atomically)"),
    cfg.FloatOpt("probe_period", default=0.5,
                 help="seconds between looks for members whose MAC and port are unknown"),
], group="lbctl")

BROADCAST = "ff:ff:ff:ff:ff:ff"


def _beside_config(path):
    """A relative path in the [lbctl] section is relative to the config file that holds it."""
    if path and not os.path.isabs(path) and CONF.config_file:
        return os.path.join(os.path.dirname(os.path.abspath(CONF.config_file[-1])), path)
    return path


class Switch:
    """A connected datapath and the state we have told it to hold."""

    def __init__(self, datapath):
        self.datapath = datapath
        self.dpid = datapath.id
        self.installed = SwitchState()


class LoadBalancerApp(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        opts = CONF.lbctl
        self.state_file = _beside_config(opts.state_file)
        try:
            self.vips, source = store.initial_vips(self.state_file, _beside_config(opts.vips_file))
        except store.StoreError as e:
            LOG.error("lbctl cannot start: %s", e)
            raise SystemExit("lbctl cannot start: %s" % e)
        LOG.info("lbctl: %d VIP(s) from %s", len(self.vips.vips), source)
        self.hosts = HostTable()
        self.probes = ProbeSchedule()
        self.probe_period = opts.probe_period
        self.switches = {}
        self.counters = {"packet_in": 0, "packet_in_arp": 0, "flow_changes": 0}
        self._lock = hub.BoundedSemaphore(1)   # one sync at a time: messages of two syncs never interleave
        kwargs["wsgi"].register(rest.LbctlRest, {rest.APP_KEY: self})
        self.threads.append(hub.spawn(self._probe_loop))

    # ------------------------------------------------------------ VIP changes (called by REST)

    def create_vip(self, vip):
        return self._change(lambda vips: vips.create(vip))

    def replace_vip(self, name, vip):
        return self._change(lambda vips: vips.replace(name, vip))

    def delete_vip(self, name):
        return self._change(lambda vips: vips.delete(name))

    def _change(self, step):
        """Apply one change everywhere, or (on any error) nowhere: model, then disk, then switches."""
        with self._lock:
            new_vips, vip = step(self.vips)
            store.save_state(self.state_file, new_vips)
            self.vips = new_vips
            for switch in self.switches.values():
                self._sync(switch)
        return vip

    # ------------------------------------------------------------ switches

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        switch = Switch(ev.msg.datapath)
        with self._lock:
            self.switches[switch.dpid] = switch
            for msg in render.wipe(switch.datapath):
                switch.datapath.send_msg(msg)
            self._sync(switch)
        LOG.info("switch %016x connected", switch.dpid)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def switch_gone(self, ev):
        switch = self.switches.get(ev.datapath.id)
        if switch is not None and switch.datapath is ev.datapath:   # not a newer connection of it
            del self.switches[ev.datapath.id]
            LOG.info("switch %016x disconnected", ev.datapath.id)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def switch_error(self, ev):
        LOG.error("switch %016x refused a message: type=%d code=%d", ev.msg.datapath.id,
                  ev.msg.type, ev.msg.code)

    def _sync(self, switch):
        """Bring one switch from what it holds to what it should hold. Caller holds the lock."""
        desired = desired_state(self.vips.vips, lambda ip: self.hosts.where(switch.dpid, ip))
        changes = diff(switch.installed, desired)
        datapath = switch.datapath
        for change in changes:
            datapath.send_msg(render.change_message(datapath, change))
        if changes:
            datapath.send_msg(datapath.ofproto_parser.OFPBarrierRequest(datapath))
            self.counters["flow_changes"] += len(changes)
        switch.installed = desired

    # ------------------------------------------------------------ ARP: learning and probing

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        self.counters["packet_in"] += 1
        msg = ev.msg
        pkt = packet.Packet(msg.data)
        request = pkt.get_protocol(arp.arp)
        switch = self.switches.get(msg.datapath.id)
        if request is None or switch is None:
            return
        self.counters["packet_in_arp"] += 1
        if request.src_ip == "0.0.0.0" or self._is_own(request.src_ip, request.src_mac):
            return   # an address probe, or someone speaking for one of our addresses: learn nothing
        moved = self.hosts.learn(switch.dpid, request.src_ip, request.src_mac,
                                 msg.match["in_port"], time.time())
        if moved and self._is_member(request.src_ip):
            LOG.info("member %s is at %s port %d", request.src_ip, request.src_mac, msg.match["in_port"])
            with self._lock:
                self._sync(switch)

    def _is_own(self, ip, mac):
        return pipeline.is_own_mac(mac) or any(v.address == ip for v in self.vips.vips)

    def _is_member(self, ip):
        return any(m.address == ip for v in self.vips.vips for m in v.members)

    def _probe_loop(self):
        while True:
            hub.sleep(self.probe_period)
            try:
                self._probe_unresolved()
            except Exception:   # the loop must outlive one bad round
                LOG.exception("lbctl: probing members failed")

    def _probe_unresolved(self):
        asking = {}   # (dpid, member ip) -> the VIP address we ask from
        for switch in self.switches.values():
            for vip in self.vips.vips:
                for member in vip.members:
                    if self.hosts.where(switch.dpid, member.address) is None:
                        asking.setdefault((switch.dpid, member.address), vip.address)
        for dpid, ip in self.probes.due(set(asking), time.monotonic()):
            switch = self.switches.get(dpid)
            if switch is not None:
                self._send_arp_request(switch.datapath, asking[(dpid, ip)], ip)

    def _send_arp_request(self, datapath, from_ip, target_ip):
        mac = pipeline.own_mac(from_ip)
        pkt = packet.Packet()
        pkt.add_protocol(ethernet.ethernet(dst=BROADCAST, src=mac, ethertype=0x0806))
        pkt.add_protocol(arp.arp(opcode=arp.ARP_REQUEST, src_mac=mac, src_ip=from_ip,
                                 dst_mac="00:00:00:00:00:00", dst_ip=target_ip))
        pkt.serialize()
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPPacketOut(
            datapath, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
            actions=[parser.OFPActionOutput(ofp.OFPP_FLOOD)], data=pkt.data))
