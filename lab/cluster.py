"""The cluster lab: several balancer switches, each its own Open vSwitch, on one L2 segment
made by a fabric of ordinary learning switches, and one controller port for all of them.

      controller, 127.0.0.1:<of_port> (root namespace: ryu-manager, or lab/fakecontroller.py)
            ^ TCP                     ^ TCP                     one connection per balancer
        ofrelay-a                 ofrelay-b                 ... (relays: root namespace)
            ^ unix:<workdir>/a/       ^ unix:<workdir>/b/
            |   of-relay.sock         |   of-relay.sock
   +--------+---------------+  +------+-----------------+
   | netns <prefix>-a       |  | netns <prefix>-b       |   ... a third, c: dpid 3
   | ovsdb-server,          |  | ovsdb-server,          |
   |   ovs-vswitchd         |  |   ovs-vswitchd         |
   | bridge br-a, dpid 1    |  | bridge br-b, dpid 2    |
   | netdev, secure, OF1.3* |  | netdev, secure, OF1.3* |
   | port 50 "uplink"       |  | port 50 "uplink"       |
   +--------+---------------+  +------+-----------------+
            | veth                    | veth
            | <prefix>_a              | <prefix>_b
   +--------+-------------------------+-------------------------------------------------+
   | netns <prefix>-fabric: Linux bridge "fabric" (learning, no STP, no address)        |
   |  <prefix>client      <prefix>m1          <prefix>m2          <prefix>m3            |
   +------+------------------+-------------------+-------------------+------------------+
          | veth             |                   |                   |
     client 198.18.0.10  m1 198.18.0.11     m2 198.18.0.12      m3 198.18.0.13
     02:00:c6:12:00:0a   02:00:c6:12:00:0b  02:00:c6:12:00:0c   02:00:c6:12:00:0d
     each: eth0 in netns <prefix>-<host>, /24; m1..m3 run nginx on 80 and 8080, answering
     their name.    * protocols OpenFlow 1.0, 1.3 and 1.5, as core.Lab's bridge

Balancers are named (default "a", "b"); the i-th has dpid i+1 (`0000000000000001`, ...). Each
runs in its own namespace `<prefix>-<name>` with its database, sockets, pid files and logs in
`<workdir>/<name>/` (its OVS run directory: `ovs-vsctl`/`ovs-ofctl` reach it there). Its bridge
`br-<name>` has one port besides LOCAL, `uplink` = OpenFlow port 50 (UPLINK_OFPORT), one end of a veth pair
whose other end, `<prefix>_<name>`, is a port of the fabric bridge. Hosts are `topology.
build_fabric()`'s: the standard addresses, each on a fabric port `<prefix><host>`.

The controller. ovs-vswitchd lives in its namespace, where 127.0.0.1 is not the root
namespace's loopback, so (as in core.Lab) each bridge's controller is `unix:<workdir>/<name>/
of-relay.sock` and a relay per balancer (ofrelay.py, in the root namespace) opens a TCP
connection to 127.0.0.1:<of_port> for each switch connection. One `ryu-manager` listening there
sees one connection per balancer, told apart by dpid. `is_connected(name)` reads that balancer's
relay: a connection the controller has answered.

On a stick. Everything a balancer receives comes in on port 50 and everything it sends goes out
on port 50. OpenFlow never outputs a packet to the port it came in on: `output:50` for a packet
with in_port=50 is dropped silently (the flow still counts it), and so is NORMAL's (it never
forwards or floods back to the ingress port). A flow that sends traffic back into the fabric
must say `actions=...,IN_PORT`, or `set_field:0->in_port` before `output:50` (both tried here).
A packet the controller sends (packet-out, in_port=CONTROLLER) may use `output:50` directly.
Two more traps of hairpinning, both seen here: a frame sent back with the client's source MAC
teaches the fabric that the client sits behind the balancer (replies to the client then go to
the balancer): rewrite the source to the balancer's own (group) MAC. And a broadcast sent back
is flooded again by the fabric, to every balancer.

Failures, and what each looks like:
- `kill_switch(name)`: SIGKILL of the balancer's ovs-vswitchd (its recorded pid). The Unix
  socket closes with the process and the relay closes its TCP connection at once: the controller
  reads EOF a few milliseconds after the signal, as it would when a crashed host's kernel
  closes the connection. The uplink veth stays UP (so do its tap devices, down and unused), so
  the fabric keeps its carrier and keeps sending the group MAC's traffic there (a black hole)
  until another balancer's gratuitous ARP moves that MAC. A power loss or a hung box, where no
  FIN comes and only the controller's echo timeout tells, is not modelled.
- `restart_switch(name)`: ovs-vswitchd starts again on the same database: the bridge, dpid and
  port 50 come back, no flows, no groups, no meters; it connects to the controller at once (a
  new connection, the same dpid).
- `cut_uplink(name)`: the fabric's end of the uplink goes admin down (`ip link set <prefix>_<name>
  down` in the fabric namespace), as a pulled cable or a port shut on the fabric switch. The
  balancer's end loses carrier: OVS reports port 50 `LINK_DOWN` in its state (`ovs-ofctl
  dump-ports-desc`) and sends the controller an OFPT_PORT_STATUS (reason MODIFY, state
  LINK_DOWN), a few milliseconds after the command. The fabric flushes the MACs it had learned
  on that port. The OpenFlow connection is out of band and stays up. `restore_uplink(name)`
  brings it back (PORT_STATUS MODIFY, state LIVE). The balancer's own end stays admin up: it
  is the lost carrier that OVS reports.
- `fabric_fdb()`: the MACs the fabric has learned, {mac: fabric port}, from `bridge fdb show`
  (dynamic entries; the ports' own and multicast entries left out). A frame with source MAC X
  arriving on another port moves X there at once (here before the `ovs-ofctl packet-out` that
  sent it had returned): a gratuitous ARP from the new active balancer is how a takeover moves
  the group MAC. `send_garp(name, ip, mac)` sends one through the balancer's OpenFlow, as a
  controller's packet-out would.

Why a Linux bridge for the fabric: it is the plain learning switch the issue asks for (no
OpenFlow, no controller), its forwarding table is readable (`bridge fdb show`) and it does what
top-of-rack switches do with the events above: learns and moves a MAC on the first frame,
flushes a port's MACs when its link goes down, ages entries after 300 s. It needs no daemon
(nothing to record but its namespace), and, being the kernel's code rather than OVS's, it
cannot share a bug with the balancers. Everything it has lives in `<prefix>-fabric`.

Nothing is added to the root namespace but the relays' TCP connections on loopback. Everything
is recorded in `<workdir>/lab.json` as core.Lab does, and `stop()` (also `Cluster.attach(workdir).
stop()` from a later process) removes exactly that.
"""

