"""Edges a plausible slip would cross unseen by the broader tests: failures that are not in a row,
a SNAT pool that crosses a digit boundary, a member inside its VIP's own pool, and a move exactly
one duplicate window after another."""
from flows.desired import desired_state
from flows.text import state_text
from lbctl import health
from lbctl.hosts import BECAME_DUPLICATE, MOVED, NEW, HostTable
from tests.unit.sample import PLACES, WEB, vip_set
from tests.unit.test_health import answer, fresh, monitored


def test_fall_counts_failures_in_a_row_only():
    vip = monitored(fall=3)   # interval 1 s, timeout 0.25 s
    monitors = fresh(vip)
    key = (vip.id, 1)
    assert answer(monitors, key, 0.0, True).up
    assert answer(monitors, key, 1.0, False) is None
    assert answer(monitors, key, 1.25, True) is None, "a success between failures starts the count again"
    assert answer(monitors, key, 2.25, False) is None
    assert answer(monitors, key, 2.5, False) is None, "fail, ok, fail, fail: only two in a row"
    assert 1 not in monitors.down(vip)
    change = answer(monitors, key, 2.75, False)
    assert change == health.Change(key, False, "3 tcp probes failed (test)")
    assert 1 in monitors.down(vip)


def test_a_snat_pool_is_one_range_in_address_order_not_text_order():
    one_arm = dict(WEB, name="arm", mode="one-arm", snat_pool={"addresses": ["198.18.0.9", "198.18.0.10"],
                                                               "ports": [1024, 65535]})
    text = state_text(desired_state(vip_set(one_arm).vips, PLACES))
    assert "nat(src=198.18.0.9-198.18.0.10:1024-65535)" in text   # as text, ".10" sorts before ".9"
    for address in ("198.18.0.9", "198.18.0.10"):
        assert "priority=600,ip,reg9=0,nw_dst=%s actions=ct(zone=65,nat),ct(table=20,zone=64,nat)" % address in text


def test_a_member_inside_its_vips_own_pool_is_refused(api):
    body = dict(WEB, mode="one-arm", snat_pool={"addresses": ["198.18.0.200", "198.18.0.201"]},
                members=[{"address": "198.18.0.11"}, {"address": "198.18.0.201"}])
    assert api("POST", "/v1/vips", body) == (
        400, {"error": "members[1].address: '198.18.0.201' is one of the VIP's own addresses"})
    assert api("GET", "/v1/vips") == (200, [])


KEY = (0, "198.18.0.11")


def test_a_move_exactly_one_window_after_another_is_outside_the_window():
    hosts = HostTable(max_moves=2, window=10.0)
    assert hosts.learn(1, KEY, "0a:00:00:00:00:01", 2, now=0.0) == NEW
    assert hosts.learn(1, KEY, "0a:00:00:00:00:02", 3, now=5.0) == MOVED
    assert hosts.learn(1, KEY, "0a:00:00:00:00:01", 2, now=15.0) == MOVED, "the move at 5.0 has left the window"
    just_inside = HostTable(max_moves=2, window=10.0)
    just_inside.learn(1, KEY, "0a:00:00:00:00:01", 2, now=0.0)
    just_inside.learn(1, KEY, "0a:00:00:00:00:02", 3, now=5.0)
    assert just_inside.learn(1, KEY, "0a:00:00:00:00:01", 2, now=14.5) == BECAME_DUPLICATE
