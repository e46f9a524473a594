"""Every flow, group and meter of every mode, encoded as the shell sends it (lbctl_app/ofp.py, Ryu's
classes), is decoded by Open vSwitch's own parser (`ovs-ofctl ofp-parse`) into exactly the text
flows/text.py gives for it: what the switch would take, and what a dump of it shows. No switch
runs: only the ovs-ofctl binary."""
import subprocess

import pytest
from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from flows.reconcile import Change
from flows.text import flow_text, group_text
from lbctl_app import ofp
from tests.unit.test_pipeline import GROUPS, FLOWS


class Datapath:
    ofproto, ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser


def decoded(message, tmp_path):
    message.xid = 1
    message.serialize()
    path = tmp_path / "message.bin"
    path.write_bytes(bytes(message.buf))
    return subprocess.run(["ovs-ofctl", "ofp-parse", str(path)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: "table%d-%d" % (f.table, f.priority))
def test_every_flow_is_taken_by_open_vswitch_as_its_text_says(flow, tmp_path):
    out = decoded(ofp.change_message(Datapath(), Change("add_flow", flow)), tmp_path)
    assert "error" not in out, out
    assert out.split(" actions=", 1)[1].strip() == flow_text(flow).split(" actions=", 1)[1], out


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=lambda g: "group%d" % g.group_id)
def test_every_group_is_taken_by_open_vswitch(group, tmp_path):
    out = decoded(ofp.change_message(Datapath(), Change("add_group", group)), tmp_path)
    assert "error" not in out, out
    assert group_text(group).split(",bucket=", 1)[1].split(",bucket=")[0] in out, out


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: "table%d-%d" % (f.table, f.priority))
def test_every_flow_reads_back_with_its_own_key(flow):
    """What the switch reports of a flow (a flow stats reply, parsed by Ryu) has the key of the
    flow sent: adoption tells the flows it keeps from strays by key, and would otherwise delete
    its own flows."""
    match = ofp.ryu_match(flow.match)
    buf = bytearray()
    match.serialize(buf, 0)
    parsed = ofproto_v1_3_parser.OFPMatch.parser(bytes(buf), 0)
    stats = ofproto_v1_3_parser.OFPFlowStats(table_id=flow.table, priority=flow.priority, cookie=flow.cookie,
                                             match=parsed, instructions=[], packet_count=0, byte_count=0)
    assert ofp.flow_stats(stats).flow.key == flow.key
