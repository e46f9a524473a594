"""What an attack on a running demo found, checked on real Open vSwitch with real packets (the
same behaviours on the fake switch: tests/unit/test_hardening.py): UDP datagrams and replies
too large for one frame, ICMP errors about VIP connections (path MTU discovery through the
balancer), a member reaching its own VIP, what is sent to the balancer's MACs that no flow
serves, a routed SYN whose TTL runs out, packets sent from the balancer's addresses by someone
else, pings to the balancer's addresses, and the state a flood of SYNs leaves in the switch.

Packets no socket sends (spoofed sources, 802.1Q tags, ICMP errors quoting a live connection)
are built by hand (lab/packets.py) or with scapy (/usr/bin/python3: Debian's python3-scapy);
what a host receives is seen with tcpdump. The tests marked xfail name what lbctl does not do yet,
and how it fails on real Open vSwitch.
"""
import json
import random
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager

import pytest

from flows import pipeline
from flows.protocols import ICMP_DEST_UNREACH, TCP_ACK, TCP_FIN, TCP_SYN
from lab import dsr, topology
from lab.lbctl import HTTP_CLIENT, NAME_SERVER, served_by, wait_for
from lab.packets import Capture, endpoints, send_frames, tcp_frame
from tests.integration.test_routed_vip import REFUSED

SCAPY = "/usr/bin/python3"   # Debian's python3-scapy is installed for the system Python only
CLIENT = topology.CLIENT[1]
ADDRESS = {name: address for name, address, _ in topology.MEMBERS}
MEMBERS = tuple(ADDRESS)
ROUTER = "198.18.0.250"       # a router between the balancer and the members (no such host)
WEB = topology.DEMO_VIP       # config/vips.yaml's routed VIP `web`, port 80
FRAG_NEEDED = 4               # the code of ICMP destination unreachable: fragmentation needed (RFC 1191)
FRAGMENTS = "ip[6:2] & 0x3fff != 0"   # a tcpdump filter: any IP fragment (more fragments, or an offset)
ARM = {"name": "arm", "address": "198.18.0.110", "port": 80, "mode": "one-arm",
       "members": [{"address": address, "port": 8080} for address in ADDRESS.values()],
       "snat_pool": {"addresses": ["198.18.0.200", "198.18.0.201"], "ports": [20000, 40000]}}
DIRECT = {"name": "direct", "address": "198.18.0.120", "port": 8080, "mode": "dsr",
          "members": [{"address": ADDRESS["m1"], "port": 8080}, {"address": ADDRESS["m2"], "port": 8080}]}


def _missing_tools():
    if shutil.which("tcpdump") is None:
        return "tcpdump is not installed (apt-get install tcpdump)"
    if subprocess.run([SCAPY, "-c", "import scapy.all"], capture_output=True).returncode != 0:
        return "scapy is not installed for %s (apt-get install python3-scapy)" % SCAPY
    return None


pytestmark = pytest.mark.skipif(_missing_tools() is not None, reason=str(_missing_tools()))


@pytest.fixture(scope="module", autouse=True)
def arm(lb):
    assert lb.call("POST", "/v1/vips", ARM)[0] == 201
    lb.wait_resolved("arm")


@contextmanager
def vip(lb, body, resolved=True):
    """A VIP added for the `with` block (`resolved`: once its members are located), deleted after it."""
    assert lb.call("POST", "/v1/vips", body)[0] == 201, body
    try:
        if resolved:
            lb.wait_resolved(body["name"])
        yield body
    finally:
        lb.call("DELETE", "/v1/vips/" + body["name"])


def over_members(name, address, port, protocol, mode, pool):
    """A VIP over m1..m3 at `port`; one-arm with the SNAT pool address `pool`."""
    body = {"name": name, "address": address, "port": port, "protocol": protocol, "mode": mode,
            "members": [{"address": a, "port": port} for a in ADDRESS.values()]}
    if mode == "one-arm":
        body["snat_pool"] = {"addresses": [pool]}
    return body


@contextmanager
def on_members(lab, name, script, *args):
    """`script` running on every member, with the member's name and `args` as arguments, for the
    `with` block."""
    for member in MEMBERS:
        lab.spawn(member, "%s-%s" % (name, member), [sys.executable, "-c", script, member, *args])
    try:
        yield
    finally:
        for member in MEMBERS:
            lab.stop_process("%s-%s" % (name, member))


