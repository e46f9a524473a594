"""A cluster of two balancer switches on real Open vSwitch (each its own ovs-vswitchd, lab/
cluster.py: a Linux-bridge fabric, client and members on it, each balancer on a stick), one
`ryu-manager lbctl_app`: each group is active on one switch and only there answers ARP; killing
the active switch's ovs-vswitchd, or cutting its uplink, moves its groups to the other, the
fabric follows the gratuitous ARPs and traffic resumes; dsr connections survive; the failed
switch comes back as a standby (no preemption); a controller restart moves nothing."""
import json
import secrets
import subprocess
import sys
import time

import pytest

from lab import dsr, free_tcp_port, packets, topology, unavailable_reason
from lab.cluster import Cluster
from lab.lbctl import NAME_SERVER, ONE_CONNECTION, Controller, wait_for

ARM = {"name": "arm", "address": "198.18.0.100", "port": 80, "mode": "one-arm",
       "snat_pool": {"addresses": ["198.18.0.200"]},
       "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12"}]}
DIRECT = {"name": "direct", "address": "198.18.0.120", "port": 9000, "mode": "dsr", "redundancy_group": 2,
          "members": [{"address": "198.18.0.12"}, {"address": "198.18.0.13"}]}
# Routed: its members on another subnet, behind the balancer's gateway there (group 1, as the VIP).
FAR = {"name": "far", "address": "198.18.0.150", "port": 9000,
       "members": [{"address": "198.18.1.21"}, {"address": "198.18.1.22"}]}
