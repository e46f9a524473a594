"""Tenant networks on real Open vSwitch: two VLANs with the same address plan (VIP, members,
gateway, monitor address all equal), members behind a trunk and on the balancer's own access
ports, and a provider VIP on the untagged network in front of tenant A's members (lab/topology.py
build_tenants draws it). Each tenant reaches its own members only; what one tenant sends, spoofed
or tagged, reaches nothing of the other; hosts, moves and health are per network; a controller
restart changes no flow."""

import pytest

from lab import free_tcp_port, packets, topology
from lab.lbctl import Controller, connect, served_by, shares, switch_text, wait_for
from lbctl import packets as codec

TENANT = {"vlan": None, "gateways": ["10.0.0.1/24"], "monitor_address": "10.0.0.2"}
NETWORKS = [dict(TENANT, name="tenant-a", vlan=101, access_ports=[21]),
            dict(TENANT, name="tenant-b", vlan=102, access_ports=[22])]
# Every tenant's VIP: one-arm (its clients share the members' subnet, so replies must come back
# through the balancer: they go to the pool address).
PLAN = {"address": "10.0.0.100", "port": 80, "mode": "one-arm", "snat_pool": {"addresses": ["10.0.0.200"]},
        "health_monitor": {"type": "tcp", "interval": 0.5, "timeout": 0.4, "rise": 1, "fall": 2},
        "members": [{"address": "10.0.0.11"}, {"address": "10.0.0.12"}, {"address": "10.0.0.13"}]}
PROVIDER = {"name": "shared", "address": "198.18.0.100", "port": 80,
            "members": [{"address": "10.0.0.11", "network": "tenant-a"}, {"address": "10.0.0.12", "network": "tenant-a"}]}
MAC = {"tenant-a": "02:6c:00:00:10:01", "tenant-b": "02:6c:00:00:20:01"}   # the gateways' (group 1) on each

def served(lab, host, address, count=30):
    """Who answers `count` new connections from `host` to address:80 -> {member name: n}."""
    return served_by(connect(lab, address, 80, count, host))


@pytest.fixture(scope="module")
def tenants(make_lab_module, tmp_path_factory):
    lab = make_lab_module()
    lab.start()
    topology.build_tenants(lab)
    empty = tmp_path_factory.mktemp("tenants") / "vips.yaml"
    empty.write_text("vips: []\n")
    lb = Controller(lab, free_tcp_port(), empty,
                    options={"gateways": "198.18.0.1/24", "monitor_address": "198.18.0.2"}).start()
    for network in NETWORKS:
        assert lb.call("POST", "/v1/networks", network)[0] == 201
    for name, network in (("a-web", "tenant-a"), ("b-web", "tenant-b")):
        assert lb.call("POST", "/v1/vips", dict(PLAN, name=name, network=network))[0] == 201
    assert lb.call("POST", "/v1/vips", PROVIDER)[0] == 201
    for name in ("a-web", "b-web", "shared"):
        wait_members_up(lb, name)
    yield lab, lb
    lb.stop()
    assert lb.refusals() == [], "the switch refused none of the controller's messages"


def wait_members_up(lb, name):
    wait_for(lambda: lb.call("GET", "/v1/vips/" + name)[1]["members_up"] == len(
        lb.call("GET", "/v1/vips/" + name)[1]["members"]), "members of %s up" % name)


def test_each_tenants_client_reaches_only_its_own_members_at_the_same_addresses(tenants):
    lab, _ = tenants
    assert set(served(lab, "a-client", "10.0.0.100")) == {"a-m1", "a-m2", "a-m3"}
    assert set(served(lab, "b-client", "10.0.0.100")) == {"b-m1", "b-m2", "b-m3"}


def test_a_provider_vip_reaches_a_tenants_members_through_its_gateway(tenants):
    lab, _ = tenants
    assert set(served(lab, "client", "198.18.0.100")) == {"a-m1", "a-m2"}


def test_each_tenant_sees_the_balancers_own_mac_for_its_gateway(tenants):
    lab, _ = tenants
    for host, network in (("a-client", "tenant-a"), ("b-client", "tenant-b")):
        lab.run(host, ["ping", "-c", "1", "-W", "2", "10.0.0.1"])
        assert MAC[network] in lab.run(host, ["ip", "neigh", "show", "10.0.0.1"]).stdout


def test_hosts_with_one_address_are_two_hosts_one_per_network(tenants):
    _, lb = tenants
    found = {(h["network"], h["ip"]): h for h in lb.call("GET", "/v1/hosts")[1]}
    a, b = found[("tenant-a", "10.0.0.11")], found[("tenant-b", "10.0.0.11")]
    assert (a["port"], b["port"]) == (topology.TRUNK_OFPORT, topology.TRUNK_OFPORT)
    assert a["mac"] != b["mac"] and a["id"] != b["id"]
    assert (found[("tenant-a", "10.0.0.13")]["port"], found[("tenant-b", "10.0.0.13")]["port"]) == (21, 22)


