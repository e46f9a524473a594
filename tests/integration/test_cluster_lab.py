"""The cluster lab (lab/cluster.py) with plain flows and no lbctl: balancer switches on a stick
in a Linux-bridge fabric, one controller port for all (here lab/fakecontroller.py, which notes
what a controller would see), and the failures a takeover must survive: a balancer's
ovs-vswitchd killed and restarted, its uplink cut and restored, a gratuitous ARP moving a MAC
in the fabric, and stop() leaving nothing behind.
"""

import json
import os
import secrets
import subprocess
import time
import urllib.request

import pytest

from lab import free_tcp_port, topology, unavailable_reason
from lab.cluster import Cluster
from lab.fakecontroller import FakeController
from lab.record import proc_start_time

from tests.integration.test_lab import (namespaces_with, pids_in_namespaces, recorded_pids,
                                       root_links_with, running, ryu_manager_unusable)

GROUP_MAC = "02:6c:00:00:00:01"   # a redundancy group's MAC (flows/pipeline.py own_mac layout)
GROUP_IP = "198.18.0.100"         # the address its GARPs announce
UPLINK = 50


def new_cluster(tmp_path_factory, balancers=("a", "b")):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    return Cluster(tmp_path_factory.mktemp("cluster"), "lc" + secrets.token_hex(2),
                   free_tcp_port(), balancers)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = new_cluster(tmp_path_factory)
    try:
        cluster.start()
        topology.build_fabric(cluster)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def controller(cluster):
    with FakeController(cluster.of_port) as controller:
        cluster.reconnect_switches()
        wait_for(lambda: controller.connected() == dpids(cluster), "both balancers connected")
        yield controller


@pytest.fixture
def flows(cluster):
    """Each test starts with every balancer running, its uplink up and no flows, and leaves
    them so."""
    for name in cluster.balancers:
        cluster.ofctl(name, "del-flows")
    yield
    for name in cluster.balancers:
        if cluster.vswitchd_pid(name) is None:
            cluster.restart_switch(name)
        cluster.ofctl(name, "del-flows")
        cluster.restore_uplink(name)


def dpids(cluster):
    return sorted(balancer.dpid for balancer in cluster.balancers.values())


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout:.0f} s"
        time.sleep(0.01)


def curl(cluster, address, timeout=5):
    return cluster.run("client", ["curl", "-s", "-m", str(timeout), f"http://{address}:8080/"],
                       check=False).stdout


def packets(cluster, name, text):
    """n_packets of the one flow of balancer `name` whose dump shows `text`."""
    cluster.appctl(name, "revalidator/wait")  # datapath flows credit their counts to it
    line, = [line for line in cluster.ofctl(name, "dump-flows").splitlines()[1:] if text in line]
    return int(line.split("n_packets=")[1].split(",")[0])


def test_the_client_reaches_a_member_across_the_fabric_beside_the_balancers(cluster, flows):
    cluster.ofctl("a", "add-flow", "priority=0,actions=NORMAL")
    cluster.ofctl("b", "add-flow", "priority=0,actions=drop")
    cluster.run("client", ["ip", "neigh", "flush", "all"])  # an ARP broadcast first, again

    assert curl(cluster, "198.18.0.11") == "m1\n"

    assert cluster.access_log("m1")[-1] == "198.18.0.10"
    client, m1 = cluster.host("client"), cluster.host("m1")
    fdb = cluster.fabric_fdb()
    assert fdb[client.mac] == client.port_name == f"{cluster.prefix}client"
    assert fdb[m1.mac] == m1.port_name
    # Both balancers hang on the segment: the client's ARP broadcast reached each.
    assert packets(cluster, "a", "actions=NORMAL") > 0
    assert packets(cluster, "b", "actions=drop") > 0


