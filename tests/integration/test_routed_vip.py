"""A routed-mode VIP end to end: the real `ryu-manager lbctl_app`, real Open vSwitch (userspace
datapath), a client and three nginx members in network namespaces, real TCP and UDP."""
import subprocess
import sys
import time

import pytest

from lab.lbctl import UDP_ASK, UDP_ECHO, connect, served_by, shares, switch_text, wait_for

WEB = "198.18.0.100"
EXTRA = {"name": "extra", "address": "198.18.0.101", "port": 8080, "protocol": "tcp",
         "members": [{"address": "198.18.0.11", "port": 8080}, {"address": "198.18.0.12", "port": 8080}]}




def test_200_connections_all_succeed_reach_every_member_and_show_the_client_address(lab, lb):
    logs_before = {m: len(lab.access_log(m)) for m in ("m1", "m2", "m3")}
    packet_ins_before = lb.call("GET", "/v1/stats")[1]

    members = served_by(connect(lab, WEB, 80, 200))

    assert sum(members.values()) == 200
    assert set(members) == {"m1", "m2", "m3"}
    for member, before in logs_before.items():
        seen = lab.access_log(member)[before:]
        assert len(seen) == members[member]
        assert set(seen) == {"198.18.0.10"}, "members see the real client address"
    stats = lb.call("GET", "/v1/stats")[1]
    assert stats["packet_in"] - stats["packet_in_arp"] == 0, "no packet of a connection reaches the controller"
    assert stats["packet_in"] - packet_ins_before["packet_in"] <= 6, "only the odd ARP"


def test_the_switch_holds_exactly_the_computed_pipeline(lab, lb):
    expected = shares(lb.expected_switch_text().splitlines())
    actual = shares(switch_text(lab))
    assert (set(actual) - set(expected), set(expected) - set(actual)) == (set(), set())
    assert actual == expected


def test_a_vip_added_over_rest_serves_and_its_deletion_leaves_nothing(lab, lb):
    status, vip = lb.call("POST", "/v1/vips", EXTRA)
    assert status == 201
    lb.wait_resolved("extra")
    wait_for(lambda: set(served_by(connect(lab, EXTRA["address"], 8080, 20))) == {"m1", "m2"},
             "traffic through the new VIP", timeout=10)
    cookie = "cookie=%s" % vip["cookie"]
    assert len(lab.ofctl("dump-flows", cookie).splitlines()) > 1

    assert lb.call("DELETE", "/v1/vips/extra") == (204, None)

    wait_for(lambda: len(lab.ofctl("dump-flows", cookie).splitlines()) == 1, "flows of the VIP gone")
    assert "group_id=%d," % vip["group_id"] not in lab.ofctl("dump-groups")
    assert EXTRA["address"] not in "\n".join(switch_text(lab))
    assert set(served_by(connect(lab, WEB, 80, 30))) == {"m1", "m2", "m3"}, "the other VIP is untouched"


def test_replacing_members_moves_new_connections(lab, lb):
    assert lb.call("POST", "/v1/vips", EXTRA)[0] == 201
    lb.wait_resolved("extra")
    status, _ = lb.call("PUT", "/v1/vips/extra", dict(EXTRA, members=[{"address": "198.18.0.13", "port": 8080}]))
    assert status == 200
    lb.wait_resolved("extra")
    wait_for(lambda: served_by(connect(lab, EXTRA["address"], 8080, 1)) == {"m3": 1}, "the new member")
    assert served_by(connect(lab, EXTRA["address"], 8080, 30)) == {"m3": 30}
    assert "198.18.0.11:8080" not in "\n".join(switch_text(lab)), "old member's flows are gone"
    assert lb.call("DELETE", "/v1/vips/extra")[0] == 204


@pytest.mark.parametrize("method, path, body, raw, status", [
    ("POST", "/v1/vips", dict(EXTRA, address="198.18.0"), None, 400),
    ("POST", "/v1/vips", dict(EXTRA, port=70000), None, 400),
    ("POST", "/v1/vips", dict(EXTRA, members=[EXTRA["members"][0]] * 2), None, 400),
    ("POST", "/v1/vips", None, b'{"name": "extra", "address": ', 400),
    ("POST", "/v1/vips", dict(EXTRA, name="web2", address=WEB, port=80), None, 409),
    ("PUT", "/v1/vips/nope", dict(EXTRA, name="nope"), None, 404),
    ("DELETE", "/v1/vips/nope", None, None, 404),
])
def test_invalid_input_gets_its_4xx_and_changes_nothing(lab, lb, method, path, body, raw, status):
    flows_before = switch_text(lab)
    state_before = lb.state_file.read_bytes()
    got, doc = lb.call(method, path, body, raw)
    assert got == status and doc["error"]
    time.sleep(0.2)
    assert switch_text(lab) == flows_before
    assert lb.state_file.read_bytes() == state_before