@contextmanager
def captures(lab, hosts, bpf):
    """One Capture per host, all running for the `with` block."""
    with ExitStack() as stack:
        yield [stack.enter_context(Capture(lab, host, bpf)) for host in hosts]


def vip_mac(lb, name):
    return lb.call("GET", "/v1/vips/" + name)[1]["mac"]


# ---------------------------------------------------------------- UDP and fragments

# Runs in a member: a UDP service on port argv[2] (at address argv[3]: a dsr member answers from
# the VIP it binds) that answers "<bytes received> from <member argv[1]> <its port>", padded to
# the size the request's first word asks for.
UDP_SIZES = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0", int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(65535)
    asked = data.split(b" ", 1)[0]
    answer = b"%d from %s %s " % (len(data), sys.argv[1].encode(), sys.argv[2].encode())
    s.sendto(answer.ljust(int(asked) if asked.isdigit() else 0, b"."), peer)
"""
# Runs in the client: one datagram of `size` bytes asking for a `reply`-byte answer, on a connected
# socket (only an answer from address:port is taken); prints the answer's length, the size the
# service received, its member and its port.
UDP_SIZED_ASK = """
import socket, sys
address, port, size, reply = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(3)
    s.connect((address, port))
    s.send((b"%d " % reply).ljust(size, b"x"))
    answer = s.recv(65535)
    received, _, member, port = answer.decode().split()[:4]
    print(len(answer), received, member, port)
