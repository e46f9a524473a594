"""The YAML file and the saved state: round trip, atomic replace, clear errors naming the file."""
import os

import msgpack
import pytest

from lbctl import store
from lbctl.model import parse_vip
from tests.unit.sample import DEFAULT, DNS, vip_set, WEB


def test_state_round_trip_keeps_ids(tmp_path):
    vips = vip_set(WEB, DNS)
    vips, _ = vips.delete("web")
    path = str(tmp_path / "state.msgpack")
    store.save_state(path, vips)
    assert store.load_state(path, DEFAULT) == vips
    assert os.listdir(tmp_path) == ["state.msgpack"], "no temporary file left behind"


def test_state_file_is_the_plain_msgpack_of_its_document_after_changes(tmp_path):
    """Each VIP's encoding is kept from one save to the next: what is written must still be
    exactly the document of the VIPs saved (written out here field by field)."""
    path = str(tmp_path / "state.msgpack")
    files = store.FileStore(path)
    files.load(DEFAULT)
    files.transact(lambda config: vip_set(WEB, DNS))
    files.transact(lambda config: config.replace("web", parse_vip(
        dict(WEB, port=8080, members=[dict(WEB["members"][0], monitor_port=8081)]), name="web"))[0])
    vips = files.transact(lambda config: config.create(parse_vip(dict(DNS, name="dns2", port=5353)))[0])
    files.close()
    web = vips.get("web")
    assert web.members[0].monitor_port == 8081
    doc = {"format": 3, "next_id": 4, "next_host": 4,   # host 3 (.13, gone with web's replace) not reused
           "next_network": 1, "networks": [],
           "vips": [dict(v.to_dict(), id=v.id, members=[dict(m, id=i, host=h) for m, (i, h) in zip(
               v.to_dict()["members"], [(m.id, m.host) for m in v.members])]) for v in vips.vips]}
    assert doc["vips"][0]["members"][0] == {"address": "198.18.0.11", "port": 80, "weight": 1, "monitor_port": 8081,
                                            "id": 1, "host": 1}
    with open(path, "rb") as f:
        assert f.read() == msgpack.packb(doc, use_bin_type=True)
    assert store.load_state(path, DEFAULT) == vips


def test_saved_state_wins_over_the_yaml_file(tmp_path):
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    state = str(tmp_path / "state.msgpack")
    vips, source = store.initial_config(state, str(yaml_file), default=DEFAULT)
    assert [v.name for v in vips.vips] == ["a"] and "VIP file" in source
    store.save_state(state, vip_set(DNS))
    vips, source = store.initial_config(state, str(yaml_file), default=DEFAULT)
    assert [v.name for v in vips.vips] == ["dns"] and "state file" in source


def test_default_yaml_file_is_valid():
    here = os.path.dirname(__file__)
    vips = store.load_yaml(os.path.join(here, "..", "..", "config", "vips.yaml"), DEFAULT)
    assert [v.name for v in vips.vips] == ["web"]


def test_yaml_error_names_file_and_field(tmp_path):
    path = tmp_path / "vips.yaml"
    path.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 70000}\n")
    with pytest.raises(store.StoreError, match=r"vips.yaml: vips\[0\].port: 70000 is not a port"):
        store.load_yaml(str(path), DEFAULT)


def test_damaged_state_is_reported(tmp_path):
    path = tmp_path / "state.msgpack"
    path.write_bytes(msgpack.packb({"format": 1, "next_id": 2, "vips": [{"name": "x"}]}))
    with pytest.raises(store.StoreError, match="saved state is damaged"):
        store.load_state(str(path), DEFAULT)
    path.write_bytes(b"\xc1garbage")
    with pytest.raises(store.StoreError, match="cannot read saved state"):
        store.load_state(str(path), DEFAULT)


