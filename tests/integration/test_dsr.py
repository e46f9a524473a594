"""Mode dsr on real Open vSwitch: the switch rewrites only the destination MAC; members hold the
VIP on their loopback and reply straight to the client. Connections are pinned by learned flows,
so draining a member keeps its open connections."""
import subprocess
import sys

import pytest

from lab import dsr, free_tcp_port
from lab.lbctl import Controller, connect, shares, switch_text, wait_for
from tests.integration.test_routed_vip import REPO_VIPS, served_by

VIP = "198.18.0.120"
DIRECT = {"name": "direct", "address": VIP, "port": 8080, "mode": "dsr",
          "members": [{"address": "198.18.0.11", "port": 8080}, {"address": "198.18.0.12", "port": 8080}]}

# Runs in a member: a TCP service that answers every line with the member's name, for as long
# as the connection stays open (nginx here closes after each response).
NAME_SERVER = """
import socketserver, sys
class Answer(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(sys.argv[1].encode() + b"\\n")
socketserver.ThreadingTCPServer(("0.0.0.0", 9000), Answer).serve_forever()
"""
# Runs in the client: one TCP connection; asks, waits for a line on stdin, asks again.
ONE_CONNECTION = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    answers = s.makefile()
    for _ in range(2):
        s.sendall(b"who\\n")
        print(answers.readline().strip(), flush=True)
        sys.stdin.readline()
"""
LONG = dict(DIRECT, name="long", port=9000,
            members=[{"address": "198.18.0.11", "port": 9000}, {"address": "198.18.0.12", "port": 9000}])


@pytest.fixture(scope="module")
def lb(lab):
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, VIP)
    controller = Controller(lab, free_tcp_port(), REPO_VIPS).start()
    assert controller.call("POST", "/v1/vips", DIRECT)[0] == 201
    controller.wait_resolved("direct")
    yield controller
    controller.stop()
    assert controller.refusals() == [], "the switch refused none of the controller's messages"


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


def test_each_connection_is_pinned_by_a_learned_flow(lab, lb):
    connect(lab, VIP, 8080, 5)
    learned = [line for line in lab.ofctl("dump-flows", "table=15").splitlines() if "priority=300" in line]
    assert learned and all("nw_dst=198.18.0.120,tp_src=" in line and "load:0xc612000" in line for line in learned)


def test_the_switch_holds_the_computed_dsr_pipeline(lab, lb):
    actual = [line for line in switch_text(lab) if ", table=15, " not in line]   # all learned
    assert shares(actual) == shares(lb.expected_switch_text().splitlines())


def test_draining_keeps_an_open_connection_and_sends_new_ones_elsewhere(lab, lb):
    for member in ("m1", "m2"):
        lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
        wait_for(lambda: ":9000" in lab.run(member, ["ss", "-ltnH"]).stdout, "the name server in " + member)
    assert lb.call("POST", "/v1/vips", LONG)[0] == 201
    lb.wait_resolved("long")
    client = subprocess.Popen(
        ["ip", "netns", "exec", lab.host("client").netns, sys.executable, "-c", ONE_CONNECTION, VIP, "9000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = client.stdout.readline().strip()
        assert first in ("m1", "m2")
        other = "m2" if first == "m1" else "m1"
        drained = [dict(m, weight=0) if m["address"] == lab.host(first).ip else m for m in LONG["members"]]
        assert lb.call("PUT", "/v1/vips/long", dict(LONG, members=drained))[0] == 200
        fresh = lab.run("client", [sys.executable, "-c", ONE_CONNECTION.replace("range(2)", "range(1)"), VIP, "9000"],
                        timeout=20)
        assert fresh.stdout.strip() == other, "a new connection avoids the drained member"
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == first, "the open connection still reaches its member"
    finally:
        client.kill()
        lb.call("DELETE", "/v1/vips/long")
        for member in ("m1", "m2"):
            lab.stop_process("names-" + member)
