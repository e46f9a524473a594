"""Host tracking on real Open vSwitch with real ARP: a member that moves and announces itself with
a gratuitous ARP is followed; a host that claims a VIP changes nothing and is answered with our
own GARP. (Duplicate detection is tested on a controlled clock in tests/unit/test_hosts.py.)"""
from lab import arp, topology
from lab.lbctl import connect, served_by, switch_text, wait_for

WEB = "198.18.0.100"

M3 = "198.18.0.13"
M3_HOST_COOKIE = "0xffffffff00000003"   # flows about host 198.18.0.13, host id 3 (flows.pipeline.host_cookie)
VIP_MAC = "02:6c:00:00:00:01"




def stat(lb, name):
    return lb.call("GET", "/v1/stats")[1][name]


def neighbour_mac(lab, host, ip):
    out = lab.run(host, ["ip", "neigh", "show", ip]).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else None


def test_hosts_api_shows_where_each_member_is(lab, lb):
    status, hosts = lb.call("GET", "/v1/hosts/" + M3)
    assert status == 200
    assert [(h["mac"], h["port"], h["state"]) for h in hosts] == [(lab.host("m3").mac, 4, "learned")]


def test_a_claim_on_the_vip_changes_nothing_and_is_answered(lab, lb):
    assert served_by(connect(lab, WEB, 80, 3))
    assert neighbour_mac(lab, "client", WEB) == VIP_MAC
    before = switch_text(lab)
    conflicts, garps = stat(lb, "ownership_conflicts"), stat(lb, "garps_sent")

    arp.garp(lab, "m1", WEB, op=arp.REQUEST)   # m1 claims the VIP, both ways
    arp.garp(lab, "m1", WEB, op=arp.REPLY)

    wait_for(lambda: stat(lb, "ownership_conflicts") == conflicts + 2, "both claims counted")
    wait_for(lambda: stat(lb, "garps_sent") > garps, "our own GARP for the VIP")
    assert switch_text(lab) == before, "no flow, group or meter changed"
    assert neighbour_mac(lab, "client", WEB) == VIP_MAC, "the claim never reached the client"
    assert set(served_by(connect(lab, WEB, 80, 30))) == {"m1", "m2", "m3"}
    assert [h["ip"] for h in lb.call("GET", "/v1/hosts")[1] if h["ip"] == WEB] == [], "not learned"


def test_a_member_that_moves_and_sends_a_garp_is_followed(lab, lb):
    moved = lab.add_host("m3moved", M3, topology.PREFIXLEN, ofport=5)   # same address, new MAC and port
    lab.start_http(moved)
    others_before = [line for line in switch_text(lab) if M3_HOST_COOKIE not in line]
    moves = stat(lb, "host_moves")

    lab.run(moved, ["arping", "-U", "-c", "1", "-I", "eth0", M3])   # the real tool sends the GARP

    wait_for(lambda: [h["port"] for h in lb.call("GET", "/v1/hosts/" + M3)[1]] == [5], "m3 at port 5")
    wait_for(lambda: "output:5" in lab.ofctl("dump-flows", "cookie=%s/-1" % M3_HOST_COOKIE), "m3 located at port 5")
    members = served_by(connect(lab, WEB, 80, 60))
    assert "m3" not in members, "no new connection goes to the old place"
    assert members.get("m3moved", 0) > 0 and {"m1", "m2"} <= set(members)
    assert stat(lb, "host_moves") == moves + 1
    others_after = [line for line in switch_text(lab) if M3_HOST_COOKIE not in line]
    assert others_after == others_before, "only m3's locate flow changed"
    latency = lb.call("GET", "/v1/stats")[1]["move_to_barrier_ms"]
    assert latency["count"] >= 1   # the figures themselves are for bench/, not for a test
    lab.run("m3", ["ip", "link", "set", "eth0", "down"])   # the old copy is gone for good


def test_forgetting_a_host_relearns_it(lab, lb):
    assert lb.call("DELETE", "/v1/hosts/" + M3)[0] == 204
    lb.wait_resolved("web")   # the controller probes it again
    status, hosts = lb.call("GET", "/v1/hosts/" + M3)
    assert status == 200 and [(h["port"], h["moves"]) for h in hosts] == [(5, 0)]
