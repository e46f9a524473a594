"""A switch changed behind the controller's back is repaired: when the switch refuses a message
(here: the controller modifies a group someone deleted with ovs-ofctl), the controller reads the
switch again and adopts it. A switch whose flows cannot be read is emptied and refilled."""
import pytest

from lab import free_tcp_port
from lab.lbctl import REPO_VIPS, Controller, connect, served_by, shares, switch_text, wait_for

WEB = "198.18.0.100"


@pytest.fixture(scope="module")
def lb(lab):
    controller = Controller(lab, free_tcp_port(), REPO_VIPS).start()   # refusals expected here
    controller.wait_resolved("web")
    yield controller
    controller.stop()


def test_a_refused_message_makes_the_controller_repair_the_switch(lab, lb):
    lab.ofctl("del-groups")   # behind the controller's back: the group and the flows using it go
    assert "group:1" not in "\n".join(switch_text(lab))
    web = lb.call("GET", "/v1/vips/web")[1]
    fewer = {k: web[k] for k in ("name", "address", "port", "protocol", "mode")}
    fewer["members"] = [{"address": m["address"], "port": m["port"]} for m in web["members"][:2]]
    assert lb.call("PUT", "/v1/vips/web", fewer)[0] == 200   # modifies a group the switch lacks
    wait_for(lambda: lb.call("GET", "/v1/stats")[1]["switch_errors"] >= 1, "the refusal")
    wait_for(lambda: shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines()),
             "the switch repaired", timeout=10)
    assert set(served_by(connect(lab, WEB, 80, 20))) == {"m1", "m2"}


FLOW_STATS_REPLY = "19:1"   # OFPT_MULTIPART_REPLY carrying OFPMP_FLOW


def test_a_switch_whose_flows_cannot_be_read_is_emptied_and_refilled(lab, lb):
    lab.ofctl("add-flow", "table=5,priority=7,actions=drop")   # someone else's flow
    lb.stop()
    lab.drop_switch_messages([FLOW_STATS_REPLY])
    try:
        lb.start()
        wait_for(lambda: any("could not be read in 5 s; emptying and refilling it" in line for line in lb.log()),
                 "the refill", timeout=15)
        wait_for(lambda: shares(switch_text(lab)) == shares(lb.expected_switch_text().splitlines()),
                 "the switch refilled", timeout=10)
        assert not [line for line in switch_text(lab) if "table=5," in line], "the foreign flow went with the rest"
        assert set(served_by(connect(lab, WEB, 80, 20))) <= {"m1", "m2", "m3"}
    finally:
        lb.stop()
        lab.drop_switch_messages(None)
        lb.start()