A, B = "0000000000000001", "0000000000000002"
OPTIONS = {"balancers": "a=%s, b=%s" % (A, B), "group_order": "2=b a", "uplinks": "a=50, b=50",
           "garp_interval": 0.2, "monitor_address": "198.18.0.2", "gateways": "198.18.1.1/24"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    lab = Cluster(tmp_path_factory.mktemp("cluster"), "lc" + secrets.token_hex(2), free_tcp_port())
    try:
        lab.start()
        topology.build_fabric(lab)
        for member in ("m2", "m3"):
            dsr.configure_member(lab, member, DIRECT["address"])
            lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
        for member, address in (("r1", "198.18.1.21"), ("r2", "198.18.1.22")):
            lab.add_host(member, address, 24, gateway="198.18.1.1")
            lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
        empty = tmp_path_factory.mktemp("vips") / "vips.yaml"
        empty.write_text("vips: []\n")
        lb = Controller(lab, free_tcp_port(), empty, options=OPTIONS).start(switches=2)
        assert lb.call("POST", "/v1/vips", ARM)[0] == 201
        assert lb.call("POST", "/v1/vips", DIRECT)[0] == 201
        assert lb.call("POST", "/v1/vips", FAR)[0] == 201
        wait_active(lb, {1: A, 2: B})
        wait_for(lambda: all(m["locations"] for v in ("arm", "direct", "far")
                             for m in lb.call("GET", "/v1/vips/" + v)[1]["members"]), "members located")
        yield lab, lb
        lb.stop()
        assert lb.refusals() == []
    finally:
        lab.stop()


def active(lb):
    return {g["group"]: g["active"] and g["active"]["dpid"] for g in lb.call("GET", "/v1/cluster")[1]["groups"]}


def wait_active(lb, wanted):
    wait_for(lambda: active(lb) == wanted, "groups active on %s" % wanted)


def served(lab, count=10):
    """Who answers `count` new HTTP connections from the client to the one-arm VIP."""
    out = lab.run("client", ["curl", "-s", "--max-time", "2"] + ["http://%s/" % ARM["address"]] * count,
                  check=False).stdout
    return out.split()


def neighbours(lab, address):
    """The ARP replies the client's one request for `address` got on the wire (a MAC each): two
    switches answering would show two."""
    lab.run("client", ["ip", "neigh", "flush", "all"])
    with packets.Capture(lab, "client", "arp and src host %s" % address) as seen:
        lab.run("client", ["arping", "-c", "1", "-w", "1", "-I", "eth0", address], check=False)
        time.sleep(0.3)
    return [line.split()[1].upper() for line in seen.lines if "is-at" in line]


def test_each_group_answers_arp_from_one_switch_alone(cluster):
    lab, lb = cluster
    assert neighbours(lab, ARM["address"]) == ["02:6C:00:00:00:01"]
    assert neighbours(lab, DIRECT["address"]) == ["02:6C:00:00:00:02"]
    fdb = lab.fabric_fdb()
    assert fdb["02:6c:00:00:00:01"] == lab.fabric_port_of("a") and fdb["02:6c:00:00:00:02"] == lab.fabric_port_of("b"), \
        "active/active: each group's MAC at its own switch"
    assert set(served(lab)) == {"m1", "m2"}


def hold(lab, vip):
    """A TCP connection from the client to `vip`, asked once who answers: (the process, who)."""
    held = subprocess.Popen(["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", ONE_CONNECTION,
                             vip["address"], str(vip["port"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return held, held.stdout.readline().strip()


def ask_again(held):
    """Who answers the held connection now ('' if nobody)."""
    held.stdin.write("\n")
    held.stdin.flush()
    return held.stdout.readline().strip()


def test_killing_the_active_switch_moves_its_group_and_dsr_connections_survive(cluster):
    lab, lb = cluster
    held, first = hold(lab, DIRECT)
    try:
        assert first in {"m2", "m3"}
        killed = lab.kill_switch("b")
        wait_active(lb, {1: A, 2: A})
        wait_for(lambda: lab.fabric_fdb().get("02:6c:00:00:00:02") == lab.fabric_port_of("a"), "the fabric follows")
        moved = time.monotonic() - killed
        assert ask_again(held) == first, "the dsr connection goes on, to its member, through a"
    finally:
        held.kill()
    assert moved < 5, "the group moved %.2f s after the kill" % moved
    assert lb.call("GET", "/v1/cluster")[1]["takeovers"] == 1
    assert neighbours(lab, DIRECT["address"]) == ["02:6C:00:00:00:02"], "one switch answers: the new active one"


def test_a_failed_switch_comes_back_as_a_standby(cluster):
    lab, lb = cluster
    lab.restart_switch("b")
    wait_for(lambda: [s["healthy"] for s in lb.call("GET", "/v1/cluster")[1]["balancers"]] == [True, True],
             "b healthy again")
    time.sleep(0.5)
    assert active(lb) == {1: A, 2: A}, "no preemption: the groups stay on a"
    assert neighbours(lab, DIRECT["address"]) == ["02:6C:00:00:00:02"]
    assert lab.fabric_fdb()["02:6c:00:00:00:02"] == lab.fabric_port_of("a")


def test_a_routed_connection_is_picked_up_by_the_switch_that_takes_its_group_over(cluster):
    lab, lb = cluster
    held, first = hold(lab, FAR)
    try:
        assert first in {"r1", "r2"}
        lab.kill_switch("a")
        wait_active(lb, {1: B, 2: B})
        assert ask_again(held) == first, "b picks the connection up mid-stream, to the same member"
    finally:
        held.kill()
    lab.restart_switch("a")
    wait_for(lambda: all(s["healthy"] for s in lb.call("GET", "/v1/cluster")[1]["balancers"]), "a back")


def test_cutting_the_active_switchs_uplink_moves_its_groups(cluster):
    lab, lb = cluster
    lab.cut_uplink("b")
    try:
        wait_active(lb, {1: A, 2: A})
        wait_for(lambda: set(served(lab, 4)) == {"m1", "m2"}, "the one-arm VIP served through a")
    finally:
        lab.restore_uplink("b")
    assert lb.call("GET", "/v1/cluster")[1]["takeovers"] == 5


def test_a_controller_restart_moves_no_group(cluster):
    lab, lb = cluster
    before = active(lb)
    lb.stop()
    lb.start(switches=2)
    time.sleep(4)   # past the settling of a fresh cluster: nothing waits for it here
    assert active(lb) == before
    assert neighbours(lab, ARM["address"]) == ["02:6C:00:00:00:01"]
    held, first = hold(lab, FAR)
    held.kill()
    assert first in {"r1", "r2"}
    assert json.loads(json.dumps(lb.call("GET", "/v1/cluster")[1]))["takeovers"] == 0, "a new controller counts afresh"
