"""A cluster of balancer switches through the core (no switch; a clock the test moves): each
redundancy group is active on one switch, the others stand by (no ARP answer, no announcement,
frames to the group's MAC dropped, the VIPs' flows in place); a failed switch's groups move at
once to the next, announced there alone; failback only with preempt, after the hold-down; a
controller restart keeps each group where the switches say it was."""
import pytest

from flows import pipeline as p
from flows.fakeswitch import FakeSwitch, arp_request, tcp
from flows.protocols import TCP_ACK
from lbctl import packets, store
from lbctl.core import Balancer, Options
from lbctl.core.cluster import SETTLE, Cluster, ClusterConfig
from lbctl.core.messages import FlowStats, PacketOut
from lbctl.model import parse_vip
from lbctl_app.options import parse_cluster
from tests.unit.sample import WEB, vip_set
from tests.unit.test_arp_in import Clock

A, B, C = 0xA, 0xB, 0xC
CONFIG = ClusterConfig({"lb-a": A, "lb-b": B, "lb-c": C}, {2: ["lb-b", "lb-a", "lb-c"]})
VIP_MAC = p.own_mac(0, 0, 1)


# ---------------------------------------------------------------- the state machine alone

def cluster(config=CONFIG, *up):
    machine = Cluster(config, 0.0)
    for dpid in up:
        machine.adopted(dpid, (), 0.0)
    return machine


def actives(machine, groups=(1, 2)):
    return {group: machine.active_switch(group) for group in groups}


def test_each_group_goes_to_its_first_switch_once_all_are_there():
    machine = cluster(CONFIG, A, B)
    assert machine.elect({1, 2}, 0.0, 0.0) == [], "a fresh cluster waits for all its switches"
    machine.adopted(C, (), 0.5)
    changes = machine.elect({1, 2}, 0.5, 0.5)
    assert actives(machine) == {1: A, 2: B} and not any(c.takeover for c in changes)


def test_a_fresh_cluster_elects_without_a_missing_switch_after_settling():
    machine = cluster(CONFIG, B)
    assert machine.elect({1}, SETTLE - 0.1, 0.0) == []
    assert machine.next_change(SETTLE - 0.1) == SETTLE
    machine.elect({1}, SETTLE, 0.0)
    assert actives(machine, (1,)) == {1: B}


def test_a_failed_switchs_groups_move_to_the_next_at_once_and_count_as_takeovers():
    machine = cluster(CONFIG, A, B, C)
    machine.elect({1, 2}, 0.0, 0.0)
    machine.gone(A, 1.0)
    (change,) = machine.elect({1, 2}, 1.0, 1.0)
    assert (change.group, change.old, change.new, change.takeover) == (1, A, B, True)
    assert actives(machine) == {1: B, 2: B} and machine.takeovers == 1


def test_an_uplink_down_is_a_failure_and_only_an_uplink_counts():
    config = ClusterConfig(CONFIG.balancers, uplinks={"lb-a": frozenset({50})})
    machine = cluster(config, A, B, C)
    machine.elect({1}, 0.0, 0.0)
    assert not machine.uplink(A, 7, False, 1.0), "not an uplink: nothing changes"
    assert machine.uplink(A, 50, False, 1.0)
    machine.elect({1}, 1.0, 1.0)
    assert actives(machine, (1,)) == {1: B}
    machine.uplink(A, 50, True, 2.0)
    machine.elect({1}, 2.0, 2.0)
    assert actives(machine, (1,)) == {1: B}, "no preemption: the group stays"


def test_with_preempt_a_preferred_switch_takes_its_group_back_after_the_hold_down():
    config = ClusterConfig(CONFIG.balancers, preempt=True, hold_down=10.0)
    machine = cluster(config, A, B, C)
    machine.elect({1}, 0.0, 0.0)
    machine.gone(A, 1.0)
    machine.elect({1}, 1.0, 1.0)
    machine.adopted(A, (), 5.0)
    assert machine.elect({1}, 5.0, 5.0) == [] and 5.0 < machine.next_change(5.0) <= 15.0
    machine.gone(A, 7.0)
    machine.adopted(A, (), 8.0)   # a flap starts the hold-down again
    assert machine.elect({1}, 15.0, 15.0) == []
    (change,) = machine.elect({1}, 18.0, 18.0)
    assert (change.old, change.new, change.takeover) == (B, A, False)


def test_a_restarted_controller_keeps_each_group_where_the_switches_say_it_was():
    machine = cluster(CONFIG)
    machine.adopted(C, {1, 2}, 0.0)   # C was active for both (A and B had failed before)
    machine.elect({1, 2}, 0.0, 0.0)
    assert actives(machine) == {1: C, 2: C}, "no waiting, no move"
    machine.adopted(A, set(), 0.1)
    assert machine.elect({1, 2}, 0.1, 0.1) == []


