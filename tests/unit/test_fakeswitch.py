"""Packets walked through the flows lbctl computes, on the fake switch of flows/fakeswitch.py: in
each mode (routed, one-arm, dsr) a client reaches a member and the member's reply reaches the
client, and ARP, ping, refusals, probe replies and other traffic go where the docs say. Then the
fake switch itself, on hand-written flows. The integration tests check the same behaviour on real
Open vSwitch."""
import pytest

from flows import pipeline as p
from flows.desired import desired_state
from flows.fakeswitch import (FRAG_ANY, FRAG_LATER, ConnTuple, FakeSwitch, PipelineError, Refused, arp_request,
                              fragment, icmp_echo, icmp_error, tagged, tcp, udp)
from flows.ir import (CONTROLLER, IN_PORT, NORMAL, Bucket, Ct, DecTtl, Flow, Group, Learn, Meter, Move, Nat, Output,
                      OutputReg, PopVlan, PushVlan, Resubmit, SelectGroup, SetField, match)
from flows.reconcile import Change, diff
from flows.protocols import (CT_EST, CT_INV, CT_NEW, CT_REL, CT_RPL, TCP_ACK, TCP_SYN, TCP_SYN_ONLY, VLAN_PRESENT,
                             ct_state)
from lbctl.model import parse_vip
from tests.unit.sample import DNS, places, settings, vip_set, WEB, WHERE

CLIENT, CLIENT_MAC, CLIENT_PORT = "198.18.1.50", "0a:00:00:00:01:50", 1
VIP_MAC = p.own_mac(0, 0, 1)
MONITOR = "198.18.0.2"
POOL = ["198.18.0.200", "198.18.0.201"]
ONE_ARM = dict(WEB, name="arm", address="198.18.0.110", mode="one-arm",
               snat_pool={"addresses": POOL, "ports": [20000, 40000]})
DIRECT = dict(WEB, name="direct", address="198.18.0.120", mode="dsr")
NOBODY = dict(WEB, name="nobody", address="198.18.0.130", members=[{"address": "198.18.0.99", "port": 80}])


class Balancer:
    """A fake switch holding the desired state of some VIPs, and the VIPs themselves."""

    def __init__(self, *bodies, settings=settings()):
        self.vips = vip_set(*bodies)
        self.settings = settings
        self.state = desired_state(self.vips.vips, places(self.vips), settings)
        self.switch = FakeSwitch(self.state)

    def vip(self, name):
        return next(v for v in self.vips.vips if v.name == name)

    def force(self, name, member_address):
        """Every new connection of VIP `name` hashes to a slot its member at `member_address` owns."""
        vip = self.vip(name)
        member_id = next(m.id for m in vip.members if m.address == member_address)
        slot = self.state.slots[vip.id].index(member_id)
        self.switch.choose = lambda chooser, packet: slot
        return slot

    def create(self, body):
        self._follow(self.vips.create(parse_vip(body))[0])

    def replace(self, name, body):
        self._follow(self.vips.replace(name, parse_vip(body, name=name))[0])

    def delete(self, name):
        self._follow(self.vips.delete(name)[0])

    def _follow(self, vips):
        """Bring the switch to the desired state of `vips` with reconcile's changes."""
        after = desired_state(vips.vips, places(vips), self.settings, previous=self.state)
        self.switch.apply(diff(self.state, after))
        self.vips, self.state = vips, after

    def send(self, packet, in_port):
        return self.switch.send(packet, in_port)


def client_syn(vip_address, port=80, client_port=40000):
    return tcp("%s:%d" % (CLIENT, client_port), "%s:%d" % (vip_address, port), CLIENT_MAC, VIP_MAC)


def replace_flags(packet, flags):
    return dict(packet, tcp_flags=flags)


def member_place(address):
    return WHERE[address].port, WHERE[address].mac


# ---------------------------------------------------------------- routed


def test_routed_syn_reaches_the_chosen_member_natted_from_the_vip_mac_one_hop_on():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.12")
    result = lb.send(client_syn(WEB["address"]), CLIENT_PORT)
    out = result.single()
    port, mac = member_place("198.18.0.12")
    assert out.port == port, result
    assert out.packet == dict(client_syn(WEB["address"]), ipv4_dst="198.18.0.12", tcp_dst=80,
                              eth_src=VIP_MAC, eth_dst=mac, nw_ttl=63), result


def test_routed_reply_reaches_the_client_port_from_the_vip():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.12")
    lb.send(client_syn(WEB["address"]), CLIENT_PORT)
    port, mac = member_place("198.18.0.12")
    syn_ack = tcp("198.18.0.12:80", CLIENT + ":40000", mac, VIP_MAC, flags=TCP_SYN | TCP_ACK)
    result = lb.send(syn_ack, port)
    out = result.single()
    assert out.port == CLIENT_PORT, result
    assert out.packet == dict(syn_ack, ipv4_src=WEB["address"], eth_src=VIP_MAC, eth_dst=CLIENT_MAC, nw_ttl=63)


def test_established_packets_follow_their_member_whatever_the_hash_says():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.12")
    lb.send(client_syn(WEB["address"]), CLIENT_PORT)
    lb.force("web", "198.18.0.13")
    ack = replace_flags(client_syn(WEB["address"]), TCP_ACK)
    assert lb.send(ack, CLIENT_PORT).single().port == member_place("198.18.0.12")[0]
    assert lb.send(client_syn(WEB["address"], client_port=40001), CLIENT_PORT).single().port == \
        member_place("198.18.0.13")[0], "a new connection takes the slot it hashes to"


def test_a_new_connection_counts_once_on_its_members_commit_flow():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.11")
    syn = client_syn(WEB["address"])
    lb.send(syn, CLIENT_PORT)
    assert lb.send(syn, CLIENT_PORT).single().port == member_place("198.18.0.11")[0], "a retransmitted SYN"
    port, mac = member_place("198.18.0.11")
    lb.send(tcp("198.18.0.11:80", CLIENT + ":40000", mac, VIP_MAC, flags=TCP_SYN | TCP_ACK), port)
    lb.send(replace_flags(syn, TCP_ACK), CLIENT_PORT)
    (commit,) = [f for f in lb.switch.table(p.COMMIT.id) if f.cookie == p.cookie(1, 1)]
    assert lb.switch.flow_packets[commit.key] == 1