def test_udp_vip_answers_from_the_vip_address(lab, lb):
    for member in ("m1", "m2"):
        lab.spawn(member, "udp-echo-" + member, [sys.executable, "-c", UDP_ECHO, member])
    vip = {"name": "dns", "address": "198.18.0.102", "port": 53, "protocol": "udp",
           "members": [{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353}]}
    try:
        assert lb.call("POST", "/v1/vips", vip)[0] == 201
        lb.wait_resolved("dns")
        out = lab.run("client", [sys.executable, "-c", UDP_ASK, vip["address"], "30"]).stdout
        # Every answer came back from the VIP address, and 30 flows from new source ports were
        # spread over both members (multipath hashes UDP ports; all on one: 2 in 2^30).
        assert out.split() == ["m1", "m2"]
        assert shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines())
    finally:
        lb.call("DELETE", "/v1/vips/dns")
        for member in ("m1", "m2"):
            lab.stop_process("udp-echo-" + member)


# Runs in the client: new HTTP connections, one every 20 ms, until stdin closes (at most 60 s);
# prints how many succeeded and how many failed.
STEADY = """
import http.client, select, sys, time
ok = failed = 0
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0.02)[0]:
    conn = http.client.HTTPConnection(sys.argv[1], 80, timeout=2)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        ok += conn.getresponse().status == 200
    except OSError:
        failed += 1
    finally:
        conn.close()
print(ok, failed)
"""


