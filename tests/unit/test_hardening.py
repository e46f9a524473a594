"""What an attack on a running demo found, on the fake switch (the same is checked on real Open
vSwitch in tests/integration/test_hardening.py): fragments of a UDP VIP's datagrams, ICMP errors
about VIP connections, a member reaching itself through its own VIP, traffic to the balancer's
MACs that no flow serves, VLAN-tagged frames, a routed SYN whose TTL runs out, and packets sent
from the balancer's addresses by someone else."""
import pytest

from flows import pipeline as p
from flows.fakeswitch import CONTROLLER, NORMAL, fragment, icmp_echo, icmp_error, tagged, tcp, udp
from flows.protocols import TCP_ACK, TCP_FIN, TCP_SYN
from tests.unit.test_fakeswitch import (CLIENT, CLIENT_MAC, CLIENT_PORT, DIRECT, ONE_ARM, POOL, VIP_MAC, Balancer,
                                        client_syn, member_place)
from tests.unit.sample import DNS, settings, WEB

ROUTER = "198.18.1.1"   # a router between the balancer and a client or a member


# ---------------------------------------------------------------- fragments (UDP)

def test_every_fragment_of_a_large_datagram_to_a_udp_vip_reaches_its_member_natted():
    lb = Balancer(DNS)
    lb.force("dns", "198.18.0.11")
    ask = udp(CLIENT + ":41000", DNS["address"] + ":53", CLIENT_MAC, VIP_MAC)
    port, mac = member_place("198.18.0.11")
    for piece in (fragment(ask), fragment(ask, later=True)):
        out = lb.send(piece, CLIENT_PORT).single()
        assert (out.port, out.packet["ipv4_dst"], out.packet["eth_dst"]) == (port, "198.18.0.11", mac)


def test_every_fragment_of_a_large_reply_reaches_the_client_from_the_vip():
    lb = Balancer(DNS)
    lb.force("dns", "198.18.0.11")
    lb.send(udp(CLIENT + ":41000", DNS["address"] + ":53", CLIENT_MAC, VIP_MAC), CLIENT_PORT)
    port, mac = member_place("198.18.0.11")
    answer = udp("198.18.0.11:5353", CLIENT + ":41000", mac, VIP_MAC)
    for piece in (fragment(answer), fragment(answer, later=True)):
        out = lb.send(piece, port).single()
        assert (out.port, out.packet["ipv4_src"]) == (CLIENT_PORT, DNS["address"]), "never the member's own address"


def test_fragments_to_an_address_of_two_udp_vips_never_reach_the_other_vips_service():
    """Fragments carry no port: a new fragmented datagram cannot tell the two VIPs apart and is
    dropped; the fragments of a known connection follow it."""
    other = dict(DNS, name="dns2", port=54, members=[{"address": "198.18.0.13", "port": 5454}])
    lb = Balancer(DNS, other)
    lb.force("dns2", "198.18.0.13")
    ask = udp(CLIENT + ":41000", DNS["address"] + ":54", CLIENT_MAC, VIP_MAC)
    assert lb.send(fragment(ask), CLIENT_PORT).egress == [], "not to dns's member"
    port, mac = member_place("198.18.0.13")
    whole = lb.send(ask, CLIENT_PORT).single()
    assert (whole.port, whole.packet["udp_dst"]) == (port, 5454)
    for piece in (fragment(ask), fragment(ask, later=True)):
        out = lb.send(piece, CLIENT_PORT).single()
        assert (out.port, out.packet["ipv4_dst"]) == (port, "198.18.0.13")


def test_a_clients_fragments_to_a_dsr_udp_vip_reach_one_member_and_its_answers_go_out():
    direct_dns = dict(DNS, name="ddns", address="198.18.0.121", mode="dsr", port=5353,
                      members=[{"address": "198.18.0.11"}, {"address": "198.18.0.12"}])
    lb = Balancer(direct_dns)
    mac_at = dict(member_place(m["address"]) for m in direct_dns["members"])   # port -> MAC
    ask = udp(CLIENT + ":41000", direct_dns["address"] + ":5353", CLIENT_MAC, VIP_MAC)
    first, later = (lb.send(piece, CLIENT_PORT).single() for piece in (fragment(ask), fragment(ask, later=True)))
    assert first.port == later.port in mac_at and later.packet["eth_dst"] == mac_at[first.port], "one member, whole"
    assert later.packet["ipv4_dst"] == direct_dns["address"], "dsr: the IP header untouched"
    answer = udp(direct_dns["address"] + ":5353", CLIENT + ":41000", mac_at[first.port], CLIENT_MAC)
    assert lb.send(fragment(answer, later=True), first.port).ports == [NORMAL], "not taken for a spoofed address"