def test_udp_datagrams_go_by_multipath_slot_and_answers_come_from_the_vip():
    lb = Balancer(DNS)
    slot = lb.force("dns", "198.18.0.11")
    ask = udp(CLIENT + ":41000", "198.18.0.101:53", CLIENT_MAC, VIP_MAC)
    result = lb.send(ask, CLIENT_PORT)
    assert (result.single().port, result.single().packet["udp_dst"]) == (member_place("198.18.0.11")[0], 5353)
    assert any(f.table == p.SLOT.id and dict(f.match)[p.SLOT_REG.field] == slot for f in result.matched), result
    answer = udp("198.18.0.11:5353", CLIENT + ":41000", member_place("198.18.0.11")[1], VIP_MAC)
    back = lb.send(answer, member_place("198.18.0.11")[0]).single()
    assert (back.port, back.packet["ipv4_src"], back.packet["udp_src"]) == (CLIENT_PORT, "198.18.0.101", 53)


# ---------------------------------------------------------------- one-arm


def one_arm_connection(lb, client_port):
    lb.force("arm", "198.18.0.11")
    return lb.send(client_syn(ONE_ARM["address"], client_port=client_port), CLIENT_PORT).single()


def test_one_arm_request_reaches_the_member_from_a_pool_address_with_its_ttl():
    lb = Balancer(ONE_ARM)
    out = one_arm_connection(lb, 40000)
    port, mac = member_place("198.18.0.11")
    assert out.port == port
    assert out.packet["ipv4_src"] in POOL and 20000 <= out.packet["tcp_src"] <= 40000
    assert out.packet == dict(client_syn(ONE_ARM["address"]), ipv4_src=out.packet["ipv4_src"],
                              tcp_src=out.packet["tcp_src"], ipv4_dst="198.18.0.11", eth_src=VIP_MAC, eth_dst=mac)


def test_one_arm_reply_to_the_pool_reaches_the_client_from_the_vip():
    lb = Balancer(ONE_ARM)
    request = one_arm_connection(lb, 40000).packet
    port, mac = member_place("198.18.0.11")
    syn_ack = tcp("198.18.0.11:80", "%s:%d" % (request["ipv4_src"], request["tcp_src"]), mac, VIP_MAC,
                  flags=TCP_SYN | TCP_ACK)
    result = lb.send(syn_ack, port)
    out = result.single()
    assert out.port == CLIENT_PORT, result
    assert (out.packet["ipv4_src"], out.packet["tcp_src"]) == (ONE_ARM["address"], 80)
    assert (out.packet["ipv4_dst"], out.packet["tcp_dst"]) == (CLIENT, 40000)
    assert (out.packet["eth_src"], out.packet["eth_dst"], out.packet["nw_ttl"]) == (VIP_MAC, CLIENT_MAC, 64)
    assert [c.replied for c in lb.switch.conntrack.connections()] == [True, True], "both zones saw the reply"


def test_one_arm_requests_of_an_established_connection_keep_its_pool_address_and_port():
    lb = Balancer(ONE_ARM)
    first = one_arm_connection(lb, 40000).packet
    port, mac = member_place("198.18.0.11")
    lb.send(tcp("198.18.0.11:80", "%s:%d" % (first["ipv4_src"], first["tcp_src"]), mac, VIP_MAC,
                flags=TCP_SYN | TCP_ACK), port)
    ack = lb.send(replace_flags(client_syn(ONE_ARM["address"]), TCP_ACK), CLIENT_PORT).single()
    assert (ack.port, ack.packet["ipv4_src"], ack.packet["tcp_src"]) == (port, first["ipv4_src"], first["tcp_src"])


def test_one_arm_gives_each_connection_to_a_member_its_own_pool_address_and_port():
    lb = Balancer(ONE_ARM)
    first, second = one_arm_connection(lb, 40000).packet, one_arm_connection(lb, 40001).packet
    assert (first["ipv4_src"], first["tcp_src"]) != (second["ipv4_src"], second["tcp_src"])


# ---------------------------------------------------------------- dsr


def test_dsr_rewrites_only_the_macs():
    lb = Balancer(DIRECT)
    lb.force("direct", "198.18.0.13")
    syn = client_syn(DIRECT["address"])
    out = lb.send(syn, CLIENT_PORT).single()
    port, mac = member_place("198.18.0.13")
    assert out.port == port and out.packet == dict(syn, eth_dst=mac, eth_src=VIP_MAC), \
        "the IP header untouched; from the VIP's MAC (a fabric must not learn the client at the balancer)"
    assert lb.switch.conntrack.connections() == [], "dsr passes no conntrack"


def test_dsr_members_answer_the_client_straight_from_the_vip():
    lb = Balancer(DIRECT)
    port, mac = member_place("198.18.0.13")
    syn_ack = tcp(DIRECT["address"] + ":80", CLIENT + ":40000", mac, CLIENT_MAC, flags=TCP_SYN | TCP_ACK)
    out = lb.send(syn_ack, port).single()
    assert (out.port, out.packet) == (NORMAL, syn_ack)