def test_each_balancer_has_its_own_dpid_and_connection_to_the_one_controller_port(
        cluster, controller):
    assert len(set(dpids(cluster))) == 2
    assert controller.connected() == dpids(cluster)
    for name, balancer in cluster.balancers.items():
        assert cluster.is_connected(name)
        # Its relay's socket, in its run directory (reconnect_switches() swaps the spellings).
        target = cluster.vsctl(name, "get", "controller", balancer.bridge, "target")
        assert target.strip().strip('"') in (f"unix:{balancer.rundir}/of-relay.sock",
                                             "unix:of-relay.sock")
        assert cluster.vsctl(name, "get", "bridge", balancer.bridge,
                             "other-config:datapath-id").strip().strip('"') == balancer.dpid


def test_a_killed_balancer_drops_its_connection_and_comes_back_without_flows(
        cluster, controller, flows):
    a, b = cluster.balancer("a"), cluster.balancer("b")
    cluster.ofctl("a", "add-flow", "priority=0,actions=drop")
    pid = cluster.vswitchd_pid("a")

    killed_at = cluster.kill_switch("a")

    assert proc_start_time(pid) is None
    assert cluster.vswitchd_pid("a") is None
    controller.wait_for("disconnected", a.dpid, after=killed_at)
    wait_for(lambda: not cluster.is_connected("a"), "the relay closing a's connection")
    assert controller.connected() == [b.dpid]
    assert cluster.is_connected("b")

    restarted_at = time.monotonic()
    cluster.restart_switch("a")

    assert cluster.vswitchd_pid("a") not in (None, pid)
    controller.wait_for("connected", a.dpid, after=restarted_at)
    assert cluster.ofctl("a", "dump-flows").splitlines()[1:] == []
    assert cluster.uplink_state("a") == "LIVE"
    assert cluster.vsctl("a", "get", "interface", "uplink", "ofport").strip() == str(UPLINK)


def test_a_cut_uplink_goes_link_down_and_the_fabric_forgets_what_it_learned_there(
        cluster, controller, flows):
    a = cluster.balancer("a")
    cluster.send_garp("a", GROUP_IP, GROUP_MAC)
    assert cluster.fabric_fdb()[GROUP_MAC] == a.fabric_port

    cut_at = cluster.cut_uplink("a")

    controller.wait_for("port_status", a.dpid, after=cut_at, port=UPLINK, link_down=True)
    assert cluster.uplink_state("a") == "LINK_DOWN"
    assert GROUP_MAC not in cluster.fabric_fdb()
    assert cluster.is_connected("a"), "the OpenFlow connection is out of band: it stays"

    restored_at = cluster.restore_uplink("a")

    controller.wait_for("port_status", a.dpid, after=restored_at, port=UPLINK, link_down=False)
    assert cluster.uplink_state("a") == "LIVE"


def test_a_gratuitous_arp_moves_a_mac_in_the_fabric_to_the_port_it_came_from(cluster, flows):
    a, b = cluster.balancer("a"), cluster.balancer("b")
    for sender in (a, b, a):
        cluster.send_garp(sender.name, GROUP_IP, GROUP_MAC)
        # The bridge learns on receipt; here that was before ovs-ofctl had returned.
        wait_for(lambda: cluster.fabric_fdb().get(GROUP_MAC) == sender.fabric_port,
                 f"{GROUP_MAC} on {sender.fabric_port}", timeout=1.0)


