"""ARP packet-ins through the core (lbctl.core.Balancer, no switch, a clock the test moves): ARP
from hosts that are no member is counted and learns nothing, however many senders; a flood of
claims on a VIP is answered with one announcement at a time and logged once."""
import logging
import random

import pytest

from flows import pipeline
from lbctl import packets, store
from lbctl.core import Balancer, Options
from lbctl.core.messages import PacketOut
from lbctl.model import parse_vip
from lbctl.networks import parse_network
from tests.unit.sample import WEB, vip_set

DPID = 1
VIP = "198.18.0.100"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def wall(self):
        return self.now


def adopted_core(files, body):
    """The core serving the VIP `body`, with one switch connected and adopted (it held nothing)."""
    store.save_state(files.state_file, vip_set(body))
    balancer = Balancer(Options(), files, Clock())
    balancer.switch_connected(DPID)
    balancer.flows_read(DPID, 0, [], False)
    balancer.groups_read(DPID, [], False)
    balancer.meters_read(DPID, [], False)
    assert balancer.adopted()
    return balancer


@pytest.fixture
def core(tmp_path):
    """The core serving WEB on an adopted switch, the announcement of the adoption over."""
    files = store.FileStore(str(tmp_path / "state.msgpack"))
    balancer = adopted_core(files, WEB)
    run(balancer, 5.0)
    yield balancer
    files.close()


def run(core, seconds, step=0.005):
    """Move the clock on by `seconds`, ticking every `step`."""
    for _ in range(round(seconds / step)):
        core.clock.now += step
        core.tick(core.clock.now)


def arp_in(core, frame, in_port=1):
    return core.packet_in(DPID, pipeline.ARP_PUNT.id, in_port, frame)


def test_arp_from_thousands_of_non_members_is_counted_and_learns_nothing(core):
    rng = random.Random(7)
    for _ in range(2000):
        sender = "198.19.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
        mac = "0a:%02x:%02x:%02x:%02x:%02x" % tuple(rng.randrange(256) for _ in range(5))
        assert arp_in(core, packets.arp_request(mac, sender, "198.19.255.254")) == []
    assert core.stats.counters["arp_ignored"] == 2000
    assert len(core.hosts) == 0
    arp_in(core, packets.arp_request("0a:00:00:00:00:11", "198.18.0.11", "198.18.0.1"), in_port=2)
    run(core, 0.2)
    assert [(h.ip, h.port) for h in core.hosts.all()] == [("198.18.0.11", 2)], "a member is learned"


def test_a_flood_of_claims_on_a_vip_gets_one_announcement_at_a_time_and_one_log_line(core, caplog):
    garp_count, before = core.options.garp_count, core.stats.counters["garps_sent"]
    with caplog.at_level(logging.WARNING, logger="lbctl"):
        for _ in range(600):   # 200 claims a second for 3 s
            arp_in(core, packets.arp_request("0a:00:00:00:00:99", VIP, VIP))
            run(core, 0.005)
        run(core, 5.0)         # the announcement under way finishes
    assert core.stats.counters["ownership_conflicts"] == 600
    # The first announcement (3 GARPs, 1 s apart) ends 2 s in; the claims still coming start a second.
    assert core.stats.counters["garps_sent"] - before == 2 * garp_count
    conflicts = [r.getMessage() for r in caplog.records if "ownership conflict" in r.getMessage()]
    assert len(conflicts) == 1 and "0a:00:00:00:00:99 claims 198.18.0.100" in conflicts[0]


DSR = dict(WEB, name="direct", mode="dsr")


def serving(core, vip_id):
    """The member ids the switch's slot table of a VIP names, as the core last sent it."""
    return set(core.switches[DPID].installed.slots.get(vip_id, ()))