def test_dsr_a_moved_slot_keeps_old_connections_on_the_old_owner_and_pins_new_ones_to_the_new():
    lb = Balancer(DIRECT)
    slot = lb.force("direct", "198.18.0.11")
    old_port = member_place("198.18.0.11")[0]
    assert lb.send(client_syn(DIRECT["address"]), CLIENT_PORT).single().port == old_port
    assert lb.switch.table(p.DSR_CONN.id) == [], "a plain slot pins nothing"
    drained = dict(DIRECT, members=[dict(m, weight=0) if m["address"] == "198.18.0.11" else m
                                    for m in DIRECT["members"]])
    lb.replace("direct", drained)
    new_owner = lb.state.slots[1][slot]
    assert new_owner != 1 and slot in lb.state.moves[1], "the slot moved, within its grace"
    new_port = member_place(DIRECT["members"][new_owner - 1]["address"])[0]
    lb.switch.choose = lambda chooser, packet: slot
    old_ack = replace_flags(client_syn(DIRECT["address"]), TCP_ACK)
    assert lb.send(old_ack, CLIENT_PORT).single().port == old_port, "a connection of before the move"
    new_syn = client_syn(DIRECT["address"], client_port=40001)
    assert lb.send(new_syn, CLIENT_PORT).single().port == new_port
    (pin,) = lb.switch.table(p.DSR_CONN.id)
    assert pin.cookie == p.PINS_COOKIE and dict(pin.match)["tcp_src"] == 40001
    assert lb.send(replace_flags(new_syn, TCP_ACK), CLIENT_PORT).single().port == new_port, "it follows its pin"


def test_dsr_past_the_pins_limit_a_new_connection_in_a_moved_slot_stays_whole_on_the_old_owner(monkeypatch):
    monkeypatch.setattr(p, "DSR_PIN_LIMIT", 1)
    lb = Balancer(DIRECT)
    slot = lb.force("direct", "198.18.0.11")
    old_port = member_place("198.18.0.11")[0]
    drained = dict(DIRECT, members=[dict(m, weight=0) if m["address"] == "198.18.0.11" else m
                                    for m in DIRECT["members"]])
    lb.replace("direct", drained)
    lb.switch.choose = lambda chooser, packet: slot
    first = client_syn(DIRECT["address"], client_port=40001)
    assert lb.send(first, CLIENT_PORT).single().port != old_port, "pinned to the new owner"
    crowded = client_syn(DIRECT["address"], client_port=40002)
    assert lb.send(crowded, CLIENT_PORT).single().port == old_port, "no room for its pin: the old owner"
    assert len(lb.switch.table(p.DSR_CONN.id)) == 1
    assert lb.send(replace_flags(crowded, TCP_ACK), CLIENT_PORT).single().port == old_port, "and it stays there"



def test_dsr_udp_a_moved_slot_keeps_its_old_owner_through_the_grace():
    """No SYN tells a new datagram from one of an old exchange: the old owner keeps them all."""
    direct_udp = dict(DIRECT, protocol="udp")
    lb = Balancer(direct_udp)
    slot = lb.force("direct", "198.18.0.11")
    lb.replace("direct", dict(direct_udp, members=[dict(m, weight=0) if m["address"] == "198.18.0.11" else m
                                                   for m in DIRECT["members"]]))
    assert lb.state.slots[1][slot] != 1 and slot in lb.state.moves[1]
    lb.switch.choose = lambda chooser, packet: slot
    ask = udp(CLIENT + ":41000", DIRECT["address"] + ":80", CLIENT_MAC, VIP_MAC)
    assert lb.send(ask, CLIENT_PORT).single().port == member_place("198.18.0.11")[0]


# ---------------------------------------------------------------- the balancer's own addresses


@pytest.mark.parametrize("body, address", [(WEB, WEB["address"]), (ONE_ARM, POOL[0])], ids=["vip", "pool"])
def test_an_arp_request_for_an_address_of_the_balancer_is_answered_out_its_in_port_with_its_mac(body, address):
    lb = Balancer(body)
    out = lb.send(arp_request(CLIENT_MAC, CLIENT, address), CLIENT_PORT).single()
    assert out.port == CLIENT_PORT
    assert out.packet == {"eth_src": VIP_MAC, "eth_dst": CLIENT_MAC, "vlan_vid": 0, "eth_type": 0x0806, "arp_op": 2,
                          "arp_sha": VIP_MAC, "arp_spa": address, "arp_tha": CLIENT_MAC, "arp_tpa": CLIENT}
    assert lb.switch.meter_packets == {}, "the controller never sees it"


@pytest.mark.parametrize("body, address", [(WEB, WEB["address"]), (ONE_ARM, POOL[0])], ids=["vip", "pool"])
def test_a_ping_to_an_address_of_the_balancer_is_answered(body, address):
    lb = Balancer(body)
    ping = icmp_echo(CLIENT, address, CLIENT_MAC, VIP_MAC)
    result = lb.send(ping, CLIENT_PORT)
    out = result.single()
    assert out.port == CLIENT_PORT, result
    assert out.packet == dict(ping, ipv4_src=address, ipv4_dst=CLIENT, eth_src=VIP_MAC, eth_dst=CLIENT_MAC,
                              icmpv4_type=0)
    assert lb.switch.conntrack.connections() == []


def test_a_syn_to_a_vip_with_no_member_goes_to_the_controller_from_the_reject_table():
    lb = Balancer(NOBODY)
    out = lb.send(client_syn(NOBODY["address"]), CLIENT_PORT).single()
    assert (out.port, out.table) == (CONTROLLER, p.REJECT.id)
    assert lb.switch.meter_packets == {p.REJECT_METER: 1}


def test_a_tcp_packet_of_no_connection_to_a_live_vip_is_refused_not_spread():
    lb = Balancer(WEB)
    out = lb.send(replace_flags(client_syn(WEB["address"]), TCP_ACK), CLIENT_PORT).single()
    assert (out.port, out.table) == (CONTROLLER, p.REJECT.id)
    assert lb.switch.conntrack.connections() == []


def test_arp_from_a_member_is_switched_and_punted_through_the_members_meter():
    lb = Balancer(WEB)
    port, mac = member_place("198.18.0.11")
    result = lb.send(arp_request(mac, "198.18.0.11", "198.18.0.1"), port)
    assert [(e.port, e.table) for e in result.egress] == [(NORMAL, p.ARP_ANSWER.id),
                                                          (CONTROLLER, p.MEMBER_ARP_PUNT.id)], result
    assert lb.switch.meter_packets == {p.MEMBER_ARP_METER: 1}


