"""Validation: every refusal names the field and the value; the VIP set's rules (404, 409)."""
import re

import pytest

from flows.pipeline import MAX_VIP_ID
from lbctl.model import Config, Conflict, InvalidInput, NotFound, parse_vip
from tests.unit.sample import WEB, vip_set


def member(**fields):
    return dict(WEB, members=[dict({"address": "198.18.0.11", "port": 80}, **fields)])


@pytest.mark.parametrize("body, field, value", [
    (dict(WEB, address="198.18.0.300"), "address", "198.18.0.300"),
    (dict(WEB, address="fe80::1"), "address", "fe80::1"),
    (dict(WEB, address=17), "address", "17"),
    (dict(WEB, address="224.0.0.1"), "address", "224.0.0.1"),
    (dict(WEB, port=0), "port", "0"),
    (dict(WEB, port=65536), "port", "65536"),
    (dict(WEB, port="80"), "port", "'80'"),
    (dict(WEB, port=True), "port", "True"),
    (dict(WEB, protocol="sctp"), "protocol", "sctp"),
    (dict(WEB, mode="bridge"), "mode", "bridge"),
    (dict(WEB, name="no spaces"), "name", "no spaces"),
    (dict(WEB, name=""), "name", "''"),
    (dict(WEB, colour="blue"), "colour", "blue"),
    (dict(WEB, members={"address": "198.18.0.11"}), "members", "198.18.0.11"),
    (member(address="198.18.0.1111"), "members[0].address", "198.18.0.1111"),
    (member(port=-1), "members[0].port", "-1"),
    (member(weight=257), "members[0].weight", "257"),
    (member(weight=1.5), "members[0].weight", "1.5"),
    (member(address="198.18.0.100"), "members[0].address", "198.18.0.100"),
    (member(tls=True), "members[0].tls", "True"),
    (dict(WEB, members=[{"address": "198.18.0.11", "port": 80}, {"address": "198.18.0.11", "port": 80}]),
     "members[1]", "198.18.0.11:80"),
    (dict(WEB, address="127.0.0.1"), "address", "127.0.0.1"),
    (dict(WEB, redundancy_group="1"), "redundancy_group", "'1'"),
    (dict(WEB, redundancy_group=65536), "redundancy_group", "65536"),
    (dict(WEB, members=[{"address": "198.18.1.%d" % i} for i in range(257)]), "members", "257 members"),
    (member(monitor_port=0), "members[0].monitor_port", "0"),
    (dict(WEB, health_monitor="tcp"), "health_monitor", "'tcp'"),
    (["web"], "body", "['web']"),
])
def test_invalid_input_names_field_and_value(body, field, value):
    with pytest.raises(InvalidInput) as e:
        parse_vip(body)
    assert e.value.field == field
    assert str(e.value).startswith(field + ": ") and value in str(e.value)


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in WEB.items() if k != "address"}, "address"),
    ({k: v for k, v in WEB.items() if k != "name"}, "name"),
    ({k: v for k, v in WEB.items() if k != "port"}, "port"),
    (dict(WEB, members=[{"port": 80}]), "members[0].address"),
])
def test_missing_field_is_named(body, field):
    with pytest.raises(InvalidInput, match=r"^%s: None is required" % re.escape(field)):
        parse_vip(body)


def test_the_limits_themselves_are_accepted():
    pool = {"addresses": ["198.18.2.%d" % i for i in range(1, 17)], "ports": [1, 1]}
    low = parse_vip(dict(WEB, port=1, mode="one-arm", snat_pool=pool, redundancy_group=3839,
                         health_monitor={"type": "tcp", "interval": 0.1, "timeout": 0.05, "rise": 1, "fall": 1},
                         members=[{"address": "198.18.1.%d" % i, "weight": 256} for i in range(256)]))
    assert (low.port, low.redundancy_group, len(low.members), len(low.snat_addresses)) == (1, 3839, 256, 16)
    assert low.snat_ports == (1, 1) and low.members[0].weight == 256
    high = parse_vip(dict(WEB, port=65535, health_monitor={"type": "tcp", "interval": 3600, "timeout": 3600,
                                                           "rise": 10, "fall": 10}))
    assert (high.port, high.health_monitor.interval, high.health_monitor.timeout) == (65535, 3600.0, 3600.0)
    assert (low.health_monitor.rise, high.health_monitor.fall) == (1, 10)


def test_a_put_may_leave_the_name_to_the_url():
    assert parse_vip({k: v for k, v in WEB.items() if k != "name"}, name="web").name == "web"


POOL = {"addresses": ["198.18.0.200", "198.18.0.201"], "ports": [1024, 65535]}


def test_one_arm_takes_a_consecutive_snat_pool():
    vip = parse_vip(dict(WEB, mode="one-arm", snat_pool=POOL))
    assert (vip.snat_addresses, vip.snat_ports) == (("198.18.0.200", "198.18.0.201"), (1024, 65535))
    assert vip.to_dict()["snat_pool"] == POOL
    assert parse_vip(dict(WEB, mode="one-arm", snat_pool={"addresses": ["198.18.0.200"]})).snat_ports == (1024, 65535)