def test_members_found_by_one_round_of_probes_go_into_service_together_and_move_no_slot(tmp_path):
    files = store.FileStore(str(tmp_path / "state.msgpack"))
    core = adopted_core(files, DSR)
    answers = [arp_in(core, packets.arp_reply("0a:00:00:00:00:%02d" % port, member, pipeline.own_mac(0, 0, 1),
                                              packets.PROBE_SOURCE), in_port=port)
               for port, member in enumerate(("198.18.0.11", "198.18.0.12"), start=2)]
    assert answers == [[], []] and serving(core, 1) == set(), "not yet: more answers may be on their way"
    run(core, 0.01)
    assert serving(core, 1) == set()
    arp_in(core, packets.arp_reply("0a:00:00:00:00:04", "198.18.0.13", pipeline.own_mac(0, 0, 1), packets.PROBE_SOURCE),
           in_port=4)
    assert serving(core, 1) == {1, 2, 3}, "the last one missing: at once"
    assert core.switches[DPID].installed.moves == {}, "no slot went from one new member to the next"
    files.close()


def test_a_member_found_while_another_is_missing_is_shown_when_it_is_served_soon_after(core):
    arp_in(core, packets.arp_request("0a:00:00:00:00:11", "198.18.0.11", "198.18.0.1"), in_port=2)
    assert serving(core, 1) == set() and core.hosts.all() == [], "not shown located before it is served"
    run(core, 0.2)
    assert serving(core, 1) == {1} and [h.ip for h in core.hosts.all()] == ["198.18.0.11"]


def test_arp_sent_from_a_mac_of_the_balancer_teaches_nothing_and_counts_as_a_conflict(core):
    before = core.stats.counters["ownership_conflicts"]
    claim = packets.arp_request(pipeline.own_mac(0, 0, 1), "198.18.0.11", "198.18.0.1")   # a member's address
    assert arp_in(core, claim, in_port=2) == []
    assert len(core.hosts) == 0 and core.stats.counters["ownership_conflicts"] == before + 1


def test_an_address_flapping_on_one_network_is_frozen_there_alone(tmp_path):
    """Two tenants' members at one address: the moves of one are its own; duplicate detection
    freezes it alone, and GARPs answer each network with its own MAC, tagged as it is."""
    files = store.FileStore(str(tmp_path / "state.msgpack"))
    core = adopted_core(files, WEB)
    for name, vlan in (("tenant-a", 101), ("tenant-b", 102)):
        core.create_network(parse_network({"name": name, "vlan": vlan, "gateways": ["10.0.0.1/24"]}))
        core.create_vip(parse_vip(dict(WEB, name=name + "-web", network=name, address="10.0.0.100",
                                       members=[{"address": "10.0.0.11", "port": 80}])))
    networks = core.config.network_by_name
    for name in ("tenant-a", "tenant-b"):
        core.packet_in(DPID, pipeline.MEMBER_ARP_PUNT.id, 50, packets.arp_request("02:00:00:00:00:01", "10.0.0.11",
                                                                                  "10.0.0.1"), networks[name].id)
    run(core, 1.0)
    for i in range(core.options.duplicate_moves):   # tenant A's host flaps between two MACs
        core.packet_in(DPID, pipeline.MEMBER_ARP_PUNT.id, 50 + i % 2, packets.arp_request(
            "02:00:00:00:00:%02x" % (2 + i % 2), "10.0.0.11", "10.0.0.1"), networks["tenant-a"].id)
    a, b = core.hosts.host(DPID, ("tenant-a", "10.0.0.11")), core.hosts.host(DPID, ("tenant-b", "10.0.0.11"))
    assert a.state == "duplicate" and (b.state, b.mac, b.port, b.moves) == ("learned", "02:00:00:00:00:01", 50, 0)
    sent = set()
    core.neighbours.announce({("tenant-a", "10.0.0.1"), ("tenant-b", "10.0.0.1")})
    for _ in range(400):
        core.clock.now += 0.01
        for message in [m for _, m in core.tick(core.clock.now) if isinstance(m, PacketOut)]:
            frame = packets.parse(message.data)
            if frame is not None and frame.arp is not None and frame.arp.src_ip == "10.0.0.1":
                sent.add((frame.vlan, frame.src, message.port))
    assert sorted(sent) == [(101, "02:6c:00:00:10:01", "NORMAL"), (102, "02:6c:00:00:20:01", "NORMAL")]
    files.close()