@pytest.mark.parametrize("reply", [
    tcp("198.18.0.11:80", MONITOR + ":33000", WHERE["198.18.0.11"].mac, VIP_MAC, flags=TCP_SYN | TCP_ACK),
    icmp_echo("198.18.0.11", MONITOR, WHERE["198.18.0.11"].mac, VIP_MAC, reply=True),
], ids=["syn-ack", "echo-reply"])
def test_replies_to_health_probes_go_to_the_controller_from_the_monitor_table(reply):
    lb = Balancer(WEB, settings=settings(monitor_address=MONITOR))
    out = lb.send(reply, WHERE["198.18.0.11"].port).single()
    assert (out.port, out.table, out.packet) == (CONTROLLER, p.MONITOR.id, reply)
    assert lb.switch.meter_packets == {p.MONITOR_METER: 1}
    assert lb.switch.conntrack.connections() == [], "the member's reply catch never saw it"


def test_traffic_to_no_vip_is_switched_normally_without_conntrack():
    lb = Balancer(WEB, DNS)
    ssh = tcp(CLIENT + ":40000", "198.18.0.11:22", CLIENT_MAC, WHERE["198.18.0.11"].mac)
    out = lb.send(ssh, CLIENT_PORT).single()
    assert (out.port, out.packet) == (NORMAL, ssh)
    assert lb.switch.conntrack.connections() == []


def test_reconciles_changes_take_the_switch_to_the_new_desired_state():
    lb = Balancer(WEB, DNS)
    lb.replace("dns", dict(DNS, members=DNS["members"][:1]))
    lb.delete("web")
    lb.create(ONE_ARM)
    assert lb.switch.flows() == lb.state.flows
    assert (lb.switch.groups, lb.switch.meters) == (lb.state.groups, lb.state.meters)
    assert lb.send(arp_request(CLIENT_MAC, CLIENT, WEB["address"]), CLIENT_PORT).ports == [NORMAL], "web is gone"
    refused = lb.send(client_syn(WEB["address"]), CLIENT_PORT).single()
    assert (refused.port, refused.table) == (CONTROLLER, p.REJECT.id), "a client that still has its MAC is refused"
    lb.force("arm", "198.18.0.12")
    assert lb.send(client_syn(ONE_ARM["address"]), CLIENT_PORT).single().port == member_place("198.18.0.12")[0]


# ---------------------------------------------------------------- the fake switch itself

A, B, C, POOL_A = "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.9"
MAC_A, MAC_B = "0a:00:00:00:00:0a", "0a:00:00:00:00:0b"
IP = match(eth_type=0x0800)
TO_B = match(eth_type=0x0800, ip_proto=6, ipv4_dst=B)


def switch_with(*flows, groups=(), meters=()):
    switch = FakeSwitch()
    switch.apply([Change("add_meter", m) for m in meters] + [Change("add_group", g) for g in groups] +
                 [Change("add_flow", f) for f in flows])
    return switch


def dict_match(base, **more):
    return tuple(sorted(dict(base, **more).items()))


def a_to_b(flags=TCP_SYN, ttl=64):
    return tcp(A + ":1000", B + ":80", MAC_A, MAC_B, flags=flags, ttl=ttl)


def test_the_highest_priority_match_wins_and_masks_match_only_their_bits():
    switch = switch_with(
        Flow(0, 10, match(eth_dst=("0a:00:00:00:00:00", "ff:ff:ff:ff:ff:00")), (Output(2),)),
        Flow(0, 20, match(eth_dst=("0a:00:00:00:01:00", "ff:ff:ff:ff:ff:00")), (Output(3),)),
        Flow(0, 5, TO_B, (Output(4),)))
    assert switch.send(a_to_b(), 1).ports == [2]
    assert switch.send(dict(a_to_b(), eth_dst="0a:00:00:00:01:0b"), 1).ports == [3]
    assert switch.send(dict(a_to_b(), eth_dst="0b:00:00:00:00:0b"), 1).ports == [4]


def test_tcp_flags_masks_tell_a_syn_from_a_syn_ack():
    switch = switch_with(Flow(0, 10, dict_match(TO_B, tcp_flags=TCP_SYN_ONLY), (Output(2),)),
                         Flow(0, 0, match(), (Output(3),)))
    assert [switch.send(a_to_b(flags), 1).ports for flags in (TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK)] == [[2], [3], [3]]


def test_ttl_and_vlan_tag_matches_with_masks():
    switch = switch_with(Flow(0, 20, match(vlan_vid=(0x1000, 0x1000)), (Output(5),)),
                         Flow(0, 10, dict_match(IP, nw_ttl=(0, 0xFE)), (Output(2),)),
                         Flow(0, 0, match(), (Output(3),)))
    assert [switch.send(a_to_b(ttl=ttl), 1).ports for ttl in (0, 1, 2, 64)] == [[2], [2], [3], [3]]
    assert switch.send(tagged(a_to_b(ttl=1), 10), 1).ports == [5]
    assert switch.send(tagged(a_to_b(), 10), 1).single().packet["vlan_vid"] == 0x100a


TAGGED = match(vlan_vid=(VLAN_PRESENT, VLAN_PRESENT))
UNTAGGED = match(vlan_vid=0)


def test_a_tag_popped_at_ingress_into_a_register_is_pushed_back_at_the_exit():
    """Each tagged packet leaves with its own tag (table 1 sees it untagged: popped); an untagged
    one with the VLAN its register was given (0x1000 | 30: the present bit is push_vlan's)."""
    switch = switch_with(Flow(0, 20, TAGGED, (Move("vlan_vid", "reg10", 12), PopVlan()), goto=1),
                         Flow(0, 10, UNTAGGED, (SetField("reg10", VLAN_PRESENT | 30),), goto=1),
                         Flow(1, 10, UNTAGGED, (PushVlan(), Move("reg10", "vlan_vid", 12), Output(2))))
    assert [switch.send(tagged(a_to_b(), vid), 1).single().packet["vlan_vid"] for vid in (10, 20)] == \
        [VLAN_PRESENT | 10, VLAN_PRESENT | 20]
    assert switch.send(a_to_b(), 1).single().packet["vlan_vid"] == VLAN_PRESENT | 30


