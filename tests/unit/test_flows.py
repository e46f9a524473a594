"""flows/: the pipeline for a sample configuration, compared with a golden `ovs-ofctl` dump, and the
changes reconcile asks for when VIPs and members come and go. No switch needed."""
import os
from collections import Counter
from dataclasses import replace

import pytest

from flows import pipeline
from flows.desired import Settings, SwitchState, desired_state, graces_end
from flows.ir import Flow, match
from flows.reconcile import adopt, diff
from flows.slots import SLOTS
from flows.text import flow_text, state_text
from lbctl.hosts import Place
from lbctl.model import parse_vip
from tests.unit.sample import DNS, HOST, PLACES, WEB, places, vip_set

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
ARM = {"name": "arm", "address": "198.18.0.131", "port": 9000, "mode": "one-arm",
       # .9 and .10: a pool ordered as text would read 10-9
       "snat_pool": {"addresses": ["198.18.0.9", "198.18.0.10"], "ports": [2000, 2999]},
       "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12", "weight": 2}]}
DIRECT = {"name": "direct", "address": "198.18.0.132", "port": 9000, "mode": "dsr",
          "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12"}, {"address": "198.18.0.13"}]}
STICKY = {"name": "sticky", "address": "198.18.0.133", "port": 443, "algorithm": "source_ip",
          "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12"}]}
GOLDENS = {"web_and_dns.txt": (WEB, DNS), "one_arm.txt": (ARM,), "dsr.txt": (DIRECT,), "source_ip.txt": (STICKY,)}


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_pipeline_matches_golden_dump(name):
    vips = vip_set(*GOLDENS[name])
    text = state_text(desired_state(vips.vips, places(vips))) + "\n"
    path = os.path.join(GOLDEN_DIR, name)
    if os.environ.get("LBCTL_REGOLD"):
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), "pipeline changed: review, then rerun with LBCTL_REGOLD=1"


def test_every_vip_flow_carries_its_vip_in_the_cookie():
    vips = vip_set(WEB, DNS)
    state = desired_state(vips.vips, PLACES)
    members = {m.address for v in vips.vips for m in v.members}
    for flow in state.flows.values():
        owner = pipeline.owner(flow.cookie)
        if owner.kind == "host":
            assert owner.id in {vips.hosts[("default", m)] for m in members}
        elif owner.kind == "vip":
            assert owner.id in {v.id for v in vips.vips}
            assert owner.member == 0 or owner.member in {m.id for m in vips.by_id[owner.id].members}
        else:   # the networks' and the pipeline's own flows name no address of a VIP or member
            assert owner.kind in ("network", "pipeline") and not members & set(map(str, dict(flow.match).values())), flow


def test_unresolved_member_is_left_out_of_the_group():
    vips = vip_set(WEB)
    state = desired_state(vips.vips, {HOST["198.18.0.11"]: PLACES[HOST["198.18.0.11"]]})
    (group,) = state.groups.values()
    assert len({b.actions for b in group.buckets}) == 1, "every slot to the one located member"
    text = state_text(state)
    assert "nat(dst=198.18.0.12" not in text and "nat(dst=198.18.0.13" not in text
    assert "reg2=0x2 actions" not in text, "no locate flow for an unknown place"


def test_weights_become_slot_shares_and_zero_drains():
    state = desired_state(vip_set(WEB, DNS).vips, PLACES)
    assert Counter(state.slots[1]) == {1: 51, 2: 51, 3: 154}                  # weights 1:1:3 of 256
    assert len(state.groups[1].buckets) == SLOTS and {b.weight for b in state.groups[1].buckets} == {1}
    assert Counter(state.slots[2]) == {1: SLOTS}                              # weight 0: no slot ...
    replies = [f for f in state.flows.values() if f.cookie == pipeline.cookie(2, 2) and f.table == pipeline.CLASSIFY.id]
    assert replies, "... but a drained member's replies still go through conntrack (its connections go on)"


