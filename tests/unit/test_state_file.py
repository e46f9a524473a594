"""The state file under damage and over every field: a file that msgpack reads but that breaks a
rule of the API or of the ids is set aside at start (the YAML file is used), never a crash; a
format-1 file gets its host ids; and any configuration the API accepts comes back from the file
exactly, VIP by VIP (property-tested with hypothesis over generated VIP bodies)."""
import ipaddress
import os
import tempfile

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lbctl import store
from lbctl.networks import parse_network
from lbctl.model import ALGORITHMS, MODES, MONITOR_TYPES, PROTOCOLS, Config, LbError, parse_vip
from tests.unit.sample import DEFAULT, DNS, vip_set, WEB


def saved_doc():
    """The state document of WEB and DNS (VIP ids 1, 2; hosts .11 -> 1, .12 -> 2, .13 -> 3)."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "state.msgpack")
        store.save_state(path, vip_set(WEB, DNS))
        with open(path, "rb") as f:
            return msgpack.unpackb(f.read())


def members(doc, vip):
    return doc["vips"][vip]["members"]


def damage_members_not_objects(doc):
    doc["vips"][0]["members"] = [1]


def damage_next_id_text(doc):
    doc["next_id"] = "7"


def damage_member_id_repeated(doc):
    members(doc, 0)[1]["id"] = 1


def damage_host_id_shared(doc):
    members(doc, 0)[1]["host"] = 1      # .12 takes .11's host id


def damage_address_with_two_host_ids(doc):
    doc["next_host"] = 5
    members(doc, 1)[0]["host"] = 4      # .11 is host 1 in web, host 4 in dns


def damage_host_id_not_handed_out(doc):
    members(doc, 0)[2]["host"] = 4      # next_host is 4


def damage_vip_id_not_handed_out(doc):
    doc["vips"][1]["id"] = 3            # next_id is 3


def damage_vip_id_repeated(doc):
    doc["vips"][1]["id"] = 1


def damage_vip_id_boolean(doc):
    doc["vips"][0]["id"] = True


def damage_pool_on_a_vip_address(doc):
    doc["vips"][1].update(mode="one-arm", snat_pool={"addresses": ["198.18.0.100"], "ports": [1024, 65535]})


def damage_unknown_algorithm(doc):
    doc["vips"][0]["algorithm"] = "round-robin"


def damage_vips_not_a_list(doc):
    doc["vips"] = {"web": 1}


def damage_vip_not_an_object(doc):
    doc["vips"][1] = "dns"


def damage_members_not_a_list(doc):
    doc["vips"][0]["members"] = "all"


def damage_member_id_zero(doc):
    members(doc, 0)[0]["id"] = 0


def damage_host_id_text(doc):
    members(doc, 1)[0]["host"] = "1"


def damage_next_host_missing(doc):
    del doc["next_host"]


@pytest.mark.parametrize("damage, why", [
    (damage_members_not_objects, "vips[0].members[0]: 1 is not an object"),
    (damage_next_id_text, "next_id: '7' is not an id (an integer from 1)"),
    (damage_member_id_repeated, "vips[0].members: [1, 1, 3] repeat a member id"),
    (damage_host_id_shared, "vips[0].members[1].host: 1 is not the one host id of 198.18.0.12 below next_host 4"),
    (damage_address_with_two_host_ids, "vips[1].members[0].host: 4 is not the one host id of 198.18.0.11 below next_host 5"),
    (damage_host_id_not_handed_out, "vips[0].members[2].host: 4 is not the one host id of 198.18.0.13 below next_host 4"),
    (damage_vip_id_not_handed_out, "vips[1].id: 3 is not below next_id 3, or repeats"),
    (damage_vip_id_repeated, "vips[1].id: 1 is not below next_id 3, or repeats"),
    (damage_vip_id_boolean, "vips[0].id: True is not an id (an integer from 1)"),
    (damage_pool_on_a_vip_address, "vips[1]: 'dns' breaks a rule: snat_pool.addresses[0]: 198.18.0.100 is the address "
                                   "of vip 'web'"),
    (damage_unknown_algorithm, "vips[0].algorithm: 'round-robin' is not one of 5-tuple, source_ip"),
    (damage_vips_not_a_list, "vips: {'web': 1} is not a list"),
    (damage_vip_not_an_object, "vips[1]: 'dns' is not an object"),
    (damage_members_not_a_list, "vips[0].members: 'all' is not a list"),
    (damage_member_id_zero, "vips[0].members[0].id: 0 is not an id (an integer from 1)"),
    (damage_host_id_text, "vips[1].members[0].host: '1' is not an id (an integer from 1)"),
    (damage_next_host_missing, "next_host: None is not an id (an integer from 1)"),
])
def test_a_readable_but_damaged_state_file_is_set_aside_and_the_yaml_file_used(tmp_path, damage, why):
    doc = saved_doc()
    damage(doc)
    state = tmp_path / "state.msgpack"
    state.write_bytes(msgpack.packb(doc, use_bin_type=True))
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    config, source = store.initial_config(str(state), str(yaml_file), now=lambda: 0, default=DEFAULT)
    assert [v.name for v in config.vips] == ["a"]
    aside = tmp_path / "state.msgpack.damaged-19700101T000000"
    assert not state.exists() and aside.read_bytes() == msgpack.packb(doc, use_bin_type=True)
    assert "saved state is damaged: " + why in source and str(aside) in source


def test_an_undamaged_document_loads(tmp_path):
    """(The damage above is what breaks each file.)"""
    state = tmp_path / "state.msgpack"
    state.write_bytes(msgpack.packb(saved_doc(), use_bin_type=True))
    assert store.load_state(str(state), DEFAULT) == vip_set(WEB, DNS)


def test_a_format_1_file_gets_host_ids_in_order_and_keeps_every_other_id(tmp_path):
    doc = saved_doc()
    doc["format"], doc["next_id"] = 1, 7
    del doc["next_host"]
    doc["vips"][0]["id"] = 5
    for vip in doc["vips"]:
        for member in vip["members"]:
            del member["host"]
            member["id"] += 10
    state = tmp_path / "state.msgpack"
    state.write_bytes(msgpack.packb(doc, use_bin_type=True))
    config = store.load_state(str(state), DEFAULT)
    assert (config.next_id, config.next_host) == (7, 4)
    assert [v.id for v in config.vips] == [5, 2]
    assert [[(m.address, m.id, m.host) for m in v.members] for v in config.vips] == [
        [("198.18.0.11", 11, 1), ("198.18.0.12", 12, 2), ("198.18.0.13", 13, 3)],
        [("198.18.0.11", 11, 1), ("198.18.0.12", 12, 2)]]
    assert config.hosts == {("default", "198.18.0.11"): 1, ("default", "198.18.0.12"): 2, ("default", "198.18.0.13"): 3}
    store.save_state(str(state), config)
    again = msgpack.unpackb(state.read_bytes())
    assert (again["format"], again["next_host"]) == (3, 4)
    assert store.load_state(str(state), DEFAULT) == config


# ---------------------------------------------------------------- every field, round trip

def addresses(low, high):
    return st.integers(low, high).map(lambda n: str(ipaddress.IPv4Address("198.18.0.0") + n))


# From small ranges, so that generated VIPs share addresses, pools and members (and some break the
# configuration's rules: those are skipped, as the API would refuse them).
vip_address, member_address = addresses(1, 10), addresses(11, 40)
port = st.integers(1, 65535)
seconds = st.floats(0.1, 3600.0, allow_nan=False, allow_infinity=False)


@st.composite
def health_monitor(draw):
    """Each field but the type left out at times (its default is then taken)."""
    present = {key for key in ("interval", "timeout", "rise", "fall") if draw(st.booleans())}
    interval = draw(st.one_of(seconds, st.integers(1, 3600))) if "interval" in present else 2.0
    doc = {"type": draw(st.sampled_from(MONITOR_TYPES)), "interval": interval,
           "timeout": draw(st.floats(0.05, interval)), "rise": draw(st.integers(1, 10)),
           "fall": draw(st.integers(1, 10))}
    return {key: value for key, value in doc.items() if key in present or key == "type"}


@st.composite
def member(draw, vip_port, mode):
    doc = {"address": draw(member_address)}
    member_port = vip_port if mode == "dsr" else draw(port)
    if draw(st.booleans()):
        doc["port"] = member_port
    if draw(st.booleans()):
        doc["weight"] = draw(st.integers(0, 256))
    if draw(st.booleans()):
        doc["monitor_port"] = draw(port)
    return doc


@st.composite
def vip_body(draw, name):
    mode = draw(st.sampled_from(MODES))
    vip_port = draw(port)
    body = {"name": name, "address": draw(vip_address), "port": vip_port, "mode": mode}
    for field, values in (("protocol", st.sampled_from(PROTOCOLS)), ("algorithm", st.sampled_from(ALGORITHMS)),
                          ("redundancy_group", st.sampled_from([1, 2, 0xEFF])), ("health_monitor", health_monitor()),
                          ("network", st.sampled_from(["default", "tenant-a", "tenant-b"]))):
        if draw(st.booleans()):
            body[field] = draw(values)
    if mode == "one-arm":
        first, size = draw(st.integers(41, 60)), draw(st.integers(1, 16))
        pool = {"addresses": [str(ipaddress.IPv4Address("198.18.0.0") + first + i) for i in range(size)]}
        if draw(st.booleans()):
            low = draw(port)
            pool["ports"] = [low, draw(st.integers(low, 65535))]
        body["snat_pool"] = pool
    body["members"] = draw(st.lists(member(vip_port, mode), max_size=6, unique_by=lambda m: m["address"]))
    return body


NETWORKS = [{"name": "tenant-a", "vlan": 101, "gateways": ["198.18.0.1/24"], "monitor_address": "198.18.0.2"},
            {"name": "tenant-b", "vlan": 102, "access_ports": [7, 9]}]
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", fullmatch=True)


@st.composite
def configuration(draw):
    """A Config made the API's way: VIPs created in turn (those it refuses skipped), some deleted
    again, so that ids have gaps and hosts come and go."""
    config = Config().with_default(DEFAULT)
    for network in draw(st.lists(st.sampled_from(NETWORKS), max_size=2, unique_by=lambda n: n["name"])):
        config, _ = config.create_network(parse_network(network))
    for name in draw(st.lists(names, min_size=1, max_size=5)):
        try:
            config, _ = config.create(parse_vip(draw(vip_body(name))))
        except LbError:
            continue
        if draw(st.integers(0, 4)) == 0:
            config, _ = config.delete(name)
    return config


SOURCE_IP = {"name": "sticky", "address": "198.18.0.5", "port": 443, "mode": "one-arm", "algorithm": "source_ip",
             "snat_pool": {"addresses": ["198.18.0.50", "198.18.0.51"], "ports": [2000, 3000]},
             "health_monitor": {"type": "udp", "interval": 0.5, "timeout": 0.25, "rise": 4, "fall": 5},
             "members": [{"address": "198.18.0.11", "port": 8443, "weight": 0, "monitor_port": 9000}]}


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(configuration())
@example(vip_set(SOURCE_IP))
def test_every_configuration_the_api_accepts_comes_back_from_the_state_file(config):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "state.msgpack")
        files = store.FileStore(path)
        files.load(DEFAULT)
        files.transact(lambda _: config)
        files.close()
        again = store.FileStore(path)
        try:
            loaded = again.load(DEFAULT)
        finally:
            again.close()
    assert again.source == "state file %s" % path
    assert loaded == config
    assert [v.revision for v in loaded.vips] == [v.revision for v in config.vips]
    assert [v.to_dict() for v in loaded.vips] == [v.to_dict() for v in config.vips]
