"""The tenant demo's file, config/tenants.yaml: a VIP file lbctl takes, whose networks are the
VLANs and access ports lab/topology.py builds, and whose VIPs are where the demo connects and
what its hints name (they run on real Open vSwitch only in `./demo.sh --tenants`)."""
import pytest

from flows import pipeline
from lab import demo, topology
from lbctl import store
from lbctl.networks import default_network


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
