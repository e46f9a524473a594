"""VLAN tags through the flow vocabulary: push_vlan, pop_vlan, the VLAN id moved into and out of a
register, and tagged or untagged matches, as text (what `ovs-ofctl dump-flows` prints), as the
shell encodes them (what Open vSwitch's own parser takes, and refuses, alike with the fake switch)
and as a flow stats reply reads back. No switch runs: only the ovs-ofctl binary."""
import re

import pytest
from ryu.ofproto import ofproto_parser, ofproto_v1_3, ofproto_v1_3_parser

from flows import pipeline as p
from flows.fakeswitch import FakeSwitch, Refused
from flows.ir import Flow, Move, Output, PopVlan, PushVlan, SetField, match
from flows.protocols import ETH_TYPE_IP, VLAN_PRESENT
from flows.reconcile import Change
from flows.text import flow_text
from lbctl_app import ofp
from tests.unit.test_encoding import Datapath, decoded

TAG_REG = p.ADDRESS_REG.field   # the pipeline has no register for VLANs yet: any declared one will do
TAGGED = (VLAN_PRESENT, VLAN_PRESENT)

# Each with the text ovs-ofctl dumps it as.
TAKEN = [
    (Flow(0, 100, match(vlan_vid=TAGGED), (Move("vlan_vid", TAG_REG, 12), PopVlan()), goto=1),
     "priority=100,vlan_tci=0x1000/0x1000 actions=move:OXM_OF_VLAN_VID[]->NXM_NX_REG3[0..11],pop_vlan,goto_table:1"),
    (Flow(1, 100, match(eth_type=ETH_TYPE_IP, vlan_vid=0), (PushVlan(), Move(TAG_REG, "vlan_vid", 12), Output(2))),
     "table=1, priority=100,ip,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,"
     "move:NXM_NX_REG3[0..11]->OXM_OF_VLAN_VID[],output:2"),
    (Flow(0, 200, match(vlan_vid=VLAN_PRESENT | 30), (PopVlan(), PushVlan(), SetField("vlan_vid", VLAN_PRESENT | 31),
                                                      Output(3))),
     "priority=200,dl_vlan=30 actions=pop_vlan,push_vlan:0x8100,set_field:4127->vlan_vid,output:3"),
    (Flow(0, 300, match(vlan_vid=TAGGED), (PushVlan(), PopVlan(), PopVlan(), Output(3))),
     "priority=300,vlan_tci=0x1000/0x1000 actions=push_vlan:0x8100,pop_vlan,pop_vlan,output:3"),
    # Taken, though it writes nothing to a packet with no tag (the fake switch says so as it walks one).
    (Flow(1, 300, match(), (Move(TAG_REG, "vlan_vid", 12), Output(3))),
     "table=1, priority=300 actions=move:NXM_NX_REG3[0..11]->OXM_OF_VLAN_VID[],output:3"),
]
REFUSED = [
    Flow(0, 10, match(), (PopVlan(), Output(2))),
    Flow(0, 10, match(vlan_vid=0), (PopVlan(), Output(2))),
    Flow(0, 10, match(vlan_vid=VLAN_PRESENT | 10), (PopVlan(), PopVlan(), Output(2))),
    Flow(0, 10, match(vlan_vid=VLAN_PRESENT | 10), (PopVlan(), SetField("vlan_vid", VLAN_PRESENT | 5), Output(2))),
    Flow(0, 10, match(vlan_vid=TAGGED), (PushVlan(), PushVlan(), Output(2))),
    Flow(0, 10, match(), (SetField("vlan_vid", VLAN_PRESENT | 5), Output(2))),
    Flow(0, 10, match(), (PushVlan(), SetField("vlan_vid", 5), Output(2))),
    Flow(0, 10, match(), (PushVlan(), Move(TAG_REG, "vlan_vid", 13), Output(2))),
]


def flow_id(flow):
    return "table%d-%d" % (flow.table, flow.priority)


def parsed_by_open_vswitch(flow, tmp_path):
    """The flow as the shell encodes it, as Open vSwitch's parser reads it: its priority, match
    and actions in dump-flows' words, or None if it refuses the flow."""
    out = decoded(ofp.change_message(Datapath(), Change("add_flow", flow)), tmp_path)
    if "decode error" in out:
        return None
    head, actions = out.split(" actions=", 1)
    return "%s actions=%s" % (re.search(r" (priority=\S+)", head)[1], actions.strip())


def fake_switch_takes(flow):
    try:
        FakeSwitch().apply([Change("add_flow", flow)])
    except Refused:
        return False
    return True


@pytest.mark.parametrize("flow, text", TAKEN, ids=[flow_id(f) for f, _ in TAKEN])
def test_a_vlan_flow_reads_as_ovs_ofctl_dumps_it_and_open_vswitch_takes_it_as_such(flow, text, tmp_path):
    assert flow_text(flow) == text
    assert parsed_by_open_vswitch(flow, tmp_path) == text.split(", ")[-1]
    assert fake_switch_takes(flow)


@pytest.mark.parametrize("flow", REFUSED, ids=lambda f: " ".join(map(str, f.actions))[:60])
def test_a_vlan_flow_open_vswitch_refuses_the_fake_switch_refuses(flow, tmp_path):
    assert parsed_by_open_vswitch(flow, tmp_path) is None
    assert not fake_switch_takes(flow)


@pytest.mark.parametrize("flow", [f for f, _ in TAKEN], ids=flow_id)
def test_a_vlan_flow_reads_back_with_its_own_key_and_the_very_actions_sent(flow):
    """A flow stats reply holding the flow (as Ryu parses one) gives its key, and its
    instructions are the ones sent, byte for byte: adoption keeps it, and nothing in it is
    beyond Ryu's parser."""
    sent = ofp.add_flow(Datapath(), flow)
    sent.xid = 1
    sent.serialize()
    read = ofproto_parser.msg(Datapath(), ofproto_v1_3.OFP_VERSION, ofproto_v1_3.OFPT_FLOW_MOD, len(sent.buf), 1,
                              bytes(sent.buf))
    stats = ofproto_v1_3_parser.OFPFlowStats(table_id=flow.table, priority=flow.priority, cookie=flow.cookie,
                                             match=read.match, instructions=read.instructions, packet_count=0,
                                             byte_count=0)
    assert ofp.flow_stats(stats).flow.key == flow.key
    assert instruction_bytes(stats.instructions) == instruction_bytes(sent.instructions)


def instruction_bytes(instructions):
    buf = bytearray()
    for instruction in instructions:
        instruction.serialize(buf, len(buf))
    return bytes(buf)
