"""The harness itself: hosts reach each other through the private switch, members log the real
client address, stop() -- also from a later process, after a crash -- leaves nothing behind,
and a restarted controller gets its switch back with the flows still in place.

The tenant lab (lab/topology.py `build_tenants`), NORMAL flows only: two tenants on VLANs 101
and 102 with the same address plan each reach their own hosts and never the other's, frames
cross the trunk tagged with their tenant's VLAN, and stop() removes it all.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab import Lab, free_tcp_port, topology
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


# -- the tenant lab ---------------------------------------------------------------------------

TRUNK = topology.TRUNK_OFPORT
A_ONLY = "10.0.0.20"  # an address only tenant A uses: a host the fixture adds to A alone

# Counting flows above NORMAL on the trunk port of each bridge: what arrives there, by VLAN.
ARRIVING_ON_TRUNK = {"101": "dl_vlan=101", "102": "dl_vlan=102",
                     "untagged": "vlan_tci=0x0000/0x1000"}


@pytest.fixture(scope="module")
def tenants(make_lab_module):
    lab = make_lab_module().start()
    built = topology.build_tenants(lab)
    lab.add_host("a-only", A_ONLY, topology.TENANT_PREFIXLEN, vlan=101,
                 bridge=built.access.bridge)
    lab.ofctl("add-flow", "priority=0,actions=NORMAL")
    for bridge in (lab.bridge, built.access.bridge):
        for match in ARRIVING_ON_TRUNK.values():
            lab.ofctl("add-flow", f"priority=10,in_port={TRUNK},{match},actions=NORMAL",
                      bridge=bridge)
    return lab, built


def curl(lab, client, address):
    return lab.run(client, ["curl", "-s", "-m", "5", f"http://{address}:8080/"]).stdout


def ping(lab, client, address):
    return lab.run(client, ["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0


def trunk_arrivals(lab, bridge):
    """Packets counted so far arriving on the trunk port of `bridge`, by VLAN."""
    lab.switch.appctl("revalidator/wait")  # datapath flows credit their counts to it
    dump = lab.ofctl("dump-flows", f"in_port={TRUNK}", bridge=bridge)
    counts = {}
    for vlan, match in ARRIVING_ON_TRUNK.items():
        line, = [line for line in dump.splitlines() if f",{match} " in line]
        counts[vlan] = int(line.split("n_packets=")[1].split(",")[0])
    return counts


def rx_packets(lab, host):
    out = lab.run(host, ["ip", "-j", "-s", "link", "show", "eth0"]).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def neighbour(lab, host, address):
    """The MAC `host` has for `address` (None: it has none)."""
    out = lab.run(host, ["ip", "-j", "neigh", "show", address]).stdout
    return next((entry.get("lladdr") for entry in json.loads(out or "[]")), None)


def test_each_tenants_client_reaches_its_own_member_at_the_shared_address(tenants):
    lab, built = tenants
    a, b = built.tenants["a"].hosts, built.tenants["b"].hosts
    seen_by = {host: len(lab.access_log(host)) for host in (a["m1"], b["m1"])}

    assert ping(lab, a["client"], "10.0.0.11")
    assert curl(lab, a["client"], "10.0.0.11") == "a-m1\n"
    assert len(lab.access_log(a["m1"])) == seen_by[a["m1"]] + 1
    assert len(lab.access_log(b["m1"])) == seen_by[b["m1"]]

    assert ping(lab, b["client"], "10.0.0.11")
    assert curl(lab, b["client"], "10.0.0.11") == "b-m1\n"
    assert len(lab.access_log(a["m1"])) == seen_by[a["m1"]] + 1
    assert len(lab.access_log(b["m1"])) == seen_by[b["m1"]] + 1
    # Same address, distinct MACs: each client resolved its own tenant's member.
    assert neighbour(lab, a["client"], "10.0.0.11") == a["m1"].mac == "06:65:0a:00:00:0b"
    assert neighbour(lab, b["client"], "10.0.0.11") == b["m1"].mac == "06:66:0a:00:00:0b"


def test_a_client_reaches_its_member_on_the_lbctl_bridges_own_access_port(tenants):
    lab, built = tenants
    for tenant in built.tenants.values():
        hosts = tenant.hosts
        assert hosts["m3"].bridge == lab.bridge and hosts["m3"].vlan == tenant.vlan
        assert ping(lab, hosts["client"], "10.0.0.13")
        assert curl(lab, hosts["client"], "10.0.0.13") == f"{tenant.name}-m3\n"


def test_frames_cross_the_trunk_tagged_with_their_tenants_vlan(tenants):
    lab, built = tenants
    a = built.tenants["a"].hosts
    before = {bridge: trunk_arrivals(lab, bridge) for bridge in (lab.bridge, built.access.bridge)}

    # a-client is behind the trunk, a-m3 on the lbctl bridge: the request crosses one way,
    # the answer the other.
    assert curl(lab, a["client"], "10.0.0.13") == "a-m3\n"

    for bridge, counted in before.items():
        after = trunk_arrivals(lab, bridge)
        assert after["101"] > counted["101"], f"tagged 101 arriving on {bridge}'s trunk port"
        assert after["102"] == counted["102"], f"nothing of tenant B on {bridge}'s trunk port"
        assert after["untagged"] == 0, f"no untagged frame ever on {bridge}'s trunk port"


def test_no_frame_of_one_tenant_reaches_the_other(tenants):
    lab, built = tenants
    a, b = built.tenants["a"].hosts, built.tenants["b"].hosts
    assert ping(lab, a["client"], A_ONLY)  # it is there, for its own tenant
    elsewhere = [*a.values(), lab.host("a-only"), built.provider_client]
    for host in [*elsewhere, b["client"]]:
        # Nothing left that a host might resolve again on its own while we count.
        lab.run(host, ["ip", "neigh", "flush", "all"])
    counted = {host.name: rx_packets(lab, host) for host in elsewhere}

    # Broadcasts (ARP for every address) and unicast of tenant B, with A's whole plan.
    for address in ("10.0.0.11", "10.0.0.12", "10.0.0.13"):
        assert ping(lab, b["client"], address)
    assert not ping(lab, b["client"], A_ONLY)

    assert neighbour(lab, b["client"], A_ONLY) is None
    assert neighbour(lab, b["client"], "10.0.0.13") == b["m3"].mac
    assert {host.name: rx_packets(lab, host) for host in elsewhere} == counted


def test_a_host_on_the_access_bridge_needs_a_vlan_and_a_refused_host_leaves_nothing(tenants):
    lab, built = tenants
    with pytest.raises(ValueError, match="needs a vlan"):
        lab.add_host("a-stray", "10.0.0.30", bridge=built.access.bridge)
    with pytest.raises(ValueError, match="vlan 4095"):
        lab.add_host("a-stray", "10.0.0.30", vlan=4095)
    assert "a-stray" not in lab.hosts
    assert f"{lab.prefix}-a-stray" not in namespaces_with(lab.prefix)


def test_stop_removes_the_tenant_lab_also_from_its_record(make_lab):
    lab = make_lab().start()
    built = topology.build_tenants(lab)
    assert len(lab.hosts) == 1 + 2 * 4
    pids = recorded_pids(lab.workdir) | pids_in_namespaces(lab.prefix)
    assert len(running(pids)) >= 2 + 1 + 6 * 2  # OVS pair, relay, nginx masters and workers

    later = Lab.attach(lab.workdir)  # knows the access bridge and the VLANs from the record
    assert later.access_bridges == {built.access.bridge: built.access}
    assert later.hosts == lab.hosts
    later.stop()

    assert_nothing_left(lab.prefix, pids)
    assert not (lab.workdir / f"{built.access.bridge}.mgmt").exists()
    assert not (lab.workdir / "lab.json").exists()