def test_tcp_vips_hash_in_a_group_udp_and_source_ip_vips_with_multipath():
    vips = vip_set(WEB, DNS, dict(WEB, name="sticky", port=443, algorithm="source_ip"))
    state = desired_state(vips.vips, PLACES)
    assert set(state.groups) == {1}
    text = state_text(state)
    assert ("ct_state=+new+trk,ct_mark=0,reg4=0x80000002 actions=multipath(symmetric_l3l4+udp,0,modulo_n,256,0,"
            "NXM_NX_REG1[0..7]),goto_table:21") in text
    assert ("ct_state=+new+trk,ct_mark=0,tcp,reg4=0x80000003,tcp_flags=+syn-ack actions=multipath(nw_src,0,modulo_n,256,0,"
            "NXM_NX_REG1[0..7]),goto_table:21") in text
    assert "table=21, priority=300,reg1=0x7,reg4=0x80000003 actions=set_field:" in text
    slot_flows = [f for f in state.flows.values() if f.table == pipeline.SLOT.id and f.priority == pipeline.SLOT.VIP]
    assert len(slot_flows) == 2 * SLOTS


def test_a_member_change_keeps_every_other_members_slots():
    vips = vip_set(WEB)
    before = desired_state(vips.vips, PLACES)
    fewer = {k: v for k, v in PLACES.items() if k != HOST["198.18.0.12"]}   # member 2 no longer located
    after = desired_state(vips.vips, fewer, previous=before)
    moved = [i for i in range(SLOTS) if before.slots[1][i] != after.slots[1][i]]
    assert moved and all(before.slots[1][i] == 2 for i in moved)


def test_shared_flows_belong_to_the_lowest_vip_and_survive_its_deletion():
    both = vip_set(WEB, dict(WEB, name="web2", port=8080))
    state = desired_state(both.vips, PLACES)
    address = [f for f in state.flows.values() if (f.table, f.priority) in
               ((pipeline.OWNED.id, pipeline.OWNED.ADDRESS), (pipeline.CLASSIFY.id, pipeline.CLASSIFY.GUARD))]
    assert len(address) == 2 and {pipeline.owner(f.cookie).id for f in address} == {1}   # owned entry + guard
    after, _ = both.delete("web")
    changes = diff(state, desired_state(after.vips, PLACES))
    readded = [c.item for c in changes if c.op == "add_flow" and c.item in
               [replace(f, cookie=pipeline.cookie(2)) for f in address]]
    assert len(readded) == 2, "web2 takes over the address's flows"


def test_deleting_a_vip_removes_exactly_its_flows_and_group():
    vips = vip_set(WEB, DNS)
    before = desired_state(vips.vips, PLACES)
    after_vips, gone = vips.delete("web")
    changes = diff(before, desired_state(after_vips.vips, PLACES))
    assert {c.op for c in changes} == {"delete_flow", "delete_group"}
    deleted = [c.item for c in changes if c.op == "delete_flow"]
    of_gone = [f for f in deleted if pipeline.owner(f.cookie).kind == "vip" and pipeline.owner(f.cookie).id == gone.id]
    assert len(of_gone) == sum(1 for f in before.flows.values()
                               if pipeline.owner(f.cookie).kind == "vip" and pipeline.owner(f.cookie).id == gone.id)
    # ... and the host flows of 198.18.0.13, a member of no other VIP; nothing else.
    assert {f.cookie for f in deleted if f not in of_gone} == {pipeline.host_cookie(HOST["198.18.0.13"])}
    assert [c.item.group_id for c in changes if c.op == "delete_group"] == [gone.id]
    assert changes[-1].op == "delete_group", "a group goes only after the flows that use it"


def test_first_sync_adds_meters_and_groups_before_the_flows_that_use_them():
    changes = diff(SwitchState(), desired_state(vip_set(WEB).vips, PLACES))
    ops = [c.op for c in changes]
    assert ops.index("add_meter") < ops.index("add_flow") and ops.index("add_group") < ops.index("add_flow")
    assert diff(desired_state(vip_set(WEB).vips, PLACES), SwitchState())[-1].op == "delete_meter"


def test_member_move_rewrites_one_flow_however_many_vips_it_serves():
    vips = vip_set(WEB, *[dict(WEB, name="web%d" % i, port=8000 + i) for i in range(20)])
    before = desired_state(vips.vips, PLACES)
    moved = {**PLACES, HOST["198.18.0.12"]: Place("0a:00:00:00:00:99", 7)}
    changes = diff(before, desired_state(vips.vips, moved, previous=before))
    # Buckets only NAT to the member's address and VIP flows only say "go locate it": a new MAC
    # or port leaves every group (and so the hashing of every connection) alone.
    assert [(c.op, c.item.table, c.item.cookie) for c in changes] == [
        ("add_flow", pipeline.LOCATE.id, pipeline.host_cookie(HOST["198.18.0.12"]))]
    assert "set_field:0a:00:00:00:00:99->eth_dst,set_field:0->in_port,output:7" in flow_text(changes[0].item)