def test_push_vlan_pushes_vlan_id_0_and_pop_vlan_leaves_the_packet_untagged():
    switch = switch_with(Flow(0, 20, TAGGED, (PopVlan(), Output(2))), Flow(0, 10, UNTAGGED, (PushVlan(), Output(3))))
    assert switch.send(tagged(a_to_b(), 10), 1).single().packet["vlan_vid"] == 0
    assert switch.send(a_to_b(), 1).single().packet["vlan_vid"] == VLAN_PRESENT


def test_a_move_into_an_absent_tag_a_pop_of_none_or_a_second_tag_is_an_error():
    """Open vSwitch takes these flows: it would write the VLAN id nowhere and pop nothing."""
    with pytest.raises(PipelineError, match="vlan_vid written in a packet with no tag"):
        switch_with(Flow(0, 10, TO_B, (Move("reg10", "vlan_vid", 12), Output(2)))).send(a_to_b(), 1)
    popped_first = switch_with(Flow(0, 10, TAGGED, (Resubmit(1), PopVlan(), Output(2))),
                               Flow(1, 10, TAGGED, (PopVlan(),)))
    with pytest.raises(PipelineError, match="pop_vlan of a packet with no tag"):
        popped_first.send(tagged(a_to_b(), 10), 1)
    with pytest.raises(PipelineError, match="two tags are not modelled"):
        switch_with(Flow(0, 10, TO_B, (PushVlan(), Output(2)))).send(tagged(a_to_b(), 10), 1)


def test_goto_carries_the_rewritten_packet_and_a_miss_drops_it():
    switch = switch_with(Flow(0, 10, TO_B, (SetField("eth_dst", MAC_A),), goto=5),
                         Flow(5, 10, match(eth_dst=MAC_A), (Output(2),)))
    assert switch.send(a_to_b(), 1).single().packet["eth_dst"] == MAC_A
    missed = switch.send(tcp(A + ":1", A + ":2", MAC_A, MAC_B), 1)
    assert missed.egress == [] and "no match" in str(missed)


def test_resubmit_looks_up_another_table_then_carries_on_with_its_changes():
    switch = switch_with(Flow(0, 10, TO_B, (Output(2), Resubmit(7), Output(3))),
                         Flow(7, 10, match(), (SetField("eth_src", MAC_B), Output(4))))
    result = switch.send(a_to_b(), 1)
    assert [(e.port, e.packet["eth_src"]) for e in result.egress] == [(2, MAC_A), (4, MAC_B), (3, MAC_B)]


def test_a_resubmit_that_misses_returns_and_the_packet_goes_on():
    switch = switch_with(Flow(0, 10, TO_B, (Resubmit(7), Output(3))))
    assert switch.send(a_to_b(), 1).ports == [3]


def test_output_to_the_in_port_is_dropped_unless_it_says_in_port_or_in_port_was_cleared():
    switch = switch_with(Flow(0, 10, TO_B, (Output(1), Output(2))), Flow(0, 0, match(), (Output(IN_PORT),)),
                         Flow(0, 20, dict_match(TO_B, tcp_dst=81), (SetField("in_port", 0), Resubmit(3))),
                         Flow(3, 10, match(), (Output(1),)))
    assert switch.send(a_to_b(), 1).ports == [2]
    assert switch.send(tcp(A + ":1", A + ":2", MAC_A, MAC_B), 1).ports == [1]
    assert switch.send(tcp(A + ":1000", B + ":81", MAC_A, MAC_B), 1).ports == [1], "a hairpin"


def test_in_port_set_to_zero_is_the_packets_own_again_after_a_recirculation():
    switch = switch_with(Flow(0, 10, TO_B, (SetField("in_port", 0), Ct(zone=1, table=1))),
                         Flow(1, 10, match(in_port=1), (Output(1), Output(2))))
    assert switch.send(a_to_b(), 1).ports == [2]


def test_moves_copy_bit_ranges_between_fields_of_any_width():
    switch = switch_with(Flow(0, 10, TO_B, (
        SetField("reg3", 0xABCD1234), SetField("eth_src", "02:6c:07:00:00:00"),
        Move("reg3", "eth_src", 16, src_ofs=16), Move("eth_dst", "reg4", 32),
        Move("reg4", "ipv4_src", 8), OutputReg("reg3", 0, 4))))
    out = switch.send(a_to_b(), 1).single()
    assert out.port == 4
    assert (out.packet["eth_src"], out.packet["ipv4_src"]) == ("02:6c:07:00:ab:cd", "198.18.0.11")


def test_dec_ttl_drops_a_packet_whose_ttl_runs_out():
    switch = switch_with(Flow(0, 10, TO_B, (DecTtl(), Output(2))))
    assert switch.send(a_to_b(ttl=2), 1).single().packet["nw_ttl"] == 1
    assert switch.send(a_to_b(ttl=1), 1).ports == []


def test_a_group_bucket_acts_on_a_copy_and_choose_picks_it():
    group = SelectGroup(1, (Bucket(1, (SetField("eth_dst", MAC_A), Output(2))), Bucket(1, (Output(3),))))
    switch = switch_with(Flow(0, 10, TO_B, (Group(1), Output(4))), groups=[group])
    switch.choose = lambda chooser, packet: 0
    assert [(e.port, e.packet["eth_dst"]) for e in switch.send(a_to_b(), 1).egress] == [(2, MAC_A), (4, MAC_B)]
    switch.choose = lambda chooser, packet: 1
    assert switch.send(a_to_b(), 1).ports == [3, 4]


def test_a_group_bucket_is_an_action_set_that_runs_one_output_resubmit_or_ct():
    two = SelectGroup(1, (Bucket(1, (Ct(zone=1, commit=True), Ct(zone=2, commit=True, table=1))),))
    switch = switch_with(Flow(0, 10, TO_B, (Group(1),)), groups=[two])
    with pytest.raises(PipelineError, match="a bucket is an action set"):
        switch.send(a_to_b(), 1)


