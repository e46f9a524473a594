"""`lbctl`, the command line, run through its main() against a real HTTP server: the real REST app
(no switch) served by wsgiref, or a small fake for what the API does not serve yet. Tables and
--json, exit codes and one-line errors, member changes as GET + PUT, VIPs from YAML, and the
labelling of a real `ovs-ofctl` dump and of real `ofproto/trace` output."""
import io
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from lbctl import rest as rest_api
from lbctl_cli import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
# Captured from a lab by tests/unit/golden/recapture.py (docs/testing.md: "How to recapture the
# CLI goldens"): tests/integration's topology (real Open vSwitch, userspace datapath, bridge lcx1br,
# the real `ryu-manager lbctl_app`) with config/vips.yaml's `web` and the two VIPs of THREE_VIPS below
# created in that order (members m1, m2 serving TCP on 9000, as lab.lbctl's NAME_SERVER, and holding
# `direct`'s VIP as lab.dsr.configure_member does), after 6, 5 and 6 connections from fixed client
# ports to web, arm and direct: `ovs-ofctl dump-flows BR` then `ovs-ofctl -O OpenFlow13 dump-groups
# BR`, and the raw ofproto/trace outputs of `lbctl --json trace --vip arm|direct --client
# 198.18.0.10:40000 --in-port 1 --bridge lcx1br --run --slot 3` (each step's "output", in order).
# ofproto/trace simulates only the last NAT of a pass: one-arm's traced packet keeps the VIP as its
# destination after the commits (their datapath actions show both NATs).
DUMP = os.path.join(GOLDEN, "cli_dump_flows.txt")
TRACE_ONE_ARM = os.path.join(GOLDEN, "cli_trace_one_arm.txt")
TRACE_DSR = os.path.join(GOLDEN, "cli_trace_dsr.txt")
NO_STATS = os.path.join(GOLDEN, "web_and_dns.txt")    # `dump-flows --no-stats` (tests/unit/test_flows.py)

THREE_VIPS = """\
vips:
  - name: web
    address: 198.18.0.100
    port: 80
    members:
      - {address: 198.18.0.11, port: 80}
      - {address: 198.18.0.12, port: 80}
      - {address: 198.18.0.13, port: 80}
  - {name: arm, address: 198.18.0.131, port: 9000, mode: one-arm, snat_pool: {addresses: [198.18.0.210]},
     members: [{address: 198.18.0.11}, {address: 198.18.0.12}]}
  - {name: direct, address: 198.18.0.132, port: 9000, mode: dsr,
     members: [{address: 198.18.0.11}, {address: 198.18.0.12}]}
"""
TENANT_A = {"name": "tenant-a", "vlan": 101, "gateways": ["10.0.0.1/24"], "monitor_address": "10.0.0.2",
            "access_ports": [21]}
WEB_ARGS = ["vip", "create", "web", "--address", "198.18.0.100", "--port", "80",
            "--member", "198.18.0.11", "--member", "198.18.0.12:80@2"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):   # the tests read stderr: only lbctl's own lines belong there
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return "http://127.0.0.1:%d" % server.server_address[1]


@pytest.fixture
def rest(api_factory):
    """The real REST app over HTTP; `rest.url`, and `rest.api` to look at it directly."""
    api = api_factory()
    server = make_server("127.0.0.1", 0, rest_api.application(api.service), handler_class=_Quiet)
    api.url = _serve(server)
    yield api
    server.shutdown()
    server.server_close()


class FakeApi:
    """Canned answers by (method, path); records every request (method, path, body, headers)."""

    def __init__(self, answers):
        self.answers, self.requests = answers, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((self.command, self.path, body, dict(self.headers)))
                status, doc = fake.answers.get((self.command, self.path), (404, {"error": "path: not here"}))
                data = json.dumps(doc).encode() if doc is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = _serve(self.server)