def test_no_healthy_switch_leaves_a_group_without_an_active_one():
    machine = cluster(CONFIG, A, B, C)
    machine.elect({1}, 0.0, 0.0)
    for dpid in (A, B, C):
        machine.gone(dpid, 1.0)
    (change,) = machine.elect({1}, 1.0, 1.0)
    assert change.new is None and machine.active_switch(1) is None


@pytest.mark.parametrize("options, error", [
    (dict(balancers=["lb-a=0a"]), "[lbctl] balancers: 'lb-a=0a' has no dpid of 16 hex digits"),
    (dict(balancers=["lb-a=%016x" % A, "lb-a=%016x" % B]), "[lbctl] balancers: 'lb-a=000000000000000b' repeats"),
    (dict(group_order=["1=lb-z"]), "[lbctl] group_order: '1=lb-z' names a switch twice or not in balancers"),
    (dict(group_order=["4000=lb-a"]), "[lbctl] group_order: '4000=lb-a' names no redundancy group from 1 to 3839"),
    (dict(uplinks=["lb-a=x"]), "[lbctl] uplinks: 'lb-a=x' is not a balancer's name and its port numbers"),
])
def test_a_bad_cluster_option_stops_the_start_naming_it(options, error):
    given = dict(dict(balancers=["lb-a=%016x" % A], group_order=[], preempt=False, hold_down=10.0, uplinks=[]),
                 **options)
    with pytest.raises(SystemExit) as stopped:
        parse_cluster(**given)
    assert str(stopped.value).startswith("lbctl cannot start: " + error)


# ---------------------------------------------------------------- through the core

def adopt(core, dpid):
    core.switch_connected(dpid)
    out = core.flows_read(dpid, 0, [], False) + core.groups_read(dpid, [], False) + core.meters_read(dpid, [], False)
    assert core.switches[dpid].adopted
    return out


@pytest.fixture
def two(tmp_path):
    """The core of a two-switch cluster (lb-a first) serving WEB, both switches adopted."""
    files = store.FileStore(str(tmp_path / "state.msgpack"))
    store.save_state(files.state_file, vip_set(WEB))
    core = Balancer(Options(cluster=ClusterConfig({"lb-a": A, "lb-b": B})), files, Clock())
    adopt(core, A)
    adopt(core, B)
    yield core
    files.close()


def garps(out):
    """(dpid, sender address, sender MAC) of the gratuitous ARPs in `out`."""
    found = []
    for dpid, message in out:
        frame = packets.parse(message.data) if isinstance(message, PacketOut) else None
        if frame is not None and frame.arp is not None and frame.arp.src_ip == frame.arp.dst_ip:
            found.append((dpid, frame.arp.src_ip, frame.src))
    return found


def run(core, seconds, step=0.01):
    out = []
    for _ in range(round(seconds / step)):
        core.clock.now += step
        out += core.tick(core.clock.now)
    return out


def test_only_the_active_switch_answers_arp_and_takes_the_groups_frames(two):
    core = two
    assert core.cluster.active_switch(1) == A
    active, standby = (FakeSwitch(core.switches[dpid].installed) for dpid in (A, B))
    ask = arp_request("0a:00:00:00:00:10", "198.18.0.10", WEB["address"])
    assert active.send(ask, 1).single().packet["arp_sha"] == VIP_MAC
    assert [e.port for e in standby.send(ask, 1).egress] == ["NORMAL"], "switched as any ARP, not answered"
    syn = tcp("198.18.0.10:40000", WEB["address"] + ":80", "0a:00:00:00:00:10", VIP_MAC)
    assert [(f.table, f.priority) for f in standby.send(syn, 1).matched] == [
        (p.INGRESS.id, p.INGRESS.DEFAULT), (p.CLASSIFY.id, p.CLASSIFY.STANDBY)]
    vip_flows = lambda dpid: {k for k, f in core.switches[dpid].installed.flows.items() if p.owner(f.cookie).kind == "vip"}
    assert vip_flows(A) == vip_flows(B), "the standby holds the VIP's flows, ready"


def test_announcements_leave_from_the_active_switch_alone(two):
    out = run(two, 3.0)
    assert {dpid for dpid, _, _ in garps(out)} == {A}


