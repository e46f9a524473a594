"""Traffic counters from the switch, in GET /v1/stats and in /metrics, against real connections:
what the client saw per member is what the balancer reports."""
import re
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flows import pipeline
from lab import free_tcp_port
from lab.lbctl import REPO_VIPS, Controller, connect, served_by, wait_for

CONNECTIONS = 40


@pytest.fixture(scope="module")
def lb(lab):
    controller = Controller(lab, free_tcp_port(), REPO_VIPS, options={"stats_interval": 0.3}).start()
    controller.wait_resolved("web")
    yield controller
    controller.stop()
    assert controller.refusals() == []


def web_counts(lb):
    return lb.call("GET", "/v1/stats")[1]["vips"]["web"]


def settled(lb):
    """Until two polls in a row (a second apart) find the same counters."""
    last = []

    def same():
        last.append(lb.call("GET", "/v1/stats")[1]["vips"])
        return len(last) > 1 and last[-1] == last[-2]
    wait_for(lambda: time.sleep(1) or same(), "the counters settled")


def metrics(lb):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % lb.rest_port, timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_connections_per_member_are_what_the_client_saw(lab, lb):
    before = web_counts(lb)
    seen = connect(lab, "198.18.0.100", 80, CONNECTIONS)
    served = served_by(seen)
    assert sum(served.values()) == CONNECTIONS
    # Open vSwitch brings datapath counters up to its flows and groups about twice a second.
    wait_for(lambda: web_counts(lb)["connections"] - before["connections"] == CONNECTIONS,
             "%d new connections counted" % CONNECTIONS, timeout=10)
    settled(lb)
    after = web_counts(lb)
    for member, host in (("198.18.0.11:80", "m1"), ("198.18.0.12:80", "m2"), ("198.18.0.13:80", "m3")):
        grew = {k: after["members"][member][k] - before["members"][member][k] for k in ("packets", "bytes", "connections")}
        assert grew["connections"] == served.get(host, 0)
        # A member's packets are its replies: a SYN-ACK, the answer and a FIN at least, each of
        # them an Ethernet, IP and TCP header (54 bytes) at least.
        assert grew["packets"] >= 3 * grew["connections"] and grew["bytes"] >= 54 * grew["packets"]
    # The VIP counts requests in and replies out: more than what its members were sent.
    assert after["packets"] - before["packets"] > sum(
        after["members"][m]["packets"] - before["members"][m]["packets"] for m in after["members"])


def test_metrics_show_the_same_figures_and_the_controller(lab, lb):
    before = web_counts(lb)["connections"]
    connect(lab, "198.18.0.100", 80, 10)
    wait_for(lambda: web_counts(lb)["connections"] == before + 10, "10 new connections counted", timeout=10)
    settled(lb)
    stats = lb.call("GET", "/v1/stats")[1]
    exported = metrics(lb)
    web = (("network", "default"), ("vip", "web"))
    assert exported[("lbctl_vip_connections_total", web)] == stats["vips"]["web"]["connections"]
    for member, counts in stats["vips"]["web"]["members"].items():
        labels = (("member", member),) + web
        assert exported[("lbctl_member_packets_total", labels)] == counts["packets"]
        assert exported[("lbctl_member_status", labels[:2] + (("status", "up"),) + labels[2:])] == 1.0
    assert exported[("lbctl_vip_members_up", web)] == 3
    assert exported[("lbctl_networks", ())] == 1
    assert exported[("lbctl_switches_connected", ())] == 1
    assert exported[("lbctl_packet_ins_total", (("kind", "arp"),))] == stats["packet_in_arp"] > 0
    assert exported[("lbctl_flow_changes_total", ())] == stats["flow_changes"] > 0


def switch_flows(lb):
    (switch,) = lb.call("GET", "/v1/flows")[1]["switches"]
    return switch["flows"]


def test_flows_lists_what_the_switch_holds(lab, lb):
    from lab.lbctl import switch_text
    connect(lab, "198.18.0.100", 80, 5)

    def vip_flow():   # the VIP's own flow in classify: its requests
        (switch,) = lb.call("GET", "/v1/flows")[1]["switches"]
        return next(line for line in switch["flows"] if "nw_dst=198.18.0.100,tp_dst=80 actions=" in line)
    wait_for(lambda: re.search(r"n_packets=[1-9]", vip_flow()), "counters of the last reading")
    assert all("n_packets" not in line for line in switch_flows(lb) if "table=%d," % pipeline.LOCATE.id in line), \
        "locate is not read: no counters there"
    (switch,) = lb.call("GET", "/v1/flows")[1]["switches"]
    live = set(switch_text(lab))
    without_counters = {re.sub(r"n_packets=\d+, n_bytes=\d+, ", "", line) for line in switch["flows"]}
    assert without_counters <= live and set(switch["groups"]) <= live
    assert any("group_id=1," in line for line in switch["groups"])
    assert "priority=0 actions=goto_table:1" in without_counters, "the pipeline's own flows (cookie 0) too"
