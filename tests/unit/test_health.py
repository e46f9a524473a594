"""Health monitors on an injected clock: when probes go out, how rise and fall move a member,
what the flows do with a member held down, and the probe packets themselves."""
from dataclasses import replace

import pytest
from ryu.lib.packet import ethernet, icmp, ipv4, packet, tcp, udp

from flows import pipeline
from flows.desired import desired_state
from flows.text import state_text
from lbctl import health, packets
from lbctl.hosts import Place
from lbctl.model import InvalidInput, parse_vip
from tests.unit.sample import PLACES, settings, vip_set, WEB

MONITOR = {"type": "tcp", "interval": 1.0, "timeout": 0.25, "rise": 2, "fall": 3}
MAC, MEMBER_MAC = "02:6c:00:00:00:01", "0a:00:00:00:00:11"


def monitored(**changes):
    return vip_set(dict(WEB, health_monitor=dict(MONITOR, **changes))).vips[0]


def fresh(vip, now=0.0):
    monitors = health.Monitors()
    monitors.track([vip], now)
    return monitors


def answer(monitors, key, now, ok, kind="tcp"):
    """Send the due probe of `key` and answer it (ok: SYN-ACK, else a reset)."""
    assert key in dict(monitors.due(now))
    token = monitors.start(key, now, 1)
    target = monitors.members[key].target
    return monitors.reply(token, kind, target.address, target.port, ok, "test", now)


def test_new_members_are_down_until_their_first_success_then_up_at_once():
    vip = monitored()
    monitors = fresh(vip)
    assert monitors.down(vip) == {1, 2, 3}
    change = answer(monitors, (vip.id, 1), 0.0, True)
    assert change == health.Change((vip.id, 1), True, "1 tcp probe succeeded (test)")
    assert monitors.down(vip) == {2, 3}


def test_fall_failures_in_a_row_take_a_member_down_and_rise_successes_bring_it_back():
    vip = monitored()
    monitors = fresh(vip)
    key = (vip.id, 1)
    answer(monitors, key, 0.0, True)
    assert monitors.due(0.5) == [(k, t) for k, t in monitors.due(0.5) if k != key]   # next at 1.0
    assert answer(monitors, key, 1.0, False) is None
    # Results now disagree with "up": the next probe follows a timeout (0.25 s) after the last.
    assert key not in dict(monitors.due(1.2))
    assert answer(monitors, key, 1.25, False) is None
    change = answer(monitors, key, 1.5, False)
    assert change.up is False and change.reason == "3 tcp probes failed (test)"
    assert 1 in monitors.down(vip)
    assert answer(monitors, key, 2.5, True) is None       # rise is 2 once a member has been up
    assert answer(monitors, key, 2.75, True).up is True
    assert 1 not in monitors.down(vip)


def test_silence_fails_a_tcp_probe_at_its_timeout_but_not_a_udp_probe():
    vip = monitored()
    monitors = fresh(vip)
    key = (vip.id, 1)
    answer(monitors, key, 0.0, True)
    monitors.start(key, 1.0, 1)
    assert monitors.expire(1.2) == []
    assert monitors.expire(1.25) == []          # one failure: not yet down
    assert monitors.members[key].streak == 1
    udp = vip_set(dict(WEB, protocol="udp", health_monitor=dict(MONITOR, type="udp"))).vips[0]
    monitors = fresh(udp)
    monitors.start((udp.id, 1), 0.0, 1)
    assert monitors.expire(0.25) == [health.Change((udp.id, 1), True, "1 udp probe succeeded (no ICMP port unreachable)")]


def test_a_reply_from_another_member_or_for_another_port_is_ignored():
    vip = monitored()
    monitors = fresh(vip)
    token = monitors.start((vip.id, 1), 0.0, 1)
    assert monitors.reply(token, "tcp", "198.18.0.12", 80, True, "x", 0.0) is None
    assert monitors.reply(token, "tcp", "198.18.0.11", 81, True, "x", 0.0) is None
    assert monitors.reply(token + 1, "tcp", "198.18.0.11", 80, True, "x", 0.0) is None
    assert monitors.reply(token, "tcp", "198.18.0.11", 80, True, "x", 0.0).up