def test_traffic_through_the_active_balancer_follows_a_takeover_by_garp(cluster, flows):
    """The client's frames to m1 go to the group MAC (a static neighbour entry), the balancer
    that has it rewrites them to m1 and sends them back out of the port they came in on; m1
    answers the client directly. The balancer also puts its own MAC in the source: hairpinned
    with the client's, the fabric would learn the client on the balancer's port."""
    m1, client = cluster.host("m1"), cluster.host("client")
    hairpin = (f"priority=10,in_port={UPLINK},dl_dst={GROUP_MAC},"
               f"actions=mod_dl_src:{GROUP_MAC},mod_dl_dst:{m1.mac},IN_PORT")
    for name in ("a", "b"):
        cluster.ofctl(name, "add-flow", hairpin)
    cluster.run("client", ["ip", "neigh", "replace", m1.ip, "lladdr", GROUP_MAC,
                           "dev", "eth0", "nud", "permanent"])
    try:
        cluster.send_garp("a", GROUP_IP, GROUP_MAC)  # a is active
        assert curl(cluster, m1.ip) == "m1\n"
        assert packets(cluster, "a", f"dl_dst={GROUP_MAC}") > 0
        assert packets(cluster, "b", f"dl_dst={GROUP_MAC}") == 0
        assert cluster.fabric_fdb()[client.mac] == client.port_name

        cluster.kill_switch("a")
        # The fabric still sends the group MAC to a's port, whose link is up: a black hole.
        assert curl(cluster, m1.ip, timeout=1) == ""

        cluster.send_garp("b", GROUP_IP, GROUP_MAC)  # b takes over
        assert curl(cluster, m1.ip) == "m1\n"
        assert packets(cluster, "b", f"dl_dst={GROUP_MAC}") > 0
        assert cluster.access_log("m1")[-1] == client.ip
    finally:
        cluster.run("client", ["ip", "neigh", "del", m1.ip, "dev", "eth0"], check=False)


def test_one_ryu_manager_on_one_port_has_every_balancer_and_loses_a_killed_one(
        tmp_path_factory):
    reason = ryu_manager_unusable()
    if reason:
        pytest.skip(reason)
    cluster = new_cluster(tmp_path_factory)
    try:
        cluster.start()
        config = cluster.workdir / "ryu.conf"
        config.write_text("[DEFAULT]\n")
        rest = free_tcp_port()

        def switches():
            with urllib.request.urlopen(f"http://127.0.0.1:{rest}/stats/switches", timeout=5) as r:
                return sorted(json.load(r))

        # A stock Ryu app with a REST API: this tests the lab, not lbctl_app.
        cluster.start_controller(config, rest, app="ryu.app.ofctl_rest")
        cluster.wait_connected()
        wait_for(lambda: switches() == [1, 2], "both balancers in the controller")

        cluster.kill_switch("a")
        wait_for(lambda: switches() == [2], "the controller dropping balancer a")
        cluster.restart_switch("a")
        wait_for(lambda: switches() == [1, 2], "balancer a back in the controller")
    finally:
        cluster.stop()


def test_stop_removes_every_namespace_veth_and_daemon_also_from_a_later_process(
        tmp_path_factory):
    cluster = new_cluster(tmp_path_factory, balancers=("a", "b", "c"))
    try:
        cluster.start()
        topology.build_fabric(cluster)
        prefix = cluster.prefix
        assert namespaces_with(prefix) == sorted(
            f"{prefix}-{name}" for name in ("a", "b", "c", "fabric", "client", "m1", "m2", "m3"))
        fabric_links = subprocess.run(["ip", "-n", cluster.fabric_netns, "-o", "link"],
                                      capture_output=True, text=True, check=True).stdout
        for port in [f"{prefix}_a", f"{prefix}_b", f"{prefix}_c", f"{prefix}client"]:
            assert f" {port}@" in fabric_links
        assert len(set(dpids(cluster))) == 3
        # A crashed switch and a cut cable must not get in the way of the cleanup.
        cluster.kill_switch("b")
        cluster.cut_uplink("c")
        pids = recorded_pids(cluster.workdir) | pids_in_namespaces(prefix)
        # ovsdb-server x3, ovs-vswitchd x2, relay x3, nginx masters and workers x3
        assert len(running(pids)) >= 3 + 2 + 3 + 3 * 2

        Cluster.attach(cluster.workdir).stop()  # knows the run only from its record

        assert namespaces_with(prefix) == []
        assert root_links_with(prefix) == []
        assert running(pids) == []
        assert not (cluster.workdir / "lab.json").exists()
        assert not os.path.exists(f"/run/netns/{cluster.fabric_netns}")
    finally:
        cluster.stop()