def test_conntrack_commits_nats_and_knows_the_reply_in_its_own_zone_only():
    switch = switch_with(
        Flow(0, 10, TO_B, (Ct(zone=5, table=1, nat=Nat()),)),
        Flow(0, 10, dict_match(IP, in_port=2), (Ct(zone=5, table=1, nat=Nat()),)),
        Flow(0, 10, dict_match(IP, in_port=3), (Ct(zone=6, table=1, nat=Nat()),)),
        Flow(1, 10, dict_match(IP, ct_state=ct_state(CT_NEW)),
             (Ct(zone=5, table=2, commit=True, nat=Nat("dst", C, 8080)),)),
        Flow(1, 10, match(ct_state=ct_state(CT_EST)), goto=2),
        Flow(1, 0, match(), (Output(CONTROLLER),)),
        Flow(2, 0, match(), (Output(NORMAL),)))
    request = switch.send(a_to_b(), 1).single().packet
    assert (request["ipv4_dst"], request["tcp_dst"]) == (C, 8080)
    (entry,) = switch.conntrack.connections(zone=5)
    assert str(entry.reply) == "tcp 198.18.0.3:8080 -> 198.18.0.1:1000" and not entry.replied
    reply = tcp(C + ":8080", A + ":1000", MAC_B, MAC_A, flags=TCP_SYN | TCP_ACK)
    elsewhere = switch.send(reply, 3)
    assert elsewhere.ports == [CONTROLLER] and "ct zone 6: +inv+trk" in str(elsewhere), elsewhere
    back = switch.send(reply, 2).single().packet
    assert (back["ipv4_src"], back["tcp_src"], entry.replied) == (B, 80, True)


def test_a_destination_nat_whose_tuple_is_taken_moves_the_source_port():
    to_c = Ct(zone=1, commit=True, nat=Nat("dst", C, 8080), table=1)
    switch = switch_with(Flow(0, 10, dict_match(IP, ip_proto=6), (to_c,)), Flow(1, 10, match(), (Output(2),)))
    first = switch.send(a_to_b(), 1).single().packet
    second = switch.send(tcp(A + ":1000", "198.18.0.4:80", MAC_A, MAC_B), 1).single().packet
    assert [(out["tcp_src"], out["ipv4_dst"], out["tcp_dst"]) for out in (first, second)] == \
        [(1000, C, 8080), (1001, C, 8080)]


def test_ct_state_masks_follow_a_connection_from_new_to_established():
    switch = switch_with(Flow(0, 10, IP, (Ct(zone=1, table=1, commit=True),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_NEW)), (Output(2),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_EST, CT_RPL)), (Output(3),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_EST | CT_RPL)), (Output(4),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_INV)), (Output(9),)))
    b_to_a = tcp(B + ":80", A + ":1000", MAC_B, MAC_A, flags=TCP_SYN | TCP_ACK)
    stranger = tcp("198.18.0.5:80", B + ":80", MAC_A, MAC_B, flags=TCP_SYN | TCP_ACK)
    retransmitted_syn = a_to_b()
    sent = [(a_to_b(), 1), (retransmitted_syn, 1), (b_to_a, 5), (a_to_b(TCP_ACK), 1), (stranger, 1)]
    assert [switch.send(packet, port).ports for packet, port in sent] == [[2], [2], [4], [3], [9]]


def two_zones_in_one_pass():
    """Requests: DNAT to C:8080 in zone 1, then SNAT from POOL_A in zone 2, both committed in one
    pass (the mark says which zone's entry table 1 sees); replies to POOL_A: both zones looked up
    in one pass, the other way round."""
    dnat = Ct(zone=1, commit=True, nat=Nat("dst", C, 8080), exec_=(SetField("ct_mark", 1),))
    snat = Ct(zone=2, commit=True, nat=Nat("src", POOL_A, 20000, None, 20009), table=1,
              exec_=(SetField("ct_mark", 2),))
    return switch_with(Flow(0, 10, TO_B, (dnat, snat)),
                       Flow(0, 10, dict_match(IP, ipv4_dst=POOL_A),
                            (Ct(zone=2, nat=Nat()), Ct(zone=1, nat=Nat(), table=1))),
                       Flow(1, 10, match(ct_zone=2, ct_mark=2), (Output(2),)),
                       Flow(1, 10, match(ct_zone=1, ct_mark=1), (Output(3),)))


def test_two_ct_in_one_pass_the_second_sees_the_first_ones_nat_and_only_its_state_goes_on():
    switch = two_zones_in_one_pass()
    out = switch.send(a_to_b(), 1).single()
    assert out.port == 2, "zone 2's mark"
    assert (out.packet["ipv4_src"], out.packet["tcp_src"], out.packet["ipv4_dst"], out.packet["tcp_dst"]) == \
        (POOL_A, 20000, C, 8080)
    assert [str(c.original) for c in switch.conntrack.connections(zone=2)] == ["tcp 198.18.0.1:1000 -> 198.18.0.3:8080"]
    reply = switch.send(tcp(C + ":8080", POOL_A + ":20000", MAC_B, MAC_A, flags=TCP_SYN | TCP_ACK), 2).single()
    assert reply.port == 3, "zone 1's mark"
    assert (reply.packet["ipv4_src"], reply.packet["tcp_src"], reply.packet["ipv4_dst"], reply.packet["tcp_dst"]) == \
        (B, 80, A, 1000)


def test_the_packet_goes_on_untracked_after_a_ct_and_cannot_be_looked_up_after_a_nat_in_its_pass():
    switch = switch_with(Flow(0, 10, TO_B, (Ct(zone=1, table=1),)),
                         Flow(1, 10, IP, (Ct(zone=2, table=3), Resubmit(2))),
                         Flow(2, 10, match(ct_state=0, ct_zone=0), (Output(4),)),
                         Flow(3, 10, match(ct_state=ct_state(CT_NEW), ct_zone=2), (Output(3),)),
                         Flow(0, 10, dict_match(IP, ipv4_dst=C),
                              (Ct(zone=1, commit=True, nat=Nat("dst", A)), Resubmit(2))))
    assert switch.send(a_to_b(), 1).ports == [3, 4]
    with pytest.raises(PipelineError, match="as it was before that NAT"):
        switch.send(tcp(B + ":1", C + ":2", MAC_B, MAC_A), 1)


