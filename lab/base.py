"""What every kind of lab has, whatever its switches: a workdir and the record of what the run
made (record.py), network namespaces named `<prefix>-<name>`, long-lived children it spawned,
OpenFlow relays (ofrelay.py) from a switch's Unix socket to the controller's TCP port, hosts
with nginx members, and a `ryu-manager` controller.

`Lab` (core.py: one switch, hosts on its ports) and `Cluster` (cluster.py: several balancer
switches and hosts on a shared L2 fabric) build on it; they differ in where hosts plug in and
which switches a controller has.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab import hosts, ovs
from lab.cmd import run
from lab.nginx import NginxFiles
from lab.record import Record, netns_exists, remove_recorded, same_process, terminate

REPO_ROOT = Path(__file__).resolve().parents[1]
OFRELAY = Path(__file__).resolve().with_name("ofrelay.py")
CONTROLLER_START_TIMEOUT = 20.0
RELAY_START_TIMEOUT = 5.0


def tail(path, lines=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def port_in_use(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def accepts_tcp(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def relay_sessions_file(rundir):
    """Where the relay of the switch running in `rundir` counts its answered connections."""
    return Path(rundir) / f"{ovs.OF_RELAY_SOCKET}.sessions"


class LabBase:
    """The parts of a lab run that do not depend on its switches. Subclasses set `of_port`
    and implement `reconnect_switches()` (make every switch try the controller now)."""

    def __init__(self, workdir, prefix):
        self.workdir = Path(workdir).resolve()
        self.prefix = prefix
        self.of_port = None
        self.hosts = {}
        self.record = None
        self._children = {}  # Popen objects of our own children, so that we can reap them

    def _begin(self):
        """A fresh record in the workdir, after removing what a previous (crashed) run there
        left behind."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        remove_recorded(self.workdir)
        for stale in self.workdir.glob("*-access.log"):
            stale.unlink()
        self.record = Record(self.workdir)

    def _make_netns(self, name):
        # Refuse rather than record a namespace we did not make: stop() would delete it.
        if netns_exists(name):
            raise RuntimeError(f"network namespace {name} already exists: another run is using "
                               f"prefix {self.prefix!r}, or a crashed one left it without "
                               f"a record (remove it with `ip netns del {name}`)")
        self.record.add_netns(name)
        hosts.prepare_netns(name)

    def _spawn(self, key, argv, log_file, what, env=None):
        """Start a long-lived child in its own session, logging to log_file, and record it.

        It runs in the workdir: ryu-manager loads `lbctl_app` as a file path when a path of
        that name exists in its working directory, and the repo root has a folder of that name.
        """
        with open(log_file, "ab") as log:
            proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, env=env,
                                    cwd=self.workdir, start_new_session=True)
        self._children[key] = proc
        self.record.add_process(key, proc.pid, what)
        return proc

    # -- OpenFlow relays ----------------------------------------------------------------------

    def _start_relay(self, key, rundir):
        """The relay `key` from `<rundir>/of-relay.sock` (where the switch running in rundir
        connects, see ovs.Switch.add_bridge) to 127.0.0.1:<of_port>; logs to rundir/<key>.log."""
        rundir = Path(rundir)
        sock = rundir / ovs.OF_RELAY_SOCKET
        sessions = relay_sessions_file(rundir)
        sock.unlink(missing_ok=True)
        sessions.unlink(missing_ok=True)
        self.record.add_file(sock)
        self.record.add_file(sessions)
        log = rundir / f"{key}.log"
        proc = self._spawn(key, [sys.executable, OFRELAY, sock, self.of_port], log,
                           f"{key} to 127.0.0.1:{self.of_port}")
        deadline = time.monotonic() + RELAY_START_TIMEOUT
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{key} did not start:\n{tail(log)}")
            time.sleep(0.02)

    def _relay_connected(self, key, rundir):
        """True if relay `key` carries a connection on which the controller has answered."""
        relay = self.record.data["processes"].get(key)
        try:
            return (relay is not None and same_process(relay)
                    and int(relay_sessions_file(rundir).read_text()) > 0)
        except (OSError, ValueError):
            return False

    # -- hosts --------------------------------------------------------------------------------

    def host(self, host):
        """The Host for a Host or a host name."""
        return host if isinstance(host, hosts.Host) else self.hosts[host]

    def run(self, host, argv, timeout=30, check=True):
        """Run argv inside the host's namespace; CompletedProcess with text stdout/stderr.

        With check, a non-zero exit raises CommandFailed (a CalledProcessError showing stderr).
        """
        return run(["ip", "netns", "exec", self.host(host).netns, *argv],
                   timeout=timeout, check=check)

    def spawn(self, host, key, argv):
        """Start a long-lived process inside the host's namespace (e.g. a UDP server), recorded
        under `key` so that stop_process(key) or stop() ends it. Its output goes to <key>.log."""
        host = self.host(host)
        return self._spawn(key, ["ip", "netns", "exec", host.netns, *argv],
                           self.workdir / f"{key}.log", f"{key} in {host.netns}")

    def stop_process(self, key, kill=False):
        """End the recorded process `key` (`kill`: with SIGKILL at once)."""
        entry = self.record.data["processes"].get(key)
        if entry:
            terminate(entry, kill=kill)
            self.record.drop_process(key)
        proc = self._children.pop(key, None)
        if proc:
            proc.wait(timeout=5)

    # -- http members -------------------------------------------------------------------------

    def start_http(self, host, ports=(80, 8080)):
        host = self.host(host)
        files = NginxFiles(self.workdir, host.name)
        files.write_config(ports)
        files.pid_file.unlink(missing_ok=True)
        files.access_log.touch()
        # nginx binds its ports before it daemonizes, so they accept once this returns.
        self.run(host, files.argv())
        pid = ovs.read_pidfile(files.pid_file)
        self.record.add_process(f"nginx-{host.name}", pid, f"nginx master in {host.netns}")

    def stop_http(self, host):
        """Stop the host's nginx (a member going down); start_http brings it back."""
        key = f"nginx-{self.host(host).name}"
        entry = self.record.data["processes"].get(key)
        if entry:
            terminate(entry)
            self.record.drop_process(key)

    def access_log(self, host):
        """The client address of every request the host's nginx answered, oldest first."""
        path = NginxFiles(self.workdir, self.host(host).name).access_log
        return [line.split(" ", 1)[0] for line in path.read_text().splitlines() if line]

    # -- the controller -----------------------------------------------------------------------

    def reconnect_switches(self):
        """Make every running switch try the controller now, not after its back-off (up to 8 s
        once a controller was missing): for a controller that has just started listening."""
        raise NotImplementedError

    def start_controller(self, config_file, wsapi_port, extra_args=(), log_file=None,
                         app="lbctl_app"):
        """Start `ryu-manager ... <app>` from this Python's venv, listening for the switches
        on 127.0.0.1:<of_port> and serving REST on 127.0.0.1:<wsapi_port>.

        config_file may be one path or several (later files override earlier ones); relative
        paths in extra_args would be taken from the workdir, where ryu-manager runs. Returns
        once the OpenFlow port listens and the REST port accepts TCP (wsapi_port=None: an app
        without REST), having told the switches to connect at once rather than after their
        back-off; wait_connected() then waits for the OpenFlow sessions. Raises with the end
        of the log if ryu-manager exits or is not ready in time.
        """
        if same_process(self.record.data["processes"].get("controller", {"pid": 0, "start": 0})):
            raise RuntimeError("a controller is already running; stop_controller() first")
        busy = [p for p in (self.of_port, wsapi_port) if p is not None and port_in_use(p)]
        if busy:
            raise RuntimeError(f"port {busy[0]} on 127.0.0.1 is already in use: "
                               "another controller or demo is running")
        files = [config_file] if isinstance(config_file, (str, os.PathLike)) else config_file
        argv = [Path(sys.executable).parent / "ryu-manager"]
        for path in files:
            argv += ["--config-file", Path(path).resolve()]
        argv += ["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", self.of_port]
        if wsapi_port is not None:
            argv += ["--wsapi-host", "127.0.0.1", "--wsapi-port", wsapi_port]
        argv += [*extra_args, app]
        log_file = Path(log_file) if log_file else self.workdir / "controller.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                          env.get("PYTHONPATH")]))
        proc = self._spawn("controller", argv, log_file, f"ryu-manager {app}", env=env)
        self.record.data["controller"] = {"app": app, "wsapi_port": wsapi_port,
                                          "log_file": str(log_file)}
        self.record.save()
        deadline = time.monotonic() + CONTROLLER_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ryu-manager exited with {proc.returncode}:\n{tail(log_file)}")
            # Binding the OpenFlow port fails once ryu-manager listens on it; a test connect
            # there would look like a switch to the controller.
            if port_in_use(self.of_port) and (wsapi_port is None or accepts_tcp(wsapi_port)):
                self.reconnect_switches()
                return proc
            time.sleep(0.1)
        self.stop_controller()
        raise RuntimeError(f"ryu-manager not ready after {CONTROLLER_START_TIMEOUT:.0f} s:\n"
                           f"{tail(log_file)}")

    def stop_controller(self, kill=False):
        """Stop the controller (`kill`: with SIGKILL, no chance to clean up)."""
        self.stop_process("controller", kill)

    # -- teardown -----------------------------------------------------------------------------

    def stop(self):
        """Remove everything this run made; safe to call twice, or without start()."""
        remove_recorded(self.workdir)
        for proc in self._children.values():
            proc.wait(timeout=5)
        self._children.clear()
        self.hosts.clear()