# ---------------------------------------------------------------- ICMP errors

@pytest.mark.parametrize("body", [WEB, ONE_ARM], ids=["routed", "one-arm"])
def test_a_clients_icmp_error_about_a_vip_connection_reaches_its_member_translated(body):
    """Path MTU discovery through the balancer: the client says the VIP's replies are too big."""
    lb = Balancer(body)
    lb.force(body["name"], "198.18.0.12")
    syn = client_syn(body["address"])
    delivered = lb.send(syn, CLIENT_PORT).single()
    port, mac = member_place("198.18.0.12")
    reply = tcp("198.18.0.12:80", "%s:%d" % (delivered.packet["ipv4_src"], delivered.packet["tcp_src"]), mac, VIP_MAC,
                flags=TCP_SYN | TCP_ACK)
    client_saw = lb.send(reply, port).single().packet
    error = icmp_error(CLIENT, body["address"], CLIENT_MAC, VIP_MAC, about=client_saw)
    out = lb.send(error, CLIENT_PORT).single()
    assert out.port == port, "to the member whose connection it is"
    assert out.packet["ipv4_dst"] == "198.18.0.12" and out.packet["ipv4_src"] == delivered.packet["ipv4_src"], \
        "translated like the connection: the member sees its peer (the client, or the pool address)"


@pytest.mark.parametrize("body", [WEB, ONE_ARM], ids=["routed", "one-arm"])
def test_an_icmp_error_about_a_request_reaches_the_client_translated(body):
    """A router between the balancer and the member says a request is too big for its link."""
    lb = Balancer(body)
    lb.force(body["name"], "198.18.0.12")
    delivered = lb.send(client_syn(body["address"]), CLIENT_PORT).single().packet
    port, mac = member_place("198.18.0.12")
    error = icmp_error(ROUTER, delivered["ipv4_src"], mac, VIP_MAC, about=delivered)
    out = lb.send(error, port).single()
    assert (out.port, out.packet["ipv4_dst"], out.packet["ipv4_src"]) == (CLIENT_PORT, CLIENT, body["address"])


def test_a_clients_icmp_error_to_a_dsr_vip_reaches_every_member_unchanged():
    """No state tells which member a dsr reply came from: each member's kernel takes the error
    about its own connection (it holds the VIP) and ignores the others."""
    lb = Balancer(DIRECT)
    reply = tcp(DIRECT["address"] + ":80", CLIENT + ":40000", member_place("198.18.0.11")[1], CLIENT_MAC,
                flags=TCP_SYN | TCP_ACK)
    error = icmp_error(CLIENT, DIRECT["address"], CLIENT_MAC, VIP_MAC, about=reply)
    out = lb.send(error, CLIENT_PORT)
    members = [member_place(m["address"]) for m in DIRECT["members"]]
    assert sorted((e.port, e.packet["eth_dst"]) for e in out.egress) == sorted(members)
    assert {(e.packet["ipv4_dst"], e.packet["icmpv4_type"]) for e in out.egress} == {(DIRECT["address"], 3)}


def test_an_icmp_error_about_nothing_of_ours_to_the_balancers_mac_is_dropped_not_flooded():
    lb = Balancer(WEB)
    stray = tcp(CLIENT + ":40000", "198.18.0.99:80", CLIENT_MAC, VIP_MAC)
    assert lb.send(icmp_error("198.18.0.99", CLIENT, CLIENT_MAC, VIP_MAC, about=stray), CLIENT_PORT).ports == []


# ---------------------------------------------------------------- a member reaching its own VIP

