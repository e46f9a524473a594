"""Packets walked through the flows lbctl computes, on the fake switch of flows/fakeswitch.py: in
each mode (routed, one-arm, dsr) a client reaches a member and the member's reply reaches the
client, and ARP, ping, refusals, probe replies and other traffic go where the README says. Then
the fake switch itself, on hand-written flows. The integration tests check the same behaviour on
real Open vSwitch."""
import pytest

from flows import pipeline as p
from flows.desired import Settings, desired_state
from flows.fakeswitch import FakeSwitch, PipelineError, Refused, arp_request, icmp_echo, tcp, udp
from flows.ir import (CONTROLLER, IN_PORT, NORMAL, Bucket, Ct, DecTtl, Flow, Group, Meter, Nat, Output, Resubmit,
                      SelectGroup, SetField, match)
from flows.reconcile import Change, diff
from flows.protocols import CT_EST, CT_INV, CT_NEW, CT_RPL, TCP_ACK, TCP_SYN, TCP_SYN_ONLY, ct_state
from lbctl.model import parse_vip
from tests.unit.sample import DNS, WEB, WHERE, places, vip_set

CLIENT, CLIENT_MAC, CLIENT_PORT = "198.18.1.50", "0a:00:00:00:01:50", 1
VIP_MAC = p.own_mac(0, 1)
MONITOR = "198.18.0.2"
POOL = ["198.18.0.200", "198.18.0.201"]
ONE_ARM = dict(WEB, name="arm", address="198.18.0.110", mode="one-arm",
               snat_pool={"addresses": POOL, "ports": [20000, 40000]})
DIRECT = dict(WEB, name="direct", address="198.18.0.120", mode="dsr")
NOBODY = dict(WEB, name="nobody", address="198.18.0.130", members=[{"address": "198.18.0.99", "port": 80}])


class Balancer:
    """A fake switch holding the desired state of some VIPs, and the VIPs themselves."""

    def __init__(self, *bodies, settings=Settings()):
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


def test_a_new_connection_counts_once_on_its_members_new_connection_flow():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.11")
    syn = client_syn(WEB["address"])
    lb.send(syn, CLIENT_PORT)
    port, mac = member_place("198.18.0.11")
    lb.send(tcp("198.18.0.11:80", CLIENT + ":40000", mac, VIP_MAC, flags=TCP_SYN | TCP_ACK), port)
    lb.send(replace_flags(syn, TCP_ACK), CLIENT_PORT)
    counts = {f.priority: lb.switch.flow_packets[f.key] for f in lb.switch.table(p.TO_MEMBER.id)
              if f.cookie == p.cookie(1, 1)}
    assert counts == {p.TO_MEMBER.MEMBER_NEW: 1, p.TO_MEMBER.MEMBER: 1}


def test_udp_datagrams_go_by_multipath_slot_and_answers_come_from_the_vip():
    lb = Balancer(DNS)
    slot = lb.force("dns", "198.18.0.11")
    ask = udp(CLIENT + ":41000", "198.18.0.101:53", CLIENT_MAC, VIP_MAC)
    result = lb.send(ask, CLIENT_PORT)
    assert (result.single().port, result.single().packet["udp_dst"]) == (member_place("198.18.0.11")[0], 5353)
    assert any(f.table == p.SLOT.id and dict(f.match)["reg1"] == slot for f in result.matched), result
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


def test_one_arm_gives_each_connection_to_a_member_its_own_pool_address_and_port():
    lb = Balancer(ONE_ARM)
    first, second = one_arm_connection(lb, 40000).packet, one_arm_connection(lb, 40001).packet
    assert (first["ipv4_src"], first["tcp_src"]) != (second["ipv4_src"], second["tcp_src"])


@pytest.mark.xfail(strict=True, reason="bug: a member calling its own one-arm VIP and hashed to itself is sent "
                   "back out its own port by locate (31), output:<port>, which OpenFlow drops as the in_port "
                   "(the reply's output:reg0 from to_client (40) likewise); only IN_PORT would deliver it")
def test_a_member_reaches_its_own_one_arm_vip_when_hashed_to_itself():
    lb = Balancer(ONE_ARM)
    lb.force("arm", "198.18.0.11")
    port, mac = member_place("198.18.0.11")
    result = lb.send(tcp("198.18.0.11:40000", ONE_ARM["address"] + ":80", mac, VIP_MAC), port)
    assert result.ports == [port], result


