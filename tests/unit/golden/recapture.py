"""Recapture the CLI goldens from a live lab: the switch's own `ovs-ofctl` dump
(cli_dump_flows.txt) and the raw `ofproto/trace` outputs of `lbctl trace --run` for a one-arm and
a dsr VIP (cli_trace_one_arm.txt, cli_trace_dsr.txt), which tests/unit/test_cli.py labels.

    sudo .venv/bin/python tests/unit/golden/recapture.py [--out DIR]

It builds what the tests assume (tests/unit/test_cli.py: THREE_VIPS, the `three_vips` fixture
and the trace tests): tests/integration's topology (lab/topology.py: client 198.18.0.10 on port
1, members m1-m3 on ports 2-4 serving HTTP) on bridge lcx1br, the real `ryu-manager lbctl_app`
started with config/vips.yaml (`web`, VIP 1), then THREE_VIPS' `arm` (one-arm, VIP 2) and
`direct` (dsr, VIP 3) created over REST in that order; m1 and m2 serve TCP on 9000 (lab.lbctl's
NAME_SERVER) and hold `direct`'s address (lab.dsr.configure_member). Then a few connections
from fixed client ports, so that the hash sends them to the same members each time: 6 to web,
5 to arm, 6 to direct (the packet counts usually come out the same too; a retransmission on a
busy machine adds one). Then `ovs-ofctl dump-flows lcx1br` (OpenFlow 1.0 and Nicira extensions, with
counters: the NXST_FLOW form, `idle_age=` and all) followed by `ovs-ofctl -O OpenFlow13
dump-groups lcx1br` (its groups put in id order), and the outputs, in order, of `lbctl --json
trace --vip arm|direct --client 198.18.0.10:40000 --in-port 1 --bridge lcx1br --run --slot 3`.
The lab is removed at the end, whatever happened. Needs root and the lab's tools
(docs/testing.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402

from lab import Lab, dsr, free_tcp_port, topology, unavailable_reason  # noqa: E402
from lab.cmd import run  # noqa: E402
from lab.lbctl import NAME_SERVER, REPO_VIPS, Controller  # noqa: E402
from tests.unit.test_cli import THREE_VIPS  # noqa: E402

GOLDEN = Path(__file__).resolve().parent
PREFIX, BRIDGE = "lcx1", "lcx1br"      # the traces name the bridge: the tests trace on lcx1br
CLIENT, CLIENT_PORT, SLOT = "198.18.0.10", 40000, 3
TCP_MEMBERS = ("m1", "m2")             # THREE_VIPS' arm and direct: 198.18.0.11 and .12, port 9000
# VIP name -> (first client port, connections). Fixed ports: the same 5-tuples, the same members.
TRAFFIC = {"web": (41000, 6), "arm": (42000, 5), "direct": (43000, 6)}
HTTP_GET = "GET / HTTP/1.0\r\n\r\n"
ASK_NAME = "who\n"

# Runs in the client: connections from source ports FIRST.. to ADDRESS:PORT, each sending REQUEST,
# closing its side and reading to the end; prints the first line of each answer.
CONNECTIONS = """
import socket, sys
address, port, first, count, request = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for source_port in range(first, first + count):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(5)
        s.bind(("0.0.0.0", source_port))
        s.connect((address, port))
        s.sendall(request.encode())
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = s.recv(4096)
            if not data:
                break
            answer += data
        print(answer.decode().split("\\r\\n\\r\\n")[-1].strip())
