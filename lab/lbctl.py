"""Drive a real `ryu-manager lbctl_app` running against a lab: start and stop it, call its REST API,
compute what its switch should hold, and make real connections from the client namespace."""
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path


CONFIG = """\
[lbctl]
vips_file = {vips_file}
state_file = {state_file}
probe_period = 0.2
"""

# Runs inside the client namespace: N fresh HTTP connections, each answered by one member.
HTTP_CLIENT = """
import collections, http.client, json, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for _ in range(count):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        reply = conn.getresponse()
        seen["%d %s" % (reply.status, reply.read().decode().strip())] += 1
    except OSError as e:
        seen["error " + type(e).__name__] += 1
    finally:
        conn.close()
print(json.dumps(seen))
"""


# Runs in a member: a UDP echo service on port 5353 that says which member answered. A UDP socket
# bound to 0.0.0.0 answers from the address the route picks, so a dsr member binds the VIP.
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0", 5353))   # dsr: bind the VIP, answer from it
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data + b" from " + sys.argv[1].encode(), peer)
"""
# Runs in the client: N datagrams from N source ports to VIP:port (53 unless given), each answer
# checked; prints the members that answered.
UDP_ASK = """
import collections, socket, sys
members = collections.Counter()
port = int(sys.argv[3]) if len(sys.argv) > 3 else 53
for i in range(int(sys.argv[2])):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:   # a new source port: a new flow
        s.settimeout(2)
        s.connect((sys.argv[1], port))   # connected: only a reply from the VIP address is accepted
        s.send(b"ping %d" % i)
        text, member = s.recv(2048).decode().split(" from ")
        assert text == "ping %d" % i
        members[member] += 1
print(" ".join(sorted(members)))
"""

REPO_VIPS = Path(__file__).resolve().parents[1] / "config" / "vips.yaml"


def served_by(seen):
    """connect()'s result -> {member: connections}, after checking every answer was a 200."""
    assert all(key.startswith("200 ") for key in seen), seen
    return {key.split()[1]: n for key, n in seen.items()}


# Runs in a member: a TCP service on port 9000 that answers every line with the member's name, for
# as long as the connection stays open (nginx here closes after each response).
NAME_SERVER = """
import socketserver, sys
class Answer(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(sys.argv[1].encode() + b"\\n")
socketserver.ThreadingTCPServer(("0.0.0.0", 9000), Answer).serve_forever()
"""
# Runs in the client: one TCP connection; asks who answers, waits for a line on stdin, asks again.
ONE_CONNECTION = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    answers = s.makefile()
    for _ in range(2):
        s.sendall(b"who\\n")
        print(answers.readline().strip(), flush=True)
        sys.stdin.readline()
"""
# Runs in the client: N new TCP connections, each asking once; prints who answered each.
NEW_CONNECTIONS = """
import socket, sys
for _ in range(int(sys.argv[3])):
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
        s.sendall(b"who\\n")
        print(s.makefile().readline().strip())
"""


class Controller:
    """A running `ryu-manager lbctl_app` for one lab."""

    def __init__(self, lab, rest_port, vips_file, base_config=None, options=None):
        """`base_config`: a ryu-manager config file read first (the demo passes config/lbctl.conf);
        a file in the workdir then points [lbctl] at `vips_file` and a state file in the workdir,
        and sets any further [lbctl] `options` (a dict, e.g. {"duplicate_moves": 1000})."""
        self.lab = lab
        self.rest_port = rest_port
        self.vips_file = vips_file
        self.state_file = lab.workdir / "state.msgpack"
        override = lab.workdir / "lbctl.conf"
        extra = "".join("%s = %s\n" % item for item in (options or {}).items())
        override.write_text(CONFIG.format(vips_file=vips_file, state_file=self.state_file) + extra)
        self.config_files = [base_config, override] if base_config else [override]
        self.options = dict(options or {})

    def start(self, switches=1):
        """Start it and wait until it has the lab's `switches` switches."""
        self.lab.start_controller(self.config_files, self.rest_port)
        self.lab.wait_connected()
        wait_for(lambda: self.call("GET", "/v1/stats")[1]["switches"] == switches, "the switches in lbctl")
        return self

    def stop(self, kill=False):
        self.lab.stop_controller(kill)

    def log(self):
        """The controller's own lines (lbctl's log messages) so far."""
        log = self.lab.workdir / "controller.log"
        return [line for line in log.read_text(errors="replace").splitlines()
                if line.startswith(("switch ", "member ", "lbctl", "host ", "ownership"))]

    def refusals(self):
        """Lines of the controller's log where the switch refused a message: there should be none."""
        log = self.lab.workdir / "controller.log"
        return [line for line in log.read_text(errors="replace").splitlines() if "refused a message" in line]

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.rest_port, path), data=data,
                                         method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                status, text = reply.status, reply.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        return status, (json.loads(text) if text else None)

    def wait_resolved(self, name):
        """Until every member of VIP `name` has a known MAC and port."""
        wait_for(lambda: all(m["locations"] for m in self.call("GET", "/v1/vips/" + name)[1]["members"]),
                 "members of %s resolved" % name)

    def expected_switch_text(self):
        """What the switch should hold, computed from the VIPs it started with and the learned hosts
        (for VIPs without a health monitor: their members' health is the controller's to know)."""
        # Imported here: they bring in Ryu and eventlet, which the demo does not need.
        from flows.desired import Settings, desired_state
        from flows.text import state_text
        from lbctl import store
        from lbctl.hosts import Place
        from lbctl.networks import default_network
        from lbctl_app.options import parse_gateways
        gateways = parse_gateways(self.options.get("gateways", "").split(",") if self.options.get("gateways") else [])
        default = default_network(gateways, monitor_address=self.options.get("monitor_address"))
        config, _ = store.initial_config(str(self.state_file), str(self.vips_file), default=default)
        places = {h["id"]: Place(h["mac"], h["port"]) for h in self.call("GET", "/v1/hosts")[1]}
        return state_text(desired_state(config.vips, places, Settings(networks=config.networks)))


def switch_text(lab):
    """The switch's flows, groups and meters as `ovs-ofctl` prints them, without counters (a
    meter's two lines joined by a space)."""
    lines = lab.ofctl("dump-flows", "--no-stats").splitlines() + lab.ofctl("dump-groups").splitlines()
    meters = lab.ofctl("dump-meters").replace("bands=\n", "bands= ").splitlines()
    return sorted(line.strip() for line in lines + meters if line.strip() and not line.startswith("OFPST_"))


def shares(lines):
    """The same lines with each select group's buckets counted rather than listed in order, and
    slot flows without their slot number: a slot table's order depends on the history of its
    members, its shares do not."""
    out = []
    for line in lines:
        line = re.sub(r",reg1=(0x[0-9a-f]+|0),", ",reg1=*,", line)
        if line.startswith("group_id="):
            head, _, buckets = line.partition(",bucket=")
            counted = Counter(buckets.split(",bucket=") if buckets else [])
            line = head + "".join(" %dx[%s]" % (n, b) for b, n in sorted(counted.items()))
        out.append(line)
    return sorted(out)


def connect(lab, address, port, count, host="client"):
    """`count` new HTTP connections from `host` to address:port -> {"200 m1": n, ...}."""
    out = lab.run(host, [sys.executable, "-c", HTTP_CLIENT, address, str(port), str(count)],
                  timeout=120).stdout
    return json.loads(out)


def wait_for(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (OSError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("%s not seen within %.0f s" % (what, timeout))
        time.sleep(0.1)
