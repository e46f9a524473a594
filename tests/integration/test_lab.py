"""The harness itself: hosts reach each other through the private switch, members log the real
client address, stop() -- also from a later process, after a crash -- leaves nothing behind,
and a restarted controller gets its switch back with the flows still in place.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab import Lab, free_tcp_port
from lab.record import proc_start_time

REPO_ROOT = Path(__file__).resolve().parents[2]


def namespaces_with(prefix):
    return sorted(name for name in os.listdir("/run/netns") if name.startswith(f"{prefix}-"))


def root_links_with(prefix):
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(link["ifname"] for link in json.loads(out) if link["ifname"].startswith(prefix))


def pids_in_namespaces(prefix):
    pids = set()
    for name in namespaces_with(prefix):
        out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
        pids.update(int(pid) for pid in out.split())
    return pids


def recorded_pids(workdir):
    record = json.loads((Path(workdir) / "lab.json").read_text())
    return {entry["pid"] for entry in record["processes"].values()}


def running(pids):
    return sorted(pid for pid in pids if proc_start_time(pid) is not None)


def assert_nothing_left(prefix, pids):
    assert namespaces_with(prefix) == []
    assert root_links_with(prefix) == []
    assert running(pids) == []


def test_client_reaches_member_through_the_switch_and_stop_removes_everything(lab):
    lab.ofctl("add-flow", "priority=0,actions=NORMAL")

    reply = lab.run("client", ["curl", "-s", "-m", "5", "http://198.18.0.11:8080/"])

    assert reply.stdout == "m1\n"
    assert lab.access_log("m1") == ["198.18.0.10"]
    # The switch's own devices live in its namespace, never in the root one.
    assert root_links_with(lab.prefix) == []

    pids = recorded_pids(lab.workdir) | pids_in_namespaces(lab.prefix)
    assert len(running(pids)) >= 2 + 1 + 3 * 2  # OVS pair, relay, nginx masters and workers
    lab.stop()

    assert_nothing_left(lab.prefix, pids)
    assert not (lab.workdir / "lab.json").exists()


CRASHING_RUN = """
import os, sys
from lab import Lab
workdir, prefix, bridge, of_port = sys.argv[1:]
lab = Lab(workdir, prefix, bridge, int(of_port)).start()
lab.add_host("m1", "198.18.0.11", ofport=1)
lab.start_http("m1", ports=(8080,))
os._exit(1)  # dies without stop()
"""


def test_a_later_process_removes_what_a_crashed_run_left(make_lab):
    crashed = make_lab()
    subprocess.run([sys.executable, "-c", CRASHING_RUN, crashed.workdir, crashed.prefix,
                    crashed.bridge, str(crashed.of_port)],
                   cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    pids = recorded_pids(crashed.workdir) | pids_in_namespaces(crashed.prefix)
    assert namespaces_with(crashed.prefix) == [f"{crashed.prefix}-m1", f"{crashed.prefix}-switch"]
    assert len(running(pids)) >= 5  # ovsdb-server, ovs-vswitchd, relay, nginx master + worker

    later = Lab.attach(crashed.workdir)  # knows the run only from its record file
    assert sorted(later.hosts) == ["m1"]
    later.stop()

    assert_nothing_left(crashed.prefix, pids)


def ryu_manager_unusable():
    ryu_manager = Path(sys.executable).parent / "ryu-manager"
    if not ryu_manager.exists():
        return f"no {ryu_manager}"
    # ryu-manager imports ryu.app.wsgi first; on Python 3.11 that needs lbctl_ryu_compat.
    probe = subprocess.run([sys.executable, "-c", "import ryu.app.wsgi"], capture_output=True,
                           text=True, cwd="/")
    if probe.returncode != 0:
        return "ryu-manager cannot start in this venv (run setup.sh): " + \
            probe.stderr.strip().splitlines()[-1]
    return None


def wait_for(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout:.0f} s"
        time.sleep(0.1)


def test_switch_keeps_its_flows_and_reconnects_when_the_controller_restarts(make_lab):
    reason = ryu_manager_unusable()
    if reason:
        pytest.skip(reason)
    lab = make_lab().start()
    config = lab.workdir / "ryu.conf"
    config.write_text("[DEFAULT]\n")
    rest = free_tcp_port()

    def switches():
        with urllib.request.urlopen(f"http://127.0.0.1:{rest}/stats/switches", timeout=5) as r:
            return json.load(r)

    # A stock Ryu app with a REST API: this tests the harness, not lbctl_app.
    lab.start_controller(config, rest, app="ryu.app.ofctl_rest")
    lab.wait_connected()
    wait_for(lambda: switches() == [int(lab.dpid, 16)], "the switch in the controller")
    lab.ofctl("add-flow", "priority=0,actions=NORMAL")

    lab.stop_controller()
    wait_for(lambda: not lab.is_connected(), "the switch losing its controller")
    assert "actions=NORMAL" in lab.ofctl("dump-flows")  # fail_mode=secure keeps them

    lab.start_controller(config, rest, app="ryu.app.ofctl_rest")
    lab.wait_connected()
    wait_for(lambda: switches() == [int(lab.dpid, 16)], "the switch back in the controller")
    assert "actions=NORMAL" in lab.ofctl("dump-flows")