# ---------------------------------------------------------------- dsr


def test_dsr_rewrites_only_the_destination_mac():
    lb = Balancer(DIRECT)
    lb.force("direct", "198.18.0.13")
    syn = client_syn(DIRECT["address"])
    out = lb.send(syn, CLIENT_PORT).single()
    port, mac = member_place("198.18.0.13")
    assert out.port == port and out.packet == dict(syn, eth_dst=mac)
    assert lb.switch.conntrack.connections() == [], "dsr passes no conntrack"


def test_dsr_pins_keep_connections_on_their_member_after_the_slot_table_changes():
    lb = Balancer(DIRECT)
    slot = lb.force("direct", "198.18.0.11")
    syn = client_syn(DIRECT["address"])
    lb.send(syn, CLIENT_PORT)
    (pin,) = lb.switch.table(p.DSR_CONN.id)
    assert pin.cookie == p.cookie(1, 1) and dict(pin.match)["tcp_src"] == 40000
    drained = dict(DIRECT, members=[dict(m, weight=0) if m["address"] == "198.18.0.11" else m
                                    for m in DIRECT["members"]])
    lb.replace("direct", drained)
    assert lb.state.slots[1][slot] != 1, "the slot has a new owner"
    lb.switch.choose = lambda chooser, packet: slot
    assert lb.send(replace_flags(syn, TCP_ACK), CLIENT_PORT).single().port == member_place("198.18.0.11")[0]
    new = lb.send(client_syn(DIRECT["address"], client_port=40001), CLIENT_PORT).single()
    assert new.port != member_place("198.18.0.11")[0], "a new connection in that slot goes to its new owner"


# ---------------------------------------------------------------- the balancer's own addresses


def test_an_arp_request_for_the_vip_is_answered_out_its_in_port_with_the_vip_mac():
    lb = Balancer(WEB)
    out = lb.send(arp_request(CLIENT_MAC, CLIENT, WEB["address"]), CLIENT_PORT).single()
    assert out.port == CLIENT_PORT
    assert out.packet == {"eth_src": VIP_MAC, "eth_dst": CLIENT_MAC, "eth_type": 0x0806, "arp_op": 2,
                          "arp_sha": VIP_MAC, "arp_spa": WEB["address"], "arp_tha": CLIENT_MAC, "arp_tpa": CLIENT}


def test_a_ping_to_the_vip_is_answered():
    lb = Balancer(WEB)
    ping = icmp_echo(CLIENT, WEB["address"], CLIENT_MAC, VIP_MAC)
    out = lb.send(ping, CLIENT_PORT).single()
    assert out.port == CLIENT_PORT
    assert out.packet == dict(ping, ipv4_src=WEB["address"], ipv4_dst=CLIENT, eth_src=VIP_MAC, eth_dst=CLIENT_MAC,
                              icmpv4_type=0)


@pytest.mark.xfail(strict=True, reason="bug: classify's pool catch (priority 350, ip,nw_dst=<pool>) also takes ICMP "
                   "and shadows the pool address's echo responder (priority 300); zone 65 calls the echo +new and "
                   "unsnat (23) drops it, though the README says pool addresses answer ping")
def test_a_ping_to_a_one_arm_pool_address_is_answered():
    lb = Balancer(ONE_ARM)
    result = lb.send(icmp_echo(CLIENT, POOL[0], CLIENT_MAC, VIP_MAC), CLIENT_PORT)
    assert result.ports == [CLIENT_PORT], result


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
    assert [(e.port, e.table) for e in result.egress] == [(NORMAL, p.ARP.id), (CONTROLLER, p.MEMBER_ARP_PUNT.id)]
    assert lb.switch.meter_packets == {p.MEMBER_ARP_METER: 1}


@pytest.mark.parametrize("reply", [
    tcp("198.18.0.11:80", MONITOR + ":33000", WHERE["198.18.0.11"].mac, VIP_MAC, flags=TCP_SYN | TCP_ACK),
    icmp_echo("198.18.0.11", MONITOR, WHERE["198.18.0.11"].mac, VIP_MAC, reply=True),
], ids=["syn-ack", "echo-reply"])
def test_replies_to_health_probes_go_to_the_controller_from_the_monitor_table(reply):
    lb = Balancer(WEB, settings=Settings(monitor_address=MONITOR))
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
    assert lb.send(client_syn(WEB["address"]), CLIENT_PORT).ports == [NORMAL], "web is gone"
    lb.force("arm", "198.18.0.12")
    assert lb.send(client_syn(ONE_ARM["address"]), CLIENT_PORT).single().port == member_place("198.18.0.12")[0]