def test_a_frame_tagged_for_another_tenant_on_an_access_port_reaches_nothing(tenants):
    lab, lb = tenants
    b_m3 = lab.host("b-m3")
    syn = packets.tcp_frame(b_m3.mac, MAC["tenant-a"], "10.0.0.10", "10.0.0.100", 40000, 80, vlan=101)
    before = {name: lab.access_log(name) for name in ("a-m1", "a-m2", "a-m3")}
    with packets.Capture(lab, "a-m1", "tcp port 80") as a_m1, packets.Capture(lab, "a-m3", "tcp port 80") as a_m3:
        assert packets.send_frames(lab, "b-m3", [syn] * 20) == 20
    assert [line for line in a_m1.lines + a_m3.lines if "10.0.0.10.40000" in line] == []
    assert {name: lab.access_log(name) for name in before} == before
    dropped = [line for line in lab.ofctl("dump-flows", "table=0,in_port=22").splitlines() if "dl_vlan" in line
               or "vlan_tci=0x1000/0x1000" in line]
    assert dropped and "n_packets=0," not in dropped[0], "the access port's tagged frames are dropped at ingress"


def test_a_gratuitous_arp_on_one_tenant_moves_nothing_on_the_other(tenants):
    lab, lb = tenants
    def place(network):
        (host,) = lb.call("GET", "/v1/hosts/10.0.0.13?network=" + network)[1]
        return host["mac"], host["port"]
    b_before = place("tenant-b")
    a_client = lab.host("a-client")
    packets.send_frames(lab, "a-client", [codec.arp_request(a_client.mac, "10.0.0.13", "10.0.0.13")])
    wait_for(lambda: place("tenant-a") == (a_client.mac, topology.TRUNK_OFPORT), "tenant A's .13 moved")
    assert place("tenant-b") == b_before, "tenant B's host at the same address stays"
    assert set(served(lab, "b-client", "10.0.0.100")) == {"b-m1", "b-m2", "b-m3"}
    # Tenant A's own mess is A's to clear: forget the host, and the member answers the probes again.
    assert lb.call("DELETE", "/v1/hosts/10.0.0.13?network=tenant-a")[0] == 204
    wait_for(lambda: place("tenant-a") == (lab.host("a-m3").mac, 21), "tenant A's .13 found again")


def test_health_is_per_network(tenants):
    lab, lb = tenants
    lab.stop_http("b-m1")
    try:
        def status(vip):
            return [m["operating_status"] for m in lb.call("GET", "/v1/vips/" + vip)[1]["members"]]
        wait_for(lambda: status("b-web")[0] == "down", "b-m1 down")
        assert status("a-web") == ["up", "up", "up"], "tenant A's member at the same address is up"
        assert set(served(lab, "b-client", "10.0.0.100")) == {"b-m2", "b-m3"}
    finally:
        lab.start_http("b-m1")
    wait_members_up(lb, "b-web")


def test_a_controller_restart_with_networks_changes_no_flow(tenants):
    lab, lb = tenants
    before = shares(switch_text(lab))
    lb.stop()
    lb.start()
    wait_members_up(lb, "a-web")
    assert shares(switch_text(lab)) == before
    assert [n["name"] for n in lb.call("GET", "/v1/networks")[1]] == ["default", "tenant-a", "tenant-b"]
    assert set(served(lab, "a-client", "10.0.0.100")) == {"a-m1", "a-m2", "a-m3"}


def test_a_tenant_reaches_no_vip_of_another_network_through_its_gateway(tenants):
    lab, _ = tenants
    before = {name: lab.access_log(name) for name in ("a-m1", "a-m2")}
    out = lab.run("b-client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{errormsg}",
                               "--max-time", "3", "http://198.18.0.100/"], check=False).stdout
    assert out.startswith("000"), "tenant B has no route to the provider VIP through its gateway: %s" % out
    assert {name: lab.access_log(name) for name in before} == before


def test_metrics_name_each_vips_network(tenants):
    _, lb = tenants
    from tests.integration.test_traffic import metrics
    exported = metrics(lb)
    assert exported[("lbctl_vip_members_up", (("network", "tenant-a"), ("vip", "a-web")))] == 3
    assert exported[("lbctl_vip_members_up", (("network", "tenant-b"), ("vip", "b-web")))] == 3
    assert exported[("lbctl_member_status", (("member", "10.0.0.11:80"), ("network", "tenant-a"), ("status", "up"),
                                             ("vip", "shared")))] == 1.0
    assert exported[("lbctl_networks", ())] == 3


@pytest.mark.parametrize("method, path, body, status, error", [
    ("POST", "/v1/vips", dict(PLAN, name="c-web", network="tenant-c"), 400,
     "network: 'tenant-c' is not a network (known: default, tenant-a, tenant-b)"),
    ("POST", "/v1/networks", dict(NETWORKS[1], name="tenant-c", access_ports=[]), 409,
     "vlan: 102 is the VLAN of network 'tenant-b'"),
    ("POST", "/v1/networks", dict(NETWORKS[1], name="tenant-c", vlan=103, gateways=["10.0.0.255/24"], access_ports=[]),
     400, "gateways[0]: '10.0.0.255/24' is the broadcast address of its prefix, not a host's"),
    ("DELETE", "/v1/networks/tenant-a", None, 409, "name: network 'tenant-a' is used by vip 'a-web'"),
])
def test_bad_input_is_refused_and_changes_no_flow(tenants, method, path, body, status, error):
    lab, lb = tenants
    before = switch_text(lab)
    assert lb.call(method, path, body) == (status, {"error": error})
    assert switch_text(lab) == before