"""


# The same from a given client port (argv[5]): datagrams of one connection.
UDP_SIZED_ASK_FROM = UDP_SIZED_ASK.replace("    s.settimeout(3)\n", "    s.settimeout(3)\n    s.bind(('', int(sys.argv[5])))\n")


def ask(lab, address, port, size, reply):
    """One datagram of `size` bytes from the client to address:port asking for a `reply`-byte
    answer -> (the answer's length, the size the service received, its member, its port)."""
    out = lab.run("client", [sys.executable, "-c", UDP_SIZED_ASK, address, str(port), str(size), str(reply)]).stdout
    length, received, member, service = out.split()
    return int(length), int(received), member, int(service)


def large_datagrams_both_ways(lab, address, port):
    """A 3000-byte datagram from the client leaves it in three IP fragments (MTU 1500), and so
    does a 3000-byte answer: each must cross the balancer whole, the answer from the VIP (the
    client's socket is connected to it). The client must see every fragment to or from the VIP."""
    with Capture(lab, "client", FRAGMENTS) as fragments:
        assert ask(lab, address, port, 3000, 20)[1] == 3000, "the whole request reached a member"
        assert ask(lab, address, port, 20, 3000)[0] == 3000, "the whole answer reached the client"
        length, received, member, _ = ask(lab, address, port, 3000, 3000)
        assert (length, received) == (3000, 3000) and member in MEMBERS
        wait_for(lambda: len(fragments.seen()) >= 12, "the fragments captured", timeout=5)
    sent = [line for line in fragments.lines if endpoints(line) == (CLIENT, address)]
    received = [line for line in fragments.lines if endpoints(line) == (address, CLIENT)]
    assert (len(sent), len(received), len(fragments.lines)) == (6, 6, 12), \
        "two large datagrams each way, three fragments each, every one to or from the VIP"


@pytest.mark.parametrize("mode, address", [("routed", "198.18.0.102"), ("one-arm", "198.18.0.111")])
def test_udp_datagrams_and_answers_larger_than_a_frame_cross_the_balancer(lab, lb, mode, address):
    body = over_members("big-" + mode, address, 5353, "udp", mode, "198.18.0.202")
    with on_members(lab, "udp-sizes", UDP_SIZES, "5353"), vip(lb, dict(body, port=53)):
        large_datagrams_both_ways(lab, address, 53)


def test_udp_datagrams_and_answers_larger_than_a_frame_cross_a_dsr_vip(lab, lb):
    """A fragment has no ports: a dsr VIP sends a client's fragments to the member its address
    hashes to, and lets its members' answer fragments out."""
    address = "198.18.0.122"
    for member in MEMBERS:
        dsr.configure_member(lab, member, address)
    try:
        with on_members(lab, "udp-sizes", UDP_SIZES, "5353", address), \
                vip(lb, over_members("big-dsr", address, 5353, "udp", "dsr", None)):
            assert ask(lab, address, 5353, 20, 20)[2] in MEMBERS, "a small datagram is served"
            large_datagrams_both_ways(lab, address, 5353)
    finally:
        for member in MEMBERS:
            dsr.unconfigure_member(lab, member, address)


def test_a_large_datagram_never_reaches_the_other_udp_service_when_two_share_an_address(lab, lb):
    """Fragments carry no port in OpenFlow: when two UDP VIPs share an address, a new datagram
    that arrives fragmented cannot be told apart and is dropped (never sent to the other
    service); once a small datagram has opened the connection, its large ones follow it."""
    address = "198.18.0.105"
    first = over_members("first-udp", address, 5353, "udp", "routed", None)
    second = over_members("second-udp", address, 5354, "udp", "routed", None)
    with on_members(lab, "udp-first", UDP_SIZES, "5353"), on_members(lab, "udp-second", UDP_SIZES, "5354"), \
            vip(lb, dict(first, port=53)), vip(lb, dict(second, port=54)):
        fresh = lab.run("client", [sys.executable, "-c", UDP_SIZED_ASK, address, "54", "3000", "20"], check=False)
        assert fresh.returncode != 0 and "TimeoutError" in fresh.stderr, "dropped, not answered by 5353"
        port = "45054"
        opened = lab.run("client", [sys.executable, "-c", UDP_SIZED_ASK_FROM, address, "54", "20", "20", port]).stdout
        assert opened.split()[3] == "5354", "a small datagram reaches the second service"
        large = lab.run("client", [sys.executable, "-c", UDP_SIZED_ASK_FROM, address, "54", "3000", "20", port]).stdout
        assert large.split()[1:4:2] == ["3000", "5354"], "then a large one of the same connection follows it"


# ---------------------------------------------------------------- ICMP errors

# Runs in the client (scapy): one TCP connection to address:port (a NAME_SERVER), asked once and
# then held open for `hold` seconds. Prints, as JSON, who answered, the client's port and the
# next sequence number of each side, read from the packets themselves: an ICMP error must quote
# a sequence number the receiving kernel has in flight, or it is ignored.
HOLD = """
import json, socket, sys, threading, time
from scapy.all import AsyncSniffer, IP, TCP
address, port, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ready = threading.Event()
sniffer = AsyncSniffer(iface="eth0", filter="tcp and host %s and port %d" % (address, port),
                       started_callback=ready.set)
sniffer.start()
ready.wait(5)
s = socket.create_connection((address, port), timeout=5)
s.sendall(b"who\\n")
member = s.makefile().readline().strip()
time.sleep(0.3)   # the client's ACK of the answer is on the wire too
packets = sniffer.stop()
def next_seq(from_server):
    last = [p for p in packets if (p[IP].src == address) == from_server][-1][TCP]
    return (last.seq + len(last.payload) + bool(last.flags & 0x03)) & 0xFFFFFFFF   # SYN, FIN count one
print(json.dumps({"member": member, "port": s.getsockname()[1], "client_next": next_seq(False),
                  "server_next": next_seq(True)}), flush=True)
time.sleep(hold)
"""
# Runs anywhere (scapy): one ICMP "fragmentation needed" from src to dst, quoting a TCP segment
# isrc:isport -> idst:idport with sequence number seq.
FRAG_NEEDED_ERROR = """
import sys
from scapy.all import ICMP, IP, TCP, conf, send
conf.verb = 0
src, dst, kind, code, mtu, isrc, isport, idst, idport, seq = sys.argv[1:11]
quoted = IP(src=isrc, dst=idst) / TCP(sport=int(isport), dport=int(idport), flags="A", seq=int(seq))
send(IP(src=src, dst=dst) / ICMP(type=int(kind), code=int(code), nexthopmtu=int(mtu)) / quoted)
"""


@contextmanager
def held_connection(lab, address, port):
    """A connection from the client to address:port held open for the `with` block: HOLD's
    figures, and `peer`: the address and port the member that serves it sees it from."""
    log = lab.workdir / "hold.log"
    log.unlink(missing_ok=True)
    lab.spawn("client", "hold", [SCAPY, "-c", HOLD, address, str(port), "60"])
    try:
        wait_for(lambda: log.read_text().startswith("{"), "the connection held", timeout=15)
        held = json.loads(log.read_text().splitlines()[0])
        sockets = lab.run(held["member"], ["ss", "-Htn", "state", "established", "sport", "=", ":%d" % port]).stdout
        [held["peer"]] = [tuple(line.split()[-1].rsplit(":", 1)) for line in sockets.splitlines()]
        yield held
    finally:
        lab.stop_process("hold")


def path_mtu(lab, host, address):
    """The MTU `host`'s route cache holds for `address` (None: nothing learned)."""
    found = re.search(r"\bmtu (\d+)", lab.run(host, ["ip", "route", "get", address]).stdout)
    return int(found.group(1)) if found else None


def frag_needed(lab, host, src, dst, mtu, quoted_src, quoted_dst, seq):
    """Send from `host` an ICMP "fragmentation needed" (mtu) quoting quoted_src -> quoted_dst."""
    lab.run(host, [SCAPY, "-c", FRAG_NEEDED_ERROR, src, dst, str(ICMP_DEST_UNREACH), str(FRAG_NEEDED), str(mtu),
                   quoted_src[0], str(quoted_src[1]), quoted_dst[0], str(quoted_dst[1]), str(seq)])


@pytest.mark.parametrize("mode, address", [("routed", "198.18.0.103"), ("one-arm", "198.18.0.112")])
def test_path_mtu_discovery_works_through_the_balancer_both_ways(lab, lb, mode, address):
    body = over_members("held-" + mode, address, 9000, "tcp", mode, "198.18.0.203")
    with on_members(lab, "names", NAME_SERVER), vip(lb, body), held_connection(lab, address, 9000) as held:
        member, peer = held["member"], held["peer"]   # one-arm: the member's peer is the pool address
        assert peer[0] == (CLIENT if mode == "routed" else "198.18.0.203")
        # The client's link takes 1200 bytes at most: it says so about a reply it got.
        lab.run(member, ["ip", "route", "flush", "cache"])
        frag_needed(lab, "client", CLIENT, address, 1200, (address, 9000), (CLIENT, held["port"]), held["server_next"])
        wait_for(lambda: path_mtu(lab, member, peer[0]) == 1200,
                 "the member's kernel taking the error about its connection", timeout=5)
        # The member, then a router on the members' side, say that a request was too big.
        lab.run("client", ["ip", "route", "flush", "cache"])
        with Capture(lab, "client", "icmp") as errors:
            for source, mtu in ((ADDRESS[member], 1100), (ROUTER, 1000)):
                frag_needed(lab, member, source, peer[0], mtu, peer, (ADDRESS[member], 9000), held["client_next"])
                wait_for(lambda: path_mtu(lab, "client", address) == mtu,
                         "the client's kernel taking the error from %s about its connection" % source, timeout=5)
    assert [endpoints(line) for line in errors.lines] == [(address, CLIENT)] * 2, \
        "both from the VIP's address (conntrack translates the outer source too, a router's as well)"
    assert all("ICMP %s unreachable - need to frag" % address in line for line in errors.lines), "about the VIP"


def test_path_mtu_discovery_reaches_a_dsr_member(lab, lb):
    """A stateless dsr VIP sends an ICMP error to each of its members: the one whose connection it
    quotes takes it."""
    address = "198.18.0.123"
    for member in MEMBERS:
        dsr.configure_member(lab, member, address)
    try:
        body = over_members("held-dsr", address, 9000, "tcp", "dsr", None)
        with on_members(lab, "names", NAME_SERVER), vip(lb, body), held_connection(lab, address, 9000) as held:
            lab.run(held["member"], ["ip", "route", "flush", "cache"])
            frag_needed(lab, "client", CLIENT, address, 1200, (address, 9000), (CLIENT, held["port"]),
                        held["server_next"])
            wait_for(lambda: path_mtu(lab, held["member"], CLIENT) == 1200,
                     "the member's kernel taking the error about its connection", timeout=5)
    finally:
        for member in MEMBERS:
            dsr.unconfigure_member(lab, member, address)


# ---------------------------------------------------------------- a member reaching its own VIP

@pytest.mark.parametrize("address, seen_as", [(WEB, {WEB}), (ARM["address"], set(ARM["snat_pool"]["addresses"]))],
                         ids=["routed", "one-arm"])
def test_a_member_reaching_its_own_vip_is_served_by_itself_too(lab, lb, address, seen_as):
    before = len(lab.access_log("m1"))
    out = lab.run("m1", [sys.executable, "-c", HTTP_CLIENT, address, "80", "30"], timeout=120).stdout
    served = served_by(json.loads(out))
    assert sum(served.values()) == 30, "every connection answered"
    assert served.get("m1", 0) >= 1, "m1 serves itself too (about a third): %s" % served
    seen = set(lab.access_log("m1")[before:])
    assert seen and seen <= seen_as, "m1 sees an address of the balancer as its peer, never its own: %s" % seen


# ---------------------------------------------------------------- the balancer's MACs

def test_a_syn_to_a_port_the_vip_does_not_serve_is_refused_at_once(lab, lb):
    assert lab.run("client", [sys.executable, "-c", REFUSED, WEB, "22", "tcp"]).stdout.strip() == "refused"


def test_a_udp_datagram_to_a_tcp_vip_gets_a_port_unreachable(lab, lb):
    assert lab.run("client", [sys.executable, "-c", REFUSED, WEB, "80", "udp"]).stdout.strip() == "refused"


def test_a_refused_large_datagram_gets_one_port_unreachable_about_its_port(lab, lb):
    """Every fragment reaches the reject table; only the first is answered (RFC 1122 3.2.2: no
    ICMP error about a later fragment, whose payload is no UDP header)."""
    nobody = {"name": "nobody", "address": "198.18.0.104", "port": 7000, "protocol": "udp",
              "members": [{"address": "198.18.0.99", "port": 7000}]}   # no such host: never located
    with vip(lb, nobody, resolved=False), Capture(lab, "client", "icmp") as refusals:
        found = lab.run("client", [sys.executable, "-c", UDP_SIZED_ASK, nobody["address"], "7000", "3000", "20"],
                        check=False)
        assert "ConnectionRefusedError" in found.stderr, "refused at once"
        time.sleep(0.5)
    assert len(refusals.lines) == 1 and "udp port 7000 unreachable" in refusals.lines[0], refusals.lines


def test_nothing_sent_to_the_balancers_mac_reaches_another_host(lab, lb):
    """A SYN to a port the VIP does not serve, UDP to a TCP VIP, a stray ACK, FIN or SYN-ACK to
    it, an ICMP error about no connection, a VLAN-tagged SYN to it: refused or dropped, never
    flooded. A tagged frame to someone else's MAC is switched as before (and shows that the
    captures would see a flood)."""
    mac, client = vip_mac(lb, "web"), lab.host("client")
    stray = [tcp_frame(client.mac, mac, CLIENT, WEB, 41000 + i, 80, flags=flags)
             for i, flags in enumerate((TCP_ACK, TCP_FIN, TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK))]
    tagged = tcp_frame(client.mac, mac, CLIENT, WEB, 41010, 80, vlan=10)
    elsewhere = tcp_frame(client.mac, "0a:00:00:00:00:99", CLIENT, "198.18.0.99", 41011, 80, vlan=10)
    with captures(lab, MEMBERS, "ether dst %s or vlan" % mac) as seen:
        for protocol, port in (("tcp", "22"), ("udp", "80")):
            lab.run("client", [sys.executable, "-c", REFUSED, WEB, port, protocol])
        frag_needed(lab, "client", CLIENT, WEB, 1200, (WEB, 80), (CLIENT, 41020), 1)
        assert send_frames(lab, "client", stray + [tagged, elsewhere]) == 6
        wait_for(lambda: all(capture.seen() for capture in seen), "the frame to someone else flooded", timeout=5)
        time.sleep(0.5)
    for capture in seen:
        assert len(capture.lines) == 1 and "> 0a:00:00:00:00:99" in capture.lines[0], \
            (capture.host.name, capture.lines)


# ---------------------------------------------------------------- TTL

# Runs in the client: one TCP connection with the given IP TTL; prints its source port and whether
# it connected (or the errno name of its failure: EHOSTUNREACH for an ICMP time exceeded).
CONNECT_WITH_TTL = """
import errno, socket, sys
address, port, ttl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with socket.socket() as s:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.bind(("0.0.0.0", 0))
    s.settimeout(3)
    try:
        s.connect((address, port))
        print(s.getsockname()[1], "connected")
    except OSError as e:
        print(s.getsockname()[1], errno.errorcode.get(e.errno, type(e).__name__))
"""


def conntrack(lab, *options, zone=pipeline.LB_ZONE):
    return lab.switch.appctl("dpctl/dump-conntrack", *options, "zone=%d" % zone).splitlines()


def test_a_routed_syn_whose_ttl_runs_out_gets_time_exceeded_and_leaves_no_connection_behind(lab, lb):
    def attempt(ttl):
        port, outcome = lab.run("client", [sys.executable, "-c", CONNECT_WITH_TTL, WEB, "80", str(ttl)]).stdout.split()
        return outcome, [e for e in conntrack(lab) if "src=%s,dst=%s,sport=%s," % (CLIENT, WEB, port) in e]

    with Capture(lab, "client", "icmp") as answers:
        outcome, entries = attempt(1)
        time.sleep(0.3)
    assert outcome == "EHOSTUNREACH" and entries == [], "TTL 1: no hop further, nothing committed"
    assert len(answers.lines) == 1 and "%s > %s: ICMP time exceeded in-transit" % (WEB, CLIENT) in answers.lines[0], \
        answers.lines
    outcome, entries = attempt(64)
    assert outcome == "connected" and len(entries) == 1


# ---------------------------------------------------------------- addresses of the balancer

@pytest.fixture
def direct(lab, lb):
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, DIRECT["address"])
    try:
        with vip(lb, DIRECT):
            yield DIRECT
    finally:
        for member in ("m1", "m2"):
            dsr.unconfigure_member(lab, member, DIRECT["address"])


