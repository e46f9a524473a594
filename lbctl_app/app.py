"""The Ryu shell: it turns Ryu's events into calls of the core (lbctl.core.Balancer), sends what
the core returns, and runs the clock (tick) and the REST API. It decides nothing itself."""
import gc
import logging
import time

from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from flows import pipeline
from lbctl import rest, store
from lbctl.core import Balancer, StartError
from lbctl.service import Service
from lbctl_app import httpd, ofp, options

LOG = logging.getLogger("lbctl")
TICK = 0.05   # seconds between two looks at what is due (health probes are timed to this)


class LoadBalancerApp(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The flows of 1,000 VIPs are a few hundred thousand long-lived objects: with Python's
        # default thresholds, young collections run every few hundred allocations and full ones
        # pause a request for ~200 ms. Fewer, larger young collections (bench/scale.py).
        gc.set_threshold(10000, 10, 10)
        opts = options.CONF.lbctl
        try:
            token = store.read_token(options.beside_config(opts.token_file)) if opts.token_file else None
            self.store = store.FileStore(options.beside_config(opts.state_file), options.beside_config(opts.vips_file))
            self.core = Balancer(options.options(), self.store)
        except (store.StoreError, StartError) as e:
            LOG.error("lbctl cannot start: %s", e)
            raise SystemExit("lbctl cannot start: %s" % e)
        (LOG.error if "unusable" in self.store.source else LOG.info)(
            "lbctl: %d VIP(s) from %s", len(self.core.config.vips), self.store.source)
        self.datapaths = {}
        self.service = Service(self.core, self._send, hub.BoundedSemaphore(1), token)
        self.store.subscribe(lambda config: self.service.run(self.core.saved_elsewhere, config))
        self.threads.append(hub.spawn(self._clock))

    def start(self):
        """Called by ryu-manager once every app is made: serve the REST API on --wsapi-host and
        --wsapi-port (options ryu-manager registers; it serves nothing itself, as no app asks
        for its "wsgi" context)."""
        super().start()
        conf = cfg.CONF
        address = "%s:%d" % (conf.wsapi_host, conf.wsapi_port)
        try:
            listener = httpd.listen(conf.wsapi_host, conf.wsapi_port)
        except OSError as e:
            LOG.error("lbctl cannot start: wsapi: cannot listen on %s: %s", address, e)
            raise SystemExit("lbctl cannot start: wsapi: cannot listen on %s: %s" % (address, e))
        LOG.info("lbctl: REST API on http://%s", address)
        self.threads.append(hub.spawn(httpd.serve, listener, rest.application(self.service), rest.MAX_BODY))

    def _send(self, out):
        """Send the core's messages, every one encoded before the first is sent."""
        encoded = [(self.datapaths[dpid], msg) for dpid, message in out if dpid in self.datapaths
                   for msg in ofp.to_ryu(self.datapaths[dpid], message)]
        for datapath, msg in encoded:
            msg.serialize()
        for datapath, msg in encoded:
            datapath.send_msg(msg)

    def _clock(self):
        while True:
            hub.sleep(TICK)
            try:
                self.service.run(self.core.tick, time.monotonic())
            except Exception:   # the clock must outlive one bad round
                LOG.exception("lbctl: a tick failed")

    # ------------------------------------------------------------ switches

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        datapath = ev.msg.datapath
        self.datapaths[datapath.id] = datapath
        self.service.run(self.core.switch_connected, datapath.id)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def switch_gone(self, ev):
        if self.datapaths.get(ev.datapath.id) is ev.datapath:   # not a newer connection of it
            del self.datapaths[ev.datapath.id]
            self.service.run(self.core.switch_gone, ev.datapath.id)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flows_read(self, ev):
        msg = ev.msg
        self.service.run(self.core.flows_read, msg.datapath.id, msg.xid, [ofp.flow_stats(s) for s in msg.body],
                  bool(msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE))

    @set_ev_cls(ofp_event.EventOFPGroupDescStatsReply, MAIN_DISPATCHER)
    def groups_read(self, ev):
        msg = ev.msg
        self.service.run(self.core.groups_read, msg.datapath.id, [(g.group_id, ofp.group_buckets(g)) for g in msg.body],
                  bool(msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE))

    @set_ev_cls(ofp_event.EventOFPMeterConfigStatsReply, MAIN_DISPATCHER)
    def meters_read(self, ev):
        msg = ev.msg
        self.service.run(self.core.meters_read, msg.datapath.id, [m.meter_id for m in msg.body],
                  bool(msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def switch_error(self, ev):
        self.service.run(self.core.switch_error, ev.msg.datapath.id, ev.msg.type, ev.msg.code)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        self.service.run(self.core.barrier_reply, ev.msg.datapath.id, ev.msg.xid)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg = ev.msg
        ofp = msg.datapath.ofproto
        up = msg.reason != ofp.OFPPR_DELETE and not msg.desc.state & ofp.OFPPS_LINK_DOWN
        self.service.run(self.core.port_status, msg.datapath.id, msg.desc.port_no, up)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        network = msg.match.get(pipeline.NETWORK_REG.field, 0)   # (a register at 0 is not in the match)
        self.service.run(self.core.packet_in, msg.datapath.id, msg.table_id, msg.match["in_port"], msg.data, network)