def test_the_flows_of_unchanged_vips_are_reused():
    vips = vip_set(WEB, DNS)
    first = desired_state(vips.vips, PLACES)
    second = desired_state(vips.vips, PLACES, previous=first)
    assert all(second.flows[k] is f for k, f in first.flows.items() if pipeline.owner(f.cookie).kind == "vip")
    vips, _ = vips.delete("dns")
    assert len(desired_state(vips.vips, PLACES, previous=second).parts) == 1, "only current VIPs are kept"


def test_cookies_name_their_owner_and_decode_back():
    assert pipeline.host_cookie(13) == 0xFFFFFFFF0000000D
    assert pipeline.owner(pipeline.host_cookie(13)) == pipeline.Owner("host", 13)
    assert pipeline.owner(pipeline.cookie(7, 3)) == pipeline.Owner("vip", 7, 3)
    assert pipeline.owner(pipeline.cookie(7)) == pipeline.Owner("vip", 7, 0)
    assert pipeline.owner(pipeline.network_cookie(0)) == pipeline.Owner("network", 0)
    assert pipeline.owner(0) == pipeline.Owner("pipeline")
    assert pipeline.owner(pipeline.cookie(pipeline.MAX_VIP_ID, 1)).kind == "vip"


def test_unchanged_state_needs_no_change():
    state = desired_state(vip_set(WEB, DNS).vips, PLACES)
    assert diff(state, desired_state(vip_set(WEB, DNS).vips, PLACES)) == ()


@pytest.mark.parametrize("cluster, network, group, mac", [(0, 0, 1, "02:6c:00:00:00:01"),
                                                         (7, 0x123, 0x456, "02:6c:07:12:34:56"),
                                                         (255, 0xFFF, 0xFFF, "02:6c:ff:ff:ff:ff")])
def test_own_macs_are_locally_administered_per_cluster_network_and_redundancy_group(cluster, network, group, mac):
    assert pipeline.own_mac(cluster, network, group) == mac
    assert int(mac.split(":")[0], 16) & 0b10, "locally administered bit"
    assert not int(mac.split(":")[0], 16) & 0b1, "unicast"
    value, mask = pipeline.own_mac_match(cluster)
    assert all(int(m, 16) & int(a, 16) == int(v, 16) for a, v, m in zip(mac.split(":"), value.split(":"), mask.split(":")))


def test_vips_of_one_redundancy_group_share_its_mac():
    settings = Settings(cluster_id=3)
    state = desired_state(vip_set(WEB, dict(DNS, redundancy_group=2)).vips, PLACES, settings)
    text = state_text(state)
    assert "table=11, priority=300,reg3=0xc6120064,reg9=0 actions=set_field:0x1000001->reg6" in text   # .100: group 1
    assert "table=11, priority=300,reg3=0xc6120065,reg9=0 actions=set_field:0x1000002->reg6" in text   # .101: group 2
    assert ("set_field:02:6c:03:00:00:00->arp_sha,move:NXM_NX_REG6[0..23]->NXM_NX_ARP_SHA[0..23]") in text, \
        "the answer's MAC: the cluster's prefix and the address's group"


def test_arp_that_claims_our_address_goes_only_to_the_rate_limited_controller_copy():
    state = desired_state(vip_set(WEB).vips, PLACES)
    (guard,) = [f for f in state.flows.values() if pipeline.CLAIM_REG.field in dict(f.match)]
    assert guard.priority > pipeline.ARP_ANSWER.REPLY and guard.actions == ()
    assert guard.goto == pipeline.ARP_PUNT.id
    (punt,) = [f for f in state.flows.values() if f.table == pipeline.ARP_PUNT.id]
    assert punt.meter == pipeline.ARP_METER and state.meters[pipeline.ARP_METER].rate == Settings().arp_punt_pps