def test_a_new_monitor_port_starts_the_member_afresh_and_other_members_keep_their_health():
    vip = monitored()
    monitors = fresh(vip)
    for member_id in (1, 2):
        answer(monitors, (vip.id, member_id), 0.0, True)
    body = dict(WEB, health_monitor=MONITOR)
    body["members"] = [dict(body["members"][0], monitor_port=8080)] + body["members"][1:]
    changed = vip_set(body).vips[0]
    assert monitors.down(changed) == {1, 3}
    monitors.track([changed], 1.0)
    assert monitors.members[(vip.id, 1)].target.port == 8080 and not monitors.members[(vip.id, 1)].up
    monitors.track([], 2.0)
    assert monitors.members == {}


def test_a_member_held_down_gets_no_new_connection_but_keeps_its_flows():
    vip = monitored()
    vips = vip_set(dict(WEB, health_monitor=MONITOR))
    state = desired_state(vips.vips, PLACES, settings(), down={vip.id: frozenset({3})})
    buckets = state.groups[pipeline.group_id(vip.id)].buckets
    assert len(buckets) == 256 and all(b.actions[0].value != 3 for b in buckets), "no slot loads member 3"
    assert any(f.cookie == pipeline.cookie(vip.id, 3) and f.table == pipeline.CLASSIFY.id for f in state.flows.values()), \
        "its replies still go through conntrack"


def test_the_monitor_address_is_answered_and_replies_to_it_go_to_the_controller():
    text = state_text(desired_state((), {}, settings(monitor_pps=500)))
    assert "meter=4 pktps burst stats bands= type=drop rate=500 burst_size=500" in text
    cookie = "cookie=%#x" % pipeline.network_cookie(0)
    for kind in ("tcp,nw_dst=198.18.0.2", "udp,nw_dst=198.18.0.2", "icmp,nw_dst=198.18.0.2,icmp_type=0",
                 "icmp,nw_dst=198.18.0.2,icmp_type=3"):
        assert "%s, table=1, priority=800,%s actions=goto_table:15" % (cookie, kind.replace(",", ",reg9=0,", 1)) in text
    assert "%s, table=15, priority=0 actions=meter:4,CONTROLLER:65535" % cookie in text
    assert "%s, table=11, priority=300,reg3=0xc6120002,reg9=0 actions=set_field:0x1000001->reg6" % cookie in text, \
        "the monitor address is the balancer's: ARP and ping are answered for it"


@pytest.mark.parametrize("field, value, message", [
    ("type", "http", "health_monitor.type: 'http' is not one of none, tcp, udp, ping"),
    ("interval", 0, "health_monitor.interval: 0 is not a number of seconds from 0.1 to 3600"),
    ("timeout", 2.0, "health_monitor.timeout: 2.0 is not a number of seconds from 0.05 to 1"),
    ("fall", 0, "health_monitor.fall: 0 is not an integer from 1 to 10"),
    ("rise", True, "health_monitor.rise: True is not an integer from 1 to 10"),
    ("every", 1, "health_monitor.every: 1 is not a known field"),
])
def test_a_bad_monitor_is_refused_naming_the_field(field, value, message):
    with pytest.raises(InvalidInput) as refused:
        parse_vip(dict(WEB, health_monitor=dict(MONITOR, **{field: value})))
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("kind", ["tcp", "udp", "ping"])
def test_a_probe_and_its_answer_name_the_same_token(kind):
    probe = packets.probe(kind, MAC, MEMBER_MAC, "198.18.0.2", "198.18.0.11", 80, 20001)
    answer = _answer_of(kind, probe)
    assert packets.probe_reply(answer)[:5] == (kind, "198.18.0.11", 0 if kind == "ping" else 80, 20001, True)


def test_a_reset_and_a_port_unreachable_are_failures():
    syn = packets.probe("tcp", MAC, MEMBER_MAC, "198.18.0.2", "198.18.0.11", 80, 20001)
    reset = packets.refusal(syn)     # what a closed port answers
    assert packets.probe_reply(reset) == ("tcp", "198.18.0.11", 80, 20001, False, "connection refused")
    datagram = packets.probe("udp", MAC, MEMBER_MAC, "198.18.0.2", "198.18.0.11", 53, 20002)
    unreachable = packets.refusal(datagram)
    assert packets.probe_reply(unreachable) == ("udp", "198.18.0.11", 53, 20002, False, "port unreachable")


