"""Who may use an address, through the real REST app: an address is a VIP's (any number of services
on it) or a SNAT pool's (any number of one-arm VIPs may share the pool), never both; the balancer's
own addresses (gateways, monitor address) are nobody else's; and nothing sits on the network or
broadcast address of a gateway's subnet. Every refusal names the field and the value, and
changes nothing."""
import pytest

from lbctl.core import Options
from lbctl_app.options import parse_gateways
from tests.unit.sample import WEB

POOL = ["198.18.0.200", "198.18.0.201"]
ARM = {"name": "arm", "address": "198.18.0.110", "port": 9000, "mode": "one-arm",
       "snat_pool": {"addresses": POOL}, "members": [{"address": "198.18.0.11"}]}


def refused(api, method, path, body, status, error):
    """`method path body` is refused with `status` and exactly `error`, and changes nothing."""
    before_vips = api("GET", "/v1/vips")[1]
    with open(api.state_file, "rb") as f:
        before_file = f.read()
    assert api(method, path, body) == (status, {"error": error})
    assert api("GET", "/v1/vips")[1] == before_vips
    with open(api.state_file, "rb") as f:
        assert f.read() == before_file


def test_a_pool_may_not_take_another_vips_address(api):
    assert api("POST", "/v1/vips", WEB)[0] == 201
    refused(api, "POST", "/v1/vips", dict(ARM, snat_pool={"addresses": ["198.18.0.99", "198.18.0.100"]}), 409,
            "snat_pool.addresses[1]: 198.18.0.100 is the address of vip 'web': an address is a VIP's or a "
            "SNAT pool's, not both")


def test_a_vip_may_not_sit_on_another_vips_pool(api):
    assert api("POST", "/v1/vips", ARM)[0] == 201
    refused(api, "POST", "/v1/vips", dict(WEB, address="198.18.0.201"), 409,
            "address: 198.18.0.201 is in the snat_pool of vip 'arm': an address is a VIP's or a SNAT pool's, "
            "not both")


def test_a_vip_moved_onto_a_pool_by_put_is_refused_too(api):
    assert api("POST", "/v1/vips", ARM)[0] == 201
    assert api("POST", "/v1/vips", WEB)[0] == 201
    refused(api, "PUT", "/v1/vips/web", dict(WEB, address="198.18.0.200"), 409,
            "address: 198.18.0.200 is in the snat_pool of vip 'arm': an address is a VIP's or a SNAT pool's, "
            "not both")
    refused(api, "PUT", "/v1/vips/arm", dict(ARM, snat_pool={"addresses": ["198.18.0.100"]}), 409,
            "snat_pool.addresses[0]: 198.18.0.100 is the address of vip 'web': an address is a VIP's or a "
            "SNAT pool's, not both")


def test_pools_may_be_shared_and_vip_addresses_may_serve_many_services(api):
    assert api("POST", "/v1/vips", ARM)[0] == 201
    assert api("POST", "/v1/vips", dict(ARM, name="arm2", port=9001))[0] == 201, "same VIP address, same pool"
    assert api("POST", "/v1/vips", dict(ARM, name="arm3", address="198.18.0.111", snat_pool={"addresses": POOL[1:]}))[0] == 201
    # A VIP may change its own addresses freely: its old ones are not "another VIP's".
    status, doc = api("PUT", "/v1/vips/arm3", dict(ARM, name="arm3", address="198.18.0.112",
                                                      snat_pool={"addresses": ["198.18.0.111"]}))
    assert status == 200 and doc["snat_pool"]["addresses"] == ["198.18.0.111"]


GATEWAYS = ["198.18.0.1/24", "198.18.2.1/24", "198.18.4.1/31"]
GUARDED = Options(gateways=parse_gateways(GATEWAYS), monitor_address="198.18.0.2")


def test_the_gateways_option_gives_addresses_with_their_prefix():
    assert parse_gateways(GATEWAYS + [" 198.18.6.1"]) == (
        "198.18.0.1/24", "198.18.2.1/24", "198.18.4.1/31", "198.18.6.1/32")


@pytest.mark.parametrize("body, error", [
    (dict(WEB, address="198.18.0.1"), "address: 198.18.0.1 is a gateway address of network 'default'"),
    (dict(ARM, snat_pool={"addresses": ["198.18.2.2", "198.18.2.1"]}),
     "snat_pool.addresses[1]: 198.18.2.1 is a gateway address of network 'default'"),
    (dict(WEB, members=[{"address": "198.18.0.11"}, {"address": "198.18.2.1"}]),
     "members[1].address: 198.18.2.1 is a gateway address of network 'default'"),
    (dict(WEB, members=[{"address": "198.18.0.2"}]), "members[0].address: 198.18.0.2 is the monitor address of network 'default'"),
    (dict(ARM, snat_pool={"addresses": ["198.18.0.2"]}), "snat_pool.addresses[0]: 198.18.0.2 is the monitor address of network 'default'"),
])
def test_the_balancers_own_addresses_are_nobody_elses(api_factory, body, error):
    api = api_factory(GUARDED)
    api("POST", "/v1/vips", dict(WEB, name="other", address="198.18.0.150"))
    refused(api, "POST", "/v1/vips", body, 409, error)


@pytest.mark.parametrize("body, error", [
    (dict(WEB, address="198.18.0.0"), "address: '198.18.0.0' is the network address of the subnet 198.18.0.0/24 of network 'default'"),
    (dict(WEB, address="198.18.2.255"),
     "address: '198.18.2.255' is the broadcast address of the subnet 198.18.2.0/24 of network 'default'"),
    (dict(ARM, snat_pool={"addresses": ["198.18.0.254", "198.18.0.255"]}),
     "snat_pool.addresses[1]: '198.18.0.255' is the broadcast address of the subnet 198.18.0.0/24 of network 'default'"),
    (dict(WEB, members=[{"address": "198.18.2.0"}]),
     "members[0].address: '198.18.2.0' is the network address of the subnet 198.18.2.0/24 of network 'default'"),
])
def test_no_address_sits_on_a_gateway_subnets_network_or_broadcast_address(api_factory, body, error):
    api = api_factory(GUARDED)
    api("POST", "/v1/vips", dict(WEB, name="other", address="198.18.0.150"))
    refused(api, "POST", "/v1/vips", body, 400, error)


def test_addresses_of_a_31_and_outside_the_gateways_subnets_are_hosts(api_factory):
    api = api_factory(GUARDED)
    assert api("POST", "/v1/vips", dict(WEB, address="198.18.4.0"))[0] == 201, "a /31 has no network address"
    assert api("POST", "/v1/vips", dict(WEB, name="w2", address="198.18.1.0"))[0] == 201, "in no gateway's subnet"
    assert api("POST", "/v1/vips", dict(WEB, name="w3", address="198.18.1.255"))[0] == 201