def test_members_arp_has_a_meter_of_its_own():
    state = desired_state(vip_set(WEB).vips, {})
    member = [f for f in state.flows.values() if dict(f.match).get("arp_spa") == "198.18.0.11"]
    assert [(f.goto, f.cookie) for f in member] == [(pipeline.MEMBER_ARP_PUNT.id, pipeline.host_cookie(HOST["198.18.0.11"]))]
    (punt,) = [f for f in state.flows.values() if f.table == pipeline.MEMBER_ARP_PUNT.id]
    assert punt.meter == pipeline.MEMBER_ARP_METER


def test_member_ids_are_stable_across_a_replace():
    vips = vip_set(WEB)
    changed = dict(WEB, members=[WEB["members"][2], {"address": "198.18.0.14", "port": 80}])
    vips, vip = vips.replace("web", parse_vip(changed, name="web"))
    assert [(m.address, m.id) for m in vip.members] == [("198.18.0.13", 3), ("198.18.0.14", 4)]


def test_one_arm_commits_source_nat_from_the_pool_with_the_dnat_and_catches_replies_to_it():
    one_arm = dict(WEB, name="arm", port=8443, mode="one-arm",
                   snat_pool={"addresses": ["198.18.0.200", "198.18.0.201"], "ports": [1024, 65535]})
    text = state_text(desired_state(vip_set(one_arm).vips, PLACES))
    assert ("tcp,reg9=0,nw_dst=198.18.0.100,tp_dst=8443 actions=set_field:0x1->reg4,ct(zone=64,nat),ct(table=20,zone=65,nat)"
            in text), "both zones in one pass"
    assert ("table=22, priority=300,ip,reg4=0x1,reg5=0x1 actions=ct(commit,zone=64,nat(dst=198.18.0.11:80),"
            in text)
    assert "ct(commit,table=30,zone=65,nat(src=198.18.0.200-198.18.0.201:1024-65535)," in text
    assert "priority=600,ip,reg9=0,nw_dst=198.18.0.201 actions=ct(zone=65,nat),ct(table=20,zone=64,nat)" in text
    assert "table=11, priority=300,reg3=0xc61200c8,reg9=0 actions=set_field:0x1000001->reg6" in text, \
        "the balancer answers ARP and ping for its pool"


def test_goto_table_only_goes_forward_in_every_mode():
    every_mode = vip_set(WEB, DNS, dict(WEB, name="arm", port=8443, mode="one-arm",
                                        snat_pool={"addresses": ["198.18.0.200"]}),
                         dict(WEB, name="direct", address="198.18.0.120", mode="dsr"),
                         dict(WEB, name="nobody", port=9999, members=[{"address": "198.18.0.99"}]))
    for flow in desired_state(every_mode.vips, PLACES).flows.values():
        assert flow.goto is None or flow.goto > flow.table, flow_text(flow)


def test_pins_of_a_dsr_vip_that_goes_are_stale_and_no_others():
    from flows.dsr import stale_pins
    direct = dict(WEB, name="direct", address="198.18.0.120", mode="dsr")
    before = vip_set(WEB, direct)
    fewer, _ = before.replace("direct", parse_vip(dict(direct, members=WEB["members"][:2]), name="direct"))
    networks = before.network_by_name
    assert stale_pins(before.vips, fewer.vips, networks) == [], "a removed member's pins idle out with their grace"
    gone, _ = before.delete("direct")
    (pins,) = stale_pins(before.vips, gone.vips, networks)
    assert dict(pins) == {"eth_type": 0x0800, "ip_proto": 6, "ipv4_dst": "198.18.0.120", "tcp_dst": 80, "reg9": 0}
    moved, _ = before.replace("direct", parse_vip(dict(direct, port=8080, members=[dict(m, port=8080) for m in
                                                                                    WEB["members"]]), name="direct"))
    assert len(stale_pins(before.vips, moved.vips, networks)) == 1, "the VIP's old port: its pins go"


# What `ovs-ofctl -O OpenFlow13 ct-flush SWITCH zone=64 ORIG REPLY` (Open vSwitch 3.1.0) sent to a
# listening socket, xid 2: the conntrack entries of member 198.18.0.11:80 behind VIP 198.18.0.100:80.
CT_FLUSH_BY_OVS_OFCTL = (
    "04040070000000020000232000000020060000000000000000000028000000000001001400000000000000000000ffffc6120064"
    "00000000000300080050000000010028000000000000001400000000000000000000ffffc612000b000000000002000800500000"
    "0002000800400000")