def test_a_commits_exec_records_set_and_moved_bits_and_can_copy_the_packets_label():
    label = Ct(zone=1, commit=True, table=1, exec_=(
        SetField("ct_mark", 7), SetField("ct_label", 0xAB << 48),
        Move("eth_src", "ct_label", 48), Move("in_port", "ct_label", 32, dst_ofs=64)))
    copy = Ct(zone=2, commit=True, table=2, exec_=(Move("ct_label", "ct_label", 128), SetField("ct_mark", 8)))
    switch = switch_with(Flow(0, 10, TO_B, (label,)), Flow(1, 10, IP, (copy,)),
                         Flow(2, 10, match(ct_mark=8), (Move("ct_label", "eth_dst", 16, src_ofs=48), Output(9))))
    out = switch.send(a_to_b(), 5).single()
    expected = (0xAB << 48) | int(MAC_A.replace(":", ""), 16) | (5 << 64)
    assert [(c.zone, c.mark, c.label) for c in switch.conntrack.connections()] == [(1, 7, expected), (2, 8, expected)]
    assert out.packet["eth_dst"] == "0a:00:00:00:00:ab"


def test_fragments_read_no_ports_but_conntrack_tracks_and_nats_their_datagram():
    switch = switch_with(
        Flow(0, 20, match(eth_type=0x0800, ip_proto=17, udp_dst=53), (Output(2),)),
        Flow(0, 10, match(eth_type=0x0800, ip_proto=17, ip_frag=(FRAG_ANY, FRAG_ANY)),
             (Move("udp_dst", "reg5", 16), Ct(zone=1, commit=True, nat=Nat("dst", C, 5353), table=1))),
        Flow(1, 10, match(ct_state=ct_state(CT_NEW), reg5=0), (Output(3),)))
    datagram = udp(A + ":4000", B + ":53", MAC_A, MAC_B)
    assert switch.send(datagram, 1).ports == [2]
    first = switch.send(fragment(datagram), 1).single().packet
    later = switch.send(fragment(datagram, later=True), 1).single().packet
    assert (first["ipv4_dst"], first["udp_src"], first["udp_dst"], first["ip_frag"]) == (C, 4000, 5353, FRAG_ANY)
    assert later == {k: v for k, v in dict(datagram, ipv4_dst=C, ip_frag=FRAG_ANY | FRAG_LATER).items()
                     if k not in ("udp_src", "udp_dst")}
    assert [str(c.original) for c in switch.conntrack.connections()] == ["udp 198.18.0.1:4000 -> 198.18.0.2:53"]


def test_fragments_of_one_datagram_hash_on_their_addresses_alone():
    datagram = udp(A + ":4000", B + ":53", MAC_A, MAC_B)
    group = SelectGroup(1, tuple(Bucket(1, (Output(port),)) for port in range(2, 66)))
    switch = switch_with(Flow(0, 10, IP, (Group(1),)), groups=[group])
    ports = {switch.send(fragment(dict(datagram, udp_src=port), later=later), 1).single().port
             for port in range(4000, 4020) for later in (False, True)}
    assert len(ports) == 1
    assert len({switch.send(dict(datagram, udp_src=port), 1).single().port for port in range(4000, 4020)}) > 1, \
        "whole datagrams hash on their ports too"


def icmp_errors_switch():
    """A connection A:1000 -> B:80 DNATed to C:8080 in zone 1, its mark 3; errors through zone 1."""
    commit = Ct(zone=1, commit=True, nat=Nat("dst", C, 8080), table=1, exec_=(SetField("ct_mark", 3),))
    switch = switch_with(Flow(0, 10, TO_B, (commit,)),
                         Flow(0, 10, match(eth_type=0x0800, ip_proto=1), (Ct(zone=1, nat=Nat(), table=1),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_NEW)), (Output(2),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_REL, CT_RPL), ct_mark=3), (Output(3),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_REL | CT_RPL), ct_mark=3), (Output(4),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_INV)), (Output(9),)))
    switch.send(a_to_b(), 1)
    return switch


def test_an_icmp_error_towards_the_member_is_related_and_natted_with_its_quote():
    switch = icmp_errors_switch()
    too_big = icmp_error(A, B, MAC_A, MAC_B, about=tcp(B + ":80", A + ":1000", MAC_B, MAC_A))
    out = switch.send(too_big, 1).single()
    assert out.port == 3, "+rel-rpl, with the connection's mark"
    assert (out.packet["ipv4_src"], out.packet["ipv4_dst"]) == (A, C)
    assert out.packet["quoted"] == ConnTuple(6, C, 8080, A, 1000)


def test_an_icmp_error_towards_the_client_is_related_reply_and_comes_from_the_vip():
    switch = icmp_errors_switch()
    router = "198.18.0.254"
    expired = icmp_error(router, A, MAC_B, MAC_A, about=tcp(A + ":1000", C + ":8080", MAC_A, MAC_B), kind=11, code=0)
    out = switch.send(expired, 2).single()
    assert out.port == 4, "+rel+rpl, with the connection's mark"
    assert (out.packet["ipv4_src"], out.packet["ipv4_dst"]) == (B, A), "the router's address is lost"
    assert out.packet["quoted"] == ConnTuple(6, A, 1000, B, 80)


def test_an_icmp_error_about_no_connection_or_not_sent_back_to_its_sender_is_invalid():
    switch = icmp_errors_switch()
    unknown = icmp_error(A, B, MAC_A, MAC_B, about=tcp(B + ":80", A + ":1001", MAC_B, MAC_A))
    misdirected = icmp_error(A, "198.18.0.77", MAC_A, MAC_B, about=tcp(B + ":80", A + ":1000", MAC_B, MAC_A))
    assert switch.send(unknown, 1).ports == [9]
    assert switch.send(misdirected, 1).ports == [9]