@pytest.mark.parametrize("body", [WEB, ONE_ARM], ids=["routed", "one-arm"])
def test_a_member_reaching_its_own_vip_and_hashed_to_itself_is_served_both_ways(body):
    lb = Balancer(body)
    lb.force(body["name"], "198.18.0.12")
    port, mac = member_place("198.18.0.12")
    syn = tcp("198.18.0.12:45000", "%s:80" % body["address"], mac, VIP_MAC)
    out = lb.send(syn, port).single()
    assert out.port == port, "back out the port it came in on"
    assert out.packet["ipv4_dst"] == "198.18.0.12" and out.packet["ipv4_src"] != "198.18.0.12", \
        "from an address of the balancer: a host drops a packet from itself"
    reply = tcp("198.18.0.12:80", "%s:%d" % (out.packet["ipv4_src"], out.packet["tcp_src"]), mac, VIP_MAC,
                flags=TCP_SYN | TCP_ACK)
    back = lb.send(reply, port).single()
    assert back.port == port and (back.packet["ipv4_src"], back.packet["tcp_src"]) == (body["address"], 80)
    assert (back.packet["ipv4_dst"], back.packet["tcp_dst"]) == ("198.18.0.12", 45000)


# ---------------------------------------------------------------- the balancer's MACs

def test_what_no_flow_serves_on_the_balancers_macs_is_refused_or_dropped_never_flooded():
    lb = Balancer(WEB, DNS)
    unserved_port = lb.send(client_syn(WEB["address"], port=22), CLIENT_PORT)
    assert [(e.port, e.table) for e in unserved_port.egress] == [(CONTROLLER, p.REJECT.id)], "a reset"
    udp_to_tcp_vip = lb.send(udp(CLIENT + ":41000", WEB["address"] + ":80", CLIENT_MAC, VIP_MAC), CLIENT_PORT)
    assert [(e.port, e.table) for e in udp_to_tcp_vip.egress] == [(CONTROLLER, p.REJECT.id)], "a port unreachable"
    for flags in (TCP_SYN | TCP_ACK, TCP_FIN, TCP_ACK):
        late = lb.send(dict(client_syn(WEB["address"]), tcp_flags=flags), CLIENT_PORT)
        assert NORMAL not in late.ports and all(e.table == p.REJECT.id for e in late.egress), late


def test_a_tagged_frame_to_a_vip_is_not_served_nor_flooded():
    lb = Balancer(WEB)
    assert lb.send(tagged(client_syn(WEB["address"]), 10), CLIENT_PORT).ports == []
    other = tagged(tcp(CLIENT + ":40000", "198.18.0.99:80", CLIENT_MAC, "0a:00:00:00:00:99"), 10)
    assert lb.send(other, CLIENT_PORT).ports == [NORMAL], "others' tagged frames are switched as before"


# ---------------------------------------------------------------- TTL, and addresses of the balancer

def test_a_routed_syn_whose_ttl_runs_out_here_commits_nothing_and_goes_to_the_controller():
    lb = Balancer(WEB)
    lb.force("web", "198.18.0.11")
    expired = lb.send(dict(client_syn(WEB["address"]), nw_ttl=1), CLIENT_PORT)
    assert [(e.port, e.table) for e in expired.egress] == [(CONTROLLER, p.COMMIT.id)], "to answer time exceeded"
    assert lb.switch.conntrack.connections(p.LB_ZONE) == []
    assert lb.send(client_syn(WEB["address"]), CLIENT_PORT).single().packet["nw_ttl"] == 63


def test_nobody_may_send_from_an_address_of_the_balancer_but_dsr_members_from_their_vip():
    lb = Balancer(WEB, DIRECT, settings=settings())
    port, mac = member_place("198.18.0.11")
    for source in (WEB["address"] + ":80", "198.18.0.2:20000", DIRECT["address"] + ":22"):
        spoofed = tcp(source, CLIENT + ":40000", mac, CLIENT_MAC, flags=TCP_ACK)
        assert lb.send(spoofed, port).ports == [], source
    dsr_reply = tcp(DIRECT["address"] + ":80", CLIENT + ":40000", mac, CLIENT_MAC, flags=TCP_ACK)
    assert lb.send(dsr_reply, port).ports == [NORMAL]


def test_a_ping_to_a_pool_address_is_answered():
    lb = Balancer(ONE_ARM)
    out = lb.send(icmp_echo(CLIENT, POOL[1], CLIENT_MAC, VIP_MAC), CLIENT_PORT).single()
    assert (out.packet["ipv4_src"], out.packet["icmpv4_type"]) == (POOL[1], 0)