def test_operating_status_says_where_a_member_stands():
    vip = monitored()
    monitors = fresh(vip)
    answer(monitors, (vip.id, 1), 0.0, True)
    book = health.StatusBook(wall=lambda: 100.0)
    located = {("default", "198.18.0.11"): Place(MEMBER_MAC, 2), ("default", "198.18.0.12"): Place("0a:00:00:00:00:12", 3)}.get
    changed = book.update([vip], located, monitors, [vip])
    assert [(m.id, status) for _, m, status, _ in changed] == [(1, "up"), (2, "down"), (3, "unresolved")]
    assert book.get(vip.id, 2) == ("down", 100.0, "not probed yet")
    assert book.update([vip], located, monitors, [vip]) == []
    book.update([], located, monitors, [])
    assert book.entries == {}


def _answer_of(kind, probe):
    """What a healthy member answers to `probe`: a SYN-ACK, a UDP answer, an echo reply."""
    asked = packet.Packet(probe)
    ip = asked.get_protocol(ipv4.ipv4)
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=MAC, src=MEMBER_MAC))
    pkt.add_protocol(ipv4.ipv4(src=ip.dst, dst=ip.src, proto=ip.proto))
    if kind == "tcp":
        syn = asked.get_protocol(tcp.tcp)
        pkt.add_protocol(tcp.tcp(src_port=syn.dst_port, dst_port=syn.src_port, ack=syn.seq + 1,
                                 bits=tcp.TCP_SYN | tcp.TCP_ACK))
    elif kind == "udp":   # (a healthy udp member may also say nothing: see the silence test)
        datagram = asked.get_protocol(udp.udp)
        pkt.add_protocol(udp.udp(src_port=datagram.dst_port, dst_port=datagram.src_port))
        pkt.add_protocol(b"pong")
    else:
        echo = asked.get_protocol(icmp.icmp).data
        pkt.add_protocol(icmp.icmp(type_=icmp.ICMP_ECHO_REPLY, data=icmp.echo(id_=echo.id, seq=echo.seq, data=echo.data)))
    pkt.serialize()
    return bytes(pkt.data)


def test_members_a_switch_was_serving_stay_up_through_a_restart_and_fall_like_any_other():
    vip = monitored()
    monitors = fresh(vip)
    monitors.seed([vip], {(vip.id, 1), (vip.id, 2)})
    assert monitors.down(vip) == {3}
    assert monitors.members[(vip.id, 1)].reason == "serving when the switch was adopted, not probed yet"
    assert answer(monitors, (vip.id, 1), 0.0, True) is None
    assert monitors.members[(vip.id, 1)].reason == "1 tcp probe succeeded (test)"
    assert answer(monitors, (vip.id, 2), 0.0, False) is None    # one failure: fall is 3
    assert answer(monitors, (vip.id, 2), 0.25, False) is None
    assert answer(monitors, (vip.id, 2), 0.5, False) == health.Change((vip.id, 2), False, "3 tcp probes failed (test)")
    monitors.seed([vip], {(vip.id, 2), (vip.id, 3)})   # only members never probed
    assert monitors.down(vip) == {2}


def test_probes_lost_with_their_switch_are_no_failures():
    vip = monitored()
    monitors = fresh(vip)
    monitors.start((vip.id, 1), 0.0, 7)
    monitors.start((vip.id, 2), 0.0, 8)
    monitors.cancel(7, 0.1)
    assert monitors.expire(1.0) == [] and monitors.members[(vip.id, 1)].streak == 0
    assert (vip.id, 1) in dict(monitors.due(0.1))
    assert monitors.members[(vip.id, 2)].reason == "tcp probe failed (no answer)"   # its switch stayed


def test_tracking_the_same_vips_again_keeps_every_members_health():
    vip = monitored()
    monitors = fresh(vip)
    answer(monitors, (vip.id, 1), 0.0, True)
    monitors.track([vip], 5.0)
    assert monitors.down(vip) == {2, 3} and monitors.members[(vip.id, 1)].reason == "1 tcp probe succeeded (test)"