def test_a_failed_switchs_group_is_taken_over_and_announced_by_the_next(two):
    core = two
    run(core, 3.0)
    out = core.switch_gone(A)
    assert core.cluster.active_switch(1) == B and core.stats.counters["takeovers"] == 1
    assert all(dpid == B for dpid, _ in out)
    takeover = FakeSwitch(core.switches[B].installed)
    ask = arp_request("0a:00:00:00:00:10", "198.18.0.10", WEB["address"])
    assert takeover.send(ask, 1).single().packet["arp_sha"] == VIP_MAC
    assert (B, WEB["address"], VIP_MAC) in garps(out + run(core, 0.1))


def test_a_standby_probes_members_from_its_own_mac_not_the_groups(two):
    core = two
    core.create_vip(parse_vip(dict(WEB, name="more", port=81, members=[{"address": "198.18.0.20", "port": 80}])))
    out = run(core, 1.0)
    probes = {(dpid, packets.parse(m.data).src) for dpid, m in out if isinstance(m, PacketOut)
              and packets.parse(m.data).arp is not None and packets.parse(m.data).arp.src_ip == packets.PROBE_SOURCE}
    assert probes == {(A, VIP_MAC), (B, p.own_mac(0, 0, p.NODE_GROUP + 1))}


def test_a_restarted_controller_reads_where_each_group_was(two, tmp_path):
    core = two
    core.switch_gone(A)   # B is active now
    standing_by = {dpid: core.switches[dpid].installed for dpid in (B,)}
    files = store.FileStore(str(tmp_path / "again.msgpack"))
    store.save_state(files.state_file, core.config)
    again = Balancer(Options(cluster=ClusterConfig({"lb-a": A, "lb-b": B})), files, Clock())
    rows = [FlowStats(flow, None, 0, 0) for flow in standing_by[B].flows.values()]
    again.switch_connected(B)
    again.flows_read(B, 0, rows, False)
    again.groups_read(B, [], False)
    again.meters_read(B, [], False)
    assert again.cluster.active_switch(1) == B, "B held no standby flow for group 1: it was active"
    files.close()


def test_after_a_takeover_nat_connections_are_picked_up_mid_stream_for_the_grace(two):
    core = two
    for i, member in enumerate(WEB["members"]):
        core.hosts.learn(B, ("default", member["address"]), "0a:00:00:00:00:%02x" % (i + 0x11), 2 + i, 0.0)
    core.switch_gone(A)
    ack = tcp("198.18.0.10:40000", WEB["address"] + ":80", "0a:00:00:00:00:10", VIP_MAC, flags=TCP_ACK)
    result = FakeSwitch(core.switches[B].installed).send(ack, 1)
    assert result.single().packet["ipv4_dst"] in {m["address"] for m in WEB["members"]}, \
        "an ACK of a connection lb-a carried goes on to a member"
    run(core, core.options.takeover_grace + 0.1, step=0.5)
    result = FakeSwitch(core.switches[B].installed).send(ack, 1)
    assert [e.port for e in result.egress] == ["CONTROLLER"], "after the grace: refused as a stray again"


def test_a_standby_keeps_to_the_slot_tables_of_the_active_switch_whatever_its_history(two):
    core = two
    direct = dict(WEB, name="direct", address="198.18.0.120", mode="dsr")
    core.create_vip(parse_vip(direct))
    vip = core.config.get("direct")
    # lb-a found the members one by one (each change moved slots); lb-b found them all at once.
    for i, member in enumerate(direct["members"]):
        core.hosts.learn(A, ("default", member["address"]), "0a:00:00:00:00:%02x" % (i + 0x11), 2 + i, 0.0)
        core.changes.sync(core.switches[A])
    for i, member in enumerate(direct["members"]):
        core.hosts.learn(B, ("default", member["address"]), "0a:00:00:00:00:%02x" % (i + 0x11), 2 + i, 0.0)
    core.changes.sync_all()
    tables = [core.switches[dpid].installed.slots[vip.id] for dpid in (A, B)]
    assert tables[0] == tables[1], "lb-b (standby) hashes every connection to the member lb-a does"


def test_a_takeover_announces_at_once_even_while_an_announcement_runs(two):
    core = two
    run(core, 0.5)   # the adoption's announcements are under way (3, 1 s apart)
    out = core.switch_gone(A) + run(core, 0.06)
    assert (B, WEB["address"], VIP_MAC) in garps(out), "not 1 s later, with the rest of the schedule"


def test_an_adopted_switch_makes_every_active_switch_announce_again(two):
    core = two
    run(core, 5.0)   # all announcements done
    core.switch_gone(B)
    run(core, 5.0)
    out = adopt(core, B) + run(core, 0.1)
    assert {dpid for dpid, _, _ in garps(out)} == {A}, "a (active) announces; b (standby) does not"