@pytest.fixture
def fake():
    made = []

    def make(answers):
        made.append(FakeApi(answers))
        return made[-1]
    yield make
    for server in made:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def lbctl(capsys, monkeypatch):
    """Runs `lbctl ARGS` -> (exit code, stdout, stderr); `stdin` text optional."""
    monkeypatch.delenv("LBCTL_TOKEN", raising=False)

    def run(url, *args, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(["--url", url, *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def closed_port_url():
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        return "http://127.0.0.1:%d" % server.server_address[1]


def rows(text):
    """An aligned table -> its rows as lists of cells (cells are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[1:] if line.strip()]


# ---------------------------------------------------------------- VIPs

def test_create_list_show_and_delete(rest, lbctl):
    code, out, err = lbctl(rest.url, *WEB_ARGS)
    assert (code, err) == (0, "")
    assert out.startswith("created vip web: 198.18.0.100:80/tcp routed, 2 members, mac 02:6c:00:00:00:01, ")
    code, out, _ = lbctl(rest.url, "vip", "list")
    assert out.splitlines()[0].split() == ["NAME", "NETWORK", "ADDRESS:PORT/PROTO", "MODE", "MEMBERS", "COOKIE"]
    [row] = rows(out)
    assert row[:4] == ["web", "default", "198.18.0.100:80/tcp", "routed"] and row[5] == "0x100000000/0xffffffff00000000"
    code, out, _ = lbctl(rest.url, "vip", "show", "web")
    assert "network           default\n" in out and "service           198.18.0.100:80/tcp" in out and "cookie            0x100000000/" in out
    members = out.split("\n\n")[1]
    assert [r[:2] for r in rows(members)] == [["198.18.0.11:80", "1"], ["198.18.0.12:80", "2"]]
    assert rows(members)[0][-1] == "not resolved"
    assert lbctl(rest.url, "vip", "delete", "web") == (0, "deleted vip web\n", "")
    assert rest("GET", "/v1/vips")[1] == []


def test_json_prints_the_api_answer(rest, lbctl):
    lbctl(rest.url, *WEB_ARGS)
    assert json.loads(lbctl(rest.url, "--json", "vip", "show", "web")[1]) == rest("GET", "/v1/vips/web")[1]
    assert json.loads(lbctl(rest.url, "vip", "list", "--json")[1]) == rest("GET", "/v1/vips")[1]
    assert json.loads(lbctl(rest.url, "stats", "--json")[1]).keys() == rest("GET", "/v1/stats")[1].keys()


def test_create_sends_every_option(fake, lbctl):
    api = fake({("POST", "/v1/vips"): (201, {"name": "arm", "address": "198.18.0.131", "port": 9000,
                                            "protocol": "udp", "mode": "one-arm", "members": []})})
    code, _, _ = lbctl(api.url, "vip", "create", "arm", "--address", "198.18.0.131", "--port", "9000",
                       "--protocol", "udp", "--mode", "one-arm", "--algorithm", "source_ip",
                       "--member", "198.18.0.11:5353@3", "--snat-addresses", "198.18.0.210,198.18.0.211",
                       "--snat-ports", "2000-3000", "--redundancy-group", "2", "--monitor", "udp",
                       "--monitor-interval", "0.5", "--monitor-timeout", "0.2", "--rise", "2", "--fall", "3")
    assert code == 0
    assert api.requests[0][2] == {
        "name": "arm", "address": "198.18.0.131", "port": 9000, "protocol": "udp", "mode": "one-arm",
        "algorithm": "source_ip", "redundancy_group": 2, "members": [{"address": "198.18.0.11", "port": 5353, "weight": 3}],
        "snat_pool": {"addresses": ["198.18.0.210", "198.18.0.211"], "ports": [2000, 3000]},
        "health_monitor": {"type": "udp", "interval": 0.5, "timeout": 0.2, "rise": 2, "fall": 3}}


def test_vip_show_with_health_status(fake, lbctl):
    vip = {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
           "algorithm": "5-tuple", "redundancy_group": 1, "id": 1, "group_id": 1, "mac": "02:6c:00:00:00:01",
           "cookie": "0x100000000/0xffffffff00000000", "members_up": 1,
           "health_monitor": {"type": "tcp", "interval": 2.0, "timeout": 1.0, "rise": 2, "fall": 3},
           "members": [
               {"address": "198.18.0.11", "port": 80, "weight": 1, "id": 1, "cookie": "0x100000001",
                "locations": [{"dpid": "00000000000000aa", "mac": "02:00:c6:12:00:0b", "port": 2}],
                "operating_status": "up", "status_since": "2026-11-26T10:00:00.250+00:00", "status_reason": "tcp connect"},
               {"address": "198.18.0.12", "port": 80, "weight": 1, "id": 2, "cookie": "0x100000002", "monitor_port": 8080,
                "locations": [], "operating_status": "down", "status_since": "2026-11-26T10:01:02.000+00:00",
                "status_reason": "tcp: timeout after 1.0 s"}]}
    api = fake({("GET", "/v1/vips/web"): (200, vip), ("GET", "/v1/vips"): (200, [vip])})
    _, out, _ = lbctl(api.url, "vip", "show", "web")
    assert "health_monitor    tcp every 2.0s, timeout 1.0s, rise 2, fall 3" in out
    assert "members           1/2 up" in out
    up, down = rows(out.split("\n\n")[1])
    assert up == ["198.18.0.11:80", "1", "up", "2026-11-26 10:00:00Z", "tcp connect", "0x100000001",
                  "00000000000000aa port 2 02:00:c6:12:00:0b"]
    assert down[:5] == ["198.18.0.12:80 (monitor port 8080)", "1", "down", "2026-11-26 10:01:02Z", "tcp: timeout after 1.0 s"]
    assert rows(lbctl(api.url, "vip", "list")[1])[0][4] == "1/2 up"
    assert "network           default\n" in out, "a controller without networks: every VIP is on the default one"


# ---------------------------------------------------------------- errors and exit codes

def test_a_refusal_is_one_line_and_exit_code_1(rest, lbctl):
    assert lbctl(rest.url, "vip", "show", "nope") == (1, "", "lbctl: vip 'nope' does not exist (404)\n")
    lbctl(rest.url, *WEB_ARGS)
    code, out, err = lbctl(rest.url, *WEB_ARGS)
    assert (code, out, err) == (1, "", "lbctl: name: vip 'web' already exists (409)\n")
    code, _, err = lbctl(rest.url, "vip", "create", "x", "--address", "198.18.0.7", "--port", "70000")
    assert (code, err) == (1, "lbctl: port: 70000 is not a port number from 1 to 65535 (400)\n")


@pytest.mark.parametrize("args, message", [
    (["vip", "create", "web", "--address", "198.18.0.100"], "--address and --port are required"),
    (["vip", "create"], "give NAME --address A --port P, or -f FILE"),
    (["vip", "create", "web", "--address", "198.18.0.100", "--port", "80", "--member", "198.18.0.11:x"],
     "'198.18.0.11:x' is not ADDR[:PORT][@WEIGHT]"),
    (["vip", "create", "w", "--address", "1.1.1.1", "--port", "1", "--snat-ports", "5"], "'5' is not LOW-HIGH"),
    (["member", "add", "web", "198.18.0.11@2"], "'198.18.0.11@2' is not ADDR[:PORT]"),
    (["trace", "--vip", "web"], "give --vip NAME --client IP[:PORT], or --explain FILE"),
    (["vip", "create", "w", "--address", "1.1.1.1", "--port", "1", "--member-network", "tenant-a"],
     "--member-network names the network of the --member options: give them"),
    (["network", "create"], "network create: give NAME [--vlan ID] [--gateway ADDR/PREFIX[@GROUP]]..., or -f FILE"),
    (["network", "create", "tenant-a", "--gateway", "10.0.0.1/24@two"], "'10.0.0.1/24@two' is not ADDR/PREFIX[@GROUP]"),
    (["network", "create", "tenant-a", "--vlan", "x"], "argument --vlan: 'x' is not a number (or 'none')"),
    (["network", "update", "tenant-a"], "give --vlan, --gateway, --monitor-address or --access-port"),
    (["network", "update", "tenant-a", "--access-port", "none", "--access-port", "22"],
     "--access-port none clears the list: give it alone"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_usage_errors_exit_2(lbctl, args, message):
    code, out, err = lbctl(closed_port_url(), *args)
    assert code == 2 and out == "" and message in err


def test_an_unreachable_controller_exits_3(lbctl):
    url = closed_port_url()
    code, out, err = lbctl(url, "vip", "list")
    assert (code, out) == (3, "")
    assert err.startswith("lbctl: cannot reach the controller at %s: " % url) and err.count("\n") == 1


def test_a_server_error_exits_3(fake, lbctl):
    api = fake({("GET", "/v1/vips"): (500, {"error": "internal error: KeyError: 'x' (see the controller log)"})})
    assert lbctl(api.url, "vip", "list") == (3, "", "lbctl: internal error: KeyError: 'x' (see the controller log) (500)\n")


def test_token_is_sent_on_changes_only(rest, lbctl, tmp_path, monkeypatch):
    token = "a-token-of-twenty-chars"
    rest.service.token = token
    code, _, err = lbctl(rest.url, *WEB_ARGS)
    assert code == 1 and err.startswith("lbctl: authorization: ") and err.endswith(
        "(401): give --token, --token-file or LBCTL_TOKEN\n")
    assert lbctl(rest.url, "vip", "list")[0] == 0
    assert lbctl(rest.url, "--token", token, *WEB_ARGS)[0] == 0
    (tmp_path / "token").write_text(token + "\n")
    assert lbctl(rest.url, "member", "drain", "web", "198.18.0.11", "--token-file", str(tmp_path / "token"))[0] == 0
    monkeypatch.setenv("LBCTL_TOKEN", token)
    assert lbctl(rest.url, "vip", "delete", "web")[0] == 0


# ---------------------------------------------------------------- networks

TENANT_A_ARGS = ["network", "create", "tenant-a", "--vlan", "101", "--gateway", "10.0.0.1/24", "--monitor-address",
                 "10.0.0.2", "--access-port", "21"]


def test_network_create_list_show_update_and_delete(rest, lbctl):
    assert lbctl(rest.url, *TENANT_A_ARGS) == (0, "created network tenant-a: vlan 101, gateways 10.0.0.1/24, monitor "
                                                  "address 10.0.0.2, access ports 21, id 1, cookie 0xfffffffe00000001\n", "")
    code, out, _ = lbctl(rest.url, "network", "list")
    assert out.splitlines()[0].split() == ["NAME", "VLAN", "GATEWAYS", "MONITOR", "ADDRESS", "ACCESS", "PORTS", "VIPS",
                                           "COOKIE"]
    assert rows(out) == [["default", "untagged", "-", "-", "-", "0", "0xfffffffe00000000"],
                         ["tenant-a", "101", "10.0.0.1/24", "10.0.0.2", "21", "0", "0xfffffffe00000001"]]
    rest("POST", "/v1/vips", {"name": "a-web", "network": "tenant-a", "address": "10.0.0.100", "port": 80})
    code, out, _ = lbctl(rest.url, "network", "show", "tenant-a")
    assert out.splitlines() == ["name             tenant-a", "id               1", "vlan             101",
                                "gateways         10.0.0.1/24", "monitor_address  10.0.0.2", "access_ports     21",
                                "zones            66 (lb), 67 (snat)", "macs             02:6c:00:00:10:01 (group 1)",
                                "vips             a-web", "cookie           0xfffffffe00000001"]
    assert "implicit         yes: the controller's [lbctl] options set it" in lbctl(rest.url, "network", "show", "default")[1]
    revision = rest("GET", "/v1/networks/tenant-a")[1]["revision"]
    assert lbctl(rest.url, "network", "update", "tenant-a", "--vlan", "none", "--gateway", "10.0.0.1/24@2",
                 "--access-port", "21", "--access-port", "22") == (
        0, "updated network tenant-a: untagged, gateways 10.0.0.1/24@2, monitor address 10.0.0.2, access ports 21,22, "
           "id 1, cookie 0xfffffffe00000001\n", "")
    after = rest("GET", "/v1/networks/tenant-a")[1]
    assert (after["vlan"], after["gateways"], after["monitor_address"], after["access_ports"]) == (
        None, [{"address": "10.0.0.1/24", "redundancy_group": 2}], "10.0.0.2", [21, 22]), "what was not given is kept"
    assert after["revision"] != revision
    rest("DELETE", "/v1/vips/a-web")
    assert lbctl(rest.url, "network", "delete", "tenant-a") == (0, "deleted network tenant-a\n", "")
    assert [n["name"] for n in rest("GET", "/v1/networks")[1]] == ["default"]
    assert json.loads(lbctl(rest.url, "--json", "network", "list")[1]) == rest("GET", "/v1/networks")[1]


def test_network_create_sends_every_option(fake, lbctl):
    api = fake({("POST", "/v1/networks"): (201, {"name": "tenant-b", "vlan": 102, "gateways": [], "access_ports": []})})
    assert lbctl(api.url, "network", "create", "tenant-b", "--vlan", "102", "--gateway", "10.0.0.1/24",
                 "--gateway", "10.1.0.1/24@2", "--monitor-address", "10.0.0.2", "--access-port", "22",
                 "--access-port", "23")[0] == 0
    assert api.requests[0][2] == {"name": "tenant-b", "vlan": 102, "monitor_address": "10.0.0.2", "access_ports": [22, 23],
                                  "gateways": ["10.0.0.1/24", {"address": "10.1.0.1/24", "redundancy_group": 2}]}


def test_network_update_is_get_change_put_with_the_revision(fake, lbctl):
    network = {"name": "tenant-a", "vlan": 101, "gateways": [{"address": "10.0.0.1/24", "redundancy_group": 1}],
               "monitor_address": "10.0.0.2", "access_ports": [21], "id": 1, "revision": "r1",
               "cookie": "0xfffffffe00000001", "zones": [66, 67], "macs": {"1": "02:6c:00:00:10:01"}, "vips": [],
               "implicit": False}
    api = fake({("GET", "/v1/networks/tenant-a"): (200, network), ("PUT", "/v1/networks/tenant-a"): (200, network)})
    assert lbctl(api.url, "network", "update", "tenant-a", "--gateway", "none", "--monitor-address", "none")[0] == 0
    method, path, body, headers = api.requests[-1]
    assert (method, path, headers["If-Match"]) == ("PUT", "/v1/networks/tenant-a", '"r1"')
    assert body == {"name": "tenant-a", "vlan": 101, "gateways": [], "monitor_address": None, "access_ports": [21]}


@pytest.mark.parametrize("args, message", [
    (["network", "create", "tenant-b", "--vlan", "0"],
     "vlan: 0 is not a VLAN id from 1 to 4094 (or null: untagged) (400)"),
    (["network", "create", "tenant-b", "--vlan", "102", "--gateway", "10.0.0.1"],
     "gateways[0]: '10.0.0.1' is not an IPv4 address/prefix such as 10.0.0.1/24 (400)"),
    (["network", "create", "tenant-b", "--access-port", "22", "--access-port", "22"],
     "access_ports[1]: 22 repeats a port (400)"),
    (["network", "create", "tenant-b", "--vlan", "101"], "vlan: 101 is the VLAN of network 'tenant-a' (409)"),
    (["network", "update", "tenant-a", "--vlan", "4095"],
     "vlan: 4095 is not a VLAN id from 1 to 4094 (or null: untagged) (400)"),
    (["network", "update", "default", "--vlan", "5"], "name: network 'default' is set by the controller's [lbctl] options (409)"),
    (["network", "delete", "tenant-a"], "name: network 'tenant-a' is used by vip 'a-web' (409)"),
    (["network", "show", "tenant-x"], "network 'tenant-x' does not exist (404)"),
    (["vip", "create", "b-web", "--network", "tenant-x", "--address", "10.0.0.100", "--port", "80"],
     "network: 'tenant-x' is not a network (known: default, tenant-a) (400)"),
])
def test_network_refusals_name_the_field_and_change_nothing(rest, lbctl, args, message):
    lbctl(rest.url, *TENANT_A_ARGS)
    rest("POST", "/v1/vips", {"name": "a-web", "network": "tenant-a", "address": "10.0.0.100", "port": 80})
    before = rest("GET", "/v1/networks")[1], rest("GET", "/v1/vips")[1]
    assert lbctl(rest.url, *args) == (1, "", "lbctl: %s\n" % message)
    assert (rest("GET", "/v1/networks")[1], rest("GET", "/v1/vips")[1]) == before


def test_vips_on_networks_are_created_and_shown(rest, lbctl):
    lbctl(rest.url, *TENANT_A_ARGS)
    code, out, err = lbctl(rest.url, "vip", "create", "a-web", "--network", "tenant-a", "--address", "10.0.0.100",
                           "--port", "80", "--member", "10.0.0.11")
    assert (code, err) == (0, "") and out.startswith("created vip a-web: 10.0.0.100:80/tcp routed, network tenant-a, "
                                                     "1 members, mac 02:6c:00:00:10:01, ")
    assert lbctl(rest.url, "vip", "create", "shared", "--address", "198.18.0.100", "--port", "80",
                 "--member", "10.0.0.11", "--member", "10.0.0.12", "--member-network", "tenant-a")[0] == 0
    assert [m.get("network") for m in rest("GET", "/v1/vips/shared")[1]["members"]] == ["tenant-a", "tenant-a"]
    assert [r[:3] for r in rows(lbctl(rest.url, "vip", "list")[1])] == [["a-web", "tenant-a", "10.0.0.100:80/tcp"],
                                                                        ["shared", "default", "198.18.0.100:80/tcp"]]
    out = lbctl(rest.url, "vip", "show", "a-web")[1]
    assert "network           tenant-a\n" in out
    assert [r[0] for r in rows(out.split("\n\n")[1])] == ["10.0.0.11:80"], "on the VIP's network: not repeated"
    shown = rows(lbctl(rest.url, "vip", "show", "shared")[1].split("\n\n")[1])
    assert [r[0] for r in shown] == ["10.0.0.11:80 (network tenant-a)", "10.0.0.12:80 (network tenant-a)"]


def test_a_member_added_goes_to_the_network_of_the_others(rest, lbctl):
    lbctl(rest.url, *TENANT_A_ARGS)
    lbctl(rest.url, "vip", "create", "shared", "--address", "198.18.0.100", "--port", "80", "--member", "10.0.0.11",
          "--member-network", "tenant-a")
    assert lbctl(rest.url, "member", "add", "shared", "10.0.0.12")[0] == 0
    assert lbctl(rest.url, "member", "add", "shared", "198.18.0.13", "--network", "default") == (
        1, "", "lbctl: members[2].network: 'default' differs from members[0].network 'tenant-a': a VIP's members are "
               "on one network (its connections' conntrack zone) (400)\n")
    assert [(m["address"], m.get("network")) for m in rest("GET", "/v1/vips/shared")[1]["members"]] == [
        ("10.0.0.11", "tenant-a"), ("10.0.0.12", "tenant-a")]
    rest("POST", "/v1/vips", {"name": "empty", "address": "198.18.0.101", "port": 80})
    assert lbctl(rest.url, "member", "add", "empty", "10.0.0.11", "--network", "tenant-a")[0] == 0
    assert rest("GET", "/v1/vips/empty")[1]["members"][0]["network"] == "tenant-a"


def test_networks_and_vips_from_one_yaml_file(rest, lbctl, tmp_path):
    """The controller's VIP file holds `networks:` and `vips:`: `network create -f` takes the one,
    `vip create -f` the other."""
    path = tmp_path / "tenants.yaml"
    path.write_text("networks:\n"
                    "  - {name: tenant-a, vlan: 101, gateways: [10.0.0.1/24], access_ports: [21]}\n"
                    "  - {name: tenant-b, vlan: 101}\n"
                    "vips:\n"
                    "  - {name: a-web, network: tenant-a, address: 10.0.0.100, port: 80}\n")
    code, out, err = lbctl(rest.url, "network", "create", "-f", str(path))
    assert code == 1 and out.startswith("created network tenant-a: vlan 101, ")
    assert err == "lbctl: %s: networks[1]: vlan: 101 is the VLAN of network 'tenant-a' (409)\n" % path
    assert lbctl(rest.url, "vip", "create", "-f", str(path))[0] == 0
    assert rest("GET", "/v1/vips/a-web")[1]["network"] == "tenant-a"
    (tmp_path / "one.yaml").write_text("name: tenant-c\nvlan: 103\n")
    assert lbctl(rest.url, "network", "create", "-f", str(tmp_path / "one.yaml"))[0] == 0
    (tmp_path / "list.yaml").write_text("- 1\n")
    assert lbctl(rest.url, "network", "create", "-f", str(tmp_path / "list.yaml")) == (
        2, "", "lbctl: %s: is neither one network object nor 'networks: [...]'\n" % (tmp_path / "list.yaml"))


# ---------------------------------------------------------------- members: GET, change, PUT

def test_member_add_drain_remove_round_trip(rest, lbctl):
    lbctl(rest.url, *WEB_ARGS)
    before = rest("GET", "/v1/vips/web")[1]
    assert lbctl(rest.url, "member", "add", "web", "198.18.0.14", "--weight", "3") == (
        0, "added member 198.18.0.14:80 to vip web\n", "")
    code, out, _ = lbctl(rest.url, "member", "drain", "web", "198.18.0.12")
    assert out == "drained member 198.18.0.12:80 of vip web: weight 0, no new connections; open ones continue\n"
    after = rest("GET", "/v1/vips/web")[1]
    assert [(m["address"], m["port"], m["weight"]) for m in after["members"]] == [
        ("198.18.0.11", 80, 1), ("198.18.0.12", 80, 0), ("198.18.0.14", 80, 3)]
    assert [m["cookie"] for m in after["members"][:2]] == [m["cookie"] for m in before["members"]], \
        "a drained member keeps its id, so its flows keep their cookie"
    assert lbctl(rest.url, "member", "remove", "web", "198.18.0.12:80")[1] == "removed member 198.18.0.12:80 from vip web\n"
    assert [m["address"] for m in rest("GET", "/v1/vips/web")[1]["members"]] == ["198.18.0.11", "198.18.0.14"]


def test_member_changes_keep_the_rest_of_the_vip(rest, lbctl, tmp_path):
    (tmp_path / "vips.yaml").write_text(THREE_VIPS)
    lbctl(rest.url, "vip", "create", "-f", str(tmp_path / "vips.yaml"))
    before = rest("GET", "/v1/vips/arm")[1]
    assert lbctl(rest.url, "member", "add", "arm", "198.18.0.13:9001")[0] == 0
    after = rest("GET", "/v1/vips/arm")[1]
    changed = ("members", "revision")
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}
    assert after["snat_pool"] == {"addresses": ["198.18.0.210"], "ports": [1024, 65535]}


@pytest.mark.parametrize("args, message", [
    (["member", "add", "web", "198.18.0.11"], "lbctl: member 198.18.0.11:80 is already in vip 'web'\n"),
    (["member", "remove", "web", "198.18.0.99"], "lbctl: member 198.18.0.99 is not in vip 'web'\n"),
    (["member", "drain", "web", "198.18.0.11:81"], "lbctl: member 198.18.0.11:81 is not in vip 'web'\n"),
    (["member", "drain", "nope", "198.18.0.11"], "lbctl: vip 'nope' does not exist (404)\n"),
    (["member", "add", "web", "198.18.0.100"], "lbctl: members[2].address: '198.18.0.100' is one of the VIP's own addresses (400)\n"),
])
def test_member_errors_change_nothing(rest, lbctl, args, message):
    lbctl(rest.url, *WEB_ARGS)
    before = rest("GET", "/v1/vips/web")[1]
    assert lbctl(rest.url, *args) == (1, "", message)
    assert rest("GET", "/v1/vips/web")[1] == before


def test_a_member_on_two_ports_needs_the_port(rest, lbctl):
    lbctl(rest.url, *WEB_ARGS, "--member", "198.18.0.11:8080")
    assert lbctl(rest.url, "member", "remove", "web", "198.18.0.11") == (
        1, "", "lbctl: member 198.18.0.11: vip 'web' has it on ports 80, 8080: give ADDR:PORT\n")


def test_put_sends_back_only_input_fields(fake, lbctl):
    """What GET adds (ids, cookies, status, locations) is not sent back; what the operator set is."""
    vip = {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
           "algorithm": "5-tuple", "redundancy_group": 1, "id": 1, "group_id": 1, "mac": "02:6c:00:00:00:01",
           "cookie": "0x100000000/0xffffffff00000000", "members_up": 1,
           "health_monitor": {"type": "tcp", "interval": 2.0, "timeout": 1.0, "rise": 2, "fall": 3},
           "members": [{"address": "198.18.0.11", "port": 80, "weight": 1, "monitor_port": 8080, "id": 1,
                        "cookie": "0x100000001", "locations": [], "operating_status": "up",
                        "status_since": "2026-11-26T10:00:00.000+00:00", "status_reason": "ok"}]}
    api = fake({("GET", "/v1/vips/web"): (200, vip), ("PUT", "/v1/vips/web"): (200, vip)})
    assert lbctl(api.url, "member", "add", "web", "198.18.0.12:81", "--weight", "2", "--monitor-port", "8081")[0] == 0
    method, path, body, _ = api.requests[-1]
    assert (method, path) == ("PUT", "/v1/vips/web")
    assert body == {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
                    "algorithm": "5-tuple", "redundancy_group": 1,
                    "health_monitor": {"type": "tcp", "interval": 2.0, "timeout": 1.0, "rise": 2, "fall": 3},
                    "members": [{"address": "198.18.0.11", "port": 80, "weight": 1, "monitor_port": 8080},
                                {"address": "198.18.0.12", "port": 81, "weight": 2, "monitor_port": 8081}]}


def test_a_member_change_carries_the_revision_it_was_based_on(rest, lbctl):
    """GET, change, PUT with If-Match: if someone changed the VIP in between, ours is refused."""
    lbctl(rest.url, *WEB_ARGS)
    revision = rest("GET", "/v1/vips/web")[1]["revision"]
    assert lbctl(rest.url, "member", "drain", "web", "198.18.0.11")[0] == 0
    assert rest("GET", "/v1/vips/web")[1]["revision"] != revision
    # The race itself: the answer of a GET taken before someone else's change.
    stale = dict(rest("GET", "/v1/vips/web")[1], revision=revision)
    with pytest.raises(cli.CliError) as refused:
        cli.Api(rest.url).call("PUT", "/v1/vips/web", cli._input_fields(stale), revision=stale["revision"])
    assert str(refused.value).startswith("if-match: %r is not the revision of vip 'web' any more" % revision)
    assert str(refused.value).endswith("(412)")


def test_a_member_change_keeps_the_networks_of_the_vip_and_its_members(rest, lbctl):
    """PUT replaces the whole VIP: the networks must go back with it, or the VIP would move to the
    default network (and its members with it)."""
    rest("POST", "/v1/networks", TENANT_A)
    rest("POST", "/v1/vips", {"name": "a-web", "network": "tenant-a", "address": "10.0.0.100", "port": 80,
                              "members": [{"address": "10.0.0.11"}, {"address": "10.0.0.12"}]})
    rest("POST", "/v1/vips", {"name": "shared", "address": "198.18.0.100", "port": 80,
                              "members": [{"address": "10.0.0.11", "network": "tenant-a"},
                                          {"address": "10.0.0.12", "network": "tenant-a"}]})
    assert lbctl(rest.url, "member", "drain", "a-web", "10.0.0.11")[0] == 0
    assert lbctl(rest.url, "member", "drain", "shared", "10.0.0.12")[0] == 0
    a_web, shared = rest("GET", "/v1/vips/a-web")[1], rest("GET", "/v1/vips/shared")[1]
    assert a_web["network"] == "tenant-a" and [m["weight"] for m in a_web["members"]] == [0, 1]
    assert shared["network"] == "default" and [m.get("network") for m in shared["members"]] == ["tenant-a", "tenant-a"]


# ---------------------------------------------------------------- VIPs from YAML

def test_create_from_yaml_reports_each(rest, lbctl, tmp_path):
    path = tmp_path / "vips.yaml"
    path.write_text(THREE_VIPS)
    code, out, err = lbctl(rest.url, "vip", "create", "-f", str(path))
    assert (code, err) == (0, "")
    assert [line.split(":")[0] for line in out.splitlines()] == ["created vip web", "created vip arm",
                                                                 "created vip direct"]
    code, out, err = lbctl(rest.url, "--json", "vip", "create", "-f", str(path))
    assert code == 1
    assert err.splitlines() == ["lbctl: %s: vips[%d]: name: vip %r already exists (409)" % (path, i, name)
                                for i, name in enumerate(["web", "arm", "direct"])]
    assert [doc["error"] for doc in json.loads(out)] == ["name: vip %r already exists (409)" % n
                                                         for n in ("web", "arm", "direct")]


def test_create_from_a_yaml_file_of_one_vip(rest, lbctl, tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text("name: web\naddress: 198.18.0.100\nport: 80\nmembers: [{address: 198.18.0.11}]\n")
    assert lbctl(rest.url, "vip", "create", "-f", str(path))[0] == 0
    assert rest("GET", "/v1/vips/web")[1]["members"][0]["port"] == 80


@pytest.mark.parametrize("text, message", [("vips: [\n", "cannot read"), ("- 1\n- 2\n", "is neither one VIP object")])
def test_a_bad_yaml_file_is_a_usage_error(rest, lbctl, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = lbctl(rest.url, "vip", "create", "-f", str(path))
    assert code == 2 and err.startswith("lbctl: %s: " % path) and message in err and err.count("\n") == 1


# ---------------------------------------------------------------- hosts, stats

def test_hosts_table(rest, lbctl):
    rest("POST", "/v1/vips", {"name": "web", "address": "198.18.0.100", "port": 80, "members": [{"address": "198.18.0.11"}]})
    rest("POST", "/v1/networks", TENANT_A)
    rest("POST", "/v1/vips", {"name": "a-web", "network": "tenant-a", "address": "10.0.0.100", "port": 80,
                              "members": [{"address": "198.18.0.11"}]})
    rest.core.hosts.learn(0xaa, ("default", "198.18.0.11"), "02:00:c6:12:00:0b", 2, now=1795700000.0)
    rest.core.hosts.learn(0xaa, ("tenant-a", "198.18.0.11"), "02:00:0a:00:00:0b", 21, now=1795700000.0)
    code, out, _ = lbctl(rest.url, "hosts")
    assert out.splitlines()[0].split() == ["IP", "NETWORK", "MAC", "SWITCH", "PORT", "STATE", "MOVES", "LAST", "SEEN",
                                           "COOKIE"]
    assert sorted(rows(out)) == [
        ["198.18.0.11", "default", "02:00:c6:12:00:0b", "00000000000000aa", "2", "learned", "0", "2026-11-26 13:33:20Z",
         "0xffffffff00000001"],
        ["198.18.0.11", "tenant-a", "02:00:0a:00:00:0b", "00000000000000aa", "21", "learned", "0",
         "2026-11-26 13:33:20Z", "0xffffffff00000002"]], "one address on two networks: two hosts"


def test_stats_shows_counters_latencies_and_traffic(fake, lbctl):
    stats = {"packet_in": 13, "flow_changes": 335, "switches": 1, "traffic_polled_at": 1795700000.0,
             "move_to_barrier_ms": {"count": 3, "p50": 42.787, "p99": 66.334, "max": 66.334, "recent": [1.0]},
             "change_to_barrier_ms": {"count": 0, "p50": None, "p99": None, "max": None, "recent": []},
             "vips": {"web": {"packets": 30, "bytes": 2400, "connections": 6, "members": {
                 "198.18.0.11:80": {"packets": 10, "bytes": 800, "connections": 2}}}}}
    _, out, _ = lbctl(fake({("GET", "/v1/stats"): (200, stats)}).url, "stats")
    counters, latencies, traffic = out.split("\n\n")
    assert rows(counters) == [["packet_in", "13"], ["flow_changes", "335"], ["switches", "1"],
                              ["traffic_polled_at", "2026-11-26 13:33:20Z"]]
    assert rows(latencies) == [["move_to_barrier_ms", "3", "42.8", "66.3", "66.3"],
                               ["change_to_barrier_ms", "0", "-", "-", "-"]]
    assert rows(traffic) == [["web", "-", "30", "2400", "6"], ["web", "198.18.0.11:80", "10", "800", "2"]]


def test_cluster_shows_the_switches_and_where_each_group_is_active(fake, lbctl):
    a = {"name": "lb-a", "dpid": "0000000000000001", "healthy": False}
    b = {"name": "lb-b", "dpid": "0000000000000002", "healthy": True}
    cluster = {"balancers": [dict(a, connected=False), dict(b, connected=True)], "preempt": False, "hold_down": 10.0,
               "takeovers": 1, "groups": [{"group": 1, "active": b, "since": 1795700000.0, "standbys": [a]}]}
    _, out, _ = lbctl(fake({("GET", "/v1/cluster"): (200, cluster)}).url, "cluster")
    head, switches, groups = out.split("\n\n")
    assert head == "preempt no, hold_down 10 s, takeovers 1"
    assert rows(switches) == [["lb-a", "0000000000000001", "no", "no"], ["lb-b", "0000000000000002", "yes", "yes"]]
    assert rows(groups) == [["1", "lb-b", "2026-11-26 13:33:20Z", "lb-a (down)"]]


def test_cluster_without_balancers_says_every_switch_is_active(rest, lbctl):
    code, out, _ = lbctl(rest.url, "cluster")
    assert code == 0 and out.startswith("preempt no, hold_down 10 s, takeovers 0 (no cluster configured")


# ---------------------------------------------------------------- flows

@pytest.fixture
def three_vips(rest, lbctl, tmp_path):
    """The real app holding the VIPs of the captured dump, with the same ids."""
    (tmp_path / "vips.yaml").write_text(THREE_VIPS)
    assert lbctl(rest.url, "vip", "create", "-f", str(tmp_path / "vips.yaml"))[0] == 0
    return rest


def flow_rows(out):
    """`lbctl flows` -> [vip, member, network, table, packets, flow]; the flow may hold 2+ spaces itself."""
    return [re.split(r"\s{2,}", line.strip(), maxsplit=5) for line in out.splitlines()[1:]]


def test_flows_of_a_real_dump_are_labelled(three_vips, lbctl):
    dump = open(DUMP).read()
    code, out, err = lbctl(three_vips.url, "flows", "-", stdin=dump)
    assert (code, err) == (0, "")
    shown = flow_rows(out)
    assert out.splitlines()[0].split() == ["VIP", "MEMBER", "NETWORK", "TABLE", "PACKETS", "FLOW"]
    assert len(shown) == sum(" actions=" in line for line in dump.splitlines()) + dump.count("group_id=")
    assert ["web", "-", "default", "classify(1)", "36", "priority=700,tcp,reg9=0,nw_dst=198.18.0.100,tp_dst=80 "
            "actions=load:0x80000001->NXM_NX_REG4[],ct(table=20,zone=64,nat)"] in shown
    assert ["web", "198.18.0.12:80", "-", "commit(22)", "3"] in [r[:5] for r in shown], "a member's new connections"
    commits = [r for r in shown if r[:4] == ["arm", "198.18.0.12:9000", "-", "commit(22)"]]
    assert len(commits) == 1 and "nat(dst=198.18.0.12:9000)" in commits[0][5] and \
        "nat(src=198.18.0.210:1024-65535)" in commits[0][5], "one-arm: both NATs in the member's commit"
    assert ["arm", "-", "default", "classify(1)", "0", "priority=600,ip,reg9=0,nw_dst=198.18.0.210 "
            "actions=ct(zone=65,nat),ct(table=20,zone=64,nat)"] in shown, "the pool's replies"
    assert ["(host)", "198.18.0.13", "default", "locate(31)", "12", "priority=300,reg2=0x3 "
            "actions=mod_dl_dst:02:00:c6:12:00:0d,load:0->NXM_OF_IN_PORT[],output:4"] in shown, "a host's network"
    assert ["(host)", "198.18.0.11", "default", "to_member(30)"] in [r[:4] for r in shown], "a member's hairpin"
    assert ["(pipeline)", "-", "-", "to_member(30)", "36"] in [r[:5] for r in shown], "routed requests, by ct_label"
    assert ["(pipeline)", "-", "-", "reject(50)", "0", "priority=0 actions=CONTROLLER:65535"] in shown
    assert not [r for r in shown if r[3] == "dsr_conn(18)"], "dsr's steady state: no pins, the hash alone"
    delivered = [r for r in shown if r[3] == "dsr_deliver(24)" and r[0] == "direct"]
    assert [(r[1], r[5].split(",")[0]) for r in delivered] == [
        ("198.18.0.11:9000", "priority=310"), ("198.18.0.11:9000", "priority=300"),
        ("198.18.0.12:9000", "priority=310"), ("198.18.0.12:9000", "priority=300")], "each member's SYNs, packets"
    assert "duration=" not in out and "idle_age=" not in out and "n_bytes=" not in out
    groups = {r[1]: r[5] for r in shown if r[1].startswith("group ")}
    assert groups == {"group 1": "select, 256 buckets: 198.18.0.11:80 x86, 198.18.0.12:80 x85, 198.18.0.13:80 x85",
                      "group 2": "select, 256 buckets: 198.18.0.11:9000 x128, 198.18.0.12:9000 x128",
                      "group 3": "select, 256 buckets: 198.18.0.11:9000 x128, 198.18.0.12:9000 x128"}
    owners = [r[0] for r in shown]
    assert owners == sorted(owners, key=["web", "arm", "direct", "(host)", "(network)", "(pipeline)"].index), \
        "grouped by VIP"


def test_flows_json_and_vip_filter(three_vips, lbctl):
    code, out, _ = lbctl(three_vips.url, "--json", "flows", "--stdin", "--vip", "direct", stdin=open(DUMP).read())
    shown = json.loads(out)
    assert {(r["vip"], r["member"]) for r in shown if r["vip"] == "(host)"} == {("(host)", "198.18.0.11"),
                                                                               ("(host)", "198.18.0.12")}
    assert {r["vip"] for r in shown} == {"direct", "(host)"}
    classify = next(r for r in shown if r["table"] == 1 and "tp_dst=9000" in r["flow"])
    assert classify == {"cookie": "0x300000000", "table": 1, "table_name": "classify", "n_packets": 36,
                        "flow": "priority=700,tcp,reg9=0,nw_dst=198.18.0.132,tp_dst=9000 "
                                "actions=load:0x3->NXM_NX_REG4[],mod_dl_src:02:6c:00:00:00:01,group:3",
                        "vip": "direct", "member": "-", "network": "default", "dpid": None}
    [group] = [r for r in shown if r["table"] is None]
    assert (group["member"], group["buckets"]) == ("group 3", {"198.18.0.11:9000": 128, "198.18.0.12:9000": 128})


def test_flows_of_no_stats_and_openflow13_dumps(three_vips, lbctl):
    openflow13 = (
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n"
        " cookie=0x100000000, duration=1.415s, table=1, n_packets=30, n_bytes=2532, priority=700,tcp,reg9=0,nw_dst=198.18.0.100,tp_dst=80 actions=set_field:0x80000001->reg4,ct(table=20,zone=64,nat)\n"
        " cookie=0x0, duration=1.412s, table=14, n_packets=6, n_bytes=252, priority=0 actions=meter:2,CONTROLLER:65535\n")
    assert flow_rows(lbctl(three_vips.url, "flows", "-", stdin=openflow13)[1]) == [
        ["web", "-", "default", "classify(1)", "30", "priority=700,tcp,reg9=0,nw_dst=198.18.0.100,tp_dst=80 actions=set_field:0x80000001->reg4,ct(table=20,zone=64,nat)"],
        ["(pipeline)", "-", "-", "member_arp_punt(14)", "6", "priority=0 actions=meter:2,CONTROLLER:65535"]]
    lines = [line for line in open(NO_STATS) if not line.startswith("meter=")]
    shown = flow_rows(lbctl(three_vips.url, "flows", NO_STATS)[1])
    assert len(shown) == len(lines)
    assert {r[4] for r in shown} == {"-"}
    # Whatever the pipeline of the time (tests/unit/test_flows.py keeps this golden): each flow in its
    # table, named as flows/pipeline.py names it; a line without table= is table 0's.
    leading = (re.match(r"(?:cookie=\w+, )?table=(\d+), ", line) for line in lines if " actions=" in line)
    tables = sorted(int(m[1]) if m else 0 for m in leading)
    named = sorted((r[3] for r in shown if r[3] != "-"), key=lambda t: int(t.split("(")[1][:-1]))
    assert named == ["%s(%d)" % (cli.pipeline.TABLE_BY_ID[t].name, t) for t in tables]
    assert ["web", "198.18.0.13:80"] in [r[:2] for r in shown]


# A real switch's dsr VIP `direct` (THREE_VIPS, first with m1 alone, then m2 added) within the grace
# period of its moved slots: a new connection's pin (OpenFlow 1.3 dump of dsr_conn), and the group's
# two kinds of bucket, a slot kept by m1 (host 1) and a slot moved from m1 to m2 (host 2).
PINNED = (
    " cookie=0xfffffffd00000000, duration=0.029s, table=18, n_packets=5, n_bytes=334, idle_timeout=5, priority=300,"
    "tcp,nw_src=198.18.0.10,nw_dst=198.18.0.132,tp_src=33954,tp_dst=9000 actions=fin_timeout(idle_timeout=5),"
    "load:0x2->NXM_NX_REG7[]\n"
    " group_id=3,type=select," + ",".join(["bucket=actions=set_field:0x1->reg2,resubmit(,24)"] * 128 + [
        "bucket=actions=set_field:0x2->reg2,set_field:0x1->reg5,resubmit(,17)"] * 128) + "\n")


def test_flows_name_the_vip_and_member_of_a_dsr_pin_and_moved_buckets(three_vips, lbctl):
    """Pins share one cookie (PINS): the VIP is the address and port they match, the member the host
    they load."""
    shown = flow_rows(lbctl(three_vips.url, "flows", "-", stdin=PINNED)[1])
    assert [r[:5] for r in shown] == [["direct", "198.18.0.12:9000", "-", "dsr_conn(18)", "5"],
                                      ["direct", "group 3", "-", "-", "-"]]
    assert shown[1][5] == "select, 256 buckets: 198.18.0.11:9000 x128, 198.18.0.12:9000 (moved from 198.18.0.11:9000) x128"
    assert [r["vip"] for r in json.loads(lbctl(three_vips.url, "--json", "flows", "-", "--vip", "direct", stdin=PINNED)[1])] == [
        "direct", "direct"]
    code, out, _ = lbctl(closed_port_url(), "flows", "-", stdin=PINNED)
    assert code == 0 and [r[:4] for r in flow_rows(out)] == [["group#3", "group 3", "-", "-"],
                                                             ["(pins)", "host#2", "-", "dsr_conn(18)"]]


@pytest.fixture
def tenants(rest, lbctl):
    """VIP a-web on network tenant-a (VLAN 101, access port 21) and b-web on the default network,
    each with a member at 10.0.0.11: two hosts (1 on tenant-a, 2 on default), one address."""
    lbctl(rest.url, *TENANT_A_ARGS)
    lbctl(rest.url, "vip", "create", "a-web", "--network", "tenant-a", "--address", "10.0.0.100", "--port", "80",
          "--member", "10.0.0.11")
    lbctl(rest.url, "vip", "create", "b-web", "--address", "198.18.0.100", "--port", "80", "--member", "10.0.0.11")
    return rest


# Flows of `tenants` as flows/text.py writes them, in an OpenFlow 1.3 dump's form (ingress's VLAN
# flow as ovs-ofctl prints it: flows/text.py has no text for pop_vlan yet).
TENANT_DUMP = """\
 cookie=0xfffffffe00000001, duration=2.0s, table=0, n_packets=12, n_bytes=900, priority=200,dl_vlan=101 actions=pop_vlan,set_field:0x1->reg9,set_field:0x1065->reg10,goto_table:1
 cookie=0x0, duration=2.0s, table=0, n_packets=40, n_bytes=3000, priority=0 actions=goto_table:1
 cookie=0x100000000, duration=2.0s, table=1, n_packets=6, n_bytes=400, priority=700,tcp,reg9=0x1,nw_dst=10.0.0.100,tp_dst=80 actions=set_field:0x80000001->reg4,ct(table=20,zone=66,nat)
 cookie=0x100000001, duration=2.0s, table=1, n_packets=5, n_bytes=350, priority=650,tcp,reg9=0x1,nw_src=10.0.0.11,tp_src=80 actions=ct(zone=67,nat),ct(table=20,zone=66,nat)
 cookie=0x200000000, duration=2.0s, table=1, n_packets=3, n_bytes=200, priority=700,tcp,reg9=0,nw_dst=198.18.0.100,tp_dst=80 actions=set_field:0x80000002->reg4,ct(table=20,zone=64,nat)
 cookie=0xfffffffe00000000, duration=2.0s, table=1, n_packets=0, n_bytes=0, priority=500,icmp,reg9=0,icmp_type=3 actions=ct(zone=65,nat),ct(table=20,zone=64,nat)
 cookie=0xfffffffe00000001, duration=2.0s, table=11, n_packets=2, n_bytes=84, priority=300,reg3=0xa000001,reg9=0x1 actions=set_field:0x1001001->reg6
 cookie=0xffffffff00000001, duration=2.0s, table=12, n_packets=1, n_bytes=42, priority=150,arp,reg9=0x1,reg10=0/0x1000,arp_spa=10.0.0.11 actions=NORMAL,goto_table:14
 cookie=0xffffffff00000001, duration=2.0s, table=31, n_packets=6, n_bytes=400, priority=300,reg2=0x1 actions=set_field:02:00:0a:00:00:0b->eth_dst,output:21
 cookie=0xffffffff00000002, duration=2.0s, table=31, n_packets=3, n_bytes=200, priority=300,reg2=0x2 actions=set_field:02:00:c6:12:00:0b->eth_dst,output:3
"""


def test_flows_name_networks_and_what_each_flow_matches(tenants, lbctl):
    shown = flow_rows(lbctl(tenants.url, "flows", "-", stdin=TENANT_DUMP)[1])
    assert [r[:5] for r in shown] == [
        ["a-web", "-", "tenant-a", "classify(1)", "6"],
        ["a-web", "10.0.0.11:80", "tenant-a", "classify(1)", "5"],
        ["b-web", "-", "default", "classify(1)", "3"],
        ["(host)", "10.0.0.11", "tenant-a", "arp_answer(12)", "1"],
        ["(host)", "10.0.0.11", "tenant-a", "locate(31)", "6"],
        ["(host)", "10.0.0.11", "default", "locate(31)", "3"],
        ["(network)", "default", "default", "classify(1)", "0"],
        ["(network)", "tenant-a", "tenant-a", "ingress(0)", "12"],
        ["(network)", "tenant-a", "tenant-a", "owned(11)", "2"],
        ["(pipeline)", "-", "-", "ingress(0)", "40"]]
    only = json.loads(lbctl(tenants.url, "--json", "flows", "-", "--vip", "a-web", stdin=TENANT_DUMP)[1])
    assert [(r["vip"], r["member"], r["network"], r["table"]) for r in only] == [
        ("a-web", "-", "tenant-a", 1), ("a-web", "10.0.0.11:80", "tenant-a", 1),
        ("(host)", "10.0.0.11", "tenant-a", 12), ("(host)", "10.0.0.11", "tenant-a", 31)], \
        "a-web's member is the host on tenant-a, not the one at the same address on default"


def test_a_dsr_pin_is_named_by_the_network_it_matches(rest, lbctl):
    """Two dsr VIPs at one address and port, on two networks: a pin (learned with reg9) is the
    VIP's of its network."""
    lbctl(rest.url, *TENANT_A_ARGS)
    for name, network in (("a-dsr", "tenant-a"), ("b-dsr", "default")):
        assert lbctl(rest.url, "vip", "create", name, "--network", network, "--mode", "dsr", "--address", "10.0.0.132",
                     "--port", "9000", "--member", "10.0.0.11")[0] == 0
    pins = "".join(
        " cookie=0xfffffffd00000000, duration=0.029s, table=18, n_packets=5, n_bytes=334, idle_timeout=5, priority=300,"
        "tcp,reg9=%s,nw_src=10.0.0.50,nw_dst=10.0.0.132,tp_src=33954,tp_dst=9000 actions=fin_timeout(idle_timeout=5),"
        "load:%s->NXM_NX_REG7[]\n" % (network, host) for network, host in (("0x1", "0x1"), ("0", "0x2")))
    assert [r[:4] for r in flow_rows(lbctl(rest.url, "flows", "-", stdin=pins)[1])] == [
        ["a-dsr", "10.0.0.11:9000", "tenant-a", "dsr_conn(18)"], ["b-dsr", "10.0.0.11:9000", "default", "dsr_conn(18)"]]


def test_flows_of_networks_without_the_controller_show_ids(lbctl):
    shown = flow_rows(lbctl(closed_port_url(), "flows", "-", stdin=TENANT_DUMP)[1])
    assert ["vip#1", "-", "network#1", "classify(1)"] in [r[:4] for r in shown]
    assert ["(network)", "network#1", "network#1", "ingress(0)"] in [r[:4] for r in shown]
    assert ["(network)", "default", "default", "classify(1)"] in [r[:4] for r in shown], "id 0 is always default"


def test_flows_without_the_controller_show_ids(lbctl):
    code, out, err = lbctl(closed_port_url(), "flows", "-", stdin=open(DUMP).read())
    assert code == 0 and err.startswith("lbctl: cannot reach the controller") and err.endswith(
        ": showing ids instead of names\n")
    assert ["vip#1", "member#2", "-", "commit(22)"] in [r[:4] for r in flow_rows(out)]
    assert "select, 256 buckets: host#1 x128, host#2 x128" in [r[5] for r in flow_rows(out) if r[1] == "group 3"]


def test_flows_from_the_api(fake, rest, three_vips, lbctl):
    lines = open(DUMP).read().splitlines()
    api = fake({("GET", "/v1/vips"): (200, rest("GET", "/v1/vips")[1]),
                ("GET", "/v1/flows"): (200, {"switches": [{
                    "dpid": "00000000000000aa", "flows": [line for line in lines if " actions=" in line],
                    "groups": [line for line in lines if "group_id=" in line]}]})})
    code, out, _ = lbctl(api.url, "flows", "--vip", "web")
    assert code == 0 and out.startswith("switch 00000000000000aa\nVIP ")
    assert ["web", "group 1", "-", "-", "-"] in [r[:5] for r in flow_rows(out.split("\n", 1)[1])]
    assert json.loads(lbctl(api.url, "--json", "flows")[1])[0]["dpid"] == "00000000000000aa"


def test_flows_from_the_real_api_with_no_switch(rest, lbctl):
    assert lbctl(rest.url, "flows") == (0, "VIP  MEMBER  NETWORK  TABLE  PACKETS  FLOW\n", "")


def test_flows_from_a_controller_without_the_endpoint(fake, lbctl):
    api = fake({("GET", "/v1/vips"): (200, [])})
    assert lbctl(api.url, "flows") == (1, "", "lbctl: this controller does not serve GET /v1/flows: pipe "
                                              "`ovs-ofctl -O OpenFlow13 dump-flows BRIDGE` into `lbctl flows -`\n")


# ---------------------------------------------------------------- trace

def annotated(out):
    return [line.split("   [")[1].rstrip("]") for line in out.splitlines() if line.endswith("]") and "   [" in line]


def test_trace_explain_names_tables_and_cookies(three_vips, lbctl):
    code, out, err = lbctl(three_vips.url, "trace", "--explain", "-", stdin=open(TRACE_ONE_ARM).read())
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == len(open(TRACE_ONE_ARM).read().splitlines())
    notes = annotated(out)
    assert notes[:2] == ["ingress", "classify; arm; network default"]
    assert [n for n in notes if ";" in n] == ["classify; arm; network default", "conntrack; arm",
                                              "commit; arm 198.18.0.12:9000", "locate; host 198.18.0.12"]
    assert notes[-2:] == ["to_member", "locate; host 198.18.0.12"], "to_member: the member's host from ct_label"
    assert (" 1. tcp,reg9=0,nw_dst=198.18.0.131,tp_dst=9000, priority 700, cookie 0x200000000   "
            "[classify; arm; network default]") in out
    code, out, _ = lbctl(three_vips.url, "trace", "--explain", "-", stdin=open(TRACE_DSR).read())
    assert [n for n in annotated(out) if ";" in n or n.startswith("dsr_")] == [
        "classify; direct; network default", "dsr_deliver; direct 198.18.0.12:9000", "locate; host 198.18.0.12"], \
        "stateless: the group's slot, no pin lookup"


def test_trace_explain_without_the_controller(lbctl):
    code, out, _ = lbctl(closed_port_url(), "trace", "--explain", TRACE_ONE_ARM)   # a file, as it is
    assert code == 0 and "commit; vip#2 member#2" in annotated(out)


# How ofproto/trace prints flows of `tenants` (a flow's match, its priority and cookie).
TENANT_TRACE = """\
 0. dl_vlan=101, priority 200, cookie 0xfffffffe00000001
 1. tcp,reg9=0x1,nw_dst=10.0.0.100,tp_dst=80, priority 700, cookie 0x100000000
 1. icmp,reg9=0,icmp_type=3, priority 500, cookie 0xfffffffe00000000
11. reg3=0xa000001,reg9=0x1, priority 300, cookie 0xfffffffe00000001
31. reg2=0x1, priority 300, cookie 0xffffffff00000001
31. reg2=0x2, priority 300, cookie 0xffffffff00000002
Flow: recirc_id=0x1,ct_state=new|trk,eth,tcp,reg4=0x80000001,reg9=0x1,in_port=5
"""


def test_trace_explain_names_networks(tenants, lbctl):
    assert annotated(lbctl(tenants.url, "trace", "--explain", "-", stdin=TENANT_TRACE)[1]) == [
        "ingress; network tenant-a", "classify; a-web; network tenant-a", "classify; network default",
        "owned; network tenant-a", "locate; host 10.0.0.11 on tenant-a", "locate; host 10.0.0.11"]


def test_trace_of_a_vip_on_a_vlan_network(tenants, lbctl):
    """The first packet comes tagged with the network's VLAN, but on its access ports; a learned
    client is looked up on the VIP's network."""
    tagged = lbctl(tenants.url, "trace", "--vip", "a-web", "--client", "10.0.0.50:40000", "--in-port", "5")[1]
    assert tagged.startswith("ovs-appctl ofproto/trace br0 tcp,in_port=5,dl_vlan=101,dl_dst=02:6c:00:00:10:01,"
                             "nw_src=10.0.0.50,nw_dst=10.0.0.100,")
    assert ",dl_vlan=" not in lbctl(tenants.url, "trace", "--vip", "a-web", "--client", "10.0.0.50", "--in-port", "21")[1]
    tenants.core.hosts.learn(1, ("tenant-a", "10.0.0.11"), "02:00:0a:00:00:0b", 21, now=1.0)
    assert lbctl(tenants.url, "trace", "--vip", "a-web", "--client", "10.0.0.11")[1].startswith(
        "ovs-appctl ofproto/trace br0 tcp,in_port=21,dl_src=02:00:0a:00:00:0b,dl_dst=02:6c:00:00:10:01,")
    assert lbctl(tenants.url, "trace", "--vip", "b-web", "--client", "10.0.0.11") == (
        2, "", "lbctl: --in-port: client 10.0.0.11 is not a host the controller knows: give the switch port its "
               "packets come in on\n"), "the host learned is on tenant-a, b-web's clients on default"


@pytest.mark.parametrize("vip, command", [
    ("web", "ovs-appctl ofproto/trace br0 tcp,in_port=1,dl_dst=02:6c:00:00:00:01,nw_src=198.18.0.10,"
            "nw_dst=198.18.0.100,nw_ttl=64,tcp_src=40000,tcp_dst=80,tcp_flags=syn --ct-next trk,new --ct-next trk,new,dnat"),
    ("arm", "ovs-appctl ofproto/trace br0 tcp,in_port=1,dl_dst=02:6c:00:00:00:01,nw_src=198.18.0.10,"
            "nw_dst=198.18.0.131,nw_ttl=64,tcp_src=40000,tcp_dst=9000,tcp_flags=syn --ct-next trk,new "
            "--ct-next trk,new,snat"),
    ("direct", "ovs-appctl ofproto/trace br0 tcp,in_port=1,dl_dst=02:6c:00:00:00:01,nw_src=198.18.0.10,"
               "nw_dst=198.18.0.132,nw_ttl=64,tcp_src=40000,tcp_dst=9000,tcp_flags=syn"),
])
def test_trace_prints_the_command_for_the_first_packet(three_vips, lbctl, vip, command):
    assert lbctl(three_vips.url, "trace", "--vip", vip, "--client", "198.18.0.10:40000", "--in-port", "1") == (
        0, command + "\n", "")


def test_trace_of_a_udp_vip_from_a_learned_host(rest, lbctl):
    """The controller learns its members alone: a member that is the client of a VIP is found."""
    rest("POST", "/v1/vips", {"name": "dns", "address": "198.18.0.101", "port": 53, "protocol": "udp",
                              "members": [{"address": "198.18.0.11", "port": 5353}]})
    rest.core.hosts.learn(1, ("default", "198.18.0.11"), "02:00:c6:12:00:0b", 7, now=1.0)
    assert lbctl(rest.url, "trace", "--vip", "dns", "--client", "198.18.0.11", "--bridge", "br1")[1] == (
        "ovs-appctl ofproto/trace br1 udp,in_port=7,dl_src=02:00:c6:12:00:0b,dl_dst=02:6c:00:00:00:01,"
        "nw_src=198.18.0.11,nw_dst=198.18.0.101,nw_ttl=64,udp_src=49152,udp_dst=53 "
        "--ct-next trk,new --ct-next trk,new,dnat\n")


def test_trace_of_an_unknown_client_needs_its_port(three_vips, lbctl):
    code, _, err = lbctl(three_vips.url, "trace", "--vip", "web", "--client", "198.18.0.99")
    assert (code, err) == (2, "lbctl: --in-port: client 198.18.0.99 is not a host the controller knows: "
                              "give the switch port its packets come in on\n")


FAKE_APPCTL = """\
import json, sys
with open(sys.argv[1], "a") as calls:
    calls.write(json.dumps(sys.argv[2:]) + "\\n")
resumed = "Flow: recirc_id=0x10,dp_hash"    # where the saved trace went on after the group's hash
first, _, rest = open(sys.argv[2]).read().partition(resumed)
sys.stdout.write(resumed + rest if sys.argv[5].startswith("recirc_id=0x10,") else first)
"""


def test_trace_run_follows_the_select_group(three_vips, lbctl, tmp_path):
    """Run with a stand-in for ovs-appctl that answers with the saved trace, cut where the first
    run stopped at the group's hash: lbctl must go on from that recirculation, with the slot's hash."""
    (tmp_path / "appctl.py").write_text(FAKE_APPCTL)
    calls = tmp_path / "calls"
    (tmp_path / "trace.txt").write_text(open(TRACE_ONE_ARM).read())
    appctl = "%s %s %s %s" % (sys.executable, tmp_path / "appctl.py", calls, tmp_path / "trace.txt")
    code, out, err = lbctl(three_vips.url, "trace", "--vip", "arm", "--client", "198.18.0.10:40000", "--in-port", "1",
                           "--bridge", "lcx1br", "--run", "--slot", "3", "--appctl", appctl)
    assert (code, err) == (0, "")
    first, second = [json.loads(line)[1:] for line in calls.read_text().splitlines()]
    assert first[-5].endswith(",tcp_flags=syn") and first[-4:] == ["--ct-next", "trk,new", "--ct-next", "trk,new,snat"]
    assert second[:2] == ["ofproto/trace", "lcx1br"]
    assert second[2].startswith("recirc_id=0x10,dp_hash=0x103,ct_state=new|trk,ct_zone=65,tcp,reg4=0x2,in_port=1,")
    assert second[3:] == ["--ct-next", "trk,new,snat"], "the lookup's state is used; the commits' is next"
    assert out.count("\n$ ") == 1 and out.startswith("$ ")
    assert "commit; arm 198.18.0.12:9000" in annotated(out)
    assert annotated(out)[-2:] == ["to_member", "locate; host 198.18.0.12"]


def test_trace_run_without_a_switch_exits_3(three_vips, lbctl, tmp_path):
    code, out, err = lbctl(three_vips.url, "trace", "--vip", "web", "--client", "198.18.0.10", "--in-port", "1",
                           "--run", "--appctl", "ovs-appctl -t %s" % (tmp_path / "none.ctl"))
    assert code == 3 and out == "" and err.startswith("lbctl: ofproto/trace failed: ovs-appctl: cannot connect to")
