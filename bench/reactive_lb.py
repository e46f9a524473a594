"""A reactive load balancer of the kind Ryu tutorials show, as a peer for bench/peers.py (not part
of lbctl): the controller decides every connection.

    ryu-manager --config-file reactive.conf --wsapi-port PORT bench/reactive_lb.py

Configuration, section [reactive_lb]: `vip` and `vip_mac` (the address the controller answers
ARP for, and the MAC it answers with), `service_port`, `members` (a list of `ip/mac/ofport`),
`idle_timeout` (seconds a connection's flows outlive its last packet).

On connect it empties the switch and installs three flows: the first packet of a TCP connection
to the VIP's service port goes to the controller, so does an ARP request for the VIP, and
everything else is switched by `NORMAL`. For each connection's first packet (its SYN) the
controller picks the next member round robin and installs two exact-match flows, one per
direction: the request's 5-tuple gets the member's MAC and address and leaves on its port; the
reply's 5-tuple gets the VIP back as its source (and the VIP's MAC) and leaves on the client's
port; then it sends the packet on. An ARP request for the VIP is answered by the controller.

A connection's second and third packets (the client's ACK and request) often reach the
controller too: Open vSwitch's datapath keeps using the cached flow that sent the SYN to the
controller until its revalidators catch up with the new flows, a few milliseconds. So the
controller remembers each connection's member until its request flow expires (the switch
reports the removal) and sends such packets to that member rather than placing them anew.
GET /reactive_lb/stats gives its counters: packet-ins, of them ARP and of them packets of a
connection already placed, and connections placed.
"""
import json

from ryu import cfg
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import arp, ether_types, ethernet, in_proto, ipv4, packet, tcp
from ryu.ofproto import ofproto_v1_3

CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt("vip", help="the VIP's address"),
    cfg.StrOpt("vip_mac", help="the MAC the controller answers ARP for the VIP with"),
    cfg.IntOpt("service_port", default=80, help="the VIP's TCP port (and the members')"),
    cfg.ListOpt("members", default=[], help="members as ip/mac/ofport"),
    cfg.IntOpt("idle_timeout", default=10, help="seconds a connection's flows outlive its last packet"),
], group="reactive_lb")

APP_KEY = "reactive_lb"
PRIORITY_NORMAL, PRIORITY_PUNT, PRIORITY_CONNECTION = 0, 100, 200


