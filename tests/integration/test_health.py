"""Health monitors on real members: a member whose server stops, or whose link goes down, leaves
its VIP's group and comes back when it recovers; traffic shifts and returns, and an open
connection to another member is untouched. Probes leave through the switch from the monitor
address and their replies come back as packet-ins, for members on any port."""
import subprocess
import sys
import time

import pytest

from lab import dsr, free_tcp_port
from lab.lbctl import (NAME_SERVER, NEW_CONNECTIONS, ONE_CONNECTION, REPO_VIPS, UDP_ECHO, Controller, shares,
                       switch_text, wait_for)

MONITOR_ADDRESS = "198.18.0.2"
MONITOR = {"type": "tcp", "interval": 0.5, "timeout": 0.2, "rise": 2, "fall": 3}
MEMBERS = [{"address": "198.18.0.%d" % n, "port": 9000} for n in (11, 12, 13)]
VIP = {"name": "checked", "address": "198.18.0.140", "port": 9000, "members": MEMBERS, "health_monitor": MONITOR}


@pytest.fixture(scope="module")
def lb(lab):
    controller = Controller(lab, free_tcp_port(), REPO_VIPS, options={"monitor_address": MONITOR_ADDRESS}).start()
    controller.wait_resolved("web")
    for member in ("m1", "m2", "m3"):
        serve(lab, member)
    yield controller
    controller.stop()
    assert controller.refusals() == []


def serve(lab, member):
    lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
    wait_for(lambda: ":9000" in lab.run(member, ["ss", "-ltnH"]).stdout, "the name server in " + member)


def statuses(lb, name):
    doc = lb.call("GET", "/v1/vips/" + name)[1]
    return {m["address"]: m["operating_status"] for m in doc["members"]}


def member_of(lb, name, address):
    return next(m for m in lb.call("GET", "/v1/vips/" + name)[1]["members"] if m["address"] == address)


def ask_new(lab, count):
    return lab.run("client", [sys.executable, "-c", NEW_CONNECTIONS, VIP["address"], "9000", str(count)]).stdout.split()


def wait_status(lb, name, address, status, timeout=10):
    wait_for(lambda: statuses(lb, name)[address] == status, "%s %s" % (address, status), timeout=timeout)


@pytest.fixture
def checked(lab, lb):
    assert lb.call("POST", "/v1/vips", VIP)[0] == 201
    wait_for(lambda: set(statuses(lb, "checked").values()) == {"up"}, "every member up", timeout=10)
    yield VIP
    lb.call("DELETE", "/v1/vips/checked")


def test_members_come_up_by_their_first_probe_and_share_the_traffic(lab, lb, checked):
    doc = lb.call("GET", "/v1/vips/checked")[1]
    assert doc["members_up"] == 3
    assert all(m["status_reason"] == "1 tcp probe succeeded (SYN-ACK)" for m in doc["members"])
    assert set(ask_new(lab, 30)) == {"m1", "m2", "m3"}
    log = lb.log()
    assert any(line.startswith("member 198.18.0.12:9000 of vip checked is up: 1 tcp probe succeeded") for line in log)
    stats = lb.call("GET", "/v1/stats")[1]
    assert stats["monitor_probes"] >= 3 and stats["monitor_successes"] >= 3


