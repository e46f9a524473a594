"""Mode dsr on real Open vSwitch: the switch rewrites only the destination MAC; members hold the
VIP on their loopback and reply straight to the client. No state per connection in the steady
state: the switch's hash keeps a connection on its member; only slots that changed owner within
their grace period pin their new connections (draining a member keeps its open connections:
tests/integration/test_draining.py)."""
import sys

import pytest

from flows import pipeline
from lab import dsr
from lab.lbctl import UDP_ASK, UDP_ECHO, connect, served_by, shares, switch_text, wait_for

VIP = "198.18.0.120"
DIRECT = {"name": "direct", "address": VIP, "port": 8080, "mode": "dsr",
          "members": [{"address": "198.18.0.11", "port": 8080}, {"address": "198.18.0.12", "port": 8080}]}

@pytest.fixture(scope="module", autouse=True)
def direct(lab, lb):
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, VIP)
    assert lb.call("POST", "/v1/vips", DIRECT)[0] == 201
    lb.wait_resolved("direct")


def test_members_see_the_client_and_answer_it_directly(lab, lb):
    before = {m: len(lab.access_log(m)) for m in ("m1", "m2")}
    members = served_by(connect(lab, VIP, 8080, 60))
    assert sum(members.values()) == 60 and set(members) == {"m1", "m2"}
    for member, start in before.items():
        assert set(lab.access_log(member)[start:]) == {"198.18.0.10"}
    direct = lb.call("GET", "/v1/vips/direct")[1]["cookie"]
    assert "table=40" not in lab.ofctl("dump-flows", "cookie=" + direct), \
        "no reply path for the VIP in the switch: replies bypass the balancer's tables"
    assert "ct(" not in lab.ofctl("dump-flows", "cookie=" + direct), "no conntrack either"


def pins(lab, address=VIP):
    """The learned pins of a VIP's connections (dsr_conn)."""
    dump = lab.ofctl("dump-flows", "table=%d" % pipeline.DSR_CONN.id).splitlines()
    return [line for line in dump if "nw_dst=%s," % address in line]


def test_the_steady_state_learns_no_flow_per_connection(lab, lb):
    connect(lab, VIP, 8080, 20)
    assert pins(lab) == [], "the hash alone keeps connections on their members"


def test_the_switch_holds_the_computed_dsr_pipeline(lab, lb):
    actual = [line for line in switch_text(lab) if ", table=%d, " % pipeline.DSR_CONN.id not in line]   # learned
    assert shares(actual) == shares(lb.expected_switch_text().splitlines())


def test_udp_through_dsr(lab, lb):
    for member in ("m1", "m2"):
        lab.spawn(member, "udp-echo-" + member, [sys.executable, "-c", UDP_ECHO, member, VIP])
    vip = dict(DIRECT, name="direct-udp", port=5353, protocol="udp",
               members=[{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353}])
    try:
        assert lb.call("POST", "/v1/vips", vip)[0] == 201
        lb.wait_resolved("direct-udp")
        out = lab.run("client", [sys.executable, "-c", UDP_ASK, VIP, "30", "5353"]).stdout
        assert out.split() == ["m1", "m2"], "members answer from the VIP (on their lo), spread over both"
    finally:
        lb.call("DELETE", "/v1/vips/direct-udp")
        for member in ("m1", "m2"):
            lab.stop_process("udp-echo-" + member)


def test_new_connections_in_moved_slots_are_pinned_and_deleting_the_vip_deletes_its_pins(lab, lb):
    vip = dict(DIRECT, name="short-lived", address="198.18.0.121", members=DIRECT["members"][:1])
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, vip["address"])
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    lb.wait_resolved("short-lived")
    assert lb.call("PUT", "/v1/vips/short-lived", dict(vip, members=DIRECT["members"]))[0] == 200
    lb.wait_resolved("short-lived")
    served = served_by(connect(lab, vip["address"], 8080, 20))
    assert set(served) == {"m1", "m2"}, "new connections reach the new member at once"
    assert 0 < len(pins(lab, vip["address"])) <= served["m2"], "only the moved slots' new connections are pinned"
    assert lb.call("DELETE", "/v1/vips/short-lived")[0] == 204
    wait_for(lambda: pins(lab, vip["address"]) == [], "the VIP's pins gone")
