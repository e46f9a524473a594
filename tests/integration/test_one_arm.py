"""Mode one-arm on real Open vSwitch: destination NAT to the member plus source NAT from a pool,
so members see a pool address (and reply to it, through the switch, with no route to clients)."""
import sys

import pytest

from lab.lbctl import UDP_ASK, UDP_ECHO, connect, served_by, shares, switch_text

POOL = ["198.18.0.200", "198.18.0.201"]
ARM = {"name": "arm", "address": "198.18.0.110", "port": 80, "mode": "one-arm",
       "members": [{"address": "198.18.0.11", "port": 8080}, {"address": "198.18.0.12", "port": 8080}],
       "snat_pool": {"addresses": POOL, "ports": [20000, 40000]}}


@pytest.fixture(scope="module", autouse=True)
def arm(lb):
    assert lb.call("POST", "/v1/vips", ARM)[0] == 201
    lb.wait_resolved("arm")


def test_members_see_only_pool_addresses_all_of_them_and_replies_reach_the_client(lab, lb):
    before = {m: len(lab.access_log(m)) for m in ("m1", "m2")}
    members = served_by(connect(lab, ARM["address"], 80, 60))
    assert sum(members.values()) == 60 and set(members) == {"m1", "m2"}
    seen = set()
    for member, start in before.items():
        seen.update(lab.access_log(member)[start:])
    assert seen == set(POOL), "members see pool addresses only, and every pool address is used"


def test_the_switch_holds_the_computed_one_arm_pipeline(lab, lb):
    assert shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines())


def test_the_balancer_answers_arp_for_its_pool(lab, lb):
    lab.run("m1", ["arping", "-c", "1", "-w", "2", "-I", "eth0", POOL[0]])
    out = lab.run("m1", ["ip", "neigh", "show", POOL[0]]).stdout
    assert "02:6c:00:00:00:01" in out


def test_udp_through_one_arm(lab, lb):
    for member in ("m1", "m2"):
        lab.spawn(member, "udp-echo-" + member, [sys.executable, "-c", UDP_ECHO, member])
    vip = dict(ARM, name="arm-dns", port=53, protocol="udp",
               members=[{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353}])
    try:
        assert lb.call("POST", "/v1/vips", vip)[0] == 201
        lb.wait_resolved("arm-dns")
        out = lab.run("client", [sys.executable, "-c", UDP_ASK, vip["address"], "30"]).stdout
        assert out.split() == ["m1", "m2"], "answers from the VIP address, spread over both"
    finally:
        lb.call("DELETE", "/v1/vips/arm-dns")
        for member in ("m1", "m2"):
            lab.stop_process("udp-echo-" + member)
