"""Host table and probe schedule, driven by a clock the test controls."""
from lbctl_app.hosts import HostTable, Place, ProbeSchedule


def test_learn_reports_only_changes_of_place():
    hosts = HostTable()
    assert hosts.learn(1, "198.18.0.11", "0a:00:00:00:00:11", 2, now=10.0)
    assert not hosts.learn(1, "198.18.0.11", "0a:00:00:00:00:11", 2, now=11.0)
    assert hosts.learn(1, "198.18.0.11", "0a:00:00:00:00:99", 5, now=12.0)
    (host,) = hosts.all()
    assert (host.moves, host.first_seen, host.last_seen) == (1, 10.0, 12.0)
    assert hosts.where(1, "198.18.0.11") == Place("0a:00:00:00:00:99", 5)
    assert hosts.where(2, "198.18.0.11") is None, "places are per switch"


def test_probes_back_off_and_stop_when_resolved():
    probes = ProbeSchedule(first_interval=1.0, max_interval=4.0)
    wanted = {(1, "198.18.0.11")}
    sent = [t for t in range(0, 20) if probes.due(wanted, float(t))]
    assert sent == [0, 1, 3, 7, 11, 15, 19]   # 1, 2, 4, then every 4 s
    assert probes.due(set(), 20.0) == []
    assert probes.due(wanted, 20.0) == [(1, "198.18.0.11")], "asked for again: starts afresh"
