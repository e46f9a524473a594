"""The Lab: one private Open vSwitch, hosts in network namespaces, nginx members and a Ryu
controller, all named with a per-run prefix and all listed in the workdir's record file so
that `stop()` -- here or in a later process -- removes exactly what this run made.

Nothing is added to the root network namespace: no address, no route, no link. The switch
runs in `<prefix>-switch` (see ovs.py for why); each host is `<prefix>-<name>`.
"""

import dataclasses
import os
import re
import shutil
import socket
import time
from hashlib import sha256
from pathlib import Path

from lab import hosts, ovs
from lab.base import LabBase
from lab.record import Record

SWITCH_HOST_NAME = "switch"  # the switch's namespace is <prefix>-switch: no host may take it
ACCESS_BRIDGE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
PREFIX = re.compile(r"^[a-z][a-z0-9]{0,9}$")
DPID = re.compile(r"^[0-9a-f]{16}$")


# What a lab runs, and the Debian packages they come in.
REQUIRED_TOOLS = {"ovs-vswitchd": "openvswitch-switch", "ovsdb-server": "openvswitch-common",
                  "ovsdb-tool": "openvswitch-common", "ovs-vsctl": "openvswitch-switch",
                  "ovs-ofctl": "openvswitch-common", "ip": "iproute2", "ethtool": "ethtool",
                  "nginx": "nginx-light", "curl": "curl"}


