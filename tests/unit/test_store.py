"""The YAML file and the saved state: round trip, atomic replace, clear errors naming the file."""
import os

import msgpack
import pytest

from lbctl import store
from lbctl.model import parse_vip
from tests.unit.sample import DNS, WEB, vip_set


def test_state_round_trip_keeps_ids(tmp_path):
    vips = vip_set(WEB, DNS)
    vips, _ = vips.delete("web")
    path = str(tmp_path / "state.msgpack")
    store.save_state(path, vips)
    assert store.load_state(path) == vips
    assert os.listdir(tmp_path) == ["state.msgpack"], "no temporary file left behind"


def test_state_file_is_the_plain_msgpack_of_its_document_after_changes(tmp_path):
    """Each VIP's encoding is kept from one save to the next: what is written must still be
    exactly the document of the VIPs saved (written out here field by field)."""
    path = str(tmp_path / "state.msgpack")
    files = store.FileStore(path)
    files.load()
    files.transact(lambda config: vip_set(WEB, DNS))
    files.transact(lambda config: config.replace("web", parse_vip(
        dict(WEB, port=8080, members=[dict(WEB["members"][0], monitor_port=8081)]), name="web"))[0])
    vips = files.transact(lambda config: config.create(parse_vip(dict(DNS, name="dns2", port=5353)))[0])
    files.close()
    web = vips.get("web")
    assert web.members[0].monitor_port == 8081
    doc = {"format": 2, "next_id": 4, "next_host": 4,   # host 3 (.13, gone with web's replace) not reused
           "vips": [dict(v.to_dict(), id=v.id, members=[dict(m, id=i, host=h) for m, (i, h) in zip(
               v.to_dict()["members"], [(m.id, m.host) for m in v.members])]) for v in vips.vips]}
    assert doc["vips"][0]["members"][0] == {"address": "198.18.0.11", "port": 80, "weight": 1, "monitor_port": 8081,
                                            "id": 1, "host": 1}
    with open(path, "rb") as f:
        assert f.read() == msgpack.packb(doc, use_bin_type=True)
    assert store.load_state(path) == vips


def test_saved_state_wins_over_the_yaml_file(tmp_path):
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    state = str(tmp_path / "state.msgpack")
    vips, source = store.initial_config(state, str(yaml_file))
    assert [v.name for v in vips.vips] == ["a"] and "VIP file" in source
    store.save_state(state, vip_set(DNS))
    vips, source = store.initial_config(state, str(yaml_file))
    assert [v.name for v in vips.vips] == ["dns"] and "state file" in source


def test_default_yaml_file_is_valid():
    here = os.path.dirname(__file__)
    vips = store.load_yaml(os.path.join(here, "..", "..", "config", "vips.yaml"))
    assert [v.name for v in vips.vips] == ["web"]


def test_yaml_error_names_file_and_field(tmp_path):
    path = tmp_path / "vips.yaml"
    path.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 70000}\n")
    with pytest.raises(store.StoreError, match=r"vips.yaml: vips\[0\].port: 70000 is not a port"):
        store.load_yaml(str(path))


def test_damaged_state_is_reported(tmp_path):
    path = tmp_path / "state.msgpack"
    path.write_bytes(msgpack.packb({"format": 1, "next_id": 2, "vips": [{"name": "x"}]}))
    with pytest.raises(store.StoreError, match="saved state is damaged"):
        store.load_state(str(path))
    path.write_bytes(b"\xc1garbage")
    with pytest.raises(store.StoreError, match="cannot read saved state"):
        store.load_state(str(path))


@pytest.mark.parametrize("damage", [b"", b"\x83\xa6format\x01\xa7next", b"\xc1garbage"])
def test_a_damaged_state_file_is_kept_aside_and_the_yaml_file_used(tmp_path, damage):
    yaml_file = tmp_path / "vips.yaml"
    yaml_file.write_text("vips:\n  - {name: a, address: 198.18.0.100, port: 80}\n")
    state = tmp_path / "state.msgpack"
    store.save_state(str(state), vip_set(DNS))
    state.write_bytes(state.read_bytes()[:len(damage)] if damage == b"" else damage)   # truncated or corrupt
    vips, source = store.initial_config(str(state), str(yaml_file), now=lambda: 0)
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
