"""`lbctl`, the command line, against the real controller and switch: a VIP created and drained
from the command line serves accordingly, the switch's own `ovs-ofctl dump-flows` comes out
labelled with the VIP's name, and `trace --run` follows a client's first packet through the real
tables to the member. It runs as `python -m lbctl_cli` with the repo root first on PYTHONPATH:
the checkout's code, whatever copy is installed."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.lbctl import connect, served_by

REPO_ROOT = Path(__file__).resolve().parents[2]
VIP = ["vip", "create", "cli", "--address", "198.18.0.140", "--port", "8080",
       "--member", "198.18.0.11", "--member", "198.18.0.12"]


def lbctl(lb, *args, stdin=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "lbctl_cli", "--url", "http://127.0.0.1:%d" % lb.rest_port, *args],
                          input=stdin, capture_output=True, text=True, timeout=60, env=env, cwd="/")
    return done.returncode, done.stdout, done.stderr


def rows(text):
    """A table's rows; `lbctl flows`: [vip, member, network, table, packets, flow]."""
    return [line.split(None, 5) for line in text.splitlines()[1:]]


@pytest.fixture(scope="module")
def cli_vip(lab, lb):
    """VIP `cli` (198.18.0.140:8080, members m1 and m2), created with lbctl and resolved."""
    code, out, _ = lbctl(lb, *VIP)
    assert code == 0 and out.startswith("created vip cli: 198.18.0.140:8080/tcp routed, 2 members")
    lb.wait_resolved("cli")
    yield "cli"
    lb.call("DELETE", "/v1/vips/cli")


def test_list_then_drain_a_member(lab, lb, cli_vip):
    code, out, _ = lbctl(lb, "vip", "list")
    assert code == 0
    assert ["cli", "default", "198.18.0.140:8080/tcp", "routed"] in [row[:4] for row in rows(out)]
    assert set(served_by(connect(lab, "198.18.0.140", 8080, 20))) == {"m1", "m2"}
    assert lbctl(lb, "member", "drain", "cli", "198.18.0.12")[0] == 0
    assert served_by(connect(lab, "198.18.0.140", 8080, 20)) == {"m1": 20}, "no new connection to the drained m2"
    code, _, err = lbctl(lb, "member", "drain", "cli", "198.18.0.99")
    assert (code, err) == (1, "lbctl: member 198.18.0.99 is not in vip 'cli'\n")


def test_flows_of_the_switch_are_labelled_with_the_vip(lab, lb, cli_vip):
    connect(lab, "198.18.0.140", 8080, 5)
    code, out, err = lbctl(lb, "flows", "-", "--vip", "cli", stdin=lab.ofctl("dump-flows"))
    assert code == 0, err
    shown = rows(out)
    classify = [r for r in shown if r[:4] == ["cli", "-", "default", "classify(1)"] and "tp_dst=8080" in r[5]]
    assert classify and int(classify[0][4]) >= 5, "the VIP's own flow, with the switch's packet count"
    assert ["cli", "198.18.0.11:8080", "-", "commit(22)"] in [r[:4] for r in shown]
    assert ["(host)", "198.18.0.11", "default", "locate(31)"] in [r[:4] for r in shown]
    assert {r[0] for r in shown} == {"cli", "(host)"}
    code, out, _ = lbctl(lb, "flows", "--vip", "cli")     # the same, from GET /v1/flows
    assert code == 0 and ["cli", "198.18.0.11:8080", "-", "commit(22)"] in [r[:4] for r in rows(out.split("\n", 1)[1])]


def test_trace_run_names_the_vip_the_tables_and_the_member(lab, lb, cli_vip):
    client = lab.host("client")   # not a member: the controller does not learn it, its port is given
    code, out, err = lbctl(lb, "trace", "--vip", "cli", "--client", "198.18.0.10:40000", "--in-port", str(client.ofport),
                           "--bridge", lab.bridge, "--run", "--appctl", "ovs-appctl -t %s" % (lab.workdir / "ovs-vswitchd.ctl"))
    assert code == 0, err
    assert "[classify; cli; network default]" in out and "[conntrack; cli]" in out
    assert out.count("\n$ ovs-appctl") == 1, "a second trace goes on from the select group's hash"
    member = re.search(r"\[commit; cli (198\.18\.0\.1[12]):8080\]", out)[1]
    assert "[locate; host %s]" % member in out
    host = next(h for h in lab.hosts.values() if h.ip == member)
    assert "Datapath actions: set(eth(src=02:6c:00:00:00:01,dst=%s))" % host.mac in out