@pytest.mark.parametrize("body, field, words", [
    (dict(WEB, mode="one-arm"), "snat_pool", "is required in mode 'one-arm'"),
    (dict(WEB, snat_pool=POOL), "snat_pool", "is only for mode 'one-arm'"),
    (dict(WEB, mode="one-arm", snat_pool={"addresses": []}), "snat_pool.addresses", "is not a list of 1 to 16"),
    (dict(WEB, mode="one-arm", snat_pool={"addresses": ["198.18.0.200", "198.18.0.202"]}),
     "snat_pool.addresses", "are not consecutive"),
    (dict(WEB, mode="one-arm", snat_pool={"addresses": ["198.18.0.100"]}), "snat_pool.addresses[0]",
     "repeats an address of the VIP"),
    (dict(WEB, mode="one-arm", snat_pool=dict(POOL, ports=[2000, 1000])), "snat_pool.ports", "is not [min, max]"),
    (dict(WEB, mode="one-arm", snat_pool=dict(POOL, ports=[1000, 2000, 3000])), "snat_pool.ports",
     "is not [min, max]"),
    (dict(WEB, mode="one-arm", snat_pool=dict(POOL, ports=[1000, "2000"])), "snat_pool.ports", "is not [min, max]"),
    (dict(WEB, mode="one-arm", snat_pool=dict(POOL, ports=[1000, 65536])), "snat_pool.ports", "is not [min, max]"),
    (dict(WEB, mode="one-arm", snat_pool=dict(POOL, size=3)), "snat_pool.size", "is not a known field"),
    (dict(WEB, algorithm="round-robin"), "algorithm", "is not one of 5-tuple, source_ip"),
])
def test_snat_pool_and_algorithm_errors_name_the_field(body, field, words):
    with pytest.raises(InvalidInput) as e:
        parse_vip(body)
    assert e.value.field == field and words in str(e.value)


def test_dsr_members_must_use_the_vip_port():
    with pytest.raises(InvalidInput, match=r"members\[0\].port: 8080 differs from the VIP's port 80: dsr rewrites only the MAC"):
        parse_vip(dict(WEB, mode="dsr", members=[{"address": "198.18.0.11", "port": 8080}]))


def test_defaults():
    vip = parse_vip({"name": "w", "address": "198.18.0.100", "port": 443,
                     "members": [{"address": "198.18.0.11"}]})
    assert (vip.protocol, vip.mode) == ("tcp", "routed")
    assert (vip.members[0].port, vip.members[0].weight) == (443, 1)


def test_name_in_body_must_match_url():
    with pytest.raises(InvalidInput, match="^name: 'other' differs"):
        parse_vip(dict(WEB, name="other"), name="web")


def test_same_service_twice_is_a_conflict_and_changes_nothing():
    vips = vip_set(WEB)
    with pytest.raises(Conflict, match="198.18.0.100:80/tcp is already served by vip 'web'"):
        vips.create(parse_vip(dict(WEB, name="web2")))
    assert [v.name for v in vips.vips] == ["web"]
    vips.create(parse_vip(dict(WEB, name="web-udp", protocol="udp")))   # another protocol is fine


def test_same_name_twice_is_a_conflict():
    with pytest.raises(Conflict, match="'web' already exists"):
        vip_set(WEB).create(parse_vip(dict(WEB, port=81)))


def test_unknown_name_is_not_found():
    with pytest.raises(NotFound):
        vip_set(WEB).get("nope")
    with pytest.raises(NotFound):
        vip_set(WEB).delete("nope")


def test_ids_are_never_reused():
    vips = vip_set(WEB)
    vips, _ = vips.delete("web")
    vips, again = vips.create(parse_vip(WEB))
    assert again.id == 2


def test_the_last_vip_id_is_handed_out_and_then_no_more():
    vips, last = Config(next_id=MAX_VIP_ID).create(parse_vip(WEB))
    assert last.id == MAX_VIP_ID
    with pytest.raises(Conflict, match="no VIP id is left"):
        vips.create(parse_vip(dict(WEB, name="web2", port=81)))


def test_vips_of_one_redundancy_group_share_an_address_while_other_groups_exist():
    vips = vip_set(WEB, dict(WEB, name="elsewhere", address="198.18.0.200", redundancy_group=2))
    vips, web2 = vips.create(parse_vip(dict(WEB, name="web2", port=81)))
    assert web2.address == WEB["address"]


def test_an_address_is_a_vips_or_a_members_never_both():
    vips = vip_set(WEB)
    with pytest.raises(Conflict, match="^address: 198.18.0.12 is a member of vip 'web'$"):
        vips.create(parse_vip(dict(WEB, name="on-a-member", address="198.18.0.12",
                                   members=[{"address": "198.18.0.50"}])))
    with pytest.raises(Conflict, match="^members: 198.18.0.100 is an address of vip 'web'$"):
        vips.create(parse_vip(dict(WEB, name="to-a-vip", address="198.18.0.101",
                                   members=[{"address": "198.18.0.100"}, {"address": "198.18.0.1"}])))
