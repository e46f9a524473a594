"""Draining and affinity in every mode, with long-lived TCP connections: weight 0 sends no new
connection to a member while its open connections keep working; source_ip keeps a client on one
member."""
import subprocess
import sys

import pytest

from lab import dsr
from lab.lbctl import NAME_SERVER, NEW_CONNECTIONS, ONE_CONNECTION, wait_for

MEMBERS = [{"address": "198.18.0.11", "port": 9000}, {"address": "198.18.0.12", "port": 9000}]
VIPS = {
    "routed": {"name": "long-routed", "address": "198.18.0.130", "port": 9000, "members": MEMBERS},
    "one-arm": {"name": "long-arm", "address": "198.18.0.131", "port": 9000, "members": MEMBERS,
                "mode": "one-arm", "snat_pool": {"addresses": ["198.18.0.210"]}},
    "dsr": {"name": "long-dsr", "address": "198.18.0.132", "port": 9000, "members": MEMBERS, "mode": "dsr"},
}


@pytest.fixture(scope="module", autouse=True)
def name_servers(lab, lb):
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, VIPS["dsr"]["address"])
        lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
        wait_for(lambda: ":9000" in lab.run(member, ["ss", "-ltnH"]).stdout, "the name server in " + member)


def ask_new(lab, address, count):
    return lab.run("client", [sys.executable, "-c", NEW_CONNECTIONS, address, "9000", str(count)]).stdout.split()


@pytest.mark.parametrize("mode", sorted(VIPS))
def test_draining_keeps_an_open_connection_and_sends_new_ones_elsewhere(lab, lb, mode):
    vip = VIPS[mode]
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    lb.wait_resolved(vip["name"])
    client = subprocess.Popen(
        ["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", ONE_CONNECTION, vip["address"], "9000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = client.stdout.readline().strip()
        assert first in ("m1", "m2")
        other = "m2" if first == "m1" else "m1"
        drained = [dict(m, weight=0) if m["address"] == lab.host(first).ip else m for m in MEMBERS]
        assert lb.call("PUT", "/v1/vips/" + vip["name"], dict(vip, members=drained))[0] == 200
        wait_for(lambda: set(ask_new(lab, vip["address"], 10)) == {other},
                 "new connections avoiding the drained member", timeout=10)
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == first, "the open connection still reaches its member"
    finally:
        client.kill()
        lb.call("DELETE", "/v1/vips/" + vip["name"])


@pytest.mark.parametrize("mode", sorted(VIPS))
def test_source_ip_keeps_a_client_on_one_member(lab, lb, mode):
    vip = dict(VIPS[mode], algorithm="source_ip")
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    try:
        lb.wait_resolved(vip["name"])
        assert len(set(ask_new(lab, vip["address"], 30))) == 1
    finally:
        lb.call("DELETE", "/v1/vips/" + vip["name"])


# Runs in the client: from source port argv[3], a connection to VIP:9000 that asks who answers,
# waits for a line on stdin, asks again (the answer or the error), closes; then a new connection
# from the same port asks once more.
SAME_PORT = """
import socket, sys
def ask(s):
    try:
        s.sendall(b"who\\n")
        return s.makefile().readline().strip() or "closed"
    except OSError as e:
        return type(e).__name__
def connect():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[3])))
    s.settimeout(3)
    s.connect((sys.argv[1], int(sys.argv[2])))
    return s
s = connect()
print(ask(s), flush=True)
sys.stdin.readline()
s.settimeout(1)
print(ask(s), flush=True)
s.close()
try:
    print(ask(connect()), flush=True)
except OSError as e:
    print(type(e).__name__, flush=True)
"""


@pytest.mark.parametrize("mode", ["routed", "one-arm"])
def test_a_client_port_of_a_cut_connection_serves_again(lab, lb, mode):
    """Removing a member cuts its connections; their conntrack entries go with it, so a client
    that reuses the port of one is served by another member (not refused for a day)."""
    vip = VIPS[mode]
    assert lb.call("POST", "/v1/vips", vip)[0] == 201
    client = None
    try:
        lb.wait_resolved(vip["name"])
        client = subprocess.Popen(
            ["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", SAME_PORT, vip["address"],
             "9000", "40405"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = client.stdout.readline().strip()
        assert first in ("m1", "m2")
        other = "m2" if first == "m1" else "m1"
        kept = [m for m in MEMBERS if m["address"] != lab.host(first).ip]
        assert lb.call("PUT", "/v1/vips/" + vip["name"], dict(vip, members=kept))[0] == 200
        wait_for(lambda: lb.call("GET", "/v1/stats")[1]["pending_barriers"] == 0, "the switch done with the change")
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() != first, "the removed member's connection is cut"
        assert client.stdout.readline().strip() == other, "the same client port is served again"
    finally:
        if client:
            client.kill()
        lb.call("DELETE", "/v1/vips/" + vip["name"])