import dataclasses
import json
import re
import time
from pathlib import Path

from lab import arp, hosts, ovs
from lab.base import LabBase
from lab.cmd import run
from lab.core import PREFIX
from lab.record import Record

FABRIC_NAME = "fabric"   # the fabric's namespace is <prefix>-fabric; its bridge is "fabric"
FABRIC_BRIDGE = "fabric"
UPLINK_PORT = "uplink"   # the balancer's end of its uplink, an OVS port (in its own namespace)
UPLINK_OFPORT = 50
BALANCER_NAME = re.compile(r"^[a-z][a-z0-9]{0,5}$")
DEFAULT_BALANCERS = ("a", "b")


def balancer_dpid(index):
    """The dpid of the index-th balancer (from 0): 0000000000000001, 0000000000000002, ..."""
    return f"{index + 1:016x}"


@dataclasses.dataclass(frozen=True)
class Balancer:
    """One balancer switch of the cluster."""
    name: str           # "a"
    netns: str          # "<prefix>-a": its ovsdb-server and ovs-vswitchd run there
    rundir: str         # "<workdir>/a": its database, sockets, pid files and logs
    bridge: str         # "br-a"
    dpid: str           # 16 hex digits
    uplink_port: str    # its one port, as ovs-ofctl shows it ("uplink")
    uplink_ofport: int  # that port's OpenFlow number (50)
    fabric_port: str    # the other end of the uplink: a port of the fabric bridge

    @property
    def relay_key(self):
        return f"ofrelay-{self.name}"


