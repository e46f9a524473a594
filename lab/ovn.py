"""OVN beside a lab's switch: its northbound and southbound databases, ovn-northd and one
ovn-controller (the chassis) driving an integration bridge of the lab's own ovs-vswitchd, so
that OVN's pipeline runs on the same userspace datapath as the lab's bridge. For comparisons
(bench/peers.py); lbctl does not use OVN.

Like the switch's daemons, every OVN daemon runs in the switch's namespace with its sockets,
pid files and logs in the workdir, and is written to the lab's record as soon as its pid is
known: `lab.stop()` ends them whatever happens, and `Ovn.stop()` ends them earlier.

One trap, in Open vSwitch 3.1.0: when the datapath reports the `ct_zero_snat` capability,
ovn-controller commits connections with `ct(commit,nat(src))`, and the userspace conntrack
then aborts (`lib/conntrack.c`: assertion `conn_type == CT_CONN_TYPE_DEFAULT`) within a few
thousand connections; fixed upstream in 3.1.3. start() hides the capability in the Datapath
record (after ovs-vswitchd has filled it in, which it does once per record) before
ovn-controller starts, and `zero_snat_hidden()` tells whether it still is.
"""

import shutil
import time
from pathlib import Path

from lab.cmd import run
from lab.ovs import read_pidfile

SCHEMAS = Path("/usr/share/ovn")
REQUIRED_TOOLS = {"ovn-northd": "ovn-central", "ovn-nbctl": "ovn-central",
                  "ovn-sbctl": "ovn-central", "ovn-controller": "ovn-host"}
DATAPATH_TYPE = "netdev"
START_TIMEOUT_S = 20.0


