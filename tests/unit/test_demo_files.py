"""The demo variants' files. The tenant demo's config/tenants.yaml: a VIP file lbctl takes, whose
networks are the VLANs and access ports lab/topology.py builds, and whose VIPs are where the demo
connects and what its hints name (they run on real Open vSwitch only in `./demo.sh --tenants`).
The cluster demo's config/cluster.yaml and the options it passes: the balancers and uplinks the
cluster lab builds, one VIP per group, each group first on another balancer (`./demo.sh
--cluster`)."""
import pytest

from flows import pipeline
from lab import cluster, demo, topology
from lbctl import store
from lbctl.networks import default_network
from lbctl_app.options import parse_cluster


def load(path):
    return store.load_yaml(str(path), default_network(monitor_address="198.18.0.2"))   # config/lbctl.conf's


@pytest.fixture(scope="module")
def tenants():
    return load(demo.TENANTS_FILE)


def test_each_tenants_network_has_the_vlan_access_port_and_gateway_the_lab_gives_its_hosts(tenants):
    for name, vlan, (*_, m3_port) in topology.TENANTS:
        network = tenants.network("tenant-" + name)
        assert network.vlan == vlan
        assert network.access_ports == (m3_port,), "m3 is on the lbctl bridge's access port"
        assert [g.address for g in network.gateways] == [topology.TENANT_GATEWAY]


def test_the_vips_the_demo_connects_to_are_on_the_clients_network_at_the_address_it_names(tenants):
    for client, name, address in demo.TENANT_TRAFFIC:
        vip = tenants.get(name)
        assert (vip.address, vip.port) == (address, 80)
        tenant = client.split("-")[0] if client != "client" else None   # "a-client" -> "a"
        assert vip.network == ("tenant-" + tenant if tenant else "default")


def test_both_tenants_use_one_address_and_a_public_serves_tenant_a(tenants):
    a, b = tenants.get("a-web"), tenants.get("b-web")
    assert a.address == b.address == topology.TENANT_VIP and a.network != b.network
    assert {m.network for m in tenants.get("a-public").members} == {"tenant-a"}


def test_the_web_vip_is_the_standard_demos(tenants):
    assert tenants.get("web").to_dict() == load(demo.VIPS_FILE).get("web").to_dict()


def test_the_mac_in_the_trace_hint_is_the_balancers_on_tenant_a(tenants):
    assert demo.TENANT_A_MAC == pipeline.own_mac(0, tenants.network("tenant-a").id, 1)


@pytest.fixture(scope="module")
def cluster_vips():
    return load(demo.CLUSTER_FILE)


def cluster_options():
    """demo.CLUSTER_OPTIONS as ryu-manager reads them (list options: comma-separated)."""
    def listed(option):
        return [entry.strip() for entry in demo.CLUSTER_OPTIONS.get(option, "").split(",") if entry.strip()]
    return parse_cluster(listed("balancers"), listed("group_order"), False, 10.0, listed("uplinks"))


def test_the_cluster_options_name_the_labs_balancers_with_their_dpids_and_uplink_ports():
    config = cluster_options()
    assert config.balancers == {name: int(cluster.balancer_dpid(index), 16)
                                for index, name in enumerate(demo.CLUSTER_BALANCERS)}
    assert config.uplinks == {name: frozenset([cluster.UPLINK_OFPORT]) for name in demo.CLUSTER_BALANCERS}


def test_each_group_starts_where_the_demo_waits_for_it_and_each_on_another_balancer(cluster_vips):
    config = cluster_options()
    groups = {vip.redundancy_group for vip in cluster_vips.vips}
    assert groups == set(demo.CLUSTER_ACTIVE), "the demo waits for every group of the file, and only those"
    for group, name in demo.CLUSTER_ACTIVE.items():
        assert config.order(group)[0] == config.balancers[name]
    assert len(set(demo.CLUSTER_ACTIVE.values())) == len(demo.CLUSTER_ACTIVE), "active/active"


def test_the_cluster_vips_are_a_one_arm_and_a_dsr_vip_of_the_labs_members_where_the_demo_connects(cluster_vips):
    members = sorted(address for _, address, _ in topology.MEMBERS)
    for client, name, address in demo.CLUSTER_TRAFFIC:
        vip = cluster_vips.get(name)
        assert client == "client" and (vip.address, vip.port) == (address, 80)
        assert sorted(m.address for m in vip.members) == members
    assert {vip.name: vip.mode for vip in cluster_vips.vips} == {"web": "one-arm", "direct": "dsr"}
    assert cluster_vips.get("direct").address == demo.CLUSTER_DSR_VIP, "the address the members hold on lo"