def test_nobody_sends_from_the_balancers_addresses_but_dsr_members_from_their_vip(lab, lb, direct):
    m1, client = lab.host("m1"), lab.host("client")
    spoofed = [tcp_frame(m1.mac, client.mac, source, CLIENT, port, 40000 + i, flags=TCP_ACK)
               for i, (source, port) in enumerate(((WEB, 80), (ARM["snat_pool"]["addresses"][0], 20000),
                                                   (DIRECT["address"], 22)))]
    dsr_reply = tcp_frame(m1.mac, client.mac, DIRECT["address"], CLIENT, 8080, 40010, flags=TCP_ACK)
    with Capture(lab, "client", "tcp and dst host %s and dst portrange 40000-40010" % CLIENT) as capture:
        assert send_frames(lab, "m1", spoofed + [dsr_reply]) == 4
        wait_for(capture.seen, "the dsr member's reply", timeout=5)
        time.sleep(0.5)
    assert len(capture.lines) == 1 and "%s.8080 > %s.40010" % (DIRECT["address"], CLIENT) in capture.lines[0], \
        "only the dsr member's reply, from its VIP and port: %s" % capture.lines
    served = served_by(json.loads(lab.run("client", [sys.executable, "-c", HTTP_CLIENT, DIRECT["address"], "8080",
                                                      "20"], timeout=120).stdout))
    assert sum(served.values()) == 20 and set(served) <= {"m1", "m2"}, "a dsr VIP serves as before"


