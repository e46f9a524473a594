"""Drive a real `ryu-manager lbctl_app` running against a lab: start and stop it, call its REST API,
compute what its switch should hold, and make real connections from the client namespace."""
import json
import re
import sys
import time
from collections import Counter
import urllib.error
import urllib.request


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

    def start(self):
        self.lab.start_controller(self.config_files, self.rest_port)
        self.lab.wait_connected()
        wait_for(lambda: self.call("GET", "/v1/stats")[1]["switches"] == 1, "the switch in lbctl")
        return self

    def stop(self):
        self.lab.stop_controller()

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
        """What the switch should hold, computed from the VIPs it started with and the learned hosts."""
        # Imported here: they bring in Ryu and eventlet, which the demo does not need.
        from flows.desired import Settings, desired_state
        from flows.render import state_text
        from lbctl_app import store
        from lbctl_app.app import parse_gateways
        from lbctl_app.hosts import Place
        vips, _ = store.initial_vips(str(self.state_file), str(self.vips_file))
        places = {(h["ip"]): Place(h["mac"], h["port"]) for h in self.call("GET", "/v1/hosts")[1]}
        gateways = parse_gateways(self.options.get("gateways", "").split(",") if self.options.get("gateways") else [])
        return state_text(desired_state(vips.vips, places, Settings(gateways=gateways)))


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


def connect(lab, address, port, count):
    """`count` new HTTP connections from the client to address:port -> {"200 m1": n, ...}."""
    out = lab.run("client", [sys.executable, "-c", HTTP_CLIENT, address, str(port), str(count)],
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
