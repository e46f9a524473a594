"""Host table (mobility, duplicate detection) and probe schedule, driven by a clock the test controls."""
from lbctl.hosts import (BECAME_DUPLICATE, DUPLICATE, FROZEN, LEARNED, MOVED, NEW, SAME, HostTable,
                             Place, ProbeSchedule)

IP = (0, "198.18.0.11")   # a host key: (network, address)
MAC_A, MAC_B = "0a:00:00:00:00:11", "0a:00:00:00:00:99"


def test_learn_reports_new_same_and_moved():
    hosts = HostTable()
    assert hosts.learn(1, IP, MAC_A, 2, now=10.0) == NEW
    assert hosts.learn(1, IP, MAC_A, 2, now=11.0) == SAME
    assert hosts.learn(1, IP, MAC_B, 5, now=12.0) == MOVED
    (host,) = hosts.all()
    assert (host.moves, host.first_seen, host.last_seen, host.state) == (1, 10.0, 12.0, LEARNED)
    assert hosts.where(1, IP) == Place(MAC_B, 5)
    assert hosts.where(2, IP) is None, "places are per switch"


def flap(hosts, times):
    """Alternate the address between two places at the given times; the outcomes."""
    places = [(MAC_A, 2), (MAC_B, 5)]
    return [hosts.learn(1, IP, *places[i % 2], now=t) for i, t in enumerate(times)]


def test_five_moves_within_180_s_freeze_the_address_where_it_was():
    hosts = HostTable(max_moves=5, window=180.0)
    outcomes = flap(hosts, [0, 10, 20, 30, 40, 50])
    assert outcomes == [NEW, MOVED, MOVED, MOVED, MOVED, BECAME_DUPLICATE]
    (host,) = hosts.all()
    assert host.state == DUPLICATE and host.place == Place(MAC_A, 2), "frozen at its last place"
    assert hosts.learn(1, IP, MAC_B, 5, now=500.0) == FROZEN, "no more moves, however late"
    assert hosts.where(1, IP) == Place(MAC_A, 2)


def test_moves_spread_wider_than_the_window_are_not_duplicates():
    hosts = HostTable(max_moves=5, window=180.0)
    outcomes = flap(hosts, [0, 50, 100, 150, 200, 250, 300, 350])
    assert BECAME_DUPLICATE not in outcomes and outcomes[-1] == MOVED


def test_forgetting_clears_a_duplicate():
    hosts = HostTable(max_moves=2, window=180.0)
    flap(hosts, [0, 1, 2])
    assert hosts.all()[0].state == DUPLICATE
    assert hosts.forget(IP) == 1 and hosts.all() == []
    assert hosts.learn(1, IP, MAC_B, 5, now=3.0) == NEW
    assert hosts.forget((0, "198.18.0.99")) == 0


def test_probes_back_off_and_stop_when_resolved():
    probes = ProbeSchedule(first_interval=1.0, max_interval=4.0)
    wanted = {(1, IP)}
    sent = [t for t in range(0, 20) if probes.due(wanted, float(t))]
    assert sent == [0, 1, 3, 7, 11, 15, 19]   # 1, 2, 4, then every 4 s
    assert probes.due(set(), 20.0) == []
    assert probes.due(wanted, 20.0) == [(1, IP)], "asked for again: starts afresh"


OTHER = (0, "198.18.0.12")


def test_a_host_not_heard_from_for_max_age_is_forgotten_and_its_switch_named():
    hosts = HostTable(max_age=100.0)
    hosts.learn(1, IP, MAC_A, 2, now=0.0)
    hosts.learn(2, OTHER, MAC_B, 5, now=50.0)
    assert hosts.expire(100.0) == set() and len(hosts) == 2, "heard from exactly max_age ago: kept"
    assert hosts.expire(100.5) == {1}
    assert hosts.where(1, IP) is None and hosts.where(2, OTHER) == Place(MAC_B, 5)


def test_hosts_no_vip_lists_any_more_are_forgotten_on_every_switch():
    hosts = HostTable()
    for dpid in (1, 2):
        hosts.learn(dpid, IP, MAC_A, 2, now=0.0)
        hosts.learn(dpid, OTHER, MAC_B, 5, now=0.0)
    assert hosts.keep_only({OTHER}) == 2
    assert [(h.dpid, h.key) for h in hosts.all()] == [(1, OTHER), (2, OTHER)]


def test_a_switch_that_goes_takes_its_places_with_it_and_no_other_switchs():
    hosts = HostTable()
    hosts.learn(1, IP, MAC_A, 2, now=0.0)
    hosts.learn(2, IP, MAC_A, 7, now=0.0)
    hosts.learn(2, OTHER, MAC_B, 5, now=0.0)
    assert hosts.places(1) == {IP: Place(MAC_A, 2)}
    assert hosts.places(2) == {IP: Place(MAC_A, 7), OTHER: Place(MAC_B, 5)}
    assert hosts.forget_switch(2) == 2
    assert hosts.places(2) == {} and hosts.places(1) == {IP: Place(MAC_A, 2)}