@pytest.mark.parametrize("address", [WEB, ARM["address"]] + ARM["snat_pool"]["addresses"])
def test_the_balancers_addresses_answer_ping(lab, lb, address):
    out = lab.run("client", ["ping", "-c", "2", "-i", "0.2", "-W", "2", address], check=False).stdout
    assert "2 received" in out, out


# ---------------------------------------------------------------- bounded state under a SYN flood

FLOOD_SYNS = 5000
FLOOD_RATE = 3000.0   # SYNs per second


def syn_flood(lab, lb, name, address, port):
    """FLOOD_SYNS SYNs to address:port from random spoofed sources (198.19.0.0/16: no host, no
    route back), FLOOD_RATE per second. The datapath's flow cache is emptied first, so that what
    it holds after was made by the flood (OpenFlow tables and conntrack are untouched)."""
    client, mac = lab.host("client"), vip_mac(lb, name)
    frames = [tcp_frame(client.mac, mac, "198.19.%d.%d" % (random.randrange(256), random.randrange(1, 255)), address,
                        random.randrange(1024, 65536), port, seq=random.getrandbits(32)) for _ in range(FLOOD_SYNS)]
    lab.switch.appctl("dpctl/del-flows")
    assert send_frames(lab, "client", frames, rate=FLOOD_RATE, timeout=60) == FLOOD_SYNS