def test_a_stopped_server_leaves_the_group_and_returns_while_other_connections_go_on(lab, lb, checked):
    held = subprocess.Popen(
        ["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", ONE_CONNECTION, VIP["address"], "9000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = held.stdout.readline().strip()
        victim = next(m for m in ("m1", "m2", "m3") if m != first)
        lab.stop_process("names-" + victim)
        wait_status(lb, "checked", lab.host(victim).ip, "down")
        assert member_of(lb, "checked", lab.host(victim).ip)["status_reason"] == "3 tcp probes failed (connection refused)"
        assert victim not in ask_new(lab, 30)
        held.stdin.write("\n")
        held.stdin.flush()
        assert held.stdout.readline().strip() == first, "the open connection to another member goes on"

        serve(lab, victim)
        wait_status(lb, "checked", lab.host(victim).ip, "up")
        assert member_of(lb, "checked", lab.host(victim).ip)["status_reason"] == "2 tcp probes succeeded (SYN-ACK)"
        assert victim in ask_new(lab, 30)
    finally:
        held.kill()
        serve_again = [m for m in ("m1", "m2", "m3") if ":9000" not in lab.run(m, ["ss", "-ltnH"]).stdout]
        for member in serve_again:
            serve(lab, member)


def test_a_member_whose_link_goes_down_leaves_by_silence_and_returns(lab, lb, checked):
    address = lab.host("m3").ip
    lab.run("m3", ["ip", "link", "set", "eth0", "down"])
    try:
        wait_status(lb, "checked", address, "down")
        assert member_of(lb, "checked", address)["status_reason"] == "3 tcp probes failed (no answer)"
        assert set(ask_new(lab, 30)) == {"m1", "m2"}
    finally:
        lab.run("m3", ["ip", "link", "set", "eth0", "up"])
    wait_status(lb, "checked", address, "up")
    assert "m3" in ask_new(lab, 30)


def test_all_members_down_refuses_new_connections_at_once(lab, lb, checked):
    for member in ("m1", "m2", "m3"):
        lab.stop_process("names-" + member)
    try:
        wait_for(lambda: set(statuses(lb, "checked").values()) == {"down"}, "every member down")
        assert lb.call("GET", "/v1/vips/checked")[1]["members_up"] == 0
        refused = lab.run("client", [sys.executable, "-c", NEW_CONNECTIONS, VIP["address"], "9000", "1"], check=False)
        assert "ConnectionRefusedError" in refused.stderr
    finally:
        for member in ("m1", "m2", "m3"):
            serve(lab, member)


@pytest.mark.parametrize("mode, extra", [("one-arm", {"snat_pool": {"addresses": ["198.18.0.215"]}}), ("dsr", {})])
def test_a_stopped_member_leaves_in_every_mode(lab, lb, mode, extra):
    vip = dict(VIP, name="checked-" + mode, address="198.18.0.144" if mode == "dsr" else "198.18.0.145",
               mode=mode, **extra)
    if mode == "dsr":
        for member in ("m1", "m2", "m3"):
            dsr.configure_member(lab, member, vip["address"])
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    try:
        wait_for(lambda: set(statuses(lb, vip["name"]).values()) == {"up"}, "every member up", timeout=10)
        lab.stop_process("names-m2")
        wait_status(lb, vip["name"], "198.18.0.12", "down")
        asked = lab.run("client", [sys.executable, "-c", NEW_CONNECTIONS, vip["address"], "9000", "30"]).stdout.split()
        assert set(asked) == {"m1", "m3"}
    finally:
        serve(lab, "m2")
        lb.call("DELETE", "/v1/vips/" + vip["name"])


def test_udp_and_ping_monitors(lab, lb):
    """udp: an ICMP port unreachable is down, silence or an answer up; ping: echo replies."""
    lab.spawn("m1", "echo-m1", [sys.executable, "-c", UDP_ECHO, "m1"])
    udp = {"name": "echo", "address": "198.18.0.141", "port": 5353, "protocol": "udp",
           "members": [{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353}],
           "health_monitor": dict(MONITOR, type="udp")}
    ping = dict(VIP, name="pinged", address="198.18.0.142", health_monitor=dict(MONITOR, type="ping"))
    try:
        assert lb.call("POST", "/v1/vips", udp)[0] == 201
        assert lb.call("POST", "/v1/vips", ping)[0] == 201
        wait_status(lb, "echo", "198.18.0.11", "up")
        wait_for(lambda: member_of(lb, "echo", "198.18.0.12")["status_reason"] == "udp probe failed (port unreachable)",
                 "m2's port 5353 refused")   # nothing listens there
        assert statuses(lb, "echo")["198.18.0.12"] == "down"
        wait_for(lambda: set(statuses(lb, "pinged").values()) == {"up"}, "pinged members up")
        assert member_of(lb, "pinged", "198.18.0.13")["status_reason"] == "1 ping probe succeeded (echo reply)"
    finally:
        lab.stop_process("echo-m1")
        lb.call("DELETE", "/v1/vips/echo")
        lb.call("DELETE", "/v1/vips/pinged")


def test_a_monitor_needs_the_monitor_address_and_no_one_else_may_use_it(lab, lb):
    status, doc = lb.call("POST", "/v1/vips", dict(VIP, name="thief", address=MONITOR_ADDRESS))
    assert (status, doc["error"]) == (409, "address: 198.18.0.2 is the monitor address of network 'default'")


# Runs in the client: a new connection to VIP:9000 every 20 ms until stdin closes (at most 60 s);
# prints how many were answered and how many failed.
STEADY = """
import select, socket, sys, time
ok = failed = 0
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0.02)[0]:
    try:
        with socket.create_connection((sys.argv[1], 9000), timeout=2) as s:
            s.sendall(b"who\\n")
            ok += bool(s.makefile().readline().strip())
    except OSError:
        failed += 1
print(ok, failed)
"""


def test_a_controller_restart_keeps_monitored_members_serving(lab, lb, checked):
    """After a restart, members the switch was sending connections to stay up until their first
    probe: adoption changes nothing and no connection fails."""
    before = shares(switch_text(lab))
    lines = len(lb.log())
    steady = subprocess.Popen(["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", STEADY,
                               VIP["address"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        lb.stop(kill=True)
        time.sleep(0.3)
        lb.start()
        wait_for(lambda: any("adopted" in line for line in lb.log()[lines:]), "the switch adopted")
        time.sleep(1)
    finally:
        ok, failed = map(int, steady.communicate("", timeout=30)[0].split())
    assert ok > 20 and failed == 0, "no connection failed across the restart"
    after = lb.log()[lines:]
    assert not [line for line in after if "of vip checked is down" in line], after
    assert [line for line in after if "of vip checked is up: serving when the switch was adopted" in line]
    assert shares(switch_text(lab)) == before
    assert all(m["status_reason"] == "1 tcp probe succeeded (SYN-ACK)"
               for m in lb.call("GET", "/v1/vips/checked")[1]["members"])