def test_learn_loads_a_constant_or_a_fields_value_up_to_its_limit_per_table_and_cookie():
    pin = dict(table=5, fixed=(("eth_type", 0x0800), ("ip_proto", 6)), copy=("tcp_src",), register="reg7",
               idle_timeout=60, fin_idle_timeout=5, priority=10)
    switch = switch_with(
        Flow(0, 10, TO_B, (SetField("reg2", 42), Learn(load="reg2", cookie=0x11, limit=2, **pin), Output(2))),
        Flow(0, 10, match(eth_type=0x0800, ip_proto=6, ipv4_dst=C),
             (Learn(load=9, cookie=0x22, limit=1, **pin), Output(3))))
    sent = [switch.send(tcp("%s:%d" % (A, port), B + ":80", MAC_A, MAC_B), 1).ports for port in (1, 2, 3)]
    sent += [switch.send(tcp("%s:%d" % (A, port), C + ":80", MAC_A, MAC_B), 1).ports for port in (4, 5)]
    assert sent == [[2], [2], [2], [3], [3]], "past its limit a packet goes on"
    learned = {(f.cookie, dict(f.match)["tcp_src"]): f.actions for f in switch.table(5)}
    assert learned == {(0x11, 1): (SetField("reg7", 42),), (0x11, 2): (SetField("reg7", 42),),
                       (0x22, 4): (SetField("reg7", 9),)}


def test_the_switch_refuses_what_open_vswitch_refuses():
    with pytest.raises(Refused, match="goto_table:0 does not go forward"):
        switch_with(Flow(3, 10, match(), goto=0))
    with pytest.raises(Refused, match="group 7 does not exist"):
        switch_with(Flow(0, 10, match(), (Group(7),)))
    with pytest.raises(Refused, match="meter 2 does not exist"):
        switch_with(Flow(0, 10, match(), (Output(2),), meter=2))
    with pytest.raises(Refused, match="a match on tcp_dst needs ip_proto=0x6"):
        switch_with(Flow(0, 10, match(eth_type=0x0800, tcp_dst=80)))
    with pytest.raises(Refused, match="a match on ip_frag needs eth_type=0x800"):
        switch_with(Flow(0, 10, match(ip_frag=(1, 1))))
    with pytest.raises(Refused, match="group 1 exists already"):
        switch_with(groups=[SelectGroup(1), SelectGroup(1)])


@pytest.mark.parametrize("flow, why", [
    (Flow(0, 10, match(reg4=1), (Ct(zone=1, table=1),)), "ct needs eth_type=ip in the match"),
    (Flow(0, 10, match(ct_mark=1), (DecTtl(), Output(2))), "dec_ttl needs eth_type=ip in the match"),
    (Flow(0, 10, match(), (SetField("ct_mark", 1),)), "ct_mark is written only in a ct's exec"),
    (Flow(0, 10, IP, (Ct(zone=1, commit=True, exec_=(SetField("eth_src", MAC_A),)),)),
     "a ct's exec writes only ct_mark and ct_label, not eth_src"),
    (Flow(0, 10, IP, (Ct(zone=1, exec_=(SetField("ct_mark", 1),)),)), "ct without commit takes no exec"),
    (Flow(0, 10, IP, (Ct(zone=1, nat=Nat("dst", A)),)), "ct without commit takes no exec and no NAT range"),
    (Flow(0, 10, IP, (SetField("icmpv4_type", 0),)), "icmpv4_type needs ip_proto=0x1 in the match"),
    (Flow(0, 10, match(), (Move("arp_spa", "reg3", 32),)), "arp_spa needs eth_type=0x806 in the match"),
    (Flow(0, 10, match(), (Move("reg3", "eth_src", 16, dst_ofs=40),)), "eth_src has no bits 40..55"),
    (Flow(0, 10, match(), (PopVlan(), Output(2))), "pop_vlan needs a tag"),
    (Flow(0, 10, UNTAGGED, (PopVlan(), Output(2))), "pop_vlan needs a tag"),
    (Flow(0, 10, match(vlan_vid=VLAN_PRESENT | 10), (PopVlan(), PopVlan())), "pop_vlan needs a tag"),
    (Flow(0, 10, match(vlan_vid=VLAN_PRESENT | 10), (PopVlan(), SetField("vlan_vid", VLAN_PRESENT | 5))),
     "set_field vlan_vid needs a tag"),
    (Flow(0, 10, TAGGED, (PushVlan(), PushVlan())), "push_vlan onto two tags"),
    (Flow(0, 10, match(), (PushVlan(), SetField("vlan_vid", 10))), "set_field vlan_vid needs the present bit 0x1000"),
    (Flow(0, 10, match(), (PushVlan(), Move("reg3", "vlan_vid", 13))), "vlan_vid has no bits 0..12"),
    (Flow(0, 10, IP, (Ct(zone=1, commit=True, exec_=(PopVlan(),)),)), "exec holds only set_field and move"),
], ids=["ct", "dec_ttl", "ct_mark", "exec", "exec-commit", "nat-commit", "set-prerequisite", "move-prerequisite",
        "bits", "pop-untagged", "pop-no-tag", "pop-twice", "set-popped-tag", "push-third-tag", "set-vlan-unpresent",
        "move-vlan-present-bit", "pop-in-exec"])
def test_the_switch_refuses_actions_open_vswitch_finds_inconsistent(flow, why):
    with pytest.raises(Refused, match=why):
        switch_with(flow)


def test_deleting_a_group_or_meter_deletes_the_flows_that_use_it():
    group, meter = SelectGroup(1, (Bucket(1, (Output(2),)),)), Meter(1, 10, 10)
    switch = switch_with(Flow(0, 10, TO_B, (Group(1),)), Flow(0, 5, match(), (Output(3),), meter=1),
                         Flow(0, 0, match(eth_type=0x0806), (Output(4),)), groups=[group], meters=[meter])
    switch.apply([Change("delete_group", group), Change("delete_meter", meter)])
    assert [f.priority for f in switch.table(0)] == [0]


def test_two_flows_of_one_priority_matching_a_packet_are_an_error():
    switch = switch_with(Flow(0, 10, TO_B, (Output(2),)), Flow(0, 10, match(eth_type=0x0800), (Output(3),)))
    with pytest.raises(PipelineError, match="two flows of one priority"):
        switch.send(a_to_b(), 1)