# ---------------------------------------------------------------- the fake switch itself

A, B = "198.18.0.1", "198.18.0.2"
MAC_A, MAC_B = "0a:00:00:00:00:0a", "0a:00:00:00:00:0b"
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


def test_output_to_the_in_port_is_dropped_unless_it_says_in_port():
    switch = switch_with(Flow(0, 10, TO_B, (Output(1), Output(2))), Flow(0, 0, match(), (Output(IN_PORT),)))
    assert switch.send(a_to_b(), 1).ports == [2]
    assert switch.send(tcp(A + ":1", A + ":2", MAC_A, MAC_B), 1).ports == [1]


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


def test_conntrack_commits_nats_and_knows_the_reply_in_its_own_zone_only():
    switch = switch_with(
        Flow(0, 10, TO_B, (Ct(zone=5, table=1, nat=Nat()),)),
        Flow(0, 10, match(in_port=2), (Ct(zone=5, table=1, nat=Nat()),)),
        Flow(0, 10, match(in_port=3), (Ct(zone=6, table=1, nat=Nat()),)),
        Flow(1, 10, match(ct_state=ct_state(CT_NEW)),
             (Ct(zone=5, table=2, commit=True, nat=Nat("dst", "198.18.0.9", 8080)),)),
        Flow(1, 10, match(ct_state=ct_state(CT_EST)), goto=2),
        Flow(1, 0, match(), (Output(CONTROLLER),)),
        Flow(2, 0, match(), (Output(NORMAL),)))
    request = switch.send(a_to_b(), 1).single().packet
    assert (request["ipv4_dst"], request["tcp_dst"]) == ("198.18.0.9", 8080)
    (entry,) = switch.conntrack.connections(zone=5)
    assert str(entry.reply) == "tcp 198.18.0.9:8080 -> 198.18.0.1:1000" and not entry.replied
    reply = tcp("198.18.0.9:8080", A + ":1000", MAC_B, MAC_A, flags=TCP_SYN | TCP_ACK)
    elsewhere = switch.send(reply, 3)
    assert elsewhere.ports == [CONTROLLER] and "ct zone 6: +inv+trk" in str(elsewhere), elsewhere
    back = switch.send(reply, 2).single().packet
    assert (back["ipv4_src"], back["tcp_src"], entry.replied) == (B, 80, True)


def test_ct_state_masks_follow_a_connection_from_new_to_established():
    switch = switch_with(Flow(0, 10, match(eth_type=0x0800), (Ct(zone=1, table=1, commit=True),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_NEW)), (Output(2),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_EST, CT_RPL)), (Output(3),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_EST | CT_RPL)), (Output(4),)),
                         Flow(1, 10, match(ct_state=ct_state(CT_INV)), (Output(9),)))
    b_to_a = tcp(B + ":80", A + ":1000", MAC_B, MAC_A, flags=TCP_SYN | TCP_ACK)
    stranger = tcp("198.18.0.5:80", B + ":80", MAC_A, MAC_B, flags=TCP_SYN | TCP_ACK)
    retransmitted_syn = a_to_b()
    sent = [(a_to_b(), 1), (retransmitted_syn, 1), (b_to_a, 5), (a_to_b(TCP_ACK), 1), (stranger, 1)]
    assert [switch.send(packet, port).ports for packet, port in sent] == [[2], [2], [4], [3], [9]]


def test_the_switch_refuses_what_open_vswitch_refuses():
    with pytest.raises(Refused, match="goto_table:0 does not go forward"):
        switch_with(Flow(3, 10, match(), goto=0))
    with pytest.raises(Refused, match="group 7 does not exist"):
        switch_with(Flow(0, 10, match(), (Group(7),)))
    with pytest.raises(Refused, match="meter 2 does not exist"):
        switch_with(Flow(0, 10, match(), (Output(2),), meter=2))
    with pytest.raises(Refused, match="a match on tcp_dst needs ip_proto=0x6"):
        switch_with(Flow(0, 10, match(eth_type=0x0800, tcp_dst=80)))
    with pytest.raises(Refused, match="group 1 exists already"):
        switch_with(groups=[SelectGroup(1), SelectGroup(1)])


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