def test_the_conntrack_flush_of_a_removed_member_is_what_ovs_ofctl_sends():
    from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser
    from lbctl_app import ofp

    class Datapath:
        ofproto, ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser
    msg = ofp.ct_flush(Datapath(), 64, 6, ("198.18.0.100", 80), ("198.18.0.11", 80))
    msg.set_xid(2)
    msg.serialize()
    assert bytes(msg.buf).hex() == CT_FLUSH_BY_OVS_OFCTL


def test_a_change_cuts_the_members_it_takes_away_and_no_drained_or_dsr_one():
    from dataclasses import replace
    from flows.vip import cut_members
    before = vip_set(WEB, DNS).vips
    web, dns = before
    drained = replace(web, members=tuple(replace(m, weight=0) for m in web.members))
    assert cut_members(before, (drained, dns)) == []
    one_less = replace(web, members=web.members[1:])
    assert cut_members(before, (one_less, dns)) == [(web, web.members[0])]
    assert cut_members(before, (replace(web, port=8080), dns)) == [(web, m) for m in web.members]
    assert cut_members(before, (dns,)) == [(web, m) for m in web.members]
    dsr = replace(web, mode="dsr")
    assert cut_members((dsr, dns), (dns,)) == []     # dsr: no conntrack


def test_a_member_change_modifies_the_vips_group_in_place():
    before = desired_state(vip_set(WEB).vips, PLACES)
    after = desired_state(vip_set(dict(WEB, members=WEB["members"][:2])).vips, PLACES)
    group_changes = [(c.op, c.item.group_id) for c in diff(before, after) if c.op.endswith("_group")]
    assert group_changes == [("modify_group", pipeline.group_id(1))], "never deleted and added: no packet misses it"


def test_adopting_a_switch_deletes_what_it_holds_beyond_the_desired_state_but_learned_pins():
    desired = desired_state(vip_set(WEB).vips, PLACES)
    stray = Flow(pipeline.CLASSIFY.id, 555, match(ipv4_dst="198.18.0.77", eth_type=0x0800), cookie=0xdead)
    pin = Flow(pipeline.DSR_CONN.id, pipeline.DSR_CONN.PIN, match(ipv4_src="198.18.0.10", eth_type=0x0800),
               cookie=pipeline.PINS_COOKIE)
    found = SwitchState(flows={**{key: flow for key, flow in desired.flows.items()}, stray.key: stray, pin.key: pin},
                        groups=dict(desired.groups), meters=dict(desired.meters))
    changes = adopt(found, desired, keep_tables=(pipeline.DSR_CONN.id,))
    assert [c.item for c in changes if c.op == "delete_flow"] == [stray]
    assert {c.op for c in changes if c.op.endswith("_group")} == {"modify_group"}


def test_a_dsr_member_held_down_owns_no_slot_but_keeps_its_delivery():
    direct = dict(WEB, name="direct", mode="dsr")
    vips = vip_set(direct)
    state = desired_state(vips.vips, PLACES, down={1: frozenset({3})})
    assert 3 not in state.slots[1] and set(state.slots[1]) == {1, 2}
    assert any(f.table == pipeline.DSR_DELIVER.id and f.cookie == pipeline.cookie(1, 3) for f in state.flows.values()), \
        "its open connections' packets still reach it while their slots are in grace"



def test_a_dsr_member_held_down_frees_only_its_own_slots():
    vips = vip_set(DIRECT)
    before = desired_state(vips.vips, places(vips))
    after = desired_state(vips.vips, places(vips), previous=before, down={1: frozenset({3})})
    assert 3 not in after.slots[1]
    assert all(after.slots[1][i] == owner for i, owner in enumerate(before.slots[1]) if owner != 3), \
        "no connection of another member changes member"