@pytest.mark.parametrize("damage", [b"", b"\x83\xa6format\x01\xa7next", b"\xc1garbage"])
def test_a_damaged_state_file_is_kept_aside_and_the_yaml_file_used(tmp_path, damage):
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    state = tmp_path / "state.msgpack"
    store.save_state(str(state), vip_set(DNS))
    state.write_bytes(state.read_bytes()[:len(damage)] if damage == b"" else damage)   # truncated or corrupt
    vips, source = store.initial_config(str(state), str(yaml_file), now=lambda: 0, default=DEFAULT)
    assert [v.name for v in vips.vips] == ["a"]
    aside = tmp_path / "state.msgpack.damaged-19700101T000000"
    assert not state.exists() and aside.read_bytes() == damage
    assert "unusable" in source and str(aside) in source


def test_two_controllers_cannot_hold_one_state_file(tmp_path):
    state = str(tmp_path / "state.msgpack")
    first = store.StateLock(state)
    with pytest.raises(store.StoreError, match=r"state_file: .* is in use by another controller \(pid %d\)" % os.getpid()):
        store.StateLock(state)
    first.release()
    store.StateLock(state).release()


def test_a_first_start_takes_the_vip_file_and_names_a_damaged_state_file_by_the_clock(tmp_path):
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    state = tmp_path / "state.msgpack"
    files = store.FileStore(str(state), str(yaml_file), now=lambda: 86400)
    assert [v.name for v in files.load(DEFAULT).vips] == ["a"] and files.source == "VIP file %s" % yaml_file
    state.write_bytes(b"\xc1garbage")
    assert [v.name for v in files.load(DEFAULT).vips] == ["a"]
    assert (tmp_path / "state.msgpack.damaged-19700102T000000").read_bytes() == b"\xc1garbage"
    files.close()


@pytest.mark.parametrize("text", ["", "vips: []\n", "# no VIP yet\n{}\n"])
def test_an_empty_vip_file_is_an_empty_configuration(tmp_path, text):
    path = tmp_path / "vips.yaml"
    path.write_text(text)
    assert store.load_yaml(str(path), DEFAULT).vips == ()


@pytest.mark.parametrize("text, error", [
    ("- {name: a, address: 198.18.0.100, port: 80}\n", "expected a mapping with lists under 'networks' and 'vips'"),
    ("vips: 3\n", "expected a mapping with lists under 'networks' and 'vips'"),
    ("vips:\n  - web\n", "vips[0]: 'web' is not an object"),
    (None, "cannot read: "),
])
def test_a_vip_file_that_cannot_be_used_is_refused_naming_the_file(tmp_path, text, error):
    path = tmp_path / "vips.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(store.StoreError) as e:
        store.load_yaml(str(path), DEFAULT)
    assert str(e.value).startswith("%s: %s" % (path, error))


def test_a_state_file_that_holds_no_map_is_no_state_file(tmp_path):
    path = tmp_path / "state.msgpack"
    path.write_bytes(msgpack.packb([2, 1, 1, []]))
    with pytest.raises(store.StoreError, match="^%s: not an lbctl state file of format 3$" % path):
        store.load_state(str(path), DEFAULT)


def test_a_save_that_fails_leaves_no_temporary_file_behind(tmp_path):
    taken = tmp_path / "state.msgpack"
    taken.mkdir()   # os.replace cannot put a file there
    with pytest.raises(IsADirectoryError):
        store.save_state(str(taken), vip_set(WEB))
    assert os.listdir(tmp_path) == ["state.msgpack"]


def test_a_rest_token_of_sixteen_characters_is_enough_and_fifteen_is_not(tmp_path):
    path = tmp_path / "token"
    path.write_text("0123456789abcdef\n")
    path.chmod(0o600)
    assert store.read_token(str(path)) == "0123456789abcdef"
    path.write_text("0123456789abcde\n")
    with pytest.raises(store.StoreError, match="holds no token of at least 16 characters"):
        store.read_token(str(path))