def unavailable_reason():
    """Why OVN cannot run beside a lab here, or None."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing or not (SCHEMAS / "ovn-nb.ovsschema").exists():
        packages = sorted({REQUIRED_TOOLS[tool] for tool in REQUIRED_TOOLS})
        return f"OVN needs {', '.join(missing or ['its schemas'])} (apt-get install {' '.join(packages)})"
    return None


class Ovn:
    """OVN for one started lab, with integration bridge `bridge` (not created yet)."""

    def __init__(self, lab, bridge):
        self.lab = lab
        self.bridge = bridge
        self.workdir = lab.workdir
        self.chassis = f"{lab.prefix}-chassis"
        self.nb_socket = self.workdir / "ovnnb.sock"
        self.sb_socket = self.workdir / "ovnsb.sock"
        self.datapath = None   # the uuid of the netdev Datapath record
        self.controller_socket = None
        # The switch's environment (OVS_RUNDIR: where ovn-controller finds the bridge's OpenFlow
        # socket) and OVN's own directories, all the workdir.
        self.env = dict(lab.switch.env, OVN_RUNDIR=str(self.workdir), OVN_LOGDIR=str(self.workdir),
                        OVN_DBDIR=str(self.workdir))

    # -- the daemons ------------------------------------------------------------------------

    def _daemon(self, key, argv, what, unixctl=True):
        """Start a detaching daemon in the switch namespace; record it by its pid file -> its pid.
        (ovn-controller 23.03 refuses --unixctl: its socket is <OVN_RUNDIR>/ovn-controller.<pid>.ctl.)"""
        pid_file = self.workdir / f"{key}.pid"
        pid_file.unlink(missing_ok=True)
        control = [f"--unixctl={self.workdir / (key + '.ctl')}"] if unixctl else []
        run(["ip", "netns", "exec", self.lab.switch_netns, *argv, f"--pidfile={pid_file}", *control,
             f"--log-file={self.workdir / (key + '.log')}", "--detach"], env=self.env)
        pid = read_pidfile(pid_file)
        self.lab.record.add_process(key, pid, f"{what} in netns {self.lab.switch_netns}")
        return pid

    def start(self):
        for name, socket in (("nb", self.nb_socket), ("sb", self.sb_socket)):
            db = self.workdir / f"ovn{name}.db"
            db.unlink(missing_ok=True)
            run(["ovsdb-tool", "create", db, SCHEMAS / f"ovn-{name}.ovsschema"])
            self.lab.record.add_file(socket)
            self._daemon(f"ovn-{name}-ovsdb", ["ovsdb-server", db, f"--remote=punix:{socket}"],
                         f"ovsdb-server of OVN's {name.upper()} database")
        self.nbctl("init")
        self._daemon("ovn-northd", ["ovn-northd", f"--ovnnb-db=unix:{self.nb_socket}",
                                    f"--ovnsb-db=unix:{self.sb_socket}"], "ovn-northd")

        self.lab.record.add_file(self.workdir / f"{self.bridge}.mgmt")
        self.lab.record.add_file(self.workdir / f"{self.bridge}.snoop")
        self.lab.vsctl("add-br", self.bridge, "--", "set", "bridge", self.bridge,
                       f"datapath_type={DATAPATH_TYPE}", "fail_mode=secure",
                       "other-config:disable-in-band=true")
        self._hide_zero_snat()
        # The chassis: no other chassis exists, so the encapsulation is never used, but
        # ovn-controller registers one.
        self.lab.vsctl("set", "Open_vSwitch", ".", f"external_ids:system-id={self.chassis}",
                       f"external_ids:ovn-remote=unix:{self.sb_socket}",
                       "external_ids:ovn-encap-type=geneve", "external_ids:ovn-encap-ip=127.0.0.1",
                       f"external_ids:ovn-bridge={self.bridge}",
                       f"external_ids:ovn-bridge-datapath-type={DATAPATH_TYPE}")
        pid = self._daemon("ovn-controller", ["ovn-controller", f"unix:{self.lab.switch.db_socket}"],
                           "ovn-controller", unixctl=False)
        self.controller_socket = self.workdir / f"ovn-controller.{pid}.ctl"
        self.lab.record.add_file(self.controller_socket)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.sbctl("--bare", "--columns=name", "find", "Chassis", f"name={self.chassis}").strip():
            if time.monotonic() > deadline:
                raise RuntimeError(f"ovn-controller did not register chassis {self.chassis} "
                                   f"within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        return self

    def _hide_zero_snat(self):
        self.datapath = self.lab.vsctl("--", "--id=@dp", "create", "Datapath", "datapath_version=0",
                                       "--", "set", "Open_vSwitch", ".",
                                       f"datapaths:{DATAPATH_TYPE}=@dp").strip()
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.capability("ct_zero_snat") is None:   # ovs-vswitchd fills the record in
            if time.monotonic() > deadline:
                raise RuntimeError("ovs-vswitchd did not report the datapath's capabilities")
            time.sleep(0.05)
        self.lab.vsctl("set", "Datapath", self.datapath, "capabilities:ct_zero_snat=false")

    def capability(self, name):
        out = self.lab.vsctl("--if-exists", "get", "Datapath", self.datapath, f"capabilities:{name}")
        return out.strip().strip('"') or None

    def zero_snat_hidden(self):
        return self.capability("ct_zero_snat") == "false"

    def stop(self):
        """End the OVN daemons (the chassis first); the lab's own removal would, too."""
        for key in ("ovn-controller", "ovn-northd", "ovn-sb-ovsdb", "ovn-nb-ovsdb"):
            self.lab.stop_process(key)

    # -- commands ---------------------------------------------------------------------------

    def nbctl(self, *args, timeout=30):
        return run(["ovn-nbctl", f"--db=unix:{self.nb_socket}", f"--timeout={timeout}", *args],
                   timeout=timeout + 5).stdout

    def sbctl(self, *args, timeout=30):
        return run(["ovn-sbctl", f"--db=unix:{self.sb_socket}", f"--timeout={timeout}", *args],
                   timeout=timeout + 5).stdout

    def appctl(self, *args, timeout=30):
        """`ovn-appctl` to ovn-controller."""
        return run(["ovn-appctl", "-t", self.controller_socket, *args],
                   timeout=timeout).stdout
