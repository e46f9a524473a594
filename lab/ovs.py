"""A private Open vSwitch (userspace datapath) for one lab run: its database, its daemons, its
bridge and controller settings, and the `ovs-vsctl` / `ovs-ofctl` commands that reach it.

Why ovs-vswitchd runs inside its own network namespace (`<prefix>-switch`): the userspace
datapath creates tap devices named `ovs-netdev` (the datapath) and `<bridge>` (the LOCAL port)
in the namespace of the daemon. A second ovs-vswitchd in the same namespace fails with
"ovs-netdev: creating tap device failed: Device or resource busy", so two runs on one machine
could not coexist. Inside a namespace of its own, the daemon's taps, the veths of the bridge
ports and the LOCAL port never appear in the root namespace. The database, the management
socket and the controller connection all use Unix sockets in the workdir, which work across
namespaces; `ofrelay.py` carries the OpenFlow connection to a controller on 127.0.0.1.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from lab.cmd import run
from lab.record import same_process, terminate

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
OF_RELAY_SOCKET = "of-relay.sock"

# Controller record settings. OVS's default reconnect back-off grows to 8 s; tests that restart
# the controller want it back within about a second (1000 ms is the smallest OVS accepts).
# OVS 3.1 was seen to ignore max_backoff, hence Switch.reconnect().
CONTROLLER_MAX_BACKOFF_MS = 1000
CONTROLLER_INACTIVITY_PROBE_MS = 5000
OPENFLOW_VERSIONS = "OpenFlow10,OpenFlow13,OpenFlow15"


@dataclass(frozen=True)
class AccessBridge:
    """A learning bridge for hosts on VLANs, trunked to the lbctl bridge by a patch port pair.

    Hosts sit on its access ports (`tag=N`); NORMAL switches between them, and whatever goes
    to the lbctl bridge crosses the patch pair tagged with its VLAN. It has no controller:
    lbctl sees tenants only as tagged frames on one port of its own bridge, as it would behind
    a real top-of-rack switch.
    """
    bridge: str        # the access bridge
    trunk_port: str    # the patch port on the lbctl bridge, as ovs-ofctl shows it
    trunk_ofport: int  # its OpenFlow port number on the lbctl bridge
    uplink_port: str   # its peer: the patch port on the access bridge (same port number)
    vlans: tuple = ()  # the VLANs the trunk carries; (): all, untagged frames too


def ofctl_args(args, bridge):
    """`ovs-ofctl` arguments with `bridge` inserted after the command, unless it is already the
    first argument after it. Options (`--names`, `-O OpenFlow15`) may come first."""
    args = [str(a) for a in args]
    n_opts = 0
    while n_opts < len(args) and args[n_opts].startswith("-"):
        n_opts += 2 if args[n_opts] == "-O" else 1
    command, rest = args[:n_opts + 1], args[n_opts + 1:]
    if rest[:1] != [bridge]:
        rest = [bridge, *rest]
    return [*command, *rest]


def ovs_env(workdir):
    env = dict(os.environ)
    for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR"):
        env[var] = str(workdir)
    return env


def read_pidfile(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = Path(path).read_text().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no pid file {path} after {timeout:.0f} s")


class Switch:
    """The private ovsdb-server + ovs-vswitchd pair of one workdir (its run directory).

    `name`: for several switches in one record (cluster.py), each in a workdir of its own;
    their daemons are recorded as `ovsdb-server-<name>` and `ovs-vswitchd-<name>`.
    """

    def __init__(self, workdir, netns, record, name=None):
        self.workdir = Path(workdir)
        self.netns = netns
        self.record = record
        self.env = ovs_env(self.workdir)
        self.db_socket = self.workdir / "db.sock"
        suffix = f"-{name}" if name else ""
        self.db_key = f"ovsdb-server{suffix}"
        self.vswitchd_key = f"ovs-vswitchd{suffix}"

    def start(self):
        wd = self.workdir
        for stale in ("conf.db", ".conf.db.~lock~", "db.sock", "ovsdb-server.pid",
                      "ovs-vswitchd.pid", "ovsdb-server.ctl", "ovs-vswitchd.ctl"):
            (wd / stale).unlink(missing_ok=True)
        run(["ovsdb-tool", "create", wd / "conf.db", SCHEMA], env=self.env)
        self.record.add_file(self.db_socket)
        # Both daemons live in the switch namespace: cleaning up that namespace's processes
        # then catches them even if this process died before it could record their pids.
        run(["ip", "netns", "exec", self.netns,
             "ovsdb-server", wd / "conf.db", f"--remote=punix:{self.db_socket}",
             f"--pidfile={wd / 'ovsdb-server.pid'}", f"--unixctl={wd / 'ovsdb-server.ctl'}",
             f"--log-file={wd / 'ovsdb-server.log'}", "--detach"], env=self.env)
        self.record.add_process(self.db_key, read_pidfile(wd / "ovsdb-server.pid"),
                                f"ovsdb-server in netns {self.netns}")
        self.vsctl("--no-wait", "init")
        self._start_vswitchd()

    def _start_vswitchd(self):
        wd = self.workdir
        (wd / "ovs-vswitchd.pid").unlink(missing_ok=True)
        run(["ip", "netns", "exec", self.netns, "ovs-vswitchd", f"unix:{self.db_socket}",
             f"--pidfile={wd / 'ovs-vswitchd.pid'}", f"--unixctl={wd / 'ovs-vswitchd.ctl'}",
             f"--log-file={wd / 'ovs-vswitchd.log'}", "--detach"], env=self.env)
        self.record.add_process(self.vswitchd_key, read_pidfile(wd / "ovs-vswitchd.pid"),
                                f"ovs-vswitchd in netns {self.netns}")

    def restart_vswitchd(self):
        """Stop ovs-vswitchd and start it again, as an upgrade or a crash would: its flows,
        groups, meters and conntrack are gone; bridges and ports come back from the database."""
        self.stop_vswitchd()
        self._start_vswitchd()

    def stop_vswitchd(self, kill=False):
        """End ovs-vswitchd (`kill`: SIGKILL, as a crash: no goodbye to the controller, no
        cleanup); start_vswitchd() brings it back. The database keeps running."""
        entry = self.record.data["processes"].get(self.vswitchd_key)
        if entry:
            terminate(entry, kill=kill)
            self.record.drop_process(self.vswitchd_key)

    def start_vswitchd(self):
        """Start ovs-vswitchd again after stop_vswitchd(), unless it is running."""
        entry = self.record.data["processes"].get(self.vswitchd_key)
        if entry is None or not same_process(entry):
            self._start_vswitchd()

    def vswitchd_pid(self):
        """The pid of the running ovs-vswitchd, or None."""
        entry = self.record.data["processes"].get(self.vswitchd_key)
        return entry["pid"] if entry and same_process(entry) else None

    def add_bridge(self, bridge, dpid):
        """The bridge, connected to the OpenFlow relay socket in the workdir.

        OVS accepts a `unix:` controller only inside its run directory, which is the workdir.
        """
        self.record.add_file(self.workdir / f"{bridge}.mgmt")
        self.record.add_file(self.workdir / f"{bridge}.snoop")
        self.vsctl(
            "add-br", bridge,
            "--", "set", "bridge", bridge, "datapath_type=netdev", "fail_mode=secure",
            f"protocols={OPENFLOW_VERSIONS}", f"other-config:datapath-id={dpid}",
            # In-band control would add hidden flows; the controller is reached out of band.
            "other-config:disable-in-band=true",
            *self._set_controller_args(bridge))

    def add_access_bridge(self, access, uplink_bridge):
        """The access bridge and its patch pair to `uplink_bridge`, as `access` describes.

        fail_mode=standalone with no controller: OVS keeps its one flow, priority=0 NORMAL, and
        it is an ordinary learning switch. Both patch ports are trunks; with `vlans`, both
        carry only those VLANs, so untagged frames flooded on the lbctl bridge stop there.
        Both take the same OpenFlow port number on their bridge, so that OVS does not give
        the uplink a low number a host on the access bridge may want.
        """
        self.record.add_file(self.workdir / f"{access.bridge}.mgmt")
        self.record.add_file(self.workdir / f"{access.bridge}.snoop")
        trunks = [f"trunks={','.join(map(str, access.vlans))}"] if access.vlans else []
        self.vsctl(
            "add-br", access.bridge,
            "--", "set", "bridge", access.bridge, "datapath_type=netdev",
            "fail_mode=standalone", f"protocols={OPENFLOW_VERSIONS}",
            "--", "add-port", access.bridge, access.uplink_port, *trunks,
            "--", "set", "interface", access.uplink_port, "type=patch",
            f"options:peer={access.trunk_port}", f"ofport_request={access.trunk_ofport}",
            "--", "add-port", uplink_bridge, access.trunk_port, *trunks,
            "--", "set", "interface", access.trunk_port, "type=patch",
            f"options:peer={access.uplink_port}", f"ofport_request={access.trunk_ofport}")

    def _set_controller_args(self, bridge, relative=False):
        # Two spellings of one socket: OVS resolves a relative `unix:` path in its run directory.
        path = OF_RELAY_SOCKET if relative else self.workdir / OF_RELAY_SOCKET
        return ("--", "set-controller", bridge, f"unix:{path}",
                "--", "set", "controller", bridge, f"max_backoff={CONTROLLER_MAX_BACKOFF_MS}",
                f"inactivity_probe={CONTROLLER_INACTIVITY_PROBE_MS}",
                "connection_mode=out-of-band")

    def reconnect(self, bridge):
        """Make the switch connect to the controller now rather than after its back-off.

        OVS 3.1 here ignores the Controller record's max_backoff (it still waits 1, 2, 4, then
        8 s between attempts), so a restarted controller could wait 8 s for its switch. A new
        controller target starts with an immediate attempt, so this flips between the two
        spellings of the relay socket. It must not pass through "no controller": OVS flushes
        every flow when a bridge goes from some controllers to none or back.
        """
        target = self.vsctl("get", "controller", bridge, "target").strip().strip('"')
        relative = target.startswith("unix:/")
        self.vsctl(*self._set_controller_args(bridge, relative)[1:])

    def vsctl(self, *args, timeout=20):
        return run(["ovs-vsctl", f"--db=unix:{self.db_socket}", f"--timeout={timeout}", *args],
                   env=self.env, timeout=timeout + 5).stdout

    def ofctl(self, *args, timeout=20):
        return run(["ovs-ofctl", "-O", "OpenFlow13", *args], env=self.env, timeout=timeout).stdout

    def appctl(self, *args, timeout=20):
        return run(["ovs-appctl", "-t", self.workdir / "ovs-vswitchd.ctl", *args],
                   env=self.env, timeout=timeout).stdout