def test_a_dsr_vip_whose_first_member_is_not_located_yet_spreads_over_the_others():
    vips = vip_set(DIRECT)
    located = {host: place for host, place in places(vips).items() if host != vips.hosts[("default", "198.18.0.11")]}
    assert Counter(desired_state(vips.vips, located).slots[1]) == {2: SLOTS // 2, 3: SLOTS // 2}


def test_a_change_that_takes_a_whole_vip_away_also_cuts_the_members_of_the_vips_after_it():
    from flows.vip import cut_members
    before = vip_set(WEB, DNS).vips
    web, dns = before
    fewer = replace(dns, members=dns.members[1:])
    assert cut_members(before, (fewer,)) == [(web, m) for m in web.members] + [(dns, dns.members[0])]


def test_a_vip_with_no_member_located_refuses_only_its_own_new_connections_under_its_own_cookie():
    nobody = dict(WEB, name="nobody", port=9999, members=[{"address": "198.18.0.99"}])
    state = desired_state(vip_set(WEB, nobody).vips, PLACES)
    (refuse,) = [f for f in state.flows.values() if f.goto == pipeline.REJECT.id and f.table == pipeline.CONNTRACK.id
                 and f.priority == pipeline.CONNTRACK.VIP]
    assert pipeline.owner(refuse.cookie).id == 2
    assert dict(refuse.match)[pipeline.VIP_REG.field] == 2 | pipeline.VIP_ROUTED, "its new connections, no others"


def test_a_snat_pool_of_three_addresses_is_the_range_from_first_to_last():
    arm = dict(ARM, snat_pool={"addresses": ["198.18.0.10", "198.18.0.8", "198.18.0.9"], "ports": [2000, 2999]})
    text = state_text(desired_state(vip_set(arm).vips, PLACES))
    assert "nat(src=198.18.0.8-198.18.0.10:2000-2999)" in text


def test_a_state_diffed_against_a_switch_it_was_not_computed_from_is_compared_in_full():
    web_only = desired_state(vip_set(WEB).vips, PLACES)
    both = desired_state(vip_set(WEB, DNS).vips, PLACES, previous=web_only)
    added = [c.item for c in diff(SwitchState(), both) if c.op == "add_flow"]
    assert len(added) == len(both.flows), "an empty switch gets every flow, not only those that changed"


def test_adopting_a_switch_adds_and_modifies_before_the_flows_and_deletes_an_unused_group_after_them():
    """A switch read at connect time, with no meter yet, the group of its VIP, the group of a VIP
    deleted since and two stray flows."""
    from flows.ir import SelectGroup
    desired = desired_state(vip_set(WEB).vips, PLACES)
    stray = Flow(pipeline.CLASSIFY.id, 555, match(ipv4_dst="198.18.0.77", eth_type=0x0800), cookie=0xdead)
    older = Flow(pipeline.CLASSIFY.id, 556, match(ipv4_dst="198.18.0.78", eth_type=0x0800), cookie=0xdead)
    found = SwitchState(flows={stray.key: stray, older.key: older}, groups={1: SelectGroup(1), 7: SelectGroup(7)})
    changes = adopt(found, desired)
    ops = [c.op for c in changes]
    assert [c.item for c in changes if c.op == "add_meter"] == sorted(desired.meters.values(), key=lambda m: m.meter_id)
    assert [(c.op, c.item) for c in changes if c.op in ("add_group", "modify_group")] == [
        ("modify_group", desired.groups[1])]
    assert sorted(c.item.key for c in changes if c.op == "add_flow") == sorted(desired.flows), "every flow re-added"
    assert [(c.op, c.item) for c in changes if c.op.startswith("delete")] == [
        ("delete_flow", older), ("delete_flow", stray), ("delete_group", SelectGroup(7))], "higher priority first"
    assert max(ops.index("add_meter"), ops.index("modify_group")) < ops.index("delete_flow") < ops.index("add_flow")
    assert ops[-1] == "delete_group", "a group goes only after the flows that could point at it are replaced"


def test_every_vip_loads_its_own_id_whatever_its_mode():
    arms = [dict(WEB, name="arm%d" % i, address="198.18.0.%d" % (140 + i), mode="one-arm",
                 snat_pool={"addresses": ["198.18.0.210"]}) for i in range(3)]
    vips = vip_set(*arms).vips
    loads = {vip.id: {a.value for f in desired_state(vips, PLACES).flows.values() if f.cookie == pipeline.cookie(vip.id)
                      and f.table == pipeline.CLASSIFY.id and f.priority == pipeline.CLASSIFY.VIP
                      for a in f.actions if getattr(a, "field", None) == pipeline.VIP_REG.field}
             for vip in vips}
    assert loads == {vip.id: {vip.id} for vip in vips}


def test_a_switch_with_no_vip_has_no_grace_to_wait_for():
    assert graces_end(desired_state((), {})) == float("inf")
