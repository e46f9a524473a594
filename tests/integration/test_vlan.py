"""802.1Q tags on real Open vSwitch: flows that pop a frame's tag at ingress, its VLAN id kept in a
register, and push it back at the exit, sent as the controller sends them (lbctl_app/ofp.py's Ryu
messages, on an OpenFlow 1.3 session of the test's own: no controller runs) are taken, dump as
flows/text.py writes them, and read back (a flow stats reply, parsed by Ryu) with their own keys
and the very instructions sent. Tagged frames sent through them leave with their own tags: seen by
ofproto/trace and on the wire."""
import itertools
import re
import shutil
import socket
import struct

import pytest
from ryu.ofproto import ofproto_common, ofproto_parser, ofproto_v1_3, ofproto_v1_3_parser

from flows import pipeline
from flows.ir import Flow, Move, Output, PopVlan, PushVlan, SetField, match
from flows.protocols import ETH_TYPE_IP, VLAN_PRESENT
from flows.text import flow_text
from lab.lbctl import wait_for
from lab.packets import Capture, send_frames, tcp_frame
from lbctl_app import ofp

pytestmark = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")

HOSTS = (("client", "198.18.0.10", 1), ("m1", "198.18.0.11", 2), ("m2", "198.18.0.12", 3))
TAG_REG = pipeline.ADDRESS_REG.field   # the pipeline has no register for VLANs yet: any declared one will do
FLOWS = (
    # Ingress: a tagged frame's VLAN id into the register, its tag popped...
    Flow(0, 100, match(vlan_vid=(VLAN_PRESENT, VLAN_PRESENT)), (Move("vlan_vid", TAG_REG, 12), PopVlan()), goto=1),
    # ... but VLAN 20's frames are given VLAN 21 (OpenFlow's form: the present bit and the id)...
    Flow(0, 200, match(vlan_vid=VLAN_PRESENT | 20), (PopVlan(), SetField(TAG_REG, VLAN_PRESENT | 21)), goto=1),
    # ... and VLAN 30's go to m2 untagged.
    Flow(0, 300, match(vlan_vid=VLAN_PRESENT | 30), (PopVlan(), Output(3))),
    # Exit, for frames that lost their tag (a match on untagged frames): the register's VLAN pushed, to m1.
    Flow(1, 100, match(eth_type=ETH_TYPE_IP, vlan_vid=0), (PushVlan(), Move(TAG_REG, "vlan_vid", 12), Output(2))),
)
LEAVES_WITH = {10: ",dl_vlan=10,", 20: ",dl_vlan=21,", 30: ",vlan_tci=0x0000,"}   # ofproto/trace's final flow


class Datapath:
    ofproto, ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser


class Session:
    """An OpenFlow 1.3 session on the bridge's management socket: Ryu's messages out, the
    switch's parsed by Ryu."""

    def __init__(self, lab):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(str(lab.workdir / ("%s.mgmt" % lab.bridge)))
        self.xids = itertools.count(1)
        self.send(ofproto_v1_3_parser.OFPHello(Datapath()))
        assert self.receive().msg_type == ofproto_v1_3.OFPT_HELLO   # its own versions: 1.3 is the highest ours says

    def send(self, message):
        message.xid = next(self.xids)
        message.serialize()
        self.sock.sendall(message.buf)
        return message.xid

    def receive(self):
        head = self._read(ofproto_common.OFP_HEADER_SIZE)
        version, kind, length, xid = struct.unpack(ofproto_common.OFP_HEADER_PACK_STR, head)
        return ofproto_parser.msg(Datapath(), version, kind, length, xid, head + self._read(length - len(head)))

    def _read(self, size):
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            assert chunk, "the switch closed the session"
            data += chunk
        return data

    def answers(self, request):
        """What the switch answers `request` with, read up to the reply to a barrier after it. A
        refusal (an error message) fails the test."""
        xid, barrier = self.send(request), self.send(ofproto_v1_3_parser.OFPBarrierRequest(Datapath()))
        answers = []
        while True:
            message = self.receive()
            assert not isinstance(message, ofproto_v1_3_parser.OFPErrorMsg), \
                "the switch refused %r: %r" % (request, message)
            if message.xid == barrier:
                return answers
            if message.xid == xid:
                answers.append(message)


def instruction_bytes(instructions):
    buf = bytearray()
    for instruction in instructions:
        instruction.serialize(buf, len(buf))
    return bytes(buf)


def test_a_tag_popped_at_ingress_is_pushed_back_from_its_register_at_the_exit(make_lab):
    lab = make_lab().start()
    hosts = {name: lab.add_host(name, address, ofport=port) for name, address, port in HOSTS}
    session = Session(lab)
    for flow in FLOWS:
        session.answers(ofp.add_flow(Datapath(), flow))

    dumped = {line.strip() for line in lab.ofctl("dump-flows", "--no-stats").splitlines()}
    assert dumped == {flow_text(flow) for flow in FLOWS}
    read = {}
    for reply in session.answers(ofp.dump_requests(Datapath())[0]):
        read.update((ofp.flow_stats(stats).flow.key, stats.instructions) for stats in reply.body)
    assert set(read) == {flow.key for flow in FLOWS}
    for flow in FLOWS:
        assert instruction_bytes(read[flow.key]) == instruction_bytes(ofp.add_flow(Datapath(), flow).instructions), \
            flow_text(flow)

    frames = {vid: tcp_frame(hosts["client"].mac, hosts["m1"].mac, HOSTS[0][1], HOSTS[1][1], 41000 + vid, 80, vlan=vid)
              for vid in (10, 20, 30)}
    for vid, frame in frames.items():
        trace = lab.switch.appctl("ofproto/trace", lab.bridge, "in_port=1", frame.hex())
        assert LEAVES_WITH[vid] in re.search(r"^Final flow: (.*)$", trace, re.M)[1], trace
    with Capture(lab, "m1", "tcp or (vlan and tcp)") as m1, Capture(lab, "m2", "tcp or (vlan and tcp)") as m2:
        assert send_frames(lab, "client", list(frames.values())) == 3
        wait_for(lambda: len(m1.seen()) == 2 and len(m2.seen()) == 1, "the frames at m1 and m2", timeout=10)
    assert [re.search(r"vlan (\d+),.*\.(\d+) >", line).groups() for line in m1.lines] == \
        [("10", "41010"), ("21", "41020")], m1.lines
    assert "802.1Q" not in m2.lines[0] and ".41030 >" in m2.lines[0], m2.lines