class Cluster(LabBase):
    """One run of the cluster lab: `start()`, then `topology.build_fabric(cluster)` (or
    `add_host()` / `start_http()`), `start_controller()` if wanted, and `stop()` at the end,
    always (a later `start()` in the same workdir also cleans up)."""

    def __init__(self, workdir, prefix, of_port, balancers=DEFAULT_BALANCERS):
        if not PREFIX.match(prefix):
            raise ValueError(f"prefix {prefix!r}: 1-10 lower-case letters and digits, "
                             "starting with a letter")
        super().__init__(workdir, prefix)
        self.of_port = int(of_port)
        self.fabric_netns = f"{prefix}-{FABRIC_NAME}"
        self.balancer_names = tuple(balancers)
        for name in self.balancer_names:
            self._check_balancer_name(name)
        if len(set(self.balancer_names)) != len(self.balancer_names):
            raise ValueError(f"balancers {list(self.balancer_names)}: names must differ")
        self.balancers = {}   # name -> Balancer, once made
        self.switches = {}    # name -> ovs.Switch

    def _check_balancer_name(self, name):
        if not BALANCER_NAME.match(name):
            raise ValueError(f"balancer name {name!r}: 1-6 lower-case letters and digits, "
                             "starting with a letter")
        fabric_port = f"{self.prefix}_{name}"
        if len(fabric_port) > hosts.IFNAMSIZ:
            raise ValueError(f"balancer name {name!r}: fabric port {fabric_port!r} is longer "
                             f"than {hosts.IFNAMSIZ} characters")

    @classmethod
    def attach(cls, workdir):
        """The Cluster recorded in workdir, started by another process: run commands in its
        hosts, drive its balancers, or stop it."""
        record = Record(Path(workdir).resolve())
        if not record.path.exists() or "cluster" not in record.data:
            raise RuntimeError(f"no cluster lab recorded in {record.path.parent}")
        info = record.data["cluster"]
        made = record.data.get("balancers", {})
        cluster = cls(workdir, info["prefix"], info["of_port"], info["balancers"])
        cluster.record = record
        cluster.hosts = {name: hosts.Host(**host) for name, host in record.data["hosts"].items()}
        for name, fields in made.items():
            balancer = Balancer(**fields)
            cluster.balancers[name] = balancer
            cluster.switches[name] = ovs.Switch(balancer.rundir, balancer.netns, record, name)
        return cluster

    # -- building -----------------------------------------------------------------------------

    def start(self):
        self._begin()
        self.record.data["cluster"] = {"prefix": self.prefix, "of_port": self.of_port,
                                       "fabric_netns": self.fabric_netns,
                                       "balancers": list(self.balancer_names)}
        self.record.data["balancers"] = {}
        self.record.save()
        self._make_netns(self.fabric_netns)
        self._fabric("link", "add", FABRIC_BRIDGE, "type", "bridge", "stp_state", "0",
                     "mcast_snooping", "0")
        self._fabric("link", "set", FABRIC_BRIDGE, "up")
        for index, name in enumerate(self.balancer_names):
            self._add_balancer(name, balancer_dpid(index))
        return self

    def _fabric(self, *args):
        return run(["ip", "-n", self.fabric_netns, *args]).stdout

    def _add_balancer(self, name, dpid):
        rundir = self.workdir / name
        rundir.mkdir(exist_ok=True)
        balancer = Balancer(name=name, netns=f"{self.prefix}-{name}", rundir=str(rundir),
                            bridge=f"br-{name}", dpid=dpid, uplink_port=UPLINK_PORT,
                            uplink_ofport=UPLINK_OFPORT, fabric_port=f"{self.prefix}_{name}")
        self.record.data["balancers"][name] = dataclasses.asdict(balancer)
        self.record.save()
        self._make_netns(balancer.netns)
        switch = ovs.Switch(rundir, balancer.netns, self.record, name)
        self.balancers[name] = balancer
        self.switches[name] = switch
        switch.start()
        switch.add_bridge(balancer.bridge, dpid)
        # The veth is made in the fabric namespace with its other end sent straight to the
        # balancer's: it never exists in the root namespace.
        self._fabric("link", "add", balancer.fabric_port, "type", "veth",
                     "peer", "name", UPLINK_PORT, "netns", balancer.netns)
        self._fabric("link", "set", balancer.fabric_port, "master", FABRIC_BRIDGE, "up")
        run(["ip", "-n", balancer.netns, "link", "set", UPLINK_PORT, "up"])
        # As for hosts (hosts.make_host): checksums in software, or the userspace datapath
        # forwards TCP with checksums left for a NIC to fill in.
        for netns, dev in ((self.fabric_netns, balancer.fabric_port), (balancer.netns, UPLINK_PORT)):
            run(["ip", "netns", "exec", netns, "ethtool", "-K", dev, "tx", "off"])
        switch.vsctl("add-port", balancer.bridge, UPLINK_PORT,
                     "--", "set", "interface", UPLINK_PORT, f"ofport_request={UPLINK_OFPORT}")
        actual = int(switch.vsctl("get", "interface", UPLINK_PORT, "ofport"))
        if actual != UPLINK_OFPORT:
            raise RuntimeError(f"balancer {name}: asked for OpenFlow port {UPLINK_OFPORT} for "
                               f"its uplink, got {actual}")
        self._start_relay(balancer.relay_key, rundir)
        return balancer

    def add_host(self, name, ip, prefixlen=24, mac=None, gateway=None):
        """A host in namespace `<prefix>-<name>`, its eth0 on a new port `<prefix><name>` of
        the fabric. Its MAC shows its address (hosts.mac_for) unless `mac` is given."""
        self._check_new_host(name)
        netns, port_name = hosts.check_names(self.prefix, name)
        self._make_netns(netns)
        mac = hosts.make_host(self.fabric_netns, netns, port_name, ip, prefixlen,
                              mac or hosts.mac_for(ip), gateway)
        self._fabric("link", "set", port_name, "master", FABRIC_BRIDGE)
        host = hosts.Host(name=name, netns=netns, ip=ip, prefixlen=prefixlen, mac=mac,
                          ofport=None, port_name=port_name, gateway=gateway,
                          bridge=FABRIC_BRIDGE)
        self.hosts[name] = host
        self.record.data["hosts"][name] = dataclasses.asdict(host)
        self.record.save()
        return host

    def _check_new_host(self, name):
        if name == FABRIC_NAME or name in self.balancer_names or name in self.hosts:
            raise ValueError(f"host name {name!r}: already taken")

    # -- the balancers ------------------------------------------------------------------------

    def balancer(self, name):
        try:
            return self.balancers[name]
        except KeyError:
            raise ValueError(f"balancer {name!r}: not one of {sorted(self.balancers)}") from None

    def vsctl(self, name, *args):
        """`ovs-vsctl <args>` against balancer `name`'s database; returns stdout."""
        self.balancer(name)
        return self.switches[name].vsctl(*args)

    def ofctl(self, name, *args):
        """`ovs-ofctl -O OpenFlow13 <args>` against balancer `name`'s bridge; returns stdout.
        The bridge may be left out: `ofctl("a", "add-flow", "priority=0,actions=NORMAL")`."""
        balancer = self.balancer(name)
        return self.switches[name].ofctl(*ovs.ofctl_args(args, balancer.bridge))

    def appctl(self, name, *args):
        """`ovs-appctl <args>` against balancer `name`'s ovs-vswitchd; returns stdout."""
        self.balancer(name)
        return self.switches[name].appctl(*args)

    def vswitchd_pid(self, name):
        """The pid of balancer `name`'s ovs-vswitchd, or None when it is not running."""
        self.balancer(name)
        return self.switches[name].vswitchd_pid()

    def kill_switch(self, name):
        """SIGKILL balancer `name`'s ovs-vswitchd, as a crash. Returns time.monotonic() taken
        just before the signal, to time what follows. Its database keeps running."""
        self.balancer(name)
        at = time.monotonic()
        self.switches[name].stop_vswitchd(kill=True)
        return at

    def restart_switch(self, name):
        """Start balancer `name`'s ovs-vswitchd again after kill_switch() (if it runs: stop it
        first, gracefully). Its bridge and port 50 come back from the database, without flows."""
        self.balancer(name)
        self.switches[name].stop_vswitchd()
        self.switches[name].start_vswitchd()

    def cut_uplink(self, name):
        """Take the fabric's end of balancer `name`'s uplink down: the balancer's port 50 goes
        LINK_DOWN. Returns time.monotonic() taken just before."""
        at = time.monotonic()
        self._fabric("link", "set", self.balancer(name).fabric_port, "down")
        return at

    def restore_uplink(self, name):
        at = time.monotonic()
        self._fabric("link", "set", self.balancer(name).fabric_port, "up")
        return at

    def uplink_cut(self, name):
        """True if the fabric's end of balancer `name`'s uplink is admin down (cut_uplink())."""
        port = self.balancer(name).fabric_port
        (link,) = json.loads(self._fabric("-j", "link", "show", "dev", port))
        return "UP" not in link["flags"]

    def uplink_state(self, name):
        """The state OVS reports for balancer `name`'s port 50: e.g. "LIVE" or "LINK_DOWN"."""
        balancer = self.balancer(name)
        out = self.ofctl(name, "dump-ports-desc")
        port = re.search(rf"^\s*{balancer.uplink_ofport}\({re.escape(balancer.uplink_port)}\):"
                         r".*?^\s*state:\s*(\S+)", out, re.M | re.S)
        if not port:
            raise RuntimeError(f"balancer {name}: no port {balancer.uplink_ofport} in\n{out}")
        return port.group(1)

    def send_garp(self, name, ip, mac, op=arp.REQUEST):
        """A gratuitous ARP for `ip` at `mac`, sent out of balancer `name`'s uplink by a
        packet-out (in_port=CONTROLLER, output:50): what a controller sends on takeover."""
        balancer = self.balancer(name)
        frame = arp.frame(op, mac, ip, arp.ZERO_MAC if op == arp.REQUEST else arp.BROADCAST, ip)
        self.ofctl(name, "packet-out", "CONTROLLER", f"output:{balancer.uplink_ofport}",
                   frame.hex())

    # -- the fabric ---------------------------------------------------------------------------

    def fabric_fdb(self):
        """{mac: fabric port} of the MACs the fabric has learned (its dynamic entries)."""
        out = run(["bridge", "-n", self.fabric_netns, "-j", "fdb", "show",
                   "br", FABRIC_BRIDGE]).stdout
        return {entry["mac"]: entry["ifname"] for entry in json.loads(out or "[]")
                if entry.get("master") == FABRIC_BRIDGE and "self" not in entry.get("flags", [])
                and entry.get("state", "") not in ("permanent", "static")}

    def fabric_port_of(self, owner):
        """The fabric port of a balancer (by name) or of a host (a Host or its name)."""
        if isinstance(owner, str) and owner in self.balancers:
            return self.balancers[owner].fabric_port
        return self.host(owner).port_name

    # -- the controller -----------------------------------------------------------------------

    def reconnect_switches(self):  # see LabBase
        for name, balancer in self.balancers.items():
            if self.switches[name].vswitchd_pid() is not None:
                self.switches[name].reconnect(balancer.bridge)

    def is_connected(self, name):
        """True if balancer `name` has an OpenFlow session with a controller: its relay carries
        a connection on which the controller has answered."""
        balancer = self.balancer(name)
        return self._relay_connected(balancer.relay_key, balancer.rundir)

    def wait_connected(self, names=None, timeout=20.0):
        """Until every balancer of `names` (default: all) is connected."""
        names = list(self.balancers) if names is None else list(names)
        deadline = time.monotonic() + timeout
        while not all(self.is_connected(name) for name in names):
            if time.monotonic() > deadline:
                missing = [name for name in names if not self.is_connected(name)]
                raise RuntimeError(f"balancers {missing} not connected to a controller "
                                   f"after {timeout:.0f} s")
            time.sleep(0.1)

    # -- teardown -----------------------------------------------------------------------------

    def stop(self):
        """Remove everything this run made; safe to call twice, or without start()."""
        super().stop()
        self.balancers.clear()
        self.switches.clear()
