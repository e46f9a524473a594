"""Networks through the REST API (no switch): created, shown, replaced and deleted like VIPs; two
tenants may use one address plan; what a VIP's mode cannot reach across networks is refused; and
every refusal names the field and the value and changes nothing."""
import os

import pytest

TENANT_A = {"name": "tenant-a", "vlan": 101, "gateways": ["10.0.0.1/24"], "monitor_address": "10.0.0.2",
            "access_ports": [21]}
TENANT_B = dict(TENANT_A, name="tenant-b", vlan=102, access_ports=[22])
PLAN = {"address": "10.0.0.100", "port": 80, "members": [{"address": "10.0.0.11"}, {"address": "10.0.0.12"}]}


def refused(api, method, path, body, status, error):
    """`method path body` is refused with `status` and exactly `error`, and changes nothing: no
    VIP, no network, not the state file."""
    def state():
        saved = open(api.state_file, "rb").read() if os.path.exists(api.state_file) else None
        return api("GET", "/v1/vips")[1], api("GET", "/v1/networks")[1], saved
    before = state()
    assert api(method, path, body) == (status, {"error": error})
    assert state() == before


@pytest.fixture
def tenants(api):
    assert api("POST", "/v1/networks", TENANT_A)[0] == 201
    assert api("POST", "/v1/networks", TENANT_B)[0] == 201
    return api


def test_a_network_is_created_shown_replaced_and_deleted(api):
    status, doc = api("POST", "/v1/networks", TENANT_A)
    assert status == 201
    assert {k: doc[k] for k in ("name", "vlan", "gateways", "monitor_address", "access_ports", "id", "zones",
                                 "vips", "implicit")} == {
        "name": "tenant-a", "vlan": 101, "gateways": [{"address": "10.0.0.1/24", "redundancy_group": 1}],
        "monitor_address": "10.0.0.2", "access_ports": [21], "id": 1, "zones": [66, 67], "vips": [],
        "implicit": False}
    assert doc["macs"] == {"1": "02:6c:00:00:10:01"}, "the gateways' group: network 1, group 1"
    assert doc["cookie"] == "0xfffffffe00000001"
    names = [n["name"] for n in api("GET", "/v1/networks")[1]]
    assert names == ["default", "tenant-a"], "the default network first, always there"
    status, again = api("PUT", "/v1/networks/tenant-a", dict(TENANT_A, vlan=201), headers={"If-Match": doc["revision"]})
    assert status == 200 and again["vlan"] == 201 and again["id"] == 1
    assert api("PUT", "/v1/networks/tenant-a", TENANT_A, headers={"If-Match": doc["revision"]})[0] == 412
    assert api("DELETE", "/v1/networks/tenant-a") == (204, None)
    assert api("GET", "/v1/networks/tenant-a")[0] == 404


@pytest.mark.parametrize("body, error", [
    (dict(TENANT_A, vlan=0), "vlan: 0 is not a VLAN id from 1 to 4094 (or null: untagged)"),
    (dict(TENANT_A, vlan=4095), "vlan: 4095 is not a VLAN id from 1 to 4094 (or null: untagged)"),
    (dict(TENANT_A, gateways=["10.0.0.0/24"]), "gateways[0]: '10.0.0.0/24' is the network address of its prefix, "
                                               "not a host's"),
    (dict(TENANT_A, gateways=["10.0.0.255/24"]), "gateways[0]: '10.0.0.255/24' is the broadcast address of its "
                                                 "prefix, not a host's"),
    (dict(TENANT_A, gateways=["10.0.0.1"]), "gateways[0]: '10.0.0.1' is not an IPv4 address/prefix such as 10.0.0.1/24"),
    (dict(TENANT_A, gateways=[{"address": "10.0.0.1/24", "redundancy_group": 4096}]),
     "gateways[0].redundancy_group: 4096 is not an integer from 1 to 3839"),
    (dict(TENANT_A, vlan=None, access_ports=[]), "access_ports: [] is empty: an untagged network other than "
                                                 "'default' arrives on access ports alone"),
    (dict(TENANT_A, access_ports=[21, 21]), "access_ports[1]: 21 repeats a port"),
    (dict(TENANT_A, access_ports=[0xFF00]), "access_ports[0]: 65280 is not an OpenFlow port number from 1 to 65279"),
    (dict(TENANT_A, monitor_address="10.0.0.255"), "monitor_address: '10.0.0.255' is the broadcast address of the "
                                                   "subnet 10.0.0.0/24 of network 'tenant-a'"),
    (dict(TENANT_A, colour="blue"), "colour: 'blue' is not a known field (known: access_ports, gateways, "
                                    "monitor_address, name, vlan)"),
])
def test_a_bad_network_is_refused_naming_the_field(api, body, error):
    refused(api, "POST", "/v1/networks", body, 400, error)
    assert [n["name"] for n in api("GET", "/v1/networks")[1]] == ["default"]


@pytest.mark.parametrize("body, error", [
    (dict(TENANT_B, vlan=101), "vlan: 101 is the VLAN of network 'tenant-a'"),
    (dict(TENANT_B, access_ports=[21]), "access_ports: port 21 is an access port of network 'tenant-a'"),
    (dict(TENANT_A), "name: network 'tenant-a' already exists"),
    (dict(TENANT_B, monitor_address="10.0.0.1"), "monitor_address: 10.0.0.1 is a gateway address of network 'tenant-b'"),
])
def test_what_another_network_holds_is_refused(api, body, error):
    api("POST", "/v1/networks", TENANT_A)
    refused(api, "POST", "/v1/networks", body, 409, error)