def unavailable_reason():
    """Why a lab cannot run on this machine (for a test skip), or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, Open vSwitch)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        packages = sorted({REQUIRED_TOOLS[tool] for tool in missing})
        return f"the lab needs {', '.join(missing)} (apt-get install {' '.join(packages)})"
    if not ovs.SCHEMA.exists():
        return f"the lab needs the Open vSwitch schema {ovs.SCHEMA} (openvswitch-switch)"
    return None


_HANDED_OUT = set()   # ports free_tcp_port gave this process: a lab's OpenFlow port and a REST port
# are picked before either is bound, and the kernel may pick a port it just gave back


def free_tcp_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now (picked by the kernel), and that
    this process was not given before."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no TCP port on 127.0.0.1 that this process was not given already")


class Lab(LabBase):
    """One run: `start()`, then `add_host()` / `start_http()` / `start_controller()`, and
    `stop()` at the end, always (a later `start()` in the same workdir also cleans up).

    Hosts on VLANs: `add_access_bridge()`, then `add_host(..., vlan=N, bridge=<its bridge>)`;
    `add_host(..., vlan=N)` alone puts the host on an access port of the lbctl bridge itself.
    """

    def __init__(self, workdir, prefix, bridge, of_port, dpid=None):
        if not PREFIX.match(prefix):
            raise ValueError(f"prefix {prefix!r}: 1-10 lower-case letters and digits, "
                             "starting with a letter")
        if len(bridge) > hosts.IFNAMSIZ:
            raise ValueError(f"bridge {bridge!r}: longer than {hosts.IFNAMSIZ} characters")
        super().__init__(workdir, prefix)
        self.bridge = bridge
        self.of_port = int(of_port)
        self.dpid = self._dpid(dpid)
        self.switch_netns = f"{prefix}-{SWITCH_HOST_NAME}"
        self.access_bridges = {}  # bridge name -> ovs.AccessBridge
        self.switch = None

    @classmethod
    def attach(cls, workdir):
        """The Lab recorded in workdir, started by another process (e.g. `python -m lab demo
        up`): run commands in its hosts, read its logs, drive its switch, or stop it."""
        record = Record(Path(workdir).resolve())
        if not record.path.exists():
            raise RuntimeError(f"no lab recorded in {record.path.parent}")
        info = record.data["lab"]
        lab = cls(workdir, info["prefix"], info["bridge"], info["of_port"], info["dpid"])
        lab.record = record
        lab.switch = ovs.Switch(lab.workdir, lab.switch_netns, record)
        lab.hosts = {name: hosts.Host(**host) for name, host in record.data["hosts"].items()}
        lab.access_bridges = {
            bridge: ovs.AccessBridge(**{**fields, "vlans": tuple(fields["vlans"])})
            for bridge, fields in record.data["access_bridges"].items()}
        return lab

    def _dpid(self, dpid):
        if dpid is None:
            return sha256(f"{self.prefix}/{self.bridge}".encode()).hexdigest()[:16]
        dpid = f"{dpid:016x}" if isinstance(dpid, int) else dpid.lower()
        if not DPID.match(dpid):
            raise ValueError(f"dpid {dpid!r}: 16 hex digits")
        return dpid

    # -- the switch ---------------------------------------------------------------------------

    def start(self):
        self._begin()
        self.record.data["lab"] = {"prefix": self.prefix, "bridge": self.bridge,
                                   "of_port": self.of_port, "dpid": self.dpid,
                                   "switch_netns": self.switch_netns}
        self._make_netns(self.switch_netns)
        self.switch = ovs.Switch(self.workdir, self.switch_netns, self.record)
        self.switch.start()
        self.switch.add_bridge(self.bridge, self.dpid)
        self._start_relay("ofrelay", self.workdir)
        return self

    def drop_switch_messages(self, rules):
        """From the next OpenFlow connection on, the relay drops the switch's messages that
        `rules` names ("TYPE" or "TYPE:MULTIPART_TYPE", see ofrelay.py); None: drops nothing."""
        drop = self.workdir / f"{ovs.OF_RELAY_SOCKET}.drop"
        if rules is None:
            drop.unlink(missing_ok=True)
        else:
            drop.write_text("".join(rule + "\n" for rule in rules))

    def restart_switch(self):
        """Restart ovs-vswitchd (flows, groups, meters and conntrack are lost; ports come back)."""
        self.switch.restart_vswitchd()

    def vsctl(self, *args):
        """`ovs-vsctl <args>` against this lab's database; returns stdout."""
        return self.switch.vsctl(*args)

    def ofctl(self, *args, bridge=None):
        """`ovs-ofctl -O OpenFlow13 <args>` against this lab's switch; returns stdout.

        The switch argument may be left out: `ofctl("add-flow", "priority=0,actions=NORMAL")`
        and `ofctl("add-flow", lab.bridge, "priority=0,actions=NORMAL")` do the same. The
        bridge (`bridge` or self.bridge) is inserted after the command unless it is already
        the first argument after it. Options (`--names`, `-O OpenFlow15`) may come first.
        """
        return self.switch.ofctl(*ovs.ofctl_args(args, bridge or self.bridge))

    def add_access_bridge(self, name="acc", ofport=50, vlans=()):
        """A learning bridge `<prefix>_<name>` for hosts on VLANs, trunked to the lbctl bridge
        by a patch pair whose lbctl end, `trunk_<name>`, is OpenFlow port `ofport` there.
        `vlans`: the only VLANs the trunk carries (empty: all). Returns its ovs.AccessBridge.

        The underscore keeps its names apart from host ports, `<prefix><host name>`: host
        names have none. The bridge lives in the lab's ovs-vswitchd and goes with it.
        """
        if not ACCESS_BRIDGE_NAME.match(name):
            raise ValueError(f"access bridge name {name!r}: lower-case letters and digits, "
                             "starting with a letter")
        bridge = f"{self.prefix}_{name}"
        if len(bridge) > hosts.IFNAMSIZ:  # its LOCAL port is a tap device of that name
            raise ValueError(f"access bridge name {name!r}: bridge name {bridge!r} is longer "
                             f"than {hosts.IFNAMSIZ} characters")
        if bridge in self.access_bridges:
            raise ValueError(f"access bridge name {name!r}: already taken")
        access = ovs.AccessBridge(bridge=bridge, trunk_port=f"trunk_{name}", trunk_ofport=ofport,
                                  uplink_port=f"uplink_{name}",
                                  vlans=tuple(hosts.check_vlan(vlan) for vlan in vlans))
        self.record.data["access_bridges"][bridge] = dataclasses.asdict(access)
        self.record.save()
        self.switch.add_access_bridge(access, self.bridge)
        self._check_ofport(f"access bridge {bridge}", access.trunk_port, ofport)
        self.access_bridges[bridge] = access
        return access

    def _check_ofport(self, what, port_name, wanted):
        """The OpenFlow port OVS gave port_name; an error if it is not the one asked for
        (ofport_request is only a request: OVS picks another when that one is taken)."""
        actual = int(self.vsctl("get", "interface", port_name, "ofport"))
        if wanted is not None and actual != wanted:
            raise RuntimeError(f"{what}: asked for OpenFlow port {wanted}, got {actual}")
        return actual

    # -- hosts --------------------------------------------------------------------------------

    def add_host(self, name, ip, prefixlen=24, mac=None, ofport=None, gateway=None, vlan=None,
                 bridge=None):
        """A host in namespace `<prefix>-<name>`, on a new port of `bridge` (the lbctl bridge
        unless an access bridge is named) with OpenFlow port `ofport` (None: OVS picks).

        `vlan`: the port is an access port of that VLAN (`tag=N`): NORMAL takes its frames as
        VLAN N, and they cross a trunk tagged; OpenFlow on the lbctl bridge sees them untagged,
        on this port. Hosts on an access bridge need one. `vlan=0`: untagged, and NORMAL
        floods no VLAN's frames to it (without a vlan, OVS makes the port a trunk of all
        VLANs). Unless `mac` is given, the MAC shows address and VLAN (hosts.mac_for), so
        tenants that reuse an address differ in MAC. The tag only steers NORMAL: an OpenFlow
        output sends a frame as it is.
        """
        bridge = bridge or self.bridge
        self._check_new_host(name, vlan, bridge)
        netns, port_name = hosts.check_names(self.prefix, name)
        self._make_netns(netns)
        mac = hosts.make_host(self.switch_netns, netns, port_name, ip, prefixlen,
                              mac or hosts.mac_for(ip, vlan), gateway)
        add_port = ["add-port", bridge, port_name]
        if vlan is not None:
            add_port.append(f"tag={vlan}")
        if ofport is not None:
            add_port += ["--", "set", "interface", port_name, f"ofport_request={ofport}"]
        self.vsctl(*add_port)
        actual = self._check_ofport(f"host {name}", port_name, ofport)
        host = hosts.Host(name=name, netns=netns, ip=ip, prefixlen=prefixlen, mac=mac,
                          ofport=actual, port_name=port_name, gateway=gateway, vlan=vlan,
                          bridge=bridge)
        self.hosts[name] = host
        self.record.data["hosts"][name] = dataclasses.asdict(host)
        self.record.save()
        return host

    def _check_new_host(self, name, vlan, bridge):
        if name == SWITCH_HOST_NAME or name in self.hosts:
            raise ValueError(f"host name {name!r}: already taken")
        hosts.check_vlan(vlan)
        if bridge != self.bridge and bridge not in self.access_bridges:
            raise ValueError(f"bridge {bridge!r}: neither the lbctl bridge {self.bridge} nor "
                             "an access bridge of this lab")
        if bridge in self.access_bridges and vlan is None:
            raise ValueError(f"host {name!r} on access bridge {bridge}: needs a vlan "
                             "(its ports are access ports)")

    # -- the controller -----------------------------------------------------------------------

    def reconnect_switches(self):  # see LabBase
        self.switch.reconnect(self.bridge)

    def is_connected(self):
        """True if the switch has an OpenFlow session with a controller: the relay carries a
        connection on which the controller has answered. (The Controller record's is_connected
        says the same, but OVS refreshes it only about every 5 s.) The controller may still be
        in its handshake: wait for what it installs, or for its REST API, to see it ready."""
        return self._relay_connected("ofrelay", self.workdir)

    def wait_connected(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not self.is_connected():
            if time.monotonic() > deadline:
                raise RuntimeError(f"switch {self.bridge} not connected to a controller "
                                   f"after {timeout:.0f} s")
            time.sleep(0.1)

    # -- teardown -----------------------------------------------------------------------------

    def stop(self):
        """Remove everything this run made; safe to call twice, or without start()."""
        super().stop()
        self.access_bridges.clear()