def test_an_up_member_that_stays_up_is_probed_once_an_interval():
    vip = monitored()   # interval 1 s
    monitors = fresh(vip)
    key = (vip.id, 1)
    answer(monitors, key, 0.0, True)
    assert answer(monitors, key, 1.0, True) is None
    assert key not in dict(monitors.due(1.9)) and key in dict(monitors.due(2.0))


def test_a_member_back_up_says_how_many_probes_brought_it_back():
    vip = monitored(fall=1)   # rise 2
    monitors = fresh(vip)
    key = (vip.id, 1)
    answer(monitors, key, 0.0, True)
    assert answer(monitors, key, 1.0, False).reason == "1 tcp probe failed (test)"
    assert answer(monitors, key, 2.0, True) is None
    assert answer(monitors, key, 2.25, True).reason == "2 tcp probes succeeded (test)"


def test_a_probe_in_flight_is_no_failure_before_its_timeout_and_its_member_is_not_probed_twice():
    vip = monitored()   # timeout 0.25 s
    monitors = fresh(vip)
    key = (vip.id, 1)
    answer(monitors, key, 0.0, True)
    monitors.start(key, 1.0, 1)
    assert monitors.expire(1.24) == [] and monitors.members[key].streak == 0
    assert key not in dict(monitors.due(1.24)), "one probe at a time"
    assert monitors.expire(1.25) == [] and monitors.members[key].streak == 1


def test_a_late_answer_for_a_member_removed_meanwhile_is_ignored():
    vip = monitored()
    monitors = fresh(vip)
    token = monitors.start((vip.id, 1), 0.0, 1)
    monitors.track([replace(vip, members=vip.members[1:])], 0.1)
    assert monitors.reply(token, "tcp", "198.18.0.11", 80, True, "late", 0.2) is None
    assert monitors.expire(10.0) == [] and (vip.id, 1) not in monitors.members


def test_a_ping_answer_names_its_probe_whatever_port_it_carries():
    vip = monitored(type="ping")
    monitors = fresh(vip)
    token = monitors.start((vip.id, 1), 0.0, 1)
    assert monitors.reply(token, "ping", "198.18.0.11", 0, True, "echo reply", 0.1).up


def test_every_result_is_counted_and_its_member_reported_once():
    counted = []
    vip = monitored()
    monitors = health.Monitors(count=counted.append)
    monitors.track([vip], 0.0)
    answer(monitors, (vip.id, 1), 0.0, True)
    answer(monitors, (vip.id, 2), 0.0, False)
    assert counted == ["monitor_successes", "monitor_failures"]
    assert monitors.take_touched() == {(vip.id, 1), (vip.id, 2)} and monitors.take_touched() == set()


def test_a_member_that_cannot_be_probed_now_is_tried_again_an_interval_later():
    vip = monitored()   # interval 1 s
    monitors = fresh(vip)
    monitors.postpone((vip.id, 2), 0.0)
    assert (vip.id, 2) not in dict(monitors.due(0.9)) and (vip.id, 2) in dict(monitors.due(1.0))


def test_a_token_still_in_flight_is_not_handed_out_again_when_the_tokens_wrap():
    vip = monitored()
    monitors = fresh(vip)
    waiting = monitors.start((vip.id, 1), 0.0, 1)   # never answered
    for _ in range(len(health.TOKENS)):
        token = monitors.start((vip.id, 2), 0.0, 1)
        assert token in health.TOKENS and token != waiting
        monitors.reply(token, "tcp", "198.18.0.12", 80, True, "test", 0.0)


def test_a_member_that_stays_down_shows_its_newest_reason_and_when_it_went_down():
    vip = monitored()
    monitors = fresh(vip)
    wall = [100.0]
    book = health.StatusBook(wall=lambda: wall[0])
    located = {("default", "198.18.0.11"): Place(MEMBER_MAC, 2)}.get
    book.update([vip], located, monitors, [vip])
    answer(monitors, (vip.id, 1), 0.0, False)
    wall[0] = 200.0
    assert book.update([vip], located, monitors, [vip]) == [], "the same status: no change to log"
    assert book.get(vip.id, 1) == ("down", 100.0, "tcp probe failed (test)")
