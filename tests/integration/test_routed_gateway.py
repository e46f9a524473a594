"""Routed mode in full: the balancer is the router between the clients' subnet and the members'
subnet (it owns a gateway address on each, with a generated MAC), members use it as their
default gateway, and VIP traffic is forwarded at L3 (TTL decremented both ways)."""
import sys

import pytest

from lab import free_tcp_port
from lab.lbctl import REPO_VIPS, Controller, connect, served_by, shares, switch_text, wait_for

VIP = {"name": "far", "address": "198.18.5.100", "port": 80,
       "members": [{"address": "198.18.0.11", "port": 80}, {"address": "198.18.0.12", "port": 80}]}

# Runs in a member: a UDP service that answers with the TTL the request arrived with.
TTL_ECHO = """
import socket, struct
IP_RECVTTL = 12   # Linux; Python 3.11's socket module does not name it
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.bind(("0.0.0.0", 5000))
while True:
    data, ancillary, _, peer = s.recvmsg(100, 64)
    ttl = next(struct.unpack("i", d[:4])[0] for level, kind, d in ancillary if kind == socket.IP_TTL)
    s.sendto(str(ttl).encode(), peer)
"""
# Runs in the client: one datagram; prints the TTL the member saw and the TTL of the answer.
TTL_ASK = """
import socket, struct, sys
IP_RECVTTL = 12
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.settimeout(3)
s.connect((sys.argv[1], 5000))
s.send(b"ttl?")
data, ancillary, _, _ = s.recvmsg(100, 64)
ttl = next(struct.unpack("i", d[:4])[0] for level, kind, d in ancillary if kind == socket.IP_TTL)
print(data.decode(), ttl)
"""


@pytest.fixture(scope="module")
def routed(make_lab_module):
    lab = make_lab_module()
    lab.start()
    lab.add_host("client", "198.18.2.10", 24, ofport=1, gateway="198.18.2.1")
    for name, ip, port in (("m1", "198.18.0.11", 2), ("m2", "198.18.0.12", 3)):
        lab.add_host(name, ip, 24, ofport=port, gateway="198.18.0.1")
        lab.start_http(name)
        lab.spawn(name, "ttl-echo-" + name, [sys.executable, "-c", TTL_ECHO])
    lb = Controller(lab, free_tcp_port(), REPO_VIPS, options={"gateways": "198.18.0.1/24, 198.18.2.1/24"}).start()
    assert lb.call("POST", "/v1/vips", VIP)[0] == 201
    assert lb.call("POST", "/v1/vips", dict(VIP, name="far-udp", port=5000, protocol="udp",
                                            members=[dict(m, port=5000) for m in VIP["members"]]))[0] == 201
    lb.wait_resolved("far")
    yield lab, lb
    lb.stop()
    assert lb.refusals() == []


def test_a_client_on_another_subnet_reaches_the_vip_through_the_gateway(routed):
    lab, lb = routed
    before = {m: len(lab.access_log(m)) for m in ("m1", "m2")}
    members = served_by(connect(lab, VIP["address"], 80, 40))
    assert sum(members.values()) == 40 and set(members) == {"m1", "m2"}
    for member, start in before.items():
        assert set(lab.access_log(member)[start:]) == {"198.18.2.10"}


def test_forwarding_is_a_routed_hop_both_ways(routed):
    lab, lb = routed
    seen_by_member, seen_by_client = lab.run("client", [sys.executable, "-c", TTL_ASK, VIP["address"]]).stdout.split()
    assert (seen_by_member, seen_by_client) == ("63", "63"), "64 minus one hop through the balancer"


def test_the_gateways_answer_arp_and_ping(routed):
    lab, lb = routed
    assert "1 received" in lab.run("client", ["ping", "-c", "1", "-W", "2", "198.18.2.1"]).stdout
    assert "1 received" in lab.run("m1", ["ping", "-c", "1", "-W", "2", "198.18.0.1"]).stdout
    assert "02:6c:00:00:00:01" in lab.run("m1", ["ip", "neigh", "show", "198.18.0.1"]).stdout


def test_the_switch_holds_the_computed_routed_pipeline(routed):
    lab, lb = routed
    wait_for(lambda: shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines()),
             "the computed pipeline on the switch", timeout=5)


@pytest.mark.parametrize("body, status, error", [
    (dict(VIP, name="thief", address="198.18.2.1"), 409, "address: 198.18.2.1 is a gateway address of network 'default'"),
    (dict(VIP, name="thief", address="198.18.5.101", members=[{"address": "198.18.0.1", "port": 80}]), 409,
     "members[0].address: 198.18.0.1 is a gateway address of network 'default'"),
    (dict(VIP, name="edge", address="198.18.0.255"), 400,
     "address: '198.18.0.255' is the broadcast address of the subnet 198.18.0.0/24 of network 'default'"),
])
def test_the_gateways_and_their_subnets_edges_are_nobody_elses(routed, body, status, error):
    """(From the gateways option as ryu-manager reads it.)"""
    lab, lb = routed
    before = switch_text(lab)
    assert lb.call("POST", "/v1/vips", body) == (status, {"error": error})
    assert switch_text(lab) == before and [v["name"] for v in lb.call("GET", "/v1/vips")[1]] == ["web", "far", "far-udp"]
