"""Traffic totals from switch counters: what counts for a VIP and for a member, in each mode, and
counters that reset or vanish between polls."""
from flows import pipeline as p
from lbctl.counters import Traffic
from tests.unit.sample import DNS, WEB, vip_set

TCP = (("eth_type", 0x0800), ("ip_proto", 6))
ICMP = (("eth_type", 0x0800), ("ip_proto", 1))
WEB_ID, DNS_ID = 1, 2


def flow(table, priority, cookie, packets, key=TCP):
    return table, priority, cookie, key, packets, packets * 100


def requests(vip_id, packets):
    return flow(p.CLASSIFY.id, p.CLASSIFY.VIP, p.cookie(vip_id), packets)


def replies(vip_id, member_id, packets):
    return flow(p.CLASSIFY.id, p.CLASSIFY.MEMBER, p.cookie(vip_id, member_id), packets)


def commits(vip_id, member_id, count):
    return flow(p.COMMIT.id, p.COMMIT.MEMBER, p.cookie(vip_id, member_id), count, key=(("reg4", vip_id),))


def test_vip_member_and_connection_counts_come_from_their_own_flows():
    """The VIP: its requests and its members' replies; a member: its replies and its commits."""
    vips = vip_set(WEB, DNS).vips
    traffic = Traffic()
    flows = [requests(WEB_ID, 50),
             flow(p.CLASSIFY.id, p.CLASSIFY.GUARD, p.cookie(WEB_ID), 7, key=ICMP),   # spoofs dropped: not traffic
             replies(WEB_ID, 1, 24), commits(WEB_ID, 1, 6),
             replies(WEB_ID, 2, 16), commits(WEB_ID, 2, 4),
             requests(DNS_ID, 9), replies(DNS_ID, 1, 3), commits(DNS_ID, 1, 9)]
    for vip_id in (WEB_ID, DNS_ID):
        traffic.poll(1, vip_id, [f for f in flows if f[2] >> 32 == vip_id], now=10.0)
    report = traffic.report(vips)
    assert report["web"]["packets"] == 90 and report["web"]["bytes"] == 9000
    assert report["web"]["members"]["198.18.0.11:80"] == {"packets": 24, "bytes": 2400, "connections": 6}
    assert report["web"]["members"]["198.18.0.12:80"] == {"packets": 16, "bytes": 1600, "connections": 4}
    assert report["web"]["connections"] == 10
    assert report["dns"]["members"]["198.18.0.11:5353"] == {"packets": 3, "bytes": 300, "connections": 9}
    assert report["dns"]["packets"] == 12
    assert traffic.polled_at == 10.0


def test_totals_add_growth_and_survive_a_reset_or_a_vanished_flow():
    vips = vip_set(WEB).vips
    traffic = Traffic()
    member = lambda n: [replies(WEB_ID, 1, n)]
    packets = lambda: traffic.report(vips)["web"]["members"]["198.18.0.11:80"]["packets"]
    traffic.poll(1, WEB_ID, member(10), 1.0)
    traffic.poll(1, WEB_ID, member(15), 2.0)
    assert packets() == 15
    traffic.poll(1, WEB_ID, member(4), 3.0)     # replaced: counts from zero
    assert packets() == 19
    traffic.poll(1, WEB_ID, [], 4.0)            # gone
    traffic.poll(1, WEB_ID, member(2), 5.0)     # back
    assert packets() == 21


def test_dsr_counts_a_members_requests_and_its_syns_as_connections():
    vips = vip_set(dict(WEB, mode="dsr")).vips
    traffic = Traffic()
    member = p.cookie(WEB_ID, 1)
    traffic.poll(1, WEB_ID, [flow(p.DSR_DELIVER.id, p.DSR_DELIVER.SYN, member, 5),
                             flow(p.DSR_DELIVER.id, p.DSR_DELIVER.MEMBER, member, 40),
                             flow(p.CLASSIFY.id, p.CLASSIFY.DSR_REPLY, p.cookie(WEB_ID), 30)], 1.0)
    report = traffic.report(vips)["web"]
    assert report["members"]["198.18.0.11:80"] == {"packets": 45, "bytes": 4500, "connections": 5}
    assert report["packets"] == 75, "requests delivered, and the replies its members send from the VIP"


def test_a_deleted_vip_leaves_no_totals_behind():
    vips = vip_set(WEB).vips
    traffic = Traffic()
    traffic.poll(1, WEB_ID, [replies(WEB_ID, 1, 10)], 1.0)
    assert vips and traffic.report(()) == {} and traffic.totals == {} and traffic._last == {}