def test_the_default_network_is_the_controllers_to_set(api):
    refused(api, "PUT", "/v1/networks/default", {"vlan": 5}, 409,
            "name: network 'default' is set by the controller's [lbctl] options")
    refused(api, "DELETE", "/v1/networks/default", None, 409,
            "name: network 'default' is set by the controller's [lbctl] options")


def test_two_tenants_use_one_address_plan(tenants):
    api = tenants
    a = api("POST", "/v1/vips", dict(PLAN, name="a-web", network="tenant-a"))
    b = api("POST", "/v1/vips", dict(PLAN, name="b-web", network="tenant-b"))
    assert a[0] == b[0] == 201
    assert a[1]["mac"] == "02:6c:00:00:10:01" and b[1]["mac"] == "02:6c:00:00:20:01", "a MAC per network and group"
    assert [m["host"] for m in a[1]["members"]] == [1, 2] and [m["host"] for m in b[1]["members"]] == [3, 4], \
        "the same address on two networks: two hosts"
    refused(api, "POST", "/v1/vips", dict(PLAN, name="a-again", network="tenant-a"), 409,
            "address: 10.0.0.100:80/tcp is already served by vip 'a-web'")
    assert api("GET", "/v1/networks/tenant-a")[1]["vips"] == ["a-web"]


@pytest.mark.parametrize("body, status, error", [
    (dict(PLAN, network="tenant-c"), 400, "network: 'tenant-c' is not a network (known: default, tenant-a, tenant-b)"),
    (dict(PLAN, network="tenant-a", address="10.0.0.1"), 409, "address: 10.0.0.1 is a gateway address of network 'tenant-a'"),
    (dict(PLAN, network="tenant-a", members=[{"address": "10.0.0.2"}]), 409,
     "members[0].address: 10.0.0.2 is the monitor address of network 'tenant-a'"),
    (dict(PLAN, network="tenant-a", mode="dsr", members=[{"address": "10.0.0.11", "network": "tenant-b"}]), 400,
     "members[0].network: 'tenant-b' is not the VIP's network 'tenant-a': dsr members are on the VIP's network"),
    (dict(PLAN, network="tenant-a", mode="one-arm", snat_pool={"addresses": ["10.0.0.200"]},
          members=[{"address": "10.0.0.11", "network": "tenant-b"}]), 400,
     "members[0].network: 'tenant-b' is not the VIP's network 'tenant-a': one-arm members are on the VIP's network"),
    (dict(PLAN, members=[{"address": "10.0.0.11", "network": "tenant-a"}, {"address": "10.0.0.12", "network": "tenant-b"}]),
     400, "members[1].network: 'tenant-b' differs from members[0].network 'tenant-a': a VIP's members are on one "
          "network (its connections' conntrack zone)"),
    (dict(PLAN, health_monitor={"type": "tcp"}), 400,
     "health_monitor.type: 'tcp' needs a monitor address on network 'default' ([lbctl] monitor_address)"),
])
def test_what_a_vip_cannot_reach_across_networks_is_refused(tenants, body, status, error):
    refused(tenants, "POST", "/v1/vips", dict(body, name="web"), status, error)


def test_a_routed_vip_on_a_provider_network_serves_members_behind_a_tenants_gateway(tenants):
    api = tenants
    provider = dict(PLAN, name="shared", address="198.18.0.100",
                    members=[{"address": "10.0.0.11", "network": "tenant-a"}])
    status, doc = api("POST", "/v1/vips", provider)
    assert status == 201 and doc["network"] == "default" and doc["members"][0]["network"] == "tenant-a"
    no_gateway = dict(TENANT_B, name="tenant-c", vlan=103, gateways=[], monitor_address=None, access_ports=[])
    api("POST", "/v1/networks", no_gateway)
    refused(api, "POST", "/v1/vips", dict(provider, name="shared2", port=81,
                                          members=[{"address": "10.0.0.11", "network": "tenant-c"}]), 400,
            "members[0].network: 'tenant-c' has no gateway: members on another network than the VIP's reply through "
            "the balancer's gateway there")


def test_a_network_in_use_cannot_go_nor_take_a_vips_address(tenants):
    api = tenants
    api("POST", "/v1/vips", dict(PLAN, name="a-web", network="tenant-a"))
    refused(api, "DELETE", "/v1/networks/tenant-a", None, 409, "name: network 'tenant-a' is used by vip 'a-web'")
    refused(api, "PUT", "/v1/networks/tenant-a", dict(TENANT_A, gateways=["10.0.0.100/24"]), 409,
            "address: 10.0.0.100 is a gateway address of network 'tenant-a'")


def test_hosts_are_per_network(tenants):
    api = tenants
    api("POST", "/v1/vips", dict(PLAN, name="a-web", network="tenant-a"))
    api.core.hosts.learn(1, ("tenant-a", "10.0.0.11"), "02:65:0a:00:00:0b", 50, now=1.0)
    assert api("GET", "/v1/hosts/10.0.0.11?network=tenant-a")[1][0]["mac"] == "02:65:0a:00:00:0b"
    assert api("GET", "/v1/hosts/10.0.0.11")[1] == {"error": "host 10.0.0.11 is not known on network 'default'"}
    assert api("GET", "/v1/hosts/10.0.0.11?network=nowhere")[1] == {"error": "network 'nowhere' does not exist"}
    assert api("DELETE", "/v1/hosts/10.0.0.11?network=tenant-b")[0] == 404
    assert api("DELETE", "/v1/hosts/10.0.0.11?network=tenant-a")[0] == 204
