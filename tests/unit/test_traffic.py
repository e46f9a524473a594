"""Traffic totals from switch counters: what counts for a VIP and for a member, in each mode, and
counters that reset or vanish between polls."""
from flows import pipeline as p
from lbctl.counters import Traffic
from tests.unit.sample import DNS, WEB, vip_set

TCP = (("eth_type", 0x0800), ("ip_proto", 6))
ICMP = (("eth_type", 0x0800), ("ip_proto", 1))
NEW = TCP + (("ct_state", (0x21, 0x21)),)
WEB_ID, DNS_ID = 1, 2


def flow(table, cookie, packets, nbytes=None, key=TCP, priority=p.TO_MEMBER.MEMBER):
    return table, priority, cookie, key, packets, packets * 100 if nbytes is None else nbytes


def new_connections(vip_id, member_id, count):
    return flow(p.TO_MEMBER.id, p.cookie(vip_id, member_id), count, key=NEW, priority=p.TO_MEMBER.MEMBER_NEW)


def test_vip_member_and_connection_counts_come_from_their_own_flows():
    """The VIP: its members' requests and its replies; a member: its requests and first packets."""
    vips = vip_set(WEB, DNS).vips
    traffic = Traffic()
    flows = [flow(p.CLASSIFY.id, p.cookie(WEB_ID), 50),                 # not a counter table: not read
             flow(p.CLASSIFY.id, p.cookie(WEB_ID), 7, key=ICMP),
             flow(p.TO_CLIENT.id, p.cookie(WEB_ID), 40),               # replies
             flow(p.TO_MEMBER.id, p.cookie(WEB_ID, 1), 24),            # requests of established connections
             new_connections(WEB_ID, 1, 6),                            # first packets
             flow(p.TO_MEMBER.id, p.cookie(WEB_ID, 2), 16),
             new_connections(WEB_ID, 2, 4),
             flow(p.CLASSIFY.id, p.cookie(WEB_ID, 1), 25),             # replies, counted at to_client
             flow(p.SLOT.id, p.cookie(DNS_ID, 1), 9, key=(("reg1", 0),)),   # spread, counted at to_member
             flow(p.TO_MEMBER.id, p.cookie(DNS_ID, 1), 3),
             new_connections(DNS_ID, 1, 9),
             flow(p.LOCATE.id, p.host_cookie(1), 99)]
    for vip_id in (WEB_ID, DNS_ID):
        traffic.poll(1, vip_id, [f for f in flows if f[2] >> 32 == vip_id], now=10.0)
    report = traffic.report(vips)
    assert report["web"]["packets"] == 90 and report["web"]["bytes"] == 9000
    assert report["web"]["members"]["198.18.0.11:80"] == {"packets": 30, "bytes": 3000, "connections": 6}
    assert report["web"]["members"]["198.18.0.12:80"] == {"packets": 20, "bytes": 2000, "connections": 4}
    assert report["web"]["connections"] == 10
    assert report["dns"]["members"]["198.18.0.11:5353"] == {"packets": 12, "bytes": 1200, "connections": 9}
    assert traffic.polled_at == 10.0


def test_totals_add_growth_and_survive_a_reset_or_a_vanished_flow():
    vips = vip_set(WEB).vips
    traffic = Traffic()
    member = lambda n: [flow(p.TO_MEMBER.id, p.cookie(WEB_ID, 1), n)]
    packets = lambda: traffic.report(vips)["web"]["members"]["198.18.0.11:80"]["packets"]
    traffic.poll(1, WEB_ID, member(10), 1.0)
    traffic.poll(1, WEB_ID, member(15), 2.0)
    assert packets() == 15
    traffic.poll(1, WEB_ID, member(4), 3.0)     # replaced: counts from zero
    assert packets() == 19
    traffic.poll(1, WEB_ID, [], 4.0)            # gone
    traffic.poll(1, WEB_ID, member(2), 5.0)     # back
    assert packets() == 21


def test_dsr_counts_connections_at_the_pin():
    vips = vip_set(dict(WEB, mode="dsr")).vips
    traffic = Traffic()
    member = p.cookie(WEB_ID, 1)
    traffic.poll(1, WEB_ID, [flow(p.DSR_PIN.id, member, 5), flow(p.DSR_CONN.id, member, 40)], 1.0)
    assert traffic.report(vips)["web"]["members"]["198.18.0.11:80"] == {"packets": 45, "bytes": 4500, "connections": 5}


def test_a_deleted_vip_leaves_no_totals_behind():
    vips = vip_set(WEB).vips
    traffic = Traffic()
    traffic.poll(1, WEB_ID, [flow(p.TO_MEMBER.id, p.cookie(WEB_ID, 1), 10)], 1.0)
    assert traffic.report(()) == {} and traffic.totals == {} and traffic._last == {}