class ReactiveLoadBalancer(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        opts = CONF.reactive_lb
        self.vip, self.vip_mac, self.port = opts.vip, opts.vip_mac, opts.service_port
        self.idle_timeout = opts.idle_timeout
        self.members = []
        for text in opts.members:
            ip, mac, ofport = text.split("/")
            self.members.append((ip, mac, int(ofport)))
        self.next_member = 0
        self.placed = {}   # (client address, client port) -> the actions that send to its member
        self.counters = {"packet_in": 0, "packet_in_arp": 0, "packet_in_placed": 0, "connections": 0,
                         "switches": 0}
        kwargs["wsgi"].register(StatsApi, {APP_KEY: self})

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        dp.send_msg(parser.OFPFlowMod(dp, command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL,
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))
        self.add_flow(dp, PRIORITY_NORMAL, parser.OFPMatch(), [parser.OFPActionOutput(ofp.OFPP_NORMAL)])
        punt = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        arp_request = parser.OFPMatch(eth_type=ether_types.ETH_TYPE_ARP, arp_op=arp.ARP_REQUEST, arp_tpa=self.vip)
        to_vip = parser.OFPMatch(eth_type=ether_types.ETH_TYPE_IP, ip_proto=in_proto.IPPROTO_TCP,
                                 ipv4_dst=self.vip, tcp_dst=self.port)
        self.add_flow(dp, PRIORITY_PUNT, arp_request, punt)
        self.add_flow(dp, PRIORITY_PUNT, to_vip, punt)
        self.counters["switches"] += 1

    def add_flow(self, dp, priority, match, actions, idle_timeout=0, flags=0):
        parser = dp.ofproto_parser
        instructions = [parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(dp, priority=priority, match=match, instructions=instructions,
                                      idle_timeout=idle_timeout, flags=flags))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        self.counters["packet_in"] += 1
        pkt = packet.Packet(msg.data)
        request = pkt.get_protocol(arp.arp)
        if request:
            self.counters["packet_in_arp"] += 1
            self.answer_arp(msg.datapath, msg.match["in_port"], pkt.get_protocol(ethernet.ethernet), request)
            return
        ip, segment = pkt.get_protocol(ipv4.ipv4), pkt.get_protocol(tcp.tcp)
        if not (ip and segment and ip.dst == self.vip and segment.dst_port == self.port and self.members):
            return
        dp = msg.datapath
        actions = self.placed.get((ip.src, segment.src_port))
        if actions:
            self.counters["packet_in_placed"] += 1
        else:
            actions = self.place(dp, msg.match["in_port"], ip, segment)
        dp.send_msg(dp.ofproto_parser.OFPPacketOut(dp, buffer_id=dp.ofproto.OFP_NO_BUFFER,
                                                   in_port=msg.match["in_port"], actions=actions, data=msg.data))

    def place(self, dp, client_port, ip, segment):
        """A new connection's member (round robin) and its two flows -> the actions that send its
        packets to the member."""
        parser = dp.ofproto_parser
        member_ip, member_mac, member_port = self.members[self.next_member]
        self.next_member = (self.next_member + 1) % len(self.members)
        self.counters["connections"] += 1
        tcp_ip = {"eth_type": ether_types.ETH_TYPE_IP, "ip_proto": in_proto.IPPROTO_TCP}
        to_member = [parser.OFPActionSetField(eth_dst=member_mac), parser.OFPActionSetField(ipv4_dst=member_ip),
                     parser.OFPActionOutput(member_port)]
        self.add_flow(dp, PRIORITY_CONNECTION,
                      parser.OFPMatch(in_port=client_port, ipv4_src=ip.src, ipv4_dst=self.vip,
                                      tcp_src=segment.src_port, tcp_dst=self.port, **tcp_ip),
                      to_member, self.idle_timeout, flags=dp.ofproto.OFPFF_SEND_FLOW_REM)
        self.add_flow(dp, PRIORITY_CONNECTION,
                      parser.OFPMatch(in_port=member_port, ipv4_src=member_ip, ipv4_dst=ip.src,
                                      tcp_src=self.port, tcp_dst=segment.src_port, **tcp_ip),
                      [parser.OFPActionSetField(eth_src=self.vip_mac), parser.OFPActionSetField(ipv4_src=self.vip),
                       parser.OFPActionOutput(client_port)],
                      self.idle_timeout)
        self.placed[(ip.src, segment.src_port)] = to_member
        return to_member

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def flow_removed(self, ev):
        """A request flow expired: its connection is over (a new one may reuse the 5-tuple)."""
        match = ev.msg.match
        if match.get("ipv4_dst") == self.vip:
            self.placed.pop((match["ipv4_src"], match["tcp_src"]), None)

    def answer_arp(self, dp, in_port, eth, request):
        if request.opcode != arp.ARP_REQUEST or request.dst_ip != self.vip:
            return
        reply = packet.Packet()
        reply.add_protocol(ethernet.ethernet(ethertype=ether_types.ETH_TYPE_ARP, dst=eth.src, src=self.vip_mac))
        reply.add_protocol(arp.arp(opcode=arp.ARP_REPLY, src_mac=self.vip_mac, src_ip=self.vip,
                                   dst_mac=request.src_mac, dst_ip=request.src_ip))
        reply.serialize()
        parser = dp.ofproto_parser
        dp.send_msg(parser.OFPPacketOut(dp, buffer_id=dp.ofproto.OFP_NO_BUFFER, in_port=dp.ofproto.OFPP_CONTROLLER,
                                        actions=[parser.OFPActionOutput(in_port)], data=reply.data))


class StatsApi(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    @route("stats", "/reactive_lb/stats", methods=["GET"])
    def stats(self, req, **_):
        return Response(status=200, content_type="application/json", body=json.dumps(self.app.counters).encode())