def openflow_flows(lab):
    return [line for line in lab.ofctl("dump-flows").splitlines() if " actions=" in line]


def datapath_flows(lab):
    return [line for line in lab.switch.appctl("dpctl/dump-flows").splitlines() if " actions:" in line]


def pins(lab, address):
    """The pins learned for the connections of the dsr VIP at `address` (table dsr_conn)."""
    return [line for line in lab.ofctl("dump-flows", "table=%d" % pipeline.DSR_CONN.id).splitlines()
            if "nw_dst=%s," % address in line]


def test_a_syn_flood_at_a_dsr_vip_learns_nothing_in_the_steady_state_and_pins_within_the_limit(lab, lb):
    body = dict(DIRECT, name="flooded", address="198.18.0.121", members=DIRECT["members"][:1])
    for member in ("m1", "m2"):
        dsr.configure_member(lab, member, body["address"])
    try:
        with vip(lb, body):
            flows_before = len(openflow_flows(lab))
            syn_flood(lab, lb, "flooded", body["address"], 8080)
            steady_flows, steady_datapath = len(openflow_flows(lab)), len(datapath_flows(lab))
            assert steady_flows == flows_before, "no flow learned per connection in the steady state"
            assert steady_datapath < FLOOD_SYNS / 10, "no datapath flow per connection"
            # One member added: half the slots move to it, and their new connections are pinned.
            assert lb.call("PUT", "/v1/vips/flooded", dict(body, members=DIRECT["members"]))[0] == 200
            lb.wait_resolved("flooded")
            syn_flood(lab, lb, "flooded", body["address"], 8080)
            learned, moved_datapath = len(pins(lab, body["address"])), len(datapath_flows(lab))
            print("\ndsr flood of %d SYNs: OpenFlow flows %d before, %d after; datapath flows %d. With a member "
                  "added: %d pins learned (limit %d), datapath flows %d"
                  % (FLOOD_SYNS, flows_before, steady_flows, steady_datapath, learned, pipeline.DSR_PIN_LIMIT,
                     moved_datapath))
            assert 0 < learned <= min(FLOOD_SYNS, pipeline.DSR_PIN_LIMIT)
        wait_for(lambda: pins(lab, body["address"]) == [], "the VIP's pins gone with it")
    finally:
        for member in ("m1", "m2"):
            dsr.unconfigure_member(lab, member, body["address"])


def test_a_syn_flood_at_a_routed_vip_leaves_at_most_one_connection_per_syn(lab, lb):
    flows_before = len(openflow_flows(lab))
    syn_flood(lab, lb, "web", WEB, 80)
    flooded = [e for e in conntrack(lab, "-s") if "orig=(src=198.19." in e and "dst=%s," % WEB in e]
    timeouts = sorted(int(re.search(r"timeout=(\d+)", e).group(1)) for e in flooded) or ["-"]
    states = sorted({re.search(r"state=(\w+)", e).group(1) for e in flooded})
    datapath = len(datapath_flows(lab))
    print("\nrouted flood of %d SYNs: %d connections in zone %d (%s), timeouts %s-%s s; datapath flows %d"
          % (FLOOD_SYNS, len(flooded), pipeline.LB_ZONE, ",".join(states), timeouts[0], timeouts[-1], datapath))
    assert 0 < len(flooded) <= FLOOD_SYNS
    assert len(openflow_flows(lab)) == flows_before, "conntrack holds the state, not the flow tables"
    assert datapath < FLOOD_SYNS / 10, "no datapath flow per connection"