def test_a_controller_killed_and_restarted_cuts_nothing_and_changes_no_flow(lab, lb):
    others = [dict(EXTRA, name="kept", address="198.18.0.103"),
              dict(EXTRA, name="kept-udp", address="198.18.0.103", port=5353, protocol="udp"),
              dict(EXTRA, name="kept-arm", address="198.18.0.105", mode="one-arm",
                   snat_pool={"addresses": ["198.18.0.205"]}),
              dict(EXTRA, name="kept-dsr", address="198.18.0.106", mode="dsr")]
    for vip in others:
        assert lb.call("POST", "/v1/vips", vip)[0] == 201
        lb.wait_resolved(vip["name"])
    not_learned = lambda lines: [line for line in lines if ", table=15, " not in line]
    before = shares(not_learned(switch_text(lab)))
    steady = subprocess.Popen(["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", STEADY, WEB],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        lb.stop(kill=True)   # kill -9: no chance to clean anything up
        time.sleep(0.5)   # connections go on while no controller runs at all
        lb.start()
        wait_for(lambda: "adopted" in lb.log()[-1], "the switch adopted")
        time.sleep(0.5)
    finally:
        ok, failed = map(int, steady.communicate("", timeout=30)[0].split())
    assert ok > 20 and failed == 0, "no connection failed across the restart"
    assert lb.log()[-1].endswith("0 deletions, 3 host places kept"), lb.log()[-1]
    assert lb.call("GET", "/v1/vips/kept")[0] == 200
    assert shares(not_learned(switch_text(lab))) == before, "the same flows, groups and meters as before"
    for vip in others:
        assert lb.call("DELETE", "/v1/vips/" + vip["name"])[0] == 204


def test_the_vip_answers_ping(lab, lb):
    out = lab.run("client", ["ping", "-c", "2", "-i", "0.2", "-W", "2", WEB]).stdout
    assert "2 received" in out


REFUSED = """
import socket, sys
address, port, protocol = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
with socket.socket(socket.AF_INET, kind) as s:
    s.settimeout(5)
    try:
        s.connect((address, port))
        if protocol == "udp":
            s.send(b"anyone?")
            s.recv(100)
        print("answered")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
"""


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_a_vip_with_no_live_member_refuses_at_once(lab, lb, protocol):
    nobody = {"name": "nobody-" + protocol, "address": "198.18.0.104", "port": 7000, "protocol": protocol,
              "members": [{"address": "198.18.0.99", "port": 7000}]}   # no such host: never resolved
    assert lb.call("POST", "/v1/vips", nobody)[0] == 201
    try:
        before = lb.call("GET", "/v1/stats")[1]["rejected"]
        out = lab.run("client", [sys.executable, "-c", REFUSED, nobody["address"], "7000", protocol]).stdout
        assert out.strip() == "refused", "a reset / port unreachable, not a timeout"
        assert lb.call("GET", "/v1/stats")[1]["rejected"] == before + 1
    finally:
        lb.call("DELETE", "/v1/vips/" + nobody["name"])


def test_vips_changed_while_the_switch_is_away_are_there_when_it_comes_back(lab, lb):
    target = lab.vsctl("get", "controller", lab.bridge, "target").strip()
    lab.vsctl("set", "controller", lab.bridge, "target=\"unix:%s\"" % (lab.workdir / "nowhere.sock"))
    try:
        wait_for(lambda: lb.call("GET", "/v1/stats")[1]["switches"] == 0, "the switch gone")
        away = dict(EXTRA, name="while-away", address="198.18.0.107")
        assert lb.call("POST", "/v1/vips", away)[0] == 201
        assert lb.call("DELETE", "/v1/vips/web")[0] == 204
    finally:
        lab.vsctl("set", "controller", lab.bridge, "target=%s" % target)
    try:
        wait_for(lambda: lb.call("GET", "/v1/stats")[1]["switches"] == 1, "the switch back")
        wait_for(lambda: "adopted" in lb.log()[-1], "the switch adopted")
        lb.wait_resolved("while-away")
        assert set(served_by(connect(lab, away["address"], 8080, 20))) == {"m1", "m2"}
        assert "nw_dst=198.18.0.100" not in "\n".join(switch_text(lab)), "the deleted VIP's flows are gone"
        wait_for(lambda: shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines()),
                 "the computed pipeline on the switch", timeout=5)
    finally:
        lb.call("DELETE", "/v1/vips/while-away")
        web = {"name": "web", "address": WEB, "port": 80,
               "members": [{"address": "198.18.0.1%d" % i, "port": 80} for i in (1, 2, 3)]}
        assert lb.call("POST", "/v1/vips", web)[0] == 201


def test_after_an_ovs_vswitchd_restart_the_pipeline_comes_back(lab, lb):
    lb.wait_resolved("web")
    adoptions = sum("adopted" in line for line in lb.log())
    lab.restart_switch()   # every flow, group, meter and conntrack entry is gone
    wait_for(lambda: sum("adopted" in line for line in lb.log()) == adoptions + 1, "the switch adopted again")
    assert lb.log()[-1].startswith("switch") and " 0 flows found" in lb.log()[-1]
    assert set(served_by(connect(lab, WEB, 80, 30))) == {"m1", "m2", "m3"}
    wait_for(lambda: shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines()),
             "the computed pipeline on the switch", timeout=5)


# Runs in the client: an HTTP request to VIP:80 from a fixed source port; prints the status line,
# or the error.
FROM_PORT = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], 80))
    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    print(s.makefile().readline().strip())
except OSError as e:
    print("error", type(e).__name__)
"""


def test_a_retried_syn_of_a_connection_committed_to_a_silent_member_reaches_it_once_it_is_back(lab, lb):
    """A SYN to a member whose link is down leaves a conntrack entry (SYN_SENT) that NATs the next
    SYN from that client port to the same member: once the member is back, it must get there."""
    vip = dict(EXTRA, name="lonely", address="198.18.0.107", port=80, members=[{"address": "198.18.0.11"}])
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    try:
        lb.wait_resolved("lonely")
        ask = lambda timeout: lab.run("client", [sys.executable, "-c", FROM_PORT, vip["address"], "40404",
                                                 str(timeout)]).stdout.strip()
        lab.run("m1", ["ip", "link", "set", "eth0", "down"])
        try:
            assert ask(1) == "error TimeoutError"
        finally:
            lab.run("m1", ["ip", "link", "set", "eth0", "up"])
        assert ask(5) == "HTTP/1.1 200 OK"
    finally:
        lb.call("DELETE", "/v1/vips/lonely")