"""


def three_vips():
    """THREE_VIPS by name: web (as config/vips.yaml has it), arm, direct."""
    vips = {vip["name"]: vip for vip in yaml.safe_load(THREE_VIPS)["vips"]}
    assert list(vips) == ["web", "arm", "direct"], list(vips)
    return vips


def connect(lab, vip, first, count):
    request = HTTP_GET if vip["port"] == 80 else ASK_NAME
    out = lab.run("client", [sys.executable, "-c", CONNECTIONS, vip["address"], str(vip["port"]), str(first),
                             str(count), request], timeout=60).stdout
    return Counter(out.split())


def by_group_id(dump):
    """dump-groups output with its groups in id order (the switch lists them in any order)."""
    head, *groups = dump.splitlines(keepends=True)
    return head + "".join(sorted(groups, key=lambda line: int(line.split("group_id=")[1].split(",")[0])))


def lbctl_trace(lab, lb, vip):
    """The raw ofproto/trace outputs of `lbctl --json trace --run` for a client's first packet."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(
        [sys.executable, "-m", "lbctl_cli", "--url", "http://127.0.0.1:%d" % lb.rest_port, "--json", "trace",
         "--vip", vip, "--client", "%s:%d" % (CLIENT, CLIENT_PORT), "--in-port", str(lab.host("client").ofport),
         "--bridge", BRIDGE, "--run", "--slot", str(SLOT),
         "--appctl", "ovs-appctl -t %s" % (lab.workdir / "ovs-vswitchd.ctl")],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError("lbctl trace --vip %s: %s" % (vip, done.stderr.strip()))
    return "".join(step["output"] for step in json.loads(done.stdout))


def capture(workdir):
    """-> {golden file name: text}, from a lab in `workdir` (removed at the end)."""
    vips = three_vips()
    lab = Lab(workdir, PREFIX, BRIDGE, free_tcp_port())
    lb = None
    try:
        lab.start()
        topology.build(lab)
        for member in TCP_MEMBERS:
            lab.spawn(member, "names-" + member, [sys.executable, "-c", NAME_SERVER, member])
            dsr.configure_member(lab, member, vips["direct"]["address"])
        lb = Controller(lab, free_tcp_port(), REPO_VIPS).start()
        lb.wait_resolved("web")
        shown = lb.call("GET", "/v1/vips/web")[1]
        assert [(m["address"], m["port"]) for m in shown["members"]] == [
            (m["address"], m["port"]) for m in vips["web"]["members"]], "config/vips.yaml's web is THREE_VIPS' web"
        for name in ("arm", "direct"):
            status, body = lb.call("POST", "/v1/vips", vips[name])
            assert status == 201, (name, status, body)
            lb.wait_resolved(name)
        assert [(v["name"], v["id"]) for v in lb.call("GET", "/v1/vips")[1]] == [("web", 1), ("arm", 2), ("direct", 3)]
        for name, (first, count) in TRAFFIC.items():
            print("%s: %s" % (name, dict(connect(lab, vips[name], first, count))))
        time.sleep(2)    # the datapath's counters reach the flows about twice a second
        flows = run(["ovs-ofctl", "dump-flows", BRIDGE], env=lab.switch.env).stdout
        groups = by_group_id(lab.ofctl("dump-groups"))
        traces = {name: lbctl_trace(lab, lb, name) for name in ("arm", "direct")}
        assert lb.refusals() == [], lb.refusals()
    finally:
        if lb is not None:
            lb.stop()
        lab.stop()
    return {"cli_dump_flows.txt": flows + groups, "cli_trace_one_arm.txt": traces["arm"],
            "cli_trace_dsr.txt": traces["direct"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(GOLDEN), help="where to write the three files (default %(default)s)")
    parser.add_argument("--workdir", help="the lab's workdir, kept (default: a new temporary directory, removed "
                                          "once the capture is done)")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        raise SystemExit("cannot recapture: " + reason)
    workdir = args.workdir or tempfile.mkdtemp(prefix="lbctl-goldens-")
    try:
        captured = capture(workdir)
    except BaseException:
        print("not captured; the lab's logs are in %s" % workdir, file=sys.stderr)
        raise
    if not args.workdir:
        shutil.rmtree(workdir)
    for name, text in captured.items():
        path = Path(args.out) / name
        path.write_text(text)
        print("wrote %s (%d lines)" % (path, len(text.splitlines())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
